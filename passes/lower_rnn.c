/*
 * Lowering of the recurrent ops RNN, GRU and LSTM.
 *
 * For every direction, and every run of batch rows that share one sequence
 * length (sequence_lens must be constant), the kernel gets
 *
 *   init nests: the state H (and C) from initial_h (initial_c) or zero;
 *   for t in 0..len {                            the time loop, outermost
 *       XW[b, g] = Wb[g] + sum_i W[g, i] * X[t', b, i]      (mac nest)
 *       HR[b, g] = Rb[g] + sum_k R[g, k] * H[b, k]          (mac nest)
 *       gate nests: apply ... (the cell's equations, one op per nest)
 *       Y[t', b, j] = H[b, j]
 *   }
 *   Y_h = H, Y_c = C
 *
 * with t' = t forward and len - 1 - t backward.  Gate order in W, R and B
 * is RNN i; GRU z r h; LSTM i o f c; peepholes P i o f; the node's
 * description is the interpreter's (ir/interp/rnn.h).  The state, the
 * projections and the gates are f64 kernel temporaries, as the graph
 * interpreter (ir/interp/rnn.c) computes in double; results round once
 * into the outputs.  `clip` clamps every gate activation's input (not the
 * cell state fed to LSTM's h).  Activations that are not ops of their own
 * are compositions of applies: Affine alpha*x + beta, ScaledTanh
 * alpha*tanh(beta*x), ThresholdedRelu x * clamp(ceil(x - alpha), 0, 1)
 * (which reads -inf as NaN where the graph gives 0).
 */
#include "lower.h"

#include <string.h>

#include "interp/rnn.h"

/* An operand of a gate nest over (b, j): buf[b, off + j] (COL), a
 * parameter buf[d, off + j] (PAR), or a literal. */
typedef enum OpndKind { K_COL, K_PAR, K_LIT } OpndKind;

typedef struct Opnd {
	OpndKind kind;
	int buf;
	int64_t off;
	double lit;
} Opnd;

/* One direction and run of batch rows being lowered. */
typedef struct RnnCx {
	LowerCx *cx;
	const Node *n;
	Rnn r;
	int in[IN_MAX], out[OUT_MAX];   /* buffers, -1 when absent */
	int h, c, xw, hr, rh, tmp;      /* f64 temporaries [batch][...] */
	int d;                          /* direction */
	int64_t b0, b1, len;            /* batch rows [b0, b1), their length */
	int parent;                     /* the time loop, or -1 outside it */
	int tidx;                       /* expression of the time index t' */
} RnnCx;

static Opnd col(int buf, int64_t off) { return (Opnd){K_COL, buf, off, 0}; }
static Opnd par(int buf, int64_t off) { return (Opnd){K_PAR, buf, off, 0}; }
static Opnd lit(double v) { return (Opnd){K_LIT, -1, 0, v}; }

/* The node's description (ir/interp/rnn.h) from its input types. */
static Status describe(LowerCx *cx, const Node *n, Rnn *r)
{
	const Value *v[IN_MAX] = {NULL};

	for (int i = 0; i < n->nin && i < IN_MAX; i++) {
		const Tensor *t = node_in(cx->g, n, i);

		v[i] = t ? &t->v : NULL;
	}
	return rnn_parse(cx->g, n, v, r);
}

/*
 * Statements.
 */

static const char *const bj_names[2] = {"b", "j"};

/* A reference for operand o inside a (b, j) nest; bv, jv the variables. */
static LoopArg opnd_ref(RnnCx *rc, Opnd o, int bv, int jv)
{
	LoopProgram *p = rc->cx->p;
	int idx[2];

	if (o.kind == K_LIT)
		return loop_lit_float(o.lit);
	idx[0] = o.kind == K_COL ? bv : loop_const(p, rc->d);
	idx[1] = loop_add_const(p, jv, o.off);
	return lower_ref(rc->cx, o.buf, idx);
}

/* Loops b in b0..b1, j in 0..width under the current parent. */
static int bj_nest(RnnCx *rc, int64_t width, int *bv, int *jv)
{
	int fb = lower_loop(rc->cx, rc->parent, bj_names[0], rc->b0, rc->b1 - rc->b0, bv);

	return lower_loop(rc->cx, fb, bj_names[1], 0, width, jv);
}

/* dst = op(a[0], ...) for b in b0..b1, j in 0..width; alpha, beta set. */
static void gate_apply(RnnCx *rc, int64_t width, OpKind op, Opnd dst, const Opnd *a,
                       double alpha, double beta)
{
	int bv, jv, in = bj_nest(rc, width, &bv, &jv), arity = loop_apply_arity(op), s;
	LoopArg args[LOOP_MAX_ARGS];

	args[0] = opnd_ref(rc, dst, bv, jv);
	for (int i = 0; i < arity; i++)
		args[1 + i] = opnd_ref(rc, a[i], bv, jv);
	s = lower_apply(rc->cx, in, op, 1 + arity, args);
	if (s >= 0) {
		rc->cx->p->nodes[s].alpha = alpha;
		rc->cx->p->nodes[s].beta = beta;
	}
}

static void ew1(RnnCx *rc, OpKind op, Opnd dst, Opnd a)
{
	double al, be, ga;

	loop_apply_defaults(op, &al, &be, &ga);
	gate_apply(rc, rc->r.hidden, op, dst, &a, al, be);
}

static void ew2(RnnCx *rc, OpKind op, Opnd dst, Opnd a, Opnd b)
{
	Opnd v[2] = {a, b};

	gate_apply(rc, rc->r.hidden, op, dst, v, 0, 0);
}

static void clip(RnnCx *rc, Opnd dst, Opnd src, double lo, double hi)
{
	Opnd v[3] = {src, lit(lo), lit(hi)};

	gate_apply(rc, rc->r.hidden, OP_Clip, dst, v, 0, 0);
}

/* dst = act(src); the gate input is clipped first when with_clip. */
static void activation(RnnCx *rc, const Act *a, Opnd dst, Opnd src, bool with_clip)
{
	Opnd t = col(rc->tmp, 0);

	if (with_clip && rc->r.has_clip) {
		clip(rc, dst, src, -rc->r.clip, rc->r.clip);
		src = dst;
	}
	switch (a->kind) {
	case ACT_SIGMOID: ew1(rc, OP_Sigmoid, dst, src); return;
	case ACT_TANH: ew1(rc, OP_Tanh, dst, src); return;
	case ACT_RELU: ew1(rc, OP_Relu, dst, src); return;
	case ACT_SOFTSIGN: ew1(rc, OP_Softsign, dst, src); return;
	case ACT_SOFTPLUS: ew1(rc, OP_Softplus, dst, src); return;
	case ACT_HARD_SIGMOID:
		gate_apply(rc, rc->r.hidden, OP_HardSigmoid, dst, &src, a->alpha, a->beta);
		return;
	case ACT_LEAKY_RELU:
		gate_apply(rc, rc->r.hidden, OP_LeakyRelu, dst, &src, a->alpha, 0);
		return;
	case ACT_ELU:
		gate_apply(rc, rc->r.hidden, OP_Elu, dst, &src, a->alpha, 0);
		return;
	case ACT_THRESHOLDED_RELU:
		ew2(rc, OP_Sub, t, src, lit(a->alpha));
		ew1(rc, OP_Ceil, t, t);
		clip(rc, t, t, 0, 1);
		ew2(rc, OP_Mul, dst, src, t);
		return;
	case ACT_SCALED_TANH:
		ew2(rc, OP_Mul, dst, src, lit(a->beta));
		ew1(rc, OP_Tanh, dst, dst);
		ew2(rc, OP_Mul, dst, dst, lit(a->alpha));
		return;
	case ACT_AFFINE:
		ew2(rc, OP_Mul, dst, src, lit(a->alpha));
		ew2(rc, OP_Add, dst, dst, lit(a->beta));
		return;
	case ACT_COUNT:
		break;
	}
	nnac_unreachable();
}

/* X[t', b, i] in either layout. */
static LoopArg x_ref(RnnCx *rc, int bv, int iv)
{
	int idx[3];

	idx[0] = rc->r.batch_major ? bv : rc->tidx;
	idx[1] = rc->r.batch_major ? rc->tidx : bv;
	idx[2] = iv;
	return lower_ref(rc->cx, rc->in[IN_X], idx);
}

/*
 * acc[b, g] = bias[d, boff + g] (or 0) + sum_k M[d, row0 + g, k] * src[b, k]
 * for g in 0..rows: src is X (src_buf < 0, k over the input size) or a
 * [batch][hidden] temporary.
 */
static void project(RnnCx *rc, int acc, int64_t rows, int mat, int64_t row0, int src_buf,
                    int64_t boff)
{
	LowerCx *cx = rc->cx;
	int64_t cols = src_buf < 0 ? rc->r.input : rc->r.hidden;
	int bv, gv, kv, in, idx[3], bias = rc->in[IN_B];
	LoopArg args[3];
	Opnd one = bias >= 0 ? par(bias, boff) : lit(0.0);

	gate_apply(rc, rows, OP_Cast, col(acc, row0), &one, 0, 0);
	in = bj_nest(rc, rows, &bv, &gv);
	in = lower_loop(cx, in, "k", 0, cols, &kv);
	idx[0] = bv;
	idx[1] = loop_add_const(cx->p, gv, row0);
	args[0] = lower_ref(cx, acc, idx);
	idx[0] = loop_const(cx->p, rc->d);
	idx[1] = loop_add_const(cx->p, gv, row0);
	idx[2] = kv;
	args[1] = lower_ref(cx, mat, idx);
	if (src_buf < 0) {
		args[2] = x_ref(rc, bv, kv);
	} else {
		idx[0] = bv;
		idx[1] = kv;
		args[2] = lower_ref(cx, src_buf, idx);
	}
	lower_emit(cx, in, LN_MAC, 3, args);
}

/*
 * The cells.
 */

/* RNN: H = f(XW + HR). */
static void rnn_cell(RnnCx *rc)
{
	Opnd xw = col(rc->xw, 0);

	ew2(rc, OP_Add, xw, xw, col(rc->hr, 0));
	activation(rc, &rc->r.act[rc->d][0], col(rc->h, 0), xw, true);
}

/*
 * GRU: z = f(XW_z + HR_z), r = f(XW_r + HR_r),
 *      n = g(XW_h + R_h (r . H) + Rb_h)      linear_before_reset = 0
 *      n = g(XW_h + r . (R_h H + Rb_h))      linear_before_reset = 1
 *      H = (1 - z) . n + z . H, computed as n + z . (H - n).
 */
static void gru_cell(RnnCx *rc)
{
	int64_t hs = rc->r.hidden;
	const Act *a = rc->r.act[rc->d];
	Opnd z = col(rc->xw, 0), r = col(rc->xw, hs), nh = col(rc->xw, 2 * hs);
	Opnd h = col(rc->h, 0), t = col(rc->tmp, 0);

	ew2(rc, OP_Add, z, z, col(rc->hr, 0));
	activation(rc, &a[0], z, z, true);
	ew2(rc, OP_Add, r, r, col(rc->hr, hs));
	activation(rc, &a[0], r, r, true);
	if (rc->r.linear_before_reset) {
		ew2(rc, OP_Mul, t, r, col(rc->hr, 2 * hs));
	} else {
		ew2(rc, OP_Mul, col(rc->rh, 0), r, h);
		project(rc, rc->hr, hs, rc->in[IN_R], 2 * hs, rc->rh, 5 * hs);
		t = col(rc->hr, 2 * hs);
	}
	ew2(rc, OP_Add, nh, nh, t);
	activation(rc, &a[1], nh, nh, true);
	ew2(rc, OP_Sub, h, h, nh);
	ew2(rc, OP_Mul, h, h, z);
	ew2(rc, OP_Add, h, h, nh);
}

/* A peephole term: gate += P[d, off + j] * C. */
static void peephole(RnnCx *rc, Opnd gate, int64_t off)
{
	if (rc->in[IN_P] < 0)
		return;
	ew2(rc, OP_Mul, col(rc->tmp, 0), par(rc->in[IN_P], off), col(rc->c, 0));
	ew2(rc, OP_Add, gate, gate, col(rc->tmp, 0));
}

/*
 * LSTM: i = f(..i + Pi . C), f = f(..f + Pf . C) (1 - i with
 * input_forget), C = f . C + i . g(..c), o = f(..o + Po . C), H = o . h(C).
 */
static void lstm_cell(RnnCx *rc)
{
	int64_t hs = rc->r.hidden;
	const Act *a = rc->r.act[rc->d];
	Opnd i = col(rc->xw, 0), o = col(rc->xw, hs), f = col(rc->xw, 2 * hs);
	Opnd g = col(rc->xw, 3 * hs), c = col(rc->c, 0), t = col(rc->tmp, 0);

	for (int k = 0; k < 4; k++)
		ew2(rc, OP_Add, col(rc->xw, k * hs), col(rc->xw, k * hs), col(rc->hr, k * hs));
	peephole(rc, i, 0);
	activation(rc, &a[0], i, i, true);
	if (rc->r.input_forget) {
		ew2(rc, OP_Sub, f, lit(1.0), i);
	} else {
		peephole(rc, f, 2 * hs);
		activation(rc, &a[0], f, f, true);
	}
	activation(rc, &a[1], g, g, true);
	ew2(rc, OP_Mul, c, c, f);
	ew2(rc, OP_Mul, t, i, g);
	ew2(rc, OP_Add, c, c, t);
	peephole(rc, o, hs);
	activation(rc, &a[0], o, o, true);
	activation(rc, &a[2], g, c, false);
	ew2(rc, OP_Mul, col(rc->h, 0), o, g);
}

/*
 * Outputs and state.
 */

/* The [ndir][batch][hidden] state layout of initial_h, Y_h ... (batch
 * first with layout 1). */
static LoopArg state_ref(RnnCx *rc, int buf, int bv, int jv)
{
	int idx[3];

	idx[0] = rc->r.batch_major ? bv : loop_const(rc->cx->p, rc->d);
	idx[1] = rc->r.batch_major ? loop_const(rc->cx->p, rc->d) : bv;
	idx[2] = jv;
	return lower_ref(rc->cx, buf, idx);
}

/* Y[t', d, b, j] (or [b, t', d, j]) at time expression te. */
static LoopArg y_ref(RnnCx *rc, int te, int bv, int jv)
{
	int idx[4], dc = loop_const(rc->cx->p, rc->d);

	idx[0] = rc->r.batch_major ? bv : te;
	idx[1] = rc->r.batch_major ? te : dc;
	idx[2] = rc->r.batch_major ? dc : bv;
	idx[3] = jv;
	return lower_ref(rc->cx, rc->out[OUT_Y], idx);
}

static void cast_stmt(RnnCx *rc, int parent, LoopArg dst, LoopArg src)
{
	lower_apply(rc->cx, parent, OP_Cast, 2, (LoopArg[]){dst, src});
}

/* State temporary st from initial state buffer init (or zero). */
static void init_state(RnnCx *rc, int st, int init)
{
	int bv, jv, in = bj_nest(rc, rc->r.hidden, &bv, &jv);
	LoopArg s = opnd_ref(rc, col(st, 0), bv, jv);

	if (init >= 0)
		cast_stmt(rc, in, s, state_ref(rc, init, bv, jv));
	else
		lower_emit2(rc->cx, in, LN_FILL, s, loop_lit_float(0.0));
}

/* Final state st into output out ([ndir][batch][hidden] layout). */
static void store_state(RnnCx *rc, int out, int st)
{
	int bv, jv, in;

	if (out < 0)
		return;
	in = bj_nest(rc, rc->r.hidden, &bv, &jv);
	cast_stmt(rc, in, state_ref(rc, out, bv, jv), opnd_ref(rc, col(st, 0), bv, jv));
}

/* Y rows at times len .. seq-1 of the batch run stay zero. */
static void zero_tail(RnnCx *rc)
{
	int tv, bv, jv, in;

	if (rc->out[OUT_Y] < 0 || rc->len >= rc->r.seq)
		return;
	rc->parent = lower_loop(rc->cx, -1, "t", rc->len, rc->r.seq - rc->len, &tv);
	in = bj_nest(rc, rc->r.hidden, &bv, &jv);
	lower_emit2(rc->cx, in, LN_FILL, y_ref(rc, tv, bv, jv), loop_lit_float(0.0));
	rc->parent = -1;
}

/* Rows of R H projected up front: all gates, except GRU's h gate before
 * the reset when linear_before_reset is 0 (projected from r . H). */
static int64_t hr_rows(const RnnCx *rc)
{
	int64_t gh = rc->r.gates * rc->r.hidden;

	return rc->n->op == OP_GRU && !rc->r.linear_before_reset ? 2 * rc->r.hidden : gh;
}

/* The time loop of direction rc->d over batch rows [b0, b1). */
static void time_loop(RnnCx *rc)
{
	LowerCx *cx = rc->cx;
	int64_t gh = rc->r.gates * rc->r.hidden;
	bool backwards = rc->r.reverse || rc->d == 1;
	int tv, bv, jv, in;

	rc->parent = lower_loop(cx, -1, "t", 0, rc->len, &tv);
	rc->tidx = backwards ? loop_add_const(cx->p, loop_mul(cx->p, -1, tv), rc->len - 1) : tv;
	project(rc, rc->xw, gh, rc->in[IN_W], 0, -1, 0);
	project(rc, rc->hr, hr_rows(rc), rc->in[IN_R], 0, rc->h, gh);
	if (rc->n->op == OP_RNN)
		rnn_cell(rc);
	else if (rc->n->op == OP_GRU)
		gru_cell(rc);
	else
		lstm_cell(rc);
	if (rc->out[OUT_Y] >= 0) {
		in = bj_nest(rc, rc->r.hidden, &bv, &jv);
		cast_stmt(rc, in, y_ref(rc, rc->tidx, bv, jv), opnd_ref(rc, col(rc->h, 0), bv, jv));
	}
	rc->parent = -1;
}

/* Sequence lengths: constant, or every row the whole sequence. */
static Status seq_lens(RnnCx *rc, int64_t **lens)
{
	LowerCx *cx = rc->cx;
	const Tensor *t = node_in(cx->g, rc->n, IN_SEQ);

	*lens = arena_alloc(&cx->p->arena, (size_t)(rc->r.batch + 1) * sizeof(int64_t));
	if (!*lens)
		return diag_add(cx->p->diag, ST_NOMEM, "%s: out of memory", cx->p->path);
	if (t && !t->v.data)
		return node_error(cx->g, rc->n, ST_UNSUPPORTED, "sequence_lens '%s' is computed at run "
		                  "time; the loop IR needs constant loop bounds", t->name);
	for (int64_t b = 0; b < rc->r.batch; b++)
		(*lens)[b] = t ? val_get_i64(&t->v, b) : rc->r.seq;
	return ST_OK;
}

static int state_temp(RnnCx *rc, const char *name, int64_t width)
{
	int64_t dims[2] = {rc->r.batch, width};

	return lower_temp(rc->cx, name, DT_F64, 2, dims);
}

/* Direction d over the batch rows [b0, b1) of sequence length len. */
static void lower_run(RnnCx *rc)
{
	bool lstm = rc->n->op == OP_LSTM;

	zero_tail(rc);
	init_state(rc, rc->h, rc->in[IN_H0]);
	if (lstm)
		init_state(rc, rc->c, rc->in[IN_C0]);
	if (rc->len > 0)
		time_loop(rc);
	store_state(rc, rc->out[OUT_H], rc->h);
	if (lstm)
		store_state(rc, rc->out[OUT_C], rc->c);
}

Status lower_rnn(LowerCx *cx, const Node *n)
{
	RnnCx rc;
	int64_t *lens, gh;

	memset(&rc, 0, sizeof(rc));
	rc.cx = cx;
	rc.n = n;
	rc.parent = -1;
	TRY(describe(cx, n, &rc.r));
	for (int i = 0; i < IN_MAX; i++)
		rc.in[i] = i < n->nin ? lower_buf(cx, n->in[i]) : -1;
	for (int i = 0; i < OUT_MAX; i++)
		rc.out[i] = lower_out(cx, n, i);
	TRY(seq_lens(&rc, &lens));
	if (rc.r.batch == 0 || rc.r.hidden == 0)
		return ST_OK;
	gh = rc.r.gates * rc.r.hidden;
	rc.h = state_temp(&rc, "rnn_h", rc.r.hidden);
	rc.c = n->op == OP_LSTM ? state_temp(&rc, "rnn_c", rc.r.hidden) : -1;
	rc.xw = state_temp(&rc, "rnn_xw", gh);
	rc.hr = state_temp(&rc, "rnn_hr", gh);
	rc.rh = n->op == OP_GRU ? state_temp(&rc, "rnn_rh", rc.r.hidden) : -1;
	rc.tmp = state_temp(&rc, "rnn_tmp", rc.r.hidden);
	for (rc.d = 0; rc.d < rc.r.ndir; rc.d++) {
		for (rc.b0 = 0; rc.b0 < rc.r.batch; rc.b0 = rc.b1) {
			rc.len = lens[rc.b0];
			for (rc.b1 = rc.b0 + 1; rc.b1 < rc.r.batch && lens[rc.b1] == rc.len;)
				rc.b1++;
			lower_run(&rc);
		}
	}
	return loop_oom(cx->p);
}
