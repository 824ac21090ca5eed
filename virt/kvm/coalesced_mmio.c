// SPDX-License-Identifier: GPL-2.0-only
/*
 * Coalesced I/O: guest writes that need no immediate answer (the RTC index
 * port 0x70, the PCI config address port 0xcf8, framebuffer MMIO, ...) are
 * appended to a ring shared with userspace instead of exiting.  The VMM
 * replays the ring, in order, before it handles the next exit.
 *
 * A zone is one kvm_io_device on KVM_MMIO_BUS or, with
 * KVM_COALESCED_ZONE_PIO, on KVM_PIO_BUS.  It takes the writes it holds
 * and, with KVM_COALESCED_ZONE_BY_START, also the naturally aligned ones
 * that start in it and end past it: its range on the bus then reaches as
 * far past its end as the widest write that can start in it, since the
 * bus offers a device only the accesses its range holds.  It writes to
 * one of two kinds of ring, both laid out as struct kvm_coalesced_mmio_ring:
 * - the legacy ring: one zeroed page per VM, mapped by userspace at
 *   KVM_COALESCED_MMIO_PAGE_OFFSET of the vCPU fd;
 * - a dedicated buffer (KVM_CREATE_COALESCED_MMIO_BUFFER): a ring of a
 *   power-of-two number of pages behind its own fd, which userspace maps
 *   and polls.  The fd holds a reference to the VM; its release removes
 *   the buffer's zones before the ring is freed.
 *
 * Locking:
 * - kvm->slots_lock serializes register and unregister and protects
 *   kvm->coalesced_zones (the list of our zones);
 * - kvm->srcu keeps a zone alive while a vCPU writes through it: the bus
 *   code synchronizes SRCU before an unregistered zone can be freed, so a
 *   buffer outlives every write to its ring;
 * - kvm->ring_lock serializes the producers (vCPUs) of the legacy ring,
 *   buffer->lock those of a dedicated ring (and the buffer's counters).
 *   The consumer is userspace and takes no lock: it owns ring->first;
 * - the stats counters are the writing vCPU's own: no lock.
 */

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/kvm.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <kvm/iodev.h>

#include "coalesced_mmio.h"

#define CREATE_TRACE_POINTS
#include <trace/events/kvm_coalesced.h>

/* One I/O port space: 0 to 0xffff. */
#define COALESCED_PIO_LIMIT	0x10000ULL

/* Bits userspace may set in kvm_coalesced_mmio_zone.pio (a flags field). */
#define COALESCED_ZONE_VALID_FLAGS \
	(KVM_COALESCED_ZONE_PIO | KVM_COALESCED_ZONE_BY_START)

/* The widest write on each bus: in/out and MMIO emulation's limits. */
#define COALESCED_PIO_MAX_WIDTH		4
#define COALESCED_MMIO_MAX_WIDTH \
	((u32)sizeof_field(struct kvm_coalesced_mmio, data))

static bool disable_coalesced_pio;
module_param(disable_coalesced_pio, bool, 0644);
MODULE_PARM_DESC(disable_coalesced_pio,
		 "Hide KVM_CAP_COALESCED_PIO and refuse port-I/O zones (for comparisons)");

/* A dedicated ring and the fd behind it. */
struct coalesced_buffer {
	struct kvm *kvm;		/* referenced until release */
	struct kvm_coalesced_mmio_ring *ring;	/* vmalloc_user(), mmap()ed */
	u32 pages;
	u32 slots;			/* entries in ring->coalesced_mmio[] */
	u32 wake_entries;		/* poll() readable from this many on */
	spinlock_t lock;		/* serializes producers; guards counters */
	wait_queue_head_t readers;	/* poll() */
	u64 writes;
	u64 ring_full_exits;
	u64 bad_index_exits;
};

struct coalesced_zone {
	struct kvm_io_device dev;
	struct list_head node;		/* in kvm->coalesced_zones */
	struct kvm *kvm;
	struct coalesced_buffer *buffer; /* NULL: the legacy ring */
	u64 start;
	u32 len;
	u32 bus_len;			/* len, or wider with by_start */
	bool pio;
	bool by_start;			/* KVM_COALESCED_ZONE_BY_START */
};

static const struct file_operations coalesced_buffer_fops;

static inline struct coalesced_zone *to_zone(struct kvm_io_device *dev)
{
	return container_of(dev, struct coalesced_zone, dev);
}

bool kvm_coalesced_pio_enabled(void)
{
	return !READ_ONCE(disable_coalesced_pio);
}

u32 kvm_coalesced_zone_flags(void)
{
	if (kvm_coalesced_pio_enabled())
		return COALESCED_ZONE_VALID_FLAGS;
	return COALESCED_ZONE_VALID_FLAGS & ~KVM_COALESCED_ZONE_PIO;
}

/* Is [addr, addr + len) wholly inside the zone? */
static bool zone_holds(const struct coalesced_zone *zone, gpa_t addr, int len)
{
	u64 offset = addr - zone->start;

	/* Written so that nothing can wrap around. */
	return addr >= zone->start && offset < zone->len && len > 0 &&
	       len <= zone->len - offset;
}

/* Unlink and free a zone; slots_lock is held, or the VM has no users. */
static void zone_free(struct coalesced_zone *zone)
{
	list_del(&zone->node);
	kfree(zone);
}

/*
 * The bus code is the zone's only freer: kvm_io_bus_unregister_dev() calls
 * this after SRCU has synced (under slots_lock, for the zone it removes or,
 * when it fails, for every device of the bus it destroys), and so does VM
 * destruction, when no other user of the VM is left.
 */
static void coalesced_zone_destructor(struct kvm_io_device *dev)
{
	zone_free(to_zone(dev));
}

/* Entries between @first and @last, both below @slots. */
static inline u32 ring_used(u32 first, u32 last, u32 slots)
{
	return last >= first ? last - first : last + slots - first;
}

/*
 * The entry's data: the @len bytes at @val, zero-padded.  The common sizes
 * are one load and one store, not a call to memcpy() and memset().
 */
static __always_inline void entry_set_data(struct kvm_coalesced_mmio *entry,
					   const void *val, int len)
{
	u64 data;
	u32 d4;
	u16 d2;

	/* memcpy() of a constant size is one load, aligned or not. */
	switch (len) {
	case 1:
		data = *(const u8 *)val;
		break;
	case 2:
		memcpy(&d2, val, 2);
		data = d2;
		break;
	case 4:
		memcpy(&d4, val, 4);
		data = d4;
		break;
	case 8:
		memcpy(&data, val, 8);
		break;
	default:	/* odd sizes, from MMIO emulation only */
		memset(entry->data, 0, sizeof(entry->data));
		memcpy(entry->data, val, len);
		return;
	}
	/* The value's bytes first, in memory order, as memcpy() puts them. */
	if (IS_ENABLED(CONFIG_CPU_BIG_ENDIAN))
		data <<= 64 - 8 * len;
	memcpy(entry->data, &data, sizeof(data));
}

/*
 * Append one write to @ring of @slots entries; the caller holds the lock
 * of its producers.  Returns the entries now in the ring if @want_used,
 * else 1; -ENOSPC when it is full, or -ERANGE when an index userspace left
 * in the shared page is out of range.  Inlined into each caller: the
 * legacy ring's @slots is a constant there, it does not count the entries,
 * and the hot path has no call to make.
 */
static __always_inline int ring_append(struct kvm_coalesced_mmio_ring *ring,
				       u32 slots, gpa_t addr, int len,
				       const void *val, bool pio,
				       bool want_used)
{
	struct kvm_coalesced_mmio *entry;
	u32 first, last, next;

	/*
	 * Userspace can write anything to the shared page at any time: load
	 * each index exactly once and use only the checked local copies.
	 */
	first = READ_ONCE(ring->first);
	last = READ_ONCE(ring->last);
	if (unlikely(first >= slots || last >= slots))
		return -ERANGE;
	next = last + 1 == slots ? 0 : last + 1;
	/* One slot stays empty, so first == last always means "empty". */
	if (unlikely(next == first))
		return -ENOSPC;

	entry = &ring->coalesced_mmio[last];
	entry->phys_addr = addr;
	entry->len = len;
	entry->pio = pio ? KVM_COALESCED_ZONE_PIO : 0;
	entry_set_data(entry, val, len);

	/*
	 * The entry must be visible before the index that publishes it;
	 * pairs with the consumer's read barrier between loading ring->last
	 * and reading the entries below it.
	 */
	smp_wmb();
	WRITE_ONCE(ring->last, next);
	trace_kvm_coalesced_write(addr, len, pio, last);
	return want_used ? ring_used(first, next, slots) : 1;
}

/*
 * Count a write in the vCPU's stats (ring_append()'s result @r): only the
 * vCPU's own thread writes them, so no lock, and no VM-wide cache line.
 */
static __always_inline void count_write(struct kvm_vcpu *vcpu,
					const struct coalesced_zone *zone,
					int r)
{
	struct kvm_vcpu_stat_generic *stat = &vcpu->stat.generic;

	if (likely(r > 0)) {
		if (zone->pio)
			stat->coalesced_pio_writes++;
		else
			stat->coalesced_mmio_writes++;
	} else if (r == -ENOSPC) {
		stat->coalesced_ring_full_exits++;
	} else {
		stat->coalesced_bad_index_exits++;
	}
}

/*
 * KVM_COALESCED_ZONE_BY_START's extra writes: naturally aligned, first
 * byte in the zone.  The bus offered only writes of at most the bus's
 * widest that start at or after zone->start, so none can wrap.
 */
static bool zone_takes_by_start(const struct coalesced_zone *zone,
				gpa_t addr, int len)
{
	return zone->by_start && addr - zone->start < zone->len &&
	       is_power_of_2(len) && IS_ALIGNED(addr, len);
}

/*
 * Is this write one for the zone's ring?  Not when it is too wide for an
 * entry, nor when it is not wholly inside the zone (an access that
 * straddles its end), unless the zone takes writes by their start.
 */
static __always_inline bool zone_takes(const struct coalesced_zone *zone,
				       gpa_t addr, int len)
{
	if (unlikely(len > (int)COALESCED_MMIO_MAX_WIDTH))
		return false;
	return likely(zone_holds(zone, addr, len)) ||
	       zone_takes_by_start(zone, addr, len);
}

/*
 * The write callbacks return nonzero, so that the write exits to
 * userspace like an uncoalesced one, when the zone does not take it, when
 * the ring is full or when an index userspace left in the ring is out of
 * range.  Legacy and dedicated zones have ops of their own, so that
 * neither path tests which ring it writes to.
 */

/* A zone of the legacy ring. */
static int legacy_zone_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			     gpa_t addr, int len, const void *val)
{
	struct coalesced_zone *zone = to_zone(dev);
	struct kvm *kvm = zone->kvm;
	int r;

	if (!zone_takes(zone, addr, len))
		return -EOPNOTSUPP;

	spin_lock(&kvm->ring_lock);
	r = ring_append(kvm->coalesced_mmio_ring, KVM_COALESCED_MMIO_MAX,
			addr, len, val, zone->pio, false);
	spin_unlock(&kvm->ring_lock);
	count_write(vcpu, zone, r);
	return r > 0 ? 0 : -EOPNOTSUPP;
}

/* A zone of a dedicated ring. */
static int buffer_zone_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			     gpa_t addr, int len, const void *val)
{
	struct coalesced_zone *zone = to_zone(dev);
	struct coalesced_buffer *buffer = zone->buffer;
	int r;

	if (!zone_takes(zone, addr, len))
		return -EOPNOTSUPP;

	spin_lock(&buffer->lock);
	r = ring_append(buffer->ring, buffer->slots, addr, len, val, zone->pio,
			true);
	if (likely(r > 0))
		buffer->writes++;
	else if (r == -ENOSPC)
		buffer->ring_full_exits++;
	else
		buffer->bad_index_exits++;
	spin_unlock(&buffer->lock);
	count_write(vcpu, zone, r);

	if (r <= 0)
		return -EOPNOTSUPP;
	/*
	 * Full barrier between publishing ring->last and looking for
	 * sleepers; pairs with the one in coalesced_buffer_poll().
	 */
	if (r >= buffer->wake_entries && wq_has_sleeper(&buffer->readers))
		wake_up_interruptible_poll(&buffer->readers,
					   EPOLLIN | EPOLLRDNORM);
	return 0;
}

static const struct kvm_io_device_ops legacy_zone_ops = {
	.destructor	= coalesced_zone_destructor,
	.write		= legacy_zone_write,
};

static const struct kvm_io_device_ops buffer_zone_ops = {
	.destructor	= coalesced_zone_destructor,
	.write		= buffer_zone_write,
};

int kvm_coalesced_mmio_init(struct kvm *kvm)
{
	/* One zeroed page; kvm_vcpu_fault() maps it into the vCPU mmap. */
	void *ring = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);

	if (!ring)
		return -ENOMEM;
	INIT_LIST_HEAD(&kvm->coalesced_zones);
	spin_lock_init(&kvm->ring_lock);
	kvm->coalesced_mmio_ring = ring;
	return 0;
}

/*
 * Runs after the buses are destroyed, so every zone is gone already;
 * free_page() of 0 (init failed) does nothing.
 */
void kvm_coalesced_mmio_free(struct kvm *kvm)
{
	WARN_ON_ONCE(!list_empty(&kvm->coalesced_zones));
	free_page((unsigned long)kvm->coalesced_mmio_ring);
	kvm->coalesced_mmio_ring = NULL;
}

/* A zone or a range from userspace, either ioctl generation. */
struct zone_request {
	u64 addr;
	u32 size;
	u32 flags;
	struct coalesced_buffer *buffer;	/* NULL: the legacy ring */
};

/*
 * Check a range from userspace, for registering or unregistering: known
 * flags, nonzero size, no wrap-around.  Sets *end to addr + size.
 */
static int check_range(const struct zone_request *req, u64 *end)
{
	if (req->flags & ~COALESCED_ZONE_VALID_FLAGS || !req->size ||
	    check_add_overflow(req->addr, (u64)req->size, end))
		return -EINVAL;
	return 0;
}

/*
 * The zone's range on its bus: with BY_START, wider by the tail of the
 * widest write that can start at its last byte.
 */
static u64 bus_len(const struct zone_request *req)
{
	if (!(req->flags & KVM_COALESCED_ZONE_BY_START))
		return req->size;
	if (req->flags & KVM_COALESCED_ZONE_PIO)
		return (u64)req->size + COALESCED_PIO_MAX_WIDTH - 1;
	return (u64)req->size + COALESCED_MMIO_MAX_WIDTH - 1;
}

/*
 * A zone to register must also fit the bus: its range there (bus_len())
 * is an int and must not wrap.  A port zone of a dedicated ring must end
 * at 0x10000; one of the legacy ring must only start below it, as
 * mainline lets it straddle the end of the port space and coalesces the
 * ports it holds.  Each zone mainline accepts and we refuse could never
 * hold a write there; api.rst lists them.
 */
static int check_zone(const struct zone_request *req)
{
	bool pio = req->flags & KVM_COALESCED_ZONE_PIO;
	u64 end, bus_end;

	if (check_range(req, &end) || bus_len(req) > INT_MAX ||
	    check_add_overflow(req->addr, bus_len(req), &bus_end))
		return -EINVAL;
	if (pio && req->buffer && end > COALESCED_PIO_LIMIT)
		return -EINVAL;
	if (pio && req->addr >= COALESCED_PIO_LIMIT)
		return -EINVAL;
	return 0;
}

static enum kvm_bus zone_bus(bool pio)
{
	return pio ? KVM_PIO_BUS : KVM_MMIO_BUS;
}

/*
 * Put @zone on its bus and on our list.  Overlaps are allowed, and so is
 * the same range twice on the legacy ring, as in mainline; a dedicated
 * ring's zone may not repeat the range of any other zone, or a write
 * refused by one full ring would go on to another ring, out of order.
 */
static int add_zone_locked(struct kvm *kvm, struct coalesced_zone *zone)
{
	struct coalesced_zone *other;
	int r;

	lockdep_assert_held(&kvm->slots_lock);
	list_for_each_entry(other, &kvm->coalesced_zones, node)
		if ((zone->buffer || other->buffer) &&
		    other->pio == zone->pio && other->start == zone->start &&
		    other->len == zone->len)
			return -EEXIST;

	r = kvm_io_bus_register_dev(kvm, zone_bus(zone->pio), zone->start,
				    zone->bus_len, &zone->dev);
	if (!r)
		list_add_tail(&zone->node, &kvm->coalesced_zones);
	return r;
}

static int register_zone(struct kvm *kvm, const struct zone_request *req)
{
	bool pio = req->flags & KVM_COALESCED_ZONE_PIO;
	struct coalesced_zone *zone;
	int r;

	r = check_zone(req);
	if (r)
		return r;
	if (pio && !kvm_coalesced_pio_enabled())
		return -EOPNOTSUPP;

	zone = kzalloc_obj(*zone, GFP_KERNEL_ACCOUNT);
	if (!zone)
		return -ENOMEM;
	kvm_iodevice_init(&zone->dev, req->buffer ? &buffer_zone_ops :
						    &legacy_zone_ops);
	zone->kvm = kvm;
	zone->buffer = req->buffer;
	zone->start = req->addr;
	zone->len = req->size;
	zone->bus_len = bus_len(req);
	zone->pio = pio;
	zone->by_start = req->flags & KVM_COALESCED_ZONE_BY_START;

	mutex_lock(&kvm->slots_lock);
	r = add_zone_locked(kvm, zone);
	mutex_unlock(&kvm->slots_lock);
	if (r)
		kfree(zone);
	return r;
}

/*
 * KVM_UNREGISTER_COALESCED_MMIO's rule, mainline's: the zones that hold
 * the whole range.  The size counts as an int, as in mainline, so a range
 * of 2 GiB or more, or one that wraps, is held by no zone; a range of size
 * 0 is held by a zone from its first byte up to just past its last.
 */
static bool zone_contains_range(const struct coalesced_zone *zone,
				const struct zone_request *req)
{
	u64 end;

	if ((int)req->size < 0 ||
	    check_add_overflow(req->addr, (u64)req->size, &end))
		return false;
	/* Registered zones never wrap: check_zone(). */
	return req->addr >= zone->start && end <= zone->start + zone->len;
}

/* KVM_UNREGISTER_COALESCED_MMIO2's rule: the zones inside the range. */
static bool zone_inside_range(const struct coalesced_zone *zone,
			      const struct zone_request *req)
{
	/* check_range() made sure that addr + size does not wrap. */
	return zone->start >= req->addr &&
	       zone->start + zone->len <= req->addr + req->size;
}

/*
 * Take zones off their bus and free them: those of @buffer (NULL: of the
 * legacy ring) and, unless @req is NULL, of its kind that @match takes.
 * Returns the first error of kvm_io_bus_unregister_dev(), but goes on: a
 * failure destroyed one bus, the other may still hold zones.
 */
static int remove_zones_locked(struct kvm *kvm, struct coalesced_buffer *buffer,
			       const struct zone_request *req,
			       bool (*match)(const struct coalesced_zone *zone,
					     const struct zone_request *req))
{
	bool pio = req && (req->flags & KVM_COALESCED_ZONE_PIO);
	struct coalesced_zone *zone;
	int r, ret = 0;

	lockdep_assert_held(&kvm->slots_lock);
again:
	list_for_each_entry(zone, &kvm->coalesced_zones, node) {
		if (zone->buffer != buffer)
			continue;
		if (req && (zone->pio != pio || !match(zone, req)))
			continue;

		/*
		 * Either way the zone is off the bus, SRCU has synced and
		 * coalesced_zone_destructor() freed it; on failure the bus
		 * was destroyed with every other device on it, our zones
		 * included.  The list changed: walk it again from the start.
		 */
		r = kvm_io_bus_unregister_dev(kvm, zone_bus(zone->pio),
					      &zone->dev);
		if (r && !ret)
			ret = r;
		goto again;
	}
	return ret;
}

/* A dedicated ring's zones inside the range; bus errors are returned. */
static int unregister_zones(struct kvm *kvm, const struct zone_request *req)
{
	u64 end;
	int r;

	r = check_range(req, &end);
	if (r)
		return r;

	mutex_lock(&kvm->slots_lock);
	r = remove_zones_locked(kvm, req->buffer, req, zone_inside_range);
	mutex_unlock(&kvm->slots_lock);
	return r;
}

/*
 * The legacy ring's zones that contain the range, exactly as mainline
 * removes them: only unknown flags are an error.  A bus that could not
 * shrink is not one either: it was destroyed with the zone on it, so from
 * userspace's view the zone is gone, which is what it asked for.
 */
static int unregister_legacy_zones(struct kvm *kvm,
				   const struct zone_request *req)
{
	if (req->flags & ~COALESCED_ZONE_VALID_FLAGS)
		return -EINVAL;

	mutex_lock(&kvm->slots_lock);
	remove_zones_locked(kvm, NULL, req, zone_contains_range);
	mutex_unlock(&kvm->slots_lock);
	return 0;
}

int kvm_vm_ioctl_register_coalesced_mmio(struct kvm *kvm,
					 struct kvm_coalesced_mmio_zone *uzone)
{
	struct zone_request req = {
		.addr = uzone->addr, .size = uzone->size, .flags = uzone->pio,
	};
	int r = register_zone(kvm, &req);

	trace_kvm_coalesced_zone(true, uzone->addr, uzone->size, uzone->pio, r);
	return r;
}

int kvm_vm_ioctl_unregister_coalesced_mmio(struct kvm *kvm,
					   struct kvm_coalesced_mmio_zone *uzone)
{
	struct zone_request req = {
		.addr = uzone->addr, .size = uzone->size, .flags = uzone->pio,
	};
	int r = unregister_legacy_zones(kvm, &req);

	trace_kvm_coalesced_zone(false, uzone->addr, uzone->size, uzone->pio, r);
	return r;
}

/* Dedicated buffers ---------------------------------------------------- */

/*
 * The last reference to the buffer is gone (every fd closed, every mapping
 * unmapped): remove its zones, then free the ring no zone can reach.
 */
static int coalesced_buffer_release(struct inode *inode, struct file *file)
{
	struct coalesced_buffer *buffer = file->private_data;
	struct kvm *kvm = buffer->kvm;

	mutex_lock(&kvm->slots_lock);
	remove_zones_locked(kvm, buffer, NULL, NULL);
	mutex_unlock(&kvm->slots_lock);

	vfree(buffer->ring);
	kfree(buffer);
	kvm_put_kvm(kvm);
	return 0;
}

/* The whole ring, shared and writable (userspace moves ring->first). */
static int coalesced_buffer_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct coalesced_buffer *buffer = file->private_data;

	if (vma->vm_pgoff || vma_pages(vma) != buffer->pages ||
	    !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	return remap_vmalloc_range(vma, buffer->ring, 0);
}

/*
 * Readable once the ring holds wake_entries entries; an index out of range
 * is an error userspace must look at.
 */
static __poll_t coalesced_buffer_poll(struct file *file, poll_table *wait)
{
	struct coalesced_buffer *buffer = file->private_data;
	struct kvm_coalesced_mmio_ring *ring = buffer->ring;
	u32 first, last;

	poll_wait(file, &buffer->readers, wait);
	/*
	 * Queue first, then look at the ring: pairs with the barrier in
	 * wq_has_sleeper() after a producer moved ring->last.
	 */
	smp_mb();
	first = READ_ONCE(ring->first);
	last = READ_ONCE(ring->last);
	if (first >= buffer->slots || last >= buffer->slots)
		return EPOLLIN | EPOLLERR;
	if (ring_used(first, last, buffer->slots) >= buffer->wake_entries)
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static void coalesced_buffer_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct coalesced_buffer *buffer = file->private_data;
	struct coalesced_zone *zone;
	u64 writes, full, bad;
	unsigned int zones = 0;

	mutex_lock(&buffer->kvm->slots_lock);
	list_for_each_entry(zone, &buffer->kvm->coalesced_zones, node)
		zones += zone->buffer == buffer;
	mutex_unlock(&buffer->kvm->slots_lock);

	spin_lock(&buffer->lock);
	writes = buffer->writes;
	full = buffer->ring_full_exits;
	bad = buffer->bad_index_exits;
	spin_unlock(&buffer->lock);

	seq_printf(m, "pages:\t%u\nring_entries:\t%u\nwake_entries:\t%u\nzones:\t%u\n",
		   buffer->pages, buffer->slots, buffer->wake_entries, zones);
	seq_printf(m, "writes:\t%llu\nring_full_exits:\t%llu\nbad_index_exits:\t%llu\n",
		   writes, full, bad);
}

static const struct file_operations coalesced_buffer_fops = {
	.owner		= THIS_MODULE,
	.release	= coalesced_buffer_release,
	.mmap		= coalesced_buffer_mmap,
	.poll		= coalesced_buffer_poll,
	.show_fdinfo	= coalesced_buffer_show_fdinfo,
	.llseek		= noop_llseek,
};

/* Entries in a dedicated ring of @pages pages. */
static u32 buffer_slots(u32 pages)
{
	return KVM_COALESCED_MMIO_RING_ENTRIES((size_t)pages << PAGE_SHIFT);
}

static struct coalesced_buffer *buffer_alloc(struct kvm *kvm, u32 pages,
					     u32 wake_entries)
{
	struct coalesced_buffer *buffer;

	buffer = kzalloc_obj(*buffer, GFP_KERNEL_ACCOUNT);
	if (!buffer)
		return NULL;
	/* Zeroed, so the ring starts empty (first == last == 0). */
	buffer->ring = vmalloc_user((size_t)pages << PAGE_SHIFT);
	if (!buffer->ring) {
		kfree(buffer);
		return NULL;
	}
	buffer->kvm = kvm;
	buffer->pages = pages;
	buffer->slots = buffer_slots(pages);
	buffer->wake_entries = max(wake_entries, 1U);
	spin_lock_init(&buffer->lock);
	init_waitqueue_head(&buffer->readers);
	return buffer;
}

int kvm_vm_ioctl_create_coalesced_buffer(struct kvm *kvm, void __user *argp)
{
	struct kvm_coalesced_mmio_buffer req;
	struct coalesced_buffer *buffer;
	struct file *file;
	int fd, r;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (req.flags || !is_power_of_2(req.pages) ||
	    req.pages > KVM_COALESCED_MMIO_BUFFER_MAX_PAGES)
		return -EINVAL;
	/* A threshold the ring cannot reach would never wake anyone. */
	if (req.wake_entries >= buffer_slots(req.pages))
		return -EINVAL;

	buffer = buffer_alloc(kvm, req.pages, req.wake_entries);
	if (!buffer)
		return -ENOMEM;
	/* Answer before the fd exists: nothing to undo if this faults. */
	req.ring_entries = buffer->slots;
	r = -EFAULT;
	if (copy_to_user(argp, &req, sizeof(req)))
		goto free_buffer;

	fd = get_unused_fd_flags(O_CLOEXEC);
	r = fd;
	if (fd < 0)
		goto free_buffer;
	file = anon_inode_getfile("kvm-coalesced-buffer", &coalesced_buffer_fops,
				  buffer, O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		r = PTR_ERR(file);
		goto free_buffer;
	}
	/* Dropped by the release: the VM outlives the buffer's zones. */
	kvm_get_kvm(kvm);
	fd_install(fd, file);
	return fd;

free_buffer:
	vfree(buffer->ring);
	kfree(buffer);
	return r;
}

/*
 * Run @fn on @uzone with its buffer, held by an fd reference until @fn
 * returns: the buffer's release, which removes its zones, cannot run
 * before a zone registered here is on kvm->coalesced_zones.
 */
static int with_buffer(struct kvm *kvm, struct kvm_coalesced_mmio_zone2 *uzone,
		       int (*fn)(struct kvm *kvm, const struct zone_request *req))
{
	struct zone_request req = {
		.addr = uzone->addr, .size = uzone->size, .flags = uzone->pio,
	};

	if (uzone->pad)
		return -EINVAL;

	CLASS(fd, f)(uzone->buffer_fd);
	if (fd_empty(f))
		return -EBADF;
	if (fd_file(f)->f_op != &coalesced_buffer_fops)
		return -EINVAL;
	req.buffer = fd_file(f)->private_data;
	if (req.buffer->kvm != kvm)
		return -EINVAL;
	return fn(kvm, &req);
}

int kvm_vm_ioctl_register_coalesced_mmio2(struct kvm *kvm,
					  struct kvm_coalesced_mmio_zone2 *uzone)
{
	int r = with_buffer(kvm, uzone, register_zone);

	trace_kvm_coalesced_zone(true, uzone->addr, uzone->size, uzone->pio, r);
	return r;
}

int kvm_vm_ioctl_unregister_coalesced_mmio2(struct kvm *kvm,
					    struct kvm_coalesced_mmio_zone2 *uzone)
{
	int r = with_buffer(kvm, uzone, unregister_zones);

	trace_kvm_coalesced_zone(false, uzone->addr, uzone->size, uzone->pio, r);
	return r;
}
