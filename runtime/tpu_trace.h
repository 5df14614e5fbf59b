/*
 * Traces of simulated TPU programs: a disassembly listing annotated with the
 * cycles of each executed instruction, and the Chrome trace-event JSON that
 * chrome://tracing and Perfetto (ui.perfetto.dev) display as one track per
 * unit.  The records come from tpu_sim_run (runtime/tpu_sim.h).
 */
#ifndef NNAC_TPU_TRACE_H
#define NNAC_TPU_TRACE_H

#include <stddef.h>
#include <stdio.h>

#include "tpu_sim.h"

/*
 * One line per record after a header line:
 *
 *     index  issue  start  done  stall  unit  instruction
 *
 * cycles in decimal, the stall reason by tpu_stall_name, the unit by
 * tpu_unit_name and the instruction as tpu_print_insn writes it.  Every
 * record's index must lie in prog (the program the records come from); with
 * prog NULL the instruction reads "?".
 */
void tpu_trace_text(FILE *f, const TpuInsn *prog, const TpuTraceRec *rec, size_t n);

/*
 * {"traceEvents": [...]}: process 1 "TPU"; thread metadata for the tracks
 * "issue" (tid 0: nop, sync, set_config, halt), "host DMA" (1), "weight
 * FIFO" (2), "matrix unit" (3), "activation unit" (4), always all five;
 * then one complete event ("ph": "X") per record, ts and dur in
 * microseconds at clock_hz, args holding the index, the cycles, the stall
 * reason and the disassembly.  A unit's event ends at its done cycle or at
 * the start of the unit's next instruction, whichever is earlier, so that a
 * track's events never overlap (a matrix_multiply's results complete after
 * the array has moved on to the next one); args.done keeps the true cycle.
 * clock_hz must be positive; ST_INVALID otherwise, ST_IO when writing fails.
 */
Status tpu_trace_chrome(FILE *f, const TpuInsn *prog, const TpuTraceRec *rec, size_t n,
                        double clock_hz, Diag *d);

#endif
