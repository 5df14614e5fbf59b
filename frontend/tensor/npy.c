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
	if (!val_size_ok(v))
		return bad(d, path, "shape too large (more than 2^40 bytes)");
	return ST_OK;
}

static Status read_header(const char *path, FILE *f, Diag *d, char *h, size_t cap)
{
	unsigned char pre[12];
	size_t hlen;

	if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
		return bad(d, path, "missing the \\x93NUMPY magic");
	if (pre[6] == 1) {
		hlen = pre[8] | (size_t)pre[9] << 8;
	} else if (pre[6] == 2 || pre[6] == 3) {
		if (fread(pre + 10, 1, 2, f) != 2)
			return bad(d, path, "truncated header");
		hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
	} else {
		return bad(d, path, "unknown format version");
	}
	if (hlen >= cap)
		return bad(d, path, "header too long");
	if (fread(h, 1, hlen, f) != hlen)
		return bad(d, path, "truncated header");
	h[hlen] = '\0';
	return ST_OK;
}

Status npy_read(const char *path, Arena *a, Diag *d, Value *v)
{
	FILE *f = fopen(path, "rb");
	char h[4096];
	Status st;
	size_t got;
	int extra;

	memset(v, 0, sizeof(*v));
	if (!f)
		return diag_add(d, ST_IO, "%s: cannot open: %s", path, strerror(errno));
	st = read_header(path, f, d, h, sizeof(h));
	if (st == ST_OK)
		st = parse_header(path, h, d, v);
	if (st == ST_OK && !val_alloc(a, v))
		st = diag_add(d, ST_NOMEM, "%s: out of memory", path);
	if (st == ST_OK) {
		got = fread(v->data, 1, (size_t)val_bytes(v), f);
		extra = fgetc(f);
		if ((int64_t)got != val_bytes(v))
			st = bad(d, path, "data shorter than the shape says");
		else if (extra != EOF)
			st = bad(d, path, "data longer than the shape says");
	}
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
