/* program.h — a checked protocol: names resolved to indices, types known,
 * regexes compiled, constants folded.  Immutable after tendo_load, so many
 * threads may evaluate patients against one program at once. */
#ifndef TENDO_PROGRAM_H
#define TENDO_PROGRAM_H

#include "ast.h"
#include "schema.h"
#include "rx.h"

typedef enum { TY_NUM, TY_BOOL, TY_DATE, TY_TEXT, TY_ENUM, TY_STAGE, TY_REGEX } vtype;

/* A runtime value.  Text points into the patient table or the program.
 * Sixteen bytes, so that the evaluator returns one in two registers
 * rather than through memory: a text's length sits beside the kind. */
typedef enum { VK_UNKNOWN, VK_NUM, VK_BOOL, VK_DATE, VK_TEXT, VK_SYM } vkind;
typedef struct value {
    vkind kind;
    uint32_t len;       /* VK_TEXT: bytes at u.s */
    union {
        double num;
        int b;
        int32_t date;
        int32_t sym;    /* enum value or stage index */
        const char *s;  /* VK_TEXT */
    } u;
} value;

typedef enum {
    CX_CONST, CX_FIELD, CX_DERIVED, CX_SESSION,
    CX_NEG, CX_NOT, CX_ADD, CX_SUB, CX_MUL, CX_DIV,
    CX_EQ, CX_NE, CX_LT, CX_LE, CX_GT, CX_GE,
    CX_MATCH, CX_NOMATCH, CX_AND, CX_OR, CX_OTHERWISE,
    CX_IN, CX_IF, CX_KNOWN, CX_UNKNOWN,
    CX_AGG, CX_VALUE_AGO, CX_NEXT, CX_PREV,
    CX_DAYS_IN_STAGE, CX_SESSIONS_IN_STAGE, CX_DAYS_SINCE,
    CX_DATE_ADD, /* date + days (either order), date - days handled by sign */
    CX_NEXT_STAGE /* the decision's next stage: known only to modifiers */
} cx_op;

typedef struct window {
    window_kind kind;
    int n, m;
} window;

typedef struct cx cx;
struct cx {
    cx_op op;
    vtype type;
    int domain;          /* TY_ENUM: column index whose values name the symbols */
    const char *unit;    /* NULL = unitless */
    src_loc loc;
    value k;             /* CX_CONST */
    int idx;             /* CX_FIELD column, CX_DERIVED index */
    cx *a, *b, *c;
    cx **set;            /* CX_IN */
    size_t nset;
    agg_kind fn;         /* CX_AGG */
    window win;
    int days;            /* CX_VALUE_AGO */
    const rx *re;        /* CX_MATCH */
    const char *text;    /* source text; set on rule conditions and their operands */
    int dep;             /* depends on the patient's rows (else folded at load) */
};

typedef struct derived {
    const char *name;
    src_loc loc;
    cx *expr;
} derived;

typedef struct dose {
    const char *exercise;
    double sets, reps, reps_max, hold_s, minutes, effort;
    const char *tempo;
    int has_load;
    double load_lo, load_hi;
    const char *load_unit;
    const char *frequency, *surface, *range, *knee, *note;
} dose;

typedef enum { K_STOP, K_REGRESS, K_HOLD, K_ADVANCE, K_REFER, K_FLAG } kind_t;

typedef struct rule {
    kind_t kind;
    const char *name;     /* label (a flag rule without one: its flag); may be NULL */
    const char *flag;     /* K_FLAG: the flag raised */
    src_loc loc;
    const char *file;     /* path of the rule file */
    unsigned line;
    int stage;            /* owning stage index, -1 for a global rule */
    int target;           /* `to STAGE`, -1 = next/previous */
    double volume;        /* 1 unless `reduce volume N%` */
    double for_days;
    cx *cond;
    cx **conds;           /* top-level conjuncts of cond, for the trace */
    size_t nconds;
    const char *refer, *because;
    size_t order;         /* position in load order */
} rule;

typedef struct mod_stmt {
    mod_kind kind;
    const char *text;
    double pct;
    const rx *only;       /* restrict to exercises whose name matches */
} mod_stmt;

typedef struct modifier {
    cx *cond;
    src_loc loc;
    const char *file;
    unsigned line;
    mod_stmt *stmts;
    size_t nstmts;
    const char *because;
} modifier;

typedef struct stage {
    const char *name, *title;
    src_loc loc;
    dose *doses;
    size_t ndoses;
} stage;

struct tendo_program {
    arena ar;             /* every node below lives here */
    const char *id, *version, *title;
    const char **sources;
    size_t nsources;
    char sha256[65];
    schema sch;
    sch_column *cols;
    cx *session;          /* what makes a row a session; NULL = every row */
    stage *stages;
    size_t nstages;
    rule *rules;          /* all rules, global and staged, in load order */
    size_t nrules;
    modifier *mods;
    size_t nmods;
    derived *derived;
    size_t nderived;
    rx_set *regexes;      /* owns the compiled regexes */
};

typedef struct tendo_program tendo_program;

/* check.c: AST (all files, in load order) -> program.  Returns 0 on errors. */
int check_program(tendo_program *p, ast_decl *decls, diag_list *d, uint32_t root);

/* eval.c: value of an expression that does not depend on any patient. */
value eval_const(const cx *e);

#endif
