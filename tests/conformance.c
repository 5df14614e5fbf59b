/*
 * The ONNX backend-test conformance driver.
 *
 * For every case folder (model.onnx plus test_data_set_N/{input,output}_K.pb)
 * under the test-data roots, it imports the model, infers shapes, runs the
 * reference interpreter on each data set and compares every output with the
 * shipped expectation (CMP_RTOL, CMP_ATOL from runtime/compare.h: the ONNX
 * backend-test defaults rtol 1e-3, atol 1e-7; integers exact).
 *
 * A case is "unsupported" when nnac reports only ST_UNSUPPORTED problems for
 * it (an op, attribute value or element type it does not handle, the same
 * diagnostics `nnac check` prints); any other problem, or a wrong number, is
 * a failure.  Prints a per-op table and a last line
 *     conformance: P passed, F failed, U unsupported
 * and exits 1 when anything failed.
 *
 * With --loops it is the loop-IR conformance pass instead: each case whose
 * graph-interpreter result matches the expectation is also lowered (with
 * the graph optimizations and fusion), verified, run on the loop-IR
 * interpreter and compared with the graph interpreter's outputs
 * (compare_loop_values: integers exact, floats CMP_RTOL relative plus
 * CMP_LOOP_ATOL_REL of the output's largest magnitude).  A case with a
 * node nnac cannot lower is unsupported.  The last line then reads
 *     loop-conformance: P passed, F failed, U unsupported
 * (--label sets the name before the colon).
 *
 * With --cpu the lowered program is also compiled by the CPU backend
 * (backends/cpu, at optimization level 2 or --cpu-opt N), loaded (runtime/cpu_so.h) and run
 * on buffers this driver allocates (64-byte aligned, views inside their
 * base, constants and inputs copied in, every other buffer filled with
 * 0xff bytes so that code reading memory it did not write shows), and
 * compared with the graph interpreter as --loops does.  A statement the
 * backend does not compile is unsupported.  The last line reads
 *     cpu-conformance: P passed, F failed, U unsupported
 * after a line with the time the whole run took.
 *
 * usage: nnac-conformance [--filter SUBSTR] [-v] [--optimize] [--loops] [--cpu] [--cpu-opt N]
 *                         [--label NAME] [ROOT...]
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "compare.h"
#include "cpu_codegen.h"
#include "cpu_so.h"
#include "interp.h"
#include "loop.h"
#include "onnx.h"
#include "passes.h"

#define DEFAULT_ROOT "/usr/share/libonnx-testdata/data"
static const char *const default_suites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

typedef enum Outcome { PASS, FAIL, UNSUP } Outcome;

typedef struct OpStat {
	int n[3];
} OpStat;

typedef struct Options {
	const char *filter;
	bool verbose;
	bool optimize;
	bool loops;
	bool cpu;            /* with loops: run the CPU backend's code, not the loop interpreter */
	int cpu_opt;         /* the CPU backend's optimization level, 0..3 */
	const char *label;   /* name on the summary line */
} Options;

static OpStat op_stats[OP_COUNT + 1];
static int totals[3];

static bool is_dir(const char *p)
{
	struct stat s;
	return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

static bool exists(const char *p)
{
	struct stat s;
	return stat(p, &s) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of a folder (malloc'd; free with free_list). */
static char **list_dir(const char *path, int *count)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **v = NULL;
	int n = 0, cap = 0;

	*count = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			v = realloc(v, (size_t)cap * sizeof(*v));
		}
		v[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(v, (size_t)n, sizeof(*v), cmp_str);
	*count = n;
	return v;
}

static void free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool only_unsupported(const Diag *d)
{
	if (d->n == 0)
		return false;
	for (int i = 0; i < d->n; i++)
		if (d->msg[i].status != ST_UNSUPPORTED)
			return false;
	return true;
}

/*
 * The ONNX test generator stores bfloat16 tensors as uint16 (NumPy has no
 * bfloat16): when the model declares bf16 and the file holds u16 bits of
 * the same shape, they are the bf16 bits.
 */
static void bf16_bits(Value *v, DType declared)
{
	if (declared == DT_BF16 && v->dt == DT_U16)
		v->dt = DT_BF16;
}

/* Binds input_K.pb files to graph inputs, by tensor name when it matches.
 * Data of another shape than the declared one is ST_UNSUPPORTED: nnac
 * compiles for the model's static shapes. */
static Status load_inputs(Graph *g, const char *set, Arena *a, Value *in)
{
	for (int k = 0; k < g->ninputs; k++) {
		char path[4096], got[128], want[128];
		const char *name;
		const Tensor *t;
		Value v;
		Status st;
		int slot = k;

		snprintf(path, sizeof(path), "%s/input_%d.pb", set, k);
		st = onnx_read_tensor_file(path, a, g->diag, &v, &name);
		if (st != ST_OK)
			return st;
		for (int j = 0; j < g->ninputs; j++)
			if (*name && strcmp(name, g->tensors[g->inputs[j]].name) == 0)
				slot = j;
		t = &g->tensors[g->inputs[slot]];
		bf16_bits(&v, t->v.dt);
		if (!val_same_shape(&v, &t->v))
			return graph_error(g, ST_UNSUPPORTED, "test data %s is %s, the model declares input '%s' as %s; nnac compiles for the declared static shape",
			                   path, val_type_str(&v, got, sizeof(got)), t->name,
			                   val_type_str(&t->v, want, sizeof(want)));
		in[slot] = v;
	}
	return ST_OK;
}

static Outcome compare_outputs(Graph *g, const char *set, Arena *a, const Value *out,
                               char *why, size_t whylen, double *maxerr)
{
	for (int k = 0; k < g->noutputs; k++) {
		char path[4096];
		Value want;
		CompareResult c;

		snprintf(path, sizeof(path), "%s/output_%d.pb", set, k);
		if (onnx_read_tensor_file(path, a, g->diag, &want, NULL) != ST_OK) {
			snprintf(why, whylen, "cannot read %s", path);
			return FAIL;
		}
		bf16_bits(&want, out[k].dt);
		c = compare_values(&out[k], &want, CMP_RTOL, CMP_ATOL);
		if (c.max_abs_err > *maxerr)
			*maxerr = c.max_abs_err;
		if (!c.ok) {
			snprintf(why, whylen, "output %d '%s': %s", k, g->tensors[g->outputs[k]].name, c.why);
			return FAIL;
		}
	}
	return PASS;
}

/* Lowers g, checks the program and compares its outputs with ref. */
static Outcome run_loops(Graph *g, Arena *a, const Value *in, const Value *ref,
                         char *why, size_t whylen, double *maxerr)
{
	LowerOptions lo = {true};
	LoopProgram p;
	Value out[64];
	Outcome r = PASS;
	Status st;

	loop_init(&p, g->diag, g->path);
	st = pass_lower(g, &p, &lo);
	if (st == ST_OK)
		st = loop_verify(&p);
	if (st == ST_OK)
		st = loop_run(&p, a, in, out);
	for (int k = 0; st == ST_OK && r == PASS && k < g->noutputs; k++) {
		CompareResult c = compare_loop_values(&out[k], &ref[k]);

		if (c.max_abs_err > *maxerr)
			*maxerr = c.max_abs_err;
		if (!c.ok) {
			snprintf(why, whylen, "loop IR output %d '%s': %s", k,
			         g->tensors[g->outputs[k]].name, c.why);
			r = FAIL;
		}
	}
	if (st != ST_OK) {
		r = only_unsupported(g->diag) ? UNSUP : FAIL;
		snprintf(why, whylen, "%s", g->diag->n ? g->diag->msg[0].text : "failed");
	}
	loop_free(&p);
	return r;
}

/* Every buffer's memory for the compiled program: roots allocated (inputs
 * and constants copied in, the rest 0xff bytes), views inside their base. */
static bool cpu_bind(const LoopProgram *p, const Value *in, void **mem)
{
	int k = 0;

	for (int i = 0; i < p->nbufs; i++) {
		const LoopBuf *b = &p->bufs[i];
		size_t n = (size_t)loop_buf_bytes(b);

		if (b->view_of >= 0)
			continue;
		if (!(mem[i] = aligned_alloc(64, (n + 63) / 64 * 64 + 64)))
			return false;
		memset(mem[i], 0xff, n);
		if (b->flags & LB_INPUT)
			memcpy(mem[i], in[k++].data, n);
		else if (b->flags & LB_CONST)
			memcpy(mem[i], b->data, n);
	}
	for (int i = 0; i < p->nbufs; i++) {
		int64_t off = 0;
		int r = i;

		while (p->bufs[r].view_of >= 0) {
			off += p->bufs[r].view_offset;
			r = p->bufs[r].view_of;
		}
		if (r != i)
			mem[i] = (char *)mem[r] + off * dtype_size(p->bufs[i].dt);
	}
	return true;
}

static void cpu_unbind(const LoopProgram *p, void **mem)
{
	for (int i = 0; i < p->nbufs; i++)
		if (p->bufs[i].view_of < 0)
			free(mem[i]);
	free(mem);
}

/* The parallel-for the conformance runs give generated code: every
 * iteration its own call, last first, so that a task that depends on the
 * order of its iterations or on seeing the whole range fails here.  It
 * claims 3 threads, so contractions split into several tasks. */
static void reverse_for(void *pool, NnacTaskFn fn, void *const *roots, int64_t n)
{
	(void)pool;
	for (int64_t i = n - 1; i >= 0; i--)
		fn(roots, i, i + 1);
}

/* Compiles p with every nest that can be split sent through reverse_for,
 * runs it on in, and fills out[] with views of its outputs' memory (valid
 * until cpu_unbind). */
static Status cpu_run(LoopProgram *p, Diag *d, int opt_level, const Value *in, Value *out,
                      void ***memp)
{
	CpuOptions co = {NULL, NULL, opt_level, 1, 0, 0, 0, 0};
	const NnacPar par = {reverse_for, NULL, 3, NULL, NULL, NULL};
	NnacFail fail;
	uint8_t *so = NULL;
	size_t len = 0;
	CpuSo *s = NULL;
	void **mem;
	Status st = cpu_compile(p, &co, &so, &len, d);

	if (st == ST_OK)
		st = cpu_so_open(p->path ? p->path : "program", so, len, &s, d);
	free(so);
	*memp = mem = calloc((size_t)p->nbufs + 1, sizeof(void *));
	if (st == ST_OK && (!mem || !cpu_bind(p, in, mem)))
		st = diag_add(d, ST_NOMEM, "%s: out of memory", p->path);
	if (st == ST_OK && !cpu_so_run(s, mem, &par, &fail))
		st = diag_add(d, ST_INVALID, "%s: kernel %lld: index %lld of '%s' is %lld, outside "
		              "[-%lld, %lld)", p->path, (long long)fail.kernel, (long long)fail.dim,
		              p->bufs[fail.buf].name, (long long)fail.value, (long long)fail.bound,
		              (long long)fail.bound);
	cpu_so_close(s);
	for (int k = 0; st == ST_OK && k < loop_count_outputs(p); k++) {
		const LoopBuf *b = &p->bufs[loop_output_buf(p, k)];

		memset(&out[k], 0, sizeof(out[k]));
		val_set_type(&out[k], b->dt, b->rank, b->dims);
		out[k].data = mem[loop_output_buf(p, k)];
	}
	return st;
}

/* Lowers g, compiles the program for the CPU, runs it and compares its
 * outputs with ref. */
static Outcome run_cpu(Graph *g, int opt_level, const Value *in, const Value *ref, char *why,
                       size_t whylen, double *maxerr)
{
	LowerOptions lo = {true};
	LoopProgram p;
	Value out[64];
	void **mem = NULL;
	Outcome r = PASS;
	Status st;

	loop_init(&p, g->diag, g->path);
	st = pass_lower(g, &p, &lo);
	if (st == ST_OK)
		st = loop_verify(&p);
	if (st == ST_OK)
		st = cpu_run(&p, g->diag, opt_level, in, out, &mem);
	for (int k = 0; st == ST_OK && r == PASS && k < g->noutputs; k++) {
		CompareResult c = compare_loop_values(&out[k], &ref[k]);

		if (c.max_abs_err > *maxerr)
			*maxerr = c.max_abs_err;
		if (!c.ok) {
			snprintf(why, whylen, "CPU output %d '%s': %s", k, g->tensors[g->outputs[k]].name,
			         c.why);
			r = FAIL;
		}
	}
	if (st != ST_OK) {
		r = only_unsupported(g->diag) ? UNSUP : FAIL;
		snprintf(why, whylen, "%s", g->diag->n ? g->diag->msg[0].text : "failed");
	}
	if (mem)
		cpu_unbind(&p, mem);
	loop_free(&p);
	return r;
}

/* Imports the model and binds the set's inputs; with specialize, small
 * integer inputs become constants before shape inference.  Runs the graph
 * pipeline. */
static Status prepare(Graph *g, const char *model, const char *set, const Options *opt,
                      bool specialize, Arena *a, Value *in)
{
	PipelineOptions po = {true, opt->optimize || opt->loops, 0};
	Status st = onnx_import(g, model, NULL);

	if (st == ST_OK && (g->ninputs > 64 || g->noutputs > 64))
		st = graph_error(g, ST_UNSUPPORTED, "more than 64 inputs or outputs");
	if (st == ST_OK)
		st = load_inputs(g, set, a, in);
	if (st == ST_OK && specialize)
		st = pass_specialize_inputs(g, in);
	if (st == ST_OK)
		st = pass_pipeline(g, &po);
	return st;
}

/* One attempt at a data set, with or without specialization. */
static Outcome run_attempt(Graph *g, const char *model, const char *set, const Options *opt,
                           bool specialize, char *why, size_t whylen, double *maxerr)
{
	Arena a;
	Value in[64], out[64];
	Outcome r = FAIL;
	Status st;

	arena_init(&a);
	st = prepare(g, model, set, opt, specialize, &a, in);
	if (st == ST_OK)
		st = interp_run(g, in, out, &a);
	if (st == ST_OK)
		r = compare_outputs(g, set, &a, out, why, whylen, maxerr);
	else if (only_unsupported(g->diag))
		r = UNSUP;
	if (st == ST_OK && r == PASS && opt->cpu)
		r = run_cpu(g, opt->cpu_opt, in, out, why, whylen, maxerr);
	else if (st == ST_OK && r == PASS && opt->loops)
		r = run_loops(g, &a, in, out, why, whylen, maxerr);
	if (st != ST_OK)
		snprintf(why, whylen, "%s", g->diag->n ? g->diag->msg[0].text : "failed");
	arena_free(&a);
	return r;
}

/*
 * Imports the model afresh for one data set.  The graph pass specializes
 * small integer inputs to the set's values; the loop pass first tries
 * without, so that integer kernels (ConvInteger on small tensors...) are
 * lowered rather than folded away, and specializes only when something
 * (shapes, Gather indices, sequence lengths) needs the values.
 */
static Outcome run_set(Graph *g, const char *model, const char *set, const Options *opt,
                       char *why, size_t whylen, double *maxerr)
{
	Outcome r = run_attempt(g, model, set, opt, !opt->loops, why, whylen, maxerr);
	Diag *d = g->diag;

	if (r != UNSUP || !opt->loops)
		return r;
	graph_free(g);
	diag_free(d);
	graph_init(g, d, NULL);
	return run_attempt(g, model, set, opt, true, why, whylen, maxerr);
}

/* Runs every data set of the case; g is left holding the last one's graph. */
static Outcome run_case(const char *dir, Graph *g, const Options *opt, char *why, size_t whylen,
                        double *maxerr)
{
	char model[4096], set[4096];
	char **sets;
	int nsets;
	Outcome r = PASS;
	bool first = true;

	snprintf(model, sizeof(model), "%s/model.onnx", dir);
	sets = list_dir(dir, &nsets);
	for (int i = 0; i < nsets && r == PASS; i++) {
		if (strncmp(sets[i], "test_data_set_", 14) != 0)
			continue;
		if (!first) {
			Diag *d = g->diag;
			graph_free(g);
			diag_free(d);
			graph_init(g, d, NULL);
		}
		first = false;
		snprintf(set, sizeof(set), "%s/%s", dir, sets[i]);
		r = run_set(g, model, set, opt, why, whylen, maxerr);
	}
	free_list(sets, nsets);
	if (first) {
		snprintf(why, whylen, "no test_data_set_N folder");
		r = FAIL;
	}
	return r;
}

static void count(Graph *g, Outcome r)
{
	bool seen[OP_COUNT + 1] = {false};

	totals[r]++;
	for (int i = 0; i < g->nnodes; i++)
		seen[g->nodes[i].op] = true;
	for (int op = 0; op <= OP_COUNT; op++)
		if (seen[op])
			op_stats[op].n[r]++;
}

static void one_case(const char *dir, const char *label, const Options *opt)
{
	static const char *const names[] = {"pass", "FAIL", "unsupported"};
	Diag d;
	Graph g;
	char why[1024] = "";
	double maxerr = 0;
	Outcome r;

	diag_init(&d);
	graph_init(&g, &d, NULL);
	r = run_case(dir, &g, opt, why, sizeof(why), &maxerr);
	count(&g, r);
	if (opt->verbose || r == FAIL)
		printf("%-11s %s%s%s (max abs err %.3g)\n", names[r], label, *why ? ": " : "", why, maxerr);
	graph_free(&g);
	diag_free(&d);
}

static void run_suite(const char *root, const Options *opt)
{
	char **cases;
	int ncases;

	cases = list_dir(root, &ncases);
	for (int i = 0; i < ncases; i++) {
		char dir[4096], model[4200];

		if (opt->filter && !strstr(cases[i], opt->filter))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", root, cases[i]);
		snprintf(model, sizeof(model), "%s/model.onnx", dir);
		if (is_dir(dir) && exists(model))
			one_case(dir, dir, opt);
	}
	free_list(cases, ncases);
}

static void print_table(void)
{
	printf("\n%-24s %7s %7s %12s\n", "op", "passed", "failed", "unsupported");
	for (int op = 0; op <= OP_COUNT; op++) {
		const OpStat *s = &op_stats[op];
		if (s->n[PASS] + s->n[FAIL] + s->n[UNSUP] == 0)
			continue;
		printf("%-24s %7d %7d %12d\n", op == OP_COUNT ? "(unknown ops)" : op_name((OpKind)op),
		       s->n[PASS], s->n[FAIL], s->n[UNSUP]);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	/* O2 by default: O3 costs more compile time than the suite's small
	 * tensors win back. */
	Options opt = {NULL, false, false, false, false, 2, NULL};
	struct timespec t0, t1;
	int nroots = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
			opt.filter = argv[++i];
		else if (strcmp(argv[i], "-v") == 0)
			opt.verbose = true;
		else if (strcmp(argv[i], "--optimize") == 0)
			opt.optimize = true;
		else if (strcmp(argv[i], "--loops") == 0)
			opt.loops = true;
		else if (strcmp(argv[i], "--cpu") == 0)
			opt.loops = opt.cpu = true;
		else if (strcmp(argv[i], "--cpu-opt") == 0 && i + 1 < argc)
			opt.cpu_opt = atoi(argv[++i]);
		else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
			opt.label = argv[++i];
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: nnac-conformance [--filter SUBSTR] [-v] [--optimize] [--loops] [--cpu] [--cpu-opt N] [--label NAME] [ROOT...]\n");
			return 2;
		} else {
			run_suite(argv[i], &opt);
			nroots++;
		}
	}
	if (nroots == 0) {
		if (!is_dir(DEFAULT_ROOT)) {
			fprintf(stderr, "nnac-conformance: %s not found (install libonnx-testdata)\n", DEFAULT_ROOT);
			return 2;
		}
		for (size_t i = 0; i < ARRAY_LEN(default_suites); i++) {
			char root[512];
			snprintf(root, sizeof(root), "%s/%s", DEFAULT_ROOT, default_suites[i]);
			run_suite(root, &opt);
		}
	}
	print_table();
	if (!opt.label)
		opt.label = opt.cpu ? "cpu-conformance" : opt.loops ? "loop-conformance" : "conformance";
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (opt.cpu)
		printf("%s: %.1f s\n", opt.label,
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
	printf("%s: %d passed, %d failed, %d unsupported\n", opt.label,
	       totals[PASS], totals[FAIL], totals[UNSUP]);
	return totals[FAIL] ? 1 : 0;
}
