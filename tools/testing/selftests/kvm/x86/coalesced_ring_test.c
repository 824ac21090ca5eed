// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dedicated coalesced rings (KVM_CAP_COALESCED_RING) in the test's own
 * memory: creating them (every field, the pinning and its RLIMIT_MEMLOCK
 * charge), zones bound to them, ordering, a full ring that makes only its
 * own zones exit, destroying a ring while the guest writes, a consumer
 * polling the ring while the guest writes, fork() while it writes, and VM
 * destruction with rings in place (nothing stays pinned); then bad
 * inputs: ioctls racing from several threads, rings in every kind of
 * memory, unmapped, zapped or moved while they fill, 65536 rings, a full
 * I/O bus, RLIMIT_MEMLOCK 0, many VMs at once, and addresses no ring can
 * have.  On kernels without them, checks only that all four ioctls fail
 * with ENOTTY.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "dedicated_ring.h"
#include "coalesced_guest.h"
#include "coalesced_kvm.h"
#include "kselftest_harness.h"

#define PORT_A		0xcf8	/* 4-byte zones */
#define PORT_B		0xcfc
#define PORT_LEGACY	0x70
#define PORT_PLAIN	0x80	/* never in a zone: always exits */
#define MMIO_GPA	0xc0000000ULL
#define MMIO_ZONE_SIZE	0x100

/* ---- guest side ------------------------------------------------------ */

/*
 * A burst: @count 4-byte writes of 0, 1, 2, ... round-robin over the
 * targets.  Set by the host while the guest is parked at GUEST_SYNC.
 */
struct target {
	u64 addr;
	bool pio;
};

#define MAX_TARGETS 8

static struct {
	u32 count;
	u32 nr_targets;
	u32 width;		/* bytes per write */
	struct target target[MAX_TARGETS];
} burst;

static void burst_guest(void)
{
	u32 i;

	for (;;) {
		GUEST_SYNC(0);
		for (i = 0; i < burst.count; i++) {
			const struct target *t = &burst.target[i % burst.nr_targets];

			if (t->pio)
				guest_out(t->addr, i, burst.width);
			else
				guest_mmio_write(t->addr, i, burst.width);
		}
	}
}

/* ---- host side ------------------------------------------------------- */

/* A write as userspace saw it: from a ring, or from an exit. */
struct seen {
	u64 addr;
	u32 data;
	bool pio;
};

struct seen_list {
	struct seen *v;
	u32 n;
	u32 cap;
};

static void seen_push(struct seen_list *l, u64 addr, u32 data, bool pio)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		TEST_ASSERT(l->v, "no memory for %u writes", l->cap);
	}
	l->v[l->n++] = (struct seen){ .addr = addr, .data = data, .pio = pio };
}

/* The width of the last burst's writes: every entry and exit has it. */
static u32 burst_width = 4;

static void seen_entry(const struct kvm_coalesced_mmio *e, void *arg)
{
	u32 data = 0;

	TEST_ASSERT(e->len == burst_width, "entry for 0x%llx has length %u, want %u",
		    e->phys_addr, e->len, burst_width);
	memcpy(&data, e->data, burst_width);
	seen_push(arg, e->phys_addr, data, e->pio & KVM_COALESCED_ZONE_PIO);
}

struct ctx {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	struct kvm_coalesced_mmio_ring *legacy;
	/* Called at each I/O or MMIO write exit, after it is in @exits. */
	void (*on_exit)(struct ctx *c);
	struct seen_list exits;
	struct dedicated_ring *bufs[2];	/* drained by check_at_exit */
	struct seen_list drained;
};

/* Run the guest to its next GUEST_SYNC, logging write exits. */
static void run_to_sync(struct ctx *c)
{
	struct kvm_run *run = c->vcpu->run;
	u32 data = 0;

	while (!run_until_sync_or_exit(c->vcpu)) {
		if (run->exit_reason == KVM_EXIT_IO &&
		    run->io.direction == KVM_EXIT_IO_OUT &&
		    run->io.size == burst_width) {
			memcpy(&data, (void *)run + run->io.data_offset, burst_width);
			seen_push(&c->exits, run->io.port, data, true);
		} else if (run->exit_reason == KVM_EXIT_MMIO &&
			   run->mmio.is_write && run->mmio.len == burst_width) {
			memcpy(&data, run->mmio.data, burst_width);
			seen_push(&c->exits, run->mmio.phys_addr, data, false);
		} else {
			TEST_FAIL("unexpected exit %u (%s)", run->exit_reason,
				  exit_reason_str(run->exit_reason));
		}
		if (c->on_exit)
			c->on_exit(c);
	}
}

static void ctx_init(struct ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->vm = vm_create_with_one_vcpu(&c->vcpu, burst_guest);
	virt_map(c->vm, MMIO_GPA, MMIO_GPA, 1);
	catch_guest_exceptions(c->vm);
	c->legacy = coalesced_ring_map(c->vm->fd, c->vcpu->fd);
	TEST_ASSERT(c->legacy, "cannot map the legacy ring: %s", strerror(errno));
	run_to_sync(c);		/* park the guest at its first GUEST_SYNC */
}

static void ctx_free(struct ctx *c)
{
	munmap(c->legacy, getpagesize());
	kvm_vm_free(c->vm);
	free(c->exits.v);
	free(c->drained.v);
}

/*
 * Make @count writes of @width bytes, each to the next of @targets in
 * turn, and run the guest until it is done.  The writes go into this VM's
 * copy of burst, so that threads may run bursts in VMs of their own.
 */
static void run_burst_width(struct ctx *c, u32 count, const struct target *targets,
			    u32 nr_targets, u32 width)
{
	typeof(burst) *b = addr_gva2hva(c->vm, (gva_t)&burst);

	TEST_ASSERT(nr_targets && nr_targets <= MAX_TARGETS, "bad target list");
	b->count = count;
	b->nr_targets = nr_targets;
	b->width = width;
	burst_width = width;
	memcpy(b->target, targets, nr_targets * sizeof(*targets));
	run_to_sync(c);
}

static void run_burst(struct ctx *c, u32 count,
		      const struct target *targets, u32 nr_targets)
{
	run_burst_width(c, count, targets, nr_targets, 4);
}

static struct dedicated_ring ring_new(struct ctx *c, u32 entries)
{
	struct dedicated_ring buf;

	TEST_ASSERT(!dedicated_ring_create(&buf, c->vm->fd, entries),
		    "creating a %u-entry ring failed: %s", entries, strerror(errno));
	return buf;
}

/* Wait up to @timeout_ms for an entry in @buf's ring: true when one came. */
static bool wait_for_entry(const struct dedicated_ring *buf, u32 timeout_ms)
{
	u32 waited;

	for (waited = 0; waited < timeout_ms; waited++) {
		if (__atomic_load_n(&buf->ring->last, __ATOMIC_ACQUIRE) !=
		    __atomic_load_n(&buf->ring->first, __ATOMIC_RELAXED))
			return true;
		usleep(1000);
	}
	return false;
}

static int ring_zone(const struct dedicated_ring *buf, unsigned long nr,
		     u64 addr, u32 size, u32 flags)
{
	return dedicated_ring_zone(buf, nr, addr, size, flags) ? -errno : 0;
}

static void bind_ok(const struct dedicated_ring *buf, u64 addr, u32 size,
		    u32 flags)
{
	int r = ring_zone(buf, KVM_REGISTER_COALESCED_RING_ZONE, addr, size, flags);

	TEST_ASSERT(!r, "binding zone 0x%lx+%u (flags %u) to ring %d: %s",
		    addr, size, flags, buf->id, strerror(-r));
}

static void legacy_zone_ok(struct ctx *c, u64 addr, u32 size,
			   u32 flags)
{
	kvm_vm_register_coalesced_io(c->vm, addr, size,
				     flags & KVM_COALESCED_ZONE_PIO);
}

/* KVM_DESTROY_COALESCED_RING alone: 0 or the errno. */
static int destroy_errno(struct ctx *c, unsigned long id)
{
	return ioctl(c->vm->fd, KVM_DESTROY_COALESCED_RING, id) ? errno : 0;
}

/*
 * The writes in @l, from index @from on, must be writes number
 * @first, @first + @step, ... of a burst, all to @addr.
 */
static void expect_writes(const char *what, const struct seen_list *l,
			  u32 from, u32 n, u64 addr,
			  u32 first, u32 step)
{
	u32 i;

	TEST_ASSERT(l->n - from == n, "%s: %u writes, want %u",
		    what, l->n - from, n);
	for (i = 0; i < n; i++) {
		const struct seen *s = &l->v[from + i];

		TEST_ASSERT(s->addr == addr && s->data == first + i * step,
			    "%s: write %u is %u to 0x%lx, want %u to 0x%lx",
			    what, i, s->data, s->addr, first + i * step, addr);
	}
}

/* KVM_CAP_COALESCED_RING: the most entries of a ring, 0 without it. */
static u32 max_entries;

/*
 * Each case makes a VM of its own; the fixtures only sort the cases by
 * what they need: dedicated rings (dedicated_ring), or a kernel without
 * them (no_dedicated_ring).  Each case skips itself first thing when the
 * kernel is the other kind, in its body, where SKIP() ends the case with
 * every version of kselftest_harness.h.  A debug kernel is four times
 * slower.
 */
FIXTURE(dedicated_ring) {};
FIXTURE_SETUP(dedicated_ring) {}
FIXTURE_TEARDOWN(dedicated_ring) {}

FIXTURE(no_dedicated_ring) {};
FIXTURE_SETUP(no_dedicated_ring) {}
FIXTURE_TEARDOWN(no_dedicated_ring) {}

#define CASE_TIMEOUT_S	480

/* ---- 1. creating and destroying rings -------------------------------- */

/* KVM_CREATE_COALESCED_RING with @req: the id, or -errno. */
static int create_req(struct ctx *c, struct kvm_coalesced_ring req)
{
	int id = ioctl(c->vm->fd, KVM_CREATE_COALESCED_RING, &req);

	if (id < 0)
		return -errno;
	TEST_ASSERT(!destroy_errno(c, id), "destroying ring %d failed", id);
	return id;
}

/* @entries entries at @mem. */
static int create_at(struct ctx *c, void *mem, u32 entries)
{
	return create_req(c, (struct kvm_coalesced_ring){
		.addr = (uintptr_t)mem, .entries = entries,
	});
}

/* Effective CAP_IPC_LOCK on or off; it stays in the permitted set. */
static void set_ipc_lock(bool on)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	TEST_ASSERT(!syscall(SYS_capget, &hdr, data), "capget: %s", strerror(errno));
	if (on)
		data[0].effective |= 1u << CAP_IPC_LOCK;
	else
		data[0].effective &= ~(1u << CAP_IPC_LOCK);
	TEST_ASSERT(!syscall(SYS_capset, &hdr, data), "capset: %s", strerror(errno));
}

TEST_F_TIMEOUT(dedicated_ring, create_ring, CASE_TIMEOUT_S)
{
	const u32 max = KVM_COALESCED_RING_MAX_ENTRIES;
	size_t page = getpagesize(), big = KVM_COALESCED_RING_BYTES((size_t)max);
	long pin_before, pin_with;
	struct dedicated_ring buf, lim[3];
	struct kvm_coalesced_mmio_ring *hdr;
	struct rlimit old, small;
	int id, i, err[3];
	struct ctx c;
	u8 *mem, *ro, *hole;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	TEST_ASSERT(max_entries == max, "KVM_CAP_COALESCED_RING is %u, want %u",
		    max_entries, max);
	mem = mmap(NULL, big + page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(mem != MAP_FAILED && ro != MAP_FAILED, "mmap failed");

	/* Sizes: any count from 2 to the maximum, none outside. */
	TEST_ASSERT(create_at(&c, mem, 0) == -EINVAL &&
		    create_at(&c, mem, 1) == -EINVAL &&
		    create_at(&c, mem, max + 1) == -EINVAL,
		    "0, 1 and %u entries must get EINVAL", max + 1);
	TEST_ASSERT(create_at(&c, mem, 2) >= 0 &&
		    create_at(&c, mem, 3) >= 0 &&
		    create_at(&c, mem, 1000) >= 0 &&
		    create_at(&c, mem, max) >= 0,
		    "rings of 2, 3, 1000 and %u entries must be accepted", max);
	/* Alignment: the header's, 8 bytes; any page offset is fine. */
	TEST_ASSERT(create_at(&c, mem + 4, 2) == -EINVAL &&
		    create_at(&c, mem + 1, 2) == -EINVAL,
		    "a ring that is not 8-byte aligned must get EINVAL");
	TEST_ASSERT(create_at(&c, mem + page - 8, 100) >= 0,
		    "a ring across a page boundary must be accepted");
	/* Memory: writable, mapped, not wrapping. */
	TEST_ASSERT(create_at(&c, ro, 2) == -EFAULT,
		    "read-only memory must get EFAULT");
	hole = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(hole != MAP_FAILED && !munmap(hole + page, page), "mmap failed");
	TEST_ASSERT(create_at(&c, hole + page - 8, 2) == -EFAULT,
		    "a ring that runs past its mapping must get EFAULT");
	munmap(hole, page);
	TEST_ASSERT(create_req(&c, (struct kvm_coalesced_ring){
			.addr = ~7ULL, .entries = 2 }) == -EINVAL,
		    "a ring that wraps around must get EINVAL");
	/* Flags and padding: none known, all zero. */
	for (i = 0; i < 32; i++)
		TEST_ASSERT(create_req(&c, (struct kvm_coalesced_ring){
				.addr = (uintptr_t)mem, .entries = 2,
				.flags = 1u << i }) == -EINVAL,
			    "flag 0x%x must get EINVAL", 1u << i);
	TEST_ASSERT(create_req(&c, (struct kvm_coalesced_ring){
			.addr = (uintptr_t)mem, .entries = 2, .pad = { 1 } }) == -EINVAL &&
		    create_req(&c, (struct kvm_coalesced_ring){
			.addr = (uintptr_t)mem, .entries = 2, .pad = { 0, 1 } }) == -EINVAL,
		    "padding that is not 0 must get EINVAL");
	/* The header must hold indexes in range. */
	hdr = (void *)mem;
	hdr->first = 8;
	TEST_ASSERT(create_at(&c, mem, 8) == -EINVAL,
		    "a header with first out of range must get EINVAL");
	hdr->first = 3;
	hdr->last = 5;
	TEST_ASSERT(create_at(&c, mem, 8) >= 0,
		    "a ring that already holds entries must be accepted");
	hdr->first = 0;
	hdr->last = 0;

	/* Ids: destroy takes each once; unknown ids are ENOENT. */
	id = create_at(&c, mem, 2);
	TEST_ASSERT(destroy_errno(&c, id) == ENOENT && destroy_errno(&c, 70000) == ENOENT,
		    "destroying ring %d twice, or a ring that never was, must get ENOENT", id);

	/*
	 * Pinned memory: counted in VmPin while the ring exists, and against
	 * RLIMIT_MEMLOCK without CAP_IPC_LOCK.
	 */
	pin_before = coalesced_vmpin_kb();
	buf = ring_new(&c, max);
	pin_with = coalesced_vmpin_kb();
	TEST_ASSERT(pin_with - pin_before >= (long)(big / 1024) &&
		    pin_with - pin_before <= (long)(big / 1024) + 2 * (long)page / 1024,
		    "VmPin grew by %ld kB for a %zu-byte ring", pin_with - pin_before, big);
	dedicated_ring_destroy(&buf);
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before, "VmPin is %ld kB after destroy, was %ld",
		    coalesced_vmpin_kb(), pin_before);

	TEST_ASSERT(!getrlimit(RLIMIT_MEMLOCK, &old), "getrlimit failed");
	small = old;
	small.rlim_cur = pin_before * 1024 + 64 * 1024;
	TEST_ASSERT(!setrlimit(RLIMIT_MEMLOCK, &small), "setrlimit failed");
	set_ipc_lock(false);
	TEST_ASSERT(create_at(&c, mem, max) == -ENOMEM,
		    "a %zu-byte ring over a 64 KiB RLIMIT_MEMLOCK must get ENOMEM", big);
	TEST_ASSERT(create_at(&c, mem, 1000) >= 0,
		    "a 24 KiB ring under a 64 KiB RLIMIT_MEMLOCK must be accepted");
	/* Charges add up: 2 x 24 KiB fit in 64 KiB, a third does not. */
	for (i = 0; i < 3; i++)
		err[i] = dedicated_ring_create(&lim[i], c.vm->fd, 1000) ? errno : 0;
	TEST_ASSERT(!err[0] && !err[1] && err[2] == ENOMEM,
		    "three 24 KiB rings under 64 KiB: %s, %s, %s; want the third ENOMEM",
		    strerror(err[0]), strerror(err[1]), strerror(err[2]));
	dedicated_ring_destroy(&lim[0]);
	dedicated_ring_destroy(&lim[1]);
	set_ipc_lock(true);
	TEST_ASSERT(!setrlimit(RLIMIT_MEMLOCK, &old), "setrlimit failed");

	munmap(ro, page);
	munmap(mem, big + page);
	ctx_free(&c);
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before,
		    "VmPin is %ld kB after the VM is gone, was %ld",
		    coalesced_vmpin_kb(), pin_before);
}

/* ---- 2. zone errors -------------------------------------------------- */

TEST_F_TIMEOUT(dedicated_ring, zone_errors, CASE_TIMEOUT_S)
{
	struct dedicated_ring buf, gone, fake;
	struct kvm_coalesced_ring_zone padded;
	struct ctx c, other;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	ctx_init(&other);
	buf = ring_new(&c, 100);
	gone = ring_new(&c, 100);
	dedicated_ring_zone(&gone, KVM_REGISTER_COALESCED_RING_ZONE, PORT_B, 4,
			    KVM_COALESCED_ZONE_PIO);
	TEST_ASSERT(!destroy_errno(&c, gone.id), "destroying a ring failed");

	fake = buf;
	fake.id = 70000;
	TEST_ASSERT(ring_zone(&fake, KVM_REGISTER_COALESCED_RING_ZONE, PORT_A, 4,
			      KVM_COALESCED_ZONE_PIO) == -ENOENT,
		    "a ring id that never was must get ENOENT");
	TEST_ASSERT(ring_zone(&gone, KVM_REGISTER_COALESCED_RING_ZONE, PORT_A, 4,
			      KVM_COALESCED_ZONE_PIO) == -ENOENT,
		    "a destroyed ring must get ENOENT");
	fake.vm_fd = other.vm->fd;
	fake.id = buf.id;
	TEST_ASSERT(ring_zone(&fake, KVM_REGISTER_COALESCED_RING_ZONE, PORT_A, 4,
			      KVM_COALESCED_ZONE_PIO) == -ENOENT,
		    "a ring of another VM must get ENOENT (ids are per VM)");
	TEST_ASSERT(ring_zone(&buf, KVM_REGISTER_COALESCED_RING_ZONE, PORT_A, 0,
			      KVM_COALESCED_ZONE_PIO) == -EINVAL &&
		    ring_zone(&buf, KVM_REGISTER_COALESCED_RING_ZONE, 0xfffe, 4,
			      KVM_COALESCED_ZONE_PIO) == -EINVAL &&
		    ring_zone(&buf, KVM_REGISTER_COALESCED_RING_ZONE, PORT_A, 4, 4) == -EINVAL &&
		    ring_zone(&buf, KVM_REGISTER_COALESCED_RING_ZONE, ~0ULL, 2, 0) == -EINVAL,
		    "size 0, ports past 0xffff, unknown flags and wrap-around must get EINVAL");
	padded = (struct kvm_coalesced_ring_zone){
		.addr = PORT_A, .size = 4, .flags = KVM_COALESCED_ZONE_PIO,
		.ring = buf.id, .pad = 1,
	};
	TEST_ASSERT(ioctl(c.vm->fd, KVM_REGISTER_COALESCED_RING_ZONE, &padded) && errno == EINVAL,
		    "a zone with pad set must get EINVAL");

	legacy_zone_ok(&c, PORT_LEGACY, 4, KVM_COALESCED_ZONE_PIO);
	TEST_ASSERT(ring_zone(&buf, KVM_REGISTER_COALESCED_RING_ZONE, PORT_LEGACY, 4,
			      KVM_COALESCED_ZONE_PIO) == -EEXIST,
		    "the legacy ring's zone again, on a dedicated ring, must get EEXIST");
	bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	TEST_ASSERT(ring_zone(&buf, KVM_REGISTER_COALESCED_RING_ZONE, PORT_A, 4,
			      KVM_COALESCED_ZONE_PIO) == -EEXIST,
		    "the same zone twice must get EEXIST");
	bind_ok(&buf, PORT_A, 8, KVM_COALESCED_ZONE_PIO);	/* overlap: fine */
	TEST_ASSERT(ring_zone(&gone, KVM_UNREGISTER_COALESCED_RING_ZONE, PORT_A, 4,
			      KVM_COALESCED_ZONE_PIO) == -ENOENT,
		    "unregistering through a destroyed ring must get ENOENT");

	gone.id = -1;	/* KVM's part is gone; free the memory */
	dedicated_ring_destroy(&gone);
	dedicated_ring_destroy(&buf);
	ctx_free(&other);
	ctx_free(&c);
}

/* ---- 3. a 10,000-write burst and the guarantee at an exit ------------ */

#define BIG_BURST	10000

/* At every exit, each ring holds exactly the writes made before it. */
static void check_at_exit(struct ctx *c)
{
	const struct seen *ex = &c->exits.v[c->exits.n - 1];
	u32 before = c->drained.n, i;

	/* Targets: A (ring 0), legacy, MMIO (ring 1), plain (exits). */
	dedicated_ring_drain(c->bufs[0], seen_entry, &c->drained);
	coalesced_ring_drain(c->legacy, seen_entry, &c->drained);
	dedicated_ring_drain(c->bufs[1], seen_entry, &c->drained);
	TEST_ASSERT(ex->addr == PORT_PLAIN && c->drained.n - before == 3,
		    "exit for write %u to 0x%lx: %u entries in the rings, want 3",
		    ex->data, ex->addr, c->drained.n - before);
	for (i = 0; i < 3; i++)
		TEST_ASSERT(c->drained.v[before + i].data == ex->data - 3 + i,
			    "exit for write %u: ring entry %u is write %u",
			    ex->data, i, c->drained.v[before + i].data);
}

TEST_F_TIMEOUT(dedicated_ring, burst_and_exits, CASE_TIMEOUT_S)
{
	const struct target mixed[] = {
		{ PORT_A, true }, { MMIO_GPA, false },
	};
	const struct target four[] = {
		{ PORT_A, true }, { PORT_LEGACY, true }, { MMIO_GPA + 8, false },
		{ PORT_PLAIN, true },
	};
	struct dedicated_ring buf, mmio_buf;
	struct seen_list ring = { 0 };
	u32 i;
	struct ctx c;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	/* The burst, and the slot that always stays empty: not one more. */
	buf = ring_new(&c, BIG_BURST + 1);
	bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	bind_ok(&buf, MMIO_GPA, 4, 0);

	run_burst(&c, BIG_BURST, mixed, 2);
	TEST_ASSERT(c.exits.n == 0, "the %u-write burst made %u exits, want 0",
		    BIG_BURST, c.exits.n);
	dedicated_ring_drain(&buf, seen_entry, &ring);
	TEST_ASSERT(ring.n == BIG_BURST, "%u of %u writes in the %u-entry ring",
		    ring.n, BIG_BURST, buf.entries);
	for (i = 0; i < BIG_BURST; i++)
		TEST_ASSERT(ring.v[i].data == i && ring.v[i].pio == !(i & 1) &&
			    ring.v[i].addr == mixed[i & 1].addr,
			    "entry %u is write %u to 0x%lx (pio %d)", i,
			    ring.v[i].data, ring.v[i].addr, ring.v[i].pio);
	TEST_ASSERT(vcpu_get_stat(c.vcpu, coalesced_pio_writes) == BIG_BURST / 2 &&
		    vcpu_get_stat(c.vcpu, coalesced_mmio_writes) == BIG_BURST / 2,
		    "counters: %lu PIO and %lu MMIO writes",
		    vcpu_get_stat(c.vcpu, coalesced_pio_writes),
		    vcpu_get_stat(c.vcpu, coalesced_mmio_writes));
	TEST_ASSERT(c.legacy->first == c.legacy->last, "the legacy ring got entries");

	/* Two rings, the legacy ring and an exit every fourth write. */
	mmio_buf = ring_new(&c, 2);
	bind_ok(&mmio_buf, MMIO_GPA + 8, 4, 0);
	legacy_zone_ok(&c, PORT_LEGACY, 4, KVM_COALESCED_ZONE_PIO);
	c.bufs[0] = &buf;
	c.bufs[1] = &mmio_buf;
	c.on_exit = check_at_exit;
	run_burst(&c, 400, four, 4);
	TEST_ASSERT(c.exits.n == 100 && c.drained.n == 300,
		    "400 writes: %u exits and %u ring entries, want 100 and 300",
		    c.exits.n, c.drained.n);

	free(ring.v);
	dedicated_ring_destroy(&mmio_buf);
	dedicated_ring_destroy(&buf);
	ctx_free(&c);
}

/*
 * A zone of a dedicated ring overlaps no zone of another ring, the ring in
 * the vCPU mmap included: a write that its full ring refuses must exit,
 * not go on to another ring ahead of the writes still waiting in the full
 * one.  A zone takes only writes that start in it, so a BY_START zone just
 * below, whose range on the bus reaches into the full ring's zone, may
 * stay: it must not take the refused writes either.  The writes are of one
 * byte, so that the bus offers them to that zone too: a wider write to
 * PORT_A would end past the zone's range on the bus.
 */
TEST_F_TIMEOUT(dedicated_ring, overlaps, CASE_TIMEOUT_S)
{
	const struct target port_a[] = { { PORT_A, true } };
	const u32 pio = KVM_COALESCED_ZONE_PIO, by_start = KVM_COALESCED_ZONE_BY_START;
	struct kvm_coalesced_mmio_zone legacy = { .size = 2, .pio = pio };
	struct dedicated_ring buf, other;
	struct seen_list ring = { 0 }, below = { 0 };
	struct ctx c;
	u32 i;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	buf = ring_new(&c, 4);		/* room for 3 writes */
	other = ring_new(&c, 100);
	bind_ok(&buf, PORT_A, 4, pio);
	bind_ok(&buf, PORT_A + 2, 4, pio);	/* the same ring: fine */
	for (legacy.addr = PORT_A - 1; legacy.addr <= PORT_A + 5; legacy.addr++)
		TEST_ASSERT(ioctl(c.vm->fd, KVM_REGISTER_COALESCED_MMIO, &legacy) &&
			    errno == EEXIST,
			    "a legacy zone at ports 0x%llx-0x%llx, overlapping the dedicated ring's 0x%x-0x%x, must get EEXIST",
			    legacy.addr, legacy.addr + 1, PORT_A, PORT_A + 5);
	TEST_ASSERT(ring_zone(&other, KVM_REGISTER_COALESCED_RING_ZONE,
			      PORT_A + 3, 4, pio) == -EEXIST,
		    "a zone of another ring overlapping the ring's must get EEXIST");
	/* Its own range is PORT_A - 1 alone; on the bus it reaches PORT_A + 2. */
	bind_ok(&other, PORT_A - 1, 1, pio | by_start);
	legacy.addr = PORT_A + 6;
	TEST_ASSERT(!ioctl(c.vm->fd, KVM_REGISTER_COALESCED_MMIO, &legacy),
		    "a legacy zone next to the dedicated ring's failed: %s", strerror(errno));

	/* Six writes: three fill the ring, three exit, in order. */
	run_burst_width(&c, 6, port_a, 1, 1);
	dedicated_ring_drain(&buf, seen_entry, &ring);
	TEST_ASSERT(ring.n == 3 && c.exits.n == 3,
		    "6 writes to a ring with room for 3: %u entries, %u exits", ring.n, c.exits.n);
	for (i = 0; i < 3; i++)
		TEST_ASSERT(ring.v[i].data == i && c.exits.v[i].data == i + 3,
			    "write %u is entry %u, write %u exit %u", ring.v[i].data, i,
			    c.exits.v[i].data, i);
	TEST_ASSERT(c.legacy->first == c.legacy->last, "the legacy ring got entries");
	dedicated_ring_drain(&other, seen_entry, &below);
	TEST_ASSERT(!below.n, "the BY_START zone below took %u writes to port 0x%x",
		    below.n, PORT_A);

	free(below.v);
	free(ring.v);
	dedicated_ring_destroy(&other);
	dedicated_ring_destroy(&buf);
	ctx_free(&c);
}

/*
 * KVM_COALESCED_ZONE_BY_START on a dedicated ring: 1-byte zones take the
 * burst's aligned 4-byte writes whole; without the flag all of them exit.
 */
#define BY_START_BURST	1000

TEST_F_TIMEOUT(dedicated_ring, by_start, CASE_TIMEOUT_S)
{
	const struct target mixed[] = {
		{ PORT_A, true }, { MMIO_GPA, false },
	};
	struct dedicated_ring buf;
	struct seen_list ring = { 0 };
	u32 flag, i;
	struct ctx c;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	for (flag = 0; flag <= KVM_COALESCED_ZONE_BY_START;
	     flag += KVM_COALESCED_ZONE_BY_START) {
		ctx_init(&c);
		buf = ring_new(&c, BY_START_BURST + 1);
		bind_ok(&buf, PORT_A, 1, KVM_COALESCED_ZONE_PIO | flag);
		bind_ok(&buf, MMIO_GPA, 1, flag);
		run_burst(&c, BY_START_BURST, mixed, 2);
		ring.n = 0;
		dedicated_ring_drain(&buf, seen_entry, &ring);
		if (!flag) {
			TEST_ASSERT(c.exits.n == BY_START_BURST && !ring.n,
				    "plain 1-byte zones: %u exits, %u entries; want %u and 0",
				    c.exits.n, ring.n, BY_START_BURST);
		} else {
			TEST_ASSERT(!c.exits.n && ring.n == BY_START_BURST,
				    "BY_START 1-byte zones: %u exits, %u entries; want 0 and %u",
				    c.exits.n, ring.n, BY_START_BURST);
			for (i = 0; i < BY_START_BURST; i++)
				TEST_ASSERT(ring.v[i].data == i &&
					    ring.v[i].addr == mixed[i & 1].addr,
					    "entry %u is write %u to 0x%lx", i,
					    ring.v[i].data, ring.v[i].addr);
		}
		dedicated_ring_destroy(&buf);
		ctx_free(&c);
	}
	free(ring.v);
}

/* ---- 4. a full ring makes only its own zones exit -------------------- */

TEST_F_TIMEOUT(dedicated_ring, full_ring_isolated, CASE_TIMEOUT_S)
{
	/* 400 writes to A, 100 to B, 100 to the legacy ring. */
	const struct target targets[] = {
		{ PORT_A, true }, { PORT_A, true }, { PORT_B, true },
		{ PORT_A, true }, { PORT_LEGACY, true }, { PORT_A, true },
	};
	struct seen_list a = { 0 }, b = { 0 }, legacy = { 0 };
	struct dedicated_ring buf_a, buf_b;
	u32 cap, i;
	struct ctx c;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	buf_a = ring_new(&c, 151);
	buf_b = ring_new(&c, 101);
	cap = buf_a.entries - 1;
	bind_ok(&buf_a, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	bind_ok(&buf_b, PORT_B, 4, KVM_COALESCED_ZONE_PIO);
	legacy_zone_ok(&c, PORT_LEGACY, 4, KVM_COALESCED_ZONE_PIO);

	run_burst(&c, 600, targets, 6);
	dedicated_ring_drain(&buf_a, seen_entry, &a);
	dedicated_ring_drain(&buf_b, seen_entry, &b);
	coalesced_ring_drain(c.legacy, seen_entry, &legacy);

	TEST_ASSERT(a.n == cap && c.exits.n == 400 - cap,
		    "A (%u free slots) got %u entries and %u exits of 400 writes",
		    cap, a.n, c.exits.n);
	for (i = 0; i < c.exits.n; i++)
		TEST_ASSERT(c.exits.v[i].addr == PORT_A,
			    "exit %u is for port 0x%lx: only the full ring's zone may exit",
			    i, c.exits.v[i].addr);
	TEST_ASSERT(b.n == 100 && legacy.n == 100,
		    "B (100 free slots) and the legacy ring got %u and %u of 100 writes each",
		    b.n, legacy.n);
	TEST_ASSERT(vcpu_get_stat(c.vcpu, coalesced_ring_full_exits) == 400 - cap,
		    "ring-full exits: %lu, want %u",
		    vcpu_get_stat(c.vcpu, coalesced_ring_full_exits), 400 - cap);

	/* An index we scribbled out of range: the write exits, counted. */
	buf_b.ring->first = buf_b.entries + 5;
	c.exits.n = 0;
	run_burst(&c, 1, &targets[2], 1);
	TEST_ASSERT(c.exits.n == 1 &&
		    vcpu_get_stat(c.vcpu, coalesced_bad_index_exits) == 1,
		    "with ring->first out of range: %u exits, %lu bad-index exits; want 1 and 1",
		    c.exits.n, vcpu_get_stat(c.vcpu, coalesced_bad_index_exits));

	free(a.v);
	free(b.v);
	free(legacy.v);
	dedicated_ring_destroy(&buf_a);
	dedicated_ring_destroy(&buf_b);
	ctx_free(&c);
}

/* ---- 5. destroying the ring while the guest writes ------------------- */

/*
 * Writes 0 to @n - 1 to @addr reached userspace each exactly once, in the
 * rings (@got) or as exits, and each of the two in the order made.
 */
static void expect_each_once(const char *what, const struct seen_list *got,
			     const struct seen_list *exits, u64 addr, u32 n)
{
	const struct seen_list *lists[] = { got, exits };
	u8 *count = calloc(n, 1);
	u32 l, i;

	TEST_ASSERT(count, "no memory");
	for (l = 0; l < 2; l++) {
		for (i = 0; i < lists[l]->n; i++) {
			const struct seen *ev = &lists[l]->v[i];
			/* Not v[i - 1] in the message: it is evaluated anyway. */
			u32 prev = i ? lists[l]->v[i - 1].data : 0;

			TEST_ASSERT(ev->addr == addr && ev->data < n,
				    "%s: a write of %u to 0x%lx was never made",
				    what, ev->data, ev->addr);
			TEST_ASSERT(!i || ev->data > prev,
				    "%s: write %u after write %u %s", what, ev->data,
				    prev, l ? "in the exits" : "in the rings");
			count[ev->data]++;
		}
	}
	for (i = 0; i < n; i++)
		TEST_ASSERT(count[i] == 1, "%s: write %u reached userspace %u times, want once",
			    what, i, count[i]);
	free(count);
}

#define DESTROY_BURST	40000

/* A vCPU thread writing @count times to PORT_A, then done. */
struct writer {
	struct ctx *c;
	u32 count;
	bool done;
};

static void *vcpu_thread(void *arg)
{
	const struct target a = { PORT_A, true };
	struct writer *w = arg;

	run_burst(w->c, w->count, &a, 1);
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Nothing is lost: what the vCPU wrote before the destroy is in our
 * memory, which stays ours, and every write after it exits, in order.
 */
TEST_F_TIMEOUT(dedicated_ring, destroy_while_writing, CASE_TIMEOUT_S)
{
	const struct target b = { PORT_B, true };
	struct dedicated_ring buf, again;
	struct seen_list got = { 0 };
	pthread_t thread;
	u32 i, drained;
	int id, err;
	struct writer w;
	struct ctx c;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	buf = ring_new(&c, 4096);
	bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	w = (struct writer){ .c = &c, .count = DESTROY_BURST };
	pthread_create(&thread, NULL, vcpu_thread, &w);

	TEST_ASSERT(wait_for_entry(&buf, 10000 * coalesced_timeout_scale()),
		    "no write reached the ring");
	dedicated_ring_drain(&buf, seen_entry, &got);
	drained = got.n;
	TEST_ASSERT(!destroy_errno(&c, buf.id), "destroying the ring failed");
	/* Whatever landed between the drain and the destroy. */
	dedicated_ring_drain(&buf, seen_entry, &got);
	pthread_join(thread, NULL);

	TEST_ASSERT(c.exits.n > 0, "no write exited after the ring was destroyed");
	expect_each_once("destroy while writing", &got, &c.exits, PORT_A, DESTROY_BURST);
	printf("# %u writes: %u drained before the destroy, %u after, %u exits\n",
	       DESTROY_BURST, drained, got.n - drained, c.exits.n);
	buf.id = -1;	/* destroyed above: free the memory */
	dedicated_ring_destroy(&buf);

	/* The VM goes on: a new ring works as the first did. */
	c.exits.n = 0;
	got.n = 0;
	again = ring_new(&c, 101);
	bind_ok(&again, PORT_B, 4, KVM_COALESCED_ZONE_PIO);
	run_burst(&c, 100, &b, 1);
	dedicated_ring_drain(&again, seen_entry, &got);
	expect_writes("a new ring after the destroy", &got, 0, 100, PORT_B, 0, 1);
	TEST_ASSERT(c.exits.n == 0, "%u exits with the new ring", c.exits.n);
	id = again.id;
	TEST_ASSERT(!destroy_errno(&c, id), "destroying ring %d failed", id);
	/* Destroying it again is harmless: ENOENT, and writes still exit. */
	for (i = 0; i < 2; i++) {
		err = destroy_errno(&c, id);
		TEST_ASSERT(err == ENOENT, "destroying ring %d again: %s, want ENOENT",
			    id, err ? strerror(err) : "success");
	}
	run_burst(&c, 10, &b, 1);
	TEST_ASSERT(c.exits.n == 10, "%u exits after the ring was destroyed, want 10",
		    c.exits.n);
	again.id = -1;	/* destroyed above: free the memory */
	dedicated_ring_destroy(&again);

	free(got.v);
	ctx_free(&c);
}

/* ---- 6. rings coming and going while the guest writes ---------------- */

#define CHURN_BURST	60000

/*
 * Create a ring, bind the guest's port to it, let writes land, unregister
 * (after which no write can reach the ring), drain, destroy; again and
 * again while the vCPU writes.  Every write must reach userspace exactly
 * once: in one of the rings, or as an exit.
 */
TEST_F_TIMEOUT(dedicated_ring, churn_while_writing, CASE_TIMEOUT_S)
{
	static const u32 sizes[] = { 2, 50, 171, 1000 };
	struct seen_list got = { 0 };
	u32 rounds = 0, i, from;
	struct dedicated_ring buf;
	pthread_t thread;
	struct writer w;
	struct ctx c;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	w = (struct writer){ .c = &c, .count = CHURN_BURST };
	pthread_create(&thread, NULL, vcpu_thread, &w);
	while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
		buf = ring_new(&c, sizes[rounds % 4]);
		bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
		usleep((rounds % 3) * 500);
		TEST_ASSERT(!ring_zone(&buf, KVM_UNREGISTER_COALESCED_RING_ZONE, PORT_A, 4,
				       KVM_COALESCED_ZONE_PIO),
			    "round %u: unregistering failed", rounds);
		from = got.n;
		dedicated_ring_drain(&buf, seen_entry, &got);
		for (i = from + 1; i < got.n; i++)
			TEST_ASSERT(got.v[i].data > got.v[i - 1].data,
				    "round %u: write %u after write %u in one ring",
				    rounds, got.v[i].data, got.v[i - 1].data);
		dedicated_ring_destroy(&buf);
		rounds++;
	}
	pthread_join(thread, NULL);

	expect_each_once("churn", &got, &c.exits, PORT_A, CHURN_BURST);
	printf("# %u writes: %u through %u rings, %u exits\n",
	       CHURN_BURST, got.n, rounds, c.exits.n);
	free(got.v);
	ctx_free(&c);
}

#define POLL_BURST	20000
#define POLL_SLEEP_US	20

/*
 * A consumer that drains the ring every few microseconds while the vCPU
 * writes, and reads each entry as soon as last covers it: KVM must have
 * written the entry before it published last.  The small ring reuses its
 * slots often, so an entry read too early holds an older write (or, on
 * the first lap, nothing) and is seen as a write out of order or one
 * never made.  It sleeps between drains rather than spin: under QEMU's
 * single-threaded TCG only an interrupt for an idle vCPU, its timer here,
 * stops the writing vCPU at an arbitrary instruction, and a spinner never
 * idles (tried: 20000 writes, no stale entry, on a KVM that publishes
 * last first).
 */
TEST_F_TIMEOUT(dedicated_ring, polling_consumer, CASE_TIMEOUT_S)
{
	struct seen_list got = { 0 };
	struct dedicated_ring buf;
	u32 busy = 0, polls = 0;
	pthread_t thread;
	struct writer w;
	struct ctx c;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	buf = ring_new(&c, 64);
	bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	w = (struct writer){ .c = &c, .count = POLL_BURST };
	pthread_create(&thread, NULL, vcpu_thread, &w);
	while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
		busy += !!dedicated_ring_drain(&buf, seen_entry, &got);
		polls++;
		usleep(POLL_SLEEP_US);
	}
	pthread_join(thread, NULL);
	/* Else no entry was read while the vCPU wrote, and nothing is tested. */
	TEST_ASSERT(got.n > buf.entries,
		    "%u entries drained while the vCPU wrote, want more than the ring's %u",
		    got.n, buf.entries);
	dedicated_ring_drain(&buf, seen_entry, &got);

	printf("# %u writes: %u drained by polling (%u of %u polls found some), %u exits\n",
	       POLL_BURST, got.n, busy, polls, c.exits.n);
	expect_each_once("polling consumer", &got, &c.exits, PORT_A, POLL_BURST);
	dedicated_ring_destroy(&buf);
	free(got.v);
	ctx_free(&c);
}

/* ---- 7. fork() while the guest writes -------------------------------- */

#define FORK_BURST	40000
#define FORK_ROUNDS	20

static u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* An I/O thread that drains a ring while the vCPU writes. */
struct drainer {
	struct dedicated_ring *buf;
	struct seen_list got;
	u32 total;
};

/* Drain every millisecond or so, until every write is in. */
static void *drain_thread(void *arg)
{
	struct drainer *d = arg;
	u64 last_entry = now_ms();

	while (d->got.n < __atomic_load_n(&d->total, __ATOMIC_ACQUIRE)) {
		usleep(1000);
		if (dedicated_ring_drain(d->buf, seen_entry, &d->got))
			last_entry = now_ms();
		else
			TEST_ASSERT(now_ms() - last_entry < 10000ULL * coalesced_timeout_scale(),
				    "no entry for 10 s after %u of %u", d->got.n, d->total);
	}
	return NULL;
}

/*
 * The child of a VMM that forks while the vCPU writes: it closes and
 * unmaps what it inherited in every order, scribbles on its copy of a
 * private ring, tries KVM on the parent's VM (which KVM refuses to any
 * other process), or exec()s with all of it still open and mapped.
 * Returns the child's exit status: 0 if all was as expected.  No
 * malloc() and no stdio here: other threads may have held their locks at
 * the fork().
 */
static int child_round(const struct dedicated_ring *buf, bool shared,
		       int round)
{
	struct kvm_coalesced_ring req = {
		.addr = (uintptr_t)buf->ring, .entries = 2,
	};

	switch (round % 5) {
	case 0:
		close(buf->vm_fd);
		munmap(buf->ring, buf->bytes);
		break;
	case 1:
		munmap(buf->ring, buf->bytes);
		close(buf->vm_fd);
		break;
	case 2:
		if (!shared) {	/* our copy of the pages, not the parent's */
			buf->ring->first = 12345;
			buf->ring->last = 12345;
		}
		if (ioctl(buf->vm_fd, KVM_DESTROY_COALESCED_RING,
			  (unsigned long)buf->id) != -1 || errno != EIO)
			return 1;
		break;
	case 3:
		if (ioctl(buf->vm_fd, KVM_CREATE_COALESCED_RING, &req) != -1 ||
		    errno != EIO)
			return 2;
		close(buf->vm_fd);
		munmap(buf->ring, buf->bytes);
		break;
	default:
		execl("/bin/sh", "sh", "-c", "exit 0", (char *)NULL);
		return 3;
	}
	return 0;
}

/* Fork @rounds children while a vCPU writes through @buf's ring. */
static void fork_while_writing(struct ctx *c, struct dedicated_ring *buf,
			       bool shared)
{
	struct drainer d = { .buf = buf, .total = FORK_BURST };
	pthread_t writer_thread, drain;
	struct writer w = { .c = c, .count = FORK_BURST };
	int round, status;
	pid_t pid;

	bind_ok(buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	pthread_create(&drain, NULL, drain_thread, &d);
	pthread_create(&writer_thread, NULL, vcpu_thread, &w);
	for (round = 0; round < FORK_ROUNDS; round++) {
		pid = fork();
		TEST_ASSERT(pid >= 0, "fork: %s", strerror(errno));
		if (!pid)
			_exit(child_round(buf, shared, round));
		TEST_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			    !WEXITSTATUS(status),
			    "%s ring, fork %d: the child's checks failed (status 0x%x)",
			    shared ? "shared" : "private", round, status);
	}
	pthread_join(writer_thread, NULL);
	/* The drainer counts exits in: it stops at every write. */
	__atomic_store_n(&d.total, FORK_BURST - c->exits.n, __ATOMIC_RELEASE);
	pthread_join(drain, NULL);
	expect_each_once(shared ? "fork, shared ring" : "fork, private ring",
			 &d.got, &c->exits, PORT_A, FORK_BURST);
	printf("# %s ring, %d forks (%d of them exec()): %u writes in the ring, %u exits\n",
	       shared ? "shared" : "private", FORK_ROUNDS, FORK_ROUNDS / 5, d.got.n,
	       c->exits.n);
	free(d.got.v);
}

TEST_F_TIMEOUT(dedicated_ring, fork_while_writing, CASE_TIMEOUT_S)
{
	const struct target a = { PORT_A, true };
	struct dedicated_ring buf;
	size_t bytes = KVM_COALESCED_RING_BYTES((size_t)4096);
	long pin_before = coalesced_vmpin_kb();
	void *mem;
	u32 i;
	struct ctx c;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	/* A private ring: the children get copies of its pinned pages. */
	ctx_init(&c);
	buf = ring_new(&c, 4096);
	fork_while_writing(&c, &buf, false);
	dedicated_ring_destroy(&buf);
	ctx_free(&c);

	/* A shared one: parent and children map the same pages. */
	ctx_init(&c);
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap failed");
	TEST_ASSERT(!dedicated_ring_create_at(&buf, c.vm->fd, mem, 4096),
		    "a ring in shared memory: %s", strerror(errno));
	fork_while_writing(&c, &buf, true);

	/*
	 * We unmap the ring while the vCPU writes, and KVM goes on writing
	 * to the pages it pinned: no one sees those entries (our doing),
	 * the ring fills up, and from then on every write exits, in order.
	 */
	dedicated_ring_drain(&buf, seen_entry, &c.drained);
	c.exits.n = 0;
	munmap(mem, bytes);
	run_burst(&c, 5000, &a, 1);
	TEST_ASSERT(c.exits.n >= 5000 - 4095, "%u exits of 5000 writes into a ring no one drains",
		    c.exits.n);
	for (i = 0; i < c.exits.n; i++)
		TEST_ASSERT(c.exits.v[i].data == 5000 - c.exits.n + i,
			    "exit %u is write %u, want %u", i, c.exits.v[i].data,
			    5000 - c.exits.n + i);
	TEST_ASSERT(coalesced_vmpin_kb() > pin_before,
		    "the unmapped ring's pages are not pinned any more");
	/* The VM's end frees the ring: nothing stays pinned. */
	ctx_free(&c);
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before, "VmPin %ld kB after the VM, was %ld",
		    coalesced_vmpin_kb(), pin_before);
	buf.id = -1;
	buf.ring = NULL;
	dedicated_ring_destroy(&buf);
}

/* ---- 8. VM destruction with rings in place ----------------------------- */

#define LEAK_ROUNDS	40
#define LEAK_ENTRIES	16384	/* 384 KiB: 15 MiB over the rounds, if leaked */

/*
 * Pages pinned (FOLL_PIN) and not yet unpinned, machine-wide, from
 * /proc/vmstat; the per-CPU deltas are folded first, where that is allowed.
 */
static long pins_held(void)
{
	long acquired = -1, released = -1, n;
	char key[64];
	FILE *f;

	f = fopen("/proc/sys/vm/stat_refresh", "w");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
	f = fopen("/proc/vmstat", "r");
	TEST_ASSERT(f, "cannot open /proc/vmstat");
	while (fscanf(f, "%63s %ld", key, &n) == 2) {
		if (!strcmp(key, "nr_foll_pin_acquired"))
			acquired = n;
		else if (!strcmp(key, "nr_foll_pin_released"))
			released = n;
	}
	fclose(f);
	TEST_ASSERT(acquired >= 0 && released >= 0,
		    "no nr_foll_pin_acquired/released in /proc/vmstat");
	return acquired - released;
}

TEST_F_TIMEOUT(dedicated_ring, vm_destroy_with_rings, CASE_TIMEOUT_S)
{
	const struct target a = { PORT_A, true };
	long pin_before = coalesced_vmpin_kb(), vmalloc_before, vmalloc_after;
	long pins_before, pins_after;
	struct dedicated_ring buf;
	struct seen_list got = { 0 };
	struct ctx c;
	int i;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	/* The VM goes first: its entries stay in our memory, unpinned. */
	ctx_init(&c);
	buf = ring_new(&c, 101);
	bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	run_burst(&c, 100, &a, 1);
	ctx_free(&c);
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before, "VmPin %ld kB after the VM, was %ld",
		    coalesced_vmpin_kb(), pin_before);
	dedicated_ring_drain(&buf, seen_entry, &got);
	expect_writes("drained after the VM is gone", &got, 0, 100, PORT_A, 0, 1);
	buf.id = -1;		/* KVM's part went with the VM */
	dedicated_ring_destroy(&buf);

	/* Both orders of teardown, with entries pending: nothing stays. */
	vmalloc_before = coalesced_proc_kb("/proc/meminfo", "VmallocUsed");
	pins_before = pins_held();
	for (i = 0; i < LEAK_ROUNDS; i++) {
		ctx_init(&c);
		buf = ring_new(&c, LEAK_ENTRIES);
		bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
		bind_ok(&buf, MMIO_GPA, MMIO_ZONE_SIZE, 0);
		run_burst(&c, 50, &a, 1);
		if (i & 1) {
			ctx_free(&c);
			buf.id = -1;
			dedicated_ring_destroy(&buf);
		} else {
			dedicated_ring_destroy(&buf);
			ctx_free(&c);
		}
	}
	vmalloc_after = coalesced_proc_kb("/proc/meminfo", "VmallocUsed");
	pins_after = pins_held();
	printf("# VmallocUsed %ld kB before, %ld after %d VMs with a %d KiB ring; VmPin %ld\n",
	       vmalloc_before, vmalloc_after, LEAK_ROUNDS,
	       (int)(KVM_COALESCED_RING_BYTES(LEAK_ENTRIES) / 1024), coalesced_vmpin_kb());
	printf("# pages pinned machine-wide: %ld before, %ld after\n", pins_before, pins_after);
	/* VmPin is only the charge: the pages themselves must be unpinned. */
	TEST_ASSERT(pins_after - pins_before < 64,
		    "%ld more pages pinned after %d rounds: destroyed rings stay pinned",
		    pins_after - pins_before, LEAK_ROUNDS);
	TEST_ASSERT(vmalloc_after - vmalloc_before < 4096,
		    "VmallocUsed grew by %ld kB over %d rounds: the kernel's maps leak",
		    vmalloc_after - vmalloc_before, LEAK_ROUNDS);
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before, "VmPin %ld kB after %d rounds, was %ld",
		    coalesced_vmpin_kb(), LEAK_ROUNDS, pin_before);
	free(got.v);
}

/* ---- 9. unregistering ----------------------------------------------- */

/* Write once to each target; which ones exited? A bit mask. */
static u32 exit_mask(struct ctx *c, const struct target *t, u32 n,
		     struct dedicated_ring *buf)
{
	struct seen_list drop = { 0 };
	u32 mask = 0, i;

	c->exits.n = 0;
	run_burst(c, n, t, n);
	for (i = 0; i < c->exits.n; i++)
		mask |= 1u << c->exits.v[i].data;
	dedicated_ring_drain(buf, seen_entry, &drop);
	coalesced_ring_drain(c->legacy, seen_entry, &drop);
	TEST_ASSERT(drop.n + c->exits.n == n, "%u writes: %u entries, %u exits",
		    n, drop.n, c->exits.n);
	free(drop.v);
	return mask;
}

TEST_F_TIMEOUT(dedicated_ring, unregister, CASE_TIMEOUT_S)
{
	const struct target t[] = {
		{ PORT_A, true }, { PORT_B, true }, { MMIO_GPA, false },
		{ PORT_LEGACY, true },
	};
	struct kvm_coalesced_mmio_zone legacy = {
		.addr = PORT_LEGACY, .size = 4, .pio = KVM_COALESCED_ZONE_PIO,
	};
	struct kvm_coalesced_mmio_zone port_a = {
		.addr = PORT_A, .size = 4, .pio = KVM_COALESCED_ZONE_PIO,
	};
	struct dedicated_ring buf, other;
	u32 mask;
	struct ctx c;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	buf = ring_new(&c, 100);
	other = ring_new(&c, 100);
	bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	bind_ok(&buf, PORT_B, 4, KVM_COALESCED_ZONE_PIO);
	bind_ok(&buf, MMIO_GPA, 4, 0);
	legacy_zone_ok(&c, PORT_LEGACY, 4, KVM_COALESCED_ZONE_PIO);
	mask = exit_mask(&c, t, 4, &buf);
	TEST_ASSERT(mask == 0, "exits before unregistering: mask 0x%x", mask);

	/*
	 * The legacy ioctl removes the legacy ring's zones only (those that
	 * contain the range, as it always did): not the dedicated 0xcf8 zone.
	 */
	vm_ioctl(c.vm, KVM_UNREGISTER_COALESCED_MMIO, &legacy);
	vm_ioctl(c.vm, KVM_UNREGISTER_COALESCED_MMIO, &port_a);
	mask = exit_mask(&c, t, 4, &buf);
	TEST_ASSERT(mask == 1u << 3,
		    "after the legacy unregister of 0x70 and 0xcf8: mask 0x%x, want 0x8", mask);

	/* Another ring's unregister does not touch ours. */
	TEST_ASSERT(!ring_zone(&other, KVM_UNREGISTER_COALESCED_RING_ZONE, 0, 0x10000,
			       KVM_COALESCED_ZONE_PIO), "unregistering via another ring failed");
	mask = exit_mask(&c, t, 4, &buf);
	TEST_ASSERT(mask == 1u << 3, "another ring's unregister removed ours: mask 0x%x",
		    mask);

	/* Ours removes zones of its kind wholly inside the range. */
	TEST_ASSERT(!ring_zone(&buf, KVM_UNREGISTER_COALESCED_RING_ZONE, PORT_A, 4,
			       KVM_COALESCED_ZONE_PIO), "unregistering port 0xcf8 failed");
	mask = exit_mask(&c, t, 4, &buf);
	TEST_ASSERT(mask == (1u << 0 | 1u << 3),
		    "after unregistering 0xcf8: mask 0x%x, want 0x9", mask);
	TEST_ASSERT(!ring_zone(&buf, KVM_UNREGISTER_COALESCED_RING_ZONE, MMIO_GPA, 0x1000, 0),
		    "unregistering the MMIO page failed");
	mask = exit_mask(&c, t, 4, &buf);
	TEST_ASSERT(mask == (1u << 0 | 1u << 2 | 1u << 3),
		    "after unregistering the MMIO page: mask 0x%x, want 0xd", mask);

	/* Destroying the ring removes its last zone. */
	dedicated_ring_destroy(&buf);
	c.exits.n = 0;
	run_burst(&c, 4, t, 4);
	TEST_ASSERT(c.exits.n == 4, "after destroying the ring: %u exits of 4, want 4",
		    c.exits.n);

	dedicated_ring_destroy(&other);
	ctx_free(&c);
}

/* ---- 10. ioctls racing from several threads -------------------------- */

#define RACE_THREADS	4
#define RACE_BURST	20000
#define RACE_MIN_ROUNDS	200
#define RACE_ENTRIES	64

/*
 * A thread that creates a ring in memory of its own, binds PORT_A to it,
 * unbinds and destroys rings of random ids (others' too), and destroys its
 * own, round after round.  Each ioctl may only fail with the error that
 * the other threads' doing explains.
 */
struct racer {
	struct ctx *c;
	struct writer *w;
	struct kvm_coalesced_mmio_ring *mem;
	struct seen_list got;
	unsigned int seed;
	u32 rounds, bound;
};

static void *race_thread(void *arg)
{
	struct racer *r = arg;
	int vm_fd = r->c->vm->fd;

	while (r->rounds < RACE_MIN_ROUNDS ||
	       !__atomic_load_n(&r->w->done, __ATOMIC_ACQUIRE)) {
		u32 entries = 2 + rand_r(&r->seed) % (RACE_ENTRIES - 1);
		struct kvm_coalesced_ring req = {
			.addr = (uintptr_t)r->mem, .entries = entries,
		};
		struct kvm_coalesced_ring_zone z = {
			.addr = PORT_A, .size = 4, .flags = KVM_COALESCED_ZONE_PIO,
		};
		u32 from = r->got.n, i;
		int id, ret;

		memset(r->mem, 0, KVM_COALESCED_RING_BYTES(RACE_ENTRIES));
		id = ioctl(vm_fd, KVM_CREATE_COALESCED_RING, &req);
		TEST_ASSERT(id >= 0, "round %u: creating a ring: %s", r->rounds,
			    strerror(errno));
		/* Another thread's ring may hold the zone, or have lost it. */
		z.ring = id;
		ret = ioctl(vm_fd, KVM_REGISTER_COALESCED_RING_ZONE, &z);
		TEST_ASSERT(!ret || errno == EEXIST || errno == ENOENT,
			    "round %u: binding PORT_A: %s", r->rounds, strerror(errno));
		r->bound += !ret;
		/* Someone's ring, maybe none: 0 or ENOENT. */
		z.ring = rand_r(&r->seed) % 16;
		ret = ioctl(vm_fd, KVM_UNREGISTER_COALESCED_RING_ZONE, &z);
		TEST_ASSERT(!ret || errno == ENOENT,
			    "round %u: unbinding from ring %u: %s", r->rounds, z.ring,
			    strerror(errno));
		if (!(rand_r(&r->seed) % 4)) {
			ret = ioctl(vm_fd, KVM_DESTROY_COALESCED_RING,
				    (unsigned long)(rand_r(&r->seed) % 16));
			TEST_ASSERT(!ret || errno == ENOENT,
				    "round %u: destroying a random ring: %s",
				    r->rounds, strerror(errno));
		}
		if (rand_r(&r->seed) % 2)
			sched_yield();
		/*
		 * Ours is gone after this, whatever it returns: ENOENT means
		 * that another thread destroyed it (and maybe gave its id to
		 * a new ring, which this destroys instead).
		 */
		ret = ioctl(vm_fd, KVM_DESTROY_COALESCED_RING, (unsigned long)id);
		TEST_ASSERT(!ret || errno == ENOENT, "round %u: destroying ring %d: %s",
			    r->rounds, id, strerror(errno));
		coalesced_ring_drain_n(r->mem, entries, seen_entry, &r->got);
		for (i = from + 1; i < r->got.n; i++)
			TEST_ASSERT(r->got.v[i].data > r->got.v[i - 1].data,
				    "round %u: write %u after write %u in one ring",
				    r->rounds, r->got.v[i].data, r->got.v[i - 1].data);
		r->rounds++;
	}
	return NULL;
}

/* For qsort(): by the write's number. */
static int seen_cmp(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;

	return x->data < y->data ? -1 : x->data > y->data;
}

/* Two threads destroy the same ring at once. */
struct destroyer {
	struct ctx *c;
	pthread_barrier_t *barrier;
	int *id;
	int err;
	bool stop;
};

static void *destroy_thread(void *arg)
{
	struct destroyer *d = arg;

	for (;;) {
		pthread_barrier_wait(d->barrier);
		if (__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE))
			return NULL;
		d->err = destroy_errno(d->c, *d->id);
		pthread_barrier_wait(d->barrier);
	}
}

#define DOUBLE_DESTROY_ROUNDS	300

TEST_F_TIMEOUT(dedicated_ring, concurrent_ioctls, CASE_TIMEOUT_S)
{
	struct racer r[RACE_THREADS];
	struct destroyer d[2];
	pthread_t threads[RACE_THREADS], writer_thread;
	pthread_barrier_t barrier;
	struct seen_list got = { 0 };
	long pin_before = coalesced_vmpin_kb();
	u32 rounds = 0, bound = 0, i, j, ok;
	struct writer w;
	struct ctx c;
	int id;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	/*
	 * Create, bind, unbind and destroy racing while the vCPU writes to
	 * the port they fight over: every write in exactly one ring, or an
	 * exit, each in order.
	 */
	ctx_init(&c);
	w = (struct writer){ .c = &c, .count = RACE_BURST };
	for (i = 0; i < RACE_THREADS; i++) {
		r[i] = (struct racer){ .c = &c, .w = &w, .seed = i + 1 };
		r[i].mem = mmap(NULL, KVM_COALESCED_RING_BYTES(RACE_ENTRIES),
				PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		TEST_ASSERT(r[i].mem != MAP_FAILED, "mmap failed");
	}
	pthread_create(&writer_thread, NULL, vcpu_thread, &w);
	for (i = 0; i < RACE_THREADS; i++)
		pthread_create(&threads[i], NULL, race_thread, &r[i]);
	for (i = 0; i < RACE_THREADS; i++)
		pthread_join(threads[i], NULL);
	pthread_join(writer_thread, NULL);
	for (i = 0; i < RACE_THREADS; i++) {
		for (j = 0; j < r[i].got.n; j++)
			seen_push(&got, r[i].got.v[j].addr, r[i].got.v[j].data, true);
		rounds += r[i].rounds;
		bound += r[i].bound;
		free(r[i].got.v);
		munmap(r[i].mem, KVM_COALESCED_RING_BYTES(RACE_ENTRIES));
	}
	/* The rings' lists are in order each, not with each other: sort. */
	qsort(got.v, got.n, sizeof(*got.v), seen_cmp);
	expect_each_once("racing ioctls", &got, &c.exits, PORT_A, RACE_BURST);
	printf("# %u rounds in %d threads, PORT_A bound %u times: %u writes in rings, %u exits\n",
	       rounds, RACE_THREADS, bound, got.n, c.exits.n);
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before,
		    "VmPin %ld kB after every ring is destroyed, was %ld",
		    coalesced_vmpin_kb(), pin_before);

	/* Two threads destroy one ring: one gets 0, the other ENOENT. */
	pthread_barrier_init(&barrier, NULL, 3);
	for (i = 0; i < 2; i++) {
		d[i] = (struct destroyer){ .c = &c, .barrier = &barrier, .id = &id };
		pthread_create(&threads[i], NULL, destroy_thread, &d[i]);
	}
	for (i = 0; i < DOUBLE_DESTROY_ROUNDS; i++) {
		struct dedicated_ring buf = ring_new(&c, 2 + i % 100);

		bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
		id = buf.id;
		pthread_barrier_wait(&barrier);		/* go */
		pthread_barrier_wait(&barrier);		/* both done */
		ok = !d[0].err + !d[1].err;
		TEST_ASSERT(ok == 1 && (d[0].err == ENOENT || d[1].err == ENOENT),
			    "round %u: two destroys of ring %d got %s and %s, want one 0 and one ENOENT",
			    i, id, strerror(d[0].err), strerror(d[1].err));
		TEST_ASSERT(destroy_errno(&c, id) == ENOENT, "ring %d outlived both destroys", id);
		buf.id = -1;
		dedicated_ring_destroy(&buf);
	}
	d[0].stop = true;
	d[1].stop = true;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	pthread_barrier_wait(&barrier);
	for (i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&barrier);

	/* PORT_A is bound to nothing now: a write exits. */
	c.exits.n = 0;
	run_burst(&c, 1, &(struct target){ PORT_A, true }, 1);
	TEST_ASSERT(c.exits.n == 1, "a write after every ring is gone: %u exits, want 1",
		    c.exits.n);
	free(got.v);
	ctx_free(&c);
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before, "VmPin %ld kB at the end, was %ld",
		    coalesced_vmpin_kb(), pin_before);
}

/* ---- 11. rings in every kind of memory ------------------------------- */

/* A page of the guest's own memory, behind memslot 0. */
static u8 guest_ring_page[4096] __aligned(4096);

/*
 * A ring of @entries at @mem, which must work: the burst fills it to one
 * free slot, in order, and the writes after that exit, in order; VmPin
 * grows while it exists and is back after the destroy.
 */
static void ring_works_in(struct ctx *c, const char *what, void *mem, u32 entries)
{
	const struct target a = { PORT_A, true };
	long pin_before = coalesced_vmpin_kb();
	struct seen_list got = { 0 };
	struct dedicated_ring buf;

	memset(mem, 0, KVM_COALESCED_RING_BYTES((size_t)entries));
	TEST_ASSERT(!dedicated_ring_create_at(&buf, c->vm->fd, mem, entries),
		    "%s: creating a %u-entry ring: %s", what, entries, strerror(errno));
	TEST_ASSERT(coalesced_vmpin_kb() > pin_before, "%s: VmPin did not grow", what);
	bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	c->exits.n = 0;
	run_burst(c, entries + 9, &a, 1);
	dedicated_ring_drain(&buf, seen_entry, &got);
	expect_writes(what, &got, 0, entries - 1, PORT_A, 0, 1);
	expect_writes(what, &c->exits, 0, 10, PORT_A, entries - 1, 1);
	dedicated_ring_destroy(&buf);		/* not our memory: kept */
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before, "%s: VmPin %ld kB after destroy, was %ld",
		    what, coalesced_vmpin_kb(), pin_before);
	printf("# %s: %u-entry ring works\n", what, entries);
	free(got.v);
}

TEST_F_TIMEOUT(dedicated_ring, ring_memory_kinds, CASE_TIMEOUT_S)
{
	const u32 entries = 1000;
	size_t bytes = KVM_COALESCED_RING_BYTES((size_t)entries);
	char dir[] = "/tmp/coalesced-tmpfs-XXXXXX", path[64];
	struct ctx c;
	void *mem;
	int fd;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	/* A shared memfd (shmem), and a second view of the same pages. */
	fd = memfd_create("coalesced-ring", MFD_CLOEXEC);
	TEST_ASSERT(fd >= 0 && !ftruncate(fd, bytes), "memfd: %s", strerror(errno));
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap of the memfd: %s", strerror(errno));
	ring_works_in(&c, "shared memfd", mem, entries);
	munmap(mem, bytes);
	close(fd);

	/* A file on a tmpfs of our own, mapped shared and private. */
	TEST_ASSERT(mkdtemp(dir) && !mount("tmpfs", dir, "tmpfs", 0, "size=1m"),
		    "mounting a tmpfs on %s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/ring", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	TEST_ASSERT(fd >= 0 && !ftruncate(fd, bytes), "%s: %s", path, strerror(errno));
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap of %s: %s", path, strerror(errno));
	ring_works_in(&c, "tmpfs file, MAP_SHARED", mem, entries);
	munmap(mem, bytes);
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap of %s: %s", path, strerror(errno));
	ring_works_in(&c, "tmpfs file, MAP_PRIVATE", mem, entries);
	munmap(mem, bytes);
	close(fd);
	TEST_ASSERT(!umount2(dir, MNT_DETACH) && !rmdir(dir), "unmounting %s: %s", dir,
		    strerror(errno));

	/*
	 * The guest's own memory, behind a memslot: KVM pins the pages the
	 * guest sees, and writes the entries there.
	 */
	mem = addr_gva2hva(c.vm, (gva_t)guest_ring_page);
	ring_works_in(&c, "guest memory", mem, 100);

	ctx_free(&c);
}

#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define HUGE_SIZE	(2UL << 20)

static long read_long(const char *path)
{
	char line[32] = "";
	FILE *f = fopen(path, "r");

	TEST_ASSERT(f && fgets(line, sizeof(line), f), "cannot read %s", path);
	fclose(f);
	return strtol(line, NULL, 10);
}

static bool write_long(const char *path, long val)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", val) > 0;
	return !fclose(f) && ok;
}

TEST_F_TIMEOUT(dedicated_ring, ring_in_hugetlb, CASE_TIMEOUT_S)
{
	long old = -1;
	struct ctx c;
	u8 *mem;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	mem = mmap(NULL, 2 * HUGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (mem == MAP_FAILED && !access(NR_HUGEPAGES, W_OK)) {
		old = read_long(NR_HUGEPAGES);
		write_long(NR_HUGEPAGES, old + 2);
		mem = mmap(NULL, 2 * HUGE_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	}
	if (mem == MAP_FAILED) {
		if (old >= 0)
			write_long(NR_HUGEPAGES, old);
		SKIP(return, "no two 2 MiB hugepages could be reserved (%s)", strerror(errno));
	}

	ctx_init(&c);
	ring_works_in(&c, "hugetlb", mem, 1000);
	/* Across the boundary of two hugepages. */
	ring_works_in(&c, "hugetlb, across two hugepages", mem + HUGE_SIZE - 4096 - 8, 1000);
	ctx_free(&c);
	munmap(mem, 2 * HUGE_SIZE);
	if (old >= 0)
		write_long(NR_HUGEPAGES, old);
}

/* ---- 12. munmap(), MADV_DONTNEED and mremap() while the vCPU writes ---- */

#define REMAP_BURST	20000
#define REMAP_ENTRIES	512

enum remap_op { REMAP_MUNMAP, REMAP_DONTNEED, REMAP_MREMAP };

static const char * const remap_names[] = {
	"munmap() and mmap() again", "MADV_DONTNEED", "mremap()",
};

/*
 * A ring in @fd (a memfd; -1: private anonymous memory) that the vCPU
 * writes to while we drain it and, after the first writes, do @op to its
 * mapping.  Returns the ring entries we saw in @got.
 */
static void remap_while_writing(enum remap_op op, bool shared,
				struct seen_list *got, struct ctx *c)
{
	size_t bytes = KVM_COALESCED_RING_BYTES((size_t)REMAP_ENTRIES);
	struct dedicated_ring buf;
	pthread_t thread;
	struct writer w;
	void *mem, *to;
	int fd = -1, flags = MAP_PRIVATE | MAP_ANONYMOUS;
	u32 i;

	if (shared) {
		fd = memfd_create("coalesced-ring", MFD_CLOEXEC);
		TEST_ASSERT(fd >= 0 && !ftruncate(fd, bytes), "memfd: %s", strerror(errno));
		flags = MAP_SHARED;
	}
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, fd, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap: %s", strerror(errno));
	TEST_ASSERT(!dedicated_ring_create_at(&buf, c->vm->fd, mem, REMAP_ENTRIES),
		    "creating the ring: %s", strerror(errno));
	bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);

	w = (struct writer){ .c = c, .count = REMAP_BURST };
	pthread_create(&thread, NULL, vcpu_thread, &w);
	while (got->n < 1000 && !__atomic_load_n(&w.done, __ATOMIC_ACQUIRE))
		dedicated_ring_drain(&buf, seen_entry, got);

	switch (op) {
	case REMAP_MUNMAP:
		TEST_ASSERT(!munmap(mem, bytes), "munmap: %s", strerror(errno));
		usleep(1000);
		if (shared)	/* the memfd's pages again, the ones KVM pinned */
			mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		else
			mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
		TEST_ASSERT(mem != MAP_FAILED, "mmap: %s", strerror(errno));
		break;
	case REMAP_DONTNEED:
		TEST_ASSERT(!madvise(mem, bytes, MADV_DONTNEED), "madvise: %s",
			    strerror(errno));
		break;
	case REMAP_MREMAP:
		to = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		TEST_ASSERT(to != MAP_FAILED, "mmap: %s", strerror(errno));
		mem = mremap(mem, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		TEST_ASSERT(mem == to, "mremap: %s", strerror(errno));
		break;
	}
	buf.ring = mem;
	while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE))
		dedicated_ring_drain(&buf, seen_entry, got);
	pthread_join(thread, NULL);
	dedicated_ring_drain(&buf, seen_entry, got);

	/* The private copies we see now are not what KVM writes to. */
	if (!shared && op != REMAP_MREMAP)
		for (i = 0; i < bytes; i++)
			TEST_ASSERT(!((u8 *)mem)[i],
				    "%s: KVM wrote to the fresh private page at byte %u",
				    remap_names[op], i);
	dedicated_ring_destroy(&buf);
	munmap(mem, bytes);
	if (fd >= 0)
		close(fd);
}

/*
 * Private memory unmapped or zapped: KVM goes on with the pinned pages,
 * which we no longer see.  Its entries from our last drain on, exactly
 * REMAP_ENTRIES - 1 up to the full ring, are out of our view; every
 * other write is in the ring before them or an exit, once and in order,
 * and every write after them exits.
 */
static void private_ring_lost_view(const char *what, const struct seen_list *got,
				   const struct seen_list *exits)
{
	const struct seen_list *lists[] = { got, exits };
	u8 *count = calloc(REMAP_BURST, 1);
	u32 l, i, lo = REMAP_BURST, hi = 0, hidden = 0;

	TEST_ASSERT(count, "no memory");
	for (l = 0; l < 2; l++)
		for (i = 0; i < lists[l]->n; i++) {
			u32 data = lists[l]->v[i].data;

			TEST_ASSERT(data < REMAP_BURST && !count[data]++ &&
				    (!i || data > lists[l]->v[i - 1].data),
				    "%s: write %u twice, out of order or never made", what, data);
		}
	for (i = 0; i < REMAP_BURST; i++) {
		if (count[i])
			continue;
		hidden++;
		lo = i < lo ? i : lo;
		hi = i;
	}
	TEST_ASSERT(hidden == REMAP_ENTRIES - 1 && hi - lo + 1 == hidden,
		    "%s of a private ring: %u writes out of view (%u to %u), want %u in a row",
		    what, hidden, lo, hi, REMAP_ENTRIES - 1);
	for (i = 0; i < got->n; i++)
		TEST_ASSERT(got->v[i].data < lo, "%s: write %u in the ring after the unseen ones",
			    what, got->v[i].data);
	free(count);
}

TEST_F_TIMEOUT(dedicated_ring, remap_while_writing, CASE_TIMEOUT_S)
{
	static const struct {
		enum remap_op op;
		bool shared;
	} rows[] = {
		{ REMAP_MUNMAP, true }, { REMAP_DONTNEED, true },
		{ REMAP_MREMAP, false },
		{ REMAP_DONTNEED, false }, { REMAP_MUNMAP, false },
	};
	long pin_before = coalesced_vmpin_kb();
	struct seen_list got = { 0 };
	struct ctx c;
	u32 k;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	for (k = 0; k < ARRAY_SIZE(rows); k++) {
		const char *what = remap_names[rows[k].op];
		const char *kind = rows[k].shared ? "memfd" : "private";
		bool lossless = rows[k].shared || rows[k].op == REMAP_MREMAP;

		ctx_init(&c);
		got.n = 0;
		remap_while_writing(rows[k].op, rows[k].shared, &got, &c);
		TEST_ASSERT(coalesced_vmpin_kb() == pin_before,
			    "%s: VmPin %ld kB after destroy, was %ld", what,
			    coalesced_vmpin_kb(), pin_before);
		if (lossless) {
			/* Same pages in view again: all of them, in order. */
			expect_each_once(what, &got, &c.exits, PORT_A, REMAP_BURST);
		} else {
			private_ring_lost_view(what, &got, &c.exits);
		}
		printf("# %s of a %s ring: %u writes in the ring, %u exits\n", what,
		       kind, got.n, c.exits.n);
		ctx_free(&c);
	}
	free(got.v);
}

/* ---- 13. running out of ring ids, and a full I/O bus ------------------ */

#define ID_RING_ENTRIES	2

TEST_F_TIMEOUT(dedicated_ring, out_of_ring_ids, CASE_TIMEOUT_S)
{
	const size_t one = KVM_COALESCED_RING_BYTES((size_t)ID_RING_ENTRIES);
	const u32 nr = KVM_COALESCED_RING_MAX_ENTRIES;	/* 65536 ids too */
	long pin_before = coalesced_vmpin_kb();
	struct kvm_coalesced_ring req = { .entries = ID_RING_ENTRIES };
	u8 *mem, *used;
	struct ctx c;
	int id, err;
	u32 i;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	/*
	 * 65536 rings of 2 entries, 48 bytes each, side by side: 3 MiB of
	 * memory, but a page or two charged to each, 256 MiB in all, over
	 * any RLIMIT_MEMLOCK: we have CAP_IPC_LOCK.
	 */
	ctx_init(&c);
	mem = mmap(NULL, (nr + 1) * one, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	used = calloc(nr, 1);
	TEST_ASSERT(mem != MAP_FAILED && used, "no memory");
	for (i = 0; i < nr; i++) {
		req.addr = (uintptr_t)(mem + i * one);
		id = ioctl(c.vm->fd, KVM_CREATE_COALESCED_RING, &req);
		TEST_ASSERT(id >= 0 && id < (int)nr && !used[id],
			    "ring %u of %u: id %d (%s), want a new one below %u",
			    i, nr, id, id < 0 ? strerror(errno) : "", nr);
		used[id] = 1;
	}
	req.addr = (uintptr_t)(mem + nr * one);
	id = ioctl(c.vm->fd, KVM_CREATE_COALESCED_RING, &req);
	err = id < 0 ? errno : 0;
	TEST_ASSERT(id < 0 && err == ENOSPC,
		    "ring %u: %d (%s), want ENOSPC", nr + 1, id, strerror(err));
	printf("# %u rings in one VM, the next one ENOSPC; VmPin %ld kB\n", nr,
	       coalesced_vmpin_kb() - pin_before);

	/* A freed id is given again, and then the VM is full again. */
	TEST_ASSERT(!destroy_errno(&c, 12345), "destroying ring 12345 failed");
	id = ioctl(c.vm->fd, KVM_CREATE_COALESCED_RING, &req);
	TEST_ASSERT(id == 12345, "after destroying ring 12345 got id %d (%s), want 12345",
		    id, id < 0 ? strerror(errno) : "");
	TEST_ASSERT(ioctl(c.vm->fd, KVM_CREATE_COALESCED_RING, &req) < 0 && errno == ENOSPC,
		    "a full VM again must get ENOSPC");
	/* The last id works like any other. */
	legacy_zone_ok(&c, PORT_LEGACY, 1, KVM_COALESCED_ZONE_PIO);
	{
		struct kvm_coalesced_ring_zone z = {
			.addr = PORT_A, .size = 4, .flags = KVM_COALESCED_ZONE_PIO,
			.ring = nr - 1,
		};
		struct dedicated_ring last = {
			.vm_fd = c.vm->fd, .id = nr - 1, .entries = ID_RING_ENTRIES,
		};
		struct seen_list got = { 0 };
		u32 j;

		/* Which memory is ring 65535's?  Fill them all and see. */
		vm_ioctl(c.vm, KVM_REGISTER_COALESCED_RING_ZONE, &z);
		c.exits.n = 0;
		run_burst(&c, 2, &(struct target){ PORT_A, true }, 1);
		for (j = 0; j <= nr && !got.n; j++) {
			last.ring = (void *)(mem + j * one);
			dedicated_ring_drain(&last, seen_entry, &got);
		}
		TEST_ASSERT(got.n == 1 && c.exits.n == 1 && !got.v[0].data &&
			    c.exits.v[0].data == 1,
			    "2 writes to ring %u (1 slot): %u entries, %u exits; want 1 and 1",
			    nr - 1, got.n, c.exits.n);
		free(got.v);
	}
	for (i = 0; i < nr; i++)
		TEST_ASSERT(!destroy_errno(&c, i), "destroying ring %u failed", i);
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before,
		    "VmPin %ld kB after destroying all rings, was %ld",
		    coalesced_vmpin_kb(), pin_before);
	munmap(mem, (nr + 1) * one);
	free(used);
	ctx_free(&c);
}

#define BUS_ZONE_STEP	4
#define BUS_MAX_ZONES	4000	/* NR_IOBUS_DEVS is 1000 */

TEST_F_TIMEOUT(dedicated_ring, full_io_bus, CASE_TIMEOUT_S)
{
	const struct target first = { MMIO_GPA, false };
	const struct target port = { PORT_A, true };
	struct seen_list got = { 0 };
	struct dedicated_ring buf;
	struct ctx c;
	int r = 0;
	u32 n;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	buf = ring_new(&c, 16);
	/* MMIO zones of 4 bytes until the bus says no. */
	for (n = 0; n < BUS_MAX_ZONES; n++) {
		r = ring_zone(&buf, KVM_REGISTER_COALESCED_RING_ZONE,
			      MMIO_GPA + BUS_ZONE_STEP * n, 4, 0);
		if (r)
			break;
	}
	printf("# the MMIO bus took %u zones of one ring, then %s\n", n, strerror(-r));
	TEST_ASSERT(r == -ENOSPC && n >= 100,
		    "zone %u on the MMIO bus: %s, want ENOSPC after 100 or more", n,
		    strerror(-r));
	TEST_ASSERT(ring_zone(&buf, KVM_REGISTER_COALESCED_RING_ZONE, MMIO_GPA + 0x100000, 4, 0) ==
		    -ENOSPC, "the full bus must get ENOSPC again");
	{
		struct kvm_coalesced_mmio_zone legacy = { .addr = MMIO_GPA + 0x100000, .size = 4 };

		TEST_ASSERT(__vm_ioctl(c.vm, KVM_REGISTER_COALESCED_MMIO, &legacy) &&
			    errno == ENOSPC, "a legacy zone on the full bus must get ENOSPC");
	}
	/* The other bus is not full, and the zones in place still work. */
	bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	c.exits.n = 0;
	run_burst(&c, 1, &first, 1);
	run_burst(&c, 1, &port, 1);
	dedicated_ring_drain(&buf, seen_entry, &got);
	TEST_ASSERT(got.n == 2 && !c.exits.n, "on a full bus: %u entries, %u exits; want 2, 0",
		    got.n, c.exits.n);

	/* Unbind them all at once: the bus is empty again and works. */
	TEST_ASSERT(!ring_zone(&buf, KVM_UNREGISTER_COALESCED_RING_ZONE, MMIO_GPA,
			       BUS_ZONE_STEP * n, 0), "unbinding %u zones failed", n);
	run_burst(&c, 1, &first, 1);
	TEST_ASSERT(c.exits.n == 1, "after unbinding all zones: %u exits, want 1", c.exits.n);
	bind_ok(&buf, MMIO_GPA, 4, 0);
	got.n = 0;
	run_burst(&c, 1, &first, 1);
	run_burst(&c, 1, &port, 1);
	dedicated_ring_drain(&buf, seen_entry, &got);
	TEST_ASSERT(got.n == 2 && c.exits.n == 1,
		    "a zone bound again: %u entries, %u exits; want 2, 1", got.n, c.exits.n);
	free(got.v);
	dedicated_ring_destroy(&buf);
	ctx_free(&c);
}

/* ---- 14. RLIMIT_MEMLOCK of 0 ----------------------------------------- */

TEST_F_TIMEOUT(dedicated_ring, memlock_zero, CASE_TIMEOUT_S)
{
	const struct target a = { PORT_A, true };
	long pin_before = coalesced_vmpin_kb();
	struct dedicated_ring buf = DEDICATED_RING_INIT, other = DEDICATED_RING_INIT;
	struct seen_list got = { 0 };
	struct rlimit old, zero;
	struct ctx c;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	TEST_ASSERT(!getrlimit(RLIMIT_MEMLOCK, &old), "getrlimit failed");
	zero = old;
	zero.rlim_cur = 0;
	TEST_ASSERT(!setrlimit(RLIMIT_MEMLOCK, &zero), "setrlimit failed");

	/* Without CAP_IPC_LOCK, not even one page. */
	set_ipc_lock(false);
	TEST_ASSERT(dedicated_ring_create(&buf, c.vm->fd, 2) && errno == ENOMEM,
		    "a 2-entry ring under RLIMIT_MEMLOCK 0 must get ENOMEM, got %s",
		    buf.id < 0 ? strerror(errno) : "success");
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before, "a refused ring left VmPin at %ld kB",
		    coalesced_vmpin_kb());

	/* With it, over the limit; and it works. */
	set_ipc_lock(true);
	buf = ring_new(&c, 1000);
	TEST_ASSERT(coalesced_vmpin_kb() - pin_before >= 24,
		    "a 24 KiB ring over RLIMIT_MEMLOCK 0: VmPin grew by %ld kB",
		    coalesced_vmpin_kb() - pin_before);
	bind_ok(&buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	run_burst(&c, 100, &a, 1);
	dedicated_ring_drain(&buf, seen_entry, &got);
	expect_writes("over RLIMIT_MEMLOCK 0 with CAP_IPC_LOCK", &got, 0, 100, PORT_A, 0, 1);

	/* Without it again: the next ring is refused, the first one stays. */
	set_ipc_lock(false);
	TEST_ASSERT(dedicated_ring_create(&other, c.vm->fd, 2) && errno == ENOMEM,
		    "a second ring without CAP_IPC_LOCK must get ENOMEM");
	dedicated_ring_destroy(&buf);
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before, "VmPin %ld kB after destroy, was %ld",
		    coalesced_vmpin_kb(), pin_before);
	set_ipc_lock(true);
	TEST_ASSERT(!setrlimit(RLIMIT_MEMLOCK, &old), "setrlimit failed");
	free(got.v);
	ctx_free(&c);
}

/* ---- 15. many VMs at once -------------------------------------------- */

#define MANY_VMS	8
#define MANY_ROUNDS	3
#define MANY_BURST	300

static void *many_vm_thread(void *arg)
{
	const struct target t[] = { { PORT_A, true }, { MMIO_GPA, false } };
	struct ctx *c = arg;
	struct seen_list pio = { 0 }, mmio = { 0 };
	struct dedicated_ring a, b;
	u32 round;

	for (round = 0; round < MANY_ROUNDS; round++) {
		a = ring_new(c, MANY_BURST / 2 + 1);
		b = ring_new(c, MANY_BURST / 2 + 1);
		bind_ok(&a, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
		bind_ok(&b, MMIO_GPA, MMIO_ZONE_SIZE, 0);
		pio.n = 0;
		mmio.n = 0;
		run_burst(c, MANY_BURST, t, 2);
		dedicated_ring_drain(&a, seen_entry, &pio);
		dedicated_ring_drain(&b, seen_entry, &mmio);
		TEST_ASSERT(!c->exits.n, "%u exits", c->exits.n);
		expect_writes("many VMs, port ring", &pio, 0, MANY_BURST / 2, PORT_A, 0, 2);
		expect_writes("many VMs, MMIO ring", &mmio, 0, MANY_BURST / 2, MMIO_GPA, 1, 2);
		dedicated_ring_destroy(&a);
		dedicated_ring_destroy(&b);
	}
	free(pio.v);
	free(mmio.v);
	return NULL;
}

TEST_F_TIMEOUT(dedicated_ring, many_vms, CASE_TIMEOUT_S)
{
	long pin_before = coalesced_vmpin_kb();
	pthread_t threads[MANY_VMS];
	struct ctx c[MANY_VMS];
	int i;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	for (i = 0; i < MANY_VMS; i++)
		ctx_init(&c[i]);
	for (i = 0; i < MANY_VMS; i++)
		pthread_create(&threads[i], NULL, many_vm_thread, &c[i]);
	for (i = 0; i < MANY_VMS; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < MANY_VMS; i++)
		ctx_free(&c[i]);
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before, "VmPin %ld kB after %d VMs, was %ld",
		    coalesced_vmpin_kb(), MANY_VMS, pin_before);
}

/* ---- 16. addresses no ring can have ---------------------------------- */

TEST_F_TIMEOUT(dedicated_ring, bad_addresses, CASE_TIMEOUT_S)
{
	static const struct {
		const char *what;
		u64 addr;
		u32 entries;
		int err;
	} rows[] = {
		{ "NULL", 0, 2, EFAULT },
		{ "the kernel's text", 0xffffffff81000000ULL, 2, EFAULT },
		{ "the kernel's direct map", 0xffff888000000000ULL, 2, EFAULT },
		{ "the non-canonical hole", 0x0000800000000000ULL, 2, EFAULT },
		{ "the last user page, past its end", 0x00007ffffffff000ULL - 8, 2, EFAULT },
		{ "the top of the address space", 0ULL - 4096, 2, EFAULT },
		{ "a ring ending at 2^64", 0ULL - KVM_COALESCED_RING_BYTES(2ULL), 2, EINVAL },
		{ "a ring wrapping past 2^64", 0ULL - 4096, 1000, EINVAL },
		{ "a 65536-entry ring wrapping past 2^64", 0ULL - 64 * 1024, 65536, EINVAL },
	};
	long pin_before = coalesced_vmpin_kb();
	struct ctx c;
	u32 i;
	int r;

	if (!max_entries)
		SKIP(return, "no KVM_CAP_COALESCED_RING");

	ctx_init(&c);
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		r = create_req(&c, (struct kvm_coalesced_ring){
			.addr = rows[i].addr, .entries = rows[i].entries });
		TEST_ASSERT(r == -rows[i].err,
			    "a ring at %s (0x%llx, %u entries): %s, want %s", rows[i].what,
			    (unsigned long long)rows[i].addr, rows[i].entries,
			    r >= 0 ? "success" : strerror(-r), strerror(rows[i].err));
	}
	/* Zones: one ending at 2^64 wraps its end, and one in the hole is fine. */
	{
		struct dedicated_ring buf = ring_new(&c, 8);

		TEST_ASSERT(ring_zone(&buf, KVM_REGISTER_COALESCED_RING_ZONE,
				      0ULL - 4, 4, 0) == -EINVAL,
			    "an MMIO zone ending at 2^64 must get EINVAL");
		TEST_ASSERT(ring_zone(&buf, KVM_REGISTER_COALESCED_RING_ZONE, 0ULL - 8, 4, 0) == 0,
			    "an MMIO zone just below 2^64 must be accepted");
		TEST_ASSERT(ring_zone(&buf, KVM_UNREGISTER_COALESCED_RING_ZONE,
				      0ULL - 8, 8, 0) == -EINVAL,
			    "an unbind range ending at 2^64 must get EINVAL");
		TEST_ASSERT(ring_zone(&buf, KVM_UNREGISTER_COALESCED_RING_ZONE,
				      0ULL - 16, 15, 0) == 0,
			    "unbinding the zone below 2^64 failed");
		dedicated_ring_destroy(&buf);
	}
	TEST_ASSERT(coalesced_vmpin_kb() == pin_before,
		    "refused rings left VmPin at %ld kB, was %ld",
		    coalesced_vmpin_kb(), pin_before);
	ctx_free(&c);
}

/* ---- main ------------------------------------------------------------ */

/*
 * A kernel without dedicated rings must answer all four ioctls with
 * ENOTTY: any other answer means that their numbers reach some other
 * ioctl's code, as 0xe1/0xe2 (KVM_SET/GET_DEVICE_ATTR's numbers) would.
 */
TEST_F_TIMEOUT(no_dedicated_ring, ioctls_enotty_without_cap, CASE_TIMEOUT_S)
{
	struct kvm_coalesced_ring req = { .entries = 2 };
	struct kvm_coalesced_ring_zone zone = {
		.addr = PORT_A, .size = 4, .flags = KVM_COALESCED_ZONE_PIO,
	};
	struct kvm_vm *vm = vm_create_barebones();
	const struct {
		const char *name;
		unsigned long nr;
		void *arg;
	} calls[] = {
		{ "KVM_CREATE_COALESCED_RING", KVM_CREATE_COALESCED_RING, &req },
		{ "KVM_REGISTER_COALESCED_RING_ZONE",
		  KVM_REGISTER_COALESCED_RING_ZONE, &zone },
		{ "KVM_UNREGISTER_COALESCED_RING_ZONE",
		  KVM_UNREGISTER_COALESCED_RING_ZONE, &zone },
		{ "KVM_DESTROY_COALESCED_RING", KVM_DESTROY_COALESCED_RING, NULL },
	};
	unsigned int i;
	int r;

	if (max_entries)
		SKIP(return, "KVM_CAP_COALESCED_RING: a case for a kernel without it");

	for (i = 0; i < ARRAY_SIZE(calls); i++) {
		r = ioctl(vm->fd, calls[i].nr, calls[i].arg);
		TEST_ASSERT(r == -1 && errno == ENOTTY,
			    "%s (0x%lx) on a kvm.ko without dedicated rings: %s, want ENOTTY",
			    calls[i].name, calls[i].nr,
			    r == -1 ? strerror(errno) : "success");
		printf("# %s (0x%lx): ENOTTY\n", calls[i].name, calls[i].nr);
	}
	kvm_vm_free(vm);
}

int main(int argc, char *argv[])
{
	int kvm = open_kvm_dev_path_or_exit();
	bool newer;

	setbuf(stdout, NULL);
	newer = coalesced_kvm_expect_newer();
	max_entries = dedicated_ring_max_entries(kvm);
	close(kvm);
	TEST_ASSERT(!newer || max_entries,
		    "COALESCED_KVM=newer, but no KVM_CAP_COALESCED_RING");
	if (max_entries)
		printf("# dedicated rings: up to %u entries\n", max_entries);
	else
		printf("# no KVM_CAP_COALESCED_RING: no dedicated rings\n");
	return test_harness_run(argc, argv);
}
