/*
 * nnac run: binds inputs from .npy or .pb files, runs the reference
 * interpreter, writes each output as DIR/NAME.npy and prints a summary.
 *
 * Given a .loop file instead of a model, it parses and verifies the loop
 * program and runs it on the loop-IR interpreter; inputs that are not given
 * are filled with seeded pseudo-random values (floats uniform in [-1, 1),
 * integers in [-8, 8), unsigned ones in [0, 16)), so that a hand-written
 * kernel runs as it is.
 *
 * Both paths see their inputs and outputs as Ports: a name and a type.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "interp.h"
#include "loop.h"
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

static Status check_type(Cli *cli, const Port *p, const char *path, const Value *v)
{
	char got[128], want[128];

	if (v->dt == p->type.dt && val_same_shape(v, &p->type))
		return ST_OK;
	return diag_add(&cli->diag, ST_INVALID, "%s: holds %s, but input '%s' of %s is %s", path,
	                val_type_str(v, got, sizeof(got)), p->name, cli->model,
	                val_type_str(&p->type, want, sizeof(want)));
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static bool fill_random(Arena *a, const Port *p, Value *v)
{
	*v = p->type;
	if (!val_alloc(a, v))
		return false;
	for (int64_t i = 0, n = val_numel(v); i < n; i++) {
		uint64_t r = next_random();
		if (dtype_is_float(v->dt))
			val_set_f64(v, i, (double)(r >> 11) / 9007199254740992.0 * 2 - 1);
		else
			val_set_i64(v, i, (int64_t)(r % 16) - (dtype_is_signed(v->dt) ? 8 : 0));
	}
	return true;
}

/* Fills in[] in port order from the --input options; missing inputs are an
 * error, or random when random_ok. */
Status cli_bind_inputs(Cli *cli, const Port *ports, int n, Arena *a, Value *in, bool random_ok)
{
	bool *bound = arena_alloc(a, (size_t)n + 1);
	Status st = ST_OK;

	if (!bound)
		return diag_add(&cli->diag, ST_NOMEM, "%s: out of memory", cli->model);
	for (int k = 0; k < cli->ninputs && st == ST_OK; k++) {
		int j = 0;
		while (j < n && strcmp(ports[j].name, cli->inputs[k].name) != 0)
			j++;
		if (j == n)
			return diag_add(&cli->diag, ST_INVALID, "%s: --input %s: there is no input of that name",
			                cli->model, cli->inputs[k].name);
		st = load_file(cli, cli->inputs[k].path, a, &in[j]);
		if (st == ST_OK)
			st = check_type(cli, &ports[j], cli->inputs[k].path, &in[j]);
		bound[j] = true;
	}
	for (int j = 0; j < n && st == ST_OK; j++) {
		if (bound[j])
			continue;
		if (!random_ok)
			st = diag_add(&cli->diag, ST_INVALID, "%s: input '%s' is not given; use --input %s=FILE.npy",
			              cli->model, ports[j].name, ports[j].name);
		else if (!fill_random(a, &ports[j], &in[j]))
			st = diag_add(&cli->diag, ST_NOMEM, "%s: out of memory", cli->model);
	}
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

void cli_summarize(const char *name, const Value *v)
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
Status cli_write_outputs(Cli *cli, const Port *ports, int n, const Value *out)
{
	char path[4096];

	if (!cli->output_dir)
		return ST_OK;
	if (mkdir(cli->output_dir, 0777) != 0) {
		struct stat s;
		if (stat(cli->output_dir, &s) != 0 || !S_ISDIR(s.st_mode))
			return diag_add(&cli->diag, ST_IO, "%s: cannot create output folder", cli->output_dir);
	}
	for (int k = 0; k < n; k++) {
		Status st;

		output_path(path, sizeof(path), cli->output_dir, ports[k].name);
		st = npy_write(path, &out[k], &cli->diag);
		if (st == ST_OK)
			continue;
		for (int j = 0; j < k; j++) {
			output_path(path, sizeof(path), cli->output_dir, ports[j].name);
			remove(path);
		}
		return st;
	}
	return ST_OK;
}

Port *cli_graph_ports(Graph *g, Arena *a, const int *tensors, int n)
{
	Port *p = arena_alloc(a, (size_t)(n + 1) * sizeof(Port));

	for (int i = 0; p && i < n; i++) {
		p[i].name = g->tensors[tensors[i]].name;
		p[i].type = g->tensors[tensors[i]].v;
		p[i].type.data = NULL;
	}
	return p;
}

/* The --input options that name an initializer: its value replaced before
 * the passes fold it, when the model lets a caller override it (IR >= 4
 * and graph.input lists it; graph_overridable), refused otherwise.  They
 * are taken out of cli->inputs, which keeps those of the graph inputs. */
static Status override_initializers(Cli *cli, Graph *g, Arena *a)
{
	Status st = ST_OK;
	int kept = 0;

	for (int k = 0; k < cli->ninputs && st == ST_OK; k++) {
		int t = graph_find_tensor(g, cli->inputs[k].name);
		Tensor *x = t >= 0 && (g->tensors[t].flags & TENSOR_INIT) ? &g->tensors[t] : NULL;
		Port port;
		Value v;

		if (!x) {
			cli->inputs[kept++] = cli->inputs[k];
			continue;
		}
		if (!graph_overridable(g, x))
			return diag_add(&cli->diag, ST_INVALID, "%s: --input %s: '%s' is an initializer, a constant "
			                "of the model (%s)", cli->model, x->name, x->name,
			                x->flags & TENSOR_DEFAULT ? "graph.input lists it, but IR versions before 4 "
			                "make that no default value" : "graph.input does not list it");
		port.name = x->name;
		port.type = x->v;
		st = load_file(cli, cli->inputs[k].path, a, &v);
		if (st == ST_OK)
			st = check_type(cli, &port, cli->inputs[k].path, &v);
		if (st == ST_OK)
			x->v.data = v.data;
	}
	cli->ninputs = kept;
	return st;
}

/* Import, bind the inputs (small integer ones become constants), optimize,
 * interpret. */
static int load_and_run(Cli *cli, Graph *g, Arena *a, Value **out)
{
	Value *in = arena_alloc(a, (size_t)(g->ninputs + 1) * sizeof(Value));
	Port *ins = cli_graph_ports(g, a, g->inputs, g->ninputs);
	Port *outs = cli_graph_ports(g, a, g->outputs, g->noutputs);
	Status st;
	int rc;

	*out = arena_alloc(a, (size_t)(g->noutputs + 1) * sizeof(Value));
	st = in && *out && ins && outs ? override_initializers(cli, g, a) : graph_oom(g);
	if (st == ST_OK)
		st = cli_bind_inputs(cli, ins, g->ninputs, a, in, false);
	if (st == ST_OK)
		st = pass_specialize_inputs(g, in);
	if (st != ST_OK)
		return cli_fail(cli, st);
	rc = cli_optimize(cli, g, true);
	if (rc)
		return rc;
	st = interp_run(g, in, *out, a);
	if (st == ST_OK)
		st = cli_write_outputs(cli, outs, g->noutputs, *out);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}

static int run_model(Cli *cli)
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
			cli_summarize(g.tensors[g.outputs[k]].name, &out[k]);
	arena_free(&a);
	graph_free(&g);
	return rc;
}

/* The i-th input or output buffer of p as a Port. */
static Port *loop_ports(const LoopProgram *p, Arena *a, bool outputs, int n)
{
	Port *ports = arena_alloc(a, (size_t)(n + 1) * sizeof(Port));

	for (int i = 0; ports && i < n; i++) {
		const LoopBuf *b = &p->bufs[outputs ? loop_output_buf(p, i) : loop_input_buf(p, i)];

		ports[i].name = b->tensor ? b->tensor : b->name;
		val_set_type(&ports[i].type, b->dt, b->rank, b->dims);
		ports[i].type.data = NULL;
	}
	return ports;
}

static Status run_loop_program(Cli *cli, LoopProgram *p, Arena *a)
{
	int nin = loop_count_inputs(p), nout = loop_count_outputs(p);
	Port *ins = loop_ports(p, a, false, nin), *outs = loop_ports(p, a, true, nout);
	Value *in = arena_alloc(a, (size_t)(nin + 1) * sizeof(Value));
	Value *out = arena_alloc(a, (size_t)(nout + 1) * sizeof(Value));
	Status st;

	if (!ins || !outs || !in || !out)
		return diag_add(&cli->diag, ST_NOMEM, "%s: out of memory", cli->model);
	st = loop_verify(p);
	if (st == ST_OK)
		st = cli_bind_inputs(cli, ins, nin, a, in, true);
	if (st == ST_OK)
		st = loop_run(p, a, in, out);
	if (st == ST_OK)
		st = cli_write_outputs(cli, outs, nout, out);
	for (int k = 0; st == ST_OK && k < nout; k++)
		cli_summarize(outs[k].name, &out[k]);
	return st;
}

static int run_loops(Cli *cli)
{
	LoopProgram p;
	Arena a;
	Status st;

	loop_init(&p, &cli->diag, cli->model);
	arena_init(&a);
	st = loop_parse_file(&p, cli->model);
	if (st == ST_OK)
		st = run_loop_program(cli, &p, &a);
	arena_free(&a);
	loop_free(&p);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}

int cmd_run(Cli *cli)
{
	if (ends_with(cli->model, ".nnb"))
		return cmd_run_bundle(cli);
	if (cli->threads || cli->verify_only) {
		fprintf(stderr, "nnac run: %s applies to bundles only, not %s\n",
		        cli->threads ? "--threads" : "--verify-only", cli->model);
		return EXIT_USAGE;
	}
	return ends_with(cli->model, ".loop") ? run_loops(cli) : run_model(cli);
}
