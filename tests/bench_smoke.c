// SPDX-License-Identifier: GPL-2.0
/*
 * bench_smoke: tools/bench.c with tiny sizes, so that `make check` keeps
 * the benchmark working (`make bench` itself is not part of it: it times
 * things). The benchmark is compiled in (BENCH_NO_MAIN), since the guest
 * only receives what tests/build holds. Nothing here judges speed: the
 * cases check that every sender of the matrix ran and moved whole
 * payloads, that the notifications say what each path implies (UDP sink:
 * none copied; TCP to a local receiver: all copied), that bvec import
 * yields the segments the buffers' pages imply, and that every method of
 * the lending benchmark (-o lend: IOPBUF_CMD_LEND chains, read()+send(),
 * sendfile() and the halves) moved whole chunks, one datagram each on UDP.
 *
 * tests/Makefile does not know that this file includes ../tools/bench.c:
 * after changing the benchmark, `make -C tests clean` (or touch this file).
 */
#define BENCH_NO_MAIN
#include "harness.h"
#include "../tools/bench.c"

static const unsigned int zc_modes = 1U << B_MSGZC | 1U << B_SENDZC |
				     1U << B_MOD1 | 1U << B_MOD4 | 1U << B_MOD16;
static int bench_ret = -1;

/* The smallest run covering every mode, path and buffer kind. */
static void run_bench(void)
{
	char *argv[] = {
		"bench", "-Q", "-r", "1", "-w", "5", "-t", "30", "-q", "4",
		"-p", "4k,64k", "-C", "4M", "-b", "8M", "-n", "50",
		"-c", "0,0", "-H", "-k", "64k,1m", "-F", "4M", NULL,
	};

	bench_ret = bench_main(H_ARRAY_SIZE(argv) - 1, argv);
	EXPECT_EQ(bench_ret, 0);
	EXPECT_EQ(B.errors, 0);
	EXPECT(B.udp_ok);
	EXPECT(B.rx[B_TCP].ok);
	h_note("TCP receiver: %s; SEND_ZC usage report: %s; cold2m: %s",
	       B.tcp_kind, B.report_usage ? "yes" : "no",
	       B.region_len[B_COLD2M] ? B.cold2m_backing : "none");
}

static const struct b_result *find(enum b_path p, unsigned int payload,
				   enum b_temp t, enum b_mode m)
{
	size_t i;

	for (i = 0; i < B.nres; i++)
		if (B.res[i].path == p && B.res[i].payload == payload &&
		    B.res[i].temp == t && B.res[i].mode == m)
			return &B.res[i];
	return NULL;
}

/* Every cell of the matrix produced a row that moved data. */
static void every_sender_ran(void)
{
	static const unsigned int payloads[] = { 4096, 65536 };
	unsigned int pi, m;
	int p, t;

	if (bench_ret < 0) {
		h_skip("the benchmark did not run");
		return;
	}
	for (p = B_UDP; p <= B_TCP; p++)	/* no e1000 NICs here */
		for (pi = 0; pi < 2; pi++)
			for (t = B_HOT; t <= B_COLD; t++)
				for (m = 0; m < B_NR_MODES; m++) {
					unsigned int pl = b_path_payload(p, payloads[pi]);
					const struct b_result *x = find(p, pl, t, m);

					if (!EXPECT(x))
						continue;
					h_expect(x->bytes > 0 && !x->err && x->reqs > 0 &&
						 x->cpu > 0, __FILE__, __LINE__,
						 "%s %s %u %s: %llu bytes, err %d",
						 b_path_name[p], b_mode_name[m], pl,
						 b_temp_name[t], x->bytes, x->err);
					/* a payload per request; a send(2) cut short by the timer */
					h_expect(x->bytes <= (unsigned long long)pl * x->reqs &&
						 x->bytes > (unsigned long long)pl * (x->reqs - 1),
						 __FILE__, __LINE__,
						 "%s %s %u: %llu bytes for %llu requests",
						 b_path_name[p], b_mode_name[m], pl,
						 x->bytes, x->reqs);
					h_expect(x->bufs == x->reqs * b_mode_nbufs[m],
						 __FILE__, __LINE__,
						 "%s %s %u: %llu slices for %llu requests",
						 b_path_name[p], b_mode_name[m], pl,
						 x->bufs, x->reqs);
				}
}

/*
 * UDP into the dummy sink: nothing is copied. TCP to a local receiver:
 * everything is (the receive side copies zero-copy frags).
 */
static void notifications(void)
{
	size_t i;

	if (bench_ret < 0) {
		h_skip("the benchmark did not run");
		return;
	}
	for (i = 0; i < B.nres; i++) {
		const struct b_result *x = &B.res[i];

		if (!(zc_modes & (1U << x->mode)) || x->err)
			continue;
		if (x->mode == B_SENDZC && !B.report_usage)
			continue;	/* kernel without REPORT_USAGE */
		h_expect(x->notifs > 0, __FILE__, __LINE__,
			 "%s %s %u %s: no notifications", b_path_name[x->path],
			 b_mode_name[x->mode], x->payload, b_temp_name[x->temp]);
		h_expect(x->path == B_UDP ? x->copied == 0 : x->copied == x->notifs,
			 __FILE__, __LINE__, "%s %s %u %s: %llu of %llu notifications copied",
			 b_path_name[x->path], b_mode_name[x->mode], x->payload,
			 b_temp_name[x->temp], x->copied, x->notifs);
	}
}

/* Slices import as one segment per page, or per huge page. */
static void bvec_segments(void)
{
	unsigned int i, huge = 0;

	if (bench_ret < 0) {
		h_skip("the benchmark did not run");
		return;
	}
	EXPECT(B.nbv > 8);
	for (i = 0; i < B.nbv; i++) {
		const struct b_bvec_result *x = &B.bv[i];
		bool is4k = !strcmp(x->backing, "4k");

		if (x->kind != B_BV_MODULE)
			continue;	/* native io_uring reference rows */
		if (!is4k && strcmp(x->backing, "hugetlb"))
			continue;	/* THP: the pages are a best effort */
		huge += !is4k;
		h_expect(x->segs == x->expect, __FILE__, __LINE__,
			 "%s slice %s: %d segments, expected %d", x->backing,
			 x->what, x->segs, x->expect);
		/* failing sends, never EFAULT/E2BIG: the import worked */
		h_expect(x->res == -EDESTADDRREQ || x->res == -EMSGSIZE,
			 __FILE__, __LINE__, "%s slice %s: res %s", x->backing,
			 x->what, h_res(x->res));
	}
	if (!huge)
		h_skip("no hugetlb pages: only the 4 KiB buffer was checked");
	else
		EXPECT(B.huge_checked && B.huge_one_seg_ok);
}

static const struct l_result *lfind(int p, unsigned int chunk,
				    enum l_method m)
{
	size_t i;

	for (i = 0; i < L.nres; i++)
		if (L.res[i].path == p && L.res[i].chunk == chunk &&
		    L.res[i].method == m)
			return &L.res[i];
	return NULL;
}

/* One lending row: whole chunks moved, the notifications its path implies. */
static void lend_check(const struct l_result *x)
{
	const char *what = l_method_name[x->method], *path = l_path_name(x->path);
	bool zc = x->method == L_CHAIN || x->method == L_LENDSEND;

	h_expect(x->bytes > 0 && !x->err && x->cpu > 0, __FILE__, __LINE__,
		 "lend %s %s %u: %llu bytes, err %d", path, what, x->chunk,
		 x->bytes, x->err);
	h_expect(x->bytes == (unsigned long long)x->chunk * x->chunks,
		 __FILE__, __LINE__, "lend %s %s %u: %llu bytes in %llu chunks",
		 path, what, x->chunk, x->bytes, x->chunks);
	/* a chain's completion is its notification: one per chunk */
	h_expect(x->notifs == (zc ? x->chunks : 0), __FILE__, __LINE__,
		 "lend %s %s %u: %llu notifications for %llu chunks", path,
		 what, x->chunk, x->notifs, x->chunks);
	h_expect(x->path == B_TCP ? x->copied == x->notifs : !x->copied,
		 __FILE__, __LINE__, "lend %s %s %u: %llu of %llu copied", path,
		 what, x->chunk, x->copied, x->notifs);
	/* a chunk is one datagram, sendfile's too; a little slack
	 * for what the kernel itself sends on the sink (IPv6 ND, MLD)
	 */
	if (x->path == B_UDP)
		h_expect(x->pkts >= x->chunks && x->pkts <= x->chunks + 4,
			 __FILE__, __LINE__,
			 "lend udp %s %u: %llu datagrams for %llu chunks", what,
			 x->chunk, x->pkts, x->chunks);
}

/* Every method of the lending benchmark ran on every path and chunk. */
static void lend_every_method_ran(void)
{
	unsigned int chunks[2 * B_MAX_PAYLOADS], nc, ci;
	int p, m;

	if (bench_ret < 0) {
		h_skip("the benchmark did not run");
		return;
	}
	EXPECT(L.nres > 0);
	for (p = 0; p <= L_FILE_PATH; p++) {
		int first = p == L_FILE_PATH ? L_SOCK_METHODS : 0;
		int last = p == L_FILE_PATH ? L_NR_METHODS : L_SOCK_METHODS;

		if (p == B_NIC)
			continue;	/* no e1000 NICs here */
		nc = l_chunks(p, chunks);
		/* UDP 60 KiB; TCP 64 KiB and 1 MiB; the file all three */
		EXPECT_EQ(nc, p == B_UDP ? 1U : p == B_TCP ? 2U : 3U);
		for (ci = 0; ci < nc; ci++)
			for (m = first; m < last; m++) {
				const struct l_result *x = lfind(p, chunks[ci], m);

				if (EXPECT(x))
					lend_check(x);
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
