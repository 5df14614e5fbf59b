/*
 * nnac-dataflowtest: the dataflow mapper (passes/dataflow.h) against hand
 * counts, the exhaustive search and the Eyeriss study.
 *
 *   1. Hand-counted mappings on tests/dataflow/hand.arch: every read and
 *      write of every level, the NoC, the energy and the cycles.
 *      A systolic array's fill and drain against SCALE-Sim's model.
 *   2. The pruned search returns the optimum of the exhaustive one for
 *      every layer of tests/dataflow/small_layers.txt and 40 seeded random
 *      small layers on tiny.arch, for every dataflow and metric.
 *   3. AlexNet CONV1-CONV5 at batch 4 on the eyeriss preset
 *      (eyeriss_alexnet.txt): row stationary is the lowest-energy dataflow
 *      on every layer; the row-stationary mapping of the energy-delay
 *      product (the chip maps for throughput as well) keeps within 10% of
 *      the array (17 PEs) of the chip's published active PEs; the energy
 *      ratios of the other dataflows are printed next to the 1.4-2.5x of
 *      the ISCA 2016 study, and the PEs of the energy optimum too.
 *   4. A layer no mapping fits: the error names the level and the bytes
 *      missing.
 *
 * Usage: nnac-dataflowtest DIR (tests/dataflow).  Prints
 * "dataflow: P passed, F failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch_lang.h"
#include "dataflow.h"
#include "df_systolic.h"
#include "test_rng.h"
#include "test_util.h"

/* Drops the messages recorded so far. */
static void diag_clear(Diag *d)
{
	diag_free(d);
	diag_init(d);
}

static bool load(const char *dir, const char *file, Arch *a, DfTarget *t, Arena *ar)
{
	char path[1024];
	Diag d;

	diag_init(&d);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (arch_parse_file(a, ar, &d, path) != ST_OK || df_target_init(t, a, &d) != ST_OK) {
		diag_print(&d, stdout);
		check(false, "%s: cannot load", file);
		diag_free(&d);
		return false;
	}
	diag_free(&d);
	return true;
}

static DfProblem layer(const char *name, const int64_t dim[DF_NDIMS], int64_t stride)
{
	DfProblem pb = { .name = name, .op = "Conv", .stride = { stride, stride },
	                 .dilation = { 1, 1 } };

	memcpy(pb.dim, dim, sizeof(pb.dim));
	return pb;
}

static bool near(double a, double b)
{
	return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

/* 1. Hand counts. */

static void hand_fc(const DfTarget *t)
{
	/* K = 2 outputs of C = 3 inputs: the two output channels over the two
	   PEs, the input channels in time at the buffer:
	     dram[] buf[C3] | cols[K2] | reg[]
	   Weights: the buffer's tile is all 6 (filled once from DRAM); each
	   PE's register holds 1 and is refilled at each step of C: 3 fills per
	   PE, 6 buffer reads (no PE shares a weight), 6 NoC deliveries; the
	   MAC reads the register 6 times.
	   Inputs: the buffer holds 3; both PEs take each input (K unused by
	   inputs): 6 MAC fetches, 3 buffer reads (multicast), 6 NoC.
	   Outputs: the buffer holds 2 partial sums, written to DRAM once;
	   each of the 6 MAC updates is written to the buffer and 4 of them
	   read back first (the first touch of each of the 2 outputs is not):
	   buffer writes 6, reads 4 + 2 (the write-back to DRAM), NoC 10.
	   Energy: DRAM 11 accesses * 10, buffer 30 * 2, NoC 22 * 3, register
	   12 * 1, MACs 6 * 1 = 254.  Cycles: DRAM moves 22 bytes at 1 B/cycle;
	   the buffer 60 bytes at 4 B/cycle; compute 3: 22 cycles. */
	static const int64_t dim[DF_NDIMS] = { [DF_N] = 1, [DF_G] = 1, [DF_K] = 2, [DF_C] = 3,
	                                       [DF_P] = 1, [DF_Q] = 1, [DF_R] = 1, [DF_S] = 1 };
	DfProblem pb = layer("fc", dim, 1);
	DfMapping m;
	DfCost c;
	int dram = 0, buf = 1, noc = 2, reg = 3;

	df_mapping_init(&m, t, &pb, ARCH_DF_WS);
	m.factor[0][DF_K] = m.factor[0][DF_C] = 1;
	m.spatial[DF_COLS][DF_K] = 2;
	m.factor[buf][DF_C] = 3;
	if (!df_evaluate(t, &pb, &m, &c, NULL)) {
		check(false, "hand fc: does not fit");
		return;
	}
	const struct { int level, op; double reads, writes; } want[] = {
		{ dram, ARCH_WEIGHTS, 6, 0 }, { dram, ARCH_INPUTS, 3, 0 }, { dram, ARCH_OUTPUTS, 0, 2 },
		{ buf, ARCH_WEIGHTS, 6, 6 }, { buf, ARCH_INPUTS, 3, 3 }, { buf, ARCH_OUTPUTS, 6, 6 },
		{ noc, ARCH_WEIGHTS, 6, 0 }, { noc, ARCH_INPUTS, 6, 0 }, { noc, ARCH_OUTPUTS, 10, 0 },
		{ reg, ARCH_WEIGHTS, 6, 6 }, { reg, ARCH_INPUTS, 0, 0 }, { reg, ARCH_OUTPUTS, 0, 0 },
	};
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		const DfLevelCost *lc = &c.level[want[i].level];
		check(lc->reads[want[i].op] == want[i].reads && lc->writes[want[i].op] == want[i].writes,
		      "hand fc: %s %s: %g reads, %g writes; want %g, %g",
		      t->arch->levels[want[i].level].name, arch_operand_name(want[i].op),
		      lc->reads[want[i].op], lc->writes[want[i].op], want[i].reads, want[i].writes);
	}
	check(c.macs == 6 && c.energy == 254, "hand fc: energy %g over %lld MACs; want 254, 6",
	      c.energy, (long long)c.macs);
	check(c.compute_cycles == 3 && c.cycles == 22 && c.active_pes == 2,
	      "hand fc: cycles %g (compute %g), %lld PEs; want 22 (3), 2", c.cycles, c.compute_cycles,
	      (long long)c.active_pes);
}

static void hand_sliding(const DfTarget *t, int64_t stride)
{
	/* A 1-D convolution, Q = 4 outputs of an S = 3 filter, on one PE:
	     dram[Q4] buf[S3]
	   The buffer holds one window of 3 inputs; each step of Q slides it by
	   the stride, fetching only the inputs it has not seen: the layer's
	   (4 - 1) * stride + 3 inputs cross DRAM exactly once. */
	static const int64_t dim[DF_NDIMS] = { [DF_N] = 1, [DF_G] = 1, [DF_K] = 1, [DF_C] = 1,
	                                       [DF_P] = 1, [DF_Q] = 4, [DF_R] = 1, [DF_S] = 3 };
	DfProblem pb = layer("conv1d", dim, stride);
	DfMapping m;
	DfCost c;
	char what[64];

	snprintf(what, sizeof(what), "hand sliding stride %lld", (long long)stride);
	df_mapping_init(&m, t, &pb, ARCH_DF_WS);
	m.factor[0][DF_S] = 1;
	m.factor[1][DF_S] = 3;
	if (!df_evaluate(t, &pb, &m, &c, NULL)) {
		check(false, "%s: does not fit", what);
		return;
	}
	double want = (double)(3 * stride + 3);
	check(near(c.level[0].reads[ARCH_INPUTS], want), "%s: DRAM input reads %g; want %g", what,
	      c.level[0].reads[ARCH_INPUTS], want);
	check(c.level[1].tile[ARCH_INPUTS] == 3, "%s: buffer input tile %lld; want 3", what,
	      (long long)c.level[1].tile[ARCH_INPUTS]);
}

/* The fill and drain of a systolic array: on layers whose filter window
 * and filter count are multiples of the array, a weight-stationary mapping
 * takes exactly SCALE-Sim's ceil(Sr/R) * ceil(Sc/C) * (2R + C + T - 2)
 * cycles (df_systolic.c), and so does the best the search finds. */
static void systolic(const DfTarget *t)
{
	static const struct { const char *name; int64_t n, c, k, pq; } layers[] = {
		{ "1x1 64->64, 7x7", 1, 64, 64, 7 },
		{ "1x1 96->32, 5x5, batch 2", 2, 96, 32, 5 },
		{ "gemm 128x64 by 64", 128, 64, 64, 1 },
	};
	Diag d;

	diag_init(&d);
	for (size_t i = 0; i < ARRAY_LEN(layers); i++) {
		int64_t dim[DF_NDIMS] = { [DF_N] = layers[i].n, [DF_G] = 1, [DF_K] = layers[i].k,
		                          [DF_C] = layers[i].c, [DF_P] = layers[i].pq,
		                          [DF_Q] = layers[i].pq, [DF_R] = 1, [DF_S] = 1 };
		DfProblem pb = layer(layers[i].name, dim, 1);
		DfLayer sl = { .n = layers[i].n, .h = layers[i].pq, .w = layers[i].pq,
		               .c = layers[i].c, .k = layers[i].k, .r = 1, .s = 1, .stride = 1 };
		double want = (double)df_systolic_cycles(&sl, 32, 32, DF_FLOW_WS, DF_OUT_ONNX);
		DfMapping m;
		DfCost c;
		DfResult best;

		/* C over the rows, K over the columns, the folds at DRAM, the
		   pixels streamed under each fold */
		df_mapping_init(&m, t, &pb, ARCH_DF_WS);
		m.spatial[DF_ROWS][DF_C] = m.spatial[DF_COLS][DF_K] = 32;
		m.factor[0][DF_C] = layers[i].c / 32;
		m.factor[0][DF_K] = layers[i].k / 32;
		m.factor[0][DF_N] = m.factor[0][DF_P] = m.factor[0][DF_Q] = 1;
		m.factor[1][DF_N] = layers[i].n;
		m.factor[1][DF_P] = m.factor[1][DF_Q] = layers[i].pq;
		check(df_evaluate(t, &pb, &m, &c, NULL) && c.cycles == want,
		      "%s: hand mapping: %g cycles (%g compute, %g fill); SCALE-Sim %g", layers[i].name,
		      c.cycles, c.compute_cycles, c.fill_cycles, want);
		check(df_map_layer(t, &pb, ARCH_DF_WS, DF_METRIC_CYCLES, DF_SEARCH_PRUNED, &best,
		                   NULL, &d) == ST_OK && best.cost.cycles == want,
		      "%s: search: %g cycles; SCALE-Sim %g", layers[i].name, best.cost.cycles, want);
	}
	diag_free(&d);
}

/* 2. Pruned against exhaustive. */

static int read_rows(const char *path, char rows[][256], int max)
{
	FILE *f = fopen(path, "r");
	char line[256];
	int n = 0;

	if (!f) {
		check(false, "%s: cannot open", path);
		return 0;
	}
	while (n < max && fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		memcpy(rows[n++], line, sizeof(line));
	}
	fclose(f);
	return n;
}

static void exhaustive(const char *dir, const DfTarget *t)
{
	char path[1024], rows[64][256];
	int n;
	Diag d;

	snprintf(path, sizeof(path), "%s/small_layers.txt", dir);
	n = read_rows(path, rows, 64);
	diag_init(&d);
	for (int i = 0; i < n; i++) {
		char name[64];
		long long v[9];
		int64_t dim[DF_NDIMS];

		if (sscanf(rows[i], "%63s %lld %lld %lld %lld %lld %lld %lld %lld %lld", name,
		           &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) != 10) {
			check(false, "%s: bad row: %s", path, rows[i]);
			continue;
		}
		for (int k = 0; k < DF_NDIMS; k++)
			dim[k] = v[k];
		DfProblem pb = layer(name, dim, v[8]);
		for (int df = 0; df < ARCH_DF_COUNT; df++) {
			for (int metric = DF_METRIC_ENERGY; metric <= DF_METRIC_EDP; metric++) {
				DfResult p, e;
				DfStats ps = { 0 }, es = { 0 };
				Status sp = df_map_layer(t, &pb, df, (DfMetric)metric, DF_SEARCH_PRUNED,
				                         &p, &ps, &d);
				Status se = df_map_layer(t, &pb, df, (DfMetric)metric,
				                         DF_SEARCH_EXHAUSTIVE, &e, &es, &d);
				char what[128];

				snprintf(what, sizeof(what), "exhaustive %s %s %s", name,
				         arch_dataflow_name((ArchDataflow)df),
				         df_metric_name((DfMetric)metric));
				diag_clear(&d);
				if (sp != ST_OK || se != ST_OK) {
					/* both must agree that nothing fits */
					check(sp == se, "%s: pruned status %s, exhaustive %s", what,
					      status_name(sp), status_name(se));
					continue;
				}
				double vp = df_metric(&p.cost, (DfMetric)metric);
				double ve = df_metric(&e.cost, (DfMetric)metric);
				char bp[512], be[512];
				df_mapping_format(t, &p.map, bp, sizeof(bp));
				df_mapping_format(t, &e.map, be, sizeof(be));
				check(near(vp, ve), "%s: pruned %.9g (%s), exhaustive %.9g (%s)",
				      what, vp, bp, ve, be);
				check(ps.evaluated <= es.evaluated,
				      "%s: pruned evaluated %lld mappings, exhaustive %lld", what,
				      (long long)ps.evaluated, (long long)es.evaluated);
			}
		}
	}
	diag_free(&d);
}

/* The same on seeded random small layers. */
static void exhaustive_random(const DfTarget *t, int nlayers)
{
	Rng r = rng_seed(20261125);
	Diag d;
	int cases = 0, same = 0;

	diag_init(&d);
	for (int i = 0; i < nlayers; i++) {
		int64_t dim[DF_NDIMS] = {
			[DF_N] = rng_range(&r, 1, 2), [DF_G] = rng_range(&r, 0, 3) ? 1 : 2,
			[DF_K] = rng_range(&r, 1, 5), [DF_C] = rng_range(&r, 1, 4),
			[DF_P] = rng_range(&r, 1, 4), [DF_Q] = rng_range(&r, 1, 3),
			[DF_R] = rng_range(&r, 1, 3), [DF_S] = rng_range(&r, 1, 2),
		};
		char name[32];
		snprintf(name, sizeof(name), "random %d", i);
		DfProblem pb = layer(name, dim, rng_range(&r, 1, 2));
		for (int df = 0; df < ARCH_DF_COUNT; df++) {
			for (int metric = DF_METRIC_ENERGY; metric <= DF_METRIC_EDP; metric++) {
				DfResult p, e;
				Status sp = df_map_layer(t, &pb, df, (DfMetric)metric, DF_SEARCH_PRUNED,
				                         &p, NULL, &d);
				Status se = df_map_layer(t, &pb, df, (DfMetric)metric,
				                         DF_SEARCH_EXHAUSTIVE, &e, NULL, &d);
				diag_clear(&d);
				cases++;
				if (sp != ST_OK || se != ST_OK) {
					same += sp == se;
					continue;
				}
				double vp = df_metric(&p.cost, (DfMetric)metric);
				double ve = df_metric(&e.cost, (DfMetric)metric);
				same += near(vp, ve);
				if (!near(vp, ve))
					printf("  %s %s %s: pruned %.9g, exhaustive %.9g\n", name,
					       arch_dataflow_name((ArchDataflow)df),
					       df_metric_name((DfMetric)metric), vp, ve);
			}
		}
	}
	check(same == cases, "exhaustive random: %d of %d searches found the optimum",
	      same, cases);
	printf("pruned = exhaustive on %d of %d searches of %d random small layers\n", same, cases,
	       nlayers);
	diag_free(&d);
}

/* 3. Eyeriss. */

static void eyeriss(const char *dir)
{
	Arena ar;
	Arch a;
	DfTarget t;
	Diag d;
	char path[1024], rows[16][256];
	int n;

	arena_init(&ar);
	diag_init(&d);
	if (arch_preset(&a, &ar, &d, "eyeriss") != ST_OK || df_target_init(&t, &a, &d) != ST_OK) {
		diag_print(&d, stdout);
		check(false, "eyeriss: preset does not load");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/eyeriss_alexnet.txt", dir);
	n = read_rows(path, rows, 16);
	printf("AlexNet on eyeriss, batch 4, energy per MAC (normalized to a MAC) and the\n"
	       "ratio to row stationary (the ISCA 2016 study: 1.4-2.5x):\n");
	printf("%-6s %8s %14s %14s %14s   %s\n", "layer", "rs", "ws", "os", "nlr",
	       "rs active PEs: edp energy chip");
	for (int i = 0; i < n; i++) {
		char name[16];
		long long h, r, e, c, m, u, active;
		double energy[ARCH_DF_COUNT] = { 0 };
		int64_t pes = 0;

		if (sscanf(rows[i], "%15s %lld %lld %lld %lld %lld %lld %lld", name, &h, &r, &e, &c,
		           &m, &u, &active) != 8) {
			check(false, "%s: bad row: %s", path, rows[i]);
			continue;
		}
		int64_t dim[DF_NDIMS] = { [DF_N] = 4, [DF_G] = 1, [DF_K] = m, [DF_C] = c,
		                          [DF_P] = e, [DF_Q] = e, [DF_R] = r, [DF_S] = r };
		DfProblem pb = layer(name, dim, u);
		check((e - 1) * u + r == h, "%s: H %lld is not (E - 1) * U + R", name, h);
		for (int df = 0; df < ARCH_DF_COUNT; df++) {
			DfResult res;
			if (df_map_layer(&t, &pb, df, DF_METRIC_ENERGY, DF_SEARCH_PRUNED, &res, NULL,
			                 &d) != ST_OK) {
				diag_print(&d, stdout);
				diag_clear(&d);
				check(false, "%s: no %s mapping", name,
				      arch_dataflow_name((ArchDataflow)df));
				continue;
			}
			energy[df] = res.cost.energy / (double)res.cost.macs;
			if (df == ARCH_DF_RS)
				pes = res.cost.active_pes;
		}
		/* the chip maps for throughput as well as energy: its PE counts
		   are set against the energy-delay optimum */
		DfResult edp;
		int64_t edp_pes = 0;
		if (df_map_layer(&t, &pb, ARCH_DF_RS, DF_METRIC_EDP, DF_SEARCH_PRUNED, &edp, NULL,
		                 &d) == ST_OK)
			edp_pes = edp.cost.active_pes;
		diag_clear(&d);
		double rs = energy[ARCH_DF_RS];
		printf("%-6s %8.3f %6.3f (%4.2fx) %6.3f (%4.2fx) %6.3f (%4.2fx)   %5lld %5lld %5lld\n",
		       name, rs, energy[ARCH_DF_WS], energy[ARCH_DF_WS] / rs, energy[ARCH_DF_OS],
		       energy[ARCH_DF_OS] / rs, energy[ARCH_DF_NLR], energy[ARCH_DF_NLR] / rs,
		       (long long)edp_pes, (long long)pes, active);
		for (int df = 0; df < ARCH_DF_COUNT; df++)
			if (df != ARCH_DF_RS)
				check(energy[df] > rs, "%s: %s costs %.4f per MAC, row stationary %.4f",
				      name, arch_dataflow_name((ArchDataflow)df), energy[df], rs);
		check(llabs((long long)edp_pes - active) <= 17,
		      "%s: row stationary (energy-delay) keeps %lld PEs busy; the chip %lld", name,
		      (long long)edp_pes, active);
	}
out:
	diag_free(&d);
	arena_free(&ar);
}

/* 4. Nothing fits. */

static void too_small(const char *dir)
{
	Arena ar;
	Arch a;
	DfTarget t;
	Diag d;
	DfResult r;
	static const int64_t dim[DF_NDIMS] = { [DF_N] = 1, [DF_G] = 1, [DF_K] = 8, [DF_C] = 8,
	                                       [DF_P] = 4, [DF_Q] = 4, [DF_R] = 3, [DF_S] = 3 };
	DfProblem pb = layer("conv", dim, 1);

	arena_init(&ar);
	diag_init(&d);
	if (load(dir, "too_small.arch", &a, &t, &ar)) {
		Status st = df_map_layer(&t, &pb, -1, DF_METRIC_ENERGY, DF_SEARCH_PRUNED, &r, NULL, &d);
		const char *msg = d.n ? d.msg[0].text : "";
		/* the array must be kept busy: at the least 2 input channels over
		   the rows and 2 filters over the columns (ws, nlr): 4 weights and
		   2 inputs of 2 bytes, 2 partial sums of 4: 20 bytes against 4 */
		check(st == ST_UNSUPPORTED && strstr(msg, "node 'conv' (Conv): no mapping fits") &&
		      strstr(msg, "level 'buf' (4 bytes) is too small by 16 bytes"),
		      "too small: status %s, message: %s", status_name(st), msg);
	}
	diag_free(&d);
	arena_free(&ar);
}

int main(int argc, char **argv)
{
	Arena ar;
	Arch hand, tiny, sys;
	DfTarget th, tt, ts;

	if (argc != 2) {
		fprintf(stderr, "usage: nnac-dataflowtest DIR\n");
		return 2;
	}
	arena_init(&ar);
	if (load(argv[1], "hand.arch", &hand, &th, &ar)) {
		hand_fc(&th);
		hand_sliding(&th, 1);
		hand_sliding(&th, 2);
	}
	if (load(argv[1], "systolic32.arch", &sys, &ts, &ar))
		systolic(&ts);
	if (load(argv[1], "tiny.arch", &tiny, &tt, &ar)) {
		exhaustive(argv[1], &tt);
		exhaustive_random(&tt, 40);
	}
	eyeriss(argv[1]);
	too_small(argv[1]);
	arena_free(&ar);
	return test_summary("dataflow");
}
