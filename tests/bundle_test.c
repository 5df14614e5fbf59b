/*
 * nnac-bundletest: the tests of the bundle file (runtime/bundle.h,
 * docs/bundle.md).
 *
 *     nnac-bundletest [--write-corpus DIR]
 *
 * Round trips of sections, META keys and tensor tables through memory and
 * files; the writer's bytes are the same for the same input; every
 * truncation of a small bundle and every single-byte change of it is
 * refused with one diagnostic; with the checksum repaired, every header
 * byte change is still refused and no change crashes; each structural error
 * has its message; with the checksum repaired, every payload change is
 * refused by its SHA-256; the writer refuses what the reader would; a write
 * that fails leaves no file; every allocation failure is reported cleanly.
 * SHA-256 against the FIPS examples and Python's hashlib; the cpu loader's
 * ELF inspection (tests/elf_test.c).
 * --write-corpus writes the fuzz seeds (tests/fuzz/bundle_corpus) to DIR
 * (all but version1.nnb, a bundle an nnac of format version 1 wrote).
 *
 * Ends with `bundle: P passed, F failed`; exits 1 if anything failed.
 */
#include "bundle.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_test.h"
#include "sha256.h"
#include "test_util.h"

static char tmpdir[] = "/tmp/nnac-bundletest-XXXXXX";

static void print_diags(const Diag *d)
{
	for (int i = 0; i < d->n; i++)
		printf("    %s\n", d->msg[i].text);
}

/* ---- the sample bundle ---- */

static const char sample_meta[] =
	"target=tpu\nprecision=int8\nmodel=lenet5\nnnac_version=0.1\nnote=caf\xc3\xa9 \xe2\x82\xac\n";
static uint8_t sample_weights[150];
static const uint8_t sample_program[37] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};

static void sample_tensors(NnbTensor t[3])
{
	memset(t, 0, 3 * sizeof(*t));
	t[0] = (NnbTensor){.name = "input", .dtype = DT_I8, .role = NNB_ROLE_INPUT, .rank = 4,
	                   .dims = {1, 1, 4, 4}, .scale = 0.5f, .zero_point = -3, .size = 16};
	t[1] = (NnbTensor){.name = "conv1.w", .dtype = DT_I8, .role = NNB_ROLE_WEIGHT, .rank = 4,
	                   .dims = {2, 1, 3, 3}, .scale = 0.125f, .offset = 64, .size = 18};
	t[2] = (NnbTensor){.name = "out\xce\xb1", .dtype = DT_F32, .role = NNB_ROLE_OUTPUT, .rank = 2,
	                   .dims = {1, 10}, .layout = 7, .offset = 4096, .size = 48};
}

/* The sample writer: META, TENSORS, WEIGHTS, two programs, empty loops. */
static NnbWriter *sample_writer(Diag *d)
{
	NnbWriter *w = nnb_writer_new();
	NnbTensor t[3];
	uint8_t *tab = NULL;
	uint64_t tabn;
	bool ok;

	for (size_t i = 0; i < sizeof(sample_weights); i++)
		sample_weights[i] = (uint8_t)(i * 7 + 1);
	sample_tensors(t);
	ok = w && nnb_tensors_encode(t, 3, &tab, &tabn, d) == ST_OK &&
	     nnb_add(w, NNB_META, NULL, sample_meta, strlen(sample_meta), d) == ST_OK &&
	     nnb_add(w, NNB_TENSORS, NULL, tab, tabn, d) == ST_OK &&
	     nnb_add(w, NNB_WEIGHTS, NULL, sample_weights, sizeof(sample_weights), d) == ST_OK &&
	     nnb_add(w, NNB_PROGRAM_TPU, "a", sample_program, sizeof(sample_program), d) == ST_OK &&
	     nnb_add(w, NNB_PROGRAM_TPU, "b", sample_program, 5, d) == ST_OK &&
	     nnb_add(w, NNB_HOST_LOOPS, "conv_3", NULL, 0, d) == ST_OK;
	nnac_free(tab);
	if (!ok) {
		nnb_writer_free(w);
		return NULL;
	}
	return w;
}

/* The sample's bytes in fresh memory (nnac_free), or NULL. */
static uint8_t *sample_bytes(size_t *n)
{
	Diag d;
	NnbWriter *w;
	uint8_t *buf = NULL;

	diag_init(&d);
	if ((w = sample_writer(&d)))
		nnb_write_mem(w, &buf, n, &d);
	print_diags(&d);
	nnb_writer_free(w);
	diag_free(&d);
	return buf;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/* Makes the header's size and checksum agree with the bytes again, and
 * with seal every recorded SHA-256 too. */
static void repair_crc(uint8_t *b, size_t n)
{
	put64(b + 24, n);
	put32(b + 32, nnb_checksum(b, n));
}

static void repair(uint8_t *b, size_t n)
{
	nnb_reseal(b, n);
}

/* Offsets into the sample: entry i of the table. */
static size_t entry(int i) { return NNB_HEADER_SIZE + (size_t)i * NNB_ENTRY_SIZE; }

/* Opens bytes that must be refused with one diagnostic holding want. */
static void expect_refused(const char *name, const uint8_t *b, size_t n, const char *want)
{
	Diag d;
	Nnb *nb = (Nnb *)1;
	Status st;
	char what[256];

	diag_init(&d);
	st = nnb_open_mem("m.nnb", b, n, &nb, &d);
	snprintf(what, sizeof(what), "refused with one diagnostic holding \"%s\"", want);
	check(st == ST_INVALID && nb == NULL && d.n == 1 && strstr(d.msg[0].text, want) &&
	      strncmp(d.msg[0].text, "m.nnb: ", 7) == 0, "%s: %s", name, what);
	if (!(st == ST_INVALID && d.n == 1 && strstr(d.msg[0].text, want)))
		print_diags(&d);
	nnb_close(nb == (Nnb *)1 ? NULL : nb);
	diag_free(&d);
}

/* ---- round trips ---- */

static bool same_tensor(const NnbTensor *a, const NnbTensor *b)
{
	if (strcmp(a->name, b->name) != 0 || a->dtype != b->dtype || a->role != b->role ||
	    a->rank != b->rank || a->scale != b->scale || a->zero_point != b->zero_point ||
	    a->layout != b->layout || a->offset != b->offset || a->size != b->size)
		return false;
	for (int k = 0; k < a->rank; k++)
		if (a->dims[k] != b->dims[k])
			return false;
	return true;
}

static void check_sections(const Nnb *b)
{
	const NnbSection *s;
	bool aligned = true;

	check(nnb_count(b) == 6, "round trip: six sections");
	if (nnb_count(b) != 6)
		return;
	for (int i = 0; i < nnb_count(b); i++) {
		s = nnb_section(b, i);
		aligned &= s->offset % NNB_ALIGN == 0 && (uintptr_t)s->data % NNB_ALIGN == 0;
	}
	check(aligned, "round trip: payloads 64-byte aligned in the file and in memory");
	check(nnb_section(b, 6) == NULL && nnb_section(b, -1) == NULL,
	      "round trip: nnb_section out of range is NULL");
	s = nnb_find(b, NNB_WEIGHTS, NULL);
	check(s && s->size == sizeof(sample_weights) &&
	      memcmp(s->data, sample_weights, sizeof(sample_weights)) == 0,
	      "round trip: weights bytes");
	s = nnb_find(b, NNB_PROGRAM_TPU, "b");
	check(s && s == nnb_section(b, 4) && s->size == 5 && memcmp(s->data, sample_program, 5) == 0,
	      "round trip: program 'b' found by name");
	s = nnb_find(b, NNB_PROGRAM_TPU, NULL);
	check(s && strcmp(s->name, "a") == 0 && s->size == sizeof(sample_program) &&
	      memcmp(s->data, sample_program, sizeof(sample_program)) == 0,
	      "round trip: first program by kind");
	s = nnb_find(b, NNB_HOST_LOOPS, "conv_3");
	check(s && s->size == 0, "round trip: empty section");
	check(!nnb_find(b, NNB_PROGRAM_TPU, "c") && !nnb_find(b, NNB_PROGRAM_CPU, NULL),
	      "round trip: absent sections are NULL");
	check(nnb_meta(b, "target") && strcmp(nnb_meta(b, "target"), "tpu") == 0 &&
	      strcmp(nnb_meta(b, "precision"), "int8") == 0 &&
	      strcmp(nnb_meta(b, "nnac_version"), "0.1") == 0 &&
	      strcmp(nnb_meta(b, "note"), "caf\xc3\xa9 \xe2\x82\xac") == 0 && !nnb_meta(b, "targe") &&
	      !nnb_meta(b, "zzz"), "round trip: META keys");
}

static void check_tensor_table(const Nnb *b)
{
	NnbTensor want[3], *t;
	int n;
	Diag d;

	diag_init(&d);
	sample_tensors(want);
	check(nnb_tensors_load(b, NULL, &t, &n, &d) == ST_OK && n == 3, "tensors: load");
	print_diags(&d);
	if (t && n == 3)
		check(same_tensor(&t[0], &want[0]) && same_tensor(&t[1], &want[1]) &&
		      same_tensor(&t[2], &want[2]), "tensors: every field round trips");
	nnac_free(t);
	check(nnb_tensors_load(b, "tpu", &t, &n, &d) == ST_INVALID && !t && d.n == 1 &&
	      strstr(d.msg[0].text, "no 'tensors' section named 'tpu'"), "tensors: absent name");
	diag_free(&d);
}

static void check_round_trip(void)
{
	size_t n;
	uint8_t *bytes = sample_bytes(&n);
	Nnb *b;
	Diag d;

	diag_init(&d);
	check(bytes != NULL, "round trip: writes");
	if (!bytes)
		return;
	check(memcmp(bytes, "NNACBNDL", 8) == 0 && get32(bytes + 8) == 2 &&
	      get32(bytes + 20) == 6 && get32(bytes + 36) == 96, "round trip: header fields");
	check(nnb_open_mem("m.nnb", bytes, n, &b, &d) == ST_OK && d.n == 0, "round trip: opens");
	print_diags(&d);
	if (b) {
		check_sections(b);
		check_tensor_table(b);
	}
	nnb_close(b);
	nnac_free(bytes);
	diag_free(&d);
}

static void check_empty_bundle(void)
{
	NnbWriter *w = nnb_writer_new();
	uint8_t *bytes = NULL;
	size_t n = 0;
	Nnb *b = NULL;
	Diag d;

	diag_init(&d);
	check(w && nnb_write_mem(w, &bytes, &n, &d) == ST_OK && n == NNB_HEADER_SIZE &&
	      nnb_open_mem("e.nnb", bytes, n, &b, &d) == ST_OK && nnb_count(b) == 0 &&
	      !nnb_meta(b, "target"), "empty bundle: 64 bytes, no sections, no META");
	nnb_close(b);
	nnac_free(bytes);
	nnb_writer_free(w);
	diag_free(&d);
}

static void check_crc(void)
{
	check(nnb_crc32c(0, (const uint8_t *)"123456789", 9) == 0xe3069283u,
	      "crc32c: check value of \"123456789\"");
	check(nnb_crc32c(nnb_crc32c(0, (const uint8_t *)"1234", 4), (const uint8_t *)"56789", 5) ==
	      0xe3069283u, "crc32c: incremental");
}

/* ---- SHA-256 ---- */

static bool digest_is(const uint8_t *p, size_t n, size_t step, const char *hex)
{
	uint8_t d[SHA256_BYTES];
	char got[2 * SHA256_BYTES + 1];
	Sha256 s;

	sha256_init(&s);
	for (size_t i = 0; i < n; i += step)
		sha256_update(&s, p + i, n - i < step ? n - i : step);
	sha256_final(&s, d);
	sha256_hex(d, got);
	if (strcmp(got, hex) != 0)
		printf("    got %s\n    want %s\n", got, hex);
	return strcmp(got, hex) == 0;
}

/* The FIPS 180-4 examples (NIST's "SHA256.pdf" and the long message of
 * FIPS 180-2 appendix B.3), whole and fed in pieces of every size from 1
 * to 130 bytes. */
static void check_sha256_vectors(void)
{
	static const char two_block[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char *million = malloc(1000000);
	bool pieces = true;

	if (!million)
		abort();
	memset(million, 'a', 1000000);
	check(digest_is((const uint8_t *)"abc", 3, 3,
	                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "sha256: \"abc\"");
	check(digest_is((const uint8_t *)two_block, 56, 56,
	                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
	      "sha256: the 448-bit two-block message");
	check(digest_is((const uint8_t *)"", 0, 1,
	                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "sha256: empty");
	check(digest_is((const uint8_t *)million, 1000000, 1000000,
	                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
	      "sha256: one million 'a'");
	for (size_t step = 1; step <= 130; step++)
		pieces &= digest_is((const uint8_t *)million, 1000, step,
		                    "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
	check(pieces, "sha256: 1000 'a' fed in pieces of 1..130 bytes");
	free(million);
}

/* Digests of seeded random messages of lengths around every block
 * boundary, against Python's hashlib. */
static void check_sha256_hashlib(void)
{
	static const size_t lens[] = {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65537};
	char path[256], cmd[512], line[128];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t *buf = malloc(65537), d[SHA256_BYTES];
	int agree = 0;
	FILE *f;

	if (!buf)
		abort();
	snprintf(path, sizeof(path), "%s/random.bin", tmpdir);
	snprintf(cmd, sizeof(cmd), "python3 -c 'import hashlib, sys\nd = open(sys.argv[1], \"rb\").read()\n"
	         "for n in map(int, sys.argv[2:]): print(hashlib.sha256(d[:n]).hexdigest())' %s", path);
	for (size_t i = 0; i < 65537; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)(x >> 24);
	}
	if (!(f = fopen(path, "wb")) || fwrite(buf, 1, 65537, f) != 65537 || fclose(f) != 0)
		abort();
	for (size_t k = 0; k < ARRAY_LEN(lens); k++)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %zu", lens[k]);
	if (!(f = popen(cmd, "r")))
		abort();
	for (size_t k = 0; k < ARRAY_LEN(lens) && fgets(line, sizeof(line), f); k++) {
		char hex[2 * SHA256_BYTES + 1];

		line[strcspn(line, "\n")] = 0;
		sha256(buf, lens[k], d);
		sha256_hex(d, hex);
		agree += strcmp(hex, line) == 0 && digest_is(buf, lens[k], 7, line);
	}
	check(pclose(f) == 0 && agree == (int)ARRAY_LEN(lens),
	      "sha256: %d of %zu random messages (0 to 65537 bytes) agree with Python's hashlib", agree,
	      ARRAY_LEN(lens));
	remove(path);
	free(buf);
}

static void check_names(void)
{
	bool ok = true;

#define NNB_SECTION(id, code, name, syn) \
	ok &= nnb_kind_known(code) && strcmp(nnb_kind_name(NNB_##id), name) == 0 && \
	      strcmp(nnb_kind_synopsis(NNB_##id), syn) == 0;
#include "bundle_section.def"
#undef NNB_SECTION
	check(ok, "kinds: every kind of the .def is known and named");
	check(!nnb_kind_known(0) && !nnb_kind_known(99) && strcmp(nnb_kind_name((NnbKind)99), "?") == 0,
	      "kinds: unknown codes");
	check(strcmp(nnb_role_name(NNB_ROLE_WEIGHT), "weight") == 0 &&
	      strcmp(nnb_role_name((NnbRole)0), "?") == 0, "roles: names");
}

/* ---- files ---- */

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (b = malloc((size_t)len + 1)) && fread(b, 1, (size_t)len, f) == (size_t)len)
		*n = (size_t)len;
	else {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void check_files(void)
{
	char p1[128], p2[128], tmp[140];
	NnbWriter *w;
	uint8_t *mem = NULL, *f1, *f2;
	size_t nm = 0, n1 = 0, n2 = 0;
	Nnb *b = NULL;
	Diag d;

	diag_init(&d);
	snprintf(p1, sizeof(p1), "%s/one.nnb", tmpdir);
	snprintf(p2, sizeof(p2), "%s/two.nnb", tmpdir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", p1);
	w = sample_writer(&d);
	check(w && nnb_write(w, p1, &d) == ST_OK && nnb_write(w, p2, &d) == ST_OK &&
	      nnb_write_mem(w, &mem, &nm, &d) == ST_OK, "files: writes");
	nnb_writer_free(w);
	print_diags(&d);
	f1 = slurp(p1, &n1);
	f2 = slurp(p2, &n2);
	check(f1 && f2 && mem && n1 == n2 && n1 == nm && memcmp(f1, f2, n1) == 0 &&
	      memcmp(f1, mem, n1) == 0, "files: identical input gives identical bytes");
	free(f2);
	nnac_free(mem);
	w = sample_writer(&d);
	mem = NULL;
	check(w && nnb_write_mem(w, &mem, &nm, &d) == ST_OK && f1 && nm == n1 &&
	      memcmp(mem, f1, n1) == 0, "files: a second writer gives the same bytes");
	nnb_writer_free(w);
	nnac_free(mem);
	free(f1);
	check(!exists(tmp), "files: no .tmp left behind");
	check(nnb_open(p1, &b, &d) == ST_OK && b && nnb_count(b) == 6 &&
	      strcmp(nnb_path(b), p1) == 0, "files: nnb_open");
	if (b)
		check_sections(b);
	nnb_close(b);
	remove(p1);
	remove(p2);
	diag_free(&d);
}

static void check_unwritable(void)
{
	char dir[128], dirtmp[140];
	NnbWriter *w;
	Nnb *b = (Nnb *)1;
	Diag d;

	diag_init(&d);
	w = sample_writer(&d);
	check(w && nnb_write(w, "/nonexistent-nnac-dir/x.nnb", &d) == ST_IO && d.n == 1 &&
	      strstr(d.msg[0].text, "/nonexistent-nnac-dir/x.nnb: cannot write"),
	      "unwritable: missing directory is an I/O error naming the file");
	check(!exists("/nonexistent-nnac-dir/x.nnb.tmp"), "unwritable: no file");
	snprintf(dir, sizeof(dir), "%s/adir", tmpdir);
	snprintf(dirtmp, sizeof(dirtmp), "%s.tmp", dir);
	mkdir(dir, 0700);
	diag_free(&d);
	check(w && nnb_write(w, dir, &d) == ST_IO && d.n == 1 && strstr(d.msg[0].text, "cannot rename"),
	      "unwritable: rename onto a directory fails");
	check(!exists(dirtmp), "unwritable: the .tmp is removed when the rename fails");
	diag_free(&d);
	check(nnb_open(dir, &b, &d) == ST_IO && b == NULL && d.n == 1 &&
	      strstr(d.msg[0].text, "is a directory"), "open: a directory");
	diag_free(&d);
	check(nnb_open("/nonexistent-nnac-dir/x.nnb", &b, &d) == ST_IO && d.n == 1 &&
	      strstr(d.msg[0].text, "/nonexistent-nnac-dir/x.nnb: cannot read"),
	      "open: a missing file");
	rmdir(dir);
	nnb_writer_free(w);
	diag_free(&d);
}

/* A write that runs out of room (the file-size limit) leaves no file. */
static void check_short_write(void)
{
	char path[128], tmp[140];
	struct rlimit old, small;
	NnbWriter *w;
	Status st;
	Diag d;

	diag_init(&d);
	snprintf(path, sizeof(path), "%s/full.nnb", tmpdir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	w = sample_writer(&d);
	if (!w || getrlimit(RLIMIT_FSIZE, &old) != 0)
		abort();
	small = old;
	small.rlim_cur = 500;
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &small) != 0)
		abort();
	st = nnb_write(w, path, &d);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	check(st == ST_IO && d.n == 1 && strstr(d.msg[0].text, "full.nnb: cannot write"),
	      "short write: a failed write is an I/O error naming the file");
	check(!exists(path) && !exists(tmp), "short write: neither the file nor the .tmp is left");
	if (st != ST_IO)
		print_diags(&d);
	nnb_writer_free(w);
	diag_free(&d);
}

/* ---- corruption ---- */

static void check_truncations(const uint8_t *b, size_t n)
{
	int bad = 0;
	Diag d;

	for (size_t len = 0; len < n; len++) {
		Nnb *nb = NULL;
		Status st;

		diag_init(&d);
		st = nnb_open_mem("t.nnb", b, len, &nb, &d);
		if (st != ST_INVALID || nb || d.n != 1 ||
		    !(strstr(d.msg[0].text, "t.nnb: truncated: ") ||
		      (len == 0 && strstr(d.msg[0].text, "t.nnb: empty file")))) {
			if (bad++ == 0) {
				printf("  length %zu:\n", len);
				print_diags(&d);
			}
		}
		nnb_close(nb);
		diag_free(&d);
	}
	check(bad == 0, "truncation: every shorter length is refused as truncated");
	expect_refused("truncation", b, 63, "truncated: file has 63 bytes, less than the 64-byte header");
}

/* With the CRC made right: a change of a payload byte is refused by the
 * payload's SHA-256 (a change of padding by the structure).  The table's
 * kinds and names are not in the digests: a change there is caught by
 * the CRC alone (docs/bundle.md). */
static bool refused_after_crc(uint8_t *c, size_t n, bool *by_digest)
{
	Nnb *nb = NULL;
	Diag d;
	bool refused;

	repair_crc(c, n);
	diag_init(&d);
	refused = nnb_open_mem("f.nnb", c, n, &nb, &d) == ST_INVALID && d.n == 1;
	*by_digest = refused && strstr(d.msg[0].text, ": SHA-256 does not match its contents (the bundle "
	                               "was modified after nnac wrote it)");
	nnb_close(nb);
	diag_free(&d);
	return refused;
}

static void check_flips(const uint8_t *b, size_t n)
{
	uint8_t *c = malloc(n);
	static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};
	int missed = 0, header_missed = 0, accepted = 0, crc_missed = 0, digest_caught = 0;
	uint64_t first = get32(b + entry(0) + 8);
	Diag d;

	if (!c)
		abort();
	for (size_t i = 0; i < n; i++)
		for (size_t m = 0; m < ARRAY_LEN(masks); m++) {
			Nnb *nb = NULL;

			memcpy(c, b, n);
			c[i] ^= masks[m];
			diag_init(&d);
			if (nnb_open_mem("f.nnb", c, n, &nb, &d) != ST_INVALID || d.n != 1)
				missed++;
			nnb_close(nb);
			diag_free(&d);
			/* The same change with the checksum made right again. */
			bool by_digest;
			if (!refused_after_crc(c, n, &by_digest) && i >= first && crc_missed++ < 5)
				printf("  byte %zu ^ 0x%02x accepted with the checksum repaired\n", i, masks[m]);
			digest_caught += by_digest && i >= first;
			/* And with the digests made right too. */
			repair(c, n);
			nb = NULL;
			diag_init(&d);
			if (nnb_open_mem("f.nnb", c, n, &nb, &d) == ST_OK) {
				NnbTensor *t = NULL;
				int nt;
				Diag d2;

				accepted++;
				if (i < NNB_HEADER_SIZE && (i < 24 || i > 35)) {
					printf("  header byte %zu ^ 0x%02x accepted\n", i, masks[m]);
					header_missed++;
				}
				diag_init(&d2);
				nnb_tensors_load(nb, NULL, &t, &nt, &d2);
				nnac_free(t);
				diag_free(&d2);
			} else if (d.n != 1) {
				missed++;
			}
			nnb_close(nb);
			diag_free(&d);
		}
	check(missed == 0, "byte flips: every single-byte change is refused with one diagnostic");
	check(crc_missed == 0 && digest_caught > 0 &&
	      digest_caught == (int)ARRAY_LEN(masks) * (int)(sizeof(sample_weights) + sizeof(sample_program) + 5 +
	                                                     strlen(sample_meta) + get32(b + entry(1) + 16)),
	      "byte flips: with the checksum repaired, every change after the section table is still "
	      "refused, each payload byte's by its section's SHA-256");
	check(header_missed == 0, "byte flips: with the checksum repaired, every header change is "
	      "still refused");
	check(accepted > 0 && accepted < (int)(ARRAY_LEN(masks) * n),
	      "byte flips: with the checksum and digests repaired, payload changes open and structure "
	      "changes do not");
	free(c);
}

static void check_errors(const uint8_t *b, size_t n)
{
	uint8_t *c = malloc(n + 1);
	uint64_t off1;

	if (!c)
		abort();
#define EDIT(stmt, want) \
	do { \
		memcpy(c, b, n); \
		stmt; \
		repair(c, n); \
		expect_refused(want, c, n, want); \
	} while (0)
	memcpy(c, b, n);
	c[n - 1] ^= 1;
	expect_refused("checksum", c, n, "checksum mismatch (stored 0x");
	memcpy(c, b, n);
	c[0] = 'X';
	expect_refused("magic", c, n, "not an nnac bundle (magic is \"XNACBNDL\", not \"NNACBNDL\")");
	memcpy(c, b, n);
	put32(c + 8, 7);
	expect_refused("version", c, n, "m.nnb: bundle version 7; this nnac reads version 2");
	EDIT(put32(c + 8, 3), "bundle version 3; this nnac reads version 2");
	EDIT(put32(c + 8, 1), "m.nnb: bundle version 1, written by an older nnac without SHA-256 "
	     "digests; this nnac reads version 2: compile the model again");
	memcpy(c, b, n);
	c[get32(b + entry(3) + 8) + 3] ^= 1;
	repair_crc(c, n);
	expect_refused("digest", c, n, "m.nnb: section program_tpu 'a': SHA-256 does not match its "
	               "contents (the bundle was modified after nnac wrote it)");
	memcpy(c, b, n);
	c[entry(0) + 64] ^= 0x80;
	repair_crc(c, n);
	expect_refused("digest", c, n, "m.nnb: section meta: SHA-256 does not match its contents");
	expect_refused("magic", (const uint8_t *)"\x89PNG\r\n\x1a\nxxxx", 12,
	               "magic is \"\\x89PNG\\x0d\\x0a\\x1a\\x0a\"");
	memcpy(c, b, n);
	c[n] = 0;
	expect_refused("trailing", c, n + 1, "(1 bytes of trailing data)");
	memcpy(c, b, n);
	put64(c + 24, n + 4096);
	expect_refused("size", c, n, "truncated: header says");
	EDIT(put32(c + 12, 128), "header size is 128 bytes; version 2 headers are 64");
	EDIT(put32(c + 16, 4), "unknown header flags 0x00000004");
	EDIT(put32(c + 36, 64), "section entries are 64 bytes; version 2 entries are 96");
	EDIT(c[50] = 1, "reserved header bytes 40..63 are not zero");
	EDIT(put32(c + 20, 70000), "70000 sections, more than the 65536");
	EDIT(put32(c + 20, 900), "the section table (900 entries) ends at byte 86464, past the end");
	EDIT(put32(c + entry(2), 99), "m.nnb: section 2: unknown section kind 99");
	EDIT(put32(c + entry(3), 0), "m.nnb: section 3 ('a'): unknown section kind 0");
	EDIT(put32(c + entry(2) + 4, 1), "section 2 ('weights'): unknown flags");
	off1 = (uint64_t)get32(b + entry(1) + 8);
	EDIT(put64(c + entry(1) + 8, off1 + 8), "section 1 ('tensors'): payload offset");
	EDIT(put64(c + entry(0) + 8, 64), "inside the header or section table");
	EDIT(put64(c + entry(5) + 16, 1 << 20), "section 5 ('host_loops' 'conv_3') ends past the end "
	     "of the file");
	EDIT(put64(c + entry(5) + 16, UINT64_MAX), "ends past the end of the file");
	EDIT(put64(c + entry(3) + 8, off1), "section 3 ('program_tpu' 'a') at offset");
	EDIT(put64(c + entry(3) + 8, off1), "overlaps section 2, which ends at");
	EDIT(c[entry(4) + 24] = 'a', "sections 3 and 4 are both 'program_tpu' named 'a'");
	EDIT(put32(c + entry(5), NNB_META), "sections 0 and 5 are both 'meta'");
	EDIT(c[entry(4) + 26] = 'x', "section 4: nonzero bytes after the name's NUL");
	EDIT(c[entry(4) + 24] = ' ', "section 4: byte 0x20 in the name");
	EDIT(memset(c + entry(4) + 24, 'x', 40), "section 4: the name field has no NUL");
	EDIT(c[entry(6) + strlen(sample_meta)] = 1, "nonzero padding between byte");
	EDIT(c[n - 1] = 1, "and section 5 ('host_loops' 'conv_3')");
	/* META: the first payload, at the end of the table. */
	EDIT(c[entry(6) + 8] = '\r', "section 0 ('meta'): line 1: the value holds a carriage return");
	EDIT(c[entry(6) + 6] = 'x', "line 1 has no '='");
	EDIT(c[entry(6) + 1] = ' ', "line 1: byte 0x20 is not allowed in a key");
	EDIT(c[entry(6) + 7] = 0xc3, "line 1: the value is not valid UTF-8");
	EDIT(memcpy(c + entry(6) + 11, "target=abcdefg", 14), "key 'target' appears on lines 1 and 2");
	EDIT(c[entry(6) + strlen(sample_meta) - 1] = 'x', "the last line does not end with a newline");
#undef EDIT
	free(c);
}

/* ---- the tensor table ---- */

static void expect_decode_error(const char *name, const uint8_t *p, uint64_t n, const char *want)
{
	NnbTensor *t = (NnbTensor *)1;
	int nt = -1;
	Diag d;

	diag_init(&d);
	check(nnb_tensors_decode("tab", p, n, &t, &nt, &d) == ST_INVALID && !t && nt == 0 &&
	      d.n == 1 && strstr(d.msg[0].text, want) && strncmp(d.msg[0].text, "tab: ", 5) == 0,
	      "%s: %s", name, want);
	if (d.n != 1 || !strstr(d.msg[0].text, want))
		print_diags(&d);
	diag_free(&d);
}

static void check_tensor_errors(void)
{
	NnbTensor t[3];
	uint8_t *tab = NULL, *c, *e = NULL;
	uint64_t n = 0, en;
	int bad = 0;
	Diag d;

	diag_init(&d);
	sample_tensors(t);
	if (nnb_tensors_encode(t, 3, &tab, &n, &d) != ST_OK || !(c = malloc(n + 8)))
		abort();
	/* Record 0: name "input" (5 bytes) at 12, fixed fields at 24, dims at 64. */
	for (uint64_t len = 0; len < n; len++) {
		NnbTensor *out;
		int nt;

		if (nnb_tensors_decode("tab", tab, len, &out, &nt, &d) != ST_INVALID || d.n != 1)
			bad++;
		nnac_free(out);
		diag_free(&d);
	}
	check(bad == 0, "tensor table: every truncation is refused");
#define TEDIT(stmt, want) \
	do { \
		memcpy(c, tab, n); \
		stmt; \
		expect_decode_error("tensor table", c, n, want); \
	} while (0)
	TEDIT(put32(c, 2), "tab: 72 bytes after the last tensor");
	TEDIT(put32(c, 1000), "tab: 1000 tensors cannot fit in");
	TEDIT(c[5] = 1, "tab: reserved bytes 4..7 are not zero");
	TEDIT(put32(c + 8, 0), "tab: tensor 0: name length 0 is not in 1..4096");
	TEDIT(c[14] = 0, "tab: tensor 0: name is not NUL-free UTF-8 (byte 2)");
	TEDIT(c[17] = 1, "tab: tensor 0: nonzero padding after the name");
	TEDIT(put32(c + 8, 6), "tab: tensor 0: name is not NUL-free UTF-8 (byte 5)");
	TEDIT(put32(c + 24, 8), "tensor 0 ('input'): unknown dtype code 8");
	TEDIT(put32(c + 28, 5), "tensor 0 ('input'): unknown role 5");
	TEDIT(put32(c + 36, 9), "tensor 0 ('input'): rank 9 is more than 8");
	TEDIT(put32(c + 40, 0xbf800000u), "tensor 0 ('input'): quantization scale -1 is not");
	TEDIT(put32(c + 40, 0x7fc00000u), "quantization scale nan is not");
	TEDIT(put32(c + 40, 0x80000000u), "quantization scale -0 is not");
	TEDIT(put32(c + 40, 0x7f800000u), "quantization scale inf is not");
	TEDIT(put32(c + 40, 0), "tensor 0 ('input'): zero point -3 without a scale");
	TEDIT(put64(c + 64 + 8, (uint64_t)-1), "tensor 0 ('input'): dimension 1 is -1");
	TEDIT(put64(c + 56, 17), "tensor 0 ('input'): size 17 is not the i8 dense size");
	TEDIT(put64(c + 48, UINT64_MAX), "tensor 0 ('input'): offset 18446744073709551615 + size 16 "
	      "overflows");
	TEDIT((put32(c + 96, 5), memcpy(c + 100, "input\0\0", 7)),
	      "tensors 0 and 1 are both named 'input'");
#undef TEDIT
	memcpy(c, tab, n);
	put32(c, 0);
	{
		NnbTensor *out = NULL;
		int nt = -1;

		check(nnb_tensors_decode("tab", c, 8, &out, &nt, &d) == ST_OK && out && nt == 0,
		      "tensor table: an empty table");
		nnac_free(out);
	}
	t[1].rank = 9;
	check(nnb_tensors_encode(t, 3, &e, &en, &d) == ST_INVALID && !e && d.n == 1,
	      "tensor table: encode refuses rank 9");
	diag_free(&d);
	t[1].rank = 4;
	t[1].size = 19;
	check(nnb_tensors_encode(t, 3, &e, &en, &d) == ST_INVALID && !e && d.n == 1 &&
	      strstr(d.msg[0].text, "tensor table: tensor 1 ('conv1.w'): size 19"),
	      "tensor table: encode refuses what decode would");
	diag_free(&d);
	nnac_free(tab);
	free(c);
}

/* A bundle of a TENSORS section named tname (the sample's, with the weight
 * at woff) and, when wname is not NULL, 150 bytes of WEIGHTS named wname;
 * then loads the table named tname.  Returns the load's status. */
static Status load_pair(const char *tname, const char *wname, uint64_t woff, Diag *d)
{
	NnbWriter *w = nnb_writer_new();
	NnbTensor t[3], *out = NULL;
	uint8_t *tab = NULL, *bytes = NULL;
	uint64_t tabn;
	size_t n;
	int nt;
	Nnb *b = NULL;
	Status st = ST_INVALID;

	sample_tensors(t);
	t[1].offset = woff;
	if (!w || nnb_tensors_encode(t, 3, &tab, &tabn, d) != ST_OK ||
	    nnb_add(w, NNB_TENSORS, tname, tab, tabn, d) != ST_OK ||
	    (wname && nnb_add(w, NNB_WEIGHTS, wname, sample_weights, 150, d) != ST_OK) ||
	    nnb_write_mem(w, &bytes, &n, d) != ST_OK || nnb_open_mem("p.nnb", bytes, n, &b, d) != ST_OK)
		abort();
	st = nnb_tensors_load(b, tname, &out, &nt, d);
	if (st != ST_OK && out)
		st = ST_INTERNAL;
	nnac_free(out);
	nnb_close(b);
	nnac_free(bytes);
	nnac_free(tab);
	nnb_writer_free(w);
	return st;
}

static void check_weights_bounds(void)
{
	Diag d;

	diag_init(&d);
	check(load_pair("tpu", "tpu", 132, &d) == ST_OK && d.n == 0, "weights: the last byte fits");
	check(load_pair("tpu", "tpu", 133, &d) == ST_INVALID && d.n == 1 &&
	      strstr(d.msg[0].text, "p.nnb: section 0 ('tensors' 'tpu'): tensor 1 ('conv1.w'): bytes "
	             "133..151 lie past the end of the 'weights' section (150 bytes)"),
	      "weights: one byte past the end");
	diag_free(&d);
	check(load_pair("tpu", "", 0, &d) == ST_INVALID && d.n == 1 &&
	      strstr(d.msg[0].text, "tensor 1 ('conv1.w') is a weight but there is no 'weights' "
	             "section of the same name"), "weights: weights of another name");
	diag_free(&d);
	check(load_pair("", NULL, 0, &d) == ST_INVALID && d.n == 1, "weights: no weights");
	diag_free(&d);
}

/* ---- the writer refuses what the reader would ---- */

static void expect_add_error(NnbWriter *w, NnbKind kind, const char *name, const char *data,
                             const char *want)
{
	Diag d;

	diag_init(&d);
	check(nnb_add(w, kind, name, data, data ? strlen(data) : 0, &d) == ST_INVALID && d.n == 1 &&
	      strstr(d.msg[0].text, want), "writer refuses: %s", want);
	if (d.n != 1 || !strstr(d.msg[0].text, want))
		print_diags(&d);
	diag_free(&d);
}

static void check_writer_refusals(void)
{
	NnbWriter *w = nnb_writer_new();
	Diag d;

	if (!w)
		abort();
	diag_init(&d);
	check(nnb_add(w, NNB_META, NULL, "a=1\n", 4, &d) == ST_OK &&
	      nnb_add(w, NNB_WEIGHTS, "x", "", 0, &d) == ST_OK, "writer: adds");
	expect_add_error(w, NNB_META, "other", "b=2\n", "a second 'meta' section");
	expect_add_error(w, NNB_WEIGHTS, "x", "", "a second 'weights' section named 'x'");
	expect_add_error(w, (NnbKind)99, NULL, "", "unknown section kind 99");
	expect_add_error(w, NNB_WEIGHTS, "0123456789012345678901234567890123456789", "",
	                 "is longer than 39 bytes");
	expect_add_error(w, NNB_WEIGHTS, "a b", "", "has byte 0x20");
	expect_add_error(w, NNB_WEIGHTS, "caf\xc3\xa9", "", "has byte 0xc3");
	check(nnb_add(w, NNB_WEIGHTS, "y", NULL, 3, &d) == ST_INVALID && d.n == 1 &&
	      strstr(d.msg[0].text, "has 3 bytes but no data"), "writer refuses: NULL data");
	diag_free(&d);
	nnb_writer_free(w);
	if (!(w = nnb_writer_new()))
		abort();
	expect_add_error(w, NNB_META, NULL, "a=1\na=2\n", "key 'a' appears on lines 1 and 2");
	expect_add_error(w, NNB_META, NULL, "a=1", "the last line does not end with a newline");
	expect_add_error(w, NNB_META, NULL, "=1\n", "line 1 has an empty key");
	diag_init(&d);
	check(nnb_add(w, NNB_TENSORS, NULL, "\1\0\0\0\0\0\0", 7, &d) == ST_INVALID && d.n == 1 &&
	      strstr(d.msg[0].text, "bundle section 'tensors': truncated: 7 bytes"),
	      "writer refuses: a short tensor table");
	diag_free(&d);
	nnb_writer_free(w);
}

/* ---- allocation failure ---- */

/* Writes, opens and loads the sample with allocation n failing. */
static Status sample_cycle(Diag *d)
{
	NnbWriter *w = sample_writer(d);
	uint8_t *bytes = NULL;
	size_t n;
	Nnb *b = NULL;
	NnbTensor *t = NULL;
	int nt;
	Status st = ST_NOMEM;

	if (!w || (st = nnb_write_mem(w, &bytes, &n, d)) != ST_OK ||
	    (st = nnb_open_mem("a.nnb", bytes, n, &b, d)) != ST_OK)
		goto out;
	st = nnb_tensors_load(b, NULL, &t, &nt, d);
out:
	nnac_free(t);
	nnb_close(b);
	nnac_free(bytes);
	nnb_writer_free(w);
	return st;
}

static void check_alloc_failure(void)
{
	bool clean = true;
	long n;

	for (n = 1; n < 1000; n++) {
		Diag d;
		Status st;

		diag_init(&d);
		test_alloc_fail_once(n);
		st = sample_cycle(&d);
		if (test_alloc_restore() < n && st == ST_OK) {
			diag_free(&d);
			break;
		}
		/* nnb_writer_new reports out of memory by returning NULL. */
		if (st != ST_NOMEM || d.n > 1 || (d.n == 1 && !strstr(d.msg[0].text, "out of memory"))) {
			if (clean)
				printf("  allocation %ld: status %s\n", n, status_name(st));
			print_diags(&d);
			clean = false;
		}
		diag_free(&d);
	}
	check(clean && n > 10 && n < 1000,
	      "allocation failure: every failed allocation reports out of memory");
}

/* ---- the fuzz corpus seeds ---- */

static bool write_seed(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char path[512];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")))
		return false;
	ok = fwrite(b, 1, n, f) == n;
	return fclose(f) == 0 && ok;
}

static int write_corpus(const char *dir)
{
	size_t n;
	uint8_t *b = sample_bytes(&n), *c;
	bool ok;

	if (!b || !(c = malloc(n)))
		return 1;
	ok = write_seed(dir, "valid.nnb", b, n) && write_seed(dir, "truncated.nnb", b, n / 2);
	memcpy(c, b, n);
	c[n / 2] ^= 0x10;
	ok &= write_seed(dir, "bad-checksum.nnb", c, n);
	memcpy(c, b, n);
	put32(c + 8, 3);
	repair(c, n);
	ok &= write_seed(dir, "version3.nnb", c, n);
	memcpy(c, b, n);
	c[get32(b + entry(2) + 8)] ^= 1;
	repair_crc(c, n);
	ok &= write_seed(dir, "bad-digest.nnb", c, n);
	memcpy(c, b, n);
	put64(c + entry(3) + 8, get32(b + entry(1) + 8));
	repair(c, n);
	ok &= write_seed(dir, "overlap.nnb", c, n);
	memcpy(c, b, n);
	put32(c + get32(b + entry(1) + 8) + 36, 9);
	repair(c, n);
	ok &= write_seed(dir, "bad-tensor-rank.nnb", c, n);
	ok &= write_seed(dir, "header-only.nnb", b, NNB_HEADER_SIZE);
	nnac_free(b);
	free(c);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	size_t n;
	uint8_t *b;

	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	if (!mkdtemp(tmpdir)) {
		perror(tmpdir);
		return 1;
	}
	check_crc();
	check_sha256_vectors();
	check_sha256_hashlib();
	check_names();
	check_round_trip();
	check_empty_bundle();
	check_files();
	check_unwritable();
	check_short_write();
	b = sample_bytes(&n);
	check(b != NULL, "sample: written");
	if (b) {
		check_truncations(b, n);
		check_flips(b, n);
		check_errors(b, n);
	}
	nnac_free(b);
	check_tensor_errors();
	check_weights_bounds();
	check_writer_refusals();
	check_alloc_failure();
	elf_tests(tmpdir);
	rmdir(tmpdir);
	return test_summary("bundle");
}
