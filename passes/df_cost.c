/*
 * The analytical cost model of a mapping (dataflow.h): tiles, access
 * counts, cycles and energy.  docs/dataflow.md states every formula; in
 * short:
 *
 *  - The extents are padded: dimension d runs over D'[d], the product of
 *    all its factors, at least the layer's D[d], and every count is taken
 *    over the padded extents (a tile that does not divide its dimension is
 *    charged in full: an idle PE takes its turn and its operands are
 *    counted as fetched).  Only the MAC energy counts the useful MACs.
 *  - A level keeping operand o holds o's footprint over the loops at that
 *    level and below (the spatial loops too for levels above the fan-out);
 *    inputs cover the sliding window, (p - 1) * stride + (r - 1) * dilation
 *    + 1 rows and columns.
 *  - The MAC is a last level that keeps everything and reuses nothing: it
 *    takes one value of each operand per iteration.
 *  - Between consecutive levels p > c of o's chain (those keeping o), c is
 *    filled with its tile once, then again at every step of the loops above
 *    c, walking outward, except over the innermost loops o does not use
 *    (the tile stays: stationarity); an input tile stepped by its innermost
 *    P, Q, R or S loop only fetches the rows the window has not seen.
 *  - Crossing the fan-out, one read of p feeds every PE that differs only
 *    in dimensions o does not use (multicast, or forwarding along a
 *    systolic row), and every value a PE receives is one NoC access.
 *    Partial sums of PEs that differ only in reduction dimensions are added
 *    across the array on their way up (one NoC access per value moved).
 *  - An output tile is written back to its parent each time it leaves, and
 *    read back (a refill) each time it returns with more to accumulate.
 */
#include "dataflow.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const dim_letters[DF_NDIMS] = {
#define DIM(id, letter, ops, desc) letter,
#include "df_dim.def"
#undef DIM
};

static const unsigned dim_ops[DF_NDIMS] = {
#define DIM(id, letter, ops, desc) ops,
#include "df_dim.def"
#undef DIM
};

static const char *const metric_names[] = { "energy", "cycles", "edp" };

const char *df_dim_letter(DfDim d)
{
	nnac_assert(d >= 0 && d < DF_NDIMS);
	return dim_letters[d];
}

unsigned df_dim_operands(DfDim d)
{
	nnac_assert(d >= 0 && d < DF_NDIMS);
	return dim_ops[d];
}

const char *df_metric_name(DfMetric m)
{
	nnac_assert(m >= DF_METRIC_ENERGY && m <= DF_METRIC_EDP);
	return metric_names[m];
}

int df_metric_from_name(const char *s)
{
	for (int i = 0; i < (int)ARRAY_LEN(metric_names); i++)
		if (strcmp(metric_names[i], s) == 0)
			return i;
	return -1;
}

/* The target. */

static int bytes_at(const ArchLevel *l, DType dt)
{
	int b = dtype_size(dt);

	if (l->word_bits > 0 && l->word_bits / 8 > 0 && l->word_bits / 8 < b)
		return l->word_bits / 8;
	return b;
}

Status df_target_init(DfTarget *t, const Arch *a, Diag *d)
{
	memset(t, 0, sizeof(*t));
	if (a->nlevels > DF_MAX_LEVELS)
		return diag_add(d, ST_UNSUPPORTED, "%s: arch '%s' has %d memory levels; the mapper "
		                "handles at most %d", a->path, a->name, a->nlevels, DF_MAX_LEVELS);
	nnac_assert(a->nmacs > 0);
	t->arch = a;
	t->nlevels = a->nlevels;
	t->rows = a->pe_rows;
	t->cols = a->pe_cols;
	t->fanout = a->nlevels;
	t->noc = -1;
	t->mac_energy = a->mac[0].energy;
	t->energy_known = a->mac[0].energy > 0;
	for (int i = 0; i < a->nlevels; i++) {
		const ArchLevel *l = &a->levels[i];

		if (l->scope == ARCH_PER_PE && t->fanout == a->nlevels)
			t->fanout = i;
		t->capacity[i] = l->size == ARCH_UNBOUNDED ? INT64_MAX : l->size;
		t->value_bytes[i][ARCH_WEIGHTS] = bytes_at(l, a->mac[0].operand);
		t->value_bytes[i][ARCH_INPUTS] = bytes_at(l, a->mac[0].operand);
		t->value_bytes[i][ARCH_OUTPUTS] = bytes_at(l, a->mac[0].acc);
		if (l->size == 0) {
			if (t->noc < 0)
				t->noc = i;
			continue;
		}
		if (l->energy <= 0)
			t->energy_known = false;
	}
	if (t->fanout == 0)
		return diag_add(d, ST_UNSUPPORTED, "%s:%d:%d: level '%s' is per_pe but no shared level "
		                "comes before it; the mapper needs one above the PE array (a DRAM or a "
		                "global buffer)", a->path, a->levels[0].line, a->levels[0].col, a->levels[0].name);
	for (int i = t->fanout; i < a->nlevels; i++)
		if (a->levels[i].scope != ARCH_PER_PE)
			return diag_add(d, ST_UNSUPPORTED, "%s:%d:%d: level '%s' is shared but "
			                "follows a per_pe level; the mapper needs the shared "
			                "levels first", a->path, a->levels[i].line,
			                a->levels[i].col, a->levels[i].name);
	if (t->noc >= 0 && a->levels[t->noc].energy <= 0)
		t->energy_known = false;
	return ST_OK;
}

/* The layer. */

int64_t df_problem_macs(const DfProblem *pb)
{
	int64_t n = 1;

	for (int d = 0; d < DF_NDIMS; d++)
		n *= pb->dim[d];
	return n;
}

int64_t df_input_extent(const DfProblem *pb, int axis, int64_t p, int64_t r)
{
	nnac_assert(axis == 0 || axis == 1);
	int64_t span = (p - 1) * pb->stride[axis] + (r - 1) * pb->dilation[axis] + 1;
	/* windows that do not touch (stride past the kernel) leave gaps */
	return span < p * r ? span : p * r;
}

/* Values of operand o over extents e. */
static int64_t footprint(const DfProblem *pb, ArchOperand o, const int64_t *e)
{
	switch (o) {
	case ARCH_WEIGHTS:
		return e[DF_G] * e[DF_K] * e[DF_C] * e[DF_R] * e[DF_S];
	case ARCH_INPUTS:
		return e[DF_N] * e[DF_G] * e[DF_C] * df_input_extent(pb, 0, e[DF_P], e[DF_R]) *
		       df_input_extent(pb, 1, e[DF_Q], e[DF_S]);
	case ARCH_OUTPUTS:
		return e[DF_N] * e[DF_G] * e[DF_K] * e[DF_P] * e[DF_Q];
	case ARCH_NOPERANDS:
		break;
	}
	nnac_unreachable();
}

void df_mapping_init(DfMapping *m, const DfTarget *t, const DfProblem *pb, ArchDataflow df)
{
	const Arch *a = t->arch;

	memset(m, 0, sizeof(*m));
	m->df = df;
	for (int l = 0; l < DF_MAX_LEVELS; l++)
		for (int d = 0; d < DF_NDIMS; d++) {
			m->factor[l][d] = 1;
			m->order[l][d] = (uint8_t)d;
		}
	for (int d = 0; d < DF_NDIMS; d++) {
		m->factor[0][d] = pb->dim[d];
		m->spatial[DF_ROWS][d] = m->spatial[DF_COLS][d] = 1;
	}
	for (int l = 0; l < t->nlevels; l++)
		m->keeps[l] = t->capacity[l] == 0 ? 0 : a->levels[l].holds;
	m->keeps[0] = ARCH_HOLDS_ALL;
}

/* The evaluation. */

typedef struct Loop {
	int level;
	int dim;
	int64_t factor;
	int64_t step;        /* extent of dim inside this loop */
} Loop;

typedef struct Eval {
	const DfTarget *t;
	const DfProblem *pb;
	const DfMapping *m;
	int64_t pad[DF_NDIMS];          /* D' */
	int64_t sp[DF_NDIMS];           /* spatial factor, rows * cols */
	int64_t ext[DF_MAX_LEVELS + 1][DF_NDIMS];
	Loop loops[DF_MAX_LEVELS * DF_NDIMS];
	int nloops;
	int first_loop[DF_MAX_LEVELS + 1];  /* index of level l's first loop */
	int64_t pes;                    /* PEs the spatial loops allocate */
	double noc[ARCH_NOPERANDS];     /* values delivered across the array */
} Eval;

static void eval_extents(Eval *e)
{
	const DfMapping *m = e->m;
	int nl = e->t->nlevels;

	for (int d = 0; d < DF_NDIMS; d++) {
		e->sp[d] = m->spatial[DF_ROWS][d] * m->spatial[DF_COLS][d];
		e->ext[nl][d] = 1;
	}
	for (int l = nl - 1; l >= 0; l--)
		for (int d = 0; d < DF_NDIMS; d++) {
			e->ext[l][d] = e->ext[l + 1][d] * m->factor[l][d];
			if (l == e->t->fanout - 1)
				e->ext[l][d] *= e->sp[d];
		}
	for (int d = 0; d < DF_NDIMS; d++)
		e->pad[d] = e->ext[0][d];
	e->pes = 1;
	for (int d = 0; d < DF_NDIMS; d++)
		e->pes *= e->sp[d];
}

/* The temporal loops, outermost first, with the extent each one steps by. */
static void eval_loops(Eval *e)
{
	const DfMapping *m = e->m;
	int nl = e->t->nlevels;

	e->nloops = 0;
	for (int l = 0; l < nl; l++) {
		e->first_loop[l] = e->nloops;
		for (int j = 0; j < DF_NDIMS; j++) {
			int d = m->order[l][j];
			if (m->factor[l][d] == 1)
				continue;
			/* the step excludes the loop's own factor but includes
			   the spatial loops below a level above the fan-out */
			e->loops[e->nloops++] = (Loop){
				.level = l, .dim = d, .factor = m->factor[l][d],
				.step = e->ext[l][d] / m->factor[l][d],
			};
		}
	}
	e->first_loop[nl] = e->nloops;
}

/* Values level c (nlevels: the MAC) takes in over the run, all instances. */
static double eval_fills(const Eval *e, ArchOperand o, int c)
{
	int nl = e->t->nlevels;
	unsigned bit = 1u << o;
	const int64_t *ext = e->ext[c];
	double tile = c == nl ? 1.0 : (double)footprint(e->pb, o, ext);
	double f = tile;
	bool reusing = true;

	for (int i = e->first_loop[c] - 1; i >= 0; i--) {
		const Loop *lp = &e->loops[i];

		if (!reusing) {
			f *= (double)lp->factor;
			continue;
		}
		if (c < nl && !(dim_ops[lp->dim] & bit))
			continue;
		reusing = false;
		if (c < nl && o == ARCH_INPUTS &&
		    (lp->dim == DF_P || lp->dim == DF_Q || lp->dim == DF_R || lp->dim == DF_S)) {
			int axis = lp->dim == DF_P || lp->dim == DF_R ? 0 : 1;
			int64_t p = ext[axis ? DF_Q : DF_P], r = ext[axis ? DF_S : DF_R];
			int64_t rows = df_input_extent(e->pb, axis, p, r);
			int64_t shift = lp->step * (lp->dim == DF_P || lp->dim == DF_Q ?
			                            e->pb->stride[axis] : e->pb->dilation[axis]);
			/* a window with gaps (rows < its span) slides onto rows it
			   has not read: no reuse is counted */
			bool gaps = rows < (p - 1) * e->pb->stride[axis] +
			                   (r - 1) * e->pb->dilation[axis] + 1;
			double fresh = !gaps && shift < rows ? (double)shift / (double)rows : 1.0;
			f = tile + (double)(lp->factor - 1) * tile * fresh;
		} else {
			f = tile * (double)lp->factor;
		}
	}
	return f * (double)(c >= e->t->fanout ? e->pes : 1);
}

/* The product of the spatial factors of the dimensions o does not use. */
static double eval_unused_spatial(const Eval *e, ArchOperand o)
{
	double r = 1;

	for (int d = 0; d < DF_NDIMS; d++)
		if (!(dim_ops[d] & (1u << o)))
			r *= (double)e->sp[d];
	return r;
}

/* Outputs held at level c over the run: every output, once per PE that
 * holds a partial sum of it below the fan-out. */
static double eval_distinct_outputs(const Eval *e, int c)
{
	double n = 1;

	for (int d = 0; d < DF_NDIMS; d++)
		if (dim_ops[d] & DF_BIT_O)
			n *= (double)e->pad[d];
	return c >= e->t->fanout ? n * eval_unused_spatial(e, ARCH_OUTPUTS) : n;
}

static void eval_chain(Eval *e, ArchOperand o, DfCost *cost)
{
	int nl = e->t->nlevels;
	int p = 0;

	nnac_assert(e->m->keeps[0] & (1u << o));
	for (int c = 1; c <= nl; c++) {
		if (c < nl && !(e->m->keeps[c] & (1u << o)))
			continue;
		double u = eval_fills(e, o, c);
		bool cross = p < e->t->fanout && c >= e->t->fanout;
		DfLevelCost *pl = &cost->level[p];
		DfLevelCost *cl = c < nl ? &cost->level[c] : NULL;

		if (o != ARCH_OUTPUTS) {
			pl->reads[o] += u / (cross ? eval_unused_spatial(e, o) : 1.0);
			if (cl)
				cl->writes[o] += u;
			if (cross)
				e->noc[o] += u;
		} else {
			double red = cross ? eval_unused_spatial(e, o) : 1.0;
			double refill = u - eval_distinct_outputs(e, c);
			if (refill < 0)
				refill = 0;
			pl->writes[o] += u / red;
			pl->reads[o] += refill / red;
			if (cl) {
				cl->reads[o] += u;
				cl->writes[o] += refill;
			}
			if (cross)
				e->noc[o] += u + refill / red;
		}
		p = c;
	}
}

static bool eval_fit(Eval *e, DfCost *cost, DfMiss *miss)
{
	const DfTarget *t = e->t;
	int64_t rows = 1, cols = 1;

	for (int d = 0; d < DF_NDIMS; d++) {
		rows *= e->m->spatial[DF_ROWS][d];
		cols *= e->m->spatial[DF_COLS][d];
	}
	if (rows > t->rows || cols > t->cols) {
		if (miss)
			*miss = (DfMiss){ .level = -1, .need = rows * cols, .have = t->rows * t->cols };
		return false;
	}
	for (int l = 0; l < t->nlevels; l++) {
		DfLevelCost *lc = &cost->level[l];
		int64_t bytes = 0;

		if (t->capacity[l] == 0)
			continue;
		for (int o = 0; o < ARCH_NOPERANDS; o++) {
			if (!(e->m->keeps[l] & (1u << o)))
				continue;
			lc->tile[o] = footprint(e->pb, (ArchOperand)o, e->ext[l]);
			bytes += lc->tile[o] * t->value_bytes[l][o];
		}
		lc->bytes = bytes;
		if (bytes > t->capacity[l]) {
			if (miss)
				*miss = (DfMiss){ .level = l, .need = bytes, .have = t->capacity[l] };
			return false;
		}
	}
	return true;
}

/* Bandwidth cycles of level l: its traffic over its ports, the per-PE
 * levels working in parallel. */
static double level_cycles(const DfTarget *t, int l, const DfLevelCost *lc, int64_t pes)
{
	const ArchLevel *al = &t->arch->levels[l];
	double rb = 0, wb = 0, c = 0;

	for (int o = 0; o < ARCH_NOPERANDS; o++) {
		rb += lc->reads[o] * t->value_bytes[l][o];
		wb += lc->writes[o] * t->value_bytes[l][o];
	}
	if (al->read_bw > 0)
		c += rb / al->read_bw;
	if (al->write_bw > 0)
		c += wb / al->write_bw;
	return l >= t->fanout && pes > 0 ? c / (double)pes : c;
}

/* On a systolic array (no multicast: operands hop from PE to PE), every
 * reload of the per-PE stationary tile is a fold that pays the array's
 * fill and drain, 2 * rows + cols - 2 cycles as in SCALE-Sim's model: rows
 * to shift the stationary operand in, rows + cols - 2 of skew for the
 * wavefront.  The folds are the fills of the first per-PE level that keeps
 * something, per PE and tile.  A multicast array pays nothing. */
static double fill_cycles(const DfTarget *t, const DfMapping *m, const DfCost *c)
{
	if (t->arch->noc.multicast)
		return 0;
	for (int l = t->fanout; l < t->nlevels; l++) {
		const DfLevelCost *lc = &c->level[l];
		double folds = 0;
		int64_t pes = 1;

		if (!m->keeps[l] || t->capacity[l] == 0)
			continue;
		for (int d = 0; d < DF_NDIMS; d++)
			pes *= m->spatial[DF_ROWS][d] * m->spatial[DF_COLS][d];
		for (int o = 0; o < ARCH_NOPERANDS; o++)
			if (lc->tile[o] > 0) {
				double f = lc->writes[o] / ((double)pes * (double)lc->tile[o]);
				folds = f > folds ? f : folds;
			}
		return folds * (double)(2 * t->rows + t->cols - 2);
	}
	return 0;
}

bool df_fits(const DfTarget *t, const DfProblem *pb, const DfMapping *m, DfMiss *miss)
{
	Eval e = { .t = t, .pb = pb, .m = m };
	DfCost cost;

	eval_extents(&e);
	memset(cost.level, 0, sizeof(cost.level[0]) * (size_t)t->nlevels);
	return eval_fit(&e, &cost, miss);
}

bool df_evaluate(const DfTarget *t, const DfProblem *pb, const DfMapping *m, DfCost *cost,
                 DfMiss *miss)
{
	Eval e = { .t = t, .pb = pb, .m = m };
	double padded = 1;
	const ArchLevel *lv = t->arch->levels;

	memset(cost, 0, sizeof(*cost));
	eval_extents(&e);
	for (int d = 0; d < DF_NDIMS; d++) {
		nnac_assert(e.pad[d] >= pb->dim[d]);
		padded *= (double)e.pad[d];
	}
	if (!eval_fit(&e, cost, miss))
		return false;
	eval_loops(&e);
	for (int o = 0; o < ARCH_NOPERANDS; o++)
		eval_chain(&e, (ArchOperand)o, cost);

	cost->macs = df_problem_macs(pb);
	cost->mac_energy = (double)cost->macs * t->mac_energy;
	cost->energy = cost->mac_energy;
	cost->compute_cycles = padded / (double)e.pes;
	cost->fill_cycles = fill_cycles(t, m, cost);
	cost->cycles = cost->compute_cycles + cost->fill_cycles;
	for (int l = 0; l < t->nlevels; l++) {
		DfLevelCost *lc = &cost->level[l];
		double acc = 0;

		if (l == t->noc)
			for (int o = 0; o < ARCH_NOPERANDS; o++)
				lc->reads[o] = e.noc[o];
		for (int o = 0; o < ARCH_NOPERANDS; o++)
			acc += lc->reads[o] + lc->writes[o];
		lc->energy = acc * lv[l].energy;
		cost->energy += lc->energy;
		if (t->capacity[l] != 0) {
			lc->cycles = level_cycles(t, l, lc, e.pes);
			if (lc->cycles > cost->cycles)
				cost->cycles = lc->cycles;
		}
	}
	cost->active_pes = 1;
	for (int d = 0; d < DF_NDIMS; d++)
		cost->active_pes *= e.sp[d] < pb->dim[d] ? e.sp[d] : pb->dim[d];
	cost->utilization = (double)cost->macs /
		((double)(t->rows * t->cols) * cost->cycles);
	return true;
}

/* The innermost level at or above `below` that keeps o; 0 (DRAM) at worst. */
static int keeper_above(const DfMapping *m, int below, ArchOperand o)
{
	for (int l = below - 1; l > 0; l--)
		if (m->keeps[l] & (1u << o))
			return l;
	return 0;
}

double df_bound(const DfTarget *t, const DfProblem *pb, const DfMapping *m, DfMetric metric)
{
	const ArchLevel *lv = t->arch->levels;
	double macs = (double)df_problem_macs(pb), pes = 1, e = macs * t->mac_energy;
	int64_t full[DF_NDIMS];

	for (int d = 0; d < DF_NDIMS; d++) {
		pes *= (double)(m->spatial[DF_ROWS][d] * m->spatial[DF_COLS][d]);
		full[d] = pb->dim[d];
	}
	double cycles = macs / pes;
	if (metric == DF_METRIC_CYCLES)
		return cycles;
	for (int o = 0; o < ARCH_NOPERANDS; o++) {
		int p = keeper_above(m, t->nlevels, (ArchOperand)o);
		bool cross = p < t->fanout;
		double unused = 1;

		for (int d = 0; d < DF_NDIMS; d++)
			if (!(dim_ops[d] & (1u << o)))
				unused *= (double)(m->spatial[DF_ROWS][d] * m->spatial[DF_COLS][d]);
		/* each MAC takes a value from p, through the array when p is shared;
		   an output's update is written back (its refills left out) */
		e += macs / (cross ? unused : 1.0) * lv[p].energy;
		if (cross && t->noc >= 0)
			e += macs * lv[t->noc].energy;
		/* and every value crosses DRAM once */
		e += (double)footprint(pb, (ArchOperand)o, full) * lv[0].energy;
	}
	return metric == DF_METRIC_ENERGY ? e : e * cycles;
}

double df_metric(const DfCost *c, DfMetric metric)
{
	switch (metric) {
	case DF_METRIC_ENERGY: return c->energy;
	case DF_METRIC_CYCLES: return c->cycles;
	case DF_METRIC_EDP: return c->energy * c->cycles;
	}
	nnac_unreachable();
}

/* Printing. */

typedef struct Out {
	char *buf;
	size_t size, len;
} Out;

static void out(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out(Out *o, const char *fmt, ...)
{
	va_list ap;
	size_t room = o->len < o->size ? o->size - o->len : 0;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void out_factors(Out *o, const int64_t *f, const uint8_t *order)
{
	bool first = true;

	for (int j = 0; j < DF_NDIMS; j++) {
		int d = order ? order[j] : j;
		if (f[d] == 1)
			continue;
		out(o, "%s%s%lld", first ? "" : " ", dim_letters[d], (long long)f[d]);
		first = false;
	}
}

int df_mapping_format(const DfTarget *t, const DfMapping *m, char *buf, size_t size)
{
	Out o = { .buf = buf, .size = size };
	const ArchLevel *lv = t->arch->levels;

	if (size)
		buf[0] = 0;
	for (int l = 0; l <= t->nlevels; l++) {
		if (l == t->fanout) {
			out(&o, "%s| rows[", l ? " " : "");
			out_factors(&o, m->spatial[DF_ROWS], NULL);
			out(&o, "] cols[");
			out_factors(&o, m->spatial[DF_COLS], NULL);
			out(&o, "] |");
		}
		if (l == t->nlevels || t->capacity[l] == 0)
			continue;
		out(&o, "%s%s[", l ? " " : "", lv[l].name);
		out_factors(&o, m->factor[l], m->order[l]);
		out(&o, "]");
	}
	return (int)o.len;
}
