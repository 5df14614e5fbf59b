/*
 * Unit tests of the IR's building blocks: half-precision conversion,
 * broadcasting, the op table, .npy round trips; then allocation failures
 * (tests/test_util.h) in importing and optimizing a model, reading a tensor
 * file, compiling and writing a cpu bundle and opening and running it with
 * the runtime library.  Prints one line per failed check and
 * "unit: P passed, F failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch_lang.h"
#include "cpu_bundle.h"
#include "device.h"
#include "graph.h"
#include "minifloat.h"
#include "nnac_rt.h"
#include "npy.h"
#include "onnx.h"
#include "op.h"
#include "passes.h"
#include "target.h"
#include "test_util.h"

static void test_half(void)
{
	CHECK(f16_to_f32(0x3c00) == 1.0f);
	CHECK(f16_to_f32(0xc000) == -2.0f);
	CHECK(f16_to_f32(0x0001) == ldexpf(1, -24));
	CHECK(f32_to_f16(1.0f) == 0x3c00);
	CHECK(f32_to_f16(65504.0f) == 0x7bff);
	CHECK(f32_to_f16(1e6f) == 0x7c00);
	CHECK(f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00);        /* tie to even */
	CHECK(f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02);    /* tie to even, up */
	/* just above a tie: through float it would round twice, down to even */
	CHECK(f64_to_f16(1.0 + ldexp(1, -11) + ldexp(1, -40)) == 0x3c01);
	CHECK(f64_to_f16(-1.0 - ldexp(1, -11)) == 0xbc00);
	CHECK(f32_to_bf16(1.0f) == 0x3f80);
	CHECK(bf16_to_f32(0x4040) == 3.0f);
	for (uint32_t h = 0; h < 0x7c00; h++)
		if (f32_to_f16(f16_to_f32((uint16_t)h)) != h) {
			CHECK(!"f16 round trip");
			break;
		}
}

/* The 8- and 4-bit floats (base/minifloat.h): the formats' published
 * extremes, every code back to itself, rounding ties to even, overflow. */
static void test_minifloat(void)
{
	static const DType types[] = {DT_F8E4M3FN, DT_F8E4M3FNUZ, DT_F8E5M2, DT_F8E5M2FNUZ, DT_F4E2M1};
	static const double e2m1[] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
	int same = 0, codes = 0;

	CHECK(minifloat_decode(DT_F8E4M3FN, 0x7e) == 448 && isnan(minifloat_decode(DT_F8E4M3FN, 0x7f)));
	CHECK(minifloat_decode(DT_F8E4M3FN, 0x01) == ldexp(1, -9));
	CHECK(minifloat_decode(DT_F8E4M3FNUZ, 0x7f) == 240 && isnan(minifloat_decode(DT_F8E4M3FNUZ, 0x80)));
	CHECK(minifloat_decode(DT_F8E5M2, 0x7b) == 57344 && isinf(minifloat_decode(DT_F8E5M2, 0x7c)));
	CHECK(minifloat_decode(DT_F8E5M2FNUZ, 0x7f) == 57344 && minifloat_decode(DT_F8E5M2FNUZ, 0x01) == ldexp(1, -17));
	CHECK(minifloat_decode(DT_F8E8M0, 127) == 1 && isnan(minifloat_decode(DT_F8E8M0, 0xff)));
	for (int c = 0; c < 8; c++)
		CHECK(minifloat_decode(DT_F4E2M1, (uint8_t)c) == e2m1[c] &&
		      minifloat_decode(DT_F4E2M1, (uint8_t)(c | 8)) == -e2m1[c]);
	for (size_t t = 0; t < ARRAY_LEN(types); t++)
		for (int c = 0; c < (types[t] == DT_F4E2M1 ? 16 : 256); c++) {
			double v = minifloat_decode(types[t], (uint8_t)c);
			if (isnan(v) || (v == 0 && c != 0 && (types[t] == DT_F8E4M3FNUZ || types[t] == DT_F8E5M2FNUZ)))
				continue;
			codes++;
			same += minifloat_encode(types[t], v, false) == c;
		}
	CHECK(same == codes && codes > 900);
	/* 17 lies halfway between 16 (mantissa 000) and 18 (001): to even, 16;
	 * 19 halfway between 18 and 20 (010): 20 */
	CHECK(minifloat_decode(DT_F8E4M3FN, minifloat_encode(DT_F8E4M3FN, 17, true)) == 16);
	CHECK(minifloat_decode(DT_F8E4M3FN, minifloat_encode(DT_F8E4M3FN, 19, true)) == 20);
	CHECK(minifloat_decode(DT_F8E4M3FN, minifloat_encode(DT_F8E4M3FN, 1e6, true)) == 448);
	CHECK(isnan(minifloat_decode(DT_F8E4M3FN, minifloat_encode(DT_F8E4M3FN, 1e6, false))));
	CHECK(isinf(minifloat_decode(DT_F8E5M2, minifloat_encode(DT_F8E5M2, 1e6, false))));
	CHECK(minifloat_encode(DT_F8E4M3FNUZ, -1e-30, true) == 0);    /* no -0: 0x80 is NaN */
	/* 5: halfway between 4 (code 6) and 6 (code 7): to the even code */
	CHECK(minifloat_encode(DT_F4E2M1, 5, true) == 6 && minifloat_encode(DT_F4E2M1, 5.01, true) == 7);
	CHECK(minifloat_encode_e8m0(3, MF_ROUND_UP, true) == 129 && minifloat_encode_e8m0(3, MF_ROUND_DOWN, true) == 128);
	CHECK(minifloat_encode_e8m0(3.1, MF_ROUND_NEAREST, true) == 129 &&
	      minifloat_encode_e8m0(2.9, MF_ROUND_NEAREST, true) == 128);
}

static void test_broadcast(void)
{
	Value a = {DT_F32, 3, {2, 1, 4}, NULL}, b = {DT_F32, 2, {3, 1}, NULL}, out = {DT_F32, 0, {0}, NULL};
	Value c = {DT_F32, 1, {5}, NULL};
	int64_t offs[24];

	CHECK(bcast_shape(&a, &b, &out));
	CHECK(out.rank == 3 && out.dims[0] == 2 && out.dims[1] == 3 && out.dims[2] == 4);
	CHECK(!bcast_shape(&a, &c, &out) || 0);
	bcast_shape(&a, &b, &out);
	bcast_offsets(&out, &b, offs);
	CHECK(offs[0] == 0 && offs[3] == 0 && offs[4] == 1 && offs[11] == 2 && offs[12] == 0);
	bcast_offsets(&out, &a, offs);
	CHECK(offs[4] == 0 && offs[5] == 1 && offs[12] == 4 && offs[23] == 7);
}

static void test_op_table(void)
{
	AttrKind k;

	CHECK(op_lookup("Conv") == OP_Conv);
	CHECK(op_lookup("NoSuchOp") == OP_UNKNOWN);
	CHECK(op_attr_known(OP_Conv, "pads", &k) && k == ATTR_INTS);
	CHECK(op_attr_known(OP_Conv, "group", &k) && k == ATTR_INT);
	CHECK(!op_attr_known(OP_Conv, "bogus", &k));
	CHECK(op_flags(OP_Relu) & OPF_ACT);
	for (int op = 0; op < OP_COUNT; op++)
		CHECK(op_impl((OpKind)op)->infer && op_impl((OpKind)op)->eval);
}

static void test_npy(void)
{
	Arena a;
	Diag d;
	Value v = {DT_I16, 2, {2, 3}, NULL}, r;
	const char *path = "unit_test_tmp.npy";

	arena_init(&a);
	diag_init(&d);
	val_alloc(&a, &v);
	for (int i = 0; i < 6; i++)
		val_set_i64(&v, i, i * 1000 - 2500);
	CHECK(npy_write(path, &v, &d) == ST_OK);
	CHECK(npy_read(path, &a, &d, &r) == ST_OK);
	CHECK(r.dt == DT_I16 && val_same_shape(&r, &v) && memcmp(r.data, v.data, 12) == 0);
	remove(path);
	CHECK(npy_read("no/such/file.npy", &a, &d, &r) == ST_IO);
	diag_free(&d);
	arena_free(&a);
}

/* Every allocation failure while importing and optimizing a model is
 * reported as ST_NOMEM with a message, never a crash. */
static void test_alloc_failures(void)
{
	int reported = 0, tries = 0;

	for (long n = 0; n < 40; n++) {
		Diag d;
		Graph g;
		PipelineOptions po = {true, true, 0};
		Status st;

		diag_init(&d);
		test_alloc_fail_from(n + 1);
		graph_init(&g, &d, NULL);
		st = onnx_import(&g, "models/lenet5.onnx", NULL);
		if (st == ST_OK)
			st = pass_pipeline(&g, &po);
		graph_free(&g);
		test_alloc_restore();
		tries++;
		if (st == ST_NOMEM && d.n > 0 && strstr(d.msg[0].text, "out of memory"))
			reported++;
		else if (st != ST_OK)
			CHECK(!"allocation failure reported as something else");
		diag_free(&d);
		if (st == ST_OK)
			break;
	}
	CHECK(tries > 1 && reported == tries - 1);
}

/* Each allocation of importing and optimizing a model fails alone, the
 * ones after it succeeding: the import goes on past the failure but the
 * result is still ST_NOMEM with an out-of-memory message. */
static void test_alloc_failure_once(void)
{
	bool clean = true, done = false;
	long n;

	for (n = 1; n < 1000 && !done; n++) {
		Diag d;
		Graph g;
		PipelineOptions po = {true, true, 0};
		Status st;
		bool reported = false;

		diag_init(&d);
		test_alloc_fail_once(n);
		graph_init(&g, &d, NULL);
		st = onnx_import(&g, "models/lenet5.onnx", NULL);
		if (st == ST_OK)
			st = pass_pipeline(&g, &po);
		graph_free(&g);
		done = test_alloc_restore() < n;
		for (int i = 0; i < d.n; i++)
			reported |= strstr(d.msg[i].text, "out of memory") != NULL;
		if (done ? st != ST_OK : st != ST_NOMEM || !reported) {
			if (clean)
				printf("allocation %ld failing: status %s\n", n, status_name(st));
			clean = false;
		}
		diag_free(&d);
	}
	CHECK(clean && done && n > 3);
}

static Status read_tensor(const void *ctx, Diag *d)
{
	Arena a;
	Value v;
	const char *name = NULL;
	Status st;

	arena_init(&a);
	st = onnx_read_tensor_file(ctx, &a, d, &v, &name);
	if (st == ST_OK && (!name || val_numel(&v) != 24))
		st = diag_add(d, ST_INTERNAL, "%s: not the tensor written there", (const char *)ctx);
	arena_free(&a);
	return st;
}

/* Each allocation of reading a tensor file (a test set's input_0.pb) fails
 * in turn. */
static void test_alloc_failure_tensor(void)
{
	const char *path = "tests/loop_cases/b_add/test_data_set_0/input_0.pb";
	long runs;

	CHECK(test_alloc_sweep(read_tensor, path, ST_OK, NULL, &runs) && runs > 2);
}

/* A cpu program small enough to compile in a moment. */
static const char relu_text[] =
	"level dram\n"
	"buf X : f32[64] @dram input \"x\"\n"
	"buf Y : f32[64] @dram output \"y\"\n"
	"kernel k {\n"
	"\tfor i in 0..64 {\n"
	"\t\tapply Y[i] = Relu(X[i])\n"
	"\t}\n"
	"}\n";

/* p compiled for the cpu (opt NULL: the defaults) and written as a bundle
 * to path. */
static Status cpu_write(const LoopProgram *p, const CpuOptions *opt, const char *path, Diag *d)
{
	static const char meta[] = "target=cpu\n";
	NnbWriter *w = nnb_writer_new();
	uint8_t *so = NULL;
	size_t len = 0;
	Status st = w ? cpu_compile(p, opt, &so, &len, d) : diag_add(d, ST_NOMEM, "out of memory");

	if (st == ST_OK)
		st = cpu_bundle_add(p, so, len, w, d);
	if (st == ST_OK)
		st = nnb_add(w, NNB_META, NULL, meta, sizeof(meta) - 1, d);
	if (st == ST_OK)
		st = nnb_write(w, path, d);
	if (w)
		nnb_writer_free(w);
	free(so);
	return st;
}

/* The bundle at path opened with the runtime library, run on two threads
 * and closed: 0 when Y is Relu(X), 1 when not, -1 with the reason in err
 * when a call fails. */
static int rt_cycle(const char *path, char *err, size_t len)
{
	NnacModel *m;
	float *x;
	const float *y;
	int rc = 0;

	if (nnac_open(path, &m, err, len) != 0)
		return -1;
	x = nnac_input_data(m, 0);
	for (int i = 0; i < 64; i++)
		x[i] = (float)i - 31.5f;
	if (nnac_set_threads(m, 2) != 0 || nnac_run(m) != 0) {
		snprintf(err, len, "%s", nnac_error(m));
		rc = -1;
	}
	y = nnac_output_data(m, 0);
	for (int i = 0; rc == 0 && i < 64; i++)
		rc = y[i] != (x[i] > 0 ? x[i] : 0);
	nnac_close(m);
	return rc;
}

/* A Gather by run-time ids, compiled for the cpu. */
static const char gather_text[] =
	"level dram\n"
	"buf T : f32[5, 3] @dram input \"t\"\n"
	"buf I : i32[4] @dram input \"i\"\n"
	"buf Y : f32[4, 3] @dram output \"y\"\n"
	"kernel g \"Gather_7\" {\n"
	"\tfor r in 0..4 {\n"
	"\t\tfor c in 0..3 {\n"
	"\t\t\tcopy Y[r, c] = T[I[r], c]\n"
	"\t\t}\n"
	"\t}\n"
	"}\n";

/* Its bundle, with every nest split across threads, run on 2 threads with
 * ids in range (one negative), then with one past the range: nnac_run
 * fails naming the layer, the input indexed (by its tensor's name), the
 * value and the range. */
static void test_cpu_loaded_index(void)
{
	const CpuOptions split = {NULL, NULL, 3, 1, 0, 0, 0, 0};
	char dir[] = "/tmp/nnac-unit-XXXXXX", path[64], err[256];
	int32_t ids[4] = {4, 0, -1, 2};
	NnacModel *m = NULL;
	LoopProgram p;
	Diag d;
	bool ok = true;

	if (!mkdtemp(dir)) {
		CHECK(!"cannot make a temporary folder");
		return;
	}
	snprintf(path, sizeof(path), "%s/gather.nnb", dir);
	diag_init(&d);
	loop_init(&p, &d, "gather.loop");
	CHECK(loop_parse(&p, "gather.loop", gather_text, sizeof(gather_text) - 1) == ST_OK &&
	      loop_verify(&p) == ST_OK && cpu_write(&p, &split, path, &d) == ST_OK);
	CHECK(nnac_open(path, &m, err, sizeof(err)) == 0 && nnac_set_threads(m, 2) == 0);
	if (m) {
		float *t = nnac_input_data(m, 0);
		const float *y = nnac_output_data(m, 0);

		for (int k = 0; k < 15; k++)
			t[k] = (float)k;
		memcpy(nnac_input_data(m, 1), ids, sizeof(ids));
		CHECK(nnac_run(m) == 0);
		for (int r = 0; r < 4; r++)
			for (int c = 0; c < 3; c++)
				ok &= y[r * 3 + c] == (float)(((ids[r] + 5) % 5) * 3 + c);
		CHECK(ok);
		ids[2] = -6;
		memcpy(nnac_input_data(m, 1), ids, sizeof(ids));
		CHECK(nnac_run(m) != 0 && strstr(nnac_error(m), "kernel 0 (layer 'Gather_7'): index 0 of "
		                                 "'t' is -6, outside [-5, 5)"));
		ids[2] = 5;
		memcpy(nnac_input_data(m, 1), ids, sizeof(ids));
		CHECK(nnac_run(m) != 0 && strstr(nnac_error(m), "'t' is 5, outside [-5, 5)"));
		nnac_close(m);
	}
	unlink(path);
	rmdir(dir);
	loop_free(&p);
	diag_free(&d);
}

/* Each allocation of compiling and writing a cpu bundle, and then of
 * opening and running it with the runtime library, fails alone: out of
 * memory every time, in the diagnostics or in the runtime's error text. */
static void test_alloc_failure_cpu(void)
{
	char dir[] = "/tmp/nnac-unit-XXXXXX", path[64], err[256];
	bool clean = true, done = false;
	LoopProgram p;
	Diag d;
	long n;

	if (!mkdtemp(dir)) {
		CHECK(!"cannot make a temporary folder");
		return;
	}
	snprintf(path, sizeof(path), "%s/relu.nnb", dir);
	diag_init(&d);
	loop_init(&p, &d, "relu.loop");
	CHECK(loop_parse(&p, "relu.loop", relu_text, sizeof(relu_text) - 1) == ST_OK &&
	      loop_verify(&p) == ST_OK);
	for (n = 1; n < 1000 && !done; n++) {
		Status st;

		test_alloc_fail_once(n);
		st = cpu_write(&p, NULL, path, &d);
		done = test_alloc_restore() < n;
		if (done ? st != ST_OK : st != ST_NOMEM || d.n != 1 ||
		                         !strstr(d.msg[0].text, "out of memory")) {
			printf("compiling, allocation %ld failing: status %s\n", n, status_name(st));
			diag_print(&d, stdout);
			clean = false;
		}
		diag_free(&d);
	}
	CHECK(clean && done && n > 3);
	clean = true;
	done = false;
	for (n = 1; n < 1000 && !done; n++) {
		int rc;

		err[0] = 0;
		test_alloc_fail_once(n);
		rc = rt_cycle(path, err, sizeof(err));
		done = test_alloc_restore() < n;
		if (done ? rc != 0 : rc != -1 || !strstr(err, "out of memory")) {
			if (clean)
				printf("running, allocation %ld failing: %d, %s\n", n, rc, err);
			clean = false;
		}
	}
	CHECK(clean && done && n > 3);
	loop_free(&p);
	diag_free(&d);
	unlink(path);
	rmdir(dir);
}

/* The bytes of models/lenet5.onnx compiled for the tpu target (int8 on
 * synthetic samples), through the target table as `nnac compile` does; its
 * softmax is a host step, so the bundle holds a host_loops section. */
static Status tpu_bundle_bytes(uint8_t **bytes, size_t *size, Diag *d)
{
	const Target *t = target_find("tpu");
	TargetJob job = {0};
	Graph g;
	Arch arch;
	PipelineOptions po = {false, true, 0};
	Status st;

	graph_init(&g, d, "models/lenet5.onnx");
	job = (TargetJob){.model = "models/lenet5.onnx", .g = &g, .arena = &g.arena, .diag = d, .arch = &arch};
	job.bundle = nnb_writer_new();
	st = t && job.bundle ? onnx_import(&g, "models/lenet5.onnx", &(OnnxOptions){NULL, 0}) : ST_NOMEM;
	if (st == ST_OK)
		st = pass_pipeline(&g, &po);
	if (st == ST_OK)
		st = arch_preset(&arch, &g.arena, d, t->default_arch(&job));
	if (st == ST_OK)
		st = t->prepare(&job);
	if (st == ST_OK)
		st = t->compile(&job);
	if (st == ST_OK)
		st = nnb_write_mem(job.bundle, bytes, size, d);
	if (job.bundle)
		nnb_writer_free(job.bundle);
	graph_free(&g);
	return st;
}

typedef struct Bytes {
	const uint8_t *p;
	size_t n;
} Bytes;

/* A tpu bundle opened on its device (the plan read, the host steps' loop
 * programs parsed and verified) and run once on zero inputs. */
static Status run_tpu_bundle(const void *ctx, Diag *d)
{
	const Bytes *b = ctx;
	Device *dv = NULL;
	Nnb *nb;
	Status st = nnb_open_mem("lenet5.nnb", b->p, b->n, &nb, d);

	if (st == ST_OK)
		st = device_open_bundle(nb, true, d, &dv);
	if (st == ST_OK)
		st = device_run(dv);
	if (st == ST_OK && strcmp(dv->ops->name, "tpu-sim") != 0)
		st = diag_add(d, ST_INTERNAL, "lenet5.nnb: ran on %s", dv->ops->name);
	device_close(dv);
	return st;
}

/* Each allocation of opening and running a tpu bundle on the simulator
 * device fails alone: out of memory every time. */
static void test_alloc_failure_tpu(void)
{
	uint8_t *bytes = NULL;
	size_t size = 0;
	long runs = 0;
	Diag d;

	diag_init(&d);
	CHECK(tpu_bundle_bytes(&bytes, &size, &d) == ST_OK);
	diag_print(&d, stdout);
	diag_free(&d);
	diag_init(&d);
	Nnb *nb = NULL;
	CHECK(bytes && nnb_open_mem("lenet5.nnb", bytes, size, &nb, &d) == ST_OK &&
	      nnb_find(nb, NNB_HOST_LOOPS, NULL) != NULL);
	if (nb)
		nnb_close(nb);
	CHECK(bytes && test_alloc_sweep(run_tpu_bundle, &(Bytes){bytes, size}, ST_OK, NULL, &runs) &&
	      runs > 10);
	nnac_free(bytes);
	diag_free(&d);
}

int main(void)
{
	test_half();
	test_minifloat();
	test_broadcast();
	test_op_table();
	test_npy();
	test_alloc_failures();
	test_alloc_failure_once();
	test_alloc_failure_tensor();
	test_alloc_failure_cpu();
	test_cpu_loaded_index();
	test_alloc_failure_tpu();
	return test_summary("unit");
}
