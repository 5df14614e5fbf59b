/*
 * Diagnostics: the user-error channel.
 *
 * Library code never prints and never exits; it appends messages to a Diag
 * list owned by the caller and returns a Status.  The driver prints them; the
 * tests and the conformance driver inspect them.  A message has the form
 *
 *     FILE: node 'NAME' (OP): TEXT
 *
 * with the node part left out when no node is concerned.  Bugs in nnac itself
 * are not diagnostics: they abort through nnac_unreachable().
 */
#ifndef NNAC_DIAG_H
#define NNAC_DIAG_H

#include <stdio.h>

typedef enum Status {
#define STATUS(id, code, syn) ST_##id,
#include "status.def"
#undef STATUS
	ST_COUNT
} Status;

typedef struct DiagMsg {
	Status status;
	char *text;          /* whole message, malloc'd */
} DiagMsg;

typedef struct Diag {
	DiagMsg *msg;
	int n, cap;
	int limit;           /* stop recording after this many (0: 100) */
} Diag;

void diag_init(Diag *d);
void diag_free(Diag *d);
/* Record a message; returns st so callers can write `return diag_add(...)`. */
Status diag_add(Diag *d, Status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void diag_print(const Diag *d, FILE *f);
/* Highest-severity status recorded, ST_OK if none. */
Status diag_worst(const Diag *d);
int status_exit_code(Status st);
const char *status_name(Status st);

/* Records `PATH:LINE:COL: error: MSG` with line `line` of text under it and
 * a caret under column col (tabs kept so that it lines up); returns st.
 * The text parsers (loop IR, arch descriptions) report through it. */
Status diag_at(Diag *d, Status st, const char *path, const char *text, int line, int col,
               const char *msg);

/* The whole of file path in memory from nnac_malloc (the caller frees it
 * with nnac_free); "PATH: cannot read: REASON" or out of memory otherwise. */
Status nnac_read_file(Diag *d, const char *path, char **text, size_t *len);

_Noreturn void nnac_abort(const char *file, int line, const char *msg);
#define nnac_unreachable() nnac_abort(__FILE__, __LINE__, "unreachable")
#define nnac_assert(c) ((c) ? (void)0 : nnac_abort(__FILE__, __LINE__, #c))

#endif
