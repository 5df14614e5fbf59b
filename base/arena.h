/*
 * Arena allocation.
 *
 * Everything a compilation builds (graph, names, attributes, constant data,
 * interpreter values) is carved out of one arena and released at once by
 * arena_free().  Nothing inside an arena is freed on its own.
 *
 * The underlying allocator can be replaced (nnac_set_allocator) so that tests
 * can make the Nth allocation fail; arena_alloc() then returns NULL and the
 * caller reports "out of memory" through its diagnostics.
 */
#ifndef NNAC_ARENA_H
#define NNAC_ARENA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ArenaChunk ArenaChunk;

typedef struct Arena {
	ArenaChunk *head;
	size_t used;         /* bytes handed out, for statistics */
} Arena;

/* realloc-like: ptr == NULL allocates, size == 0 frees. */
typedef void *(*NnacAllocFn)(void *ud, void *ptr, size_t size);
void nnac_set_allocator(NnacAllocFn fn, void *ud);

/*
 * malloc, calloc, realloc and free through the allocator above.  Every
 * buffer nnac owns outside an arena comes from these, so that a failing
 * allocator reaches it too.  A size of 0 is taken as 1 (a NULL result
 * always means out of memory); nnac_calloc also fails when n * size
 * overflows.  nnac_realloc leaves ptr as it was when it fails.
 */
void *nnac_malloc(size_t size);
void *nnac_calloc(size_t n, size_t size);
void *nnac_realloc(void *ptr, size_t size);
void nnac_free(void *ptr);
/* aligned_alloc through the allocator: size bytes at a multiple of align
 * (a power of two), freed by nnac_aligned_free and by nothing else; NULL
 * when out of memory. */
void *nnac_aligned_alloc(size_t align, size_t size);
void nnac_aligned_free(void *ptr);

void arena_init(Arena *a);
void arena_free(Arena *a);
/* Returns zeroed memory aligned to 64 bytes, or NULL when out of memory. */
void *arena_alloc(Arena *a, size_t size);
/* Makes room for element n of an arena-held array of elem-byte elements,
 * doubling *cap (the old copy is abandoned); false when out of memory. */
bool arena_grow(Arena *a, void **arr, int *cap, int n, size_t elem);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
