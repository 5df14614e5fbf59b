/*
 * The table of targets (targets.def) and what the driver asks of it.
 */
#include "target.h"

#include <stdio.h>
#include <string.h>

#define TARGET(id) extern const Target target_##id;
#include "targets.def"
#ifdef NNAC_EXTRA_TARGETS
#include NNAC_EXTRA_TARGETS
#endif
#undef TARGET

static const Target *const targets[] = {
#define TARGET(id) &target_##id,
#include "targets.def"
#ifdef NNAC_EXTRA_TARGETS
#include NNAC_EXTRA_TARGETS
#endif
#undef TARGET
};

int target_count(void)
{
	return (int)ARRAY_LEN(targets);
}

const Target *target_at(int i)
{
	nnac_assert(i >= 0 && i < target_count());
	return targets[i];
}

const Target *target_find(const char *name)
{
	for (int i = 0; i < target_count(); i++)
		if (strcmp(targets[i]->name, name) == 0)
			return targets[i];
	return NULL;
}

bool target_option_known(const char *name, bool *takes_value)
{
	for (int i = 0; i < target_count(); i++) {
		int k = target_option_find(targets[i], name);
		if (k >= 0) {
			*takes_value = targets[i]->options[k].value != NULL;
			return true;
		}
	}
	return false;
}

void target_names(char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < target_count() && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", targets[i]->name);
}
