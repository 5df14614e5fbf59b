/*
 * Layer selection for the TPU: which nodes of an optimized graph become
 * matrix layers, what each layer absorbs, and the quantized weights.
 *
 * A matrix layer is a Conv (2-D, one group, constant weights), a Gemm or a
 * MatMul by a constant matrix, or a pooling or activation node alone (then
 * the weights are the identity and the array only moves the data into the
 * accumulators).  It absorbs, while its result has a single consumer, a
 * bias Add of a per-channel constant, one activation the activate
 * instruction computes (Relu, Sigmoid, Tanh) and one MaxPool or
 * AveragePool without padding.  Any other activation fused into the layer
 * (LeakyRelu, HardSigmoid, Clip, HardSwish...) ends it: the layer writes
 * the activation's input and the activation node is a host step.  A Gemm
 * or MatMul fed by a Flatten or Reshape of one image becomes a convolution
 * whose kernel covers the image, so no reshaping copy is made.  Every
 * other live node is a host step.
 *
 * Quantization (int8): weights per output channel symmetric (scale =
 * max |w| / 127), activations per tensor symmetric from the calibrated
 * ranges, biases in int32 at the accumulator's scale (input scale x weight
 * scale).  In bf16 mode weights are rounded to bf16 and biases stay fp32.
 */
#include <math.h>
#include <string.h>

#include "interp/window.h"
#include "tpu.h"

typedef struct Sel {
	Graph *g;
	TpuPlan *p;
	const TpuOptions *opt;
	int *tmap;           /* graph tensor -> TpuTensor, -1 */
	bool *taken;         /* node absorbed into a matrix layer */
	int cap_t, cap_l;
} Sel;

static bool is_const(Graph *g, int t) { return t >= 0 && g->tensors[t].v.data != NULL; }

static Status oom(Sel *s) { return graph_oom(s->g); }

/* The single live consumer of tensor t, or NULL (none, several, or a graph output). */
static Node *only_consumer(Graph *g, int t)
{
	Node *found = NULL;

	if (graph_uses(g, t) != 1)
		return NULL;
	for (int i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		if (n->flags & NODE_DEAD)
			continue;
		for (int j = 0; j < n->nin; j++)
			if (n->in[j] == t)
				found = n;
	}
	return found;
}

static int add_tensor(Sel *s, int gt)
{
	TpuPlan *p = s->p;
	const Value *v = &s->g->tensors[gt].v;
	TpuTensor *t;

	if (s->tmap[gt] >= 0)
		return s->tmap[gt];
	if (p->nt == s->cap_t) {
		int cap = s->cap_t ? 2 * s->cap_t : 32;
		TpuTensor *nt = arena_alloc(&p->arena, (size_t)cap * sizeof(*nt));
		if (!nt)
			return -1;
		if (p->nt)
			memcpy(nt, p->t, (size_t)p->nt * sizeof(*nt));
		p->t = nt;
		s->cap_t = cap;
	}
	t = &p->t[p->nt];
	memset(t, 0, sizeof(*t));
	t->gt = gt;
	t->name = s->g->tensors[gt].name;
	t->type = *v;
	t->type.data = NULL;
	t->scale = 1;
	tpu_image_view(t, v);
	if (p->precision == TPU_INT8 && s->opt->absmax) {
		float m = s->opt->absmax[gt];
		t->scale = m > 0 && isfinite(m) ? m / 127.0f : 1.0f / 127.0f;
	}
	s->tmap[gt] = p->nt;
	return p->nt++;
}

static TpuLayer *add_layer(Sel *s, TpuLayerKind kind, const Node *n)
{
	TpuPlan *p = s->p;
	TpuLayer *l;

	if (p->nl == s->cap_l) {
		int cap = s->cap_l ? 2 * s->cap_l : 32;
		TpuLayer *nl = arena_alloc(&p->arena, (size_t)cap * sizeof(*nl));
		if (!nl)
			return NULL;
		if (p->nl)
			memcpy(nl, p->l, (size_t)p->nl * sizeof(*nl));
		p->l = nl;
		s->cap_l = cap;
	}
	l = &p->l[p->nl++];
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->name = n->name;
	l->func = TPU_FUNC_IDENTITY;
	l->pool = TPU_POOL_NONE;
	l->r = l->s = l->sh = l->sw = l->dh = l->dw = 1;
	l->pkh = l->pkw = l->psy = l->psx = 1;
	return l;
}

/* ---- the layer shapes ---- */

typedef struct Shape {
	const Node *n;
	int x;               /* graph tensor of the input image */
	int y;               /* graph tensor of the result so far */
	int64_t k, c, r, s, sh, sw, dh, dw, pt, pl, pb, pr, oh, ow;
	const float *w;      /* weights, viewed as wget() says */
	bool gemm_t;         /* w is [K][C] (Gemm transB) rather than [C][K] */
	bool flat;           /* Gemm over a flattened image: C*R*S inputs */
	bool identity;
	float alpha;
	const float *bias;   /* [k] or NULL */
	float beta;
	int bias2;           /* second bias [k] from an absorbed Add, or -1 */
} Shape;

static bool f32_image(Graph *g, int t, int rank)
{
	const Value *v = &g->tensors[t].v;
	return v->dt == DT_F32 && v->rank == rank && val_known(v);
}

static bool conv_shape(Sel *s, const Node *n, Shape *sh)
{
	Graph *g = s->g;
	ConvGeom gm;
	const Value *x, *w;

	if (n->nin < 2 || !is_const(g, n->in[1]) || !f32_image(g, n->in[0], 4))
		return false;
	x = &g->tensors[n->in[0]].v;
	w = &g->tensors[n->in[1]].v;
	if (w->dt != DT_F32 || w->rank != 4 || win_conv_geom(g, n, x, w, &gm) != ST_OK ||
	    gm.nsp != 2 || gm.group != 1)
		return false;
	if (n->nin > 2 && n->in[2] >= 0 && !is_const(g, n->in[2]))
		return false;
	sh->x = n->in[0];
	sh->k = gm.cout, sh->c = gm.cin, sh->r = gm.k[0], sh->s = gm.k[1];
	sh->sh = gm.stride[0], sh->sw = gm.stride[1], sh->dh = gm.dil[0], sh->dw = gm.dil[1];
	sh->pt = gm.pad0[0], sh->pl = gm.pad0[1], sh->pb = gm.pad1[0], sh->pr = gm.pad1[1];
	sh->oh = gm.out[0], sh->ow = gm.out[1];
	sh->w = w->data;
	sh->bias = n->nin > 2 && n->in[2] >= 0 ? g->tensors[n->in[2]].v.data : NULL;
	return true;
}

/* The flattened image a 2-D operand comes from: Flatten/Reshape of a
 * rank-4 tensor of one image, used only there. */
static int flattened_image(Graph *g, int t)
{
	const Tensor *a = &g->tensors[t];
	const Node *f;
	const Value *src;

	if (a->producer < 0)
		return -1;
	f = &g->nodes[a->producer];
	if ((f->op != OP_Flatten && f->op != OP_Reshape) || graph_uses(g, t) != 1 ||
	    f->fused_act != OP_COUNT)
		return -1;
	src = &g->tensors[f->in[0]].v;
	if (!f32_image(g, f->in[0], 4) || src->dims[0] != 1 || a->v.rank != 2 || a->v.dims[0] != 1)
		return -1;
	return f->in[0];
}

static bool matrix_shape(Sel *s, const Node *n, Shape *sh)
{
	Graph *g = s->g;
	const Value *a, *b;
	int img;

	if (n->nin < 2 || !is_const(g, n->in[1]) || !f32_image(g, n->in[0], 2))
		return false;
	a = &g->tensors[n->in[0]].v;
	b = &g->tensors[n->in[1]].v;
	if (b->dt != DT_F32 || b->rank != 2)
		return false;
	sh->gemm_t = false;
	sh->alpha = 1;
	sh->beta = 1;
	if (n->op == OP_Gemm) {
		if (attr_i(n, "transA", 0))
			return false;
		sh->gemm_t = attr_i(n, "transB", 0) != 0;
		sh->alpha = (float)attr_f(n, "alpha", 1.0);
		sh->beta = (float)attr_f(n, "beta", 1.0);
		if (n->nin > 2 && n->in[2] >= 0) {
			const Value *c = &g->tensors[n->in[2]].v;
			int64_t kk = sh->gemm_t ? b->dims[0] : b->dims[1];
			if (!is_const(g, n->in[2]) || c->dt != DT_F32 || val_numel(c) != kk ||
			    (c->rank == 2 && c->dims[0] != 1))
				return false;
			sh->bias = c->data;
		}
	}
	sh->c = a->dims[1];
	sh->k = sh->gemm_t ? b->dims[0] : b->dims[1];
	sh->w = b->data;
	sh->x = n->in[0];
	sh->oh = 1, sh->ow = a->dims[0];
	img = flattened_image(g, n->in[0]);
	if (img >= 0) {
		const Value *v = &g->tensors[img].v;
		sh->flat = true;
		sh->x = img;
		sh->c = v->dims[1], sh->r = v->dims[2], sh->s = v->dims[3];
		sh->oh = sh->ow = 1;
	}
	return true;
}

/* The window of a pooling node the activate instruction can compute:
 * 2-D, no padding, no dilation, every window inside the input. */
typedef struct PoolWin {
	TpuPool pool;
	int64_t kh, kw, sy, sx, oh, ow;
} PoolWin;

static bool pool_window(Graph *g, const Node *n, const Value *x, PoolWin *pw)
{
	Pool pm;

	if ((n->op != OP_MaxPool && n->op != OP_AveragePool) || (n->nout > 1 && n->out[1] >= 0) ||
	    !x || x->rank != 4 || win_pool_geom(g, n, x, &pm) != ST_OK || pm.nsp != 2)
		return false;
	if (pm.pad0[0] || pm.pad0[1] || pm.pad1[0] || pm.pad1[1] || pm.dil[0] != 1 || pm.dil[1] != 1)
		return false;
	if ((pm.out[0] - 1) * pm.stride[0] + pm.k[0] > x->dims[2] ||
	    (pm.out[1] - 1) * pm.stride[1] + pm.k[1] > x->dims[3])
		return false;
	pw->pool = n->op == OP_MaxPool ? TPU_POOL_MAX : TPU_POOL_AVG;
	pw->kh = pm.k[0], pw->kw = pm.k[1], pw->sy = pm.stride[0], pw->sx = pm.stride[1];
	pw->oh = pm.out[0], pw->ow = pm.out[1];
	return true;
}

static void set_pool(TpuLayer *l, const PoolWin *pw)
{
	l->pool = pw->pool;
	l->pkh = pw->kh, l->pkw = pw->kw, l->psy = pw->sy, l->psx = pw->sx;
	l->ph = pw->oh, l->pw = pw->ow;
}

/* The activate function computing graph op `op`, TPU_FUNC_COUNT if none. */
static TpuFunc func_of(OpKind op)
{
	static const struct { OpKind op; TpuFunc f; } map[] = {
		{OP_Relu, TPU_FUNC_RELU}, {OP_Sigmoid, TPU_FUNC_SIGMOID}, {OP_Tanh, TPU_FUNC_TANH},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].op == op)
			return map[i].f;
	return TPU_FUNC_COUNT;
}

/* Per-channel constant of k values for an Add on a [*,K,H,W] or [*,K]
 * result: the other operand, or NULL. */
static const float *channel_const(Graph *g, const Node *add, int y, int64_t k, int rank)
{
	int other = add->in[0] == y ? add->in[1] : add->in[0];
	const Value *c;

	if (add->op != OP_Add || add->nin != 2 || add->in[0] == add->in[1] || !is_const(g, other))
		return NULL;
	c = &g->tensors[other].v;
	if (c->dt != DT_F32 || val_numel(c) != k)
		return NULL;
	if (!val_same_shape(&g->tensors[add->out[0]].v, &g->tensors[y].v))
		return NULL;
	/* [K] or [1,K] broadcasts over the last axis: only right for matrices;
	 * images need [K,1,1] or [1,K,1,1]. */
	if (rank == 4)
		return (c->rank == 3 || (c->rank == 4 && c->dims[0] == 1)) && c->dims[c->rank - 3] == k
		       ? c->data : NULL;
	return c->dims[c->rank - 1] == k ? c->data : NULL;
}

/* ---- quantized weights ---- */

/* Weight (k, c, r, s) of the shape, in the layer's [k][c][r][s] order. */
static float wget(const Shape *sh, int64_t k, int64_t c, int64_t r, int64_t s)
{
	if (sh->identity)
		return k == c ? 1.0f : 0.0f;
	if (sh->n->op == OP_Conv)
		return sh->w[((k * sh->c + c) * sh->r + r) * sh->s + s];
	int64_t row = sh->flat ? (c * sh->r + r) * sh->s + s : c;
	int64_t in = sh->flat ? sh->c * sh->r * sh->s : sh->c;
	float v = sh->gemm_t ? sh->w[k * in + row] : sh->w[row * sh->k + k];
	return v * sh->alpha;
}

static float bias_of(const Shape *sh, const float *b2, int64_t k)
{
	float b = sh->bias ? sh->bias[k] * (sh->n->op == OP_Gemm ? sh->beta : 1.0f) : 0.0f;
	return b + (b2 ? b2[k] : 0.0f);
}

static Status quantize(Sel *s, TpuLayer *l, const Shape *sh, const float *b2)
{
	TpuPlan *p = s->p;
	int64_t per = l->c * l->r * l->s, n = l->k * per;
	float sx = p->t[l->in].scale;

	if (p->precision == TPU_BF16) {
		uint16_t *w = arena_alloc(&p->arena, (size_t)n * 2);
		l->bias_f = arena_alloc(&p->arena, (size_t)l->k * sizeof(float));
		if (!w || !l->bias_f)
			return oom(s);
		for (int64_t k = 0; k < l->k; k++) {
			for (int64_t i = 0; i < per; i++)
				w[k * per + i] = f32_to_bf16(wget(sh, k, i / (l->r * l->s), i / l->s % l->r, i % l->s));
			l->bias_f[k] = bias_of(sh, b2, k);
		}
		l->wq = w;
		return ST_OK;
	}
	int8_t *w = arena_alloc(&p->arena, (size_t)n);
	l->wscale = arena_alloc(&p->arena, (size_t)l->k * sizeof(float));
	l->bias_q = arena_alloc(&p->arena, (size_t)l->k * sizeof(int32_t));
	if (!w || !l->wscale || !l->bias_q)
		return oom(s);
	for (int64_t k = 0; k < l->k; k++) {
		float m = 0;
		for (int64_t i = 0; i < per; i++) {
			float v = fabsf(wget(sh, k, i / (l->r * l->s), i / l->s % l->r, i % l->s));
			m = v > m ? v : m;
		}
		l->wscale[k] = sh->identity ? 1.0f : m > 0 ? m / 127.0f : 1.0f;
		for (int64_t i = 0; i < per; i++) {
			float v = wget(sh, k, i / (l->r * l->s), i / l->s % l->r, i % l->s) / l->wscale[k];
			w[k * per + i] = (int8_t)fmaxf(-127.0f, fminf(127.0f, nearbyintf(v)));
		}
		double bq = nearbyint((double)bias_of(sh, b2, k) / ((double)sx * l->wscale[k]));
		l->bias_q[k] = (int32_t)fmax(-2147483647.0, fmin(2147483647.0, bq));
	}
	l->wq = w;
	return ST_OK;
}

/* ---- building layers ---- */

static Status host_layer(Sel *s, Node *n);

/* Absorbs the bias Add, activation and pooling that follow sh->y. */
static void absorb(Sel *s, TpuLayer *l, Shape *sh, const float **b2, int rank)
{
	Graph *g = s->g;
	Node *n;

	*b2 = NULL;
	if (l->func == TPU_FUNC_IDENTITY && !sh->identity && (n = only_consumer(g, sh->y)) &&
	    (*b2 = channel_const(g, n, sh->y, l->k, rank))) {
		s->taken[node_index(g, n)] = true;
		sh->y = n->out[0];
	}
	/* activate pools activated values: after a max pool, a non-decreasing
	 * function gives the same result; after an average it would not */
	if (l->func == TPU_FUNC_IDENTITY && l->pool != TPU_POOL_AVG && (n = only_consumer(g, sh->y)) &&
	    func_of(n->op) != TPU_FUNC_COUNT && n->fused_act == OP_COUNT) {
		s->taken[node_index(g, n)] = true;
		l->func = func_of(n->op);
		sh->y = n->out[0];
	}
	if (rank == 4 && l->pool == TPU_POOL_NONE && (n = only_consumer(g, sh->y))) {
		PoolWin pw;
		if (pool_window(g, n, &g->tensors[sh->y].v, &pw)) {
			s->taken[node_index(g, n)] = true;
			set_pool(l, &pw);
			sh->y = n->out[0];
		}
	}
}

/* The activation fused into n (passes/fuse.c) that activate cannot
 * compute, or NULL: the layer then ends before it, at the activation's
 * input tensor, and the activation node runs as a host step after it. */
static Node *host_activation(Graph *g, const Node *n)
{
	if (n->fused_act == OP_COUNT || func_of(n->fused_act) != TPU_FUNC_COUNT)
		return NULL;
	return &g->nodes[n->fused_node];
}

static Status matrix_layer(Sel *s, Node *n, Shape *sh)
{
	TpuLayer *l = add_layer(s, TPU_LAYER_MATRIX, n);
	Node *act = host_activation(s->g, n);
	const float *b2 = NULL;
	int rank = sh->flat ? 2 : s->g->tensors[sh->x].v.rank;
	Status st;

	if (!l)
		return oom(s);
	sh->n = n;
	sh->y = act ? act->in[0] : n->out[0];
	l->k = sh->k, l->c = sh->c, l->r = sh->r ? sh->r : 1, l->s = sh->s ? sh->s : 1;
	sh->r = l->r, sh->s = l->s;
	l->sh = sh->sh ? sh->sh : 1, l->sw = sh->sw ? sh->sw : 1;
	l->dh = sh->dh ? sh->dh : 1, l->dw = sh->dw ? sh->dw : 1;
	l->pt = sh->pt, l->pl = sh->pl;
	l->oh = sh->oh, l->ow = sh->ow;
	l->identity = sh->identity;
	if (n->fused_act != OP_COUNT && !act)
		l->func = func_of(n->fused_act);
	if (sh->identity && func_of(n->op) != TPU_FUNC_COUNT)
		l->func = func_of(n->op);
	if (sh->identity && func_of(n->op) == TPU_FUNC_COUNT) {
		PoolWin pw;
		pool_window(s->g, n, &s->g->tensors[sh->x].v, &pw);
		set_pool(l, &pw);
	}
	if (!act)
		absorb(s, l, sh, &b2, sh->flat ? 2 : rank);
	if (l->pool == TPU_POOL_NONE)
		l->ph = l->oh, l->pw = l->ow;
	if ((l->in = add_tensor(s, sh->x)) < 0 || (l->out = add_tensor(s, sh->y)) < 0)
		return oom(s);
	s->p->t[l->in].matrix = s->p->t[l->out].matrix = true;
	if (sh->flat && sh->x != n->in[0])
		s->taken[s->g->tensors[n->in[0]].producer] = true;
	s->taken[node_index(s->g, n)] = true;
	if ((st = quantize(s, l, sh, b2)) != ST_OK || !act)
		return st;
	return host_layer(s, act);
}

/* A pooling or activation node alone: the identity through the array. */
static bool identity_shape(Sel *s, const Node *n, Shape *sh)
{
	Graph *g = s->g;
	PoolWin pw;
	const Value *x;

	if (n->nin < 1 || n->in[0] < 0 || n->fused_act != OP_COUNT)
		return false;
	x = &g->tensors[n->in[0]].v;
	if (!(f32_image(g, n->in[0], 4) || (func_of(n->op) != TPU_FUNC_COUNT && f32_image(g, n->in[0], 2))))
		return false;
	if (func_of(n->op) == TPU_FUNC_COUNT && !pool_window(g, n, x, &pw))
		return false;
	sh->identity = true;
	sh->x = n->in[0];
	sh->c = sh->k = x->dims[1];
	sh->oh = x->rank == 4 ? x->dims[2] : 1;
	sh->ow = x->rank == 4 ? x->dims[3] : x->dims[0];
	return true;
}

static Status host_layer(Sel *s, Node *n)
{
	TpuLayer *l = add_layer(s, TPU_LAYER_HOST, n);
	Graph *g = s->g;

	if (!l)
		return oom(s);
	l->nodes = arena_alloc(&s->p->arena, sizeof(int));
	l->ins = arena_alloc(&s->p->arena, (size_t)(n->nin + 1) * sizeof(int));
	l->outs = arena_alloc(&s->p->arena, (size_t)(n->nout + 1) * sizeof(int));
	if (!l->nodes || !l->ins || !l->outs)
		return oom(s);
	l->nodes[l->nnodes++] = node_index(g, n);
	for (int i = 0; i < n->nin; i++) {
		if (n->in[i] < 0 || is_const(g, n->in[i]))
			continue;
		if ((l->ins[l->nins++] = add_tensor(s, n->in[i])) < 0)
			return oom(s);
	}
	for (int i = 0; i < n->nout; i++)
		if (n->out[i] >= 0 && (l->outs[l->nouts++] = add_tensor(s, n->out[i])) < 0)
			return oom(s);
	return ST_OK;
}

/* A Flatten or Reshape that a following Gemm or MatMul reads as an image. */
static bool feeds_flat_matrix(Sel *s, const Node *n)
{
	Node *c;
	Shape sh;

	if ((n->op != OP_Flatten && n->op != OP_Reshape) || !(c = only_consumer(s->g, n->out[0])) ||
	    (c->op != OP_Gemm && c->op != OP_MatMul) || c->in[0] != n->out[0])
		return false;
	memset(&sh, 0, sizeof(sh));
	return matrix_shape(s, c, &sh) && sh.flat;
}

static Status select_node(Sel *s, Node *n)
{
	Shape sh;

	if (feeds_flat_matrix(s, n))
		return ST_OK;

	memset(&sh, 0, sizeof(sh));
	sh.alpha = sh.beta = 1;
	if (n->op == OP_Conv && conv_shape(s, n, &sh))
		return matrix_layer(s, n, &sh);
	memset(&sh, 0, sizeof(sh));
	if ((n->op == OP_Gemm || n->op == OP_MatMul) && matrix_shape(s, n, &sh))
		return matrix_layer(s, n, &sh);
	memset(&sh, 0, sizeof(sh));
	sh.alpha = sh.beta = 1;
	if (identity_shape(s, n, &sh))
		return matrix_layer(s, n, &sh);
	return host_layer(s, n);
}

/* Segments: runs of matrix layers, each host layer alone. */
static Status make_segments(Sel *s)
{
	TpuPlan *p = s->p;

	p->seg = arena_alloc(&p->arena, (size_t)(p->nl + 1) * sizeof(*p->seg));
	if (!p->seg)
		return oom(s);
	for (int i = 0; i < p->nl; i++) {
		TpuLayer *l = &p->l[i];
		if (l->kind == TPU_LAYER_HOST || i == 0 || p->l[i - 1].kind == TPU_LAYER_HOST) {
			memset(&p->seg[p->nseg], 0, sizeof(*p->seg));
			p->seg[p->nseg].host = l->kind == TPU_LAYER_HOST;
			p->seg[p->nseg].layer = i;
			p->nseg++;
		}
		l->segment = p->nseg - 1;
	}
	return ST_OK;
}

static Status graph_ends(Sel *s)
{
	TpuPlan *p = s->p;
	Graph *g = s->g;

	p->graph_in = arena_alloc(&p->arena, (size_t)(g->ninputs + 1) * sizeof(int));
	p->graph_out = arena_alloc(&p->arena, (size_t)(g->noutputs + 1) * sizeof(int));
	if (!p->graph_in || !p->graph_out)
		return oom(s);
	p->ngraph_in = g->ninputs, p->ngraph_out = g->noutputs;
	for (int i = 0; i < g->ninputs; i++)
		if ((p->graph_in[i] = add_tensor(s, g->inputs[i])) < 0)
			return oom(s);
	for (int i = 0; i < g->noutputs; i++) {
		if (is_const(g, g->outputs[i]))
			return graph_error(g, ST_UNSUPPORTED, "output '%s' is a constant; the TPU "
			                   "target needs every output computed", g->tensors[g->outputs[i]].name);
		if ((p->graph_out[i] = add_tensor(s, g->outputs[i])) < 0)
			return oom(s);
	}
	return ST_OK;
}

Status tpu_select(Graph *g, const TpuConfig *cfg, const TpuOptions *opt, TpuPlan *p)
{
	Sel s = {g, p, opt, NULL, NULL, 0, 0};
	Status st = ST_OK;
	Arena tmp;

	arena_init(&tmp);
	p->cfg = *cfg;
	p->precision = opt->precision;
	p->cfg.precision = opt->precision;
	s.tmap = arena_alloc(&tmp, (size_t)(g->ntensors + 1) * sizeof(int));
	s.taken = arena_alloc(&tmp, (size_t)(g->nnodes + 1) * sizeof(bool));
	if (!s.tmap || !s.taken) {
		arena_free(&tmp);
		return oom(&s);
	}
	memset(s.taken, 0, (size_t)(g->nnodes + 1) * sizeof(bool));
	for (int i = 0; i < g->ntensors; i++)
		s.tmap[i] = -1;
	for (int i = 0; i < g->nnodes && st == ST_OK; i++) {
		Node *n = &g->nodes[i];
		if (!(n->flags & NODE_DEAD) && !s.taken[i])
			st = select_node(&s, n);
	}
	if (st == ST_OK)
		st = graph_ends(&s);
	if (st == ST_OK)
		st = make_segments(&s);
	arena_free(&tmp);
	return st;
}
