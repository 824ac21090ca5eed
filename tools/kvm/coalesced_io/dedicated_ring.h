/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace side of KVM's dedicated coalesced rings
 * (KVM_CAP_COALESCED_RING): a ring in our own memory that KVM pins, of any
 * number of entries, that any thread can drain while vCPUs run
 * (dedicated_ring_create(), dedicated_ring_drain(), ...).  Its layout is
 * that of the ring in the vCPU mmap, so it drains with the same code
 * (coalesced_ring.h).  Plain C with no dependencies beyond libc and
 * <linux/kvm.h>, so a VMM can copy it as it is.  See
 * Documentation/virt/kvm/api.rst and Documentation/virt/kvm/coalesced-io.rst.
 */
#ifndef DEDICATED_RING_H
#define DEDICATED_RING_H

#include "coalesced_ring.h"

#ifdef KVM_CAP_COALESCED_RING

struct dedicated_ring {
	int vm_fd;
	int id;					/* KVM's id of the ring */
	uint32_t entries;			/* slots, one stays free */
	size_t bytes;				/* the ring's, header first */
	struct kvm_coalesced_mmio_ring *ring;	/* our memory, pinned */
	bool own_mem;				/* mmap()ed by create */
};

/* No ring yet: dedicated_ring_destroy() does nothing. */
#define DEDICATED_RING_INIT	{ .id = -1 }

/*
 * The most entries a dedicated ring may have, or 0 when the kernel has
 * no dedicated rings.  @fd: /dev/kvm or a VM fd.
 */
static inline uint32_t dedicated_ring_max_entries(int fd)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_RING);

	return r > 0 ? r : 0;
}

/*
 * Give the VM @vm_fd a dedicated ring of @entries entries (2 to
 * dedicated_ring_max_entries()) in our memory at @mem, 8-byte aligned,
 * KVM_COALESCED_RING_BYTES(@entries) long and holding an empty ring
 * (zeroed will do).  The ring is drained at exits, or by any thread at
 * any time.  KVM pins the memory (it counts against RLIMIT_MEMLOCK) until
 * the ring is destroyed.  Returns 0, or -1 with errno set (and @dr->id
 * == -1); the memory stays the caller's either way.
 */
static inline int dedicated_ring_create_at(struct dedicated_ring *dr,
					   int vm_fd, void *mem,
					   uint32_t entries)
{
	struct kvm_coalesced_ring req = {
		.addr = (uintptr_t)mem, .entries = entries,
	};

	dr->vm_fd = vm_fd;
	dr->entries = entries;
	dr->bytes = KVM_COALESCED_RING_BYTES((size_t)entries);
	dr->ring = mem;
	dr->own_mem = false;
	dr->id = ioctl(vm_fd, KVM_CREATE_COALESCED_RING, &req);
	return dr->id >= 0 ? 0 : -1;
}

/* The same in fresh anonymous memory of its own, freed by destroy. */
static inline int dedicated_ring_create(struct dedicated_ring *dr,
					int vm_fd, uint32_t entries)
{
	size_t bytes = KVM_COALESCED_RING_BYTES((size_t)entries);
	void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int err;

	/* Whatever happens, @dr is one that destroy can take. */
	*dr = (struct dedicated_ring)DEDICATED_RING_INIT;
	if (mem == MAP_FAILED)
		return -1;
	if (!dedicated_ring_create_at(dr, vm_fd, mem, entries)) {
		dr->own_mem = true;
		return 0;
	}
	err = errno;
	munmap(mem, bytes);
	errno = err;
	return -1;
}

/*
 * Bind a zone (KVM_REGISTER_COALESCED_RING_ZONE) or unbind the zones inside a
 * range (KVM_UNREGISTER_COALESCED_RING_ZONE): @ioctl_nr is one of the two,
 * @flags 0 (MMIO) or KVM_COALESCED_ZONE_PIO.  Returns the ioctl's result.
 */
static inline int dedicated_ring_zone(const struct dedicated_ring *dr,
				      unsigned long ioctl_nr, uint64_t addr,
				      uint32_t size, uint32_t flags)
{
	struct kvm_coalesced_ring_zone zone = {
		.addr = addr, .size = size, .flags = flags,
		.ring = (uint32_t)dr->id,
	};

	return ioctl(dr->vm_fd, ioctl_nr, &zone);
}

static inline unsigned int
dedicated_ring_drain(struct dedicated_ring *dr, coalesced_entry_fn fn,
		     void *arg)
{
	return coalesced_ring_drain_n(dr->ring, dr->entries, fn, arg);
}

/*
 * Destroy the ring: KVM unbinds its zones, so writes there exit again,
 * and unpins the memory; then free the memory if it is ours.  The entries
 * still in the ring can be read until then.  Twice is harmless; with
 * @dr->id set to -1 first (the VM is gone, and the ring with it), only
 * the memory is freed.
 */
static inline void dedicated_ring_destroy(struct dedicated_ring *dr)
{
	if (dr->id >= 0)
		ioctl(dr->vm_fd, KVM_DESTROY_COALESCED_RING,
		      (unsigned long)dr->id);
	dr->id = -1;
	if (dr->own_mem && dr->ring)
		munmap(dr->ring, dr->bytes);
	dr->ring = NULL;
}

#endif /* KVM_CAP_COALESCED_RING */
#endif /* DEDICATED_RING_H */
