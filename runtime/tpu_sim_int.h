/*
 * The TPU simulator's internals, shared by its three files:
 *   tpu_sim.c       the machine state, the run loop, the checks every
 *                   instruction passes before it executes, the counters;
 *   tpu_sim_exec.c  the functional effect of each instruction (bit-exact);
 *   tpu_sim_time.c  the event model that times each instruction.
 *
 * An instruction is first checked (sim_check fills a SimAccess with the
 * rows it reads and writes, every address already known to be in range),
 * then timed, then executed.  Timing and execution both see the program in
 * order; the timing model only decides when things happen, never what.
 */
#ifndef NNAC_TPU_SIM_INT_H
#define NNAC_TPU_SIM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "tpu_sim.h"

/* Rows lo..hi inclusive of the unified buffer or the accumulators. */
typedef struct SimRange {
	bool on;
	uint64_t lo, hi;
} SimRange;

/* What one checked instruction touches. */
typedef struct SimAccess {
	SimRange ub_read, ub_write;     /* unified-buffer rows */
	SimRange acc_read, acc_write;   /* accumulator rows */
	uint64_t bytes;                 /* over the host interface or from weight DRAM */
	uint64_t busy;                  /* cycles its unit is occupied (matmul, activate) */
} SimAccess;

/* One weight tile: in the FIFO, or in the array. */
typedef struct SimTile {
	int rows, cols;      /* used extent (input x output channels) */
	int precision;       /* TPU_INT8 or TPU_BF16, the mode it was read in */
	uint64_t arrival;    /* cycle its last byte reached the FIFO */
	void *data;          /* [height][width], int8_t or float; zero padded */
} SimTile;

/* One activation parameter entry (TPU_PARAM_BYTES in weight DRAM). */
typedef struct SimParam {
	uint32_t bias;       /* int32, or fp32 bits in bf16 mode */
	float acc_scale, out_scale;
	int32_t zp;
} SimParam;

/* An accumulator word: int32 (kept as uint32 so that sums wrap) or fp32. */
typedef union SimAcc {
	uint32_t u;
	float f;
} SimAcc;

/* A scoreboard entry: rows an unfinished instruction reads or writes. */
typedef struct SimBoard {
	uint64_t lo, hi;     /* rows, inclusive */
	uint64_t until;      /* cycle the access is over */
	uint8_t acc;         /* accumulator rows (else unified buffer) */
	uint8_t write;
	uint8_t unit;        /* TpuUnit of the instruction */
	uint8_t input;       /* written by read_host_memory */
} SimBoard;

/* The event model's state (tpu_sim_time.c). */
typedef struct SimTime {
	uint64_t issue;                   /* the next instruction's issue cycle */
	uint64_t unit_free[TPU_UNIT_COUNT];   /* cycle the unit can start its next instruction */
	uint64_t unit_done[TPU_UNIT_COUNT];   /* latest done of the unit's instructions */
	uint64_t mm_end;                  /* the matrix unit's end of array activity */
	uint64_t end;                     /* halt's completion */
	uint64_t tile_start;              /* start of the matmul that loaded the array's tile */
	bool tile_started;                /* the array has held a tile */
	uint64_t *fifo_free;              /* [fifo_depth]: cycle each FIFO slot empties */
	uint64_t *param_ready;            /* [param_slots]: cycle its last load completes */
	uint64_t *param_read;             /* [param_slots]: cycle its last reader finishes */
	SimBoard *board;
	int nboard, capboard, prune_at;
} SimTime;

struct TpuSim {
	TpuConfig cfg;
	uint8_t *host;
	uint64_t host_bytes;
	const uint8_t *wdram;
	uint64_t wdram_bytes;
	bool functional;

	uint32_t reg[TPU_REG_COUNT];
	uint8_t *ub;          /* [ub_rows][width * 2] bytes; int8 at byte e, bf16 at 2e (LE) */
	SimAcc *acc;          /* [acc_rows][width] */
	SimParam *param;      /* [param_slots][width] */
	SimTile *fifo;        /* [fifo_depth], a ring from fifo_head */
	int fifo_head, fifo_count;
	int popped_slot;      /* the FIFO slot the last switch emptied */
	SimTile array;        /* the tile being multiplied */
	bool array_loaded;
	float *xbuf;          /* [height]: one bf16 input vector as floats */
	float *wbuf;          /* [width]: one activated output row, or bf16 sums */
	int32_t *ibuf;        /* [width]: int8 sums of one vector */

	SimTime t;
	TpuCounters ctr;
};

/* tpu_sim.c */
int sim_esize(const TpuSim *s);
const char *sim_op_name(TpuOp op);
TpuUnit sim_op_unit(TpuOp op);

/* tpu_sim_exec.c: the effect of a checked instruction.  read_weights fills
 * the FIFO slot after the last one, before the push. */
void sim_exec_insn(TpuSim *s, const TpuInsn *in);

/* tpu_sim_time.c */
void sim_time_reset(TpuSim *s);
/* Times a checked instruction (a switch has already popped its tile into
 * s->array), filling rec and the counters; ST_NOMEM when the scoreboard
 * cannot grow. */
Status sim_time_insn(TpuSim *s, const TpuInsn *in, const SimAccess *a, TpuTraceRec *rec);
/* Closes the counters at halt. */
void sim_time_finish(TpuSim *s);

#endif
