/*
 * The CPU backend's object writer: the target machine, the optimization
 * pipeline (the new pass manager's default<ON>), the object file in memory,
 * and the shared object linked from it by the system C compiler.
 *
 * The link runs `cc -shared -nostartfiles -o DIR/k.so DIR/k.o -lm` through
 * posix_spawnp
 * (the compiler named by $NNAC_CC when set), DIR a fresh mkdtemp folder
 * under $TMPDIR or /tmp that is removed afterwards, and reads the .so back.
 * Undefined symbols (the runtime helpers nnac_rt_*) stay undefined: they
 * resolve against the loading process.  -nostartfiles leaves out the C
 * start files (crti, crtbeginS), whose DT_INIT, DT_FINI and init/fini
 * arrays the runtime refuses (runtime/elf_check.h): nothing in the object
 * runs when it is loaded or unloaded.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "cpu_int.h"

extern char **environ;

static void init_llvm(void)
{
	static bool done;

	if (done)
		return;
	LLVMInitializeNativeTarget();
	LLVMInitializeNativeAsmPrinter();
	done = true;
}

static LLVMCodeGenOptLevel codegen_level(int opt_level)
{
	return opt_level <= 0 ? LLVMCodeGenLevelNone : opt_level == 1 ? LLVMCodeGenLevelLess
	     : opt_level == 2 ? LLVMCodeGenLevelDefault : LLVMCodeGenLevelAggressive;
}

Status cpu_target_machine(const CpuOptions *opt, LLVMTargetMachineRef *tm, Diag *d)
{
	char *triple, *cpu, *features, *err = NULL;
	LLVMTargetRef t;
	Status st = ST_OK;

	init_llvm();
	triple = opt->triple ? LLVMNormalizeTargetTriple(opt->triple) : LLVMGetDefaultTargetTriple();
	cpu = opt->cpu || opt->triple ? NULL : LLVMGetHostCPUName();
	features = opt->cpu || opt->triple ? NULL : LLVMGetHostCPUFeatures();
	if (LLVMGetTargetFromTriple(triple, &t, &err)) {
		st = diag_add(d, ST_UNSUPPORTED, "cpu: target '%s': %s", triple, err ? err : "unknown");
		LLVMDisposeMessage(err);
	} else {
		*tm = LLVMCreateTargetMachine(t, triple, opt->cpu ? opt->cpu : cpu ? cpu : "generic",
		                              features ? features : "", codegen_level(opt->opt_level),
		                              LLVMRelocPIC, LLVMCodeModelDefault);
		if (!*tm)
			st = diag_add(d, ST_UNSUPPORTED, "cpu: cannot make a target machine for '%s'", triple);
	}
	LLVMDisposeMessage(triple);
	LLVMDisposeMessage(cpu);
	LLVMDisposeMessage(features);
	return st;
}

static Status optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level, Diag *d)
{
	char pipeline[32];
	LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
	LLVMErrorRef err;
	Status st = ST_OK;

	snprintf(pipeline, sizeof(pipeline), "default<O%d>",
	         opt_level < 0 ? 0 : opt_level > 3 ? 3 : opt_level);
	LLVMPassBuilderOptionsSetLoopVectorization(po, opt_level >= 2);
	LLVMPassBuilderOptionsSetSLPVectorization(po, opt_level >= 2);
	err = LLVMRunPasses(mod, pipeline, tm, po);
	if (err) {
		char *msg = LLVMGetErrorMessage(err);

		st = diag_add(d, ST_INTERNAL, "cpu: LLVM passes %s failed: %s", pipeline, msg);
		LLVMDisposeErrorMessage(msg);
	}
	LLVMDisposePassBuilderOptions(po);
	return st;
}

static Status write_file(const char *path, const void *data, size_t len, Diag *d)
{
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(data, 1, len, f) == len;

	if (f && fclose(f) != 0)
		ok = false;
	if (!ok)
		return diag_add(d, ST_IO, "cpu: cannot write %s: %s", path, strerror(errno));
	return ST_OK;
}

/* Into memory from malloc, not nnac_malloc: cpu_compile's caller frees it
 * with free() (cpu_codegen.h). */
static Status read_file(const char *path, uint8_t **data, size_t *len, Diag *d)
{
	char *text = NULL;
	Status st = nnac_read_file(d, path, &text, len);

	if (st != ST_OK)
		return st;
	*data = malloc(*len ? *len : 1);
	if (!*data) {
		nnac_free(text);
		return diag_add(d, ST_NOMEM, "cpu: out of memory");
	}
	memcpy(*data, text, *len);
	nnac_free(text);
	return ST_OK;
}

/* Runs `cc -shared -nostartfiles -o so obj -lm`; its output goes to the
 * caller's stderr. */
static Status link_so(const char *obj, const char *so, Diag *d)
{
	const char *cc = getenv("NNAC_CC");
	char *argv[] = {(char *)(cc && *cc ? cc : "cc"), "-shared", "-nostartfiles", "-o", (char *)so,
	                (char *)obj, "-lm", NULL};
	pid_t pid;
	int rc, ws;

	rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (rc != 0)
		return diag_add(d, ST_IO, "cpu: cannot run the linker '%s': %s", argv[0], strerror(rc));
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return diag_add(d, ST_IO, "cpu: waiting for '%s': %s", argv[0], strerror(errno));
	if (WIFSIGNALED(ws))
		return diag_add(d, ST_IO, "cpu: '%s -shared -nostartfiles -o %s %s -lm' died of signal %d",
		                argv[0], so, obj, WTERMSIG(ws));
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		return diag_add(d, ST_IO, "cpu: '%s -shared -nostartfiles -o %s %s -lm' failed (exit %d)",
		                argv[0], so, obj, WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	return ST_OK;
}

/* The object in a temporary folder, linked, read back; the folder removed. */
static Status link_object(const char *obj, size_t len, uint8_t **so, size_t *so_len, Diag *d)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], opath[4200], spath[4200];
	Status st;

	snprintf(dir, sizeof(dir), "%s/nnac-cpu-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return diag_add(d, ST_IO, "cpu: cannot make a temporary folder %s: %s", dir, strerror(errno));
	snprintf(opath, sizeof(opath), "%s/k.o", dir);
	snprintf(spath, sizeof(spath), "%s/k.so", dir);
	st = write_file(opath, obj, len, d);
	if (st == ST_OK)
		st = link_so(opath, spath, d);
	if (st == ST_OK)
		st = read_file(spath, so, so_len, d);
	unlink(opath);
	unlink(spath);
	rmdir(dir);
	return st;
}

Status cpu_object_link(LLVMModuleRef mod, LLVMTargetMachineRef tm, int opt_level,
                       uint8_t **so, size_t *so_len, Diag *d)
{
	LLVMMemoryBufferRef obj = NULL;
	char *err = NULL;
	Status st = optimize(mod, tm, opt_level, d);

	if (st != ST_OK)
		return st;
	if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &err, &obj)) {
		st = diag_add(d, ST_INTERNAL, "cpu: LLVM cannot emit the object: %s", err ? err : "");
		LLVMDisposeMessage(err);
		return st;
	}
	st = link_object(LLVMGetBufferStart(obj), LLVMGetBufferSize(obj), so, so_len, d);
	LLVMDisposeMemoryBuffer(obj);
	return st;
}
