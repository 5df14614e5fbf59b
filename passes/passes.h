/*
 * Graph passes.  Each takes a graph that passed the verifier and leaves one
 * that passes it; each reports problems through g->diag and returns a
 * Status.  passes/pipeline.c runs them in order.
 */
#ifndef NNAC_PASSES_H
#define NNAC_PASSES_H

#include "graph.h"

/*
 * Shape inference: types every tensor, in topological order, through each
 * op's infer function.  Shape-computing subgraphs (Shape, and small integer
 * tensors computed from constants, as exporters write for Reshape targets)
 * are evaluated as they are met, since later shapes depend on them.
 * With keep_going it reports every node it cannot type (for `nnac check`),
 * skipping nodes downstream of a failure; otherwise it stops at the first.
 */
Status pass_infer_shapes(Graph *g, bool keep_going);
/* The same over nodes [from, *to), *to moving as control flow is inlined. */
Status shape_infer_span(Graph *g, int from, int *to, bool keep_going);
/*
 * Control flow (passes/control.c): whether op is If, Loop or Scan, whose
 * bodies shape inference inlines when it reaches one.  control_expand()
 * puts the inlined nodes, inferred, in front of node, marks node dead and
 * sets *added to their count.
 */
bool control_is(OpKind op);
Status control_expand(Graph *g, int node, int *added);
/* Binds small integer graph inputs to the given values (one per g->inputs
 * entry) as constants, so shape operands fed from inputs become static. */
Status pass_specialize_inputs(Graph *g, const Value *inputs);
/* Constant folding: evaluates every node whose inputs are all constant. */
Status pass_fold_constants(Graph *g);
/* Dead-node removal: drops nodes none of whose outputs is used. */
Status pass_remove_dead(Graph *g);
/* Folds an inference BatchNormalization into the Conv or Gemm before it. */
Status pass_fold_batchnorm(Graph *g);
/* Marks an activation (OPF_ACT op) that follows a Conv, ConvTranspose,
 * Gemm or MatMul as fused into it. */
Status pass_fuse_activations(Graph *g);

typedef struct PipelineOptions {
	bool verify_each;    /* run graph_verify after every pass */
	bool optimize;       /* fold, BN-fold, fuse (else only shape inference) */
	int stop_after;      /* run only the first N passes; 0: all */
} PipelineOptions;

int pass_count(void);
const char *pass_name(int i);

Status pass_pipeline(Graph *g, const PipelineOptions *opt);

/*
 * Lowering to the loop IR (passes/lower.c): every live node of a typed,
 * optimized graph becomes loop nests in one kernel per layer of p (which
 * the caller has initialized with loop_init).  Const buffers borrow the
 * graph's data, so p must not outlive g.  A node without a lowering is
 * ST_UNSUPPORTED naming it.
 */
typedef struct LowerOptions {
	bool fuse;           /* a producer and its elementwise consumers: one kernel */
} LowerOptions;

typedef struct LoopProgram LoopProgram;
Status pass_lower(Graph *g, LoopProgram *p, const LowerOptions *opt);

#endif
