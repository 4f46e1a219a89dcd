// SPDX-License-Identifier: GPL-2.0
/*
 * tools/iopbuf-stat in the guest: the script is built into this program
 * (.incbin below; the guest's /tests holds programs only), written to
 * /tmp and run with the guest's busybox sh, as it runs under dash on a
 * Debian host.
 *
 * It must print the sysfs counters as they are, and this process's
 * context with its buffers and ring; -i/-c repeat; errors have their
 * exit codes.
 */
#include "harness.h"

__asm__(".section .rodata\n"
	".global stat_script\n"
	"stat_script:\n"
	".incbin \"../tools/iopbuf-stat\"\n"
	".byte 0\n"
	".previous\n");
extern const char stat_script[];

#define SCRIPT	"/tmp/iopbuf-stat"
#define BGID	3

static char out[16384];

/* Run the script with @args; its stdout in out[], its exit status back. */
static int run(const char *env, const char *args)
{
	char cmd[512];
	size_t n = 0, r;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s sh " SCRIPT " %s 2>/dev/null",
		 env ? env : "", args);
	p = popen(cmd, "r");
	if (!p) {
		FAILF("popen %s: %s", cmd, strerror(errno));
		return -1;
	}
	while (n < sizeof(out) - 1 &&
	       (r = fread(out + n, 1, sizeof(out) - 1 - n, p)) > 0)
		n += r;
	out[n] = '\0';
	st = pclose(p);
	h_note("%s: exit %d, %zu bytes", args, WEXITSTATUS(st), n);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool install(void)
{
	FILE *f = fopen(SCRIPT, "we");

	if (!f) {
		FAILF("create %s: %s", SCRIPT, strerror(errno));
		return false;
	}
	fputs(stat_script, f);
	return EXPECT_EQ(fclose(f), 0);
}

/* Does out[] have a line that is @line (or, @prefix, starts with it)? */
static bool has_line_(const char *line, bool prefix, int lineno)
{
	const char *p = out;
	size_t len = strlen(line);

	while ((p = strstr(p, line))) {
		if ((p == out || p[-1] == '\n') &&
		    (prefix || p[len] == '\n' || !p[len]))
			return true;
		p += len;
	}
	return h_expect(false, __FILE__, lineno, "no line '%s%s' in:\n%s",
			line, prefix ? "..." : "", out);
}

#define has_line(l)	has_line_(l, false, __LINE__)
#define has_prefix(l)	has_line_(l, true, __LINE__)

/* The module line equals what sysfs says (nothing else runs meanwhile). */
static void counters(void)
{
	static const char *const names[] = {
		"pinned_pages", "charged_pages", "contexts", "inflight", "notifs",
		"cache_misses",
	};
	char want[256];
	unsigned int i;
	size_t len;

	if (!install() || !EXPECT_EQ(run(NULL, "-m"), 0))
		return;
	len = (size_t)snprintf(want, sizeof(want), "module:");
	for (i = 0; i < H_ARRAY_SIZE(names); i++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, " %s %ld",
					names[i], h_sysfs_read(names[i]));
	has_line(want);
	EXPECT(!strstr(out, "pid "));
}

/* This process's context: its fd, buffer table and ring. */
static void context(void)
{
	static char mem[2][8192] __attribute__((aligned(4096)));
	struct iovec iov[2] = { { mem[0], 4096 }, { mem[1], 8192 } };
	void *ring = h_map(4096);
	struct iopbuf_stats st;
	char want[128];
	int dev;

	dev = h_open();
	if (dev < 0 || !ring || !install() ||
	    !EXPECT_OK(h_register_iov(dev, iov, 2)) ||
	    !EXPECT_OK(h_register_ring(dev, ring, 8, BGID, 0, 0)) ||
	    !EXPECT_OK(h_stats(dev, &st)) || !EXPECT_EQ(run(NULL, ""), 0))
		goto out;
	snprintf(want, sizeof(want), "pid %d (iopbuf_stat) fd %d:", getpid(),
		 dev);
	has_line(want);
	snprintf(want, sizeof(want), "  pinned_pages: %llu",
		 (unsigned long long)st.pinned_pages);
	has_line(want);
	has_line("  inflight: 0");
	has_line("  buf_slots: 2");
	has_line("  bufs: 2");
	has_line("  rings: 1");
	snprintf(want, sizeof(want), "    buf 1: %#lx len 8192 segs ",
		 (unsigned long)(uintptr_t)mem[1]);
	has_prefix(want);
	has_prefix("    ring 3: entries 8 head 0 tail 0");
	has_line("contexts shown: 1");
	EXPECT(!strstr(out, "\n  pos:"));
out:
	h_close(&dev);
	h_unmap(ring, 4096);
}

/* -i 1 -c 2: two reports, each with its header and module line. */
static void interval(void)
{
	const char *p = out;
	int headers = 0;

	if (!install() || !EXPECT_EQ(run(NULL, "-m -i 1 -c 2"), 0))
		return;
	while ((p = strstr(p, "--- "))) {
		headers++;
		p += 4;
	}
	EXPECT_EQ(headers, 2);
	p = strstr(out, "module: ");
	EXPECT(p && strstr(p + 1, "module: "));
}

static void errors(void)
{
	if (!install())
		return;
	EXPECT_EQ(run("IOPBUF_SYSFS=/nonexistent", ""), 1);
	EXPECT_EQ(run(NULL, "-i 0"), 2);
	EXPECT_EQ(run(NULL, "-i x"), 2);
	EXPECT_EQ(run(NULL, "-c 2"), 2);
	EXPECT_EQ(run(NULL, "extra"), 2);
	EXPECT_EQ(run(NULL, "-h"), 0);
	EXPECT(strstr(out, "Usage: iopbuf-stat") != NULL);
}

int main(void)
{
	h_init("iopbuf_stat");
	RUN(counters);
	RUN(context);
	RUN(interval);
	RUN(errors);
	unlink(SCRIPT);
	return h_exit();
}
