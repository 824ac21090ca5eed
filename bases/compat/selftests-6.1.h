/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What our selftests, written for the newest base's selftest library, need
 * from 6.1's.  BASE=6.1 force-includes it into our tests' objects only
 * (BASE_SELFTEST_COMPAT in bases/6.1.conf, used by
 * bases/pre-6.14-selftests-makefile.patch); never part of the upstream
 * series.
 */
#ifndef COALESCED_SELFTESTS_COMPAT_H
#define COALESCED_SELFTESTS_COMPAT_H

/* Included first: the test's own _GNU_SOURCE (mremap()) would come late. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

/*
 * GUEST_FAIL(fmt, ...) came with guest printf (6.7); 6.1 asserts with up
 * to four numbers and no format.  Our one user passes four.
 */
#define GUEST_FAIL(fmt, a1, a2, a3, a4) GUEST_ASSERT_4(false, a1, a2, a3, a4)

/*
 * Since 6.9 every VM has an IDT and every vCPU uses it; 6.1 sets them up
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

#endif /* COALESCED_SELFTESTS_COMPAT_H */
