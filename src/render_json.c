/* render_json.c — one decision as one compact JSON line, for machines and
 * auditors: every number typed, every key in a fixed order, and (with
 * TENDO_RENDER_TRACE) every rule considered with the values it compared.
 *
 * jansson builds and escapes the document; a failed constructor returns
 * NULL, which json_object_set_new / json_array_append_new reject with -1,
 * so each key needs one check and nothing leaks on the way out. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "date.h"
#include "tendo.h"
#include "view.h"

/* Reals a person can read (0.7, not 0.69999999999999996): a double holds
 * 15 significant decimal digits reliably, the other two of jansson's default
 * 17 are binary noise. */
enum { JSON_FLAGS = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15) };

/* ---- scalars ---------------------------------------------------------- */

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Whole numbers as integers ("sets": 3, not 3.0); NaN and infinity, which
 * JSON cannot hold, as null. */
static json_t *jnum(double x)
{
    if (view_is_whole(x))
        return json_integer((json_int_t)x);
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *jdate(int32_t day)
{
    char buf[11];
    date_format(day, buf);
    return json_string(buf);
}

static json_t *jsym(const value *v, vtype t, int domain, const tendo_program *p)
{
    char small[128];
    int n = view_value(small, sizeof small, v, t, domain, p);
    if (n >= 0 && (size_t)n < sizeof small)
        return json_string(small);
    view_str s;  /* a very long enum or stage name */
    view_str_init(&s);
    const char *name = view_value_str(&s, v, t, domain, p);
    json_t *j = name ? json_string(name) : NULL;
    view_str_free(&s);
    return j;
}

/* A condition operand, typed: text in full (the text view cuts, JSON must
 * not), unknown as null. */
static json_t *jvalue(const value *v, vtype t, int domain, const tendo_program *p)
{
    switch (v->kind) {
    case VK_NUM:  return jnum(v->u.num);
    case VK_BOOL: return json_boolean(v->u.b);
    case VK_DATE: return jdate(v->u.date);
    case VK_TEXT: return json_stringn(v->u.s, v->len);
    case VK_SYM:  return jsym(v, t, domain, p);
    case VK_UNKNOWN:
    default:      return json_null();
    }
}

static int set(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v);
}

static json_t *jstrings(const char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, json_string(items[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Objects are built by a filler that returns 0, or nonzero on failure;
 * build owns the cleanup so each filler is a plain list of keys chained
 * with || (a later constructor is not even called after a failure). */
typedef int (*filler)(json_t *o, const void *what, const tendo_program *p);

static json_t *build(filler fill, const void *what, const tendo_program *p)
{
    json_t *o = json_object();
    if (o && fill(o, what, p) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- rule and prescription -------------------------------------------- */

static int fill_rule(json_t *o, const void *what, const tendo_program *p)
{
    const rule *r = what;
    (void)p;
    return set(o, "file", jstr(r->file)) || set(o, "line", json_integer(r->line)) ||
           set(o, "name", jstr(r->name));
}

/* load_kg / load_kg_max when in kilograms, so the common case reads
 * directly; load, load_max, load_unit otherwise. */
static int fill_load(json_t *o, const dose *d)
{
    int kg = d->load_unit && strcmp(d->load_unit, "kg") == 0;
    if (set(o, kg ? "load_kg" : "load", jnum(d->load_lo)))
        return -1;
    if (d->load_hi > d->load_lo && set(o, kg ? "load_kg_max" : "load_max", jnum(d->load_hi)))
        return -1;
    if (!kg && d->load_unit)
        return set(o, "load_unit", json_string(d->load_unit));
    return 0;
}

static int set_pos(json_t *o, const char *key, double x)
{
    return x > 0 ? set(o, key, jnum(x)) : 0;
}

static int set_text(json_t *o, const char *key, const char *s)
{
    return s ? set(o, key, json_string(s)) : 0;
}

/* The exercise's own note first, then the modifiers' notes. */
static int set_notes(json_t *o, const out_dose *od)
{
    if (!od->d.note && od->nnotes == 0)
        return 0;
    json_t *a = jstrings(od->notes, od->nnotes);
    if (a && od->d.note && json_array_insert_new(a, 0, json_string(od->d.note)) != 0) {
        json_decref(a);
        a = NULL;
    }
    return set(o, "notes", a);
}

static int fill_dose(json_t *o, const void *what, const tendo_program *p)
{
    const out_dose *od = what;
    const dose *d = &od->d;
    (void)p;
    if (set(o, "exercise", jstr(d->exercise)) || set_pos(o, "sets", d->sets) ||
        set_pos(o, "reps", d->reps) || set_pos(o, "reps_max", d->reps_max) ||
        set_pos(o, "hold_s", d->hold_s) || set_pos(o, "minutes", d->minutes) ||
        set_text(o, "tempo", d->tempo) || set_pos(o, "effort", d->effort))
        return -1;
    if (d->has_load && fill_load(o, d))
        return -1;
    return set_text(o, "frequency", d->frequency) || set_text(o, "surface", d->surface) ||
           set_text(o, "range", d->range) || set_text(o, "knee", d->knee) ||
           set_notes(o, od);
}

static json_t *jprescription(const decision *dec, const tendo_program *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < dec->ndoses; i++) {
        if (json_array_append_new(a, build(fill_dose, &dec->doses[i], p)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* ---- trace ------------------------------------------------------------ */

typedef struct operand {
    const char *text;
    const value *v;
    vtype t;
    int domain;
} operand;

static int fill_operand(json_t *o, const void *what, const tendo_program *p)
{
    const operand *x = what;
    return set(o, "text", jstr(x->text)) || set(o, "value", jvalue(x->v, x->t, x->domain, p));
}

static int fill_rows(json_t *o, const void *what, const tendo_program *p)
{
    const tr_cond *c = what;
    (void)p;
    int any = c->win_rows > 0;
    return set(o, "count", json_integer((json_int_t)c->win_rows)) ||
           set(o, "first", any ? jdate(c->win_first) : json_null()) ||
           set(o, "last", any ? jdate(c->win_last) : json_null());
}

static int set_comparison(json_t *o, const tr_cond *c, const tendo_program *p)
{
    operand l = { c->lhs_text, &c->lhs, c->lhs_type, c->lhs_domain };
    operand r = { c->rhs_text, &c->rhs, c->rhs_type, c->rhs_domain };
    return set(o, "left", build(fill_operand, &l, p)) || set(o, "op", json_string(c->op)) ||
           set(o, "right", build(fill_operand, &r, p));
}

static int fill_cond(json_t *o, const void *what, const tendo_program *p)
{
    const tr_cond *c = what;
    if (set(o, "text", jstr(c->text)) || set(o, "result", json_string(view_tri_name(c->result))))
        return -1;
    if (c->is_cmp && c->op ? set_comparison(o, c, p)
                           : set(o, "value", jvalue(&c->val, c->val_type, c->val_domain, p)))
        return -1;
    if (c->has_window && set(o, "rows", build(fill_rows, c, p)))
        return -1;
    return c->note ? set(o, "note", json_string(c->note)) : 0;
}

static json_t *jconds(const tr_rule *t, const tendo_program *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < t->nconds; i++) {
        if (json_array_append_new(a, build(fill_cond, &t->conds[i], p)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int fill_entry(json_t *o, const void *what, const tendo_program *p)
{
    const tr_rule *t = what;
    unsigned line;
    const char *file = view_entry_file(t, &line);
    return set(o, "kind", json_string(view_entry_kind(t))) ||
           set(o, "name", jstr(view_entry_name(t))) || set(o, "file", jstr(file)) ||
           set(o, "line", json_integer(line)) ||
           set(o, "status", json_string(view_status_name(t->status))) ||
           set(o, "result", json_string(view_tri_name(t->result))) ||
           set(o, "why", jstr(t->why)) || set(o, "conditions", jconds(t, p));
}

static json_t *jtrace(const decision *dec, const tendo_program *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < dec->ntrace; i++) {
        if (json_array_append_new(a, build(fill_entry, &dec->trace[i], p)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* ---- the record ------------------------------------------------------- */

static int fill_head(json_t *o, const decision *dec, const tendo_program *p)
{
    return set(o, "patient", jstr(dec->patient)) || set(o, "as_of", jdate(dec->as_of)) ||
           set(o, "protocol", jstr(p->id)) || set(o, "protocol_version", jstr(p->version)) ||
           set(o, "rules_sha256", json_string(p->sha256)) ||
           set(o, "stage", jstr(view_stage_name(p, dec->stage))) ||
           set(o, "days_in_stage", json_integer(dec->days_in_stage)) ||
           set(o, "sessions_in_stage", json_integer(dec->sessions_in_stage));
}

static int fill_outcome(json_t *o, const decision *dec, const tendo_program *p)
{
    return set(o, "decision", json_string(kind_name(dec->kind))) ||
           set(o, "next_stage", jstr(view_stage_name(p, dec->next_stage))) ||
           set(o, "volume", jnum(dec->volume)) ||
           set(o, "for_days", dec->for_days > 0 ? jnum(dec->for_days) : json_null()) ||
           set(o, "urgent", json_boolean(dec->urgent)) ||
           set(o, "refer", jstr(dec->refer)) ||
           set(o, "flags", jstrings(dec->flags, dec->nflags)) ||
           set(o, "rule", dec->rule ? build(fill_rule, dec->rule, p) : json_null()) ||
           set(o, "because", jstr(dec->because));
}

static int fill_record(json_t *o, const void *what, const tendo_program *p)
{
    const decision *dec = what;
    return fill_head(o, dec, p) || fill_outcome(o, dec, p) ||
           set(o, "prescription", jprescription(dec, p)) ||
           set(o, "avoid", jstrings(dec->avoid, dec->navoid)) ||
           set(o, "disclaimer", json_string(TENDO_DISCLAIMER));
}

int tendo_render_json(const tendo_decision *dec, const tendo_program *p, FILE *out, int flags)
{
    if (!dec || !p || !out)
        return -1;
    json_t *o = build(fill_record, dec, p);
    if (o && (flags & TENDO_RENDER_TRACE) && set(o, "trace", jtrace(dec, p)) != 0) {
        json_decref(o);
        o = NULL;
    }
    int rc = o && json_dumpf(o, out, JSON_FLAGS) == 0 && fputc('\n', out) != EOF ? 0 : -1;
    json_decref(o);
    return rc == 0 && !ferror(out) ? 0 : -1;
}
