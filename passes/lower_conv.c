/*
 * Lowering of the convolutions: Conv, ConvInteger, QLinearConv and
 * ConvTranspose, over any number of spatial dimensions, with groups
 * (depthwise included), strides, dilations, explicit pads and auto_pad.
 *
 * Every convolution becomes the same canonical kernel:
 *
 *   prologue   operand preparation: the zero points subtracted into i32
 *              temporaries (integer forms), then a padded copy of the
 *              input (`copy Xp[..] = X[y - pad] pad 0`), so that every read
 *              of the compute nest is in bounds; no copy without padding;
 *   init       the accumulator set to the bias (or zero);
 *   compute    for n, [g], k, out spatial... { for c, kernel spatial... {
 *                  mac Acc[n, k, y, x] += Xp[n, c, S*y + D*r, ...] * W[k, c, r, ...] } }
 *              output loops outside, reduction loops innermost;
 *   epilogue   the requantization of QLinearConv, or the rounding of an f64
 *              accumulator into an f16/bf16 output.
 *
 * ConvTranspose is the same nest over a zero-stuffed input: X's pixels are
 * spread S apart into a zeroed buffer (the full padding of the transposed
 * relation o = S*i + D*r - pad folded into the offset), and the kernel is read
 * flipped, so the accumulation is again a gather with in-bounds reads.
 *
 * Arithmetic follows ir/interp/conv.c: float layers accumulate in the
 * output's type when it is f32 or f64 (an f64 temporary for f16/bf16, whose
 * rounding at every step would exceed the tolerance); integer layers are
 * exact in i32 (the interpreter sums in double: the two agree while sums
 * stay below 2^31 in magnitude, some 33,000 products of 8-bit values at
 * the least); QLinearConv's multiplier x_scale * w_scale / y_scale is formed
 * in f32 arithmetic as the graph interpreter does (at compile time when the
 * scales are constant, else by two applies into an f32 temporary, which
 * round the same way: the product of two floats is exact in double, and a
 * quotient of floats rounded through double rounds correctly), then applied
 * in double, rounded half to even, plus the zero point, saturated.
 */
#include "lower.h"

#include <string.h>

#include "interp/window.h"

/* The operands of one compute nest; every read is in bounds. */
typedef struct ConvNest {
	int acc;                     /* [N][M][out...] */
	int x;                       /* [N][C][...]: padded, or zero-stuffed when transposed */
	int w;                       /* [M][C/G][k...], or [C][M/G][k...] read flipped */
	int64_t xstep[MAX_SP];       /* input step per output step: the stride, 1 when stuffed */
} ConvNest;

/* Geometry: the graph interpreter's (win_conv_geom) for X at input xi and W
 * at wi, checked against the inferred output type. */

static Status conv_geom(LowerCx *cx, const Node *n, int xi, int wi, ConvGeom *gm)
{
	Graph *g = cx->g;
	const Value *x = &node_in(g, n, xi)->v, *w = &node_in(g, n, wi)->v;
	const Value *y = &node_out(g, n, 0)->v;

	if (!lower_all_positive(x) || !lower_all_positive(w) || !lower_all_positive(y))
		return node_error(g, n, ST_UNSUPPORTED, "empty tensors have no loop nest");
	TRY(win_conv_geom(g, n, x, w, gm));
	nnac_assert(gm->cout == y->dims[1]);
	for (int i = 0; i < gm->nsp; i++)
		nnac_assert(gm->out[i] == y->dims[2 + i]);
	return ST_OK;
}

/* Building blocks. */

static const char *spatial_name(int nsp, int i)
{
	static const char *const xyz[] = {"z", "y", "x"};
	static const char *const many[] = {"o0", "o1", "o2", "o3", "o4", "o5"};

	return nsp <= 3 ? xyz[3 - nsp + i] : many[i];
}

static const char *kernel_name(int nsp, int i)
{
	static const char *const qrs[] = {"q", "r", "s"};
	static const char *const many[] = {"f0", "f1", "f2", "f3", "f4", "f5"};

	return nsp <= 3 ? qrs[3 - nsp + i] : many[i];
}

/* Loop names over an activation [N][second][spatial...] (first "n") or a
 * weight [first][second][kernel...]. */
static void tensor_names(int nsp, const char *first, const char *second, const char **names)
{
	bool weights = strcmp(first, "n") != 0;

	names[0] = first;
	names[1] = second;
	for (int i = 0; i < nsp; i++)
		names[2 + i] = weights ? kernel_name(nsp, i) : spatial_name(nsp, i);
}

/* A nest over every element of buffer b; returns the innermost loop. */
static int buf_nest(LowerCx *cx, int b, const char *first, const char *second, int *vars)
{
	const char *names[MAX_RANK];

	tensor_names(cx->p->bufs[b].rank - 2, first, second, names);
	return lower_buf_nest(cx, b, names, vars);
}

/* c * v, without the multiplication when c is 1. */
static int scaled(LoopProgram *p, int64_t c, int v)
{
	return c == 1 ? v : loop_mul(p, c, v);
}

/* ca * a + cb * b + k. */
static int affine2(LoopProgram *p, int64_t ca, int a, int64_t cb, int b, int64_t k)
{
	return loop_add_const(p, loop_add(p, scaled(p, ca, a), scaled(p, cb, b)), k);
}

static const Tensor *input(LowerCx *cx, const Node *n, int i)
{
	return has_input(n, i) ? node_in(cx->g, n, i) : NULL;
}

/*
 * A zero point or scale: one element (a literal when constant) or one per
 * index of loop variable var.
 */
static LoopArg param_arg(LowerCx *cx, const Tensor *t, int tidx, int var)
{
	int b;

	if (val_numel(&t->v) == 1 && t->v.data)
		return dtype_is_float(t->v.dt) ? loop_lit_float(val_get_f64(&t->v, 0))
		                               : loop_lit_int(val_get_i64(&t->v, 0));
	b = lower_buf(cx, tidx);
	return val_numel(&t->v) == 1 ? lower_first_ref(cx, b) : lower_ref(cx, b, &var);
}

/* Prologue: operands. */

/*
 * src - zero point (input zi of n) into an i32 temporary of src's shape; the
 * zero point is per tensor or, for weights, one per output channel (dim 0).
 * src itself when the zero point is absent or zero.
 */
static int minus_zero_point(LowerCx *cx, const Node *n, int src, int zi, bool weights)
{
	int vars[MAX_RANK], in, dst;

	if (!lower_zero_point_temp(cx, n, src, zi, weights ? "Wi" : "Xi", &dst))
		return src;
	if (dst < 0)
		return -1;
	in = buf_nest(cx, dst, weights ? "k" : "n", "c", vars);
	lower_apply(cx, in, OP_Sub, 3, (LoopArg[]){lower_ref(cx, dst, vars),
	            lower_ref(cx, src, vars),
	            param_arg(cx, node_in(cx->g, n, zi), n->in[zi], vars[0])});
	return dst;
}

/* Constant weights minus a constant zero point, computed now. */
static int const_weights(LowerCx *cx, const Node *n, int wi, int zi)
{
	const Value *w = &node_in(cx->g, n, wi)->v, *z = &node_in(cx->g, n, zi)->v;
	int64_t len = val_numel(w), nz = val_numel(z), per = len / nz;
	int32_t *d = arena_alloc(&cx->p->arena, (size_t)len * sizeof(*d));

	if (!d)
		return -1;
	for (int64_t i = 0; i < len; i++)
		d[i] = (int32_t)(val_get_i64(w, i) - val_get_i64(z, nz == 1 ? 0 : i / per));
	return lower_const(cx, "Wi", DT_I32, w->rank, w->dims, d);
}

/* The weights of an integer convolution with their zero point subtracted. */
static int int_weights(LowerCx *cx, const Node *n, int wi, int zi)
{
	const Tensor *w = node_in(cx->g, n, wi), *z = input(cx, n, zi);

	if (!lower_absent_or_zero(cx, n, zi) && w->v.data && z->v.data)
		return const_weights(cx, n, wi, zi);
	return minus_zero_point(cx, n, lower_buf(cx, n->in[wi]), zi, true);
}

/* The input size the compute nest reads in spatial dim i (forward). */
static int64_t needed(const ConvGeom *gm, int i)
{
	return (gm->out[i] - 1) * gm->stride[i] + win_conv_extent(gm, i);
}

static bool needs_padding(const ConvGeom *gm)
{
	for (int i = 0; i < gm->nsp; i++)
		if (gm->pad0[i] > 0 || needed(gm, i) - gm->pad0[i] > gm->in[i])
			return true;
	return false;
}

/* x, or a copy padded with zeros covering every position the nest reads. */
static int pad_input(LowerCx *cx, const ConvGeom *gm, int x)
{
	int64_t dims[MAX_RANK];
	int vars[MAX_RANK], idx[MAX_RANK], xp, in;
	DType dt;

	if (!needs_padding(gm) || x < 0)
		return x;
	dt = cx->p->bufs[x].dt;
	dims[0] = gm->batch;
	dims[1] = gm->cin;
	for (int i = 0; i < gm->nsp; i++)
		dims[2 + i] = needed(gm, i);
	xp = lower_temp(cx, "Xp", dt, 2 + gm->nsp, dims);
	if (xp < 0)
		return -1;
	in = buf_nest(cx, xp, "n", "c", vars);
	idx[0] = vars[0];
	idx[1] = vars[1];
	for (int i = 0; i < gm->nsp; i++)
		idx[2 + i] = loop_add_const(cx->p, vars[2 + i], -gm->pad0[i]);
	lower_copy_pad(cx, in, lower_ref(cx, xp, vars), lower_ref(cx, x, idx), lower_zero_lit(dt));
	return xp;
}

/*
 * ConvTranspose's input spread out: Xz[n, c, S*i + P] = X[n, c, i] with
 * P = D*(K-1) - pad0, zero elsewhere, over the Xz positions the flipped
 * forward nest reads (out + D*(K-1) per dim).  Input positions i in
 * [lo, hi) land inside Xz; the others meet no output.
 */
typedef struct Stuffing {
	int64_t dims[MAX_RANK];      /* Xz */
	int64_t off[MAX_SP];         /* P */
	int64_t lo[MAX_SP], hi[MAX_SP];
	bool unit;                   /* every stride 1: one padded copy */
	bool same;                   /* Xz would be X itself */
	bool empty;                  /* no input position lands inside */
} Stuffing;

static void stuffing(const ConvGeom *gm, Stuffing *st)
{
	st->dims[0] = gm->batch;
	st->dims[1] = gm->cin;
	st->unit = st->same = true;
	st->empty = false;
	for (int i = 0; i < gm->nsp; i++) {
		int64_t s = gm->stride[i], size = gm->out[i] + (gm->k[i] - 1) * gm->dil[i];
		int64_t off = (gm->k[i] - 1) * gm->dil[i] - gm->pad0[i];
		int64_t hi = win_ceil_div(size - off, s);

		st->dims[2 + i] = size;
		st->off[i] = off;
		st->lo[i] = off >= 0 ? 0 : win_ceil_div(-off, s);
		st->hi[i] = hi < gm->in[i] ? hi : gm->in[i];
		st->unit = st->unit && s == 1;
		st->same = st->same && s == 1 && off == 0 && size == gm->in[i];
		st->empty = st->empty || st->hi[i] <= st->lo[i];
	}
}

/* copy Xz[n, c, S*y + P, ...] = X[n, c, y, ...] for y in [lo, hi). */
static void spread_copy(LowerCx *cx, const ConvGeom *gm, const Stuffing *st, int xz, int x)
{
	const char *names[MAX_RANK];
	int vars[MAX_RANK], idx[MAX_RANK], in = -1;

	tensor_names(gm->nsp, "n", "c", names);
	for (int d = 0; d < 2 + gm->nsp; d++) {
		int64_t start = d < 2 ? 0 : st->lo[d - 2];
		int64_t count = d < 2 ? st->dims[d] : st->hi[d - 2] - st->lo[d - 2];
		in = lower_loop(cx, in, names[d], start, count, &vars[d]);
	}
	idx[0] = vars[0];
	idx[1] = vars[1];
	for (int i = 0; i < gm->nsp; i++)
		idx[2 + i] = loop_add_const(cx->p, scaled(cx->p, gm->stride[i], vars[2 + i]), st->off[i]);
	lower_emit(cx, in, LN_COPY, 2, (LoopArg[]){lower_ref(cx, xz, idx), lower_ref(cx, x, vars)});
}

/* x spread out for the flipped forward nest (x itself when it already is
 * that buffer); one padded copy when every stride is 1, else a zero fill
 * and a strided copy. */
static int stuff_input(LowerCx *cx, const ConvGeom *gm, int x)
{
	DType dt = cx->p->bufs[x].dt;
	int vars[MAX_RANK], idx[MAX_RANK], xz, in;
	Stuffing st;

	stuffing(gm, &st);
	if (st.same)
		return x;
	xz = lower_temp(cx, "Xz", dt, 2 + gm->nsp, st.dims);
	if (xz < 0)
		return -1;
	in = buf_nest(cx, xz, "n", "c", vars);
	if (st.unit) {
		idx[0] = vars[0];
		idx[1] = vars[1];
		for (int i = 0; i < gm->nsp; i++)
			idx[2 + i] = loop_add_const(cx->p, vars[2 + i], -st.off[i]);
		lower_copy_pad(cx, in, lower_ref(cx, xz, vars), lower_ref(cx, x, idx),
		               lower_zero_lit(dt));
		return xz;
	}
	lower_emit(cx, in, LN_FILL, 2, (LoopArg[]){lower_ref(cx, xz, vars), lower_zero_lit(dt)});
	if (!st.empty)
		spread_copy(cx, gm, &st, xz, x);
	return xz;
}

/* Init, compute and epilogue. */

/* acc = bias[k] (converted when the types differ), or zero. */
static void init_acc(LowerCx *cx, int acc, int bias)
{
	DType dt = cx->p->bufs[acc].dt;
	int vars[MAX_RANK], in = buf_nest(cx, acc, "n", "k", vars);
	LoopArg a = lower_ref(cx, acc, vars);

	if (bias < 0)
		lower_emit(cx, in, LN_FILL, 2, (LoopArg[]){a, lower_zero_lit(dt)});
	else if (cx->p->bufs[bias].dt == dt)
		lower_emit(cx, in, LN_COPY, 2, (LoopArg[]){a, lower_ref(cx, bias, &vars[1])});
	else
		lower_apply(cx, in, OP_Cast, 2, (LoopArg[]){a, lower_ref(cx, bias, &vars[1])});
}

/*
 * The weight index: W[m, c, r...], or W[cin, k, K-1-r...] read flipped, for
 * output channel m = g*(M/G) + k and input channel cin = g*(C/G) + c.
 */
static void weight_index(LowerCx *cx, const ConvGeom *gm, int m, int k, int cin, int c,
                         const int *vr, int *idx)
{
	idx[0] = gm->transposed ? cin : m;
	idx[1] = gm->transposed ? k : c;
	for (int i = 0; i < gm->nsp; i++)
		idx[2 + i] = gm->transposed ? loop_sub(cx->p, loop_const(cx->p, gm->k[i] - 1), vr[i])
		                            : vr[i];
}

/*
 * for n, [g], k, out... { for c, kernel... { mac } }: the group loop only
 * when there are several groups; m = g*(M/G) + k and the input channel
 * g*(C/G) + c.
 */
static void compute_nest(LowerCx *cx, const ConvGeom *gm, const ConvNest *cn)
{
	LoopProgram *p = cx->p;
	int64_t cg = gm->cin / gm->group, mg = gm->cout / gm->group;
	int in = -1, vn, vg = -1, vk, vc, vo[MAX_SP], vr[MAX_SP];
	int ai[MAX_RANK], xi[MAX_RANK], wi[MAX_RANK], m, c;

	in = lower_loop(cx, in, "n", 0, gm->batch, &vn);
	if (gm->group > 1)
		in = lower_loop(cx, in, "g", 0, gm->group, &vg);
	in = lower_loop(cx, in, "k", 0, mg, &vk);
	for (int i = 0; i < gm->nsp; i++)
		in = lower_loop(cx, in, spatial_name(gm->nsp, i), 0, gm->out[i], &vo[i]);
	in = lower_loop(cx, in, "c", 0, cg, &vc);
	for (int i = 0; i < gm->nsp; i++)
		in = lower_loop(cx, in, kernel_name(gm->nsp, i), 0, gm->k[i], &vr[i]);
	m = gm->group > 1 ? affine2(p, mg, vg, 1, vk, 0) : vk;
	c = gm->group > 1 ? affine2(p, cg, vg, 1, vc, 0) : vc;
	ai[0] = xi[0] = vn;
	ai[1] = m;
	xi[1] = c;
	for (int i = 0; i < gm->nsp; i++) {
		ai[2 + i] = vo[i];
		xi[2 + i] = affine2(p, cn->xstep[i], vo[i], gm->dil[i], vr[i], 0);
	}
	weight_index(cx, gm, m, vk, c, vc, vr, wi);
	lower_emit(cx, in, LN_MAC, 3, (LoopArg[]){lower_ref(cx, cn->acc, ai),
	           lower_ref(cx, cn->x, xi), lower_ref(cx, cn->w, wi)});
}

/* The accumulator of a float layer: the output itself when f32 or f64. */
static int float_acc(LowerCx *cx, int y)
{
	LoopBuf b = cx->p->bufs[y];

	if (b.dt == DT_F32 || b.dt == DT_F64)
		return y;
	return lower_temp(cx, "acc", DT_F64, b.rank, b.dims);
}

/* Conv and ConvTranspose: float types. */
static Status float_conv(LowerCx *cx, const Node *n)
{
	ConvGeom gm;
	ConvNest cn;
	int y, x;

	TRY(conv_geom(cx, n, 0, 1, &gm));
	y = lower_out(cx, n, 0);
	x = lower_buf(cx, n->in[0]);
	TRY(loop_oom(cx->p));
	cn.x = gm.transposed ? stuff_input(cx, &gm, x) : pad_input(cx, &gm, x);
	cn.w = lower_buf(cx, n->in[1]);
	cn.acc = float_acc(cx, y);
	for (int i = 0; i < gm.nsp; i++)
		cn.xstep[i] = gm.transposed ? 1 : gm.stride[i];
	TRY(loop_oom(cx->p));
	init_acc(cx, cn.acc, has_input(n, 2) ? lower_buf(cx, n->in[2]) : -1);
	compute_nest(cx, &gm, &cn);
	if (cn.acc != y) {
		const char *names[MAX_RANK];

		tensor_names(gm.nsp, "n", "k", names);
		lower_convert_all(cx, y, names, cn.acc);
	}
	return loop_oom(cx->p);
}

/* QLinearConv's inputs. */
enum { QX, QX_SCALE, QX_ZP, QW, QW_SCALE, QW_ZP, QY_SCALE, QY_ZP, QB };

/* x_scale * w_scale / y_scale in f32 arithmetic, as ir/interp/conv.c forms it. */
static float qlinear_multiplier(const Value *xs, const Value *ws, const Value *ys, int64_t c)
{
	float x = (float)val_get_f64(xs, 0), y = (float)val_get_f64(ys, 0);
	float w = (float)val_get_f64(ws, val_numel(ws) == 1 ? 0 : c);
	float xw = x * w;

	return xw / y;
}

/* The requantization multiplier: the literal lit when buf < 0, else buf,
 * one per output channel ([M]) or one for all ([]). */
typedef struct ConvMult {
	int buf;
	double lit;
} ConvMult;

/*
 * The multiplier: at compile time when the scales are constant (a literal
 * per tensor, a const buffer per channel), else computed by two applies
 * into an f32 temporary.
 */
static ConvMult conv_multiplier(LowerCx *cx, const Node *n)
{
	Graph *g = cx->g;
	const Tensor *xs = node_in(g, n, QX_SCALE), *ws = node_in(g, n, QW_SCALE);
	const Tensor *ys = node_in(g, n, QY_SCALE);
	int64_t cnt = val_numel(&ws->v);
	int rank = cnt == 1 ? 0 : 1, var = -1, in;
	ConvMult m = {-1, 0};
	float *d;

	if (xs->v.data && ws->v.data && ys->v.data) {
		if (cnt == 1) {
			m.lit = qlinear_multiplier(&xs->v, &ws->v, &ys->v, 0);
			return m;
		}
		d = arena_alloc(&cx->p->arena, (size_t)cnt * sizeof(*d));
		for (int64_t c = 0; d && c < cnt; c++)
			d[c] = qlinear_multiplier(&xs->v, &ws->v, &ys->v, c);
		m.buf = d ? lower_const(cx, "mult", DT_F32, 1, &cnt, d) : -1;
		cx->p->oom |= m.buf < 0;
		return m;
	}
	m.buf = lower_temp(cx, "mult", DT_F32, rank, &cnt);
	if (m.buf < 0)
		return m;
	in = lower_nest(cx, -1, rank, &cnt, (const char *const[]){"k"}, &var);
	lower_apply(cx, in, OP_Mul, 3, (LoopArg[]){lower_ref(cx, m.buf, &var),
	            param_arg(cx, xs, n->in[QX_SCALE], var),
	            param_arg(cx, ws, n->in[QW_SCALE], var)});
	lower_apply(cx, in, OP_Div, 3, (LoopArg[]){lower_ref(cx, m.buf, &var),
	            lower_ref(cx, m.buf, &var), param_arg(cx, ys, n->in[QY_SCALE], var)});
	return m;
}

/* y = saturate(round_even(acc * mult[k]) + y_zero_point). */
static void requantize_out(LowerCx *cx, const Node *n, int y, int acc, ConvMult m)
{
	int vars[MAX_RANK], in, s;
	LoopArg mult;

	in = buf_nest(cx, y, "n", "k", vars);
	mult = m.buf < 0 ? loop_lit_float(m.lit) : lower_ref(cx, m.buf, &vars[1]);
	s = lower_emit(cx, in, LN_REQUANTIZE, 4, (LoopArg[]){lower_ref(cx, y, vars),
	               lower_ref(cx, acc, vars), mult,
	               param_arg(cx, node_in(cx->g, n, QY_ZP), n->in[QY_ZP], vars[1])});
	if (s >= 0)
		cx->p->nodes[s].round = LRND_EVEN;
}

/* ConvInteger and QLinearConv: zero points off, exact i32 accumulation. */
static Status int_conv(LowerCx *cx, const Node *n)
{
	bool q = n->op == OP_QLinearConv;
	int xi = q ? QX : 0, wi = q ? QW : 1, xz = q ? QX_ZP : 2, wz = q ? QW_ZP : 3;
	ConvMult mult = {-1, 0};
	ConvGeom gm;
	ConvNest cn;
	LoopBuf yb;
	int y;

	TRY(conv_geom(cx, n, xi, wi, &gm));
	y = lower_out(cx, n, 0);
	TRY(loop_oom(cx->p));
	cn.x = pad_input(cx, &gm, minus_zero_point(cx, n, lower_buf(cx, n->in[xi]), xz, false));
	cn.w = int_weights(cx, n, wi, wz);
	yb = cx->p->bufs[y];
	cn.acc = q ? lower_temp(cx, "acc", DT_I32, yb.rank, yb.dims) : y;
	for (int i = 0; i < gm.nsp; i++)
		cn.xstep[i] = gm.stride[i];
	if (q)
		mult = conv_multiplier(cx, n);
	TRY(loop_oom(cx->p));
	init_acc(cx, cn.acc, q && has_input(n, QB) ? lower_buf(cx, n->in[QB]) : -1);
	compute_nest(cx, &gm, &cn);
	if (q)
		requantize_out(cx, n, y, cn.acc, mult);
	return loop_oom(cx->p);
}

Status lower_conv(LowerCx *cx, const Node *n)
{
	if (n->op == OP_Conv)
		return float_conv(cx, n);
	nnac_assert(n->op == OP_ConvInteger || n->op == OP_QLinearConv);
	return int_conv(cx, n);
}

Status lower_conv_transpose(LowerCx *cx, const Node *n)
{
	nnac_assert(n->op == OP_ConvTranspose);
	return float_conv(cx, n);
}
