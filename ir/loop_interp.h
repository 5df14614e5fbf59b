/*
 * The loop interpreter's execution plan, shared by the planner
 * (ir/loop_interp.c) and the statement executors (ir/loop_interp_exec.c).
 *
 * loop_run first compiles the program into a plan: every buffer gets its
 * memory, every statement an executor chosen for its kind and element
 * types, and every operand whose indices are affine gets a slot that holds
 * its flat element offset for the current values of the loop variables.  A
 * loop adds a precomputed delta to the slots its variable moves after each
 * iteration and takes them back when it ends, so no index is evaluated in
 * the common case.  Operands with division or modulo are evaluated from the
 * loop variables, which every loop keeps in vars[].
 *
 * A loop whose body is a single statement with tracked operands is tight:
 * the executor runs all its iterations itself, stepping each offset by the
 * operand's stride.  A mac nest runs as one unit: one mac statement below
 * a band of loops whose variables move the accumulator (no two iterations
 * of the band share one) and inner loops that do not move it, each loop
 * holding nothing but the next.  The band's iterations are lanes, taken in
 * blocks of up to 16 that advance together over the inner loops, whose
 * operand offsets come from precomputed tables.  This keeps every
 * accumulator's order of additions, so results are bit for bit those of
 * the loop order written, while independent accumulations overlap.
 */
#ifndef NNAC_LOOP_INTERP_H
#define NNAC_LOOP_INTERP_H

#include "loop.h"

typedef struct XRef {
	char *base;          /* element 0 of the buffer (a view's offset applied); NULL: literal */
	Value v;             /* dt, and data = base, for the val_get / val_set accessors */
	int esize;           /* bytes per element */
	int slot;            /* cur[] slot with the flat element offset, or -1 */
	int dslot;           /* padded copy source: first of rank slots, one per index, or -1 */
	int64_t stride;      /* flat offset step per iteration of a tight loop (elements) */
	int64_t dstride[MAX_RANK];   /* padded source: index steps per tight iteration */
	int rank;
	int64_t dims[MAX_RANK];
	int64_t estride[MAX_RANK];   /* elements between neighbours along each dimension */
	const int *idx;      /* index expressions, for operands evaluated per element */
	int64_t *coef;       /* flat offset step per unit of each enclosing loop's variable */
	int root;            /* buffer that owns the memory (views resolved) */
	bool loaded;         /* an index is loaded: slot holds the offset the guard computed */
	LoopLit lit;         /* the literal when base == NULL */
} XRef;

typedef struct Exec Exec;
typedef struct XStmt XStmt;
typedef struct XNest XNest;
typedef void (*XRunFn)(Exec *x, const XStmt *s, int64_t n);
typedef void (*XNestFn)(Exec *x, const XNest *m);

struct XStmt {
	const LoopNode *n;
	XRunFn run;          /* runs n iterations of the innermost loop (n > 1: tight) */
	int nref;
	XRef ref[LOOP_MAX_ARGS];
	bool tracked;        /* every operand lives in slots: may run tight */
	bool guarded;        /* an operand has a loaded index: checked before each run */
	bool noalias;        /* arg[0]'s memory is disjoint from every other operand's */
	bool int_path;       /* apply, reduce, mac: 64-bit integer arithmetic */
	bool uns;            /* apply, reduce: unsigned integer comparisons */
	bool src_rounds;     /* quantize: x / scale is rounded to the source's type */
	_Alignas(8) unsigned char lit[8];   /* fill and pad values in the destination's type */
	int xnode;           /* the plan node running it */
	int depth;           /* enclosing loops */
	int *loops;          /* their plan nodes, outermost first */
};

/*
 * A block of T lanes (iterations of the band) run together: strided when
 * lane t's offsets are the first lane's plus t times (dc, da, db), else
 * gathered through the lane tables.
 */
enum {
	XNEST_LANES = 16,    /* lanes of a full block */
	XNEST_MAX_OUTER = 16,    /* band loops above the lanes */
};

typedef enum XBlockKind { XB_STRIDED, XB_GATHER_A, XB_GATHER_B, XB_GATHER } XBlockKind;

typedef struct XBlock {
	XBlockKind kind;     /* XB_GATHER_A: b is the same in every lane; _B: a is */
	int T;               /* lanes: 16, 8, 4, 2 or 1 */
	int64_t lane;        /* the first */
	int64_t dc, da, db;  /* XB_STRIDED: offset steps from lane to lane */
} XBlock;

/* A band loop above the lanes: its iterations and offset steps. */
typedef struct XBandLoop {
	int64_t extent, dc, da, db;
} XBandLoop;

/*
 * A mac nest.  The band's innermost loops run as lanes, in blocks; the
 * band's other loops (outer) run around the blocks in the order listed,
 * which puts last the loops that leave the lanes' varying factor in place,
 * so that it stays in cache while they run.  The inner loops are tables.
 */
struct XNest {
	const XStmt *s;
	XNestFn run;
	XBandLoop *outer;    /* outermost first */
	int nouter;
	int64_t *lc, *la, *lb;   /* per lane: offsets of acc, a and b from the band's start */
	XBlock *blocks;
	int nblocks;
	int64_t nr;          /* iterations of the inner loops together */
	int64_t *ta, *tb;    /* offsets of a and b for each inner iteration */
};

typedef enum XKind { XN_LOOP, XN_STMT, XN_NEST } XKind;

typedef struct XDelta {
	int slot;
	int64_t d;
} XDelta;

typedef struct XNode {
	XKind kind;
	int next, parent;    /* plan node indices, -1 for none */
	int var;             /* XN_LOOP: the `for` node (index into vars[]) */
	int64_t start, step, extent;
	int body;
	int delta0, ndelta;  /* the loop's deltas: deltas[delta0 .. delta0 + ndelta) */
	bool tight;          /* body is one tracked statement, run with n = extent */
	int stmt;            /* XN_STMT, and the statement of a tight loop */
	int nest;            /* XN_NEST */
} XNode;

typedef struct Plan {
	const LoopProgram *p;
	Arena *ar;
	bool oom;
	char **mem;          /* per buffer: its memory */
	XNode *nodes;
	int nnodes, cap_nodes;
	XStmt *stmts;
	int nstmts, cap_stmts;
	XNest *nests;
	int nnests, cap_nests;
	XDelta *deltas;
	int ndeltas;
	int64_t *init;       /* slot values with every loop at its start */
	int nslots, cap_slots;
	int *kbody;          /* per kernel: its first plan node */
} Plan;

struct Exec {
	const LoopProgram *p;
	const Plan *pl;
	int64_t *cur;        /* slot values */
	int64_t *vars;       /* loop variable values, by `for` node index */
	int kernel;          /* the kernel running */
	Status st;           /* a loaded index out of range stops the run */
};

/* ir/loop_interp_exec.c */
XRunFn loop_exec_pick(const XStmt *s);
/* The nest kernel for mac statement s's types, or NULL. */
XNestFn loop_exec_pick_nest(const XStmt *s);

#endif
