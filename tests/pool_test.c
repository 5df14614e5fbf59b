/*
 * nnac-pooltest: the tests of the cpu runtime's thread pool
 * (runtime/rt_pool.h).
 *
 * For 1, 2, 3 and 8 threads and ranges of 0, 1, 2, 3, 7 and 1000
 * iterations: every index is visited exactly once, by min(n, threads)
 * calls on contiguous ranges whose sizes differ by at most one, range 0 on
 * the calling thread, and rt_pool_for returns only after every call has
 * returned (the workers are made slow to show it).  Then many calls back to
 * back, with pauses long enough for the workers to fall asleep, which would
 * hang on a lost wake-up (an alarm ends the run); pools made and destroyed
 * over and over, some before their workers ever ran; a nested call; the
 * refused thread counts.
 *
 * Ends with `pool: P passed, F failed`; exits 1 if anything failed.
 */
#include "rt_pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

enum { MAX_N = 1000, MAX_RANGES = 16, BACK_TO_BACK = 10000 };

static Diag d;               /* the pool's messages, never expected */

/* What the tasks saw; roots[0] points to it. */
typedef struct Probe {
	atomic_int count[MAX_N];   /* visits of each index */
	atomic_int nranges;
	int64_t lo[MAX_RANGES], hi[MAX_RANGES];
	atomic_int done;           /* calls that have returned */
	atomic_int on_caller;      /* calls with lo == 0 made on the calling thread */
	pthread_t caller;
	long delay_ns;             /* how long each call with lo > 0 sleeps first */
	RtPool *pool;              /* for the nested call */
} Probe;

static void nap(long ns)
{
	struct timespec t = {0, ns};
	nanosleep(&t, NULL);
}

static void probe_task(void *const *roots, int64_t lo, int64_t hi)
{
	Probe *pr = roots[0];
	int slot = atomic_fetch_add(&pr->nranges, 1);

	if (lo > 0 && pr->delay_ns)
		nap(pr->delay_ns);
	if (slot < MAX_RANGES) {
		pr->lo[slot] = lo;
		pr->hi[slot] = hi;
	}
	if (lo == 0 && pthread_equal(pthread_self(), pr->caller))
		atomic_fetch_add(&pr->on_caller, 1);
	for (int64_t i = lo; i < hi; i++)
		atomic_fetch_add(&pr->count[i], 1);
	atomic_fetch_add(&pr->done, 1);
}

static void probe_reset(Probe *pr, long delay_ns)
{
	for (int i = 0; i < MAX_N; i++)
		atomic_store(&pr->count[i], 0);
	atomic_store(&pr->nranges, 0);
	atomic_store(&pr->done, 0);
	atomic_store(&pr->on_caller, 0);
	pr->caller = pthread_self();
	pr->delay_ns = delay_ns;
}

/* Every index once; the ranges the static split promises. */
static bool ranges_ok(const Probe *pr, int64_t n, int k)
{
	int64_t len_min = n, len_max = 0, covered = 0;

	for (int i = 0; i < MAX_N; i++)
		if (atomic_load(&pr->count[i]) != (i < n))
			return false;
	if (atomic_load(&pr->nranges) != k)
		return false;
	for (int r = 0; r < k; r++) {
		int64_t len = pr->hi[r] - pr->lo[r];
		len_min = len < len_min ? len : len_min;
		len_max = len > len_max ? len : len_max;
		covered += len;
	}
	return covered == n && (k == 0 || (len_min >= 1 && len_max - len_min <= 1));
}

static void check_split(Probe *pr, int nthreads, int64_t n, long delay_ns)
{
	char name[64], what[160];
	RtPool *p;
	void *roots[1] = {pr};
	int k = (int)(n < nthreads ? n : nthreads);

	snprintf(name, sizeof(name), "split threads=%d n=%lld%s", nthreads, (long long)n,
	         delay_ns ? " slow" : "");
	if (rt_pool_create(nthreads, &p, &d) != ST_OK) {
		check(false, "%s: %s", name, d.n ? d.msg[d.n - 1].text : "create failed");
		return;
	}
	check(rt_pool_threads(p) == nthreads, "%s: rt_pool_threads", name);
	probe_reset(pr, delay_ns);
	rt_pool_for(p, probe_task, roots, n);
	snprintf(what, sizeof(what), "%d calls returned when rt_pool_for did, expected %d",
	         atomic_load(&pr->done), k);
	check(atomic_load(&pr->done) == k, "%s: %s", name, what);
	check(ranges_ok(pr, n, k), "%s: every index once, in min(n, threads) near-equal ranges",
	      name);
	check(atomic_load(&pr->on_caller) == (k > 0), "%s: range 0 runs on the calling thread",
	      name);
	rt_pool_destroy(p);
}

static void check_splits(Probe *pr)
{
	static const int threads[] = {1, 2, 3, 8};
	static const int64_t sizes[] = {0, 1, 2, 3, 7, MAX_N};

	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			check_split(pr, threads[t], sizes[s], 0);
			check_split(pr, threads[t], sizes[s], 2000000);
		}
}

static void sum_task(void *const *roots, int64_t lo, int64_t hi)
{
	atomic_fetch_add((atomic_llong *)roots[0], (long long)(hi - lo));
}

/* Calls back to back, now and then after a pause past the workers' spin
 * time, so that they have gone to sleep; a lost wake-up hangs (the alarm
 * ends it). */
static void check_back_to_back(int nthreads)
{
	char name[64];
	atomic_llong sum;
	void *roots[1] = {&sum};
	long long want = 0;
	int wrong = 0;
	RtPool *p;

	snprintf(name, sizeof(name), "back to back threads=%d", nthreads);
	atomic_init(&sum, 0);
	if (rt_pool_create(nthreads, &p, &d) != ST_OK) {
		check(false, "%s: create failed", name);
		return;
	}
	for (int i = 0; i < BACK_TO_BACK; i++) {
		int64_t n = 1 + i % 13;
		if (i % 100 == 99)
			nap(200000);
		rt_pool_for(p, sum_task, roots, n);
		want += n;
		wrong += atomic_load(&sum) != want;
	}
	check(wrong == 0, "%s: every call's work done when it returned", name);
	rt_pool_destroy(p);
}

/* Made and destroyed over and over: some destroyed before their workers
 * ran, some after one call. */
static void check_lifetimes(void)
{
	atomic_llong sum;
	void *roots[1] = {&sum};
	int bad = 0;

	atomic_init(&sum, 0);
	for (int i = 0; i < 300; i++) {
		RtPool *p;
		if (rt_pool_create(1 + i % 8, &p, &d) != ST_OK) {
			bad++;
			continue;
		}
		if (i % 2)
			rt_pool_for(p, sum_task, roots, 100);
		if (i % 3 == 0)
			nap(100000);
		rt_pool_destroy(p);
	}
	check(bad == 0 && atomic_load(&sum) == 150 * 100, "create and destroy: 300 pools");
	rt_pool_destroy(NULL);
}

static void nested_task(void *const *roots, int64_t lo, int64_t hi)
{
	Probe *pr = roots[0];
	void *inner[1] = {roots[1]};

	rt_pool_for(pr->pool, sum_task, inner, 10 * (hi - lo));
}

/* A call from inside a task runs on its caller; NULL pools run here. */
static void check_nested(void)
{
	static Probe pr;
	atomic_llong sum;
	void *roots[2] = {&pr, &sum};

	atomic_init(&sum, 0);
	if (rt_pool_create(4, &pr.pool, &d) != ST_OK) {
		check(false, "nested: create failed");
		return;
	}
	rt_pool_for(pr.pool, nested_task, roots, 40);
	check(atomic_load(&sum) == 400, "nested: a call from inside a task runs serially");
	rt_pool_destroy(pr.pool);
	atomic_store(&sum, 0);
	rt_pool_for(NULL, sum_task, roots + 1, 7);
	check(atomic_load(&sum) == 7, "null pool: runs the whole range");
}

static void check_refusals(void)
{
	static const int bad[] = {0, -1, RT_MAX_THREADS + 1};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Diag rd;
		RtPool *p = (RtPool *)&rd;
		Status st;
		diag_init(&rd);
		st = rt_pool_create(bad[i], &p, &rd);
		check(st == ST_INVALID && !p && rd.n == 1 && strstr(rd.msg[0].text, "thread count"),
		      "refusal: %s", rd.n ? rd.msg[0].text : "no message");
		diag_free(&rd);
	}
}

static void on_alarm(int sig)
{
	static const char msg[] = "FAIL pool: no progress for 120 s (a lost wake-up?)\n"
	                          "pool: 0 passed, 1 failed\n";
	(void)sig;
	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

int main(void)
{
	static Probe pr;

	diag_init(&d);
	signal(SIGALRM, on_alarm);
	alarm(120);
	check_refusals();
	check_splits(&pr);
	check_back_to_back(2);
	check_back_to_back(3);
	check_back_to_back(8);
	check_lifetimes();
	check_nested();
	diag_print(&d, stdout);
	diag_free(&d);
	return test_summary("pool");
}
