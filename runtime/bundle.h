/*
 * The bundle file (.nnb): the one container nnac writes for every target
 * (docs/bundle.md has the byte layout).
 *
 * A bundle is a 64-byte header, a table of 64-byte section entries and the
 * sections' payloads, each at a 64-byte-aligned offset, in table order,
 * with zero bytes between them.  Integers are little endian and are written
 * and read byte by byte.  A CRC-32C over the whole file (its own field taken
 * as zero) guards every byte against corruption; each table entry also
 * holds the SHA-256 of its payload (version 2), so that a payload changed
 * and the CRC made right again is still refused.
 *
 *     +---------------------------+ 0
 *     | header (64 bytes)         |
 *     +---------------------------+ 64
 *     | section table             |  96 bytes per section
 *     +---------------------------+ 64 + 96 * count
 *     | payload 0 | pad | ...     |  each payload at a multiple of 64
 *     +---------------------------+ file size
 *
 * The writer copies what it is given and writes PATH.tmp, then renames it
 * to PATH, so a failure never leaves a partial bundle.  The reader checks
 * the whole container when it opens it (header, checksum, every section's
 * bounds, alignment, order, kind and name, every payload's SHA-256, the
 * META lines) and stops at the
 * first problem with one diagnostic naming the file; an opened bundle is
 * therefore safe to walk without further bounds checks.  The TENSORS table
 * is decoded on demand by nnb_tensors_decode / nnb_tensors_load, which
 * check it just as strictly.
 *
 * Memory comes from nnac_malloc (base/arena.h), so tests can fail any
 * allocation; buffers handed to the caller are freed with nnac_free.
 */
#ifndef NNAC_BUNDLE_H
#define NNAC_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "value.h"

enum {
	NNB_VERSION = 2,            /* the version this nnac writes and reads */
	NNB_HEADER_SIZE = 64,
	NNB_ENTRY_SIZE = 96,        /* one section-table entry, its payload's SHA-256 included */
	NNB_ALIGN = 64,             /* payload offsets are multiples of this */
	NNB_NAME_MAX = 39,          /* section name bytes (printable ASCII, no space) */
	NNB_MAX_SECTIONS = 65536,
	NNB_MAX_RANK = 8,
	NNB_TENSOR_NAME_MAX = 4096, /* tensor name bytes (UTF-8, no NUL) */
};

typedef enum NnbKind {
#define NNB_SECTION(id, code, name, syn) NNB_##id = code,
#include "bundle_section.def"
#undef NNB_SECTION
} NnbKind;

/* "meta", "tensors", ...; "?" for a code the .def does not list. */
const char *nnb_kind_name(NnbKind k);
const char *nnb_kind_synopsis(NnbKind k);
/* Whether code is a section kind of bundle_section.def. */
int nnb_kind_known(uint32_t code);

/* One section of an opened bundle; data points into the bundle's memory,
 * 64-byte aligned, valid until nnb_close. */
typedef struct NnbSection {
	NnbKind kind;
	const char *name;       /* "" when unnamed */
	const uint8_t *data;
	uint64_t size;          /* bytes */
	uint64_t offset;        /* of the payload in the file */
	const uint8_t *sha256;  /* the 32-byte digest of data the table records (checked) */
} NnbSection;

/* ---- writing ---- */

typedef struct NnbWriter NnbWriter;

NnbWriter *nnb_writer_new(void);               /* NULL: out of memory */
/* Appends a section (data copied; name NULL means unnamed).  Refuses an
 * unknown kind, a bad name, a second section of one kind and name, a second
 * META, and META or TENSORS payloads the reader would refuse. */
Status nnb_add(NnbWriter *w, NnbKind kind, const char *name, const void *data, uint64_t size,
               Diag *d);
/* Writes the bundle to PATH.tmp and renames it to path; on any failure
 * neither file is left behind. */
Status nnb_write(NnbWriter *w, const char *path, Diag *d);
/* The same bytes in fresh memory (free with nnac_free). */
Status nnb_write_mem(NnbWriter *w, uint8_t **out, size_t *size, Diag *d);
void nnb_writer_free(NnbWriter *w);

/* ---- reading ---- */

typedef struct Nnb Nnb;

Status nnb_open(const char *path, Nnb **out, Diag *d);
/* Opens a bundle held in memory (copied); name is used in diagnostics. */
Status nnb_open_mem(const char *name, const uint8_t *data, size_t size, Nnb **out, Diag *d);
int nnb_count(const Nnb *b);
const NnbSection *nnb_section(const Nnb *b, int i);
/* The section of kind and name; name NULL: the first of kind.  NULL if none. */
const NnbSection *nnb_find(const Nnb *b, NnbKind kind, const char *name);
/* The value of key in the META section; NULL if absent. */
const char *nnb_meta(const Nnb *b, const char *key);
const char *nnb_path(const Nnb *b);
void nnb_close(Nnb *b);

/* CRC-32C (Castagnoli, reflected, init and final xor 0xffffffff). */
uint32_t nnb_crc32c(uint32_t crc, const uint8_t *p, size_t n);
/* The checksum a bundle of these bytes must store: CRC-32C of the whole
 * file with the checksum field (bytes 32..35) taken as zero.  size >= 64. */
uint32_t nnb_checksum(const uint8_t *file, size_t size);
/* Makes a bundle's recorded digests, file size and checksum agree with its
 * bytes again, as the writer would have made them: for tests and tools that
 * change a bundle on purpose (tests/nnb.py does the same in Python).  The
 * digest of an entry whose payload does not lie inside the file is left
 * as it is.  size >= 64. */
void nnb_reseal(uint8_t *file, size_t size);

/* ---- the TENSORS table ---- */

typedef enum NnbRole {
	NNB_ROLE_INPUT = 1,
	NNB_ROLE_OUTPUT = 2,
	NNB_ROLE_WEIGHT = 3,
	NNB_ROLE_INTERMEDIATE = 4,
} NnbRole;

const char *nnb_role_name(NnbRole r);   /* "input", ...; "?" otherwise */

typedef struct NnbTensor {
	const char *name;        /* UTF-8, non-empty, no NUL */
	DType dtype;             /* stored as its ONNX TensorProto.DataType code */
	NnbRole role;
	int rank;                /* 0..NNB_MAX_RANK */
	int64_t dims[NNB_MAX_RANK];
	float scale;             /* quantization scale; 0: not quantized */
	int32_t zero_point;      /* 0 when scale is 0 */
	uint32_t layout;         /* 0: dense row-major; others target-defined */
	uint64_t offset;         /* bytes; weights: into the WEIGHTS section, else target-defined */
	uint64_t size;           /* bytes; layout 0: exactly numel * dtype size */
} NnbTensor;

/* A dense row-major record (layout 0, offset 0) of an input or output:
 * its size follows from the type. */
void nnb_tensor_dense(NnbTensor *t, const char *name, DType dt, int rank, const int64_t *dims, NnbRole role);
/* Encodes n records into fresh memory (free with nnac_free). */
Status nnb_tensors_encode(const NnbTensor *t, int n, uint8_t **out, uint64_t *size, Diag *d);
/* Decodes and checks a TENSORS payload; *out is one block, names included
 * (free with nnac_free).  what names the payload in diagnostics. */
Status nnb_tensors_decode(const char *what, const uint8_t *data, uint64_t size, NnbTensor **out,
                          int *n, Diag *d);
/* Decodes the TENSORS section of the given name (NULL: the first) and checks
 * that every weight lies inside the WEIGHTS section of the same name. */
Status nnb_tensors_load(const Nnb *b, const char *name, NnbTensor **out, int *n, Diag *d);

/* ---- building payloads ---- */

/* A growing byte string for a section's payload, written little endian.
 * After a failed allocation oom is set and further writes do nothing; the
 * caller checks oom once at the end and frees b with nnb_buf_free. */
typedef struct NnbBuf {
	uint8_t *b;
	size_t n, cap;
	bool oom;
} NnbBuf;

void nnb_put(NnbBuf *b, const void *p, size_t n);
void nnb_put_le(NnbBuf *b, uint64_t v, int bytes);     /* the low `bytes` bytes of v */
void nnb_put_f64(NnbBuf *b, double v);                 /* its IEEE bits, 8 bytes */
void nnb_put_str(NnbBuf *b, const char *s);            /* u32 length, then the bytes */
void nnb_buf_free(NnbBuf *b);

/* ---- reading payloads ---- */

/* A cursor over a section's payload.  A read past the end sets bad and
 * returns 0 (or NULL); the caller checks bad once after a record. */
typedef struct NnbReader {
	const uint8_t *p;
	uint64_t n, at;
	bool bad;
} NnbReader;

uint64_t nnb_get_le(NnbReader *r, int bytes);          /* `bytes` bytes, little endian */
double nnb_get_f64(NnbReader *r);
/* A u32 length, then that many bytes with no NUL among them: a pointer to
 * them in the payload (not terminated) and their count in *len. */
const char *nnb_get_str(NnbReader *r, uint32_t *len);

#endif
