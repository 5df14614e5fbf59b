/*
 * Graph IR: construction, access, attributes and diagnostics with node
 * context.  The op table itself lives in ir/op.c.
 */
#include "graph.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void graph_init(Graph *g, Diag *diag, const char *path)
{
	memset(g, 0, sizeof(*g));
	arena_init(&g->arena);
	g->diag = diag;
	g->path = path ? path : "<graph>";
	g->dir = ".";
}

void graph_free(Graph *g)
{
	for (int i = 0; i < g->nbodies; i++)
		graph_free(g->bodies[i]);
	arena_free(&g->arena);
}

Graph *graph_add_body(Graph *g)
{
	Graph *b = arena_alloc(&g->arena, sizeof(Graph));

	if (!b || !arena_grow(&g->arena, (void **)&g->bodies, &g->cap_bodies, g->nbodies, sizeof(Graph *)))
		return NULL;
	graph_init(b, g->diag, g->path);
	b->dir = g->dir, b->opset = g->opset, b->ir_version = g->ir_version;
	g->bodies[g->nbodies++] = b;
	return b;
}

/* Reverses nodes [lo, hi) of g. */
static void reverse_nodes(Graph *g, int lo, int hi)
{
	for (hi--; lo < hi; lo++, hi--) {
		Node t = g->nodes[lo];
		g->nodes[lo] = g->nodes[hi];
		g->nodes[hi] = t;
	}
}

void graph_move_nodes(Graph *g, int from, int at)
{
	int n = g->nnodes - from;

	/* A rotation by three reversals: node i of [at, nnodes) goes to
	 * at + (i - at + n) mod (nnodes - at). */
	reverse_nodes(g, at, from);
	reverse_nodes(g, from, g->nnodes);
	reverse_nodes(g, at, g->nnodes);
	for (int i = 0; i < g->nnodes; i++) {
		Node *x = &g->nodes[i];
		if (x->fused_node >= at)
			x->fused_node = x->fused_node >= from ? x->fused_node - from + at : x->fused_node + n;
	}
	for (int t = 0; t < g->ntensors; t++) {
		int *p = &g->tensors[t].producer;
		if (*p >= at)
			*p = *p >= from ? *p - from + at : *p + n;
	}
}

Status graph_oom(Graph *g)
{
	return diag_add(g->diag, ST_NOMEM, "%s: out of memory", g->path);
}

/* The name index: FNV-1a, linear probing, at most half full, so that a
 * model of n tensors imports in O(n) name lookups, not O(n^2). */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* The slot of name in the index: where it is, or the empty slot where it
 * would go. */
static int index_slot(const Graph *g, const char *name)
{
	int mask = g->cap_index - 1, i = (int)(name_hash(name) & (uint32_t)mask);

	while (g->index[i] >= 0 && strcmp(g->tensors[g->index[i]].name, name) != 0)
		i = (i + 1) & mask;
	return i;
}

/* Makes room for one more name; false when out of memory. */
static bool index_reserve(Graph *g)
{
	int cap = g->cap_index ? g->cap_index : 64, *old = g->index;

	if (g->cap_index && 2 * (g->ntensors + 1) <= g->cap_index)
		return true;
	while (2 * (g->ntensors + 1) > cap)
		cap *= 2;
	if (!(g->index = arena_alloc(&g->arena, (size_t)cap * sizeof(int)))) {
		g->index = old;
		return false;
	}
	memset(g->index, 0xff, (size_t)cap * sizeof(int));
	g->cap_index = cap;
	for (int t = 0; t < g->ntensors; t++)
		g->index[index_slot(g, g->tensors[t].name)] = t;
	return true;
}

int graph_add_tensor(Graph *g, const char *name)
{
	Tensor *t;

	if (!index_reserve(g) ||
	    !arena_grow(&g->arena, (void **)&g->tensors, &g->cap_tensors, g->ntensors, sizeof(Tensor)))
		return -1;
	t = &g->tensors[g->ntensors];
	memset(t, 0, sizeof(*t));
	t->name = arena_strdup(&g->arena, name);
	if (!t->name)
		return -1;
	t->producer = -1;
	g->index[index_slot(g, t->name)] = g->ntensors;
	return g->ntensors++;
}

int graph_find_tensor(const Graph *g, const char *name)
{
	return g->cap_index ? g->index[index_slot(g, name)] : -1;
}

bool graph_overridable(const Graph *g, const Tensor *t)
{
	return (t->flags & TENSOR_DEFAULT) && g->ir_version >= 4;
}

int graph_add_node(Graph *g, const char *name, OpKind op, int nin, int nout)
{
	Node *n;

	if (!arena_grow(&g->arena, (void **)&g->nodes, &g->cap_nodes, g->nnodes, sizeof(Node)))
		return -1;
	n = &g->nodes[g->nnodes];
	memset(n, 0, sizeof(*n));
	n->name = arena_strdup(&g->arena, name);
	n->op = op;
	n->op_type = op < OP_COUNT ? op_name(op) : "?";
	n->domain = "";
	n->nin = nin;
	n->nout = nout;
	n->in = arena_alloc(&g->arena, (size_t)(nin + 1) * sizeof(int));
	n->out = arena_alloc(&g->arena, (size_t)(nout + 1) * sizeof(int));
	n->fused_act = OP_COUNT;
	n->fused_node = -1;
	if (!n->name || !n->in || !n->out)
		return -1;
	for (int i = 0; i < nin; i++)
		n->in[i] = -1;
	for (int i = 0; i < nout; i++)
		n->out[i] = -1;
	return g->nnodes++;
}

Tensor *node_in(Graph *g, const Node *n, int i)
{
	return i < n->nin && n->in[i] >= 0 ? &g->tensors[n->in[i]] : NULL;
}

Tensor *node_out(Graph *g, const Node *n, int i)
{
	return i < n->nout && n->out[i] >= 0 ? &g->tensors[n->out[i]] : NULL;
}

int node_index(const Graph *g, const Node *n)
{
	return (int)(n - g->nodes);
}

static bool all_const(const Graph *g, const int *idx, int count)
{
	for (int i = 0; i < count; i++)
		if (idx[i] >= 0 && !g->tensors[idx[i]].v.data)
			return false;
	return true;
}

bool node_inputs_const(const Graph *g, const Node *n) { return all_const(g, n->in, n->nin); }
bool node_outputs_const(const Graph *g, const Node *n) { return all_const(g, n->out, n->nout); }

int graph_uses(const Graph *g, int t)
{
	int uses = 0;

	for (int i = 0; i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];
		if (n->flags & NODE_DEAD)
			continue;
		for (int k = 0; k < n->nin; k++)
			uses += n->in[k] == t;
	}
	for (int i = 0; i < g->noutputs; i++)
		uses += g->outputs[i] == t;
	return uses;
}

/* The domain of n's op as messages show it: none for the default one. */
static const char *shown_domain(const Node *n)
{
	return strcmp(n->domain, "ai.onnx") == 0 ? "" : n->domain;
}

char *node_where(Arena *a, const Node *n)
{
	const char *domain = shown_domain(n);

	return arena_printf(a, "node '%s' (%s%s%s)", n->name, domain, *domain ? "." : "", n->op_type);
}

Status node_verror(Graph *g, const char *scope, const Node *n, Status st, const char *fmt,
                   va_list ap)
{
	char text[1024];
	const char *domain;

	vsnprintf(text, sizeof(text), fmt, ap);
	if (!n)
		return diag_add(g->diag, st, "%s: %s%s", g->path, scope ? scope : "", text);
	domain = shown_domain(n);
	return diag_add(g->diag, st, "%s: %snode '%s' (%s%s%s): %s", g->path, scope ? scope : "",
	                n->name, domain, *domain ? "." : "", n->op_type, text);
}

Status node_error(Graph *g, const Node *n, Status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	node_verror(g, NULL, n, st, fmt, ap);
	va_end(ap);
	return st;
}

Status graph_error(Graph *g, Status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	node_verror(g, NULL, NULL, st, fmt, ap);
	va_end(ap);
	return st;
}

const Attr *attr_find(const Node *n, const char *name)
{
	for (int i = 0; i < n->nattr; i++)
		if (strcmp(n->attr[i].name, name) == 0)
			return &n->attr[i];
	return NULL;
}

int64_t attr_i(const Node *n, const char *name, int64_t def)
{
	const Attr *a = attr_find(n, name);

	return a && a->kind == ATTR_INT ? a->i : def;
}

double attr_f(const Node *n, const char *name, double def)
{
	const Attr *a = attr_find(n, name);

	return a && a->kind == ATTR_FLOAT ? a->f : def;
}

const char *attr_s(const Node *n, const char *name, const char *def)
{
	const Attr *a = attr_find(n, name);

	return a && a->kind == ATTR_STRING ? a->s : def;
}

const int64_t *attr_ints(const Node *n, const char *name, int *count)
{
	const Attr *a = attr_find(n, name);

	if (!a || a->kind != ATTR_INTS) {
		*count = 0;
		return NULL;
	}
	*count = a->n;
	return a->ints;
}

const double *attr_floats(const Node *n, const char *name, int *count)
{
	const Attr *a = attr_find(n, name);

	if (!a || a->kind != ATTR_FLOATS) {
		*count = 0;
		return NULL;
	}
	*count = a->n;
	return a->floats;
}

/* ---- extraction ---- */

typedef struct Extract {
	Graph *g, *sub;
	int *map;            /* g tensor -> sub tensor, -1 */
} Extract;

/* Tensor t of g in sub: its type, and its data when a constant (shared). */
static int extract_tensor(Extract *x, int t)
{
	const Tensor *from = &x->g->tensors[t];
	int k;

	if (x->map[t] >= 0)
		return x->map[t];
	k = graph_add_tensor(x->sub, from->name);
	if (k < 0)
		return -1;
	x->sub->tensors[k].v = from->v;
	memcpy(x->sub->tensors[k].dim_names, from->dim_names, sizeof(from->dim_names));
	x->sub->tensors[k].flags = from->flags & TENSOR_INIT;
	x->map[t] = k;
	return k;
}

/* A copy of node i of g in sub, live, attributes shared; an activation fused
 * into it comes along as a dead node holding its attributes. */
static Status extract_node(Extract *x, int i)
{
	const Node *n = &x->g->nodes[i];
	int k = graph_add_node(x->sub, n->name, n->op, n->nin, n->nout), fk = -1;
	Node *c;

	if (k < 0)
		return graph_oom(x->sub);
	if (n->fused_act != OP_COUNT) {
		const Node *f = &x->g->nodes[n->fused_node];
		fk = graph_add_node(x->sub, f->name, f->op, 0, 0);
		if (fk < 0)
			return graph_oom(x->sub);
		x->sub->nodes[fk].nattr = f->nattr;
		x->sub->nodes[fk].attr = f->attr;
		x->sub->nodes[fk].flags = NODE_DEAD;
	}
	c = &x->sub->nodes[k];
	c->op_type = n->op_type, c->domain = n->domain;
	c->nattr = n->nattr, c->attr = n->attr;
	c->fused_act = n->fused_act, c->fused_node = fk;
	for (int j = 0; j < n->nin; j++) {
		int t = n->in[j];
		if (t < 0)
			continue;
		if (x->map[t] < 0 && !x->g->tensors[t].v.data)
			return graph_error(x->g, ST_INTERNAL, "node '%s' reads '%s', which the extracted nodes "
			                   "neither compute nor take as input", n->name, x->g->tensors[t].name);
		if ((c->in[j] = extract_tensor(x, t)) < 0)
			return graph_oom(x->sub);
	}
	for (int j = 0; j < n->nout; j++) {
		if (n->out[j] < 0)
			continue;
		if ((c->out[j] = extract_tensor(x, n->out[j])) < 0)
			return graph_oom(x->sub);
		x->sub->tensors[c->out[j]].producer = k;
	}
	return ST_OK;
}

static int *extract_list(Extract *x, const int *t, int n, unsigned flag)
{
	int *v = arena_alloc(&x->sub->arena, (size_t)(n + 1) * sizeof(int));

	for (int i = 0; v && i < n; i++) {
		if ((v[i] = extract_tensor(x, t[i])) < 0)
			return NULL;
		x->sub->tensors[v[i]].flags |= flag;
	}
	return v;
}

Status graph_extract(Graph *g, const int *nodes, int n, const int *ins, int nins, const int *outs, int nouts,
                     Graph *sub)
{
	Extract x = {g, sub, arena_alloc(&sub->arena, (size_t)(g->ntensors + 1) * sizeof(int))};
	Status st = ST_OK;

	if (!x.map)
		return graph_oom(sub);
	for (int t = 0; t < g->ntensors; t++)
		x.map[t] = -1;
	sub->opset = g->opset, sub->ir_version = g->ir_version, sub->dir = g->dir;
	sub->inputs = extract_list(&x, ins, nins, TENSOR_INPUT);
	sub->ninputs = nins;
	if (!sub->inputs)
		return graph_oom(sub);
	for (int i = 0; i < n && st == ST_OK; i++)
		st = extract_node(&x, nodes[i]);
	if (st != ST_OK)
		return st;
	for (int i = 0; i < nouts; i++)
		if (x.map[outs[i]] < 0)
			return graph_error(g, ST_INTERNAL, "output '%s' is not computed by the extracted nodes",
			                   g->tensors[outs[i]].name);
	sub->outputs = extract_list(&x, outs, nouts, TENSOR_OUTPUT);
	sub->noutputs = nouts;
	return sub->outputs ? ST_OK : graph_oom(sub);
}
