// SPDX-License-Identifier: GPL-2.0-only
/*
 * Coalesced I/O: zone registration, ring contents and ordering, ring full,
 * edges, several vCPUs, hostile ring indices, lifetime, stats, string I/O.
 *
 * Each case runs in a child process with VMs of its own and is one TAP
 * line.  On an older kernel (COALESCED_KVM=older) the cases run too and
 * assert its behaviour where it differs, row by row
 * (compat_*_rows below).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "coalesced_ring.h"
#include "coalesced_guest.h"
#include "coalesced_kvm.h"
#include "kselftest_harness.h"

#define PORT_RTC_INDEX	0x70	/* zone of size 1 */
#define PORT_RTC_DATA	0x71	/* never in a zone */
#define PORT_PCI_ADDR	0xcf8	/* zone of size 4 */
#define PORT_PLAIN	0x80	/* never in a zone */
#define MMIO_GPA	0xc0000000ULL
#define MMIO_ZONE_SIZE	0x100
#define MMIO_PLAIN_GPA	(MMIO_GPA + 0x800)	/* same page, no zone */
#define IN_VALUE	0x5a5a5a5a5a5a5a5aULL

/* Expect the newer rules, not those of older kernels (coalesced_kvm.h). */
static bool newer;

/*
 * Is a ring with these indices full?  Since 6.12:
 * at max - 1 entries.  Kernels before 6.12 (table row "ring-full-early")
 * also when (first - last - 1) % max, in u32 arithmetic, is 0: with first
 * 0 that is at 85 of 169 entries.
 */
static bool ring_full(u32 first, u32 last, u32 max)
{
	if ((last + 1) % max == first)
		return true;
	return !newer && (u32)(first - last - 1) % max == 0;
}

/* ---- guest side ------------------------------------------------------ */

enum probe_op { PROBE_OUT, PROBE_IN, PROBE_MMIO_WRITE, PROBE_MMIO_READ };

/* One access the host asks the probe guest to make. */
struct probe {
	u32 op;
	u32 len;
	u64 addr;
	u64 data;
	u64 result;
};

static struct probe probe;

/* Make the access in @probe at every GUEST_SYNC, forever. */
static void probe_guest(void)
{
	for (;;) {
		GUEST_SYNC(0);
		switch (probe.op) {
		case PROBE_OUT:
			guest_out(probe.addr, probe.data, probe.len);
			break;
		case PROBE_IN:
			probe.result = guest_in(probe.addr, probe.len);
			break;
		case PROBE_MMIO_WRITE:
			guest_mmio_write(probe.addr, probe.data, probe.len);
			break;
		case PROBE_MMIO_READ:
			probe.result = guest_mmio_read(probe.addr, probe.len);
			break;
		}
	}
}

/* ---- host side ------------------------------------------------------- */

/* One guest write as userspace learns of it: a ring entry or an exit. */
struct io_event {
	u64 addr;
	u64 data;
	u32 len;
	bool pio;
	bool coalesced;
};

struct io_log {
	struct io_event *ev;
	size_t n, cap;
};

static void log_add(struct io_log *log, struct io_event ev)
{
	if (log->n == log->cap) {
		log->cap = log->cap ? 2 * log->cap : 1024;
		log->ev = realloc(log->ev, log->cap * sizeof(*log->ev));
		TEST_ASSERT(log->ev, "out of memory for %zu events", log->cap);
	}
	log->ev[log->n++] = ev;
}

static void log_entry(const struct kvm_coalesced_mmio *e, void *arg)
{
	struct io_event ev = {
		.addr = e->phys_addr, .len = e->len,
		.pio = e->pio & KVM_COALESCED_ZONE_PIO, .coalesced = true,
	};

	TEST_ASSERT(e->len >= 1 && e->len <= 8,
		    "ring entry for 0x%llx has length %u, want 1..8",
		    e->phys_addr, e->len);
	memcpy(&ev.data, e->data, e->len);
	log_add(arg, ev);
}

struct vm_ctx {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	struct kvm_coalesced_mmio_ring *ring;
	u32 max;
};

static struct kvm_coalesced_mmio_ring *map_ring(struct kvm_vcpu *vcpu)
{
	struct kvm_coalesced_mmio_ring *ring;

	ring = coalesced_ring_map(vcpu->vm->fd, vcpu->fd);
	TEST_ASSERT(ring, "cannot map the coalesced ring of vCPU %u: %s",
		    vcpu->id, strerror(errno));
	return ring;
}

static void ctx_init(struct vm_ctx *c, void *guest_code)
{
	c->vm = vm_create_with_one_vcpu(&c->vcpu, guest_code);
	virt_map(c->vm, MMIO_GPA, MMIO_GPA, 1);
	c->ring = map_ring(c->vcpu);
	c->max = coalesced_ring_max();
}

static void ctx_free(struct vm_ctx *c)
{
	munmap(c->ring, getpagesize());
	kvm_vm_free(c->vm);
}

static int zone_add(struct kvm_vm *vm, u64 addr, u32 size,
		    u32 flags)
{
	struct kvm_coalesced_mmio_zone zone = {
		.addr = addr, .size = size, .pio = flags,
	};

	return __vm_ioctl(vm, KVM_REGISTER_COALESCED_MMIO, &zone) ? -errno : 0;
}

static int zone_del(struct kvm_vm *vm, u64 addr, u32 size,
		    u32 flags)
{
	struct kvm_coalesced_mmio_zone zone = {
		.addr = addr, .size = size, .pio = flags,
	};

	return __vm_ioctl(vm, KVM_UNREGISTER_COALESCED_MMIO, &zone) ? -errno : 0;
}

/*
 * Decode an I/O or MMIO exit into @ev; reads get IN_VALUE.  Returns false
 * for anything else (a ucall is handled by the caller first).
 */
static bool decode_exit(struct kvm_vcpu *vcpu, struct io_event *ev, bool *write)
{
	struct kvm_run *run = vcpu->run;

	memset(ev, 0, sizeof(*ev));
	if (run->exit_reason == KVM_EXIT_IO) {
		void *data = (void *)run + run->io.data_offset;

		TEST_ASSERT(run->io.count == 1,
			    "port 0x%x: string I/O (count %u) is not expected",
			    run->io.port, run->io.count);
		ev->pio = true;
		ev->addr = run->io.port;
		ev->len = run->io.size;
		*write = run->io.direction == KVM_EXIT_IO_OUT;
		if (*write)
			memcpy(&ev->data, data, ev->len);
		else
			memcpy(data, &(u64){ IN_VALUE }, ev->len);
		return true;
	}
	if (run->exit_reason == KVM_EXIT_MMIO) {
		ev->addr = run->mmio.phys_addr;
		ev->len = run->mmio.len;
		*write = run->mmio.is_write;
		if (*write)
			memcpy(&ev->data, run->mmio.data, ev->len);
		else
			memcpy(run->mmio.data, &(u64){ IN_VALUE }, ev->len);
		return true;
	}
	return false;
}

/* What one probe access did, as userspace saw it. */
struct probe_outcome {
	int exits;		/* I/O or MMIO exits for the access */
	struct io_event exit;	/* the last of them */
	struct io_log ring;	/* ring entries drained afterwards */
	u64 result;	/* value a read returned in the guest */
};

/* Run the probe guest to its next GUEST_SYNC, handling exits. */
static void run_to_sync(struct vm_ctx *c, struct probe_outcome *out)
{
	struct io_event ev;
	bool write;

	while (!run_until_sync_or_exit(c->vcpu)) {
		TEST_ASSERT(decode_exit(c->vcpu, &ev, &write),
			    "unexpected exit %u (%s)", c->vcpu->run->exit_reason,
			    exit_reason_str(c->vcpu->run->exit_reason));
		if (out) {
			out->exits++;
			out->exit = ev;
		}
	}
}

/*
 * Have the probe guest make one access; report exits and, when @drain,
 * the ring entries it left.  The guest must be parked at a GUEST_SYNC.
 */
static struct probe_outcome do_probe(struct vm_ctx *c, enum probe_op op,
				     u64 addr, int len, u64 data,
				     bool drain)
{
	struct probe *p = addr_gva2hva(c->vm, (gva_t)&probe);
	struct probe_outcome out = { 0 };

	*p = (struct probe){ .op = op, .addr = addr, .len = len, .data = data };
	run_to_sync(c, &out);
	out.result = p->result;
	if (drain)
		coalesced_ring_drain(c->ring, log_entry, &out.ring);
	return out;
}

/* A PIO write of @len bytes: did it exit (true) or go to the ring? */
static bool pio_write_exits(struct vm_ctx *c, u16 port, int len)
{
	struct probe_outcome o = do_probe(c, PROBE_OUT, port, len, 0xab, true);

	TEST_ASSERT(o.exits + o.ring.n == 1,
		    "outb 0x%x: %d exits and %zu ring entries, want 1 in all",
		    port, o.exits, o.ring.n);
	if (o.ring.n)
		TEST_ASSERT(o.ring.ev[0].addr == port && o.ring.ev[0].pio,
			    "outb 0x%x left a ring entry for 0x%lx (pio %d)",
			    port, o.ring.ev[0].addr, o.ring.ev[0].pio);
	free(o.ring.ev);
	return o.exits;
}

/* A 4-byte write to 0xcf8 without draining: did it exit? */
static bool pio_write_exits_nodrain(struct vm_ctx *c)
{
	return do_probe(c, PROBE_OUT, PORT_PCI_ADDR, 4, 0xabcd, false).exits;
}

static void probe_start(struct vm_ctx *c)
{
	ctx_init(c, probe_guest);
	run_to_sync(c, NULL);	/* park the guest at its first GUEST_SYNC */
}

/* A parked probe guest with zones on 0x70 (1), 0xcf8 (4) and MMIO_GPA. */
static void probe_start_zoned(struct vm_ctx *c)
{
	probe_start(c);
	kvm_vm_register_coalesced_io(c->vm, PORT_RTC_INDEX, 1, true);
	kvm_vm_register_coalesced_io(c->vm, PORT_PCI_ADDR, 4, true);
	kvm_vm_register_coalesced_io(c->vm, MMIO_GPA, MMIO_ZONE_SIZE, false);
}

/*
 * Each case makes VMs of its own, so the fixture holds nothing; it gives
 * each case a forked child and a time limit in kselftest_harness.  A case
 * takes a few seconds, on a debug kernel four times more.
 */
FIXTURE(coalesced_pio) {};
FIXTURE_SETUP(coalesced_pio) {}
FIXTURE_TEARDOWN(coalesced_pio) {}
#define CASE_TIMEOUT_S	360

/* ---- 1. capabilities ------------------------------------------------- */

TEST_F_TIMEOUT(coalesced_pio, capabilities, CASE_TIMEOUT_S)
{
	int page = kvm_check_cap(KVM_CAP_COALESCED_MMIO);
	struct vm_ctx c;

	TEST_ASSERT(page > 0,
		    "KVM_CAP_COALESCED_MMIO is %d, want the ring's page offset",
		    page);
	printf("# ring at page %d of the vCPU mmap, %u entries\n", page,
	       coalesced_ring_max());
	TEST_ASSERT(kvm_check_cap(KVM_CAP_COALESCED_PIO) == 1,
		    "KVM_CAP_COALESCED_PIO is %d, want 1",
		    kvm_check_cap(KVM_CAP_COALESCED_PIO));

	ctx_init(&c, probe_guest);
	TEST_ASSERT(c.ring->first == 0 && c.ring->last == 0,
		    "new ring is not empty: first %u last %u",
		    c.ring->first, c.ring->last);
	ctx_free(&c);
}

/* ---- 2. registration ------------------------------------------------- */

TEST_F_TIMEOUT(coalesced_pio, registration, CASE_TIMEOUT_S)
{
	struct probe_outcome o;
	struct vm_ctx c;

	probe_start_zoned(&c);

	/* Overlap is allowed; a write in both zones makes one entry. */
	kvm_vm_register_coalesced_io(c.vm, PORT_PCI_ADDR, 8, true);
	o = do_probe(&c, PROBE_OUT, PORT_PCI_ADDR, 4, 0x11223344, true);
	TEST_ASSERT(!o.exits && o.ring.n == 1,
		    "outl 0xcf8 in two overlapping zones: %d exits, %zu entries, want 0 and 1",
		    o.exits, o.ring.n);
	free(o.ring.ev);
	TEST_ASSERT(!pio_write_exits(&c, 0xcfc, 1),
		    "outb 0xcfc (only in the 0xcf8+8 zone) exited");

	/* Unregistering the exact ranges, as QEMU does. */
	TEST_ASSERT(!zone_del(c.vm, PORT_RTC_INDEX, 1, KVM_COALESCED_ZONE_PIO),
		    "unregistering 0x70 failed");
	TEST_ASSERT(pio_write_exits(&c, PORT_RTC_INDEX, 1),
		    "outb 0x70 still coalesced after its zone was removed");
	TEST_ASSERT(!zone_del(c.vm, PORT_PCI_ADDR, 8, KVM_COALESCED_ZONE_PIO),
		    "unregistering 0xcf8+8 failed");
	TEST_ASSERT(!pio_write_exits(&c, PORT_PCI_ADDR, 4),
		    "outl 0xcf8 exited while the zone 0xcf8+4 is registered");
	TEST_ASSERT(!zone_del(c.vm, PORT_PCI_ADDR, 4, KVM_COALESCED_ZONE_PIO),
		    "unregistering 0xcf8+4 failed");
	TEST_ASSERT(pio_write_exits(&c, PORT_PCI_ADDR, 4),
		    "outl 0xcf8 still coalesced after both of its zones were removed");
	o = do_probe(&c, PROBE_MMIO_WRITE, MMIO_GPA, 4, 1, true);
	TEST_ASSERT(!o.exits && o.ring.n == 1,
		    "MMIO zone stopped working after PIO zones were removed");
	free(o.ring.ev);
	TEST_ASSERT(!zone_del(c.vm, MMIO_GPA, MMIO_ZONE_SIZE, 0),
		    "unregistering the MMIO zone failed");
	o = do_probe(&c, PROBE_MMIO_WRITE, MMIO_GPA, 4, 1, true);
	TEST_ASSERT(o.exits == 1 && !o.ring.n,
		    "MMIO write still coalesced after its zone was removed");
	free(o.ring.ev);
	ctx_free(&c);
}

/*
 * The legacy ioctls on newer and older kernels.  On a newer kernel the
 * result must be the "newer" column, on an older one the "older"
 * column, so a difference no row lists fails one run or the other.
 */
#define COMPAT_PORT	0x300	/* no in-kernel device near it */

enum zone_effect {
	NOT_PROBED,	/* no guest access can reach the range */
	WRITE_EXITS,	/* the zone holds no write at the probe */
	WRITE_RING,	/* the write at the probe is coalesced */
};

struct compat_register_row {
	const char *name;
	u64 addr;
	u32 size;
	u32 flags;
	bool twice;		/* register the same zone before */
	int older, newer;	/* errno; 0: accepted */
	u16 probe;		/* outb here afterwards ... */
	enum zone_effect effect_older, effect_newer;	/* ... does this */
};

#define PIO	KVM_COALESCED_ZONE_PIO

static const struct compat_register_row compat_register_rows[] = {
	{ "reg-flag-bit2", COMPAT_PORT, 1, 4, false,
	  EINVAL, EINVAL, COMPAT_PORT, WRITE_EXITS, WRITE_EXITS },
	{ "reg-flag-bit31", COMPAT_PORT, 1, 0x80000000u | PIO, false,
	  EINVAL, EINVAL, COMPAT_PORT, WRITE_EXITS, WRITE_EXITS },
	{ "reg-port", COMPAT_PORT, 4, PIO, false,
	  0, 0, COMPAT_PORT + 3, WRITE_RING, WRITE_RING },
	{ "reg-duplicate", COMPAT_PORT, 4, PIO, true,
	  0, 0, COMPAT_PORT, WRITE_RING, WRITE_RING },
	{ "reg-port-across-0x10000", 0xfffc, 8, PIO, false,
	  0, 0, 0xffff, WRITE_RING, WRITE_RING },
	{ "reg-size-0", COMPAT_PORT, 0, PIO, false,
	  0, EINVAL, COMPAT_PORT, WRITE_EXITS, WRITE_EXITS },
	{ "reg-wraps", ~0ULL - 0xff, 0x100 + COMPAT_PORT + 0x10, PIO, false,
	  0, EINVAL, COMPAT_PORT, WRITE_EXITS, WRITE_EXITS },
	{ "reg-size-2g", COMPAT_PORT, 0x80000000u, PIO, false,
	  0, EINVAL, COMPAT_PORT, WRITE_EXITS, WRITE_EXITS },
	{ "reg-size-2g-high", 0x80001000ULL, 0x80000000u, 0, false,
	  0, EINVAL, 0, NOT_PROBED, NOT_PROBED },
	{ "reg-port-above-0xffff", 0x10000, 4, PIO, false,
	  0, EINVAL, 0, NOT_PROBED, NOT_PROBED },
};

static const char *result_str(int err)
{
	return err ? strerror(err) : "accepted";
}

TEST_F_TIMEOUT(coalesced_pio, compat_register, CASE_TIMEOUT_S)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(compat_register_rows); i++) {
		const struct compat_register_row *row = &compat_register_rows[i];
		int want = newer ? row->newer : row->older;
		enum zone_effect effect = newer ? row->effect_newer :
						  row->effect_older;
		struct vm_ctx c;
		int r;

		probe_start(&c);
		if (row->twice)
			kvm_vm_register_coalesced_io(c.vm, row->addr, row->size,
						     row->flags & KVM_COALESCED_ZONE_PIO);
		r = -zone_add(c.vm, row->addr, row->size, row->flags);
		TEST_ASSERT(r == want,
			    "%s (0x%lx+0x%x flags 0x%x): %s, want %s (older %s, newer %s)",
			    row->name, row->addr, row->size, row->flags,
			    result_str(r), result_str(want),
			    result_str(row->older), result_str(row->newer));
		if (effect != NOT_PROBED)
			TEST_ASSERT(pio_write_exits(&c, row->probe, 1) ==
				    (effect == WRITE_EXITS),
				    "%s: outb 0x%x %s, want %s", row->name,
				    row->probe,
				    effect == WRITE_EXITS ? "was coalesced" : "exited",
				    effect == WRITE_EXITS ? "an exit" : "a ring entry");
		if (row->twice) {
			/* One unregister takes both copies. */
			TEST_ASSERT(!zone_del(c.vm, row->addr, row->size, row->flags),
				    "%s: unregistering failed", row->name);
			TEST_ASSERT(pio_write_exits(&c, row->probe, 1),
				    "%s: a copy of the zone survived its unregister",
				    row->name);
		}
		printf("# %-28s %s (older %s, newer %s)\n", row->name,
		       result_str(r), result_str(row->older),
		       result_str(row->newer));
		ctx_free(&c);
	}
}

/* A zone registered before an unregister row, and where to probe it. */
struct compat_zone {
	u64 addr;
	u32 size;
	u32 flags;
	u64 probe;		/* an address no other zone of the row holds */
};

struct compat_unregister_row {
	const char *name;
	struct compat_zone zones[2];	/* size 0: no zone */
	u64 addr;			/* the range unregistered */
	u32 size;
	u32 flags;
	int err;			/* errno of both */
	unsigned int gone_older, gone_newer;	/* bit n: zones[n] removed */
};

#define P		COMPAT_PORT
#define ZONE_P		{ P, 0x10, PIO, P }		/* ports 0x300..0x30f */
#define ZONE_P8		{ P + 8, 0x10, PIO, P + 0x17 }	/* 0x308..0x317 */

static const struct compat_unregister_row compat_unregister_rows[] = {
	{ "unreg-equal", { ZONE_P }, P, 0x10, PIO, 0, 1, 1 },
	{ "unreg-inside", { ZONE_P }, P + 4, 4, PIO, 0, 1, 1 },
	{ "unreg-containing", { ZONE_P }, P - 0x10, 0x40, PIO, 0, 0, 0 },
	{ "unreg-overlap-start", { ZONE_P }, P - 8, 0x10, PIO, 0, 0, 0 },
	{ "unreg-overlap-end", { ZONE_P }, P + 8, 0x10, PIO, 0, 0, 0 },
	{ "unreg-disjoint", { ZONE_P }, P + 0x20, 4, PIO, 0, 0, 0 },
	{ "unreg-size-0-inside", { ZONE_P }, P + 4, 0, PIO, 0, 1, 1 },
	{ "unreg-size-0-at-end", { ZONE_P }, P + 0x10, 0, PIO, 0, 1, 1 },
	{ "unreg-size-0-past-end", { ZONE_P }, P + 0x11, 0, PIO, 0, 0, 0 },
	{ "unreg-wraps", { ZONE_P }, ~0ULL - 1, 4, PIO, 0, 0, 0 },
	{ "unreg-size-2g", { ZONE_P }, 0, 0x80000000u, PIO, 0, 0, 0 },
	{ "unreg-other-kind", { ZONE_P }, P, 0x10, 0, 0, 0, 0 },
	{ "unreg-flag-bit2", { ZONE_P }, P, 0x10, 4, EINVAL, 0, 0 },
	{ "unreg-two-containing", { ZONE_P, ZONE_P8 }, P + 8, 4, PIO, 0, 3, 3 },
	{ "unreg-one-of-nested", { ZONE_P, ZONE_P8 }, P + 2, 4, PIO, 0, 1, 1 },
	{ "unreg-duplicates", { ZONE_P, ZONE_P }, P + 4, 4, PIO, 0, 3, 3 },
	{ "unreg-mmio-register", { { MMIO_GPA, 0x100, 0, MMIO_GPA } },
	  MMIO_GPA + 0x10, 4, 0, 0, 1, 1 },
};

#undef P

/* Does a write at the zone's probe address exit (the zone is gone)? */
static bool compat_zone_gone(struct vm_ctx *c, const struct compat_zone *z)
{
	struct probe_outcome o;

	if (z->flags & PIO)
		return pio_write_exits(c, z->probe, 1);
	o = do_probe(c, PROBE_MMIO_WRITE, z->probe, 1, 1, true);
	TEST_ASSERT(o.exits + o.ring.n == 1,
		    "MMIO write to 0x%lx: %d exits, %zu entries, want 1 in all",
		    z->probe, o.exits, o.ring.n);
	free(o.ring.ev);
	return o.exits;
}

TEST_F_TIMEOUT(coalesced_pio, compat_unregister, CASE_TIMEOUT_S)
{
	size_t i, z;

	for (i = 0; i < ARRAY_SIZE(compat_unregister_rows); i++) {
		const struct compat_unregister_row *row = &compat_unregister_rows[i];
		unsigned int want = newer ? row->gone_newer : row->gone_older;
		unsigned int gone = 0;
		struct vm_ctx c;
		int r;

		probe_start(&c);
		for (z = 0; z < ARRAY_SIZE(row->zones) && row->zones[z].size; z++)
			kvm_vm_register_coalesced_io(c.vm, row->zones[z].addr,
						     row->zones[z].size,
						     row->zones[z].flags & KVM_COALESCED_ZONE_PIO);
		r = -zone_del(c.vm, row->addr, row->size, row->flags);
		TEST_ASSERT(r == row->err, "%s (0x%lx+0x%x flags 0x%x): %s, want %s",
			    row->name, row->addr, row->size, row->flags,
			    result_str(r), result_str(row->err));
		for (z = 0; z < ARRAY_SIZE(row->zones) && row->zones[z].size; z++)
			gone |= compat_zone_gone(&c, &row->zones[z]) << z;
		TEST_ASSERT(gone == want,
			    "%s: removed zones 0x%x, want 0x%x (older 0x%x, newer 0x%x)",
			    row->name, gone, want, row->gone_older,
			    row->gone_newer);
		printf("# %-28s %s, removed 0x%x (older 0x%x, newer 0x%x)\n",
		       row->name, result_str(r), gone, row->gone_older,
		       row->gone_newer);
		ctx_free(&c);
	}
}

/* ---- 3. ordering ----------------------------------------------------- */

struct write_kind {
	bool pio;
	bool coalesced;
	u8 len;
	u64 addr;
};

/* Two PIO zones and one MMIO zone, interleaved with accesses that exit. */
static const struct write_kind order_kinds[] = {
	{ true,  true,  1, PORT_RTC_INDEX },
	{ true,  true,  4, PORT_PCI_ADDR },
	{ false, true,  4, MMIO_GPA + 0x10 },
	{ true,  true,  2, PORT_PCI_ADDR + 2 },
	{ true,  false, 1, PORT_PLAIN },
	{ false, true,  8, MMIO_GPA + 0x20 },
	{ true,  true,  1, PORT_PCI_ADDR + 1 },
	{ true,  true,  1, PORT_RTC_INDEX },
	{ false, false, 4, MMIO_PLAIN_GPA },
	{ true,  true,  2, PORT_PCI_ADDR },
	{ false, true,  1, MMIO_GPA + 0xff },
	{ true,  false, 1, PORT_RTC_DATA },
};

#define ORDER_WRITES	600

static u64 seq_data(u64 i, int len)
{
	u64 v = (i + 1) * 0x9e3779b97f4a7c15ULL;

	return len == 8 ? v : v & ((1ULL << (8 * len)) - 1);
}

static void order_guest(void)
{
	int i;

	for (i = 0; i < ORDER_WRITES; i++) {
		const struct write_kind *k =
			&order_kinds[i % ARRAY_SIZE(order_kinds)];

		if (k->pio)
			guest_out(k->addr, seq_data(i, k->len), k->len);
		else
			guest_mmio_write(k->addr, seq_data(i, k->len), k->len);
	}
	GUEST_DONE();
}

static void check_event(const struct io_event *ev, size_t i)
{
	const struct write_kind *k = &order_kinds[i % ARRAY_SIZE(order_kinds)];

	TEST_ASSERT(ev->pio == k->pio && ev->addr == k->addr &&
		    ev->len == k->len && ev->data == seq_data(i, k->len) &&
		    ev->coalesced == k->coalesced,
		    "write #%zu: got %s %s 0x%lx len %u data 0x%lx, want %s %s 0x%lx len %u data 0x%lx",
		    i, ev->coalesced ? "ring" : "exit", ev->pio ? "pio" : "mmio",
		    ev->addr, ev->len, ev->data,
		    k->coalesced ? "ring" : "exit", k->pio ? "pio" : "mmio",
		    k->addr, k->len, seq_data(i, k->len));
}

TEST_F_TIMEOUT(coalesced_pio, ring_ordering, CASE_TIMEOUT_S)
{
	struct io_log log = { 0 };
	struct io_event ev;
	struct vm_ctx c;
	struct ucall uc;
	size_t checked = 0;
	bool write;

	ctx_init(&c, order_guest);
	kvm_vm_register_coalesced_io(c.vm, PORT_RTC_INDEX, 1, true);
	kvm_vm_register_coalesced_io(c.vm, PORT_PCI_ADDR, 4, true);
	kvm_vm_register_coalesced_io(c.vm, MMIO_GPA, MMIO_ZONE_SIZE, false);

	for (;;) {
		vcpu_run(c.vcpu);
		/* Replay the ring first, as a VMM must. */
		coalesced_ring_drain(c.ring, log_entry, &log);
		if (get_ucall(c.vcpu, &uc) == UCALL_DONE)
			break;
		if (uc.cmd == UCALL_ABORT)
			REPORT_GUEST_ASSERT(uc);
		TEST_ASSERT(decode_exit(c.vcpu, &ev, &write) && write,
			    "unexpected exit %u", c.vcpu->run->exit_reason);
		/* The ring held exactly the writes before this exit. */
		TEST_ASSERT(log.n < ORDER_WRITES &&
			    !order_kinds[log.n % ARRAY_SIZE(order_kinds)].coalesced,
			    "exit for 0x%lx after %zu writes: the ring is missing writes or has extra ones",
			    ev.addr, log.n);
		log_add(&log, ev);
		for (; checked < log.n; checked++)
			check_event(&log.ev[checked], checked);
	}
	TEST_ASSERT(log.n == ORDER_WRITES, "saw %zu writes, guest made %d",
		    log.n, ORDER_WRITES);
	for (; checked < log.n; checked++)
		check_event(&log.ev[checked], checked);
	printf("# %d writes checked in order (ring entries and exits)\n",
	       ORDER_WRITES);
	free(log.ev);
	ctx_free(&c);
}

/* ---- 4. ring full ---------------------------------------------------- */

static u32 fill_writes;

static void fill_guest(void)
{
	u32 i;

	for (i = 0; i < fill_writes; i++)
		guest_out(PORT_PCI_ADDR, i, 4);
	GUEST_DONE();
}

TEST_F_TIMEOUT(coalesced_pio, ring_full, CASE_TIMEOUT_S)
{
	struct io_log log = { 0 };
	struct io_event ev;
	struct vm_ctx c;
	struct ucall uc;
	u32 exits = 0, i;
	bool write;

	ctx_init(&c, fill_guest);
	fill_writes = 3 * c.max + 7;
	sync_global_to_guest(c.vm, fill_writes);
	kvm_vm_register_coalesced_io(c.vm, PORT_PCI_ADDR, 4, true);

	for (;;) {
		vcpu_run(c.vcpu);
		if (get_ucall(c.vcpu, &uc) == UCALL_DONE)
			break;
		TEST_ASSERT(decode_exit(c.vcpu, &ev, &write) && write &&
			    ev.pio && ev.addr == PORT_PCI_ADDR,
			    "unexpected exit %u", c.vcpu->run->exit_reason);
		/* Full: max - 1 writes wait in the ring, this one exited. */
		TEST_ASSERT(ring_full(c.ring->first, c.ring->last, c.max),
			    "write %lu exited but the ring is not full (first %u last %u)",
			    ev.data, c.ring->first, c.ring->last);
		if (!exits)
			printf("# first exit on a ring holding %u entries\n",
			       (c.ring->last - c.ring->first + c.max) % c.max);
		coalesced_ring_drain(c.ring, log_entry, &log);
		log_add(&log, ev);
		exits++;
	}
	coalesced_ring_drain(c.ring, log_entry, &log);

	TEST_ASSERT(log.n == fill_writes, "saw %zu writes, guest made %u",
		    log.n, fill_writes);
	for (i = 0; i < log.n; i++)
		TEST_ASSERT(log.ev[i].data == i && (!newer || log.ev[i].coalesced ==
			    ((i + 1) % c.max != 0)),
			    "write #%u: got data %lu via %s", i, log.ev[i].data,
			    log.ev[i].coalesced ? "ring" : "exit");
	TEST_ASSERT(!newer || exits == fill_writes / c.max,
		    "%u exits for %u writes with a %u-slot ring, want %u",
		    exits, fill_writes, c.max, fill_writes / c.max);
	printf("# %u writes, %u exits on ring full, order intact\n",
	       fill_writes, exits);
	free(log.ev);
	ctx_free(&c);
}

/* ---- 5. edges -------------------------------------------------------- */

#define RTC_ITERATIONS	100

static void rtc_guest(void)
{
	int phase, i;

	for (phase = 0; phase < 2; phase++) {
		for (i = 0; i < RTC_ITERATIONS; i++) {
			guest_out(PORT_RTC_INDEX, i & 0x7f, 1);
			GUEST_ASSERT(guest_in(PORT_RTC_DATA, 1) == 0x5a);
		}
		GUEST_SYNC(phase);
	}
	GUEST_DONE();
}

/* RTC pattern: exits per phase, without and then with a zone on 0x70. */
static void rtc_exits(u32 exits[2], u32 entries[2])
{
	struct io_log log = { 0 };
	struct io_event ev;
	struct vm_ctx c;
	struct ucall uc;
	bool write;
	int phase = 0;

	ctx_init(&c, rtc_guest);
	exits[0] = 0;
	exits[1] = 0;
	for (;;) {
		vcpu_run(c.vcpu);
		coalesced_ring_drain(c.ring, log_entry, &log);
		switch (get_ucall(c.vcpu, &uc)) {
		case UCALL_SYNC:
			entries[phase] = log.n;
			log.n = 0;
			if (phase++ == 0)
				kvm_vm_register_coalesced_io(c.vm, PORT_RTC_INDEX, 1, true);
			continue;
		case UCALL_DONE:
			free(log.ev);
			ctx_free(&c);
			return;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		}
		TEST_ASSERT(decode_exit(c.vcpu, &ev, &write), "unexpected exit");
		exits[phase]++;
	}
}

/*
 * The data bytes of an entry past the write's length: zero with this
 * series, whatever the slot held (userspace fills it with 0xff first, as
 * an earlier, longer write would have left it); a kernel without the
 * series leaves them as they were.
 */
static void check_padding(struct vm_ctx *c, enum probe_op op, u64 addr,
			  int len)
{
	struct kvm_coalesced_mmio *slot = &c->ring->coalesced_mmio[c->ring->last];
	u8 want = newer ? 0 : 0xff;
	struct probe_outcome o;
	int i;

	memset(slot->data, 0xff, sizeof(slot->data));
	o = do_probe(c, op, addr, len, 0x5a, false);
	TEST_ASSERT(!o.exits && c->ring->last != c->ring->first,
		    "a %d-byte write to 0x%lx was not coalesced", len, addr);
	for (i = len; i < sizeof(slot->data); i++)
		TEST_ASSERT(slot->data[i] == want,
			    "%d-byte write to 0x%lx: data[%d] is 0x%x, want 0x%x",
			    len, addr, i, slot->data[i], want);
	c->ring->first = c->ring->last;
}

TEST_F_TIMEOUT(coalesced_pio, edges, CASE_TIMEOUT_S)
{
	u32 exits[2], entries[2];
	struct probe_outcome o;
	struct vm_ctx c;

	probe_start_zoned(&c);
	check_padding(&c, PROBE_OUT, PORT_RTC_INDEX, 1);
	check_padding(&c, PROBE_OUT, PORT_PCI_ADDR, 2);
	check_padding(&c, PROBE_OUT, PORT_PCI_ADDR, 4);
	check_padding(&c, PROBE_MMIO_WRITE, MMIO_GPA, 1);

	o = do_probe(&c, PROBE_OUT, PORT_PCI_ADDR + 2, 4, 0xdeadbeef, true);
	TEST_ASSERT(o.exits == 1 && !o.ring.n && o.exit.addr == 0xcfa &&
		    o.exit.len == 4 && o.exit.data == 0xdeadbeef,
		    "outl 0xcfa (straddles the 0xcf8+4 zone) must exit whole: %d exits, %zu entries",
		    o.exits, o.ring.n);
	o = do_probe(&c, PROBE_OUT, PORT_RTC_INDEX, 2, 0x1234, true);
	TEST_ASSERT(o.exits == 1 && !o.ring.n,
		    "outw 0x70 (straddles the 0x70+1 zone) must exit");
	o = do_probe(&c, PROBE_MMIO_WRITE, MMIO_GPA + MMIO_ZONE_SIZE - 4, 8,
		     0x0102030405060708ULL, true);
	TEST_ASSERT(o.exits == 1 && !o.ring.n && o.exit.len == 8 &&
		    o.exit.data == 0x0102030405060708ULL,
		    "8-byte MMIO write across the zone's end must exit whole: %d exits, %zu entries",
		    o.exits, o.ring.n);

	o = do_probe(&c, PROBE_IN, PORT_RTC_INDEX, 1, 0, true);
	TEST_ASSERT(o.exits == 1 && !o.ring.n && o.result == (IN_VALUE & 0xff),
		    "inb 0x70 (coalesced port): %d exits, %zu entries, read 0x%lx; want an exit returning 0x5a",
		    o.exits, o.ring.n, o.result);
	o = do_probe(&c, PROBE_IN, PORT_PCI_ADDR, 4, 0, true);
	TEST_ASSERT(o.exits == 1 && o.result == (IN_VALUE & 0xffffffff),
		    "inl 0xcf8 (coalesced port) must exit and return the host's value");
	o = do_probe(&c, PROBE_MMIO_READ, MMIO_GPA + 8, 4, 0, true);
	TEST_ASSERT(o.exits == 1 && !o.ring.n &&
		    o.result == (IN_VALUE & 0xffffffff),
		    "MMIO read in a zone must exit and return the host's value");
	ctx_free(&c);

	rtc_exits(exits, entries);
	printf("# RTC pattern x%d: %u exits without a zone, %u with (%u ring entries)\n",
	       RTC_ITERATIONS, exits[0], exits[1], entries[1]);
	TEST_ASSERT(exits[0] == 2 * RTC_ITERATIONS && entries[0] == 0,
		    "without a zone: %u exits, %u entries; want %d and 0",
		    exits[0], entries[0], 2 * RTC_ITERATIONS);
	TEST_ASSERT(exits[1] == RTC_ITERATIONS && entries[1] == RTC_ITERATIONS,
		    "with a zone on 0x70: %u exits, %u entries; want %d and %d",
		    exits[1], entries[1], RTC_ITERATIONS, RTC_ITERATIONS);
}

/* ---- 6 and 8. several vCPUs ------------------------------------------ */

#define MAX_VCPUS	2

/* vCPU @id writes (id << 24 | n) for n = 0 .. writer_limit - 1. */
static u32 writer_limit;

static void writer_guest(u32 id, bool mmio)
{
	u32 n;

	for (n = 0; n < writer_limit; n++) {
		if (mmio)
			guest_mmio_write(MMIO_GPA + 4 * id, id << 24 | n, 4);
		else
			guest_out(PORT_PCI_ADDR, id << 24 | n, 4);
	}
	GUEST_SYNC(n);
	GUEST_DONE();
}

struct writers {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[MAX_VCPUS];
	struct kvm_coalesced_mmio_ring *ring;
	pthread_mutex_t lock;	/* serializes draining and the log */
	struct io_log log;
	u32 written[MAX_VCPUS];
	u32 exits[MAX_VCPUS];
	bool done[MAX_VCPUS];	/* set by each vCPU thread at GUEST_DONE */
};

struct writer_arg {
	struct writers *w;
	int id;
};

static void *writer_thread(void *data)
{
	struct writer_arg *a = data;
	struct writers *w = a->w;
	struct kvm_vcpu *vcpu = w->vcpu[a->id];
	struct io_event ev;
	struct ucall uc;
	bool write;

	for (;;) {
		vcpu_run(vcpu);
		pthread_mutex_lock(&w->lock);
		coalesced_ring_drain(w->ring, log_entry, &w->log);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			w->written[a->id] = uc.args[1];
			break;
		case UCALL_DONE:
			WRITE_ONCE(w->done[a->id], true);
			pthread_mutex_unlock(&w->lock);
			return NULL;
		case UCALL_ABORT:
			printf("# vCPU %d after %u exits; writer_guest is at %p\n",
			       a->id, w->exits[a->id], writer_guest);
			REPORT_GUEST_ASSERT(uc);
		default:
			if (!decode_exit(vcpu, &ev, &write) || !write) {
				struct kvm_regs regs;

				vcpu_regs_get(vcpu, &regs);
				TEST_FAIL("vCPU %d: exit %s at rip 0x%llx, rsp 0x%llx, %u exits",
					  a->id, exit_reason_str(vcpu->run->exit_reason),
					  regs.rip, regs.rsp, w->exits[a->id]);
			}
			log_add(&w->log, ev);
			w->exits[a->id]++;
		}
		pthread_mutex_unlock(&w->lock);
	}
}

static void writer_guest_pio(u32 id)
{
	writer_guest(id, false);
}

static void writer_guest_mixed(u32 id)
{
	writer_guest(id, id & 1);
}

static void writers_start(struct writers *w, void *guest, u32 limit,
			  pthread_t *threads, struct writer_arg *args)
{
	int i;

	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	w->vm = vm_create_with_vcpus(MAX_VCPUS, guest, w->vcpu);
	virt_map(w->vm, MMIO_GPA, MMIO_GPA, 1);
	catch_guest_exceptions(w->vm);
	w->ring = map_ring(w->vcpu[0]);
	writer_limit = limit;
	sync_global_to_guest(w->vm, writer_limit);
	for (i = 0; i < MAX_VCPUS; i++) {
		vcpu_args_set(w->vcpu[i], 1, i);
		args[i] = (struct writer_arg){ .w = w, .id = i };
	}
	kvm_vm_register_coalesced_io(w->vm, PORT_PCI_ADDR, 4, true);
	kvm_vm_register_coalesced_io(w->vm, MMIO_GPA, MMIO_ZONE_SIZE, false);
	for (i = 0; i < MAX_VCPUS; i++)
		pthread_create(&threads[i], NULL, writer_thread, &args[i]);
}

/* Every write of every vCPU exactly once, each vCPU's in order. */
static void writers_check(struct writers *w)
{
	u32 next[MAX_VCPUS] = { 0 };
	size_t i, ring = 0;

	coalesced_ring_drain(w->ring, log_entry, &w->log);
	for (i = 0; i < w->log.n; i++) {
		u32 id = w->log.ev[i].data >> 24;
		u32 n = w->log.ev[i].data & 0xffffff;

		TEST_ASSERT(id < MAX_VCPUS, "write with bad vCPU id %u", id);
		TEST_ASSERT(n == next[id],
			    "vCPU %u: write %u seen where %u was due (lost, duplicated or reordered)",
			    id, n, next[id]);
		next[id]++;
		ring += w->log.ev[i].coalesced;
	}
	for (i = 0; i < MAX_VCPUS; i++)
		TEST_ASSERT(next[i] == w->written[i],
			    "vCPU %zu made %u writes, userspace saw %u",
			    i, w->written[i], next[i]);
	printf("# %zu writes from %d vCPUs: %zu via the ring, %u + %u exits\n",
	       w->log.n, MAX_VCPUS, ring, w->exits[0], w->exits[1]);
	free(w->log.ev);
}

TEST_F_TIMEOUT(coalesced_pio, several_vcpus, CASE_TIMEOUT_S)
{
	struct writer_arg args[MAX_VCPUS];
	pthread_t threads[MAX_VCPUS];
	struct writers w;
	int i;

	writers_start(&w, writer_guest_pio, 4000, threads, args);
	for (i = 0; i < MAX_VCPUS; i++)
		pthread_join(threads[i], NULL);
	writers_check(&w);
	kvm_vm_free(w.vm);
}

/* ---- 7. hostile userspace -------------------------------------------- */

TEST_F_TIMEOUT(coalesced_pio, hostile_indices, CASE_TIMEOUT_S)
{
	static const struct { const char *what; u32 first, last; bool both; } bad[] = {
		{ "last = 0xffffffff", 0, 0xffffffff, true },
		{ "last = max", 0, 0, true },	/* last set to max below */
		{ "first = 0xffffffff", 0xffffffff, 3, false },
		{ "first = max", 0, 3, false },	/* first set to max below */
		{ "first = last = 0x80000000", 0x80000000, 0x80000000, true },
	};
	struct vm_ctx c;
	char *before;
	size_t i;

	probe_start(&c);
	kvm_vm_register_coalesced_io(c.vm, PORT_PCI_ADDR, 4, true);
	before = malloc(getpagesize());

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		u32 first = bad[i].first, last = bad[i].last;
		bool exited;

		if (i == 1)
			last = c.max;
		if (i == 3)
			first = c.max;
		c.ring->first = first;
		c.ring->last = last;
		memcpy(before, c.ring, getpagesize());
		exited = pio_write_exits_nodrain(&c);
		if (exited) {
			TEST_ASSERT(!memcmp(before, c.ring, getpagesize()),
				    "%s: the write exited but KVM changed the ring page",
				    bad[i].what);
		} else if (newer || bad[i].both) {
			TEST_FAIL("%s: the write went to the ring, want an exit",
				  bad[i].what);
		} else {
			/* Table row "ring-bad-first": older kernels write at last. */
			TEST_ASSERT(c.ring->last == (last + 1) % c.max,
				    "%s: the write was coalesced but last is %u, want %u",
				    bad[i].what, c.ring->last, (last + 1) % c.max);
			printf("# %s: the older kernel wrote slot %u\n", bad[i].what, last);
		}
		/* Honest indices again: writes coalesce again. */
		c.ring->first = 7;
		c.ring->last = 7;
		TEST_ASSERT(!pio_write_exits(&c, PORT_PCI_ADDR, 4),
			    "after %s was undone, writes still exit", bad[i].what);
	}
	free(before);
	ctx_free(&c);
}

/* ---- 8. lifetime ----------------------------------------------------- */

static void pending_guest(void)
{
	int i;

	for (i = 0; i < 50; i++) {
		guest_out(0x100 + i, i, 1);
		guest_mmio_write(MMIO_GPA + i, i, 1);
	}
	GUEST_DONE();
}

/*
 * Slab memory the engine's zones take, measured where every base shows
 * it.  With /proc/slabinfo: the bytes in use in the caches that grew by
 * at least half a zone per zone while calibrate_zone_slab() registered
 * its zones (kmalloc-cg-64 with MEMCG, kmalloc-64 without; whichever it
 * is).  Without it (SLUB_TINY, as in tinyconfig):
 * SUnreclaim of /proc/meminfo, every CPU's pending counts folded first.
 */
#define SLAB_MAX_CACHES	1024
#define SLAB_MAX_ZONE_CACHES	4

struct slab_cache {
	char name[64];
	long active, objsize;
};

static struct slab_cache zone_caches[SLAB_MAX_ZONE_CACHES];
static int nr_zone_caches;
static bool have_slabinfo;

/* Every cache of /proc/slabinfo into @c; how many, or -1 without it. */
static int slabinfo_read(struct slab_cache *c, int max)
{
	FILE *f = fopen("/proc/slabinfo", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld %*d %ld", c[n].name, &c[n].active,
			   &c[n].objsize) != 3)
			continue;
		/* kmemleak's record of each allocation goes a grace period late. */
		if (!strcmp(c[n].name, "kmemleak_object"))
			continue;
		n++;
	}
	fclose(f);
	return n;
}

static long slab_bytes(void)
{
	static struct slab_cache c[SLAB_MAX_CACHES];
	long total = -1;
	char line[256];
	int n, i, j;
	FILE *f;

	if (have_slabinfo) {
		total = 0;
		n = slabinfo_read(c, SLAB_MAX_CACHES);
		for (i = 0; i < n; i++)
			for (j = 0; j < nr_zone_caches; j++)
				if (!strcmp(c[i].name, zone_caches[j].name))
					total += c[i].active * c[i].objsize;
		return total;
	}
	/* Fold the per-CPU vmstat deltas (root only; best effort). */
	f = fopen("/proc/sys/vm/stat_refresh", "w");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
	f = fopen("/proc/meminfo", "r");
	TEST_ASSERT(f, "no /proc/meminfo: %s", strerror(errno));
	while (total < 0 && fgets(line, sizeof(line), f))
		sscanf(line, "SUnreclaim: %ld kB", &total);
	fclose(f);
	TEST_ASSERT(total >= 0, "no SUnreclaim in /proc/meminfo");
	return total * 1024;
}

#define CAL_ZONES	800	/* per bus: below the 1000 devices a bus takes */

/*
 * Register CAL_ZONES PIO and CAL_ZONES MMIO zones in a VM and see what
 * they take; finds the caches slab_bytes() reads.  Returns the bytes per
 * zone, asserted to be at least half of a 64-byte object: a measure that
 * does not see the zones' allocations could never see them leak.
 */
static long calibrate_zone_slab(void)
{
	static struct slab_cache before[SLAB_MAX_CACHES], after[SLAB_MAX_CACHES];
	int n_before, n_after, i, j;
	long bytes0, bytes1;
	struct vm_ctx c;

	ctx_init(&c, pending_guest);
	n_before = slabinfo_read(before, SLAB_MAX_CACHES);
	bytes0 = slab_bytes();
	for (i = 0; i < CAL_ZONES; i++) {
		kvm_vm_register_coalesced_io(c.vm, 0x2000 + i, 1, true);
		kvm_vm_register_coalesced_io(c.vm, MMIO_GPA + 0x10000 + i, 1, false);
	}
	bytes1 = slab_bytes();
	n_after = slabinfo_read(after, SLAB_MAX_CACHES);
	ctx_free(&c);
	have_slabinfo = n_before > 0 && n_after > 0;
	if (have_slabinfo) {
		bytes0 = 0;
		bytes1 = 0;
		printf("# zones live in");
	} else {
		printf("# no /proc/slabinfo: zones measured in SUnreclaim\n");
	}
	/* A cache that grew by a zone's worth of objects per two zones. */
	for (i = 0; have_slabinfo && i < n_after; i++)
		for (j = 0; j < n_before; j++)
			if (!strcmp(after[i].name, before[j].name) &&
			    after[i].active - before[j].active >= CAL_ZONES &&
			    nr_zone_caches < SLAB_MAX_ZONE_CACHES) {
				zone_caches[nr_zone_caches++] = after[i];
				bytes0 += before[j].active * before[j].objsize;
				bytes1 += after[i].active * after[i].objsize;
				printf(" %s", after[i].name);
			}
	if (have_slabinfo)
		printf("\n");
	printf("# %d zones took %ld bytes of slab\n", 2 * CAL_ZONES, bytes1 - bytes0);
	TEST_ASSERT(bytes1 - bytes0 >= 2 * CAL_ZONES * 32,
		    "%d zones took %ld bytes of slab: the leak check would see no leak",
		    2 * CAL_ZONES, bytes1 - bytes0);
	return (bytes1 - bytes0) / (2 * CAL_ZONES);
}

#define LIFETIME_VMS	150
#define LIFETIME_ZONES	100

/* Destroy VMs with zones registered and ring entries pending. */
static void destroy_with_pending(void)
{
	long slab_before, slab_after, per_zone, leak;
	u32 exits;
	int vm_nr, i;

	per_zone = calibrate_zone_slab();
	slab_before = slab_bytes();
	for (vm_nr = 0; vm_nr < LIFETIME_VMS; vm_nr++) {
		struct vm_ctx c;
		struct ucall uc;

		ctx_init(&c, pending_guest);
		for (i = 0; i < LIFETIME_ZONES / 2; i++) {
			kvm_vm_register_coalesced_io(c.vm, 0x100 + i, 1, true);
			kvm_vm_register_coalesced_io(c.vm, MMIO_GPA + i, 1, false);
		}
		/*
		 * Older kernels compute the free space as (first - last - 1) %
		 * 170 in u32: with first = 0 it reports "full" at 85 entries
		 * and the rest exit. Count those exits as writes too.
		 */
		for (exits = 0;; exits++) {
			vcpu_run(c.vcpu);
			if (get_ucall(c.vcpu, &uc) == UCALL_DONE)
				break;
			TEST_ASSERT(!newer && exits < 100,
				    "pending_guest exit %s with %u entries in the ring",
				    exit_reason_str(c.vcpu->run->exit_reason),
				    c.ring->last);
		}
		TEST_ASSERT(c.ring->last + exits == 100,
			    "ring holds %u entries after %u exits, want 100 writes",
			    c.ring->last, exits);
		TEST_ASSERT(!exits || ring_full(0, c.ring->last, c.max),
			    "%u writes exited with %u entries in the ring, not full",
			    exits, c.ring->last);
		if (exits && vm_nr == 0)
			printf("# ring full at %u entries, %u writes exited\n",
			       c.ring->last, exits);
		ctx_free(&c);
	}
	slab_after = slab_bytes();
	leak = (long)LIFETIME_VMS * LIFETIME_ZONES * per_zone;
	printf("# %d VMs destroyed with %d zones and entries pending: %+ld bytes of slab\n",
	       LIFETIME_VMS, LIFETIME_ZONES, slab_after - slab_before);
	printf("# leaking their zones would add %ld\n", leak);
	/* Freed-later objects and per-CPU caches move it a little. */
	TEST_ASSERT(slab_after - slab_before < leak / 2,
		    "%ld more bytes of slab after %d VMs with %d zones each: zones leak",
		    slab_after - slab_before, LIFETIME_VMS, LIFETIME_ZONES);
}

/* Register and unregister zones while two vCPUs write through them. */
#define CHURN_WRITES	20000
#define CHURN_LIMIT_S	60

/* Where every thread of this process is, for a report of a stuck vCPU. */
#define DUMP_TASKS \
	"cd /proc/$PPID/task && for t in *; do echo \"# task $t: $(cut -d' ' -f3 $t/stat)\"; " \
	"sed 's/^/#   /' $t/stack; done"

static void churn_while_writing(void)
{
	struct writer_arg args[MAX_VCPUS];
	pthread_t threads[MAX_VCPUS];
	struct timespec t0, t;
	struct writers w;
	int cycles = 0, i;

	writers_start(&w, writer_guest_mixed, CHURN_WRITES, threads, args);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!READ_ONCE(w.done[0]) || !READ_ONCE(w.done[1])) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > CHURN_LIMIT_S * coalesced_timeout_scale()) {
			for (i = 0; i < MAX_VCPUS; i++)
				printf("# vCPU %d: done %d, %u exits, last exit %u\n",
				       i, w.done[i], w.exits[i],
				       w.vcpu[i]->run->exit_reason);
			fflush(stdout);
			system(DUMP_TASKS);
			TEST_FAIL("writers did not finish within %d s",
				  CHURN_LIMIT_S * coalesced_timeout_scale());
		}
		TEST_ASSERT(!zone_del(w.vm, PORT_PCI_ADDR, 4, KVM_COALESCED_ZONE_PIO),
			    "unregistering 0xcf8 failed");
		TEST_ASSERT(!zone_del(w.vm, MMIO_GPA, MMIO_ZONE_SIZE, 0),
			    "unregistering the MMIO zone failed");
		usleep(1000);
		kvm_vm_register_coalesced_io(w.vm, PORT_PCI_ADDR, 4, true);
		kvm_vm_register_coalesced_io(w.vm, MMIO_GPA, MMIO_ZONE_SIZE, false);
		usleep(1000);
		cycles++;
	}
	for (i = 0; i < MAX_VCPUS; i++)
		pthread_join(threads[i], NULL);
	printf("# %d register/unregister cycles while writing\n", cycles);
	writers_check(&w);
	kvm_vm_free(w.vm);
}

TEST_F_TIMEOUT(coalesced_pio, lifetime, CASE_TIMEOUT_S)
{
	struct vm_ctx anchor;

	/*
	 * Every vCPU takes a reference on KVM's apic_sw_disabled static key
	 * and drops it a second after the VM is gone; each 0 <-> 1 change
	 * patches kernel text, which can stall a machine that is itself
	 * emulated (nested KVM under QEMU's TCG) when it happens over and
	 * over.  One idle VM holds the key at 1.
	 */
	ctx_init(&anchor, pending_guest);
	destroy_with_pending();
	churn_while_writing();
	ctx_free(&anchor);
}

/* ---- 9. stats ------------------------------------------------------- */

TEST_F_TIMEOUT(coalesced_pio, stats, CASE_TIMEOUT_S)
{
	struct probe_outcome o;
	struct vm_ctx c;
	u32 i, n;

	if (!newer)
		SKIP(return, "COALESCED_KVM=older: no coalesced stats there");

	probe_start(&c);
	kvm_vm_register_coalesced_io(c.vm, PORT_RTC_INDEX, 1, true);
	kvm_vm_register_coalesced_io(c.vm, MMIO_GPA, MMIO_ZONE_SIZE, false);
	for (i = 0; i < 10; i++)
		do_probe(&c, PROBE_OUT, PORT_RTC_INDEX, 1, i, false);
	for (i = 0; i < 7; i++)
		do_probe(&c, PROBE_MMIO_WRITE, MMIO_GPA, 4, i, false);
	TEST_ASSERT(vcpu_get_stat(c.vcpu, coalesced_pio_writes) == 10 &&
		    vcpu_get_stat(c.vcpu, coalesced_mmio_writes) == 7,
		    "stats say %lu PIO and %lu MMIO coalesced writes, want 10 and 7",
		    vcpu_get_stat(c.vcpu, coalesced_pio_writes),
		    vcpu_get_stat(c.vcpu, coalesced_mmio_writes));

	/* Fill the ring: the write that does not fit is counted. */
	for (n = 17; n < c.max - 1; n++)
		do_probe(&c, PROBE_OUT, PORT_RTC_INDEX, 1, n, false);
	o = do_probe(&c, PROBE_OUT, PORT_RTC_INDEX, 1, 0, false);
	TEST_ASSERT(o.exits == 1 && vcpu_get_stat(c.vcpu, coalesced_ring_full_exits) == 1,
		    "write to a full ring: %d exits, stat %lu; want 1 and 1",
		    o.exits, vcpu_get_stat(c.vcpu, coalesced_ring_full_exits));
	c.ring->first = 0;
	c.ring->last = 0;
	c.ring->first = 0xffff;
	o = do_probe(&c, PROBE_OUT, PORT_RTC_INDEX, 1, 0, false);
	TEST_ASSERT(o.exits == 1 && vcpu_get_stat(c.vcpu, coalesced_bad_index_exits) == 1,
		    "write with a bad index: %d exits, stat %lu; want 1 and 1",
		    o.exits, vcpu_get_stat(c.vcpu, coalesced_bad_index_exits));
	c.ring->first = 0;
	ctx_free(&c);
}

/* ---- main ------------------------------------------------------------ */

/* ---- 10. string I/O -------------------------------------------------- */

#define REP_COUNT	400

/* One rep outs the host asks the guest to make. */
static struct {
	u16 port;
	u32 size;	/* 1, 2 or 4 */
	bool down;	/* with DF set, from the end of the buffer down */
} rep;

static u8 rep_buf[REP_COUNT * 4];

static void rep_guest(void)
{
	for (;;) {
		void *src;
		u64 n = REP_COUNT;

		GUEST_SYNC(0);
		src = rep_buf + (rep.down ? (REP_COUNT - 1) * rep.size : 0);
		if (rep.size == 1)
			asm volatile("cmpb $0, %3; je 1f; std; 1: rep outsb; cld"
				     : "+S"(src), "+c"(n) : "d"(rep.port), "m"(rep.down)
				     : "memory", "cc");
		else if (rep.size == 2)
			asm volatile("cmpb $0, %3; je 1f; std; 1: rep outsw; cld"
				     : "+S"(src), "+c"(n) : "d"(rep.port), "m"(rep.down)
				     : "memory", "cc");
		else
			asm volatile("cmpb $0, %3; je 1f; std; 1: rep outsl; cld"
				     : "+S"(src), "+c"(n) : "d"(rep.port), "m"(rep.down)
				     : "memory", "cc");
	}
}

/*
 * Run one rep outs; at each exit, drain @ring (@entries slots) first, as
 * a VMM must, then log the exit's elements.  Returns the exits.
 */
static u32 rep_run(struct vm_ctx *c, struct kvm_coalesced_mmio_ring *ring,
		   u32 entries, struct io_log *log)
{
	struct kvm_run *run = c->vcpu->run;
	u32 exits = 0, i;

	while (!run_until_sync_or_exit(c->vcpu)) {
		u8 *data = (u8 *)run + run->io.data_offset;

		TEST_ASSERT(run->exit_reason == KVM_EXIT_IO &&
			    run->io.direction == KVM_EXIT_IO_OUT,
			    "unexpected exit %u (%s)", run->exit_reason,
			    exit_reason_str(run->exit_reason));
		coalesced_ring_drain_n(ring, entries, log_entry, log);
		for (i = 0; i < run->io.count; i++) {
			struct io_event ev = {
				.addr = run->io.port, .len = run->io.size, .pio = true,
			};

			memcpy(&ev.data, data + i * run->io.size, run->io.size);
			log_add(log, ev);
		}
		exits++;
	}
	coalesced_ring_drain_n(ring, entries, log_entry, log);
	return exits;
}

/*
 * Have the guest make REP_COUNT @size-byte outs to @port; every element
 * must reach userspace once, in the order executed, from the ring or as
 * an exit.  Returns the elements that went to the ring.
 */
static u32 rep_check(struct vm_ctx *c, struct kvm_coalesced_mmio_ring *ring,
		     u32 entries, u16 port, u32 size, bool down)
{
	typeof(rep) *r = addr_gva2hva(c->vm, (gva_t)&rep);
	u8 *buf = addr_gva2hva(c->vm, (gva_t)rep_buf);
	struct io_log log = { 0 };
	u32 exits, coalesced = 0, i;

	for (i = 0; i < sizeof(rep_buf); i++)
		buf[i] = i * 37 + 11;
	r->port = port;
	r->size = size;
	r->down = down;
	exits = rep_run(c, ring, entries, &log);
	TEST_ASSERT(log.n == REP_COUNT, "rep outs%c to 0x%x%s: %zu elements, want %u",
		    "bw?l"[size - 1], port, down ? " (DF=1)" : "", log.n, REP_COUNT);
	for (i = 0; i < REP_COUNT; i++) {
		u32 e = down ? REP_COUNT - 1 - i : i;
		u64 want = 0;

		memcpy(&want, buf + e * size, size);
		TEST_ASSERT(log.ev[i].addr == port && log.ev[i].len == size &&
			    log.ev[i].data == want,
			    "rep outs to 0x%x: element %u is 0x%lx (%u bytes at 0x%lx%s), want 0x%lx",
			    port, i, log.ev[i].data, log.ev[i].len, log.ev[i].addr,
			    log.ev[i].coalesced ? ", coalesced" : "", want);
		coalesced += log.ev[i].coalesced;
	}
	printf("# rep outs%c to 0x%x%s: %u elements coalesced, %u exits\n",
	       "bw?l"[size - 1], port, down ? " (DF=1)" : "", coalesced, exits);
	free(log.ev);
	return coalesced;
}

TEST_F_TIMEOUT(coalesced_pio, rep_outs, CASE_TIMEOUT_S)
{
	struct vm_ctx c;
	u32 n;

	ctx_init(&c, rep_guest);
	run_to_sync(&c, NULL);
	kvm_vm_register_coalesced_io(c.vm, PORT_RTC_INDEX, 1, true);
	kvm_vm_register_coalesced_io(c.vm, PORT_PCI_ADDR, 4, true);

	/*
	 * KVM emulates rep outs one element at a time: each element is a
	 * write of its own, coalesced while the ring has room, an exit when
	 * it is full (then we drain), so both happen, in order.
	 */
	n = rep_check(&c, c.ring, c.max, PORT_RTC_INDEX, 1, false);
	TEST_ASSERT(n > 0 && n < REP_COUNT,
		    "rep outsb to a 1-byte zone: %u of %u coalesced, want some", n, REP_COUNT);
	n = rep_check(&c, c.ring, c.max, PORT_RTC_INDEX, 1, true);
	TEST_ASSERT(n > 0 && n < REP_COUNT,
		    "rep outsb with DF=1: %u of %u coalesced, want some", n, REP_COUNT);
	n = rep_check(&c, c.ring, c.max, PORT_PCI_ADDR, 4, false);
	TEST_ASSERT(n > 0 && n < REP_COUNT,
		    "rep outsl to a 4-byte zone: %u of %u coalesced, want some", n, REP_COUNT);
	/* Elements wider than the zone straddle its end: all exit. */
	n = rep_check(&c, c.ring, c.max, PORT_RTC_INDEX, 2, false);
	TEST_ASSERT(n == 0, "rep outsw to a 1-byte zone: %u coalesced, want 0", n);

	ctx_free(&c);
}

int main(int argc, char *argv[])
{
	setbuf(stdout, NULL);
	newer = coalesced_kvm_expect_newer();
	printf("# kvm.ko: %s\n", newer ? "newer, with the coalesced I/O stats" :
	       "older, without the coalesced I/O stats");
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_COALESCED_MMIO));
	return test_harness_run(argc, argv);
}
