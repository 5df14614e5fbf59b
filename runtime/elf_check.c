/*
 * The cpu loader's inspection of a shared object (runtime/elf_check.h).
 *
 * The checks follow what glibc's dynamic loader does with an object, in
 * its order: the ELF header, the program headers (PT_LOAD segments are how
 * addresses become file bytes, so every table the dynamic segment names is
 * read at the file offset its address maps to, as the loader would see it
 * in memory), the dynamic entries, the libraries it needs, the dynamic
 * symbols, the relocations; then the section headers, for the sections of
 * initialisers a linker would make, and the ABI tag.  Fields are read
 * byte by byte, little endian; a range is checked as off <= n && size <=
 * n - off, never as off + size <= n.
 */
#include "elf_check.h"

#include <elf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "checked.h"
#include "cpu_abi.h"

#if defined(__x86_64__)
enum { HOST_MACHINE = EM_X86_64 };
static const char host_name[] = "x86-64";
static const uint32_t plain_relocs[] = {R_X86_64_NONE, R_X86_64_64, R_X86_64_GLOB_DAT,
                                        R_X86_64_JUMP_SLOT, R_X86_64_RELATIVE};
#elif defined(__aarch64__)
enum { HOST_MACHINE = EM_AARCH64 };
static const char host_name[] = "aarch64";
static const uint32_t plain_relocs[] = {R_AARCH64_NONE, R_AARCH64_ABS64, R_AARCH64_GLOB_DAT,
                                        R_AARCH64_JUMP_SLOT, R_AARCH64_RELATIVE};
#else
enum { HOST_MACHINE = EM_NONE };   /* no object is for this host: every one is refused */
static const char host_name[] = "this host";
static const uint32_t plain_relocs[] = {0};
#endif

enum { EHDR_SIZE = 64, PHDR_SIZE = 56, SHDR_SIZE = 64, DYN_SIZE = 16, SYM_SIZE = 24, RELA_SIZE = 24 };

static const char *const allowed_imports[] = {
#define CPU_HELPER(name) #name,
#define CPU_LIBM(name) #name,
#define CPU_LIBC(name) #name,
#include "cpu_imports.def"
};

static const char *const allowed_needed[] = {
#define CPU_NEEDED(soname) soname,
#include "cpu_imports.def"
};

/*
 * Dynamic tags: those an object of nnac's cpu target has (why NULL), and
 * those refused with the reason.  A tag in neither list is refused too.
 */
typedef struct DynTag {
	int64_t tag;
	const char *name;
	const char *why;      /* NULL: allowed */
} DynTag;

static const DynTag dyn_tags[] = {
	{DT_NEEDED, "DT_NEEDED", NULL}, {DT_PLTRELSZ, "DT_PLTRELSZ", NULL},
	{DT_PLTGOT, "DT_PLTGOT", NULL}, {DT_HASH, "DT_HASH", NULL},
	{DT_STRTAB, "DT_STRTAB", NULL}, {DT_SYMTAB, "DT_SYMTAB", NULL},
	{DT_RELA, "DT_RELA", NULL}, {DT_RELASZ, "DT_RELASZ", NULL},
	{DT_RELAENT, "DT_RELAENT", NULL}, {DT_STRSZ, "DT_STRSZ", NULL},
	{DT_SYMENT, "DT_SYMENT", NULL}, {DT_SONAME, "DT_SONAME", NULL},
	{DT_PLTREL, "DT_PLTREL", NULL}, {DT_DEBUG, "DT_DEBUG", NULL},
	{DT_JMPREL, "DT_JMPREL", NULL}, {DT_BIND_NOW, "DT_BIND_NOW", NULL},
	{DT_FLAGS, "DT_FLAGS", NULL}, {DT_FLAGS_1, "DT_FLAGS_1", NULL},
	{DT_GNU_HASH, "DT_GNU_HASH", NULL}, {DT_VERSYM, "DT_VERSYM", NULL},
	{DT_VERNEED, "DT_VERNEED", NULL}, {DT_VERNEEDNUM, "DT_VERNEEDNUM", NULL},
	{DT_VERDEF, "DT_VERDEF", NULL}, {DT_VERDEFNUM, "DT_VERDEFNUM", NULL},
	{DT_RELACOUNT, "DT_RELACOUNT", NULL},
	{DT_INIT, "DT_INIT", "a function that runs when it is loaded"},
	{DT_INIT_ARRAY, "DT_INIT_ARRAY", "functions that run when it is loaded"},
	{DT_INIT_ARRAYSZ, "DT_INIT_ARRAYSZ", "functions that run when it is loaded"},
	{DT_PREINIT_ARRAY, "DT_PREINIT_ARRAY", "functions that run when it is loaded"},
	{DT_PREINIT_ARRAYSZ, "DT_PREINIT_ARRAYSZ", "functions that run when it is loaded"},
	{DT_FINI, "DT_FINI", "a function that runs when it is unloaded"},
	{DT_FINI_ARRAY, "DT_FINI_ARRAY", "functions that run when it is unloaded"},
	{DT_FINI_ARRAYSZ, "DT_FINI_ARRAYSZ", "functions that run when it is unloaded"},
	{DT_RPATH, "DT_RPATH", "a library search path"},
	{DT_RUNPATH, "DT_RUNPATH", "a library search path"},
	{DT_AUXILIARY, "DT_AUXILIARY", "a filter library"},
	{DT_FILTER, "DT_FILTER", "a filter library"},
	{DT_AUDIT, "DT_AUDIT", "an audit library"},
	{DT_DEPAUDIT, "DT_DEPAUDIT", "an audit library"},
	{DT_TEXTREL, "DT_TEXTREL", "relocations of its code"},
	{DT_REL, "DT_REL", "REL relocations, which nnac's objects do not use"},
};

/* Sections a linker makes for code that runs at load or unload. */
static const char *const init_sections[] = {
	".init", ".fini", ".init_array", ".fini_array", ".preinit_array", ".ctors", ".dtors",
};

typedef struct Seg {
	uint64_t off, va, filesz, memsz;
	uint32_t flags;
} Seg;

/* The object being inspected and what has been read of it. */
typedef struct Elf {
	const char *what;
	const uint8_t *p;
	uint64_t n;
	Diag *d;
	Seg *seg;                /* the PT_LOAD segments, in address order */
	int nseg;
	uint64_t phoff, shoff;
	unsigned phnum, shnum, shstrndx;
	uint64_t dyn_off, ndyn;  /* the dynamic entries, at a file offset */
	uint64_t str_off, strsz; /* the dynamic string table */
	uint64_t sym_va, sym_off, nsym;
	ElfFacts facts;
	int64_t abi_sym, main_sym;  /* indices in the dynamic symbols; -1: none */
} Elf;

static uint64_t le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static bool in_file(const Elf *e, uint64_t off, uint64_t size)
{
	return off <= e->n && size <= e->n - off;
}

static Status refuse(const Elf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static Status refuse(const Elf *e, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return diag_add(e->d, ST_INVALID, "%s: %s", e->what, msg);
}

/* The file offset of the size bytes at address va, when a PT_LOAD segment
 * holds all of them in the file. */
static bool va_to_off(const Elf *e, uint64_t va, uint64_t size, uint64_t *off)
{
	for (int i = 0; i < e->nseg; i++) {
		const Seg *s = &e->seg[i];

		if (va >= s->va && va - s->va <= s->filesz && size <= s->filesz - (va - s->va)) {
			*off = s->off + (va - s->va);
			return true;
		}
	}
	return false;
}

/* Whether the size bytes at va lie in one writable PT_LOAD segment. */
static bool writable(const Elf *e, uint64_t va, uint64_t size)
{
	for (int i = 0; i < e->nseg; i++) {
		const Seg *s = &e->seg[i];

		if ((s->flags & PF_W) && va >= s->va && va - s->va <= s->memsz &&
		    size <= s->memsz - (va - s->va))
			return true;
	}
	return false;
}

/* The NUL-terminated string at off in the dynamic string table, or NULL. */
static const char *dyn_str(const Elf *e, uint64_t off)
{
	if (off >= e->strsz || !memchr(e->p + e->str_off + off, 0, e->strsz - off))
		return NULL;
	return (const char *)e->p + e->str_off + off;
}

static bool listed(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/* ---- the ELF header ---- */

static Status check_ident(const Elf *e)
{
	const uint8_t *p = e->p;

	if (e->n < 4 || memcmp(p, ELFMAG, SELFMAG) != 0)
		return refuse(e, "not an ELF file (it does not start with \\x7fELF)");
	if (e->n < EHDR_SIZE)
		return refuse(e, "truncated: %llu bytes, less than the 64-byte ELF64 header",
		              (unsigned long long)e->n);
	if (p[EI_CLASS] != ELFCLASS64)
		return refuse(e, "ELF class %u, not ELF64", p[EI_CLASS]);
	if (p[EI_DATA] != ELFDATA2LSB)
		return refuse(e, "ELF data encoding %u, not little endian", p[EI_DATA]);
	if (p[EI_VERSION] != EV_CURRENT || le(p + 20, 4) != EV_CURRENT)
		return refuse(e, "ELF version %u, not 1", p[EI_VERSION]);
	if (le(p + 16, 2) != ET_DYN)
		return refuse(e, "ELF type %u, not a shared object (ET_DYN, 3)", (unsigned)le(p + 16, 2));
	if (le(p + 18, 2) != HOST_MACHINE)
		return refuse(e, "for ELF machine %u, not %s (%d)", (unsigned)le(p + 18, 2), host_name,
		              HOST_MACHINE);
	return ST_OK;
}

static Status check_header(Elf *e)
{
	const uint8_t *p = e->p;
	Status st = check_ident(e);

	if (st != ST_OK)
		return st;
	e->phoff = le(p + 32, 8);
	e->shoff = le(p + 40, 8);
	e->phnum = (unsigned)le(p + 56, 2);
	e->shnum = (unsigned)le(p + 60, 2);
	e->shstrndx = (unsigned)le(p + 62, 2);
	if (le(p + 52, 2) != EHDR_SIZE || le(p + 54, 2) != PHDR_SIZE || le(p + 58, 2) != SHDR_SIZE)
		return refuse(e, "header, program header or section header size is not ELF64's (64, 56, 64)");
	if (e->phnum == 0 || e->phnum == PN_XNUM || !in_file(e, e->phoff, (uint64_t)e->phnum * PHDR_SIZE))
		return refuse(e, "program header table (%u entries at byte %llu) is empty or lies past the "
		              "end of the file (%llu bytes)", e->phnum, (unsigned long long)e->phoff,
		              (unsigned long long)e->n);
	if (e->shnum == 0 || e->shstrndx >= e->shnum ||
	    !in_file(e, e->shoff, (uint64_t)e->shnum * SHDR_SIZE))
		return refuse(e, "section header table (%u entries at byte %llu, names in section %u) is "
		              "empty, lies past the end of the file (%llu bytes) or names no string table",
		              e->shnum, (unsigned long long)e->shoff, e->shstrndx, (unsigned long long)e->n);
	return ST_OK;
}

/* ---- program headers ---- */

/* A PT_LOAD segment: inside the file, aligned as the loader maps it, after
 * the one before it without sharing a page with it. */
static Status add_load(Elf *e, unsigned i, const uint8_t *ph)
{
	Seg s = {le(ph + 8, 8), le(ph + 16, 8), le(ph + 32, 8), le(ph + 40, 8), (uint32_t)le(ph + 4, 4)};
	uint64_t align = le(ph + 48, 8), end;

	if (!in_file(e, s.off, s.filesz) || s.filesz > s.memsz || !ck_addu(s.va, s.memsz, &end) ||
	    end > UINT64_MAX - align)
		return refuse(e, "program header %u: segment (offset %llu, %llu bytes in the file, %llu in "
		              "memory) lies past the end of the file or wraps", i, (unsigned long long)s.off,
		              (unsigned long long)s.filesz, (unsigned long long)s.memsz);
	if (align < 4096 || (align & (align - 1)) || s.va % align != s.off % align)
		return refuse(e, "program header %u: alignment %llu is not a power of two of at least 4096 "
		              "that its address and offset agree on", i, (unsigned long long)align);
	if (e->nseg > 0) {
		const Seg *prev = &e->seg[e->nseg - 1];
		uint64_t prev_end = prev->va + prev->memsz, up;

		if (!ck_addu(prev_end, align - 1, &up) || s.va / align * align < up / align * align)
			return refuse(e, "program header %u: segment at address 0x%llx overlaps the page of "
			              "the one before it (which ends at 0x%llx)", i, (unsigned long long)s.va,
			              (unsigned long long)prev_end);
	}
	e->seg[e->nseg++] = s;
	return ST_OK;
}

static Status read_segments(Elf *e)
{
	uint64_t dyn_va = 0, dyn_size = 0, dyn_off = 0;
	bool stack = false;
	int ndyn = 0;
	Status st;

	e->seg = nnac_calloc(e->phnum, sizeof(Seg));
	if (!e->seg)
		return diag_add(e->d, ST_NOMEM, "%s: out of memory", e->what);
	for (unsigned i = 0; i < e->phnum; i++) {
		const uint8_t *ph = e->p + e->phoff + (uint64_t)i * PHDR_SIZE;
		uint32_t type = (uint32_t)le(ph, 4);

		if (type == PT_LOAD && (st = add_load(e, i, ph)) != ST_OK)
			return st;
		if (type == PT_DYNAMIC) {
			ndyn++;
			dyn_off = le(ph + 8, 8), dyn_va = le(ph + 16, 8), dyn_size = le(ph + 32, 8);
		}
		if (type == PT_TLS)
			return refuse(e, "has thread-local storage (PT_TLS), which nnac's objects do not use");
		if (type == PT_INTERP)
			return refuse(e, "names a program interpreter (PT_INTERP): it is a program, not a "
			              "shared object of nnac's");
		if (type == PT_GNU_STACK && (le(ph + 4, 4) & PF_X))
			return refuse(e, "asks for an executable stack (PT_GNU_STACK with PF_X)");
		stack |= type == PT_GNU_STACK;
	}
	if (!stack)
		return refuse(e, "has no PT_GNU_STACK, so loading it would make the stack executable");
	if (ndyn != 1)
		return refuse(e, "has %d dynamic segments (PT_DYNAMIC), not 1", ndyn);
	if (!va_to_off(e, dyn_va, dyn_size, &e->dyn_off) || e->dyn_off != dyn_off)
		return refuse(e, "the dynamic segment (address 0x%llx, %llu bytes) does not lie in a "
		              "loaded segment at its file offset", (unsigned long long)dyn_va,
		              (unsigned long long)dyn_size);
	e->ndyn = dyn_size / DYN_SIZE;
	return ST_OK;
}

/* ---- the dynamic segment ---- */

static const DynTag *dyn_tag(int64_t tag)
{
	for (size_t i = 0; i < ARRAY_LEN(dyn_tags); i++)
		if (dyn_tags[i].tag == tag)
			return &dyn_tags[i];
	return NULL;
}

/* The dynamic entries' values by tag (the ones this file reads), checking
 * every tag against dyn_tags and that none but DT_NEEDED repeats. */
typedef struct Dyn {
	uint64_t strtab, strsz, symtab, syment, rela, relasz, relaent, jmprel, pltrelsz, pltrel;
	bool has[DT_NUM];
} Dyn;

static Status dyn_entry(const Elf *e, Dyn *v, int64_t tag, uint64_t val)
{
	const DynTag *t = dyn_tag(tag);

	if (!t)
		return refuse(e, "has dynamic tag 0x%llx, which nnac's objects do not use",
		              (unsigned long long)tag);
	if (t->why)
		return refuse(e, "has %s (%s)", t->name, t->why);
	if (tag >= 0 && tag < DT_NUM) {
		if (v->has[tag] && tag != DT_NEEDED)
			return refuse(e, "has %s twice", t->name);
		v->has[tag] = true;
	}
	switch (tag) {
	case DT_STRTAB: v->strtab = val; break;
	case DT_STRSZ: v->strsz = val; break;
	case DT_SYMTAB: v->symtab = val; break;
	case DT_SYMENT: v->syment = val; break;
	case DT_RELA: v->rela = val; break;
	case DT_RELASZ: v->relasz = val; break;
	case DT_RELAENT: v->relaent = val; break;
	case DT_JMPREL: v->jmprel = val; break;
	case DT_PLTRELSZ: v->pltrelsz = val; break;
	case DT_PLTREL: v->pltrel = val; break;
	case DT_FLAGS:
		if (val & (DF_TEXTREL | DF_STATIC_TLS))
			return refuse(e, "has DT_FLAGS 0x%llx (text relocations or static TLS)",
			              (unsigned long long)val);
		break;
	}
	return ST_OK;
}

static Status read_dynamic(Elf *e, Dyn *v)
{
	uint64_t i;
	Status st;

	for (i = 0; i < e->ndyn; i++) {
		const uint8_t *p = e->p + e->dyn_off + i * DYN_SIZE;
		int64_t tag = (int64_t)le(p, 8);

		if (tag == DT_NULL)
			break;
		if ((st = dyn_entry(e, v, tag, le(p + 8, 8))) != ST_OK)
			return st;
	}
	if (i == e->ndyn)
		return refuse(e, "the dynamic segment has no DT_NULL at its end");
	if (!v->has[DT_STRTAB] || !v->has[DT_SYMTAB] || !v->has[DT_STRSZ] || v->syment != SYM_SIZE)
		return refuse(e, "the dynamic segment lacks DT_STRTAB, DT_STRSZ or DT_SYMTAB, or its "
		              "symbols are not 24 bytes each");
	if (!va_to_off(e, v->strtab, v->strsz, &e->str_off) || v->strsz == 0 ||
	    e->p[e->str_off + v->strsz - 1] != 0)
		return refuse(e, "the dynamic string table (address 0x%llx, %llu bytes) does not lie in "
		              "the file or does not end with a NUL", (unsigned long long)v->strtab,
		              (unsigned long long)v->strsz);
	e->strsz = v->strsz;
	e->sym_va = v->symtab;
	return ST_OK;
}

/* Every DT_NEEDED names a library of cpu_imports.def. */
static Status check_needed(Elf *e)
{
	for (uint64_t i = 0; i < e->ndyn; i++) {
		const uint8_t *p = e->p + e->dyn_off + i * DYN_SIZE;
		const char *name;

		if ((int64_t)le(p, 8) == DT_NULL)
			break;
		if ((int64_t)le(p, 8) != DT_NEEDED)
			continue;
		if (!(name = dyn_str(e, le(p + 8, 8))))
			return refuse(e, "a DT_NEEDED name lies outside the string table");
		if (!listed(name, allowed_needed, ARRAY_LEN(allowed_needed)))
			return refuse(e, "needs the library '%s' (DT_NEEDED); nnac's objects may need only "
			              "libm.so.6 and libc.so.6", name);
		e->facts.nneeded++;
	}
	return ST_OK;
}

/* ---- section headers ---- */

static const uint8_t *shdr(const Elf *e, unsigned i)
{
	return e->p + e->shoff + (uint64_t)i * SHDR_SIZE;
}

/* No section of initialisers; every section's bytes inside the file; the
 * count of dynamic symbols from the SHT_DYNSYM section at DT_SYMTAB. */
static Status read_sections(Elf *e)
{
	const uint8_t *names = shdr(e, e->shstrndx);
	uint64_t noff = le(names + 24, 8), nsize = le(names + 32, 8);
	bool dynsym = false;

	if (le(names + 4, 4) != SHT_STRTAB || !in_file(e, noff, nsize))
		return refuse(e, "the section name table (section %u) is not a string table inside the file",
		              e->shstrndx);
	for (unsigned i = 0; i < e->shnum; i++) {
		const uint8_t *s = shdr(e, i);
		uint64_t name = le(s, 4), type = le(s + 4, 4), off = le(s + 24, 8), size = le(s + 32, 8);
		const char *nm = name < nsize && memchr(e->p + noff + name, 0, nsize - name)
		                 ? (const char *)e->p + noff + name : NULL;

		if (!nm)
			return refuse(e, "section %u: its name lies outside the section name table", i);
		if (type != SHT_NOBITS && !in_file(e, off, size))
			return refuse(e, "section %u ('%s'): bytes %llu..+%llu lie past the end of the file", i,
			              nm, (unsigned long long)off, (unsigned long long)size);
		if (listed(nm, init_sections, ARRAY_LEN(init_sections)) || type == SHT_INIT_ARRAY ||
		    type == SHT_FINI_ARRAY || type == SHT_PREINIT_ARRAY)
			return refuse(e, "has a section '%s' of code or pointers that run at load or unload", nm);
		if (type == SHT_DYNSYM && le(s + 16, 8) == e->sym_va) {
			if (le(s + 56, 8) != SYM_SIZE || size % SYM_SIZE || !va_to_off(e, e->sym_va, size, &e->sym_off))
				return refuse(e, "the dynamic symbol table ('%s') does not lie in a loaded segment "
				              "or its entries are not 24 bytes", nm);
			e->nsym = size / SYM_SIZE;
			dynsym = true;
		}
	}
	if (!dynsym)
		return refuse(e, "no SHT_DYNSYM section lies at DT_SYMTAB (0x%llx)", (unsigned long long)e->sym_va);
	return ST_OK;
}

/* ---- dynamic symbols ---- */

static const uint8_t *sym(const Elf *e, uint64_t i)
{
	return e->p + e->sym_off + i * SYM_SIZE;
}

static Status check_symbol(Elf *e, uint64_t i)
{
	const uint8_t *s = sym(e, i);
	const char *name = dyn_str(e, le(s, 4));
	unsigned type = s[4] & 0xf, shndx = (unsigned)le(s + 6, 2);

	if (!name)
		return refuse(e, "dynamic symbol %llu: its name lies outside the string table",
		              (unsigned long long)i);
	if (type == STT_GNU_IFUNC)
		return refuse(e, "symbol '%s' is an IFUNC, whose resolver runs when the object is loaded", name);
	if (type == STT_TLS)
		return refuse(e, "symbol '%s' is thread-local, which nnac's objects do not use", name);
	if (shndx == SHN_UNDEF && name[0]) {
		if (!listed(name, allowed_imports, ARRAY_LEN(allowed_imports)))
			return refuse(e, "imports '%s', which is not one of the functions nnac's cpu code may "
			              "call (the runtime helpers nnac_rt_*, libm, memcpy, memmove, memset)", name);
		e->facts.nimports++;
	}
	if (shndx != SHN_UNDEF && strcmp(name, "nnac_abi_tag") == 0)
		e->abi_sym = (int64_t)i;
	if (shndx != SHN_UNDEF && strcmp(name, "nnac_main") == 0)
		e->main_sym = (int64_t)i;
	return ST_OK;
}

static Status check_symbols(Elf *e)
{
	Status st;

	for (uint64_t i = 1; i < e->nsym; i++)
		if ((st = check_symbol(e, i)) != ST_OK)
			return st;
	return ST_OK;
}

/* ---- relocations ---- */

/* A RELA table of size bytes at address va (what names it). */
static Status check_relocs(Elf *e, const char *what, uint64_t va, uint64_t size)
{
	uint64_t off;

	if (size % RELA_SIZE || !va_to_off(e, va, size, &off))
		return refuse(e, "the relocations of %s (address 0x%llx, %llu bytes) do not lie in a loaded "
		              "segment or are not 24-byte entries", what, (unsigned long long)va,
		              (unsigned long long)size);
	for (uint64_t i = 0; i < size / RELA_SIZE; i++) {
		const uint8_t *r = e->p + off + i * RELA_SIZE;
		uint64_t at = le(r, 8), info = le(r + 8, 8);
		uint32_t type = (uint32_t)info, symi = (uint32_t)(info >> 32);
		bool plain = false;

		for (size_t k = 0; k < ARRAY_LEN(plain_relocs); k++)
			plain |= type == plain_relocs[k] && HOST_MACHINE != EM_NONE;
		if (!plain)
			return refuse(e, "relocation %llu of %s has type %u, which nnac's objects do not use "
			              "(IFUNC, TLS and copy relocations are refused)", (unsigned long long)i, what,
			              type);
		if (symi >= e->nsym)
			return refuse(e, "relocation %llu of %s names symbol %u of %llu", (unsigned long long)i,
			              what, symi, (unsigned long long)e->nsym);
		if (!writable(e, at, 8))
			return refuse(e, "relocation %llu of %s writes at 0x%llx, outside the object's writable "
			              "segments", (unsigned long long)i, what, (unsigned long long)at);
		e->facts.nrelocs++;
	}
	return ST_OK;
}

static Status check_all_relocs(Elf *e, const Dyn *v)
{
	Status st;

	if (v->has[DT_RELA] && v->relaent != RELA_SIZE)
		return refuse(e, "DT_RELAENT is %llu, not 24", (unsigned long long)v->relaent);
	if (v->has[DT_RELA] && (st = check_relocs(e, "DT_RELA", v->rela, v->relasz)) != ST_OK)
		return st;
	if (v->has[DT_JMPREL] && v->pltrel != DT_RELA)
		return refuse(e, "DT_PLTREL is %llu, not DT_RELA", (unsigned long long)v->pltrel);
	if (v->has[DT_JMPREL])
		return check_relocs(e, "DT_JMPREL", v->jmprel, v->pltrelsz);
	return ST_OK;
}

/* ---- the entry point and the ABI tag ---- */

static Status check_abi(Elf *e)
{
	const uint8_t *s;
	uint64_t off;

	if (e->main_sym < 0 || (sym(e, (uint64_t)e->main_sym)[4] & 0xf) != STT_FUNC)
		return refuse(e, "does not define the function nnac_main");
	if (e->abi_sym < 0)
		return refuse(e, "has no ABI tag (a defined symbol nnac_abi_tag): not an object of nnac's "
		              "cpu target, or of one older than ABI %d", NNAC_CPU_ABI);
	s = sym(e, (uint64_t)e->abi_sym);
	if ((s[4] & 0xf) != STT_OBJECT || le(s + 16, 8) != 4 || !va_to_off(e, le(s + 8, 8), 4, &off))
		return refuse(e, "its ABI tag nnac_abi_tag is not a 4-byte constant held in the file");
	e->facts.abi = (uint32_t)le(e->p + off, 4);
	if (e->facts.abi != NNAC_CPU_ABI)
		return refuse(e, "has ABI tag %u; this runtime runs ABI %d", e->facts.abi, NNAC_CPU_ABI);
	return ST_OK;
}

Status elf_check_cpu(const char *what, const uint8_t *so, size_t len, ElfFacts *facts, Diag *d)
{
	Elf e = {.what = what, .p = so, .n = len, .d = d, .abi_sym = -1, .main_sym = -1};
	Dyn v = {0};
	Status st;

	if ((st = check_header(&e)) == ST_OK && (st = read_segments(&e)) == ST_OK &&
	    (st = read_dynamic(&e, &v)) == ST_OK && (st = check_needed(&e)) == ST_OK &&
	    (st = read_sections(&e)) == ST_OK && (st = check_symbols(&e)) == ST_OK &&
	    (st = check_all_relocs(&e, &v)) == ST_OK)
		st = check_abi(&e);
	if (st == ST_OK && facts)
		*facts = e.facts;
	nnac_free(e.seg);
	return st;
}
