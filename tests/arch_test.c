/*
 * nnac-archtest: the test driver of accelerator descriptions.
 *
 *     nnac-archtest GOOD_DIR BAD_DIR
 *
 * Every GOOD_DIR/NAME.arch must parse.  Every BAD_DIR/NAME.arch starts with
 * `# expect: TEXT` and must be refused with exactly one diagnostic holding
 * TEXT (e.g. `3:7: error: unknown key 'sise'`).  Then every preset parses
 * and its key numbers are checked against the papers they come from
 * (docs/arch.md), and code-level checks: a missing file, the caret line
 * under a tab, an unknown preset, arch_load by name and by path, the name
 * tables, every truncation of every preset, and allocation failure at every
 * allocation of a parse and of a refused parse.
 *
 * Ends with `arch: P passed, F failed`; exits 1 if anything failed.
 */
#include "arch_lang.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static void print_diags(const Diag *d)
{
	for (int i = 0; i < d->n; i++)
		printf("    %s\n", d->msg[i].text);
}

/* The TEXT of a first line `# expect: TEXT`, in fresh memory, or NULL. */
static char *expectation(const char *text)
{
	static const char tag[] = "# expect: ";
	size_t n;
	char *e;

	if (strncmp(text, tag, sizeof(tag) - 1) != 0)
		return NULL;
	text += sizeof(tag) - 1;
	n = strcspn(text, "\n");
	if (!(e = malloc(n + 1)))
		return NULL;
	memcpy(e, text, n);
	e[n] = 0;
	return e;
}

static void run_case(const char *path, bool bad)
{
	size_t len;
	char *text = read_file(path, &len), *want;
	Arena ar;
	Diag d;
	Arch a;
	Status st;
	bool ok;

	if (!text) {
		check(false, "%s: cannot read", path);
		return;
	}
	want = expectation(text);
	arena_init(&ar);
	diag_init(&d);
	st = arch_parse(&a, &ar, &d, path, text, len);
	if (!bad)
		ok = st == ST_OK && d.n == 0;
	else
		ok = want && st != ST_OK && d.n == 1 && strstr(d.msg[0].text, want);
	check(ok, "%s: %s", path,
	      !bad ? "does not parse" : want ? "not the expected single diagnostic" :
	      "a bad case without `# expect:` on its first line");
	if (!ok && want)
		printf("    want: %s\n", want);
	if (!ok)
		print_diags(&d);
	free(want);
	free(text);
	diag_free(&d);
	arena_free(&ar);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir, bool bad)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	int n = 0, cap = 0;

	if (!dp) {
		check(false, "%s: cannot open the folder", dir);
		return;
	}
	while ((e = readdir(dp))) {
		size_t l = strlen(e->d_name);

		if (l < 6 || strcmp(e->d_name + l - 5, ".arch") != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = realloc(names, (size_t)cap * sizeof(*names));
		}
		names[n] = malloc(strlen(dir) + l + 2);
		sprintf(names[n++], "%s/%s", dir, e->d_name);
	}
	closedir(dp);
	qsort(names, (size_t)n, sizeof(*names), by_name);
	for (int i = 0; i < n; i++) {
		run_case(names[i], bad);
		free(names[i]);
	}
	free(names);
	check(n > 0, "%s: holds no .arch file", dir);
}

/* ---- the presets against their papers ---- */

static bool near(double a, double b)
{
	return fabs(a - b) <= 1e-9 * fabs(b);
}

/* Level `name` of a, or NULL after a failed check. */
static const ArchLevel *lvl(const Arch *a, const char *name)
{
	int i = arch_level_find(a, name);

	check(i >= 0, "%s: %s", a->name, name);
	return i >= 0 ? &a->levels[i] : NULL;
}

static void check_tpu_v1(const Arch *a)
{
	const ArchLevel *l;

	check(arch_pes(a) == 256 * 256, "tpu-v1: 256x256 MACs");
	check(a->mac[0].operand == DT_I8 && a->mac[0].acc == DT_I32, "tpu-v1: i8 -> i32 MACs");
	check(near(a->clock_hz, 700e6), "tpu-v1: 700 MHz");
	if ((l = lvl(a, "unified_buffer")))
		check(l->size == 25165824 && l->scope == ARCH_SHARED,
		      "tpu-v1: 24 MiB unified buffer");
	if ((l = lvl(a, "accumulators")))
		check(l->size == 4194304, "tpu-v1: 4 MiB of accumulators");
	if ((l = lvl(a, "weight_fifo")))
		check(l->size == 4 * 65536, "tpu-v1: weight FIFO of 4 64 KiB tiles");
	if ((l = lvl(a, "dram")))
		check(near(l->read_bw, 34e9 / 700e6) && near(l->write_bw, 34e9 / 700e6),
		      "tpu-v1: DDR3 at 34 GB/s");
	check(a->levels[0].size == 8LL << 30, "tpu-v1: dram first");
	check(a->dataflows == 1u << ARCH_DF_WS && a->isa == ARCH_ISA_TPU,
	      "tpu-v1: weight stationary, tpu isa");
	if ((l = lvl(a, "weight_reg")))
		check(l->scope == ARCH_PER_PE && l->instances == 65536 && l->size == 2,
		      "tpu-v1: per-PE weight registers");
}

static void check_tpu_v2(const Arch *a)
{
	const ArchLevel *l;

	check(a->pe_rows == 128 && a->pe_cols == 128, "tpu-v2: 128x128 MACs");
	check(a->mac[0].operand == DT_BF16 && a->mac[0].acc == DT_F32, "tpu-v2: bf16 -> f32");
	check(near(a->clock_hz, 700e6), "tpu-v2: 700 MHz");
	if ((l = lvl(a, "hbm")))
		check(near(l->read_bw, 350e9 / 700e6), "tpu-v2: half of 700 GB/s per core");
	if ((l = lvl(a, "vector_memory")))
		check(l->size == 16 << 20, "tpu-v2: 16 MiB vector memory");
	check(a->isa == ARCH_ISA_TPU, "tpu-v2: tpu isa");
}

static void check_eyeriss(const Arch *a)
{
	static const struct {
		const char *name;
		double energy;
	} energies[] = { { "dram", 200 }, { "gbuf", 6 }, { "array", 2 }, { "spad_filter", 1 },
	                 { "spad_ifmap", 1 }, { "spad_psum", 1 } };
	const ArchLevel *l;

	check(arch_pes(a) == 168 && a->pe_rows == 12, "eyeriss: 12x14 = 168 PEs");
	check(near(a->clock_hz, 200e6), "eyeriss: 200 MHz");
	check(a->mac[0].operand == DT_I16 && a->mac[0].energy == 1, "eyeriss: 16-bit MAC, 1");
	check(a->levels[0].size == ARCH_UNBOUNDED, "eyeriss: unbounded dram first");
	if ((l = lvl(a, "gbuf")))
		check(l->size == 110592, "eyeriss: 108 KiB global buffer");
	if ((l = lvl(a, "gbuf")))
		check(l->holds == ARCH_HOLDS_ALL, "eyeriss: global buffer holds every operand");
	if ((l = lvl(a, "spad_filter")))
		check(l->size == 448 && l->word_bits == 16 && l->scope == ARCH_PER_PE &&
		      l->instances == 168 && l->holds == 1u << ARCH_WEIGHTS,
		      "eyeriss: filter spad 224x16b per PE, weights only");
	if ((l = lvl(a, "spad_ifmap")))
		check(l->size == 24 && l->holds == 1u << ARCH_INPUTS,
		      "eyeriss: ifmap spad 12x16b, inputs only");
	if ((l = lvl(a, "spad_psum")))
		check(l->size == 48 && l->holds == 1u << ARCH_OUTPUTS,
		      "eyeriss: psum spad 24x16b, outputs only");
	if ((l = lvl(a, "array")))
		check(l->size == 0, "eyeriss: the array level stores nothing");
	for (size_t i = 0; i < ARRAY_LEN(energies); i++)
		if ((l = lvl(a, energies[i].name)))
			check(l->energy == energies[i].energy, "eyeriss: %s", energies[i].name);
	check(a->noc.multicast, "eyeriss: multicast NoC");
	check(a->dataflows == 0xf && arch_has_dataflow(a, ARCH_DF_RS), "eyeriss: four dataflows");
	check(a->isa == ARCH_ISA_EYERISS, "eyeriss: eyeriss isa");
}

static void check_diannao(const Arch *a)
{
	const ArchLevel *l;

	check(a->pe_rows == 16 && a->pe_cols == 16, "diannao: Tn x Tn = 16x16 multipliers");
	check(near(a->clock_hz, 980e6), "diannao: 980 MHz");
	if ((l = lvl(a, "nbin")))
		check(l->size == 2048, "diannao: NBin 2 KB");
	if ((l = lvl(a, "nbout")))
		check(l->size == 2048, "diannao: NBout 2 KB");
	if ((l = lvl(a, "sb")))
		check(l->size == 32768, "diannao: SB 32 KB");
	check(a->dataflows == 1u << ARCH_DF_NLR, "diannao: no local reuse");
}

static void check_host(const Arch *a)
{
	const ArchLevel *l;

	check(a->vector_bits == 256 && a->isa == ARCH_ISA_CPU, "host: AVX2, cpu isa");
	if ((l = lvl(a, "l1d")))
		check(l->size == 32768 && l->read_bw == 128 && l->write_bw == 64,
		      "host: 32 KiB L1d");
	if ((l = lvl(a, "l2")))
		check(l->size == 1 << 20, "host: 1 MiB L2");
	if ((l = lvl(a, "l3")))
		check(l->scope == ARCH_SHARED, "host: shared L3");
	if ((l = lvl(a, "regs")))
		check(l->size == 512 && l->word_bits == 256, "host: 16 YMM registers");
	check(a->levels[0].size == ARCH_UNBOUNDED, "host: dram first");
}

static void check_presets(void)
{
	static const struct {
		const char *name;
		void (*check)(const Arch *a);
	} presets[] = { { "tpu-v1", check_tpu_v1 }, { "tpu-v2", check_tpu_v2 },
	                { "eyeriss", check_eyeriss }, { "diannao", check_diannao },
	                { "host", check_host } };

	check(arch_preset_count() == (int)ARRAY_LEN(presets), "presets: five presets embedded");
	for (size_t i = 0; i < ARRAY_LEN(presets); i++) {
		Arena ar;
		Diag d;
		Arch a;

		arena_init(&ar);
		diag_init(&d);
		if (arch_preset(&a, &ar, &d, presets[i].name) == ST_OK) {
			check(strcmp(a.name, presets[i].name) == 0, "%s: name", presets[i].name);
			presets[i].check(&a);
		} else {
			check(false, "%s: the preset does not parse", presets[i].name);
			print_diags(&d);
		}
		diag_free(&d);
		arena_free(&ar);
	}
}

/* ---- checks written in code ---- */

static void check_missing_file(void)
{
	Arena ar;
	Diag d;
	Arch a;
	Status st;

	arena_init(&ar);
	diag_init(&d);
	st = arch_parse_file(&a, &ar, &d, "/nonexistent/x.arch");
	check(st == ST_IO && d.n == 1 && strstr(d.msg[0].text, "/nonexistent/x.arch: cannot read"),
	      "missing file: reported as unreadable");
	diag_free(&d);
	arena_free(&ar);
}

static void check_caret(void)
{
	static const char text[] = "arch t {\n\tpe_array 2 x 2\n\tclock 1 Mhz\n}\n";
	static const char want[] = "t.arch:3:10: error: bad unit 'Mhz' for a clock (write Hz, "
	                           "kHz, MHz or GHz)\n\tclock 1 Mhz\n\t        ^";
	Arena ar;
	Diag d;
	Arch a;

	arena_init(&ar);
	diag_init(&d);
	arch_parse(&a, &ar, &d, "t.arch", text, sizeof(text) - 1);
	check(d.n == 1 && strcmp(d.msg[0].text, want) == 0, "caret: caret under the unit");
	if (d.n == 1 && strcmp(d.msg[0].text, want) != 0)
		print_diags(&d);
	diag_free(&d);
	arena_free(&ar);
}

static void check_load(const char *good_dir)
{
	char path[512];
	Arena ar;
	Diag d;
	Arch a;

	arena_init(&ar);
	diag_init(&d);
	check(arch_load(&a, &ar, &d, "nope") == ST_INVALID && d.n == 1 &&
	      strstr(d.msg[0].text, "unknown architecture 'nope' (presets: ") &&
	      strstr(d.msg[0].text, "eyeriss"), "arch_load: an unknown preset lists the presets");
	check(arch_load(&a, &ar, &d, "eyeriss") == ST_OK && arch_pes(&a) == 168 &&
	      strcmp(a.path, "preset:eyeriss") == 0, "arch_load: a preset by name");
	snprintf(path, sizeof(path), "%s/minimal.arch", good_dir);
	check(arch_load(&a, &ar, &d, path) == ST_OK && strcmp(a.path, path) == 0,
	      "arch_load: a file by path");
	check(d.n == 1, "arch_load: no diagnostic for the good loads");
	diag_free(&d);
	arena_free(&ar);
}

static void check_names(void)
{
	bool ok = true;

	for (int i = 0; i < ARCH_DF_COUNT; i++)
		ok &= arch_dataflow_from_name(arch_dataflow_name((ArchDataflow)i)) == i;
	for (int i = 0; i < ARCH_ISA_COUNT; i++)
		ok &= arch_isa_from_name(arch_isa_name((ArchIsa)i)) == i;
	ok &= arch_dataflow_from_name("xs") == -1 && arch_isa_from_name("gpu") == -1;
	check(ok, "names: dataflow and isa names round-trip");
}

/* Every proper prefix of every preset is refused with exactly one
 * diagnostic (a truncated file never parses nor crashes), the whole text
 * parses. */
static void check_prefixes(void)
{
	bool clean = true;

	for (int i = 0; i < arch_preset_count(); i++) {
		size_t len;
		const char *text = arch_preset_text(i, &len);

		for (size_t n = 0; n <= len; n++) {
			Arena ar;
			Diag d;
			Arch a;
			Status st;
			/* the text ends in "}\n": only the whole, or all but the newline, parse */
			bool whole = n + 1 >= len;

			arena_init(&ar);
			diag_init(&d);
			st = arch_parse(&a, &ar, &d, "prefix.arch", text, n);
			if (whole ? st != ST_OK || d.n != 0 : st != ST_INVALID || d.n != 1) {
				clean = false;
				printf("    %s, %zu of %zu bytes\n", arch_preset_name(i), n, len);
				print_diags(&d);
			}
			diag_free(&d);
			arena_free(&ar);
		}
	}
	check(clean, "prefixes: every truncated preset gives one error");
}

typedef struct ArchText {
	const char *path, *text;
	size_t len;
} ArchText;

static Status parse_text(const void *ctx, Diag *d)
{
	const ArchText *t = ctx;
	Arena ar;
	Arch a;
	Status st;

	arena_init(&ar);
	st = arch_parse(&a, &ar, d, t->path, t->text, t->len);
	arena_free(&ar);
	return st;
}

/* Every allocation of parsing the eyeriss preset fails in turn; then of
 * parsing a description the parser refuses, where a failure while the
 * error is reported (the caret line) is out of memory as well. */
static void check_alloc_failure(void)
{
	static const char refused[] =
		"arch a {\n"
		"\tpe_array 1 x 1 clock 1 GHz mac f32 -> f32\n"
		"\tlevel dram sise 4\n"
		"}\n";
	ArchText t = { "alloc.arch", NULL, 0 };
	long runs;

	for (int i = 0; i < arch_preset_count(); i++)
		if (strcmp(arch_preset_name(i), "eyeriss") == 0)
			t.text = arch_preset_text(i, &t.len);
	if (!t.text) {
		check(false, "allocation failure: no eyeriss preset");
		return;
	}
	check(test_alloc_sweep(parse_text, &t, ST_OK, NULL, &runs) && runs > 2,
	      "allocation failure: every failed allocation reports out of memory");
	t = (ArchText){ "refused.arch", refused, sizeof(refused) - 1 };
	check(test_alloc_sweep(parse_text, &t, ST_INVALID,
	                       "refused.arch:3:13: error: unknown key 'sise'", &runs) && runs > 2,
	      "allocation failure: a refused description reports its error or out of memory");
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: nnac-archtest GOOD_DIR BAD_DIR\n");
		return 2;
	}
	run_dir(argv[1], false);
	run_dir(argv[2], true);
	check_presets();
	check_missing_file();
	check_caret();
	check_load(argv[1]);
	check_names();
	check_prefixes();
	check_alloc_failure();
	return test_summary("arch");
}
