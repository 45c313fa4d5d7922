/* test_views.c — the text, JSON and CSV views and their helpers, checked
 * against a program and decisions built by hand (no parser, no evaluator),
 * so a change in any view shows up as an exact, readable diff.
 *
 * Also checks the failure paths: allocation failures (jansson is routed
 * through mem_* so mem_fail_at reaches it) and write errors (/dev/full). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "decision.h"
#include "mem.h"
#include "tendo.h"
#include "view.h"

/* ---- test harness ----------------------------------------------------- */

typedef struct harness {
    int n, failed;
} harness;

static void ok(harness *h, int cond, const char *what)
{
    h->n++;
    printf("%s %d - %s\n", cond ? "ok" : "not ok", h->n, what);
    if (!cond)
        h->failed = 1;
}

/* Exact comparison; on mismatch show both texts and the first difference. */
static void same(harness *h, const char *got, const char *want, const char *what)
{
    int eq = got && strcmp(got, want) == 0;
    ok(h, eq, what);
    if (eq)
        return;
    size_t i = 0;
    while (got && got[i] && got[i] == want[i])
        i++;
    printf("# first difference at byte %zu\n# --- want\n%s# --- got\n%s# ---\n", i, want,
           got ? got : "(null)\n");
}

/* ---- fixture: a small program ----------------------------------------- */

static const char *const presentations[] = {
    "midportion", "insertional",
    ("an_enum_value_whose_name_is_far_longer_than_any_inline_buffer_so_the_text_view_"
     "must_format_it_on_the_heap_and_report_an_allocation_failure_cleanly_when_asked_to"),
};

#define SHA "3f2a9c1b2d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd0e1"
#define FILE_A "rules/achilles.rules"

typedef struct fixture {
    tendo_program p;
    sch_column cols[3];
    stage stages[4];
    rule rules[6];   /* stop, regress, advance (stage 1), flag, advance (stage 0), hold */
    modifier mod;
} fixture;

enum { FX_STOP, FX_REGRESS, FX_ADV, FX_FLAG, FX_ADV0, FX_HOLD };

static void set_rule(rule *r, kind_t k, const char *name, unsigned line, int owner)
{
    r->kind = k;
    r->name = name;
    r->file = FILE_A;
    r->line = line;
    r->stage = owner;
    r->target = -1;
    r->volume = 1;
}

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->cols[0] = (sch_column){ .name = "date", .type = COL_DATE };
    f->cols[1] = (sch_column){ .name = "presentation", .type = COL_ENUM,
                               .values = presentations, .nvalues = 3 };
    f->cols[2] = (sch_column){ .name = "pain_during", .type = COL_SCORE };
    f->stages[0] = (stage){ .name = "isometric", .title = "Stage 1 \xe2\x80\x94 isometric holds" };
    f->stages[1] = (stage){ .name = "bilateral", .title = "Stage 2 \xe2\x80\x94 bilateral heel raises" };
    f->stages[2] = (stage){ .name = "single_leg", .title = "Stage 3: single-leg heel raises" };
    f->stages[3] = (stage){ .name = "heavy" };
    set_rule(&f->rules[FX_STOP], K_STOP, "red_flag", 40, -1);
    set_rule(&f->rules[FX_REGRESS], K_REGRESS, NULL, 52, -1);
    set_rule(&f->rules[FX_ADV], K_ADVANCE, "bilateral_ready", 88, 1);
    set_rule(&f->rules[FX_FLAG], K_FLAG, "insertional", 100, -1);
    set_rule(&f->rules[FX_ADV0], K_ADVANCE, "isometric_ready", 30, 0);
    set_rule(&f->rules[FX_HOLD], K_HOLD, "settle", 61, -1);
    f->rules[FX_HOLD].volume = 0.75;
    f->mod = (modifier){ .file = FILE_A, .line = 120, .because = "Insertional" };
    tendo_program *p = &f->p;
    p->id = "achilles_loading";
    p->version = "1.0";
    memcpy(p->sha256, SHA, sizeof p->sha256);
    p->cols = f->cols;
    p->sch.cols = f->cols;
    p->sch.ncols = 3;
    p->stages = f->stages;
    p->nstages = 4;
    p->rules = f->rules;
    p->nrules = 6;
    p->mods = &f->mod;
    p->nmods = 1;
}

/* ---- fixture: values, conditions, doses ------------------------------- */

static value vnum(double x) { return (value){ .kind = VK_NUM, .u.num = x }; }
static value vbool(int b) { return (value){ .kind = VK_BOOL, .u.b = b }; }
static value vsym(int s) { return (value){ .kind = VK_SYM, .u.sym = s }; }
static value vdate(int32_t d) { return (value){ .kind = VK_DATE, .u.date = d }; }
static value vunknown(void) { return (value){ .kind = VK_UNKNOWN }; }
static value vtext(const char *s)
{
    return (value){ .kind = VK_TEXT, .len = (uint32_t)strlen(s), .u.s = s };
}

static int32_t day(int y, unsigned m, unsigned d)
{
    return date_from_ymd(y, m, d);
}

static tr_cond cmp(const char *text, const char *lt, value l, const char *op, const char *rt,
                   value r, tri res)
{
    return (tr_cond){ .text = text, .result = res, .is_cmp = 1, .lhs_text = lt, .rhs_text = rt,
                      .op = op, .lhs = l, .rhs = r, .lhs_type = TY_NUM, .rhs_type = TY_NUM };
}

static tr_cond plain(const char *text, value v, vtype t, tri res)
{
    return (tr_cond){ .text = text, .result = res, .val = v, .val_type = t };
}

static void set_window(tr_cond *c, size_t rows, int32_t first, int32_t last)
{
    c->has_window = 1;
    c->win_rows = rows;
    c->win_first = first;
    c->win_last = last;
}

static dose heel_raise(const char *name)
{
    return (dose){ .exercise = name, .sets = 3, .reps = 15, .tempo = "3-1-3",
                   .frequency = "daily" };
}

/* ---- decision 1: advance (the layout example) ------------------------- */

typedef struct case_advance {
    decision dec;
    tr_cond c_stop[1], c_regress[1], c_adv[3], c_flag[1], c_mod[1];
    tr_rule trace[5];
    out_dose doses[2];
    const char *notes2[1];
    const char *flags[2];
    const char *avoid[1];
} case_advance;

static void advance_trace(case_advance *c, const fixture *f)
{
    c->c_stop[0] = plain("any(notes ~ alarm, last 7 days)", vbool(0), TY_BOOL, T3_FALSE);
    set_window(&c->c_stop[0], 7, day(2024, 5, 14), day(2024, 5, 20));
    c->c_regress[0] = cmp("max(pain_during, last 3 sessions) > pain_red",
                          "max(pain_during, last 3 sessions)", vunknown(), ">", "pain_red",
                          vnum(5), T3_UNKNOWN);
    set_window(&c->c_regress[0], 0, 0, 0);
    c->c_regress[0].note = "window is empty";
    c->c_adv[0] = cmp("days in stage >= 14 * time_factor", "days in stage", vnum(15), ">=",
                      "14 * time_factor", vnum(14), T3_TRUE);
    c->c_adv[1] = plain("all(green, last 3 sessions)", vbool(1), TY_BOOL, T3_TRUE);
    set_window(&c->c_adv[1], 3, day(2024, 5, 17), day(2024, 5, 19));
    c->c_adv[2] = cmp("mean(pain_during, last 3 sessions) <= 2.5",
                      "mean(pain_during, last 3 sessions)", vnum(7.0 / 3), "<=", "2.5",
                      vnum(2.5), T3_TRUE);
    c->c_flag[0] = cmp("presentation = insertional", "presentation", vsym(1), "=",
                       "insertional", vsym(1), T3_TRUE);
    c->c_flag[0].lhs_type = c->c_flag[0].rhs_type = TY_ENUM;
    c->c_flag[0].lhs_domain = c->c_flag[0].rhs_domain = 1;
    c->c_mod[0] = c->c_flag[0];
    const rule *r = f->rules;
    c->trace[0] = (tr_rule){ &r[FX_STOP], NULL, T3_FALSE, TR_FALSE, "condition is false", c->c_stop, 1 };
    c->trace[1] = (tr_rule){ &r[FX_REGRESS], NULL, T3_UNKNOWN, TR_UNKNOWN, "condition is unknown",
                             c->c_regress, 1 };
    c->trace[2] = (tr_rule){ &r[FX_ADV], NULL, T3_TRUE, TR_WON, "the only true decision rule",
                             c->c_adv, 3 };
    c->trace[3] = (tr_rule){ &r[FX_FLAG], NULL, T3_TRUE, TR_APPLIED, "flag raised", c->c_flag, 1 };
    c->trace[4] = (tr_rule){ NULL, &f->mod, T3_TRUE, TR_APPLIED, "modifier applied", c->c_mod, 1 };
}

static const decision *case_advance_init(case_advance *c, const fixture *f)
{
    memset(c, 0, sizeof *c);
    advance_trace(c, f);
    c->doses[0].d = heel_raise("Single-leg heel raise, straight knee");
    c->doses[1].d = heel_raise("Single-leg heel raise, bent knee");
    c->doses[1].d.surface = "floor";
    c->doses[1].d.range = "neutral";
    c->doses[1].d.note = "slow lowering";
    c->notes2[0] = "keep the heel above step level";
    c->doses[1].notes = c->notes2;
    c->doses[1].nnotes = 1;
    c->flags[0] = "insertional";
    c->flags[1] = "cortisone_caution";
    c->avoid[0] = "dorsiflexion stretching";
    c->dec = (decision){
        .patient = "P001", .as_of = day(2024, 5, 20), .nrows = 21, .stage = 1,
        .days_in_stage = 15, .sessions_in_stage = 9, .kind = K_ADVANCE, .next_stage = 2,
        .volume = 1, .flags = c->flags, .nflags = 2, .rule = &f->rules[FX_ADV],
        .because = "Three green sessions and settled stiffness: ready for single-leg work",
        .doses = c->doses, .ndoses = 2, .avoid = c->avoid, .navoid = 1,
        .trace = c->trace, .ntrace = 5,
    };
    return &c->dec;
}

static const char ADVANCE_TEXT[] =
    "Patient      P001\n"
    "As of        2024-05-20  (21 rows)\n"
    "Protocol     achilles_loading 1.0  sha256 3f2a9c1b2d4e...d0e1\n"
    "Stage        bilateral  (day 15 in stage, 9 sessions)\n"
    "\n"
    "Decision     ADVANCE to single_leg\n"
    "Because      Three green sessions and settled stiffness: ready for single-leg work\n"
    "Rule         bilateral_ready  (rules/achilles.rules:88)\n"
    "  [true]    days in stage = 15 >= 14 * time_factor (14)\n"
    "  [true]    all(green, last 3 sessions) = yes  over 3 rows 2024-05-17..2024-05-19\n"
    "  [true]    mean(pain_during, last 3 sessions) = 2.33333 <= 2.5\n"
    "Flags        insertional, cortisone_caution\n"
    "\n"
    "Next prescription: single_leg \xe2\x80\x94 Stage 3: single-leg heel raises\n"
    "  1. Single-leg heel raise, straight knee   3 x 15, tempo 3-1-3, daily\n"
    "  2. Single-leg heel raise, bent knee       3 x 15, tempo 3-1-3, daily, surface floor, range neutral\n"
    "     note: slow lowering\n"
    "     note: keep the heel above step level\n"
    "  Avoid: dorsiflexion stretching\n"
    "\n"
    "Decision support for clinicians: it does not replace clinical judgement.\n";

static const char ADVANCE_TRACE[] =
    "Flags        insertional, cortisone_caution\n"
    "\n"
    "Trace (every rule considered):\n"
    "  false     stop      red_flag  rules/achilles.rules:40  -- condition is false\n"
    "      [false]   any(notes ~ alarm, last 7 days) = no  over 7 rows 2024-05-14..2024-05-20\n"
    "  unknown   regress   -  rules/achilles.rules:52  -- condition is unknown\n"
    "      [unknown] max(pain_during, last 3 sessions) = unknown > pain_red (5)  over no rows"
    "  (window is empty)\n"
    "  won       advance   bilateral_ready  rules/achilles.rules:88  -- the only true decision rule\n"
    "      [true]    days in stage = 15 >= 14 * time_factor (14)\n"
    "      [true]    all(green, last 3 sessions) = yes  over 3 rows 2024-05-17..2024-05-19\n"
    "      [true]    mean(pain_during, last 3 sessions) = 2.33333 <= 2.5\n"
    "  applied   flag      insertional  rules/achilles.rules:100  -- flag raised\n"
    "      [true]    presentation (insertional) = insertional\n"
    "  applied   modify    -  rules/achilles.rules:120  -- modifier applied\n"
    "      [true]    presentation (insertional) = insertional\n"
    "\n"
    "Next prescription: single_leg";

/* ---- decision 2: nothing fired ---------------------------------------- */

typedef struct case_none {
    decision dec;
    tr_cond c_adv[4];
    tr_rule trace[1];
    out_dose doses[1];
} case_none;

static const decision *case_none_init(case_none *c, const fixture *f)
{
    memset(c, 0, sizeof *c);
    c->c_adv[0] = cmp("days in stage >= 7", "days in stage", vnum(4), ">=", "7", vnum(7), T3_FALSE);
    c->c_adv[1] = cmp("stiffness <= value(stiffness, 7 days ago)", "stiffness", vnum(3), "<=",
                      "value(stiffness, 7 days ago)", vunknown(), T3_UNKNOWN);
    c->c_adv[1].note = "no row 7 days ago";
    c->c_adv[2] = plain("not swelling", vbool(1), TY_BOOL, T3_TRUE);
    c->c_adv[3] = cmp("max(pain_during, last 3 sessions) <= pain_green",
                      "max(pain_during, last 3 sessions)", vnum(5), "<=", "pain_green", vnum(3),
                      T3_FALSE);
    set_window(&c->c_adv[3], 1, day(2024, 3, 4), day(2024, 3, 4));
    c->trace[0] = (tr_rule){ &f->rules[FX_ADV0], NULL, T3_FALSE, TR_FALSE, "condition is false",
                             c->c_adv, 4 };
    c->doses[0].d = (dose){ .exercise = "Isometric calf hold, both legs", .sets = 5, .hold_s = 45,
                            .effort = 7, .frequency = "twice daily" };
    c->dec = (decision){
        .patient = "Doe, \"J\"", .as_of = day(2024, 3, 4), .nrows = 1, .stage = 0,
        .days_in_stage = 4, .sessions_in_stage = 1, .kind = K_HOLD, .next_stage = 0,
        .volume = 1, .refer = "Review footwear",
        .because = "no rule applies: continue the current prescription",
        .doses = c->doses, .ndoses = 1, .trace = c->trace, .ntrace = 1,
    };
    return &c->dec;
}

static const char NONE_TEXT[] =
    "Patient      Doe, \"J\"\n"
    "As of        2024-03-04  (1 row)\n"
    "Protocol     achilles_loading 1.0  sha256 3f2a9c1b2d4e...d0e1\n"
    "Stage        isometric  (day 4 in stage, 1 session)\n"
    "\n"
    "Decision     HOLD\n"
    "Because      no rule applies: continue the current prescription\n"
    "Rule         none: no rule applies, continue the current prescription\n"
    "Not yet met:\n"
    "  isometric_ready  (rules/achilles.rules:30)\n"
    "    [false]   days in stage = 4 >= 7  short by 3\n"
    "    [unknown] stiffness = 3 <= value(stiffness, 7 days ago) (unknown)  (no row 7 days ago)\n"
    "    [false]   max(pain_during, last 3 sessions) = 5 <= pain_green (3)  over by 2"
    "  over 1 row 2024-03-04\n"
    "Refer        Review footwear\n"
    "\n"
    "Next prescription: isometric \xe2\x80\x94 Stage 1 \xe2\x80\x94 isometric holds\n"
    "  1. Isometric calf hold, both legs   5 x hold 45 s, effort 7/10, twice daily\n"
    "\n"
    "Decision support for clinicians: it does not replace clinical judgement.\n";

/* ---- decision 3: stop, urgent ----------------------------------------- */

typedef struct case_stop {
    decision dec;
    tr_cond c_stop[2];
    tr_rule trace[2];
} case_stop;

static const char LONG_NOTE[] =
    "Felt a sharp pop\nat the back of the heel while running for the bus, "
    "could not rise onto toes afterwards";

static const decision *case_stop_init(case_stop *c, const fixture *f)
{
    memset(c, 0, sizeof *c);
    c->c_stop[0] = plain("any(notes ~ alarm, last 7 days)", vbool(1), TY_BOOL, T3_TRUE);
    set_window(&c->c_stop[0], 1, day(2024, 6, 1), day(2024, 6, 1));
    c->c_stop[1] = plain("last(notes)", vtext(LONG_NOTE), TY_TEXT, T3_TRUE);
    c->trace[0] = (tr_rule){ &f->rules[FX_STOP], NULL, T3_TRUE, TR_WON, "stop outranks every other kind",
                             c->c_stop, 2 };
    c->trace[1] = (tr_rule){ &f->rules[FX_ADV], NULL, T3_UNKNOWN, TR_NOT_APPLICABLE,
                             "not the current stage", NULL, 0 };
    c->dec = (decision){
        .patient = "P002", .as_of = day(2024, 6, 1), .nrows = 30, .stage = 2,
        .days_in_stage = 3, .sessions_in_stage = 2, .kind = K_STOP, .next_stage = 2,
        .volume = 1, .urgent = 1, .refer = "Stop loading and assess for partial rupture",
        .rule = &f->rules[FX_STOP], .because = "Alarm words in the notes",
        .trace = c->trace, .ntrace = 2,
    };
    return &c->dec;
}

static const char STOP_TEXT[] =
    "Patient      P002\n"
    "As of        2024-06-01  (30 rows)\n"
    "Protocol     achilles_loading 1.0  sha256 3f2a9c1b2d4e...d0e1\n"
    "Stage        single_leg  (day 3 in stage, 2 sessions)\n"
    "\n"
    "Decision     STOP\n"
    "Because      Alarm words in the notes\n"
    "Rule         red_flag  (rules/achilles.rules:40)\n"
    "  [true]    any(notes ~ alarm, last 7 days) = yes  over 1 row 2024-06-01\n"
    "  [true]    last(notes) = \"Felt a sharp pop at the back of the heel while running fo...\"\n"
    "Refer        URGENT: Stop loading and assess for partial rupture\n"
    "\n"
    "Trace (every rule considered):\n"
    "  won       stop      red_flag  rules/achilles.rules:40  -- stop outranks every other kind\n"
    "      [true]    any(notes ~ alarm, last 7 days) = yes  over 1 row 2024-06-01\n"
    "      [true]    last(notes) = \"Felt a sharp pop at the back of the heel while running fo...\"\n"
    "  not_applicable advance   bilateral_ready  rules/achilles.rules:88  -- not the current stage\n"
    "\n"
    "Next prescription: loading suspended until the patient has been assessed\n"
    "\n"
    "Decision support for clinicians: it does not replace clinical judgement.\n";

/* ---- decision 4: hold with reduced volume, no stage -------------------- */

typedef struct case_hold {
    decision dec;
    out_dose doses[2];
} case_hold;

static const decision *case_hold_init(case_hold *c, const fixture *f)
{
    memset(c, 0, sizeof *c);
    c->doses[0].d = (dose){ .exercise = "Leg press", .sets = 3, .reps = 8, .reps_max = 12,
                            .has_load = 1, .load_lo = 5, .load_hi = 10, .load_unit = "kg" };
    c->doses[1].d = (dose){ .exercise = "Walk", .minutes = 20, .frequency = "every other day",
                            .surface = "flat ground" };
    c->dec = (decision){
        .patient = "P003", .as_of = day(2024, 1, 31), .nrows = 0, .stage = -1,
        .kind = K_HOLD, .next_stage = 0, .volume = 0.75, .rule = &f->rules[FX_HOLD],
        .because = "Pain, but settling", .doses = c->doses, .ndoses = 2,
    };
    return &c->dec;
}

static const char HOLD_TEXT[] =
    "Patient      P003\n"
    "As of        2024-01-31  (0 rows)\n"
    "Protocol     achilles_loading 1.0  sha256 3f2a9c1b2d4e...d0e1\n"
    "Stage        none\n"
    "\n"
    "Decision     HOLD, reduce volume 25%\n"
    "Because      Pain, but settling\n"
    "Rule         settle  (rules/achilles.rules:61)\n"
    "\n"
    "Next prescription: isometric \xe2\x80\x94 Stage 1 \xe2\x80\x94 isometric holds\n"
    "  1. Leg press   3 x 8-12, load 5-10 kg\n"
    "  2. Walk        for 20 minutes, every other day, surface \"flat ground\"\n"
    "  Volume 75% of the usual dose: the doses above already include it\n"
    "\n"
    "Decision support for clinicians: it does not replace clinical judgement.\n";

/* ---- rendering into memory -------------------------------------------- */

typedef enum { V_TEXT, V_JSON, V_CSV } view_kind;

/* Renders into a string the caller frees with free(); *rc gets the result. */
static char *render(view_kind v, const decision *dec, const tendo_program *p, int flags, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        *rc = -2;
        return NULL;
    }
    switch (v) {
    case V_TEXT: *rc = tendo_render_text(dec, p, f, flags); break;
    case V_JSON: *rc = tendo_render_json(dec, p, f, flags); break;
    case V_CSV:  *rc = tendo_render_csv(dec, p, f); break;
    }
    fclose(f);
    return buf;
}

static void check_text(harness *h, const decision *dec, const tendo_program *p, int flags,
                       const char *want, const char *what)
{
    int rc;
    char *got = render(V_TEXT, dec, p, flags, &rc);
    char label[200];
    snprintf(label, sizeof label, "%s (returns 0)", what);
    ok(h, rc == 0, label);
    same(h, got, want, what);
    free(got);
}

/* ---- helpers: value and dose ------------------------------------------ */

static void check_value(harness *h, const tendo_program *p, value v, vtype t, int domain,
                        const char *want)
{
    char buf[128], what[200];
    int n = view_value(buf, sizeof buf, &v, t, domain, p);
    snprintf(what, sizeof what, "view_value -> %s", want);
    ok(h, n == (int)strlen(want) && strcmp(buf, want) == 0, what);
    if (strcmp(buf, want) != 0)
        printf("# got [%s]\n", buf);
}

/* view_num writes whole numbers below a million without printf; every
 * number must still read exactly as "%.6g" writes it. */
static void test_view_num(harness *h)
{
    static const double xs[] = { 0, -0.0, 1, -1, 9, 10, 99, 100, 225, 999999, -999999, 1e6, -1e6,
                                 1234567, 0.5, -0.5, 2.25, 999999.5, 1e-5, 123456.7, 1e300, -1e300 };
    int bad = 0;
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        char got[32], want[32];
        view_num(got, sizeof got, xs[i]);
        snprintf(want, sizeof want, "%.6g", xs[i] == 0 ? 0.0 : xs[i]);
        if (strcmp(got, want) != 0) {
            printf("# view_num(%g): got %s, want %s\n", xs[i], got, want);
            bad = 1;
        }
    }
    for (long v = -20000; v <= 20000 && !bad; v += 7) {
        char got[32], want[32];
        view_num(got, sizeof got, (double)v);
        snprintf(want, sizeof want, "%.6g", (double)v);
        bad = strcmp(got, want) != 0;
    }
    ok(h, !bad, "view_num writes numbers as %.6g does");
}

static void test_values(harness *h, const tendo_program *p)
{
    check_value(h, p, vnum(2), TY_NUM, 0, "2");
    check_value(h, p, vnum(2.5), TY_NUM, 0, "2.5");
    check_value(h, p, vnum(1.0 / 3), TY_NUM, 0, "0.333333");
    check_value(h, p, vnum(-0.0), TY_NUM, 0, "0");
    check_value(h, p, vnum(-12.25), TY_NUM, 0, "-12.25");
    check_value(h, p, vunknown(), TY_NUM, 0, "unknown");
    check_value(h, p, vbool(1), TY_BOOL, 0, "yes");
    check_value(h, p, vbool(0), TY_BOOL, 0, "no");
    check_value(h, p, vdate(day(2024, 2, 29)), TY_DATE, 0, "2024-02-29");
    check_value(h, p, vsym(1), TY_ENUM, 1, "insertional");
    check_value(h, p, vsym(3), TY_STAGE, 0, "heavy");
    check_value(h, p, vtext("ok"), TY_TEXT, 0, "\"ok\"");
    check_value(h, p, vtext(LONG_NOTE), TY_TEXT, 0,
                "\"Felt a sharp pop at the back of the heel while running fo...\"");
    /* 56 ASCII bytes then "é": the cut at byte 57 would split it */
    check_value(h, p, vtext("12345678901234567890123456789012345678901234567890123456\xc3\xa9xyz"),
                TY_TEXT, 0, "\"12345678901234567890123456789012345678901234567890123456...\"");

    char small[6];  /* "ab" "é" "é": a cut inside the second é must drop it whole */
    value v = vtext("ab\xc3\xa9\xc3\xa9");
    int n = view_value(small, sizeof small, &v, TY_TEXT, 0, p);
    ok(h, n == 8 && strcmp(small, "\"ab\xc3\xa9") == 0, "view_value cuts at a character boundary");
    ok(h, view_stage_name(p, -1) == NULL && view_stage_name(p, 4) == NULL &&
          strcmp(view_stage_name(p, 2), "single_leg") == 0, "view_stage_name bounds");
    ok(h, strcmp(kind_name(K_STOP), "stop") == 0 && strcmp(kind_name(K_FLAG), "flag") == 0 &&
          strcmp(kind_name(K_REFER), "refer") == 0, "kind_name");
    test_view_num(h);
}

static void check_dose(harness *h, dose d, const char *want)
{
    out_dose od = { .d = d };
    char buf[256];
    size_t n = view_dose(buf, sizeof buf, &od);
    char what[200];
    snprintf(what, sizeof what, "view_dose -> %s", want);
    ok(h, n == strlen(want) && strcmp(buf, want) == 0, what);
    if (strcmp(buf, want) != 0)
        printf("# got [%s]\n", buf);
}

static void test_doses(harness *h)
{
    check_dose(h, (dose){ .sets = 3, .reps = 15, .tempo = "3-1-3", .frequency = "daily",
                          .knee = "straight", .surface = "floor", .range = "neutral" },
               "3 x 15, tempo 3-1-3, daily, knee straight, surface floor, range neutral");
    check_dose(h, (dose){ .sets = 5, .hold_s = 45, .effort = 7, .frequency = "twice daily" },
               "5 x hold 45 s, effort 7/10, twice daily");
    check_dose(h, (dose){ .sets = 3, .reps = 8, .reps_max = 12, .has_load = 1, .load_lo = 5,
                          .load_hi = 10, .load_unit = "kg" },
               "3 x 8-12, load 5-10 kg");
    check_dose(h, (dose){ .minutes = 20, .frequency = "every other day", .surface = "flat ground" },
               "for 20 minutes, every other day, surface \"flat ground\"");
    check_dose(h, (dose){ .sets = 2.25, .reps = 15 }, "2.25 x 15");
    check_dose(h, (dose){ .reps = 10, .hold_s = 5 }, "10 reps, hold 5 s");
    check_dose(h, (dose){ .minutes = 1 }, "for 1 minute");
    check_dose(h, (dose){ .has_load = 1, .load_lo = 20, .load_unit = "% BW" }, "load 20 % BW");
    check_dose(h, (dose){ 0 }, "");

    /* a dose longer than view_str's inline buffer goes to the heap, uncut */
    char longf[400];
    memset(longf, 'x', sizeof longf - 1);
    longf[sizeof longf - 1] = '\0';
    out_dose od = { .d = { .sets = 1, .reps = 2, .frequency = longf } };
    view_str s;
    view_str_init(&s);
    const char *t = view_dose_str(&s, &od);
    ok(h, t && strlen(t) == strlen("1 x 2, ") + sizeof longf - 1, "view_dose_str: long dose uncut");
    view_str_free(&s);
}

/* ---- JSON checks ------------------------------------------------------ */

/* Keys of o, in order, must be exactly keys[] (jansson iterates objects
 * in insertion order since 2.8). */
static int keys_are(json_t *o, const char *const *keys, size_t n)
{
    if (!json_is_object(o) || json_object_size(o) != n)
        return 0;
    size_t i = 0;
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it), i++)
        if (i >= n || strcmp(json_object_iter_key(it), keys[i]) != 0)
            return 0;
    return i == n;
}

static int is_str(json_t *o, const char *key, const char *want)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

static int is_int(json_t *o, const char *key, json_int_t want)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) == want;
}

static int is_real(json_t *o, const char *key, double want)
{
    json_t *v = json_object_get(o, key);
    return json_is_real(v) && json_real_value(v) == want;
}

static int is_null(json_t *o, const char *key)
{
    return json_is_null(json_object_get(o, key));
}

static int is_strings(json_t *a, const char *const *want, size_t n)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_string(v) || strcmp(json_string_value(v), want[i]) != 0)
            return 0;
    }
    return 1;
}

#define N(a) (sizeof(a) / sizeof *(a))

static const char *const RECORD_KEYS[] = {
    "patient", "as_of", "protocol", "protocol_version", "rules_sha256", "stage",
    "days_in_stage", "sessions_in_stage", "decision", "next_stage", "volume", "for_days", "urgent",
    "refer", "flags", "rule", "because", "prescription", "avoid", "disclaimer", "trace",
};

static void json_head(harness *h, json_t *o)
{
    ok(h, keys_are(o, RECORD_KEYS, N(RECORD_KEYS)), "json: record keys in order");
    ok(h, is_str(o, "patient", "P001") && is_str(o, "as_of", "2024-05-20") &&
          is_str(o, "protocol", "achilles_loading") && is_str(o, "protocol_version", "1.0") &&
          is_str(o, "rules_sha256", SHA) && is_str(o, "stage", "bilateral") &&
          is_int(o, "days_in_stage", 15) && is_int(o, "sessions_in_stage", 9),
       "json: patient, date, protocol, stage");
    static const char *const flags[] = { "insertional", "cortisone_caution" };
    static const char *const avoid[] = { "dorsiflexion stretching" };
    ok(h, is_str(o, "decision", "advance") && is_str(o, "next_stage", "single_leg") &&
          is_int(o, "volume", 1) && json_is_false(json_object_get(o, "urgent")) &&
          is_null(o, "refer") && is_strings(json_object_get(o, "flags"), flags, 2) &&
          is_strings(json_object_get(o, "avoid"), avoid, 1) &&
          is_str(o, "because",
                 "Three green sessions and settled stiffness: ready for single-leg work") &&
          is_str(o, "disclaimer", TENDO_DISCLAIMER),
       "json: decision, volume, urgent, refer, flags, avoid, because, disclaimer");
    json_t *r = json_object_get(o, "rule");
    static const char *const rule_keys[] = { "file", "line", "name" };
    ok(h, keys_are(r, rule_keys, 3) && is_str(r, "file", FILE_A) && is_int(r, "line", 88) &&
          is_str(r, "name", "bilateral_ready"), "json: rule");
}

static void json_prescription(harness *h, json_t *o)
{
    json_t *a = json_object_get(o, "prescription");
    ok(h, json_is_array(a) && json_array_size(a) == 2, "json: two exercises");
    static const char *const k0[] = { "exercise", "sets", "reps", "tempo", "frequency" };
    json_t *d0 = json_array_get(a, 0);
    ok(h, keys_are(d0, k0, N(k0)) && is_str(d0, "exercise", "Single-leg heel raise, straight knee") &&
          is_int(d0, "sets", 3) && is_int(d0, "reps", 15) && is_str(d0, "tempo", "3-1-3") &&
          is_str(d0, "frequency", "daily"), "json: first exercise");
    static const char *const k1[] = { "exercise", "sets", "reps", "tempo", "frequency",
                                      "surface", "range", "notes" };
    static const char *const notes[] = { "slow lowering", "keep the heel above step level" };
    json_t *d1 = json_array_get(a, 1);
    ok(h, keys_are(d1, k1, N(k1)) && is_str(d1, "surface", "floor") &&
          is_str(d1, "range", "neutral") && is_strings(json_object_get(d1, "notes"), notes, 2),
       "json: second exercise with notes");
}

static const char *const ENTRY_KEYS[] = { "kind", "name", "file", "line", "status", "result",
                                          "why", "conditions" };

static int entry_is(json_t *e, const char *kind, const char *name, int line, const char *status,
                    const char *result, size_t nconds)
{
    json_t *c = json_object_get(e, "conditions");
    return keys_are(e, ENTRY_KEYS, N(ENTRY_KEYS)) && is_str(e, "kind", kind) &&
           (name ? is_str(e, "name", name) : is_null(e, "name")) && is_str(e, "file", FILE_A) &&
           is_int(e, "line", line) && is_str(e, "status", status) &&
           is_str(e, "result", result) && json_is_string(json_object_get(e, "why")) &&
           json_is_array(c) && json_array_size(c) == nconds;
}

static json_t *cond_at(json_t *trace, size_t entry, size_t cond)
{
    return json_array_get(json_object_get(json_array_get(trace, entry), "conditions"), cond);
}

static void json_conditions(harness *h, json_t *t)
{
    static const char *const kp[] = { "text", "result", "value", "rows" };
    json_t *c = cond_at(t, 0, 0);
    json_t *rows = json_object_get(c, "rows");
    static const char *const kr[] = { "count", "first", "last" };
    ok(h, keys_are(c, kp, N(kp)) && is_str(c, "text", "any(notes ~ alarm, last 7 days)") &&
          is_str(c, "result", "false") && json_is_false(json_object_get(c, "value")) &&
          keys_are(rows, kr, 3) && is_int(rows, "count", 7) &&
          is_str(rows, "first", "2024-05-14") && is_str(rows, "last", "2024-05-20"),
       "json: plain condition with rows");
    static const char *const kc[] = { "text", "result", "left", "op", "right", "rows", "note" };
    static const char *const ko[] = { "text", "value" };
    c = cond_at(t, 1, 0);
    json_t *l = json_object_get(c, "left"), *r = json_object_get(c, "right");
    rows = json_object_get(c, "rows");
    ok(h, keys_are(c, kc, N(kc)) && is_str(c, "result", "unknown") && is_str(c, "op", ">") &&
          keys_are(l, ko, 2) && is_str(l, "text", "max(pain_during, last 3 sessions)") &&
          is_null(l, "value") && keys_are(r, ko, 2) && is_str(r, "text", "pain_red") &&
          is_int(r, "value", 5) && is_int(rows, "count", 0) && is_null(rows, "first") &&
          is_null(rows, "last") && is_str(c, "note", "window is empty"),
       "json: unknown comparison, empty window, note");
    c = cond_at(t, 2, 2);
    ok(h, is_real(json_object_get(c, "left"), "value", 2.33333333333333) &&
          is_real(json_object_get(c, "right"), "value", 2.5), "json: real operands");
    c = cond_at(t, 3, 0);
    ok(h, is_str(json_object_get(c, "left"), "value", "insertional") &&
          is_str(json_object_get(c, "right"), "text", "insertional"), "json: enum operands");
}

static void json_trace(harness *h, json_t *o)
{
    json_t *t = json_object_get(o, "trace");
    ok(h, json_is_array(t) && json_array_size(t) == 5, "json: five trace entries");
    ok(h, entry_is(json_array_get(t, 0), "stop", "red_flag", 40, "false", "false", 1) &&
          entry_is(json_array_get(t, 1), "regress", NULL, 52, "unknown", "unknown", 1) &&
          entry_is(json_array_get(t, 2), "advance", "bilateral_ready", 88, "won", "true", 3) &&
          entry_is(json_array_get(t, 3), "flag", "insertional", 100, "applied", "true", 1) &&
          entry_is(json_array_get(t, 4), "modify", NULL, 120, "applied", "true", 1),
       "json: trace entries");
    json_conditions(h, t);
}

static void test_json(harness *h, const decision *dec, const tendo_program *p)
{
    int rc;
    char *got = render(V_JSON, dec, p, TENDO_RENDER_TRACE, &rc);
    size_t len = got ? strlen(got) : 0;
    ok(h, rc == 0 && len > 1 && got[len - 1] == '\n' && !memchr(got, '\n', len - 1),
       "json: one line");
    json_error_t err;
    json_t *o = got ? json_loads(got, 0, &err) : NULL;
    ok(h, o != NULL, "json: parses back");
    if (o) {
        json_head(h, o);
        json_prescription(h, o);
        json_trace(h, o);
    }
    json_decref(o);
    free(got);
    got = render(V_JSON, dec, p, 0, &rc);
    o = got ? json_loads(got, 0, &err) : NULL;
    ok(h, rc == 0 && o && keys_are(o, RECORD_KEYS, N(RECORD_KEYS) - 1), "json: no trace without flag");
    json_decref(o);
    free(got);
}

static void test_json_others(harness *h, const decision *stop, const decision *hold,
                             const tendo_program *p)
{
    int rc;
    json_error_t err;
    char *got = render(V_JSON, stop, p, 0, &rc);
    json_t *o = got ? json_loads(got, 0, &err) : NULL;
    ok(h, rc == 0 && is_str(o, "decision", "stop") && json_is_true(json_object_get(o, "urgent")) &&
          is_str(o, "refer", "Stop loading and assess for partial rupture") &&
          json_array_size(json_object_get(o, "prescription")) == 0 &&
          json_array_size(json_object_get(o, "flags")) == 0, "json: stop");
    json_decref(o);
    free(got);
    got = render(V_JSON, hold, p, 0, &rc);
    o = got ? json_loads(got, 0, &err) : NULL;
    json_t *a = json_object_get(o, "prescription");
    json_t *d0 = json_array_get(a, 0), *d1 = json_array_get(a, 1);
    static const char *const k0[] = { "exercise", "sets", "reps", "reps_max", "load_kg", "load_kg_max" };
    static const char *const k1[] = { "exercise", "minutes", "frequency", "surface" };
    ok(h, rc == 0 && is_null(o, "stage") && is_str(o, "next_stage", "isometric") &&
          is_real(o, "volume", 0.75) && is_str(json_object_get(o, "rule"), "name", "settle") &&
          keys_are(d0, k0, N(k0)) && is_int(d0, "reps_max", 12) && is_int(d0, "load_kg", 5) &&
          is_int(d0, "load_kg_max", 10) && keys_are(d1, k1, N(k1)) && is_int(d1, "minutes", 20),
       "json: null stage, real volume, load in kg");
    json_decref(o);
    free(got);
}

/* ---- CSV -------------------------------------------------------------- */

/* A row longer than the view's line buffer (512 bytes): a referral of
 * 1,500 bytes with quotes in it, written whole and escaped.  The quotes
 * cut it into runs that fill the buffer, overflow it, and bypass it. */
static void test_csv_long(harness *h, const decision *hold, const tendo_program *p)
{
    char refer[1501], want[3200];
    for (int i = 0; i < 1500; i++)
        refer[i] = i == 400 || i == 600 || i == 1300 ? '"' : (char)('a' + i % 26);
    refer[1500] = '\0';
    decision d = *hold;
    d.refer = refer;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = f ? tendo_render_csv(&d, p, f) : -1;
    if (f)
        fclose(f);
    size_t w = 0;
    w += (size_t)snprintf(want, sizeof want, "P003,2024-01-31,,hold,isometric,0.75,no,\"");
    for (int i = 0; i < 1500; i++) {
        want[w++] = refer[i];
        if (refer[i] == '"')
            want[w++] = '"';
    }
    snprintf(want + w, sizeof want - w, "\",,rules/achilles.rules:61," SHA "\n");
    ok(h, rc == 0, "csv: renders a row longer than its buffer");
    same(h, buf, want, "csv: a long quoted field, whole");
    free(buf);
}

static void test_csv(harness *h, const decision *adv, const decision *none, const decision *hold,
                     const tendo_program *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = f ? tendo_render_csv_header(f) : -1;
    rc |= f ? tendo_render_csv(adv, p, f) : -1;
    rc |= f ? tendo_render_csv(none, p, f) : -1;
    rc |= f ? tendo_render_csv(hold, p, f) : -1;
    if (f)
        fclose(f);
    ok(h, rc == 0, "csv: renders");
    same(h, buf,
         "patient,as_of,stage,decision,next_stage,volume,urgent,refer,flags,rule,rules_sha256\n"
         "P001,2024-05-20,bilateral,advance,single_leg,1,no,,insertional;cortisone_caution,"
         "rules/achilles.rules:88," SHA "\n"
         "\"Doe, \"\"J\"\"\",2024-03-04,isometric,hold,isometric,1,no,Review footwear,,," SHA "\n"
         "P003,2024-01-31,,hold,isometric,0.75,no,,,rules/achilles.rules:61," SHA "\n",
         "csv: header and rows, quoting");
    free(buf);
    test_csv_long(h, hold, p);
}

/* ---- failure paths ---------------------------------------------------- */

/* Every allocation the JSON view makes, failed in turn: -1 each time,
 * never a crash or a leak (ASan/valgrind watch), then success. */
static void test_json_oom(harness *h, const decision *dec, const tendo_program *p)
{
    json_set_alloc_funcs(mem_alloc, mem_free);
    int rc = -1, all_minus_one = 1;
    unsigned long n;
    for (n = 1; n < 100000 && rc != 0; n++) {
        mem_fail_at(n);
        char *got = render(V_JSON, dec, p, TENDO_RENDER_TRACE, &rc);
        all_minus_one &= rc == 0 || rc == -1;
        free(got);
    }
    mem_fail_at(0);
    json_set_alloc_funcs(malloc, free);
    printf("# json view succeeded once allocation %lu no longer failed\n", n - 1);
    ok(h, rc == 0 && all_minus_one && n > 50, "json: every allocation failure gives -1");
}

/* A condition value too long for the inline buffer makes the text view
 * allocate; failing that allocation must give -1. */
static void test_text_oom(harness *h, const tendo_program *p)
{
    tr_cond c = plain("presentation", vsym(2), TY_ENUM, T3_TRUE);
    c.val_domain = 1;
    tr_rule t = { .r = &p->rules[FX_ADV], .status = TR_WON, .conds = &c, .nconds = 1 };
    decision dec = { .patient = "P9", .kind = K_ADVANCE, .stage = 1, .next_stage = 2,
                     .volume = 1, .rule = &p->rules[FX_ADV], .trace = &t, .ntrace = 1 };
    int rc;
    mem_fail_at(1);
    char *got = render(V_TEXT, &dec, p, 0, &rc);
    mem_fail_at(0);
    free(got);
    ok(h, rc == -1, "text: allocation failure gives -1");
    got = render(V_TEXT, &dec, p, 0, &rc);
    ok(h, rc == 0 && got && strstr(got, presentations[2]) != NULL, "text: long value uncut");
    free(got);
}

/* Unbuffered /dev/full fails every write at once. */
static void test_write_errors(harness *h, const decision *dec, const tendo_program *p)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f) {
        ok(h, 1, "# SKIP no /dev/full");
        return;
    }
    setvbuf(f, NULL, _IONBF, 0);
    int t = tendo_render_text(dec, p, f, TENDO_RENDER_TRACE);
    clearerr(f);
    int j = tendo_render_json(dec, p, f, TENDO_RENDER_TRACE);
    clearerr(f);
    int c = tendo_render_csv(dec, p, f);
    clearerr(f);
    int hd = tendo_render_csv_header(f);
    fclose(f);
    ok(h, t == -1 && j == -1 && c == -1 && hd == -1, "write errors give -1");
}

/* ---- main ------------------------------------------------------------- */

int main(void)
{
    harness h = { 0, 0 };
    fixture *f = mem_calloc(1, sizeof *f);
    case_advance *adv = mem_calloc(1, sizeof *adv);
    case_none *none = mem_calloc(1, sizeof *none);
    case_stop *stop = mem_calloc(1, sizeof *stop);
    case_hold *hold = mem_calloc(1, sizeof *hold);
    if (!f || !adv || !none || !stop || !hold) {
        puts("Bail out! out of memory");
        return 1;
    }
    fixture_init(f);
    const tendo_program *p = &f->p;
    const decision *d_adv = case_advance_init(adv, f);
    const decision *d_none = case_none_init(none, f);
    const decision *d_stop = case_stop_init(stop, f);
    const decision *d_hold = case_hold_init(hold, f);

    test_values(&h, p);
    test_doses(&h);
    check_text(&h, d_adv, p, 0, ADVANCE_TEXT, "text: advance");
    int rc;
    char *traced = render(V_TEXT, d_adv, p, TENDO_RENDER_TRACE, &rc);
    ok(&h, rc == 0 && traced && strstr(traced, ADVANCE_TRACE) != NULL, "text: trace section");
    if (traced && !strstr(traced, ADVANCE_TRACE))
        printf("# got\n%s", traced);
    free(traced);
    check_text(&h, d_none, p, 0, NONE_TEXT, "text: nothing fired, not yet met");
    check_text(&h, d_stop, p, TENDO_RENDER_TRACE, STOP_TEXT, "text: stop, urgent, trace");
    check_text(&h, d_hold, p, 0, HOLD_TEXT, "text: hold with volume, no stage");
    test_json(&h, d_adv, p);
    test_json_others(&h, d_stop, d_hold, p);
    test_csv(&h, d_adv, d_none, d_hold, p);
    test_text_oom(&h, p);
    test_json_oom(&h, d_adv, p);
    test_write_errors(&h, d_adv, p);

    printf("1..%d\n", h.n);
    mem_free(f);
    mem_free(adv);
    mem_free(none);
    mem_free(stop);
    mem_free(hold);
    return h.failed;
}
