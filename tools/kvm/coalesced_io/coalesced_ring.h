/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace side of KVM's coalesced I/O ring: map it, drain it.  Plain C
 * with no dependencies beyond libc and <linux/kvm.h>, so a VMM can copy it
 * as it is.  See Documentation/virt/kvm/api.rst.
 *
 * The ring (struct kvm_coalesced_mmio_ring) is one page per VM in the
 * vCPU mmap, drained before handling each exit (coalesced_ring_map(),
 * coalesced_ring_drain()).
 */
#ifndef COALESCED_RING_H
#define COALESCED_RING_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#ifndef KVM_COALESCED_ZONE_PIO
#define KVM_COALESCED_ZONE_PIO	1U	/* older uapi headers */
#endif

typedef void (*coalesced_entry_fn)(const struct kvm_coalesced_mmio *entry,
				   void *arg);

/*
 * Pass every entry of @ring (@entries slots), oldest first, to @fn and
 * free its slot.  Several threads may drain one ring only if they
 * serialize among themselves.  Returns the number of entries drained.
 */
static inline unsigned int
coalesced_ring_drain_n(struct kvm_coalesced_mmio_ring *ring, uint32_t entries,
		       coalesced_entry_fn fn, void *arg)
{
	uint32_t first = __atomic_load_n(&ring->first, __ATOMIC_RELAXED);
	unsigned int n = 0;

	/* Acquire: the entries below last are complete once we see it. */
	while (first != __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) {
		struct kvm_coalesced_mmio entry;

		if (first >= entries)	/* our own index was scribbled on */
			break;
		memcpy(&entry, &ring->coalesced_mmio[first], sizeof(entry));
		first = (first + 1) % entries;
		/* Release: the slot is copied before KVM may reuse it. */
		__atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
		fn(&entry, arg);
		n++;
	}
	return n;
}

/* Entries in the one-page ring; one slot always stays empty. */
static inline uint32_t coalesced_ring_max(void)
{
	return (getpagesize() - sizeof(struct kvm_coalesced_mmio_ring)) /
	       sizeof(struct kvm_coalesced_mmio);
}

/*
 * Map the coalesced ring of a VM through one of its vCPU fds.  @kvm_fd is the
 * /dev/kvm or VM fd used to ask for KVM_CAP_COALESCED_MMIO.  Returns NULL
 * when coalesced MMIO is not supported or the mapping fails.
 */
static inline struct kvm_coalesced_mmio_ring *
coalesced_ring_map(int kvm_fd, int vcpu_fd)
{
	int page = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	void *ring;

	if (page <= 0)
		return NULL;
	ring = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED,
		    vcpu_fd, (off_t)page * getpagesize());
	return ring == MAP_FAILED ? NULL : ring;
}

/*
 * Drain the coalesced ring.  Call it before handling any exit: the ring then
 * holds exactly the coalesced writes the guest made before that exit.
 */
static inline unsigned int
coalesced_ring_drain(struct kvm_coalesced_mmio_ring *ring,
		     coalesced_entry_fn fn, void *arg)
{
	return coalesced_ring_drain_n(ring, coalesced_ring_max(), fn, arg);
}

#endif /* COALESCED_RING_H */
