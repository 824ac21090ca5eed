// SPDX-License-Identifier: GPL-2.0-only
/*
 * coalesced_io_compat: every coalesced-I/O ioctl, with valid and invalid
 * arguments, on a throwaway VM, with raw ioctls; then a real-mode guest
 * whose outb go to the legacy ring and to a dedicated ring in this
 * process's memory.  Built twice, as a 32-bit and as a 64-bit program:
 * the structures must have one layout, so a 32-bit VMM must get exactly
 * what a 64-bit one gets.  Each result line is checked against what the
 * kernel (with dedicated rings or without them) must answer, and,
 * with "--compare PROGRAM", against the lines the other build prints.
 *
 * Exit status: 0 when every result was as expected, 1 otherwise, 2 when
 * /dev/kvm or a VM cannot be had.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kvm.h>

#define PORT_LEGACY	0x70
#define PORT_DEDICATED	0xcfc
#define GUEST_WRITES	200
#define RING_ENTRIES	256
#define LINES_MAX	64
#define LINE_LEN	128

static char lines[LINES_MAX][LINE_LEN];
static int nr_lines, failures;
static bool quiet;	/* --lines: print only the result lines, at the end */
static FILE *out;	/* for the rest: stdout, or stderr with --lines */

/* "<what>: <result>", kept for the comparison; a mismatch is a failure. */
static void result(const char *what, long ret, int err, long want, int want_err)
{
	char res[48];
	bool ok;

	if (ret < 0)
		snprintf(res, sizeof(res), "-1 %s", strerrorname_np(err) ?: "?");
	else
		snprintf(res, sizeof(res), "%ld", ret);
	ok = want < 0 ? ret < 0 && err == want_err : ret == want;
	if (nr_lines < LINES_MAX)
		snprintf(lines[nr_lines++], LINE_LEN, "%s: %s", what, res);
	if (!ok)
		failures++;
	if (quiet)
		return;
	printf("%s %s: %s\n", ok ? "ok  " : "FAIL", what, res);
	if (!ok)
		printf("FAIL   want %ld %s\n", want, want < 0 ? strerrorname_np(want_err) : "");
}

static long do_ioctl(int fd, unsigned long nr, unsigned long arg, int *err)
{
	long r = ioctl(fd, nr, arg);

	*err = r < 0 ? errno : 0;
	return r;
}

#define CALL(what, fd, nr, arg, want, want_err) do {			\
	int err_;							\
	long r_ = do_ioctl(fd, nr, (unsigned long)(arg), &err_);	\
	result(what, r_, err_, want, want_err);				\
} while (0)

/* A dedicated-ring call: on a kvm.ko without them, ENOTTY. */
#define CALL2(what, fd, nr, arg, want, want_err)			\
	CALL(what, fd, nr, arg, rings ? (want) : -1, rings ? (want_err) : ENOTTY)

static void legacy_ioctls(int vm, bool rings)
{
	struct kvm_coalesced_mmio_zone z = { .addr = PORT_LEGACY, .size = 1, .pio = 1 };

	CALL("legacy register 0x70+1 pio", vm, KVM_REGISTER_COALESCED_MMIO, &z, 0, 0);
	CALL("legacy unregister 0x70+1 pio", vm, KVM_UNREGISTER_COALESCED_MMIO, &z, 0, 0);
	z.pio = 4;
	CALL("legacy register unknown flag", vm, KVM_REGISTER_COALESCED_MMIO, &z, -1, EINVAL);
	z.pio = 1;
	z.size = 0;
	/* Older kernels accept a zone that holds nothing; newer ones refuse it. */
	CALL("legacy register size 0", vm, KVM_REGISTER_COALESCED_MMIO, &z,
	     rings ? -1 : 0, EINVAL);
	z.size = 1;
	CALL("legacy register bad pointer", vm, KVM_REGISTER_COALESCED_MMIO, 8, -1, EFAULT);
	z.addr = 0xc0000000;
	z.size = 0x1000;
	z.pio = 0;
	CALL("legacy register mmio", vm, KVM_REGISTER_COALESCED_MMIO, &z, 0, 0);
	CALL("legacy unregister mmio", vm, KVM_UNREGISTER_COALESCED_MMIO, &z, 0, 0);
}

static void ring_ioctls(int vm, bool rings, void *mem)
{
	struct kvm_coalesced_ring req = {
		.addr = (uintptr_t)mem, .entries = 64,
	};
	struct kvm_coalesced_ring_zone z = {
		.addr = 0xcf8, .size = 4, .flags = KVM_COALESCED_ZONE_PIO,
	};
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	/* Ids: the VM's first two rings, 0 and 1. */
	CALL2("create 64 entries", vm, KVM_CREATE_COALESCED_RING, &req, 0, 0);
	req.addr += 4096;
	CALL2("create a second", vm, KVM_CREATE_COALESCED_RING, &req, 1, 0);
	req.pad[0] = 1;
	CALL2("create pad[0] 1", vm, KVM_CREATE_COALESCED_RING, &req, -1, EINVAL);
	req.pad[0] = 0;
	req.pad[1] = 1;
	CALL2("create pad[1] 1", vm, KVM_CREATE_COALESCED_RING, &req, -1, EINVAL);
	req.pad[1] = 0;
	req.entries = 1;
	CALL2("create 1 entry", vm, KVM_CREATE_COALESCED_RING, &req, -1, EINVAL);
	req.entries = 65537;
	CALL2("create 65537 entries", vm, KVM_CREATE_COALESCED_RING, &req, -1, EINVAL);
	req.entries = 64;
	req.flags = 1;
	CALL2("create flags 1", vm, KVM_CREATE_COALESCED_RING, &req, -1, EINVAL);
	req.flags = 0;
	req.addr = (uintptr_t)mem + 4;
	CALL2("create unaligned", vm, KVM_CREATE_COALESCED_RING, &req, -1, EINVAL);
	req.addr = (uintptr_t)ro;
	CALL2("create read-only", vm, KVM_CREATE_COALESCED_RING, &req, -1, EFAULT);
	/* Beyond a 32-bit process's reach; unmapped in a 64-bit one. */
	req.addr = 0x100000000ULL << 4;
	CALL2("create above 4 GiB", vm, KVM_CREATE_COALESCED_RING, &req, -1, EFAULT);
	req.addr = 0xffffffff81000000ULL;
	CALL2("create kernel address", vm, KVM_CREATE_COALESCED_RING, &req, -1, EFAULT);
	req.addr = -8ULL;
	CALL2("create wrapping", vm, KVM_CREATE_COALESCED_RING, &req, -1, EINVAL);
	CALL2("create bad pointer", vm, KVM_CREATE_COALESCED_RING, 8, -1, EFAULT);

	z.ring = 0;
	CALL2("register2 0xcf8+4 pio ring 0", vm, KVM_REGISTER_COALESCED_RING_ZONE, &z, 0, 0);
	CALL2("register2 same again", vm, KVM_REGISTER_COALESCED_RING_ZONE, &z, -1, EEXIST);
	z.ring = 99;
	CALL2("register2 ring 99", vm, KVM_REGISTER_COALESCED_RING_ZONE, &z, -1, ENOENT);
	z.ring = 1;
	z.pad = 1;
	CALL2("register2 pad 1", vm, KVM_REGISTER_COALESCED_RING_ZONE, &z, -1, EINVAL);
	z.pad = 0;
	z.addr = 0xfffe;
	CALL2("register2 port past 0xffff", vm, KVM_REGISTER_COALESCED_RING_ZONE, &z, -1, EINVAL);
	z.addr = 0xc0000000;
	z.size = 0x100;
	z.flags = 0;
	CALL2("register2 mmio ring 1", vm, KVM_REGISTER_COALESCED_RING_ZONE, &z, 0, 0);
	z.size = 0;
	CALL2("unregister2 size 0", vm, KVM_UNREGISTER_COALESCED_RING_ZONE, &z, -1, EINVAL);
	z.addr = 0;
	z.size = 0x10000;
	z.flags = KVM_COALESCED_ZONE_PIO;
	z.ring = 0;
	CALL2("unregister2 all ports ring 0", vm, KVM_UNREGISTER_COALESCED_RING_ZONE, &z, 0, 0);
	z.ring = 99;
	CALL2("unregister2 ring 99", vm, KVM_UNREGISTER_COALESCED_RING_ZONE, &z, -1, ENOENT);
	CALL2("register2 bad pointer", vm, KVM_REGISTER_COALESCED_RING_ZONE, 8, -1, EFAULT);

	CALL2("destroy 0", vm, KVM_DESTROY_COALESCED_RING, 0, 0, 0);
	CALL2("destroy 0 again", vm, KVM_DESTROY_COALESCED_RING, 0, -1, ENOENT);
	CALL2("destroy 65536", vm, KVM_DESTROY_COALESCED_RING, 65536, -1, ENOENT);
	CALL2("destroy 0xffffffff", vm, KVM_DESTROY_COALESCED_RING, 0xffffffffUL, -1, ENOENT);
	CALL2("destroy 1", vm, KVM_DESTROY_COALESCED_RING, 1, 0, 0);
	munmap(ro, 4096);
}

/* The guest, 16-bit code at 0x1000: outb 0..199 to each port, then hlt. */
static const unsigned char guest16[] = {
	0x31, 0xc9,			/*    xor  %cx, %cx       */
	0x88, 0xc8,			/* 1: mov  %cl, %al       */
	0xe6, 0x70,			/*    out  %al, $0x70     */
	0xba, 0xfc, 0x0c,		/*    mov  $0xcfc, %dx    */
	0xee,				/*    out  %al, (%dx)     */
	0x41,				/*    inc  %cx            */
	0x81, 0xf9, 0xc8, 0x00,		/*    cmp  $200, %cx      */
	0x75, 0xf1,			/*    jne  1b             */
	0xf4,				/*    hlt                 */
};

/* Append the entries of @ring (@n slots) for @port to @seen[]. */
static void drain(struct kvm_coalesced_mmio_ring *ring, uint32_t n,
		  uint32_t *next, uint16_t port)
{
	while (ring->first != __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) {
		struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[ring->first];

		if (e->phys_addr != port || e->len != 1 || e->data[0] != (uint8_t)*next) {
			fprintf(out, "FAIL ring entry 0x%llx+%u = %u, want 0x%x = %u\n",
				(unsigned long long)e->phys_addr, e->len, e->data[0],
			       port, *next);
			failures++;
		}
		(*next)++;
		__atomic_store_n(&ring->first, (ring->first + 1) % n, __ATOMIC_RELEASE);
	}
}

static void run_guest(int kvm, int vm, bool rings, void *mem)
{
	struct kvm_coalesced_mmio_zone legacy = { .addr = PORT_LEGACY, .size = 1, .pio = 1 };
	struct kvm_coalesced_ring req = {
		.addr = (uintptr_t)mem, .entries = RING_ENTRIES,
	};
	struct kvm_coalesced_ring_zone z = {
		.addr = PORT_DEDICATED, .size = 4, .flags = KVM_COALESCED_ZONE_PIO,
	};
	struct kvm_coalesced_mmio_ring *lring, *dring = mem;
	uint32_t next_legacy = 0, next_ded = 0, exits = 0, lmax;
	long page = getpagesize(), off;
	struct kvm_userspace_memory_region slot = { .memory_size = 0x10000 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
	struct kvm_run *run;
	int vcpu, size;
	void *gmem;

	gmem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy((char *)gmem + 0x1000, guest16, sizeof(guest16));
	slot.userspace_addr = (uintptr_t)gmem;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	off = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	if (gmem == MAP_FAILED || vcpu < 0 || size <= 0 || off <= 0 ||
	    ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) ||
	    ioctl(vcpu, KVM_GET_SREGS, &sregs)) {
		fprintf(out, "FAIL setting up the vCPU: %s\n", strerror(errno));
		failures++;
		return;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	lring = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, off * page);
	lmax = (page - sizeof(*lring)) / sizeof(struct kvm_coalesced_mmio);
	if (run == MAP_FAILED || lring == MAP_FAILED || ioctl(vcpu, KVM_SET_SREGS, &sregs) ||
	    ioctl(vcpu, KVM_SET_REGS, &regs) ||
	    ioctl(vm, KVM_REGISTER_COALESCED_MMIO, &legacy)) {
		fprintf(out, "FAIL setting up the vCPU: %s\n", strerror(errno));
		failures++;
		return;
	}
	memset(mem, 0, KVM_COALESCED_RING_BYTES(RING_ENTRIES));
	if (rings) {
		z.ring = ioctl(vm, KVM_CREATE_COALESCED_RING, &req);
		if ((int)z.ring < 0 || ioctl(vm, KVM_REGISTER_COALESCED_RING_ZONE, &z)) {
			fprintf(out, "FAIL a dedicated ring for the guest: %s\n", strerror(errno));
			failures++;
			return;
		}
	}

	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0)) {
			fprintf(out, "FAIL KVM_RUN: %s\n", strerror(errno));
			failures++;
			return;
		}
		drain(lring, lmax, &next_legacy, PORT_LEGACY);
		if (rings)
			drain(dring, RING_ENTRIES, &next_ded, PORT_DEDICATED);
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
		    run->io.size != 1 || run->io.count != 1) {
			fprintf(out, "FAIL exit %u\n", run->exit_reason);
			failures++;
			return;
		}
		exits++;
		{
			uint8_t v = *((uint8_t *)run + run->io.data_offset);
			uint32_t *next = run->io.port == PORT_LEGACY ? &next_legacy : &next_ded;

			if (v != (uint8_t)*next) {
				fprintf(out, "FAIL exit: %u to 0x%x, want %u\n", v,
					run->io.port, *next);
				failures++;
			}
			(*next)++;
		}
	}
	/*
	 * Dedicated: all in the ring; legacy: the ring until full, then an
	 * exit, after which we drained it: one exit for 200 writes, more on
	 * a kernel before 6.12, which reports the ring full at 85 entries.
	 */
	result("guest writes to the legacy ring's port", next_legacy, 0, GUEST_WRITES, 0);
	result("guest writes to the dedicated ring's port", next_ded, 0, GUEST_WRITES, 0);
	fprintf(out, "# %u exits (the legacy ring has %u slots)\n", exits, lmax - 1);
	result("some exits, not all", exits >= (rings ? 1 : GUEST_WRITES) &&
	       exits < (rings ? GUEST_WRITES / 2 : 2 * GUEST_WRITES), 0, 1, 0);
	close(vcpu);
}

/*
 * Can @prog be executed at all?  A kernel without 32-bit support
 * (CONFIG_IA32_EMULATION) refuses the 32-bit build with ENOEXEC.
 */
static bool can_exec(const char *prog)
{
	int status, fd;
	pid_t pid;

	pid = fork();
	if (!pid) {
		fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(prog, prog, "--lines", (char *)NULL);
		_exit(errno == ENOEXEC ? 126 : 127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return true;	/* let compare() say what fails */
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 126);
}

/* Run "@prog --lines" and compare its result lines with ours. */
static void compare(const char *prog)
{
	char cmd[256], line[LINE_LEN + 2];
	int i = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s --lines", prog);
	f = popen(cmd, "r");
	if (!f) {
		fprintf(out, "FAIL cannot run %s\n", cmd);
		failures++;
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (i >= nr_lines || strcmp(lines[i], line)) {
			fprintf(out, "FAIL %s says \"%s\", we said \"%s\"\n", prog, line,
				i < nr_lines ? lines[i] : "nothing");
			failures++;
		}
		i++;
	}
	if (pclose(f) == -1 || i != nr_lines) {
		fprintf(out, "FAIL %s gave %d result lines, we %d\n", prog, i, nr_lines);
		failures++;
	}
	if (!failures)
		printf("# %s (%zu-bit) agrees on all %d results\n", prog,
		       8 * sizeof(long) == 64 ? (size_t)32 : (size_t)64, nr_lines);
}

int main(int argc, char *argv[])
{
	bool only_lines = argc > 1 && !strcmp(argv[1], "--lines");
	const char *other = argc > 2 && !strcmp(argv[1], "--compare") ? argv[2] : NULL;
	int kvm, vm, i;
	bool rings;
	void *mem;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
	mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm < 0 || mem == MAP_FAILED) {
		printf("cannot have a VM: %s\n", strerror(errno));
		return 2;
	}
	quiet = only_lines;
	out = quiet ? stderr : stdout;
	rings = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_RING) > 0;
	if (!quiet)
		printf("# %zu-bit process, %s dedicated rings\n", 8 * sizeof(long),
		       rings ? "with" : "without");
	result("KVM_CAP_COALESCED_RING",
	       ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_RING), 0,
	       rings ? KVM_COALESCED_RING_MAX_ENTRIES : 0, 0);
	legacy_ioctls(vm, rings);
	ring_ioctls(vm, rings, mem);
	close(vm);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	run_guest(kvm, vm, rings, mem);
	close(vm);
	if (only_lines) {
		for (i = 0; i < nr_lines; i++)
			printf("%s\n", lines[i]);
		return 0;
	}
	if (other && !can_exec(other)) {
		printf("# SKIP %s: this kernel runs no %zu-bit programs (CONFIG_IA32_EMULATION)\n",
		       other, 8 * sizeof(long) == 64 ? (size_t)32 : (size_t)64);
		return 4;
	}
	if (other)
		compare(other);
	printf("%s: %d failures\n", failures ? "FAIL" : "ok", failures);
	return !!failures;
}
