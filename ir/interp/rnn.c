/*
 * Reference kernels for the recurrent ops RNN, GRU and LSTM.
 *
 * The three share one description (Rnn: sizes, direction, layout, clip and
 * the activation list), one validator and one sequence driver; they differ
 * only in the cell step that maps (x_t, H_{t-1}, C_{t-1}) to (H_t, C_t).
 * A cell step first forms the two projections
 *     xw = W x_t + Wb      hr = R H_{t-1} + Rb      ([G*hidden] each)
 * and then combines them gate by gate as the ONNX specification writes.
 * Gate order and layouts: rnn.h.
 *
 * Batch rows are independent, so the driver runs each (direction, batch
 * row) pair over its own sequence length: forward directions walk t = 0 ..
 * len-1, reverse ones len-1 .. 0.  Y rows past a row's length stay zero and
 * Y_h / Y_c hold the state after the row's last step.  Everything is
 * computed in double.
 */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "rnn.h"

/*
 * Which activations read alpha / beta, and their defaults: those of the
 * ONNX operators of the same name (Affine's from the experimental op).
 * ScaledTanh's op had no defaults; 1, 1 makes it plain tanh.
 */
static const struct {
	const char *name;
	bool has_alpha, has_beta;
	double alpha, beta;
} act_info[] = {
	[ACT_SIGMOID] = {"Sigmoid", false, false, 0, 0},
	[ACT_TANH] = {"Tanh", false, false, 0, 0},
	[ACT_RELU] = {"Relu", false, false, 0, 0},
	[ACT_HARD_SIGMOID] = {"HardSigmoid", true, true, 0.2, 0.5},
	[ACT_LEAKY_RELU] = {"LeakyRelu", true, false, 0.01, 0},
	[ACT_THRESHOLDED_RELU] = {"ThresholdedRelu", true, false, 1.0, 0},
	[ACT_SCALED_TANH] = {"ScaledTanh", true, true, 1.0, 1.0},
	[ACT_AFFINE] = {"Affine", true, true, 1.0, 0.0},
	[ACT_ELU] = {"Elu", true, false, 1.0, 0},
	[ACT_SOFTSIGN] = {"Softsign", false, false, 0, 0},
	[ACT_SOFTPLUS] = {"Softplus", false, false, 0, 0},
};
_Static_assert(ARRAY_LEN(act_info) == ACT_COUNT, "activation table");

typedef struct DirParams DirParams;

/* One time step of one batch row: updates h (and c) in place. */
typedef void (*CellFn)(const Rnn *r, const DirParams *dp, const double *x, double *h,
                       double *c, double *work);

typedef struct CellDesc {
	int gates;                    /* G: W has G*hidden rows */
	int nact;                     /* activations per direction */
	ActKind defaults[MAX_ACTS];
	CellFn step;
} CellDesc;

/* The weights of one direction, all in double. */
struct DirParams {
	const double *w;     /* [G*hidden][input] */
	const double *r;     /* [G*hidden][hidden] */
	const double *wb;    /* [G*hidden] */
	const double *rb;    /* [G*hidden] */
	const double *p;     /* [3*hidden] peepholes i o f, or NULL */
	const Act *act;      /* [nact] */
};

static double act_eval(const Act *a, double x)
{
	switch (a->kind) {
	case ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
	case ACT_TANH: return tanh(x);
	case ACT_RELU: return x > 0 ? x : 0;
	case ACT_HARD_SIGMOID: return fmax(0.0, fmin(1.0, a->alpha * x + a->beta));
	case ACT_LEAKY_RELU: return x < 0 ? a->alpha * x : x;
	case ACT_THRESHOLDED_RELU: return x > a->alpha ? x : 0;
	case ACT_SCALED_TANH: return a->alpha * tanh(a->beta * x);
	case ACT_AFFINE: return a->alpha * x + a->beta;
	case ACT_ELU: return x < 0 ? a->alpha * (exp(x) - 1.0) : x;
	case ACT_SOFTSIGN: return x / (1.0 + fabs(x));
	case ACT_SOFTPLUS: return x > 30 ? x + log1p(exp(-x)) : log1p(exp(x));
	case ACT_COUNT: break;
	}
	nnac_unreachable();
}

/* A gate activation: its input is clipped first when `clip` is set. */
static double act_apply(const Rnn *r, const Act *a, double x)
{
	if (r->has_clip)
		x = x < -r->clip ? -r->clip : x > r->clip ? r->clip : x;
	return act_eval(a, x);
}

/* out[j] = bias[j] + sum_k m[j][k] * v[k] for j < rows; bias may be NULL. */
static void matvec(double *out, const double *m, const double *bias, const double *v,
                   int64_t rows, int64_t cols)
{
	for (int64_t j = 0; j < rows; j++) {
		double acc = bias ? bias[j] : 0;

		for (int64_t k = 0; k < cols; k++)
			acc += m[j * cols + k] * v[k];
		out[j] = acc;
	}
}

/* xw = W x + Wb and hr = R h + Rb over all G gates; work holds both. */
static void project(const Rnn *r, const DirParams *dp, const double *x, const double *h,
                    double *xw, double *hr)
{
	int64_t rows = r->gates * r->hidden;

	matvec(xw, dp->w, dp->wb, x, rows, r->input);
	matvec(hr, dp->r, dp->rb, h, rows, r->hidden);
}

/* RNN:  H = f(W x + R H + Wb + Rb) */
static void rnn_step(const Rnn *r, const DirParams *dp, const double *x, double *h,
                     double *c, double *work)
{
	int64_t hs = r->hidden;
	double *xw = work, *hr = work + hs;

	(void)c;
	project(r, dp, x, h, xw, hr);
	for (int64_t j = 0; j < hs; j++)
		h[j] = act_apply(r, &dp->act[0], xw[j] + hr[j]);
}

/*
 * GRU:  z = f(..z), r = f(..r),
 *       n = g(W_h x + R_h (r . H) + Rb_h + Wb_h)      linear_before_reset=0
 *       n = g(W_h x + r . (R_h H + Rb_h) + Wb_h)      linear_before_reset=1
 *       H = (1 - z) . n + z . H
 */
static void gru_step(const Rnn *r, const DirParams *dp, const double *x, double *h,
                     double *c, double *work)
{
	int64_t hs = r->hidden;
	double *xw = work, *hr = work + 3 * hs, *z = work + 6 * hs, *rg = work + 7 * hs;
	double *rh = work + 8 * hs;

	(void)c;
	project(r, dp, x, h, xw, hr);
	for (int64_t j = 0; j < hs; j++) {
		z[j] = act_apply(r, &dp->act[0], xw[j] + hr[j]);
		rg[j] = act_apply(r, &dp->act[0], xw[hs + j] + hr[hs + j]);
		rh[j] = rg[j] * h[j];
	}
	if (!r->linear_before_reset)
		matvec(hr + 2 * hs, dp->r + 2 * hs * hs, dp->rb ? dp->rb + 2 * hs : NULL, rh, hs, hs);
	for (int64_t j = 0; j < hs; j++) {
		double gate = r->linear_before_reset ? rg[j] * hr[2 * hs + j] : hr[2 * hs + j];
		double nv = act_apply(r, &dp->act[1], xw[2 * hs + j] + gate);

		h[j] = (1.0 - z[j]) * nv + z[j] * h[j];
	}
}

/*
 * LSTM:  i = f(..i + Pi . C),  f = f(..f + Pf . C)  (1 - i with input_forget),
 *        C' = f . C + i . g(..c),  o = f(..o + Po . C'),  H = o . h(C')
 * `clip` bounds the gate inputs but not the cell state fed to h, as
 * onnxruntime does (the spec's "cell clip" is ambiguous there).
 */
static void lstm_step(const Rnn *r, const DirParams *dp, const double *x, double *h,
                      double *c, double *work)
{
	int64_t hs = r->hidden;
	double *xw = work, *hr = work + 4 * hs;
	const double *p = dp->p;

	project(r, dp, x, h, xw, hr);
	for (int64_t j = 0; j < hs; j++) {
		double pi = p ? p[j] * c[j] : 0, pf = p ? p[2 * hs + j] * c[j] : 0;
		double ig = act_apply(r, &dp->act[0], xw[j] + hr[j] + pi);
		double fg = r->input_forget ? 1.0 - ig
		          : act_apply(r, &dp->act[0], xw[2 * hs + j] + hr[2 * hs + j] + pf);
		double cand = act_apply(r, &dp->act[1], xw[3 * hs + j] + hr[3 * hs + j]);
		double og;

		c[j] = fg * c[j] + ig * cand;
		og = act_apply(r, &dp->act[0],
		               xw[hs + j] + hr[hs + j] + (p ? p[hs + j] * c[j] : 0));
		h[j] = og * act_eval(&dp->act[2], c[j]);
	}
}

static const CellDesc cell_rnn = {1, 1, {ACT_TANH}, rnn_step};
static const CellDesc cell_gru = {3, 2, {ACT_SIGMOID, ACT_TANH}, gru_step};
static const CellDesc cell_lstm = {4, 3, {ACT_SIGMOID, ACT_TANH, ACT_TANH}, lstm_step};

/* Scratch doubles a cell step needs (gru_step uses the most: 9 hidden). */
static int64_t cell_work(const Rnn *r)
{
	return (2 * r->gates + 3) * r->hidden;
}

static const CellDesc *cell_of(OpKind op)
{
	return op == OP_RNN ? &cell_rnn : op == OP_GRU ? &cell_gru : &cell_lstm;
}

/*
 * Attributes.
 */

static bool name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
	return *a == *b;
}

static bool act_lookup(const char *name, ActKind *kind)
{
	for (int k = 0; k < ACT_COUNT; k++) {
		if (name_eq(name, act_info[k].name)) {
			*kind = (ActKind)k;
			return true;
		}
	}
	return false;
}

/* Cursor over activation_alpha / activation_beta: each activation that
 * takes a parameter consumes the next one, or gets its default. */
typedef struct ParamList {
	const double *v;
	int n, next;
} ParamList;

static double param_next(ParamList *pl, bool takes, double def)
{
	if (!takes)
		return 0;
	return pl->next < pl->n ? pl->v[pl->next++] : def;
}

static void act_defaults(Rnn *r, const CellDesc *cell)
{
	for (int d = 0; d < 2; d++) {
		for (int k = 0; k < r->nact; k++) {
			ActKind a = cell->defaults[k];
			r->act[d][k] = (Act){a, act_info[a].alpha, act_info[a].beta};
		}
	}
}

/*
 * The activations list holds nact names per direction.  A bidirectional
 * node that lists only one direction's worth uses it for both.
 */
static Status parse_acts(Graph *g, const Node *n, Rnn *r)
{
	const Attr *names = attr_find(n, "activations");
	int nact = r->nact, count = names ? names->n : 0;
	ParamList al = {0}, be = {0};
	Act list[2 * MAX_ACTS];

	act_defaults(r, cell_of(n->op));
	if (count == 0)
		return ST_OK;
	if (names->kind != ATTR_STRINGS || (count != nact * r->ndir && count != nact))
		return node_error(g, n, ST_INVALID, "expected %d activations, got %d",
		                  nact * r->ndir, count);
	al.v = attr_floats(n, "activation_alpha", &al.n);
	be.v = attr_floats(n, "activation_beta", &be.n);
	for (int i = 0; i < count; i++) {
		ActKind k;

		if (!act_lookup(names->strings[i], &k))
			return node_error(g, n, ST_INVALID, "unknown activation '%s'",
			                  names->strings[i]);
		list[i].kind = k;
		list[i].alpha = param_next(&al, act_info[k].has_alpha, act_info[k].alpha);
		list[i].beta = param_next(&be, act_info[k].has_beta, act_info[k].beta);
	}
	for (int d = 0; d < r->ndir; d++)
		for (int k = 0; k < nact; k++)
			r->act[d][k] = list[(d * nact + k) % count];
	return ST_OK;
}

static Status parse_direction(Graph *g, const Node *n, Rnn *r)
{
	const char *dir = attr_s(n, "direction", "forward");

	r->ndir = 1;
	r->reverse = false;
	if (strcmp(dir, "reverse") == 0)
		r->reverse = true;
	else if (strcmp(dir, "bidirectional") == 0)
		r->ndir = 2;
	else if (strcmp(dir, "forward") != 0)
		return node_error(g, n, ST_INVALID, "direction '%s' is not forward, reverse "
		                  "or bidirectional", dir);
	return ST_OK;
}

static Status parse_attrs(Graph *g, const Node *n, Rnn *r)
{
	int64_t layout = attr_i(n, "layout", 0);
	Status st = parse_direction(g, n, r);

	if (st != ST_OK)
		return st;
	if (layout != 0 && layout != 1)
		return node_error(g, n, ST_INVALID, "layout %lld is not 0 or 1", (long long)layout);
	r->batch_major = layout == 1;
	r->has_clip = attr_find(n, "clip") != NULL;
	r->clip = attr_f(n, "clip", 0);
	if (r->has_clip && !(r->clip > 0))
		return node_error(g, n, ST_INVALID, "clip %g is not positive", r->clip);
	r->linear_before_reset = attr_i(n, "linear_before_reset", 0) != 0;
	r->input_forget = attr_i(n, "input_forget", 0) != 0;
	return parse_acts(g, n, r);
}

/*
 * Shapes.
 */

static bool dim_eq(int64_t a, int64_t b)
{
	return a < 0 || b < 0 || a == b;
}

static const char *in_name(int i)
{
	static const char *names[IN_MAX] = {
		"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"
	};
	return names[i];
}

/* Input i must be absent or have exactly the given dims (rank = count). */
static Status check_shape(Graph *g, const Node *n, const Value *v, int i, int rank,
                          const int64_t *want)
{
	bool ok = v == NULL || v->rank == rank;

	for (int d = 0; ok && v && d < rank; d++)
		ok = dim_eq(v->dims[d], want[d]);
	if (ok)
		return ST_OK;
	if (rank == 1)
		return node_error(g, n, ST_INVALID, "input '%s' must have shape [%lld]",
		                  in_name(i), (long long)want[0]);
	if (rank == 2)
		return node_error(g, n, ST_INVALID, "input '%s' must have shape [%lld,%lld]",
		                  in_name(i), (long long)want[0], (long long)want[1]);
	return node_error(g, n, ST_INVALID, "input '%s' must have shape [%lld,%lld,%lld]",
	                  in_name(i), (long long)want[0], (long long)want[1], (long long)want[2]);
}

/* The [ndir, batch, hidden] state shape in the node's layout. */
static void state_dims(const Rnn *r, int64_t *dims)
{
	dims[0] = r->batch_major ? r->batch : r->ndir;
	dims[1] = r->batch_major ? r->ndir : r->batch;
	dims[2] = r->hidden;
}

/* Sizes from X, W and R: X fixes seq, batch, input; R fixes hidden. */
static Status parse_sizes(Graph *g, const Node *n, const Value *const *v, Rnn *r)
{
	const Value *x = v[IN_X], *w = v[IN_W], *rw = v[IN_R];
	int64_t hs;

	if (x->rank != 3 || w->rank != 3 || rw->rank != 3)
		return node_error(g, n, ST_INVALID, "X, W and R must have rank 3");
	hs = attr_i(n, "hidden_size", rw->dims[2]);
	if (attr_find(n, "hidden_size") && hs <= 0)
		return node_error(g, n, ST_INVALID, "hidden_size %lld is not positive",
		                  (long long)hs);
	if (hs < 0)
		return node_error(g, n, ST_UNSUPPORTED, "hidden_size is unknown");
	r->seq = x->dims[r->batch_major ? 1 : 0];
	r->batch = x->dims[r->batch_major ? 0 : 1];
	r->input = x->dims[2];
	r->hidden = hs;
	return ST_OK;
}

static Status check_shapes(Graph *g, const Node *n, const Value *const *v, const Rnn *r)
{
	int64_t gh = r->gates * r->hidden, nd = r->ndir;
	int64_t wd[3] = {nd, gh, r->input}, rd[3] = {nd, gh, r->hidden};
	int64_t bd[2] = {nd, 2 * gh}, pd[2] = {nd, 3 * r->hidden}, sd[3];
	Status st;

	state_dims(r, sd);
	st = check_shape(g, n, v[IN_W], IN_W, 3, wd);
	if (st == ST_OK)
		st = check_shape(g, n, v[IN_R], IN_R, 3, rd);
	if (st == ST_OK)
		st = check_shape(g, n, v[IN_B], IN_B, 2, bd);
	if (st == ST_OK)
		st = check_shape(g, n, v[IN_SEQ], IN_SEQ, 1, &r->batch);
	if (st == ST_OK)
		st = check_shape(g, n, v[IN_H0], IN_H0, 3, sd);
	if (st == ST_OK)
		st = check_shape(g, n, v[IN_C0], IN_C0, 3, sd);
	if (st == ST_OK)
		st = check_shape(g, n, v[IN_P], IN_P, 2, pd);
	return st;
}

Status rnn_parse(Graph *g, const Node *n, const Value *const *v, Rnn *r)
{
	Status st;

	memset(r, 0, sizeof *r);
	r->gates = cell_of(n->op)->gates;
	r->nact = cell_of(n->op)->nact;
	st = parse_attrs(g, n, r);
	if (st == ST_OK)
		st = parse_sizes(g, n, v, r);
	if (st == ST_OK)
		st = check_shapes(g, n, v, r);
	return st;
}

/*
 * Shape inference.
 */

static Status check_dtypes(Graph *g, const Node *n, const Value *const *v)
{
	for (int i = 0; i < IN_MAX; i++) {
		Status st;

		if (!v[i])
			continue;
		st = infer_dtype(g, n, i, i == IN_SEQ ? DTM(I32) | DTM(I64) : DTM_FLOAT);
		if (st != ST_OK)
			return st;
		if (i != IN_SEQ && v[i]->dt != v[IN_X]->dt)
			return node_error(g, n, ST_INVALID, "input '%s' is %s but X is %s",
			                  in_name(i), dtype_name(v[i]->dt), dtype_name(v[IN_X]->dt));
	}
	return ST_OK;
}

static Status rnn_infer(Graph *g, Node *n)
{
	const Value *v[IN_MAX] = {0};
	int max_in = n->op == OP_LSTM ? 8 : 6;
	int64_t yd[4], sd[3];
	Rnn r;
	Status st = infer_nin(g, n, 3, max_in);

	if (st != ST_OK)
		return st;
	for (int i = 0; i < n->nin && i < max_in; i++) {
		Tensor *t = node_in(g, n, i);
		v[i] = t ? &t->v : NULL;
	}
	st = check_dtypes(g, n, v);
	if (st == ST_OK)
		st = rnn_parse(g, n, v, &r);
	if (st != ST_OK)
		return st;
	state_dims(&r, sd);
	yd[0] = r.batch_major ? r.batch : r.seq;
	yd[1] = r.batch_major ? r.seq : r.ndir;
	yd[2] = r.batch_major ? r.ndir : r.batch;
	yd[3] = r.hidden;
	for (int i = OUT_Y; i < n->nout && i < OUT_H; i++)
		infer_out(g, n, i, v[IN_X]->dt, 4, yd);
	for (int i = OUT_H; i < n->nout; i++)
		infer_out(g, n, i, v[IN_X]->dt, 3, sd);
	return ST_OK;
}

/*
 * Evaluation: the sequence driver.
 */

typedef struct RnnData {
	const double *x, *w, *r, *b, *h0, *c0, *p;   /* b, h0, c0, p: NULL if absent */
	const int64_t *lens;                         /* NULL: every row is seq long */
	CellFn step;
	double *y, *yh, *yc;
} RnnData;

static int64_t x_offset(const Rnn *r, int64_t t, int64_t b)
{
	return (r->batch_major ? b * r->seq + t : t * r->batch + b) * r->input;
}

static int64_t y_offset(const Rnn *r, int64_t t, int d, int64_t b)
{
	if (r->batch_major)
		return ((b * r->seq + t) * r->ndir + d) * r->hidden;
	return ((t * r->ndir + d) * r->batch + b) * r->hidden;
}

static int64_t state_offset(const Rnn *r, int d, int64_t b)
{
	return (r->batch_major ? b * r->ndir + d : d * r->batch + b) * r->hidden;
}

static DirParams dir_params(const Rnn *r, const RnnData *in, int d)
{
	int64_t gh = r->gates * r->hidden;
	DirParams dp = {
		.w = in->w + d * gh * r->input,
		.r = in->r + d * gh * r->hidden,
		.wb = in->b ? in->b + d * 2 * gh : NULL,
		.rb = in->b ? in->b + d * 2 * gh + gh : NULL,
		.p = in->p ? in->p + d * 3 * r->hidden : NULL,
		.act = r->act[d],
	};
	return dp;
}

static void load_state(const Rnn *r, const double *init, int d, int64_t b, double *s)
{
	if (init)
		memcpy(s, init + state_offset(r, d, b), (size_t)r->hidden * sizeof *s);
	else
		memset(s, 0, (size_t)r->hidden * sizeof *s);
}

/* Runs direction d of batch row b over its sequence. */
static void run_row(const Rnn *r, const RnnData *io, int d, int64_t b, double *h, double *c,
                    double *work)
{
	DirParams dp = dir_params(r, io, d);
	bool backwards = r->reverse || d == 1;
	int64_t len = io->lens ? io->lens[b] : r->seq;
	size_t hbytes = (size_t)r->hidden * sizeof *h;

	load_state(r, io->h0, d, b, h);
	load_state(r, io->c0, d, b, c);
	for (int64_t s = 0; s < len; s++) {
		int64_t t = backwards ? len - 1 - s : s;

		io->step(r, &dp, io->x + x_offset(r, t, b), h, c, work);
		memcpy(io->y + y_offset(r, t, d, b), h, hbytes);
	}
	memcpy(io->yh + state_offset(r, d, b), h, hbytes);
	memcpy(io->yc + state_offset(r, d, b), c, hbytes);
}

static const Value *opt(const Node *n, const Value *const *in, int i)
{
	return i < n->nin ? in[i] : NULL;
}

static double *to_f64(EvalCtx *cx, const Value *v)
{
	return v ? val_to_f64(cx->scratch, v) : NULL;
}

static bool load_inputs(EvalCtx *cx, const Node *n, const Value *const *in, RnnData *io)
{
	const Value *b = opt(n, in, IN_B), *h0 = opt(n, in, IN_H0);
	const Value *c0 = opt(n, in, IN_C0), *p = opt(n, in, IN_P);

	io->x = to_f64(cx, in[IN_X]);
	io->w = to_f64(cx, in[IN_W]);
	io->r = to_f64(cx, in[IN_R]);
	io->b = to_f64(cx, b);
	io->h0 = to_f64(cx, h0);
	io->c0 = to_f64(cx, c0);
	io->p = to_f64(cx, p);
	return io->x && io->w && io->r && (io->b || !b) && (io->h0 || !h0)
	    && (io->c0 || !c0) && (io->p || !p);
}

static Status load_lens(EvalCtx *cx, const Node *n, const Value *lens, const Rnn *r,
                        RnnData *io)
{
	int64_t *v;

	io->lens = NULL;
	if (!lens)
		return ST_OK;
	v = val_to_i64(cx->scratch, lens);
	if (!v)
		return eval_oom(cx, n);
	for (int64_t b = 0; b < r->batch; b++)
		if (v[b] < 0 || v[b] > r->seq)
			return node_error(cx->g, n, ST_INVALID,
			                  "sequence_lens[%lld] = %lld is outside [0, %lld]",
			                  (long long)b, (long long)v[b], (long long)r->seq);
	io->lens = v;
	return ST_OK;
}

static void *scratch_doubles(EvalCtx *cx, int64_t count)
{
	return arena_alloc(cx->scratch, (size_t)(count > 0 ? count : 1) * sizeof(double));
}

static bool alloc_outputs(EvalCtx *cx, const Rnn *r, RnnData *io)
{
	int64_t states = r->ndir * r->batch * r->hidden;

	io->y = scratch_doubles(cx, r->seq * states);
	io->yh = scratch_doubles(cx, states);
	io->yc = scratch_doubles(cx, states);
	return io->y && io->yh && io->yc;
}

static void store_outputs(const Node *n, Value *const *out, const RnnData *io)
{
	double *res[OUT_MAX] = {io->y, io->yh, io->yc};

	for (int i = 0; i < n->nout && i < OUT_MAX; i++)
		if (out[i])
			val_from_f64(out[i], res[i]);
}

static Status rnn_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *v[IN_MAX];
	double *h, *c, *work;
	RnnData io;
	Rnn r;
	Status st;

	for (int i = 0; i < IN_MAX; i++)
		v[i] = opt(n, in, i);
	st = rnn_parse(cx->g, n, v, &r);
	if (st == ST_OK)
		st = load_lens(cx, n, v[IN_SEQ], &r, &io);
	if (st != ST_OK)
		return st;
	h = scratch_doubles(cx, r.hidden);
	c = scratch_doubles(cx, r.hidden);
	work = scratch_doubles(cx, cell_work(&r));
	if (!h || !c || !work || !load_inputs(cx, n, in, &io) || !alloc_outputs(cx, &r, &io))
		return eval_oom(cx, n);
	io.step = cell_of(n->op)->step;
	for (int d = 0; d < r.ndir; d++)
		for (int64_t b = 0; b < r.batch; b++)
			run_row(&r, &io, d, b, h, c, work);
	store_outputs(n, out, &io);
	return ST_OK;
}

/* seq * batch * ndir * G*hidden * (input + hidden); X's first two dims
 * are seq and batch in either layout. */
static int64_t rnn_macs(Graph *g, const Node *n)
{
	const Value *x = &node_in(g, n, IN_X)->v, *w = &node_in(g, n, IN_W)->v;
	const Value *r = &node_in(g, n, IN_R)->v;

	if (!val_known(x) || !val_known(w) || !val_known(r) || x->rank != 3 || w->rank != 3
	    || r->rank != 3)
		return 0;
	return x->dims[0] * x->dims[1] * w->dims[0] * w->dims[1] * (w->dims[2] + r->dims[2]);
}

const OpImpl op_impl_RNN = { rnn_infer, rnn_eval, rnn_macs };
const OpImpl op_impl_GRU = { rnn_infer, rnn_eval, rnn_macs };
const OpImpl op_impl_LSTM = { rnn_infer, rnn_eval, rnn_macs };
