/* batch_diff.h — the differential check of fuzz_batch.c, shared with
 * tests/unit/test_batch_cuts.c, which replays the committed inputs with
 * many block sizes in `make test` (where clang and libFuzzer may be absent).
 *
 * The whole-file reader (tendo_log_next, as `tendo eval` reads) and batch
 * (cut into blocks of `block` bytes) must write byte-identical CSV records
 * for the same log, and one skips a patient or the file exactly when the
 * other does.  With `jobs2`, batch with two threads must also write the
 * same records and messages as with one.  Diagnostics are not compared
 * between the two readers: they may name a problem differently and still
 * skip the same patient. */
#ifndef TENDO_BATCH_DIFF_H
#define TENDO_BATCH_DIFF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tendo.h"

typedef struct bd_out {
    char *buf;
    size_t len;
    FILE *f;
} bd_out;

static inline int bd_open(bd_out *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    return m->f != NULL;
}

static inline int bd_close(bd_out *m)
{
    int rc = fclose(m->f);
    m->f = NULL;
    return rc == 0;
}

/* Records into out; 1 when something was skipped, -1 on a harness failure. */
static inline int bd_read_whole(const tendo_program *prog, const char *path, bd_out *out)
{
    int skipped = 0;
    tendo_diags *d = tendo_diags_new();
    if (!d || tendo_render_csv_header(out->f) != 0) {
        tendo_diags_free(d);
        return -1;
    }
    tendo_log *log = tendo_log_open(prog, path, d);
    if (!log) {
        tendo_diags_free(d);
        return 1;
    }
    tendo_eval *ev = tendo_eval_new(prog);
    tendo_patient *pt = tendo_patient_new();
    int rc;
    while (ev && pt && (rc = tendo_log_next(log, pt, d)) != 0) {
        tendo_diags_clear(d);
        if (rc < 0) {
            skipped = 1;
            if (rc == -2)
                break;
            continue;
        }
        tendo_opts o = { 0 };
        const tendo_decision *dec = tendo_decide(ev, pt, &o);
        if (!dec || tendo_render_csv(dec, prog, out->f) != 0) {
            skipped = -1;
            break;
        }
    }
    if (!ev || !pt)
        skipped = -1;
    tendo_patient_free(pt);
    tendo_eval_free(ev);
    tendo_log_close(log);
    tendo_diags_free(d);
    return skipped;
}

/* Records into out, messages into err; 1 when a patient was skipped or the
 * file unusable, -1 on a harness failure. */
static inline int bd_read_batch(const tendo_program *prog, const char *path, size_t block, int jobs,
                                bd_out *out, bd_out *err)
{
    tendo_batch_opts o = { .jobs = jobs, .format = TENDO_BATCH_CSV, .block_size = block };
    tendo_batch *b = tendo_batch_new(prog, &o, out->f, err->f);
    if (!b)
        return -1;
    tendo_batch_stats st;
    tendo_batch_add(b, path);
    int rc = tendo_batch_finish(b, &st);
    tendo_batch_free(b);
    if (rc != 0)
        return -1; /* a memory stream takes every byte */
    return st.skipped > 0 || st.files_failed > 0;
}

static inline void bd_show(FILE *why, const char *what, const bd_out *a, const bd_out *b)
{
    fprintf(why, "%s\n--- whole-file reader or --jobs 1 (%zu bytes):\n%.*s\n--- batch (%zu bytes):\n%.*s\n",
            what, a->len, (int)(a->len < 4000 ? a->len : 4000), a->buf, b->len,
            (int)(b->len < 4000 ? b->len : 4000), b->buf);
}

/* 0 when the readers agree on path; else 1, with the difference on `why`. */
static inline int bd_compare(const tendo_program *prog, const char *path, size_t block, int jobs2, FILE *why)
{
    bd_out whole, out1, err1, out2 = { 0 }, err2 = { 0 };
    if (!bd_open(&whole) || !bd_open(&out1) || !bd_open(&err1))
        abort();
    int sw = bd_read_whole(prog, path, &whole);
    int sb = bd_read_batch(prog, path, block, 1, &out1, &err1);
    if (!bd_close(&whole) || !bd_close(&out1) || !bd_close(&err1) || sw < 0 || sb < 0)
        abort(); /* out of memory in a harness that injects no failures */
    int bad = 0;
    if (whole.len != out1.len || memcmp(whole.buf, out1.buf, whole.len) != 0) {
        bd_show(why, "the readers wrote different records", &whole, &out1);
        bad = 1;
    } else if (sw != sb) {
        fprintf(why, "skipped by the whole-file reader: %d, by batch: %d; batch said:\n%.*s\n", sw, sb,
                (int)err1.len, err1.buf);
        bad = 1;
    } else if (jobs2) {
        if (!bd_open(&out2) || !bd_open(&err2))
            abort();
        int s2 = bd_read_batch(prog, path, block, 2, &out2, &err2);
        if (!bd_close(&out2) || !bd_close(&err2) || s2 < 0)
            abort();
        if (out2.len != out1.len || memcmp(out2.buf, out1.buf, out1.len) != 0) {
            bd_show(why, "--jobs 2 wrote other records than --jobs 1", &out1, &out2);
            bad = 1;
        } else if (err2.len != err1.len || memcmp(err2.buf, err1.buf, err1.len) != 0) {
            bd_show(why, "--jobs 2 wrote other messages than --jobs 1", &err1, &err2);
            bad = 1;
        }
    }
    free(whole.buf);
    free(out1.buf);
    free(err1.buf);
    free(out2.buf);
    free(err2.buf);
    return bad;
}

#endif
