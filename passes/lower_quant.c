/*
 * Lowering of QuantizeLinear and DequantizeLinear: one elementwise nest
 * over the input, with the scale and zero point per tensor (a literal when
 * constant), per axis (indexed by that axis's loop variable) or per block
 * (indexed by every variable, the axis's divided by block_size).
 *
 *   DequantizeLinear   dequantize Y[i] = (X[i] - Z[c]) * S[c]
 *   QuantizeLinear     quantize Y[i] = X[i] / S[c] + Z[c] round even
 *
 * Both match ir/interp/quant.c bit for bit.  The interpreter rounds the
 * quotient x / scale to x's float type before rounding it to an integer
 * when x and the scale share that type (as arithmetic in that type would);
 * the loop IR's `quantize` does the same when its scale is a buffer of the
 * source's type or a literal.  So a constant scale becomes a literal only
 * when it has x's type; otherwise the scale stays a buffer and the quotient
 * stays in double, as in the interpreter.  An i32 x is read into an f64
 * scalar first (exactly: `quantize` takes a float source).
 */
#include "lower.h"

#include <string.h>

enum { QX, QSCALE, QZP };

/* The quantization axis, or -1 when the scale is per tensor. */
static int quant_axis(LowerCx *cx, const Node *n)
{
	const Value *x = &node_in(cx->g, n, QX)->v, *s = &node_in(cx->g, n, QSCALE)->v;
	int64_t axis = attr_i(n, "axis", 1);

	if ((val_numel(s) == 1 && attr_i(n, "block_size", 0) == 0) || !norm_axis(&axis, x->rank))
		return -1;
	return (int)axis;
}

/*
 * Input i (a scale or zero point): per tensor, a literal when constant and
 * lit_ok, else its one element; per axis, indexed by the axis variable; per
 * block, by every variable, the axis's divided by block_size.  An absent
 * zero point is the literal 0.
 */
static LoopArg qparam(LowerCx *cx, const Node *n, int i, int axis, const int *vars, bool lit_ok)
{
	int64_t block = attr_i(n, "block_size", 0);
	const Value *v;
	int b, idx[MAX_RANK];

	if (!has_input(n, i))
		return loop_lit_int(0);
	v = &node_in(cx->g, n, i)->v;
	if (axis < 0 && v->data && lit_ok)
		return dtype_is_float(v->dt) ? loop_lit_float(val_get_f64(v, 0))
		                             : loop_lit_int(val_get_i64(v, 0));
	b = lower_buf(cx, n->in[i]);
	for (int d = 0; d < v->rank; d++) {
		if (block > 0)
			idx[d] = d == axis ? loop_div(cx->p, vars[d], block) : vars[d];
		else
			idx[d] = axis < 0 ? loop_const(cx->p, 0) : vars[axis];
	}
	return lower_ref(cx, b, idx);
}

/* A nest over every element of output 0 of n; vars gets its variables. */
static Status output_nest(LowerCx *cx, const Node *n, int *in, int *vars)
{
	const Value *y = &node_out(cx->g, n, 0)->v;
	int64_t dims[MAX_RANK];

	*in = -1;
	if (!lower_all_positive(y))
		return node_error(cx->g, n, ST_UNSUPPORTED, "empty tensors have no loop nest");
	memcpy(dims, y->dims, sizeof(dims));
	*in = lower_nest(cx, -1, y->rank, dims, NULL, vars);
	return loop_oom(cx->p);
}

Status lower_dequantize(LowerCx *cx, const Node *n)
{
	int axis = quant_axis(cx, n), vars[MAX_RANK], in, y, x;

	y = lower_out(cx, n, 0);
	x = lower_buf(cx, n->in[QX]);
	TRY(output_nest(cx, n, &in, vars));
	lower_emit(cx, in, LN_DEQUANTIZE, 4, (LoopArg[]){lower_ref(cx, y, vars),
	           lower_ref(cx, x, vars), qparam(cx, n, QSCALE, axis, vars, true),
	           qparam(cx, n, QZP, axis, vars, true)});
	return loop_oom(cx->p);
}

/* x as the float source of `quantize`: itself, or an i32 x read into an
 * f64 scalar temporary by the nest at in. */
static LoopArg float_source(LowerCx *cx, const Node *n, int in, const int *vars)
{
	LoopArg x = lower_ref(cx, lower_buf(cx, n->in[QX]), vars);
	int t;

	if (dtype_is_float(node_in(cx->g, n, QX)->v.dt))
		return x;
	t = lower_temp(cx, "xf", DT_F64, 0, NULL);
	lower_apply(cx, in, OP_Cast, 2, (LoopArg[]){lower_ref(cx, t, NULL), x});
	return lower_ref(cx, t, NULL);
}

Status lower_quantize(LowerCx *cx, const Node *n)
{
	int axis = quant_axis(cx, n), vars[MAX_RANK], in, y, s;
	const Value *x = &node_in(cx->g, n, QX)->v, *sc = &node_in(cx->g, n, QSCALE)->v;
	bool lit_ok = sc->dt == x->dt || !dtype_is_float(x->dt);
	LoopArg src;

	y = lower_out(cx, n, 0);
	TRY(output_nest(cx, n, &in, vars));
	src = float_source(cx, n, in, vars);
	s = lower_emit(cx, in, LN_QUANTIZE, 4, (LoopArg[]){lower_ref(cx, y, vars), src,
	               qparam(cx, n, QSCALE, axis, vars, lit_ok),
	               qparam(cx, n, QZP, axis, vars, true)});
	if (s >= 0)
		cx->p->nodes[s].round = LRND_EVEN;
	return loop_oom(cx->p);
}
