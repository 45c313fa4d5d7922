/* check.c — the semantic pass: AST -> checked program.
 *
 * Resolves every name to an index, infers and checks types and units,
 * rejects thresholds outside a column's declared range, compiles regexes,
 * folds constants, and reports as many located errors as it can find, each
 * with a "did you mean" where a near name exists. */
#include "program.h"
#include "mem.h"

#include <math.h>
#include <string.h>

typedef enum { SYM_COLUMN, SYM_LET, SYM_STAGE } sym_kind;

typedef struct let_info {
    ast_decl *decl;
    int state;          /* 0 unchecked, 1 in progress (cycle guard), 2 done */
    cx *value;          /* checked expression; CX_CONST when folded */
    int derived;        /* index in p->derived when row-dependent, else -1 */
} let_info;

/* Names resolve through hash maps, not linear scans: a rule file of a few
 * MiB with tens of thousands of names must still check in linear time.
 * Open addressing, at most half full, arena-allocated; the first
 * declaration of a name wins, as the scans it replaces did. */
typedef struct name_map {
    const char **keys;
    int *vals;
    size_t cap, n;      /* cap: 0 or a power of two */
} name_map;

typedef struct checker {
    tendo_program *p;
    diag_list *d;
    arena *a;
    ast_column **cols;  /* AST columns by index */
    size_t ncols;
    let_info *lets;
    size_t nlets;
    int depth;
    int cur_stage;      /* stage whose rules are being checked, -1 global */
    int in_modifier;    /* `next stage` is known only once the decision is */
    int in_session;     /* checking `session when`: it cannot use sessions */
    src_loc root;       /* start of the main rule file, for whole-file errors */
    size_t errors_at_start;
    name_map col_map, let_map, stage_map, rule_map;
} checker;

#define ERR(c, loc, ...) diag_at((c)->d, DIAG_ERROR, (loc), __VA_ARGS__)

static cx *check_expr(checker *c, ast_expr *e, int hint_domain);

/* ---- small helpers ------------------------------------------------------ */

static const char *type_name(vtype t)
{
    switch (t) {
    case TY_NUM: return "a number";
    case TY_BOOL: return "yes/no";
    case TY_DATE: return "a date";
    case TY_TEXT: return "text";
    case TY_ENUM: return "a choice";
    case TY_STAGE: return "a stage";
    case TY_REGEX: return "a regex";
    }
    return "?";
}

static char *slice(checker *c, src_loc l)
{
    if (l.file >= c->d->nfiles)
        return arena_strndup(c->a, "", 0);
    const src_file *f = &c->d->files[l.file];
    uint32_t end = l.end > f->len ? (uint32_t)f->len : l.end;
    uint32_t start = l.start > end ? end : l.start;
    /* Fold runs of layout (line breaks inside a condition) to one space. */
    char *out = arena_alloc(c->a, (size_t)(end - start) + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    int space = 0;
    for (uint32_t i = start; i < end; i++) {
        char ch = f->text[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            space = 1;
            continue;
        }
        if (space && k)
            out[k++] = ' ';
        space = 0;
        out[k++] = ch;
    }
    out[k] = '\0';
    return out;
}

static cx *new_cx(checker *c, cx_op op, vtype t, src_loc loc)
{
    cx *x = arena_zalloc(c->a, sizeof *x);
    if (!x) {
        c->d->oom = 1;
        return NULL;
    }
    x->op = op;
    x->type = t;
    x->loc = loc;
    x->domain = -1;
    x->idx = -1;
    return x;
}

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static int map_get(const name_map *m, const char *k)
{
    if (!m->cap)
        return -1;
    for (size_t i = name_hash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return -1;
        if (strcmp(m->keys[i], k) == 0)
            return m->vals[i];
    }
}

static void map_insert(name_map *m, const char *k, int v)
{
    size_t i = name_hash(k) & (m->cap - 1);
    while (m->keys[i])
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = k;
    m->vals[i] = v;
    m->n++;
}

/* Adds k -> v unless k is already there; out of memory is recorded. */
static void map_put(checker *c, name_map *m, const char *k, int v)
{
    if (map_get(m, k) >= 0)
        return;
    if ((m->n + 1) * 2 > m->cap) {
        name_map g = { NULL, NULL, m->cap ? m->cap * 2 : 16, 0 };
        g.keys = arena_zalloc(c->a, g.cap * sizeof *g.keys);
        g.vals = arena_alloc(c->a, g.cap * sizeof *g.vals);
        if (!g.keys || !g.vals) {
            c->d->oom = 1;
            return;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i])
                map_insert(&g, m->keys[i], m->vals[i]);
        *m = g;
    }
    map_insert(m, k, v);
}

static int find_column(checker *c, const char *name) { return map_get(&c->col_map, name); }
static int find_stage(checker *c, const char *name) { return map_get(&c->stage_map, name); }
static int find_let(checker *c, const char *name) { return map_get(&c->let_map, name); }

static int find_value(const ast_column *col, const char *name)
{
    for (size_t i = 0; i < col->nvalues; i++)
        if (strcmp(col->values[i], name) == 0)
            return (int)i;
    return -1;
}

/* The nearest known name within edit distance 2, for "did you mean". */
static const char *suggest(checker *c, const char *name, int domain, int stages_only)
{
    const char *best = NULL;
    size_t bestd = 3;
#define TRY(s) do { size_t dd_ = diag_distance(name, (s), 2); \
                    if (dd_ < bestd) { bestd = dd_; best = (s); } } while (0)
    for (size_t i = 0; i < c->p->nstages; i++)
        TRY(c->p->stages[i].name);
    if (!stages_only) {
        for (size_t i = 0; i < c->ncols; i++)
            TRY(c->cols[i]->name);
        for (size_t i = 0; i < c->nlets; i++)
            TRY(c->lets[i].decl->u.let.name);
        if (domain >= 0)
            for (size_t i = 0; i < c->cols[domain]->nvalues; i++)
                TRY(c->cols[domain]->values[i]);
        TRY("session");
    }
#undef TRY
    return best;
}

/* Past the errors that are recorded, a suggestion is wasted work (and a
 * scan of every name for each of a million unknown names). */
static int suggesting(const checker *c)
{
    return !c->d->max_errors || c->d->nerrors < c->d->max_errors;
}

static void unknown_name(checker *c, src_loc loc, const char *what, const char *name,
                         int domain, int stages_only)
{
    const char *s = suggesting(c) ? suggest(c, name, domain, stages_only) : NULL;
    if (s)
        ERR(c, loc, "unknown %s '%s'; did you mean '%s'?", what, name, s);
    else
        ERR(c, loc, "unknown %s '%s'", what, name);
}

/* ---- names -------------------------------------------------------------- */

static vtype column_vtype(const ast_column *col)
{
    switch (col->type) {
    case T_DATE: return TY_DATE;
    case T_SCORE: case T_NUMBER: return TY_NUM;
    case T_YESNO: return TY_BOOL;
    case T_ONEOF: return TY_ENUM;
    case T_TEXT: return TY_TEXT;
    case T_STAGE: return TY_STAGE;
    }
    return TY_NUM;
}

static cx *check_let(checker *c, int i, src_loc use);

static int name_resolves(checker *c, const char *name, int domain)
{
    return find_column(c, name) >= 0 || find_let(c, name) >= 0 || find_stage(c, name) >= 0 ||
           strcmp(name, "session") == 0 ||
           (domain >= 0 && find_value(c->cols[domain], name) >= 0);
}

static cx *check_name(checker *c, ast_expr *e, int hint)
{
    const char *n = e->u.name;
    int i;
    if (hint >= 0 && (i = find_value(c->cols[hint], n)) >= 0) {
        cx *x = new_cx(c, CX_CONST, TY_ENUM, e->loc);
        if (x) {
            x->domain = hint;
            x->k = (value){ .kind = VK_SYM, .u.sym = i };
        }
        return x;
    }
    if ((i = find_column(c, n)) >= 0) {
        cx *x = new_cx(c, CX_FIELD, column_vtype(c->cols[i]), e->loc);
        if (x) {
            x->idx = i;
            x->dep = 1;
            x->unit = c->cols[i]->unit;
            if (x->type == TY_ENUM)
                x->domain = i;
        }
        return x;
    }
    if ((i = find_let(c, n)) >= 0) {
        cx *v = check_let(c, i, e->loc);
        if (!v)
            return NULL;
        if (!v->dep) {
            /* A copy located at the use, so the trace names the constant. */
            cx *k = new_cx(c, CX_CONST, v->type, e->loc);
            if (k) {
                *k = *v;
                k->loc = e->loc;
                k->text = NULL;
            }
            return k;
        }
        cx *x = new_cx(c, CX_DERIVED, v->type, e->loc);
        if (x) {
            x->idx = c->lets[i].derived;
            x->domain = v->domain;
            x->unit = v->unit;
            x->dep = 1;
        }
        return x;
    }
    if ((i = find_stage(c, n)) >= 0) {
        cx *x = new_cx(c, CX_CONST, TY_STAGE, e->loc);
        if (x)
            x->k = (value){ .kind = VK_SYM, .u.sym = i };
        return x;
    }
    if (strcmp(n, "session") == 0) {
        if (c->in_session) {
            ERR(c, e->loc, "what makes a row a session cannot depend on sessions");
            return NULL;
        }
        cx *x = new_cx(c, CX_SESSION, TY_BOOL, e->loc);
        if (x)
            x->dep = 1;
        return x;
    }
    if (hint >= 0) {
        const char *s = suggesting(c) ? suggest(c, n, hint, 0) : NULL;
        char list[256];
        size_t k = 0;
        list[0] = '\0';
        for (size_t v = 0; v < c->cols[hint]->nvalues && k < sizeof list; v++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", v ? ", " : "", c->cols[hint]->values[v]);
        if (s)
            ERR(c, e->loc, "'%s' is not a value of '%s' (%s); did you mean '%s'?", n, c->cols[hint]->name, list, s);
        else
            ERR(c, e->loc, "'%s' is not a value of '%s' (%s)", n, c->cols[hint]->name, list);
        return NULL;
    }
    unknown_name(c, e->loc, "name", n, hint, 0);
    return NULL;
}

/* A let is checked on first use (so order in the file does not matter);
 * the in-progress state turns a definition cycle into an error. */
static cx *check_let(checker *c, int i, src_loc use)
{
    let_info *L = &c->lets[i];
    if (L->state == 2)
        return L->value;
    if (L->state == 1) {
        ERR(c, use, "'%s' is defined in terms of itself", L->decl->u.let.name);
        return NULL;
    }
    L->state = 1;
    cx *v = check_expr(c, L->decl->u.let.value, -1);
    L->state = 2;
    if (!v)
        return L->value = NULL;
    if (!v->dep && v->op != CX_CONST) {
        value k = eval_const(v);
        cx *f = new_cx(c, CX_CONST, v->type, v->loc);
        if (!f)
            return NULL;
        f->k = k;
        f->unit = v->unit;
        f->domain = v->domain;
        v = f;
    }
    if (v->dep) {
        derived *dv = &c->p->derived[c->p->nderived];
        dv->name = L->decl->u.let.name;
        dv->loc = L->decl->loc;
        dv->expr = v;
        L->derived = (int)c->p->nderived++;
    }
    return L->value = v;
}

/* ---- types and units ---------------------------------------------------- */

static int same_unit(const char *a, const char *b)
{
    return !a || !b || strcmp(a, b) == 0;
}

static const char *unit_or(const char *u)
{
    return u ? u : "no unit";
}

static int expect_type(checker *c, cx *x, vtype t, const char *what)
{
    if (!x)
        return 0;
    if (x->type != t) {
        ERR(c, x->loc, "%s must be %s, but this is %s", what, type_name(t), type_name(x->type));
        return 0;
    }
    return 1;
}

/* The column whose declared range bounds this expression's values, if any:
 * a field, or an aggregate/lookup that returns one of its values. */
static const ast_column *ranged_column(checker *c, const cx *x)
{
    if (!x)
        return NULL;
    if (x->op == CX_FIELD)
        return c->cols[x->idx]->has_range ? c->cols[x->idx] : NULL;
    if (x->op == CX_AGG && x->a &&
        (x->fn == AGG_MAX || x->fn == AGG_MIN || x->fn == AGG_MEAN || x->fn == AGG_FIRST || x->fn == AGG_LAST))
        return ranged_column(c, x->a);
    if (x->op == CX_VALUE_AGO || x->op == CX_NEXT || x->op == CX_PREV)
        return ranged_column(c, x->a);
    return NULL;
}

static void check_threshold(checker *c, const cx *field, const cx *k)
{
    const ast_column *col = ranged_column(c, field);
    if (!col || !k || k->op != CX_CONST || k->k.kind != VK_NUM)
        return;
    double v = k->k.u.num;
    if (v < col->lo || v > col->hi)
        ERR(c, k->loc, "threshold %g is outside the range of '%s' (%g..%g)", v, col->name, col->lo, col->hi);
}

static int comparable(checker *c, cx *l, cx *r, expr_kind op, src_loc loc)
{
    int ordered = op != E_EQ && op != E_NE;
    if (l->type != r->type) {
        ERR(c, loc, "cannot compare %s with %s", type_name(l->type), type_name(r->type));
        return 0;
    }
    if (l->type == TY_NUM && !same_unit(l->unit, r->unit)) {
        ERR(c, loc, "cannot compare %s with %s", l->unit, r->unit);
        return 0;
    }
    if (l->type == TY_ENUM && l->domain != r->domain) {
        ERR(c, loc, "cannot compare values of '%s' with values of '%s'",
            c->cols[l->domain]->name, c->cols[r->domain]->name);
        return 0;
    }
    if (ordered && (l->type == TY_BOOL || l->type == TY_ENUM || l->type == TY_TEXT || l->type == TY_REGEX)) {
        ERR(c, loc, "%s has no order: compare it with = or !=",
            l->type == TY_ENUM ? "a choice" : l->type == TY_BOOL ? "a yes/no value" : l->type == TY_TEXT ? "text" : "a regex");
        return 0;
    }
    return 1;
}

/* ---- expressions -------------------------------------------------------- */

/* A count of rows, sessions or days: a whole number, literal or constant. */
static int count_value(checker *c, const ast_count *n, int *out, int min, int days, const char *what)
{
    double v = n->num;
    if (n->name) {
        int i = find_let(c, n->name);
        if (i < 0) {
            if (find_column(c, n->name) >= 0 || find_stage(c, n->name) >= 0)
                ERR(c, n->loc, "'%s' is not a number constant: %s must be fixed when the rules load", n->name, what);
            else
                unknown_name(c, n->loc, "constant", n->name, -1, 0);
            return 0;
        }
        cx *x = check_let(c, i, n->loc);
        if (!x)
            return 0;
        if (x->op != CX_CONST || x->type != TY_NUM || x->k.kind != VK_NUM) {
            ERR(c, n->loc, "'%s' is not a number constant: %s must be fixed when the rules load", n->name, what);
            return 0;
        }
        if (x->unit && (!days || strcmp(x->unit, "days") != 0)) {
            ERR(c, n->loc, "'%s' is in %s, but %s is %s", n->name, x->unit, what, days ? "in days" : "a plain number");
            return 0;
        }
        v = x->k.u.num;
    }
    if (v != floor(v) || v < min || v > 100000) {
        ERR(c, n->loc, "%s must be a whole number from %d to 100000, not %g", what, min, v);
        return 0;
    }
    *out = (int)v;
    return 1;
}

static int check_window(checker *c, const ast_window *w, window *out)
{
    out->kind = w->kind;
    if (c->in_session && (w->kind == W_LAST_SESSIONS || w->kind == W_FIRST_SESSIONS)) {
        ERR(c, w->loc, "what makes a row a session cannot depend on sessions");
        return 0;
    }
    out->n = out->m = 0;
    switch (w->kind) {
    case W_ALL: case W_IN_STAGE:
        return 1;
    case W_LAST_SESSIONS: case W_LAST_ROWS: case W_FIRST_SESSIONS: case W_FIRST_ROWS:
        return count_value(c, &w->n, &out->n, 1, 0, "a window's count");
    case W_LAST_DAYS: case W_FIRST_DAYS:
        return count_value(c, &w->n, &out->n, 1, 1, "a window's length");
    case W_DAYS_AGO:
        if (!count_value(c, &w->n, &out->n, 0, 1, "a window's start") ||
            !count_value(c, &w->m, &out->m, 0, 1, "a window's end"))
            return 0;
        if (out->n < out->m) {
            ERR(c, w->loc, "write the older day first: 'days %d to %d ago'", out->m, out->n);
            return 0;
        }
        return 1;
    }
    return 0;
}

static cx *check_agg(checker *c, ast_expr *e)
{
    agg_kind fn = e->u.agg.fn;
    cx *x = new_cx(c, CX_AGG, TY_NUM, e->loc);
    if (!x)
        return NULL;
    x->fn = fn;
    x->dep = 1;
    if (!check_window(c, &e->u.agg.win, &x->win))
        return NULL;
    if (!e->u.agg.arg) {
        if (fn != AGG_COUNT) {
            ERR(c, e->loc, "this aggregate needs a value: write e.g. max(pain_during, last 3 sessions)");
            return NULL;
        }
        return x; /* count(window): rows in the window */
    }
    cx *a = check_expr(c, e->u.agg.arg, -1);
    if (!a)
        return NULL;
    x->a = a;
    switch (fn) {
    case AGG_MAX: case AGG_MIN:
        if (a->type != TY_NUM && a->type != TY_DATE && a->type != TY_STAGE)
            return expect_type(c, a, TY_NUM, "the value of max/min"), NULL;
        x->type = a->type;
        x->unit = a->unit;
        x->domain = a->domain;
        break;
    case AGG_MEAN: case AGG_SUM:
        if (!expect_type(c, a, TY_NUM, "the value of mean/sum"))
            return NULL;
        x->unit = a->unit;
        break;
    case AGG_TREND:
        if (!expect_type(c, a, TY_NUM, "the value of trend"))
            return NULL;
        x->unit = NULL; /* per day */
        break;
    case AGG_ANY: case AGG_ALL:
        if (!expect_type(c, a, TY_BOOL, "the condition of any/all"))
            return NULL;
        x->type = TY_BOOL;
        break;
    case AGG_COUNT:
        break; /* counts rows where a bool is true, or any other value is known */
    case AGG_FIRST: case AGG_LAST:
        x->type = a->type;
        x->unit = a->unit;
        x->domain = a->domain;
        break;
    }
    return x;
}

static cx *check_arith(checker *c, ast_expr *e, cx_op op)
{
    cx *l = check_expr(c, e->u.bin.l, -1);
    cx *r = check_expr(c, e->u.bin.r, -1);
    if (!l || !r)
        return NULL;
    cx *x = new_cx(c, op, TY_NUM, e->loc);
    if (!x)
        return NULL;
    x->a = l;
    x->b = r;
    x->dep = l->dep || r->dep;
    if (op == CX_SUB && l->type == TY_DATE && r->type == TY_DATE) {
        x->unit = "days";
        return x;
    }
    if ((op == CX_ADD || op == CX_SUB) && l->type == TY_DATE && r->type == TY_NUM) {
        if (r->unit && strcmp(r->unit, "days") != 0) {
            ERR(c, r->loc, "a date moves by days, not %s", r->unit);
            return NULL;
        }
        x->op = CX_DATE_ADD;
        x->type = TY_DATE;
        x->c = op == CX_SUB ? x->b : NULL; /* marks subtraction */
        return x;
    }
    if (!expect_type(c, l, TY_NUM, "arithmetic") || !expect_type(c, r, TY_NUM, "arithmetic"))
        return NULL;
    if (op == CX_ADD || op == CX_SUB) {
        if (!same_unit(l->unit, r->unit)) {
            ERR(c, e->loc, "cannot %s %s and %s", op == CX_ADD ? "add" : "subtract", l->unit, r->unit);
            return NULL;
        }
        x->unit = l->unit ? l->unit : r->unit;
    } else if (op == CX_MUL) {
        x->unit = l->unit && r->unit ? NULL : (l->unit ? l->unit : r->unit);
    } else {
        x->unit = r->unit ? NULL : l->unit;
    }
    return x;
}

static cx *check_compare(checker *c, ast_expr *e, cx_op op)
{
    ast_expr *le = e->u.bin.l, *re = e->u.bin.r;
    cx *l, *r;
    /* A bare choice name (`insertional`) takes its meaning from the other side. */
    if (le->kind == E_NAME && !name_resolves(c, le->u.name, -1)) {
        r = check_expr(c, re, -1);
        l = check_expr(c, le, r && r->type == TY_ENUM ? r->domain : -1);
    } else {
        l = check_expr(c, le, -1);
        r = check_expr(c, re, l && l->type == TY_ENUM ? l->domain : -1);
    }
    if (!l || !r || !comparable(c, l, r, e->kind, e->loc))
        return NULL;
    check_threshold(c, l, r);
    check_threshold(c, r, l);
    cx *x = new_cx(c, op, TY_BOOL, e->loc);
    if (x) {
        x->a = l;
        x->b = r;
        x->dep = l->dep || r->dep;
    }
    return x;
}

static cx *check_regex_operand(checker *c, ast_expr *e, const char *op)
{
    if (e->kind == E_REGEX) {
        const rx *r = rx_compile(c->p->regexes, e->u.rx.pat, e->u.rx.len, e->u.rx.flags,
                                 e->loc.file, e->u.rx.pat_off, e->loc, c->d);
        if (!r)
            return NULL;
        cx *x = new_cx(c, CX_CONST, TY_REGEX, e->loc);
        if (x)
            x->re = r;
        return x;
    }
    cx *x = check_expr(c, e, -1);
    if (x && (x->type != TY_REGEX || x->op != CX_CONST)) {
        ERR(c, e->loc, "'%s' needs a regex on its right, like /pop(ped)?/i or the name of a regex constant", op);
        return NULL;
    }
    return x;
}

static cx *check_match(checker *c, ast_expr *e, cx_op op)
{
    cx *l = check_expr(c, e->u.bin.l, -1);
    const char *name = op == CX_MATCH ? "~" : "!~";
    cx *r = check_regex_operand(c, e->u.bin.r, name);
    if (!l || !r || !expect_type(c, l, TY_TEXT, op == CX_MATCH ? "the left side of '~'" : "the left side of '!~'"))
        return NULL;
    cx *x = new_cx(c, op, TY_BOOL, e->loc);
    if (x) {
        x->a = l;
        x->re = r->re;
        x->b = r;
        x->dep = l->dep;
    }
    return x;
}

static cx *check_logic(checker *c, ast_expr *e, cx_op op)
{
    cx *l = check_expr(c, e->u.bin.l, -1);
    cx *r = op == CX_NOT ? NULL : check_expr(c, e->u.bin.r, -1);
    const char *what = op == CX_AND ? "each side of 'and'" : op == CX_OR ? "each side of 'or'" : "the operand of 'not'";
    if (!expect_type(c, l, TY_BOOL, what) || (op != CX_NOT && !expect_type(c, r, TY_BOOL, what)))
        return NULL;
    cx *x = new_cx(c, op, TY_BOOL, e->loc);
    if (x) {
        x->a = l;
        x->b = r;
        x->dep = l->dep || (r && r->dep);
    }
    return x;
}

static int same_type(checker *c, cx *a, cx *b, src_loc loc, const char *what)
{
    if (a->type != b->type || (a->type == TY_ENUM && a->domain != b->domain)) {
        ERR(c, loc, "%s must have the same type: %s and %s", what, type_name(a->type), type_name(b->type));
        return 0;
    }
    if (a->type == TY_NUM && !same_unit(a->unit, b->unit)) {
        ERR(c, loc, "%s must have the same unit: %s and %s", what, unit_or(a->unit), unit_or(b->unit));
        return 0;
    }
    return 1;
}

static cx *check_otherwise(checker *c, ast_expr *e)
{
    cx *l = check_expr(c, e->u.bin.l, -1);
    cx *r = check_expr(c, e->u.bin.r, l && l->type == TY_ENUM ? l->domain : -1);
    if (!l || !r || !same_type(c, l, r, e->loc, "both sides of 'otherwise'"))
        return NULL;
    cx *x = new_cx(c, CX_OTHERWISE, l->type, e->loc);
    if (x) {
        x->a = l;
        x->b = r;
        x->domain = l->domain;
        x->unit = l->unit ? l->unit : r->unit;
        x->dep = l->dep || r->dep;
    }
    return x;
}

static cx *check_if(checker *c, ast_expr *e)
{
    cx *k = check_expr(c, e->u.ifx.cond, -1);
    cx *t = check_expr(c, e->u.ifx.then, -1);
    cx *f = check_expr(c, e->u.ifx.els, t && t->type == TY_ENUM ? t->domain : -1);
    if (!expect_type(c, k, TY_BOOL, "the condition of 'if'") || !t || !f ||
        !same_type(c, t, f, e->loc, "the 'then' and 'else' values"))
        return NULL;
    cx *x = new_cx(c, CX_IF, t->type, e->loc);
    if (x) {
        x->a = k;
        x->b = t;
        x->c = f;
        x->domain = t->domain;
        x->unit = t->unit ? t->unit : f->unit;
        x->dep = k->dep || t->dep || f->dep;
    }
    return x;
}

static cx *check_in(checker *c, ast_expr *e)
{
    cx *l = check_expr(c, e->u.in.l, -1);
    if (!l)
        return NULL;
    cx *x = new_cx(c, CX_IN, TY_BOOL, e->loc);
    cx **set = arena_alloc(c->a, e->u.in.set.n * sizeof *set);
    if (!x || !set)
        return NULL;
    int ok = 1;
    x->dep = l->dep;
    for (size_t i = 0; i < e->u.in.set.n; i++) {
        set[i] = check_expr(c, e->u.in.set.items[i], l->type == TY_ENUM ? l->domain : -1);
        if (!set[i] || !comparable(c, l, set[i], E_EQ, set[i]->loc))
            ok = 0;
        else
            x->dep |= set[i]->dep;
        if (set[i])
            check_threshold(c, l, set[i]);
    }
    x->a = l;
    x->set = set;
    x->nset = e->u.in.set.n;
    return ok ? x : NULL;
}

static cx *check_unary_row(checker *c, ast_expr *e, cx_op op)
{
    cx *a = check_expr(c, e->u.bin.l, -1);
    if (!a)
        return NULL;
    cx *x = new_cx(c, op, a->type, e->loc);
    if (x) {
        x->a = a;
        x->domain = a->domain;
        x->unit = a->unit;
        x->dep = 1;
    }
    return x;
}

static cx *check_expr_inner(checker *c, ast_expr *e, int hint)
{
    cx *x = NULL, *a;
    switch (e->kind) {
    case E_NUM:
        if ((x = new_cx(c, CX_CONST, TY_NUM, e->loc))) {
            x->k = (value){ .kind = VK_NUM, .u.num = e->u.num.v };
            x->unit = e->u.num.unit;
        }
        return x;
    case E_STR:
        if ((x = new_cx(c, CX_CONST, TY_TEXT, e->loc)))
            x->k = (value){ .kind = VK_TEXT, .len = (uint32_t)e->u.str.len, .u.s = e->u.str.s };
        return x;
    case E_BOOL:
        if ((x = new_cx(c, CX_CONST, TY_BOOL, e->loc)))
            x->k = (value){ .kind = VK_BOOL, .u.b = e->u.b };
        return x;
    case E_DATE:
        if ((x = new_cx(c, CX_CONST, TY_DATE, e->loc)))
            x->k = (value){ .kind = VK_DATE, .u.date = e->u.date };
        return x;
    case E_REGEX:
        return check_regex_operand(c, e, "~");
    case E_NAME:
        return check_name(c, e, hint);
    case E_NEG:
        a = check_expr(c, e->u.bin.l, -1);
        if (!expect_type(c, a, TY_NUM, "the operand of '-'") || !(x = new_cx(c, CX_NEG, TY_NUM, e->loc)))
            return NULL;
        x->a = a;
        x->unit = a->unit;
        x->dep = a->dep;
        if (a->op == CX_CONST && a->k.kind == VK_NUM) {
            x->op = CX_CONST; /* -3 is a literal, for range checks and the trace */
            x->k = (value){ .kind = VK_NUM, .u.num = -a->k.u.num };
        }
        return x;
    case E_NOT: return check_logic(c, e, CX_NOT);
    case E_AND: return check_logic(c, e, CX_AND);
    case E_OR: return check_logic(c, e, CX_OR);
    case E_ADD: return check_arith(c, e, CX_ADD);
    case E_SUB: return check_arith(c, e, CX_SUB);
    case E_MUL: return check_arith(c, e, CX_MUL);
    case E_DIV: return check_arith(c, e, CX_DIV);
    case E_EQ: return check_compare(c, e, CX_EQ);
    case E_NE: return check_compare(c, e, CX_NE);
    case E_LT: return check_compare(c, e, CX_LT);
    case E_LE: return check_compare(c, e, CX_LE);
    case E_GT: return check_compare(c, e, CX_GT);
    case E_GE: return check_compare(c, e, CX_GE);
    case E_MATCH: return check_match(c, e, CX_MATCH);
    case E_NOMATCH: return check_match(c, e, CX_NOMATCH);
    case E_OTHERWISE: return check_otherwise(c, e);
    case E_IN: return check_in(c, e);
    case E_IF: return check_if(c, e);
    case E_KNOWN: case E_UNKNOWN:
        a = check_expr(c, e->u.bin.l, -1);
        if (!a || !(x = new_cx(c, e->kind == E_KNOWN ? CX_KNOWN : CX_UNKNOWN, TY_BOOL, e->loc)))
            return NULL;
        x->a = a;
        x->dep = a->dep;
        return x;
    case E_AGG:
        return check_agg(c, e);
    case E_VALUE_AGO:
        a = check_expr(c, e->u.ago.arg, -1);
        if (!a || !(x = new_cx(c, CX_VALUE_AGO, a->type, e->loc)))
            return NULL;
        if (!count_value(c, &e->u.ago.days, &x->days, 0, 1, "the number of days ago"))
            return NULL;
        x->a = a;
        x->domain = a->domain;
        x->unit = a->unit;
        x->dep = 1;
        return x;
    case E_NEXT: return check_unary_row(c, e, CX_NEXT);
    case E_PREV: return check_unary_row(c, e, CX_PREV);
    case E_DAYS_IN_STAGE: case E_SESSIONS_IN_STAGE:
        if (c->in_session && e->kind == E_SESSIONS_IN_STAGE) {
            ERR(c, e->loc, "what makes a row a session cannot depend on sessions");
            return NULL;
        }
        if ((x = new_cx(c, e->kind == E_DAYS_IN_STAGE ? CX_DAYS_IN_STAGE : CX_SESSIONS_IN_STAGE, TY_NUM, e->loc))) {
            x->dep = 1;
            x->unit = e->kind == E_DAYS_IN_STAGE ? "days" : NULL;
        }
        return x;
    case E_NEXT_STAGE:
        if (!c->in_modifier) {
            ERR(c, e->loc, "'next stage' is known only after the decision: use it in a 'modify when' condition");
            return NULL;
        }
        if ((x = new_cx(c, CX_NEXT_STAGE, TY_STAGE, e->loc)))
            x->dep = 1;
        return x;
    case E_DAYS_SINCE:
        a = check_expr(c, e->u.bin.l, -1);
        if (!expect_type(c, a, TY_DATE, "the operand of 'days since'") ||
            !(x = new_cx(c, CX_DAYS_SINCE, TY_NUM, e->loc)))
            return NULL;
        x->a = a;
        x->unit = "days";
        x->dep = 1; /* relative to the as-of date */
        return x;
    }
    ERR(c, e->loc, "internal error: unhandled expression");
    return NULL;
}

static cx *check_expr(checker *c, ast_expr *e, int hint)
{
    if (c->depth >= AST_MAX_DEPTH) {
        ERR(c, e->loc, "expression nested too deeply (the limit is %d levels)", AST_MAX_DEPTH);
        return NULL;
    }
    c->depth++;
    cx *x = check_expr_inner(c, e, hint);
    c->depth--;
    return x;
}

/* ---- declarations ------------------------------------------------------- */

static int check_protocol(checker *c, ast_decl *decls)
{
    ast_decl *first = NULL;
    for (ast_decl *d = decls; d; d = d->next) {
        if (d->kind != D_PROTOCOL)
            continue;
        if (first) {
            ERR(c, d->loc, "a second 'protocol' header: a rule set has exactly one (the first is at %s)",
                c->d->files[first->loc.file].path);
            continue;
        }
        first = d;
        tendo_program *p = c->p;
        p->id = d->u.protocol.id;
        p->version = d->u.protocol.version;
        size_t n = 0;
        for (ast_source *s = d->u.protocol.sources; s; s = s->next)
            n += s->text[0] != '\001';
        p->sources = arena_alloc(c->a, (n + 1) * sizeof *p->sources);
        if (!p->sources)
            return 0;
        /* The list is newest-first: fill backwards to restore file order. */
        size_t k = n;
        int titles = 0;
        for (ast_source *s = d->u.protocol.sources; s; s = s->next) {
            if (s->text[0] == '\001' && ++titles == 2)
                ERR(c, d->loc, "the protocol has two titles: keep one");
            if (s->text[0] == '\001')
                p->title = s->text + 1;
            else
                p->sources[--k] = s->text;
        }
        p->nsources = n;
    }
    if (!first)
        ERR(c, c->root, "missing protocol header: start the file with "
                           "'protocol NAME version \"1.0\"'");
    return first != NULL;
}

static int check_stages(checker *c, ast_decl *decls)
{
    size_t n = 0;
    for (ast_decl *d = decls; d; d = d->next)
        n += d->kind == D_STAGE;
    c->p->stages = arena_zalloc(c->a, (n + 1) * sizeof(stage));
    if (!c->p->stages)
        return 0;
    for (ast_decl *d = decls; d; d = d->next) {
        if (d->kind != D_STAGE)
            continue;
        if (find_stage(c, d->u.stage.name) >= 0) {
            ERR(c, d->loc, "stage '%s' is declared twice", d->u.stage.name);
            continue;
        }
        if (c->p->nstages == AST_MAX_STAGES) {
            ERR(c, d->loc, "more than the limit of %d stages", AST_MAX_STAGES);
            break;
        }
        map_put(c, &c->stage_map, d->u.stage.name, (int)c->p->nstages);
        stage *s = &c->p->stages[c->p->nstages++];
        s->name = d->u.stage.name;
        s->title = d->u.stage.title;
        s->loc = d->loc;
        size_t nd = 0;
        for (ast_dose *x = d->u.stage.doses; x; x = x->next)
            nd++;
        s->doses = arena_zalloc(c->a, (nd + 1) * sizeof(dose));
        if (!s->doses)
            return 0;
        for (ast_dose *x = d->u.stage.doses; x; x = x->next) {
            if (x->has_load && (strcmp(x->load_unit, "kg") != 0 && strcmp(x->load_unit, "lb") != 0))
                ERR(c, x->loc, "a load is a weight: write it in kg or lb, not %s", x->load_unit);
            if (x->has_load && (x->load_lo < 0 || (x->load_hi && x->load_hi < x->load_lo)))
                ERR(c, x->loc, "a load range runs from a weight of 0 or more up to a larger one");
            if (x->reps_max && x->reps_max < x->reps)
                ERR(c, x->loc, "a repetition range runs from fewer to more: %g-%g", x->reps, x->reps_max);
            dose *o = &s->doses[s->ndoses++];
            *o = (dose){ x->exercise, x->sets, x->reps, x->reps_max, x->hold_s, x->minutes, x->effort,
                         x->tempo, x->has_load, x->load_lo, x->load_hi, x->load_unit, x->frequency,
                         x->surface, x->range, x->knee, x->note };
        }
    }
    if (n == 0)
        ERR(c, c->root, "no stages: declare at least one 'stage NAME { ... }'");
    return 1;
}

/* ---- log schema --------------------------------------------------------- */

static int default_ok(checker *c, const ast_column *col, sch_column *s)
{
    ast_expr *v = col->defval;
    switch (col->type) {
    case T_SCORE: case T_NUMBER:
        if (v->kind != E_NUM)
            break;
        if (col->has_range && (v->u.num.v < col->lo || v->u.num.v > col->hi)) {
            ERR(c, v->loc, "default %g is outside the range of '%s' (%g..%g)", v->u.num.v, col->name, col->lo, col->hi);
            return 0;
        }
        s->defval.num = v->u.num.v;
        return 1;
    case T_YESNO:
        if (v->kind != E_BOOL)
            break;
        s->defval.i = v->u.b;
        return 1;
    case T_TEXT:
        if (v->kind != E_STR)
            break;
        s->defval_text = v->u.str.s;
        s->defval.s.len = (uint32_t)v->u.str.len;
        return 1;
    case T_DATE:
        if (v->kind != E_DATE)
            break;
        s->defval.i = v->u.date;
        return 1;
    case T_ONEOF: case T_STAGE: {
        if (v->kind != E_NAME)
            break;
        int i = col->type == T_ONEOF ? find_value(col, v->u.name) : find_stage(c, v->u.name);
        if (i < 0) {
            ERR(c, v->loc, "default '%s' is not one of the values of '%s'", v->u.name, col->name);
            return 0;
        }
        s->defval.i = i;
        return 1;
    }
    }
    ERR(c, v->loc, "this default does not fit the type of column '%s'", col->name);
    return 0;
}

static void check_column(checker *c, size_t i, sch_column *s)
{
    ast_column *col = c->cols[i];
    if (find_column(c, col->name) != (int)i)
        ERR(c, col->loc, "column '%s' is declared twice", col->name);
    if (find_stage(c, col->name) >= 0)
        ERR(c, col->loc, "'%s' is both a column and a stage: rename one", col->name);
    if (col->type == T_SCORE && !col->has_range) {
        col->has_range = 1;
        col->lo = 0;
        col->hi = 10;
    }
    if (col->has_range && col->lo > col->hi)
        ERR(c, col->range_loc, "empty range: %g is above %g", col->lo, col->hi);
    if (col->type == T_SCORE && (col->lo != floor(col->lo) || col->hi != floor(col->hi)))
        ERR(c, col->range_loc, "a score range has whole-number bounds");
    for (size_t a = 0; a < col->nvalues; a++)
        for (size_t b = 0; b < a; b++)
            if (strcmp(col->values[a], col->values[b]) == 0)
                ERR(c, col->value_locs[a], "value '%s' is listed twice", col->values[a]);
    if (col->required + col->optional + (col->defval != NULL) > 1)
        ERR(c, col->loc, "column '%s' can be only one of required, optional or default", col->name);
    static const col_type map[] = { COL_DATE, COL_SCORE, COL_NUMBER, COL_BOOL, COL_ENUM, COL_TEXT, COL_STAGE };
    *s = (sch_column){ .name = col->name, .title = col->from ? col->from : col->name,
                       .label = col->label, .unit = col->unit, .type = map[col->type],
                       .has_range = col->has_range, .lo = col->lo, .hi = col->hi,
                       .per_patient = col->per_patient, .values = col->values, .nvalues = col->nvalues };
    if (col->type == T_STAGE) {
        const char **names = arena_alloc(c->a, (c->p->nstages + 1) * sizeof *names);
        if (!names)
            return;
        for (size_t k = 0; k < c->p->nstages; k++)
            names[k] = c->p->stages[k].name;
        s->values = names;
        s->nvalues = c->p->nstages;
    }
    s->rest_of_row = col->rest_of_row;
    if (col->rest_of_row && col->type != T_TEXT)
        ERR(c, col->loc, "only a text column can take the rest of the row");
    s->presence = col->required ? PRES_REQUIRED : col->defval ? PRES_DEFAULT : PRES_OPTIONAL;
    if (col->defval)
        default_ok(c, col, s);
}

static ast_decl *the_log(checker *c, ast_decl *decls)
{
    ast_decl *log = NULL;
    for (ast_decl *d = decls; d; d = d->next) {
        if (d->kind != D_LOG)
            continue;
        if (log)
            ERR(c, d->loc, "a second 'log' schema: a rule set reads one kind of log");
        else
            log = d;
    }
    if (!log)
        ERR(c, c->root, "missing 'log { ... }': the rules must declare the columns of the symptom log");
    return log;
}

static int special_column(checker *c, const char *name, col_type want, int required, src_loc where)
{
    for (size_t i = 0; i < c->p->sch.ncols; i++) {
        if (strcmp(c->p->cols[i].name, name) != 0)
            continue;
        if (c->p->cols[i].type != want) {
            ERR(c, c->cols[i]->type_loc, "column '%s' has a special role and must be of type %s", name,
                want == COL_DATE ? "date" : "text");
            return -1;
        }
        return (int)i;
    }
    if (required)
        ERR(c, where, "the log needs a '%s' column of type date", name);
    return -1;
}

static int check_schema(checker *c, ast_decl *decls)
{
    ast_decl *log = the_log(c, decls);
    if (!log)
        return 1;
    size_t n = 0;
    for (ast_column *k = log->u.log.cols; k; k = k->next)
        n++;
    c->cols = arena_alloc(c->a, (n + 1) * sizeof *c->cols);
    c->p->cols = arena_zalloc(c->a, (n + 1) * sizeof *c->p->cols);
    if (!c->cols || !c->p->cols)
        return 0;
    size_t k = n; /* the grammar built the list newest-first */
    for (ast_column *col = log->u.log.cols; col; col = col->next)
        c->cols[--k] = col;
    if (n > AST_MAX_COLUMNS) {
        ERR(c, c->cols[AST_MAX_COLUMNS]->loc, "more than the limit of %d log columns", AST_MAX_COLUMNS);
        n = AST_MAX_COLUMNS;
    }
    c->ncols = n;
    for (size_t i = 0; i < n; i++)
        map_put(c, &c->col_map, c->cols[i]->name, (int)i);
    int stage_col = -1;
    for (size_t i = 0; i < n; i++) {
        check_column(c, i, &c->p->cols[i]);
        if (c->cols[i]->type == T_STAGE) {
            if (stage_col >= 0)
                ERR(c, c->cols[i]->type_loc, "only one column can hold the stage");
            stage_col = (int)i;
        }
    }
    schema *s = &c->p->sch;
    s->cols = c->p->cols;
    s->ncols = n;
    s->ignore_extra = log->u.log.ignore_extra;
    s->stage_col = stage_col;
    s->date_col = special_column(c, "date", COL_DATE, 1, log->loc);
    s->patient_col = special_column(c, "patient_id", COL_TEXT, 0, log->loc);
    return 1;
}

static void check_session(checker *c, ast_decl *decls)
{
    for (ast_decl *d = decls; d; d = d->next) {
        if (d->kind != D_LOG || !d->u.log.session)
            continue;
        c->in_session = 1;
        cx *x = check_expr(c, d->u.log.session, -1);
        c->in_session = 0;
        if (x && x->op == CX_DERIVED) {
            /* A named value may use sessions; keep the check simple and
             * exact: the definition of a session is written out here. */
            ERR(c, x->loc, "write what makes a row a session out in full here, not through a named value");
            return;
        }
        if (expect_type(c, x, TY_BOOL, "what makes a row a session"))
            c->p->session = x;
        return;
    }
}

/* ---- named values ------------------------------------------------------- */

static int collect_lets(checker *c, ast_decl *decls)
{
    size_t n = 0;
    for (ast_decl *d = decls; d; d = d->next)
        n += d->kind == D_LET;
    c->lets = arena_zalloc(c->a, (n + 1) * sizeof *c->lets);
    c->p->derived = arena_zalloc(c->a, (n + 1) * sizeof *c->p->derived);
    if (!c->lets || !c->p->derived)
        return 0;
    for (ast_decl *d = decls; d; d = d->next) {
        if (d->kind != D_LET)
            continue;
        const char *name = d->u.let.name;
        if (find_let(c, name) >= 0)
            ERR(c, d->loc, "'%s' is defined twice", name);
        else if (find_column(c, name) >= 0)
            ERR(c, d->loc, "'%s' is already a log column", name);
        else if (find_stage(c, name) >= 0)
            ERR(c, d->loc, "'%s' is already a stage", name);
        else if (strcmp(name, "session") == 0)
            ERR(c, d->loc, "'session' is built in: it is true on rows that are sessions");
        else {
            map_put(c, &c->let_map, name, (int)c->nlets);
            c->lets[c->nlets++] = (let_info){ d, 0, NULL, -1 };
        }
    }
    return 1;
}

static void check_all_lets(checker *c)
{
    for (size_t i = 0; i < c->nlets; i++)
        check_let(c, (int)i, c->lets[i].decl->loc);
}

/* ---- rules -------------------------------------------------------------- */

/* Source text for a condition and the operands the trace shows. */
static void label_condition(checker *c, cx *x)
{
    x->text = slice(c, x->loc);
    if (x->a)
        x->a->text = slice(c, x->a->loc);
    if (x->b)
        x->b->text = slice(c, x->b->loc);
}

static size_t count_conjuncts(const cx *x)
{
    return x->op == CX_AND ? count_conjuncts(x->a) + count_conjuncts(x->b) : 1;
}

/* Split `a and b and c` into its conditions, giving each (and the operands
 * of a comparison) its source text for the trace. */
static void fill_conjuncts(checker *c, cx *x, cx **out, size_t *n)
{
    if (x->op == CX_AND) {
        fill_conjuncts(c, x->a, out, n);
        fill_conjuncts(c, x->b, out, n);
        return;
    }
    label_condition(c, x);
    out[(*n)++] = x;
}

static int stage_target(checker *c, const char *name, src_loc loc)
{
    if (!name)
        return -1;
    int i = find_stage(c, name);
    if (i < 0)
        unknown_name(c, loc, "stage", name, -1, 1);
    return i;
}

static void check_rule(checker *c, ast_rule *a, int stage_idx)
{
    static const kind_t kinds[] = { K_STOP, K_REGRESS, K_HOLD, K_ADVANCE, K_REFER, K_FLAG };
    rule *r = &c->p->rules[c->p->nrules];
    *r = (rule){ .kind = kinds[a->kind], .name = a->name, .flag = a->flag, .loc = a->loc, .stage = stage_idx,
                 .volume = 1, .for_days = a->for_days, .refer = a->refer, .because = a->because,
                 .order = c->p->nrules };
    r->target = stage_target(c, a->target, a->target_loc);
    if (a->reduce_pct != -1) {
        if (a->reduce_pct <= 0 || a->reduce_pct >= 100)
            ERR(c, a->reduce_loc, "reduce volume by more than 0%% and less than 100%%, not %g%%", a->reduce_pct);
        r->volume = (100 - a->reduce_pct) / 100; /* 90% off is exactly 0.1 */
    }
    if (a->for_days && (a->for_days != floor(a->for_days) || a->for_days < 1))
        ERR(c, a->loc, "'for N days' needs a whole number of days, at least 1, not %g", a->for_days);
    int same = a->name && a->kind != R_FLAG ? map_get(&c->rule_map, a->name) : -1;
    if (same >= 0)
        ERR(c, a->name_loc, "a rule named '%s' already exists (line %u): names identify rules in the trace",
            a->name, c->p->rules[same].line);
    if (a->kind == R_STOP && !a->refer)
        ERR(c, a->loc, "a stop rule needs 'refer \"...\"' to say whom the patient should see");
    if (a->kind == R_ADVANCE && !a->target && stage_idx >= 0 && (size_t)stage_idx + 1 == c->p->nstages)
        ERR(c, a->loc, "'advance' in the last stage needs 'to STAGE': there is no next stage");
    src_file *f = &c->d->files[a->loc.file];
    unsigned col;
    diag_linecol(c->d, a->loc.file, a->loc.start, &r->line, &col);
    r->file = arena_strndup(c->a, f->path, strlen(f->path)); /* the program outlives the diag list */
    cx *x = check_expr(c, a->cond, -1);
    if (!expect_type(c, x, TY_BOOL, "a rule's condition"))
        return;
    r->cond = x;
    r->nconds = count_conjuncts(x);
    r->conds = arena_alloc(c->a, r->nconds * sizeof *r->conds);
    if (!r->conds)
        return;
    size_t n = 0;
    fill_conjuncts(c, x, r->conds, &n);
    if (r->name && r->kind != K_FLAG)
        map_put(c, &c->rule_map, r->name, (int)c->p->nrules);
    c->p->nrules++;
}

static void check_rules(checker *c, ast_decl *decls)
{
    size_t n = 0;
    for (ast_decl *d = decls; d; d = d->next) {
        if (d->kind == D_RULE)
            n++;
        else if (d->kind == D_STAGE)
            for (ast_rule *r = d->u.stage.rules; r; r = r->next)
                n++;
    }
    c->p->rules = arena_zalloc(c->a, (n + 1) * sizeof(rule));
    if (!c->p->rules)
        return;
    for (ast_decl *d = decls; d; d = d->next) {
        if (d->kind == D_RULE) {
            check_rule(c, d->u.rule, -1);
        } else if (d->kind == D_STAGE) {
            int s = find_stage(c, d->u.stage.name);
            for (ast_rule *r = d->u.stage.rules; r; r = r->next)
                check_rule(c, r, s);
        }
    }
}

static void check_modifier(checker *c, ast_decl *d, modifier *m)
{
    ast_modifier *a = d->u.mod;
    m->loc = a->loc;
    m->because = a->because;
    m->file = arena_strndup(c->a, c->d->files[a->loc.file].path, strlen(c->d->files[a->loc.file].path));
    unsigned col;
    diag_linecol(c->d, a->loc.file, a->loc.start, &m->line, &col);
    if (!a->because)
        ERR(c, a->loc, "a modifier needs 'because \"...\"' inside its braces");
    c->in_modifier = 1;
    cx *x = check_expr(c, a->cond, -1);
    c->in_modifier = 0;
    if (expect_type(c, x, TY_BOOL, "a modifier's condition")) {
        m->cond = x;
        label_condition(c, x);
    }
    size_t n = 0;
    for (ast_mod_stmt *s = a->stmts; s; s = s->next)
        n++;
    m->stmts = arena_zalloc(c->a, (n + 1) * sizeof *m->stmts);
    if (!m->stmts)
        return;
    for (ast_mod_stmt *s = a->stmts; s; s = s->next) {
        mod_stmt *o = &m->stmts[m->nstmts++];
        o->kind = s->kind;
        o->text = s->text;
        o->pct = s->pct;
        if (s->kind == M_VOLUME && (s->pct <= 0 || s->pct > 100))
            ERR(c, s->loc, "volume is the share of the dose kept: more than 0%% and at most 100%%, not %g%%", s->pct);
        if (s->only && (s->kind == M_AVOID || s->kind == M_FLAG))
            ERR(c, s->loc, "'for /.../' picks exercises: it goes before surface, range, knee, note or volume, "
                           "not before %s, which applies to the whole decision", s->kind == M_AVOID ? "avoid" : "flag");
        if (s->only)
            o->only = rx_compile(c->p->regexes, s->only, s->only_len, s->only_flags, s->loc.file,
                                 s->only_off, s->loc, c->d);
    }
}

static void check_modifiers(checker *c, ast_decl *decls)
{
    size_t n = 0;
    for (ast_decl *d = decls; d; d = d->next)
        n += d->kind == D_MODIFY;
    c->p->mods = arena_zalloc(c->a, (n + 1) * sizeof(modifier));
    if (!c->p->mods)
        return;
    for (ast_decl *d = decls; d; d = d->next)
        if (d->kind == D_MODIFY)
            check_modifier(c, d, &c->p->mods[c->p->nmods++]);
}

int check_program(tendo_program *p, ast_decl *decls, diag_list *d, uint32_t root)
{
    checker c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.d = d;
    c.a = &p->ar;
    c.cur_stage = -1;
    c.root = (src_loc){ root, 0, 0 };
    c.errors_at_start = d->nerrors;
    p->regexes = rx_set_new();
    if (!p->regexes) {
        d->oom = 1;
        return 0;
    }
    check_protocol(&c, decls);
    if (!check_stages(&c, decls) || !check_schema(&c, decls) || !collect_lets(&c, decls))
        return 0;
    check_all_lets(&c);
    check_session(&c, decls);
    check_rules(&c, decls);
    check_modifiers(&c, decls);
    return d->nerrors == c.errors_at_start && !d->oom;
}
