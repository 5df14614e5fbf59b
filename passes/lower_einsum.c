/*
 * Lowering of Einsum.
 *
 * The equation is read by the reference kernel's planner
 * (ir/interp/einsum.h): every label (a letter, or one ellipsis axis) gets
 * a size, and the labels are ordered as the interpreter walks them, the
 * output's first, then the summed ones by label id.  The kernel is one mac
 * nest over all the labels in that order, output loops outside and summed
 * loops inside, each loop named after its label (ellipsis axes e0, e1 ...)
 * and a label of size 1 getting index 0 and no loop:
 *
 *     fill acc = 0                                   "ij,jk->ik"
 *     for i, k { for j { mac acc[i, k] += A[i, j] * B[j, k] } }
 *     apply Y = Cast(acc)                            when acc is not Y
 *
 * Each axis of an operand reads its label's variable, so a label repeated
 * within one operand reads a diagonal (A[i, i]), a label of one operand
 * that the output lacks is summed like any other, and an axis of size 1
 * reads index 0 (the ellipsis axes broadcast).
 *
 * The arithmetic is the interpreter's (ir/interp/einsum.c): at each step
 * the operands' elements are multiplied in order, the product is added to
 * a double (floats) or wrapping 64-bit (integers) sum, and the output
 * rounds once.  The accumulator is the output when it is f64, i64 or i32
 * (whose wrapping sum has the 64-bit sum's low bits), else an f64 or i64
 * temporary converted at the end.  A lone operand is multiplied by a
 * constant 1 of its type, so that its nest is a mac like the others.  With
 * three or more operands, the product of all but the last is formed in a
 * scalar temporary of the accumulator's type by one apply Mul per operand
 * in the innermost loop, ahead of the mac that multiplies in the last
 * operand: one nest whatever the operand count, at the interpreter's cost
 * and with its roundings, where a chain of pairwise contractions would
 * add partial products in another order.  An empty output has no kernel;
 * a summed label of size 0 leaves the output at zero.
 */
#include "lower.h"

#include <stdio.h>

#include "interp/einsum.h"

/* The equation's plan over n's input types. */
static Status plan(LowerCx *cx, const Node *n, EinPlan *pl)
{
	const Value **x = arena_alloc(&cx->p->arena, (size_t)n->nin * sizeof(*x));

	if (!x)
		return diag_add(cx->p->diag, ST_NOMEM, "%s: out of memory", cx->p->path);
	for (int i = 0; i < n->nin; i++)
		x[i] = &node_in(cx->g, n, i)->v;
	return einsum_plan(cx->g, n, &cx->p->arena, x, n->nin, pl);
}

/* The loops over the used labels in the plan's order under the kernel's
 * top level; vars[l] gets label l's index.  Returns the innermost loop, -1
 * when every label has size 1. */
static int label_nest(LowerCx *cx, const EinPlan *pl, int *vars)
{
	int parent = -1;

	for (int i = 0; i < pl->nlab; i++) {
		int l = pl->order[i];
		char name[8];

		if (pl->size[l] == 1) {
			vars[l] = loop_const(cx->p, 0);
			continue;
		}
		if (l < EIN_LETTERS)
			snprintf(name, sizeof(name), "%c", einsum_label_char(l));
		else
			snprintf(name, sizeof(name), "e%d", l - EIN_LETTERS);
		parent = lower_loop(cx, parent, name, 0, pl->size[l], &vars[l]);
	}
	return parent;
}

/* Buffer b (axes labelled by t) at the label indices vars. */
static LoopArg term_ref(LowerCx *cx, int b, const EinTerm *t, const int *vars)
{
	int idx[MAX_RANK];

	for (int a = 0; a < t->rank; a++)
		idx[a] = cx->p->bufs[b].dims[a] == 1 ? loop_const(cx->p, 0) : vars[t->lab[a]];
	return lower_ref(cx, b, idx);
}

/* Operand j at the label indices vars. */
static LoopArg operand(LowerCx *cx, const Node *n, const EinPlan *pl, int j, const int *vars)
{
	return term_ref(cx, lower_buf(cx, n->in[j]), &pl->in[j], vars);
}

/* The accumulator: the output when its type holds the interpreter's sum,
 * else an f64 or i64 temporary of its shape. */
static int accumulator(LowerCx *cx, int y)
{
	LoopBuf b = cx->p->bufs[y];

	if (b.dt == DT_F64 || b.dt == DT_I64 || b.dt == DT_I32)
		return y;
	return lower_temp(cx, "acc", dtype_is_float(b.dt) ? DT_F64 : DT_I64, b.rank, b.dims);
}

/* A scalar const buffer holding 1 in type dt (-1 when out of memory). */
static int const_one(LowerCx *cx, DType dt)
{
	Value v;

	val_set_type(&v, dt, 0, NULL);
	if (!val_alloc(&cx->p->arena, &v))
		return -1;
	val_set_f64(&v, 0, 1.0);
	return lower_const(cx, "one", dt, 0, NULL, v.data);
}

/* The mac's first factor under parent: operand 0 of two, the constant 1
 * for a lone operand, else the product of all operands but the last in a
 * scalar temporary of the accumulator's type.  .buf < 0: out of memory. */
static LoopArg first_factor(LowerCx *cx, const Node *n, const EinPlan *pl, DType acc_dt,
                            int parent, const int *vars)
{
	LoopArg prod;
	int b;

	if (pl->nin == 2)
		return operand(cx, n, pl, 0, vars);
	if (pl->nin == 1) {
		b = const_one(cx, cx->p->bufs[lower_buf(cx, n->in[0])].dt);
		return b < 0 ? loop_ref(-1, 0, NULL) : lower_ref(cx, b, NULL);
	}
	b = lower_temp(cx, "prod", acc_dt, 0, NULL);
	if (b < 0)
		return loop_ref(-1, 0, NULL);
	prod = lower_ref(cx, b, NULL);
	lower_apply_ab(cx, parent, OP_Mul, prod, operand(cx, n, pl, 0, vars),
	               operand(cx, n, pl, 1, vars));
	for (int j = 2; j < pl->nin - 1; j++)
		lower_apply_ab(cx, parent, OP_Mul, prod, prod, operand(cx, n, pl, j, vars));
	return prod;
}

/* The compute nest: acc[output labels] += the operands' product. */
static Status mac_nest(LowerCx *cx, const Node *n, const EinPlan *pl, int acc)
{
	int vars[EIN_LABELS], in = label_nest(cx, pl, vars);
	LoopArg a = first_factor(cx, n, pl, cx->p->bufs[acc].dt, in, vars);

	if (a.buf < 0)
		return diag_add(cx->p->diag, ST_NOMEM, "%s: out of memory", cx->p->path);
	lower_emit(cx, in, LN_MAC, 3, (LoopArg[]){term_ref(cx, acc, &pl->out, vars), a,
	           operand(cx, n, pl, pl->nin - 1, vars)});
	return ST_OK;
}

Status lower_einsum(LowerCx *cx, const Node *n)
{
	int y = lower_out(cx, n, 0), acc;
	EinPlan pl;

	TRY(plan(cx, n, &pl));
	if (loop_buf_numel(&cx->p->bufs[y]) == 0)
		return ST_OK;
	acc = accumulator(cx, y);
	if (acc < 0)
		return loop_oom(cx->p);
	lower_fill_elems(cx, acc, lower_zero_lit(cx->p->bufs[y].dt));
	if (pl.steps > 0)
		TRY(mac_nest(cx, n, &pl, acc));
	if (acc != y)
		lower_convert_all(cx, y, NULL, acc);
	return loop_oom(cx->p);
}
