/*
 * Lowering of RotaryEmbedding (opset 23).
 *
 * X is read in the graph interpreter's view (ir/interp/attention.c):
 * [B][H][S][D], or [B][S][H*D] holding num_heads heads side by side.  The
 * first R = rotary_embedding_dim elements of each head (all D when the
 * attribute is 0) form R/2 pairs (x0, x1) = (x[k], x[k + R/2]), or
 * (x[2k], x[2k + 1]) when interleaved, each turned by the angle of its
 * token's position; the other D - R elements pass through:
 *
 *     for b, h, s {                                  b, s, h for 3-D X
 *         for k in 0..R/2 {
 *             apply t0 = Mul(cos[r, k], x0)
 *             apply t1 = Mul(sin[r, k], x1)
 *             apply y0 = Sub(t0, t1)
 *             apply t0 = Mul(sin[r, k], x0)
 *             apply t1 = Mul(cos[r, k], x1)
 *             apply y1 = Add(t0, t1)
 *     } }
 *     for b, h, s { for d in R..D { copy Y[.., d] = X[.., d] } }
 *
 * t0 and t1 are f64 scalars, so that y0 = c*x0 - s*x1 and y1 = s*x0 + c*x1
 * are the interpreter's double expressions, rounded once into Y.  Without
 * position_ids the caches are [B][S][R/2] and r stands for (b, s); with
 * them the caches are [P][R/2] and r is the loaded index row[b, s].  A
 * loaded index wraps a negative value once, as Gather's do, where the
 * interpreter stops on any position outside [0, P); so a first nest makes
 * the table row = Where(position_ids < 0, P, position_ids), which sends a
 * negative position past the caches' end, and the run stops on it as it
 * does on a position >= P ("index 0 of 'cos_cache' is P, read from
 * row[b, s]").
 *
 * The sizes are read from the shapes that shape inference checked.  A
 * dimension of size 1 gets index 0 and no loop; an empty X has no kernel.
 */
#include "lower.h"

enum { ROPE_X, ROPE_COS, ROPE_SIN, ROPE_POS };
enum { VB, VH, VS, VK };   /* a pair's variables: batch, head, token, pair */

typedef struct Rope {
	bool is3d;                /* X is [B][S][H*D] */
	bool interleaved;
	int64_t b, h, s, d, half; /* the [B][H][S][D] view; R/2 pairs per head */
	int x, y, cos, sin;       /* buffers */
	int row;                  /* i64 [B][S], each token's cache row; -1: no position_ids */
} Rope;

static void rope_sizes(LowerCx *cx, const Node *n, Rope *r)
{
	const Value *x = &node_in(cx->g, n, ROPE_X)->v;
	int64_t rd = attr_i(n, "rotary_embedding_dim", 0);

	r->is3d = x->rank == 3;
	r->interleaved = attr_i(n, "interleaved", 0) != 0;
	r->b = x->dims[0];
	r->h = r->is3d ? attr_i(n, "num_heads", 0) : x->dims[1];
	nnac_assert(r->h > 0);
	r->s = x->dims[r->is3d ? 1 : 2];
	r->d = r->is3d ? x->dims[2] / r->h : x->dims[3];
	r->half = (rd == 0 ? r->d : rd) / 2;
}

/* Loop name over 0..extent under parent, or index 0 and no loop for an
 * extent of 1.  Returns the innermost loop (parent when none is made). */
static int dim_loop(LowerCx *cx, int parent, const char *name, int64_t extent, int *var)
{
	if (extent == 1) {
		*var = loop_const(cx->p, 0);
		return parent;
	}
	return lower_loop(cx, parent, name, 0, extent, var);
}

/* Loops over every head of every token, in X's memory order, under the
 * kernel's top level: v[VB], v[VH], v[VS] get their indices. */
static int head_nest(LowerCx *cx, const Rope *r, int *v)
{
	int in = dim_loop(cx, -1, "b", r->b, &v[VB]);

	if (r->is3d) {
		in = dim_loop(cx, in, "s", r->s, &v[VS]);
		return dim_loop(cx, in, "h", r->h, &v[VH]);
	}
	in = dim_loop(cx, in, "h", r->h, &v[VH]);
	return dim_loop(cx, in, "s", r->s, &v[VS]);
}

/* X's or Y's element e (an index within the head) of the head at v. */
static LoopArg head_ref(LowerCx *cx, const Rope *r, int buf, const int *v, int e)
{
	LoopProgram *p = cx->p;

	if (r->is3d)
		return lower_ref(cx, buf, (int[]){v[VB], v[VS],
		                 loop_expr_simplify(p, loop_add(p, loop_mul(p, r->d, v[VH]), e))});
	return lower_ref(cx, buf, (int[]){v[VB], v[VH], v[VS], e});
}

/* Cache element k of the token at v. */
static LoopArg cache_ref(LowerCx *cx, const Rope *r, int buf, const int *v)
{
	if (r->row < 0)
		return lower_ref(cx, buf, (int[]){v[VB], v[VS], v[VK]});
	return lower_ref(cx, buf, (int[]){loop_load(cx->p, r->row, 2, (int[]){v[VB], v[VS]}),
	                 v[VK]});
}

/* The table row[b, s]: position_ids, with the negative ones made P. */
static void position_rows(LowerCx *cx, const Node *n, Rope *r)
{
	int ids = lower_buf(cx, n->in[ROPE_POS]), v[2], in;
	int64_t bs[2] = {r->b, r->s};
	int neg = lower_temp(cx, "neg", DT_BOOL, 2, bs);
	LoopArg id;

	r->row = lower_temp(cx, "row", DT_I64, 2, bs);
	if (neg < 0 || r->row < 0)
		return;
	in = dim_loop(cx, dim_loop(cx, -1, "b", r->b, &v[0]), "s", r->s, &v[1]);
	id = lower_ref(cx, ids, v);
	lower_apply_ab(cx, in, OP_Less, lower_ref(cx, neg, v), id, loop_lit_int(0));
	lower_apply(cx, in, OP_Where, 4, (LoopArg[]){lower_ref(cx, r->row, v), lower_ref(cx, neg, v),
	            loop_lit_int(cx->p->bufs[r->cos].dims[0]), id});
}

/* y = a*x0 op b*x1 through the f64 scalar buffers t0, t1 (op Sub or Add). */
static void rotate_one(LowerCx *cx, int parent, OpKind op, LoopArg y, LoopArg a, LoopArg x0,
                       LoopArg b, LoopArg x1, int t0, int t1)
{
	LoopArg p0 = lower_ref(cx, t0, NULL), p1 = lower_ref(cx, t1, NULL);

	lower_apply_ab(cx, parent, OP_Mul, p0, a, x0);
	lower_apply_ab(cx, parent, OP_Mul, p1, b, x1);
	lower_apply_ab(cx, parent, op, y, p0, p1);
}

/* The pair's elements within the head: k and k + R/2, or 2k and 2k + 1. */
static void pair_index(LowerCx *cx, const Rope *r, int k, int *e0, int *e1)
{
	LoopProgram *p = cx->p;

	if (r->interleaved) {
		*e0 = loop_expr_simplify(p, loop_mul(p, 2, k));
		*e1 = loop_expr_simplify(p, loop_add_const(p, loop_mul(p, 2, k), 1));
	} else {
		*e0 = k;
		*e1 = loop_expr_simplify(p, loop_add_const(p, k, r->half));
	}
}

/* The rotation nest: Y's first R elements of every head. */
static void rotate(LowerCx *cx, const Rope *r)
{
	int t0 = lower_temp(cx, "t0", DT_F64, 0, NULL), t1 = lower_temp(cx, "t1", DT_F64, 0, NULL);
	int v[4], in, e0, e1;
	LoopArg x0, x1, c, s;

	if (t0 < 0 || t1 < 0)
		return;
	in = dim_loop(cx, head_nest(cx, r, v), "k", r->half, &v[VK]);
	pair_index(cx, r, v[VK], &e0, &e1);
	x0 = head_ref(cx, r, r->x, v, e0);
	x1 = head_ref(cx, r, r->x, v, e1);
	c = cache_ref(cx, r, r->cos, v);
	s = cache_ref(cx, r, r->sin, v);
	rotate_one(cx, in, OP_Sub, head_ref(cx, r, r->y, v, e0), c, x0, s, x1, t0, t1);
	rotate_one(cx, in, OP_Add, head_ref(cx, r, r->y, v, e1), s, x0, c, x1, t0, t1);
}

/* Y = X for the elements R..D of every head. */
static void pass_through(LowerCx *cx, const Rope *r)
{
	int v[4], in = head_nest(cx, r, v), e;

	in = lower_loop(cx, in, "d", 2 * r->half, r->d - 2 * r->half, &e);
	lower_emit2(cx, in, LN_COPY, head_ref(cx, r, r->y, v, e), head_ref(cx, r, r->x, v, e));
}

Status lower_rope(LowerCx *cx, const Node *n)
{
	Rope r;

	rope_sizes(cx, n, &r);
	r.x = lower_buf(cx, n->in[ROPE_X]);
	r.y = lower_out(cx, n, 0);
	r.cos = lower_buf(cx, n->in[ROPE_COS]);
	r.sin = lower_buf(cx, n->in[ROPE_SIN]);
	r.row = -1;
	if (loop_buf_numel(&cx->p->bufs[r.x]) == 0)
		return ST_OK;
	if (has_input(n, ROPE_POS))
		position_rows(cx, n, &r);
	rotate(cx, &r);
	if (2 * r.half < r.d)
		pass_through(cx, &r);
	return loop_oom(cx->p);
}
