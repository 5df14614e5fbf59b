/*
 * The op table generated from ops.def, and the helpers op infer functions
 * share (dtype checks, constant inputs, output typing).
 */
#include "op.h"

#include <string.h>

static const struct {
	const char *name;
	int min_in, max_in, min_out, max_out;
	unsigned flags;
	const char *attrs;
	const char *synopsis;
	const OpImpl *impl;
} ops[] = {
#define OP(id, mi, xi, mo, xo, fl, at, syn) {#id, mi, xi, mo, xo, fl, at, syn, &op_impl_##id},
#include "ops.def"
#undef OP
};
_Static_assert(ARRAY_LEN(ops) == OP_COUNT, "op table");

const char *op_name(OpKind op) { return op < OP_COUNT ? ops[op].name : "?"; }
const char *op_synopsis(OpKind op) { return ops[op].synopsis; }
unsigned op_flags(OpKind op) { return op < OP_COUNT ? ops[op].flags : 0; }
const OpImpl *op_impl(OpKind op) { return ops[op].impl; }

OpKind op_lookup(const char *op_type)
{
	for (int i = 0; i < OP_COUNT; i++)
		if (strcmp(ops[i].name, op_type) == 0)
			return (OpKind)i;
	return OP_UNKNOWN;
}

void op_arity(OpKind op, int *min_in, int *max_in, int *min_out, int *max_out)
{
	*min_in = ops[op].min_in;
	*max_in = ops[op].max_in;
	*min_out = ops[op].min_out;
	*max_out = ops[op].max_out;
}

static const char *const kind_names[] = {
	[ATTR_INT] = "i", [ATTR_FLOAT] = "f", [ATTR_STRING] = "s",
	[ATTR_TENSOR] = "t", [ATTR_GRAPH] = "g", [ATTR_INTS] = "ints",
	[ATTR_FLOATS] = "floats", [ATTR_STRINGS] = "strings",
	[ATTR_TENSORS] = "tensors", [ATTR_OTHER] = "other",
};

/* Scans the schema "name:kind name:kind ..." for name. */
bool op_attr_known(OpKind op, const char *name, AttrKind *kind)
{
	const char *p = ops[op].attrs;
	size_t len = strlen(name);

	while (*p) {
		const char *colon = strchr(p, ':');
		const char *end = strchr(p, ' ');

		if (!end)
			end = p + strlen(p);
		if ((size_t)(colon - p) == len && strncmp(p, name, len) == 0) {
			for (int k = 0; k < (int)ARRAY_LEN(kind_names); k++) {
				if (strlen(kind_names[k]) == (size_t)(end - colon - 1) &&
				    strncmp(kind_names[k], colon + 1, (size_t)(end - colon - 1)) == 0) {
					*kind = (AttrKind)k;
					return true;
				}
			}
			nnac_unreachable();
		}
		p = *end ? end + 1 : end;
	}
	return false;
}

Status infer_dtype(Graph *g, const Node *n, int input, unsigned mask)
{
	const Tensor *t = node_in(g, n, input);

	if (!t || (mask & (1u << t->v.dt)))
		return ST_OK;
	return node_error(g, n, ST_UNSUPPORTED, "input %d '%s' has element type %s, not supported by %s",
	                  input, t->name, dtype_name(t->v.dt), n->op_type);
}

Status infer_nin(Graph *g, const Node *n, int lo, int hi)
{
	int present = n->nin;

	while (present > 0 && n->in[present - 1] < 0)
		present--;
	if (present < lo || present > hi) {
		if (lo == hi)
			return node_error(g, n, ST_INVALID, "has %d inputs, expected %d", present, lo);
		return node_error(g, n, ST_INVALID, "has %d inputs, expected %d to %d", present, lo, hi);
	}
	for (int i = 0; i < lo; i++)
		if (n->in[i] < 0)
			return node_error(g, n, ST_INVALID, "required input %d is missing", i);
	return ST_OK;
}

void infer_out(Graph *g, const Node *n, int i, DType dt, int rank, const int64_t *dims)
{
	Tensor *t = node_out(g, n, i);

	if (t)
		val_set_type(&t->v, dt, rank, dims);
}

Status infer_same(Graph *g, Node *n)
{
	const Tensor *x = node_in(g, n, 0);

	if (!x)
		return node_error(g, n, ST_INVALID, "input 0 is missing");
	infer_out(g, n, 0, x->v.dt, x->v.rank, x->v.dims);
	return ST_OK;
}

static Status const_input(Graph *g, const Node *n, int input, const Tensor **t)
{
	*t = node_in(g, n, input);
	if (!*t)
		return ST_OK;
	if (!(*t)->v.data)
		return node_error(g, n, ST_UNSUPPORTED,
		                  "input %d '%s' is computed at run time; nnac needs it to be a constant",
		                  input, (*t)->name);
	return ST_OK;
}

Status infer_const_ints(Graph *g, const Node *n, int input, int64_t **vals, int *count)
{
	const Tensor *t;
	Status st = const_input(g, n, input, &t);

	*vals = NULL;
	*count = 0;
	if (st != ST_OK || !t)
		return st;
	if (!dtype_is_int(t->v.dt))
		return node_error(g, n, ST_INVALID, "input %d '%s' must be an integer tensor, not %s",
		                  input, t->name, dtype_name(t->v.dt));
	*count = (int)val_numel(&t->v);
	*vals = val_to_i64(&g->arena, &t->v);
	return *vals ? ST_OK : graph_oom(g);
}

Status infer_const_floats(Graph *g, const Node *n, int input, double **vals, int *count)
{
	const Tensor *t;
	Status st = const_input(g, n, input, &t);

	*vals = NULL;
	*count = 0;
	if (st != ST_OK || !t)
		return st;
	*count = (int)val_numel(&t->v);
	*vals = val_to_f64(&g->arena, &t->v);
	return *vals ? ST_OK : graph_oom(g);
}

Status eval_oom(EvalCtx *cx, const Node *n)
{
	return node_error(cx->g, n, ST_NOMEM, "out of memory");
}

Status op_ints_arg(Graph *g, const Node *n, const Value *const *in, Arena *a, int i,
                   int64_t **vals, int *count)
{
	*vals = NULL;
	*count = 0;
	if (!has_input(n, i))
		return ST_OK;
	if (!in)
		return infer_const_ints(g, n, i, vals, count);
	if (val_numel(in[i]) == 0)
		return ST_OK;
	*count = (int)val_numel(in[i]);
	*vals = val_to_i64(a, in[i]);
	return *vals ? ST_OK : graph_oom(g);
}

Status op_floats_arg(Graph *g, const Node *n, const Value *const *in, Arena *a, int i,
                     double **vals, int *count)
{
	*vals = NULL;
	*count = 0;
	if (!has_input(n, i))
		return ST_OK;
	if (!in)
		return infer_const_floats(g, n, i, vals, count);
	if (val_numel(in[i]) == 0)
		return ST_OK;
	*count = (int)val_numel(in[i]);
	*vals = val_to_f64(a, in[i]);
	return *vals ? ST_OK : graph_oom(g);
}

Status infer_bad_attr(Graph *g, const Node *n, const char *attr, const char *why)
{
	return node_error(g, n, ST_UNSUPPORTED, "attribute '%s': %s", attr, why);
}
