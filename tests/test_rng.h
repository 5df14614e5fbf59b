/*
 * The tests' random numbers: xorshift64*, seeded through splitmix64, so
 * that every seeded test draws the same sequence on every machine.
 */
#ifndef NNAC_TEST_RNG_H
#define NNAC_TEST_RNG_H

#include <stdint.h>

typedef struct Rng {
	uint64_t s;
} Rng;

static inline Rng rng_seed(uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;
	Rng r;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	r.s = (z ^ (z >> 31)) | 1;
	return r;
}

static inline uint64_t rng_next(Rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

/* Uniform in lo..hi inclusive. */
static inline int64_t rng_range(Rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* Uniform in [0, 1). */
static inline double rng_unit(Rng *r)
{
	return (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

#endif
