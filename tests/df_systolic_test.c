/*
 * Test of the systolic-array cycle model (passes/df_systolic.c).
 *
 * Three kinds of checks:
 *   - goldens: AlexNet CONV1 on a 32x32 array, weight stationary, under
 *     SCALE-Sim's output convention (55x55), against the analytical count of
 *     the SCALE-Sim papers; the ONNX convention (54x54); output and input
 *     stationary; utilization and mapping efficiency.  Every expected number
 *     is written out as arithmetic next to it.
 *   - edge cases: a 1x1 layer, an array larger than the layer, Sr not a
 *     multiple of the rows, invalid layers (diagnostics).
 *   - a brute-force cross-check: a cycle-stepped simulation of a weight-
 *     stationary array, register by register, on small layers.  Per fold the
 *     weights are shifted in from the top (one row per cycle), the im2col
 *     rows of the input enter from the left skewed by one cycle per row and
 *     move right one PE per cycle, partial sums move down one PE per cycle
 *     and leave at the bottom; the folds over the filter window are summed
 *     outside the array.  The outputs must equal a direct convolution
 *     exactly (integers), and the cycles must equal the model:
 *       "full" mode, every fold loads all rows and drives all columns, as
 *       the model assumes: exactly df_systolic_cycles;
 *       "trimmed" mode, a fold loads only its sr_f used rows and stops the
 *       inputs after its sc_f used columns (partial sums still cross every
 *       row to the bottom edge): the model minus, per fold,
 *       (rows - sr_f) + (cols - sc_f).
 *
 * Ends with "df-systolic: P passed, F failed"; exit status 1 on a failure.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "df_systolic.h"
#include "test_util.h"

static void check_i64(int64_t got, int64_t want, const char *what)
{
	check(got == want, "%s: got %" PRId64 ", want %" PRId64, what, got, want);
}

static void check_f(double got, double want, const char *what)
{
	check(fabs(got - want) <= 1e-12 * fabs(want) + 1e-15,
		"%s: got %.15g, want %.15g", what, got, want);
}

/* AlexNet CONV1: 224x224x3 input, 96 filters of 11x11, stride 4, no pad. */
static const DfLayer alexnet_conv1 = {
	.n = 1, .h = 224, .w = 224, .c = 3, .k = 96, .r = 11, .s = 11,
	.stride = 4, .pad = 0,
};

static void test_alexnet_ws(void)
{
	const DfLayer *l = &alexnet_conv1;
	int64_t p, q;
	df_layer_out(l, DF_OUT_SCALESIM, &p, &q);
	/* ceil((224 - 11 + 4) / 4) = ceil(217 / 4) = 55 */
	check_i64(p, 55, "alexnet scalesim P");
	check_i64(q, 55, "alexnet scalesim Q");
	DfSystolicMap m = df_systolic_map(l, 32, 32, DF_FLOW_WS, DF_OUT_SCALESIM);
	check_i64(m.sr, 363, "ws Sr = 11*11*3");
	check_i64(m.sc, 96, "ws Sc = 96");
	check_i64(m.t, 3025, "ws T = 55*55");
	check_i64(m.fold_r, 12, "ws folds over rows = ceil(363/32)");
	check_i64(m.fold_c, 3, "ws folds over columns = ceil(96/32)");
	check_i64(m.fold_cycles, 3119, "ws fold cycles = 2*32 + 32 + 3025 - 2");
	/* 12 * 3 * 3119 = 36 * 3119 = 112284 */
	int64_t cycles = df_systolic_cycles(l, 32, 32, DF_FLOW_WS, DF_OUT_SCALESIM);
	check_i64(cycles, 112284, "alexnet conv1 ws 32x32 cycles");
	printf("alexnet conv1, 32x32 ws, scalesim 55x55: %" PRId64
		" cycles (SCALE-Sim 2 reports 112283)\n", cycles);

	/* useful MACs 3025 * 96 * 363 = 105415200; 1024 PEs * 112284 cycles */
	double util = df_systolic_utilization(l, 32, 32, DF_FLOW_WS, DF_OUT_SCALESIM);
	check_i64(df_layer_macs(l, DF_OUT_SCALESIM), 105415200, "alexnet MACs");
	check_f(util, 105415200.0 / (1024.0 * 112284.0), "alexnet ws utilization");
	/* 363 * 96 / (12*32 * 3*32) = 34848 / 36864 */
	double eff = df_systolic_mapping_eff(&m, 32, 32);
	check_f(eff, 34848.0 / 36864.0, "alexnet ws mapping efficiency");
	/* last row fold maps 363 - 11*32 = 11 rows */
	check_f(df_systolic_fold_mapping(&m, 32, 32, 11, 2), 11.0 * 32 / 1024,
		"last fold mapping");
	check_f(df_systolic_fold_mapping(&m, 32, 32, 0, 0), 1.0, "first fold mapping");
	double sum = 0;
	for (int64_t fr = 0; fr < m.fold_r; fr++)
		for (int64_t fc = 0; fc < m.fold_c; fc++)
			sum += df_systolic_fold_mapping(&m, 32, 32, fr, fc);
	check_f(sum / (double)(m.fold_r * m.fold_c), eff, "mean of fold mappings");
	printf("  utilization %.4f, mapping efficiency %.4f\n", util, eff);
}

static void test_alexnet_onnx(void)
{
	const DfLayer *l = &alexnet_conv1;
	int64_t p, q;
	df_layer_out(l, DF_OUT_ONNX, &p, &q);
	/* floor((224 - 11) / 4) + 1 = 53 + 1 = 54 */
	check_i64(p, 54, "alexnet onnx P");
	check_i64(q, 54, "alexnet onnx Q");
	int64_t onnx = df_systolic_cycles(l, 32, 32, DF_FLOW_WS, DF_OUT_ONNX);
	int64_t ss = df_systolic_cycles(l, 32, 32, DF_FLOW_WS, DF_OUT_SCALESIM);
	/* 36 folds * (2*32 + 32 + 54*54 - 2) = 36 * 3010 = 108360 */
	int64_t want = 36 * (2 * 32 + 32 + 54 * 54 - 2);
	check_i64(onnx, want, "alexnet conv1 ws onnx cycles");
	check_i64(want, 108360, "the formula's value");
	/* same folds, T shorter by 55*55 - 54*54 = 109 per fold: 36*109 = 3924 */
	check_i64(ss - onnx, 36 * (55 * 55 - 54 * 54), "scalesim - onnx cycles");
	check_i64(ss - onnx, 3924, "scalesim - onnx = 3924");
	printf("alexnet conv1, 32x32 ws, onnx 54x54: %" PRId64
		" cycles (%" PRId64 " fewer)\n", onnx, ss - onnx);
}

static void test_alexnet_os_is(void)
{
	const DfLayer *l = &alexnet_conv1;
	DfSystolicMap os = df_systolic_map(l, 32, 32, DF_FLOW_OS, DF_OUT_SCALESIM);
	/* OS: Sr = 3025 pixels, Sc = 96 filters, T = 363;
	 * ceil(3025/32) = 95, ceil(96/32) = 3: 285 folds of
	 * 2*32 + 32 + 363 - 2 = 457 cycles; 285 * 457 = 130245 */
	check_i64(os.sr, 3025, "os Sr");
	check_i64(os.sc, 96, "os Sc");
	check_i64(os.t, 363, "os T");
	check_i64(os.cycles, 130245, "alexnet conv1 os 32x32 cycles");
	check_i64(os.cycles, 95 * 3 * (2 * 32 + 32 + 363 - 2), "os formula");
	/* IS: Sr = 363, Sc = 3025, T = 96; 12 * 95 = 1140 folds of
	 * 2*32 + 32 + 96 - 2 = 190 cycles; 1140 * 190 = 216600 */
	DfSystolicMap is = df_systolic_map(l, 32, 32, DF_FLOW_IS, DF_OUT_SCALESIM);
	check_i64(is.sr, 363, "is Sr");
	check_i64(is.sc, 3025, "is Sc");
	check_i64(is.t, 96, "is T");
	check_i64(is.cycles, 216600, "alexnet conv1 is 32x32 cycles");
	check_i64(is.cycles, 12 * 95 * (2 * 32 + 32 + 96 - 2), "is formula");
	/* OS and IS map 3025 * 96 (OS) and 363 * 3025 (IS) of 95*3 and 12*95
	 * folds of 1024 PEs */
	check_f(df_systolic_mapping_eff(&os, 32, 32), 3025.0 * 96 / (285.0 * 1024),
		"os mapping efficiency");
	check_f(df_systolic_mapping_eff(&is, 32, 32), 363.0 * 3025 / (1140.0 * 1024),
		"is mapping efficiency");
	printf("alexnet conv1, 32x32 scalesim: os %" PRId64 ", is %" PRId64 " cycles\n",
		os.cycles, is.cycles);
}

static void test_edges(void)
{
	DfLayer one = { .n = 1, .h = 1, .w = 1, .c = 1, .k = 1, .r = 1, .s = 1,
		.stride = 1, .pad = 0 };
	/* one fold, Sr = Sc = T = 1: 2*32 + 32 + 1 - 2 = 95 */
	for (int f = DF_FLOW_WS; f <= DF_FLOW_IS; f++)
		check_i64(df_systolic_cycles(&one, 32, 32, (DfSystolicFlow)f, DF_OUT_ONNX),
			95, df_flow_name((DfSystolicFlow)f));
	/* on a single PE: 2 + 1 + 1 - 2 = 2 */
	check_i64(df_systolic_cycles(&one, 1, 1, DF_FLOW_WS, DF_OUT_ONNX), 2, "1x1 on 1x1");
	check_f(df_systolic_utilization(&one, 1, 1, DF_FLOW_WS, DF_OUT_ONNX), 0.5,
		"1x1 on 1x1 utilization");

	/* 4x4x2 input, 3 filters 3x3: P = Q = 2, Sr = 18, Sc = 3, T = 4; on a
	 * 128x128 array one fold of 256 + 128 + 4 - 2 = 386 */
	DfLayer small = { .n = 1, .h = 4, .w = 4, .c = 2, .k = 3, .r = 3, .s = 3,
		.stride = 1, .pad = 0 };
	DfSystolicMap m = df_systolic_map(&small, 128, 128, DF_FLOW_WS, DF_OUT_ONNX);
	check_i64(m.fold_r * m.fold_c, 1, "array larger than layer: one fold");
	check_i64(m.cycles, 386, "array larger than layer cycles");
	check_f(df_systolic_utilization(&small, 128, 128, DF_FLOW_WS, DF_OUT_ONNX),
		(18.0 * 3 * 4) / (16384.0 * 386), "array larger than layer utilization");
	check_f(df_systolic_mapping_eff(&m, 128, 128), 54.0 / 16384, "its mapping");

	/* Sr = 18 on 4 rows: ceil(18/4) = 5 folds, the last maps 2 rows;
	 * Sc = 3 on 4 columns: 1 fold; 5 * (8 + 4 + 4 - 2) = 70 */
	m = df_systolic_map(&small, 4, 4, DF_FLOW_WS, DF_OUT_ONNX);
	check_i64(m.fold_r, 5, "Sr 18 on 4 rows");
	check_i64(m.cycles, 70, "Sr 18 on 4 rows cycles");
	check_f(df_systolic_fold_mapping(&m, 4, 4, 4, 0), 2.0 * 3 / 16, "last fold of 18 on 4");

	/* the conventions agree when the stride leaves no partial window */
	DfLayer even = { .n = 1, .h = 7, .w = 7, .c = 1, .k = 1, .r = 3, .s = 3,
		.stride = 2, .pad = 0 };
	int64_t p1, q1, p2, q2;
	df_layer_out(&even, DF_OUT_ONNX, &p1, &q1);
	df_layer_out(&even, DF_OUT_SCALESIM, &p2, &q2);
	check(p1 == 3 && p2 == 3, "7/3/2: onnx %" PRId64 " scalesim %" PRId64, p1, p2);
	/* and differ by one when it does: 8, kernel 3, stride 2, pad 1 ->
	 * H' = 10: floor(7/2) + 1 = 4, ceil(9/2) = 5 */
	even.h = even.w = 8;
	even.pad = 1;
	df_layer_out(&even, DF_OUT_ONNX, &p1, &q1);
	df_layer_out(&even, DF_OUT_SCALESIM, &p2, &q2);
	check(p1 == 4 && p2 == 5, "8/3/2 pad 1: onnx %" PRId64 " scalesim %" PRId64, p1, p2);
}

static void check_diag(const DfLayer *l, const char *want)
{
	Diag d;
	diag_init(&d);
	Status st = df_layer_check(l, "conv_3", &d);
	check(st == ST_INVALID && d.n == 1 && strstr(d.msg[0].text, want),
		"df_layer_check: want '%s', got status %s, '%s'", want, status_name(st),
		d.n ? d.msg[0].text : "");
	diag_free(&d);
}

static void test_invalid(void)
{
	DfLayer l = alexnet_conv1;
	Diag d;
	diag_init(&d);
	check(df_layer_check(&l, "conv1", &d) == ST_OK && d.n == 0, "alexnet conv1 is valid");
	diag_free(&d);
	l.k = 0;
	check_diag(&l, "conv_3: filters 0 is not positive");
	l = alexnet_conv1;
	l.stride = -1;
	check_diag(&l, "conv_3: stride -1 is not positive");
	l = alexnet_conv1;
	l.pad = -2;
	check_diag(&l, "conv_3: padding -2 is negative");
	l = alexnet_conv1;
	l.h = 10;
	l.pad = 0;
	check_diag(&l, "kernel 11x11 is larger than the padded input 10x224");
}

/* ---- the cycle-stepped weight-stationary array ---- */

typedef struct SimLayer {
	DfLayer l;
	DfOutConv conv;
	int64_t p, q;
	int64_t *x;          /* [N][C][H][W] */
	int64_t *wt;         /* [K][C][R][S] */
} SimLayer;

typedef struct Pe {
	int64_t w;           /* stationary weight */
	int64_t a;           /* input moving right */
	int64_t ps;          /* partial sum moving down */
	int64_t at, pt;      /* output pixel of a and ps */
	int av, pv;          /* a, ps valid */
} Pe;

/* The im2col element of output pixel t (n, y, x) and window index i
 * (c, u, v): zero outside the input (padding, or SCALE-Sim's extra window). */
static int64_t sim_a(const SimLayer *s, int64_t t, int64_t i)
{
	const DfLayer *l = &s->l;
	int64_t n = t / (s->p * s->q), y = t / s->q % s->p, x = t % s->q;
	int64_t c = i / (l->r * l->s), u = i / l->s % l->r, v = i % l->s;
	int64_t iy = y * l->stride + u - l->pad, ix = x * l->stride + v - l->pad;
	if (iy < 0 || iy >= l->h || ix < 0 || ix >= l->w)
		return 0;
	return s->x[((n * l->c + c) * l->h + iy) * l->w + ix];
}

/* Window index i of filter k. */
static int64_t sim_b(const SimLayer *s, int64_t i, int64_t k)
{
	return s->wt[k * s->l.r * s->l.s * s->l.c + i];
}

/* The direct convolution of output pixel t, filter k. */
static int64_t sim_ref(const SimLayer *s, int64_t t, int64_t k)
{
	const DfLayer *l = &s->l;
	int64_t n = t / (s->p * s->q), y = t / s->q % s->p, x = t % s->q, acc = 0;
	for (int64_t c = 0; c < l->c; c++)
		for (int64_t u = 0; u < l->r; u++)
			for (int64_t v = 0; v < l->s; v++) {
				int64_t iy = y * l->stride + u - l->pad;
				int64_t ix = x * l->stride + v - l->pad;
				if (iy < 0 || iy >= l->h || ix < 0 || ix >= l->w)
					continue;
				acc += s->x[((n * l->c + c) * l->h + iy) * l->w + ix] *
					s->wt[((k * l->c + c) * l->r + u) * l->s + v];
			}
	return acc;
}

typedef struct SimFold {
	int64_t r0, c0;      /* first window index, first filter */
	int sr, sc;          /* rows, columns it maps */
	int64_t t;           /* pixels */
	int trimmed;
} SimFold;

/* One compute cycle: every PE takes its input from the left (or the skewed
 * edge) and its partial sum from above, into a fresh state.  Returns whether
 * any PE holds a valid token afterwards, or -1 when an input and a partial
 * sum meet out of step. */
static int sim_step(const SimLayer *s, const SimFold *f, int rows, int cols,
	const Pe *old, Pe *nw, int64_t cyc, int64_t *out)
{
	int active_cols = f->trimmed ? f->sc : cols, live = 0;
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < cols; j++) {
			Pe in = { 0 };
			Pe *pe = &nw[i * cols + j];
			pe->w = old[i * cols + j].w;
			if (j == 0) {
				int64_t t = cyc - i;
				int feeds = !f->trimmed || i < f->sr;
				if (feeds && t >= 0 && t < f->t) {
					in.av = 1;
					in.at = t;
					in.a = i < f->sr ? sim_a(s, t, f->r0 + i) : 0;
				}
			} else if (j < active_cols) {
				in.av = old[i * cols + j - 1].av;
				in.at = old[i * cols + j - 1].at;
				in.a = old[i * cols + j - 1].a;
			}
			if (i == 0) {
				in.pv = in.av;
				in.pt = in.at;
				in.ps = 0;
			} else {
				in.pv = old[(i - 1) * cols + j].pv;
				in.pt = old[(i - 1) * cols + j].pt;
				in.ps = old[(i - 1) * cols + j].ps;
			}
			if (in.av && (!in.pv || in.pt != in.at))
				return -1;
			pe->av = in.av;
			pe->at = in.at;
			pe->a = in.a;
			pe->pv = in.pv;
			pe->pt = in.pt;
			pe->ps = in.ps + (in.av ? pe->w * in.a : 0);
			live |= pe->av | pe->pv;
			if (i == rows - 1 && pe->pv && j < f->sc)
				out[pe->pt * s->l.k + f->c0 + j] += pe->ps;
		}
	return live;
}

/* Runs one fold; returns its cycles (load + compute), -1 on a skew error. */
static int64_t sim_fold(const SimLayer *s, const SimFold *f, int rows, int cols,
	Pe *pe, Pe *tmp, int64_t *out)
{
	int load = f->trimmed ? f->sr : rows;
	int64_t cycles = 0;
	memset(pe, 0, sizeof(Pe) * (size_t)(rows * cols));
	for (int cyc = 0; cyc < load; cyc++, cycles++) {
		int64_t row = load - 1 - cyc;
		for (int i = rows - 1; i > 0; i--)
			for (int j = 0; j < cols; j++)
				pe[i * cols + j].w = pe[(i - 1) * cols + j].w;
		for (int j = 0; j < cols; j++)
			pe[j].w = row < f->sr && j < f->sc ? sim_b(s, f->r0 + row, f->c0 + j) : 0;
	}
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < cols; j++) {
			int64_t want = i < f->sr && j < f->sc ? sim_b(s, f->r0 + i, f->c0 + j) : 0;
			if (pe[i * cols + j].w != want)
				return -1;
		}
	int64_t last = -1, bound = f->t + 2 * (int64_t)(rows + cols);
	for (int64_t cyc = 0; cyc < bound; cyc++) {
		int live = sim_step(s, f, rows, cols, pe, tmp, cyc, out);
		if (live < 0)
			return -1;
		if (live)
			last = cyc;
		memcpy(pe, tmp, sizeof(Pe) * (size_t)(rows * cols));
	}
	return cycles + last + 1;
}

static uint64_t sim_rng(uint64_t *st)
{
	*st = *st * 6364136223846793005ull + 1442695040888963407ull;
	return *st >> 33;
}

/* Simulates the layer on a rows x cols array, in full and in trimmed mode;
 * checks the outputs against the direct convolution and the cycles against
 * the model (trimmed: less the slack of every fold). */
static void sim_case(const DfLayer *l, DfOutConv conv, int rows, int cols, uint64_t seed)
{
	SimLayer s = { .l = *l, .conv = conv };
	df_layer_out(l, conv, &s.p, &s.q);
	int64_t nx = l->n * l->c * l->h * l->w, nw = l->k * l->c * l->r * l->s;
	int64_t pixels = l->n * s.p * s.q, window = l->r * l->s * l->c;
	s.x = malloc(sizeof(int64_t) * (size_t)nx);
	s.wt = malloc(sizeof(int64_t) * (size_t)nw);
	int64_t *out = calloc((size_t)(pixels * l->k), sizeof(int64_t));
	Pe *pe = malloc(sizeof(Pe) * (size_t)(rows * cols));
	Pe *tmp = malloc(sizeof(Pe) * (size_t)(rows * cols));
	if (!s.x || !s.wt || !out || !pe || !tmp) {
		check(0, "out of memory");
		goto free_all;
	}
	for (int64_t i = 0; i < nx; i++)
		s.x[i] = (int64_t)(sim_rng(&seed) % 7) - 3;
	for (int64_t i = 0; i < nw; i++)
		s.wt[i] = (int64_t)(sim_rng(&seed) % 7) - 3;

	DfSystolicMap m = df_systolic_map(l, rows, cols, DF_FLOW_WS, conv);
	for (int trimmed = 0; trimmed <= 1; trimmed++) {
		int64_t cycles = 0, slack = 0;
		int skew_ok = 1;
		memset(out, 0, sizeof(int64_t) * (size_t)(pixels * l->k));
		for (int64_t fr = 0; fr < m.fold_r; fr++)
			for (int64_t fc = 0; fc < m.fold_c; fc++) {
				SimFold f = { .r0 = fr * rows, .c0 = fc * cols, .t = pixels,
					.trimmed = trimmed };
				f.sr = (int)(window - f.r0 < rows ? window - f.r0 : rows);
				f.sc = (int)(l->k - f.c0 < cols ? l->k - f.c0 : cols);
				int64_t c = sim_fold(&s, &f, rows, cols, pe, tmp, out);
				if (c < 0)
					skew_ok = 0;
				cycles += c;
				slack += (rows - f.sr) + (cols - f.sc);
			}
		char what[160];
		snprintf(what, sizeof what, "sim %s %" PRId64 "x%" PRId64 "x%" PRId64
			" k%" PRId64 " %" PRId64 "x%" PRId64 "/%" PRId64 " pad %" PRId64
			" (%s) on %dx%d", trimmed ? "trimmed" : "full", l->h, l->w, l->c,
			l->k, l->r, l->s, l->stride, l->pad, df_outconv_name(conv), rows, cols);
		check(skew_ok, "%s: weights or skew out of step", what);
		check_i64(cycles, m.cycles - (trimmed ? slack : 0), what);
		int64_t bad = 0;
		for (int64_t t = 0; t < pixels; t++)
			for (int64_t k = 0; k < l->k; k++)
				bad += out[t * l->k + k] != sim_ref(&s, t, k);
		check(bad == 0, "%s: %" PRId64 " outputs differ from the direct convolution",
			what, bad);
	}
free_all:
	free(tmp);
	free(pe);
	free(out);
	free(s.wt);
	free(s.x);
}

static void test_sim(void)
{
	static const struct {
		DfLayer l;
		DfOutConv conv;
		int rows, cols;
	} cases[] = {
		/* Sr = 18 over 4 rows (5 folds, last of 2), Sc = 3 < 4 */
		{ { 1, 5, 5, 2, 3, 3, 3, 1, 0 }, DF_OUT_ONNX, 4, 4 },
		/* batch 2, padding, stride 2, rectangular kernel and array */
		{ { 2, 6, 5, 3, 5, 2, 3, 2, 1 }, DF_OUT_ONNX, 5, 3 },
		/* SCALE-Sim's extra partial window reads zeros */
		{ { 1, 8, 8, 1, 4, 3, 3, 2, 0 }, DF_OUT_SCALESIM, 3, 2 },
		/* 1x1 layer on a single PE and on a larger array */
		{ { 1, 1, 1, 1, 1, 1, 1, 1, 0 }, DF_OUT_ONNX, 1, 1 },
		{ { 1, 1, 1, 1, 1, 1, 1, 1, 0 }, DF_OUT_ONNX, 6, 7 },
		/* array larger than the layer in both directions */
		{ { 1, 4, 4, 2, 3, 3, 3, 1, 0 }, DF_OUT_ONNX, 32, 16 },
		/* a GEMM 7x10 by 10x9 */
		{ { 1, 7, 1, 10, 9, 1, 1, 1, 0 }, DF_OUT_ONNX, 4, 4 },
		/* exact multiples: Sr = 8 on 4, Sc = 8 on 4 */
		{ { 1, 3, 3, 2, 8, 2, 2, 1, 0 }, DF_OUT_ONNX, 4, 4 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		sim_case(&cases[i].l, cases[i].conv, cases[i].rows, cases[i].cols, 1000 + i);
}

int main(void)
{
	test_alexnet_ws();
	test_alexnet_onnx();
	test_alexnet_os_is();
	test_edges();
	test_invalid();
	test_sim();
	return test_summary("df-systolic");
}
