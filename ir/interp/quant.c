/*
 * Reference kernels for linear quantization: QuantizeLinear and
 * DequantizeLinear.
 *
 *   QuantizeLinear    y = saturate(round_half_even(x / y_scale) + y_zero_point)
 *   DequantizeLinear  y = (x - x_zero_point) * x_scale
 *
 * Scale and zero point are per tensor (one element) or, from opset 13, per
 * axis: a vector as long as x's dimension `axis` (default 1).  Blocked
 * quantization (scales of rank > 1, opset 21) is not supported.  The
 * quantized type is the zero point's, u8 when it is absent.
 *
 * x / y_scale is rounded to x's floating type before rounding to an integer,
 * as the ONNX reference computes it in that type: a quotient that lands on
 * a tie only in f32 must round the way the reference does.
 */
#include <math.h>
#include <stdint.h>

#include "op.h"

enum { QX, QSCALE, QZP };

#define DTM_QUANT (DTM(U8) | DTM(I8) | DTM(U16) | DTM(I16))

/*
 * Validates the scale and zero point against x: per tensor, or per axis
 * where the opset allows it.  *axis gets the normalized axis, or -1 for
 * per-tensor parameters.
 */
static Status qaxis_check(Graph *g, const Node *n, int64_t *axis)
{
	const Value *x = &node_in(g, n, QX)->v, *s = &node_in(g, n, QSCALE)->v;
	const Tensor *zp = node_in(g, n, QZP);
	char buf[64], bz[64];

	*axis = -1;
	if (zp && val_numel(&zp->v) != val_numel(s))
		return node_error(g, n, ST_INVALID, "zero point %s and scale %s differ in shape",
		                  val_type_str(&zp->v, bz, sizeof(bz)), val_type_str(s, buf, sizeof(buf)));
	if (zp && val_numel(s) != 1 && zp->v.rank != s->rank)
		return node_error(g, n, ST_INVALID, "zero point %s and scale %s differ in shape",
		                  val_type_str(&zp->v, bz, sizeof(bz)), val_type_str(s, buf, sizeof(buf)));
	if (val_numel(s) == 1 && s->rank <= 1)
		return ST_OK;
	if (s->rank > 1)
		return node_error(g, n, ST_UNSUPPORTED, "blocked quantization (scale %s) is not supported",
		                  val_type_str(s, buf, sizeof(buf)));
	if (g->opset < 13)
		return node_error(g, n, ST_INVALID, "scale %s must be a scalar before opset 13",
		                  val_type_str(s, buf, sizeof(buf)));
	*axis = attr_i(n, "axis", 1);
	if (!norm_axis(axis, x->rank))
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)attr_i(n, "axis", 1), x->rank);
	if (x->dims[*axis] != s->dims[0])
		return node_error(g, n, ST_INVALID, "scale has %lld elements but axis %lld has %lld",
		                  (long long)s->dims[0], (long long)*axis, (long long)x->dims[*axis]);
	return ST_OK;
}

/* Inner stride of the quantization axis, and the parameter count (1: per tensor). */
static void qaxis_layout(const Value *x, const Value *s, int64_t axis, int64_t *inner,
                         int64_t *count)
{
	*inner = 1;
	*count = val_numel(s) == 1 ? 1 : s->dims[0];
	if (*count == 1)
		return;
	for (int i = (int)axis + 1; i < x->rank; i++)
		*inner *= x->dims[i];
}

static int64_t qaxis_of(const Node *n, const Value *x, const Value *s)
{
	int64_t axis = attr_i(n, "axis", 1);

	if (val_numel(s) == 1 || !norm_axis(&axis, x->rank))
		return -1;
	return axis;
}

/* QuantizeLinear */

static Status quantize_infer(Graph *g, Node *n)
{
	const Tensor *zp;
	Status st;
	int64_t axis;

	if ((st = infer_nin(g, n, 2, 3)) ||
	    (st = infer_dtype(g, n, QX, DTM(F32) | DTM(F16) | DTM(BF16) | DTM(I32))) ||
	    (st = infer_dtype(g, n, QSCALE, DTM_FLOAT)) || (st = infer_dtype(g, n, QZP, DTM_QUANT)))
		return st;
	if ((st = qaxis_check(g, n, &axis)))
		return st;
	zp = node_in(g, n, QZP);
	infer_out(g, n, 0, zp ? zp->v.dt : DT_U8, node_in(g, n, QX)->v.rank,
	          node_in(g, n, QX)->v.dims);
	return ST_OK;
}

static Status quantize_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[QX], *s = in[QSCALE], *zp = n->nin > QZP ? in[QZP] : NULL;
	bool same = x->dt == s->dt;
	int64_t inner, count, len = val_numel(x);
	double *xv = val_to_f64(cx->scratch, x);

	if (!xv)
		return eval_oom(cx, n);
	qaxis_layout(x, s, qaxis_of(n, x, s), &inner, &count);
	for (int64_t i = 0; i < len; i++) {
		int64_t c = count == 1 ? 0 : (i / inner) % count;
		double q = xv[i] / val_get_f64(s, c);

		if (same)
			q = dtype_round(x->dt, q);
		val_set_f64(out[0], i, nearbyint(q) + (zp ? val_get_f64(zp, c) : 0));
	}
	return ST_OK;
}

/* DequantizeLinear */

static Status dequantize_infer(Graph *g, Node *n)
{
	const Tensor *x, *zp;
	Status st;
	int64_t axis;

	if ((st = infer_nin(g, n, 2, 3)) || (st = infer_dtype(g, n, QX, DTM_QUANT | DTM(I32))) ||
	    (st = infer_dtype(g, n, QSCALE, DTM_FLOAT)))
		return st;
	x = node_in(g, n, QX);
	zp = node_in(g, n, QZP);
	if (zp && zp->v.dt != x->v.dt)
		return node_error(g, n, ST_INVALID, "x is %s but its zero point is %s",
		                  dtype_name(x->v.dt), dtype_name(zp->v.dt));
	if ((st = qaxis_check(g, n, &axis)))
		return st;
	infer_out(g, n, 0, node_in(g, n, QSCALE)->v.dt, x->v.rank, x->v.dims);
	return ST_OK;
}

static Status dequantize_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                              Value *const *out)
{
	const Value *x = in[QX], *s = in[QSCALE], *zp = n->nin > QZP ? in[QZP] : NULL;
	int64_t inner, count, len = val_numel(x);
	int64_t *xv = val_to_i64(cx->scratch, x);

	if (!xv)
		return eval_oom(cx, n);
	qaxis_layout(x, s, qaxis_of(n, x, s), &inner, &count);
	for (int64_t i = 0; i < len; i++) {
		int64_t c = count == 1 ? 0 : (i / inner) % count;
		int64_t z = zp ? val_get_i64(zp, c) : 0;

		val_set_f64(out[0], i, (double)(xv[i] - z) * val_get_f64(s, c));
	}
	return ST_OK;
}

const OpImpl op_impl_QuantizeLinear = {quantize_infer, quantize_eval, NULL};
const OpImpl op_impl_DequantizeLinear = {dequantize_infer, dequantize_eval, NULL};
