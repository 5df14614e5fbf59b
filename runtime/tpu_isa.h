/*
 * The TPU instruction set: the decoded form of an instruction, the machine
 * parameters a program is built for, the 128-bit encoding, and the textual
 * assembly form.  The opcodes, fields, registers and modes are declared once
 * in tpu_isa.def; docs/tpu.md describes the semantics and the timing.
 *
 * The machine: a height x width systolic array of MACs holding one weight
 * tile (height input channels x width output channels, weight stationary,
 * double buffered); a unified buffer of rows of width elements (int8 or
 * bf16); accumulators of rows of width 32-bit values (int32 or fp32); a
 * weight FIFO of fifo_depth tiles fed from weight DRAM; param_slots tables of
 * per-column activation parameters; and host memory reached over PCIe.
 */
#ifndef NNAC_TPU_ISA_H
#define NNAC_TPU_ISA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "diag.h"

typedef enum TpuOp {
#define TPU_OP(id, code, mn, unit, syn) TPU_##id = code,
#include "tpu_isa.def"
} TpuOp;

typedef enum TpuUnit { TPU_UNIT_NONE, TPU_UNIT_DMA, TPU_UNIT_WEIGHT, TPU_UNIT_MATRIX,
                       TPU_UNIT_ACT, TPU_UNIT_COUNT } TpuUnit;

typedef enum TpuReg {
#define TPU_REG(id, code, name, syn) TPU_REG_##id = code,
#include "tpu_isa.def"
	TPU_REG_COUNT
} TpuReg;

typedef enum TpuFunc {
#define TPU_FUNC(id, code, name, syn) TPU_FUNC_##id = code,
#include "tpu_isa.def"
	TPU_FUNC_COUNT
} TpuFunc;

typedef enum TpuPool {
#define TPU_POOL(id, code, name, syn) TPU_POOL_##id = code,
#include "tpu_isa.def"
	TPU_POOL_COUNT
} TpuPool;

enum {
#define TPU_FLAG(op, id, bit, name, syn) TPU_##id = bit,
#include "tpu_isa.def"
};

/* SYNC mask bits, one per unit that executes instructions. */
enum { TPU_SYNC_DMA = 1, TPU_SYNC_WEIGHT = 2, TPU_SYNC_MATRIX = 4, TPU_SYNC_ACT = 8 };

/* Precision modes (TPU_REG_PRECISION). */
enum { TPU_INT8 = 0, TPU_BF16 = 1 };

/* Bytes of one weight DRAM parameter entry (TPU_RW_PARAM): bias (int32, or
 * fp32 bits in bf16 mode), acc_scale (fp32), out_scale (fp32), zero point
 * (int32), little endian. */
enum { TPU_PARAM_BYTES = 16 };

/* Bytes of one encoded instruction. */
enum { TPU_WORD_BYTES = 16 };

/* One decoded instruction; members an opcode does not encode are 0. */
typedef struct TpuInsn {
	TpuOp op;
	uint32_t flags;
	uint32_t mask;
	uint32_t reg;
	uint32_t value;
	uint32_t host_addr;
	uint32_t dram_addr;
	uint32_t ub_row;
	uint32_t acc_row;
	uint32_t count;
	uint32_t len;
	uint32_t rows;
	uint32_t cols;
	uint32_t slot;
	uint32_t func;
	uint32_t pool;
} TpuInsn;

/* The machine a program is built for and simulated on. */
typedef struct TpuConfig {
	int height, width;        /* array: input channels x output channels */
	int64_t ub_rows;          /* unified-buffer rows (width elements each) */
	int64_t acc_rows;         /* accumulator rows (width 32-bit values each) */
	int fifo_depth;           /* weight tiles the FIFO holds */
	int param_slots;          /* activation parameter tables */
	double clock_hz;
	double dram_bytes_per_s;  /* weight DRAM -> weight FIFO */
	double host_bytes_per_s;  /* host memory <-> unified buffer (PCIe) */
	int precision;            /* TPU_INT8 or TPU_BF16: the numeric mode of the program */
} TpuConfig;

/* The tables of tpu_isa.def. */
const char *tpu_op_name(TpuOp op);            /* mnemonic; NULL for an unknown code */
TpuUnit tpu_op_unit(TpuOp op);
const char *tpu_unit_name(TpuUnit u);          /* "dma", "weight", "matrix", "act", "issue" */
const char *tpu_reg_name(uint32_t reg);        /* NULL when out of range */
const char *tpu_func_name(uint32_t func);
const char *tpu_pool_name(uint32_t pool);

/* One field of one opcode, as tpu_isa.def declares it. */
typedef struct TpuField {
	TpuOp op;
	const char *name;         /* the TpuInsn member holding its value */
	size_t offset;            /* offsetof(TpuInsn, name) */
	int lo, width;            /* bits lo .. lo + width - 1 of the 128-bit word */
	const char *synopsis;
} TpuField;

/* Every field of every opcode in tpu_isa.def order (*n of them). */
const TpuField *tpu_fields(size_t *n);
/* The value of field f in an instruction. */
uint32_t tpu_field_get(const TpuInsn *in, const TpuField *f);
void tpu_field_set(TpuInsn *in, const TpuField *f, uint32_t v);
const char *tpu_op_synopsis(TpuOp op);        /* NULL for an unknown code */
/* The flag bits tpu_isa.def declares for op (0 when it has none), and the
 * name of one of them (NULL when bit is not one of op's flags). */
uint32_t tpu_op_flag_mask(TpuOp op);
const char *tpu_flag_name(TpuOp op, uint32_t bit);

/* Encoding: word receives TPU_WORD_BYTES bytes.  A field value wider than
 * its field, or an unknown opcode, is ST_INVALID naming the field. */
Status tpu_encode(const TpuInsn *in, uint8_t *word, Diag *d);
/* Decoding: an unknown opcode, or bits set outside the opcode's fields, is
 * ST_INVALID naming the byte offset `at` of the word (for messages). */
Status tpu_decode(const uint8_t *word, TpuInsn *out, size_t at, Diag *d);

/* The textual form: one instruction per line, "mnemonic field=value ...",
 * fields in tpu_isa.def order, flags as names joined by '|', registers,
 * functions and pools by name, '#' comments, blank lines allowed. */
void tpu_print_insn(FILE *f, const TpuInsn *in);   /* one line, '\n' included */
/* The same text without the newline into buf[0 .. cap) (NUL terminated,
 * cut short when cap is too small); returns the length of the whole text,
 * as snprintf does. */
int tpu_format_insn(char *buf, size_t cap, const TpuInsn *in);
/* Assembles text (named path for messages) into an array to free with
 * nnac_free; errors
 * are "PATH:LINE:COL: error: ..." through diag_at. */
Status tpu_assemble(const char *path, const char *text, size_t len, TpuInsn **prog, size_t *n,
                    Diag *d);
/* Decodes a whole program of n words (an array to free with nnac_free);
 * the reverse of tpu_encode over each. */
Status tpu_decode_program(const uint8_t *bytes, size_t size, TpuInsn **prog, size_t *n, Diag *d);

#endif
