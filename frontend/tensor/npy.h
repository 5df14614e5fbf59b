/*
 * NumPy .npy files (format versions 1.0-3.0), little-endian, C order, for
 * the element types nnac supports.
 */
#ifndef NNAC_NPY_H
#define NNAC_NPY_H

#include "diag.h"
#include "value.h"

Status npy_read(const char *path, Arena *a, Diag *d, Value *v);
/* Writes to path.tmp and renames, so a failed write leaves no partial file. */
Status npy_write(const char *path, const Value *v, Diag *d);

#endif
