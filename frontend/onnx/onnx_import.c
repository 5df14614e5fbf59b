/*
 * ModelProto -> graph IR.
 *
 * The importer only records: it maps names to tensor indices, decodes
 * initializers and attributes, and checks what can be checked without
 * knowing an op's semantics (known op, known attribute names and kinds,
 * arity, every input defined before use).  Shapes and attribute values are
 * the business of shape inference.  Problems are recorded and the import
 * goes on, so `nnac check` can list them all.
 *
 * The bodies of graph attributes (If's branches, Loop's and Scan's body)
 * are imported as graphs of their own, owned by the graph of their node
 * (Attr.body), with the same checks; their messages name the path to them,
 * "node 'if_1' (If) then_branch: node 'n3' (Foo)".  A body reads values of
 * the scopes around it by name: each becomes a capture of the body and an
 * input of the node holding it (graph.h), so that the outer graph orders
 * and keeps it.  Shape inference inlines the bodies (passes/control.c).
 */
#include "onnx_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_NESTING = 16 };   /* subgraph bodies inside bodies */

typedef struct Importer {
	Graph *g;
	const OnnxOptions *opt;
	Status worst;
	const char *scope;   /* while in a body: the path to it, else "" */
	int depth;           /* bodies open */
	struct Importer *outer;   /* in a body: the importer of the graph around it */
	int *slot, cap_slot; /* take_captures: 1 + the input index of tensor t, 0 when none */
} Importer;

static void note(Importer *im, Status st)
{
	if (st != ST_OK && (im->worst == ST_OK || status_exit_code(st) > status_exit_code(im->worst)))
		im->worst = st;
}

/* node_error() with the path of the body being read before the node. */
static Status bad_node(Importer *im, const Node *n, Status st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static Status bad_node(Importer *im, const Node *n, Status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	node_verror(im->g, im->scope, n, st, fmt, ap);
	va_end(ap);
	return st;
}

/* graph_error() with the path of the body being read. */
static Status bad_graph(Importer *im, Status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static Status bad_graph(Importer *im, Status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	node_verror(im->g, im->scope, NULL, st, fmt, ap);
	va_end(ap);
	return st;
}

/* The tensor of im's graph named name: one defined there or, in a body, a
 * value of a scope around it, captured into the body on first use; -1 when
 * no scope defines it (or out of memory). */
static int resolve(Importer *im, const char *name)
{
	Graph *g = im->g;
	int t = graph_find_tensor(g, name), o;

	if (t >= 0 || !im->outer || (o = resolve(im->outer, name)) < 0)
		return t;
	if ((t = graph_add_tensor(g, name)) < 0 ||
	    !arena_grow(&g->arena, (void **)&g->captures, &g->cap_captures, g->ncaptures, sizeof(*g->captures)))
		return note(im, graph_oom(g)), -1;
	/* .in holds the outer tensor until the node takes it (take_captures) */
	g->captures[g->ncaptures++] = (struct BodyCapture){t, o};
	return t;
}

static bool default_domain(const char *domain)
{
	return !domain || !*domain || strcmp(domain, "ai.onnx") == 0;
}

static void read_opset(Importer *im, const Onnx__ModelProto *m)
{
	im->g->opset = 0;
	for (size_t i = 0; i < m->n_opset_import; i++)
		if (default_domain(m->opset_import[i]->domain))
			im->g->opset = m->opset_import[i]->version;
	if (im->g->opset == 0)
		im->g->opset = 1;   /* the ONNX default when the import is absent */
	im->g->ir_version = m->has_ir_version ? m->ir_version : 0;
}

static void read_initializers(Importer *im, const Onnx__GraphProto *gp)
{
	Graph *g = im->g;

	for (size_t i = 0; i < gp->n_initializer; i++) {
		const Onnx__TensorProto *tp = gp->initializer[i];
		int t;

		if (!tp->name || !*tp->name) {
			note(im, bad_graph(im, ST_INVALID, "initializer %zu has no name", i));
			continue;
		}
		if (graph_find_tensor(g, tp->name) >= 0) {
			note(im, bad_graph(im, ST_INVALID, "initializer '%s' is given twice (the ONNX checker "
			                   "refuses such a model; which one holds is not defined)", tp->name));
			continue;
		}
		t = graph_add_tensor(g, tp->name);
		if (t < 0) {
			note(im, graph_oom(g));
			return;
		}
		g->tensors[t].flags |= TENSOR_INIT;
		note(im, onnx_decode_tensor(tp, g->path, g->dir, &g->arena, g->diag, &g->tensors[t].v));
	}
	if (gp->n_sparse_initializer)
		note(im, bad_graph(im, ST_UNSUPPORTED, "sparse initializers are not supported"));
}

static ShapeBinding *find_binding(Importer *im, const char *name)
{
	for (int i = 0; im->opt && i < im->opt->nshapes; i++)
		if (strcmp(im->opt->shapes[i].name, name) == 0)
			return &im->opt->shapes[i];
	return NULL;
}

static Status bind_shape(Importer *im, Tensor *t, ShapeBinding *b)
{
	b->used = 1;
	if (t->v.rank != b->rank)
		return graph_error(im->g, ST_INVALID, "--shape %s: the model declares rank %d, the binding gives %d",
		                   t->name, t->v.rank, b->rank);
	for (int i = 0; i < b->rank; i++) {
		if (t->v.dims[i] >= 0 && t->v.dims[i] != b->dims[i])
			return graph_error(im->g, ST_INVALID, "--shape %s: dimension %d is %lld in the model, the binding gives %lld",
			                   t->name, i, (long long)t->v.dims[i], (long long)b->dims[i]);
		t->v.dims[i] = b->dims[i];
	}
	return ST_OK;
}

static Status input_type(Importer *im, Tensor *t, const Onnx__ValueInfoProto *vi)
{
	Graph *g = im->g;
	const Onnx__TypeProto *tp = vi->type;
	const Onnx__TensorShapeProto *sh;

	if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
		return graph_error(g, ST_UNSUPPORTED, "graph input '%s' is not a tensor", t->name);
	t->v.dt = dtype_from_onnx(tp->tensor_type->elem_type);
	if (t->v.dt == DT_UNDEF)
		return graph_error(g, ST_UNSUPPORTED, "graph input '%s' has element type %s, not supported",
		                   t->name, onnx_dtype_name(tp->tensor_type->elem_type));
	sh = tp->tensor_type->shape;
	if (!sh)
		return graph_error(g, ST_UNSUPPORTED, "graph input '%s' has no shape", t->name);
	if (sh->n_dim > MAX_RANK)
		return graph_error(g, ST_UNSUPPORTED, "graph input '%s' has rank %zu, more than %d",
		                   t->name, sh->n_dim, MAX_RANK);
	t->v.rank = (int)sh->n_dim;
	for (size_t i = 0; i < sh->n_dim; i++) {
		const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
		if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0) {
			t->v.dims[i] = d->dim_value;
		} else {
			t->v.dims[i] = DIM_UNKNOWN;
			if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
				t->dim_names[i] = arena_strdup(&g->arena, d->dim_param);
		}
	}
	return ST_OK;
}

static Status unknown_dims(Graph *g, const Tensor *t)
{
	char buf[256];
	int n = 0;

	for (int i = 0; i < t->v.rank; i++)
		if (t->v.dims[i] < 0)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%d%s%s%s", n ? ", " : "", i,
			              t->dim_names[i] ? " ('" : "", t->dim_names[i] ? t->dim_names[i] : "",
			              t->dim_names[i] ? "')" : "");
	return graph_error(g, ST_UNSUPPORTED,
	                   "graph input '%s' has unknown dimension %s; bind it with --shape %s=D0,D1,...",
	                   t->name, buf, t->name);
}

static Status too_large(Graph *g, const Tensor *t)
{
	char type[160], budget[BUDGET_STR];

	return graph_error(g, ST_INVALID, "graph input '%s' of type %s is larger than %s", t->name,
	                   val_type_str(&t->v, type, sizeof(type)), budget_memory_str(budget));
}

static void read_inputs(Importer *im, const Onnx__GraphProto *gp)
{
	Graph *g = im->g;

	g->inputs = arena_alloc(&g->arena, (gp->n_input + 1) * sizeof(int));
	if (!g->inputs) {
		note(im, graph_oom(g));
		return;
	}
	for (size_t i = 0; i < gp->n_input; i++) {
		const Onnx__ValueInfoProto *vi = gp->input[i];
		ShapeBinding *b;
		Status st;
		int t;

		if (!vi->name || !*vi->name) {
			note(im, graph_error(g, ST_INVALID, "graph input %zu has no name", i));
			continue;
		}
		t = graph_find_tensor(g, vi->name);
		if (t >= 0 && (g->tensors[t].flags & (TENSOR_INPUT | TENSOR_DEFAULT))) {
			note(im, graph_error(g, ST_INVALID, "graph input '%s' is listed twice", vi->name));
			continue;
		}
		if (t >= 0) {    /* an initializer: the input's default value */
			g->tensors[t].flags |= TENSOR_DEFAULT;
			continue;
		}
		t = graph_add_tensor(g, vi->name);
		if (t < 0) {
			note(im, graph_oom(g));
			return;
		}
		g->tensors[t].flags |= TENSOR_INPUT;
		g->inputs[g->ninputs++] = t;
		st = input_type(im, &g->tensors[t], vi);
		if (st == ST_OK && (b = find_binding(im, vi->name)))
			st = bind_shape(im, &g->tensors[t], b);
		if (st == ST_OK && !val_known(&g->tensors[t].v))
			st = unknown_dims(g, &g->tensors[t]);
		if (st == ST_OK && !val_size_ok(&g->tensors[t].v))
			st = too_large(g, &g->tensors[t]);
		note(im, st);
	}
}

static AttrKind attr_kind(Onnx__AttributeProto__AttributeType type)
{
	switch (type) {
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return ATTR_FLOAT;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return ATTR_INT;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return ATTR_STRING;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return ATTR_TENSOR;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return ATTR_GRAPH;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return ATTR_FLOATS;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return ATTR_INTS;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return ATTR_STRINGS;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: return ATTR_TENSORS;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED:
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR:
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO:
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS:
	case _ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE_IS_INT_SIZE:
		break;
	}
	return ATTR_OTHER;
}

static const char *attr_kind_name(AttrKind k)
{
	static const char *const names[] = {
		"int", "float", "string", "tensor", "graph", "ints", "floats", "strings",
		"tensors", "other",
	};
	return names[k];
}

/* Copies the payload of ap into a (whose kind is set). */
static Status attr_payload(Importer *im, const Node *n, const Onnx__AttributeProto *ap, Attr *a)
{
	Graph *g = im->g;
	Arena *ar = &g->arena;

	switch (a->kind) {
	case ATTR_INT: a->i = ap->i; return ST_OK;
	case ATTR_FLOAT: a->f = ap->f; return ST_OK;
	case ATTR_STRING:
		a->s = arena_strndup(ar, (const char *)ap->s.data, ap->s.len);
		return a->s ? ST_OK : graph_oom(g);
	case ATTR_INTS:
		a->n = (int)ap->n_ints;
		a->ints = arena_alloc(ar, (ap->n_ints + 1) * sizeof(int64_t));
		if (!a->ints)
			return graph_oom(g);
		if (ap->n_ints)    /* ap->ints is NULL for an empty list */
			memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
		return ST_OK;
	case ATTR_FLOATS:
		a->n = (int)ap->n_floats;
		a->floats = arena_alloc(ar, (ap->n_floats + 1) * sizeof(double));
		if (!a->floats)
			return graph_oom(g);
		for (size_t i = 0; i < ap->n_floats; i++)
			a->floats[i] = ap->floats[i];
		return ST_OK;
	case ATTR_STRINGS:
		a->n = (int)ap->n_strings;
		a->strings = arena_alloc(ar, (ap->n_strings + 1) * sizeof(char *));
		if (!a->strings)
			return graph_oom(g);
		for (size_t i = 0; i < ap->n_strings; i++)
			if (!(a->strings[i] = arena_strndup(ar, (const char *)ap->strings[i].data, ap->strings[i].len)))
				return graph_oom(g);
		return ST_OK;
	case ATTR_TENSOR:
		if (!ap->t)
			return bad_node(im, n, ST_INVALID, "attribute '%s' of type tensor has no tensor", a->name);
		a->n = 1;
		a->t = arena_alloc(ar, sizeof(Value));
		if (!a->t)
			return graph_oom(g);
		return onnx_decode_tensor(ap->t, g->path, g->dir, ar, g->diag, a->t);
	case ATTR_TENSORS:
		a->n = (int)ap->n_tensors;
		a->t = arena_alloc(ar, (ap->n_tensors + 1) * sizeof(Value));
		if (!a->t)
			return graph_oom(g);
		for (size_t i = 0; i < ap->n_tensors; i++) {
			Status st = onnx_decode_tensor(ap->tensors[i], g->path, g->dir, ar, g->diag, &a->t[i]);
			if (st != ST_OK)
				return st;
		}
		return ST_OK;
	case ATTR_GRAPH: case ATTR_OTHER:
		return ST_OK;
	}
	nnac_unreachable();
}

static Status read_attr(Importer *im, Node *n, const Onnx__AttributeProto *ap, Attr *a)
{
	Graph *g = im->g;
	AttrKind want;

	a->name = arena_strdup(&g->arena, ap->name ? ap->name : "");
	if (!a->name)
		return graph_oom(g);
	a->kind = attr_kind(ap->type);
	/* An op nnac does not know is reported already: what its attributes
	 * would hold matters no more, only malformed data is another problem. */
	if (n->op == OP_UNKNOWN && ap->has_type)
		return attr_payload(im, n, ap, a);
	if (ap->ref_attr_name && *ap->ref_attr_name)
		return bad_node(im, n, ST_UNSUPPORTED, "attribute '%s' refers to a function attribute", a->name);
	if (!ap->has_type || a->kind == ATTR_OTHER)
		return bad_node(im, n, ap->has_type ? ST_UNSUPPORTED : ST_INVALID,
		                "attribute '%s' has %s type %d", a->name,
		                ap->has_type ? "unsupported" : "no", (int)ap->type);
	if (!op_attr_known(n->op, a->name, &want))
		return bad_node(im, n, ST_UNSUPPORTED, "attribute '%s' is not supported", a->name);
	if (want != a->kind)
		return bad_node(im, n, ST_INVALID, "attribute '%s' must be of type %s, not %s",
		                a->name, attr_kind_name(want), attr_kind_name(a->kind));
	return attr_payload(im, n, ap, a);
}

static Status check_arity(Importer *im, const Node *n)
{
	int mi, xi, mo, xo;

	if (n->op == OP_UNKNOWN)
		return ST_OK;
	op_arity(n->op, &mi, &xi, &mo, &xo);
	if (n->nin < mi || n->nin > xi)
		return bad_node(im, n, ST_INVALID, "has %d inputs; %s takes %d to %d",
		                n->nin, n->op_type, mi, xi);
	if (n->nout < (mo ? mo : 1) || n->nout > xo)
		return bad_node(im, n, ST_INVALID, "has %d outputs; %s produces %d to %d",
		                n->nout, n->op_type, mo ? mo : 1, xo);
	return ST_OK;
}

static Status link_inputs(Importer *im, Node *n, const Onnx__NodeProto *np)
{
	for (size_t k = 0; k < np->n_input; k++) {
		const char *name = np->input[k];
		if (!name || !*name)
			continue;
		n->in[k] = resolve(im, name);
		if (n->in[k] < 0)
			return bad_node(im, n, ST_INVALID,
			                "input '%s' is not a graph input, an initializer, or an output of an earlier node",
			                name);
	}
	return ST_OK;
}

static Status link_outputs(Importer *im, Node *n, const Onnx__NodeProto *np)
{
	Graph *g = im->g;

	for (size_t k = 0; k < np->n_output; k++) {
		const char *name = np->output[k];
		int t;

		if (!name || !*name)
			continue;
		if (graph_find_tensor(g, name) >= 0)
			return bad_node(im, n, ST_INVALID, "output '%s' is already defined", name);
		t = graph_add_tensor(g, name);
		if (t < 0)
			return graph_oom(g);
		g->tensors[t].producer = node_index(g, n);
		n->out[k] = t;
	}
	return ST_OK;
}

static Status check_op(Importer *im, const Node *n)
{
	if (n->op != OP_UNKNOWN)
		return ST_OK;
	return bad_node(im, n, ST_UNSUPPORTED, "operator '%s%s%s' is not supported",
	                n->domain, *n->domain ? "." : "", n->op_type);
}

/* The node's name, or OPTYPE_IDX for a node the model leaves unnamed. */
static const char *node_name(const Onnx__NodeProto *np, size_t idx, char *buf, size_t size)
{
	const char *op_type = np->op_type && *np->op_type ? np->op_type : "node";

	if (np->name && *np->name)
		return np->name;
	snprintf(buf, size, "%s_%zu", op_type, idx);
	return buf;
}

static void read_node(Importer *im, const Onnx__NodeProto *np, size_t idx);
static void read_outputs(Importer *im, const Onnx__GraphProto *gp);

/* A body's inputs: the values its node passes in (a Loop's iteration
 * number, condition and carried values...), typed by the node when shape
 * inference inlines the body; the declared types may leave out shapes. */
static void read_body_inputs(Importer *im, const Onnx__GraphProto *gp)
{
	Graph *g = im->g;

	g->inputs = arena_alloc(&g->arena, (gp->n_input + 1) * sizeof(int));
	if (!g->inputs) {
		note(im, graph_oom(g));
		return;
	}
	for (size_t i = 0; i < gp->n_input; i++) {
		const char *name = gp->input[i]->name;
		int t;

		if (!name || !*name || graph_find_tensor(g, name) >= 0) {
			note(im, bad_graph(im, ST_INVALID, "body input %zu ('%s') has no name or is defined twice",
			                   i, name ? name : ""));
			continue;
		}
		if ((t = graph_add_tensor(g, name)) < 0) {
			note(im, graph_oom(g));
			return;
		}
		g->tensors[t].flags |= TENSOR_INPUT;
		g->inputs[g->ninputs++] = t;
	}
}

/* Imports body gp, attribute attr (element k of a list of graphs when
 * k >= 0) of node n, as a body of im's graph; NULL when it cannot exist
 * (too deep, out of memory), which is reported. */
static Graph *read_body(Importer *im, const Node *n, const char *attr, long k,
                        const Onnx__GraphProto *gp)
{
	Arena *a = &im->g->arena;
	const char *where, *scope = NULL;
	Importer bi = *im;

	if (im->depth == MAX_NESTING) {
		note(im, bad_node(im, n, ST_UNSUPPORTED, "attribute '%s': subgraphs nested more than %d deep",
		                  attr, MAX_NESTING));
		return NULL;
	}
	where = node_where(a, n);
	if (where)
		scope = k < 0 ? arena_printf(a, "%s%s %s: ", im->scope, where, attr)
		              : arena_printf(a, "%s%s %s[%ld]: ", im->scope, where, attr, k);
	if (!scope || !(bi.g = graph_add_body(im->g))) {
		note(im, graph_oom(im->g));
		return NULL;
	}
	bi.opt = NULL;   /* --shape binds the model's inputs, not a body's */
	bi.worst = ST_OK, bi.scope = scope, bi.depth++, bi.outer = im;
	bi.slot = NULL, bi.cap_slot = 0;
	read_initializers(&bi, gp);
	read_body_inputs(&bi, gp);
	for (size_t i = 0; i < gp->n_node; i++)
		read_node(&bi, gp->node[i], i);
	read_outputs(&bi, gp);
	note(im, bi.worst);
	return bi.g;
}

/* Makes the values n's bodies capture inputs of n, each once, after its
 * own: captures[k].in turns from the outer tensor into n's input index. */
static Status take_captures(Importer *im, Node *n)
{
	Graph *g = im->g;
	int extra = 0, nin = n->nin, *in;

	for (int i = 0; i < n->nattr; i++)
		if (n->attr[i].body)
			extra += n->attr[i].body->ncaptures;
	if (extra == 0)
		return ST_OK;
	while (g->ntensors > im->cap_slot)
		if (!arena_grow(&g->arena, (void **)&im->slot, &im->cap_slot, im->cap_slot, sizeof(int)))
			return graph_oom(g);
	if (!(in = arena_alloc(&g->arena, (size_t)(n->nin + extra + 1) * sizeof(int))))
		return graph_oom(g);
	memcpy(in, n->in, (size_t)n->nin * sizeof(int));
	for (int i = 0; i < n->nattr; i++) {
		Graph *b = n->attr[i].body;
		for (int k = 0; b && k < b->ncaptures; k++) {
			int t = b->captures[k].in;
			if (!im->slot[t]) {
				in[nin] = t;
				im->slot[t] = 1 + nin++;
			}
			b->captures[k].in = im->slot[t] - 1;
		}
	}
	for (int j = n->nin; j < nin; j++)
		im->slot[in[j]] = 0;   /* clean for the next node */
	n->in = in;
	n->ncapture = nin - n->nin;
	n->nin = nin;
	return ST_OK;
}

/* Reads np's attributes into n->attr, importing the bodies of its graph
 * attributes (a list of graphs, which no supported op takes, is imported
 * for its checks only). */
static void read_attrs(Importer *im, Node *n, const Onnx__NodeProto *np)
{
	for (size_t k = 0; k < np->n_attribute; k++) {
		const Onnx__AttributeProto *ap = np->attribute[k];
		const char *name = ap->name ? ap->name : "";
		Attr *a = &n->attr[n->nattr];
		Status st = read_attr(im, n, ap, a);

		note(im, st);
		if (st == ST_OK)
			n->nattr++;
		if (ap->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH && ap->g) {
			Graph *b = read_body(im, n, name, -1, ap->g);
			if (st == ST_OK)
				a->body = b;
		}
		if (ap->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS)
			for (size_t i = 0; i < ap->n_graphs; i++)
				read_body(im, n, name, (long)i, ap->graphs[i]);
	}
	note(im, take_captures(im, n));
}

static void read_node(Importer *im, const Onnx__NodeProto *np, size_t idx)
{
	Graph *g = im->g;
	const char *op_type = np->op_type ? np->op_type : "";
	OpKind op = default_domain(np->domain) ? op_lookup(op_type) : OP_UNKNOWN;
	char fallback[64];
	Node *n;
	Status st;
	int ni;

	ni = graph_add_node(g, node_name(np, idx, fallback, sizeof(fallback)), op,
	                    (int)np->n_input, (int)np->n_output);
	if (ni < 0) {
		note(im, graph_oom(g));
		return;
	}
	n = &g->nodes[ni];
	n->op_type = arena_strdup(&g->arena, op_type);
	n->domain = arena_strdup(&g->arena, np->domain ? np->domain : "");
	n->attr = arena_alloc(&g->arena, (np->n_attribute + 1) * sizeof(Attr));
	if (!n->op_type || !n->domain || !n->attr) {
		note(im, graph_oom(g));
		return;
	}
	note(im, check_op(im, n));
	st = link_inputs(im, n, np);
	note(im, st);
	note(im, link_outputs(im, n, np));
	if (st == ST_OK)
		note(im, check_arity(im, n));
	read_attrs(im, n, np);
}

static void read_outputs(Importer *im, const Onnx__GraphProto *gp)
{
	Graph *g = im->g;

	g->outputs = arena_alloc(&g->arena, (gp->n_output + 1) * sizeof(int));
	if (!g->outputs) {
		note(im, graph_oom(g));
		return;
	}
	for (size_t i = 0; i < gp->n_output; i++) {
		const char *name = gp->output[i]->name;
		int t = name ? resolve(im, name) : -1;

		if (t < 0) {
			note(im, bad_graph(im, ST_INVALID, "graph output '%s' is not produced by any node",
			                   name ? name : ""));
			continue;
		}
		g->tensors[t].flags |= TENSOR_OUTPUT;
		g->outputs[g->noutputs++] = t;
	}
	if (g->noutputs == 0 && im->worst == ST_OK)
		note(im, bad_graph(im, ST_INVALID, "the graph has no outputs"));
}

static void check_bindings(Importer *im)
{
	for (int i = 0; im->opt && i < im->opt->nshapes; i++)
		if (!im->opt->shapes[i].used)
			note(im, graph_error(im->g, ST_INVALID, "--shape %s: the model has no input of that name",
			                     im->opt->shapes[i].name));
}

Status onnx_import(Graph *g, const char *path, const OnnxOptions *opt)
{
	uint8_t *buf;
	size_t len;
	Status st;

	st = onnx_read_file(path, g->diag, &buf, &len);
	if (st != ST_OK)
		return st;
	st = onnx_import_mem(g, path, buf, len, opt);
	nnac_free(buf);
	return st;
}

Status onnx_import_mem(Graph *g, const char *path, const uint8_t *buf, size_t len,
                       const OnnxOptions *opt)
{
	Importer im = {g, opt, ST_OK, "", 0, NULL, NULL, 0};
	Onnx__ModelProto *m;

	g->path = arena_strdup(&g->arena, path);
	g->dir = onnx_dir_of(&g->arena, path);
	if (!g->path || !g->dir)
		return graph_oom(g);
	m = onnx__model_proto__unpack(NULL, len, buf);
	if (!m)
		return graph_error(g, ST_INVALID, "not a valid ONNX model (protobuf decoding failed; truncated or not an .onnx file?)");
	if (!m->graph) {
		onnx__model_proto__free_unpacked(m, NULL);
		return graph_error(g, ST_INVALID, "the model has no graph");
	}
	read_opset(&im, m);
	read_initializers(&im, m->graph);
	read_inputs(&im, m->graph);
	for (size_t i = 0; i < m->graph->n_node; i++)
		read_node(&im, m->graph->node[i], i);
	read_outputs(&im, m->graph);
	check_bindings(&im);
	onnx__model_proto__free_unpacked(m, NULL);
	return im.worst;
}

bool onnx_parse_shape_binding(char *arg, ShapeBinding *b, Diag *d)
{
	char *eq = strrchr(arg, '=');
	const char *p;

	memset(b, 0, sizeof(*b));
	if (!eq || eq == arg || !eq[1]) {
		diag_add(d, ST_INVALID, "--shape '%s': expected NAME=D0,D1,...", arg);
		return false;
	}
	b->name = arg;
	for (p = eq + 1; *p;) {
		char *end;
		long long x = strtoll(p, &end, 10);
		if (end == p || x < 0 || b->rank == MAX_RANK || (*end && *end != ',')) {
			diag_add(d, ST_INVALID, "--shape '%s': dimensions must be up to %d non-negative integers separated by commas",
			         arg, MAX_RANK);
			return false;
		}
		b->dims[b->rank++] = x;
		p = *end ? end + 1 : end;
	}
	*eq = '\0';
	return true;
}
