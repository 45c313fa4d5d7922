/* parser.y — the grammar of the tendo rule language.
 *
 * Syntax only: actions build located AST nodes in the parse arena and do
 * nothing else (no name lookup, no evaluation, no I/O).  The semantic pass in
 * check.c gives the tree its meaning.  Semantic values are arena-owned, so
 * error recovery cannot leak them and no %destructor is needed: the arena is
 * freed once, with the program. */

%require "3.8"
%define api.pure full                 /* no globals: reentrant parser */
%define api.prefix {tdo_}             /* keep the library's symbols in our namespace */
%define api.token.prefix {TOK_}       /* TOK_IDENT etc., shared with the scanner */
%define api.value.type union          /* typed tokens and nonterminals */
%define api.location.type {tdo_loc}   /* byte ranges, see parse_ctx.h */
%define api.header.include {"parser.h"}
%define parse.error custom            /* messages built in yyreport_syntax_error */
%define parse.lac full                /* exact "expected" lists after default reductions */
%define parse.trace                   /* TENDO_YYDEBUG=1 prints the parse */
%locations
%verbose
%expect 0

%param {void *scanner}
%parse-param {parse_ctx *pc}

%code requires {
#include "parse_ctx.h"
}

%code provides {
int tdo_lex(TDO_STYPE *yylval, TDO_LTYPE *yylloc, void *scanner);
}

%code {
#include <stdarg.h>
#include <string.h>
#include "keywords.h"

#define YYLLOC_DEFAULT(Cur, Rhs, N)                               \
    do {                                                          \
        if (N) {                                                  \
            (Cur).start = YYRHSLOC(Rhs, 1).start;                 \
            (Cur).end = YYRHSLOC(Rhs, N).end;                     \
        } else {                                                  \
            (Cur).start = (Cur).end = YYRHSLOC(Rhs, 0).end;       \
        }                                                         \
    } while (0)

#define YYMALLOC parser_stack_alloc
#define YYFREE mem_free
/* Bison reports both a stack deeper than YYMAXDEPTH and a failed stack
 * allocation as "memory exhausted"; this flag tells them apart. */
static _Thread_local int stack_alloc_failed;
static void *parser_stack_alloc(size_t n)
{
    void *p = mem_alloc(n);
    if (!p)
        stack_alloc_failed = 1;
    return p;
}
/* Deep chains (not not not ..., - - - ...) grow the parser stack; past this
 * the parse stops with a located "nested too deeply" error. */
#define YYMAXDEPTH 10000

static void tdo_error(const tdo_loc *l, void *scanner, parse_ctx *pc, const char *msg);

/* Allocate a node or abandon the parse as out of memory. */
#define NEW(var, call) do { if (!((var) = (call))) { pc->oom = 1; YYNOMEM; } } while (0)

static ast_expr *mk(parse_ctx *pc, expr_kind k, tdo_loc l)
{
    ast_expr *e = arena_zalloc(pc->a, sizeof *e);
    if (e) {
        e->kind = k;
        e->loc = ctx_loc(pc, l);
    }
    return e;
}

static ast_expr *mk_bin(parse_ctx *pc, expr_kind k, tdo_loc l, ast_expr *a, ast_expr *b)
{
    ast_expr *e = mk(pc, k, l);
    if (e) {
        e->u.bin.l = a;
        e->u.bin.r = b;
    }
    return e;
}

/* Doubling: copying the list on every item would be quadratic. */
static ast_list list_push(parse_ctx *pc, ast_list l, ast_expr *e)
{
    if (l.n == l.cap) {
        size_t cap = l.cap ? l.cap * 2 : 4;
        ast_expr **items = arena_alloc(pc->a, cap * sizeof *items);
        if (!items) {
            pc->oom = 1;
            return l;
        }
        if (l.n)
            memcpy(items, l.items, l.n * sizeof *items);
        l.items = items;
        l.cap = cap;
    }
    l.items[l.n++] = e;
    return l;
}

static void append_decl(parse_ctx *pc, ast_decl *d)
{
    *pc->tail = d;
    pc->tail = &d->next;
}

static ast_decl *mk_decl(parse_ctx *pc, decl_kind k, tdo_loc l)
{
    ast_decl *d = arena_zalloc(pc->a, sizeof *d);
    if (d) {
        d->kind = k;
        d->loc = ctx_loc(pc, l);
    }
    return d;
}

static const char *cat3(parse_ctx *pc, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = arena_alloc(pc->a, la + lb + lc + 1);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

static const char *fmt_num(parse_ctx *pc, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%g", v);
    return arena_strndup(pc->a, buf, strlen(buf));
}
}

/* ---- tokens ------------------------------------------------------------ */

%token <double> NUMBER "number"
%token <int32_t> DATELIT "date literal"
%token <const char *> IDENT "identifier"
%token <const char *> STRING "string"
%token <const char *> UNIT "unit"
%token <rx_lit> REGEX "regex"

%token PROTOCOL "'protocol'" VERSION "'version'" TITLE "'title'" SOURCE "'source'"
%token INCLUDE "'include'" LOG "'log'" STAGE "'stage'" DO "'do'"
%token WHEN "'when'" BECAUSE "'because'" REFER "'refer'"
%token STOP "'stop'" REGRESS "'regress'" HOLD "'hold'" ADVANCE "'advance'"
%token TO "'to'" REDUCE "'reduce'" VOLUME "'volume'" FOR "'for'"
%token MODIFY "'modify'" FLAG "'flag'"
%token AND "'and'" OR "'or'" NOT "'not'" OTHERWISE "'otherwise'"
%token IF "'if'" THEN "'then'" ELSE "'else'" IN "'in'"
%token LAST "'last'" SESSIONS "'sessions'" SESSION "'session'" ROWS "'rows'"
%token DAYS "'days'" AGO "'ago'" SINCE "'since'"
%token VALUE "'value'" NEXT "'next'" PREVIOUS "'previous'" FIRST "'first'"
%token MAX "'max'" MIN "'min'" MEAN "'mean'" SUM "'sum'" COUNT "'count'"
%token ANY "'any'" ALL "'all'" TREND "'trend'"
%token X "'x'" TEMPO "'tempo'" EFFORT "'effort'" LOAD "'load'"
%token DAILY "'daily'" TWICE "'twice'" TIMES "'times'" A_WEEK "'a week'"
%token EVERY_OTHER_DAY "'every other day'"
%token SURFACE "'surface'" RANGE "'range'" KNEE "'knee'" AVOID "'avoid'" NOTE "'note'"
%token REQUIRED "'required'" OPTIONAL "'optional'" DEFAULT "'default'" FROM "'from'"
%token SCORE "'score'" NUMBER_T "'number'" TEXT "'text'" DATE "'date'" YESNO "'yes/no'"
%token ONE_OF "'one of'" PER_PATIENT "'per patient'" IGNORE_EXTRA "'ignore extra columns'"
%token REST_OF_ROW "'rest of row'"
%token YES "'yes'" NO "'no'" TRUE "'true'" FALSE "'false'"
%token IS_KNOWN "'is known'" IS_UNKNOWN "'is unknown'"
%token DOTDOT "'..'" LE "'<='" GE "'>='" NE "'!='" NOMATCH "'!~'"

%type <ast_expr *> expr ifexpr orelse disj conj neg cmp sum term unary primary literal rxarg
%type <ast_list> expr_list
%type <ast_window> window
%type <ast_count> count
%type <agg_kind> aggfn
%type <expr_kind> cmpop
%type <const char *> name word opt_title opt_label frequency opt_to
%type <double> signed opt_reduce opt_for
%type <ast_decl *> protocol_decl log_decl log_items stage_decl stage_items modify_decl
%type <ast_column *> column
%type <ast_rule *> rule decision
%type <ast_dose *> dose
%type <ast_mod_stmt *> mod_stmts mod_stmt mod_action
%type <ast_source *> proto_attrs

%start file

%%

file
    : decls
    ;

/* decls -> decl* ; on error, skip to the start of the next declaration */
decls
    : %empty
    | decls decl
    | decls error
    ;

decl
    : protocol_decl                   { append_decl(pc, $1); }
    | INCLUDE STRING                  { ast_decl *d; NEW(d, mk_decl(pc, D_INCLUDE, @$));
                                        d->u.include.path = $2; append_decl(pc, d); }
    | log_decl                        { append_decl(pc, $1); }
    | IDENT '=' expr                  { ast_decl *d; NEW(d, mk_decl(pc, D_LET, @1));
                                        d->u.let.name = $1; d->u.let.value = $3; append_decl(pc, d); }
    | stage_decl                      { append_decl(pc, $1); }
    | rule                            { ast_decl *d; NEW(d, mk_decl(pc, D_RULE, @$));
                                        d->u.rule = $1; append_decl(pc, d); }
    | modify_decl                     { append_decl(pc, $1); }
    ;

/* protocol_decl -> 'protocol' name 'version' STRING ('title' STRING | 'source' STRING)* */
protocol_decl
    : PROTOCOL name VERSION STRING proto_attrs
        { NEW($$, mk_decl(pc, D_PROTOCOL, @2));
          $$->u.protocol.id = $2; $$->u.protocol.version = $4;
          $$->u.protocol.sources = $5; }
    ;

/* Titles ride along the source list as a node with text NULL, to keep one
 * left-recursive list; the first title wins and check.c reports doubles. */
proto_attrs
    : %empty                          { $$ = NULL; }
    | proto_attrs TITLE STRING        { ast_source *s; NEW(s, arena_zalloc(pc->a, sizeof *s));
                                        s->text = cat3(pc, "\001", $3, ""); s->next = $1; $$ = s; }
    | proto_attrs SOURCE STRING       { ast_source *s; NEW(s, arena_zalloc(pc->a, sizeof *s));
                                        s->text = $3; s->next = $1; $$ = s; }
    ;

name
    : IDENT                           { $$ = $1; }
    | DATE                            { $$ = "date"; }
    | STAGE                           { $$ = "stage"; }
    ;

/* ---- log schema -------------------------------------------------------- */

/* log_decl -> 'log' '{' (column | 'session' 'when' expr | 'ignore extra columns')* '}' */
log_decl
    : LOG '{' log_items '}'           { $$ = $3; $$->loc = ctx_loc(pc, @1); }
    ;

log_items
    : %empty                          { NEW($$, mk_decl(pc, D_LOG, @$)); }
    | log_items column                { $$ = $1; $2->next = $$->u.log.cols; $$->u.log.cols = $2; }
    | log_items SESSION WHEN expr     { $$ = $1; $$->u.log.session = $4; }
    | log_items IGNORE_EXTRA          { $$ = $1; $$->u.log.ignore_extra = 1; }
    | log_items error                 { $$ = $1; }
    ;

/* column -> name type attr* */
column
    : name coltype_start col_attrs    { $$ = pc->col; pc->col = NULL; $$->name = $1;
                                        $$->loc = ctx_loc(pc, @1); }
    ;

coltype_start
    : coltype                         { pc->col->type_loc = ctx_loc(pc, @1); }
    ;

coltype
    : DATE                            { NEW(pc->col, arena_zalloc(pc->a, sizeof *pc->col)); pc->col->type = T_DATE; }
    | TEXT                            { NEW(pc->col, arena_zalloc(pc->a, sizeof *pc->col)); pc->col->type = T_TEXT; }
    | STAGE                           { NEW(pc->col, arena_zalloc(pc->a, sizeof *pc->col)); pc->col->type = T_STAGE; }
    | YESNO                           { NEW(pc->col, arena_zalloc(pc->a, sizeof *pc->col)); pc->col->type = T_YESNO; }
    | SCORE opt_range                 { pc->col->type = T_SCORE; }
    | NUMBER_T opt_range              { pc->col->type = T_NUMBER; }
    | ONE_OF                          { NEW(pc->col, arena_zalloc(pc->a, sizeof *pc->col)); pc->col->type = T_ONEOF; }
      value_list
    ;

opt_range
    : %empty                          { NEW(pc->col, arena_zalloc(pc->a, sizeof *pc->col)); }
    | signed DOTDOT signed            { NEW(pc->col, arena_zalloc(pc->a, sizeof *pc->col));
                                        pc->col->has_range = 1; pc->col->lo = $1; pc->col->hi = $3;
                                        pc->col->range_loc = ctx_loc(pc, @$); }
    ;

value_list
    : name                            { if (!ast_column_add_value(pc, pc->col, $1, @1)) YYNOMEM; }
    | value_list ',' name             { if (!ast_column_add_value(pc, pc->col, $3, @3)) YYNOMEM; }
    ;

signed
    : NUMBER                          { $$ = $1; }
    | '-' NUMBER                      { $$ = -$2; }
    ;

col_attrs
    : %empty
    | col_attrs col_attr
    ;

col_attr
    : UNIT                            { pc->col->unit = $1; }
    | STRING                          { pc->col->label = $1; }
    | REQUIRED                        { pc->col->required = 1; }
    | OPTIONAL                        { pc->col->optional = 1; }
    | DEFAULT literal                 { pc->col->defval = $2; }
    | PER_PATIENT                     { pc->col->per_patient = 1; }
    | REST_OF_ROW                     { pc->col->rest_of_row = 1; }
    | FROM STRING                     { pc->col->from = $2; }
    ;

literal
    : signed                          { NEW($$, mk(pc, E_NUM, @$)); $$->u.num.v = $1; }
    | STRING                          { NEW($$, mk(pc, E_STR, @$)); $$->u.str.s = $1; $$->u.str.len = strlen($1); }
    | DATELIT                         { NEW($$, mk(pc, E_DATE, @$)); $$->u.date = $1; }
    | YES                             { NEW($$, mk(pc, E_BOOL, @$)); $$->u.b = 1; }
    | NO                              { NEW($$, mk(pc, E_BOOL, @$)); $$->u.b = 0; }
    | name                            { NEW($$, mk(pc, E_NAME, @$)); $$->u.name = $1; }
    ;

/* ---- stages and prescriptions ------------------------------------------ */

/* stage_decl -> 'stage' IDENT [STRING] '{' (dose | rule)* '}' */
stage_decl
    : STAGE IDENT opt_title '{' stage_items '}'
        { $$ = $5; $$->loc = ctx_loc(pc, @2); $$->u.stage.name = $2; $$->u.stage.title = $3; }
    ;

opt_title
    : %empty                          { $$ = NULL; }
    | STRING                          { $$ = $1; }
    ;

stage_items
    : %empty                          { NEW($$, mk_decl(pc, D_STAGE, @$)); pc->dose_tail = NULL; pc->rule_tail = NULL; }
    | stage_items dose                { $$ = $1; ast_stage_add_dose(pc, $$, $2); }
    | stage_items rule                { $$ = $1; ast_stage_add_rule(pc, $$, $2); }
    | stage_items error               { $$ = $1; }
    ;

/* dose -> 'do' STRING dose_attr* */
dose
    : DO STRING                       { NEW(pc->dose, arena_zalloc(pc->a, sizeof *pc->dose));
                                        pc->dose->exercise = $2; pc->dose->loc = ctx_loc(pc, @$); }
      dose_attrs                      { $$ = pc->dose; pc->dose = NULL; }
    ;

dose_attrs
    : %empty
    | dose_attrs dose_attr
    ;

dose_attr
    : NUMBER X NUMBER                 { pc->dose->sets = $1; pc->dose->reps = $3; }
    | NUMBER X NUMBER '-' NUMBER      { pc->dose->sets = $1; pc->dose->reps = $3; pc->dose->reps_max = $5; }
    | NUMBER X HOLD NUMBER UNIT       { pc->dose->sets = $1; pc->dose->hold_s = $4;
                                        if (!ast_check_seconds(pc, $5, @5)) YYERROR; }
    | TEMPO NUMBER '-' NUMBER '-' NUMBER
                                      { pc->dose->tempo = ast_tempo(pc, $2, $4, $6); }
    | EFFORT NUMBER '/' NUMBER        { pc->dose->effort = $2;
                                        if (!ast_check_effort(pc, $2, $4, @$)) YYERROR; }
    | LOAD signed UNIT                { pc->dose->has_load = 1; pc->dose->load_lo = $2; pc->dose->load_unit = $3; }
    | LOAD signed DOTDOT signed UNIT  { pc->dose->has_load = 1; pc->dose->load_lo = $2; pc->dose->load_hi = $4;
                                        pc->dose->load_unit = $5; }
    | FOR NUMBER UNIT                 { pc->dose->minutes = $2;
                                        if (!ast_check_minutes(pc, $3, @3)) YYERROR; }
    | frequency                       { pc->dose->frequency = $1; }
    | SURFACE word                    { pc->dose->surface = $2; }
    | RANGE opt_to_kw word            { pc->dose->range = $3; }
    | KNEE word                       { pc->dose->knee = $2; }
    | NOTE STRING                     { pc->dose->note = $2; }
    ;

frequency
    : DAILY                           { $$ = "daily"; }
    | TWICE DAILY                     { $$ = "twice daily"; }
    | NUMBER TIMES DAILY              { $$ = cat3(pc, fmt_num(pc, $1), " times daily", ""); }
    | TWICE A_WEEK                    { $$ = "twice a week"; }
    | NUMBER TIMES A_WEEK             { $$ = cat3(pc, fmt_num(pc, $1), " times a week", ""); }
    | EVERY_OTHER_DAY                 { $$ = "every other day"; }
    ;

word
    : IDENT                           { $$ = $1; }
    | STRING                          { $$ = $1; }
    ;

opt_to_kw
    : %empty
    | TO
    ;

/* ---- rules ------------------------------------------------------------- */

/* rule -> [IDENT ':'] decision 'when' expr ['refer' STRING] 'because' STRING */
rule
    : opt_label decision WHEN expr opt_refer BECAUSE STRING
        { $$ = $2; $$->cond = $4; $$->because = $7;
          /* An empty label's location is the end of the previous token. */
          $$->loc = ctx_loc(pc, (tdo_loc){ $1 ? @1.start : @2.start, @$.end });
          if ($1) { $$->name = $1; $$->name_loc = ctx_loc(pc, @1); }
          if ($$->refer && pc->refer)
              diag_at(pc->d, DIAG_ERROR, ctx_loc(pc, @5), "a refer rule already says what the referral is: remove this second 'refer'");
          $$->refer = $$->refer ? $$->refer : pc->refer; pc->refer = NULL; }
    ;

opt_label
    : %empty                          { $$ = NULL; }
    | IDENT ':'                       { $$ = $1; }
    ;

opt_refer
    : %empty                          { pc->refer = NULL; }
    | REFER STRING                    { pc->refer = $2; }
    ;

decision
    : STOP                            { NEW($$, ast_rule_new(pc, R_STOP, @1)); }
    | REGRESS opt_to opt_reduce       { NEW($$, ast_rule_new(pc, R_REGRESS, @1));
                                        $$->target = $2; $$->target_loc = ctx_loc(pc, pc->target_loc);
                                        $$->reduce_pct = $3; $$->reduce_loc = ctx_loc(pc, @3); }
    | HOLD opt_reduce opt_for         { NEW($$, ast_rule_new(pc, R_HOLD, @1));
                                        $$->reduce_pct = $2; $$->reduce_loc = ctx_loc(pc, @2); $$->for_days = $3; }
    | ADVANCE opt_to                  { NEW($$, ast_rule_new(pc, R_ADVANCE, @1));
                                        $$->target = $2; $$->target_loc = ctx_loc(pc, pc->target_loc); }
    | REFER STRING                    { NEW($$, ast_rule_new(pc, R_REFER, @1)); $$->refer = $2; }
    | FLAG IDENT                      { NEW($$, ast_rule_new(pc, R_FLAG, @1)); $$->name = $2; $$->flag = $2;
                                        $$->name_loc = ctx_loc(pc, @2); }
    ;

opt_to
    : %empty                          { $$ = NULL; }
    | TO IDENT                        { $$ = $2; pc->target_loc = @2; }
    ;

opt_reduce
    : %empty                          { $$ = -1; }
    | REDUCE VOLUME NUMBER '%'        { $$ = $3; }
    ;

opt_for
    : %empty                          { $$ = 0; }
    | FOR NUMBER DAYS                 { $$ = $2; }
    ;

/* ---- modifiers --------------------------------------------------------- */

/* modify_decl -> 'modify' 'when' expr '{' mod_stmt* '}' */
modify_decl
    : MODIFY WHEN expr '{' mod_stmts '}'
        { NEW($$, mk_decl(pc, D_MODIFY, @1));
          NEW($$->u.mod, arena_zalloc(pc->a, sizeof *$$->u.mod));
          $$->u.mod->cond = $3; $$->u.mod->loc = ctx_loc(pc, @1);
          $$->u.mod->stmts = ast_mod_reverse($5, &$$->u.mod->because); }
    ;

mod_stmts
    : %empty                          { $$ = NULL; }
    | mod_stmts mod_stmt              { $$ = $2; $$->next = $1; }
    | mod_stmts error                 { $$ = $1; }
    ;

mod_stmt
    : mod_action                      { $$ = $1; }
    | FOR REGEX mod_action            { $$ = $3; $$->only = $2.pat; $$->only_len = $2.len;
                                        $$->only_flags = $2.flags; $$->only_off = $2.off; }
    ;

mod_action
    : SURFACE word                    { NEW($$, ast_mod_new(pc, M_SURFACE, @$)); $$->text = $2; }
    | RANGE opt_to_kw word            { NEW($$, ast_mod_new(pc, M_RANGE, @$)); $$->text = $3; }
    | KNEE word                       { NEW($$, ast_mod_new(pc, M_KNEE, @$)); $$->text = $2; }
    | AVOID STRING                    { NEW($$, ast_mod_new(pc, M_AVOID, @$)); $$->text = $2; }
    | NOTE STRING                     { NEW($$, ast_mod_new(pc, M_NOTE, @$)); $$->text = $2; }
    | FLAG IDENT                      { NEW($$, ast_mod_new(pc, M_FLAG, @$)); $$->text = $2; }
    | VOLUME NUMBER '%'               { NEW($$, ast_mod_new(pc, M_VOLUME, @$)); $$->pct = $2; }
    | BECAUSE STRING                  { NEW($$, ast_mod_new(pc, M_NOTE, @$)); $$->text = $2;
                                        $$->pct = -1; /* marks the because */ }
    ;

/* ---- expressions, loosest binding first -------------------------------- */

expr
    : ifexpr
    ;

/* ifexpr -> 'if' expr 'then' expr 'else' expr | orelse */
ifexpr
    : IF expr THEN expr ELSE expr     { NEW($$, mk(pc, E_IF, @$)); $$->u.ifx.cond = $2;
                                        $$->u.ifx.then = $4; $$->u.ifx.els = $6; }
    | orelse
    ;

orelse
    : orelse OTHERWISE disj           { NEW($$, mk_bin(pc, E_OTHERWISE, @$, $1, $3)); }
    | disj
    ;

disj
    : disj OR conj                    { NEW($$, mk_bin(pc, E_OR, @$, $1, $3)); }
    | conj
    ;

conj
    : conj AND neg                    { NEW($$, mk_bin(pc, E_AND, @$, $1, $3)); }
    | neg
    ;

neg
    : NOT neg                         { NEW($$, mk_bin(pc, E_NOT, @$, $2, NULL)); }
    | cmp
    ;

/* Comparisons do not chain: `a < b < c` is a syntax error, not a surprise. */
cmp
    : sum cmpop sum                   { NEW($$, mk_bin(pc, $2, @$, $1, $3)); }
    | sum '~' rxarg                   { NEW($$, mk_bin(pc, E_MATCH, @$, $1, $3)); }
    | sum NOMATCH rxarg               { NEW($$, mk_bin(pc, E_NOMATCH, @$, $1, $3)); }
    | sum IN '(' expr_list ')'        { NEW($$, mk(pc, E_IN, @$)); $$->u.in.l = $1; $$->u.in.set = $4; }
    | sum IS_KNOWN                    { NEW($$, mk_bin(pc, E_KNOWN, @$, $1, NULL)); }
    | sum IS_UNKNOWN                  { NEW($$, mk_bin(pc, E_UNKNOWN, @$, $1, NULL)); }
    | sum
    ;

cmpop
    : '='   { $$ = E_EQ; }
    | NE    { $$ = E_NE; }
    | '<'   { $$ = E_LT; }
    | LE    { $$ = E_LE; }
    | '>'   { $$ = E_GT; }
    | GE    { $$ = E_GE; }
    ;

rxarg
    : REGEX                           { NEW($$, mk(pc, E_REGEX, @$)); $$->u.rx.pat = $1.pat;
                                        $$->u.rx.len = $1.len; $$->u.rx.flags = $1.flags; $$->u.rx.pat_off = $1.off; }
    | IDENT                           { NEW($$, mk(pc, E_NAME, @$)); $$->u.name = $1; }
    ;

expr_list
    : expr                            { $$ = list_push(pc, (ast_list){ NULL, 0, 0 }, $1); if (pc->oom) YYNOMEM; }
    | expr_list ',' expr              { $$ = list_push(pc, $1, $3); if (pc->oom) YYNOMEM; }
    ;

sum
    : sum '+' term                    { NEW($$, mk_bin(pc, E_ADD, @$, $1, $3)); }
    | sum '-' term                    { NEW($$, mk_bin(pc, E_SUB, @$, $1, $3)); }
    | term
    ;

term
    : term '*' unary                  { NEW($$, mk_bin(pc, E_MUL, @$, $1, $3)); }
    | term '/' unary                  { NEW($$, mk_bin(pc, E_DIV, @$, $1, $3)); }
    | unary
    ;

unary
    : '-' unary                       { NEW($$, mk_bin(pc, E_NEG, @$, $2, NULL)); }
    | primary
    ;

primary
    : NUMBER                          { NEW($$, mk(pc, E_NUM, @$)); $$->u.num.v = $1; }
    | NUMBER UNIT                     { NEW($$, mk(pc, E_NUM, @$)); $$->u.num.v = $1; $$->u.num.unit = $2; }
    | NUMBER DAYS                     { NEW($$, mk(pc, E_NUM, @$)); $$->u.num.v = $1; $$->u.num.unit = "days"; }
    | STRING                          { NEW($$, mk(pc, E_STR, @$)); $$->u.str.s = $1; $$->u.str.len = strlen($1); }
    | DATELIT                         { NEW($$, mk(pc, E_DATE, @$)); $$->u.date = $1; }
    | REGEX                           { NEW($$, mk(pc, E_REGEX, @$)); $$->u.rx.pat = $1.pat;
                                        $$->u.rx.len = $1.len; $$->u.rx.flags = $1.flags; $$->u.rx.pat_off = $1.off; }
    | YES                             { NEW($$, mk(pc, E_BOOL, @$)); $$->u.b = 1; }
    | NO                              { NEW($$, mk(pc, E_BOOL, @$)); $$->u.b = 0; }
    | TRUE                            { NEW($$, mk(pc, E_BOOL, @$)); $$->u.b = 1; }
    | FALSE                           { NEW($$, mk(pc, E_BOOL, @$)); $$->u.b = 0; }
    | name                            { NEW($$, mk(pc, E_NAME, @$)); $$->u.name = $1; }
    | SESSION                         { NEW($$, mk(pc, E_NAME, @$)); $$->u.name = "session"; }
    | '(' expr ')'                    { $$ = $2; $$->loc = ctx_loc(pc, @$); }
    | aggfn '(' expr ')'              { NEW($$, mk(pc, E_AGG, @$)); $$->u.agg.fn = $1; $$->u.agg.arg = $3;
                                        $$->u.agg.win.kind = W_ALL; $$->u.agg.win.loc = ctx_loc(pc, @3); }
    | aggfn '(' expr ',' window ')'   { NEW($$, mk(pc, E_AGG, @$)); $$->u.agg.fn = $1; $$->u.agg.arg = $3;
                                        $$->u.agg.win = $5; }
    | aggfn '(' window ')'            { NEW($$, mk(pc, E_AGG, @$)); $$->u.agg.fn = $1; $$->u.agg.arg = NULL;
                                        $$->u.agg.win = $3; }
    | VALUE '(' expr ',' count DAYS AGO ')'
                                      { NEW($$, mk(pc, E_VALUE_AGO, @$)); $$->u.ago.arg = $3; $$->u.ago.days = $5; }
    | NEXT '(' expr ')'               { NEW($$, mk_bin(pc, E_NEXT, @$, $3, NULL)); }
    | PREVIOUS '(' expr ')'           { NEW($$, mk_bin(pc, E_PREV, @$, $3, NULL)); }
    | DAYS IN STAGE                   { NEW($$, mk(pc, E_DAYS_IN_STAGE, @$)); }
    | NEXT STAGE                      { NEW($$, mk(pc, E_NEXT_STAGE, @$)); }
    | SESSIONS IN STAGE               { NEW($$, mk(pc, E_SESSIONS_IN_STAGE, @$)); }
    | DAYS SINCE primary              { NEW($$, mk_bin(pc, E_DAYS_SINCE, @$, $3, NULL)); }
    ;

aggfn
    : MAX    { $$ = AGG_MAX; }
    | MIN    { $$ = AGG_MIN; }
    | MEAN   { $$ = AGG_MEAN; }
    | SUM    { $$ = AGG_SUM; }
    | COUNT  { $$ = AGG_COUNT; }
    | ANY    { $$ = AGG_ANY; }
    | ALL    { $$ = AGG_ALL; }
    | TREND  { $$ = AGG_TREND; }
    | FIRST  { $$ = AGG_FIRST; }
    | LAST   { $$ = AGG_LAST; }
    ;

/* window -> ('last'|'first') N ('sessions'|'rows'|'days') | 'days' A 'to' B 'ago' | 'in' 'stage' */
window
    : LAST count SESSIONS             { $$ = (ast_window){ W_LAST_SESSIONS, $2, (ast_count){ 0, NULL, {0, 0, 0} }, ctx_loc(pc, @$) }; }
    | LAST count SESSION              { $$ = (ast_window){ W_LAST_SESSIONS, $2, (ast_count){ 0, NULL, {0, 0, 0} }, ctx_loc(pc, @$) }; }
    | LAST count ROWS                 { $$ = (ast_window){ W_LAST_ROWS, $2, (ast_count){ 0, NULL, {0, 0, 0} }, ctx_loc(pc, @$) }; }
    | LAST count DAYS                 { $$ = (ast_window){ W_LAST_DAYS, $2, (ast_count){ 0, NULL, {0, 0, 0} }, ctx_loc(pc, @$) }; }
    | DAYS count TO count AGO         { $$ = (ast_window){ W_DAYS_AGO, $2, $4, ctx_loc(pc, @$) }; }
    | FIRST count SESSIONS            { $$ = (ast_window){ W_FIRST_SESSIONS, $2, (ast_count){ 0, NULL, {0, 0, 0} }, ctx_loc(pc, @$) }; }
    | FIRST count SESSION             { $$ = (ast_window){ W_FIRST_SESSIONS, $2, (ast_count){ 0, NULL, {0, 0, 0} }, ctx_loc(pc, @$) }; }
    | FIRST count ROWS                { $$ = (ast_window){ W_FIRST_ROWS, $2, (ast_count){ 0, NULL, {0, 0, 0} }, ctx_loc(pc, @$) }; }
    | FIRST count DAYS                { $$ = (ast_window){ W_FIRST_DAYS, $2, (ast_count){ 0, NULL, {0, 0, 0} }, ctx_loc(pc, @$) }; }
    | IN STAGE                        { $$ = (ast_window){ W_IN_STAGE, (ast_count){ 0, NULL, {0, 0, 0} }, (ast_count){ 0, NULL, {0, 0, 0} }, ctx_loc(pc, @$) }; }
    ;

count
    : NUMBER                          { $$ = (ast_count){ $1, NULL, ctx_loc(pc, @$) }; }
    | IDENT                           { $$ = (ast_count){ 0, $1, ctx_loc(pc, @$) }; }
    ;

%%

/* Called by bison for stack exhaustion; lexical and syntax errors are
 * reported through lex_error and yyreport_syntax_error. */
static void tdo_error(const tdo_loc *l, void *scanner, parse_ctx *pc, const char *msg)
{
    (void)scanner;
    if (strstr(msg, "exhausted") && (pc->oom || stack_alloc_failed)) {
        /* Out of memory, not too deep: ast_parse reports it. */
        stack_alloc_failed = 0;
        pc->oom = 1;
    } else if (strstr(msg, "exhausted"))
        diag_at(pc->d, DIAG_ERROR, ctx_loc(pc, *l),
                "nested too deeply: the parser's limit of %d open constructs was reached", YYMAXDEPTH);
    else
        diag_at(pc->d, DIAG_ERROR, ctx_loc(pc, *l), "%s", msg);
}

/* Tokens that only continue an expression: when many tokens could follow,
 * the message lists the others and says "or an operator". */
static int is_operator(yysymbol_kind_t k)
{
    switch (k) {
    case YYSYMBOL_AND: case YYSYMBOL_OR: case YYSYMBOL_OTHERWISE: case YYSYMBOL_IN:
    case YYSYMBOL_IS_KNOWN: case YYSYMBOL_IS_UNKNOWN: case YYSYMBOL_LE: case YYSYMBOL_GE:
    case YYSYMBOL_NE: case YYSYMBOL_NOMATCH: case YYSYMBOL_UNIT: case YYSYMBOL_DAYS:
        return 1;
    default: {
        const char *n = yysymbol_name(k);
        return n[0] == '\'' && n[2] == '\'' && n[3] == '\0' && strchr("=<>~+-*/", n[1]);
    }
    }
}

static int is_comparison(yysymbol_kind_t k)
{
    const char *n = yysymbol_name(k);
    return k == YYSYMBOL_LE || k == YYSYMBOL_GE || k == YYSYMBOL_NE ||
           (n[0] == '\'' && n[2] == '\'' && strchr("=<>", n[1]));
}

/* The keyword nearest to a word, within a small edit distance; among the
 * expected tokens when exp is given, else among all keywords. */
static const char *near_keyword_in(const char *w, size_t n, const yysymbol_kind_t *exp, int nexp)
{
    char word[64];
    if (n == 0 || n >= sizeof word)
        return NULL;
    memcpy(word, w, n);
    word[n] = '\0';
    for (size_t i = 0; i < n; i++)
        word[i] = (char)(word[i] >= 'A' && word[i] <= 'Z' ? word[i] + 32 : word[i]);
    size_t nk, best_d = n >= 4 ? 3 : 2; /* within 2 edits from 4 letters on */
    const struct keyword *t = keyword_table(&nk);
    const char *best = NULL;
    /* The expected keywords, looked up once (they point into the table). */
    const char *allowed[YYNTOKENS];
    int na = 0;
    for (int k = 0; exp && k < nexp && na < YYNTOKENS; k++) {
        const char *kw = keyword_for_symbol_name(yysymbol_name(exp[k]));
        if (kw)
            allowed[na++] = kw;
    }
    for (size_t i = 0; i < nk; i++) {
        if (exp) {
            int ok = 0;
            for (int k = 0; k < na && !ok; k++)
                ok = allowed[k] == t[i].name;
            if (!ok)
                continue;
        }
        size_t dd = diag_distance(word, t[i].name, best_d - 1);
        if (dd < best_d && strlen(t[i].name) > 2) {
            best_d = dd;
            best = t[i].name;
        }
    }
    return best;
}

static const char *near_keyword(const char *w, size_t n)
{
    return near_keyword_in(w, n, NULL, 0);
}

static size_t put(char *msg, size_t len, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t put(char *msg, size_t len, size_t cap, const char *fmt, ...)
{
    if (len >= cap)
        return len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg + len, cap - len, fmt, ap);
    va_end(ap);
    return n < 0 ? len : len + (size_t)n;
}

static size_t put_expected(char *msg, size_t len, size_t cap, const yysymbol_kind_t *exp, int n)
{
    yysymbol_kind_t shown[YYNTOKENS];
    int ns = 0, ops = 0;
    for (int i = 0; i < n; i++) {
        if (n > 6 && is_operator(exp[i]))
            ops = 1;
        else
            shown[ns++] = exp[i];
    }
    if (ns > 8)
        return len; /* nothing useful to list */
    len = put(msg, len, cap, "; expected ");
    for (int i = 0; i < ns; i++)
        len = put(msg, len, cap, "%s%s", i == 0 ? "" : (i == ns - 1 && !ops) ? " or " : ", ",
                  yysymbol_name(shown[i]));
    if (ops)
        len = put(msg, len, cap, "%san operator", ns ? " or " : "");
    return len;
}

/* "unexpected X; expected A, B or C", with the hints a rule writer needs:
 * a misspelt keyword (here or just before), a reserved word used as a
 * name, a chained comparison, a brace left open. */
static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, parse_ctx *pc)
{
    (void)scanner;
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    yysymbol_kind_t la = yypcontext_token(ctx);
    tdo_loc l = *yypcontext_location(ctx);
    if (la == YYSYMBOL_YYerror)
        return 0; /* the scanner already reported this token */
    if (pc->d->max_errors && pc->d->nerrors >= pc->d->max_errors) {
        /* Counted, not shown: skip the hints (a junk file has thousands). */
        diag_at(pc->d, DIAG_ERROR, ctx_loc(pc, *yypcontext_location(ctx)), "syntax error");
        return 0;
    }
    const char *text = pc->d->files[pc->file].text;
    char msg[768];
    size_t len = 0, cap = sizeof msg;
    uint32_t wl = l.end - l.start;
    /* A misspelt keyword just before the error is the likely culprit. */
    if (pc->before_tok == TOK_IDENT) {
        const char *kw = near_keyword(text + pc->before_loc.start, pc->before_loc.end - pc->before_loc.start);
        if (kw && la != YYSYMBOL_IDENT) {
            uint32_t bl = pc->before_loc.end - pc->before_loc.start;
            diag_at(pc->d, DIAG_ERROR, ctx_loc(pc, pc->before_loc), "unknown word '%.*s' here; did you mean '%s'?",
                    (int)(bl > 40 ? 40 : bl), text + pc->before_loc.start, kw);
            return 0;
        }
    }
    if (la == YYSYMBOL_YYEOF)
        len = put(msg, len, cap, "unexpected end of file");
    else if (la == YYSYMBOL_IDENT || la == YYSYMBOL_NUMBER || keyword_for_symbol_name(yysymbol_name(la)))
        len = put(msg, len, cap, "unexpected %s '%.*s'", la == YYSYMBOL_IDENT ? "identifier" :
                  la == YYSYMBOL_NUMBER ? "number" : "word", (int)(wl > 40 ? 40 : wl), text + l.start);
    else
        len = put(msg, len, cap, "unexpected %s", yysymbol_name(la));
    if (n > 0)
        len = put_expected(msg, len, cap, exp, n);
    int ident_expected = 0, kw_expected = 0, and_expected = 0;
    for (int i = 0; i < n; i++) {
        ident_expected |= exp[i] == YYSYMBOL_IDENT;
        and_expected |= exp[i] == YYSYMBOL_AND;
        kw_expected |= keyword_for_symbol_name(yysymbol_name(exp[i])) != NULL;
    }
    if (ident_expected && keyword_for_symbol_name(yysymbol_name(la)))
        len = put(msg, len, cap, " ('%.*s' is a reserved word: choose another name)", (int)wl, text + l.start);
    if (is_comparison(la) && and_expected)
        len = put(msg, len, cap, " (comparisons do not chain: write 'a < b and b < c')");
    if (la == YYSYMBOL_IDENT) {
        const char *kw = near_keyword_in(text + l.start, wl, exp, n);
        if (kw && kw_expected)
            len = put(msg, len, cap, "; did you mean '%s'?", kw);
    }
    if (la == YYSYMBOL_YYEOF && pc->braces > 0 && pc->braces <= 64) {
        unsigned line, col;
        diag_linecol(pc->d, pc->file, pc->open_brace[pc->braces - 1], &line, &col);
        len = put(msg, len, cap, " (the '{' opened at line %u is not closed)", line);
    }
    diag_at(pc->d, DIAG_ERROR, ctx_loc(pc, l), "%s", msg);
    return 0;
}
