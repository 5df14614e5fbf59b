/*
 * The nnac runtime library: runs a compiled bundle in a host program, on
 * the device its program names: the host CPU (target cpu) or the TPU cycle
 * simulator (target tpu).  It needs neither LLVM, the ONNX importer nor
 * Python; a cpu bundle's buffers are all allocated when it is opened.
 *
 *     NnacModel *m;
 *     char err[256];
 *     if (nnac_open("model.nnb", &m, err, sizeof err) != 0) { puts(err); return 1; }
 *     memcpy(nnac_input_data(m, 0), image, nnac_input_bytes(m, 0));
 *     if (nnac_run(m) != 0) { puts(nnac_error(m)); ... }
 *     const float *y = nnac_output_data(m, 0);
 *     nnac_close(m);
 *
 * Inputs and outputs are dense row-major arrays of the element type
 * nnac_input_dtype() names ("f32", "i64", ...), in graph order.  Functions
 * returning int give 0 on success and nonzero on failure, with the reason
 * in nnac_error() (or in err for nnac_open).  docs/runtime.md documents it.
 */
#ifndef NNAC_RT_H
#define NNAC_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct NnacModel NnacModel;

/* Opens the bundle at path, loads its program and sets up every buffer. */
int nnac_open(const char *path, NnacModel **out, char *err, size_t errlen);
void nnac_close(NnacModel *m);

int nnac_num_inputs(const NnacModel *m);
int nnac_num_outputs(const NnacModel *m);
const char *nnac_input_name(const NnacModel *m, int i);
const char *nnac_output_name(const NnacModel *m, int i);
/* Element type name ("f32", "i64"...); rank, with the dimensions into dims
 * (at most 8). */
const char *nnac_input_dtype(const NnacModel *m, int i);
const char *nnac_output_dtype(const NnacModel *m, int i);
int nnac_input_shape(const NnacModel *m, int i, int64_t *dims);
int nnac_output_shape(const NnacModel *m, int i, int64_t *dims);
size_t nnac_input_bytes(const NnacModel *m, int i);
size_t nnac_output_bytes(const NnacModel *m, int i);
/* The input's memory, to fill before nnac_run; the output's, to read after. */
void *nnac_input_data(NnacModel *m, int i);
const void *nnac_output_data(const NnacModel *m, int i);

/* Runs the model's parallel loops on n threads (1 to 1024), the caller's
 * and n - 1 workers of the model's own pool, made here (a new one replaces
 * the old).  The default, 1, runs everything on the caller's thread; the
 * results are the same for every n.  A device with one thread only (the
 * simulator) refuses n > 1. */
int nnac_set_threads(NnacModel *m, int n);
int nnac_threads(const NnacModel *m);

/* Runs the model once on the current inputs. */
int nnac_run(NnacModel *m);
/* Wall time of the last nnac_run on this machine, in seconds. */
double nnac_last_run_seconds(const NnacModel *m);
/* Simulated time of the last nnac_run on a simulator, in seconds; 0 on a
 * real device. */
double nnac_last_device_seconds(const NnacModel *m);
/* The device the model runs on: "cpu", "tpu-sim". */
const char *nnac_device(const NnacModel *m);
const char *nnac_error(const NnacModel *m);

#ifdef __cplusplus
}
#endif

#endif
