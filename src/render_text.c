/* render_text.c — the clinician's view of a decision: who and when, what to
 * do and why (the deciding rule with the values it compared), what is still
 * missing for the next stage, and the next prescription.  With
 * TENDO_RENDER_TRACE it also lists every rule considered, for audit.
 *
 * Everything is written straight to the FILE*, so no input length can
 * overflow a buffer; values and doses go through view_str, which falls back
 * to the heap instead of cutting. */
#include <math.h>
#include <string.h>

#include "date.h"
#include "tendo.h"
#include "view.h"

/* Output state: the stream and a sticky memory error. */
typedef struct tw {
    FILE *f;
    const tendo_program *p;
    int oom;
} tw;

enum { LABEL_WIDTH = 13 };  /* "Patient      " */

/* ---- small writers ---------------------------------------------------- */

static const char *or_q(const char *s)
{
    return s ? s : "?";
}

/* Rule-file and log text on one line: a condition or a reason written over
 * several lines in the rule file would otherwise break the layout. */
static void put_clean(tw *w, const char *s)
{
    int space = 0, started = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == 0x7f) {
            space = started;
            continue;
        }
        if (space)
            fputc(' ', w->f);
        space = 0;
        started = 1;
        fputc(*s, w->f);
    }
}

static void put_label(tw *w, const char *label)
{
    fprintf(w->f, "%-*s", LABEL_WIDTH, label);
}

/* "name  (file:line)", or just "file:line" for an unnamed rule. */
static void put_entry_id(tw *w, const tr_rule *t)
{
    unsigned line;
    const char *file = view_entry_file(t, &line);
    const char *name = view_entry_name(t);
    if (name)
        fprintf(w->f, "%s  (%s:%u)", name, or_q(file), line);
    else
        fprintf(w->f, "%s:%u", or_q(file), line);
}

/* UTF-8 characters in s: exercise names carry dashes like "—". */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---- condition lines -------------------------------------------------- */

static const char *cond_tag(tri t)
{
    switch (t) {
    case T3_TRUE:  return "[true]";
    case T3_FALSE: return "[false]";
    default:       return "[unknown]";
    }
}

/* A gate missed by a number: how far the left side is from the right.
 * "short by" for a floor (>=, >), "over by" for a ceiling (<=, <), so
 * "pain = 5 <= 3  over by 2" is not read as "needs 2 more". */
static void put_short_by(tw *w, const tr_cond *c)
{
    if (c->result != T3_FALSE || c->lhs.kind != VK_NUM || c->rhs.kind != VK_NUM)
        return;
    const char *how = NULL;
    if (strcmp(c->op, ">=") == 0 || strcmp(c->op, ">") == 0)
        how = "short by";
    else if (strcmp(c->op, "<=") == 0 || strcmp(c->op, "<") == 0)
        how = "over by";
    if (!how)
        return;
    double gap = fabs(c->lhs.u.num - c->rhs.u.num);
    int strict = c->op[1] == '\0';
    if (strict) {
        /* Past a strict bound by the smallest step: 1 between whole
         * numbers; otherwise the gap alone would read "short by 0". */
        if (c->lhs.u.num == floor(c->lhs.u.num) && c->rhs.u.num == floor(c->rhs.u.num))
            gap += 1;
        else if (gap == 0) {
            fprintf(w->f, "  %s", how[0] == 's' ? "needs more" : "needs less");
            return;
        }
    }
    char num[32];
    view_num(num, sizeof num, gap);
    fprintf(w->f, "  %s %s", how, num);
}

/* "TEXT = VALUE", leaving out "= VALUE" when the text is the value itself
 * (a literal) so a clinician does not read "3 (3)". */
static void put_operand(tw *w, const char *text, const char *val, const char *fmt)
{
    put_clean(w, text);
    if (strcmp(text, val) != 0)
        fprintf(w->f, fmt, val);
}

static void put_comparison(tw *w, const tr_cond *c)
{
    view_str l, r;
    view_str_init(&l);
    view_str_init(&r);
    const char *lv = view_value_str(&l, &c->lhs, c->lhs_type, c->lhs_domain, w->p);
    const char *rv = view_value_str(&r, &c->rhs, c->rhs_type, c->rhs_domain, w->p);
    if (lv && rv) {
        /* "presentation = midportion = insertional" would read as a chain */
        int eq = strcmp(c->op, "=") == 0 || strcmp(c->op, "!=") == 0;
        put_operand(w, c->lhs_text, lv, eq ? " (%s)" : " = %s");
        fprintf(w->f, " %s ", c->op);
        put_operand(w, c->rhs_text, rv, " (%s)");
        put_short_by(w, c);
    } else {
        w->oom = 1;
    }
    view_str_free(&l);
    view_str_free(&r);
}

static void put_plain_cond(tw *w, const tr_cond *c)
{
    view_str v;
    view_str_init(&v);
    const char *vs = view_value_str(&v, &c->val, c->val_type, c->val_domain, w->p);
    if (vs) {
        put_clean(w, or_q(c->text));
        fprintf(w->f, " = %s", vs);
    } else {
        w->oom = 1;
    }
    view_str_free(&v);
}

/* "  over 3 rows 2024-05-17..2024-05-19": the rows an aggregate read. */
static void put_window(tw *w, const tr_cond *c)
{
    char first[11], last[11];
    if (c->win_rows == 0) {
        fputs("  over no rows", w->f);
        return;
    }
    date_format(c->win_first, first);
    date_format(c->win_last, last);
    fprintf(w->f, "  over %zu %s %s", c->win_rows, c->win_rows == 1 ? "row" : "rows", first);
    if (c->win_last != c->win_first)
        fprintf(w->f, "..%s", last);
}

static void put_cond(tw *w, const tr_cond *c, int indent)
{
    fprintf(w->f, "%*s%-10s", indent, "", cond_tag(c->result));
    if (c->is_cmp && c->lhs_text && c->rhs_text && c->op)
        put_comparison(w, c);
    else
        put_plain_cond(w, c);
    if (c->has_window)
        put_window(w, c);
    if (c->note) {
        fputs("  (", w->f);
        put_clean(w, c->note);
        fputc(')', w->f);
    }
    fputc('\n', w->f);
}

/* ---- header ----------------------------------------------------------- */

/* A SHA-256 is for machines; people compare its ends. */
static void put_sha(tw *w, const char *sha)
{
    size_t n = strlen(sha);
    if (n <= 16)
        fputs(sha, w->f);
    else
        fprintf(w->f, "%.12s...%s", sha, sha + n - 4);
}

static void put_header(tw *w, const decision *dec)
{
    char day[11];
    const tendo_program *p = w->p;
    put_label(w, "Patient");
    put_clean(w, or_q(dec->patient));
    date_format(dec->as_of, day);
    fprintf(w->f, "\n%-*s%s  (%zu %s)\n", LABEL_WIDTH, "As of", day, dec->nrows,
            dec->nrows == 1 ? "row" : "rows");
    put_label(w, "Protocol");
    fprintf(w->f, "%s %s  sha256 ", or_q(p->id), or_q(p->version));
    put_sha(w, p->sha256);
    fputc('\n', w->f);
    put_label(w, "Stage");
    const char *cur = view_stage_name(p, dec->stage);
    if (!cur) {
        fputs("none\n", w->f);
        return;
    }
    fprintf(w->f, "%s  (day %d in stage, %d %s)\n", cur, dec->days_in_stage,
            dec->sessions_in_stage, dec->sessions_in_stage == 1 ? "session" : "sessions");
}

/* ---- decision --------------------------------------------------------- */

static void put_decision_line(tw *w, const decision *dec)
{
    const char *to = or_q(view_stage_name(w->p, dec->next_stage));
    put_label(w, "Decision");
    switch (dec->kind) {
    case K_STOP:    fputs("STOP", w->f); break;
    case K_REGRESS: fprintf(w->f, "REGRESS to %s", to); break;
    case K_ADVANCE: fprintf(w->f, "ADVANCE to %s", to); break;
    case K_HOLD:    fputs("HOLD", w->f); break;
    default: {
        const char *k = kind_name(dec->kind);  /* refer/flag never decide */
        for (; *k; k++)
            fputc(*k >= 'a' && *k <= 'z' ? *k - 'a' + 'A' : *k, w->f);
    }
    }
    if (dec->volume < 1 && dec->kind != K_STOP) {
        char pct[32];
        view_num(pct, sizeof pct, (1 - dec->volume) * 100);
        fprintf(w->f, ", reduce volume %s%%", pct);
    }
    if (dec->for_days > 0) {
        char days[32];
        view_num(days, sizeof days, dec->for_days);
        fprintf(w->f, " for %s days", days);
    }
    fputc('\n', w->f);
}

static const tr_rule *find_entry(const decision *dec, const rule *r)
{
    for (size_t i = 0; i < dec->ntrace; i++)
        if (dec->trace[i].r == r)
            return &dec->trace[i];
    return NULL;
}

/* Advance rules that did not hold: what the patient still has to reach. */
static void put_not_yet_met(tw *w, const decision *dec)
{
    int header = 0;
    for (size_t i = 0; i < dec->ntrace; i++) {
        const tr_rule *t = &dec->trace[i];
        if (!t->r || t->r->kind != K_ADVANCE ||
            (t->status != TR_FALSE && t->status != TR_UNKNOWN))
            continue;
        if (!header)
            fputs("Not yet met:\n", w->f);
        header = 1;
        fputs("  ", w->f);
        put_entry_id(w, t);
        fputc('\n', w->f);
        for (size_t j = 0; j < t->nconds; j++)
            if (t->conds[j].result != T3_TRUE)
                put_cond(w, &t->conds[j], 4);
    }
}

static void put_rule(tw *w, const decision *dec)
{
    put_label(w, "Rule");
    if (!dec->rule) {
        fputs("none: no rule applies, continue the current prescription\n", w->f);
        put_not_yet_met(w, dec);
        return;
    }
    tr_rule only = { .r = dec->rule };
    put_entry_id(w, &only);
    fputc('\n', w->f);
    const tr_rule *t = find_entry(dec, dec->rule);
    for (size_t j = 0; t && j < t->nconds; j++)
        put_cond(w, &t->conds[j], 2);
}

static void put_refer_flags(tw *w, const decision *dec)
{
    if (dec->refer || dec->urgent) {
        put_label(w, "Refer");
        fputs(dec->urgent ? (dec->refer ? "URGENT: " : "URGENT") : "", w->f);
        put_clean(w, dec->refer);
        fputc('\n', w->f);
    }
    if (dec->nflags > 0) {
        put_label(w, "Flags");
        for (size_t i = 0; i < dec->nflags; i++) {
            fputs(i ? ", " : "", w->f);
            put_clean(w, dec->flags[i]);
        }
        fputc('\n', w->f);
    }
}

static void put_decision(tw *w, const decision *dec)
{
    put_decision_line(w, dec);
    if (dec->because) {
        put_label(w, "Because");
        put_clean(w, dec->because);
        fputc('\n', w->f);
    }
    put_rule(w, dec);
    put_refer_flags(w, dec);
}

/* ---- trace ------------------------------------------------------------ */

static void put_trace(tw *w, const decision *dec)
{
    fputs("\nTrace (every rule considered):\n", w->f);
    for (size_t i = 0; i < dec->ntrace; i++) {
        const tr_rule *t = &dec->trace[i];
        unsigned line;
        const char *file = view_entry_file(t, &line);
        const char *name = view_entry_name(t);
        /* a space after each padded column keeps long statuses apart */
        fprintf(w->f, "  %-9s %-9s %s  %s:%u", view_status_name(t->status),
                view_entry_kind(t), name ? name : "-", or_q(file), line);
        if (t->why) {
            fputs("  -- ", w->f);
            put_clean(w, t->why);
        }
        fputc('\n', w->f);
        for (size_t j = 0; j < t->nconds; j++)
            put_cond(w, &t->conds[j], 6);
    }
}

/* ---- prescription ----------------------------------------------------- */

static void put_notes(tw *w, const out_dose *d, int indent)
{
    if (d->d.note) {
        fprintf(w->f, "%*snote: ", indent, "");
        put_clean(w, d->d.note);
        fputc('\n', w->f);
    }
    for (size_t i = 0; i < d->nnotes; i++) {
        fprintf(w->f, "%*snote: ", indent, "");
        put_clean(w, d->notes[i]);
        fputc('\n', w->f);
    }
}

/* "  1. Exercise   dose", exercise names padded so the doses line up. */
static void put_dose(tw *w, const out_dose *d, size_t num, size_t name_width)
{
    const char *ex = or_q(d->d.exercise);
    int lead = fprintf(w->f, "  %zu. ", num);
    put_clean(w, ex);
    view_str v;
    view_str_init(&v);
    const char *ds = view_dose_str(&v, d);
    if (!ds)
        w->oom = 1;
    else if (*ds)
        fprintf(w->f, "%*s%s", (int)(name_width - text_width(ex)) + 3, "", ds);
    view_str_free(&v);
    fputc('\n', w->f);
    put_notes(w, d, lead > 0 ? lead : 5);
}

static void put_next_stage(tw *w, const decision *dec)
{
    int next = dec->next_stage;
    const char *name = view_stage_name(w->p, next);
    fprintf(w->f, "Next prescription: %s", or_q(name));
    if (name && w->p->stages[next].title) {
        fputs(" \xe2\x80\x94 ", w->f);  /* em dash */
        put_clean(w, w->p->stages[next].title);
    }
    fputc('\n', w->f);
}

static void put_prescription(tw *w, const decision *dec)
{
    if (dec->kind == K_STOP) {
        fputs("Next prescription: loading suspended until the patient has been assessed\n", w->f);
        return;
    }
    put_next_stage(w, dec);
    size_t width = 0;
    for (size_t i = 0; i < dec->ndoses; i++) {
        size_t n = text_width(or_q(dec->doses[i].d.exercise));
        width = n > width ? n : width;
    }
    for (size_t i = 0; i < dec->ndoses; i++)
        put_dose(w, &dec->doses[i], i + 1, width);
    if (dec->ndoses == 0)
        fputs("  (no exercises listed)\n", w->f);
    if (dec->navoid > 0) {
        fputs("  Avoid: ", w->f);
        for (size_t i = 0; i < dec->navoid; i++) {
            fputs(i ? ", " : "", w->f);
            put_clean(w, dec->avoid[i]);
        }
        fputc('\n', w->f);
    }
    if (dec->volume != 1) {
        char pct[32];
        view_num(pct, sizeof pct, dec->volume * 100);
        fprintf(w->f, "  Volume %s%% of the usual dose: the doses above already include it\n", pct);
    }
}

/* ---- entry point ------------------------------------------------------ */

int tendo_render_text(const tendo_decision *dec, const tendo_program *p, FILE *out, int flags)
{
    if (!dec || !p || !out)
        return -1;
    tw w = { out, p, 0 };
    put_header(&w, dec);
    fputc('\n', out);
    put_decision(&w, dec);
    if (flags & TENDO_RENDER_TRACE)
        put_trace(&w, dec);
    fputc('\n', out);
    put_prescription(&w, dec);
    fputs("\n" TENDO_DISCLAIMER "\n", out);
    return w.oom || ferror(out) ? -1 : 0;
}
