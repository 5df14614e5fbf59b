/*
 * nnac-looptext: the test driver of the loop IR's textual form.
 *
 *     nnac-looptext DIR...
 *
 * Every DIR/NAME.loop is one case, told apart by its first line:
 *   - `# expect: TEXT`: the parser, or the verifier when it parses, must
 *     refuse the file with exactly one diagnostic containing TEXT (e.g.
 *     `3:14: error: unknown buffer 'Q'`);
 *   - anything else: a canonical file.  It must parse, pass the verifier,
 *     and print back byte for byte (the first differing line is reported).
 *
 * Then checks that need code rather than a file: reading a missing file,
 * the caret line under a tab-indented error, printing a program built with
 * the builders, LOOP_PRINT_NO_DATA, allocation failure at every allocation
 * of a parse and of a refused parse, and running the DianNao examples of tests/loop/ in the
 * interpreter against the same layers computed directly here.
 *
 * Ends with `loop-text: P passed, F failed`; exits 1 if anything failed.
 */
#include "loop.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static const char *example_dir;    /* the folder holding diannao_*.loop */

/* loop_print into fresh malloc'd memory. */
static char *print_program(const LoopProgram *p, unsigned flags)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		return NULL;
	loop_print(p, f, flags);
	fclose(f);
	return s;
}

/* Checks that got is want[0 .. len); a failure shows the first line where
 * they differ. */
static void check_same_text(const char *name, const char *want, size_t len, const char *got)
{
	int line = 1;
	size_t i = 0;

	while (want[i] && want[i] == got[i]) {
		if (want[i] == '\n')
			line++;
		i++;
	}
	while (i > 0 && want[i - 1] != '\n')
		i--;
	check(strlen(got) == len && memcmp(got, want, len) == 0,
	      "%s:%d: printed text differs\n  expected: %.*s\n  printed:  %.*s", name, line,
	      (int)strcspn(want + i, "\n"), want + i, (int)strcspn(got + i, "\n"), got + i);
}

static void print_diags(const Diag *d)
{
	for (int i = 0; i < d->n; i++)
		printf("  %s\n", d->msg[i].text);
}

static void good_case(const char *path, const char *text, size_t len)
{
	Diag d;
	LoopProgram p;
	char *out;

	diag_init(&d);
	loop_init(&p, &d, path);
	if (loop_parse(&p, path, text, len) != ST_OK) {
		check(false, "%s: does not parse", path);
		print_diags(&d);
	} else if (loop_verify(&p) != ST_OK) {
		check(false, "%s: parses but fails the verifier", path);
		print_diags(&d);
	} else if (!(out = print_program(&p, 0))) {
		check(false, "%s: cannot print to memory", path);
	} else {
		check_same_text(path, text, len, out);
		free(out);
	}
	loop_free(&p);
	diag_free(&d);
}

static void bad_case(const char *path, const char *text, size_t len)
{
	const char *expect = text + strlen("# expect: ");
	char *want = strndup(expect, strcspn(expect, "\n"));
	Diag d;
	LoopProgram p;
	Status st;

	diag_init(&d);
	loop_init(&p, &d, path);
	st = loop_parse(&p, path, text, len);
	if (st == ST_OK)
		st = loop_verify(&p);
	if (st == ST_OK)
		check(false, "%s: parses and verifies, but should not", path);
	else if (d.n != 1 || !strstr(d.msg[0].text, want)) {
		check(false, "%s: wrong diagnostic", path);
		printf("  expected: %s\n", want);
		print_diags(&d);
	} else {
		check(st == ST_INVALID, "%s: status is not ST_INVALID", path);
	}
	loop_free(&p);
	diag_free(&d);
	free(want);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_case(const char *path)
{
	size_t len;
	char *text = read_file(path, &len);

	if (!text) {
		check(false, "%s: cannot read", path);
		return;
	}
	if (strncmp(text, "# expect: ", 10) == 0)
		bad_case(path, text, len);
	else
		good_case(path, text, len);
	free(text);
}

static void run_dir(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	int n = 0, cap = 0;

	if (!dp) {
		check(false, "%s: cannot open the folder", dir);
		return;
	}
	while ((e = readdir(dp))) {
		size_t l = strlen(e->d_name);

		if (l < 6 || strcmp(e->d_name + l - 5, ".loop") != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, (size_t)cap * sizeof(*names));
		}
		names[n] = malloc(strlen(dir) + l + 2);
		sprintf(names[n++], "%s/%s", dir, e->d_name);
		if (!example_dir && strcmp(e->d_name, "diannao_conv.loop") == 0)
			example_dir = dir;
	}
	closedir(dp);
	qsort(names, (size_t)n, sizeof(*names), by_name);
	for (int i = 0; i < n; i++) {
		run_case(names[i]);
		free(names[i]);
	}
	free(names);
	check(n > 0, "%s: holds no .loop file", dir);
}

/* ---- checks written in code ---- */

static void check_missing_file(void)
{
	Diag d;
	LoopProgram p;

	diag_init(&d);
	loop_init(&p, &d, "nope.loop");
	check(loop_parse_file(&p, "/nonexistent/nope.loop") == ST_IO, "missing file: status");
	check(d.n == 1 && strcmp(d.msg[0].text, "/nonexistent/nope.loop: cannot read: No such "
	                         "file or directory") == 0, "missing file: message");
	loop_free(&p);
	diag_free(&d);
}

/* One error in text as three lines; the caret line keeps the tabs. */
static void check_caret(void)
{
	static const char text[] =
		"buf A : f32[4] @dram\n";
	static const char text2[] =
		"level dram\n"
		"buf A : f32[4] @dram\n"
		"kernel k {\n"
		"\tfor i in 0..4 {\n"
		"\t\tfill  A[j] = 0\n"
		"\t}\n"
		"}\n";
	Diag d;
	LoopProgram p;

	diag_init(&d);
	loop_init(&p, &d, "t.loop");
	loop_parse(&p, "t.loop", text, strlen(text));
	check(d.n == 1 && strcmp(d.msg[0].text, "t.loop:1:17: error: unknown level 'dram'\n"
	                         "buf A : f32[4] @dram\n"
	                         "                ^") == 0, "caret: message at column 17");
	loop_free(&p);
	diag_free(&d);

	diag_init(&d);
	loop_init(&p, &d, "t.loop");
	loop_parse(&p, "t.loop", text2, strlen(text2));
	check(d.n == 1 && strcmp(d.msg[0].text, "t.loop:5:11: error: unknown loop variable 'j'\n"
	                         "\t\tfill  A[j] = 0\n"
	                         "\t\t        ^") == 0, "caret: tabs kept in the caret line");
	loop_error_at(&p, 0, 0, ST_INVALID, "kernel '%s': no position", "k");
	check(d.n == 2 && strcmp(d.msg[1].text, "t.loop: kernel 'k': no position") == 0,
	      "caret: line 0 gives FILE: MSG");
	loop_free(&p);
	diag_free(&d);
}

static const char built_text[] =
	"level dram\n"
	"level reg 64\n"
	"\n"
	"buf A : f32[4, 8] @dram input \"a\\\"in\"\n"
	"buf B : f32[9] @dram const\n"
	"buf Y : f32[4] @dram output \"y\"\n"
	"\n"
	"# one row at a time\n"
	"kernel gemv \"MatMul_0\" {\n"
	"\tbuf acc : f32[] @reg\n"
	"\tfor i in 0..4 spatial {\n"
	"\t\tfill acc[] = 0.0\n"
	"\t\tfor k in 0..8 step 2 {\n"
	"\t\t\tmac acc[] += A[i, k - 1] * B[7 - k] : f32 * f32 -> f32\n"
	"\t\t}\n"
	"\t\tapply Y[i] = LeakyRelu(acc[]) alpha=0.25\n"
	"\t}\n"
	"}\n"
	"\n"
	"data B = {\n"
	"\t1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.5,\n"
	"\t0.0\n"
	"}\n";

/* A program made with the builders, as a pass would make it. */
static void build_gemv(LoopProgram *p)
{
	int64_t da[2] = { 4, 8 }, db[1] = { 9 }, dy[1] = { 4 };
	int dram, reg, a, b, y, acc, k, li, lk, s, idx[2];
	float *data;

	dram = loop_add_level(p, "dram", 0);
	reg = loop_add_level(p, "reg", 64);
	a = loop_add_buf(p, "A", DT_F32, 2, da, dram, -1);
	b = loop_add_buf(p, "B", DT_F32, 1, db, dram, -1);
	y = loop_add_buf(p, "Y", DT_F32, 1, dy, dram, -1);
	p->bufs[a].flags = LB_INPUT;
	p->bufs[a].tensor = "a\"in";
	p->bufs[b].flags = LB_CONST;
	data = arena_alloc(&p->arena, 9 * sizeof(float));
	for (int i = 0; i < 9; i++)
		data[i] = i < 7 ? (float)(i + 1) : i == 7 ? 8.5f : 0.0f;
	p->bufs[b].data = data;
	p->bufs[y].flags = LB_OUTPUT;
	p->bufs[y].tensor = "y";
	k = loop_add_kernel(p, "gemv", "MatMul_0");
	p->kernels[k].doc = " one row at a time";
	acc = loop_add_buf(p, "acc", DT_F32, 0, NULL, reg, k);
	li = loop_new_for(p, "i", 0, 4, 1);
	p->nodes[li].flags = LF_SPATIAL;
	loop_append(p, &p->kernels[k].body, li);
	s = loop_new_stmt(p, LN_FILL);
	loop_push_arg(p, s, loop_ref(acc, 0, NULL));
	loop_push_arg(p, s, loop_lit_float(0));
	loop_append(p, &p->nodes[li].body, s);
	lk = loop_new_for(p, "k", 0, 4, 2);
	loop_append(p, &p->nodes[li].body, lk);
	s = loop_new_stmt(p, LN_MAC);
	idx[0] = loop_var(p, li);
	idx[1] = loop_add_const(p, loop_var(p, lk), -1);
	loop_push_arg(p, s, loop_ref(acc, 0, NULL));
	loop_push_arg(p, s, loop_ref(a, 2, idx));
	idx[0] = loop_sub(p, loop_const(p, 7), loop_var(p, lk));
	loop_push_arg(p, s, loop_ref(b, 1, idx));
	loop_append(p, &p->nodes[lk].body, s);
	s = loop_new_stmt(p, LN_APPLY);
	p->nodes[s].fn = OP_LeakyRelu;
	loop_apply_defaults(OP_LeakyRelu, &p->nodes[s].alpha, &p->nodes[s].beta,
	                    &p->nodes[s].gamma);
	p->nodes[s].alpha = 0.25;
	idx[0] = loop_var(p, li);
	loop_push_arg(p, s, loop_ref(y, 1, idx));
	loop_push_arg(p, s, loop_ref(acc, 0, NULL));
	loop_append(p, &p->nodes[li].body, s);
}

static void check_built(void)
{
	Diag d;
	LoopProgram p, q;
	char *out, *again, *nodata;
	size_t keep;

	diag_init(&d);
	loop_init(&p, &d, "built");
	build_gemv(&p);
	check(!p.oom, "built: builders ran out of memory");
	out = print_program(&p, 0);
	nodata = print_program(&p, LOOP_PRINT_NO_DATA);
	if (out)
		check_same_text("built", built_text, strlen(built_text), out);
	else
		check(false, "built: cannot print to memory");
	keep = (size_t)(strstr(built_text, "}\n\ndata") - built_text) + 2;
	check(nodata && strlen(nodata) == keep && strncmp(nodata, built_text, keep) == 0,
	      "built: LOOP_PRINT_NO_DATA leaves out the data blocks");
	loop_init(&q, &d, "built.loop");
	check(loop_parse(&q, "built.loop", built_text, strlen(built_text)) == ST_OK,
	      "built: printed form parses");
	again = print_program(&q, 0);
	check(again && strcmp(again, built_text) == 0, "built: reprinted form");
	free(out);
	free(nodata);
	free(again);
	loop_free(&q);
	loop_free(&p);
	diag_free(&d);
}

typedef struct LoopText {
	const char *path, *text;
	size_t len;
} LoopText;

static Status parse_text(const void *ctx, Diag *d)
{
	const LoopText *t = ctx;
	LoopProgram p;
	Status st;

	loop_init(&p, d, t->path);
	st = loop_parse(&p, t->path, t->text, t->len);
	loop_free(&p);
	return st;
}

/* Every allocation of a parse fails in turn: each run reports out of
 * memory (or succeeds once the failure comes after the last allocation).
 * Then the same for a file the parser refuses, where a failure while the
 * error is reported (its message, the caret line) is out of memory as well
 * and the last run gives the error itself. */
static void check_alloc_failure(void)
{
	static const char refused[] =
		"level dram\n"
		"buf X : f32[4] @dram input \"x\"\n"
		"buf Y : f32[4] @dram output \"y\"\n"
		"kernel k {\n"
		"\tfor i in 0..4 {\n"
		"\t\tapply Y[i] = Relu(X[i], X[i])\n"
		"\t}\n"
		"}\n";
	char path[512];
	LoopText t = { path, NULL, 0 };
	char *text;
	long runs;

	snprintf(path, sizeof(path), "%s/diannao_conv.loop", example_dir ? example_dir : ".");
	if (!(text = read_file(path, &t.len))) {
		check(false, "%s: cannot read for the allocation-failure test", path);
		return;
	}
	t.text = text;
	check(test_alloc_sweep(parse_text, &t, ST_OK, NULL, &runs) && runs > 2,
	      "allocation failure: every failed allocation reports out of memory");
	free(text);
	t = (LoopText){ "refused.loop", refused, sizeof(refused) - 1 };
	check(test_alloc_sweep(parse_text, &t, ST_INVALID,
	                       "refused.loop:6:16: error: Relu takes 1 operand, not 2", &runs) &&
	      runs > 4, "allocation failure: a refused file reports its error or out of memory");
}

/* ---- the DianNao examples, run ---- */

/* The program of tests/loop/NAME, parsed and verified, or false. */
static bool load_example(LoopProgram *p, Diag *d, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", example_dir ? example_dir : ".", name);
	loop_init(p, d, path);
	if (loop_parse_file(p, path) == ST_OK && loop_verify(p) == ST_OK)
		return true;
	print_diags(d);
	return false;
}

static const float *const_data(const LoopProgram *p, const char *name)
{
	int b = loop_find_buf(p, name);

	return b >= 0 ? p->bufs[b].data : NULL;
}

/* Runs p on one input filled by a seeded generator; the output in *out. */
static bool run_example(LoopProgram *p, Arena *a, float **in, Value *out)
{
	int b = loop_input_buf(p, 0);
	Value v;
	uint32_t seed = 12345;

	memset(&v, 0, sizeof(v));
	val_set_type(&v, p->bufs[b].dt, p->bufs[b].rank, p->bufs[b].dims);
	if (!val_alloc(a, &v))
		return false;
	*in = v.data;
	for (int64_t i = 0; i < val_numel(&v); i++) {
		seed = seed * 1664525u + 1013904223u;
		(*in)[i] = (float)((int)(seed >> 9) % 2001 - 1000) / 1000.0f;
	}
	return loop_run(p, a, &v, out) == ST_OK;
}

/* got against want with a relative bound: the sums run in other orders. */
static bool close_to(const float *got, const double *want, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (!(fabs(got[i] - want[i]) <= 1e-4 * (1 + fabs(want[i])))) {
			printf("  element %lld: %.9g, expected %.9g\n", (long long)i, got[i], want[i]);
			return false;
		}
	return true;
}

/* Classifier: y[n] = sigmoid(sum_i synapse[n][i] * x[i]), Nn = Ni = 64. */
static void check_classifier(void)
{
	enum { NN = 64, NI = 64 };
	Diag d;
	LoopProgram p;
	Arena a;
	Value out;
	float *x;
	const float *w;
	double want[NN];

	diag_init(&d);
	arena_init(&a);
	if (!load_example(&p, &d, "diannao_classifier.loop") || !(w = const_data(&p, "synapse")) ||
	    !run_example(&p, &a, &x, &out)) {
		check(false, "diannao_classifier: does not load or run");
		print_diags(&d);
	} else {
		for (int n = 0; n < NN; n++) {
			double s = 0;

			for (int i = 0; i < NI; i++)
				s += (double)w[n * NI + i] * x[i];
			want[n] = 1 / (1 + exp(-s));
		}
		check(val_numel(&out) == NN && close_to(out.data, want, NN),
		      "diannao_classifier: interpreter result differs from the direct computation");
	}
	arena_free(&a);
	loop_free(&p);
	diag_free(&d);
}

/* Convolution: 8 input maps 14x14, 16 output maps 12x12, 3x3, bias, ReLU. */
static void check_conv(void)
{
	enum { NI = 8, NO = 16, IN = 14, K = 3, ON = IN - K + 1 };
	static double want[NO * ON * ON];
	Diag d;
	LoopProgram p;
	Arena a;
	Value out;
	float *x;
	const float *w, *bias;

	diag_init(&d);
	arena_init(&a);
	if (!load_example(&p, &d, "diannao_conv.loop") || !(w = const_data(&p, "synapse")) ||
	    !(bias = const_data(&p, "bias")) || !run_example(&p, &a, &x, &out)) {
		check(false, "diannao_conv: does not load or run");
		print_diags(&d);
	} else {
		for (int o = 0; o < NO; o++)
			for (int y = 0; y < ON; y++)
				for (int xx = 0; xx < ON; xx++) {
					double s = bias[o];

					for (int i = 0; i < NI; i++)
						for (int ky = 0; ky < K; ky++)
							for (int kx = 0; kx < K; kx++)
								s += (double)w[((o * NI + i) * K + ky) * K + kx] *
								     x[(i * IN + y + ky) * IN + xx + kx];
					want[(o * ON + y) * ON + xx] = s > 0 ? s : 0;
				}
		check(val_numel(&out) == NO * ON * ON && close_to(out.data, want, NO * ON * ON),
		      "diannao_conv: interpreter result differs from the direct computation");
	}
	arena_free(&a);
	loop_free(&p);
	diag_free(&d);
}

/* Max pooling 2x2, stride 2, over 16 maps of 12x12. */
static void check_pool(void)
{
	enum { NM = 16, IN = 12, ON = IN / 2 };
	double want[NM * ON * ON];
	Diag d;
	LoopProgram p;
	Arena a;
	Value out;
	float *x;

	diag_init(&d);
	arena_init(&a);
	if (!load_example(&p, &d, "diannao_pool.loop") || !run_example(&p, &a, &x, &out)) {
		check(false, "diannao_pool: does not load or run");
		print_diags(&d);
	} else {
		for (int m = 0; m < NM; m++)
			for (int y = 0; y < ON; y++)
				for (int xx = 0; xx < ON; xx++) {
					double v = -INFINITY;

					for (int ky = 0; ky < 2; ky++)
						for (int kx = 0; kx < 2; kx++)
							v = fmax(v, x[(m * IN + 2 * y + ky) * IN + 2 * xx + kx]);
					want[(m * ON + y) * ON + xx] = v;
				}
		check(val_numel(&out) == NM * ON * ON && close_to(out.data, want, NM * ON * ON),
		      "diannao_pool: interpreter result differs from the direct computation");
	}
	arena_free(&a);
	loop_free(&p);
	diag_free(&d);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: nnac-looptext DIR...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		run_dir(argv[i]);
	check_missing_file();
	check_caret();
	check_built();
	check_alloc_failure();
	check_classifier();
	check_conv();
	check_pool();
	return test_summary("loop-text");
}
