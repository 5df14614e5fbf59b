/*
 * TPU plans in bundle files (tpu_bundle.c): what `nnac compile --target
 * tpu` writes and `nnac run`/`nnac trace` read.
 */
#ifndef NNAC_TPU_BUNDLE_H
#define NNAC_TPU_BUNDLE_H

#include "bundle.h"
#include "tpu_plan.h"

typedef struct TpuBundleInfo {
	const char *const *meta;     /* "key=value" lines of the META section */
	int nmeta;
	const uint8_t *model;        /* the ONNX model's bytes */
	size_t model_bytes;
} TpuBundleInfo;

/* Writes plan p of graph g with its model to path (whole or not at all). */
Status tpu_bundle_write(const TpuPlan *p, const Graph *g, const TpuBundleInfo *info, const char *path,
                        Diag *d);
/* Reads the plan of bundle b against graph g, the bundle's model imported
 * and optimized as at compile time; p (initialized) borrows the weights
 * from b, which must stay open while p is used. */
Status tpu_bundle_read(const Nnb *b, Graph *g, TpuPlan *p, Diag *d);

#endif
