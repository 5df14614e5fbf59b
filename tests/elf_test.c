/*
 * The cpu loader's ELF inspection (runtime/elf_check.h), part of
 * nnac-bundletest.
 *
 * Objects are built here with the system C compiler the cpu target links
 * with: one as the backend makes them (accepted, its facts checked), and
 * one for each thing the inspection refuses: a constructor, start files,
 * an IFUNC, thread-local storage, an import of system(), a DT_NEEDED on
 * another library, a wrong or missing ABI tag.  Then the accepted object
 * is broken by hand, field by field (offsets and sizes past the end, huge
 * counts, overlapping segments, names and symbol indices out of range),
 * cut at every length and has every byte flipped: each is refused with
 * exactly one diagnostic and none may crash or read outside the buffer
 * (the sanitizer build checks the last).
 */
#include "elf_test.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_abi.h"
#include "elf_check.h"
#include "test_util.h"

static const char *dir;

static const char good_src[] =
	"extern double exp(double);\n"
	"const unsigned nnac_abi_tag = TAG;\n"
	"double nnac_scale;\n"
	"void nnac_main(void *const *bufs, const void *par)\n"
	"{ (void)par; *(double *)bufs[0] = exp(nnac_scale); }\n";

/* Compiles name.c (src, with TAG defined as tag) into name.so with flags;
 * returns its bytes (free) or NULL. */
static unsigned char *build(const char *name, const char *src, int tag, const char *flags, size_t *n)
{
	char path[512], cmd[2048];
	FILE *f;
	unsigned char *so;

	snprintf(path, sizeof(path), "%s/%s.c", dir, name);
	if (!(f = fopen(path, "w")) || fputs(src, f) < 0 || fclose(f) != 0)
		return NULL;
	snprintf(cmd, sizeof(cmd), "cc -O1 -fPIC -shared -DTAG=%d %s -o %s/%s.so %s -L%s -lm", tag, flags,
	         dir, name, path, dir);
	if (system(cmd) != 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s.so", dir, name);
	so = (unsigned char *)read_file(path, n);
	remove(path);
	snprintf(path, sizeof(path), "%s/%s.c", dir, name);
	remove(path);
	return so;
}

/* Inspects bytes; want NULL: accepted, else refused with one diagnostic
 * holding want. */
static bool inspect(const unsigned char *so, size_t n, const char *want, ElfFacts *f)
{
	Diag d;
	Status st;
	bool ok;

	diag_init(&d);
	st = elf_check_cpu("x.so", so, n, f, &d);
	ok = want ? st == ST_INVALID && d.n == 1 && strstr(d.msg[0].text, want) &&
	            strncmp(d.msg[0].text, "x.so: ", 6) == 0
	          : st == ST_OK && d.n == 0;
	if (!ok)
		for (int i = 0; i < d.n; i++)
			printf("    %s\n", d.msg[i].text);
	diag_free(&d);
	return ok;
}

static void expect_built_refused(const char *name, const char *src, int tag, const char *flags,
                                 const char *want)
{
	size_t n = 0;
	unsigned char *so = build(name, src, tag, flags, &n);

	check(so && inspect(so, n, want, NULL), "elf: %s refused: %s", name, want);
	free(so);
}

static void check_built(void)
{
	static const char other[] = "int nnac_other(void) { return 1; }\n";
	char src[2048];
	ElfFacts f = {0};
	size_t n = 0;
	unsigned char *so = build("good", good_src, NNAC_CPU_ABI, "-nostartfiles", &n);

	check(so && inspect(so, n, NULL, &f) && f.abi == NNAC_CPU_ABI && f.nimports == 1 &&
	      f.nneeded == 1 && f.nrelocs >= 1, "elf: an object as the cpu target links it is accepted "
	      "(ABI %u, %d import, %d needed, %d relocations)", f.abi, f.nimports, f.nneeded, f.nrelocs);
	free(so);
	snprintf(src, sizeof(src), "%s__attribute__((constructor)) static void boom(void) { nnac_scale = 1; }\n",
	         good_src);
	expect_built_refused("ctor", src, NNAC_CPU_ABI, "-nostartfiles",
	                     "has DT_INIT_ARRAY (functions that run when it is loaded)");
	expect_built_refused("startfiles", good_src, NNAC_CPU_ABI, "", "has DT_INIT (a function that runs");
	snprintf(src, sizeof(src), "%sextern int system(const char *);\nint nnac_x(void) { return system(\"id\"); }\n",
	         good_src);
	expect_built_refused("system", src, NNAC_CPU_ABI, "-nostartfiles",
	                     "imports 'system', which is not one of the functions nnac's cpu code may call");
	snprintf(src, sizeof(src), "%sstatic void real(void) {}\nstatic void (*pick(void))(void) { return real; }\n"
	         "void nnac_f(void) __attribute__((ifunc(\"pick\")));\n", good_src);
	expect_built_refused("ifunc", src, NNAC_CPU_ABI, "-nostartfiles", "is an IFUNC");
	snprintf(src, sizeof(src), "%s__thread int nnac_t;\nint *nnac_tp(void) { return &nnac_t; }\n", good_src);
	expect_built_refused("tls", src, NNAC_CPU_ABI, "-nostartfiles", "thread-local storage (PT_TLS)");
	expect_built_refused("abi", good_src, 99, "-nostartfiles", "has ABI tag 99; this runtime runs ABI");
	expect_built_refused("notag", "void nnac_main(void) {}\n", 0, "-nostartfiles",
	                     "has no ABI tag (a defined symbol nnac_abi_tag)");
	expect_built_refused("nomain", "const unsigned nnac_abi_tag = TAG;\n", NNAC_CPU_ABI, "-nostartfiles",
	                     "does not define the function nnac_main");
	snprintf(src, sizeof(src), "%s/libother.so", dir);
	so = build("libother", other, 0, "-nostartfiles", &n);
	if (so) {
		FILE *f2 = fopen(src, "wb");
		if (f2) {
			fwrite(so, 1, n, f2);
			fclose(f2);
		}
		free(so);
	}
	expect_built_refused("needed", good_src, NNAC_CPU_ABI, "-nostartfiles -Wl,--no-as-needed -lother",
	                     "needs the library 'libother.so' (DT_NEEDED); nnac's objects may need only");
	remove(src);
}

/* ---- hand-made malformations of the accepted object ---- */

static uint64_t get(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> 8 * i);
}

/* The k-th (from 0) program header of type, or NULL. */
static unsigned char *phdr(unsigned char *so, uint32_t type, int k)
{
	for (unsigned i = 0; i < get(so + 56, 2); i++) {
		unsigned char *ph = so + get(so + 32, 8) + 56 * (uint64_t)i;
		if (get(ph, 4) == type && k-- == 0)
			return ph;
	}
	return NULL;
}

/* The first section header of type. */
static unsigned char *shdr(unsigned char *so, uint32_t type)
{
	for (unsigned i = 0; i < get(so + 60, 2); i++) {
		unsigned char *sh = so + get(so + 40, 8) + 64 * (uint64_t)i;
		if (get(sh + 4, 4) == type)
			return sh;
	}
	return NULL;
}

/* The value field of the dynamic entry with tag. */
static unsigned char *dyn(unsigned char *so, int64_t tag)
{
	unsigned char *d = so + get(phdr(so, PT_DYNAMIC, 0) + 8, 8);

	for (; get(d, 8) != DT_NULL; d += 16)
		if ((int64_t)get(d, 8) == tag)
			return d + 8;
	return NULL;
}

typedef struct Edit {
	const char *name;
	unsigned char *at;   /* in the copy: where the value goes */
	uint64_t value;
	int bytes;
	const char *want;
} Edit;

static void check_edits(const unsigned char *so, size_t n)
{
	unsigned char *c = malloc(n);
	unsigned char *dynsym, *rela;

	if (!c)
		abort();
	memcpy(c, so, n);
	dynsym = shdr(c, SHT_DYNSYM);
	rela = shdr(c, SHT_RELA);
	Edit edits[] = {
		{"magic", c, 0x464c457e, 4, "not an ELF file"},
		{"class", c + EI_CLASS, ELFCLASS32, 1, "ELF class 1, not ELF64"},
		{"data", c + EI_DATA, ELFDATA2MSB, 1, "ELF data encoding 2, not little endian"},
		{"type", c + 16, ET_EXEC, 2, "ELF type 2, not a shared object"},
		{"machine", c + 18, EM_386, 2, "for ELF machine 3, not"},
		{"phentsize", c + 54, 32, 2, "program header or section header size"},
		{"phoff past the end", c + 32, n, 8, "program header table"},
		{"phoff huge", c + 32, UINT64_MAX - 8, 8, "program header table"},
		{"phnum huge", c + 56, 0xfffe, 2, "program header table"},
		{"shoff huge", c + 40, UINT64_MAX - 63, 8, "section header table"},
		{"shnum huge", c + 60, 0xfffe, 2, "section header table"},
		{"shstrndx out of range", c + 62, get(c + 60, 2), 2, "section header table"},
		{"load filesz huge", phdr(c, PT_LOAD, 0) + 32, UINT64_MAX, 8, "lies past the end of the file or wraps"},
		{"load offset past the end", phdr(c, PT_LOAD, 1) + 8, n + 4096, 8, "lies past the end of the file"},
		{"load memsz wraps", phdr(c, PT_LOAD, 1) + 40, UINT64_MAX - 4, 8, "or wraps"},
		{"load align", phdr(c, PT_LOAD, 1) + 48, 3, 8, "alignment 3 is not a power of two"},
		{"loads overlap", phdr(c, PT_LOAD, 1) + 16, get(phdr(c, PT_LOAD, 0) + 16, 8), 8, "overlaps the page"},
		{"dynamic elsewhere", phdr(c, PT_DYNAMIC, 0) + 8, 0, 8, "the dynamic segment (address"},
		{"dynamic huge", phdr(c, PT_DYNAMIC, 0) + 32, UINT64_MAX - 15, 8, "the dynamic segment (address"},
		{"no stack header", phdr(c, PT_GNU_STACK, 0), PT_NULL, 4, "has no PT_GNU_STACK"},
		{"executable stack", phdr(c, PT_GNU_STACK, 0) + 4, PF_R | PF_W | PF_X, 4, "executable stack"},
		{"strsz huge", dyn(c, DT_STRSZ), UINT64_MAX, 8, "the dynamic string table"},
		{"strtab unmapped", dyn(c, DT_STRTAB), UINT64_MAX - 100, 8, "the dynamic string table"},
		{"syment", dyn(c, DT_SYMENT), 16, 8, "not 24 bytes each"},
		{"a DT_INIT", dyn(c, DT_SYMENT) - 8, DT_INIT, 8, "has DT_INIT (a function that runs"},
		{"a DT_RUNPATH", dyn(c, DT_SYMENT) - 8, DT_RUNPATH, 8, "has DT_RUNPATH (a library search path)"},
		{"an unknown tag", dyn(c, DT_SYMENT) - 8, 0x7000abcd, 8, "has dynamic tag 0x7000abcd"},
		{"needed name out of range", dyn(c, DT_NEEDED), UINT64_MAX / 2, 8, "outside the string table"},
		{"dynsym size huge", dynsym + 32, UINT64_MAX - 7, 8, "past the end of the file"},
		{"dynsym entsize", dynsym + 56, 16, 8, "entries are not 24 bytes"},
		{"symbol name out of range", c + get(dynsym + 24, 8) + 24, 0xfffffff0, 4, "its name lies outside"},
		{"symbol an ifunc", c + get(dynsym + 24, 8) + 24 + 4, STT_GNU_IFUNC | STB_GLOBAL << 4, 1, "is an IFUNC"},
		{"section name out of range", c + get(c + 40, 8) + 64, 0xfffffff0, 4, "its name lies outside"},
		{"relocation outside", rela ? c + get(rela + 24, 8) : NULL, 0x10, 8, "outside the object's writable segments"},
		{"relocation symbol", rela ? c + get(rela + 24, 8) + 12 : NULL, 0x7fffffff, 4, "names symbol 2147483647"},
		{"relocation type", rela ? c + get(rela + 24, 8) + 8 : NULL, 37, 4, "has type 37"},
		{"relocations unmapped", dyn(c, DT_PLTRELSZ), UINT64_MAX - 23, 8, "do not lie in a loaded segment"},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const Edit *e = &edits[i];

		if (!e->at) {
			check(false, "elf edit %s: the object has no such field", e->name);
			continue;
		}
		memcpy(c, so, n);
		put(e->at, e->value, e->bytes);
		check(inspect(c, n, e->want, NULL), "elf edit %s: refused: %s", e->name, e->want);
	}
	free(c);
}

/* Every shorter length is refused; every byte flipped gives one
 * diagnostic or none, never a crash. */
static void check_cuts_and_flips(const unsigned char *so, size_t n)
{
	unsigned char *c = malloc(n);
	int bad_cuts = 0, bad_flips = 0;

	if (!c)
		abort();
	for (size_t len = 0; len < n; len++) {
		Diag d;

		diag_init(&d);
		bad_cuts += elf_check_cpu("x.so", so, len, NULL, &d) != ST_INVALID || d.n != 1;
		diag_free(&d);
	}
	check(bad_cuts == 0, "elf: every cut of the object is refused with one diagnostic");
	for (size_t i = 0; i < n; i++) {
		Diag d;
		Status st;

		memcpy(c, so, n);
		c[i] ^= 0xff;
		diag_init(&d);
		st = elf_check_cpu("x.so", c, n, NULL, &d);
		bad_flips += st == ST_OK ? d.n != 0 : st != ST_INVALID || d.n != 1;
		diag_free(&d);
	}
	check(bad_flips == 0, "elf: every byte flip of the object is accepted or refused with one diagnostic");
	free(c);
}

void elf_tests(const char *scratch)
{
	size_t n = 0;
	unsigned char *so;

	dir = scratch;
	check_built();
	so = build("good", good_src, NNAC_CPU_ABI, "-nostartfiles", &n);
	check(so != NULL, "elf: the accepted object builds");
	if (!so)
		return;
	check_edits(so, n);
	check_cuts_and_flips(so, n);
	free(so);
}
