// SPDX-License-Identifier: GPL-2.0
/*
 * hostile: what an unprivileged user with /dev/iouring-pbuf (mode 0666)
 * must not be able to do to the kernel (issue #13).
 *
 * Every case runs in a forked child that drops to uid/gid 65534 after the
 * parent-side runner set its RLIMIT_MEMLOCK (so CAP_IPC_LOCK is gone and
 * the limit is the only thing between the user and pinned memory). The
 * runner, still root, then checks:
 *  - the child ends within a hang guard (HANG_GUARD_S, generous: guests
 *    run under TCG and sometimes a KASAN kernel; the guard tells "hung"
 *    from "slow", it measures nothing). A child still there after it is
 *    reported with its kernel stack, killed, and if SIGKILL is not enough
 *    (6.1 spinning in io_uring's exec-time cancel loop), its commands are
 *    cancelled through its own device file (pidfd_getfd + IOPBUF_IOC_CANCEL)
 *    so that the guest can go on; a child that survives even that is
 *    reported and left behind;
 *  - the module-wide counters in /sys/class/misc/iouring-pbuf/
 *    (pinned_pages, charged_pages, contexts, inflight, notifs) return to
 *    their values from before the case.
 * The guest fails the run on any kernel WARNING/BUG (and panic_on_warn
 * ends it on the spot), so "no warning" needs no assertion here.
 *
 * The cases, in order (the ones that can take the guest down come last):
 *  5. sparse_table_free, vmpin_accounted: an empty slot of the
 *     registered-buffer table costs no memory (filled ones cost and charge
 *     their pages), and pinned pages show in the mm's pinned_vm (VmPin)
 *     like io_uring's.
 *  3. mmap_ring_stays_charged: an IOPBUF_RING_MMAP ring's memory stays
 *     charged while it is mapped, after UNREGISTER_RING and close().
 *  4. lend_write_{fifo,fifo_rdwr,pty,pty_nonblock,pipe},
 *     lend_write_fifo_sqpoll: a LEND whose WRITE cannot finish at once
 *     (256 KiB into a FIFO, pty or pipe nobody reads) neither blocks
 *     io_uring_submit() nor the SQPOLL thread; a NOP after it completes
 *     first; draining lets it finish with every byte intact. A tty not
 *     opened O_NONBLOCK refuses at once with -EOPNOTSUPP, as
 *     iouring_pbuf(7) says; opened O_NONBLOCK it may not.
 *     (A submit still running after SUBMIT_GUARD_S has blocked: a rescuer
 *     thread then drains the sink so that the case ends anyway.)
 *     kill_lend_fifo_waiting: SIGKILL with such a LEND waiting.
 *  1. exec_recv_waiting (+ _sigkill, exec_recv_waiting_forked): execve()
 *     with a RECV waiting on an empty socket finishes promptly.
 *  7. cancel_storm: IOPBUF_IOC_CANCEL in a loop from another thread
 *     while RECVs park, wake and complete: every command completes exactly
 *     once, with data or -ECANCELED, and no byte is lost or doubled.
 *  8. bundle_arrays_charged (as root, in a memory cgroup it makes): what
 *     200 parked bundle RECVs hold is charged to that cgroup.
 *  9. fdinfo_during_stalled_setup (as root: userfaultfd stands in for a
 *     stalled FUSE mount): a registration waiting for a fault in user
 *     memory holds setup_lock; reading the context's fdinfo (lsof,
 *     monitoring) does not wait for it.
 *  2. bundle_many_segments, lend_huge_segments: a registered buffer of
 *     over 262,000 segments (one 64 KiB memfd mapped 16,400 times):
 *     bundles over it end cleanly, a LEND of all of it (1 GiB) succeeds.
 * (The numbers are those of docs/security.md's findings.)
 */
#include <dirent.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <termios.h>
#include <linux/userfaultfd.h>
#include <sys/eventfd.h>
#include <sys/time.h>

#include <sys/utsname.h>

#include "util.h"

#define NOBODY		65534
/* A child still running after this long is hung, not slow. */
#define HANG_GUARD_S	20
/*
 * The item-2 cases pin and unpin 262,400 pages and map and unmap 16,400
 * VMAs: more room. On the debug kernel (KASAN and kmemleak under TCG)
 * tearing down that many VMAs alone takes minutes: see huge_scale().
 */
static int huge_guard_s = 90;
#define HUGE_GUARD_S	huge_guard_s
/* An io_uring_submit() that has not returned after this long blocked. */
#define SUBMIT_GUARD_S	5
/* A NOP that has not completed after this long is stuck behind something. */
#define NOP_GUARD_MS	5000
/* How long a completion that must come may take. */
#define CQE_GUARD_MS	10000
/* How long the counters may take to settle after a case (ring teardown). */
#define SETTLE_MS	10000

#define BGID		7
#define UD_LEND		0x1e4d
#define UD_NOP		0x90b
#define UD_RECV		0x5ec

#define EXIT0_ARG	"--hostile-exit0"

/* ------------------------------------------------------------------------
 * Module-wide counters, notifs included
 */

static const char *const cnt_names[] = {
	"pinned_pages", "charged_pages", "contexts", "inflight", "notifs",
};

#define NR_CNT	H_ARRAY_SIZE(cnt_names)

struct cnt {
	long v[NR_CNT];
};

static void cnt_read(struct cnt *c)
{
	unsigned int i;

	for (i = 0; i < NR_CNT; i++)
		c->v[i] = h_sysfs_read(cnt_names[i]);
}

static bool cnt_equal(const struct cnt *a, const struct cnt *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static long charged_now(void)
{
	return h_sysfs_read("charged_pages");
}

/* Wait up to @ms for the counters to read @want again; fail otherwise. */
static bool expect_cnt_back(const struct cnt *want, int ms, const char *when)
{
	struct cnt now;
	char msg[400];
	size_t len = 0;
	unsigned int i;

	for (;;) {
		cnt_read(&now);
		if (cnt_equal(&now, want) || ms <= 0)
			break;
		usleep(20000);
		ms -= 20;
	}
	if (cnt_equal(&now, want))
		return true;
	for (i = 0; i < NR_CNT; i++)
		if (now.v[i] != want->v[i])
			len += (size_t)snprintf(msg + len, sizeof(msg) - len,
						" %s %ld (was %ld)",
						cnt_names[i], now.v[i],
						want->v[i]);
	FAILF("counters not back to their values before the case %s:%s",
	      when, msg);
	return false;
}

/* /proc/self/status VmPin in kB, or -1. */
static long vmpin_kb(void)
{
	return t_proc_field("/proc/self/status", "VmPin");
}

/* ------------------------------------------------------------------------
 * The runner: a child as uid 65534 under a hang guard
 */

struct hcase {
	void (*child)(void *arg);
	void *arg;
	unsigned long memlock;		/* soft RLIMIT_MEMLOCK */
	unsigned long memlock_max;	/* hard limit; 0: the same */
	int guard_s;			/* 0: HANG_GUARD_S */
	bool root;			/* keep root: a tool only root has */
	/* >= 0: SIGKILL the child this long after it called h_ready() */
	int kill_after_ready_ms;
	const char *what;		/* what the child is doing, for messages */
};

/* The child's end of the runner's ready pipe. */
static int ready_wfd = -1;

/* Tell the runner the child reached the point where it may be killed. */
static void h_ready(void)
{
	char c = 'r';

	if (ready_wfd >= 0 && write(ready_wfd, &c, 1) != 1)
		FAILF("ready pipe: %s", strerror(errno));
}

static void __attribute__((noreturn)) child_main(const struct hcase *hc)
{
	struct rlimit rl = {
		.rlim_cur = hc->memlock,
		.rlim_max = hc->memlock_max ?: hc->memlock,
	};

	setpgid(0, 0);
	if (hc->root) {
		hc->child(hc->arg);
		goto out;
	}
	if (!EXPECT(setrlimit(RLIMIT_MEMLOCK, &rl) == 0) ||
	    !EXPECT(setgroups(0, NULL) == 0) ||
	    !EXPECT(setresgid(NOBODY, NOBODY, NOBODY) == 0) ||
	    !EXPECT(setresuid(NOBODY, NOBODY, NOBODY) == 0) ||
	    !EXPECT(!h_has_cap(CAP_IPC_LOCK)))
		goto out;
	hc->child(hc->arg);
out:
	fflush(stdout);
	_exit(0);
}

static void note_file(const char *prefix, const char *path)
{
	char line[256];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && n++ < 40) {
		line[strcspn(line, "\n")] = 0;
		h_note("%s%s", prefix, line);
	}
	fclose(f);
}

/*
 * The first line of /proc/@pid/task/@tid/@file, without its newline, into
 * @buf ("?" if empty); @buf keeps what it held if the file cannot be opened.
 */
static void task_line(pid_t pid, int tid, const char *file, char *buf,
		      int size)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", pid, tid, file);
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(buf, size, f))
		strcpy(buf, "?");
	buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/* Where each thread of @pid is in the kernel (root may read the stacks). */
static void note_stacks(pid_t pid)
{
	char path[128], comm[64] = "?", wchan[128] = "?";
	int tids[16], n = 0, i;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	{
		DIR *d = opendir(path);
		struct dirent *de;

		while (d && (de = readdir(d)) && n < 16)
			if (de->d_name[0] != '.')
				tids[n++] = atoi(de->d_name);
		if (d)
			closedir(d);
	}
	for (i = 0; i < n; i++) {
		task_line(pid, tids[i], "comm", comm, sizeof(comm));
		task_line(pid, tids[i], "wchan", wchan, sizeof(wchan));
		h_note("hung child %d thread %d (%s), wchan %s:", pid,
		       tids[i], comm, wchan);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", pid,
			 tids[i]);
		note_file("  ", path);
	}
}

/*
 * Last resort for a child that SIGKILL does not end: cancel the commands
 * of every iouring-pbuf context it holds, through its own open files.
 * Return: how many commands were cancelled, or -1.
 */
static int cancel_through_child_fds(pid_t pid)
{
	char path[64], link[128];
	struct dirent *de;
	int pidfd, total = -1;
	DIR *d;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		h_note("pidfd_open(%d): %s", pid, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char fdpath[400];
		int fd, r;

		if (de->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		if (t_readlink(fdpath, link, sizeof(link)) <= 0 ||
		    strcmp(link, IOPBUF_DEVICE_PATH))
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0);
		if (fd < 0) {
			h_note("pidfd_getfd(%d, %s): %s", pid, de->d_name,
			       strerror(errno));
			continue;
		}
		r = ioctl(fd, IOPBUF_IOC_CANCEL);
		h_note("IOPBUF_IOC_CANCEL through the hung child's fd %s: %s",
		       de->d_name, r < 0 ? strerror(errno) : "ok");
		if (r >= 0)
			total = (total < 0 ? 0 : total) + r;
		close(fd);
	}
	if (d)
		closedir(d);
	close(pidfd);
	return total;
}

static void run_case(const struct hcase *hc)
{
	int guard = hc->guard_s ?: HANG_GUARD_S;
	bool killed = false, done;
	int pfd[2], status = 0;
	struct cnt before;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC)) {
		FAILF("pipe: %s", strerror(errno));
		return;
	}
	cnt_read(&before);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		FAILF("fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		close(pfd[0]);
		ready_wfd = pfd[1];
		child_main(hc);
	}
	setpgid(pid, pid);
	close(pfd[1]);

	if (hc->kill_after_ready_ms >= 0) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		char c;

		if (poll(&p, 1, guard * 1000) == 1 && read(pfd[0], &c, 1) == 1) {
			usleep((useconds_t)hc->kill_after_ready_ms * 1000);
			kill(pid, SIGKILL);
			killed = true;
		} else {
			h_note("the child never said it was ready");
		}
	}
	close(pfd[0]);

	done = t_waitpid_ms(pid, &status, guard * 1000);
	if (!done) {
		FAILF("the child (%s) was still there %d s later: hung%s",
		      hc->what, guard, killed ? " although SIGKILLed" : "");
		note_stacks(pid);
		/*
		 * Cancel its commands first: on 6.1 a task SIGKILLed while
		 * exec() waits for a command spins in io_uring's cancel loop
		 * (and took the guest down with it).
		 */
		if (cancel_through_child_fds(pid) > 0)
			done = t_waitpid(pid, &status);
	}
	if (!done) {
		kill(-pid, SIGKILL);
		killed = true;
		done = t_waitpid(pid, &status);
		if (!done) {
			FAILF("child %d survives SIGKILL (unkillable); left "
			      "behind", pid);
			note_stacks(pid);
			return;
		}
	}
	if (WIFSIGNALED(status) && !(killed && WTERMSIG(status) == SIGKILL))
		FAILF("child killed by signal %d", WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		FAILF("child exited with %d", WEXITSTATUS(status));
	/* what the case left behind (a forked grandchild) */
	kill(-pid, SIGKILL);
	expect_cnt_back(&before, SETTLE_MS, "once its process ended");
}

/* ------------------------------------------------------------------------
 * Small helpers
 */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool lend_queue(struct io_uring *ring, int dev,
		       const struct iopbuf_lend *l)
{
	struct iopbuf_cmd_lend cmd = {
		.addr = (uintptr_t)l, .len = sizeof(*l),
	};

	if (!h_prep_cmd(ring, dev, IOPBUF_CMD_LEND, &cmd, sizeof(cmd),
			UD_LEND)) {
		FAILF("no free SQE");
		return false;
	}
	return true;
}

/* Cancel and reap what a failed case left in flight. */
static void drain_inflight(struct io_uring *ring, int dev)
{
	struct __kernel_timespec ts = { .tv_nsec = 10000000 };
	struct io_uring_cqe *cqe;
	int ms;

	if (dev < 0 || t_ctx_inflight(dev) <= 0)
		return;
	ioctl(dev, IOPBUF_IOC_CANCEL);
	for (ms = 0; ms < T_WAIT_MS && t_ctx_inflight(dev) > 0; ms += 10)
		if (!io_uring_wait_cqe_timeout(ring, &cqe, &ts))
			io_uring_cqe_seen(ring, cqe);
}

/* ------------------------------------------------------------------------
 * 5. Uncharged memory: the slot table, and pinned_vm
 */

#define SLOTS_MAX	(1U << 20)
#define TABLE_PAGES	((SLOTS_MAX * 8UL + H_PAGE - 1) / H_PAGE)
/* contexts with an empty 2^20-slot table each */
#define TABLES		4

/* /proc/meminfo MemFree in kB, or -1. */
static long memfree_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void sparse_table_child(void *arg)
{
	char *mem = h_map(3 * H_PAGE);
	static const unsigned int slots[] = { 0, SLOTS_MAX / 2, SLOTS_MAX - 1 };
	int dev[TABLES], i;
	long c0, free0, cost;

	(void)arg;
	for (i = 0; i < TABLES; i++)
		dev[i] = -1;
	c0 = charged_now();
	free0 = memfree_kb();
	if (!mem || !EXPECT(free0 > 0))
		goto out;
	for (i = 0; i < TABLES; i++) {
		dev[i] = h_open();
		if (dev[i] < 0 || !EXPECT_OK(h_register_sparse(dev[i], SLOTS_MAX)))
			goto out;
		EXPECT_STATS(dev[i], SLOTS_MAX, 0, 0, 0, 0);
	}
	cost = free0 - memfree_kb();
	h_note("%d empty %u-slot tables under a 64 KiB RLIMIT_MEMLOCK: "
	       "MemFree %+ld kB, charged_pages %+ld", TABLES, SLOTS_MAX,
	       -cost, charged_now() - c0);
	/* flat, they were 8 MiB each, charged to nobody */
	h_expect(cost < TABLES * 2048L, __FILE__, __LINE__,
		 "%d empty %u-slot tables took %ld kB of kernel memory (%lu kB "
		 "each if flat): an empty slot must cost nothing", TABLES,
		 SLOTS_MAX, cost, TABLE_PAGES * 4);
	EXPECT_EQ(charged_now(), c0);

	/* scattered slots cost their pages, charged exactly */
	for (i = 0; i < (int)H_ARRAY_SIZE(slots); i++) {
		struct iovec iov = { mem + i * H_PAGE, H_PAGE };

		EXPECT_OK(h_update_iov(dev[0], slots[i], &iov, 1));
	}
	EXPECT_STATS(dev[0], SLOTS_MAX, 3, 0, 3, 3);
	EXPECT_EQ(charged_now() - c0, 3);
	EXPECT_OK(h_unregister_bufs(dev[0]));
	EXPECT_EQ(charged_now(), c0);
out:
	for (i = 0; i < TABLES; i++)
		h_close(&dev[i]);
	EXPECT_EQ(charged_now(), c0);
	h_unmap(mem, 3 * H_PAGE);
}

/*
 * Uncharged kernel memory: as uid 65534 with RLIMIT_MEMLOCK 64 KiB,
 * IOPBUF_IOC_REGISTER_BUFFERS sparse with 2^20 slots on 4 contexts. A
 * flat table was 8 MiB each, charged to nobody; the table is an xarray,
 * so the 4 must take under 8 MiB of MemFree in all, charge nothing, and
 * three slots filled far apart charge exactly their three pages.
 */
static void sparse_table_free(void)
{
	struct hcase hc = {
		.child = sparse_table_child, .memlock = 64 << 10,
		.kill_after_ready_ms = -1,
		.what = "registering 2^20-slot tables",
	};

	run_case(&hc);
}

#define PIN_PAGES	64

static void vmpin_child(void *arg)
{
	char *mem = h_map(PIN_PAGES * H_PAGE);
	struct iovec iov = { mem, PIN_PAGES * H_PAGE };
	long kb0, kb;
	int dev = -1;

	(void)arg;
	kb0 = vmpin_kb();
	if (!mem || !EXPECT(kb0 >= 0))
		goto out;
	dev = h_open();
	if (dev < 0)
		goto out;
	if (EXPECT_OK(h_register_iov(dev, &iov, 1))) {
		kb = vmpin_kb();
		h_expect(kb - kb0 >= (long)(PIN_PAGES * H_PAGE / 1024),
			 __FILE__, __LINE__,
			 "VmPin %ld kB -> %ld kB after pinning %d pages: "
			 "the pages are not in pinned_vm", kb0, kb, PIN_PAGES);
		EXPECT_OK(h_unregister_bufs(dev));
		EXPECT_EQ(vmpin_kb(), kb0);
	}
	/* also given back when the last file reference goes */
	if (EXPECT_OK(h_register_iov(dev, &iov, 1))) {
		kb = vmpin_kb();
		EXPECT(kb - kb0 >= (long)(PIN_PAGES * H_PAGE / 1024));
		h_close(&dev);
		EXPECT_EQ(vmpin_kb(), kb0);
	}
out:
	h_close(&dev);
	h_unmap(mem, PIN_PAGES * H_PAGE);
}

/*
 * Pinned buffer pages count in the mm's pinned_vm (/proc/self/status
 * VmPin) as io_uring's do: +N pages on register, back on unregister and
 * on close.
 */
static void vmpin_accounted(void)
{
	struct hcase hc = {
		.child = vmpin_child, .memlock = 1 << 20,
		.kill_after_ready_ms = -1, .what = "registering a buffer",
	};

	run_case(&hc);
}

/* ------------------------------------------------------------------------
 * 3. RLIMIT_MEMLOCK bypass through mapped IOPBUF_RING_MMAP rings
 */

#define MRING_ENTRIES	IOPBUF_MAX_RING_ENTRIES
#define MRING_BYTES	(MRING_ENTRIES * sizeof(struct iopbuf_buf))
#define MRING_PAGES	(MRING_BYTES / H_PAGE)

static void *map_ring(int dev, unsigned int bgid)
{
	void *p = mmap(NULL, MRING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
		       dev, (off_t)IOPBUF_OFF_RING(bgid));

	if (p == MAP_FAILED) {
		FAILF("mmap ring %u: %s", bgid, strerror(errno));
		return NULL;
	}
	/* the application writes its ring: the mapping must be writable */
	*iopbuf_ring_tail(p) = 1;
	return p;
}

#define EXPECT_CHARGED(c0, pages, why)					\
	h_expect(charged_now() - (c0) == (long)(pages), __FILE__,	\
		 __LINE__, "charged_pages is baseline %+ld, want %+ld: %s", \
		 charged_now() - (c0), (long)(pages), why)

static void mmap_ring_child(void *arg)
{
	void *map[2] = { NULL, NULL };
	unsigned int r;
	long c0, err;
	int dev;

	(void)arg;
	c0 = charged_now();
	dev = h_open();
	if (dev < 0)
		return;
	/* RLIMIT_MEMLOCK 1 MiB = 256 pages = two 512 KiB rings */
	for (r = 0; r < 2; r++) {
		if (!EXPECT_OK(h_register_ring(dev, NULL, MRING_ENTRIES, r,
					       IOPBUF_RING_MMAP, 0)))
			goto out;
		map[r] = map_ring(dev, r);
		if (!map[r])
			goto out;
		EXPECT_OK(h_unregister_ring(dev, r));
		EXPECT_CHARGED(c0, (r + 1) * MRING_PAGES,
			       "an unregistered ring's memory that is still "
			       "mapped must stay charged");
	}
	/* the third ring would make 384 pages: over the limit */
	err = h_register_ring(dev, NULL, MRING_ENTRIES, 2, IOPBUF_RING_MMAP, 0);
	if (!h_expect(err == -ENOMEM, __FILE__, __LINE__,
		      "third 512 KiB ring with two still mapped under a 1 MiB "
		      "RLIMIT_MEMLOCK: got %s, want -ENOMEM (memlock bypass)",
		      h_res(err)) && !err)
		h_unregister_ring(dev, 2);

	/* unmapping one ring returns its charge: now one fits again */
	munmap(map[0], MRING_BYTES);
	map[0] = NULL;
	EXPECT_CHARGED(c0, MRING_PAGES, "after munmap of one of two");
	if (EXPECT_OK(h_register_ring(dev, NULL, MRING_ENTRIES, 3,
				      IOPBUF_RING_MMAP, 0))) {
		EXPECT_CHARGED(c0, 2 * MRING_PAGES, "one mapped, one registered");
		EXPECT_OK(h_unregister_ring(dev, 3));
	}
	EXPECT_CHARGED(c0, MRING_PAGES, "one mapped");
	/* the mapping outlives the file: still charged after close() */
	h_close(&dev);
	EXPECT_CHARGED(c0, MRING_PAGES, "a mapped ring after close()");
	munmap(map[1], MRING_BYTES);
	map[1] = NULL;
	EXPECT_CHARGED(c0, 0, "every ring unmapped");

	/* and registration works again */
	dev = h_open();
	if (dev >= 0 && EXPECT_OK(h_register_ring(dev, NULL, MRING_ENTRIES, 0,
						  IOPBUF_RING_MMAP, 0))) {
		EXPECT_CHARGED(c0, MRING_PAGES, "a fresh ring");
		EXPECT_OK(h_unregister_ring(dev, 0));
	}
out:
	h_close(&dev);
	for (r = 0; r < 2; r++)
		if (map[r])
			munmap(map[r], MRING_BYTES);
}

/*
 * With RLIMIT_MEMLOCK 1 MiB: register a 32768-entry (512 KiB) MMAP ring,
 * map it, unregister it, twice; the third register fails -ENOMEM because
 * mapped ring memory stays charged. charged_pages stays up until munmap
 * (also after close()); after munmap of all it is back to the baseline and
 * registration works again.
 */
static void mmap_ring_stays_charged(void)
{
	struct hcase hc = {
		.child = mmap_ring_child, .memlock = 1 << 20,
		.kill_after_ready_ms = -1, .what = "registering mapped rings",
	};

	run_case(&hc);
}

/* ------------------------------------------------------------------------
 * 4. Commands that would block a thread: LEND WRITE into a full FIFO, pty
 *    or pipe
 */

#define LEND_LEN	(256 * 1024)

enum sink { SINK_FIFO, SINK_PTY, SINK_PIPE, SINK_PTY_NB, SINK_FIFO_RDWR };

static const char *const sink_names[] = {
	"FIFO", "pty", "pipe", "pty opened O_NONBLOCK", "FIFO opened O_RDWR",
};

/* Also a row of lend_block_rows[]: the case's name first. */
struct lend_block {
	const char *name;
	enum sink sink;
	bool sqpoll;
	bool then_wait_kill;	/* kill_lend_fifo_waiting */
};

struct sink_fds {
	int wfd;		/* the LEND writes here (blocking) */
	int rfd;		/* the test drains here (O_NONBLOCK) */
	int extra;		/* FIFO: its O_RDWR reader */
	char dir[64];
};

static bool sink_open(enum sink kind, struct sink_fds *s)
{
	char path[128];
	int fds[2];

	s->wfd = s->rfd = s->extra = -1;
	s->dir[0] = 0;
	switch (kind) {
	case SINK_FIFO:
	case SINK_FIFO_RDWR:
		strcpy(s->dir, "/tmp/hostile-XXXXXX");
		if (!mkdtemp(s->dir)) {
			FAILF("mkdtemp: %s", strerror(errno));
			s->dir[0] = 0;
			return false;
		}
		snprintf(path, sizeof(path), "%s/fifo", s->dir);
		if (mkfifo(path, 0600)) {
			FAILF("mkfifo: %s", strerror(errno));
			return false;
		}
		/*
		 * A reader exists (this fd) but nobody reads. Written through
		 * an O_RDWR fd, the FIFO offers its read queue first and its
		 * write queue second: a writer must wait on both.
		 */
		s->extra = open(path, O_RDWR | O_CLOEXEC);
		if (kind == SINK_FIFO_RDWR) {
			s->wfd = s->extra;
			s->extra = -1;
		} else {
			s->wfd = open(path, O_WRONLY | O_CLOEXEC);
		}
		s->rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		break;
	case SINK_PTY:
	case SINK_PTY_NB: {
		struct termios tio;
		char *name;

		s->rfd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (s->rfd < 0) {
			h_skip("no pty: posix_openpt: %s (the guest needs "
			       "/dev/ptmx and devpts on /dev/pts)",
			       strerror(errno));
			return false;
		}
		if (grantpt(s->rfd) || unlockpt(s->rfd) ||
		    !(name = ptsname(s->rfd))) {
			h_skip("no pty: grantpt/unlockpt/ptsname: %s",
			       strerror(errno));
			return false;
		}
		s->wfd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (s->wfd < 0) {
			h_skip("no pty: open %s: %s", name, strerror(errno));
			return false;
		}
		/* raw: the bytes arrive as written, no echo, no \n -> \r\n */
		if (tcgetattr(s->wfd, &tio)) {
			FAILF("tcgetattr: %s", strerror(errno));
			return false;
		}
		cfmakeraw(&tio);
		if (tcsetattr(s->wfd, TCSANOW, &tio)) {
			FAILF("tcsetattr: %s", strerror(errno));
			return false;
		}
		fcntl(s->rfd, F_SETFL, O_NONBLOCK);
		if (kind == SINK_PTY_NB)
			fcntl(s->wfd, F_SETFL, O_NONBLOCK);
		break;
	}
	case SINK_PIPE:
		if (pipe2(fds, O_CLOEXEC)) {
			FAILF("pipe: %s", strerror(errno));
			return false;
		}
		s->rfd = fds[0];
		s->wfd = fds[1];
		/* the read end's file only: the write end stays blocking */
		fcntl(s->rfd, F_SETFL, O_NONBLOCK);
		if (kind == SINK_PTY_NB)
			fcntl(s->wfd, F_SETFL, O_NONBLOCK);
		break;
	}
	if (s->wfd < 0 || s->rfd < 0) {
		FAILF("%s: open: %s", sink_names[kind], strerror(errno));
		return false;
	}
	return true;
}

static void sink_close(struct sink_fds *s)
{
	char path[128];

	h_close(&s->wfd);
	h_close(&s->rfd);
	h_close(&s->extra);
	if (s->dir[0]) {
		snprintf(path, sizeof(path), "%s/fifo", s->dir);
		unlink(path);
		rmdir(s->dir);
	}
}

/*
 * A submit that blocks does not return until the sink is drained. The
 * rescuer waits SUBMIT_GUARD_S for the submit to return; if it has not,
 * the submit blocked (a failure) and the rescuer drains the sink so that
 * the case can go on and still check the command's result and bytes.
 */
struct rescue {
	int efd;		/* written once the submit returned */
	int rfd;		/* the sink's read end */
	unsigned char *out;
	size_t got;
	bool rescued;
};

static void *rescuer(void *arg)
{
	struct rescue *r = arg;
	struct pollfd pe = { .fd = r->efd, .events = POLLIN };
	double deadline;

	if (poll(&pe, 1, SUBMIT_GUARD_S * 1000) == 1)
		return NULL;
	r->rescued = true;
	deadline = now_s() + HANG_GUARD_S / 2;
	while (r->got < LEND_LEN && now_s() < deadline) {
		struct pollfd p[2] = {
			{ .fd = r->rfd, .events = POLLIN },
			{ .fd = r->efd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(p, 2, 50) <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			n = read(r->rfd, r->out + r->got, LEND_LEN - r->got);
			if (n > 0)
				r->got += (size_t)n;
		}
		if (p[1].revents & POLLIN)
			break;
	}
	return NULL;
}

/* Submit @want SQEs; fail if that took the rescuer draining the sink. */
static bool guarded_submit(struct io_uring *ring, int want, const char *what,
			   struct rescue *r, const char *sname)
{
	__u64 one = 1;
	pthread_t t;
	double t0, dt;
	int ret;

	r->rescued = false;
	r->efd = eventfd(0, EFD_CLOEXEC);
	if (r->efd < 0 || pthread_create(&t, NULL, rescuer, r)) {
		FAILF("rescuer: %s", strerror(errno));
		if (r->efd >= 0)
			close(r->efd);
		return false;
	}
	t0 = now_s();
	ret = io_uring_submit(ring);
	dt = now_s() - t0;
	if (write(r->efd, &one, sizeof(one)) != sizeof(one))
		FAILF("eventfd: %s", strerror(errno));
	pthread_join(t, NULL);
	close(r->efd);
	if (r->rescued)
		FAILF("io_uring_submit() of %s blocked: it returned (%s) only "
		      "%.1f s later, after the test began draining the %s at "
		      "%d s", what, h_res(ret), dt, sname, SUBMIT_GUARD_S);
	if (ring->flags & IORING_SETUP_SQPOLL ? ret < want : ret != want) {
		FAILF("io_uring_submit of %s: %s, want %d", what, h_res(ret),
		      want);
		return false;
	}
	return true;
}

/* A CQE within @ms, or false; the caller says what its absence means. */
static bool wait_cqe_quiet(struct io_uring *ring, struct t_cqe *c, int ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L,
	};
	struct io_uring_cqe *cqe;

	if (io_uring_wait_cqe_timeout(ring, &cqe, &ts))
		return false;
	t_cqe_copy(ring, cqe, c);
	io_uring_cqe_seen(ring, cqe);
	return true;
}

/* With SQPOLL: give the poller up to a second to take the SQE. */
static void sqpoll_settle(struct io_uring *ring)
{
	int ms;

	for (ms = 0; ms < 1000 && io_uring_sq_ready(ring); ms += 10)
		usleep(10000);
	usleep(T_QUIET_MS * 1000);
}

static void lend_block_child(void *arg)
{
	const struct lend_block *lb = arg;
	const char *sname = sink_names[lb->sink];
	struct t_cqe lend_cqe = { 0 }, c;
	bool got_lend = false, got_nop = false, have_uring = false;
	unsigned char *mem = NULL, *out = NULL;
	struct iopbuf_lend l;
	struct sink_fds s = { -1, -1, -1, "" };
	struct io_uring ring;
	__s64 results[IOPBUF_LEND_MAX_OPS] = { 0 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct rescue rs = { .efd = -1 };
	bool rescued = false, refused = false;
	struct iovec iov;
	size_t got = 0;
	double deadline;
	int dev;

	dev = h_open();
	if (dev < 0)
		return;
	mem = h_map(LEND_LEN);
	out = malloc(LEND_LEN + 4096);
	if (!mem || !out)
		goto out;
	t_pat_fill(mem, 0, LEND_LEN);
	iov = (struct iovec){ mem, LEND_LEN };
	if (!EXPECT_OK(h_register_iov(dev, &iov, 1)))
		goto out;
	if (!sink_open(lb->sink, &s))
		goto out;
	have_uring = t_uring_init(&ring, IORING_SETUP_CQE32 |
				  (lb->sqpoll ? IORING_SETUP_SQPOLL : 0));
	if (!have_uring)
		goto out;

	/* one WRITE of 256 KiB from a registered buffer: 4x what fits */
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF, IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, 0), LEND_LEN, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, s.wfd, IOPBUF_LEND_POS, 0, LEND_LEN);
	l.results = (uintptr_t)results;
	rs.rfd = s.rfd;
	rs.out = out;
	if (!lend_queue(&ring, dev, &l) ||
	    !guarded_submit(&ring, 1, "a LEND writing 256 KiB", &rs, sname))
		goto out;
	got = rs.got;
	if (lb->sqpoll)
		sqpoll_settle(&ring);

	if (lb->then_wait_kill) {
		/* kill_lend_fifo_waiting: the runner SIGKILLs us now */
		h_ready();
		for (;;)
			pause();
	}

	/* 256 KiB cannot be in the FIFO/pty/pipe yet: the LEND must wait */
	rescued = rs.rescued;
	if (!rescued && !io_uring_peek_cqe(&ring, &cqe)) {
		t_cqe_copy(&ring, cqe, &lend_cqe);
		io_uring_cqe_seen(&ring, cqe);
		got_lend = lend_cqe.user_data == UD_LEND;
		if (lb->sink == SINK_PTY && got_lend &&
		    lend_cqe.res == -EOPNOTSUPP) {
			/* iouring_pbuf(7): a tty not opened O_NONBLOCK */
			refused = true;
			h_note("refused at once with -EOPNOTSUPP (a tty "
			       "not opened O_NONBLOCK)");
		} else {
			FAILF("completion (user_data %#llx, res %s) before "
			      "anything was drained from the %s",
			      (unsigned long long)lend_cqe.user_data,
			      h_res(lend_cqe.res), sname);
		}
	}

	/* a NOP behind it completes first, while the sink stays full */
	sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		FAILF("no free SQE");
		goto drain;
	}
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, UD_NOP);
	rs.got = got;
	if (!guarded_submit(&ring, 1, "a NOP behind the LEND", &rs, sname))
		goto drain;
	got = rs.got;
	if (rescued || rs.rescued) {
		/* drained already: whatever order, collect both below */
	} else if (wait_cqe_quiet(&ring, &c, NOP_GUARD_MS)) {
		if (c.user_data == UD_NOP) {
			got_nop = true;
			EXPECT_EQ(c.res, 0);
		} else {
			lend_cqe = c;
			got_lend = true;
			FAILF("the LEND completed (res %s) before the NOP, "
			      "with the %s not drained", h_res(c.res), sname);
		}
	} else {
		FAILF("the NOP submitted after the LEND did not complete "
		      "within %d ms with the %s full%s", NOP_GUARD_MS, sname,
		      lb->sqpoll ? ": the SQPOLL thread is stuck in the "
		      "LEND's write" : "");
	}

drain:
	/* now read everything; the LEND must complete with all of it */
	deadline = now_s() + HANG_GUARD_S / 2;
	while (now_s() < deadline && !(got_lend && got_nop)) {
		struct pollfd p = { .fd = s.rfd, .events = POLLIN };
		struct __kernel_timespec ts = { .tv_nsec = 1000000 };
		ssize_t n;

		if (poll(&p, 1, 20) == 1) {
			n = read(s.rfd, out + got, LEND_LEN + 4096 - got);
			if (n > 0)
				got += (size_t)n;
		}
		/* entering io_uring also runs the module's task work */
		if (!io_uring_wait_cqe_timeout(&ring, &cqe, &ts)) {
			t_cqe_copy(&ring, cqe, &c);
			io_uring_cqe_seen(&ring, cqe);
			if (c.user_data == UD_NOP) {
				got_nop = true;
			} else if (c.user_data == UD_LEND) {
				lend_cqe = c;
				got_lend = true;
			}
		}
	}
	/* a few bytes may still be in the sink after the completion */
	while (got < LEND_LEN) {
		struct pollfd p = { .fd = s.rfd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 200) != 1)
			break;
		n = read(s.rfd, out + got, LEND_LEN + 4096 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (!got_lend) {
		FAILF("the LEND did not complete within %d s of draining the "
		      "%s (%zu bytes read)", HANG_GUARD_S / 2, sname, got);
		goto out;
	}
	if (!got_nop)
		FAILF("the NOP never completed");
	if (lb->sink == SINK_PTY && !refused)
		FAILF("a LEND WRITE into a pty not opened O_NONBLOCK: want "
		      "-EOPNOTSUPP at once (iouring_pbuf(7)), got %s",
		      h_res(lend_cqe.res));
	if (refused) {
		/* nothing written, the WRITE named as the failed secondary */
		EXPECT_EQ(iopbuf_lend_done(lend_cqe.res2), 0);
		EXPECT_EQ(iopbuf_lend_failed(lend_cqe.res2), 0);
		EXPECT_EQ(results[0], -EOPNOTSUPP);
		EXPECT_EQ(got, 0);
		goto out;
	}
	EXPECT_EQ(lend_cqe.res, LEND_LEN);
	EXPECT_EQ(iopbuf_lend_done(lend_cqe.res2), 1);
	EXPECT_EQ(iopbuf_lend_failed(lend_cqe.res2), IOPBUF_LEND_NONE);
	EXPECT_EQ(results[0], LEND_LEN);
	EXPECT_EQ(got, LEND_LEN);
	EXPECT_PAT(out, 0, got < LEND_LEN ? got : LEND_LEN);
out:
	if (have_uring) {
		drain_inflight(&ring, dev);
		io_uring_queue_exit(&ring);
	}
	sink_close(&s);
	h_close(&dev);
	h_unmap(mem, LEND_LEN);
	free(out);
}

/* The LEND WRITE case of a row of lend_block_rows[]. */
static void lend_block_case(const void *arg)
{
	struct lend_block lb = *(const struct lend_block *)arg;
	char what[96];
	struct hcase hc = {
		.child = lend_block_child, .arg = &lb, .memlock = 8 << 20,
		.kill_after_ready_ms = -1, .what = what,
	};

	snprintf(what, sizeof(what), "LEND WRITE of 256 KiB into a %s%s",
		 sink_names[lb.sink], lb.sqpoll ? " with SQPOLL" : "");
	run_case(&hc);
}

static const struct lend_block lend_block_rows[] = {
	/*
	 * A LEND whose one WRITE of 256 KiB goes into a FIFO that has a
	 * reader (an O_RDWR fd) nobody reads from: io_uring_submit() returns
	 * without the 5 s guard signal; a NOP submitted after it completes
	 * first; once the test drains the FIFO the LEND completes with res
	 * 262144, one secondary done, none failed, and the bytes read are
	 * the buffer's.
	 */
	{ .name = "lend_write_fifo", .sink = SINK_FIFO },
	/*
	 * The same, written through an fd opened O_RDWR: the FIFO offers its
	 * read queue first and its write queue second, and a command waiting
	 * for room must hear the second (it never completed when only the
	 * first was watched).
	 */
	{ .name = "lend_write_fifo_rdwr", .sink = SINK_FIFO_RDWR },
	/*
	 * The same into a pty in raw mode (writes go into the slave, opened
	 * without O_NONBLOCK): an immediate -EOPNOTSUPP that writes nothing
	 * (iouring_pbuf(7): a tty write could wait however little it asks
	 * for, so one not opened O_NONBLOCK is refused); no thread blocks.
	 */
	{ .name = "lend_write_pty", .sink = SINK_PTY },
	/*
	 * The same into a pty whose slave the application opened O_NONBLOCK:
	 * the module may not refuse that one.
	 */
	{ .name = "lend_write_pty_nonblock", .sink = SINK_PTY_NB },
	/* The same into a pipe. */
	{ .name = "lend_write_pipe", .sink = SINK_PIPE },
	/*
	 * The same on an IORING_SETUP_SQPOLL ring: with the LEND taken by the
	 * poller and the FIFO full, a NOP submitted afterwards completes
	 * (within 10 s) before anything is drained.
	 */
	{ .name = "lend_write_fifo_sqpoll", .sink = SINK_FIFO, .sqpoll = true },
};

/*
 * SIGKILL while a LEND's WRITE into a full FIFO waits: the process dies
 * within the guard and nothing stays pinned, charged or in flight.
 */
static void kill_lend_fifo_waiting(void)
{
	struct lend_block lb = { .sink = SINK_FIFO, .then_wait_kill = true };
	struct hcase hc = {
		.child = lend_block_child, .arg = &lb, .memlock = 8 << 20,
		.kill_after_ready_ms = 200,
		.what = "killed with a LEND WRITE into a full FIFO waiting",
	};

	run_case(&hc);
}

/* ------------------------------------------------------------------------
 * 7. Cancels racing parks and wake-ups
 */

#define STORM_ROUNDS	1500
#define STORM_ENTRY	(1U << 20)

struct storm {
	int dev;
	bool stop;
};

/* Cancel everything of the context, over and over. */
static void *storm_canceller(void *arg)
{
	struct storm *st = arg;

	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE))
		ioctl(st->dev, IOPBUF_IOC_CANCEL);
	return NULL;
}

static void cancel_storm_child(void *arg)
{
	struct t_cmd cmd = { .op = IOPBUF_CMD_RECV, .bgid = BGID };
	struct storm st = { .dev = -1 };
	unsigned long got = 0, cancelled = 0, data = 0, written = 0;
	char *buf = h_map(STORM_ENTRY);
	struct t_ring r = { .dev = -1 };
	bool have_uring = false, have_thread = false;
	struct io_uring ring;
	pthread_t t;
	int i, sv[2] = { -1, -1 }, queued;

	(void)arg;
	st.dev = h_open();
	if (st.dev < 0 || !buf)
		goto out;
	have_uring = t_uring_init(&ring, IORING_SETUP_CQE32);
	/* one large INC entry: data completions leave it at the head */
	if (!have_uring ||
	    !t_ring_init(&r, st.dev, 1, BGID, IOPBUF_RING_INC, 0))
		goto out;
	t_ring_fill(&r, buf, 1, STORM_ENTRY, 0);
	if (!t_unix_pair(sv))
		goto out;
	cmd.fd = sv[0];
	if (pthread_create(&t, NULL, storm_canceller, &st)) {
		FAILF("pthread_create: %s", strerror(errno));
		goto out;
	}
	have_thread = true;
	for (i = 0; i < STORM_ROUNDS; i++) {
		struct t_cqe c;

		if (!t_start(&ring, st.dev, &cmd, UD_RECV))
			break;
		/* every third RECV is woken by a byte, if still parked */
		if (!(i % 3)) {
			if (!EXPECT(write(sv[1], "s", 1) == 1))
				break;
			written++;
		}
		if (!t_wait_ms(&ring, &c, CQE_GUARD_MS))
			break;
		if (c.res == -ECANCELED) {
			cancelled++;
		} else if (EXPECT(c.res > 0)) {
			data++;
			got += (unsigned long)c.res;
		} else {
			break;
		}
	}
	__atomic_store_n(&st.stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	have_thread = false;
	h_note("%d rounds: %lu with data, %lu cancelled; %lu bytes received "
	       "of %lu sent", i, data, cancelled, got, written);
	EXPECT_EQ(i, STORM_ROUNDS);
	/* exactly one completion each, and nothing after */
	EXPECT(t_no_cqe(&ring));
	EXPECT_EQ(t_ctx_inflight(st.dev), 0);
	queued = t_sock_queued(sv[0]);
	EXPECT_EQ(got + (unsigned long)queued, written);
	/* both outcomes happened, or the race was not run */
	EXPECT(cancelled > 0 && data > 0);
out:
	if (have_thread) {
		__atomic_store_n(&st.stop, true, __ATOMIC_RELEASE);
		pthread_join(t, NULL);
	}
	if (have_uring) {
		drain_inflight(&ring, st.dev);
		io_uring_queue_exit(&ring);
	}
	h_close(&sv[0]);
	h_close(&sv[1]);
	t_ring_fini(&r);
	h_close(&st.dev);
	h_unmap(buf, STORM_ENTRY);
}

/*
 * Finding 7: IOPBUF_IOC_CANCEL from a second thread, in a tight loop,
 * against RECVs that park on an empty socket, get woken by a byte now and
 * then, or complete at once. A cancel landing between the entry being
 * hooked and ARMED being set once freed a command still on the socket's
 * wait queue. Every RECV must complete exactly once, with data or
 * -ECANCELED, and the bytes received plus those still queued must be all
 * that was sent (the debug kernel's KASAN sees any use after free).
 */
static void cancel_storm(void)
{
	struct hcase hc = {
		.child = cancel_storm_child, .memlock = 8 << 20,
		.kill_after_ready_ms = -1, .guard_s = HUGE_GUARD_S,
		.what = "RECVs racing IOPBUF_IOC_CANCEL",
	};

	run_case(&hc);
}

/* ------------------------------------------------------------------------
 * 8. What waiting commands hold is charged to their memory cgroup
 */

#define CG_ROOT		"/sys/fs/cgroup"
#define CG_DIR		CG_ROOT "/hostile"
/* bundle RECVs parked at once; each holds ~10 KiB of selection arrays */
#define CG_CMDS		200

static bool cg_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, val, strlen(val)) == (ssize_t)strlen(val);

	h_close(&fd);
	return ok;
}

static long cg_current(void)
{
	long v = -1;
	FILE *f = fopen(CG_DIR "/memory.current", "r");

	if (!f || fscanf(f, "%ld", &v) != 1)
		FAILF(CG_DIR "/memory.current: %s", strerror(errno));
	if (f)
		fclose(f);
	return v;
}

/* Whether the kernel knows the cgroup2 file system at all. */
static bool cg_fs_known(void)
{
	char line[128];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "\tcgroup2\n") != NULL;
	if (f)
		fclose(f);
	return found;
}

/*
 * A cgroup v2 hierarchy with the memory controller, and us in a new
 * group of it. Return: true, or false after a SKIP (no cgroups in this
 * kernel) or a failure.
 */
static bool cg_enter(bool *mounted)
{
	char line[256] = "", pid[32];
	FILE *f;

	*mounted = false;
	if (!cg_fs_known()) {
		h_skip("this kernel has no cgroup2 (not in /proc/filesystems)");
		return false;
	}
	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		mkdir(CG_ROOT, 0755);
		if (mount("none", CG_ROOT, "cgroup2", 0, NULL)) {
			if (errno == ENODEV) {
				h_skip("this kernel has no cgroup2 (ENODEV)");
				return false;
			}
			FAILF("mount cgroup2: %s", strerror(errno));
			return false;
		}
		*mounted = true;
	}
	f = fopen(CG_ROOT "/cgroup.controllers", "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	if (!strstr(line, "memory")) {
		h_skip("this kernel has no memory cgroup controller");
		return false;
	}
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (!EXPECT(cg_write(CG_ROOT "/cgroup.subtree_control", "+memory")) ||
	    !EXPECT(!mkdir(CG_DIR, 0755) || errno == EEXIST) ||
	    !EXPECT(cg_write(CG_DIR "/cgroup.procs", pid)))
		return false;
	return true;
}

static void cg_leave(bool mounted)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	cg_write(CG_ROOT "/cgroup.procs", pid);
	rmdir(CG_DIR);
	if (mounted)
		umount2(CG_ROOT, MNT_DETACH);
}

static void memcg_child(void *arg)
{
	struct t_cmd cmd = {
		.op = IOPBUF_CMD_RECV, .bgid = BGID, .flags = IOPBUF_RECV_BUNDLE,
	};
	char *buf = h_map(16 * H_PAGE);
	struct t_ring r = { .dev = -1 };
	bool have_uring = false, mounted;
	struct io_uring ring;
	int dev = -1, i, sv[2] = { -1, -1 };
	long before, after;

	(void)arg;
	if (!buf || !cg_enter(&mounted))
		goto out;
	dev = h_open();
	if (dev < 0)
		goto leave;
	/* CG_CMDS in flight: a larger ring than t_uring_init()'s */
	have_uring = !io_uring_queue_init(256, &ring, IORING_SETUP_CQE32);
	if (!EXPECT(have_uring))
		goto leave;
	if (!t_ring_init(&r, dev, 16, BGID, 0, 0))
		goto leave;
	t_ring_fill(&r, buf, 16, H_PAGE, 0);
	if (!t_unix_pair(sv))
		goto leave;
	cmd.fd = sv[0];
	before = cg_current();
	/* bundle RECVs on an empty socket: all park */
	for (i = 0; i < CG_CMDS; i++)
		if (!t_queue_cmd(&ring, dev, &cmd, UD_RECV))
			goto leave;
	if (!t_submit(&ring, CG_CMDS) ||
	    !EXPECT_EQ(t_ctx_inflight(dev), CG_CMDS))
		goto leave;
	after = cg_current();
	h_note("memory.current %+ld kB with %d bundle RECVs waiting",
	       (after - before) / 1024, CG_CMDS);
	/* each holds 256 x 24 + 256 x 16 bytes of selection arrays */
	h_expect(after - before >= CG_CMDS * 8192L, __FILE__, __LINE__,
		 "%d waiting bundle RECVs raised their cgroup's memory by %ld "
		 "bytes: their ~10 KiB of selection arrays each are not "
		 "charged to it", CG_CMDS, after - before);
leave:
	if (have_uring) {
		drain_inflight(&ring, dev);
		io_uring_queue_exit(&ring);
	}
	h_close(&sv[0]);
	h_close(&sv[1]);
	t_ring_fini(&r);
	h_close(&dev);
	cg_leave(mounted);
out:
	h_unmap(buf, 16 * H_PAGE);
}

/*
 * Finding 8: memory a waiting command holds (a bundle's selection arrays,
 * about 10 KiB; the op and notification) is charged to the submitter's
 * memory cgroup (GFP_KERNEL_ACCOUNT): 200 bundle RECVs parked on an empty
 * socket raise the cgroup's memory.current by at least 8 KiB each. Runs
 * as root (it makes the cgroup); a kernel without memory cgroups (the
 * debug kernel) says so.
 */
static void bundle_arrays_charged(void)
{
	struct hcase hc = {
		.child = memcg_child, .root = true, .kill_after_ready_ms = -1,
		.what = "bundle RECVs waiting in a memory cgroup",
	};

	run_case(&hc);
}

/* ------------------------------------------------------------------------
 * 9. A setup ioctl stalled in user memory, and fdinfo
 */

struct stall {
	int dev;
	const struct iovec *iov;
	long ret;
};

static void *stall_register(void *arg)
{
	struct stall *sp = arg;

	sp->ret = h_register_iov(sp->dev, sp->iov, 4);
	return NULL;
}

static void *stall_fdinfo(void *arg)
{
	struct stall *sp = arg;

	sp->ret = h_fdinfo_contains(sp->dev, "rings:\tbusy") ? 1 : 0;
	return NULL;
}

/* Join @t within @ms; false if it is still running. */
static bool join_ms(pthread_t t, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return !pthread_timedjoin_np(t, NULL, &ts);
}

static void stall_child(void *arg)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register ureg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct stall reg = { .dev = -1, .ret = -1 }, info = { .ret = -1 };
	struct pollfd p;
	struct uffd_msg msg;
	bool reg_started = false, resolved = false;
	char *page = NULL;
	pthread_t t_reg, t_info;
	int uffd;

	(void)arg;
	uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 && errno == ENOSYS) {
		h_skip("this kernel has no userfaultfd (ENOSYS)");
		return;
	}
	if (uffd < 0) {
		FAILF("userfaultfd: %s (root needs no sysctl)",
		      strerror(errno));
		return;
	}
	page = mmap(NULL, H_PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ureg.range.start = (uintptr_t)page;
	ureg.range.len = H_PAGE;
	if (!EXPECT(page != MAP_FAILED) ||
	    !EXPECT(ioctl(uffd, UFFDIO_API, &api) == 0) ||
	    !EXPECT(ioctl(uffd, UFFDIO_REGISTER, &ureg) == 0))
		goto out;
	reg.dev = h_open();
	if (reg.dev < 0)
		goto out;
	/* the iovec array lies in the page nobody has filled yet */
	reg.iov = (const struct iovec *)page;
	if (pthread_create(&t_reg, NULL, stall_register, &reg)) {
		FAILF("pthread_create: %s", strerror(errno));
		goto out;
	}
	reg_started = true;
	p = (struct pollfd){ .fd = uffd, .events = POLLIN };
	if (!EXPECT(poll(&p, 1, CQE_GUARD_MS) == 1) ||
	    !EXPECT(read(uffd, &msg, sizeof(msg)) == sizeof(msg)) ||
	    !EXPECT_EQ(msg.event, UFFD_EVENT_PAGEFAULT))
		goto out;

	/* the registration now waits in the fault, holding setup_lock */
	info.dev = reg.dev;
	if (pthread_create(&t_info, NULL, stall_fdinfo, &info)) {
		FAILF("pthread_create: %s", strerror(errno));
		goto out;
	}
	if (!join_ms(t_info, CQE_GUARD_MS)) {
		/* it sleeps behind the lock: resolving the fault frees it */
		FAILF("reading fdinfo waited for the stalled registration "
		      "(%d ms)", CQE_GUARD_MS);
	} else {
		h_expect(info.ret == 1, __FILE__, __LINE__,
			 "fdinfo during the stalled registration: want a "
			 "'rings:\tbusy' line");
	}
out:
	if (page && page != MAP_FAILED && uffd >= 0) {
		/* zeroes: four empty slots, and the registration completes */
		struct uffdio_zeropage zp = {
			.range = { .start = (uintptr_t)page, .len = H_PAGE },
		};

		resolved = ioctl(uffd, UFFDIO_ZEROPAGE, &zp) == 0 ||
			   errno == EEXIST;
	}
	if (reg_started) {
		if (!resolved || !join_ms(t_reg, CQE_GUARD_MS))
			FAILF("the registration did not finish once its fault "
			      "was resolved");
		else
			EXPECT_OK(reg.ret);
	}
	if (info.dev >= 0 && info.ret < 0)
		join_ms(t_info, CQE_GUARD_MS);
	h_close(&reg.dev);
	if (page && page != MAP_FAILED)
		munmap(page, H_PAGE);
	close(uffd);
}

/*
 * Finding 9: IOPBUF_IOC_REGISTER_BUFFERS whose iovec array is in memory
 * whose fault waits (userfaultfd here, a stalled FUSE mount for a user
 * without it) holds setup_lock while it waits. Reading the context's
 * /proc/PID/fdinfo (lsof, monitoring agents, as root) must not sleep
 * behind it: it says 'rings: busy'. Once the fault is resolved the
 * registration completes. Runs as root: unprivileged users get
 * userfaultfd for user-mode faults only.
 */
static void fdinfo_during_stalled_setup(void)
{
	struct hcase hc = {
		.child = stall_child, .root = true,
		.kill_after_ready_ms = -1,
		.what = "a registration stalled in a userfaultfd page",
	};

	run_case(&hc);
}

/* ------------------------------------------------------------------------
 * 1. execve() with a command waiting
 */

struct exec_arg {
	bool ready;		/* tell the runner (which then SIGKILLs) */
	bool fork_holder;	/* a forked child keeps the fds across the exec */
};

static void exec_child(void *arg)
{
	const struct exec_arg *ea = arg;
	char *argv[] = { "hostile", EXIT0_ARG, NULL };
	struct t_cmd cmd = { .op = IOPBUF_CMD_RECV, .bgid = BGID };
	struct io_uring ring;
	bool have_uring = false;
	char *buf = h_map(H_PAGE);
	struct t_ring r = { .dev = -1 };
	int dev, sv[2] = { -1, -1 };

	dev = h_open();
	if (dev < 0 || !buf)
		goto out;
	have_uring = t_uring_init(&ring, IORING_SETUP_CQE32);
	if (!have_uring || !t_ring_init(&r, dev, 1, BGID, 0, 0))
		goto out;
	t_ring_fill(&r, buf, 1, H_PAGE, 0);
	if (!t_unix_pair(sv))
		goto out;
	cmd.fd = sv[0];
	/* a RECV on an empty socket: it waits */
	if (!t_start(&ring, dev, &cmd, UD_RECV) || !t_no_cqe(&ring) ||
	    !EXPECT_EQ(t_ctx_inflight(dev), 1))
		goto out;
	if (ea->fork_holder) {
		pid_t pid;

		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			FAILF("fork: %s", strerror(errno));
			goto out;
		}
		if (pid == 0) {
			/* hold the device, ring and socket; the runner kills */
			alarm(HANG_GUARD_S * 3);
			for (;;)
				pause();
		}
	}
	if (ea->ready)
		h_ready();
	fflush(stdout);
	execv("/proc/self/exe", argv);
	FAILF("execve /proc/self/exe: %s", strerror(errno));
out:
	if (have_uring) {
		drain_inflight(&ring, dev);
		io_uring_queue_exit(&ring);
	}
	t_ring_fini(&r);
	t_close2(sv);
	h_close(&dev);
	h_unmap(buf, H_PAGE);
}

/*
 * Open the device, a CQE32 ring, a one-entry provided ring in user memory
 * and a socketpair; issue IOPBUF_CMD_RECV on the empty socket, then
 * execve() this binary, which exits 0 at once: the exec must finish and
 * the child exit 0 within the guard, counters back to baseline.
 */
static bool exec_hangs;

static void exec_recv_waiting(void)
{
	struct exec_arg ea = { 0 };
	struct hcase hc = {
		.child = exec_child, .arg = &ea, .memlock = 1 << 20,
		.kill_after_ready_ms = -1,
		.what = "execve() with a RECV waiting",
	};

	run_case(&hc);
	exec_hangs = h_case_failed();
}

/*
 * The same, SIGKILLed 200 ms after it starts the execve(): it must be
 * gone (exit 0 or killed) within the guard. Skipped when the plain exec
 * already hangs: killing it then wedges a 6.1 guest.
 */
static void exec_recv_waiting_sigkill(void)
{
	struct exec_arg ea = { .ready = true };
	struct hcase hc = {
		.child = exec_child, .arg = &ea, .memlock = 1 << 20,
		.kill_after_ready_ms = 200,
		.what = "SIGKILLed in execve() with a RECV waiting",
	};

	if (exec_hangs) {
		h_skip("exec_recv_waiting failed: a task SIGKILLed while its "
		       "exec() waits for a command would spin in io_uring's "
		       "cancel loop (6.1) and stall the guest");
		return;
	}
	run_case(&hc);
}

/*
 * The same with the fds shared: the child forks (the grandchild keeps
 * the device, io_uring and socket files open) and then execs; the exec
 * must still finish within the guard.
 */
static void exec_recv_waiting_forked(void)
{
	struct exec_arg ea = { .fork_holder = true };
	struct hcase hc = {
		.child = exec_child, .arg = &ea, .memlock = 1 << 20,
		.kill_after_ready_ms = -1,
		.what = "execve() with a RECV waiting, fds shared with a fork",
	};

	run_case(&hc);
}

/* ------------------------------------------------------------------------
 * 2. A registered buffer of over 262,000 segments
 */

#define HUGE_CHUNK	(64 * 1024UL)
/* mappings: 16,400 (1,074,790,400 bytes), fewer on the debug kernel */
static unsigned long huge_maps = 16400;
#define HUGE_MAPS	huge_maps
#define HUGE_LEN	(HUGE_CHUNK * HUGE_MAPS)
#define HUGE_MEMLOCK	(1100UL << 20)

/*
 * The debug kernel (KASAN, kmemleak, under TCG) needs minutes to unmap
 * 16,400 VMAs at exit: there the item-2 cases use 4,100 mappings (65,600
 * segments, still 16 times the inline array and a walk of thousands of
 * runs) and a longer guard. The 262,400-segment size that made the old
 * code WARN runs on every Debian kernel of the matrix.
 */
static void huge_scale(void)
{
	struct utsname u;

	if (uname(&u) || !strstr(u.release, "-iopbuf-debug"))
		return;
	huge_maps = 4100;
	huge_guard_s = 400;
	h_note("debug kernel: item-2 cases with %lu mappings, guard %d s",
	       huge_maps, huge_guard_s);
}

struct huge {
	int memfd;
	unsigned char *base;
	int dev;
};

/* The 64 KiB memfd mapped HUGE_MAPS times back to back, registered. */
static bool huge_setup(struct huge *h)
{
	unsigned char *chunk;
	unsigned long i;

	h->dev = -1;
	h->base = NULL;
	h->memfd = memfd_create("hostile", MFD_CLOEXEC);
	if (h->memfd < 0 || ftruncate(h->memfd, HUGE_CHUNK)) {
		FAILF("memfd: %s", strerror(errno));
		return false;
	}
	h->base = mmap(NULL, HUGE_LEN, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (h->base == MAP_FAILED) {
		FAILF("reserving %lu bytes: %s", HUGE_LEN, strerror(errno));
		h->base = NULL;
		return false;
	}
	for (i = 0; i < HUGE_MAPS; i++) {
		void *want = h->base + i * HUGE_CHUNK;

		if (mmap(want, HUGE_CHUNK, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, h->memfd, 0) != want) {
			FAILF("mapping %lu of %lu: %s (vm.max_map_count?)", i,
			      HUGE_MAPS, strerror(errno));
			return false;
		}
	}
	chunk = h->base;
	t_pat_fill(chunk, 0, HUGE_CHUNK);
	h->dev = h_open();
	if (h->dev < 0)
		return false;
	{
		struct iovec iov = { h->base, HUGE_LEN };
		double t0 = now_s();

		if (!EXPECT_OK(h_register_iov(h->dev, &iov, 1)))
			return false;
		h_note("registered %lu bytes in %lu mappings (%lu pages) in "
		       "%.1f s", HUGE_LEN, HUGE_MAPS, HUGE_LEN / H_PAGE,
		       now_s() - t0);
	}
	return true;
}

static void huge_fini(struct huge *h)
{
	h_close(&h->dev);
	if (h->base)
		munmap(h->base, HUGE_LEN);
	if (h->memfd >= 0)
		close(h->memfd);
}

/* The byte at offset @off of the huge buffer: the memfd repeats. */
static unsigned char huge_byte(unsigned long off)
{
	return t_pat(off % HUGE_CHUNK);
}

/* Is the guest's vm.max_map_count big enough (raise it if not)? */
static bool enough_map_count(void)
{
	long have = -1;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

	if (f) {
		if (fscanf(f, "%ld", &have) != 1)
			have = -1;
		fclose(f);
	}
	if (have >= (long)HUGE_MAPS + 1000)
		return true;
	f = fopen("/proc/sys/vm/max_map_count", "w");
	if (f) {
		fprintf(f, "%lu\n", HUGE_MAPS + 65530);
		if (!fclose(f))
			return true;
	}
	h_skip("vm.max_map_count is %ld and cannot be raised: %lu mappings "
	       "needed", have, HUGE_MAPS);
	return false;
}

/*
 * @child over the huge buffer, under HUGE_MEMLOCK and HUGE_GUARD_S, when
 * the guest allows that many mappings.
 */
static void run_huge_case(void (*child)(void *arg), const char *what)
{
	struct hcase hc = {
		.child = child, .memlock = HUGE_MEMLOCK,
		.guard_s = HUGE_GUARD_S, .kill_after_ready_ms = -1,
		.what = what,
	};

	if (enough_map_count())
		run_case(&hc);
}

static bool lend_huge_one(struct io_uring *ring, struct huge *h, int fd,
			  unsigned long off, __u32 len, const char *what)
{
	__s64 results[IOPBUF_LEND_MAX_OPS] = { 0 };
	struct iopbuf_lend l;
	struct t_cqe c;
	double t0 = now_s();
	bool ok;

	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF, IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, off), len, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, fd, 0, 0, 0);
	l.results = (uintptr_t)results;
	if (!lend_queue(ring, h->dev, &l) || !t_submit(ring, 1) ||
	    !t_wait_ms(ring, &c, HUGE_GUARD_S * 1000 / 2))
		return false;
	h_note("LEND of %u bytes at offset %lu (%s): res %s in %.1f s", len,
	       off, what, h_res(c.res), now_s() - t0);
	ok = h_expect(c.res == (int)len, __FILE__, __LINE__,
		      "LEND of %u bytes at %lu over %lu segments to %s: res "
		      "%s, want %u", len, off, len / H_PAGE, what,
		      h_res(c.res), len);
	ok &= EXPECT_EQ(iopbuf_lend_done(c.res2), 1);
	ok &= EXPECT_EQ(iopbuf_lend_failed(c.res2), IOPBUF_LEND_NONE);
	ok &= EXPECT_EQ(results[0], len);
	return ok;
}

static void lend_huge_child(void *arg)
{
	struct huge h = { .memfd = -1, .dev = -1 };
	struct io_uring ring;
	bool have_uring = false;
	unsigned char *back = NULL;
	unsigned long off;
	__u32 len;
	int null = -1, file = -1;
	size_t i;

	(void)arg;
	if (!huge_setup(&h))
		goto out;
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (!EXPECT(null >= 0))
		goto out;
	have_uring = t_uring_init(&ring, IORING_SETUP_CQE32);
	if (!have_uring)
		goto out;
	/* all of it: 262,400 segments, one WRITE */
	if (!lend_huge_one(&ring, &h, null, 0, HUGE_LEN, "/dev/null"))
		goto out;
	/* a slice starting and ending inside segments */
	off = 3 * H_PAGE + 100;
	lend_huge_one(&ring, &h, null, off, (__u32)(HUGE_LEN - off - 77),
		      "/dev/null");
	/* and the bytes are the right ones: a slice deep inside, to a file */
	file = t_pat_file("hostile-huge", 0, O_RDWR);
	off = 1000 * HUGE_CHUNK + 5000;
	len = 200000;
	back = malloc(len);
	if (file < 0 || !back ||
	    !lend_huge_one(&ring, &h, file, off, len, "a tmpfs file"))
		goto out;
	if (!EXPECT(pread(file, back, len, 0) == (ssize_t)len))
		goto out;
	for (i = 0; i < len && back[i] == huge_byte(off + i); i++)
		;
	h_expect(i == len, __FILE__, __LINE__,
		 "file byte %zu (buffer offset %lu) is %#x, want %#x", i,
		 off + i, i < len ? back[i] : 0,
		 i < len ? huge_byte(off + i) : 0);
out:
	if (have_uring) {
		drain_inflight(&ring, h.dev);
		io_uring_queue_exit(&ring);
	}
	free(back);
	h_close(&file);
	h_close(&null);
	huge_fini(&h);
}

/*
 * A 64 KiB memfd mapped 16,400 times back to back (262,400 4 KiB
 * segments, 1,074,790,400 bytes of address space, 64 KiB of memory),
 * registered as uid 65534 under a 1100 MiB RLIMIT_MEMLOCK; IOPBUF_CMD_LEND
 * of all of it (src REGBUF) to one WRITE to /dev/null succeeds with the
 * full length, so does a slice starting and ending inside segments, and a
 * 200,000-byte slice deep inside writes the right bytes to a file.
 */
static void lend_huge_segments(void)
{
	run_huge_case(lend_huge_child, "LEND of a 262,400-segment buffer");
}

#define BUNDLE_N	8
#define BUNDLE_ENTRY	(1UL << 20)	/* 256 segments each */
#define RECV_LEN	(64 * 1024)
#define RECV_SHIFT	12345

static bool bundle_res_ok(int res, long want, const char *what)
{
	if (res == want || res == -E2BIG || res == -ENOMEM) {
		h_note("%s bundle over %lu segments: %s", what,
		       BUNDLE_N * BUNDLE_ENTRY / H_PAGE, h_res(res));
		return true;
	}
	FAILF("%s bundle of %d entries over %lu segments: res %s, want %ld, "
	      "-E2BIG or -ENOMEM", what, BUNDLE_N,
	      BUNDLE_N * BUNDLE_ENTRY / H_PAGE, h_res(res), want);
	return false;
}

static void bundle_child(void *arg)
{
	struct huge h = { .memfd = -1, .dev = -1 };
	struct t_ring rr = { .dev = -1 }, sr = { .dev = -1 };
	unsigned char *in = NULL;
	struct io_uring ring;
	bool have_uring = false, got_cqe = false;
	int sv[2] = { -1, -1 }, tv[2] = { -1, -1 };
	size_t got = 0, i;
	double deadline;
	struct t_cqe c;
	unsigned int e;

	(void)arg;
	if (!huge_setup(&h))
		goto out;
	have_uring = t_uring_init(&ring, IORING_SETUP_CQE32);
	if (!have_uring ||
	    !t_ring_init(&rr, h.dev, 16, BGID, IOPBUF_RING_REGBUF, 0) ||
	    !t_ring_init(&sr, h.dev, 16, BGID + 1, IOPBUF_RING_REGBUF, 0))
		goto out;
	for (e = 0; e < BUNDLE_N; e++) {
		t_ring_add(&rr, iopbuf_regbuf_encode(0, e * BUNDLE_ENTRY),
			   BUNDLE_ENTRY, (__u16)e);
		t_ring_add(&sr, iopbuf_regbuf_encode(0, e * BUNDLE_ENTRY),
			   BUNDLE_ENTRY, (__u16)e);
	}
	t_ring_publish(&rr);
	t_ring_publish(&sr);

	/* RECV bundle: 64 KiB waiting, entries worth 2048 segments */
	if (!t_unix_pair(sv) || !t_write_pat(sv[1], RECV_SHIFT, RECV_LEN) ||
	    !t_recv(&ring, h.dev, sv[0], BGID, IOPBUF_RECV_BUNDLE, 0, &c))
		goto out;
	if (bundle_res_ok(c.res, RECV_LEN, "RECV") && c.res == RECV_LEN)
		EXPECT_PAT(h.base, RECV_SHIFT, RECV_LEN);
	t_pat_fill(h.base, 0, HUGE_CHUNK);

	/* SEND bundle: 8 MiB from 2048 segments into a stream socket */
	in = malloc(BUNDLE_ENTRY);
	if (!in || !t_unix_pair(tv))
		goto out;
	fcntl(tv[0], F_SETFL, O_NONBLOCK);
	{
		struct iopbuf_cmd_send cmd = {
			.fd = tv[1], .bgid = BGID + 1,
			.flags = IOPBUF_SEND_BUNDLE,
		};

		if (!h_prep_cmd(&ring, h.dev, IOPBUF_CMD_SEND, &cmd,
				sizeof(cmd), 0x5e4d) || !t_submit(&ring, 1))
			goto out;
	}
	deadline = now_s() + HUGE_GUARD_S / 2;
	while (!got_cqe && now_s() < deadline) {
		struct __kernel_timespec ts = { .tv_nsec = 1000000 };
		struct pollfd p = { .fd = tv[0], .events = POLLIN };
		struct io_uring_cqe *cqe;
		ssize_t n;

		if (poll(&p, 1, 10) == 1) {
			n = read(tv[0], in, BUNDLE_ENTRY);
			for (i = 0; n > 0 && i < (size_t)n &&
			     in[i] == huge_byte(got + i); i++)
				;
			if (n > 0 && i < (size_t)n) {
				FAILF("sent byte %zu is %#x, want %#x",
				      got + i, in[i], huge_byte(got + i));
				goto out;
			}
			if (n > 0)
				got += (size_t)n;
		}
		if (!io_uring_wait_cqe_timeout(&ring, &cqe, &ts)) {
			t_cqe_copy(&ring, cqe, &c);
			io_uring_cqe_seen(&ring, cqe);
			got_cqe = true;
		}
	}
	/* what arrived after the completion counts too */
	for (;;) {
		ssize_t n = read(tv[0], in, BUNDLE_ENTRY);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (!got_cqe) {
		FAILF("the SEND bundle did not complete within %d s (%zu "
		      "bytes received)", HUGE_GUARD_S / 2, got);
		goto out;
	}
	if (bundle_res_ok(c.res, BUNDLE_N * BUNDLE_ENTRY, "SEND") &&
	    c.res < 0)
		EXPECT_EQ(got, 0);
out:
	if (have_uring) {
		drain_inflight(&ring, h.dev);
		io_uring_queue_exit(&ring);
	}
	t_ring_fini(&rr);
	t_ring_fini(&sr);
	t_close2(sv);
	t_close2(tv);
	free(in);
	huge_fini(&h);
}

/*
 * Ring bundles whose entries name many segments of that buffer (8 entries
 * of 1 MiB, 2048 segments): a RECV bundle of 64 KiB and a SEND bundle of
 * 8 MiB into a unix stream socket end in success (with the right bytes)
 * or a clean -E2BIG / -ENOMEM, never a kernel warning.
 */
static void bundle_many_segments(void)
{
	run_huge_case(bundle_child, "bundles over a 262,400-segment buffer");
}

int main(int argc, char **argv)
{
	/* what exec_recv_waiting* execs: succeed at once */
	if (argc > 1 && !strcmp(argv[1], EXIT0_ARG))
		return 0;

	h_init("hostile");
	huge_scale();
	RUN(sparse_table_free);
	RUN(vmpin_accounted);
	RUN(mmap_ring_stays_charged);
	RUN_ROWS(lend_block_case, lend_block_rows);
	RUN(kill_lend_fifo_waiting);
	RUN(cancel_storm);
	RUN(bundle_arrays_charged);
	RUN(fdinfo_during_stalled_setup);
	RUN(exec_recv_waiting);
	RUN(exec_recv_waiting_sigkill);
	RUN(exec_recv_waiting_forked);
	RUN(bundle_many_segments);
	/* last: today's module WARNs here, and panic_on_warn ends the guest */
	RUN(lend_huge_segments);
	h_run("counters_zero", h_case_counters_zero);
	return h_exit();
}
