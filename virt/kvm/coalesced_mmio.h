/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Coalesced I/O: the interface kvm_main.c uses.
 *
 * A coalesced zone is a range of guest-physical MMIO addresses or of I/O
 * ports whose writes KVM appends to a ring shared with userspace instead of
 * exiting; see coalesced_mmio.c and Documentation/virt/kvm/api.rst.
 */
#ifndef KVM_COALESCED_IO_H
#define KVM_COALESCED_IO_H

#include <linux/kvm_host.h>

#ifdef CONFIG_KVM_MMIO

/* False while the disable_coalesced_pio module parameter is set. */
bool kvm_coalesced_pio_enabled(void);

/* KVM_CAP_COALESCED_ZONE_FLAGS: the KVM_COALESCED_ZONE_* flags accepted. */
u32 kvm_coalesced_zone_flags(void);

/* The two VM ioctls; both take kvm->slots_lock. */
int kvm_vm_ioctl_register_coalesced_mmio(struct kvm *kvm,
					 struct kvm_coalesced_mmio_zone *uzone);
int kvm_vm_ioctl_unregister_coalesced_mmio(struct kvm *kvm,
					   struct kvm_coalesced_mmio_zone *uzone);

/*
 * Dedicated rings in the VMM's memory, and zones bound to one; all take
 * slots_lock.  Create returns the ring's id.
 */
int kvm_vm_ioctl_create_coalesced_ring(struct kvm *kvm,
				       const struct kvm_coalesced_ring *req);
int kvm_vm_ioctl_destroy_coalesced_ring(struct kvm *kvm, unsigned long id);
int kvm_vm_ioctl_register_coalesced_mmio2(struct kvm *kvm,
					  struct kvm_coalesced_mmio_zone2 *uzone);
int kvm_vm_ioctl_unregister_coalesced_mmio2(struct kvm *kvm,
					    struct kvm_coalesced_mmio_zone2 *uzone);

/*
 * The legacy ring page: allocated at VM creation; it and every dedicated
 * ring are freed after the buses.
 */
int kvm_coalesced_mmio_init(struct kvm *kvm);
void kvm_coalesced_mmio_free(struct kvm *kvm);

#else /* !CONFIG_KVM_MMIO */

static inline int kvm_coalesced_mmio_init(struct kvm *kvm)
{
	return 0;
}

static inline void kvm_coalesced_mmio_free(struct kvm *kvm)
{
}

#endif /* CONFIG_KVM_MMIO */

#endif /* KVM_COALESCED_IO_H */
