/*
 * Compiled cpu programs in bundle files (cpu_bundle.c): what `nnac compile
 * --target cpu` writes and the runtime library (runtime/nnac_rt.c) reads.
 */
#ifndef NNAC_CPU_BUNDLE_H
#define NNAC_CPU_BUNDLE_H

#include "cpu_codegen.h"
#include "loop.h"

/* Writes program p with its shared object so[0 .. so_len) and the
 * "key=value" meta lines to path, whole or not at all. */
Status cpu_bundle_write(const LoopProgram *p, const uint8_t *so, size_t so_len, const char *const *meta,
                        int nmeta, const char *path, Diag *d);

#endif
