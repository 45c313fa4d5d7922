/* fuzz_notes.c — fuzzed free text against a regex-heavy protocol
 * (fuzz/notes.rules: catastrophic, lookaround, backreference, recursive,
 * Unicode and multi-line patterns).
 *
 * The input is split at NUL bytes into up to 16 notes; each becomes the
 * quoted `notes` field of one row (consecutive days), the following note
 * the row's `comment`.  The log is then read and decided, and for one
 * input in eight rendered as JSON and text.  A match that hits PCRE2's limits
 * must come back as unknown, quickly: the harness runs with a per-input
 * timeout. */
#include "tendo.h"
#include "fuzz_common.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum { MAX_NOTES = 16 };

static tendo_program *prog;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    prog = fuzz_load_rules("fuzz_notes", "TENDO_FUZZ_NOTES_RULES", "fuzz/notes.rules");
    return 0;
}

/* Appends s as a quoted CSV field. */
static void put_field(FILE *f, const uint8_t *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *path;
    if (!path)
        path = fuzz_tmp_path("notes.csv");

    const uint8_t *note[MAX_NOTES];
    size_t len[MAX_NOTES], n = 0, start = 0;
    for (size_t i = 0; i <= size && n < MAX_NOTES; i++) {
        if (i == size || data[i] == 0) {
            note[n] = data + start;
            len[n++] = i - start;
            start = i + 1;
        }
    }

    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fputs("date,stage,pain,notes,comment\n", f);
    for (size_t i = 0; i < n; i++) {
        /* Days 1..16 of March: stage two from the second half, a session
         * on two days out of three. */
        fprintf(f, "2025-03-%02zu,%s,", i + 1, i < n / 2 ? "one" : "two");
        if (i % 3 != 2)
            fprintf(f, "%zu", (len[i] + i) % 11);
        fputc(',', f);
        put_field(f, note[i], len[i]);
        fputc(',', f);
        if (i + 1 < n)
            put_field(f, note[i + 1], len[i + 1]);
        fputc('\n', f);
    }
    if (fclose(f) != 0)
        abort();

    FILE *out = fuzz_devnull();
    tendo_diags *d = tendo_diags_new();
    if (!d)
        abort();
    tendo_log *log = tendo_log_open(prog, path, d);
    if (!log)
        abort();   /* the header is always valid */
    tendo_eval *ev = tendo_eval_new(prog);
    tendo_patient *pt = tendo_patient_new();
    if (!ev || !pt)
        abort();
    int rc;
    int json_may_fail = FUZZ_JSON_MAY_FAIL(utf8_invalid((const char *)data, size) == size);
    /* The views for one input in eight (by content, so a crash reproduces):
     * the JSON view allocates a node per value, which under ASan cost more
     * than the regex matching this target is for. */
    int all_views = fuzz_hash(data, size) % 8 == 0;
    while ((rc = tendo_log_next(log, pt, d)) != 0) {
        if (rc < 0) {
            if (tendo_diags_errors(d) == 0)
                abort();
            tendo_diags_print(d, out);
            tendo_diags_clear(d);
            if (rc == -2)
                break;
            continue;
        }
        tendo_opts o = { .trace = 1 };
        const tendo_decision *dec = tendo_decide(ev, pt, &o);
        if (!dec)
            abort();
        if (all_views && ((tendo_render_json(dec, prog, out, TENDO_RENDER_TRACE) != 0 && !json_may_fail) ||
                          tendo_render_text(dec, prog, out, TENDO_RENDER_TRACE) != 0))
            abort();
    }
    tendo_patient_free(pt);
    tendo_eval_free(ev);
    tendo_log_close(log);
    tendo_diags_free(d);
    return 0;
}
