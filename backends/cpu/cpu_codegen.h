/*
 * The CPU backend: a LoopProgram compiled with LLVM into a native shared
 * object.
 *
 * cpu_compile builds one LLVM function per kernel (loops as LLVM loops over
 * i64 induction variables, index expressions as i64 arithmetic, statements
 * as loopstmt.def defines them), verifies and optimizes the module, emits
 * an object file and links it with the system C compiler (`cc -shared
 * -nostartfiles`: no initialisers, runtime/elf_check.h refuses them).
 * The shared object exports
 *     const uint32_t nnac_abi_tag;                          NNAC_CPU_ABI
 *     void nnac_main(void *const *bufs, const NnacPar *par);   every kernel, in order
 * bufs[i] is the memory of p->bufs[i] for every buffer i (program and
 * kernel buffers, views included: a view's address is its base's plus
 * view_offset elements), row-major, 64-byte aligned; constants are passed
 * in too (the caller copies their data).  The generated code never
 * allocates.  Distinct buffers that are not views of one another must not
 * overlap: the kernels mark them noalias.
 *
 * The generated code may call the runtime helpers nnac_rt_* (runtime/cpu_rt.c)
 * for an elementwise op it does not inline; the shared object leaves them undefined, so the process
 * that loads it must export them (link the executable with -rdynamic,
 * CMake ENABLE_EXPORTS ON).  runtime/cpu_so.h loads and runs the object.
 */
#ifndef NNAC_CPU_CODEGEN_H
#define NNAC_CPU_CODEGEN_H

#include <stddef.h>
#include <stdint.h>

#include "cpu_abi.h"
#include "loop.h"

typedef struct CpuOptions {
	const char *triple;  /* NULL: the host's */
	const char *cpu;     /* NULL: the host's (LLVMGetHostCPUName) and its features when
	                      * triple is NULL, else "generic" */
	int opt_level;       /* 0..3; cpu_compile with opt NULL uses 3 */
	double parallel_min; /* work (MACs, or statement runs) from which a nest goes through
	                      * parallel_for; 0: the default (tests use 1 to split every nest) */
	/* The machine the contraction kernels block for, from an arch
	 * description (nnac compile --arch); 0: from the target's features
	 * (vectors, registers) or 48 KiB and 1.25 MiB (caches). */
	int vector_bits;     /* widest f32 vector */
	int vregs;           /* vector registers */
	int64_t l1_bytes;    /* L1 data cache of a core */
	int64_t l2_bytes;    /* L2 cache of a core */
} CpuOptions;

/* Compiles p, which has passed loop_verify, into a shared object's bytes
 * (*so from malloc, the caller frees it).  A statement or op the backend
 * cannot compile is ST_UNSUPPORTED naming it; LLVM or linker failures are
 * ST_INTERNAL or ST_IO with their messages. */
Status cpu_compile(const LoopProgram *p, const CpuOptions *opt, uint8_t **so, size_t *so_len,
                   Diag *d);

#endif
