// SPDX-License-Identifier: GPL-2.0
/* fuzz: a worker's objects (regions, rings, sockets and pipes) and their setup. */
#include "fuzz.h"

/* ------------------------------------------------------------------------
 * A worker's objects. Shared by its threads without locks on purpose: one
 * thread may close what another is using. The fuzzer's own memory stays
 * safe from itself and from the kernel writing where garbage entries point:
 *  - memory regions are never unmapped while the worker lives, and each is
 *    followed by a PROT_NONE guard page, so a buffer "running off the end"
 *    faults there instead of reaching the next mapping;
 *  - kernel rings are mapped into fixed, reserved address ranges (map
 *    slots) that are always mapped, PROT_NONE when "unmapped", so a stale
 *    pointer never reaches memory reused for something else;
 *  - rings are written through a consistent snapshot (base, span) taken
 *    under the ring slot's mutex, within that span, under a SIGSEGV guard.
 */

static const char *const pair_names[NR_PAIR_KINDS] = {
	"tcp", "udp", "unix-stream", "unix-dgram", "pipe", "fifo", "pty",
};

bool is_sock(enum pair_kind k)
{
	return k <= P_UNIX_DGRAM;
}

struct world W;

/* bgids the operations use: mostly a few, so that they meet */
uint16_t pick_bgid(void)
{
	static const uint16_t odd[] = { 0, 65535, 32768, 255, 256 };

	if (one_in(10))
		return odd[rnd(ARRAY_SIZE(odd))];
	return (uint16_t)rnd(NRING);
}

int pick_ctx_fd(void)
{
	int fd = atomic_load(&W.ctx[rnd(NCTX)]);

	if (one_in(50))
		return one_in(2) ? -1 : 100000;
	return fd;
}

/* Any fd: a context, a socket of either side, a pipe, a file... or junk. */
int pick_any_fd(void)
{
	switch (rnd(8)) {
	case 0:
		return pick_ctx_fd();
	case 1:
	case 2:
	case 3:
		return atomic_load(&W.pair[rnd(NPAIR)].a);
	case 4:
		return atomic_load(&W.pair[rnd(NPAIR)].b);
	case 5:
		return W.nmisc ? W.misc[rnd(W.nmisc)] : -1;
	case 6:
		return (int)rnd(NFDS + 16);	/* whatever has this number now */
	}
	return one_in(2) ? -1 : (int)wild32();
}

struct region *pick_region(void)
{
	return &W.reg[rnd(W.nreg)];
}

/* An address for a buffer: mostly inside a region, sometimes anything. */
void pick_buf(uint64_t *addr, uint64_t *len)
{
	struct region *r = pick_region();
	uint64_t off;

	switch (rnd(12)) {
	case 0:
		*addr = wild64();
		*len = one_in(2) ? wild64() : rnd(1 << 16);
		return;
	case 1:
		*addr = 0;
		*len = one_in(2) ? 0 : rnd(PAGE);
		return;
	case 2:		/* runs off the end of the region */
		*addr = (uintptr_t)r->p + r->len - rnd(PAGE);
		*len = PAGE + rnd(PAGE * 4);
		return;
	}
	off = rnd((uint32_t)r->len);
	*addr = (uintptr_t)r->p + off;
	*len = 1 + rnd((uint32_t)(r->len - off));
	if (one_in(4))
		*len = r->len - off;
}

/* ------------------------------------------------------------------------
 * Setup of a worker
 */

/* PROT_NONE address space: guard pages and reservations. */
char *reserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void add_region(size_t len, enum region_kind kind)
{
	void *p = MAP_FAILED;
	int fd = -1, prot = PROT_READ | PROT_WRITE, flags = MAP_FIXED;
	char path[128], *at;

	if (W.nreg >= NREGION)
		return;
	/* the region, then a guard page; huge pages want 2 MiB alignment */
	at = reserve(kind == R_HUGE ? 2 * HUGE_SZ + PAGE : len + PAGE);
	if (!at)
		return;
	if (kind == R_HUGE)
		at = (char *)(((uintptr_t)at + HUGE_SZ - 1) & ~(HUGE_SZ - 1));
	switch (kind) {
	case R_ANON:
		p = mmap(at, len, prot, flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case R_MEMFD:
		fd = memfd_create("fuzz", MFD_CLOEXEC);
		if (fd >= 0 && !ftruncate(fd, len))
			p = mmap(at, len, prot, flags | MAP_SHARED, fd, 0);
		break;
	case R_HUGE:
		p = mmap(at, HUGE_SZ, prot,
			 flags | MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		len = HUGE_SZ;
		break;
	case R_RAMFS:		/* page cache that may not be pinned */
		if (!W.ramfs_dir[0])
			break;
		snprintf(path, sizeof(path), "%s/f%u.%d", W.ramfs_dir, W.nreg, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0 && !ftruncate(fd, len))
			p = mmap(at, len, prot, flags | MAP_SHARED, fd, 0);
		unlink(path);
		break;
	case R_RDONLY:
		p = mmap(at, len, PROT_READ, flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case R_NONE:
		p = at;	/* the reservation itself */
		break;
	case R_SHM:
		p = mmap(at, len, prot, flags | MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		break;
	case R_UFFD:	/* left unpopulated: the userfaultfd handler fills it */
		p = mmap(at, len, prot, flags | MAP_ANONYMOUS |
			 (one_in(2) ? MAP_SHARED : MAP_PRIVATE), -1, 0);
		break;
	}
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return;
	if (prot & PROT_WRITE && kind != R_RDONLY && kind != R_NONE && kind != R_UFFD)
		memset(p, 0x5a, len);
	W.reg[W.nreg] = (struct region){ p, len, kind };
	if (kind == R_UFFD && W.uffd.nr < ARRAY_SIZE(W.uffd.r))
		W.uffd.r[W.uffd.nr++] = &W.reg[W.nreg];
	W.nreg++;
}

/*
 * The long buffer: one memfd of 1..16 pages mapped back to back (MAP_FIXED)
 * 1000..16000 times, 4096..262144 pages in all: registered as one buffer it
 * is as many bio_vec segments (the same few pages over and over, never
 * contiguous), while it costs the guest only the memfd and page tables.
 */
static void make_long_region(void)
{
	unsigned int chunk = 1U << rnd(5), pages, maps, i;
	size_t csize;
	char *at;
	int fd;

	pages = one_in(4) ? 65536 + rnd(196609) : 4096 + rnd(28673);
	maps = pages / chunk;
	if (maps < 1000)
		maps = 1000;
	if (maps > 16000)
		maps = 16000;
	pages = maps * chunk;
	csize = (size_t)chunk * PAGE;
	at = reserve((size_t)pages * PAGE + PAGE);
	fd = memfd_create("fuzz-long", MFD_CLOEXEC);
	if (!at || fd < 0 || ftruncate(fd, (off_t)csize)) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (i = 0; i < maps; i++)
		if (mmap(at + i * csize, csize, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0) == MAP_FAILED)
			break;
	close(fd);
	if (i < 1000)
		return;
	memset(at, 'L', csize);
	W.lng.p = at;
	W.lng.maps = i;
	W.lng.chunk_pages = chunk;
	W.lng.len = (size_t)i * csize;
	if (i > atomic_load(&sh->long_maps_max))
		atomic_store(&sh->long_maps_max, i);
	if (i * chunk > atomic_load(&sh->long_pages_max))
		atomic_store(&sh->long_pages_max, i * chunk);
}

static void add_misc(int fd)
{
	if (fd >= 0 && W.nmisc < ARRAY_SIZE(W.misc))
		W.misc[W.nmisc++] = fd;
}

/* A FIFO in the worker's tmpdir: fds[0] reads, fds[1] and fds[2] write. */
static void make_fifo(struct pair *p, int fds[3])
{
	char path[128];

	if (!W.tmpdir[0])
		return;
	snprintf(path, sizeof(path), "%s/fifo.%u", W.tmpdir, W.nfifo++);
	if (mkfifo(path, 0600))
		return;
	/* a reader first, so that opening the write ends does not wait */
	fds[0] = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fds[0] >= 0) {
		fds[1] = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		p->wr_blocking = one_in(2);
		fds[2] = open(path, O_WRONLY | O_CLOEXEC | (p->wr_blocking ? 0 : O_NONBLOCK));
		p->a_blocking = one_in(2);
		if (p->a_blocking)
			fcntl(fds[0], F_SETFL, 0);
	}
	unlink(path);
}

/*
 * A pty pair in raw mode. Mostly a is the slave (the module reads what the
 * peer writes on the master, and its WRITEs go to the master, which the
 * peer drains only if the pair says so), sometimes the master. The
 * module's side is opened without O_NONBLOCK half of the time.
 */
static void make_pty(struct pair *p, int fds[3])
{
	struct termios tio;
	int m, s, fl;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) || unlockpt(m)) {
		atomic_fetch_add(&sh->pty_unavail, 1);
		if (m >= 0)
			close(m);
		return;
	}
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		char name[64];

		if (!ptsname_r(m, name, sizeof(name)))
			s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	}
	if (s < 0) {
		atomic_fetch_add(&sh->pty_unavail, 1);
		close(m);
		return;
	}
	if (!tcgetattr(s, &tio)) {
		cfmakeraw(&tio);
		tcsetattr(s, TCSANOW, &tio);
	}
	p->pty_master_a = one_in(3);
	fds[0] = p->pty_master_a ? m : s;
	fds[1] = p->pty_master_a ? s : m;
	fds[2] = WR_IS_A;
	p->a_blocking = one_in(2);
	p->wr_blocking = p->a_blocking;
	fl = fcntl(fds[0], F_GETFL);
	if (fl >= 0 && !p->a_blocking)
		fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
}

/* fds[0]: a, fds[1]: b, fds[2]: wr (see struct pair) */
bool make_pair(struct pair *pr, int fds[3])
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int l = -1, one = 1;
	enum pair_kind kind = pr->kind;

	fds[0] = fds[1] = -1;
	fds[2] = -1;
	pr->a_blocking = pr->wr_blocking = false;
	pr->drain = one_in(2);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	switch (kind) {
	case P_TCP:
		l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l < 0 || bind(l, (void *)&sa, sizeof(sa)) || listen(l, 1) ||
		    getsockname(l, (void *)&sa, &sl))
			break;
		fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[1] < 0 || connect(fds[1], (void *)&sa, sizeof(sa)))
			break;
		fds[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		break;
	case P_UDP: {
		struct sockaddr_in sb = sa;
		socklen_t sbl = sizeof(sb);

		fds[0] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		fds[1] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[0] < 0 || fds[1] < 0 || bind(fds[0], (void *)&sa, sizeof(sa)) ||
		    bind(fds[1], (void *)&sb, sizeof(sb)) ||
		    getsockname(fds[0], (void *)&sa, &sl) ||
		    getsockname(fds[1], (void *)&sb, &sbl) ||
		    connect(fds[0], (void *)&sb, sizeof(sb)) ||
		    connect(fds[1], (void *)&sa, sizeof(sa))) {
			close(fds[0]);
			close(fds[1]);
			fds[0] = fds[1] = -1;
		}
		break;
	}
	case P_UNIX_STREAM:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
			fds[0] = fds[1] = -1;
		break;
	case P_UNIX_DGRAM:
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds))
			fds[0] = fds[1] = -1;
		break;
	case P_PIPE: {
		int p[2];

		if (!pipe2(p, O_CLOEXEC)) {
			char path[64];

			fds[0] = p[0];	/* the module reads */
			fds[1] = p[1];
			/* its own open file description of the write end */
			if (one_in(2)) {
				snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
				pr->wr_blocking = one_in(2);
				fds[2] = open(path, O_WRONLY | O_CLOEXEC |
					      (pr->wr_blocking ? 0 : O_NONBLOCK));
			}
		}
		break;
	}
	case P_FIFO:
		make_fifo(pr, fds);
		break;
	case P_PTY:
		make_pty(pr, fds);
		break;
	default:
		break;
	}
	if (l >= 0)
		close(l);
	if (fds[1] >= 0)
		fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
	if (fds[0] < 0 || fds[1] < 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		if (fds[1] >= 0)
			close(fds[1]);
		if (fds[2] >= 0)
			close(fds[2]);
		fds[0] = fds[1] = fds[2] = -1;
		return false;
	}
	return true;
}

/* Where a lending chain WRITEs for this pair. */
int pair_wr(struct pair *p)
{
	int wr = atomic_load(&p->wr);

	return wr == WR_IS_A ? atomic_load(&p->a) : wr >= 0 ? wr : atomic_load(&p->b);
}

/* What an fd is, for reports: "fifo a (blocking)", "pty wr", ... */
const char *describe_fd(int fd, char *buf, size_t size)
{
	unsigned int i;

	for (i = 0; i < NPAIR; i++) {
		struct pair *p = &W.pair[i];
		const char *side = NULL;
		bool blocking = false;

		if (fd < 0)
			break;
		if (fd == atomic_load(&p->a)) {
			side = p->kind == P_PTY ? (p->pty_master_a ? "a (master)" : "a (slave)") : "a";
			blocking = p->a_blocking;
		} else if (fd == atomic_load(&p->b)) {
			side = "b";
		} else if (fd == atomic_load(&p->wr)) {
			side = "wr";
			blocking = p->wr_blocking;
		}
		if (side) {
			snprintf(buf, size, "%s %s%s", pair_names[p->kind], side,
				 blocking ? " (blocking)" : "");
			return buf;
		}
	}
	snprintf(buf, size, "fd %d", fd);
	return buf;
}

void worker_setup(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER };
	char path[64];
	unsigned int i;
	int fds[3];

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGKILL);

	add_region(64 * PAGE, R_ANON);
	add_region(16 * PAGE, R_ANON);
	add_region(3 * PAGE, R_ANON);
	add_region(8 * PAGE, R_MEMFD);
	add_region(HUGE_SZ, R_HUGE);
	add_region(4 * PAGE, R_RAMFS);
	add_region(2 * PAGE, R_RDONLY);
	add_region(2 * PAGE, R_NONE);
	add_region(16 * PAGE, R_SHM);
	add_region(PAGE, R_ANON);
	add_region(32 * PAGE, R_MEMFD);
	add_region(32 * PAGE, R_UFFD);
	add_region(64 * PAGE, R_UFFD);
	/* half the workers (not those started by exec) get a long buffer */
	if (!W.exec_image && one_in(2))
		make_long_region();
	snprintf(W.tmpdir, sizeof(W.tmpdir), "/tmp/fuzz-fifo.XXXXXX");
	if (!mkdtemp(W.tmpdir))
		W.tmpdir[0] = 0;

	for (i = 0; i < NCTX; i++)
		atomic_store(&W.ctx[i], open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC));
	for (i = 0; i < NRING; i++) {
		pthread_mutex_init(&W.ring[i].lock, NULL);
		W.ring[i].bgid = (uint16_t)i;
	}
	for (i = 0; i < NMAP; i++) {
		pthread_mutex_init(&W.map[i].lock, NULL);
		W.map[i].base = reserve(MAP_SLOT_PAGES * PAGE);
	}
	/* argument structures that end right before a guard page */
	W.edge = reserve(2 * PAGE);
	if (W.edge)
		mprotect(W.edge, PAGE, PROT_READ | PROT_WRITE);
	for (i = 0; i < NPAIR; i++) {
		W.pair[i].kind = (enum pair_kind)(i % NR_PAIR_KINDS);
		make_pair(&W.pair[i], fds);
		atomic_store(&W.pair[i].a, fds[0]);
		atomic_store(&W.pair[i].b, fds[1]);
		atomic_store(&W.pair[i].wr, fds[2]);
	}
	/* wrong fd types */
	snprintf(path, sizeof(path), "/tmp/fuzz.%d", getpid());
	add_misc(open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
	if (W.nmisc) {
		char junk[8192];

		memset(junk, 'j', sizeof(junk));
		if (write(W.misc[0], junk, sizeof(junk)) < 0)
			perror("write");
	}
	unlink(path);
	add_misc(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	add_misc(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	W.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	add_misc(W.devnull);
	add_misc(epoll_create1(EPOLL_CLOEXEC));
	add_misc(memfd_create("fuzz-misc", MFD_CLOEXEC));
	add_misc(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));	/* unconnected */
	add_misc(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	add_misc(open("/proc/self/status", O_RDONLY | O_CLOEXEC));
	add_misc(open(IOPBUF_DEVICE_PATH, O_RDONLY | O_CLOEXEC));	/* read-only context */
	add_misc(open(IOPBUF_DEVICE_PATH, O_WRONLY | O_CLOEXEC));
}
