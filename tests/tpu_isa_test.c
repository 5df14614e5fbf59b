/*
 * nnac-tpuisatest: the tests of the TPU instruction set
 * (runtime/tpu_isa.c) and of the trace writers (runtime/tpu_trace.c).
 *
 *     nnac-tpuisatest ASM_DIR BAD_DIR [DOC]
 *
 * Every ASM_DIR/NAME.s assembles; its instructions encode, the words decode
 * back to the same instructions, and printing them gives NAME.s.expected,
 * which is a fixed point (it assembles to the same program and prints as
 * itself).  Every BAD_DIR/NAME.s is refused, and its first diagnostic
 * (message, source line and caret; the file named NAME.s) is NAME.err.
 * Then: the tables of tpu_isa.def are consistent (fields inside the word,
 * disjoint, flags inside their field); a hand-encoded word; every single
 * bit of every opcode's word decodes or is refused as it should; seeded
 * random instructions of every opcode round-trip through encode, decode,
 * print and assemble; encoder, decoder and assembler errors; the text and
 * Chrome traces of a hand-made record array (the JSON is parsed by a small
 * validator here and by python3's json; out of memory is reported); with DOC (docs/tpu.md), every
 * opcode's section there names its code and has a row "| LO..HI | `FIELD` |"
 * for each of its fields, and scripts/tpu_isa_doc.py finds it current.
 *
 * Ends with `tpu-isa: P passed, F failed`; exits 1 if anything failed.
 */
#include "arena.h"
#include "tpu_isa.h"
#include "tpu_sim.h"
#include "tpu_trace.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_rng.h"
#include "test_util.h"

static void print_diags(const Diag *d)
{
	for (int i = 0; i < d->n; i++)
		printf("    %s\n", d->msg[i].text);
}

static bool insn_eq(const TpuInsn *a, const TpuInsn *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* The program printed by tpu_print_insn, in fresh memory. */
static char *print_program(const TpuInsn *p, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++)
		tpu_print_insn(f, &p[i]);
	fclose(f);
	return buf;
}

/* Encodes p[0 .. n) into fresh memory; NULL (and diagnostics) on failure. */
static uint8_t *encode_program(const TpuInsn *p, size_t n, Diag *d)
{
	uint8_t *w = calloc(n ? n : 1, TPU_WORD_BYTES);

	for (size_t i = 0; w && i < n; i++)
		if (tpu_encode(&p[i], w + i * TPU_WORD_BYTES, d) != ST_OK) {
			free(w);
			return NULL;
		}
	return w;
}

/* ---- the files ---- */

static void run_good(const char *dir, const char *name)
{
	char path[1024], exp_path[1100];
	size_t len, elen, n, n2, n3;
	char *text, *want, *got = NULL, *again = NULL;
	TpuInsn *p = NULL, *q = NULL, *r = NULL;
	uint8_t *w = NULL;
	Diag d;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(exp_path, sizeof(exp_path), "%s.expected", path);
	diag_init(&d);
	text = read_file(path, &len);
	want = read_file(exp_path, &elen);
	if (!text || !want) {
		check(false, "%s: cannot read it or its .expected", path);
		goto out;
	}
	if (tpu_assemble(name, text, len, &p, &n, &d) != ST_OK || d.n) {
		check(false, "%s: does not assemble", path);
		print_diags(&d);
		goto out;
	}
	check(n > 0, "%s: holds instructions", path);
	w = encode_program(p, n, &d);
	check(w != NULL, "%s: encodes", path);
	if (!w || tpu_decode_program(w, n * TPU_WORD_BYTES, &q, &n2, &d) != ST_OK) {
		check(false, "%s: decodes", path);
		print_diags(&d);
		goto out;
	}
	check(n2 == n && memcmp(p, q, n * sizeof(*p)) == 0, "%s: decodes to what was assembled",
	      path);
	got = print_program(q, n2);
	check(got && strcmp(got, want) == 0, "%s: prints as its .expected", path);
	if (got && strcmp(got, want) != 0)
		printf("--- got:\n%s--- want:\n%s", got, want);
	if (tpu_assemble(exp_path, want, elen, &r, &n3, &d) != ST_OK) {
		check(false, "%s: does not assemble", exp_path);
		print_diags(&d);
		goto out;
	}
	again = print_program(r, n3);
	check(n3 == n && memcmp(p, r, n * sizeof(*p)) == 0 && again && strcmp(again, want) == 0,
	      "%s: is canonical: assembles to the same program and prints as itself", exp_path);
out:
	free(text);
	free(want);
	free(got);
	free(again);
	nnac_free(p);
	nnac_free(q);
	nnac_free(r);
	free(w);
	diag_free(&d);
}

static void run_bad(const char *dir, const char *name)
{
	char path[1024], err_path[1100];
	size_t len, elen, n = 1;
	char *text, *want;
	TpuInsn *p = (TpuInsn *)&n;
	Diag d;
	Status st;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(err_path, sizeof(err_path), "%.*s.err", (int)strlen(path) - 2, path);
	diag_init(&d);
	text = read_file(path, &len);
	want = read_file(err_path, &elen);
	if (!text || !want) {
		check(false, "%s: cannot read it or its .err", path);
		goto out;
	}
	while (elen && want[elen - 1] == '\n')
		want[--elen] = 0;
	st = tpu_assemble(name, text, len, &p, &n, &d);
	ok = st == ST_INVALID && p == NULL && n == 0 && d.n >= 1 && strcmp(d.msg[0].text, want) == 0;
	check(ok, "%s: refused with the diagnostic of its .err", path);
	if (!ok) {
		printf("  want:\n%s\n  got:\n", want);
		print_diags(&d);
	}
out:
	free(text);
	free(want);
	diag_free(&d);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir, bool bad)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!dp) {
		check(false, "%s: cannot open the folder", dir);
		return;
	}
	while ((e = readdir(dp))) {
		size_t l = strlen(e->d_name);

		if (l < 3 || strcmp(e->d_name + l - 2, ".s") != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			names = realloc(names, cap * sizeof(*names));
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(dp);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		if (bad)
			run_bad(dir, names[i]);
		else
			run_good(dir, names[i]);
		free(names[i]);
	}
	free(names);
	check(n > 0, "%s: holds no .s file", dir);
}

/* ---- the tables ---- */

/* The fields of op in .def order: up to cap pointers into tpu_fields(). */
static size_t op_fields(TpuOp op, const TpuField **out, size_t cap)
{
	size_t nf, k = 0;
	const TpuField *f = tpu_fields(&nf);

	for (size_t i = 0; i < nf; i++)
		if (f[i].op == op && k < cap)
			out[k++] = &f[i];
	return k;
}

/* Every opcode code of tpu_isa.def. */
static const TpuOp all_ops[] = {
#define TPU_OP(id, code, mn, unit, syn) TPU_##id,
#include "tpu_isa.def"
};
#define NOPS (sizeof(all_ops) / sizeof(all_ops[0]))

static void check_tables(void)
{
	size_t nf;
	const TpuField *f = tpu_fields(&nf);

	for (size_t i = 0; i < nf; i++) {
		check(f[i].lo >= 8 && f[i].width >= 1 && f[i].width <= 32 &&
		      f[i].lo + f[i].width <= 8 * TPU_WORD_BYTES,
		      "%s: field inside bits 8..127, 1..32 bits wide", f[i].name);
		check(tpu_op_name(f[i].op) != NULL, "%s: field of a declared opcode", f[i].name);
		for (size_t j = i + 1; j < nf; j++)
			if (f[j].op == f[i].op)
				check(f[j].offset != f[i].offset &&
				      (f[j].lo >= f[i].lo + f[i].width || f[i].lo >= f[j].lo + f[j].width),
				      "%s: fields are distinct and disjoint", tpu_op_name(f[i].op));
	}
	for (size_t i = 0; i < NOPS; i++) {
		const TpuField *of[16];
		size_t k = op_fields(all_ops[i], of, 16);
		uint32_t mask = tpu_op_flag_mask(all_ops[i]);
		int flag_width = 0;

		for (size_t j = 0; j < k; j++)
			if (strcmp(of[j]->name, "flags") == 0)
				flag_width = of[j]->width;
		check(mask == 0 || (flag_width > 0 && mask >> flag_width == 0),
		      "%s: flags are bits of its flags field", tpu_op_name(all_ops[i]));
		for (size_t j = i + 1; j < NOPS; j++)
			check(strcmp(tpu_op_name(all_ops[i]), tpu_op_name(all_ops[j])) != 0,
			      "%s: mnemonics are distinct", tpu_op_name(all_ops[i]));
		check(tpu_op_synopsis(all_ops[i]) && tpu_unit_name(tpu_op_unit(all_ops[i])),
		      "%s: has a synopsis and a unit", tpu_op_name(all_ops[i]));
	}
	check(tpu_op_name((TpuOp)0x55) == NULL && tpu_op_name((TpuOp)-1) == NULL &&
	      tpu_op_name((TpuOp)1000) == NULL && tpu_op_synopsis((TpuOp)0xff) == NULL,
	      "names: unknown opcodes have no name");
	check(tpu_reg_name(TPU_REG_COUNT) == NULL && tpu_func_name(TPU_FUNC_COUNT) == NULL &&
	      tpu_pool_name(TPU_POOL_COUNT) == NULL && tpu_unit_name(TPU_UNIT_COUNT) == NULL,
	      "names: past the tables is NULL");
	check(strcmp(tpu_reg_name(TPU_REG_MM_STEP_Y), "mm_step_y") == 0 &&
	      strcmp(tpu_func_name(TPU_FUNC_SIGMOID), "sigmoid") == 0 &&
	      strcmp(tpu_pool_name(TPU_POOL_AVG), "avg") == 0 &&
	      strcmp(tpu_unit_name(TPU_UNIT_NONE), "issue") == 0 &&
	      strcmp(tpu_unit_name(TPU_UNIT_MATRIX), "matrix") == 0 &&
	      tpu_op_unit(TPU_MATMUL) == TPU_UNIT_MATRIX && tpu_op_unit(TPU_READ_HOST) == TPU_UNIT_DMA,
	      "names: the tables follow the .def");
	check(strcmp(tpu_flag_name(TPU_MATMUL, TPU_MM_SWITCH), "switch") == 0 &&
	      tpu_flag_name(TPU_ACTIVATE, TPU_MM_SWITCH) == NULL &&
	      tpu_op_flag_mask(TPU_MATMUL) == (TPU_MM_ACC | TPU_MM_SWITCH | TPU_MM_CONV) &&
	      tpu_op_flag_mask(TPU_HALT) == 0, "flags: flag tables");
}

/* ---- encoding ---- */

static void check_golden_word(void)
{
	static const uint8_t want[TPU_WORD_BYTES] = {
		0x20, 0x03, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0, 0, 0, 0,
	};
	static const uint8_t act[TPU_WORD_BYTES] = {
		0x30, 0x01, 0x10, 0, 0, 0, 0x20, 0, 0, 0x04, 0, 0, 0x21, 0x07, 0, 0,
	};
	TpuInsn in = { .op = TPU_MATMUL, .flags = TPU_MM_ACC | TPU_MM_SWITCH, .ub_row = 0x04030201,
	               .acc_row = 0x070605, .count = 0x0a0908 };
	TpuInsn a = { .op = TPU_ACTIVATE, .flags = TPU_ACT_GEOM, .ub_row = 16, .acc_row = 32,
	              .count = 4, .func = TPU_FUNC_RELU, .pool = TPU_POOL_AVG, .slot = 7 };
	uint8_t w[TPU_WORD_BYTES];
	TpuInsn back;
	Diag d;

	diag_init(&d);
	check(tpu_encode(&in, w, &d) == ST_OK && memcmp(w, want, sizeof(w)) == 0,
	      "golden: matrix_multiply: opcode byte 0, fields little endian at their bits");
	check(tpu_decode(want, &back, 0, &d) == ST_OK && insn_eq(&back, &in),
	      "golden: matrix_multiply decodes");
	check(tpu_encode(&a, w, &d) == ST_OK && memcmp(w, act, sizeof(w)) == 0,
	      "golden: activate: 4-bit func and pool share byte 12");
	check(d.n == 0, "golden: no diagnostics");
	diag_free(&d);
}

/* Whether bit b of op's word lies in one of its fields; *f receives it. */
static bool bit_field(TpuOp op, int b, const TpuField **f)
{
	const TpuField *of[16];
	size_t k = op_fields(op, of, 16);

	for (size_t j = 0; j < k; j++)
		if (b >= of[j]->lo && b < of[j]->lo + of[j]->width) {
			*f = of[j];
			return true;
		}
	return false;
}

/* Whether value v is legal in field f (flags declared, names known). */
static bool value_legal(const TpuField *f, uint32_t v)
{
	if (strcmp(f->name, "flags") == 0)
		return (v & ~tpu_op_flag_mask(f->op)) == 0;
	if (strcmp(f->name, "reg") == 0)
		return tpu_reg_name(v) != NULL;
	if (strcmp(f->name, "func") == 0)
		return tpu_func_name(v) != NULL;
	if (strcmp(f->name, "pool") == 0)
		return tpu_pool_name(v) != NULL;
	return true;
}

/* Every word of one opcode with one more bit set: inside a field it decodes
 * to that field's value (when legal) and encodes back; outside it is refused
 * naming the byte offset and the bit. */
static void check_single_bits(void)
{
	int bad = 0;

	for (size_t i = 0; i < NOPS; i++)
		for (int b = 8; b < 8 * TPU_WORD_BYTES; b++) {
			uint8_t w[TPU_WORD_BYTES] = { (uint8_t)all_ops[i] }, back[TPU_WORD_BYTES];
			const TpuField *f = NULL;
			bool inside = bit_field(all_ops[i], b, &f);
			bool legal = inside && value_legal(f, 1u << (b - f->lo));
			char want[64];
			TpuInsn in;
			Status st;
			Diag d;

			w[b / 8] |= (uint8_t)(1u << b % 8);
			diag_init(&d);
			st = tpu_decode(w, &in, 48, &d);
			if (legal)
				bad += st != ST_OK || tpu_field_get(&in, f) != 1u << (b - f->lo) ||
				       tpu_encode(&in, back, &d) != ST_OK || memcmp(back, w, sizeof(w)) != 0;
			else
				bad += st != ST_INVALID || d.n != 1 ||
				       strncmp(d.msg[0].text, "byte 48: ", 9) != 0;
			snprintf(want, sizeof(want), "bit %d is set", b);
			if (!inside && d.n == 1)
				bad += strstr(d.msg[0].text, want) == NULL;
			if (st != ST_OK) {
				TpuInsn zero = { 0 };
				bad += !insn_eq(&in, &zero);
			}
			diag_free(&d);
		}
	check(bad == 0, "single bits: every bit of every opcode's word decodes as its field says");
}

/* expected diagnostic text of one call of tpu_encode. */
static void encode_error(const TpuInsn *in, const char *want)
{
	uint8_t w[TPU_WORD_BYTES];
	Diag d;
	Status st;

	diag_init(&d);
	st = tpu_encode(in, w, &d);
	check(st == ST_INVALID && d.n == 1 && strcmp(d.msg[0].text, want) == 0, "encode: %s", want);
	if (d.n && strcmp(d.msg[0].text, want) != 0)
		print_diags(&d);
	diag_free(&d);
}

static void decode_error(const uint8_t *bytes, size_t size, const char *want)
{
	TpuInsn *p = (TpuInsn *)&size;
	size_t n = 7;
	Diag d;
	Status st;

	diag_init(&d);
	st = tpu_decode_program(bytes, size, &p, &n, &d);
	check(st == ST_INVALID && p == NULL && n == 0 && d.n == 1 && strcmp(d.msg[0].text, want) == 0,
	      "decode: %s", want);
	if (d.n && strcmp(d.msg[0].text, want) != 0)
		print_diags(&d);
	diag_free(&d);
}

static void check_codec_errors(void)
{
	TpuInsn mm = { .op = TPU_MATMUL, .count = 1u << 24 };
	TpuInsn rh = { .op = TPU_READ_HOST, .count = 1, .slot = 2 };
	TpuInsn bad_op = { .op = (TpuOp)0x55 };
	TpuInsn flags = { .op = TPU_MATMUL, .flags = 0x18 };
	TpuInsn reg = { .op = TPU_SET_CONFIG, .reg = TPU_REG_COUNT };
	TpuInsn func = { .op = TPU_ACTIVATE, .func = 9 };
	TpuInsn pool = { .op = TPU_ACTIVATE, .pool = TPU_POOL_COUNT };
	TpuInsn halt = { .op = TPU_HALT, .flags = 1 };
	uint8_t prog[3 * TPU_WORD_BYTES] = { 0 };

	encode_error(&mm, "field 'count' of matrix_multiply: 16777216 does not fit in 24 bits");
	encode_error(&rh, "read_host_memory has no field 'slot'");
	encode_error(&bad_op, "unknown opcode 0x55");
	encode_error(&flags, "field 'flags' of matrix_multiply: bits 0x18 are no flags of "
	             "matrix_multiply");
	encode_error(&reg, "field 'reg' of set_config: no register has code 12");
	encode_error(&func, "field 'func' of activate: no activation function has code 9");
	encode_error(&pool, "field 'pool' of activate: no pooling mode has code 3");
	encode_error(&halt, "halt has no field 'flags'");

	prog[0] = TPU_NOP;
	prog[16] = TPU_SYNC;
	prog[32] = 0x55;
	decode_error(prog, sizeof(prog), "byte 32: unknown opcode 0x55");
	prog[32] = TPU_HALT;
	prog[17] = 0x80;
	decode_error(prog, sizeof(prog), "byte 16: sync: bit 15 is set but lies in no field");
	prog[17] = 0;
	prog[16 + 15] = 0x01;
	decode_error(prog, sizeof(prog), "byte 16: sync: bit 120 is set but lies in no field");
	prog[16 + 15] = 0;
	prog[16] = TPU_SET_CONFIG;
	prog[18] = 40;
	decode_error(prog, sizeof(prog), "byte 16: field 'reg' of set_config: no register has code 40");
	decode_error(prog, 20, "a program of 20 bytes is not a whole number of 16-byte instructions");
}

static void check_decode_program(void)
{
	uint8_t words[2 * TPU_WORD_BYTES] = { TPU_SYNC, 0, 0x0f };
	TpuInsn *p;
	size_t n;
	Diag d;

	words[16] = TPU_HALT;
	diag_init(&d);
	check(tpu_decode_program(words, sizeof(words), &p, &n, &d) == ST_OK && n == 2 &&
	      p[0].op == TPU_SYNC && p[0].mask == 15 && p[1].op == TPU_HALT,
	      "decode program: two words");
	nnac_free(p);
	check(tpu_decode_program(words, 0, &p, &n, &d) == ST_OK && n == 0 && p != NULL,
	      "decode program: no words");
	nnac_free(p);
	check(d.n == 0, "decode program: no diagnostics");
	diag_free(&d);
}

/* ---- random round trips ---- */

/* A random legal value of field f: mostly uniform, sometimes 0 or the most
 * the field holds. */
static uint32_t random_value(Rng *r, const TpuField *f)
{
	uint64_t top = (1ull << f->width) - 1;
	uint32_t v;

	if (strcmp(f->name, "flags") == 0)
		return (uint32_t)rng_next(r) & tpu_op_flag_mask(f->op);
	if (strcmp(f->name, "reg") == 0)
		return (uint32_t)rng_range(r, 0, TPU_REG_COUNT - 1);
	if (strcmp(f->name, "func") == 0)
		return (uint32_t)rng_range(r, 0, TPU_FUNC_COUNT - 1);
	if (strcmp(f->name, "pool") == 0)
		return (uint32_t)rng_range(r, 0, TPU_POOL_COUNT - 1);
	switch (rng_range(r, 0, 5)) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)top;
	case 2:
		return (uint32_t)rng_range(r, 0, 16);
	}
	v = (uint32_t)(rng_next(r) & top);
	return v;
}

/* One random instruction through every path; false on the first mismatch. */
static bool round_trip(const TpuInsn *in, Diag *d)
{
	uint8_t w[TPU_WORD_BYTES];
	char line[512];
	TpuInsn back, *p = NULL;
	size_t n = 0;
	bool ok;
	int len;

	if (tpu_encode(in, w, d) != ST_OK || tpu_decode(w, &back, 0, d) != ST_OK ||
	    !insn_eq(&back, in))
		return false;
	len = tpu_format_insn(line, sizeof(line), in);
	if (len <= 0 || (size_t)len >= sizeof(line))
		return false;
	ok = tpu_assemble("random.s", line, (size_t)len, &p, &n, d) == ST_OK && n == 1 &&
	     insn_eq(&p[0], in);
	nnac_free(p);
	return ok;
}

static void check_random(void)
{
	Rng r = rng_seed(20240611);
	int bad = 0, tried = 0;
	Diag d;

	diag_init(&d);
	for (size_t i = 0; i < NOPS; i++)
		for (int k = 0; k < 2000; k++) {
			TpuInsn in = { .op = all_ops[i] };
			const TpuField *of[16];
			size_t nf = op_fields(all_ops[i], of, 16);

			for (size_t j = 0; j < nf; j++)
				tpu_field_set(&in, of[j], random_value(&r, of[j]));
			tried++;
			if (!round_trip(&in, &d)) {
				if (bad++ < 3) {
					printf("  random mismatch: ");
					tpu_print_insn(stdout, &in);
					print_diags(&d);
				}
			}
		}
	check(bad == 0 && tried == (int)NOPS * 2000,
	      "random: encode/decode/print/assemble round trip");
	check(d.n == 0, "random: no diagnostics");
	diag_free(&d);
}

/* ---- the assembler's edges ---- */

static void check_asm_edges(void)
{
	static const char crlf[] = "sync mask=3\r\n\r\nhalt\t# done\r\n";
	static const char nul[] = "nop\nsync mask=1\0halt\n";
	static const char two[] = "nop x=1\nfoo\nhalt\n";
	TpuInsn *p;
	size_t n;
	Diag d;
	char buf[32];
	TpuInsn mm = { .op = TPU_MATMUL, .flags = TPU_MM_ACC | TPU_MM_CONV, .count = 9 };
	int len;

	diag_init(&d);
	check(tpu_assemble("e.s", "", 0, &p, &n, &d) == ST_OK && n == 0, "asm: empty text");
	nnac_free(p);
	check(tpu_assemble("e.s", "# only\n\n  \t\n", 12, &p, &n, &d) == ST_OK && n == 0,
	      "asm: comments and blank lines");
	nnac_free(p);
	check(tpu_assemble("e.s", crlf, sizeof(crlf) - 1, &p, &n, &d) == ST_OK && n == 2 &&
	      p[0].op == TPU_SYNC && p[0].mask == 3 && p[1].op == TPU_HALT, "asm: CRLF lines");
	nnac_free(p);
	check(tpu_assemble("e.s", "halt", 4, &p, &n, &d) == ST_OK && n == 1 && p[0].op == TPU_HALT,
	      "asm: no final newline");
	nnac_free(p);
	check(tpu_assemble("e.s", "halt xyz", 4, &p, &n, &d) == ST_OK && n == 1,
	      "asm: reads only len bytes");
	nnac_free(p);
	check(d.n == 0, "asm: no diagnostics");
	check(tpu_assemble("nul.s", nul, sizeof(nul) - 1, &p, &n, &d) == ST_INVALID && !p &&
	      d.n == 1 && strncmp(d.msg[0].text, "nul.s:2:12: error: a NUL byte in the text", 41) == 0,
	      "asm: a NUL byte is refused where it is");
	diag_free(&d);
	check(tpu_assemble("two.s", two, sizeof(two) - 1, &p, &n, &d) == ST_INVALID && d.n == 2 &&
	      strncmp(d.msg[0].text, "two.s:1:5: error: nop has no field 'x'", 38) == 0 &&
	      strncmp(d.msg[1].text, "two.s:2:1: error: unknown mnemonic 'foo'", 40) == 0,
	      "asm: every bad line is reported");
	diag_free(&d);

	len = tpu_format_insn(buf, sizeof(buf), &mm);
	check(len == (int)strlen("matrix_multiply flags=acc|conv ub_row=0 acc_row=0 count=9") &&
	      strlen(buf) == sizeof(buf) - 1 && strncmp(buf, "matrix_multiply flags=acc|conv u", 31) == 0,
	      "format: cut short, NUL terminated, whole length returned");
	check(tpu_format_insn(NULL, 0, &mm) == len, "format: measures with no buffer");
	mm.op = (TpuOp)0x99;
	tpu_format_insn(buf, sizeof(buf), &mm);
	check(strcmp(buf, "unknown_opcode_0x99") == 0, "format: an unknown opcode prints");
}

/* ---- traces ---- */

static const char trace_asm[] =
	"read_host_memory host_addr=0 ub_row=0 count=8 len=256\n"
	"read_weights dram_addr=0 rows=256 cols=256\n"
	"matrix_multiply flags=switch ub_row=0 acc_row=0 count=8\n"
	"matrix_multiply flags=acc ub_row=0 acc_row=8 count=8\n"
	"activate ub_row=100 acc_row=0 count=16 func=relu\n"
	"sync mask=15\n"
	"halt\n";

/* index, unit, issue, start, done, stall: made by hand, not by the simulator */
static const TpuTraceRec trace_recs[] = {
	{ 0, TPU_UNIT_DMA, 3, 3, 150, TPU_STALL_NONE },
	{ 1, TPU_UNIT_WEIGHT, 4, 4, 1400, TPU_STALL_NONE },
	{ 2, TPU_UNIT_MATRIX, 5, 1656, 2174, TPU_STALL_WEIGHT },
	{ 3, TPU_UNIT_MATRIX, 6, 1664, 2182, TPU_STALL_UNIT },
	{ 4, TPU_UNIT_ACT, 7, 2182, 2198, TPU_STALL_RAW },
	{ 5, TPU_UNIT_NONE, 8, 2198, 2198, TPU_STALL_SYNC },
	{ 6, TPU_UNIT_NONE, 2199, 2199, 2200, TPU_STALL_NONE },
};
#define NRECS (sizeof(trace_recs) / sizeof(trace_recs[0]))

static void check_trace_text(const TpuInsn *p)
{
	char *buf = NULL, *line, *save = NULL, insn[512];
	size_t len = 0, k = 0;
	FILE *f = open_memstream(&buf, &len);
	bool ok = true;

	tpu_trace_text(f, p, trace_recs, NRECS);
	fclose(f);
	line = strtok_r(buf, "\n", &save);
	check(line && strstr(line, "issue") && strstr(line, "stall"), "trace text: header line");
	while ((line = strtok_r(NULL, "\n", &save))) {
		const TpuTraceRec *r = &trace_recs[k < NRECS ? k : 0];
		unsigned idx;
		uint64_t is, st, dn;
		char stall[32], unit[32];

		tpu_format_insn(insn, sizeof(insn), &p[r->index]);
		ok &= k < NRECS &&
		      sscanf(line, "%u %" SCNu64 " %" SCNu64 " %" SCNu64 " %31s %31s", &idx, &is, &st,
		             &dn, stall, unit) == 6 &&
		      idx == r->index && is == r->issue && st == r->start && dn == r->done &&
		      strcmp(stall, tpu_stall_name(r->stall)) == 0 &&
		      strcmp(unit, tpu_unit_name(r->unit)) == 0 &&
		      strlen(line) > strlen(insn) && strcmp(line + strlen(line) - strlen(insn), insn) == 0;
		k++;
	}
	check(ok && k == NRECS, "trace text: one line per record: cycles, stall, unit, disassembly");
	free(buf);
}

/* A JSON validator (RFC 8259 grammar, no semantics) counting the strings
 * equal to probe. */
typedef struct Json {
	const char *s;
	const char *probe;
	int hits;
} Json;

static void json_ws(Json *j)
{
	while (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')
		j->s++;
}

static bool json_value(Json *j, int depth);

static bool json_string(Json *j)
{
	const char *start = ++j->s;

	for (; *j->s != '"'; j->s++) {
		if ((unsigned char)*j->s < 0x20)
			return false;
		if (*j->s == '\\') {
			j->s++;
			if (*j->s == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", j->s[i]) || !j->s[i])
						return false;
				j->s += 4;
			} else if (!*j->s || !strchr("\"\\/bfnrt", *j->s)) {
				return false;
			}
		}
	}
	if (j->probe && (size_t)(j->s - start) == strlen(j->probe) &&
	    memcmp(start, j->probe, strlen(j->probe)) == 0)
		j->hits++;
	j->s++;
	return true;
}

static bool json_number(Json *j)
{
	const char *s = j->s;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return false;
	if (*s == '.') {
		if (!(*++s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	j->s = s;
	return true;
}

/* '[' value (',' value)* ']' or '{' string ':' value (',' ...)* '}' */
static bool json_container(Json *j, int depth, char close)
{
	j->s++;
	json_ws(j);
	if (*j->s == close) {
		j->s++;
		return true;
	}
	for (;;) {
		if (close == '}') {
			if (*j->s != '"' || !json_string(j))
				return false;
			json_ws(j);
			if (*j->s++ != ':')
				return false;
		}
		if (!json_value(j, depth + 1))
			return false;
		json_ws(j);
		if (*j->s == close) {
			j->s++;
			return true;
		}
		if (*j->s++ != ',')
			return false;
		json_ws(j);
	}
}

static bool json_value(Json *j, int depth)
{
	json_ws(j);
	if (depth > 64)
		return false;
	switch (*j->s) {
	case '{':
		return json_container(j, depth, '}');
	case '[':
		return json_container(j, depth, ']');
	case '"':
		return json_string(j);
	case 't':
		return strncmp(j->s, "true", 4) == 0 && (j->s += 4);
	case 'f':
		return strncmp(j->s, "false", 5) == 0 && (j->s += 5);
	case 'n':
		return strncmp(j->s, "null", 4) == 0 && (j->s += 4);
	}
	return json_number(j);
}

/* Whether text is one JSON value; the number of strings equal to probe. */
static bool json_valid(const char *text, const char *probe, int *hits)
{
	Json j = { text, probe, 0 };
	bool ok = json_value(&j, 0);

	json_ws(&j);
	*hits = j.hits;
	return ok && *j.s == 0;
}

static void check_json_validator(void)
{
	int h;

	check(json_valid("{\"a\":[1,-2.5e3,true,null,\"x\\\"\\u00e9\"]}", "a", &h) && h == 1 &&
	      !json_valid("{\"a\":[1,]}", NULL, &h) && !json_valid("{\"a\" 1}", NULL, &h) &&
	      !json_valid("[\"\x01\"]", NULL, &h) && !json_valid("[01]", NULL, &h) &&
	      !json_valid("[1] [2]", NULL, &h), "json validator: accepts JSON, refuses non-JSON");
}

/* The events python3's json module reads from path, one line each:
 * "TRACK ts dur index stall insn". */
static char *python_events(const char *path)
{
	static const char script[] =
		"import json,sys\n"
		"t=json.load(open(sys.argv[1]))\n"
		"ev=t['traceEvents']\n"
		"tn={e['tid']:e['args']['name'] for e in ev\n"
		"    if e['ph']=='M' and e['name']=='thread_name'}\n"
		"for n in ['host DMA','weight FIFO','matrix unit','activation unit']:\n"
		"  print('track', n, list(tn.values()).count(n))\n"
		"for e in ev:\n"
		"  if e['ph']=='X':\n"
		"    a=e['args']\n"
		"    print('X %s|%.6f|%.6f|%d|%s|%s' % (tn[e['tid']], e['ts'], e['dur'],\n"
		"          a['index'], a['stall'], a['insn']))\n";
	char cmd[1200], *out = NULL;
	size_t cap = 0, len = 0, got;
	char chunk[4096];
	FILE *py, *sf;
	char spath[] = "/tmp/nnac-tpuisa-pyXXXXXX";
	int fd = mkstemp(spath);

	if (fd < 0 || !(sf = fdopen(fd, "w")))
		return NULL;
	fputs(script, sf);
	fclose(sf);
	snprintf(cmd, sizeof(cmd), "python3 %s %s", spath, path);
	if ((py = popen(cmd, "r"))) {
		while ((got = fread(chunk, 1, sizeof(chunk), py)) > 0) {
			if (len + got + 1 > cap) {
				cap = 2 * (len + got + 1);
				out = realloc(out, cap);
			}
			memcpy(out + len, chunk, got);
			len += got;
			out[len] = 0;
		}
		if (pclose(py) != 0) {
			free(out);
			out = NULL;
		}
	}
	unlink(spath);
	return out;
}

static void check_trace_chrome(const TpuInsn *p)
{
	static const char *const tracks[] = { "issue", "host DMA", "weight FIFO", "matrix unit",
	                                      "activation unit" };
	char path[] = "/tmp/nnac-tpuisa-traceXXXXXX";
	int fd = mkstemp(path), hits;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	size_t len;
	char *text, *py;
	Diag d;
	Status st;

	diag_init(&d);
	if (!f) {
		check(false, "chrome trace: cannot make a temporary file");
		return;
	}
	st = tpu_trace_chrome(f, p, trace_recs, NRECS, 700e6, &d);
	fclose(f);
	check(st == ST_OK && d.n == 0, "chrome trace: writes");
	text = read_file(path, &len);
	check(text && json_valid(text, "thread_name", &hits) && hits == 5,
	      "chrome trace: valid JSON with five thread_name records");
	for (size_t t = 1; text && t < sizeof(tracks) / sizeof(tracks[0]); t++)
		check(json_valid(text, tracks[t], &hits) && hits == 1, "%s: track named once",
		      tracks[t]);
	check(text && json_valid(text, "X", &hits) && hits == (int)NRECS,
	      "chrome trace: one complete event per record");
	py = python_events(path);
	check(py != NULL, "chrome trace: python3 json reads it");
	if (py) {
		char want[700], insn[512];
		bool ok = strstr(py, "track host DMA 1\ntrack weight FIFO 1\ntrack matrix unit 1\n"
		                 "track activation unit 1\n") != NULL;

		for (size_t i = 0; i < NRECS; i++) {
			const TpuTraceRec *r = &trace_recs[i];
			uint64_t end = r->done;

			for (size_t j = i + 1; j < NRECS; j++)
				if (trace_recs[j].unit == r->unit) {
					end = trace_recs[j].start < end ? trace_recs[j].start : end;
					break;
				}
			tpu_format_insn(insn, sizeof(insn), &p[r->index]);
			snprintf(want, sizeof(want), "X %s|%.6f|%.6f|%u|%s|%s\n", tracks[r->unit],
			         (double)r->start / 700, (double)(end - r->start) / 700,
			         (unsigned)r->index, tpu_stall_name(r->stall), insn);
			ok &= strstr(py, want) != NULL;
			if (!strstr(py, want))
				printf("  missing: %s", want);
		}
		check(ok, "chrome trace: tracks, times in microseconds, clipped ends, args");
	}
	st = tpu_trace_chrome(stdout, p, trace_recs, NRECS, 0, &d);
	check(st == ST_INVALID && d.n == 1, "chrome trace: a zero clock is refused");
	diag_free(&d);
	if ((f = fopen("/dev/null", "w"))) {
		test_alloc_fail_once(1);
		st = tpu_trace_chrome(f, p, trace_recs, NRECS, 700e6, &d);
		test_alloc_restore();
		fclose(f);
	}
	check(f && st == ST_NOMEM && d.n == 1 && strstr(d.msg[0].text, "out of memory"),
	      "chrome trace: its allocation failing is out of memory");
	free(py);
	free(text);
	unlink(path);
	diag_free(&d);
}

static void check_traces(void)
{
	TpuInsn *p = NULL;
	size_t n = 0;
	Diag d;

	diag_init(&d);
	if (tpu_assemble("trace.s", trace_asm, sizeof(trace_asm) - 1, &p, &n, &d) != ST_OK ||
	    n != NRECS) {
		check(false, "traces: the program assembles");
		print_diags(&d);
	} else {
		check_trace_text(p);
		check_trace_chrome(p);
	}
	nnac_free(p);
	diag_free(&d);
}

/* ---- docs/tpu.md ---- */

/* The section of doc under "### `MNEMONIC`", up to the next "### ". */
static const char *doc_section(const char *doc, const char *mn, size_t *len)
{
	char head[64];
	const char *s, *e;

	snprintf(head, sizeof(head), "\n### `%s`", mn);
	if (!(s = strstr(doc, head)))
		return NULL;
	s += 1;
	e = strstr(s + 4, "\n### ");
	*len = e ? (size_t)(e - s) : strlen(s);
	return s;
}

static void check_doc(const char *path)
{
	size_t len, slen = 0;
	char *doc = read_file(path, &len);

	if (!doc) {
		check(false, "%s: cannot read", path);
		return;
	}
	for (size_t i = 0; i < NOPS; i++) {
		const char *mn = tpu_op_name(all_ops[i]);
		const char *sec = doc_section(doc, mn, &slen);
		const TpuField *of[16];
		size_t nf = op_fields(all_ops[i], of, 16);
		bool ok = sec != NULL;
		char row[128], code[32];

		snprintf(code, sizeof(code), "0x%02x", (unsigned)all_ops[i]);
		for (size_t j = 0; ok && j < nf; j++) {
			char *sub = strndup(sec, slen);

			snprintf(row, sizeof(row), "| %d..%d | `%s` |", of[j]->lo,
			         of[j]->lo + of[j]->width - 1, of[j]->name);
			ok &= strstr(sub, row) != NULL;
			free(sub);
		}
		if (ok) {
			char *sub = strndup(sec, slen);

			ok &= strstr(sub, code) != NULL;
			free(sub);
		}
		check(ok, "%s: %s", path, mn);
	}
	free(doc);
}

/* scripts/tpu_isa_doc.py --check: the generated blocks of DOC are current
 * (the script lies at ../scripts/ from DOC's folder). */
static void check_doc_current(const char *doc)
{
	char cmd[2200], dir[1024];
	const char *slash = strrchr(doc, '/');
	int rc;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - doc) : 1, slash ? doc : ".");
	snprintf(cmd, sizeof(cmd), "python3 '%s/../scripts/tpu_isa_doc.py' --check '%s'", dir, doc);
	rc = system(cmd);
	check(rc == 0, "%s: its generated tables are current (scripts/tpu_isa_doc.py --check)", doc);
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: nnac-tpuisatest ASM_DIR BAD_DIR [DOC]\n");
		return 2;
	}
	run_dir(argv[1], false);
	run_dir(argv[2], true);
	check_tables();
	check_golden_word();
	check_single_bits();
	check_codec_errors();
	check_decode_program();
	check_random();
	check_asm_edges();
	check_json_validator();
	check_traces();
	if (argc == 4) {
		check_doc(argv[3]);
		check_doc_current(argv[3]);
	}
	return test_summary("tpu-isa");
}
