/*
 * What the C test drivers share (tests/test_util.c, linked into each as the
 * nnac_testutil library):
 *
 *   - one count of checks: check() and CHECK() count a check and print a
 *     failed one as a line starting with "FAIL "; test_summary() prints the
 *     suite's last line, "SUITE: P passed, F failed", which
 *     tests/run_all.sh reads and adds up;
 *   - read_file(), a whole file in memory;
 *   - the allocator of the allocation-failure sweeps, which makes the Nth
 *     allocation through ir/arena.h's hook fail, and the sweep itself.
 */
#ifndef NNAC_TEST_UTIL_H
#define NNAC_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

/* Counts a check; when !ok prints "FAIL " and the message. */
void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* check() of condition c, the failure naming its place and text. */
#define CHECK(c) check((c), "%s:%d: %s", __FILE__, __LINE__, #c)

/* Prints "SUITE: P passed, F failed"; returns the exit status, 1 when a
 * check failed, else 0. */
int test_summary(const char *suite);

/* The whole of path, NUL-terminated, in memory from malloc (the caller
 * frees it), its length in *len; NULL when it cannot be read. */
char *read_file(const char *path, size_t *len);

/*
 * Installs the failing allocator with nnac_set_allocator.  Allocations are
 * counted from 1 (frees are not counted):
 *   test_alloc_fail_once(n)  allocation n fails, the others succeed;
 *   test_alloc_fail_from(n)  allocation n and every later one fail.
 * test_alloc_restore() puts the default allocator back and returns how many
 * allocations were asked for since, the failed ones included: a run that
 * asked for fewer than n ended without meeting the failure.
 */
void test_alloc_fail_once(long n);
void test_alloc_fail_from(long n);
long test_alloc_restore(void);

/*
 * The usual sweep: run(ctx, d) with allocation n failing alone, for n = 1,
 * 2, ... until a run asks for fewer than n allocations.  Each run before
 * that must return ST_NOMEM with one diagnostic, holding "out of memory";
 * the last must return want with no diagnostic when want_msg is NULL, else
 * with one holding want_msg.  The first wrong run is printed.  Returns
 * whether every run was right; the number of runs (the allocations, plus
 * one) in *runs.
 */
typedef Status (*TestAllocRun)(const void *ctx, Diag *d);
bool test_alloc_sweep(TestAllocRun run, const void *ctx, Status want, const char *want_msg,
                      long *runs);

#endif
