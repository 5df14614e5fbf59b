/*
 * Reference kernels for linear quantization: QuantizeLinear and
 * DequantizeLinear.
 *
 *   QuantizeLinear    y = saturate(round_half_even(x / y_scale) + y_zero_point)
 *   DequantizeLinear  y = (x - x_zero_point) * x_scale
 *
 * Scale and zero point are per tensor (one element) or, from opset 13, per
 * axis: a vector as long as x's dimension `axis` (default 1), or, from
 * opset 21, per block: x's shape with axis divided into blocks of
 * block_size (the int4 weight-only export: blocked DequantizeLinear into
 * MatMul).  The
 * quantized type is the zero point's, else output_dtype's (opset 21), else
 * u8: an integer type from 2 to 16 bits, or an 8- or 4-bit float, to which
 * the value is not rounded but converted (saturating unless saturate = 0;
 * base/minifloat.h).
 *
 * x / y_scale is rounded to x's floating type before rounding to an integer,
 * as the ONNX reference computes it in that type: a quotient that lands on
 * a tie only in f32 must round the way the reference does.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "minifloat.h"
#include "op.h"

enum { QX, QSCALE, QZP };

#define DTM_QUANT_INT (DTM(U8) | DTM(I8) | DTM(U16) | DTM(I16) | DTM(U4) | DTM(I4) | DTM(U2) | DTM(I2))
#define DTM_QUANT_FLOAT (DTM(F8E4M3FN) | DTM(F8E4M3FNUZ) | DTM(F8E5M2) | DTM(F8E5M2FNUZ) | DTM(F4E2M1))
#define DTM_QUANT (DTM_QUANT_INT | DTM_QUANT_FLOAT)

/* Blocked quantization (opset 21): scale and zero point have x's rank,
 * x's dimensions but along axis, where they have one per block_size. */
static Status qblock_check(Graph *g, const Node *n, int64_t block, int64_t *axis)
{
	const Value *x = &node_in(g, n, QX)->v, *s = &node_in(g, n, QSCALE)->v;
	char bx[64], bs[64];

	*axis = attr_i(n, "axis", 1);
	if (g->opset < 21)
		return node_error(g, n, ST_INVALID, "blocked quantization needs opset 21 or later");
	if (block <= 0 || !norm_axis(axis, x->rank))
		return node_error(g, n, ST_INVALID, "block_size %lld or axis %lld is out of range", (long long)block,
		                  (long long)attr_i(n, "axis", 1));
	for (int d = 0; d < x->rank && s->rank == x->rank; d++) {
		int64_t want = d == *axis ? (x->dims[d] + block - 1) / block : x->dims[d];
		if (s->dims[d] != want)
			return node_error(g, n, ST_INVALID, "scale %s does not fit x %s in blocks of %lld along "
			                  "axis %lld", val_type_str(s, bs, sizeof(bs)), val_type_str(x, bx, sizeof(bx)),
			                  (long long)block, (long long)*axis);
	}
	if (s->rank != x->rank)
		return node_error(g, n, ST_INVALID, "scale %s and x %s differ in rank",
		                  val_type_str(s, bs, sizeof(bs)), val_type_str(x, bx, sizeof(bx)));
	return ST_OK;
}

/*
 * Validates the scale and zero point against x: per tensor, per axis or
 * per block where the opset allows it.  *axis gets the normalized axis, or
 * -1 for per-tensor parameters.
 */
static Status qaxis_check(Graph *g, const Node *n, int64_t *axis)
{
	const Value *x = &node_in(g, n, QX)->v, *s = &node_in(g, n, QSCALE)->v;
	const Tensor *zp = node_in(g, n, QZP);
	int64_t block = attr_i(n, "block_size", 0);
	char buf[64], bz[64];

	*axis = -1;
	if (zp && !val_same_shape(&zp->v, s) && !(val_numel(&zp->v) == 1 && val_numel(s) == 1))
		return node_error(g, n, ST_INVALID, "zero point %s and scale %s differ in shape",
		                  val_type_str(&zp->v, bz, sizeof(bz)), val_type_str(s, buf, sizeof(buf)));
	if (block != 0)
		return qblock_check(g, n, block, axis);
	if (val_numel(s) == 1 && s->rank <= 1)
		return ST_OK;
	if (s->rank > 1)
		return node_error(g, n, ST_INVALID, "scale %s has rank %d without block_size",
		                  val_type_str(s, buf, sizeof(buf)), s->rank);
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

/* Which scale and zero point element each element of x uses. */
typedef struct QMap {
	int64_t axis, block;         /* axis -1: per tensor; block 0: per axis */
	int64_t inner, count;        /* per axis: the axis's stride in x, its length */
	int rank;
	int64_t xdims[MAX_RANK], sstride[MAX_RANK];   /* per block */
} QMap;

static void qmap_init(QMap *m, const Node *n, const Value *x, const Value *s)
{
	memset(m, 0, sizeof(*m));
	m->axis = attr_i(n, "axis", 1);
	m->block = attr_i(n, "block_size", 0);
	m->count = 1;
	m->inner = 1;
	if ((val_numel(s) == 1 && m->block == 0) || !norm_axis(&m->axis, x->rank)) {
		m->axis = -1;
		return;
	}
	m->rank = x->rank;
	val_strides(s, m->sstride);
	for (int d = 0; d < x->rank; d++)
		m->xdims[d] = x->dims[d];
	m->count = x->dims[m->axis];
	for (int d = (int)m->axis + 1; d < x->rank; d++)
		m->inner *= x->dims[d];
}

static int64_t qmap_index(const QMap *m, int64_t i)
{
	int64_t off = 0;

	if (m->axis < 0)
		return 0;
	if (m->block == 0)
		return (i / m->inner) % m->count;
	for (int d = m->rank - 1; d >= 0; d--) {
		int64_t k = i % m->xdims[d];

		i /= m->xdims[d];
		off += (d == m->axis ? k / m->block : k) * m->sstride[d];
	}
	return off;
}

/* QuantizeLinear */

static Status quantize_infer(Graph *g, Node *n)
{
	const Tensor *zp;
	DType dt;
	Status st;
	int64_t axis;

	if ((st = infer_nin(g, n, 2, 3)) ||
	    (st = infer_dtype(g, n, QX, DTM(F32) | DTM(F16) | DTM(BF16) | DTM(I32))) ||
	    (st = infer_dtype(g, n, QSCALE, DTM_FLOAT)) || (st = infer_dtype(g, n, QZP, DTM_QUANT)))
		return st;
	if ((st = qaxis_check(g, n, &axis)))
		return st;
	zp = node_in(g, n, QZP);
	dt = zp ? zp->v.dt : dtype_from_onnx((int)attr_i(n, "output_dtype", 2));
	if (!(DTM_QUANT & (1u << dt)))
		return node_error(g, n, ST_UNSUPPORTED, "output_dtype %lld is not a type nnac quantizes to",
		                  (long long)attr_i(n, "output_dtype", 2));
	if (zp && attr_find(n, "output_dtype") && attr_i(n, "output_dtype", 0) != dtype_to_onnx(zp->v.dt))
		return node_error(g, n, ST_INVALID, "output_dtype %lld differs from the zero point's type %s",
		                  (long long)attr_i(n, "output_dtype", 0), dtype_name(zp->v.dt));
	infer_out(g, n, 0, dt, node_in(g, n, QX)->v.rank, node_in(g, n, QX)->v.dims);
	return ST_OK;
}

/* The range of a quantized integer type. */
static void int_range(DType dt, double *lo, double *hi)
{
	int bits = dtype_bits(dt);

	*lo = dtype_is_signed(dt) ? -ldexp(1, bits - 1) : 0;
	*hi = dtype_is_signed(dt) ? ldexp(1, bits - 1) - 1 : ldexp(1, bits) - 1;
}

/* q (x / scale, in x's type) plus the zero point into element i of y. */
static void quantize_store(Value *y, int64_t i, double q, double z, bool saturate)
{
	double lo, hi;

	if (minifloat_is(y->dt)) {
		((uint8_t *)y->data)[i] = minifloat_encode(y->dt, q + z, saturate);
		return;
	}
	int_range(y->dt, &lo, &hi);
	q = nearbyint(q) + z;
	val_set_f64(y, i, q < lo ? lo : q > hi ? hi : q);
}

static Status quantize_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[QX], *s = in[QSCALE], *zp = n->nin > QZP ? in[QZP] : NULL;
	bool same = x->dt == s->dt, saturate = attr_i(n, "saturate", 1) != 0;
	int64_t len = val_numel(x);
	double *xv = val_to_f64(cx->scratch, x);
	QMap m;

	if (!xv)
		return eval_oom(cx, n);
	qmap_init(&m, n, x, s);
	for (int64_t i = 0; i < len; i++) {
		int64_t c = qmap_index(&m, i);
		double q = xv[i] / val_get_f64(s, c);

		if (same)
			q = dtype_round(x->dt, q);
		quantize_store(out[0], i, q, zp ? val_get_f64(zp, c) : 0, saturate);
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
	int64_t len = val_numel(x), *xv;
	QMap m;

	qmap_init(&m, n, x, s);
	if (minifloat_is(x->dt)) {    /* a float code: its value, less the zero point's */
		for (int64_t i = 0; i < len; i++) {
			int64_t c = qmap_index(&m, i);
			double z = zp ? val_get_f64(zp, c) : 0;

			val_set_f64(out[0], i, (val_get_f64(x, i) - z) * val_get_f64(s, c));
		}
		return ST_OK;
	}
	if (!(xv = val_to_i64(cx->scratch, x)))
		return eval_oom(cx, n);
	for (int64_t i = 0; i < len; i++) {
		int64_t c = qmap_index(&m, i);
		int64_t z = zp ? val_get_i64(zp, c) : 0;

		val_set_f64(out[0], i, (double)(xv[i] - z) * val_get_f64(s, c));
	}
	return ST_OK;
}

const OpImpl op_impl_QuantizeLinear = {quantize_infer, quantize_eval, NULL};
const OpImpl op_impl_DequantizeLinear = {dequantize_infer, dequantize_eval, NULL};
