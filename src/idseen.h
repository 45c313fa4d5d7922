/* idseen.h — the patient ids read so far from one log, to tell a patient
 * whose rows are not together (rows of P1, then P2, then P1 again) from a
 * new one.
 *
 * The answer is exact, so that a patient is never skipped for a hash
 * collision, and an exact answer must remember every id.  What that costs
 * depends on the order the ids come in.  While they come in increasing
 * byte order -- a log sorted by patient, as exports and
 * shared/bench/gen.py write them -- they are kept front-coded, about four
 * bytes a patient for ids like P000123, and a new id is told from all the
 * ones before by comparing it with the last.  The first id out of order
 * turns what was kept into a hash table, about 35 bytes a patient from
 * then on.
 *
 * Ids are byte strings that must not hold a NUL byte (the callers check
 * them: an id with a NUL is an error of its own). */
#ifndef TENDO_IDSEEN_H
#define TENDO_IDSEEN_H

#include "mem.h"

#include <stddef.h>
#include <stdint.h>

typedef struct idseen_rec idseen_rec;

typedef struct idseen {
    size_t n;                  /* ids kept */
    int hashed;                /* an id came out of order: the table holds them all */

    /* In order: one entry an id, three varints -- its line minus the
     * previous entry's, the bytes it shares with the previous id, the
     * number of its other bytes -- and those bytes. */
    unsigned char *log;
    size_t log_len, log_cap;
    char *last;                /* the last id, whole */
    size_t last_n, last_cap;
    unsigned long last_line;   /* where it was first seen */

    /* Out of order: open addressing, at most three quarters full. */
    idseen_rec **slot;         /* NULL = empty */
    uint32_t *tag;             /* the high half of the slot's id's hash */
    size_t cap;
    arena recs;                /* the records slot points to */
    size_t rec_bytes;          /* their size, for idseen_bytes */
} idseen;

void idseen_init(idseen *s);

/* Adds id[0..n), first seen at `line`.  1: it is new; 0: it was seen
 * before, first at *first (s unchanged); -1: out of memory (s unchanged). */
int idseen_add(idseen *s, const char *id, size_t n, unsigned long line, unsigned long *first);

/* Forgets every id; keeps the in-order buffers for the next log. */
void idseen_clear(idseen *s);

void idseen_free(idseen *s);

/* Bytes of memory in use for the ids kept (not counting spare capacity):
 * for tests and measurements. */
size_t idseen_bytes(const idseen *s);

#endif
