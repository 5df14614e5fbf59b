/*
 * nnac map: lays every convolution and matrix-product layer of a model over
 * an accelerator (--arch: a preset such as eyeriss, or a .arch file) with
 * the dataflow mapper of passes/dataflow.h, and reports per layer the
 * dataflow and tiling chosen, the PEs it occupies, its cycles and energy
 * and the traffic at every memory level; then the totals and where the
 * energy goes.  Text, CSV or JSON.
 *
 * Every layer is mapped before anything is written: a layer that fits
 * nowhere (exit 1) leaves no report, and -o FILE is written next to its
 * final name and renamed into place, as compile does.  The report holds
 * nothing that changes from run to run; the search effort and the time it
 * took go to one line on standard error.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "rt_json.h"
#include "dataflow.h"

typedef struct MapLayer {
	DfProblem pb;
	DfResult res;
	const char *tiling;  /* df_mapping_format's line, in the graph's arena */
} MapLayer;

typedef struct MapRun {
	Cli *cli;
	CliTarget tg;         /* --arch, --dataflow, --metric */
	Graph g;             /* its arena also holds the Arch and the layers */
	MapLayer *layers;
	int nlayers;
	int skipped;         /* live nodes that are not layers the mapper takes */
	DfStats stats;       /* summed over the layers */
	DfCache cache;       /* identical layers are searched once */
	double seconds;      /* of the search */
} MapRun;

/* Totals over the layers. */
typedef struct MapTotals {
	int64_t macs;
	double cycles, energy, mac_energy;
	double level_energy[DF_MAX_LEVELS];
} MapTotals;

/* Mapping. */


static const char *format_tiling(MapRun *r, const DfMapping *m)
{
	char buf[256], *s;
	int len = df_mapping_format(&r->tg.t, m, buf, sizeof(buf));

	if (len < (int)sizeof(buf))
		return arena_strdup(&r->g.arena, buf);
	s = arena_alloc(&r->g.arena, (size_t)len + 1);
	if (s)
		df_mapping_format(&r->tg.t, m, s, (size_t)len + 1);
	return s;
}

static int map_one(MapRun *r, MapLayer *l)
{
	DfStats s = {0};
	Status st = df_map_layer_cached(&r->cache, &l->pb, r->tg.df, r->tg.metric, DF_SEARCH_PRUNED,
	                                &l->res, &s, &r->cli->diag);

	r->stats.evaluated += s.evaluated;
	r->stats.valid += s.valid;
	if (st == ST_UNSUPPORTED) {
		diag_print(&r->cli->diag, stderr);
		return EXIT_NO_MAPPING;
	}
	if (st != ST_OK)
		return cli_fail(r->cli, st);
	l->tiling = format_tiling(r, &l->res.map);
	return l->tiling ? 0 : cli_fail(r->cli, graph_oom(&r->g));
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

static int map_layers(MapRun *r)
{
	struct timespec t0;
	int rc;

	r->layers = arena_alloc(&r->g.arena, (size_t)(r->g.nnodes + 1) * sizeof(MapLayer));
	if (!r->layers)
		return cli_fail(r->cli, graph_oom(&r->g));
	df_cache_init(&r->cache, &r->tg.t);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < r->g.nnodes; i++) {
		const Node *n = &r->g.nodes[i];
		MapLayer *l = &r->layers[r->nlayers];

		if (n->flags & NODE_DEAD)
			continue;
		if (!df_is_layer_op(n)) {
			r->skipped++;
			continue;
		}
		if (df_problem_from_node(&l->pb, &r->g, n, &r->cli->diag) != ST_OK)
			return cli_fail(r->cli, diag_worst(&r->cli->diag));
		if ((rc = map_one(r, l)))
			return rc;
		r->nlayers++;
	}
	r->seconds = seconds_since(&t0);
	return 0;
}

static void totals(const MapRun *r, MapTotals *tot)
{
	memset(tot, 0, sizeof(*tot));
	for (int i = 0; i < r->nlayers; i++) {
		const DfCost *c = &r->layers[i].res.cost;
		tot->macs += c->macs;
		tot->cycles += c->cycles;
		tot->energy += c->energy;
		tot->mac_energy += c->mac_energy;
		for (int k = 0; k < r->tg.t.nlevels; k++)
			tot->level_energy[k] += c->level[k].energy;
	}
}

/* Reads or writes of a level, summed over the operands. */
static double level_reads(const DfLevelCost *lc)
{
	return lc->reads[ARCH_WEIGHTS] + lc->reads[ARCH_INPUTS] + lc->reads[ARCH_OUTPUTS];
}

static double level_writes(const DfLevelCost *lc)
{
	return lc->writes[ARCH_WEIGHTS] + lc->writes[ARCH_INPUTS] + lc->writes[ARCH_OUTPUTS];
}

static double percent(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : 0.0;
}

static const char *dataflow_word(const MapRun *r)
{
	return r->tg.df < 0 ? "auto" : arch_dataflow_name((ArchDataflow)r->tg.df);
}

static int64_t total_pes(const MapRun *r)
{
	return r->tg.t.rows * r->tg.t.cols;
}

/* Text. */

static int name_width(const MapRun *r)
{
	int w = 5;

	for (int i = 0; i < r->nlayers; i++) {
		int len = (int)strlen(r->layers[i].pb.name);
		w = len > w ? len : w;
	}
	return w > 40 ? 40 : w;
}

static int level_width(const MapRun *r)
{
	int w = 5;

	for (int k = 0; k < r->tg.t.nlevels; k++) {
		int len = (int)strlen(r->tg.arch.levels[k].name);
		w = len > w ? len : w;
	}
	return w;
}

static void text_energy(FILE *f, const MapRun *r, double e, int width)
{
	if (r->tg.t.energy_known)
		fprintf(f, " %*.4g", width, e);
	else
		fprintf(f, " %*s", width, "-");
}

static void text_header(FILE *f, const MapRun *r)
{
	const Arch *a = &r->tg.arch;

	fprintf(f, "map %s onto %s (%s): %lld x %lld PEs, dataflow %s, metric %s%s\n\n",
	        r->cli->model, a->name, a->path, (long long)r->tg.t.rows, (long long)r->tg.t.cols,
	        dataflow_word(r), df_metric_name(r->tg.metric),
	        !r->tg.metric_default ? "" : r->tg.t.energy_known ? " (default)"
	                                                    : " (default: the arch gives no energies)");
}

static void text_layer(FILE *f, const MapRun *r, const MapLayer *l, int w)
{
	const DfProblem *pb = &l->pb;
	const DfCost *c = &l->res.cost;
	char stride[48], pes[48];

	snprintf(stride, sizeof(stride), "%lldx%lld", (long long)pb->stride[0], (long long)pb->stride[1]);
	snprintf(pes, sizeof(pes), "%lld/%lld", (long long)c->active_pes, (long long)total_pes(r));
	fprintf(f, "%-*.*s %-14.14s", w, w, pb->name, pb->op);
	for (int d = 0; d < DF_NDIMS; d++)
		fprintf(f, " %5lld", (long long)pb->dim[d]);
	fprintf(f, " %-6s %-4s %11s %6.2f%% %12.0f", stride, arch_dataflow_name(l->res.map.df), pes,
	        100.0 * c->utilization, c->cycles);
	text_energy(f, r, c->energy, 11);
	fprintf(f, "  %s\n", l->tiling);
}

static void text_layers(FILE *f, const MapRun *r)
{
	int w = name_width(r);

	fprintf(f, "%-*s %-14s", w, "layer", "op");
	for (int d = 0; d < DF_NDIMS; d++)
		fprintf(f, " %5s", df_dim_letter((DfDim)d));
	fprintf(f, " %-6s %-4s %11s %7s %12s %11s  %s\n", "stride", "df", "PEs", "util", "cycles",
	        "energy", "tiling");
	for (int i = 0; i < r->nlayers; i++)
		text_layer(f, r, &r->layers[i], w);
}

static void text_levels(FILE *f, const MapRun *r)
{
	int w = name_width(r), lw = level_width(r);

	fprintf(f, "\n%-*s %-*s %16s %16s %11s %7s\n", w, "layer", lw, "level", "reads", "writes",
	        "energy", "energy%");
	for (int i = 0; i < r->nlayers; i++) {
		const MapLayer *l = &r->layers[i];
		for (int k = 0; k < r->tg.t.nlevels; k++) {
			const DfLevelCost *lc = &l->res.cost.level[k];
			fprintf(f, "%-*.*s %-*s %16.0f %16.0f", w, w, k ? "" : l->pb.name, lw,
			        r->tg.arch.levels[k].name, level_reads(lc), level_writes(lc));
			text_energy(f, r, lc->energy, 11);
			if (r->tg.t.energy_known)
				fprintf(f, " %6.1f%%\n", percent(lc->energy, l->res.cost.energy));
			else
				fprintf(f, " %7s\n", "-");
		}
	}
}

static void text_totals(FILE *f, const MapRun *r, const MapTotals *tot)
{
	int lw = level_width(r);

	fprintf(f, "\ntotal: %d layer%s (%d other node%s not mapped), %lld MACs, %.0f cycles",
	        r->nlayers, r->nlayers == 1 ? "" : "s", r->skipped, r->skipped == 1 ? "" : "s",
	        (long long)tot->macs, tot->cycles);
	if (r->tg.arch.clock_hz > 0)
		fprintf(f, " (%.4g ms at %.4g MHz)", 1e3 * tot->cycles / r->tg.arch.clock_hz,
		        r->tg.arch.clock_hz / 1e6);
	if (!r->tg.t.energy_known) {
		fprintf(f, ", energy unknown (the arch gives no energy for some level or the MAC)\n");
		return;
	}
	fprintf(f, ", energy %.4g\n\nenergy by level:\n", tot->energy);
	for (int k = 0; k < r->tg.t.nlevels; k++)
		fprintf(f, "  %-*s %11.4g %6.1f%%\n", lw, r->tg.arch.levels[k].name, tot->level_energy[k],
		        percent(tot->level_energy[k], tot->energy));
	fprintf(f, "  %-*s %11.4g %6.1f%%\n", lw, "MAC", tot->mac_energy,
	        percent(tot->mac_energy, tot->energy));
}

static void print_text(FILE *f, const MapRun *r, const MapTotals *tot)
{
	text_header(f, r);
	text_layers(f, r);
	text_levels(f, r);
	text_totals(f, r, tot);
}

/* CSV: one header row, one row per layer. */

static void csv_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_energy(FILE *f, const MapRun *r, double e)
{
	if (r->tg.t.energy_known)
		fprintf(f, ",%.6g", e);
	else
		fputc(',', f);
}

static void csv_header(FILE *f, const MapRun *r)
{
	fprintf(f, "layer,op");
	for (int d = 0; d < DF_NDIMS; d++)
		fprintf(f, ",%s", df_dim_letter((DfDim)d));
	fprintf(f, ",stride_h,stride_w,dilation_h,dilation_w,dataflow,tiling,active_pes,pes,"
	           "utilization,macs,cycles,energy,mac_energy");
	for (int k = 0; k < r->tg.t.nlevels; k++) {
		const char *lv = r->tg.arch.levels[k].name;
		fprintf(f, ",%s_reads,%s_writes,%s_energy", lv, lv, lv);
	}
	fputc('\n', f);
}

static void csv_layer(FILE *f, const MapRun *r, const MapLayer *l)
{
	const DfProblem *pb = &l->pb;
	const DfCost *c = &l->res.cost;

	csv_string(f, pb->name);
	fprintf(f, ",%s", pb->op);
	for (int d = 0; d < DF_NDIMS; d++)
		fprintf(f, ",%lld", (long long)pb->dim[d]);
	fprintf(f, ",%lld,%lld,%lld,%lld,%s,", (long long)pb->stride[0], (long long)pb->stride[1],
	        (long long)pb->dilation[0], (long long)pb->dilation[1], arch_dataflow_name(l->res.map.df));
	csv_string(f, l->tiling);
	fprintf(f, ",%lld,%lld,%.4f,%lld,%.0f", (long long)c->active_pes, (long long)total_pes(r),
	        c->utilization, (long long)c->macs, c->cycles);
	csv_energy(f, r, c->energy);
	csv_energy(f, r, c->mac_energy);
	for (int k = 0; k < r->tg.t.nlevels; k++) {
		fprintf(f, ",%.6g,%.6g", level_reads(&c->level[k]), level_writes(&c->level[k]));
		csv_energy(f, r, c->level[k].energy);
	}
	fputc('\n', f);
}

static void print_csv(FILE *f, const MapRun *r)
{
	csv_header(f, r);
	for (int i = 0; i < r->nlayers; i++)
		csv_layer(f, r, &r->layers[i]);
}

/* A number, or null when it is not finite or (energies) not known. */
static void json_num(FILE *f, double x, bool known)
{
	if (known && isfinite(x))
		fprintf(f, "%.6g", x);
	else
		fprintf(f, "null");
}

static void json_levels(FILE *f, const MapRun *r, const DfCost *c)
{
	fprintf(f, "\"levels\": [");
	for (int k = 0; k < r->tg.t.nlevels; k++) {
		fprintf(f, "%s{\"name\": ", k ? ", " : "");
		rt_json_string(f, r->tg.arch.levels[k].name);
		fprintf(f, ", \"reads\": ");
		json_num(f, level_reads(&c->level[k]), true);
		fprintf(f, ", \"writes\": ");
		json_num(f, level_writes(&c->level[k]), true);
		fprintf(f, ", \"energy\": ");
		json_num(f, c->level[k].energy, r->tg.t.energy_known);
		fputc('}', f);
	}
	fputc(']', f);
}

static void json_layer(FILE *f, const MapRun *r, const MapLayer *l)
{
	const DfProblem *pb = &l->pb;
	const DfCost *c = &l->res.cost;

	fprintf(f, "    {\"name\": ");
	rt_json_string(f, pb->name);
	fprintf(f, ", \"op\": ");
	rt_json_string(f, pb->op);
	fprintf(f, ", \"dims\": {");
	for (int d = 0; d < DF_NDIMS; d++)
		fprintf(f, "%s\"%s\": %lld", d ? ", " : "", df_dim_letter((DfDim)d), (long long)pb->dim[d]);
	fprintf(f, "}, \"stride\": [%lld, %lld], \"dilation\": [%lld, %lld], \"dataflow\": \"%s\", "
	           "\"tiling\": ",
	        (long long)pb->stride[0], (long long)pb->stride[1], (long long)pb->dilation[0],
	        (long long)pb->dilation[1], arch_dataflow_name(l->res.map.df));
	rt_json_string(f, l->tiling);
	fprintf(f, ",\n     \"active_pes\": %lld, \"pes\": %lld, \"utilization\": ",
	        (long long)c->active_pes, (long long)total_pes(r));
	json_num(f, c->utilization, true);
	fprintf(f, ", \"macs\": %lld, \"cycles\": ", (long long)c->macs);
	json_num(f, c->cycles, true);
	fprintf(f, ", \"energy\": ");
	json_num(f, c->energy, r->tg.t.energy_known);
	fprintf(f, ", \"mac_energy\": ");
	json_num(f, c->mac_energy, r->tg.t.energy_known);
	fprintf(f, ",\n     ");
	json_levels(f, r, c);
	fputc('}', f);
}

static void json_totals(FILE *f, const MapRun *r, const MapTotals *tot)
{
	bool ek = r->tg.t.energy_known;

	fprintf(f, "  \"totals\": {\"layers\": %d, \"other_nodes\": %d, \"macs\": %lld, \"cycles\": ",
	        r->nlayers, r->skipped, (long long)tot->macs);
	json_num(f, tot->cycles, true);
	fprintf(f, ", \"energy\": ");
	json_num(f, tot->energy, ek);
	fprintf(f, ", \"mac_energy\": ");
	json_num(f, tot->mac_energy, ek);
	fprintf(f, ",\n    \"energy_by_level\": [");
	for (int k = 0; k < r->tg.t.nlevels; k++) {
		fprintf(f, "%s{\"name\": ", k ? ", " : "");
		rt_json_string(f, r->tg.arch.levels[k].name);
		fprintf(f, ", \"energy\": ");
		json_num(f, tot->level_energy[k], ek);
		fprintf(f, ", \"percent\": ");
		json_num(f, percent(tot->level_energy[k], tot->energy), ek);
		fputc('}', f);
	}
	fprintf(f, "],\n    \"mac_percent\": ");
	json_num(f, percent(tot->mac_energy, tot->energy), ek);
	fprintf(f, "}\n");
}

static void print_json(FILE *f, const MapRun *r, const MapTotals *tot)
{
	fprintf(f, "{\"model\": ");
	rt_json_string(f, r->cli->model);
	fprintf(f, ", \"arch\": ");
	rt_json_string(f, r->tg.arch.name);
	fprintf(f, ", \"dataflow\": \"%s\", \"metric\": \"%s\", \"pe_rows\": %lld, \"pe_cols\": %lld,\n",
	        dataflow_word(r), df_metric_name(r->tg.metric), (long long)r->tg.t.rows, (long long)r->tg.t.cols);
	fprintf(f, "  \"layers\": [\n");
	for (int i = 0; i < r->nlayers; i++) {
		json_layer(f, r, &r->layers[i]);
		fprintf(f, "%s\n", i + 1 < r->nlayers ? "," : "");
	}
	fprintf(f, "  ],\n");
	json_totals(f, r, tot);
	fprintf(f, "}\n");
}

/* Writing. */

static void print_report(FILE *f, const MapRun *r)
{
	MapTotals tot;

	totals(r, &tot);
	switch (r->cli->format) {
	case FMT_TEXT:
	case FMT_CHROME:     /* only trace accepts it */
		print_text(f, r, &tot);
		break;
	case FMT_CSV:
		print_csv(f, r);
		break;
	case FMT_JSON:
		print_json(f, r, &tot);
		break;
	}
}

static Status report_to(FILE *f, const void *cx)
{
	print_report(f, cx);
	return ST_OK;
}

int cmd_map(Cli *cli)
{
	MapRun r = {.cli = cli};
	Status st;
	int rc;

	graph_init(&r.g, &cli->diag, cli->model);
	if ((rc = cli_target_load(cli, &r.g.arena, "map", &r.tg)) || (rc = cli_load(cli, &r.g, true)) ||
	    (rc = map_layers(&r)))
		goto out;
	st = cli_write_output(cli, report_to, &r);
	if (st != ST_OK) {
		rc = cli_fail(cli, st);
		goto out;
	}
	fprintf(stderr, "map: %d layers (%lld searched, the others identical to one before), "
	        "%lld mappings evaluated in %.2f s\n", r.nlayers,
	        (long long)(r.nlayers - r.cache.hits), (long long)r.stats.evaluated, r.seconds);
out:
	df_cache_free(&r.cache);
	graph_free(&r.g);
	return rc;
}
