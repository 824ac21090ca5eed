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
 * - a dedicated ring (KVM_CREATE_COALESCED_RING): the VMM's own memory,
 *   2 to KVM_COALESCED_RING_MAX_ENTRIES entries, pinned and mapped into
 *   the kernel for as long as the ring exists, with an optional eventfd
 *   that KVM signals when the ring fills up to a threshold.
 *
 * Lifetime of a dedicated ring:
 * - the VM owns it: it sits in kvm->coalesced_rings, by id, from
 *   KVM_CREATE_COALESCED_RING to KVM_DESTROY_COALESCED_RING or the VM's
 *   destruction, whichever comes first; nothing else holds it;
 * - the ring holds its pages (a long-term pin, charged to the VM's mm as
 *   pinned memory against RLIMIT_MEMLOCK) and a reference to its eventfd,
 *   so neither munmap() nor close() of them can free what KVM writes to:
 *   the VMM stops KVM writing by destroying the ring;
 * - it is freed under slots_lock (destroy) or with no other user of the
 *   VM left (VM destruction), after its zones left their bus: the bus
 *   synchronizes SRCU first, so no vCPU is writing to it any more.  A
 *   write to one of its ranges after that exits, like any other.
 *
 * Locking:
 * - kvm->slots_lock serializes register, unregister, create and destroy,
 *   and protects kvm->coalesced_zones and kvm->coalesced_rings;
 * - kvm->srcu keeps a zone, and so its ring, alive while a vCPU writes
 *   through it;
 * - kvm->ring_lock serializes the producers (vCPUs) of the legacy ring,
 *   ring->lock those of one dedicated ring: no lock is VM-wide on that
 *   path.  The consumer is userspace and takes no lock: it owns
 *   ring->first;
 * - the stats counters are the writing vCPU's own: no lock.
 */

#include <linux/eventfd.h>
#include <linux/kvm_host.h>
#include <linux/kvm.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>
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

/* Ring ids: 0 to 65535, so that a VM has at most that many rings. */
#define COALESCED_RING_ID_LIMIT	XA_LIMIT(0, U16_MAX)

/* A dedicated ring in the VMM's memory. */
struct coalesced_ring {
	struct kvm_coalesced_mmio_ring *ring;	/* in the kernel's map */
	u32 slots;			/* entries in ring->coalesced_mmio[] */
	u32 notify_entries;		/* signal the eventfd at this many; 0: none */
	struct eventfd_ctx *eventfd;	/* NULL: none */
	spinlock_t lock;		/* serializes producers */
	void *map;			/* vmap() of @pages */
	struct page **pages;		/* pinned FOLL_LONGTERM */
	unsigned long npages;		/* counted in kvm->mm->pinned_vm */
	unsigned long pinned;		/* of @pages, to unpin */
};

struct coalesced_zone {
	struct kvm_io_device dev;
	struct list_head node;		/* in kvm->coalesced_zones */
	struct kvm *kvm;
	struct coalesced_ring *ring;	/* NULL: the legacy ring */
	u64 start;
	u32 len;
	u32 bus_len;			/* len, or wider with by_start */
	bool pio;
	bool by_start;			/* KVM_COALESCED_ZONE_BY_START */
};

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
 * range.  Each kind of zone has ops of its own (zone_ops()), so that no
 * path tests which ring it writes to or whether the ring has an eventfd.
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

/*
 * Append a write that @zone takes to its dedicated ring, under the ring's
 * lock, and count it in @vcpu's stats; ring_append()'s result.
 */
static __always_inline int ring_zone_append(struct kvm_vcpu *vcpu,
					    const struct coalesced_zone *zone,
					    gpa_t addr, int len,
					    const void *val, bool want_used)
{
	struct coalesced_ring *ring = zone->ring;
	int r;

	spin_lock(&ring->lock);
	r = ring_append(ring->ring, ring->slots, addr, len, val, zone->pio,
			want_used);
	spin_unlock(&ring->lock);
	count_write(vcpu, zone, r);
	return r;
}

/*
 * A zone of a dedicated ring without an eventfd: drained at exits, as
 * the legacy ring is, so its path is the legacy one's with the ring's
 * own lock and size.
 */
static int ring_zone_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			   gpa_t addr, int len, const void *val)
{
	struct coalesced_zone *zone = to_zone(dev);

	if (!zone_takes(zone, addr, len))
		return -EOPNOTSUPP;
	return ring_zone_append(vcpu, zone, addr, len, val, false) > 0 ?
	       0 : -EOPNOTSUPP;
}

/*
 * A zone of a dedicated ring with an eventfd, which needs the ring's
 * count of entries after each append.
 */
static int notify_zone_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev,
			     gpa_t addr, int len, const void *val)
{
	struct coalesced_zone *zone = to_zone(dev);
	int r;

	if (!zone_takes(zone, addr, len))
		return -EOPNOTSUPP;
	r = ring_zone_append(vcpu, zone, addr, len, val, true);
	if (r <= 0)
		return -EOPNOTSUPP;

	/*
	 * Once per rise to the threshold: producers add one entry at a
	 * time and the consumer only takes them away, so the ring cannot
	 * go past notify_entries without being at it after some append.
	 * The eventfd orders itself: its count is updated under its own
	 * lock, which the reader takes too.
	 */
	if (unlikely(r == zone->ring->notify_entries))
		eventfd_signal(zone->ring->eventfd);
	return 0;
}

static const struct kvm_io_device_ops legacy_zone_ops = {
	.destructor	= coalesced_zone_destructor,
	.write		= legacy_zone_write,
};

static const struct kvm_io_device_ops ring_zone_ops = {
	.destructor	= coalesced_zone_destructor,
	.write		= ring_zone_write,
};

static const struct kvm_io_device_ops notify_zone_ops = {
	.destructor	= coalesced_zone_destructor,
	.write		= notify_zone_write,
};

/* The write path of a zone of @ring; NULL is the legacy ring. */
static const struct kvm_io_device_ops *
zone_ops(const struct coalesced_ring *ring)
{
	if (!ring)
		return &legacy_zone_ops;
	return ring->eventfd ? &notify_zone_ops : &ring_zone_ops;
}

/* A zone or a range from userspace, either ioctl generation. */
struct zone_request {
	u64 addr;
	u32 size;
	u32 flags;
	bool dedicated;		/* the *_MMIO2 ioctls: ring_id names the ring */
	u32 ring_id;
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
	if (pio && req->dedicated && end > COALESCED_PIO_LIMIT)
		return -EINVAL;
	if (pio && req->addr >= COALESCED_PIO_LIMIT)
		return -EINVAL;
	return 0;
}

static enum kvm_bus zone_bus(bool pio)
{
	return pio ? KVM_PIO_BUS : KVM_MMIO_BUS;
}

/* The dedicated ring @req names, or NULL; slots_lock is held. */
static struct coalesced_ring *find_ring_locked(struct kvm *kvm,
					       const struct zone_request *req)
{
	lockdep_assert_held(&kvm->slots_lock);
	return xa_load(&kvm->coalesced_rings, req->ring_id);
}

/*
 * Put @zone on its bus and on our list, bound to the ring @req names.
 * Overlaps are allowed, and so is the same range twice on the legacy ring,
 * as in mainline; a dedicated ring's zone may not repeat the range of any
 * other zone, or a write refused by one full ring would go on to another
 * ring, out of order.
 */
static int add_zone_locked(struct kvm *kvm, struct coalesced_zone *zone,
			   const struct zone_request *req)
{
	struct coalesced_zone *other;
	int r;

	lockdep_assert_held(&kvm->slots_lock);
	if (req->dedicated) {
		/* The ring outlives the zone: destroy removes zones first. */
		zone->ring = find_ring_locked(kvm, req);
		if (!zone->ring)
			return -ENOENT;
	}
	list_for_each_entry(other, &kvm->coalesced_zones, node)
		if ((zone->ring || other->ring) &&
		    other->pio == zone->pio && other->start == zone->start &&
		    other->len == zone->len)
			return -EEXIST;

	kvm_iodevice_init(&zone->dev, zone_ops(zone->ring));
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
	zone->kvm = kvm;
	zone->start = req->addr;
	zone->len = req->size;
	zone->bus_len = bus_len(req);
	zone->pio = pio;
	zone->by_start = req->flags & KVM_COALESCED_ZONE_BY_START;

	mutex_lock(&kvm->slots_lock);
	r = add_zone_locked(kvm, zone, req);
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
 * Take zones off their bus and free them: those of @ring (NULL: of the
 * legacy ring) and, unless @req is NULL, of its kind that @match takes.
 * Returns the first error of kvm_io_bus_unregister_dev(), but goes on: a
 * failure destroyed one bus, the other may still hold zones.
 */
static int remove_zones_locked(struct kvm *kvm, struct coalesced_ring *ring,
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
		if (zone->ring != ring)
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
	struct coalesced_ring *ring;
	u64 end;
	int r;

	r = check_range(req, &end);
	if (r)
		return r;

	mutex_lock(&kvm->slots_lock);
	ring = find_ring_locked(kvm, req);
	if (ring)
		r = remove_zones_locked(kvm, ring, req, zone_inside_range);
	else
		r = -ENOENT;
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

/* Dedicated rings ------------------------------------------------------ */

/*
 * Charge @npages pinned pages to @mm, as RDMA and io_uring do: they count
 * in VmPin and against RLIMIT_MEMLOCK, unless the caller has CAP_IPC_LOCK.
 * Atomic, so that no lock of the mm is taken.
 */
static int pinned_vm_charge(struct mm_struct *mm, unsigned long npages)
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
 * Undo whatever part of kvm_vm_ioctl_create_coalesced_ring() and
 * ring_pin() was done: the ring is in no zone and not in
 * kvm->coalesced_rings any more (or never was).
 */
static void ring_free(struct kvm *kvm, struct coalesced_ring *ring)
{
	if (ring->map)
		vunmap(ring->map);
	/* KVM wrote to them through its own map: dirty for the page cache. */
	if (ring->pinned)
		unpin_user_pages_dirty_lock(ring->pages, ring->pinned, true);
	kvfree(ring->pages);
	if (ring->npages)
		atomic64_sub(ring->npages, &kvm->mm->pinned_vm);
	if (ring->eventfd)
		eventfd_ctx_put(ring->eventfd);
	kfree(ring);
}

/*
 * Pin the ring's pages at @addr for as long as the ring exists (a
 * long-term pin: fork() gives the child copies of them, never takes them
 * from this process) and map them into the kernel in one piece.  The
 * memory is the VMM's: the header's indexes are checked like on every
 * write, so that a ring that starts out broken is an error now.
 */
static int ring_pin(struct kvm *kvm, struct coalesced_ring *ring, u64 addr)
{
	size_t bytes = KVM_COALESCED_RING_BYTES((size_t)ring->slots);
	unsigned long npages;
	long pinned;
	u32 first, last;
	int r;

	/* Outside user memory: -EFAULT here, as GUP's answer varies by version. */
	if (!access_ok(u64_to_user_ptr(addr), bytes))
		return -EFAULT;
	npages = DIV_ROUND_UP(offset_in_page(addr) + bytes, PAGE_SIZE);
	r = pinned_vm_charge(kvm->mm, npages);
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

	first = READ_ONCE(ring->ring->first);
	last = READ_ONCE(ring->ring->last);
	if (first >= ring->slots || last >= ring->slots)
		return -EINVAL;
	return 0;
}

/*
 * Every field strictly: a ring of 2 to KVM_COALESCED_RING_MAX_ENTRIES
 * entries at an 8-byte aligned address that does not wrap, no flags, and
 * a threshold only with an eventfd, one that the ring can reach.
 */
static int check_ring_request(const struct kvm_coalesced_ring *req)
{
	u64 end;

	if (req->flags || req->entries < 2 ||
	    req->entries > KVM_COALESCED_RING_MAX_ENTRIES ||
	    !IS_ALIGNED(req->addr, 8) || req->addr != (unsigned long)req->addr ||
	    check_add_overflow(req->addr,
			       (u64)KVM_COALESCED_RING_BYTES((u64)req->entries),
			       &end))
		return -EINVAL;
	if (req->eventfd == -1)
		return req->notify_entries ? -EINVAL : 0;
	if (req->eventfd < 0 || !req->notify_entries ||
	    req->notify_entries >= req->entries)
		return -EINVAL;
	return 0;
}

int kvm_vm_ioctl_create_coalesced_ring(struct kvm *kvm,
				       const struct kvm_coalesced_ring *req)
{
	struct coalesced_ring *ring;
	u32 id;
	int r;

	r = check_ring_request(req);
	if (r)
		return r;

	ring = kzalloc_obj(*ring, GFP_KERNEL_ACCOUNT);
	if (!ring)
		return -ENOMEM;
	spin_lock_init(&ring->lock);
	ring->slots = req->entries;
	ring->notify_entries = req->notify_entries;
	if (req->eventfd >= 0) {
		/* KVM's own reference: closing the fd does not drop it. */
		ring->eventfd = eventfd_ctx_fdget(req->eventfd);
		if (IS_ERR(ring->eventfd)) {
			r = PTR_ERR(ring->eventfd);
			ring->eventfd = NULL;
			goto free;
		}
	}
	r = ring_pin(kvm, ring, req->addr);
	if (r)
		goto free;

	/* slots_lock: zones look rings up and destroy erases them under it. */
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
	ring_free(kvm, ring);
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
	struct coalesced_ring *ring;

	mutex_lock(&kvm->slots_lock);
	ring = xa_erase(&kvm->coalesced_rings, id);
	/*
	 * A bus that could not shrink was destroyed with the zone on it: the
	 * zone is gone either way, so that is not an error here.
	 */
	if (ring)
		remove_zones_locked(kvm, ring, NULL, NULL);
	mutex_unlock(&kvm->slots_lock);
	if (!ring)
		return -ENOENT;
	ring_free(kvm, ring);
	return 0;
}

/* The zone request of a *_MMIO2 ioctl: a dedicated ring's zone. */
static int zone2_request(const struct kvm_coalesced_mmio_zone2 *uzone,
			 struct zone_request *req)
{
	*req = (struct zone_request) {
		.addr = uzone->addr, .size = uzone->size, .flags = uzone->pio,
		.dedicated = true, .ring_id = uzone->ring,
	};
	return uzone->pad ? -EINVAL : 0;
}

int kvm_vm_ioctl_register_coalesced_mmio2(struct kvm *kvm,
					  struct kvm_coalesced_mmio_zone2 *uzone)
{
	struct zone_request req;
	int r = zone2_request(uzone, &req);

	if (!r)
		r = register_zone(kvm, &req);
	trace_kvm_coalesced_zone(true, uzone->addr, uzone->size, uzone->pio, r);
	return r;
}

int kvm_vm_ioctl_unregister_coalesced_mmio2(struct kvm *kvm,
					    struct kvm_coalesced_mmio_zone2 *uzone)
{
	struct zone_request req;
	int r = zone2_request(uzone, &req);

	if (!r)
		r = unregister_zones(kvm, &req);
	trace_kvm_coalesced_zone(false, uzone->addr, uzone->size, uzone->pio, r);
	return r;
}

int kvm_coalesced_mmio_init(struct kvm *kvm)
{
	/* One zeroed page; kvm_vcpu_fault() maps it into the vCPU mmap. */
	void *ring = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);

	if (!ring)
		return -ENOMEM;
	INIT_LIST_HEAD(&kvm->coalesced_zones);
	xa_init_flags(&kvm->coalesced_rings, XA_FLAGS_ALLOC);
	spin_lock_init(&kvm->ring_lock);
	kvm->coalesced_mmio_ring = ring;
	return 0;
}

/*
 * Runs after the buses are destroyed, so every zone is gone already and no
 * other user of the VM is left: free the dedicated rings, then the legacy
 * one.  A VM whose init failed has an all-zero, empty xarray, and
 * free_page() of 0 does nothing.
 */
void kvm_coalesced_mmio_free(struct kvm *kvm)
{
	struct coalesced_ring *ring;
	unsigned long id;

	WARN_ON_ONCE(!list_empty(&kvm->coalesced_zones));
	xa_for_each(&kvm->coalesced_rings, id, ring)
		ring_free(kvm, ring);
	xa_destroy(&kvm->coalesced_rings);
	free_page((unsigned long)kvm->coalesced_mmio_ring);
	kvm->coalesced_mmio_ring = NULL;
}
