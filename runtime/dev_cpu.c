/*
 * The cpu device (device.h): a cpu bundle's shared object (runtime/cpu_so.c)
 * with every buffer of its program laid out once, run through nnac_main.
 *
 * The program_cpu payload (docs/cpu.md, "The bundle"), little endian:
 *   u32 format (2), u32 abi, u32 nbufs,
 *   nbufs x { str name, u32 onnx dtype, u32 rank, i64 dims[rank], u32 flags
 *             (LB_INPUT 1, LB_OUTPUT 2, LB_CONST 4), i32 view_of,
 *             i64 view_offset, u64 offset of its data in weights/cpu },
 *   u32 nin, u32 in[nin], u32 nout, u32 out[nout],
 *   u32 nkernels, str layer[nkernels] (each kernel's layer, for traces),
 *   u64 so_len, the shared object's bytes;
 * str is u32 length then bytes.  Every count, index and size is checked.
 *
 * The shared object is inspected before it is loaded (cpu_so.h); a device
 * opened to verify only inspects it and loads nothing.
 *
 * set_threads gives the device a thread pool (runtime/rt_pool.h) whose
 * parallel_for the shared object's nnac_main calls; without one it runs on
 * the caller's thread alone.  The ports' memory is the program's own
 * input and output buffers.  With want_trace, nnac_main's marks (ABI 3)
 * time every kernel: trace writes them as text or Chrome trace-event JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_abi.h"
#include "checked.h"
#include "cpu_so.h"
#include "device.h"
#include "elf_check.h"
#include "rt_pool.h"
#include "rt_json.h"

enum { FORMAT = 2, MAX_BUFS = 1 << 20, MAX_KERNELS = 1 << 20, ALIGN = 64 };

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

/* With want_trace: when each kernel of the last run began (and, at
 * [nkernels], when the last ended), in seconds from the run's start. */
typedef struct Marks {
	double t0;
	double *at;           /* [nkernels + 1] */
} Marks;

typedef struct CpuState {
	Buf *b;
	int nb;
	char **kernel;        /* [nkernels]: each kernel's layer */
	int nkernels;
	Marks marks;
	int *in, nin, *out, nout;
	void **ptr;           /* the argument of nnac_main */
	CpuSo *so;
	RtPool *pool;         /* NULL: one thread, the caller's */
	NnacPar par;          /* the pool's parallel_for */
} CpuState;

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
	if (r->bad || b->flags > 7)
		return ST_INVALID;
	int64_t n;
	return ck_numel(b->dims, b->rank, &n) && ck_mul(n, dtype_size(b->dt), &n) && n <= VAL_MAX_BYTES
	       ? ST_OK : ST_INVALID;
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
static bool view_root(const CpuState *m, int i, int *root, uint64_t *at)
{
	*at = 0;
	for (int steps = 0; steps <= m->nb; steps++) {
		const Buf *b = &m->b[i];

		if (b->view_of < 0) {
			*root = i;
			return true;
		}
		if (b->view_of >= m->nb || b->view_offset < 0 || m->b[b->view_of].dt != b->dt ||
		    !ck_addu(*at, (uint64_t)b->view_offset, at))
			return false;
		i = b->view_of;
	}
	return false;
}

/* The memory of every buffer that is not a view, against the budget
 * (base/budget.h), before any of it exists. */
static Status check_memory(const CpuState *m, const char *path, Diag *d)
{
	char lim[BUDGET_STR];
	int64_t sum = 0;

	for (int i = 0; i < m->nb; i++)
		if (m->b[i].view_of < 0 &&
		    (!ck_add(sum, (int64_t)bytes_of(&m->b[i]), &sum) || sum > budget_memory()))
			return diag_add(d, ST_UNSUPPORTED, "%s: buffer '%s' takes the bundle's memory past %s", path,
			                m->b[i].name, budget_memory_str(lim));
	return ST_OK;
}

/* Views point into their root buffer; every other buffer gets aligned
 * zeroed memory, constants their data. */
static Status lay_out(CpuState *m, const NnbSection *w, const char *path, Diag *d)
{
	Status st = check_memory(m, path, d);

	if (st != ST_OK)
		return st;
	m->ptr = nnac_calloc((size_t)m->nb + 1, sizeof(void *));
	if (!m->ptr)
		return diag_add(d, ST_NOMEM, "%s: out of memory", path);
	for (int i = 0; i < m->nb; i++) {
		Buf *b = &m->b[i];
		if (b->view_of >= 0)
			continue;
		size_t n = (size_t)((bytes_of(b) + ALIGN - 1) / ALIGN * ALIGN);
		b->mem = nnac_aligned_alloc(ALIGN, n ? n : ALIGN);
		if (!b->mem)
			return diag_add(d, ST_NOMEM, "%s: out of memory for buffer '%s'", path, b->name);
		memset(b->mem, 0, n ? n : ALIGN);
		if (b->flags & 4) {
			if (!w || b->data_at > w->size || bytes_of(b) > w->size - b->data_at)
				return diag_add(d, ST_INVALID, "%s: constant '%s' lies outside the weights section", path, b->name);
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
		uint64_t end;
		if (!view_root(m, i, &root, &at) || !ck_mulu(at, (uint64_t)dtype_size(b->dt), &end) ||
		    !ck_addu(end, bytes_of(b), &end) || end > bytes_of(&m->b[root]))
			return diag_add(d, ST_INVALID, "%s: view '%s' does not fit in its base", path, b->name);
		m->ptr[i] = (char *)m->b[root].mem + at * dtype_size(b->dt);
	}
	return ST_OK;
}

static Status read_kernels(CpuState *m, Rd *r)
{
	uint64_t n = rd(r, 4);

	if (r->bad || n > MAX_KERNELS || n > r->n - r->at)
		return ST_INVALID;
	m->kernel = nnac_calloc(n + 1, sizeof(char *));
	if (!m->kernel)
		return ST_NOMEM;
	m->nkernels = (int)n;
	for (int k = 0; k < m->nkernels; k++)
		if (!(m->kernel[k] = rd_str(r)))
			return r->bad ? ST_INVALID : ST_NOMEM;
	return ST_OK;
}

/* The shared object, inspected (runtime/elf_check.h) and loaded; when
 * verified is not NULL, inspected only, and what was found written there. */
static Status load_object(CpuState *m, const char *path, const NnbSection *prog, const uint8_t *so,
                          size_t len, char verified[DEVICE_VERIFIED_MAX], Diag *d)
{
	char what[256];
	ElfFacts f;
	Status st;

	snprintf(what, sizeof(what), "%s: section program_cpu '%s': shared object", path, prog->name);
	if (!verified)
		return cpu_so_open(what, so, len, &m->so, d);
	if ((st = elf_check_cpu(what, so, len, &f, d)) != ST_OK)
		return st;
	snprintf(verified, DEVICE_VERIFIED_MAX, "cpu program: %d kernels; ELF ok: no initialisers, "
	         "imports within the allowed set (%d), needed libraries within the allowed set (%d), "
	         "relocations inside the object (%d), ABI %u", m->nkernels, f.nimports, f.nneeded,
	         f.nrelocs, f.abi);
	return ST_OK;
}

static Status load_program(CpuState *m, const Nnb *nb, const char *path,
                           char verified[DEVICE_VERIFIED_MAX], Diag *d)
{
	const NnbSection *prog = nnb_find(nb, NNB_PROGRAM_CPU, NULL);
	Rd r = {prog->data, prog->size, 0, false};
	Status st;

	if (rd(&r, 4) != FORMAT || rd(&r, 4) != NNAC_CPU_ABI)
		return diag_add(d, ST_INVALID, "%s: program_cpu: unknown format or ABI version", path);
	uint64_t nb_ = rd(&r, 4);
	if (r.bad || nb_ > MAX_BUFS || nb_ > r.n / 8)
		return diag_add(d, ST_INVALID, "%s: program_cpu: bad buffer count", path);
	m->b = nnac_calloc(nb_ + 1, sizeof(Buf));
	if (!m->b)
		return diag_add(d, ST_NOMEM, "%s: out of memory", path);
	m->nb = (int)nb_;
	for (int i = 0; i < m->nb; i++) {
		st = read_buf(&r, &m->b[i]);
		if (st == ST_NOMEM)
			return diag_add(d, ST_NOMEM, "%s: out of memory", path);
		if (st != ST_OK || m->b[i].view_of >= m->nb)
			return diag_add(d, ST_INVALID, "%s: program_cpu: buffer record %d is malformed", path, i);
	}
	st = read_list(&r, &m->in, &m->nin, m->nb);
	if (st == ST_OK)
		st = read_list(&r, &m->out, &m->nout, m->nb);
	if (st == ST_NOMEM)
		return diag_add(d, ST_NOMEM, "%s: out of memory", path);
	if (st != ST_OK)
		return diag_add(d, ST_INVALID, "%s: program_cpu: bad input or output list", path);
	if ((st = read_kernels(m, &r)) == ST_NOMEM)
		return diag_add(d, ST_NOMEM, "%s: out of memory", path);
	if (st != ST_OK)
		return diag_add(d, ST_INVALID, "%s: program_cpu: bad kernel list", path);
	uint64_t so_len = rd(&r, 8);
	if (r.bad || so_len != r.n - r.at)
		return diag_add(d, ST_INVALID, "%s: program_cpu: the shared object's size does not match", path);
	if ((st = lay_out(m, nnb_find(nb, NNB_WEIGHTS, "cpu"), path, d)))
		return st;
	return load_object(m, path, prog, r.p + r.at, (size_t)so_len, verified, d);
}

static void cpu_free(CpuState *m)
{
	if (m->so)
		cpu_so_close(m->so);
	rt_pool_destroy(m->pool);
	for (int i = 0; i < m->nb; i++) {
		nnac_free(m->b[i].name);
		nnac_aligned_free(m->b[i].mem);
	}
	for (int k = 0; k < m->nkernels; k++)
		nnac_free(m->kernel[k]);
	nnac_free(m->kernel);
	nnac_free(m->marks.at);
	nnac_free(m->b);
	nnac_free(m->in);
	nnac_free(m->out);
	nnac_free(m->ptr);
	nnac_free(m);
}

/* Buffer i as a port over its own memory. */
static void buf_port(const CpuState *m, int i, DevicePort *p)
{
	const Buf *b = &m->b[i];

	p->name = b->name;
	val_set_type(&p->v, b->dt, b->rank, b->dims);
	p->v.data = m->ptr[i];
}

static Status load(Device *dv)
{
	CpuState *m = nnac_calloc(1, sizeof(*m));
	Status st;

	if (!m)
		return diag_add(dv->diag, ST_NOMEM, "out of memory");
	dv->state = m;
	if ((st = load_program(m, dv->bundle, dv->path, dv->verify_only ? dv->verified : NULL, dv->diag)))
		return st;
	dv->nin = m->nin, dv->nout = m->nout;
	dv->in = arena_alloc(&dv->arena, (size_t)(m->nin + 1) * sizeof(DevicePort));
	dv->out = arena_alloc(&dv->arena, (size_t)(m->nout + 1) * sizeof(DevicePort));
	if (!dv->in || !dv->out)
		return diag_add(dv->diag, ST_NOMEM, "out of memory");
	for (int i = 0; i < m->nin; i++)
		buf_port(m, m->in[i], &dv->in[i]);
	for (int i = 0; i < m->nout; i++)
		buf_port(m, m->out[i], &dv->out[i]);
	if (dv->want_trace && !(m->marks.at = nnac_calloc((size_t)m->nkernels + 1, sizeof(double))))
		return diag_add(dv->diag, ST_NOMEM, "out of memory");
	return ST_OK;
}

/* The new pool is made before the old one goes, so that a failure leaves
 * the device as it was. */
static Status set_threads(Device *dv, int n)
{
	CpuState *m = dv->state;
	RtPool *pool = NULL;
	Status st;

	if (n < 1 || n > RT_MAX_THREADS)
		return diag_add(dv->diag, ST_INVALID, "threads: %d is not a thread count from 1 to %d", n,
		                RT_MAX_THREADS);
	if (n > 1 && (st = rt_pool_create(n, &pool, dv->diag)) != ST_OK)
		return st;
	rt_pool_destroy(m->pool);
	m->pool = pool;
	m->par = (NnacPar){rt_pool_for, pool, n, NULL, NULL, NULL};
	return ST_OK;
}

static void counters(const Device *dv, FILE *f)
{
	fprintf(f, "  run: %.3f ms\n", dv->host_seconds * 1e3);
}

static void mark(void *cx, int64_t k)
{
	Marks *mk = cx;

	mk->at[k] = device_clock() - mk->t0;
}

/* A kernel stopped on a loaded index out of range (cpu_abi.h, NnacFail):
 * the layer, the buffer and dimension, the value and the range. */
static Status index_error(const Device *dv, const CpuState *m, const NnacFail *f)
{
	const Buf *b = f->buf >= 0 && f->buf < m->nb ? &m->b[f->buf] : NULL;

	if (f->kernel >= m->nkernels || !b || f->dim < 0 || f->dim >= b->rank)
		return diag_add(dv->diag, ST_INTERNAL, "%s: kernel %lld reported a bad index failure",
		                dv->path, (long long)f->kernel);
	return diag_add(dv->diag, ST_INVALID, "%s: kernel %lld (layer '%s'): index %lld of '%s' is "
	                "%lld, outside [-%lld, %lld)", dv->path, (long long)f->kernel,
	                m->kernel[f->kernel], (long long)f->dim, b->name, (long long)f->value,
	                (long long)f->bound, (long long)f->bound);
}

static Status run(Device *dv)
{
	CpuState *m = dv->state;
	NnacPar par = m->pool ? m->par : (NnacPar){cpu_so_serial_for, NULL, 1, NULL, NULL, NULL};
	NnacFail fail;

	if (m->marks.at) {
		par.mark = mark;
		par.mark_cx = &m->marks;
		m->marks.t0 = device_clock();
	}
	if (!cpu_so_run(m->so, m->ptr, &par, &fail))
		return index_error(dv, m, &fail);
	return ST_OK;
}

/* Per kernel: its layer, start and duration in ms (text), or one complete
 * event each on one track in Chrome trace-event JSON (microseconds). */
static Status trace(const Device *dv, FILE *f, DeviceTrace how)
{
	const CpuState *m = dv->state;
	const double *at = m->marks.at;

	if (how == DEV_TRACE_SUMMARY) {
		counters(dv, f);
		return ST_OK;
	}
	if (how == DEV_TRACE_TEXT) {
		fprintf(f, "%6s %12s %12s  %s\n", "kernel", "start ms", "ms", "layer");
		for (int k = 0; k < m->nkernels; k++)
			fprintf(f, "%6d %12.4f %12.4f  %s\n", k, at[k] * 1e3, (at[k + 1] - at[k]) * 1e3, m->kernel[k]);
		return ST_OK;
	}
	fprintf(f, "{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n");
	fprintf(f, "{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 1, \"args\": {\"name\": \"cpu\"}},\n");
	fprintf(f, "{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 1, \"args\": {\"name\": \"kernels\"}}");
	for (int k = 0; k < m->nkernels; k++) {
		fprintf(f, ",\n{\"name\": ");
		rt_json_string(f, m->kernel[k]);
		fprintf(f, ", \"cat\": \"kernel\", \"ph\": \"X\", \"pid\": 1, \"tid\": 1, \"ts\": %.3f, \"dur\": %.3f, "
		        "\"args\": {\"kernel\": %d}}", at[k] * 1e6, (at[k + 1] - at[k]) * 1e6, k);
	}
	fprintf(f, "\n]}\n");
	return ferror(f) ? diag_add(dv->diag, ST_IO, "cannot write the trace") : ST_OK;
}

static void cpu_close(Device *dv)
{
	if (dv->state)
		cpu_free(dv->state);
}

const DeviceOps device_cpu = {
	.name = "cpu",
	.description = "the host CPU: a shared object from the cpu target, on a thread pool",
	.program = NNB_PROGRAM_CPU,
	.simulated = false,
	.load = load,
	.set_threads = set_threads,
	.run = run,
	.counters = counters,
	.trace = trace,
	.close = cpu_close,
};
