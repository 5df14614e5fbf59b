/*
 * .npy reading and writing.  The header is a Python dict literal; we accept
 * exactly the three keys NumPy writes ('descr', 'fortran_order', 'shape')
 * and reject anything we cannot represent (big-endian, Fortran order,
 * object arrays) with a message naming the file.
 */
#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
	const char *descr;
	DType dt;
} descrs[] = {
	{"<f4", DT_F32}, {"<f8", DT_F64}, {"<f2", DT_F16}, {"|u1", DT_U8}, {"|i1", DT_I8},
	{"<u2", DT_U16}, {"<i2", DT_I16}, {"<i4", DT_I32}, {"<i8", DT_I64}, {"<u4", DT_U32},
	{"<u8", DT_U64}, {"|b1", DT_BOOL},
};

static Status bad(Diag *d, const char *path, const char *why)
{
	return diag_add(d, ST_INVALID, "%s: not a valid .npy file: %s", path, why);
}

/* Finds 'key': in the header dict and returns the text after the colon. */
static const char *header_value(const char *h, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "'%s':", key);
	p = strstr(h, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	return p;
}

static Status parse_header(const char *path, const char *h, Diag *d, Value *v)
{
	const char *descr = header_value(h, "descr");
	const char *fo = header_value(h, "fortran_order");
	const char *shape = header_value(h, "shape");
	size_t i;

	if (!descr || !fo || !shape || *shape != '(' || *descr != '\'')
		return bad(d, path, "header lacks 'descr', 'fortran_order' or 'shape'");
	for (i = 0; i < ARRAY_LEN(descrs); i++)
		if (strncmp(descr + 1, descrs[i].descr, 3) == 0 && descr[4] == '\'')
			break;
	if (i == ARRAY_LEN(descrs))
		return diag_add(d, ST_UNSUPPORTED, "%s: .npy element type %.8s is not supported", path, descr);
	if (strncmp(fo, "False", 5) != 0)
		return diag_add(d, ST_UNSUPPORTED, "%s: Fortran-order .npy arrays are not supported", path);
	v->dt = descrs[i].dt;
	v->rank = 0;
	for (const char *p = shape + 1; *p != ')';) {
		char *end;
		long long x;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == ')')
			break;
		errno = 0;
		x = strtoll(p, &end, 10);
		if (end == p || x < 0 || errno || v->rank == MAX_RANK)
			return bad(d, path, "malformed shape");
		v->dims[v->rank++] = x;
		p = end;
	}
	if (!val_size_ok(v)) {
		char type[160], budget[BUDGET_STR];
		return diag_add(d, ST_INVALID, "%s: a .npy array of type %s is larger than %s", path,
		                val_type_str(v, type, sizeof(type)), budget_memory_str(budget));
	}
	return ST_OK;
}

enum { NPY_PREFIX_MAX = 12, NPY_HEADER_MAX = 4096 };

/*
 * Reads the magic, version, header length and header dict from the first
 * n bytes of a file (at most NPY_PREFIX_MAX + NPY_HEADER_MAX matter) into
 * v's type; *data_off receives where the data starts.
 */
static Status parse_prefix(const char *path, const uint8_t *p, size_t n, Diag *d, Value *v,
                           size_t *data_off)
{
	char h[NPY_HEADER_MAX];
	size_t hlen, pre;

	if (n < 10 || memcmp(p, "\x93NUMPY", 6) != 0)
		return bad(d, path, "missing the \\x93NUMPY magic");
	if (p[6] == 1) {
		pre = 10;
		hlen = p[8] | (size_t)p[9] << 8;
	} else if (p[6] == 2 || p[6] == 3) {
		if (n < 12)
			return bad(d, path, "truncated header");
		pre = 12;
		hlen = p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
	} else {
		return bad(d, path, "unknown format version");
	}
	if (hlen >= sizeof(h))
		return bad(d, path, "header too long");
	if (n - pre < hlen)
		return bad(d, path, "truncated header");
	memcpy(h, p + pre, hlen);
	h[hlen] = '\0';
	*data_off = pre + hlen;
	return parse_header(path, h, d, v);
}

/* The data must be exactly what the shape says: checked before any buffer
 * of that size exists. */
static Status check_length(const char *path, const Value *v, uint64_t have, Diag *d)
{
	if (have < (uint64_t)val_bytes(v))
		return bad(d, path, "data shorter than the shape says");
	if (have > (uint64_t)val_bytes(v))
		return bad(d, path, "data longer than the shape says");
	return ST_OK;
}

Status npy_read_mem(const char *path, const uint8_t *buf, size_t len, Arena *a, Diag *d, Value *v)
{
	size_t off;
	Status st;

	memset(v, 0, sizeof(*v));
	st = parse_prefix(path, buf, len, d, v, &off);
	if (st == ST_OK)
		st = check_length(path, v, len - off, d);
	if (st == ST_OK && !val_alloc(a, v))
		st = diag_add(d, ST_NOMEM, "%s: out of memory", path);
	if (st == ST_OK)
		memcpy(v->data, buf + off, (size_t)val_bytes(v));
	return st;
}

Status npy_read(const char *path, Arena *a, Diag *d, Value *v)
{
	uint8_t pre[NPY_PREFIX_MAX + NPY_HEADER_MAX];
	struct stat sb;
	size_t n, off;
	Status st;
	FILE *f;

	memset(v, 0, sizeof(*v));
	f = fopen(path, "rb");
	if (!f)
		return diag_add(d, ST_IO, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
		fclose(f);
		return diag_add(d, ST_IO, "%s: not a regular file", path);
	}
	n = fread(pre, 1, sizeof(pre), f);
	st = parse_prefix(path, pre, n, d, v, &off);
	if (st == ST_OK)
		st = check_length(path, v, (uint64_t)sb.st_size > off ? (uint64_t)sb.st_size - off : 0, d);
	if (st == ST_OK && !val_alloc(a, v))
		st = diag_add(d, ST_NOMEM, "%s: out of memory", path);
	if (st == ST_OK && (fseek(f, (long)off, SEEK_SET) != 0 ||
	                    fread(v->data, 1, (size_t)val_bytes(v), f) != (size_t)val_bytes(v)))
		st = bad(d, path, "data shorter than the shape says");
	fclose(f);
	return st;
}

static const char *descr_of(DType dt)
{
	for (size_t i = 0; i < ARRAY_LEN(descrs); i++)
		if (descrs[i].dt == dt)
			return descrs[i].descr;
	return NULL;
}

static int format_header(const Value *v, const char *descr, char *h, size_t cap)
{
	int n = snprintf(h, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);

	for (int i = 0; i < v->rank; i++)
		n += snprintf(h + n, cap - (size_t)n, "%lld,%s", (long long)v->dims[i],
		              i + 1 < v->rank ? " " : "");
	if (v->rank > 1)
		n--;   /* NumPy writes (1, 10) but (10,) */
	n += snprintf(h + n, cap - (size_t)n, "), }");
	/* pad with spaces so that magic + length + header + \n is a multiple of 64 */
	while ((10 + n + 1) % 64)
		h[n++] = ' ';
	h[n++] = '\n';
	return n;
}

Status npy_write(const char *path, const Value *v, Diag *d)
{
	const char *descr = descr_of(v->dt);
	char h[1024], tmp[4096];
	unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
	FILE *f;
	int n;
	bool ok;

	if (!descr)
		return diag_add(d, ST_UNSUPPORTED, "%s: element type %s cannot be written as .npy",
		                path, dtype_name(v->dt));
	n = format_header(v, descr, h, sizeof(h));
	pre[8] = (unsigned char)(n & 0xff);
	pre[9] = (unsigned char)(n >> 8);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f)
		return diag_add(d, ST_IO, "%s: cannot create: %s", tmp, strerror(errno));
	ok = fwrite(pre, 1, 10, f) == 10 && fwrite(h, 1, (size_t)n, f) == (size_t)n &&
	     fwrite(v->data, 1, (size_t)val_bytes(v), f) == (size_t)val_bytes(v);
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		remove(tmp);
		return diag_add(d, ST_IO, "%s: write failed: %s", path, strerror(errno));
	}
	return ST_OK;
}
