// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: random sequences of every /dev/iouring-pbuf operation with random
 * and malformed arguments, in racing threads and processes that get killed.
 *
 *   fuzz [--seconds N] [--seed N] [--workers N] [--threads N]
 *   (or FUZZ_SECONDS (60), FUZZ_SEED, FUZZ_WORKERS (2), FUZZ_THREADS (3))
 *
 * A supervisor forks worker processes (FUZZ_WORKERS at a time, each with a
 * seed derived from the run's seed, living 3-12 s) and SIGKILLs some of
 * them at a random moment: whatever they had registered or in flight must
 * be torn down by the kernel. A worker runs:
 *  - FUZZ_THREADS operation threads, each with its own io_urings (CQE32,
 *    SQE128, plain -- buffer commands must fail there), picking operations
 *    at random: open/close/dup/dup2 of contexts; every ioctl with nr,
 *    offsets, indexes, entry counts, lengths and bgids at and beyond each
 *    limit, unknown flags, non-zero reserved fields and bad pointers
 *    (NULL, kernel addresses, structures running into a guard page);
 *    kernel-owned buffers (KBUF_ALLOC/FREE); mmap/mremap of kernel rings;
 *    fdinfo reads; uring_cmd PROBE/RECV/READ/SEND/LEND (lending chains of
 *    random secondaries) and unknown commands, on every kind of fd
 *    (TCP/UDP/unix stream and datagram sockets, pipes, FIFOs and ptys --
 *    opened blocking or not, written by chains while nobody drains them
 *    --, a regular file, a directory, eventfd, epoll, /dev/null, /proc
 *    files, the device opened read-only, closed and absurd fd numbers);
 *    IOSQE_ASYNC and linked submissions; cancelation; fork()ed children
 *    that inherit the contexts, submit and die; fork()ed children that put
 *    waiting RECVs, READs, lending chains and SENDs in flight and execve()
 *    the fuzzer again (which exits at once or runs a short worker); a
 *    "long buffer" (one small memfd mapped back to back 1000..16000 times:
 *    up to 262144 page segments) registered and used by lending chains of
 *    big lengths and by SEND/RECV bundles of a REGBUF ring into it; and,
 *    on kernels with fault injection, a failed allocation (fail-nth) in
 *    about 4% of the operations;
 *  - a userfaultfd handler for two regions (buffers and rings may lie
 *    there) registered in missing mode in epochs of 0.2..1.5 s: it fills
 *    a fault at once, late, or only when the epoch ends (closing the
 *    userfaultfd lets every waiter through), so pins and copies meet
 *    faults that wait, and nothing waits longer than an epoch;
 *  - a scribbler thread that writes garbage into ring memory (entries and
 *    tails) and into the buffers while the kernel reads them, and unmaps
 *    and remaps kernel rings under everyone;
 *  - a peer thread that feeds and drains the other ends of the sockets and
 *    pipes, shuts them down, closes them and swaps in new ones (dup2 over
 *    the same numbers) under in-flight commands.
 * Registration and unregistration on one thread race with sends, receives
 * and lending chains in flight from another: all threads share the
 * contexts. A quarter of the workers drop CAP_IPC_LOCK (RLIMIT_MEMLOCK
 * 1 MiB), a quarter become uid/gid 65534 with a small RLIMIT_MEMLOCK (0 to
 * 8 MiB; their userfaultfd is UFFD_USER_MODE_ONLY unless
 * vm.unprivileged_userfaultfd is 1), and a quarter execve() themselves at
 * a random moment, every thread mid-operation.
 * A watchdog in each worker reports a thread blocked in the kernel (not in
 * a userfaultfd wait) for 5 s in a data-path submission or 15 s in a setup
 * ioctl, with what it submitted and its kernel stack: the module must never
 * block the submitting thread. An execve() that does not get through in
 * 4 s with commands in flight is a failure too.
 *
 * First, unless --no-regressions, the cases earlier runs found are replayed
 * deterministically (regress_*: a crash there is a known bug still there).
 *
 * Reproducible: the seed is printed; FUZZ_SEED=N replays the same sequence
 * of workers and, per thread, of operations and arguments (what each
 * operation meets depends on how the threads interleave).
 *
 * Checks: completions are well formed (res2's reserved bits, F_BUFFER
 * consistency, lending progress fields), IOPBUF_IOC_STATS is consistent,
 * no worker dies of anything but our SIGKILL, every kind of operation ran,
 * and once every worker is gone every module counter
 * (/sys/class/misc/iouring-pbuf/{pinned_pages,charged_pages,inflight,
 * notifs,contexts}) returns to zero. The kernel itself is judged by the
 * guest (KASAN, lockdep, kmemleak, rmmod). Output follows the tests'
 * protocol (PASS:/FAIL:/SKIP: lines, '#' notes) with the operation rate;
 * exit status 0 when every check passed.
 */
#include "fuzz.h"

#define MAX_WORKERS	16

/* One run's settings and what it counted. */
struct run {
	unsigned long seconds, workers;
	uint64_t seed;
	bool regressions;
	pid_t pids[MAX_WORKERS];
	unsigned long started, killed;
	double elapsed;
	bool ok;
};

/*
 * An image exec'd by a worker or its child (see exec_self): map the shared
 * statistics, note the arrival, and either exit or become a worker again.
 */
static void exec_image(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "--exec-exit") && strcmp(argv[1], "--exec-worker")))
		return;
	sh_fd = atoi(argv[2]);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, sh_fd, 0);
	if (sh == MAP_FAILED)
		_exit(126);
	atomic_store(&sh->exec_arrived[getpid() & 255], getpid());
	if (!strcmp(argv[1], "--exec-exit") || argc < 7)
		_exit(0);
	count(OP_EXEC_WORKER);
	nr_threads = (unsigned int)strtoul(argv[5], NULL, 0);
	if (strcmp(argv[6], "-"))
		snprintf(W.ramfs_dir, sizeof(W.ramfs_dir), "%s", argv[6]);
	W.have_fail_nth = !access("/proc/thread-self/fail-nth", W_OK);
	W.exec_image = true;
	worker(strtoull(argv[3], NULL, 0), (unsigned int)strtoul(argv[4], NULL, 0));
}

/* The command line over the FUZZ_* defaults; a new seed when none is given. */
static void parse_args(struct run *r, int argc, char **argv)
{
	int a;

	r->seconds = env_ul("FUZZ_SECONDS", 60);
	r->seed = env_ul("FUZZ_SEED", 0);
	r->workers = env_ul("FUZZ_WORKERS", 2);
	r->regressions = true;
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--no-regressions")) {
			r->regressions = false;
			continue;
		}
		if (a + 1 >= argc)
			usage();
		if (!strcmp(argv[a], "--seconds"))
			r->seconds = strtoul(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--seed"))
			r->seed = strtoull(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--workers"))
			r->workers = strtoul(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--threads"))
			nr_threads = (unsigned int)strtoul(argv[++a], NULL, 0);
		else
			usage();
	}
	if (!r->workers || r->workers > MAX_WORKERS || !nr_threads)
		usage();
	if (!r->seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		r->seed = mix((uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
			      (uint64_t)getpid() << 32);
	}
}

/*
 * The device, the statistics shared with the workers (a memfd without
 * FD_CLOEXEC: images exec'd by workers map it too), fault injection, a
 * ramfs for page-cache memory the module must refuse to pin, huge pages.
 */
static bool setup(void)
{
	if (access(IOPBUF_DEVICE_PATH, R_OK | W_OK)) {
		printf("FAIL: fuzz: %s: %s\n", IOPBUF_DEVICE_PATH, strerror(errno));
		return false;
	}
	sh_fd = memfd_create("fuzz-shared", 0);
	if (sh_fd < 0 || ftruncate(sh_fd, sizeof(*sh)))
		sh = MAP_FAILED;
	else
		sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, sh_fd, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return false;
	}
	memset(sh, 0, sizeof(*sh));
	W.have_fail_nth = !access("/proc/thread-self/fail-nth", W_OK);
	if (W.have_fail_nth)
		printf("# fuzz: fault injection available: ~4%% of operations fail an allocation\n");
	snprintf(W.ramfs_dir, sizeof(W.ramfs_dir), "/tmp/fuzz-ramfs.%d", getpid());
	if (mkdir(W.ramfs_dir, 0700) || mount("fuzz", W.ramfs_dir, "ramfs", 0, NULL)) {
		rmdir(W.ramfs_dir);
		W.ramfs_dir[0] = 0;
	} else {
		chmod(W.ramfs_dir, 01777);	/* for the uid 65534 workers too */
	}
	if (!uffd_unprivileged_kernel_faults())
		printf("# fuzz: vm.unprivileged_userfaultfd=0: uid 65534 workers use "
		       "UFFD_USER_MODE_ONLY (the module's accesses to their userfaultfd "
		       "memory fail at once); root workers' waits reach the module\n");
	hugepages(-1);
	signal(SIGPIPE, SIG_IGN);
	return true;
}

/* Reap worker slot @i if its worker ended: true when the slot is free. */
static bool reap_worker(struct run *r, unsigned long i)
{
	int status;

	if (r->pids[i] <= 0)
		return true;
	if (waitpid(r->pids[i], &status, WNOHANG) != r->pids[i])
		return false;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		r->killed++;
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL) {
		printf("FAIL: fuzz: worker %d died of signal %d\n", r->pids[i],
		       WTERMSIG(status));
		r->ok = false;
	}
	r->pids[i] = 0;
	return true;
}

/*
 * For the run's time, keep r->workers workers alive, each with a seed that
 * follows from the run's, and SIGKILL a random one now and then: about
 * half of them die mid-operation, the others reach their end.
 */
static void supervise(struct run *r)
{
	double t0 = now_s(), t_end = t0 + (double)r->seconds;
	unsigned long i;

	while (now_s() < t_end) {
		for (i = 0; i < r->workers; i++) {
			uint64_t wseed;
			unsigned int life;

			if (!reap_worker(r, i))
				continue;
			wseed = mix(r->seed + 0x9e3779b97f4a7c15ULL * (r->started + 1));
			life = 3000 + (unsigned int)(mix(wseed) % 9000);
			r->pids[i] = fork();
			if (r->pids[i] == 0)
				worker(wseed, life);
			if (r->pids[i] < 0) {
				r->pids[i] = 0;
				continue;
			}
			r->started++;
		}
		usleep(200000 + rnd(800000));
		if (one_in(6)) {
			i = rnd((uint32_t)r->workers);
			if (r->pids[i] > 0)
				kill(r->pids[i], SIGKILL);
		}
	}
	for (i = 0; i < r->workers; i++) {
		if (r->pids[i] > 0) {
			kill(r->pids[i], SIGKILL);
			waitpid(r->pids[i], NULL, 0);
		}
	}
	r->elapsed = now_s() - t0;
	if (W.ramfs_dir[0]) {
		umount2(W.ramfs_dir, MNT_DETACH);
		rmdir(W.ramfs_dir);
	}
}

/*
 * Every kind of operation ran: each worker's thread 0 starts with the
 * kinds not yet seen (op_thread()), so a kind that never ran is a failure
 * whatever the run's length.
 */
static bool check_coverage(unsigned long long total)
{
	unsigned int i;

	for (i = 0; i < mix_table_len; i++) {
		if (!atomic_load(&sh->ops[mix_table[i].k])) {
			printf("FAIL: fuzz_coverage: operation %s never ran in %llu\n",
			       op_names[mix_table[i].k], total);
			return false;
		}
	}
	printf("PASS: fuzz_coverage\n");
	return true;
}

/*
 * Once everything is torn down (io_uring exit work, notifications, RCU),
 * every module counter reads zero again, within 60 s.
 */
static bool check_counters(void)
{
	unsigned int waited;
	char desc[256];
	bool zero = false;

	for (waited = 0; waited < 600; waited++) {
		zero = counters_zero(desc, sizeof(desc));
		if (zero)
			break;
		usleep(100000);
	}
	if (zero)
		printf("PASS: fuzz_counters_zero (after %.1f s)\n", waited / 10.0);
	else
		printf("FAIL: fuzz_counters_zero: after 60 s: %s\n", desc);
	return zero;
}

int main(int argc, char **argv)
{
	struct run r = { .ok = true };
	unsigned long long total;

	nr_threads = (unsigned int)env_ul("FUZZ_THREADS", 3);
	setvbuf(stdout, NULL, _IOLBF, 0);
	exec_image(argc, argv);
	parse_args(&r, argc, argv);
	printf("# fuzz: seed %" PRIu64 " (replay: FUZZ_SEED=%" PRIu64 "), %lu s, %lu workers x %u threads\n",
	       r.seed, r.seed, r.seconds, r.workers, nr_threads);
	if (!setup())
		return 1;
	/* what earlier runs found, deterministically, before random runs */
	rng = mix(r.seed ^ 0x7e57);
	if (r.regressions && !regress_bad_fds())
		r.ok = false;
	if (r.regressions && !regress_huge_len())
		r.ok = false;
	rng = mix(r.seed);
	supervise(&r);
	/* images that outlived their worker: their files hold contexts */
	reap_strays();
	r.ok &= check_counters();
	if (saved_hugepages >= 0)
		hugepages(saved_hugepages);
	total = report_stats(r.elapsed, r.started, r.killed);
	if (atomic_load(&sh->failures)) {
		printf("FAIL: fuzz_invariants: %u violations, first: %s\n",
		       atomic_load(&sh->failures), sh->first_failure);
		r.ok = false;
	} else {
		printf("PASS: fuzz_invariants\n");
	}
	r.ok &= check_coverage(total);
	printf("# fuzz: seed %" PRIu64 ": %s\n", r.seed, r.ok ? "ok" : "FAILED");
	return r.ok ? 0 : 1;
}
