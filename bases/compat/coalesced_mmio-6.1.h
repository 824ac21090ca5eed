/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What virt/kvm/coalesced_mmio.c, written for mainline 7.2, needs from
 * Debian's 6.1 kernel, beyond what 6.12 lacks too (coalesced_mmio-6.12.h).
 * The out-of-tree build force-includes it into that one object
 * (harness/base/modules.sh, BASE_COMPAT in bases/6.1.conf); it is never part of
 * the upstream series.
 */
#ifndef COALESCED_MMIO_6_1_H
#define COALESCED_MMIO_6_1_H

#include <linux/eventfd.h>
#include <linux/kvm_host.h>
#include <kvm/iodev.h>

#include "coalesced_mmio-6.12.h"

/*
 * Since 6.5 ("KVM: destruct kvm_io_device while unregistering it from
 * kvm_io_bus") kvm_io_bus_unregister_dev() destroys the device it removes,
 * on success and on failure.  Before, it left that device to its caller:
 * destroy it here, so that the engine has one rule on every base.  The
 * device is always on the bus: a zone leaves our list only through its
 * destructor.
 */
static inline int compat_kvm_io_bus_unregister_dev(struct kvm *kvm,
						   enum kvm_bus bus_idx,
						   struct kvm_io_device *dev)
{
	int r = kvm_io_bus_unregister_dev(kvm, bus_idx, dev);

	kvm_iodevice_destructor(dev);
	return r;
}

#define kvm_io_bus_unregister_dev compat_kvm_io_bus_unregister_dev

/*
 * 6.8 ("eventfd: simplify eventfd_signal()") dropped the count, always 1
 * where KVM signals.  <linux/eventfd.h> is included above, so that its
 * declaration is not this macro's.
 */
#define eventfd_signal(ctx) eventfd_signal(ctx, 1)

#endif /* COALESCED_MMIO_6_1_H */
