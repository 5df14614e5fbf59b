/*
 * TPU plans in bundle files (tpu_bundle.c): what `nnac compile --target
 * tpu` writes and `nnac run`/`nnac trace` read.
 */
#ifndef NNAC_TPU_BUNDLE_H
#define NNAC_TPU_BUNDLE_H

#include "bundle.h"
#include "tpu_plan.h"

/* Adds plan p to bundle w: tensors/tpu, weights/tpu (the weight DRAM
 * image), host_loops/L<i> per host layer and program_tpu. */
Status tpu_bundle_add(const TpuPlan *p, NnbWriter *w, Diag *d);
/* Reads the plan of bundle b; p (initialized) borrows the weights from b,
 * which must stay open while p is used. */
Status tpu_bundle_read(const Nnb *b, TpuPlan *p, Diag *d);

#endif
