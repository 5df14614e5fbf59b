/*
 * The tpu-sim device (device.h): a TPU plan read from its bundle
 * (tpu_bundle.h) run on the cycle simulator, its host steps on the loop
 * interpreter (tpu_exec.h).  Counters are the simulator's (docs/tpu.md);
 * with want_trace every executed instruction is kept for trace.
 */
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "tpu_bundle.h"
#include "tpu_exec.h"
#include "tpu_trace.h"

typedef struct SimState {
	TpuPlan p;
	TpuExec x;
} SimState;

static bool plan_ports(Device *dv, const TpuPlan *p, const int *t, int n, DevicePort *ports)
{
	for (int i = 0; i < n; i++)
		if (!device_port(dv, &ports[i], p->t[t[i]].name, &p->t[t[i]].type))
			return false;
	return true;
}

static Status load(Device *dv)
{
	SimState *s = arena_alloc(&dv->arena, sizeof(*s));
	Status st;

	if (!s)
		return diag_add(dv->diag, ST_NOMEM, "out of memory");
	tpu_plan_init(&s->p);
	s->x.want_trace = dv->want_trace;
	dv->state = s;
	if ((st = tpu_bundle_read(dv->bundle, &s->p, dv->diag)))
		return st;
	dv->nin = s->p.ngraph_in, dv->nout = s->p.ngraph_out;
	dv->in = arena_alloc(&dv->arena, (size_t)(dv->nin + 1) * sizeof(DevicePort));
	dv->out = arena_alloc(&dv->arena, (size_t)(dv->nout + 1) * sizeof(DevicePort));
	if (!dv->in || !dv->out || !plan_ports(dv, &s->p, s->p.graph_in, dv->nin, dv->in) ||
	    !plan_ports(dv, &s->p, s->p.graph_out, dv->nout, dv->out))
		return diag_add(dv->diag, ST_NOMEM, "out of memory");
	snprintf(dv->verified, sizeof(dv->verified), "tpu program: %u instructions decoded, %d layers",
	         s->p.nprog, s->p.nl);
	return ST_OK;
}

static Status run(Device *dv)
{
	SimState *s = dv->state;
	Value *in, *out;
	Arena a;
	Status st;

	arena_init(&a);
	in = arena_alloc(&a, (size_t)(dv->nin + 1) * sizeof(Value));
	out = arena_alloc(&a, (size_t)(dv->nout + 1) * sizeof(Value));
	st = in && out ? ST_OK : diag_add(dv->diag, ST_NOMEM, "out of memory");
	for (int i = 0; i < dv->nin && st == ST_OK; i++)
		in[i] = dv->in[i].v;
	if (st == ST_OK)
		st = tpu_exec_run(&s->x, &s->p, TPU_ENGINE_SIM, in, out, &a, dv->diag);
	for (int i = 0; i < dv->nout && st == ST_OK; i++)
		memcpy(dv->out[i].v.data, out[i].data, (size_t)val_bytes(&dv->out[i].v));
	dv->device_seconds = st == ST_OK ? s->x.counters.seconds : 0;
	arena_free(&a);
	return st;
}

static void counters(const Device *dv, FILE *f)
{
	const SimState *s = dv->state;

	tpu_counters_print(f, &s->x.counters);
}

static Status trace(const Device *dv, FILE *f, DeviceTrace how)
{
	const SimState *s = dv->state;

	switch (how) {
	case DEV_TRACE_SUMMARY:
		tpu_counters_print(f, &s->x.counters);
		return ST_OK;
	case DEV_TRACE_CHROME:
		return tpu_trace_chrome(f, s->p.prog, s->x.trace, s->x.ntrace, s->p.cfg.clock_hz, dv->diag);
	case DEV_TRACE_TEXT:
		tpu_trace_text(f, s->p.prog, s->x.trace, s->x.ntrace);
		return ST_OK;
	}
	nnac_unreachable();
}

static void sim_close(Device *dv)
{
	SimState *s = dv->state;

	if (!s)
		return;
	tpu_exec_free(&s->x);
	tpu_plan_free(&s->p);
}

const DeviceOps device_tpu_sim = {
	.name = "tpu-sim",
	.description = "the TPU cycle simulator: instructions, counters and a trace of every instruction",
	.program = NNB_PROGRAM_TPU,
	.simulated = true,
	.load = load,
	.set_threads = NULL,
	.run = run,
	.counters = counters,
	.trace = trace,
	.close = sim_close,
};
