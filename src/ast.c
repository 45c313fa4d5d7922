/* ast.c — building the syntax tree, and the entry point that runs the
 * reentrant scanner and pure parser over one source file. */
#include "ast.h"
#include "parse_ctx.h"
#include "parser.h"
#include "lexer.h"

#include <string.h>

int ast_column_add_value(parse_ctx *pc, ast_column *c, const char *v, tdo_loc l)
{
    if (!c)
        return 0;
    if (c->nvalues == AST_MAX_VALUES) {
        if (!c->values_over)
            diag_at(pc->d, DIAG_ERROR, ctx_loc(pc, l), "more than the limit of %d values in 'one of'",
                    AST_MAX_VALUES);
        c->values_over = 1;
        return 1;
    }
    if (c->nvalues == c->cap_values) {
        /* Doubling: the arena cannot grow in place, and copying on every
         * value would make a long list quadratic. */
        size_t cap = c->cap_values ? c->cap_values * 2 : 8;
        const char **vals = arena_alloc(pc->a, cap * sizeof *vals);
        src_loc *locs = arena_alloc(pc->a, cap * sizeof *locs);
        if (!vals || !locs) {
            pc->oom = 1;
            return 0;
        }
        if (c->nvalues) {
            memcpy(vals, c->values, c->nvalues * sizeof *vals);
            memcpy(locs, c->value_locs, c->nvalues * sizeof *locs);
        }
        c->values = vals;
        c->value_locs = locs;
        c->cap_values = cap;
    }
    c->values[c->nvalues] = v;
    c->value_locs[c->nvalues] = ctx_loc(pc, l);
    c->nvalues++;
    return 1;
}

/* Appending goes through the tails kept in pc (one stage is open at a
 * time): walking the list would be quadratic in a stage's length. */
void ast_stage_add_dose(parse_ctx *pc, ast_decl *stage, ast_dose *d)
{
    ast_dose **p = pc->dose_tail ? pc->dose_tail : &stage->u.stage.doses;
    *p = d;
    pc->dose_tail = &d->next;
}

void ast_stage_add_rule(parse_ctx *pc, ast_decl *stage, ast_rule *r)
{
    ast_rule **p = pc->rule_tail ? pc->rule_tail : &stage->u.stage.rules;
    *p = r;
    pc->rule_tail = &r->next;
}

ast_rule *ast_rule_new(parse_ctx *pc, rule_kind k, tdo_loc l)
{
    ast_rule *r = arena_zalloc(pc->a, sizeof *r);
    if (r) {
        r->kind = k;
        r->loc = ctx_loc(pc, l);
        r->name_loc.file = SRC_NONE;
        r->reduce_pct = -1;
    }
    return r;
}

ast_mod_stmt *ast_mod_new(parse_ctx *pc, mod_kind k, tdo_loc l)
{
    ast_mod_stmt *s = arena_zalloc(pc->a, sizeof *s);
    if (s) {
        s->kind = k;
        s->loc = ctx_loc(pc, l);
    }
    return s;
}

/* The grammar builds the statement list backwards; restore file order and
 * lift the `because` out of it. */
ast_mod_stmt *ast_mod_reverse(ast_mod_stmt *s, const char **because)
{
    ast_mod_stmt *out = NULL;
    while (s) {
        ast_mod_stmt *next = s->next;
        if (s->kind == M_NOTE && s->pct < 0) {
            *because = s->text;
        } else {
            s->next = out;
            out = s;
        }
        s = next;
    }
    return out;
}

const char *ast_tempo(parse_ctx *pc, double a, double b, double c)
{
    char buf[96];
    snprintf(buf, sizeof buf, "%g-%g-%g", a, b, c);
    return arena_strndup(pc->a, buf, strlen(buf));
}

int ast_check_seconds(parse_ctx *pc, const char *unit, tdo_loc l)
{
    if (strcmp(unit, "s") == 0 || strcmp(unit, "seconds") == 0)
        return 1;
    diag_at(pc->d, DIAG_ERROR, ctx_loc(pc, l), "a hold time is in seconds: expected 's' or 'seconds', found '%s'", unit);
    return 0;
}

int ast_check_minutes(parse_ctx *pc, const char *unit, tdo_loc l)
{
    if (strcmp(unit, "minutes") == 0)
        return 1;
    diag_at(pc->d, DIAG_ERROR, ctx_loc(pc, l), "a duration is in minutes: expected 'minutes', found '%s'", unit);
    return 0;
}

int ast_check_effort(parse_ctx *pc, double n, double of, tdo_loc l)
{
    if (of == 10 && n >= 0 && n <= 10)
        return 1;
    diag_at(pc->d, DIAG_ERROR, ctx_loc(pc, l), "effort is rated out of 10: expected 'effort N/10' with N from 0 to 10");
    return 0;
}

int tdo_parse(void *scanner, parse_ctx *pc);

ast_decl *ast_parse(arena *a, diag_list *d, uint32_t file, int *ok)
{
    parse_ctx pc;
    memset(&pc, 0, sizeof pc);
    pc.a = a;
    pc.d = d;
    pc.file = file;
    pc.tail = &pc.head;
    *ok = 0;

    yyscan_t scanner;
    if (tdo_lex_init_extra(&pc, &scanner) != 0) {
        diag_at(d, DIAG_ERROR, (src_loc){ file, 0, 0 }, "out of memory");
        return NULL;
    }
    const src_file *f = &d->files[file];
    jmp_buf fatal;
    pc.fatal = &fatal;
    YY_BUFFER_STATE buf = NULL;
    if (setjmp(fatal) == 0) {
        pc.in_setup = 1;
        buf = tdo__scan_bytes(f->text, (int)f->len, scanner);
        pc.in_setup = 0;
    } else {
        /* Out of memory inside flex: nothing of the buffer is on the
         * scanner's stack yet, so free what it allocated here. */
        for (int i = 0; i < pc.nsetup; i++)
            mem_free(pc.setup[i]);
        pc.in_setup = 0;
        buf = NULL;
    }
    size_t before = d->nerrors;
    int rc = buf ? tdo_parse(scanner, &pc) : 2;
    if (buf)
        tdo__delete_buffer(buf, scanner);
    tdo_lex_destroy(scanner);
    if (pc.oom || (rc == 2 && d->nerrors == before))
        diag_at(d, DIAG_ERROR, (src_loc){ file, 0, 0 }, "out of memory while reading this file");
    if (rc != 0 || d->nerrors != before)
        return NULL;
    *ok = 1;
    return pc.head;
}
