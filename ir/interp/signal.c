/*
 * Reference kernels of the signal-processing generators: HannWindow,
 * HammingWindow, BlackmanWindow and MelWeightMatrix.
 *
 * Their output shapes come from integer inputs (the window size, the mel
 * bin count and DFT length), which must be constants; the values are
 * computed in double and stored in output_datatype (default float).
 */
#include <math.h>

#include "op.h"

/* M_PI is not in C11. */
#define SIG_PI 3.14159265358979323846

static const Value *in_val(Graph *g, const Node *n, int i)
{
	const Tensor *t = node_in(g, n, i);

	return t ? &t->v : NULL;
}

/* output_datatype (default float), any number type. */
static Status out_datatype(Graph *g, const Node *n, DType *dt)
{
	*dt = dtype_from_onnx((int)attr_i(n, "output_datatype", 1));
	if (*dt == DT_UNDEF || !((DTM_NUM >> *dt) & 1))
		return infer_bad_attr(g, n, "output_datatype", "not a supported number type");
	return ST_OK;
}

/* A scalar integer input that must be a constant; checks it is at least min. */
static Status const_count(Graph *g, const Node *n, int i, const char *what, int64_t min,
                          int64_t *v)
{
	int64_t *vals;
	int count;

	TRY(infer_dtype(g, n, i, DTM(I32) | DTM(I64)));
	TRY(infer_const_ints(g, n, i, &vals, &count));
	if (count != 1)
		return node_error(g, n, ST_INVALID, "%s must be a scalar", what);
	if (vals[0] < min)
		return node_error(g, n, ST_INVALID, "%s is %lld, less than %lld", what,
		                  (long long)vals[0], (long long)min);
	*v = vals[0];
	return ST_OK;
}

/* Sets output 0's type after checking it fits the memory budget. */
static Status sized_out(Graph *g, const Node *n, DType dt, int rank, const int64_t *dims)
{
	char type[160], budget[BUDGET_STR];
	Value v;

	val_set_type(&v, dt, rank, dims);
	if (!val_size_ok(&v))
		return node_error(g, n, ST_UNSUPPORTED, "output of type %s is larger than %s",
		                  val_type_str(&v, type, sizeof(type)), budget_memory_str(budget));
	infer_out(g, n, 0, dt, rank, dims);
	return ST_OK;
}

/*
 * The cosine-sum windows: w[k] = a0 - a1 cos(2 pi k / N) + a2 cos(4 pi k / N)
 * for k < size, with N = size when periodic (the default), else size - 1.
 */

typedef struct CosineSum {
	double a0, a1, a2;
} CosineSum;

static CosineSum window_coeffs(OpKind op)
{
	if (op == OP_HammingWindow)
		return (CosineSum){25.0 / 46, 21.0 / 46, 0};
	if (op == OP_BlackmanWindow)
		return (CosineSum){0.42, 0.5, 0.08};
	return (CosineSum){0.5, 0.5, 0};   /* Hann */
}

static Status window_infer(Graph *g, Node *n)
{
	int64_t size, periodic = attr_i(n, "periodic", 1);
	DType dt;

	TRY(infer_nin(g, n, 1, 1));
	TRY(out_datatype(g, n, &dt));
	if (periodic != 0 && periodic != 1)
		return node_error(g, n, ST_INVALID, "periodic is %lld, expected 0 or 1", (long long)periodic);
	TRY(const_count(g, n, 0, "size", 0, &size));
	return sized_out(g, n, dt, 1, &size);
}

static Status window_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	CosineSum c = window_coeffs(n->op);
	int64_t size = val_numel(out[0]);
	double span = (double)(attr_i(n, "periodic", 1) ? size : size - 1);

	(void)cx;
	(void)in;
	for (int64_t k = 0; k < size; k++) {
		double t = 2 * SIG_PI * (double)k / span;

		val_set_f64(out[0], k, c.a0 - c.a1 * cos(t) + c.a2 * cos(2 * t));
	}
	return ST_OK;
}

const OpImpl op_impl_HannWindow = {window_infer, window_eval, NULL};
const OpImpl op_impl_HammingWindow = {window_infer, window_eval, NULL};
const OpImpl op_impl_BlackmanWindow = {window_infer, window_eval, NULL};

/*
 * MelWeightMatrix: [dft_length / 2 + 1, num_mel_bins] weights that map a
 * one-sided spectrum to mel bands.  num_mel_bins + 2 points evenly spaced
 * on the mel scale (mel = 2595 log10(1 + hz / 700)) between the edge
 * frequencies are mapped to spectrum bins floor((dft_length + 1) hz /
 * sample_rate); band i is a triangle rising from point i to point i + 1
 * (value 1 there) and falling to point i + 2.
 */

static Status mel_infer(Graph *g, Node *n)
{
	int64_t bins, dft, dims[2];
	DType dt;

	TRY(infer_nin(g, n, 5, 5));
	TRY(out_datatype(g, n, &dt));
	TRY(const_count(g, n, 0, "num_mel_bins", 1, &bins));
	TRY(const_count(g, n, 1, "dft_length", 1, &dft));
	TRY(infer_dtype(g, n, 2, DTM(I32) | DTM(I64)));
	TRY(infer_dtype(g, n, 3, DTM_FLOAT));
	TRY(infer_dtype(g, n, 4, DTM_FLOAT));
	for (int i = 2; i < 5; i++)
		if (val_numel(in_val(g, n, i)) != 1)
			return node_error(g, n, ST_INVALID, "input %d must be a scalar", i);
	dims[0] = dft / 2 + 1;
	dims[1] = bins;
	return sized_out(g, n, dt, 2, dims);
}

static double hz_to_mel(double hz) { return 2595 * log10(1 + hz / 700); }
static double mel_to_hz(double mel) { return 700 * (pow(10, mel / 2595) - 1); }

/* Weight w at (row j, band i) when row j exists. */
static void mel_put(Value *y, int64_t j, int64_t i, double w)
{
	if (j >= 0 && j < y->dims[0])
		val_set_f64(y, j * y->dims[1] + i, w);
}

static Status mel_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	int64_t bins = out[0]->dims[1], dft = val_get_i64(in[1], 0), rate = val_get_i64(in[2], 0);
	double lo = hz_to_mel(val_get_f64(in[3], 0)), hi = hz_to_mel(val_get_f64(in[4], 0));
	double step = (hi - lo) / (double)(bins + 2);
	int64_t *pt = arena_alloc(cx->scratch, (size_t)(bins + 2) * sizeof(int64_t));

	if (!pt)
		return eval_oom(cx, n);
	if (rate <= 0)
		return node_error(cx->g, n, ST_INVALID, "sample_rate is %lld, not positive", (long long)rate);
	for (int64_t i = 0; i < bins + 2; i++)
		pt[i] = (int64_t)floor((double)(dft + 1) * mel_to_hz(lo + (double)i * step) / (double)rate);
	for (int64_t i = 0; i < bins; i++) {
		int64_t left = pt[i], mid = pt[i + 1], right = pt[i + 2];

		if (mid == left)
			mel_put(out[0], mid, i, 1);
		for (int64_t j = left; mid > left && j <= mid; j++)
			mel_put(out[0], j, i, (double)(j - left) / (double)(mid - left));
		for (int64_t j = mid; j < right; j++)
			mel_put(out[0], j, i, (double)(right - j) / (double)(right - mid));
	}
	return ST_OK;
}

const OpImpl op_impl_MelWeightMatrix = {mel_infer, mel_eval, NULL};
