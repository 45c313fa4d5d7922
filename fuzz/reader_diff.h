/* reader_diff.h — the differential check of fuzz_reader.c, shared with
 * tests/unit/test_fast_path.c, which replays logs in `make test`.
 *
 * The CSV reader parses a plain record on a fast path and declines to the
 * general path (split, then parse every field with full diagnostics) on
 * anything unusual.  Read once with the fast path and once without, a log
 * must give the same sequence of results, and for each patient the same
 * id, rows, line numbers, known flags and values (text by content: the two
 * paths may lay out the text store differently), and the same messages. */
#ifndef TENDO_READER_DIFF_H
#define TENDO_READER_DIFF_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvlog.h"
#include "diag.h"
#include "mem.h"
#include "schema.h"
#include "tendo.h"

typedef struct rd_side {
    logr *r;
    patient p;
    diag_list d;
    char *msg;      /* the messages of the last call, printed */
    size_t msg_len;
} rd_side;

/* The messages recorded since the last call, as printed, then cleared. */
static inline int rd_messages(rd_side *s)
{
    free(s->msg);
    s->msg = NULL;
    s->msg_len = 0;
    FILE *f = open_memstream(&s->msg, &s->msg_len);
    if (!f)
        return 0;
    diag_print(&s->d, f);
    if (fclose(f) != 0)
        return 0;
    tendo_diags_clear(&s->d);
    return 1;
}

static inline int rd_same_cell(const schema *sc, const patient *a, const patient *b, size_t row, size_t j)
{
    size_t at = row * a->ncols + j;
    if (a->known[at] != b->known[at])
        return 0;
    if (!a->known[at])
        return 1;
    const cell *x = &a->cells[at], *y = &b->cells[at];
    switch (sc->cols[j].type) {
    case COL_SCORE:
    case COL_NUMBER:
        /* Bit patterns: -0.0 against 0.0 would be a difference a view shows. */
        return memcmp(&x->num, &y->num, sizeof x->num) == 0;
    case COL_TEXT:
        return x->s.len == y->s.len &&
               (x->s.len == 0 || memcmp(a->text + x->s.off, b->text + y->s.off, x->s.len) == 0);
    default:
        return x->i == y->i;
    }
}

/* Where two patients differ, or NULL; *row (*col) is SIZE_MAX when the
 * difference is not in one row (one cell). */
static inline const char *rd_patient_diff(const schema *sc, const patient *a, const patient *b, size_t *row,
                                          size_t *col)
{
    *row = *col = SIZE_MAX;
    if (strcmp(a->id, b->id) != 0)
        return "id";
    if (a->nrows != b->nrows || a->ncols != b->ncols)
        return "row count";
    for (size_t i = 0; i < a->nrows; i++) {
        *row = i;
        if (a->line[i] != b->line[i])
            return "line number";
        for (size_t j = 0; j < a->ncols; j++)
            if (!rd_same_cell(sc, a, b, i, j)) {
                *col = j;
                return "cell";
            }
    }
    return NULL;
}

static inline int rd_open(rd_side *s, const schema *sc, const char *path, int fast)
{
    memset(s, 0, sizeof *s);
    diag_init(&s->d);
    patient_init(&s->p);
    s->r = logr_open(sc, path, &s->d);
    if (s->r)
        logr_set_fast_path(s->r, fast);
    return rd_messages(s);
}

static inline void rd_close(rd_side *s)
{
    logr_close(s->r);
    patient_free(&s->p);
    diag_free(&s->d);
    free(s->msg);
}

/* 0 when both paths agree on the log at path; otherwise 1, with the first
 * difference described on report.  -1 on a harness failure. */
static inline int rd_compare(const schema *sc, const char *path, FILE *report)
{
    rd_side f, g;
    int ok_f = rd_open(&f, sc, path, 1), ok_g = rd_open(&g, sc, path, 0), bad = 0, harness = !ok_f || !ok_g;
    if (!harness && ((f.r == NULL) != (g.r == NULL) || strcmp(f.msg, g.msg) != 0)) {
        fprintf(report, "%s: the two readers open the file differently\n", path);
        bad = 1;
    }
    for (unsigned long call = 1; !harness && !bad && f.r && g.r; call++) {
        int a = logr_next(f.r, &f.p, &f.d), b = logr_next(g.r, &g.p, &g.d);
        harness = !rd_messages(&f) || !rd_messages(&g);
        if (harness)
            break;
        size_t row = SIZE_MAX, col = SIZE_MAX;
        const char *what = NULL;
        if (a != b)
            what = "result";
        else if (strcmp(f.msg, g.msg) != 0)
            what = "messages";
        else if (a == LOGR_PATIENT)
            what = rd_patient_diff(sc, &f.p, &g.p, &row, &col);
        if (what) {
            fprintf(report, "%s: call %lu (results %d and %d): the fast and general paths differ in %s", path,
                    call, a, b, what);
            if (row != SIZE_MAX)
                fprintf(report, " at row %zu (line %lu)", row, g.p.line[row]);
            if (col != SIZE_MAX)
                fprintf(report, ", column '%s'", sc->cols[col].name);
            fprintf(report, "\n--- fast path:\n%s--- general path:\n%s", f.msg, g.msg);
            bad = 1;
        }
        if (a == LOGR_END)
            break;
    }
    if (!harness && !bad && f.r && logr_rows(f.r) != logr_rows(g.r)) {
        fprintf(report, "%s: the two readers count %lu and %lu rows\n", path, logr_rows(f.r), logr_rows(g.r));
        bad = 1;
    }
    rd_close(&f);
    rd_close(&g);
    return harness ? -1 : bad;
}

#endif
