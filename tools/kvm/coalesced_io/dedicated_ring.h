/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace side of KVM's dedicated coalesced rings
 * (KVM_CAP_COALESCED_RING): a ring in our own memory that KVM pins, of any
 * number of entries, with an eventfd that KVM signals when it fills up to
 * a threshold, so that an I/O thread can wait and drain while vCPUs run
 * (dedicated_ring_create(), dedicated_ring_wait(), dedicated_ring_drain(),
 * ...).  Its layout is that of the ring in the vCPU mmap, so it drains
 * with the same code (coalesced_ring.h).  Plain C with no dependencies
 * beyond libc and <linux/kvm.h>, so a VMM can copy it as it is.  See
 * Documentation/virt/kvm/api.rst and Documentation/virt/kvm/coalesced-io.rst.
 */
#ifndef DEDICATED_RING_H
#define DEDICATED_RING_H

#include <poll.h>
#include <sys/eventfd.h>
#include "coalesced_ring.h"

#ifdef KVM_CAP_COALESCED_RING

struct dedicated_ring {
	int vm_fd;
	int id;					/* KVM's id of the ring */
	int eventfd;				/* -1: none */
	uint32_t entries;			/* slots, one stays free */
	size_t bytes;				/* the ring's, header first */
	struct kvm_coalesced_mmio_ring *ring;	/* our memory, pinned */
	bool own_mem;				/* mmap()ed by create */
};

/* No ring yet: dedicated_ring_destroy() does nothing. */
#define DEDICATED_RING_INIT	{ .id = -1, .eventfd = -1 }

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
 * (zeroed will do).  With @notify_entries (1 to @entries - 1), KVM signals
 * an eventfd each time the ring fills up to that many:
 * dedicated_ring_wait() waits for it; 0: no eventfd, drain at exits
 * only.  KVM pins the memory (it counts against RLIMIT_MEMLOCK) until
 * the ring is destroyed.  Returns 0, or -1 with errno set (and @buf->id
 * == -1); the memory stays the caller's either way.
 */
static inline int dedicated_ring_create_at(struct dedicated_ring *buf,
					   int vm_fd, void *mem,
					     uint32_t entries,
					     uint32_t notify_entries)
{
	struct kvm_coalesced_ring req = {
		.addr = (uintptr_t)mem, .entries = entries, .eventfd = -1,
		.notify_entries = notify_entries,
	};
	int err;

	buf->vm_fd = vm_fd;
	buf->entries = entries;
	buf->bytes = KVM_COALESCED_RING_BYTES((size_t)entries);
	buf->ring = mem;
	buf->own_mem = false;
	buf->eventfd = -1;
	if (notify_entries) {
		buf->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (buf->eventfd < 0)
			return buf->id = -1;
		req.eventfd = buf->eventfd;
	}
	buf->id = ioctl(vm_fd, KVM_CREATE_COALESCED_RING, &req);
	if (buf->id >= 0)
		return 0;
	err = errno;
	if (buf->eventfd >= 0)
		close(buf->eventfd);
	buf->eventfd = -1;
	errno = err;
	return -1;
}

/* The same in fresh anonymous memory of its own, freed by destroy. */
static inline int dedicated_ring_create(struct dedicated_ring *buf,
					int vm_fd, uint32_t entries,
					  uint32_t notify_entries)
{
	size_t bytes = KVM_COALESCED_RING_BYTES((size_t)entries);
	void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int err;

	buf->id = -1;
	if (mem == MAP_FAILED)
		return -1;
	if (!dedicated_ring_create_at(buf, vm_fd, mem, entries,
				      notify_entries)) {
		buf->own_mem = true;
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
static inline int dedicated_ring_zone(const struct dedicated_ring *buf,
				      unsigned long ioctl_nr, uint64_t addr,
					uint32_t size, uint32_t flags)
{
	struct kvm_coalesced_ring_zone zone = {
		.addr = addr, .size = size, .flags = flags,
		.ring = (uint32_t)buf->id,
	};

	return ioctl(buf->vm_fd, ioctl_nr, &zone);
}

static inline unsigned int
dedicated_ring_drain(struct dedicated_ring *buf, coalesced_entry_fn fn,
		     void *arg)
{
	return coalesced_ring_drain_n(buf->ring, buf->entries, fn, arg);
}

/*
 * Wait up to @timeout_ms (-1: forever) for the eventfd, and reset it.
 * Returns 1 when KVM signalled it, 0 on timeout, -1 with errno set on
 * error.  KVM signals once per rise of the ring to the threshold: drain
 * it below the threshold (normally, empty) before waiting again.
 */
static inline int dedicated_ring_wait(const struct dedicated_ring *buf,
				      int timeout_ms)
{
	struct pollfd pfd = { .fd = buf->eventfd, .events = POLLIN };
	uint64_t count;
	int r = poll(&pfd, 1, timeout_ms);

	if (r <= 0)
		return r;
	if (read(buf->eventfd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -1;
	return 1;
}

/*
 * Destroy the ring: KVM unbinds its zones, so writes there exit again,
 * and unpins the memory; then close the eventfd and free the memory if it
 * is ours.  The entries still in the ring can be read until then.  Twice
 * is harmless; with @buf->id set to -1 first (the VM is gone, and the
 * ring with it), only the eventfd and the memory are freed.
 */
static inline void dedicated_ring_destroy(struct dedicated_ring *buf)
{
	if (buf->id >= 0)
		ioctl(buf->vm_fd, KVM_DESTROY_COALESCED_RING,
		      (unsigned long)buf->id);
	buf->id = -1;
	if (buf->eventfd >= 0)
		close(buf->eventfd);
	buf->eventfd = -1;
	if (buf->own_mem && buf->ring)
		munmap(buf->ring, buf->bytes);
	buf->ring = NULL;
}

#endif /* KVM_CAP_COALESCED_RING */
#endif /* DEDICATED_RING_H */
