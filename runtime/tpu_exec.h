/*
 * Running a TPU plan: the program's segments on the simulator (or the
 * matrix layers on the integer reference), the host steps' loop programs
 * on the loop interpreter, with the host CPU's formatting between them: graph inputs
 * and host results quantized into host memory's image layout, program
 * results read back and dequantized.
 *
 * The integer reference computes each matrix layer by its definition, in
 * plain loops over the image view (tpu_elem): int8 x int8 products summed
 * in int32, then the activate instruction's arithmetic (docs/tpu.md).  In int8 mode
 * the simulator must match it bit for bit on every tensor the program
 * writes to host memory.
 */
#ifndef NNAC_TPU_EXEC_H
#define NNAC_TPU_EXEC_H

#include "tpu_plan.h"
#include "tpu_sim.h"

typedef enum TpuEngine { TPU_ENGINE_SIM, TPU_ENGINE_REF } TpuEngine;

typedef struct TpuExec {
	TpuCounters counters;        /* summed over the segments (SIM) */
	TpuTraceRec *trace;          /* with want_trace: every executed instruction */
	size_t ntrace;
	bool want_trace;
	/* after a run: per TpuTensor, its quantized data in the graph tensor's
	 * order (int8, or bf16 bits), NULL for tensors only the host touched */
	void **q;
	int nq;
} TpuExec;

/*
 * Runs plan p on inputs (one Value per graph input, p->ngraph_in); outputs
 * get one Value per graph output in out_arena.  Needs no graph: the host
 * steps are the plan's loop programs.  Errors go to d.
 */
Status tpu_exec_run(TpuExec *x, const TpuPlan *p, TpuEngine engine, const Value *inputs,
                    Value *outputs, Arena *out_arena, Diag *d);
void tpu_exec_free(TpuExec *x);

#endif
