/*
 * The loop interpreter's statement executors.
 *
 * Each executor runs n iterations of its statement's innermost loop: the
 * operands start at the offsets their slots hold (or that their index
 * expressions give, when n is 1) and step by their strides.  The semantics,
 * exactly:
 *   - floats compute in double and round once when stored (val_set_f64);
 *     integers compute in 64 bits, wrapping, and store with val_set_i64;
 *   - mac: acc = store(acc + a * b) in the accumulator's kind;
 *   - copy moves the element's bytes (same type on both sides); with a pad
 *     value, a source index outside its dimension reads the pad value;
 *   - apply: the shared scalar functions (ir/scalar.h), in integers when
 *     every operand and the destination are integers or bools and the op
 *     has an exact integer form, else in double;
 *   - reduce: sum, or max and min that propagate NaN as np.maximum does;
 *   - quantize, dequantize, requantize: as the graph interpreter's
 *     QuantizeLinear, DequantizeLinear and QLinearConv compute them.
 * The fast paths below (f32 and 8-bit integer mac, copies and fills by
 * element size, f32 apply and reduce) compute the same expressions as the
 * generic ones without the per-element type dispatch.
 */
#include <math.h>
#include <string.h>

#include "loop_interp.h"
#include "scalar.h"

/* The flat offset of operand r now (an evaluated operand: n is 1). */
static int64_t ref_at(const Exec *x, const XRef *r)
{
	int64_t o = 0;

	if (r->slot >= 0)
		return x->cur[r->slot];
	for (int d = 0; d < r->rank; d++)
		o += r->estride[d] * loop_expr_eval(x->p, r->idx[d], x->vars);
	return o;
}

/* The padded source's offset at iteration t, false when it falls outside. */
static bool pad_at(const Exec *x, const XRef *r, int64_t t, int64_t *off)
{
	int64_t o = 0;

	for (int d = 0; d < r->rank; d++) {
		int64_t i = r->dslot >= 0 ? x->cur[r->dslot + d] + t * r->dstride[d]
		                          : loop_expr_eval(x->p, r->idx[d], x->vars);

		if (i < 0 || i >= r->dims[d])
			return false;
		o += i * r->estride[d];
	}
	*off = o;
	return true;
}

static void offsets(const Exec *x, const XStmt *s, int64_t *off)
{
	for (int r = 0; r < s->nref; r++)
		off[r] = s->ref[r].base ? ref_at(x, &s->ref[r]) : 0;
}

static double get_f(const XRef *r, int64_t o)
{
	return r->base ? val_get_f64(&r->v, o) : r->lit.f;
}

static int64_t get_i(const XRef *r, int64_t o)
{
	return r->base ? val_get_i64(&r->v, o) : r->lit.i;
}

static int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wrap_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static int64_t wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* copy and fill */

#define COPY_FILL(T, bits)                                                              \
static void copy_##bits(Exec *x, const XStmt *s, int64_t n)                             \
{                                                                                       \
	T *d = (T *)s->ref[0].base + ref_at(x, &s->ref[0]);                                 \
	const T *src = (const T *)s->ref[1].base + ref_at(x, &s->ref[1]);                   \
	int64_t sd = s->ref[0].stride, ss = s->ref[1].stride;                               \
                                                                                        \
	if (n > 1 && sd == 1 && ss == 1 && s->noalias) {                                    \
		memcpy(d, src, (size_t)n * sizeof(T));                                          \
		return;                                                                         \
	}                                                                                   \
	for (int64_t t = 0; t < n; t++)                                                     \
		d[t * sd] = src[t * ss];                                                        \
}                                                                                       \
                                                                                        \
static void fill_##bits(Exec *x, const XStmt *s, int64_t n)                             \
{                                                                                       \
	T *d = (T *)s->ref[0].base + ref_at(x, &s->ref[0]);                                 \
	int64_t sd = s->ref[0].stride;                                                      \
	T v;                                                                                \
                                                                                        \
	memcpy(&v, s->lit, sizeof(T));                                                      \
	for (int64_t t = 0; t < n; t++)                                                     \
		d[t * sd] = v;                                                                  \
}

COPY_FILL(uint8_t, 8)
COPY_FILL(uint16_t, 16)
COPY_FILL(uint32_t, 32)
COPY_FILL(uint64_t, 64)

static void copy_pad(Exec *x, const XStmt *s, int64_t n)
{
	const XRef *dr = &s->ref[0], *sr = &s->ref[1];
	int64_t od = ref_at(x, dr), os;
	size_t es = (size_t)dr->esize;

	for (int64_t t = 0; t < n; t++) {
		char *d = dr->base + (od + t * dr->stride) * (int64_t)es;

		if (pad_at(x, sr, t, &os))
			memcpy(d, sr->base + os * (int64_t)es, es);
		else
			memcpy(d, s->lit, es);
	}
}

/* mac: generic paths */

static void mac_float(Exec *x, const XStmt *s, int64_t n)
{
	const XRef *c = &s->ref[0], *a = &s->ref[1], *b = &s->ref[2];
	int64_t o[LOOP_MAX_ARGS];

	offsets(x, s, o);
	for (int64_t t = 0; t < n; t++) {
		int64_t oc = o[0] + t * c->stride;
		double v = val_get_f64(&c->v, oc) +
		           val_get_f64(&a->v, o[1] + t * a->stride) * val_get_f64(&b->v, o[2] + t * b->stride);

		val_set_f64((Value *)&c->v, oc, v);
	}
}

static void mac_int(Exec *x, const XStmt *s, int64_t n)
{
	const XRef *c = &s->ref[0], *a = &s->ref[1], *b = &s->ref[2];
	int64_t o[LOOP_MAX_ARGS];

	offsets(x, s, o);
	for (int64_t t = 0; t < n; t++) {
		int64_t oc = o[0] + t * c->stride;
		int64_t p = wrap_mul(val_get_i64(&a->v, o[1] + t * a->stride),
		                     val_get_i64(&b->v, o[2] + t * b->stride));

		val_set_i64((Value *)&c->v, oc, wrap_add(val_get_i64(&c->v, oc), p));
	}
}

/*
 * mac: fast paths for common type triples.  STEP is the statement's
 * arithmetic for one element, the same as mac_float's or mac_int's.
 *
 * A nest block keeps T accumulators (T lanes of the band) in registers
 * while the inner loops run; each accumulator still adds its products in
 * the inner loops' order.
 */
#define STEP_F32(c, a, b) ((float)((double)(c) + (double)(a) * (double)(b)))
#define STEP_I32(c, a, b) ((int32_t)((uint32_t)(c) + (uint32_t)((int64_t)(a) * (int64_t)(b))))

#define MAC_TIGHT(sfx, TC, TA, TB, STEP)                                                \
static void mac_axpy_##sfx(TC *restrict c, TA a, const TB *restrict b, int64_t n)       \
{                                                                                       \
	for (int64_t t = 0; t < n; t++)                                                     \
		c[t] = STEP(c[t], a, b[t]);                                                     \
}                                                                                       \
                                                                                        \
static void mac_tight_##sfx(Exec *x, const XStmt *s, int64_t n)                         \
{                                                                                       \
	TC *c = (TC *)s->ref[0].base + ref_at(x, &s->ref[0]);                               \
	const TA *a = (const TA *)s->ref[1].base + ref_at(x, &s->ref[1]);                   \
	const TB *b = (const TB *)s->ref[2].base + ref_at(x, &s->ref[2]);                   \
	int64_t sc = s->ref[0].stride, sa = s->ref[1].stride, sb = s->ref[2].stride;        \
	TC v;                                                                               \
                                                                                        \
	if (n == 1) {                                                                       \
		*c = STEP(*c, *a, *b);                                                          \
		return;                                                                         \
	}                                                                                   \
	if (sc == 0 && s->noalias) {                                                        \
		v = *c;                                                                         \
		for (int64_t t = 0; t < n; t++)                                                 \
			v = STEP(v, a[t * sa], b[t * sb]);                                          \
		*c = v;                                                                         \
		return;                                                                         \
	}                                                                                   \
	if (sc == 1 && sa == 0 && sb == 1 && s->noalias) {                                  \
		mac_axpy_##sfx(c, *a, b, n);                                                    \
		return;                                                                         \
	}                                                                                   \
	for (int64_t t = 0; t < n; t++)                                                     \
		c[t * sc] = STEP(c[t * sc], a[t * sa], b[t * sb]);                              \
}

/*
 * The two block shapes, for T lanes known at compile time: lane t at
 * constant strides from lane 0, or at offsets read from the lane tables
 * (GA: a gathered, else a the same in every lane; GB likewise for b).
 */
#define MAC_BLOCKS(sfx, TC, TA, TB, STEP)                                               \
static inline __attribute__((always_inline)) void                                       \
mac_strided_##sfx(TC *c, int64_t dc, const TA *a, int64_t da, const TB *b, int64_t db,  \
                  const int64_t *ta, const int64_t *tb, int64_t nr, int T)              \
{                                                                                       \
	TC v[XNEST_LANES];                                                                  \
                                                                                        \
	for (int t = 0; t < T; t++)                                                         \
		v[t] = c[t * dc];                                                               \
	for (int64_t r = 0; r < nr; r++) {                                                  \
		const TA *pa = a + ta[r];                                                       \
		const TB *pb = b + tb[r];                                                       \
                                                                                        \
		for (int t = 0; t < T; t++)                                                     \
			v[t] = STEP(v[t], pa[t * da], pb[t * db]);                                  \
	}                                                                                   \
	for (int t = 0; t < T; t++)                                                         \
		c[t * dc] = v[t];                                                               \
}                                                                                       \
                                                                                        \
static inline __attribute__((always_inline)) void                                       \
mac_gathered_##sfx(TC *c, const TA *a, const TB *b, const int64_t *lc, const int64_t *la,\
                   const int64_t *lb, const int64_t *ta, const int64_t *tb, int64_t nr, \
                   int T, bool GA, bool GB)                                             \
{                                                                                       \
	TC v[XNEST_LANES];                                                                  \
                                                                                        \
	for (int t = 0; t < T; t++)                                                         \
		v[t] = c[lc[t]];                                                                \
	for (int64_t r = 0; r < nr; r++) {                                                  \
		const TA *pa = a + ta[r];                                                       \
		const TB *pb = b + tb[r];                                                       \
                                                                                        \
		for (int t = 0; t < T; t++)                                                     \
			v[t] = STEP(v[t], pa[la[GA ? t : 0]], pb[lb[GB ? t : 0]]);                  \
	}                                                                                   \
	for (int t = 0; t < T; t++)                                                         \
		c[lc[t]] = v[t];                                                                \
}

/* One function per block shape worth specializing, and the dispatch. */
#define MAC_NEST(sfx, TC, TA, TB)                                                       \
static void mac_s16_##sfx(TC *c, int64_t dc, const TA *a, int64_t da, const TB *b,      \
                          int64_t db, const int64_t *ta, const int64_t *tb, int64_t nr) \
{                                                                                       \
	if (da == 0 && db == 1)                                                             \
		mac_strided_##sfx(c, dc, a, 0, b, 1, ta, tb, nr, 16);                           \
	else if (da == 1 && db == 0)                                                        \
		mac_strided_##sfx(c, dc, a, 1, b, 0, ta, tb, nr, 16);                           \
	else                                                                                \
		mac_strided_##sfx(c, dc, a, da, b, db, ta, tb, nr, 16);                         \
}                                                                                       \
                                                                                        \
static void mac_s_##sfx(TC *c, int64_t dc, const TA *a, int64_t da, const TB *b,        \
                        int64_t db, const int64_t *ta, const int64_t *tb, int64_t nr,   \
                        int T)                                                          \
{                                                                                       \
	switch (T) {                                                                        \
	case 16: mac_s16_##sfx(c, dc, a, da, b, db, ta, tb, nr); return;                    \
	case 8: mac_strided_##sfx(c, dc, a, da, b, db, ta, tb, nr, 8); return;              \
	case 4: mac_strided_##sfx(c, dc, a, da, b, db, ta, tb, nr, 4); return;              \
	case 2: mac_strided_##sfx(c, dc, a, da, b, db, ta, tb, nr, 2); return;              \
	case 1: mac_strided_##sfx(c, dc, a, da, b, db, ta, tb, nr, 1); return;              \
	}                                                                                   \
	nnac_unreachable();                                                                 \
}                                                                                       \
                                                                                        \
static void mac_g_##sfx(TC *c, const TA *a, const TB *b, const int64_t *lc,             \
                        const int64_t *la, const int64_t *lb, const int64_t *ta,        \
                        const int64_t *tb, int64_t nr, int T, XBlockKind k)             \
{                                                                                       \
	if (T == 16 && k == XB_GATHER_A)                                                    \
		mac_gathered_##sfx(c, a, b, lc, la, lb, ta, tb, nr, 16, true, false);           \
	else if (T == 16 && k == XB_GATHER_B)                                               \
		mac_gathered_##sfx(c, a, b, lc, la, lb, ta, tb, nr, 16, false, true);           \
	else if (T == 16)                                                                   \
		mac_gathered_##sfx(c, a, b, lc, la, lb, ta, tb, nr, 16, true, true);            \
	else if (T == 8)                                                                    \
		mac_gathered_##sfx(c, a, b, lc, la, lb, ta, tb, nr, 8, true, true);             \
	else if (T == 4)                                                                    \
		mac_gathered_##sfx(c, a, b, lc, la, lb, ta, tb, nr, 4, true, true);             \
	else if (T == 2)                                                                    \
		mac_gathered_##sfx(c, a, b, lc, la, lb, ta, tb, nr, 2, true, true);             \
	else                                                                                \
		mac_gathered_##sfx(c, a, b, lc, la, lb, ta, tb, nr, 1, true, true);             \
}                                                                                       \
                                                                                        \
static void mac_lanes_##sfx(TC *c, const TA *a, const TB *b, const XNest *m)           \
{                                                                                       \
	for (int i = 0; i < m->nblocks; i++) {                                              \
		const XBlock *k = &m->blocks[i];                                                \
		int64_t l = k->lane;                                                            \
                                                                                        \
		if (k->kind == XB_STRIDED)                                                      \
			mac_s_##sfx(c + m->lc[l], k->dc, a + m->la[l], k->da, b + m->lb[l], k->db,  \
			            m->ta, m->tb, m->nr, k->T);                                     \
		else                                                                            \
			mac_g_##sfx(c, a, b, m->lc + l, m->la + l, m->lb + l, m->ta, m->tb, m->nr,  \
			            k->T, k->kind);                                                 \
	}                                                                                   \
}                                                                                       \
                                                                                        \
static void mac_nest_##sfx(Exec *x, const XNest *m)                                     \
{                                                                                       \
	const XStmt *s = m->s;                                                              \
	TC *c = (TC *)s->ref[0].base + x->cur[s->ref[0].slot];                              \
	const TA *a = (const TA *)s->ref[1].base + x->cur[s->ref[1].slot];                  \
	const TB *b = (const TB *)s->ref[2].base + x->cur[s->ref[2].slot];                  \
	int64_t k[XNEST_MAX_OUTER] = {0}, oc = 0, oa = 0, ob = 0;                           \
	int j;                                                                              \
                                                                                        \
	do {                                                                                \
		mac_lanes_##sfx(c + oc, a + oa, b + ob, m);                                     \
		for (j = m->nouter - 1; j >= 0; j--) {                                          \
			const XBandLoop *o = &m->outer[j];                                          \
                                                                                        \
			oc += o->dc;                                                                \
			oa += o->da;                                                                \
			ob += o->db;                                                                \
			if (++k[j] < o->extent)                                                     \
				break;                                                                  \
			k[j] = 0;                                                                   \
			oc -= o->extent * o->dc;                                                    \
			oa -= o->extent * o->da;                                                    \
			ob -= o->extent * o->db;                                                    \
		}                                                                               \
	} while (j >= 0);                                                                   \
}

#define MAC_ALL(sfx, TC, TA, TB, STEP)                                                  \
	MAC_TIGHT(sfx, TC, TA, TB, STEP)                                                    \
	MAC_BLOCKS(sfx, TC, TA, TB, STEP)                                                   \
	MAC_NEST(sfx, TC, TA, TB)

MAC_ALL(f32, float, float, float, STEP_F32)
MAC_ALL(i32_s8s8, int32_t, int8_t, int8_t, STEP_I32)
MAC_ALL(i32_u8u8, int32_t, uint8_t, uint8_t, STEP_I32)
MAC_ALL(i32_u8s8, int32_t, uint8_t, int8_t, STEP_I32)
MAC_ALL(i32_s8u8, int32_t, int8_t, uint8_t, STEP_I32)
MAC_ALL(i32_s16s16, int32_t, int16_t, int16_t, STEP_I32)
MAC_ALL(i32_s32s32, int32_t, int32_t, int32_t, STEP_I32)

typedef struct MacKind {
	DType c, a, b;
	XRunFn tight;
	XNestFn nest;
} MacKind;

static const MacKind mac_kinds[] = {
	{DT_F32, DT_F32, DT_F32, mac_tight_f32, mac_nest_f32},
	{DT_I32, DT_I8, DT_I8, mac_tight_i32_s8s8, mac_nest_i32_s8s8},
	{DT_I32, DT_U8, DT_U8, mac_tight_i32_u8u8, mac_nest_i32_u8u8},
	{DT_I32, DT_U8, DT_I8, mac_tight_i32_u8s8, mac_nest_i32_u8s8},
	{DT_I32, DT_I8, DT_U8, mac_tight_i32_s8u8, mac_nest_i32_s8u8},
	{DT_I32, DT_I16, DT_I16, mac_tight_i32_s16s16, mac_nest_i32_s16s16},
	{DT_I32, DT_I32, DT_I32, mac_tight_i32_s32s32, mac_nest_i32_s32s32},
};

static const MacKind *mac_kind(const XStmt *s)
{
	for (size_t i = 0; i < ARRAY_LEN(mac_kinds); i++) {
		const MacKind *k = &mac_kinds[i];

		if (k->c == s->ref[0].v.dt && k->a == s->ref[1].v.dt && k->b == s->ref[2].v.dt)
			return k;
	}
	return NULL;
}

/* apply */

static void apply_any(Exec *x, const XStmt *s, int64_t n)
{
	const LoopNode *nd = s->n;
	const XRef *d = &s->ref[0];
	int64_t o[LOOP_MAX_ARGS];

	offsets(x, s, o);
	for (int64_t t = 0; t < n; t++) {
		int64_t od = o[0] + t * d->stride;

		if (s->int_path) {
			int64_t xi[LOOP_MAX_ARGS], y = 0;

			for (int k = 1; k < s->nref; k++)
				xi[k - 1] = get_i(&s->ref[k], o[k] + t * s->ref[k].stride);
			scalar_i64(nd->fn, nd->alpha, nd->beta, nd->gamma, s->uns, xi, &y);
			val_set_i64((Value *)&d->v, od, y);
		} else {
			double xf[LOOP_MAX_ARGS];

			for (int k = 1; k < s->nref; k++)
				xf[k - 1] = get_f(&s->ref[k], o[k] + t * s->ref[k].stride);
			val_set_f64((Value *)&d->v, od, scalar_f64(nd->fn, nd->alpha, nd->beta, nd->gamma, xf));
		}
	}
}

/* Every buffer operand and the destination f32, double arithmetic. */
static void apply_f32(Exec *x, const XStmt *s, int64_t n)
{
	const LoopNode *nd = s->n;
	float *d = (float *)s->ref[0].base;
	int64_t o[LOOP_MAX_ARGS];
	double xf[LOOP_MAX_ARGS];

	offsets(x, s, o);
	for (int k = 1; k < s->nref; k++)
		xf[k - 1] = s->ref[k].lit.f;
	for (int64_t t = 0; t < n; t++) {
		for (int k = 1; k < s->nref; k++)
			if (s->ref[k].base)
				xf[k - 1] = ((const float *)s->ref[k].base)[o[k] + t * s->ref[k].stride];
		d[o[0] + t * s->ref[0].stride] = (float)scalar_f64(nd->fn, nd->alpha, nd->beta, nd->gamma, xf);
	}
}

/* Cast from i64 or u64 to f32 rounds once, as the graph's Cast does. */
static void apply_cast_i64_f32(Exec *x, const XStmt *s, int64_t n)
{
	float *d = (float *)s->ref[0].base;
	const XRef *r = &s->ref[1];
	int64_t o[LOOP_MAX_ARGS];

	offsets(x, s, o);
	for (int64_t t = 0; t < n; t++) {
		int64_t i = ((const int64_t *)r->base)[o[1] + t * r->stride];

		d[o[0] + t * s->ref[0].stride] = r->v.dt == DT_U64 ? (float)(uint64_t)i : (float)i;
	}
}

/* reduce */

static void reduce_any(Exec *x, const XStmt *s, int64_t n)
{
	static const OpKind ops[] = {[LR_SUM] = OP_Add, [LR_MAX] = OP_Max, [LR_MIN] = OP_Min, [LR_PROD] = OP_Mul};
	const XRef *d = &s->ref[0], *r = &s->ref[1];
	OpKind op = ops[s->n->red];
	int64_t o[LOOP_MAX_ARGS];

	offsets(x, s, o);
	for (int64_t t = 0; t < n; t++) {
		int64_t od = o[0] + t * d->stride, os = o[1] + t * r->stride;

		if (s->int_path) {
			int64_t xi[2] = {val_get_i64(&d->v, od), val_get_i64(&r->v, os)}, y = 0;

			scalar_i64(op, 0, 0, 0, s->uns, xi, &y);
			val_set_i64((Value *)&d->v, od, y);
		} else {
			double xf[2] = {val_get_f64(&d->v, od), val_get_f64(&r->v, os)};

			val_set_f64((Value *)&d->v, od, scalar_f64(op, 0, 0, 0, xf));
		}
	}
}

static void reduce_f32(Exec *x, const XStmt *s, int64_t n)
{
	static const OpKind ops[] = {[LR_SUM] = OP_Add, [LR_MAX] = OP_Max, [LR_MIN] = OP_Min, [LR_PROD] = OP_Mul};
	float *d = (float *)s->ref[0].base + ref_at(x, &s->ref[0]);
	const float *src = (const float *)s->ref[1].base + ref_at(x, &s->ref[1]);
	int64_t sd = s->ref[0].stride, ss = s->ref[1].stride;
	OpKind op = ops[s->n->red];

	if (op == OP_Add) {
		for (int64_t t = 0; t < n; t++)
			d[t * sd] = (float)((double)d[t * sd] + (double)src[t * ss]);
		return;
	}
	for (int64_t t = 0; t < n; t++) {
		double xf[2] = {d[t * sd], src[t * ss]};

		d[t * sd] = (float)scalar_f64(op, 0, 0, 0, xf);
	}
}

/* quantization */

static double round_mode(LoopRound m, double v)
{
	switch (m) {
	case LRND_EVEN: return nearbyint(v);
	case LRND_AWAY: return round(v);
	}
	nnac_unreachable();
}

static void quantize(Exec *x, const XStmt *s, int64_t n)
{
	const XRef *d = &s->ref[0], *r = &s->ref[1], *sc = &s->ref[2], *z = &s->ref[3];
	int64_t o[LOOP_MAX_ARGS];

	offsets(x, s, o);
	for (int64_t t = 0; t < n; t++) {
		double q = get_f(r, o[1] + t * r->stride) / get_f(sc, o[2] + t * sc->stride);
		double zp = z->base ? val_get_f64(&z->v, o[3] + t * z->stride) : (double)z->lit.i;

		if (s->src_rounds)
			q = dtype_round(r->v.dt, q);
		val_set_f64((Value *)&d->v, o[0] + t * d->stride, round_mode(s->n->round, q) + zp);
	}
}

static void dequantize(Exec *x, const XStmt *s, int64_t n)
{
	const XRef *d = &s->ref[0], *r = &s->ref[1], *sc = &s->ref[2], *z = &s->ref[3];
	int64_t o[LOOP_MAX_ARGS];

	offsets(x, s, o);
	for (int64_t t = 0; t < n; t++) {
		int64_t v = wrap_sub(get_i(r, o[1] + t * r->stride), get_i(z, o[3] + t * z->stride));

		val_set_f64((Value *)&d->v, o[0] + t * d->stride,
		            (double)v * get_f(sc, o[2] + t * sc->stride));
	}
}

static void requantize(Exec *x, const XStmt *s, int64_t n)
{
	const XRef *d = &s->ref[0], *r = &s->ref[1], *sc = &s->ref[2], *z = &s->ref[3];
	int64_t o[LOOP_MAX_ARGS];

	offsets(x, s, o);
	for (int64_t t = 0; t < n; t++) {
		double q = (double)get_i(r, o[1] + t * r->stride) * get_f(sc, o[2] + t * sc->stride);
		double zp = (double)get_i(z, o[3] + t * z->stride);

		val_set_f64((Value *)&d->v, o[0] + t * d->stride, round_mode(s->n->round, q) + zp);
	}
}

/* Choosing an executor. */

static XRunFn pick_copy(const XStmt *s)
{
	if (s->n->has_pad)
		return copy_pad;
	switch (s->ref[0].esize) {
	case 1: return s->n->kind == LN_COPY ? copy_8 : fill_8;
	case 2: return s->n->kind == LN_COPY ? copy_16 : fill_16;
	case 4: return s->n->kind == LN_COPY ? copy_32 : fill_32;
	case 8: return s->n->kind == LN_COPY ? copy_64 : fill_64;
	}
	nnac_unreachable();
}

static bool all_f32(const XStmt *s)
{
	for (int k = 0; k < s->nref; k++)
		if (s->ref[k].base && s->ref[k].v.dt != DT_F32)
			return false;
	return true;
}

static XRunFn pick_apply(const XStmt *s)
{
	DType src = s->ref[1].base ? s->ref[1].v.dt : DT_UNDEF;

	if (s->n->fn == OP_Cast && s->ref[0].v.dt == DT_F32 && (src == DT_I64 || src == DT_U64))
		return apply_cast_i64_f32;
	if (!s->int_path && all_f32(s))
		return apply_f32;
	return apply_any;
}

XRunFn loop_exec_pick(const XStmt *s)
{
	const MacKind *k;

	switch (s->n->kind) {
	case LN_COPY:
	case LN_FILL:
		return pick_copy(s);
	case LN_MAC:
		if ((k = mac_kind(s)))
			return k->tight;
		return s->int_path ? mac_int : mac_float;
	case LN_APPLY:
		return pick_apply(s);
	case LN_REDUCE:
		return !s->int_path && all_f32(s) ? reduce_f32 : reduce_any;
	case LN_QUANTIZE:
		return quantize;
	case LN_DEQUANTIZE:
		return dequantize;
	case LN_REQUANTIZE:
		return requantize;
	case LN_FOR:
	case LN_NOTE:
	case LN_COUNT:
		break;
	}
	nnac_unreachable();
}

XNestFn loop_exec_pick_nest(const XStmt *s)
{
	const MacKind *k = s->n->kind == LN_MAC ? mac_kind(s) : NULL;

	return k ? k->nest : NULL;
}
