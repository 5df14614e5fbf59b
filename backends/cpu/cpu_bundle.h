/*
 * Compiled cpu programs in bundle files (cpu_bundle.c): what `nnac compile
 * --target cpu` writes and the runtime library (runtime/nnac_rt.c) reads.
 */
#ifndef NNAC_CPU_BUNDLE_H
#define NNAC_CPU_BUNDLE_H

#include "bundle.h"
#include "cpu_codegen.h"
#include "loop.h"

/* Adds program p with its shared object so[0 .. so_len) to bundle w:
 * tensors/cpu, weights/cpu and program_cpu. */
Status cpu_bundle_add(const LoopProgram *p, const uint8_t *so, size_t so_len, NnbWriter *w, Diag *d);

#endif
