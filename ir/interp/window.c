/*
 * Window geometry shared by the convolution and pooling kernels: integer
 * division rounding, multi-index stepping, and the attribute readers for
 * kernel_shape/strides/dilations/pads lists and auto_pad.
 */
#include <string.h>

#include "window.h"

int64_t win_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t win_ceil_div(int64_t a, int64_t b)
{
	return -win_floor_div(-a, b);
}

int64_t win_prod(const int64_t *d, int count)
{
	int64_t p = 1;

	for (int i = 0; i < count; i++)
		p *= d[i];
	return p;
}

/* Advances a row-major multi-index over lim; wraps to all zeros at the end. */
void win_next_index(int64_t *idx, const int64_t *lim, int rank)
{
	for (int d = rank - 1; d >= 0; d--) {
		if (++idx[d] < lim[d])
			return;
		idx[d] = 0;
	}
}

/*
 * List attribute `name` of exactly `count` values, each at least min, into
 * dst; every slot gets def when the attribute is absent or empty.
 */
Status win_read_list(Graph *g, const Node *n, const char *name, int count,
                     int64_t def, int64_t min, int64_t *dst)
{
	int have;
	const int64_t *v = attr_ints(n, name, &have);

	for (int i = 0; i < count; i++)
		dst[i] = def;
	if (!v || have == 0)
		return ST_OK;
	if (have != count)
		return node_error(g, n, ST_INVALID, "'%s' has %d values, expected %d",
		                  name, have, count);
	for (int i = 0; i < count; i++) {
		if (v[i] < min)
			return node_error(g, n, ST_INVALID, "'%s' value %lld is %s", name,
			                  (long long)v[i], min > 0 ? "not positive" : "negative");
		if (v[i] > WIN_MAX_ATTR)
			return node_error(g, n, ST_UNSUPPORTED, "'%s' value %lld is larger than %d", name,
			                  (long long)v[i], WIN_MAX_ATTR);
		dst[i] = v[i];
	}
	return ST_OK;
}

Status win_read_auto_pad(Graph *g, const Node *n, AutoPad *ap)
{
	static const char *const names[] = {
		[PAD_NOTSET] = "NOTSET", [PAD_SAME_UPPER] = "SAME_UPPER",
		[PAD_SAME_LOWER] = "SAME_LOWER", [PAD_VALID] = "VALID",
	};
	const char *s = attr_s(n, "auto_pad", "NOTSET");

	for (int i = 0; i < (int)ARRAY_LEN(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*ap = (AutoPad)i;
			return ST_OK;
		}
	}
	return node_error(g, n, ST_INVALID,
	                  "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", s);
}
