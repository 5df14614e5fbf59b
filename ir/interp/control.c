/*
 * If, Loop and Scan: shape inference inlines their bodies (passes/control.c)
 * and marks them dead, so neither function below runs on a graph that went
 * through it.  They are here because every op of ops.def has an OpImpl.
 */
#include "op.h"

static Status control_infer(Graph *g, Node *n)
{
	return node_error(g, n, ST_INTERNAL, "reached op inference; shape inference inlines control flow");
}

static Status control_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	(void)in, (void)out;
	return node_error(cx->g, n, ST_INTERNAL, "reached the interpreter; shape inference inlines control flow");
}

const OpImpl op_impl_If = {control_infer, control_eval, NULL};
const OpImpl op_impl_Loop = {control_infer, control_eval, NULL};
const OpImpl op_impl_Scan = {control_infer, control_eval, NULL};
