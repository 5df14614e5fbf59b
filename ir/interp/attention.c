/*
 * Reference kernels for the transformer ops of opset 23 and 24: Attention
 * and RotaryEmbedding.
 *
 * Attention works on the 4-D view of its inputs: Q [B][Hq][Sq][D],
 * K [B][Hkv][Skv][D], V [B][Hkv][Skv][Dv]; a 3-D input [B][S][H*D] is read
 * through that view with the head counts q_num_heads and kv_num_heads.
 * past_key and past_value [B][Hkv][P][.] go before K and V along the
 * sequence, giving T = P + Skv keys (present_key, present_value).  Query
 * head h reads key head h / (Hq / Hkv) (grouped-query attention).  For
 * each query row:
 *     s[j] = scale * Q[i] . K[j]             (scale default 1/sqrt(D))
 *     s[j] = softcap * tanh(s[j] / softcap)  (softcap > 0)
 *     x[j] = s[j] + bias[j]
 *     p    = softmax(x);  Y[i] = sum_j p[j] V[j]
 * bias[j] sums the mask (bool: 0 or -inf; otherwise added; its last axis
 * may be shorter than T, missing keys are masked), the causal frontier
 * (key j is masked when j > i + offset, offset = P with a past cache,
 * nonpad_kv_seqlen[b] - Sq with one, else 0) and the padding of
 * nonpad_kv_seqlen (key j masked when j >= nonpad_kv_seqlen[b]).  A row
 * whose bias is -inf everywhere has no key: its probabilities are zero.
 * qk_matmul_output holds s before softcap (mode 0, as the spec says; the
 * onnx.reference of onnx 1.23 returns it after softcap), after it (1), x (2)
 * or p (3).  Everything runs in double and rounds once on store; computing in
 * double also covers every softmax_precision.
 *
 * RotaryEmbedding rotates pairs of the first rotary_embedding_dim (R)
 * elements of every head of X [B][H][S][D] (or [B][S][H*D] with num_heads)
 * by the angle whose cosine and sine the caches hold for the token's
 * position: pairs (x[k], x[k + R/2]), or (x[2k], x[2k+1]) when interleaved.
 * The caches are [positions][R/2] indexed by position_ids [B][S], or
 * [B][S][R/2] without them.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attention.h"
#include "checked.h"
#include "op.h"

/* The heads, sequence length and head size of Q, K or V in the 4-D view. */
static Status attn_view(Graph *g, const Node *n, int i, const char *heads_attr,
                        int64_t *heads, int64_t *seq, int64_t *hs)
{
	const Tensor *t = node_in(g, n, i);
	const Value *v = &t->v;
	int64_t h = attr_i(n, heads_attr, 0);

	if (!val_known(v))
		return node_error(g, n, ST_UNSUPPORTED, "input '%s' needs a known shape", t->name);
	if (v->rank == 4) {
		if (attr_find(n, heads_attr) && h != v->dims[1])
			return node_error(g, n, ST_INVALID, "%s is %lld but input '%s' has %lld heads",
			                  heads_attr, (long long)h, t->name, (long long)v->dims[1]);
		*heads = v->dims[1], *seq = v->dims[2], *hs = v->dims[3];
		return ST_OK;
	}
	if (!attr_find(n, heads_attr))
		return node_error(g, n, ST_INVALID, "3-D inputs need attribute %s", heads_attr);
	if (h <= 0)
		return node_error(g, n, ST_INVALID, "%s is %lld, not positive", heads_attr, (long long)h);
	if (v->dims[2] % h != 0)
		return node_error(g, n, ST_INVALID, "input '%s' has hidden size %lld, not a multiple of "
		                  "%s %lld", t->name, (long long)v->dims[2], heads_attr, (long long)h);
	*heads = h, *seq = v->dims[1], *hs = v->dims[2] / h;
	return ST_OK;
}

/* Q, K and V: ranks, batch, heads and head sizes agree. */
static Status attn_qkv_dims(Graph *g, const Node *n, AttnDims *d)
{
	const Value *q = &node_in(g, n, ATTN_Q)->v, *k = &node_in(g, n, ATTN_K)->v;
	const Value *v = &node_in(g, n, ATTN_V)->v;
	int64_t hk, hv, sv, dk;

	if ((q->rank != 3 && q->rank != 4) || k->rank != q->rank || v->rank != q->rank)
		return node_error(g, n, ST_INVALID, "Q, K and V must all be 3-D or all 4-D, not %d-, "
		                  "%d- and %d-D", q->rank, k->rank, v->rank);
	d->is3d = q->rank == 3;
	TRY(attn_view(g, n, ATTN_Q, "q_num_heads", &d->hq, &d->sq, &d->dk));
	TRY(attn_view(g, n, ATTN_K, "kv_num_heads", &hk, &d->skv, &dk));
	TRY(attn_view(g, n, ATTN_V, "kv_num_heads", &hv, &sv, &d->dv));
	d->b = q->dims[0];
	d->hkv = hk;
	if (k->dims[0] != d->b || v->dims[0] != d->b)
		return node_error(g, n, ST_INVALID, "Q, K and V have different batch sizes");
	if (dk != d->dk)
		return node_error(g, n, ST_INVALID, "Q's head size %lld differs from K's %lld",
		                  (long long)d->dk, (long long)dk);
	if (hv != hk || sv != d->skv)
		return node_error(g, n, ST_INVALID, "K and V differ in heads or sequence length");
	if (d->dk == 0 && !attr_find(n, "scale"))
		return node_error(g, n, ST_INVALID, "head size 0 leaves the default scale "
		                  "1/sqrt(head_size) undefined");
	if (hk <= 0 || d->hq % hk != 0)
		return node_error(g, n, ST_INVALID, "%lld query heads are not a multiple of %lld key "
		                  "and value heads", (long long)d->hq, (long long)hk);
	return ST_OK;
}

/* past input i is [B][Hkv][P][hs]; its P is stored in *past. */
static Status attn_past_dims(Graph *g, const Node *n, int i, const AttnDims *d, int64_t hs,
                             int64_t *past)
{
	const Tensor *t = node_in(g, n, i);
	const Value *v = &t->v;

	if (v->rank != 4 || !val_known(v) || v->dims[0] != d->b || v->dims[1] != d->hkv ||
	    v->dims[3] != hs)
		return node_error(g, n, ST_INVALID, "input '%s' must have shape [%lld,%lld,P,%lld]",
		                  t->name, (long long)d->b, (long long)d->hkv, (long long)hs);
	*past = v->dims[2];
	return ST_OK;
}

/* The KV cache inputs: both or neither, not with nonpad_kv_seqlen. */
static Status attn_cache_dims(Graph *g, const Node *n, AttnDims *d)
{
	bool pk = has_input(n, ATTN_PAST_K), pv = has_input(n, ATTN_PAST_V);
	int64_t past_v = 0;

	d->past = 0;
	if (pk != pv)
		return node_error(g, n, ST_INVALID, "past_key and past_value go together");
	if (pk && has_input(n, ATTN_NONPAD))
		return node_error(g, n, ST_INVALID, "nonpad_kv_seqlen cannot be used with past_key");
	if (pk) {
		TRY(attn_past_dims(g, n, ATTN_PAST_K, d, d->dk, &d->past));
		TRY(attn_past_dims(g, n, ATTN_PAST_V, d, d->dv, &past_v));
		if (past_v != d->past)
			return node_error(g, n, ST_INVALID, "past_key and past_value differ in length");
	}
	if (!ck_add(d->past, d->skv, &d->total))
		return node_error(g, n, ST_INVALID, "past and new sequence lengths overflow");
	return ST_OK;
}

/* attn_mask broadcasts to [B][Hq][Sq][T], its last axis at most T long. */
static Status attn_mask_dims(Graph *g, const Node *n, const AttnDims *d)
{
	const Tensor *t = node_in(g, n, ATTN_MASK);
	const int64_t full[4] = {d->b, d->hq, d->sq, d->total};
	const Value *m;

	if (!t)
		return ST_OK;
	m = &t->v;
	TRY(infer_dtype(g, n, ATTN_MASK, DTM_ALL));
	if (m->rank < 1 || m->rank > 4 || !val_known(m))
		return node_error(g, n, ST_INVALID, "attn_mask must have rank 1 to 4 and a known shape");
	if (m->dims[m->rank - 1] > d->total)
		return node_error(g, n, ST_INVALID, "attn_mask covers %lld keys, more than the %lld "
		                  "there are", (long long)m->dims[m->rank - 1], (long long)d->total);
	for (int i = 0; i < m->rank - 1; i++) {
		int64_t want = full[4 - m->rank + i];

		if (m->dims[i] != 1 && m->dims[i] != want)
			return node_error(g, n, ST_INVALID, "attn_mask does not broadcast to [%lld,%lld,"
			                  "%lld,%lld]", (long long)d->b, (long long)d->hq,
			                  (long long)d->sq, (long long)d->total);
	}
	return ST_OK;
}

static Status attn_nonpad_dims(Graph *g, const Node *n, const AttnDims *d)
{
	const Value *v;

	if (!has_input(n, ATTN_NONPAD))
		return ST_OK;
	TRY(infer_dtype(g, n, ATTN_NONPAD, DTM(I64)));
	v = &node_in(g, n, ATTN_NONPAD)->v;
	if (v->rank != 1 || v->dims[0] != d->b)
		return node_error(g, n, ST_INVALID, "nonpad_kv_seqlen must have shape [%lld]",
		                  (long long)d->b);
	return ST_OK;
}

static Status attn_check_attrs(Graph *g, const Node *n)
{
	int64_t mode = attr_i(n, "qk_matmul_output_mode", 0);
	int64_t causal = attr_i(n, "is_causal", 0);
	double scale = attr_f(n, "scale", 1), softcap = attr_f(n, "softcap", 0);
	DType sp = dtype_from_onnx((int)attr_i(n, "softmax_precision", 1));

	if (mode < 0 || mode > 3)
		return node_error(g, n, ST_INVALID, "qk_matmul_output_mode is %lld, not 0 to 3",
		                  (long long)mode);
	if (causal != 0 && causal != 1)
		return node_error(g, n, ST_INVALID, "is_causal is %lld, not 0 or 1", (long long)causal);
	if (!(scale > 0) || isinf(scale))
		return node_error(g, n, ST_INVALID, "scale is %g; it must be positive and finite "
		                  "(Q and K are scaled by its square root)", scale);
	if (!(softcap >= 0) || isinf(softcap))
		return node_error(g, n, ST_INVALID, "softcap is %g, not a finite value >= 0", softcap);
	if (!dtype_is_float(sp))
		return node_error(g, n, ST_INVALID, "softmax_precision %lld is not a floating-point type",
		                  (long long)attr_i(n, "softmax_precision", 1));
	return ST_OK;
}

/* Every check of infer, filling *d; eval and the loop lowering read the
 * sizes through it too. */
Status attn_parse(Graph *g, const Node *n, AttnDims *d)
{
	TRY(attn_qkv_dims(g, n, d));
	TRY(attn_cache_dims(g, n, d));
	TRY(attn_mask_dims(g, n, d));
	TRY(attn_nonpad_dims(g, n, d));
	return attn_check_attrs(g, n);
}

double attn_scale(const Node *n, const AttnDims *d)
{
	return attr_find(n, "scale") ? attr_f(n, "scale", 1) : 1 / sqrt((double)d->dk);
}

static Status attn_dtypes(Graph *g, const Node *n)
{
	DType qt = node_in(g, n, ATTN_Q)->v.dt, vt = node_in(g, n, ATTN_V)->v.dt;

	TRY(infer_dtype(g, n, ATTN_Q, DTM_FLOAT));
	TRY(infer_dtype(g, n, ATTN_V, DTM_FLOAT));
	if (node_in(g, n, ATTN_K)->v.dt != qt ||
	    (has_input(n, ATTN_PAST_K) && node_in(g, n, ATTN_PAST_K)->v.dt != qt))
		return node_error(g, n, ST_INVALID, "K and past_key must have Q's type %s",
		                  dtype_name(qt));
	if (has_input(n, ATTN_PAST_V) && node_in(g, n, ATTN_PAST_V)->v.dt != vt)
		return node_error(g, n, ST_INVALID, "past_value must have V's type %s", dtype_name(vt));
	return ST_OK;
}

static Status attn_infer(Graph *g, Node *n)
{
	AttnDims d;
	DType qt, vt;
	int64_t hidden;

	TRY(infer_nin(g, n, 3, g->opset >= 24 ? 7 : 6));
	TRY(attn_dtypes(g, n));
	TRY(attn_parse(g, n, &d));
	qt = node_in(g, n, ATTN_Q)->v.dt;
	vt = node_in(g, n, ATTN_V)->v.dt;
	if (!ck_mul(d.hq, d.dv, &hidden))
		return node_error(g, n, ST_INVALID, "output hidden size overflows");
	infer_out(g, n, ATTN_Y, qt, d.is3d ? 3 : 4, d.is3d ? (int64_t[]){d.b, d.sq, hidden}
	                                                 : (int64_t[]){d.b, d.hq, d.sq, d.dv});
	infer_out(g, n, ATTN_PRESENT_K, qt, 4, (int64_t[]){d.b, d.hkv, d.total, d.dk});
	infer_out(g, n, ATTN_PRESENT_V, vt, 4, (int64_t[]){d.b, d.hkv, d.total, d.dv});
	infer_out(g, n, ATTN_QK, qt, 4, (int64_t[]){d.b, d.hq, d.sq, d.total});
	return ST_OK;
}

/*
 * x (Q, K or V, 3- or 4-D) copied into dst as [B][heads][seq][hs] starting
 * at sequence position `at` of a sequence `len` long.
 */
static void attn_gather(const double *x, bool is3d, int64_t b, int64_t heads, int64_t seq,
                        int64_t hs, int64_t at, int64_t len, double *dst)
{
	for (int64_t bi = 0; bi < b; bi++)
		for (int64_t h = 0; h < heads; h++)
			for (int64_t s = 0; s < seq; s++) {
				int64_t src = is3d ? ((bi * seq + s) * heads + h) * hs
				                   : ((bi * heads + h) * seq + s) * hs;
				int64_t to = ((bi * heads + h) * len + at + s) * hs;

				memcpy(dst + to, x + src, (size_t)hs * sizeof(double));
			}
}

/* count zeroed doubles from the scratch arena (counts are bounded by the
 * sizes of accepted tensors, so they do not overflow). */
static double *attn_doubles(EvalCtx *cx, int64_t count)
{
	return arena_alloc(cx->scratch, (size_t)(count + 1) * sizeof(double));
}

/* past (if any) then the new keys or values: [B][Hkv][T][hs]. */
static double *attn_present(EvalCtx *cx, const AttnDims *d, const Value *past, const Value *x,
                            int64_t hs)
{
	double *xs = val_to_f64(cx->scratch, x);
	double *ps = past ? val_to_f64(cx->scratch, past) : NULL;
	double *dst = attn_doubles(cx, d->b * d->hkv * d->total * hs);

	if (!xs || (past && !ps) || !dst)
		return NULL;
	if (past)
		attn_gather(ps, false, d->b, d->hkv, d->past, hs, 0, d->total, dst);
	attn_gather(xs, d->is3d, d->b, d->hkv, d->skv, hs, d->past, d->total, dst);
	return dst;
}

/* What the bias needs: the mask, and the causal and padding limits. */
typedef struct AttnBias {
	const Value *mask;       /* NULL when absent */
	const double *mvals;     /* mask as double */
	int64_t mstride[4];      /* mask strides in the 4-D view, 0 where broadcast */
	int64_t mkeys;           /* length of the mask's last axis */
	bool causal;
	int64_t past;            /* P */
	const int64_t *nonpad;   /* [B] or NULL */
} AttnBias;

static void attn_mask_strides(AttnBias *ab)
{
	const Value *m = ab->mask;
	int64_t s = 1;

	memset(ab->mstride, 0, sizeof(ab->mstride));
	for (int i = m->rank - 1; i >= 0; i--) {
		ab->mstride[4 - m->rank + i] = m->dims[i] == 1 ? 0 : s;
		s *= m->dims[i];
	}
	ab->mstride[3] = 1;
	ab->mkeys = m->dims[m->rank - 1];
}

/* The bias of key j for query i of head h in batch b, with sq queries. */
static double attn_bias(const AttnBias *ab, int64_t b, int64_t h, int64_t i, int64_t j,
                        int64_t sq)
{
	int64_t offset = ab->nonpad ? ab->nonpad[b] - sq : ab->past;
	double m;

	if (ab->causal && j > i + offset)
		return -INFINITY;
	if (ab->nonpad && j >= ab->nonpad[b])
		return -INFINITY;
	if (!ab->mask)
		return 0;
	if (j >= ab->mkeys)
		return -INFINITY;   /* past the end of a short mask */
	m = ab->mvals[b * ab->mstride[0] + h * ab->mstride[1] + i * ab->mstride[2] + j];
	if (ab->mask->dt == DT_BOOL)
		return m != 0 ? 0 : -INFINITY;
	return m;
}

/* One query row's probabilities from x[0..t) in place; zero when no key is
 * allowed (the bias is -inf everywhere). */
static void attn_softmax(double *x, const double *bias, int64_t t)
{
	double max = -INFINITY, bmax = -INFINITY, sum = 0;

	for (int64_t j = 0; j < t; j++) {
		max = fmax(max, x[j]);
		bmax = fmax(bmax, bias[j]);
	}
	if (bmax == -INFINITY || max == -INFINITY) {
		memset(x, 0, (size_t)t * sizeof(double));
		return;
	}
	for (int64_t j = 0; j < t; j++) {
		x[j] = exp(x[j] - max);
		sum += x[j];
	}
	for (int64_t j = 0; j < t; j++)
		x[j] /= sum;
}

/* The kernel's inputs and outputs, in double and the 4-D view. */
typedef struct AttnRun {
	AttnDims d;
	AttnBias bias;
	double scale, softcap;
	int mode;
	const double *q;         /* [B][Hq][Sq][D] */
	const double *k, *v;     /* [B][Hkv][T][D], [B][Hkv][T][Dv] */
	double *y;               /* [B][Hq][Sq][Dv] */
	double *qk;              /* [B][Hq][Sq][T] or NULL */
	double *x, *b;           /* one row of scores and of bias, T long */
} AttnRun;

/* The scores x and bias b of query i of head h in batch bi; qk gets its mode's value. */
static void attn_scores(AttnRun *r, int64_t bi, int64_t h, int64_t i, double *qk)
{
	const AttnDims *d = &r->d;
	int64_t kh = h / (d->hq / d->hkv);
	const double *q = r->q + ((bi * d->hq + h) * d->sq + i) * d->dk;
	const double *k = r->k + (bi * d->hkv + kh) * d->total * d->dk;

	for (int64_t j = 0; j < d->total; j++) {
		double s = 0;

		for (int64_t c = 0; c < d->dk; c++)
			s += q[c] * k[j * d->dk + c];
		s *= r->scale;
		if (qk && r->mode == 0)
			qk[j] = s;
		if (r->softcap > 0)
			s = r->softcap * tanh(s / r->softcap);
		r->b[j] = attn_bias(&r->bias, bi, h, i, j, d->sq);
		r->x[j] = s + r->b[j];
		if (qk && r->mode == 1)
			qk[j] = s;
		if (qk && r->mode == 2)
			qk[j] = r->x[j];
	}
}

static void attn_row(AttnRun *r, int64_t bi, int64_t h, int64_t i)
{
	const AttnDims *d = &r->d;
	int64_t row = (bi * d->hq + h) * d->sq + i;
	const double *v = r->v + (bi * d->hkv + h / (d->hq / d->hkv)) * d->total * d->dv;
	double *qk = r->qk ? r->qk + row * d->total : NULL, *y = r->y + row * d->dv;

	attn_scores(r, bi, h, i, qk);
	attn_softmax(r->x, r->b, d->total);
	if (qk && r->mode == 3)
		memcpy(qk, r->x, (size_t)d->total * sizeof(double));
	for (int64_t j = 0; j < d->total; j++)
		for (int64_t c = 0; c < d->dv; c++)
			y[c] += r->x[j] * v[j * d->dv + c];
}

/* Y from the 4-D view [B][Hq][Sq][Dv], into [B][Sq][Hq*Dv] for 3-D inputs. */
static Status attn_store_y(EvalCtx *cx, const Node *n, const AttnDims *d, const double *y,
                           Value *out)
{
	double *t;

	if (!d->is3d) {
		val_from_f64(out, y);
		return ST_OK;
	}
	if (!(t = attn_doubles(cx, val_numel(out))))
		return eval_oom(cx, n);
	for (int64_t bi = 0; bi < d->b; bi++)
		for (int64_t h = 0; h < d->hq; h++)
			for (int64_t s = 0; s < d->sq; s++)
				memcpy(t + ((bi * d->sq + s) * d->hq + h) * d->dv,
				       y + ((bi * d->hq + h) * d->sq + s) * d->dv,
				       (size_t)d->dv * sizeof(double));
	val_from_f64(out, t);
	return ST_OK;
}

/* Q in the 4-D view [B][Hq][Sq][D]. */
static double *attn_query(EvalCtx *cx, const AttnDims *d, const Value *q)
{
	double *x = val_to_f64(cx->scratch, q), *t;

	if (!x || !d->is3d)
		return x;
	if ((t = attn_doubles(cx, val_numel(q))))
		attn_gather(x, true, d->b, d->hq, d->sq, d->dk, 0, d->sq, t);
	return t;
}

static Status attn_mask_run(EvalCtx *cx, const Node *n, const Value *const *in, AttnBias *ab)
{
	if (in[ATTN_MASK]) {
		ab->mask = in[ATTN_MASK];
		if (!(ab->mvals = val_to_f64(cx->scratch, in[ATTN_MASK])))
			return eval_oom(cx, n);
		attn_mask_strides(ab);
	}
	if (in[ATTN_NONPAD] && !(ab->nonpad = val_to_i64(cx->scratch, in[ATTN_NONPAD])))
		return eval_oom(cx, n);
	return ST_OK;
}

static Status attn_prepare(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out,
                           AttnRun *r)
{
	const AttnDims *d = &r->d;

	TRY(attn_parse(cx->g, n, &r->d));
	r->scale = attn_scale(n, d);
	r->softcap = attr_f(n, "softcap", 0);
	r->mode = (int)attr_i(n, "qk_matmul_output_mode", 0);
	r->bias = (AttnBias){.causal = attr_i(n, "is_causal", 0) != 0, .past = d->past};
	r->q = attn_query(cx, d, in[ATTN_Q]);
	r->k = attn_present(cx, d, in[ATTN_PAST_K], in[ATTN_K], d->dk);
	r->v = attn_present(cx, d, in[ATTN_PAST_V], in[ATTN_V], d->dv);
	r->y = attn_doubles(cx, d->b * d->hq * d->sq * d->dv);
	r->x = attn_doubles(cx, d->total);
	r->b = attn_doubles(cx, d->total);
	r->qk = out[ATTN_QK] ? attn_doubles(cx, val_numel(out[ATTN_QK])) : NULL;
	if (!r->q || !r->k || !r->v || !r->y || !r->x || !r->b || (out[ATTN_QK] && !r->qk))
		return eval_oom(cx, n);
	return attn_mask_run(cx, n, in, &r->bias);
}

static Status attn_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	AttnRun r = {0};
	const AttnDims *d = &r.d;

	TRY(attn_prepare(cx, n, in, out, &r));
	for (int64_t bi = 0; bi < d->b; bi++)
		for (int64_t h = 0; h < d->hq; h++)
			for (int64_t i = 0; i < d->sq; i++)
				attn_row(&r, bi, h, i);
	if (out[ATTN_PRESENT_K])
		val_from_f64(out[ATTN_PRESENT_K], r.k);
	if (out[ATTN_PRESENT_V])
		val_from_f64(out[ATTN_PRESENT_V], r.v);
	if (out[ATTN_QK])
		val_from_f64(out[ATTN_QK], r.qk);
	return attn_store_y(cx, n, d, r.y, out[ATTN_Y]);
}

/* B * Hq * Sq * T * (D + Dv): the two products. */
static int64_t attn_macs(Graph *g, const Node *n)
{
	AttnDims d;

	if (attn_parse(g, n, &d) != ST_OK)
		return 0;
	return ck_mul_sat(ck_mul_sat(ck_mul_sat(d.b, d.hq), ck_mul_sat(d.sq, d.total)),
	                  ck_add_sat(d.dk, d.dv));
}

const OpImpl op_impl_Attention = { attn_infer, attn_eval, attn_macs };

/* RotaryEmbedding */

enum { ROPE_X, ROPE_COS, ROPE_SIN, ROPE_POS };

/* The sizes of one RotaryEmbedding node, X in the view [B][H][S][D]. */
typedef struct RopeDims {
	bool is3d;               /* X is [B][S][H*D] */
	int64_t b, h, s, d;
	int64_t half;            /* R / 2 rotated pairs per head */
	int64_t positions;       /* rows of the caches with position_ids, else 0 */
} RopeDims;

static Status rope_x_dims(Graph *g, const Node *n, RopeDims *r)
{
	const Value *x = &node_in(g, n, ROPE_X)->v;
	int64_t heads = attr_i(n, "num_heads", 0);

	if ((x->rank != 3 && x->rank != 4) || !val_known(x))
		return node_error(g, n, ST_INVALID, "X must be 3-D or 4-D with a known shape");
	r->is3d = x->rank == 3;
	r->b = x->dims[0];
	if (!r->is3d) {
		if (attr_find(n, "num_heads") && heads != x->dims[1])
			return node_error(g, n, ST_INVALID, "num_heads is %lld but X has %lld heads",
			                  (long long)heads, (long long)x->dims[1]);
		r->h = x->dims[1], r->s = x->dims[2], r->d = x->dims[3];
		return ST_OK;
	}
	if (heads <= 0)
		return node_error(g, n, ST_INVALID, "3-D X needs a positive num_heads, not %lld",
		                  (long long)heads);
	if (x->dims[2] % heads != 0)
		return node_error(g, n, ST_INVALID, "X's hidden size %lld is not a multiple of "
		                  "num_heads %lld", (long long)x->dims[2], (long long)heads);
	r->h = heads, r->s = x->dims[1], r->d = x->dims[2] / heads;
	return ST_OK;
}

static Status rope_rot_dim(Graph *g, const Node *n, RopeDims *r)
{
	int64_t rd = attr_i(n, "rotary_embedding_dim", 0);

	if (rd == 0)
		rd = r->d;
	if (rd < 0 || rd > r->d || rd % 2 != 0)
		return node_error(g, n, ST_INVALID, "rotary_embedding_dim %lld must be even and within "
		                  "the head size %lld", (long long)rd, (long long)r->d);
	r->half = rd / 2;
	return ST_OK;
}

/* cos_cache and sin_cache: [positions][R/2] with position_ids [B][S], else [B][S][R/2]. */
static Status rope_cache_dims(Graph *g, const Node *n, RopeDims *r)
{
	const Value *c = &node_in(g, n, ROPE_COS)->v, *s = &node_in(g, n, ROPE_SIN)->v;
	const Value *p = has_input(n, ROPE_POS) ? &node_in(g, n, ROPE_POS)->v : NULL;
	bool ok = val_same_shape(c, s) && c->rank >= 1 && c->dims[c->rank - 1] == r->half;

	r->positions = 0;
	if (p) {
		if (p->rank != 2 || p->dims[0] != r->b || p->dims[1] != r->s)
			return node_error(g, n, ST_INVALID, "position_ids must have shape [%lld,%lld]",
			                  (long long)r->b, (long long)r->s);
		ok = ok && c->rank == 2;
		r->positions = c->dims[0];
	} else {
		ok = ok && c->rank == 3 && c->dims[0] == r->b && c->dims[1] == r->s;
	}
	if (ok)
		return ST_OK;
	if (p)
		return node_error(g, n, ST_INVALID, "cos_cache and sin_cache must both have shape "
		                  "[positions, %lld]", (long long)r->half);
	return node_error(g, n, ST_INVALID, "cos_cache and sin_cache must both have shape "
	                  "[%lld, %lld, %lld] without position_ids", (long long)r->b,
	                  (long long)r->s, (long long)r->half);
}

static Status rope_dims(Graph *g, const Node *n, RopeDims *r)
{
	TRY(rope_x_dims(g, n, r));
	TRY(rope_rot_dim(g, n, r));
	return rope_cache_dims(g, n, r);
}

static Status rope_infer(Graph *g, Node *n)
{
	RopeDims r;
	DType xt;

	TRY(infer_nin(g, n, 3, 4));
	TRY(infer_dtype(g, n, ROPE_X, DTM(F32) | DTM(F16) | DTM(BF16)));
	xt = node_in(g, n, ROPE_X)->v.dt;
	if (node_in(g, n, ROPE_COS)->v.dt != xt || node_in(g, n, ROPE_SIN)->v.dt != xt)
		return node_error(g, n, ST_INVALID, "cos_cache and sin_cache must have X's type %s",
		                  dtype_name(xt));
	if (has_input(n, ROPE_POS))
		TRY(infer_dtype(g, n, ROPE_POS, DTM(I64)));
	TRY(rope_dims(g, n, &r));
	return infer_same(g, n);
}

/* Rotates the first 2 * half elements of one head x in place by cos c, sin s. */
static void rope_head(double *x, const double *c, const double *s, int64_t half, bool interleaved)
{
	for (int64_t k = 0; k < half; k++) {
		double *a = interleaved ? &x[2 * k] : &x[k];
		double *b = interleaved ? &x[2 * k + 1] : &x[k + half];
		double re = c[k] * *a - s[k] * *b, im = s[k] * *a + c[k] * *b;

		*a = re, *b = im;
	}
}

/* The cache row of token s of batch b, or -1 for a position out of range. */
static int64_t rope_row(const RopeDims *r, const int64_t *pos, int64_t b, int64_t s)
{
	int64_t p;

	if (!pos)
		return b * r->s + s;
	p = pos[b * r->s + s];
	return p >= 0 && p < r->positions ? p : -1;
}

static Status rope_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	RopeDims r;
	bool interleaved = attr_i(n, "interleaved", 0) != 0;
	double *x = val_to_f64(cx->scratch, in[ROPE_X]);
	double *c = val_to_f64(cx->scratch, in[ROPE_COS]), *s = val_to_f64(cx->scratch, in[ROPE_SIN]);
	int64_t *pos = in[ROPE_POS] ? val_to_i64(cx->scratch, in[ROPE_POS]) : NULL;

	TRY(rope_dims(cx->g, n, &r));
	if (!x || !c || !s || (in[ROPE_POS] && !pos))
		return eval_oom(cx, n);
	for (int64_t b = 0; b < r.b; b++)
		for (int64_t t = 0; t < r.s; t++) {
			int64_t row = rope_row(&r, pos, b, t);

			if (row < 0)
				return node_error(cx->g, n, ST_INVALID, "position_ids[%lld][%lld] = %lld is "
				                  "outside the %lld cached positions", (long long)b, (long long)t,
				                  (long long)pos[b * r.s + t], (long long)r.positions);
			for (int64_t h = 0; h < r.h; h++) {
				int64_t at = r.is3d ? ((b * r.s + t) * r.h + h) * r.d
				                    : ((b * r.h + h) * r.s + t) * r.d;
				rope_head(x + at, c + row * r.half, s + row * r.half, r.half, interleaved);
			}
		}
	val_from_f64(out[0], x);
	return ST_OK;
}

const OpImpl op_impl_RotaryEmbedding = { rope_infer, rope_eval, NULL };
