/*
 * Traces of simulated TPU programs (runtime/tpu_trace.h): the annotated
 * listing and the Chrome trace-event JSON.  Both read the records in the
 * order the simulator wrote them (program order); neither changes them.
 */
#include "tpu_trace.h"
#include "rt_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "arena.h"

/* The tracks of the Chrome trace: tid = TpuUnit. */
static const char *const track_names[] = {
	"issue", "host DMA", "weight FIFO", "matrix unit", "activation unit",
};
_Static_assert(sizeof(track_names) / sizeof(track_names[0]) == TPU_UNIT_COUNT,
               "one track per unit");

static const char *stall_name(TpuStall s)
{
	return (unsigned)s < TPU_STALL_COUNT ? tpu_stall_name(s) : "?";
}

static const char *unit_name(TpuUnit u)
{
	const char *s = tpu_unit_name(u);

	return s ? s : "?";
}

/* The disassembly of record r's instruction into buf ("?" without a program). */
static void disasm(char *buf, size_t cap, const TpuInsn *prog, const TpuTraceRec *r)
{
	if (prog)
		tpu_format_insn(buf, cap, &prog[r->index]);
	else
		snprintf(buf, cap, "?");
}

void tpu_trace_text(FILE *f, const TpuInsn *prog, const TpuTraceRec *rec, size_t n)
{
	char insn[512];

	fprintf(f, "%6s %10s %10s %10s  %-6s %-6s  %s\n", "index", "issue", "start", "done",
	        "stall", "unit", "instruction");
	for (size_t i = 0; i < n; i++) {
		const TpuTraceRec *r = &rec[i];

		disasm(insn, sizeof(insn), prog, r);
		fprintf(f, "%6" PRIu32 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "  %-6s %-6s  %s\n",
		        r->index, r->issue, r->start, r->done, stall_name(r->stall),
		        unit_name(r->unit), insn);
	}
}

static void chrome_metadata(FILE *f)
{
	fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,"
	        "\"args\":{\"name\":\"TPU\"}}");
	for (int t = 0; t < TPU_UNIT_COUNT; t++) {
		fprintf(f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,"
		        "\"args\":{\"name\":", t);
		rt_json_string(f, track_names[t]);
		fprintf(f, "}}");
		fprintf(f, ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,"
		        "\"args\":{\"sort_index\":%d}}", t, t);
	}
}

/* end[i]: the cycle record i's event ends, clipped to the start of the next
 * record on the same track. */
static void track_ends(const TpuTraceRec *rec, size_t n, uint64_t *end)
{
	uint64_t next[TPU_UNIT_COUNT];
	bool have[TPU_UNIT_COUNT] = { false };

	for (size_t i = n; i-- > 0;) {
		unsigned t = (unsigned)rec[i].unit < TPU_UNIT_COUNT ? (unsigned)rec[i].unit : 0;

		end[i] = rec[i].done > rec[i].start ? rec[i].done : rec[i].start;
		if (have[t] && next[t] < end[i])
			end[i] = next[t] > rec[i].start ? next[t] : rec[i].start;
		next[t] = rec[i].start;
		have[t] = true;
	}
}

static void chrome_event(FILE *f, const TpuInsn *prog, const TpuTraceRec *r, uint64_t end,
                         double us_per_cycle)
{
	unsigned t = (unsigned)r->unit < TPU_UNIT_COUNT ? (unsigned)r->unit : 0;
	const char *mn = prog ? tpu_op_name(prog[r->index].op) : NULL;
	char insn[512];

	disasm(insn, sizeof(insn), prog, r);
	fprintf(f, ",\n{\"name\":");
	rt_json_string(f, mn ? mn : "?");
	fprintf(f, ",\"cat\":");
	rt_json_string(f, unit_name(r->unit));
	fprintf(f, ",\"ph\":\"X\",\"pid\":1,\"tid\":%u,\"ts\":%.6f,\"dur\":%.6f,\"args\":{"
	        "\"index\":%" PRIu32 ",\"issue\":%" PRIu64 ",\"start\":%" PRIu64
	        ",\"done\":%" PRIu64 ",\"stall\":", t, (double)r->start * us_per_cycle,
	        (double)(end - r->start) * us_per_cycle, r->index, r->issue, r->start, r->done);
	rt_json_string(f, stall_name(r->stall));
	fprintf(f, ",\"insn\":");
	rt_json_string(f, insn);
	fprintf(f, "}}");
}

Status tpu_trace_chrome(FILE *f, const TpuInsn *prog, const TpuTraceRec *rec, size_t n,
                        double clock_hz, Diag *d)
{
	uint64_t *end;

	if (!(clock_hz > 0) || !isfinite(clock_hz))
		return diag_add(d, ST_INVALID, "chrome trace: a clock of %g Hz is not a positive "
		                "number", clock_hz);
	if (!(end = nnac_calloc(n, sizeof(*end))))
		return diag_add(d, ST_NOMEM, "chrome trace: out of memory for %zu records", n);
	track_ends(rec, n, end);
	fprintf(f, "{\"traceEvents\":[\n");
	chrome_metadata(f);
	for (size_t i = 0; i < n; i++)
		chrome_event(f, prog, &rec[i], end[i], 1e6 / clock_hz);
	fprintf(f, "\n],\"displayTimeUnit\":\"ns\"}\n");
	nnac_free(end);
	if (ferror(f))
		return diag_add(d, ST_IO, "chrome trace: cannot write");
	return ST_OK;
}
