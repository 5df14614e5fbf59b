/*
 * Reference kernels of the sequence-model ops: ReverseSequence, the KV
 * cache update TensorScatter (opset 24), and the recurrent-state ops of
 * opset 27, LinearAttention and CausalConvWithState.  The last two compute
 * in double and round once on store, as attention.c does; where the spec
 * rounds an intermediate to the input's type (CausalConvWithState's
 * convolution before its activation) so do we.
 */
#include <math.h>
#include <string.h>

#include "op.h"

/*
 * ReverseSequence: for each batch b (along batch_axis), the first
 * sequence_lens[b] steps along time_axis are reversed; the steps after
 * them are copied as they are.  The two axes are 0 and 1, in either order.
 */
static Status revseq_axes(Graph *g, const Node *n, int64_t *batch, int64_t *time)
{
	*batch = attr_i(n, "batch_axis", 1);
	*time = attr_i(n, "time_axis", 0);
	if ((*batch != 0 && *batch != 1) || (*time != 0 && *time != 1) || *batch == *time)
		return node_error(g, n, ST_INVALID, "batch_axis %lld and time_axis %lld must be 0 and 1, "
		                  "one each", (long long)*batch, (long long)*time);
	return ST_OK;
}

static Status revseq_infer(Graph *g, Node *n)
{
	const Value *x, *lens;
	int64_t batch, time;

	TRY(infer_nin(g, n, 2, 2));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	TRY(infer_dtype(g, n, 1, DTM(I64)));
	TRY(revseq_axes(g, n, &batch, &time));
	x = &node_in(g, n, 0)->v;
	lens = &node_in(g, n, 1)->v;
	if (x->rank < 2)
		return node_error(g, n, ST_INVALID, "input must have rank 2 or more, not %d", x->rank);
	if (lens->rank != 1 || lens->dims[0] != x->dims[batch])
		return node_error(g, n, ST_INVALID, "sequence_lens must be 1-D with the %lld entries "
		                  "of the batch axis", (long long)x->dims[batch]);
	return infer_same(g, n);
}

static Status revseq_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	size_t es = (size_t)dtype_size(x->dt);
	int64_t batch, time, strides[MAX_RANK];

	TRY(revseq_axes(cx->g, n, &batch, &time));
	for (int64_t b = 0; b < x->dims[batch]; b++) {
		int64_t len = val_get_i64(in[1], b);

		if (len < 0 || len > x->dims[time])
			return node_error(cx->g, n, ST_INVALID, "sequence_lens[%lld] is %lld, outside [0, %lld]",
			                  (long long)b, (long long)len, (long long)x->dims[time]);
	}
	val_strides(x, strides);
	for (int64_t i = 0; i < val_numel(x); i++) {
		int64_t b = i / strides[batch] % x->dims[batch], t = i / strides[time] % x->dims[time];
		int64_t len = val_get_i64(in[1], b), src = i;

		if (t < len)
			src = i + (len - 1 - 2 * t) * strides[time];
		memcpy((char *)out[0]->data + (size_t)i * es, (const char *)x->data + (size_t)src * es, es);
	}
	return ST_OK;
}

const OpImpl op_impl_ReverseSequence = {revseq_infer, revseq_eval, NULL};

/*
 * TensorScatter: present_cache is past_cache with update, whose axis is
 * sequence_length long instead of max_sequence_length, written along the
 * axis from position write_indices[b] (0 without them) for batch b.  In
 * "linear" mode the positions must fit; in "circular" mode they wrap
 * around modulo max_sequence_length.
 */
enum { TS_PAST, TS_UPDATE, TS_INDICES };

static Status ts_axis(Graph *g, const Node *n, int rank, int64_t *axis, bool *circular)
{
	const char *mode = attr_s(n, "mode", "linear");

	*axis = attr_i(n, "axis", -2);
	if (!norm_axis(axis, rank) || *axis == 0)
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d or is the "
		                  "batch axis", (long long)attr_i(n, "axis", -2), rank);
	if (strcmp(mode, "linear") != 0 && strcmp(mode, "circular") != 0)
		return node_error(g, n, ST_INVALID, "mode '%s' is not 'linear' or 'circular'", mode);
	*circular = strcmp(mode, "circular") == 0;
	return ST_OK;
}

static Status ts_infer(Graph *g, Node *n)
{
	const Value *past, *upd;
	int64_t axis;
	bool circular;

	TRY(infer_nin(g, n, 2, 3));
	TRY(infer_dtype(g, n, TS_PAST, DTM_ALL | DTM_LOWBIT));
	if (has_input(n, TS_INDICES))
		TRY(infer_dtype(g, n, TS_INDICES, DTM(I64)));
	past = &node_in(g, n, TS_PAST)->v;
	upd = &node_in(g, n, TS_UPDATE)->v;
	if (upd->dt != past->dt)
		return node_error(g, n, ST_INVALID, "update is %s, past_cache %s", dtype_name(upd->dt),
		                  dtype_name(past->dt));
	TRY(ts_axis(g, n, past->rank, &axis, &circular));
	if (upd->rank != past->rank)
		return node_error(g, n, ST_INVALID, "update has rank %d, past_cache %d", upd->rank, past->rank);
	for (int d = 0; d < past->rank; d++)
		if (d == axis ? upd->dims[d] > past->dims[d] : upd->dims[d] != past->dims[d])
			return node_error(g, n, ST_INVALID, "update's dimension %d is %lld, past_cache's %lld",
			                  d, (long long)upd->dims[d], (long long)past->dims[d]);
	if (has_input(n, TS_INDICES)) {
		const Value *w = &node_in(g, n, TS_INDICES)->v;

		if (w->rank != 1 || w->dims[0] != past->dims[0])
			return node_error(g, n, ST_INVALID, "write_indices must be [%lld], one per batch",
			                  (long long)past->dims[0]);
	}
	return infer_same(g, n);
}

static Status ts_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *past = in[TS_PAST], *upd = in[TS_UPDATE];
	size_t es = (size_t)dtype_size(past->dt), row;
	int64_t axis, outer, inner, per_batch, max_len, len;
	bool circular;

	TRY(ts_axis(cx->g, n, past->rank, &axis, &circular));
	memcpy(out[0]->data, past->data, (size_t)val_bytes(past));
	val_split_at(past, axis, &outer, &inner);
	if (outer == 0 || inner == 0)
		return ST_OK;
	per_batch = outer / past->dims[0];
	max_len = past->dims[axis];
	len = upd->dims[axis];
	row = (size_t)inner * es;
	for (int64_t o = 0; o < outer; o++) {
		int64_t b = o / per_batch, start = in[TS_INDICES] ? val_get_i64(in[TS_INDICES], b) : 0;

		if (!circular && (start < 0 || start + len > max_len))
			return node_error(cx->g, n, ST_INVALID, "write_indices[%lld] = %lld puts %lld steps "
			                  "outside the cache's %lld (mode linear)", (long long)b,
			                  (long long)start, (long long)len, (long long)max_len);
		for (int64_t s = 0; s < len; s++) {
			int64_t at = circular ? ((start + s) % max_len + max_len) % max_len : start + s;

			memcpy((char *)out[0]->data + (size_t)(o * max_len + at) * row,
			       (const char *)upd->data + (size_t)(o * len + s) * row, row);
		}
	}
	return ST_OK;
}

const OpImpl op_impl_TensorScatter = {ts_infer, ts_eval, NULL};

/*
 * LinearAttention: a recurrent state S [B][Hkv][dk][dv] (past_state, or
 * zeros) is updated token by token, and each query head reads it:
 *     gated rules:  S *= exp(g_t)                   (g per key row or head)
 *     delta rules:  v_t = beta_t * (v_t - S^T k_t)  (with S after the decay)
 *     always:       S += k_t (outer) v_t;  o_t = scale * q_t^T S
 * Q [B][T][Hq*dk], K [B][T][Hkv*dk], V [B][T][Hkv*dv]; query head h reads
 * the state of key head h / (Hq / Hkv).  decay is [B][T][Hkv*dk] or
 * [B][T][Hkv], beta [B][T][Hkv] or [B][T][1].  present_state has
 * past_state's type, or Q's without it.  chunk_size only tunes a
 * chunk-parallel algorithm, which the results do not depend on.
 */
enum { LA_Q, LA_K, LA_V, LA_PAST, LA_DECAY, LA_BETA };

typedef struct LinAttn {
	int64_t b, t, hq, hkv, dk, dv;
	bool gated, delta;
	int64_t decay_per;   /* decay values per head: dk or 1 */
	int64_t beta_heads;  /* Hkv or 1 */
	double scale;
} LinAttn;

/* The update rule's two parts. */
static Status la_rule(Graph *g, const Node *n, LinAttn *p)
{
	const char *rule = attr_s(n, "update_rule", "gated_delta");

	if (strcmp(rule, "linear") && strcmp(rule, "gated") && strcmp(rule, "delta") &&
	    strcmp(rule, "gated_delta"))
		return node_error(g, n, ST_INVALID, "update_rule '%s' is not linear, gated, delta or "
		                  "gated_delta", rule);
	p->gated = strncmp(rule, "gated", 5) == 0;
	p->delta = strcmp(rule, "delta") == 0 || strcmp(rule, "gated_delta") == 0;
	if (p->gated != has_input(n, LA_DECAY))
		return node_error(g, n, ST_INVALID, "update_rule '%s' %s input decay", rule,
		                  p->gated ? "requires" : "does not take");
	if (p->delta != has_input(n, LA_BETA))
		return node_error(g, n, ST_INVALID, "update_rule '%s' %s input beta", rule,
		                  p->delta ? "requires" : "does not take");
	return ST_OK;
}

/* Whether input i is [B][T][last]. */
static Status la_packed(Graph *g, const Node *n, const LinAttn *p, int i)
{
	const Tensor *t = node_in(g, n, i);

	if (t->v.rank != 3 || t->v.dims[0] != p->b || t->v.dims[1] != p->t)
		return node_error(g, n, ST_INVALID, "input '%s' must be [batch %lld, tokens %lld, .]",
		                  t->name, (long long)p->b, (long long)p->t);
	return ST_OK;
}

/* A last dimension that must be one of two sizes. */
static Status la_last(Graph *g, const Node *n, int i, int64_t a, int64_t b, int64_t *got)
{
	const Tensor *t = node_in(g, n, i);

	*got = t->v.dims[2];
	if (*got != a && *got != b)
		return node_error(g, n, ST_INVALID, "input '%s' has last dimension %lld, not %lld or %lld",
		                  t->name, (long long)*got, (long long)a, (long long)b);
	return ST_OK;
}

static Status la_dims(Graph *g, const Node *n, LinAttn *p)
{
	const Value *q = &node_in(g, n, LA_Q)->v, *k, *v;
	int64_t last;

	TRY(la_rule(g, n, p));
	p->hq = attr_i(n, "q_num_heads", 0);
	p->hkv = attr_i(n, "kv_num_heads", 0);
	if (!attr_find(n, "q_num_heads") || !attr_find(n, "kv_num_heads"))
		return node_error(g, n, ST_INVALID, "attributes q_num_heads and kv_num_heads are required");
	if (p->hq <= 0 || p->hkv <= 0 || p->hq % p->hkv != 0)
		return node_error(g, n, ST_INVALID, "q_num_heads %lld must be a positive multiple of "
		                  "kv_num_heads %lld", (long long)p->hq, (long long)p->hkv);
	if (q->rank != 3)
		return node_error(g, n, ST_INVALID, "query must be [batch, tokens, heads * head size]");
	p->b = q->dims[0], p->t = q->dims[1];
	for (int i = LA_Q; i <= LA_V; i++)
		TRY(la_packed(g, n, p, i));
	k = &node_in(g, n, LA_K)->v;
	v = &node_in(g, n, LA_V)->v;
	if (q->dims[2] % p->hq != 0 || v->dims[2] % p->hkv != 0)
		return node_error(g, n, ST_INVALID, "query's last dimension must be a multiple of "
		                  "q_num_heads, value's of kv_num_heads");
	p->dk = q->dims[2] / p->hq;
	p->dv = v->dims[2] / p->hkv;
	if (k->dims[2] != p->hkv * p->dk)
		return node_error(g, n, ST_INVALID, "key's last dimension is %lld, not kv_num_heads * %lld",
		                  (long long)k->dims[2], (long long)p->dk);
	if (has_input(n, LA_PAST)) {
		const Value *s = &node_in(g, n, LA_PAST)->v;
		int64_t want[4] = {p->b, p->hkv, p->dk, p->dv};

		if (s->rank != 4 || memcmp(s->dims, want, sizeof(want)) != 0)
			return node_error(g, n, ST_INVALID, "past_state must be [%lld, %lld, %lld, %lld]",
			                  (long long)p->b, (long long)p->hkv, (long long)p->dk, (long long)p->dv);
	}
	p->decay_per = p->beta_heads = 1;
	if (p->gated) {
		TRY(la_packed(g, n, p, LA_DECAY));
		TRY(la_last(g, n, LA_DECAY, p->hkv * p->dk, p->hkv, &last));
		p->decay_per = last / p->hkv;
	}
	if (p->delta) {
		TRY(la_packed(g, n, p, LA_BETA));
		TRY(la_last(g, n, LA_BETA, p->hkv, 1, &p->beta_heads));
	}
	p->scale = attr_f(n, "scale", 0);
	if (p->scale == 0)
		p->scale = 1 / sqrt((double)p->dk);
	return ST_OK;
}

static Status la_infer(Graph *g, Node *n)
{
	const Value *q;
	int64_t ydims[3], sdims[4];
	DType st;
	LinAttn p;

	TRY(infer_nin(g, n, 3, 6));
	TRY(infer_dtype(g, n, LA_Q, DTM_FLOAT));
	q = &node_in(g, n, LA_Q)->v;
	for (int i = LA_K; i <= LA_BETA; i++) {
		if (i == LA_PAST || !has_input(n, i))
			continue;
		if (node_in(g, n, i)->v.dt != q->dt)
			return node_error(g, n, ST_INVALID, "input '%s' is %s, query %s", node_in(g, n, i)->name,
			                  dtype_name(node_in(g, n, i)->v.dt), dtype_name(q->dt));
	}
	if (has_input(n, LA_PAST))
		TRY(infer_dtype(g, n, LA_PAST, DTM_FLOAT));
	TRY(la_dims(g, n, &p));
	st = has_input(n, LA_PAST) ? node_in(g, n, LA_PAST)->v.dt : q->dt;
	ydims[0] = p.b, ydims[1] = p.t, ydims[2] = p.hq * p.dv;
	sdims[0] = p.b, sdims[1] = p.hkv, sdims[2] = p.dk, sdims[3] = p.dv;
	infer_out(g, n, 0, q->dt, 3, ydims);
	infer_out(g, n, 1, st, 4, sdims);
	return ST_OK;
}

/* One token of one key head: decay, delta correction, write.  s is the
 * head's state [dk][dv], vt scratch [dv]. */
static void la_update(const LinAttn *p, double *s, const double *k, const double *v,
                      const double *decay, double beta, double *vt)
{
	for (int64_t d = 0; p->gated && d < p->dk; d++) {
		double f = exp(decay[p->decay_per == 1 ? 0 : d]);

		for (int64_t m = 0; m < p->dv; m++)
			s[d * p->dv + m] *= f;
	}
	for (int64_t m = 0; m < p->dv; m++) {
		double r = 0;

		for (int64_t d = 0; p->delta && d < p->dk; d++)
			r += s[d * p->dv + m] * k[d];
		vt[m] = p->delta ? beta * (v[m] - r) : v[m];
	}
	for (int64_t d = 0; d < p->dk; d++)
		for (int64_t m = 0; m < p->dv; m++)
			s[d * p->dv + m] += k[d] * vt[m];
}

static Status la_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	double *x[6] = {0}, *y, *state, *vt;
	int64_t nstate, group;
	LinAttn p;

	TRY(la_dims(cx->g, n, &p));
	for (int i = 0; i < 6; i++)
		if (in[i] && !(x[i] = val_to_f64(cx->scratch, in[i])))
			return eval_oom(cx, n);
	nstate = p.b * p.hkv * p.dk * p.dv;
	group = p.hq / p.hkv;
	y = arena_alloc(cx->scratch, (size_t)(p.b * p.t * p.hq * p.dv) * sizeof(*y));
	state = arena_alloc(cx->scratch, (size_t)nstate * sizeof(*state));
	vt = arena_alloc(cx->scratch, (size_t)p.dv * sizeof(*vt));
	if (!y || !state || !vt)
		return eval_oom(cx, n);
	for (int64_t i = 0; i < nstate; i++)
		state[i] = x[LA_PAST] ? x[LA_PAST][i] : 0;
	for (int64_t b = 0; b < p.b; b++)
		for (int64_t t = 0; t < p.t; t++) {
			int64_t bt = b * p.t + t;

			for (int64_t h = 0; h < p.hkv; h++) {
				double *s = state + (b * p.hkv + h) * p.dk * p.dv;
				const double *decay = p.gated ? x[LA_DECAY] + (bt * p.hkv + h) * p.decay_per : NULL;
				double beta = p.delta ? x[LA_BETA][bt * p.beta_heads + (p.beta_heads == 1 ? 0 : h)] : 0;

				la_update(&p, s, x[LA_K] + (bt * p.hkv + h) * p.dk,
				          x[LA_V] + (bt * p.hkv + h) * p.dv, decay, beta, vt);
			}
			for (int64_t h = 0; h < p.hq; h++) {
				const double *s = state + (b * p.hkv + h / group) * p.dk * p.dv;
				const double *q = x[LA_Q] + (bt * p.hq + h) * p.dk;

				for (int64_t m = 0; m < p.dv; m++) {
					double acc = 0;

					for (int64_t d = 0; d < p.dk; d++)
						acc += q[d] * s[d * p.dv + m];
					y[(bt * p.hq + h) * p.dv + m] = p.scale * acc;
				}
			}
		}
	val_from_f64(out[0], y);
	if (out[1])
		val_from_f64(out[1], state);
	return ST_OK;
}

static int64_t la_macs(Graph *g, const Node *n)
{
	const Value *q = &node_in(g, n, LA_Q)->v, *k = &node_in(g, n, LA_K)->v;
	const Value *v = &node_in(g, n, LA_V)->v;
	int64_t hkv = attr_i(n, "kv_num_heads", 1), tokens = q->dims[0] * q->dims[1];
	int64_t dv = v->dims[2] / hkv;

	/* Per token: the write of every key head's state (and delta's read of
	 * it), and every query head's read. */
	return tokens * dv * (k->dims[2] * (has_input(n, LA_BETA) ? 2 : 1) + q->dims[2]);
}

const OpImpl op_impl_LinearAttention = {la_infer, la_eval, la_macs};

/*
 * CausalConvWithState: X [B][C][L] is prefixed with past_state [B][C][k-1]
 * (zeros without it), and each channel is convolved with its own kernel
 * W [C][1][k] over that padded sequence, without further padding:
 *     Y[b][c][t] = B[c] + sum_j W[c][0][j] * P[b][c][t + j]
 * then, with activation silu (or its alias swish), Y = Y * sigmoid(Y) on
 * Y rounded to X's type.  present_state is the last k-1 steps of P.
 */
enum { CC_X, CC_W, CC_BIAS, CC_PAST };

static Status cc_activation(Graph *g, const Node *n, bool *silu)
{
	const char *act = attr_s(n, "activation", "none");

	if (strcmp(act, "none") && strcmp(act, "silu") && strcmp(act, "swish"))
		return node_error(g, n, ST_INVALID, "activation '%s' is not none, silu or swish", act);
	*silu = strcmp(act, "none") != 0;
	return ST_OK;
}

static Status cc_infer(Graph *g, Node *n)
{
	const Value *x, *w;
	int64_t sdims[3];
	bool silu;

	TRY(infer_nin(g, n, 2, 4));
	TRY(infer_dtype(g, n, CC_X, DTM_FLOAT));
	TRY(cc_activation(g, n, &silu));
	x = &node_in(g, n, CC_X)->v;
	w = &node_in(g, n, CC_W)->v;
	for (int i = CC_W; i <= CC_PAST; i++)
		if (has_input(n, i) && node_in(g, n, i)->v.dt != x->dt)
			return node_error(g, n, ST_INVALID, "input '%s' is %s, input %s", node_in(g, n, i)->name,
			                  dtype_name(node_in(g, n, i)->v.dt), dtype_name(x->dt));
	if (x->rank != 3)
		return node_error(g, n, ST_INVALID, "input must be [batch, channels, length]");
	if (w->rank != 3 || w->dims[0] != x->dims[1] || w->dims[1] != 1 || w->dims[2] < 1)
		return node_error(g, n, ST_INVALID, "weight must be [%lld, 1, k] with k >= 1",
		                  (long long)x->dims[1]);
	sdims[0] = x->dims[0], sdims[1] = x->dims[1], sdims[2] = w->dims[2] - 1;
	if (has_input(n, CC_BIAS)) {
		const Value *b = &node_in(g, n, CC_BIAS)->v;

		if (b->rank != 1 || b->dims[0] != x->dims[1])
			return node_error(g, n, ST_INVALID, "bias must be [%lld]", (long long)x->dims[1]);
	}
	if (has_input(n, CC_PAST)) {
		const Value *s = &node_in(g, n, CC_PAST)->v;

		if (s->rank != 3 || memcmp(s->dims, sdims, sizeof(sdims)) != 0)
			return node_error(g, n, ST_INVALID, "past_state must be [%lld, %lld, %lld]",
			                  (long long)sdims[0], (long long)sdims[1], (long long)sdims[2]);
	}
	infer_out(g, n, 0, x->dt, 3, x->dims);
	infer_out(g, n, 1, x->dt, 3, sdims);
	return ST_OK;
}

static Status cc_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[CC_X];
	int64_t ch = x->dims[1], len = x->dims[2], k = in[CC_W]->dims[2], plen = len + k - 1;
	double *xs = val_to_f64(cx->scratch, x), *w = val_to_f64(cx->scratch, in[CC_W]);
	double *bias = in[CC_BIAS] ? val_to_f64(cx->scratch, in[CC_BIAS]) : NULL;
	double *past = in[CC_PAST] ? val_to_f64(cx->scratch, in[CC_PAST]) : NULL;
	double *pad = arena_alloc(cx->scratch, (size_t)plen * sizeof(*pad));
	bool silu = false;

	TRY(cc_activation(cx->g, n, &silu));
	if (!xs || !w || (in[CC_BIAS] && !bias) || (in[CC_PAST] && !past) || !pad)
		return eval_oom(cx, n);
	for (int64_t bc = 0; bc < x->dims[0] * ch; bc++) {
		int64_t c = bc % ch;

		for (int64_t j = 0; j < k - 1; j++)
			pad[j] = past ? past[bc * (k - 1) + j] : 0;
		memcpy(pad + k - 1, xs + bc * len, (size_t)len * sizeof(*pad));
		for (int64_t t = 0; t < len; t++) {
			double acc = bias ? bias[c] : 0;

			for (int64_t j = 0; j < k; j++)
				acc += w[c * k + j] * pad[t + j];
			if (silu) {
				acc = dtype_round(x->dt, acc);
				acc = acc / (1 + exp(-acc));
			}
			val_set_f64(out[0], bc * len + t, acc);
		}
		for (int64_t j = 0; out[1] && j < k - 1; j++)
			val_set_f64(out[1], bc * (k - 1) + j, pad[len + j]);
	}
	return ST_OK;
}

static int64_t cc_macs(Graph *g, const Node *n)
{
	return val_numel(&node_in(g, n, CC_X)->v) * node_in(g, n, CC_W)->v.dims[2];
}

const OpImpl op_impl_CausalConvWithState = {cc_infer, cc_eval, cc_macs};
