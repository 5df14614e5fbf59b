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
 * usage: nnac-conformance [--filter SUBSTR] [-v] [--optimize] [ROOT...]
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compare.h"
#include "interp.h"
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

/* Binds input_K.pb files to graph inputs, by tensor name when it matches. */
static Status load_inputs(Graph *g, const char *set, Arena *a, Value *in)
{
	for (int k = 0; k < g->ninputs; k++) {
		char path[4096];
		const char *name;
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
		in[slot] = v;
	}
	return ST_OK;
}

static Outcome run_set(Graph *g, const char *set, char *why, size_t whylen, double *maxerr)
{
	Arena a;
	Value in[64], out[64];
	Outcome r = PASS;
	Status st;

	if (g->ninputs > 64 || g->noutputs > 64) {
		snprintf(why, whylen, "too many inputs or outputs");
		return FAIL;
	}
	arena_init(&a);
	st = load_inputs(g, set, &a, in);
	if (st == ST_OK)
		st = interp_run(g, in, out, &a);
	if (st != ST_OK) {
		snprintf(why, whylen, "%s", g->diag->n ? g->diag->msg[g->diag->n - 1].text : "run failed");
		arena_free(&a);
		return st == ST_UNSUPPORTED ? UNSUP : FAIL;
	}
	for (int k = 0; k < g->noutputs && r == PASS; k++) {
		char path[4096];
		Value want;
		CompareResult c;

		snprintf(path, sizeof(path), "%s/output_%d.pb", set, k);
		if (onnx_read_tensor_file(path, &a, g->diag, &want, NULL) != ST_OK) {
			snprintf(why, whylen, "cannot read %s", path);
			r = FAIL;
			break;
		}
		c = compare_values(&out[k], &want, CMP_RTOL, CMP_ATOL);
		if (c.max_abs_err > *maxerr)
			*maxerr = c.max_abs_err;
		if (!c.ok) {
			snprintf(why, whylen, "output %d '%s': %s", k, g->tensors[g->outputs[k]].name, c.why);
			r = FAIL;
		}
	}
	arena_free(&a);
	return r;
}

static Outcome run_case(const char *dir, Graph *g, const Options *opt, char *why, size_t whylen,
                        double *maxerr)
{
	char path[4096];
	char **sets;
	int nsets;
	Outcome r = PASS;
	Status st;

	snprintf(path, sizeof(path), "%s/model.onnx", dir);
	st = onnx_import(g, path, NULL);
	if (st == ST_OK) {
		PipelineOptions po = {true, opt->optimize};
		st = pass_pipeline(g, &po);
	}
	if (st != ST_OK) {
		snprintf(why, whylen, "%s", g->diag->n ? g->diag->msg[0].text : "import failed");
		return only_unsupported(g->diag) ? UNSUP : FAIL;
	}
	sets = list_dir(dir, &nsets);
	for (int i = 0; i < nsets && r == PASS; i++) {
		if (strncmp(sets[i], "test_data_set_", 14) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, sets[i]);
		r = run_set(g, path, why, whylen, maxerr);
	}
	free_list(sets, nsets);
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
	Options opt = {NULL, false, false};
	int nroots = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
			opt.filter = argv[++i];
		else if (strcmp(argv[i], "-v") == 0)
			opt.verbose = true;
		else if (strcmp(argv[i], "--optimize") == 0)
			opt.optimize = true;
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: nnac-conformance [--filter SUBSTR] [-v] [--optimize] [ROOT...]\n");
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
	printf("conformance: %d passed, %d failed, %d unsupported\n", totals[PASS], totals[FAIL], totals[UNSUP]);
	return totals[FAIL] ? 1 : 0;
}
