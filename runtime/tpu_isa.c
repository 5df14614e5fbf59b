/*
 * The TPU instruction set: the tables of tpu_isa.def, the 128-bit encoding
 * and its decoder, and the textual assembly form (printer and assembler).
 *
 * An instruction word, 16 bytes little endian (bit b is bit b % 8 of byte
 * b / 8):
 *
 *     127                                                     8 7        0
 *    +---------------------------------------------------------+----------+
 *    |       fields of the opcode, at TPU_FIELD's lo / width    |  opcode  |
 *    +---------------------------------------------------------+----------+
 *
 * docs/tpu.md draws each opcode's word.  Every table here is generated from
 * tpu_isa.def; the only hand-written list is that of TpuInsn's members
 * (members[]), which checks that an opcode leaves the others at 0.
 *
 * Invariants: an instruction that tpu_encode accepts decodes to itself; a
 * word that tpu_decode accepts encodes to itself; the text tpu_print_insn
 * writes assembles to the same instruction.  Values are checked alike in
 * all three directions (field_check): a value must fit its field, flags
 * must be flags of the opcode, and reg, func and pool must name an entry.
 */
#include "tpu_isa.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

/* ---- the tables of tpu_isa.def ---- */

typedef struct TpuOpDesc {
	const char *mnemonic;     /* NULL: no opcode has this code */
	TpuUnit unit;
	const char *synopsis;
} TpuOpDesc;

static const TpuOpDesc ops[256] = {
#define TPU_OP(id, code, mn, unit, syn) [code] = { mn, TPU_UNIT_##unit, syn },
#include "tpu_isa.def"
};

static const TpuField fields[] = {
#define TPU_FIELD(op, m, lo, w, syn) { TPU_##op, #m, offsetof(TpuInsn, m), lo, w, syn },
#include "tpu_isa.def"
};

/* Each field lies inside the word, above the opcode, and fits a uint32_t
 * (overlaps are checked by nnac-tpuisatest). */
#define TPU_FIELD(op, m, lo, w, syn) \
	_Static_assert((lo) >= 8 && (w) >= 1 && (w) <= 32 && (lo) + (w) <= 8 * TPU_WORD_BYTES, \
	               "field " #m " of " #op " lies inside the word and fits 32 bits");
#include "tpu_isa.def"

typedef struct TpuFlagDesc {
	TpuOp op;
	uint32_t bit;
	const char *name;
} TpuFlagDesc;

static const TpuFlagDesc flags[] = {
#define TPU_FLAG(op, id, bit, name, syn) { TPU_##op, bit, name },
#include "tpu_isa.def"
};

static const char *const reg_names[] = {
#define TPU_REG(id, code, name, syn) [code] = name,
#include "tpu_isa.def"
};
static const char *const func_names[] = {
#define TPU_FUNC(id, code, name, syn) [code] = name,
#include "tpu_isa.def"
};
static const char *const pool_names[] = {
#define TPU_POOL(id, code, name, syn) [code] = name,
#include "tpu_isa.def"
};
_Static_assert(ARRAY_LEN(reg_names) == TPU_REG_COUNT, "register codes are 0 .. count-1");
_Static_assert(ARRAY_LEN(func_names) == TPU_FUNC_COUNT, "function codes are 0 .. count-1");
_Static_assert(ARRAY_LEN(pool_names) == TPU_POOL_COUNT, "pool codes are 0 .. count-1");

static const char *const unit_names[] = { "issue", "dma", "weight", "matrix", "act" };
_Static_assert(ARRAY_LEN(unit_names) == TPU_UNIT_COUNT, "unit names");

/* Every member of TpuInsn but op: those an opcode does not encode are 0. */
static const struct {
	const char *name;
	size_t offset;
} members[] = {
#define M(m) { #m, offsetof(TpuInsn, m) }
	M(flags), M(mask), M(reg), M(value), M(host_addr), M(dram_addr), M(ub_row),
	M(acc_row), M(count), M(len), M(rows), M(cols), M(slot), M(func), M(pool),
#undef M
};
_Static_assert(sizeof(TpuInsn) == offsetof(TpuInsn, pool) + sizeof(uint32_t) &&
               ARRAY_LEN(members) * sizeof(uint32_t) + offsetof(TpuInsn, flags) ==
               sizeof(TpuInsn), "members[] lists every member of TpuInsn");

static const TpuOpDesc *op_desc(TpuOp op)
{
	if ((unsigned)op >= ARRAY_LEN(ops) || !ops[op].mnemonic)
		return NULL;
	return &ops[op];
}

const char *tpu_op_name(TpuOp op)
{
	const TpuOpDesc *o = op_desc(op);

	return o ? o->mnemonic : NULL;
}

const char *tpu_op_synopsis(TpuOp op)
{
	const TpuOpDesc *o = op_desc(op);

	return o ? o->synopsis : NULL;
}

TpuUnit tpu_op_unit(TpuOp op)
{
	const TpuOpDesc *o = op_desc(op);

	return o ? o->unit : TPU_UNIT_NONE;
}

const char *tpu_unit_name(TpuUnit u)
{
	return (unsigned)u < ARRAY_LEN(unit_names) ? unit_names[u] : NULL;
}

const char *tpu_reg_name(uint32_t reg)
{
	return reg < ARRAY_LEN(reg_names) ? reg_names[reg] : NULL;
}

const char *tpu_func_name(uint32_t func)
{
	return func < ARRAY_LEN(func_names) ? func_names[func] : NULL;
}

const char *tpu_pool_name(uint32_t pool)
{
	return pool < ARRAY_LEN(pool_names) ? pool_names[pool] : NULL;
}

const TpuField *tpu_fields(size_t *n)
{
	*n = ARRAY_LEN(fields);
	return fields;
}

uint32_t tpu_field_get(const TpuInsn *in, const TpuField *f)
{
	uint32_t v;

	memcpy(&v, (const char *)in + f->offset, sizeof(v));
	return v;
}

void tpu_field_set(TpuInsn *in, const TpuField *f, uint32_t v)
{
	memcpy((char *)in + f->offset, &v, sizeof(v));
}

static uint32_t member_get(const TpuInsn *in, size_t offset)
{
	uint32_t v;

	memcpy(&v, (const char *)in + offset, sizeof(v));
	return v;
}

uint32_t tpu_op_flag_mask(TpuOp op)
{
	uint32_t m = 0;

	for (size_t i = 0; i < ARRAY_LEN(flags); i++)
		if (flags[i].op == op)
			m |= flags[i].bit;
	return m;
}

const char *tpu_flag_name(TpuOp op, uint32_t bit)
{
	for (size_t i = 0; i < ARRAY_LEN(flags); i++)
		if (flags[i].op == op && flags[i].bit == bit)
			return flags[i].name;
	return NULL;
}

/* Field `name` of op, or NULL when op encodes no such field. */
static const TpuField *field_find(TpuOp op, const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(fields); i++)
		if (fields[i].op == op && strlen(fields[i].name) == len &&
		    memcmp(fields[i].name, name, len) == 0)
			return &fields[i];
	return NULL;
}

static bool op_has_member(TpuOp op, size_t offset)
{
	for (size_t i = 0; i < ARRAY_LEN(fields); i++)
		if (fields[i].op == op && fields[i].offset == offset)
			return true;
	return false;
}

/* How a field's value is written in assembly. */
typedef enum FieldKind { FK_NUMBER, FK_FLAGS, FK_REG, FK_FUNC, FK_POOL } FieldKind;

static FieldKind field_kind(const TpuField *f)
{
	if (f->offset == offsetof(TpuInsn, flags))
		return FK_FLAGS;
	if (f->offset == offsetof(TpuInsn, reg))
		return FK_REG;
	if (f->offset == offsetof(TpuInsn, func))
		return FK_FUNC;
	if (f->offset == offsetof(TpuInsn, pool))
		return FK_POOL;
	return FK_NUMBER;
}

/* The name of code v of a named kind (NULL when no entry has it) and, in
 * *what, what the entries are called; "" for numbers and flags. */
static const char *kind_name(FieldKind k, uint64_t v, const char **what)
{
	switch (k) {
	case FK_REG:
		*what = "register";
		return v <= UINT32_MAX ? tpu_reg_name((uint32_t)v) : NULL;
	case FK_FUNC:
		*what = "activation function";
		return v <= UINT32_MAX ? tpu_func_name((uint32_t)v) : NULL;
	case FK_POOL:
		*what = "pooling mode";
		return v <= UINT32_MAX ? tpu_pool_name((uint32_t)v) : NULL;
	case FK_NUMBER:
	case FK_FLAGS:
		break;
	}
	*what = "value";
	return "";
}

/*
 * Whether v may stand in field f; when not, msg receives why, e.g.
 * "field 'count' of matrix_multiply: 16777216 does not fit in 24 bits".
 */
static bool field_check(const TpuField *f, uint64_t v, char *msg, size_t cap)
{
	const char *mn = tpu_op_name(f->op), *what;
	FieldKind k = field_kind(f);
	uint32_t stray;

	if (f->width < 64 && v >> f->width) {
		snprintf(msg, cap, "field '%s' of %s: %" PRIu64 " does not fit in %d bits",
		         f->name, mn, v, f->width);
		return false;
	}
	if (k == FK_FLAGS && (stray = (uint32_t)v & ~tpu_op_flag_mask(f->op))) {
		snprintf(msg, cap, "field 'flags' of %s: bits 0x%" PRIx32 " are no flags of %s", mn,
		         stray, mn);
		return false;
	}
	if (!kind_name(k, v, &what)) {
		snprintf(msg, cap, "field '%s' of %s: no %s has code %" PRIu64, f->name, mn, what,
		         v);
		return false;
	}
	return true;
}

/* ---- encoding ---- */

static void put_bits(uint8_t *word, int lo, int width, uint32_t v)
{
	for (int i = 0; i < width; i++)
		if (v >> i & 1)
			word[(lo + i) / 8] |= (uint8_t)(1u << (lo + i) % 8);
}

static uint32_t get_bits(const uint8_t *word, int lo, int width)
{
	uint32_t v = 0;

	for (int i = 0; i < width; i++)
		v |= (uint32_t)(word[(lo + i) / 8] >> (lo + i) % 8 & 1) << i;
	return v;
}

/* Every member op does not encode must be 0; d receives the first that is not. */
static Status check_unused(const TpuInsn *in, Diag *d)
{
	const char *mn = tpu_op_name(in->op);

	for (size_t i = 0; i < ARRAY_LEN(members); i++)
		if (member_get(in, members[i].offset) && !op_has_member(in->op, members[i].offset))
			return diag_add(d, ST_INVALID, "%s has no field '%s'", mn, members[i].name);
	return ST_OK;
}

Status tpu_encode(const TpuInsn *in, uint8_t *word, Diag *d)
{
	char msg[160];
	Status st;

	memset(word, 0, TPU_WORD_BYTES);
	if (!tpu_op_name(in->op))
		return diag_add(d, ST_INVALID, "unknown opcode 0x%x", (unsigned)in->op);
	if ((st = check_unused(in, d)) != ST_OK)
		return st;
	for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
		const TpuField *f = &fields[i];
		uint32_t v;

		if (f->op != in->op)
			continue;
		v = tpu_field_get(in, f);
		if (!field_check(f, v, msg, sizeof(msg)))
			return diag_add(d, ST_INVALID, "%s", msg);
		put_bits(word, f->lo, f->width, v);
	}
	word[0] = (uint8_t)in->op;
	return ST_OK;
}

/* The lowest bit set in word outside op's opcode byte and fields, or -1. */
static int stray_bit(const uint8_t *word, TpuOp op)
{
	uint8_t used[TPU_WORD_BYTES] = { 0xff };

	for (size_t i = 0; i < ARRAY_LEN(fields); i++)
		if (fields[i].op == op)
			put_bits(used, fields[i].lo, fields[i].width, UINT32_MAX);
	for (int b = 8; b < 8 * TPU_WORD_BYTES; b++)
		if ((word[b / 8] >> b % 8 & 1) && !(used[b / 8] >> b % 8 & 1))
			return b;
	return -1;
}

Status tpu_decode(const uint8_t *word, TpuInsn *out, size_t at, Diag *d)
{
	TpuOp op = (TpuOp)word[0];
	char msg[160];
	int bit;

	memset(out, 0, sizeof(*out));
	if (!tpu_op_name(op))
		return diag_add(d, ST_INVALID, "byte %zu: unknown opcode 0x%02x", at, word[0]);
	if ((bit = stray_bit(word, op)) >= 0)
		return diag_add(d, ST_INVALID, "byte %zu: %s: bit %d is set but lies in no field",
		                at, tpu_op_name(op), bit);
	out->op = op;
	for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
		const TpuField *f = &fields[i];
		uint32_t v;

		if (f->op != op)
			continue;
		v = get_bits(word, f->lo, f->width);
		if (!field_check(f, v, msg, sizeof(msg))) {
			memset(out, 0, sizeof(*out));
			return diag_add(d, ST_INVALID, "byte %zu: %s", at, msg);
		}
		tpu_field_set(out, f, v);
	}
	return ST_OK;
}

Status tpu_decode_program(const uint8_t *bytes, size_t size, TpuInsn **prog, size_t *n, Diag *d)
{
	size_t count = size / TPU_WORD_BYTES;
	TpuInsn *p;
	Status st;

	*prog = NULL;
	*n = 0;
	if (size % TPU_WORD_BYTES)
		return diag_add(d, ST_INVALID, "a program of %zu bytes is not a whole number "
		                "of %d-byte instructions", size, TPU_WORD_BYTES);
	if (!(p = nnac_malloc(count ? count * sizeof(*p) : 1)))
		return diag_add(d, ST_NOMEM, "out of memory decoding %zu instructions", count);
	for (size_t i = 0; i < count; i++) {
		size_t at = i * TPU_WORD_BYTES;

		if ((st = tpu_decode(bytes + at, &p[i], at, d)) != ST_OK) {
			nnac_free(p);
			return st;
		}
	}
	*prog = p;
	*n = count;
	return ST_OK;
}

/* ---- printing ---- */

/* snprintf's contract over a growing line. */
typedef struct Out {
	char *buf;
	size_t cap;
	size_t len;           /* of the whole text, even past cap */
} Out;

static void out_str(Out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->len < o->cap) {
		size_t room = o->cap - o->len - 1, k = n < room ? n : room;

		memcpy(o->buf + o->len, s, k);
		o->buf[o->len + k] = 0;
	}
	o->len += n;
}

static void out_u32(Out *o, const char *fmt, uint32_t v)
{
	char num[16];

	snprintf(num, sizeof(num), fmt, v);
	out_str(o, num);
}

/* flags as names joined by '|' in tpu_isa.def order, then any other bits in
 * hex; 0 when none is set. */
static void out_flags(Out *o, TpuOp op, uint32_t v)
{
	bool first = true;

	if (!v) {
		out_str(o, "0");
		return;
	}
	for (size_t i = 0; i < ARRAY_LEN(flags); i++)
		if (flags[i].op == op && (v & flags[i].bit)) {
			out_str(o, first ? "" : "|");
			out_str(o, flags[i].name);
			v &= ~flags[i].bit;
			first = false;
		}
	if (v) {
		out_str(o, first ? "" : "|");
		out_u32(o, "0x%" PRIx32, v);
	}
}

static void out_field(Out *o, const TpuField *f, uint32_t v)
{
	FieldKind k = field_kind(f);
	const char *what, *name;

	out_str(o, " ");
	out_str(o, f->name);
	out_str(o, "=");
	if (k == FK_FLAGS) {
		out_flags(o, f->op, v);
		return;
	}
	name = kind_name(k, v, &what);
	if (k != FK_NUMBER && name)
		out_str(o, name);
	else
		out_u32(o, "%" PRIu32, v);
}

int tpu_format_insn(char *buf, size_t cap, const TpuInsn *in)
{
	Out o = { buf, cap, 0 };
	const char *mn = tpu_op_name(in->op);

	if (cap)
		buf[0] = 0;
	if (!mn) {
		out_str(&o, "unknown_opcode_");
		out_u32(&o, "0x%02" PRIx32, (uint32_t)in->op);
		return (int)o.len;
	}
	out_str(&o, mn);
	for (size_t i = 0; i < ARRAY_LEN(fields); i++)
		if (fields[i].op == in->op)
			out_field(&o, &fields[i], tpu_field_get(in, &fields[i]));
	return (int)o.len;
}

void tpu_print_insn(FILE *f, const TpuInsn *in)
{
	char line[512];
	int n = tpu_format_insn(line, sizeof(line), in);

	nnac_assert(n >= 0 && (size_t)n < sizeof(line));
	fprintf(f, "%s\n", line);
}

/* ---- the assembler ---- */

/* The state of assembling one file. */
typedef struct Asm {
	const char *path;
	const char *text;     /* NUL terminated */
	Diag *d;
	int line;             /* 1-based */
	const char *bol;      /* start of the current line */
	TpuInsn *prog;
	size_t n, cap;
} Asm;

static Status asm_error(Asm *a, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static Status asm_error(Asm *a, const char *at, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return diag_at(a->d, ST_INVALID, a->path, a->text, a->line, (int)(at - a->bol) + 1, msg);
}

static bool is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_end(char c)
{
	return c == 0 || c == '\n' || c == '#';
}

static const char *skip_blanks(const char *s)
{
	while (is_blank(*s))
		s++;
	return s;
}

/* number: decimal digits, or 0x and hex digits; false when s[0 .. n) is
 * not one.  *wide is set when it exceeds 64 bits. */
static bool parse_number(const char *s, size_t n, uint64_t *v, bool *wide)
{
	unsigned base = 10;
	size_t i = 0;

	*v = 0;
	*wide = false;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == n)
		return false;
	for (; i < n; i++) {
		char c = s[i];
		unsigned dig;

		if (c >= '0' && c <= '9')
			dig = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			dig = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			dig = (unsigned)(c - 'A' + 10);
		else
			return false;
		if (*v > (UINT64_MAX - dig) / base)
			*wide = true;
		*v = *v * base + dig;
	}
	return true;
}

/* A flag name of op, its bit in *bit; a number stands for its bits. */
static Status asm_flag(Asm *a, TpuOp op, const char *s, size_t n, uint64_t *bit)
{
	bool wide;

	if (n == 0)
		return asm_error(a, s, "expected a flag name");
	for (size_t i = 0; i < ARRAY_LEN(flags); i++)
		if (flags[i].op == op && strlen(flags[i].name) == n &&
		    memcmp(flags[i].name, s, n) == 0) {
			*bit = flags[i].bit;
			return ST_OK;
		}
	if (n && s[0] >= '0' && s[0] <= '9' && parse_number(s, n, bit, &wide) && !wide)
		return ST_OK;
	return asm_error(a, s, "unknown flag '%.*s' of %s", (int)n, s, tpu_op_name(op));
}

/* flags: flag ('|' flag)* */
static Status asm_flags(Asm *a, const TpuField *f, const char *s, size_t n, uint64_t *v)
{
	const char *end = s + n;
	uint64_t bit;
	Status st;

	*v = 0;
	for (;;) {
		const char *bar = memchr(s, '|', (size_t)(end - s));
		const char *stop = bar ? bar : end;

		if ((st = asm_flag(a, f->op, s, (size_t)(stop - s), &bit)) != ST_OK)
			return st;
		*v |= bit;
		if (!bar)
			return ST_OK;
		s = bar + 1;
	}
}

/* A register, function or pool name, or a number. */
static Status asm_named(Asm *a, const TpuField *f, const char *s, size_t n, uint64_t *v)
{
	FieldKind k = field_kind(f);
	const char *what, *name;
	bool wide;

	for (uint64_t i = 0; (name = kind_name(k, i, &what)); i++)
		if (strlen(name) == n && memcmp(name, s, n) == 0) {
			*v = i;
			return ST_OK;
		}
	if (n && s[0] >= '0' && s[0] <= '9' && parse_number(s, n, v, &wide) && !wide)
		return ST_OK;
	return asm_error(a, s, "unknown %s '%.*s'", what, (int)n, s);
}

/* The value s[0 .. n) of field f into *v, checked against the field. */
static Status asm_value(Asm *a, const TpuField *f, const char *s, size_t n, uint64_t *v)
{
	char msg[160];
	bool wide = false;
	Status st;

	if (n == 0)
		return asm_error(a, s, "missing value of field '%s'", f->name);
	switch (field_kind(f)) {
	case FK_NUMBER:
		if (!parse_number(s, n, v, &wide))
			return asm_error(a, s, "bad number '%.*s'", (int)n, s);
		break;
	case FK_FLAGS:
		if ((st = asm_flags(a, f, s, n, v)) != ST_OK)
			return st;
		break;
	case FK_REG:
	case FK_FUNC:
	case FK_POOL:
		if ((st = asm_named(a, f, s, n, v)) != ST_OK)
			return st;
		break;
	}
	if (wide)
		return asm_error(a, s, "field '%s' of %s: %.*s does not fit in %d bits", f->name,
		                 tpu_op_name(f->op), (int)n, s, f->width);
	if (!field_check(f, *v, msg, sizeof(msg)))
		return asm_error(a, s, "%s", msg);
	return ST_OK;
}

/* field: NAME '=' VALUE; *p moves past it. */
static Status asm_field(Asm *a, TpuInsn *in, const char **p, bool *seen)
{
	const char *s = *p, *key = s, *val;
	const TpuField *f;
	uint64_t v;
	Status st;
	size_t fi;

	while (is_word(*s))
		s++;
	if (s == key)
		return asm_error(a, key, "expected a field name");
	if (!(f = field_find(in->op, key, (size_t)(s - key))))
		return asm_error(a, key, "%s has no field '%.*s'", tpu_op_name(in->op),
		                 (int)(s - key), key);
	fi = (size_t)(f - fields);
	if (seen[fi])
		return asm_error(a, key, "duplicate field '%s'", f->name);
	if (*s != '=')
		return asm_error(a, s, "expected '=' after field name '%s'", f->name);
	val = ++s;
	while (!is_end(*s) && !is_blank(*s))
		s++;
	if ((st = asm_value(a, f, val, (size_t)(s - val), &v)) != ST_OK)
		return st;
	tpu_field_set(in, f, (uint32_t)v);
	seen[fi] = true;
	*p = s;
	return ST_OK;
}

/* An opcode by mnemonic, or -1. */
static int op_find(const char *s, size_t n)
{
	for (size_t i = 0; i < ARRAY_LEN(ops); i++)
		if (ops[i].mnemonic && strlen(ops[i].mnemonic) == n &&
		    memcmp(ops[i].mnemonic, s, n) == 0)
			return (int)i;
	return -1;
}

static Status asm_append(Asm *a, const TpuInsn *in)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;
		TpuInsn *p = nnac_realloc(a->prog, cap * sizeof(*p));

		if (!p)
			return diag_add(a->d, ST_NOMEM, "%s: out of memory", a->path);
		a->prog = p;
		a->cap = cap;
	}
	a->prog[a->n++] = *in;
	return ST_OK;
}

/* line: [MNEMONIC field*] ['#' comment] */
static Status asm_line(Asm *a, const char *s)
{
	const char *mn;
	TpuInsn in = { 0 };
	bool seen[ARRAY_LEN(fields)] = { false };
	Status st;
	int op;

	s = skip_blanks(s);
	if (is_end(*s))
		return ST_OK;
	mn = s;
	while (is_word(*s))
		s++;
	if (s == mn)
		return asm_error(a, mn, "expected a mnemonic");
	if ((op = op_find(mn, (size_t)(s - mn))) < 0)
		return asm_error(a, mn, "unknown mnemonic '%.*s'", (int)(s - mn), mn);
	in.op = (TpuOp)op;
	if (!is_end(*s) && !is_blank(*s))
		return asm_error(a, s, "expected a blank after '%s'", tpu_op_name(in.op));
	for (s = skip_blanks(s); !is_end(*s); s = skip_blanks(s)) {
		if ((st = asm_field(a, &in, &s, seen)) != ST_OK)
			return st;
		if (!is_end(*s) && !is_blank(*s))
			return asm_error(a, s, "expected a blank between fields");
	}
	return asm_append(a, &in);
}

Status tpu_assemble(const char *path, const char *text, size_t len, TpuInsn **prog, size_t *n,
                    Diag *d)
{
	Asm a = { .path = path, .d = d };
	const char *s, *nul;
	char *copy;
	Status st = ST_OK, ls;

	*prog = NULL;
	*n = 0;
	if (!(copy = nnac_malloc(len + 1)))
		return diag_add(d, ST_NOMEM, "%s: out of memory", path);
	memcpy(copy, text, len);
	copy[len] = 0;
	a.text = copy;
	if ((nul = memchr(text, 0, len))) {
		for (s = copy; s < copy + (nul - text); s++)
			a.line += *s == '\n';
		a.line++;
		for (a.bol = copy + (nul - text); a.bol > copy && a.bol[-1] != '\n'; a.bol--)
			;
		st = asm_error(&a, copy + (nul - text), "a NUL byte in the text");
		goto out;
	}
	for (s = copy;; s++) {
		a.line++;
		a.bol = s;
		if ((ls = asm_line(&a, s)) != ST_OK && (st == ST_OK || ls == ST_NOMEM))
			st = ls;
		if (ls == ST_NOMEM)
			break;
		s += strcspn(s, "\n");
		if (!*s)
			break;
	}
out:
	nnac_free(copy);
	if (st != ST_OK) {
		nnac_free(a.prog);
		return st;
	}
	*prog = a.prog;
	*n = a.n;
	return ST_OK;
}
