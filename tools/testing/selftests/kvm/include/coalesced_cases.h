/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The case runner of the coalesced I/O selftests: each case runs in a
 * child process with VMs of its own, under a time limit, and is one TAP
 * line.  CASE=<name> runs only that case; time limits are multiplied by
 * $TIMEOUT_SCALE (a debug kernel is slow).
 */
#ifndef SELFTEST_KVM_COALESCED_CASES_H
#define SELFTEST_KVM_COALESCED_CASES_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"
#include "kvm_util.h"

struct coalesced_case {
	const char *name;
	void (*fn)(void);
};

static int timeout_scale = 1;

/* End the running case as skipped, with the reason on a "# SKIP" line. */
#define SKIP_CASE(fmt, ...) do {					\
	printf("# SKIP " fmt "\n", ##__VA_ARGS__);			\
	exit(KSFT_SKIP);						\
} while (0)

static inline uint64_t coalesced_vm_stat(struct kvm_vm *vm, const char *name)
{
	uint64_t val = UINT64_MAX;

	__vm_get_stat(vm, name, &val, 1);
	TEST_ASSERT(val != UINT64_MAX, "no VM stat named %s", name);
	return val;
}

static inline void coalesced_cases_init(unsigned int nr_cases)
{
	const char *scale = getenv("TIMEOUT_SCALE");

	setbuf(stdout, NULL);
	if (scale && atoi(scale) > 1)
		timeout_scale = atoi(scale);
	ksft_print_header();
	ksft_set_plan(nr_cases);
}

/* Run every case (or $CASE only), each within @timeout_s seconds. */
static inline void coalesced_cases_run(const struct coalesced_case *cases,
				       unsigned int nr_cases, int timeout_s)
{
	const char *only = getenv("CASE");
	unsigned int i;
	int status;

	for (i = 0; i < nr_cases; i++) {
		pid_t pid;

		if (only && strcmp(only, cases[i].name)) {
			ksft_test_result_skip("%s (CASE=%s)\n", cases[i].name, only);
			continue;
		}
		fflush(stdout);
		pid = fork();
		TEST_ASSERT(pid >= 0, "fork failed");
		if (!pid) {
			/* A hung case fails alone instead of stalling the run. */
			alarm(timeout_s * timeout_scale);
			cases[i].fn();
			exit(0);
		}
		waitpid(pid, &status, 0);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
			printf("# %s did not finish within %d s\n",
			       cases[i].name, timeout_s * timeout_scale);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ksft_test_result_pass("%s\n", cases[i].name);
		else if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_SKIP)
			ksft_test_result_skip("%s\n", cases[i].name);
		else
			ksft_test_result_fail("%s\n", cases[i].name);
	}
	ksft_finished();
}

#endif /* SELFTEST_KVM_COALESCED_CASES_H */
