/*
 * The bundle container (.nnb): writer, reader and checksum
 * (docs/bundle.md; the TENSORS table is in the second half of this file).
 *
 * The writer keeps copies of the sections and emits the file twice through
 * one routine: once into the checksum only, once into the file (or memory)
 * with the checksum in place, so the bytes never have to be held twice.
 * The reader loads the whole file into 64-byte-aligned memory and checks it
 * completely before handing it out; every check stops at the first problem
 * with one diagnostic that names the file.  Every length read from the file
 * is compared against what remains before it is used, in uint64_t without
 * overflow (a + b > n is written b > n - a after checking a <= n).
 */
#include "bundle.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "sha256.h"

static const uint8_t magic[8] = {'N', 'N', 'A', 'C', 'B', 'N', 'D', 'L'};
static const uint8_t zeros[NNB_ALIGN];

/*
 * Header field offsets (docs/bundle.md, "Header").
 *
 *   0       8      12     16     20      24          32      36      40        64
 *   +-------+------+------+------+-------+-----------+-------+-------+---------+
 *   | magic | ver  | hsz  | flags| count | file size | crc32c| esz   | 0 ...   |
 *   +-------+------+------+------+-------+-----------+-------+-------+---------+
 */
enum {
	H_MAGIC = 0, H_VERSION = 8, H_HEADER_SIZE = 12, H_FLAGS = 16, H_COUNT = 20,
	H_FILE_SIZE = 24, H_CHECKSUM = 32, H_ENTRY_SIZE = 36, H_RESERVED = 40,
};
/*
 * Section-table entry field offsets (version 2).
 *
 *   0      4       8          16         24                            64                96
 *   +------+-------+----------+----------+-----------------------------+-----------------+
 *   | kind | flags | offset   | size     | name, NUL-padded (40 bytes) | SHA-256 of the  |
 *   |      |       |          |          |                             | payload (32)    |
 *   +------+-------+----------+----------+-----------------------------+-----------------+
 */
enum { E_KIND = 0, E_FLAGS = 4, E_OFFSET = 8, E_SIZE = 16, E_NAME = 24, E_SHA256 = 64 };
_Static_assert(E_SHA256 + SHA256_BYTES == NNB_ENTRY_SIZE, "an entry ends with its digest");

/* ---- little-endian fields, byte by byte ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Where the table of n entries ends (and entry n begins). */
static uint64_t table_end(uint64_t n)
{
	return NNB_HEADER_SIZE + n * NNB_ENTRY_SIZE;
}

static uint64_t align_up(uint64_t x)
{
	return (x + NNB_ALIGN - 1) / NNB_ALIGN * NNB_ALIGN;
}

static bool all_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- names ---- */

const char *nnb_kind_name(NnbKind k)
{
	switch (k) {
#define NNB_SECTION(id, code, name, syn) case NNB_##id: return name;
#include "bundle_section.def"
#undef NNB_SECTION
	}
	return "?";
}

const char *nnb_kind_synopsis(NnbKind k)
{
	switch (k) {
#define NNB_SECTION(id, code, name, syn) case NNB_##id: return syn;
#include "bundle_section.def"
#undef NNB_SECTION
	}
	return "?";
}

int nnb_kind_known(uint32_t code)
{
	static const uint32_t codes[] = {
#define NNB_SECTION(id, code, name, syn) code,
#include "bundle_section.def"
#undef NNB_SECTION
	};

	for (size_t i = 0; i < ARRAY_LEN(codes); i++)
		if (codes[i] == code)
			return 1;
	return 0;
}

const char *nnb_role_name(NnbRole r)
{
	switch (r) {
	case NNB_ROLE_INPUT: return "input";
	case NNB_ROLE_OUTPUT: return "output";
	case NNB_ROLE_WEIGHT: return "weight";
	case NNB_ROLE_INTERMEDIATE: return "intermediate";
	}
	return "?";
}

/* A section name: at most NNB_NAME_MAX bytes of printable ASCII other than
 * space.  Returns the offending byte's index, or -1 when valid. */
static int bad_name_byte(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return (int)i;
	return -1;
}

/* Whether p[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF) without NUL; *at gets the first bad byte's index. */
static bool utf8_valid(const uint8_t *p, uint64_t n, uint64_t *at)
{
	uint64_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		int len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
		          c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		uint8_t lo = 0x80, hi = 0xbf;

		if (c == 0 || len == 0 || (uint64_t)len > n - i)
			goto bad;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		for (int k = 1; k < len; k++, lo = 0x80, hi = 0xbf)
			if (p[i + k] < lo || p[i + k] > hi)
				goto bad;
		i += (uint64_t)len;
	}
	return true;
bad:
	*at = i;
	return false;
}

/* A message prefix in fresh memory (nnac_free), or NULL when out of memory. */
static char *fmt_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_alloc(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(s = nnac_malloc((size_t)n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* ---- CRC-32C ---- */

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), eight bytes a
 * step with eight tables (slicing by 8): t[0] is the byte-wise table,
 * t[k][i] the CRC of byte i followed by k zero bytes.  The tables are
 * built per call (about 2,000 steps), so that there is no shared state;
 * short inputs use t[0] alone. */
enum { CRC_SLICE_MIN = 256 };

static void crc_tables(uint32_t t[8][256], int nt)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? c >> 1 ^ 0x82f63b78u : c >> 1;
		t[0][i] = c;
	}
	for (int k = 1; k < nt; k++)
		for (int i = 0; i < 256; i++)
			t[k][i] = t[0][t[k - 1][i] & 0xff] ^ t[k - 1][i] >> 8;
}

uint32_t nnb_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	uint32_t t[8][256];

	crc_tables(t, n >= CRC_SLICE_MIN ? 8 : 1);
	crc = ~crc;
	for (; n >= CRC_SLICE_MIN && n >= 8; n -= 8, p += 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;

		crc = t[7][lo & 0xff] ^ t[6][lo >> 8 & 0xff] ^ t[5][lo >> 16 & 0xff] ^ t[4][lo >> 24] ^
		      t[3][hi & 0xff] ^ t[2][hi >> 8 & 0xff] ^ t[1][hi >> 16 & 0xff] ^ t[0][hi >> 24];
	}
	for (; n > 0; n--, p++)
		crc = t[0][(crc ^ *p) & 0xff] ^ crc >> 8;
	return ~crc;
}

uint32_t nnb_checksum(const uint8_t *file, size_t size)
{
	uint32_t crc = nnb_crc32c(0, file, H_CHECKSUM);

	crc = nnb_crc32c(crc, zeros, 4);
	return nnb_crc32c(crc, file + H_CHECKSUM + 4, size - H_CHECKSUM - 4);
}

void nnb_reseal(uint8_t *file, size_t size)
{
	uint32_t count = get_u32(file + H_COUNT);

	for (uint64_t i = 0; i < count && table_end(i + 1) <= size; i++) {
		uint8_t *e = file + table_end(i);
		uint64_t off = get_u64(e + E_OFFSET), n = get_u64(e + E_SIZE);

		if (off <= size && n <= size - off)
			sha256(file + off, (size_t)n, e + E_SHA256);
	}
	put_u64(file + H_FILE_SIZE, size);
	put_u32(file + H_CHECKSUM, nnb_checksum(file, size));
}

/* ---- META lines ---- */

typedef struct MetaKV {
	const char *key, *val;
	int line;
} MetaKV;

static int kv_cmp(const void *a, const void *b)
{
	const MetaKV *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : x->line - y->line;
}

static bool key_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* Checks one "key=value" line (without its '\n'). */
static Status meta_line(const char *what, const uint8_t *p, uint64_t n, int line, Diag *d)
{
	uint64_t k = 0, at;

	while (k < n && key_char(p[k]))
		k++;
	if (k == n || p[k] != '=')
		return k == n ? diag_add(d, ST_INVALID, "%s: line %d has no '='", what, line)
		              : diag_add(d, ST_INVALID, "%s: line %d: byte 0x%02x is not allowed in a key",
		                         what, line, p[k]);
	if (k == 0)
		return diag_add(d, ST_INVALID, "%s: line %d has an empty key", what, line);
	if (!utf8_valid(p + k + 1, n - k - 1, &at))
		return diag_add(d, ST_INVALID, "%s: line %d: the value is not valid UTF-8 (byte %llu)",
		                what, line, (unsigned long long)(k + 1 + at));
	if (memchr(p + k + 1, '\r', n - k - 1))
		return diag_add(d, ST_INVALID, "%s: line %d: the value holds a carriage return", what,
		                line);
	return ST_OK;
}

/*
 * Parses a META payload into *text (a NUL-separated copy) and *kv (sorted
 * by key, for bsearch), both from nnac_malloc.  Lines are "key=value\n",
 * keys [A-Za-z0-9_.-]+ and unique, values UTF-8 without NUL or CR.
 */
static Status meta_parse(const char *what, const uint8_t *p, uint64_t n, char **text,
                         MetaKV **kv, int *nkv, Diag *d)
{
	uint64_t lines = 0, pos = 0;
	int line = 0;
	Status st;

	*text = NULL;
	*kv = NULL;
	*nkv = 0;
	if (n > 0 && p[n - 1] != '\n')
		return diag_add(d, ST_INVALID, "%s: the last line does not end with a newline", what);
	for (uint64_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	if (lines > INT32_MAX)
		return diag_add(d, ST_INVALID, "%s: too many lines", what);
	if (!(*text = nnac_malloc(n + 1)) || !(*kv = nnac_malloc(lines * sizeof(MetaKV) + 1))) {
		st = diag_add(d, ST_NOMEM, "%s: out of memory", what);
		goto fail;
	}
	memcpy(*text, p, n);
	while (pos < n) {
		uint64_t end = (uint64_t)((const uint8_t *)memchr(p + pos, '\n', n - pos) - p);
		char *eq;

		if ((st = meta_line(what, p + pos, end - pos, ++line, d)) != ST_OK)
			goto fail;
		(*text)[end] = 0;
		eq = strchr(*text + pos, '=');
		*eq = 0;
		(*kv)[*nkv] = (MetaKV){*text + pos, eq + 1, line};
		(*nkv)++;
		pos = end + 1;
	}
	qsort(*kv, (size_t)*nkv, sizeof(MetaKV), kv_cmp);
	for (int i = 1; i < *nkv; i++)
		if (strcmp((*kv)[i - 1].key, (*kv)[i].key) == 0) {
			st = diag_add(d, ST_INVALID, "%s: key '%s' appears on lines %d and %d", what,
			              (*kv)[i].key, (*kv)[i - 1].line, (*kv)[i].line);
			goto fail;
		}
	return ST_OK;
fail:
	nnac_free(*text);
	nnac_free(*kv);
	*text = NULL;
	*kv = NULL;
	*nkv = 0;
	return st;
}

/* ==== writing ==== */

typedef struct WSection {
	NnbKind kind;
	char name[NNB_NAME_MAX + 1];
	uint8_t *data;
	uint64_t size;
	uint8_t sha256[SHA256_BYTES];  /* of data */
} WSection;

struct NnbWriter {
	WSection *s;
	int n, cap;
	uint64_t end;          /* file size with the sections so far */
};

NnbWriter *nnb_writer_new(void)
{
	NnbWriter *w = nnac_malloc(sizeof(*w));

	if (w)
		memset(w, 0, sizeof(*w));
	return w;
}

void nnb_writer_free(NnbWriter *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->n; i++)
		nnac_free(w->s[i].data);
	nnac_free(w->s);
	nnac_free(w);
}

static bool writer_grow(NnbWriter *w)
{
	int cap = w->cap ? 2 * w->cap : 8;
	WSection *s;

	if (w->n < w->cap)
		return true;
	if (!(s = nnac_malloc((size_t)cap * sizeof(*s))))
		return false;
	if (w->n)
		memcpy(s, w->s, (size_t)w->n * sizeof(*s));
	nnac_free(w->s);
	w->s = s;
	w->cap = cap;
	return true;
}

/* The reader's payload checks, run on what the writer is given. */
static Status check_payload(NnbKind kind, const void *data, uint64_t size, Diag *d)
{
	Status st = ST_OK;

	if (kind == NNB_META) {
		char *text;
		MetaKV *kv;
		int nkv;

		st = meta_parse("bundle section 'meta'", data, size, &text, &kv, &nkv, d);
		nnac_free(text);
		nnac_free(kv);
	} else if (kind == NNB_TENSORS) {
		NnbTensor *t;
		int n;

		st = nnb_tensors_decode("bundle section 'tensors'", data, size, &t, &n, d);
		nnac_free(t);
	}
	return st;
}

static Status check_new_section(const NnbWriter *w, NnbKind kind, const char *name, Diag *d)
{
	size_t len = strlen(name);
	int at;

	if (!nnb_kind_known((uint32_t)kind))
		return diag_add(d, ST_INVALID, "bundle: unknown section kind %u", (unsigned)kind);
	if (len > NNB_NAME_MAX)
		return diag_add(d, ST_INVALID, "bundle: section name '%s' is longer than %d bytes", name,
		                NNB_NAME_MAX);
	if ((at = bad_name_byte(name, len)) >= 0)
		return diag_add(d, ST_INVALID,
		                "bundle: section name '%s' has byte 0x%02x (names are printable ASCII "
		                "without spaces)", name, (unsigned char)name[at]);
	if (w->n >= NNB_MAX_SECTIONS)
		return diag_add(d, ST_INVALID, "bundle: more than %d sections", NNB_MAX_SECTIONS);
	for (int i = 0; i < w->n; i++) {
		if (w->s[i].kind == kind && kind == NNB_META)
			return diag_add(d, ST_INVALID, "bundle: a second 'meta' section");
		if (w->s[i].kind == kind && strcmp(w->s[i].name, name) == 0)
			return diag_add(d, ST_INVALID, "bundle: a second '%s' section named '%s'",
			                nnb_kind_name(kind), name);
	}
	return ST_OK;
}

Status nnb_add(NnbWriter *w, NnbKind kind, const char *name, const void *data, uint64_t size,
               Diag *d)
{
	WSection *s;
	Status st;

	name = name ? name : "";
	if ((st = check_new_section(w, kind, name, d)) != ST_OK)
		return st;
	if (!data && size > 0)
		return diag_add(d, ST_INVALID, "bundle: section '%s' has %llu bytes but no data",
		                nnb_kind_name(kind), (unsigned long long)size);
	if (size > ((uint64_t)1 << 62) - align_up(w->end) - NNB_ENTRY_SIZE ||
	    size > (uint64_t)SIZE_MAX - 1)
		return diag_add(d, ST_INVALID, "bundle: section '%s' of %llu bytes is too large",
		                nnb_kind_name(kind), (unsigned long long)size);
	if ((st = check_payload(kind, data, size, d)) != ST_OK)
		return st;
	if (!writer_grow(w))
		return diag_add(d, ST_NOMEM, "bundle: out of memory");
	s = &w->s[w->n];
	memset(s, 0, sizeof(*s));
	if (!(s->data = nnac_malloc((size_t)size)))
		return diag_add(d, ST_NOMEM, "bundle: out of memory");
	if (size)
		memcpy(s->data, data, (size_t)size);
	s->kind = kind;
	memcpy(s->name, name, strlen(name) + 1);
	s->size = size;
	sha256(s->data, (size_t)size, s->sha256);
	w->n++;
	w->end = align_up(w->end) + size;
	return ST_OK;
}

/* Where emitted bytes go: always the checksum; also a file or a buffer. */
typedef struct Sink {
	FILE *f;
	uint8_t *buf;
	uint64_t pos;
	uint32_t crc;
	bool failed;          /* a write to f failed; errno says why */
} Sink;

static void sink_put(Sink *s, const void *p, uint64_t n)
{
	if (n == 0)
		return;
	s->crc = nnb_crc32c(s->crc, p, (size_t)n);
	if (s->f && !s->failed && fwrite(p, 1, (size_t)n, s->f) != n)
		s->failed = true;
	if (s->buf)
		memcpy(s->buf + s->pos, p, (size_t)n);
	s->pos += n;
}

static void sink_pad(Sink *s)
{
	sink_put(s, zeros, align_up(s->pos) - s->pos);
}

/* The file size: payloads in order, each at the next aligned offset. */
static uint64_t file_size(const NnbWriter *w)
{
	uint64_t end = table_end(w->n);

	for (int i = 0; i < w->n; i++)
		end = align_up(end) + w->s[i].size;
	return end;
}

static void emit(const NnbWriter *w, uint32_t checksum, Sink *s)
{
	uint8_t h[NNB_HEADER_SIZE] = {0}, e[NNB_ENTRY_SIZE];
	uint64_t off = table_end(w->n);

	memcpy(h + H_MAGIC, magic, sizeof(magic));
	put_u32(h + H_VERSION, NNB_VERSION);
	put_u32(h + H_HEADER_SIZE, NNB_HEADER_SIZE);
	put_u32(h + H_FLAGS, 0);
	put_u32(h + H_COUNT, (uint32_t)w->n);
	put_u64(h + H_FILE_SIZE, file_size(w));
	put_u32(h + H_CHECKSUM, checksum);
	put_u32(h + H_ENTRY_SIZE, NNB_ENTRY_SIZE);
	sink_put(s, h, sizeof(h));
	for (int i = 0; i < w->n; i++) {
		off = align_up(off);
		memset(e, 0, sizeof(e));
		put_u32(e + E_KIND, (uint32_t)w->s[i].kind);
		put_u64(e + E_OFFSET, off);
		put_u64(e + E_SIZE, w->s[i].size);
		memcpy(e + E_NAME, w->s[i].name, strlen(w->s[i].name));
		memcpy(e + E_SHA256, w->s[i].sha256, SHA256_BYTES);
		sink_put(s, e, sizeof(e));
		off += w->s[i].size;
	}
	for (int i = 0; i < w->n; i++) {
		sink_pad(s);
		sink_put(s, w->s[i].data, w->s[i].size);
	}
}

static uint32_t checksum_of(const NnbWriter *w)
{
	Sink s = {0};

	emit(w, 0, &s);
	return s.crc;
}

Status nnb_write_mem(NnbWriter *w, uint8_t **out, size_t *size, Diag *d)
{
	uint64_t n = file_size(w);
	Sink s = {0};

	*out = NULL;
	*size = 0;
	if (n > SIZE_MAX || !(s.buf = nnac_malloc((size_t)n)))
		return diag_add(d, ST_NOMEM, "bundle: out of memory for %llu bytes",
		                (unsigned long long)n);
	emit(w, checksum_of(w), &s);
	*out = s.buf;
	*size = (size_t)n;
	return ST_OK;
}

/* Writes PATH.tmp completely and durably; on failure removes it. */
static Status write_tmp(const NnbWriter *w, const char *path, const char *tmp, Diag *d)
{
	Sink s = {0};
	int err;

	if (!(s.f = fopen(tmp, "wb")))
		return diag_add(d, ST_IO, "%s: cannot write %s: %s", path, tmp, strerror(errno));
	errno = 0;
	emit(w, checksum_of(w), &s);
	err = s.failed ? (errno ? errno : EIO) : 0;
	if (!err && (fflush(s.f) != 0 || fsync(fileno(s.f)) != 0))
		err = errno;
	if (fclose(s.f) != 0 && !err)
		err = errno;
	if (err) {
		remove(tmp);
		return diag_add(d, ST_IO, "%s: cannot write %s: %s", path, tmp, strerror(err));
	}
	return ST_OK;
}

Status nnb_write(NnbWriter *w, const char *path, Diag *d)
{
	char *tmp = fmt_alloc("%s.tmp", path);
	Status st;

	if (!tmp)
		return diag_add(d, ST_NOMEM, "%s: out of memory", path);
	st = write_tmp(w, path, tmp, d);
	if (st == ST_OK && rename(tmp, path) != 0) {
		st = diag_add(d, ST_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
		remove(tmp);
	}
	nnac_free(tmp);
	return st;
}

/* ==== reading ==== */

struct Nnb {
	char *path;
	uint8_t *raw;              /* the allocation holding the file */
	const uint8_t *data;       /* the file's bytes, 64-byte aligned */
	uint64_t size;
	NnbSection *sec;
	char (*names)[NNB_NAME_MAX + 1];
	int n;
	char *meta_text;
	MetaKV *meta;              /* sorted by key */
	int nmeta;
};

void nnb_close(Nnb *b)
{
	if (!b)
		return;
	nnac_free(b->path);
	nnac_free(b->raw);
	nnac_free(b->sec);
	nnac_free(b->names);
	nnac_free(b->meta_text);
	nnac_free(b->meta);
	nnac_free(b);
}

int nnb_count(const Nnb *b) { return b->n; }
const char *nnb_path(const Nnb *b) { return b->path; }

const NnbSection *nnb_section(const Nnb *b, int i)
{
	return i >= 0 && i < b->n ? &b->sec[i] : NULL;
}

const NnbSection *nnb_find(const Nnb *b, NnbKind kind, const char *name)
{
	for (int i = 0; i < b->n; i++)
		if (b->sec[i].kind == kind && (!name || strcmp(b->sec[i].name, name) == 0))
			return &b->sec[i];
	return NULL;
}

const char *nnb_meta(const Nnb *b, const char *key)
{
	MetaKV k = {key, NULL, 0}, *hit;

	for (int lo = 0, hi = b->nmeta; lo < hi;) {
		int mid = lo + (hi - lo) / 2, c;

		hit = &b->meta[mid];
		c = strcmp(k.key, hit->key);
		if (c == 0)
			return hit->val;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* A fresh Nnb named path with room for size bytes of file, aligned. */
static Status nnb_new(const char *path, uint64_t size, Nnb **out, Diag *d)
{
	Nnb *b = nnac_malloc(sizeof(*b));

	*out = NULL;
	if (!b)
		return diag_add(d, ST_NOMEM, "%s: out of memory", path);
	memset(b, 0, sizeof(*b));
	if (size > SIZE_MAX - NNB_ALIGN || !(b->path = fmt_alloc("%s", path)) ||
	    !(b->raw = nnac_malloc((size_t)size + NNB_ALIGN))) {
		nnb_close(b);
		return diag_add(d, ST_NOMEM, "%s: out of memory for %llu bytes", path,
		                (unsigned long long)size);
	}
	b->data = b->raw + (-(uintptr_t)b->raw & (NNB_ALIGN - 1));
	b->size = size;
	*out = b;
	return ST_OK;
}

static Status bad(const Nnb *b, Diag *d, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static Status bad(const Nnb *b, Diag *d, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return diag_add(d, ST_INVALID, "%s: %s", b->path, msg);
}

/* The first bytes shown as text, non-printables escaped: "NNACBNDX". */
static void show_magic(const uint8_t *p, uint64_t n, char *out)
{
	for (uint64_t i = 0; i < n && i < 8; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			*out++ = (char)p[i];
		else
			out += sprintf(out, "\\x%02x", p[i]);
	}
	*out = 0;
}

static Status check_magic(const Nnb *b, Diag *d)
{
	char shown[8 * 4 + 1];

	if (b->size == 0)
		return bad(b, d, "empty file, not an nnac bundle");
	if (b->size < sizeof(magic) && memcmp(b->data, magic, (size_t)b->size) == 0)
		return bad(b, d, "truncated: file has %llu bytes, less than the %d-byte header",
		           (unsigned long long)b->size, NNB_HEADER_SIZE);
	if (b->size < sizeof(magic) || memcmp(b->data, magic, sizeof(magic)) != 0) {
		show_magic(b->data, b->size, shown);
		return bad(b, d, "not an nnac bundle (magic is \"%s\", not \"NNACBNDL\")", shown);
	}
	if (b->size < NNB_HEADER_SIZE)
		return bad(b, d, "truncated: file has %llu bytes, less than the %d-byte header",
		           (unsigned long long)b->size, NNB_HEADER_SIZE);
	return ST_OK;
}

/* Magic, version, sizes and checksum: what any version's reader checks. */
static Status check_envelope(const Nnb *b, Diag *d)
{
	const uint8_t *h = b->data;
	uint32_t version, hsize, stored, computed;
	uint64_t fsize;
	Status st;

	if ((st = check_magic(b, d)) != ST_OK)
		return st;
	if ((version = get_u32(h + H_VERSION)) == 1)
		return bad(b, d, "bundle version 1, written by an older nnac without SHA-256 digests; "
		           "this nnac reads version %d: compile the model again", NNB_VERSION);
	if (version != NNB_VERSION)
		return bad(b, d, "bundle version %u; this nnac reads version %d", version, NNB_VERSION);
	if ((hsize = get_u32(h + H_HEADER_SIZE)) != NNB_HEADER_SIZE)
		return bad(b, d, "header size is %u bytes; version %d headers are %d", hsize,
		           NNB_VERSION, NNB_HEADER_SIZE);
	fsize = get_u64(h + H_FILE_SIZE);
	if (fsize > b->size)
		return bad(b, d, "truncated: header says %llu bytes, file has %llu",
		           (unsigned long long)fsize, (unsigned long long)b->size);
	if (fsize < b->size)
		return bad(b, d, "header says %llu bytes, file has %llu (%llu bytes of trailing data)",
		           (unsigned long long)fsize, (unsigned long long)b->size,
		           (unsigned long long)(b->size - fsize));
	stored = get_u32(h + H_CHECKSUM);
	if ((computed = nnb_checksum(h, (size_t)b->size)) != stored)
		return bad(b, d, "checksum mismatch (stored 0x%08x, computed 0x%08x)", stored, computed);
	return ST_OK;
}

/* The rest of the version-1 header; sets b->n. */
static Status check_header(Nnb *b, Diag *d)
{
	const uint8_t *h = b->data;
	uint32_t flags = get_u32(h + H_FLAGS), esize = get_u32(h + H_ENTRY_SIZE);
	uint32_t count = get_u32(h + H_COUNT);

	if (flags != 0)
		return bad(b, d, "unknown header flags 0x%08x", flags);
	if (esize != NNB_ENTRY_SIZE)
		return bad(b, d, "section entries are %u bytes; version %d entries are %d", esize,
		           NNB_VERSION, NNB_ENTRY_SIZE);
	if (!all_zero(h + H_RESERVED, NNB_HEADER_SIZE - H_RESERVED))
		return bad(b, d, "reserved header bytes %d..%d are not zero", H_RESERVED,
		           NNB_HEADER_SIZE - 1);
	if (count > NNB_MAX_SECTIONS)
		return bad(b, d, "%u sections, more than the %d a bundle may hold", count,
		           NNB_MAX_SECTIONS);
	if (table_end(count) > b->size)
		return bad(b, d, "the section table (%u entries) ends at byte %llu, past the end of the "
		           "file (%llu bytes)", count, (unsigned long long)table_end(count),
		           (unsigned long long)b->size);
	b->n = (int)count;
	return ST_OK;
}

/* "section 3 ('weights')" or "section 3 ('weights' 'tpu')". */
static void label(const NnbSection *s, int i, char *out, size_t n)
{
	if (s->name[0])
		snprintf(out, n, "section %d ('%s' '%s')", i, nnb_kind_name(s->kind), s->name);
	else
		snprintf(out, n, "section %d ('%s')", i, nnb_kind_name(s->kind));
}

/* Entry i's name into b->names[i]. */
static Status read_name(Nnb *b, int i, const uint8_t *e, Diag *d)
{
	const uint8_t *p = e + E_NAME;
	const uint8_t *nul = memchr(p, 0, E_SHA256 - E_NAME);
	size_t len;
	int at;

	if (!nul)
		return bad(b, d, "section %d: the name field has no NUL", i);
	len = (size_t)(nul - p);
	if ((at = bad_name_byte((const char *)p, len)) >= 0)
		return bad(b, d, "section %d: byte 0x%02x in the name (names are printable ASCII "
		           "without spaces)", i, p[at]);
	if (!all_zero(nul, (uint64_t)(E_SHA256 - E_NAME) - len))
		return bad(b, d, "section %d: nonzero bytes after the name's NUL", i);
	memcpy(b->names[i], p, len + 1);
	return ST_OK;
}

/* Entry i: kind, name, flags, bounds, alignment, order after section i-1. */
static Status read_entry(Nnb *b, int i, uint64_t *prev_end, Diag *d)
{
	const uint8_t *e = b->data + NNB_HEADER_SIZE + (uint64_t)i * NNB_ENTRY_SIZE;
	NnbSection *s = &b->sec[i];
	uint32_t kind = get_u32(e + E_KIND), flags = get_u32(e + E_FLAGS);
	char at[128];
	Status st;

	if ((st = read_name(b, i, e, d)) != ST_OK)
		return st;
	if (!nnb_kind_known(kind))
		return b->names[i][0] ? bad(b, d, "section %d ('%s'): unknown section kind %u", i,
		                            b->names[i], kind)
		                      : bad(b, d, "section %d: unknown section kind %u", i, kind);
	s->kind = (NnbKind)kind;
	s->name = b->names[i];
	s->offset = get_u64(e + E_OFFSET);
	s->size = get_u64(e + E_SIZE);
	label(s, i, at, sizeof(at));
	if (flags != 0)
		return bad(b, d, "%s: unknown flags 0x%08x", at, flags);
	if (s->offset % NNB_ALIGN != 0)
		return bad(b, d, "%s: payload offset %llu is not a multiple of %d", at,
		           (unsigned long long)s->offset, NNB_ALIGN);
	if (s->offset < table_end(b->n))
		return bad(b, d, "%s: payload offset %llu is inside the header or section table "
		           "(which end at %llu)", at, (unsigned long long)s->offset,
		           (unsigned long long)table_end(b->n));
	if (s->offset > b->size || s->size > b->size - s->offset)
		return bad(b, d, "%s ends past the end of the file (offset %llu + size %llu > %llu "
		           "bytes)", at, (unsigned long long)s->offset, (unsigned long long)s->size,
		           (unsigned long long)b->size);
	if (s->offset < *prev_end)
		return bad(b, d, "%s at offset %llu overlaps section %d, which ends at %llu "
		           "(payloads are in table order)", at, (unsigned long long)s->offset, i - 1,
		           (unsigned long long)*prev_end);
	if (!all_zero(b->data + *prev_end, s->offset - *prev_end))
		return bad(b, d, "nonzero padding between byte %llu and %s",
		           (unsigned long long)*prev_end, at);
	s->data = b->data + s->offset;
	s->sha256 = e + E_SHA256;
	*prev_end = s->offset + s->size;
	return ST_OK;
}

static int sec_cmp(const void *a, const void *b)
{
	const NnbSection *x = *(const NnbSection *const *)a, *y = *(const NnbSection *const *)b;
	int c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return x < y ? -1 : x > y;
}

/* No two sections share kind and name; at most one META. */
static Status check_unique(const Nnb *b, Diag *d)
{
	const NnbSection **by = nnac_malloc((size_t)b->n * sizeof(*by) + 1);
	Status st = ST_OK;

	if (!by)
		return diag_add(d, ST_NOMEM, "%s: out of memory", b->path);
	for (int i = 0; i < b->n; i++)
		by[i] = &b->sec[i];
	qsort(by, (size_t)b->n, sizeof(*by), sec_cmp);
	for (int i = 1; i < b->n && st == ST_OK; i++) {
		int first = (int)(by[i - 1] - b->sec), second = (int)(by[i] - b->sec);

		if (by[i]->kind != by[i - 1]->kind)
			continue;
		if (by[i]->kind == NNB_META)
			st = bad(b, d, "sections %d and %d are both 'meta' (a bundle has at most one)",
			         first, second);
		else if (strcmp(by[i]->name, by[i - 1]->name) == 0)
			st = bad(b, d, "sections %d and %d are both '%s' named '%s'", first, second,
			         nnb_kind_name(by[i]->kind), by[i]->name);
	}
	nnac_free(by);
	return st;
}

static Status read_table(Nnb *b, Diag *d)
{
	uint64_t end = table_end(b->n);
	Status st;

	b->sec = nnac_malloc((size_t)b->n * sizeof(*b->sec) + 1);
	b->names = nnac_malloc((size_t)b->n * sizeof(*b->names) + 1);
	if (!b->sec || !b->names)
		return diag_add(d, ST_NOMEM, "%s: out of memory", b->path);
	for (int i = 0; i < b->n; i++)
		if ((st = read_entry(b, i, &end, d)) != ST_OK)
			return st;
	if (!all_zero(b->data + end, b->size - end))
		return bad(b, d, "nonzero bytes after the last section (from byte %llu)",
		           (unsigned long long)end);
	return check_unique(b, d);
}

/* Every payload's SHA-256 against the one its entry records.  The CRC has
 * passed: a mismatch here means bytes changed and the CRC made right. */
static Status check_digests(const Nnb *b, Diag *d)
{
	uint8_t sum[SHA256_BYTES];

	for (int i = 0; i < b->n; i++) {
		const NnbSection *s = &b->sec[i];

		sha256(s->data, (size_t)s->size, sum);
		if (memcmp(sum, s->sha256, SHA256_BYTES) == 0)
			continue;
		return bad(b, d, "section %s%s%s%s: SHA-256 does not match its contents (the bundle was "
		           "modified after nnac wrote it)", nnb_kind_name(s->kind), s->name[0] ? " '" : "",
		           s->name, s->name[0] ? "'" : "");
	}
	return ST_OK;
}

static Status read_meta(Nnb *b, Diag *d)
{
	const NnbSection *s = nnb_find(b, NNB_META, NULL);
	char at[128], *what;
	Status st;

	if (!s)
		return ST_OK;
	label(s, (int)(s - b->sec), at, sizeof(at));
	if (!(what = fmt_alloc("%s: %s", b->path, at)))
		return diag_add(d, ST_NOMEM, "%s: out of memory", b->path);
	st = meta_parse(what, s->data, s->size, &b->meta_text, &b->meta, &b->nmeta, d);
	nnac_free(what);
	return st;
}

/* Checks the loaded bytes; closes b and clears *out on failure. */
static Status nnb_check(Nnb *b, Nnb **out, Diag *d)
{
	Status st;

	if ((st = check_envelope(b, d)) != ST_OK || (st = check_header(b, d)) != ST_OK ||
	    (st = read_table(b, d)) != ST_OK || (st = check_digests(b, d)) != ST_OK ||
	    (st = read_meta(b, d)) != ST_OK) {
		nnb_close(b);
		*out = NULL;
		return st;
	}
	*out = b;
	return ST_OK;
}

Status nnb_open_mem(const char *name, const uint8_t *data, size_t size, Nnb **out, Diag *d)
{
	Nnb *b;
	Status st;

	if ((st = nnb_new(name, size, &b, d)) != ST_OK)
		return st;
	if (size)
		memcpy(b->raw + (b->data - b->raw), data, size);
	return nnb_check(b, out, d);
}

Status nnb_open(const char *path, Nnb **out, Diag *d)
{
	FILE *f = fopen(path, "rb");
	struct stat sb = {0};
	Nnb *b;
	Status st;

	*out = NULL;
	if (!f)
		return diag_add(d, ST_IO, "%s: cannot read: %s", path, strerror(errno));
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
		st = diag_add(d, ST_IO, "%s: cannot read: %s", path,
		              S_ISDIR(sb.st_mode) ? "it is a directory" : "not a regular file");
		fclose(f);
		return st;
	}
	if ((st = nnb_new(path, (uint64_t)sb.st_size, &b, d)) != ST_OK) {
		fclose(f);
		return st;
	}
	if (fread(b->raw + (b->data - b->raw), 1, (size_t)b->size, f) != b->size) {
		st = diag_add(d, ST_IO, "%s: cannot read: %s", path,
		              ferror(f) ? strerror(errno) : "the file shrank while being read");
		fclose(f);
		nnb_close(b);
		return st;
	}
	fclose(f);
	return nnb_check(b, out, d);
}

/* ==== the TENSORS table ====
 *
 * Payload: u32 count, u32 reserved (0), then count records, each a multiple
 * of 8 bytes:
 *
 *   0      4         4+n     A = 4+n rounded up to 8
 *   +------+---------+-------+
 *   | n    | name    | 0 pad |
 *   +------+---------+-------+
 *   A+0    A+4    A+8      A+12   A+16   A+20   A+24     A+32   A+40
 *   +------+------+--------+------+------+------+--------+------+-----------+
 *   | dtype| role | layout | rank | scale| zero | offset | size | dims[rank]|
 *   +------+------+--------+------+------+------+--------+------+-----------+
 */
enum {
	T_DTYPE = 0, T_ROLE = 4, T_LAYOUT = 8, T_RANK = 12, T_SCALE = 16, T_ZERO = 20,
	T_OFFSET = 24, T_SIZE = 32, T_DIMS = 40,
	T_MIN_RECORD = 8 + T_DIMS,      /* a one-byte name, rank 0 */
};

static uint64_t align8(uint64_t x) { return (x + 7) / 8 * 8; }

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static float bits_f32(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static uint64_t record_size(const NnbTensor *t)
{
	return align8(4 + strlen(t->name)) + T_DIMS + 8 * (uint64_t)t->rank;
}

static void put_record(uint8_t *p, const NnbTensor *t)
{
	size_t n = strlen(t->name);
	uint8_t *q = p + align8(4 + n);

	put_u32(p, (uint32_t)n);
	memcpy(p + 4, t->name, n);
	put_u32(q + T_DTYPE, (uint32_t)dtype_to_onnx(t->dtype));
	put_u32(q + T_ROLE, (uint32_t)t->role);
	put_u32(q + T_LAYOUT, t->layout);
	put_u32(q + T_RANK, (uint32_t)t->rank);
	put_u32(q + T_SCALE, f32_bits(t->scale));
	put_u32(q + T_ZERO, (uint32_t)t->zero_point);
	put_u64(q + T_OFFSET, t->offset);
	put_u64(q + T_SIZE, t->size);
	for (int k = 0; k < t->rank; k++)
		put_u64(q + T_DIMS + 8 * k, (uint64_t)t->dims[k]);
}

/* What encoding needs to be possible; the rest is the decoder's to check. */
static Status encodable(const NnbTensor *t, int i, Diag *d)
{
	if (!t->name || strlen(t->name) > NNB_TENSOR_NAME_MAX)
		return diag_add(d, ST_INVALID, "tensor table: tensor %d: %s", i,
		                t->name ? "name is too long" : "no name");
	if (t->rank < 0 || t->rank > NNB_MAX_RANK)
		return diag_add(d, ST_INVALID, "tensor table: tensor %d ('%s'): rank %d is not in "
		                "0..%d", i, t->name, t->rank, NNB_MAX_RANK);
	if ((int)t->dtype <= DT_UNDEF || (int)t->dtype >= DT_COUNT)
		return diag_add(d, ST_INVALID, "tensor table: tensor %d ('%s'): no dtype", i, t->name);
	return ST_OK;
}

Status nnb_tensors_encode(const NnbTensor *t, int n, uint8_t **out, uint64_t *size, Diag *d)
{
	uint64_t total = 8, pos = 8;
	NnbTensor *check;
	int nc;
	Status st;

	*out = NULL;
	*size = 0;
	if (n < 0 || (uint64_t)n > UINT32_MAX)
		return diag_add(d, ST_INVALID, "tensor table: %d tensors", n);
	for (int i = 0; i < n; i++) {
		if ((st = encodable(&t[i], i, d)) != ST_OK)
			return st;
		total += record_size(&t[i]);
	}
	if (total > SIZE_MAX || !(*out = nnac_malloc((size_t)total)))
		return diag_add(d, ST_NOMEM, "tensor table: out of memory");
	memset(*out, 0, (size_t)total);
	put_u32(*out, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		put_record(*out + pos, &t[i]);
		pos += record_size(&t[i]);
	}
	if ((st = nnb_tensors_decode("tensor table", *out, total, &check, &nc, d)) != ST_OK) {
		nnac_free(*out);
		*out = NULL;
		return st;
	}
	nnac_free(check);
	*size = total;
	return ST_OK;
}

/* Reading a payload front to back. */
typedef struct Cursor {
	const char *what;
	const uint8_t *p;
	uint64_t n, pos;
	int i;                   /* the record being read */
	Diag *d;
} Cursor;

static Status need(Cursor *c, uint64_t k, const char *field)
{
	if (k <= c->n - c->pos)
		return ST_OK;
	return diag_add(c->d, ST_INVALID, "%s: tensor %d: truncated: %s needs %llu bytes at byte "
	                "%llu, %llu remain", c->what, c->i, field, (unsigned long long)k,
	                (unsigned long long)c->pos, (unsigned long long)(c->n - c->pos));
}

/* The name of record c->i into t->name (copied to *names, NUL-terminated). */
static Status read_tensor_name(Cursor *c, NnbTensor *t, char **names)
{
	uint32_t len;
	uint64_t at, pad;
	Status st;

	if ((st = need(c, 4, "the name length")) != ST_OK)
		return st;
	len = get_u32(c->p + c->pos);
	if (len == 0 || len > NNB_TENSOR_NAME_MAX)
		return diag_add(c->d, ST_INVALID, "%s: tensor %d: name length %u is not in 1..%d",
		                c->what, c->i, len, NNB_TENSOR_NAME_MAX);
	pad = align8(4 + (uint64_t)len) - 4 - len;
	if ((st = need(c, 4 + (uint64_t)len + pad, "the name")) != ST_OK)
		return st;
	if (!utf8_valid(c->p + c->pos + 4, len, &at))
		return diag_add(c->d, ST_INVALID, "%s: tensor %d: name is not NUL-free UTF-8 (byte %llu)",
		                c->what, c->i, (unsigned long long)at);
	if (!all_zero(c->p + c->pos + 4 + len, pad))
		return diag_add(c->d, ST_INVALID, "%s: tensor %d: nonzero padding after the name",
		                c->what, c->i);
	memcpy(*names, c->p + c->pos + 4, len);
	(*names)[len] = 0;
	t->name = *names;
	*names += len + 1;
	c->pos += 4 + len + pad;
	return ST_OK;
}

/* numel * dtype size, or false when it overflows uint64_t. */
static bool dense_bytes(const NnbTensor *t, uint64_t *bytes)
{
	uint64_t b = (uint64_t)dtype_size(t->dtype);

	for (int k = 0; k < t->rank; k++) {
		if (t->dims[k] != 0 && b > UINT64_MAX / (uint64_t)t->dims[k])
			return false;
		b *= (uint64_t)t->dims[k];
	}
	*bytes = b;
	return true;
}

/* The checks of one record's fields after they are read. */
static Status check_tensor(const Cursor *c, const NnbTensor *t, uint32_t code)
{
	uint64_t bytes;

	if (t->dtype == DT_UNDEF)
		return diag_add(c->d, ST_INVALID, "%s: tensor %d ('%s'): unknown dtype code %u",
		                c->what, c->i, t->name, code);
	if (signbit(t->scale) || !isfinite(t->scale))
		return diag_add(c->d, ST_INVALID, "%s: tensor %d ('%s'): quantization scale %g is "
		                "not a finite number >= +0", c->what, c->i, t->name, (double)t->scale);
	if (t->scale == 0 && t->zero_point != 0)
		return diag_add(c->d, ST_INVALID, "%s: tensor %d ('%s'): zero point %d without a "
		                "scale", c->what, c->i, t->name, (int)t->zero_point);
	for (int k = 0; k < t->rank; k++)
		if (t->dims[k] < 0)
			return diag_add(c->d, ST_INVALID, "%s: tensor %d ('%s'): dimension %d is %lld",
			                c->what, c->i, t->name, k, (long long)t->dims[k]);
	if (t->size > UINT64_MAX - t->offset)
		return diag_add(c->d, ST_INVALID, "%s: tensor %d ('%s'): offset %llu + size %llu "
		                "overflows", c->what, c->i, t->name, (unsigned long long)t->offset,
		                (unsigned long long)t->size);
	if (t->layout == 0 && (!dense_bytes(t, &bytes) || bytes != t->size))
		return diag_add(c->d, ST_INVALID, "%s: tensor %d ('%s'): size %llu is not the %s "
		                "dense size of its shape", c->what, c->i, t->name,
		                (unsigned long long)t->size, dtype_name(t->dtype));
	return ST_OK;
}

static Status read_tensor(Cursor *c, NnbTensor *t, char **names)
{
	const uint8_t *q;
	uint32_t code, role, rank;
	Status st;

	memset(t, 0, sizeof(*t));
	if ((st = read_tensor_name(c, t, names)) != ST_OK ||
	    (st = need(c, T_DIMS, "the fixed fields")) != ST_OK)
		return st;
	q = c->p + c->pos;
	code = get_u32(q + T_DTYPE);
	role = get_u32(q + T_ROLE);
	rank = get_u32(q + T_RANK);
	if (role < NNB_ROLE_INPUT || role > NNB_ROLE_INTERMEDIATE)
		return diag_add(c->d, ST_INVALID, "%s: tensor %d ('%s'): unknown role %u", c->what,
		                c->i, t->name, role);
	if (rank > NNB_MAX_RANK)
		return diag_add(c->d, ST_INVALID, "%s: tensor %d ('%s'): rank %u is more than %d",
		                c->what, c->i, t->name, rank, NNB_MAX_RANK);
	t->dtype = code > INT32_MAX ? DT_UNDEF : dtype_from_onnx((int)code);
	t->role = (NnbRole)role;
	t->layout = get_u32(q + T_LAYOUT);
	t->rank = (int)rank;
	t->scale = bits_f32(get_u32(q + T_SCALE));
	t->zero_point = (int32_t)get_u32(q + T_ZERO);
	t->offset = get_u64(q + T_OFFSET);
	t->size = get_u64(q + T_SIZE);
	c->pos += T_DIMS;
	if ((st = need(c, 8 * (uint64_t)rank, "the dimensions")) != ST_OK)
		return st;
	for (uint32_t k = 0; k < rank; k++)
		t->dims[k] = (int64_t)get_u64(c->p + c->pos + 8 * k);
	c->pos += 8 * (uint64_t)rank;
	return check_tensor(c, t, code);
}

static int name_cmp(const void *a, const void *b)
{
	const NnbTensor *x = *(const NnbTensor *const *)a, *y = *(const NnbTensor *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x > y) - (x < y);
}

static Status unique_names(const char *what, const NnbTensor *t, int n, Diag *d)
{
	const NnbTensor **by = nnac_malloc((size_t)n * sizeof(*by) + 1);
	Status st = ST_OK;

	if (!by)
		return diag_add(d, ST_NOMEM, "%s: out of memory", what);
	for (int i = 0; i < n; i++)
		by[i] = &t[i];
	qsort(by, (size_t)n, sizeof(*by), name_cmp);
	for (int i = 1; i < n && st == ST_OK; i++)
		if (strcmp(by[i - 1]->name, by[i]->name) == 0)
			st = diag_add(d, ST_INVALID, "%s: tensors %d and %d are both named '%s'", what,
			              (int)(by[i - 1] - t), (int)(by[i] - t), by[i]->name);
	nnac_free(by);
	return st;
}

static Status decode_records(Cursor *c, NnbTensor *t, int n, char *names)
{
	Status st;

	for (c->i = 0; c->i < n; c->i++)
		if ((st = read_tensor(c, &t[c->i], &names)) != ST_OK)
			return st;
	if (c->pos != c->n)
		return diag_add(c->d, ST_INVALID, "%s: %llu bytes after the last tensor", c->what,
		                (unsigned long long)(c->n - c->pos));
	return unique_names(c->what, t, n, c->d);
}

Status nnb_tensors_decode(const char *what, const uint8_t *data, uint64_t size, NnbTensor **out,
                          int *n, Diag *d)
{
	Cursor c = {what, data, size, 8, 0, d};
	uint32_t count;
	NnbTensor *t;
	Status st;

	*out = NULL;
	*n = 0;
	if (size < 8)
		return diag_add(d, ST_INVALID, "%s: truncated: %llu bytes, the table header has 8",
		                what, (unsigned long long)size);
	count = get_u32(data);
	if (get_u32(data + 4) != 0)
		return diag_add(d, ST_INVALID, "%s: reserved bytes 4..7 are not zero", what);
	if (count > (size - 8) / T_MIN_RECORD || count > INT32_MAX)
		return diag_add(d, ST_INVALID, "%s: %u tensors cannot fit in %llu bytes", what, count,
		                (unsigned long long)size);
	if (size > SIZE_MAX - count * sizeof(NnbTensor) - 1 ||
	    !(t = nnac_malloc(count * sizeof(NnbTensor) + (size_t)size + 1)))
		return diag_add(d, ST_NOMEM, "%s: out of memory", what);
	if ((st = decode_records(&c, t, (int)count, (char *)(t + count))) != ST_OK) {
		nnac_free(t);
		return st;
	}
	*out = t;
	*n = (int)count;
	return ST_OK;
}

/* Every weight lies inside the WEIGHTS section w (NULL: none). */
static Status check_weights(const char *what, const NnbTensor *t, int n, const NnbSection *w,
                            Diag *d)
{
	for (int i = 0; i < n; i++) {
		if (t[i].role != NNB_ROLE_WEIGHT)
			continue;
		if (!w)
			return diag_add(d, ST_INVALID, "%s: tensor %d ('%s') is a weight but there is no "
			                "'weights' section of the same name", what, i, t[i].name);
		if (t[i].offset > w->size || t[i].size > w->size - t[i].offset)
			return diag_add(d, ST_INVALID, "%s: tensor %d ('%s'): bytes %llu..%llu lie past "
			                "the end of the 'weights' section (%llu bytes)", what, i,
			                t[i].name, (unsigned long long)t[i].offset,
			                (unsigned long long)(t[i].offset + t[i].size),
			                (unsigned long long)w->size);
	}
	return ST_OK;
}

Status nnb_tensors_load(const Nnb *b, const char *name, NnbTensor **out, int *n, Diag *d)
{
	const NnbSection *s = nnb_find(b, NNB_TENSORS, name);
	char at[128], *what;
	Status st;

	*out = NULL;
	*n = 0;
	if (!s)
		return name ? diag_add(d, ST_INVALID, "%s: no 'tensors' section named '%s'", b->path,
		                       name)
		            : diag_add(d, ST_INVALID, "%s: no 'tensors' section", b->path);
	label(s, (int)(s - b->sec), at, sizeof(at));
	if (!(what = fmt_alloc("%s: %s", b->path, at)))
		return diag_add(d, ST_NOMEM, "%s: out of memory", b->path);
	st = nnb_tensors_decode(what, s->data, s->size, out, n, d);
	if (st == ST_OK &&
	    (st = check_weights(what, *out, *n, nnb_find(b, NNB_WEIGHTS, s->name), d)) != ST_OK) {
		nnac_free(*out);
		*out = NULL;
		*n = 0;
	}
	nnac_free(what);
	return st;
}

/* ---- building payloads ---- */

void nnb_put(NnbBuf *b, const void *p, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (n > b->cap - b->n) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->n < n)
			cap *= 2;
		uint8_t *nb = nnac_realloc(b->b, cap);
		if (!nb) {
			b->oom = true;
			return;
		}
		b->b = nb;
		b->cap = cap;
	}
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

void nnb_put_le(NnbBuf *b, uint64_t v, int bytes)
{
	uint8_t x[8];

	for (int i = 0; i < bytes; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	nnb_put(b, x, (size_t)bytes);
}

void nnb_put_f64(NnbBuf *b, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	nnb_put_le(b, u, 8);
}

void nnb_put_str(NnbBuf *b, const char *s)
{
	nnb_put_le(b, strlen(s), 4);
	nnb_put(b, s, strlen(s));
}

void nnb_buf_free(NnbBuf *b)
{
	nnac_free(b->b);
	memset(b, 0, sizeof(*b));
}

/* ---- reading payloads ---- */

uint64_t nnb_get_le(NnbReader *r, int bytes)
{
	uint64_t v = 0;

	if (r->bad || r->n - r->at < (uint64_t)bytes) {
		r->bad = true;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)r->p[r->at + (uint64_t)i] << (8 * i);
	r->at += (uint64_t)bytes;
	return v;
}

double nnb_get_f64(NnbReader *r)
{
	uint64_t u = nnb_get_le(r, 8);
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

const char *nnb_get_str(NnbReader *r, uint32_t *len)
{
	uint32_t n = (uint32_t)nnb_get_le(r, 4);
	const char *s;

	*len = 0;
	if (r->bad || n > r->n - r->at || memchr(r->p + r->at, 0, n)) {
		r->bad = true;
		return NULL;
	}
	s = (const char *)r->p + r->at;
	r->at += n;
	*len = n;
	return s;
}

void nnb_tensor_dense(NnbTensor *t, const char *name, DType dt, int rank, const int64_t *dims, NnbRole role)
{
	uint64_t n = (uint64_t)dtype_size(dt);

	memset(t, 0, sizeof(*t));
	t->name = name;
	t->dtype = dt;
	t->role = role;
	t->rank = rank;
	for (int i = 0; i < rank; i++) {
		t->dims[i] = dims[i];
		n *= (uint64_t)dims[i];
	}
	t->size = n;
}
