/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What our selftests, written for 7.2's selftest library, need from 6.12's
 * (and older ones).  Force-included into our tests' objects only
 * (BASE_SELFTEST_COMPAT in bases/<base>.conf, used by
 * bases/pre-6.14-selftests-makefile.patch); never part of the upstream
 * series.
 */
#ifndef COALESCED_SELFTESTS_COMPAT_6_12_H
#define COALESCED_SELFTESTS_COMPAT_6_12_H

/* Included first: the test's own _GNU_SOURCE (mremap()) would come late. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

/* 7.1 renamed the guest address types. */
#define gva_t vm_vaddr_t

/*
 * 7.1's vm_get_stat() takes the stat's name as a token and fails the test
 * when the VM has no such stat; before, it took a string and left the
 * value alone.
 */
static inline u64 compat_vm_get_stat(struct kvm_vm *vm, const char *name)
{
	u64 val = UINT64_MAX;

	__vm_get_stat(vm, name, &val, 1);
	TEST_ASSERT(val != UINT64_MAX, "Unable to find stat '%s'", name);
	return val;
}

#define vm_get_stat(vm, stat) compat_vm_get_stat(vm, #stat)

#endif /* COALESCED_SELFTESTS_COMPAT_6_12_H */
