/*
 * Test of passes/calib.c, the post-training calibration support:
 *   - min/max per tensor over a small graph built here (x -> Neg -> Add a
 *     constant -> Relu) against the ranges computed from the samples, and
 *     over models/mlp.onnx (optimized, so Relus are fused) against the
 *     outputs of interp_run and the fused Relu's bound lo >= 0, and the
 *     Relu's input, observed before it, against its output;
 *   - the histogram percentile against an exact sort of |x| over heavy-
 *     tailed samples whose scale grows (forcing the histogram to re-bin):
 *     never below the exact nearest-rank value, at most max|x| / 1024
 *     above it (the bound calib.h states); known elements picked from
 *     1..8, ranks where p * N / 100 rounds an ulp off an integer, an
 *     all-zero tensor, bad percentiles and no samples;
 *   - symmetric and per-channel weight scales, SQNR on known vectors,
 *     argmax;
 *   - loading a folder of .npy and .pb files for one- and two-input models,
 *     and the error text for a wrong shape, a wrong element type, a file
 *     naming no input, unequal file counts and an empty folder;
 *   - seeded synthetic samples: the same seed gives the same data, values
 *     in [0, 1);
 *   - every allocation failure in calib_collect is ST_NOMEM, never a crash
 *     or a leak.
 *
 * Run from the repository root (it reads models/mlp.onnx).
 * Ends with "calib: P passed, F failed"; exit status 1 on a failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calib.h"
#include "samples.h"
#include "interp.h"
#include "npy.h"
#include "onnx.h"
#include "onnx.pb-c.h"
#include "passes.h"
#include "test_rng.h"
#include "test_util.h"

static const char *first_msg(const Diag *d)
{
	return d->n ? d->msg[0].text : "(no message)";
}

/* Graphs built here. */

static int add_tensor(Graph *g, const char *name, int rank, const int64_t *dims, unsigned flags)
{
	int t = graph_add_tensor(g, name);

	if (t < 0)
		return -1;
	val_set_type(&g->tensors[t].v, DT_F32, rank, dims);
	g->tensors[t].flags = flags;
	if (flags & TENSOR_INPUT)
		g->inputs[g->ninputs++] = t;
	if (flags & TENSOR_OUTPUT)
		g->outputs[g->noutputs++] = t;
	return t;
}

static int add_node(Graph *g, const char *name, OpKind op, int a, int b, int y)
{
	int ni = graph_add_node(g, name, op, b >= 0 ? 2 : 1, 1);
	Node *n;

	if (ni < 0)
		return -1;
	n = &g->nodes[ni];
	n->in[0] = a;
	if (b >= 0)
		n->in[1] = b;
	n->out[0] = y;
	g->tensors[y].producer = ni;
	return ni;
}

static bool graph_ports(Graph *g)
{
	g->opset = 13;
	g->inputs = arena_alloc(&g->arena, 4 * sizeof(int));
	g->outputs = arena_alloc(&g->arena, 4 * sizeof(int));
	return g->inputs && g->outputs;
}

/* Tensors of the chain graph, in creation order. */
enum { T_X, T_NEG, T_C, T_SUM, T_Y };

/* y = Relu(-x + c), x f32[1, n] an input, c a constant of 0.25s. */
static Status build_chain(Graph *g, const char *input, int64_t n)
{
	int64_t dims[2] = {1, n};
	int x, neg, c, sum, y;

	if (!graph_ports(g))
		return graph_oom(g);
	x = add_tensor(g, input, 2, dims, TENSOR_INPUT);
	neg = add_tensor(g, "neg", 2, dims, 0);
	c = add_tensor(g, "c", 2, dims, TENSOR_INIT);
	sum = add_tensor(g, "sum", 2, dims, 0);
	y = add_tensor(g, "y", 2, dims, TENSOR_OUTPUT);
	if (y < 0 || !val_alloc(&g->arena, &g->tensors[c].v))
		return graph_oom(g);
	for (int64_t i = 0; i < n; i++)
		((float *)g->tensors[c].v.data)[i] = 0.25f;
	if (add_node(g, "neg", OP_Neg, x, -1, neg) < 0 || add_node(g, "add", OP_Add, neg, c, sum) < 0 ||
	    add_node(g, "relu", OP_Relu, sum, -1, y) < 0)
		return graph_oom(g);
	nnac_assert(x == T_X && neg == T_NEG && c == T_C && sum == T_SUM && y == T_Y);
	return pass_infer_shapes(g, false);
}

/* y = a + b, both f32[2, 3]. */
static Status build_pair(Graph *g, const char *a_name, const char *b_name)
{
	int64_t dims[2] = {2, 3};
	int a, b, y;

	if (!graph_ports(g))
		return graph_oom(g);
	a = add_tensor(g, a_name, 2, dims, TENSOR_INPUT);
	b = add_tensor(g, b_name, 2, dims, TENSOR_INPUT);
	y = add_tensor(g, "y", 2, dims, TENSOR_OUTPUT);
	if (y < 0 || add_node(g, "add", OP_Add, a, b, y) < 0)
		return graph_oom(g);
	return pass_infer_shapes(g, false);
}

static float *alloc_sample(Arena *a, Value *v, const Graph *g, int input)
{
	*v = g->tensors[g->inputs[input]].v;
	v->data = NULL;
	return val_alloc(a, v) ? v->data : NULL;
}

/* Min/max over the chain graph. */

static void expect_range(const CalibRanges *r, int t, double lo, double hi, int64_t count, const char *what)
{
	check(r->lo[t] == (float)lo && r->hi[t] == (float)hi && r->count[t] == count,
	      "chain: %s: range [%g, %g] count %lld, want [%g, %g] count %lld", what, r->lo[t], r->hi[t],
	      (long long)r->count[t], lo, hi, (long long)count);
	check(r->absmax[t] == fmaxf(fabsf((float)lo), fabsf((float)hi)),
	      "chain: %s: min-max absmax %g", what, r->absmax[t]);
}

static void test_minmax_chain(void)
{
	enum { N = 16, S = 3 };
	Diag d;
	Graph g;
	Arena a;
	Value s[S];
	CalibRanges r;
	Rng rng = rng_seed(11);
	double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
	Status st;

	diag_init(&d);
	graph_init(&g, &d, "chain");
	arena_init(&a);
	st = build_chain(&g, "x", N);
	check(st == ST_OK, "chain: building: %s", first_msg(&d));
	for (int i = 0; st == ST_OK && i < S; i++) {
		float *x = alloc_sample(&a, &s[i], &g, 0);

		for (int k = 0; k < N; k++) {
			x[k] = (float)((rng_unit(&rng) * 2 - 1) * (i + 1));
			xlo = fmin(xlo, x[k]);
			xhi = fmax(xhi, x[k]);
			ylo = fmin(ylo, fmax(0, -(double)x[k] + 0.25));
			yhi = fmax(yhi, fmax(0, -(double)x[k] + 0.25));
		}
	}
	st = st == ST_OK ? calib_collect(&g, s, S, CALIB_MINMAX, 0, &r) : st;
	check(st == ST_OK, "chain: calib_collect: %s", first_msg(&d));
	if (st == ST_OK) {
		check(r.n == g.ntensors, "chain: %d ranges for %d tensors", r.n, g.ntensors);
		expect_range(&r, T_X, xlo, xhi, N * S, "input x");
		expect_range(&r, T_NEG, -xhi, -xlo, N * S, "neg");
		expect_range(&r, T_SUM, (float)(-xhi + 0.25), (float)(-xlo + 0.25), N * S, "sum");
		expect_range(&r, T_Y, ylo, yhi, N * S, "y");
		check(r.count[T_C] == 0 && r.lo[T_C] == 0 && r.hi[T_C] == 0 && r.absmax[T_C] == 0,
		      "chain: the constant was observed");
	}
	calib_free(&r);
	arena_free(&a);
	graph_free(&g);
	diag_free(&d);
}

/* Min/max over models/mlp.onnx, optimized: the output's range is the
 * outputs' and a fused Relu's output is never negative. */

static void mlp_outputs(Graph *g, const Value *s, int n, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (int i = 0; i < n; i++) {
		Arena a;
		Value out[4];

		arena_init(&a);
		if (interp_run(g, &s[i], out, &a) == ST_OK)
			for (int64_t k = 0; k < val_numel(&out[0]); k++) {
				*lo = fmin(*lo, ((float *)out[0].data)[k]);
				*hi = fmax(*hi, ((float *)out[0].data)[k]);
			}
		arena_free(&a);
	}
}

static void check_mlp_ranges(Graph *g, const CalibRanges *r, int n, double lo, double hi)
{
	int fused = 0, y = g->outputs[0];

	check(r->lo[y] == (float)lo && r->hi[y] == (float)hi, "mlp: output range [%g, %g], want [%g, %g]",
	      r->lo[y], r->hi[y], lo, hi);
	check(r->count[g->inputs[0]] == 64 * n && r->lo[g->inputs[0]] >= 0 && r->hi[g->inputs[0]] < 1,
	      "mlp: input range [%g, %g] count %lld", r->lo[g->inputs[0]], r->hi[g->inputs[0]],
	      (long long)r->count[g->inputs[0]]);
	for (int i = 0; i < g->nnodes; i++) {
		const Node *nd = &g->nodes[i];

		if (nd->flags & NODE_DEAD)
			continue;
		check(r->count[nd->out[0]] > 0, "mlp: node '%s' output not observed", nd->name);
		if (nd->fused_act == OP_Relu) {
			int pre = g->nodes[nd->fused_node].in[0], post = nd->out[0];
			fused++;
			check(r->lo[post] >= 0 && r->hi[post] > 0,
			      "mlp: node '%s' with a fused Relu has range [%g, %g]", nd->name,
			      r->lo[post], r->hi[post]);
			check(r->count[pre] == r->count[post] && r->lo[pre] <= r->lo[post] &&
			      r->hi[post] == fmaxf(r->hi[pre], 0),
			      "mlp: node '%s': the Relu's input, observed before it, has range [%g, %g] "
			      "over %lld values; its output [%g, %g] over %lld", nd->name, r->lo[pre], r->hi[pre],
			      (long long)r->count[pre], r->lo[post], r->hi[post], (long long)r->count[post]);
		}
	}
	check(fused > 0, "mlp: no fused Relu to check");
}

static void test_minmax_mlp(void)
{
	enum { S = 4 };
	PipelineOptions po = {false, true, 0};
	Diag d;
	Graph g;
	Arena a;
	Value *s = NULL;
	CalibRanges r = {0};
	double lo, hi;
	Status st;

	diag_init(&d);
	graph_init(&g, &d, "models/mlp.onnx");
	arena_init(&a);
	st = onnx_import(&g, "models/mlp.onnx", NULL);
	if (st == ST_OK)
		st = pass_pipeline(&g, &po);
	if (st == ST_OK)
		st = calib_synthetic(&g, 7, S, &a, &s);
	if (st == ST_OK)
		st = calib_collect(&g, s, S, CALIB_MINMAX, 0, &r);
	check(st == ST_OK && g.ninputs == 1 && g.noutputs == 1, "mlp: %s", first_msg(&d));
	if (st == ST_OK) {
		mlp_outputs(&g, s, S, &lo, &hi);
		check_mlp_ranges(&g, &r, S, lo, hi);
	}
	calib_free(&r);
	arena_free(&a);
	graph_free(&g);
	diag_free(&d);
}

/* Percentile against an exact sort. */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Heavy-tailed (|x| ~ u^-1/2 - 1, Pareto-like) with a growing scale, so the
 * histogram range must double several times. */
static void fill_heavy(Value *s, int ns, int64_t n, double *absx, Rng *rng)
{
	static const double scale[] = {1, 5, 0.5, 40, 3, 300};

	for (int i = 0; i < ns; i++)
		for (int64_t k = 0; k < n; k++) {
			double u = 1 - rng_unit(rng), m = (1 / sqrt(u) - 1) * scale[i % 6];
			float x = (float)(rng_next(rng) & 1 ? m : -m);

			((float *)s[i].data)[k] = x;
			absx[i * n + k] = fabs(x);
		}
}

/* A percentile as num / den percent. */
typedef struct Pct {
	int64_t num, den;
} Pct;

static void check_percentile(const CalibRanges *r, const double *sorted, int64_t total, Pct pc)
{
	/* nearest rank, in integers: ceil(num * total / (100 den)) */
	int64_t k = (pc.num * total + 100 * pc.den - 1) / (100 * pc.den);
	double p = (double)pc.num / (double)pc.den;
	double exact = sorted[(k < 1 ? 1 : k) - 1], maxabs = sorted[total - 1];
	double got = r->absmax[T_X];

	check((float)got >= (float)exact && got - exact <= maxabs / 1024,
	      "percentile %g of %lld: got %.9g, exact %.9g (rank %lld), bound %.9g", p, (long long)total,
	      got, exact, (long long)k, maxabs / 1024);
	check(r->absmax[T_NEG] == r->absmax[T_X], "percentile %g: -x gives %g, x gives %g", p,
	      r->absmax[T_NEG], r->absmax[T_X]);
	check(r->lo[T_X] == -r->hi[T_NEG] && r->hi[T_X] == -r->lo[T_NEG],
	      "percentile %g: min/max of x and -x disagree", p);
	if (p == 100)
		check(got == (float)maxabs, "percentile 100: %g, max|x| %g", got, maxabs);
	if (p <= 99)
		check(got < maxabs / 4, "percentile %g: %g does not cut the tail (max %g)", p, got, maxabs);
}

/* ns samples of n elements (ns <= 6): 41000 elements in all make every
 * rank an integer, 29994 and 109999 fractional ones. */
static void test_percentile(int64_t n, int ns, uint64_t seed)
{
	enum { S = 6 };
	static const Pct ps[] = {{50, 1}, {90, 1}, {99, 1}, {999, 10}, {9999, 100}, {100, 1}};
	Diag d;
	Graph g;
	Arena a;
	Value s[S];
	double *absx = malloc((size_t)n * (size_t)ns * sizeof(double));
	Rng rng = rng_seed(seed);
	Status st;

	nnac_assert(ns <= S);
	diag_init(&d);
	graph_init(&g, &d, "percentile");
	arena_init(&a);
	st = build_chain(&g, "x", n);
	for (int i = 0; st == ST_OK && i < ns; i++)
		if (!alloc_sample(&a, &s[i], &g, 0))
			st = ST_NOMEM;
	check(st == ST_OK && absx, "percentile: setting up: %s", first_msg(&d));
	if (st == ST_OK && absx) {
		fill_heavy(s, ns, n, absx, &rng);
		qsort(absx, (size_t)n * (size_t)ns, sizeof(double), cmp_double);
		for (size_t i = 0; i < ARRAY_LEN(ps); i++) {
			double p = (double)ps[i].num / (double)ps[i].den;
			CalibRanges r;

			st = calib_collect(&g, s, ns, CALIB_PERCENTILE, p, &r);
			check(st == ST_OK, "percentile %g: %s", p, first_msg(&d));
			if (st == ST_OK)
				check_percentile(&r, absx, n * ns, ps[i]);
			calib_free(&r);
		}
	}
	free(absx);
	arena_free(&a);
	graph_free(&g);
	diag_free(&d);
}

/* |x| = 1..8 in one sample: each percentile picks a known element, within
 * one bin width (8 / CALIB_BINS) above it. */
static void test_percentile_small(void)
{
	static const struct { double p; float want; } cases[] = {
		{12.5, 1}, {12.6, 2}, {25, 2}, {30, 3}, {50, 4}, {87.5, 7}, {88, 8}, {100, 8}, {1e-6, 1},
	};
	Diag d;
	Graph g;
	Arena a;
	Value s;
	Status st;

	diag_init(&d);
	graph_init(&g, &d, "small");
	arena_init(&a);
	st = build_chain(&g, "x", 8);
	if (st == ST_OK && !alloc_sample(&a, &s, &g, 0))
		st = ST_NOMEM;
	for (int i = 0; st == ST_OK && i < 8; i++)
		((float *)s.data)[i] = (float)(i % 2 ? i + 1 : -(i + 1));
	for (size_t i = 0; st == ST_OK && i < ARRAY_LEN(cases); i++) {
		CalibRanges r;

		st = calib_collect(&g, &s, 1, CALIB_PERCENTILE, cases[i].p, &r);
		check(st == ST_OK && r.absmax[T_X] >= cases[i].want && r.absmax[T_X] <= cases[i].want + 8.0f / CALIB_BINS,
		      "small: percentile %g is %g, want %g", cases[i].p, r.absmax[T_X], cases[i].want);
		calib_free(&r);
	}
	arena_free(&a);
	graph_free(&g);
	diag_free(&d);
}

/* n elements, the first low of them 1 and the rest 1000: percentile p
 * must give want (1 or 1000, within one bin).  The ranks are where the
 * product p * n / 100 in double sits an ulp off an integer, or a 1e-4
 * fraction off one. */
static void test_rank_edge(int64_t n, int64_t low, double p, float want)
{
	Diag d;
	Graph g;
	Arena a;
	Value s;
	CalibRanges r = {0};
	Status st;

	diag_init(&d);
	graph_init(&g, &d, "rank");
	arena_init(&a);
	st = build_chain(&g, "x", n);
	if (st == ST_OK && !alloc_sample(&a, &s, &g, 0))
		st = ST_NOMEM;
	for (int64_t i = 0; st == ST_OK && i < n; i++)
		((float *)s.data)[i] = i < low ? 1.0f : 1000.0f;
	if (st == ST_OK)
		st = calib_collect(&g, &s, 1, CALIB_PERCENTILE, p, &r);
	check(st == ST_OK && r.absmax[T_X] >= want && r.absmax[T_X] <= want + 1000.0f / CALIB_BINS,
	      "rank edge: percentile %g of %lld is %g, want %g", p, (long long)n, r.absmax[T_X], want);
	calib_free(&r);
	arena_free(&a);
	graph_free(&g);
	diag_free(&d);
}

/* A histogram that only ever saw zeros, then small values: exact. */
static void test_percentile_zeros(void)
{
	Diag d;
	Graph g;
	Arena a;
	Value s[2];
	CalibRanges r;
	Status st;

	diag_init(&d);
	graph_init(&g, &d, "zeros");
	arena_init(&a);
	st = build_chain(&g, "x", 4);
	for (int i = 0; st == ST_OK && i < 2; i++)
		if (!alloc_sample(&a, &s[i], &g, 0))
			st = ST_NOMEM;
	if (st == ST_OK) {
		float *x1 = s[1].data;
		x1[0] = 0.5f;
		x1[1] = -2.0f;
		st = calib_collect(&g, s, 2, CALIB_PERCENTILE, 50, &r);
		/* |x| = 0 x 6, 0.5, 2: the 4th smallest is 0 */
		check(st == ST_OK && r.absmax[T_X] <= 2.0f / CALIB_BINS && r.count[T_X] == 8,
		      "zeros: percentile 50 is %g", r.absmax[T_X]);
		calib_free(&r);
		st = calib_collect(&g, s, 2, CALIB_PERCENTILE, 100, &r);
		check(st == ST_OK && r.absmax[T_X] == 2.0f, "zeros: percentile 100 is %g", r.absmax[T_X]);
		calib_free(&r);
		st = calib_collect(&g, s, 1, CALIB_PERCENTILE, 99, &r);
		check(st == ST_OK && r.absmax[T_X] == 0 && r.count[T_X] == 4 && r.lo[T_X] == 0 && r.hi[T_X] == 0,
		      "zeros: all-zero input gives %g", r.absmax[T_X]);
		calib_free(&r);
		st = calib_collect(&g, s, 1, CALIB_PERCENTILE, 0, &r);
		check(st == ST_INVALID && d.n && strstr(d.msg[d.n - 1].text, "percentile 0 is not in (0, 100]"),
		      "zeros: percentile 0 accepted: %s", d.n ? d.msg[d.n - 1].text : "");
		calib_free(&r);
		st = calib_collect(&g, s, 0, CALIB_MINMAX, 0, &r);
		check(st == ST_INVALID, "zeros: no samples accepted");
		calib_free(&r);
	}
	arena_free(&a);
	graph_free(&g);
	diag_free(&d);
}

/* Scales, SQNR, argmax. */

static void test_scales(void)
{
	/* [K=3][C=2][R=1][S=2]: channel k's largest |w| planted, channel 1 zero */
	float w[12] = {0.1f, -0.7f, 0.2f, 0.3f, 0, 0, 0, 0, 1.5f, -0.2f, -2.5f, 0.4f};
	int64_t dims[4] = {3, 2, 1, 2}, mdims[2] = {3, 4};
	float sc[4];

	calib_weight_scales(w, 4, dims, 0, sc);
	check(sc[0] == 0.7f / 127 && sc[1] == 1.0f && sc[2] == 2.5f / 127,
	      "weight scales axis 0: %g %g %g", sc[0], sc[1], sc[2]);
	/* the same data as a MatMul [C=3][K=4], per column */
	calib_weight_scales(w, 2, mdims, 1, sc);
	check(sc[0] == 1.5f / 127 && sc[1] == 0.7f / 127 && sc[2] == 2.5f / 127 && sc[3] == 0.4f / 127,
	      "weight scales axis 1: %g %g %g %g", sc[0], sc[1], sc[2], sc[3]);
	check(calib_scale_sym(-2, 1) == 2.0f / 127 && calib_scale_sym(0.5f, 3) == 3.0f / 127,
	      "calib_scale_sym: %g %g", calib_scale_sym(-2, 1), calib_scale_sym(0.5f, 3));
	check(calib_scale_sym(0, 0) == 1.0f / 127, "calib_scale_sym of a zero range: %g", calib_scale_sym(0, 0));
}

static void test_sqnr(void)
{
	float ones[8], near[8], zero[2] = {0, 0}, v34[2] = {3, 4};
	float row[5] = {1, 5, -1, 5, 2}, nan_first[3] = {NAN, -3, -2};
	double db;

	for (int i = 0; i < 8; i++) {
		ones[i] = 1;
		near[i] = 1.1f;
	}
	db = calib_sqnr_db(ones, near, 8);
	/* 1.1f - 1 = 0.100000024: 20 dB less 2.1e-6 */
	check(fabs(db - 20) < 1e-5, "sqnr(ones, ones + 0.1) = %.9g dB", db);
	check(isinf(calib_sqnr_db(ones, ones, 8)) && calib_sqnr_db(ones, ones, 8) > 0, "sqnr of equal vectors");
	check(calib_sqnr_db(v34, zero, 2) == 0, "sqnr against zeros: %g", calib_sqnr_db(v34, zero, 2));
	db = calib_sqnr_db(v34, (float[]){3, 4.5f}, 2);
	check(fabs(db - 10 * log10(25 / 0.25)) < 1e-12, "sqnr([3,4], [3,4.5]) = %g", db);
	check(calib_argmax(row, 5) == 1, "argmax with a tie: %d", calib_argmax(row, 5));
	check(calib_argmax(row + 2, 3) == 1, "argmax of a row: %d", calib_argmax(row + 2, 3));
	check(calib_argmax(nan_first, 3) == 2, "argmax after NaN: %d", calib_argmax(nan_first, 3));
	check(calib_argmax(row, 0) == -1, "argmax of nothing");
}

/* Sample folders. */

static char tmpdir[64];

static void write_npy(const char *name, DType dt, int rank, const int64_t *dims, float base)
{
	char path[256];
	Value v;
	Arena a;
	Diag d;

	arena_init(&a);
	diag_init(&d);
	val_set_type(&v, dt, rank, dims);
	v.data = NULL;
	if (val_alloc(&a, &v))
		for (int64_t i = 0; i < val_numel(&v); i++)
			val_set_f64(&v, i, base + (double)i);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	check(v.data && npy_write(path, &v, &d) == ST_OK, "writing %s: %s", path, first_msg(&d));
	arena_free(&a);
	diag_free(&d);
}

static void write_pb(const char *name, int rank, const int64_t *dims, float base)
{
	Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
	float data[64];
	int64_t dd[8];
	uint8_t buf[1024];
	size_t n = 1, len;
	char path[256];
	FILE *f;

	for (int i = 0; i < rank; i++) {
		dd[i] = dims[i];
		n *= (size_t)dims[i];
	}
	for (size_t i = 0; i < n; i++)
		data[i] = base + (float)i;
	tp.n_dims = (size_t)rank;
	tp.dims = dd;
	tp.has_data_type = 1;
	tp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	tp.n_float_data = n;
	tp.float_data = data;
	len = onnx__tensor_proto__pack(&tp, buf);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	check(f && fwrite(buf, 1, len, f) == len, "writing %s", path);
	if (f)
		fclose(f);
}

static void clear_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -f %s/*", tmpdir);
	check(system(cmd) == 0, "%s", cmd);
}

static bool sample_is(const Value *v, float base)
{
	for (int64_t i = 0; i < val_numel(v); i++)
		if (((float *)v->data)[i] != base + (float)i)
			return false;
	return true;
}

static void test_load_one_input(void)
{
	int64_t dims[2] = {1, 6};
	Diag d;
	Graph g;
	Arena a;
	Value *s;
	int n;
	CalibRanges r = {0};
	char path[256];
	FILE *f;
	Status st;

	diag_init(&d);
	graph_init(&g, &d, "chain");
	arena_init(&a);
	check(build_chain(&g, "x", 6) == ST_OK, "load: building");
	clear_dir();
	write_npy("b.npy", DT_F32, 2, dims, 10);
	write_pb("a.pb", 2, dims, -5);
	write_npy("c.npy", DT_F32, 2, dims, 100);
	snprintf(path, sizeof(path), "%s/readme.txt", tmpdir);
	f = fopen(path, "w");
	check(f != NULL, "load: writing %s", path);
	if (f)
		fclose(f);
	st = samples_load_dir(&g, tmpdir, &a, &s, &n);
	check(st == ST_OK && n == 3, "load: %d samples: %s", n, first_msg(&d));
	if (st == ST_OK && n == 3) {
		check(sample_is(&s[0], -5) && sample_is(&s[1], 10) && sample_is(&s[2], 100),
		      "load: samples not in name order or not the files' data");
		st = calib_collect(&g, s, n, CALIB_MINMAX, 0, &r);
		check(st == ST_OK && r.lo[T_X] == -5 && r.hi[T_X] == 105, "load: x range [%g, %g]",
		      r.lo[T_X], r.hi[T_X]);
	}
	calib_free(&r);
	arena_free(&a);
	graph_free(&g);
	diag_free(&d);
}

static void test_load_two_inputs(void)
{
	int64_t dims[2] = {2, 3};
	Diag d;
	Graph g;
	Arena a;
	Value *s;
	int n;
	Status st;

	diag_init(&d);
	graph_init(&g, &d, "pair");
	arena_init(&a);
	check(build_pair(&g, "img", "img_mask") == ST_OK, "pair: building");
	clear_dir();
	write_npy("img_0.npy", DT_F32, 2, dims, 0);
	write_npy("img_1.npy", DT_F32, 2, dims, 1);
	write_npy("img_mask_0.npy", DT_F32, 2, dims, 50);
	write_pb("img_mask_1.pb", 2, dims, 51);
	st = samples_load_dir(&g, tmpdir, &a, &s, &n);
	check(st == ST_OK && n == 2, "pair: %d samples: %s", n, first_msg(&d));
	if (st == ST_OK && n == 2)
		check(sample_is(&s[0], 0) && sample_is(&s[1], 50) && sample_is(&s[2], 1) && sample_is(&s[3], 51),
		      "pair: files grouped wrongly");
	arena_free(&a);
	graph_free(&g);
	diag_free(&d);
}

/* Loads tmpdir into a graph from build (one input 'data' [1,3,28,28], or
 * the pair) and expects an error whose text is dir-relative want. */
static void expect_load_error(bool pair, const char *want)
{
	int64_t dims[4] = {1, 3, 28, 28};
	char text[512];
	Diag d;
	Graph g;
	Arena a;
	Value dummy, *s = &dummy;
	int n = -1;
	Status st;

	diag_init(&d);
	graph_init(&g, &d, "m.onnx");
	arena_init(&a);
	if (pair)
		st = build_pair(&g, "img", "img_mask");
	else {
		graph_ports(&g);
		add_tensor(&g, "data", 4, dims, TENSOR_INPUT);
		add_tensor(&g, "y", 4, dims, TENSOR_OUTPUT);
		add_node(&g, "relu", OP_Relu, 0, -1, 1);
		st = pass_infer_shapes(&g, false);
	}
	if (st == ST_OK)
		st = samples_load_dir(&g, tmpdir, &a, &s, &n);
	snprintf(text, sizeof(text), want, tmpdir);
	check(st == ST_INVALID && d.n == 1 && strcmp(d.msg[0].text, text) == 0,
	      "load error: got \"%s\", want \"%s\"", first_msg(&d), text);
	check(s == NULL && n == 0, "load error: samples returned");
	arena_free(&a);
	graph_free(&g);
	diag_free(&d);
}

static void test_load_errors(void)
{
	int64_t bad[4] = {1, 3, 32, 32}, good[4] = {1, 3, 28, 28}, pd[2] = {2, 3};

	clear_dir();
	expect_load_error(false, "%s: no .npy or .pb files to calibrate with");
	write_npy("x1.npy", DT_F32, 4, good, 0);
	write_npy("x3.npy", DT_F32, 4, bad, 0);
	expect_load_error(false, "%s/x3.npy: shape [1,3,32,32] does not match input 'data' [1,3,28,28]");
	clear_dir();
	write_npy("x1.npy", DT_F64, 4, good, 0);
	expect_load_error(false, "%s/x1.npy: element type f64 does not match input 'data' f32");
	clear_dir();
	write_pb("x2.pb", 2, pd, 0);
	expect_load_error(false, "%s/x2.pb: shape [2,3] does not match input 'data' [1,3,28,28]");
	clear_dir();
	write_npy("img_0.npy", DT_F32, 2, pd, 0);
	write_npy("mask_0.npy", DT_F32, 2, pd, 0);
	expect_load_error(true, "%s/mask_0.npy: the name does not start with an input's name and '_' "
	                        "(the model's inputs: 'img', 'img_mask')");
	clear_dir();
	write_npy("img_0.npy", DT_F32, 2, pd, 0);
	write_npy("img_1.npy", DT_F32, 2, pd, 0);
	write_npy("img_mask_0.npy", DT_F32, 2, pd, 0);
	expect_load_error(true, "%s: input 'img' has 2 sample files but input 'img_mask' has 1");
}

/* Synthetic samples. */

static void test_synthetic(void)
{
	Diag d;
	Graph g;
	Arena a;
	Value *s1 = NULL, *s2 = NULL, *s3 = NULL;
	Status st;

	diag_init(&d);
	graph_init(&g, &d, "chain");
	arena_init(&a);
	st = build_chain(&g, "x", 4096);
	if (st == ST_OK)
		st = calib_synthetic(&g, 42, 2, &a, &s1);
	if (st == ST_OK)
		st = calib_synthetic(&g, 42, 2, &a, &s2);
	if (st == ST_OK)
		st = calib_synthetic(&g, 43, 2, &a, &s3);
	check(st == ST_OK, "synthetic: %s", first_msg(&d));
	if (st == ST_OK) {
		const float *x = s1[0].data;
		double sum = 0, lo = 1, hi = 0;

		check(memcmp(s1[0].data, s2[0].data, 4096 * 4) == 0 && memcmp(s1[1].data, s2[1].data, 4096 * 4) == 0,
		      "synthetic: the same seed gave different data");
		check(memcmp(s1[0].data, s3[0].data, 4096 * 4) != 0, "synthetic: seeds 42 and 43 gave the same data");
		check(memcmp(s1[0].data, s1[1].data, 4096 * 4) != 0, "synthetic: two samples are equal");
		for (int i = 0; i < 4096; i++) {
			sum += x[i];
			lo = fmin(lo, x[i]);
			hi = fmax(hi, x[i]);
		}
		check(lo >= 0 && hi < 1 && fabs(sum / 4096 - 0.5) < 0.05 && lo < 0.01 && hi > 0.99,
		      "synthetic: not uniform in [0, 1): min %g max %g mean %g", lo, hi, sum / 4096);
	}
	arena_free(&a);
	graph_free(&g);
	diag_free(&d);
}

/* Allocation failures. */

static void test_alloc_failures(void)
{
	Diag d;
	Graph g;
	Arena a;
	Value s[2];
	int tries = 0, reported = 0;
	Status st;

	diag_init(&d);
	graph_init(&g, &d, "chain");
	arena_init(&a);
	st = build_chain(&g, "x", 64);
	for (int i = 0; st == ST_OK && i < 2; i++)
		if (!alloc_sample(&a, &s[i], &g, 0))
			st = ST_NOMEM;
	for (long k = 0; st == ST_OK && k < 200; k++) {
		CalibRanges r;
		Status cs;
		int before = d.n;

		test_alloc_fail_from(k + 1);
		cs = calib_collect(&g, s, 2, CALIB_PERCENTILE, 99, &r);
		check(cs == ST_OK || (r.n == 0 && !r.lo && !r.hi && !r.absmax && !r.count),
		      "allocation failure %ld left ranges behind", k);
		calib_free(&r);
		test_alloc_restore();
		tries++;
		if (cs == ST_OK)
			break;
		if (cs == ST_NOMEM && d.n > before && strstr(d.msg[before].text, "out of memory"))
			reported++;
		else
			check(false, "allocation failure %ld reported as %s", k, status_name(cs));
	}
	check(st == ST_OK && tries > 3 && reported == tries - 1,
	      "allocation failures: %d tries, %d reported", tries, reported);
	arena_free(&a);
	graph_free(&g);
	diag_free(&d);
}

int main(void)
{
	char rm[96];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nnac-calib-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		check(false, "cannot make a temporary folder");
		return test_summary("calib");
	}
	test_minmax_chain();
	test_minmax_mlp();
	test_percentile(8200, 5, 2024);
	test_percentile(4999, 6, 77);
	test_percentile(109999, 1, 5);
	test_percentile_small();
	test_rank_edge(41000, 40959, 99.9, 1);         /* rank 40959 exactly */
	test_rank_edge(109999, 109988, 99.99, 1000);   /* rank ceil(109988.0001) */
	test_percentile_zeros();
	test_scales();
	test_sqnr();
	test_load_one_input();
	test_load_two_inputs();
	test_load_errors();
	test_synthetic();
	test_alloc_failures();
	snprintf(rm, sizeof(rm), "rm -rf %s", tmpdir);
	if (system(rm) != 0)
		printf("could not remove %s\n", tmpdir);
	return test_summary("calib");
}
