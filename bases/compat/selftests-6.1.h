/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What our selftests, written for 7.2's selftest library, need from 6.1's
 * beyond what 6.12's lacks too (selftests-6.12.h).  BASE=6.1 force-includes
 * it into our tests' objects only; never part of the upstream series.
 */
#ifndef COALESCED_SELFTESTS_COMPAT_H
#define COALESCED_SELFTESTS_COMPAT_H

#include "selftests-6.12.h"

/*
 * GUEST_FAIL(fmt, ...) came with guest printf (6.12 has it); 6.1 reports
 * up to four numbers with a fixed string, here the format.  Our one user
 * passes four.
 */
#define GUEST_FAIL(fmt, args...) __GUEST_ASSERT(false, fmt, 4, args)

/*
 * In 6.12 every VM has an IDT and every vCPU uses it; 6.1 sets them up
 * on request.  Do it on the first handler installed, for the vCPUs that
 * exist then (ours install handlers after creating every vCPU).
 */
static inline void compat_vm_install_exception_handler(struct kvm_vm *vm, int vector,
						       void (*handler)(struct ex_regs *))
{
	struct kvm_vcpu *vcpu;

	if (!vm->idt) {
		vm_init_descriptor_tables(vm);
		list_for_each_entry(vcpu, &vm->vcpus, list)
			vcpu_init_descriptor_tables(vcpu);
	}
	vm_install_exception_handler(vm, vector, handler);
}

#define vm_install_exception_handler compat_vm_install_exception_handler

/* 6.12 added these helpers for the legacy ioctls; both assert success. */
static inline void kvm_vm_register_coalesced_io(struct kvm_vm *vm, u64 address,
						u64 size, bool pio)
{
	struct kvm_coalesced_mmio_zone zone = {
		.addr = address, .size = size, .pio = pio,
	};

	vm_ioctl(vm, KVM_REGISTER_COALESCED_MMIO, &zone);
}

static inline void kvm_vm_unregister_coalesced_io(struct kvm_vm *vm, u64 address,
						  u64 size, bool pio)
{
	struct kvm_coalesced_mmio_zone zone = {
		.addr = address, .size = size, .pio = pio,
	};

	vm_ioctl(vm, KVM_UNREGISTER_COALESCED_MMIO, &zone);
}

#endif /* COALESCED_SELFTESTS_COMPAT_H */
