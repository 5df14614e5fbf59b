/*
 * Reference kernels of BitCast (bits reinterpreted), Det (determinants)
 * and DynamicQuantizeLinear (uint8 quantization over the input's own
 * range).
 */
#include <math.h>
#include <string.h>

#include "checked.h"
#include "op.h"

static const Value *in_val(Graph *g, const Node *n, int i)
{
	const Tensor *t = node_in(g, n, i);

	return t ? &t->v : NULL;
}

/*
 * BitCast: Y holds X's bytes, read as the type `to` of the same size.
 * Every element type nnac stores one per element qualifies; the packed
 * 4- and 2-bit types and the 8-bit floats are refused (their in-memory
 * form is not their file form).
 */

static Status bitcast_infer(Graph *g, Node *n)
{
	const Attr *to = attr_find(n, "to");
	const Value *x;
	DType dt;

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	if (!to)
		return node_error(g, n, ST_INVALID, "attribute 'to' is required");
	dt = dtype_from_onnx((int)to->i);
	if (dt == DT_UNDEF || !((DTM_ALL >> dt) & 1))
		return infer_bad_attr(g, n, "to", "the element type is not supported by BitCast");
	x = in_val(g, n, 0);
	if (dtype_size(dt) != dtype_size(x->dt))
		return node_error(g, n, ST_INVALID, "X is %s (%d bits) but 'to' is %s (%d bits)",
		                  dtype_name(x->dt), 8 * dtype_size(x->dt), dtype_name(dt),
		                  8 * dtype_size(dt));
	infer_out(g, n, 0, dt, x->rank, x->dims);
	return ST_OK;
}

static Status bitcast_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	(void)cx;
	(void)n;
	if (val_bytes(in[0]) > 0)
		memcpy(out[0]->data, in[0]->data, (size_t)val_bytes(in[0]));
	return ST_OK;
}

const OpImpl op_impl_BitCast = {bitcast_infer, bitcast_eval, NULL};

/*
 * Det: the determinant of every square matrix of X's last two axes, by
 * LU decomposition with partial pivoting in double.
 */

static Status det_infer(Graph *g, Node *n)
{
	const Value *x;

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_FLOAT));
	x = in_val(g, n, 0);
	if (x->rank < 2)
		return node_error(g, n, ST_INVALID, "X must have rank >= 2, not %d", x->rank);
	if (x->dims[x->rank - 1] != x->dims[x->rank - 2])
		return node_error(g, n, ST_INVALID, "the matrices are %lld x %lld, not square",
		                  (long long)x->dims[x->rank - 2], (long long)x->dims[x->rank - 1]);
	infer_out(g, n, 0, x->dt, x->rank - 2, x->dims);
	return ST_OK;
}

/* The determinant of the m x m matrix a (row-major), destroyed. */
static double det_lu(double *a, int64_t m)
{
	double det = 1;

	for (int64_t k = 0; k < m; k++) {
		int64_t piv = k;

		for (int64_t i = k + 1; i < m; i++)
			if (fabs(a[i * m + k]) > fabs(a[piv * m + k]))
				piv = i;
		if (a[piv * m + k] == 0)
			return 0;
		if (piv != k) {
			for (int64_t j = 0; j < m; j++) {
				double t = a[k * m + j];

				a[k * m + j] = a[piv * m + j];
				a[piv * m + j] = t;
			}
			det = -det;
		}
		det *= a[k * m + k];
		for (int64_t i = k + 1; i < m; i++) {
			double f = a[i * m + k] / a[k * m + k];

			for (int64_t j = k + 1; j < m; j++)
				a[i * m + j] -= f * a[k * m + j];
		}
	}
	return det;
}

static Status det_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	int64_t m = in[0]->dims[in[0]->rank - 1], count = val_numel(out[0]);
	double *x = val_to_f64(cx->scratch, in[0]);

	if (!x)
		return eval_oom(cx, n);
	for (int64_t b = 0; b < count; b++)
		val_set_f64(out[0], b, det_lu(x + b * m * m, m));
	return ST_OK;
}

/* The elimination's multiply-adds, about m^3 / 3 per matrix; counted as
 * m^3, an upper bound for the step budget. */
static int64_t det_macs(Graph *g, const Node *n)
{
	const Value *x = in_val(g, n, 0);
	int64_t m = x->dims[x->rank - 1], count = val_numel(x);

	return ck_mul_sat(count, m);
}

const OpImpl op_impl_Det = {det_infer, det_eval, det_macs};

/*
 * DynamicQuantizeLinear: with lo = min(0, min X) and hi = max(0, max X),
 * scale = (hi - lo) / 255 and zero point = round(clamp(-lo / scale, 0,
 * 255)); Y = clamp(round(X / scale) + zero point, 0, 255) as uint8.
 * Rounding is to nearest even, the arithmetic float32 as the operator
 * defines it.  An all-zero X would give scale 0; 1 / 255 is used instead,
 * as the ONNX reference implementation does, so that Y is defined.
 */

static Status dql_infer(Graph *g, Node *n)
{
	const Value *x;

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM(F32)));
	x = in_val(g, n, 0);
	infer_out(g, n, 0, DT_U8, x->rank, x->dims);
	infer_out(g, n, 1, DT_F32, 0, NULL);
	infer_out(g, n, 2, DT_U8, 0, NULL);
	return ST_OK;
}

static float clampf(float v, float lo, float hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static Status dql_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const float *x = in[0]->data;
	int64_t count = val_numel(in[0]);
	float lo = 0, hi = 0, scale, zp;

	(void)cx;
	(void)n;
	for (int64_t i = 0; i < count; i++) {
		lo = x[i] < lo ? x[i] : lo;
		hi = x[i] > hi ? x[i] : hi;
	}
	scale = (hi == lo ? 1.0f : hi - lo) / 255.0f;
	zp = nearbyintf(clampf(0.0f - lo / scale, 0, 255));
	for (int64_t i = 0; i < count; i++) {
		float q = nearbyintf(x[i] / scale) + zp;

		((uint8_t *)out[0]->data)[i] = isnan(q) ? 0 : (uint8_t)clampf(q, 0, 255);
	}
	if (n->nout > 1 && out[1])
		*(float *)out[1]->data = scale;
	if (n->nout > 2 && out[2])
		*(uint8_t *)out[2]->data = (uint8_t)zp;
	return ST_OK;
}

const OpImpl op_impl_DynamicQuantizeLinear = {dql_infer, dql_eval, NULL};
