/* fuzz_log.c — log bytes -> CSV reader -> schema validation -> evaluation
 * against a fixed protocol (rules/achilles.rules, loaded once) -> every view.
 *
 * The protocol path comes from TENDO_FUZZ_RULES, else rules/achilles.rules
 * relative to the working directory (make fuzz runs from the repository
 * root).  Each patient is decided twice (as of the last row, and as of a
 * fixed date so that rows after it are ignored); for one input in 32
 * both decisions are rendered in every view into /dev/null. */
#include <errno.h>

#include "tendo.h"
#include "fuzz_common.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static tendo_program *prog;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    prog = fuzz_load_rules("fuzz_log", "TENDO_FUZZ_RULES", "rules/achilles.rules");
    return 0;
}

/* A view that cannot render a decision is a bug; say which and why before
 * aborting, because such a failure may depend on what ran before. */
static void view_failed(const char *view, const tendo_decision *dec, FILE *out)
{
    fprintf(stderr, "fuzz_log: the %s view failed (stream error %d, errno %d); its output on stderr:\n",
            view, ferror(out), errno);
    tendo_render_json(dec, prog, stderr, TENDO_RENDER_TRACE);
    tendo_render_text(dec, prog, stderr, TENDO_RENDER_TRACE);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input("log.csv", data, size);

    FILE *out = fuzz_devnull();
    tendo_diags *d = tendo_diags_new();
    if (!d)
        abort();
    tendo_log *log = tendo_log_open(prog, path, d);
    if (!log) {
        if (tendo_diags_errors(d) == 0)
            abort();   /* refused without a message */
        tendo_diags_print(d, out);
        tendo_diags_free(d);
        return 0;
    }
    tendo_eval *ev = tendo_eval_new(prog);
    tendo_patient *pt = tendo_patient_new();
    if (!ev || !pt)
        abort();
    int32_t fixed;
    if (!tendo_parse_date("2025-03-10", &fixed))
        abort();
    int rc, patients = 0;
    int json_may_fail = FUZZ_JSON_MAY_FAIL(utf8_invalid((const char *)data, size) == size);
    /* The views for one input in 32 (chosen by content, so a crash
     * reproduces): under ASan every allocation costs about a microsecond,
     * and the JSON view allocates a node per traced value; at one in eight
     * it was still a fifth of the time.  The views' own inputs (ids, dates,
     * values, escapes) are fuzzed through the decisions of every input. */
    int all_views = fuzz_hash(data, size) % 32 == 0;
    while ((rc = tendo_log_next(log, pt, d)) != 0) {
        if (rc < 0) {
            /* A bad patient or an unusable file is always explained. */
            if (tendo_diags_errors(d) == 0)
                abort();
            tendo_diags_print(d, out);
            tendo_diags_clear(d);
            if (rc == -2)
                break;
            continue;
        }
        if (++patients > 10000)
            abort();   /* more patients than the input has bytes for */
        tendo_opts o = { .trace = 1 };
        const tendo_decision *dec = tendo_decide(ev, pt, &o);
        if (!dec)
            abort();   /* no allocation failures are injected here */
        if (all_views && tendo_render_json(dec, prog, out, TENDO_RENDER_TRACE) != 0 && !json_may_fail)
            view_failed("JSON", dec, out);
        if (all_views && tendo_render_text(dec, prog, out, TENDO_RENDER_TRACE) != 0)
            view_failed("text", dec, out);
        if (all_views && tendo_render_csv(dec, prog, out) != 0)
            view_failed("CSV", dec, out);
        tendo_opts o2 = { .as_of = fixed, .has_as_of = 1, .trace = 1 };
        dec = tendo_decide(ev, pt, &o2);
        if (!dec)
            abort();
        if (all_views && tendo_render_json(dec, prog, out, TENDO_RENDER_TRACE) != 0 && !json_may_fail)
            view_failed("JSON (as of a fixed date)", dec, out);
    }
    tendo_diags_print(d, out);
    if (ferror(out)) {
        /* /dev/null takes every byte: an error here came from a printf
         * that could not format (a width past INT_MAX, say), and it would
         * make every later view fail, far from its cause. */
        fprintf(stderr, "fuzz_log: writing diagnostics or views set the stream's error flag (errno %d)\n", errno);
        abort();
    }
    tendo_patient_free(pt);
    tendo_eval_free(ev);
    tendo_log_close(log);
    tendo_diags_free(d);
    return 0;
}
