/*
 * Reference kernels of the ops whose output shape depends on a value:
 * TopK (on k), and NonZero, NonMaxSuppression, Unique and Compress (on the
 * data).  nnac compiles for static shapes, so that value must be a
 * constant at shape inference (a graph input the caller binds counts:
 * passes/specialize.c); a value computed at run time is refused as
 * unsupported.  The data-dependent ops share one plan function between
 * infer, which runs it on the constant to size the output, and eval, which
 * runs it again on the values it is given and checks that the length
 * agrees.
 *
 * TopK orders elements by value, NaN above everything as NumPy sorts it,
 * equal values by lower index (the spec's tie rule); its output is always
 * sorted, which sorted=0 (order unspecified) allows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

/*
 * Input i of n, whose values decide an output's length: in eval the value
 * given, in infer (in == NULL) the constant, which it must be.  *v is NULL
 * for an absent optional input.
 */
static Status length_operand(Graph *g, const Node *n, const Value *const *in, int i,
                             const char *what, const Value **v)
{
	const Tensor *t;

	*v = NULL;
	if (!has_input(n, i))
		return ST_OK;
	if (in) {
		*v = in[i];
		return ST_OK;
	}
	t = node_in(g, n, i);
	if (!t->v.data)
		return node_error(g, n, ST_UNSUPPORTED, "%s '%s' is computed at run time; nnac needs it "
		                  "to be a constant (the output length depends on it)", what, t->name);
	*v = &t->v;
	return ST_OK;
}

/* In eval: the values given make `got` what the output shape, computed
 * from the constant at shape inference, made `want`. */
static Status length_check(EvalCtx *cx, const Node *n, const char *what, int64_t got, int64_t want)
{
	if (got == want)
		return ST_OK;
	return node_error(cx->g, n, ST_INVALID, "the inputs give %lld %s, not the %lld of the "
	                  "constants the output shape was computed from", (long long)got, what,
	                  (long long)want);
}

static Status topk_axis(Graph *g, const Node *n, int rank, int64_t *axis)
{
	*axis = attr_i(n, "axis", -1);
	if (!norm_axis(axis, rank))
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)attr_i(n, "axis", -1), rank);
	return ST_OK;
}

/* k: the attribute before opset 10, the constant input K from then on. */
static Status topk_k(Graph *g, const Node *n, int64_t *k)
{
	const Tensor *t;

	if (g->opset < 10) {
		if (!attr_find(n, "k"))
			return node_error(g, n, ST_INVALID, "attribute 'k' is required before opset 10");
		*k = attr_i(n, "k", 0);
		return ST_OK;
	}
	if (attr_find(n, "k"))
		return node_error(g, n, ST_INVALID, "attribute 'k' became input K in opset 10");
	t = node_in(g, n, 1);
	if (!t)
		return node_error(g, n, ST_INVALID, "input K is required from opset 10");
	if (val_numel(&t->v) != 1 || t->v.rank > 1)
		return node_error(g, n, ST_INVALID, "K must hold a single value");
	if (!t->v.data)
		return node_error(g, n, ST_UNSUPPORTED, "K '%s' is computed at run time; nnac needs it "
		                  "to be a constant (the output shape depends on it)", t->name);
	*k = val_get_i64(&t->v, 0);
	return ST_OK;
}

static Status topk_infer(Graph *g, Node *n)
{
	const Value *x;
	int64_t axis, k = 0, dims[MAX_RANK];

	TRY(infer_nin(g, n, g->opset < 10 ? 1 : 2, g->opset < 10 ? 1 : 2));
	TRY(infer_dtype(g, n, 0, DTM_NUM));
	if (g->opset >= 10)
		TRY(infer_dtype(g, n, 1, DTM(I64)));
	if (g->opset < 11 && (attr_find(n, "largest") || attr_find(n, "sorted")))
		return node_error(g, n, ST_INVALID, "attributes 'largest' and 'sorted' came in opset 11");
	x = &node_in(g, n, 0)->v;
	TRY(topk_axis(g, n, x->rank, &axis));
	TRY(topk_k(g, n, &k));
	if (k < 0 || k > x->dims[axis])
		return node_error(g, n, ST_INVALID, "k = %lld is outside [0, %lld], the size of axis %lld",
		                  (long long)k, (long long)x->dims[axis], (long long)axis);
	memcpy(dims, x->dims, sizeof(dims));
	dims[axis] = k;
	infer_out(g, n, 0, x->dt, x->rank, dims);
	infer_out(g, n, 1, DT_I64, x->rank, dims);
	return ST_OK;
}

/* An element's sort key: signed order on key is the order of values. */
typedef struct TopKey {
	int64_t key;
	int64_t idx;
} TopKey;

/* A double's bits made to order as the value does: -0 as +0, any NaN
 * above +inf. */
static int64_t float_key(double v)
{
	uint64_t u;

	if (v == 0)
		v = 0;
	if (isnan(v))
		v = NAN;
	memcpy(&u, &v, sizeof(u));
	u = (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
	return (int64_t)(u ^ (UINT64_C(1) << 63));
}

/* Element i of x as a key; ~ reverses the order for `largest`. */
static int64_t sort_key(const Value *x, int64_t i, bool largest)
{
	int64_t key;

	if (dtype_is_float(x->dt))
		key = float_key(val_get_f64(x, i));
	else if (x->dt == DT_U64)
		key = (int64_t)((uint64_t)val_get_i64(x, i) ^ (UINT64_C(1) << 63));
	else
		key = val_get_i64(x, i);
	return largest ? ~key : key;
}

static int topkey_cmp(const void *pa, const void *pb)
{
	const TopKey *a = pa, *b = pb;

	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static Status topk_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	bool largest = attr_i(n, "largest", 1) != 0;
	size_t es = (size_t)dtype_size(x->dt);
	int64_t axis, len, k, inner = 1, outer = 1;
	TopKey *row;

	TRY(topk_axis(cx->g, n, x->rank, &axis));
	len = x->dims[axis];
	k = out[0]->dims[axis];
	for (int d = 0; d < x->rank; d++) {
		if (d < axis)
			outer *= x->dims[d];
		else if (d > axis)
			inner *= x->dims[d];
	}
	row = arena_alloc(cx->scratch, (size_t)len * sizeof(*row));
	if (!row)
		return eval_oom(cx, n);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t s = 0; s < inner; s++) {
			for (int64_t j = 0; j < len; j++) {
				row[j].key = sort_key(x, (o * len + j) * inner + s, largest);
				row[j].idx = j;
			}
			qsort(row, (size_t)len, sizeof(*row), topkey_cmp);
			for (int64_t j = 0; j < k; j++) {
				int64_t dst = (o * k + j) * inner + s, src = (o * len + row[j].idx) * inner + s;

				memcpy((char *)out[0]->data + (size_t)dst * es,
				       (const char *)x->data + (size_t)src * es, es);
				((int64_t *)out[1]->data)[dst] = row[j].idx;
			}
		}
	return ST_OK;
}

const OpImpl op_impl_TopK = {topk_infer, topk_eval, NULL};

/*
 * NonZero: Y[d, j] = coordinate d of the j-th nonzero element of X in
 * row-major order; Y is [rank, count] ([0, count] for a scalar, as the
 * reference does).  NaN counts as nonzero.
 */

static int64_t nonzero_count(const Value *x)
{
	int64_t count = 0;

	for (int64_t i = 0; i < val_numel(x); i++)
		count += val_get_f64(x, i) != 0;
	return count;
}

static Status nonzero_infer(Graph *g, Node *n)
{
	const Value *x;
	int64_t dims[2];

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	TRY(length_operand(g, n, NULL, 0, "X", &x));
	dims[0] = x->rank;
	dims[1] = nonzero_count(x);
	infer_out(g, n, 0, DT_I64, 2, dims);
	return ST_OK;
}

static Status nonzero_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	int64_t count = out[0]->dims[1], j = 0, strides[MAX_RANK];
	int64_t *y = out[0]->data;

	TRY(length_check(cx, n, "nonzero elements", nonzero_count(x), count));
	val_strides(x, strides);
	for (int64_t i = 0; i < val_numel(x); i++) {
		if (val_get_f64(x, i) == 0)
			continue;
		for (int d = 0; d < x->rank; d++)
			y[d * count + j] = i / strides[d] % x->dims[d];
		j++;
	}
	return ST_OK;
}

const OpImpl op_impl_NonZero = {nonzero_infer, nonzero_eval, NULL};

/*
 * NonMaxSuppression: for each batch b and class c, the boxes whose score
 * is above score_threshold (every box when it is absent) are taken in
 * order of decreasing score, equal scores by lower index, and kept unless
 * their IoU with a box kept before for (b, c) is above iou_threshold,
 * until max_output_boxes_per_class are kept (none when it is absent).
 * Y lists the kept (b, c, box) in that order.  A box is two corners
 * [y1, x1, y2, x2] in either order (center_point_box 0), or
 * [x_center, y_center, width, height] (1); boxes that do not overlap, or
 * that have no area, never suppress each other.
 */
enum { NMS_BOXES, NMS_SCORES, NMS_MAX_OUT, NMS_IOU, NMS_MIN_SCORE };

typedef struct Nms {
	const Value *boxes, *scores;   /* [B][N][4], [B][C][N] */
	int64_t max_out;
	double iou, min_score;
	bool has_min_score, center;
} Nms;

/* A candidate of one (batch, class): sorted by key, then index. */
typedef struct NmsCand {
	int64_t key;   /* sort_key of the score, largest first */
	int64_t idx;
} NmsCand;

static int nmscand_cmp(const void *pa, const void *pb)
{
	const NmsCand *a = pa, *b = pb;

	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The scalar inputs 2..4: from the constants in infer (in == NULL), from
 * the values given in eval.  Empty counts as absent, as the reference
 * has it. */
static Status nms_args(Graph *g, const Node *n, const Value *const *in, Nms *p)
{
	const Value *max_out, *iou, *min_score;

	TRY(length_operand(g, n, in, NMS_BOXES, "boxes", &p->boxes));
	TRY(length_operand(g, n, in, NMS_SCORES, "scores", &p->scores));
	TRY(length_operand(g, n, in, NMS_MAX_OUT, "max_output_boxes_per_class", &max_out));
	TRY(length_operand(g, n, in, NMS_IOU, "iou_threshold", &iou));
	TRY(length_operand(g, n, in, NMS_MIN_SCORE, "score_threshold", &min_score));
	p->max_out = max_out && val_numel(max_out) ? val_get_i64(max_out, 0) : 0;
	p->iou = iou && val_numel(iou) ? val_get_f64(iou, 0) : 0;
	p->has_min_score = min_score && val_numel(min_score);
	p->min_score = p->has_min_score ? val_get_f64(min_score, 0) : 0;
	p->center = attr_i(n, "center_point_box", 0) != 0;
	return ST_OK;
}

/* Box i of batch b as its extent along y ([0]) and x ([1]). */
static void nms_box(const Nms *p, int64_t b, int64_t i, double lo[2], double hi[2])
{
	int64_t at = (b * p->boxes->dims[1] + i) * 4;
	double v[4];

	for (int k = 0; k < 4; k++)
		v[k] = val_get_f64(p->boxes, at + k);
	if (p->center) {
		lo[0] = v[1] - v[3] / 2, hi[0] = v[1] + v[3] / 2;
		lo[1] = v[0] - v[2] / 2, hi[1] = v[0] + v[2] / 2;
		return;
	}
	for (int d = 0; d < 2; d++) {
		lo[d] = fmin(v[d], v[d + 2]);
		hi[d] = fmax(v[d], v[d + 2]);
	}
}

/* Whether boxes i and j of batch b overlap by more than the threshold. */
static bool nms_suppresses(const Nms *p, int64_t b, int64_t i, int64_t j)
{
	double lo1[2], hi1[2], lo2[2], hi2[2], inter = 1, area1 = 1, area2 = 1, uni;

	nms_box(p, b, i, lo1, hi1);
	nms_box(p, b, j, lo2, hi2);
	for (int d = 0; d < 2; d++) {
		double lo = fmax(lo1[d], lo2[d]), hi = fmin(hi1[d], hi2[d]);

		if (hi <= lo)
			return false;
		inter *= hi - lo;
		area1 *= hi1[d] - lo1[d];
		area2 *= hi2[d] - lo2[d];
	}
	uni = area1 + area2 - inter;
	if (inter <= 0 || area1 <= 0 || area2 <= 0 || uni <= 0)
		return false;
	return inter / uni > p->iou;
}

/* The greedy selection of one (batch, class) into kept (its indices);
 * returns how many it kept. */
static int64_t nms_class(const Nms *p, int64_t b, int64_t c, NmsCand *cand, int64_t *kept)
{
	int64_t nbox = p->boxes->dims[1], ncand = 0, nkept = 0;

	for (int64_t i = 0; i < nbox; i++) {
		int64_t at = (b * p->scores->dims[1] + c) * nbox + i;

		if (p->has_min_score && !(val_get_f64(p->scores, at) > p->min_score))
			continue;
		cand[ncand].key = sort_key(p->scores, at, true);
		cand[ncand++].idx = i;
	}
	qsort(cand, (size_t)ncand, sizeof(*cand), nmscand_cmp);
	for (int64_t k = 0; k < ncand && nkept < p->max_out; k++) {
		bool keep = true;

		for (int64_t j = 0; j < nkept && keep; j++)
			keep = !nms_suppresses(p, b, cand[k].idx, kept[j]);
		if (keep)
			kept[nkept++] = cand[k].idx;
	}
	return nkept;
}

/* Runs the selection; writes the rows of Y into y unless it is NULL.
 * Returns the row count, or -1 when out of memory. */
static int64_t nms_run(const Nms *p, Arena *a, int64_t *y)
{
	int64_t nbox = p->boxes->dims[1], rows = 0;
	NmsCand *cand = arena_alloc(a, (size_t)nbox * sizeof(*cand));
	int64_t *kept = arena_alloc(a, (size_t)nbox * sizeof(*kept));

	if (!cand || !kept)
		return -1;
	for (int64_t b = 0; b < p->boxes->dims[0]; b++)
		for (int64_t c = 0; c < p->scores->dims[1]; c++) {
			int64_t nkept = nms_class(p, b, c, cand, kept);

			for (int64_t j = 0; y && j < nkept; j++) {
				y[(rows + j) * 3] = b;
				y[(rows + j) * 3 + 1] = c;
				y[(rows + j) * 3 + 2] = kept[j];
			}
			rows += nkept;
		}
	return rows;
}

static Status nms_infer(Graph *g, Node *n)
{
	const Value *boxes, *scores;
	int64_t center = attr_i(n, "center_point_box", 0), dims[2];
	Nms p;

	TRY(infer_nin(g, n, 2, 5));
	TRY(infer_dtype(g, n, NMS_BOXES, DTM(F32)));
	TRY(infer_dtype(g, n, NMS_SCORES, DTM(F32)));
	if (has_input(n, NMS_MAX_OUT))
		TRY(infer_dtype(g, n, NMS_MAX_OUT, DTM(I64)));
	for (int i = NMS_IOU; i <= NMS_MIN_SCORE; i++)
		if (has_input(n, i))
			TRY(infer_dtype(g, n, i, DTM(F32)));
	for (int i = NMS_MAX_OUT; i <= NMS_MIN_SCORE; i++)
		if (has_input(n, i) && val_numel(&node_in(g, n, i)->v) > 1)
			return node_error(g, n, ST_INVALID, "input '%s' must hold one value",
			                  node_in(g, n, i)->name);
	if (center != 0 && center != 1)
		return node_error(g, n, ST_INVALID, "center_point_box is %lld, not 0 or 1", (long long)center);
	boxes = &node_in(g, n, NMS_BOXES)->v;
	scores = &node_in(g, n, NMS_SCORES)->v;
	if (boxes->rank != 3 || boxes->dims[2] != 4)
		return node_error(g, n, ST_INVALID, "boxes must be [batches, boxes, 4]");
	if (scores->rank != 3 || scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
		return node_error(g, n, ST_INVALID, "scores must be [batches, classes, boxes] with the "
		                  "batches and boxes of boxes");
	TRY(nms_args(g, n, NULL, &p));
	dims[0] = nms_run(&p, &g->arena, NULL);
	if (dims[0] < 0)
		return graph_oom(g);
	dims[1] = 3;
	infer_out(g, n, 0, DT_I64, 2, dims);
	return ST_OK;
}

static Status nms_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	Nms p;
	int64_t rows;

	TRY(nms_args(cx->g, n, in, &p));
	rows = nms_run(&p, cx->scratch, NULL);
	if (rows < 0)
		return eval_oom(cx, n);
	TRY(length_check(cx, n, "selected boxes", rows, out[0]->dims[0]));
	nms_run(&p, cx->scratch, out[0]->data);
	return ST_OK;
}

const OpImpl op_impl_NonMaxSuppression = {nms_infer, nms_eval, NULL};

/*
 * Unique: the distinct elements of X (flattened), or with `axis` its
 * distinct slices along the axis, compared element by element in row-major
 * order.  sorted=1 (the default) lists them in ascending order (slices
 * lexicographically), sorted=0 in the order of their first occurrence.
 * Elements compare by value: -0 equals +0, NaNs are equal to each other
 * and above everything, as NumPy's unique has it.  Outputs: Y, indices
 * (where each first occurs in X), inverse_indices (for each element or
 * slice of X, its place in Y) and counts.
 */
typedef struct UniqueRow {
	const int64_t *key;   /* the slice's elements as sort keys */
	int64_t m;            /* elements per slice */
	int64_t idx;          /* the slice's index in X */
} UniqueRow;

static int uniquerow_cmp(const void *pa, const void *pb)
{
	const UniqueRow *a = pa, *b = pb;

	for (int64_t e = 0; e < a->m; e++)
		if (a->key[e] != b->key[e])
			return a->key[e] < b->key[e] ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Pairs of (first occurrence, group) sorted for sorted=0. */
static int i64pair_cmp(const void *pa, const void *pb)
{
	const int64_t *a = pa, *b = pb;

	return a[0] < b[0] ? -1 : a[0] > b[0];
}

/* X seen as [outer][len][inner]: len slices of m = outer * inner elements. */
typedef struct UniquePlan {
	int64_t outer, len, inner;
	int64_t count;     /* distinct slices */
	int64_t *first;    /* [count]: the X index of output j's first occurrence */
	int64_t *counts;   /* [count] */
	int64_t *inverse;  /* [len]: the output each slice of X went to */
} UniquePlan;

/* axis < 0: no axis, X flattened. */
static void unique_view(const Value *x, int64_t axis, UniquePlan *p)
{
	if (axis < 0) {
		p->outer = p->inner = 1;
		p->len = val_numel(x);
		return;
	}
	val_split_at(x, axis, &p->outer, &p->inner);
	p->len = x->dims[axis];
}

/* Sorts the slices, groups equal ones and places the groups in output
 * order.  false when out of memory. */
static bool unique_plan(const Value *x, int64_t axis, bool sorted, Arena *a, UniquePlan *p)
{
	int64_t m, *keys, *pairs, *pos, *group, g = -1;
	UniqueRow *rows;

	unique_view(x, axis, p);
	m = p->outer * p->inner;
	keys = arena_alloc(a, (size_t)(p->len * m) * sizeof(*keys));
	rows = arena_alloc(a, (size_t)p->len * sizeof(*rows));
	pairs = arena_alloc(a, (size_t)(2 * p->len) * sizeof(*pairs));
	pos = arena_alloc(a, (size_t)p->len * sizeof(*pos));
	group = arena_alloc(a, (size_t)p->len * sizeof(*group));
	p->first = arena_alloc(a, (size_t)p->len * sizeof(*p->first));
	p->counts = arena_alloc(a, (size_t)p->len * sizeof(*p->counts));
	p->inverse = arena_alloc(a, (size_t)p->len * sizeof(*p->inverse));
	if (!keys || !rows || !pairs || !pos || !group || !p->first || !p->counts || !p->inverse)
		return false;
	for (int64_t i = 0; i < p->len; i++) {
		for (int64_t o = 0; o < p->outer; o++)
			for (int64_t s = 0; s < p->inner; s++)
				keys[i * m + o * p->inner + s] = sort_key(x, (o * p->len + i) * p->inner + s, false);
		rows[i] = (UniqueRow){keys + i * m, m, i};
	}
	qsort(rows, (size_t)p->len, sizeof(*rows), uniquerow_cmp);
	/* Groups in ascending order: pairs[2g] is group g's first occurrence
	 * (equal slices sort by index), pairs[2g + 1] is g. */
	for (int64_t r = 0; r < p->len; r++) {
		if (r == 0 || memcmp(rows[r].key, rows[r - 1].key, (size_t)m * sizeof(*keys)) != 0) {
			g++;
			pairs[2 * g] = rows[r].idx;
			pairs[2 * g + 1] = g;
		}
		group[rows[r].idx] = g;
	}
	p->count = g + 1;
	if (!sorted)
		qsort(pairs, (size_t)p->count, 2 * sizeof(*pairs), i64pair_cmp);
	for (int64_t j = 0; j < p->count; j++) {
		pos[pairs[2 * j + 1]] = j;
		p->first[j] = pairs[2 * j];
		p->counts[j] = 0;
	}
	for (int64_t i = 0; i < p->len; i++) {
		p->inverse[i] = pos[group[i]];
		p->counts[p->inverse[i]]++;
	}
	return true;
}

/* The axis attribute normalized, or -1 without it. */
static Status unique_axis(Graph *g, const Node *n, const Value *x, int64_t *axis)
{
	*axis = -1;
	if (!attr_find(n, "axis"))
		return ST_OK;
	*axis = attr_i(n, "axis", 0);
	if (!norm_axis(axis, x->rank))
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)attr_i(n, "axis", 0), x->rank);
	return ST_OK;
}

static Status unique_infer(Graph *g, Node *n)
{
	const Value *x;
	int64_t axis, dims[MAX_RANK];
	UniquePlan p;

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	TRY(length_operand(g, n, NULL, 0, "X", &x));
	TRY(unique_axis(g, n, x, &axis));
	if (!unique_plan(x, axis, attr_i(n, "sorted", 1) != 0, &g->arena, &p))
		return graph_oom(g);
	if (axis < 0) {
		infer_out(g, n, 0, x->dt, 1, &p.count);
	} else {
		memcpy(dims, x->dims, sizeof(dims));
		dims[axis] = p.count;
		infer_out(g, n, 0, x->dt, x->rank, dims);
	}
	infer_out(g, n, 1, DT_I64, 1, &p.count);
	infer_out(g, n, 2, DT_I64, 1, &p.len);
	infer_out(g, n, 3, DT_I64, 1, &p.count);
	return ST_OK;
}

static Status unique_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	size_t es = (size_t)dtype_size(x->dt);
	int64_t axis;
	UniquePlan p;

	TRY(unique_axis(cx->g, n, x, &axis));
	if (!unique_plan(x, axis, attr_i(n, "sorted", 1) != 0, cx->scratch, &p))
		return eval_oom(cx, n);
	TRY(length_check(cx, n, "distinct values", p.count, out[0]->dims[axis < 0 ? 0 : axis]));
	for (int64_t o = 0; o < p.outer; o++)
		for (int64_t j = 0; j < p.count; j++)
			memcpy((char *)out[0]->data + (size_t)((o * p.count + j) * p.inner) * es,
			       (const char *)x->data + (size_t)((o * p.len + p.first[j]) * p.inner) * es,
			       (size_t)p.inner * es);
	if (out[1])
		memcpy(out[1]->data, p.first, (size_t)p.count * sizeof(int64_t));
	if (out[2])
		memcpy(out[2]->data, p.inverse, (size_t)p.len * sizeof(int64_t));
	if (out[3])
		memcpy(out[3]->data, p.counts, (size_t)p.count * sizeof(int64_t));
	return ST_OK;
}

const OpImpl op_impl_Unique = {unique_infer, unique_eval, NULL};

/*
 * Compress: the slices of X along axis (its elements, flattened, without
 * axis) whose entry in condition is true.  A condition shorter than the
 * axis drops the slices past its end.
 */
typedef struct CompressView {
	int64_t axis;                /* -1 without the attribute */
	int64_t outer, len, inner;   /* X as [outer][len][inner] */
	int64_t kept;                /* true entries of condition */
} CompressView;

static Status compress_view(Graph *g, const Node *n, const Value *x, const Value *cond,
                            CompressView *v)
{
	v->axis = attr_find(n, "axis") ? attr_i(n, "axis", 0) : -1;
	if (!attr_find(n, "axis")) {
		v->outer = v->inner = 1;
		v->len = val_numel(x);
	} else {
		if (!norm_axis(&v->axis, x->rank))
			return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
			                  (long long)attr_i(n, "axis", 0), x->rank);
		val_split_at(x, v->axis, &v->outer, &v->inner);
		v->len = x->dims[v->axis];
	}
	if (cond->rank != 1)
		return node_error(g, n, ST_INVALID, "condition must be 1-D, not rank %d", cond->rank);
	if (cond->dims[0] > v->len)
		return node_error(g, n, ST_INVALID, "condition has %lld entries, more than the %lld "
		                  "slices it selects from", (long long)cond->dims[0], (long long)v->len);
	v->kept = 0;
	for (int64_t i = 0; i < cond->dims[0]; i++)
		v->kept += val_get_i64(cond, i) != 0;
	return ST_OK;
}

static Status compress_infer(Graph *g, Node *n)
{
	const Value *x, *cond;
	int64_t dims[MAX_RANK];
	CompressView v;

	TRY(infer_nin(g, n, 2, 2));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	TRY(infer_dtype(g, n, 1, DTM(BOOL)));
	x = &node_in(g, n, 0)->v;
	TRY(length_operand(g, n, NULL, 1, "condition", &cond));
	TRY(compress_view(g, n, x, cond, &v));
	if (v.axis < 0) {
		infer_out(g, n, 0, x->dt, 1, &v.kept);
		return ST_OK;
	}
	memcpy(dims, x->dims, sizeof(dims));
	dims[v.axis] = v.kept;
	infer_out(g, n, 0, x->dt, x->rank, dims);
	return ST_OK;
}

static Status compress_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0], *cond = in[1];
	size_t es = (size_t)dtype_size(x->dt), slice;
	char *y = out[0]->data;
	CompressView v;

	TRY(compress_view(cx->g, n, x, cond, &v));
	TRY(length_check(cx, n, "selected slices", v.kept, out[0]->dims[v.axis < 0 ? 0 : v.axis]));
	slice = (size_t)v.inner * es;
	for (int64_t o = 0; o < v.outer; o++)
		for (int64_t i = 0; i < cond->dims[0]; i++)
			if (val_get_i64(cond, i) != 0) {
				memcpy(y, (const char *)x->data + (size_t)(o * v.len + i) * slice, slice);
				y += slice;
			}
	return ST_OK;
}

const OpImpl op_impl_Compress = {compress_infer, compress_eval, NULL};
