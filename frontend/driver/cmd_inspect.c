/*
 * nnac inspect: one row per layer (live node after the graph passes) with
 * its output shape, parameter count, multiply-accumulates, weight bytes and
 * MACs per weight byte -- the TPU paper's operational intensity -- then
 * totals.  Text, CSV or JSON.
 */
#include <stdio.h>
#include <string.h>

#include "checked.h"
#include "cli.h"
#include "rt_json.h"
#include "op.h"

typedef struct Row {
	const Node *n;
	char op[64];
	char shape[128];
	int64_t params, macs, wbytes;
} Row;

/* Constant inputs that are weights, not shape descriptors (i64). */
static void weights(Graph *g, const Node *n, int64_t *params, int64_t *bytes)
{
	*params = *bytes = 0;
	for (int i = 0; i < n->nin; i++) {
		const Tensor *t = node_in(g, n, i);
		if (!t || !t->v.data || t->v.dt == DT_I64)
			continue;
		*params += val_numel(&t->v);
		*bytes += val_bytes(&t->v);
	}
}

static void make_row(Graph *g, const Node *n, Row *r)
{
	const OpImpl *impl = op_impl(n->op);
	const Tensor *y = node_out(g, n, 0);

	r->n = n;
	if (n->fused_act != OP_COUNT)
		snprintf(r->op, sizeof(r->op), "%s+%s", n->op_type, op_name(n->fused_act));
	else
		snprintf(r->op, sizeof(r->op), "%s", n->op_type);
	if (y)
		val_type_str(&y->v, r->shape, sizeof(r->shape));
	else
		snprintf(r->shape, sizeof(r->shape), "-");
	weights(g, n, &r->params, &r->wbytes);
	r->macs = impl->macs ? impl->macs(g, n) : 0;
}

static void intensity(char *buf, size_t size, int64_t macs, int64_t bytes)
{
	if (bytes == 0 || macs == 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f", (double)macs / (double)bytes);
}

static void print_text(FILE *f, const Row *rows, int n, const Row *tot)
{
	char oi[32];

	fprintf(f, "%-28s %-22s %-22s %12s %14s %12s %10s\n", "layer", "op", "output", "params",
	       "MACs", "weight B", "MACs/B");
	for (int i = 0; i < n; i++) {
		intensity(oi, sizeof(oi), rows[i].macs, rows[i].wbytes);
		fprintf(f, "%-28.28s %-22.22s %-22s %12lld %14lld %12lld %10s\n", rows[i].n->name, rows[i].op,
		       rows[i].shape, (long long)rows[i].params, (long long)rows[i].macs,
		       (long long)rows[i].wbytes, oi);
	}
	intensity(oi, sizeof(oi), tot->macs, tot->wbytes);
	fprintf(f, "%-28s %-22s %-22s %12lld %14lld %12lld %10s\n", "total", "", "", (long long)tot->params,
	       (long long)tot->macs, (long long)tot->wbytes, oi);
}

static void print_csv(FILE *f, const Row *rows, int n, const Row *tot)
{
	fprintf(f, "layer,op,output,params,macs,weight_bytes,macs_per_weight_byte\n");
	for (int i = 0; i < n; i++) {
		char oi[32];
		intensity(oi, sizeof(oi), rows[i].macs, rows[i].wbytes);
		fprintf(f, "\"%s\",%s,\"%s\",%lld,%lld,%lld,%s\n", rows[i].n->name, rows[i].op, rows[i].shape,
		       (long long)rows[i].params, (long long)rows[i].macs, (long long)rows[i].wbytes,
		       strcmp(oi, "-") ? oi : "");
	}
	fprintf(f, "total,,,%lld,%lld,%lld,\n", (long long)tot->params, (long long)tot->macs,
	       (long long)tot->wbytes);
}

static void print_json(FILE *f, const char *model, const Row *rows, int n, const Row *tot)
{
	fprintf(f, "{\"model\": ");
	rt_json_string(f, model);
	fprintf(f, ", \"layers\": [\n");
	for (int i = 0; i < n; i++) {
		fprintf(f, "  {\"name\": ");
		rt_json_string(f, rows[i].n->name);
		fprintf(f, ", \"op\": \"%s\", \"output\": \"%s\", \"params\": %lld, \"macs\": %lld, \"weight_bytes\": %lld}%s\n",
		       rows[i].op, rows[i].shape, (long long)rows[i].params, (long long)rows[i].macs,
		       (long long)rows[i].wbytes, i + 1 < n ? "," : "");
	}
	fprintf(f, "], \"total\": {\"params\": %lld, \"macs\": %lld, \"weight_bytes\": %lld}}\n",
	       (long long)tot->params, (long long)tot->macs, (long long)tot->wbytes);
}

typedef struct Report {
	const Cli *cli;
	const Row *rows;
	int n;
	const Row *tot;
} Report;

static Status write_report(FILE *f, const void *cx)
{
	const Report *r = cx;

	if (r->cli->format == FMT_CSV)
		print_csv(f, r->rows, r->n, r->tot);
	else if (r->cli->format == FMT_JSON)
		print_json(f, r->cli->model, r->rows, r->n, r->tot);
	else
		print_text(f, r->rows, r->n, r->tot);
	return ST_OK;
}

int cmd_inspect(Cli *cli)
{
	Graph g;
	Row *rows, tot = {0};
	int n = 0, rc;

	graph_init(&g, &cli->diag, cli->model);
	rc = cli_load(cli, &g, true);
	if (rc)
		goto out;
	rows = arena_alloc(&g.arena, (size_t)(g.nnodes + 1) * sizeof(Row));
	if (!rows) {
		rc = cli_fail(cli, graph_oom(&g));
		goto out;
	}
	for (int i = 0; i < g.nnodes; i++) {
		if (g.nodes[i].flags & NODE_DEAD)
			continue;
		make_row(&g, &g.nodes[i], &rows[n]);
		tot.params += rows[n].params;
		tot.macs = ck_add_sat(tot.macs, rows[n].macs);
		tot.wbytes += rows[n].wbytes;
		n++;
	}
	if (cli_write_output(cli, write_report, &(Report){cli, rows, n, &tot}) != ST_OK)
		rc = cli_fail(cli, ST_OK);
out:
	graph_free(&g);
	return rc;
}
