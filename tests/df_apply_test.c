/*
 * Test of passes/df_apply.c: a dataflow mapping laid over the loop IR keeps
 * the program's results.
 *
 * Layers are built as graphs (one Conv, ConvInteger or Gemm node with
 * seeded random constants), typed by shape inference and lowered by
 * pass_lower, as a model's layers are.  The layers: convolutions with
 * padding, stride 2, groups, depthwise, batch 2, 1x1, 1-D, an integer
 * convolution, Gemm with and without transB, a batched MatMul and one whose
 * B all batch entries share (rows folded).  Each layer's dimensions are
 * checked against df_problem_from_node's; then, on the eyeriss and tpu-v1
 * presets:
 *   - the compute nest is found and its loops told apart by the mac's
 *     operands: every dimension's loop has the layer's extent, also after
 *     the loops are given meaningless names;
 *   - hand-made mappings (everything at DRAM; a row-stationary or weight-
 *     stationary shape with ragged factors) and seeded random ones (random
 *     factors whose product covers each dimension, random orders, spatial
 *     factors within the array) are applied; the result must verify, have
 *     as many spatial loops as df_apply says, named *_rows or *_cols, and
 *     run on seeded random inputs to the unmapped program's outputs: bit
 *     for bit unless df_apply reports that an accumulator element sums its
 *     terms in another order, then within compare_loop_values (integers
 *     always exactly);
 *   - the mapping df_map_layer finds for every dataflow the target has and
 *     every metric, applied the same way;
 *   - the staged tiles: every tile of every piece staged, refused or
 *     skipped; each staged buffer at the level named like the arch level
 *     and, for a mapping that divides every dimension and fits, holding
 *     df_evaluate's tile (DfCost.level[l].tile[o] values).
 * Directed checks: the golden band and staged tiles of one mapping with
 * three ragged dimensions, the refusals (diagnostics, program unchanged).
 * Then the
 * models given on the command line (symbolic dimensions bound to 1): every
 * conv, gemm and matmul kernel mapped by df_map_layer on eyeriss (energy,
 * cycles), at random on eyeriss, and by df_map_layer on tpu-v1; the whole
 * program run and compared with the unmapped one.
 *
 * Usage: nnac-dfapply [--cases N] [--print] [MODEL.onnx ...]
 * Ends with "df-apply: P passed, F failed"; exit status 1 on a failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compare.h"
#include "arch_lang.h"
#include "df_apply.h"
#include "loop.h"
#include "onnx.h"
#include "passes.h"
#include "test_rng.h"
#include "test_util.h"

enum { DEFAULT_CASES = 40 };

static bool print_all;
/* Mappings applied, those that kept every summation order, pieces made,
 * searched mappings applied and layers the search found no mapping for;
 * tiles staged, refused and skipped, staged tiles checked against
 * df_evaluate's. */
static int applied, in_order, pieces, searched, unmapped;
static int staged, refused, skipped, tiles_checked;

static int64_t rng_int(Rng *r, int64_t lo, int64_t hi)
{
	return rng_range(r, lo, hi);
}

/* Uniform in [-1, 1). */
static double rng_signed(Rng *r)
{
	return rng_unit(r) * 2 - 1;
}

static void fill_random(Value *v, Rng *r)
{
	for (int64_t i = 0; i < val_numel(v); i++) {
		if (dtype_is_float(v->dt))
			val_set_f64(v, i, rng_signed(r));
		else
			val_set_i64(v, i, rng_int(r, 0, 15));
	}
}

/* Layers as graphs. */

typedef struct Layer {
	const char *name;
	OpKind op;                   /* OP_Conv, OP_ConvInteger, OP_Gemm, OP_MatMul */
	int n, c, h, w, k, r, s;     /* conv: batch, channels, input, filters, window;
	                                h = r = 0: a 1-D convolution; MatMul: n batches */
	int stride, pad, group;
	int m, kk, nn;               /* gemm: Y[m, nn] = A[m, kk] * B */
	bool trans_b, bias;
	bool shared_b;               /* MatMul: B is [kk, nn], one for every batch */
} Layer;

static const Layer layers[] = {
	{ "conv-pad", OP_Conv, 1, 3, 8, 7, 4, 3, 3, 1, 1, 1, 0, 0, 0, false, true, false },
	{ "conv-stride2", OP_Conv, 1, 4, 9, 9, 6, 3, 2, 2, 0, 1, 0, 0, 0, false, false, false },
	{ "conv-grouped", OP_Conv, 1, 6, 6, 6, 4, 3, 3, 1, 1, 2, 0, 0, 0, false, true, false },
	{ "conv-depthwise", OP_Conv, 1, 4, 5, 6, 4, 3, 3, 1, 1, 4, 0, 0, 0, false, false, false },
	{ "conv-batch2", OP_Conv, 2, 3, 5, 5, 5, 3, 3, 1, 1, 1, 0, 0, 0, false, true, false },
	{ "conv-1x1", OP_Conv, 1, 8, 4, 5, 6, 1, 1, 1, 0, 1, 0, 0, 0, false, false, false },
	{ "conv-int", OP_ConvInteger, 1, 5, 7, 7, 3, 3, 3, 1, 0, 1, 0, 0, 0, false, false, false },
	{ "gemm-transB", OP_Gemm, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 12, 7, true, true, false },
	{ "gemm", OP_Gemm, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 10, 9, false, false, false },
	{ "conv-1d", OP_Conv, 1, 3, 0, 11, 5, 0, 3, 2, 1, 1, 0, 0, 0, false, true, false },
	{ "matmul-batched", OP_MatMul, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4, 5, false, false, false },
	{ "matmul-shared", OP_MatMul, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4, 5, false, false, true },
};

static int add_tensor(Graph *g, const char *name, DType dt, int rank, const int64_t *dims,
                      unsigned flags, Rng *r)
{
	int t = graph_add_tensor(g, name);

	if (t < 0)
		return -1;
	val_set_type(&g->tensors[t].v, dt, rank, dims);
	g->tensors[t].flags = flags;
	if (flags & TENSOR_INIT) {
		if (!val_alloc(&g->arena, &g->tensors[t].v))
			return -1;
		fill_random(&g->tensors[t].v, r);
	}
	if (flags & TENSOR_INPUT)
		g->inputs[g->ninputs++] = t;
	return t;
}

static Attr ints_attr(Graph *g, const char *name, int n, int64_t v0, int64_t v1)
{
	Attr a;

	memset(&a, 0, sizeof(a));
	a.name = name;
	a.kind = ATTR_INTS;
	a.n = n;
	a.ints = arena_alloc(&g->arena, 4 * sizeof(int64_t));
	if (a.ints) {
		a.ints[0] = a.ints[2] = v0;
		a.ints[1] = a.ints[3] = v1;
	}
	return a;
}

static Attr int_attr(const char *name, int64_t v)
{
	Attr a;

	memset(&a, 0, sizeof(a));
	a.name = name;
	a.kind = ATTR_INT;
	a.i = v;
	return a;
}

/* The node's inputs: X (graph input), W, [B]. */
static Status build_conv(Graph *g, const Layer *l, Node *n, Rng *r)
{
	bool integer = l->op == OP_ConvInteger;
	DType dt = integer ? DT_U8 : DT_F32;
	int64_t xd[4] = {l->n, l->c, l->h, l->w}, wd[4] = {l->k, l->c / l->group, l->r, l->s};
	int64_t bd[1] = {l->k};
	int nsp = l->h > 0 ? 2 : 1;

	if (nsp == 1) {
		xd[2] = l->w;
		wd[2] = l->s;
	}
	n->in[0] = add_tensor(g, "X", dt, 2 + nsp, xd, TENSOR_INPUT, r);
	n->in[1] = add_tensor(g, "W", dt, 2 + nsp, wd, TENSOR_INIT, r);
	if (l->bias && !integer)
		n->in[2] = add_tensor(g, "B", dt, 1, bd, TENSOR_INIT, r);
	n->attr = arena_alloc(&g->arena, 4 * sizeof(Attr));
	if (!n->attr)
		return graph_oom(g);
	n->attr[n->nattr++] = ints_attr(g, "strides", nsp, l->stride, l->stride);
	n->attr[n->nattr++] = ints_attr(g, "pads", 2 * nsp, l->pad, l->pad);
	n->attr[n->nattr++] = int_attr("group", l->group);
	return ST_OK;
}

/* MatMul: A [n, m, kk] (graph input) times B [n, kk, nn], or [kk, nn]. */
static Status build_matmul(Graph *g, const Layer *l, Node *n, Rng *r)
{
	int64_t ad[3] = {l->n, l->m, l->kk}, bd[3] = {l->n, l->kk, l->nn};

	n->in[0] = add_tensor(g, "A", DT_F32, 3, ad, TENSOR_INPUT, r);
	n->in[1] = l->shared_b ? add_tensor(g, "Bw", DT_F32, 2, bd + 1, TENSOR_INIT, r)
	                       : add_tensor(g, "Bw", DT_F32, 3, bd, TENSOR_INIT, r);
	return ST_OK;
}

static Status build_gemm(Graph *g, const Layer *l, Node *n, Rng *r)
{
	int64_t ad[2] = {l->m, l->kk}, bd[2] = {l->kk, l->nn}, cd[1] = {l->nn};

	if (l->trans_b) {
		bd[0] = l->nn;
		bd[1] = l->kk;
	}
	n->in[0] = add_tensor(g, "A", DT_F32, 2, ad, TENSOR_INPUT, r);
	n->in[1] = add_tensor(g, "Bw", DT_F32, 2, bd, TENSOR_INIT, r);
	if (l->bias)
		n->in[2] = add_tensor(g, "C", DT_F32, 1, cd, TENSOR_INIT, r);
	n->attr = arena_alloc(&g->arena, 2 * sizeof(Attr));
	if (!n->attr)
		return graph_oom(g);
	n->attr[n->nattr++] = int_attr("transB", l->trans_b);
	return ST_OK;
}

/* One-node graph of layer l, typed. */
static Status build_graph(Graph *g, const Layer *l, Rng *r)
{
	int nin = l->op == OP_ConvInteger ? 4 : l->op == OP_MatMul ? 2 : 3;
	int ni = graph_add_node(g, l->name, l->op, nin, 1);
	int y;
	Node *n;
	Status st;

	g->opset = 13;
	g->inputs = arena_alloc(&g->arena, 2 * sizeof(int));
	g->outputs = arena_alloc(&g->arena, 2 * sizeof(int));
	if (ni < 0 || !g->inputs || !g->outputs)
		return graph_oom(g);
	n = &g->nodes[ni];
	st = l->op == OP_Gemm ? build_gemm(g, l, n, r) : l->op == OP_MatMul ? build_matmul(g, l, n, r)
	                                                                   : build_conv(g, l, n, r);
	if (st != ST_OK)
		return st;
	y = graph_add_tensor(g, "Y");
	if (y < 0)
		return graph_oom(g);
	g->nodes[ni].out[0] = y;
	g->tensors[y].producer = ni;
	g->tensors[y].flags = TENSOR_OUTPUT;
	g->outputs[g->noutputs++] = y;
	return pass_infer_shapes(g, false);
}

/* The layer as the mapper sees it. */
static void layer_problem(const Layer *l, DfProblem *pb)
{
	memset(pb, 0, sizeof(*pb));
	pb->name = l->name;
	pb->op = op_name(l->op);
	for (int d = 0; d < DF_NDIMS; d++)
		pb->dim[d] = 1;
	pb->stride[0] = l->op == OP_Gemm || l->op == OP_MatMul || l->h == 0 ? 1 : l->stride;
	pb->stride[1] = l->op == OP_Gemm || l->op == OP_MatMul ? 1 : l->stride;
	pb->dilation[0] = pb->dilation[1] = 1;
	if (l->op == OP_Gemm || l->op == OP_MatMul) {
		pb->dim[DF_G] = l->op == OP_MatMul && !l->shared_b ? l->n : 1;
		pb->dim[DF_N] = l->op == OP_MatMul && l->shared_b ? l->n * l->m : l->m;
		pb->dim[DF_K] = l->nn;
		pb->dim[DF_C] = l->kk;
		return;
	}
	pb->dim[DF_N] = l->n;
	pb->dim[DF_G] = l->group;
	pb->dim[DF_K] = l->k / l->group;
	pb->dim[DF_C] = l->c / l->group;
	pb->dim[DF_Q] = (l->w + 2 * l->pad - l->s) / l->stride + 1;
	pb->dim[DF_S] = l->s;
	if (l->h > 0) {
		pb->dim[DF_P] = (l->h + 2 * l->pad - l->r) / l->stride + 1;
		pb->dim[DF_R] = l->r;
	}
}

/* Mappings. */

static const uint8_t lowered_order[DF_NDIMS] = {DF_N, DF_G, DF_K, DF_P, DF_Q, DF_C, DF_R, DF_S};

/* Everything at the outermost level, in the lowered order; every level
 * keeps what it holds (df_mapping_init's keeps). */
static void map_trivial(DfMapping *m, const DfTarget *t, const DfProblem *pb, ArchDataflow df)
{
	df_mapping_init(m, t, pb, df);
	for (int l = 0; l < t->nlevels; l++)
		for (int d = 0; d < DF_NDIMS; d++) {
			m->factor[l][d] = 1;
			m->order[l][d] = lowered_order[d];
		}
	for (int d = 0; d < DF_NDIMS; d++) {
		m->spatial[DF_ROWS][d] = m->spatial[DF_COLS][d] = 1;
		m->factor[0][d] = pb->dim[d];
	}
}

static int64_t ceil_div(int64_t a, int64_t b)
{
	return (a + b - 1) / b;
}

/* Sets dimension d's factor f at level l (or rows/cols when l < 0: -1
 * rows, -2 cols) and gives the outermost level what covers the rest. */
static void put(DfMapping *m, const DfTarget *t, const DfProblem *pb, int d, int l, int64_t f)
{
	int64_t inner = 1;

	if (l == -1)
		m->spatial[DF_ROWS][d] = f;
	else if (l == -2)
		m->spatial[DF_COLS][d] = f;
	else
		m->factor[l][d] = f;
	for (int j = 1; j < t->nlevels; j++)
		inner *= m->factor[j][d];
	inner *= m->spatial[DF_ROWS][d] * m->spatial[DF_COLS][d];
	m->factor[0][d] = ceil_div(pb->dim[d], inner);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* The shape of row stationary: filter rows over the PE rows, output
 * columns over the columns, a few channels and filters in the PEs, output
 * rows in the global buffer; factors of 3 and 2 that divide nothing in
 * particular, so remainders appear. */
static void map_rs(DfMapping *m, const DfTarget *t, const DfProblem *pb)
{
	int last = t->nlevels - 1;

	map_trivial(m, t, pb, ARCH_DF_RS);
	put(m, t, pb, DF_R, -1, min64(pb->dim[DF_R], t->rows));
	put(m, t, pb, DF_Q, -2, min64(pb->dim[DF_Q], t->cols));
	put(m, t, pb, DF_K, last, min64(3, pb->dim[DF_K]));
	put(m, t, pb, DF_C, last > 0 ? last - 1 : 0, min64(2, pb->dim[DF_C]));
	put(m, t, pb, DF_P, t->fanout > 1 ? 1 : 0, min64(3, pb->dim[DF_P]));
	for (int l = 0; l < t->nlevels; l++)
		memcpy(m->order[l], (const uint8_t[]){DF_N, DF_G, DF_K, DF_C, DF_P, DF_Q, DF_S, DF_R},
		       DF_NDIMS);
}

/* Weight stationary: the filter window and channels over the rows, the
 * filters over the columns, pixels streamed at the outer levels. */
static void map_ws(DfMapping *m, const DfTarget *t, const DfProblem *pb)
{
	map_trivial(m, t, pb, ARCH_DF_WS);
	put(m, t, pb, DF_C, -1, min64(pb->dim[DF_C], t->rows / 9));
	put(m, t, pb, DF_S, -1, pb->dim[DF_S]);
	put(m, t, pb, DF_K, -2, min64(pb->dim[DF_K], t->cols));
	put(m, t, pb, DF_Q, t->nlevels > 2 ? 2 : 0, min64(4, pb->dim[DF_Q]));
	memcpy(m->order[0], (const uint8_t[]){DF_R, DF_G, DF_N, DF_P, DF_K, DF_C, DF_Q, DF_S},
	       DF_NDIMS);
}

static void shuffle(uint8_t *o, Rng *r)
{
	for (int i = DF_NDIMS - 1; i > 0; i--) {
		int j = (int)rng_int(r, 0, i);
		uint8_t x = o[i];

		o[i] = o[j];
		o[j] = x;
	}
}

/* Random factors at up to three random places (levels or spatial), the
 * outermost level covering the rest; random orders. */
static void map_random(DfMapping *m, const DfTarget *t, const DfProblem *pb, Rng *r)
{
	int64_t pes[2] = {1, 1};

	map_trivial(m, t, pb, (ArchDataflow)rng_int(r, 0, ARCH_DF_COUNT - 1));
	for (int l = 0; l < t->nlevels; l++)
		shuffle(m->order[l], r);
	for (int d = 0; d < DF_NDIMS; d++) {
		int places = (int)rng_int(r, 0, 3);

		for (int i = 0; i < places && pb->dim[d] > 1; i++) {
			int l = (int)rng_int(r, -2, t->nlevels - 1);
			int64_t f = rng_int(r, 1, pb->dim[d]);

			if (l < 0) {
				int side = l == -1 ? DF_ROWS : DF_COLS;
				int64_t room = (side == DF_ROWS ? t->rows : t->cols) / pes[side];

				f = min64(f, room * m->spatial[side][d]);
				pes[side] = pes[side] / m->spatial[side][d] * f;
			}
			put(m, t, pb, d, l, f);
		}
	}
}

/* Programs. */

static char *program_text(const LoopProgram *p, unsigned flags)
{
	FILE *f = tmpfile();
	char *s = NULL;
	long n;

	if (!f)
		return NULL;
	loop_print(p, f, flags);
	n = ftell(f);
	rewind(f);
	s = calloc((size_t)n + 1, 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

/* The kernel of p holding a mac, or -1. */
static int mac_kernel(LoopProgram *p, int from)
{
	for (int k = from; k < p->nkernels; k++) {
		Diag d;
		Diag *saved = p->diag;
		DfNest nest;
		Status st;

		diag_init(&d);
		p->diag = &d;
		st = df_find_nest(p, k, &nest);
		p->diag = saved;
		diag_free(&d);
		if (st == ST_OK)
			return k;
	}
	return -1;
}

typedef struct Run {
	Arena arena;
	Value in[8], out[8];
	int nout;
} Run;

static Status run_program(LoopProgram *p, Run *run, const Value *in)
{
	run->nout = loop_count_outputs(p);
	nnac_assert(run->nout <= 8 && loop_count_inputs(p) <= 8);
	return loop_run(p, &run->arena, in, run->out);
}

static bool same_bits(const Value *a, const Value *b)
{
	return a->dt == b->dt && val_numel(a) == val_numel(b) &&
	       memcmp(a->data, b->data, (size_t)val_bytes(a)) == 0;
}

/* Compares the mapped program's outputs with the unmapped ones. */
static void compare_runs(const char *what, const Run *got, const Run *want, bool reordered)
{
	check(got->nout == want->nout, "%s: %d outputs, want %d", what, got->nout, want->nout);
	for (int i = 0; i < got->nout && i < want->nout; i++) {
		const Value *g = &got->out[i], *w = &want->out[i];

		if (!reordered || !dtype_is_float(w->dt)) {
			check(same_bits(g, w), "%s: output %d differs from the unmapped program%s", what,
			      i, reordered ? " (integers)" : " (same summation order)");
		} else {
			CompareResult c = compare_loop_values(g, w);

			check(c.ok, "%s: output %d: %s (max abs err %g)", what, i, c.why, c.max_abs_err);
		}
	}
}

/* Loops of kernel k: count, spatial ones, and whether every spatial loop
 * is named for the rows or columns and no other is. */
typedef struct LoopCount {
	int loops, spatial, misnamed;
} LoopCount;

static void count_loops(const LoopProgram *p, int first, LoopCount *c)
{
	for (int n = first; n >= 0; n = p->nodes[n].next) {
		const LoopNode *x = &p->nodes[n];
		size_t len;
		bool rc;

		if (x->kind != LN_FOR)
			continue;
		len = strlen(x->var);
		rc = (len > 5 && (strstr(x->var, "_rows") || strstr(x->var, "_cols")));
		c->loops++;
		c->spatial += (x->flags & LF_SPATIAL) != 0;
		c->misnamed += rc != ((x->flags & LF_SPATIAL) != 0);
		count_loops(p, x->body, c);
	}
}

/* The mapped program prints, parses back and prints the same. */
static void check_round_trip(const char *what, const LoopProgram *p)
{
	char *text = program_text(p, 0), *again = NULL;
	LoopProgram q;
	Diag d;
	Status st;

	diag_init(&d);
	loop_init(&q, &d, what);
	st = text ? loop_parse(&q, what, text, strlen(text)) : ST_NOMEM;
	if (st == ST_OK)
		again = program_text(&q, 0);
	check(st == ST_OK && again && strcmp(text, again) == 0, "%s: the printed program %s", what,
	      st != ST_OK ? "does not parse back" : "prints back differently");
	if (st != ST_OK && d.n)
		printf("  %s\n", d.msg[0].text);
	free(text);
	free(again);
	loop_free(&q);
	diag_free(&d);
}

/* Tiles: the operand and level pairs that staging considers in each piece,
 * the levels below the outermost that keep the operand and hold values. */
static int kept_tiles(const DfTarget *t, const DfMapping *m)
{
	int n = 0;

	for (int l = 1; l < t->nlevels; l++)
		for (int o = 0; o < ARCH_NOPERANDS; o++)
			n += (m->keeps[l] & (1u << o)) && t->capacity[l] != 0;
	return n;
}

/* Whether every dimension's factors multiply to exactly its extent. */
static bool mapping_divides(const DfTarget *t, const DfProblem *pb, const DfMapping *m)
{
	for (int d = 0; d < DF_NDIMS; d++) {
		int64_t prod = m->spatial[DF_ROWS][d] * m->spatial[DF_COLS][d];

		for (int l = 0; l < t->nlevels; l++)
			prod *= m->factor[l][d];
		if (prod != pb->dim[d])
			return false;
	}
	return true;
}

/*
 * Staging: every tile of every piece is staged, refused or skipped; a
 * staged one lies at the program level named like the arch level, and when
 * the mapping divides every dimension and fits, holds df_evaluate's tile of
 * that operand at that level: as many values when the tile is a dense box
 * (stride 1, and no groups or one channel per group), else at least as
 * many (the box spans the gaps between the windows of a stride, or between
 * the groups' channels, that df_evaluate leaves out).
 */
static void check_tiles(const char *what, const LoopProgram *p, const DfTarget *t,
                        const DfProblem *pb, const DfMapping *m, const DfApplyInfo *info)
{
	bool dense = pb->stride[0] == 1 && pb->stride[1] == 1 &&
	             (pb->dim[DF_G] == 1 || (pb->dim[DF_K] == 1 && pb->dim[DF_C] == 1));
	bool exact = mapping_divides(t, pb, m);
	DfCost cost;

	exact = exact && df_evaluate(t, pb, m, &cost, NULL);
	check(info->staged + info->refused + info->skipped == info->pieces * kept_tiles(t, m),
	      "%s: %d tiles staged, %d refused, %d skipped; want %d pieces of %d", what,
	      info->staged, info->refused, info->skipped, info->pieces, kept_tiles(t, m));
	staged += info->staged;
	refused += info->refused;
	skipped += info->skipped;
	if (print_all && info->refusal)
		printf("refused %s: %s\n", what, info->refusal);
	for (int l = 0; l < t->nlevels; l++)
		for (int o = 0; o < ARCH_NOPERANDS; o++) {
			int b = info->tile_buf[l][o];

			if (b < 0)
				continue;
			check(l > 0 && (m->keeps[l] & (1u << o)) &&
			      strcmp(p->levels[p->bufs[b].level].name, t->arch->levels[l].name) == 0,
			      "%s: buffer '%s' stages operand %d of level %d at level '%s'", what,
			      p->bufs[b].name, o, l, p->levels[p->bufs[b].level].name);
			if (!exact)
				continue;
			tiles_checked++;
			check(dense ? loop_buf_numel(&p->bufs[b]) == cost.level[l].tile[o]
			            : loop_buf_numel(&p->bufs[b]) >= cost.level[l].tile[o],
			      "%s: buffer '%s' holds %lld values, df_evaluate's tile of operand %d "
			      "at '%s' %lld", what, p->bufs[b].name,
			      (long long)loop_buf_numel(&p->bufs[b]), o, t->arch->levels[l].name,
			      (long long)cost.level[l].tile[o]);
		}
}

/* Applies m to a fresh lowering of g's kernel k and compares with ref. */
static DfApplyInfo apply_and_compare(Graph *g, const char *what, const DfTarget *t,
                                     const DfProblem *pb, const DfMapping *m, const Value *in,
                                     const Run *ref)
{
	LowerOptions lo = {false};
	LoopProgram p;
	DfApplyInfo info = {.pieces = 0};
	LoopCount before = {0}, after = {0};
	DfNest nest;
	Run run;
	Diag d;
	int k;
	Status st;

	diag_init(&d);
	arena_init(&run.arena);
	loop_init(&p, &d, what);
	st = pass_lower(g, &p, &lo);
	k = st == ST_OK ? mac_kernel(&p, 0) : -1;
	check(k >= 0, "%s: no kernel with a mac", what);
	if (k < 0)
		goto out;
	count_loops(&p, p.kernels[k].body, &before);
	if (df_find_nest(&p, k, &nest) != ST_OK)
		goto out;
	st = df_apply_info(&p, k, t, pb, m, &d, &info);
	check(st == ST_OK, "%s: df_apply: %s", what, d.n ? d.msg[0].text : status_name(st));
	if (st != ST_OK)
		goto out;
	if (print_all) {
		printf("== %s\n", what);
		loop_print(&p, stdout, LOOP_PRINT_NO_DATA);
	}
	check_round_trip(what, &p);
	count_loops(&p, p.kernels[k].body, &after);
	check(after.spatial == info.spatial && after.misnamed == 0,
	      "%s: %d spatial loops (%d misnamed), df_apply says %d", what, after.spatial,
	      after.misnamed, info.spatial);
	check(after.loops == before.loops - nest.nloops + info.loops + info.copy_loops,
	      "%s: %d loops, want %d outside the nest, %d in its %d pieces and %d copying tiles",
	      what, after.loops, before.loops - nest.nloops, info.loops, info.pieces,
	      info.copy_loops);
	check_tiles(what, &p, t, pb, m, &info);
	st = run_program(&p, &run, in);
	check(st == ST_OK, "%s: run: %s", what, d.n ? d.msg[0].text : status_name(st));
	if (st == ST_OK)
		compare_runs(what, &run, ref, info.sum_reordered);
	applied++;
	in_order += !info.sum_reordered;
	pieces += info.pieces;
out:
	loop_free(&p);
	arena_free(&run.arena);
	diag_free(&d);
	return info;
}

/* Layers. */

typedef struct LayerCx {
	const Layer *l;
	Graph g;
	Diag d;
	DfProblem pb;
	Value in[8];
	Run ref;
	bool ok;
} LayerCx;

static void layer_open(LayerCx *cx, const Layer *l, uint64_t seed)
{
	Rng r = rng_seed(seed);
	LowerOptions lo = {false};
	LoopProgram p;
	Status st;

	memset(cx, 0, sizeof(*cx));
	cx->l = l;
	diag_init(&cx->d);
	graph_init(&cx->g, &cx->d, l->name);
	arena_init(&cx->ref.arena);
	layer_problem(l, &cx->pb);
	st = build_graph(&cx->g, l, &r);
	check(st == ST_OK, "%s: building the graph: %s", l->name,
	      cx->d.n ? cx->d.msg[0].text : status_name(st));
	if (st != ST_OK)
		return;
	{
		DfProblem pb;

		st = df_problem_from_node(&pb, &cx->g, &cx->g.nodes[0], &cx->d);
		check(st == ST_OK && memcmp(pb.dim, cx->pb.dim, sizeof(pb.dim)) == 0,
		      "%s: df_problem_from_node disagrees with the layer's dimensions", l->name);
	}
	for (int i = 0; i < cx->g.ninputs; i++) {
		cx->in[i] = cx->g.tensors[cx->g.inputs[i]].v;
		val_alloc(&cx->ref.arena, &cx->in[i]);
		fill_random(&cx->in[i], &r);
	}
	loop_init(&p, &cx->d, l->name);
	st = pass_lower(&cx->g, &p, &lo);
	if (st == ST_OK)
		st = run_program(&p, &cx->ref, cx->in);
	check(st == ST_OK, "%s: lowering and running: %s", l->name,
	      cx->d.n ? cx->d.msg[0].text : status_name(st));
	loop_free(&p);
	cx->ok = st == ST_OK;
}

static void layer_close(LayerCx *cx)
{
	arena_free(&cx->ref.arena);
	graph_free(&cx->g);
	diag_free(&cx->d);
}

/* The loops are told apart by the mac's operands, whatever their names. */
static void check_dims(LayerCx *cx)
{
	LowerOptions lo = {false};
	LoopProgram p;
	DfNest a, b;
	int k;

	loop_init(&p, &cx->d, cx->l->name);
	if (pass_lower(&cx->g, &p, &lo) != ST_OK || (k = mac_kernel(&p, 0)) < 0) {
		check(false, "%s: no compute nest", cx->l->name);
		loop_free(&p);
		return;
	}
	check(df_find_nest(&p, k, &a) == ST_OK, "%s: df_find_nest", cx->l->name);
	for (int d = 0; d < DF_NDIMS; d++) {
		int64_t e = a.loop[d] < 0 ? 1 : p.nodes[a.loop[d]].extent;
		int64_t want = cx->pb.dim[d];

		/* the rows of a MatMul sharing B: loops b0 (N) and m (Q), one N
		 * to the mapper, which df_apply folds into one loop */
		if (cx->l->shared_b && d == DF_N)
			want = cx->l->n;
		if (cx->l->shared_b && d == DF_Q)
			want = cx->l->m;
		check(e == want, "%s: the loop of dimension %d has extent %lld, want %lld",
		      cx->l->name, d, (long long)e, (long long)want);
	}
	for (int n = 0; n < p.nnodes; n++)
		if (p.nodes[n].kind == LN_FOR)
			p.nodes[n].var = arena_printf(&p.arena, "v%d", n);
	check(df_find_nest(&p, k, &b) == ST_OK && memcmp(a.loop, b.loop, sizeof(a.loop)) == 0,
	      "%s: renamed loops are told apart differently", cx->l->name);
	loop_free(&p);
}

static void layer_cases(LayerCx *cx, const DfTarget *t, int cases, uint64_t seed)
{
	char what[160];
	DfMapping m;
	DfApplyInfo info;
	int longer = 0;
	Rng r = rng_seed(seed);

	map_trivial(&m, t, &cx->pb, ARCH_DF_WS);
	snprintf(what, sizeof(what), "%s on %s, trivial", cx->l->name, t->arch->name);
	info = apply_and_compare(&cx->g, what, t, &cx->pb, &m, cx->in, &cx->ref);
	/* every loop at DRAM in the lowered order: one piece, no spatial loop,
	 * a loop per dimension longer than 1 */
	for (int d = 0; d < DF_NDIMS; d++)
		longer += cx->pb.dim[d] > 1;
	check(info.pieces == 1 && info.spatial == 0 && !info.sum_reordered && info.loops == longer,
	      "%s: %d pieces, %d spatial, %d loops (want %d), sums reordered %d", what, info.pieces,
	      info.spatial, info.loops, longer, info.sum_reordered);
	map_rs(&m, t, &cx->pb);
	snprintf(what, sizeof(what), "%s on %s, rs-like", cx->l->name, t->arch->name);
	apply_and_compare(&cx->g, what, t, &cx->pb, &m, cx->in, &cx->ref);
	map_ws(&m, t, &cx->pb);
	snprintf(what, sizeof(what), "%s on %s, ws-like", cx->l->name, t->arch->name);
	apply_and_compare(&cx->g, what, t, &cx->pb, &m, cx->in, &cx->ref);
	for (int i = 0; i < cases; i++) {
		map_random(&m, t, &cx->pb, &r);
		snprintf(what, sizeof(what), "%s on %s, random %d", cx->l->name, t->arch->name, i);
		apply_and_compare(&cx->g, what, t, &cx->pb, &m, cx->in, &cx->ref);
	}
	for (int f = 0; f < ARCH_DF_COUNT; f++) {
		for (int metric = DF_METRIC_ENERGY; metric <= DF_METRIC_EDP; metric++) {
			DfResult res;
			Diag d;
			Status st;
			clock_t t0;

			if (!arch_has_dataflow(t->arch, (ArchDataflow)f))
				continue;
			diag_init(&d);
			t0 = clock();
			st = df_map_layer(t, &cx->pb, f, (DfMetric)metric, DF_SEARCH_PRUNED, &res, NULL, &d);
			if (print_all)
				printf("search %s on %s, %s: %.2f s\n", cx->l->name, t->arch->name,
				       arch_dataflow_name((ArchDataflow)f), (double)(clock() - t0) / CLOCKS_PER_SEC);
			snprintf(what, sizeof(what), "%s on %s, searched %s for %s", cx->l->name,
			         t->arch->name, arch_dataflow_name((ArchDataflow)f),
			         df_metric_name((DfMetric)metric));
			if (st == ST_OK) {
				searched++;
				apply_and_compare(&cx->g, what, t, &cx->pb, &res.map, cx->in, &cx->ref);
			} else {
				unmapped++;
				if (print_all)
					printf("note %s: %s\n", what, d.n ? d.msg[0].text : status_name(st));
			}
			diag_free(&d);
		}
	}
}

/* Directed checks. */

/* Whether the list at first (and what is below) holds a mac. */
static bool holds_mac(const LoopProgram *p, int first)
{
	for (int x = first; x >= 0; x = p->nodes[x].next)
		if (p->nodes[x].kind == LN_MAC ||
		    (p->nodes[x].kind == LN_FOR && holds_mac(p, p->nodes[x].body)))
			return true;
	return false;
}

/* The loops from the node after df_apply's note down to the first mac,
 * past the copy nests of staged tiles: "var:extent" each, with "*" for a
 * spatial one. */
static void band_text(const LoopProgram *p, int k, char *buf, size_t size)
{
	size_t len = 0;
	int x = p->kernels[k].body;

	buf[0] = 0;
	while (x >= 0 && p->nodes[x].kind != LN_NOTE)
		x = p->nodes[x].next;
	x = x >= 0 ? p->nodes[x].next : -1;
	while (x >= 0 && p->nodes[x].kind == LN_FOR && len < size) {
		len += (size_t)snprintf(buf + len, size - len, "%s%s:%lld%s", len ? " " : "",
		                        p->nodes[x].var, (long long)p->nodes[x].extent,
		                        p->nodes[x].flags & LF_SPATIAL ? "*" : "");
		x = p->nodes[x].body;
		while (x >= 0 && !(p->nodes[x].kind == LN_MAC ||
		                   (p->nodes[x].kind == LN_FOR && holds_mac(p, p->nodes[x].body))))
			x = p->nodes[x].next;
	}
}

static int lower_layer(LayerCx *cx, LoopProgram *p)
{
	LowerOptions lo = {false};

	loop_init(p, &cx->d, cx->l->name);
	if (pass_lower(&cx->g, p, &lo) != ST_OK)
		return -1;
	return mac_kernel(p, 0);
}

/* The first piece's staged tiles, level by level, operand by operand:
 * "name[d0,d1...]@level" each. */
static void tiles_text(const LoopProgram *p, const DfTarget *t, const DfApplyInfo *info,
                       char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (int l = 0; l < t->nlevels; l++)
		for (int o = 0; o < ARCH_NOPERANDS && len < size; o++) {
			const LoopBuf *b = info->tile_buf[l][o] >= 0 ? &p->bufs[info->tile_buf[l][o]] : NULL;

			if (!b)
				continue;
			len += (size_t)snprintf(buf + len, size - len, "%s%s[", len ? " " : "", b->name);
			for (int d = 0; d < b->rank && len < size; d++)
				len += (size_t)snprintf(buf + len, size - len, "%s%lld", d ? "," : "",
				                        (long long)b->dims[d]);
			if (len < size)
				len += (size_t)snprintf(buf + len, size - len, "]@%s",
				                        p->levels[b->level].name);
		}
}

/* conv-pad (C 3, K 4, P 8, Q 7, R S 3) on eyeriss, row stationary:
 * K 3 in spad_psum (4 = 3 + 1: a remainder piece), C 2 in spad_filter
 * (3 = 2 + 1), P 3 in gbuf (8 = 6 + 2), R over the rows, Q over the
 * columns; the band and the first piece's staged tiles. */
static void check_golden(LayerCx *cx, const DfTarget *t)
{
	static const char *const want =
		"p_dram:2 s_dram:3 p_gbuf:3 r_rows:3* q_cols:7* c_spad_filter:2 k_spad_psum:3";
	/* gbuf below s_dram: P 3 x R 3 x Q 7 outputs, C 2, K 3; the PE levels
	 * below q_cols (C 2 inputs, C 2 x K 3 weights) and c_spad_filter
	 * (K 3 partial sums) */
	static const char *const want_tiles =
		"W_gbuf[3,2,3,1]@gbuf Xp_gbuf[1,2,5,7]@gbuf Y_gbuf[1,3,3,7]@gbuf "
		"Xp_spad_ifmap[1,2,1,1]@spad_ifmap W_spad_filter[3,2,1,1]@spad_filter "
		"Y_spad_psum[1,3,1,1]@spad_psum";
	char got[512];
	LoopProgram p;
	DfMapping m;
	DfApplyInfo info;
	int k = lower_layer(cx, &p);
	Status st;

	map_rs(&m, t, &cx->pb);
	st = k < 0 ? ST_INTERNAL : df_apply_info(&p, k, t, &cx->pb, &m, &cx->d, &info);
	check(st == ST_OK, "golden: df_apply: %s", cx->d.n ? cx->d.msg[cx->d.n - 1].text : "");
	if (st == ST_OK) {
		band_text(&p, k, got, sizeof(got));
		check(strcmp(got, want) == 0, "golden: band\n  got  %s\n  want %s", got, want);
		check(info.pieces == 8 && info.sum_reordered,
		      "golden: %d pieces (want 8: K, C and P peeled), sums reordered %d (want 1)",
		      info.pieces, info.sum_reordered);
		tiles_text(&p, t, &info, got, sizeof(got));
		check(strcmp(got, want_tiles) == 0, "golden: tiles\n  got  %s\n  want %s", got,
		      want_tiles);
		if (print_all)
			loop_print(&p, stdout, LOOP_PRINT_NO_DATA);
	}
	loop_free(&p);
}

/* df_apply refuses with status want and a message holding text, leaving
 * the program as it was. */
static void check_refusal(LayerCx *cx, const DfTarget *t, const DfProblem *pb, const DfMapping *m,
                          Status want, const char *text)
{
	LoopProgram p;
	Diag d;
	int k = lower_layer(cx, &p);
	char *before = program_text(&p, LOOP_PRINT_NO_DATA), *after;
	Status st;

	diag_init(&d);
	st = k < 0 ? ST_INTERNAL : df_apply(&p, k, t, pb, m, &d);
	after = program_text(&p, LOOP_PRINT_NO_DATA);
	check(st == want && d.n == 1 && strstr(d.msg[0].text, text),
	      "refusal '%s': status %s, %d messages, first '%s'", text, status_name(st), d.n,
	      d.n ? d.msg[0].text : "");
	check(before && after && strcmp(before, after) == 0, "refusal '%s': the program changed",
	      text);
	free(before);
	free(after);
	diag_free(&d);
	loop_free(&p);
}

static void check_text_refusal(const DfTarget *t, const char *text, const char *msg)
{
	LoopProgram p;
	DfProblem pb;
	DfMapping m;
	Diag d;
	Status st;

	memset(&pb, 0, sizeof(pb));
	pb.name = "text";
	pb.op = "none";
	for (int i = 0; i < DF_NDIMS; i++)
		pb.dim[i] = 1;
	map_trivial(&m, t, &pb, ARCH_DF_WS);
	diag_init(&d);
	loop_init(&p, &d, "refusal.loop");
	st = loop_parse(&p, "refusal.loop", text, strlen(text));
	check(st == ST_OK, "refusal text does not parse: %s", d.n ? d.msg[0].text : "");
	if (st == ST_OK) {
		st = df_apply(&p, 0, t, &pb, &m, &d);
		check(st == ST_UNSUPPORTED && d.n == 1 && strstr(d.msg[0].text, msg),
		      "refusal '%s': status %s, message '%s'", msg, status_name(st),
		      d.n ? d.msg[d.n - 1].text : "");
	}
	loop_free(&p);
	diag_free(&d);
}

static void check_refusals(LayerCx *cx, const DfTarget *t)
{
	DfMapping m;
	DfProblem pb = cx->pb;
	LoopProgram p;
	Diag d;
	int k;
	Status st;

	map_trivial(&m, t, &cx->pb, ARCH_DF_RS);
	m.factor[1][DF_C] = 0;
	check_refusal(cx, t, &cx->pb, &m, ST_INVALID, "a factor below 1");
	map_trivial(&m, t, &cx->pb, ARCH_DF_RS);
	m.factor[0][DF_K] = 2;
	m.factor[1][DF_K] = 1;
	check_refusal(cx, t, &cx->pb, &m, ST_INVALID,
	              "factors that do not cover the extent of dimension K (2, 4)");
	map_trivial(&m, t, &cx->pb, ARCH_DF_RS);
	m.order[1][3] = m.order[1][4];
	check_refusal(cx, t, &cx->pb, &m, ST_INVALID, "not a permutation");
	map_trivial(&m, t, &cx->pb, ARCH_DF_RS);
	m.spatial[DF_ROWS][DF_K] = 4;
	m.spatial[DF_ROWS][DF_C] = 3;
	m.spatial[DF_ROWS][DF_R] = 3;
	check_refusal(cx, t, &cx->pb, &m, ST_INVALID, "more spatial PEs than the array has");
	pb.dim[DF_K] = 5;
	map_trivial(&m, t, &pb, ARCH_DF_RS);
	check_refusal(cx, t, &pb, &m, ST_UNSUPPORTED,
	              "runs over K with extent 4, but layer 'conv-pad'");
	check_text_refusal(t, "level dram\nbuf X : f32[4] @dram input \"X\"\n"
	                   "buf Y : f32[4] @dram output \"Y\"\n\nkernel copy1 {\n"
	                   "\tfor i in 0..4 {\n\t\tcopy Y[i] = X[i]\n\t}\n}\n",
	                   "kernel 'copy1': 0 mac statements");
	check_text_refusal(t, "level dram\nbuf X : f32[4] @dram input \"X\"\n"
	                   "buf W : f32[4] @dram input \"W\"\n"
	                   "buf Y : f32[4] @dram output \"Y\"\n\nkernel m {\n"
	                   "\tfor i in 0..4 {\n\t\tfor j in 0..3 {\n"
	                   "\t\t\tmac Y[i] += X[i] * W[i] : f32 * f32 -> f32\n\t\t}\n\t}\n}\n",
	                   "loop 'j': indexes no operand");
	check_text_refusal(t, "level dram\nbuf X : f32[4] @dram input \"X\"\n"
	                   "buf W : f32[4] @dram input \"W\"\n"
	                   "buf Y : f32[4] @dram output \"Y\"\n\nkernel m {\n"
	                   "\tfor i in 0..4 {\n\t\tfill Y[i] = 0.0\n\t\tfor j in 0..4 {\n"
	                   "\t\t\tmac Y[i] += X[j] * W[j] : f32 * f32 -> f32\n\t\t}\n\t}\n}\n",
	                   "loop 'i': the loops around the mac are not perfectly nested");
	/* A second mapping of a kernel the first one split into pieces. */
	k = lower_layer(cx, &p);
	map_rs(&m, t, &cx->pb);
	diag_init(&d);
	st = k < 0 ? ST_INTERNAL : df_apply(&p, k, t, &cx->pb, &m, &d);
	if (st == ST_OK)
		st = df_apply(&p, k, t, &cx->pb, &m, &d);
	check(st == ST_UNSUPPORTED && d.n == 1 && strstr(d.msg[0].text, "8 mac statements"),
	      "second mapping: status %s, message '%s'", status_name(st), d.n ? d.msg[0].text : "");
	diag_free(&d);
	loop_free(&p);
}

/* Models: every kernel with a compute nest mapped on t, run, compared with
 * the unmapped program. */

/* Binds every symbolic input dimension of the model to 1 (names in a). */
static int symbolic_bindings(const char *path, Arena *a, ShapeBinding *b, int max)
{
	Diag d;
	Graph g;
	int n = 0;

	diag_init(&d);
	graph_init(&g, &d, path);
	onnx_import(&g, path, NULL);
	for (int i = 0; i < g.ninputs && n < max; i++) {
		const Tensor *t = &g.tensors[g.inputs[i]];
		bool symbolic = false;

		for (int k = 0; k < t->v.rank; k++)
			symbolic |= t->v.dims[k] < 0;
		if (!symbolic)
			continue;
		b[n].name = arena_strdup(a, t->name);
		b[n].rank = t->v.rank;
		b[n].used = 0;
		for (int k = 0; k < t->v.rank; k++)
			b[n].dims[k] = t->v.dims[k] < 0 ? 1 : t->v.dims[k];
		n += b[n].name != NULL;
	}
	graph_free(&g);
	diag_free(&d);
	return n;
}

static void check_model(const char *path, const DfTarget *t, int variant)
{
	ShapeBinding shapes[8];
	OnnxOptions oo = {shapes, 0};
	PipelineOptions po = {false, true, 0};
	LowerOptions lo = {true};
	LoopProgram p;
	Graph g;
	Diag d;
	Run ref, run;
	Value in[8];
	Rng r = rng_seed(0x5eed + (uint64_t)variant);
	int mapped = 0;
	bool reordered = false;
	char what[512];
	Status st;

	diag_init(&d);
	graph_init(&g, &d, path);
	arena_init(&ref.arena);
	arena_init(&run.arena);
	loop_init(&p, &d, path);
	oo.nshapes = symbolic_bindings(path, &ref.arena, shapes, 8);
	st = onnx_import(&g, path, &oo);
	if (st == ST_OK)
		st = pass_pipeline(&g, &po);
	if (st == ST_OK && g.ninputs > 8)
		st = diag_add(&d, ST_UNSUPPORTED, "%s: more than 8 inputs", path);
	for (int i = 0; st == ST_OK && i < g.ninputs; i++) {
		in[i] = g.tensors[g.inputs[i]].v;
		val_alloc(&ref.arena, &in[i]);
		fill_random(&in[i], &r);
	}
	if (st == ST_OK)
		st = pass_lower(&g, &p, &lo);
	if (st == ST_OK)
		st = run_program(&p, &ref, in);
	for (int k = mac_kernel(&p, 0); st == ST_OK && k >= 0; k = mac_kernel(&p, k + 1)) {
		DfProblem pb;
		DfMapping m;
		DfApplyInfo info;

		DfResult res;

		Diag pd;
		bool is_layer;

		diag_init(&pd);
		st = df_kernel_problem(&g, &p, k, &pb, &is_layer, &pd);
		if (st != ST_OK)
			printf("note %s: %s\n", path, pd.n ? pd.msg[0].text : "");
		diag_free(&pd);
		if (st == ST_OK && !is_layer)
			continue;    /* no layer the mapper takes (pooling, ConvTranspose) */
		if (st == ST_OK && variant < 2) {
			Diag sd;
			Status found;

			clock_t t0 = clock();

			diag_init(&sd);
			found = df_map_layer(t, &pb, -1, variant == 0 ? DF_METRIC_ENERGY : DF_METRIC_CYCLES,
			                     DF_SEARCH_PRUNED, &res, NULL, &sd);
			if (print_all)
				printf("search %s on %s: %.2f s\n", pb.name, t->arch->name,
				       (double)(clock() - t0) / CLOCKS_PER_SEC);
			if (found != ST_OK && print_all)
				printf("note %s: %s\n", pb.name, sd.n ? sd.msg[0].text : "");
			diag_free(&sd);
			if (found != ST_OK) {
				unmapped++;
				continue;
			}
			m = res.map;
			searched++;
		} else if (st == ST_OK) {
			map_random(&m, t, &pb, &r);
		}
		if (st == ST_OK)
			st = df_apply_info(&p, k, t, &pb, &m, &d, &info);
		if (st == ST_OK) {
			check(info.staged + info.refused + info.skipped == info.pieces * kept_tiles(t, &m),
			      "%s, kernel '%s': %d tiles staged, %d refused, %d skipped; want %d "
			      "pieces of %d", path, p.kernels[k].name, info.staged, info.refused,
			      info.skipped, info.pieces, kept_tiles(t, &m));
			if (print_all && info.refusal)
				printf("refused %s, kernel '%s': %s\n", path, p.kernels[k].name, info.refusal);
			staged += info.staged;
			refused += info.refused;
			skipped += info.skipped;
			reordered |= info.sum_reordered;
			mapped++;
			applied++;
			in_order += !info.sum_reordered;
			pieces += info.pieces;
		}
	}
	if (st == ST_OK && print_all)
		loop_print(&p, stdout, LOOP_PRINT_NO_DATA);
	if (st == ST_OK)
		st = run_program(&p, &run, in);
	snprintf(what, sizeof(what), "%s on %s, %s mappings (%d kernels)", path, t->arch->name,
	         variant == 0 ? "searched (energy)" : variant == 1 ? "searched (cycles)" : "random",
	         mapped);
	check(st == ST_OK, "%s: %s", what, d.n ? d.msg[d.n - 1].text : status_name(st));
	if (st == ST_OK)
		compare_runs(what, &run, &ref, reordered);
	if (st == ST_OK)
		printf("ok   %s\n", what);
	loop_free(&p);
	arena_free(&run.arena);
	arena_free(&ref.arena);
	graph_free(&g);
	diag_free(&d);
}

int main(int argc, char **argv)
{
	static const char *const presets[] = {"eyeriss", "tpu-v1"};
	int cases = DEFAULT_CASES, nmodels = 0;
	const char *models[64];
	Arena ar;
	Arch arch[2];
	DfTarget t[2];
	Diag d;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc)
			cases = atoi(argv[++i]);
		else if (strcmp(argv[i], "--print") == 0)
			print_all = true;
		else if (nmodels < 64)
			models[nmodels++] = argv[i];
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	arena_init(&ar);
	diag_init(&d);
	for (int a = 0; a < 2; a++) {
		Status st = arch_preset(&arch[a], &ar, &d, presets[a]);

		if (st == ST_OK)
			st = df_target_init(&t[a], &arch[a], &d);
		if (st != ST_OK) {
			diag_print(&d, stdout);
			check(false, "the presets %s and %s do not load", presets[0], presets[1]);
			return test_summary("df-apply");
		}
	}
	for (size_t i = 0; i < ARRAY_LEN(layers); i++) {
		LayerCx cx;

		layer_open(&cx, &layers[i], 1000 + i);
		if (cx.ok) {
			check_dims(&cx);
			if (i == 0) {
				check_golden(&cx, &t[0]);
				check_refusals(&cx, &t[0]);
			}
			for (int a = 0; a < 2; a++)
				layer_cases(&cx, &t[a], cases, 77 * i + (uint64_t)a);
		}
		layer_close(&cx);
	}
	for (int i = 0; i < nmodels; i++) {
		for (int v = 0; v < 3; v++)
			check_model(models[i], &t[0], v);
		check_model(models[i], &t[1], 0);
	}
	diag_free(&d);
	arena_free(&ar);
	printf("%d mappings applied (%d searched; %d layer searches found none), %d kept every "
	       "summation order, %d pieces\n", applied, searched, unmapped, in_order, pieces);
	printf("%d tiles staged (%d checked against df_evaluate's), %d refused, %d skipped\n",
	       staged, tiles_checked, refused, skipped);
	check(staged > 0 && tiles_checked > 0, "no tile staged or checked");
	return test_summary("df-apply");
}
