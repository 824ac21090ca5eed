// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dedicated coalesced rings: rings of coalesced writes in the VMM's own
 * memory, created and destroyed by ioctl, each with its own size and
 * lock.  The zones that write to them are ordinary
 * coalesced zones (coalesced_mmio.c) bound to a ring by its id.
 *
 * Lifetime of a ring:
 * - the VM owns it: it sits in kvm->coalesced_rings, by id, from
 *   KVM_CREATE_COALESCED_RING to KVM_DESTROY_COALESCED_RING or the VM's
 *   destruction, whichever comes first; nothing else holds it;
 * - the ring holds its pages (a long-term pin, charged to the VM's mm as
 *   pinned memory against RLIMIT_MEMLOCK), so munmap() cannot free what
 *   KVM writes to;
 * - destroy takes the ring out of the xarray and its zones off their bus
 *   under slots_lock; the bus synchronizes SRCU, so once the zones are
 *   gone no vCPU writes to the ring any more and it can be freed.
 */

#include <linux/kvm_host.h>
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>
#include <kvm/iodev.h>

#include "coalesced_mmio.h"

/* Ring ids: 0 to 65535, so that a VM has at most that many rings. */
#define COALESCED_RING_ID_LIMIT	XA_LIMIT(0, U16_MAX)

/*
 * Charge @npages pinned pages to @mm, as RDMA and io_uring do: they count
 * in VmPin and against RLIMIT_MEMLOCK, unless the caller has CAP_IPC_LOCK.
 * Atomic, so that no lock of the mm is taken.
 */
static int coalesced_ring_charge(struct mm_struct *mm, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	s64 pinned = atomic64_add_return(npages, &mm->pinned_vm);

	if (pinned > limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mm->pinned_vm);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Undo whatever part of creating the ring was done: the ring has no zone
 * and is not in kvm->coalesced_rings any more, or never was.
 */
static void coalesced_ring_free(struct kvm *kvm,
				struct kvm_coalesced_ring_dev *ring)
{
	if (ring->map)
		vunmap(ring->map);
	/* KVM wrote to them through its own map: dirty for the page cache. */
	if (ring->pinned)
		unpin_user_pages_dirty_lock(ring->pages, ring->pinned, true);
	kvfree(ring->pages);
	if (ring->npages)
		atomic64_sub(ring->npages, &kvm->mm->pinned_vm);
	kfree(ring);
}

/*
 * Pin the ring's pages at @addr for as long as the ring exists (a
 * long-term pin: fork() gives the child copies of them, never takes them
 * from this process) and map them into the kernel in one piece.  The
 * memory is the VMM's: the header's indexes are checked like on every
 * write, so that a ring that starts out broken is an error now.
 */
static int coalesced_ring_pin(struct kvm *kvm,
			      struct kvm_coalesced_ring_dev *ring, u64 addr)
{
	size_t bytes = KVM_COALESCED_RING_BYTES((size_t)ring->entries);
	unsigned long npages;
	long pinned;
	int r;

	/* Outside user memory: -EFAULT, whatever GUP would answer. */
	if (!access_ok(u64_to_user_ptr(addr), bytes))
		return -EFAULT;
	npages = DIV_ROUND_UP(offset_in_page(addr) + bytes, PAGE_SIZE);
	r = coalesced_ring_charge(kvm->mm, npages);
	if (r)
		return r;
	ring->npages = npages;

	ring->pages = kvcalloc(npages, sizeof(*ring->pages), GFP_KERNEL_ACCOUNT);
	if (!ring->pages)
		return -ENOMEM;
	pinned = pin_user_pages_fast(addr & PAGE_MASK, npages,
				     FOLL_WRITE | FOLL_LONGTERM, ring->pages);
	if (pinned > 0)
		ring->pinned = pinned;
	if (pinned != npages)
		return pinned < 0 ? pinned : -EFAULT;

	ring->map = vmap(ring->pages, npages, VM_MAP, PAGE_KERNEL);
	if (!ring->map)
		return -ENOMEM;
	ring->ring = ring->map + offset_in_page(addr);

	if (READ_ONCE(ring->ring->first) >= ring->entries ||
	    READ_ONCE(ring->ring->last) >= ring->entries)
		return -EINVAL;
	return 0;
}

/*
 * Every field strictly: a ring of 2 to KVM_COALESCED_RING_MAX_ENTRIES
 * entries at an 8-byte aligned address that does not wrap, no flags, and
 * the padding zeroed.
 */
static int coalesced_ring_check(const struct kvm_coalesced_ring *req)
{
	u64 end;

	if (req->flags || req->pad[0] || req->pad[1] || req->entries < 2 ||
	    req->entries > KVM_COALESCED_RING_MAX_ENTRIES ||
	    !IS_ALIGNED(req->addr, 8) || req->addr != (unsigned long)req->addr ||
	    check_add_overflow(req->addr,
			       (u64)KVM_COALESCED_RING_BYTES((u64)req->entries),
			       &end))
		return -EINVAL;
	return 0;
}

int kvm_vm_ioctl_create_coalesced_ring(struct kvm *kvm,
				       const struct kvm_coalesced_ring *req)
{
	struct kvm_coalesced_ring_dev *ring;
	u32 id;
	int r;

	r = coalesced_ring_check(req);
	if (r)
		return r;

	ring = kzalloc_obj(*ring, GFP_KERNEL_ACCOUNT);
	if (!ring)
		return -ENOMEM;
	spin_lock_init(&ring->lock);
	ring->entries = req->entries;
	r = coalesced_ring_pin(kvm, ring, req->addr);
	if (r)
		goto free;

	/* slots_lock: zones look rings up, and destroy erases them, under it. */
	mutex_lock(&kvm->slots_lock);
	r = xa_alloc(&kvm->coalesced_rings, &id, ring, COALESCED_RING_ID_LIMIT,
		     GFP_KERNEL_ACCOUNT);
	mutex_unlock(&kvm->slots_lock);
	if (r == -EBUSY)
		r = -ENOSPC;
	if (r)
		goto free;
	return id;

free:
	coalesced_ring_free(kvm, ring);
	return r;
}

/*
 * Take the ring out of the VM, then its zones off their buses (which waits
 * out every vCPU inside a write through them), then free it: a write to
 * one of its ranges from now on exits.  The entries already in the ring
 * stay in the VMM's memory, for it to read.
 */
int kvm_vm_ioctl_destroy_coalesced_ring(struct kvm *kvm, unsigned long id)
{
	struct kvm_coalesced_ring_dev *ring;

	mutex_lock(&kvm->slots_lock);
	ring = xa_erase(&kvm->coalesced_rings, id);
	if (ring)
		kvm_coalesced_mmio_remove_ring_zones(kvm, ring);
	mutex_unlock(&kvm->slots_lock);
	if (!ring)
		return -ENOENT;
	coalesced_ring_free(kvm, ring);
	return 0;
}

/* The ring with this id, or NULL; slots_lock is held. */
struct kvm_coalesced_ring_dev *kvm_coalesced_ring_find(struct kvm *kvm, u32 id)
{
	lockdep_assert_held(&kvm->slots_lock);
	return xa_load(&kvm->coalesced_rings, id);
}

void kvm_coalesced_rings_init(struct kvm *kvm)
{
	xa_init_flags(&kvm->coalesced_rings, XA_FLAGS_ALLOC);
}

/*
 * At VM destruction, after the buses: every zone is gone and no other
 * user of the VM is left.
 */
void kvm_coalesced_rings_free(struct kvm *kvm)
{
	struct kvm_coalesced_ring_dev *ring;
	unsigned long id;

	xa_for_each(&kvm->coalesced_rings, id, ring)
		coalesced_ring_free(kvm, ring);
	xa_destroy(&kvm->coalesced_rings);
}
