// SPDX-License-Identifier: GPL-2.0
/*
 * Hold one idle VM with one vCPU (in-kernel local APIC, never run) for the
 * whole test run.  Every vCPU's APIC takes a reference on KVM's
 * apic_sw_disabled static key and drops it a second after its VM is gone;
 * each 0 <-> 1 change patches kernel text, and patching that often while
 * tests create VMs back to back hung the emulated test VM.  With this
 * reference held the key never changes.  Started and killed by /init.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm, vm;

	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0) {
		perror("kvm-anchor: /dev/kvm");
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(vm, KVM_CREATE_VCPU, 0) < 0) {
		perror("kvm-anchor: cannot create the idle VM");
		return 1;
	}
	for (;;)
		pause();
}
