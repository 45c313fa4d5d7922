/* ast.h — the syntax tree built by the parser, and nothing more.
 *
 * Every node lives in the parse arena (one free per program) and carries a
 * byte-range location.  Names are still strings here; the checker resolves
 * them into indices (see program.h). */
#ifndef TENDO_AST_H
#define TENDO_AST_H

#include "diag.h"
#include "mem.h"

typedef struct ast_expr ast_expr;

typedef enum {
    E_NUM, E_STR, E_BOOL, E_DATE, E_REGEX, E_NAME,
    E_NEG, E_NOT,
    E_ADD, E_SUB, E_MUL, E_DIV,
    E_EQ, E_NE, E_LT, E_LE, E_GT, E_GE,
    E_MATCH, E_NOMATCH,
    E_AND, E_OR, E_OTHERWISE,
    E_IN, E_IF, E_KNOWN, E_UNKNOWN,
    E_AGG,          /* max/min/... (arg, window) */
    E_VALUE_AGO,    /* value(arg, N days ago) */
    E_NEXT, E_PREV, /* next(arg), previous(arg) */
    E_DAYS_IN_STAGE, E_SESSIONS_IN_STAGE,
    E_DAYS_SINCE,   /* days since arg */
    E_NEXT_STAGE    /* the stage being prescribed (modifier conditions only) */
} expr_kind;

typedef enum {
    AGG_MAX, AGG_MIN, AGG_MEAN, AGG_SUM, AGG_COUNT, AGG_ANY, AGG_ALL,
    AGG_TREND, AGG_FIRST, AGG_LAST
} agg_kind;

typedef enum {
    W_ALL,           /* no window: every visible row up to the context row */
    W_LAST_SESSIONS, W_LAST_ROWS, W_LAST_DAYS,
    W_DAYS_AGO,      /* days A to B ago */
    W_IN_STAGE,
    W_FIRST_SESSIONS, W_FIRST_ROWS, W_FIRST_DAYS  /* from the start of the log */
} window_kind;

/* A window count: a literal or the name of a numeric constant. */
typedef struct ast_count {
    double num;
    const char *name;   /* non-NULL when written as a constant's name */
    src_loc loc;
} ast_count;

typedef struct ast_window {
    window_kind kind;
    ast_count n, m;     /* n: N of last N ...; A of days A to B ago; m: B */
    src_loc loc;
} ast_window;

typedef struct ast_list {
    ast_expr **items;
    size_t n, cap;      /* cap: room in items (grown by doubling) */
} ast_list;

struct ast_expr {
    expr_kind kind;
    src_loc loc;
    union {
        struct { double v; const char *unit; } num;
        struct { const char *s; size_t len; } str;
        int b;
        int32_t date;
        struct { const char *pat; size_t len; const char *flags; uint32_t pat_off; } rx;
        const char *name;
        struct { ast_expr *l, *r; } bin;   /* unary ops use l */
        struct { ast_expr *cond, *then, *els; } ifx;
        struct { ast_expr *l; ast_list set; } in;
        struct { agg_kind fn; ast_expr *arg; ast_window win; } agg; /* arg NULL: count(window) */
        struct { ast_expr *arg; ast_count days; } ago;
    } u;
};

/* ---- log schema ------------------------------------------------------- */

typedef enum { T_DATE, T_SCORE, T_NUMBER, T_YESNO, T_ONEOF, T_TEXT, T_STAGE } ast_type;

typedef struct ast_column {
    const char *name;
    src_loc loc, type_loc;
    ast_type type;
    int has_range;
    double lo, hi;
    src_loc range_loc;
    const char *unit;
    const char *label;
    const char *from;
    int required, optional, per_patient, rest_of_row;
    ast_expr *defval;   /* NULL unless `default` */
    const char **values; size_t nvalues; src_loc *value_locs; /* one of */
    size_t cap_values;  /* room in values and value_locs */
    int values_over;    /* more than AST_MAX_VALUES were listed (reported) */
    struct ast_column *next;
} ast_column;

/* ---- prescriptions ---------------------------------------------------- */

typedef struct ast_dose {
    const char *exercise;
    src_loc loc;
    double sets, reps, reps_max, hold_s, minutes;  /* 0 = not given */
    const char *tempo;       /* "3-1-3" */
    double effort;           /* out of 10, 0 = not given */
    double load_lo, load_hi; /* load_hi 0 unless a range */
    const char *load_unit;
    int has_load;
    const char *frequency;   /* "twice daily", "3 times a week", ... */
    const char *surface, *range, *knee, *note;
    struct ast_dose *next;
} ast_dose;

/* ---- rules ------------------------------------------------------------ */

typedef enum { R_STOP, R_REGRESS, R_HOLD, R_ADVANCE, R_REFER, R_FLAG } rule_kind;

typedef struct ast_rule {
    rule_kind kind;
    const char *name;        /* label `name:` (or the flag name when unlabelled), may be NULL */
    const char *flag;        /* R_FLAG: the flag raised */
    src_loc loc, name_loc;
    const char *target;      /* `to STAGE` */
    src_loc target_loc;
    double reduce_pct;       /* `reduce volume N%`, -1 = not given */
    src_loc reduce_loc;
    double for_days;         /* `for N days` on hold, 0 = none */
    ast_expr *cond;
    const char *refer;       /* `refer "..."` (stop) or the referral text (refer rules) */
    const char *because;
    struct ast_rule *next;
} ast_rule;

typedef enum { M_SURFACE, M_RANGE, M_KNEE, M_AVOID, M_NOTE, M_FLAG, M_VOLUME } mod_kind;

typedef struct ast_mod_stmt {
    mod_kind kind;
    const char *text;        /* value, avoided thing, note, flag name */
    double pct;              /* M_VOLUME: percent of the dose kept */
    const char *only;        /* regex source restricting to matching exercises, may be NULL */
    size_t only_len;
    const char *only_flags;
    uint32_t only_off;
    src_loc loc;
    struct ast_mod_stmt *next;
} ast_mod_stmt;

typedef struct ast_modifier {
    ast_expr *cond;
    ast_mod_stmt *stmts;
    const char *because;
    src_loc loc;
} ast_modifier;

/* ---- declarations ----------------------------------------------------- */

typedef enum { D_PROTOCOL, D_INCLUDE, D_LOG, D_LET, D_STAGE, D_RULE, D_MODIFY } decl_kind;

typedef struct ast_source { const char *text; struct ast_source *next; } ast_source;

typedef struct ast_decl {
    decl_kind kind;
    src_loc loc;
    union {
        struct { const char *id, *version, *title; ast_source *sources; } protocol;
        struct { const char *path; } include;
        struct { ast_column *cols; ast_expr *session; int ignore_extra; } log;
        struct { const char *name; ast_expr *value; } let;
        struct { const char *name, *title; ast_dose *doses; ast_rule *rules; } stage;
        ast_rule *rule;
        ast_modifier *mod;
    } u;
    struct ast_decl *next;
} ast_decl;

/* Limits that the grammar enforces (documented in docs/language.md). */
enum {
    AST_MAX_DEPTH = 200,          /* expression nesting */
    AST_MAX_IDENT = 256,          /* identifier length in bytes */
    AST_MAX_STRING = 64 * 1024,   /* string or regex literal length */
    AST_MAX_FILE = 4 * 1024 * 1024, /* one rule file */
    AST_MAX_INCLUDE_DEPTH = 16,
    AST_MAX_VALUES = 1000,        /* values of one 'one of' column */
    AST_MAX_STAGES = 1000,        /* stages of a protocol */
    AST_MAX_COLUMNS = 1024        /* columns of the log (a log row holds no more) */
};

/* Parse one source file (already registered in d) into a declaration list
 * allocated in a.  Returns NULL when there were syntax errors (recorded in d);
 * an empty file yields an empty list, reported through *ok. */
ast_decl *ast_parse(arena *a, diag_list *d, uint32_t file, int *ok);

#endif
