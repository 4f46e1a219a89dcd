// SPDX-License-Identifier: GPL-2.0
/*
 * bench_smoke: the built benchmark (tools/build/bench, found by t_prog())
 * with tiny sizes, so that `make check` keeps the benchmark working
 * (`make bench` itself is not part of it: it times things). Nothing here
 * judges speed: from the rows the benchmark prints (BENCH, BVEC, LEND
 * after their *HDR lines, read by column name), the cases check that
 * every sender of the matrix ran and moved whole payloads, that the
 * notifications say what each path implies (UDP sink: none copied; TCP to
 * a local receiver: all copied), that bvec import yields the segments the
 * buffers' pages imply, and that every method of the lending benchmark
 * (-o lend: IOPBUF_CMD_LEND chains, read()+send(), sendfile() and the
 * halves) moved whole chunks, one datagram each on UDP.
 */
#include "util.h"

#define KiB		1024U
#define UDP_BIG		(60 * KiB)	/* what a 64 KiB payload becomes on UDP */
#define MAX_COLS	32

/* ------------------------------------------------------------------------
 * The benchmark's output: tables of comma-separated rows
 */

struct table {
	const char	*tag;		/* "BENCH": rows BENCH,..., header BENCHHDR,... */
	char		*hdr[MAX_COLS];
	unsigned int	ncol;
	char		*(*rows)[MAX_COLS];
	size_t		n;
};

static struct table matrix = { .tag = "BENCH" };
static struct table bvec = { .tag = "BVEC" };
static struct table lend = { .tag = "LEND" };
static char info[4096];		/* the BENCHINFO line */
static int bench_status = -1;	/* the benchmark's exit status */
static bool bench_done;		/* BENCHDONE with errors=0 */

/* Split @line (modified) at commas into @f; the number of fields. */
static unsigned int split(char *line, char **f)
{
	unsigned int n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, ",", &save); tok && n < MAX_COLS;
	     tok = strtok_r(NULL, ",", &save))
		f[n++] = tok;
	return n;
}

/* A BENCHHDR / BENCH line of one of the tables; false if none. */
static bool table_line(struct table *t, const char *line)
{
	size_t tl = strlen(t->tag);
	char *copy, *f[MAX_COLS];
	unsigned int n, i;

	if (strncmp(line, t->tag, tl))
		return false;
	if (!strncmp(line + tl, "HDR,", 4)) {
		copy = strdup(line);
		t->ncol = copy ? split(copy, t->hdr) : 0;
		return true;
	}
	if (line[tl] != ',')
		return false;
	copy = strdup(line);
	if (!copy)
		return true;
	n = split(copy, f);
	if (!h_expect(t->ncol && n == t->ncol, __FILE__, __LINE__,
		      "%s row of %u fields under a header of %u: %s", t->tag, n,
		      t->ncol, line))
		return true;
	t->rows = realloc(t->rows, (t->n + 1) * sizeof(*t->rows));
	if (!t->rows) {
		FAILF("out of memory");
		t->n = 0;
		return true;
	}
	for (i = 0; i < n; i++)
		t->rows[t->n][i] = f[i];
	t->n++;
	return true;
}

/* The column named @name of @t (a failure if there is none). */
static int col(const struct table *t, const char *name)
{
	unsigned int i;

	for (i = 0; i < t->ncol; i++)
		if (!strcmp(t->hdr[i], name))
			return (int)i;
	FAILF("%s: no column %s", t->tag, name);
	return -1;
}

static const char *str(const struct table *t, size_t row, const char *name)
{
	int c = col(t, name);

	return c < 0 ? "" : t->rows[row][c];
}

static long long num(const struct table *t, size_t row, const char *name)
{
	return strtoll(str(t, row, name), NULL, 0);
}

static double real(const struct table *t, size_t row, const char *name)
{
	return strtod(str(t, row, name), NULL);
}

/* key=value of the BENCHINFO line, or "" */
static const char *info_get(const char *key, char *buf, size_t size)
{
	size_t kl = strlen(key);
	const char *p;

	buf[0] = 0;
	for (p = info; (p = strstr(p, key)); p += kl)
		if (p[-1] == ',' && p[kl] == '=') {
			snprintf(buf, size, "%.*s", (int)strcspn(p + kl + 1, ",\n"),
				 p + kl + 1);
			break;
		}
	return buf;
}

/* The first row of @t whose columns @k[i] read @v[i] (@n of them), or -1. */
static long find(const struct table *t, const char *const *k,
		 const char *const *v, unsigned int n)
{
	size_t r;
	unsigned int i;

	for (r = 0; r < t->n; r++) {
		for (i = 0; i < n && !strcmp(str(t, r, k[i]), v[i]); i++)
			;
		if (i == n)
			return (long)r;
	}
	return -1;
}

/* ------------------------------------------------------------------------
 * The cases
 */

/* The smallest run covering every mode, path and buffer kind. */
static void run_bench(void)
{
	char *argv[] = {
		"bench", "-Q", "-r", "1", "-w", "5", "-t", "30", "-q", "4",
		"-p", "4k,64k", "-C", "4M", "-b", "8M", "-n", "50",
		"-c", "0,0", "-H", "-k", "64k,1m", "-F", "4M", NULL,
	};
	char line[4096], tcp[32], usage[8], cold2m[32];
	FILE *out;
	pid_t pid;
	int status;

	pid = t_spawn("bench", argv, &out);
	if (pid < 0)
		return;
	while (fgets(line, sizeof(line), out)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "BENCHINFO,", 10))
			snprintf(info, sizeof(info), "%s", line);
		else if (!strncmp(line, "BENCHDONE,", 10))
			bench_done = strstr(line, ",errors=0") != NULL;
		else if (!table_line(&matrix, line) && !table_line(&bvec, line) &&
			 !table_line(&lend, line) && line[0] == '#')
			printf("%s\n", line);	/* the benchmark's notes */
	}
	fclose(out);
	/* the benchmark ends when its work does; a hang is a failure */
	if (!t_waitpid(pid, &status)) {
		FAILF("bench still running");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	bench_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	EXPECT_EQ(bench_status, 0);
	EXPECT(bench_done);
	EXPECT(info[0]);
	EXPECT(strcmp(info_get("tcp", tcp, sizeof(tcp)), "none"));
	h_note("TCP receiver: %s; SEND_ZC usage report: %s; cold2m: %s; rows: "
	       "%zu matrix, %zu bvec, %zu lend", tcp,
	       info_get("report_usage", usage, sizeof(usage)),
	       info_get("cold2m", cold2m, sizeof(cold2m)), matrix.n, bvec.n,
	       lend.n);
}

static bool ran(void)
{
	if (bench_status < 0)
		FAILF("the benchmark did not run");
	return bench_status >= 0;
}

static const char *const modes[] = {
	"send", "uring", "msgzc", "sendzc", "mod", "mod_b4", "mod_b16",
};
/* slices per request of each mode */
static const unsigned int mode_nbufs[] = { 1, 1, 1, 1, 1, 4, 16 };
/* the modes that ask for zero copy, whose sends are notified */
static const char *const zc_modes[] = {
	"msgzc", "sendzc", "mod", "mod_b4", "mod_b16",
};

/* The payload a path uses for a requested one: 64 KiB is 60 KiB on UDP. */
static unsigned int path_payload(const char *path, unsigned int payload)
{
	return !strcmp(path, "udp") && payload == 64 * KiB ? UDP_BIG : payload;
}

/* Every cell of the matrix produced a row that moved data. */
static void every_sender_ran(void)
{
	static const unsigned int payloads[] = { 4 * KiB, 64 * KiB };
	static const char *const paths[] = { "udp", "tcp" };
	static const char *const temps[] = { "hot", "cold" };
	static const char *const keys[] = { "path", "payload", "temp", "mode" };
	unsigned int p, pi, t, m;

	if (!ran())
		return;
	for (p = 0; p < H_ARRAY_SIZE(paths); p++)
		for (pi = 0; pi < H_ARRAY_SIZE(payloads); pi++)
			for (t = 0; t < H_ARRAY_SIZE(temps); t++)
				for (m = 0; m < H_ARRAY_SIZE(modes); m++) {
					unsigned int pl = path_payload(paths[p], payloads[pi]);
					char pls[16];
					const char *v[] = { paths[p], pls, temps[t], modes[m] };
					unsigned long long bytes, reqs, bufs;
					long r;

					snprintf(pls, sizeof(pls), "%u", pl);
					r = find(&matrix, keys, v, 4);
					if (!h_expect(r >= 0, __FILE__, __LINE__,
						      "no row for %s %s %u %s", paths[p],
						      modes[m], pl, temps[t]))
						continue;
					bytes = num(&matrix, r, "bytes");
					reqs = num(&matrix, r, "reqs");
					bufs = num(&matrix, r, "bufs");
					h_expect(bytes > 0 && !num(&matrix, r, "err") &&
						 reqs > 0 && real(&matrix, r, "cpu_s") > 0,
						 __FILE__, __LINE__,
						 "%s %s %u %s: %llu bytes, err %lld",
						 paths[p], modes[m], pl, temps[t], bytes,
						 num(&matrix, r, "err"));
					/* a payload per request; a send(2) cut short by the timer */
					h_expect(bytes <= (unsigned long long)pl * reqs &&
						 bytes > (unsigned long long)pl * (reqs - 1),
						 __FILE__, __LINE__,
						 "%s %s %u: %llu bytes for %llu requests",
						 paths[p], modes[m], pl, bytes, reqs);
					h_expect(bufs == reqs * mode_nbufs[m],
						 __FILE__, __LINE__,
						 "%s %s %u: %llu slices for %llu requests",
						 paths[p], modes[m], pl, bufs, reqs);
				}
}

static bool is_zc_mode(const char *mode)
{
	unsigned int i;

	for (i = 0; i < H_ARRAY_SIZE(zc_modes); i++)
		if (!strcmp(mode, zc_modes[i]))
			return true;
	return false;
}

/*
 * UDP into the dummy sink: nothing is copied. TCP to a local receiver:
 * everything is (the receive side copies zero-copy frags).
 */
static void notifications(void)
{
	char usage[8];
	bool report_usage;
	size_t r;

	if (!ran())
		return;
	report_usage = strcmp(info_get("report_usage", usage, sizeof(usage)), "0");
	for (r = 0; r < matrix.n; r++) {
		const char *mode = str(&matrix, r, "mode");
		const char *path = str(&matrix, r, "path");
		long long notifs = num(&matrix, r, "notifs");
		long long copied = num(&matrix, r, "copied");

		if (!is_zc_mode(mode) || num(&matrix, r, "err"))
			continue;
		if (!strcmp(mode, "sendzc") && !report_usage)
			continue;	/* kernel without REPORT_USAGE */
		h_expect(notifs > 0, __FILE__, __LINE__,
			 "%s %s %s %s: no notifications", path, mode,
			 str(&matrix, r, "payload"), str(&matrix, r, "temp"));
		h_expect(!strcmp(path, "udp") ? copied == 0 : copied == notifs,
			 __FILE__, __LINE__, "%s %s %s %s: %lld of %lld notifications copied",
			 path, mode, str(&matrix, r, "payload"),
			 str(&matrix, r, "temp"), copied, notifs);
	}
}

/* Slices import as one segment per page, or per huge page. */
static void bvec_segments(void)
{
	unsigned int huge = 0, checked = 0;
	long two_m = -1;
	size_t r;

	if (!ran())
		return;
	for (r = 0; r < bvec.n; r++) {
		const char *backing = str(&bvec, r, "backing");
		const char *slice = str(&bvec, r, "slice");
		bool is4k = !strcmp(backing, "4k");
		long long res = num(&bvec, r, "res");

		/* native io_uring and syscall reference rows; THP: best effort */
		if (!is4k && strcmp(backing, "hugetlb"))
			continue;
		checked++;
		huge += !is4k;
		if (!is4k && !strcmp(slice, "2M"))
			two_m = (long)r;
		h_expect(num(&bvec, r, "segs") == num(&bvec, r, "expect"),
			 __FILE__, __LINE__, "%s slice %s: %lld segments, expected %lld",
			 backing, slice, num(&bvec, r, "segs"),
			 num(&bvec, r, "expect"));
		/* failing sends, never EFAULT/E2BIG: the import worked */
		h_expect(res == -EDESTADDRREQ || res == -EMSGSIZE, __FILE__,
			 __LINE__, "%s slice %s: res %s", backing, slice,
			 h_res(res));
	}
	EXPECT(checked > 8);
	if (!huge)
		h_skip("no hugetlb pages: only the 4 KiB buffer was checked");
	else if (EXPECT(two_m >= 0))
		EXPECT_EQ(num(&bvec, two_m, "segs"), 1);
}

static const char *const l_methods[] = {
	"chain", "readsend", "sendfile", "lendsend", "send", "lendread", "pread",
};
#define L_SOCK_METHODS	5	/* the first five need a socket */

/* One lending row: whole chunks moved, the notifications its path implies. */
static void lend_check(long r)
{
	const char *what = str(&lend, r, "method"), *path = str(&lend, r, "path");
	unsigned long long bytes = num(&lend, r, "bytes");
	unsigned long long chunks = num(&lend, r, "chunks");
	unsigned long long chunk = num(&lend, r, "chunk");
	unsigned long long notifs = num(&lend, r, "notifs");
	unsigned long long copied = num(&lend, r, "copied");
	unsigned long long pkts = num(&lend, r, "tx_packets");
	bool zc = !strcmp(what, "chain") || !strcmp(what, "lendsend");

	h_expect(bytes > 0 && !num(&lend, r, "err") && real(&lend, r, "cpu_s") > 0,
		 __FILE__, __LINE__, "lend %s %s %llu: %llu bytes, err %lld",
		 path, what, chunk, bytes, num(&lend, r, "err"));
	h_expect(bytes == chunk * chunks, __FILE__, __LINE__,
		 "lend %s %s %llu: %llu bytes in %llu chunks", path, what,
		 chunk, bytes, chunks);
	/* a chain's completion is its notification: one per chunk */
	h_expect(notifs == (zc ? chunks : 0), __FILE__, __LINE__,
		 "lend %s %s %llu: %llu notifications for %llu chunks", path,
		 what, chunk, notifs, chunks);
	h_expect(!strcmp(path, "tcp") ? copied == notifs : !copied,
		 __FILE__, __LINE__, "lend %s %s %llu: %llu of %llu copied",
		 path, what, chunk, copied, notifs);
	/* a chunk is one datagram, sendfile's too; a little slack
	 * for what the kernel itself sends on the sink (IPv6 ND, MLD)
	 */
	if (!strcmp(path, "udp"))
		h_expect(pkts >= chunks && pkts <= chunks + 4, __FILE__, __LINE__,
			 "lend udp %s %llu: %llu datagrams for %llu chunks",
			 what, chunk, pkts, chunks);
}

/*
 * Every method of the lending benchmark ran on every path and chunk
 * (-k 64k,1m): UDP 60 KiB; TCP 64 KiB and 1 MiB; the file (the read
 * halves) every size a socket path uses.
 */
static void lend_every_method_ran(void)
{
	static const struct {
		const char	*path;
		unsigned int	chunks[3];
		unsigned int	nr;
	} paths[] = {
		{ "udp", { UDP_BIG }, 1 },
		{ "tcp", { 64 * KiB, 1024 * KiB }, 2 },
		{ "file", { UDP_BIG, 64 * KiB, 1024 * KiB }, 3 },
	};
	static const char *const keys[] = { "path", "chunk", "method" };
	unsigned int p, ci, m;

	if (!ran())
		return;
	EXPECT(lend.n > 0);
	for (p = 0; p < H_ARRAY_SIZE(paths); p++) {
		bool file = !strcmp(paths[p].path, "file");
		unsigned int first = file ? L_SOCK_METHODS : 0;
		unsigned int last = file ? H_ARRAY_SIZE(l_methods) : L_SOCK_METHODS;

		for (ci = 0; ci < paths[p].nr; ci++)
			for (m = first; m < last; m++) {
				char cs[16];
				const char *v[] = { paths[p].path, cs, l_methods[m] };
				long r;

				snprintf(cs, sizeof(cs), "%u", paths[p].chunks[ci]);
				r = find(&lend, keys, v, 3);
				if (h_expect(r >= 0, __FILE__, __LINE__,
					     "no lend row for %s %s %s", paths[p].path,
					     cs, l_methods[m]))
					lend_check(r);
			}
	}
}

int main(void)
{
	h_init("bench_smoke");
	RUN(run_bench);
	RUN(every_sender_ran);
	RUN(notifications);
	RUN(bvec_segments);
	RUN(lend_every_method_ran);
	RUN(h_case_counters_zero);
	return h_exit();
}
