// SPDX-License-Identifier: GPL-2.0
/*
 * Long-term pinning of user memory, restricted to memory that may be
 * pinned safely: anonymous, shmem (memfd, tmpfs, SysV shm) and hugetlb.
 *
 * Pinning page-cache pages of other file systems for the long term breaks
 * their writeback; kernels since about 6.5 refuse it inside GUP with
 * -EFAULT, 6.1 does not. Checking ourselves gives the same answer, with
 * the same errno (-EOPNOTSUPP), on every kernel.
 */
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>

#include "pbuf.h"

static bool pbuf_sb_pinnable(const struct super_block *sb)
{
	return sb->s_magic == TMPFS_MAGIC || sb->s_magic == HUGETLBFS_MAGIC;
}

/**
 * pbuf_pin_check_vmas - may [@start, @start + @len) be pinned?
 * @start: user address
 * @len: bytes, with @start + @len not wrapping
 *
 * Gives the precise errno before GUP runs; pbuf_pin_pages() checks again
 * on the pinned folios, since the mappings can change in between.
 *
 * Return: 0, -EFAULT for a hole, -EOPNOTSUPP for a file mapping other than
 * shmem or hugetlbfs, -EINTR when killed while waiting for mmap_lock.
 */
int pbuf_pin_check_vmas(unsigned long start, unsigned long len)
{
	struct mm_struct *mm = current->mm;
	unsigned long end = start + len;
	struct vm_area_struct *vma;
	int ret = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	while (start < end) {
		vma = find_vma(mm, start);
		/* a hole, or memory the buffer could not be written through */
		if (!vma || vma->vm_start > start ||
		    !(vma->vm_flags & VM_WRITE)) {
			ret = -EFAULT;
			break;
		}
		if (!vma_is_anonymous(vma) &&
		    (!vma->vm_file ||
		     !pbuf_sb_pinnable(file_inode(vma->vm_file)->i_sb))) {
			ret = -EOPNOTSUPP;
			break;
		}
		start = vma->vm_end;
	}
	mmap_read_unlock(mm);
	return ret;
}

/*
 * The folio lock keeps ->mapping, and so the inode behind it, stable: a
 * truncation clears ->mapping under the lock, and eviction waits for it.
 */
static bool pbuf_folio_pinnable(struct folio *folio)
{
	struct address_space *mapping;
	bool ok;

	if (folio_test_anon(folio))
		return true;
	folio_lock(folio);
	mapping = folio->mapping;
	ok = mapping && mapping->host && pbuf_sb_pinnable(mapping->host->i_sb);
	folio_unlock(folio);
	return ok;
}

/**
 * pbuf_pin_pages - pin exactly @nr pages from @start for the long term
 * @start: page-aligned user address
 * @nr: pages to pin
 * @pages: receives the pinned pages
 *
 * Return: 0 with all @nr pages pinned, or an error with none pinned:
 * -EFAULT, -ENOMEM, -EOPNOTSUPP (memory of a kind that may not be pinned).
 */
int pbuf_pin_pages(unsigned long start, unsigned int nr, struct page **pages)
{
	struct folio *prev = NULL;
	unsigned int i;
	int ret;

	ret = pin_user_pages_fast(start, nr, FOLL_WRITE | FOLL_LONGTERM, pages);
	if (ret < 0)
		return ret;
	if (ret < nr) {
		unpin_user_pages(pages, ret);
		return -EFAULT;
	}
	for (i = 0; i < nr; i++) {
		struct folio *folio = page_folio(pages[i]);

		if (folio == prev)
			continue;
		if (!pbuf_folio_pinnable(folio)) {
			unpin_user_pages(pages, nr);
			return -EOPNOTSUPP;
		}
		prev = folio;
	}
	return 0;
}
