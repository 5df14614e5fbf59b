/*
 * The runtime library (nnac_rt.h): the public face of the devices
 * (device.h).  nnac_open opens a bundle on the device its program section
 * names (cpu, tpu-sim); the model's inputs and outputs are that device's
 * ports.  Errors are kept as one message per model (or written to err for
 * nnac_open).
 */
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "nnac_rt.h"

struct NnacModel {
	Device *dv;
	Diag diag;
	char err[512];
};

/* The first diagnostic into buf, and the list emptied. */
static int take_error(Diag *d, char *buf, size_t len, const char *fallback)
{
	if (buf && len)
		snprintf(buf, len, "%s", d->n ? d->msg[0].text : fallback);
	diag_free(d);
	diag_init(d);
	return -1;
}

int nnac_open(const char *path, NnacModel **out, char *err, size_t errlen)
{
	NnacModel *m = nnac_calloc(1, sizeof(*m));
	Diag d;

	*out = NULL;
	diag_init(&d);
	if (!m) {
		diag_add(&d, ST_NOMEM, "%s: out of memory", path);
		return take_error(&d, err, errlen, "out of memory");
	}
	if (device_open(path, false, &d, &m->dv) != ST_OK) {
		nnac_free(m);
		return take_error(&d, err, errlen, "cannot open the bundle");
	}
	diag_free(&d);
	diag_init(&m->diag);
	m->dv->diag = &m->diag;
	*out = m;
	return 0;
}

void nnac_close(NnacModel *m)
{
	if (!m)
		return;
	device_close(m->dv);
	diag_free(&m->diag);
	nnac_free(m);
}

int nnac_run(NnacModel *m)
{
	return device_run(m->dv) == ST_OK ? 0 : take_error(&m->diag, m->err, sizeof(m->err), "run failed");
}

int nnac_set_threads(NnacModel *m, int n)
{
	return device_set_threads(m->dv, n) == ST_OK ? 0
	                                              : take_error(&m->diag, m->err, sizeof(m->err), "threads");
}

int nnac_threads(const NnacModel *m) { return m->dv->threads; }
double nnac_last_run_seconds(const NnacModel *m) { return m->dv->host_seconds; }
double nnac_last_device_seconds(const NnacModel *m) { return m->dv->device_seconds; }
const char *nnac_device(const NnacModel *m) { return m->dv->ops->name; }
const char *nnac_error(const NnacModel *m) { return m->err; }
int nnac_num_inputs(const NnacModel *m) { return m->dv->nin; }
int nnac_num_outputs(const NnacModel *m) { return m->dv->nout; }

static const DevicePort *in_port(const NnacModel *m, int i)
{
	return i >= 0 && i < m->dv->nin ? &m->dv->in[i] : NULL;
}

static const DevicePort *out_port(const NnacModel *m, int i)
{
	return i >= 0 && i < m->dv->nout ? &m->dv->out[i] : NULL;
}

static int shape(const DevicePort *p, int64_t *dims)
{
	if (!p)
		return -1;
	memcpy(dims, p->v.dims, (size_t)p->v.rank * sizeof(int64_t));
	return p->v.rank;
}

const char *nnac_input_name(const NnacModel *m, int i) { return in_port(m, i) ? in_port(m, i)->name : NULL; }
const char *nnac_output_name(const NnacModel *m, int i) { return out_port(m, i) ? out_port(m, i)->name : NULL; }
const char *nnac_input_dtype(const NnacModel *m, int i) { return in_port(m, i) ? dtype_name(in_port(m, i)->v.dt) : NULL; }
const char *nnac_output_dtype(const NnacModel *m, int i) { return out_port(m, i) ? dtype_name(out_port(m, i)->v.dt) : NULL; }
size_t nnac_input_bytes(const NnacModel *m, int i) { return in_port(m, i) ? (size_t)val_bytes(&in_port(m, i)->v) : 0; }
size_t nnac_output_bytes(const NnacModel *m, int i) { return out_port(m, i) ? (size_t)val_bytes(&out_port(m, i)->v) : 0; }
int nnac_input_shape(const NnacModel *m, int i, int64_t *dims) { return shape(in_port(m, i), dims); }
int nnac_output_shape(const NnacModel *m, int i, int64_t *dims) { return shape(out_port(m, i), dims); }
void *nnac_input_data(NnacModel *m, int i) { return in_port(m, i) ? in_port(m, i)->v.data : NULL; }
const void *nnac_output_data(const NnacModel *m, int i) { return out_port(m, i) ? out_port(m, i)->v.data : NULL; }
