/* idseen.c — the patient ids read so far from one log (see idseen.h). */
#include "idseen.h"

#include <string.h>

struct idseen_rec {
    unsigned long line;
    char id[]; /* NUL-terminated */
};

void idseen_init(idseen *s)
{
    memset(s, 0, sizeof *s);
    arena_init(&s->recs);
}

/* ---- in order ------------------------------------------------------------ */

/* LEB128: seven bits a byte, low bits first; at most 10 bytes. */
static unsigned char *put_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static const unsigned char *get_varint(const unsigned char *p, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0;; shift += 7) {
        x |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p++ & 0x80))
            break;
    }
    *v = x;
    return p;
}

/* Appends id (which sorts after s->last, sharing its first `common`
 * bytes) to the log.  0 on out of memory, s unchanged. */
static int log_append(idseen *s, const char *id, size_t n, size_t common, unsigned long line)
{
    size_t rest = n - common;
    unsigned char *log = mem_grow(s->log, &s->log_cap, s->log_len + 30 + rest, 1);
    if (!log)
        return 0;
    s->log = log;
    char *last = mem_grow(s->last, &s->last_cap, n + 1, 1);
    if (!last)
        return 0;
    s->last = last;
    /* The line as a difference that wraps: lines only grow in a log, but
     * the arithmetic stays right if they did not. */
    unsigned char *p = put_varint(log + s->log_len, (uint64_t)(line - s->last_line));
    p = put_varint(p, common);
    p = put_varint(p, rest);
    memcpy(p, id + common, rest);
    s->log_len = (size_t)(p + rest - log);
    memcpy(last + common, id + common, rest);
    s->last_n = n;
    s->last_line = line;
    return 1;
}

/* ---- out of order ---------------------------------------------------------- */

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* The slot of id[0..n) (hash h): the one holding it, or the empty one
 * where it would go.  strncmp, not memcmp: a shorter record's id ends
 * before n bytes, and its NUL differs from every byte of an id. */
static size_t probe(const idseen *s, const char *id, size_t n, uint64_t h)
{
    uint32_t tag = (uint32_t)(h >> 32);
    size_t k = h & (s->cap - 1);
    for (; s->slot[k]; k = (k + 1) & (s->cap - 1))
        if (s->tag[k] == tag && strncmp(s->slot[k]->id, id, n) == 0 && s->slot[k]->id[n] == '\0')
            break;
    return k;
}

/* A table of ncap slots (a power of two) holding the records of the old
 * one.  0 on out of memory, s unchanged. */
static int rehash(idseen *s, size_t ncap)
{
    idseen_rec **slots = mem_calloc(ncap, sizeof *slots);
    uint32_t *tags = mem_array(ncap, sizeof *tags);
    if (!slots || !tags) {
        mem_free(slots);
        mem_free(tags);
        return 0;
    }
    /* Written at random: their pages mapped in one call each, not one
     * fault at a time (see mem.c). */
    mem_populate(slots, ncap * sizeof *slots);
    mem_populate(tags, ncap * sizeof *tags);
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slot[i])
            continue;
        size_t k = fnv(s->slot[i]->id, strlen(s->slot[i]->id)) & (ncap - 1);
        while (slots[k])
            k = (k + 1) & (ncap - 1);
        slots[k] = s->slot[i];
        tags[k] = s->tag[i];
    }
    mem_free(s->slot);
    mem_free(s->tag);
    s->slot = slots;
    s->tag = tags;
    s->cap = ncap;
    return 1;
}

/* Puts id[0..n) into the empty slot k (hash h).  0 on out of memory. */
static int table_put(idseen *s, size_t k, const char *id, size_t n, uint64_t h, unsigned long line)
{
    idseen_rec *r = arena_alloc(&s->recs, sizeof *r + n + 1);
    if (!r)
        return 0;
    r->line = line;
    memcpy(r->id, id, n);
    r->id[n] = '\0';
    s->slot[k] = r;
    s->tag[k] = (uint32_t)(h >> 32);
    s->rec_bytes += (sizeof *r + n + 1 + 15) & ~(size_t)15;
    return 1;
}

static void table_drop(idseen *s)
{
    mem_free(s->slot);
    mem_free(s->tag);
    s->slot = NULL;
    s->tag = NULL;
    s->cap = 0;
    s->rec_bytes = 0;
    arena_reset(&s->recs);
}

/* Replays the log into a new table: every id kept so far becomes a
 * record, each built from the one before it and its own bytes.  0 on
 * out of memory, s unchanged. */
static int to_table(idseen *s)
{
    size_t cap = 64;
    while (cap * 3 < (s->n + 1) * 4)
        cap *= 2;
    if (!rehash(s, cap))
        return 0;
    const unsigned char *p = s->log, *end = s->log + s->log_len;
    const idseen_rec *prev = NULL;
    unsigned long line = 0;
    while (p < end) {
        uint64_t dl, common, rest;
        p = get_varint(get_varint(get_varint(p, &dl), &common), &rest);
        line += (unsigned long)dl;
        size_t n = (size_t)(common + rest);
        idseen_rec *r = arena_alloc(&s->recs, sizeof *r + n + 1);
        if (!r) {
            table_drop(s);
            return 0;
        }
        r->line = line;
        if (common)
            memcpy(r->id, prev->id, (size_t)common);
        memcpy(r->id + common, p, (size_t)rest);
        r->id[n] = '\0';
        p += rest;
        uint64_t h = fnv(r->id, n);
        size_t k = probe(s, r->id, n, h);
        s->slot[k] = r;
        s->tag[k] = (uint32_t)(h >> 32);
        s->rec_bytes += (sizeof *r + n + 1 + 15) & ~(size_t)15;
        prev = r;
    }
    s->hashed = 1;
    s->log_len = 0;
    return 1;
}

static int table_add(idseen *s, const char *id, size_t n, unsigned long line, unsigned long *first)
{
    if ((s->n + 1) * 4 > s->cap * 3 && !rehash(s, s->cap * 2))
        return -1;
    uint64_t h = fnv(id, n);
    size_t k = probe(s, id, n, h);
    if (s->slot[k]) {
        *first = s->slot[k]->line;
        return 0;
    }
    if (!table_put(s, k, id, n, h, line))
        return -1;
    s->n++;
    return 1;
}

/* ---- both ------------------------------------------------------------------ */

int idseen_add(idseen *s, const char *id, size_t n, unsigned long line, unsigned long *first)
{
    if (s->hashed)
        return table_add(s, id, n, line, first);
    size_t common = 0, m = n < s->last_n ? n : s->last_n;
    while (common < m && id[common] == s->last[common])
        common++;
    int after = s->n == 0 || (common == s->last_n ? n > common
                                                  : common < n && (unsigned char)id[common] > (unsigned char)s->last[common]);
    if (after) {
        if (!log_append(s, id, n, common, line))
            return -1;
        s->n++;
        return 1;
    }
    if (common == n && n == s->last_n) {
        *first = s->last_line;
        return 0;
    }
    if (!to_table(s))
        return -1;
    return table_add(s, id, n, line, first);
}

void idseen_clear(idseen *s)
{
    table_drop(s);
    s->hashed = 0;
    s->n = 0;
    s->log_len = 0;
    s->last_n = 0;
    s->last_line = 0;
}

void idseen_free(idseen *s)
{
    table_drop(s);
    arena_free(&s->recs);
    mem_free(s->log);
    mem_free(s->last);
    idseen_init(s);
}

size_t idseen_bytes(const idseen *s)
{
    return s->log_len + s->last_n + s->cap * (sizeof *s->slot + sizeof *s->tag) + s->rec_bytes;
}
