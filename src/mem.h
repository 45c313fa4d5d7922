/* mem.h — the one allocator module: every heap allocation in tendo goes
 * through here, so out-of-memory is handled in one place and a test mode can
 * fail the Nth allocation (TENDO_FAIL_ALLOC=N). */
#ifndef TENDO_MEM_H
#define TENDO_MEM_H

#include <stddef.h>
#include <stdint.h>

/* All return NULL on failure (never abort): callers propagate the error. */
void *mem_alloc(size_t n);
void *mem_calloc(size_t count, size_t size);
void *mem_realloc(void *p, size_t n);
void *mem_array(size_t count, size_t size); /* overflow-checked count*size */
void *mem_grow(void *p, size_t *cap, size_t need, size_t size);
char *mem_strndup(const char *s, size_t n);
char *mem_strdup(const char *s);
void mem_free(void *p);
/* Maps in the whole pages of [p, p + n) now, in one call, before they are
 * written: best effort (see mem.c). */
void mem_populate(void *p, size_t n);

/* Failure injection for tests: fail allocation number n (1-based), 0 = off. */
void mem_fail_at(unsigned long n);
unsigned long mem_count(void);

/* Arena: many small allocations freed together (AST nodes, per-patient data).
 * Blocks are kept across arena_reset so a reused arena stops allocating. */
typedef struct arena_block arena_block;
typedef struct arena {
    arena_block *head;     /* current block */
    arena_block *blocks;   /* all blocks, for free and reset */
    int failed;            /* an allocation failed since init or reset */
} arena;

void arena_init(arena *a);
void *arena_alloc(arena *a, size_t n);   /* 16-byte aligned, NULL on OOM */
void *arena_zalloc(arena *a, size_t n);
char *arena_strndup(arena *a, const char *s, size_t n);
void arena_reset(arena *a);               /* forget contents, keep memory */
void arena_free(arena *a);

#endif
