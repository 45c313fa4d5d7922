/* parse_ctx.h — state shared by the reentrant scanner and the pure parser.
 * One instance per file being parsed; nothing global. */
#ifndef TENDO_PARSE_CTX_H
#define TENDO_PARSE_CTX_H

#include "ast.h"

#include <setjmp.h>

/* Byte-range locations: line:col is computed only when a diagnostic prints. */
typedef struct tdo_loc {
    uint32_t start, end;
} tdo_loc;

typedef struct rx_lit {
    const char *pat;
    size_t len;
    const char *flags;
    uint32_t off;   /* byte offset of the pattern's first character */
} rx_lit;

typedef struct parse_ctx {
    arena *a;
    diag_list *d;
    uint32_t file;
    uint32_t off;        /* scanner's byte offset into the file */
    int prev_tok;        /* last token returned: decides whether '/' opens a regex */
    tdo_loc tok_loc;     /* that token's location ... */
    int before_tok;      /* ... and the token before it, for "did you mean" */
    tdo_loc before_loc;
    uint32_t open_brace[64]; /* offsets of the innermost unclosed '{' */
    int braces;
    int depth;           /* current expression nesting */
    int depth_reported;
    int oom;
    /* flex's fatal errors (allocation failures while setting up the input
     * buffer) jump here; the allocations made during setup are freed. */
    jmp_buf *fatal;
    int in_setup, nsetup;
    void *setup[4];
    ast_decl *head, **tail;
    /* Nodes under construction by mid-rule actions (arena-owned). */
    ast_column *col;
    ast_dose *dose;
    const char *refer;
    tdo_loc target_loc;    /* of the stage named by `to STAGE` */
    struct ast_dose **dose_tail;   /* ends of the open stage's lists */
    struct ast_rule **rule_tail;
} parse_ctx;

/* Grammar helpers (ast.c); each returns NULL/0 on allocation failure or,
 * for the checks, after recording a located error. */
int ast_column_add_value(parse_ctx *pc, ast_column *c, const char *v, tdo_loc l);
void ast_stage_add_dose(parse_ctx *pc, ast_decl *stage, ast_dose *d);
void ast_stage_add_rule(parse_ctx *pc, ast_decl *stage, ast_rule *r);
ast_rule *ast_rule_new(parse_ctx *pc, rule_kind k, tdo_loc l);
ast_mod_stmt *ast_mod_new(parse_ctx *pc, mod_kind k, tdo_loc l);
ast_mod_stmt *ast_mod_reverse(ast_mod_stmt *s, const char **because);
const char *ast_tempo(parse_ctx *pc, double a, double b, double c);
int ast_check_seconds(parse_ctx *pc, const char *unit, tdo_loc l);
int ast_check_minutes(parse_ctx *pc, const char *unit, tdo_loc l);
int ast_check_effort(parse_ctx *pc, double n, double of, tdo_loc l);

static inline src_loc ctx_loc(const parse_ctx *c, tdo_loc l)
{
    return (src_loc){ c->file, l.start, l.end };
}

#endif
