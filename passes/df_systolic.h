/*
 * The analytical cycle model of a systolic array running one convolution or
 * GEMM layer, after SCALE-Sim (Samajdar et al., "SCALE-Sim: Systolic CNN
 * Accelerator Simulator", arXiv 1811.02883, 2018, and "A Systematic
 * Methodology for Characterizing Scalability of DNN Accelerators using
 * SCALE-Sim", ISPASS 2020).
 *
 * A layer is seen as a GEMM with three extents: the filter window R*S*C
 * (the reduction), the filters K, and the output pixels N*P*Q.  A dataflow
 * keeps one operand in the processing elements and picks which two extents
 * are laid out over the array's rows (Sr) and columns (Sc); the third is
 * streamed through it in time (T).  When Sr or Sc exceeds the array, the
 * work is cut into ceil(Sr/rows) * ceil(Sc/cols) folds that run one after
 * the other, each taking 2*rows + cols + T - 2 cycles: rows cycles to
 * load the stationary operand, then rows + cols - 2 cycles of skew for
 * the streamed wavefront to cross the array, plus T.  The model counts
 * the array's compute cycles only: no memory stalls, every fold pays the
 * full array's fill and drain even when it maps fewer rows or columns.
 *
 * Layer dimensions and cycle counts are 64-bit: a layer's MAC count easily
 * passes 2^31.
 */
#ifndef NNAC_DF_SYSTOLIC_H
#define NNAC_DF_SYSTOLIC_H

#include <stdint.h>

#include "diag.h"

/* One convolution layer, NCHW input and KCRS weights.  A GEMM
 * M x Kd times Kd x Nd is n=1, h=M, w=1, c=Kd, k=Nd, r=s=1, stride 1. */
typedef struct DfLayer {
	int64_t n;           /* batch */
	int64_t h, w;        /* input height, width, before padding */
	int64_t c;           /* input channels */
	int64_t k;           /* filters (output channels) */
	int64_t r, s;        /* kernel height, width */
	int64_t stride;      /* same in both directions, >= 1 */
	int64_t pad;         /* zeros added on each side, both directions */
} DfLayer;

/* How the output size is computed from the padded input size H' = h + 2*pad.
 * ONNX (and every framework): P = floor((H' - R) / stride) + 1, the windows
 * that fit.  SCALE-Sim's topology reader: P = ceil((H' - R + stride) /
 * stride), which counts one more row when the last stride leaves a partial
 * window (AlexNet CONV1: 55 against ONNX's 54). */
typedef enum DfOutConv {
	DF_OUT_ONNX,
	DF_OUT_SCALESIM,
} DfOutConv;

/* Which operand stays in the processing elements. */
typedef enum DfSystolicFlow {
	DF_FLOW_WS,          /* weight stationary */
	DF_FLOW_OS,          /* output stationary */
	DF_FLOW_IS,          /* input stationary */
} DfSystolicFlow;

/* The mapping of a layer on the array: the two spatial extents and the
 * temporal one (see df_systolic_map), and the fold counts for an array of
 * rows x cols. */
typedef struct DfSystolicMap {
	int64_t sr;          /* extent laid over the array's rows */
	int64_t sc;          /* extent laid over the array's columns */
	int64_t t;           /* extent streamed in time, per fold */
	int64_t fold_r;      /* ceil(sr / rows) */
	int64_t fold_c;      /* ceil(sc / cols) */
	int64_t fold_cycles; /* 2*rows + cols + t - 2 */
	int64_t cycles;      /* fold_r * fold_c * fold_cycles */
} DfSystolicMap;

const char *df_flow_name(DfSystolicFlow flow);
const char *df_outconv_name(DfOutConv conv);

/* ST_OK, or ST_INVALID with a diagnostic naming the layer (`what`) and the
 * first dimension that is not positive or a kernel larger than the padded
 * input. */
Status df_layer_check(const DfLayer *l, const char *what, Diag *d);
/* Output height and width under a convention.  The layer must pass
 * df_layer_check. */
void df_layer_out(const DfLayer *l, DfOutConv conv, int64_t *p, int64_t *q);
/* The useful multiply-accumulates: n * P * Q * k * r * s * c. */
int64_t df_layer_macs(const DfLayer *l, DfOutConv conv);

/* The SCALE-Sim mapping of the layer on a rows x cols array. */
DfSystolicMap df_systolic_map(const DfLayer *l, int rows, int cols,
	DfSystolicFlow flow, DfOutConv conv);
/* Compute cycles: ceil(Sr/rows) * ceil(Sc/cols) * (2*rows + cols + T - 2). */
int64_t df_systolic_cycles(const DfLayer *l, int rows, int cols,
	DfSystolicFlow flow, DfOutConv conv);
/* Useful MACs / (rows * cols * cycles), in [0, 1]. */
double df_systolic_utilization(const DfLayer *l, int rows, int cols,
	DfSystolicFlow flow, DfOutConv conv);
/* The fraction of the array's PEs that fold (fr, fc) maps, 0 <= fr <
 * fold_r, 0 <= fc < fold_c: the last fold of a dimension maps only the
 * remainder. */
double df_systolic_fold_mapping(const DfSystolicMap *m, int rows, int cols,
	int64_t fr, int64_t fc);
/* The mean of df_systolic_fold_mapping over all folds:
 * sr * sc / (fold_r * rows * fold_c * cols). */
double df_systolic_mapping_eff(const DfSystolicMap *m, int rows, int cols);

#endif
