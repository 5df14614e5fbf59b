/*
 * The CPU backend's statement emitter: loads, conversions, arithmetic and
 * stores for each statement of loopstmt.def, with the loop interpreter's
 * semantics (ir/loop_interp_exec.c):
 *   - integer statements compute in 64 bits, wrapping (mac in the
 *     accumulator's width, which wraps the same), and store as val_set_i64
 *     does: truncated to the element width, into floats through double;
 *   - floats are stored as val_set_f64 does: into integers truncated toward
 *     zero and saturated, NaN to 0 (llvm.fpto[su]i.sat); into f16 and bf16
 *     rounded to nearest even in integer arithmetic, as f64_to_f16 and
 *     f32_to_bf16 do;
 *   - float statements compute in double, except that a statement whose
 *     destination and buffer operands are all f32, f16 or bf16 computes in
 *     f32, with mac contracted into fused multiply-adds: within the loop
 *     IR's tolerance (runtime/compare.h) and much faster (an f16 or bf16
 *     result is then rounded twice, to f32 and to its type, which differs
 *     from one rounding of the double by at most one unit of the narrow
 *     type, at ties);
 *   - quantize, dequantize and requantize compute in double exactly as the
 *     interpreter does, since their results are integers;
 *   - apply inlines every op it accepts today and calls nnac_rt_apply_f64
 *     or nnac_rt_apply_i64 (cpu_rt.c, the shared scalar functions) for any
 *     other;
 *   - a padded copy reads its source at indices clamped into the buffer and
 *     selects the pad value where an index falls outside, so no branch and
 *     no out-of-bounds access;
 *   - a loaded index is read and checked before the statement touches
 *     anything: a negative value of a signed index buffer wraps once, and a
 *     value still outside its dimension branches to an exit that records
 *     the failure for the runtime (cpu_abi.h, NnacFail) and returns.
 */
#include <math.h>
#include <string.h>

#include "cpu_int.h"
#include "scalar.h"

/* Types and constants. */

static LLVMTypeRef elem_type(const CpuEmit *e, DType dt)
{
	switch (dt) {
	case DT_F32: return e->f32;
	case DT_F64: return e->f64;
	case DT_F16: case DT_BF16: case DT_U16: case DT_I16: return e->i16;
	case DT_U8: case DT_I8: case DT_BOOL: return e->i8;
	case DT_I32: case DT_U32: return e->i32;
	case DT_I64: case DT_U64: return e->i64;
	default: break;    /* the loop verifier admits only dtype_in_loops types */
	}
	nnac_unreachable();
}

static LLVMValueRef cint(LLVMTypeRef t, int64_t v) { return LLVMConstInt(t, (unsigned long long)v, 1); }

static LLVMValueRef cfp(LLVMTypeRef t, double v) { return LLVMConstReal(t, v); }

static DType arg_dt(const CpuEmit *e, const LoopArg *a)
{
	return a->buf >= 0 ? e->p->bufs[a->buf].dt : DT_UNDEF;
}

/* Calls. */

LLVMValueRef cpu_emit_intrinsic(CpuEmit *e, const char *name, LLVMTypeRef *tys, int ntys,
                                LLVMValueRef *args, int nargs)
{
	unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
	LLVMValueRef fn;

	nnac_assert(id != 0);
	fn = LLVMGetIntrinsicDeclaration(e->mod, id, tys, (size_t)ntys);
	return LLVMBuildCall2(e->b, LLVMIntrinsicGetType(e->ctx, id, tys, (size_t)ntys), fn, args,
	                      (unsigned)nargs, "");
}

LLVMValueRef cpu_emit_fintrinsic(CpuEmit *e, const char *name, LLVMValueRef *args, int nargs)
{
	LLVMTypeRef t = LLVMTypeOf(args[0]);

	return cpu_emit_intrinsic(e, name, &t, 1, args, nargs);
}

static LLVMValueRef call(CpuEmit *e, const char *name, LLVMTypeRef ret, LLVMTypeRef *pt, int n,
                         LLVMValueRef *args)
{
	LLVMTypeRef fty = LLVMFunctionType(ret, pt, (unsigned)n, 0);
	LLVMValueRef fn = LLVMGetNamedFunction(e->mod, name);

	if (!fn)
		fn = LLVMAddFunction(e->mod, name, fty);
	return LLVMBuildCall2(e->b, fty, fn, args, (unsigned)n, "");
}

/* libm's NAME (double) or NAMEf (float) of x. */
static LLVMValueRef libm1(CpuEmit *e, const char *name, LLVMValueRef x)
{
	LLVMTypeRef t = LLVMTypeOf(x);
	char fname[32];

	snprintf(fname, sizeof(fname), "%s%s", name, t == e->f32 ? "f" : "");
	return call(e, fname, t, &t, 1, &x);
}

/* Addresses. */

/* Index d of operand a: its expression, or the checked value of a
 * loaded index of the statement being emitted (guard_loads). */
static LLVMValueRef index_value(CpuEmit *e, const LoopArg *a, int d)
{
	const LoopNode *n = e->stmt >= 0 ? &e->p->nodes[e->stmt] : NULL;

	if (e->p->exprs[a->idx[d]].kind != LE_LOAD)
		return cpu_emit_expr(e, a->idx[d]);
	for (int k = 0; n && k < n->narg; k++)
		if (a == &n->arg[k] && e->loaded[k][d])
			return e->loaded[k][d];
	nnac_unreachable();    /* loads are read only through cpu_emit_stmt */
}

/* The element of operand a at indices idx (NULL: its index expressions). */
static LLVMValueRef elem_ptr(CpuEmit *e, const LoopArg *a, LLVMValueRef *idx)
{
	const LoopBuf *b = &e->p->bufs[a->buf];
	LLVMTypeRef et = elem_type(e, b->dt);
	LLVMValueRef base = LLVMBuildBitCast(e->b, e->param[e->root[a->buf]], LLVMPointerType(et, 0), "");
	LLVMValueRef off = cint(e->i64, e->root_off[a->buf]);
	int64_t st = 1;

	for (int d = b->rank - 1; d >= 0; d--) {
		LLVMValueRef i = idx ? idx[d] : index_value(e, a, d);

		off = LLVMBuildAdd(e->b, off, LLVMBuildMul(e->b, i, cint(e->i64, st), ""), "");
		st *= b->dims[d];
	}
	return LLVMBuildInBoundsGEP2(e->b, et, base, &off, 1, "");
}

LLVMValueRef cpu_emit_arg_ptr(CpuEmit *e, const LoopArg *a)
{
	return elem_ptr(e, a, NULL);
}

static LLVMValueRef load_raw(CpuEmit *e, DType dt, LLVMValueRef ptr)
{
	LLVMValueRef v = LLVMBuildLoad2(e->b, elem_type(e, dt), ptr, "");

	LLVMSetAlignment(v, (unsigned)dtype_size(dt));
	return v;
}

static void store_raw(CpuEmit *e, DType dt, LLVMValueRef v, LLVMValueRef ptr)
{
	LLVMSetAlignment(LLVMBuildStore(e->b, v, ptr), (unsigned)dtype_size(dt));
}

/* Conversions. */

static LLVMValueRef fconv(CpuEmit *e, LLVMValueRef v, LLVMTypeRef ft)
{
	LLVMTypeRef t = LLVMTypeOf(v);

	if (t == ft)
		return v;
	return t == e->f32 ? LLVMBuildFPExt(e->b, v, ft, "") : LLVMBuildFPTrunc(e->b, v, ft, "");
}

/* a p b ? t : f, p a float comparison. */
LLVMValueRef cpu_emit_fsel(CpuEmit *e, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b, LLVMValueRef t,
                           LLVMValueRef f)
{
	return LLVMBuildSelect(e->b, LLVMBuildFCmp(e->b, p, a, b, ""), t, f, "");
}

static LLVMValueRef emit_bf16_to_f32(CpuEmit *e, LLVMValueRef bits)
{
	LLVMValueRef u = LLVMBuildShl(e->b, LLVMBuildZExt(e->b, bits, e->i32, ""), cint(e->i32, 16), "");

	return LLVMBuildBitCast(e->b, u, e->f32, "");
}

/* f32_to_bf16 (base/value.c): NaN keeps its top bits with the quiet bit set,
 * anything else rounds to nearest even. */
static LLVMValueRef emit_f32_to_bf16(CpuEmit *e, LLVMValueRef f)
{
	LLVMValueRef u = LLVMBuildBitCast(e->b, f, e->i32, "");
	LLVMValueRef hi = LLVMBuildLShr(e->b, u, cint(e->i32, 16), "");
	LLVMValueRef odd = LLVMBuildAnd(e->b, hi, cint(e->i32, 1), "");
	LLVMValueRef r = LLVMBuildAdd(e->b, u, LLVMBuildAdd(e->b, odd, cint(e->i32, 0x7fff), ""), "");
	LLVMValueRef nan = LLVMBuildFCmp(e->b, LLVMRealUNO, f, f, "");
	LLVMValueRef q = LLVMBuildOr(e->b, hi, cint(e->i32, 0x40), "");

	r = LLVMBuildSelect(e->b, nan, q, LLVMBuildLShr(e->b, r, cint(e->i32, 16), ""), "");
	return LLVMBuildTrunc(e->b, r, e->i16, "");
}

/* f16_to_f32 (base/value.c): exact; infinities and NaN kept, subnormals
 * scaled from their integer mantissa. */
static LLVMValueRef emit_f16_to_f32(CpuEmit *e, LLVMValueRef bits)
{
	LLVMValueRef h = LLVMBuildZExt(e->b, bits, e->i32, "");
	LLVMValueRef sign = LLVMBuildShl(e->b, LLVMBuildLShr(e->b, h, cint(e->i32, 15), ""), cint(e->i32, 31), "");
	LLVMValueRef ex = LLVMBuildAnd(e->b, LLVMBuildLShr(e->b, h, cint(e->i32, 10), ""), cint(e->i32, 0x1f), "");
	LLVMValueRef man = LLVMBuildAnd(e->b, h, cint(e->i32, 0x3ff), "");
	LLVMValueRef m13 = LLVMBuildShl(e->b, man, cint(e->i32, 13), "");
	LLVMValueRef norm = LLVMBuildShl(e->b, LLVMBuildAdd(e->b, ex, cint(e->i32, 112), ""), cint(e->i32, 23), "");
	LLVMValueRef special = LLVMBuildOr(e->b, LLVMBuildOr(e->b, sign, cint(e->i32, 0x7f800000), ""), m13, "");
	LLVMValueRef sub = LLVMBuildFMul(e->b, LLVMBuildUIToFP(e->b, man, e->f32, ""), cfp(e->f32, 0x1p-24), "");
	LLVMValueRef r;

	sub = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntNE, sign, cint(e->i32, 0), ""),
	                      LLVMBuildFNeg(e->b, sub, ""), sub, "");
	norm = LLVMBuildOr(e->b, LLVMBuildOr(e->b, sign, norm, ""), m13, "");
	r = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, ex, cint(e->i32, 0x1f), ""), special, norm, "");
	r = LLVMBuildBitCast(e->b, r, e->f32, "");
	return LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, ex, cint(e->i32, 0), ""), sub, r, "");
}

/* f64_to_f16 (base/value.c): one rounding to nearest even; NaN 0x7e00 and
 * 65520 or more infinity, with the sign; below 2^-14 in units of 2^-24. */
static LLVMValueRef emit_f64_to_f16(CpuEmit *e, LLVMValueRef x)
{
	LLVMValueRef u = LLVMBuildBitCast(e->b, x, e->i64, "");
	LLVMValueRef sign = LLVMBuildAnd(e->b, LLVMBuildLShr(e->b, u, cint(e->i64, 48), ""), cint(e->i64, 0x8000), "");
	LLVMValueRef a = cpu_emit_fintrinsic(e, "llvm.fabs", &x, 1);
	LLVMValueRef ua = LLVMBuildBitCast(e->b, a, e->i64, "");
	LLVMValueRef ex = LLVMBuildSub(e->b, LLVMBuildLShr(e->b, ua, cint(e->i64, 52), ""), cint(e->i64, 1008), "");
	LLVMValueRef man = LLVMBuildAnd(e->b, ua, cint(e->i64, (INT64_C(1) << 52) - 1), "");
	LLVMValueRef h = LLVMBuildOr(e->b, LLVMBuildShl(e->b, ex, cint(e->i64, 10), ""),
	                             LLVMBuildLShr(e->b, man, cint(e->i64, 42), ""), "");
	LLVMValueRef rest = LLVMBuildAnd(e->b, man, cint(e->i64, (INT64_C(1) << 42) - 1), "");
	LLVMValueRef half = cint(e->i64, INT64_C(1) << 41), up, sub, r;

	up = LLVMBuildAnd(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, rest, half, ""),
	                  LLVMBuildTrunc(e->b, h, e->i1, ""), "");
	up = LLVMBuildOr(e->b, up, LLVMBuildICmp(e->b, LLVMIntUGT, rest, half, ""), "");
	h = LLVMBuildAdd(e->b, h, LLVMBuildZExt(e->b, up, e->i64, ""), "");
	sub = LLVMBuildFMul(e->b, a, cfp(e->f64, 0x1p24), "");
	sub = LLVMBuildFPToUI(e->b, cpu_emit_fintrinsic(e, "llvm.roundeven", &sub, 1), e->i64, "");
	r = cpu_emit_fsel(e, LLVMRealOLT, a, cfp(e->f64, 0x1p-14), sub, h);
	r = cpu_emit_fsel(e, LLVMRealOGE, a, cfp(e->f64, 65520.0), cint(e->i64, 0x7c00), r);
	r = cpu_emit_fsel(e, LLVMRealUNO, x, x, cint(e->i64, 0x7e00), r);
	return LLVMBuildTrunc(e->b, LLVMBuildOr(e->b, sign, r, ""), e->i16, "");
}

/* A raw element of type dt as a float of type ft, as val_get_f64 reads it. */
static LLVMValueRef raw_to_f(CpuEmit *e, DType dt, LLVMValueRef v, LLVMTypeRef ft)
{
	switch (dt) {
	case DT_F32: case DT_F64:
		return fconv(e, v, ft);
	case DT_F16:
		return fconv(e, emit_f16_to_f32(e, v), ft);
	case DT_BF16:
		return fconv(e, emit_bf16_to_f32(e, v), ft);
	case DT_I8: case DT_I16: case DT_I32: case DT_I64:
		return LLVMBuildSIToFP(e->b, v, ft, "");
	case DT_U8: case DT_U16: case DT_U32: case DT_U64:
		return LLVMBuildUIToFP(e->b, v, ft, "");
	case DT_BOOL:
		return LLVMBuildUIToFP(e->b, LLVMBuildICmp(e->b, LLVMIntNE, v, cint(e->i8, 0), ""), ft, "");
	default: break;    /* the loop verifier admits only dtype_in_loops types */
	}
	nnac_unreachable();
}

/* A float as val_get_i64 reads it: NaN 0, saturated, truncated. */
static LLVMValueRef f_to_i64(CpuEmit *e, LLVMValueRef f)
{
	LLVMTypeRef tys[2] = {e->i64, LLVMTypeOf(f)};

	return cpu_emit_intrinsic(e, "llvm.fptosi.sat", tys, 2, &f, 1);
}

/* A raw element of type dt as an integer of type it, as val_get_i64 reads
 * it (then wrapped to it's width). */
static LLVMValueRef raw_to_i(CpuEmit *e, DType dt, LLVMValueRef v, LLVMTypeRef it)
{
	switch (dt) {
	case DT_F32: case DT_F64: case DT_F16: case DT_BF16:
		return LLVMBuildIntCast2(e->b, f_to_i64(e, raw_to_f(e, dt, v, e->f64)), it, 1, "");
	case DT_I8: case DT_I16: case DT_I32: case DT_I64:
		return LLVMBuildIntCast2(e->b, v, it, 1, "");
	case DT_U8: case DT_U16: case DT_U32: case DT_U64:
		return LLVMBuildIntCast2(e->b, v, it, 0, "");
	case DT_BOOL:
		return LLVMBuildZExt(e->b, LLVMBuildICmp(e->b, LLVMIntNE, v, cint(e->i8, 0), ""), it, "");
	default: break;    /* the loop verifier admits only dtype_in_loops types */
	}
	nnac_unreachable();
}

/* A float of any type stored into an element of type dt, as val_set_f64 does. */
static LLVMValueRef f_to_raw(CpuEmit *e, DType dt, LLVMValueRef f)
{
	LLVMTypeRef tys[2] = {elem_type(e, dt), LLVMTypeOf(f)};
	LLVMValueRef x;

	switch (dt) {
	case DT_F32: case DT_F64:
		return fconv(e, f, elem_type(e, dt));
	case DT_F16:
		return emit_f64_to_f16(e, fconv(e, f, e->f64));
	case DT_BF16:
		return emit_f32_to_bf16(e, fconv(e, f, e->f32));
	case DT_I8: case DT_I16: case DT_I32: case DT_I64:
		return cpu_emit_intrinsic(e, "llvm.fptosi.sat", tys, 2, &f, 1);
	case DT_U8: case DT_U16: case DT_U32: case DT_U64:
		return cpu_emit_intrinsic(e, "llvm.fptoui.sat", tys, 2, &f, 1);
	case DT_BOOL:
		x = LLVMBuildFCmp(e->b, LLVMRealUNE, f, cfp(LLVMTypeOf(f), 0), "");
		return LLVMBuildZExt(e->b, x, e->i8, "");
	default: break;    /* the loop verifier admits only dtype_in_loops types */
	}
	nnac_unreachable();
}

/* A 64-bit integer stored into an element of type dt, as val_set_i64 does. */
static LLVMValueRef i_to_raw(CpuEmit *e, DType dt, LLVMValueRef v)
{
	if (dtype_is_float(dt))
		return f_to_raw(e, dt, LLVMBuildSIToFP(e->b, v, e->f64, ""));
	if (dt == DT_BOOL)
		return LLVMBuildZExt(e->b, LLVMBuildICmp(e->b, LLVMIntNE, v, cint(LLVMTypeOf(v), 0), ""),
		                     e->i8, "");
	return LLVMBuildIntCast2(e->b, v, elem_type(e, dt), 0, "");
}

/* Operands. */

static LLVMValueRef load_f(CpuEmit *e, const LoopArg *a, LLVMTypeRef ft)
{
	DType dt = arg_dt(e, a);

	if (a->buf < 0)
		return cfp(ft, a->lit.is_float ? a->lit.f : (double)a->lit.i);
	return raw_to_f(e, dt, load_raw(e, dt, elem_ptr(e, a, NULL)), ft);
}

static LLVMValueRef load_i(CpuEmit *e, const LoopArg *a, LLVMTypeRef it)
{
	DType dt = arg_dt(e, a);

	if (a->buf < 0)
		return cint(it, a->lit.i);
	return raw_to_i(e, dt, load_raw(e, dt, elem_ptr(e, a, NULL)), it);
}

static void store_f(CpuEmit *e, const LoopArg *a, LLVMValueRef f)
{
	DType dt = arg_dt(e, a);

	store_raw(e, dt, f_to_raw(e, dt, f), elem_ptr(e, a, NULL));
}

static void store_i(CpuEmit *e, const LoopArg *a, LLVMValueRef v)
{
	DType dt = arg_dt(e, a);

	store_raw(e, dt, i_to_raw(e, dt, v), elem_ptr(e, a, NULL));
}

static bool f32_or_narrower(DType dt)
{
	return dt == DT_F32 || dt == DT_F16 || dt == DT_BF16;
}

/* The type a float statement computes in: f32 when its destination
 * arg[0] and its buffer operands are f32, f16 or bf16, else double. */
static LLVMTypeRef float_type(const CpuEmit *e, const LoopNode *n)
{
	if (!f32_or_narrower(arg_dt(e, &n->arg[0])))
		return e->f64;
	for (int k = 1; k < n->narg; k++)
		if (n->arg[k].buf >= 0 && !f32_or_narrower(arg_dt(e, &n->arg[k])))
			return e->f64;
	return e->f32;
}

/* copy and fill */

/* A fill or pad literal as the destination's bits, as val_set_* store it. */
static LLVMValueRef lit_bits(CpuEmit *e, DType dt, const LoopLit *l)
{
	_Alignas(8) unsigned char bits[8] = {0};
	Value v = {dt, 0, {0}, bits};
	uint64_t u = 0;
	int size = dtype_size(dt);

	if (l->is_float)
		val_set_f64(&v, 0, l->f);
	else
		val_set_i64(&v, 0, l->i);
	memcpy(&u, bits, (size_t)size);
	return LLVMConstInt(LLVMIntTypeInContext(e->ctx, (unsigned)size * 8), u, 0);
}

static void emit_fill(CpuEmit *e, const LoopNode *n)
{
	DType dt = arg_dt(e, &n->arg[0]);
	LLVMValueRef p = elem_ptr(e, &n->arg[0], NULL);
	LLVMTypeRef it = LLVMIntTypeInContext(e->ctx, (unsigned)dtype_size(dt) * 8);

	p = LLVMBuildBitCast(e->b, p, LLVMPointerType(it, 0), "");
	store_raw(e, dt, lit_bits(e, dt, &n->arg[1].lit), p);
}

/* The padded source: its element at indices clamped into the buffer, and
 * in *in whether every index was inside. */
static LLVMValueRef pad_src(CpuEmit *e, const LoopArg *a, LLVMValueRef *in)
{
	const LoopBuf *b = &e->p->bufs[a->buf];
	LLVMValueRef idx[MAX_RANK];

	*in = LLVMConstInt(e->i1, 1, 0);
	for (int d = 0; d < b->rank; d++) {
		LLVMValueRef i = cpu_emit_expr(e, a->idx[d]);
		LLVMValueRef ok = LLVMBuildICmp(e->b, LLVMIntULT, i, cint(e->i64, b->dims[d]), "");

		*in = LLVMBuildAnd(e->b, *in, ok, "");
		idx[d] = LLVMBuildSelect(e->b, ok, i, cint(e->i64, 0), "");
	}
	return elem_ptr(e, a, idx);
}

static void emit_copy(CpuEmit *e, const LoopNode *n)
{
	DType dt = arg_dt(e, &n->arg[0]);
	LLVMTypeRef it = LLVMIntTypeInContext(e->ctx, (unsigned)dtype_size(dt) * 8);
	LLVMTypeRef ip = LLVMPointerType(it, 0);
	LLVMValueRef src, v, in;

	if (n->has_pad) {
		src = LLVMBuildBitCast(e->b, pad_src(e, &n->arg[1], &in), ip, "");
		v = LLVMBuildLoad2(e->b, it, src, "");
		LLVMSetAlignment(v, (unsigned)dtype_size(dt));
		v = LLVMBuildSelect(e->b, in, v, lit_bits(e, dt, &n->pad), "");
	} else {
		src = LLVMBuildBitCast(e->b, elem_ptr(e, &n->arg[1], NULL), ip, "");
		v = LLVMBuildLoad2(e->b, it, src, "");
		LLVMSetAlignment(v, (unsigned)dtype_size(dt));
	}
	store_raw(e, dt, v, LLVMBuildBitCast(e->b, elem_ptr(e, &n->arg[0], NULL), ip, ""));
}

/* mac */

LLVMTypeRef cpu_emit_acc_type(CpuEmit *e, int node)
{
	return elem_type(e, arg_dt(e, &e->p->nodes[node].arg[0]));
}

LLVMValueRef cpu_emit_acc_ptr(CpuEmit *e, int node)
{
	return elem_ptr(e, &e->p->nodes[node].arg[0], NULL);
}

/* One step of mac statement node on the accumulator's element c (its
 * stored representation): the element to store back. */
LLVMValueRef cpu_emit_mac_step(CpuEmit *e, int node, LLVMValueRef c)
{
	const LoopNode *n = &e->p->nodes[node];
	DType acc = arg_dt(e, &n->arg[0]);
	LLVMValueRef x[3];

	if (dtype_is_float(acc)) {
		LLVMTypeRef ft = float_type(e, n);

		x[0] = load_f(e, &n->arg[1], ft);
		x[1] = load_f(e, &n->arg[2], ft);
		x[2] = raw_to_f(e, acc, c, ft);
		return f_to_raw(e, acc, cpu_emit_fintrinsic(e, "llvm.fmuladd", x, 3));
	}
	x[0] = load_i(e, &n->arg[1], elem_type(e, acc));
	x[1] = load_i(e, &n->arg[2], elem_type(e, acc));
	return LLVMBuildAdd(e->b, c, LLVMBuildMul(e->b, x[0], x[1], ""), "");
}

static void emit_mac(CpuEmit *e, int node)
{
	DType acc = arg_dt(e, &e->p->nodes[node].arg[0]);
	LLVMValueRef ptr = cpu_emit_acc_ptr(e, node);

	store_raw(e, acc, cpu_emit_mac_step(e, node, load_raw(e, acc, ptr)), ptr);
}

/* apply: floats */

/* How apply computes each op in floats: inline, or through the helper. */
typedef enum FKind {
	F_HELPER, F_RELU, F_ELU, F_SELU, F_SOFTPLUS, F_ERF, F_LEAKY, F_SIGMOID, F_TANH, F_HARDSIGMOID, F_HARDSWISH, F_CLIP,
	F_SOFTSIGN, F_EXP, F_LOG, F_SQRT, F_NEG, F_ABS, F_RECIP, F_FLOOR, F_CEIL, F_ADD, F_SUB,
	F_MUL, F_DIV, F_POW, F_PRELU, F_MAX, F_MIN, F_CAST, F_EQ, F_LT, F_GT, F_LE, F_GE, F_AND,
	F_OR, F_XOR, F_NOT, F_ISNAN, F_ISINF, F_WHERE, F_MOD, F_SIGN, F_ROUND, F_LIBM, F_GELU,
	F_MISH, F_THRELU, F_CELU, F_SHRINK
} FKind;

static const unsigned char fkinds[OP_COUNT] = {
	[OP_Relu] = F_RELU, [OP_LeakyRelu] = F_LEAKY, [OP_Sigmoid] = F_SIGMOID, [OP_Tanh] = F_TANH,
	[OP_HardSigmoid] = F_HARDSIGMOID, [OP_HardSwish] = F_HARDSWISH, [OP_Clip] = F_CLIP,
	[OP_Elu] = F_ELU, [OP_Selu] = F_SELU, [OP_Softplus] = F_SOFTPLUS, [OP_Erf] = F_ERF,
	[OP_Softsign] = F_SOFTSIGN, [OP_Exp] = F_EXP, [OP_Log] = F_LOG, [OP_Sqrt] = F_SQRT,
	[OP_Neg] = F_NEG, [OP_Abs] = F_ABS, [OP_Reciprocal] = F_RECIP, [OP_Floor] = F_FLOOR,
	[OP_Ceil] = F_CEIL, [OP_Add] = F_ADD, [OP_Sub] = F_SUB, [OP_Mul] = F_MUL, [OP_Div] = F_DIV,
	[OP_Pow] = F_POW, [OP_PRelu] = F_PRELU, [OP_Max] = F_MAX, [OP_Min] = F_MIN, [OP_Cast] = F_CAST,
	[OP_Equal] = F_EQ, [OP_Less] = F_LT, [OP_Greater] = F_GT, [OP_LessOrEqual] = F_LE,
	[OP_GreaterOrEqual] = F_GE, [OP_And] = F_AND, [OP_Or] = F_OR, [OP_Xor] = F_XOR,
	[OP_Not] = F_NOT, [OP_IsNaN] = F_ISNAN, [OP_IsInf] = F_ISINF, [OP_Where] = F_WHERE,
	[OP_Mod] = F_MOD, [OP_Sign] = F_SIGN, [OP_Round] = F_ROUND, [OP_Sin] = F_LIBM,
	[OP_Cos] = F_LIBM, [OP_Tan] = F_LIBM, [OP_Asin] = F_LIBM, [OP_Acos] = F_LIBM,
	[OP_Atan] = F_LIBM, [OP_Sinh] = F_LIBM, [OP_Cosh] = F_LIBM, [OP_Asinh] = F_LIBM,
	[OP_Acosh] = F_LIBM, [OP_Atanh] = F_LIBM, [OP_Gelu] = F_GELU, [OP_Mish] = F_MISH,
	[OP_ThresholdedRelu] = F_THRELU, [OP_Celu] = F_CELU, [OP_Shrink] = F_SHRINK,
};

/* The libm function of each F_LIBM op (cpu_imports.def lists them). */
static const char *const libm_names[OP_COUNT] = {
	[OP_Sin] = "sin", [OP_Cos] = "cos", [OP_Tan] = "tan", [OP_Asin] = "asin",
	[OP_Acos] = "acos", [OP_Atan] = "atan", [OP_Sinh] = "sinh", [OP_Cosh] = "cosh",
	[OP_Asinh] = "asinh", [OP_Acosh] = "acosh", [OP_Atanh] = "atanh",
};

/* x < lo ? lo : x > hi ? hi : x, NaN kept (clamp and Clip of ir/interp). */
static LLVMValueRef fclamp(CpuEmit *e, LLVMValueRef x, LLVMValueRef lo, LLVMValueRef hi)
{
	x = cpu_emit_fsel(e, LLVMRealOLT, x, lo, lo, x);
	return cpu_emit_fsel(e, LLVMRealOGT, x, hi, hi, x);
}

/* b_max / b_min: a when a is NaN or wins, else b. */
static LLVMValueRef fpick(CpuEmit *e, LLVMRealPredicate win, LLVMValueRef a, LLVMValueRef b)
{
	LLVMValueRef nan = LLVMBuildFCmp(e->b, LLVMRealUNO, a, a, "");
	LLVMValueRef w = LLVMBuildFCmp(e->b, win, a, b, "");

	return LLVMBuildSelect(e->b, LLVMBuildOr(e->b, nan, w, ""), a, b, "");
}

static LLVMValueRef fhelper(CpuEmit *e, const LoopNode *n, LLVMValueRef *x, int nx)
{
	LLVMTypeRef pt[5] = {e->i32, e->f64, e->f64, e->f64, LLVMPointerType(e->f64, 0)};
	LLVMValueRef args[5], zero = cint(e->i64, 0);

	for (int k = 0; k < nx; k++) {
		LLVMValueRef ix[2] = {zero, cint(e->i64, k)};
		LLVMValueRef p = LLVMBuildInBoundsGEP2(e->b, LLVMArrayType(e->f64, LOOP_MAX_ARGS),
		                                       e->fscratch, ix, 2, "");

		LLVMBuildStore(e->b, fconv(e, x[k], e->f64), p);
	}
	args[0] = cint(e->i32, (int64_t)n->fn);
	args[1] = cfp(e->f64, n->alpha);
	args[2] = cfp(e->f64, n->beta);
	args[3] = cfp(e->f64, n->gamma);
	args[4] = LLVMBuildBitCast(e->b, e->fscratch, pt[4], "");
	return call(e, "nnac_rt_apply_f64", e->f64, pt, 5, args);
}

/* a p b as 0 or 1 in float type ft. */
static LLVMValueRef fcmp01(CpuEmit *e, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b,
                           LLVMTypeRef ft)
{
	return LLVMBuildUIToFP(e->b, LLVMBuildFCmp(e->b, p, a, b, ""), ft, "");
}

/* x != 0 as C reads a float as a truth value (NaN is true). */
static LLVMValueRef ftruth(CpuEmit *e, LLVMValueRef x)
{
	return LLVMBuildFCmp(e->b, LLVMRealUNE, x, cfp(LLVMTypeOf(x), 0), "");
}

/* u_isinf: an infinity of a sign the node detects (alpha: negative, beta:
 * positive). */
static LLVMValueRef fisinf(CpuEmit *e, const LoopNode *n, LLVMTypeRef ft, LLVMValueRef x)
{
	LLVMValueRef neg = LLVMBuildFCmp(e->b, LLVMRealOEQ, x, cfp(ft, -INFINITY), "");
	LLVMValueRef pos = LLVMBuildFCmp(e->b, LLVMRealOEQ, x, cfp(ft, INFINITY), "");
	LLVMValueRef no = LLVMConstInt(e->i1, 0, 0);

	neg = n->alpha != 0 ? neg : no;
	pos = n->beta != 0 ? pos : no;
	return LLVMBuildUIToFP(e->b, LLVMBuildOr(e->b, neg, pos, ""), ft, "");
}

/* (a op b) for an i1 op, of the truth values of floats a and b, as 0 or 1. */
static LLVMValueRef flogic(CpuEmit *e, LLVMOpcode op, LLVMValueRef a, LLVMValueRef b)
{
	LLVMValueRef t = LLVMBuildBinOp(e->b, op, ftruth(e, a), ftruth(e, b), "");

	return LLVMBuildUIToFP(e->b, t, LLVMTypeOf(a), "");
}

/* erf and tanh: inline for f32 (cpu_math.c), libm's for doubles. */
static LLVMValueRef ferf(CpuEmit *e, LLVMValueRef x)
{
	return LLVMTypeOf(x) == e->f32 ? cpu_math_erf(e, x) : libm1(e, "erf", x);
}

static LLVMValueRef ftanh(CpuEmit *e, LLVMValueRef x)
{
	return LLVMTypeOf(x) == e->f32 ? cpu_math_tanh(e, x) : libm1(e, "tanh", x);
}

/* x + log1p(exp(-x)): Softplus for x > 0 without overflowing exp. */
static LLVMValueRef softplus_pos(CpuEmit *e, LLVMValueRef x)
{
	LLVMValueRef t = LLVMBuildFNeg(e->b, x, "");

	t = libm1(e, "log1p", cpu_math_exp(e, t));
	return LLVMBuildFAdd(e->b, x, t, "");
}

/* u_gelu: x * Phi(x) through erf, or its tanh form (alpha 1). */
static LLVMValueRef fgelu(CpuEmit *e, const LoopNode *n, LLVMTypeRef ft, LLVMValueRef x)
{
	LLVMValueRef t;

	if (n->alpha != 0) {
		t = LLVMBuildFMul(e->b, LLVMBuildFMul(e->b, x, x, ""), x, "");
		t = LLVMBuildFAdd(e->b, x, LLVMBuildFMul(e->b, cfp(ft, 0.044715), t, ""), "");
		t = ftanh(e, LLVMBuildFMul(e->b, cfp(ft, 0.797884560802865355879892119868763737), t, ""));
	} else {
		t = ferf(e, LLVMBuildFMul(e->b, x, cfp(ft, 0.707106781186547524400844362104849039), ""));
	}
	t = LLVMBuildFAdd(e->b, cfp(ft, 1), t, "");
	return LLVMBuildFMul(e->b, LLVMBuildFMul(e->b, cfp(ft, 0.5), x, ""), t, "");
}

/* u_shrink: alpha is lambd, beta bias. */
static LLVMValueRef fshrink(CpuEmit *e, const LoopNode *n, LLVMTypeRef ft, LLVMValueRef x)
{
	LLVMValueRef hi = cpu_emit_fsel(e, LLVMRealOGT, x, cfp(ft, n->alpha),
	                       LLVMBuildFSub(e->b, x, cfp(ft, n->beta), ""), cfp(ft, 0));

	return cpu_emit_fsel(e, LLVMRealOLT, x, cfp(ft, -n->alpha), LLVMBuildFAdd(e->b, x, cfp(ft, n->beta), ""), hi);
}

static LLVMValueRef fapply(CpuEmit *e, const LoopNode *n, LLVMTypeRef ft, LLVMValueRef *x, int nx)
{
	LLVMValueRef zero = cfp(ft, 0), one = cfp(ft, 1), t;

	switch ((FKind)fkinds[n->fn]) {
	case F_HELPER: return fhelper(e, n, x, nx);
	case F_RELU: return cpu_emit_fsel(e, LLVMRealOLT, x[0], zero, zero, x[0]);
	case F_ELU:
		t = LLVMBuildFMul(e->b, cfp(ft, n->alpha), libm1(e, "expm1", x[0]), "");
		return cpu_emit_fsel(e, LLVMRealOLT, x[0], zero, t, x[0]);
	case F_SELU:
		t = LLVMBuildFMul(e->b, cfp(ft, n->alpha), libm1(e, "expm1", x[0]), "");
		return LLVMBuildFMul(e->b, cfp(ft, n->gamma), cpu_emit_fsel(e, LLVMRealOLE, x[0], zero, t, x[0]), "");
	case F_SOFTPLUS:
		return cpu_emit_fsel(e, LLVMRealOGT, x[0], zero, softplus_pos(e, x[0]),
		            libm1(e, "log1p", cpu_math_exp(e, x[0])));
	case F_ERF: return ferf(e, x[0]);
	case F_LEAKY:
		return cpu_emit_fsel(e, LLVMRealOLT, x[0], zero, LLVMBuildFMul(e->b, cfp(ft, n->alpha), x[0], ""), x[0]);
	case F_SIGMOID:
		t = LLVMBuildFNeg(e->b, x[0], "");
		t = LLVMBuildFAdd(e->b, one, cpu_math_exp(e, t), "");
		return LLVMBuildFDiv(e->b, one, t, "");
	case F_TANH: return ftanh(e, x[0]);
	case F_HARDSIGMOID:
		t = LLVMBuildFMul(e->b, cfp(ft, n->alpha), x[0], "");
		return fclamp(e, LLVMBuildFAdd(e->b, t, cfp(ft, n->beta), ""), zero, one);
	case F_HARDSWISH:
		t = LLVMBuildFAdd(e->b, LLVMBuildFDiv(e->b, x[0], cfp(ft, 6), ""), cfp(ft, 0.5), "");
		return LLVMBuildFMul(e->b, x[0], fclamp(e, t, zero, one), "");
	case F_CLIP: return fclamp(e, x[0], x[1], x[2]);
	case F_SOFTSIGN:
		t = LLVMBuildFAdd(e->b, one, cpu_emit_fintrinsic(e, "llvm.fabs", x, 1), "");
		return LLVMBuildFDiv(e->b, x[0], t, "");
	case F_EXP: return cpu_math_exp(e, x[0]);
	case F_LOG: return cpu_emit_fintrinsic(e, "llvm.log", x, 1);
	case F_SQRT: return cpu_emit_fintrinsic(e, "llvm.sqrt", x, 1);
	case F_NEG: return LLVMBuildFNeg(e->b, x[0], "");
	case F_ABS: return cpu_emit_fintrinsic(e, "llvm.fabs", x, 1);
	case F_RECIP: return LLVMBuildFDiv(e->b, one, x[0], "");
	case F_FLOOR: return cpu_emit_fintrinsic(e, "llvm.floor", x, 1);
	case F_CEIL: return cpu_emit_fintrinsic(e, "llvm.ceil", x, 1);
	case F_ADD: return LLVMBuildFAdd(e->b, x[0], x[1], "");
	case F_SUB: return LLVMBuildFSub(e->b, x[0], x[1], "");
	case F_MUL: return LLVMBuildFMul(e->b, x[0], x[1], "");
	case F_DIV: return LLVMBuildFDiv(e->b, x[0], x[1], "");
	case F_POW: return cpu_emit_fintrinsic(e, "llvm.pow", x, 2);
	case F_PRELU:
		return cpu_emit_fsel(e, LLVMRealOLT, x[0], zero, LLVMBuildFMul(e->b, x[1], x[0], ""), x[0]);
	case F_MAX: return fpick(e, LLVMRealOGT, x[0], x[1]);
	case F_MIN: return fpick(e, LLVMRealOLT, x[0], x[1]);
	case F_CAST: return x[0];
	case F_EQ: return fcmp01(e, LLVMRealOEQ, x[0], x[1], ft);
	case F_LT: return fcmp01(e, LLVMRealOLT, x[0], x[1], ft);
	case F_GT: return fcmp01(e, LLVMRealOGT, x[0], x[1], ft);
	case F_LE: return fcmp01(e, LLVMRealOLE, x[0], x[1], ft);
	case F_GE: return fcmp01(e, LLVMRealOGE, x[0], x[1], ft);
	case F_AND: return flogic(e, LLVMAnd, x[0], x[1]);
	case F_OR: return flogic(e, LLVMOr, x[0], x[1]);
	case F_XOR: return flogic(e, LLVMXor, x[0], x[1]);
	case F_NOT: return fcmp01(e, LLVMRealOEQ, x[0], zero, ft);
	case F_ISNAN: return fcmp01(e, LLVMRealUNO, x[0], x[0], ft);
	case F_ISINF: return fisinf(e, n, ft, x[0]);
	case F_WHERE: return LLVMBuildSelect(e->b, ftruth(e, x[0]), x[1], x[2], "");
	case F_MOD: return LLVMBuildFRem(e->b, x[0], x[1], "");
	case F_SIGN:
		t = cpu_emit_fsel(e, LLVMRealOLT, x[0], zero, cfp(ft, -1), x[0]);
		return cpu_emit_fsel(e, LLVMRealOGT, x[0], zero, one, t);
	case F_ROUND: return cpu_emit_fintrinsic(e, "llvm.roundeven", x, 1);
	case F_LIBM: return libm1(e, libm_names[n->fn], x[0]);
	case F_GELU: return fgelu(e, n, ft, x[0]);
	case F_MISH:
		t = cpu_emit_fsel(e, LLVMRealOGT, x[0], zero, softplus_pos(e, x[0]),
		         libm1(e, "log1p", cpu_math_exp(e, x[0])));
		return LLVMBuildFMul(e->b, x[0], ftanh(e, t), "");
	case F_THRELU: return cpu_emit_fsel(e, LLVMRealOGT, x[0], cfp(ft, n->alpha), x[0], zero);
	case F_CELU:
		t = libm1(e, "expm1", LLVMBuildFDiv(e->b, x[0], cfp(ft, n->alpha), ""));
		t = LLVMBuildFMul(e->b, cfp(ft, n->alpha), t, "");
		return cpu_emit_fsel(e, LLVMRealOGT, x[0], zero, x[0], t);
	case F_SHRINK: return fshrink(e, n, ft, x[0]);
	}
	nnac_unreachable();
}

/* apply: integers */

typedef enum IKind {
	I_HELPER, I_RELU, I_NEG, I_ABS, I_CLIP, I_ADD, I_SUB, I_MUL, I_DIV, I_PRELU, I_MAX,
	I_MIN, I_CAST, I_POW, I_EQ, I_LT, I_GT, I_LE, I_GE, I_AND, I_OR, I_XOR, I_NOT, I_WHERE,
	I_MOD, I_SHIFT, I_SIGN
} IKind;

static const unsigned char ikinds[OP_COUNT] = {
	[OP_Relu] = I_RELU, [OP_Neg] = I_NEG, [OP_Abs] = I_ABS, [OP_Clip] = I_CLIP, [OP_Add] = I_ADD,
	[OP_Sub] = I_SUB, [OP_Mul] = I_MUL, [OP_Div] = I_DIV, [OP_Pow] = I_POW,
	[OP_PRelu] = I_PRELU, [OP_Max] = I_MAX, [OP_Min] = I_MIN, [OP_Cast] = I_CAST,
	[OP_Equal] = I_EQ, [OP_Less] = I_LT, [OP_Greater] = I_GT, [OP_LessOrEqual] = I_LE,
	[OP_GreaterOrEqual] = I_GE, [OP_And] = I_AND, [OP_Or] = I_OR, [OP_Xor] = I_XOR,
	[OP_Not] = I_NOT, [OP_Where] = I_WHERE, [OP_Mod] = I_MOD, [OP_BitShift] = I_SHIFT,
	[OP_Sign] = I_SIGN,
};

/* ilt of ir/interp/elementwise.c: a < b, unsigned when uns. */
static LLVMValueRef ilt(CpuEmit *e, LLVMValueRef a, LLVMValueRef b, bool uns)
{
	return LLVMBuildICmp(e->b, uns ? LLVMIntULT : LLVMIntSLT, a, b, "");
}

/* An i1 as a 64-bit 0 or 1. */
static LLVMValueRef i01(CpuEmit *e, LLVMValueRef c)
{
	return LLVMBuildZExt(e->b, c, e->i64, "");
}

/* x != 0 */
static LLVMValueRef itruth(CpuEmit *e, LLVMValueRef x)
{
	return LLVMBuildICmp(e->b, LLVMIntNE, x, cint(e->i64, 0), "");
}

/* (a op b) for an i1 op, of the truth values of a and b, as 0 or 1. */
static LLVMValueRef ilogic(CpuEmit *e, LLVMOpcode op, LLVMValueRef a, LLVMValueRef b)
{
	return i01(e, LLVMBuildBinOp(e->b, op, itruth(e, a), itruth(e, b), ""));
}

/* i_div: truncating; x / 0 is 0, x / -1 wraps (no trap in either). */
static LLVMValueRef idiv(CpuEmit *e, LLVMValueRef a, LLVMValueRef b, bool uns)
{
	LLVMValueRef zero = cint(e->i64, 0), one = cint(e->i64, 1), m1 = cint(e->i64, -1);
	LLVMValueRef bz = LLVMBuildICmp(e->b, LLVMIntEQ, b, zero, "");
	LLVMValueRef bm1 = LLVMBuildICmp(e->b, LLVMIntEQ, b, m1, "");
	LLVMValueRef q;

	if (uns) {
		q = LLVMBuildUDiv(e->b, a, LLVMBuildSelect(e->b, bz, one, b, ""), "");
		return LLVMBuildSelect(e->b, bz, zero, q, "");
	}
	q = LLVMBuildSDiv(e->b, a, LLVMBuildSelect(e->b, LLVMBuildOr(e->b, bz, bm1, ""), one, b, ""), "");
	q = LLVMBuildSelect(e->b, bm1, LLVMBuildSub(e->b, zero, a, ""), q, "");
	return LLVMBuildSelect(e->b, bz, zero, q, "");
}

/* i_mod: the remainder with b's sign (fmod 0) or a's (fmod 1); x mod 0
 * and x mod -1 are 0, with no trap. */
static LLVMValueRef imod(CpuEmit *e, LLVMValueRef a, LLVMValueRef b, bool uns, bool fmod)
{
	LLVMValueRef zero = cint(e->i64, 0), one = cint(e->i64, 1);
	LLVMValueRef bz = LLVMBuildICmp(e->b, LLVMIntEQ, b, zero, ""), bad = bz, r, fix;

	if (!uns)
		bad = LLVMBuildOr(e->b, bz, LLVMBuildICmp(e->b, LLVMIntEQ, b, cint(e->i64, -1), ""), "");
	b = LLVMBuildSelect(e->b, bad, one, b, "");
	r = uns ? LLVMBuildURem(e->b, a, b, "") : LLVMBuildSRem(e->b, a, b, "");
	if (!uns && !fmod) {
		fix = LLVMBuildICmp(e->b, LLVMIntSLT, LLVMBuildXor(e->b, r, b, ""), zero, "");
		fix = LLVMBuildAnd(e->b, fix, LLVMBuildICmp(e->b, LLVMIntNE, r, zero, ""), "");
		r = LLVMBuildSelect(e->b, fix, LLVMBuildAdd(e->b, r, b, ""), r, "");
	}
	return LLVMBuildSelect(e->b, bad, zero, r, "");
}

/* i_shift: a << b or a >> b (right), 0 when b is 64 or more. */
static LLVMValueRef ishift(CpuEmit *e, LLVMValueRef a, LLVMValueRef b, bool right)
{
	LLVMValueRef in = LLVMBuildICmp(e->b, LLVMIntULT, b, cint(e->i64, 64), "");
	LLVMValueRef n = LLVMBuildSelect(e->b, in, b, cint(e->i64, 0), "");
	LLVMValueRef r = right ? LLVMBuildLShr(e->b, a, n, "") : LLVMBuildShl(e->b, a, n, "");

	return LLVMBuildSelect(e->b, in, r, cint(e->i64, 0), "");
}

/* i_sign: -1, 0 or 1 (0 or 1 unsigned). */
static LLVMValueRef isign(CpuEmit *e, LLVMValueRef x, bool uns)
{
	LLVMValueRef zero = cint(e->i64, 0);
	LLVMValueRef pos = i01(e, LLVMBuildICmp(e->b, uns ? LLVMIntNE : LLVMIntSGT, x, zero, ""));

	if (uns)
		return pos;
	return LLVMBuildSub(e->b, pos, i01(e, LLVMBuildICmp(e->b, LLVMIntSLT, x, zero, "")), "");
}

static LLVMValueRef ihelper(CpuEmit *e, const LoopNode *n, bool uns, LLVMValueRef *x, int nx)
{
	LLVMTypeRef pt[3] = {e->i32, e->i32, LLVMPointerType(e->i64, 0)};
	LLVMValueRef args[3], zero = cint(e->i64, 0);

	for (int k = 0; k < nx; k++) {
		LLVMValueRef ix[2] = {zero, cint(e->i64, k)};

		LLVMBuildStore(e->b, x[k], LLVMBuildInBoundsGEP2(e->b, LLVMArrayType(e->i64, LOOP_MAX_ARGS),
		                                                 e->iscratch, ix, 2, ""));
	}
	args[0] = cint(e->i32, (int64_t)n->fn);
	args[1] = cint(e->i32, uns);
	args[2] = LLVMBuildBitCast(e->b, e->iscratch, pt[2], "");
	return call(e, "nnac_rt_apply_i64", e->i64, pt, 3, args);
}

static LLVMTypeRef ipow_type(CpuEmit *e)
{
	LLVMTypeRef pt[2] = {e->i64, e->i64};

	return LLVMFunctionType(e->i64, pt, 2, 0);
}

/* i_pow's negative exponents: 1 / a^-b truncated. */
static void ipow_negative(CpuEmit *e, LLVMValueRef a, LLVMValueRef b)
{
	LLVMValueRef one = cint(e->i64, 1), m1 = cint(e->i64, -1), odd, r;

	odd = LLVMBuildTrunc(e->b, b, e->i1, "");
	r = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, a, m1, ""),
	                    LLVMBuildSelect(e->b, odd, m1, one, ""), cint(e->i64, 0), "");
	LLVMBuildRet(e->b, LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, a, one, ""), one, r, ""));
}

/*
 * nnac_ipow(a, b), internal to the module: i_pow of ir/interp/elementwise.c,
 * square-and-multiply wrapping; built once, where the builder was is kept.
 */
static LLVMValueRef ipow_fn(CpuEmit *e)
{
	LLVMValueRef fn = LLVMGetNamedFunction(e->mod, "nnac_ipow"), a, b, r, base, ex, r2, in[2];
	LLVMBasicBlockRef at = LLVMGetInsertBlock(e->b), entry, neg, loop, body, done, from[2];

	if (fn)
		return fn;
	fn = LLVMAddFunction(e->mod, "nnac_ipow", ipow_type(e));
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	a = LLVMGetParam(fn, 0);
	b = LLVMGetParam(fn, 1);
	entry = LLVMAppendBasicBlockInContext(e->ctx, fn, "entry");
	neg = LLVMAppendBasicBlockInContext(e->ctx, fn, "neg");
	loop = LLVMAppendBasicBlockInContext(e->ctx, fn, "loop");
	body = LLVMAppendBasicBlockInContext(e->ctx, fn, "body");
	done = LLVMAppendBasicBlockInContext(e->ctx, fn, "done");
	LLVMPositionBuilderAtEnd(e->b, entry);
	LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, b, cint(e->i64, 0), ""), neg, loop);
	LLVMPositionBuilderAtEnd(e->b, neg);
	ipow_negative(e, a, b);
	LLVMPositionBuilderAtEnd(e->b, loop);
	r = LLVMBuildPhi(e->b, e->i64, "r");
	base = LLVMBuildPhi(e->b, e->i64, "base");
	ex = LLVMBuildPhi(e->b, e->i64, "e");
	LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntEQ, ex, cint(e->i64, 0), ""), done, body);
	LLVMPositionBuilderAtEnd(e->b, body);
	r2 = LLVMBuildSelect(e->b, LLVMBuildTrunc(e->b, ex, e->i1, ""), LLVMBuildMul(e->b, r, base, ""), r, "");
	from[0] = entry;
	from[1] = body;
	in[0] = cint(e->i64, 1);
	in[1] = r2;
	LLVMAddIncoming(r, in, from, 2);
	in[0] = a;
	in[1] = LLVMBuildMul(e->b, base, base, "");
	LLVMAddIncoming(base, in, from, 2);
	in[0] = b;
	in[1] = LLVMBuildLShr(e->b, ex, cint(e->i64, 1), "");
	LLVMAddIncoming(ex, in, from, 2);
	LLVMBuildBr(e->b, loop);
	LLVMPositionBuilderAtEnd(e->b, done);
	LLVMBuildRet(e->b, r);
	LLVMPositionBuilderAtEnd(e->b, at);
	return fn;
}

static LLVMValueRef iapply(CpuEmit *e, const LoopNode *n, bool uns, LLVMValueRef *x, int nx)
{
	LLVMValueRef zero = cint(e->i64, 0), neg;

	switch ((IKind)ikinds[n->fn]) {
	case I_HELPER: return ihelper(e, n, uns, x, nx);
	case I_POW: return LLVMBuildCall2(e->b, ipow_type(e), ipow_fn(e), x, 2, "");
	case I_RELU:
		return uns ? x[0] : LLVMBuildSelect(e->b, ilt(e, x[0], zero, false), zero, x[0], "");
	case I_NEG: return LLVMBuildSub(e->b, zero, x[0], "");
	case I_ABS:
		neg = LLVMBuildSub(e->b, zero, x[0], "");
		return uns ? x[0] : LLVMBuildSelect(e->b, ilt(e, x[0], zero, false), neg, x[0], "");
	case I_CLIP:
		neg = LLVMBuildSelect(e->b, ilt(e, x[0], x[1], uns), x[1], x[0], "");
		return LLVMBuildSelect(e->b, ilt(e, x[2], neg, uns), x[2], neg, "");
	case I_ADD: return LLVMBuildAdd(e->b, x[0], x[1], "");
	case I_SUB: return LLVMBuildSub(e->b, x[0], x[1], "");
	case I_MUL: return LLVMBuildMul(e->b, x[0], x[1], "");
	case I_DIV: return idiv(e, x[0], x[1], uns);
	case I_PRELU:
		return uns ? x[0] : LLVMBuildSelect(e->b, ilt(e, x[0], zero, false),
		                                    LLVMBuildMul(e->b, x[1], x[0], ""), x[0], "");
	case I_MAX: return LLVMBuildSelect(e->b, ilt(e, x[0], x[1], uns), x[1], x[0], "");
	case I_MIN: return LLVMBuildSelect(e->b, ilt(e, x[1], x[0], uns), x[1], x[0], "");
	case I_CAST: return x[0];
	case I_EQ: return i01(e, LLVMBuildICmp(e->b, LLVMIntEQ, x[0], x[1], ""));
	case I_LT: return i01(e, ilt(e, x[0], x[1], uns));
	case I_GT: return i01(e, ilt(e, x[1], x[0], uns));
	case I_LE: return i01(e, LLVMBuildNot(e->b, ilt(e, x[1], x[0], uns), ""));
	case I_GE: return i01(e, LLVMBuildNot(e->b, ilt(e, x[0], x[1], uns), ""));
	case I_AND: return ilogic(e, LLVMAnd, x[0], x[1]);
	case I_OR: return ilogic(e, LLVMOr, x[0], x[1]);
	case I_XOR: return ilogic(e, LLVMXor, x[0], x[1]);
	case I_NOT: return i01(e, LLVMBuildNot(e->b, itruth(e, x[0]), ""));
	case I_WHERE: return LLVMBuildSelect(e->b, itruth(e, x[0]), x[1], x[2], "");
	case I_MOD: return imod(e, x[0], x[1], uns, n->alpha != 0);
	case I_SHIFT: return ishift(e, x[0], x[1], n->alpha != 0);
	case I_SIGN: return isign(e, x[0], uns);
	}
	nnac_unreachable();
}

static bool int_like(DType dt)
{
	return dtype_is_int(dt) || dt == DT_BOOL;
}

/* Whether apply runs in integers, as stmt_kind of ir/loop_interp.c decides:
 * integers and bools throughout, and an op with an integer form. */
static bool apply_int_path(const CpuEmit *e, const LoopNode *n)
{
	if (!int_like(arg_dt(e, &n->arg[0])) || !scalar_has_i64(n->fn))
		return false;
	for (int k = 1; k < n->narg; k++) {
		const LoopArg *a = &n->arg[k];

		if (a->buf >= 0 ? !int_like(arg_dt(e, a)) : a->lit.is_float)
			return false;
	}
	return true;
}

static Status emit_apply(CpuEmit *e, int ni)
{
	const LoopNode *n = &e->p->nodes[ni];
	DType dt = arg_dt(e, &n->arg[0]);
	int nx = n->narg - 1;
	LLVMValueRef x[LOOP_MAX_ARGS], y;

	if ((unsigned)n->fn >= OP_COUNT)
		return cpu_error(e, ni, ST_UNSUPPORTED, "apply of an unknown op %d", (int)n->fn);
	if (apply_int_path(e, n)) {
		bool uns = loop_apply_unsigned(n->fn, dt, arg_dt(e, &n->arg[1]),
		                               nx > 1 ? arg_dt(e, &n->arg[2]) : DT_UNDEF);

		for (int k = 0; k < nx; k++)
			x[k] = load_i(e, &n->arg[k + 1], e->i64);
		y = iapply(e, n, uns, x, nx);
		store_i(e, &n->arg[0], y);
	} else {
		LLVMTypeRef ft = fkinds[n->fn] == F_HELPER ? e->f64 : float_type(e, n);

		for (int k = 0; k < nx; k++)
			x[k] = load_f(e, &n->arg[k + 1], ft);
		y = fapply(e, n, ft, x, nx);
		store_f(e, &n->arg[0], y);
	}
	return ST_OK;
}

/* reduce */

static void emit_reduce(CpuEmit *e, const LoopNode *n)
{
	DType dt = arg_dt(e, &n->arg[0]);
	LLVMValueRef ptr = elem_ptr(e, &n->arg[0], NULL), d, s, y = NULL;

	if (dtype_is_int(dt)) {
		bool uns = !dtype_is_signed(dt);

		d = raw_to_i(e, dt, load_raw(e, dt, ptr), e->i64);
		s = load_i(e, &n->arg[1], e->i64);
		switch (n->red) {
		case LR_SUM: y = LLVMBuildAdd(e->b, d, s, ""); break;
		case LR_MAX: y = LLVMBuildSelect(e->b, ilt(e, d, s, uns), s, d, ""); break;
		case LR_MIN: y = LLVMBuildSelect(e->b, ilt(e, s, d, uns), s, d, ""); break;
		case LR_PROD: y = LLVMBuildMul(e->b, d, s, ""); break;
		}
		store_raw(e, dt, i_to_raw(e, dt, y), ptr);
		return;
	}
	{
		LLVMTypeRef ft = float_type(e, n);

		d = raw_to_f(e, dt, load_raw(e, dt, ptr), ft);
		s = load_f(e, &n->arg[1], ft);
		store_raw(e, dt, f_to_raw(e, dt, cpu_emit_reduce_combine(e, n->red, d, s)), ptr);
	}
}

LLVMValueRef cpu_emit_reduce_combine(CpuEmit *e, LoopReduce red, LLVMValueRef acc, LLVMValueRef x)
{
	switch (red) {
	case LR_SUM: return LLVMBuildFAdd(e->b, acc, x, "");
	case LR_MAX: return fpick(e, LLVMRealOGT, acc, x);
	case LR_MIN: return fpick(e, LLVMRealOLT, acc, x);
	case LR_PROD: return LLVMBuildFMul(e->b, acc, x, "");
	}
	nnac_unreachable();
}

LLVMTypeRef cpu_emit_reduce_type(const CpuEmit *e, int node)
{
	const LoopNode *n = &e->p->nodes[node];
	DType acc = arg_dt(e, &n->arg[0]), src = arg_dt(e, &n->arg[1]);

	if (n->kind != LN_REDUCE || n->arg[1].buf < 0 || (acc != DT_F32 && acc != DT_F64) ||
	    (src != DT_F32 && src != DT_F64) || dtype_size(src) > dtype_size(acc))
		return NULL;
	return float_type(e, n);
}

LLVMValueRef cpu_emit_reduce_load(CpuEmit *e, int node, int lanes)
{
	const LoopArg *a = &e->p->nodes[node].arg[1];
	DType dt = arg_dt(e, a);
	LLVMTypeRef vt = LLVMVectorType(elem_type(e, dt), (unsigned)lanes);
	LLVMTypeRef ft = LLVMVectorType(float_type(e, &e->p->nodes[node]), (unsigned)lanes);
	LLVMValueRef v = LLVMBuildLoad2(e->b, vt, LLVMBuildBitCast(e->b, elem_ptr(e, a, NULL),
	                                                           LLVMPointerType(vt, 0), ""), "");

	LLVMSetAlignment(v, (unsigned)dtype_size(dt));
	return vt == ft ? v : LLVMBuildFPExt(e->b, v, ft, "");
}

/* quantize, dequantize, requantize */

static LLVMValueRef round_mode(CpuEmit *e, LoopRound m, LLVMValueRef v)
{
	switch (m) {
	case LRND_EVEN: return cpu_emit_fintrinsic(e, "llvm.roundeven", &v, 1);
	case LRND_AWAY: return cpu_emit_fintrinsic(e, "llvm.round", &v, 1);
	}
	nnac_unreachable();
}

/* dtype_round (base/value.c): a double rounded to float type dt and back. */
static LLVMValueRef dt_round(CpuEmit *e, DType dt, LLVMValueRef v)
{
	LLVMValueRef f = LLVMBuildFPTrunc(e->b, v, e->f32, "");

	switch (dt) {
	case DT_F32: return LLVMBuildFPExt(e->b, f, e->f64, "");
	case DT_F16: return raw_to_f(e, DT_F16, f_to_raw(e, DT_F16, f), e->f64);
	case DT_BF16: return raw_to_f(e, DT_BF16, emit_f32_to_bf16(e, f), e->f64);
	default:
		break;
	}
	return v;
}

static void emit_quantize(CpuEmit *e, const LoopNode *n)
{
	const LoopArg *sc = &n->arg[2], *z = &n->arg[3];
	DType src = arg_dt(e, &n->arg[1]);
	LLVMValueRef q = LLVMBuildFDiv(e->b, load_f(e, &n->arg[1], e->f64), load_f(e, sc, e->f64), "");
	LLVMValueRef zp = z->buf >= 0 ? load_f(e, z, e->f64) : cfp(e->f64, (double)z->lit.i);

	if (sc->buf < 0 || arg_dt(e, sc) == src)
		q = dt_round(e, src, q);
	store_f(e, &n->arg[0], LLVMBuildFAdd(e->b, round_mode(e, n->round, q), zp, ""));
}

static void emit_dequantize(CpuEmit *e, const LoopNode *n)
{
	LLVMValueRef v = LLVMBuildSub(e->b, load_i(e, &n->arg[1], e->i64), load_i(e, &n->arg[3], e->i64), "");

	v = LLVMBuildSIToFP(e->b, v, e->f64, "");
	store_f(e, &n->arg[0], LLVMBuildFMul(e->b, v, load_f(e, &n->arg[2], e->f64), ""));
}

static void emit_requantize(CpuEmit *e, const LoopNode *n)
{
	LLVMValueRef q = LLVMBuildSIToFP(e->b, load_i(e, &n->arg[1], e->i64), e->f64, "");
	LLVMValueRef zp = LLVMBuildSIToFP(e->b, load_i(e, &n->arg[3], e->i64), e->f64, "");

	q = LLVMBuildFMul(e->b, q, load_f(e, &n->arg[2], e->f64), "");
	store_f(e, &n->arg[0], LLVMBuildFAdd(e->b, round_mode(e, n->round, q), zp, ""));
}

/* Loaded indices. */

bool cpu_stmt_loads(const LoopProgram *p, int node)
{
	const LoopNode *n = &p->nodes[node];

	for (int a = 0; n->kind != LN_FOR && n->kind != LN_NOTE && a < n->narg; a++)
		if (loop_arg_has_load(p, &n->arg[a]))
			return true;
	return false;
}

/* At the builder's position, in a new block: claims the function's
 * NnacFail (compare-and-swap of its kernel from -1), fills it in when the
 * claim succeeds, and returns from the function. */
static void emit_fail(CpuEmit *e, int64_t buf, int d, LLVMValueRef value, int64_t bound)
{
	LLVMTypeRef pt = cpu_par_type(e), ft = LLVMArrayType(e->i64, 5);
	LLVMValueRef par = LLVMBuildBitCast(e->b, e->curpar, LLVMPointerType(pt, 0), "");
	LLVMValueRef f = LLVMBuildLoad2(e->b, e->ptr, LLVMBuildStructGEP2(e->b, pt, par, 5, ""), "fail");
	LLVMValueRef rec = LLVMBuildBitCast(e->b, f, LLVMPointerType(ft, 0), ""), ix[2], won;
	LLVMValueRef field[5] = {NULL, cint(e->i64, buf), cint(e->i64, d), value, cint(e->i64, bound)};
	LLVMBasicBlockRef fill = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "claimed");
	LLVMBasicBlockRef out = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "fail_out");

	ix[0] = cint(e->i64, 0);
	ix[1] = cint(e->i64, 0);
	won = LLVMBuildAtomicCmpXchg(e->b, LLVMBuildInBoundsGEP2(e->b, ft, rec, ix, 2, ""),
	                             cint(e->i64, -1), cint(e->i64, e->kernel),
	                             LLVMAtomicOrderingSequentiallyConsistent,
	                             LLVMAtomicOrderingSequentiallyConsistent, 0);
	LLVMBuildCondBr(e->b, LLVMBuildExtractValue(e->b, won, 1, ""), fill, out);
	LLVMPositionBuilderAtEnd(e->b, fill);
	for (int k = 1; k < 5; k++) {
		ix[1] = cint(e->i64, k);
		LLVMBuildStore(e->b, field[k], LLVMBuildInBoundsGEP2(e->b, ft, rec, ix, 2, ""));
	}
	LLVMBuildBr(e->b, out);
	LLVMPositionBuilderAtEnd(e->b, out);
	LLVMBuildRetVoid(e->b);
}

/* Loaded index d of operand k of statement n, read, wrapped once when
 * negative and checked against its dimension; the builder continues where
 * it is in range. */
static LLVMValueRef guard_load(CpuEmit *e, const LoopNode *n, int k, int d)
{
	const LoopArg *a = &n->arg[k];
	int ex = a->idx[d], lb = (int)e->p->exprs[ex].c;
	DType dt = e->p->bufs[lb].dt;
	LoopArg at = loop_ref(lb, e->p->bufs[lb].rank, loop_load_idx(e->p, ex));
	int64_t dim = e->p->bufs[a->buf].dims[d];
	LLVMValueRef v = load_raw(e, dt, elem_ptr(e, &at, NULL)), w, ok, expect[2];
	LLVMBasicBlockRef in = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "in_range");
	LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(e->ctx, e->fn, "out_of_range");
	LLVMTypeRef i1 = e->i1;

	if (dtype_size(dt) < 8)
		v = dtype_is_signed(dt) ? LLVMBuildSExt(e->b, v, e->i64, "") : LLVMBuildZExt(e->b, v, e->i64, "");
	w = v;
	if (dtype_is_signed(dt))
		w = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, v, cint(e->i64, 0), ""),
		                    LLVMBuildAdd(e->b, v, cint(e->i64, dim), ""), v, "");
	expect[0] = LLVMBuildICmp(e->b, LLVMIntULT, w, cint(e->i64, dim), "");
	expect[1] = LLVMConstInt(i1, 1, 0);
	ok = cpu_emit_intrinsic(e, "llvm.expect", &i1, 1, expect, 2);
	LLVMBuildCondBr(e->b, ok, in, bad);
	LLVMPositionBuilderAtEnd(e->b, bad);
	emit_fail(e, a->buf, d, v, dim);
	LLVMPositionBuilderAtEnd(e->b, in);
	return w;
}

/* Every loaded index of statement ni, checked, into e->loaded. */
static void guard_loads(CpuEmit *e, int ni)
{
	const LoopNode *n = &e->p->nodes[ni];

	memset(e->loaded, 0, sizeof(e->loaded));
	for (int k = 0; k < n->narg; k++)
		for (int d = 0; n->arg[k].buf >= 0 && d < n->arg[k].nidx; d++)
			if (e->p->exprs[n->arg[k].idx[d]].kind == LE_LOAD)
				e->loaded[k][d] = guard_load(e, n, k, d);
}

static Status emit_stmt(CpuEmit *e, int ni)
{
	const LoopNode *n = &e->p->nodes[ni];

	switch (n->kind) {
	case LN_COPY: emit_copy(e, n); return ST_OK;
	case LN_FILL: emit_fill(e, n); return ST_OK;
	case LN_MAC: emit_mac(e, ni); return ST_OK;
	case LN_APPLY: return emit_apply(e, ni);
	case LN_REDUCE: emit_reduce(e, n); return ST_OK;
	case LN_QUANTIZE: emit_quantize(e, n); return ST_OK;
	case LN_DEQUANTIZE: emit_dequantize(e, n); return ST_OK;
	case LN_REQUANTIZE: emit_requantize(e, n); return ST_OK;
	case LN_FOR: case LN_NOTE: case LN_COUNT: break;
	}
	nnac_unreachable();
}

Status cpu_emit_stmt(CpuEmit *e, int ni)
{
	Status st;

	e->stmt = ni;
	if (cpu_stmt_loads(e->p, ni))
		guard_loads(e, ni);
	st = emit_stmt(e, ni);
	e->stmt = -1;
	memset(e->loaded, 0, sizeof(e->loaded));
	return st;
}
