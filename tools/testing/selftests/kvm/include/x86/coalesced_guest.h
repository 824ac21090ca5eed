/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest-side port and MMIO accessors of the coalesced I/O selftests, for
 * any length from 1 to 4 (ports) or 8 (MMIO) bytes.
 */
#ifndef SELFTEST_KVM_COALESCED_GUEST_H
#define SELFTEST_KVM_COALESCED_GUEST_H

#include <stdint.h>
#include "kvm_util.h"
#include "processor.h"

static inline void guest_out(uint16_t port, uint64_t val, int len)
{
	if (len == 1)
		asm volatile("outb %b0, %w1" : : "a"(val), "Nd"(port));
	else if (len == 2)
		asm volatile("outw %w0, %w1" : : "a"(val), "Nd"(port));
	else
		asm volatile("outl %k0, %w1" : : "a"(val), "Nd"(port));
}

static inline uint64_t guest_in(uint16_t port, int len)
{
	uint32_t val = 0;

	if (len == 1)
		asm volatile("inb %w1, %b0" : "+a"(val) : "Nd"(port));
	else if (len == 2)
		asm volatile("inw %w1, %w0" : "+a"(val) : "Nd"(port));
	else
		asm volatile("inl %w1, %k0" : "=a"(val) : "Nd"(port));
	return val;
}

static inline void guest_mmio_write(uint64_t gpa, uint64_t val, int len)
{
	if (len == 1)
		WRITE_ONCE(*(uint8_t *)gpa, val);
	else if (len == 2)
		WRITE_ONCE(*(uint16_t *)gpa, val);
	else if (len == 4)
		WRITE_ONCE(*(uint32_t *)gpa, val);
	else
		WRITE_ONCE(*(uint64_t *)gpa, val);
}

static inline uint64_t guest_mmio_read(uint64_t gpa, int len)
{
	if (len == 1)
		return READ_ONCE(*(uint8_t *)gpa);
	if (len == 2)
		return READ_ONCE(*(uint16_t *)gpa);
	if (len == 4)
		return READ_ONCE(*(uint32_t *)gpa);
	return READ_ONCE(*(uint64_t *)gpa);
}

/*
 * A guest exception (otherwise a triple fault, KVM_EXIT_SHUTDOWN) becomes a
 * guest failure that says which one, where, and for a #PF which address;
 * the host reports it with REPORT_GUEST_ASSERT().
 */
static void guest_exception_handler(struct ex_regs *regs)
{
	uint64_t cr2 = 0;

	if (regs->vector == PF_VECTOR)
		asm volatile("mov %%cr2, %0" : "=r"(cr2));

	GUEST_FAIL("guest exception: vector %lu, error 0x%lx, rip 0x%lx, cr2 0x%lx",
		   regs->vector, regs->error_code, regs->rip, cr2);
}

static inline void catch_guest_exceptions(struct kvm_vm *vm)
{
	int i;

	for (i = 0; i < 32; i++)
		vm_install_exception_handler(vm, i, guest_exception_handler);
}

/*
 * Run @vcpu once.  Returns true when the guest reached a GUEST_SYNC and
 * false at any other exit, which the caller decodes.  A guest exception
 * caught by catch_guest_exceptions() fails the test with its report.
 */
static inline bool run_until_sync_or_exit(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		return true;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	case UCALL_NONE:
		return false;
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
	return false;
}

#endif /* SELFTEST_KVM_COALESCED_GUEST_H */
