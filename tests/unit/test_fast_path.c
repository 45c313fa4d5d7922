/* test_fast_path.c — the CSV reader's fast path against its general path.
 *
 * Every log is read twice, with the fast path and without, through the
 * differential check of fuzz/reader_diff.h (which fuzz_reader runs on
 * fuzzed logs): the committed logs and fuzz regressions under each
 * shipped schema, then logs made here by mutating well-formed rows one
 * byte at a time -- a quote, a blank, a CR, a NUL, a comma, a digit too
 * many, a capital -- because those are the places where the fast path
 * must decline.  Runs from the repository root (tests/run.py does).
 * Prints TAP-style "ok N - ..." lines; exits non-zero when any check fails. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "date.h"
#include "program.h"
#include "tendo.h"
#include "../../fuzz/reader_diff.h"

#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static int ntests, failures;

static void ok(int cond, const char *what, const char *arg)
{
    printf("%s %d - %s%s\n", cond ? "ok" : "not ok", ++ntests, what, arg);
    failures += !cond;
}

static int files_agree(const schema *sc, const char *pattern, const char *rules)
{
    glob_t g;
    int n = 0;
    if (glob(pattern, 0, NULL, &g) != 0)
        return 0;
    for (size_t i = 0; i < g.gl_pathc; i++, n++) {
        int bad = rd_compare(sc, g.gl_pathv[i], stdout);
        char what[512];
        snprintf(what, sizeof what, "%s under %s", g.gl_pathv[i], rules);
        ok(bad == 0, "fast and general paths agree on ", what);
    }
    globfree(&g);
    return n;
}

/* xorshift: the mutations are the same on every run. */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

typedef int row_fn(char *line, size_t cap, int i, const char *date, uint32_t *s);

typedef struct shape {
    const char *rules, *header, *row;   /* row: "%.0d" when the log has no patient column */
    int ids;
    row_fn *make;                       /* makes the rows instead of row, when set */
} shape;

/* Row i of a bench-schema log whose values change from row to row as a
 * real log's do, for the reader's echo of the previous row (csvlog.c):
 * scores of one and two digits, a stage that moves on, kilograms with and
 * without decimals, notes empty, short, quoted (with a comma, blanks, an
 * escaped quote, nothing, junk after the quote) and longer than the echo's
 * first 64 bytes. */
static int varied_row(char *line, size_t cap, int i, const char *date, uint32_t *s)
{
    static const char *const stages[] = { "isometric", "bilateral", "single_leg", "hsr" };
    static const char *const swelling[] = { "0", "0", "0", "1", "no", "yes" };
    static const char *const kg[] = { "0", "0", "12.5", "40", "7", "0.25" };
    static const char *const notes[] = {
        "", "", "", "", "calf tight", "\"sore, then ok\"", "sharp",
        "a long note about the morning: stiff for twenty minutes, then fine on the stairs",
        "\" sore \"", "\"said \"\"ouch\"\"\"", "\"\"", "\"x\"y", "\"a long quoted note, longer than the first 64 bytes of the row\"",
    };
    unsigned a = next_rand(s) % 11, b = next_rand(s) % 4 ? a : next_rand(s) % 11, c = next_rand(s) % 8;
    unsigned note = next_rand(s) % 21;
    return snprintf(line, cap, "P%06d,%s,%s,%s,%u,%u,%u,%s,%s,%s\n", 1 + i / 7, date,
                    i / 7 % 2 ? "midportion" : "insertional", stages[i / 3 % 4], a, b, c, swelling[i / 4 % 6],
                    kg[i / 5 % 6], note < 8 ? "" : notes[note - 8]);
}

/* Row i of per_patient.rules: now and then a patient's side changes to a
 * value of the same width, which the echo must still check; the text
 * before the last field changes without changing width; notes quoted or
 * not, some rows ending in CR LF. */
static int side_row(char *line, size_t cap, int i, const char *date, uint32_t *s)
{
    static const char *const by[] = { "ab", "cd", "ef" };
    static const char *const notes[] = { "", "", "", "ok, then sore", "\"ok, then sore\"\r", "\"\"\r", "x\r" };
    return snprintf(line, cap, "p%d,%s,%s,one,%s,%u,%s\n", 1 + i / 7, date, next_rand(s) % 16 ? "left" : "both",
                    by[next_rand(s) % 3], next_rand(s) % 11, notes[next_rand(s) % 7]);
}

/* Row i of digits.rules: one-byte values in and just out of each
 * column's range ('/' and ':' border the digits), now and then two bytes
 * or none, so the echo's byte test (csvlog.c, echo_digit) must agree
 * with the parsers at every border. */
static int digit_row(char *line, size_t cap, int i, const char *date, uint32_t *s)
{
    static const char *const level[] = { "2", "7", "4", "5", "3", "6", "1", "8", "0", "9", "/", ":", "10", "" };
    static const char *const swollen[] = { "0", "1", "1", "0", "2", "/", ":", "yes", "" };
    static const char *const kg[] = { "1", "9", "5", "3", "0", "/", ":", "0.5", "12" };
    static const char *const big[] = { "", "", "15", "9", "1", "0", ":" };
    static const char *const low[] = { "", "0", "3", "2", "4", "9", "-1", "/" };
    static const char *const anyv[] = { "", "0", "9", "5", ":", "/", "12" };
    /* Mostly the first values (in range), so that most rows are read as
     * changes to the row before them. */
#define PICK(v) v[next_rand(s) % 4 ? next_rand(s) % 4 : next_rand(s) % (sizeof v / sizeof v[0])]
    return snprintf(line, cap, "p%d,%s,one,%s,%s,%s,%s,%s,%s,%s\n", 1 + i / 7, date, PICK(level), PICK(swollen),
                    PICK(kg), PICK(big), PICK(low), PICK(anyv), next_rand(s) % 8 ? "" : "x");
#undef PICK
}

/* A log of `rows` rows from sh->row (a printf format taking a patient
 * number and a date) or sh->make: seven rows a patient, dates a day or
 * two apart, crossing months and a leap day, a quarter of them mutated at
 * one random byte with one of the bytes the fast path must treat with
 * care. */
static int write_mutated(const char *path, const shape *sh, int rows, uint32_t seed)
{
    static const char edits[] = ",\" \r\n\0\tYx9-.0;\xc3\xff";
    int32_t day;
    FILE *f = date_parse("2024-02-20", 10, &day) ? fopen(path, "wb") : NULL;
    if (!f)
        return 0;
    fputs(sh->header, f);
    uint32_t s = seed;
    for (int i = 0; i < rows; i++) {
        char line[256], date[11];
        day += 1 + (int32_t)(next_rand(&s) % 2);
        date_format(day, date);
        int n = sh->make ? sh->make(line, sizeof line, i, date, &s)
                         : snprintf(line, sizeof line, sh->row, sh->ids ? 1 + i / 7 : 0, date);
        if (n <= 0 || (size_t)n >= sizeof line - 2)
            break;
        if (next_rand(&s) % 4 != 0) {   /* three rows in four stay well-formed */
            fwrite(line, 1, (size_t)n, f);
            continue;
        }
        size_t at = next_rand(&s) % (size_t)n;
        char c = edits[next_rand(&s) % (sizeof edits - 1)];
        switch (next_rand(&s) % 3) {
        case 0:   /* replace */
            line[at] = c;
            fwrite(line, 1, (size_t)n, f);
            break;
        case 1:   /* insert */
            fwrite(line, 1, at, f);
            fputc(c, f);
            fwrite(line + at, 1, (size_t)n - at, f);
            break;
        default:  /* delete */
            fwrite(line, 1, at, f);
            fwrite(line + at + 1, 1, (size_t)n - at - 1, f);
            break;
        }
    }
    return fclose(f) == 0;
}

static const shape SHAPES[] = {
    { "bench/reference.rules",
      "patient_id,date,presentation,stage,pain_during,pain_24h,stiffness,swelling,load_kg,notes\n",
      "P%06d,%s,midportion,isometric,4,3,7,0,12,sharp pain, \"then\" ok\n", 1, NULL },
    { "bench/reference.rules",
      "patient_id,date,presentation,stage,pain_during,pain_24h,stiffness,swelling,load_kg,notes\r\n",
      "P%06d,%s,insertional,hsr,10,0,0,1,40,\r\n", 1, NULL },
    { "rules/achilles.rules",
      "patient_id,date,presentation,goal,cortisone_date,stage,morning_pain,morning_stiffness,pain_during,"
      "load_kg,swelling,limping,slhr_reps,slhr_pain,hop_pain,visa_a,notes\n",
      "p%d,%s,insertional,running,,isometric,2,1,3,7.5,no,yes,,,,48,felt fine\n", 1, NULL },
    { "fuzz/notes.rules", "date,stage,pain,notes,comment\n", "%.0d%s,one,7,aaaa!,x\n", 0, NULL },
    { "bench/reference.rules",
      "patient_id,date,presentation,stage,pain_during,pain_24h,stiffness,swelling,load_kg,notes\n", NULL, 1,
      varied_row },
    { "tests/unit/per_patient.rules", "patient_id,date,side,stage,by,pain,notes\n", NULL, 1, side_row },
    { "tests/unit/digits.rules", "patient_id,date,stage,level,swollen,weight,big,low,free,notes\n", NULL, 1, digit_row },
};

static int mutated_agree(const tendo_program *p, const shape *sh, int k)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_fast_path.%ld.%d.csv", (long)getpid(), k);
    int bad = 0;
    for (uint32_t seed = 1; seed <= 40 && !bad; seed++) {
        if (!write_mutated(path, sh, 300, seed * 2654435761u + (uint32_t)k)) {
            bad = -1;
            break;
        }
        bad = rd_compare(&p->sch, path, stdout);
        if (bad)
            printf("(shape %d, seed %u; the log is kept at %s)\n", k, seed, path);
    }
    if (!bad)
        unlink(path);
    char what[128];
    snprintf(what, sizeof what, "shape %d under %s (40 logs of 300 rows)", k, sh->rules);
    ok(bad == 0, "fast and general paths agree on mutated rows: ", what);
    return bad == 0;
}

static tendo_program *load(const char *rules)
{
    tendo_diags *d = tendo_diags_new();
    tendo_program *p = d ? tendo_load(rules, d) : NULL;
    if (!p && d)
        tendo_diags_print(d, stdout);
    tendo_diags_free(d);
    ok(p != NULL, "loads ", rules);
    return p;
}

int main(void)
{
    static const char *const rules[] = { "rules/achilles.rules", "bench/reference.rules", "fuzz/notes.rules",
                                         "rules/alfredson.rules" };
    static const char *const logs[] = { "examples/*.csv", "tests/golden/*.csv", "tests/hostile/*.csv",
                                        "fuzz/corpus/fuzz_*/*" };
    int files = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        tendo_program *p = load(rules[i]);
        for (size_t k = 0; p && k < sizeof logs / sizeof logs[0]; k++)
            files += files_agree(&p->sch, logs[k], rules[i]);
        tendo_program_free(p);
    }
    ok(files >= 60, "found the committed logs", "");
    for (size_t k = 0; k < sizeof SHAPES / sizeof SHAPES[0]; k++) {
        tendo_program *p = load(SHAPES[k].rules);
        if (p)
            mutated_agree(p, &SHAPES[k], (int)k);
        tendo_program_free(p);
    }
    return failures != 0;
}
