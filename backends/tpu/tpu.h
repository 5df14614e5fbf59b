/*
 * The tpu target's passes (backends/tpu): from an optimized graph to a
 * TpuPlan (runtime/tpu_plan.h) with its program and weight image.
 */
#ifndef NNAC_TPU_H
#define NNAC_TPU_H

#include "arch.h"
#include "tpu_plan.h"

/* What tpu_select needs besides the graph. */
typedef struct TpuOptions {
	int precision;
	const float *absmax;        /* int8: per graph tensor, the calibrated |x| range */
} TpuOptions;

/* Builds the plan's tensors and layers from an optimized, typed graph
 * (tpu_select.c).  A node the array cannot run becomes a host step. */
Status tpu_select(Graph *g, const TpuConfig *cfg, const TpuOptions *opt, TpuPlan *p);
/* Places the tensors, emits the program and the weight DRAM image
 * (tpu_emit.c).  A layer that cannot fit on chip is ST_UNSUPPORTED naming
 * it and the buffer. */
Status tpu_emit(Graph *g, TpuPlan *p);
/* Lowers every host layer's nodes to loop IR (TpuLayer.host, tpu_host.c),
 * after tpu_select. */
Status tpu_lower_host(Graph *g, TpuPlan *p);
/* The machine of an arch description (tpu_config.c). */
Status tpu_config_from_arch(const Arch *a, const char *path, TpuConfig *cfg, Diag *d);

#endif
