/*
 * Reference kernels of Resize and Upsample.
 *
 * Both map every output coordinate, axis by axis, to a coordinate in the
 * input (the coordinate_transformation_mode) and read it through a small
 * separable kernel: one tap for nearest, two for linear, four for cubic,
 * with indices clamped to the edge as the ONNX reference pads by `edge`.
 * An output element is the sum over the product of its axes' taps,
 * accumulated in double.  Nearest copies whole elements, so it is exact for
 * every element type.  With antialias, linear and cubic downsampling widen
 * their kernel by 1 / scale (more taps, weights normalized to sum 1).
 * Resize-18's `axes` and keep_aspect_ratio_policy only decide the scales
 * and sizes: the plan always covers every axis.
 *
 * Older forms carry their own fixed choices: Upsample (opset 7-9) and
 * Resize-10 use the asymmetric transform and the "simple" nearest rounding
 * of onnxruntime (floor when enlarging, ceil when shrinking).
 */
#include <math.h>
#include <string.h>

#include "resize.h"

static const char *const mode_names[] = {"nearest", "linear", "cubic"};
static const char *const coord_names[] = {
	"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
	"asymmetric", "tf_half_pixel_for_nearest", "tf_crop_and_resize"
};
static const char *const nearest_names[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};

/* An output dimension larger than this is taken for a malformed scale. */
#define MAX_RESIZED_DIM ((int64_t)1 << 40)
/* The widest antialias filter planned: a downscale by about 1/4096. */
#define MAX_ANTIALIAS_TAPS 16384

/* Per axis, for each output coordinate: up to the plan's ntaps input
 * indices and weights; n == 0 marks a coordinate outside the crop
 * (extrapolation). */
typedef struct Taps {
	int64_t *idx;
	double *w;
	int *n;
} Taps;

typedef struct FloatArg {
	const double *v;
	int n;
} FloatArg;

typedef struct IntArg {
	const int64_t *v;
	int n;
} IntArg;

/*
 * Float argument from input i: a constant during infer (in == NULL), the
 * run-time value during eval.  Empty tensors count as absent, as Resize-11
 * uses them for placeholders.
 */
static Status float_input(Graph *g, const Node *n, const Value *const *in, Arena *a, int i,
                          FloatArg *arg)
{
	double *v;
	int count;

	*arg = (FloatArg){NULL, 0};
	TRY(op_floats_arg(g, n, in, a, i, &v, &count));
	*arg = (FloatArg){v, count};
	return ST_OK;
}

static Status int_input(Graph *g, const Node *n, const Value *const *in, Arena *a, int i, IntArg *arg)
{
	int64_t *v;
	int count;

	*arg = (IntArg){NULL, 0};
	TRY(op_ints_arg(g, n, in, a, i, &v, &count));
	*arg = (IntArg){v, count};
	return ST_OK;
}

/* The index of string attribute `attr` in names. */
static Status pick(Graph *g, const Node *n, const char *attr, const char *def,
                   const char *const *names, int count, int *out)
{
	const char *s = attr_s(n, attr, def);

	for (int i = 0; i < count; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return ST_OK;
		}
	}
	return node_error(g, n, ST_INVALID, "%s '%s' is not a known value", attr, s);
}

static const char *const policy_names[] = {"stretch", "not_larger", "not_smaller"};
enum { KA_STRETCH, KA_NOT_LARGER, KA_NOT_SMALLER };

static Status resize_attrs(Graph *g, const Node *n, ResizePlan *p, int *policy)
{
	bool old = n->op == OP_Upsample || g->opset < 11;

	*policy = KA_STRETCH;
	TRY(pick(g, n, "mode", "nearest", mode_names, old ? 2 : 3, &p->mode));
	p->coord = CT_ASYMMETRIC;
	p->nearest = NM_SIMPLE;
	p->cubic_a = attr_f(n, "cubic_coeff_a", -0.75);
	p->exclude_outside = attr_i(n, "exclude_outside", 0) != 0;
	p->extrapolation = attr_f(n, "extrapolation_value", 0.0);
	/* antialias changes nothing for nearest (the spec names linear and cubic) */
	p->antialias = attr_i(n, "antialias", 0) != 0 && p->mode != RZ_NEAREST;
	if (old)
		return ST_OK;
	if (strcmp(attr_s(n, "coordinate_transformation_mode", ""), "tf_half_pixel_for_nn") == 0)
		p->coord = CT_TF_HALF_PIXEL_FOR_NEAREST;   /* Resize-11's name for it */
	else
		TRY(pick(g, n, "coordinate_transformation_mode", "half_pixel", coord_names,
		         (int)ARRAY_LEN(coord_names), &p->coord));
	TRY(pick(g, n, "keep_aspect_ratio_policy", "stretch", policy_names,
	         (int)ARRAY_LEN(policy_names), policy));
	return pick(g, n, "nearest_mode", "round_prefer_floor", nearest_names,
	            (int)ARRAY_LEN(nearest_names), &p->nearest);
}

/* scales and sizes from wherever this op and opset keep them. */
static Status resize_args(Graph *g, const Node *n, const Value *const *in, Arena *a,
                          FloatArg *scales, IntArg *sizes)
{
	*sizes = (IntArg){NULL, 0};
	if (n->op == OP_Upsample && g->opset < 9) {
		scales->v = attr_floats(n, "scales", &scales->n);
		return ST_OK;
	}
	if (n->op == OP_Upsample || g->opset < 11)
		return float_input(g, n, in, a, 1, scales);
	TRY(float_input(g, n, in, a, 2, scales));
	return int_input(g, n, in, a, 3, sizes);
}

/* The axes that scales, sizes and roi describe: `axes`, else all in order. */
static Status resize_axes(Graph *g, const Node *n, int rank, int *axes, int *naxes)
{
	bool seen[MAX_RANK] = {false};
	const int64_t *v = attr_ints(n, "axes", naxes);

	if (!v) {
		*naxes = rank;
		for (int d = 0; d < rank; d++)
			axes[d] = d;
		return ST_OK;
	}
	if (*naxes > rank)
		return node_error(g, n, ST_INVALID, "axes has %d values for rank %d", *naxes, rank);
	for (int i = 0; i < *naxes; i++) {
		int64_t d = v[i] < 0 ? v[i] + rank : v[i];

		if (d < 0 || d >= rank || seen[d])
			return node_error(g, n, ST_INVALID, "axis %lld is out of range or repeated",
			                  (long long)v[i]);
		seen[d] = true;
		axes[i] = (int)d;
	}
	return ST_OK;
}

/* Axis d resized by scale s. */
static Status scale_axis(Graph *g, const Node *n, ResizePlan *p, int d, double s)
{
	if (!(s > 0) || s * (double)p->in[d] >= (double)MAX_RESIZED_DIM)
		return node_error(g, n, ST_INVALID, "scale %g of axis %d is out of range", s, d);
	p->scale[d] = s;
	p->length[d] = s * (double)p->in[d];
	p->out[d] = (int64_t)floor(p->length[d]);
	return ST_OK;
}

/*
 * Axes resized to sizes: stretched, each to its size, or (policies
 * not_larger and not_smaller) all by one scale, the smallest or largest
 * size / input ratio, with the sizes rounded half up from it.
 */
static Status size_axes(Graph *g, const Node *n, ResizePlan *p, const int *axes, int naxes,
                        const int64_t *sizes, int policy)
{
	double common = policy == KA_NOT_LARGER ? INFINITY : 0;

	for (int i = 0; i < naxes; i++) {
		int d = axes[i];

		if (sizes[i] < 0 || sizes[i] >= MAX_RESIZED_DIM)
			return node_error(g, n, ST_INVALID, "size %lld of axis %d is out of range",
			                  (long long)sizes[i], d);
		p->out[d] = sizes[i];
		p->length[d] = (double)sizes[i];
		p->scale[d] = p->in[d] > 0 ? p->length[d] / (double)p->in[d] : 1.0;
		common = policy == KA_NOT_LARGER ? fmin(common, p->scale[d]) : fmax(common, p->scale[d]);
		if (policy != KA_STRETCH && p->in[d] == 0)
			return node_error(g, n, ST_UNSUPPORTED,
			                  "keep_aspect_ratio_policy on the empty axis %d", d);
	}
	if (policy == KA_STRETCH)
		return ST_OK;
	for (int i = 0; i < naxes; i++) {
		int d = axes[i];

		TRY(scale_axis(g, n, p, d, common));
		p->out[d] = (int64_t)(p->length[d] + 0.5);
	}
	return ST_OK;
}

/*
 * The roi of tf_crop_and_resize, [starts, ends] of the listed axes.  Other
 * modes ignore it, so it is not even read.  During planning without the
 * run-time values (in == NULL) a roi computed at run time is left for eval.
 */
static Status resize_roi(Graph *g, const Node *n, const Value *const *in, Arena *a, ResizePlan *p,
                         const int *axes, int naxes)
{
	FloatArg roi;

	for (int d = 0; d < p->rank; d++) {
		p->roi[d] = 0;
		p->roi[d + p->rank] = 1;
	}
	if (p->coord != CT_TF_CROP_AND_RESIZE)
		return ST_OK;
	if (!in && has_input(n, 1) && !node_in(g, n, 1)->v.data) {
		p->roi_at_run_time = true;
		return ST_OK;
	}
	TRY(float_input(g, n, in, a, 1, &roi));
	if (roi.n != 2 * naxes)
		return node_error(g, n, ST_INVALID, "tf_crop_and_resize needs a roi of %d values, has %d",
		                  2 * naxes, roi.n);
	for (int i = 0; i < naxes; i++) {
		p->roi[axes[i]] = roi.v[i];
		p->roi[axes[i] + p->rank] = roi.v[i + naxes];
	}
	return ST_OK;
}

/*
 * The taps of axis d.  With antialias a downsampling filter is widened by
 * 1 / scale (its support covers that many more input elements) and its
 * weights normalized to sum 1; the first tap then lies further left.
 */
static Status axis_filter(Graph *g, const Node *n, ResizePlan *p, int d)
{
	double s = fmin(p->scale[d], 1.0), reach = p->mode == RZ_LINEAR ? 1 : 2, first;

	p->ntaps[d] = p->mode == RZ_NEAREST ? 1 : p->mode == RZ_LINEAR ? 2 : 4;
	p->first_tap[d] = p->mode == RZ_CUBIC ? -1 : 0;
	if (!p->antialias)
		return ST_OK;
	first = floor(-reach / s) + 1;
	if (2 - 2 * first > MAX_ANTIALIAS_TAPS)
		return node_error(g, n, ST_UNSUPPORTED, "antialias with scale %g of axis %d needs a filter "
		                  "of more than %d taps", p->scale[d], d, MAX_ANTIALIAS_TAPS);
	p->first_tap[d] = (int)first;
	p->ntaps[d] = 2 - 2 * (int)first;
	return ST_OK;
}

Status resize_plan(Graph *g, const Node *n, const Value *const *in, Arena *a, const Value *x,
                   ResizePlan *p)
{
	FloatArg scales = {NULL, 0};
	IntArg sizes;
	int axes[MAX_RANK], naxes, policy, count;

	memset(p, 0, sizeof(*p));
	TRY(resize_attrs(g, n, p, &policy));
	TRY(resize_args(g, n, in, a, &scales, &sizes));
	if ((scales.n > 0) == (sizes.n > 0))
		return node_error(g, n, ST_INVALID, "exactly one of scales and sizes must be given");
	p->rank = x->rank;
	memcpy(p->in, x->dims, sizeof(p->in));
	TRY(resize_axes(g, n, x->rank, axes, &naxes));
	count = scales.n ? scales.n : sizes.n;
	if (count != naxes)
		return node_error(g, n, ST_INVALID, "%s has %d values for %d axes",
		                  scales.n ? "scales" : "sizes", count, naxes);
	for (int d = 0; d < p->rank; d++) {
		p->out[d] = p->in[d];
		p->length[d] = (double)p->in[d];
		p->scale[d] = 1;
	}
	for (int i = 0; i < naxes && scales.n; i++)
		TRY(scale_axis(g, n, p, axes[i], scales.v[i]));
	if (sizes.n)
		TRY(size_axes(g, n, p, axes, naxes, sizes.v, policy));
	for (int d = 0; d < p->rank; d++) {
		if (p->in[d] == 0 && p->out[d] != 0)
			return node_error(g, n, ST_INVALID, "axis %d is empty and cannot be enlarged", d);
		TRY(axis_filter(g, n, p, d));
	}
	return resize_roi(g, n, in, a, p, axes, naxes);
}

static Status resize_infer(Graph *g, Node *n)
{
	const Value *x;
	ResizePlan p;
	bool old = n->op == OP_Upsample || g->opset < 11;
	int lo = n->op == OP_Upsample && g->opset < 9 ? 1 : old ? 2 : 1;

	TRY(infer_nin(g, n, lo, old ? lo : 4));
	x = &node_in(g, n, 0)->v;
	if (!val_known(x))
		return node_error(g, n, ST_UNSUPPORTED, "input 0 has an unknown type or shape");
	TRY(infer_dtype(g, n, 0, DTM_NUM));
	for (int i = 1; i < n->nin; i++)
		if (has_input(n, i))
			TRY(infer_dtype(g, n, i, i == 3 ? DTM(I64) : DTM_FLOAT));
	TRY(resize_plan(g, n, NULL, NULL, x, &p));
	infer_out(g, n, 0, x->dt, x->rank, p.out);
	return ST_OK;
}

/* Output coordinate y of axis d in input coordinates. */
static double resize_coord(const ResizePlan *p, int d, double y)
{
	double s = p->scale[d], len = p->length[d], in = (double)p->in[d];
	double lo = p->roi[d], hi = p->roi[d + p->rank];

	switch (p->coord) {
	case CT_HALF_PIXEL:
		return (y + 0.5) / s - 0.5;
	case CT_HALF_PIXEL_SYMMETRIC:
		return in / 2 * (1 - (double)p->out[d] / len) + (y + 0.5) / s - 0.5;
	case CT_PYTORCH_HALF_PIXEL:
		return len > 1 ? (y + 0.5) / s - 0.5 : 0;
	case CT_ALIGN_CORNERS:
		return len == 1 ? 0 : y * (in - 1) / (len - 1);
	case CT_ASYMMETRIC:
		return y / s;
	case CT_TF_HALF_PIXEL_FOR_NEAREST:
		return (y + 0.5) / s;
	case CT_TF_CROP_AND_RESIZE:
		if (len == 1)
			return (hi - lo) * (in - 1) / 2 + lo * (in - 1);
		return y * (hi - lo) * (in - 1) / (len - 1) + lo * (in - 1);
	}
	nnac_unreachable();
}

static int64_t nearest_index(const ResizePlan *p, int d, double x)
{
	double f = floor(x), r = x - f;

	if (r == 0)
		return (int64_t)f;
	switch (p->nearest) {
	case NM_ROUND_PREFER_FLOOR: return (int64_t)(r <= 0.5 ? f : f + 1);
	case NM_ROUND_PREFER_CEIL: return (int64_t)(r < 0.5 ? f : f + 1);
	case NM_FLOOR: return (int64_t)f;
	case NM_CEIL: return (int64_t)f + 1;
	case NM_SIMPLE: return p->scale[d] < 1 ? (int64_t)f + 1 : (int64_t)trunc(x);
	}
	nnac_unreachable();
}

double resize_cubic_weight(double t, double A)
{
	t = fabs(t);
	if (t <= 1)
		return ((A + 2) * t - (A + 3)) * t * t + 1;
	if (t < 2)
		return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
	return 0;
}

/*
 * The antialias filter: taps floor(x) + first_tap ... at distances scaled
 * by the (downsampling) scale, the kernel's support widened by 1 / scale,
 * weights normalized to sum 1.
 */
static int antialias_taps(const ResizePlan *p, int d, double f, double r, int64_t *idx, double *w)
{
	double s = fmin(p->scale[d], 1.0), sum = 0;

	for (int k = 0; k < p->ntaps[d]; k++) {
		double i = p->first_tap[d] + k, t = s * (i - r);

		idx[k] = (int64_t)(f + i);
		w[k] = p->mode == RZ_LINEAR ? fmax(0, 1 - fabs(t)) : resize_cubic_weight(t, p->cubic_a);
		sum += w[k];
	}
	for (int k = 0; k < p->ntaps[d] && sum != 0; k++)
		w[k] /= sum;
	return p->ntaps[d];
}

/* Taps for input coordinate x before clamping; returns their count. */
static int kernel_taps(const ResizePlan *p, int d, double x, int64_t *idx, double *w)
{
	double f = floor(x), r = x - f;

	if (p->antialias)
		return antialias_taps(p, d, f, r, idx, w);
	switch (p->mode) {
	case RZ_NEAREST:
		idx[0] = nearest_index(p, d, x);
		w[0] = 1;
		return 1;
	case RZ_LINEAR:
		idx[0] = (int64_t)f;
		idx[1] = (int64_t)f + 1;
		w[0] = 1 - r;
		w[1] = r;
		return 2;
	case RZ_CUBIC:
		for (int k = 0; k < 4; k++) {
			idx[k] = (int64_t)f - 1 + k;
			w[k] = resize_cubic_weight(r + 1 - k, p->cubic_a);
		}
		return 4;
	}
	nnac_unreachable();
}

/* exclude_outside and edge clamping; zero weights dropped unless keep_zero. */
static int finish_taps(const ResizePlan *p, int d, int count, bool keep_zero, int64_t *idx,
                       double *w)
{
	int64_t in = p->in[d];
	double sum = 0;
	int kept = 0;

	for (int k = 0; k < count; k++) {
		if (p->exclude_outside && (idx[k] < 0 || idx[k] >= in))
			w[k] = 0;
		sum += w[k];
	}
	for (int k = 0; k < count; k++) {
		if (w[k] == 0 && !keep_zero)
			continue;
		idx[kept] = idx[k] < 0 ? 0 : idx[k] >= in ? in - 1 : idx[k];
		w[kept] = p->exclude_outside && sum != 0 ? w[k] / sum : w[k];
		kept++;
	}
	return kept;
}

int resize_taps(const ResizePlan *p, int d, int64_t o, bool keep_zero, int64_t *idx, double *w)
{
	double in = (double)p->in[d], x = resize_coord(p, d, (double)o), margin = 4 + p->ntaps[d];

	if (p->coord == CT_TF_CROP_AND_RESIZE && (x < 0 || x > in - 1))
		return 0;
	/* far outside, every tap clamps to the edge anyway; keeps casts defined */
	x = x < -margin ? -margin : x > in + margin ? in + margin : x;
	return finish_taps(p, d, kernel_taps(p, d, x, idx, w), keep_zero, idx, w);
}

static void axis_taps(const ResizePlan *p, int d, Taps *t)
{
	int64_t m = p->ntaps[d];

	for (int64_t o = 0; o < p->out[d]; o++)
		t->n[o] = resize_taps(p, d, o, false, t->idx + o * m, t->w + o * m);
}

static bool alloc_taps(Arena *a, const ResizePlan *p, Taps *t)
{
	for (int d = 0; d < p->rank; d++) {
		size_t m = (size_t)p->out[d] + 1, k = (size_t)p->ntaps[d];

		t[d].idx = arena_alloc(a, m * k * sizeof(int64_t));
		t[d].w = arena_alloc(a, m * k * sizeof(double));
		t[d].n = arena_alloc(a, m * sizeof(int));
		if (!t[d].idx || !t[d].w || !t[d].n)
			return false;
		axis_taps(p, d, &t[d]);
	}
	return true;
}

/* Output element at o: the sum over the product of its axes' taps. */
static double resize_point(const ResizePlan *p, const Taps *t, const int64_t *o,
                           const int64_t *strides, const double *x)
{
	int k[MAX_RANK] = {0}, d;
	double sum = 0;

	for (d = 0; d < p->rank; d++)
		if (t[d].n[o[d]] == 0)
			return p->extrapolation;
	do {
		double w = 1;
		int64_t off = 0;

		for (d = 0; d < p->rank; d++) {
			w *= t[d].w[o[d] * p->ntaps[d] + k[d]];
			off += t[d].idx[o[d] * p->ntaps[d] + k[d]] * strides[d];
		}
		sum += w * x[off];
		for (d = p->rank - 1; d >= 0; d--) {
			if (++k[d] < t[d].n[o[d]])
				break;
			k[d] = 0;
		}
	} while (d >= 0);
	return sum;
}

/* Nearest copies the chosen element's bytes, so integers stay exact. */
static void nearest_point(const ResizePlan *p, const Taps *t, const int64_t *o,
                          const int64_t *strides, const Value *x, Value *y, int64_t k)
{
	int64_t off = 0, es = dtype_size(x->dt);

	for (int d = 0; d < p->rank; d++) {
		if (t[d].n[o[d]] == 0) {
			val_set_f64(y, k, p->extrapolation);
			return;
		}
		off += t[d].idx[o[d] * p->ntaps[d]] * strides[d];
	}
	memcpy((char *)y->data + k * es, (const char *)x->data + off * es, (size_t)es);
}

static void next_index(int64_t *o, const int64_t *dims, int rank)
{
	for (int d = rank - 1; d >= 0; d--) {
		if (++o[d] < dims[d])
			return;
		o[d] = 0;
	}
}

static Status resize_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	ResizePlan p;
	Taps t[MAX_RANK];
	int64_t strides[MAX_RANK], o[MAX_RANK] = {0}, numel = val_numel(out[0]);
	double *x = NULL;

	TRY(resize_plan(cx->g, n, in, cx->scratch, in[0], &p));
	if (!alloc_taps(cx->scratch, &p, t))
		return graph_oom(cx->g);
	if (p.mode != RZ_NEAREST && !(x = val_to_f64(cx->scratch, in[0])) && val_numel(in[0]) > 0)
		return graph_oom(cx->g);
	val_strides(in[0], strides);
	for (int64_t k = 0; k < numel; k++) {
		if (p.mode == RZ_NEAREST)
			nearest_point(&p, t, o, strides, in[0], out[0], k);
		else
			val_set_f64(out[0], k, resize_point(&p, t, o, strides, x));
		next_index(o, out[0]->dims, out[0]->rank);
	}
	return ST_OK;
}

const OpImpl op_impl_Resize = {resize_infer, resize_eval, NULL};
const OpImpl op_impl_Upsample = {resize_infer, resize_eval, NULL};
