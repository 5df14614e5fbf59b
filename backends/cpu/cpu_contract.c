/*
 * The CPU backend's contraction kernels (cpu_int.h, CpuContract): the
 * convolutions and matrix products of the loop IR as register-blocked
 * vector code.
 *
 * Planning reads only the nest's index expressions.  The accumulator's
 * loops are those its indices use: each loop appears in at most one index
 * and each index takes distinct values on distinct iterations of its
 * loops (k, or 28*g + k in a grouped convolution), so distinct iterations
 * of them write distinct elements.  The others reduce.  j is the loop
 * that moves the accumulator by one element per step, extended outwards
 * by loops whose strides chain (a 7x7 feature map is one run of 49);
 * bcast may not move along any of them.  i is the accumulator loop of
 * largest extent along which vec stays in place.  A window reduction
 * (pooling, plan_window) is a contraction without i and without bcast.
 *
 * Code (split, task): a task is a run of columns (a value of the outer
 * loops and a block of j) by a chunk of i blocks, about as many tasks as
 * the runtime has threads.  Per slice of the outermost reduction loop and
 * per column, vec's slice is packed into a stack panel (pack), unless it
 * is read in place, and every i block of the chunk runs the micro kernel
 * (micro) over it.  Loop bounds that depend on the task are dynamic;
 * everything else is constant, so LLVM keeps the MR x NV accumulators
 * (allocas that SROA promotes) in registers.  Blocks past the end of j read and write the accumulator
 * with masked loads and stores.  A bias copy before the nest and a Relu
 * after it are folded in (cpu_contract_fuse_init, cpu_contract_fuse_relu).
 */
#include <string.h>

#include "cpu_int.h"

enum {
	MAX_NV = 4,               /* vectors of a block along j */
	MAX_MR = 16,              /* rows of a block along i */
	COALESCE_BELOW = 64,      /* j runs shorter than this take in the loop around them */
	PACK_MIN_IBLOCKS = 4,     /* vec read in place by fewer i blocks is not packed */
	PACK_MIN_ROWS = 24,       /* j runs vec does not continue are coalesced for this many rows */
};

static LLVMValueRef c64(CpuEmit *e, int64_t v) { return LLVMConstInt(e->i64, (unsigned long long)v, 1); }

/* Planning. */

static bool affine_args(const LoopProgram *p, const LoopNode *s)
{
	for (int a = 0; a < s->narg; a++)
		for (int d = 0; d < s->arg[a].nidx; d++) {
			LoopAffine af;

			if (!loop_expr_affine(p, s->arg[a].idx[d], &af))
				return false;
		}
	return true;
}

/* Whether affine index x takes distinct values on distinct iterations of
 * the nest's loops it holds: sorted by the size of their steps, each
 * loop's step exceeds the span of all smaller ones (28*g + k with k below
 * 28, a grouped convolution's output channel). */
static bool index_injective(const LoopProgram *p, int x, const int *loops, int n)
{
	int64_t st[CPU_MAX_NEST], span[CPU_MAX_NEST], reach = 0;
	LoopAffine af;
	int m = 0;

	if (!loop_expr_affine(p, x, &af))
		return false;
	for (int t = 0; t < af.n; t++)
		for (int l = 0; l < n; l++)
			if (af.var[t] == loops[l] && af.coef[t] != 0) {
				const LoopNode *f = &p->nodes[loops[l]];

				st[m] = (af.coef[t] < 0 ? -af.coef[t] : af.coef[t]) * f->step;
				span[m] = st[m] * (f->extent - 1);
				m++;
			}
	for (int done = 0; done < m; done++) {
		int k = done;

		for (int q = done + 1; q < m; q++)
			if (st[q] < st[k])
				k = q;
		if (st[k] <= reach && span[k] > 0)
			return false;
		reach += span[k];
		st[k] = st[done];
		span[k] = span[done];
	}
	return true;
}

/* Which of the nest's loops the accumulator uses (in acc[]), false when
 * a loop appears in two of its indices or an index can take one value on
 * two iterations: distinct iterations of these loops then write distinct
 * elements. */
static bool acc_loops(const LoopProgram *p, const LoopArg *acc, const int *loops, int n, bool *in_acc)
{
	for (int l = 0; l < n; l++) {
		int dims = 0;

		in_acc[l] = false;
		for (int d = 0; d < acc->nidx; d++)
			if (loop_expr_uses(p, acc->idx[d], loops[l]))
				dims++;
		if (dims > 1)
			return false;
		in_acc[l] = dims == 1;
	}
	for (int d = 0; d < acc->nidx; d++)
		if (!index_injective(p, acc->idx[d], loops, n))
			return false;
	return true;
}

static int64_t step_of(const LoopProgram *p, const LoopArg *a, int v)
{
	int64_t st;

	return cpu_flat_step(p, a, v, &st) ? st : -1;
}

static bool in_j(const CpuContract *c, int f)
{
	for (int k = 0; k < c->nj; k++)
		if (c->j[k] == f)
			return true;
	return false;
}

/* The largest extent that i can have: of the accumulator's loops but
 * j[0], those along which vec stays. */
static int64_t rows(const LoopProgram *p, const LoopNode *s, const int *loops, int n, const bool *in_acc,
                    const CpuContract *c)
{
	int64_t best = 0;

	for (int l = 0; l < n; l++)
		if (in_acc[l] && loops[l] != c->j[0] && step_of(p, &s->arg[c->vec], loops[l]) == 0 &&
		    p->nodes[loops[l]].extent > best)
			best = p->nodes[loops[l]].extent;
	return best;
}

/* The j loops: the innermost contiguous one, then loops whose accumulator
 * stride is the run so far, while the run is short.  A loop along which
 * vec does not continue the run joins only when vec will be packed
 * (enough rows to pay for it).  False if none. */
static bool pick_j(const LoopProgram *p, const LoopNode *s, const int *loops, int n, const bool *in_acc,
                   bool may_pack, CpuContract *c)
{
	int l0 = -1;
	int64_t vec_run;
	bool packed;

	for (int l = 0; l < n; l++)
		if (in_acc[l] && step_of(p, &s->arg[0], loops[l]) == 1)
			l0 = l;
	if (l0 < 0)
		return false;
	c->vec = step_of(p, &s->arg[1], loops[l0]) != 0 ? 1 : 2;
	c->bcast = 3 - c->vec;
	if (step_of(p, &s->arg[c->bcast], loops[l0]) != 0)
		return false;
	c->nj = 1;
	c->j[0] = loops[l0];
	c->J = p->nodes[loops[l0]].extent;
	vec_run = step_of(p, &s->arg[c->vec], loops[l0]) == 1 ? c->J : -1;
	packed = may_pack && rows(p, s, loops, n, in_acc, c) >= PACK_MIN_ROWS;
	while (c->J < COALESCE_BELOW && c->nj < CPU_MAX_NEST) {
		int found = -1;

		for (int l = 0; l < n; l++)
			if (in_acc[l] && !in_j(c, loops[l]) && step_of(p, &s->arg[0], loops[l]) == c->J &&
			    step_of(p, &s->arg[c->bcast], loops[l]) == 0 &&
			    (packed || step_of(p, &s->arg[c->vec], loops[l]) == vec_run))
				found = l;
		if (found < 0)
			break;
		if (vec_run >= 0 && step_of(p, &s->arg[c->vec], loops[found]) == vec_run)
			vec_run *= p->nodes[loops[found]].extent;
		else
			vec_run = -1;
		memmove(c->j + 1, c->j, (size_t)c->nj * sizeof(int));
		c->j[0] = loops[found];
		c->nj++;
		c->J *= p->nodes[loops[found]].extent;
	}
	return true;
}

static void pick_i(const LoopProgram *p, const LoopNode *s, const int *loops, int n, const bool *in_acc,
                   CpuContract *c)
{
	c->i = -1;
	c->nout = c->nred = 0;
	for (int l = 0; l < n; l++) {
		int f = loops[l];

		if (!in_acc[l] || in_j(c, f) || step_of(p, &s->arg[c->vec], f) != 0)
			continue;
		if (c->i < 0 || p->nodes[f].extent > p->nodes[c->i].extent)
			c->i = f;
	}
	for (int l = 0; l < n; l++) {
		int f = loops[l];

		if (!in_acc[l])
			c->red[c->nred++] = f;
		else if (f != c->i && !in_j(c, f))
			c->out[c->nout++] = f;
	}
}

/* Whether vec moves like the accumulator along the j run: one element
 * per step, the run's loops chained. */
static bool vec_chains(const LoopProgram *p, const LoopNode *s, const CpuContract *c)
{
	int64_t run = 1;

	for (int k = c->nj - 1; k >= 0; k--) {
		if (step_of(p, &s->arg[c->vec], c->j[k]) != run)
			return false;
		run *= p->nodes[c->j[k]].extent;
	}
	return true;
}

/* Block shape for the target's registers. */
static void shape(const CpuEmit *e, const LoopProgram *p, CpuContract *c)
{
	c->vl = e->vl;
	c->nv = (int)((c->J + c->vl - 1) / c->vl);
	if (c->nv > MAX_NV)
		c->nv = MAX_NV;
	c->mr = (e->vregs - c->nv - 1) / c->nv;
	if (c->mr > MAX_MR)
		c->mr = MAX_MR;
	if (c->mr > c->I)
		c->mr = (int)c->I;
	c->rin = 1;
	for (int k = 1; k < c->nred; k++)
		c->rin *= p->nodes[c->red[k]].extent;
	c->njb = (c->J + c->nv * c->vl - 1) / (c->nv * c->vl);
	c->nib = (c->I + c->mr - 1) / c->mr;
	c->direct = c->direct_ok && c->nib < PACK_MIN_IBLOCKS;
}

/*
 * The slices of red[0]: a panel fits in two thirds of L1 (32 KiB of 48)
 * and bcast's slice for all of i (the rows of one task on one thread) in
 * two fifths of L2 (512 KiB of 1.25 MiB).  In-place plans take the
 * whole reduction at once when that fits.
 */
static void slices(const CpuEmit *e, const LoopProgram *p, CpuContract *c)
{
	int64_t outer = 1, ext0 = p->nodes[c->red[0]].extent;
	int64_t panel = e->l1_bytes * 2 / 3, bcast = e->l2_bytes * 2 / 5;

	for (int k = 0; k < c->nout; k++)
		outer *= p->nodes[c->out[k]].extent;
	c->ncols = outer * c->njb;
	c->kb = c->direct ? ext0 : panel / (c->rin * c->nv * c->vl * 4);
	if (c->kb * c->rin * c->nib * c->mr * 4 > bcast)
		c->kb = bcast / (c->rin * c->nib * c->mr * 4);
	if (c->kb < 1)
		c->kb = 1;
	if (c->kb > ext0)
		c->kb = ext0;
	c->nkb = (ext0 + c->kb - 1) / c->kb;
}

/* Estimated cycles of plan c: its blocks' vector multiply-adds at two a
 * cycle unless their loads (one and a half a cycle beside them) take
 * longer, plus packing (half
 * a cycle an element through the lane table, a quarter where the copy is
 * contiguous and vectorizes).  Measured on single convolutions of
 * ResNet-50's shapes, the estimate ranks the two plans as their times do
 * except where they are within a few per cent. */
static double cost(const CpuContract *c, int64_t red)
{
	double lanes = (double)c->njb * c->nv * c->vl, eff = (double)c->J / lanes;
	double fma = (double)c->nv * c->mr, ld = (double)c->nv + c->mr;
	double comp = c->macs / (c->vl * eff) / fma * (fma / 2 > ld / 1.5 ? fma / 2 : ld / 1.5);
	double pack = c->direct ? 0 : (double)red * lanes * (double)(c->ncols / c->njb) * (c->nj > 1 ? 0.5 : 0.25);

	return comp + pack;
}

/* The plan with j's run coalesced only where vec continues it (may_pack
 * false) or also where packing pays (true); false when the nest is no
 * contraction. */
static bool plan(const CpuEmit *e, const int *loops, int n, int stmt, bool may_pack, CpuContract *c)
{
	const LoopProgram *p = e->p;
	const LoopNode *s = &p->nodes[stmt];
	bool in_acc[CPU_MAX_NEST];

	memset(c, 0, sizeof(*c));
	c->stmt = stmt;
	c->init = c->relu = -1;
	c->nloops = n;
	memcpy(c->loops, loops, (size_t)n * sizeof(int));
	if (!acc_loops(p, &s->arg[0], loops, n, in_acc) || !pick_j(p, s, loops, n, in_acc, may_pack, c))
		return false;
	pick_i(p, s, loops, n, in_acc, c);
	if (c->i < 0 || c->nred == 0)
		return false;
	c->direct_ok = vec_chains(p, s, c);
	c->vec_step = step_of(p, &s->arg[c->vec], c->j[c->nj - 1]);
	c->I = p->nodes[c->i].extent;
	if (c->I < 2)
		return false;
	c->macs = 1;
	for (int l = 0; l < n; l++)
		c->macs *= (double)p->nodes[loops[l]].extent;
	shape(e, p, c);
	slices(e, p, c);
	return true;
}

/*
 * A window reduction (pooling): a perfect nest ending in one f32 reduce
 * whose accumulator runs contiguously along j and whose operand moves one
 * or two elements per step of j.  Planned as a contraction without rows:
 * blocks of NV vectors along j, each held through the window loops (the
 * reduction loops, in their order), the operand read in place a vector
 * at a time.
 */
static bool plan_window(const CpuEmit *e, const int *loops, int n, int stmt, CpuContract *c)
{
	const LoopProgram *p = e->p;
	const LoopNode *s = &p->nodes[stmt];
	bool in_acc[CPU_MAX_NEST];
	int l0 = -1;

	memset(c, 0, sizeof(*c));
	c->stmt = stmt;
	c->init = c->relu = c->i = -1;
	c->nloops = n;
	memcpy(c->loops, loops, (size_t)n * sizeof(int));
	if (p->bufs[s->arg[0].buf].dt != DT_F32 || p->bufs[s->arg[1].buf].dt != DT_F32 ||
	    e->root[s->arg[0].buf] == e->root[s->arg[1].buf] || !affine_args(p, s) ||
	    !acc_loops(p, &s->arg[0], loops, n, in_acc))
		return false;
	for (int l = 0; l < n; l++)
		if (in_acc[l] && step_of(p, &s->arg[0], loops[l]) == 1)
			l0 = l;
	if (l0 < 0)
		return false;
	c->window = true;
	c->vec = 1;
	c->nj = 1;
	c->j[0] = loops[l0];
	c->J = p->nodes[loops[l0]].extent;
	c->vec_step = step_of(p, &s->arg[1], loops[l0]);
	for (int l = 0; l < n; l++)
		if (!in_acc[l])
			c->red[c->nred++] = loops[l];
		else if (l != l0)
			c->out[c->nout++] = loops[l];
	if ((c->vec_step != 1 && c->vec_step != 2) || c->nred == 0)
		return false;
	c->I = 1;
	c->direct_ok = true;
	c->macs = 1;
	for (int l = 0; l < n; l++)
		c->macs *= (double)p->nodes[loops[l]].extent;
	shape(e, p, c);
	slices(e, p, c);
	return true;
}

bool cpu_contract_plan(const CpuEmit *e, const int *loops, int n, int stmt, CpuContract *c)
{
	const LoopProgram *p = e->p;
	const LoopNode *s = &p->nodes[stmt];
	CpuContract other;
	int64_t red = 1;

	if (n > CPU_MAX_NEST || e->vl < 4)
		return false;
	if (s->kind == LN_REDUCE)
		return plan_window(e, loops, n, stmt, c);
	if (s->kind != LN_MAC)
		return false;
	for (int a = 0; a < 3; a++)
		if (p->bufs[s->arg[a].buf].dt != DT_F32)
			return false;
	if (e->root[s->arg[0].buf] == e->root[s->arg[1].buf] || e->root[s->arg[0].buf] == e->root[s->arg[2].buf])
		return false;
	if (!affine_args(p, s) || !plan(e, loops, n, stmt, true, c))
		return false;
	for (int k = 0; k < c->nred; k++)
		red *= p->nodes[c->red[k]].extent;
	if (plan(e, loops, n, stmt, false, &other) && cost(&other, red) < cost(c, red))
		*c = other;
	return true;
}

/* Fusion with the nests around. */

/* Whether a indexes its whole buffer with one loop of loops[] per
 * dimension, each from 0 by 1 over the dimension; in dim_loop[d] that
 * loop.  Loops of loops[] that a does not use must be in `others`. */
static bool whole(const LoopProgram *p, const LoopArg *a, const int *loops, int n, int *dim_loop)
{
	const LoopBuf *b = &p->bufs[a->buf];

	for (int d = 0; d < a->nidx; d++) {
		const LoopExpr *x = &p->exprs[a->idx[d]];
		const LoopNode *f;
		bool found = false;

		if (x->kind != LE_VAR)
			return false;
		for (int l = 0; l < n; l++)
			found |= loops[l] == x->c;
		f = &p->nodes[x->c];
		if (!found || f->start != 0 || f->step != 1 || f->extent != b->dims[d])
			return false;
		for (int k = 0; k < d; k++)
			if (dim_loop[k] == x->c)
				return false;
		dim_loop[d] = (int)x->c;
	}
	return true;
}

/* The contraction's accumulator covers its whole buffer; its loop per
 * dimension in dim_loop[]. */
static bool acc_whole(const LoopProgram *p, const CpuContract *c, int *dim_loop)
{
	const LoopArg *acc = &p->nodes[c->stmt].arg[0];

	return whole(p, acc, c->loops, c->nloops, dim_loop) && c->nloops == acc->nidx + c->nred;
}

/* The statement of the perfect nest at node `nest` (its loops into
 * loops[], *n of them) when it could be folded into contraction c: as
 * many loops as c's accumulator has indices; else -1.  Windows fold
 * nothing. */
static int fusable_nest(const CpuEmit *e, const CpuContract *c, int nest, int *loops, int *n)
{
	int stmt;

	if (c->window)
		return -1;
	*n = cpu_perfect_nest(e->p, nest, loops, &stmt);
	return stmt >= 0 && *n == e->p->nodes[c->stmt].arg[0].nidx ? stmt : -1;
}

bool cpu_contract_fuse_init(const CpuEmit *e, CpuContract *c, int nest)
{
	const LoopProgram *p = e->p;
	const LoopArg *acc = &p->nodes[c->stmt].arg[0];
	int loops[CPU_MAX_NEST], acc_dim[MAX_RANK], init_dim[MAX_RANK], stmt, n;
	const LoopNode *s;

	if ((stmt = fusable_nest(e, c, nest, loops, &n)) < 0)
		return false;
	s = &p->nodes[stmt];
	if (s->kind != LN_COPY || s->has_pad || s->arg[0].buf != acc->buf || s->arg[1].buf < 0 ||
	    loop_arg_has_load(p, &s->arg[1]) ||
	    p->bufs[s->arg[1].buf].dt != DT_F32 || e->root[s->arg[1].buf] == e->root[acc->buf])
		return false;
	if (!acc_whole(p, c, acc_dim) || !whole(p, &s->arg[0], loops, n, init_dim))
		return false;
	for (int d = 0; d < acc->nidx; d++) {
		int64_t st;

		for (int l = 0; l < n; l++)
			if (loops[l] == init_dim[d])
				c->init_loop[l] = acc_dim[d];
		if (in_j(c, acc_dim[d]) && (!cpu_flat_step(p, &s->arg[1], init_dim[d], &st) || st != 0))
			return false;
	}
	c->init = stmt;
	c->ninit = n;
	memcpy(c->init_loops, loops, (size_t)n * sizeof(int));
	return true;
}

bool cpu_contract_fuse_relu(const CpuEmit *e, CpuContract *c, int nest)
{
	const LoopProgram *p = e->p;
	const LoopArg *acc = &p->nodes[c->stmt].arg[0];
	int loops[CPU_MAX_NEST], acc_dim[MAX_RANK], dst_dim[MAX_RANK], src_dim[MAX_RANK], stmt, n;
	const LoopNode *s;

	if ((stmt = fusable_nest(e, c, nest, loops, &n)) < 0)
		return false;
	s = &p->nodes[stmt];
	if (s->kind != LN_APPLY || s->fn != OP_Relu || s->narg != 2 || s->arg[0].buf != acc->buf ||
	    s->arg[1].buf != acc->buf)
		return false;
	if (!acc_whole(p, c, acc_dim) || !whole(p, &s->arg[0], loops, n, dst_dim) ||
	    !whole(p, &s->arg[1], loops, n, src_dim))
		return false;
	for (int d = 0; d < acc->nidx; d++)
		if (dst_dim[d] != src_dim[d])
			return false;
	c->relu = stmt;
	return true;
}

/* Code. */

/* A top-tested loop over an i64 from start while below end (values). */
typedef struct Loop {
	LLVMBasicBlockRef head, exit;
	LLVMValueRef iv;
	LLVMValueRef end;
} Loop;

static LLVMValueRef loop_open(CpuEmit *e, Loop *l, LLVMValueRef start, LLVMValueRef end)
{
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(e->b);

	l->head = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "");
	l->exit = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "");
	l->end = end;
	LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, start, end, ""), l->head, l->exit);
	LLVMPositionBuilderAtEnd(e->b, l->head);
	l->iv = LLVMBuildPhi(e->b, e->i64, "");
	LLVMAddIncoming(l->iv, &start, &pre, 1);
	return l->iv;
}

static LLVMValueRef loop_close(CpuEmit *e, Loop *l)
{
	LLVMValueRef next = LLVMBuildNSWAdd(e->b, l->iv, c64(e, 1), "");
	LLVMBasicBlockRef from = LLVMGetInsertBlock(e->b);
	LLVMValueRef br = LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, next, l->end, ""), l->head, l->exit);

	LLVMAddIncoming(l->iv, &next, &from, 1);
	LLVMPositionBuilderAtEnd(e->b, l->exit);
	return br;
}

static LLVMValueRef smin(CpuEmit *e, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, a, b, ""), a, b, "");
}

/* Sets for-node f's variable to iteration it (an i64 from 0). */
static void set_iter(CpuEmit *e, int f, LLVMValueRef it)
{
	const LoopNode *n = &e->p->nodes[f];

	e->vars[f] = LLVMBuildAdd(e->b, c64(e, n->start), LLVMBuildMul(e->b, it, c64(e, n->step), ""), "");
}

/* What a task has fixed: where its j block starts, its panel, the slice
 * of red[0] packed (first iteration, count). */
typedef struct Task {
	LLVMValueRef j0, panel, k0, kn;
	LLVMValueRef first, last;                /* i1: the slice is red[0]'s first, its last */
	LLVMValueRef lanes;                      /* i64[NV * VL]: lane_table */
	LLVMTypeRef vt;
} Task;

/* The reduction loops over the packed slice, iterations from 0; returns
 * the panel offset (in floats) of the current step.  loops[] are closed by
 * red_close. */
static LLVMValueRef red_open(CpuEmit *e, const CpuContract *c, const Task *t, Loop *loops)
{
	LLVMValueRef off = c64(e, 0);

	for (int k = 0; k < c->nred; k++) {
		LLVMValueRef ext = k == 0 ? t->kn : c64(e, e->p->nodes[c->red[k]].extent);
		LLVMValueRef it = loop_open(e, &loops[k], c64(e, 0), ext);

		set_iter(e, c->red[k], k == 0 ? LLVMBuildAdd(e->b, t->k0, it, "") : it);
		off = LLVMBuildAdd(e->b, LLVMBuildMul(e->b, off, ext, ""), it, "");
	}
	return LLVMBuildMul(e->b, off, c64(e, (int64_t)c->nv * c->vl), "");
}

/* Closes the reduction loops, kept rolled: a step is already MR x NV
 * vector multiply-adds, and unrolling them multiplied compile time. */
static void red_close(CpuEmit *e, const CpuContract *c, Loop *loops)
{
	for (int k = c->nred - 1; k >= 0; k--)
		cpu_mark_loop(e, loop_close(e, &loops[k]), false, false);
}

/* Sets the j loops to position jp (an i64 in [0, J)) of the run. */
static void set_j(CpuEmit *e, const CpuContract *c, LLVMValueRef jp)
{
	for (int k = c->nj - 1; k >= 0; k--) {
		int64_t ext = e->p->nodes[c->j[k]].extent;

		if (k == 0) {
			set_iter(e, c->j[k], jp);
			break;
		}
		set_iter(e, c->j[k], LLVMBuildURem(e->b, jp, c64(e, ext), ""));
		jp = LLVMBuildUDiv(e->b, jp, c64(e, ext), "");
	}
}

static LLVMValueRef fptr(CpuEmit *e, LLVMValueRef p)
{
	return LLVMBuildBitCast(e->b, p, LLVMPointerType(e->f32, 0), "");
}

/* vec's element at the current variables as float*. */
static LLVMValueRef vec_ptr(CpuEmit *e, const CpuContract *c)
{
	return fptr(e, cpu_emit_arg_ptr(e, &e->p->nodes[c->stmt].arg[c->vec]));
}

static LLVMValueRef elem_diff(CpuEmit *e, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildExactSDiv(e->b, LLVMBuildSub(e->b, LLVMBuildPtrToInt(e->b, a, e->i64, ""),
	                                             LLVMBuildPtrToInt(e->b, b, e->i64, ""), ""), c64(e, 4), "");
}

/* For a coalesced run: in t->lanes[l] how far vec's element at j0 + l
 * lies from its element at the run's start (valid lanes), computed once
 * per j block so that packing needs no division. */
static void lane_table(CpuEmit *e, const CpuContract *c, Task *t, int valid)
{
	LLVMValueRef it, at, base;
	Loop lane;

	set_iter(e, c->i, c64(e, 0));
	for (int k = 0; k < c->nred; k++)
		set_iter(e, c->red[k], c64(e, 0));
	set_j(e, c, c64(e, 0));
	base = vec_ptr(e, c);
	it = loop_open(e, &lane, c64(e, 0), c64(e, valid));
	set_j(e, c, LLVMBuildAdd(e->b, t->j0, it, ""));
	at = LLVMBuildInBoundsGEP2(e->b, e->i64, t->lanes, &it, 1, "");
	LLVMBuildStore(e->b, elem_diff(e, vec_ptr(e, c), base), at);
	loop_close(e, &lane);
}

static LLVMValueRef lane_mask(CpuEmit *e, const CpuContract *c, int v, int valid);
static LLVMValueRef load_lanes(CpuEmit *e, const CpuContract *c, const Task *t, LLVMValueRef p, int v,
                               int valid);
static void store_lanes(CpuEmit *e, const CpuContract *c, const Task *t, LLVMValueRef x, LLVMValueRef p,
                        int v, int valid);

/* The n elements p[0], p[s], ..., p[s * (n - 1)] (s 1 or 2) as a vector,
 * zeros after: the s vectors they span loaded, masked where they would
 * pass the last, and every s-th element kept. */
static LLVMValueRef load_strided(CpuEmit *e, const CpuContract *c, const Task *t, LLVMValueRef p, int n, int s)
{
	LLVMValueRef x = load_lanes(e, c, t, p, 0, s * (n - 1) + 1), hi = LLVMConstNull(t->vt), idx[64];

	if (s == 1)
		return x;
	if (2 * (n - 1) + 1 > c->vl)
		hi = load_lanes(e, c, t, LLVMBuildInBoundsGEP2(e->b, e->f32, p, (LLVMValueRef[]){c64(e, c->vl)}, 1, ""),
		                0, 2 * (n - 1) + 1 - c->vl);
	for (int l = 0; l < c->vl; l++)
		idx[l] = LLVMConstInt(e->i32, (unsigned long long)(2 * l), 0);
	return LLVMBuildShuffleVector(e->b, x, hi, LLVMConstVector(idx, (unsigned)c->vl), "");
}

/* Lanes of vector v of a block with valid lanes (0 to vl). */
static int lanes_of(const CpuContract *c, int v, int valid)
{
	int n = valid - v * c->vl;

	return n < 0 ? 0 : n > c->vl ? c->vl : n;
}

/* One panel row of a vec that moves s (1 or 2) elements per lane, a
 * vector at a time; lanes past valid are zero. */
static void pack_row(CpuEmit *e, const CpuContract *c, const Task *t, LLVMValueRef off, int valid, int s)
{
	for (int v = 0; v < c->nv; v++) {
		int n = lanes_of(c, v, valid);
		LLVMValueRef x = LLVMConstNull(t->vt), at;

		if (n > 0) {
			set_j(e, c, LLVMBuildAdd(e->b, t->j0, c64(e, v * c->vl), ""));
			x = load_strided(e, c, t, vec_ptr(e, c), n, s);
		}
		at = LLVMBuildInBoundsGEP2(e->b, e->f32, t->panel,
		                           (LLVMValueRef[]){LLVMBuildAdd(e->b, off, c64(e, v * c->vl), "")}, 1, "");
		at = LLVMBuildBitCast(e->b, at, LLVMPointerType(t->vt, 0), "");
		LLVMSetAlignment(LLVMBuildStore(e->b, x, at), (unsigned)(c->vl * 4 < 64 ? c->vl * 4 : 64));
	}
}

/* vec's slice into the panel: lanes [0, valid) from j0 on, zeros after. */
static void pack(CpuEmit *e, const CpuContract *c, const Task *t, int valid)
{
	Loop red[CPU_MAX_NEST], lane;
	LLVMValueRef off, it, x, src, base = NULL;

	set_iter(e, c->i, c64(e, 0));
	off = red_open(e, c, t, red);
	if (c->nj == 1 && (c->vec_step == 1 || c->vec_step == 2)) {
		pack_row(e, c, t, off, valid, (int)c->vec_step);
		red_close(e, c, red);
		return;
	}
	if (c->nj > 1) {
		set_j(e, c, c64(e, 0));
		base = vec_ptr(e, c);
	}
	it = loop_open(e, &lane, c64(e, 0), c64(e, valid));
	if (c->nj > 1) {
		LLVMValueRef d = LLVMBuildLoad2(e->b, e->i64, LLVMBuildInBoundsGEP2(e->b, e->i64, t->lanes, &it, 1, ""), "");

		src = LLVMBuildGEP2(e->b, e->f32, base, &d, 1, "");
	} else {
		set_j(e, c, LLVMBuildAdd(e->b, t->j0, it, ""));
		src = vec_ptr(e, c);
	}
	x = LLVMBuildLoad2(e->b, e->f32, src, "");
	LLVMSetAlignment(x, 4);
	LLVMBuildStore(e->b, x, LLVMBuildInBoundsGEP2(e->b, e->f32, t->panel,
	                                              (LLVMValueRef[]){LLVMBuildAdd(e->b, off, it, "")}, 1, ""));
	cpu_mark_loop(e, loop_close(e, &lane), c->nj == 1, true);
	for (int k = valid; k < c->nv * c->vl; k++)
		LLVMBuildStore(e->b, LLVMConstReal(e->f32, 0),
		               LLVMBuildInBoundsGEP2(e->b, e->f32, t->panel,
		                                     (LLVMValueRef[]){LLVMBuildAdd(e->b, off, c64(e, k), "")}, 1, ""));
	red_close(e, c, red);
}

/* The lanes of vector v of a block with valid lanes as an <vl x i1> mask. */
static LLVMValueRef lane_mask(CpuEmit *e, const CpuContract *c, int v, int valid)
{
	LLVMValueRef m[64];

	for (int l = 0; l < c->vl; l++)
		m[l] = LLVMConstInt(e->i1, v * c->vl + l < valid, 0);
	return LLVMConstVector(m, (unsigned)c->vl);
}

static bool full_vector(const CpuContract *c, int v, int valid) { return (v + 1) * c->vl <= valid; }

static LLVMValueRef load_lanes(CpuEmit *e, const CpuContract *c, const Task *t, LLVMValueRef p, int v,
                             int valid)
{
	LLVMTypeRef pt = LLVMPointerType(t->vt, 0);
	LLVMValueRef args[4], r;
	LLVMTypeRef tys[2] = {t->vt, pt};

	if (full_vector(c, v, valid)) {
		r = LLVMBuildLoad2(e->b, t->vt, LLVMBuildBitCast(e->b, p, pt, ""), "");
		LLVMSetAlignment(r, 4);
		return r;
	}
	args[0] = LLVMBuildBitCast(e->b, p, pt, "");
	args[1] = LLVMConstInt(e->i32, 4, 0);
	args[2] = lane_mask(e, c, v, valid);
	args[3] = LLVMConstNull(t->vt);
	return cpu_emit_intrinsic(e, "llvm.masked.load", tys, 2, args, 4);
}

static void store_lanes(CpuEmit *e, const CpuContract *c, const Task *t, LLVMValueRef x, LLVMValueRef p,
                      int v, int valid)
{
	LLVMTypeRef pt = LLVMPointerType(t->vt, 0);
	LLVMValueRef args[4];
	LLVMTypeRef tys[2] = {t->vt, pt};

	if (full_vector(c, v, valid)) {
		LLVMSetAlignment(LLVMBuildStore(e->b, x, LLVMBuildBitCast(e->b, p, pt, "")), 4);
		return;
	}
	args[0] = x;
	args[1] = LLVMBuildBitCast(e->b, p, pt, "");
	args[2] = LLVMConstInt(e->i32, 4, 0);
	args[3] = lane_mask(e, c, v, valid);
	cpu_emit_intrinsic(e, "llvm.masked.store", tys, 2, args, 4);
}

static LLVMValueRef splat(CpuEmit *e, const Task *t, LLVMValueRef x)
{
	LLVMValueRef v = LLVMBuildInsertElement(e->b, LLVMGetUndef(t->vt), x, c64(e, 0), "");

	return LLVMBuildShuffleVector(e->b, v, LLVMGetUndef(t->vt),
	                              LLVMConstNull(LLVMVectorType(e->i32, LLVMGetVectorSize(t->vt))), "");
}

/* The accumulator's element at row i0 + r of the block and the start of
 * the j run, as float*. */
static LLVMValueRef acc_row(CpuEmit *e, const CpuContract *c, LLVMValueRef i0, int r)
{
	set_iter(e, c->i, LLVMBuildAdd(e->b, i0, c64(e, r), ""));
	set_j(e, c, c64(e, 0));
	return fptr(e, cpu_emit_arg_ptr(e, &e->p->nodes[c->stmt].arg[0]));
}

/* The fused start's value for the accumulator row just set (acc_row),
 * splat: the copy's source at the copy nest's loops mapped onto ours. */
static LLVMValueRef init_value(CpuEmit *e, const CpuContract *c, const Task *t)
{
	LLVMValueRef x;

	for (int l = 0; l < c->ninit; l++)
		e->vars[c->init_loops[l]] = e->vars[c->init_loop[l]];
	x = LLVMBuildLoad2(e->b, e->f32, fptr(e, cpu_emit_arg_ptr(e, &e->p->nodes[c->init].arg[1])), "");
	LLVMSetAlignment(x, 4);
	return splat(e, t, x);
}

/* Relu as apply computes it: x < 0 ? 0 : x (NaN stays). */
static LLVMValueRef relu(CpuEmit *e, const Task *t, LLVMValueRef x)
{
	LLVMValueRef zero = LLVMConstNull(t->vt);

	return LLVMBuildSelect(e->b, LLVMBuildFCmp(e->b, LLVMRealOLT, x, zero, ""), zero, x, "");
}

/* One block: rows [i0, i0 + mr) by nv vectors from j0 (valid lanes). */
static void micro(CpuEmit *e, const CpuContract *c, const Task *t, LLVMValueRef i0, int mr, int nv,
                  int valid)
{
	const LoopArg *b = &e->p->nodes[c->stmt].arg[c->bcast];
	LLVMValueRef slot[MAX_MR][MAX_NV], row[MAX_MR], pv[MAX_NV], off, in = NULL;
	Loop red[CPU_MAX_NEST];

	for (int r = 0; r < mr; r++) {
		LLVMValueRef init = NULL;

		row[r] = acc_row(e, c, i0, r);
		if (c->init >= 0)
			init = init_value(e, c, t);
		for (int v = 0; v < nv; v++) {
			LLVMValueRef at = LLVMBuildInBoundsGEP2(
				e->b, e->f32, row[r], (LLVMValueRef[]){LLVMBuildAdd(e->b, t->j0, c64(e, v * c->vl), "")}, 1, "");
			LLVMValueRef x = load_lanes(e, c, t, at, v, valid);

			if (init)
				x = LLVMBuildSelect(e->b, t->first, init, x, "");
			slot[r][v] = cpu_entry_alloca(e, t->vt, 64);
			LLVMBuildStore(e->b, x, slot[r][v]);
		}
	}
	off = red_open(e, c, t, red);
	if (c->direct) {
		set_j(e, c, c64(e, 0));
		in = fptr(e, cpu_emit_arg_ptr(e, &e->p->nodes[c->stmt].arg[c->vec]));
	}
	for (int v = 0; v < nv; v++) {
		LLVMValueRef at;

		if (c->direct) {
			at = LLVMBuildInBoundsGEP2(e->b, e->f32, in,
			                           (LLVMValueRef[]){LLVMBuildAdd(e->b, t->j0, c64(e, v * c->vl), "")}, 1, "");
			pv[v] = load_lanes(e, c, t, at, v, valid);
			continue;
		}
		at = LLVMBuildInBoundsGEP2(e->b, e->f32, t->panel,
		                           (LLVMValueRef[]){LLVMBuildAdd(e->b, off, c64(e, v * c->vl), "")}, 1, "");
		pv[v] = LLVMBuildLoad2(e->b, t->vt, LLVMBuildBitCast(e->b, at, LLVMPointerType(t->vt, 0), ""), "");
		LLVMSetAlignment(pv[v], (unsigned)(c->vl * 4 < 64 ? c->vl * 4 : 64));
	}
	for (int r = 0; r < mr; r++) {
		LLVMValueRef w;

		set_iter(e, c->i, LLVMBuildAdd(e->b, i0, c64(e, r), ""));
		w = LLVMBuildLoad2(e->b, e->f32, fptr(e, cpu_emit_arg_ptr(e, b)), "");
		LLVMSetAlignment(w, 4);
		w = splat(e, t, w);
		for (int v = 0; v < nv; v++) {
			LLVMValueRef x[3] = {w, pv[v], LLVMBuildLoad2(e->b, t->vt, slot[r][v], "")};
			LLVMTypeRef vt = t->vt;

			LLVMBuildStore(e->b, cpu_emit_intrinsic(e, "llvm.fmuladd", &vt, 1, x, 3), slot[r][v]);
		}
	}
	red_close(e, c, red);
	for (int r = 0; r < mr; r++)
		for (int v = 0; v < nv; v++) {
			LLVMValueRef at = LLVMBuildInBoundsGEP2(
				e->b, e->f32, row[r], (LLVMValueRef[]){LLVMBuildAdd(e->b, t->j0, c64(e, v * c->vl), "")}, 1, "");

			LLVMValueRef x = LLVMBuildLoad2(e->b, t->vt, slot[r][v], "");

			if (c->relu >= 0)
				x = LLVMBuildSelect(e->b, t->last, relu(e, t, x), x, "");
			store_lanes(e, c, t, x, at, v, valid);
		}
}

/* One step of a window's reduction on vectors: the operand x into
 * accumulator a, as reduce computes it (max and min keep a NaN in a). */
static LLVMValueRef window_step(CpuEmit *e, LoopReduce red, LLVMValueRef a, LLVMValueRef x)
{
	LLVMValueRef nan = LLVMBuildFCmp(e->b, LLVMRealUNO, a, a, "");

	switch (red) {
	case LR_SUM:
		return LLVMBuildFAdd(e->b, a, x, "");
	case LR_MAX:
		return LLVMBuildSelect(e->b, LLVMBuildOr(e->b, nan, LLVMBuildFCmp(e->b, LLVMRealOGT, a, x, ""), ""), a, x, "");
	case LR_MIN:
		return LLVMBuildSelect(e->b, LLVMBuildOr(e->b, nan, LLVMBuildFCmp(e->b, LLVMRealOLT, a, x, ""), ""), a, x, "");
	case LR_PROD:
		return LLVMBuildFMul(e->b, a, x, "");
	}
	nnac_unreachable();
}

/* A window column: the block's NV accumulator vectors held through the
 * window loops, the operand read a vector at a time. */
static void window_block(CpuEmit *e, const CpuContract *c, Task *t, int valid)
{
	const LoopNode *s = &e->p->nodes[c->stmt];
	int nv = (valid + c->vl - 1) / c->vl;
	LLVMValueRef slot[MAX_NV], at[MAX_NV], acc;
	Loop red[CPU_MAX_NEST];

	set_j(e, c, c64(e, 0));
	acc = fptr(e, cpu_emit_arg_ptr(e, &s->arg[0]));
	for (int v = 0; v < nv; v++) {
		at[v] = LLVMBuildInBoundsGEP2(e->b, e->f32, acc,
		                              (LLVMValueRef[]){LLVMBuildAdd(e->b, t->j0, c64(e, v * c->vl), "")}, 1, "");
		slot[v] = cpu_entry_alloca(e, t->vt, 64);
		LLVMBuildStore(e->b, load_lanes(e, c, t, at[v], v, valid), slot[v]);
	}
	red_open(e, c, t, red);
	for (int v = 0; v < nv; v++) {
		LLVMValueRef x;

		set_j(e, c, LLVMBuildAdd(e->b, t->j0, c64(e, v * c->vl), ""));
		x = load_strided(e, c, t, vec_ptr(e, c), lanes_of(c, v, valid), (int)c->vec_step);
		LLVMBuildStore(e->b, window_step(e, s->red, LLVMBuildLoad2(e->b, t->vt, slot[v], ""), x), slot[v]);
	}
	red_close(e, c, red);
	for (int v = 0; v < nv; v++)
		store_lanes(e, c, t, LLVMBuildLoad2(e->b, t->vt, slot[v], ""), at[v], v, valid);
}

/* A column of the task at slice t->k0 (outer loops and j0 set): vec's
 * slice packed unless read in place, then every i block of [ib0, ib1). */
static void column(CpuEmit *e, const CpuContract *c, Task *t, LLVMValueRef ib0, LLVMValueRef ib1, int valid)
{
	int nv = (valid + c->vl - 1) / c->vl;
	int64_t nfull = c->I / c->mr;
	LLVMValueRef ib;
	Loop il;

	if (c->window) {
		window_block(e, c, t, valid);
		return;
	}

	if (!c->direct && c->nj > 1)
		lane_table(e, c, t, valid);
	if (!c->direct)
		pack(e, c, t, valid);
	ib = loop_open(e, &il, ib0, smin(e, ib1, c64(e, nfull)));
	micro(e, c, t, LLVMBuildMul(e->b, ib, c64(e, c->mr), ""), c->mr, nv, valid);
	loop_close(e, &il);
	if (c->I % c->mr) {
		LLVMBasicBlockRef tail = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "");
		LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "");

		LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, ib1, c64(e, c->nib), ""), tail, done);
		LLVMPositionBuilderAtEnd(e->b, tail);
		micro(e, c, t, c64(e, nfull * c->mr), (int)(c->I % c->mr), nv, valid);
		LLVMBuildBr(e->b, done);
		LLVMPositionBuilderAtEnd(e->b, done);
	}
}

/* Sets the outer loops and t->j0 from column col; the j block's index. */
static LLVMValueRef decode_column(CpuEmit *e, const CpuContract *c, Task *t, LLVMValueRef col)
{
	LLVMValueRef jb = LLVMBuildURem(e->b, col, c64(e, c->njb), "");
	LLVMValueRef q = LLVMBuildUDiv(e->b, col, c64(e, c->njb), "");

	for (int k = c->nout - 1; k >= 0; k--) {
		int64_t ext = e->p->nodes[c->out[k]].extent;

		set_iter(e, c->out[k], LLVMBuildURem(e->b, q, c64(e, ext), ""));
		q = LLVMBuildUDiv(e->b, q, c64(e, ext), "");
	}
	t->j0 = LLVMBuildMul(e->b, jb, c64(e, (int64_t)c->nv * c->vl), "");
	return jb;
}

/*
 * The task split, made at run time for par->nthreads threads T.  A column
 * is one value of the outer loops and one j block; a task is a run of
 * columns by a chunk of row blocks, and runs slice by slice of red[0]
 * over all its columns, so that bcast's slice for its rows stays in L2
 * while the columns go by.  There are about T tasks: packed plans split
 * columns first (each task packs its own panels), in-place plans rows
 * first (nothing to pack twice).  One thread: one task.
 */
typedef struct Split {
	LLVMValueRef chunks, per_chunk;    /* chunks of row blocks, blocks per chunk */
	LLVMValueRef per_cc;               /* columns per task */
	LLVMValueRef tasks;
} Split;

static LLVMValueRef umin(CpuEmit *e, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntULT, a, b, ""), a, b, "");
}

static LLVMValueRef ceil_div(CpuEmit *e, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildUDiv(e->b, LLVMBuildSub(e->b, LLVMBuildAdd(e->b, a, b, ""), c64(e, 1), ""), b, "");
}

static Split split(CpuEmit *e, const CpuContract *c, LLVMValueRef par)
{
	LLVMTypeRef fields[3] = {e->ptr, e->ptr, e->i64};
	LLVMTypeRef st = LLVMStructTypeInContext(e->ctx, fields, 3, 0);
	LLVMValueRef p = LLVMBuildBitCast(e->b, par, LLVMPointerType(st, 0), "");
	LLVMValueRef t = LLVMBuildLoad2(e->b, e->i64, LLVMBuildStructGEP2(e->b, st, p, 2, ""), "nthreads");
	LLVMValueRef nib = c64(e, c->nib), ncols = c64(e, c->ncols), ic, ccs;
	Split s;

	t = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, t, c64(e, 1), ""), c64(e, 1), t, "");
	if (c->direct) {
		ic = umin(e, nib, t);
		ccs = umin(e, ncols, ceil_div(e, t, ic));
	} else {
		ccs = umin(e, ncols, t);
		ic = umin(e, nib, ceil_div(e, t, ccs));
	}
	s.per_chunk = ceil_div(e, nib, ic);
	s.chunks = ceil_div(e, nib, s.per_chunk);
	s.per_cc = ceil_div(e, ncols, ccs);
	s.tasks = LLVMBuildMul(e->b, ceil_div(e, ncols, s.per_cc), s.chunks, "");
	return s;
}

LLVMValueRef cpu_contract_tasks(CpuEmit *e, const CpuContract *c, LLVMValueRef par)
{
	return split(e, c, par).tasks;
}

/* One task: slice by slice of red[0], its columns, each with the blocks
 * of j it ends in (the last j block may be partial). */
static void task(CpuEmit *e, const CpuContract *c, const Split *sp, Task *t, LLVMValueRef q)
{
	int nj = c->nv * c->vl, tail = (int)(c->J % nj);
	int64_t ext0 = e->p->nodes[c->red[0]].extent;
	LLVMValueRef chunk = LLVMBuildURem(e->b, q, sp->chunks, "");
	LLVMValueRef cc = LLVMBuildUDiv(e->b, q, sp->chunks, "");
	LLVMValueRef ib0 = LLVMBuildMul(e->b, chunk, sp->per_chunk, "");
	LLVMValueRef ib1 = smin(e, LLVMBuildAdd(e->b, ib0, sp->per_chunk, ""), c64(e, c->nib));
	LLVMValueRef col0 = LLVMBuildMul(e->b, cc, sp->per_cc, "");
	LLVMValueRef col1 = smin(e, LLVMBuildAdd(e->b, col0, sp->per_cc, ""), c64(e, c->ncols));
	LLVMValueRef kb, col, jb;
	Loop kl, cl;

	kb = loop_open(e, &kl, c64(e, 0), c64(e, c->nkb));
	t->k0 = LLVMBuildMul(e->b, kb, c64(e, c->kb), "");
	t->kn = smin(e, c64(e, c->kb), LLVMBuildSub(e->b, c64(e, ext0), t->k0, ""));
	t->first = LLVMBuildICmp(e->b, LLVMIntEQ, kb, c64(e, 0), "");
	t->last = LLVMBuildICmp(e->b, LLVMIntEQ, kb, c64(e, c->nkb - 1), "");
	col = loop_open(e, &cl, col0, col1);
	jb = decode_column(e, c, t, col);
	if (tail == 0) {
		column(e, c, t, ib0, ib1, nj);
	} else {
		LLVMBasicBlockRef full = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "");
		LLVMBasicBlockRef last = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "");
		LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "");

		LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, jb, c64(e, c->njb - 1), ""), last, full);
		LLVMPositionBuilderAtEnd(e->b, full);
		column(e, c, t, ib0, ib1, nj);
		LLVMBuildBr(e->b, done);
		LLVMPositionBuilderAtEnd(e->b, last);
		column(e, c, t, ib0, ib1, tail);
		LLVMBuildBr(e->b, done);
		LLVMPositionBuilderAtEnd(e->b, done);
	}
	loop_close(e, &cl);
	loop_close(e, &kl);
}

void cpu_contract_emit(CpuEmit *e, const CpuContract *c, LLVMValueRef par, LLVMValueRef lo, LLVMValueRef hi)
{
	int nj = c->nv * c->vl;
	Split sp = split(e, c, par);
	LLVMValueRef q;
	Task t;
	Loop tl;

	t.vt = LLVMVectorType(e->f32, (unsigned)c->vl);
	t.panel = NULL;
	if (!c->direct)
		t.panel = fptr(e, cpu_entry_alloca(e, LLVMArrayType(e->f32, (unsigned)(c->kb * c->rin * nj)), 64));
	t.lanes = LLVMBuildBitCast(e->b, cpu_entry_alloca(e, LLVMArrayType(e->i64, (unsigned)nj), 64),
	                           LLVMPointerType(e->i64, 0), "");
	q = loop_open(e, &tl, lo, hi);
	task(e, c, &sp, &t, q);
	loop_close(e, &tl);
}
