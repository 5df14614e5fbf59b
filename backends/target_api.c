/*
 * What the targets themselves call of the target interface (target.h); the
 * table of targets is target.c, which links every target.
 */
#include "target.h"

#include <string.h>

int target_option_find(const Target *t, const char *name)
{
	for (int i = 0; t->options && t->options[i].name; i++)
		if (strcmp(t->options[i].name, name) == 0)
			return i;
	return -1;
}

Status target_meta(TargetJob *job, const char *key, const char *value)
{
	char *line;

	if (job->nmeta == TARGET_MAX_META)
		return diag_add(job->diag, ST_INTERNAL, "%s: more than %d meta lines", job->model,
		                TARGET_MAX_META);
	line = arena_printf(job->arena, "%s=%s", key, value);
	if (!line)
		return diag_add(job->diag, ST_NOMEM, "out of memory");
	job->meta[job->nmeta++] = line;
	return ST_OK;
}
