// SPDX-License-Identifier: GPL-2.0
/* fuzz: contexts, fork, fault injection, execve() with commands in flight. */
#include "fuzz.h"

/* ------------------------------------------------------------------------
 * Contexts, fork, fault injection
 */

void do_open(void)
{
	int i = (int)rnd(NCTX);
	int fd = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	int old = atomic_exchange(&W.ctx[i], fd);

	if (old >= 0 && one_in(2))
		close(old);	/* else leaked until exit, on purpose */
}

void do_close_ctx(void)
{
	int i = (int)rnd(NCTX);
	int old = atomic_exchange(&W.ctx[i], -1);

	if (old >= 0)
		close(old);
}

void do_dup_ctx(void)
{
	int from = pick_ctx_fd();
	int i = (int)rnd(NCTX);
	int fd = dup(from), old;

	if (fd < 0)
		return;
	if (one_in(3)) {
		/* dup2 over another context: its number now names this one */
		old = atomic_load(&W.ctx[i]);
		if (old >= 0 && dup2(fd, old) >= 0) {
			close(fd);
			return;
		}
	}
	old = atomic_exchange(&W.ctx[i], fd);
	if (old >= 0)
		close(old);
}

/*
 * A child inherits the contexts, submits commands on its own io_uring and
 * dies: by _exit, or killed by us while they wait.
 */
void do_fork(void)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		struct io_uring ring;
		struct iopbuf_cmd_recv r = { .bgid = (uint16_t)rnd(NRING) };
		struct io_uring_sqe *sqe;
		unsigned int i;

		/* dies with the thread that forked it, or its worker */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (io_uring_queue_init(8, &ring, IORING_SETUP_CQE32))
			_exit(0);
		for (i = 0; i < 4; i++) {
			sqe = io_uring_get_sqe(&ring);
			if (!sqe)
				break;
			r.fd = atomic_load(&W.pair[rnd(NPAIR)].a);
			r.flags = one_in(2) ? IOPBUF_RECV_BUNDLE : 0;
			prep_cmd(sqe, atomic_load(&W.ctx[rnd(NCTX)]),
				 one_in(3) ? IOPBUF_CMD_SEND : IOPBUF_CMD_RECV, &r);
		}
		io_uring_submit(&ring);
		if (one_in(2)) {
			struct iopbuf_ring_reg reg = { .bgid = (uint16_t)rnd(NRING) };

			ioctl(atomic_load(&W.ctx[rnd(NCTX)]), IOPBUF_IOC_UNREGISTER_RING, &reg);
		}
		if (one_in(2))
			pause();	/* until killed */
		_exit(0);
	}
	usleep(rnd(5000));
	if (!one_in(3)) {
		kill(pid, SIGKILL);
	} else {
		/* let it end by itself, within 1 s (one that pause()s does not) */
		double t0 = now_s();

		while (waitpid(pid, &status, WNOHANG) != pid) {
			if (now_s() - t0 > 1.0) {
				kill(pid, SIGKILL);
				break;
			}
			usleep(2000);
		}
	}
	waitpid(pid, &status, 0);
}

/*
 * The long buffer registered in slot LONG_IDX of a context (a new table of
 * 16 slots whose first 8 are good buffers, or an update of that slot), and
 * a REGBUF ring of good entries into it, up to 8 MiB each, for SEND and
 * RECV bundles: a bundle of them is thousands of segments.
 */
void do_long_setup(void)
{
	struct iovec iov[16];
	struct ring_slot *rs;
	struct region *r = NULL;
	size_t off, len;
	unsigned int i, el;
	int ci = (int)rnd(NCTX), fd = atomic_load(&W.ctx[ci]);
	double t0;
	long ret;

	if (!W.lng.p)
		return;
	if (fd < 0) {
		fd = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		atomic_store(&W.ctx[ci], fd);
	}
	memset(iov, 0, sizeof(iov));
	for (i = 0; i < 8; i++) {
		r = pick_region();
		if (r->kind == R_ANON || r->kind == R_MEMFD || r->kind == R_SHM) {
			iov[i].iov_base = r->p;
			iov[i].iov_len = r->len < 8 * PAGE ? r->len : 8 * PAGE;
		}
	}
	/* all of it, or a slice starting and ending anywhere */
	off = one_in(2) ? 0 : rnd((uint32_t)(W.lng.len / 2));
	len = one_in(2) ? W.lng.len - off : 1 + rnd((uint32_t)(W.lng.len - off));
	iov[LONG_IDX].iov_base = W.lng.p + off;
	iov[LONG_IDX].iov_len = len;
	if (cur_t)
		snprintf(cur_t->detail, sizeof(cur_t->detail),
			 "long buffer: %zu bytes, %zu pages in %u mappings",
			 len, (len + PAGE - 1) / PAGE, W.lng.maps);
	t0 = now_s();
	ret = xioctl(fd, IOPBUF_IOC_REGISTER_BUFFERS,
		     &(struct iopbuf_buf_reg){ .iovs = (uintptr_t)iov, .nr = 16 });
	if (ret == -EBUSY)
		ret = xioctl(fd, IOPBUF_IOC_UPDATE_BUFFERS,
			     &(struct iopbuf_buf_reg){ .iovs = (uintptr_t)&iov[LONG_IDX],
						       .nr = 1, .offset = LONG_IDX });
	if ((ret == -EINVAL || ret == -ENXIO) && one_in(2)) {
		/* a table too small for the slot: replace it */
		xioctl(fd, IOPBUF_IOC_UNREGISTER_BUFFERS, NULL);
		ret = xioctl(fd, IOPBUF_IOC_REGISTER_BUFFERS,
			     &(struct iopbuf_buf_reg){ .iovs = (uintptr_t)iov, .nr = 16 });
	}
	el = (unsigned int)((now_s() - t0) * 1000);
	if (el > atomic_load(&sh->long_reg_ms_max))
		atomic_store(&sh->long_reg_ms_max, el);
	if (ret) {
		atomic_fetch_add(&sh->long_reg_errno[ret == -ENOMEM ? 0 : ret == -E2BIG ? 1 :
						   ret == -EFAULT ? 2 : ret == -EINTR ? 3 :
						   ret == -ENXIO || ret == -EINVAL ? 4 : 5], 1);
		return;
	}
	atomic_fetch_add(&sh->long_registered, 1);
	rs = ring_register_good(fd, ci, true, false);
	if (!rs)
		return;
	for (i = 0; i < RING_ENTRIES; i++) {
		struct iopbuf_buf *e = &rs->bufs[i];
		uint32_t elen = long_entry_len();

		if (elen > len)
			elen = (uint32_t)len;
		e->addr = iopbuf_regbuf_encode(LONG_IDX, rnd((uint32_t)(len - elen + 1)));
		e->len = elen;
		e->bid = (uint16_t)i;
	}
	ring_publish_good(rs);
}

/* ------------------------------------------------------------------------
 * execve() with commands in flight
 */

int sh_fd = -1;	/* the shared statistics, a memfd exec'd images map */

extern char **environ;

/*
 * Replace this process by the fuzzer again: "--exec-exit" exits at once,
 * "--exec-worker" runs a fresh worker (seed, ms, threads) in the same
 * process, reporting into the same shared statistics.
 */
void exec_self(bool as_worker, uint64_t seed, unsigned int ms, unsigned int threads)
{
	char a_seed[32], a_ms[16], a_fd[16], a_thr[16];
	char *argv[10];
	int n = 0;

	snprintf(a_seed, sizeof(a_seed), "%" PRIu64, seed);
	snprintf(a_ms, sizeof(a_ms), "%u", ms);
	snprintf(a_fd, sizeof(a_fd), "%d", sh_fd);
	snprintf(a_thr, sizeof(a_thr), "%u", threads);
	argv[n++] = "fuzz";
	argv[n++] = as_worker ? "--exec-worker" : "--exec-exit";
	argv[n++] = a_fd;
	if (as_worker) {
		argv[n++] = a_seed;
		argv[n++] = a_ms;
		argv[n++] = a_thr;
		argv[n++] = W.ramfs_dir[0] ? W.ramfs_dir : "-";
	}
	argv[n] = NULL;
	execve("/proc/self/exe", argv, environ);
}

/* Something for the exec child's second thread to wait in. */
static void *exec_child_thread(void *arg)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct iopbuf_cmd_recv r = { .bgid = (uint16_t)(uintptr_t)arg };
	struct io_uring_sqe *sqe;
	int p[2];

	if (io_uring_queue_init(4, &ring, IORING_SETUP_CQE32) || pipe(p))
		return NULL;
	sqe = io_uring_get_sqe(&ring);
	r.fd = p[0];	/* an empty pipe: waits */
	prep_cmd(sqe, atomic_load(&W.ctx[rnd(NCTX)]), IOPBUF_CMD_READ, &r);
	io_uring_submit(&ring);
	io_uring_wait_cqe(&ring, &cqe);	/* until execve kills this thread */
	return NULL;
}

/*
 * A forked child puts commands in flight that wait -- RECV on a socket
 * nobody writes to, READ on an empty pipe, FIFO or pty, a lending chain
 * whose first secondary waits, SENDs from a good ring -- on its own
 * io_uring (sometimes without FD_CLOEXEC, and sometimes from a second
 * thread too), then calls execve(): the new image exits at once or runs a
 * short worker. The exec must get through (io_uring cancels the task's
 * requests at exec) within 4 s, whatever the module has in flight.
 */
void do_exec(struct thread_state *t)
{
	bool as_worker = one_in(3);
	unsigned int ms = 200 + rnd(600), threads = 1 + rnd(2);
	uint64_t cseed = rnd64();
	uint16_t bgid = (uint16_t)rnd(NRING);
	int dev = atomic_load(&W.ctx[rnd(NCTX)]), status = 0;
	double t0, arrived_at = 0;
	pid_t pid;

	pick_target(true, &dev, &bgid);
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		struct io_uring ring;
		struct io_uring_sqe *sqe;
		int sv[2] = { -1, -1 }, p[2] = { -1, -1 }, cloexec = one_in(2) ? O_CLOEXEC : 0;
		unsigned int i;
		pthread_t th;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (io_uring_queue_init(16, &ring, IORING_SETUP_CQE32)) {
			exec_self(as_worker, cseed, ms, threads);
			_exit(127);
		}
		if (!cloexec) {	/* the ring and the contexts survive into the new image */
			fcntl(ring.ring_fd, F_SETFD, 0);
			for (i = 0; i < NCTX; i++)
				fcntl(atomic_load(&W.ctx[i]), F_SETFD, 0);
		}
		socketpair(AF_UNIX, SOCK_STREAM | cloexec, 0, sv);
		if (pipe2(p, cloexec))
			p[0] = p[1] = -1;
		for (i = 0; i < 6; i++) {
			union {
				struct iopbuf_cmd_recv r;
				struct iopbuf_cmd_send s;
				struct iopbuf_cmd_lend l;
			} u;
			struct iopbuf_lend *l;
			__u32 op;

			memset(&u, 0, sizeof(u));
			switch (i) {
			case 0:
				op = IOPBUF_CMD_RECV;
				u.r = (struct iopbuf_cmd_recv){ .fd = sv[0], .bgid = bgid,
								.flags = one_in(2) ? IOPBUF_RECV_BUNDLE : 0 };
				break;
			case 1:
				op = IOPBUF_CMD_READ;
				u.r = (struct iopbuf_cmd_recv){ .fd = one_in(2) ? p[0] :
								atomic_load(&W.pair[5 + rnd(2)].a),
								.bgid = bgid };
				break;
			case 2:	/* a chain that waits in its first secondary */
				op = IOPBUF_CMD_LEND;
				l = make_lend(bgid);
				if (!l)
					continue;
				l->src = IOPBUF_LEND_SRC_REGBUF;
				l->dir = IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT;
				l->bgid = 0;
				l->addr = iopbuf_regbuf_encode(rnd(8), 0);
				l->len = PAGE;
				l->nr_ops = 2;
				l->ops[0] = (struct iopbuf_lend_op){ .opcode = IOPBUF_LEND_OP_READ,
					.fd = p[0], .off = IOPBUF_LEND_POS };
				l->ops[1] = (struct iopbuf_lend_op){ .opcode = IOPBUF_LEND_OP_WRITE,
					.fd = pair_wr(&W.pair[rnd(NPAIR)]), .off = IOPBUF_LEND_POS };
				u.l.addr = (uintptr_t)l;
				u.l.len = sizeof(*l);
				break;
			case 3:
				op = IOPBUF_CMD_LEND;
				u.l.addr = (uintptr_t)make_lend(bgid);
				u.l.len = sizeof(struct iopbuf_lend);
				break;
			default:
				op = IOPBUF_CMD_SEND;
				u.s = (struct iopbuf_cmd_send){ .fd = atomic_load(&W.pair[rnd(NPAIR)].a),
								.bgid = bgid,
								.flags = one_in(2) ? IOPBUF_SEND_BUNDLE : 0 };
				break;
			}
			sqe = io_uring_get_sqe(&ring);
			if (!sqe)
				break;
			prep_cmd(sqe, dev, op, &u);
			sqe->flags &= (__u8)~IOSQE_IO_LINK;
		}
		io_uring_submit(&ring);
		if (one_in(3))
			pthread_create(&th, NULL, exec_child_thread, (void *)(uintptr_t)bgid);
		usleep(rnd(3000));
		exec_self(as_worker, cseed, ms, threads);
		_exit(127);
	}
	count(OP_EXEC);
	snprintf(t->detail, sizeof(t->detail), "exec child %d (%s)", pid,
		 as_worker ? "re-entering the worker loop" : "exiting at once");
	/* bounded: arrival within 4 s, then at most ms + 3 s more, then SIGKILL */
	t0 = now_s();
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		double el = now_s() - t0;

		if (w == pid)
			break;
		if (!arrived_at && atomic_load(&sh->exec_arrived[pid & 255]) == pid)
			arrived_at = el;
		if (!arrived_at && el > 4.0) {
			char wchan[64] = "?";

			thread_wchan(pid, pid, wchan, sizeof(wchan));
			fuzz_fail("execve() with commands in flight did not complete in 4 s "
				  "(child %d, wchan %s)", pid, wchan);
			kill(pid, SIGKILL);
			arrived_at = el;
		}
		/* a worker image runs a while, then dies mid-run */
		if (arrived_at && el > arrived_at + (ms % 500) / 1000.0) {
			kill(pid, SIGKILL);
			if (el > arrived_at + 5.5) {
				fuzz_fail("exec child %d not reaped 5 s after SIGKILL", pid);
				return;	/* leave it: PDEATHSIG ends it with us */
			}
		}
		usleep(2000);
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		fuzz_fail("exec child %d died of signal %d", pid, WTERMSIG(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		fuzz_fail("exec child %d: execve(/proc/self/exe) failed", pid);
}

/* Fail the Nth allocation of the next operation (debug kernel only). */
void arm_fault(struct thread_state *t)
{
	char b[16];
	int l;

	if (t->nth_fd < 0)
		return;
	l = snprintf(b, sizeof(b), "%u", 1 + rnd(one_in(4) ? 100 : 10));
	if (pwrite(t->nth_fd, b, l, 0) != l)
		return;
	count(OP_FAULT);
}

void disarm_fault(struct thread_state *t)
{
	if (t->nth_fd >= 0 && pwrite(t->nth_fd, "0", 1, 0) != 1)
		t->nth_fd = -1;
}
