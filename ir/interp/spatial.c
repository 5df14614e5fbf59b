/*
 * Reference kernels of the sampling and spatial ops: GridSample,
 * AffineGrid, Col2Im, CenterCropPad, MaxUnpool and DeformConv.
 *
 * Every output shape here follows from static shapes and from integer
 * inputs (AffineGrid's size, Col2Im's image and block shapes,
 * CenterCropPad's shape, MaxUnpool's output_shape), which must therefore
 * be constants at shape inference; a graph input the caller binds counts
 * (passes/specialize.c binds small integer inputs).
 *
 * Sampling (GridSample, DeformConv) works in double: a point's input
 * coordinates are computed once, turned into a few taps per axis (index
 * and weight), and every channel is read through the product of the taps.
 */
#include <math.h>
#include <string.h>

#include "checked.h"
#include "op.h"
#include "resize.h"

/* Attribute values beyond this (strides, pads, kernel sizes) are taken for
 * malformed: it keeps every size computed from them inside int64. */
#define MAX_GEOMETRY ((int64_t)1 << 40)

/* The multi-index after idx in row-major order over dims[0..rank). */
static void next_index(int64_t *idx, const int64_t *dims, int rank)
{
	for (int d = rank - 1; d >= 0; d--) {
		if (++idx[d] < dims[d])
			return;
		idx[d] = 0;
	}
}

static int64_t prod(const int64_t *dims, int rank)
{
	int64_t p = 1;

	for (int d = 0; d < rank; d++)
		p *= dims[d];
	return p;
}

/* Output 0 typed (dt, rank, dims) unless it exceeds the memory budget. */
static Status sized_out(Graph *g, const Node *n, DType dt, int rank, const int64_t *dims)
{
	Value v;

	val_set_type(&v, dt, rank, dims);
	if (!val_size_ok(&v))
		return node_error(g, n, ST_UNSUPPORTED, "the output would be larger than the memory budget");
	infer_out(g, n, 0, dt, rank, dims);
	return ST_OK;
}

/* A constant integer input of exactly `want` values (want < 0: any count). */
static Status const_ints(Graph *g, const Node *n, int i, int want, int64_t **v, int *count)
{
	TRY(infer_const_ints(g, n, i, v, count));
	if (!*v || (want >= 0 && *count != want))
		return node_error(g, n, ST_INVALID, "input %d must hold %d values, has %d", i, want,
		                  *v ? *count : 0);
	return ST_OK;
}

/* An ints attribute of `want` values, or `def` in every place when absent. */
static Status ints_attr(Graph *g, const Node *n, const char *name, int want, int64_t def,
                        int64_t *out)
{
	int count;
	const int64_t *v = attr_ints(n, name, &count);

	if (v && count != want)
		return node_error(g, n, ST_INVALID, "%s has %d values, needs %d", name, count, want);
	for (int i = 0; i < want; i++)
		out[i] = v ? v[i] : def;
	return ST_OK;
}

/*
 * GridSample: Y[n, c, p] = X[n, c] sampled at grid[n, p], whose last axis
 * holds normalized coordinates in [-1, 1], innermost axis first (x, y, z).
 * A coordinate outside the input is first moved by padding_mode (border
 * clamps it, reflection mirrors it at the borders); then each tap outside
 * the input reads 0 (zeros), the edge (border) or its mirror (reflection).
 */

enum { GS_NEAREST, GS_LINEAR, GS_CUBIC };
enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };

typedef struct GridPlan {
	int mode, padding, r;        /* r spatial axes */
	bool align;
	int64_t in[MAX_RANK];        /* the spatial dims of X */
} GridPlan;

static Status grid_attrs(Graph *g, const Node *n, GridPlan *p)
{
	const char *mode = attr_s(n, "mode", g->opset < 20 ? "bilinear" : "linear");
	const char *pad = attr_s(n, "padding_mode", "zeros");

	/* opset 20 renamed bilinear and bicubic; either name is clear */
	if (strcmp(mode, "nearest") == 0)
		p->mode = GS_NEAREST;
	else if (strcmp(mode, "linear") == 0 || strcmp(mode, "bilinear") == 0)
		p->mode = GS_LINEAR;
	else if (strcmp(mode, "cubic") == 0 || strcmp(mode, "bicubic") == 0)
		p->mode = GS_CUBIC;
	else
		return node_error(g, n, ST_INVALID, "mode '%s' is not a known value", mode);
	if (strcmp(pad, "zeros") == 0)
		p->padding = GS_ZEROS;
	else if (strcmp(pad, "border") == 0)
		p->padding = GS_BORDER;
	else if (strcmp(pad, "reflection") == 0)
		p->padding = GS_REFLECTION;
	else
		return node_error(g, n, ST_INVALID, "padding_mode '%s' is not a known value", pad);
	p->align = attr_i(n, "align_corners", 0) != 0;
	return ST_OK;
}

static Status grid_plan(Graph *g, const Node *n, const Value *x, const Value *grid, GridPlan *p)
{
	memset(p, 0, sizeof(*p));
	TRY(grid_attrs(g, n, p));
	p->r = x->rank - 2;
	if (x->rank < 3 || grid->rank != x->rank || grid->dims[grid->rank - 1] != p->r ||
	    grid->dims[0] != x->dims[0])
		return node_error(g, n, ST_INVALID, "grid must be [N, spatial..., %d] for X of rank %d",
		                  p->r, x->rank);
	memcpy(p->in, x->dims + 2, (size_t)p->r * sizeof(int64_t));
	return ST_OK;
}

static Status grid_sample_infer(Graph *g, Node *n)
{
	const Value *x, *grid;
	int64_t dims[MAX_RANK];
	GridPlan p;

	TRY(infer_nin(g, n, 2, 2));
	TRY(infer_dtype(g, n, 0, DTM_FLOAT));
	TRY(infer_dtype(g, n, 1, DTM_FLOAT));
	x = &node_in(g, n, 0)->v;
	grid = &node_in(g, n, 1)->v;
	TRY(grid_plan(g, n, x, grid, &p));
	dims[0] = x->dims[0];
	dims[1] = x->dims[1];
	memcpy(dims + 2, grid->dims + 1, (size_t)p.r * sizeof(int64_t));
	return sized_out(g, n, x->dt, x->rank, dims);
}

/* x mirrored at lo and hi (as often as needed) into [lo, hi]. */
static double reflect(double x, double lo, double hi)
{
	double range = hi - lo, m;

	if (!(range > 0))
		return lo;
	if (x < lo) {
		m = fmod(lo - x, 2 * range);
		return m < range ? lo + m : hi - (m - range);
	}
	if (x > hi) {
		m = fmod(x - hi, 2 * range);
		return m < range ? hi - m : lo + (m - range);
	}
	return x;
}

/* The borders coordinates are reflected at: pixel edges, or with
 * align_corners the centers of the corner pixels. */
static void grid_borders(const GridPlan *p, int d, double *lo, double *hi)
{
	double len = (double)p->in[d];

	*lo = p->align ? 0 : -0.5;
	*hi = p->align ? len - 1 : len - 0.5;
}

/* The element tap i of axis d reads, or -1 for a zero. */
static int64_t grid_pixel(const GridPlan *p, int d, int64_t i)
{
	int64_t len = p->in[d];
	double lo, hi;

	if (i >= 0 && i < len)
		return i;
	switch (p->padding) {
	case GS_ZEROS:
		return -1;
	case GS_BORDER:
		return i < 0 ? 0 : len - 1;
	case GS_REFLECTION:
		grid_borders(p, d, &lo, &hi);
		i = (int64_t)reflect((double)i, lo, hi);   /* truncation, as the spec's reference */
		return i < 0 ? 0 : i >= len ? len - 1 : i;
	}
	nnac_unreachable();
}

/*
 * The taps of normalized coordinate v along axis d into idx[] and w[]
 * (4 slots each); returns their count.  A NaN coordinate, or an empty
 * axis, samples nothing (the output is 0 there).
 */
static int grid_taps(const GridPlan *p, int d, double v, int64_t *idx, double *w)
{
	double len = (double)p->in[d], lo, hi, x, f, t;
	int count = 0;

	x = p->align ? (v + 1) / 2 * (len - 1) : ((v + 1) * len - 1) / 2;
	if (p->mode == GS_NEAREST)
		x = nearbyint(x);   /* half to even, as the spec's rint */
	grid_borders(p, d, &lo, &hi);
	if ((x < lo || x > hi) && p->padding == GS_BORDER)
		x = x < 0 ? 0 : x > len - 1 ? len - 1 : x;
	else if ((x < lo || x > hi) && p->padding == GS_REFLECTION)
		x = reflect(x, lo, hi);
	if (isnan(x) || p->in[d] == 0)
		return 0;
	/* far outside, every tap reads a zero; keeps the casts defined */
	x = x < lo - 4 ? lo - 4 : x > hi + 4 ? hi + 4 : x;
	f = floor(x);
	t = x - f;
	switch (p->mode) {
	case GS_NEAREST:
		idx[count] = grid_pixel(p, d, (int64_t)x);
		w[count++] = 1;
		break;
	case GS_LINEAR:
		for (int k = 0; k < 2; k++) {
			idx[count] = grid_pixel(p, d, (int64_t)f + k);
			w[count++] = k ? t : 1 - t;
		}
		break;
	case GS_CUBIC:
		for (int k = 0; k < 4; k++) {
			idx[count] = grid_pixel(p, d, (int64_t)f - 1 + k);
			w[count++] = resize_cubic_weight(t + 1 - k, -0.75);
		}
		break;
	}
	return count;
}

/* One sample of X's plane x (spatial strides xs) through the taps. */
static double grid_point(const GridPlan *p, const double *x, const int64_t *xs,
                         const int64_t (*idx)[4], const double (*w)[4], const int *count)
{
	int k[MAX_RANK] = {0}, d;
	double sum = 0;

	for (d = 0; d < p->r; d++)
		if (count[d] == 0)
			return 0;
	do {
		double wt = 1;
		int64_t off = 0;

		for (d = 0; d < p->r && wt != 0; d++) {
			if (idx[d][k[d]] < 0)
				wt = 0;
			else
				off += idx[d][k[d]] * xs[d];
			wt *= w[d][k[d]];
		}
		if (wt != 0)
			sum += wt * x[off];
		for (d = p->r - 1; d >= 0; d--) {
			if (++k[d] < count[d])
				break;
			k[d] = 0;
		}
	} while (d >= 0);
	return sum;
}

static Status grid_sample_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                               Value *const *out)
{
	GridPlan p;
	int64_t xs[MAX_RANK] = {0}, batch, chans, plane, points, idx[MAX_RANK][4];
	double w[MAX_RANK][4], *x, *grid;
	int count[MAX_RANK];

	TRY(grid_plan(cx->g, n, in[0], in[1], &p));
	batch = in[0]->dims[0];
	chans = in[0]->dims[1];
	plane = prod(p.in, p.r);
	points = prod(in[1]->dims + 1, p.r);
	x = val_to_f64(cx->scratch, in[0]);
	grid = val_to_f64(cx->scratch, in[1]);
	if ((!x && val_numel(in[0]) > 0) || (!grid && val_numel(in[1]) > 0))
		return eval_oom(cx, n);
	xs[p.r - 1] = 1;
	for (int d = p.r - 2; d >= 0; d--)
		xs[d] = xs[d + 1] * p.in[d + 1];
	for (int64_t b = 0; b < batch; b++) {
		for (int64_t q = 0; q < points; q++) {
			const double *v = grid + (b * points + q) * p.r;

			/* the grid's last axis runs innermost spatial axis first */
			for (int d = 0; d < p.r; d++)
				count[d] = grid_taps(&p, d, v[p.r - 1 - d], idx[d], w[d]);
			for (int64_t c = 0; c < chans; c++)
				val_set_f64(out[0], (b * chans + c) * points + q,
				            grid_point(&p, x + (b * chans + c) * plane, xs,
				                       (const int64_t (*)[4])idx, (const double (*)[4])w, count));
		}
	}
	return ST_OK;
}

/*
 * AffineGrid: the normalized sampling grid of GridSample for the affine
 * map theta [N, r, r + 1] over an output of size [N, C, spatial...]:
 * Y[n, p] = theta[n] @ (x, y[, z], 1), where each coordinate runs over
 * [-1, 1] (align_corners: through the corner pixels' centers, else through
 * the pixels' centers of a grid whose edges are at -1 and 1).
 */

static Status affine_grid_infer(Graph *g, Node *n)
{
	const Value *theta;
	int64_t *size, dims[MAX_RANK];
	int count, r;

	TRY(infer_nin(g, n, 2, 2));
	TRY(infer_dtype(g, n, 0, DTM_FLOAT));
	TRY(infer_dtype(g, n, 1, DTM(I64)));
	theta = &node_in(g, n, 0)->v;
	TRY(const_ints(g, n, 1, -1, &size, &count));
	r = count - 2;
	if (r != 2 && r != 3)
		return node_error(g, n, ST_INVALID, "size must hold 4 or 5 values, has %d", count);
	if (theta->rank != 3 || theta->dims[0] != size[0] || theta->dims[1] != r ||
	    theta->dims[2] != r + 1)
		return node_error(g, n, ST_INVALID, "theta must be [%lld, %d, %d]",
		                  (long long)size[0], r, r + 1);
	for (int d = 0; d < count; d++)
		if (size[d] < 0)
			return node_error(g, n, ST_INVALID, "size %lld is negative", (long long)size[d]);
	dims[0] = size[0];
	memcpy(dims + 1, size + 2, (size_t)r * sizeof(int64_t));
	dims[r + 1] = r;
	return sized_out(g, n, theta->dt, r + 2, dims);
}

/* Normalized coordinate i of an axis of len elements. */
static double affine_coord(int64_t i, int64_t len, bool align)
{
	double step;

	if (align)
		return len == 1 ? -1 : -1 + (double)i * (2.0 / (double)(len - 1));
	step = 2.0 / (double)len;
	return -1 + step / 2 + (double)i * step;
}

static Status affine_grid_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                               Value *const *out)
{
	const Value *y = out[0];
	int r = y->rank - 2;
	bool align = attr_i(n, "align_corners", 0) != 0;
	int64_t pos[MAX_RANK] = {0}, points = prod(y->dims + 1, r), k = 0;
	double *theta = val_to_f64(cx->scratch, in[0]);

	if (!theta && val_numel(in[0]) > 0)
		return eval_oom(cx, n);
	for (int64_t b = 0; b < y->dims[0]; b++) {
		for (int64_t q = 0; q < points; q++) {
			double h[4];

			/* homogeneous point: innermost spatial axis first, then 1 */
			for (int d = 0; d < r; d++)
				h[r - 1 - d] = affine_coord(pos[d], y->dims[1 + d], align);
			h[r] = 1;
			for (int j = 0; j < r; j++) {
				double s = 0;

				for (int c = 0; c <= r; c++)
					s += theta[(b * r + j) * (r + 1) + c] * h[c];
				val_set_f64(out[0], k++, s);
			}
			next_index(pos, y->dims + 1, r);
		}
	}
	return ST_OK;
}

/*
 * Col2Im: the inverse of im2col.  Input [N, C * prod(block), L] holds, for
 * each of the L sliding block positions (row-major over the block grid),
 * the block's elements; they are summed back into the image
 * [N, C, image...] where they came from, positions in the padding dropped.
 */

typedef struct Col2ImPlan {
	int r;
	int64_t image[MAX_RANK], block[MAX_RANK], grid[MAX_RANK];
	int64_t dil[MAX_RANK], pads[2 * MAX_RANK], strides[MAX_RANK];
	int64_t chans, kernel;         /* C and prod(block) */
} Col2ImPlan;

static Status col2im_plan(Graph *g, const Node *n, Col2ImPlan *p)
{
	const Value *x = &node_in(g, n, 0)->v;
	int64_t *image, *block, cols = 1;
	int count;

	memset(p, 0, sizeof(*p));
	TRY(const_ints(g, n, 1, -1, &image, &count));
	p->r = count;
	if (p->r < 1 || p->r > MAX_RANK - 2)
		return node_error(g, n, ST_INVALID, "image_shape must hold 1 to %d values", MAX_RANK - 2);
	TRY(const_ints(g, n, 2, p->r, &block, &count));
	TRY(ints_attr(g, n, "dilations", p->r, 1, p->dil));
	TRY(ints_attr(g, n, "pads", 2 * p->r, 0, p->pads));
	TRY(ints_attr(g, n, "strides", p->r, 1, p->strides));
	p->kernel = 1;
	for (int d = 0; d < p->r; d++) {
		int64_t span = p->dil[d] * (block[d] - 1) + 1;

		if (image[d] < 0 || block[d] < 1 || p->dil[d] < 1 || p->strides[d] < 1 ||
		    p->pads[d] < 0 || p->pads[d + p->r] < 0 || image[d] > MAX_GEOMETRY ||
		    p->pads[d] > MAX_GEOMETRY || p->pads[d + p->r] > MAX_GEOMETRY ||
		    block[d] > ((int64_t)1 << 20) || p->dil[d] > ((int64_t)1 << 20))
			return node_error(g, n, ST_INVALID, "axis %d: image %lld, block %lld, dilation %lld, "
			                  "stride %lld or pads are out of range", d, (long long)image[d],
			                  (long long)block[d], (long long)p->dil[d], (long long)p->strides[d]);
		p->image[d] = image[d];
		p->block[d] = block[d];
		p->grid[d] = (image[d] + p->pads[d] + p->pads[d + p->r] - span) / p->strides[d] + 1;
		if (p->grid[d] < 1)
			return node_error(g, n, ST_INVALID, "axis %d holds no block position", d);
		if (!ck_mul(p->kernel, block[d], &p->kernel) || !ck_mul(cols, p->grid[d], &cols))
			return node_error(g, n, ST_INVALID, "the block or its positions are too many");
	}
	if (x->rank != 3 || x->dims[1] % p->kernel != 0 || x->dims[2] != cols)
		return node_error(g, n, ST_INVALID, "input must be [N, C * %lld, %lld]",
		                  (long long)p->kernel, (long long)cols);
	p->chans = x->dims[1] / p->kernel;
	return ST_OK;
}

static Status col2im_infer(Graph *g, Node *n)
{
	const Value *x;
	int64_t dims[MAX_RANK];
	Col2ImPlan p;

	TRY(infer_nin(g, n, 3, 3));
	TRY(infer_dtype(g, n, 0, DTM_FLOAT));
	TRY(infer_dtype(g, n, 1, DTM(I64)));
	TRY(infer_dtype(g, n, 2, DTM(I64)));
	x = &node_in(g, n, 0)->v;
	TRY(col2im_plan(g, n, &p));
	dims[0] = x->dims[0];
	dims[1] = p.chans;
	memcpy(dims + 2, p.image, (size_t)p.r * sizeof(int64_t));
	return sized_out(g, n, x->dt, p.r + 2, dims);
}

/* Offset in the image plane of block position b's tap k, or -1 in the padding. */
static int64_t col2im_target(const Col2ImPlan *p, const int64_t *b, const int64_t *k)
{
	int64_t off = 0;

	for (int d = 0; d < p->r; d++) {
		int64_t i = b[d] * p->strides[d] - p->pads[d] + k[d] * p->dil[d];

		if (i < 0 || i >= p->image[d])
			return -1;
		off = off * p->image[d] + i;
	}
	return off;
}

static Status col2im_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	Col2ImPlan p;
	int64_t batch = in[0]->dims[0], cols = in[0]->dims[2], plane;
	double *x = val_to_f64(cx->scratch, in[0]), *y;

	TRY(col2im_plan(cx->g, n, &p));
	plane = prod(p.image, p.r);
	y = arena_alloc(cx->scratch, (size_t)(val_numel(out[0]) + 1) * sizeof(double));
	if ((!x && val_numel(in[0]) > 0) || !y)
		return eval_oom(cx, n);
	memset(y, 0, (size_t)(val_numel(out[0]) + 1) * sizeof(double));
	for (int64_t img = 0; img < batch * p.chans; img++) {
		int64_t k[MAX_RANK] = {0};

		for (int64_t t = 0; t < p.kernel; t++) {
			int64_t b[MAX_RANK] = {0};
			const double *row = x + (img * p.kernel + t) * cols;

			for (int64_t l = 0; l < cols; l++) {
				int64_t off = col2im_target(&p, b, k);

				if (off >= 0)
					y[img * plane + off] += row[l];
				next_index(b, p.grid, p.r);
			}
			next_index(k, p.block, p.r);
		}
	}
	for (int64_t i = 0; i < val_numel(out[0]); i++)
		val_set_f64(out[0], i, y[i]);
	return ST_OK;
}

/*
 * CenterCropPad: each listed axis cropped or zero-padded to its size in
 * `shape`, centered; an odd difference puts the extra element at the end.
 */

static Status center_crop_plan(Graph *g, const Node *n, const Value *x, int64_t *dims)
{
	int64_t *shape, axes[MAX_RANK];
	const int64_t *attr;
	bool seen[MAX_RANK] = {false};
	int count, naxes;

	TRY(infer_const_ints(g, n, 1, &shape, &count));
	attr = attr_ints(n, "axes", &naxes);
	if (!attr)
		naxes = x->rank;
	if (!shape || count != naxes)
		return node_error(g, n, ST_INVALID, "shape has %d values for %d axes", shape ? count : 0,
		                  naxes);
	memcpy(dims, x->dims, (size_t)x->rank * sizeof(int64_t));
	for (int i = 0; i < naxes; i++) {
		axes[i] = attr ? attr[i] : i;
		if (!norm_axis(&axes[i], x->rank) || seen[axes[i]])
			return node_error(g, n, ST_INVALID, "axis %lld is out of range or repeated",
			                  (long long)(attr ? attr[i] : i));
		seen[axes[i]] = true;
		if (shape[i] < 0)
			return node_error(g, n, ST_INVALID, "size %lld is negative", (long long)shape[i]);
		dims[axes[i]] = shape[i];
	}
	return ST_OK;
}

static Status center_crop_pad_infer(Graph *g, Node *n)
{
	const Value *x;
	int64_t dims[MAX_RANK];

	TRY(infer_nin(g, n, 2, 2));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	TRY(infer_dtype(g, n, 1, DTM(I32) | DTM(I64)));
	x = &node_in(g, n, 0)->v;
	TRY(center_crop_plan(g, n, x, dims));
	return sized_out(g, n, x->dt, x->rank, dims);
}

static Status center_crop_pad_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                                   Value *const *out)
{
	const Value *x = in[0];
	Value *y = out[0];
	int64_t shift[MAX_RANK], xs[MAX_RANK], o[MAX_RANK] = {0}, numel = val_numel(y);
	size_t es = (size_t)dtype_size(x->dt);

	(void)cx;
	(void)n;
	/* input index = output index + shift: the crop's start, minus the pad's */
	for (int d = 0; d < x->rank; d++)
		shift[d] = x->dims[d] >= y->dims[d] ? (x->dims[d] - y->dims[d]) / 2
		                                    : -((y->dims[d] - x->dims[d]) / 2);
	val_strides(x, xs);
	for (int64_t k = 0; k < numel; k++) {
		int64_t off = 0;
		int d;

		for (d = 0; d < x->rank; d++) {
			int64_t i = o[d] + shift[d];

			if (i < 0 || i >= x->dims[d])
				break;
			off += i * xs[d];
		}
		if (d == x->rank)
			memcpy((char *)y->data + (size_t)k * es, (const char *)x->data + (size_t)off * es, es);
		next_index(o, y->dims, y->rank);
	}
	return ST_OK;
}

/*
 * MaxUnpool: Y = zeros with X[i] written at the flat position I[i] of the
 * unpooled shape ((in - 1) * stride - pads + kernel per axis).  An
 * output_shape larger than that (the sizes MaxPool's input had) holds the
 * unpooled tensor at its origin, as the spec's reference places it.
 */

static Status unpool_shape(Graph *g, const Node *n, const Value *x, int64_t *dims)
{
	int r = x->rank - 2, count;
	int64_t kernel[MAX_RANK], pads[2 * MAX_RANK], strides[MAX_RANK];
	const int64_t *k = attr_ints(n, "kernel_shape", &count);

	if (x->rank < 3)
		return node_error(g, n, ST_INVALID, "X must have a batch, a channel and a spatial axis");
	if (!k || count != r)
		return node_error(g, n, ST_INVALID, "kernel_shape must hold %d values", r);
	memcpy(kernel, k, (size_t)r * sizeof(int64_t));
	TRY(ints_attr(g, n, "pads", 2 * r, 0, pads));
	TRY(ints_attr(g, n, "strides", r, 1, strides));
	dims[0] = x->dims[0];
	dims[1] = x->dims[1];
	for (int d = 0; d < r; d++) {
		if (kernel[d] < 1 || strides[d] < 1 || strides[d] > MAX_GEOMETRY ||
		    kernel[d] > MAX_GEOMETRY || pads[d] < 0 || pads[d + r] < 0 ||
		    pads[d] > MAX_GEOMETRY || pads[d + r] > MAX_GEOMETRY)
			return node_error(g, n, ST_INVALID, "axis %d: kernel, stride or pads out of range", d);
		if (!ck_mul(x->dims[d + 2] - 1, strides[d], &dims[d + 2]))
			return node_error(g, n, ST_INVALID, "axis %d unpools to too large a size", d);
		dims[d + 2] += kernel[d] - pads[d] - pads[d + r];
		if (dims[d + 2] < 0)
			return node_error(g, n, ST_INVALID, "axis %d unpools to a negative size", d);
	}
	return ST_OK;
}

static Status max_unpool_infer(Graph *g, Node *n)
{
	const Value *x, *ind;
	int64_t dims[MAX_RANK], *shape;
	int count;

	TRY(infer_nin(g, n, 2, 3));
	TRY(infer_dtype(g, n, 0, DTM_NUM));
	TRY(infer_dtype(g, n, 1, DTM(I64)));
	x = &node_in(g, n, 0)->v;
	ind = &node_in(g, n, 1)->v;
	if (!val_same_shape(x, ind))
		return node_error(g, n, ST_INVALID, "I must have X's shape");
	TRY(unpool_shape(g, n, x, dims));
	if (has_input(n, 2)) {
		TRY(infer_dtype(g, n, 2, DTM(I64)));
		TRY(const_ints(g, n, 2, x->rank, &shape, &count));
		for (int d = 0; d < x->rank; d++) {
			if (shape[d] < dims[d] || (d < 2 && shape[d] != dims[d]))
				return node_error(g, n, ST_UNSUPPORTED, "output_shape %lld of axis %d is smaller "
				                  "than the unpooled %lld (or changes N or C)",
				                  (long long)shape[d], d, (long long)dims[d]);
			dims[d] = shape[d];
		}
	}
	return sized_out(g, n, x->dt, x->rank, dims);
}

static Status max_unpool_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                              Value *const *out)
{
	const Value *x = in[0];
	int64_t dims[MAX_RANK], ys[MAX_RANK], numel = val_numel(x), total;
	size_t es = (size_t)dtype_size(x->dt);

	TRY(unpool_shape(cx->g, n, x, dims));
	total = prod(dims, x->rank);
	val_strides(out[0], ys);
	for (int64_t k = 0; k < numel; k++) {
		int64_t i = val_get_i64(in[1], k), off = 0;

		if (i < 0 || i >= total)
			return node_error(cx->g, n, ST_INVALID, "index %lld is outside the unpooled tensor "
			                  "of %lld elements", (long long)i, (long long)total);
		/* flat index in the unpooled shape -> offset in the output */
		for (int d = x->rank - 1; d >= 0; d--) {
			off += (i % dims[d]) * ys[d];
			i /= dims[d];
		}
		memcpy((char *)out[0]->data + (size_t)off * es, (const char *)x->data + (size_t)k * es, es);
	}
	return ST_OK;
}

/*
 * DeformConv (2-D): a convolution whose every kernel tap reads X at its
 * regular position moved by a learned offset (offset[n, (g, kh, kw, axis),
 * oh, ow] for offset group g), bilinearly interpolated with zeros outside,
 * and optionally scaled by mask[n, (g, kh, kw), oh, ow].
 */

typedef struct DeformPlan {
	int64_t batch, chans, outc, group, ogroup;
	int64_t ih, iw, kh, kw, oh, ow;
	int64_t dil[2], pads[4], strides[2];
} DeformPlan;

static Status deform_check(Graph *g, const Node *n, int i, const int64_t *want)
{
	const Value *v = &node_in(g, n, i)->v;

	for (int d = 0; d < 4; d++)
		if (v->rank != 4 || v->dims[d] != want[d])
			return node_error(g, n, ST_INVALID, "input %d must be [%lld, %lld, %lld, %lld]", i,
			                  (long long)want[0], (long long)want[1], (long long)want[2],
			                  (long long)want[3]);
	return ST_OK;
}

static Status deform_plan(Graph *g, const Node *n, DeformPlan *p)
{
	const Value *x = &node_in(g, n, 0)->v, *w = &node_in(g, n, 1)->v;
	int64_t kernel[2] = {0, 0}, taps;

	memset(p, 0, sizeof(*p));
	if (x->rank != 4)
		return node_error(g, n, ST_UNSUPPORTED, "only 2-D DeformConv is supported, X has rank %d",
		                  x->rank);
	if (w->rank != 4)
		return node_error(g, n, ST_INVALID, "W must be [M, C / group, kH, kW]");
	TRY(ints_attr(g, n, "kernel_shape", 2, 0, kernel));
	TRY(ints_attr(g, n, "dilations", 2, 1, p->dil));
	TRY(ints_attr(g, n, "pads", 4, 0, p->pads));
	TRY(ints_attr(g, n, "strides", 2, 1, p->strides));
	p->group = attr_i(n, "group", 1);
	p->ogroup = attr_i(n, "offset_group", 1);
	p->batch = x->dims[0];
	p->chans = x->dims[1];
	p->ih = x->dims[2];
	p->iw = x->dims[3];
	p->outc = w->dims[0];
	p->kh = w->dims[2];
	p->kw = w->dims[3];
	if ((kernel[0] && kernel[0] != p->kh) || (kernel[1] && kernel[1] != p->kw))
		return node_error(g, n, ST_INVALID, "kernel_shape does not match W");
	if (p->group < 1 || p->ogroup < 1 || p->group > p->chans || p->ogroup > p->chans ||
	    p->chans % p->group || p->outc % p->group ||
	    p->chans % p->ogroup || w->dims[1] * p->group != p->chans)
		return node_error(g, n, ST_INVALID, "group %lld or offset_group %lld does not divide the "
		                  "channels", (long long)p->group, (long long)p->ogroup);
	for (int d = 0; d < 2; d++) {
		int64_t k = d ? p->kw : p->kh, span;

		if (p->dil[d] < 1 || p->strides[d] < 1 || p->dil[d] > ((int64_t)1 << 20) ||
		    k > ((int64_t)1 << 20) || p->pads[d] < 0 || p->pads[d + 2] < 0 ||
		    p->pads[d] > MAX_GEOMETRY || p->pads[d + 2] > MAX_GEOMETRY)
			return node_error(g, n, ST_INVALID, "dilations, strides or pads out of range");
		span = p->dil[d] * (k - 1) + 1;
		*(d ? &p->ow : &p->oh) = ((d ? p->iw : p->ih) + p->pads[d] + p->pads[d + 2] - span) /
		                         p->strides[d] + 1;
		if ((d ? p->ow : p->oh) < 1)
			return node_error(g, n, ST_INVALID, "the kernel does not fit the padded input");
	}
	taps = ck_mul_sat(p->ogroup, ck_mul_sat(p->kh, p->kw));
	TRY(deform_check(g, n, 2, (int64_t[]){p->batch, ck_mul_sat(2, taps), p->oh, p->ow}));
	if (has_input(n, 4))
		TRY(deform_check(g, n, 4, (int64_t[]){p->batch, taps, p->oh, p->ow}));
	if (has_input(n, 3) && (node_in(g, n, 3)->v.rank != 1 || node_in(g, n, 3)->v.dims[0] != p->outc))
		return node_error(g, n, ST_INVALID, "B must be [%lld]", (long long)p->outc);
	return ST_OK;
}

static Status deform_conv_infer(Graph *g, Node *n)
{
	DeformPlan p;

	TRY(infer_nin(g, n, 3, 5));
	for (int i = 0; i < n->nin; i++)
		if (has_input(n, i))
			TRY(infer_dtype(g, n, i, DTM_FLOAT));
	TRY(deform_plan(g, n, &p));
	return sized_out(g, n, node_in(g, n, 0)->v.dt, 4, (int64_t[]){p.batch, p.outc, p.oh, p.ow});
}

static int64_t deform_conv_macs(Graph *g, const Node *n)
{
	DeformPlan p;

	if (deform_plan(g, n, &p) != ST_OK)
		return 0;
	return ck_mul_sat(ck_mul_sat(ck_mul_sat(p.batch, p.outc), ck_mul_sat(p.oh, p.ow)),
	                  ck_mul_sat(p.chans / p.group, ck_mul_sat(p.kh, p.kw)));
}

/* The plane x [ih, iw] at (h, w), bilinear, zero outside. */
static double bilinear(const DeformPlan *p, const double *x, double h, double w)
{
	double fh, fw, sum = 0;

	if (!(h > -1 && h < (double)p->ih && w > -1 && w < (double)p->iw))
		return 0;
	fh = floor(h);
	fw = floor(w);
	for (int a = 0; a < 2; a++) {
		for (int b = 0; b < 2; b++) {
			int64_t i = (int64_t)fh + a, j = (int64_t)fw + b;
			double wt = (a ? h - fh : 1 - (h - fh)) * (b ? w - fw : 1 - (w - fw));

			if (i >= 0 && i < p->ih && j >= 0 && j < p->iw && wt != 0)
				sum += wt * x[i * p->iw + j];
		}
	}
	return sum;
}

/* Y[b, m, i, j] without the bias. */
static double deform_point(const DeformPlan *p, const double *const *v, int64_t b, int64_t m,
                           int64_t i, int64_t j)
{
	const double *x = v[0], *w = v[1], *off = v[2], *mask = v[4];
	int64_t cg = p->chans / p->group, per_og = p->chans / p->ogroup, taps = p->kh * p->kw;
	int64_t plane = p->oh * p->ow, at = i * p->ow + j;
	double sum = 0;

	for (int64_t cw = 0; cw < cg; cw++) {
		int64_t c = m / (p->outc / p->group) * cg + cw, og = c / per_og;
		const double *xp = x + (b * p->chans + c) * p->ih * p->iw;

		for (int64_t t = 0; t < taps; t++) {
			int64_t ki = t / p->kw, kj = t % p->kw, oc = (b * p->ogroup + og) * taps + t;
			double h = (double)(i * p->strides[0] - p->pads[0] + ki * p->dil[0]) +
			           off[(2 * oc) * plane + at];
			double wd = (double)(j * p->strides[1] - p->pads[1] + kj * p->dil[1]) +
			            off[(2 * oc + 1) * plane + at];
			double s = bilinear(p, xp, h, wd) * w[(m * cg + cw) * taps + t];

			sum += mask ? s * mask[oc * plane + at] : s;
		}
	}
	return sum;
}

static Status deform_conv_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                               Value *const *out)
{
	DeformPlan p;
	double *v[5] = {NULL};
	int64_t k = 0;

	TRY(deform_plan(cx->g, n, &p));
	for (int i = 0; i < 5; i++)
		if (i < n->nin && in[i] && !(v[i] = val_to_f64(cx->scratch, in[i])) && val_numel(in[i]) > 0)
			return eval_oom(cx, n);
	for (int64_t b = 0; b < p.batch; b++)
		for (int64_t m = 0; m < p.outc; m++)
			for (int64_t i = 0; i < p.oh; i++)
				for (int64_t j = 0; j < p.ow; j++)
					val_set_f64(out[0], k++, (v[3] ? v[3][m] : 0) +
					            deform_point(&p, (const double *const *)v, b, m, i, j));
	return ST_OK;
}

const OpImpl op_impl_GridSample = {grid_sample_infer, grid_sample_eval, NULL};
const OpImpl op_impl_AffineGrid = {affine_grid_infer, affine_grid_eval, NULL};
const OpImpl op_impl_Col2Im = {col2im_infer, col2im_eval, NULL};
const OpImpl op_impl_CenterCropPad = {center_crop_pad_infer, center_crop_pad_eval, NULL};
const OpImpl op_impl_MaxUnpool = {max_unpool_infer, max_unpool_eval, NULL};
const OpImpl op_impl_DeformConv = {deform_conv_infer, deform_conv_eval, deform_conv_macs};
