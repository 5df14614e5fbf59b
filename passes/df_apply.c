/*
 * Applying a dataflow mapping to the loop IR.
 *
 * The compute nest of a lowered convolution or matrix product is one
 * perfect band of loops around one mac (passes/lower.h):
 *
 *     for n, [g], k, y, x { for c, r, s { mac Acc[..] += X[..] * W[..] } }
 *
 * Which loop is which dimension of df_dim.def is read from the mac, not
 * from loop names: arg[0] is the output (accumulator), arg[1] the input
 * (X, or A of a GEMM), arg[2] the weights (W, or B).  The operands whose
 * indices use a loop's variable form its mask, which must be a dimension's
 * mask in df_dim.def:
 *
 *     O I W : G        O W : K        O I : N, P, Q        I W : C, R, S
 *
 * Loops of one mask are told apart by the axis they index, in the output
 * for O I and in the weights for I W: the lowest axis is N (C), the others
 * take the last dimensions of the list in axis order, so a 2-D convolution
 * has N P Q and C R S, a 1-D one N Q and C S, a GEMM N and C.  Every
 * dimension has at most one loop, and each loop's extent must be the
 * layer's (DfProblem) dimension; a dimension without a loop must be 1.
 * One exception: a MatMul whose B every batch entry shares has its batch
 * folded into the rows N by the mapper (df_layers.c), so when the problem
 * has P = Q = R = S = 1 and the extents of the adjacent N, P, Q loops
 * multiply to N, those loops are folded into one (b0 * M + m, indices
 * read back through / and %) before the mapping is laid.
 *
 * A dimension's loop is then split into one loop per position of the
 * mapping that has a factor above 1.  The positions, outermost first: the
 * levels above the fan-out, the PE rows, the PE columns, the levels below.
 * The band is reordered into: position by position, the loops of a level
 * in m->order[level], the spatial loops in df_dim.def order; the spatial
 * ones get the `spatial` mark; every loop is renamed DIM_LEVEL (k_dram,
 * c_gbuf, r_rows, q_cols, s_spad_filter) so the printed program shows
 * where each loop runs.  Loops of extent 1 disappear (their variable
 * becomes its constant value).
 *
 * Factors whose product exceeds a dimension (padded or ragged mappings) are
 * clamped so that the program stays exact.  Going inward from the
 * dimension's outermost position with a factor above 1, each inner factor
 * becomes min(factor, E / T), T the product of the clamped factors inside
 * it, and the outermost one E / T (floor).  When T does not divide E the
 * remainder is peeled: the loop is brought to the top of the band, split
 * at M = (E / T) * T, and the remainder E - M, a copy of the band after
 * the main one, is mapped the same way with the factors clamped to it.
 * Every piece is mapped; a piece of a dimension other than a reduction one
 * touches other accumulator elements, so only peeling C, R or S (with a
 * reduction dimension outside it longer than 1) changes the order in which
 * an element sums its terms, as does a reorder of the reduction loops:
 * DfApplyInfo.sum_reordered says when either happened.
 *
 * Each piece's tiles are then staged (stage_piece): for every operand and
 * every level below the outermost that keeps it, going inward, pass_hoist
 * copies the operand's tile into a buffer at the program level of the arch
 * level's name, at the innermost loop above the level's own loops (the top
 * of the piece when none), from the buffer the mac reads there.  A tile
 * pass_hoist refuses stays where it was and is counted; one that would sit
 * where the level above holding the operand sits is the same tile, skipped.
 */
#include "df_apply.h"

#include <stdint.h>
#include <string.h>

#include "op.h"
#include "tile.h"

enum {
	MAX_DEPTH = 64,
	MAX_POS = DF_MAX_LEVELS + 2,   /* levels and the two spatial positions */
	MAX_BAND = 30,                 /* pass_reorder's limit */
	POS_ROWS = -1,
	POS_COLS = -2,
};

static const char *letter(int d)
{
	return df_dim_letter((DfDim)d);
}

/* A dimension the accumulator's index does not use: C, R, S. */
static bool reduction(int d)
{
	return !(df_dim_operands((DfDim)d) & DF_BIT_O);
}

/* The bit of mac operand a: the accumulator, the input, the weights. */
static unsigned operand_bit(int a)
{
	return a == 0 ? DF_BIT_O : a == 1 ? DF_BIT_I : DF_BIT_W;
}

typedef struct Apply {
	LoopProgram *p;
	int kernel;
	const DfTarget *t;
	const DfProblem *pb;
	const DfMapping *m;
	int npos;
	int rank[DF_NDIMS];  /* depth of the dimension's loop in the input band */
	int staged_pieces;   /* pieces whose tiles stage_piece has staged */
	DfApplyInfo info;
} Apply;

/* Positions. */

static int pos_level(const DfTarget *t, int j)
{
	if (j < t->fanout)
		return j;
	if (j == t->fanout)
		return POS_ROWS;
	if (j == t->fanout + 1)
		return POS_COLS;
	return j - 2;
}

static int64_t pos_factor(const Apply *a, int j, int d)
{
	int l = pos_level(a->t, j);

	if (l == POS_ROWS)
		return a->m->spatial[DF_ROWS][d];
	if (l == POS_COLS)
		return a->m->spatial[DF_COLS][d];
	return a->m->factor[l][d];
}

/* Finding the nest. */

typedef struct MacSearch {
	int count;
	int mac;
	int depth;
	int path[MAX_DEPTH];
	bool too_deep;
} MacSearch;

static void mac_search(const LoopProgram *p, int first, bool siblings, int depth, int *stack,
                       MacSearch *s)
{
	for (int n = first; n >= 0; n = siblings ? p->nodes[n].next : -1) {
		const LoopNode *x = &p->nodes[n];

		if (x->kind == LN_MAC) {
			if (s->count++ == 0) {
				s->mac = n;
				s->depth = depth;
				memcpy(s->path, stack, (size_t)depth * sizeof(int));
			}
		} else if (x->kind == LN_FOR) {
			if (depth == MAX_DEPTH) {
				s->too_deep = true;
				continue;
			}
			stack[depth] = n;
			mac_search(p, x->body, true, depth + 1, stack, s);
		}
	}
}

/* The operands whose indices use loop v; axis[a] the first axis of operand
 * a that does. */
static unsigned loop_operands(const LoopProgram *p, int mac, int v, int *axis)
{
	unsigned mask = 0;

	for (int a = 0; a < 3; a++) {
		const LoopArg *arg = &p->nodes[mac].arg[a];

		axis[a] = -1;
		for (int i = 0; arg->buf >= 0 && i < arg->nidx && axis[a] < 0; i++)
			if (loop_expr_uses(p, arg->idx[i], v))
				axis[a] = i;
		if (axis[a] >= 0)
			mask |= operand_bit(a);
	}
	return mask;
}

static const char *mask_text(unsigned mask)
{
	static const char *const text[] = {
		"no operand", "the weights", "the input", "the input and the weights",
		"the output", "the output and the weights", "the output and the input",
		"all three operands",
	};

	nnac_assert(mask < 8);
	return text[(mask & DF_BIT_O ? 4 : 0) | (mask & DF_BIT_I ? 2 : 0) | (mask & DF_BIT_W ? 1 : 0)];
}

/* Assigns the loops of one mask (sorted by key axis) to its dimensions. */
static Status assign_class(LoopProgram *p, int k, unsigned mask, const int *loops,
                           const int *key, int n, DfNest *nest)
{
	int dims[DF_NDIMS], nd = 0, order[MAX_DEPTH];

	for (int d = 0; d < DF_NDIMS; d++)
		if (df_dim_operands((DfDim)d) == mask)
			dims[nd++] = d;
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && key[order[j]] < key[order[j - 1]]; j--) {
			int s = order[j];

			order[j] = order[j - 1];
			order[j - 1] = s;
		}
	if (n > nd)
		return loop_error_at(p, 0, 0, ST_UNSUPPORTED,
		                     "kernel '%s': %d loops index %s, a layer has %d such dimensions",
		                     p->kernels[k].name, n, mask_text(mask), nd);
	for (int i = 0; i < n; i++) {
		int d = i == 0 ? dims[0] : dims[nd - n + i];

		if (i > 0 && key[order[i]] == key[order[i - 1]])
			return loop_error_at(p, 0, 0, ST_UNSUPPORTED,
			                     "kernel '%s': loops '%s' and '%s' index the same axis",
			                     p->kernels[k].name, p->nodes[loops[order[i - 1]]].var,
			                     p->nodes[loops[order[i]]].var);
		nest->loop[d] = loops[order[i]];
	}
	return ST_OK;
}

/* Which loop of the band path[0..depth) is which dimension. */
static Status identify(LoopProgram *p, int k, const MacSearch *s, DfNest *nest)
{
	static const unsigned classes[] = {
		DF_BIT_O | DF_BIT_I | DF_BIT_W, DF_BIT_O | DF_BIT_W, DF_BIT_O | DF_BIT_I,
		DF_BIT_I | DF_BIT_W,
	};

	for (size_t c = 0; c < ARRAY_LEN(classes); c++) {
		int loops[MAX_DEPTH], key[MAX_DEPTH], n = 0;
		int keyop = classes[c] & DF_BIT_O ? 0 : 2;

		for (int i = 0; i < s->depth; i++) {
			int axis[3];
			unsigned mask = loop_operands(p, s->mac, s->path[i], axis);

			if (c == 0 && mask != classes[0] && mask != classes[1] && mask != classes[2] &&
			    mask != classes[3])
				return loop_error_at(p, 0, 0, ST_UNSUPPORTED,
				                     "kernel '%s', loop '%s': indexes %s, which no "
				                     "dimension of a layer does",
				                     p->kernels[k].name, p->nodes[s->path[i]].var,
				                     mask_text(mask));
			if (mask != classes[c])
				continue;
			loops[n] = s->path[i];
			key[n++] = axis[keyop];
		}
		TRY(assign_class(p, k, classes[c], loops, key, n, nest));
	}
	return ST_OK;
}

/* The nest in list first (with its siblings when siblings). */
static Status nest_in(LoopProgram *p, int k, int first, bool siblings, DfNest *nest)
{
	int stack[MAX_DEPTH];
	MacSearch s;

	memset(&s, 0, sizeof(s));
	mac_search(p, first, siblings, 0, stack, &s);
	if (s.count != 1 || s.too_deep)
		return loop_error_at(p, 0, 0, ST_UNSUPPORTED,
		                     "kernel '%s': %d mac statements%s, a convolution or matrix "
		                     "product has one", p->kernels[k].name, s.count,
		                     s.too_deep ? " (or loops nested too deep)" : "");
	for (int i = 0; i < s.depth; i++) {
		int b = p->nodes[s.path[i]].body, want = i + 1 < s.depth ? s.path[i + 1] : s.mac;

		if (b != want || p->nodes[b].next >= 0)
			return loop_error_at(p, 0, 0, ST_UNSUPPORTED,
			                     "kernel '%s', loop '%s': the loops around the mac are "
			                     "not perfectly nested", p->kernels[k].name,
			                     p->nodes[s.path[i]].var);
	}
	nest->mac = s.mac;
	nest->root = s.depth > 0 ? s.path[0] : -1;
	nest->nloops = s.depth;
	for (int d = 0; d < DF_NDIMS; d++)
		nest->loop[d] = -1;
	return identify(p, k, &s, nest);
}

Status df_find_nest(LoopProgram *p, int kernel, DfNest *nest)
{
	nnac_assert(kernel >= 0 && kernel < p->nkernels);
	return nest_in(p, kernel, p->kernels[kernel].body, true, nest);
}

/* Checks before any change. */

static int64_t loop_extent(const LoopProgram *p, const DfNest *nest, int d)
{
	return nest->loop[d] < 0 ? 1 : p->nodes[nest->loop[d]].extent;
}

/*
 * Whether the nest's N, P and Q loops are the rows N of a matrix product
 * whose batch the mapper folded into them (df_layers.c: a MatMul sharing B
 * over its batch): the problem has P = Q = R = S = 1, the loops' extents
 * multiply to N, and they are adjacent in the band, outermost first,
 * starting at 0 with step 1, so that one loop can run over them all.
 */
static bool rows_folded(const Apply *a, const DfNest *nest)
{
	static const int rows[] = {DF_N, DF_P, DF_Q};
	const LoopProgram *p = a->p;
	int64_t prod = 1;
	int prev = -1, n = 0;

	if (a->pb->dim[DF_P] != 1 || a->pb->dim[DF_Q] != 1 || a->pb->dim[DF_R] != 1 ||
	    a->pb->dim[DF_S] != 1)
		return false;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		int f = nest->loop[rows[i]];

		if (f < 0)
			continue;
		if (p->nodes[f].start != 0 || p->nodes[f].step != 1 ||
		    (prev >= 0 && p->nodes[prev].body != f))
			return false;
		prod *= p->nodes[f].extent;
		prev = f;
		n++;
	}
	return n > 1 && prod == a->pb->dim[DF_N] &&
	       p->nodes[nest->loop[DF_N]].extent != a->pb->dim[DF_N];
}

/* Folds loop b, the only node in the body of loop a (both from 0 step 1),
 * into a: a runs over a * B + b, read back as a / B and a % B. */
static Status fold_loop(LoopProgram *p, int a, int b)
{
	int64_t e = p->nodes[b].extent;
	int body = p->nodes[b].body;

	nnac_assert(p->nodes[a].body == b && p->nodes[b].next < 0);
	tile_subst(p, body, true, a, loop_div(p, loop_var(p, a), e));
	tile_subst(p, body, true, b, loop_mod(p, loop_var(p, a), e));
	if (p->oom)
		return loop_oom(p);
	p->nodes[a].extent *= e;
	p->nodes[a].body = body;
	p->nodes[b].body = -1;
	return ST_OK;
}

/* Folds the Q loop into P, then P into N (those there are). */
static Status fold_rows(LoopProgram *p, DfNest *nest)
{
	if (nest->loop[DF_Q] >= 0) {
		int into = nest->loop[DF_P] >= 0 ? DF_P : DF_N;

		TRY(fold_loop(p, nest->loop[into], nest->loop[DF_Q]));
		nest->loop[DF_Q] = -1;
	}
	if (nest->loop[DF_P] >= 0) {
		TRY(fold_loop(p, nest->loop[DF_N], nest->loop[DF_P]));
		nest->loop[DF_P] = -1;
	}
	return ST_OK;
}

static Status check_problem(Apply *a, const DfNest *nest, bool folded)
{
	LoopProgram *p = a->p;
	const char *name = a->pb->name ? a->pb->name : "?", *op = a->pb->op ? a->pb->op : "?";

	for (int d = 0; d < DF_NDIMS; d++) {
		if (folded && (d == DF_N || d == DF_P || d == DF_Q))
			continue;
		if (loop_extent(p, nest, d) == a->pb->dim[d])
			continue;
		if (nest->loop[d] < 0)
			return loop_error_at(p, 0, 0, ST_UNSUPPORTED,
			                     "kernel '%s': no loop runs over %s, but layer '%s' (%s) "
			                     "has %s = %lld", p->kernels[a->kernel].name, letter(d),
			                     name, op, letter(d),
			                     (long long)a->pb->dim[d]);
		return loop_error_at(p, 0, 0, ST_UNSUPPORTED,
		                     "kernel '%s', loop '%s': runs over %s with extent %lld, but "
		                     "layer '%s' (%s) has %s = %lld", p->kernels[a->kernel].name,
		                     p->nodes[nest->loop[d]].var, letter(d),
		                     (long long)loop_extent(p, nest, d), name, op,
		                     letter(d), (long long)a->pb->dim[d]);
	}
	return ST_OK;
}

static Status bad_mapping(Apply *a, const char *what, int d, int64_t x, int64_t y)
{
	return loop_error_at(a->p, 0, 0, ST_INVALID,
	                     "kernel '%s': the mapping of layer '%s' on %s: %s%s%s (%lld, %lld)",
	                     a->p->kernels[a->kernel].name, a->pb->name ? a->pb->name : "?",
	                     a->t->arch->name, what,
	                     d >= 0 ? " of dimension " : "", d >= 0 ? letter(d) : "",
	                     (long long)x, (long long)y);
}

static Status check_order(Apply *a, int l)
{
	unsigned seen = 0;

	for (int i = 0; i < DF_NDIMS; i++) {
		int d = a->m->order[l][i];

		if (d >= DF_NDIMS || (seen & (1u << d)))
			return bad_mapping(a, "an order that is not a permutation at level", -1, l, d);
		seen |= 1u << d;
	}
	return ST_OK;
}

static Status check_mapping(Apply *a)
{
	int64_t pes[2] = {1, 1};

	if (a->t->nlevels < 1 || a->t->nlevels > DF_MAX_LEVELS || a->t->fanout < 0 ||
	    a->t->fanout > a->t->nlevels)
		return bad_mapping(a, "a target of levels and fan-out", -1, a->t->nlevels,
		                   a->t->fanout);
	for (int l = 0; l < a->t->nlevels; l++)
		TRY(check_order(a, l));
	for (int d = 0; d < DF_NDIMS; d++) {
		int64_t prod = 1;

		for (int j = 0; j < a->npos; j++) {
			int64_t f = pos_factor(a, j, d);

			if (f < 1)
				return bad_mapping(a, "a factor below 1 at position", d, j, f);
			prod = prod > INT64_MAX / f ? INT64_MAX : prod * f;
		}
		if (prod < a->pb->dim[d])
			return bad_mapping(a, "factors that do not cover the extent", d, prod,
			                   a->pb->dim[d]);
		for (int r = 0; r < 2; r++)
			pes[r] = pes[r] > INT64_MAX / a->m->spatial[r][d] ? INT64_MAX
			                                                 : pes[r] * a->m->spatial[r][d];
	}
	if (pes[DF_ROWS] > a->t->rows || pes[DF_COLS] > a->t->cols)
		return bad_mapping(a, "more spatial PEs than the array has (rows, columns)", -1,
		                   pes[DF_ROWS], pes[DF_COLS]);
	return ST_OK;
}

/* Clamping: c[] the clamped factors of dimension d over extent e; returns
 * the remainder (0 when they divide e exactly) and sets *main_part. */
static int64_t clamp(const Apply *a, int d, int64_t e, int64_t *c, int64_t *main_part)
{
	int k0 = -1;
	int64_t inner = 1;

	for (int j = 0; j < a->npos; j++) {
		c[j] = 1;
		if (k0 < 0 && pos_factor(a, j, d) > 1)
			k0 = j;
	}
	*main_part = e;
	if (k0 < 0 || e == 1)
		return 0;
	for (int j = a->npos - 1; j > k0; j--) {
		int64_t f = pos_factor(a, j, d), room = e / inner;

		c[j] = f < room ? f : room;
		inner *= c[j];
	}
	c[k0] = e / inner;
	*main_part = c[k0] * inner;
	return e - *main_part;
}

/* Transforms. */

/* Removes loop f (extent 1, one node in its body): its variable becomes
 * its start. */
static Status drop_loop(LoopProgram *p, int f)
{
	TileTree t;
	int body = p->nodes[f].body, next = p->nodes[f].next;

	nnac_assert(p->nodes[f].extent == 1 && body >= 0 && p->nodes[body].next < 0);
	TRY(tile_tree_build(p, &t));
	tile_subst(p, body, true, f, loop_const(p, p->nodes[f].start));
	if (!p->oom) {
		*tile_link_to(p, &t, f) = body;
		p->nodes[body].next = next;
		p->nodes[f].body = -1;
		p->nodes[f].next = -1;
	}
	tile_tree_free(&t);
	return loop_oom(p);
}

/* The loops from the band's root down to the mac. */
static int band_of(const LoopProgram *p, int root, int *band)
{
	int n = 0;

	for (int x = root; x >= 0 && p->nodes[x].kind == LN_FOR; x = p->nodes[x].body) {
		nnac_assert(n < MAX_DEPTH);
		band[n++] = x;
	}
	return n;
}

/* The top-level node (of the kernel) whose subtree holds node x. */
static int top_of(LoopProgram *p, int x, int *top)
{
	TileTree t;
	Status st = tile_tree_build(p, &t);

	if (st != ST_OK)
		return st;
	while (t.parent[x] >= 0)
		x = t.parent[x];
	*top = x;
	tile_tree_free(&t);
	return ST_OK;
}

/* Reorders the band at root so that want[0..n) is its order. */
static Status reorder_band(Apply *a, int root, const int *want, int n)
{
	int band[MAX_DEPTH], perm[MAX_BAND], nb = band_of(a->p, root, band);
	bool identity = true;

	nnac_assert(nb == n);
	if (n > MAX_BAND)
		return loop_error_at(a->p, 0, 0, ST_UNSUPPORTED,
		                     "kernel '%s': the mapping makes %d loops, at most %d reorder",
		                     a->p->kernels[a->kernel].name, n, MAX_BAND);
	for (int j = 0; j < n; j++) {
		perm[j] = -1;
		for (int i = 0; i < n; i++)
			if (band[i] == want[j])
				perm[j] = i;
		nnac_assert(perm[j] >= 0);
		identity = identity && perm[j] == j;
	}
	return identity ? ST_OK : pass_reorder(a->p, root, perm, n);
}

/* Whether s names a buffer or kernel, or cannot be a name. */
static bool name_taken(const LoopProgram *p, const char *s)
{
	if (loop_is_keyword(s) || loop_find_buf(p, s) >= 0 || dtype_from_name(s) != DT_UNDEF)
		return true;
	for (int k = 0; k < p->nkernels; k++)
		if (strcmp(p->kernels[k].name, s) == 0)
			return true;
	return false;
}

/* A loop name for dimension d at position j: "k_gbuf", "r_rows"; the
 * loops of a band are distinct by construction, and a band has no loop
 * around it. */
static Status name_loop(Apply *a, int f, int d, int j)
{
	LoopProgram *p = a->p;
	int l = pos_level(a->t, j);
	const char *where = l == POS_ROWS   ? "rows"
	                    : l == POS_COLS ? "cols"
	                                    : a->t->arch->levels[l].name;
	char *base = arena_printf(&p->arena, "%c_%s", letter(d)[0] - 'A' + 'a', where), *s;

	if (!base)
		return loop_oom(p);
	for (char *c = base; *c; c++)
		if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9')))
			*c = '_';
	s = base;
	for (int i = 2; s && name_taken(p, s); i++)
		s = arena_printf(&p->arena, "%s_%d", base, i);
	if (!s)
		return loop_oom(p);
	p->nodes[f].var = s;
	return ST_OK;
}

/* Whether the reduction loops of want[] (dimension dim[], position pos[])
 * keep the input band's order: sorted by that rank, then by position. */
static bool sums_in_order(const Apply *a, const int *dim, const int *pos, int n)
{
	int pd = -1, pp = -1;

	for (int i = 0; i < n; i++) {
		if (!reduction(dim[i]))
			continue;
		if (pd >= 0 && (a->rank[dim[i]] < a->rank[pd] ||
		                (dim[i] == pd && pos[i] < pp)))
			return false;
		pd = dim[i];
		pp = pos[i];
	}
	return true;
}

/* Splits each dimension's loop into its positions; at[d][j] the loops. */
static Status split_dims(Apply *a, const DfNest *nest, int64_t (*c)[MAX_POS],
                         int (*at)[MAX_POS])
{
	for (int d = 0; d < DF_NDIMS; d++) {
		int js[MAX_POS], n = 0, cur = nest->loop[d];

		for (int j = 0; j < a->npos; j++) {
			at[d][j] = -1;
			if (c[d][j] > 1)
				js[n++] = j;
		}
		if (cur < 0)
			continue;
		nnac_assert(n > 0);
		for (int i = 0; i + 1 < n; i++) {
			int64_t tile = 1;
			int outer, inner;

			for (int q = i + 1; q < n; q++)
				tile *= c[d][js[q]];
			TRY(pass_split(a->p, cur, tile, &outer, &inner));
			at[d][js[i]] = outer;
			cur = inner;
		}
		at[d][js[n - 1]] = cur;
	}
	return ST_OK;
}

/* Staging. */

/* The arch operand (ARCH_*) of mac argument i. */
static int arch_operand(int i)
{
	return i == 0 ? ARCH_OUTPUTS : i == 1 ? ARCH_INPUTS : ARCH_WEIGHTS;
}

/* Loops in the list first and below. */
static int count_for(const LoopProgram *p, int first)
{
	int n = 0;

	for (int x = first; x >= 0; x = p->nodes[x].next)
		if (p->nodes[x].kind == LN_FOR)
			n += 1 + count_for(p, p->nodes[x].body);
	return n;
}

/* The widest element of the mac's operands, in bytes. */
static int64_t widest_operand(const LoopProgram *p, int mac)
{
	int64_t w = 1;

	for (int i = 0; i < 3; i++) {
		int b = p->nodes[mac].arg[i].buf;
		int64_t s = b >= 0 ? dtype_size(p->bufs[b].dt) : 1;

		w = s > w ? s : w;
	}
	return w;
}

/*
 * The program level of arch level l, declared when missing.  The arch
 * holds a value in value_bytes (16 bits on eyeriss), the program in its
 * own type (f32 for a float model): the level gets room for as many values
 * of the mac's widest operand type as the arch level holds of its
 * narrowest, so that a tile df_evaluate fits fits the program too.
 */
static int program_level(Apply *a, int l, int mac)
{
	LoopProgram *p = a->p;
	const char *name = a->t->arch->levels[l].name;
	int at = loop_find_level(p, name), vb = a->t->value_bytes[l][0];
	int64_t cap = a->t->capacity[l];

	if (at >= 0)
		return at;
	for (int o = 1; o < ARCH_NOPERANDS; o++)
		vb = a->t->value_bytes[l][o] < vb ? a->t->value_bytes[l][o] : vb;
	if (cap == INT64_MAX || vb < 1)
		cap = 0;
	else
		cap = cap / vb * widest_operand(p, mac);
	at = loop_add_level(p, name, cap);
	if (at < 0)
		loop_oom(p);
	return at;
}

/* The innermost loop of want[0..n) at a position above level l's, or -1. */
static int loop_above(const Apply *a, int l, const int *want, const int *pos, int n)
{
	int jl = l < a->t->fanout ? l : l + 2, f = -1;

	for (int i = 0; i < n; i++)
		if (pos[i] < jl)
			f = want[i];
	return f;
}

/* Hoists mac argument i's buffer at loop f into level lv, the tile of arch
 * level l; a refusal is counted (its message kept), not returned. */
static Status stage_tile(Apply *a, int mac, int i, int f, int l, int lv, bool first,
                         const char *root, bool *staged)
{
	LoopProgram *p = a->p;
	Diag scratch, *saved = p->diag;
	int local = -1;
	const char *name;
	Status st;

	*staged = false;
	diag_init(&scratch);
	p->diag = &scratch;
	st = pass_hoist(p, f, p->nodes[mac].arg[i].buf, lv, &local);
	p->diag = saved;
	if (st == ST_UNSUPPORTED) {
		a->info.refused++;
		if (!a->info.refusal && scratch.n > 0 &&
		    !(a->info.refusal = arena_printf(&p->arena, "%s", scratch.msg[0].text)))
			st = loop_oom(p);
		else
			st = ST_OK;
		diag_free(&scratch);
		return st;
	}
	if (st != ST_OK) {
		for (int m = 0; m < scratch.n; m++)
			diag_add(p->diag, scratch.msg[m].status, "%s", scratch.msg[m].text);
		diag_free(&scratch);
		return st;
	}
	diag_free(&scratch);
	name = arena_printf(&p->arena, "%s_%s", root, p->levels[lv].name);
	p->bufs[local].name = "";    /* so that its own name does not count */
	if (!name || !(name = loop_unique_name(p, name)))
		return loop_oom(p);
	p->bufs[local].name = name;
	a->info.staged++;
	*staged = true;
	if (first)
		a->info.tile_buf[l][arch_operand(i)] = local;
	return ST_OK;
}

/* Stages as stage_tile does at the top of the piece holding mac, when no
 * loop lies above the level: the piece is wrapped in a loop that runs once
 * for pass_hoist, and the wrapper is taken out again. */
static Status stage_top(Apply *a, int mac, int i, int l, int lv, bool first, const char *root,
                        bool *staged)
{
	LoopProgram *p = a->p;
	const char *var = tile_var_name(p, a->kernel, "top");
	TileTree t;
	int top, w, body, last;
	Status st;

	*staged = false;
	TRY(top_of(p, mac, &top));
	if (!var || (w = loop_new_for(p, var, 0, 1, 1)) < 0)
		return loop_oom(p);
	TRY(tile_tree_build(p, &t));
	*tile_link_to(p, &t, top) = w;
	p->nodes[w].body = top;
	p->nodes[w].next = p->nodes[top].next;
	p->nodes[top].next = -1;
	tile_tree_free(&t);
	st = stage_tile(a, mac, i, w, l, lv, first, root, staged);
	TRY(tile_tree_build(p, &t));
	body = last = p->nodes[w].body;
	while (p->nodes[last].next >= 0)
		last = p->nodes[last].next;
	p->nodes[last].next = p->nodes[w].next;
	*tile_link_to(p, &t, w) = body;
	p->nodes[w].body = p->nodes[w].next = -1;
	tile_tree_free(&t);
	return st;
}

/*
 * Stages the tiles of one mapped piece, whose band is want[0..n) (pos[]
 * the positions): for each operand of the mac, going inward over the
 * levels below the outermost that keep it, the tile is hoisted from the
 * buffer the mac reads now (the operand's tile at the nearest level above
 * that keeps it: a level that does not bypasses) at the innermost loop
 * above the level's own loops, or at the top of the piece when there is
 * none.  The same place as the level above holding the operand (no loop
 * between them): the same tile, skipped.
 */
static Status stage_piece(Apply *a, int mac, const int *want, const int *pos, int n)
{
	LoopProgram *p = a->p;
	int k = a->kernel, before = count_for(p, p->kernels[k].body);
	bool first = a->staged_pieces++ == 0;

	for (int i = 0; i < 3; i++) {
		int above = -2;    /* DRAM: the whole operand, outside the piece */
		const char *root = p->bufs[p->nodes[mac].arg[i].buf].name;

		for (int l = 1; l < a->t->nlevels; l++) {
			bool staged;
			int f, lv;

			if (!(a->m->keeps[l] & (1u << arch_operand(i))) || a->t->capacity[l] == 0)
				continue;
			f = loop_above(a, l, want, pos, n);
			if (f == above) {
				a->info.skipped++;
				continue;
			}
			if ((lv = program_level(a, l, mac)) < 0)
				return ST_NOMEM;
			if (f < 0)
				TRY(stage_top(a, mac, i, l, lv, first, root, &staged));
			else
				TRY(stage_tile(a, mac, i, f, l, lv, first, root, &staged));
			if (staged)
				above = f;
		}
	}
	a->info.copy_loops += count_for(p, p->kernels[k].body) - before;
	return ST_OK;
}

/* Maps a band whose clamped factors divide every extent. */
static Status tile_band(Apply *a, DfNest *nest, int64_t (*c)[MAX_POS])
{
	int at[DF_NDIMS][MAX_POS], want[MAX_DEPTH], dim[MAX_DEPTH], pos[MAX_DEPTH], n = 0, root;

	for (int d = 0; d < DF_NDIMS; d++)
		if (nest->loop[d] >= 0 && a->p->nodes[nest->loop[d]].extent == 1) {
			TRY(drop_loop(a->p, nest->loop[d]));
			nest->loop[d] = -1;
		}
	TRY(split_dims(a, nest, c, at));
	for (int j = 0; j < a->npos; j++) {
		int l = pos_level(a->t, j);

		for (int i = 0; i < DF_NDIMS; i++) {
			int d = l >= 0 ? a->m->order[l][i] : i;

			if (at[d][j] < 0)
				continue;
			nnac_assert(n < MAX_DEPTH);
			dim[n] = d;
			pos[n] = j;
			want[n++] = at[d][j];
		}
	}
	if (n == 0)
		return stage_piece(a, nest->mac, want, pos, 0);
	TRY(top_of(a->p, nest->mac, &root));
	TRY(reorder_band(a, root, want, n));
	for (int i = 0; i < n; i++) {
		int l = pos_level(a->t, pos[i]);

		if (l < 0) {
			TRY(pass_set_spatial(a->p, want[i], true));
			a->info.spatial++;
		}
		TRY(name_loop(a, want[i], dim[i], pos[i]));
	}
	a->info.loops += n;
	if (!sums_in_order(a, dim, pos, n))
		a->info.sum_reordered = true;
	return stage_piece(a, nest->mac, want, pos, n);
}

static Status map_piece(Apply *a, int root);

/* Peels the remainder of dimension d (loop split at main_part) into a
 * piece of its own after the band, then maps both. */
static Status peel(Apply *a, const DfNest *nest, int d, int64_t main_part)
{
	int band[MAX_DEPTH], want[MAX_DEPTH], n = band_of(a->p, nest->root, band), nw = 1;
	int outer, inner, rest;

	want[0] = nest->loop[d];
	for (int i = 0; i < n; i++)
		if (band[i] != nest->loop[d])
			want[nw++] = band[i];
	TRY(reorder_band(a, nest->root, want, n));
	TRY(pass_split(a->p, nest->loop[d], main_part, &outer, &inner));
	rest = a->p->nodes[outer].next;
	nnac_assert(rest >= 0);
	TRY(drop_loop(a->p, outer));
	a->info.pieces++;
	if (reduction(d))
		for (int e = 0; e < DF_NDIMS; e++)
			if (reduction(e) && a->rank[e] < a->rank[d] &&
			    loop_extent(a->p, nest, e) > 1)
				a->info.sum_reordered = true;
	TRY(map_piece(a, inner));
	return map_piece(a, rest);
}

/* Maps the band at top-level loop root. */
static Status map_piece(Apply *a, int root)
{
	int64_t c[DF_NDIMS][MAX_POS], main_part[DF_NDIMS];
	DfNest nest;

	TRY(nest_in(a->p, a->kernel, root, false, &nest));
	for (int d = 0; d < DF_NDIMS; d++)
		if (clamp(a, d, loop_extent(a->p, &nest, d), c[d], &main_part[d]) > 0)
			return peel(a, &nest, d, main_part[d]);
	return tile_band(a, &nest, c);
}

/* A note before the compute nest naming the dataflow and the target. */
static Status add_note(Apply *a, int root)
{
	LoopProgram *p = a->p;
	const char *text = arena_printf(&p->arena, " dataflow %s on %s: loops named DIM_LEVEL",
	                                arch_dataflow_name(a->m->df), a->t->arch->name);
	TileTree t;
	int note, *link;

	if (!text || (note = loop_new_note(p, text)) < 0)
		return loop_oom(p);
	TRY(tile_tree_build(p, &t));
	link = tile_link_to(p, &t, root);
	p->nodes[note].next = root;
	*link = note;
	tile_tree_free(&t);
	return ST_OK;
}

static Status apply(Apply *a)
{
	DfNest nest;

	bool folded;

	TRY(df_find_nest(a->p, a->kernel, &nest));
	folded = rows_folded(a, &nest);
	TRY(check_problem(a, &nest, folded));
	TRY(check_mapping(a));
	if (folded) {
		TRY(fold_rows(a->p, &nest));
		TRY(df_find_nest(a->p, a->kernel, &nest));
	}
	for (int d = 0; d < DF_NDIMS; d++) {
		int band[MAX_DEPTH], n = nest.root >= 0 ? band_of(a->p, nest.root, band) : 0;

		a->rank[d] = -1;
		for (int i = 0; i < n; i++)
			if (band[i] == nest.loop[d])
				a->rank[d] = i;
	}
	a->info.pieces = 1;
	if (nest.root < 0)
		return ST_OK;
	TRY(add_note(a, nest.root));
	return map_piece(a, nest.root);
}

Status df_apply_info(LoopProgram *p, int kernel, const DfTarget *t, const DfProblem *pb,
                     const DfMapping *m, Diag *d, DfApplyInfo *info)
{
	Apply a;
	Diag *saved = p->diag;
	Status st;

	nnac_assert(kernel >= 0 && kernel < p->nkernels);
	memset(&a, 0, sizeof(a));
	a.p = p;
	a.kernel = kernel;
	a.t = t;
	a.pb = pb;
	a.m = m;
	a.npos = t->nlevels + 2;
	for (int l = 0; l < DF_MAX_LEVELS; l++)
		for (int o = 0; o < ARCH_NOPERANDS; o++)
			a.info.tile_buf[l][o] = -1;
	if (d)
		p->diag = d;
	st = apply(&a);
	if (st == ST_OK)
		st = loop_verify(p);
	p->diag = saved;
	if (info)
		*info = a.info;
	return st;
}

Status df_apply(LoopProgram *p, int kernel, const DfTarget *t, const DfProblem *pb,
                const DfMapping *m, Diag *d)
{
	return df_apply_info(p, kernel, t, pb, m, d, NULL);
}
