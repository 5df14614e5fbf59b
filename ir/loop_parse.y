/*
 * The parser of the loop IR's textual form (bison, pure, with locations).
 *
 * It builds a LoopProgram through the builders of ir/loop.c while it reads,
 * resolving names on the way: a loop variable becomes LE_VAR of the
 * innermost enclosing `for` that binds it, a buffer name must be a program
 * buffer or one of the current kernel's.  Everything the text alone can get
 * wrong is reported here with file:line:col and a caret at the offending
 * token (unknown names, index counts, apply arity, off-grid loop ends, data
 * counts, ...); what needs analysis (bounds, types of statements) is the
 * verifier's (ir/loop_verify.c).  The parser stops at the first error.
 *
 * Comment lines are collected as they come and placed when the next item
 * shows where they belong: before a level, buffer, kernel or data block
 * they become its doc; inside a body, before a statement, a loop or the
 * closing brace, they become LN_NOTE nodes; after the last item, the
 * program's tail_doc.
 *
 * Each rule is headed by its production; docs/loopir.md has the grammar.
 * Everything allocated lives in the program's arena; the bison stack is
 * freed by bison and the flex buffers by loop_parse.
 */
%define api.pure full
%define api.prefix {loopyy}
%define api.token.prefix {TOK_}
%define parse.error custom
%locations
%expect 0
%parse-param {LoopParse *x}
%lex-param {LoopParse *x}

%code requires {
#include "loop.h"

/* A literal as written: the sign apart, so each place can check its range. */
typedef struct LoopParseLit {
	bool is_float;
	bool neg;
	uint64_t mag;        /* integers: the magnitude */
	double f;            /* floats: the value, sign included */
} LoopParseLit;

/* input/output/const after a buffer's level. */
typedef struct LoopParseFlags {
	unsigned flags;      /* LB_* */
	const char *tensor;
	int line, col;       /* the first flag, for errors */
} LoopParseFlags;

/* Where a buffer lives: @level with flags, or a view of another buffer. */
typedef struct LoopParsePlace {
	int level;           /* index, or -1 for a view */
	int view_of;         /* buffer index, or -1 */
	int64_t offset;
	int line, col;       /* the viewed buffer's name */
	LoopParseFlags fl;
} LoopParsePlace;

/* The indices of a reference or a load, as they are read. */
typedef struct LoopParseIdx {
	int n;
	int e[MAX_RANK];
} LoopParseIdx;

/* A comment line waiting to be placed. */
typedef struct LoopParseNote {
	const char *text;
	int line, col;
} LoopParseNote;

enum { LOOP_PARSE_MAX_DEPTH = 100 };

typedef struct LoopParse {
	LoopProgram *p;
	void *scanner;
	bool line_has_token; /* scanner: the current line returned a token */
	bool failed;         /* an error was reported */
	Status status;
	int phase;           /* top-level section reached (PH_*) */
	int kernel;          /* kernel being read, -1 outside kernels */
	bool kernel_has_nodes;
	int depth;           /* loops open in the kernel */
	int loops[LOOP_PARSE_MAX_DEPTH + 1];   /* loops[d]: the for node at depth d >= 1 */
	int tail[LOOP_PARSE_MAX_DEPTH + 1];    /* last node of the body at depth d, or -1 */
	LoopParseNote *pending;
	int npending, cap_pending;
	int64_t dims[MAX_RANK];
	int ndims;
	LoopArg ops[LOOP_MAX_ARGS];
	int nops;
	bool attr_set[3];    /* alpha, beta, gamma */
	double attr[3];
	size_t len;          /* bytes of text */
	int data_buf;        /* the const buffer whose data is being read */
	Value data;          /* its values, stored as they come; no data when the
	                        text is too short to hold them all */
	int64_t nvals;
} LoopParse;
}

%code provides {
void loop_parse_error(LoopParse *x, const LOOPYYLTYPE *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
char *loop_parse_strndup(LoopParse *x, const char *s, size_t n);
}

%code {
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* flex's header names its scanner yylex unless bison already did. */
#undef yylex
#include "loop_lex.h"
#undef yylex
#define yylex loopyylex

enum { PH_LEVEL, PH_BUF, PH_KERNEL, PH_DATA };

static int loopyylex(LOOPYYSTYPE *val, LOOPYYLTYPE *loc, LoopParse *x);
static void loopyyerror(LOOPYYLTYPE *loc, LoopParse *x, const char *msg);

#define FAIL(loc, ...) do { loop_parse_error(x, &(loc), __VA_ARGS__); YYABORT; } while (0)
#define CHECK(cond) do { if (!(cond)) YYABORT; } while (0)

static bool set_phase(LoopParse *x, int phase, const LOOPYYLTYPE *loc);
static bool take_note(LoopParse *x, const char *text, const LOOPYYLTYPE *loc);
static const char *take_doc(LoopParse *x);
static bool flush_notes(LoopParse *x);
static bool new_name(LoopParse *x, const char *name, const LOOPYYLTYPE *loc);
static bool add_level(LoopParse *x, const char *name, const LOOPYYLTYPE *nloc, uint64_t cap,
                      const LOOPYYLTYPE *cloc);
static bool find_level(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, int *level);
static bool find_buf(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, int *buf);
static bool dtype_of(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, DType *dt);
static bool push_dim(LoopParse *x, uint64_t d, const LOOPYYLTYPE *loc);
static bool add_flag(LoopParse *x, LoopParseFlags *fl, unsigned flag, const char *tensor,
                     const LOOPYYLTYPE *loc);
static bool add_buf(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, DType dt,
                    const LoopParsePlace *pl);
static bool int64_of(LoopParse *x, uint64_t u, bool neg, const LOOPYYLTYPE *loc, int64_t *v);
static bool push_index(LoopParse *x, LoopParseIdx *l, int e, const LOOPYYLTYPE *loc);
static bool make_ref(LoopParse *x, const char *name, const LOOPYYLTYPE *loc,
                     const LoopParseIdx *l, LoopArg *arg);
static int expr_load(LoopParse *x, const char *name, const LOOPYYLTYPE *loc,
                     const LoopParseIdx *l);
static int no_load(LoopParse *x, int e, const LOOPYYLTYPE *loc);
static bool lit_arg(LoopParse *x, LoopParseLit l, const LOOPYYLTYPE *loc, LoopArg *arg);
static bool push_op(LoopParse *x, LoopArg a, const LOOPYYLTYPE *loc);
static int made(LoopParse *x, int e);
static int shallow(LoopParse *x, int e, const LOOPYYLTYPE *loc);
static int expr_int(LoopParse *x, uint64_t u, const LOOPYYLTYPE *loc);
static int expr_var(LoopParse *x, const char *name, const LOOPYYLTYPE *loc);
static int expr_neg(LoopParse *x, int e);
static int expr_mul(LoopParse *x, int a, int b, const LOOPYYLTYPE *loc);
static int expr_div(LoopParse *x, LoopExprKind kind, int a, int b, const LOOPYYLTYPE *loc);
static bool open_kernel(LoopParse *x, const char *name, const LOOPYYLTYPE *loc,
                        const char *layer);
static bool close_body(LoopParse *x);
static bool open_for(LoopParse *x, const LOOPYYLTYPE *loc, const char *var,
                     const LOOPYYLTYPE *vloc, int64_t start, int64_t end,
                     const LOOPYYLTYPE *eloc, int64_t step, unsigned flags);
static int new_stmt(LoopParse *x, LoopNodeKind kind, const LOOPYYLTYPE *loc);
static bool push_args(LoopParse *x, int s, const LoopArg *args, int n);
static bool check_type(LoopParse *x, const LoopArg *a, const char *name,
                       const LOOPYYLTYPE *loc);
static bool set_attr(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, LoopParseLit v);
static bool make_apply(LoopParse *x, const LOOPYYLTYPE *loc, LoopArg dst, const char *op,
                       const LOOPYYLTYPE *oploc);
static bool reduce_of(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, LoopReduce *r);
static bool round_of(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, LoopRound *r);
static bool open_data(LoopParse *x, const char *name, const LOOPYYLTYPE *loc);
static bool add_value(LoopParse *x, LoopParseLit v, const LOOPYYLTYPE *loc);
static bool close_data(LoopParse *x, const LOOPYYLTYPE *loc);
static bool finish(LoopParse *x);
}

%union {
	const char *str;
	uint64_t u;
	double f;
	int64_t i;
	int e;
	unsigned flags;
	DType dt;
	LoopParseLit lit;
	LoopArg arg;
	LoopParseIdx idx;
	LoopParseFlags fl;
	LoopParsePlace place;
	LoopReduce red;
	LoopRound rnd;
}

%token <str> IDENT "name" STRING "string" COMMENT "comment"
%token <u> INT "integer"
%token <f> FLOAT "number"
%token NL "end of line"
%token LEX_ERROR "invalid token"
%token DOTDOT "'..'" PLUSEQ "'+='" LARROW "'<-'" RARROW "'->'"
/* Keywords carry their text: outside the place that gives them a meaning
 * they are names like any other (see `name`). */
%token <str> LEVEL "'level'" BUF "'buf'" KERNEL "'kernel'" DATA "'data'" IN "'in'"
%token <str> STEP "'step'" SPATIAL "'spatial'" UNROLL "'unroll'" VIEW "'view'" AT "'at'"
%token <str> INPUT "'input'" OUTPUT "'output'" CONST "'const'" PAD "'pad'" ROUND "'round'"
%token <str> FOR "'for'" NOTE "'#'" COPY "'copy'" FILL "'fill'" MAC "'mac'" APPLY "'apply'"
%token <str> REDUCE "'reduce'" QUANTIZE "'quantize'" DEQUANTIZE "'dequantize'"
%token <str> REQUANTIZE "'requantize'"

%type <i> sint for_step
%type <flags> for_flags
%type <dt> dtype
%type <fl> flags
%type <place> placement
%type <str> layer name
%type <e> expr
%type <arg> ref operand
%type <idx> indices
%type <lit> lit
%type <red> reduction
%type <rnd> rounding

%left '+' '-'
%left '*' '/' '%'
%precedence UMINUS

%%

/* program = item* */
program:
	  items                         { CHECK(finish(x)); }
	;

/* items = (comment | level | buf | kernel | data)* */
items:
	  %empty
	| items item
	;

item:
	  COMMENT NL                    { CHECK(take_note(x, $1, &@1)); }
	| level_decl
	| buf_decl
	| kernel
	| data_block
	;

/* level = "level" NAME [INT] NL */
level_decl:
	  LEVEL name NL                { CHECK(set_phase(x, PH_LEVEL, &@1));
	                                  CHECK(add_level(x, $2, &@2, 0, &@2)); }
	| LEVEL name INT NL            { CHECK(set_phase(x, PH_LEVEL, &@1));
	                                  CHECK(add_level(x, $2, &@2, $3, &@3)); }
	;

/* buf = "buf" NAME ":" DTYPE shape placement NL */
buf_decl:
	  BUF name ':' dtype shape placement NL
	                                { CHECK(add_buf(x, $2, &@2, $4, &$6)); }
	;

dtype:
	  IDENT                         { CHECK(dtype_of(x, $1, &@1, &$$)); }
	;

/* shape = "[" [INT ("," INT)*] "]" */
shape:
	  '[' ']'                       { x->ndims = 0; }
	| '[' dims ']'
	;

dims:
	  INT                           { x->ndims = 0; CHECK(push_dim(x, $1, &@1)); }
	| dims ',' INT                  { CHECK(push_dim(x, $3, &@3)); }
	;

/* placement = "@" LEVEL flags | "view" NAME ["at" INT] */
placement:
	  '@' name flags               { CHECK(find_level(x, $2, &@2, &$$.level));
	                                  $$.view_of = -1;
	                                  $$.offset = 0;
	                                  $$.fl = $3; }
	| VIEW name                     { CHECK(find_buf(x, $2, &@2, &$$.view_of));
	                                  $$.level = -1;
	                                  $$.offset = 0;
	                                  $$.line = @2.first_line;
	                                  $$.col = @2.first_column;
	                                  memset(&$$.fl, 0, sizeof($$.fl)); }
	| VIEW name AT INT              { CHECK(find_buf(x, $2, &@2, &$$.view_of));
	                                  CHECK(int64_of(x, $4, false, &@4, &$$.offset));
	                                  $$.level = -1;
	                                  $$.line = @2.first_line;
	                                  $$.col = @2.first_column;
	                                  memset(&$$.fl, 0, sizeof($$.fl)); }
	;

/* flags = ("input" STRING | "output" STRING | "const")* */
flags:
	  %empty                        { memset(&$$, 0, sizeof($$)); }
	| flags INPUT STRING            { $$ = $1; CHECK(add_flag(x, &$$, LB_INPUT, $3, &@2)); }
	| flags OUTPUT STRING           { $$ = $1; CHECK(add_flag(x, &$$, LB_OUTPUT, $3, &@2)); }
	| flags CONST                   { $$ = $1; CHECK(add_flag(x, &$$, LB_CONST, NULL, &@2)); }
	;

/* kernel = "kernel" NAME [STRING] "{" NL body "}" NL */
kernel:
	  kernel_head body '}' NL       { CHECK(close_body(x)); x->kernel = -1; }
	;

kernel_head:
	  KERNEL name layer '{' NL      { CHECK(set_phase(x, PH_KERNEL, &@1));
	                                  CHECK(open_kernel(x, $2, &@2, $3)); }
	;

layer:
	  %empty                        { $$ = NULL; }
	| STRING
	;

/* body = (comment | buf | stmt NL | for)* */
body:
	  %empty
	| body body_item
	;

body_item:
	  COMMENT NL                    { CHECK(take_note(x, $1, &@1)); }
	| buf_decl
	| stmt NL
	| for_loop
	;

/* for = "for" NAME "in" sint ".." sint ["step" INT] ["spatial"] ["unroll"] "{" NL body "}" NL */
for_loop:
	  for_head body '}' NL          { CHECK(close_body(x)); x->depth--; }
	;

for_head:
	  FOR name IN sint DOTDOT sint for_step for_flags '{' NL
	                                { CHECK(open_for(x, &@1, $2, &@2, $4, $6, &@6, $7, $8)); }
	;

sint:
	  INT                           { CHECK(int64_of(x, $1, false, &@1, &$$)); }
	| '-' INT                       { CHECK(int64_of(x, $2, true, &@2, &$$)); }
	;

for_step:
	  %empty                        { $$ = 1; }
	| STEP INT                      { CHECK(int64_of(x, $2, false, &@2, &$$));
	                                  if ($$ < 1)
	                                          FAIL(@2, "loop step must be at least 1"); }
	;

for_flags:
	  %empty                        { $$ = 0; }
	| SPATIAL                       { $$ = LF_SPATIAL; }
	| UNROLL                        { $$ = LF_UNROLL; }
	| SPATIAL UNROLL                { $$ = LF_SPATIAL | LF_UNROLL; }
	;

/* stmt = copy | fill | mac | apply | reduce | quantize | dequantize | requantize */
stmt:
	  copy
	| fill
	| mac
	| apply
	| reduce
	| quantize
	| dequantize
	| requantize
	;

/* copy = "copy" ref "=" ref ["pad" lit] */
copy:
	  COPY ref '=' ref              { LoopArg a[2] = { $2, $4 };
	                                  int s = new_stmt(x, LN_COPY, &@1);
	                                  CHECK(push_args(x, s, a, 2)); }
	| COPY ref '=' ref PAD lit      { LoopArg a[2] = { $2, $4 }, pad;
	                                  int s = new_stmt(x, LN_COPY, &@1);
	                                  CHECK(push_args(x, s, a, 2));
	                                  CHECK(lit_arg(x, $6, &@6, &pad));
	                                  x->p->nodes[s].has_pad = true;
	                                  x->p->nodes[s].pad = pad.lit; }
	;

/* fill = "fill" ref "=" lit */
fill:
	  FILL ref '=' lit              { LoopArg a[2] = { $2 };
	                                  int s;
	                                  CHECK(lit_arg(x, $4, &@4, &a[1]));
	                                  s = new_stmt(x, LN_FILL, &@1);
	                                  CHECK(push_args(x, s, a, 2)); }
	;

/* mac = "mac" ref "+=" ref "*" ref ":" DTYPE "*" DTYPE "->" DTYPE */
mac:
	  MAC ref PLUSEQ ref '*' ref ':' IDENT '*' IDENT RARROW IDENT
	                                { LoopArg a[3] = { $2, $4, $6 };
	                                  int s;
	                                  CHECK(check_type(x, &$4, $8, &@8));
	                                  CHECK(check_type(x, &$6, $10, &@10));
	                                  CHECK(check_type(x, &$2, $12, &@12));
	                                  s = new_stmt(x, LN_MAC, &@1);
	                                  CHECK(push_args(x, s, a, 3)); }
	;

/* apply = "apply" ref "=" OP "(" operand ("," operand)* ")" (ATTR "=" lit)* */
apply:
	  APPLY ref '=' IDENT '(' operands ')' attrs
	                                { CHECK(make_apply(x, &@1, $2, $4, &@4)); }
	;

operands:
	  operand                       { x->nops = 0; CHECK(push_op(x, $1, &@1)); }
	| operands ',' operand          { CHECK(push_op(x, $3, &@3)); }
	;

attrs:
	  %empty                        { memset(x->attr_set, 0, sizeof(x->attr_set)); }
	| attrs IDENT '=' lit           { CHECK(set_attr(x, $2, &@2, $4)); }
	;

/* reduce = "reduce" ("sum" | "max" | "min") ref "<-" ref */
reduce:
	  REDUCE reduction ref LARROW ref
	                                { LoopArg a[2] = { $3, $5 };
	                                  int s = new_stmt(x, LN_REDUCE, &@1);
	                                  CHECK(push_args(x, s, a, 2));
	                                  x->p->nodes[s].red = $2; }
	;

reduction:
	  IDENT                         { CHECK(reduce_of(x, $1, &@1, &$$)); }
	;

/* quantize = "quantize" ref "=" ref "/" operand "+" operand "round" ("even" | "away") */
quantize:
	  QUANTIZE ref '=' ref '/' operand '+' operand ROUND rounding
	                                { LoopArg a[4] = { $2, $4, $6, $8 };
	                                  int s = new_stmt(x, LN_QUANTIZE, &@1);
	                                  CHECK(push_args(x, s, a, 4));
	                                  x->p->nodes[s].round = $10; }
	;

/* dequantize = "dequantize" ref "=" "(" ref "-" operand ")" "*" operand */
dequantize:
	  DEQUANTIZE ref '=' '(' ref '-' operand ')' '*' operand
	                                { LoopArg a[4] = { $2, $5, $10, $7 };
	                                  int s = new_stmt(x, LN_DEQUANTIZE, &@1);
	                                  CHECK(push_args(x, s, a, 4)); }
	;

/* requantize = "requantize" ref "=" ref "*" operand "+" operand "round" ("even" | "away") */
requantize:
	  REQUANTIZE ref '=' ref '*' operand '+' operand ROUND rounding
	                                { LoopArg a[4] = { $2, $4, $6, $8 };
	                                  int s = new_stmt(x, LN_REQUANTIZE, &@1);
	                                  CHECK(push_args(x, s, a, 4));
	                                  x->p->nodes[s].round = $10; }
	;

rounding:
	  IDENT                         { CHECK(round_of(x, $1, &@1, &$$)); }
	;

/* operand = ref | lit */
operand:
	  ref
	| lit                           { CHECK(lit_arg(x, $1, &@1, &$$)); }
	;

/* ref = NAME "[" [expr ("," expr)*] "]" */
ref:
	  name '[' ']'                  { LoopParseIdx none = { 0, { 0 } };
	                                  CHECK(make_ref(x, $1, &@1, &none, &$$)); }
	| name '[' indices ']'          { CHECK(make_ref(x, $1, &@1, &$3, &$$)); }
	;

indices:
	  expr                          { $$.n = 0; CHECK(push_index(x, &$$, $1, &@1)); }
	| indices ',' expr              { $$ = $1; CHECK(push_index(x, &$$, $3, &@3)); }
	;

/* expr = INT | NAME | NAME "[" [expr ("," expr)*] "]" | "(" expr ")" | "-" expr
 *      | expr ("+" | "-" | "*" | "/" | "%") expr
 * NAME "[" ... "]" is a loaded index: it stands alone, never in arithmetic. */
expr:
	  INT                           { CHECK(($$ = expr_int(x, $1, &@1)) >= 0); }
	| name                          { CHECK(($$ = expr_var(x, $1, &@1)) >= 0); }
	| name '[' ']'                  { LoopParseIdx none = { 0, { 0 } };
	                                  CHECK(($$ = expr_load(x, $1, &@1, &none)) >= 0); }
	| name '[' indices ']'          { CHECK(($$ = expr_load(x, $1, &@1, &$3)) >= 0); }
	| '(' expr ')'                  { $$ = $2; }
	| '-' expr %prec UMINUS         { CHECK(no_load(x, $2, &@1) >= 0);
	                                  CHECK(($$ = shallow(x, expr_neg(x, $2), &@$)) >= 0); }
	| expr '+' expr                 { CHECK(no_load(x, $1, &@2) >= 0 && no_load(x, $3, &@2) >= 0);
	                                  CHECK(($$ = shallow(x, made(x, loop_add(x->p, $1, $3)), &@2)) >= 0); }
	| expr '-' expr                 { CHECK(no_load(x, $1, &@2) >= 0 && no_load(x, $3, &@2) >= 0);
	                                  CHECK(($$ = shallow(x, made(x, loop_sub(x->p, $1, $3)), &@2)) >= 0); }
	| expr '*' expr                 { CHECK(no_load(x, $1, &@2) >= 0 && no_load(x, $3, &@2) >= 0);
	                                  CHECK(($$ = shallow(x, expr_mul(x, $1, $3, &@2), &@2)) >= 0); }
	| expr '/' expr                 { CHECK(no_load(x, $1, &@2) >= 0 && no_load(x, $3, &@2) >= 0);
	                                  CHECK(($$ = shallow(x, expr_div(x, LE_DIV, $1, $3, &@3), &@2)) >= 0); }
	| expr '%' expr                 { CHECK(no_load(x, $1, &@2) >= 0 && no_load(x, $3, &@2) >= 0);
	                                  CHECK(($$ = shallow(x, expr_div(x, LE_MOD, $1, $3, &@3), &@2)) >= 0); }
	;

/* name = NAME | a keyword other than inf and nan */
name:
	  IDENT
	| LEVEL | BUF | KERNEL | DATA | IN | STEP | SPATIAL | UNROLL | VIEW | AT | INPUT | OUTPUT
	| CONST | PAD | ROUND | FOR | COPY | FILL | MAC | APPLY | REDUCE | QUANTIZE | DEQUANTIZE
	| REQUANTIZE
	;

/* lit = ["-"] (INT | FLOAT | "inf" | "nan") */
lit:
	  INT                           { $$ = (LoopParseLit){ false, false, $1, 0 }; }
	| FLOAT                         { $$ = (LoopParseLit){ true, false, 0, $1 }; }
	| '-' INT                       { $$ = (LoopParseLit){ false, true, $2, 0 }; }
	| '-' FLOAT                     { $$ = (LoopParseLit){ true, true, 0, -$2 }; }
	;

/* data = "data" NAME "=" "{" [NL] [lit ("," [NL] lit)* [NL]] "}" NL */
data_block:
	  data_head values '}' NL       { CHECK(close_data(x, &@3)); }
	;

data_head:
	  DATA name '=' '{' opt_nl      { CHECK(set_phase(x, PH_DATA, &@1));
	                                  CHECK(open_data(x, $2, &@2)); }
	;

values:
	  %empty
	| value_list opt_nl
	;

value_list:
	  lit                           { CHECK(add_value(x, $1, &@1)); }
	| value_list ',' opt_nl lit     { CHECK(add_value(x, $4, &@4)); }
	;

opt_nl:
	  %empty
	| NL
	;

%%

/* ---- errors and the scanner bridge ---- */

void loop_parse_error(LoopParse *x, const LOOPYYLTYPE *loc, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	if (x->failed)
		return;
	x->failed = true;
	x->status = ST_INVALID;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(msg = nnac_malloc((size_t)n + 1))) {
		x->status = diag_add(x->p->diag, ST_NOMEM, "%s: out of memory", x->p->path);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	x->status = loop_error_at(x->p, loc->first_line, loc->first_column, ST_INVALID, "%s", msg);
	nnac_free(msg);
}

/* Out of memory in a builder: reported once, without a position. */
static bool oom(LoopParse *x)
{
	if (!x->failed) {
		x->failed = true;
		x->p->oom = true;
		x->status = loop_oom(x->p);
	}
	return false;
}

static bool built(LoopParse *x)
{
	return x->p->oom ? oom(x) : true;
}

/* e, or -1 after reporting that the builder ran out of memory. */
static int made(LoopParse *x, int e)
{
	if (e < 0)
		oom(x);
	return e;
}

/* e, or -1 after reporting an expression deeper than LOOP_MAX_EXPR_DEPTH. */
static int shallow(LoopParse *x, int e, const LOOPYYLTYPE *loc)
{
	if (e >= 0 && x->p->exprs[e].depth > LOOP_MAX_EXPR_DEPTH) {
		loop_parse_error(x, loc, "index expression nested deeper than %d operations", LOOP_MAX_EXPR_DEPTH);
		return -1;
	}
	return e;
}

char *loop_parse_strndup(LoopParse *x, const char *s, size_t n)
{
	char *d = arena_strndup(&x->p->arena, s, n);

	if (!d)
		oom(x);
	return d;
}

static int loopyylex(LOOPYYSTYPE *val, LOOPYYLTYPE *loc, LoopParse *x)
{
	return loopscanlex(val, loc, x->scanner);
}

/* Only "memory exhausted" comes here: syntax errors go to yyreport_syntax_error. */
static void loopyyerror(LOOPYYLTYPE *loc, LoopParse *x, const char *msg)
{
	loop_parse_error(x, loc, "%s (nesting too deep?)", msg);
}

/*
 * "unexpected X, expected A, B or C", the list left out when it is long.
 * Where a name may stand so may every keyword: they are all "name" then.
 */
static int yyreport_syntax_error(const yypcontext_t *ctx, LoopParse *x)
{
	enum { SHOWN = 6 };
	yysymbol_kind_t all[YYNTOKENS];
	const char *exp[YYNTOKENS];
	int n = yypcontext_expected_tokens(ctx, all, YYNTOKENS), k = 0;
	bool name = false;
	char msg[512];
	size_t len;

	if (x->failed)
		return 0;
	for (int i = 0; i < n; i++)
		name |= all[i] == YYSYMBOL_IDENT;
	for (int i = 0; i < n; i++)
		if (!name || all[i] < YYSYMBOL_LEVEL || all[i] > YYSYMBOL_REQUANTIZE)
			exp[k++] = yysymbol_name(all[i]);
	snprintf(msg, sizeof(msg), "unexpected %s", yysymbol_name(yypcontext_token(ctx)));
	for (int i = 0; i < k && k <= SHOWN; i++) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, "%s%s", i == 0 ? ", expected " :
		         i + 1 == k ? " or " : ", ", exp[i]);
	}
	loop_parse_error(x, yypcontext_location(ctx), "%s", msg);
	return 0;
}

/* ---- comments ---- */

static bool take_note(LoopParse *x, const char *text, const LOOPYYLTYPE *loc)
{
	LoopParseNote *n;

	if (!arena_grow(&x->p->arena, (void **)&x->pending, &x->cap_pending, x->npending,
	                sizeof(*x->pending)))
		return oom(x);
	n = &x->pending[x->npending++];
	n->text = text;
	n->line = loc->first_line;
	n->col = loc->first_column;
	return true;
}

/* The pending comment lines joined with '\n', or NULL when there are none. */
static const char *take_doc(LoopParse *x)
{
	size_t len = 0;
	char *doc;

	if (x->npending == 0)
		return NULL;
	for (int i = 0; i < x->npending; i++)
		len += strlen(x->pending[i].text) + 1;
	doc = arena_alloc(&x->p->arena, len);
	if (!doc) {
		oom(x);
		return NULL;
	}
	len = 0;
	for (int i = 0; i < x->npending; i++) {
		size_t n = strlen(x->pending[i].text);

		if (i)
			doc[len++] = '\n';
		memcpy(doc + len, x->pending[i].text, n);
		len += n;
	}
	x->npending = 0;
	return doc;
}

/* ---- names, levels and buffers ---- */

static const char *const phase_names[] = {
	"level declarations", "program buffers", "kernels", "data blocks",
};

static bool set_phase(LoopParse *x, int phase, const LOOPYYLTYPE *loc)
{
	nnac_assert(phase >= 0 && x->phase < (int)ARRAY_LEN(phase_names));
	if (phase < x->phase) {
		loop_parse_error(x, loc, "%s must come before %s", phase_names[phase],
		                 phase_names[x->phase]);
		return false;
	}
	x->phase = phase;
	return true;
}

static int find_kernel(const LoopProgram *p, const char *name)
{
	for (int i = 0; i < p->nkernels; i++)
		if (strcmp(p->kernels[i].name, name) == 0)
			return i;
	return -1;
}

/* Buffers and kernels share one namespace. */
static bool new_name(LoopParse *x, const char *name, const LOOPYYLTYPE *loc)
{
	const LoopProgram *p = x->p;
	int b = loop_find_buf(p, name), k = find_kernel(p, name);

	if (b >= 0)
		loop_parse_error(x, loc, "'%s' is already declared at %d:%d", name, p->bufs[b].line,
		                 p->bufs[b].col);
	else if (k >= 0)
		loop_parse_error(x, loc, "'%s' is already the name of the kernel at %d:%d", name,
		                 p->kernels[k].line, p->kernels[k].col);
	return b < 0 && k < 0;
}

static bool add_level(LoopParse *x, const char *name, const LOOPYYLTYPE *nloc, uint64_t cap,
                      const LOOPYYLTYPE *cloc)
{
	int64_t c;
	int l;

	if (loop_find_level(x->p, name) >= 0) {
		loop_parse_error(x, nloc, "level '%s' is already declared", name);
		return false;
	}
	if (!int64_of(x, cap, false, cloc, &c))
		return false;
	l = loop_add_level(x->p, name, c);
	if (l < 0)
		return oom(x);
	x->p->levels[l].doc = take_doc(x);
	return built(x);
}

static bool find_level(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, int *level)
{
	*level = loop_find_level(x->p, name);
	if (*level < 0)
		loop_parse_error(x, loc, "unknown level '%s'", name);
	return *level >= 0;
}

/* A program buffer, or a buffer of the kernel being read. */
static bool find_buf(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, int *buf)
{
	const LoopProgram *p = x->p;
	int b = loop_find_buf(p, name);

	if (b < 0) {
		if (find_kernel(p, name) >= 0)
			loop_parse_error(x, loc, "'%s' is a kernel, not a buffer", name);
		else
			loop_parse_error(x, loc, "unknown buffer '%s'", name);
		return false;
	}
	if (p->bufs[b].kernel >= 0 && p->bufs[b].kernel != x->kernel) {
		loop_parse_error(x, loc, "buffer '%s' belongs to kernel '%s'", name,
		                 p->kernels[p->bufs[b].kernel].name);
		return false;
	}
	*buf = b;
	return true;
}

static bool dtype_of(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, DType *dt)
{
	*dt = dtype_from_name(name);
	if (*dt == DT_UNDEF)
		loop_parse_error(x, loc, "unknown element type '%s' (f32, f16, bf16, f64, i8, u8, "
		                 "i16, u16, i32, u32, i64, u64 or bool)", name);
	return *dt != DT_UNDEF;
}

static bool int64_of(LoopParse *x, uint64_t u, bool neg, const LOOPYYLTYPE *loc, int64_t *v)
{
	if (u > (uint64_t)INT64_MAX + neg) {
		loop_parse_error(x, loc, "integer %s%llu is out of range", neg ? "-" : "",
		                 (unsigned long long)u);
		return false;
	}
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return true;
}

static bool push_dim(LoopParse *x, uint64_t d, const LOOPYYLTYPE *loc)
{
	if (x->ndims == MAX_RANK) {
		loop_parse_error(x, loc, "a buffer has at most %d dimensions", MAX_RANK);
		return false;
	}
	return int64_of(x, d, false, loc, &x->dims[x->ndims++]);
}

static bool add_flag(LoopParse *x, LoopParseFlags *fl, unsigned flag, const char *tensor,
                     const LOOPYYLTYPE *loc)
{
	if (fl->flags & flag) {
		loop_parse_error(x, loc, "flag given twice");
		return false;
	}
	if (tensor && fl->tensor && strcmp(tensor, fl->tensor) != 0) {
		loop_parse_error(x, loc, "a buffer that is both input and output holds one tensor: "
		                 "\"%s\" and \"%s\" differ", fl->tensor, tensor);
		return false;
	}
	if (!fl->flags) {
		fl->line = loc->first_line;
		fl->col = loc->first_column;
	}
	fl->flags |= flag;
	if (tensor)
		fl->tensor = tensor;
	return true;
}

/* numel * element size of the shape just read, or -1 when it overflows. */
static int64_t shape_bytes(const LoopParse *x, DType dt)
{
	int64_t n = dtype_size(dt);

	for (int i = 0; i < x->ndims; i++)
		if (__builtin_mul_overflow(n, x->dims[i], &n))
			return -1;
	return n;
}

static bool check_view(LoopParse *x, const LoopBuf *b, const LoopParsePlace *pl)
{
	const LoopBuf *base = &x->p->bufs[pl->view_of];
	LOOPYYLTYPE at = { pl->line, pl->col, pl->line, pl->col };
	int64_t n = loop_buf_numel(b), end;

	if (base->dt != b->dt) {
		loop_parse_error(x, &at, "a view has the type of its buffer: '%s' is %s, not %s",
		                 base->name, dtype_name(base->dt), dtype_name(b->dt));
		return false;
	}
	if (pl->offset < 0 || __builtin_add_overflow(n, pl->offset, &end) ||
	    end > loop_buf_numel(base)) {
		loop_parse_error(x, &at, "view of %lld elements at %lld does not fit '%s' (%lld "
		                 "elements)", (long long)n, (long long)pl->offset, base->name,
		                 (long long)loop_buf_numel(base));
		return false;
	}
	return true;
}

static bool add_buf(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, DType dt,
                    const LoopParsePlace *pl)
{
	LoopProgram *p = x->p;
	int level = pl->view_of >= 0 ? p->bufs[pl->view_of].level : pl->level;
	LoopBuf *b;
	int i;

	if (x->kernel < 0 && !set_phase(x, PH_BUF, loc))
		return false;
	if (x->kernel >= 0 && (x->depth > 0 || x->kernel_has_nodes)) {
		loop_parse_error(x, loc, "kernel buffers are declared before the kernel's first "
		                 "statement");
		return false;
	}
	if (x->kernel >= 0 && pl->fl.flags) {
		LOOPYYLTYPE at = { pl->fl.line, pl->fl.col, pl->fl.line, pl->fl.col };

		loop_parse_error(x, &at, "only program buffers can be input, output or const");
		return false;
	}
	if (!new_name(x, name, loc))
		return false;
	if (shape_bytes(x, dt) < 0) {
		loop_parse_error(x, loc, "buffer '%s' is too large", name);
		return false;
	}
	i = loop_add_buf(p, name, dt, x->ndims, x->dims, level, x->kernel);
	if (i < 0)
		return oom(x);
	b = &p->bufs[i];
	b->line = loc->first_line;
	b->col = loc->first_column;
	b->flags = pl->fl.flags;
	b->tensor = pl->fl.tensor;
	b->view_of = pl->view_of;
	b->view_offset = pl->offset;
	if (pl->view_of >= 0 && !check_view(x, b, pl))
		return false;
	b->doc = take_doc(x);
	return built(x);
}

/* ---- references and expressions ---- */

static bool push_index(LoopParse *x, LoopParseIdx *l, int e, const LOOPYYLTYPE *loc)
{
	if (l->n == MAX_RANK) {
		loop_parse_error(x, loc, "a reference has at most %d indices", MAX_RANK);
		return false;
	}
	l->e[l->n++] = e;
	return true;
}

/* The buffer name indexed by l, with one index per dimension. */
static bool indexed_buf(LoopParse *x, const char *name, const LOOPYYLTYPE *loc,
                        const LoopParseIdx *l, int *buf)
{
	const LoopBuf *b;

	if (!find_buf(x, name, loc, buf))
		return false;
	b = &x->p->bufs[*buf];
	if (b->rank != l->n) {
		loop_parse_error(x, loc, "'%s' has %d dimension%s but %d ind%s given", name, b->rank,
		                 b->rank == 1 ? "" : "s", l->n, l->n == 1 ? "ex is" : "ices are");
		return false;
	}
	return true;
}

static bool make_ref(LoopParse *x, const char *name, const LOOPYYLTYPE *loc,
                     const LoopParseIdx *l, LoopArg *arg)
{
	int i;

	if (!indexed_buf(x, name, loc, l, &i))
		return false;
	*arg = loop_ref(i, l->n, l->e);
	return true;
}

/* A loaded index: its own indices hold no load (the verifier checks the
 * buffer's type, the parser only the names and counts). */
static int expr_load(LoopParse *x, const char *name, const LOOPYYLTYPE *loc,
                     const LoopParseIdx *l)
{
	int buf;

	if (!indexed_buf(x, name, loc, l, &buf))
		return -1;
	for (int d = 0; d < l->n; d++)
		if (x->p->exprs[l->e[d]].kind == LE_LOAD) {
			loop_parse_error(x, loc, "the indices of a loaded index cannot be loaded themselves");
			return -1;
		}
	return shallow(x, made(x, loop_load(x->p, buf, l->n, l->e)), loc);
}

/* e, or -1 after reporting that a loaded index is computed with at loc. */
static int no_load(LoopParse *x, int e, const LOOPYYLTYPE *loc)
{
	if (x->p->exprs[e].kind != LE_LOAD)
		return e;
	loop_parse_error(x, loc, "a loaded index stands alone: it cannot be computed with");
	return -1;
}

static bool lit_arg(LoopParse *x, LoopParseLit l, const LOOPYYLTYPE *loc, LoopArg *arg)
{
	int64_t v;

	if (l.is_float) {
		*arg = loop_lit_float(l.f);
		return true;
	}
	if (!int64_of(x, l.mag, l.neg, loc, &v))
		return false;
	*arg = loop_lit_int(v);
	return true;
}

static bool push_op(LoopParse *x, LoopArg a, const LOOPYYLTYPE *loc)
{
	if (x->nops == LOOP_MAX_ARGS - 1) {
		loop_parse_error(x, loc, "apply takes at most %d operands", LOOP_MAX_ARGS - 1);
		return false;
	}
	x->ops[x->nops++] = a;
	return true;
}

static int expr_int(LoopParse *x, uint64_t u, const LOOPYYLTYPE *loc)
{
	int64_t v;

	if (!int64_of(x, u, false, loc, &v))
		return -1;
	return made(x, loop_const(x->p, v));
}

/* The innermost enclosing loop that binds name. */
static int expr_var(LoopParse *x, const char *name, const LOOPYYLTYPE *loc)
{
	for (int d = x->depth; d >= 1; d--)
		if (strcmp(x->p->nodes[x->loops[d]].var, name) == 0)
			return made(x, loop_var(x->p, x->loops[d]));
	loop_parse_error(x, loc, "unknown loop variable '%s'", name);
	return -1;
}

/* -c folds into the constant, so that -2*y reads as (-2)*y; -e is (-1)*e. */
static int expr_neg(LoopParse *x, int e)
{
	LoopExpr *c = &x->p->exprs[e];

	if (c->kind == LE_CONST && c->c != INT64_MIN) {
		c->c = -c->c;
		return e;
	}
	return made(x, loop_mul(x->p, -1, e));
}

static int64_t floor_div(int64_t a, int64_t c)
{
	int64_t q = a / c;

	return (a % c != 0 && (a < 0) != (c < 0)) ? q - 1 : q;
}

/*
 * The value of e when it uses no loop variable.  *ovf is set when an
 * operation overflows; division and modulo are by positive constants.
 */
static bool const_value(const LoopProgram *p, int e, int64_t *v, bool *ovf)
{
	const LoopExpr *x = &p->exprs[e];
	int64_t a, b;

	switch (x->kind) {
	case LE_CONST:
		*v = x->c;
		return true;
	case LE_VAR:
		return false;
	case LE_ADD:
	case LE_SUB:
		if (!const_value(p, x->a, &a, ovf) || !const_value(p, x->b, &b, ovf))
			return false;
		*ovf |= x->kind == LE_ADD ? __builtin_add_overflow(a, b, v)
		                          : __builtin_sub_overflow(a, b, v);
		return true;
	case LE_MUL:
		if (!const_value(p, x->a, &a, ovf))
			return false;
		*ovf |= __builtin_mul_overflow(x->c, a, v);
		return true;
	case LE_DIV:
	case LE_MOD:
		if (!const_value(p, x->a, &a, ovf))
			return false;
		*v = x->kind == LE_DIV ? floor_div(a, x->c) : a - x->c * floor_div(a, x->c);
		return true;
	case LE_LOAD:
		return false;
	}
	nnac_unreachable();
}

/* The constant operand of `*`, `/` or `%` at e; false if e uses a variable. */
static bool const_operand(LoopParse *x, int e, const LOOPYYLTYPE *loc, int64_t *v, bool *ok)
{
	bool ovf = false;

	*ok = true;
	if (!const_value(x->p, e, v, &ovf))
		return false;
	if (ovf) {
		loop_parse_error(x, loc, "constant expression overflows");
		*ok = false;
	}
	return true;
}

/* a * b: one side must be constant; it becomes the multiplier. */
static int expr_mul(LoopParse *x, int a, int b, const LOOPYYLTYPE *loc)
{
	int64_t c;
	bool ok;

	if (const_operand(x, a, loc, &c, &ok))
		return ok ? made(x, loop_mul(x->p, c, b)) : -1;
	if (const_operand(x, b, loc, &c, &ok))
		return ok ? made(x, loop_mul(x->p, c, a)) : -1;
	loop_parse_error(x, loc, "'*' needs a constant on one side: index expressions are affine");
	return -1;
}

static int expr_div(LoopParse *x, LoopExprKind kind, int a, int b, const LOOPYYLTYPE *loc)
{
	const char *op = kind == LE_DIV ? "/" : "%";
	int64_t c;
	bool ok;

	if (!const_operand(x, b, loc, &c, &ok)) {
		loop_parse_error(x, loc, "'%s' needs a constant on the right", op);
		return -1;
	}
	if (!ok)
		return -1;
	if (c <= 0) {
		loop_parse_error(x, loc, "'%s' needs a positive constant, not %lld", op, (long long)c);
		return -1;
	}
	return made(x, kind == LE_DIV ? loop_div(x->p, a, c) : loop_mod(x->p, a, c));
}

/* ---- kernels, loops and statements ---- */

static bool open_kernel(LoopParse *x, const char *name, const LOOPYYLTYPE *loc,
                        const char *layer)
{
	LoopKernel *k;
	int i;

	if (!new_name(x, name, loc))
		return false;
	i = loop_add_kernel(x->p, name, layer);
	if (i < 0)
		return oom(x);
	k = &x->p->kernels[i];
	k->line = loc->first_line;
	k->col = loc->first_column;
	k->doc = take_doc(x);
	x->kernel = i;
	x->kernel_has_nodes = false;
	x->depth = 0;
	x->tail[0] = -1;
	return built(x);
}

/* Adds node n at the end of the body being read. */
static void append(LoopParse *x, int n)
{
	LoopProgram *p = x->p;
	int d = x->depth;

	if (x->tail[d] >= 0)
		p->nodes[x->tail[d]].next = n;
	else if (d == 0)
		p->kernels[x->kernel].body = n;
	else
		p->nodes[x->loops[d]].body = n;
	x->tail[d] = n;
	x->kernel_has_nodes = true;
}

/* The pending comment lines become notes of the body being read. */
static bool flush_notes(LoopParse *x)
{
	for (int i = 0; i < x->npending; i++) {
		int n = loop_new_note(x->p, x->pending[i].text);

		if (n < 0)
			return oom(x);
		x->p->nodes[n].line = x->pending[i].line;
		x->p->nodes[n].col = x->pending[i].col;
		append(x, n);
	}
	x->npending = 0;
	return true;
}

static bool close_body(LoopParse *x)
{
	return flush_notes(x);
}

static bool check_loop(LoopParse *x, const char *var, const LOOPYYLTYPE *vloc, int64_t start,
                       int64_t end, const LOOPYYLTYPE *eloc, int64_t step)
{
	int64_t span, n, want;

	for (int d = 1; d <= x->depth; d++)
		if (strcmp(x->p->nodes[x->loops[d]].var, var) == 0) {
			loop_parse_error(x, vloc, "loop variable '%s' is already bound by an enclosing "
			                 "loop", var);
			return false;
		}
	if (x->depth == LOOP_PARSE_MAX_DEPTH) {
		loop_parse_error(x, vloc, "loops nested more than %d deep", LOOP_PARSE_MAX_DEPTH);
		return false;
	}
	if (end <= start) {
		loop_parse_error(x, eloc, "loop end %lld must be greater than its start %lld",
		                 (long long)end, (long long)start);
		return false;
	}
	if (__builtin_sub_overflow(end, start, &span)) {
		loop_parse_error(x, eloc, "loop from %lld to %lld spans more than 2^63 - 1",
		                 (long long)start, (long long)end);
		return false;
	}
	if (span % step != 0) {
		n = span / step + 1;
		if (__builtin_mul_overflow(n, step, &want) || __builtin_add_overflow(want, start, &want))
			want = start + --n * step;
		loop_parse_error(x, eloc, "loop end %lld is off the grid of start %lld step %lld: "
		                 "write %lld for %lld iterations", (long long)end, (long long)start,
		                 (long long)step, (long long)want, (long long)n);
		return false;
	}
	return true;
}

static bool open_for(LoopParse *x, const LOOPYYLTYPE *loc, const char *var,
                     const LOOPYYLTYPE *vloc, int64_t start, int64_t end,
                     const LOOPYYLTYPE *eloc, int64_t step, unsigned flags)
{
	int n;

	if (!check_loop(x, var, vloc, start, end, eloc, step) || !flush_notes(x))
		return false;
	n = loop_new_for(x->p, var, start, (end - start) / step, step);
	if (n < 0)
		return oom(x);
	x->p->nodes[n].flags = flags;
	x->p->nodes[n].line = loc->first_line;
	x->p->nodes[n].col = loc->first_column;
	append(x, n);
	x->depth++;
	x->loops[x->depth] = n;
	x->tail[x->depth] = -1;
	return true;
}

/* A statement of the given kind at the end of the body being read, or -1. */
static int new_stmt(LoopParse *x, LoopNodeKind kind, const LOOPYYLTYPE *loc)
{
	int s;

	if (!flush_notes(x))
		return -1;
	s = loop_new_stmt(x->p, kind);
	if (s < 0)
		return oom(x), -1;
	x->p->nodes[s].line = loc->first_line;
	x->p->nodes[s].col = loc->first_column;
	append(x, s);
	return s;
}

static bool push_args(LoopParse *x, int s, const LoopArg *args, int n)
{
	if (s < 0)
		return false;
	for (int i = 0; i < n; i++)
		loop_push_arg(x->p, s, args[i]);
	return built(x);
}

/* mac's annotation names the types of its operands; it must agree. */
static bool check_type(LoopParse *x, const LoopArg *a, const char *name,
                       const LOOPYYLTYPE *loc)
{
	const LoopBuf *b = &x->p->bufs[a->buf];
	DType dt;

	if (!dtype_of(x, name, loc, &dt))
		return false;
	if (dt != b->dt) {
		loop_parse_error(x, loc, "'%s' is %s, not %s", b->name, dtype_name(b->dt), name);
		return false;
	}
	return true;
}

static const char *const attr_names[] = { "alpha", "beta", "gamma" };

static bool set_attr(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, LoopParseLit v)
{
	LoopArg a;

	for (int i = 0; i < 3; i++) {
		if (strcmp(name, attr_names[i]) != 0)
			continue;
		if (x->attr_set[i]) {
			loop_parse_error(x, loc, "attribute '%s' given twice", name);
			return false;
		}
		if (!lit_arg(x, v, loc, &a))
			return false;
		x->attr_set[i] = true;
		x->attr[i] = a.lit.f;
		return true;
	}
	loop_parse_error(x, loc, "unknown attribute '%s' (alpha, beta or gamma)", name);
	return false;
}

static bool make_apply(LoopParse *x, const LOOPYYLTYPE *loc, LoopArg dst, const char *op,
                       const LOOPYYLTYPE *oploc)
{
	OpKind fn = op_lookup(op);
	double attr[3];
	LoopNode *n;
	int s, arity;

	if (fn == OP_UNKNOWN) {
		loop_parse_error(x, oploc, "unknown op '%s'", op);
		return false;
	}
	arity = loop_apply_arity(fn);
	if (arity == 0) {
		loop_parse_error(x, oploc, "%s cannot be applied elementwise", op);
		return false;
	}
	if (arity != x->nops) {
		loop_parse_error(x, oploc, "%s takes %d operand%s, not %d", op, arity,
		                 arity == 1 ? "" : "s", x->nops);
		return false;
	}
	s = new_stmt(x, LN_APPLY, loc);
	if (!push_args(x, s, &dst, 1) || !push_args(x, s, x->ops, x->nops))
		return false;
	n = &x->p->nodes[s];
	n->fn = fn;
	loop_apply_defaults(fn, &attr[0], &attr[1], &attr[2]);
	for (int i = 0; i < 3; i++)
		if (x->attr_set[i])
			attr[i] = x->attr[i];
	n->alpha = attr[0];
	n->beta = attr[1];
	n->gamma = attr[2];
	return true;
}

static bool reduce_of(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, LoopReduce *r)
{
	static const LoopReduce all[] = { LR_SUM, LR_MAX, LR_MIN, LR_PROD };

	for (size_t i = 0; i < ARRAY_LEN(all); i++)
		if (strcmp(name, loop_reduce_name(all[i])) == 0) {
			*r = all[i];
			return true;
		}
	loop_parse_error(x, loc, "unknown reduction '%s' (sum, max, min or prod)", name);
	return false;
}

static bool round_of(LoopParse *x, const char *name, const LOOPYYLTYPE *loc, LoopRound *r)
{
	static const LoopRound all[] = { LRND_EVEN, LRND_AWAY };

	for (size_t i = 0; i < ARRAY_LEN(all); i++)
		if (strcmp(name, loop_round_name(all[i])) == 0) {
			*r = all[i];
			return true;
		}
	loop_parse_error(x, loc, "unknown rounding '%s' (even or away)", name);
	return false;
}

/* ---- data blocks ---- */

/*
 * Values are stored into fresh memory as they are read.  A block holds at
 * most one value per byte of text, so a buffer with more elements than that
 * cannot be complete: its values are only counted, and no memory is taken
 * for a size the text does not back.
 */
static bool open_data(LoopParse *x, const char *name, const LOOPYYLTYPE *loc)
{
	LoopBuf *b;
	int64_t n;
	int i;

	if (!find_buf(x, name, loc, &i))
		return false;
	b = &x->p->bufs[i];
	if (!(b->flags & LB_CONST)) {
		loop_parse_error(x, loc, "'%s' is not const: only const buffers have data", name);
		return false;
	}
	if (b->data) {
		loop_parse_error(x, loc, "'%s' already has a data block", name);
		return false;
	}
	b->data_doc = take_doc(x);
	x->data_buf = i;
	x->nvals = 0;
	memset(&x->data, 0, sizeof(x->data));
	x->data.dt = b->dt;
	n = loop_buf_numel(b);
	if (n <= (int64_t)x->len) {
		x->data.data = arena_alloc(&x->p->arena, (size_t)(n ? n : 1) * (size_t)dtype_size(b->dt));
		if (!x->data.data)
			return oom(x);
	}
	return built(x);
}

/* Integer range of an integer element type. */
static void int_range(DType dt, int64_t *lo, uint64_t *hi)
{
	int bits = 8 * dtype_size(dt);

	if (dt == DT_BOOL) {
		*lo = 0;
		*hi = 1;
	} else if (dtype_is_signed(dt)) {
		*lo = bits == 64 ? INT64_MIN : -((int64_t)1 << (bits - 1));
		*hi = bits == 64 ? (uint64_t)INT64_MAX : ((uint64_t)1 << (bits - 1)) - 1;
	} else {
		*lo = 0;
		*hi = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
	}
}

static bool check_value(LoopParse *x, const LoopBuf *b, LoopParseLit v, const LOOPYYLTYPE *loc)
{
	int64_t lo;
	uint64_t hi;

	if (dtype_is_float(b->dt))
		return true;
	if (v.is_float) {
		loop_parse_error(x, loc, "'%s' is %s: its data are integers", b->name,
		                 dtype_name(b->dt));
		return false;
	}
	int_range(b->dt, &lo, &hi);
	if (v.neg ? v.mag > (uint64_t)0 - (uint64_t)lo : v.mag > hi) {
		loop_parse_error(x, loc, "%s%llu is out of range for %s", v.neg ? "-" : "",
		                 (unsigned long long)v.mag, dtype_name(b->dt));
		return false;
	}
	return true;
}

static void store_value(Value *v, int64_t i, LoopParseLit l)
{
	if (l.is_float)
		val_set_f64(v, i, l.f);
	else if (dtype_is_float(v->dt))
		val_set_f64(v, i, l.neg ? -(double)l.mag : (double)l.mag);
	else
		val_set_i64(v, i, l.neg ? (int64_t)(0 - l.mag) : (int64_t)l.mag);
}

static bool add_value(LoopParse *x, LoopParseLit v, const LOOPYYLTYPE *loc)
{
	const LoopBuf *b = &x->p->bufs[x->data_buf];
	int64_t n = loop_buf_numel(b);

	if (x->nvals >= n) {
		loop_parse_error(x, loc, "too many values: '%s' has %lld element%s", b->name,
		                 (long long)n, n == 1 ? "" : "s");
		return false;
	}
	if (!check_value(x, b, v, loc))
		return false;
	if (x->data.data)
		store_value(&x->data, x->nvals, v);
	x->nvals++;
	return true;
}

static bool close_data(LoopParse *x, const LOOPYYLTYPE *loc)
{
	LoopBuf *b = &x->p->bufs[x->data_buf];
	int64_t n = loop_buf_numel(b);

	if (x->nvals != n) {
		loop_parse_error(x, loc, "'%s' has %lld element%s but its data block has %lld "
		                 "value%s", b->name, (long long)n, n == 1 ? "" : "s",
		                 (long long)x->nvals, x->nvals == 1 ? "" : "s");
		return false;
	}
	nnac_assert(x->data.data);
	b->data = x->data.data;
	x->data_buf = -1;
	return true;
}

/* After the last item: every const buffer has its data; the rest of the
 * comments are the program's tail. */
static bool finish(LoopParse *x)
{
	LoopProgram *p = x->p;

	for (int i = 0; i < p->nbufs; i++)
		if ((p->bufs[i].flags & LB_CONST) && !p->bufs[i].data) {
			LOOPYYLTYPE at = { p->bufs[i].line, p->bufs[i].col, 0, 0 };

			loop_parse_error(x, &at, "const buffer '%s' has no data block", p->bufs[i].name);
			return false;
		}
	p->tail_doc = take_doc(x);
	return built(x);
}

/* ---- entry point ---- */

Status loop_parse(LoopProgram *p, const char *path, const char *text, size_t len)
{
	LoopParse x;
	char *scan;
	int rc;

	memset(&x, 0, sizeof(x));
	x.p = p;
	x.kernel = -1;
	x.data_buf = -1;
	x.len = len;
	p->path = arena_strdup(&p->arena, path);
	p->text = arena_strndup(&p->arena, text, len);
	scan = nnac_malloc(len + 2);
	if (!p->path || !p->text || !scan) {
		nnac_free(scan);
		p->path = p->path ? p->path : "<loops>";
		p->oom = true;
		return loop_oom(p);
	}
	memcpy(scan, text, len);
	scan[len] = scan[len + 1] = 0;
	if (loopscanlex_init_extra(&x, &x.scanner) != 0) {
		nnac_free(scan);
		p->oom = true;
		return loop_oom(p);
	}
	loopscan_scan_buffer(scan, len + 2, x.scanner);
	rc = loopyyparse(&x);
	loopscanlex_destroy(x.scanner);
	nnac_free(scan);
	if (rc == 0)
		return ST_OK;
	return x.failed ? x.status : diag_add(p->diag, ST_INTERNAL, "%s: parse failed", p->path);
}
