/*
 * The TPU simulator's timing half: an event model in whole cycles of
 * cfg.clock_hz, computed instruction by instruction in program order.
 *
 * Issue.  Fetch, decode, issue, execute: a 4-stage pipeline.  Instruction 0
 * is fetched in cycle 0 and leaves the issue stage at cycle 3; after that
 * one instruction issues per cycle, in order, unless the issue stage waits:
 *   - sync waits until every instruction issued before it on the units of
 *     its mask is done; halt waits for all units;
 *   - read_weights of a tile waits for a free FIFO slot (a slot empties
 *     when the tile in it has shifted into the array, see below).
 * These waits show in the trace as start > issue with stall "sync" or
 * "fifo" (or "unit" when the weight channel, busy even longer, set the
 * transfer's start); the next instruction issues the cycle after the wait
 * ends.  A trace record's issue is the cycle the instruction reached the
 * end of the issue stage, before any such wait.
 *
 * Units.  DMA, WEIGHT (the weight DRAM channel), MATRIX and ACT each run
 * their own instructions in order, overlapping one another (decoupled
 * access/execute).  An instruction starts at the latest of its issue, its
 * unit being free and its data dependences; the binding one is its stall.
 * Ties go to the first of: weight arrival / shift, input / raw, war, unit.
 *
 * Durations.
 *   read_host_memory, write_host_memory: count*len*esize bytes at
 *     cfg.host_bytes_per_s, one transfer at a time on the DMA unit.
 *   read_weights: a whole tile, height*width*esize bytes, or cols*16 bytes
 *     of parameters, at cfg.dram_bytes_per_s, one transfer at a time on the
 *     channel; the issue stage does not wait for it.  The tile has arrived
 *     when the transfer ends.  A parameter load also waits until the last
 *     activate reading its slot is done (war).
 *   Byte counts become cycles rounded up, at least 1.
 *   Weight shift: a tile popped by a switch takes `height` cycles to shift
 *     into the array's shadow buffer.  It starts when the tile has arrived
 *     and the array's current tile has started multiplying (double
 *     buffering), so it normally hides under the previous matrix_multiply.
 *     The FIFO slot is free when the shift ends.
 *   matrix_multiply: the array is busy `count` cycles (one vector a cycle);
 *     a switch starts no earlier than its shift's end: stall "weight" when
 *     the tile's arrival set the shift's start, "shift" when the previous
 *     tile's start did.  Its results are complete (done) at start + count +
 *     height + width - 2, the systolic latency.
 *   activate: count cycles, times KH*KW with pooling (one accumulator row
 *     read a cycle); it also waits for the last load of its parameter slot
 *     (stall "weight").
 *   nop, set_config: the issue slot only.
 *
 * Dependences.  A scoreboard keeps the unified-buffer and accumulator row
 * ranges of unfinished instructions (exact overlap of each instruction's
 * row hull).  Reading rows an earlier instruction writes waits for its done
 * (stall "input" if that is a read_host_memory, "raw" otherwise).  Writing
 * rows an earlier instruction of another unit reads or writes waits until
 * that access is over (stall "war"); a unit orders its own accesses, so a
 * chain of accumulating matrix_multiplys into the same rows flows without
 * waiting.  A matrix_multiply's reads last `count` cycles from its start,
 * its writes until its done; an activate's and a DMA's until their done.
 * Entries over by the current issue cycle can bind nothing and are dropped.
 *
 * Counters (Table 3).  The matrix unit's timeline from cycle 0 to halt's
 * completion is partitioned: array_active is the sum of the matmuls'
 * counts; the gap before a matmul (since the previous one's end, or cycle
 * 0) goes to weight_stall, weight_shift, raw_stall or input_stall when
 * that is the matmul's stall, else to non_matrix, as does the time after
 * the last matmul.  The categories sum to cycles.
 */
#include <math.h>
#include <string.h>

#include "arena.h"
#include "tpu_sim_int.h"

enum { FIRST_ISSUE = 3 };

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t xfer_cycles(const TpuSim *s, uint64_t bytes, double bytes_per_s)
{
	double c = ceil((double)bytes * s->cfg.clock_hz / bytes_per_s * (1.0 - 1e-12));
	return c < 1.0 ? 1 : (uint64_t)c;
}

/* start = max(start, cand), remembering why when cand is strictly later. */
static void bind(uint64_t *start, TpuStall *why, uint64_t cand, TpuStall cause)
{
	if (cand > *start) {
		*start = cand;
		*why = cause;
	}
}

void sim_time_reset(TpuSim *s)
{
	SimTime *t = &s->t;

	t->issue = FIRST_ISSUE;
	memset(t->unit_free, 0, sizeof t->unit_free);
	memset(t->unit_done, 0, sizeof t->unit_done);
	t->mm_end = t->end = t->tile_start = 0;
	t->tile_started = false;
	memset(t->fifo_free, 0, (size_t)s->cfg.fifo_depth * sizeof *t->fifo_free);
	memset(t->param_ready, 0, (size_t)s->cfg.param_slots * sizeof *t->param_ready);
	memset(t->param_read, 0, (size_t)s->cfg.param_slots * sizeof *t->param_read);
	t->nboard = 0;
	t->prune_at = 64;
}

/* ---- the scoreboard ---- */

static bool overlaps(const SimBoard *e, bool acc, const SimRange *r)
{
	return r->on && e->acc == acc && e->lo <= r->hi && r->lo <= e->hi;
}

static bool reads(const SimBoard *e, const SimAccess *a)
{
	return overlaps(e, false, &a->ub_read) || overlaps(e, true, &a->acc_read);
}

static bool writes(const SimBoard *e, const SimAccess *a)
{
	return overlaps(e, false, &a->ub_write) || overlaps(e, true, &a->acc_write);
}

static void board_wait(const SimTime *t, const SimAccess *a, TpuUnit u, uint64_t *start,
                       TpuStall *why)
{
	for (int i = 0; i < t->nboard; i++) {
		const SimBoard *e = &t->board[i];
		if (e->write && reads(e, a))
			bind(start, why, e->until, e->input ? TPU_STALL_INPUT : TPU_STALL_RAW);
	}
	for (int i = 0; i < t->nboard; i++) {
		const SimBoard *e = &t->board[i];
		if (e->unit != u && writes(e, a))
			bind(start, why, e->until, TPU_STALL_WAR);
	}
}

static void board_prune(SimTime *t)
{
	int n = 0;

	for (int i = 0; i < t->nboard; i++)
		if (t->board[i].until > t->issue)
			t->board[n++] = t->board[i];
	t->nboard = n;
	t->prune_at = n * 2 > 64 ? n * 2 : 64;
}

static Status board_add(SimTime *t, const SimRange *r, bool acc, bool write, TpuUnit u,
                        bool input, uint64_t until)
{
	if (!r->on || until <= t->issue)
		return ST_OK;
	if (t->nboard == t->capboard) {
		int ncap = t->capboard ? t->capboard * 2 : 64;
		SimBoard *b = nnac_malloc((size_t)ncap * sizeof *b);
		if (!b)
			return ST_NOMEM;
		if (t->nboard)
			memcpy(b, t->board, (size_t)t->nboard * sizeof *b);
		nnac_free(t->board);
		t->board = b;
		t->capboard = ncap;
	}
	t->board[t->nboard++] = (SimBoard){ r->lo, r->hi, until, acc, write, (uint8_t)u, input };
	return ST_OK;
}

/* Records the accesses of an instruction of unit u: reads until rd_end,
 * writes until done. */
static Status board_record(SimTime *t, const SimAccess *a, TpuUnit u, bool input,
                           uint64_t rd_end, uint64_t done)
{
	if (t->nboard >= t->prune_at)
		board_prune(t);
	if (board_add(t, &a->ub_read, false, false, u, false, rd_end) ||
	    board_add(t, &a->acc_read, true, false, u, false, rd_end) ||
	    board_add(t, &a->ub_write, false, true, u, input, done) ||
	    board_add(t, &a->acc_write, true, true, u, input, done))
		return ST_NOMEM;
	return ST_OK;
}

/* ---- per-unit timing ---- */

static void unit_finish(SimTime *t, TpuUnit u, uint64_t free_at, uint64_t done)
{
	t->unit_free[u] = free_at;
	t->unit_done[u] = max_u64(t->unit_done[u], done);
}

static Status time_dma(TpuSim *s, const TpuInsn *in, const SimAccess *a, TpuTraceRec *r)
{
	SimTime *t = &s->t;

	board_wait(t, a, TPU_UNIT_DMA, &r->start, &r->stall);
	bind(&r->start, &r->stall, t->unit_free[TPU_UNIT_DMA], TPU_STALL_UNIT);
	r->done = r->start + xfer_cycles(s, a->bytes, s->cfg.host_bytes_per_s);
	unit_finish(t, TPU_UNIT_DMA, r->done, r->done);
	return board_record(t, a, TPU_UNIT_DMA, in->op == TPU_READ_HOST, r->done, r->done);
}

static void time_weights(TpuSim *s, const TpuInsn *in, const SimAccess *a, TpuTraceRec *r)
{
	SimTime *t = &s->t;
	int slot = (s->fifo_head + s->fifo_count) % s->cfg.fifo_depth;
	bool param = in->flags & TPU_RW_PARAM;

	if (param)
		bind(&r->start, &r->stall, t->param_read[in->slot], TPU_STALL_WAR);
	else
		bind(&r->start, &r->stall, t->fifo_free[slot], TPU_STALL_FIFO);
	/* The FIFO wait happens in the issue stage; the channel's does not. */
	if (!param)
		t->issue = r->start;
	bind(&r->start, &r->stall, t->unit_free[TPU_UNIT_WEIGHT], TPU_STALL_UNIT);
	r->done = r->start + xfer_cycles(s, a->bytes, s->cfg.dram_bytes_per_s);
	unit_finish(t, TPU_UNIT_WEIGHT, r->done, r->done);
	if (param)
		t->param_ready[in->slot] = r->done;
	else
		s->fifo[slot].arrival = r->done;
}

/* The switch's shift: returns its end, with the stall it would cause. */
static uint64_t time_shift(TpuSim *s, TpuStall *cause)
{
	SimTime *t = &s->t;
	uint64_t from = s->array.arrival, end;

	*cause = TPU_STALL_WEIGHT;
	if (t->tile_started && t->tile_start > from) {
		from = t->tile_start;
		*cause = TPU_STALL_SHIFT;
	}
	end = from + (uint64_t)s->cfg.height;
	s->t.fifo_free[s->popped_slot] = end;
	return end;
}

static void count_gap(TpuCounters *c, TpuStall why, uint64_t gap)
{
	switch (why) {
	case TPU_STALL_WEIGHT:
		c->weight_stall += gap;
		break;
	case TPU_STALL_SHIFT:
		c->weight_shift += gap;
		break;
	case TPU_STALL_RAW:
		c->raw_stall += gap;
		break;
	case TPU_STALL_INPUT:
		c->input_stall += gap;
		break;
	case TPU_STALL_NONE:
	case TPU_STALL_UNIT:
	case TPU_STALL_FIFO:
	case TPU_STALL_SYNC:
	case TPU_STALL_WAR:
	case TPU_STALL_COUNT:
		c->non_matrix += gap;
		break;
	}
}

static Status time_matmul(TpuSim *s, const TpuInsn *in, const SimAccess *a, TpuTraceRec *r)
{
	SimTime *t = &s->t;
	const TpuConfig *c = &s->cfg;
	uint64_t end;

	if (in->flags & TPU_MM_SWITCH) {
		TpuStall cause;
		uint64_t shifted = time_shift(s, &cause);
		bind(&r->start, &r->stall, shifted, cause);
	}
	board_wait(t, a, TPU_UNIT_MATRIX, &r->start, &r->stall);
	bind(&r->start, &r->stall, t->mm_end, TPU_STALL_UNIT);
	if (in->flags & TPU_MM_SWITCH) {
		t->tile_start = r->start;
		t->tile_started = true;
	}
	end = r->start + in->count;
	r->done = end + (uint64_t)c->height + (uint64_t)c->width - 2;
	count_gap(&s->ctr, r->stall, r->start - t->mm_end);
	s->ctr.array_active += in->count;
	t->mm_end = end;
	unit_finish(t, TPU_UNIT_MATRIX, end, r->done);
	return board_record(t, a, TPU_UNIT_MATRIX, false, end, r->done);
}

static Status time_activate(TpuSim *s, const TpuInsn *in, const SimAccess *a, TpuTraceRec *r)
{
	SimTime *t = &s->t;

	bind(&r->start, &r->stall, t->param_ready[in->slot], TPU_STALL_WEIGHT);
	board_wait(t, a, TPU_UNIT_ACT, &r->start, &r->stall);
	bind(&r->start, &r->stall, t->unit_free[TPU_UNIT_ACT], TPU_STALL_UNIT);
	r->done = r->start + a->busy;
	t->param_read[in->slot] = max_u64(t->param_read[in->slot], r->done);
	unit_finish(t, TPU_UNIT_ACT, r->done, r->done);
	return board_record(t, a, TPU_UNIT_ACT, false, r->done, r->done);
}

/* sync and halt: the issue stage waits for the units of mask. */
static void time_wait(TpuSim *s, uint32_t mask, TpuTraceRec *r)
{
	static const TpuUnit bit_unit[] = { TPU_UNIT_DMA, TPU_UNIT_WEIGHT, TPU_UNIT_MATRIX,
		TPU_UNIT_ACT };

	for (size_t i = 0; i < ARRAY_LEN(bit_unit); i++)
		if (mask & (1u << i))
			bind(&r->start, &r->stall, s->t.unit_done[bit_unit[i]], TPU_STALL_SYNC);
	r->done = r->start;
	s->t.issue = r->start;
}

Status sim_time_insn(TpuSim *s, const TpuInsn *in, const SimAccess *a, TpuTraceRec *r)
{
	SimTime *t = &s->t;
	Status st = ST_OK;

	r->unit = sim_op_unit(in->op);
	r->issue = r->start = r->done = t->issue;
	r->stall = TPU_STALL_NONE;
	switch (in->op) {
	case TPU_NOP:
	case TPU_SET_CONFIG:
		break;
	case TPU_HALT:
		time_wait(s, 0xf, r);
		t->end = r->done;
		break;
	case TPU_SYNC:
		time_wait(s, in->mask, r);
		break;
	case TPU_READ_HOST:
	case TPU_WRITE_HOST:
		st = time_dma(s, in, a, r);
		break;
	case TPU_READ_WEIGHTS:
		time_weights(s, in, a, r);
		break;
	case TPU_MATMUL:
		st = time_matmul(s, in, a, r);
		break;
	case TPU_ACTIVATE:
		st = time_activate(s, in, a, r);
		break;
	}
	t->issue++;
	return st;
}

void sim_time_finish(TpuSim *s)
{
	TpuCounters *c = &s->ctr;
	const TpuConfig *cfg = &s->cfg;
	uint64_t macs = (uint64_t)cfg->height * (uint64_t)cfg->width;

	c->cycles = s->t.end;
	c->non_matrix += c->cycles - s->t.mm_end;
	c->unused_macs = c->array_active * macs - c->useful_macs;
	c->seconds = (double)c->cycles / cfg->clock_hz;
	c->tops = c->seconds > 0 ? 2.0 * (double)c->useful_macs / c->seconds / 1e12 : 0.0;
	c->peak_tops = 2.0 * (double)macs * cfg->clock_hz / 1e12;
}
