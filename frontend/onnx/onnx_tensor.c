/*
 * TensorProto decoding: every storage field ONNX allows (raw_data, the typed
 * repeated fields, external data files) into a dense little-endian Value.
 * Sizes are checked against the declared shape before anything is copied.
 */
#define _XOPEN_SOURCE 700     /* realpath */
#include "onnx_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static Status bad(Diag *d, const char *where, const char *tname, const char *what)
{
	return diag_add(d, ST_INVALID, "%s: tensor '%s': %s", where, tname, what);
}

static Status set_shape(Diag *d, const char *where, const char *tname,
                        const Onnx__TensorProto *tp, Value *v)
{
	if (tp->n_dims > MAX_RANK)
		return diag_add(d, ST_UNSUPPORTED, "%s: tensor '%s': rank %zu exceeds nnac's limit of %d",
		                where, tname, tp->n_dims, MAX_RANK);
	v->rank = (int)tp->n_dims;
	for (size_t i = 0; i < tp->n_dims; i++) {
		if (tp->dims[i] < 0)
			return bad(d, where, tname, "has a negative dimension");
		v->dims[i] = tp->dims[i];
	}
	if (!val_size_ok(v))
		return bad(d, where, tname, "is larger than 2^40 bytes");
	return ST_OK;
}

/* Copies count elements from a typed repeated field, checking the count. */
static Status from_field(Diag *d, const char *where, const char *tname,
                         const Onnx__TensorProto *tp, Value *v)
{
	int64_t n = val_numel(v);
	size_t have = 0;

	switch (v->dt) {
	case DT_F32: have = tp->n_float_data; break;
	case DT_F64: have = tp->n_double_data; break;
	case DT_I64: have = tp->n_int64_data; break;
	case DT_U32: case DT_U64: have = tp->n_uint64_data; break;
	case DT_I32: case DT_I16: case DT_I8: case DT_U16: case DT_U8:
	case DT_BOOL: case DT_F16: case DT_BF16:
		have = tp->n_int32_data; break;
	case DT_UNDEF: case DT_COUNT: nnac_unreachable();
	}
	if ((int64_t)have != n)
		return diag_add(d, ST_INVALID, "%s: tensor '%s': holds %zu values, its shape needs %lld",
		                where, tname, have, (long long)n);
	for (int64_t i = 0; i < n; i++) {
		switch (v->dt) {
		case DT_F32: ((float *)v->data)[i] = tp->float_data[i]; break;
		case DT_F64: ((double *)v->data)[i] = tp->double_data[i]; break;
		case DT_I64: ((int64_t *)v->data)[i] = tp->int64_data[i]; break;
		case DT_U32: ((uint32_t *)v->data)[i] = (uint32_t)tp->uint64_data[i]; break;
		case DT_U64: ((uint64_t *)v->data)[i] = tp->uint64_data[i]; break;
		case DT_F16: case DT_BF16:
			((uint16_t *)v->data)[i] = (uint16_t)tp->int32_data[i]; break;
		case DT_I32: case DT_I16: case DT_I8: case DT_U16: case DT_U8: case DT_BOOL:
			val_set_i64(v, i, tp->int32_data[i]); break;
		case DT_UNDEF: case DT_COUNT: nnac_unreachable();
		}
	}
	return ST_OK;
}

static const char *ext_key(const Onnx__TensorProto *tp, const char *key)
{
	for (size_t i = 0; i < tp->n_external_data; i++)
		if (tp->external_data[i]->key && strcmp(tp->external_data[i]->key, key) == 0)
			return tp->external_data[i]->value;
	return NULL;
}

static bool parse_u64(const char *s, int64_t *out)
{
	char *end;
	long long x;

	if (!s)
		return true;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end || end == s || x < 0)
		return false;
	*out = x;
	return true;
}

/* Opens external data file loc, which must resolve (symlinks followed) to
 * a regular file inside the model's folder dir; *size its length.  Never
 * blocks: a FIFO or a device is refused, not opened for reading. */
static Status open_inside(Diag *d, const char *where, const char *tname, const char *dir, const char *loc,
                          int *fd, int64_t *size)
{
	char path[4096], *real_dir = realpath(dir, NULL), *real = NULL;
	struct stat sb;
	size_t n;
	Status st = ST_OK;

	*fd = -1;
	snprintf(path, sizeof(path), "%s/%s", dir, loc);
	if (real_dir)
		real = realpath(path, NULL);
	n = real_dir ? strlen(real_dir) : 0;
	if (!real_dir || !real)
		st = diag_add(d, ST_IO, "%s: tensor '%s': cannot open external data file '%s': %s", where, tname,
		              loc, strerror(errno));
	else if (strncmp(real, real_dir, n) != 0 || real[n] != '/')
		st = diag_add(d, ST_INVALID, "%s: tensor '%s': external data location '%s' resolves outside the "
		              "model's folder", where, tname, loc);
	else if ((*fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		st = diag_add(d, ST_IO, "%s: tensor '%s': cannot open external data file '%s': %s", where, tname,
		              loc, strerror(errno));
	else if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		st = diag_add(d, ST_INVALID, "%s: tensor '%s': external data location '%s' is not a regular file",
		              where, tname, loc);
	else
		*size = (int64_t)sb.st_size;
	if (st != ST_OK && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	free(real);
	free(real_dir);
	return st;
}

/* Reads n bytes at offset off of fd into buf; false when short. */
static bool read_at(int fd, void *buf, int64_t n, int64_t off)
{
	char *p = buf;

	while (n > 0) {
		ssize_t got = pread(fd, p, (size_t)n, (off_t)off);
		if (got <= 0) {
			if (got < 0 && errno == EINTR)
				continue;
			return false;
		}
		p += got, n -= got, off += got;
	}
	return true;
}

/* External data: a regular file inside the model's folder (after symlinks),
 * the range checked against its size before a byte is read. */
static Status from_external(Diag *d, const char *where, const char *dir, const char *tname,
                            const Onnx__TensorProto *tp, Value *v)
{
	const char *loc = ext_key(tp, "location");
	int64_t offset = 0, length = -1, need = val_bytes(v), size = 0;
	int fd;
	Status st;

	if (!loc || !*loc)
		return bad(d, where, tname, "external data without a 'location'");
	if (loc[0] == '/' || strstr(loc, "..") || strchr(loc, '\\'))
		return diag_add(d, ST_INVALID, "%s: tensor '%s': external data location '%s' must be a relative path inside the model's folder",
		                where, tname, loc);
	if (!parse_u64(ext_key(tp, "offset"), &offset) || !parse_u64(ext_key(tp, "length"), &length))
		return bad(d, where, tname, "external data 'offset' or 'length' is not a non-negative integer");
	if (length >= 0 && length != need)
		return diag_add(d, ST_INVALID, "%s: tensor '%s': external data length %lld, its shape needs %lld bytes",
		                where, tname, (long long)length, (long long)need);
	if ((st = open_inside(d, where, tname, dir, loc, &fd, &size)))
		return st;
	if (offset > size || need > size - offset)
		st = diag_add(d, ST_INVALID, "%s: tensor '%s': external data file '%s' is too short (need %lld bytes at offset %lld, it has %lld)",
		              where, tname, loc, (long long)need, (long long)offset, (long long)size);
	else if (!read_at(fd, v->data, need, offset))
		st = diag_add(d, ST_IO, "%s: tensor '%s': cannot read external data file '%s': %s", where, tname, loc,
		              strerror(errno));
	close(fd);
	return st;
}

Status onnx_decode_tensor(const Onnx__TensorProto *tp, const char *where, const char *dir,
                          Arena *a, Diag *d, Value *v)
{
	const char *tname = tp->name && *tp->name ? tp->name : "(unnamed)";
	Status st;

	memset(v, 0, sizeof(*v));
	if (!tp->has_data_type || tp->data_type == 0)
		return bad(d, where, tname, "has no data_type");
	v->dt = dtype_from_onnx(tp->data_type);
	if (v->dt == DT_UNDEF)
		return diag_add(d, ST_UNSUPPORTED, "%s: tensor '%s': element type %d (%s) is not supported",
		                where, tname, tp->data_type, onnx_dtype_name(tp->data_type));
	st = set_shape(d, where, tname, tp, v);
	if (st != ST_OK)
		return st;
	/* the data's length before memory of the shape's size exists */
	if (tp->has_raw_data && (int64_t)tp->raw_data.len != val_bytes(v))
		return diag_add(d, ST_INVALID, "%s: tensor '%s': raw_data has %zu bytes, its shape needs %lld",
		                where, tname, tp->raw_data.len, (long long)val_bytes(v));
	if (!val_alloc(a, v))
		return diag_add(d, ST_NOMEM, "%s: out of memory", where);
	if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
		return from_external(d, where, dir, tname, tp, v);
	if (tp->has_raw_data) {
		if (tp->raw_data.len)
			memcpy(v->data, tp->raw_data.data, tp->raw_data.len);
		return ST_OK;
	}
	return from_field(d, where, tname, tp, v);
}

const char *onnx_dtype_name(int code)
{
	static const char *const names[] = {
		"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
		"STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
		"COMPLEX128", "BFLOAT16",
	};
	return code >= 0 && code < (int)ARRAY_LEN(names) ? names[code] : "unknown";
}

Status onnx_read_file(const char *path, Diag *d, uint8_t **buf, size_t *len)
{
	struct stat sb;
	FILE *f;
	long size;

	*buf = NULL;
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
		return diag_add(d, ST_IO, "%s: cannot read: %s", path,
		                S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file");
	f = fopen(path, "rb");
	if (!f)
		return diag_add(d, ST_IO, "%s: cannot open: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return diag_add(d, ST_IO, "%s: cannot read (not a regular file?)", path);
	}
	*buf = nnac_malloc((size_t)size + 1);
	if (!*buf) {
		fclose(f);
		return diag_add(d, ST_NOMEM, "%s: out of memory reading %ld bytes", path, size);
	}
	*len = fread(*buf, 1, (size_t)size, f);
	fclose(f);
	if (*len != (size_t)size) {
		nnac_free(*buf);
		*buf = NULL;
		return diag_add(d, ST_IO, "%s: read error", path);
	}
	return ST_OK;
}

const char *onnx_dir_of(Arena *a, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return ".";
	if (slash == path)
		return "/";
	return arena_strndup(a, path, (size_t)(slash - path));
}

Status onnx_read_tensor_file(const char *path, Arena *a, Diag *d, Value *v, const char **name)
{
	uint8_t *buf;
	size_t len;
	Onnx__TensorProto *tp;
	const char *dir;
	Status st = onnx_read_file(path, d, &buf, &len);

	if (st != ST_OK)
		return st;
	tp = onnx__tensor_proto__unpack(NULL, len, buf);
	nnac_free(buf);
	if (!tp)
		return diag_add(d, ST_INVALID, "%s: not a valid ONNX TensorProto file (protobuf decoding failed)", path);
	dir = onnx_dir_of(a, path);
	if (!dir)
		st = diag_add(d, ST_NOMEM, "%s: out of memory", path);
	else
		st = onnx_decode_tensor(tp, path, dir, a, d, v);
	if (st == ST_OK && name && !(*name = arena_strdup(a, tp->name ? tp->name : "")))
		st = diag_add(d, ST_NOMEM, "%s: out of memory", path);
	onnx__tensor_proto__free_unpacked(tp, NULL);
	return st;
}
