/* decision.h — the decision record: what the evaluator produces for one
 * patient and what every view (text, JSON, CSV) renders.  Everything in it
 * lives in the evaluation arena and stays valid until the next evaluation
 * with the same evaluator. */
#ifndef TENDO_DECISION_H
#define TENDO_DECISION_H

#include "program.h"

typedef enum { T3_FALSE = 0, T3_TRUE = 1, T3_UNKNOWN = 2 } tri;

/* One condition of a rule (a top-level conjunct of its `when`). */
typedef struct tr_cond {
    const char *text;       /* the condition as written in the rule file */
    tri result;
    int is_cmp;             /* a comparison: lhs/rhs below are meaningful */
    const char *lhs_text, *rhs_text, *op;
    value lhs, rhs;         /* operand values (VK_UNKNOWN when unknown) */
    vtype lhs_type, rhs_type;
    int lhs_domain, rhs_domain;
    value val;              /* for a non-comparison condition: its value */
    vtype val_type;
    int val_domain;
    /* rows that fed the first aggregate in this condition, if any */
    int has_window;
    size_t win_rows;
    int32_t win_first, win_last;
    const char *note;       /* why unknown, e.g. "window is empty", may be NULL */
} tr_cond;

typedef enum {
    TR_WON,            /* the deciding rule */
    TR_ALSO_TRUE,      /* true, but a more cautious or earlier rule won */
    TR_APPLIED,        /* refer / flag rules and modifiers that applied */
    TR_FALSE,          /* condition false */
    TR_UNKNOWN,        /* condition unknown: never fires */
    TR_NOT_APPLICABLE  /* e.g. advance at the last stage */
} tr_status;

typedef struct tr_rule {
    const rule *r;          /* NULL for a modifier entry */
    const modifier *m;
    tri result;
    tr_status status;
    const char *why;        /* one line: why it won or lost */
    tr_cond *conds;
    size_t nconds;
} tr_rule;

typedef struct rx_out_dose {
    dose d;                 /* after modifiers and volume */
    const char **notes;     /* modifier notes and avoid items for this exercise */
    size_t nnotes;
} out_dose;

typedef struct decision {
    const char *patient;
    const char *log_path;
    int32_t as_of;
    size_t nrows;           /* visible rows */
    int stage;              /* current stage index */
    int days_in_stage, sessions_in_stage;
    kind_t kind;            /* K_STOP, K_REGRESS, K_HOLD or K_ADVANCE */
    int next_stage;
    double volume;
    double for_days;        /* `hold ... for N days`: when to decide again; 0 = not said */
    int urgent;
    const char *refer;      /* NULL or text (several joined by "; ") */
    const char **flags;
    size_t nflags;
    const rule *rule;       /* deciding rule; NULL: nothing fired */
    const char *because;
    out_dose *doses;        /* next prescription (empty for stop) */
    size_t ndoses;
    const char **avoid;     /* things to avoid, from modifiers */
    size_t navoid;
    tr_rule *trace;         /* every rule considered, load order, modifiers last */
    size_t ntrace;
} decision;

const char *kind_name(kind_t k);

#endif
