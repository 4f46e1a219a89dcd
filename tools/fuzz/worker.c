// SPDX-License-Identifier: GPL-2.0
/* fuzz: the operation threads and the worker process. */
#include "fuzz.h"

/* ------------------------------------------------------------------------
 * The operation threads
 */

const struct mix_entry mix_table[] = {
	{ OP_OPEN, 2 }, { OP_CLOSE_CTX, 1 }, { OP_DUP_CTX, 1 }, { OP_PROBE, 2 },
	{ OP_STATS, 4 }, { OP_REG_BUFS, 8 }, { OP_REG_SPARSE, 2 },
	{ OP_UPDATE_BUFS, 8 }, { OP_UNREG_BUFS, 3 }, { OP_REG_RING, 10 },
	{ OP_UNREG_RING, 4 }, { OP_RING_STATUS, 3 }, { OP_CANCEL, 2 },
	{ OP_BAD_IOCTL, 3 }, { OP_MMAP, 3 }, { OP_MUNMAP, 1 }, { OP_FDINFO, 2 },
	{ OP_PROVIDE, 20 }, { OP_CMD_PROBE, 2 }, { OP_CMD_RECV, 14 },
	{ OP_CMD_READ, 6 }, { OP_CMD_SEND, 14 }, { OP_CMD_BAD, 2 },
	{ OP_REAP, 6 }, { OP_NEW_URING, 1 }, { OP_CLOSE_URING, 1 },
	{ OP_FORK, 1 }, { OP_SETUP_GOOD, 6 }, { OP_KBUF_ALLOC, 3 },
	{ OP_KBUF_FREE, 2 }, { OP_CMD_LEND, 10 }, { OP_EXEC, 1 },
	{ OP_LONG_SETUP, 1 },
};

const unsigned int mix_table_len = ARRAY_SIZE(mix_table);

static enum op_kind pick_op(void)
{
	static unsigned int total;
	unsigned int i, x;

	if (!total)
		for (i = 0; i < ARRAY_SIZE(mix_table); i++)
			total += mix_table[i].weight;
	x = rnd(total);
	for (i = 0; i < ARRAY_SIZE(mix_table); i++) {
		if (x < mix_table[i].weight)
			return mix_table[i].k;
		x -= mix_table[i].weight;
	}
	return OP_STATS;
}

static void run_op(struct thread_state *t, enum op_kind k)
{
	bool fault = W.have_fail_nth && one_in(25) && k != OP_FORK &&
		     k != OP_NEW_URING && k != OP_CLOSE_URING && k != OP_PROVIDE &&
		     k != OP_MMAP && k != OP_MUNMAP && k != OP_EXEC;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t->detail[0] = 0;
	atomic_store(&t->op_kind, k);
	atomic_store(&t->op_start_ms, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1);
	if (fault)
		arm_fault(t);
	switch (k) {
	case OP_OPEN: do_open(); break;
	case OP_CLOSE_CTX: do_close_ctx(); break;
	case OP_DUP_CTX: do_dup_ctx(); break;
	case OP_PROBE: do_probe(); break;
	case OP_STATS: do_stats(); break;
	case OP_REG_BUFS: do_reg_bufs(false); break;
	case OP_REG_SPARSE: do_reg_bufs(true); break;
	case OP_UPDATE_BUFS: do_update_bufs(); break;
	case OP_UNREG_BUFS: do_unreg_bufs(); break;
	case OP_REG_RING: do_reg_ring(); break;
	case OP_UNREG_RING: do_unreg_ring(); break;
	case OP_RING_STATUS: do_ring_status(); break;
	case OP_CANCEL: do_cancel(); break;
	case OP_BAD_IOCTL: do_bad_ioctl(); break;
	case OP_MMAP: do_mmap(); break;
	case OP_MUNMAP: do_munmap(); break;
	case OP_FDINFO: do_fdinfo(); break;
	case OP_PROVIDE: do_provide(); break;
	case OP_CMD_PROBE:
	case OP_CMD_RECV:
	case OP_CMD_READ:
	case OP_CMD_SEND:
	case OP_CMD_BAD:
		do_cmd(t, k);
		break;
	case OP_REAP: reap(&t->u[rnd(NURING)], true); break;
	case OP_NEW_URING: {
		struct uring_slot *s = &t->u[rnd(NURING)];

		uring_close(s);
		if (!s->up)
			uring_open(s);
		break;
	}
	case OP_CLOSE_URING: uring_close(&t->u[rnd(NURING)]); break;
	case OP_FORK: do_fork(); break;
	case OP_SETUP_GOOD: do_setup_good(); break;
	case OP_KBUF_ALLOC: do_kbuf_alloc(); break;
	case OP_KBUF_FREE: do_kbuf_free(); break;
	case OP_CMD_LEND: do_cmd(t, k); break;
	case OP_EXEC: do_exec(t); break;
	case OP_LONG_SETUP: do_long_setup(); break;
	default: break;
	}
	if (fault)
		disarm_fault(t);
	atomic_store(&t->op_start_ms, 0);
	count(k);
}

void *op_thread(void *arg)
{
	struct thread_state *t = arg;
	unsigned int i;

	rng = t->seed;
	cur_t = t;
	atomic_store(&t->tid, gettid());
	t->nth_fd = W.have_fail_nth ? open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC) : -1;
	/*
	 * Thread 0 of every worker first runs each kind of operation that no
	 * worker has run yet, once: the first worker to get through its list
	 * covers them all, so a run of any length either covers every kind
	 * or fails its coverage check (no "too short to tell"); the weights
	 * decide everything after.
	 */
	if (t->id == 0)
		for (i = 0; i < ARRAY_SIZE(mix_table) && !atomic_load(&W.stop); i++)
			if (!atomic_load(&sh->ops[mix_table[i].k]))
				run_op(t, mix_table[i].k);
	while (!atomic_load(&W.stop))
		run_op(t, pick_op());
	for (i = 0; i < NURING; i++)
		reap(&t->u[i], false);
	return NULL;
}

/* ------------------------------------------------------------------------
 * A worker process
 */

unsigned int nr_threads = 3;

static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	struct rlimit rl = { 256 * PAGE, 256 * PAGE };

	if (syscall(SYS_capget, &hdr, data))
		return;
	data[0].effective &= ~(1U << CAP_IPC_LOCK);
	data[0].permitted &= ~(1U << CAP_IPC_LOCK);
	syscall(SYS_capset, &hdr, data);
	setrlimit(RLIMIT_MEMLOCK, &rl);
}

/*
 * uid/gid 65534, no supplementary groups, no capabilities (the uid change
 * clears them) and a small RLIMIT_MEMLOCK, set while still allowed to:
 * every pin is charged and most big ones fail. Dumpable again, so that
 * /proc/thread-self/fail-nth stays writable, and PDEATHSIG set again (a
 * credential change clears it).
 */
static void drop_to_nobody(void)
{
	static const rlim_t lim[] = { 0, 4 * PAGE, 16 * PAGE, 64 * PAGE, 256 * PAGE, 2048 * PAGE };
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = lim[rnd(ARRAY_SIZE(lim))];
	setrlimit(RLIMIT_MEMLOCK, &rl);
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		return;	/* not root to begin with: already unprivileged */
	prctl(PR_SET_DUMPABLE, 1);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	W.unpriv = true;
	count(OP_UNPRIV);
}

/* Is userfaultfd limited to user-mode faults for unprivileged users? */
bool uffd_unprivileged_kernel_faults(void)
{
	char b[8] = "0";
	int fd = open("/proc/sys/vm/unprivileged_userfaultfd", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, b, sizeof(b) - 1) < 0)
			b[0] = '0';
		close(fd);
	}
	return b[0] == '1';
}

/*
 * Data-path operations: io_uring submissions, which must never block on
 * the target fd. The others (setup ioctls) may wait behind a context's
 * setup lock held by another thread that waits for a userfaultfd page.
 */
static bool is_data_op(int k)
{
	return k == OP_CMD_PROBE || k == OP_CMD_RECV || k == OP_CMD_READ ||
	       k == OP_CMD_SEND || k == OP_CMD_BAD || k == OP_CMD_LEND;
}

/*
 * The watchdog: an operation thread that has been in one data-path
 * operation for STUCK_MS (another for STUCK_SETUP_MS) and sleeps in the
 * kernel anywhere but in a userfaultfd wait (which an epoch's end
 * releases) is reported once, with what it
 * submitted last and its kernel stack: the module must never block the
 * submitting thread (a pty or FIFO write nobody drains, a read with no
 * data). exec and fork bound their own waits.
 */
static void watchdog(struct thread_state *ts, unsigned int n, bool final)
{
	struct timespec now;
	long long ms;
	unsigned int i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	for (i = 0; i < n; i++) {
		struct thread_state *t = &ts[i];
		long long start = atomic_load(&t->op_start_ms);
		int k = atomic_load(&t->op_kind);
		char wchan[64] = "", stack[1024];

		if (t->reported || !start ||
		    ms - start < (is_data_op(k) ? STUCK_MS : STUCK_SETUP_MS) ||
		    (!final && (k == OP_EXEC || k == OP_FORK)))
			continue;
		thread_wchan(getpid(), atomic_load(&t->tid), wchan, sizeof(wchan));
		if (!wchan[0] || !strcmp(wchan, "0") || strstr(wchan, "userfault"))
			continue;
		t->reported = true;
		thread_stack(getpid(), atomic_load(&t->tid), stack, sizeof(stack));
		if (strstr(wchan, "pipe_write")) {
			/*
			 * Two writers of one blocking pipe racing for its free
			 * slot: one of them waits, as write(2) would; the
			 * module documents it (pbuf_file_rwf()). Noted only.
			 */
			printf("# fuzz: worker %d thread %u: %.1f s in %s, in pipe_write "
			       "(racing writers of a blocking pipe); last: %s\n",
			       getpid(), t->id, (ms - start) / 1000.0, op_names[k],
			       t->detail[0] ? t->detail : "-");
			continue;
		}
		atomic_fetch_add(&sh->stuck, 1);
		printf("# fuzz: worker %d thread %u: %.1f s in %s, blocked in %s; last: %s; stack: %s\n",
		       getpid(), t->id, (ms - start) / 1000.0, op_names[k], wchan,
		       t->detail[0] ? t->detail : "-", stack[0] ? stack : "(unreadable)");
		fuzz_fail("worker thread blocked %.1f s in %s at %s (last: %.100s)",
			  (ms - start) / 1000.0, op_names[k], wchan, t->detail);
	}
}

void __attribute__((noreturn)) worker(uint64_t seed, unsigned int ms)
{
	pthread_t th[8 + 3];
	static struct thread_state ts[8];
	struct timespec end;
	unsigned int i, n = nr_threads > 8 ? 8 : nr_threads, roll;
	uint64_t scribble_seed = mix(seed ^ 0x5c1b), peer_seed = mix(seed ^ 0xbee5);
	uint64_t uffd_seed = mix(seed ^ 0xfa17), exec_seed;
	double t0 = now_s(), exec_at = 0;
	bool exec_worker = false, uffd_up;

	rng = mix(seed);
	W.unpriv = getuid() != 0;
	/*
	 * Half the workers are charged against RLIMIT_MEMLOCK: a quarter
	 * drop CAP_IPC_LOCK, a quarter become uid/gid 65534.
	 */
	roll = rnd(4);
	if (roll == 0)
		drop_ipc_lock();
	else if (roll == 1)
		drop_to_nobody();
	/* userfaultfd for kernel faults needs privilege, or the sysctl */
	W.uffd.user_only = W.unpriv ? !uffd_unprivileged_kernel_faults() || one_in(2) : one_in(4);
	if (W.uffd.user_only)
		atomic_fetch_add(&sh->uffd_user_only, 1);
	/* a quarter of the workers execve() themselves mid-run */
	if (one_in(4)) {
		exec_at = t0 + rnd(ms) / 1000.0;
		exec_worker = one_in(2);
	}
	exec_seed = mix(seed ^ 0xe8ec);
	worker_setup();
	memset(ts, 0, sizeof(ts));
	for (i = 0; i < n; i++) {
		ts[i].id = i;
		ts[i].seed = mix(seed + i + 1);
		pthread_create(&th[i], NULL, op_thread, &ts[i]);
	}
	pthread_create(&th[n], NULL, scribbler, &scribble_seed);
	pthread_create(&th[n + 1], NULL, peers, &peer_seed);
	uffd_up = !pthread_create(&th[n + 2], NULL, uffd_handler, &uffd_seed);

	while (now_s() < t0 + ms / 1000.0) {
		usleep(20000);
		watchdog(ts, n, false);
		if (exec_at && now_s() >= exec_at) {
			/* every thread mid-operation, commands in flight */
			double left = t0 + ms / 1000.0 - now_s();

			count(OP_WORKER_EXEC);
			exec_self(exec_worker, exec_seed, left > 0.3 ? (unsigned int)(left * 1000) : 300,
				  n);
			exec_at = 0;	/* failed: go on */
		}
	}
	/*
	 * An orderly end (the supervisor kills most workers before this):
	 * the userfaultfd handler first, whose exit lets every fault through,
	 * then the others, each within 10 s or reported.
	 */
	atomic_store(&W.stop, true);
	if (uffd_up)
		pthread_join(th[n + 2], NULL);
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += 10;
	for (i = 0; i < n + 2; i++) {
		char wchan[64] = "", stack[1024];
		struct thread_state *t = &ts[i];
		long long start;

		if (!pthread_timedjoin_np(th[i], NULL, &end))
			continue;
		if (i >= n) {
			fuzz_fail("worker %d: %s thread did not stop within 10 s", getpid(),
				  i == n ? "scribbler" : "peer");
			continue;
		}
		/*
		 * Still in the kernel: sleeping there is a hang (reported);
		 * running (wchan 0: e.g. pinning a long buffer under TCG) is
		 * only slow (noted).
		 */
		start = atomic_load(&t->op_start_ms);
		thread_wchan(getpid(), atomic_load(&t->tid), wchan, sizeof(wchan));
		thread_stack(getpid(), atomic_load(&t->tid), stack, sizeof(stack));
		printf("# fuzz: worker %d thread %u: not stopped 10 s after the end, in %s "
		       "for %.1f s, wchan %s; last: %s; stack: %s\n", getpid(), i,
		       op_names[atomic_load(&t->op_kind)],
		       start ? (now_s() * 1000 - start) / 1000.0 : 0.0, wchan[0] ? wchan : "?",
		       t->detail[0] ? t->detail : "-", stack[0] ? stack : "(unreadable)");
		if (wchan[0] && strcmp(wchan, "0"))
			fuzz_fail("worker %d: thread %u blocked at %s in %s, 10 s after the end",
				  getpid(), i, wchan, op_names[atomic_load(&t->op_kind)]);
		break;
	}
	if (W.tmpdir[0])
		rmdir(W.tmpdir);
	_exit(0);
}
