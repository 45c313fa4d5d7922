/* decide.c — from rule results to a decision record.
 *
 * Every global rule and every rule of the current stage is evaluated.  The
 * most cautious true decision wins (stop > regress > hold > advance), the
 * first in file order within a kind; refer and flag rules and modifiers
 * apply alongside.  With tracing on, each condition of each rule is
 * evaluated separately so the record shows every value compared. */
#include "eval.h"
#include "mem.h"
#include "tendo.h"

#include <math.h>
#include <string.h>

tendo_eval *tendo_eval_new(const tendo_program *p)
{
    evaluator *ev = mem_calloc(1, sizeof *ev);
    if (!ev)
        return NULL;
    ev->p = p;
    arena_init(&ev->ar);
    ev->rx = rx_scratch_new();
    if (!ev->rx) {
        mem_free(ev);
        return NULL;
    }
    return ev;
}

void tendo_eval_free(tendo_eval *ev)
{
    if (!ev)
        return;
    arena_free(&ev->ar);
    rx_scratch_free(ev->rx);
    mem_free(ev->date);
    mem_free(ev->run_start);
    mem_free(ev->sess_before);
    mem_free(ev->is_session);
    mem_free(ev->dcache);
    mem_free(ev->dstate);
    mem_free(ev);
}

static void *alloc(evaluator *ev, size_t n)
{
    void *p = arena_zalloc(&ev->ar, n ? n : 1);
    if (!p)
        ev->oom = 1;
    return p;
}

/* ---- conditions and the trace ------------------------------------------ */

static int is_comparison(cx_op op)
{
    return op >= CX_EQ && op <= CX_GE;
}

static const char *op_text(cx_op op)
{
    static const char *names[] = { "=", "!=", "<", "<=", ">", ">=" };
    return is_comparison(op) ? names[op - CX_EQ] : "";
}

static tri eval_condition(evaluator *ev, const cx *c, tr_cond *out)
{
    long row = (long)ev->n - 1;
    ev->cap = (win_capture){ .armed = 1 };
    out->text = c->text;
    if (is_comparison(c->op)) {
        out->is_cmp = 1;
        out->op = op_text(c->op);
        out->lhs_text = c->a->text;
        out->rhs_text = c->b->text;
        out->lhs = eval_at(ev, c->a, row, ev->as_of);
        out->rhs = eval_at(ev, c->b, row, ev->as_of);
        out->lhs_type = c->a->type;
        out->rhs_type = c->b->type;
        out->lhs_domain = c->a->domain;
        out->rhs_domain = c->b->domain;
        out->result = eval_compare(c->op, out->lhs, out->rhs);
        if (out->result == T3_UNKNOWN)
            out->note = out->lhs.kind == VK_UNKNOWN ? "the left side is unknown" : "the right side is unknown";
    } else {
        out->val = eval_at(ev, c, row, ev->as_of);
        out->val_type = c->type;
        out->val_domain = c->domain;
        out->result = eval_tri(out->val);
        if (out->result == T3_UNKNOWN)
            out->note = "unknown";
    }
    if (ev->cap.taken) {
        out->has_window = 1;
        out->win_rows = ev->cap.rows;
        out->win_first = ev->cap.first;
        out->win_last = ev->cap.last;
        if (out->result == T3_UNKNOWN && ev->cap.rows == 0)
            out->note = "no rows in the window";
    }
    if (out->result == T3_UNKNOWN && ev->rx_error)
        out->note = "a regex hit its match limit on this patient's notes";
    ev->cap.armed = 0;
    return out->result;
}

static tri eval_rule(evaluator *ev, const rule *r, tr_rule *t, int trace)
{
    if (!trace)
        return eval_tri(eval_top(ev, r->cond));
    t->r = r;
    t->conds = alloc(ev, r->nconds * sizeof *t->conds);
    if (!t->conds)
        return T3_UNKNOWN;
    t->nconds = r->nconds;
    tri all = T3_TRUE;
    for (size_t i = 0; i < r->nconds; i++) {
        tri c = eval_condition(ev, r->conds[i], &t->conds[i]);
        if (c == T3_FALSE)
            all = T3_FALSE;
        else if (c == T3_UNKNOWN && all == T3_TRUE)
            all = T3_UNKNOWN;
    }
    t->result = all;
    return all;
}

/* ---- choosing the decision ---------------------------------------------- */

static int applies_here(const evaluator *ev, const rule *r, int cur)
{
    (void)ev;
    return r->stage < 0 || r->stage == cur;
}

/* An advance with nowhere to go (global rule at the last stage) is not a decision. */
static int advance_possible(const evaluator *ev, const rule *r, int cur)
{
    return r->kind != K_ADVANCE || r->target >= 0 || (size_t)cur + 1 < ev->p->nstages;
}

static int next_stage_of(const evaluator *ev, const rule *r, int cur)
{
    if (r->target >= 0)
        return r->target;
    if (r->kind == K_ADVANCE)
        return (size_t)cur + 1 < ev->p->nstages ? cur + 1 : cur;
    if (r->kind == K_REGRESS)
        return cur > 0 ? cur - 1 : 0;
    return cur;
}

static void add_text(evaluator *ev, const char ***list, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], s) == 0)
            return;
    const char **grown = alloc(ev, (*n + 1) * sizeof *grown);
    if (!grown)
        return;
    if (*n)
        memcpy(grown, *list, *n * sizeof *grown);
    grown[(*n)++] = s;
    *list = grown;
}

static const char *join_refer(evaluator *ev, const char *a, const char *b)
{
    if (!a)
        return b;
    size_t la = strlen(a), lb = strlen(b);
    char *s = alloc(ev, la + lb + 3);
    if (!s)
        return a;
    memcpy(s, a, la);
    memcpy(s + la, "; ", 2);
    memcpy(s + la + 2, b, lb + 1);
    return s;
}

static const char *why_lost(const rule *winner, const rule *r)
{
    if (winner->kind != r->kind)
        return "a more cautious decision fired";
    return "an earlier rule of the same kind fired";
}

static void settle_trace(evaluator *ev, tr_rule *t, tri res, const rule *winner, int possible)
{
    const rule *r = t->r;
    t->result = res;
    if (!possible) {
        t->status = TR_NOT_APPLICABLE;
        t->why = "already at the last stage: nowhere to advance";
    } else if (res == T3_FALSE) {
        t->status = TR_FALSE;
        t->why = "its condition is false";
    } else if (res == T3_UNKNOWN) {
        t->status = TR_UNKNOWN;
        t->why = "its condition is unknown, so it does not fire";
    } else if (r->kind == K_REFER || r->kind == K_FLAG) {
        t->status = TR_APPLIED;
        t->why = r->kind == K_REFER ? "referral added alongside the decision" : "flag raised";
    } else if (r == winner) {
        t->status = TR_WON;
        t->why = r->kind == K_STOP ? "stop outranks every other decision"
                 : "the most cautious decision that fired, first in file order";
    } else {
        t->status = TR_ALSO_TRUE;
        t->why = why_lost(winner, r);
    }
    (void)ev;
}

static void decide_rules(evaluator *ev, int cur, int trace)
{
    const tendo_program *p = ev->p;
    decision *d = &ev->dec;
    tr_rule *tr = trace ? alloc(ev, (p->nrules + p->nmods) * sizeof *tr) : NULL;
    tri *res = alloc(ev, p->nrules * sizeof *res);
    if ((trace && !tr) || !res)
        return;
    const rule *winner = NULL;
    size_t nt = 0;
    size_t *slot = alloc(ev, p->nrules * sizeof *slot);
    if (!slot)
        return;
    for (size_t i = 0; i < p->nrules; i++) {
        const rule *r = &p->rules[i];
        if (!applies_here(ev, r, cur))
            continue;
        slot[i] = nt;
        res[i] = eval_rule(ev, r, trace ? &tr[nt] : NULL, trace);
        nt++;
        if (res[i] != T3_TRUE || !advance_possible(ev, r, cur))
            continue;
        if (r->kind == K_REFER)
            d->refer = join_refer(ev, d->refer, r->refer);
        else if (r->kind == K_FLAG)
            add_text(ev, &d->flags, &d->nflags, r->flag);
        else if (!winner || r->kind < winner->kind)
            winner = r;
    }
    d->rule = winner;
    if (winner && winner->kind != K_STOP && winner->refer)
        d->refer = d->refer ? join_refer(ev, winner->refer, d->refer) : winner->refer;
    if (winner && winner->kind == K_STOP) {
        /* Every stop that fired says whom to see: all of them, in file
         * order, before any non-urgent referral. */
        const char *urgent = NULL;
        for (size_t i = 0; i < p->nrules; i++)
            if (applies_here(ev, &p->rules[i], cur) && res[i] == T3_TRUE && p->rules[i].kind == K_STOP)
                urgent = join_refer(ev, urgent, p->rules[i].refer);
        d->refer = d->refer ? join_refer(ev, urgent, d->refer) : urgent;
    }
    if (trace) {
        for (size_t i = 0; i < p->nrules; i++)
            if (applies_here(ev, &p->rules[i], cur))
                settle_trace(ev, &tr[slot[i]], res[i], winner, advance_possible(ev, &p->rules[i], cur));
        d->trace = tr;
        d->ntrace = nt;
    }
}

/* ---- prescription ------------------------------------------------------- */

static double scaled(double v, double volume)
{
    if (v <= 0 || volume == 1)
        return v;
    double s = floor(v * volume + 0.5 + 1e-9); /* 15 x 0.1 = 1.5 rounds up */
    return s < 1 ? 1 : s;
}

/* Volume scales the repetitions (or holds, or minutes), never the load. */
static void apply_volume(dose *o, double volume)
{
    if (o->hold_s > 0)
        o->sets = scaled(o->sets, volume);
    else if (o->reps > 0) {
        o->reps = scaled(o->reps, volume);
        o->reps_max = scaled(o->reps_max, volume);
    } else if (o->minutes > 0)
        o->minutes = scaled(o->minutes, volume);
    else
        o->sets = scaled(o->sets, volume);
}

static int stmt_applies(evaluator *ev, const mod_stmt *s, const dose *o)
{
    return !s->only || rx_match(s->only, o->exercise, strlen(o->exercise), ev->rx) == 1;
}

static void apply_stmt(evaluator *ev, const mod_stmt *s, out_dose *o)
{
    switch (s->kind) {
    case M_SURFACE: o->d.surface = s->text; break;
    case M_RANGE: o->d.range = s->text; break;
    case M_KNEE: o->d.knee = s->text; break;
    case M_NOTE: add_text(ev, &o->notes, &o->nnotes, s->text); break;
    case M_VOLUME: if (s->only) apply_volume(&o->d, s->pct / 100); break;
    default: break;
    }
}

static void build_prescription(evaluator *ev, const int *mods_on)
{
    decision *d = &ev->dec;
    const tendo_program *p = ev->p;
    if (d->kind == K_STOP)
        return;
    const stage *st = &p->stages[d->next_stage];
    d->doses = alloc(ev, st->ndoses * sizeof *d->doses);
    if (!d->doses)
        return;
    d->ndoses = st->ndoses;
    for (size_t i = 0; i < st->ndoses; i++) {
        out_dose *o = &d->doses[i];
        o->d = st->doses[i];
        for (size_t m = 0; m < p->nmods; m++) {
            if (!mods_on[m])
                continue;
            for (size_t k = 0; k < p->mods[m].nstmts; k++)
                if (stmt_applies(ev, &p->mods[m].stmts[k], &o->d))
                    apply_stmt(ev, &p->mods[m].stmts[k], o);
        }
        apply_volume(&o->d, d->volume);
    }
}

static void apply_modifiers(evaluator *ev, int trace, int *on)
{
    const tendo_program *p = ev->p;
    decision *d = &ev->dec;
    for (size_t m = 0; m < p->nmods; m++) {
        const modifier *md = &p->mods[m];
        tr_rule *t = trace ? &d->trace[d->ntrace++] : NULL;
        tr_cond *c = trace ? alloc(ev, sizeof *c) : NULL;
        tri res = c ? eval_condition(ev, md->cond, c) : eval_tri(eval_top(ev, md->cond));
        on[m] = res == T3_TRUE;
        if (t) {
            *t = (tr_rule){ .m = md, .result = res, .conds = c, .nconds = c ? 1 : 0,
                            .status = res == T3_TRUE ? TR_APPLIED : res == T3_FALSE ? TR_FALSE : TR_UNKNOWN,
                            .why = res == T3_TRUE ? "applied to the next prescription"
                                   : res == T3_FALSE ? "its condition is false"
                                                     : "its condition is unknown, so it does not apply" };
        }
        if (!on[m])
            continue;
        for (size_t k = 0; k < md->nstmts; k++) {
            const mod_stmt *s = &md->stmts[k];
            if (s->kind == M_FLAG)
                add_text(ev, &d->flags, &d->nflags, s->text);
            else if (s->kind == M_AVOID)
                add_text(ev, &d->avoid, &d->navoid, s->text);
            else if (s->kind == M_VOLUME && !s->only && d->kind != K_STOP)
                d->volume *= s->pct / 100; /* restricted ones scale their exercises; a stop has no dose */
        }
    }
}

/* ---- the entry point ---------------------------------------------------- */

static int current_stage(const evaluator *ev)
{
    int col = ev->p->sch.stage_col;
    if (ev->n == 0 || col < 0 || !patient_known(ev->pt, ev->n - 1, (size_t)col))
        return 0;
    return patient_cell(ev->pt, ev->n - 1, (size_t)col)->i;
}

static void fill_header(evaluator *ev, const patient *pt, int cur)
{
    decision *d = &ev->dec;
    d->patient = pt->id;
    d->log_path = pt->path;
    d->as_of = ev->as_of;
    d->nrows = ev->n;
    d->stage = cur;
    if (ev->n) {
        long row = (long)ev->n - 1;
        d->days_in_stage = (int)(ev->as_of - ev->date[ev->run_start[row]] + 1);
        d->sessions_in_stage = (int)(sessions_before(ev, row + 1) - sessions_before(ev, ev->run_start[row]));
    }
}

static void fill_outcome(evaluator *ev, int cur)
{
    decision *d = &ev->dec;
    const rule *w = d->rule;
    d->volume = 1;
    if (!w) {
        d->kind = K_HOLD;
        d->next_stage = cur;
        d->because = "no rule applies: continue the current prescription";
        return;
    }
    d->kind = w->kind;
    d->next_stage = next_stage_of(ev, w, cur);
    d->because = w->because;
    d->volume = w->volume;
    d->for_days = w->for_days;
    d->urgent = w->kind == K_STOP; /* its referrals were gathered in decide_rules */
}

const tendo_decision *tendo_decide(tendo_eval *ev, const tendo_patient *pt, const tendo_opts *o)
{
    arena_reset(&ev->ar);
    ev->oom = 0;
    memset(&ev->dec, 0, sizeof ev->dec);
    int32_t as_of = o && o->has_as_of ? o->as_of
                    : pt->nrows ? patient_cell(pt, pt->nrows - 1, (size_t)ev->p->sch.date_col)->i : 0;
    if (!eval_bind(ev, pt, as_of))
        return NULL;
    int trace = o && o->trace;
    int cur = current_stage(ev);
    fill_header(ev, pt, cur);
    decide_rules(ev, cur, trace);
    if (ev->oom)
        return NULL; /* the trace may be missing: do not build on it */
    fill_outcome(ev, cur);
    int *on = alloc(ev, (ev->p->nmods + 1) * sizeof *on);
    if (on) {
        apply_modifiers(ev, trace, on);
        build_prescription(ev, on);
    }
    return ev->oom ? NULL : &ev->dec;
}
