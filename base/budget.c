/*
 * The process's memory and step budgets (budget.h).
 */
#include "budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "checked.h"
#include "value.h"

static int64_t memory_budget;   /* 0: not derived yet */
static int64_t step_budget = BUDGET_STEPS_DEFAULT;

/* The machine's physical memory, or VAL_MAX_BYTES when it cannot be told. */
static int64_t physical_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	int64_t n;

	if (pages <= 0 || page <= 0 || !ck_mul(pages, page, &n) || n > VAL_MAX_BYTES)
		return VAL_MAX_BYTES;
	return n;
}

int64_t budget_memory(void)
{
	if (memory_budget == 0)
		memory_budget = physical_memory();
	return memory_budget;
}

void budget_set_memory(int64_t bytes)
{
	memory_budget = bytes <= 0 ? 0 : bytes > VAL_MAX_BYTES ? VAL_MAX_BYTES : bytes;
}

int64_t budget_steps(void) { return step_budget; }

void budget_set_steps(int64_t steps) { step_budget = steps <= 0 ? BUDGET_STEPS_DEFAULT : steps; }

const char *budget_bytes_str(int64_t bytes, char buf[BUDGET_STR])
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double x = (double)bytes;
	int u = -1;

	while (x >= 1024 && u < 3) {
		x /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, BUDGET_STR, "%lld bytes", (long long)bytes);
	else if (x == (double)(int64_t)x)
		snprintf(buf, BUDGET_STR, "%lld %s", (long long)x, units[u]);
	else
		snprintf(buf, BUDGET_STR, "%.1f %s", x, units[u]);
	return buf;
}

const char *budget_memory_str(char buf[BUDGET_STR])
{
	char b[BUDGET_STR];

	snprintf(buf, BUDGET_STR, "the memory budget of %s (--max-memory)", budget_bytes_str(budget_memory(), b));
	return buf;
}

int budget_parse_bytes(const char *s, int64_t *bytes)
{
	char *end;
	long long x;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return 0;
	x = strtoll(s, &end, 10);
	switch (*end) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end || x <= 0 || x > (VAL_MAX_BYTES >> shift))
		return 0;
	*bytes = (int64_t)x << shift;
	return 1;
}
