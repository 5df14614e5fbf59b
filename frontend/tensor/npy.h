/*
 * NumPy .npy files (format versions 1.0-3.0), little-endian, C order, for
 * the element types nnac supports.
 */
#ifndef NNAC_NPY_H
#define NNAC_NPY_H

#include "diag.h"
#include "value.h"

/* Reads a .npy file, refusing one that is not a regular file; its length
 * is checked against the header's shape before any data is allocated. */
Status npy_read(const char *path, Arena *a, Diag *d, Value *v);
/* The same from len bytes in memory; path names them in diagnostics. */
Status npy_read_mem(const char *path, const uint8_t *buf, size_t len, Arena *a, Diag *d, Value *v);
/* Writes to path.tmp and renames, so a failed write leaves no partial file. */
Status npy_write(const char *path, const Value *v, Diag *d);

#endif
