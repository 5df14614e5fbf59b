/*
 * The loop IR: DianNao's tiled loop nests made explicit.
 *
 * A LoopProgram is what every backend consumes.  It holds
 *   - memory levels (dram, gbuf, spad, reg ...), each with a capacity in
 *     bytes when the target knows one;
 *   - buffers: typed, shaped, row-major arrays placed at a level.  Program
 *     buffers (kernel == -1) are the graph's tensors in DRAM: inputs,
 *     outputs, constants (weights, with their data) and intermediates.
 *     Kernel buffers are local to one kernel (tiles, padded copies,
 *     accumulators).  A view reinterprets another buffer's memory with a
 *     new shape at an element offset (Reshape, Flatten, Squeeze...);
 *   - kernels, one or more per graph layer, run in order; each has a body;
 *   - nodes: `for` loops and statements, in one array per program, linked
 *     into trees through first-child (body) and next-sibling (next) indices;
 *   - index expressions, in one array per program.
 *
 * Everything is a small integer index into the program's arrays (QBE
 * style) and lives in the program's arena.  -1 means "none" everywhere.
 *
 * Loops.  `for v in start..end step s` runs v = start + k*s for
 * k = 0 .. extent-1, with end = start + extent*s (the printer writes end, the
 * structure keeps extent).  Loops are rectangular: start, extent and step
 * are constants, so the iteration space of any statement is a box.  A loop
 * is temporal (run in time) or spatial (spread across processing elements);
 * either may be marked unroll.  The interpreter runs both the same way.
 *
 * Index expressions are affine in the loop variables of the enclosing loops,
 * plus floor division and modulo by positive constants.  A variable is
 * referred to by the index of the `for` node that binds it.  A loaded index
 * (LE_LOAD, `table[ids[i], j]`) is the value of an element of an integer
 * buffer, known only at run time: gathers and scatters whose indices are
 * data.  It stands alone as one whole index of a reference, its own
 * indices are affine, and the verifier cannot bound it, so every use is
 * checked when it runs: a value v < 0 becomes v + dim once (ONNX's
 * negative indices), and what is still outside [0, dim) stops the run with
 * an error naming the kernel, the statement, the value and the dimension.
 *
 * Statements read and write buffer elements through LoopArgs: a buffer and
 * one index expression per dimension, or a literal.  arg[0] is always the
 * element written.  Floating-point statements compute in double and round
 * once when storing into the destination's type; integer ones compute in
 * 64 bits and convert on store as the graph interpreter does (val_set_*).
 */
#ifndef NNAC_LOOP_H
#define NNAC_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "graph.h"

typedef enum LoopNodeKind {
#define NODE(id, kw, mina, maxa, syn) LN_##id,
#include "loopstmt.def"
#undef NODE
	LN_COUNT
} LoopNodeKind;

typedef enum LoopExprKind {
	LE_CONST,            /* c */
	LE_VAR,              /* the variable of `for` node c */
	LE_ADD,              /* a + b */
	LE_SUB,              /* a - b */
	LE_MUL,              /* c * a, c a constant (printed first) */
	LE_DIV,              /* floor(a / c), c > 0 */
	LE_MOD,              /* a - c * floor(a / c), c > 0 */
	LE_LOAD,             /* buffer c at indices ilist[list .. list + rank): run-time value */
} LoopExprKind;

typedef struct LoopExpr {
	LoopExprKind kind;
	int a, b;            /* operand expressions, -1 when unused (LE_LOAD: both -1) */
	int64_t c;           /* constant, multiplier, divisor, for-node index, or buffer */
	int list;            /* LE_LOAD: its first index in the program's ilist, else -1 */
	int depth;           /* 1 for a leaf, else 1 + its deepest operand's */
} LoopExpr;

/* The deepest index expression the parser accepts: analyses recurse over
 * expressions, so text must not be able to drive them past the stack. */
enum { LOOP_MAX_EXPR_DEPTH = 256 };

typedef struct LoopLevel {
	const char *name;
	int64_t capacity;    /* bytes; 0: unbounded or unknown */
	const char *doc;     /* comment lines before the declaration, or NULL */
} LoopLevel;

enum {
	LB_INPUT = 1,        /* bound by the caller before a run */
	LB_OUTPUT = 2,       /* read by the caller after a run */
	LB_CONST = 4,        /* contents fixed at compile time (data) */
};

typedef struct LoopBuf {
	const char *name;    /* identifier, unique in the program */
	DType dt;
	int rank;            /* 0 for a scalar */
	int64_t dims[MAX_RANK];
	int level;           /* index into levels */
	int kernel;          /* owning kernel, -1 for a program buffer */
	unsigned flags;      /* LB_* */
	const char *tensor;  /* graph tensor name for inputs and outputs, or NULL */
	int view_of;         /* buffer whose memory this one reinterprets, or -1 */
	int64_t view_offset; /* in elements of view_of */
	void *data;          /* LB_CONST: numel * dtype_size bytes, row-major */
	const char *doc;     /* comment lines before the declaration, or NULL */
	int line, col;       /* where it was declared in text, 0 if built */
	const char *data_doc;    /* comment lines before its data block, or NULL */
} LoopBuf;

/* A literal: integer or floating, as written. */
typedef struct LoopLit {
	bool is_float;
	int64_t i;
	double f;
} LoopLit;

/* One operand: buf[idx[0], ..., idx[nidx-1]], or a literal when buf < 0. */
typedef struct LoopArg {
	int buf;
	int nidx;            /* equals the buffer's rank */
	int idx[MAX_RANK];   /* index expressions */
	LoopLit lit;
} LoopArg;

enum { LF_SPATIAL = 1, LF_UNROLL = 2 };

typedef enum LoopReduce { LR_SUM, LR_MAX, LR_MIN, LR_PROD } LoopReduce;
/* Rounding of quantize and requantize: half to even, half away from zero. */
typedef enum LoopRound { LRND_EVEN, LRND_AWAY } LoopRound;

enum { LOOP_MAX_ARGS = 4 };

typedef struct LoopNode {
	LoopNodeKind kind;
	int next;            /* next sibling, -1 at the end of a body */
	int line, col;       /* position in the source text, 0 if built */

	/* LN_FOR */
	const char *var;     /* unique among the loops enclosing this one */
	int64_t start, extent, step;   /* extent >= 1, step >= 1 */
	unsigned flags;      /* LF_* */
	int body;            /* first node of the body, -1 when empty */

	/* LN_NOTE: the comment text after '#', without the newline */
	const char *text;

	/* statements */
	int narg;
	LoopArg arg[LOOP_MAX_ARGS];
	OpKind fn;           /* LN_APPLY: the elementwise op (Relu, Add, Clip, Cast...) */
	double alpha, beta, gamma;   /* LN_APPLY: attributes, defaults per op */
	LoopReduce red;      /* LN_REDUCE */
	LoopRound round;     /* LN_QUANTIZE, LN_REQUANTIZE */
	bool has_pad;        /* LN_COPY: src may reach outside its buffer */
	LoopLit pad;         /* LN_COPY with has_pad: the value read there */
} LoopNode;

typedef struct LoopKernel {
	const char *name;    /* identifier, unique in the program */
	const char *layer;   /* the graph node(s) it computes, or NULL */
	int body;            /* first top-level node, -1 when empty */
	const char *doc;     /* comment lines before the kernel, or NULL */
	int line, col;
} LoopKernel;

typedef struct LoopProgram {
	Arena arena;
	Diag *diag;          /* owned by the caller */
	const char *path;    /* text file or model, for diagnostics */
	const char *text;    /* source text when parsed (for carets), or NULL */
	bool oom;            /* a builder call ran out of memory */

	LoopLevel *levels;
	int nlevels, cap_levels;
	LoopBuf *bufs;
	int nbufs, cap_bufs;
	LoopKernel *kernels;
	int nkernels, cap_kernels;
	LoopNode *nodes;
	int nnodes, cap_nodes;
	LoopExpr *exprs;
	int nexprs, cap_exprs;
	int *ilist;          /* index expressions of the loads, a buffer's rank each */
	int nilist, cap_ilist;
	const char *tail_doc;    /* comment lines after the last item, or NULL */
} LoopProgram;

/*
 * Building (ir/loop.c).  Every builder returns an index, or -1 after
 * setting p->oom when memory runs out; builders given -1 operands return -1,
 * so a caller may check p->oom once at the end (loop_oom() reports it).
 */
void loop_init(LoopProgram *p, Diag *diag, const char *path);
void loop_free(LoopProgram *p);
Status loop_oom(LoopProgram *p);
/* The default host hierarchy: dram (unbounded), l2 1 MiB, l1 32 KiB,
 * reg 512 B; until the accelerator descriptions provide their own. */
void loop_default_levels(LoopProgram *p);
int loop_add_level(LoopProgram *p, const char *name, int64_t capacity);
int loop_find_level(const LoopProgram *p, const char *name);
int loop_add_buf(LoopProgram *p, const char *name, DType dt, int rank, const int64_t *dims,
                 int level, int kernel);
int loop_find_buf(const LoopProgram *p, const char *name);
int loop_add_kernel(LoopProgram *p, const char *name, const char *layer);
/* Whether s cannot be a name in the textual form (ir/loop_lex.l): only
 * inf and nan; keywords are names wherever no keyword can stand. */
bool loop_is_keyword(const char *s);
/* A name not yet used by a buffer or kernel and usable as a name: base,
 * else base_2, base_3 ...;
 * characters outside [A-Za-z0-9_] become '_' and a leading digit gets '_'. */
const char *loop_unique_name(LoopProgram *p, const char *base);

/* Expressions. */
int loop_const(LoopProgram *p, int64_t c);
int loop_var(LoopProgram *p, int for_node);
int loop_add(LoopProgram *p, int a, int b);
int loop_sub(LoopProgram *p, int a, int b);
int loop_mul(LoopProgram *p, int64_t c, int a);
int loop_div(LoopProgram *p, int a, int64_t c);
int loop_mod(LoopProgram *p, int a, int64_t c);
/* a + c, with c folded away when 0 and merged into a constant a. */
int loop_add_const(LoopProgram *p, int a, int64_t c);
/* The element buf[idx[0], ..., idx[nidx-1]] of an integer buffer, read at
 * run time (nidx == its rank); loop_load_idx gives a load's indices. */
int loop_load(LoopProgram *p, int buf, int nidx, const int *idx);
const int *loop_load_idx(const LoopProgram *p, int e);

/* Nodes.  loop_append adds node to the end of the list whose head is *head
 * (a kernel's body or a loop's body). */
int loop_new_for(LoopProgram *p, const char *var, int64_t start, int64_t extent, int64_t step);
int loop_new_stmt(LoopProgram *p, LoopNodeKind kind);
int loop_new_note(LoopProgram *p, const char *text);
/* Appends node to the body of for-node parent, or to kernel k's body when
 * parent is -1.  Prefer it to loop_append: a pointer into p->nodes taken
 * before a builder call dangles once the array grows. */
void loop_append_in(LoopProgram *p, int k, int parent, int node);
void loop_append(LoopProgram *p, int *head, int node);
/* Operands: an element reference buf[idx...] (nidx == the buffer's rank) or
 * a literal. */
LoopArg loop_ref(int buf, int nidx, const int *idx);
LoopArg loop_lit_int(int64_t i);
LoopArg loop_lit_float(double f);
/* Sets arg[narg++] of statement s. */
void loop_push_arg(LoopProgram *p, int s, LoopArg a);

/*
 * Expression analysis (ir/loop_expr.c).
 *
 * loop_expr_affine: e as sum(coef[i] * var[i]) + c with distinct variables,
 * when e has no division or modulo; false otherwise.
 * loop_expr_range: the exact minimum and maximum of e when every variable v
 * ranges over [lo[v], hi[v]] (arrays indexed by for-node index); affine
 * expressions are exact, division and modulo conservative.
 * loop_expr_eval: e's value with vars[v] the value of for-node v's variable.
 * loop_expr_subst: a copy of e with every use of for-node v replaced by
 * expression r (shared, not copied); e itself when v does not occur.
 * loop_expr_uses: whether for-node v occurs in e.
 * loop_expr_has_load: whether e holds a loaded index (LE_LOAD) anywhere.
 * A load is not affine; its range is the whole of int64 (only the run-time
 * check bounds it); loop_expr_eval must not be given one (the interpreter
 * reads the loaded element itself).
 */
enum { LOOP_MAX_TERMS = 16 };
typedef struct LoopAffine {
	int n;
	int var[LOOP_MAX_TERMS];
	int64_t coef[LOOP_MAX_TERMS];
	int64_t c;
} LoopAffine;

bool loop_expr_affine(const LoopProgram *p, int e, LoopAffine *out);
void loop_expr_range(const LoopProgram *p, int e, const int64_t *lo, const int64_t *hi,
                     int64_t *min, int64_t *max);
int64_t loop_expr_eval(const LoopProgram *p, int e, const int64_t *vars);
int loop_expr_subst(LoopProgram *p, int e, int v, int r);
bool loop_expr_uses(const LoopProgram *p, int e, int v);
bool loop_expr_has_load(const LoopProgram *p, int e);
/* Whether operand a has a loaded index (then it is one whole index). */
bool loop_arg_has_load(const LoopProgram *p, const LoopArg *a);
/* The same expression with every affine part (the whole of e, or the
 * operands of / and %) rebuilt in canonical order: variables in order of
 * their for-node index, constant last; e itself when nothing changes. */
int loop_expr_simplify(LoopProgram *p, int e);

/* Name tables (ir/loop.c). */
const char *loop_node_keyword(LoopNodeKind k);
const char *loop_node_synopsis(LoopNodeKind k);
const char *loop_reduce_name(LoopReduce r);
const char *loop_round_name(LoopRound r);
int64_t loop_buf_numel(const LoopBuf *b);
int64_t loop_buf_bytes(const LoopBuf *b);
/* The statement instances kernel k runs: over its statements, the product
 * of the extents of the loops around each; false when that exceeds 2^63. */
bool loop_kernel_steps(const LoopProgram *p, int k, int64_t *steps);

/*
 * The elementwise ops that `apply` may name, with their scalar semantics
 * shared with the graph interpreter (ir/interp/elementwise.c): one place
 * for each function.  Arity 1 (unary activations and math, Not, IsNaN,
 * IsInf, Cast), 2 (Add, Sub, Mul, Div, Pow, PRelu, Max, Min, the
 * comparisons, And, Or, Xor) or 3 (Clip: x, lo, hi; Where: c, a, b); 0
 * means the op cannot be applied elementwise.
 */
int loop_apply_arity(OpKind op);
void loop_apply_defaults(OpKind op, double *alpha, double *beta, double *gamma);
/* Whether op is a predicate: its result is a bool (Equal, Less, And, Not,
 * IsNaN...), and its destination must be one. */
bool loop_apply_pred(OpKind op);
/* Whether apply's integer path compares as unsigned: by the type of the
 * first operand for predicates and for the ops of other than two operands
 * (Clip's x), by the destination's for the others; an operand that is a
 * literal is DT_UNDEF and does not count. */
bool loop_apply_unsigned(OpKind op, DType dst, DType x0, DType x1);

/* Textual form (ir/loop_parse.y, ir/loop_lex.l, ir/loop_print.c). */
Status loop_parse(LoopProgram *p, const char *path, const char *text, size_t len);
Status loop_parse_file(LoopProgram *p, const char *path);
enum { LOOP_PRINT_NO_DATA = 1 };   /* leave out the data blocks */
void loop_print(const LoopProgram *p, FILE *f, unsigned flags);
/* "file:line:col: error: MSG" with the source line and a caret when the
 * program came from text; "file: kernel 'K': MSG" otherwise. */
Status loop_error_at(LoopProgram *p, int line, int col, Status st, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* The verifier (ir/loop_verify.c). */
Status loop_verify(LoopProgram *p);

/*
 * The interpreter (ir/loop_interp.c).  Verifies p, then runs it: in[i]
 * binds the i-th LB_INPUT buffer (in buffer order), out[i] receives the
 * i-th LB_OUTPUT buffer, allocated in a.  Buffers other than inputs and
 * constants start zeroed; they and the execution plan live in scratch
 * memory released before returning.
 */
Status loop_run(LoopProgram *p, Arena *a, const Value *in, Value *out);
int loop_count_inputs(const LoopProgram *p);
int loop_count_outputs(const LoopProgram *p);
/* The i-th input (output) buffer index. */
int loop_input_buf(const LoopProgram *p, int i);
int loop_output_buf(const LoopProgram *p, int i);

#endif
