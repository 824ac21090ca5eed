// SPDX-License-Identifier: GPL-2.0-only
/*
 * Show coalesced port I/O at work: the capabilities /dev/kvm reports, and
 * a guest doing the RTC pattern (out 0x70, in 0x71) N times without and
 * with a coalesced zone on port 0x70.  Not a test: it prints, it does not
 * judge.  Usage: coalesced_io_demo [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "coalesced_ring.h"

static u32 iterations = 2000;

static void rtc_guest(void)
{
	u32 i;
	u8 val;

	for (i = 0; i < iterations; i++) {
		asm volatile("outb %b0, $0x70" : : "a"((u8)(i & 0x7f)));
		asm volatile("inb $0x71, %b0" : "=a"(val));
	}
	GUEST_DONE();
}

static void count_entry(const struct kvm_coalesced_mmio *e, void *arg)
{
	(*(u64 *)arg)++;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void run_rtc(bool zone)
{
	struct kvm_coalesced_mmio_ring *ring;
	u64 exits = 0, entries = 0;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	double t0, t1;

	vm = vm_create_with_one_vcpu(&vcpu, rtc_guest);
	sync_global_to_guest(vm, iterations);
	ring = coalesced_ring_map(vm->fd, vcpu->fd);
	TEST_ASSERT(ring, "cannot map the coalesced ring");
	if (zone)
		kvm_vm_register_coalesced_io(vm, 0x70, 1, true);

	t0 = now_us();
	for (;;) {
		vcpu_run(vcpu);
		coalesced_ring_drain(ring, count_entry, &entries);
		if (get_ucall(vcpu, &uc) == UCALL_DONE)
			break;
		TEST_ASSERT(vcpu->run->exit_reason == KVM_EXIT_IO,
			    "unexpected exit %u", vcpu->run->exit_reason);
		if (vcpu->run->io.direction == KVM_EXIT_IO_IN)
			*((u8 *)vcpu->run + vcpu->run->io.data_offset) = 0;
		exits++;
	}
	t1 = now_us();
	printf("  %-22s %8lu %12lu %14.1f\n",
	       zone ? "zone {0x70, 1, PIO}" : "no zone", exits, entries,
	       (t1 - t0) / iterations);
	kvm_vm_free(vm);
}

int main(int argc, char *argv[])
{
	if (argc > 1)
		iterations = strtoul(argv[1], NULL, 0);

	printf("KVM_CAP_COALESCED_MMIO = %d (ring page offset in the vCPU mmap)\n",
	       kvm_check_cap(KVM_CAP_COALESCED_MMIO));
	printf("KVM_CAP_COALESCED_PIO  = %d\n",
	       kvm_check_cap(KVM_CAP_COALESCED_PIO));
	printf("RTC pattern (out 0x70; in 0x71) x %u:\n", iterations);
	printf("  %-22s %8s %12s %14s\n", "", "exits", "ring entries",
	       "us/iteration");
	run_rtc(false);
	run_rtc(true);
	return 0;
}
