// SPDX-License-Identifier: GPL-2.0-only
/*
 * Coalesced I/O: a seeded, bounded fuzz and allocation-failure injection.
 *
 * fuzz: episodes of one or two vCPUs making random port and MMIO accesses
 * (coalesced or not, depending on the zones of the moment), while this
 * thread registers and unregisters valid and invalid zones, scribbles on
 * the rings' indices, drains them at random moments and destroys the VM
 * at a random point.  A third of the episodes use dedicated rings, where
 * the kernel has them: one per vCPU in this process's memory, of random
 * size, that this thread also destroys and creates anew while its vCPU
 * writes.  Every guest access must reach userspace exactly once and in
 * guest order, as a ring entry or as an exit.
 *
 * failslab: the same writers, while this thread registers and unregisters
 * zones, and creates and destroys dedicated rings, with slab allocation
 * failures injected into its own ioctls (first at every allocation in
 * turn, with fail-nth, then at random): each failure is a clean -ENOMEM
 * that leaves nothing pinned, and the VM keeps working.  Needs a kernel
 * with CONFIG_FAILSLAB and debugfs; skips otherwise.
 *
 * Usage: coalesced_io_fuzz [-s SEED] [-n OPS] [-t SECONDS]
 * SEED (also from the environment) reruns a run exactly as far as this
 * thread's choices go; OPS and SECONDS bound each of the two cases.
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
#include "dedicated_ring.h"
#include "coalesced_guest.h"
#include "coalesced_kvm.h"

#define FUZZ_VCPUS	2
#define FUZZ_TARGETS	32
/* Each vCPU has its own ports and MMIO page, so entries name their vCPU. */
#define PORT_SPAN	0x1000		/* vCPU n: ports n * 0x1000 + ... */
#define PORT_LOW	0x70		/* 16 ports around the RTC index */
#define PORT_HIGH	0xcf0		/* 16 ports around 0xcf8 */
#define MMIO_BASE	0xc0000000ULL	/* vCPU n: MMIO_BASE + n * page */
#define MMIO_SPAN	0x40		/* bytes of the page the guest uses */
#define READ_VALUE	0xa5a5a5a5a5a5a5a5ULL
#define MAX_MODEL_ZONES	200		/* well below the bus's 1000 */

#define FAILSLAB	"/sys/kernel/debug/failslab/"
#define FAIL_PAGE_ALLOC	"/sys/kernel/debug/fail_page_alloc/"

enum access_kind { PIO_OUT, PIO_IN, MMIO_WRITE, MMIO_READ };

struct target {
	u64 addr;
	u32 len;
	u32 kind;
};

/* Guest state, written by the host before the vCPUs start. */
static struct target targets[FUZZ_VCPUS][FUZZ_TARGETS];
static u64 guest_seed[FUZZ_VCPUS];
/* Accesses the guest has finished, per vCPU. */
static u64 guest_done[FUZZ_VCPUS];

/* Same generator on both sides: the host predicts the guest's accesses. */
static inline u64 xorshift(u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Access number @n writes these bytes (low @len of them). */
static inline u64 access_data(u64 n)
{
	return n * 0x9e3779b97f4a7c15ULL + n;
}

static void fuzz_guest(u32 id)
{
	u64 s = guest_seed[id], n;

	for (n = 0;; n++) {
		struct target *t = &targets[id][xorshift(&s) % FUZZ_TARGETS];

		switch (t->kind) {
		case PIO_OUT:
			guest_out(t->addr, access_data(n), t->len);
			break;
		case PIO_IN:
			guest_in(t->addr, t->len);
			break;
		case MMIO_WRITE:
			guest_mmio_write(t->addr, access_data(n), t->len);
			break;
		case MMIO_READ:
			guest_mmio_read(t->addr, t->len);
			break;
		}
		WRITE_ONCE(guest_done[id], n + 1);
	}
}

/* ---- host side ------------------------------------------------------- */

struct episode;

static u64 seed;
static u64 host_rng;
static bool newer;		/* a newer kernel, with dedicated rings */

static u32 rnd(u32 n)
{
	return xorshift(&host_rng) % n;
}

struct zone {
	u64 addr;
	u32 size;
	bool pio;
	bool by_start;		/* KVM_COALESCED_ZONE_BY_START */
	int ring;		/* the dedicated ring (its vCPU's); -1: legacy */
};

struct vcpu_state {
	struct episode *ep;
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	u32 id;
	u64 rng;		/* the guest's generator, replayed */
	u64 seen;		/* accesses userspace has learned of */
	u64 exits;
	u64 coalesced;
};

struct episode {
	struct kvm_vm *vm;
	struct kvm_coalesced_mmio_ring *ring;	/* the legacy ring */
	/* Dedicated episodes: vCPU n's zones are all on rings[n]. */
	bool dedicated;
	struct dedicated_ring rings[FUZZ_VCPUS];
	struct vcpu_state v[FUZZ_VCPUS];
	int nr_vcpus;
	struct target t[FUZZ_VCPUS][FUZZ_TARGETS];
	/*
	 * Serializes every consumer of the ring (the vCPU threads before
	 * they handle an exit, this thread when it drains at random), so
	 * entries are taken and judged in ring order.
	 */
	pthread_mutex_t lock;
	bool hostile;		/* ring->last gets scribbled on too */
	/* scribbled->first is out of range for a while; the real one is saved. */
	struct kvm_coalesced_mmio_ring *scribbled;
	u32 saved_first, scribble;
	bool stop;
	struct zone model[MAX_MODEL_ZONES];	/* zones KVM should have */
	int nr_model;
	bool bus_gone[2];	/* an unregister failed: bus destroyed */
};

struct totals {
	u64 ops, bad_ops, accesses, coalesced, exits, episodes;
	u64 destroyed_pending, scribbles, injected, nth_points;
	u64 dedicated_episodes, rings_created, rings_destroyed_writing;
};

static struct totals tot;

static int vcpu_of(u64 addr, bool pio)
{
	return pio ? addr / PORT_SPAN : (addr - MMIO_BASE) / getpagesize();
}

/* Check one access userspace learned of against the guest's next one. */
static void judge(struct episode *ep, int id, u32 kind, u64 addr,
		  u32 len, u64 data)
{
	struct vcpu_state *v = &ep->v[id];
	u64 rng = v->rng;
	struct target *want = &ep->t[id][xorshift(&rng) % FUZZ_TARGETS];
	u64 mask = len == 8 ? ~0ULL : (1ULL << (8 * len)) - 1;
	bool is_write = kind == PIO_OUT || kind == MMIO_WRITE;

	/* Indices were scribbled on: entries may be stale or lost. */
	if (ep->hostile)
		return;
	TEST_ASSERT(want->kind == kind && want->addr == addr && want->len == len &&
		    (!is_write || data == (access_data(v->seen) & mask)),
		    "seed %lu: vCPU %d access %lu: userspace saw kind %u 0x%lx+%u data 0x%lx, guest made kind %u 0x%lx+%u data 0x%lx (lost, doubled or reordered)",
		    seed, id, v->seen, kind, addr, len, data, want->kind,
		    want->addr, want->len, access_data(v->seen) & mask);
	v->rng = rng;
	v->seen++;
}

static void judge_entry(const struct kvm_coalesced_mmio *e, void *arg)
{
	struct episode *ep = arg;
	bool pio = e->pio & KVM_COALESCED_ZONE_PIO;
	int id = vcpu_of(e->phys_addr, pio);
	u64 data = 0;

	if (ep->hostile)
		return;
	TEST_ASSERT(id >= 0 && id < ep->nr_vcpus && e->len >= 1 && e->len <= 8,
		    "seed %lu: ring entry 0x%llx+%u (pio %u) belongs to no vCPU",
		    seed, e->phys_addr, e->len, e->pio);
	memcpy(&data, e->data, e->len);
	judge(ep, id, pio ? PIO_OUT : MMIO_WRITE, e->phys_addr, e->len, data);
	ep->v[id].coalesced++;
}

/*
 * Drain (or, with !consume, only look at) one ring of @max entries; the
 * lock is held.  In hostile episodes the indices may be anything: never
 * loop more than a ring's worth and leave an out-of-range first alone.
 */
static void drain_ring_locked(struct episode *ep,
			      struct kvm_coalesced_mmio_ring *ring, u32 max,
			      bool consume)
{
	bool scribbled = ep->scribbled == ring;
	u32 first, n;

	if (consume && !ep->hostile) {
		/* A KVM that read the real first before the scribble may add more. */
		if (scribbled)
			WRITE_ONCE(ring->first, ep->saved_first);
		coalesced_ring_drain_n(ring, max, judge_entry, ep);
		if (scribbled) {
			ep->saved_first = ring->first;
			WRITE_ONCE(ring->first, ep->scribble);
		}
		return;
	}
	first = READ_ONCE(ring->first);
	for (n = 0; n < max && first < max &&
	     first != __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE); n++) {
		judge_entry(&ring->coalesced_mmio[first], ep);
		first = (first + 1) % max;
		if (consume)
			__atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
	}
}

/* Every ring of the episode: the legacy one, or the vCPUs' own. */
static void drain_locked(struct episode *ep, bool consume)
{
	int i;

	if (!ep->dedicated) {
		drain_ring_locked(ep, ep->ring, coalesced_ring_max(), consume);
		return;
	}
	for (i = 0; i < ep->nr_vcpus; i++)
		drain_ring_locked(ep, ep->rings[i].ring, ep->rings[i].entries,
				  consume);
}

static void handle_exit(struct episode *ep, struct vcpu_state *v)
{
	struct kvm_run *run = v->vcpu->run;
	u64 data = 0;
	struct ucall uc;

	if (get_ucall(v->vcpu, &uc) == UCALL_ABORT) {
		printf("# seed %lu: vCPU %u, access %lu, guest code at %p\n",
		       seed, v->id, v->seen, fuzz_guest);
		REPORT_GUEST_ASSERT(uc);
	}
	pthread_mutex_lock(&ep->lock);
	/* Entries for writes made before this exit come first. */
	drain_locked(ep, true);
	if (run->exit_reason == KVM_EXIT_IO) {
		void *io = (void *)run + run->io.data_offset;
		bool out = run->io.direction == KVM_EXIT_IO_OUT;

		TEST_ASSERT(run->io.count == 1, "string I/O to port 0x%x",
			    run->io.port);
		if (out)
			memcpy(&data, io, run->io.size);
		else
			memcpy(io, &(u64){ READ_VALUE }, run->io.size);
		judge(ep, v->id, out ? PIO_OUT : PIO_IN, run->io.port,
		      run->io.size, data);
	} else if (run->exit_reason == KVM_EXIT_MMIO) {
		bool write = run->mmio.is_write;

		if (write)
			memcpy(&data, run->mmio.data, run->mmio.len);
		else
			memcpy(run->mmio.data, &(u64){ READ_VALUE },
			       run->mmio.len);
		judge(ep, v->id, write ? MMIO_WRITE : MMIO_READ,
		      run->mmio.phys_addr, run->mmio.len, data);
	} else {
		struct kvm_regs regs;

		vcpu_regs_get(v->vcpu, &regs);
		TEST_FAIL("seed %lu: vCPU %u: exit %s at rip 0x%llx (guest code %p), access %lu",
			  seed, v->id, exit_reason_str(run->exit_reason),
			  regs.rip, fuzz_guest, v->seen);
	}
	v->exits++;
	pthread_mutex_unlock(&ep->lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu_state *v = arg;
	struct episode *ep = v->ep;

	while (!READ_ONCE(ep->stop)) {
		if (__vcpu_run(v->vcpu)) {
			TEST_ASSERT(errno == EINTR, "seed %lu: KVM_RUN: %s",
				    seed, strerror(errno));
			continue;
		}
		handle_exit(ep, v);
	}
	return NULL;
}

static void kick(int sig)
{
}

static struct target random_target(int id)
{
	struct target t;
	u32 kind = rnd(10);

	/* Mostly writes: they are what zones are about. */
	t.kind = kind < 6 ? PIO_OUT : kind < 7 ? PIO_IN :
		 kind < 9 ? MMIO_WRITE : MMIO_READ;
	if (t.kind == PIO_OUT || t.kind == PIO_IN) {
		t.len = 1 << rnd(3);
		t.addr = id * PORT_SPAN + (rnd(2) ? PORT_LOW : PORT_HIGH) + rnd(16);
	} else {
		t.len = 1 << rnd(4);
		t.addr = MMIO_BASE + id * getpagesize() + rnd(MMIO_SPAN);
	}
	return t;
}

/*
 * A new dedicated ring for vCPU @i, of a random size (2 entries fill at
 * once, 4096 hardly ever).
 */
static void ring_create(struct episode *ep, int i)
{
	static const u32 sizes[] = { 2, 3, 8, 64, 170, 1024, 4096 };
	u32 entries = sizes[rnd(ARRAY_SIZE(sizes))];

	TEST_ASSERT(!dedicated_ring_create(&ep->rings[i], ep->vm->fd, entries),
		    "seed %lu: creating a %u-entry ring: %s",
		    seed, entries, strerror(errno));
	tot.rings_created++;
}

static void episode_start(struct episode *ep, int nr_vcpus, bool hostile,
			  bool dedicated)
{
	struct kvm_vcpu *vcpus[FUZZ_VCPUS];
	int i, j;

	memset(ep, 0, sizeof(*ep));
	for (i = 0; i < FUZZ_VCPUS; i++)
		ep->rings[i] = (struct dedicated_ring)DEDICATED_RING_INIT;
	pthread_mutex_init(&ep->lock, NULL);
	ep->nr_vcpus = nr_vcpus;
	ep->hostile = hostile;
	ep->vm = vm_create_with_vcpus(nr_vcpus, fuzz_guest, vcpus);
	virt_map(ep->vm, MMIO_BASE, MMIO_BASE, FUZZ_VCPUS);
	catch_guest_exceptions(ep->vm);
	for (i = 0; i < nr_vcpus; i++) {
		struct vcpu_state *v = &ep->v[i];

		for (j = 0; j < FUZZ_TARGETS; j++)
			ep->t[i][j] = random_target(i);
		memcpy(targets[i], ep->t[i], sizeof(targets[i]));
		v->rng = xorshift(&host_rng) | 1;
		guest_seed[i] = v->rng;
		v->ep = ep;
		v->vcpu = vcpus[i];
		v->id = i;
		vcpu_args_set(vcpus[i], 1, i);
	}
	sync_global_to_guest(ep->vm, targets);
	sync_global_to_guest(ep->vm, guest_seed);
	ep->ring = coalesced_ring_map(ep->vm->fd, vcpus[0]->fd);
	TEST_ASSERT(ep->ring, "cannot map the coalesced ring: %s",
		    strerror(errno));
	ep->dedicated = dedicated;
	for (i = 0; dedicated && i < nr_vcpus; i++)
		ring_create(ep, i);
	tot.dedicated_episodes += dedicated;
	for (i = 0; i < nr_vcpus; i++)
		pthread_create(&ep->v[i].thread, NULL, vcpu_thread, &ep->v[i]);
	tot.episodes++;
}

static void episode_stop_vcpus(struct episode *ep)
{
	int i;

	WRITE_ONCE(ep->stop, true);
	for (i = 0; i < ep->nr_vcpus; i++) {
		/* A KVM_RUN not yet entered returns at once; one inside is kicked. */
		WRITE_ONCE(ep->v[i].vcpu->run->immediate_exit, 1);
		pthread_kill(ep->v[i].thread, SIGUSR1);
	}
	for (i = 0; i < ep->nr_vcpus; i++)
		pthread_join(ep->v[i].thread, NULL);
}

/*
 * Stop the vCPUs and check that userspace learned of every access the
 * guest finished, and of at most the one it was making; then destroy the
 * VM, sometimes with the last entries still pending in the ring.
 */
static void episode_end(struct episode *ep)
{
	bool pending = rnd(2);
	int i;

	episode_stop_vcpus(ep);
	drain_locked(ep, !pending);
	for (i = 0; i < ep->nr_vcpus; i++) {
		struct vcpu_state *v = &ep->v[i];
		u64 *done = addr_gva2hva(ep->vm, (gva_t)&guest_done[i]);

		if (!ep->hostile)
			TEST_ASSERT(v->seen == *done || v->seen == *done + 1,
				    "seed %lu: vCPU %d finished %lu accesses, userspace learned of %lu",
				    seed, i, *done, v->seen);
		tot.accesses += *done;
		tot.coalesced += v->coalesced;
		tot.exits += v->exits;
	}
	if (pending && ep->ring->first != ep->ring->last)
		tot.destroyed_pending++;
	for (i = 0; ep->dedicated && i < ep->nr_vcpus; i++) {
		struct kvm_coalesced_mmio_ring *r = ep->rings[i].ring;

		if (pending && r->first != r->last)
			tot.destroyed_pending++;
		/* Half the rings go with the VM, half before it. */
		if (rnd(2))
			ep->rings[i].id = -1;
		else
			dedicated_ring_destroy(&ep->rings[i]);
	}
	munmap(ep->ring, getpagesize());
	kvm_vm_free(ep->vm);
	/* The VM took the rest with it: only our memory is left to free. */
	for (i = 0; ep->dedicated && i < ep->nr_vcpus; i++) {
		ep->rings[i].id = -1;
		dedicated_ring_destroy(&ep->rings[i]);
	}
}

/* ---- zone operations and the model of what KVM holds ------------------ */

/*
 * One zone ioctl: @cmd the legacy one, or its *_RING_ZONE twin for a zone of
 * a dedicated ring (z.ring).  0 or -errno.
 */
static int zone_ioctl(struct episode *ep, unsigned long cmd, struct zone z,
		      u32 flags)
{
	struct kvm_coalesced_mmio_zone uz = {
		.addr = z.addr, .size = z.size, .pio = flags,
	};

	if (z.ring >= 0)
		return dedicated_ring_zone(&ep->rings[z.ring],
					     cmd == KVM_REGISTER_COALESCED_MMIO ?
					     KVM_REGISTER_COALESCED_RING_ZONE :
					     KVM_UNREGISTER_COALESCED_RING_ZONE,
					     z.addr, z.size, flags) ? -errno : 0;
	return ioctl(ep->vm->fd, cmd, &uz) ? -errno : 0;
}

/* The flags of zone @z. */
static u32 zone_flags(const struct zone *z)
{
	return (z->pio ? KVM_COALESCED_ZONE_PIO : 0) |
	       (z->by_start ? KVM_COALESCED_ZONE_BY_START : 0);
}

/*
 * A zone in one vCPU's space, on that vCPU's ring in dedicated episodes;
 * a quarter of them coalesce by start (where the kernel can).
 */
static struct zone random_zone(struct episode *ep)
{
	int id = rnd(ep->nr_vcpus);
	struct zone z = { .pio = rnd(2), .ring = ep->dedicated ? id : -1 };

	z.by_start = newer && !rnd(4);

	if (z.pio) {
		z.addr = id * PORT_SPAN + (rnd(2) ? PORT_LOW : PORT_HIGH) + rnd(16);
		z.size = 1 + rnd(rnd(4) ? 4 : 16);
	} else {
		z.addr = MMIO_BASE + id * getpagesize() + rnd(MMIO_SPAN);
		z.size = 1 + rnd(rnd(4) ? 8 : MMIO_SPAN);
	}
	return z;
}

/*
 * What registering @z must return; -ENOMEM only under fault injection.
 * The same zone twice is fine on the legacy ring, as it always was; a
 * dedicated ring's zone may not repeat any other zone's range.
 */
static int model_register_result(struct episode *ep, struct zone z)
{
	int i;

	if (ep->bus_gone[z.pio])
		return -ENOMEM;
	for (i = 0; z.ring >= 0 && i < ep->nr_model; i++)
		if (ep->model[i].pio == z.pio && ep->model[i].addr == z.addr &&
		    ep->model[i].size == z.size)
			return -EEXIST;
	return 0;
}

/* The legacy unregister rule: the zones that contain the whole range. */
static bool zone_contains(const struct zone *m, const struct zone *range)
{
	return m->pio == range->pio && (s32)range->size >= 0 &&
	       range->addr >= m->addr &&
	       range->addr + range->size <= m->addr + m->size;
}

/* The *_RING_ZONE rule: that ring's zones of the kind inside the range. */
static bool zone_inside(const struct zone *m, const struct zone *range)
{
	return m->pio == range->pio && m->ring == range->ring &&
	       m->addr >= range->addr &&
	       m->addr + m->size <= range->addr + range->size;
}

static bool zone_same_bus(const struct zone *m, const struct zone *bus)
{
	return m->pio == bus->pio;
}

static bool zone_of_ring(const struct zone *m, const struct zone *ring)
{
	return m->ring == ring->ring;
}

/* Drop the model's zones that @match pairs with @key. */
static void model_remove(struct episode *ep,
			 bool (*match)(const struct zone *, const struct zone *),
			 const struct zone *key)
{
	int i = 0;

	while (i < ep->nr_model)
		if (match(&ep->model[i], key))
			ep->model[i] = ep->model[--ep->nr_model];
		else
			i++;
}

static void model_unregister(struct episode *ep, struct zone range)
{
	model_remove(ep, range.ring >= 0 ? zone_inside : zone_contains, &range);
}

/* A failed unregister destroyed that whole bus, our zones included. */
static void model_bus_destroyed(struct episode *ep, bool pio)
{
	struct zone bus = { .pio = pio };

	ep->bus_gone[pio] = true;
	model_remove(ep, zone_same_bus, &bus);
}

static void op_register(struct episode *ep)
{
	struct zone z = random_zone(ep);
	int want = model_register_result(ep, z);
	int r;

	if (ep->nr_model == MAX_MODEL_ZONES)
		return;
	r = zone_ioctl(ep, KVM_REGISTER_COALESCED_MMIO, z, zone_flags(&z));
	TEST_ASSERT(r == want,
		    "seed %lu: registering %s zone 0x%lx+%u (flags 0x%x, ring %d): %s, want %s",
		    seed, z.pio ? "PIO" : "MMIO", z.addr, z.size, zone_flags(&z),
		    z.ring, strerror(-r), strerror(-want));
	if (!r)
		ep->model[ep->nr_model++] = z;
}

static void op_unregister(struct episode *ep)
{
	struct zone z = random_zone(ep);
	int r;

	/* Sometimes a range that covers all of that vCPU's space. */
	if (!rnd(4)) {
		z.addr &= z.pio ? ~(u64)(PORT_SPAN - 1) : ~(u64)(getpagesize() - 1);
		z.size = z.pio ? PORT_SPAN : getpagesize();
	}
	/* Dedicated: through any vCPU's ring, which takes only its own. */
	if (z.ring >= 0)
		z.ring = rnd(ep->nr_vcpus);
	r = zone_ioctl(ep, KVM_UNREGISTER_COALESCED_MMIO, z, zone_flags(&z));
	TEST_ASSERT(!r, "seed %lu: unregistering %s range 0x%lx+%u (ring %d): %s",
		    seed, z.pio ? "PIO" : "MMIO", z.addr, z.size, z.ring,
		    strerror(-r));
	model_unregister(ep, z);
}

/*
 * Zones and ranges that must be refused with -EINVAL: unknown flags by
 * both ioctls everywhere; the zones of rows reg-size-0, reg-wraps,
 * reg-size-2g and reg-port-above-0xffff of coalesced_pio_test's compat rows by
 * the newer register only (unregister takes them, as it always did).
 */
static void op_invalid(struct episode *ep)
{
	static const struct {
		u64 addr;
		u32 size;
		u32 flags;
		bool newer_only;	/* older kernels register it; no unregister */
	} bad[] = {
		{ 0x70, 0, KVM_COALESCED_ZONE_PIO, true },
		{ MMIO_BASE, 0, 0, true },
		{ 0x10000, 4, KVM_COALESCED_ZONE_PIO, true },
		{ ~0ULL - 3, 8, 0, true },
		{ MMIO_BASE, 0x80000000u, 0, true },
		{ 0x70, 1, 4 },
		{ 0x70, 1, 0x80000000 },
		{ MMIO_BASE, 0x10, 0xff },
	};
	int i = rnd(ARRAY_SIZE(bad)), r;
	bool reg = bad[i].newer_only || rnd(2);
	struct zone z = { .addr = bad[i].addr, .size = bad[i].size, .ring = -1 };

	if (!newer && bad[i].newer_only)
		return;
	r = zone_ioctl(ep, reg ? KVM_REGISTER_COALESCED_MMIO :
		       KVM_UNREGISTER_COALESCED_MMIO, z, bad[i].flags);
	TEST_ASSERT(r == -EINVAL,
		    "seed %lu: %s 0x%lx+%u flags 0x%x: %s, want EINVAL", seed,
		    reg ? "registering" : "unregistering", z.addr, z.size,
		    bad[i].flags, r ? strerror(-r) : "accepted");
	tot.bad_ops++;
}

/*
 * Dedicated rings that must be refused, whatever the episode: bad
 * creations (EINVAL, EFAULT), zones of a ring that does not exist or with
 * pad set, a destroy of an id that was never given.
 */
static void op_invalid_ring(struct episode *ep)
{
	struct dedicated_ring *buf = &ep->rings[rnd(ep->nr_vcpus)];
	struct kvm_coalesced_ring_zone zone = {
		.addr = 0x70, .size = 1, .flags = KVM_COALESCED_ZONE_PIO,
		.ring = 60000 + rnd(5000),
	};
	/* A ring like the vCPU's (in legacy episodes, any memory will do). */
	struct kvm_coalesced_ring req = {
		.addr = (uintptr_t)(buf->ring ? (void *)buf->ring : (void *)ep->ring),
		.entries = buf->ring ? buf->entries : 2,
	};
	int r, want = -EINVAL;

	switch (rnd(6)) {
	case 0:
		req.entries = rnd(2);
		break;
	case 1:
		req.addr += 4;
		break;
	case 2:
		req.flags = 1u << rnd(32);	/* none is known */
		break;
	case 3:
		req.addr = 0x1000;	/* never mapped: nothing to pin */
		want = -EFAULT;
		break;
	case 4:
		r = ioctl(ep->vm->fd, rnd(2) ? KVM_REGISTER_COALESCED_RING_ZONE :
			  KVM_UNREGISTER_COALESCED_RING_ZONE, &zone) ? -errno : 0;
		TEST_ASSERT(r == -ENOENT, "seed %lu: a zone of ring %u: %s, want ENOENT",
			    seed, zone.ring, r ? strerror(-r) : "accepted");
		tot.bad_ops++;
		return;
	default:
		r = ioctl(ep->vm->fd, KVM_DESTROY_COALESCED_RING, 70000UL) ? -errno : 0;
		TEST_ASSERT(r == -ENOENT, "seed %lu: destroying ring 70000: %s, want ENOENT",
			    seed, r ? strerror(-r) : "accepted");
		tot.bad_ops++;
		return;
	}
	r = ioctl(ep->vm->fd, KVM_CREATE_COALESCED_RING, &req);
	TEST_ASSERT(r < 0 && -errno == want,
		    "seed %lu: creating a ring of %u entries at 0x%llx (flags 0x%x): %s, want %s",
		    seed, req.entries, req.addr, req.flags,
		    r < 0 ? strerror(errno) : "accepted", strerror(-want));
	tot.bad_ops++;
}

/*
 * Each fault-injection point counts its "times" down by one for every
 * failure it injects, fail-nth's included, when it starts from a number
 * (fault_setup() sets FAULT_BUDGET) rather than -1, unlimited.
 */
#define FAULT_BUDGET	1000000000L

/* What is left of FAULT_BUDGET at @dir; FAULT_BUDGET without @dir. */
static long fault_times(const char *dir)
{
	char path[128];
	long left;
	FILE *f;

	snprintf(path, sizeof(path), "%stimes", dir);
	f = fopen(path, "r");
	if (!f)
		return FAULT_BUDGET;
	TEST_ASSERT(fscanf(f, "%ld", &left) == 1, "cannot read %s", path);
	fclose(f);
	return left;
}

/* Failures injected so far, counted by failslab and fail_page_alloc. */
static u64 faults_injected(void)
{
	return 2 * FAULT_BUDGET - fault_times(FAILSLAB) -
	       fault_times(FAIL_PAGE_ALLOC);
}

static u64 faults_at_arm;

/*
 * Arm allocation failures for this thread only: @nth > 0 fails its nth
 * allocation (fail-nth), 0 fails at random (make-it-fail).  Returns the
 * fd fault_disarm() takes.
 */
static int fault_arm(int nth)
{
	char buf[16];
	int fd;

	faults_at_arm = faults_injected();
	if (!nth) {
		fd = open("/proc/thread-self/make-it-fail", O_WRONLY);
		TEST_ASSERT(fd >= 0, "no make-it-fail: %s", strerror(errno));
		TEST_ASSERT(write(fd, "1", 1) == 1, "cannot set make-it-fail");
		return fd;
	}
	fd = open("/proc/thread-self/fail-nth", O_RDWR);
	TEST_ASSERT(fd >= 0, "no fail-nth: %s", strerror(errno));
	snprintf(buf, sizeof(buf), "%d", nth);
	TEST_ASSERT(write(fd, buf, strlen(buf)) > 0, "cannot arm fail-nth: %s",
		    strerror(errno));
	return fd;
}

/*
 * Disarm what fault_arm() armed; the call in between returned @r.  How
 * many failures were injected meanwhile (into tot.injected)?  At random,
 * what the injection points counted; with fail-nth, 1 if it fired (it
 * reads 0 then), and the points must have counted that one failure.
 */
static u32 fault_disarm(int fd, int nth, int r)
{
	u64 counted;
	char buf[16];
	ssize_t n;
	u32 fired;

	if (!nth) {
		TEST_ASSERT(write(fd, "0", 1) == 1, "cannot clear make-it-fail");
		close(fd);
		counted = faults_injected() - faults_at_arm;
		tot.injected += counted;
		return counted;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	TEST_ASSERT(n > 0, "cannot read fail-nth: %s", strerror(errno));
	buf[n] = 0;
	fired = atoi(buf) == 0;
	if (!fired)
		TEST_ASSERT(write(fd, "0", 1) > 0, "cannot disarm fail-nth");
	close(fd);
	counted = faults_injected() - faults_at_arm;
	TEST_ASSERT(counted == fired,
		    "seed %lu: fail-nth %d %s, but failslab and fail_page_alloc counted %lu failures (returned %d)",
		    seed, nth, fired ? "fired" : "did not fire", counted, r);
	tot.injected += fired;
	return fired;
}

/*
 * Did that bus die?  An unregister whose bus could not shrink destroys the
 * bus and still returns 0, as it always did; a register on a dead bus fails
 * with -ENOMEM.  Ask with a zone no model zone holds, taken back at once.
 */
static bool bus_destroyed(struct episode *ep, bool pio)
{
	struct zone probe = { .pio = pio, .size = 1, .ring = -1,
		.addr = pio ? 0xfff0 : MMIO_BASE - 0x1000 };
	u32 flags = pio ? KVM_COALESCED_ZONE_PIO : 0;
	int r = zone_ioctl(ep, KVM_REGISTER_COALESCED_MMIO, probe, flags);

	if (r == -ENOMEM)
		return true;
	TEST_ASSERT(!r, "seed %lu: registering the bus probe: %s", seed,
		    strerror(-r));
	TEST_ASSERT(!zone_ioctl(ep, KVM_UNREGISTER_COALESCED_MMIO, probe, flags),
		    "seed %lu: unregistering the bus probe failed", seed);
	return false;
}

/*
 * Give vCPU @i a new ring with allocation failures armed: each one a clean
 * -ENOMEM that leaves nothing pinned (VmPin as before); then a ring all
 * the same, so that the episode goes on.  Returns whether one was
 * injected.
 */
static bool ring_create_failing(struct episode *ep, int i, int nth)
{
	long pinned = coalesced_vmpin_kb();
	int fd = fault_arm(nth), r;
	bool injected;

	r = dedicated_ring_create(&ep->rings[i], ep->vm->fd, 64) ? -errno : 0;
	injected = fault_disarm(fd, nth, r);
	if (!r) {
		tot.rings_created++;
		return injected;
	}
	TEST_ASSERT(r == -ENOMEM && injected,
		    "seed %lu: creating a ring with failures armed: %s (%s injected)",
		    seed, strerror(-r), injected ? "a failure" : "no failure");
	TEST_ASSERT(coalesced_vmpin_kb() == pinned,
		    "seed %lu: VmPin %ld kB after a failed create, was %ld", seed,
		    coalesced_vmpin_kb(), pinned);
	ring_create(ep, i);
	return true;
}

/*
 * Replace vCPU @i's ring while the vCPU writes: destroy it, read what it
 * still holds (our memory: nothing is lost), give the vCPU a new one.
 * The lock keeps the vCPU's exits meanwhile from being judged before
 * those last entries.  With @nth_destroy or @nth_create >= 0 (as for
 * fault_arm(); -1: not armed), that ioctl runs with allocation failures
 * armed; destroy always succeeds, since a bus that cannot shrink is
 * destroyed with the zones on it.  Returns whether a failure was
 * injected.
 */
static bool ring_replace(struct episode *ep, int i, int nth_destroy,
			 int nth_create)
{
	struct dedicated_ring *buf = &ep->rings[i];
	struct zone key = { .ring = i };
	bool injected;
	int fd, r, pio;

	pthread_mutex_lock(&ep->lock);
	if (ep->scribbled == buf->ring) {
		WRITE_ONCE(buf->ring->first, ep->saved_first);
		ep->scribbled = NULL;
	}
	fd = nth_destroy < 0 ? -1 : fault_arm(nth_destroy);
	r = ioctl(ep->vm->fd, KVM_DESTROY_COALESCED_RING, (unsigned long)buf->id) ?
	    -errno : 0;
	injected = fd >= 0 && fault_disarm(fd, nth_destroy, r);
	TEST_ASSERT(!r, "seed %lu: destroying ring %d: %s", seed, buf->id,
		    strerror(-r));
	/* A failure there may have destroyed a bus it shrank. */
	for (pio = 0; injected && pio < 2; pio++)
		if (!ep->bus_gone[pio] && bus_destroyed(ep, pio))
			model_bus_destroyed(ep, pio);
	drain_ring_locked(ep, buf->ring, buf->entries, true);
	model_remove(ep, zone_of_ring, &key);
	buf->id = -1;
	dedicated_ring_destroy(buf);
	if (nth_create < 0)
		ring_create(ep, i);
	else
		injected |= ring_create_failing(ep, i, nth_create);
	tot.rings_destroyed_writing++;
	pthread_mutex_unlock(&ep->lock);
	return injected;
}

static void op_ring_churn(struct episode *ep)
{
	ring_replace(ep, rnd(ep->nr_vcpus), -1, -1);
}

/*
 * Point a ring's first out of range for a moment: KVM must send every
 * write to it to userspace as an exit meanwhile.  In hostile episodes
 * last (and first, in range) get any value at all; then only KVM's
 * survival counts.
 */
static void op_scribble(struct episode *ep)
{
	struct kvm_coalesced_mmio_ring *ring = ep->ring;
	u32 max = coalesced_ring_max();

	pthread_mutex_lock(&ep->lock);
	if (ep->dedicated) {
		struct dedicated_ring *buf = &ep->rings[rnd(ep->nr_vcpus)];

		ring = buf->ring;
		max = buf->entries;
	}
	tot.scribbles++;
	if (ep->hostile) {
		if (rnd(2))
			WRITE_ONCE(ring->last, rnd(2) ? xorshift(&host_rng) : rnd(200));
		else
			WRITE_ONCE(ring->first, rnd(2) ? xorshift(&host_rng) : rnd(200));
		pthread_mutex_unlock(&ep->lock);
		return;
	}
	drain_locked(ep, true);
	ep->saved_first = ring->first;
	ep->scribble = rnd(2) ? max + rnd(1000) :
				(u32)xorshift(&host_rng) | 0x80000000;
	ep->scribbled = ring;
	WRITE_ONCE(ring->first, ep->scribble);
	pthread_mutex_unlock(&ep->lock);
	usleep(rnd(3000));
	pthread_mutex_lock(&ep->lock);
	/* A churn may have replaced that ring meanwhile and restored it. */
	if (ep->scribbled == ring) {
		WRITE_ONCE(ring->first, ep->saved_first);
		ep->scribbled = NULL;
	}
	pthread_mutex_unlock(&ep->lock);
}

static void op_drain(struct episode *ep)
{
	pthread_mutex_lock(&ep->lock);
	drain_locked(ep, true);
	pthread_mutex_unlock(&ep->lock);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_totals(const char *what, double secs)
{
	printf("# %s: %lu episodes, %.1f s, %lu host operations (%lu invalid, %lu scribbles)\n",
	       what, tot.episodes, secs, tot.ops, tot.bad_ops, tot.scribbles);
	printf("# %s: %lu guest accesses checked (%lu coalesced, %lu exits)\n",
	       what, tot.accesses, tot.coalesced, tot.exits);
	printf("# %s: %lu VMs destroyed with entries pending\n",
	       what, tot.destroyed_pending);
	printf("# %s: %lu dedicated-ring episodes, %lu rings created, %lu destroyed in use\n",
	       what, tot.dedicated_episodes, tot.rings_created,
	       tot.rings_destroyed_writing);
}

static void test_fuzz(u64 max_ops, double max_s)
{
	double t0 = now();
	struct episode ep;

	while (tot.ops < max_ops && now() - t0 < max_s) {
		u32 ops = 10 + rnd(150), i;

		episode_start(&ep, 1 + rnd(FUZZ_VCPUS), !rnd(8),
			      newer && !rnd(3));
		for (i = 0; i < ops && tot.ops < max_ops; i++, tot.ops++) {
			u32 op = rnd(100);

			if (op < 40)
				op_register(&ep);
			else if (op < 62)
				op_unregister(&ep);
			else if (op < 70)
				op_invalid(&ep);
			else if (op < 74 && newer)
				op_invalid_ring(&ep);
			else if (op < 84)
				op_drain(&ep);
			else if (op < 91)
				op_scribble(&ep);
			else if (op < 95 && ep.dedicated)
				op_ring_churn(&ep);
			usleep(rnd(2000));
		}
		episode_end(&ep);
	}
	print_totals("fuzz", now() - t0);
}

/* ---- failslab ------------------------------------------------------- */

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	TEST_ASSERT(fd >= 0 && write(fd, val, strlen(val)) == (ssize_t)strlen(val),
		    "cannot write '%s' to %s: %s", val, path, strerror(errno));
	close(fd);
}

/* One fault-injection point (a debugfs directory): failures for us only. */
static void fault_setup(const char *dir, const char *probability)
{
	char path[128];
	static const char *const attrs[][2] = {
		{ "task-filter", "Y" },
		/* KVM allocates with GFP_KERNEL_ACCOUNT: do not skip those. */
		{ "ignore-gfp-wait", "N" },
		{ "verbose", "0" },
		{ "interval", "1" },
		/* Counted down by each failure: faults_injected(). */
		{ "times", "1000000000" },
		{ "space", "0" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, attrs[i][0]);
		write_file(path, attrs[i][1]);
	}
	snprintf(path, sizeof(path), "%sprobability", dir);
	write_file(path, probability);
}

/*
 * Slab allocations fail at random with @probability; with
 * CONFIG_FAIL_PAGE_ALLOC, fail-nth reaches page allocations too (of any
 * order, user pages included: pinning a dedicated ring faults its pages
 * in), but never at random, where a page fault of ours could fail.
 */
static void failslab_setup(const char *probability)
{
	fault_setup(FAILSLAB, probability);
	if (access(FAIL_PAGE_ALLOC "probability", W_OK))
		return;
	fault_setup(FAIL_PAGE_ALLOC, "0");
	write_file(FAIL_PAGE_ALLOC "ignore-gfp-highmem", "N");
	write_file(FAIL_PAGE_ALLOC "min-order", "0");
}

/* One zone ioctl with allocation failures armed (fault_arm()). */
static int zone_ioctl_failing(struct episode *ep, unsigned long cmd,
			      struct zone z, int nth, bool *injected)
{
	int fd = fault_arm(nth);
	int r = zone_ioctl(ep, cmd, z, zone_flags(&z));

	*injected = fault_disarm(fd, nth, r);
	return r;
}

/* Judge one register or unregister made with failures armed. */
static void failing_op(struct episode *ep, bool reg, int nth)
{
	struct zone z = random_zone(ep);
	unsigned long cmd = reg ? KVM_REGISTER_COALESCED_MMIO :
				  KVM_UNREGISTER_COALESCED_MMIO;
	int want = reg ? model_register_result(ep, z) : 0;
	bool injected;
	int r;

	if (reg && ep->nr_model == MAX_MODEL_ZONES)
		return;
	r = zone_ioctl_failing(ep, cmd, z, nth, &injected);
	tot.ops++;
	if (r == -ENOMEM && want != -ENOMEM) {
		TEST_ASSERT(injected,
			    "seed %lu: -ENOMEM without an injected failure", seed);
		if (!reg)
			model_bus_destroyed(ep, z.pio);
		return;
	}
	TEST_ASSERT(r == want, "seed %lu: %s %s zone 0x%lx+%u with failures armed: %s, want %s",
		    seed, reg ? "registering" : "unregistering",
		    z.pio ? "PIO" : "MMIO", z.addr, z.size, strerror(-r),
		    strerror(-want));
	if (!r && reg)
		ep->model[ep->nr_model++] = z;
	else if (!r && !ep->bus_gone[z.pio] && bus_destroyed(ep, z.pio))
		model_bus_destroyed(ep, z.pio);
	else if (!r)
		model_unregister(ep, z);
}

/* Let the guest make @n more accesses, or fail: the VM must keep working. */
static void expect_progress(struct episode *ep, u64 n)
{
	u64 *done = addr_gva2hva(ep->vm, (gva_t)&guest_done[0]);
	u64 start = READ_ONCE(*done);
	double t0 = now();

	while (READ_ONCE(*done) < start + n) {
		TEST_ASSERT(now() - t0 < 30,
			    "seed %lu: the guest made %lu accesses in 30 s after failed ioctls, want %lu",
			    seed, READ_ONCE(*done) - start, n);
		usleep(1000);
	}
}

/*
 * Every allocation of each ioctl in turn, in a fresh VM each time: zone
 * register and unregister, legacy and (where the kernel has them) on a
 * dedicated ring, then ring destroy and create.
 */
static void failslab_every_point(void)
{
	static const char *const kinds[] = {
		"register MMIO", "register PIO", "unregister MMIO",
		"unregister PIO", "register2 MMIO", "register2 PIO",
		"unregister2 MMIO", "unregister2 PIO", "ring destroy",
		"ring create",
	};
	int kind, nth, points[ARRAY_SIZE(kinds)] = { 0 };

	for (kind = 0; kind < (newer ? 10 : 4); kind++) {
		bool reg = kind % 4 < 2, pio = kind & 1, injected = true;
		bool dedicated = kind >= 4;

		for (nth = 1; injected && nth < 40; nth++) {
			struct episode ep;
			struct zone z = { .pio = pio, .size = 4,
				.addr = pio ? PORT_HIGH + 8 : MMIO_BASE,
				.ring = dedicated ? 0 : -1 };
			int r;

			episode_start(&ep, 1, false, dedicated);
			/*
			 * Something to unregister (a range inside it: the
			 * rule is the legacy one), and a neighbor to register.
			 */
			ep.model[ep.nr_model++] = z;
			TEST_ASSERT(!zone_ioctl(&ep, KVM_REGISTER_COALESCED_MMIO, z,
						zone_flags(&z)),
				    "registering 0x%lx failed", z.addr);
			if (kind >= 8) {
				injected = ring_replace(&ep, 0, kind == 8 ? nth : -1,
							kind == 9 ? nth : -1);
				r = 0;
			} else {
				struct zone range = z;

				z.addr -= 8;
				/* Legacy: a range inside the zone; ring zones: around it. */
				range.addr += dedicated ? -1 : 1;
				range.size = dedicated ? 6 : 2;
				r = zone_ioctl_failing(&ep, reg ? KVM_REGISTER_COALESCED_MMIO :
						       KVM_UNREGISTER_COALESCED_MMIO,
						       reg ? z : range, nth, &injected);
			}
			TEST_ASSERT(r == 0 || (injected && r == -ENOMEM),
				    "kind %d (%s a %s zone%s), allocation %d failing: %s (injected: %d)",
				    kind, reg ? "registering" : "unregistering",
				    pio ? "PIO" : "MMIO", dedicated ? " of a dedicated ring" : "",
				    nth, strerror(-r), injected);
			if (injected) {
				tot.nth_points++;
				points[kind]++;
			}
			expect_progress(&ep, 50);
			episode_end(&ep);
		}
	}
	printf("# fail-nth, allocations failed in turn:");
	for (kind = 0; kind < (newer ? 10 : 4); kind++)
		printf("%s %s %d", kind ? "," : "", kinds[kind], points[kind]);
	printf("\n");
	/* Each of these ioctls allocates: a kind never failed went untested. */
	for (kind = 0; kind < (newer ? 10 : 4); kind++)
		TEST_ASSERT(points[kind] > 0,
			    "fail-nth: no allocation of %s failed, so none was tested",
			    kinds[kind]);
}

static void test_failslab(u64 max_ops, double max_s)
{
	double t0 = now();
	struct episode ep;
	u64 nth_injected;

	if (access(FAILSLAB "probability", W_OK)) {
		printf("# SKIP no %s: a kernel without CONFIG_FAILSLAB or debugfs\n",
		       FAILSLAB);
		exit(KSFT_SKIP);
	}
	memset(&tot, 0, sizeof(tot));
	failslab_setup("30");
	failslab_every_point();
	printf("# fail-nth: failed each of %lu allocations of register and unregister%s in turn\n",
	       tot.nth_points, newer ? ", ring destroy and create" : "");
	nth_injected = tot.injected;

	/* The random part gets its own time: the part above takes a while. */
	t0 = now();
	while (tot.ops < max_ops && now() - t0 < max_s) {
		u32 ops = 20 + rnd(100), i;

		episode_start(&ep, 1 + rnd(FUZZ_VCPUS), false,
			      newer && !rnd(3));
		for (i = 0; i < ops && tot.ops < max_ops; i++) {
			if (ep.dedicated && !rnd(10))
				ring_replace(&ep, rnd(ep.nr_vcpus), 0, 0);
			else
				failing_op(&ep, rnd(3), 0);
			usleep(rnd(1000));
		}
		expect_progress(&ep, 50);
		episode_end(&ep);
	}
	write_file(FAILSLAB "probability", "0");
	printf("# failslab: %lu allocation failures injected, %lu of them at random\n",
	       tot.injected, tot.injected - nth_injected);
	print_totals("failslab", now() - t0);
	TEST_ASSERT(tot.injected - nth_injected > 0,
		    "seed %lu: %lu operations at random, and failslab injected no failure",
		    seed, tot.ops);
}

/* ---- main ------------------------------------------------------------ */

static void run_case(const char *name, void (*fn)(u64, double),
		     u64 ops, double secs)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork failed");
	if (!pid) {
		host_rng = seed;
		fn(ops, secs);
		exit(0);
	}
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		ksft_test_result_pass("%s\n", name);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_SKIP)
		ksft_test_result_skip("%s\n", name);
	else
		ksft_test_result_fail("%s (rerun: SEED=%lu)\n", name, seed);
}

int main(int argc, char *argv[])
{
	struct sigaction sa = { .sa_handler = kick };
	u64 ops = 3000;
	double secs = 60;
	int opt;

	seed = getenv("SEED") ? strtoull(getenv("SEED"), NULL, 0) : 0;
	while ((opt = getopt(argc, argv, "s:n:t:")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			ops = strtoull(optarg, NULL, 0);
			break;
		case 't':
			secs = atof(optarg);
			break;
		default:
			printf("usage: %s [-s SEED] [-n OPS] [-t SECONDS]\n", argv[0]);
			exit(KSFT_FAIL);
		}
	}
	if (!seed)
		seed = (u64)time(NULL) ^ ((u64)getpid() << 32);
	setbuf(stdout, NULL);
	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART: kicks KVM_RUN */
	newer = coalesced_kvm_expect_newer();

	ksft_print_header();
	ksft_set_plan(2);
	printf("# seed %lu (rerun: SEED=%lu), at most %lu operations or %.0f s per case\n",
	       seed, seed, ops, secs);
	printf("# kernel %s\n", newer ? "newer, with dedicated rings" : "older");
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_COALESCED_PIO));
	run_case("fuzz", test_fuzz, ops, secs);
	run_case("failslab", test_failslab, ops, secs);
	ksft_finished();
}
