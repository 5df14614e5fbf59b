/*
 * Unit tests of the IR's building blocks: half-precision conversion,
 * broadcasting, the op table, .npy round trips.  Prints one line per
 * failed check and "unit: P passed, F failed".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "npy.h"
#include "onnx.h"
#include "op.h"
#include "passes.h"
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

int main(void)
{
	test_half();
	test_broadcast();
	test_op_table();
	test_npy();
	test_alloc_failures();
	return test_summary("unit");
}
