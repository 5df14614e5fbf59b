/*
 * The cpu runtime's thread pool (runtime/rt_pool.h).
 *
 * A call to rt_pool_for publishes its job (fn, roots, n) in plain fields,
 * sets `pending` to the number of workers and bumps the generation `gen`;
 * every worker, whether or not its range is empty, runs its share of the
 * new generation once and decrements `pending`; the caller runs range 0 and
 * spins until `pending` is 0.  Ordering: the job fields are written before
 * the release of `gen` and read after its acquire; a worker's reads (and
 * its task's writes) come before the release of its decrement, which the
 * caller acquires before it returns, so the next job's writes never race
 * with them.  A worker sees every generation exactly once, since `gen`
 * cannot move on until it has acknowledged the current one.
 *
 * Sleeping without losing a wake-up: a worker that has spun RT_SPIN_NS in
 * vain takes the mutex, increments `sleepers`, then re-reads `gen` before
 * each wait; the caller bumps `gen`, then reads `sleepers`, and broadcasts
 * under the mutex when it is not 0.  Both pairs are sequentially consistent,
 * so one side always sees the other's write (the Dekker pattern): either
 * the worker sees the new generation or the caller sees the sleeper.
 */
#include "rt_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"

/* A waiting thread spins on the pause instruction for RT_YIELD_NS, then
 * also yields the processor every CHECK_EVERY pauses; an idle worker goes
 * to sleep after RT_SPIN_NS (the caller waiting for its workers never
 * sleeps).  In ns. */
#define RT_YIELD_NS 5000
#define RT_SPIN_NS 50000
enum { LINE = 64, CHECK_EVERY = 64 };

/* The spin-wait hint: pause on x86, yield on Arm, nothing elsewhere. */
#if defined(__x86_64__) || defined(__i386__)
static inline void rt_cpu_relax(void) { __builtin_ia32_pause(); }
#elif defined(__aarch64__) || defined(__arm__)
static inline void rt_cpu_relax(void) { __asm__ __volatile__("yield" ::: "memory"); }
#else
static inline void rt_cpu_relax(void) {}
#endif

typedef struct RtWorker {
	RtPool *pool;
	int index;            /* 1 .. nthreads - 1: the range it runs */
} RtWorker;

struct RtPool {
	/* Written by the caller once per call, read by the workers. */
	_Alignas(LINE) atomic_uint gen;
	NnacTaskFn fn;
	void *const *roots;
	int64_t n;
	int nthreads;
	atomic_bool stop;     /* set with the last generation, by destroy */
	atomic_bool busy;     /* a call is in progress */
	/* Written by the workers. */
	_Alignas(LINE) atomic_int pending;   /* workers yet to finish this generation */
	_Alignas(LINE) atomic_int sleepers;  /* workers asleep, or about to be */
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_t *threads;   /* [nthreads - 1] */
	RtWorker *workers;    /* [nthreads - 1] */
	int started;          /* threads running */
};

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Range i of the current job, if it has one: [0, n) in k = min(n, nthreads)
 * pieces, the first n % k of them one longer. */
static void run_range(const RtPool *p, int i)
{
	int64_t k = p->n < p->nthreads ? p->n : p->nthreads;
	int64_t q, r, lo;

	if (i >= k)
		return;
	q = p->n / k;
	r = p->n % k;
	lo = i * q + (i < r ? i : r);
	p->fn(p->roots, lo, lo + q + (i < r));
}

/* Whether a spinner that began at t0 should give up the processor now and
 * then (past RT_YIELD_NS: it may be keeping the thread it waits for from
 * running, when there are more threads than processors); false once it
 * has spun RT_SPIN_NS in all. */
static bool spin_on(int64_t t0)
{
	int64_t t = now_ns() - t0;

	if (t > RT_YIELD_NS)
		sched_yield();
	return t <= RT_SPIN_NS;
}

/* The generation after seen, or seen when RT_SPIN_NS went by without one. */
static unsigned spin_gen(RtPool *p, unsigned seen)
{
	int64_t t0 = now_ns();

	for (unsigned i = 1;; i++) {
		unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (g != seen)
			return g;
		rt_cpu_relax();
		if (i % CHECK_EVERY == 0 && !spin_on(t0))
			return seen;
	}
}

static unsigned wait_gen(RtPool *p, unsigned seen)
{
	unsigned g = spin_gen(p, seen);

	if (g != seen)
		return g;
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add(&p->sleepers, 1);
	while ((g = atomic_load(&p->gen)) == seen)
		pthread_cond_wait(&p->wake, &p->mu);
	atomic_fetch_sub(&p->sleepers, 1);
	pthread_mutex_unlock(&p->mu);
	return g;
}

static void *worker_main(void *arg)
{
	const RtWorker *w = arg;
	RtPool *p = w->pool;
	unsigned seen = 0;    /* gen when the pool was made */

	for (;;) {
		seen = wait_gen(p, seen);
		if (atomic_load_explicit(&p->stop, memory_order_relaxed))
			return NULL;
		run_range(p, w->index);
		atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
	}
}

/* Starts the next generation; seq_cst against the sleepers' side. */
static void publish(RtPool *p)
{
	atomic_fetch_add(&p->gen, 1);
	if (atomic_load(&p->sleepers) == 0)
		return;
	pthread_mutex_lock(&p->mu);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
}

static void wait_done(RtPool *p)
{
	int64_t t0 = now_ns();

	for (unsigned i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
		rt_cpu_relax();
		if (i % CHECK_EVERY == 0)
			spin_on(t0);
	}
}

void rt_pool_for(void *pool, NnacTaskFn fn, void *const *roots, int64_t n)
{
	RtPool *p = pool;

	if (n <= 0)
		return;
	if (!p || p->nthreads == 1 || n == 1 ||
	    atomic_exchange_explicit(&p->busy, true, memory_order_acquire)) {
		fn(roots, 0, n);
		return;
	}
	p->fn = fn;
	p->roots = roots;
	p->n = n;
	atomic_store_explicit(&p->pending, p->nthreads - 1, memory_order_relaxed);
	publish(p);
	run_range(p, 0);
	wait_done(p);
	atomic_store_explicit(&p->busy, false, memory_order_release);
}

int rt_pool_threads(const RtPool *p) { return p->nthreads; }

/* Stops and joins the workers started so far. */
static void stop_workers(RtPool *p)
{
	atomic_store_explicit(&p->stop, true, memory_order_relaxed);
	atomic_fetch_add(&p->gen, 1);
	pthread_mutex_lock(&p->mu);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	p->started = 0;
}

static Status start_workers(RtPool *p, Diag *d)
{
	for (int i = 0; i < p->nthreads - 1; i++) {
		int rc;
		p->workers[i] = (RtWorker){p, i + 1};
		rc = pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]);
		if (rc != 0) {
			stop_workers(p);
			return diag_add(d, ST_INTERNAL, "threads: cannot start worker thread %d of %d: %s", i + 1,
			                p->nthreads - 1, strerror(rc));
		}
		p->started++;
	}
	return ST_OK;
}

static void pool_free(RtPool *p)
{
	nnac_free(p->threads);
	nnac_free(p->workers);
	nnac_aligned_free(p);
}

static RtPool *pool_alloc(int nthreads)
{
	RtPool *p = nnac_aligned_alloc(LINE, sizeof(RtPool));

	if (!p)
		return NULL;
	memset(p, 0, sizeof(*p));
	p->nthreads = nthreads;
	atomic_init(&p->gen, 0);
	atomic_init(&p->stop, false);
	atomic_init(&p->busy, false);
	atomic_init(&p->pending, 0);
	atomic_init(&p->sleepers, 0);
	p->threads = nnac_calloc((size_t)nthreads, sizeof(pthread_t));
	p->workers = nnac_calloc((size_t)nthreads, sizeof(RtWorker));
	if (p->threads && p->workers)
		return p;
	pool_free(p);
	return NULL;
}

Status rt_pool_create(int nthreads, RtPool **out, Diag *d)
{
	RtPool *p;
	Status st;

	*out = NULL;
	if (nthreads < 1 || nthreads > RT_MAX_THREADS)
		return diag_add(d, ST_INVALID, "threads: %d is not a thread count from 1 to %d", nthreads,
		                RT_MAX_THREADS);
	p = pool_alloc(nthreads);
	if (!p)
		return diag_add(d, ST_NOMEM, "threads: out of memory");
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		st = diag_add(d, ST_INTERNAL, "threads: cannot make the pool's mutex");
		goto fail_mutex;
	}
	if (pthread_cond_init(&p->wake, NULL) != 0) {
		st = diag_add(d, ST_INTERNAL, "threads: cannot make the pool's condition variable");
		goto fail_cond;
	}
	st = start_workers(p, d);
	if (st != ST_OK)
		goto fail_start;
	*out = p;
	return ST_OK;

fail_start:
	pthread_cond_destroy(&p->wake);
fail_cond:
	pthread_mutex_destroy(&p->mu);
fail_mutex:
	pool_free(p);
	return st;
}

void rt_pool_destroy(RtPool *p)
{
	if (!p)
		return;
	stop_workers(p);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	pool_free(p);
}
