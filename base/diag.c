/*
 * Diagnostics list.  Messages are formatted once, when recorded.
 *
 * The list and its messages come from malloc, not from the swappable
 * allocator of ir/arena.h: it is the channel that reports "out of memory",
 * and an allocation-failure test that fails every allocation after the Nth
 * must still find that message in it.
 */
#include "diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

static const int exit_codes[] = {
#define STATUS(id, code, syn) code,
#include "status.def"
#undef STATUS
};
static const char *const names[] = {
#define STATUS(id, code, syn) #id,
#include "status.def"
#undef STATUS
};
_Static_assert(sizeof(exit_codes) / sizeof(exit_codes[0]) == ST_COUNT, "status table");

void diag_init(Diag *d)
{
	memset(d, 0, sizeof(*d));
}

void diag_free(Diag *d)
{
	for (int i = 0; i < d->n; i++)
		free(d->msg[i].text);
	free(d->msg);
	diag_init(d);
}

Status diag_add(Diag *d, Status st, const char *fmt, ...)
{
	va_list ap;
	int limit = d->limit ? d->limit : 100;
	int n;
	char *text;

	if (d->n >= limit)
		return st;
	if (d->n == d->cap) {
		int cap = d->cap ? 2 * d->cap : 8;
		DiagMsg *m = realloc(d->msg, (size_t)cap * sizeof(*m));
		if (!m)
			return st;
		d->msg = m;
		d->cap = cap;
	}
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(text = malloc((size_t)n + 1)))
		return st;
	va_start(ap, fmt);
	vsnprintf(text, (size_t)n + 1, fmt, ap);
	va_end(ap);
	d->msg[d->n].status = st;
	d->msg[d->n].text = text;
	d->n++;
	return st;
}

void diag_print(const Diag *d, FILE *f)
{
	for (int i = 0; i < d->n; i++)
		fprintf(f, "%s\n", d->msg[i].text);
}

Status diag_worst(const Diag *d)
{
	Status w = ST_OK;

	for (int i = 0; i < d->n; i++)
		if (exit_codes[d->msg[i].status] > exit_codes[w] || w == ST_OK)
			w = d->msg[i].status;
	return w;
}

int status_exit_code(Status st)
{
	return exit_codes[st];
}

const char *status_name(Status st)
{
	return names[st];
}

_Noreturn void nnac_abort(const char *file, int line, const char *msg)
{
	fprintf(stderr, "nnac: internal error at %s:%d: %s\n", file, line, msg);
	fflush(stderr);
	abort();
}

/* Line `line` (1-based) of text and its length, less a trailing '\r';
 * past the end, an empty line. */
static const char *source_line(const char *text, int line, int *len)
{
	const char *s = text;

	for (int l = 1; l < line && *s; s++)
		if (*s == '\n')
			l++;
	*len = (int)strcspn(s, "\n");
	if (*len > 0 && s[*len - 1] == '\r')
		(*len)--;
	return s;
}

Status diag_at(Diag *d, Status st, const char *path, const char *text, int line, int col,
               const char *msg)
{
	const char *src;
	char *caret;
	int len, pad;

	src = source_line(text, line, &len);
	pad = col - 1 < len ? col - 1 : len;
	pad = pad > 0 ? pad : 0;
	if (!(caret = nnac_malloc((size_t)pad + 1)))
		return diag_add(d, ST_NOMEM, "%s: out of memory", path);
	for (int i = 0; i < pad; i++)
		caret[i] = src[i] == '\t' ? '\t' : ' ';
	caret[pad] = 0;
	diag_add(d, st, "%s:%d:%d: error: %s\n%.*s\n%s^", path, line, col, msg, len, src, caret);
	nnac_free(caret);
	return st;
}

Status nnac_read_file(Diag *d, const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *grown;
	size_t n = 0, cap = 0, got;
	Status st = ST_OK;

	*text = NULL;
	*len = 0;
	if (!f)
		return diag_add(d, ST_IO, "%s: cannot read: %s", path, strerror(errno));
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 1 << 16;
			if (!(grown = nnac_malloc(cap))) {
				st = diag_add(d, ST_NOMEM, "%s: out of memory", path);
				goto out;
			}
			if (buf)
				memcpy(grown, buf, n);
			nnac_free(buf);
			buf = grown;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f))
		st = diag_add(d, ST_IO, "%s: cannot read: %s", path, strerror(errno));
out:
	fclose(f);
	if (st != ST_OK) {
		nnac_free(buf);
		return st;
	}
	*text = buf;
	*len = n;
	return ST_OK;
}
