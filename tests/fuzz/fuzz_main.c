/*
 * A plain main for the fuzz targets (tests/fuzz/NAME_fuzz.c), so that their
 * corpora run in `make test` and `make sanitize` without libFuzzer:
 *
 *     nnac-NAMEfuzz-corpus DIR_OR_FILE...
 *
 * calls LLVMFuzzerTestOneInput on every file (folders are read one level
 * deep, in name order).  A file passes when the call returns: a crash or a
 * failed check aborts the whole run, and under the sanitizer build a memory
 * error does too.  Ends with `LABEL: N passed, F failed`, F counting files
 * that could not be read; LABEL is the compile definition FUZZ_LABEL
 * (NAME-fuzz-corpus, CMakeLists.txt).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"

#ifndef FUZZ_LABEL
#define FUZZ_LABEL "loop-fuzz-corpus"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_file(const char *path)
{
	size_t n;
	char *buf = read_file(path, &n);

	check(buf != NULL, "%s: cannot read", path);
	if (!buf)
		return;
	LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
	free(buf);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	int n = 0, cap = 0;

	if (!dp) {
		check(false, "%s: cannot open", dir);
		return;
	}
	while ((e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, (size_t)cap * sizeof(*names));
			if (!names)
				abort();
		}
		names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
		if (!names[n])
			abort();
		sprintf(names[n++], "%s/%s", dir, e->d_name);
	}
	closedir(dp);
	qsort(names, (size_t)n, sizeof(*names), by_name);
	for (int i = 0; i < n; i++) {
		run_file(names[i]);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	struct stat st;

	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			run_dir(argv[i]);
		else
			run_file(argv[i]);
	}
	return test_summary(FUZZ_LABEL);
}
