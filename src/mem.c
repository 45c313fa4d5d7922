/* mem.c — allocator with failure injection, and a bump arena. */
#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Failure injection is process-wide test state, set once by the CLI before
 * any work starts; atomics keep it race-free under batch threads. */
static _Atomic unsigned long fail_at;
static _Atomic unsigned long alloc_count;

void mem_fail_at(unsigned long n) { fail_at = n; alloc_count = 0; }
unsigned long mem_count(void) { return alloc_count; }

static int should_fail(void)
{
    unsigned long f = fail_at;
    if (f == 0)
        return 0;
    return ++alloc_count == f;
}

void *mem_alloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *mem_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *mem_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void *mem_array(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    return mem_alloc(count * size);
}

/* Grow *p (of *cap elements of size) to hold at least need elements. */
void *mem_grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return NULL;
        nc *= 2;
    }
    if (size && nc > SIZE_MAX / size)
        return NULL;
    void *q = mem_realloc(p, nc * size);
    if (!q)
        return NULL;
    *cap = nc;
    return q;
}

char *mem_strndup(const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = mem_alloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *mem_strdup(const char *s) { return mem_strndup(s, strlen(s)); }

void mem_free(void *p) { free(p); }

/* A fresh large buffer is otherwise mapped in one page fault at a time as
 * it is first written.  On the virtual machine the benchmark runs on a
 * fault costs about 7 us, and a --jobs 1 run spent 3 % of its time in
 * them; MADV_POPULATE_WRITE (Linux 5.14) maps the pages in one call.
 * Where it is missing or refused, the pages fault in as before.  Not for
 * a buffer under 64 KiB: malloc takes it from its heap, mostly reused
 * pages already mapped, and the call cost more than it saved (a folder of
 * one-patient files made one for each file's header reader, 8 KiB). */
void mem_populate(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || n < (64u << 10))
        return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t e = ((uintptr_t)p + n) & ~((uintptr_t)pg - 1);
    if (e > a)
        (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#else
    (void)p, (void)n;
#endif
}

/* ---- arena ------------------------------------------------------------ */

struct arena_block {
    arena_block *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
};

enum { ARENA_MIN_BLOCK = 32 * 1024 };

void arena_init(arena *a)
{
    a->head = a->blocks = NULL;
    a->failed = 0;
}

static arena_block *new_block(size_t need)
{
    size_t cap = need > ARENA_MIN_BLOCK ? need : ARENA_MIN_BLOCK;
    if (cap > SIZE_MAX - sizeof(arena_block))
        return NULL;
    arena_block *b = mem_alloc(sizeof(arena_block) + cap);
    if (!b)
        return NULL;
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

void *arena_alloc(arena *a, size_t n)
{
    if (n > SIZE_MAX - 15) {
        a->failed = 1;
        return NULL;
    }
    n = (n + 15) & ~(size_t)15;
    arena_block *b = a->head;
    /* After a reset, walk forward through kept blocks before allocating. */
    while (b && b->cap - b->used < n && b->next) {
        b = b->next;
        a->head = b;
    }
    if (!b || b->cap - b->used < n) {
        arena_block *nb = new_block(n);
        if (!nb) {
            a->failed = 1;
            return NULL;
        }
        if (b) {
            nb->next = b->next;
            b->next = nb;
        } else {
            a->blocks = nb;
        }
        a->head = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void *arena_zalloc(arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void arena_reset(arena *a)
{
    for (arena_block *b = a->blocks; b; b = b->next)
        b->used = 0;
    a->head = a->blocks;
    a->failed = 0;
}

void arena_free(arena *a)
{
    arena_block *b = a->blocks;
    while (b) {
        arena_block *n = b->next;
        mem_free(b);
        b = n;
    }
    a->head = a->blocks = NULL;
}
