/* fuzz_batch.c — differential: the batch reader against the whole-file reader.
 *
 * `tendo batch` cuts a log into blocks at patient boundaries with its own
 * quote-aware scan (src/batch.c), reads each block with a reader of its
 * own, and checks across blocks that a patient's rows are together.  None
 * of that runs in `tendo eval`, which reads the file in one pass.  Both
 * must write the same records for every input: a record only one of them
 * writes is a patient lost or invented at a cut.
 *
 * Each input is read both ways against rules/achilles.rules (or
 * TENDO_FUZZ_RULES), batch with a block size of 16 to 271 bytes chosen by
 * the input's hash, so that the cuts fall everywhere a 4 KiB input allows.
 * The check: byte-identical CSV records, and a skipped patient or unusable
 * file in one exactly when the other has one.  For one input in eight,
 * batch also runs with two worker threads and must write the same bytes,
 * records and messages alike.  Diagnostics are not compared between the two
 * readers: they may name a problem differently (a patient that comes back
 * is "not together" to one, a bad row to the other) and still skip the same
 * patient. */
#include "tendo.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static tendo_program *prog;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *rules = getenv("TENDO_FUZZ_RULES");
    if (!rules)
        rules = "rules/achilles.rules";
    tendo_diags *d = tendo_diags_new();
    prog = d ? tendo_load(rules, d) : NULL;
    if (!prog) {
        fprintf(stderr, "fuzz_batch: cannot load %s (run from the repository root "
                        "or set TENDO_FUZZ_RULES)\n", rules);
        if (d)
            tendo_diags_print(d, stderr);
        abort();
    }
    tendo_diags_free(d);
    return 0;
}

/* A memory stream that must open: a harness that cannot capture output
 * would compare nothing. */
typedef struct mem_out {
    char *buf;
    size_t len;
    FILE *f;
} mem_out;

static void mem_open(mem_out *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    if (!m->f)
        abort();
}

static void mem_close(mem_out *m)
{
    if (fclose(m->f) != 0)
        abort();
    m->f = NULL;
}

/* The whole-file reader: the CSV records, and whether anything was skipped. */
static int read_whole(const char *path, mem_out *out)
{
    int skipped = 0;
    tendo_diags *d = tendo_diags_new();
    if (!d || tendo_render_csv_header(out->f) != 0)
        abort();
    tendo_log *log = tendo_log_open(prog, path, d);
    if (!log) {
        tendo_diags_free(d);
        return 1;
    }
    tendo_eval *ev = tendo_eval_new(prog);
    tendo_patient *pt = tendo_patient_new();
    if (!ev || !pt)
        abort();
    int rc;
    while ((rc = tendo_log_next(log, pt, d)) != 0) {
        tendo_diags_clear(d);
        if (rc < 0) {
            skipped = 1;
            if (rc == -2)
                break;
            continue;
        }
        tendo_opts o = { 0 };
        const tendo_decision *dec = tendo_decide(ev, pt, &o);
        if (!dec || tendo_render_csv(dec, prog, out->f) != 0)
            abort();
    }
    tendo_patient_free(pt);
    tendo_eval_free(ev);
    tendo_log_close(log);
    tendo_diags_free(d);
    return skipped;
}

/* The batch reader: records in out, messages in err; 1 when anything was
 * skipped or the file was unusable. */
static int read_batch(const char *path, size_t block, int jobs, mem_out *out, mem_out *err)
{
    tendo_batch_opts o = { .jobs = jobs, .format = TENDO_BATCH_CSV, .block_size = block };
    tendo_batch *b = tendo_batch_new(prog, &o, out->f, err->f);
    if (!b)
        abort();
    tendo_batch_stats st;
    tendo_batch_add(b, path);
    if (tendo_batch_finish(b, &st) != 0)
        abort(); /* a memory stream takes every byte */
    tendo_batch_free(b);
    return st.skipped > 0 || st.files_failed > 0;
}

static void differ(const char *what, const mem_out *a, const mem_out *b)
{
    fprintf(stderr, "fuzz_batch: %s\n--- whole-file reader or --jobs 1 (%zu bytes):\n%.*s\n"
                    "--- batch (%zu bytes):\n%.*s\n",
            what, a->len, (int)(a->len < 4000 ? a->len : 4000), a->buf, b->len,
            (int)(b->len < 4000 ? b->len : 4000), b->buf);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *path;
    if (!path)
        path = fuzz_tmp_path("batch.csv");
    fuzz_write(path, data, size);
    uint32_t h = fuzz_hash(data, size);
    size_t block = 16 + h % 256;

    mem_out whole, out1, err1;
    mem_open(&whole);
    mem_open(&out1);
    mem_open(&err1);
    int skip_whole = read_whole(path, &whole);
    int skip_batch = read_batch(path, block, 1, &out1, &err1);
    mem_close(&whole);
    mem_close(&out1);
    mem_close(&err1);
    if (whole.len != out1.len || memcmp(whole.buf, out1.buf, whole.len) != 0)
        differ("the readers wrote different records", &whole, &out1);
    if (skip_whole != skip_batch) {
        fprintf(stderr, "fuzz_batch: skipped by the whole-file reader: %d, by batch: %d; batch said:\n%.*s\n",
                skip_whole, skip_batch, (int)err1.len, err1.buf);
        abort();
    }
    if ((h >> 16) % 8 == 0) {
        mem_out out2, err2;
        mem_open(&out2);
        mem_open(&err2);
        read_batch(path, block, 2, &out2, &err2);
        mem_close(&out2);
        mem_close(&err2);
        if (out2.len != out1.len || memcmp(out2.buf, out1.buf, out1.len) != 0)
            differ("--jobs 2 wrote other records than --jobs 1", &out1, &out2);
        if (err2.len != err1.len || memcmp(err2.buf, err1.buf, err1.len) != 0)
            differ("--jobs 2 wrote other messages than --jobs 1", &err1, &err2);
        free(out2.buf);
        free(err2.buf);
    }
    free(whole.buf);
    free(out1.buf);
    free(err1.buf);
    return 0;
}
