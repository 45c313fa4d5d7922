/* cli.c — the tendo command: one client of libtendo.
 *
 *   tendo eval RULES LOG [--as-of DATE] [--format text|json|csv] [--trace]
 *   tendo check RULES...
 *   tendo batch RULES PATH... [--jobs N] [--format csv|jsonl] [-o FILE] [--as-of DATE] [--trace]
 *
 * Exit codes: 0 ok, 1 rule errors, 2 usage, 3 log data errors (eval),
 * 4 some patients or files skipped (batch), 5 output could not be written. */
#include "cli.h"
#include "mem.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: tendo eval RULES LOG [--as-of YYYY-MM-DD] [--format text|json|csv] [--trace]\n"
    "       tendo check RULES...\n"
    "       tendo batch RULES PATH... [--jobs N] [--format csv|jsonl] [-o FILE]\n"
    "                   [--as-of YYYY-MM-DD] [--trace]\n"
    "       tendo --help | --version\n";

static const char help_text[] =
    "tendo — a rule engine for progressive loading in tendinopathy.\n"
    "Decision support for clinicians: it does not replace clinical judgement.\n"
    "\n"
    "Commands:\n"
    "  eval RULES LOG    Evaluate the rules against a symptom log (CSV) and print,\n"
    "                    for each patient in it, the decision, the next\n"
    "                    prescription and why.\n"
    "      --as-of DATE  decide as of this date (rows after it are ignored);\n"
    "                    default: the patient's last log date\n"
    "      --format F    text (default, for clinicians), json (one object per\n"
    "                    line per patient, with the trace) or csv\n"
    "      --trace       text: also list every rule considered and why it lost\n"
    "  check RULES...    Check rule files; report every error with file:line:col.\n"
    "  batch RULES PATH...\n"
    "                    Evaluate whole cohorts: PATH is a CSV file (one or many\n"
    "                    patients), a directory (every *.csv under it, in sorted\n"
    "                    path order) or - for standard input.  One record per\n"
    "                    patient, in input order, whatever the number of jobs.\n"
    "      --jobs N      evaluating threads (default: the number of online CPUs)\n"
    "      --format F    csv (default) or jsonl (the eval JSON records)\n"
    "      --trace       jsonl: include the trace\n"
    "      -o FILE       write to FILE through a temporary file renamed at the\n"
    "                    end, so an interrupted run leaves no partial FILE\n"
    "      --as-of DATE  as for eval\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  a rule file has errors\n"
    "  2  the command line is wrong\n"
    "  3  a log has bad data (the other patients are still evaluated)\n"
    "  4  batch: some files or patients were skipped (each is reported)\n"
    "  5  the output could not be written\n"
    "\n"
    "Documentation: README.md, docs/language.md, man tendo (docs/tendo.1).\n";

enum fmt { FMT_TEXT, FMT_JSON, FMT_CSV };

int cli_usage(const char *msg, const char *arg)
{
    if (arg)
        fprintf(stderr, "tendo: %s '%s'\n", msg, arg);
    else
        fprintf(stderr, "tendo: %s\n", msg);
    fputs(usage_text, stderr);
    return TENDO_EXIT_USAGE;
}

static int report(tendo_diags *d)
{
    tendo_diags_print(d, stderr);
    size_t n = tendo_diags_errors(d);
    tendo_diags_clear(d);
    return n != 0;
}

static int render(const tendo_decision *dec, const tendo_program *p, enum fmt f, int trace, int first)
{
    switch (f) {
    case FMT_JSON:
        return tendo_render_json(dec, p, stdout, TENDO_RENDER_TRACE);
    case FMT_CSV:
        return tendo_render_csv(dec, p, stdout);
    case FMT_TEXT:
        if (!first)
            fputs("\n", stdout);
        return tendo_render_text(dec, p, stdout, trace ? TENDO_RENDER_TRACE : 0);
    }
    return -1;
}

/* Evaluate every patient of one log; bad patients are reported and skipped. */
static int eval_log(tendo_program *p, const char *log_path, const tendo_opts *o, enum fmt f,
                    int trace, tendo_diags *d)
{
    tendo_log *log = tendo_log_open(p, log_path, d);
    if (!log) {
        report(d);
        return TENDO_EXIT_DATA;
    }
    tendo_eval *ev = tendo_eval_new(p);
    tendo_patient *pt = tendo_patient_new();
    int rc = TENDO_EXIT_OK, first = 1, st;
    if (!ev || !pt) {
        fputs("tendo: error: out of memory\n", stderr);
        rc = TENDO_EXIT_DATA;
    }
    if (f == FMT_CSV && rc == 0)
        tendo_render_csv_header(stdout);
    while (rc != TENDO_EXIT_DATA || (ev && pt)) {
        if (!ev || !pt || (st = tendo_log_next(log, pt, d)) == 0)
            break;
        if (st < 0) {
            report(d);
            rc = TENDO_EXIT_DATA;
            if (st == -2)
                break;
            continue;
        }
        const tendo_decision *dec = tendo_decide(ev, pt, o);
        if (!dec) {
            fprintf(stderr, "%s: error: out of memory evaluating patient '%s'\n", log_path, "?");
            rc = TENDO_EXIT_DATA;
            continue;
        }
        if (render(dec, p, f, trace, first) != 0) {
            fputs("tendo: error: cannot write the output\n", stderr);
            rc = TENDO_EXIT_DATA;
            break;
        }
        first = 0;
    }
    tendo_patient_free(pt);
    tendo_eval_free(ev);
    tendo_log_close(log);
    return rc;
}

static int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        { "as-of", required_argument, NULL, 'a' },
        { "format", required_argument, NULL, 'f' },
        { "trace", no_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    tendo_opts o = { 0 };
    enum fmt f = FMT_TEXT;
    int trace = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'a') {
            if (!tendo_parse_date(optarg, &o.as_of))
                return cli_usage("--as-of needs a date YYYY-MM-DD, not", optarg);
            o.has_as_of = 1;
        } else if (c == 'f') {
            if (strcmp(optarg, "text") == 0)
                f = FMT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                f = FMT_JSON;
            else if (strcmp(optarg, "csv") == 0)
                f = FMT_CSV;
            else
                return cli_usage("--format is text, json or csv, not", optarg);
        } else if (c == 't') {
            trace = 1;
        } else {
            return cli_usage("unknown option", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return cli_usage("eval needs a rule file and a log file", NULL);
    o.trace = 1; /* the text view explains itself; JSON carries the trace */
    tendo_diags *d = tendo_diags_new();
    if (!d) {
        fputs("tendo: error: out of memory\n", stderr);
        return TENDO_EXIT_RULES;
    }
    tendo_program *p = tendo_load(argv[optind], d);
    int rc;
    if (!p) {
        report(d);
        rc = TENDO_EXIT_RULES;
    } else {
        rc = eval_log(p, argv[optind + 1], &o, f, trace, d);
    }
    if (fflush(stdout) != 0 && rc == 0) {
        fputs("tendo: error: cannot write the output\n", stderr);
        rc = TENDO_EXIT_DATA;
    }
    tendo_program_free(p);
    tendo_diags_free(d);
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("check needs at least one rule file", NULL);
    int rc = TENDO_EXIT_OK;
    tendo_diags *d = tendo_diags_new();
    if (!d) {
        fputs("tendo: error: out of memory\n", stderr);
        return TENDO_EXIT_RULES;
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return tendo_diags_free(d), cli_usage("unknown option", argv[i]);
        tendo_program *p = tendo_load(argv[i], d);
        if (!p) {
            report(d);
            rc = TENDO_EXIT_RULES;
            continue;
        }
        printf("%s: ok (protocol %s version %s)\n", argv[i], tendo_program_id(p), tendo_program_version(p));
        tendo_program_free(p);
    }
    tendo_diags_free(d);
    return rc;
}

int main(int argc, char **argv)
{
    const char *fail = getenv("TENDO_FAIL_ALLOC");
    if (fail)
        mem_fail_at(strtoul(fail, NULL, 10));
    /* jansson allocates through the project allocator too, so failure
     * injection reaches the JSON view. */
    json_set_alloc_funcs(mem_alloc, mem_free);
    if (argc < 2)
        return cli_usage("no command given", NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        fputs("\n", stdout);
        fputs(help_text, stdout);
        return TENDO_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("tendo %s\n", tendo_version());
        return TENDO_EXIT_OK;
    }
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "batch") == 0)
        return cmd_batch(argc - 1, argv + 1);
    return cli_usage("unknown command", cmd);
}
