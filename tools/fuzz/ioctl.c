// SPDX-License-Identifier: GPL-2.0
/* fuzz: the ioctl operations, mmap of kernel rings, fdinfo. */
#include "fuzz.h"

/* ------------------------------------------------------------------------
 * ioctl operations
 */

long xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

/* A pointer for an ioctl argument: valid, or one of the bad ones. */
void *arg_ptr(void *good)
{
	switch (rnd(40)) {
	case 0:
		return NULL;
	case 1:
		return (void *)(uintptr_t)wild64();
	case 2:	/* straddling into a guard page */
		return W.edge ? W.edge + PAGE - 8 : NULL;
	}
	return good;
}

void do_probe(void)
{
	struct iopbuf_probe p;

	xioctl(pick_any_fd(), IOPBUF_IOC_PROBE, arg_ptr(&p));
}

void do_stats(void)
{
	struct iopbuf_stats st;
	int fd = pick_ctx_fd();

	memset(&st, 0, sizeof(st));
	/*
	 * Not charged <= pinned: a registration charges first and pins
	 * afterwards, so another thread may see the charge before the pins.
	 */
	if (!xioctl(fd, IOPBUF_IOC_STATS, arg_ptr(&st)) &&
	    (st.bufs > st.buf_slots || st.resv[0] || st.resv[1] || st.resv[2] ||
	     st.resv[3]))
		fuzz_fail("IOPBUF_IOC_STATS inconsistent: bufs %u/%u resv %llx",
			  st.bufs, st.buf_slots,
			  (unsigned long long)(st.resv[0] | st.resv[1] | st.resv[2] | st.resv[3]));
}

/* An iovec array of @nr entries, mostly buffers of the regions. */
static struct iovec *make_iovs(unsigned int nr, unsigned int *filled)
{
	static __thread struct iovec fallback[64];
	/*
	 * Per thread: a page whose end is a guard page, the array at its end,
	 * so that an nr beyond the array makes the kernel fault (EFAULT)
	 * rather than read whatever follows.
	 */
	static __thread char *page;
	struct iovec *iov;
	unsigned int i, n;

	if (!page) {
		page = reserve(2 * PAGE);
		if (page && mprotect(page, PAGE, PROT_READ | PROT_WRITE))
			page = NULL;
	}
	iov = page ? (struct iovec *)(page + PAGE) - 64 : fallback;
	n = nr < 64 ? nr : 64;

	for (i = 0; i < n; i++) {
		uint64_t a, l;

		if (one_in(6)) {
			iov[i].iov_base = NULL;
			iov[i].iov_len = 0;
			continue;
		}
		pick_buf(&a, &l);
		if (l > (1 << 20) && !one_in(8))
			l &= 0xfffff;
		iov[i].iov_base = (void *)(uintptr_t)a;
		iov[i].iov_len = l;
	}
	*filled = n;
	return iov;
}

static uint32_t pick_nr(void)
{
	switch (rnd(10)) {
	case 0:
		return wild32();
	case 1:
		return 0;
	}
	return 1 + rnd(one_in(3) ? 64 : 8);
}

void do_reg_bufs(bool sparse)
{
	struct iopbuf_buf_reg reg;
	unsigned int filled = 0;

	memset(&reg, 0, sizeof(reg));
	reg.nr = pick_nr();
	if (!sparse) {
		struct iovec *iov = make_iovs(reg.nr, &filled);

		reg.iovs = (uintptr_t)arg_ptr(iov);
	} else {
		reg.flags = IOPBUF_BUF_REG_SPARSE;
		if (one_in(10))
			reg.iovs = (uintptr_t)&reg;
	}
	if (one_in(20))
		reg.flags |= 1U << rnd(32);
	sometimes_wild32(&reg.offset, 20);
	sometimes_wild32(&reg.resv, 30);
	sometimes_wild64_in(reg.resv2, 2, 30);
	xioctl(pick_ctx_fd(), IOPBUF_IOC_REGISTER_BUFFERS, arg_ptr(&reg));
}

void do_update_bufs(void)
{
	struct iopbuf_buf_reg reg;
	unsigned int filled = 0;
	struct iovec *iov;

	memset(&reg, 0, sizeof(reg));
	reg.nr = pick_nr();
	reg.offset = one_in(4) ? wild32() : rnd(16);
	iov = make_iovs(reg.nr, &filled);
	reg.iovs = (uintptr_t)arg_ptr(iov);
	if (one_in(20))
		reg.flags = 1U << rnd(32);
	sometimes_wild64_in(reg.resv2, 2, 30);
	xioctl(pick_ctx_fd(), IOPBUF_IOC_UPDATE_BUFFERS, arg_ptr(&reg));
}

void do_unreg_bufs(void)
{
	xioctl(pick_ctx_fd(), IOPBUF_IOC_UNREGISTER_BUFFERS, NULL);
}

/* Ring memory for @entries entries: page-aligned inside a region, or not. */
static uint64_t pick_ring_addr(uint32_t entries, struct region **out)
{
	struct region *r = pick_region();
	size_t size = (size_t)entries * sizeof(struct iopbuf_buf);
	size_t pages = (size + PAGE - 1) / PAGE;
	size_t rpages = r->len / PAGE;

	*out = NULL;
	switch (rnd(12)) {
	case 0:
		return wild64();
	case 1:
		return 0;
	case 2:
		return (uintptr_t)r->p + 1 + rnd(PAGE - 1);	/* misaligned */
	}
	if (pages <= rpages) {
		*out = r;
		return (uintptr_t)r->p + rnd((uint32_t)(rpages - pages + 1)) * PAGE;
	}
	return (uintptr_t)r->p;	/* too small: runs off the end */
}

static uint32_t pick_entries(void)
{
	static const uint64_t v[] = { 0, 1, 2, 3, 8, 100, 256, 4096, 32768, 32769, 65536 };

	if (one_in(5))
		return (uint32_t)pick_u64(v, ARRAY_SIZE(v));
	return 1U << rnd(8);	/* 1 .. 128 */
}

void do_reg_ring(void)
{
	struct iopbuf_ring_reg reg;
	struct region *r = NULL;
	struct ring_slot *rs;
	int ci = (int)rnd(NCTX), fd = one_in(50) ? pick_ctx_fd() : atomic_load(&W.ctx[ci]);

	memset(&reg, 0, sizeof(reg));
	reg.ring_entries = one_in(2) ? RING_ENTRIES : pick_entries();
	reg.bgid = pick_bgid();
	reg.flags = (uint16_t)rnd(8);
	if (one_in(20))
		reg.flags |= (uint16_t)(1U << rnd(16));
	if (reg.flags & IOPBUF_RING_INC || one_in(20))
		reg.min_left = one_in(2) ? rnd(64) : wild32();
	if (!(reg.flags & IOPBUF_RING_MMAP) || one_in(20))
		reg.ring_addr = pick_ring_addr(reg.ring_entries, &r);
	sometimes_wild32_in(reg.resv, 5, 30);
	if (xioctl(fd, IOPBUF_IOC_REGISTER_RING, arg_ptr(&reg)) || reg.bgid >= NRING)
		return;
	/*
	 * Remember it, for providing buffers and for the scribbler: user
	 * memory only when it lies inside a writable region.
	 */
	rs = &W.ring[reg.bgid];
	pthread_mutex_lock(&rs->lock);
	rs->bufs = NULL;
	rs->span = 0;
	rs->mmap = reg.flags & IOPBUF_RING_MMAP;
	if (!rs->mmap && r && r->kind != R_RDONLY && r->kind != R_NONE) {
		rs->bufs = (struct iopbuf_buf *)(uintptr_t)reg.ring_addr;
		rs->span = (size_t)reg.ring_entries * sizeof(struct iopbuf_buf);
	}
	rs->tail = 0;
	rs->regbuf = reg.flags & IOPBUF_RING_REGBUF;
	rs->entries = reg.ring_entries;
	rs->ctx = ci;
	rs->good = false;
	pthread_mutex_unlock(&rs->lock);
}

void do_unreg_ring(void)
{
	struct iopbuf_ring_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.bgid = pick_bgid();
	sometimes_wild32(&reg.ring_entries, 20);
	if (one_in(20))
		reg.flags = (uint16_t)rnd64();
	sometimes_wild32_in(reg.resv, 5, 30);
	xioctl(pick_ctx_fd(), IOPBUF_IOC_UNREGISTER_RING, arg_ptr(&reg));
}

void do_ring_status(void)
{
	struct iopbuf_ring_status st;

	memset(&st, 0, sizeof(st));
	st.bgid = pick_bgid();
	sometimes_wild64_in(st.resv, 2, 30);
	if (!xioctl(pick_ctx_fd(), IOPBUF_IOC_RING_STATUS, arg_ptr(&st)) && st.head > 65535)
		fuzz_fail("RING_STATUS head %u > 65535", st.head);
}

void do_cancel(void)
{
	long r = ioctl(pick_ctx_fd(), IOPBUF_IOC_CANCEL, 0);

	if (r > 0x100000)
		fuzz_fail("IOPBUF_IOC_CANCEL returned %ld", r);
}

void do_bad_ioctl(void)
{
	unsigned long req;
	char buf[256];

	switch (rnd(4)) {
	case 0:	/* our magic, any number, any direction/size */
		req = _IOC(rnd(4), IOPBUF_IOC_MAGIC, rnd(256), rnd(512));
		break;
	case 1:	/* a known number with the wrong size */
		req = _IOC(_IOC_WRITE, IOPBUF_IOC_MAGIC, 2 + rnd(6), rnd(128));
		break;
	case 2:	/* anything, on the device only */
		req = (unsigned long)rnd64();
		memset(buf, 0, sizeof(buf));
		ioctl(pick_ctx_fd(), req, arg_ptr(buf));
		return;
	default:	/* common ioctls on the device */
		req = one_in(2) ? FIONREAD : FIONBIO;
		break;
	}
	memset(buf, 0, sizeof(buf));
	ioctl(pick_any_fd(), req, arg_ptr(buf));
}

/*
 * Register a ring of RING_ENTRIES entries (INC one time in three) on
 * context @ci's @fd, page-aligned in a writable region (with @uffd also a
 * userfaultfd one), replacing whatever had its random bgid. Return: its
 * slot, locked, for the caller to fill and ring_publish_good(); NULL if
 * no region fits or the registration failed.
 */
struct ring_slot *ring_register_good(int fd, int ci, bool regbuf,
				     bool uffd)
{
	size_t size = RING_ENTRIES * sizeof(struct iopbuf_buf);
	struct iopbuf_ring_reg reg;
	struct ring_slot *rs;
	struct region *r;
	unsigned int tries;

	for (tries = 0; tries < 8; tries++) {
		r = pick_region();
		if ((r->kind == R_ANON || r->kind == R_MEMFD || r->kind == R_SHM ||
		     (uffd && r->kind == R_UFFD)) && r->len >= size)
			break;
	}
	if (tries == 8)
		return NULL;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uintptr_t)r->p + rnd((uint32_t)((r->len - size) / PAGE + 1)) * PAGE;
	reg.ring_entries = RING_ENTRIES;
	reg.bgid = (uint16_t)rnd(NRING);
	reg.flags = (regbuf ? IOPBUF_RING_REGBUF : 0) | (one_in(3) ? IOPBUF_RING_INC : 0);
	xioctl(fd, IOPBUF_IOC_UNREGISTER_RING, &(struct iopbuf_ring_reg){ .bgid = reg.bgid });
	if (xioctl(fd, IOPBUF_IOC_REGISTER_RING, &reg))
		return NULL;
	rs = &W.ring[reg.bgid];
	pthread_mutex_lock(&rs->lock);
	rs->bufs = (struct iopbuf_buf *)(uintptr_t)reg.ring_addr;
	rs->span = size;
	rs->entries = RING_ENTRIES;
	rs->regbuf = regbuf;
	rs->mmap = false;
	rs->ctx = ci;
	rs->good = true;
	return rs;
}

/* Make every entry of a ring from ring_register_good() the kernel's. */
void ring_publish_good(struct ring_slot *rs)
{
	rs->tail = RING_ENTRIES;
	__atomic_store_n(&rs->bufs[0].resv, rs->tail, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rs->lock);
}

/*
 * A context set up right, so that the data path gets past validation:
 * eight valid buffers registered (or replacing the table's first slots),
 * a ring of RING_ENTRIES entries inside a writable region, filled with
 * valid entries (regbuf encodings within those buffers, or their
 * addresses).
 */
void do_setup_good(void)
{
	struct iovec *iov;
	struct ring_slot *rs;
	struct region *r;
	unsigned int i, n = 0, tries;
	int fd;
	bool regbuf = one_in(2);
	int ci = (int)rnd(NCTX);
	struct {
		uint64_t addr;
		uint32_t len;
	} bufs[8];

	fd = atomic_load(&W.ctx[ci]);
	if (fd < 0) {
		fd = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		atomic_store(&W.ctx[ci], fd);
	}
	iov = make_iovs(8, &n);
	for (i = 0; i < 8; i++) {
		for (tries = 0; tries < 8; tries++) {
			r = pick_region();
			if (r->kind == R_ANON || r->kind == R_MEMFD || r->kind == R_SHM ||
			    r->kind == R_HUGE || r->kind == R_UFFD)
				break;
		}
		iov[i].iov_base = r->p;
		iov[i].iov_len = r->len < 8 * PAGE ? r->len : 8 * PAGE;
		bufs[i].addr = (uintptr_t)r->p;
		bufs[i].len = (uint32_t)iov[i].iov_len;
	}
	{
		struct iopbuf_buf_reg br = { .iovs = (uintptr_t)iov, .nr = 8 };

		if (xioctl(fd, IOPBUF_IOC_REGISTER_BUFFERS, &br) == -EBUSY)
			xioctl(fd, IOPBUF_IOC_UPDATE_BUFFERS, &br);
	}
	/* ring memory: page-aligned inside a writable region */
	rs = ring_register_good(fd, ci, regbuf, true);
	if (!rs)
		return;
	for (i = 0; i < RING_ENTRIES; i++) {
		struct iopbuf_buf *e = &rs->bufs[i];
		unsigned int b = rnd(8);
		uint32_t len = 1 + rnd(bufs[b].len < 4096 ? bufs[b].len : 4096);
		uint64_t off = rnd(bufs[b].len - len + 1);

		e->addr = regbuf ? iopbuf_regbuf_encode(b, off) : bufs[b].addr + off;
		e->len = len;
		e->bid = (uint16_t)i;
	}
	ring_publish_good(rs);
}

/* Kernel-owned buffers: ids count up from 1, so small ids usually exist. */
void do_kbuf_alloc(void)
{
	struct iopbuf_kbuf kb;

	memset(&kb, 0, sizeof(kb));
	switch (rnd(8)) {
	case 0:
		kb.len = wild64();
		break;
	case 1:
		kb.len = 1 + rnd(PAGE);
		break;
	default:
		kb.len = PAGE * (1 + rnd(one_in(8) ? 600 : 16));
		break;
	}
	sometimes_wild32(&kb.id, 20);
	sometimes_wild64_in(kb.resv2, 2, 30);
	xioctl(pick_ctx_fd(), IOPBUF_IOC_KBUF_ALLOC, arg_ptr(&kb));
}

void do_kbuf_free(void)
{
	struct iopbuf_kbuf kb;

	memset(&kb, 0, sizeof(kb));
	kb.id = one_in(10) ? wild32() : 1 + rnd(8);
	sometimes_wild64(&kb.len, 20);
	xioctl(pick_ctx_fd(), IOPBUF_IOC_KBUF_FREE, arg_ptr(&kb));
}

/* ------------------------------------------------------------------------
 * mmap of kernel rings, fdinfo
 */

/*
 * Map ring @bgid into a map slot: mmap anywhere, then mremap onto the
 * slot's reserved range, which is never left unmapped.
 */
void do_mmap(void)
{
	struct map_slot *m = &W.map[rnd(NMAP)];
	uint16_t bgid = pick_bgid();
	uint64_t off = IOPBUF_OFF_RING(bgid);
	size_t len = PAGE * (1 + rnd(one_in(4) ? MAP_SLOT_PAGES : 4));
	void *p, *q;

	if (!m->base)
		return;
	if (one_in(10))
		off = one_in(2) ? (uint64_t)rnd(1 << 20) * PAGE : wild64() & ~(PAGE - 1);
	p = mmap(NULL, len, one_in(10) ? PROT_READ : PROT_READ | PROT_WRITE,
		 one_in(10) ? MAP_PRIVATE : MAP_SHARED, pick_ctx_fd(), (off_t)off);
	if (p == MAP_FAILED)
		return;
	pthread_mutex_lock(&m->lock);
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, m->base);
	if (q == MAP_FAILED) {
		pthread_mutex_unlock(&m->lock);
		munmap(p, len);
		return;
	}
	m->len = len;
	m->bgid = bgid;
	pthread_mutex_unlock(&m->lock);
	if (bgid < NRING) {
		struct ring_slot *rs = &W.ring[bgid];

		pthread_mutex_lock(&rs->lock);
		if (rs->mmap) {
			rs->bufs = (struct iopbuf_buf *)m->base;
			rs->span = len;
		}
		pthread_mutex_unlock(&rs->lock);
	}
}

/* "Unmap" a slot: PROT_NONE over it (the ring mapping goes, the range stays). */
void do_munmap(void)
{
	struct map_slot *m = &W.map[rnd(NMAP)];

	if (!m->base)
		return;
	pthread_mutex_lock(&m->lock);
	mmap(m->base, MAP_SLOT_PAGES * PAGE, PROT_NONE,
	     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	m->len = 0;
	pthread_mutex_unlock(&m->lock);
}

void do_fdinfo(void)
{
	char path[64], buf[4096];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pick_ctx_fd());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}
