/*
 * The CPU backend's module builder: cpu_compile.
 *
 * For each kernel it builds `internal void kernel_K(i8* noalias r0, ...)`
 * over the root buffers the kernel touches, then nnac_main, which loads
 * those roots' addresses from bufs[] and calls the kernels in order, and
 * the constant nnac_abi_tag.  A `for` loop becomes a bottom-tested LLVM loop (extent
 * is at least 1) whose i64 phi runs start, start + step, ... below end;
 * innermost loops carry llvm.loop metadata asking for vectorization.  A
 * mac nest that reduces innermost has the accumulator's contiguous loop
 * sunk below the reduction loops, in blocks of lanes held in locals
 * (sink_depth, emit_mac_block), keeping every accumulator's order of
 * additions.  Index expressions become i64 arithmetic that wraps, as loop_expr_eval
 * computes them; division and modulo round toward minus infinity.
 *
 * A statement with loaded indices checks them first (cpu_emit.c); the
 * function that finds one out of range records it in par->fail and
 * returns, and nnac_main returns after any kernel that leaves a record
 * (ABI 5).
 *
 * The module is verified (a failure is a compiler bug, ST_INTERNAL with
 * LLVM's message), then cpu_object.c optimizes, emits and links it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/DebugInfo.h>

#include "cpu_int.h"

Status cpu_error(CpuEmit *e, int node, Status st, const char *fmt, ...)
{
	const LoopNode *n = node >= 0 ? &e->p->nodes[node] : NULL;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n && n->line > 0)
		diag_add(e->d, st, "%s: kernel '%s': %s at %d:%d: %s", e->p->path ? e->p->path : "program",
		         e->p->kernels[e->kernel].name, loop_node_keyword(n->kind), n->line, n->col, msg);
	else if (n)
		diag_add(e->d, st, "%s: kernel '%s': %s: %s", e->p->path ? e->p->path : "program",
		         e->p->kernels[e->kernel].name, loop_node_keyword(n->kind), msg);
	else
		diag_add(e->d, st, "%s: %s", e->p->path ? e->p->path : "program", msg);
	if (e->st == ST_OK)
		e->st = st;
	return st;
}

/* Index expressions. */

static LLVMValueRef floor_div(CpuEmit *e, LLVMValueRef a, int64_t c)
{
	LLVMValueRef k = LLVMConstInt(e->i64, (unsigned long long)c, 0);
	LLVMValueRef q = LLVMBuildSDiv(e->b, a, k, "");
	LLVMValueRef r = LLVMBuildSRem(e->b, a, k, "");
	LLVMValueRef neg = LLVMBuildICmp(e->b, LLVMIntSLT, r, LLVMConstInt(e->i64, 0, 0), "");

	return LLVMBuildSub(e->b, q, LLVMBuildZExt(e->b, neg, e->i64, ""), "");
}

static LLVMValueRef floor_mod(CpuEmit *e, LLVMValueRef a, int64_t c)
{
	LLVMValueRef k = LLVMConstInt(e->i64, (unsigned long long)c, 0);
	LLVMValueRef r = LLVMBuildSRem(e->b, a, k, "");
	LLVMValueRef neg = LLVMBuildICmp(e->b, LLVMIntSLT, r, LLVMConstInt(e->i64, 0, 0), "");

	return LLVMBuildSelect(e->b, neg, LLVMBuildAdd(e->b, r, k, ""), r, "");
}

LLVMValueRef cpu_emit_expr(CpuEmit *e, int ex)
{
	const LoopExpr *x = &e->p->exprs[ex];

	switch (x->kind) {
	case LE_CONST:
		return LLVMConstInt(e->i64, (unsigned long long)x->c, 1);
	case LE_VAR:
		return e->vars[x->c];
	case LE_ADD:
		return LLVMBuildAdd(e->b, cpu_emit_expr(e, x->a), cpu_emit_expr(e, x->b), "");
	case LE_SUB:
		return LLVMBuildSub(e->b, cpu_emit_expr(e, x->a), cpu_emit_expr(e, x->b), "");
	case LE_MUL:
		return LLVMBuildMul(e->b, LLVMConstInt(e->i64, (unsigned long long)x->c, 1),
		                    cpu_emit_expr(e, x->a), "");
	case LE_DIV:
		return floor_div(e, cpu_emit_expr(e, x->a), x->c);
	case LE_MOD:
		return floor_mod(e, cpu_emit_expr(e, x->a), x->c);
	case LE_LOAD:
		break;
	}
	nnac_unreachable();
}

LLVMTypeRef cpu_par_type(CpuEmit *e)
{
	LLVMTypeRef f[6] = {e->ptr, e->ptr, e->i64, e->ptr, e->ptr, e->ptr};

	return LLVMStructTypeInContext(e->ctx, f, 6, 0);
}

/* Loops. */

enum { LOOP_MAX_NEST = CPU_MAX_NEST };   /* loops of a perfect nest reordered at once */

static LLVMValueRef cint64(CpuEmit *e, int64_t v) { return LLVMConstInt(e->i64, (unsigned long long)v, 1); }

static void emit_list(CpuEmit *e, int head);

static bool is_innermost(const LoopProgram *p, const LoopNode *f)
{
	for (int i = f->body; i >= 0; i = p->nodes[i].next)
		if (p->nodes[i].kind == LN_FOR)
			return false;
	return true;
}

/* !{!self, !{!"llvm.loop.vectorize.enable", i1 vectorize}[,
 * !{!"llvm.loop.unroll.disable"}]}: the loop ID is a node whose first
 * operand is itself, made by replacing a temporary. */
void cpu_mark_loop(CpuEmit *e, LLVMValueRef br, bool vectorize, bool unroll)
{
	static const char vec[] = "llvm.loop.vectorize.enable", nounroll[] = "llvm.loop.unroll.disable";
	LLVMMetadataRef hint[2], ops[3], id;

	hint[0] = LLVMMDStringInContext2(e->ctx, vec, sizeof(vec) - 1);
	hint[1] = LLVMValueAsMetadata(LLVMConstInt(e->i1, vectorize, 0));
	ops[0] = LLVMTemporaryMDNode(e->ctx, NULL, 0);
	ops[1] = LLVMMDNodeInContext2(e->ctx, hint, 2);
	hint[0] = LLVMMDStringInContext2(e->ctx, nounroll, sizeof(nounroll) - 1);
	ops[2] = LLVMMDNodeInContext2(e->ctx, hint, 1);
	id = LLVMMDNodeInContext2(e->ctx, ops, unroll ? 2 : 3);
	LLVMMetadataReplaceAllUsesWith(ops[0], id);
	LLVMSetMetadata(br, LLVMGetMDKindIDInContext(e->ctx, "llvm.loop", 9),
	                LLVMMetadataAsValue(e->ctx, id));
}

static void mark_vectorize(CpuEmit *e, LLVMValueRef br) { cpu_mark_loop(e, br, true, true); }

/* An open loop: its header block holds the induction phi. */
typedef struct OpenLoop {
	LLVMBasicBlockRef pre, head;
	LLVMValueRef iv;
} OpenLoop;

static void open_raw(CpuEmit *e, const char *name, OpenLoop *l)
{
	l->pre = LLVMGetInsertBlock(e->b);
	l->head = LLVMAppendBasicBlockInContext(e->ctx, e->fn, name);
	LLVMBuildBr(e->b, l->head);
	LLVMPositionBuilderAtEnd(e->b, l->head);
	l->iv = LLVMBuildPhi(e->b, e->i64, name);
}

/* The latch: next = v + step, back to the header while next < end. */
static void close_raw(CpuEmit *e, const OpenLoop *l, int64_t start, int64_t step, int64_t end,
                      bool vectorize)
{
	LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "");
	LLVMValueRef next, more, br, in[2];
	LLVMBasicBlockRef from[2];

	next = LLVMBuildNSWAdd(e->b, l->iv, cint64(e, step), "");
	more = LLVMBuildICmp(e->b, LLVMIntSLT, next, cint64(e, end), "");
	br = LLVMBuildCondBr(e->b, more, l->head, done);
	if (vectorize)
		mark_vectorize(e, br);
	in[0] = cint64(e, start);
	in[1] = next;
	from[0] = l->pre;
	from[1] = LLVMGetInsertBlock(e->b);
	LLVMAddIncoming(l->iv, in, from, 2);
	LLVMPositionBuilderAtEnd(e->b, done);
}

static void open_loop(CpuEmit *e, int ni, OpenLoop *l)
{
	open_raw(e, e->p->nodes[ni].var, l);
	e->vars[ni] = l->iv;
}

static void close_loop(CpuEmit *e, int ni, const OpenLoop *l, bool innermost)
{
	const LoopNode *f = &e->p->nodes[ni];

	close_raw(e, l, f->start, f->step, f->start + f->extent * f->step, innermost && f->extent > 1);
}

/* The only node of list head other than notes, or -1. */
static int only_node(const LoopProgram *p, int head)
{
	int found = -1;

	for (int i = head; i >= 0; i = p->nodes[i].next) {
		if (p->nodes[i].kind == LN_NOTE)
			continue;
		if (found >= 0)
			return -1;
		found = i;
	}
	return found;
}

int cpu_perfect_nest(const LoopProgram *p, int f, int *loops, int *stmt)
{
	int n = 0;

	while (n < LOOP_MAX_NEST && f >= 0 && p->nodes[f].kind == LN_FOR) {
		loops[n++] = f;
		f = only_node(p, p->nodes[f].body);
	}
	*stmt = f >= 0 && p->nodes[f].kind != LN_FOR ? f : -1;
	return n;
}

bool cpu_flat_step(const LoopProgram *p, const LoopArg *a, int v, int64_t *st)
{
	const LoopBuf *b = &p->bufs[a->buf];
	int64_t stride = 1;

	*st = 0;
	for (int d = b->rank - 1; d >= 0; d--) {
		LoopAffine af;

		if (!loop_expr_affine(p, a->idx[d], &af))
			return false;
		for (int i = 0; i < af.n; i++)
			if (af.var[i] == v)
				*st += af.coef[i] * stride;
		stride *= b->dims[d];
	}
	*st *= p->nodes[v].step;
	return true;
}

/* Whether both factors of mac s move by 0 or 1 element per step of v. */
static bool factors_contiguous(const LoopProgram *p, const LoopNode *s, int v)
{
	int64_t a, b;

	return cpu_flat_step(p, &s->arg[1], v, &a) && cpu_flat_step(p, &s->arg[2], v, &b) &&
	       (a == 0 || a == 1) && (b == 0 || b == 1);
}

/*
 * A mac nest whose innermost loops only reduce (their variables leave the
 * accumulator in place) runs with the loop just above them, which moves
 * the accumulator contiguously, sunk below them: for y, x { for c, r, s
 * { acc[y, x] += ... } } becomes for y { for c, r, s { for x { ... } } },
 * which vectorizes over x.  Every accumulator still adds its products in
 * the same order, since the accumulator is neither factor's memory and
 * distinct x are distinct accumulators.  A long innermost reduction over
 * contiguous factors stays (it vectorizes as a reduction) unless the sunk
 * loop would read them contiguously too.  Returns the depth of the loop to
 * sink, or -1.
 */
static int sink_depth(const CpuEmit *e, const int *loops, int n, int stmt)
{
	const LoopProgram *p = e->p;
	const LoopNode *s = &p->nodes[stmt];
	int j = n;
	int64_t st;

	if (s->kind != LN_MAC || cpu_stmt_loads(p, stmt) || e->root[s->arg[0].buf] == e->root[s->arg[1].buf] ||
	    e->root[s->arg[0].buf] == e->root[s->arg[2].buf])
		return -1;
	while (j > 0 && cpu_flat_step(p, &s->arg[0], loops[j - 1], &st) && st == 0) {
		for (int d = 0; d < s->arg[0].nidx; d++)
			if (loop_expr_uses(p, s->arg[0].idx[d], loops[j - 1]))
				return -1;
		j--;
	}
	if (j == n || j == 0 || !cpu_flat_step(p, &s->arg[0], loops[j - 1], &st) || st != 1)
		return -1;
	if (p->nodes[loops[n - 1]].extent >= 8 && factors_contiguous(p, s, loops[n - 1]) &&
	    !factors_contiguous(p, s, loops[j - 1]))
		return -1;
	return j - 1;
}

/* Lanes of a mac block: the largest divisor of extent from MAC_MAX_LANES
 * down to MAC_MIN_LANES, or 0. */
enum { MAC_MAX_LANES = 16, MAC_MIN_LANES = 4 };

static int mac_lanes(int64_t extent)
{
	for (int t = MAC_MAX_LANES; t >= MAC_MIN_LANES; t--)
		if (extent % t == 0)
			return t;
	return 0;
}

LLVMValueRef cpu_entry_alloca(CpuEmit *e, LLVMTypeRef t, unsigned align)
{
	LLVMBasicBlockRef at = LLVMGetInsertBlock(e->b);
	LLVMValueRef v;

	LLVMPositionBuilderBefore(e->b, e->fscratch);
	v = LLVMBuildAlloca(e->b, t, "acc");
	LLVMSetAlignment(v, align);
	LLVMPositionBuilderAtEnd(e->b, at);
	return v;
}

/* The T lanes' accumulators: ptr[t] their elements, slot[t] where they are
 * held; the sunk loop's variable takes each lane's value in turn. */
typedef struct MacBlock {
	int stmt, x, T;
	unsigned align;
	LLVMTypeRef at;
	LLVMValueRef xv[MAC_MAX_LANES], ptr[MAC_MAX_LANES], slot[MAC_MAX_LANES];
} MacBlock;

static void block_load(CpuEmit *e, MacBlock *m, LLVMValueRef xb)
{
	const LoopNode *x = &e->p->nodes[m->x];
	LLVMValueRef tmp = cpu_entry_alloca(e, LLVMArrayType(m->at, MAC_MAX_LANES), 16);
	LLVMValueRef base = LLVMBuildAdd(e->b, cint64(e, x->start),
	                                 LLVMBuildMul(e->b, xb, cint64(e, m->T * x->step), ""), "");

	for (int t = 0; t < m->T; t++) {
		LLVMValueRef ix[2] = {cint64(e, 0), cint64(e, t)}, v;

		m->xv[t] = LLVMBuildAdd(e->b, base, cint64(e, t * x->step), "");
		e->vars[m->x] = m->xv[t];
		m->ptr[t] = cpu_emit_acc_ptr(e, m->stmt);
		m->slot[t] = LLVMBuildInBoundsGEP2(e->b, LLVMArrayType(m->at, MAC_MAX_LANES), tmp, ix, 2, "");
		v = LLVMBuildLoad2(e->b, m->at, m->ptr[t], "");
		LLVMSetAlignment(v, m->align);
		LLVMBuildStore(e->b, v, m->slot[t]);
	}
}

static void block_step(CpuEmit *e, MacBlock *m)
{
	for (int t = 0; t < m->T; t++) {
		e->vars[m->x] = m->xv[t];
		LLVMBuildStore(e->b, cpu_emit_mac_step(e, m->stmt, LLVMBuildLoad2(e->b, m->at, m->slot[t], "")),
		               m->slot[t]);
	}
}

static void block_store(CpuEmit *e, MacBlock *m)
{
	for (int t = 0; t < m->T; t++)
		LLVMSetAlignment(LLVMBuildStore(e->b, LLVMBuildLoad2(e->b, m->at, m->slot[t], ""), m->ptr[t]),
		                 m->align);
}

/*
 * A sunk mac nest (order[]: the loops above, the reduction loops, the sunk
 * loop x) with x run in blocks of T lanes: each block's accumulators are
 * loaded into locals (registers, once promoted), run through the reduction
 * loops together and stored back, which the SLP vectorizer turns into
 * vector multiply-adds.  Each accumulator's order of additions is kept.
 */
static void emit_mac_block(CpuEmit *e, const int *order, int n, int above, int stmt, int T)
{
	const LoopNode *x = &e->p->nodes[order[n - 1]];
	const LoopBuf *acc = &e->p->bufs[e->p->nodes[stmt].arg[0].buf];
	OpenLoop open[LOOP_MAX_NEST], xb;
	MacBlock m;

	m.stmt = stmt;
	m.x = order[n - 1];
	m.T = T;
	m.at = cpu_emit_acc_type(e, stmt);
	m.align = (unsigned)dtype_size(acc->dt);
	for (int i = 0; i < above; i++)
		open_loop(e, order[i], &open[i]);
	open_raw(e, x->var, &xb);
	block_load(e, &m, xb.iv);
	for (int i = above; i < n - 1; i++)
		open_loop(e, order[i], &open[i]);
	block_step(e, &m);
	for (int i = n - 2; i >= above; i--)
		close_loop(e, order[i], &open[i], false);
	block_store(e, &m);
	close_raw(e, &xb, 0, 1, x->extent / T, false);
	for (int i = above - 1; i >= 0; i--)
		close_loop(e, order[i], &open[i], false);
}

/*
 * A reduce nest whose innermost loop v combines a contiguous run of f32 or
 * f64 source elements into one accumulator element runs v in vectors of W
 * lanes (the target's widest vector of the statement's float type), each
 * lane combining every W-th element; the lanes then combine in a fixed
 * tree (halves, then quarters, ...), the accumulator with the result, and
 * the extent % W elements left one at a time.  Max and min give the
 * nest's values (a NaN still wins); a sum or product adds in another, but
 * fixed, order, within the loop IR's tolerance.  Returns W, or 0 when the
 * nest does not qualify or v is shorter than two vectors.
 */
enum { MAX_VEC_LANES = 64 };

static int reduce_lanes(const CpuEmit *e, const int *loops, int n, int stmt)
{
	const LoopProgram *p = e->p;
	const LoopNode *s = &p->nodes[stmt], *v = &p->nodes[loops[n - 1]];
	LLVMTypeRef ft = cpu_emit_reduce_type(e, stmt);
	int64_t st;
	int lanes;

	if (!ft || cpu_stmt_loads(p, stmt) || e->root[s->arg[0].buf] == e->root[s->arg[1].buf] ||
	    !cpu_flat_step(p, &s->arg[1], loops[n - 1], &st) || st != 1)
		return 0;
	for (int d = 0; d < s->arg[0].nidx; d++)
		if (loop_expr_uses(p, s->arg[0].idx[d], loops[n - 1]))
			return 0;
	lanes = ft == e->f32 ? e->vl : e->vl / 2;
	return lanes > 1 && lanes <= MAX_VEC_LANES && v->extent >= 2 * lanes ? lanes : 0;
}

/* The identity of red in float type ft: -0 for a sum (so that -0 stays). */
static LLVMValueRef reduce_identity(LLVMTypeRef ft, LoopReduce red)
{
	switch (red) {
	case LR_SUM: return LLVMConstReal(ft, -0.0);
	case LR_MAX: return LLVMConstReal(ft, -INFINITY);
	case LR_MIN: return LLVMConstReal(ft, INFINITY);
	case LR_PROD: return LLVMConstReal(ft, 1.0);
	}
	nnac_unreachable();
}

/* The W lanes of vector x combined by red: halves, quarters, ..., the
 * last two as scalars. */
static LLVMValueRef reduce_tree(CpuEmit *e, LoopReduce red, LLVMValueRef x, int W)
{
	for (int h = W / 2; h >= 2; h /= 2) {
		LLVMValueRef lo[MAX_VEC_LANES], hi[MAX_VEC_LANES];

		for (int t = 0; t < h; t++) {
			lo[t] = LLVMConstInt(e->i32, (unsigned long long)t, 0);
			hi[t] = LLVMConstInt(e->i32, (unsigned long long)(h + t), 0);
		}
		x = cpu_emit_reduce_combine(e, red,
		                            LLVMBuildShuffleVector(e->b, x, LLVMGetUndef(LLVMTypeOf(x)),
		                                                   LLVMConstVector(lo, (unsigned)h), ""),
		                            LLVMBuildShuffleVector(e->b, x, LLVMGetUndef(LLVMTypeOf(x)),
		                                                   LLVMConstVector(hi, (unsigned)h), ""));
	}
	return cpu_emit_reduce_combine(e, red, LLVMBuildExtractElement(e->b, x, LLVMConstInt(e->i32, 0, 0), ""),
	                               LLVMBuildExtractElement(e->b, x, LLVMConstInt(e->i32, 1, 0), ""));
}

static void emit_reduce_lanes(CpuEmit *e, const int *loops, int n, int stmt, int W)
{
	const LoopNode *s = &e->p->nodes[stmt], *v = &e->p->nodes[loops[n - 1]];
	LLVMTypeRef ft = cpu_emit_reduce_type(e, stmt), vt = LLVMVectorType(ft, (unsigned)W);
	int64_t blocks = v->extent / W, end = v->start + v->extent * v->step;
	OpenLoop open[LOOP_MAX_NEST], blk, tail;
	LLVMValueRef id[MAX_VEC_LANES], lanes, next, ptr, acc;
	LLVMBasicBlockRef latch;

	for (int t = 0; t < W; t++)
		id[t] = reduce_identity(ft, s->red);
	for (int i = 0; i < n - 1; i++)
		open_loop(e, loops[i], &open[i]);
	open_raw(e, v->var, &blk);
	lanes = LLVMBuildPhi(e->b, vt, "lanes");
	e->vars[loops[n - 1]] = LLVMBuildAdd(e->b, cint64(e, v->start),
	                                     LLVMBuildMul(e->b, blk.iv, cint64(e, W * v->step), ""), "");
	next = cpu_emit_reduce_combine(e, s->red, lanes, cpu_emit_reduce_load(e, stmt, W));
	latch = LLVMGetInsertBlock(e->b);
	close_raw(e, &blk, 0, 1, blocks, false);
	LLVMAddIncoming(lanes, (LLVMValueRef[]){LLVMConstVector(id, (unsigned)W), next},
	                (LLVMBasicBlockRef[]){blk.pre, latch}, 2);
	ptr = cpu_emit_acc_ptr(e, stmt);
	acc = LLVMBuildLoad2(e->b, ft, ptr, "");
	LLVMBuildStore(e->b, cpu_emit_reduce_combine(e, s->red, acc, reduce_tree(e, s->red, next, W)), ptr);
	if (blocks * W < v->extent) {
		open_raw(e, v->var, &tail);
		e->vars[loops[n - 1]] = tail.iv;
		cpu_emit_stmt(e, stmt);
		close_raw(e, &tail, v->start + blocks * W * v->step, v->step, end, false);
	}
	for (int i = n - 2; i >= 0; i--)
		close_loop(e, loops[i], &open[i], false);
}

static void emit_for(CpuEmit *e, int ni)
{
	int loops[LOOP_MAX_NEST], order[LOOP_MAX_NEST], n, stmt, sink, lanes, k = 0;
	OpenLoop open[LOOP_MAX_NEST];

	n = cpu_perfect_nest(e->p, ni, loops, &stmt);
	if (stmt >= 0 && (lanes = reduce_lanes(e, loops, n, stmt)) > 0) {
		emit_reduce_lanes(e, loops, n, stmt, lanes);
		return;
	}
	sink = stmt >= 0 ? sink_depth(e, loops, n, stmt) : -1;
	if (sink < 0) {
		OpenLoop l;

		open_loop(e, ni, &l);
		emit_list(e, e->p->nodes[ni].body);
		close_loop(e, ni, &l, is_innermost(e->p, &e->p->nodes[ni]));
		return;
	}
	for (int i = 0; i < n; i++)
		if (i != sink)
			order[k++] = loops[i];
	order[k++] = loops[sink];
	if (mac_lanes(e->p->nodes[loops[sink]].extent) > 0) {
		emit_mac_block(e, order, n, sink, stmt, mac_lanes(e->p->nodes[loops[sink]].extent));
		return;
	}
	for (int i = 0; i < n; i++)
		open_loop(e, order[i], &open[i]);
	cpu_emit_stmt(e, stmt);
	for (int i = n - 1; i >= 0; i--)
		close_loop(e, order[i], &open[i], i == n - 1);
}

static void emit_node(CpuEmit *e, int i)
{
	switch (e->p->nodes[i].kind) {
	case LN_FOR:
		emit_for(e, i);
		break;
	case LN_NOTE:
		break;
	case LN_COPY:
	case LN_FILL:
	case LN_MAC:
	case LN_APPLY:
	case LN_REDUCE:
	case LN_QUANTIZE:
	case LN_DEQUANTIZE:
	case LN_REQUANTIZE:
		cpu_emit_stmt(e, i);
		break;
	case LN_COUNT:
		nnac_unreachable();
	}
}

static void emit_list(CpuEmit *e, int head)
{
	for (int i = head; i >= 0 && e->st == ST_OK; i = e->p->nodes[i].next)
		emit_node(e, i);
}

/* Kernels. */

/* Marks in used[] the root buffers that the statements under head touch. */
static void roots_used(const CpuEmit *e, int head, bool *used)
{
	for (int i = head; i >= 0; i = e->p->nodes[i].next) {
		const LoopNode *n = &e->p->nodes[i];

		if (n->kind == LN_FOR)
			roots_used(e, n->body, used);
		for (int a = 0; n->kind != LN_FOR && n->kind != LN_NOTE && a < n->narg; a++) {
			if (n->arg[a].buf >= 0)
				used[e->root[n->arg[a].buf]] = true;
			for (int d = 0; n->arg[a].buf >= 0 && d < n->arg[a].nidx; d++)
				if (e->p->exprs[n->arg[a].idx[d]].kind == LE_LOAD)
					used[e->root[e->p->exprs[n->arg[a].idx[d]].c]] = true;
		}
	}
}

/* An internal function named name: one noalias, 64-byte aligned i8*
 * parameter per root of the kernel (e->args), then the types extra[];
 * e->param[] set to the roots' parameters, e->fn to it, the builder at its
 * entry block with the scratch allocas. */
static LLVMValueRef open_function(CpuEmit *e, const char *name, LLVMTypeRef *extra, int nextra)
{
	int np = e->nargs + nextra;
	LLVMTypeRef *pt = nnac_calloc((size_t)np + 1, sizeof(*pt));
	unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
	LLVMValueRef fn;

	if (!pt) {
		e->st = diag_add(e->d, ST_NOMEM, "%s: out of memory", e->p->path ? e->p->path : "program");
		return NULL;
	}
	for (int j = 0; j < np; j++)
		pt[j] = j < e->nargs ? e->ptr : extra[j - e->nargs];
	fn = LLVMAddFunction(e->mod, name, LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), pt, (unsigned)np, 0));
	nnac_free(pt);
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	for (int j = 0; j < e->nargs; j++) {
		const char *bn = e->p->bufs[e->args[j]].name;

		e->param[e->args[j]] = LLVMGetParam(fn, (unsigned)j);
		LLVMSetValueName2(e->param[e->args[j]], bn, strlen(bn));
		LLVMAddAttributeAtIndex(fn, (unsigned)(j + 1), LLVMCreateEnumAttribute(e->ctx, noalias, 0));
		LLVMSetParamAlignment(e->param[e->args[j]], 64);
	}
	e->fn = fn;
	LLVMPositionBuilderAtEnd(e->b, LLVMAppendBasicBlockInContext(e->ctx, fn, "entry"));
	e->fscratch = LLVMBuildAlloca(e->b, LLVMArrayType(e->f64, LOOP_MAX_ARGS), "fx");
	e->iscratch = LLVMBuildAlloca(e->b, LLVMArrayType(e->i64, LOOP_MAX_ARGS), "ix");
	return fn;
}

/* What a function being built holds, to come back to it after building
 * another. */
typedef struct FnState {
	LLVMValueRef fn, fscratch, iscratch, curpar;
	LLVMBasicBlockRef at;
} FnState;

static void save_fn(CpuEmit *e, FnState *s)
{
	s->curpar = e->curpar;
	s->fn = e->fn;
	s->fscratch = e->fscratch;
	s->iscratch = e->iscratch;
	s->at = LLVMGetInsertBlock(e->b);
}

static void restore_fn(CpuEmit *e, const FnState *s)
{
	e->curpar = s->curpar;
	e->fn = s->fn;
	e->fscratch = s->fscratch;
	e->iscratch = s->iscratch;
	LLVMPositionBuilderAtEnd(e->b, s->at);
	for (int j = 0; j < e->nargs; j++)
		e->param[e->args[j]] = LLVMGetParam(e->fn, (unsigned)j);
}

/* A contraction worth sending to other threads: at least this many MACs. */
enum { PARALLEL_MIN_MACS = 1 << 21 };

/* run(i8** roots, i64 lo, i64 hi), an NnacTaskFn: body(roots[0], ...,
 * roots[nargs] (the NnacPar), lo, hi). */
static LLVMValueRef task_runner(CpuEmit *e, LLVMValueRef body, const char *name)
{
	LLVMTypeRef pt[3] = {LLVMPointerType(e->ptr, 0), e->i64, e->i64};
	LLVMValueRef fn = LLVMAddFunction(e->mod, name, LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), pt, 3, 0));
	LLVMValueRef *av = nnac_calloc((size_t)e->nargs + 3, sizeof(*av));

	if (!av) {
		e->st = diag_add(e->d, ST_NOMEM, "%s: out of memory", e->p->path ? e->p->path : "program");
		return fn;
	}
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	LLVMPositionBuilderAtEnd(e->b, LLVMAppendBasicBlockInContext(e->ctx, fn, "entry"));
	for (int j = 0; j <= e->nargs; j++) {
		LLVMValueRef ix = LLVMConstInt(e->i64, (unsigned long long)j, 0);

		av[j] = LLVMBuildLoad2(e->b, e->ptr, LLVMBuildInBoundsGEP2(e->b, e->ptr, LLVMGetParam(fn, 0), &ix, 1, ""), "");
	}
	av[e->nargs + 1] = LLVMGetParam(fn, 1);
	av[e->nargs + 2] = LLVMGetParam(fn, 2);
	LLVMBuildCall2(e->b, LLVMGlobalGetValueType(body), body, av, (unsigned)e->nargs + 3, "");
	LLVMBuildRetVoid(e->b);
	nnac_free(av);
	return fn;
}

/* par->parallel_for(par->pool, run, roots, n) from the kernel. */
static void call_parallel_for(CpuEmit *e, LLVMValueRef run, LLVMValueRef n)
{
	LLVMTypeRef task = LLVMTypeOf(run);
	LLVMTypeRef ft_args[4] = {e->ptr, task, LLVMPointerType(e->ptr, 0), e->i64};
	LLVMTypeRef ft = LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), ft_args, 4, 0);
	LLVMTypeRef fields[2] = {LLVMPointerType(ft, 0), e->ptr};
	LLVMTypeRef st = LLVMStructTypeInContext(e->ctx, fields, 2, 0);
	LLVMValueRef par = LLVMBuildBitCast(e->b, e->par, LLVMPointerType(st, 0), "");
	LLVMValueRef pf = LLVMBuildLoad2(e->b, fields[0], LLVMBuildStructGEP2(e->b, st, par, 0, ""), "");
	LLVMValueRef pool = LLVMBuildLoad2(e->b, e->ptr, LLVMBuildStructGEP2(e->b, st, par, 1, ""), "");
	LLVMValueRef args[4] = {pool, run, e->roots, n};

	LLVMBuildCall2(e->b, ft, pf, args, 4, "");
}

/*
 * Other nests split across threads: the outermost loop (par) with more
 * than one iteration, under loops of one, when every access to a buffer
 * the nest writes is to that very buffer and indexes one dimension, the
 * same for all of them, by par's variable alone.  Iterations of par then
 * touch disjoint elements of everything written and read what no other
 * iteration writes.
 */
enum { PARALLEL_MIN_WORK = 1 << 18 };   /* statement executions */

typedef struct ParNest {
	int top, par;
	double work;
} ParNest;

/* Statement runs of the list from head on. */
static double nest_work(const LoopProgram *p, int head)
{
	double w = 0;

	for (int i = head; i >= 0; i = p->nodes[i].next)
		if (p->nodes[i].kind == LN_FOR)
			w += (double)p->nodes[i].extent * nest_work(p, p->nodes[i].body);
		else if (p->nodes[i].kind != LN_NOTE)
			w += 1;
	return w;
}

/* The dimension of a indexed by for-node v alone, or -1. */
static int var_dim(const LoopProgram *p, const LoopArg *a, int v)
{
	for (int d = 0; d < a->nidx; d++) {
		const LoopExpr *x = &p->exprs[a->idx[d]];

		if (x->kind == LE_VAR && x->c == v)
			return d;
	}
	return -1;
}

/* Whether every access under head to root r is to buffer buf with
 * dimension dim indexed by v alone. */
static bool accesses_split(const CpuEmit *e, int head, int r, int buf, int dim, int v)
{
	for (int i = head; i >= 0; i = e->p->nodes[i].next) {
		const LoopNode *n = &e->p->nodes[i];

		if (n->kind == LN_FOR) {
			if (!accesses_split(e, n->body, r, buf, dim, v))
				return false;
			continue;
		}
		for (int a = 0; n->kind != LN_NOTE && a < n->narg; a++) {
			const LoopArg *x = &n->arg[a];

			if (x->buf >= 0 && e->root[x->buf] == r &&
			    (x->buf != buf || dim >= x->nidx || var_dim(e->p, x, v) != dim))
				return false;
			for (int d = 0; x->buf >= 0 && d < x->nidx; d++)
				if (e->p->exprs[x->idx[d]].kind == LE_LOAD &&
				    e->root[e->p->exprs[x->idx[d]].c] == r)
					return false;
		}
	}
	return true;
}

/* Whether every statement under head writes in a way par splits
 * (accesses_split over all of body). */
static bool writes_split(const CpuEmit *e, int head, int body, int v)
{
	for (int i = head; i >= 0; i = e->p->nodes[i].next) {
		const LoopNode *n = &e->p->nodes[i];
		const LoopArg *w = &n->arg[0];

		if (n->kind == LN_FOR) {
			if (!writes_split(e, n->body, body, v))
				return false;
			continue;
		}
		if (n->kind == LN_NOTE || w->buf < 0)
			continue;
		if (var_dim(e->p, w, v) < 0 || !accesses_split(e, body, e->root[w->buf], w->buf, var_dim(e->p, w, v), v))
			return false;
	}
	return true;
}

static bool par_plan(const CpuEmit *e, int top, ParNest *pn)
{
	const LoopProgram *p = e->p;
	int f = top;

	while (p->nodes[f].extent == 1) {
		int only = only_node(p, p->nodes[f].body);

		if (only < 0 || p->nodes[only].kind != LN_FOR)
			return false;
		f = only;
	}
	pn->top = top;
	pn->par = f;
	pn->work = (double)p->nodes[top].extent * nest_work(p, p->nodes[top].body);
	return pn->work >= e->par_min_work && writes_split(e, p->nodes[f].body, p->nodes[f].body, f);
}

/* A split nest's task: the loops of one iteration at their start, par
 * over iterations [lo, hi), its body as usual. */
static void emit_par_body(CpuEmit *e, const ParNest *pn, LLVMValueRef lo, LLVMValueRef hi)
{
	const LoopNode *f = &e->p->nodes[pn->par];
	LLVMBasicBlockRef pre, head, done;
	LLVMValueRef it, next;

	for (int g = pn->top; g != pn->par; g = only_node(e->p, e->p->nodes[g].body))
		e->vars[g] = cint64(e, e->p->nodes[g].start);
	pre = LLVMGetInsertBlock(e->b);
	head = LLVMAppendBasicBlockInContext(e->ctx, e->fn, f->var);
	done = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "");
	LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, lo, hi, ""), head, done);
	LLVMPositionBuilderAtEnd(e->b, head);
	it = LLVMBuildPhi(e->b, e->i64, "");
	e->vars[pn->par] = LLVMBuildAdd(e->b, cint64(e, f->start), LLVMBuildMul(e->b, it, cint64(e, f->step), ""), "");
	emit_list(e, f->body);
	next = LLVMBuildNSWAdd(e->b, it, cint64(e, 1), "");
	{
		LLVMValueRef br = LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, next, hi, ""), head, done);
		LLVMBasicBlockRef from = LLVMGetInsertBlock(e->b);

		if (is_innermost(e->p, f))
			mark_vectorize(e, br);
		LLVMAddIncoming(it, &lo, &pre, 1);
		LLVMAddIncoming(it, &next, &from, 1);
	}
	LLVMPositionBuilderAtEnd(e->b, done);
}

/* A top-level nest of the kernel, contraction c or split nest pn, as a
 * task function over its iterations, called through the runtime's
 * parallel_for when it is big enough, else here directly on a one-thread
 * NnacPar (e->serial), so that a contraction makes one task. */
static void emit_task(CpuEmit *e, const CpuContract *c, const ParNest *pn)
{
	LLVMTypeRef extra[3] = {e->ptr, e->i64, e->i64};
	bool parallel = c ? c->macs >= e->par_min_macs : pn->work >= e->par_min_work;
	char name[80];
	LLVMValueRef body, par, lo, hi, n, *av;
	FnState st;

	save_fn(e, &st);
	snprintf(name, sizeof(name), "kernel_%d_task_%d", e->kernel, e->ntasks);
	body = open_function(e, name, extra, 3);
	if (!body)
		return;
	par = LLVMGetParam(body, (unsigned)e->nargs);
	lo = LLVMGetParam(body, (unsigned)e->nargs + 1);
	hi = LLVMGetParam(body, (unsigned)e->nargs + 2);
	e->curpar = par;
	if (c)
		cpu_contract_emit(e, c, par, lo, hi);
	else
		emit_par_body(e, pn, lo, hi);
	LLVMBuildRetVoid(e->b);
	if (parallel) {
		LLVMValueRef run;

		snprintf(name, sizeof(name), "kernel_%d_run_%d", e->kernel, e->ntasks);
		run = task_runner(e, body, name);
		restore_fn(e, &st);
		n = c ? cpu_contract_tasks(e, c, e->par) : cint64(e, e->p->nodes[pn->par].extent);
		call_parallel_for(e, run, n);
	} else if ((av = nnac_calloc((size_t)e->nargs + 3, sizeof(*av)))) {
		restore_fn(e, &st);
		for (int j = 0; j < e->nargs; j++)
			av[j] = e->param[e->args[j]];
		av[e->nargs] = e->serial;
		av[e->nargs + 1] = cint64(e, 0);
		av[e->nargs + 2] = c ? cpu_contract_tasks(e, c, e->serial) : cint64(e, e->p->nodes[pn->par].extent);
		LLVMBuildCall2(e->b, LLVMGlobalGetValueType(body), body, av, (unsigned)e->nargs + 3, "");
		nnac_free(av);
	} else {
		restore_fn(e, &st);
		e->st = diag_add(e->d, ST_NOMEM, "%s: out of memory", e->p->path ? e->p->path : "program");
	}
	e->ntasks++;
}

/* Whether top-level node i is a contraction; its plan into *c. */
static bool contraction_at(CpuEmit *e, int i, CpuContract *c)
{
	int loops[LOOP_MAX_NEST], n, stmt;

	if (i < 0 || e->p->nodes[i].kind != LN_FOR)
		return false;
	n = cpu_perfect_nest(e->p, i, loops, &stmt);
	return stmt >= 0 && cpu_contract_plan(e, loops, n, stmt, c);
}

static int next_node(const LoopProgram *p, int i)
{
	for (i = p->nodes[i].next; i >= 0 && p->nodes[i].kind == LN_NOTE; i = p->nodes[i].next)
		;
	return i;
}

/* The kernel's top-level nodes: contractions (with the bias copy before
 * them and the Relu after them folded in) and splittable nests as tasks,
 * the rest inline. */
static void emit_top(CpuEmit *e, int head)
{
	CpuContract c, ahead;   /* ahead: the plan of node ahead_at, made when looking past a copy */
	int ahead_at = -1, skip = -1;   /* skip: a Relu nest the last contraction took */
	bool ahead_ok = false;

	for (int i = head; i >= 0 && e->st == ST_OK; i = e->p->nodes[i].next) {
		int next = next_node(e->p, i);
		ParNest pn;

		if (i == skip || e->p->nodes[i].kind == LN_NOTE)
			continue;
		if (i == ahead_at ? ahead_ok : contraction_at(e, i, &c)) {
			if (i == ahead_at)
				c = ahead;
			if (next >= 0 && cpu_contract_fuse_relu(e, &c, next))
				skip = next;
			emit_task(e, &c, NULL);
			continue;
		}
		ahead_at = next;
		ahead_ok = next >= 0 && contraction_at(e, next, &ahead);
		if (ahead_ok && cpu_contract_fuse_init(e, &ahead, i))
			continue;
		if (e->p->nodes[i].kind == LN_FOR && par_plan(e, i, &pn)) {
			emit_task(e, NULL, &pn);
			continue;
		}
		emit_node(e, i);
	}
}

/* The kernel's argument block for tasks: roots[j] = its j-th root, then
 * its NnacPar; and e->serial, an NnacPar of one thread for tasks it runs
 * itself (only nthreads and fail are read from it). */
static void emit_roots(CpuEmit *e)
{
	LLVMTypeRef pt = cpu_par_type(e);
	LLVMValueRef one = LLVMBuildAlloca(e->b, pt, "serial");
	LLVMValueRef par = LLVMBuildBitCast(e->b, e->par, LLVMPointerType(pt, 0), "");

	e->roots = LLVMBuildAlloca(e->b, LLVMArrayType(e->ptr, (unsigned)e->nargs + 1), "roots");
	e->roots = LLVMBuildBitCast(e->b, e->roots, LLVMPointerType(e->ptr, 0), "");
	for (int j = 0; j <= e->nargs; j++) {
		LLVMValueRef ix = LLVMConstInt(e->i64, (unsigned long long)j, 0);

		LLVMBuildStore(e->b, j < e->nargs ? e->param[e->args[j]] : e->par,
		               LLVMBuildInBoundsGEP2(e->b, e->ptr, e->roots, &ix, 1, ""));
	}
	LLVMBuildStore(e->b, cint64(e, 1), LLVMBuildStructGEP2(e->b, pt, one, 2, ""));
	LLVMBuildStore(e->b, LLVMBuildLoad2(e->b, e->ptr, LLVMBuildStructGEP2(e->b, pt, par, 5, ""), ""),
	               LLVMBuildStructGEP2(e->b, pt, one, 5, ""));
	e->serial = LLVMBuildBitCast(e->b, one, e->ptr, "");
}

/* Builds kernel k, kernel_K(roots..., par); in args[] the roots to pass
 * it, in order. */
static LLVMValueRef emit_kernel(CpuEmit *e, int k, int *args, int *nargs)
{
	bool *used = nnac_calloc((size_t)e->p->nbufs + 1, sizeof(bool));
	char name[64];
	LLVMValueRef fn;

	*nargs = 0;
	if (!used) {
		e->st = diag_add(e->d, ST_NOMEM, "%s: out of memory", e->p->path ? e->p->path : "program");
		return NULL;
	}
	roots_used(e, e->p->kernels[k].body, used);
	for (int i = 0; i < e->p->nbufs; i++) {
		e->param[i] = NULL;
		if (used[i])
			args[(*nargs)++] = i;
	}
	nnac_free(used);
	e->args = args;
	e->nargs = *nargs;
	e->kernel = k;
	snprintf(name, sizeof(name), "kernel_%d", k);
	fn = open_function(e, name, &e->ptr, 1);
	if (!fn)
		return NULL;
	/* kept out of nnac_main, so that a profile names the layer's kernel */
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
	                        LLVMCreateEnumAttribute(e->ctx, LLVMGetEnumAttributeKindForName("noinline", 8), 0));
	e->par = e->curpar = LLVMGetParam(fn, (unsigned)*nargs);
	emit_roots(e);
	emit_top(e, e->p->kernels[k].body);
	LLVMBuildRetVoid(e->b);
	return fn;
}

/* if (par->mark) par->mark(par->mark_cx, k), in nnac_main (ABI 3). */
static void emit_mark(CpuEmit *e, LLVMValueRef main, int k)
{
	LLVMTypeRef mt_args[2] = {e->ptr, e->i64};
	LLVMTypeRef mt = LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), mt_args, 2, 0);
	LLVMTypeRef fields[5] = {e->ptr, e->ptr, e->i64, LLVMPointerType(mt, 0), e->ptr};
	LLVMTypeRef st = LLVMStructTypeInContext(e->ctx, fields, 5, 0);
	LLVMValueRef par = LLVMBuildBitCast(e->b, LLVMGetParam(main, 1), LLVMPointerType(st, 0), "");
	LLVMValueRef mark = LLVMBuildLoad2(e->b, fields[3], LLVMBuildStructGEP2(e->b, st, par, 3, ""), "mark");
	LLVMBasicBlockRef call = LLVMAppendBasicBlockInContext(e->ctx, main, "mark");
	LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(e->ctx, main, "kernel");

	LLVMBuildCondBr(e->b, LLVMBuildIsNotNull(e->b, mark, ""), call, next);
	LLVMPositionBuilderAtEnd(e->b, call);
	LLVMValueRef args[2] = {LLVMBuildLoad2(e->b, e->ptr, LLVMBuildStructGEP2(e->b, st, par, 4, ""), ""),
	                        LLVMConstInt(e->i64, (unsigned long long)k, 0)};
	LLVMBuildCall2(e->b, mt, mark, args, 2, "");
	LLVMBuildBr(e->b, next);
	LLVMPositionBuilderAtEnd(e->b, next);
}

/* Whether a statement of kernel k has a loaded index. */
static bool list_loads(const LoopProgram *p, int head)
{
	for (int i = head; i >= 0; i = p->nodes[i].next)
		if (p->nodes[i].kind == LN_FOR ? list_loads(p, p->nodes[i].body)
		                               : p->nodes[i].kind != LN_NOTE && cpu_stmt_loads(p, i))
			return true;
	return false;
}

static bool kernel_loads(const LoopProgram *p, int k)
{
	return list_loads(p, p->kernels[k].body);
}

/* In nnac_main: return when par->fail holds a failure (ABI 5). */
static void emit_stop_if_failed(CpuEmit *e, LLVMValueRef main)
{
	LLVMTypeRef pt = cpu_par_type(e);
	LLVMValueRef par = LLVMBuildBitCast(e->b, LLVMGetParam(main, 1), LLVMPointerType(pt, 0), "");
	LLVMValueRef f = LLVMBuildLoad2(e->b, e->ptr, LLVMBuildStructGEP2(e->b, pt, par, 5, ""), "fail");
	LLVMValueRef k = LLVMBuildLoad2(e->b, e->i64, LLVMBuildBitCast(e->b, f, LLVMPointerType(e->i64, 0), ""), "");
	LLVMBasicBlockRef stop = LLVMAppendBasicBlockInContext(e->ctx, main, "failed");
	LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(e->ctx, main, "");

	LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSGE, k, cint64(e, 0), ""), stop, next);
	LLVMPositionBuilderAtEnd(e->b, stop);
	LLVMBuildRetVoid(e->b);
	LLVMPositionBuilderAtEnd(e->b, next);
}

/* nnac_main(bufs, par): kernel_K(bufs[root], ..., par) for every kernel, in
 * order, each preceded by a mark; after a kernel with loaded indices, a
 * return when it failed. */
static void emit_main(CpuEmit *e, LLVMValueRef *fns, int **args, const int *nargs)
{
	LLVMTypeRef pt[2] = {LLVMPointerType(e->ptr, 0), e->ptr};
	LLVMValueRef fn = LLVMAddFunction(e->mod, "nnac_main",
	                                  LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), pt, 2, 0));
	LLVMValueRef bufs = LLVMGetParam(fn, 0);
	LLVMValueRef *av = nnac_calloc((size_t)e->p->nbufs + 2, sizeof(*av));

	if (!av) {
		e->st = diag_add(e->d, ST_NOMEM, "%s: out of memory", e->p->path ? e->p->path : "program");
		return;
	}
	LLVMPositionBuilderAtEnd(e->b, LLVMAppendBasicBlockInContext(e->ctx, fn, "entry"));
	for (int k = 0; k < e->p->nkernels; k++) {
		for (int j = 0; j < nargs[k]; j++) {
			LLVMValueRef ix = LLVMConstInt(e->i64, (unsigned long long)args[k][j], 0);
			LLVMValueRef at = LLVMBuildInBoundsGEP2(e->b, e->ptr, bufs, &ix, 1, "");

			av[j] = LLVMBuildLoad2(e->b, e->ptr, at, e->p->bufs[args[k][j]].name);
		}
		av[nargs[k]] = LLVMGetParam(fn, 1);
		emit_mark(e, fn, k);
		LLVMBuildCall2(e->b, LLVMGlobalGetValueType(fns[k]), fns[k], av, (unsigned)nargs[k] + 1, "");
		if (kernel_loads(e->p, k))
			emit_stop_if_failed(e, fn);
	}
	emit_mark(e, fn, e->p->nkernels);
	LLVMBuildRetVoid(e->b);
	nnac_free(av);
}

/* const uint32_t nnac_abi_tag = NNAC_CPU_ABI: read from the file by the
 * runtime's inspection before the object is loaded (runtime/elf_check.h). */
static void emit_abi_tag(CpuEmit *e)
{
	LLVMValueRef g = LLVMAddGlobal(e->mod, e->i32, "nnac_abi_tag");

	LLVMSetInitializer(g, LLVMConstInt(e->i32, NNAC_CPU_ABI, 0));
	LLVMSetGlobalConstant(g, 1);
	LLVMSetLinkage(g, LLVMExternalLinkage);
	LLVMSetAlignment(g, 4);
}

/* LLVM's remarks and warnings (a loop it was asked to vectorize and could
 * not) are no diagnostics of ours; errors come back as failed calls. */
static void ignore_diagnostic(LLVMDiagnosticInfoRef di, void *ctx)
{
	(void)di;
	(void)ctx;
}

static void emit_init(CpuEmit *e, const LoopProgram *p, Diag *d)
{
	memset(e, 0, sizeof(*e));
	e->p = p;
	e->d = d;
	e->stmt = -1;
	e->ctx = LLVMContextCreate();
	LLVMContextSetDiagnosticHandler(e->ctx, ignore_diagnostic, NULL);
	e->mod = LLVMModuleCreateWithNameInContext(p->path ? p->path : "nnac", e->ctx);
	e->b = LLVMCreateBuilderInContext(e->ctx);
	e->i1 = LLVMInt1TypeInContext(e->ctx);
	e->i8 = LLVMInt8TypeInContext(e->ctx);
	e->i16 = LLVMInt16TypeInContext(e->ctx);
	e->i32 = LLVMInt32TypeInContext(e->ctx);
	e->i64 = LLVMInt64TypeInContext(e->ctx);
	e->f32 = LLVMFloatTypeInContext(e->ctx);
	e->f64 = LLVMDoubleTypeInContext(e->ctx);
	e->ptr = LLVMPointerType(e->i8, 0);
	e->vars = nnac_calloc((size_t)p->nnodes + 1, sizeof(LLVMValueRef));
	e->param = nnac_calloc((size_t)p->nbufs + 1, sizeof(LLVMValueRef));
	e->root = nnac_calloc((size_t)p->nbufs + 1, sizeof(int));
	e->root_off = nnac_calloc((size_t)p->nbufs + 1, sizeof(int64_t));
	if (!e->vars || !e->param || !e->root || !e->root_off) {
		e->st = diag_add(d, ST_NOMEM, "%s: out of memory", p->path ? p->path : "program");
		return;
	}
	for (int i = 0; i < p->nbufs; i++) {
		int r = i;

		while (p->bufs[r].view_of >= 0) {
			e->root_off[i] += p->bufs[r].view_offset;
			r = p->bufs[r].view_of;
		}
		e->root[i] = r;
	}
}

static void emit_free(CpuEmit *e)
{
	nnac_free(e->vars);
	nnac_free(e->param);
	nnac_free(e->root);
	nnac_free(e->root_off);
	LLVMDisposeBuilder(e->b);
	if (e->mod)
		LLVMDisposeModule(e->mod);
	LLVMContextDispose(e->ctx);
}

/* The kernels, nnac_main and nnac_abi_tag into e->mod. */
static Status emit_module(CpuEmit *e)
{
	int nk = e->p->nkernels;
	LLVMValueRef *fns = nnac_calloc((size_t)nk + 1, sizeof(*fns));
	int **args = nnac_calloc((size_t)nk + 1, sizeof(*args));
	int *nargs = nnac_calloc((size_t)nk + 1, sizeof(int));

	for (int k = 0; k < nk && fns && args && nargs && e->st == ST_OK; k++) {
		if (!(args[k] = nnac_calloc((size_t)e->p->nbufs + 1, sizeof(int))))
			break;
		fns[k] = emit_kernel(e, k, args[k], &nargs[k]);
	}
	if (e->st == ST_OK && (!fns || !args || !nargs || (nk > 0 && !args[nk - 1])))
		e->st = diag_add(e->d, ST_NOMEM, "%s: out of memory", e->p->path ? e->p->path : "program");
	if (e->st == ST_OK) {
		emit_main(e, fns, args, nargs);
		emit_abi_tag(e);
	}
	for (int k = 0; args && k < nk; k++)
		nnac_free(args[k]);
	nnac_free(args);
	nnac_free(nargs);
	nnac_free(fns);
	return e->st;
}

static Status verify_module(CpuEmit *e)
{
	char *msg = NULL;

	if (!LLVMVerifyModule(e->mod, LLVMReturnStatusAction, &msg)) {
		LLVMDisposeMessage(msg);
		return ST_OK;
	}
	e->st = diag_add(e->d, ST_INTERNAL, "%s: the CPU backend built an invalid LLVM module: %s",
	                 e->p->path ? e->p->path : "program", msg ? msg : "");
	LLVMDisposeMessage(msg);
	return e->st;
}

/* The contraction kernels' vector shape from the target's features: the
 * widest f32 vector and the register count; an arch description given in
 * opt overrides them and sets the cache sizes.  A CPU named without
 * features gets 4 lanes and 16 registers; LLVM splits or widens the
 * vectors for any target, so the choice changes speed, never results. */
static void vector_shape(CpuEmit *e, LLVMTargetMachineRef tm, const CpuOptions *opt)
{
	char *f = LLVMGetTargetMachineFeatureString(tm);

	e->vl = 4;
	e->vregs = 16;
	if (f && strstr(f, "+avx512f")) {
		e->vl = 16;
		e->vregs = 32;
	} else if (f && strstr(f, "+avx")) {
		e->vl = 8;
	}
	LLVMDisposeMessage(f);
	if (opt->vector_bits > 0)
		e->vl = opt->vector_bits / 32 < 64 ? opt->vector_bits / 32 : 64;
	if (opt->vregs > 0)
		e->vregs = opt->vregs;
	e->l1_bytes = opt->l1_bytes > 0 ? opt->l1_bytes : 48 * 1024;
	e->l2_bytes = opt->l2_bytes > 0 ? opt->l2_bytes : 1280 * 1024;
}

Status cpu_compile(const LoopProgram *p, const CpuOptions *opt, uint8_t **so, size_t *so_len,
                   Diag *d)
{
	CpuOptions def = {NULL, NULL, 3, 0, 0, 0, 0, 0};
	LLVMTargetMachineRef tm = NULL;
	CpuEmit e;
	Status st;

	*so = NULL;
	*so_len = 0;
	if (!opt)
		opt = &def;
	st = cpu_target_machine(opt, &tm, d);
	if (st != ST_OK)
		return st;
	emit_init(&e, p, d);
	if (e.st == ST_OK) {
		LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
		char *dl = LLVMCopyStringRepOfTargetData(td);

		LLVMSetDataLayout(e.mod, dl);
		LLVMDisposeMessage(dl);
		LLVMDisposeTargetData(td);
		dl = LLVMGetTargetMachineTriple(tm);
		LLVMSetTarget(e.mod, dl);
		LLVMDisposeMessage(dl);
		vector_shape(&e, tm, opt);
		e.par_min_macs = opt->parallel_min > 0 ? opt->parallel_min : PARALLEL_MIN_MACS;
		e.par_min_work = opt->parallel_min > 0 ? opt->parallel_min : PARALLEL_MIN_WORK;
		emit_module(&e);
	}
	if (e.st == ST_OK && verify_module(&e) == ST_OK)
		e.st = cpu_object_link(e.mod, tm, opt->opt_level, so, so_len, d);
	st = e.st;
	emit_free(&e);
	LLVMDisposeTargetMachine(tm);
	return st;
}
