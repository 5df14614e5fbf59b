/*
 * Convolutions: Conv, ConvTranspose, ConvInteger and QLinearConv.
 *
 * Tensors are NCHW-style: X is [N][C][spatial...], W is [M][C/group][k...]
 * for the forward convolutions and [C][M/group][k...] for ConvTranspose,
 * with any number of spatial dimensions.  The window geometry (kernel,
 * strides, dilations, padding resolved from auto_pad, output size) is
 * computed by one function, win_conv_geom() (declared in window.h), for
 * infer, eval and the loop lowering (passes/lower_conv.c), so they can
 * never disagree.
 *
 * Every kernel computes in double.  The integer convolutions subtract the
 * zero points first and then run the float kernel: products of 8-bit values
 * summed in double stay exact far beyond any realistic layer size.  The
 * innermost loop runs over one row of output columns with a fixed weight,
 * so it is contiguous and vectorizes when the stride is 1.
 */
#include <math.h>
#include <string.h>

#include "checked.h"
#include "window.h"



/* strides, dilations, pads, group: the attributes every convolution has. */
static Status window_attrs(Graph *g, const Node *n, ConvGeom *gm)
{
	int64_t pads[2 * MAX_SP];
	Status st;

	if ((st = win_read_list(g, n, "strides", gm->nsp, 1, 1, gm->stride)) ||
	    (st = win_read_list(g, n, "dilations", gm->nsp, 1, 1, gm->dil)) ||
	    (st = win_read_list(g, n, "pads", 2 * gm->nsp, 0, 0, pads)))
		return st;
	for (int i = 0; i < gm->nsp; i++) {
		gm->pad0[i] = pads[i];
		gm->pad1[i] = pads[gm->nsp + i];
	}
	gm->group = attr_i(n, "group", 1);
	if (gm->group < 1)
		return node_error(g, n, ST_INVALID, "group %lld is not positive",
		                  (long long)gm->group);
	return ST_OK;
}

/* Kernel sizes from W, checked against the optional kernel_shape. */
static Status kernel_dims(Graph *g, const Node *n, const Value *w, ConvGeom *gm)
{
	int64_t ks[MAX_SP];
	Status st = win_read_list(g, n, "kernel_shape", gm->nsp, DIM_UNKNOWN, 1, ks);

	if (st)
		return st;
	for (int i = 0; i < gm->nsp; i++) {
		int64_t wd = w->dims[2 + i];

		if (wd == 0)
			return node_error(g, n, ST_INVALID, "input 'W' has an empty kernel");
		if (ks[i] > 0 && wd > 0 && ks[i] != wd)
			return node_error(g, n, ST_INVALID,
			                  "kernel_shape[%d] = %lld but W's kernel has %lld", i,
			                  (long long)ks[i], (long long)wd);
		gm->k[i] = wd >= 0 ? wd : ks[i];
	}
	return ST_OK;
}

int64_t win_conv_extent(const ConvGeom *gm, int i)
{
	return (gm->k[i] - 1) * gm->dil[i] + 1;
}

/* Splits a total padding between the two sides as auto_pad asks. */
static void split_pad(ConvGeom *gm, int i, int64_t total, bool upper)
{
	int64_t half = win_floor_div(total, 2);

	gm->pad0[i] = upper ? half : total - half;
	gm->pad1[i] = total - gm->pad0[i];
}

/* Output size of spatial dim i of a forward convolution. */
static Status fwd_out(Graph *g, const Node *n, ConvGeom *gm, int i, AutoPad ap)
{
	int64_t in = gm->in[i], s = gm->stride[i], span;

	if (in < 0 || gm->k[i] < 0) {
		gm->out[i] = DIM_UNKNOWN;
		return ST_OK;
	}
	switch (ap) {
	case PAD_SAME_UPPER:
	case PAD_SAME_LOWER:
		gm->out[i] = win_ceil_div(in, s);
		span = (gm->out[i] - 1) * s + win_conv_extent(gm, i) - in;
		split_pad(gm, i, span > 0 ? span : 0, ap == PAD_SAME_UPPER);
		return ST_OK;
	case PAD_VALID:
		gm->pad0[i] = gm->pad1[i] = 0;
		break;
	case PAD_NOTSET:
		break;
	}
	span = in + gm->pad0[i] + gm->pad1[i] - win_conv_extent(gm, i);
	if (span < 0)
		return node_error(g, n, ST_INVALID,
		                  "spatial dim %d: padded input size %lld is smaller than the kernel extent %lld",
		                  i, (long long)(in + gm->pad0[i] + gm->pad1[i]),
		                  (long long)win_conv_extent(gm, i));
	gm->out[i] = span / s + 1;
	return ST_OK;
}

/*
 * The explicit output size of ConvTranspose dim i, from output_shape or
 * auto_pad SAME_*, or -1 when the output follows from the pads.
 */
static int64_t transposed_target(const Node *n, const ConvGeom *gm, int i, AutoPad ap)
{
	int count;
	const int64_t *os = attr_ints(n, "output_shape", &count);

	if (os && count > 0)
		return os[count - gm->nsp + i];
	if (ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER)
		return gm->in[i] * gm->stride[i];
	return -1;
}

/* Output size of spatial dim i of ConvTranspose. */
static Status tr_out(Graph *g, const Node *n, ConvGeom *gm, int i, AutoPad ap, int64_t opad)
{
	int64_t full, target;

	if (gm->in[i] < 0 || gm->k[i] < 0) {
		gm->out[i] = DIM_UNKNOWN;
		return ST_OK;
	}
	full = gm->stride[i] * (gm->in[i] - 1) + opad + win_conv_extent(gm, i);
	target = transposed_target(n, gm, i, ap);
	if (target >= 0) {
		split_pad(gm, i, full - target, ap == PAD_SAME_UPPER);
	} else if (ap == PAD_VALID) {
		gm->pad0[i] = gm->pad1[i] = 0;
	}
	gm->out[i] = full - gm->pad0[i] - gm->pad1[i];
	if (gm->out[i] <= 0)
		return node_error(g, n, ST_INVALID, "spatial dim %d: output size %lld is not positive",
		                  i, (long long)gm->out[i]);
	return ST_OK;
}

static Status output_shape_attr(Graph *g, const Node *n, const ConvGeom *gm)
{
	int count;
	const int64_t *os = attr_ints(n, "output_shape", &count);

	if (!os || count == 0)
		return ST_OK;
	if (count != gm->nsp && count != gm->nsp + 2)
		return node_error(g, n, ST_INVALID, "'output_shape' has %d values, expected %d",
		                  count, gm->nsp);
	for (int i = 0; i < count; i++)
		if (os[i] < 1)
			return node_error(g, n, ST_INVALID, "'output_shape' value %lld is not positive",
			                  (long long)os[i]);
	return ST_OK;
}

static Status out_dims(Graph *g, const Node *n, ConvGeom *gm, AutoPad ap)
{
	int64_t opad[MAX_SP];
	Status st;

	if (!gm->transposed) {
		for (int i = 0; i < gm->nsp; i++)
			if ((st = fwd_out(g, n, gm, i, ap)))
				return st;
		return ST_OK;
	}
	if ((st = win_read_list(g, n, "output_padding", gm->nsp, 0, 0, opad)) ||
	    (st = output_shape_attr(g, n, gm)))
		return st;
	for (int i = 0; i < gm->nsp; i++)
		if ((st = tr_out(g, n, gm, i, ap, opad[i])))
			return st;
	return ST_OK;
}

static bool known_mismatch(int64_t a, int64_t b) { return a >= 0 && b >= 0 && a != b; }

/* Channel counts of X, W and the group attribute must agree. */
static Status channels(Graph *g, const Node *n, const Value *w, ConvGeom *gm)
{
	int64_t wc = w->dims[gm->transposed ? 0 : 1];
	int64_t wm = w->dims[gm->transposed ? 1 : 0];
	int64_t per = gm->transposed ? gm->cin : (gm->cin < 0 ? DIM_UNKNOWN : gm->cin / gm->group);

	if (gm->cin >= 0 && gm->cin % gm->group != 0)
		return node_error(g, n, ST_INVALID, "X has %lld channels, not divisible by group %lld",
		                  (long long)gm->cin, (long long)gm->group);
	if (known_mismatch(wc, per))
		return node_error(g, n, ST_INVALID,
		                  "input 'W' expects %lld input channels%s, X has %lld in %lld group(s)",
		                  (long long)wc, gm->transposed ? "" : " per group",
		                  (long long)gm->cin, (long long)gm->group);
	if (gm->transposed) {
		gm->cout = wm < 0 ? DIM_UNKNOWN : wm * gm->group;
		return ST_OK;
	}
	gm->cout = wm;
	if (wm >= 0 && wm % gm->group != 0)
		return node_error(g, n, ST_INVALID, "input 'W' has %lld output channels, not divisible by group %lld",
		                  (long long)wm, (long long)gm->group);
	return ST_OK;
}

Status win_conv_geom(Graph *g, const Node *n, const Value *x, const Value *w, ConvGeom *gm)
{
	AutoPad ap = PAD_NOTSET;
	Status st;

	memset(gm, 0, sizeof(*gm));
	gm->transposed = n->op == OP_ConvTranspose;
	if (x->rank < 3 || x->rank > MAX_RANK)
		return node_error(g, n, ST_INVALID, "input 'X' has rank %d, expected 3 to %d",
		                  x->rank, MAX_RANK);
	if (w->rank != x->rank)
		return node_error(g, n, ST_INVALID, "input 'W' has rank %d, X has rank %d",
		                  w->rank, x->rank);
	gm->nsp = x->rank - 2;
	gm->batch = x->dims[0];
	gm->cin = x->dims[1];
	for (int i = 0; i < gm->nsp; i++)
		gm->in[i] = x->dims[2 + i];
	if ((st = window_attrs(g, n, gm)) || (st = win_read_auto_pad(g, n, &ap)) ||
	    (st = kernel_dims(g, n, w, gm)) || (st = channels(g, n, w, gm)))
		return st;
	return out_dims(g, n, gm, ap);
}

static void geom_out_dims(const ConvGeom *gm, int64_t *dims)
{
	dims[0] = gm->batch;
	dims[1] = gm->cout;
	for (int i = 0; i < gm->nsp; i++)
		dims[2 + i] = gm->out[i];
}

/* A 1-D input with `want` elements (per output channel), or a scalar. */
static Status check_vec(Graph *g, const Node *n, int input, const char *what,
                        int64_t want, bool scalar_ok)
{
	const Tensor *t = node_in(g, n, input);
	const Value *v;
	int64_t cnt;

	if (!t)
		return ST_OK;
	v = &t->v;
	cnt = val_known(v) ? val_numel(v) : DIM_UNKNOWN;
	if (v->rank > 1)
		return node_error(g, n, ST_INVALID, "input '%s' has rank %d, expected at most 1",
		                  what, v->rank);
	if (scalar_ok && cnt == 1)
		return ST_OK;
	if (!scalar_ok && v->rank != 1)
		return node_error(g, n, ST_INVALID, "input '%s' is not 1-D", what);
	if (known_mismatch(cnt, want))
		return node_error(g, n, ST_INVALID, "input '%s' has %lld elements, expected %s%lld",
		                  what, (long long)cnt, scalar_ok && want != 1 ? "1 or " : "",
		                  (long long)want);
	return ST_OK;
}

static Status same_dtype(Graph *g, const Node *n, int a, int b, const char *what)
{
	const Tensor *ta = node_in(g, n, a), *tb = node_in(g, n, b);

	if (ta && tb && ta->v.dt != tb->v.dt)
		return node_error(g, n, ST_INVALID, "input '%s' is %s, expected %s", what,
		                  dtype_name(tb->v.dt), dtype_name(ta->v.dt));
	return ST_OK;
}

/* Geometry and output type; X is input 0, W is input wi. */
static Status geom_out(Graph *g, Node *n, int wi, DType dt)
{
	int64_t dims[MAX_RANK];
	ConvGeom gm;
	Status st = win_conv_geom(g, n, &node_in(g, n, 0)->v, &node_in(g, n, wi)->v, &gm);

	if (st)
		return st;
	geom_out_dims(&gm, dims);
	infer_out(g, n, 0, dt, gm.nsp + 2, dims);
	return ST_OK;
}

/* M from W's type: W is [M][C/group][k...], or [C][M/group][k...] transposed. */
static int64_t w_out_channels(const Node *n, const Value *w)
{
	if (n->op != OP_ConvTranspose)
		return w->dims[0];
	return w->dims[1] < 0 ? DIM_UNKNOWN : w->dims[1] * attr_i(n, "group", 1);
}

static Status float_conv_infer(Graph *g, Node *n)
{
	const Value *w;
	Status st;

	if ((st = infer_nin(g, n, 2, 3)) || (st = infer_dtype(g, n, 0, DTM_FLOAT)) ||
	    (st = same_dtype(g, n, 0, 1, "W")) || (st = same_dtype(g, n, 0, 2, "B")))
		return st;
	w = &node_in(g, n, 1)->v;
	if (w->rank >= 2 && (st = check_vec(g, n, 2, "B", w_out_channels(n, w), false)))
		return st;
	return geom_out(g, n, 1, node_in(g, n, 0)->v.dt);
}

static Status conv_integer_infer(Graph *g, Node *n)
{
	const unsigned q8 = DTM(U8) | DTM(I8);
	Status st;

	if ((st = infer_nin(g, n, 2, 4)) || (st = infer_dtype(g, n, 0, q8)) ||
	    (st = infer_dtype(g, n, 1, q8)) || (st = same_dtype(g, n, 0, 2, "x_zero_point")) ||
	    (st = same_dtype(g, n, 1, 3, "w_zero_point")) ||
	    (st = check_vec(g, n, 2, "x_zero_point", 1, true)))
		return st;
	if (node_in(g, n, 1)->v.rank >= 1 &&
	    (st = check_vec(g, n, 3, "w_zero_point", node_in(g, n, 1)->v.dims[0], true)))
		return st;
	return geom_out(g, n, 1, DT_I32);
}

static Status qlinear_scale(Graph *g, const Node *n, int i, const char *what, int64_t m)
{
	Status st = infer_dtype(g, n, i, DTM(F32));

	return st ? st : check_vec(g, n, i, what, m, true);
}

/* Scales and zero points: per tensor, except W's which may be per channel. */
static Status qlinear_params(Graph *g, const Node *n, int64_t m)
{
	Status st;

	if ((st = qlinear_scale(g, n, 1, "x_scale", 1)) ||
	    (st = qlinear_scale(g, n, 4, "w_scale", m)) ||
	    (st = qlinear_scale(g, n, 6, "y_scale", 1)) ||
	    (st = same_dtype(g, n, 0, 2, "x_zero_point")) ||
	    (st = check_vec(g, n, 2, "x_zero_point", 1, true)) ||
	    (st = same_dtype(g, n, 3, 5, "w_zero_point")) ||
	    (st = check_vec(g, n, 5, "w_zero_point", m, true)) ||
	    (st = infer_dtype(g, n, 7, DTM(U8) | DTM(I8))) ||
	    (st = check_vec(g, n, 7, "y_zero_point", 1, true)))
		return st;
	if (node_in(g, n, 8) && (st = infer_dtype(g, n, 8, DTM(I32))))
		return st;
	return check_vec(g, n, 8, "B", m, false);
}

static Status qlinear_conv_infer(Graph *g, Node *n)
{
	const unsigned q8 = DTM(U8) | DTM(I8);
	Status st;

	if ((st = infer_nin(g, n, 8, 9)) || (st = infer_dtype(g, n, 0, q8)) ||
	    (st = infer_dtype(g, n, 3, q8)))
		return st;
	if (node_in(g, n, 3)->v.rank >= 1 &&
	    (st = qlinear_params(g, n, node_in(g, n, 3)->v.dims[0])))
		return st;
	return geom_out(g, n, 3, node_in(g, n, 7)->v.dt);
}

/* Columns [lo, hi) of the row a tap walks (see last_dim_taps), and its shift. */
typedef struct Tap {
	int64_t lo, hi, shift;
} Tap;

/*
 * For every kernel column kx of the last spatial dim: which columns of the
 * "from" row land inside the "to" row, to = from * s + kx * dil - pad0
 * (transposed) or from = to * s + kx * dil - pad0 (forward).
 */
static Tap *last_dim_taps(Arena *a, const ConvGeom *gm)
{
	int d = gm->nsp - 1;
	int64_t s = gm->stride[d];
	Tap *t = arena_alloc(a, (size_t)gm->k[d] * sizeof(Tap));

	for (int64_t kx = 0; t && kx < gm->k[d]; kx++) {
		int64_t shift = kx * gm->dil[d] - gm->pad0[d];
		int64_t lim = gm->transposed ? gm->in[d] : gm->out[d];
		int64_t other = gm->transposed ? gm->out[d] : gm->in[d];
		int64_t lo = win_ceil_div(-shift, s), hi = win_ceil_div(other - shift, s);

		t[kx].lo = lo < 0 ? 0 : lo;
		t[kx].hi = hi > lim ? lim : hi;
		t[kx].shift = shift;
	}
	return t;
}

/*
 * The row index (over all spatial dims but the last) that output row oidx
 * reads through outer kernel tap kidx, or -1 when it falls into padding.
 * Transposed: the output row that input row oidx writes to.
 */
static int64_t tap_row(const ConvGeom *gm, const int64_t *oidx, const int64_t *kidx)
{
	const int64_t *lim = gm->transposed ? gm->out : gm->in;
	int64_t row = 0;

	for (int d = 0; d < gm->nsp - 1; d++) {
		int64_t i = oidx[d] * gm->stride[d] + kidx[d] * gm->dil[d] - gm->pad0[d];

		if (i < 0 || i >= lim[d])
			return -1;
		row = row * lim[d] + i;
	}
	return row;
}

/*
 * The contribution of input channels x[0 .. cg) (planes isz apart) to one
 * output plane y, with weights w[cc] (wstep apart) of ksz elements.
 */
typedef struct Planes {
	const double *x;
	int64_t cg, isz;
	const double *w;
	int64_t wstep;
	double *y;
} Planes;

/*
 * y[i * ys] += sum over j < 4 of w[j] * x[j][i * xs], for i < len.  Four
 * input channels per pass cut the loads and stores of y, which bound the
 * speed of the one-channel loop.
 */
static void mac4(double *restrict y, int64_t ys, const double *const *x, int64_t xs,
                 const double *w, int64_t len)
{
	const double *restrict x0 = x[0], *restrict x1 = x[1];
	const double *restrict x2 = x[2], *restrict x3 = x[3];
	double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];

	if (ys == 1 && xs == 1) {
		for (int64_t i = 0; i < len; i++)
			y[i] += w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i];
		return;
	}
	for (int64_t i = 0; i < len; i++)
		y[i * ys] += w0 * x0[i * xs] + w1 * x1[i * xs] + w2 * x2[i * xs] + w3 * x3[i * xs];
}

static void mac1(double *restrict y, int64_t ys, const double *restrict x, int64_t xs,
                 double w, int64_t len)
{
	if (ys == 1 && xs == 1) {
		for (int64_t i = 0; i < len; i++)
			y[i] += w * x[i];
		return;
	}
	for (int64_t i = 0; i < len; i++)
		y[i * ys] += w * x[i * xs];
}

/*
 * Kernel column `tap` between input row xrow and output row yrow, summed
 * over all input channels of p; wofs is the tap's offset in a weight plane.
 * Forward, output column i reads input column i * s; transposed, input
 * column i writes output column i * s.
 */
static void tap_rows(const ConvGeom *gm, const Tap *tap, const Planes *p, int64_t xrow,
                     int64_t yrow, int64_t wofs)
{
	int last = gm->nsp - 1;
	int64_t s = gm->stride[last], len = tap->hi - tap->lo;
	int64_t xs = gm->transposed ? 1 : s, ys = gm->transposed ? s : 1;
	int64_t xo = xrow * gm->in[last] + tap->lo * xs + (gm->transposed ? 0 : tap->shift);
	double *y = p->y + yrow * gm->out[last] + tap->lo * ys + (gm->transposed ? tap->shift : 0);
	int64_t cc = 0;

	if (len <= 0)
		return;
	for (; cc + 4 <= p->cg; cc += 4) {
		const double *x[4];
		double w[4];

		for (int j = 0; j < 4; j++) {
			x[j] = p->x + (cc + j) * p->isz + xo;
			w[j] = p->w[(cc + j) * p->wstep + wofs];
		}
		mac4(y, ys, x, xs, w, len);
	}
	for (; cc < p->cg; cc++)
		mac1(y, ys, p->x + cc * p->isz + xo, xs, p->w[cc * p->wstep + wofs], len);
}

/* Row r (index ridx over all spatial dims but the last) of plane p. */
static void conv_row(const ConvGeom *gm, const Tap *taps, const Planes *p, int64_t r,
                     const int64_t *ridx)
{
	int last = gm->nsp - 1;
	int64_t ktaps = win_prod(gm->k, last), kw = gm->k[last];
	int64_t kidx[MAX_SP] = {0};

	for (int64_t t = 0; t < ktaps; t++, win_next_index(kidx, gm->k, last)) {
		int64_t other = tap_row(gm, ridx, kidx);

		if (other < 0)
			continue;
		for (int64_t kx = 0; kx < kw; kx++)
			tap_rows(gm, &taps[kx], p, gm->transposed ? r : other,
			         gm->transposed ? other : r, t * kw + kx);
	}
}

/* The planes of output channel m of image nb. */
static Planes channel_planes(const ConvGeom *gm, const double *x, const double *w, double *y,
                             int64_t nb, int64_t m)
{
	int64_t cg = gm->cin / gm->group, mg = gm->cout / gm->group, grp = m / mg;
	int64_t isz = win_prod(gm->in, gm->nsp), osz = win_prod(gm->out, gm->nsp);
	int64_t ksz = win_prod(gm->k, gm->nsp);
	Planes p = {
		.x = x + (nb * gm->cin + grp * cg) * isz, .cg = cg, .isz = isz,
		.y = y + (nb * gm->cout + m) * osz,
	};

	if (gm->transposed) {
		p.w = w + (grp * cg * mg + m % mg) * ksz;
		p.wstep = mg * ksz;
	} else {
		p.w = w + m * cg * ksz;
		p.wstep = ksz;
	}
	return p;
}

/*
 * Output channels [m0, m1) of image nb.  Rows are the outer loop so that
 * the few input rows one output row needs stay in cache while every
 * channel of the block reads them.
 */
static void conv_block(const ConvGeom *gm, const Tap *taps, const double *x, const double *w,
                       double *y, int64_t nb, int64_t m0, int64_t m1)
{
	int last = gm->nsp - 1;
	const int64_t *rows_lim = gm->transposed ? gm->in : gm->out;
	int64_t rows = win_prod(rows_lim, last);
	int64_t ridx[MAX_SP] = {0};

	for (int64_t r = 0; r < rows; r++, win_next_index(ridx, rows_lim, last)) {
		for (int64_t m = m0; m < m1; m++) {
			Planes p = channel_planes(gm, x, w, y, nb, m);

			conv_row(gm, taps, &p, r, ridx);
		}
	}
}

/*
 * y = conv(x, w) + b over the whole batch; b may be NULL.  Output channels
 * go in blocks whose weights fit in about 256 KiB, so that neither the
 * weights nor the input rows are fetched from memory again for each row.
 */
static void conv_run(const ConvGeom *gm, const Tap *taps, const double *x, const double *w,
                     const double *b, double *y)
{
	int64_t mg = gm->cout / gm->group, osz = win_prod(gm->out, gm->nsp);
	int64_t wbytes = (gm->cin / gm->group) * win_prod(gm->k, gm->nsp) * (int64_t)sizeof(double);
	int64_t blk = wbytes > 0 && wbytes < (256 << 10) ? (256 << 10) / wbytes : 1;

	for (int64_t i = 0; i < gm->batch * gm->cout * osz; i++)
		y[i] = b ? b[i / osz % gm->cout] : 0.0;
	for (int64_t nb = 0; nb < gm->batch; nb++) {
		for (int64_t grp = 0; grp < gm->group; grp++) {
			for (int64_t m0 = grp * mg; m0 < (grp + 1) * mg; m0 += blk) {
				int64_t m1 = m0 + blk < (grp + 1) * mg ? m0 + blk : (grp + 1) * mg;

				conv_block(gm, taps, x, w, y, nb, m0, m1);
			}
		}
	}
}

/* Optional input i: NULL when absent, also past the node's input count. */
static const Value *opt_in(const Node *n, const Value *const *in, int i)
{
	return i < n->nin ? in[i] : NULL;
}

/* Evaluates the geometry and the convolution into fresh double output. */
static Status conv_compute(EvalCtx *cx, const Node *n, const Value *xv, const Value *wv,
                           const double *x, const double *w, const double *b, double **y)
{
	ConvGeom gm;
	Tap *taps;
	Status st = win_conv_geom(cx->g, n, xv, wv, &gm);

	if (st)
		return st;
	taps = last_dim_taps(cx->scratch, &gm);
	*y = arena_alloc(cx->scratch, (size_t)(gm.batch * gm.cout * win_prod(gm.out, gm.nsp)) * sizeof(double));
	if (!taps || !*y || !x || !w)
		return graph_oom(cx->g);
	conv_run(&gm, taps, x, w, b, *y);
	return ST_OK;
}

static Status float_conv_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                              Value *const *out)
{
	double *x = val_to_f64(cx->scratch, in[0]), *w = val_to_f64(cx->scratch, in[1]);
	const Value *bv = opt_in(n, in, 2);
	double *b = NULL, *y;
	Status st;

	if (bv && !(b = val_to_f64(cx->scratch, bv)))
		return graph_oom(cx->g);
	if ((st = conv_compute(cx, n, in[0], in[1], x, w, b, &y)))
		return st;
	val_from_f64(out[0], y);
	return ST_OK;
}

/*
 * v - zp as double; zp is a scalar or one value per leading-dim slice of v
 * (per output channel of W).  zp may be NULL.
 */
static double *minus_zero_point(Arena *a, const Value *v, const Value *zp)
{
	double *x = val_to_f64(a, v);
	int64_t total = val_numel(v), nzp, per;

	if (!x || !zp)
		return x;
	nzp = val_numel(zp);
	per = total / (nzp > 0 ? nzp : 1);
	for (int64_t i = 0; i < total; i++)
		x[i] -= val_get_f64(zp, nzp == 1 ? 0 : i / per);
	return x;
}

static Status conv_integer_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                                Value *const *out)
{
	double *x = minus_zero_point(cx->scratch, in[0], opt_in(n, in, 2));
	double *w = minus_zero_point(cx->scratch, in[1], opt_in(n, in, 3));
	double *y;
	Status st = conv_compute(cx, n, in[0], in[1], x, w, NULL, &y);

	if (st)
		return st;
	val_from_f64(out[0], y);
	return ST_OK;
}

/*
 * Requantization.  The multiplier x_scale * w_scale / y_scale is formed in
 * float, as ONNX Runtime and the ONNX reference do, so that results on the
 * .5 boundary round the same way; ties round to even.
 */
static void requantize(Value *yv, double *acc, const Value *const *in, int64_t m)
{
	float xs = (float)val_get_f64(in[1], 0), ys = (float)val_get_f64(in[6], 0);
	int64_t nws = val_numel(in[4]), total = val_numel(yv);
	int64_t plane = total > 0 ? total / (yv->dims[0] * m) : 1;
	double yzp = val_get_f64(in[7], 0);
	double lo = yv->dt == DT_U8 ? 0 : -128, hi = yv->dt == DT_U8 ? 255 : 127;

	for (int64_t i = 0; i < total; i++) {
		float ws = (float)val_get_f64(in[4], nws == 1 ? 0 : (i / plane) % m);
		float xw = xs * ws;
		float mul = xw / ys;
		double q = nearbyint(acc[i] * (double)mul) + yzp;

		acc[i] = q < lo ? lo : q > hi ? hi : q;
	}
	val_from_f64(yv, acc);
}

static Status qlinear_conv_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                                Value *const *out)
{
	double *x = minus_zero_point(cx->scratch, in[0], in[2]);
	double *w = minus_zero_point(cx->scratch, in[3], in[5]);
	const Value *bv = opt_in(n, in, 8);
	double *b = NULL, *y;
	Status st;

	if (bv && !(b = val_to_f64(cx->scratch, bv)))
		return graph_oom(cx->g);
	if ((st = conv_compute(cx, n, in[0], in[3], x, w, b, &y)))
		return st;
	requantize(out[0], y, in, in[3]->dims[0]);
	return ST_OK;
}

/* Output elements x (C/group) x kernel size: W holds the last two factors. */
static int64_t conv_macs(Graph *g, const Node *n, int wi, int per)
{
	const Tensor *w = node_in(g, n, wi), *o = per == 0 ? node_out(g, n, 0) : node_in(g, n, 0);

	if (!w || !o || !val_known(&w->v) || !val_known(&o->v) || w->v.rank < 2 ||
	    w->v.dims[0] == 0)
		return 0;
	return ck_mul_sat(val_numel(&o->v), val_numel(&w->v) / w->v.dims[0]);
}

static int64_t float_conv_macs(Graph *g, const Node *n)
{
	return conv_macs(g, n, 1, 0);
}

/* Each input element meets (M/group) x kernel size weights. */
static int64_t conv_transpose_macs(Graph *g, const Node *n)
{
	return conv_macs(g, n, 1, 1);
}

static int64_t conv_integer_macs(Graph *g, const Node *n)
{
	return conv_macs(g, n, 1, 0);
}

static int64_t qlinear_conv_macs(Graph *g, const Node *n)
{
	return conv_macs(g, n, 3, 0);
}

const OpImpl op_impl_Conv = { float_conv_infer, float_conv_eval, float_conv_macs };
const OpImpl op_impl_ConvTranspose = { float_conv_infer, float_conv_eval, conv_transpose_macs };
const OpImpl op_impl_ConvInteger = { conv_integer_infer, conv_integer_eval, conv_integer_macs };
const OpImpl op_impl_QLinearConv = { qlinear_conv_infer, qlinear_conv_eval, qlinear_conv_macs };
