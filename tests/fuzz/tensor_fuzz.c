/*
 * The fuzz target of the tensor file readers: LLVMFuzzerTestOneInput reads
 * the bytes both as a .npy file (npy_read_mem) and as a serialized ONNX
 * TensorProto, the .pb files of `nnac run --input` (onnx_read_tensor_mem).
 * A refusal must give exactly one diagnostic; a tensor read must have a
 * type whose size is within the budget and data of that size.  Anything
 * else aborts, which libFuzzer reports as a crash.  The memory budget is
 * 64 MiB (base/budget.h); external data is looked for in a folder that
 * does not exist.
 *
 * Built two ways (CMakeLists.txt): nnac-tensorfuzz (-DNNAC_FUZZ=ON, clang)
 * and nnac-tensorfuzz-corpus over tests/fuzz/tensor_corpus/ in `make test`.
 * docs/reliability.md, "Fuzzing".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *reader, const char *why)
{
	fprintf(stderr, "tensor fuzz: %s: %s\n", reader, why);
	abort();
}

static void check_read(const char *reader, Status st, const Diag *d, const Value *v)
{
	if (st != ST_OK) {
		if (d->n != 1)
			fail(reader, "a refused file gave other than one diagnostic");
		return;
	}
	if (d->n != 0)
		fail(reader, "a file read gave a diagnostic");
	if (!val_size_ok(v) || (val_bytes(v) > 0 && !v->data))
		fail(reader, "a tensor read has a bad size or no data");
	/* every byte is readable: the sanitizers see an overrun here */
	if (val_bytes(v) > 0) {
		volatile uint8_t sum = 0;
		for (int64_t i = 0; i < val_bytes(v); i++)
			sum ^= ((const uint8_t *)v->data)[i];
		(void)sum;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name = NULL;
	Arena a;
	Diag d;
	Value v;

	budget_set_memory((int64_t)64 << 20);
	arena_init(&a);
	diag_init(&d);
	check_read("npy", npy_read_mem("fuzz.npy", data, size, &a, &d, &v), &d, &v);
	diag_free(&d);
	diag_init(&d);
	check_read("pb", onnx_read_tensor_mem("no-such-folder/fuzz.pb", data, size, &a, &d, &v, &name), &d, &v);
	diag_free(&d);
	arena_free(&a);
	return 0;
}
