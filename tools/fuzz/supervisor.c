// SPDX-License-Identifier: GPL-2.0
/* fuzz: the supervisor's checks (module counters, stray images) and the regressions. */
#include "fuzz.h"

/* ------------------------------------------------------------------------
 * The supervisor
 */

static long sysfs_read(const char *attr)
{
	char path[128], buf[64] = "";
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", SYSFS_DIR, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1000000;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1000000;
}

static const char *const counters[] = {
	"pinned_pages", "charged_pages", "inflight", "notifs", "contexts",
};

/* The state and wait channel of @pid, for a report; "?" if gone. */
static void proc_state(pid_t pid, char *buf, size_t size)
{
	char path[64], stat[512], wchan[64] = "?";
	char *p, state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(stat, sizeof(stat), f)) {
			p = strrchr(stat, ')');
			if (p && p[1] == ' ')
				state = p[2];
		}
		fclose(f);
	}
	thread_wchan(pid, pid, wchan, sizeof(wchan));
	snprintf(buf, size, "state %c wchan %s", state, wchan);
}

/*
 * The program /proc/@pid/exe names (@pid 0: our own) into @buf,
 * NUL-terminated; false when there is none (a kernel thread, a process
 * gone, or one we may not look at).
 */
static bool exe_of(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t len;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/exe");
	len = readlink(path, buf, size - 1);
	if (len <= 0)
		return false;
	buf[len] = 0;
	return true;
}

/*
 * Processes running this program other than us: report each (@report)
 * with its state and wait channel, and SIGKILL it. Return: how many.
 */
static int kill_strays(bool report)
{
	char self[PATH_MAX], exe[PATH_MAX], st[128];
	struct dirent *e;
	int n = 0;
	DIR *d;

	if (!exe_of(0, self, sizeof(self)))
		return 0;
	d = opendir("/proc");
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid <= 1 || pid == getpid())
			continue;
		if (!exe_of(pid, exe, sizeof(exe)) || strcmp(exe, self))
			continue;
		if (report) {
			proc_state(pid, st, sizeof(st));
			printf("# fuzz: stray process %d (%s) outlived its "
			       "worker: killed\n", (int)pid, st);
		}
		kill(pid, SIGKILL);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * Processes running this program that outlived the workers (an exec'd
 * image's own children, holders that pause(), or one stuck in the kernel)
 * hold files, hence contexts, rings and commands: the counters cannot
 * return to zero while they live. Report each with its state and wait
 * channel (a task asleep in the module would be a finding), SIGKILL it,
 * and give them 10 s to go.
 */
void reap_strays(void)
{
	int n = kill_strays(true), tries;

	for (tries = 0; n && tries < 100 && kill_strays(false); tries++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(100000);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (n)
		printf("# fuzz: %d stray processes killed before the counters "
		       "check%s\n", n, kill_strays(false) ?
		       "; some survive SIGKILL" : "");
}

bool counters_zero(char *desc, size_t size)
{
	size_t len = 0;
	bool zero = true;
	unsigned int i;

	desc[0] = 0;
	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		long v = sysfs_read(counters[i]);

		zero &= v == 0;
		len += snprintf(desc + len, len < size ? size - len : 0, "%s%s %ld",
				i ? ", " : "", counters[i], v);
	}
	return zero;
}

unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

void usage(void)
{
	fprintf(stderr, "usage: fuzz [--seconds N] [--seed N] [--workers N] [--threads N]\n"
		"            [--no-regressions]\n"
		"  (env: FUZZ_SECONDS, FUZZ_SEED, FUZZ_WORKERS, FUZZ_THREADS)\n");
	exit(2);
}

/* ------------------------------------------------------------------------
 * Regressions: what random runs found, replayed deterministically first.
 */

/* One uring_cmd on a fresh CQE32 ring; its cqe->res, or -ETIME. */
static int regress_cmd(int dev, __u32 cmd_op, const void *payload)
{
	struct __kernel_timespec ts = { .tv_sec = 10 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int ret;

	ret = io_uring_queue_init(4, &ring, IORING_SETUP_CQE32);
	if (ret)
		return ret;
	sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		io_uring_queue_exit(&ring);
		return -EBUSY;
	}
	prep_cmd(sqe, dev, cmd_op, payload);
	sqe->flags = 0;
	sqe->rw_flags = 0;
	ret = io_uring_submit(&ring);
	if (ret == 1)
		ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
	else
		ret = ret < 0 ? ret : -EIO;
	if (!ret) {
		ret = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	return ret;
}

/*
 * fd INT_MIN in RECV, READ and SEND: the module's pbuf_op_alloc() took it
 * for its internal "no file" value (PBUF_OP_NO_FILE), left op->file NULL
 * and dereferenced it (KASAN null-ptr-deref in sock_from_file() from
 * pbuf_cmd_recv(); found by this fuzzer, seed 6712941574044150210; fixed
 * by "module: a negative fd in RECV, READ or SEND is -EBADF"). Every fd
 * that is not open must fail with -EBADF.
 */
bool regress_bad_fds(void)
{
	static const int fds[] = { INT_MIN, INT_MIN + 1, -1, INT_MAX };
	static const __u32 cmds[] = { IOPBUF_CMD_SEND, IOPBUF_CMD_RECV, IOPBUF_CMD_READ };
	struct iopbuf_ring_reg reg = {
		.ring_entries = 8, .bgid = 0, .flags = IOPBUF_RING_MMAP,
	};
	bool ok = true;
	unsigned int i, j;
	int dev;

	dev = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (dev < 0 || ioctl(dev, IOPBUF_IOC_REGISTER_RING, &reg)) {
		printf("FAIL: regress_bad_fds: setup: %s\n", strerror(errno));
		if (dev >= 0)
			close(dev);
		return false;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		for (j = 0; j < ARRAY_SIZE(fds); j++) {
			union {
				struct iopbuf_cmd_recv r;
				struct iopbuf_cmd_send s;
			} u;
			int res;

			memset(&u, 0, sizeof(u));
			if (cmds[i] == IOPBUF_CMD_SEND)
				u.s.fd = fds[j];
			else
				u.r.fd = fds[j];
			printf("# regress_bad_fds: cmd %#x fd %d\n", cmds[i], fds[j]);
			res = regress_cmd(dev, cmds[i], &u);
			if (res != -EBADF) {
				printf("FAIL: regress_bad_fds: cmd %#x with fd %d: res %d, want %d (-EBADF)\n",
				       cmds[i], fds[j], res, -EBADF);
				ok = false;
			}
		}
	}
	close(dev);
	if (ok)
		printf("PASS: regress_bad_fds\n");
	return ok;
}

/* Wait for one CQE on @ring; if none comes in 5 s, cancel @dev's commands. */
static int regress_wait(struct io_uring *ring, int dev)
{
	struct __kernel_timespec ts = { .tv_sec = 5 };
	struct io_uring_cqe *cqe;
	int ret, tries;

	for (tries = 0; tries < 2; tries++) {
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (!ret) {
			ret = cqe->res;
			io_uring_cqe_seen(ring, cqe);
			return ret;
		}
		ioctl(dev, IOPBUF_IOC_CANCEL, 0);
	}
	return -ETIME;
}

/*
 * Ring entries (user addresses) longer than the kernel ever passes to a
 * socket: one of 0xffffffff bytes, or a bundle of two of 0x7fffffff, sent
 * on a unix stream socket. The module handed sock_sendmsg() an iterator of
 * more than MAX_RW_COUNT (INT_MAX & PAGE_MASK) bytes -- the syscalls and
 * io_uring's own buffer selection clamp to it (import_ubuf) --,
 * unix_stream_sendmsg() truncated the length to int (-1), and
 * skb_put(skb, -1) hit "kernel BUG at net/core/skbuff.c:209"
 * (skb_over_panic; found by this fuzzer, seed 15835342684176755463). Any
 * completion is fine here (bytes sent, -EFAULT, -ECANCELED): the kernel
 * must survive.
 */
bool regress_huge_len(void)
{
	static const struct {
		__u32 len[2];
		__u16 flags;
	} cases[] = {
		{ { 0xffffffff, 0 }, 0 },
		{ { 0x7fffffff, 0x7fffffff }, IOPBUF_SEND_BUNDLE },
		{ { 0x80000000, 0 }, 0 },
	};
	struct iopbuf_ring_reg reg = { .ring_entries = 8, .bgid = 0 };
	struct iopbuf_cmd_send cmd = { .bgid = 0 };
	struct io_uring_sqe *sqe;
	struct iopbuf_buf *bufs;
	struct io_uring ring;
	char *mem;
	bool ok = true;
	unsigned int i, j;
	int dev, sv[2], res;

	mem = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED)
		return false;
	memset(mem + PAGE, 'h', 2 * PAGE);
	bufs = (struct iopbuf_buf *)mem;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		dev = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		reg.ring_addr = (uintptr_t)mem;
		memset(bufs, 0, PAGE);
		if (dev < 0 || ioctl(dev, IOPBUF_IOC_REGISTER_RING, &reg) ||
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
		    io_uring_queue_init(4, &ring, IORING_SETUP_CQE32)) {
			printf("FAIL: regress_huge_len: setup: %s\n", strerror(errno));
			munmap(mem, 3 * PAGE);
			return false;
		}
		for (j = 0; j < 2 && cases[i].len[j]; j++) {
			bufs[j].addr = (uintptr_t)mem + PAGE;
			bufs[j].len = cases[i].len[j];
			bufs[j].bid = (__u16)j;
		}
		__atomic_store_n(&bufs[0].resv, (__u16)j, __ATOMIC_RELEASE);
		cmd.fd = sv[0];
		cmd.flags = cases[i].flags;
		printf("# regress_huge_len: SEND of %u entries of %#x bytes on a unix socket\n",
		       j, cases[i].len[0]);
		sqe = io_uring_get_sqe(&ring);
		res = -EIO;
		if (sqe) {
			prep_cmd(sqe, dev, IOPBUF_CMD_SEND, &cmd);
			sqe->flags = 0;
			sqe->rw_flags = 0;
			if (io_uring_submit(&ring) == 1)
				res = regress_wait(&ring, dev);
		}
		if (res == -ETIME || res == -EIO) {
			printf("FAIL: regress_huge_len: case %u: no completion (%d)\n", i, res);
			ok = false;
		}
		io_uring_queue_exit(&ring);
		close(sv[0]);
		close(sv[1]);
		close(dev);
	}
	munmap(mem, 3 * PAGE);
	if (ok)
		printf("PASS: regress_huge_len\n");
	return ok;
}

long saved_hugepages = -1;

void hugepages(long want)
{
	char b[32];
	int fd = open("/proc/sys/vm/nr_hugepages", O_RDWR | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	if (want < 0) {
		n = read(fd, b, sizeof(b) - 1);
		if (n > 0) {
			b[n] = 0;
			saved_hugepages = strtol(b, NULL, 10);
		}
		if (saved_hugepages >= 0 && saved_hugepages < 16 &&
		    write(fd, "16", 2) < 0)
			saved_hugepages = -1;
	} else {
		n = snprintf(b, sizeof(b), "%ld", want);
		if (write(fd, b, n) < 0)
			perror("nr_hugepages");
	}
	close(fd);
}

/* The run's statistics, as '#' lines; the operations that entered the module. */
unsigned long long report_stats(double elapsed, unsigned long started,
				unsigned long killed)
{
	unsigned long long total = 0;
	unsigned long i;

	/* operations that enter the module (not ring writes, reaping, peers) */
	for (i = 0; i < NR_OPS; i++)
		if (!is_meta((unsigned int)i))
			total += atomic_load(&sh->ops[i]);
	printf("# fuzz: operations by kind:");
	for (i = 0; i < NR_OPS; i++)
		printf(" %s=%llu", op_names[i], (unsigned long long)atomic_load(&sh->ops[i]));
	printf("\n# fuzz: %llu completions (%llu errors, %llu consumed buffers, %llu bytes moved); errors:",
	       (unsigned long long)atomic_load(&sh->completions),
	       (unsigned long long)atomic_load(&sh->cqe_errors),
	       (unsigned long long)atomic_load(&sh->cqe_buffers),
	       (unsigned long long)atomic_load(&sh->bytes));
	for (i = 1; i < ARRAY_SIZE(sh->cqe_errno); i++)
		if (atomic_load(&sh->cqe_errno[i]))
			printf(" %s=%llu", strerrorname_np((int)i) ?: "?",
			       (unsigned long long)atomic_load(&sh->cqe_errno[i]));
	printf("\n# fuzz: %llu operations on the module in %.1f s: %.0f ops/s "
	       "(plus %llu ring entry updates, %llu scribbles, %llu peer socket "
	       "operations); %lu workers, %lu killed mid-run\n",
	       total, elapsed, total / elapsed,
	       (unsigned long long)atomic_load(&sh->ops[OP_PROVIDE]),
	       (unsigned long long)atomic_load(&sh->ops[OP_SCRIBBLE]),
	       (unsigned long long)atomic_load(&sh->ops[OP_PEER_IO]),
	       started, killed);

	printf("# fuzz: exec: %llu children exec'd with commands in flight, %llu workers exec'd "
	       "themselves, %llu images re-entered the worker loop; %llu workers ran as uid 65534\n",
	       (unsigned long long)atomic_load(&sh->ops[OP_EXEC]),
	       (unsigned long long)atomic_load(&sh->ops[OP_WORKER_EXEC]),
	       (unsigned long long)atomic_load(&sh->ops[OP_EXEC_WORKER]),
	       (unsigned long long)atomic_load(&sh->ops[OP_UNPRIV]));
	printf("# fuzz: userfaultfd: %llu faults (%llu resolved late, %llu only at their "
	       "epoch's end) in %llu epochs; %u workers user-mode only, %u without userfaultfd\n",
	       (unsigned long long)atomic_load(&sh->ops[OP_UFFD_FAULT]),
	       (unsigned long long)atomic_load(&sh->ops[OP_UFFD_LATE]),
	       (unsigned long long)atomic_load(&sh->ops[OP_UFFD_NEVER]),
	       (unsigned long long)atomic_load(&sh->ops[OP_UFFD_EPOCH]),
	       atomic_load(&sh->uffd_user_only), atomic_load(&sh->uffd_unavail));
	printf("# fuzz: long buffers: up to %u pages in %u mappings, %u of %llu registrations "
	       "made, %llu lending chains on them; pty failures %u\n",
	       atomic_load(&sh->long_pages_max), atomic_load(&sh->long_maps_max),
	       atomic_load(&sh->long_registered),
	       (unsigned long long)atomic_load(&sh->ops[OP_LONG_SETUP]),
	       (unsigned long long)atomic_load(&sh->ops[OP_LONG_LEND]),
	       atomic_load(&sh->pty_unavail));
	printf("# fuzz: long registrations: slowest %u ms; failed: ENOMEM %u, E2BIG %u, "
	       "EFAULT %u, EINTR %u, ENXIO/EINVAL %u, other %u\n",
	       atomic_load(&sh->long_reg_ms_max), atomic_load(&sh->long_reg_errno[0]),
	       atomic_load(&sh->long_reg_errno[1]), atomic_load(&sh->long_reg_errno[2]),
	       atomic_load(&sh->long_reg_errno[3]), atomic_load(&sh->long_reg_errno[4]),
	       atomic_load(&sh->long_reg_errno[5]));
	return total;
}
