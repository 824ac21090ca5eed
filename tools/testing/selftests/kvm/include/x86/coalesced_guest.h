/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest-side port and MMIO accessors of the coalesced I/O selftests, for
 * any length from 1 to 4 (ports) or 8 (MMIO) bytes.
 */
#ifndef SELFTEST_KVM_COALESCED_GUEST_H
#define SELFTEST_KVM_COALESCED_GUEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kvm_util.h"
#include "processor.h"

static inline void guest_out(u16 port, u64 val, int len)
{
	if (len == 1)
		asm volatile("outb %b0, %w1" : : "a"(val), "Nd"(port));
	else if (len == 2)
		asm volatile("outw %w0, %w1" : : "a"(val), "Nd"(port));
	else
		asm volatile("outl %k0, %w1" : : "a"(val), "Nd"(port));
}

static inline u64 guest_in(u16 port, int len)
{
	u32 val = 0;

	if (len == 1)
		asm volatile("inb %w1, %b0" : "+a"(val) : "Nd"(port));
	else if (len == 2)
		asm volatile("inw %w1, %w0" : "+a"(val) : "Nd"(port));
	else
		asm volatile("inl %w1, %k0" : "=a"(val) : "Nd"(port));
	return val;
}

static inline void guest_mmio_write(u64 gpa, u64 val, int len)
{
	if (len == 1)
		WRITE_ONCE(*(u8 *)gpa, val);
	else if (len == 2)
		WRITE_ONCE(*(u16 *)gpa, val);
	else if (len == 4)
		WRITE_ONCE(*(u32 *)gpa, val);
	else
		WRITE_ONCE(*(u64 *)gpa, val);
}

static inline u64 guest_mmio_read(u64 gpa, int len)
{
	if (len == 1)
		return READ_ONCE(*(u8 *)gpa);
	if (len == 2)
		return READ_ONCE(*(u16 *)gpa);
	if (len == 4)
		return READ_ONCE(*(u32 *)gpa);
	return READ_ONCE(*(u64 *)gpa);
}

/*
 * A guest exception (otherwise a triple fault, KVM_EXIT_SHUTDOWN) becomes a
 * guest failure that says which one, where, and for a #PF which address;
 * the host reports it with REPORT_GUEST_ASSERT().
 */
static void guest_exception_handler(struct ex_regs *regs)
{
	u64 cr2 = 0;

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

/* Time limits inside a case, times $TIMEOUT_SCALE (a debug kernel is slow). */
static inline int coalesced_timeout_scale(void)
{
	const char *scale = getenv("TIMEOUT_SCALE");

	return scale && atoi(scale) > 1 ? atoi(scale) : 1;
}

/*
 * The number of a "<key>: <n> kB" line of /proc/self/status or
 * /proc/meminfo (SUnreclaim, VmPin).
 */
static inline long coalesced_proc_kb(const char *path, const char *key)
{
	size_t len = strlen(key);
	char line[128];
	long kb = -1;
	FILE *f = fopen(path, "r");

	TEST_ASSERT(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			kb = strtol(line + len + 1, NULL, 10);
	fclose(f);
	TEST_ASSERT(kb >= 0, "no '%s' in %s", key, path);
	return kb;
}

/* This process's pinned memory (mm->pinned_vm), in kB. */
static inline long coalesced_vmpin_kb(void)
{
	return coalesced_proc_kb("/proc/self/status", "VmPin");
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
