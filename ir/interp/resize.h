/*
 * The plan of Resize and Upsample, shared by the reference kernel
 * (resize.c) and the loop-IR lowering (passes/lower_move.c): the mode, the
 * coordinate transformation, the output sizes, and for every output
 * coordinate the taps (input indices and weights) of the separable kernel.
 * One plan for both keeps the lowered program on the reference's numbers.
 */
#ifndef NNAC_RESIZE_H
#define NNAC_RESIZE_H

#include "op.h"

enum { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC };

enum {
	CT_HALF_PIXEL, CT_HALF_PIXEL_SYMMETRIC, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS,
	CT_ASYMMETRIC, CT_TF_HALF_PIXEL_FOR_NEAREST, CT_TF_CROP_AND_RESIZE
};

enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };

/* The most taps per coordinate without antialias (cubic's four). */
enum { MAX_TAPS = 4 };

typedef struct ResizePlan {
	int mode, coord, nearest;
	double cubic_a, extrapolation;
	bool exclude_outside;
	bool antialias;             /* linear or cubic with the widened filter */
	bool roi_at_run_time;       /* tf_crop_and_resize's roi is not a constant (infer only) */
	int rank;
	int ntaps[MAX_RANK];        /* taps per coordinate: MAX_TAPS or fewer, more with antialias */
	int first_tap[MAX_RANK];    /* offset of the first tap from floor(x) */
	int64_t in[MAX_RANK], out[MAX_RANK];
	double scale[MAX_RANK];     /* output / input per axis, as the model gave it */
	double length[MAX_RANK];    /* resized length the transforms use: scale * input */
	double roi[2 * MAX_RANK];   /* tf_crop_and_resize: starts, then ends, normalized;
	                               every axis, those not in `axes` at [0, 1] */
} ResizePlan;

/*
 * The plan of node n for input type x.  scales, sizes and roi come from
 * constant inputs when in == NULL (shape inference, lowering), else from
 * the run-time values in[] (converted in arena a).  The `axes` attribute
 * and keep_aspect_ratio_policy are resolved here: the plan covers every
 * axis.  A roi that only the run time knows does not stop planning when
 * in == NULL (it does not set the shape): roi_at_run_time says so, and the
 * roi is left at [0, 1].  Reports what is invalid.
 */
Status resize_plan(Graph *g, const Node *n, const Value *const *in, Arena *a, const Value *x,
                   ResizePlan *p);

/*
 * The taps of output coordinate o along axis d: input indices clamped to
 * the edge into idx[] and weights into w[] (p->ntaps[d] slots each), with
 * exclude_outside applied.  Returns their count, 0 when o lies outside the
 * crop of tf_crop_and_resize (the output is extrapolation_value there).
 * Taps of weight 0 are dropped unless keep_zero, which gives every
 * coordinate inside the crop the axis' full count (p->ntaps[d]).
 */
int resize_taps(const ResizePlan *p, int d, int64_t o, bool keep_zero, int64_t *idx, double *w);

/* Keys' cubic convolution kernel at distance t, with coefficient A (Resize
 * uses cubic_coeff_a, GridSample -0.75). */
double resize_cubic_weight(double t, double A);

#endif
