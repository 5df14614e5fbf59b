/*
 * The reference interpreter's driver: binds inputs, walks the live nodes in
 * order, allocates every output at its inferred type and calls the op's eval
 * kernel, then applies a fused activation in place.  Temporary memory of a
 * kernel is released after each node.
 */
#include "interp.h"

#include <string.h>

#include "checked.h"
#include "window.h"

typedef struct Run {
	Graph *g;
	Value *vals;         /* one per tensor */
	Arena *values;       /* where outputs of nodes live */
	Arena scratch;
	InterpObserver obs;  /* NULL: none */
	void *obs_cx;
} Run;

static Status check_input(Graph *g, const Tensor *t, const Value *v)
{
	char want[128], got[128];

	if (v->dt != t->v.dt || !val_same_shape(v, &t->v))
		return graph_error(g, ST_INVALID, "input '%s' is %s, the model expects %s", t->name,
		                   val_type_str(v, got, sizeof(got)), val_type_str(&t->v, want, sizeof(want)));
	return ST_OK;
}

/* The fused activation, in place on y; the observer sees y before it
 * under the activation's input tensor, which a backend may materialize
 * (the TPU runs some activations as host steps after the layer). */
static Status apply_fused(Run *r, const Node *n, Value *y)
{
	const Node *act = &r->g->nodes[n->fused_node];
	const Value *in[1] = {y};
	Value *out[1] = {y};
	EvalCtx cx = {&r->scratch, r->g};

	if (r->obs)
		r->obs(r->obs_cx, act->in[0], y);
	return op_impl(n->fused_act)->eval(&cx, act, in, out);
}

/* Operand arrays cover the op's whole arity: slots past the node's own
 * inputs and outputs are NULL, as absent optional operands are. */
static Status eval_node(Run *r, const Node *n)
{
	int mi, xi, mo, xo;
	op_arity(n->op, &mi, &xi, &mo, &xo);
	int nin = n->nin > xi ? n->nin : xi, nout = n->nout > xo ? n->nout : xo;
	const Value *in[nin + 1];
	Value *out[nout + 1];
	EvalCtx cx = {&r->scratch, r->g};
	Status st;

	for (int i = 0; i <= nin; i++)
		in[i] = i < n->nin && n->in[i] >= 0 ? &r->vals[n->in[i]] : NULL;
	for (int i = 0; i <= nout; i++) {
		out[i] = NULL;
		if (i >= n->nout || n->out[i] < 0)
			continue;
		out[i] = &r->vals[n->out[i]];
		*out[i] = r->g->tensors[n->out[i]].v;
		if (!val_alloc(r->values, out[i]))
			return graph_oom(r->g);
	}
	st = op_impl(n->op)->eval(&cx, n, in, out);
	if (st == ST_OK && n->fused_act != OP_COUNT && out[0])
		st = apply_fused(r, n, out[0]);
	arena_free(&r->scratch);
	for (int i = 0; i < n->nout && st == ST_OK && r->obs; i++)
		if (n->out[i] >= 0)
			r->obs(r->obs_cx, n->out[i], &r->vals[n->out[i]]);
	return st;
}

static Status run_nodes(Run *r)
{
	for (int i = 0; i < r->g->nnodes; i++) {
		const Node *n = &r->g->nodes[i];
		Status st;

		if (n->flags & NODE_DEAD)
			continue;
		nnac_assert(n->op < OP_COUNT);
		st = eval_node(r, n);
		if (st != ST_OK)
			return st;
	}
	return ST_OK;
}

Status interp_run(Graph *g, const Value *inputs, Value *outputs, Arena *out_arena)
{
	return interp_run_observed(g, inputs, outputs, out_arena, NULL, NULL);
}

/* The steps node n takes, an upper bound: its outputs' elements, its
 * multiply-accumulates, a pooling window's taps. */
static int64_t node_steps(Graph *g, const Node *n)
{
	const OpImpl *impl = op_impl(n->op);
	int64_t steps = impl->macs ? impl->macs(g, n) : 0;

	if (n->op == OP_MaxPool || n->op == OP_AveragePool || n->op == OP_LpPool)
		steps = ck_add_sat(steps, win_pool_steps(g, n));
	for (int k = 0; k < n->nout; k++)
		if (n->out[k] >= 0)
			steps = ck_add_sat(steps, val_numel(&g->tensors[n->out[k]].v));
	return steps;
}

/* A run's memory and work against the budgets (base/budget.h), before any
 * of it exists: the node outputs, which the interpreter keeps to the end,
 * against --max-memory; the nodes' steps against --max-steps. */
static Status check_budgets(Graph *g)
{
	char lim[BUDGET_STR], type[160];
	int64_t bytes = 0, steps = 0;

	for (int i = 0; i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];

		if (n->flags & NODE_DEAD)
			continue;
		for (int k = 0; k < n->nout; k++) {
			const Tensor *t = n->out[k] >= 0 ? &g->tensors[n->out[k]] : NULL;

			if (t && !t->v.data && (!ck_add(bytes, val_bytes(&t->v), &bytes) || bytes > budget_memory()))
				return node_error(g, n, ST_UNSUPPORTED, "output '%s' of type %s takes the run's tensors "
				                  "past %s", t->name, val_type_str(&t->v, type, sizeof(type)),
				                  budget_memory_str(lim));
		}
		steps = ck_add_sat(steps, node_steps(g, n));
		if (steps > budget_steps())
			return node_error(g, n, ST_UNSUPPORTED, "takes the run past the step budget of %lld "
			                  "(--max-steps)", (long long)budget_steps());
	}
	return ST_OK;
}

Status interp_run_observed(Graph *g, const Value *inputs, Value *outputs, Arena *out_arena,
                           InterpObserver obs, void *cx)
{
	Arena values;
	Run r = {g, NULL, &values, {0}, obs, cx};
	Status st = ST_OK;

	arena_init(&values);
	arena_init(&r.scratch);
	r.vals = arena_alloc(&values, (size_t)(g->ntensors + 1) * sizeof(Value));
	if (!r.vals)
		return graph_oom(g);
	for (int t = 0; t < g->ntensors; t++)
		r.vals[t] = g->tensors[t].v;
	for (int i = 0; i < g->ninputs && st == ST_OK; i++) {
		st = check_input(g, &g->tensors[g->inputs[i]], &inputs[i]);
		r.vals[g->inputs[i]] = inputs[i];
		if (st == ST_OK && obs)
			obs(cx, g->inputs[i], &inputs[i]);
	}
	if (st == ST_OK)
		st = check_budgets(g);
	if (st == ST_OK)
		st = run_nodes(&r);
	for (int i = 0; i < g->noutputs && st == ST_OK; i++) {
		outputs[i] = r.vals[g->outputs[i]];
		if (!outputs[i].data) {
			st = graph_error(g, ST_INTERNAL, "output '%s' was not computed", g->tensors[g->outputs[i]].name);
			break;
		}
		outputs[i].data = arena_alloc(out_arena, (size_t)val_bytes(&outputs[i]));
		if (!outputs[i].data)
			st = graph_oom(g);
		else
			memcpy(outputs[i].data, r.vals[g->outputs[i]].data, (size_t)val_bytes(&outputs[i]));
	}
	arena_free(&r.scratch);
	arena_free(&values);
	return st;
}

Status interp_eval_const(Graph *g, Node *n)
{
	Arena tmp;
	Run r = {g, NULL, &g->arena, {0}, NULL, NULL};
	Status st;

	arena_init(&tmp);
	arena_init(&r.scratch);
	r.vals = arena_alloc(&tmp, (size_t)(g->ntensors + 1) * sizeof(Value));
	if (!r.vals)
		return graph_oom(g);
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] >= 0)
			r.vals[n->in[i]] = g->tensors[n->in[i]].v;
	st = eval_node(&r, n);
	for (int i = 0; i < n->nout && st == ST_OK; i++)
		if (n->out[i] >= 0)
			g->tensors[n->out[i]].v.data = r.vals[n->out[i]].data;
	arena_free(&tmp);
	return st;
}

Status interp_eval_node(Graph *g, const Node *n, Value *vals, Arena *values)
{
	Run r = {g, vals, values, {0}, NULL, NULL};
	Status st;

	arena_init(&r.scratch);
	st = eval_node(&r, n);
	arena_free(&r.scratch);
	return st;
}
