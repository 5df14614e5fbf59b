/*
 * Arena allocation: a linked list of chunks, each at least 1 MiB, carved
 * front to back.  Large requests get a chunk of their own.
 */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

enum { CHUNK_MIN = 1 << 20, ALIGN = 64 };

struct ArenaChunk {
	ArenaChunk *next;
	size_t size;         /* usable bytes after the header */
	size_t off;          /* next free byte */
	_Alignas(64) unsigned char mem[];
};

static void *default_alloc(void *ud, void *ptr, size_t size)
{
	(void)ud;
	if (size == 0) {
		free(ptr);
		return NULL;
	}
	return realloc(ptr, size);
}

static NnacAllocFn alloc_fn = default_alloc;
static void *alloc_ud;

void nnac_set_allocator(NnacAllocFn fn, void *ud)
{
	alloc_fn = fn ? fn : default_alloc;
	alloc_ud = ud;
}

void *nnac_malloc(size_t size) { return alloc_fn(alloc_ud, NULL, size ? size : 1); }
void *nnac_realloc(void *ptr, size_t size) { return alloc_fn(alloc_ud, ptr, size ? size : 1); }
void nnac_free(void *ptr) { if (ptr) alloc_fn(alloc_ud, ptr, 0); }

void *nnac_calloc(size_t n, size_t size)
{
	size_t bytes;
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	bytes = n * size > 0 ? n * size : 1;
	p = nnac_malloc(bytes);
	if (p)
		memset(p, 0, bytes);
	return p;
}

/*
 * An aligned block is carved out of one of size + align + sizeof(void *)
 * bytes; the pointer the allocator returned is kept just below the block:
 *
 *   base                     block (a multiple of align)
 *   v                        v
 *   [ unused       | base   ][ size bytes                 ][ unused ]
 *                   void *
 */
void *nnac_aligned_alloc(size_t align, size_t size)
{
	size_t extra = align + sizeof(void *);
	unsigned char *base, *block;

	if (!align || (align & (align - 1)))
		nnac_unreachable();
	if (size > SIZE_MAX - extra)
		return NULL;
	base = nnac_malloc(size + extra);
	if (!base)
		return NULL;
	block = base + sizeof(void *);
	block += (align - (uintptr_t)block % align) % align;
	memcpy(block - sizeof(void *), &base, sizeof(base));
	return block;
}

void nnac_aligned_free(void *ptr)
{
	void *base;

	if (!ptr)
		return;
	memcpy(&base, (unsigned char *)ptr - sizeof(void *), sizeof(base));
	nnac_free(base);
}

void arena_init(Arena *a)
{
	a->head = NULL;
	a->used = 0;
}

void arena_free(Arena *a)
{
	ArenaChunk *c, *next;

	for (c = a->head; c; c = next) {
		next = c->next;
		nnac_aligned_free(c);
	}
	arena_init(a);
}

static ArenaChunk *new_chunk(size_t need)
{
	size_t size = need > CHUNK_MIN ? need : CHUNK_MIN;
	ArenaChunk *c;

	if (size > SIZE_MAX - sizeof(ArenaChunk) - ALIGN)
		return NULL;
	/* mem[] is 64-byte aligned only if the chunk is: malloc promises 16 */
	c = nnac_aligned_alloc(ALIGN, sizeof(ArenaChunk) + size);
	if (!c)
		return NULL;
	c->size = size;
	c->off = 0;
	return c;
}

void *arena_alloc(Arena *a, size_t size)
{
	ArenaChunk *c = a->head;
	size_t off;
	void *p;

	size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (size == 0)
		size = ALIGN;
	if (!c || c->size - c->off < size) {
		c = new_chunk(size);
		if (!c)
			return NULL;
		/* A big one-off chunk goes behind the current one so the
		 * current one's free tail stays in use. */
		if (a->head && size > CHUNK_MIN) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	off = c->off;
	c->off += size;
	a->used += size;
	p = c->mem + off;
	memset(p, 0, size);
	return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
	char *d = arena_alloc(a, n + 1);

	if (d && n)    /* s may be NULL when n is 0 (an empty protobuf string) */
		memcpy(d, s, n);
	return d;
}

char *arena_strdup(Arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *d;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	d = arena_alloc(a, (size_t)n + 1);
	if (!d)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return d;
}

bool arena_grow(Arena *a, void **arr, int *cap, int n, size_t elem)
{
	int ncap;
	void *p;

	if (n < *cap)
		return true;
	ncap = *cap ? 2 * *cap : 64;
	p = arena_alloc(a, (size_t)ncap * elem);
	if (!p)
		return false;
	if (*arr)
		memcpy(p, *arr, (size_t)n * elem);
	*arr = p;
	*cap = ncap;
	return true;
}
