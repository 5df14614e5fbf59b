/*
 * Shared between the files of frontend/onnx only.
 */
#ifndef NNAC_ONNX_INTERNAL_H
#define NNAC_ONNX_INTERNAL_H

#include "onnx.h"
#include "onnx.pb-c.h"

Status onnx_decode_tensor(const Onnx__TensorProto *tp, const char *where, const char *dir,
                          Arena *a, Diag *d, Value *v);
const char *onnx_dtype_name(int code);
/* The folder of path ("." when it has none), in arena memory; NULL when
 * out of memory. */
const char *onnx_dir_of(Arena *a, const char *path);
/* Whole file into *buf from nnac_malloc (the caller frees it with nnac_free). */
Status onnx_read_file(const char *path, Diag *d, uint8_t **buf, size_t *len);

#endif
