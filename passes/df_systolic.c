/*
 * SCALE-Sim's analytical model of a systolic array (df_systolic.h).
 *
 * The assignment of the layer's three GEMM extents to the array follows the
 * table of the ISPASS 2020 SCALE-Sim paper (Samajdar et al.), where
 * Nofmap = N*P*Q output pixels, Nfilter = K filters, Wconv = R*S*C the
 * filter window:
 *
 *   dataflow   Sr (rows)   Sc (columns)   T (time)
 *   OS         Nofmap      Nfilter        Wconv
 *   WS         Wconv       Nfilter        Nofmap
 *   IS         Wconv       Nofmap         Nfilter
 *
 * and its runtime of a scaled-up array, (2R + C + T - 2) * ceil(Sr/R) *
 * ceil(Sc/C) for an array of R rows and C columns.  SCALE-Sim 2's output
 * stationary compute model (scalesim/compute/systolic_compute_os.py) sets
 * the same Sr, Sc and T from its operand matrices, and its per-fold mapping
 * efficiency is the one of df_systolic_fold_mapping: rows used * columns
 * used / (R * C).  Everything here is
 * integer arithmetic on the layer's dimensions; nothing is simulated.
 */
#include "df_systolic.h"

static int64_t df_ceil_div(int64_t a, int64_t b)
{
	nnac_assert(a >= 0 && b > 0);
	return (a + b - 1) / b;
}

const char *df_flow_name(DfSystolicFlow flow)
{
	switch (flow) {
	case DF_FLOW_WS: return "ws";
	case DF_FLOW_OS: return "os";
	case DF_FLOW_IS: return "is";
	}
	nnac_unreachable();
}

const char *df_outconv_name(DfOutConv conv)
{
	switch (conv) {
	case DF_OUT_ONNX: return "onnx";
	case DF_OUT_SCALESIM: return "scalesim";
	}
	nnac_unreachable();
}

Status df_layer_check(const DfLayer *l, const char *what, Diag *d)
{
	const struct { const char *name; int64_t v; } dims[] = {
		{ "batch", l->n }, { "height", l->h }, { "width", l->w },
		{ "channels", l->c }, { "filters", l->k },
		{ "kernel height", l->r }, { "kernel width", l->s },
		{ "stride", l->stride },
	};
	for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
		if (dims[i].v <= 0)
			return diag_add(d, ST_INVALID, "%s: %s %lld is not positive",
				what, dims[i].name, (long long)dims[i].v);
	if (l->pad < 0)
		return diag_add(d, ST_INVALID, "%s: padding %lld is negative",
			what, (long long)l->pad);
	if (l->r > l->h + 2 * l->pad || l->s > l->w + 2 * l->pad)
		return diag_add(d, ST_INVALID,
			"%s: kernel %lldx%lld is larger than the padded input %lldx%lld",
			what, (long long)l->r, (long long)l->s,
			(long long)(l->h + 2 * l->pad), (long long)(l->w + 2 * l->pad));
	return ST_OK;
}

static int64_t df_out_dim(int64_t in, int64_t kern, int64_t stride, DfOutConv conv)
{
	nnac_assert(in >= kern && kern > 0 && stride > 0);
	switch (conv) {
	case DF_OUT_ONNX: return (in - kern) / stride + 1;
	case DF_OUT_SCALESIM: return df_ceil_div(in - kern + stride, stride);
	}
	nnac_unreachable();
}

void df_layer_out(const DfLayer *l, DfOutConv conv, int64_t *p, int64_t *q)
{
	*p = df_out_dim(l->h + 2 * l->pad, l->r, l->stride, conv);
	*q = df_out_dim(l->w + 2 * l->pad, l->s, l->stride, conv);
}

int64_t df_layer_macs(const DfLayer *l, DfOutConv conv)
{
	int64_t p, q;
	df_layer_out(l, conv, &p, &q);
	return l->n * p * q * l->k * l->r * l->s * l->c;
}

DfSystolicMap df_systolic_map(const DfLayer *l, int rows, int cols,
	DfSystolicFlow flow, DfOutConv conv)
{
	int64_t p, q;
	nnac_assert(rows > 0 && cols > 0);
	df_layer_out(l, conv, &p, &q);
	int64_t window = l->r * l->s * l->c, filters = l->k, pixels = l->n * p * q;
	DfSystolicMap m = { 0 };
	switch (flow) {
	case DF_FLOW_WS: m.sr = window; m.sc = filters; m.t = pixels; break;
	case DF_FLOW_OS: m.sr = pixels; m.sc = filters; m.t = window; break;
	case DF_FLOW_IS: m.sr = window; m.sc = pixels; m.t = filters; break;
	}
	m.fold_r = df_ceil_div(m.sr, rows);
	m.fold_c = df_ceil_div(m.sc, cols);
	m.fold_cycles = 2 * (int64_t)rows + cols + m.t - 2;
	m.cycles = m.fold_r * m.fold_c * m.fold_cycles;
	return m;
}

int64_t df_systolic_cycles(const DfLayer *l, int rows, int cols,
	DfSystolicFlow flow, DfOutConv conv)
{
	return df_systolic_map(l, rows, cols, flow, conv).cycles;
}

double df_systolic_utilization(const DfLayer *l, int rows, int cols,
	DfSystolicFlow flow, DfOutConv conv)
{
	int64_t cycles = df_systolic_cycles(l, rows, cols, flow, conv);
	return (double)df_layer_macs(l, conv) / ((double)rows * cols * (double)cycles);
}

/* The extent fold f of ceil(total/size) maps: size, but the remainder in the
 * last fold. */
static int64_t df_fold_extent(int64_t total, int size, int64_t f)
{
	nnac_assert(f >= 0 && f < df_ceil_div(total, size));
	int64_t left = total - f * size;
	return left < size ? left : size;
}

double df_systolic_fold_mapping(const DfSystolicMap *m, int rows, int cols,
	int64_t fr, int64_t fc)
{
	int64_t used = df_fold_extent(m->sr, rows, fr) * df_fold_extent(m->sc, cols, fc);
	return (double)used / ((double)rows * cols);
}

double df_systolic_mapping_eff(const DfSystolicMap *m, int rows, int cols)
{
	return (double)(m->sr * m->sc) /
		((double)m->fold_r * rows * (double)m->fold_c * cols);
}
