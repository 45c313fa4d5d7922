/* test_csvlog.c — unit tests for the date functions and the CSV symptom-log
 * reader: small CSV files are written into a temporary directory and read
 * with schemas built here in C.  Prints TAP-style "ok N - ..." lines and
 * exits non-zero when any check fails. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "csvlog.h"
#include "date.h"
#include "diag.h"
#include "mem.h"
#include "schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures, ntests;
static char tmpdir[64] = "/tmp/test_csvlog.XXXXXX";
static char made[64][256];
static int nmade;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", ++ntests);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond)
        failures++;
    fflush(stdout);
}

/* ---- schemas ------------------------------------------------------------- */

static const char *const PRESENTATIONS[] = { "midportion", "insertional" };
static const char *const STAGES[] = { "isometric", "isotonic", "energy" };

enum { C_ID, C_DATE, C_MORNING, C_DURING, C_SWELL, C_PRES, C_WEIGHT, C_NOTES, C_STAGE, NCOLS };

static const sch_column COLS[NCOLS] = {
    [C_ID] = { .name = "patient_id", .title = "patient_id", .type = COL_TEXT, .presence = PRES_REQUIRED },
    [C_DATE] = { .name = "date", .title = "date", .type = COL_DATE, .presence = PRES_REQUIRED },
    [C_MORNING] = { .name = "morning_pain", .title = "morning_pain",
                    .label = "pain on the first steps after waking", .type = COL_SCORE,
                    .has_range = 1, .lo = 0, .hi = 10, .presence = PRES_REQUIRED },
    [C_DURING] = { .name = "pain_during", .title = "pain_during", .type = COL_SCORE,
                   .has_range = 1, .lo = 0, .hi = 10, .presence = PRES_OPTIONAL },
    [C_SWELL] = { .name = "swelling", .title = "swelling", .type = COL_BOOL,
                  .presence = PRES_DEFAULT, .defval = { .i = 0 } },
    [C_PRES] = { .name = "presentation", .title = "presentation", .type = COL_ENUM,
                 .presence = PRES_OPTIONAL, .per_patient = 1, .values = PRESENTATIONS, .nvalues = 2 },
    [C_WEIGHT] = { .name = "weight", .title = "Weight (kg)", .type = COL_NUMBER, .has_range = 1,
                   .lo = 0, .hi = 300, .presence = PRES_OPTIONAL },
    [C_NOTES] = { .name = "notes", .title = "notes", .type = COL_TEXT, .presence = PRES_DEFAULT,
                  .defval_text = "none" },
    [C_STAGE] = { .name = "stage", .title = "stage", .type = COL_STAGE, .presence = PRES_OPTIONAL,
                  .values = STAGES, .nvalues = 3 },
};

static const schema SCHEMA = { .cols = COLS, .ncols = NCOLS, .date_col = C_DATE,
                               .patient_col = C_ID, .stage_col = C_STAGE };

#define HDR "patient_id,date,morning_pain,pain_during,swelling,presentation,Weight (kg),notes,stage\n"

/* A log without a required patient column, a free number and a signed score. */
static const sch_column COLS2[] = {
    { .name = "patient_id", .title = "patient_id", .type = COL_TEXT, .presence = PRES_OPTIONAL },
    { .name = "date", .title = "Date", .type = COL_DATE, .presence = PRES_OPTIONAL },
    { .name = "x", .title = "x", .type = COL_NUMBER, .presence = PRES_OPTIONAL },
    { .name = "s", .title = "s", .type = COL_SCORE, .has_range = 1, .lo = -5, .hi = 5,
      .presence = PRES_OPTIONAL },
};
static const schema SCHEMA2 = { .cols = COLS2, .ncols = 4, .date_col = 1, .patient_col = 0,
                                .stage_col = -1 };

/* ---- files ---------------------------------------------------------------- */

static const char *write_bytes(const char *name, const char *data, size_t n)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    int seen = 0;
    for (int i = 0; i < nmade; i++)
        seen |= strcmp(made[i], path) == 0;
    if (!seen && nmade < 64)
        snprintf(made[nmade++], sizeof made[0], "%s", path);
    return path;
}

static const char *write_file(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

static void cleanup(void)
{
    for (int i = 0; i < nmade; i++)
        unlink(made[i]);
    rmdir(tmpdir);
}

/* ---- running the reader --------------------------------------------------- */

typedef struct result {
    char seq[8192];      /* "P1:2 BAD(P2) END" */
    char diags[16384];   /* "line: message\n" for each diagnostic */
    size_t ndiags;
    int oom;
    unsigned long rows;
} result;

static void append(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

static void collect_diags(diag_list *d, result *res)
{
    res->diags[0] = '\0';
    for (size_t i = 0; i < d->n; i++)
        append(res->diags, sizeof res->diags, "%lu: %s\n", d->items[i].line, d->items[i].msg);
    res->ndiags = d->n;
    res->oom = d->oom;
}

static void run_path(const schema *s, const char *path, result *res)
{
    diag_list d;
    diag_init(&d);
    memset(res, 0, sizeof *res);
    logr *r = logr_open(s, path, &d);
    if (!r) {
        append(res->seq, sizeof res->seq, "OPENFAIL");
    } else {
        patient p;
        patient_init(&p);
        int rc, guard = 0;
        while ((rc = logr_next(r, &p, &d)) != LOGR_END && guard++ < 100000) {
            if (rc == LOGR_PATIENT)
                append(res->seq, sizeof res->seq, "%s:%zu ", p.id, p.nrows);
            else if (rc == LOGR_BAD)
                append(res->seq, sizeof res->seq, "BAD(%s) ", p.id);
            else
                append(res->seq, sizeof res->seq, "FATAL ");
        }
        append(res->seq, sizeof res->seq, "END");
        res->rows = logr_rows(r);
        patient_free(&p);
        logr_close(r);
    }
    collect_diags(&d, res);
    diag_free(&d);
}

static void run_csv(const schema *s, const char *csv, result *res)
{
    run_path(s, write_file("t.csv", csv), res);
}

static void expect(const schema *s, const char *csv, const char *seq, const char *diags, const char *what)
{
    result res;
    run_csv(s, csv, &res);
    int good = strcmp(res.seq, seq) == 0 && strcmp(res.diags, diags) == 0;
    ok(good, "%s", what);
    if (!good)
        printf("#   got seq:   %s\n#   want seq:  %s\n#   got diags:\n%s#   want diags:\n%s", res.seq,
               seq, res.diags, diags);
}

/* Opens csv and reads its first patient into p; returns logr_next's result. */
static int first_patient(const schema *s, const char *csv, patient *p, diag_list *d)
{
    logr *r = logr_open(s, write_file("t.csv", csv), d);
    if (!r)
        return 99;
    int rc = logr_next(r, p, d);
    logr_close(r);
    return rc;
}

static const char *text_of(const patient *p, size_t row, size_t col, char *buf, size_t cap)
{
    const cell *c = patient_cell(p, row, col);
    size_t n = c->s.len < cap - 1 ? c->s.len : cap - 1;
    memcpy(buf, p->text + c->s.off, n);
    buf[n] = '\0';
    return buf;
}

/* ---- dates ---------------------------------------------------------------- */

static void test_dates(void)
{
    ok(date_from_ymd(1970, 1, 1) == 0 && date_from_ymd(1969, 12, 31) == -1 &&
           date_from_ymd(2000, 3, 1) == 11017 && date_from_ymd(2024, 5, 1) == 19844,
       "date_from_ymd known values");

    int32_t lo = date_from_ymd(1, 1, 1), hi = date_from_ymd(9999, 12, 31), day;
    int roundtrip = 1;
    char buf[11];
    for (int32_t x = lo; x <= hi && roundtrip; x++) {
        date_format(x, buf);
        roundtrip = date_parse(buf, 10, &day) && day == x && buf[10] == '\0';
    }
    ok(roundtrip, "every day 0001-01-01..9999-12-31 formats and parses back");

    const char *good[] = { "2000-02-29", "2024-02-29", "0001-01-01", "9999-12-31", "2023-12-31" };
    int all = 1;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        all &= date_parse(good[i], 10, &day);
        date_format(day, buf);
        all &= strcmp(buf, good[i]) == 0;
    }
    ok(all, "valid dates accepted, including leap days");

    const char *badd[] = { "2023-02-29", "1900-02-29", "2024-13-01", "2024-00-10", "2024-01-00",
                           "2024-04-31", "0000-01-01", "2024-1-01",  "2024/01/01", "2024-01-1 ",
                           " 2024-01-1", "+024-01-01", "2024-01-32", "20240-1-01", "abcd-ef-gh",
                           "2024-01-01x" };
    int none = 1;
    for (size_t i = 0; i < sizeof badd / sizeof *badd; i++)
        if (date_parse(badd[i], strlen(badd[i]), &day)) {
            none = 0;
            printf("#   accepted %s\n", badd[i]);
        }
    ok(none, "malformed and impossible dates rejected");
    ok(!date_parse("2024-01-01", 9, &day) && !date_parse("2024-01-01x", 11, &day),
       "date_parse needs exactly 10 bytes");

    date_format(date_from_ymd(9999, 12, 31) + 1, buf);
    ok(strcmp(buf, "\?\?\?\?-\?\?-\?\?") == 0, "a day past 9999 is written as question marks");
}

/* ---- the basics ------------------------------------------------------------- */

static void test_basic(void)
{
    const char *csv = HDR
        "P1,2024-05-01,3,4,yes,midportion,70.5,\"hello, world\",isometric\n"
        "P1,2024-05-02,2,,no,midportion,,,isotonic\n"
        "P2,2024-05-01,5,1,Y,insertional,80,x,energy\n";
    expect(&SCHEMA, csv, "P1:2 P2:1 END", "", "two good patients");

    diag_list d;
    diag_init(&d);
    logr *r = logr_open(&SCHEMA, write_file("t.csv", csv), &d);
    patient p;
    patient_init(&p);
    char buf[64];
    int rc = r ? logr_next(r, &p, &d) : 99;
    ok(rc == 1 && strcmp(p.id, "P1") == 0 && p.nrows == 2 && p.ncols == NCOLS &&
           p.path && strstr(p.path, "t.csv"),
       "first patient: id, rows, columns, path");
    ok(rc == 1 && patient_cell(&p, 0, C_DATE)->i == date_from_ymd(2024, 5, 1) &&
           patient_cell(&p, 1, C_DATE)->i == date_from_ymd(2024, 5, 2),
       "dates stored as day numbers");
    ok(rc == 1 && patient_cell(&p, 0, C_MORNING)->num == 3 && patient_known(&p, 0, C_DURING) &&
           patient_cell(&p, 0, C_DURING)->num == 4 && !patient_known(&p, 1, C_DURING),
       "scores, and an optional empty score unknown");
    ok(rc == 1 && patient_cell(&p, 0, C_SWELL)->i == 1 && patient_cell(&p, 1, C_SWELL)->i == 0 &&
           patient_known(&p, 1, C_SWELL),
       "booleans");
    ok(rc == 1 && patient_cell(&p, 0, C_PRES)->i == 0 && patient_cell(&p, 0, C_STAGE)->i == 0 &&
           patient_cell(&p, 1, C_STAGE)->i == 1,
       "enum and stage indexes");
    ok(rc == 1 && patient_cell(&p, 0, C_WEIGHT)->num == 70.5 && !patient_known(&p, 1, C_WEIGHT),
       "numbers");
    ok(rc == 1 && strcmp(text_of(&p, 0, C_NOTES, buf, sizeof buf), "hello, world") == 0 &&
           strcmp(text_of(&p, 1, C_NOTES, buf, sizeof buf), "none") == 0 && patient_known(&p, 1, C_NOTES) &&
           strcmp(text_of(&p, 1, C_ID, buf, sizeof buf), "P1") == 0,
       "text, quoted text with a comma, text default");
    ok(rc == 1 && p.line[0] == 2 && p.line[1] == 3, "row line numbers");
    rc = r ? logr_next(r, &p, &d) : 99;
    ok(rc == 1 && strcmp(p.id, "P2") == 0 && p.nrows == 1 && patient_cell(&p, 0, C_SWELL)->i == 1 &&
           patient_cell(&p, 0, C_PRES)->i == 1 && p.line[0] == 4 &&
           strcmp(text_of(&p, 0, C_NOTES, buf, sizeof buf), "x") == 0,
       "second patient reuses the table");
    rc = r ? logr_next(r, &p, &d) : 99;
    ok(rc == 0 && logr_rows(r) == 3 && d.n == 0, "end of file, 3 rows counted, no diagnostics");
    ok(r && logr_next(r, &p, &d) == 0, "end of file again");
    patient_free(&p);
    logr_close(r);
    diag_free(&d);

    expect(&SCHEMA, HDR, "END", "", "header only: no patients");
}

static void test_header(void)
{
    diag_list d;
    diag_init(&d);
    patient p;
    patient_init(&p);
    char buf[64];
    int rc = first_patient(&SCHEMA, " Date ,morning_pain,PATIENT_ID\n2024-01-01,0,P9\n", &p, &d);
    ok(rc == 1 && strcmp(p.id, "P9") == 0 && patient_cell(&p, 0, C_DATE)->i == date_from_ymd(2024, 1, 1) &&
           patient_cell(&p, 0, C_MORNING)->num == 0,
       "header order is free; titles match ignoring case and surrounding spaces");
    ok(rc == 1 && patient_known(&p, 0, C_SWELL) && patient_cell(&p, 0, C_SWELL)->i == 0 &&
           !patient_known(&p, 0, C_DURING) && !patient_known(&p, 0, C_STAGE) &&
           strcmp(text_of(&p, 0, C_NOTES, buf, sizeof buf), "none") == 0,
       "absent columns: defaults and unknowns");
    patient_free(&p);
    diag_free(&d);

    schema extra = SCHEMA;
    extra.ignore_extra = 1;
    expect(&extra, "patient_id,foo,date,morning_pain,\nP1,zz,2024-01-01,1,\n", "P1:1 END", "",
           "ignore extra columns (also an empty title)");

    expect(&SCHEMA, "patient_id,date\nP1,2024-01-01\n", "OPENFAIL",
           "1: missing required column 'morning_pain' (pain on the first steps after waking)\n",
           "missing required column, with its label");
    expect(&SCHEMA, "patient_id,datee,morning_pain,zzzqqq\n", "OPENFAIL",
           "1: unknown column 'datee' in header; did you mean 'date'?\n"
           "1: unknown column 'zzzqqq' in header\n"
           "1: missing required column 'date'\n",
           "unknown columns, suggestion, and the date column always required");
    expect(&SCHEMA, "patient_id,date,morning_pain,Weight(kg)\n", "OPENFAIL",
           "1: unknown column 'Weight(kg)' in header; did you mean 'Weight (kg)'?\n",
           "suggestion uses the title the header should have");
    expect(&SCHEMA, "patient_id,date,morning_pain,DATE\n", "OPENFAIL",
           "1: duplicate column 'DATE' in header (columns 2 and 4)\n", "duplicate column");
    expect(&SCHEMA, "patient_id,date,morning_pain,\n", "OPENFAIL",
           "1: column 4 of the header has no title\n", "empty title without ignore_extra");
    expect(&SCHEMA, "", "OPENFAIL", "1: empty file: expected a header row naming the columns\n",
           "empty file");
    expect(&SCHEMA, "\xEF\xBB\xBF\n\r\n\n", "OPENFAIL",
           "1: empty file: expected a header row naming the columns\n", "BOM and blank lines only");
    expect(&SCHEMA, "\n\npatient_id,date,morning_pain\nP1,2024-01-01,1\nP1,2024-01-01,1\n",
           "BAD(P1) END", "5: duplicate date 2024-01-01 (also at line 4)\n",
           "blank lines before the header are counted");
    expect(&SCHEMA, "patient_id,\"da\"x,morning_pain\n", "OPENFAIL",
           "1: header: '\"da\"x' has text after the closing quote: expected ',' or the end of the line\n",
           "broken quoting in the header");

    diag_init(&d);
    char missing[256];
    snprintf(missing, sizeof missing, "%s/no-such-file.csv", tmpdir);
    logr *r = logr_open(&SCHEMA, missing, &d);
    ok(!r && d.n == 1 && d.items[0].path && strcmp(d.items[0].path, missing) == 0 &&
           strcmp(d.items[0].msg, "cannot open log file: No such file or directory") == 0,
       "missing file: diag names the file");
    diag_free(&d);

    diag_init(&d);
    r = logr_open(&SCHEMA, tmpdir, &d);
    ok(!r && d.n == 1 && strcmp(d.items[0].msg, "read error: Is a directory") == 0,
       "a directory: read error");
    diag_free(&d);

    diag_init(&d);
    size_t cap = 1100 * 6 + 2;
    char *wide = mem_alloc(cap);
    wide[0] = '\0';
    for (int i = 0; i < 1100; i++)
        snprintf(wide + strlen(wide), cap - strlen(wide), "%sc%d", i ? "," : "", i);
    strcat(wide, "\n");
    r = logr_open(&SCHEMA, write_file("t.csv", wide), &d);
    ok(!r && d.n == 1 && strcmp(d.items[0].msg, "header has 1100 columns, more than the limit of 1024") == 0,
       "more than 1024 header columns");
    mem_free(wide);
    diag_free(&d);
}

/* ---- CSV syntax ------------------------------------------------------------- */

static void test_rfc4180(void)
{
    diag_list d;
    diag_init(&d);
    patient p;
    patient_init(&p);
    char buf[64];
    int rc = first_patient(&SCHEMA, HDR "P1,2024-05-01,3,,,,,\"line1\nline2 \"\"q\"\", \"\"\",\n"
                                        "P1,2024-05-02,\"4\",,,,,\"\",\n",
                           &p, &d);
    ok(rc == 1 && p.nrows == 2 && strcmp(text_of(&p, 0, C_NOTES, buf, sizeof buf), "line1\nline2 \"q\", \"") == 0,
       "quoted field with newline, escaped quotes and comma");
    ok(rc == 1 && p.line[0] == 2 && p.line[1] == 4, "line numbers after a two-line record");
    ok(rc == 1 && patient_cell(&p, 1, C_MORNING)->num == 4 && strcmp(text_of(&p, 1, C_NOTES, buf, sizeof buf), "none") == 0,
       "quoted score; empty quoted text takes the default");
    patient_free(&p);
    diag_free(&d);

    expect(&SCHEMA, HDR "P1,2024-05-01,3,,,,,\"a\nb\nc\",\nP1,2024-05-02,3,,,,,,\nP1,2024-05-02,3,,,,,,\n",
           "BAD(P1) END", "6: duplicate date 2024-05-02 (also at line 5)\n",
           "line counting continues after a multi-line record");

    expect(&SCHEMA,
           "patient_id,date,morning_pain,stage\r\nP1,2024-05-01,3,energy\r\nP1,2024-05-02,3,\"isotonic\"\r\n\r\n"
           "P2,2024-05-01,1,isometric",
           "P1:2 P2:1 END", "", "CRLF records, a blank CRLF line, final record without newline");
    expect(&SCHEMA, "\xEF\xBB\xBFpatient_id,date,morning_pain\nP1,2024-05-01,3\n", "P1:1 END", "",
           "UTF-8 BOM skipped");
    expect(&SCHEMA, "patient_id,date,morning_pain\n\xEF\xBB\xBFP1,2024-05-01,3\n",
           "\xEF\xBB\xBFP1:1 END", "", "a BOM after the start is data");
    expect(&SCHEMA, HDR "\n\nP1,2024-05-01,3,,,,,,\n\n\nP1,2024-05-01,3,,,,,,\n",
           "BAD(P1) END", "7: duplicate date 2024-05-01 (also at line 4)\n",
           "blank lines between records skipped and counted");
    expect(&SCHEMA, HDR "P1,2024-05-01,3,,,,,,\nP1,2024-05-02,3,,,,,\"abc\nmore\n",
           "BAD(P1) END",
           "3: column 'notes': quoted value '\"abc\\nmore\\n' is never closed: expected a closing "
           "'\"' before the end of the file\n",
           "unterminated quote at end of file names the line where it starts");
    expect(&SCHEMA, HDR "P1,2024-05-01,3,,,,,\"ab\"c,\nP2,2024-05-01,3,,,,,,\n", "BAD(P1) P2:1 END",
           "2: column 'notes': '\"ab\"c' has text after the closing quote: expected ',' or the end of the line\n",
           "text after a closing quote");

    diag_init(&d);
    patient_init(&p);
    rc = first_patient(&SCHEMA, HDR "P1,2024-05-01,3,,,,,5\" tall,\n", &p, &d);
    ok(rc == 1 && strcmp(text_of(&p, 0, C_NOTES, buf, sizeof buf), "5\" tall") == 0,
       "a quote inside an unquoted field is literal");
    rc = first_patient(&SCHEMA, HDR "P1,2024-05-01, 3 ,,\t1 ,,,  spaced  ,\n", &p, &d);
    ok(rc == 1 && patient_cell(&p, 0, C_MORNING)->num == 3 && patient_cell(&p, 0, C_SWELL)->i == 1 &&
           strcmp(text_of(&p, 0, C_NOTES, buf, sizeof buf), "  spaced  ") == 0,
       "spaces trimmed for values, kept for text");
    rc = first_patient(&SCHEMA, HDR "P1,2024-05-01,3,,,,,\"x\"\"\"\"y\",\n", &p, &d);
    ok(rc == 1 && strcmp(text_of(&p, 0, C_NOTES, buf, sizeof buf), "x\"\"y") == 0,
       "consecutive escaped quotes");
    patient_free(&p);
    diag_free(&d);

    expect(&SCHEMA, HDR "P1,2024-05-01,3,,,,,\nP2,2024-05-01,3,,,,,,,\nP3,2024-05-01,3,,,,,,\n",
           "BAD(P1) BAD(P2) P3:1 END",
           "2: row has 8 fields, the header has 9\n3: row has 10 fields, the header has 9\n",
           "rows with the wrong number of fields");
}

/* ---- values ----------------------------------------------------------------- */

static void test_values(void)
{
    char csv[8192] = HDR;
    const char *rows[] = {
        "P1,2024-05-01,3,12,,,,,",
        "P2,2024-02-30,3,,,,,,",
        "P3,2024-05-01,3,,maybe,,,,",
        "P4,2024-05-01,3,,,mid,,,",
        "P5,2024-05-01,3,abc,,,,,",
        "P6,2024-05-01,3,,,,400,,",
        "P7,2024-05-01,3,,,,1e3,,",
        "P8,2024-05-01,3,2.5,,,,,",
        "P9,2024-05-01,,,,,,,",
        "P10,2024-05-01,3,,,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,,,",
        "P11,2024-05-01,3,,,,,,warmup",
        "P12,2024-05-01,3,,,,inf,,",
        "P13,2024-05-01,3,,,,-1,,",
        "P14,,3,,,,,,",
        "P15,2024-05-01,3,,,,0x10,,",
        "P16,2024-05-01,3,- 1,,,,,",
        "P17,2024-05-01,3,,,,1.2.3,,",
        "P20,2024-05-01,3,10,TRUE,MidPortion,300,,Energy",
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        strcat(csv, rows[i]);
        strcat(csv, "\n");
    }
    expect(&SCHEMA, csv,
           "BAD(P1) BAD(P2) BAD(P3) BAD(P4) BAD(P5) BAD(P6) BAD(P7) BAD(P8) BAD(P9) BAD(P10) BAD(P11) "
           "BAD(P12) BAD(P13) BAD(P14) BAD(P15) BAD(P16) BAD(P17) P20:1 END",
           "2: column 'pain_during': '12' is out of range: expected a score from 0 to 10\n"
           "3: column 'date': '2024-02-30' is not a valid date: expected YYYY-MM-DD\n"
           "4: column 'swelling': 'maybe' is not yes/no\n"
           "5: column 'presentation': 'mid' is not one of: midportion, insertional\n"
           "6: column 'pain_during': 'abc' is not a number: expected a score from 0 to 10\n"
           "7: column 'Weight (kg)': '400' is out of range: expected a number from 0 to 300\n"
           "8: column 'Weight (kg)': '1e3' is not a number: expected a number from 0 to 300\n"
           "9: column 'pain_during': '2.5' is not a whole number: expected a score from 0 to 10\n"
           "10: column 'morning_pain' is required but empty\n"
           "11: column 'presentation': 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' "
           "is not one of: midportion, insertional\n"
           "12: column 'stage': 'warmup' is not one of: isometric, isotonic, energy\n"
           "13: column 'Weight (kg)': 'inf' is not a number: expected a number from 0 to 300\n"
           "14: column 'Weight (kg)': '-1' is out of range: expected a number from 0 to 300\n"
           "15: column 'date' is required but empty\n"
           "16: column 'Weight (kg)': '0x10' is not a number: expected a number from 0 to 300\n"
           "17: column 'pain_during': '- 1' is not a number: expected a score from 0 to 10\n"
           "18: column 'Weight (kg)': '1.2.3' is not a number: expected a number from 0 to 300\n",
           "value errors: exact messages, long values cut at 60 bytes");

    diag_list d;
    diag_init(&d);
    patient p;
    patient_init(&p);
    int rc = first_patient(&SCHEMA2,
                           "x,s,Date\n"
                           "0.1,-5,2024-01-01\n"
                           "5.,5,2024-01-02\n"
                           ".5,0,2024-01-03\n"
                           "-0.25,-0,2024-01-04\n"
                           "0.1000000000000000055511151231257827,,2024-01-05\n"
                           "123456789012345678901234567890,,2024-01-06\n"
                           "-0,,2024-01-07\n"
                           "  7  ,  -3 ,2024-01-08\n"
                           "0.0000000000000000000000001,,2024-01-09\n",
                           &p, &d);
    ok(rc == 1 && p.nrows == 9 && patient_cell(&p, 0, 2)->num == 0.1 && patient_cell(&p, 1, 2)->num == 5 &&
           patient_cell(&p, 2, 2)->num == 0.5 && patient_cell(&p, 3, 2)->num == -0.25 &&
           patient_cell(&p, 4, 2)->num == 0.1 && patient_cell(&p, 5, 2)->num == 123456789012345678901234567890.0 &&
           patient_cell(&p, 6, 2)->num == 0 && patient_cell(&p, 7, 2)->num == 7 &&
           patient_cell(&p, 8, 2)->num == 1e-25,
       "numbers: decimals, signs, long mantissas, no range");
    ok(rc == 1 && patient_cell(&p, 0, 3)->num == -5 && patient_cell(&p, 1, 3)->num == 5 &&
           patient_cell(&p, 3, 3)->num == 0 && patient_cell(&p, 7, 3)->num == -3 && !patient_known(&p, 4, 3),
       "signed scores at the range ends");
    ok(rc == 1 && strcmp(p.id, "t") == 0 && d.n == 0, "no patient column: the file's basename is the id");

    rc = first_patient(&SCHEMA, HDR "P1,2024-05-01,3,,yes,,,,\nP1,2024-05-02,3,,No,,,,\nP1,2024-05-03,3,,y,,,,\n"
                                    "P1,2024-05-04,3,,N,,,,\nP1,2024-05-05,3,,True,,,,\nP1,2024-05-06,3,,FALSE,,,,\n"
                                    "P1,2024-05-07,3,,1,,,,\nP1,2024-05-08,3,,0,,,,\nP1,2024-05-09,3,,YES,,,,\n",
                       &p, &d);
    int bools = rc == 1 && p.nrows == 9;
    for (size_t i = 0; bools && i < 9; i++)
        bools = patient_cell(&p, i, C_SWELL)->i == (i % 2 == 0);
    ok(bools, "booleans in every spelling");
    patient_free(&p);
    diag_free(&d);

    expect(&SCHEMA2, "s\n6\n", "OPENFAIL", "1: missing required column 'Date'\n",
           "the date column is required even when marked optional");
    expect(&SCHEMA2, "Date,s\n2024-01-01,99999999999999999999999\n", "BAD(t) END",
           "2: column 's': '99999999999999999999999' is out of range: expected a score from -5 to 5\n",
           "a huge score is out of range, not an overflow");
}

/* ---- patients ------------------------------------------------------------------ */

static void test_patients(void)
{
    expect(&SCHEMA, HDR "P1,2024-05-01,3,,,,,,\nP2,2024-05-01,3,,,,,,\nP1,2024-05-02,3,,,,,,\nP1,2024-05-03,3,,,,,,\nP3,2024-05-01,3,,,,,,\n",
           "P1:1 P2:1 BAD(P1) P3:1 END",
           "4: rows for patient 'P1' are not together: it already appeared at line 2\n",
           "a patient whose rows are split");
    expect(&SCHEMA, HDR "P1,2024-05-01,3,,,,,,\n,2024-05-02,3,,,,,,\nP2,2024-05-01,3,,,,,,\n",
           "BAD(P1) P2:1 END", "3: column 'patient_id' is required but empty\n",
           "an empty patient id is an error of the patient being read");
    expect(&SCHEMA, HDR ",2024-05-02,3,,,,,,\nP2,2024-05-01,3,,,,,,\n", "BAD() P2:1 END",
           "2: column 'patient_id' is required but empty\n", "an empty patient id on the first row");
    expect(&SCHEMA, HDR "P1,2024-05-03,3,,,,,,\nP1,2024-05-01,3,,,,,,\nP1,2024-05-02,3,,,,,,\nP2,2024-05-01,3,,,,,,\n",
           "BAD(P1) P2:1 END",
           "3: date 2024-05-01 comes before the previous row's 2024-05-03: rows must be in date order\n",
           "dates out of order");
    expect(&SCHEMA, HDR "P1,2024-05-01,3,,,midportion,,,\nP1,2024-05-02,3,,,insertional,,,\n"
                        "P1,2024-05-03,3,,,,,,\nP1,2024-05-04,3,,,MIDPORTION,,,\n",
           "BAD(P1) END",
           "3: column 'presentation' must be the same on every row of patient 'P1': 'insertional' here, 'midportion' at line 2\n"
           "4: column 'presentation' must be the same on every row of patient 'P1': empty here, 'midportion' at line 2\n",
           "per-patient column must not change");

    char csv[8192] = HDR;
    for (int i = 0; i < 15; i++)
        snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "P1,2024-05-%02d,11,,,,,,\n", i + 1);
    strcat(csv, "P2,2024-05-01,3,,,,,,\n");
    result res;
    run_csv(&SCHEMA, csv, &res);
    ok(strcmp(res.seq, "BAD(P1) P2:1 END") == 0 && res.ndiags == 10 &&
           strstr(res.diags, "11: column 'morning_pain': '11' is out of range") &&
           !strstr(res.diags, "12: column"),
       "at most 10 errors per patient, then its rows are skipped");

    char id[400];
    memset(id, 'k', 300);
    id[300] = '\0';
    snprintf(csv, sizeof csv, HDR "P1,2024-05-01,3,,,,,,\n%s,2024-05-01,3,,,,,,\n%s,2024-05-02,3,,,,,,\nP2,2024-05-01,3,,,,,,\n",
             id, id);
    char want[512];
    snprintf(want, sizeof want,
             "3: column 'patient_id': '%.60s...' is too long: expected a patient id of at most 256 bytes\n", id);
    run_csv(&SCHEMA, csv, &res);
    ok(strcmp(res.diags, want) == 0 && strncmp(res.seq, "P1:1 BAD(kkk", 12) == 0 &&
           strstr(res.seq, ") P2:1 END") && strlen(res.seq) == strlen("P1:1 BAD() P2:1 END") + 256,
       "a patient id longer than 256 bytes");
}

/* ---- limits and bad bytes --------------------------------------------------------- */

static void test_limits(void)
{
    const char nul[] = HDR "P1,2024-05-01,3,,,,,a\0b,\nP2,2024-05-01,3,,,,,,\n";
    result res;
    run_path(&SCHEMA, write_bytes("nul.csv", nul, sizeof nul - 1), &res);
    ok(strcmp(res.seq, "BAD(P1) P2:1 END") == 0 && strcmp(res.diags, "2: NUL byte in data (column 'notes')\n") == 0,
       "NUL byte in data");

    /* An unquoted record over 1 MiB: skipped to the next line. */
    size_t big = (1u << 20) + 100000, cap = big + 4096;
    char *buf = mem_alloc(cap);
    int n = snprintf(buf, cap, HDR "P1,2024-05-01,3,,,,,,\nP2,2024-05-01,3,,,,,");
    memset(buf + n, 'z', big);
    n += (int)big;
    n += snprintf(buf + n, cap - (size_t)n, ",\nP3,2024-05-01,3,,,,,,\nP3,2024-05-01,3,,,,,,\n");
    run_path(&SCHEMA, write_bytes("long.csv", buf, (size_t)n), &res);
    ok(strcmp(res.seq, "P1:1 BAD(P2) BAD(P3) END") == 0 &&
           strcmp(res.diags, "3: row is longer than 1048576 bytes: skipped\n"
                             "5: duplicate date 2024-05-01 (also at line 4)\n") == 0,
       "a record over 1 MiB is skipped, keeping its patient id and line count");

    /* An unterminated quote that runs past 1 MiB to the end of the file:
     * the file is abandoned. */
    n = snprintf(buf, cap, HDR "P1,2024-05-01,3,,,,,,\nP2,2024-05-01,3,,,,,\"");
    for (size_t i = 0; i < big; i++)
        buf[n + (int)i] = i % 50 == 49 ? '\n' : 'q';
    n += (int)big;
    run_path(&SCHEMA, write_bytes("long.csv", buf, (size_t)n), &res);
    ok(strcmp(res.seq, "FATAL END") == 0 &&
           strcmp(res.diags, "3: quoted value starting here has no closing '\"' before the end of the file "
                             "(is a quote missing?); the rows after it cannot be read\n") == 0,
       "an unterminated quote over 1 MiB is fatal (the patient being read is dropped)");

    /* A closed quoted value over 1 MiB, with line breaks and "" inside and a
     * quoted field after it: the row is skipped, the line count stays right
     * and the next patient is read (as batch's block reader does). */
    n = snprintf(buf, cap, HDR "P1,2024-05-01,3,,,,,,\nP2,2024-05-01,3,,,,,\"");
    for (size_t i = 0; i < big; i++)
        buf[n + (int)i] = i % 50 == 49 ? '\n' : i % 50 == 20 || i % 50 == 21 ? '"' : 'q';
    n += (int)big;
    n += snprintf(buf + n, cap - (size_t)n, "\",\"a,\"\"b\"\nP3,2024-05-01,3,,,,,,\nP3,2024-05-01,3,,,,,,\n");
    run_path(&SCHEMA, write_bytes("long.csv", buf, (size_t)n), &res);
    char want[160];
    snprintf(want, sizeof want, "3: row is longer than 1048576 bytes: skipped\n%zu: duplicate date 2024-05-01 (also at line %zu)\n",
             (size_t)4 + big / 50 + 1, (size_t)3 + big / 50 + 1);
    ok(strcmp(res.seq, "P1:1 BAD(P2) BAD(P3) END") == 0 && strcmp(res.diags, want) == 0,
       "a quoted value over 1 MiB is skipped to the end of its record; line numbers stay right");

    /* A record just under the limit grows the buffer and is read whole. */
    n = snprintf(buf, cap, HDR "P1,2024-05-01,3,,,,,\"");
    memset(buf + n, 'y', 700000);
    n += 700000;
    n += snprintf(buf + n, cap - (size_t)n, "\",\nP2,2024-05-01,3,,,,,,\n");
    diag_list d;
    diag_init(&d);
    logr *r = logr_open(&SCHEMA, write_bytes("long.csv", buf, (size_t)n), &d);
    patient p;
    patient_init(&p);
    int rc1 = r ? logr_next(r, &p, &d) : 99;
    int long_ok = rc1 == 1 && patient_cell(&p, 0, C_NOTES)->s.len == 700000 && p.text[699999] == 'y';
    int rc2 = r ? logr_next(r, &p, &d) : 99;
    ok(long_ok && rc2 == 1 && strcmp(p.id, "P2") == 0 && p.line[0] == 3 && d.n == 0,
       "a 700 kB quoted field is read whole");
    logr_close(r);
    diag_free(&d);

    /* A row with 2000 fields. */
    n = snprintf(buf, cap, HDR "P1,2024-05-01,3,,,,,,\nP2,2024-05-01");
    for (int i = 0; i < 1998; i++)
        buf[n++] = ',';
    n += snprintf(buf + n, cap - (size_t)n, "\nP3,2024-05-01,3,,,,,,\n");
    run_path(&SCHEMA, write_bytes("wide.csv", buf, (size_t)n), &res);
    ok(strcmp(res.seq, "P1:1 BAD(P2) P3:1 END") == 0 &&
           strcmp(res.diags, "3: row has 2000 fields, the header has 9\n") == 0,
       "a row with 2000 fields");
    mem_free(buf);

    /* More than 100000 rows for one patient. */
    size_t rows = 100001;
    cap = rows * 40 + 1024;
    buf = mem_alloc(cap);
    n = snprintf(buf, cap, "patient_id,date,morning_pain\n");
    char date[11];
    for (size_t i = 0; i < rows; i++) {
        date_format((int32_t)i, date);
        n += snprintf(buf + n, cap - (size_t)n, "P1,%s,1\n", date);
    }
    n += snprintf(buf + n, cap - (size_t)n, "P2,2024-05-01,3\n");
    run_path(&SCHEMA, write_bytes("many.csv", buf, (size_t)n), &res);
    ok(strcmp(res.seq, "BAD(P1) P2:1 END") == 0 &&
           strcmp(res.diags, "100002: patient 'P1' has more than 100000 rows\n") == 0 && res.rows == rows + 1,
       "more than 100000 rows for one patient");
    mem_free(buf);
    patient_free(&p);
}

/* ---- buffers, pipes and stdin ------------------------------------------------------ */

static void test_buffers(void)
{
    /* 20000 two-line records (~900 kB): records straddle buffer refills. */
    enum { N = 20000 };
    size_t cap = (size_t)N * 64 + 256;
    char *buf = mem_alloc(cap);
    int n = snprintf(buf, cap, HDR);
    for (int i = 0; i < N; i++)
        n += snprintf(buf + n, cap - (size_t)n, "P%05d,2024-05-01,%d,,,,,\"a\nb \"\"c\"\", d\",\r\n", i, i % 11);
    diag_list d;
    diag_init(&d);
    logr *r = logr_open(&SCHEMA, write_bytes("many.csv", buf, (size_t)n), &d);
    patient p;
    patient_init(&p);
    int good = r != NULL, count = 0, rc;
    char want[16], text[64];
    while (r && (rc = logr_next(r, &p, &d)) != 0) {
        snprintf(want, sizeof want, "P%05d", count);
        if (good && (rc != 1 || strcmp(p.id, want) != 0 || p.nrows != 1 || p.line[0] != 2 + 2 * (unsigned long)count ||
                     patient_cell(&p, 0, C_MORNING)->num != count % 11 ||
                     strcmp(text_of(&p, 0, C_NOTES, text, sizeof text), "a\nb \"c\", d") != 0)) {
            printf("#   patient %d wrong (rc %d, id %s, line %lu)\n", count, rc, p.id, p.line[0]);
            good = 0;
        }
        count++;
    }
    ok(good && count == N && d.n == 0 && logr_rows(r) == N, "20000 multi-line CRLF records across buffer refills");
    logr_close(r);
    patient_free(&p);
    diag_free(&d);
    mem_free(buf);

    /* Standard input fed through a pipe one byte at a time. */
    const char *csv = "\xEF\xBB\xBF" HDR "P1,2024-05-01,3,,,,,\"x\"\"\",\r\n\r\nP1,2024-05-02,3,,,,,\"\"\"\",\nP2,2024-05-01,\"1\"\n"
                      "P3,2024-05-01,3,,,,,\"\",\"\"";
    int fds[2], saved = dup(0);
    if (pipe(fds) != 0 || saved < 0) {
        ok(0, "pipe");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        for (const char *c = csv; *c; c++) {
            if (write(fds[1], c, 1) != 1)
                _exit(1);
            nanosleep(&(struct timespec){ 0, 200000 }, NULL);
        }
        _exit(0);
    }
    close(fds[1]);
    dup2(fds[0], 0);
    close(fds[0]);
    diag_init(&d);
    patient_init(&p);
    r = logr_open(&SCHEMA, "-", &d);
    int rc1 = r ? logr_next(r, &p, &d) : 99;
    int p1 = rc1 == 1 && p.nrows == 2 && strcmp(text_of(&p, 0, C_NOTES, text, sizeof text), "x\"") == 0 &&
             strcmp(text_of(&p, 1, C_NOTES, text, sizeof text), "\"") == 0 && p.line[1] == 4 &&
             strcmp(p.path, "-") == 0;
    int rc2 = r ? logr_next(r, &p, &d) : 99;
    int rc3 = r ? logr_next(r, &p, &d) : 99;
    int rc4 = r ? logr_next(r, &p, &d) : 99;
    ok(p1 && rc2 == -1 && rc3 == 1 && strcmp(p.id, "P3") == 0 && rc4 == 0 && d.n == 1 &&
           strcmp(d.items[0].path, "<stdin>") == 0 && d.items[0].line == 5 &&
           strcmp(d.items[0].msg, "row has 3 fields, the header has 9") == 0,
       "standard input through a pipe, one byte at a time");
    logr_close(r);
    patient_free(&p);
    diag_free(&d);
    waitpid(pid, NULL, 0);
    dup2(saved, 0);
    close(saved);

    /* Without a patient column, "-" is the patient "stdin". */
    const char *path = write_file("p17.csv", "Date,x\n2024-01-01,1\n");
    saved = dup(0);
    FILE *f = fopen(path, "rb");
    dup2(fileno(f), 0);
    fclose(f);
    diag_init(&d);
    patient_init(&p);
    r = logr_open(&SCHEMA2, "-", &d);
    rc = r ? logr_next(r, &p, &d) : 99;
    ok(rc == 1 && strcmp(p.id, "stdin") == 0 && p.nrows == 1, "no patient column on stdin: id 'stdin'");
    logr_close(r);
    dup2(saved, 0);
    close(saved);
    char dotted[256];
    snprintf(dotted, sizeof dotted, "%s", path);
    r = logr_open(&SCHEMA2, dotted, &d);
    rc = r ? logr_next(r, &p, &d) : 99;
    ok(rc == 1 && strcmp(p.id, "p17") == 0 && logr_next(r, &p, &d) == 0, "no patient column: id from 'dir/p17.csv'");
    logr_close(r);
    patient_free(&p);
    diag_free(&d);
}

/* Two readers used in turn share nothing. */
static void test_two_readers(void)
{
    char a[128], b[128];
    snprintf(a, sizeof a, "%s", write_file("a.csv", HDR "A1,2024-05-01,1,,,,,,\nA2,2024-05-01,2,,,,,,\nA3,2024-05-01,3,,,,,,\n"));
    snprintf(b, sizeof b, "%s", write_file("b.csv", "date,patient_id,morning_pain\n2024-05-01,B1,4\n2024-05-02,B1,5\n2024-05-01,B2,6\n"));
    diag_list d;
    diag_init(&d);
    logr *ra = logr_open(&SCHEMA, a, &d), *rb = logr_open(&SCHEMA, b, &d);
    patient pa, pb;
    patient_init(&pa);
    patient_init(&pb);
    char got[256] = "";
    for (int i = 0; i < 4 && ra && rb; i++) {
        int x = logr_next(ra, &pa, &d), y = logr_next(rb, &pb, &d);
        append(got, sizeof got, "%d:%s:%g %d:%s:%g ", x, x == 1 ? pa.id : "-",
               x == 1 ? patient_cell(&pa, pa.nrows - 1, C_MORNING)->num : 0, y, y == 1 ? pb.id : "-",
               y == 1 ? patient_cell(&pb, pb.nrows - 1, C_MORNING)->num : 0);
    }
    ok(strcmp(got, "1:A1:1 1:B1:5 1:A2:2 1:B2:6 1:A3:3 0:-:0 0:-:0 0:-:0 ") == 0 && d.n == 0,
       "two readers interleaved");
    if (strcmp(got, "1:A1:1 1:B1:5 1:A2:2 1:B2:6 1:A3:3 0:-:0 0:-:0 0:-:0 ") != 0)
        printf("#   got %s\n", got);
    logr_close(ra);
    logr_close(rb);
    patient_free(&pa);
    patient_free(&pb);
    diag_free(&d);
}

/* ---- allocation failures -------------------------------------------------------- */

static void test_oom(void)
{
    const char *csv = HDR
        "P1,2024-05-01,3,4,yes,midportion,70.5,\"hello, world\",isometric\n"
        "P1,2024-05-02,2,,no,midportion,,,isotonic\n"
        "P2,2024-05-01,5,1,Y,insertional,80,x,energy\n"
        "P2,2024-05-01,5,1,Y,insertional,80,x,energy\n"
        "P3,2024-05-01,11,,,,,\"a\nb\",\n"
        "P1,2024-05-03,2,,no,midportion,,,isotonic\n"
        "P4,2024-05-01,5,1,Y,insertional,80,x,energy\n";
    const char *path = write_file("oom.csv", csv);
    result base;
    run_path(&SCHEMA, path, &base);
    int sane = 1;
    unsigned long k;
    for (k = 1; k < 10000; k++) {
        result res;
        mem_fail_at(k);
        run_path(&SCHEMA, path, &res);
        int failed = mem_count() >= k;
        mem_fail_at(0);
        if (!failed)
            break;
        /* A failed allocation must show: an open failure, a fatal error, or
         * a diagnostic that could not be recorded.  Otherwise the result is
         * the same as without failures. */
        int same = strcmp(res.seq, base.seq) == 0 && strcmp(res.diags, base.diags) == 0;
        int reported = strstr(res.seq, "OPENFAIL") || strstr(res.seq, "FATAL") || res.oom;
        if (!same && !reported) {
            printf("#   allocation %lu: seq %s\n", k, res.seq);
            sane = 0;
        }
    }
    ok(sane && k > 5, "every allocation failure (%lu of them) is handled and reported", k - 1);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_dates();
    test_basic();
    test_header();
    test_rfc4180();
    test_values();
    test_patients();
    test_limits();
    test_buffers();
    test_two_readers();
    test_oom();
    cleanup();
    printf("1..%d\n", ntests);
    return failures ? 1 : 0;
}
