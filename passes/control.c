/*
 * Control flow, inlined.  nnac compiles for static shapes, so If, Loop and
 * Scan do not outlive shape inference: when it reaches one (its inputs
 * typed, the constants among them known), it calls control_expand(), which
 * puts copies of the body's nodes in the node's place, in topological
 * order, infers them as it goes, and marks the node dead.  Every later pass
 * and every engine then sees plain nodes.
 *
 *   If    A condition known by then (a constant, or folded from shapes)
 *         inlines the branch it picks, and only that one.  A condition
 *         computed at run time inlines both, and Where selects each output
 *         (the branches must then agree on its type and shape).
 *   Loop  Unrolled.  The trip count must be known, and so must the
 *         condition each iteration computes: a loop that stops when a
 *         run-time value says so has no static shape.
 *   Scan  Unrolled over the scan axis: iteration t reads slice t (or T-1-t
 *         for a reversed input) of each scan input, Gather with a constant
 *         index; the scan outputs are the iterations' values stacked along
 *         their axis.  Opset 8's form (a batch axis first) unrolls once per
 *         batch element.
 *
 * Copying body B for node n maps B's tensors to g's: B's inputs to the
 * values n passes, its captures to n's capture inputs, its initializers to
 * constants sharing their data, and each copied node's outputs to fresh
 * tensors named "<n>/<branch or iteration>/<name>".  Unrolling stops with
 * ST_UNSUPPORTED past UNROLL_NODES copied nodes.
 */
#include "passes.h"

#include <stdio.h>
#include <string.h>

#include "op.h"

enum { UNROLL_NODES = 1 << 16 };   /* nodes one expansion may add */

typedef struct Expand {
	Graph *g;
	int node;            /* the control node's index */
	int first;           /* index of the first node it added */
} Expand;

static Node *ctl(Expand *x) { return &x->g->nodes[x->node]; }

static Graph *body_of(const Node *n, const char *attr)
{
	const Attr *a = attr_find(n, attr);

	return a && a->kind == ATTR_GRAPH ? a->body : NULL;
}

/* A tensor named base, or base#2, base#3... when that name is taken. */
static int fresh_tensor(Graph *g, const char *base)
{
	char *name = arena_strdup(&g->arena, base);

	for (int k = 2; name && graph_find_tensor(g, name) >= 0; k++)
		name = arena_printf(&g->arena, "%s#%d", base, k);
	return name ? graph_add_tensor(g, name) : -1;
}

/* A constant tensor of type dt and the given shape, zeroed. */
static int new_const(Expand *x, const char *what, DType dt, int rank, const int64_t *dims)
{
	Graph *g = x->g;
	char *name = arena_printf(&g->arena, "%s/%s", ctl(x)->name, what);
	int t = name ? fresh_tensor(g, name) : -1;

	if (t < 0)
		return -1;
	val_set_type(&g->tensors[t].v, dt, rank, dims);
	g->tensors[t].flags = TENSOR_INIT;
	return val_alloc(&g->arena, &g->tensors[t].v) ? t : -1;
}

static int const_scalar(Expand *x, const char *what, DType dt, int64_t v)
{
	int t = new_const(x, what, dt, 0, NULL);

	if (t >= 0)
		val_set_i64(&x->g->tensors[t].v, 0, v);
	return t;
}

/* Infers node k, just added (a control node among them expands in turn). */
static Status infer_added(Graph *g, int k)
{
	int to = k + 1;

	return shape_infer_span(g, k, &to, false);
}

/* A new node named full, counted against UNROLL_NODES; -1 when out of
 * memory or past the limit (*st says which). */
static int new_node(Expand *x, const char *full, OpKind op, int nin, int nout, Status *st)
{
	Graph *g = x->g;
	int k = full ? graph_add_node(g, full, op, nin, nout) : -1;

	*st = k < 0 ? graph_oom(g) : ST_OK;
	if (k >= 0 && g->nnodes - x->first > UNROLL_NODES) {
		*st = node_error(g, ctl(x), ST_UNSUPPORTED, "unrolling it takes more than %d nodes", UNROLL_NODES);
		k = -1;
	}
	return k;
}

/* Adds node op named "<n>/name" reading ins, writing outs (-1: a fresh
 * tensor of that name) with attributes attr, and infers it.  *out0, when
 * not NULL, receives its first output. */
static Status add_node(Expand *x, OpKind op, const char *name, const int *ins, int nin, int out,
                       Attr *attr, int nattr, int *out0)
{
	Graph *g = x->g;
	char *full = arena_printf(&g->arena, "%s/%s", ctl(x)->name, name);
	Status st;
	int k = new_node(x, full, op, nin, 1, &st);
	Node *c;

	if (k < 0)
		return st;
	c = &g->nodes[k];
	memcpy(c->in, ins, (size_t)nin * sizeof(int));
	c->attr = attr, c->nattr = nattr;
	if (out < 0 && (out = fresh_tensor(g, full)) < 0)
		return graph_oom(g);
	g->nodes[k].out[0] = out;
	g->tensors[out].producer = k;
	if (out0)
		*out0 = out;
	return infer_added(g, k);
}

static Attr *int_attr(Graph *g, const char *name, int64_t v)
{
	Attr *a = arena_alloc(&g->arena, sizeof(Attr));

	if (a)
		*a = (Attr){.name = name, .kind = ATTR_INT, .i = v};
	return a;
}

/* Slice index of t along axis, the axis dropped: Gather with a constant
 * index. */
static Status take_slice(Expand *x, const char *name, int t, int64_t axis, int64_t index, int *out)
{
	int idx = const_scalar(x, name, DT_I64, index);
	Attr *a = int_attr(x->g, "axis", axis);

	if (idx < 0 || !a)
		return graph_oom(x->g);
	return add_node(x, OP_Gather, name, (int[]){t, idx}, 2, -1, a, 1, out);
}

/* x's value with a dimension of 1 inserted at axis: Reshape to a constant
 * shape. */
static Status unsqueeze(Expand *x, const char *name, int t, int axis, int *out)
{
	const Value *v = &x->g->tensors[t].v;
	int64_t one = 1;
	int shape = new_const(x, "shape", DT_I64, 1, &(int64_t){v->rank + 1});
	int ins[2] = {t, shape};

	if (shape < 0)
		return graph_oom(x->g);
	for (int i = 0, j = 0; i <= v->rank; i++)
		val_set_i64(&x->g->tensors[shape].v, i, i == axis ? one : v->dims[j++]);
	return add_node(x, OP_Reshape, name, ins, 2, -1, NULL, 0, out);
}

/* out = pieces[0..count) stacked along a new axis (reversed order when
 * reverse), through Reshape and Concat. */
static Status stack(Expand *x, const char *name, int *pieces, int count, int axis, bool reverse,
                    int out)
{
	Graph *g = x->g;
	int *ins = arena_alloc(&g->arena, (size_t)count * sizeof(int));
	Attr *a = int_attr(g, "axis", axis);

	int r = g->tensors[pieces[0]].v.rank + 1;

	if (!ins || !a)
		return graph_oom(g);
	if (axis < -r || axis >= r)
		return node_error(g, ctl(x), ST_INVALID, "scan output axis %d is out of range for rank %d", axis, r);
	a->i = axis = axis < 0 ? axis + r : axis;
	for (int i = 0; i < count; i++)
		TRY(unsqueeze(x, name, pieces[reverse ? count - 1 - i : i], axis, &ins[i]));
	return add_node(x, OP_Concat, name, ins, count, out, a, 1, NULL);
}

/* out = t: an Identity, so that n's output tensor keeps its name. */
static Status forward(Expand *x, int t, int out)
{
	char name[32];

	if (out < 0)
		return ST_OK;
	snprintf(name, sizeof(name), "out%d", out);
	return add_node(x, OP_Identity, name, &t, 1, out, NULL, 0, NULL);
}

/* Copies body b under prefix "<n>/what": ins[] are the g tensors b's inputs
 * take; outs[] receives the g tensors of b's outputs. */
static Status inline_body(Expand *x, Graph *b, const char *what, const int *ins, int *outs)
{
	Graph *g = x->g;
	int *map = arena_alloc(&g->arena, (size_t)(b->ntensors + 1) * sizeof(int));

	if (!map)
		return graph_oom(g);
	for (int t = 0; t < b->ntensors; t++)
		map[t] = -1;
	for (int i = 0; i < b->ninputs; i++)
		map[b->inputs[i]] = ins[i];
	for (int k = 0; k < b->ncaptures; k++)
		map[b->captures[k].t] = ctl(x)->in[b->captures[k].in];
	for (int t = 0; t < b->ntensors; t++) {
		char *name;
		if (map[t] >= 0 || !b->tensors[t].v.data)
			continue;
		name = arena_printf(&g->arena, "%s/%s/%s", ctl(x)->name, what, b->tensors[t].name);
		if (!name || (map[t] = fresh_tensor(g, name)) < 0)
			return graph_oom(g);
		g->tensors[map[t]].v = b->tensors[t].v;   /* data shared: b lives as long as g */
		g->tensors[map[t]].flags = TENSOR_INIT;
	}
	for (int i = 0; i < b->nnodes; i++) {
		const Node *s = &b->nodes[i];
		char *name = arena_printf(&g->arena, "%s/%s/%s", ctl(x)->name, what, s->name);
		Status st;
		int k = new_node(x, name, s->op, s->nin, s->nout, &st);
		Node *c;

		if (k < 0)
			return st;
		c = &g->nodes[k];
		c->op_type = s->op_type, c->domain = s->domain;
		c->attr = s->attr, c->nattr = s->nattr, c->ncapture = s->ncapture;
		for (int j = 0; j < s->nin; j++)
			c->in[j] = s->in[j] < 0 ? -1 : map[s->in[j]];
		for (int j = 0; j < s->nout; j++) {
			int t = s->out[j];
			if (t < 0)
				continue;
			name = arena_printf(&g->arena, "%s/%s/%s", ctl(x)->name, what, b->tensors[t].name);
			if (!name || (map[t] = fresh_tensor(g, name)) < 0)
				return graph_oom(g);
			g->nodes[k].out[j] = map[t];
			g->tensors[map[t]].producer = k;
		}
		TRY(infer_added(g, k));
	}
	for (int i = 0; i < b->noutputs; i++)
		outs[i] = map[b->outputs[i]];
	return ST_OK;
}

/* The body's input and output counts against what the node gives it. */
static Status check_body(Expand *x, const char *attr, const Graph *b, int nin, int nout)
{
	if (!b)
		return node_error(x->g, ctl(x), ST_INVALID, "has no graph attribute '%s'", attr);
	if (b->ninputs != nin || b->noutputs != nout)
		return node_error(x->g, ctl(x), ST_INVALID, "'%s' takes %d inputs and gives %d outputs; "
		                  "the node passes %d and needs %d", attr, b->ninputs, b->noutputs, nin, nout);
	return ST_OK;
}

/* Whether tensor t holds one element of type bool, and which when known. */
static Status condition(Expand *x, const char *what, int t, bool *known, bool *value)
{
	const Value *v = &x->g->tensors[t].v;

	char type[160];

	if (v->dt != DT_BOOL || val_numel(v) != 1)
		return node_error(x->g, ctl(x), ST_INVALID, "%s must be one bool, not %s", what,
		                  val_type_str(v, type, sizeof(type)));
	*known = v->data != NULL;
	*value = *known && val_get_i64(v, 0) != 0;
	return ST_OK;
}

/* Output k: the same type and shape from both branches. */
static Status check_agree(Expand *x, int k, int a, int b)
{
	const Value *va = &x->g->tensors[a].v, *vb = &x->g->tensors[b].v;
	char ta[160], tb[160];

	if (va->dt == vb->dt && val_same_shape(va, vb))
		return ST_OK;
	return node_error(x->g, ctl(x), ST_UNSUPPORTED, "output %d is %s from then_branch and %s from "
	                  "else_branch; with a condition computed at run time nnac needs them to agree",
	                  k, val_type_str(va, ta, sizeof(ta)), val_type_str(vb, tb, sizeof(tb)));
}

static Status expand_if(Expand *x)
{
	Graph *g = x->g, *tb = body_of(ctl(x), "then_branch"), *eb = body_of(ctl(x), "else_branch");
	int nout = ctl(x)->nout, cond = ctl(x)->in[0], scalar, empty;
	int *to = arena_alloc(&g->arena, (size_t)(nout + 1) * sizeof(int));
	int *eo = arena_alloc(&g->arena, (size_t)(nout + 1) * sizeof(int));
	bool known, value;

	if (!to || !eo)
		return graph_oom(g);
	TRY(check_body(x, "then_branch", tb, 0, nout));
	TRY(check_body(x, "else_branch", eb, 0, nout));
	TRY(condition(x, "the condition", cond, &known, &value));
	if (known) {
		TRY(inline_body(x, value ? tb : eb, value ? "then_branch" : "else_branch", NULL, to));
		for (int k = 0; k < nout; k++)
			TRY(forward(x, to[k], ctl(x)->out[k]));
		return ST_OK;
	}
	TRY(inline_body(x, tb, "then_branch", NULL, to));
	TRY(inline_body(x, eb, "else_branch", NULL, eo));
	if ((empty = new_const(x, "scalar_shape", DT_I64, 1, &(int64_t){0})) < 0)
		return graph_oom(g);
	TRY(add_node(x, OP_Reshape, "cond", (int[]){cond, empty}, 2, -1, NULL, 0, &scalar));
	for (int k = 0; k < nout; k++) {
		TRY(check_agree(x, k, to[k], eo[k]));
		if (ctl(x)->out[k] >= 0)
			TRY(add_node(x, OP_Where, "select", (int[]){scalar, to[k], eo[k]}, 3, ctl(x)->out[k],
			             NULL, 0, NULL));
	}
	return ST_OK;
}

/* A Loop's trip count: input M, or -1 for none (the condition alone). */
static Status trip_count(Expand *x, int64_t *m)
{
	const Tensor *t = node_in(x->g, ctl(x), 0);

	*m = -1;
	if (!t)
		return ST_OK;
	if (!dtype_is_int(t->v.dt) || val_numel(&t->v) != 1)
		return node_error(x->g, ctl(x), ST_INVALID, "the trip count M must be one integer");
	if (!t->v.data)
		return node_error(x->g, ctl(x), ST_UNSUPPORTED, "the trip count '%s' is computed at run time; "
		                  "nnac unrolls loops and needs it to be a constant", t->name);
	*m = val_get_i64(&t->v, 0) < 0 ? 0 : val_get_i64(&t->v, 0);
	return ST_OK;
}

/* The scan outputs of every iteration: hist[t * n + j] is output j of
 * iteration t. */
typedef struct History {
	int *hist;
	int n, used, cap;
} History;

static bool remember(Graph *g, History *h, const int *outs)
{
	for (int j = 0; j < h->n; j++) {
		if (!arena_grow(&g->arena, (void **)&h->hist, &h->cap, h->used, sizeof(int)))
			return false;
		h->hist[h->used++] = outs[j];
	}
	return true;
}

/* Output j of every iteration, stacked along axis into out. */
static Status stack_history(Expand *x, const History *h, int j, int axis, bool reverse, int out)
{
	int iters = h->n ? h->used / h->n : 0;
	int *pieces = arena_alloc(&x->g->arena, (size_t)(iters + 1) * sizeof(int));

	if (!pieces)
		return graph_oom(x->g);
	if (out < 0)
		return ST_OK;
	if (iters == 0)
		return node_error(x->g, ctl(x), ST_UNSUPPORTED, "runs no iteration, so the shape of its scan "
		                  "outputs is not known");
	for (int t = 0; t < iters; t++)
		pieces[t] = h->hist[t * h->n + j];
	return stack(x, "scan", pieces, iters, axis, reverse, out);
}

static Status expand_loop(Expand *x)
{
	Graph *g = x->g, *b = body_of(ctl(x), "body");
	int nc = ctl(x)->nin - ctl(x)->ncapture - 2, ns = ctl(x)->nout - nc;
	int *ins = arena_alloc(&g->arena, (size_t)(nc + 3) * sizeof(int));
	int *outs = arena_alloc(&g->arena, (size_t)(nc + ns + 2) * sizeof(int));
	History h = {NULL, ns, 0, 0};
	int64_t m, t = 0;
	bool known = true, more = true;
	char what[32];

	if (!ins || !outs)
		return graph_oom(g);
	if (ns < 0)
		return node_error(g, ctl(x), ST_INVALID, "has %d carried values but %d outputs", nc, ctl(x)->nout);
	TRY(check_body(x, "body", b, 2 + nc, 1 + nc + ns));
	TRY(trip_count(x, &m));
	ins[1] = ctl(x)->in[1];
	if (ins[1] >= 0)
		TRY(condition(x, "the condition", ins[1], &known, &more));
	else if ((ins[1] = const_scalar(x, "true", DT_BOOL, 1)) < 0)
		return graph_oom(g);
	if (!known)
		return node_error(g, ctl(x), ST_UNSUPPORTED, "the condition is computed at run time; nnac "
		                  "unrolls loops and needs it to be a constant");
	for (int k = 0; k < nc; k++)
		ins[2 + k] = ctl(x)->in[2 + k];
	for (; more && (m < 0 || t < m); t++) {
		snprintf(what, sizeof(what), "iter%lld", (long long)t);
		if ((ins[0] = const_scalar(x, what, DT_I64, t)) < 0)
			return graph_oom(g);
		TRY(inline_body(x, b, what, ins, outs));
		TRY(condition(x, "the condition the body computes", outs[0], &known, &more));
		if (!known)
			return node_error(g, ctl(x), ST_UNSUPPORTED, "the condition the body computes is known "
			                  "only at run time; nnac unrolls loops and needs it to be a constant");
		ins[1] = outs[0];
		memcpy(&ins[2], &outs[1], (size_t)nc * sizeof(int));
		if (!remember(g, &h, &outs[1 + nc]))
			return graph_oom(g);
	}
	for (int k = 0; k < nc; k++)
		TRY(forward(x, ins[2 + k], ctl(x)->out[k]));
	for (int j = 0; j < ns; j++)
		TRY(stack_history(x, &h, j, 0, false, ctl(x)->out[nc + j]));
	return ST_OK;
}

/* A Scan's geometry: ns states, nx scan inputs, ny scan outputs. */
typedef struct ScanPlan {
	Graph *b;
	int ns, nx, ny;
	int64_t iters;
	int64_t *in_axis, *in_rev, *out_axis, *out_rev;
} ScanPlan;

/* List attribute name as count values (default 0 each): axes normalized
 * against ranks[i] when ranks is given, else directions, 0 or 1. */
static Status scan_list(Expand *x, const char *name, int count, int64_t *vals, const int *ranks)
{
	int n;
	const int64_t *v = attr_ints(ctl(x), name, &n);

	if (v && n != count)
		return node_error(x->g, ctl(x), ST_INVALID, "attribute '%s' has %d values for %d operands",
		                  name, n, count);
	for (int i = 0; i < count; i++) {
		int64_t a = v ? v[i] : 0;
		if (ranks) {
			int r = ranks[i];
			if (a < -r || a >= r)
				return node_error(x->g, ctl(x), ST_INVALID, "attribute '%s': axis %lld is out of range "
				                  "for rank %d", name, (long long)a, r);
			a = a < 0 ? a + r : a;
		} else if (a != 0 && a != 1) {
			return node_error(x->g, ctl(x), ST_INVALID, "attribute '%s': direction %lld is not 0 or 1",
			                  name, (long long)a);
		}
		vals[i] = a;
	}
	return ST_OK;
}

/* One unrolled scan: states[] (ns) and scan inputs xs[] (nx) in; the final
 * states into fin[] and the stacked scan outputs into ys[] (-1: make a
 * fresh tensor, whose index replaces it). */
static Status unroll_scan(Expand *x, const ScanPlan *p, const char *tag, const int *states,
                          const int *xs, int *fin, int *ys)
{
	Graph *g = x->g;
	int *ins = arena_alloc(&g->arena, (size_t)(p->ns + p->nx + 1) * sizeof(int));
	int *outs = arena_alloc(&g->arena, (size_t)(p->ns + p->ny + 1) * sizeof(int));
	History h = {NULL, p->ny, 0, 0};
	char what[48];

	if (!ins || !outs)
		return graph_oom(g);
	memcpy(ins, states, (size_t)p->ns * sizeof(int));
	for (int64_t t = 0; t < p->iters; t++) {
		snprintf(what, sizeof(what), "%siter%lld", tag, (long long)t);
		for (int j = 0; j < p->nx; j++)
			TRY(take_slice(x, what, xs[j], p->in_axis[j], p->in_rev[j] ? p->iters - 1 - t : t,
			               &ins[p->ns + j]));
		TRY(inline_body(x, p->b, what, ins, outs));
		memcpy(ins, outs, (size_t)p->ns * sizeof(int));
		if (!remember(g, &h, &outs[p->ns]))
			return graph_oom(g);
	}
	memcpy(fin, ins, (size_t)p->ns * sizeof(int));
	for (int j = 0; j < p->ny; j++) {
		snprintf(what, sizeof(what), "%sscan%d", tag, j);
		if (ys[j] < 0 && (ys[j] = fresh_tensor(g, what)) < 0)
			return graph_oom(g);
		TRY(stack_history(x, &h, j, (int)p->out_axis[j], p->out_rev[j] != 0, ys[j]));
	}
	return ST_OK;
}

/* Plans a Scan whose scan inputs are in[first..first+nx) and whose body
 * sees them with skip leading axes removed (opset 8's batch axis). */
static Status plan_scan(Expand *x, ScanPlan *p, int first, int skip)
{
	Graph *g = x->g;
	Node *n = ctl(x);
	int nx = (int)attr_i(n, "num_scan_inputs", -1), rx[64] = {0}, count;
	const int64_t *v = NULL;
	bool old = g->opset < 9;

	p->b = body_of(n, "body");
	p->nx = nx;
	p->ns = n->nin - n->ncapture - first - nx;
	p->ny = n->nout - p->ns;
	if (nx < 1 || nx > 64 || p->ns < 0 || p->ny < 0 || p->ny > 64)
		return node_error(g, n, ST_INVALID, "num_scan_inputs %d does not fit its %d inputs and %d outputs",
		                  nx, n->nin - n->ncapture, n->nout);
	TRY(check_body(x, "body", p->b, p->ns + nx, p->ns + p->ny));
	p->in_axis = arena_alloc(&g->arena, (size_t)(2 * nx + 2 * p->ny + 1) * sizeof(int64_t));
	if (!p->in_axis)
		return graph_oom(g);
	p->in_rev = p->in_axis + nx, p->out_axis = p->in_rev + nx, p->out_rev = p->out_axis + p->ny;
	for (int j = 0; j < nx; j++)
		rx[j] = node_in(g, n, first + p->ns + j)->v.rank - skip;
	TRY(scan_list(x, old ? "directions" : "scan_input_directions", nx, p->in_rev, NULL));
	TRY(scan_list(x, "scan_input_axes", nx, p->in_axis, rx));
	p->iters = -1;
	for (int j = 0; j < nx; j++) {
		int64_t len;
		if (rx[j] < 1)
			return node_error(g, n, ST_INVALID, "scan input %d has no axis to scan", j);
		len = node_in(g, n, first + p->ns + j)->v.dims[skip + p->in_axis[j]];
		if (p->iters >= 0 && len != p->iters)
			return node_error(g, n, ST_INVALID, "scan input %d has %lld slices, scan input 0 %lld",
			                  j, (long long)len, (long long)p->iters);
		p->iters = len;
	}
	/* The scan outputs' ranks are known only after an iteration: stack()
	 * checks their axes. */
	TRY(scan_list(x, "scan_output_directions", p->ny, p->out_rev, NULL));
	if (!old && (v = attr_ints(n, "scan_output_axes", &count)) && count != p->ny)
		return node_error(g, n, ST_INVALID, "attribute 'scan_output_axes' has %d values for %d outputs",
		                  count, p->ny);
	for (int j = 0; j < p->ny; j++)
		p->out_axis[j] = v ? v[j] : 0;
	return ST_OK;
}

/* Opset 8's sequence_lens: absent, empty, or every sequence full length. */
static Status check_lengths(Expand *x, int64_t iters)
{
	const Tensor *t = node_in(x->g, ctl(x), 0);

	if (!t || val_numel(&t->v) == 0)
		return ST_OK;
	if (!t->v.data)
		return node_error(x->g, ctl(x), ST_UNSUPPORTED, "sequence_lens '%s' is computed at run time; "
		                  "nnac unrolls Scan and needs it to be a constant", t->name);
	for (int64_t i = 0; i < val_numel(&t->v); i++)
		if (val_get_i64(&t->v, i) != iters)
			return node_error(x->g, ctl(x), ST_UNSUPPORTED, "sequence %lld is %lld long, shorter than "
			                  "the scan axis (%lld): nnac unrolls only full-length sequences",
			                  (long long)i, (long long)val_get_i64(&t->v, i), (long long)iters);
	return ST_OK;
}

/* Opset 8: every state and scan input has a batch axis first; each batch
 * element is scanned on its own and the results stacked. */
static Status expand_scan8(Expand *x, const ScanPlan *p)
{
	Graph *g = x->g;
	int nv = p->ns + p->nx, *io = arena_alloc(&g->arena, (size_t)(2 * nv + 2 * p->ny + 2) * sizeof(int));
	int *vb = io, *fin = io + nv, *ys = fin + p->ns;
	History hs = {NULL, p->ns, 0, 0}, hy = {NULL, p->ny, 0, 0};
	int64_t batch = node_in(g, ctl(x), 1)->v.rank ? node_in(g, ctl(x), 1)->v.dims[0] : -1;
	char tag[32];

	if (!io)
		return graph_oom(g);
	TRY(check_lengths(x, p->iters));
	for (int i = 0; i < nv; i++) {
		const Value *v = &node_in(g, ctl(x), 1 + i)->v;
		if (v->rank < 1 || v->dims[0] != batch)
			return node_error(g, ctl(x), ST_INVALID, "input %d has no batch axis of %lld", 1 + i,
			                  (long long)batch);
	}
	for (int64_t b = 0; b < batch; b++) {
		snprintf(tag, sizeof(tag), "batch%lld/", (long long)b);
		for (int i = 0; i < nv; i++)
			TRY(take_slice(x, tag, ctl(x)->in[1 + i], 0, b, &vb[i]));
		for (int j = 0; j < p->ny; j++)
			ys[j] = -1;
		TRY(unroll_scan(x, p, tag, vb, vb + p->ns, fin, ys));
		if (!remember(g, &hs, fin) || !remember(g, &hy, ys))
			return graph_oom(g);
	}
	for (int k = 0; k < p->ns; k++)
		TRY(stack_history(x, &hs, k, 0, false, ctl(x)->out[k]));
	for (int j = 0; j < p->ny; j++)
		TRY(stack_history(x, &hy, j, 0, false, ctl(x)->out[p->ns + j]));
	return ST_OK;
}

static Status expand_scan(Expand *x)
{
	bool old = x->g->opset < 9;
	int first = old ? 1 : 0, *fin, *ys;
	ScanPlan p;

	TRY(plan_scan(x, &p, first, old ? 1 : 0));
	if (old)
		return expand_scan8(x, &p);
	fin = arena_alloc(&x->g->arena, (size_t)(p.ns + p.ny + 1) * sizeof(int));
	if (!fin)
		return graph_oom(x->g);
	ys = fin + p.ns;
	for (int j = 0; j < p.ny; j++)
		ys[j] = ctl(x)->out[p.ns + j];
	TRY(unroll_scan(x, &p, "", &ctl(x)->in[0], &ctl(x)->in[p.ns], fin, ys));
	for (int k = 0; k < p.ns; k++)
		TRY(forward(x, fin[k], ctl(x)->out[k]));
	return ST_OK;
}

bool control_is(OpKind op)
{
	return op == OP_If || op == OP_Loop || op == OP_Scan;
}

Status control_expand(Graph *g, int node, int *added)
{
	Expand x = {g, node, g->nnodes};
	OpKind op = g->nodes[node].op;
	Status st = op == OP_If ? expand_if(&x) : op == OP_Loop ? expand_loop(&x) : expand_scan(&x);

	*added = 0;
	if (st != ST_OK) {
		for (int k = x.first; k < g->nnodes; k++)
			g->nodes[k].flags |= NODE_DEAD;   /* a part of the inlining: drop it */
		return st;
	}
	*added = g->nnodes - x.first;
	graph_move_nodes(g, x.first, node);
	g->nodes[node + *added].flags |= NODE_DEAD;
	return ST_OK;
}
