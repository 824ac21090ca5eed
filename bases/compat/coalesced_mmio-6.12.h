/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What virt/kvm/coalesced_mmio.c, written for mainline 7.2, needs from
 * Debian's 6.12 kernel (and older ones: coalesced_mmio-6.1.h includes it).
 * The out-of-tree build force-includes it into that one object
 * (harness/base/modules.sh, BASE_COMPAT in bases/<base>.conf); it is never part
 * of the upstream series.
 */
#ifndef COALESCED_MMIO_6_12_H
#define COALESCED_MMIO_6_12_H

#include <linux/slab.h>

/*
 * 7.2's typed allocator: one object like *@p, zeroed. Debian 12
 * backports' 6.12.95 lacks it; 6.12.117 (Debian 13) has it backported.
 */
#ifndef kzalloc_obj
#define kzalloc_obj(p, gfp) kzalloc(sizeof(p), gfp)
#endif

#endif /* COALESCED_MMIO_6_12_H */
