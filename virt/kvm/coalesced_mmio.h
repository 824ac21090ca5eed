/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Coalesced I/O: the interface kvm_main.c uses.
 *
 * A coalesced zone is a range of guest-physical MMIO addresses or of I/O
 * ports whose writes KVM appends to a ring shared with userspace instead of
 * exiting; see coalesced_mmio.c and Documentation/virt/kvm/api.rst.
 */
#ifndef __KVM_COALESCED_MMIO_H__
#define __KVM_COALESCED_MMIO_H__

#include <linux/kvm_host.h>

#ifdef CONFIG_KVM_MMIO

int kvm_coalesced_mmio_init(struct kvm *kvm);
void kvm_coalesced_mmio_free(struct kvm *kvm);
int kvm_vm_ioctl_register_coalesced_mmio(struct kvm *kvm,
					 struct kvm_coalesced_mmio_zone *zone);
int kvm_vm_ioctl_unregister_coalesced_mmio(struct kvm *kvm,
					   struct kvm_coalesced_mmio_zone *zone);
bool kvm_coalesced_pio_enabled(void);

#else /* !CONFIG_KVM_MMIO */

static inline int kvm_coalesced_mmio_init(struct kvm *kvm)
{
	return 0;
}

static inline void kvm_coalesced_mmio_free(struct kvm *kvm)
{
}

#endif /* CONFIG_KVM_MMIO */

#endif /* __KVM_COALESCED_MMIO_H__ */
