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
	if (!val_size_ok(v)) {
		char type[160], budget[BUDGET_STR];
		return diag_add(d, ST_INVALID, "%s: tensor '%s' of type %s is larger than %s", where, tname,
		                val_type_str(v, type, sizeof(type)), budget_memory_str(budget));
	}
	return ST_OK;
}

/* Bytes of v's data in a file: packed for the 4- and 2-bit types. */
static int64_t stored_bytes(const Value *v)
{
	return (val_numel(v) * dtype_bits(v->dt) + 7) / 8;
}

/* Elements one int32_data entry holds: two 4-bit, four 2-bit ones. */
static int per_int32(DType dt)
{
	return dtype_bits(dt) < 8 ? 8 / dtype_bits(dt) : 1;
}

/* Element i of packed data (first element in the low bits) into v,
 * sign-extended for the signed types; a float type's code as it is. */
static void unpack_one(Value *v, int64_t i, unsigned byte)
{
	int bits = dtype_bits(v->dt);
	unsigned raw = (byte >> (i * bits % 8)) & ((1u << bits) - 1);

	if (dtype_is_signed(v->dt) && raw >= 1u << (bits - 1))
		((int8_t *)v->data)[i] = (int8_t)((int)raw - (1 << bits));
	else
		((uint8_t *)v->data)[i] = (uint8_t)raw;
}

/* Packed bytes into one byte per element. */
static void unpack(Value *v, const uint8_t *src)
{
	int bits = dtype_bits(v->dt);

	for (int64_t i = 0, n = val_numel(v); i < n; i++)
		unpack_one(v, i, src[i * bits / 8]);
}

/* How many values the typed repeated field of v's element type holds. */
static size_t field_count(const Onnx__TensorProto *tp, DType dt)
{
	switch (dt) {
	case DT_F32: return tp->n_float_data;
	case DT_F64: return tp->n_double_data;
	case DT_I64: return tp->n_int64_data;
	case DT_U32: case DT_U64: return tp->n_uint64_data;
	case DT_I32: case DT_I16: case DT_I8: case DT_U16: case DT_U8:
	case DT_BOOL: case DT_F16: case DT_BF16:
	case DT_F8E4M3FN: case DT_F8E4M3FNUZ: case DT_F8E5M2: case DT_F8E5M2FNUZ: case DT_F8E8M0:
	case DT_U4: case DT_I4: case DT_F4E2M1: case DT_U2: case DT_I2:
		return tp->n_int32_data;
	case DT_UNDEF: case DT_COUNT: break;
	}
	nnac_unreachable();
}

/* The int32_data of a low-bit type: the codes, per_int32 to an entry. */
static void from_low_bits(const Onnx__TensorProto *tp, Value *v)
{
	int k = per_int32(v->dt);

	for (int64_t i = 0, n = val_numel(v); i < n; i++) {
		unsigned byte = (unsigned)tp->int32_data[i / k] & 0xff;

		if (dtype_bits(v->dt) < 8)
			unpack_one(v, i, byte);    /* k elements fill the entry's low byte */
		else
			((uint8_t *)v->data)[i] = (uint8_t)byte;
	}
}

/* Copies the typed repeated field, whose count was checked, into v. */
static void from_field(const Onnx__TensorProto *tp, Value *v)
{
	int64_t n = val_numel(v);

	if (!dtype_in_loops(v->dt)) {
		from_low_bits(tp, v);
		return;
	}
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
		default: nnac_unreachable();
		}
	}
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
 * the range checked against its size before memory for it exists or a
 * byte is read.  *fd: open on the file, for read_at at *offset. */
static Status open_external(Diag *d, const char *where, const char *dir, const char *tname,
                            const Onnx__TensorProto *tp, const Value *v, int *fd, int64_t *offset)
{
	const char *loc = ext_key(tp, "location");
	int64_t length = -1, need = stored_bytes(v), size = 0;
	Status st;

	*fd = -1;
	*offset = 0;
	if (!loc || !*loc)
		return bad(d, where, tname, "external data without a 'location'");
	if (loc[0] == '/' || strstr(loc, "..") || strchr(loc, '\\'))
		return diag_add(d, ST_INVALID, "%s: tensor '%s': external data location '%s' must be a relative path inside the model's folder",
		                where, tname, loc);
	if (!parse_u64(ext_key(tp, "offset"), offset) || !parse_u64(ext_key(tp, "length"), &length))
		return bad(d, where, tname, "external data 'offset' or 'length' is not a non-negative integer");
	if (length >= 0 && length != need)
		return diag_add(d, ST_INVALID, "%s: tensor '%s': external data length %lld, its shape needs %lld bytes",
		                where, tname, (long long)length, (long long)need);
	if ((st = open_inside(d, where, tname, dir, loc, fd, &size)))
		return st;
	if (*offset > size || need > size - *offset) {
		close(*fd);
		*fd = -1;
		return diag_add(d, ST_INVALID, "%s: tensor '%s': external data file '%s' is too short (need %lld bytes at offset %lld, it has %lld)",
		                where, tname, loc, (long long)need, (long long)*offset, (long long)size);
	}
	return ST_OK;
}

static Status from_external(Diag *d, const char *where, const char *tname, const Onnx__TensorProto *tp,
                            Arena *a, Value *v, int fd, int64_t offset)
{
	bool packed = dtype_bits(v->dt) < 8;
	uint8_t *buf = packed ? arena_alloc(a, (size_t)stored_bytes(v)) : v->data;

	if (!buf)
		return diag_add(d, ST_NOMEM, "%s: out of memory", where);
	if (read_at(fd, buf, stored_bytes(v), offset)) {
		if (packed)
			unpack(v, buf);
		return ST_OK;
	}
	return diag_add(d, ST_IO, "%s: tensor '%s': cannot read external data file '%s': %s", where, tname,
	                ext_key(tp, "location"), strerror(errno));
}

/* The data's length against the shape, before memory of the shape's size
 * exists; external data is opened and its range checked (*fd). */
static Status check_data(Diag *d, const char *where, const char *dir, const char *tname,
                         const Onnx__TensorProto *tp, const Value *v, int *fd, int64_t *offset)
{
	size_t have;

	*fd = -1;
	if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
		return open_external(d, where, dir, tname, tp, v, fd, offset);
	if (tp->has_raw_data) {
		if ((int64_t)tp->raw_data.len != stored_bytes(v))
			return diag_add(d, ST_INVALID, "%s: tensor '%s': raw_data has %zu bytes, its shape needs %lld",
			                where, tname, tp->raw_data.len, (long long)stored_bytes(v));
		return ST_OK;
	}
	have = field_count(tp, v->dt);
	if ((int64_t)have != (val_numel(v) + per_int32(v->dt) - 1) / per_int32(v->dt))
		return diag_add(d, ST_INVALID, "%s: tensor '%s': holds %zu values, its shape needs %lld",
		                where, tname, have, (long long)(val_numel(v) + per_int32(v->dt) - 1) / per_int32(v->dt));
	return ST_OK;
}

Status onnx_decode_tensor(const Onnx__TensorProto *tp, const char *where, const char *dir,
                          Arena *a, Diag *d, Value *v)
{
	const char *tname = tp->name && *tp->name ? tp->name : "(unnamed)";
	int64_t offset = 0;
	int fd = -1;
	Status st;

	memset(v, 0, sizeof(*v));
	if (!tp->has_data_type || tp->data_type == 0)
		return bad(d, where, tname, "has no data_type");
	v->dt = dtype_from_onnx(tp->data_type);
	if (v->dt == DT_UNDEF)
		return diag_add(d, ST_UNSUPPORTED, "%s: tensor '%s': element type %d (%s) is not supported",
		                where, tname, tp->data_type, onnx_dtype_name(tp->data_type));
	st = set_shape(d, where, tname, tp, v);
	if (st == ST_OK)
		st = check_data(d, where, dir, tname, tp, v, &fd, &offset);
	if (st == ST_OK && !val_alloc(a, v))
		st = diag_add(d, ST_NOMEM, "%s: out of memory", where);
	if (st == ST_OK) {
		if (fd >= 0)
			st = from_external(d, where, tname, tp, a, v, fd, offset);
		else if (tp->has_raw_data && tp->raw_data.len && dtype_bits(v->dt) < 8)
			unpack(v, tp->raw_data.data);
		else if (tp->has_raw_data && tp->raw_data.len)
			memcpy(v->data, tp->raw_data.data, tp->raw_data.len);
		else if (!tp->has_raw_data)
			from_field(tp, v);
	}
	if (fd >= 0)
		close(fd);
	return st;
}

const char *onnx_dtype_name(int code)
{
	static const char *const names[] = {
		"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
		"STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
		"COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ",
		"UINT4", "INT4", "FLOAT4E2M1", "FLOAT8E8M0", "UINT2", "INT2", "FLOAT6E2M3", "FLOAT6E3M2",
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

Status onnx_read_tensor_mem(const char *path, const uint8_t *buf, size_t len, Arena *a, Diag *d,
                            Value *v, const char **name)
{
	Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
	const char *dir;
	Status st;

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

Status onnx_read_tensor_file(const char *path, Arena *a, Diag *d, Value *v, const char **name)
{
	uint8_t *buf;
	size_t len;
	Status st = onnx_read_file(path, d, &buf, &len);

	if (st != ST_OK)
		return st;
	st = onnx_read_tensor_mem(path, buf, len, a, d, v, name);
	nnac_free(buf);
	return st;
}
