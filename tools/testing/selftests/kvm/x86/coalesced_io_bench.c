// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cost of a guest port write: exit to userspace, coalesced into the legacy
 * ring or a dedicated one, handled in the kernel by an ioeventfd (the
 * floor for a write that does not exit), the RTC pattern, bursts between
 * drains, 1, 2 and 4 vCPUs on one ring or on a ring each, and a
 * 10,000-write burst through the legacy ring (drained at exits, or by a
 * thread spinning on it) or a dedicated ring drained by a thread spinning
 * on it.
 *
 * Prints one CSV line per repetition, prefixed with "@@CSV ":
 *   case,burst,vcpus,rep,writes,exits,cycles_per_write,ns_per_write,
 *   best_cycles_per_write
 * Cycles are the guest's TSC around each burst, summed over the vCPUs;
 * ns are host wall time for the whole run divided by the writes; the best
 * is the cheapest burst's cycles per write.  Under instruction counting
 * (QEMU's -icount) the TSC counts instructions: the cheapest burst, which
 * no interrupt hit, is then the same in every run.
 *
 * Usage: coalesced_io_bench [-s SCALE] [-r REPS] [-c CASE,...]
 *   -s SCALE  multiplies the number of writes (default 1; a quick check
 *             that it runs can use a tiny scale)
 *   -r REPS   repetitions of each configuration (default 5)
 *   -c CASES  only the cases whose names start with one of these
 * It reports, it never judges.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "dedicated_ring.h"

/* vCPU i writes BENCH_PORT + 4 * i (one port for all on a shared ring). */
#define BENCH_PORT	0xcf8
#define RTC_INDEX	0x70
#define MAX_VCPUS	4

enum bench_case { PLAIN_OUT, RTC_PATTERN };

/* Guest parameters, set before each run. */
static u32 guest_case, guest_burst, guest_rounds;

static void bench_guest(u16 port)
{
	u64 t0, cycles;
	u32 r, i;
	u8 val;

	for (r = 0; r < guest_rounds; r++) {
		t0 = rdtsc();
		for (i = 0; i < guest_burst; i++) {
			if (guest_case == RTC_PATTERN) {
				asm volatile("outb %b0, $0x70" : : "a"((u8)i));
				asm volatile("inb $0x71, %b0" : "=a"(val));
			} else {
				asm volatile("outl %k0, %w1" : : "a"(i), "Nd"(port));
			}
		}
		cycles = rdtsc() - t0;
		GUEST_SYNC(cycles);	/* the host drains the ring here */
	}
	GUEST_DONE();
}

/* How the rings are drained besides at each exit (by the vCPU thread). */
enum drainer { AT_EXITS, SPINNING_THREAD };

/* How the writes are set up. */
enum setup {
	NO_ZONE,		/* every write exits */
	LEGACY_ZONE,		/* the VM's legacy ring */
	IOEVENTFD,		/* handled in the kernel: the floor */
	DEDICATED_RING,		/* one dedicated ring for all vCPUs */
	RING_PER_VCPU,		/* a dedicated ring for each vCPU */
};

struct bench_vm;

/* One vCPU, its thread and the ring it drains at its exits. */
struct bench_vcpu {
	struct bench_vm *b;
	struct kvm_vcpu *vcpu;
	struct kvm_coalesced_mmio_ring *ring;
	u32 ring_entries;
#ifdef KVM_CAP_COALESCED_RING
	struct dedicated_ring buf;	/* id -1: none of its own */
#endif
	pthread_t thread;
};

struct bench_vm {
	struct kvm_vm *vm;
	struct bench_vcpu v[MAX_VCPUS];
	int nr_vcpus;
	pthread_mutex_t lock;	/* one drainer of a ring at a time; counters */
	u64 exits, cycles, entries;
	u64 best;		/* the cheapest burst's cycles */
	enum drainer drainer;
	bool stop;		/* set when the vCPUs are done */
};

static void count_entry(const struct kvm_coalesced_mmio *e, void *arg)
{
	(*(u64 *)arg)++;
}

static void drain(struct bench_vcpu *v)
{
	coalesced_ring_drain_n(v->ring, v->ring_entries, count_entry,
			       &v->b->entries);
}

static void *vcpu_thread(void *arg)
{
	struct bench_vcpu *v = arg;
	struct bench_vm *b = v->b;
	struct kvm_vcpu *vcpu = v->vcpu;
	struct ucall uc;

	for (;;) {
		vcpu_run(vcpu);
		pthread_mutex_lock(&b->lock);
		drain(v);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_DONE:
			pthread_mutex_unlock(&b->lock);
			return NULL;
		case UCALL_SYNC:
			b->cycles += uc.args[1];
			b->best = min_t(u64, b->best, uc.args[1]);
			break;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_ASSERT(vcpu->run->exit_reason == KVM_EXIT_IO,
				    "unexpected exit %s",
				    exit_reason_str(vcpu->run->exit_reason));
			if (vcpu->run->io.direction == KVM_EXIT_IO_IN)
				*((u8 *)vcpu->run + vcpu->run->io.data_offset) = 0;
			b->exits++;
		}
		pthread_mutex_unlock(&b->lock);
	}
}

/* An I/O thread that drains vCPU 0's ring while the vCPU runs. */
static void *drain_thread(void *arg)
{
	struct bench_vm *b = arg;

	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&b->lock);
		drain(&b->v[0]);
		pthread_mutex_unlock(&b->lock);
	}
	return NULL;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void add_ioeventfd(struct kvm_vm *vm, u64 port)
{
	struct kvm_ioeventfd ioe = {
		.addr = port, .len = 4, .fd = eventfd(0, EFD_NONBLOCK),
		.flags = KVM_IOEVENTFD_FLAG_PIO,
	};

	TEST_ASSERT(ioe.fd >= 0, "eventfd failed");
	vm_ioctl(vm, KVM_IOEVENTFD, &ioe);
}

/*
 * A dedicated ring for @writes entries, drained by @v's thread, with
 * @port bound to it.
 */
static void use_dedicated_ring(struct bench_vm *b, struct bench_vcpu *v,
			       u32 writes, u16 port)
{
#ifdef KVM_CAP_COALESCED_RING
	u32 max = dedicated_ring_max_entries(b->vm->fd);
	/* The whole burst, and the one slot that always stays empty. */
	u32 entries = min_t(u64, (u64)writes + 1, max);

	TEST_ASSERT(entries >= 16 &&
		    !dedicated_ring_create(&v->buf, b->vm->fd, entries),
		    "cannot create a dedicated ring for %u writes", writes);
	TEST_ASSERT(!dedicated_ring_zone(&v->buf, KVM_REGISTER_COALESCED_RING_ZONE,
					 port, 4, KVM_COALESCED_ZONE_PIO),
		    "cannot bind port 0x%x to the dedicated ring", port);
	v->ring = v->buf.ring;
	v->ring_entries = v->buf.entries;
#endif
}

static bool have_dedicated_rings(void)
{
#ifdef KVM_CAP_COALESCED_RING
	return kvm_check_cap(KVM_CAP_COALESCED_RING) > 0;
#else
	return false;
#endif
}

static const char *only_cases;

/* Is @name selected by -c (a comma-separated list of name prefixes)? */
static bool selected(const char *name)
{
	const char *p = only_cases;
	size_t n;

	if (!p)
		return true;
	while (*p) {
		n = strcspn(p, ",");
		if (n && !strncmp(name, p, n))
			return true;
		p += n + !!p[n];
	}
	return false;
}

/* One repetition of one configuration, if -c selects it: its CSV line. */
static void bench_run(const char *name, enum bench_case kase, enum setup setup,
		      enum drainer drainer, u32 burst, u32 writes, int vcpus,
		      int rep)
{
	struct kvm_vcpu *vcpu[MAX_VCPUS];
	struct kvm_coalesced_mmio_ring *legacy;
	struct bench_vm b = { .nr_vcpus = vcpus, .drainer = drainer,
			      .best = UINT64_MAX };
	pthread_t drainer_thread;
	u64 total;
	double t0, ns;
	int i;

	if (!selected(name))
		return;
	b.vm = vm_create_with_vcpus(vcpus, bench_guest, vcpu);
	pthread_mutex_init(&b.lock, NULL);
	guest_case = kase;
	guest_burst = burst;
	guest_rounds = writes / burst ? writes / burst : 1;
	sync_global_to_guest(b.vm, guest_case);
	sync_global_to_guest(b.vm, guest_burst);
	sync_global_to_guest(b.vm, guest_rounds);
	legacy = coalesced_ring_map(b.vm->fd, vcpu[0]->fd);
	TEST_ASSERT(legacy, "cannot map the coalesced ring");

	for (i = 0; i < vcpus; i++) {
		struct bench_vcpu *v = &b.v[i];
		u16 port = BENCH_PORT + (setup == RING_PER_VCPU ? 4 * i : 0);

		v->b = &b;
		v->vcpu = vcpu[i];
		v->ring = legacy;
		v->ring_entries = coalesced_ring_max();
#ifdef KVM_CAP_COALESCED_RING
		v->buf = (struct dedicated_ring)DEDICATED_RING_INIT;
#endif
		vcpu_args_set(vcpu[i], 1, port);
		if (setup == RING_PER_VCPU || (setup == DEDICATED_RING && !i)) {
			use_dedicated_ring(&b, v, writes, port);
		} else if (setup == DEDICATED_RING) {
			v->ring = b.v[0].ring;
			v->ring_entries = b.v[0].ring_entries;
		}
	}
	if (setup == LEGACY_ZONE)
		kvm_vm_register_coalesced_io(b.vm,
					     kase == RTC_PATTERN ? RTC_INDEX : BENCH_PORT,
					     kase == RTC_PATTERN ? 1 : 4, true);
	else if (setup == IOEVENTFD)
		add_ioeventfd(b.vm, BENCH_PORT);
	if (drainer != AT_EXITS)
		pthread_create(&drainer_thread, NULL, drain_thread, &b);

	t0 = now_ns();
	for (i = 0; i < vcpus; i++)
		pthread_create(&b.v[i].thread, NULL, vcpu_thread, &b.v[i]);
	for (i = 0; i < vcpus; i++)
		pthread_join(b.v[i].thread, NULL);
	ns = now_ns() - t0;
	if (drainer != AT_EXITS) {
		__atomic_store_n(&b.stop, true, __ATOMIC_RELEASE);
		pthread_join(drainer_thread, NULL);
	}
#ifdef KVM_CAP_COALESCED_RING
	for (i = 0; i < vcpus; i++)
		if (setup == RING_PER_VCPU || !i)
			dedicated_ring_destroy(&b.v[i].buf);
#endif

	total = (u64)guest_burst * guest_rounds * vcpus;
	printf("@@CSV %s,%u,%d,%d,%lu,%lu,%.1f,%.1f,%.1f\n", name, burst, vcpus,
	       rep, total, b.exits, (double)b.cycles / total, ns / total,
	       (double)b.best / guest_burst);
	fflush(stdout);
	kvm_vm_free(b.vm);
}

static void help(const char *prog)
{
	printf("usage: %s [-s SCALE] [-r REPS] [-c CASE,...]\n", prog);
}

int main(int argc, char *argv[])
{
	static const u32 bursts[] = { 1, 10, 100, 1000, 10000 };
	static const int vcpu_counts[] = { 1, 2, 4 };
	double scale = 1;
	int reps = 5, rep, opt;
	bool dedicated;
	u32 n, i;

	while ((opt = getopt(argc, argv, "hs:r:c:")) != -1) {
		switch (opt) {
		case 's':
			scale = atof(optarg);
			break;
		case 'r':
			reps = atoi(optarg);
			TEST_ASSERT(reps > 0, "-r wants a positive count, not '%s'",
				    optarg);
			break;
		case 'c':
			only_cases = optarg;
			break;
		default:
			help(argv[0]);
			exit(opt == 'h' ? 0 : KSFT_FAIL);
		}
	}
	n = 2000 * scale;
	if (n < 10)
		n = 10;
	dedicated = have_dedicated_rings();
	printf("# coalesced I/O bench: %u writes, %d reps, PIO zones %s, dedicated rings %s\n",
	       n, reps, kvm_check_cap(KVM_CAP_COALESCED_PIO) ? "on" : "off",
	       dedicated ? "on" : "off");
	for (rep = 0; rep < reps; rep++) {
		/* Bursts of 64 fit in any ring, older kernels' half ring too. */
		bench_run("a_exit", PLAIN_OUT, NO_ZONE, AT_EXITS, 64, n, 1, rep);
		bench_run("b_coalesced", PLAIN_OUT, LEGACY_ZONE, AT_EXITS, 64, n,
			  1, rep);
		if (dedicated)
			bench_run("b_dedicated", PLAIN_OUT, DEDICATED_RING,
				  AT_EXITS, 64, n, 1, rep);
		bench_run("d_ioeventfd", PLAIN_OUT, IOEVENTFD, AT_EXITS, 64, n,
			  1, rep);
		bench_run("e_rtc_exit", RTC_PATTERN, NO_ZONE, AT_EXITS, 64, n,
			  1, rep);
		bench_run("e_rtc_coalesced", RTC_PATTERN, LEGACY_ZONE, AT_EXITS,
			  64, n, 1, rep);
		/* A smoke run (small n) keeps only the bursts that fit. */
		for (i = 0; i < ARRAY_SIZE(bursts); i++) {
			u32 burst = bursts[i];

			if (scale < 1 && burst > n)
				continue;
			bench_run("f_burst", PLAIN_OUT, LEGACY_ZONE, AT_EXITS,
				  burst, burst > n ? burst : n, 1, rep);
		}
		for (i = 0; i < ARRAY_SIZE(vcpu_counts); i++) {
			bench_run("g_vcpus_one_ring", PLAIN_OUT, LEGACY_ZONE,
				  AT_EXITS, 64, n, vcpu_counts[i], rep);
			if (dedicated)
				bench_run("g_vcpus_ring_each", PLAIN_OUT,
					  RING_PER_VCPU, AT_EXITS, 64, n,
					  vcpu_counts[i], rep);
		}
		/* One 10,000-write burst, whatever the scale. */
		bench_run("h_legacy_at_exits", PLAIN_OUT, LEGACY_ZONE, AT_EXITS,
			  10000, 10000, 1, rep);
		bench_run("h_legacy_spinning", PLAIN_OUT, LEGACY_ZONE,
			  SPINNING_THREAD, 10000, 10000, 1, rep);
		if (dedicated)
			bench_run("h_dedicated_spinning", PLAIN_OUT, DEDICATED_RING,
				  SPINNING_THREAD, 10000, 10000, 1, rep);
	}
	return 0;
}
