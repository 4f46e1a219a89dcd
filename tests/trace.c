// SPDX-License-Identifier: GPL-2.0
/*
 * The module's tracepoints (include/pbuf_trace.h), read the way an
 * administrator would: through tracefs, in an instance of our own
 * (instances/iopbuf-test), so nothing else's tracing is disturbed and
 * the buffer holds only what these cases did.
 *
 * Each case enables events/iouring_pbuf/, does something, disables the
 * events, reads the instance's `trace` file and checks the lines: which
 * events, in which order, with which fields. %p values are hashed, but
 * the same pointer hashes the same way, so a command's issue,
 * cancellation, notification and completion are matched by their req
 * (formats, the first case, waits for the hashing key: pointers_hashed).
 */
#include <sys/random.h>

#include "util.h"

#define TRACEFS		"/sys/kernel/tracing"
#define INSTANCE	TRACEFS "/instances/iopbuf-test"
#define BGID		3
#define ENTRIES		8
#define BUF_LEN		4096
#define MAX_EVENTS	64

/* One parsed line of the trace: the event's name and its fields' text. */
struct ev {
	char name[32];
	char text[256];
};

static struct ev evs[MAX_EVENTS];
static int nevs;

static bool write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, s, strlen(s));
		close(fd);
	}
	return h_expect(n == (ssize_t)strlen(s), __FILE__, __LINE__,
			"write '%s' to %s: %s", s, path, strerror(errno));
}

/*
 * tracefs at /sys/kernel/tracing, mounted if it is not yet (the guest's
 * init mounts only debugfs). A kernel without tracefs skips.
 */
static bool tracefs_ready(void)
{
	struct stat st;

	if (!stat(TRACEFS "/instances", &st))
		return true;
	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) && errno == ENODEV) {
		h_skip("this kernel has no tracefs");
		return false;
	}
	return EXPECT_OK(stat(TRACEFS "/instances", &st) ? -errno : 0);
}

/* A fresh instance with every iouring_pbuf event on. */
static bool trace_begin(void)
{
	nevs = 0;
	if (!tracefs_ready())
		return false;
	rmdir(INSTANCE);
	if (!EXPECT_OK(mkdir(INSTANCE, 0700) ? -errno : 0))
		return false;
	return write_file(INSTANCE "/events/iouring_pbuf/enable", "1");
}

/*
 * Stop, read the instance's buffer into evs[] (events of this module
 * only) and remove the instance. Lines look like
 *   task-123 [000] ..... 12.345678: iopbuf_cmd_issue: req 0000... op PROBE
 */
static bool trace_end(void)
{
	char line[512];
	bool ok;
	FILE *f;

	ok = write_file(INSTANCE "/events/iouring_pbuf/enable", "0");
	f = fopen(INSTANCE "/trace", "re");
	if (!f) {
		FAILF("open %s/trace: %s", INSTANCE, strerror(errno));
		rmdir(INSTANCE);
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, ": iopbuf_"), *colon;

		if (line[0] == '#' || !p)
			continue;
		p += 2;
		colon = strchr(p, ':');
		if (!colon)
			continue;
		if (nevs == MAX_EVENTS) {
			FAILF("more than %d events", MAX_EVENTS);
			ok = false;
			break;
		}
		line[strcspn(line, "\n")] = '\0';
		snprintf(evs[nevs].name, sizeof(evs[nevs].name), "%.*s",
			 (int)(colon - p), p);
		snprintf(evs[nevs].text, sizeof(evs[nevs].text), "%s",
			 colon + 2);
		h_note("%s: %s", evs[nevs].name, evs[nevs].text);
		nevs++;
	}
	fclose(f);
	if (rmdir(INSTANCE))
		h_note("rmdir %s: %s", INSTANCE, strerror(errno));
	return ok;
}

/* The text of field @key ("req", "res", ...) of @e, or "" without it. */
static const char *field(const struct ev *e, const char *key, char *out,
			 size_t len)
{
	size_t klen = strlen(key);
	const char *p = e->text;

	out[0] = '\0';
	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ' ') {
			snprintf(out, len, "%.*s", (int)strcspn(p + klen + 1, " "),
				 p + klen + 1);
			break;
		}
		/* next word pair */
		p = strchr(p, ' ');
		if (p)
			p = strchr(p + 1, ' ');
		if (p)
			p++;
	}
	return out;
}

static long field_long(const struct ev *e, const char *key)
{
	char v[64];

	return strtol(field(e, key, v, sizeof(v)), NULL, 0);
}

/* The index of the first event @name at or after @from whose @key is @val. */
static int find(int from, const char *name, const char *key, const char *val)
{
	char v[64];
	int i;

	for (i = from; i < nevs; i++) {
		if (strcmp(evs[i].name, name))
			continue;
		if (!key || !strcmp(field(&evs[i], key, v, sizeof(v)), val))
			return i;
	}
	return -1;
}

static int count(const char *name)
{
	int i, n = 0;

	for (i = 0; i < nevs; i++)
		n += !strcmp(evs[i].name, name);
	return n;
}

/*
 * %p prints "(____ptrval____)" until the kernel's pointer-hashing key
 * exists, which needs a seeded crng: every req would look alike. A guest
 * without an entropy source gets there late; a blocking getrandom() makes
 * the kernel seed itself (jitter entropy), and the key follows. Wait until
 * an event's ctx is a hashed value. (Turning the instance's hash-ptr
 * option off would print raw addresses instead, but on 6.1 that breaks
 * every %s of an event: trace_check_vprintf() reuses the buffer holding
 * the converted format.)
 */
static bool pointers_hashed(void)
{
	char seed[16], v[64];
	int dev, tries;

	if (!EXPECT(getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed)))
		return false;
	for (tries = 0; tries * 100 < T_WAIT_MS; tries++) {
		dev = h_open();
		if (dev < 0 || !trace_begin()) {
			h_close(&dev);
			return false;
		}
		h_unregister_ring(dev, BGID);
		h_close(&dev);
		if (!trace_end() || !EXPECT(nevs == 1))
			return false;
		if (strcmp(field(&evs[0], "ctx", v, sizeof(v)), "(____ptrval____)"))
			return true;
		usleep(100 * 1000);
	}
	FAILF("%%p still prints (____ptrval____) after %d ms", T_WAIT_MS);
	return false;
}

#define EXPECT_EVENT(i, name) \
	h_expect((i) >= 0, __FILE__, __LINE__, "no %s event", name)

/*
 * The iopbuf_cmd_issue event of the command @op (its req into @req), then
 * the first @name event of that req after it (@what says which in a
 * failure): the latter's index, or -1 with the failure recorded.
 */
static int find_issued(const char *op, char *req, size_t req_len,
		       const char *name, const char *what)
{
	int i = find(0, "iopbuf_cmd_issue", "op", op);

	if (!EXPECT_EVENT(i, "iopbuf_cmd_issue"))
		return -1;
	field(&evs[i], "req", req, req_len);
	i = find(i + 1, name, "req", req);
	return EXPECT_EVENT(i, what) ? i : -1;
}

/*
 * An event a trace must hold: its name, what a failure calls it (NULL:
 * its name), whether it is looked for from the start of the trace (else
 * after the previous one), its numeric fields and their values (up to
 * four, to the first NULL key) and, if set, the text of its "flags" field.
 */
struct want_ev {
	const char	*name;
	const char	*what;
	bool		from_start;
	struct {
		const char	*key;
		long		val;
	} f[4];
	const char	*flags;
};

/*
 * The events of @want, all of one context: the first one's ctx is that
 * of the others. Each must be found (else a failure, and false at once);
 * each of its fields must hold its value (a failure each, and on).
 */
static bool expect_events(const struct want_ev *want, size_t n)
{
	char ctx[64] = "", v[64];
	size_t k, j;
	int i = -1;

	for (k = 0; k < n; k++) {
		const struct want_ev *w = &want[k];
		const char *what = w->what ? w->what : w->name;

		i = find(w->from_start ? 0 : i + 1, w->name, k ? "ctx" : NULL,
			 ctx);
		if (!EXPECT_EVENT(i, what))
			return false;
		if (!k)
			field(&evs[i], "ctx", ctx, sizeof(ctx));
		for (j = 0; j < H_ARRAY_SIZE(w->f) && w->f[j].key; j++)
			h_expect(field_long(&evs[i], w->f[j].key) == w->f[j].val,
				 __FILE__, __LINE__, "%s: %s %ld, want %ld",
				 what, w->f[j].key,
				 field_long(&evs[i], w->f[j].key), w->f[j].val);
		if (w->flags)
			h_expect(!strcmp(field(&evs[i], "flags", v, sizeof(v)),
					 w->flags), __FILE__, __LINE__,
				 "%s: flags %s, want %s", what, v, w->flags);
	}
	return true;
}

/*
 * The format files perf and bpftrace read: every event exists and has
 * the fields the documentation (docs/tracing.md) names.
 */
static void formats(void)
{
	static const struct {
		const char *event, *fields[7];
	} want[] = {
		{ "iopbuf_cmd_issue", { "req", "cmd_op", "op[8]", "issue_flags" } },
		{ "iopbuf_cmd_complete",
		  { "req", "cmd_op", "op[8]", "res", "flags", "bid", "nbufs" } },
		{ "iopbuf_cmd_cancel", { "req", "cmd_op", "op[8]" } },
		{ "iopbuf_zc_notif", { "notif", "req", "zerocopy", "copied" } },
		{ "iopbuf_buf_register", { "ctx", "offset", "nr", "ret" } },
		{ "iopbuf_buf_update", { "ctx", "offset", "nr", "ret" } },
		{ "iopbuf_buf_unregister", { "ctx", "offset", "nr", "ret" } },
		{ "iopbuf_ring_register",
		  { "ctx", "bgid", "entries", "flags", "ret" } },
		{ "iopbuf_ring_unregister",
		  { "ctx", "bgid", "entries", "flags", "ret" } },
	};
	char path[256], buf[4096], pat[64];
	unsigned int i, j;
	ssize_t n;
	int fd;

	if (!tracefs_ready() || !pointers_hashed())
		return;
	for (i = 0; i < H_ARRAY_SIZE(want); i++) {
		snprintf(path, sizeof(path), TRACEFS "/events/iouring_pbuf/%s/format",
			 want[i].event);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (!EXPECT_OK(fd < 0 ? -errno : 0))
			return;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (!EXPECT(n > 0))
			return;
		buf[n] = '\0';
		for (j = 0; j < H_ARRAY_SIZE(want[i].fields) && want[i].fields[j]; j++) {
			snprintf(pat, sizeof(pat), " %s;", want[i].fields[j]);
			if (!h_expect(strstr(buf, pat) != NULL, __FILE__, __LINE__,
				      "%s has no field %s", want[i].event,
				      want[i].fields[j]))
				return;
		}
	}
}

/* A PROBE through io_uring: one issue, then one completion, same req. */
static void probe_cmd(void)
{
	struct iopbuf_probe p;
	struct iopbuf_cmd_probe cmd = {
		.addr = (uintptr_t)&p, .len = sizeof(p),
	};
	struct io_uring ring;
	char req[64], v[64];
	int dev = -1, c, ret;

	if (!h_uring_init2(&ring, 8, IORING_SETUP_CQE32))
		return;
	dev = h_open();
	if (dev < 0 || !trace_begin())
		goto out;
	ret = h_uring_cmd(&ring, dev, IOPBUF_CMD_PROBE, &cmd, sizeof(cmd));
	if (!trace_end() || !EXPECT_EQ(ret, (int)sizeof(p)))
		goto out;
	c = find_issued("PROBE", req, sizeof(req), "iopbuf_cmd_complete",
			"iopbuf_cmd_complete for the issued req");
	if (c < 0)
		goto out;
	EXPECT(!strcmp(field(&evs[c], "op", v, sizeof(v)), "PROBE"));
	EXPECT_EQ(field_long(&evs[c], "res"), (long)sizeof(p));
	EXPECT_EQ(field_long(&evs[c], "flags"), 0);
	EXPECT_EQ(count("iopbuf_cmd_issue"), 1);
	EXPECT_EQ(count("iopbuf_cmd_complete"), 1);
out:
	h_close(&dev);
	io_uring_queue_exit(&ring);
}

/*
 * Buffer table and ring: register, update, unregister, and the failures
 * (a second unregister) with their errnos; all on the same ctx.
 */
static const struct want_ev registration_events[] = {
	{ .name = "iopbuf_buf_register", .f = { { "nr", 2 }, { "ret", 0 } } },
	{ .name = "iopbuf_buf_update",
	  .f = { { "offset", 1 }, { "nr", 1 }, { "ret", 0 } } },
	{ .name = "iopbuf_buf_unregister", .f = { { "nr", 2 }, { "ret", 0 } } },
	{ .name = "iopbuf_buf_unregister",
	  .what = "a second iopbuf_buf_unregister", .f = { { "ret", -ENXIO } } },
	{ .name = "iopbuf_ring_register",
	  .f = { { "bgid", BGID }, { "entries", ENTRIES }, { "ret", 0 } },
	  .flags = "0x0" },
	{ .name = "iopbuf_ring_unregister",
	  .f = { { "bgid", BGID }, { "ret", 0 } } },
	{ .name = "iopbuf_ring_unregister",
	  .what = "a second iopbuf_ring_unregister", .f = { { "ret", -ENOENT } } },
};

static void registration(void)
{
	static char mem[2][BUF_LEN] __attribute__((aligned(4096)));
	struct iovec iov[2] = {
		{ mem[0], BUF_LEN }, { mem[1], BUF_LEN },
	};
	struct t_ring r = { .dev = -1 };
	int dev;

	dev = h_open();
	if (dev < 0 || !trace_begin())
		goto out;
	if (!EXPECT_OK(h_register_iov(dev, iov, 2)) ||
	    !EXPECT_OK(h_update_iov(dev, 1, &iov[0], 1)) ||
	    !EXPECT_OK(h_unregister_bufs(dev)) ||
	    !EXPECT_ERR(h_unregister_bufs(dev), ENXIO) ||
	    !t_ring_init(&r, dev, ENTRIES, BGID, 0, 0) ||
	    !EXPECT_OK(h_unregister_ring(dev, BGID)) ||
	    !EXPECT_ERR(h_unregister_ring(dev, BGID), ENOENT)) {
		trace_end();
		goto out;
	}
	r.registered = false;
	if (!trace_end())
		goto out;
	if (expect_events(registration_events,
			  H_ARRAY_SIZE(registration_events)))
		EXPECT_EQ(nevs, 7);
out:
	t_ring_fini(&r);
	h_close(&dev);
}

/* Closing the file unregisters what it still had, traced the same way. */
static const struct want_ev release_events[] = {
	{ .name = "iopbuf_ring_unregister",
	  .f = { { "bgid", BGID }, { "ret", 0 } } },
	{ .name = "iopbuf_buf_unregister", .from_start = true,
	  .f = { { "nr", 1 }, { "ret", 0 } } },
};

static void release(void)
{
	static char mem[BUF_LEN] __attribute__((aligned(4096)));
	struct iovec iov = { mem, sizeof(mem) };
	struct t_ring r = { .dev = -1 };
	int dev;

	dev = h_open();
	if (dev < 0 || !EXPECT_OK(h_register_iov(dev, &iov, 1)) ||
	    !t_ring_init(&r, dev, ENTRIES, BGID, 0, 0) || !trace_begin())
		goto out;
	r.registered = false;
	h_close(&dev);
	if (!trace_end())
		goto out;
	if (expect_events(release_events, H_ARRAY_SIZE(release_events)))
		EXPECT_EQ(nevs, 2);
out:
	t_ring_fini(&r);
	h_close(&dev);
}

/*
 * A RECV waits on an empty socket; IOPBUF_IOC_CANCEL asks it to cancel:
 * issue, cancel, then the completion with -ECANCELED, all one req.
 */
static void cancel(void)
{
	static char mem[BUF_LEN];
	struct iopbuf_cmd_recv cmd = { .bgid = BGID };
	struct t_ring r = { .dev = -1 };
	struct io_uring ring;
	struct t_cqe c;
	int dev = -1, fds[2] = { -1, -1 }, i;
	char req[64];
	bool traced = false;

	if (!h_uring_init2(&ring, 8, IORING_SETUP_CQE32))
		return;
	dev = h_open();
	if (dev < 0 || !t_tcp_pair_buf(AF_INET, fds, 0) ||
	    !t_ring_init(&r, dev, ENTRIES, BGID, 0, 0))
		goto out;
	t_ring_add(&r, (uintptr_t)mem, sizeof(mem), 0);
	t_ring_publish(&r);
	cmd.fd = fds[0];
	if (!trace_begin())
		goto out;
	traced = true;
	if (!h_prep_cmd(&ring, dev, IOPBUF_CMD_RECV, &cmd, sizeof(cmd), 7) ||
	    !t_submit(&ring, 1) || !t_no_cqe_ms(&ring, T_QUIET_MS) ||
	    !EXPECT_EQ(ioctl(dev, IOPBUF_IOC_CANCEL), 1) ||
	    !t_wait(&ring, &c) || !EXPECT_EQ(c.res, -ECANCELED))
		goto out;
	traced = false;
	if (!trace_end())
		goto out;
	i = find_issued("RECV", req, sizeof(req), "iopbuf_cmd_cancel",
			"iopbuf_cmd_cancel for the issued req");
	if (i < 0)
		goto out;
	i = find(i + 1, "iopbuf_cmd_complete", "req", req);
	if (!EXPECT_EVENT(i, "iopbuf_cmd_complete after the cancel"))
		goto out;
	EXPECT_EQ(field_long(&evs[i], "res"), -ECANCELED);
	EXPECT_EQ(count("iopbuf_cmd_cancel"), 1);
out:
	if (traced)
		trace_end();
	t_ring_fini(&r);
	t_close2(fds);
	h_close(&dev);
	io_uring_queue_exit(&ring);
}

/*
 * A zero-copy SEND of a registered buffer over TCP loopback: the
 * notification's event comes before the completion of the same req, and
 * its zerocopy/copied agree with the completion's ZC flags (COPIED when
 * anything was copied or nothing went out without a copy). The
 * completion event's flags are the CQE's.
 */
static void zc_notif(void)
{
	static char mem[BUF_LEN] __attribute__((aligned(4096)));
	struct iovec iov = { mem, sizeof(mem) };
	struct iopbuf_cmd_send cmd = { .bgid = BGID };
	struct t_ring r = { .dev = -1 };
	struct io_uring ring;
	struct t_cqe c;
	int dev = -1, fds[2] = { -1, -1 }, i, n;
	long zerocopy, copied;
	bool want_copied;
	char req[64];

	if (!h_uring_init2(&ring, 8, IORING_SETUP_CQE32))
		return;
	memset(mem, 'z', sizeof(mem));
	dev = h_open();
	if (dev < 0 || !t_tcp_pair_buf(AF_INET, fds, 0) ||
	    !EXPECT_OK(h_register_iov(dev, &iov, 1)) ||
	    !t_ring_init(&r, dev, ENTRIES, BGID, IOPBUF_RING_REGBUF, 0))
		goto out;
	t_ring_add(&r, iopbuf_regbuf_encode(0, 0), sizeof(mem), 5);
	t_ring_publish(&r);
	cmd.fd = fds[1];
	if (!trace_begin())
		goto out;
	if (!t_send(&ring, dev, &cmd, &c)) {
		trace_end();
		goto out;
	}
	if (!trace_end() || !EXPECT_EQ(c.res, (int)sizeof(mem)) ||
	    !EXPECT(t_cflags(&c) & IOPBUF_CQE_F_ZC))
		goto out;
	n = find_issued("SEND", req, sizeof(req), "iopbuf_zc_notif",
			"iopbuf_zc_notif for the issued req");
	if (n < 0)
		goto out;
	zerocopy = field_long(&evs[n], "zerocopy");
	copied = field_long(&evs[n], "copied");
	EXPECT(zerocopy == 0 || zerocopy == 1);
	EXPECT(copied == 0 || copied == 1);
	want_copied = copied || !zerocopy;
	EXPECT_EQ(!!(t_cflags(&c) & IOPBUF_CQE_F_ZC_COPIED), want_copied);
	i = find(n + 1, "iopbuf_cmd_complete", "req", req);
	if (!EXPECT_EVENT(i, "iopbuf_cmd_complete after the notification"))
		goto out;
	EXPECT_EQ(field_long(&evs[i], "res"), (long)sizeof(mem));
	EXPECT_EQ(field_long(&evs[i], "flags"), t_cflags(&c));
	EXPECT_EQ(field_long(&evs[i], "bid"), 5);
	EXPECT_EQ(field_long(&evs[i], "nbufs"), 1);
	EXPECT_EQ(count("iopbuf_zc_notif"), 1);
out:
	t_ring_fini(&r);
	t_close2(fds);
	h_close(&dev);
	io_uring_queue_exit(&ring);
}

int main(void)
{
	h_init("trace");
	RUN(formats);
	RUN(probe_cmd);
	RUN(registration);
	RUN(release);
	RUN(cancel);
	RUN(zc_notif);
	return h_exit();
}
