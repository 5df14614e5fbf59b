/*
 * The graph IR: a DAG of nodes over tensors with static shapes.
 *
 * Tensors and nodes are small integer indices into arrays owned by the Graph
 * (QBE style); everything lives in the graph's arena.  A tensor with
 * non-NULL v.data is a constant (an initializer, a Constant node's value or
 * a folded result).  Nodes are kept in topological order: the importer
 * checks it and every pass preserves it.  A removed node keeps its slot with
 * NODE_DEAD set, so indices stay stable within a compilation.
 *
 * Attributes stay as the model wrote them (name and typed value); each op's
 * infer function validates them and reads them through attr_*().
 */
#ifndef NNAC_GRAPH_H
#define NNAC_GRAPH_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"
#include "value.h"

typedef enum OpKind {
#define OP(id, mi, xi, mo, xo, fl, at, syn) OP_##id,
#include "ops.def"
#undef OP
	OP_COUNT,
	OP_UNKNOWN = OP_COUNT    /* an op nnac does not know; kept for `check` */
} OpKind;

enum { OPF_ACT = 1, OPF_MOVE = 2, OPF_MAC = 4 };

typedef enum AttrKind {
	ATTR_INT, ATTR_FLOAT, ATTR_STRING, ATTR_TENSOR, ATTR_GRAPH,
	ATTR_INTS, ATTR_FLOATS, ATTR_STRINGS, ATTR_TENSORS, ATTR_OTHER
} AttrKind;

typedef struct Attr {
	const char *name;
	AttrKind kind;
	int n;               /* element count for list kinds */
	int64_t i;
	double f;
	const char *s;
	int64_t *ints;
	double *floats;
	const char **strings;
	Value *t;            /* ATTR_TENSOR: one; ATTR_TENSORS: n */
	struct Graph *body;  /* ATTR_GRAPH: If's branch, Loop's or Scan's body */
} Attr;

/* TENSOR_DEFAULT: an initializer that graph.input lists too.  From IR
 * version 4 on, ONNX makes it the input's default value, which a caller
 * may override (graph_overridable; `nnac run --input`); before that it is
 * a constant.  Either way the passes see a constant: its data. */
enum { TENSOR_INPUT = 1, TENSOR_OUTPUT = 2, TENSOR_INIT = 4, TENSOR_DEFAULT = 8 };

typedef struct Tensor {
	const char *name;
	Value v;             /* type, shape; data when constant */
	const char *dim_names[MAX_RANK];  /* symbolic dimension names, or NULL */
	int producer;        /* node index, -1 for graph inputs and constants */
	unsigned flags;      /* TENSOR_* */
} Tensor;

enum { NODE_DEAD = 1 };

typedef struct Node {
	const char *name;    /* never NULL: the importer names unnamed nodes */
	OpKind op;
	const char *op_type; /* as written in the model (for OP_UNKNOWN) */
	const char *domain;
	int nin, nout;
	int *in;             /* tensor indices, -1 for an omitted optional input */
	int *out;            /* tensor indices, -1 for an omitted optional output */
	int nattr;
	Attr *attr;
	unsigned flags;      /* NODE_* */
	OpKind fused_act;    /* OP_COUNT, or an OPF_ACT op fused into this node */
	int fused_node;      /* the fused activation node, for its attributes */
	int ncapture;        /* the last ncapture inputs: outer values its bodies read */
} Node;

typedef struct Graph {
	Arena arena;
	Diag *diag;          /* where errors go; owned by the caller */
	const char *path;    /* model file, for diagnostics */
	const char *dir;     /* folder of the model, for external data */
	int64_t opset;       /* default-domain opset version */
	int64_t ir_version;

	Tensor *tensors;
	int ntensors, cap_tensors;
	int *index, cap_index;   /* open-addressed name -> tensor (the latest of a name); -1 empty */
	Node *nodes;
	int nnodes, cap_nodes;
	int *inputs, ninputs;    /* graph inputs that are not initializers */
	int *outputs, noutputs;

	/* A body (an If branch, a Loop or Scan body) reads values of the scopes
	 * around it by name.  Each such value is a tensor of the body,
	 * captures[k].t, which the node holding the body takes as its input
	 * captures[k].in (one of its last ncapture inputs): so the outer graph
	 * orders and keeps that value like any other input. */
	struct BodyCapture { int t, in; } *captures;
	int ncaptures, cap_captures;
	struct Graph **bodies;   /* the bodies of this graph's nodes, owned */
	int nbodies, cap_bodies;
} Graph;

/* Building. */
void graph_init(Graph *g, Diag *diag, const char *path);
void graph_free(Graph *g);
int graph_add_tensor(Graph *g, const char *name);   /* -1: out of memory */
int graph_find_tensor(const Graph *g, const char *name);
/* Whether t is an initializer a caller may override: graph.input lists it
 * and the model is IR version 4 or later (TENSOR_DEFAULT). */
bool graph_overridable(const Graph *g, const Tensor *t);
int graph_add_node(Graph *g, const char *name, OpKind op, int nin, int nout);
/* A new empty body owned by g (freed with it), with g's path, folder and
 * opsets; NULL when out of memory. */
Graph *graph_add_body(Graph *g);
/* Moves nodes [from, nnodes) to index at (<= from), the nodes [at, from)
 * after them, and renumbers what refers to nodes by index (producers,
 * fused activations): how a pass inserts nodes in topological order. */
void graph_move_nodes(Graph *g, int from, int at);
Status graph_oom(Graph *g);

/* A graph of its own (sub, initialized by the caller) holding nodes[0..n)
 * of g in that order (a dead one, an activation fused into another node,
 * made live), the constants they read, ins[] as its inputs and outs[] as
 * its outputs: what a backend lowers for the part of a model the host
 * runs.  Attributes and constant data are shared with g, so sub must not
 * outlive g.  A node reading a tensor that is neither a constant, an input
 * nor computed before it is ST_INTERNAL. */
Status graph_extract(Graph *g, const int *nodes, int n, const int *ins, int nins, const int *outs, int nouts,
                     Graph *sub);

/* Access. */
static inline Tensor *graph_tensor(Graph *g, int t) { return t < 0 ? 0 : &g->tensors[t]; }
Tensor *node_in(Graph *g, const Node *n, int i);    /* NULL if absent */
Tensor *node_out(Graph *g, const Node *n, int i);   /* NULL if absent */
int node_index(const Graph *g, const Node *n);
/* Every present input (output) of n is a constant. */
bool node_inputs_const(const Graph *g, const Node *n);
bool node_outputs_const(const Graph *g, const Node *n);
/* Count of nodes consuming tensor t (live nodes only) plus 1 if it is a
 * graph output. */
int graph_uses(const Graph *g, int t);

/* Diagnostics with node context: "FILE: node 'NAME' (OP): ..." */
Status node_error(Graph *g, const Node *n, Status st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
Status graph_error(Graph *g, Status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same for a node of a subgraph body (If's branches, a Loop's body),
 * which is not in g: scope names the nodes and attributes that hold the
 * body, as "node 'if_1' (If) then_branch: ", and is printed before the node
 * (NULL: none).  n NULL leaves out the node part: a message about the
 * body itself. */
Status node_verror(Graph *g, const char *scope, const Node *n, Status st, const char *fmt,
                   va_list ap) __attribute__((format(printf, 5, 0)));
/* "node 'NAME' (OP)", as the messages name n (OP carries its domain when
 * that is not the default one), in arena a; NULL when out of memory. */
char *node_where(Arena *a, const Node *n);

/* Attributes; the defaults are the ONNX defaults the caller passes. */
const Attr *attr_find(const Node *n, const char *name);
int64_t attr_i(const Node *n, const char *name, int64_t def);
double attr_f(const Node *n, const char *name, double def);
const char *attr_s(const Node *n, const char *name, const char *def);
/* List attributes: returns the elements and sets *count, or NULL and 0. */
const int64_t *attr_ints(const Node *n, const char *name, int *count);
const double *attr_floats(const Node *n, const char *name, int *count);

/* The op table. */
const char *op_name(OpKind op);      /* the ONNX op_type */
const char *op_synopsis(OpKind op);
unsigned op_flags(OpKind op);
OpKind op_lookup(const char *op_type);   /* OP_UNKNOWN if none */
/* Whether attribute `name` of kind `kind` is in op's schema. */
bool op_attr_known(OpKind op, const char *name, AttrKind *kind);
void op_arity(OpKind op, int *min_in, int *max_in, int *min_out, int *max_out);

/* The printer: one line per node, "%out = Op(%a, %b) {attrs} : type". */
void graph_print(Graph *g, FILE *f);
/* The verifier: structural invariants (indices in range, topological order,
 * single producer, known types after shape inference when typed is true).
 * Reports through diag; returns ST_OK or ST_INTERNAL. */
Status graph_verify(Graph *g, bool typed);

#endif
