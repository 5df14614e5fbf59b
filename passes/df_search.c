/*
 * The mapping search (df_map_layer): for one layer and one dataflow family,
 * the mapping with the lowest metric.
 *
 * A family (the table below) says which operands the per-PE levels keep,
 * which dimensions may be laid over the PE rows and columns (and which must
 * be laid there whole), and which may loop inside a PE.  The space of a
 * family is every mapping with
 *
 *   - spatial factors over the rows and the columns that keep the array as
 *     busy as its shape allows: no spatial factor could take its next
 *     larger tile count and still fit (without this, energy alone would
 *     prefer serial mappings: an idle PE saves NoC hops);
 *   - a temporal factor per dimension at each per-PE level that keeps an
 *     operand the dimension indexes, and at each shared level that keeps
 *     anything; DRAM takes what is left;
 *   - any loop order at each level;
 *   - tiles that fit every level.
 *
 * Factors are the distinct tile counts ceil(E / m), m = 1 .. E, of the
 * extent E left (one that does not divide pads the last tile).
 *
 * DF_SEARCH_EXHAUSTIVE enumerates all of it.  DF_SEARCH_PRUNED enumerates
 * the spatial factors and the per-PE factors (only tiles that could not
 * grow, each loop at the innermost per-PE level it may go to), then lays
 * the remaining loops into the shared levels by one global order, filling
 * each level from the inside while its tiles fit (fill_order), trying every
 * canonical order: loops grouped by the operand they do not index, any
 * order of the groups, any loop of a group innermost (the cost model reads
 * a level's order only through the run of innermost loops an operand does
 * not index and the first loop it does).  It skips a spatial choice whose
 * lower bound (df_bound) cannot beat the best found.  On small layers the
 * two return the same optimum (tests/dataflow_test.c checks it);
 * docs/dataflow.md discusses what the pruning may miss on large ones.
 */
#include "dataflow.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum {
	D_N = 1u << DF_N, D_G = 1u << DF_G, D_K = 1u << DF_K, D_C = 1u << DF_C,
	D_P = 1u << DF_P, D_Q = 1u << DF_Q, D_R = 1u << DF_R, D_S = 1u << DF_S,
	EXACT_BUDGET = 20000, /* evaluations and fit checks the exact walk may make */
	MAX_CANDS = 2048,    /* tile counts of one extent: 2*sqrt(E) of them, so
	                        extents up to about a million */
};

typedef struct DfFamily {
	unsigned pe_keeps;   /* operands the per-PE levels keep (DF_BIT_*) */
	unsigned rows, cols; /* dimensions that may be spatial (bit per DfDim) */
	unsigned full_rows;  /* dimensions laid over the rows whole */
	unsigned pe_dims;    /* dimensions that may loop inside a PE */
	unsigned full_pe;    /* dimensions that loop inside a PE whole */
} DfFamily;

static const DfFamily families[ARCH_DF_COUNT] = {
	/* weight stationary: each PE holds weights; the inputs are broadcast,
	   the partial sums reduced down the array (TPU, nn-X) */
	[ARCH_DF_WS] = { .pe_keeps = DF_BIT_W, .rows = D_C | D_R | D_S, .cols = D_K,
	                 .pe_dims = D_N | D_P | D_Q },
	/* output stationary: each PE accumulates its outputs in place
	   (ShiDianNao) */
	[ARCH_DF_OS] = { .pe_keeps = DF_BIT_O, .rows = D_K | D_P,
	                 .cols = D_N | D_K | D_Q,
	                 .pe_dims = D_N | D_K | D_C | D_P | D_Q | D_R | D_S },
	/* row stationary: a PE convolves one filter row with one input row;
	   filter rows down the columns, output rows across (Eyeriss) */
	[ARCH_DF_RS] = { .pe_keeps = DF_BIT_W | DF_BIT_I | DF_BIT_O,
	                 .rows = D_R | D_C | D_K | D_P, .cols = D_P | D_K | D_N,
	                 .full_rows = D_R, .pe_dims = D_N | D_K | D_C | D_Q | D_S,
	                 .full_pe = D_S },
	/* no local reuse: nothing stays in a PE; input channels down, output
	   channels across, every operand from the buffers (DianNao) */
	[ARCH_DF_NLR] = { .pe_keeps = 0, .rows = D_C | D_R | D_S, .cols = D_K },
};

typedef struct Search {
	const DfTarget *t;
	const DfProblem *pb;
	const DfFamily *fam;
	DfMetric metric;
	DfSearch mode;
	DfMapping m;
	int64_t rem[DF_NDIMS];           /* extent left to cover (tile count) */
	int pe[DF_MAX_LEVELS], npe;      /* per-PE levels that keep something */
	int sh[DF_MAX_LEVELS], nsh;      /* shared levels below DRAM that keep something */
	int64_t rows_left, cols_left;
	int64_t pe_ext[DF_NDIMS];        /* extent left after the spatial loops */
	bool exact;                      /* the pruned search's first try: all of the
	                                    space but dominated orders and bounded
	                                    spatial choices */
	int64_t budget;                  /* evaluations and fit checks it may still make */
	bool gave_up;                    /* it ran out */
	DfResult best;
	double best_val;
	bool found;
	DfMiss miss;                     /* the nearest miss, when nothing fits */
	bool missed;
	DfStats stats;
} Search;

/* Candidates. */

static int64_t ceil_div(int64_t a, int64_t b)
{
	return (a + b - 1) / b;
}

/* The distinct tile counts f = ceil(e / m), m = 1 .. e, not above limit,
 * largest first, into out (MAX_CANDS of them at most: every extent up to
 * about 4 million fits). */
static int candidates(int64_t e, int64_t limit, int64_t *out)
{
	int n = 0;

	for (int64_t m = 1; m <= e && n < MAX_CANDS; ) {
		int64_t f = ceil_div(e, m);
		if (f <= limit)
			out[n++] = f;
		/* the next m with a smaller ceil(e / m) */
		m = f > 1 ? ceil_div(e, f - 1) : e + 1;
	}
	return n;
}

/* Evaluation and the bound. */

/* The iterations of the DRAM level's loops: of two mappings that cost the
 * same, the one keeping more of the work inside the chip is kept (the first
 * found, when they tie on this too). */
static int64_t dram_trips(const DfMapping *m)
{
	int64_t n = 1;

	for (int d = 0; d < DF_NDIMS; d++)
		n *= m->factor[0][d];
	return n;
}

static void try_mapping(Search *s)
{
	DfCost c;
	DfMiss miss;

	if (s->exact && --s->budget < 0) {
		s->gave_up = true;
		return;
	}
	s->stats.evaluated++;
	if (!df_evaluate(s->t, s->pb, &s->m, &c, &miss)) {
		if (!s->found && (!s->missed || miss.need - miss.have < s->miss.need - s->miss.have)) {
			s->miss = miss;
			s->missed = true;
		}
		return;
	}
	s->stats.valid++;
	double v = df_metric(&c, s->metric);
	if (!s->found || v < s->best_val ||
	    (v == s->best_val && dram_trips(&s->m) < dram_trips(&s->best.map))) {
		s->found = true;
		s->best_val = v;
		s->best.map = s->m;
		s->best.cost = c;
	}
}

/* Loop orders. */

/* The group of a dimension: the operand it does not index. */
static int dim_group(int d)
{
	unsigned ops = df_dim_operands((DfDim)d);

	if (!(ops & DF_BIT_W))
		return 0;
	if (!(ops & DF_BIT_I))
		return 1;
	if (!(ops & DF_BIT_O))
		return 2;
	return 3;            /* G: indexes all three */
}

/* Is perm (n loops, outermost first) canonical: loops contiguous by group,
 * each group in dimension order except that any member may be its last? */
static bool canonical(const int *perm, int n)
{
	bool closed[4] = { false };

	for (int i = 0; i < n; i++) {
		int g = dim_group(perm[i]);
		if (i > 0 && dim_group(perm[i - 1]) != g) {
			if (closed[g])
				return false;
			closed[dim_group(perm[i - 1])] = true;
		}
	}
	for (int i = 0; i + 2 < n; i++) {
		/* within a group, all but the last are increasing */
		int g = dim_group(perm[i]);
		if (dim_group(perm[i + 1]) == g && dim_group(perm[i + 2]) == g &&
		    perm[i] > perm[i + 1])
			return false;
	}
	return true;
}

static void orders_at(Search *s, int li);

/* Writes loop order of level lv from perm (n loops with factor > 1), the
 * factor-1 dimensions after them. */
static void set_order(Search *s, int lv, const int *perm, int n)
{
	int k = 0;
	bool used[DF_NDIMS] = { false };

	for (int i = 0; i < n; i++) {
		s->m.order[lv][k++] = (uint8_t)perm[i];
		used[perm[i]] = true;
	}
	for (int d = 0; d < DF_NDIMS; d++)
		if (!used[d])
			s->m.order[lv][k++] = (uint8_t)d;
}

typedef void (*NextFn)(Search *s, int arg);

/* Every order of level lv's loops (canonical ones in the pruned search),
 * calling next(s, arg) for each. */
static void permute(Search *s, int lv, int *perm, int n, int k, NextFn next, int arg)
{
	if (k == n) {
		if (s->mode == DF_SEARCH_PRUNED && !canonical(perm, n))
			return;
		set_order(s, lv, perm, n);
		next(s, arg);
		return;
	}
	for (int i = k; i < n; i++) {
		int tmp = perm[k]; perm[k] = perm[i]; perm[i] = tmp;
		permute(s, lv, perm, n, k + 1, next, arg);
		tmp = perm[k]; perm[k] = perm[i]; perm[i] = tmp;
	}
}

/* Does a level below lv keep anything?  If not, lv's loop order changes
 * nothing: the MAC reuses nothing whatever the order. */
static bool keeps_below(const Search *s, int lv)
{
	for (int l = lv + 1; l < s->t->nlevels; l++)
		if (s->m.keeps[l] && s->t->capacity[l] != 0)
			return true;
	return false;
}

static void level_orders(Search *s, int lv, NextFn next, int arg)
{
	int perm[DF_NDIMS], n = 0;

	for (int d = 0; d < DF_NDIMS; d++)
		if (s->m.factor[lv][d] > 1)
			perm[n++] = d;
	if (s->mode == DF_SEARCH_PRUNED && !keeps_below(s, lv)) {
		set_order(s, lv, perm, n);
		next(s, arg);
		return;
	}
	permute(s, lv, perm, n, 0, next, arg);
}


/* Orders of level li of the list of levels with loops: 0 is DRAM, then
 * the shared levels, then the per-PE ones. */
static void orders_at(Search *s, int li)
{
	int nlist = 1 + s->nsh + s->npe;

	if (s->gave_up)
		return;
	if (li == nlist) {
		try_mapping(s);
		return;
	}
	int lv = li == 0 ? 0 : li <= s->nsh ? s->sh[li - 1] : s->pe[li - 1 - s->nsh];
	level_orders(s, lv, orders_at, li + 1);
}

/* Shared levels. */

static void shared_dim(Search *s, int li, int d);

static void shared_level(Search *s, int li)
{
	if (s->gave_up)
		return;
	if (li == s->nsh) {
		for (int d = 0; d < DF_NDIMS; d++)
			s->m.factor[0][d] = s->rem[d];
		orders_at(s, 0);
		for (int d = 0; d < DF_NDIMS; d++)
			s->m.factor[0][d] = 1;
		return;
	}
	shared_dim(s, li, 0);
}

/* Would the tiles fit with the factors chosen so far and everything left
 * over at DRAM?  Tiles only grow with factors, so a factor that does not
 * fit rules out the larger ones.  The nearest miss is kept for the error
 * when nothing fits. */
static bool fits_so_far(Search *s)
{
	int64_t dram[DF_NDIMS];
	DfMiss miss;
	bool ok;

	if (s->exact && --s->budget < 0) {
		s->gave_up = true;
		return false;
	}
	memcpy(dram, s->m.factor[0], sizeof(dram));
	memcpy(s->m.factor[0], s->rem, sizeof(dram));
	ok = df_fits(s->t, s->pb, &s->m, &miss);
	memcpy(s->m.factor[0], dram, sizeof(dram));
	if (!ok && !s->found &&
	    (!s->missed || miss.need - miss.have < s->miss.need - s->miss.have)) {
		s->miss = miss;
		s->missed = true;
	}
	return ok;
}

static void shared_dim(Search *s, int li, int d)
{
	int lv = s->sh[li];
	int64_t cand[MAX_CANDS];
	int n;

	if (d == DF_NDIMS) {
		shared_level(s, li + 1);
		return;
	}
	if (s->rem[d] == 1 || d == DF_G) {
		shared_dim(s, li, d + 1);
		return;
	}
	n = candidates(s->rem[d], s->rem[d], cand);
	int64_t e = s->rem[d];
	/* smallest first: once a factor does not fit, the larger ones do not */
	for (int i = n - 1; i >= 0; i--) {
		s->m.factor[lv][d] = cand[i];
		s->rem[d] = ceil_div(e, cand[i]);
		bool fits = cand[i] == 1 || fits_so_far(s);
		if (fits)
			shared_dim(s, li, d + 1);
		s->rem[d] = e;
		if (!fits)
			break;   /* larger tiles do not fit either */
	}
	s->m.factor[lv][d] = 1;
}

/* Per-PE loops. */

/* The per-PE levels (indexes into s->pe) where a loop over d may go: those
 * keeping an operand d indexes, innermost first. */
static int pe_places(const Search *s, int d, int *out)
{
	int n = 0;

	for (int i = s->npe - 1; i >= 0; i--) {
		if (!(s->m.keeps[s->pe[i]] & df_dim_operands((DfDim)d)))
			continue;
		out[n++] = i;

	}
	return n;
}

static void pe_dim(Search *s, int d);
static bool pe_maximal(Search *s);
static void pe_orders(Search *s, int k);

static void pe_next(Search *s, int d)
{
	if (s->gave_up)
		return;
	if (d + 1 < DF_NDIMS)
		pe_dim(s, d + 1);
	else if (s->mode == DF_SEARCH_EXHAUSTIVE || s->exact)
		shared_level(s, 0);
	else if (pe_maximal(s))
		pe_orders(s, 0);
}

static void pe_dim(Search *s, int d)
{
	int64_t e = s->rem[d], cand[MAX_CANDS];
	int places[DF_MAX_LEVELS], np = 0, n;
	bool whole = s->fam->full_pe & (1u << d);

	if ((s->fam->pe_dims & (1u << d)) && e > 1)
		np = pe_places(s, d, places);
	if (np == 0) {
		if (!whole || e == 1)
			pe_next(s, d);   /* no loop over d inside a PE */
		return;              /* else d must loop inside a PE, and cannot */
	}
	if (whole) {
		cand[0] = e;
		n = 1;
	} else {
		pe_next(s, d);
		n = candidates(e, e, cand);
	}
	for (int k = 0; k < np; k++) {
		int lv = s->pe[places[k]];
		for (int i = n - 1; i >= 0; i--) {
			if (cand[i] == 1)
				continue;
			s->m.factor[lv][d] = cand[i];
			s->rem[d] = ceil_div(e, cand[i]);
			bool fits = fits_so_far(s);
			if (fits)
				pe_next(s, d);
			s->rem[d] = e;
			if (!fits)
				break;   /* larger tiles do not fit either */
		}
		s->m.factor[lv][d] = 1;
	}
}

/* The pruned search: one global loop order, filled into the levels. */

/* The largest candidate factor of e below e at which the mapping fits with
 * d's loop at level lv; 1 when none. */
static int64_t largest_fit(Search *s, int lv, int d, int64_t e)
{
	int64_t cand[MAX_CANDS];
	int n = candidates(e, e - 1, cand), lo = 0, hi = n - 1, best = -1;

	/* cand is decreasing and fitting is monotone in the factor: the
	   largest that fits by bisection */
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		s->m.factor[lv][d] = cand[mid];
		s->m.factor[0][d] = ceil_div(e, cand[mid]);
		if (df_fits(s->t, s->pb, &s->m, NULL)) {
			best = mid;
			hi = mid - 1;
		} else {
			lo = mid + 1;
		}
	}
	s->m.factor[lv][d] = 1;
	s->m.factor[0][d] = e;
	return best >= 0 ? cand[best] : 1;
}

/*
 * Lays the temporal loops of order pi (n dimensions, outermost first) into
 * the levels from the innermost outward: each level takes whole loops from
 * the inner end of the order while its tiles (and every other level's)
 * still fit; the first that does not fit is split at the largest factor
 * that does (unless bit j of nosplit says to leave it whole to the levels
 * above), and the next level goes on from there.  DRAM takes the rest.
 */
static unsigned fill_order(Search *s, const int *pi, int n, unsigned nosplit)
{
	unsigned split = 0;
	DfMapping base = s->m;
	int64_t left[DF_NDIMS];
	int cur = n - 1, j = 0;

	for (int d = 0; d < DF_NDIMS; d++) {
		left[d] = s->rem[d];
		s->m.factor[0][d] = s->rem[d];
	}
	for (int k = s->nsh - 1; k >= 0; k--, j++) {
		int lv = s->sh[k];
		int taken[DF_NDIMS], nt = 0;

		while (cur >= 0) {
			int d = pi[cur];
			if (d == DF_G)
				break;
			s->m.factor[lv][d] = left[d];
			s->m.factor[0][d] = 1;
			if (df_fits(s->t, s->pb, &s->m, NULL)) {
				taken[nt++] = d;
				left[d] = 1;
				cur--;
				continue;
			}
			s->m.factor[lv][d] = 1;
			s->m.factor[0][d] = left[d];
			if (!(nosplit & (1u << j))) {
				int64_t f = largest_fit(s, lv, d, left[d]);
				if (f > 1) {
					split |= 1u << j;
					taken[nt++] = d;
					s->m.factor[lv][d] = f;
					left[d] = ceil_div(left[d], f);
					s->m.factor[0][d] = left[d];
				}
			}
			break;
		}
		/* taken runs inner to outer */
		for (int i = 0; i < nt; i++)
			s->m.order[lv][i] = (uint8_t)taken[nt - 1 - i];
	}
	for (int i = 0; i <= cur && i < DF_NDIMS; i++)
		s->m.order[0][i] = (uint8_t)pi[i];
	/* the orders of the dimensions without a loop do not matter; make each
	   shared level's order a permutation again */
	for (int l = 0; l < s->t->fanout; l++) {
		bool used[DF_NDIMS] = { false };
		int k = 0;
		for (int i = 0; i < DF_NDIMS && k < DF_NDIMS; i++) {
			int d = s->m.order[l][i];
			if (s->m.factor[l][d] > 1 && !used[d]) {
				used[d] = true;
				s->m.order[l][k++] = (uint8_t)d;
			} else {
				break;
			}
		}
		for (int d = 0; d < DF_NDIMS; d++)
			if (!used[d])
				s->m.order[l][k++] = (uint8_t)d;
	}
	try_mapping(s);
	s->m = base;
	return split;
}

/* fill_order with nosplit, then with each further level left unsplit
 * (from level `from` on, in order, so each set of levels is tried once):
 * leaving a loop whole changes something only where a split happened. */
static void fill_alternatives(Search *s, const int *perm, int n, unsigned nosplit, int from,
                              int nalt)
{
	unsigned split = fill_order(s, perm, n, nosplit);

	for (int j = from; j < nalt; j++)
		if (split & (1u << j))
			fill_alternatives(s, perm, n, nosplit | 1u << j, j + 1, nalt);
}

static void fill_permute(Search *s, int *perm, int n, int k, int nalt)
{
	if (k == n) {
		if (!canonical(perm + 1, n - 1))   /* perm[0] is G */
			return;
		fill_alternatives(s, perm, n, 0, 0, nalt);
		return;
	}
	for (int i = k; i < n; i++) {
		int tmp = perm[k]; perm[k] = perm[i]; perm[i] = tmp;
		fill_permute(s, perm, n, k + 1, nalt);
		tmp = perm[k]; perm[k] = perm[i]; perm[i] = tmp;
	}
}

static void fill_orders(Search *s)
{
	int perm[DF_NDIMS], n = 0;

	/* the groups stay outermost; the others in every canonical order */
	perm[n++] = DF_G;
	for (int d = 0; d < DF_NDIMS; d++)
		if (d != DF_G && s->rem[d] > 1)
			perm[n++] = d;
	fill_permute(s, perm, n, 1, s->nsh);
}

/* Per-PE tiles that could not grow: no dimension looping inside a PE could
 * take its next larger factor and still fit. */
static bool pe_maximal(Search *s)
{
	for (int d = 0; d < DF_NDIMS; d++) {
		int places[DF_MAX_LEVELS];
		int64_t cand[MAX_CANDS], e = s->pe_ext[d], f = e / 1;

		if (!(s->fam->pe_dims & (1u << d)) || (s->fam->full_pe & (1u << d)) ||
		    s->rem[d] == 1 || pe_places(s, d, places) == 0)
			continue;
		int lv = s->pe[places[0]];
		f = s->m.factor[lv][d];
		int n = candidates(e, e, cand);
		int64_t next = 0;
		for (int i = n - 1; i >= 0; i--)
			if (cand[i] > f) {
				next = cand[i];
				break;
			}
		if (!next)
			continue;
		int64_t rem = s->rem[d];
		s->m.factor[lv][d] = next;
		s->m.factor[0][d] = ceil_div(e, next);
		bool grows = df_fits(s->t, s->pb, &s->m, NULL);
		s->m.factor[lv][d] = f;
		s->m.factor[0][d] = 1;
		(void)rem;
		if (grows)
			return false;
	}
	return true;
}

static void pe_orders_next(Search *s, int k)
{
	pe_orders(s, k);
}

/* Orders of the per-PE levels from the k-th on, then the shared levels. */
static void pe_orders(Search *s, int k)
{
	if (k == s->npe) {
		fill_orders(s);
		return;
	}
	level_orders(s, s->pe[k], pe_orders_next, k + 1);
}

/* Could another factor of a dimension allowed on the axis still fit? */
static bool axis_full(const Search *s, int axis)
{
	unsigned allowed = axis == DF_ROWS ? s->fam->rows : s->fam->cols;
	int64_t size = axis == DF_ROWS ? s->t->rows : s->t->cols;
	int64_t used = 1;

	for (int d = 0; d < DF_NDIMS; d++)
		used *= s->m.spatial[axis][d];
	for (int d = 0; d < DF_NDIMS; d++) {
		int64_t f = s->m.spatial[axis][d], cand[MAX_CANDS];
		/* the extent this axis splits: what the other axis leaves */
		int64_t e = ceil_div(s->pb->dim[d], s->m.spatial[!axis][d]);
		if (!(allowed & (1u << d)) || s->rem[d] == 1)
			continue;
		int n = candidates(e, e, cand);
		for (int i = n - 1; i >= 0; i--)
			if (cand[i] > f) {
				if (used / f * cand[i] <= size)
					return false;
				break;
			}
	}
	return true;
}

/* Spatial loops. */

static void spatial_dim(Search *s, int axis, int d);

static void spatial_next(Search *s, int axis, int d)
{
	if (s->gave_up)
		return;
	if (d + 1 < DF_NDIMS)
		spatial_dim(s, axis, d + 1);
	else if (axis == DF_ROWS)
		spatial_dim(s, DF_COLS, 0);
	else if (!axis_full(s, DF_ROWS) || !axis_full(s, DF_COLS))
		return;      /* the array could be busier: not in the space */
	else if (s->mode == DF_SEARCH_EXHAUSTIVE ||
	         !s->found || df_bound(s->t, s->pb, &s->m, s->metric) < s->best_val) {
		memcpy(s->pe_ext, s->rem, sizeof(s->rem));
		pe_dim(s, 0);
	}
}

static void spatial_dim(Search *s, int axis, int d)
{
	unsigned allowed = axis == DF_ROWS ? s->fam->rows : s->fam->cols;
	int64_t *left = axis == DF_ROWS ? &s->rows_left : &s->cols_left;
	int64_t e = s->rem[d], cand[MAX_CANDS];
	int n;

	if (!(allowed & (1u << d)) || e == 1 ||
	    (axis == DF_ROWS && (s->fam->full_rows & (1u << d)))) {
		spatial_next(s, axis, d);
		return;
	}
	n = candidates(e, *left, cand);
	for (int i = 0; i < n; i++) {
		s->m.spatial[axis][d] = cand[i];
		s->rem[d] = ceil_div(e, cand[i]);
		int64_t was = *left;
		*left /= cand[i];
		spatial_next(s, axis, d);
		*left = was;
		s->rem[d] = e;
	}
	s->m.spatial[axis][d] = 1;
}

/* The family. */

static void walk_family(Search *s, ArchDataflow df)
{
	const DfTarget *t = s->t;

	s->fam = &families[df];
	df_mapping_init(&s->m, t, s->pb, df);
	for (int d = 0; d < DF_NDIMS; d++) {
		s->m.factor[0][d] = 1;
		s->rem[d] = s->pb->dim[d];
	}
	s->npe = s->nsh = 0;
	for (int l = 1; l < t->nlevels; l++) {
		if (t->capacity[l] == 0)
			continue;
		if (l >= t->fanout)
			s->m.keeps[l] &= s->fam->pe_keeps;
		if (!s->m.keeps[l])
			continue;
		if (l >= t->fanout)
			s->pe[s->npe++] = l;
		else
			s->sh[s->nsh++] = l;
	}
	s->rows_left = t->rows;
	s->cols_left = t->cols;
	/* the dimensions laid over the rows whole go first */
	for (int d = 0; d < DF_NDIMS; d++) {
		if (!(s->fam->full_rows & (1u << d)) || s->rem[d] == 1)
			continue;
		if (s->rem[d] > s->rows_left) {
			if (!s->missed) {
				s->miss = (DfMiss){ .level = -1, .need = s->rem[d], .have = s->rows_left };
				s->missed = true;
			}
			return;
		}
		s->m.spatial[DF_ROWS][d] = s->rem[d];
		s->rows_left /= s->rem[d];
		s->rem[d] = 1;
	}
	spatial_dim(s, DF_ROWS, 0);
}

/* The pruned search first walks the family's whole space less the orders a
 * canonical one dominates and the spatial choices the bound rules out,
 * which is exact; when that would take more than EXACT_BUDGET evaluations
 * it gives up and walks the pruned space (fill_order), keeping the best of
 * both. */
static void search_family(Search *s, ArchDataflow df)
{
	if (s->mode == DF_SEARCH_PRUNED) {
		s->exact = true;
		s->budget = EXACT_BUDGET;
		s->gave_up = false;
		walk_family(s, df);
		s->exact = false;
		if (!s->gave_up)
			return;
		s->gave_up = false;
	}
	walk_family(s, df);
}

static Status no_fit(const Search *s, const char *family, Diag *d)
{
	const DfTarget *t = s->t;
	const DfProblem *pb = s->pb;
	char what[64];

	snprintf(what, sizeof(what), "%s%smapping", family ? family : "", family ? " " : "");
	if (!s->missed)
		return diag_add(d, ST_UNSUPPORTED, "node '%s' (%s): no %s on arch '%s'",
		                pb->name, pb->op, what, t->arch->name);
	if (s->miss.level < 0)
		return diag_add(d, ST_UNSUPPORTED, "node '%s' (%s): no %s fits arch '%s': the "
		                "layer needs %lld rows of PEs where the %lldx%lld array has %lld",
		                pb->name, pb->op, what, t->arch->name, (long long)s->miss.need,
		                (long long)t->rows, (long long)t->cols, (long long)s->miss.have);
	const ArchLevel *l = &t->arch->levels[s->miss.level];
	return diag_add(d, ST_UNSUPPORTED, "node '%s' (%s): no %s fits arch '%s': level '%s' "
	                "(%lld bytes%s) is too small by %lld bytes for the smallest tiles "
	                "(%lld bytes)", pb->name, pb->op, what, t->arch->name, l->name,
	                (long long)s->miss.have, l->scope == ARCH_PER_PE ? " per PE" : "",
	                (long long)(s->miss.need - s->miss.have), (long long)s->miss.need);
}

Status df_map_layer(const DfTarget *t, const DfProblem *pb, int df, DfMetric metric,
                    DfSearch mode, DfResult *best, DfStats *stats, Diag *d)
{
	Search *s = nnac_malloc(sizeof(*s));
	Status st = ST_OK;

	if (!s)
		return diag_add(d, ST_NOMEM, "out of memory");
	memset(s, 0, sizeof(*s));
	s->t = t;
	s->pb = pb;
	s->metric = metric;
	s->mode = mode;
	if (df >= 0 && !arch_has_dataflow(t->arch, (ArchDataflow)df)) {
		st = diag_add(d, ST_UNSUPPORTED, "arch '%s' does not support dataflow '%s'",
		              t->arch->name, arch_dataflow_name((ArchDataflow)df));
		goto out;
	}
	/* the family with the most reuse first, so that the bound prunes the
	   others sooner */
	static const ArchDataflow by_reuse[] = { ARCH_DF_RS, ARCH_DF_WS, ARCH_DF_OS, ARCH_DF_NLR };
	_Static_assert(ARRAY_LEN(by_reuse) == ARCH_DF_COUNT, "every dataflow once");
	for (size_t i = 0; i < ARRAY_LEN(by_reuse); i++) {
		ArchDataflow f = by_reuse[i];
		if ((df < 0 && arch_has_dataflow(t->arch, f)) || df == (int)f)
			search_family(s, f);
	}
	if (!s->found) {
		st = no_fit(s, df < 0 ? NULL : arch_dataflow_name((ArchDataflow)df), d);
		goto out;
	}
	*best = s->best;
out:
	if (stats) {
		stats->evaluated += s->stats.evaluated;
		stats->valid += s->stats.valid;
	}
	nnac_free(s);
	return st;
}

/* The cache. */

struct DfCacheEntry {
	int64_t dim[DF_NDIMS];
	int64_t stride[2], dilation[2];
	int df;
	DfMetric metric;
	DfSearch mode;
	DfResult r;
};

void df_cache_init(DfCache *c, const DfTarget *t)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
}

void df_cache_free(DfCache *c)
{
	nnac_free(c->e);
	memset(c, 0, sizeof(*c));
}

static bool cache_match(const DfCacheEntry *e, const DfProblem *pb, int df, DfMetric metric,
                        DfSearch mode)
{
	return memcmp(e->dim, pb->dim, sizeof(e->dim)) == 0 &&
	       memcmp(e->stride, pb->stride, sizeof(e->stride)) == 0 &&
	       memcmp(e->dilation, pb->dilation, sizeof(e->dilation)) == 0 &&
	       e->df == df && e->metric == metric && e->mode == mode;
}

Status df_map_layer_cached(DfCache *c, const DfProblem *pb, int df, DfMetric metric,
                           DfSearch mode, DfResult *best, DfStats *stats, Diag *d)
{
	for (int i = 0; i < c->n; i++) {
		if (cache_match(&c->e[i], pb, df, metric, mode)) {
			*best = c->e[i].r;
			c->hits++;
			return ST_OK;
		}
	}
	Status st = df_map_layer(c->t, pb, df, metric, mode, best, stats, d);
	if (st != ST_OK)
		return st;
	if (c->n == c->cap) {
		int cap = c->cap ? 2 * c->cap : 16;
		DfCacheEntry *e = nnac_malloc((size_t)cap * sizeof(*e));
		if (!e)
			return ST_OK;        /* not cached: only slower */
		if (c->n)
			memcpy(e, c->e, (size_t)c->n * sizeof(*e));
		nnac_free(c->e);
		c->e = e;
		c->cap = cap;
	}
	DfCacheEntry *e = &c->e[c->n++];
	memcpy(e->dim, pb->dim, sizeof(e->dim));
	memcpy(e->stride, pb->stride, sizeof(e->stride));
	memcpy(e->dilation, pb->dilation, sizeof(e->dilation));
	e->df = df;
	e->metric = metric;
	e->mode = mode;
	e->r = *best;
	return ST_OK;
}
