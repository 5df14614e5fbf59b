/*
 * The limits of one nnac process, which hostile input must not get past:
 *
 *   memory budget  the bytes one tensor may take, and the tensors of one
 *                  run together (--max-memory; default: the machine's
 *                  physical memory, at most VAL_MAX_BYTES)
 *   step budget    the steps one run of an interpreter may take: the
 *                  graph interpreter's elements, MACs and window taps,
 *                  the loop-IR interpreter's statements (--max-steps;
 *                  default 10^12, hours of work)
 *
 * Both are set once, before any work, by the driver (or a test, or a fuzz
 * target); every check of a size read from a file or inferred compares
 * against budget_memory() (value.h, val_size_ok); the interpreters check a
 * whole run's memory and steps against them before they allocate or run
 * anything.
 */
#ifndef NNAC_BUDGET_H
#define NNAC_BUDGET_H

#include <stddef.h>
#include <stdint.h>

enum { BUDGET_STR = 48 };

#define BUDGET_STEPS_DEFAULT ((int64_t)1000000000000)

int64_t budget_memory(void);
/* bytes <= 0: the default again.  Capped at VAL_MAX_BYTES. */
void budget_set_memory(int64_t bytes);
int64_t budget_steps(void);
/* steps <= 0: the default again. */
void budget_set_steps(int64_t steps);

/* "the memory budget of 512 MiB (--max-memory)", for messages. */
const char *budget_memory_str(char buf[BUDGET_STR]);
/* "1.5 GiB", "512 MiB", "100 bytes" */
const char *budget_bytes_str(int64_t bytes, char buf[BUDGET_STR]);
/* "512M" or "4G" or "1048576": a byte count with an optional binary
 * suffix K, M, G or T; false when malformed, not positive or larger than
 * VAL_MAX_BYTES. */
int budget_parse_bytes(const char *s, int64_t *bytes);

#endif
