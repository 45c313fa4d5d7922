/* test_batch_limits.c — a patient larger than batch's limit, and a record
 * longer than it.
 *
 * batch's memory grows with the largest patient, up to a limit (256 MiB,
 * tendo_batch_opts.patient_max): a larger patient is cut at the limit, so its first part reaches the evaluator with only some of its
 * rows.  That decision must never be written: the patient is reported
 * once and skipped, and the patients after it are still evaluated.  A
 * window that ends in the next patient's first record, even before its id,
 * must not be taken for a patient larger than the limit; a single record
 * longer than the limit ends its file with a message that says so.
 * Small limits stand in for 256 MiB; one case uses whole MiB to check how
 * the limit is named.  Every case runs with one, two and three threads,
 * which must write the same bytes.  Prints TAP-style "ok N - ..." lines;
 * runs from the repository root (tests/run.py does). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "tendo.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int n_checks, n_failed;

static void check(int ok, const char *what)
{
    printf("%s %d - %s\n", ok ? "ok" : "not ok", ++n_checks, what);
    n_failed += !ok;
}

/* ---- logs ------------------------------------------------------------------ */

static const char HEADER[] = "patient_id,date,presentation,goal,cortisone_date,stage,morning_pain,"
                             "morning_stiffness,pain_during,load_kg,swelling,limping,slhr_reps,slhr_pain,"
                             "hop_pain,visa_a,notes\n";

typedef struct {
    const char *id;
    int rows;
    size_t note;      /* bytes of a quoted note on every row, 0 for none */
    int multiline;    /* the note holds line breaks */
} pat;

/* Day d (0 = 2024-01-01) as YYYY-MM-DD; d is at most a few thousand. */
static void date_of(int d, char out[40])
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y = 2024, m = 0;
    for (;;) {
        int len = y % 4 == 0 ? 366 : 365;
        if (d < len)
            break;
        d -= len;
        y++;
    }
    for (;; m++) {
        int len = mdays[m] + (m == 1 && y % 4 == 0);
        if (d < len)
            break;
        d -= len;
    }
    snprintf(out, 40, "%04d-%02d-%02d", y, m + 1, d + 1);
}

static void put_note(FILE *f, const pat *p)
{
    if (!p->note)
        return;
    fputc('"', f);
    for (size_t i = 0; i < p->note; i++)
        fputc(p->multiline && i % 40 == 39 ? '\n' : "tendon felt warm after walking"[i % 30], f);
    fputc('"', f);
}

/* Writes the patients in order; line_of[i] gets patient i's first line. */
static void write_log(const char *path, const pat *ps, size_t n, unsigned long *line_of)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(HEADER, f);
    unsigned long line = 2;
    for (size_t i = 0; i < n; i++) {
        line_of[i] = line;
        for (int r = 0; r < ps[i].rows; r++) {
            char d[40];
            date_of(r, d);
            fprintf(f, "%s,%s,midportion,running,,isometric,4,4,2,0,no,no,,,,,", ps[i].id, d);
            put_note(f, &ps[i]);
            fputc('\n', f);
            line += 1 + (ps[i].multiline ? ps[i].note / 40 : 0);
        }
    }
    fclose(f);
}

/* ---- running batch ---------------------------------------------------------- */

typedef struct {
    char *out, *err;
    size_t out_len, err_len;
    tendo_batch_stats st;
    int add_rc;
} run_result;

static void run(const tendo_program *prog, const char *path, int jobs, size_t block, size_t limit, run_result *r)
{
    memset(r, 0, sizeof *r);
    FILE *out = open_memstream(&r->out, &r->out_len);
    FILE *err = open_memstream(&r->err, &r->err_len);
    tendo_batch_opts o = { .jobs = jobs, .format = TENDO_BATCH_CSV, .block_size = block, .patient_max = limit };
    tendo_batch *b = out && err ? tendo_batch_new(prog, &o, out, err) : NULL;
    if (!b) {
        fprintf(stderr, "test_batch_limits: cannot start a batch\n");
        exit(2);
    }
    r->add_rc = tendo_batch_add(b, path);
    tendo_batch_finish(b, &r->st);
    tendo_batch_free(b);
    fclose(out);
    fclose(err);
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

/* Whether the CSV output has a record for patient id. */
static int has_patient(const char *csv, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = csv; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, id, n) == 0 && p[n] == ',')
            return 1;
    return 0;
}

static int count_of(const char *hay, const char *needle)
{
    int c = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        c++;
    return c;
}

/* ---- cases ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    pat ps[4];
    size_t n;
    size_t block, limit;
    int skipped;              /* index of the patient reported as too large, -1 for none */
    int record_at;            /* index of the patient whose first record is too long, -1 for none */
    const char *limit_text;   /* how the message names the limit */
} limit_case;

static void check_case(const tendo_program *prog, const limit_case *c)
{
    char path[96], what[512];
    unsigned long line_of[4];
    snprintf(path, sizeof path, "/tmp/test_batch_limits.%ld.csv", (long)getpid());
    write_log(path, c->ps, c->n, line_of);
    run_result one;
    run(prog, path, 1, c->block, c->limit, &one);

    int ok = 1;
    for (size_t i = 0; i < c->n; i++) {
        int expect = (int)i != c->skipped && (c->record_at < 0 || (int)i < c->record_at);
        if (has_patient(one.out, c->ps[i].id) != expect) {
            ok = 0;
            printf("# patient %s %s\n", c->ps[i].id, expect ? "missing" : "written");
        }
    }
    snprintf(what, sizeof what, "%s: the right patients are written", c->name);
    check(ok, what);

    char msg[256];
    if (c->skipped >= 0) {
        snprintf(msg, sizeof msg, "%s:%lu: error: patient '%s' is larger than the batch limit of %s: skipped\n", path,
                 line_of[c->skipped], c->ps[c->skipped].id, c->limit_text);
        snprintf(what, sizeof what, "%s: the large patient is reported once, at its first line", c->name);
        check(count_of(one.err, msg) == 1 && one.st.skipped == 1, what);
    }
    if (c->record_at >= 0) {
        snprintf(msg, sizeof msg,
                 "%s:%lu: error: a record longer than the batch limit of %s: the rest of the file was not read\n",
                 path, line_of[c->record_at], c->limit_text);
        snprintf(what, sizeof what, "%s: the long record ends the file, named at its line", c->name);
        check(count_of(one.err, msg) == 1 && one.add_rc == -1 && one.st.files_failed == 1, what);
    }
    snprintf(what, sizeof what, "%s: no other message", c->name);
    check(count_of(one.err, "error") == (c->skipped >= 0) + (c->record_at >= 0), what);
    if (count_of(one.err, "error") != (c->skipped >= 0) + (c->record_at >= 0))
        printf("# %s", one.err);

    for (int jobs = 2; jobs <= 3; jobs++) {
        run_result many;
        run(prog, path, jobs, c->block, c->limit, &many);
        snprintf(what, sizeof what, "%s: --jobs %d writes the same records and messages", c->name, jobs);
        check(many.out_len == one.out_len && memcmp(many.out, one.out, one.out_len) == 0 &&
                  many.err_len == one.err_len && memcmp(many.err, one.err, one.err_len) == 0,
              what);
        run_free(&many);
    }

    /* Without the limit every patient is there: the limit is what skipped one. */
    if (c->skipped >= 0) {
        run_result all;
        run(prog, path, 1, c->block, 0, &all);
        snprintf(what, sizeof what, "%s: with the default limit the large patient is written", c->name);
        check(has_patient(all.out, c->ps[c->skipped].id) && all.st.skipped == 0, what);
        run_free(&all);
    }
    run_free(&one);
    unlink(path);
}

/* Without a patient column a file is one patient, named after the file,
 * and never cut but at the limit: there too the cut must fall after a
 * whole record, not at a line break inside a quoted note. */
static void check_no_patient_column(void)
{
    tendo_diags *d;
    tendo_program *prog = unit_rules("tests/unit/no_patient.rules", &d);
    check(prog != NULL, "tests/unit/no_patient.rules loads");
    if (!prog)
        return;
    char name[64], path[128], msg[512];
    snprintf(name, sizeof name, "test_batch_limits_np.%ld", (long)getpid());
    snprintf(path, sizeof path, "/tmp/%s.csv", name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    /* 100 rows of 52 bytes: the last line break before the limit (4096
     * bytes after the header) lies inside a quoted note. */
    fputs("date,stage,pain,notes\n", f);
    for (int r = 0; r < 100; r++) {
        char day[40];
        date_of(r, day);
        fprintf(f, "%s,one,3,\"one\ntwo\nthree, with a comma\nfour\"\n", day);
    }
    fclose(f);
    for (int jobs = 1; jobs <= 2; jobs++) {
        run_result r;
        run(prog, path, jobs, 256, 4096, &r);
        snprintf(msg, sizeof msg, "%s:2: error: patient '%s' is larger than the batch limit of 4096 bytes: skipped\n",
                 path, name);
        char what[160];
        snprintf(what, sizeof what, "no patient column, --jobs %d: the file's patient is reported once, and nothing "
                 "else", jobs);
        check(count_of(r.err, msg) == 1 && count_of(r.err, "error") == 1 && !has_patient(r.out, name), what);
        if (count_of(r.err, "error") != 1)
            printf("# %s", r.err);
        run_free(&r);
    }
    unlink(path);
    tendo_program_free(prog);
    tendo_diags_free(d);
}

int main(void)
{
    tendo_diags *d;
    tendo_program *p = unit_rules("rules/achilles.rules", &d);
    if (!p)
        return 1;
    /* Rows are about 60 bytes without a note. */
    limit_case cases[] = {
        { "larger patient between two others", { { "A", 5, 0, 0 }, { "B", 120, 0, 0 }, { "C", 5, 0, 0 } }, 3,
          256, 4096, 1, -1, "4096 bytes" },
        { "larger patient at the end", { { "A", 5, 0, 0 }, { "B", 120, 0, 0 } }, 2, 256, 4096, 1, -1,
          "4096 bytes" },
        { "larger patient first, many limits long", { { "B", 400, 0, 0 }, { "C", 5, 0, 0 } }, 2, 256, 4096, 0,
          -1, "4096 bytes" },
        { "larger patient with line breaks in quoted notes",
          { { "A", 3, 0, 0 }, { "B", 40, 200, 1 }, { "C", 3, 200, 1 } }, 3, 256, 4096, 1, -1, "4096 bytes" },
        { "patient just under the limit", { { "A", 5, 0, 0 }, { "B", 50, 0, 0 }, { "C", 5, 0, 0 } }, 3, 256,
          4096, -1, -1, "4096 bytes" },
        { "record longer than the limit", { { "A", 5, 0, 0 }, { "B", 1, 5000, 0 }, { "C", 5, 0, 0 } }, 3, 256,
          4096, -1, 1, "4096 bytes" },
        { "limit in whole MiB", { { "A", 5, 0, 0 }, { "B", 2500, 1000, 0 }, { "C", 5, 0, 0 } }, 3, 0, 2u << 20,
          1, -1, "2 MiB" },
        { "patient just under the limit, the window ending in the next id",
          { { "A", 5, 0, 0 }, { "B", 0, 0, 0 }, { "C", 5, 0, 0 } }, 3, 256, 4096, -1, -1, "4096 bytes" },
    };
    size_t ncases = sizeof cases / sizeof cases[0];
    /* "Just under": B ends less than one of C's rows before the limit, so
     * that the window which reaches the limit ends inside C's first record
     * and must not be taken for B going on. */
    char d0[40];
    date_of(0, d0);
    size_t row = strlen("B,") + strlen(d0) + strlen(",midportion,running,,isometric,4,4,2,0,no,no,,,,,\n");
    cases[4].ps[1].rows = (int)(4095 / row);
    /* B of 4095 bytes exactly (rows with a short note): the window that
     * reaches the limit ends on C's first byte, before C's id is whole. */
    for (size_t k = 1; k < 400 && !cases[ncases - 1].ps[1].rows; k++) {
        if (4095 % (row + k + 2) == 0) {
            cases[ncases - 1].ps[1].note = k;
            cases[ncases - 1].ps[1].rows = (int)(4095 / (row + k + 2));
        }
    }
    for (size_t i = 0; i < ncases; i++)
        check_case(p, &cases[i]);
    check_no_patient_column();
    tendo_program_free(p);
    tendo_diags_free(d);
    printf("1..%d\n", n_checks);
    return n_failed != 0;
}
