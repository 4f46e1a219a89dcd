// SPDX-License-Identifier: GPL-2.0
/* fuzz: userfaultfd: regions whose missing pages a handler fills late. */
#include "fuzz.h"

/* ------------------------------------------------------------------------
 * userfaultfd: R_UFFD regions whose missing pages a handler fills late
 */

/*
 * Open an epoch: a new userfaultfd with the R_UFFD regions registered
 * (missing mode). Unprivileged workers need UFFD_USER_MODE_ONLY when
 * vm.unprivileged_userfaultfd is 0: then only the fuzzer's own accesses
 * wait for the handler and the module's fail at once (-EFAULT).
 */
static bool uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int flags = O_CLOEXEC | O_NONBLOCK, fd;
	unsigned int i;

	if (W.uffd.user_only)
		flags |= UFFD_USER_MODE_ONLY;
	fd = (int)syscall(SYS_userfaultfd, flags);
	if (fd < 0 && !W.uffd.user_only && (errno == EPERM || errno == EINVAL)) {
		W.uffd.user_only = true;	/* no CAP_SYS_PTRACE after all */
		fd = (int)syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
		if (fd >= 0)
			atomic_fetch_add(&sh->uffd_user_only, 1);
	}
	if (fd < 0)
		return false;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return false;
	}
	for (i = 0; i < W.uffd.nr; i++) {
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)W.uffd.r[i]->p, .len = W.uffd.r[i]->len },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		ioctl(fd, UFFDIO_REGISTER, &reg);
	}
	W.uffd.fd = fd;
	count(OP_UFFD_EPOCH);
	return true;
}

static void uffd_resolve(uint64_t addr, const char *src)
{
	struct uffdio_range rg = { .start = addr & ~(PAGE - 1), .len = PAGE };
	long r;

	if (one_in(3)) {
		struct uffdio_zeropage z = { .range = rg };

		r = ioctl(W.uffd.fd, UFFDIO_ZEROPAGE, &z);
	} else {
		struct uffdio_copy c = { .dst = rg.start, .src = (uintptr_t)src, .len = PAGE };

		r = ioctl(W.uffd.fd, UFFDIO_COPY, &c);
	}
	if (r && errno == EEXIST)	/* filled meanwhile: wake whoever waits */
		ioctl(W.uffd.fd, UFFDIO_WAKE, &rg);
}

/*
 * The handler: epochs of 0.2..1.5 s with a userfaultfd, 0.1..0.6 s without.
 * Each fault is resolved at once (55%), late (35%: 1..100 ms, sometimes
 * 500 ms) or never within its epoch (10%): closing the userfaultfd at the
 * epoch's end lets every waiter through, so nothing waits longer than an
 * epoch. Then, half of the time, the regions' pages are dropped
 * (MADV_DONTNEED; the module's pins keep theirs) to fault again. Pages
 * written by the handler are 'U'.
 */
void *uffd_handler(void *arg)
{
	static struct uffd_pending pend[512];
	unsigned int npend = 0, i;
	double epoch_end = 0, next_epoch = 0;
	char *src;

	rng = *(uint64_t *)arg;
	W.uffd.fd = -1;
	src = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || !W.uffd.nr)
		return NULL;
	memset(src, 'U', PAGE);
	while (!atomic_load(&W.stop)) {
		struct uffd_msg msg[16];
		struct pollfd pfd;
		double t = now_s();
		ssize_t n;

		if (W.uffd.fd < 0) {
			if (t < next_epoch) {
				usleep(10000);
				continue;
			}
			if (!uffd_open()) {
				atomic_fetch_add(&sh->uffd_unavail, 1);
				return NULL;
			}
			epoch_end = t + 0.2 + rnd(1300) / 1000.0;
		}
		if (t >= epoch_end) {
			close(W.uffd.fd);	/* every waiter goes on */
			W.uffd.fd = -1;
			npend = 0;
			if (one_in(2))
				for (i = 0; i < W.uffd.nr; i++)
					madvise(W.uffd.r[i]->p, W.uffd.r[i]->len, MADV_DONTNEED);
			next_epoch = t + 0.1 + rnd(500) / 1000.0;
			continue;
		}
		pfd.fd = W.uffd.fd;
		pfd.events = POLLIN;
		poll(&pfd, 1, 5);
		while ((n = read(W.uffd.fd, msg, sizeof(msg))) > 0) {
			for (i = 0; i < n / sizeof(msg[0]); i++) {
				unsigned int roll = rnd(100);

				if (msg[i].event != UFFD_EVENT_PAGEFAULT)
					continue;
				count(OP_UFFD_FAULT);
				if (roll < 55 || npend == ARRAY_SIZE(pend)) {
					uffd_resolve(msg[i].arg.pagefault.address, src);
					continue;
				}
				pend[npend].addr = msg[i].arg.pagefault.address;
				if (roll < 90) {
					count(OP_UFFD_LATE);
					pend[npend].due = t + (1 + rnd(one_in(8) ? 500 : 100)) / 1000.0;
				} else {
					count(OP_UFFD_NEVER);
					pend[npend].due = 0;
				}
				npend++;
			}
		}
		t = now_s();
		for (i = 0; i < npend; i++) {
			if (!pend[i].due || pend[i].due > t)
				continue;
			uffd_resolve(pend[i].addr, src);
			pend[i--] = pend[--npend];
		}
	}
	if (W.uffd.fd >= 0)
		close(W.uffd.fd);
	W.uffd.fd = -1;
	return NULL;
}
