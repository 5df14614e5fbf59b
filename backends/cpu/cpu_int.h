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
 *
 * A statement with loaded indices first reads and checks them (cpu_emit.c,
 * guard_loads): out of range, it claims the NnacFail record of the
 * function's NnacPar and returns from the function (ABI 5); in range, the
 * checked values (loaded[arg][dim]) stand for those indices in its
 * addresses.  Contractions, sunk mac blocks and fused bias copies take no
 * statement with loads.
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
	int *args, nargs;        /* its root buffers, in parameter order */
	LLVMValueRef par;        /* its NnacPar* parameter */
	LLVMValueRef curpar;     /* the NnacPar* of the function being built (a task's own) */
	int stmt;                /* the statement being emitted, -1 between statements */
	LLVMValueRef loaded[LOOP_MAX_ARGS][MAX_RANK];   /* its checked loaded indices, or NULL */
	LLVMValueRef roots;      /* i8** to its roots and par, the argument block of its tasks */
	LLVMValueRef serial;     /* an NnacPar* of one thread, for tasks it calls itself */
	LLVMValueRef *vars;      /* per `for` node: its induction value */
	LLVMValueRef *param;     /* per buffer: its root's parameter in this kernel, or NULL */
	int *root;               /* per buffer: the buffer owning its memory */
	int64_t *root_off;       /* per buffer: its element offset in the root */
	LLVMTypeRef i1, i8, i16, i32, i64, f32, f64, ptr;   /* ptr: i8* */
	int vl;                  /* f32 lanes of the target's widest vector register */
	int vregs;               /* vector registers */
	int64_t l1_bytes, l2_bytes;   /* a core's data caches: the contraction kernels' slices */
	int ntasks;              /* task functions made so far (their names) */
	double par_min_macs;     /* a contraction of this many MACs goes through parallel_for */
	double par_min_work;     /* a split nest of this many statement runs likewise */
	Status st;               /* first failure; ST_OK while building */
} CpuEmit;

/*
 * A contraction: a perfect nest ending in one f32 mac
 *     acc[outer..., i, j...] += vec[...] * bcast[...]
 * run as register blocks of MR values of loop i by NV vectors of VL lanes
 * along j, the accumulator's contiguous run (several loops coalesced when
 * their strides chain).  vec moves along j and not along i; bcast does not
 * move along j.  For every block of j, vec is packed into a panel
 * [reduction][NV*VL] (zeros past the end of j), one slice of the outermost
 * reduction loop at a time sized for the L1 cache; then each block of i
 * runs the reduction loops in their order, loading NV vectors of the panel
 * and broadcasting MR elements of bcast, one vector multiply-add per
 * accumulator.  Every accumulator still adds its products in the nest's
 * order.  The nest runs as tasks, runs of (outer values x j blocks) by
 * chunks of i blocks, as many as the runtime has threads; any split of
 * them writes disjoint accumulators.
 */
enum { CPU_MAX_NEST = 64 };

typedef struct CpuContract {
	int stmt;
	int nloops, loops[CPU_MAX_NEST];         /* the nest, outermost first */
	int vec, bcast;                          /* the factors' argument indices (1 or 2) */
	int nj, j[CPU_MAX_NEST];                 /* loops coalesced along j, outermost first */
	int i;                                   /* the loop blocked in registers */
	int nout, out[CPU_MAX_NEST];             /* the other accumulator loops, nest order */
	int nred, red[CPU_MAX_NEST];             /* reduction loops, nest order */
	int64_t J, I;                            /* iterations along j, along i */
	int vl, nv, mr;                          /* lanes, vectors and rows of a block */
	int64_t kb, nkb;                         /* iterations of red[0] per panel, panels */
	int64_t rin;                             /* iterations of red[1..] */
	int64_t njb, nib;                        /* blocks of j, of i */
	int64_t ncols;                           /* columns: values of the outer loops x blocks of j */
	double macs;
	int init;                                /* copy statement the accumulator starts from, or -1 */
	int init_loop[CPU_MAX_NEST];             /* per loop of its nest, the nest loop of the same index */
	int ninit, init_loops[CPU_MAX_NEST];     /* its nest's loops */
	int relu;                                /* apply Relu statement done on the way out, or -1 */
	bool direct;                             /* vec read in place, not packed */
	bool window;                             /* a window reduction (pooling): stmt is a reduce, no rows */
	bool direct_ok;                          /* vec moves by one element per step of the j run */
	int64_t vec_step;                        /* elements vec moves per step of j's innermost loop */
} CpuContract;

/* cpu_contract.c: whether the perfect nest loops[0..n) around mac stmt is
 * a contraction worth blocking; its plan into *c. */
bool cpu_contract_plan(const CpuEmit *e, const int *loops, int n, int stmt, CpuContract *c);
/* cpu_contract.c: whether the top-level nest at node `nest` just before
 * c (a copy into the whole accumulator of values that do not move along
 * j, a bias) can be its start; then c starts from it. */
bool cpu_contract_fuse_init(const CpuEmit *e, CpuContract *c, int nest);
/* cpu_contract.c: likewise for a nest just after c that applies Relu to
 * the whole accumulator in place. */
bool cpu_contract_fuse_relu(const CpuEmit *e, CpuContract *c, int nest);
/* cpu_contract.c: the number of tasks c makes for the NnacPar* par. */
LLVMValueRef cpu_contract_tasks(CpuEmit *e, const CpuContract *c, LLVMValueRef par);
/* cpu_contract.c: tasks [lo, hi) of c, split for par, at the builder's position. */
void cpu_contract_emit(CpuEmit *e, const CpuContract *c, LLVMValueRef par, LLVMValueRef lo, LLVMValueRef hi);

/* cpu_emit.c: one statement at the builder's position. */
Status cpu_emit_stmt(CpuEmit *e, int node);
/* cpu_emit.c, for mac statements: the accumulator's element type and
 * address, and one step of the statement on an accumulator value held
 * elsewhere (the new value to hold). */
LLVMTypeRef cpu_emit_acc_type(CpuEmit *e, int node);
LLVMValueRef cpu_emit_acc_ptr(CpuEmit *e, int node);
LLVMValueRef cpu_emit_mac_step(CpuEmit *e, int node, LLVMValueRef acc);
/* cpu_emit.c, for reduce statements run in vector lanes: the float type
 * the statement computes in when its accumulator and source are f32 or f64
 * (no wider source), else NULL; `lanes` source elements from the current
 * indices on as a vector of that type; and acc combined with x by red,
 * lane by lane when they are vectors. */
LLVMTypeRef cpu_emit_reduce_type(const CpuEmit *e, int node);
LLVMValueRef cpu_emit_reduce_load(CpuEmit *e, int node, int lanes);
LLVMValueRef cpu_emit_reduce_combine(CpuEmit *e, LoopReduce red, LLVMValueRef acc, LLVMValueRef x);
/* cpu_emit.c: the address of operand a's element at its index expressions. */
LLVMValueRef cpu_emit_arg_ptr(CpuEmit *e, const LoopArg *a);
/* cpu_emit.c: an intrinsic call, overloaded on tys. */
LLVMValueRef cpu_emit_intrinsic(CpuEmit *e, const char *name, LLVMTypeRef *tys, int ntys,
                                LLVMValueRef *args, int nargs);
/* cpu_emit.c: a float intrinsic overloaded on its first argument's type
 * (llvm.NAME.f32 / .f64 or their vectors), and (a p b) ? t : f for a
 * float comparison p. */
LLVMValueRef cpu_emit_fintrinsic(CpuEmit *e, const char *name, LLVMValueRef *args, int nargs);
LLVMValueRef cpu_emit_fsel(CpuEmit *e, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b, LLVMValueRef t,
                           LLVMValueRef f);
/* cpu_math.c: exp of an f32 or f64 value, and erf and tanh of an f32
 * value, inline and vectorizable. */
LLVMValueRef cpu_math_exp(CpuEmit *e, LLVMValueRef x);
LLVMValueRef cpu_math_erf(CpuEmit *e, LLVMValueRef x);
LLVMValueRef cpu_math_tanh(CpuEmit *e, LLVMValueRef x);
/* cpu_codegen.c: an alloca of type t in the function's entry block. */
LLVMValueRef cpu_entry_alloca(CpuEmit *e, LLVMTypeRef t, unsigned align);
/* cpu_codegen.c: the flat element offset one step of for-node v moves
 * operand a by; false when an index of a is not affine. */
bool cpu_flat_step(const LoopProgram *p, const LoopArg *a, int v, int64_t *st);
/* cpu_codegen.c: asks LLVM to vectorize the loop whose latch is br or
 * not to, and not to unroll it unless unroll. */
void cpu_mark_loop(CpuEmit *e, LLVMValueRef br, bool vectorize, bool unroll);
/* cpu_codegen.c: the perfect nest from for-node f: loops[0] = f, each
 * loop holding only the next (notes aside), at most CPU_MAX_NEST, down to
 * one statement (*stmt, -1 when the nest ends otherwise); the number of
 * loops. */
int cpu_perfect_nest(const LoopProgram *p, int f, int *loops, int *stmt);
/* cpu_codegen.c: index expression ex as an i64 value (no load in it). */
LLVMValueRef cpu_emit_expr(CpuEmit *e, int ex);
/* cpu_codegen.c: the struct type of NnacPar (cpu_abi.h). */
LLVMTypeRef cpu_par_type(CpuEmit *e);
/* cpu_emit.c: whether statement node has a loaded index. */
bool cpu_stmt_loads(const LoopProgram *p, int node);
/* cpu_codegen.c: "FILE: kernel 'K': statement at L:C: MSG" into e->d. */
Status cpu_error(CpuEmit *e, int node, Status st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* cpu_object.c: the target machine for opt (NULL: the host's, O3). */
Status cpu_target_machine(const CpuOptions *opt, LLVMTargetMachineRef *tm, Diag *d);
/* cpu_object.c: optimizes mod, emits it as an object, links a shared object. */
Status cpu_object_link(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level,
                       uint8_t **so, size_t *so_len, Diag *d);

#endif
