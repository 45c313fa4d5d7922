/* view.c — formatting shared by the views (see view.h): values, numbers,
 * doses and the names of kinds, statuses and truth values. */
#include "view.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "mem.h"

/* ---- bounded writer --------------------------------------------------- */

/* Copies what fits into buf and counts everything, like snprintf, so one
 * formatting pass serves both "how long?" and "write it". */
typedef struct sink {
    char *buf;
    size_t n;      /* capacity, NUL included */
    size_t len;    /* bytes the full text needs */
    unsigned char next;  /* first byte that did not fit, to cut at a character */
} sink;

static void sink_put(sink *s, const char *p, size_t k)
{
    if (s->n > 0 && s->len < s->n - 1) {
        size_t room = s->n - 1 - s->len;
        memcpy(s->buf + s->len, p, k < room ? k : room);
        if (k > room)
            s->next = (unsigned char)p[room];
    }
    s->len += k;
}

static void sink_puts(sink *s, const char *p)
{
    sink_put(s, p, strlen(p));
}

/* User text on one line: a newline or tab inside a note or dose field would
 * break the layout of every view that shows it. */
static void sink_put_clean(sink *s, const char *p, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)p[i];
        char ch = c < 0x20 || c == 0x7f ? ' ' : p[i];
        sink_put(s, &ch, 1);
    }
}

static void sink_printf(sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sink_printf(sink *s, const char *fmt, ...)
{
    char tmp[64];  /* only numbers and dates go through here */
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0)
        sink_put(s, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* Terminate; when the text was cut, back off to a character boundary so a
 * cut never leaves half a UTF-8 sequence. */
static size_t sink_end(sink *s)
{
    if (s->n == 0)
        return s->len;
    size_t end = s->len < s->n - 1 ? s->len : s->n - 1;
    if (end < s->len) {
        unsigned char c = s->next;
        while (end > 0 && (c & 0xC0) == 0x80)
            c = (unsigned char)s->buf[--end];
    }
    s->buf[end] = '\0';
    return s->len;
}

static int clamp_int(size_t k)
{
    return k > INT_MAX ? INT_MAX : (int)k;
}

/* ---- numbers and values ----------------------------------------------- */

/* "%.6g".  A whole number below a million prints as its digits under %g,
 * so it is written here without printf: a batch writes one a patient. */
static void sink_num(sink *s, double x)
{
    if (x == 0)
        x = 0;  /* -0 would print as "-0" */
    if (x == floor(x) && fabs(x) < 1e6) {
        char tmp[8], *e = tmp + sizeof tmp, *p = e;
        long v = (long)fabs(x);
        do
            *--p = (char)('0' + v % 10);
        while ((v /= 10) > 0);
        if (x < 0)
            *--p = '-';
        sink_put(s, p, (size_t)(e - p));
        return;
    }
    sink_printf(s, "%.6g", x);
}

int view_num(char *buf, size_t n, double x)
{
    sink s = { buf, n, 0, 0 };
    sink_num(&s, x);
    return clamp_int(sink_end(&s));
}

int view_is_whole(double x)
{
    return isfinite(x) && x == floor(x) && fabs(x) <= 9007199254740992.0;
}

const char *view_stage_name(const tendo_program *p, int idx)
{
    if (!p || idx < 0 || (size_t)idx >= p->nstages)
        return NULL;
    return p->stages[idx].name;
}

static const char *enum_name(const tendo_program *p, int domain, int32_t sym)
{
    if (!p || domain < 0 || (size_t)domain >= p->sch.ncols || !p->cols)
        return NULL;
    const sch_column *c = &p->cols[domain];
    if (sym < 0 || (size_t)sym >= c->nvalues)
        return NULL;
    return c->values[sym];
}

/* Quoted, one line, at most VIEW_TEXT_MAX bytes inside the quotes. */
static void sink_text(sink *s, const char *t, size_t len)
{
    sink_puts(s, "\"");
    if (len <= VIEW_TEXT_MAX) {
        sink_put_clean(s, t, len);
    } else {
        size_t cut = VIEW_TEXT_MAX - 3;
        while (cut > 0 && ((unsigned char)t[cut] & 0xC0) == 0x80)
            cut--;
        sink_put_clean(s, t, cut);
        sink_puts(s, "...");
    }
    sink_puts(s, "\"");
}

static void sink_sym(sink *s, const value *v, vtype t, int domain, const tendo_program *p)
{
    const char *name = t == TY_STAGE ? view_stage_name(p, v->u.sym)
                                     : enum_name(p, domain, v->u.sym);
    if (name)
        sink_puts(s, name);
    else
        sink_printf(s, "#%ld", (long)v->u.sym);  /* never expected: checked at load */
}

static void sink_value(sink *s, const value *v, vtype t, int domain, const tendo_program *p)
{
    char day[11];
    switch (v->kind) {
    case VK_NUM:  sink_num(s, v->u.num); break;
    case VK_BOOL: sink_puts(s, v->u.b ? "yes" : "no"); break;
    case VK_DATE: date_format(v->u.date, day); sink_puts(s, day); break;
    case VK_TEXT: sink_text(s, v->u.s, v->len); break;
    case VK_SYM:  sink_sym(s, v, t, domain, p); break;
    case VK_UNKNOWN:
    default:      sink_puts(s, "unknown"); break;
    }
}

int view_value(char *buf, size_t n, const value *v, vtype t, int domain,
               const tendo_program *p)
{
    sink s = { buf, n, 0, 0 };
    sink_value(&s, v, t, domain, p);
    return clamp_int(sink_end(&s));
}

/* ---- doses ------------------------------------------------------------ */

/* Start the next comma-separated part of a dose. */
static void part(sink *s)
{
    if (s->len > 0)
        sink_puts(s, ", ");
}

static void sink_plural(sink *s, double x, const char *one, const char *many)
{
    sink_num(s, x);
    sink_puts(s, x == 1 ? one : many);
}

/* A free word like a surface: quoted when it holds spaces or commas, so
 * `surface "flat ground"` cannot be misread as two settings. */
static void sink_word(sink *s, const char *label, const char *w)
{
    part(s);
    sink_puts(s, label);
    size_t len = strlen(w);
    if (len == 0 || strpbrk(w, " \t,\"") != NULL) {
        sink_puts(s, "\"");
        sink_put_clean(s, w, len);
        sink_puts(s, "\"");
    } else {
        sink_put_clean(s, w, len);
    }
}

static void sink_reps(sink *s, const dose *d)
{
    sink_num(s, d->reps);
    if (d->reps_max > d->reps) {
        sink_puts(s, "-");
        sink_num(s, d->reps_max);
    }
}

/* "3 x 15", "5 x hold 45 s", "3 x 5 minutes", "15 reps"; hold and minutes
 * that the sets did not take come after as their own parts. */
static void sink_amount(sink *s, const dose *d)
{
    int hold_done = 0, minutes_done = 0;
    if (d->sets > 0) {
        sink_num(s, d->sets);
        if (d->reps > 0) {
            sink_puts(s, " x ");
            sink_reps(s, d);
        } else if (d->hold_s > 0) {
            sink_puts(s, " x hold ");
            sink_num(s, d->hold_s);
            sink_puts(s, " s");
            hold_done = 1;
        } else if (d->minutes > 0) {
            sink_puts(s, " x ");
            sink_plural(s, d->minutes, " minute", " minutes");
            minutes_done = 1;
        } else {
            sink_puts(s, d->sets == 1 ? " set" : " sets");
        }
    } else if (d->reps > 0) {
        sink_reps(s, d);
        sink_puts(s, " reps");
    }
    if (d->hold_s > 0 && !hold_done) {
        part(s);
        sink_puts(s, "hold ");
        sink_num(s, d->hold_s);
        sink_puts(s, " s");
    }
    if (d->minutes > 0 && !minutes_done) {
        part(s);
        sink_puts(s, "for ");
        sink_plural(s, d->minutes, " minute", " minutes");
    }
}

static void sink_load(sink *s, const dose *d)
{
    part(s);
    sink_puts(s, "load ");
    sink_num(s, d->load_lo);
    if (d->load_hi > d->load_lo) {
        sink_puts(s, "-");
        sink_num(s, d->load_hi);
    }
    if (d->load_unit && *d->load_unit) {
        sink_puts(s, " ");
        sink_put_clean(s, d->load_unit, strlen(d->load_unit));
    }
}

static void sink_dose(sink *s, const dose *d)
{
    sink_amount(s, d);
    if (d->tempo && *d->tempo) {
        part(s);
        sink_puts(s, "tempo ");
        sink_put_clean(s, d->tempo, strlen(d->tempo));
    }
    if (d->effort > 0) {
        part(s);
        sink_puts(s, "effort ");
        sink_num(s, d->effort);
        sink_puts(s, "/10");
    }
    if (d->has_load)
        sink_load(s, d);
    if (d->frequency && *d->frequency) {
        part(s);
        sink_put_clean(s, d->frequency, strlen(d->frequency));
    }
    if (d->knee)
        sink_word(s, "knee ", d->knee);
    if (d->surface)
        sink_word(s, "surface ", d->surface);
    if (d->range)
        sink_word(s, "range ", d->range);
}

size_t view_dose(char *buf, size_t n, const out_dose *d)
{
    sink s = { buf, n, 0, 0 };
    sink_dose(&s, &d->d);
    return sink_end(&s);
}

/* ---- names ------------------------------------------------------------ */

const char *kind_name(kind_t k)
{
    switch (k) {
    case K_STOP:    return "stop";
    case K_REGRESS: return "regress";
    case K_HOLD:    return "hold";
    case K_ADVANCE: return "advance";
    case K_REFER:   return "refer";
    case K_FLAG:    return "flag";
    }
    return "?";
}

const char *view_status_name(tr_status st)
{
    switch (st) {
    case TR_WON:            return "won";
    case TR_ALSO_TRUE:      return "also_true";
    case TR_APPLIED:        return "applied";
    case TR_FALSE:          return "false";
    case TR_UNKNOWN:        return "unknown";
    case TR_NOT_APPLICABLE: return "not_applicable";
    }
    return "?";
}

const char *view_tri_name(tri t)
{
    switch (t) {
    case T3_TRUE:    return "true";
    case T3_FALSE:   return "false";
    case T3_UNKNOWN: return "unknown";
    }
    return "?";
}

const char *view_entry_kind(const tr_rule *t)
{
    return t->r ? kind_name(t->r->kind) : "modify";
}

const char *view_entry_file(const tr_rule *t, unsigned *line)
{
    if (t->r) {
        *line = t->r->line;
        return t->r->file;
    }
    *line = t->m ? t->m->line : 0;
    return t->m ? t->m->file : NULL;
}

const char *view_entry_name(const tr_rule *t)
{
    return t->r ? t->r->name : NULL;
}

/* ---- uncut strings ---------------------------------------------------- */

void view_str_init(view_str *s)
{
    s->small[0] = '\0';
    s->heap = NULL;
}

void view_str_free(view_str *s)
{
    mem_free(s->heap);
    s->heap = NULL;
}

const char *view_value_str(view_str *s, const value *v, vtype t, int domain,
                           const tendo_program *p)
{
    view_str_free(s);
    sink k = { s->small, sizeof s->small, 0, 0 };
    sink_value(&k, v, t, domain, p);
    size_t need = sink_end(&k);
    if (need < sizeof s->small)
        return s->small;
    if (need == SIZE_MAX || !(s->heap = mem_alloc(need + 1)))
        return NULL;
    sink h = { s->heap, need + 1, 0, 0 };
    sink_value(&h, v, t, domain, p);
    sink_end(&h);
    return s->heap;
}

const char *view_dose_str(view_str *s, const out_dose *d)
{
    view_str_free(s);
    size_t need = view_dose(s->small, sizeof s->small, d);
    if (need < sizeof s->small)
        return s->small;
    if (need == SIZE_MAX || !(s->heap = mem_alloc(need + 1)))
        return NULL;
    view_dose(s->heap, need + 1, d);
    return s->heap;
}
