// SPDX-License-Identifier: GPL-2.0
/*
 * bench: sender CPU cost of zero-copy send, /dev/iouring-pbuf against the
 * stock ways of sending, measured side by side in one run.
 *
 * Senders (same socket type, payload and in-flight depth for all: qd
 * requests whose buffers are not yet released; send(2) one at a time):
 *   B0 send        send(2), copy
 *   B1 uring       io_uring IORING_OP_SEND, copy
 *   B2 msgzc       send(MSG_ZEROCOPY) + error-queue reaping (SO_ZEROCOPY)
 *   B3 sendzc      io_uring IORING_OP_SEND_ZC, registered (fixed) buffer,
 *                  IORING_SEND_ZC_REPORT_USAGE when the kernel has it
 *   M1 mod         IOPBUF_CMD_SEND, one ring entry per command
 *   M2 mod_b4      IOPBUF_CMD_SEND | IOPBUF_SEND_BUNDLE, the payload as a
 *      mod_b16     bundle of 4 or 16 ring entries (payload/4, payload/16)
 *
 * "Payload" is the bytes one request hands to the socket: one send(), one
 * SQE, one module command. A bundle carries the same bytes as N slices, so
 * that every mode moves the same bytes per request; bufs/s counts slices.
 *
 * Paths:
 *   udp  UDP to a dummy interface (mtu 65535): packets are dropped after the
 *        qdisc without their payload being touched, so notifications report
 *        real zero copy. Payloads above 65507 bytes do not fit a datagram:
 *        64 KiB becomes 60 KiB (61440), 256 KiB is skipped.
 *   tcp  TCP to a receiver thread in another network namespace over a veth
 *        pair (created with rtnetlink), or loopback if that fails. Either
 *        way the receive side copies zero-copy frags (skb_orphan_frags_rx),
 *        in softirq on the sender's CPU, so every notification is reported
 *        copied and the sender's CPU includes that copy. TCP_NODELAY for
 *        every sender (-d: off); io_uring sends use MSG_WAITALL, so that
 *        each request sends its whole payload as send(2) and the module do.
 * Buffers: hot (one payload-sized buffer reused by every request) or cold
 * (requests walk a region larger than the LLC, -C). All benchmark memory is
 * anonymous with MADV_NOHUGEPAGE (4 KiB pages) for every mode alike; -H
 * adds a pass over the cold walk on 2 MiB pages ("cold2m") for B3 and M.
 *
 * Per run: sender pinned to a CPU, the TCP receiver to a CPU (-c tx,rx;
 * scripts/bench.sh puts both on one vCPU under TCG); a warm-up, then
 * a timed interval (SIGALRM ends it), then the requests in flight are
 * drained. Metrics: bytes, wall time, requests, slices, notifications and
 * how many were reported copied, the sender thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID, i.e. getrusage(RUSAGE_THREAD) user+sys read
 * precisely, and as getrusage reports it), the sender CPU's busy and
 * softirq time from /proc/stat, and a getppid() probe around the run that
 * shows how much the host stretched guest time. Repetitions interleave the
 * modes (order rotated from one repetition to the next) so drift hits all.
 *
 * A second part measures bvec import: segments a slice of a registered
 * buffer becomes, and time per command, for a 4 KiB-page buffer and a
 * 2 MiB-huge-page buffer, with reference rows (io_uring NOP, a failing
 * native SEND_ZC, IOPBUF_CMD_PROBE, plain system calls); see
 * b_bvec_bench().
 *
 * A third part (-o lend) sends a file to a socket in chunks through a lent
 * buffer (IOPBUF_CMD_LEND: READ then zero-copy SEND), against read() +
 * send() and sendfile(); see l_bench().
 *
 * Output: "BENCHINFO,..." "BENCH,..." "BVEC,..." "BVECREG,..." "LENDINFO,..."
 * "LEND,..." CSV lines
 * (parsed by scripts/bench.sh from the guest console) and a table.
 * Files: util.c (clocks, timers, memory, the reference probe, result
 * arrays; bench.h adds the window readings and the drain), net.c (the
 * paths), send.c (one run, the matrix, the targets), bvec.c, lend.c,
 * main.c (setup, options).
 * tests/bench_smoke.c runs the program with tiny sizes.
 */
#include "bench.h"

struct b_state B;

/*
 * Setup and options
 */

/* The send matrix's buffers, registered with the module and io_uring. */
static int b_setup_matrix(void)
{
	struct iovec iov[B_NR_TEMPS];
	struct iopbuf_buf_reg breg = { .iovs = (uintptr_t)iov, .nr = B_NR_TEMPS };
	size_t cold_len;
	int t, ret;

	/*
	 * hot: one payload-sized buffer; cold: a walk over more than the
	 * LLC (the host's, under TCG); both on 4 KiB pages. cold2m: the cold
	 * walk again on 2 MiB pages, only for the diagnostic pass.
	 */
	cold_len = B.o.cold_bytes & ~(2 * B_MiB - 1);
	if (cold_len < 2 * B_MiB)
		cold_len = 2 * B_MiB;
	B.region_len[B_HOT] = B_HOT_LEN;
	B.region_len[B_COLD] = cold_len;
	for (t = B_HOT; t <= B_COLD; t++) {
		B.region_map_len[t] = B.region_len[t];
		B.region_map[t] = b_map(B.region_len[t], false);
		B.region[t] = B.region_map[t];
		if (!B.region[t]) {
			b_err("no memory for a %zu-byte region", B.region_len[t]);
			return -ENOMEM;
		}
		memset(B.region[t], 0x5a, B.region_len[t]);
	}
	if (B.o.diag || (B.o.temps & (1U << B_COLD2M))) {
		B.region[B_COLD2M] = b_huge_map(cold_len, B.cold2m_backing,
						sizeof(B.cold2m_backing),
						&B.region_map[B_COLD2M],
						&B.region_map_len[B_COLD2M]);
		if (B.region[B_COLD2M])
			B.region_len[B_COLD2M] = cold_len;
		else
			b_log("no memory on 2 MiB pages: no cold2m runs");
	}
	for (t = 0; t < B_NR_TEMPS; t++)
		iov[t] = (struct iovec){ B.region[t], B.region_len[t] };
	if (ioctl(B.dev, IOPBUF_IOC_REGISTER_BUFFERS, &breg)) {
		b_err("IOPBUF_IOC_REGISTER_BUFFERS: %s", strerror(errno));
		return -errno;
	}

	/* one ring for every io_uring mode */
	ret = b_ring_init(&B.ring, &B.ring_flags);
	if (ret) {
		b_err("io_uring_queue_init: %s", strerror(-ret));
		return ret;
	}
	ret = io_uring_register_buffers(&B.ring, iov, B_NR_TEMPS);
	if (ret) {
		b_err("io_uring_register_buffers: %s", strerror(-ret));
		return ret;
	}
	B.ring_ok = true;
	return 0;
}

static int b_setup(void)
{
	struct utsname u;
	struct sigaction sa = { .sa_handler = b_on_alarm };
	int ret;

	uname(&u);
	snprintf(B.kernel, sizeof(B.kernel), "%s", u.release);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: wake blocked calls */
	B.dev = B.ns_main = -1;
	for (int p = 0; p < B_NR_PATHS; p++)
		B.rx[p].ns = B.rx[p].lfd = -1;
	B.hugepages_orig = -1;

	B.dev = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (B.dev < 0 || ioctl(B.dev, IOPBUF_IOC_PROBE, &B.probe)) {
		b_err("%s: %s", IOPBUF_DEVICE_PATH, strerror(errno));
		return -errno;
	}
	if (B.o.matrix || B.o.targets) {
		ret = b_setup_matrix();
		if (ret)
			return ret;
	}
	if (!B.o.matrix && !B.o.lend && !B.o.targets)
		return 0;

	B.ns_main = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (B.ns_main < 0)
		return -errno;
	ret = b_udp_setup();
	if (ret)
		b_err("UDP sink (%s): %s; UDP path skipped", B_DUMMY_IF, strerror(-ret));
	if (B.o.paths & (1U << B_TCP)) {
		ret = b_tcp_setup();
		if (ret)
			b_err("TCP receiver: %s; TCP path skipped", strerror(-ret));
	}
	if (B.o.paths & (1U << B_NIC)) {
		ret = b_nic_setup();
		if (ret)
			b_err("NIC path (two e1000 NICs, tools/bench.vm): %s; NIC path skipped",
			      strerror(-ret));
	}

	/* SEND_ZC with REPORT_USAGE: a probe send to the sink */
	if (B.udp_ok && B.ring_ok) {
		struct b_run r = { .path = B_UDP, .temp = B_HOT, .mode = B_SENDZC,
				   .payload = 64, .nbufs = 1, .slice = 64 };

		B.report_usage = true;
		r.tag = ++B.gen;
		r.fd = b_socket(&r);
		if (r.fd >= 0) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&B.ring);

			b_prep(&r, sqe);
			r.inflight = 1;
			b_drain_uring(&r);
			if (r.err == EINVAL) {
				B.report_usage = false;
				b_log("SEND_ZC has no IORING_SEND_ZC_REPORT_USAGE: copied share unknown for B3");
			}
			close(r.fd);
		}
	}
	return 0;
}

static void b_teardown(void)
{
	b_net_teardown();
	if (B.ring_ok)
		io_uring_queue_exit(&B.ring);
	B.ring_ok = false;
	if (B.dev >= 0)
		close(B.dev);
	B.dev = -1;
	for (int t = 0; t < B_NR_TEMPS; t++) {
		if (B.region_map[t])
			munmap(B.region_map[t], B.region_map_len[t]);
		B.region_map[t] = NULL;
		B.region[t] = NULL;
	}
	b_hugepages_restore();
}

static unsigned long long b_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; break;
	case 'm': case 'M': v <<= 20; break;
	case 'g': case 'G': v <<= 30; break;
	}
	return v;
}

static unsigned int b_names(const char *list, const char *const *names,
			    unsigned int n)
{
	char buf[256], *tok, *save = NULL;
	unsigned int mask = 0, i;

	if (!strcmp(list, "all"))
		return (1U << n) - 1;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < n; i++)
			if (!strcmp(tok, names[i]))
				mask |= 1U << i;
		if (!strcmp(tok, "mod_bundle"))
			mask |= 1U << B_MOD4 | 1U << B_MOD16;
	}
	return mask;
}

static void b_usage(void)
{
	printf("usage: bench [-t run_ms] [-w warm_ms] [-r reps] [-q qd] [-p 4k,16k,64k,256k]\n"
	       "             [-m all|send,uring,msgzc,sendzc,mod,mod_b4,mod_b16] [-P udp,tcp,nic]\n"
	       "             [-T hot,cold] [-C cold_bytes] [-c tx_cpu,rx_cpu]\n"
	       "             [-b bvec_bytes] [-n bvec_cmds] [-B (bvec only)] [-N (no bvec)] [-Q]\n"
	       "             [-l (TCP over loopback)] [-d (TCP without TCP_NODELAY)]\n"
	       "             [-H (4 KiB vs 2 MiB page pass)]\n"
	       "             [-o matrix,bvec,lend,targets (parts to run; default all but targets)]\n"
	       "             [-S (wait for a steady clock, print BENCHCAL)]\n"
	       "             [-k 64k,1m (lend chunks)] [-F file_bytes (lend file)]\n");
}

static void b_defaults(struct b_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->payloads[0] = 4 * B_KiB;
	o->payloads[1] = 16 * B_KiB;
	o->payloads[2] = 64 * B_KiB;
	o->payloads[3] = 256 * B_KiB;
	o->nr_payloads = 4;
	o->modes = (1U << B_NR_MODES) - 1;
	o->paths = 1U << B_UDP | 1U << B_TCP;	/* -P nic: tools/bench.vm's NICs */
	o->temps = 1U << B_HOT | 1U << B_COLD;
	o->reps = 3;
	o->qd = 8;
	o->warm_ms = 40;
	o->run_ms = 250;
	o->cold_bytes = 128 * B_MiB;
	o->tx_cpu = 0;
	o->rx_cpu = 1;
	o->matrix = true;
	o->bvec = true;
	o->bvec_bytes = 8 * B_MiB;
	o->bvec_cmds = 1000;
	o->table = true;
	o->lend = true;
	o->chunks[0] = 64 * B_KiB;
	o->chunks[1] = B_MiB;
	o->nr_chunks = 2;
	o->file_bytes = 64 * B_MiB;
}

/* A comma-separated list of sizes into @v; their number. */
static unsigned int b_sizes(const char *list, unsigned int *v)
{
	char buf[256], *tok, *save = NULL;
	unsigned int n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok && n < B_MAX_PAYLOADS;
	     tok = strtok_r(NULL, ",", &save))
		v[n++] = b_size(tok);
	return n;
}

/* -o: which parts run; -B and -N are older spellings of two choices. */
static int b_parts(struct b_opts *o, const char *list)
{
	static const char *const parts[] = { "matrix", "bvec", "lend", "targets" };
	unsigned int mask = strcmp(list, "all") ? b_names(list, parts, 4) : 7;

	if (!mask)
		return -EINVAL;
	o->matrix = mask & 1;
	o->bvec = mask & 2;
	o->lend = mask & 4;
	o->targets = mask & 8;
	return 0;
}

static int b_parse(struct b_opts *o, int argc, char **argv)
{
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "t:w:r:q:p:m:P:T:C:c:b:n:BNQldHho:k:F:S")) != -1) {
		switch (c) {
		case 't': o->run_ms = atoi(optarg); break;
		case 'w': o->warm_ms = atoi(optarg); break;
		case 'r': o->reps = atoi(optarg); break;
		case 'q': o->qd = atoi(optarg); break;
		case 'p': o->nr_payloads = b_sizes(optarg, o->payloads); break;
		case 'k': o->nr_chunks = b_sizes(optarg, o->chunks); break;
		case 'F': o->file_bytes = b_size(optarg); break;
		case 'o':
			if (b_parts(o, optarg))
				return -EINVAL;
			break;
		case 'm': o->modes = b_names(optarg, b_mode_name, B_NR_MODES); break;
		case 'P': o->paths = b_names(optarg, b_path_name, B_NR_PATHS); break;
		case 'T': o->temps = b_names(optarg, b_temp_name, B_NR_TEMPS); break;
		case 'C': o->cold_bytes = b_size(optarg); break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &o->tx_cpu, &o->rx_cpu) < 1)
				return -EINVAL;
			break;
		case 'b': o->bvec_bytes = b_size(optarg); break;
		case 'n': o->bvec_cmds = atoi(optarg); break;
		case 'B': o->matrix = o->lend = false; break;
		case 'N': o->bvec = false; break;
		case 'Q': o->quiet = true; o->table = false; break;
		case 'l': o->tcp_loopback = true; break;
		case 'd': o->nagle = true; break;
		case 'H': o->diag = true; break;
		case 'S': o->settle = true; break;
		default: return -EINVAL;
		}
	}
	if (!o->qd || o->qd > B_MAX_QD || !o->reps || !o->nr_payloads ||
	    !o->nr_chunks)
		return -EINVAL;
	for (c = 0; c < (int)o->nr_chunks; c++)
		if (o->chunks[c] < 16 || o->chunks[c] > 16 * B_MiB)
			return -EINVAL;
	for (c = 0; c < (int)o->nr_payloads; c++)
		if (o->payloads[c] < 16 || o->payloads[c] > B_HOT_LEN ||
		    o->payloads[c] % 16)
			return -EINVAL;
	return 0;
}

/* Run everything @o asks for; results stay in B for the caller. */
int bench_run(const struct b_opts *o)
{
	int ret;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(&B, 0, sizeof(B));
	B.o = *o;
	l_reset();
	if (B.o.rx_cpu >= ncpu)
		B.o.rx_cpu = -1;
	if (B.o.tx_cpu >= ncpu)
		B.o.tx_cpu = 0;
	if (B.o.targets)
		B.o.paths = (1U << B_NR_PATHS) - 1;
	ret = b_setup();
	if (ret)
		goto out;
	b_pin(B.o.tx_cpu);
	if (B.o.settle)
		b_settle();
	printf("BENCHINFO,%s,qd=%u,run_ms=%u,warm_ms=%u,reps=%u,cold_bytes=%zu,tx_cpu=%d,rx_cpu=%d,ring_flags=0x%x,report_usage=%d,tcp=%s,cpus=%ld,max_bundle_segs=%u,cold2m=%s,nodelay=%d,nic=%s\n",
	       B.kernel, B.o.qd, B.o.run_ms, B.o.warm_ms, B.o.reps,
	       B.region_len[B_COLD], B.o.tx_cpu, B.o.rx_cpu, B.ring_flags,
	       B.report_usage, B.tcp_kind ? B.tcp_kind : "none", ncpu,
	       B.probe.max_bundle_segs,
	       B.region[B_COLD2M] ? B.cold2m_backing : "none", !B.o.nagle,
	       B.nic_ok ? B.nic[0] : "none");
	if (B.o.targets) {
		printf("BENCHHDR,kernel,path,payload,temp,mode,rep,bytes,wall_s,reqs,bufs,cpu_s,cpu_rusage_s,cpu_busy_s,softirq_s,notifs,copied,err,probe_ns,phase,busy_all_s,busy_tasks_s\n");
		ret = b_targets();
		if (B.o.table)
			b_table();
	}
	if (!ret && B.o.matrix) {
		printf("BENCHHDR,kernel,path,payload,temp,mode,rep,bytes,wall_s,reqs,bufs,cpu_s,cpu_rusage_s,cpu_busy_s,softirq_s,notifs,copied,err,probe_ns,phase,busy_all_s,busy_tasks_s\n");
		ret = b_matrix(B.o.paths, B.o.payloads, B.o.nr_payloads,
			       B.o.temps, B.o.modes, "matrix");
		if (!ret && B.o.diag) {
			/*
			 * Where does the module's per-page cost come from?
			 * The same cold walk on 4 KiB and on 2 MiB pages: a
			 * slice then is one bio_vec segment instead of one
			 * per page, while the pages the stack references stay
			 * the same.
			 */
			static const unsigned int pl[] = { 16 * B_KiB, 64 * B_KiB };

			ret = b_matrix(1U << B_UDP, pl, 2,
				       1U << B_COLD | 1U << B_COLD2M,
				       (1U << B_SENDZC | 1U << B_MOD1 |
					1U << B_MOD16) & B.o.modes, "pages");
		}
		if (B.o.table)
			b_table();
	}
	if (!ret && B.o.bvec)
		ret = b_bvec_bench();
	if (!ret && B.o.lend)
		ret = l_bench();
	printf("BENCHDONE,%s,errors=%d\n", B.kernel, B.errors);
out:
	b_teardown();
	return ret;
}

/* The program: options as b_usage() shows; exit 0, 1 on errors, 2 usage. */
static int bench_main(int argc, char **argv)
{
	struct b_opts o;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	b_defaults(&o);
	if (b_parse(&o, argc, argv)) {
		b_usage();
		return 2;
	}
	ret = bench_run(&o);
	return ret || B.errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	return bench_main(argc, argv);
}
