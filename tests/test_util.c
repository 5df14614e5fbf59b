/*
 * The helpers of the C test drivers (tests/test_util.h).
 */
#include "test_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

static int passed, failed;

void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

int test_summary(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, passed, failed);
	return failed ? 1 : 0;
}

char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (s = malloc((size_t)n + 1)) && fread(s, 1, (size_t)n, f) == (size_t)n) {
		s[n] = 0;
		*len = (size_t)n;
	} else {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

/* Allocations asked for since the allocator was installed; the first that
 * fails, and whether every later one fails too. */
static long alloc_count, fail_at;
static bool fail_after;

static void *failing_alloc(void *ud, void *ptr, size_t size)
{
	(void)ud;
	if (size == 0) {
		free(ptr);
		return NULL;
	}
	++alloc_count;
	if (alloc_count == fail_at || (fail_after && alloc_count > fail_at))
		return NULL;
	return realloc(ptr, size);
}

static void install(long n, bool after)
{
	alloc_count = 0;
	fail_at = n;
	fail_after = after;
	nnac_set_allocator(failing_alloc, NULL);
}

void test_alloc_fail_once(long n) { install(n, false); }
void test_alloc_fail_from(long n) { install(n, true); }

long test_alloc_restore(void)
{
	nnac_set_allocator(NULL, NULL);
	return alloc_count;
}

bool test_alloc_sweep(TestAllocRun run, const void *ctx, Status want, const char *want_msg,
                      long *runs)
{
	bool clean = true, done = false;
	long n;

	for (n = 1; n < 100000 && !done; n++) {
		Diag d;
		Status st;
		bool ok;

		diag_init(&d);
		test_alloc_fail_once(n);
		st = run(ctx, &d);
		done = test_alloc_restore() < n;
		if (!done)
			ok = st == ST_NOMEM && d.n == 1 && strstr(d.msg[0].text, "out of memory");
		else if (want_msg)
			ok = st == want && d.n == 1 && strstr(d.msg[0].text, want_msg);
		else
			ok = st == want && d.n == 0;
		if (!ok && clean) {
			if (done)
				printf("  no allocation failing: status %s\n", status_name(st));
			else
				printf("  allocation %ld failing: status %s\n", n, status_name(st));
			for (int i = 0; i < d.n; i++)
				printf("    %s\n", d.msg[i].text);
		}
		clean &= ok;
		diag_free(&d);
	}
	*runs = n - 1;
	return clean && done;
}
