/*
 * Devices: the runtime's side of a target.  A device loads a bundle, takes
 * its inputs, runs it and gives its outputs, its counters and, where it
 * keeps one, a trace.  The bundle's program section chooses the device
 * (devices.def); `nnac run`, `nnac trace`, `nnac bench` and the runtime
 * library (nnac_rt.h) reach every device through this interface only.
 *
 *     Device *dv;
 *     device_open("m.nnb", false, diag, &dv);
 *     memcpy(dv->in[0].v.data, x, val_bytes(&dv->in[0].v));
 *     device_run(dv);
 *     ... dv->out[0].v.data ...
 *     device_close(dv);
 *
 * Ports are the model's inputs and outputs in graph order: a name and a
 * Value whose data is the device's memory for it, dense and row-major,
 * valid until device_close (inputs are read by device_run; outputs are
 * written by it).
 */
#ifndef NNAC_DEVICE_H
#define NNAC_DEVICE_H

#include <stdbool.h>
#include <stdio.h>

#include "bundle.h"

typedef struct DevicePort {
	const char *name;
	Value v;
} DevicePort;

typedef enum DeviceTrace {
	DEV_TRACE_TEXT,      /* one line per event */
	DEV_TRACE_CHROME,    /* Chrome trace-event JSON (Perfetto) */
	DEV_TRACE_SUMMARY,   /* the counter table */
} DeviceTrace;

typedef struct Device Device;

enum { DEVICE_VERIFIED_MAX = 320 };

typedef struct DeviceOps {
	const char *name;            /* "cpu", "tpu-sim" */
	const char *description;     /* one line */
	NnbKind program;             /* the program section it runs */
	bool simulated;              /* device_seconds is simulated time */
	/* Reads the bundle: fills the ports (in dv->arena) and dv->state.
	 * The bundle stays open until close.  With dv->verify_only it checks
	 * the program completely but loads no code (the device cannot run
	 * then) and says in dv->verified what it checked. */
	Status (*load)(Device *dv);
	/* Runs the parallel loops on n threads; NULL: one thread only. */
	Status (*set_threads)(Device *dv, int n);
	/* One run: inputs' data in, outputs' data out; sets device_seconds. */
	Status (*run)(Device *dv);
	/* The counters of the last run, as a table; NULL: time only. */
	void (*counters)(const Device *dv, FILE *f);
	/* The last run's trace (kept when opened with want_trace). */
	Status (*trace)(const Device *dv, FILE *f, DeviceTrace how);
	void (*close)(Device *dv);
} DeviceOps;

struct Device {
	const DeviceOps *ops;
	const char *path;
	Nnb *bundle;
	DevicePort *in, *out;
	int nin, nout;
	int threads;             /* 1 unless set */
	bool want_trace;
	bool verify_only;        /* opened by device_verify: checked, not runnable */
	char verified[DEVICE_VERIFIED_MAX];  /* with verify_only: what load checked, one line */
	double host_seconds;     /* wall time of the last run, on this machine */
	double device_seconds;   /* simulated time of the last run; 0 when not simulated */
	void *state;             /* the device's own */
	Diag *diag;              /* where errors go; the caller's */
	Arena arena;             /* ports, names, state */
};

/* Opens the bundle at path on the device its program section names;
 * want_trace: keep a trace of each run. */
Status device_open(const char *path, bool want_trace, Diag *d, Device **out);
/* The same for a bundle already open (the device takes it over, also on failure). */
Status device_open_bundle(Nnb *b, bool want_trace, Diag *d, Device **out);
/* Checks the bundle at path completely without running anything or
 * loading code (`nnac run --verify-only`): the container with every
 * digest, every tensor table, and the program as its device reads it (a
 * cpu object's ELF inspection).  line gets one line saying what was
 * checked. */
Status device_verify(const char *path, char line[DEVICE_VERIFIED_MAX + 128], Diag *d);
Status device_set_threads(Device *dv, int n);
/* Runs once and times it (host_seconds). */
Status device_run(Device *dv);
void device_close(Device *dv);

int device_count(void);
const DeviceOps *device_at(int i);

/* Monotonic wall-clock seconds, for timing runs and kernels. */
double device_clock(void);
/* For devices: a port of the given name and type, with zeroed memory of
 * its own in dv->arena (64-byte aligned); false when out of memory. */
bool device_port(Device *dv, DevicePort *p, const char *name, const Value *type);

#endif
