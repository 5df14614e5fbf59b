/*
 * TPU plans in bundle files (tpu_bundle.c): what `nnac compile --target
 * tpu` writes and `nnac run`/`nnac trace` read.
 */
#ifndef NNAC_TPU_BUNDLE_H
#define NNAC_TPU_BUNDLE_H

#include "bundle.h"
#include "tpu_plan.h"

/* Adds plan p of graph g to bundle w: tensors/tpu, weights/tpu (the weight
 * DRAM image), the model (model_bytes of ONNX) and program_tpu. */
Status tpu_bundle_add(const TpuPlan *p, const Graph *g, const uint8_t *model, size_t model_bytes,
                      NnbWriter *w, Diag *d);
/* Reads the plan of bundle b against graph g, the bundle's model imported
 * and optimized as at compile time; p (initialized) borrows the weights
 * from b, which must stay open while p is used. */
Status tpu_bundle_read(const Nnb *b, Graph *g, TpuPlan *p, Diag *d);

#endif
