/*
 * Lowering of the ops of ir/interp/generate.c: Expand, Tile, EyeLike,
 * Trilu and CumSum (Range and Size never get here: their outputs are
 * constants from shape inference on).
 *
 * Expand and Tile are one copy nest over the output whose source index
 * is the broadcast index or the output index modulo the input's dims.
 * EyeLike fills zeros, then ones along the diagonal, one loop.  Trilu's
 * kept region is a triangle, which rectangular loops cannot bound; it is
 * a column range of the skewed matrix S[i, u] = X[i, u - (N-1) + i]
 * (u = j - i + N - 1, W = N + M - 1 columns), so S is built with one
 * padded copy over the kept columns and Y reads it back at the skewed
 * index.  CumSum is a recurrence along its axis, the axis loop outermost
 * so that the loops inside carry no dependence: acc[t] = acc[t-1] + x[t],
 * in f64 for floats (the graph interpreter's running sum is a double),
 * in the element type for integers (which wrap the same way).  Trilu's k
 * and CumSum's axis must be constants.
 */
#include "lower.h"

#include <string.h>

#include "interp/generate.h"
#include "interp/window.h"

/* A literal 1 of dt's kind. */
static LoopArg one_lit(DType dt)
{
	return dtype_is_float(dt) ? loop_lit_float(1.0) : loop_lit_int(1);
}

/* A constant input the lowering needs: ST_UNSUPPORTED naming it otherwise. */
static Status need_const(LowerCx *cx, const Node *n, int i, const char *what)
{
	const Tensor *t = node_in(cx->g, n, i);

	if (!t || t->v.data)
		return ST_OK;
	return node_error(cx->g, n, ST_UNSUPPORTED, "%s '%s' is computed at run time; the loop IR "
	                  "needs it to be a constant", what, t->name);
}

Status lower_expand(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), vars[MAX_RANK], in;
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, y, dims);

	if (win_prod(dims, rank) == 0)
		return ST_OK;
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, vars), lower_bcast_ref(cx, x, rank, vars));
	return loop_oom(cx->p);
}

Status lower_tile(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), vars[MAX_RANK], idx[MAX_RANK], in;
	int64_t dims[MAX_RANK], xd[MAX_RANK];
	int rank = lower_buf_shape(cx, y, dims);

	lower_buf_shape(cx, x, xd);
	if (win_prod(dims, rank) == 0)
		return ST_OK;
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	for (int d = 0; d < rank; d++)
		idx[d] = dims[d] == xd[d] ? vars[d] : loop_mod(cx->p, vars[d], xd[d]);
	lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, vars), lower_ref(cx, x, idx));
	return loop_oom(cx->p);
}

Status lower_eyelike(LowerCx *cx, const Node *n)
{
	int y = lower_out(cx, n, 0), idx[2], v, f;
	int64_t dims[MAX_RANK], k = attr_i(n, "k", 0), lo, hi;
	DType dt = cx->p->bufs[y].dt;

	lower_buf_shape(cx, y, dims);
	if (dims[0] == 0 || dims[1] == 0)
		return ST_OK;
	lower_fill_elems(cx, y, lower_zero_lit(dt));
	if (k >= dims[1] || k <= -dims[0])
		return loop_oom(cx->p);
	lo = k < 0 ? -k : 0;
	hi = dims[1] - k < dims[0] ? dims[1] - k : dims[0];
	f = lower_loop(cx, -1, "i0", lo, hi - lo, &v);
	idx[0] = v;
	idx[1] = loop_add_const(cx->p, v, k);
	lower_emit2(cx, f, LN_FILL, lower_ref(cx, y, idx), one_lit(dt));
	return loop_oom(cx->p);
}

/* Trilu: S[.., i, u] = X[.., i, u - (N-1) + i] (pad 0) for the kept
 * columns u of S, zeros elsewhere; Y[.., i, j] = S[.., i, j - i + N - 1]. */
static void trilu_skew(LowerCx *cx, int y, int x, int64_t ulo, int64_t uhi)
{
	int64_t dims[MAX_RANK], sd[MAX_RANK];
	int rank = lower_buf_shape(cx, x, dims), vars[MAX_RANK], idx[MAX_RANK], s, in;
	int64_t rows = dims[rank - 2], cols = dims[rank - 1];
	DType dt = cx->p->bufs[x].dt;

	memcpy(sd, dims, sizeof(sd));
	sd[rank - 1] = rows + cols - 1;
	s = lower_temp(cx, "tri_skew", dt, rank, sd);
	lower_fill_elems(cx, s, lower_zero_lit(dt));
	in = lower_nest(cx, -1, rank - 1, sd, NULL, vars);
	in = lower_loop(cx, in, lower_dim_name(rank - 1), ulo, uhi - ulo, &vars[rank - 1]);
	memcpy(idx, vars, sizeof(idx));
	idx[rank - 1] = loop_add(cx->p, loop_add_const(cx->p, vars[rank - 1], -(rows - 1)), vars[rank - 2]);
	lower_copy_pad(cx, in, lower_ref(cx, s, vars), lower_ref(cx, x, idx), lower_zero_lit(dt));
	in = lower_nest(cx, -1, rank, dims, NULL, vars);
	memcpy(idx, vars, sizeof(idx));
	idx[rank - 1] = loop_add_const(cx->p, loop_sub(cx->p, vars[rank - 1], vars[rank - 2]), rows - 1);
	lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, vars), lower_ref(cx, s, idx));
}

Status lower_trilu(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0);
	int64_t dims[MAX_RANK], k, rows, cols, ulo, uhi;
	int rank = lower_buf_shape(cx, x, dims);
	bool upper = attr_i(n, "upper", 1) != 0;

	TRY(need_const(cx, n, 1, "k"));
	TRY(gen_trilu_k(cx->g, n, NULL, &k));
	if (win_prod(dims, rank) == 0)
		return ST_OK;
	rows = dims[rank - 2];
	cols = dims[rank - 1];
	/* j - i lies in [-(rows-1), cols-1]: a k beyond it keeps all or nothing */
	k = k < -rows ? -rows : k > cols ? cols : k;
	ulo = upper ? k + rows - 1 : 0;
	uhi = upper ? rows + cols - 1 : k + rows;
	ulo = ulo < 0 ? 0 : ulo;
	uhi = uhi > rows + cols - 1 ? rows + cols - 1 : uhi;
	if (uhi <= ulo)
		lower_fill_elems(cx, y, lower_zero_lit(cx->p->bufs[y].dt));
	else if (ulo == 0 && uhi == rows + cols - 1)
		lower_copy_elems(cx, y, x);
	else
		trilu_skew(cx, y, x, ulo, uhi);
	return loop_oom(cx->p);
}

/* CumSum (CumProd): the statement at axis step t (0 for the first element, else
 * the loop variable tv) under parent; dims' axis loop is left out. */
static void cumsum_step(LowerCx *cx, int parent, const Node *n, int acc, int x, int axis,
                        int64_t len, int tv)
{
	bool excl = attr_i(n, "exclusive", 0) != 0, rev = attr_i(n, "reverse", 0) != 0;
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, x, dims), vars[MAX_RANK], pos, prev, in;
	bool first = tv < 0, prod = n->op == OP_CumProd;

	dims[axis] = 1;
	in = parent;
	for (int d = 0; d < rank; d++) {
		if (d == axis)
			continue;
		in = lower_loop(cx, in, lower_dim_name(d), 0, dims[d], &vars[d]);
	}
	/* pos(t) = t or len-1-t, prev(t) = pos(t) -+ 1 */
	pos = first ? loop_const(cx->p, rev ? len - 1 : 0)
	            : rev ? loop_sub(cx->p, loop_const(cx->p, len - 1), tv) : tv;
	prev = first ? -1 : rev ? loop_add_const(cx->p, pos, 1) : loop_add_const(cx->p, pos, -1);
	{
		int a[MAX_RANK], b[MAX_RANK], s[MAX_RANK];

		memcpy(a, vars, sizeof(a));
		memcpy(b, vars, sizeof(b));
		memcpy(s, vars, sizeof(s));
		a[axis] = pos;
		b[axis] = prev;
		s[axis] = excl ? prev : pos;
		if (first && excl)
			lower_emit2(cx, in, LN_FILL, lower_ref(cx, acc, a),
			            prod ? lower_typed_lit(cx->p->bufs[acc].dt, 1.0)
			                 : lower_zero_lit(cx->p->bufs[acc].dt));
		else if (first)
			lower_apply(cx, in, OP_Cast, 2, (LoopArg[]){lower_ref(cx, acc, a), lower_ref(cx, x, s)});
		else
			lower_apply_ab(cx, in, prod ? OP_Mul : OP_Add, lower_ref(cx, acc, a), lower_ref(cx, acc, b),
			               lower_ref(cx, x, s));
	}
}

Status lower_cumsum(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), acc = y, tv, f;
	int64_t dims[MAX_RANK], axis;
	int rank = lower_buf_shape(cx, x, dims);
	DType dt = cx->p->bufs[x].dt;

	TRY(need_const(cx, n, 1, "axis"));
	TRY(gen_cumsum_axis(cx->g, n, NULL, rank, &axis));
	if (win_prod(dims, rank) == 0)
		return ST_OK;
	if (dtype_is_float(dt) && dt != DT_F64)
		acc = lower_temp(cx, "cum_acc", DT_F64, rank, dims);
	cumsum_step(cx, -1, n, acc, x, (int)axis, dims[axis], -1);
	if (dims[axis] > 1) {
		f = lower_loop(cx, -1, "t", 1, dims[axis] - 1, &tv);
		cumsum_step(cx, f, n, acc, x, (int)axis, dims[axis], tv);
	}
	if (acc != y)
		lower_convert_all(cx, y, NULL, acc);
	return loop_oom(cx->p);
}

/* DepthToSpace and SpaceToDepth: one copy over the 6-D iteration space
 * of generate.h's SpacePlan, both sides indexed affinely. */
Status lower_space(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), q[6], sidx[4], didx[4], in;
	bool to_space = n->op == OP_DepthToSpace;
	SpacePlan p;
	LoopProgram *lp = cx->p;

	TRY(gen_space_plan(cx->g, n, &node_in(cx->g, n, 0)->v, &p));
	if (win_prod(p.dims, 6) == 0)
		return ST_OK;
	in = lower_nest(cx, -1, 6, p.dims, NULL, q);
	sidx[0] = didx[0] = q[0];
	sidx[1] = q[1];
	sidx[2] = loop_add(lp, loop_mul(lp, p.b, q[2]), q[3]);
	sidx[3] = loop_add(lp, loop_mul(lp, p.b, q[4]), q[5]);
	didx[1] = loop_add(lp, loop_add(lp, loop_mul(lp, p.ci, q[3]), loop_mul(lp, p.cj, q[5])),
	                   loop_mul(lp, p.cc, q[1]));
	didx[2] = q[2];
	didx[3] = q[4];
	lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, to_space ? sidx : didx),
	            lower_ref(cx, x, to_space ? didx : sidx));
	return loop_oom(cx->p);
}

/* OneHot compares its run-time indices with every coordinate along the
 * new axis; it stays with the graph interpreter. */
Status lower_indexed(LowerCx *cx, const Node *n)
{
	return node_error(cx->g, n, ST_UNSUPPORTED, "%s indexes with the values of '%s', known only "
	                  "at run time; the loop IR loads indices but does not compare with them",
	                  op_name(n->op), node_in(cx->g, n, 0)->name);
}
