/*
 * Sample inputs read from a folder (samples.h), for calibration and for
 * checking a compiled program against fp32.
 */
#include "samples.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "onnx.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool is_sample_file(const char *name)
{
	return name[0] != '.' && (ends_with(name, ".npy") || ends_with(name, ".pb"));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sample file names of dir, sorted, in arena tmp. */
static Status list_dir(Graph *g, const char *dir, Arena *tmp, char ***names, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int cap = 0;

	*names = NULL;
	*n = 0;
	if (!d)
		return diag_add(g->diag, ST_IO, "%s: cannot open the calibration folder", dir);
	while ((e = readdir(d)) != NULL) {
		if (!is_sample_file(e->d_name))
			continue;
		if (!arena_grow(tmp, (void **)names, &cap, *n, sizeof(char *)) ||
		    !((*names)[*n] = arena_strdup(tmp, e->d_name))) {
			closedir(d);
			return graph_oom(g);
		}
		(*n)++;
	}
	closedir(d);
	if (*n == 0)
		return diag_add(g->diag, ST_INVALID, "%s: no .npy or .pb files to calibrate with", dir);
	qsort(*names, (size_t)*n, sizeof(char *), cmp_names);
	return ST_OK;
}

/* "[1,3,28,28]", '?' for an unknown dimension. */
static const char *dims_str(const Value *v, char *buf, size_t size)
{
	size_t k = 0;

	k += (size_t)snprintf(buf, size, "[");
	for (int i = 0; i < v->rank && k < size; i++) {
		if (v->dims[i] < 0)
			k += (size_t)snprintf(buf + k, size - k, "%s?", i ? "," : "");
		else
			k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? "," : "", (long long)v->dims[i]);
	}
	if (k < size)
		snprintf(buf + k, size - k, "]");
	return buf;
}

static Status check_sample(Graph *g, const char *path, const Tensor *t, const Value *v)
{
	char got[128], want[128];

	if (v->dt != t->v.dt)
		return diag_add(g->diag, ST_INVALID, "%s: element type %s does not match input '%s' %s",
		                path, dtype_name(v->dt), t->name, dtype_name(t->v.dt));
	if (!val_same_shape(v, &t->v))
		return diag_add(g->diag, ST_INVALID, "%s: shape %s does not match input '%s' %s", path,
		                dims_str(v, got, sizeof(got)), t->name, dims_str(&t->v, want, sizeof(want)));
	return ST_OK;
}

static char *sample_path(Arena *a, const char *dir, const char *name)
{
	size_t len = strlen(dir);

	return arena_printf(a, "%s%s%s", dir, len && dir[len - 1] == '/' ? "" : "/", name);
}

static Status load_sample(Graph *g, const char *dir, const char *name, int input, Arena *a, Value *v)
{
	char *path = sample_path(a, dir, name);
	Status st;

	if (!path)
		return graph_oom(g);
	if (ends_with(name, ".npy"))
		st = npy_read(path, a, g->diag, v);
	else
		st = onnx_read_tensor_file(path, a, g->diag, v, NULL);
	return st == ST_OK ? check_sample(g, path, &g->tensors[g->inputs[input]], v) : st;
}

/* Whether file name starts with input name (with '/' and '\' read as '_')
 * followed by '_'; returns the matched length or 0. */
static size_t input_prefix(const char *file, const char *input)
{
	size_t k = 0;

	for (; input[k]; k++) {
		char c = input[k] == '/' || input[k] == '\\' ? '_' : input[k];
		if (file[k] != c)
			return 0;
	}
	return file[k] == '_' ? k : 0;
}

/* The input a file belongs to: the longest matching name, or -1. */
static int file_input(const Graph *g, const char *file)
{
	int best = -1;
	size_t best_len = 0;

	for (int i = 0; i < g->ninputs; i++) {
		size_t k = input_prefix(file, g->tensors[g->inputs[i]].name);
		if (k > best_len) {
			best = i;
			best_len = k;
		}
	}
	return best;
}

static Status unmatched_file(Graph *g, const char *dir, const char *file, Arena *tmp)
{
	char list[512];
	size_t k = 0;
	const char *path = sample_path(tmp, dir, file);

	list[0] = 0;
	for (int i = 0; i < g->ninputs && k < sizeof(list); i++)
		k += (size_t)snprintf(list + k, sizeof(list) - k, "%s'%s'", i ? ", " : "",
		                      g->tensors[g->inputs[i]].name);
	return diag_add(g->diag, ST_INVALID,
	                "%s: the name does not start with an input's name and '_' (the model's "
	                "inputs: %s)", path ? path : file, list);
}

/* Which input each file feeds (owner[f]), and the sample count every input
 * must agree on. */
static Status group_files(Graph *g, const char *dir, char **names, int n, Arena *tmp, int *owner,
                          int *nsamples)
{
	int count[g->ninputs + 1];

	memset(count, 0, sizeof(count));
	for (int f = 0; f < n; f++) {
		owner[f] = file_input(g, names[f]);
		if (owner[f] < 0)
			return unmatched_file(g, dir, names[f], tmp);
		count[owner[f]]++;
	}
	for (int i = 1; i < g->ninputs; i++)
		if (count[i] != count[0])
			return diag_add(g->diag, ST_INVALID, "%s: input '%s' has %d sample files but input '%s' has %d",
			                dir, g->tensors[g->inputs[0]].name, count[0], g->tensors[g->inputs[i]].name,
			                count[i]);
	*nsamples = count[0];
	return ST_OK;
}

static Status load_files(Graph *g, const char *dir, char **names, int nfiles, Arena *a, Arena *tmp,
                         Value **samples, int *nsamples)
{
	int k = g->ninputs;
	int *owner = arena_alloc(tmp, (size_t)(nfiles + 1) * sizeof(int));
	int next[k + 1];
	Status st;

	if (!owner)
		return graph_oom(g);
	memset(next, 0, sizeof(next));
	st = k == 1 ? ST_OK : group_files(g, dir, names, nfiles, tmp, owner, nsamples);
	if (k == 1)
		*nsamples = nfiles;
	if (st != ST_OK)
		return st;
	*samples = arena_alloc(a, ((size_t)*nsamples * (size_t)k + 1) * sizeof(Value));
	if (!*samples)
		return graph_oom(g);
	for (int f = 0; f < nfiles && st == ST_OK; f++) {
		int in = k == 1 ? 0 : owner[f];
		Value *v = &(*samples)[(size_t)next[in]++ * (size_t)k + (size_t)in];

		st = load_sample(g, dir, names[f], in, a, v);
	}
	return st;
}

Status samples_load_dir(Graph *g, const char *dir, Arena *a, Value **samples, int *nsamples)
{
	Arena tmp;
	char **names;
	int n;
	Status st;

	*samples = NULL;
	*nsamples = 0;
	if (g->ninputs == 0)
		return graph_error(g, ST_INVALID, "the model has no inputs to calibrate with");
	arena_init(&tmp);
	st = list_dir(g, dir, &tmp, &names, &n);
	if (st == ST_OK)
		st = load_files(g, dir, names, n, a, &tmp, samples, nsamples);
	arena_free(&tmp);
	if (st != ST_OK) {
		*samples = NULL;
		*nsamples = 0;
	}
	return st;
}
