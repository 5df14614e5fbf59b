/*
 * The parser of accelerator descriptions (bison, pure, with locations).
 *
 * It fills an Arch while it reads, converting every quantity to the unit
 * the Arch stores (bytes, bits, Hz, bytes per cycle) and checking what the
 * text alone can get wrong: units, signs and ranges, names of types,
 * dataflows and ISAs, duplicates, required properties.  Each error is one
 * diagnostic with file:line:col and a caret at the offending token; the
 * parser stops at the first.
 *
 * Each rule is headed by its production; docs/arch.md has the grammar.
 * Names and levels live in the caller's arena; the bison stack is freed by
 * bison and the flex buffers by arch_parse.
 */
%define api.pure full
%define api.prefix {archyy}
%define api.token.prefix {TOK_}
%define parse.error custom
%locations
%expect 0
%parse-param {ArchParse *x}
%lex-param {ArchParse *x}

%code requires {
#include "arch_lang.h"

/* A number as written; the sign apart, so each place can check it. */
typedef struct ArchNum {
	bool is_int;
	bool neg;
	int64_t i;           /* integers: the magnitude */
	double v;            /* the magnitude */
} ArchNum;

/* Where a property was first given, for "duplicate" errors. */
typedef struct ArchSeen {
	int line, col;       /* line 0: not given yet */
} ArchSeen;

enum { ARCH_PROP_PE_ARRAY, ARCH_PROP_CLOCK, ARCH_PROP_VECTOR, ARCH_PROP_NOC,
       ARCH_PROP_DATAFLOWS, ARCH_PROP_ISA, ARCH_PROP_COUNT };
enum { ARCH_ATTR_SIZE, ARCH_ATTR_WORD, ARCH_ATTR_READ, ARCH_ATTR_WRITE, ARCH_ATTR_ENERGY,
       ARCH_ATTR_SCOPE, ARCH_ATTR_INSTANCES, ARCH_ATTR_HOLDS, ARCH_ATTR_COUNT };

typedef struct ArchParse {
	Arch *a;
	Arena *ar;
	Diag *d;
	const char *path;
	const char *text;    /* NUL-terminated copy, for the caret line */
	void *scanner;
	bool failed;
	Status status;
	int cap_levels;
	ArchSeen prop[ARCH_PROP_COUNT];
	ArchSeen attr[ARCH_ATTR_COUNT];    /* of the level being read */
	bool instances_set;
	const char *last_word;             /* the last name scanned, for errors */
} ArchParse;
}

%code provides {
void arch_parse_error(ArchParse *x, const ARCHYYLTYPE *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
char *arch_parse_strndup(ArchParse *x, const char *s, size_t n);
}

%code {
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* flex's header names its scanner yylex unless bison already did. */
#undef yylex
#include "arch_lex.h"
#undef yylex
#define yylex archyylex

static int archyylex(ARCHYYSTYPE *val, ARCHYYLTYPE *loc, ArchParse *x);
static void archyyerror(ARCHYYLTYPE *loc, ArchParse *x, const char *msg);

#define CHECK(cond) do { if (!(cond)) YYABORT; } while (0)

static bool once(ArchParse *x, ArchSeen *seen, const char *what, const ARCHYYLTYPE *loc);
static bool positive_int(ArchParse *x, ArchNum n, const char *what, const ARCHYYLTYPE *loc,
                         int64_t *out);
static bool nonneg(ArchParse *x, ArchNum n, const char *what, const ARCHYYLTYPE *loc);
static bool set_name(ArchParse *x, const char *name);
static bool pe_array(ArchParse *x, ArchNum r, const ARCHYYLTYPE *rloc, const char *by,
                     const ARCHYYLTYPE *byloc, ArchNum c, const ARCHYYLTYPE *cloc);
static bool clock_of(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *unit,
                     const ARCHYYLTYPE *uloc);
static bool bits_of(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *unit,
                    const ARCHYYLTYPE *uloc, const char *what, int64_t *bits);
static bool add_mac(ArchParse *x, const ARCHYYLTYPE *loc, const char *op,
                    const ARCHYYLTYPE *oploc, const char *acc, const ARCHYYLTYPE *accloc,
                    const ArchNum *energy, const ARCHYYLTYPE *eloc);
static bool open_level(ArchParse *x, const char *name, const ARCHYYLTYPE *loc);
static ArchLevel *level(ArchParse *x);
static bool level_size(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *unit,
                       const ARCHYYLTYPE *uloc);
static bool level_words(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *by,
                        const ARCHYYLTYPE *byloc, ArchNum w, const ARCHYYLTYPE *wloc,
                        const char *unit, const ARCHYYLTYPE *uloc);
static bool bandwidth(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *num,
                      const ARCHYYLTYPE *numloc, const char *den, const ARCHYYLTYPE *denloc,
                      double *bw);
static bool noc_bandwidth(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *num,
                          const ARCHYYLTYPE *numloc, const char *den,
                          const ARCHYYLTYPE *denloc);
static bool add_held(ArchParse *x, const char *name, const ARCHYYLTYPE *loc);
static bool add_dataflow(ArchParse *x, const char *name, const ARCHYYLTYPE *loc);
static bool isa_of(ArchParse *x, const char *name, const ARCHYYLTYPE *loc);
static bool finish(ArchParse *x, const ARCHYYLTYPE *loc);
}

%union {
	const char *str;
	ArchNum num;
}

%token END 0 "end of file"
%token <str> IDENT "name"
%token <num> INT "integer" FLOAT "number"
%token LEX_ERROR "invalid token"
%token ARROW "'->'"
%token <str> ARCH "'arch'" PE_ARRAY "'pe_array'" CLOCK "'clock'" VECTOR "'vector'"
%token <str> MAC "'mac'" LEVEL "'level'" NOC "'noc'" DATAFLOWS "'dataflows'" ISA "'isa'"
%token <str> SIZE "'size'" WORD "'word'" BANDWIDTH "'bandwidth'" READ "'read'"
%token <str> WRITE "'write'" ENERGY "'energy'" SHARED "'shared'" PER_PE "'per_pe'"
%token <str> INSTANCES "'instances'" UNBOUNDED "'unbounded'" MULTICAST "'multicast'"
%token <str> UNICAST "'unicast'" LINKS "'links'" HOLDS "'holds'"

%type <num> number

%%

/* file = "arch" NAME "{" property* "}" */
file:
	  ARCH IDENT '{'                { CHECK(set_name(x, $2)); }
	  properties '}'                { CHECK(finish(x, &@6)); }
	;

properties:
	  %empty
	| properties property
	;

property:
	/* "pe_array" INT "x" INT */
	  PE_ARRAY number IDENT number  { CHECK(once(x, &x->prop[ARCH_PROP_PE_ARRAY], "pe_array", &@1));
	                                  CHECK(pe_array(x, $2, &@2, $3, &@3, $4, &@4)); }
	/* "clock" NUMBER FREQ_UNIT */
	| CLOCK number IDENT            { CHECK(once(x, &x->prop[ARCH_PROP_CLOCK], "clock", &@1));
	                                  CHECK(clock_of(x, $2, &@2, $3, &@3)); }
	/* "vector" INT BIT_UNIT */
	| VECTOR number IDENT           { CHECK(once(x, &x->prop[ARCH_PROP_VECTOR], "vector", &@1));
	                                  CHECK(bits_of(x, $2, &@2, $3, &@3, "vector width",
	                                                &x->a->vector_bits)); }
	/* "mac" DTYPE "->" DTYPE ["energy" NUMBER] */
	| MAC IDENT ARROW IDENT         { CHECK(add_mac(x, &@1, $2, &@2, $4, &@4, NULL, NULL)); }
	| MAC IDENT ARROW IDENT ENERGY number
	                                { CHECK(add_mac(x, &@1, $2, &@2, $4, &@4, &$6, &@6)); }
	/* "level" NAME level_attr* */
	| LEVEL IDENT                   { CHECK(open_level(x, $2, &@2)); }
	  level_attrs
	/* "noc" noc_attr* */
	| NOC                           { CHECK(once(x, &x->prop[ARCH_PROP_NOC], "noc", &@1)); }
	  noc_attrs
	/* "dataflows" DATAFLOW+ */
	| DATAFLOWS                     { CHECK(once(x, &x->prop[ARCH_PROP_DATAFLOWS], "dataflows",
	                                             &@1)); }
	  dataflow_list
	/* "isa" ISA */
	| ISA IDENT                     { CHECK(once(x, &x->prop[ARCH_PROP_ISA], "isa", &@1));
	                                  CHECK(isa_of(x, $2, &@2)); }
	;

level_attrs:
	  %empty
	| level_attrs level_attr
	;

level_attr:
	/* "size" NUMBER SIZE_UNIT | "size" INT "x" INT BIT_UNIT | "size" "unbounded" */
	  SIZE number IDENT             { CHECK(once(x, &x->attr[ARCH_ATTR_SIZE], "size", &@1));
	                                  CHECK(level_size(x, $2, &@2, $3, &@3)); }
	| SIZE number IDENT number IDENT
	                                { CHECK(once(x, &x->attr[ARCH_ATTR_SIZE], "size", &@1));
	                                  CHECK(level_words(x, $2, &@2, $3, &@3, $4, &@4, $5,
	                                                    &@5)); }
	| SIZE UNBOUNDED                { CHECK(once(x, &x->attr[ARCH_ATTR_SIZE], "size", &@1));
	                                  level(x)->size = ARCH_UNBOUNDED; }
	/* "word" INT BIT_UNIT */
	| WORD number IDENT             { int64_t bits;
	                                  CHECK(once(x, &x->attr[ARCH_ATTR_WORD], "word", &@1));
	                                  CHECK(bits_of(x, $2, &@2, $3, &@3, "word width", &bits));
	                                  level(x)->word_bits = (int)bits; }
	/* ("bandwidth" | "read" | "write") NUMBER UNIT "/" UNIT */
	| BANDWIDTH number IDENT '/' IDENT
	                                { double bw;
	                                  CHECK(once(x, &x->attr[ARCH_ATTR_READ], "read bandwidth",
	                                             &@1));
	                                  CHECK(once(x, &x->attr[ARCH_ATTR_WRITE],
	                                             "write bandwidth", &@1));
	                                  CHECK(bandwidth(x, $2, &@2, $3, &@3, $5, &@5, &bw));
	                                  level(x)->read_bw = level(x)->write_bw = bw; }
	| READ number IDENT '/' IDENT   { CHECK(once(x, &x->attr[ARCH_ATTR_READ], "read bandwidth",
	                                             &@1));
	                                  CHECK(bandwidth(x, $2, &@2, $3, &@3, $5, &@5,
	                                                  &level(x)->read_bw)); }
	| WRITE number IDENT '/' IDENT  { CHECK(once(x, &x->attr[ARCH_ATTR_WRITE],
	                                             "write bandwidth", &@1));
	                                  CHECK(bandwidth(x, $2, &@2, $3, &@3, $5, &@5,
	                                                  &level(x)->write_bw)); }
	/* "energy" NUMBER */
	| ENERGY number                 { CHECK(once(x, &x->attr[ARCH_ATTR_ENERGY], "energy", &@1));
	                                  CHECK(nonneg(x, $2, "an energy", &@2));
	                                  level(x)->energy = $2.v; }
	/* "shared" | "per_pe" */
	| SHARED                        { CHECK(once(x, &x->attr[ARCH_ATTR_SCOPE], "scope", &@1));
	                                  level(x)->scope = ARCH_SHARED; }
	| PER_PE                        { CHECK(once(x, &x->attr[ARCH_ATTR_SCOPE], "scope", &@1));
	                                  level(x)->scope = ARCH_PER_PE; }
	/* "instances" INT */
	| INSTANCES number              { CHECK(once(x, &x->attr[ARCH_ATTR_INSTANCES], "instances",
	                                             &@1));
	                                  CHECK(positive_int(x, $2, "instances", &@2,
	                                                     &level(x)->instances)); }
	/* "holds" OPERAND+ */
	| HOLDS                         { CHECK(once(x, &x->attr[ARCH_ATTR_HOLDS], "holds", &@1));
	                                  level(x)->holds = 0; }
	  operand_list
	;

operand_list:
	  IDENT                         { CHECK(add_held(x, $1, &@1)); }
	| operand_list IDENT            { CHECK(add_held(x, $2, &@2)); }
	;

noc_attrs:
	  %empty
	| noc_attrs noc_attr
	;

/* noc_attr = "multicast" | "unicast" | "links" INT | "bandwidth" NUMBER "words" "/" "cycle" */
noc_attr:
	  MULTICAST                     { x->a->noc.multicast = true; }
	| UNICAST                       { x->a->noc.multicast = false; }
	| LINKS number                  { CHECK(positive_int(x, $2, "links", &@2, &x->a->noc.links)); }
	| BANDWIDTH number IDENT '/' IDENT
	                                { CHECK(noc_bandwidth(x, $2, &@2, $3, &@3, $5, &@5)); }
	;

dataflow_list:
	  IDENT                         { CHECK(add_dataflow(x, $1, &@1)); }
	| dataflow_list IDENT           { CHECK(add_dataflow(x, $2, &@2)); }
	;

/* NUMBER = ["-"] (INT | FLOAT) */
number:
	  INT                           { $$ = $1; }
	| FLOAT                         { $$ = $1; }
	| '-' INT                       { $$ = $2; $$.neg = true; }
	| '-' FLOAT                     { $$ = $2; $$.neg = true; }
	;

%%

void arch_parse_error(ArchParse *x, const ARCHYYLTYPE *loc, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	if (x->failed)
		return;
	x->failed = true;
	x->status = ST_INVALID;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	x->status = arch_error_at(x->d, x->path, x->text, loc->first_line, loc->first_column, "%s",
	                          msg);
}

static bool oom(ArchParse *x)
{
	if (!x->failed) {
		x->failed = true;
		x->status = diag_add(x->d, ST_NOMEM, "%s: out of memory", x->path);
	}
	return false;
}

char *arch_parse_strndup(ArchParse *x, const char *s, size_t n)
{
	char *d = arena_strndup(x->ar, s, n);

	if (!d)
		oom(x);
	x->last_word = d;
	return d;
}

static int archyylex(ARCHYYSTYPE *val, ARCHYYLTYPE *loc, ArchParse *x)
{
	return archscanlex(val, loc, x->scanner);
}

/* Only "memory exhausted" comes here: syntax errors go to yyreport_syntax_error. */
static void archyyerror(ARCHYYLTYPE *loc, ArchParse *x, const char *msg)
{
	arch_parse_error(x, loc, "%s", msg);
}

/* Whether sym is among the n expected symbols. */
static bool expects(const yysymbol_kind_t *all, int n, yysymbol_kind_t sym)
{
	for (int i = 0; i < n; i++)
		if (all[i] == sym)
			return true;
	return false;
}

/*
 * "unexpected X, expected A, B or C", the list left out when it is long.
 * A name where a property (or a level attribute) may start is an unknown key.
 */
static int yyreport_syntax_error(const yypcontext_t *ctx, ArchParse *x)
{
	enum { SHOWN = 6 };
	yysymbol_kind_t all[YYNTOKENS];
	yysymbol_kind_t tok = yypcontext_token(ctx);
	int n = yypcontext_expected_tokens(ctx, all, YYNTOKENS);
	const ARCHYYLTYPE *loc = yypcontext_location(ctx);
	char msg[512];
	size_t len;

	if (x->failed)
		return 0;
	if (tok == YYSYMBOL_IDENT && expects(all, n, YYSYMBOL_PE_ARRAY)) {
		arch_parse_error(x, loc, "unknown key '%s'", x->last_word);
		return 0;
	}
	snprintf(msg, sizeof(msg), "unexpected %s", yysymbol_name(tok));
	for (int i = 0; i < n && n <= SHOWN; i++) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, "%s%s", i == 0 ? ", expected " :
		         i + 1 == n ? " or " : ", ", yysymbol_name(all[i]));
	}
	arch_parse_error(x, loc, "%s", msg);
	return 0;
}

/* ---- checks ---- */

static bool once(ArchParse *x, ArchSeen *seen, const char *what, const ARCHYYLTYPE *loc)
{
	if (seen->line > 0) {
		arch_parse_error(x, loc, "duplicate %s (first given at %d:%d)", what, seen->line,
		                 seen->col);
		return false;
	}
	seen->line = loc->first_line;
	seen->col = loc->first_column;
	return true;
}

static bool nonneg(ArchParse *x, ArchNum n, const char *what, const ARCHYYLTYPE *loc)
{
	if (n.neg && n.v != 0) {
		arch_parse_error(x, loc, "%s must not be negative", what);
		return false;
	}
	return true;
}

static bool positive_int(ArchParse *x, ArchNum n, const char *what, const ARCHYYLTYPE *loc,
                         int64_t *out)
{
	if (!n.is_int || n.neg || n.i == 0) {
		arch_parse_error(x, loc, "%s must be a positive integer", what);
		return false;
	}
	*out = n.i;
	return true;
}

static bool set_name(ArchParse *x, const char *name)
{
	x->a->name = name;
	return true;
}

static bool pe_array(ArchParse *x, ArchNum r, const ARCHYYLTYPE *rloc, const char *by,
                     const ARCHYYLTYPE *byloc, ArchNum c, const ARCHYYLTYPE *cloc)
{
	if (strcmp(by, "x") != 0) {
		arch_parse_error(x, byloc, "expected 'x' between the rows and the columns, not '%s'",
		                 by);
		return false;
	}
	if (!positive_int(x, r, "the PE rows", rloc, &x->a->pe_rows) ||
	    !positive_int(x, c, "the PE columns", cloc, &x->a->pe_cols))
		return false;
	if (x->a->pe_rows > (1 << 20) || x->a->pe_cols > (1 << 20)) {
		arch_parse_error(x, rloc, "a PE array of more than 2^20 rows or columns");
		return false;
	}
	return true;
}

static bool clock_of(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *unit,
                     const ARCHYYLTYPE *uloc)
{
	static const struct {
		const char *name;
		double hz;
	} units[] = { { "Hz", 1 }, { "kHz", 1e3 }, { "MHz", 1e6 }, { "GHz", 1e9 } };

	if (n.neg || n.v == 0) {
		arch_parse_error(x, nloc, "the clock must be positive");
		return false;
	}
	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		if (strcmp(units[i].name, unit) == 0) {
			x->a->clock_hz = n.v * units[i].hz;
			return true;
		}
	}
	arch_parse_error(x, uloc, "bad unit '%s' for a clock (write Hz, kHz, MHz or GHz)", unit);
	return false;
}

/* A width in bits: INT b or INT B. */
static bool bits_of(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *unit,
                    const ARCHYYLTYPE *uloc, const char *what, int64_t *bits)
{
	int64_t v;

	if (!positive_int(x, n, what, nloc, &v))
		return false;
	if (strcmp(unit, "b") == 0) {
		*bits = v;
	} else if (strcmp(unit, "B") == 0) {
		*bits = 8 * v;
	} else {
		arch_parse_error(x, uloc, "bad unit '%s' for a %s (write b for bits or B for bytes)",
		                 unit, what);
		return false;
	}
	if (*bits > 1 << 16) {
		arch_parse_error(x, nloc, "a %s of more than 65536 bits", what);
		return false;
	}
	return true;
}

static bool add_mac(ArchParse *x, const ARCHYYLTYPE *loc, const char *op,
                    const ARCHYYLTYPE *oploc, const char *acc, const ARCHYYLTYPE *accloc,
                    const ArchNum *energy, const ARCHYYLTYPE *eloc)
{
	ArchMac *m;

	if (x->a->nmacs == ARCH_MAX_MACS) {
		arch_parse_error(x, loc, "more than %d mac types", ARCH_MAX_MACS);
		return false;
	}
	m = &x->a->mac[x->a->nmacs];
	if ((m->operand = dtype_from_name(op)) == DT_UNDEF) {
		arch_parse_error(x, oploc, "unknown type '%s'", op);
		return false;
	}
	if ((m->acc = dtype_from_name(acc)) == DT_UNDEF) {
		arch_parse_error(x, accloc, "unknown type '%s'", acc);
		return false;
	}
	if (energy) {
		if (!nonneg(x, *energy, "an energy", eloc))
			return false;
		m->energy = energy->v;
	}
	x->a->nmacs++;
	return true;
}

static ArchLevel *level(ArchParse *x)
{
	return &x->a->levels[x->a->nlevels - 1];
}

static bool open_level(ArchParse *x, const char *name, const ARCHYYLTYPE *loc)
{
	ArchLevel *l;
	int k = arch_level_find(x->a, name);

	if (k >= 0) {
		arch_parse_error(x, loc, "duplicate level '%s' (first declared at %d:%d)", name,
		                 x->a->levels[k].line, x->a->levels[k].col);
		return false;
	}
	if (!arena_grow(x->ar, (void **)&x->a->levels, &x->cap_levels, x->a->nlevels,
	                sizeof(*x->a->levels)))
		return oom(x);
	l = &x->a->levels[x->a->nlevels++];
	memset(l, 0, sizeof(*l));
	l->name = name;
	l->line = loc->first_line;
	l->col = loc->first_column;
	l->holds = ARCH_HOLDS_ALL;
	memset(x->attr, 0, sizeof(x->attr));
	return true;
}

static bool level_size(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *unit,
                       const ARCHYYLTYPE *uloc)
{
	static const struct {
		const char *name;
		double bytes;
	} units[] = { { "b", 0.125 }, { "B", 1 }, { "KiB", 1024.0 }, { "MiB", 1048576.0 },
	              { "GiB", 1073741824.0 } };
	double bytes = -1;

	if (n.neg && n.v != 0) {
		arch_parse_error(x, nloc, "a size must not be negative");
		return false;
	}
	for (size_t i = 0; i < ARRAY_LEN(units); i++)
		if (strcmp(units[i].name, unit) == 0)
			bytes = n.v * units[i].bytes;
	if (bytes < 0) {
		arch_parse_error(x, uloc, "bad unit '%s' for a size (write B, KiB, MiB, GiB or b)",
		                 unit);
		return false;
	}
	if (bytes != floor(bytes) || bytes > 9e18) {
		arch_parse_error(x, nloc, "a size must be a whole number of bytes below 2^63");
		return false;
	}
	level(x)->size = (int64_t)bytes;
	return true;
}

/* size N x W b: N words of W bits. */
static bool level_words(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *by,
                        const ARCHYYLTYPE *byloc, ArchNum w, const ARCHYYLTYPE *wloc,
                        const char *unit, const ARCHYYLTYPE *uloc)
{
	int64_t words, bits;

	if (strcmp(by, "x") != 0) {
		arch_parse_error(x, byloc, "expected 'x' between the word count and the word width, "
		                 "not '%s'", by);
		return false;
	}
	if (!positive_int(x, n, "a word count", nloc, &words) ||
	    !bits_of(x, w, wloc, unit, uloc, "word width", &bits))
		return false;
	if (words > ((int64_t)1 << 40) || words * bits % 8 != 0) {
		arch_parse_error(x, nloc, "a size must be a whole number of bytes below 2^37");
		return false;
	}
	level(x)->size = words * bits / 8;
	if (x->attr[ARCH_ATTR_WORD].line == 0)
		level(x)->word_bits = (int)bits;
	return true;
}

/* A bandwidth in bytes per cycle: B/cycle, b/cycle, or B/s, KB/s, MB/s,
 * GB/s (decimal prefixes, as memory data sheets write them) over the clock,
 * which must come first. */
static bool bandwidth(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *num,
                      const ARCHYYLTYPE *numloc, const char *den, const ARCHYYLTYPE *denloc,
                      double *bw)
{
	static const struct {
		const char *name;
		double bytes;
	} units[] = { { "b", 0.125 }, { "B", 1 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 } };
	double bytes = -1;

	if (!nonneg(x, n, "a bandwidth", nloc))
		return false;
	for (size_t i = 0; i < ARRAY_LEN(units); i++)
		if (strcmp(units[i].name, num) == 0)
			bytes = units[i].bytes;
	if (bytes < 0) {
		arch_parse_error(x, numloc, "bad unit '%s' for a bandwidth (write B, b, KB, MB or GB "
		                 "per cycle or per s)", num);
		return false;
	}
	if (strcmp(den, "cycle") == 0 && bytes <= 1) {
		*bw = n.v * bytes;
		return true;
	}
	if (strcmp(den, "cycle") == 0) {
		arch_parse_error(x, numloc, "bad unit '%s/cycle' (write B/cycle, or %s/s)", num, num);
		return false;
	}
	if (strcmp(den, "s") != 0) {
		arch_parse_error(x, denloc, "bad unit '/%s' for a bandwidth (write /cycle or /s)",
		                 den);
		return false;
	}
	if (x->a->clock_hz == 0) {
		arch_parse_error(x, denloc, "a bandwidth per second needs the clock, given before it");
		return false;
	}
	*bw = n.v * bytes / x->a->clock_hz;
	return true;
}

static bool noc_bandwidth(ArchParse *x, ArchNum n, const ARCHYYLTYPE *nloc, const char *num,
                          const ARCHYYLTYPE *numloc, const char *den,
                          const ARCHYYLTYPE *denloc)
{
	if (!nonneg(x, n, "a bandwidth", nloc))
		return false;
	if (strcmp(num, "words") != 0) {
		arch_parse_error(x, numloc, "bad unit '%s' for a NoC bandwidth (write words/cycle)",
		                 num);
		return false;
	}
	if (strcmp(den, "cycle") != 0) {
		arch_parse_error(x, denloc, "bad unit 'words/%s' for a NoC bandwidth (write "
		                 "words/cycle)", den);
		return false;
	}
	x->a->noc.words_per_cycle = n.v;
	return true;
}

/* One operand of a `holds` list. */
static bool add_held(ArchParse *x, const char *name, const ARCHYYLTYPE *loc)
{
	int op = arch_operand_from_name(name);

	if (op < 0) {
		arch_parse_error(x, loc, "unknown operand '%s' (weights, inputs or outputs)", name);
		return false;
	}
	if (level(x)->holds & (1u << op)) {
		arch_parse_error(x, loc, "operand '%s' listed twice", name);
		return false;
	}
	level(x)->holds |= 1u << op;
	return true;
}

static bool add_dataflow(ArchParse *x, const char *name, const ARCHYYLTYPE *loc)
{
	int df = arch_dataflow_from_name(name);

	if (df < 0) {
		arch_parse_error(x, loc, "unknown dataflow '%s' (write ws, os, rs or nlr)", name);
		return false;
	}
	if (x->a->dataflows & (1u << df)) {
		arch_parse_error(x, loc, "dataflow '%s' listed twice", name);
		return false;
	}
	x->a->dataflows |= 1u << df;
	return true;
}

static bool isa_of(ArchParse *x, const char *name, const ARCHYYLTYPE *loc)
{
	int isa = arch_isa_from_name(name);

	if (isa < 0) {
		arch_parse_error(x, loc, "unknown isa '%s' (write tpu, eyeriss, cpu or none)", name);
		return false;
	}
	x->a->isa = (ArchIsa)isa;
	return true;
}

/* At the closing brace: what every description needs, and the defaults
 * that depend on the whole (instances of per-PE levels). */
static bool finish(ArchParse *x, const ARCHYYLTYPE *loc)
{
	static const struct {
		int prop;
		const char *what;
	} required[] = { { ARCH_PROP_PE_ARRAY, "pe_array" }, { ARCH_PROP_CLOCK, "clock" } };
	Arch *a = x->a;

	for (size_t i = 0; i < ARRAY_LEN(required); i++) {
		if (x->prop[required[i].prop].line == 0) {
			arch_parse_error(x, loc, "missing %s in arch '%s'", required[i].what, a->name);
			return false;
		}
	}
	if (a->nmacs == 0) {
		arch_parse_error(x, loc, "missing mac in arch '%s'", a->name);
		return false;
	}
	if (a->nlevels == 0) {
		arch_parse_error(x, loc, "missing level in arch '%s'", a->name);
		return false;
	}
	for (int i = 0; i < a->nlevels; i++) {
		ArchLevel *l = &a->levels[i];

		if (l->size == ARCH_UNBOUNDED && i > 0) {
			ARCHYYLTYPE at = { l->line, l->col, l->line, l->col };

			arch_parse_error(x, &at, "only the first (outermost) level may be unbounded");
			return false;
		}
		if (l->instances == 0)
			l->instances = l->scope == ARCH_PER_PE ? arch_pes(a) : 1;
	}
	return true;
}

Status arch_parse(Arch *a, Arena *ar, Diag *d, const char *path, const char *text, size_t len)
{
	ArchParse x;
	char *scan;
	int rc;

	memset(a, 0, sizeof(*a));
	memset(&x, 0, sizeof(x));
	x.a = a;
	x.ar = ar;
	x.d = d;
	x.path = path;
	a->path = arena_strdup(ar, path);
	x.text = arena_strndup(ar, text, len);
	scan = nnac_malloc(len + 2);
	if (!a->path || !x.text || !scan) {
		nnac_free(scan);
		return diag_add(d, ST_NOMEM, "%s: out of memory", path);
	}
	memcpy(scan, text, len);
	scan[len] = scan[len + 1] = 0;
	if (archscanlex_init_extra(&x, &x.scanner) != 0) {
		nnac_free(scan);
		return diag_add(d, ST_NOMEM, "%s: out of memory", path);
	}
	archscan_scan_buffer(scan, len + 2, x.scanner);
	rc = archyyparse(&x);
	archscanlex_destroy(x.scanner);
	nnac_free(scan);
	if (rc == 0)
		return ST_OK;
	return x.failed ? x.status : diag_add(d, ST_INTERNAL, "%s: parse failed", path);
}
