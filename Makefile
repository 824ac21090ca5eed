# SPDX-License-Identifier: GPL-2.0
# Coalesced port I/O for KVM: build our kvm.ko for a kernel people run and
# test it in a throwaway QEMU VM. Everything goes to build/<base>/.
#
#   BASE=6.1 (default)   Debian 12's stock kernel;  BASE=6.12: the 6.12 LTS
#                        of Debian 12 backports (or of Debian 13, for a
#                        +deb13 KVER);  BASE=7.2: mainline 7.2 built here
#                        from Debian unstable's source (bases/*.conf)
#   make                 deps, base tree, modules, selftests, VM, demo (its
#                        kernel part first, then guests in our QEMU)
#   make demo-kernel     the kernel part of the demo only: no QEMU build
#   make check           every test in the VM, TAP, "N passed, N failed, N skipped, N retried"
#   make check MODULES=stock   the same tests on Debian's stock modules
#   make check-mutants   our tests on each broken engine of harness/mutants: all
#                        must fail ("mutants: N killed of N"; MUTANTS="name ...")
#   make check-all       make check on every base (CI: FRESH=1 PRUNE=1)
#   make check TESTS=coalesced_pio_test   only some tests (names or globs)
#   make KVER=$(uname -r)      build for the running Debian kernel
#   make check-debug     the same on a KASAN/lockdep/failslab/kmemleak kernel
#   make bench           cost of a port write: exit, coalesced, mainline, floor,
#                        counted in instructions (BENCH_MODE=wallclock: time)
#   make hang-rate       how often the nested Linux guest's boot hangs: ours and
#                        stock modules, coalescing on and off (BOOTS=25 each)
#   make bench-vmm       QEMU with coalescing off, the legacy ring, a dedicated
#                        ring (with its eventfd at 1 and at none too): a nested
#                        Linux guest's exits and times, 6 workloads
#   make install         (root) our modules for the running Debian 12/13 kernel
#   make uninstall       (root) back to the stock modules
#   make dkms            a DKMS tree in build/<base>/dkms for "dkms add"
#   make check-install   install/uninstall and dkms build, on copies only
#   make check-debian13  (root) check-install for Debian 13's 6.12, in a Debian 13 root
#   make qemu            qemu-system-x86_64 from Debian's source with qemu/patches (build/qemu)
#   make series          the change as three topic series and the held fourth
#                        against mainline 7.2 (patches/series), in build/7.2/series
#   make series-export   build/7.2/linux's edited series back into patches/
#   make lint            checkpatch, sparse and W=1, ioctl numbers, the docs
#   make modules         only our modules (make selftests: only the selftests)
#   make check-fresh     (root) the README's make on a brand-new minimal Debian 12
#                        (FRESH_CCACHE=0: with no compile cache, as a new machine)
#   make clean           remove build/ and nothing else

SHELL := /bin/bash
H := harness
MODULES ?= ours
SCALE ?= 1
# The default base is lib.sh's DEFAULT_BASE (one place).
ifeq ($(origin BASE),undefined)
BASE := $(shell sed -n 's/^DEFAULT_BASE=//p' $(H)/lib.sh)
endif
export BASE MODULES TESTS VERBOSE SEED FRESH PRUNE BOOTS MUTANTS
ifdef KVER
export KVER
endif

.PHONY: check-mutants check-all all deps base headers vmkernel modules selftests initramfs qemu-image demo demo-kernel check bench lint clean \
	debug-kernel check-debug install uninstall dkms series check-fresh \
	check-install check-debian13 qemu bench-vmm hang-rate series-export
# Make's own flags (-j and its jobserver) stay in this Makefile: the
# scripts run their makes with their own -j.
unexport MAKEFLAGS

# make: the demo.  Two jobs at a time: our QEMU builds, at a lower
# priority, beside the base, the modules and the selftests; the kernel
# part of the demo runs as soon as they are ready, and the guests in
# QEMU follow once our QEMU is built.
all:
	@$(MAKE) --no-print-directory -j2 demo

deps:
	@echo "==> checking Debian packages"
	@$(H)/base/deps.sh

base: deps
	@$(H)/base/base.sh

vmkernel: base
	@$(H)/base/vmkernel.sh

# The tree modules build against: Debian's headers, or the built kernel.
headers: deps vmkernel
	@$(H)/base/headers.sh

modules: base headers
	@$(H)/base/modules.sh

selftests: base
	@$(H)/base/selftests.sh

initramfs: modules selftests vmkernel
	@$(H)/vm/initramfs.sh

# Our qemu-system-x86_64: Debian's QEMU source with qemu/patches.
qemu: deps
	@$(H)/e2e/qemu-build.sh

qemu-image: deps qemu vmkernel
	@$(H)/e2e/qemu-image.sh

demo: demo-kernel qemu-image
	@$(H)/bench/demo.sh guests

demo-kernel: initramfs
	@echo "==> booting the VM for the demo (MODULES=$(MODULES))"
	@$(H)/bench/demo.sh kernel

check: initramfs qemu-image
	@echo "==> make check (MODULES=$(MODULES))"
	@$(H)/check.sh

# Our tests on each mutant of the engine (harness/mutants/*.patch): every
# one must make a test fail.
check-mutants: initramfs
	@echo "==> make check-mutants: our tests on broken engines (harness/mutants)"
	@$(H)/mutants/check-mutants.sh

# make check on every base, the default first; one line of totals.
check-all:
	@$(H)/check-all.sh

# The README's promise, tested: debootstrap a minimal Debian 12 into
# build/<base>/fresh, install git and make only, clone this repository, run make.
check-fresh:
	@echo "==> make check-fresh: the README's make on a minimal Debian 12 (build/$(BASE)/fresh)"
	@$(H)/host/check-fresh.sh

# make install and DKMS, checked on copies of the kernel's /lib/modules.
check-install: modules vmkernel
	@echo "==> make check-install: make install/uninstall and dkms on copies of /lib/modules (BASE=$(BASE))"
	@$(H)/host/install-test.sh
	@$(H)/host/dkms.sh test

# The same on Debian 13's 6.12 kernels, in a minimal Debian 13 root.
check-debian13:
	@echo "==> make check-debian13: make install and dkms for Debian 13's 6.12 kernels (build/6.12/debian13)"
	@$(H)/host/check-debian13.sh

# A full kernel with KASAN, lockdep, failslab and kmemleak, KVM built in.
debug-kernel: base
	@$(H)/base/kernel-build.sh debug

check-debug: debug-kernel initramfs
	@echo "==> make check-debug: the tests on the debug kernel"
	@DEBUG_KERNEL=1 $(H)/check.sh

bench: initramfs
	@echo "==> make bench: the cost of a port write, ours vs stock (SCALE=$(SCALE), BENCH_MODE=$(or $(BENCH_MODE),icount))"
	@SCALE=$(SCALE) $(H)/bench/bench.sh

bench-vmm: initramfs qemu-image
	@echo "==> make bench-vmm: a Linux guest in our QEMU, coalescing off, legacy ring, dedicated ring"
	@$(H)/e2e/vmm.sh table

hang-rate: initramfs qemu-image
	@echo "==> make hang-rate: nested Linux boots, ours and stock, coalescing on and off"
	@$(H)/bench/hang-rate.sh

lint: base
	@echo "==> checkpatch --strict, sparse and W=1 on what we own"
	@$(H)/lint/lint.sh

# On a host running a Debian kernel of one of the bases (root): ours under
# updates/. The running kernel picks the base.
install:
	@echo "==> make install: our kvm modules for the running kernel $$(uname -r)"
	@rel=$$(uname -r) && base=$$(KVER=$$rel $(H)/host/install.sh base) && \
	BASE=$$base KVER=$$rel $(H)/host/install.sh check && \
	$(MAKE) --no-print-directory modules BASE=$$base KVER=$$rel && \
	BASE=$$base KVER=$$rel $(H)/host/install.sh install

uninstall:
	@echo "==> make uninstall: back to the stock kvm modules of $$(uname -r)"
	@rel=$$(uname -r) && BASE=$$(KVER=$$rel $(H)/host/install.sh base) KVER=$$rel $(H)/host/install.sh uninstall

# A tree for "dkms add": rebuilt by DKMS on every Debian kernel update.
dkms: base
	@$(H)/host/dkms.sh package

# Our change as the topic series of patches/series against mainline
# (lib.sh MAINLINE_BASE), each patch checked and built.
SERIES_BASE := $(shell sed -n 's/^MAINLINE_BASE=//p' $(H)/lib.sh)
series:
	@echo "==> make series: build/$(SERIES_BASE)/series, checkpatch and a build after every patch"
	@$(MAKE) --no-print-directory initramfs BASE=$(SERIES_BASE)
	@BASE=$(SERIES_BASE) $(H)/series/series.sh make

# The series as build/<mainline>/linux's branch "series" has it, after an
# edit there, written back to patches/ and our new files.
series-export:
	@BASE=$(SERIES_BASE) $(H)/series/series-export.sh

clean:
	@echo "==> removing build/"
	rm -rf build
