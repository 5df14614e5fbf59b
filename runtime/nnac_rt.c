/*
 * The runtime library (nnac_rt.h): opens a cpu bundle, loads the shared
 * object of its program_cpu section (runtime/cpu_so.c), lays out every
 * buffer of the program once, and runs it.
 *
 * The program_cpu payload (docs/cpu.md, "The bundle"), little endian:
 *   u32 format (1), u32 abi, u32 nbufs,
 *   nbufs x { str name, u32 onnx dtype, u32 rank, i64 dims[rank], u32 flags
 *             (LB_INPUT 1, LB_OUTPUT 2, LB_CONST 4), i32 view_of,
 *             i64 view_offset, u64 offset of its data in weights/cpu },
 *   u32 nin, u32 in[nin], u32 nout, u32 out[nout],
 *   u64 so_len, the shared object's bytes;
 * str is u32 length then bytes.  Every count, index and size is checked.
 *
 * nnac_set_threads gives the model a thread pool (runtime/rt_pool.h) whose
 * parallel_for the shared object's nnac_main calls; without one it runs on
 * the caller's thread alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bundle.h"
#include "cpu_abi.h"
#include "cpu_so.h"
#include "nnac_rt.h"
#include "rt_pool.h"
#include "value.h"

enum { FORMAT = 1, MAX_BUFS = 1 << 20, ALIGN = 64 };

typedef struct Buf {
	char *name;
	DType dt;
	int rank;
	int64_t dims[MAX_RANK];
	unsigned flags;
	int view_of;
	int64_t view_offset;
	uint64_t data_at;
	void *mem;            /* owned unless a view */
} Buf;

struct NnacModel {
	Buf *b;
	int nb;
	int *in, nin, *out, nout;
	void **ptr;           /* the argument of nnac_main */
	CpuSo *so;
	RtPool *pool;         /* NULL: one thread, the caller's */
	NnacPar par;          /* the pool's parallel_for */
	double seconds;
	char err[512];
};

typedef NnbReader Rd;

static uint64_t rd(Rd *r, int bytes) { return nnb_get_le(r, bytes); }

/* The string at r in fresh memory; NULL with r->bad set when it is
 * malformed, NULL alone when out of memory. */
static char *rd_str(Rd *r)
{
	uint32_t n;
	const char *in = nnb_get_str(r, &n);
	char *s;

	if (!in || n > 4096) {
		r->bad = true;
		return NULL;
	}
	if (!(s = nnac_malloc((size_t)n + 1)))
		return NULL;
	memcpy(s, in, n);
	s[n] = 0;
	return s;
}

static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && len)
		vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

static int64_t numel(const Buf *b)
{
	int64_t n = 1;
	for (int i = 0; i < b->rank; i++)
		n *= b->dims[i];
	return n;
}

static uint64_t bytes_of(const Buf *b)
{
	return (uint64_t)numel(b) * (uint64_t)dtype_size(b->dt);
}

/* ST_INVALID when the record is malformed. */
static Status read_buf(Rd *r, Buf *b)
{
	b->name = rd_str(r);
	if (!b->name && !r->bad)
		return ST_NOMEM;
	b->dt = dtype_from_onnx((int)rd(r, 4));
	b->rank = (int)rd(r, 4);
	if (r->bad || b->dt == DT_UNDEF || b->rank < 0 || b->rank > MAX_RANK)
		return ST_INVALID;
	for (int i = 0; i < b->rank; i++) {
		b->dims[i] = (int64_t)rd(r, 8);
		if (b->dims[i] < 0 || b->dims[i] > ((int64_t)1 << 40))
			return ST_INVALID;
	}
	b->flags = (unsigned)rd(r, 4);
	b->view_of = (int)(int32_t)rd(r, 4);
	b->view_offset = (int64_t)rd(r, 8);
	b->data_at = rd(r, 8);
	return r->bad || b->flags > 7 || numel(b) > ((int64_t)1 << 40) ? ST_INVALID : ST_OK;
}

/* ST_INVALID when the list is malformed. */
static Status read_list(Rd *r, int **v, int *n, int limit)
{
	uint64_t k = rd(r, 4);
	if (r->bad || k > (uint64_t)limit)
		return ST_INVALID;
	*v = nnac_calloc(k + 1, sizeof(int));
	if (!*v)
		return ST_NOMEM;
	for (uint64_t i = 0; i < k; i++) {
		(*v)[i] = (int)rd(r, 4);
		if ((*v)[i] < 0 || (*v)[i] >= limit)
			return ST_INVALID;
	}
	*n = (int)k;
	return r->bad ? ST_INVALID : ST_OK;
}

/* The buffer owning view i's memory (views of views followed, each of
 * the same element type, at most nb steps) and i's element offset in it;
 * false when the chain is broken, loops or changes type. */
static bool view_root(const NnacModel *m, int i, int *root, uint64_t *at)
{
	*at = 0;
	for (int steps = 0; steps <= m->nb; steps++) {
		const Buf *b = &m->b[i];

		if (b->view_of < 0) {
			*root = i;
			return true;
		}
		if (b->view_of >= m->nb || b->view_offset < 0 || m->b[b->view_of].dt != b->dt)
			return false;
		*at += (uint64_t)b->view_offset;
		i = b->view_of;
	}
	return false;
}

/* Views point into their root buffer; every other buffer gets aligned
 * zeroed memory, constants their data. */
static int lay_out(NnacModel *m, const NnbSection *w, const char *path, char *err, size_t len)
{
	m->ptr = nnac_calloc((size_t)m->nb + 1, sizeof(void *));
	if (!m->ptr)
		return fail(err, len, "%s: out of memory", path);
	for (int i = 0; i < m->nb; i++) {
		Buf *b = &m->b[i];
		if (b->view_of >= 0)
			continue;
		size_t n = (size_t)((bytes_of(b) + ALIGN - 1) / ALIGN * ALIGN);
		b->mem = nnac_aligned_alloc(ALIGN, n ? n : ALIGN);
		if (!b->mem)
			return fail(err, len, "%s: out of memory for buffer '%s'", path, b->name);
		memset(b->mem, 0, n ? n : ALIGN);
		if (b->flags & 4) {
			if (!w || b->data_at > w->size || bytes_of(b) > w->size - b->data_at)
				return fail(err, len, "%s: constant '%s' lies outside the weights section", path, b->name);
			memcpy(b->mem, w->data + b->data_at, (size_t)bytes_of(b));
		}
		m->ptr[i] = b->mem;
	}
	for (int i = 0; i < m->nb; i++) {
		Buf *b = &m->b[i];
		uint64_t at;
		int root;

		if (b->view_of < 0)
			continue;
		if (!view_root(m, i, &root, &at) ||
		    at * (uint64_t)dtype_size(b->dt) + bytes_of(b) > bytes_of(&m->b[root]))
			return fail(err, len, "%s: view '%s' does not fit in its base", path, b->name);
		m->ptr[i] = (char *)m->b[root].mem + at * dtype_size(b->dt);
	}
	return 0;
}

static int load(NnacModel *m, const Nnb *nb, const char *path, char *err, size_t len)
{
	const NnbSection *prog = nnb_find(nb, NNB_PROGRAM_CPU, NULL);
	const char *target = nnb_meta(nb, "target");
	Rd r;
	Diag d;
	Status st;

	if (!target || strcmp(target, "cpu") != 0 || !prog)
		return fail(err, len, "%s: not a cpu bundle (target '%s')", path, target ? target : "none");
	r = (Rd){prog->data, prog->size, 0, false};
	if (rd(&r, 4) != FORMAT || rd(&r, 4) != NNAC_CPU_ABI)
		return fail(err, len, "%s: program_cpu: unknown format or ABI version", path);
	uint64_t nb_ = rd(&r, 4);
	if (r.bad || nb_ > MAX_BUFS || nb_ > r.n / 8)
		return fail(err, len, "%s: program_cpu: bad buffer count", path);
	m->b = nnac_calloc(nb_ + 1, sizeof(Buf));
	if (!m->b)
		return fail(err, len, "%s: out of memory", path);
	m->nb = (int)nb_;
	for (int i = 0; i < m->nb; i++) {
		st = read_buf(&r, &m->b[i]);
		if (st == ST_NOMEM)
			return fail(err, len, "%s: out of memory", path);
		if (st != ST_OK || m->b[i].view_of >= m->nb)
			return fail(err, len, "%s: program_cpu: buffer record %d is malformed", path, i);
	}
	st = read_list(&r, &m->in, &m->nin, m->nb);
	if (st == ST_OK)
		st = read_list(&r, &m->out, &m->nout, m->nb);
	if (st == ST_NOMEM)
		return fail(err, len, "%s: out of memory", path);
	if (st != ST_OK)
		return fail(err, len, "%s: program_cpu: bad input or output list", path);
	uint64_t so_len = rd(&r, 8);
	if (r.bad || so_len != r.n - r.at)
		return fail(err, len, "%s: program_cpu: the shared object's size does not match", path);
	if (lay_out(m, nnb_find(nb, NNB_WEIGHTS, "cpu"), path, err, len))
		return -1;
	diag_init(&d);
	st = cpu_so_open(r.p + r.at, (size_t)so_len, &m->so, &d);
	if (st != ST_OK) {
		fail(err, len, "%s: %s", path, d.n ? d.msg[0].text : "cannot load the program");
		diag_free(&d);
		return -1;
	}
	diag_free(&d);
	return 0;
}

int nnac_open(const char *path, NnacModel **out, char *err, size_t errlen)
{
	NnacModel *m = nnac_calloc(1, sizeof(*m));
	Nnb *nb = NULL;
	Diag d;
	int rc;

	*out = NULL;
	if (!m)
		return fail(err, errlen, "%s: out of memory", path);
	diag_init(&d);
	if (nnb_open(path, &nb, &d) != ST_OK) {
		fail(err, errlen, "%s", d.n ? d.msg[0].text : "cannot open the bundle");
		diag_free(&d);
		nnac_close(m);
		return -1;
	}
	diag_free(&d);
	rc = load(m, nb, path, err, errlen);
	nnb_close(nb);
	if (rc) {
		nnac_close(m);
		return -1;
	}
	*out = m;
	return 0;
}

void nnac_close(NnacModel *m)
{
	if (!m)
		return;
	if (m->so)
		cpu_so_close(m->so);
	rt_pool_destroy(m->pool);
	for (int i = 0; i < m->nb; i++) {
		nnac_free(m->b[i].name);
		nnac_aligned_free(m->b[i].mem);
	}
	nnac_free(m->b);
	nnac_free(m->in);
	nnac_free(m->out);
	nnac_free(m->ptr);
	nnac_free(m);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int nnac_run(NnacModel *m)
{
	double t0 = now();
	cpu_so_run(m->so, m->ptr, m->pool ? &m->par : NULL);
	m->seconds = now() - t0;
	return 0;
}

/* The new pool is made before the old one goes, so that a failure leaves
 * the model as it was. */
int nnac_set_threads(NnacModel *m, int n)
{
	RtPool *pool = NULL;
	Diag d;
	int rc = 0;

	if (n < 1 || n > RT_MAX_THREADS)
		return fail(m->err, sizeof(m->err), "threads: %d is not a thread count from 1 to %d", n,
		            RT_MAX_THREADS);
	diag_init(&d);
	if (n > 1 && rt_pool_create(n, &pool, &d) != ST_OK)
		rc = fail(m->err, sizeof(m->err), "%s", d.n ? d.msg[0].text : "threads: cannot make the pool");
	diag_free(&d);
	if (rc)
		return rc;
	rt_pool_destroy(m->pool);
	m->pool = pool;
	m->par = (NnacPar){rt_pool_for, pool, n};
	return 0;
}

int nnac_threads(const NnacModel *m) { return m->pool ? rt_pool_threads(m->pool) : 1; }
double nnac_last_run_seconds(const NnacModel *m) { return m->seconds; }
const char *nnac_error(const NnacModel *m) { return m->err; }
int nnac_num_inputs(const NnacModel *m) { return m->nin; }
int nnac_num_outputs(const NnacModel *m) { return m->nout; }

static const Buf *in_buf(const NnacModel *m, int i) { return i >= 0 && i < m->nin ? &m->b[m->in[i]] : NULL; }
static const Buf *out_buf(const NnacModel *m, int i) { return i >= 0 && i < m->nout ? &m->b[m->out[i]] : NULL; }

const char *nnac_input_name(const NnacModel *m, int i) { return in_buf(m, i) ? in_buf(m, i)->name : NULL; }
const char *nnac_output_name(const NnacModel *m, int i) { return out_buf(m, i) ? out_buf(m, i)->name : NULL; }
const char *nnac_input_dtype(const NnacModel *m, int i) { return in_buf(m, i) ? dtype_name(in_buf(m, i)->dt) : NULL; }
const char *nnac_output_dtype(const NnacModel *m, int i) { return out_buf(m, i) ? dtype_name(out_buf(m, i)->dt) : NULL; }
size_t nnac_input_bytes(const NnacModel *m, int i) { return in_buf(m, i) ? (size_t)bytes_of(in_buf(m, i)) : 0; }
size_t nnac_output_bytes(const NnacModel *m, int i) { return out_buf(m, i) ? (size_t)bytes_of(out_buf(m, i)) : 0; }

static int shape(const Buf *b, int64_t *dims)
{
	if (!b)
		return -1;
	memcpy(dims, b->dims, (size_t)b->rank * sizeof(int64_t));
	return b->rank;
}

int nnac_input_shape(const NnacModel *m, int i, int64_t *dims) { return shape(in_buf(m, i), dims); }
int nnac_output_shape(const NnacModel *m, int i, int64_t *dims) { return shape(out_buf(m, i), dims); }
void *nnac_input_data(NnacModel *m, int i) { return i >= 0 && i < m->nin ? m->ptr[m->in[i]] : NULL; }
const void *nnac_output_data(const NnacModel *m, int i) { return i >= 0 && i < m->nout ? m->ptr[m->out[i]] : NULL; }
