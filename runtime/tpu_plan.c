/*
 * The image layout of TPU tensors (tpu_plan.h), shared by the code
 * generator, the executor and the integer reference.
 */
#include <string.h>

#include "tpu_plan.h"

void tpu_plan_init(TpuPlan *p)
{
	memset(p, 0, sizeof(*p));
	arena_init(&p->arena);
}

void tpu_plan_free(TpuPlan *p)
{
	for (int i = 0; i < p->nl && p->l; i++)
		if (p->l[i].host)
			loop_free(p->l[i].host);
	arena_free(&p->arena);
	memset(p, 0, sizeof(*p));
}

void tpu_image_view(TpuTensor *t, const Value *v)
{
	t->channels_last = false;
	if (v->rank == 4) {
		t->nimg = v->dims[0], t->c = v->dims[1], t->h = v->dims[2], t->w = v->dims[3];
	} else if (v->rank == 2) {
		t->nimg = 1, t->c = v->dims[1], t->h = 1, t->w = v->dims[0];
		t->channels_last = true;
	} else {
		t->nimg = 1, t->c = 1, t->h = 1, t->w = val_numel(v);
	}
}

int64_t tpu_elem(const TpuTensor *t, int64_t n, int64_t c, int64_t y, int64_t x)
{
	if (t->channels_last)
		return ((n * t->h + y) * t->w + x) * t->c + c;
	return ((n * t->c + c) * t->h + y) * t->w + x;
}

int64_t tpu_image_rows(const TpuTensor *t)
{
	return (t->h + t->pt + t->pb) * (t->w + t->pl + t->pr);
}

int64_t tpu_blocks(const TpuTensor *t, int height)
{
	return (t->c + height - 1) / height;
}

int64_t tpu_block_len(const TpuTensor *t, int height, int64_t cb)
{
	int64_t rest = t->c - cb * height;
	return rest < height ? rest : height;
}

int64_t tpu_row(const TpuTensor *t, int64_t cb, int64_t n, int64_t y, int64_t x)
{
	int64_t wp = t->w + t->pl + t->pr;
	return (cb * t->nimg + n) * tpu_image_rows(t) + (y + t->pt) * wp + x + t->pl;
}

uint64_t tpu_host_offset(const TpuTensor *t, int height, int esize, int64_t cb, int64_t row)
{
	int64_t block_rows = t->nimg * tpu_image_rows(t);
	int64_t local = row - cb * block_rows;
	return (uint64_t)((cb * block_rows * height + local * tpu_block_len(t, height, cb)) * esize);
}

uint64_t tpu_host_bytes(const TpuTensor *t, int esize)
{
	return (uint64_t)(t->nimg * tpu_image_rows(t) * t->c * esize);
}
