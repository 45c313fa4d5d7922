/* eval.h — evaluating checked expressions against one patient's rows.
 * Internal to libtendo; decide.c drives it. */
#ifndef TENDO_EVAL_H
#define TENDO_EVAL_H

#include "decision.h"
#include "program.h"
#include "schema.h"

/* What the trace wants to know about the first aggregate of a condition. */
typedef struct win_capture {
    int armed, taken;
    size_t rows;
    int32_t first, last;
} win_capture;

struct evaluator {
    const tendo_program *p;
    arena ar;               /* the decision and its trace; reset per patient */
    rx_scratch *rx;
    const patient *pt;
    size_t n;               /* visible rows */
    int32_t as_of;
    /* Per-patient indexes, reused across patients (capacity kept). */
    int32_t *date;          /* date of each visible row */
    uint32_t *run_start;    /* first row of the stage run that holds row i */
    uint32_t *sess_before;  /* sessions in rows [0, i) ; n+1 entries ... */
    uint8_t *is_session;    /* ... both filled only with a session rule: see below */
    size_t idx_cap;
    value *dcache;          /* derived values by (derived, row) */
    uint8_t *dstate;        /* 0 not computed, 1 computing, 2 done */
    size_t dcache_cap;
    win_capture cap;
    int rx_error;           /* a regex hit its match limit during this patient */
    int oom;
    decision dec;
};

typedef struct evaluator evaluator;

/* Sessions in rows [0, i), and whether row i is one.  Without a session
 * rule every row is a session, and the tables are left unfilled (filling
 * them took 2 % of a bench run). */
static inline uint32_t sessions_before(const evaluator *ev, long i)
{
    return ev->p->session ? ev->sess_before[i] : (uint32_t)i;
}

static inline int is_session(const evaluator *ev, long i)
{
    return ev->p->session ? ev->is_session[i] : (size_t)i < ev->n;
}

/* Bind a patient's rows visible at as_of; 0 on out of memory. */
int eval_bind(evaluator *ev, const patient *pt, int32_t as_of);
/* Value of e in the context of row (-1: no row) and date `now`. */
value eval_at(evaluator *ev, const cx *e, long row, int32_t now);
/* Top-level context: the last visible row, as of the as-of date. */
value eval_top(evaluator *ev, const cx *e);
tri eval_tri(value v);
/* Comparison of two known or unknown values (Kleene: unknown in, unknown out). */
tri eval_compare(cx_op op, value l, value r);

#endif
