/*
 * Shape inference.  Walks the nodes in topological order and asks each op's
 * infer function for its output types.  A node whose inputs are all
 * constant and whose outputs are small (SHAPE_MATH_LIMIT elements) is
 * evaluated on the spot: that is how exporters compute Reshape targets
 * (Shape -> Gather -> Concat), and later shapes depend on the values.  The
 * conditions and scale factors beside them fold too: a grouped-query test
 * Equal -> Not -> And -> Where choosing an Expand shape, a window length
 * cast to float for Range.
 *
 * A node of an op nnac does not know only exists in a graph whose import
 * reported it (`nnac check` infers shapes after such an import, to list the
 * other problems): it fails here without a second message, and the nodes
 * downstream of a failure are skipped, not reported again.
 */
#include "passes.h"

#include "interp.h"

enum { SHAPE_MATH_LIMIT = 64 };   /* elements: "small" for shape arithmetic, any type */

static bool inputs_typed(Graph *g, const Node *n)
{
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] >= 0 && !val_known(&g->tensors[n->in[i]].v))
			return false;
	return true;
}

static bool is_shape_math(Graph *g, const Node *n)
{
	for (int i = 0; i < n->nout; i++) {
		const Tensor *t = node_out(g, n, i);
		if (t && val_numel(&t->v) > SHAPE_MATH_LIMIT)
			return false;
	}
	return node_inputs_const(g, n);
}

/* Outputs typed, with known dimensions, after a successful infer. */
static Status check_outputs(Graph *g, const Node *n)
{
	for (int i = 0; i < n->nout; i++) {
		const Tensor *t = node_out(g, n, i);
		if (!t)
			continue;
		if (t->v.dt == DT_UNDEF)
			return node_error(g, n, ST_INTERNAL, "infer left output '%s' untyped", t->name);
		if (!val_known(&t->v))
			return node_error(g, n, ST_INTERNAL, "infer left output '%s' with an unknown dimension",
			                  t->name);
		if (!val_size_ok(&t->v)) {
			char type[160], budget[BUDGET_STR];
			return node_error(g, n, ST_INVALID, "output '%s' of type %s is larger than %s",
			                  t->name, val_type_str(&t->v, type, sizeof(type)), budget_memory_str(budget));
		}
	}
	return ST_OK;
}

static Status infer_node(Graph *g, Node *n)
{
	Status st;

	if (n->op == OP_UNKNOWN)
		return ST_UNSUPPORTED;   /* the importer has reported it */
	st = op_impl(n->op)->infer(g, n);
	if (st == ST_OK)
		st = check_outputs(g, n);
	if (st == ST_OK && !node_outputs_const(g, n) && is_shape_math(g, n))
		st = interp_eval_const(g, n);
	return st;
}

Status shape_infer_span(Graph *g, int from, int *to, bool keep_going)
{
	Status worst = ST_OK;

	for (int i = from; i < *to; i++) {
		Node *n = &g->nodes[i];
		int added = 0;
		Status st;

		if (n->flags & NODE_DEAD)
			continue;
		if (!inputs_typed(g, n))
			continue;   /* downstream of a reported failure */
		if (control_is(n->op)) {
			st = control_expand(g, i, &added);
			*to += added;
			i += added;   /* past the inlined nodes, inferred, to the dead node */
		} else {
			st = infer_node(g, n);
		}
		if (st == ST_OK)
			continue;
		n = &g->nodes[i];
		for (int k = 0; k < n->nout; k++)
			if (n->out[k] >= 0)
				g->tensors[n->out[k]].v.dt = DT_UNDEF;
		if (worst == ST_OK || status_exit_code(st) > status_exit_code(worst))
			worst = st;
		if (!keep_going)
			return worst;
	}
	return worst;
}

Status pass_infer_shapes(Graph *g, bool keep_going)
{
	int to = g->nnodes;

	return shape_infer_span(g, 0, &to, keep_going);
}
