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
/* Whole file into malloc'd *buf. */
Status onnx_read_file(const char *path, Diag *d, uint8_t **buf, size_t *len);

#endif
