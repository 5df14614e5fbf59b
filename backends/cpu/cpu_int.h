/*
 * The CPU backend's internal interface, shared by the module builder
 * (cpu_codegen.c: kernels, loops, index expressions, nnac_main), the
 * statement emitter (cpu_emit.c) and the object writer (cpu_object.c).
 *
 * A kernel becomes one internal function whose parameters are the root
 * buffers (views resolved) it touches, each its own noalias pointer; an
 * operand's address is its root parameter plus the view's offset plus the
 * flat row-major offset of its indices, all i64.  While a kernel is built,
 * vars[f] holds the induction value (an i64 phi) of `for` node f.
 */
#ifndef NNAC_CPU_INT_H
#define NNAC_CPU_INT_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "cpu_codegen.h"

typedef struct CpuEmit {
	const LoopProgram *p;
	Diag *d;
	LLVMContextRef ctx;
	LLVMModuleRef mod;
	LLVMBuilderRef b;
	LLVMValueRef fn;         /* the kernel function being built */
	LLVMValueRef fscratch;   /* [4 x double] in its entry block, for helper operands */
	LLVMValueRef iscratch;   /* [4 x i64] likewise */
	int kernel;              /* the kernel being built */
	LLVMValueRef *vars;      /* per `for` node: its induction value */
	LLVMValueRef *param;     /* per buffer: its root's parameter in this kernel, or NULL */
	int *root;               /* per buffer: the buffer owning its memory */
	int64_t *root_off;       /* per buffer: its element offset in the root */
	LLVMTypeRef i1, i8, i16, i32, i64, f32, f64, ptr;   /* ptr: i8* */
	Status st;               /* first failure; ST_OK while building */
} CpuEmit;

/* cpu_emit.c: one statement at the builder's position. */
Status cpu_emit_stmt(CpuEmit *e, int node);
/* cpu_emit.c, for mac statements: the accumulator's element type and
 * address, and one step of the statement on an accumulator value held
 * elsewhere (the new value to hold). */
LLVMTypeRef cpu_emit_acc_type(CpuEmit *e, int node);
LLVMValueRef cpu_emit_acc_ptr(CpuEmit *e, int node);
LLVMValueRef cpu_emit_mac_step(CpuEmit *e, int node, LLVMValueRef acc);
/* cpu_codegen.c: index expression ex as an i64 value. */
LLVMValueRef cpu_emit_expr(CpuEmit *e, int ex);
/* cpu_codegen.c: "FILE: kernel 'K': statement at L:C: MSG" into e->d. */
Status cpu_error(CpuEmit *e, int node, Status st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* cpu_object.c: the target machine for opt (NULL: the host's, O3). */
Status cpu_target_machine(const CpuOptions *opt, LLVMTargetMachineRef *tm, Diag *d);
/* cpu_object.c: optimizes mod, emits it as an object, links a shared object. */
Status cpu_object_link(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level,
                       uint8_t **so, size_t *so_len, Diag *d);

#endif
