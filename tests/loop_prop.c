/*
 * Property test of the tiling transforms (passes/tile*.c): they preserve
 * results.
 *
 * Each case is a seed.  The seed picks a layer kind and its shapes, which
 * give the text of a canonical untiled kernel (an init nest, a perfectly
 * nested compute nest with the reduction loops innermost, an epilogue nest);
 * the test parses it, runs it on seeded random inputs, and checks it against
 * a reference computed here in double.  Then it applies a random sequence of
 * transforms (splits with any tile size, reorders, spatial and unroll marks,
 * hoists of operands and accumulators into gbuf or reg, double buffering),
 * running loop_verify after every one that applies; a refused one must leave
 * the program text unchanged.  The result must print, parse and print back
 * to the same text, and run to
 *   - integers: exactly the reference;
 *   - floats: |got - ref| <= 1e-5 * (sum of |terms| of that element) + 1e-6,
 *     and bit for bit the untransformed program's result unless a reorder
 *     changed the order in which one accumulator element sums its terms.
 *
 * The kinds: convolutions (padded, stride 2, grouped), gemm, max and average
 * pooling, bias + Relu + Sigmoid on a 4-D tensor, an int8 mac into i32, and
 * two order-sensitive kernels (a running sum read after every update, an
 * in-place scan) on which most reorders must be refused.  Directed checks
 * come first: fixed requests with the diagnostic each refusal must give, and
 * golden text for a split and a double buffering; then each directed case
 * again with every allocation of its parse and requests failing in turn,
 * which must give ST_NOMEM and one "out of memory" message.
 *
 * Usage: nnac-loopprop [--cases N] [--seed S] [--print] [--verbose]
 *   --seed S   runs the case of seed S only (as printed by a failure);
 *   --print    prints the program before and after the transforms;
 *   --verbose  one line per case, and the diagnostic of every refusal.
 * Ends with "loop-prop: P passed, F failed".
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "test_util.h"
#include "tile.h"
#include "test_rng.h"

enum { DEFAULT_CASES = 3000, MAX_STEPS = 12, MAX_HOISTS = 16 };

static int rng_int(Rng *r, int lo, int hi)
{
	return (int)rng_range(r, lo, hi);
}

/* Layer kinds and their shapes. */

typedef enum Kind {
	K_CONV_PAD, K_CONV_STRIDE, K_CONV_GROUP, K_GEMM, K_MAXPOOL, K_AVGPOOL, K_ELTWISE, K_INT8,
	K_CUMSUM, K_SCAN, K_COUNT
} Kind;

static const char *const kind_names[K_COUNT] = {
	"conv-pad", "conv-stride2", "conv-grouped", "gemm", "maxpool", "avgpool", "eltwise", "int8-mac",
	"cumsum", "scan",
};

typedef struct Shape {
	Kind kind;
	int n, c, k, h, w;   /* batch, input channels, output channels, input height, width */
	int r, s, p, g;      /* window size, stride, padding, groups */
	int oh, ow;
	int m, nn, kk;       /* gemm: Y[m, nn] = A[m, kk] * B */
	bool trans_b;
} Shape;

static void pick_shape(Kind kind, Rng *r, Shape *sh)
{
	memset(sh, 0, sizeof(*sh));
	sh->kind = kind;
	sh->n = 1;
	sh->g = 1;
	sh->s = 1;
	switch (kind) {
	case K_CONV_PAD:
		sh->c = rng_int(r, 1, 8);
		sh->k = rng_int(r, 1, 8);
		sh->r = rng_int(r, 0, 3) ? 3 : 1;
		sh->p = sh->r / 2 + (sh->r == 3 && rng_int(r, 0, 3) == 0);
		break;
	case K_CONV_STRIDE:
		sh->c = rng_int(r, 1, 5);
		sh->k = rng_int(r, 1, 6);
		sh->r = rng_int(r, 2, 3);
		sh->p = rng_int(r, 0, 1);
		sh->s = 2;
		break;
	case K_CONV_GROUP:
		sh->g = rng_int(r, 2, 3);
		sh->c = sh->g * rng_int(r, 1, 3);
		sh->k = sh->g * rng_int(r, 1, 3);
		sh->r = 3;
		sh->p = 1;
		sh->s = rng_int(r, 1, 2);
		break;
	case K_CUMSUM:
	case K_SCAN:
		sh->m = rng_int(r, 1, 6);
		sh->nn = rng_int(r, 2, 24);
		return;
	case K_GEMM:
	case K_INT8:
		sh->m = rng_int(r, 1, 20);
		sh->nn = rng_int(r, 1, 20);
		sh->kk = rng_int(r, 1, 64);
		sh->trans_b = kind == K_GEMM && rng_int(r, 0, 1);
		return;
	case K_MAXPOOL:
	case K_AVGPOOL:
		sh->c = rng_int(r, 1, 6);
		sh->r = rng_int(r, 2, 3);
		sh->s = rng_int(r, 1, 2);
		sh->k = sh->c;
		break;
	case K_ELTWISE:
		sh->n = rng_int(r, 1, 2);
		sh->c = rng_int(r, 1, 5);
		sh->h = rng_int(r, 1, 12);
		sh->w = rng_int(r, 1, 12);
		return;
	case K_COUNT:
		break;
	}
	sh->h = rng_int(r, sh->r, 16);
	sh->w = rng_int(r, sh->r, 16);
	sh->oh = (sh->h + 2 * sh->p - sh->r) / sh->s + 1;
	sh->ow = (sh->w + 2 * sh->p - sh->r) / sh->s + 1;
}

/* Program text. */

typedef struct Text {
	FILE *f;
	int depth;           /* tabs before the next line */
} Text;

static void line(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line(Text *t, const char *fmt, ...)
{
	va_list ap;

	for (int i = 0; i < t->depth; i++)
		fputc('\t', t->f);
	va_start(ap, fmt);
	vfprintf(t->f, fmt, ap);
	va_end(ap);
	fputc('\n', t->f);
}

static void open_range(Text *t, const char *var, int start, int end)
{
	line(t, "for %s in %d..%d {", var, start, end);
	t->depth++;
}

static void open_for(Text *t, const char *var, int extent)
{
	open_range(t, var, 0, extent);
}

static void close_for(Text *t, int n)
{
	while (n-- > 0) {
		t->depth--;
		line(t, "}");
	}
}

/* for each named loop with its extent. */
static void open_nest(Text *t, int n, const char *const *vars, const int *ext)
{
	for (int i = 0; i < n; i++)
		open_for(t, vars[i], ext[i]);
}

static void header(Text *t)
{
	line(t, "level dram");
	line(t, "level gbuf 16384");
	line(t, "level reg 512");
	line(t, "%s", "");
}

/* "c*v" written as the parser wants it: "v" when c is 1. */
static const char *scaled(char *buf, size_t size, int c, const char *v)
{
	if (c == 1)
		snprintf(buf, size, "%s", v);
	else
		snprintf(buf, size, "%d*%s", c, v);
	return buf;
}

static void text_conv(Text *t, const Shape *sh)
{
	int cg = sh->c / sh->g, kg = sh->k / sh->g;
	int hp = sh->h + 2 * sh->p, wp = sh->w + 2 * sh->p;
	const char *xin = sh->p > 0 ? "Xp" : "X";
	const char *v4[] = { "n", "k", "y", "x" };
	int e4[] = { 1, sh->k, sh->oh, sh->ow };
	char ky[32], kx[32], kc[48], kk[48];

	header(t);
	line(t, "buf X : f32[1, %d, %d, %d] @dram input \"x\"", sh->c, sh->h, sh->w);
	line(t, "buf W : f32[%d, %d, %d, %d] @dram input \"w\"", sh->k, cg, sh->r, sh->r);
	line(t, "buf B : f32[%d] @dram input \"b\"", sh->k);
	line(t, "buf Y : f32[1, %d, %d, %d] @dram output \"y\"", sh->k, sh->oh, sh->ow);
	line(t, "%s", "");
	line(t, "kernel conv \"Conv\" {");
	t->depth++;
	if (sh->p > 0) {
		const char *vp[] = { "n", "c" };
		int ep[] = { 1, sh->c };

		line(t, "buf Xp : f32[1, %d, %d, %d] @dram", sh->c, hp, wp);
		open_nest(t, 2, vp, ep);
		open_range(t, "y", -sh->p, sh->h + sh->p);
		open_range(t, "x", -sh->p, sh->w + sh->p);
		line(t, "copy Xp[n, c, y + %d, x + %d] = X[n, c, y, x] pad 0.0", sh->p, sh->p);
		close_for(t, 4);
	}
	open_nest(t, 4, v4, e4);
	line(t, "copy Y[n, k, y, x] = B[k]");
	close_for(t, 4);
	open_for(t, "n", 1);
	if (sh->g > 1) {
		open_for(t, "g", sh->g);
		snprintf(kc, sizeof(kc), "%s + c", scaled(ky, sizeof(ky), cg, "g"));
		snprintf(kk, sizeof(kk), "%s + k", scaled(ky, sizeof(ky), kg, "g"));
	} else {
		snprintf(kc, sizeof(kc), "c");
		snprintf(kk, sizeof(kk), "k");
	}
	open_for(t, "k", kg);
	open_for(t, "y", sh->oh);
	open_for(t, "x", sh->ow);
	open_for(t, "c", cg);
	open_for(t, "r", sh->r);
	open_for(t, "s", sh->r);
	snprintf(ky, sizeof(ky), "%s + r", sh->s == 1 ? "y" : "2*y");
	snprintf(kx, sizeof(kx), "%s + s", sh->s == 1 ? "x" : "2*x");
	line(t, "mac Y[n, %s, y, x] += %s[n, %s, %s, %s] * W[%s, c, r, s] : f32 * f32 -> f32", kk, xin,
	     kc, ky, kx, kk);
	close_for(t, 7 + (sh->g > 1));
	open_nest(t, 4, v4, e4);
	line(t, "apply Y[n, k, y, x] = Relu(Y[n, k, y, x])");
	close_for(t, 4);
	t->depth--;
	line(t, "}");
}

static void text_gemm(Text *t, const Shape *sh)
{
	const char *ty = sh->kind == K_INT8 ? "i8" : "f32";
	const char *acc = sh->kind == K_INT8 ? "i32" : "f32";

	header(t);
	line(t, "buf A : %s[%d, %d] @dram input \"a\"", ty, sh->m, sh->kk);
	if (sh->trans_b)
		line(t, "buf Bm : %s[%d, %d] @dram input \"b\"", ty, sh->nn, sh->kk);
	else
		line(t, "buf Bm : %s[%d, %d] @dram input \"b\"", ty, sh->kk, sh->nn);
	line(t, "buf Cb : %s[%d] @dram input \"c\"", acc, sh->nn);
	line(t, "buf Y : %s[%d, %d] @dram output \"y\"", acc, sh->m, sh->nn);
	line(t, "%s", "");
	line(t, "kernel gemm \"Gemm\" {");
	t->depth++;
	open_for(t, "m", sh->m);
	open_for(t, "n", sh->nn);
	line(t, "copy Y[m, n] = Cb[n]");
	close_for(t, 2);
	open_for(t, "m", sh->m);
	open_for(t, "n", sh->nn);
	open_for(t, "k", sh->kk);
	line(t, "mac Y[m, n] += A[m, k] * Bm[%s] : %s * %s -> %s", sh->trans_b ? "n, k" : "k, n", ty, ty,
	     acc);
	close_for(t, 3);
	t->depth--;
	line(t, "}");
}

static void text_pool(Text *t, const Shape *sh)
{
	bool avg = sh->kind == K_AVGPOOL;
	const char *v4[] = { "n", "c", "y", "x" };
	int e4[] = { 1, sh->c, sh->oh, sh->ow };

	header(t);
	line(t, "buf X : f32[1, %d, %d, %d] @dram input \"x\"", sh->c, sh->h, sh->w);
	line(t, "buf Y : f32[1, %d, %d, %d] @dram output \"y\"", sh->c, sh->oh, sh->ow);
	line(t, "%s", "");
	line(t, "kernel pool \"%s\" {", avg ? "AveragePool" : "MaxPool");
	t->depth++;
	open_nest(t, 4, v4, e4);
	line(t, "fill Y[n, c, y, x] = %s", avg ? "0.0" : "-inf");
	close_for(t, 4);
	open_nest(t, 4, v4, e4);
	open_for(t, "r", sh->r);
	open_for(t, "s", sh->r);
	line(t, "reduce %s Y[n, c, y, x] <- X[n, c, %s + r, %s + s]", avg ? "sum" : "max",
	     sh->s == 1 ? "y" : "2*y", sh->s == 1 ? "x" : "2*x");
	close_for(t, 6);
	if (avg) {
		open_nest(t, 4, v4, e4);
		line(t, "apply Y[n, c, y, x] = Mul(Y[n, c, y, x], %.17g)", 1.0 / (sh->r * sh->r));
		close_for(t, 4);
	}
	t->depth--;
	line(t, "}");
}

static void text_eltwise(Text *t, const Shape *sh)
{
	const char *v4[] = { "n", "c", "h", "w" };
	int e4[] = { sh->n, sh->c, sh->h, sh->w };

	header(t);
	line(t, "buf X : f32[%d, %d, %d, %d] @dram input \"x\"", sh->n, sh->c, sh->h, sh->w);
	line(t, "buf B : f32[%d] @dram input \"b\"", sh->c);
	line(t, "buf Y : f32[%d, %d, %d, %d] @dram output \"y\"", sh->n, sh->c, sh->h, sh->w);
	line(t, "%s", "");
	line(t, "kernel act \"Add_Relu_Sigmoid\" {");
	t->depth++;
	open_nest(t, 4, v4, e4);
	line(t, "apply Y[n, c, h, w] = Add(X[n, c, h, w], B[c])");
	line(t, "apply Y[n, c, h, w] = Relu(Y[n, c, h, w])");
	close_for(t, 4);
	open_nest(t, 4, v4, e4);
	line(t, "apply Y[n, c, h, w] = Sigmoid(Y[n, c, h, w])");
	close_for(t, 4);
	t->depth--;
	line(t, "}");
}

/*
 * Two kernels whose loops may not be reordered freely, to check that the
 * transforms refuse: a running sum of squares read after every update
 * (an accumulator also read in the band), and an in-place scan along rows
 * (a buffer written and read at another index; its loop starts at 1).
 */
static void text_running(Text *t, const Shape *sh)
{
	bool scan = sh->kind == K_SCAN;

	header(t);
	line(t, "buf X : f32[%d, %d] @dram input \"x\"", sh->m, sh->nn);
	line(t, "buf P : f32[%d, %d] @dram output \"p\"", sh->m, sh->nn);
	line(t, "%s", "");
	line(t, "kernel %s {", scan ? "scan" : "cumsum");
	t->depth++;
	if (scan) {
		open_for(t, "i", sh->m);
		open_for(t, "j", sh->nn);
		line(t, "copy P[i, j] = X[i, j]");
		close_for(t, 2);
		open_for(t, "r", sh->m);
		open_range(t, "c", 1, sh->nn);
		line(t, "apply P[r, c] = Add(P[r, c], P[r, c - 1])");
		close_for(t, 2);
	} else {
		line(t, "buf S : f32[%d] @dram", sh->m);
		open_for(t, "i", sh->m);
		line(t, "fill S[i] = 0.0");
		close_for(t, 1);
		open_for(t, "r", sh->m);
		open_for(t, "c", sh->nn);
		line(t, "mac S[r] += X[r, c] * X[r, c] : f32 * f32 -> f32");
		line(t, "copy P[r, c] = S[r]");
		close_for(t, 2);
	}
	t->depth--;
	line(t, "}");
}

/* The program text of a shape, malloc'd. */
static char *program_text(const Shape *sh, size_t *len)
{
	char *s = NULL;
	Text t = { open_memstream(&s, len), 0 };

	if (!t.f)
		return NULL;
	switch (sh->kind) {
	case K_CONV_PAD:
	case K_CONV_STRIDE:
	case K_CONV_GROUP: text_conv(&t, sh); break;
	case K_GEMM:
	case K_INT8: text_gemm(&t, sh); break;
	case K_MAXPOOL:
	case K_AVGPOOL: text_pool(&t, sh); break;
	case K_ELTWISE: text_eltwise(&t, sh); break;
	case K_CUMSUM:
	case K_SCAN: text_running(&t, sh); break;
	case K_COUNT: break;
	}
	fclose(t.f);
	return s;
}

/* The reference, in double: ref[i] and the sum of the magnitudes of the
 * terms that make it, per output element. */

typedef struct Ref {
	double *ref, *mag;
	int64_t n;
} Ref;

static double in_at(const Value *v, int64_t i)
{
	return val_get_f64(v, i);
}

static void ref_conv(const Shape *sh, const Value *in, Ref *o)
{
	int cg = sh->c / sh->g, kg = sh->k / sh->g;

	for (int k = 0; k < sh->k; k++) {
		for (int y = 0; y < sh->oh; y++) {
			for (int x = 0; x < sh->ow; x++) {
				int64_t i = ((int64_t)k * sh->oh + y) * sh->ow + x;
				double sum = in_at(&in[2], k), mag = fabs(sum);

				for (int c = 0; c < cg; c++) {
					for (int r = 0; r < sh->r; r++) {
						for (int s = 0; s < sh->r; s++) {
							int iy = sh->s * y + r - sh->p, ix = sh->s * x + s - sh->p;
							int ci = (k / kg) * cg + c;
							double xv, wv;

							if (iy < 0 || iy >= sh->h || ix < 0 || ix >= sh->w)
								continue;
							xv = in_at(&in[0], ((int64_t)ci * sh->h + iy) * sh->w + ix);
							wv = in_at(&in[1], (((int64_t)k * cg + c) * sh->r + r) * sh->r + s);
							sum += xv * wv;
							mag += fabs(xv * wv);
						}
					}
				}
				o->ref[i] = sum > 0 ? sum : 0;
				o->mag[i] = mag;
			}
		}
	}
}

static void ref_gemm(const Shape *sh, const Value *in, Ref *o)
{
	for (int m = 0; m < sh->m; m++) {
		for (int n = 0; n < sh->nn; n++) {
			double sum = in_at(&in[2], n), mag = fabs(sum);

			for (int k = 0; k < sh->kk; k++) {
				double a = in_at(&in[0], (int64_t)m * sh->kk + k);
				double b = in_at(&in[1], sh->trans_b ? (int64_t)n * sh->kk + k
				                                     : (int64_t)k * sh->nn + n);

				sum += a * b;
				mag += fabs(a * b);
			}
			o->ref[(int64_t)m * sh->nn + n] = sum;
			o->mag[(int64_t)m * sh->nn + n] = mag;
		}
	}
}

static void ref_pool(const Shape *sh, const Value *in, Ref *o)
{
	bool avg = sh->kind == K_AVGPOOL;

	for (int c = 0; c < sh->c; c++) {
		for (int y = 0; y < sh->oh; y++) {
			for (int x = 0; x < sh->ow; x++) {
				int64_t i = ((int64_t)c * sh->oh + y) * sh->ow + x;
				double acc = avg ? 0 : -INFINITY, mag = 0;

				for (int r = 0; r < sh->r; r++) {
					for (int s = 0; s < sh->r; s++) {
						double v = in_at(&in[0], ((int64_t)c * sh->h + sh->s * y + r) * sh->w +
						                            sh->s * x + s);

						acc = avg ? acc + v : (v > acc ? v : acc);
						mag += fabs(v);
					}
				}
				o->ref[i] = avg ? acc * (1.0 / (sh->r * sh->r)) : acc;
				o->mag[i] = avg ? mag : 0;
			}
		}
	}
}

static void ref_eltwise(const Shape *sh, const Value *in, Ref *o)
{
	int64_t hw = (int64_t)sh->h * sh->w;

	for (int64_t i = 0; i < o->n; i++) {
		double x = in_at(&in[0], i), b = in_at(&in[1], (i / hw) % sh->c);
		double v = x + b;

		v = v > 0 ? v : 0;
		o->ref[i] = 1 / (1 + exp(-v));
		o->mag[i] = fabs(x) + fabs(b);
	}
}

static void ref_running(const Shape *sh, const Value *in, Ref *o)
{
	bool scan = sh->kind == K_SCAN;

	for (int i = 0; i < sh->m; i++) {
		double sum = 0, mag = 0;

		for (int j = 0; j < sh->nn; j++) {
			double x = in_at(&in[0], (int64_t)i * sh->nn + j);

			sum += scan ? x : x * x;
			mag += scan ? fabs(x) : x * x;
			o->ref[(int64_t)i * sh->nn + j] = sum;
			o->mag[(int64_t)i * sh->nn + j] = mag;
		}
	}
}

static void reference(const Shape *sh, const Value *in, Ref *o)
{
	switch (sh->kind) {
	case K_CONV_PAD:
	case K_CONV_STRIDE:
	case K_CONV_GROUP: ref_conv(sh, in, o); return;
	case K_GEMM:
	case K_INT8: ref_gemm(sh, in, o); return;
	case K_MAXPOOL:
	case K_AVGPOOL: ref_pool(sh, in, o); return;
	case K_ELTWISE: ref_eltwise(sh, in, o); return;
	case K_CUMSUM:
	case K_SCAN: ref_running(sh, in, o); return;
	case K_COUNT: break;
	}
	nnac_unreachable();
}

/* Inputs: floats uniform in [-1, 1], i8 over its range, i32 in +-1000. */
static bool make_inputs(const LoopProgram *p, Arena *a, Rng *r, Value *in, int nin)
{
	for (int i = 0; i < nin; i++) {
		const LoopBuf *b = &p->bufs[loop_input_buf(p, i)];

		val_set_type(&in[i], b->dt, b->rank, b->dims);
		if (!val_alloc(a, &in[i]))
			return false;
		for (int64_t j = 0; j < val_numel(&in[i]); j++) {
			if (b->dt == DT_I8)
				val_set_i64(&in[i], j, rng_int(r, -128, 127));
			else if (b->dt == DT_I32)
				val_set_i64(&in[i], j, rng_int(r, -1000, 1000));
			else
				val_set_f64(&in[i], j, 2 * rng_unit(r) - 1);
		}
	}
	return true;
}

/* Statistics per transform. */

typedef enum Move { M_SPLIT, M_REORDER, M_SPATIAL, M_UNROLL, M_HOIST, M_DBUF, M_COUNT } Move;

static const char *const move_names[M_COUNT] = {
	"split", "reorder", "spatial", "unroll", "hoist", "double_buffer",
};

static long tried[M_COUNT], applied[M_COUNT], bitwise;
static bool verbose_refusals;

/* One case. */

typedef struct Case {
	uint64_t seed;
	Rng rng;
	Shape sh;
	Diag diag;
	LoopProgram p;
	char *text;
	char seq[2048];      /* the transforms applied, for the report */
	size_t seqlen;
	bool exact;          /* no reorder changed the order of a float sum */
	int hoist_for[MAX_HOISTS], hoist_local[MAX_HOISTS], nhoist;
	char why[4096];
} Case;

static void note(Case *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(Case *c, const char *fmt, ...)
{
	va_list ap;

	if (c->seqlen >= sizeof(c->seq) - 1)
		return;
	va_start(ap, fmt);
	c->seqlen += (size_t)vsnprintf(c->seq + c->seqlen, sizeof(c->seq) - c->seqlen, fmt, ap);
	va_end(ap);
	if (c->seqlen > sizeof(c->seq) - 1)
		c->seqlen = sizeof(c->seq) - 1;
}

static bool fail(Case *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(Case *c, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = (size_t)vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	for (int i = 0; i < c->diag.n && n < sizeof(c->why) - 1; i++)
		n += (size_t)snprintf(c->why + n, sizeof(c->why) - n, "\n    %s", c->diag.msg[i].text);
	return false;
}

static char *print_program(const LoopProgram *p, size_t *len)
{
	char *s = NULL;
	FILE *f = open_memstream(&s, len);

	if (!f)
		return NULL;
	loop_print(p, f, 0);
	fclose(f);
	return s;
}

/* The loops of the kernel, outermost first. */
static int collect_loops(const LoopProgram *p, int first, int *out, int n, int max)
{
	for (int i = first; i >= 0; i = p->nodes[i].next) {
		if (p->nodes[i].kind != LN_FOR)
			continue;
		if (n < max)
			out[n++] = i;
		n = collect_loops(p, p->nodes[i].body, out, n, max);
	}
	return n;
}

static int random_loop(Case *c)
{
	int loops[512];
	int n = collect_loops(&c->p, c->p.kernels[0].body, loops, 0, 512);

	return n > 0 ? loops[rng_int(&c->rng, 0, n - 1)] : -1;
}

static const char *var_of(const Case *c, int f)
{
	return f >= 0 && f < c->p.nnodes && c->p.nodes[f].kind == LN_FOR ? c->p.nodes[f].var : "?";
}

/* What a move did. */
typedef enum Outcome { APPLIED, REFUSED, SKIPPED, FAILED } Outcome;

/* A refusal with status st is expected when st is one of the allowed. */
static Outcome refused(Case *c, const char *what, Status st, bool allowed)
{
	note(c, "-refused");
	if (allowed)
		return REFUSED;
	fail(c, "%s: unexpected refusal (%s)", what, status_name(st));
	return FAILED;
}

static Outcome do_split(Case *c)
{
	int f = random_loop(c), o, i, tile;
	Status st;

	if (f < 0)
		return SKIPPED;
	tile = rng_int(&c->rng, 1, (int)c->p.nodes[f].extent);
	note(c, " split(%s,%d)", var_of(c, f), tile);
	st = pass_split(&c->p, f, tile, &o, &i);
	return st == ST_OK ? APPLIED : refused(c, "split", st, false);
}

/* Whether a mac or reduce sum below first accumulates over loop v (its
 * accumulator indices do not use v) into a float. */
static bool float_sum_over(const LoopProgram *p, int first, int v)
{
	for (int n = first; n >= 0; n = p->nodes[n].next) {
		const LoopNode *s = &p->nodes[n];
		bool uses = false;

		if (s->kind == LN_FOR) {
			if (float_sum_over(p, s->body, v))
				return true;
			continue;
		}
		if (s->kind != LN_MAC && !(s->kind == LN_REDUCE && s->red == LR_SUM))
			continue;
		if (!dtype_is_float(p->bufs[s->arg[0].buf].dt))
			continue;
		for (int i = 0; i < s->arg[0].nidx; i++)
			uses = uses || loop_expr_uses(p, s->arg[0].idx[i], v);
		if (!uses)
			return true;
	}
	return false;
}

static Outcome do_reorder(Case *c)
{
	int band[16], n = 0, perm[16], f = -1;
	bool identity = true, order_kept = true;
	Status st;

	for (int tries = 0; tries < 6 && n < 2; tries++) {
		f = random_loop(c);
		n = 0;
		for (int b = f; b >= 0 && n < 16; ) {
			band[n++] = b;
			b = c->p.nodes[b].body;
			if (b < 0 || c->p.nodes[b].kind != LN_FOR || c->p.nodes[b].next >= 0)
				break;
		}
	}
	if (n < 2)
		return SKIPPED;
	n = rng_int(&c->rng, 2, n);
	for (int i = 0; i < n; i++)
		perm[i] = i;
	while (identity) {
		for (int i = n - 1; i > 0; i--) {
			int j = rng_int(&c->rng, 0, i), t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
		for (int i = 0; i < n; i++)
			identity = identity && perm[i] == i;
	}
	note(c, " reorder(%s:", var_of(c, f));
	for (int i = 0; i < n; i++)
		note(c, "%s%s", i ? "," : "", var_of(c, band[perm[i]]));
	note(c, ")");
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (perm[i] > perm[j] &&
			    float_sum_over(&c->p, c->p.nodes[band[n - 1]].body, band[perm[i]]) &&
			    float_sum_over(&c->p, c->p.nodes[band[n - 1]].body, band[perm[j]]))
				order_kept = false;
	st = pass_reorder(&c->p, f, perm, n);
	if (st != ST_OK)
		return refused(c, "reorder", st, st == ST_UNSUPPORTED);
	if (!order_kept)
		c->exact = false;
	return APPLIED;
}

static Outcome do_mark(Case *c, Move m)
{
	int f = random_loop(c);
	bool on = rng_int(&c->rng, 0, 3) != 0;
	Status st;

	if (f < 0)
		return SKIPPED;
	note(c, " %s(%s,%d)", move_names[m], var_of(c, f), on);
	st = m == M_SPATIAL ? pass_set_spatial(&c->p, f, on) : pass_set_unroll(&c->p, f, on);
	return st == ST_OK ? APPLIED : refused(c, move_names[m], st, false);
}

typedef struct BufSet {
	int b[32], n;
} BufSet;

static void add_buf(LoopProgram *p, int node, int arg, void *cx)
{
	BufSet *s = cx;
	int b = p->nodes[node].arg[arg].buf;

	for (int i = 0; i < s->n; i++)
		if (s->b[i] == b)
			return;
	if (s->n < 32)
		s->b[s->n++] = b;
}

static Outcome do_hoist(Case *c)
{
	int f = random_loop(c), level, local = -1;
	BufSet s = { { 0 }, 0 };
	Status st;

	if (f < 0)
		return SKIPPED;
	tile_each_ref(&c->p, c->p.nodes[f].body, true, add_buf, &s);
	if (s.n == 0)
		return SKIPPED;
	level = loop_find_level(&c->p, rng_int(&c->rng, 0, 1) ? "gbuf" : "reg");
	st = pass_hoist(&c->p, f, s.b[rng_int(&c->rng, 0, s.n - 1)], level, &local);
	note(c, " hoist(%s,%s:%s)", var_of(c, f), c->p.levels[level].name,
	     st == ST_OK ? c->p.bufs[local].name : "");
	if (st != ST_OK)
		return refused(c, "hoist", st, st == ST_UNSUPPORTED);
	if (c->nhoist < MAX_HOISTS) {
		c->hoist_for[c->nhoist] = f;
		c->hoist_local[c->nhoist++] = local;
	}
	return APPLIED;
}

static Outcome do_dbuf(Case *c)
{
	int f, local;
	Status st;

	if (c->nhoist == 0 || rng_int(&c->rng, 0, 9) == 0) {
		f = random_loop(c);
		local = rng_int(&c->rng, 0, c->p.nbufs - 1);
	} else {
		int h = rng_int(&c->rng, 0, 1) ? c->nhoist - 1 : rng_int(&c->rng, 0, c->nhoist - 1);

		f = c->hoist_for[h];
		local = c->hoist_local[h];
	}
	if (f < 0)
		return SKIPPED;
	note(c, " double_buffer(%s,%s)", var_of(c, f), c->p.bufs[local].name);
	st = pass_double_buffer(&c->p, f, local);
	if (st != ST_OK)
		return refused(c, "double_buffer", st, st == ST_UNSUPPORTED ||
		               (st == ST_INVALID && c->p.bufs[local].kernel < 0));
	return APPLIED;
}

static Move pick_move(Rng *r)
{
	static const int weight[M_COUNT] = { 5, 4, 1, 1, 4, 3 };
	int total = 0, x;

	for (int m = 0; m < M_COUNT; m++)
		total += weight[m];
	x = rng_int(r, 0, total - 1);
	for (int m = 0; m < M_COUNT; m++) {
		if (x < weight[m])
			return (Move)m;
		x -= weight[m];
	}
	return M_SPLIT;
}

/* One transform, with the checks around it. */
static bool step(Case *c)
{
	Move m = pick_move(&c->rng);
	size_t blen, alen;
	char *before = print_program(&c->p, &blen), *after;
	Outcome out = FAILED;
	bool ok = true;

	switch (m) {
	case M_SPLIT: out = do_split(c); break;
	case M_REORDER: out = do_reorder(c); break;
	case M_SPATIAL:
	case M_UNROLL: out = do_mark(c, m); break;
	case M_HOIST: out = do_hoist(c); break;
	case M_DBUF: out = do_dbuf(c); break;
	case M_COUNT: break;
	}
	tried[m] += out != SKIPPED;
	if (out == FAILED) {
		ok = false;
	} else if (out == APPLIED) {
		applied[m]++;
		if (c->diag.n > 0)
			ok = fail(c, "%s applied but reported a diagnostic", move_names[m]);
		else if (loop_verify(&c->p) != ST_OK)
			ok = fail(c, "the verifier rejects the result of %s", move_names[m]);
	} else if (out == REFUSED) {
		after = print_program(&c->p, &alen);
		if (!after || !before || alen != blen || memcmp(before, after, blen) != 0)
			ok = fail(c, "a refused %s changed the program", move_names[m]);
		if (ok && diag_worst(&c->diag) != ST_UNSUPPORTED && diag_worst(&c->diag) != ST_INVALID)
			ok = fail(c, "a refused %s reported %s", move_names[m],
			          status_name(diag_worst(&c->diag)));
		free(after);
		if (ok && verbose_refusals)
			for (int i = 0; i < c->diag.n; i++)
				printf("  refused: %s\n", c->diag.msg[i].text);
		if (ok) {
			diag_free(&c->diag);
			diag_init(&c->diag);
		}
	}
	free(before);
	return ok;
}

/* Comparison. */

static bool same_bits(const Value *a, const Value *b, int64_t i)
{
	if (dtype_is_float(a->dt)) {
		double x = val_get_f64(a, i), y = val_get_f64(b, i);

		return x == y || (isnan(x) && isnan(y));
	}
	return val_get_i64(a, i) == val_get_i64(b, i);
}

static bool check_output(Case *c, const char *what, const Value *got, const Ref *ref,
                         const Value *base)
{
	for (int64_t i = 0; i < ref->n; i++) {
		double g = val_get_f64(got, i);

		if (dtype_is_float(got->dt)) {
			if (!(fabs(g - ref->ref[i]) <= 1e-5 * ref->mag[i] + 1e-6) &&
			    !(g == ref->ref[i]))
				return fail(c, "%s: element %lld is %.9g, the reference %.9g", what,
				            (long long)i, g, ref->ref[i]);
		} else if (val_get_i64(got, i) != (int64_t)ref->ref[i]) {
			return fail(c, "%s: element %lld is %lld, the reference %.0f", what, (long long)i,
			            (long long)val_get_i64(got, i), ref->ref[i]);
		}
		if (base && !same_bits(got, base, i))
			return fail(c, "%s: element %lld is %.9g, the untransformed program %.9g", what,
			            (long long)i, g, val_get_f64(base, i));
	}
	return true;
}

static bool run(Case *c, Arena *a, const Value *in, Value *out, const char *what)
{
	if (loop_run(&c->p, a, in, out) != ST_OK)
		return fail(c, "%s: loop_run failed", what);
	return true;
}

/* print -> parse -> print gives the same text. */
static bool round_trip(Case *c)
{
	size_t len, len2;
	char *s = print_program(&c->p, &len), *s2 = NULL;
	Diag d;
	LoopProgram q;
	bool ok;

	if (!s)
		return fail(c, "out of memory");
	diag_init(&d);
	loop_init(&q, &d, "printed");
	ok = loop_parse(&q, "printed", s, len) == ST_OK && loop_verify(&q) == ST_OK;
	if (ok) {
		s2 = print_program(&q, &len2);
		ok = s2 && len2 == len && memcmp(s, s2, len) == 0;
	}
	if (!ok) {
		fail(c, "the printed program does not read back%s%s", d.n ? ": " : "",
		     d.n ? d.msg[0].text : "");
	}
	free(s2);
	loop_free(&q);
	diag_free(&d);
	free(s);
	return ok;
}

static bool case_body(Case *c, Arena *a)
{
	size_t len;
	Value in[4], out0, out1;
	Ref ref;
	int nin, nsteps;

	pick_shape((Kind)(c->seed % K_COUNT), &c->rng, &c->sh);
	c->text = program_text(&c->sh, &len);
	if (!c->text)
		return fail(c, "out of memory");
	if (loop_parse(&c->p, kind_names[c->sh.kind], c->text, len) != ST_OK ||
	    loop_verify(&c->p) != ST_OK)
		return fail(c, "the untransformed program does not parse or verify:\n%s", c->text);
	nin = loop_count_inputs(&c->p);
	if (nin > 4 || loop_count_outputs(&c->p) != 1 || !make_inputs(&c->p, a, &c->rng, in, nin))
		return fail(c, "bad test program");
	ref.n = loop_buf_numel(&c->p.bufs[loop_output_buf(&c->p, 0)]);
	ref.ref = arena_alloc(a, (size_t)ref.n * sizeof(double));
	ref.mag = arena_alloc(a, (size_t)ref.n * sizeof(double));
	if (!ref.ref || !ref.mag)
		return fail(c, "out of memory");
	reference(&c->sh, in, &ref);
	if (!run(c, a, in, &out0, "untransformed") ||
	    !check_output(c, "untransformed", &out0, &ref, NULL))
		return false;
	nsteps = rng_int(&c->rng, 1, MAX_STEPS);
	for (int i = 0; i < nsteps; i++)
		if (!step(c))
			return false;
	if (!round_trip(c) || !run(c, a, in, &out1, "transformed"))
		return false;
	bitwise += c->exact;
	return check_output(c, "transformed", &out1, &ref, c->exact ? &out0 : NULL);
}

static bool run_case(uint64_t seed, bool show, bool verbose)
{
	Case *c = calloc(1, sizeof(Case));
	Arena a;
	bool ok;

	if (!c)
		return false;
	c->seed = seed;
	c->rng = rng_seed(seed);
	c->exact = true;
	diag_init(&c->diag);
	loop_init(&c->p, &c->diag, "prop");
	arena_init(&a);
	ok = case_body(c, &a);
	if (show && c->text) {
		printf("# seed %llu, untransformed\n%s", (unsigned long long)seed, c->text);
		printf("# transformed:%s\n", c->seq);
		loop_print(&c->p, stdout, 0);
	}
	if (!ok || verbose)
		printf("%s seed %llu %s:%s%s%s\n", ok ? "ok  " : "FAIL", (unsigned long long)seed,
		       kind_names[c->sh.kind], c->seq, ok ? "" : "\n  ", ok ? "" : c->why);
	arena_free(&a);
	loop_free(&c->p);
	diag_free(&c->diag);
	free(c->text);
	free(c);
	return ok;
}

/*
 * Directed checks: fixed programs and transform requests with the status
 * and diagnostic expected of the last request, or, when it applies, the
 * kernel it must print (golden text).
 */

static const char mm_text[] =
	"level dram\n"
	"level gbuf 4096\n"
	"level reg 16\n"
	"\n"
	"buf A : f32[4, 6] @dram input \"a\"\n"
	"buf B : f32[6, 5] @dram input \"b\"\n"
	"buf Y : f32[4, 5] @dram output \"y\"\n"
	"\n"
	"kernel mm {\n"
	"\tfor m in 0..4 {\n"
	"\t\tfor n in 0..5 {\n"
	"\t\t\tfill Y[m, n] = 0.0\n"
	"\t\t\tfor k in 0..6 {\n"
	"\t\t\t\tmac Y[m, n] += A[m, k] * B[k, n] : f32 * f32 -> f32\n"
	"\t\t\t}\n"
	"\t\t}\n"
	"\t}\n"
	"\tfor m in 0..4 {\n"
	"\t\tfor h in 0..2 {\n"
	"\t\t\tapply Y[m, 2*h] = Relu(Y[m, 2*h])\n"
	"\t\t\tapply Y[m, 2*h + 1] = Relu(Y[m, 2*h + 1])\n"
	"\t\t\tcopy Y[m, h/2 + 2] = Y[m, h/2 + 2]\n"
	"\t\t}\n"
	"\t}\n"
	"\tfor q in 0..4 {\n"
	"\t\tfor j in 0..2 {\n"
	"\t\t\tcopy Y[q, 4] = A[q, j]\n"
	"\t\t}\n"
	"\t}\n"
	"\tfor u in 0..4 {\n"
	"\t\tfor v in 0..2 {\n"
	"\t\t\tcopy Y[u, v] = A[u, v]\n"
	"\t\t\tcopy Y[u, v + 2] = A[0, u + v]\n"
	"\t\t}\n"
	"\t}\n"
	"}\n";

static const char mm_split_k[] =
	"kernel mm {\n"
	"\tfor m in 0..4 {\n"
	"\t\tfor n in 0..5 {\n"
	"\t\t\tfill Y[m, n] = 0.0\n"
	"\t\t\tfor ko in 0..4 step 4 {\n"
	"\t\t\t\tfor ki in 0..4 {\n"
	"\t\t\t\t\tmac Y[m, n] += A[m, ko + ki] * B[ko + ki, n] : f32 * f32 -> f32\n"
	"\t\t\t\t}\n"
	"\t\t\t}\n"
	"\t\t\tfor kr in 4..6 {\n"
	"\t\t\t\tmac Y[m, n] += A[m, kr] * B[kr, n] : f32 * f32 -> f32\n"
	"\t\t\t}\n"
	"\t\t}\n"
	"\t}\n";

static const char mm_dbuf_b[] =
	"kernel mm {\n"
	"\tbuf B_gbuf : f32[2, 6, 1] @gbuf\n"
	"\tfor m in 0..4 {\n"
	"\t\tfor b0 in 0..6 {\n"
	"\t\t\tcopy B_gbuf[0, b0, 0] = B[b0, 0]\n"
	"\t\t}\n"
	"\t\tfor n in 0..4 {\n"
	"\t\t\tfor b0 in 0..6 {\n"
	"\t\t\t\tcopy B_gbuf[(n + 1)%2, b0, 0] = B[b0, n + 1]\n"
	"\t\t\t}\n"
	"\t\t\tfill Y[m, n] = 0.0\n"
	"\t\t\tfor k in 0..6 {\n"
	"\t\t\t\tmac Y[m, n] += A[m, k] * B_gbuf[n%2, k, 0] : f32 * f32 -> f32\n"
	"\t\t\t}\n"
	"\t\t}\n"
	"\t\tfill Y[m, 4] = 0.0\n"
	"\t\tfor k in 0..6 {\n"
	"\t\t\tmac Y[m, 4] += A[m, k] * B_gbuf[0, k, 0] : f32 * f32 -> f32\n"
	"\t\t}\n"
	"\t}\n";

typedef struct Directed {
	const char *name;
	const char *text;        /* the program; NULL: a scan or cumsum of 3x5 */
	Kind kind;               /* with text NULL */
	const char *steps;       /* requests separated by ';' */
	Status want;             /* status of the last request */
	const char *expect;      /* a part of its diagnostic, or the golden kernel */
} Directed;

static const Directed directed[] = {
	{ "split by 0", mm_text, 0, "split m 0", ST_INVALID, "the tile must lie in 1..4" },
	{ "split beyond the extent", mm_text, 0, "split n 6", ST_INVALID, "1..5 (the extent)" },
	{ "split with a remainder", mm_text, 0, "split k 4", ST_OK, mm_split_k },
	{ "reorder: not a permutation", mm_text, 0, "reorder m 0,0", ST_INVALID,
	  "not a permutation of 0..1" },
	{ "reorder: imperfect band", mm_text, 0, "reorder n 1,0", ST_UNSUPPORTED,
	  "the body of loop 'n' is not exactly one loop" },
	{ "reorder: fill in the band", mm_text, 0, "reorder m 1,0", ST_UNSUPPORTED,
	  "'Y' is accumulated in the band and also read" },
	{ "reorder: two writes of one element", mm_text, 0, "reorder q 1,0", ST_UNSUPPORTED,
	  "the band writes 'Y' at indices that are not one-to-one" },
	{ "reorder: two index maps", mm_text, 0, "reorder u 1,0", ST_UNSUPPORTED,
	  "'Y' is written in the band and accessed there at other indices" },
	{ "reorder: scan", NULL, K_SCAN, "reorder r 1,0", ST_UNSUPPORTED,
	  "'P' is written in the band and accessed there at other indices" },
	{ "reorder: scan rows", NULL, K_SCAN, "reorder i 1,0", ST_OK, "kernel scan {\n\tfor j" },
	{ "reorder: accumulator read", NULL, K_CUMSUM, "reorder r 1,0", ST_UNSUPPORTED,
	  "'S' is accumulated in the band and also read" },
	{ "hoist: not used", mm_text, 0, "hoist j B reg", ST_UNSUPPORTED,
	  "cannot hoist 'B': the body does not use it" },
	{ "hoist: does not fit", mm_text, 0, "hoist n A reg", ST_UNSUPPORTED,
	  "its tile (24 bytes) does not fit level 'reg' (0 of 16 bytes in use)" },
	{ "hoist: not affine", mm_text, 0, "hoist h Y gbuf", ST_UNSUPPORTED,
	  "cannot hoist 'Y': index 1 is not affine" },
	{ "hoist: origin differs", mm_text, 0, "hoist u A gbuf", ST_UNSUPPORTED,
	  "index 0 moves differently with the outer loops" },
	{ "double buffer: a program buffer", mm_text, 0, "double_buffer n B", ST_INVALID,
	  "not a buffer of this kernel" },
	{ "double buffer: a covering write", mm_text, 0, "hoist j Y reg; double_buffer j Y_reg",
	  ST_OK, "kernel mm {\n\tbuf Y_reg : f32[2, 1, 1] @reg\n" },
	{ "double buffer: no copy-in", mm_text, 0, "hoist k A reg; double_buffer n A_reg",
	  ST_UNSUPPORTED, "the body does not start with a copy-in" },
	{ "double buffer: accumulator", mm_text, 0, "split k 2; hoist ki Y reg; "
	  "double_buffer ki Y_reg", ST_UNSUPPORTED, "the tiles of consecutive iterations may "
	  "overlap and the body writes them back" },
	{ "double buffer: runs once", mm_text, 0, "split k 6; hoist ko A gbuf; "
	  "double_buffer ko A_gbuf", ST_UNSUPPORTED, "the loop runs once" },
	{ "double buffer: overlapping tiles", NULL, K_SCAN, "hoist c P reg; double_buffer c P_reg",
	  ST_UNSUPPORTED, "the tiles of consecutive iterations may overlap" },
	{ "double buffer: used outside", mm_text, 0, "hoist n B gbuf; double_buffer b0 B_gbuf",
	  ST_UNSUPPORTED, "it is used outside the loop" },
	{ "hoist and double buffer", mm_text, 0, "hoist n B gbuf; double_buffer n B_gbuf", ST_OK,
	  mm_dbuf_b },
};

/* The first loop named var, depth first. */
static int loop_named(const LoopProgram *p, int first, const char *var)
{
	for (int n = first; n >= 0; n = p->nodes[n].next) {
		int f;

		if (p->nodes[n].kind != LN_FOR)
			continue;
		if (strcmp(p->nodes[n].var, var) == 0)
			return n;
		if ((f = loop_named(p, p->nodes[n].body, var)) >= 0)
			return f;
	}
	return -1;
}

/* One request "VERB LOOP ARGS", as in the table. */
static Status request(LoopProgram *p, char *req)
{
	char verb[32] = "", var[32] = "", a1[64] = "", a2[32] = "";
	int f, perm[8], n = 0, local, o, i;

	sscanf(req, "%31s %31s %63s %31s", verb, var, a1, a2);
	f = loop_named(p, p->kernels[0].body, var);
	if (strcmp(verb, "split") == 0)
		return pass_split(p, f, atoi(a1), &o, &i);
	if (strcmp(verb, "reorder") == 0) {
		for (char *s = strtok(a1, ","); s && n < 8; s = strtok(NULL, ","))
			perm[n++] = atoi(s);
		return pass_reorder(p, f, perm, n);
	}
	if (strcmp(verb, "hoist") == 0)
		return pass_hoist(p, f, loop_find_buf(p, a1), loop_find_level(p, a2), &local);
	if (strcmp(verb, "double_buffer") == 0)
		return pass_double_buffer(p, f, loop_find_buf(p, a1));
	return ST_INTERNAL;
}

/* t's program into p, with diagnostics into d: ST_OK when it parses and
 * verifies.  p is to be freed in any case. */
static Status directed_program(const Directed *t, LoopProgram *p, Diag *d)
{
	Shape sh = { .kind = t->kind, .m = 3, .nn = 5 };
	size_t len;
	char *text = t->text ? strdup(t->text) : program_text(&sh, &len);
	Status st;

	loop_init(p, d, "directed");
	if (!text)
		return diag_add(d, ST_NOMEM, "directed: out of memory");
	st = loop_parse(p, "directed", text, strlen(text));
	if (st == ST_OK)
		st = loop_verify(p);
	free(text);
	return st;
}

/* t's requests on p in order until one does not give ST_OK, each followed
 * by loop_verify when verify is set; the last status. */
static Status directed_steps(const Directed *t, LoopProgram *p, bool verify)
{
	char *steps = strdup(t->steps), *save = NULL;
	Status st = ST_INTERNAL;

	for (char *r = steps ? strtok_r(steps, ";", &save) : NULL; r; r = strtok_r(NULL, ";", &save)) {
		st = request(p, r);
		if (st == ST_OK && verify && loop_verify(p) != ST_OK)
			st = ST_INTERNAL;
		if (st != ST_OK)
			break;
	}
	free(steps);
	return st;
}

static bool run_directed(const Directed *t)
{
	char *got = NULL;
	size_t len;
	Diag d;
	LoopProgram p;
	Status st = ST_INTERNAL;
	bool ok;

	diag_init(&d);
	ok = directed_program(t, &p, &d) == ST_OK;
	if (ok)
		st = directed_steps(t, &p, true);
	if (ok && st == ST_OK && t->want == ST_OK) {
		got = print_program(&p, &len);
		ok = got && strstr(got, "kernel") &&
		     strncmp(strstr(got, "kernel"), t->expect, strlen(t->expect)) == 0;
	} else {
		ok = ok && st == t->want && d.n == 1 && strstr(d.msg[0].text, t->expect);
	}
	printf("%s directed: %s\n", ok ? "ok  " : "FAIL", t->name);
	if (!ok) {
		printf("  status %s, expected %s\n", status_name(st), status_name(t->want));
		diag_print(&d, stdout);
		if (got && strstr(got, "kernel"))
			printf("%s", strstr(got, "kernel"));
	}
	free(got);
	loop_free(&p);
	diag_free(&d);
	return ok;
}

static Status directed_run(const void *ctx, Diag *d)
{
	LoopProgram p;
	Status st = directed_program(ctx, &p, d);

	if (st == ST_OK)
		st = directed_steps(ctx, &p, false);
	loop_free(&p);
	return st;
}

/* t's program parsed and its requests made with each allocation failing in
 * turn (tests/test_util.h): ST_NOMEM and one "out of memory" message every
 * time, until the failure would come after the last allocation, when they
 * end as t says. */
static bool run_directed_nomem(const Directed *t)
{
	long runs;
	bool ok = test_alloc_sweep(directed_run, t, t->want, t->want == ST_OK ? NULL : t->expect,
	                           &runs);

	printf("%s directed, every allocation failing: %s (%ld allocations)\n", ok ? "ok  " : "FAIL",
	       t->name, runs - 1);
	return ok;
}

int main(int argc, char **argv)
{
	long cases = DEFAULT_CASES, passed = 0, failed = 0;
	bool single = false, show = false, verbose = false;
	uint64_t seed = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc)
			cases = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 10);
			single = true;
		} else if (strcmp(argv[i], "--print") == 0)
			show = true;
		else if (strcmp(argv[i], "--verbose") == 0)
			verbose = verbose_refusals = true;
		else {
			fprintf(stderr, "usage: %s [--cases N] [--seed S] [--print] [--verbose]\n", argv[0]);
			return 2;
		}
	}
	for (size_t i = 0; !single && i < ARRAY_LEN(directed); i++) {
		if (run_directed(&directed[i]))
			passed++;
		else
			failed++;
	}
	for (size_t i = 0; !single && i < ARRAY_LEN(directed); i++) {
		if (run_directed_nomem(&directed[i]))
			passed++;
		else
			failed++;
	}
	if (single) {
		if (run_case(seed, show, true))
			passed++;
		else
			failed++;
	}
	for (long i = 0; !single && i < cases; i++) {
		if (run_case((uint64_t)i, false, verbose))
			passed++;
		else
			failed++;
	}
	for (int m = 0; m < M_COUNT; m++)
		printf("%-14s tried %5ld, applied %5ld\n", move_names[m], tried[m], applied[m]);
	printf("results compared bit for bit with the untransformed program: %ld\n", bitwise);
	if (!single && cases > 0) {
		bool every = true;

		for (int m = 0; m < M_COUNT; m++)
			every = every && applied[m] * 20 >= tried[m] && applied[m] > 0;
		printf("%s every transform applied in at least 5%% of its attempts\n",
		       every ? "ok  " : "FAIL");
		passed += every;
		failed += !every;
	}
	printf("loop-prop: %ld passed, %ld failed\n", passed, failed);
	return failed ? 1 : 0;
}
