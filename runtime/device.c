/*
 * The table of devices (devices.def) and what every device shares:
 * choosing one by the bundle's program section, timing runs, threads.
 */
#include "device.h"

#include <string.h>
#include <time.h>

#define DEVICE(id) extern const DeviceOps device_##id;
#include "devices.def"
#undef DEVICE

static const DeviceOps *const devices[] = {
#define DEVICE(id) &device_##id,
#include "devices.def"
#undef DEVICE
};

int device_count(void)
{
	return (int)ARRAY_LEN(devices);
}

const DeviceOps *device_at(int i)
{
	nnac_assert(i >= 0 && i < device_count());
	return devices[i];
}

/* The device whose program section b has, or NULL. */
static const DeviceOps *device_for(const Nnb *b)
{
	for (int i = 0; i < device_count(); i++)
		if (nnb_find(b, devices[i]->program, NULL))
			return devices[i];
	return NULL;
}

/* device_open_bundle, opening for verification only when verify_only. */
static Status open_on_device(Nnb *b, bool want_trace, bool verify_only, Diag *d, Device **out)
{
	const DeviceOps *ops = device_for(b);
	Device *dv;
	Status st;

	*out = NULL;
	if (!ops) {
		const char *t = nnb_meta(b, "target");
		st = diag_add(d, ST_UNSUPPORTED, "%s: no device of this runtime runs it (target '%s', and no "
		              "program section a device knows)", nnb_path(b), t ? t : "none");
		nnb_close(b);
		return st;
	}
	dv = nnac_calloc(1, sizeof(*dv));
	if (!dv) {
		nnb_close(b);
		return diag_add(d, ST_NOMEM, "out of memory");
	}
	arena_init(&dv->arena);
	dv->ops = ops;
	dv->bundle = b;
	dv->path = nnb_path(b);
	dv->threads = 1;
	dv->want_trace = want_trace;
	dv->verify_only = verify_only;
	dv->diag = d;
	st = ops->load(dv);
	if (st != ST_OK) {
		device_close(dv);
		return st;
	}
	*out = dv;
	return ST_OK;
}

Status device_open_bundle(Nnb *b, bool want_trace, Diag *d, Device **out)
{
	return open_on_device(b, want_trace, false, d, out);
}

/* Every TENSORS section decodes, its weights inside their section. */
static Status check_tensor_tables(const Nnb *b, Diag *d)
{
	for (int i = 0; i < nnb_count(b); i++) {
		const NnbSection *s = nnb_section(b, i);
		NnbTensor *t = NULL;
		int n;
		Status st;

		if (s->kind != NNB_TENSORS)
			continue;
		st = nnb_tensors_load(b, s->name, &t, &n, d);
		nnac_free(t);
		if (st != ST_OK)
			return st;
	}
	return ST_OK;
}

Status device_verify(const char *path, char line[DEVICE_VERIFIED_MAX + 128], Diag *d)
{
	Device *dv = NULL;
	Nnb *b;
	int n;
	Status st = nnb_open(path, &b, d);

	if (st != ST_OK)
		return st;
	n = nnb_count(b);
	if ((st = check_tensor_tables(b, d)) != ST_OK) {
		nnb_close(b);
		return st;
	}
	if ((st = open_on_device(b, false, true, d, &dv)) != ST_OK)
		return st;
	snprintf(line, DEVICE_VERIFIED_MAX + 128, "%s: verified: %d sections, SHA-256 of each matches, "
	         "tensor tables decode, %s", path, n, dv->verified);
	device_close(dv);
	return ST_OK;
}

Status device_open(const char *path, bool want_trace, Diag *d, Device **out)
{
	Nnb *b;
	Status st = nnb_open(path, &b, d);

	*out = NULL;
	return st == ST_OK ? device_open_bundle(b, want_trace, d, out) : st;
}

Status device_set_threads(Device *dv, int n)
{
	if (n == dv->threads)
		return ST_OK;
	if (!dv->ops->set_threads)
		return diag_add(dv->diag, ST_INVALID, "%s: the %s device runs on one thread", dv->path,
		                dv->ops->name);
	Status st = dv->ops->set_threads(dv, n);
	if (st == ST_OK)
		dv->threads = n;
	return st;
}

double device_clock(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

Status device_run(Device *dv)
{
	nnac_assert(!dv->verify_only);
	double t0 = device_clock();
	Status st = dv->ops->run(dv);

	dv->host_seconds = device_clock() - t0;
	return st;
}

void device_close(Device *dv)
{
	if (!dv)
		return;
	if (dv->ops && dv->ops->close)
		dv->ops->close(dv);
	if (dv->bundle)
		nnb_close(dv->bundle);
	arena_free(&dv->arena);
	nnac_free(dv);
}

bool device_port(Device *dv, DevicePort *p, const char *name, const Value *type)
{
	p->name = arena_strdup(&dv->arena, name);
	p->v = *type;
	p->v.data = NULL;
	return p->name && val_alloc(&dv->arena, &p->v);
}
