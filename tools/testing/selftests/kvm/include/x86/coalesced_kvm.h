/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which kvm.ko a coalesced I/O selftest runs on.  Where the expected
 * behaviour differs between mainline and this implementation, a test is
 * told which one to expect (COALESCED_KVM=ours or stock, set by the
 * harness that loaded the module) instead of guessing it from the module;
 * run by hand without it, a test expects this implementation.  The module
 * must then agree, or the test fails: only this implementation has
 * KVM_CAP_COALESCED_RING.
 */
#ifndef SELFTEST_KVM_COALESCED_KVM_H
#define SELFTEST_KVM_COALESCED_KVM_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "kvm_util.h"

static inline bool coalesced_kvm_expect_ours(void)
{
	const char *set = getenv("COALESCED_KVM");
	bool ours, has_rings;

	if (!set)
		set = "ours";
	TEST_ASSERT(!strcmp(set, "ours") || !strcmp(set, "stock"),
		    "COALESCED_KVM=%s: want ours or stock", set);
	ours = !strcmp(set, "ours");
	has_rings = kvm_check_cap(KVM_CAP_COALESCED_RING) > 0;
	TEST_ASSERT(ours == has_rings,
		    "told COALESCED_KVM=%s, but the loaded kvm.ko %s KVM_CAP_COALESCED_RING: the wrong module is loaded",
		    set, has_rings ? "has" : "lacks");
	return ours;
}

#endif /* SELFTEST_KVM_COALESCED_KVM_H */
