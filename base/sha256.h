/*
 * SHA-256 (FIPS 180-4), for the digests a bundle keeps of its payloads
 * (docs/bundle.md).  Incremental: init, any number of updates, final; or
 * sha256() for bytes held at once.  No state outside the Sha256 value.
 */
#ifndef NNAC_SHA256_H
#define NNAC_SHA256_H

#include <stddef.h>
#include <stdint.h>

enum { SHA256_BYTES = 32, SHA256_BLOCK = 64 };

typedef struct Sha256 {
	uint32_t h[8];               /* the chaining value */
	uint64_t bytes;              /* message length so far */
	uint8_t block[SHA256_BLOCK]; /* bytes of the block not yet compressed */
	size_t nblock;
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *p, size_t n);
void sha256_final(Sha256 *s, uint8_t out[SHA256_BYTES]);
void sha256(const void *p, size_t n, uint8_t out[SHA256_BYTES]);
/* The digest as 64 lower-case hex digits and a NUL. */
void sha256_hex(const uint8_t d[SHA256_BYTES], char out[2 * SHA256_BYTES + 1]);

#endif
