/*
 * A compiled cpu program in a bundle: the program_cpu section (the buffer
 * table and the shared object, format in runtime/nnac_rt.c), weights/cpu
 * (the constants' data, each at a 64-byte boundary), tensors/cpu (the graph
 * inputs and outputs).  runtime/nnac_rt.c reads it back.
 */
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "cpu_bundle.h"

enum { FORMAT = 2, ALIGN = 64 };

/* The constants' data into w; each buffer's offset into at[]. */
static void weights(const LoopProgram *p, NnbBuf *w, uint64_t *at)
{
	static const uint8_t zero[ALIGN];

	for (int i = 0; i < p->nbufs; i++) {
		const LoopBuf *b = &p->bufs[i];
		at[i] = 0;
		if (!(b->flags & LB_CONST) || b->view_of >= 0 || !b->data)
			continue;
		nnb_put(w, zero, (ALIGN - w->n % ALIGN) % ALIGN);
		at[i] = w->n;
		nnb_put(w, b->data, (size_t)loop_buf_bytes(b));
	}
}

static void program(const LoopProgram *p, const uint64_t *at, const uint8_t *so, size_t so_len, NnbBuf *b)
{
	nnb_put_le(b, FORMAT, 4);
	nnb_put_le(b, NNAC_CPU_ABI, 4);
	nnb_put_le(b, (uint64_t)p->nbufs, 4);
	for (int i = 0; i < p->nbufs; i++) {
		const LoopBuf *lb = &p->bufs[i];
		nnb_put_str(b, lb->tensor && (lb->flags & (LB_INPUT | LB_OUTPUT)) ? lb->tensor : lb->name);
		nnb_put_le(b, (uint64_t)dtype_to_onnx(lb->dt), 4);
		nnb_put_le(b, (uint64_t)lb->rank, 4);
		for (int d = 0; d < lb->rank; d++)
			nnb_put_le(b, (uint64_t)lb->dims[d], 8);
		nnb_put_le(b, lb->flags & (LB_INPUT | LB_OUTPUT | LB_CONST), 4);
		nnb_put_le(b, (uint64_t)(uint32_t)lb->view_of, 4);
		nnb_put_le(b, (uint64_t)lb->view_offset, 8);
		nnb_put_le(b, at[i], 8);
	}
	nnb_put_le(b, (uint64_t)loop_count_inputs(p), 4);
	for (int i = 0; i < loop_count_inputs(p); i++)
		nnb_put_le(b, (uint64_t)loop_input_buf(p, i), 4);
	nnb_put_le(b, (uint64_t)loop_count_outputs(p), 4);
	for (int i = 0; i < loop_count_outputs(p); i++)
		nnb_put_le(b, (uint64_t)loop_output_buf(p, i), 4);
	nnb_put_le(b, (uint64_t)p->nkernels, 4);
	for (int k = 0; k < p->nkernels; k++)
		nnb_put_str(b, p->kernels[k].layer ? p->kernels[k].layer : p->kernels[k].name);
	nnb_put_le(b, so_len, 8);
	nnb_put(b, so, so_len);
}

static Status io_table(const LoopProgram *p, uint8_t **out, uint64_t *size, Diag *d)
{
	int nin = loop_count_inputs(p), n = nin + loop_count_outputs(p);
	NnbTensor *t = nnac_calloc((size_t)n + 1, sizeof(*t));
	Status st;

	if (!t)
		return diag_add(d, ST_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		const LoopBuf *b = &p->bufs[i < nin ? loop_input_buf(p, i) : loop_output_buf(p, i - nin)];
		nnb_tensor_dense(&t[i], b->tensor ? b->tensor : b->name, b->dt, b->rank, b->dims,
		                 i < nin ? NNB_ROLE_INPUT : NNB_ROLE_OUTPUT);
	}
	st = nnb_tensors_encode(t, n, out, size, d);
	nnac_free(t);
	return st;
}

Status cpu_bundle_add(const LoopProgram *p, const uint8_t *so, size_t so_len, NnbWriter *w, Diag *d)
{
	NnbBuf prog = {0}, wts = {0};
	uint64_t *at = nnac_calloc((size_t)p->nbufs + 1, sizeof(uint64_t));
	uint8_t *tensors = NULL;
	uint64_t ntensors = 0;
	Status st = ST_OK;

	if (!at)
		st = diag_add(d, ST_NOMEM, "out of memory");
	if (st == ST_OK) {
		weights(p, &wts, at);
		program(p, at, so, so_len, &prog);
		if (wts.oom || prog.oom)
			st = diag_add(d, ST_NOMEM, "out of memory");
	}
	if (st == ST_OK)
		st = io_table(p, &tensors, &ntensors, d);
	if (st == ST_OK)
		st = nnb_add(w, NNB_TENSORS, "cpu", tensors, ntensors, d);
	if (st == ST_OK)
		st = nnb_add(w, NNB_WEIGHTS, "cpu", wts.b, wts.n, d);
	if (st == ST_OK)
		st = nnb_add(w, NNB_PROGRAM_CPU, "cpu", prog.b, prog.n, d);
	nnac_free(tensors);
	nnb_buf_free(&prog);
	nnb_buf_free(&wts);
	nnac_free(at);
	return st;
}
