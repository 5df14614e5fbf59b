/*
 * BatchNormalization folding.  At inference BN is a per-channel affine map
 * y = s * (x - mean) + bias with s = scale / sqrt(var + eps), so when it
 * follows a Conv (channel = output map) or a Gemm (channel = output column)
 * whose weights are constant and whose result feeds nothing else, it folds
 * into that layer's weights and bias:
 *     W'[m] = s[m] * W[m],   B'[m] = s[m] * (B[m] - mean[m]) + bias[m].
 * New constant tensors are made; the originals may be shared.
 */
#include "passes.h"

#include <math.h>
#include <string.h>

typedef struct BnParams {
	int64_t channels;
	double *s;           /* [channels] scale / sqrt(var + eps) */
	double *shift;       /* [channels] bias - s * mean */
} BnParams;

static bool all_const(Graph *g, const Node *n, int from, int to)
{
	for (int i = from; i < to; i++) {
		const Tensor *t = node_in(g, n, i);
		if (!t || !t->v.data || !dtype_is_float(t->v.dt))
			return false;
	}
	return true;
}

static bool bn_params(Graph *g, const Node *bn, BnParams *p)
{
	const Value *scale, *bias, *mean, *var;
	double eps = attr_f(bn, "epsilon", 1e-5);

	if (!all_const(g, bn, 1, 5) || node_out(g, bn, 1) || bn->nout > 1 ||
	    attr_i(bn, "training_mode", 0))
		return false;
	scale = &node_in(g, bn, 1)->v;
	bias = &node_in(g, bn, 2)->v;
	mean = &node_in(g, bn, 3)->v;
	var = &node_in(g, bn, 4)->v;
	p->channels = val_numel(scale);
	p->s = arena_alloc(&g->arena, (size_t)p->channels * sizeof(double));
	p->shift = arena_alloc(&g->arena, (size_t)p->channels * sizeof(double));
	if (!p->s || !p->shift)
		return false;
	for (int64_t c = 0; c < p->channels; c++) {
		p->s[c] = val_get_f64(scale, c) / sqrt(val_get_f64(var, c) + eps);
		p->shift[c] = val_get_f64(bias, c) - p->s[c] * val_get_f64(mean, c);
	}
	return true;
}

/* A new constant tensor with v's type and fresh data. */
static int new_const(Graph *g, const char *base, const char *suffix, const Value *type)
{
	char *name = arena_printf(&g->arena, "%s%s", base, suffix);
	int t = name ? graph_add_tensor(g, name) : -1;

	if (t < 0)
		return -1;
	g->tensors[t].v = *type;
	g->tensors[t].flags = TENSOR_INIT;
	if (!val_alloc(&g->arena, &g->tensors[t].v))
		return -1;
	return t;
}

/* W' = s[m] * W for rows m of the weight viewed as [rows][per_row];
 * stride_m and stride_k give the element offset of (m, k). */
static int scaled_weight(Graph *g, const Tensor *w, const BnParams *p, int64_t stride_m,
                         int64_t stride_k, int64_t per_row)
{
	int t = new_const(g, w->name, "_bnfold", &w->v);

	if (t < 0)
		return -1;
	for (int64_t m = 0; m < p->channels; m++)
		for (int64_t k = 0; k < per_row; k++) {
			int64_t i = m * stride_m + k * stride_k;
			val_set_f64(&g->tensors[t].v, i, p->s[m] * val_get_f64(&w->v, i));
		}
	return t;
}

/* B' = s * b + shift, where b(m) reads the old bias (0 when absent). */
static int folded_bias(Graph *g, const char *base, DType dt, const BnParams *p,
                       const Value *old, double beta)
{
	Value type = {0};
	int t;

	val_set_type(&type, dt, 1, &p->channels);
	t = new_const(g, base, "_bnfold_bias", &type);
	if (t < 0)
		return -1;
	for (int64_t m = 0; m < p->channels; m++) {
		double b = 0;
		if (old)
			b = beta * val_get_f64(old, val_numel(old) == 1 ? 0 : m);
		val_set_f64(&g->tensors[t].v, m, p->s[m] * b + p->shift[m]);
	}
	return t;
}

static void splice(Graph *g, Node *layer, Node *bn)
{
	layer->out[0] = bn->out[0];
	g->tensors[bn->out[0]].producer = node_index(g, layer);
	bn->flags |= NODE_DEAD;
}

static Status fold_conv(Graph *g, Node *conv, Node *bn, const BnParams *p)
{
	const Tensor *w = node_in(g, conv, 1), *b = node_in(g, conv, 2);
	int64_t per_row;
	int tw, tb;

	if (w->v.dims[0] != p->channels || (b && val_numel(&b->v) != p->channels))
		return ST_OK;
	per_row = val_numel(&w->v) / p->channels;
	tw = scaled_weight(g, w, p, per_row, 1, per_row);
	tb = folded_bias(g, conv->name, w->v.dt, p, b ? &b->v : NULL, 1.0);
	if (tw < 0 || tb < 0)
		return graph_oom(g);
	conv->in[1] = tw;
	conv->in[2] = tb;
	conv->nin = 3;
	splice(g, conv, bn);
	return ST_OK;
}

static Attr *find_attr_mut(Node *n, const char *name)
{
	for (int i = 0; i < n->nattr; i++)
		if (strcmp(n->attr[i].name, name) == 0)
			return &n->attr[i];
	return NULL;
}

static Status fold_gemm(Graph *g, Node *gemm, Node *bn, const BnParams *p)
{
	const Tensor *w = node_in(g, gemm, 1), *c = node_in(g, gemm, 2);
	bool trans_b = attr_i(gemm, "transB", 0) != 0;
	int64_t k = trans_b ? w->v.dims[1] : w->v.dims[0];
	int64_t n = trans_b ? w->v.dims[0] : w->v.dims[1];
	Attr *beta = find_attr_mut(gemm, "beta");
	int tw, tb;

	if (n != p->channels || node_out(g, gemm, 0)->v.rank != 2)
		return ST_OK;
	if (c && !(val_numel(&c->v) == 1 || (val_numel(&c->v) == n && c->v.dims[c->v.rank - 1] == n)))
		return ST_OK;
	tw = trans_b ? scaled_weight(g, w, p, k, 1, k) : scaled_weight(g, w, p, 1, n, k);
	tb = folded_bias(g, gemm->name, w->v.dt, p, c ? &c->v : NULL, beta ? beta->f : 1.0);
	if (tw < 0 || tb < 0)
		return graph_oom(g);
	if (beta)
		beta->f = 1.0;
	gemm->in[1] = tw;
	gemm->in[2] = tb;
	gemm->nin = 3;
	splice(g, gemm, bn);
	return ST_OK;
}

static Node *foldable_producer(Graph *g, const Node *bn)
{
	const Tensor *x = node_in(g, bn, 0);
	Node *layer;

	if (!x || x->producer < 0 || graph_uses(g, bn->in[0]) != 1)
		return NULL;
	layer = &g->nodes[x->producer];
	if ((layer->flags & NODE_DEAD) || layer->fused_act != OP_COUNT || layer->out[0] != bn->in[0])
		return NULL;
	if (layer->op != OP_Conv && layer->op != OP_Gemm)
		return NULL;
	if (!all_const(g, layer, 1, 2) || (node_in(g, layer, 2) && !all_const(g, layer, 2, 3)))
		return NULL;
	return layer;
}

Status pass_fold_batchnorm(Graph *g)
{
	for (int i = 0; i < g->nnodes; i++) {
		Node *bn = &g->nodes[i], *layer;
		BnParams p;
		Status st;

		if ((bn->flags & NODE_DEAD) || bn->op != OP_BatchNormalization)
			continue;
		if (!(layer = foldable_producer(g, bn)) || !bn_params(g, bn, &p))
			continue;
		st = layer->op == OP_Conv ? fold_conv(g, layer, bn, &p) : fold_gemm(g, layer, bn, &p);
		if (st != ST_OK)
			return st;
	}
	return ST_OK;
}
