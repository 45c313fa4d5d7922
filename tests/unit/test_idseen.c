/* test_idseen.c — unit tests for the set of patient ids seen in a log
 * (src/idseen.c): every answer is compared with a plain list searched
 * from the start, over ids in order, out of order, and in order with a
 * few returns, as a log would give them; then the memory the sorted case
 * takes, and running out of memory at every allocation of a switch to
 * the table.  Prints TAP-style "ok N - ..." lines and exits non-zero when
 * any check fails. */
#include "idseen.h"
#include "mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, ntests;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", ++ntests);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond)
        failures++;
    fflush(stdout);
}

/* ---- the model: every id with its first line, searched in order --------- */

enum { MAX_IDS = 50000 };

typedef struct model {
    char *id[MAX_IDS];
    unsigned long line[MAX_IDS];
    size_t n;
} model;

static int model_add(model *m, const char *id, unsigned long line, unsigned long *first)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->id[i], id) == 0) {
            *first = m->line[i];
            return 0;
        }
    m->id[m->n] = strdup(id);
    m->line[m->n++] = line;
    return 1;
}

static void model_clear(model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->id[i]);
    m->n = 0;
}

/* ---- id sequences ----------------------------------------------------------- */

static unsigned long rng = 88172645463325252ul;
static unsigned long next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* The id for k: zero-padded like an export's (sorted as numbers), or
 * not (P10 sorts before P9), or long enough to need two-byte varints. */
static void make_id(char *buf, size_t cap, unsigned long k, int style)
{
    if (style == 0)
        snprintf(buf, cap, "P%06lu", k);
    else if (style == 1)
        snprintf(buf, cap, "P%lu", k);
    else
        snprintf(buf, cap, "%0200lu-%lu", k / 7, k % 7);
}

/* Feeds n ids to s and m and compares every answer; `returns` in 1000
 * ids go back to an id seen before, `shuffled` draws every id at random. */
static int feed(idseen *s, model *m, size_t n, int style, int returns, int shuffled, unsigned long *line)
{
    char buf[300];
    int agree = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned long k = shuffled ? next_rand() % (n * 2) : (unsigned long)i;
        if (returns && i > 0 && (int)(next_rand() % 1000) < returns)
            k = next_rand() % i;
        make_id(buf, sizeof buf, k, style);
        *line += 1 + next_rand() % 90;
        unsigned long f1 = 0, f2 = 0;
        int a = idseen_add(s, buf, strlen(buf), *line, &f1);
        int b = model_add(m, buf, *line, &f2);
        if (a != b || (a == 0 && f1 != f2)) {
            if (agree)
                printf("# id %s at line %lu: idseen %d (first %lu), model %d (first %lu)\n", buf, *line, a, f1, b, f2);
            agree = 0;
        }
    }
    return agree;
}

static void test_against_model(void)
{
    static model m;
    static const char *const style_name[] = { "padded", "unpadded", "long" };
    for (int style = 0; style < 3; style++) {
        struct {
            const char *what;
            int returns, shuffled;
        } cases[] = { { "in order", 0, 0 }, { "in order, 1 in 200 going back", 5, 0 }, { "at random", 0, 1 } };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            idseen s;
            idseen_init(&s);
            unsigned long line = 1;
            int agree = feed(&s, &m, 3000, style, cases[c].returns, cases[c].shuffled, &line);
            ok(agree, "%s ids %s: every answer and first line as a plain list's", style_name[style], cases[c].what);
            /* cleared, the same set takes another log from scratch */
            idseen_clear(&s);
            model_clear(&m);
            agree = feed(&s, &m, 1000, style, 20, 0, &line);
            ok(agree && s.n == m.n, "%s ids %s, then cleared and reused: the same answers", style_name[style],
               cases[c].what);
            idseen_free(&s);
            model_clear(&m);
        }
    }
}

static void test_edges(void)
{
    idseen s;
    idseen_init(&s);
    unsigned long first = 0;
    /* A prefix sorts first: "P1" < "P10" < "P2"; the table takes over at "P1". */
    int a1 = idseen_add(&s, "P10", 3, 2, &first), a2 = idseen_add(&s, "P2", 2, 5, &first);
    int in_order = !s.hashed;
    int a3 = idseen_add(&s, "P1", 2, 9, &first);
    int a4 = idseen_add(&s, "P10", 3, 12, &first);
    ok(a1 == 1 && a2 == 1 && in_order && a3 == 1 && s.hashed && a4 == 0 && first == 2,
       "P10, P2 in order; P1 (a prefix) out of order is new; P10 again is found at its first line");
    idseen_clear(&s);
    /* the same id twice in a row, and bytes above 0x7f compared unsigned */
    int b1 = idseen_add(&s, "a", 1, 1, &first), b2 = idseen_add(&s, "\xc3\xa9", 2, 4, &first);
    int b3 = idseen_add(&s, "\xc3\xa9", 2, 7, &first);
    ok(b1 == 1 && b2 == 1 && !s.hashed && b3 == 0 && first == 4,
       "a UTF-8 id sorts after ASCII; repeated right away it is found without the table");
    idseen_free(&s);
}

/* A sorted cohort is kept in a few bytes a patient, not a table. */
static void test_memory(void)
{
    idseen s;
    idseen_init(&s);
    char buf[32];
    unsigned long first;
    int added = 1;
    for (unsigned long k = 1; k <= 20000; k++) {
        make_id(buf, sizeof buf, k, 0);
        added &= idseen_add(&s, buf, strlen(buf), k * 77, &first) == 1;
    }
    size_t sorted = idseen_bytes(&s);
    ok(added && !s.hashed && sorted <= 20000 * 6,
       "20,000 sorted ids (P000001 ...) kept in %zu bytes, %.1f a patient (at most 6)", sorted, sorted / 20000.0);
    make_id(buf, sizeof buf, 5, 0);
    int back = idseen_add(&s, buf, strlen(buf), 10, &first);
    size_t table = idseen_bytes(&s);
    ok(back == 0 && first == 5 * 77 && s.hashed && table > sorted,
       "an id out of order (P000005) turns them into a table (%zu bytes) that finds it at line %lu", table, first);
    idseen_free(&s);
}

/* Out of memory at every allocation of the switch to the table: -1, and
 * the set answers as before once memory is back. */
static void test_out_of_memory(void)
{
    int all = 1, refused = 0;
    for (unsigned long fail = 1; fail <= 40; fail++) {
        idseen s;
        idseen_init(&s);
        char buf[32];
        unsigned long first = 0;
        for (unsigned long k = 1; k <= 500; k++) {
            make_id(buf, sizeof buf, k, 0);
            idseen_add(&s, buf, strlen(buf), k, &first);
        }
        mem_fail_at(fail); /* counts from here */
        int r = idseen_add(&s, "P000003", 7, 9999, &first);
        mem_fail_at(0);
        int again = idseen_add(&s, "P000003", 7, 9999, &first);
        int fresh = idseen_add(&s, "P000000", 7, 10000, &first);
        refused += r == -1;
        if (!((r == 0 || r == -1) && again == 0 && first == 3 && fresh == 1)) {
            printf("# failing allocation %lu: %d, then %d (first %lu), then %d\n", fail, r, again, first, fresh);
            all = 0;
        }
        idseen_free(&s);
    }
    ok(all && refused >= 3, "out of memory at any allocation of the switch to the table (%d of them): -1, and no id lost",
       refused);
}

int main(void)
{
    test_against_model();
    test_edges();
    test_memory();
    test_out_of_memory();
    printf("1..%d\n", ntests);
    return failures ? 1 : 0;
}
