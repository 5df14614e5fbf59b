/*
 * nnac run: binds inputs from .npy or .pb files, runs the reference
 * interpreter, writes each output as DIR/NAME.npy and prints a summary.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "interp.h"
#include "npy.h"
#include "passes.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static Status load_file(Cli *cli, const char *path, Arena *a, Value *v)
{
	if (ends_with(path, ".npy"))
		return npy_read(path, a, &cli->diag, v);
	if (ends_with(path, ".pb"))
		return onnx_read_tensor_file(path, a, &cli->diag, v, NULL);
	return diag_add(&cli->diag, ST_INVALID, "%s: unknown input format (expected .npy or .pb)", path);
}

static Status check_type(Cli *cli, const Tensor *t, const char *path, const Value *v)
{
	char got[128], want[128];

	if (v->dt == t->v.dt && val_same_shape(v, &t->v))
		return ST_OK;
	return diag_add(&cli->diag, ST_INVALID, "%s: holds %s, but input '%s' of %s is %s", path,
	                val_type_str(v, got, sizeof(got)), t->name, cli->model,
	                val_type_str(&t->v, want, sizeof(want)));
}

/* Fills in[] in the graph's input order from the --input options. */
static Status bind_inputs(Cli *cli, Graph *g, Arena *a, Value *in)
{
	bool *bound = arena_alloc(a, (size_t)g->ninputs + 1);
	Status st = ST_OK;

	if (!bound)
		return graph_oom(g);
	for (int k = 0; k < cli->ninputs && st == ST_OK; k++) {
		int j = 0;
		while (j < g->ninputs && strcmp(g->tensors[g->inputs[j]].name, cli->inputs[k].name) != 0)
			j++;
		if (j == g->ninputs)
			return graph_error(g, ST_INVALID, "--input %s: the model has no input of that name",
			                   cli->inputs[k].name);
		st = load_file(cli, cli->inputs[k].path, a, &in[j]);
		if (st == ST_OK)
			st = check_type(cli, &g->tensors[g->inputs[j]], cli->inputs[k].path, &in[j]);
		bound[j] = true;
	}
	for (int j = 0; j < g->ninputs && st == ST_OK; j++)
		if (!bound[j])
			st = graph_error(g, ST_INVALID, "input '%s' is not given; use --input %s=FILE.npy",
			                 g->tensors[g->inputs[j]].name, g->tensors[g->inputs[j]].name);
	return st;
}

static void print_top5(const Value *v)
{
	int64_t n = val_numel(v), top[5] = {0};
	int k = n < 5 ? (int)n : 5;

	for (int i = 0; i < k; i++) {
		top[i] = -1;
		for (int64_t j = 0; j < n; j++) {
			bool taken = false;
			for (int p = 0; p < i; p++)
				taken |= top[p] == j;
			if (!taken && (top[i] < 0 || val_get_f64(v, j) > val_get_f64(v, top[i])))
				top[i] = j;
		}
	}
	printf("  argmax %lld; top-%d:", (long long)top[0], k);
	for (int i = 0; i < k; i++)
		printf(" %lld (%.4g)", (long long)top[i], val_get_f64(v, top[i]));
	printf("\n");
}

static void summarize(const char *name, const Value *v)
{
	int64_t n = val_numel(v);
	double lo = INFINITY, hi = -INFINITY, sum = 0;
	char buf[128];

	for (int64_t i = 0; i < n; i++) {
		double x = val_get_f64(v, i);
		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
		sum += x;
	}
	printf("%s: %s min %.6g max %.6g mean %.6g\n", name, val_type_str(v, buf, sizeof(buf)),
	       lo, hi, n ? sum / (double)n : 0.0);
	if (n > 1 && v->rank >= 1 && v->dims[v->rank - 1] == n)
		print_top5(v);
}

/* DIR/NAME.npy, with characters that cannot be in a file name as '_'
 * (exporters write names such as "/layer1/Conv_output_0"). */
static void output_path(char *path, size_t size, const char *dir, const char *name)
{
	int n = snprintf(path, size, "%s/", dir);

	for (const char *p = name; *p && (size_t)n + 5 < size; p++)
		path[n++] = (*p == '/' || *p == '\\') ? '_' : *p;
	snprintf(path + n, size - (size_t)n, ".npy");
}

/* All outputs or none: on a failure the files already written are removed. */
static Status write_outputs(Cli *cli, Graph *g, const Value *out)
{
	char path[4096];

	if (!cli->output_dir)
		return ST_OK;
	if (mkdir(cli->output_dir, 0777) != 0) {
		struct stat s;
		if (stat(cli->output_dir, &s) != 0 || !S_ISDIR(s.st_mode))
			return diag_add(&cli->diag, ST_IO, "%s: cannot create output folder", cli->output_dir);
	}
	for (int k = 0; k < g->noutputs; k++) {
		Status st;

		output_path(path, sizeof(path), cli->output_dir, g->tensors[g->outputs[k]].name);
		st = npy_write(path, &out[k], &cli->diag);
		if (st == ST_OK)
			continue;
		for (int j = 0; j < k; j++) {
			output_path(path, sizeof(path), cli->output_dir, g->tensors[g->outputs[j]].name);
			remove(path);
		}
		return st;
	}
	return ST_OK;
}

/* Import, bind the inputs (small integer ones become constants), optimize,
 * interpret. */
static int load_and_run(Cli *cli, Graph *g, Arena *a, Value **out)
{
	Value *in = arena_alloc(a, (size_t)(g->ninputs + 1) * sizeof(Value));
	Status st;
	int rc;

	*out = arena_alloc(a, (size_t)(g->noutputs + 1) * sizeof(Value));
	st = in && *out ? bind_inputs(cli, g, a, in) : graph_oom(g);
	if (st == ST_OK)
		st = pass_specialize_inputs(g, in);
	if (st != ST_OK)
		return cli_fail(cli, st);
	rc = cli_optimize(cli, g, true);
	if (rc)
		return rc;
	st = interp_run(g, in, *out, a);
	if (st == ST_OK)
		st = write_outputs(cli, g, *out);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}

int cmd_run(Cli *cli)
{
	Graph g;
	Arena a;
	Value *out;
	int rc;

	graph_init(&g, &cli->diag, cli->model);
	arena_init(&a);
	rc = cli_import(cli, &g);
	if (rc == 0)
		rc = load_and_run(cli, &g, &a, &out);
	if (rc == 0)
		for (int k = 0; k < g.noutputs; k++)
			summarize(g.tensors[g.outputs[k]].name, &out[k]);
	arena_free(&a);
	graph_free(&g);
	return rc;
}
