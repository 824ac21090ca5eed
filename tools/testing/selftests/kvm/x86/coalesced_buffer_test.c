// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dedicated coalesced rings (KVM_CAP_COALESCED_MMIO2): buffer fds, their
 * mmap() and poll(), zones bound to them, ordering, a full ring that
 * makes only its own zones exit, draining from an I/O thread while the
 * vCPU runs, closing the fd while the guest writes, and VM destruction
 * with a buffer open.  On kernels without them, checks only that all
 * three ioctls fail with ENOTTY.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* mremap() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "coalesced_ring.h"
#include "coalesced_guest.h"
#include "kselftest_harness.h"

#define PORT_A		0xcf8	/* 4-byte zones */
#define PORT_B		0xcfc
#define PORT_LEGACY	0x70
#define PORT_PLAIN	0x80	/* never in a zone: always exits */
#define MMIO_GPA	0xc0000000ULL
#define MMIO_ZONE_SIZE	0x100

#define PARAM_DISABLE_PIO "/sys/module/kvm/parameters/disable_coalesced_pio"

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
				guest_out(t->addr, i, 4);
			else
				guest_mmio_write(t->addr, i, 4);
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

static void seen_entry(const struct kvm_coalesced_mmio *e, void *arg)
{
	u32 data = 0;

	TEST_ASSERT(e->len == 4, "entry for 0x%llx has length %u, want 4",
		    e->phys_addr, e->len);
	memcpy(&data, e->data, 4);
	seen_push(arg, e->phys_addr, data, e->pio & KVM_COALESCED_ZONE_PIO);
}

struct ctx {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	struct kvm_coalesced_mmio_ring *legacy;
	/* Called at each I/O or MMIO write exit, after it is in @exits. */
	void (*on_exit)(struct ctx *c);
	struct seen_list exits;
	struct coalesced_buffer *bufs[2];	/* drained by check_at_exit */
	struct seen_list drained;
};

/* Run the guest to its next GUEST_SYNC, logging write exits. */
static void run_to_sync(struct ctx *c)
{
	struct kvm_run *run = c->vcpu->run;
	u32 data = 0;

	while (!run_until_sync_or_exit(c->vcpu)) {
		if (run->exit_reason == KVM_EXIT_IO &&
		    run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4) {
			memcpy(&data, (void *)run + run->io.data_offset, 4);
			seen_push(&c->exits, run->io.port, data, true);
		} else if (run->exit_reason == KVM_EXIT_MMIO &&
			   run->mmio.is_write && run->mmio.len == 4) {
			memcpy(&data, run->mmio.data, 4);
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

/* Make @count writes over @targets and run the guest until it is done. */
static void run_burst(struct ctx *c, u32 count,
		      const struct target *targets, u32 nr_targets)
{
	typeof(burst) *b = addr_gva2hva(c->vm, (gva_t)&burst);

	TEST_ASSERT(nr_targets && nr_targets <= MAX_TARGETS, "bad target list");
	b->count = count;
	b->nr_targets = nr_targets;
	memcpy(b->target, targets, nr_targets * sizeof(*targets));
	run_to_sync(c);
}

static struct coalesced_buffer buffer_new_wake(struct ctx *c, u32 pages,
					       u32 wake_entries)
{
	struct coalesced_buffer buf;

	TEST_ASSERT(!coalesced_buffer_create(&buf, c->vm->fd, pages, wake_entries),
		    "creating and mapping a %u-page buffer (wake at %u) failed: %s",
		    pages, wake_entries, strerror(errno));
	return buf;
}

static struct coalesced_buffer buffer_new(struct ctx *c, u32 pages)
{
	return buffer_new_wake(c, pages, 0);
}

static int zone2(struct ctx *c, const struct coalesced_buffer *buf,
		 unsigned long nr, u64 addr, u32 size, u32 flags)
{
	return coalesced_buffer_zone(buf, c->vm->fd, nr, addr, size, flags) ?
	       -errno : 0;
}

static void bind_ok(struct ctx *c, const struct coalesced_buffer *buf,
		    u64 addr, u32 size, u32 flags)
{
	int r = zone2(c, buf, KVM_REGISTER_COALESCED_MMIO2, addr, size, flags);

	TEST_ASSERT(!r, "binding zone 0x%lx+%u (flags %u) to buffer fd %d: %s",
		    addr, size, flags, buf->fd, strerror(-r));
}

static void legacy_zone_ok(struct ctx *c, u64 addr, u32 size,
			   u32 flags)
{
	kvm_vm_register_coalesced_io(c->vm, addr, size,
				     flags & KVM_COALESCED_ZONE_PIO);
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

/* The value of "<key>:\t<n>" in the buffer fd's fdinfo. */
static u64 fdinfo_get(int fd, const char *key)
{
	char path[64], line[128];
	u64 val = UINT64_MAX;
	size_t len = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	TEST_ASSERT(f, "cannot open %s", path);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			val = strtoull(line + len + 1, NULL, 0);
	fclose(f);
	TEST_ASSERT(val != UINT64_MAX, "no '%s' in %s", key, path);
	return val;
}

/* ---- 1. buffer creation and mmap ------------------------------------- */

static int create_errno(struct ctx *c, u32 pages, u32 flags,
			u32 wake_entries)
{
	struct kvm_coalesced_mmio_buffer req = {
		.pages = pages, .flags = flags, .wake_entries = wake_entries,
	};
	int fd = ioctl(c->vm->fd, KVM_CREATE_COALESCED_MMIO_BUFFER, &req);

	if (fd >= 0)
		close(fd);
	return fd >= 0 ? 0 : errno;
}

/* mmap() @pages pages of the buffer at @offset pages: 0 or the errno. */
static int mmap_errno(int fd, u32 pages, int flags, u32 offset)
{
	size_t page = getpagesize();
	void *p = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, flags, fd,
		       offset * page);

	if (p == MAP_FAILED)
		return errno;
	munmap(p, pages * page);
	return 0;
}

/* KVM_CAP_COALESCED_MMIO2: the largest ring in pages, 0 without it. */
static u32 max_pages;

/*
 * Each case makes a VM of its own; the fixtures only sort the cases by
 * what they need: dedicated rings (coalesced_buffer), or a kvm.ko without
 * them (coalesced_buffer_stock).  Each case skips itself first thing when
 * the kvm.ko is the other kind (in its body: 6.1's kselftest_harness runs
 * the body after a SKIP() in FIXTURE_SETUP).  A debug kernel is four times
 * slower.
 */
FIXTURE(coalesced_buffer) {};
FIXTURE_SETUP(coalesced_buffer) {}
FIXTURE_TEARDOWN(coalesced_buffer) {}

FIXTURE(coalesced_buffer_stock) {};
FIXTURE_SETUP(coalesced_buffer_stock) {}
FIXTURE_TEARDOWN(coalesced_buffer_stock) {}

#define CASE_TIMEOUT_S	480

TEST_F_TIMEOUT(coalesced_buffer, create_and_mmap, CASE_TIMEOUT_S)
{
	size_t page = getpagesize();
	struct coalesced_buffer buf;
	u32 max;
	struct ctx c;
	void *p;

	if (!max_pages)
		SKIP(return, "no KVM_CAP_COALESCED_MMIO2");

	ctx_init(&c);
	max = coalesced_buffer_max_pages(c.vm->fd);
	TEST_ASSERT(max == KVM_COALESCED_MMIO_BUFFER_MAX_PAGES,
		    "KVM_CAP_COALESCED_MMIO2 is %u, want %u", max,
		    KVM_COALESCED_MMIO_BUFFER_MAX_PAGES);
	TEST_ASSERT(create_errno(&c, 0, 0, 0) == EINVAL &&
		    create_errno(&c, 3, 0, 0) == EINVAL &&
		    create_errno(&c, max * 2, 0, 0) == EINVAL &&
		    create_errno(&c, 1, 1, 0) == EINVAL &&
		    create_errno(&c, 1, 0, coalesced_ring_max()) == EINVAL,
		    "a buffer of 0, 3 or %u pages, with flags, or waking at more entries than it holds must get EINVAL",
		    max * 2);
	TEST_ASSERT(create_errno(&c, 1, 0, coalesced_ring_max() - 1) == 0,
		    "a 1-page buffer waking when full (%u entries) failed",
		    coalesced_ring_max() - 1);

	buf = buffer_new(&c, 1);
	TEST_ASSERT(buf.entries == coalesced_ring_max(),
		    "a 1-page buffer has %u entries, the legacy ring %u",
		    buf.entries, coalesced_ring_max());
	coalesced_buffer_destroy(&buf);
	buf = buffer_new(&c, max);
	TEST_ASSERT(buf.entries == KVM_COALESCED_MMIO_RING_ENTRIES(max * page),
		    "a %u-page buffer has %u entries", max, buf.entries);
	coalesced_buffer_destroy(&buf);

	buf = buffer_new(&c, 4);
	TEST_ASSERT(fdinfo_get(buf.fd, "pages") == 4 &&
		    fdinfo_get(buf.fd, "ring_entries") == buf.entries,
		    "fdinfo of a 4-page buffer says %lu pages, %lu entries",
		    fdinfo_get(buf.fd, "pages"), fdinfo_get(buf.fd, "ring_entries"));
	TEST_ASSERT(mmap_errno(buf.fd, 3, MAP_SHARED, 0) == EINVAL &&
		    mmap_errno(buf.fd, 5, MAP_SHARED, 0) == EINVAL,
		    "mapping 3 or 5 pages of a 4-page ring must fail with EINVAL");
	TEST_ASSERT(mmap_errno(buf.fd, 4, MAP_SHARED, 1) == EINVAL,
		    "mapping at an offset of 1 page must fail with EINVAL");
	TEST_ASSERT(mmap_errno(buf.fd, 4, MAP_PRIVATE, 0) == EINVAL,
		    "a private mapping must fail with EINVAL");
	TEST_ASSERT(mmap_errno(buf.fd, 4, MAP_SHARED, 0) == 0,
		    "a second shared mapping of the whole ring failed");
	p = mremap(buf.ring, 4 * page, 8 * page, MREMAP_MAYMOVE);
	TEST_ASSERT(p == MAP_FAILED, "growing the ring's mapping with mremap() must fail");
	TEST_ASSERT(coalesced_buffer_wait(&buf, 0) == 0,
		    "poll() reports an empty ring readable");
	coalesced_buffer_destroy(&buf);
	ctx_free(&c);
}

/* ---- 2. zone errors -------------------------------------------------- */

static void write_param(const char *val)
{
	int fd = open(PARAM_DISABLE_PIO, O_WRONLY);

	TEST_ASSERT(fd >= 0 && write(fd, val, 1) == 1,
		    "cannot write %s to %s", val, PARAM_DISABLE_PIO);
	close(fd);
}

TEST_F_TIMEOUT(coalesced_buffer, zone_errors, CASE_TIMEOUT_S)
{
	struct coalesced_buffer buf, other_buf, fake;
	struct kvm_coalesced_mmio_zone2 padded;
	struct ctx c, other;

	if (!max_pages)
		SKIP(return, "no KVM_CAP_COALESCED_MMIO2");

	ctx_init(&c);
	ctx_init(&other);
	buf = buffer_new(&c, 1);
	other_buf = buffer_new(&other, 1);
	fake = buf;

	fake.fd = 9999;
	TEST_ASSERT(zone2(&c, &fake, KVM_REGISTER_COALESCED_MMIO2, PORT_A, 4,
			  KVM_COALESCED_ZONE_PIO) == -EBADF,
		    "a buffer fd that is not open must get EBADF");
	fake.fd = c.vm->fd;
	TEST_ASSERT(zone2(&c, &fake, KVM_REGISTER_COALESCED_MMIO2, PORT_A, 4,
			  KVM_COALESCED_ZONE_PIO) == -EINVAL,
		    "an fd that is not a buffer (the VM's) must get EINVAL");
	TEST_ASSERT(zone2(&c, &other_buf, KVM_REGISTER_COALESCED_MMIO2, PORT_A, 4,
			  KVM_COALESCED_ZONE_PIO) == -EINVAL,
		    "another VM's buffer must get EINVAL");
	TEST_ASSERT(zone2(&c, &buf, KVM_REGISTER_COALESCED_MMIO2, PORT_A, 0,
			  KVM_COALESCED_ZONE_PIO) == -EINVAL &&
		    zone2(&c, &buf, KVM_REGISTER_COALESCED_MMIO2, 0xfffe, 4,
			  KVM_COALESCED_ZONE_PIO) == -EINVAL &&
		    zone2(&c, &buf, KVM_REGISTER_COALESCED_MMIO2, PORT_A, 4, 4) == -EINVAL &&
		    zone2(&c, &buf, KVM_REGISTER_COALESCED_MMIO2, ~0ULL, 2, 0) == -EINVAL,
		    "size 0, ports past 0xffff, unknown flags and wrap-around must get EINVAL");
	padded = (struct kvm_coalesced_mmio_zone2){
		.addr = PORT_A, .size = 4, .pio = KVM_COALESCED_ZONE_PIO,
		.buffer_fd = buf.fd, .pad = 1,
	};
	TEST_ASSERT(ioctl(c.vm->fd, KVM_REGISTER_COALESCED_MMIO2, &padded) && errno == EINVAL,
		    "a zone with pad set must get EINVAL");

	legacy_zone_ok(&c, PORT_LEGACY, 4, KVM_COALESCED_ZONE_PIO);
	TEST_ASSERT(zone2(&c, &buf, KVM_REGISTER_COALESCED_MMIO2, PORT_LEGACY, 4,
			  KVM_COALESCED_ZONE_PIO) == -EEXIST,
		    "the legacy ring's zone again, on a buffer, must get EEXIST");
	bind_ok(&c, &buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	TEST_ASSERT(zone2(&c, &buf, KVM_REGISTER_COALESCED_MMIO2, PORT_A, 4,
			  KVM_COALESCED_ZONE_PIO) == -EEXIST,
		    "the same zone twice must get EEXIST");
	bind_ok(&c, &buf, PORT_A, 8, KVM_COALESCED_ZONE_PIO);	/* overlap: fine */
	fake.fd = 9999;
	TEST_ASSERT(zone2(&c, &fake, KVM_UNREGISTER_COALESCED_MMIO2, PORT_A, 4,
			  KVM_COALESCED_ZONE_PIO) == -EBADF,
		    "unregistering with a closed buffer fd must get EBADF");
	TEST_ASSERT(fdinfo_get(buf.fd, "zones") == 2, "fdinfo: %lu zones, want 2",
		    fdinfo_get(buf.fd, "zones"));

	if (!access(PARAM_DISABLE_PIO, F_OK)) {
		write_param("1");
		TEST_ASSERT(zone2(&c, &buf, KVM_REGISTER_COALESCED_MMIO2, PORT_B, 4,
				  KVM_COALESCED_ZONE_PIO) == -EOPNOTSUPP,
			    "with disable_coalesced_pio=1 a port zone must get EOPNOTSUPP");
		write_param("0");
	}
	coalesced_buffer_destroy(&buf);
	coalesced_buffer_destroy(&other_buf);
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

	/* Targets: A (buffer 0), legacy, MMIO (buffer 1), plain (exits). */
	coalesced_buffer_drain(c->bufs[0], seen_entry, &c->drained);
	coalesced_ring_drain(c->legacy, seen_entry, &c->drained);
	coalesced_buffer_drain(c->bufs[1], seen_entry, &c->drained);
	TEST_ASSERT(ex->addr == PORT_PLAIN && c->drained.n - before == 3,
		    "exit for write %u to 0x%lx: %u entries in the rings, want 3",
		    ex->data, ex->addr, c->drained.n - before);
	for (i = 0; i < 3; i++)
		TEST_ASSERT(c->drained.v[before + i].data == ex->data - 3 + i,
			    "exit for write %u: ring entry %u is write %u",
			    ex->data, i, c->drained.v[before + i].data);
}

TEST_F_TIMEOUT(coalesced_buffer, burst_and_exits, CASE_TIMEOUT_S)
{
	const struct target mixed[] = {
		{ PORT_A, true }, { MMIO_GPA, false },
	};
	const struct target four[] = {
		{ PORT_A, true }, { PORT_LEGACY, true }, { MMIO_GPA + 8, false },
		{ PORT_PLAIN, true },
	};
	struct coalesced_buffer buf, mmio_buf;
	struct seen_list ring = { 0 };
	u32 i;
	struct ctx c;

	if (!max_pages)
		SKIP(return, "no KVM_CAP_COALESCED_MMIO2");

	ctx_init(&c);
	buf = buffer_new(&c, coalesced_buffer_pages_for(BIG_BURST,
							KVM_COALESCED_MMIO_BUFFER_MAX_PAGES));
	bind_ok(&c, &buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	bind_ok(&c, &buf, MMIO_GPA, 4, 0);

	run_burst(&c, BIG_BURST, mixed, 2);
	TEST_ASSERT(c.exits.n == 0, "the %u-write burst made %u exits, want 0",
		    BIG_BURST, c.exits.n);
	coalesced_buffer_drain(&buf, seen_entry, &ring);
	TEST_ASSERT(ring.n == BIG_BURST, "%u of %u writes in the %u-page ring",
		    ring.n, BIG_BURST, buf.pages);
	for (i = 0; i < BIG_BURST; i++)
		TEST_ASSERT(ring.v[i].data == i && ring.v[i].pio == !(i & 1) &&
			    ring.v[i].addr == mixed[i & 1].addr,
			    "entry %u is write %u to 0x%lx (pio %d)", i,
			    ring.v[i].data, ring.v[i].addr, ring.v[i].pio);
	TEST_ASSERT(fdinfo_get(buf.fd, "writes") == BIG_BURST &&
		    vcpu_get_stat(c.vcpu, coalesced_pio_writes) == BIG_BURST / 2 &&
		    vcpu_get_stat(c.vcpu, coalesced_mmio_writes) == BIG_BURST / 2,
		    "counters: buffer %lu writes, VM %lu PIO and %lu MMIO",
		    fdinfo_get(buf.fd, "writes"),
		    vcpu_get_stat(c.vcpu, coalesced_pio_writes),
		    vcpu_get_stat(c.vcpu, coalesced_mmio_writes));
	TEST_ASSERT(c.legacy->first == c.legacy->last, "the legacy ring got entries");

	/* Two buffers, the legacy ring and an exit every fourth write. */
	mmio_buf = buffer_new(&c, 1);
	bind_ok(&c, &mmio_buf, MMIO_GPA + 8, 4, 0);
	legacy_zone_ok(&c, PORT_LEGACY, 4, KVM_COALESCED_ZONE_PIO);
	c.bufs[0] = &buf;
	c.bufs[1] = &mmio_buf;
	c.on_exit = check_at_exit;
	run_burst(&c, 400, four, 4);
	TEST_ASSERT(c.exits.n == 100 && c.drained.n == 300,
		    "400 writes: %u exits and %u ring entries, want 100 and 300",
		    c.exits.n, c.drained.n);

	free(ring.v);
	coalesced_buffer_destroy(&mmio_buf);
	coalesced_buffer_destroy(&buf);
	ctx_free(&c);
}

/*
 * KVM_COALESCED_ZONE_BY_START on a dedicated ring: 1-byte zones take the
 * burst's aligned 4-byte writes whole; without the flag all of them exit.
 */
#define BY_START_BURST	1000

TEST_F_TIMEOUT(coalesced_buffer, by_start, CASE_TIMEOUT_S)
{
	const struct target mixed[] = {
		{ PORT_A, true }, { MMIO_GPA, false },
	};
	struct coalesced_buffer buf;
	struct seen_list ring = { 0 };
	u32 flag, i;
	struct ctx c;

	if (!max_pages)
		SKIP(return, "no KVM_CAP_COALESCED_MMIO2");

	for (flag = 0; flag <= KVM_COALESCED_ZONE_BY_START;
	     flag += KVM_COALESCED_ZONE_BY_START) {
		ctx_init(&c);
		buf = buffer_new(&c, coalesced_buffer_pages_for(BY_START_BURST, max_pages));
		bind_ok(&c, &buf, PORT_A, 1, KVM_COALESCED_ZONE_PIO | flag);
		bind_ok(&c, &buf, MMIO_GPA, 1, flag);
		run_burst(&c, BY_START_BURST, mixed, 2);
		ring.n = 0;
		coalesced_buffer_drain(&buf, seen_entry, &ring);
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
		coalesced_buffer_destroy(&buf);
		ctx_free(&c);
	}
	free(ring.v);
}

/* ---- 4. a full buffer makes only its own zones exit ------------------ */

TEST_F_TIMEOUT(coalesced_buffer, full_buffer_isolated, CASE_TIMEOUT_S)
{
	/* 400 writes to A, 100 to B, 100 to the legacy ring. */
	const struct target targets[] = {
		{ PORT_A, true }, { PORT_A, true }, { PORT_B, true },
		{ PORT_A, true }, { PORT_LEGACY, true }, { PORT_A, true },
	};
	struct seen_list a = { 0 }, b = { 0 }, legacy = { 0 };
	struct coalesced_buffer buf_a, buf_b;
	u32 cap, i;
	struct ctx c;

	if (!max_pages)
		SKIP(return, "no KVM_CAP_COALESCED_MMIO2");

	ctx_init(&c);
	buf_a = buffer_new(&c, 1);
	buf_b = buffer_new(&c, 1);
	cap = buf_a.entries - 1;
	bind_ok(&c, &buf_a, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	bind_ok(&c, &buf_b, PORT_B, 4, KVM_COALESCED_ZONE_PIO);
	legacy_zone_ok(&c, PORT_LEGACY, 4, KVM_COALESCED_ZONE_PIO);

	run_burst(&c, 600, targets, 6);
	coalesced_buffer_drain(&buf_a, seen_entry, &a);
	coalesced_buffer_drain(&buf_b, seen_entry, &b);
	coalesced_ring_drain(c.legacy, seen_entry, &legacy);

	TEST_ASSERT(a.n == cap && c.exits.n == 400 - cap,
		    "A (1 page, %u free slots) got %u entries and %u exits of 400 writes",
		    cap, a.n, c.exits.n);
	for (i = 0; i < c.exits.n; i++)
		TEST_ASSERT(c.exits.v[i].addr == PORT_A,
			    "exit %u is for port 0x%lx: only the full buffer's zone may exit",
			    i, c.exits.v[i].addr);
	TEST_ASSERT(b.n == 100 && legacy.n == 100,
		    "B and the legacy ring got %u and %u of 100 writes each", b.n, legacy.n);
	TEST_ASSERT(fdinfo_get(buf_a.fd, "ring_full_exits") == 400 - cap &&
		    fdinfo_get(buf_b.fd, "ring_full_exits") == 0 &&
		    vcpu_get_stat(c.vcpu, coalesced_ring_full_exits) == 400 - cap,
		    "ring-full counters: A %lu, B %lu, VM %lu; want %u, 0, %u",
		    fdinfo_get(buf_a.fd, "ring_full_exits"),
		    fdinfo_get(buf_b.fd, "ring_full_exits"),
		    vcpu_get_stat(c.vcpu, coalesced_ring_full_exits),
		    400 - cap, 400 - cap);

	free(a.v);
	free(b.v);
	free(legacy.v);
	coalesced_buffer_destroy(&buf_a);
	coalesced_buffer_destroy(&buf_b);
	ctx_free(&c);
}

/* ---- 5. an I/O thread drains with poll() while the vCPU runs --------- */

#define POLL_BURST	30000
#define POLL_WAKE	1024	/* the batched drainer's wake_entries */

struct drainer {
	struct coalesced_buffer *buf;
	struct seen_list got;
	u32 wakeups;
};

/*
 * Sleep in poll() and drain, until every write is in.  A timeout drains
 * too: with a wake threshold, the last writes of a burst wake no one.
 */
static void *drain_thread(void *arg)
{
	struct drainer *d = arg;
	u32 idle = 0;

	while (d->got.n < POLL_BURST) {
		int r = coalesced_buffer_wait(d->buf, 100);

		TEST_ASSERT(r >= 0, "poll() on the buffer: %s", strerror(errno));
		d->wakeups += r;
		if (coalesced_buffer_drain(d->buf, seen_entry, &d->got))
			idle = 0;
		else
			TEST_ASSERT(++idle < 100U * coalesced_timeout_scale(),
				    "no entry for 10 s after %u of %u", d->got.n, POLL_BURST);
	}
	return NULL;
}

/* @wake_entries 0: wake per write; more: per that many. */
static void poll_drain(u32 wake_entries)
{
	const struct target a = { PORT_A, true };
	struct coalesced_buffer buf;
	struct drainer d = { 0 };
	pthread_t thread;
	struct ctx c;

	ctx_init(&c);
	buf = buffer_new_wake(&c, 64, wake_entries);
	bind_ok(&c, &buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	d.buf = &buf;
	pthread_create(&thread, NULL, drain_thread, &d);

	run_burst(&c, POLL_BURST, &a, 1);
	pthread_join(thread, NULL);
	TEST_ASSERT(c.exits.n == 0,
		    "%u writes through a %u-entry ring drained by a thread: %u exits, want 0",
		    POLL_BURST, buf.entries, c.exits.n);
	expect_writes("drained by the I/O thread", &d.got, 0, POLL_BURST, PORT_A, 0, 1);
	printf("# %u writes, %u-entry ring waking at %u: %u poll() wakeups, 0 exits\n",
	       POLL_BURST, buf.entries, wake_entries, d.wakeups);
	if (wake_entries > 1)
		TEST_ASSERT(d.wakeups <= POLL_BURST / wake_entries + 1,
			    "%u wakeups for %u writes waking at %u entries",
			    d.wakeups, POLL_BURST, wake_entries);

	free(d.got.v);
	coalesced_buffer_destroy(&buf);
	ctx_free(&c);
}

TEST_F_TIMEOUT(coalesced_buffer, poll_drain, CASE_TIMEOUT_S)
{
	const struct target a = { PORT_A, true };
	struct coalesced_buffer buf;
	struct ctx c;

	if (!max_pages)
		SKIP(return, "no KVM_CAP_COALESCED_MMIO2");

	/* The threshold itself: not readable at 99 entries, readable at 100. */
	ctx_init(&c);
	buf = buffer_new_wake(&c, 1, 100);
	TEST_ASSERT(fdinfo_get(buf.fd, "wake_entries") == 100, "fdinfo: wake_entries %lu",
		    fdinfo_get(buf.fd, "wake_entries"));
	bind_ok(&c, &buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	run_burst(&c, 99, &a, 1);
	TEST_ASSERT(coalesced_buffer_wait(&buf, 0) == 0,
		    "readable at 99 entries, waking at 100");
	run_burst(&c, 1, &a, 1);
	TEST_ASSERT(coalesced_buffer_wait(&buf, 0) == 1,
		    "not readable at 100 entries, waking at 100");
	buf.ring->first = buf.entries + 5;	/* out of range: look at it */
	TEST_ASSERT(coalesced_buffer_wait(&buf, 0) == 1,
		    "not readable with ring->first out of range");
	coalesced_buffer_destroy(&buf);
	ctx_free(&c);

	poll_drain(0);
	poll_drain(POLL_WAKE);
}

/* ---- 6. closing the buffer while the guest writes -------------------- */

#define CLOSE_BURST	40000

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

TEST_F_TIMEOUT(coalesced_buffer, close_while_writing, CASE_TIMEOUT_S)
{
	const struct target b = { PORT_B, true };
	struct coalesced_buffer buf, again;
	struct seen_list got = { 0 };
	pthread_t thread;
	u32 i, first;
	struct writer w;
	struct ctx c;

	if (!max_pages)
		SKIP(return, "no KVM_CAP_COALESCED_MMIO2");

	ctx_init(&c);
	buf = buffer_new(&c, 64);
	bind_ok(&c, &buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	w = (struct writer){ .c = &c, .count = CLOSE_BURST };
	pthread_create(&thread, NULL, vcpu_thread, &w);

	/* Let some writes land, then pull the buffer from under the guest. */
	TEST_ASSERT(coalesced_buffer_wait(&buf, 10000 * coalesced_timeout_scale()) == 1,
		    "no write reached the buffer");
	coalesced_buffer_drain(&buf, seen_entry, &got);
	coalesced_buffer_destroy(&buf);
	pthread_join(thread, NULL);

	expect_writes("drained before the close", &got, 0, got.n, PORT_A, 0, 1);
	TEST_ASSERT(c.exits.n > 0, "no write exited after the buffer was closed");
	/* After the close every write exits: the last ones, in order. */
	first = CLOSE_BURST - c.exits.n;
	expect_writes("exits after the close", &c.exits, 0, c.exits.n, PORT_A, first, 1);
	printf("# %u writes: %u drained, %u lost with the unmapped ring, %u exits\n",
	       CLOSE_BURST, got.n, first - got.n, c.exits.n);

	/* The VM goes on: a new buffer works as the first did. */
	c.exits.n = 0;
	got.n = 0;
	again = buffer_new(&c, 1);
	bind_ok(&c, &again, PORT_B, 4, KVM_COALESCED_ZONE_PIO);
	run_burst(&c, 100, &b, 1);
	coalesced_buffer_drain(&again, seen_entry, &got);
	expect_writes("a new buffer after the close", &got, 0, 100, PORT_B, 0, 1);
	TEST_ASSERT(c.exits.n == 0, "%u exits with the new buffer", c.exits.n);
	for (i = 0; i < 3; i++)	/* closing twice is harmless */
		coalesced_buffer_destroy(&again);

	free(got.v);
	ctx_free(&c);
}

/* ---- 7. buffers coming and going while the guest writes ------------ */

#define CHURN_BURST	60000

/*
 * Create a buffer, bind the guest's port to it, let writes land,
 * unregister (after which no write can reach the ring), drain, close;
 * again and again while the vCPU writes.  Every write must reach
 * userspace exactly once: in one of the rings, or as an exit.
 */
TEST_F_TIMEOUT(coalesced_buffer, churn_while_writing, CASE_TIMEOUT_S)
{
	struct seen_list got = { 0 };
	u32 rounds = 0, i, from;
	struct coalesced_buffer buf;
	u8 *count;
	pthread_t thread;
	struct writer w;
	struct ctx c;

	if (!max_pages)
		SKIP(return, "no KVM_CAP_COALESCED_MMIO2");

	ctx_init(&c);
	w = (struct writer){ .c = &c, .count = CHURN_BURST };
	pthread_create(&thread, NULL, vcpu_thread, &w);
	while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
		buf = buffer_new(&c, 1u << (rounds % 4));
		bind_ok(&c, &buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
		coalesced_buffer_wait(&buf, rounds % 3);
		TEST_ASSERT(!zone2(&c, &buf, KVM_UNREGISTER_COALESCED_MMIO2, PORT_A, 4,
				   KVM_COALESCED_ZONE_PIO),
			    "round %u: unregistering failed", rounds);
		from = got.n;
		coalesced_buffer_drain(&buf, seen_entry, &got);
		for (i = from + 1; i < got.n; i++)
			TEST_ASSERT(got.v[i].data > got.v[i - 1].data,
				    "round %u: write %u after write %u in one ring",
				    rounds, got.v[i].data, got.v[i - 1].data);
		coalesced_buffer_destroy(&buf);
		rounds++;
	}
	pthread_join(thread, NULL);

	count = calloc(CHURN_BURST, 1);
	TEST_ASSERT(count, "no memory");
	for (i = 0; i < got.n + c.exits.n; i++) {
		const struct seen *ev = i < got.n ? &got.v[i] : &c.exits.v[i - got.n];

		TEST_ASSERT(ev->addr == PORT_A && ev->data < CHURN_BURST,
			    "a write of %u to 0x%lx was never made", ev->data, ev->addr);
		count[ev->data]++;
	}
	for (i = 0; i < CHURN_BURST; i++)
		TEST_ASSERT(count[i] == 1, "write %u reached userspace %u times, want once",
			    i, count[i]);
	printf("# %u writes: %u through %u buffers, %u exits\n",
	       CHURN_BURST, got.n, rounds, c.exits.n);
	free(count);
	free(got.v);
	ctx_free(&c);
}

/* ---- 8. VM destruction with buffers open ----------------------------- */

static long vmalloc_used_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	TEST_ASSERT(f, "cannot open /proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmallocUsed: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

#define LEAK_ROUNDS	40

TEST_F_TIMEOUT(coalesced_buffer, vm_destroy_with_buffer, CASE_TIMEOUT_S)
{
	const struct target a = { PORT_A, true };
	struct coalesced_buffer buf;
	struct seen_list got = { 0 };
	long before, after;
	struct ctx c;
	int i;

	if (!max_pages)
		SKIP(return, "no KVM_CAP_COALESCED_MMIO2");

	/* The ring outlives the VM's fds and still holds its entries. */
	ctx_init(&c);
	buf = buffer_new(&c, 4);
	bind_ok(&c, &buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	run_burst(&c, 100, &a, 1);
	ctx_free(&c);
	coalesced_buffer_drain(&buf, seen_entry, &got);
	expect_writes("drained after the VM's fds were closed", &got, 0, 100, PORT_A, 0, 1);
	coalesced_buffer_destroy(&buf);

	/* Both orders of teardown, with entries pending: nothing stays. */
	before = vmalloc_used_kb();
	for (i = 0; i < LEAK_ROUNDS; i++) {
		ctx_init(&c);
		buf = buffer_new(&c, 64);
		bind_ok(&c, &buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
		bind_ok(&c, &buf, MMIO_GPA, MMIO_ZONE_SIZE, 0);
		run_burst(&c, 50, &a, 1);
		if (i & 1) {
			ctx_free(&c);
			coalesced_buffer_destroy(&buf);
		} else {
			coalesced_buffer_destroy(&buf);
			ctx_free(&c);
		}
	}
	after = vmalloc_used_kb();
	printf("# VmallocUsed %ld kB before, %ld kB after %d VMs with a 256 KiB buffer\n",
	       before, after, LEAK_ROUNDS);
	/* A leaked ring would be 256 KiB per round: 10 MiB in all. */
	TEST_ASSERT(after - before < 4096,
		    "VmallocUsed grew by %ld kB over %d rounds: buffers leak",
		    after - before, LEAK_ROUNDS);
	free(got.v);
}

/* ---- 9. unregistering ------------------------------------------------ */

/* Write once to each target; which ones exited? A bit mask. */
static u32 exit_mask(struct ctx *c, const struct target *t, u32 n,
		     struct coalesced_buffer *buf)
{
	struct seen_list drop = { 0 };
	u32 mask = 0, i;

	c->exits.n = 0;
	run_burst(c, n, t, n);
	for (i = 0; i < c->exits.n; i++)
		mask |= 1u << c->exits.v[i].data;
	coalesced_buffer_drain(buf, seen_entry, &drop);
	coalesced_ring_drain(c->legacy, seen_entry, &drop);
	TEST_ASSERT(drop.n + c->exits.n == n, "%u writes: %u entries, %u exits",
		    n, drop.n, c->exits.n);
	free(drop.v);
	return mask;
}

TEST_F_TIMEOUT(coalesced_buffer, unregister, CASE_TIMEOUT_S)
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
	struct coalesced_buffer buf, other;
	u32 mask;
	struct ctx c;

	if (!max_pages)
		SKIP(return, "no KVM_CAP_COALESCED_MMIO2");

	ctx_init(&c);
	buf = buffer_new(&c, 1);
	other = buffer_new(&c, 1);
	bind_ok(&c, &buf, PORT_A, 4, KVM_COALESCED_ZONE_PIO);
	bind_ok(&c, &buf, PORT_B, 4, KVM_COALESCED_ZONE_PIO);
	bind_ok(&c, &buf, MMIO_GPA, 4, 0);
	legacy_zone_ok(&c, PORT_LEGACY, 4, KVM_COALESCED_ZONE_PIO);
	mask = exit_mask(&c, t, 4, &buf);
	TEST_ASSERT(mask == 0, "exits before unregistering: mask 0x%x", mask);

	/*
	 * The legacy ioctl removes the legacy ring's zones only (those that
	 * contain the range, as in mainline): not the dedicated 0xcf8 zone.
	 */
	vm_ioctl(c.vm, KVM_UNREGISTER_COALESCED_MMIO, &legacy);
	vm_ioctl(c.vm, KVM_UNREGISTER_COALESCED_MMIO, &port_a);
	mask = exit_mask(&c, t, 4, &buf);
	TEST_ASSERT(mask == 1u << 3,
		    "after the legacy unregister of 0x70 and 0xcf8: mask 0x%x, want 0x8", mask);

	/* Another buffer's unregister does not touch ours. */
	TEST_ASSERT(!zone2(&c, &other, KVM_UNREGISTER_COALESCED_MMIO2, 0, 0x10000,
			   KVM_COALESCED_ZONE_PIO), "unregistering via another buffer failed");
	mask = exit_mask(&c, t, 4, &buf);
	TEST_ASSERT(mask == 1u << 3, "another buffer's unregister removed ours: mask 0x%x",
		    mask);

	/* Ours removes zones of its kind wholly inside the range. */
	TEST_ASSERT(!zone2(&c, &buf, KVM_UNREGISTER_COALESCED_MMIO2, PORT_A, 4,
			   KVM_COALESCED_ZONE_PIO), "unregistering port 0xcf8 failed");
	mask = exit_mask(&c, t, 4, &buf);
	TEST_ASSERT(mask == (1u << 0 | 1u << 3),
		    "after unregistering 0xcf8: mask 0x%x, want 0x9", mask);
	TEST_ASSERT(!zone2(&c, &buf, KVM_UNREGISTER_COALESCED_MMIO2, MMIO_GPA, 0x1000, 0),
		    "unregistering the MMIO page failed");
	mask = exit_mask(&c, t, 4, &buf);
	TEST_ASSERT(mask == (1u << 0 | 1u << 2 | 1u << 3),
		    "after unregistering the MMIO page: mask 0x%x, want 0xd", mask);
	TEST_ASSERT(fdinfo_get(buf.fd, "zones") == 1, "fdinfo: %lu zones left, want 1",
		    fdinfo_get(buf.fd, "zones"));

	coalesced_buffer_destroy(&other);
	coalesced_buffer_destroy(&buf);
	ctx_free(&c);
}

/* ---- main ------------------------------------------------------------ */

/*
 * A kvm.ko without dedicated rings (Debian's stock one) must answer all
 * three ioctls with ENOTTY: any other answer means their numbers reached
 * some other ioctl's code, as 0xe1/0xe2 (KVM_SET/GET_DEVICE_ATTR's very
 * numbers) once did.
 */
TEST_F_TIMEOUT(coalesced_buffer_stock, ioctls_enotty_without_cap, CASE_TIMEOUT_S)
{
	struct kvm_coalesced_mmio_buffer req = { .pages = 1 };
	struct kvm_coalesced_mmio_zone2 zone = {
		.addr = PORT_A, .size = 4, .pio = KVM_COALESCED_ZONE_PIO,
	};
	struct kvm_vm *vm = vm_create_barebones();
	const struct {
		const char *name;
		unsigned long nr;
		void *arg;
	} calls[] = {
		{ "KVM_CREATE_COALESCED_MMIO_BUFFER",
		  KVM_CREATE_COALESCED_MMIO_BUFFER, &req },
		{ "KVM_REGISTER_COALESCED_MMIO2",
		  KVM_REGISTER_COALESCED_MMIO2, &zone },
		{ "KVM_UNREGISTER_COALESCED_MMIO2",
		  KVM_UNREGISTER_COALESCED_MMIO2, &zone },
	};
	unsigned int i;
	int r;

	if (max_pages)
		SKIP(return, "this kvm.ko has dedicated rings");

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

	max_pages = coalesced_buffer_max_pages(kvm);
	close(kvm);
	setbuf(stdout, NULL);
	if (max_pages)
		printf("# dedicated rings: up to %u pages\n", max_pages);
	else
		printf("# no KVM_CAP_COALESCED_MMIO2: %s\n",
		       "this kvm.ko has no dedicated coalesced rings (stock?)");
	return test_harness_run(argc, argv);
}
