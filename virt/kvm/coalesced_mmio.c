// SPDX-License-Identifier: GPL-2.0-only
/*
 * Coalesced I/O: guest writes that need no immediate answer (the RTC index
 * port 0x70, the PCI config address port 0xcf8, framebuffer MMIO, ...) are
 * appended to a ring shared with userspace instead of exiting.  The VMM
 * replays the ring, in order, before it handles the next exit.
 *
 * A zone is one kvm_io_device on KVM_MMIO_BUS or, with
 * KVM_COALESCED_ZONE_PIO, on KVM_PIO_BUS.  The ring is one zeroed page per
 * VM, mapped by userspace at KVM_COALESCED_MMIO_PAGE_OFFSET of the vCPU fd.
 *
 * Locking:
 * - kvm->slots_lock serializes register and unregister and protects
 *   kvm->coalesced_zones (the list of our zones);
 * - kvm->srcu keeps a zone alive while a vCPU writes through it: the bus
 *   code synchronizes SRCU before an unregistered zone can be freed;
 * - kvm->ring_lock serializes the producers (vCPUs) of the ring.  The
 *   consumer is userspace and takes no lock: it owns ring->first.
 */

#include <linux/kvm_host.h>
#include <linux/kvm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <kvm/iodev.h>

#include "coalesced_mmio.h"

#define CREATE_TRACE_POINTS
#include <trace/events/kvm_coalesced.h>

/* One I/O port space: 0 to 0xffff. */
#define COALESCED_PIO_LIMIT	0x10000ULL

/* Bits userspace may set in kvm_coalesced_mmio_zone.pio (a flags field). */
#define COALESCED_ZONE_VALID_FLAGS	KVM_COALESCED_ZONE_PIO

static bool disable_coalesced_pio;
module_param(disable_coalesced_pio, bool, 0644);
MODULE_PARM_DESC(disable_coalesced_pio,
		 "Hide KVM_CAP_COALESCED_PIO and refuse port-I/O zones (for comparisons)");

struct coalesced_zone {
	struct kvm_io_device dev;
	struct list_head node;		/* in kvm->coalesced_zones */
	struct kvm *kvm;
	u64 start;
	u32 len;
	bool pio;
};

static inline struct coalesced_zone *to_zone(struct kvm_io_device *dev)
{
	return container_of(dev, struct coalesced_zone, dev);
}

bool kvm_coalesced_pio_enabled(void)
{
	return !READ_ONCE(disable_coalesced_pio);
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
 * Called by the bus code when it drops the zone without us: at VM
 * destruction (no other user of the VM is left), or under slots_lock when
 * kvm_io_bus_unregister_dev() failed and destroyed the whole bus.
 */
static void coalesced_zone_destructor(struct kvm_io_device *dev)
{
	zone_free(to_zone(dev));
}

/*
 * Append one write to the ring.  Returns -EOPNOTSUPP, so that the write
 * exits to userspace like an uncoalesced one, when the ring is full or an
 * index userspace left in the shared page is out of range.
 */
static int coalesced_zone_write(struct kvm_vcpu *vcpu,
				struct kvm_io_device *dev, gpa_t addr,
				int len, const void *val)
{
	struct coalesced_zone *zone = to_zone(dev);
	struct kvm *kvm = zone->kvm;
	struct kvm_coalesced_mmio_ring *ring = kvm->coalesced_mmio_ring;
	struct kvm_coalesced_mmio *entry;
	u32 first, last;

	if (len > (int)sizeof(entry->data) || !zone_holds(zone, addr, len))
		return -EOPNOTSUPP;

	/* Producers: vCPUs of this VM, any zone; one slot each. */
	spin_lock(&kvm->ring_lock);

	/*
	 * Userspace can write anything to the shared page at any time: load
	 * each index exactly once and use only the checked local copies.
	 */
	first = READ_ONCE(ring->first);
	last = READ_ONCE(ring->last);
	if (first >= KVM_COALESCED_MMIO_MAX || last >= KVM_COALESCED_MMIO_MAX) {
		kvm->stat.generic.coalesced_bad_index_exits++;
		spin_unlock(&kvm->ring_lock);
		return -EOPNOTSUPP;
	}
	/* One slot stays empty, so first == last always means "empty". */
	if ((last + 1) % KVM_COALESCED_MMIO_MAX == first) {
		kvm->stat.generic.coalesced_ring_full_exits++;
		spin_unlock(&kvm->ring_lock);
		return -EOPNOTSUPP;
	}

	entry = &ring->coalesced_mmio[last];
	entry->phys_addr = addr;
	entry->len = len;
	entry->pio = zone->pio ? KVM_COALESCED_ZONE_PIO : 0;
	memset(entry->data, 0, sizeof(entry->data));
	memcpy(entry->data, val, len);

	/*
	 * The entry must be visible before the index that publishes it;
	 * pairs with the consumer's read barrier between loading ring->last
	 * and reading the entries below it.
	 */
	smp_wmb();
	WRITE_ONCE(ring->last, (last + 1) % KVM_COALESCED_MMIO_MAX);

	if (zone->pio)
		kvm->stat.generic.coalesced_pio_writes++;
	else
		kvm->stat.generic.coalesced_mmio_writes++;
	spin_unlock(&kvm->ring_lock);

	trace_kvm_coalesced_write(addr, len, zone->pio, last);
	return 0;
}

static const struct kvm_io_device_ops coalesced_zone_ops = {
	.destructor	= coalesced_zone_destructor,
	.write		= coalesced_zone_write,
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

/*
 * Check a range from userspace, for registering or unregistering: known
 * flags, nonzero size, no wrap-around.  Sets *end to addr + size.
 */
static int check_range(const struct kvm_coalesced_mmio_zone *uzone, u64 *end)
{
	if (uzone->pio & ~COALESCED_ZONE_VALID_FLAGS || !uzone->size ||
	    check_add_overflow(uzone->addr, (u64)uzone->size, end))
		return -EINVAL;
	return 0;
}

/*
 * A zone to register must also fit the bus (its range length is an int)
 * and, for ports, end at 0x10000.
 */
static int check_zone(const struct kvm_coalesced_mmio_zone *uzone)
{
	u64 end;

	if (check_range(uzone, &end) || uzone->size > INT_MAX)
		return -EINVAL;
	if ((uzone->pio & KVM_COALESCED_ZONE_PIO) && end > COALESCED_PIO_LIMIT)
		return -EINVAL;
	return 0;
}

static enum kvm_bus zone_bus(bool pio)
{
	return pio ? KVM_PIO_BUS : KVM_MMIO_BUS;
}

/* Put @zone on its bus and on our list, unless the same zone is there. */
static int add_zone_locked(struct kvm *kvm, struct coalesced_zone *zone)
{
	struct coalesced_zone *other;
	int r;

	lockdep_assert_held(&kvm->slots_lock);
	/* Overlaps are allowed; the very same zone twice is not. */
	list_for_each_entry(other, &kvm->coalesced_zones, node)
		if (other->pio == zone->pio && other->start == zone->start &&
		    other->len == zone->len)
			return -EEXIST;

	r = kvm_io_bus_register_dev(kvm, zone_bus(zone->pio), zone->start,
				    zone->len, &zone->dev);
	if (!r)
		list_add_tail(&zone->node, &kvm->coalesced_zones);
	return r;
}

static int register_zone(struct kvm *kvm,
			 const struct kvm_coalesced_mmio_zone *uzone)
{
	bool pio = uzone->pio & KVM_COALESCED_ZONE_PIO;
	struct coalesced_zone *zone;
	int r;

	r = check_zone(uzone);
	if (r)
		return r;
	if (pio && !kvm_coalesced_pio_enabled())
		return -EOPNOTSUPP;

	zone = kzalloc(sizeof(*zone), GFP_KERNEL_ACCOUNT);
	if (!zone)
		return -ENOMEM;
	kvm_iodevice_init(&zone->dev, &coalesced_zone_ops);
	zone->kvm = kvm;
	zone->start = uzone->addr;
	zone->len = uzone->size;
	zone->pio = pio;

	mutex_lock(&kvm->slots_lock);
	r = add_zone_locked(kvm, zone);
	mutex_unlock(&kvm->slots_lock);
	if (r)
		kfree(zone);
	return r;
}

static int unregister_zones(struct kvm *kvm,
			    const struct kvm_coalesced_mmio_zone *uzone)
{
	bool pio = uzone->pio & KVM_COALESCED_ZONE_PIO;
	struct coalesced_zone *zone, *next;
	u64 end;
	int r;

	r = check_range(uzone, &end);
	if (r)
		return r;

	mutex_lock(&kvm->slots_lock);
	list_for_each_entry_safe(zone, next, &kvm->coalesced_zones, node) {
		if (zone->pio != pio || zone->start < uzone->addr ||
		    zone->start + zone->len > end)
			continue;

		r = kvm_io_bus_unregister_dev(kvm, zone_bus(pio), &zone->dev);
		/* Either way the zone is off the bus and SRCU has synced. */
		zone_free(zone);
		if (r) {
			/*
			 * The bus could not be shrunk and was destroyed with
			 * every other device on it, our zones included (see
			 * coalesced_zone_destructor): @next may be freed.
			 */
			mutex_unlock(&kvm->slots_lock);
			return r;
		}
	}
	mutex_unlock(&kvm->slots_lock);
	return 0;
}

int kvm_vm_ioctl_register_coalesced_mmio(struct kvm *kvm,
					 struct kvm_coalesced_mmio_zone *uzone)
{
	int r = register_zone(kvm, uzone);

	trace_kvm_coalesced_zone(true, uzone->addr, uzone->size, uzone->pio, r);
	return r;
}

int kvm_vm_ioctl_unregister_coalesced_mmio(struct kvm *kvm,
					   struct kvm_coalesced_mmio_zone *uzone)
{
	int r = unregister_zones(kvm, uzone);

	trace_kvm_coalesced_zone(false, uzone->addr, uzone->size, uzone->pio, r);
	return r;
}
