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
 * 7.2's vcpu_get_stat(): a vCPU's stat by name (a token), failing the test
 * when the vCPU has no such stat; 6.12's library reads VM stats only.
 */
static inline u64 compat_vcpu_get_stat(struct kvm_vcpu *vcpu, const char *name)
{
	struct kvm_stats_desc *descs, *desc;
	struct kvm_stats_header header;
	int fd = vcpu_get_stats_fd(vcpu);
	u64 val = UINT64_MAX;
	u32 i;

	read_stats_header(fd, &header);
	descs = read_stats_descriptors(fd, &header);
	for (i = 0; i < header.num_desc; i++) {
		desc = get_stats_descriptor(descs, i, &header);
		if (!strcmp(desc->name, name)) {
			read_stat_data(fd, &header, desc, &val, 1);
			break;
		}
	}
	free(descs);
	close(fd);
	TEST_ASSERT(i < header.num_desc, "Unable to find stat '%s'", name);
	return val;
}

#define vcpu_get_stat(vcpu, stat) compat_vcpu_get_stat(vcpu, #stat)

#endif /* COALESCED_SELFTESTS_COMPAT_6_12_H */
