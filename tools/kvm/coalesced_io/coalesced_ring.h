/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace side of KVM's coalesced I/O rings: map them, drain them, wait
 * for them.  Plain C with no dependencies beyond libc and <linux/kvm.h>,
 * so a VMM can copy it as it is.  See Documentation/virt/kvm/api.rst and
 * Documentation/virt/kvm/coalesced-io.rst.
 *
 * Two kinds of ring share one layout (struct kvm_coalesced_mmio_ring):
 * - the legacy ring: one page per VM in the vCPU mmap, drained before
 *   handling each exit (coalesced_ring_map(), coalesced_ring_drain());
 * - dedicated rings (KVM_CAP_COALESCED_MMIO2): a buffer fd of a chosen
 *   size, which an I/O thread can poll() and drain while vCPUs run
 *   (coalesced_buffer_create(), coalesced_buffer_drain(), ...).
 */
#ifndef COALESCED_RING_H
#define COALESCED_RING_H

#include <errno.h>
#include <poll.h>
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

/* --- the legacy ring ---------------------------------------------------- */

/* Entries in the one-page legacy ring; one slot always stays empty. */
static inline uint32_t coalesced_ring_max(void)
{
	return (getpagesize() - sizeof(struct kvm_coalesced_mmio_ring)) /
	       sizeof(struct kvm_coalesced_mmio);
}

/*
 * Map the legacy ring of a VM through one of its vCPU fds.  @kvm_fd is the
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
 * Drain the legacy ring.  Call it before handling any exit: the ring then
 * holds exactly the coalesced writes the guest made before that exit.
 */
static inline unsigned int
coalesced_ring_drain(struct kvm_coalesced_mmio_ring *ring,
		     coalesced_entry_fn fn, void *arg)
{
	return coalesced_ring_drain_n(ring, coalesced_ring_max(), fn, arg);
}

/* --- dedicated rings ---------------------------------------------------- */
#ifdef KVM_CAP_COALESCED_MMIO2

struct coalesced_buffer {
	int fd;					/* the buffer fd */
	uint32_t pages;				/* ring size in pages */
	uint32_t entries;			/* slots, one stays free */
	struct kvm_coalesced_mmio_ring *ring;	/* the mapping */
};

/*
 * The largest dedicated ring in pages, or 0 when the kernel has none.
 * @fd: /dev/kvm or a VM fd.
 */
static inline uint32_t coalesced_buffer_max_pages(int fd)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO2);

	return r > 0 ? r : 0;
}

/*
 * The smallest ring (a power of two of pages) that holds @writes entries
 * with one slot free, or 0 if none up to @max_pages does.
 */
static inline uint32_t coalesced_buffer_pages_for(uint64_t writes,
						  uint32_t max_pages)
{
	uint32_t pages;

	for (pages = 1; pages && pages <= max_pages; pages *= 2)
		if (KVM_COALESCED_MMIO_RING_ENTRIES((uint64_t)pages *
						    getpagesize()) > writes)
			return pages;
	return 0;
}

/*
 * Create a dedicated ring of @pages pages for the VM @vm_fd and map it.
 * poll() on it wakes once @wake_entries entries are pending (0 or 1: at
 * the first; more: a thread draining bursts wakes once per that many
 * writes, and drains the rest after a poll() timeout or at an exit).
 * Returns 0, or -1 with errno set (and @buf->fd == -1).
 */
static inline int coalesced_buffer_create(struct coalesced_buffer *buf,
					  int vm_fd, uint32_t pages,
					  uint32_t wake_entries)
{
	struct kvm_coalesced_mmio_buffer req = {
		.pages = pages, .wake_entries = wake_entries,
	};
	void *ring;
	int err;

	buf->fd = ioctl(vm_fd, KVM_CREATE_COALESCED_MMIO_BUFFER, &req);
	if (buf->fd < 0)
		return -1;
	buf->pages = pages;
	buf->entries = req.ring_entries;
	ring = mmap(NULL, (size_t)pages * getpagesize(),
		    PROT_READ | PROT_WRITE, MAP_SHARED, buf->fd, 0);
	if (ring == MAP_FAILED) {
		err = errno;
		close(buf->fd);
		buf->fd = -1;
		errno = err;
		return -1;
	}
	buf->ring = ring;
	return 0;
}

/*
 * Bind a zone (KVM_REGISTER_COALESCED_MMIO2) or unbind the zones inside a
 * range (KVM_UNREGISTER_COALESCED_MMIO2): @ioctl_nr is one of the two,
 * @flags 0 (MMIO) or KVM_COALESCED_ZONE_PIO.  Returns the ioctl's result.
 */
static inline int coalesced_buffer_zone(const struct coalesced_buffer *buf,
					int vm_fd, unsigned long ioctl_nr,
					uint64_t addr, uint32_t size,
					uint32_t flags)
{
	struct kvm_coalesced_mmio_zone2 zone = {
		.addr = addr, .size = size, .pio = flags,
		.buffer_fd = (uint32_t)buf->fd,
	};

	return ioctl(vm_fd, ioctl_nr, &zone);
}

static inline unsigned int
coalesced_buffer_drain(struct coalesced_buffer *buf, coalesced_entry_fn fn,
		       void *arg)
{
	return coalesced_ring_drain_n(buf->ring, buf->entries, fn, arg);
}

/*
 * Wait up to @timeout_ms (-1: forever) until the ring holds the entries
 * that wake it.  Returns 1 when it does, 0 on timeout, -1 with errno set
 * on error.
 */
static inline int coalesced_buffer_wait(const struct coalesced_buffer *buf,
					int timeout_ms)
{
	struct pollfd pfd = { .fd = buf->fd, .events = POLLIN };
	int r = poll(&pfd, 1, timeout_ms);

	return r > 0 ? !!(pfd.revents & POLLIN) : r;
}

/*
 * Unmap and close: once no other fd or mapping refers to the buffer, KVM
 * unregisters its zones, and writes there exit again.
 */
static inline void coalesced_buffer_destroy(struct coalesced_buffer *buf)
{
	if (buf->fd < 0)
		return;
	munmap(buf->ring, (size_t)buf->pages * getpagesize());
	close(buf->fd);
	buf->fd = -1;
}

#endif /* KVM_CAP_COALESCED_MMIO2 */
#endif /* COALESCED_RING_H */
