/*
 * The contract between code the cpu target generates and the runtime that
 * runs it (ABI 5): the exported entry points, how work is split over
 * threads, and the helpers the generated code may call.  It lives below
 * both: backends/cpu emits code against it, runtime/ loads and calls it.
 *
 * A cpu shared object exports
 *     const uint32_t nnac_abi_tag;                             NNAC_CPU_ABI
 *     void nnac_main(void *const *bufs, const NnacPar *par);   every kernel, in order
 * (backends/cpu/cpu_codegen.h says what bufs holds), has no initialisers
 * or finalisers, and imports nothing but runtime/cpu_imports.def lists
 * (ABI 4: the tag is a constant that the runtime reads from the file
 * before it loads the object, runtime/elf_check.h; ABI 3 had a function
 * nnac_abi_version that could only be called after loading).
 */
#ifndef NNAC_CPU_ABI_H
#define NNAC_CPU_ABI_H

#include <stdint.h>

enum { NNAC_CPU_ABI = 5 };

/*
 * How generated code runs work on several threads (ABI 2).  A loop nest
 * worth splitting becomes a task function over a range of its outermost
 * parallel loop's iterations; nnac_main hands it to par->parallel_for,
 * which must call fn(roots, lo, hi) on disjoint ranges covering [0, n)
 * (from any threads, in any order) and return once every call has
 * returned.  roots is the task's argument block, read-only.  Iterations
 * of a task write disjoint memory and keep every accumulator's order of
 * additions, so results do not depend on how [0, n) is split.
 */
typedef void (*NnacTaskFn)(void *const *roots, int64_t lo, int64_t hi);
/* (ABI 3) When mark is not NULL, nnac_main calls mark(mark_cx, k) before
 * kernel k and mark(mark_cx, nkernels) after the last: a runtime that
 * traces records the time of each. */
typedef void (*NnacMarkFn)(void *cx, int64_t kernel);
/*
 * (ABI 5) How a run fails.  A loaded index (docs/loopir.md) is checked
 * before it is used: a negative value v becomes v + bound once, and one
 * still outside [0, bound) is not used.  The code claims the record by
 * compare-and-swap of kernel from -1 (the first failure wins, whatever
 * thread it happens on), fills in the rest, and returns from the task or
 * kernel; nnac_main returns after the kernel that failed.  The runtime sets
 * kernel to -1 before a run and reads the record after it.
 */
typedef struct NnacFail {
	int64_t kernel;      /* -1, or the kernel that failed */
	int64_t buf;         /* the buffer (index in the program's buffer table) indexed */
	int64_t dim;         /* its dimension indexed */
	int64_t value;       /* the value loaded, as int64 (a u64's bits) */
	int64_t bound;       /* that dimension's size */
} NnacFail;
typedef struct NnacPar {
	void (*parallel_for)(void *pool, NnacTaskFn fn, void *const *roots, int64_t n);
	void *pool;
	int64_t nthreads;    /* threads parallel_for spreads work over, >= 1: a
	                      * contraction makes about that many tasks */
	NnacMarkFn mark;     /* NULL: no marks */
	void *mark_cx;
	NnacFail *fail;      /* (ABI 5) never NULL while nnac_main runs */
} NnacPar;

/* The runtime helpers the generated code calls (runtime/cpu_rt.c); the
 * process that loads a shared object must export them (-rdynamic). */
double nnac_rt_apply_f64(int op, double alpha, double beta, double gamma, const double *x);
int64_t nnac_rt_apply_i64(int op, int uns, const int64_t *x);

#endif
