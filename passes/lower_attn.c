/*
 * Lowering of Attention (opset 23 and 24).
 *
 * The kernel runs one (batch, query head) pair at a time, so that only one
 * head's scores are ever in memory: S is an f64 kernel temporary [Sq][T]
 * that every head reuses.  In the 4-D view of ir/interp/attention.h, with
 * G = Hq / Hkv query heads to a key head (grouped-query attention):
 *
 *   present_key = past_key ++ K,  present_value = past_value ++ V  (copy nests)
 *   for b, h {                                            the outer loop
 *       S[i, j] = sum_c Q[b, h, i, c] * K[b, h/G, j, c]          (mac nest)
 *       for i, j:  S *= scale;  S = softcap * tanh(S / softcap)
 *                  x = bias of key j for query i;  S += x;  X[i] max= x
 *       M[i] = max_j S[i, j]                                     (reduce nest)
 *       S = exp(S - M[i]);  L[i] = sum_j S[i, j];  S /= L[i]
 *       S = 0 on the rows where X[i] or M[i] is -inf      (no key is allowed)
 *       O[i, c] = sum_j S[i, j] * V[b, h/G, j, c]                (mac nest)
 *       Y[b, h, i, c] = O[i, c]
 *   }
 *
 * which is the graph interpreter's computation (ir/interp/attention.c) in
 * its order and in double, rounded once into the outputs; computing in
 * double covers every softmax_precision.  K and V are read from
 * present_key and present_value when the node has them, from copies made
 * the same way when it has only a past cache, else in place; a 3-D
 * tensor [B][S][H*hs] is indexed as its 4-D view, head h at h*hs.
 *
 * The bias x of one key is built in an f64 scalar as attn_bias builds it:
 * the mask's value (a bool mask gives 0 or -inf; a mask whose last axis is
 * shorter than T is read through a copy padded with 0), then -inf where
 * the key lies past that axis, past the causal frontier or in the padding
 * of nonpad_kv_seqlen.  Those regions are not boxes, so each is a
 * comparison against a constant table iota[k] = k:
 *
 *   past the mask's last axis      iota[j] >= mask_keys
 *   causal (j > i + P)             iota[j - i + Sq - 1] >= P + Sq
 *   causal (j > i + nonpad - Sq)   iota[j - i + Sq - 1] >= nonpad[b]
 *   padding (j >= nonpad)          iota[j] >= nonpad[b]
 *
 * The row maximum X of the bias is kept so that a row is zeroed exactly
 * where the interpreter's attn_softmax zeroes it, NaN scores included.
 * qk_matmul_output takes S after the scale (mode 0), after the softcap
 * (1), after the bias (2) or after the softmax (3).
 */
#include "lower.h"

#include <math.h>
#include <string.h>

#include "interp/attention.h"

/* A tensor in the 4-D view [B][H][S][hs], stored so or, when is3d, as
 * [B][S][H*hs]. */
typedef struct Heads {
	int buf;
	bool is3d;
	int64_t hs;              /* head size */
} Heads;

typedef struct AttnCx {
	LowerCx *cx;
	const Node *n;
	AttnDims d;
	double scale, softcap;
	bool causal;
	int mode;                /* qk_matmul_output_mode */
	Heads q, k, v, y;        /* k and v hold all T keys */
	int mask, nonpad, qk;    /* buffers, -1 when absent */
	int64_t mask_keys;       /* length of the mask's last axis */
	int iota;                /* const i64 [T + Sq - 1], -1 when no key is cut off */
	int s, xmax, mx, sum, dead, o;   /* per-head temporaries [Sq][...] */
	int x, m, flag;          /* scalars: bias, mask element, a condition */
	int parent;              /* the loop over query heads */
	int bv, hv, kh;          /* batch, query head and key head expressions */
} AttnCx;

static const char *const bhsc_names[4] = {"b", "h", "s", "c"};

static bool has_bias(const AttnCx *ac)
{
	return ac->mask >= 0 || ac->causal || ac->nonpad >= 0;
}

/*
 * References.
 */

/* t[b, h, s, c] in t's view. */
static LoopArg heads_ref(AttnCx *ac, Heads t, int b, int h, int s, int c)
{
	LoopProgram *p = ac->cx->p;

	if (t.is3d)
		return lower_ref(ac->cx, t.buf, (int[]){b, s, loop_add(p, loop_mul(p, t.hs, h), c)});
	return lower_ref(ac->cx, t.buf, (int[]){b, h, s, c});
}

/* buf[i, j] of a per-head temporary; buf[i] when jv < 0. */
static LoopArg row_ref(AttnCx *ac, int buf, int iv, int jv)
{
	return lower_ref(ac->cx, buf, jv < 0 ? (int[]){iv} : (int[]){iv, jv});
}

static LoopArg scalar_ref(AttnCx *ac, int buf)
{
	return lower_ref(ac->cx, buf, NULL);
}

/* The mask element of query i and key j: its leading axes broadcast as
 * NumPy's to [B][Hq][Sq], its last axis indexed by j. */
static LoopArg mask_ref(AttnCx *ac, int iv, int jv)
{
	const LoopBuf *b = &ac->cx->p->bufs[ac->mask];
	int full[4] = {ac->bv, ac->hv, iv, jv}, idx[MAX_RANK];

	for (int k = 0; k < b->rank - 1; k++)
		idx[k] = b->dims[k] == 1 ? loop_const(ac->cx->p, 0) : full[4 - b->rank + k];
	idx[b->rank - 1] = jv;
	return lower_ref(ac->cx, ac->mask, idx);
}

/* nonpad_kv_seqlen[b]. */
static LoopArg nonpad_ref(AttnCx *ac)
{
	return lower_ref(ac->cx, ac->nonpad, &ac->bv);
}

/*
 * Statements.
 */

/* dst = src rounded into dst's type: a copy between equal types, else a
 * Cast (Mul by 1.0 into bf16, which Cast cannot write: lower.h). */
static void store(AttnCx *ac, int parent, LoopArg dst, LoopArg src)
{
	LoopProgram *p = ac->cx->p;
	DType dt = p->bufs[dst.buf].dt;

	if (dt == p->bufs[src.buf].dt)
		lower_emit2(ac->cx, parent, LN_COPY, dst, src);
	else if (dt == DT_BF16)
		lower_apply(ac->cx, parent, OP_Mul, 3, (LoopArg[]){dst, src, loop_lit_float(1.0)});
	else
		lower_apply(ac->cx, parent, OP_Cast, 2, (LoopArg[]){dst, src});
}

/* `apply dst = op(a, b)`, or op(a) for the unary ops. */
static void apply(AttnCx *ac, int parent, OpKind op, LoopArg dst, LoopArg a, LoopArg b)
{
	lower_apply_ab(ac->cx, parent, op, dst, a, b);
}

static void where(AttnCx *ac, int parent, LoopArg dst, LoopArg c, LoopArg t, LoopArg f)
{
	lower_apply(ac->cx, parent, OP_Where, 4, (LoopArg[]){dst, c, t, f});
}

static void reduce(AttnCx *ac, int parent, LoopReduce op, LoopArg acc, LoopArg src)
{
	int s = lower_emit2(ac->cx, parent, LN_REDUCE, acc, src);

	if (s >= 0)
		ac->cx->p->nodes[s].red = op;
}

/* Loops i over the queries and, when ext > 0, `name` over 0..ext inside,
 * under the head loop; returns the innermost. */
static int head_nest(AttnCx *ac, const char *name, int64_t ext, int *iv, int *jv)
{
	int in = lower_loop(ac->cx, ac->parent, "i", 0, ac->d.sq, iv);

	return ext > 0 ? lower_loop(ac->cx, in, name, 0, ext, jv) : in;
}

/*
 * The keys and values of every position: past ++ new.
 */

/* present[b, h, at + s, c] = src[b, h, s, c] for s in 0..len, at the top
 * level of the kernel. */
static void copy_keys(AttnCx *ac, int present, Heads src, int64_t at, int64_t len)
{
	LoopProgram *p = ac->cx->p;
	int64_t dims[4] = {ac->d.b, ac->d.hkv, len, src.hs};
	int v[4], in = lower_nest(ac->cx, -1, 4, dims, bhsc_names, v);

	lower_emit2(ac->cx, in, LN_COPY,
	            lower_ref(ac->cx, present, (int[]){v[0], v[1], loop_add_const(p, v[2], at), v[3]}),
	            heads_ref(ac, src, v[0], v[1], v[2], v[3]));
}

/*
 * All keys (or values) from input `in` and past input `past`: output
 * `out` when the node has it, else a temporary when the past is not empty,
 * else the input itself.
 */
static Heads all_keys(AttnCx *ac, int in, int past, int out, int64_t hs, const char *name)
{
	LowerCx *cx = ac->cx;
	Heads src = {lower_buf(cx, ac->n->in[in]), ac->d.is3d, hs};
	Heads all = {lower_out(cx, ac->n, out), false, hs};
	int64_t dims[4] = {ac->d.b, ac->d.hkv, ac->d.total, hs};

	if (all.buf < 0 && ac->d.past == 0)
		return src;
	if (all.buf < 0)
		all.buf = lower_temp(cx, name, cx->p->bufs[src.buf].dt, 4, dims);
	if (all.buf < 0)
		return all;
	if (ac->d.past > 0)
		copy_keys(ac, all.buf, (Heads){lower_buf(cx, ac->n->in[past]), false, hs}, 0, ac->d.past);
	copy_keys(ac, all.buf, src, ac->d.past, ac->d.skv);
	return all;
}

/*
 * One head: the scores.
 */

/* S[i, j] = sum_c Q[b, h, i, c] * K[b, h/G, j, c]. */
static void scores(AttnCx *ac)
{
	int iv, jv, cv, in = head_nest(ac, "j", ac->d.total, &iv, &jv);

	lower_emit2(ac->cx, in, LN_FILL, row_ref(ac, ac->s, iv, jv), loop_lit_float(0.0));
	in = head_nest(ac, "j", ac->d.total, &iv, &jv);
	in = lower_loop(ac->cx, in, "c", 0, ac->d.dk, &cv);
	lower_emit(ac->cx, in, LN_MAC, 3, (LoopArg[]){row_ref(ac, ac->s, iv, jv),
	           heads_ref(ac, ac->q, ac->bv, ac->hv, iv, cv),
	           heads_ref(ac, ac->k, ac->bv, ac->kh, jv, cv)});
}

/* qk_matmul_output[b, h, i, j] = S[i, j] when the output has this mode. */
static void qk_out(AttnCx *ac, int parent, int mode, int iv, int jv)
{
	if (ac->qk >= 0 && ac->mode == mode)
		store(ac, parent, lower_ref(ac->cx, ac->qk, (int[]){ac->bv, ac->hv, iv, jv}),
		      row_ref(ac, ac->s, iv, jv));
}

/* x = -inf where iota[e] >= bound: the key is cut off. */
static void cut_off(AttnCx *ac, int parent, int e, LoopArg bound)
{
	LoopArg x = scalar_ref(ac, ac->x), c = scalar_ref(ac, ac->flag);

	apply(ac, parent, OP_GreaterOrEqual, c, lower_ref(ac->cx, ac->iota, &e), bound);
	where(ac, parent, x, c, loop_lit_float(-INFINITY), x);
}

/* x = the mask's value of key j for query i, 0 without a mask. */
static void mask_value(AttnCx *ac, int parent, int iv, int jv)
{
	LoopArg x = scalar_ref(ac, ac->x), m;

	if (ac->mask < 0) {
		lower_emit2(ac->cx, parent, LN_FILL, x, loop_lit_float(0.0));
		return;
	}
	m = mask_ref(ac, iv, jv);
	if (ac->mask_keys < ac->d.total) {
		lower_copy_pad(ac->cx, parent, scalar_ref(ac, ac->m), m,
		               lower_zero_lit(ac->cx->p->bufs[ac->mask].dt));
		m = scalar_ref(ac, ac->m);
	}
	if (ac->cx->p->bufs[ac->mask].dt == DT_BOOL)
		where(ac, parent, x, m, loop_lit_float(0.0), loop_lit_float(-INFINITY));
	else
		apply(ac, parent, OP_Cast, x, m, m);
}

/* x = the bias of key j for query i (attn_bias); S += x, X[i] max= x. */
static void bias(AttnCx *ac, int parent, int iv, int jv)
{
	LoopProgram *p = ac->cx->p;
	LoopArg x = scalar_ref(ac, ac->x), s = row_ref(ac, ac->s, iv, jv);

	mask_value(ac, parent, iv, jv);
	if (ac->mask_keys < ac->d.total)
		cut_off(ac, parent, jv, loop_lit_int(ac->mask_keys));
	if (ac->causal)
		cut_off(ac, parent, loop_add_const(p, loop_sub(p, jv, iv), ac->d.sq - 1),
		        ac->nonpad >= 0 ? nonpad_ref(ac) : loop_lit_int(ac->d.past + ac->d.sq));
	if (ac->nonpad >= 0)
		cut_off(ac, parent, jv, nonpad_ref(ac));
	apply(ac, parent, OP_Add, s, s, x);
	reduce(ac, parent, LR_MAX, row_ref(ac, ac->xmax, iv, -1), x);
}

/* For every (i, j): scale, softcap, bias, with qk_matmul_output between. */
static void score_nest(AttnCx *ac)
{
	int iv, jv, in;
	LoopArg s;

	if (has_bias(ac)) {
		in = head_nest(ac, NULL, 0, &iv, NULL);
		lower_emit2(ac->cx, in, LN_FILL, row_ref(ac, ac->xmax, iv, -1),
		            loop_lit_float(-INFINITY));
	}
	in = head_nest(ac, "j", ac->d.total, &iv, &jv);
	s = row_ref(ac, ac->s, iv, jv);
	apply(ac, in, OP_Mul, s, s, loop_lit_float(ac->scale));
	qk_out(ac, in, 0, iv, jv);
	if (ac->softcap > 0) {
		apply(ac, in, OP_Div, s, s, loop_lit_float(ac->softcap));
		apply(ac, in, OP_Tanh, s, s, s);
		apply(ac, in, OP_Mul, s, s, loop_lit_float(ac->softcap));
	}
	qk_out(ac, in, 1, iv, jv);
	if (has_bias(ac))
		bias(ac, in, iv, jv);
	qk_out(ac, in, 2, iv, jv);
}

/*
 * One head: the softmax and the values.
 */

/* dead[i]: the row's bias or scores are -inf everywhere (attn_softmax). */
static void dead_rows(AttnCx *ac)
{
	int iv, in = head_nest(ac, NULL, 0, &iv, NULL);
	LoopArg dead = row_ref(ac, ac->dead, iv, -1), t = scalar_ref(ac, ac->flag);
	LoopArg ninf = loop_lit_float(-INFINITY);

	apply(ac, in, OP_Equal, dead, row_ref(ac, ac->mx, iv, -1), ninf);
	if (!has_bias(ac))
		return;
	apply(ac, in, OP_Equal, t, row_ref(ac, ac->xmax, iv, -1), ninf);
	apply(ac, in, OP_Or, dead, dead, t);
}

/* S = softmax of S along j, rows without a key zero. */
static void softmax(AttnCx *ac)
{
	int iv, jv, in = head_nest(ac, NULL, 0, &iv, NULL);
	LoopArg mx = row_ref(ac, ac->mx, iv, -1), sum = row_ref(ac, ac->sum, iv, -1), s;

	lower_emit2(ac->cx, in, LN_FILL, mx, loop_lit_float(-INFINITY));
	lower_emit2(ac->cx, in, LN_FILL, sum, loop_lit_float(0.0));
	in = head_nest(ac, "j", ac->d.total, &iv, &jv);
	reduce(ac, in, LR_MAX, row_ref(ac, ac->mx, iv, -1), row_ref(ac, ac->s, iv, jv));
	dead_rows(ac);
	in = head_nest(ac, "j", ac->d.total, &iv, &jv);
	s = row_ref(ac, ac->s, iv, jv);
	apply(ac, in, OP_Sub, s, s, row_ref(ac, ac->mx, iv, -1));
	apply(ac, in, OP_Exp, s, s, s);
	in = head_nest(ac, "j", ac->d.total, &iv, &jv);
	reduce(ac, in, LR_SUM, row_ref(ac, ac->sum, iv, -1), row_ref(ac, ac->s, iv, jv));
	in = head_nest(ac, "j", ac->d.total, &iv, &jv);
	s = row_ref(ac, ac->s, iv, jv);
	apply(ac, in, OP_Div, s, s, row_ref(ac, ac->sum, iv, -1));
	where(ac, in, s, row_ref(ac, ac->dead, iv, -1), loop_lit_float(0.0), s);
	qk_out(ac, in, 3, iv, jv);
}

/* Y[b, h, i, c] = sum_j S[i, j] * V[b, h/G, j, c], summed in O. */
static void weigh_values(AttnCx *ac)
{
	int iv, cv, jv, in = head_nest(ac, "c", ac->d.dv, &iv, &cv);

	lower_emit2(ac->cx, in, LN_FILL, row_ref(ac, ac->o, iv, cv), loop_lit_float(0.0));
	in = head_nest(ac, "c", ac->d.dv, &iv, &cv);
	in = lower_loop(ac->cx, in, "j", 0, ac->d.total, &jv);
	lower_emit(ac->cx, in, LN_MAC, 3, (LoopArg[]){row_ref(ac, ac->o, iv, cv),
	           row_ref(ac, ac->s, iv, jv), heads_ref(ac, ac->v, ac->bv, ac->kh, jv, cv)});
	in = head_nest(ac, "c", ac->d.dv, &iv, &cv);
	store(ac, in, heads_ref(ac, ac->y, ac->bv, ac->hv, iv, cv), row_ref(ac, ac->o, iv, cv));
}

/* The loops over batches and query heads, and one head's work inside. */
static void heads(AttnCx *ac)
{
	LoopProgram *p = ac->cx->p;
	int b = lower_loop(ac->cx, -1, "b", 0, ac->d.b, &ac->bv);
	int64_t group = ac->d.hq / ac->d.hkv;

	ac->parent = lower_loop(ac->cx, b, "h", 0, ac->d.hq, &ac->hv);
	ac->kh = group > 1 ? loop_div(p, ac->hv, group) : ac->hv;
	scores(ac);
	score_nest(ac);
	softmax(ac);
	weigh_values(ac);
}

/*
 * Set-up.
 */

static Status check_sizes(AttnCx *ac)
{
	const AttnDims *d = &ac->d;

	if (d->b == 0 || d->hq == 0 || d->sq == 0 || d->skv == 0 || d->dk == 0 || d->dv == 0)
		return node_error(ac->cx->g, ac->n, ST_UNSUPPORTED, "empty tensors have no loop nest "
		                  "(only the past cache may be empty)");
	return ST_OK;
}

/* The constant table iota[k] = k over every index the cut-offs use. */
static int iota_table(AttnCx *ac)
{
	LowerCx *cx = ac->cx;
	int64_t len = ac->d.total + ac->d.sq - 1;
	int64_t *data = arena_alloc(&cx->p->arena, (size_t)len * sizeof(int64_t));

	if (!data) {
		cx->p->oom = true;
		return -1;
	}
	for (int64_t k = 0; k < len; k++)
		data[k] = k;
	return lower_const(cx, "attn_iota", DT_I64, 1, &len, data);
}

/* The temporaries of one head and the scalars of the score nest. */
static void temporaries(AttnCx *ac)
{
	LowerCx *cx = ac->cx;
	int64_t sd[2] = {ac->d.sq, ac->d.total}, od[2] = {ac->d.sq, ac->d.dv};

	ac->s = lower_temp(cx, "attn_s", DT_F64, 2, sd);
	ac->mx = lower_temp(cx, "attn_max", DT_F64, 1, sd);
	ac->sum = lower_temp(cx, "attn_sum", DT_F64, 1, sd);
	ac->dead = lower_temp(cx, "attn_dead", DT_BOOL, 1, sd);
	ac->o = lower_temp(cx, "attn_o", DT_F64, 2, od);
	if (!has_bias(ac))
		return;
	ac->xmax = lower_temp(cx, "attn_xmax", DT_F64, 1, sd);
	ac->x = lower_temp(cx, "attn_x", DT_F64, 0, NULL);
	ac->flag = lower_temp(cx, "attn_flag", DT_BOOL, 0, NULL);
	if (ac->mask >= 0 && ac->mask_keys < ac->d.total)
		ac->m = lower_temp(cx, "attn_m", cx->p->bufs[ac->mask].dt, 0, NULL);
	if (ac->causal || ac->nonpad >= 0 || ac->mask_keys < ac->d.total)
		ac->iota = iota_table(ac);
}

/* The node's sizes, attributes and operands. */
static Status describe(AttnCx *ac)
{
	LowerCx *cx = ac->cx;
	const Node *n = ac->n;

	TRY(attn_parse(cx->g, n, &ac->d));
	TRY(check_sizes(ac));
	ac->scale = attn_scale(n, &ac->d);
	ac->softcap = attr_f(n, "softcap", 0);
	ac->causal = attr_i(n, "is_causal", 0) != 0;
	ac->mode = (int)attr_i(n, "qk_matmul_output_mode", 0);
	ac->q = (Heads){lower_buf(cx, n->in[ATTN_Q]), ac->d.is3d, ac->d.dk};
	ac->y = (Heads){lower_out(cx, n, ATTN_Y), ac->d.is3d, ac->d.dv};
	ac->qk = lower_out(cx, n, ATTN_QK);
	ac->mask = has_input(n, ATTN_MASK) ? lower_buf(cx, n->in[ATTN_MASK]) : -1;
	ac->nonpad = has_input(n, ATTN_NONPAD) ? lower_buf(cx, n->in[ATTN_NONPAD]) : -1;
	ac->mask_keys = ac->d.total;
	if (has_input(n, ATTN_MASK)) {
		const Value *m = &node_in(cx->g, n, ATTN_MASK)->v;

		ac->mask_keys = m->dims[m->rank - 1];
	}
	return loop_oom(cx->p);
}

Status lower_attention(LowerCx *cx, const Node *n)
{
	AttnCx ac;

	memset(&ac, 0, sizeof(ac));
	ac.cx = cx;
	ac.n = n;
	ac.iota = ac.x = ac.m = ac.flag = ac.xmax = -1;
	TRY(describe(&ac));
	ac.k = all_keys(&ac, ATTN_K, ATTN_PAST_K, ATTN_PRESENT_K, ac.d.dk, "attn_k");
	ac.v = all_keys(&ac, ATTN_V, ATTN_PAST_V, ATTN_PRESENT_V, ac.d.dv, "attn_v");
	temporaries(&ac);
	TRY(loop_oom(cx->p));
	heads(&ac);
	return loop_oom(cx->p);
}
