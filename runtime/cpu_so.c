/*
 * Loading the CPU backend's shared objects (runtime/cpu_so.h).
 */
#define _GNU_SOURCE
#include "cpu_so.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "cpu_abi.h"
#include "elf_check.h"

struct CpuSo {
	void *handle;
	void (*main)(void *const *bufs, const NnacPar *par);
};

/* One thread: the whole range at once, here. */
void cpu_so_serial_for(void *pool, NnacTaskFn fn, void *const *roots, int64_t n)
{
	(void)pool;
	fn(roots, 0, n);
}

static const NnacPar serial = {cpu_so_serial_for, NULL, 1, NULL, NULL, NULL};

/* Keeps the helpers the generated code calls in every executable that can
 * load it (a static library links only the members something refers to).
 * The installed runtime library (NNAC_RT_STANDALONE) leaves them out: every
 * op the backend emits today is inlined, and an object that needs a helper
 * fails to load there with dlopen's message naming it. */
#ifndef NNAC_RT_STANDALONE
typedef void (*CpuHelperFn)(void);
extern const CpuHelperFn cpu_so_helpers[];
const CpuHelperFn cpu_so_helpers[] = {
#define CPU_HELPER(name) (CpuHelperFn)name,
#include "cpu_imports.def"
};
#endif

static bool write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* A file holding the bytes, and its path for dlopen. */
static int so_file(const uint8_t *so, size_t len, char *path, size_t size, bool *is_tmp, Diag *d)
{
	const char *tmp = getenv("TMPDIR");
	int fd = memfd_create("nnac-cpu", MFD_CLOEXEC);

	*is_tmp = fd < 0;
	if (fd >= 0) {
		snprintf(path, size, "/proc/self/fd/%d", fd);
	} else {
		snprintf(path, size, "%s/nnac-cpu-XXXXXX.so", tmp && *tmp ? tmp : "/tmp");
		fd = mkstemps(path, 3);
	}
	if (fd < 0) {
		diag_add(d, ST_IO, "cpu: cannot make a file for the shared object: %s", strerror(errno));
		return -1;
	}
	if (!write_all(fd, so, len)) {
		diag_add(d, ST_IO, "cpu: cannot write the shared object to %s: %s", path, strerror(errno));
		close(fd);
		if (*is_tmp)
			unlink(path);
		return -1;
	}
	return fd;
}

/* The ABI tag was read from the file before it was loaded (elf_check). */
static Status so_bind(CpuSo *s, const char *what, Diag *d)
{
	void *sym = dlsym(s->handle, "nnac_main");

	if (!sym)
		return diag_add(d, ST_INVALID, "%s: has no nnac_main", what);
	memcpy(&s->main, &sym, sizeof(s->main));
	return ST_OK;
}

Status cpu_so_open(const char *what, const uint8_t *so, size_t len, CpuSo **out, Diag *d)
{
	char path[4200];
	bool is_tmp;
	CpuSo *s;
	Status st = elf_check_cpu(what, so, len, NULL, d);
	int fd;

	*out = NULL;
	if (st != ST_OK)
		return st;
	if (!(s = nnac_calloc(1, sizeof(*s))))
		return diag_add(d, ST_NOMEM, "cpu: out of memory");
	fd = so_file(so, len, path, sizeof(path), &is_tmp, d);
	if (fd < 0) {
		nnac_free(s);
		return ST_IO;
	}
	s->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!s->handle)
		st = diag_add(d, ST_INVALID, "cpu: cannot load the shared object: %s", dlerror());
	if (is_tmp)
		unlink(path);
	close(fd);
	if (st == ST_OK)
		st = so_bind(s, what, d);
	if (st != ST_OK) {
		cpu_so_close(s);
		return st;
	}
	*out = s;
	return ST_OK;
}

bool cpu_so_run(CpuSo *s, void *const *bufs, const NnacPar *par, NnacFail *fail)
{
	NnacPar run = par ? *par : serial;

	*fail = (NnacFail){-1, 0, 0, 0, 0};
	run.fail = fail;
	s->main(bufs, &run);
	return fail->kernel < 0;
}

void cpu_so_close(CpuSo *s)
{
	if (!s)
		return;
	if (s->handle)
		dlclose(s->handle);
	nnac_free(s);
}
