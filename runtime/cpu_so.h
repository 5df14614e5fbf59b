/*
 * Loading and running a shared object made by the CPU backend
 * (runtime/cpu_abi.h): the bytes are first inspected (runtime/elf_check.h:
 * no code that runs at load, imports and libraries within
 * runtime/cpu_imports.def, the ABI tag NNAC_CPU_ABI), and only then go to
 * an anonymous memfd (or a mkstemp file under $TMPDIR or /tmp, removed at
 * once after dlopen when memfd is unavailable) and are dlopen'd with
 * RTLD_NOW | RTLD_LOCAL.
 *
 * The object calls the runtime helpers nnac_rt_* (runtime/cpu_rt.c),
 * which it leaves undefined: the executable must export them (-rdynamic,
 * CMake ENABLE_EXPORTS ON).  This file refers to every helper so that the
 * static library links them in.  Needs no LLVM.
 */
#ifndef NNAC_CPU_SO_H
#define NNAC_CPU_SO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu_abi.h"
#include "diag.h"

typedef struct CpuSo CpuSo;

/* The parallel_for of one thread: fn over [0, n) on the caller's thread. */
void cpu_so_serial_for(void *pool, NnacTaskFn fn, void *const *roots, int64_t n);

/* Inspects the object and loads it; what names it in diagnostics
 * ("m.nnb: section program_cpu 'cpu': shared object"). */
Status cpu_so_open(const char *what, const uint8_t *so, size_t len, CpuSo **out, Diag *d);
/* Runs every kernel: bufs[i] is the memory of the program's buffer i
 * (views included), 64-byte aligned; par NULL runs on this thread alone
 * (par->fail is ignored: fail is used).  False when a kernel stopped on an
 * index out of range, which *fail then describes (cpu_abi.h). */
bool cpu_so_run(CpuSo *s, void *const *bufs, const NnacPar *par, NnacFail *fail);
void cpu_so_close(CpuSo *s);

#endif
