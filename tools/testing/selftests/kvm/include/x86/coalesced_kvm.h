/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which rules a coalesced I/O selftest expects.  Where older kernels,
 * those without the coalesced I/O stats, behave differently, a test is
 * told which rules to expect (COALESCED_KVM=newer or older) instead of
 * guessing them from the module; run without it, a test expects the
 * newer ones.  The module must then agree, or the test fails: only a
 * newer kernel counts coalesced writes in the vCPU stat
 * coalesced_pio_writes.
 */
#ifndef SELFTEST_KVM_COALESCED_KVM_H
#define SELFTEST_KVM_COALESCED_KVM_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "kvm_util.h"

/* Does a vCPU of a new VM have the stat @name? */
static inline bool coalesced_kvm_has_vcpu_stat(const char *name)
{
	struct kvm_stats_header hdr;
	struct kvm_stats_desc *descs;
	int kvm, vm, vcpu, stats;
	bool found = false;
	u32 i;

	kvm = open_kvm_dev_path_or_exit();
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	TEST_ASSERT(vm >= 0, "KVM_CREATE_VM: %s", strerror(errno));
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	TEST_ASSERT(vcpu >= 0, "KVM_CREATE_VCPU: %s", strerror(errno));
	stats = ioctl(vcpu, KVM_GET_STATS_FD, NULL);
	TEST_ASSERT(stats >= 0, "KVM_GET_STATS_FD: %s", strerror(errno));
	read_stats_header(stats, &hdr);
	descs = read_stats_descriptors(stats, &hdr);
	for (i = 0; i < hdr.num_desc && !found; i++)
		found = !strncmp(get_stats_descriptor(descs, i, &hdr)->name, name,
				 hdr.name_size);
	free(descs);
	close(stats);
	close(vcpu);
	close(vm);
	close(kvm);
	return found;
}

static inline bool coalesced_kvm_expect_newer(void)
{
	const char *set = getenv("COALESCED_KVM");
	bool newer, has_stats;

	if (!set)
		set = "newer";
	TEST_ASSERT(!strcmp(set, "newer") || !strcmp(set, "older"),
		    "COALESCED_KVM=%s: want newer or older", set);
	newer = !strcmp(set, "newer");
	has_stats = coalesced_kvm_has_vcpu_stat("coalesced_pio_writes");
	TEST_ASSERT(newer == has_stats,
		    "told COALESCED_KVM=%s, but the loaded kvm.ko %s the coalesced_pio_writes stat: the wrong module is loaded",
		    set, has_stats ? "has" : "lacks");
	return newer;
}

#endif /* SELFTEST_KVM_COALESCED_KVM_H */
