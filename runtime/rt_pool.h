/*
 * The cpu runtime's thread pool: the parallel_for that generated code calls
 * through NnacPar (runtime/cpu_abi.h).
 *
 * A pool of nthreads has nthreads - 1 worker threads; the thread that calls
 * rt_pool_for is the last one.  rt_pool_for splits [0, n) into
 * k = min(n, nthreads) contiguous ranges whose sizes differ by at most one,
 * in order: range 0 runs on the caller, range i on worker i.  The split
 * depends only on n and nthreads, never on timing.
 *
 * Calls come dozens of times per inference, each perhaps a few microseconds
 * of work, so an idle worker spins on the pool's generation counter for a
 * while (RT_SPIN_NS, 50 us) before it sleeps on a condition variable, and
 * the caller spins on a counter of unfinished workers.  Past a few
 * microseconds both also yield the processor now and then, so that more
 * threads than processors make calls slower, not stuck.  rt_pool_for
 * allocates nothing and takes no lock unless a worker sleeps.
 *
 * One call at a time per pool: a call that finds the pool busy (made from
 * inside a task, or from a second thread) runs its whole range on its
 * caller, serially.  Needs no LLVM; part of the installed runtime library.
 */
#ifndef NNAC_RT_POOL_H
#define NNAC_RT_POOL_H

#include <stdint.h>

#include "cpu_abi.h"
#include "diag.h"

enum { RT_MAX_THREADS = 1024 };

typedef struct RtPool RtPool;

/* A pool of nthreads (1 .. RT_MAX_THREADS; 1 starts no thread). */
Status rt_pool_create(int nthreads, RtPool **out, Diag *d);
/* Calls fn(roots, lo, hi) on the ranges above and returns when every call
 * has returned; n <= 0 calls nothing.  pool NULL runs [0, n) here at once.
 * The signature of NnacPar.parallel_for. */
void rt_pool_for(void *pool, NnacTaskFn fn, void *const *roots, int64_t n);
int rt_pool_threads(const RtPool *p);
/* Stops and joins the workers; p NULL does nothing. */
void rt_pool_destroy(RtPool *p);

#endif
