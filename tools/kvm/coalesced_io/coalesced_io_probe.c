// SPDX-License-Identifier: GPL-2.0-only
/*
 * coalesced_io_probe: print every coalesced-I/O capability of /dev/kvm
 * (or of the device given as the only argument), as "name: value" lines,
 * and check with a throwaway VM that each one works as reported.
 *
 * Exit status: 0 when every reported capability worked, 1 when one did
 * not, 2 when the device cannot be opened or a VM cannot be created.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "dedicated_ring.h"

static int failures;

static void report(const char *name, const char *fmt, long value)
{
	printf("%-34s ", name);
	printf(fmt, value);
	putchar('\n');
}

/* One registration attempt, as "ok" or the errno's name. */
static void try(const char *what, int r)
{
	printf("%-34s %s\n", what, r ? strerror(errno) : "ok");
	failures += r != 0;
}

#ifdef KVM_CAP_COALESCED_RING
/*
 * Without the capability, the ioctls must fail with ENOTTY: anything else
 * means their numbers reach some other ioctl of this kernel.
 */
static void no_dedicated(int vm)
{
	struct kvm_coalesced_ring req = { .entries = 2 };
	int r = ioctl(vm, KVM_CREATE_COALESCED_RING, &req);

	if (r < 0 && errno == ENOTTY) {
		printf("%-34s ENOTTY, as it should without the capability\n",
		       "  KVM_CREATE_COALESCED_RING");
		return;
	}
	printf("%-34s %s, want ENOTTY: its number reaches another ioctl\n",
	       "  KVM_CREATE_COALESCED_RING",
	       r < 0 ? strerror(errno) : "success");
	failures++;
}

/* Dedicated rings: the largest, and a 64-entry one with two zones. */
static void probe_dedicated(int kvm, int vm, bool pio)
{
	uint32_t max = dedicated_ring_max_entries(kvm);
	struct dedicated_ring dr;

	report("KVM_CAP_COALESCED_RING", "%ld (most entries of a dedicated ring; 0: none)", max);
	if (!max) {
		no_dedicated(vm);
		return;
	}
	try("  dedicated ring, 64 entries",
	    dedicated_ring_create(&dr, vm, 64));
	if (dr.id < 0)
		return;
	try("  dedicated MMIO zone",
	    dedicated_ring_zone(&dr, KVM_REGISTER_COALESCED_RING_ZONE, 0xfed00000, 8, 0));
	if (pio)
		try("  dedicated PIO zone (port 0xcf8)",
		    dedicated_ring_zone(&dr, KVM_REGISTER_COALESCED_RING_ZONE, 0xcf8, 4,
					KVM_COALESCED_ZONE_PIO));
	dedicated_ring_destroy(&dr);
}
#endif

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/kvm";
	struct kvm_coalesced_mmio_zone zone = { .addr = 0x70, .size = 2 };
	int kvm, vm, mmio, pio;

	kvm = open(dev, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "cannot open %s: %s\n", dev, strerror(errno));
		return 2;
	}
	mmio = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	pio = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO);
	report("KVM_CAP_COALESCED_MMIO", "%ld (ring page offset; 0: none)", mmio);
	report("  legacy ring entries", "%ld", mmio > 0 ? coalesced_ring_max() : 0);
	report("KVM_CAP_COALESCED_PIO", "%ld", pio);
#ifdef KVM_CAP_COALESCED_ZONE_FLAGS
	report("KVM_CAP_COALESCED_ZONE_FLAGS", "0x%lx (zone flags; 0x2: by start)",
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_ZONE_FLAGS));
#endif

	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "KVM_CREATE_VM failed: %s\n", strerror(errno));
		return 2;
	}
	if (mmio > 0) {
		zone.addr = 0xfee00000;
		zone.pio = 0;
		try("  legacy MMIO zone", ioctl(vm, KVM_REGISTER_COALESCED_MMIO, &zone));
	}
	if (pio > 0) {
		zone.addr = 0x70;
		zone.pio = KVM_COALESCED_ZONE_PIO;
		try("  legacy PIO zone (port 0x70)",
		    ioctl(vm, KVM_REGISTER_COALESCED_MMIO, &zone));
	}

#ifdef KVM_CAP_COALESCED_RING
	probe_dedicated(kvm, vm, pio > 0);
#else
	printf("%-34s (not in the uapi headers this was built with)\n",
	       "KVM_CAP_COALESCED_RING");
#endif
	close(vm);
	close(kvm);
	return failures ? 1 : 0;
}
