/*
 * Loop-IR diagnostics with source context, and reading a .loop file.
 *
 * An error in parsed text reads as chibicc's do:
 *
 *     conv.loop:12:23: error: unknown buffer 'Q'
 *     		copy Xp[n, c] = Q[n, c]
 *     		                ^
 *
 * one diagnostic whose text spans three lines; the caret line copies the
 * tabs of the source line so that the caret lands under the column whatever
 * the tab width.  Programs built by passes have no text: their errors read
 * `FILE: MSG`.  The parser itself is ir/loop_parse.y.
 */
#include "loop.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The message in fresh memory from nnac_malloc, or NULL when out of memory. */
static char *vformat(const char *fmt, va_list ap)
{
	va_list aq;
	char *s;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || !(s = nnac_malloc((size_t)n + 1)))
		return NULL;
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

Status loop_error_at(LoopProgram *p, int line, int col, Status st, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	if (!msg)
		return diag_add(p->diag, ST_NOMEM, "%s: out of memory", p->path);
	if (p->text && line > 0)
		st = diag_at(p->diag, st, p->path, p->text, line, col, msg);
	else
		diag_add(p->diag, st, "%s: %s", p->path, msg);
	nnac_free(msg);
	return st;
}

Status loop_parse_file(LoopProgram *p, const char *path)
{
	char *text;
	size_t len;
	Status st = nnac_read_file(p->diag, path, &text, &len);

	if (st != ST_OK)
		return st;
	st = loop_parse(p, path, text, len);
	nnac_free(text);
	return st;
}
