/*
 * The TPU simulator: executes a decoded program functionally (bit-exact
 * integer arithmetic in int8 mode) and times it with an event model of the
 * machine's units (docs/tpu.md, "Timing").  It produces the counters of the
 * TPU paper's Table 3 and, optionally, one trace record per instruction.
 */
#ifndef NNAC_TPU_SIM_H
#define NNAC_TPU_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "tpu_isa.h"

/* Why an instruction started later than it was issued. */
typedef enum TpuStall {
	TPU_STALL_NONE,
	TPU_STALL_WEIGHT,     /* its weight tile had not arrived from weight DRAM */
	TPU_STALL_SHIFT,      /* its weight tile was still shifting into the array */
	TPU_STALL_RAW,        /* it reads rows an earlier activate or matrix_multiply writes */
	TPU_STALL_INPUT,      /* it reads rows a read_host_memory is still bringing in */
	TPU_STALL_UNIT,       /* its unit was busy with an earlier instruction */
	TPU_STALL_FIFO,       /* read_weights: the weight FIFO was full */
	TPU_STALL_SYNC,       /* sync or halt: waiting for the units */
	TPU_STALL_WAR,        /* it overwrites rows an earlier instruction still reads */
	TPU_STALL_COUNT
} TpuStall;

const char *tpu_stall_name(TpuStall s);   /* "-", "weight", "shift", "raw", ... */

/* One executed instruction. */
typedef struct TpuTraceRec {
	uint32_t index;       /* position in the program */
	TpuUnit unit;
	uint64_t issue;       /* cycle it left the issue stage */
	uint64_t start;       /* cycle its unit began it */
	uint64_t done;        /* cycle its effect is complete */
	TpuStall stall;       /* the constraint that set start, when start > issue */
} TpuTraceRec;

/* The counters; the cycle categories partition `cycles` (Table 3). */
typedef struct TpuCounters {
	uint64_t cycles;          /* until halt completes */
	uint64_t array_active;    /* cycles the array multiplied */
	uint64_t weight_stall;    /* matrix unit idle waiting for weight DRAM */
	uint64_t weight_shift;    /* matrix unit idle waiting for a tile to shift in */
	uint64_t raw_stall;       /* matrix unit idle waiting for an earlier layer's results */
	uint64_t input_stall;     /* matrix unit idle waiting for host input */
	uint64_t non_matrix;      /* the rest: matrix unit idle for any other reason */
	uint64_t useful_macs;     /* multiply-adds on used tile rows and columns */
	uint64_t unused_macs;     /* array_active * height * width - useful_macs */
	uint64_t insns;           /* instructions executed */
	uint64_t weight_bytes;    /* read from weight DRAM */
	uint64_t host_bytes;      /* moved over the host interface */
	double seconds;           /* cycles / clock */
	double tops;              /* achieved: 2 * useful_macs / seconds / 1e12 */
	double peak_tops;         /* 2 * height * width * clock / 1e12 */
} TpuCounters;

typedef struct TpuSim TpuSim;

/*
 * A machine of configuration cfg over host memory host[0 .. host_bytes)
 * (read and written in place, owned by the caller) and weight DRAM
 * wdram[0 .. wdram_bytes) (read only).  NULL when out of memory; an
 * unusable configuration (a size not positive, height > width, ...) is
 * ST_INVALID from tpu_sim_run.
 */
TpuSim *tpu_sim_new(const TpuConfig *cfg, uint8_t *host, uint64_t host_bytes,
                    const uint8_t *wdram, uint64_t wdram_bytes);
void tpu_sim_free(TpuSim *s);

/*
 * Runs prog[0 .. n) from the reset state until halt.  With trace non-NULL,
 * it receives one record per executed instruction (*ntrace of
 * them; the caller frees them with nnac_free; NULL and 0 after an error).  An address
 * out of range, a weight tile larger than the array or with nonzero
 * padding, a matrix_multiply with no tile loaded, a read_weights into a
 * full FIFO that no earlier switch empties, or a program that ends without
 * halt is ST_INVALID naming the instruction's index and mnemonic; the
 * machine state is then unspecified but nothing crashes.
 */
Status tpu_sim_run(TpuSim *s, const TpuInsn *prog, size_t n, TpuTraceRec **trace,
                   size_t *ntrace, Diag *d);

/*
 * Functional execution on (the default) or off.  Off, tpu_sim_run only
 * times the program: every check still runs, but no data moves, so host
 * memory and weight DRAM may be NULL (their sizes still bound the
 * addresses) and a model's worth of multiplications costs nothing.
 */
void tpu_sim_set_functional(TpuSim *s, bool on);

const TpuCounters *tpu_sim_counters(const TpuSim *s);

/* The raw 32 bits of accumulator row `row`, column col after a functional
 * run (int32, or fp32 bits in bf16 mode); 0 outside the accumulators or
 * before any functional run.  For tests and debugging. */
uint32_t tpu_sim_acc_word(const TpuSim *s, uint64_t row, int col);

/* Prints the counter table (Table 3 layout: each cycle category with its
 * share of all cycles, then MACs, TOPS against peak, traffic). */
void tpu_counters_print(FILE *f, const TpuCounters *c);

#endif
