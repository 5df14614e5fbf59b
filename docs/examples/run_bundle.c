/*
 * The smallest program that runs an nnac bundle with the runtime library
 * (docs/runtime.md).  Build it against an installed nnac:
 *
 *     cc run_bundle.c $(pkg-config --cflags --libs nnac) -o run_bundle
 *     ./run_bundle model.nnb [THREADS]
 *
 * It fills every f32 input element k of n with k / n, runs the model once
 * (on THREADS threads, default 1) and prints each output's name, shape and
 * first values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnac_rt.h>

static void fill(float *x, size_t n)
{
	for (size_t k = 0; k < n; k++)
		x[k] = (float)k / (float)n;
}

static void print_output(const NnacModel *m, int i)
{
	int64_t dims[8];
	int rank = nnac_output_shape(m, i, dims);
	size_t n = nnac_output_bytes(m, i) / sizeof(float);
	const float *y = nnac_output_data(m, i);

	printf("%s [", nnac_output_name(m, i));
	for (int d = 0; d < rank; d++)
		printf("%s%lld", d ? "," : "", (long long)dims[d]);
	printf("]");
	for (size_t k = 0; k < n && k < 16; k++)
		printf(" %.6g", y[k]);
	printf("\n");
}

int main(int argc, char **argv)
{
	NnacModel *m;
	char err[512];

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: run_bundle MODEL.nnb [THREADS]\n");
		return 2;
	}
	if (nnac_open(argv[1], &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (argc == 3 && nnac_set_threads(m, atoi(argv[2])) != 0) {
		fprintf(stderr, "%s\n", nnac_error(m));
		nnac_close(m);
		return 1;
	}
	for (int i = 0; i < nnac_num_inputs(m); i++) {
		if (strcmp(nnac_input_dtype(m, i), "f32") != 0) {
			fprintf(stderr, "input '%s' is %s; this example fills f32 inputs only\n",
			        nnac_input_name(m, i), nnac_input_dtype(m, i));
			nnac_close(m);
			return 1;
		}
		fill(nnac_input_data(m, i), nnac_input_bytes(m, i) / sizeof(float));
	}
	if (nnac_run(m) != 0) {
		fprintf(stderr, "%s\n", nnac_error(m));
		nnac_close(m);
		return 1;
	}
	for (int i = 0; i < nnac_num_outputs(m); i++)
		print_output(m, i);
	nnac_close(m);
	return 0;
}
