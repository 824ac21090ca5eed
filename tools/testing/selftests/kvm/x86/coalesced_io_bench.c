// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cost of a guest port write: exit to userspace, coalesced into the ring,
 * handled in the kernel by an ioeventfd (the floor for a write that does
 * not exit), the RTC pattern, bursts between drains, two vCPUs, and a
 * 10,000-write burst through the legacy ring (drained at exits, or by a
 * thread spinning on it) or a dedicated ring drained by a thread that
 * sleeps in poll().
 *
 * Prints one CSV line per repetition, prefixed with "@@CSV ":
 *   case,burst,vcpus,rep,writes,exits,cycles_per_write,ns_per_write
 * Cycles are the guest's TSC around each burst; ns are host wall time for
 * the whole run divided by the writes.  Usage: coalesced_io_bench [SCALE]
 * where SCALE (default 1) multiplies the number of writes; the test VM's
 * smoke run uses a tiny scale.  It reports, it never judges.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>

#include "test_util.h"
#include "kvm_util.h"
#include "processor.h"
#include "coalesced_ring.h"

#define BENCH_PORT	0xcf8
#define RTC_INDEX	0x70
#define REPS		5
#define MAX_VCPUS	2

enum bench_case { PLAIN_OUT, RTC_PATTERN };

/* Guest parameters, set before each run. */
static u32 guest_case, guest_burst, guest_rounds;

static void bench_guest(void)
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
				asm volatile("outl %k0, %w1" : : "a"(i), "Nd"(BENCH_PORT));
			}
		}
		cycles = rdtsc() - t0;
		GUEST_SYNC(cycles);	/* the host drains the ring here */
	}
	GUEST_DONE();
}

/* How the ring is drained besides at each exit (by the vCPU thread). */
enum drainer { AT_EXITS, SPINNING_THREAD, POLLING_THREAD };

struct bench_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu[MAX_VCPUS];
	struct kvm_coalesced_mmio_ring *ring;
	u32 ring_entries;
	pthread_mutex_t lock;	/* one drainer of the ring at a time */
	u64 exits, cycles, entries;
#ifdef KVM_CAP_COALESCED_MMIO2
	struct coalesced_buffer buf;	/* fd -1: the legacy ring */
#endif
	enum drainer drainer;
	bool stop;		/* set when the vCPUs are done */
};

static void count_entry(const struct kvm_coalesced_mmio *e, void *arg)
{
	(*(u64 *)arg)++;
}

static void *vcpu_thread(void *arg)
{
	struct bench_vm *b = ((void **)arg)[0];
	struct kvm_vcpu *vcpu = ((void **)arg)[1];
	struct ucall uc;

	for (;;) {
		vcpu_run(vcpu);
		pthread_mutex_lock(&b->lock);
		coalesced_ring_drain_n(b->ring, b->ring_entries, count_entry,
				       &b->entries);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_DONE:
			pthread_mutex_unlock(&b->lock);
			return NULL;
		case UCALL_SYNC:
			b->cycles += uc.args[1];
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

/* An I/O thread that drains the ring while the vCPU runs. */
static void *drain_thread(void *arg)
{
	struct bench_vm *b = arg;

	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
#ifdef KVM_CAP_COALESCED_MMIO2
		if (b->drainer == POLLING_THREAD &&
		    coalesced_buffer_wait(&b->buf, 100) <= 0)
			continue;
#endif
		pthread_mutex_lock(&b->lock);
		coalesced_ring_drain_n(b->ring, b->ring_entries, count_entry,
				       &b->entries);
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

static void add_zone(struct kvm_vm *vm, u64 port, u32 size)
{
	kvm_vm_register_coalesced_io(vm, port, size, true);
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

/* A dedicated ring for @writes entries, with the bench port bound to it. */
static void use_dedicated_ring(struct bench_vm *b, u32 writes)
{
#ifdef KVM_CAP_COALESCED_MMIO2
	u32 pages = coalesced_buffer_pages_for(writes,
						    coalesced_buffer_max_pages(b->vm->fd));

	/* Wake the drainer once per eighth of the ring, not per write. */
	TEST_ASSERT(pages && !coalesced_buffer_create(&b->buf, b->vm->fd, pages,
						      KVM_COALESCED_MMIO_RING_ENTRIES(pages *
						      getpagesize()) / 8),
		    "cannot create a dedicated ring for %u writes", writes);
	TEST_ASSERT(!coalesced_buffer_zone(&b->buf, b->vm->fd,
					   KVM_REGISTER_COALESCED_MMIO2, BENCH_PORT,
					   4, KVM_COALESCED_ZONE_PIO),
		    "cannot bind port 0x%x to the dedicated ring", BENCH_PORT);
	b->ring = b->buf.ring;
	b->ring_entries = b->buf.entries;
#endif
}

/* One repetition of one configuration: print its CSV line. */
static void bench_run(const char *name, enum bench_case kase, const char *setup,
		      u32 burst, u32 writes, int vcpus, int rep)
{
	pthread_t threads[MAX_VCPUS], drainer;
	void *args[MAX_VCPUS][2];
	struct bench_vm b = { 0 };
	u64 total;
	double t0, ns;
	int i;

	b.vm = vm_create_with_vcpus(vcpus, bench_guest, b.vcpu);
	pthread_mutex_init(&b.lock, NULL);
	guest_case = kase;
	guest_burst = burst;
	guest_rounds = writes / burst ? writes / burst : 1;
	sync_global_to_guest(b.vm, guest_case);
	sync_global_to_guest(b.vm, guest_burst);
	sync_global_to_guest(b.vm, guest_rounds);
	b.ring = coalesced_ring_map(b.vm->fd, b.vcpu[0]->fd);
	TEST_ASSERT(b.ring, "cannot map the coalesced ring");
	b.ring_entries = coalesced_ring_max();
#ifdef KVM_CAP_COALESCED_MMIO2
	b.buf.fd = -1;
#endif
	if (!strcmp(setup, "zone") || !strcmp(setup, "zone+spin"))
		add_zone(b.vm, kase == RTC_PATTERN ? RTC_INDEX : BENCH_PORT,
			 kase == RTC_PATTERN ? 1 : 4);
	else if (!strcmp(setup, "ioeventfd"))
		add_ioeventfd(b.vm, BENCH_PORT);
	else if (!strcmp(setup, "dedicated+poll"))
		use_dedicated_ring(&b, writes);
	b.drainer = !strcmp(setup, "zone+spin") ? SPINNING_THREAD :
		    !strcmp(setup, "dedicated+poll") ? POLLING_THREAD : AT_EXITS;
	if (b.drainer != AT_EXITS)
		pthread_create(&drainer, NULL, drain_thread, &b);

	t0 = now_ns();
	for (i = 0; i < vcpus; i++) {
		args[i][0] = &b;
		args[i][1] = b.vcpu[i];
		pthread_create(&threads[i], NULL, vcpu_thread, args[i]);
	}
	for (i = 0; i < vcpus; i++)
		pthread_join(threads[i], NULL);
	ns = now_ns() - t0;
	if (b.drainer != AT_EXITS) {
		__atomic_store_n(&b.stop, true, __ATOMIC_RELEASE);
		pthread_join(drainer, NULL);
	}
#ifdef KVM_CAP_COALESCED_MMIO2
	coalesced_buffer_destroy(&b.buf);
#endif

	total = (u64)guest_burst * guest_rounds * vcpus;
	printf("@@CSV %s,%u,%d,%d,%lu,%lu,%.1f,%.1f\n", name, burst, vcpus,
	       rep, total, b.exits, (double)b.cycles / total, ns / total);
	kvm_vm_free(b.vm);
}

int main(int argc, char *argv[])
{
	static const u32 bursts[] = { 1, 10, 100, 1000, 10000 };
	double scale = argc > 1 ? atof(argv[1]) : 1;
	u32 n = 2000 * scale, i;
	bool dedicated = false;
	int rep;

#ifdef KVM_CAP_COALESCED_MMIO2
	dedicated = kvm_check_cap(KVM_CAP_COALESCED_MMIO2) > 0;
#endif
	if (n < 10)
		n = 10;
	printf("# coalesced I/O bench: %u writes per run, %d repetitions, PIO zones %s\n",
	       n, REPS, kvm_check_cap(KVM_CAP_COALESCED_PIO) ? "on" : "off");
	for (rep = 0; rep < REPS; rep++) {
		/* Bursts of 64 fit in any ring, mainline's half ring too. */
		bench_run("a_exit", PLAIN_OUT, "none", 64, n, 1, rep);
		bench_run("b_coalesced", PLAIN_OUT, "zone", 64, n, 1, rep);
		bench_run("d_ioeventfd", PLAIN_OUT, "ioeventfd", 64, n, 1, rep);
		bench_run("e_rtc_exit", RTC_PATTERN, "none", 64, n, 1, rep);
		bench_run("e_rtc_coalesced", RTC_PATTERN, "zone", 64, n, 1, rep);
		/* A smoke run (small n) keeps only the bursts that fit. */
		for (i = 0; i < ARRAY_SIZE(bursts); i++)
			if (scale >= 1 || bursts[i] <= n)
				bench_run("f_burst", PLAIN_OUT, "zone", bursts[i],
					  bursts[i] > n ? bursts[i] : n, 1, rep);
		bench_run("g_vcpus", PLAIN_OUT, "zone", 64, n, 1, rep);
		bench_run("g_vcpus", PLAIN_OUT, "zone", 64, n, 2, rep);
		/* One 10,000-write burst, whatever the scale. */
		bench_run("h_legacy_at_exits", PLAIN_OUT, "zone", 10000, 10000, 1, rep);
		bench_run("h_legacy_spinning", PLAIN_OUT, "zone+spin", 10000, 10000, 1, rep);
		if (dedicated)
			bench_run("h_dedicated_poll", PLAIN_OUT, "dedicated+poll",
				  10000, 10000, 1, rep);
	}
	return 0;
}
