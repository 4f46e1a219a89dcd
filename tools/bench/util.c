// SPDX-License-Identifier: GPL-2.0
/*
 * bench: small helpers: clocks, CPU and idle time, timers, memory, the
 * steady-clock check (-S).
 */

#include "bench.h"

volatile sig_atomic_t b_stop;	/* set by SIGALRM: the window is over */

void b_log(const char *fmt, ...)
{
	va_list ap;

	if (B.o.quiet)
		return;
	printf("# bench: [%.3f] ", b_now());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void b_err(const char *fmt, ...)
{
	va_list ap;

	fputs("BENCHERR,", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	B.errors++;
}

double b_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The calling thread's CPU time, user + system, read precisely. */
double b_thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The same as getrusage(RUSAGE_THREAD) reports it (tick-updated). */
double b_thread_rusage(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Busy and softirq seconds of @cpu from /proc/stat (USER_HZ ticks). */
void b_cpu_stat(int cpu, double *busy, double *softirq)
{
	unsigned long long v[10] = { 0 };
	static long hz;
	char line[512], want[16];
	FILE *f;

	*busy = *softirq = 0;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	snprintf(want, sizeof(want), "cpu%d ", cpu);
	f = fopen("/proc/stat", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		sscanf(line + strlen(want),
		       "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		       &v[8], &v[9]);
		/* user nice system irq softirq steal; not idle, iowait */
		*busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / hz;
		*softirq = (double)v[6] / hz;
		break;
	}
	fclose(f);
}

/*
 * Idle nanoseconds of all CPUs together, from /proc/timer_list: the
 * tick-sched idle_sleeptime and iowait_sleeptime, kept in nanoseconds
 * (/proc/stat rounds the same figures to USER_HZ ticks, 10 ms, too coarse
 * for a 60 ms window). Exact for the CPU that reads it, which is not
 * idle; another CPU's idle period still running is counted when it ends,
 * so with more than one CPU a run's figure can be off by one idle period.
 * -1 if the kernel does not print them.
 */
double b_idle_ns(void)
{
	unsigned long long v, sum = 0;
	char line[256], name[32];
	bool found = false;
	FILE *f;

	f = fopen("/proc/timer_list", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " .%31[a-z_] : %llu nsecs", name, &v) != 2)
			continue;
		if (!strcmp(name, "idle_sleeptime") ||
		    !strcmp(name, "iowait_sleeptime")) {
			sum += v;
			found = true;
		}
	}
	fclose(f);
	return found ? (double)sum : -1;
}

/* Busy seconds of all CPUs over @wall seconds, from b_idle_ns() readings. */
double b_busy_all(double wall, double idle0, double idle1)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (idle0 < 0 || idle1 < 0)
		return NAN;
	return ncpu * wall - (idle1 - idle0) / 1e9;
}

/*
 * CPU nanoseconds of every task but the calling thread so far
 * (/proc/<pid>/task/<tid>/schedstat, first field: sum_exec_runtime);
 * -1 if unreadable. The caller adds its own CPU time, read at the window's
 * edges, so that the scan's own cost stays out. The fallback for
 * b_idle_ns() on kernels whose /proc/timer_list no longer shows idle time
 * (sid's 7.2): it counts the same work except interrupts and softirqs
 * that arrive while the CPU is idle, which run on the idle task's time.
 */
double b_tasks_ns(void)
{
	pid_t self = gettid();
	char path[600], line[128];
	struct dirent *p, *t;
	unsigned long long v;
	double sum = 0;
	DIR *dp, *dt;
	FILE *f;

	dp = opendir("/proc");
	if (!dp)
		return -1;
	while ((p = readdir(dp))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", p->d_name);
		dt = opendir(path);
		if (!dt)
			continue;	/* gone meanwhile */
		while ((t = readdir(dt))) {
			if (t->d_name[0] == '.' || atoi(t->d_name) == self)
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task/%s/schedstat",
				 p->d_name, t->d_name);
			f = fopen(path, "r");
			if (!f)
				continue;
			if (fgets(line, sizeof(line), f) &&
			    sscanf(line, "%llu", &v) == 1)
				sum += v;
			fclose(f);
		}
		closedir(dt);
	}
	closedir(dp);
	return sum;
}

int b_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

void b_on_alarm(int sig)
{
	(void)sig;
	b_stop = 1;
}

/* Set b_stop after @ms milliseconds. */
void b_arm(unsigned int ms)
{
	struct itimerval it = { 0 };

	b_stop = 0;
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	if (!ms)
		it.it_value.tv_usec = 1;
	setitimer(ITIMER_REAL, &it, NULL);
}

void b_disarm(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
}

void *b_map(size_t len, bool huge_ok)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (!huge_ok)
		madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

unsigned int b_pow2(unsigned int v)
{
	unsigned int p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* Thread CPU milliseconds of @iters turns of a fixed loop. */
static double b_spin_ms(unsigned long iters)
{
	volatile unsigned long x = 0;
	double c0 = b_thread_cpu();
	unsigned long i;

	for (i = 0; i < iters; i++)
		x += i;
	return (b_thread_cpu() - c0) * 1e3;
}

/*
 * -S: wait until the guest's clock is steady, and say what a few
 * reference operations cost. Right after boot, timing a fixed loop gives
 * twice its later figure (clocksource switch, boot work on the CPU); the
 * loop is timed until two readings in a row agree within 0.1% (at most
 * 30 times). Under QEMU -icount that settles at the loop's instruction
 * count, the same from one boot to the next; under plain TCG it need not
 * settle at all, which BENCHCAL's "steady=0" then says.
 */
void b_settle(void)
{
	static unsigned char src[64 * 1024], dst[64 * 1024];
	double prev = -1, cur = 0, c0, cpy;
	char cs[64] = "unknown";
	int tries, i;
	FILE *f;

	for (tries = 1; tries <= 30; tries++) {
		cur = b_spin_ms(20000000UL);
		if (prev > 0 && fabs(cur - prev) <= prev * 1e-3)
			break;
		prev = cur;
	}
	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (f) {
		if (fscanf(f, "%63s", cs) != 1)
			snprintf(cs, sizeof(cs), "unknown");
		fclose(f);
	}
	memset(src, 1, sizeof(src));
	c0 = b_thread_cpu();
	for (i = 0; i < 1000; i++) {
		memcpy(dst, src, sizeof(dst));
		__asm__ __volatile__("" : : "r"(dst) : "memory");
	}
	cpy = (b_thread_cpu() - c0) * 1e9 / 1000;
	printf("BENCHCAL,%s,steady=%d,tries=%d,loop_ms=%.3f,prev_ms=%.3f,clocksource=%s,memcpy64k_ns=%.0f,getppid_ns=%.0f,idle_ns=%s\n",
	       B.kernel, tries <= 30, tries > 30 ? 30 : tries, cur, prev, cs,
	       cpy, b_probe(), b_idle_ns() >= 0 ? "timer_list" :
	       b_tasks_ns() >= 0 ? "task_schedstat" : "none");
}

/*
 * The benchmark's io_uring: big CQEs for the module, SINGLE_ISSUER and
 * DEFER_TASKRUN as liburing's send-zerocopy example sets them up (task work
 * runs when the sender waits), COOP_TASKRUN where DEFER_TASKRUN is
 * missing. Its flags in *@flags; 0 or -errno.
 */
int b_ring_init(struct io_uring *ring, unsigned int *flags)
{
	int ret;

	*flags = IORING_SETUP_CQE32 | IORING_SETUP_SINGLE_ISSUER |
		 IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init(64, ring, *flags);
	if (ret == -EINVAL) {
		*flags = IORING_SETUP_CQE32 | IORING_SETUP_COOP_TASKRUN;
		ret = io_uring_queue_init(64, ring, *flags);
	}
	return ret;
}

/*
 * A reference: thread CPU ns per getppid(2), over 200 calls. Under TCG a
 * vCPU is a host thread that the host may deschedule while the guest
 * thinks it runs, so guest CPU time stretches with the host's load; runs
 * are bracketed by this probe, which shows how much (it varies far too
 * much, from one millisecond to the next, to correct the runs with).
 */
double b_probe(void)
{
	double c0 = b_thread_cpu();
	int i;

	for (i = 0; i < 200; i++)
		syscall(SYS_getppid);
	return (b_thread_cpu() - c0) * 1e9 / 200;
}

/*
 * The next element of a growing array of results, zeroed: @arrp points to
 * the array's pointer, *@n elements of @size are used of *@cap, @first the
 * first allocation's. NULL when out of memory (the array stays).
 */
void *b_new_elem(void *arrp, size_t *n, size_t *cap, size_t size,
		 size_t first)
{
	unsigned char *arr;

	memcpy(&arr, arrp, sizeof(arr));
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : first;
		unsigned char *m = realloc(arr, c * size);

		if (!m)
			return NULL;
		arr = m;
		memcpy(arrp, &arr, sizeof(arr));
		*cap = c;
	}
	memset(arr + *n * size, 0, size);
	return arr + (*n)++ * size;
}
