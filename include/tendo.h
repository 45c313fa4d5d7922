/* tendo.h — public interface of libtendo, a rule engine for progressive
 * loading protocols (Achilles tendinopathy and others).
 *
 * tendo is decision support for clinicians: it never replaces their
 * judgement.
 *
 * Typical use:
 *     tendo_diags *d = tendo_diags_new();
 *     tendo_program *p = tendo_load("rules/achilles.rules", d);
 *     if (!p) { tendo_diags_print(d, stderr); ... }
 *     tendo_log *log = tendo_log_open(p, "patient.csv", d);
 *     tendo_eval *ev = tendo_eval_new(p);
 *     tendo_patient *pt = tendo_patient_new();
 *     while ((rc = tendo_log_next(log, pt, d)) != 0) {
 *         if (rc < 0) { ... bad patient reported in d; continue or stop on -2 }
 *         const tendo_decision *dec = tendo_decide(ev, pt, &opts);
 *         tendo_render_json(dec, p, out, flags);
 *     }
 *
 * Ownership: every *_new / tendo_load / tendo_log_open result is freed by the
 * matching *_free / *_close.  A decision belongs to its evaluator and is valid
 * until the next tendo_decide on that evaluator.  A program is immutable and
 * may be shared by evaluators in several threads; evaluators, logs and
 * patients are per-thread. */
#ifndef TENDO_H
#define TENDO_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TENDO_DISCLAIMER \
    "Decision support for clinicians: it does not replace clinical judgement."

/* Exit codes of the tendo command, also useful to embedders. */
enum tendo_exit {
    TENDO_EXIT_OK = 0,
    TENDO_EXIT_RULES = 1,   /* rule file errors */
    TENDO_EXIT_USAGE = 2,   /* command-line errors */
    TENDO_EXIT_DATA = 3,    /* log data errors (eval) */
    TENDO_EXIT_SKIPPED = 4, /* batch: some patients skipped */
    TENDO_EXIT_OUTPUT = 5   /* the output could not be written */
};

typedef struct diag_list tendo_diags;
typedef struct tendo_program tendo_program;
typedef struct logr tendo_log;
typedef struct patient tendo_patient;
typedef struct evaluator tendo_eval;
typedef struct decision tendo_decision;

const char *tendo_version(void);

tendo_diags *tendo_diags_new(void);
void tendo_diags_free(tendo_diags *d);
size_t tendo_diags_errors(const tendo_diags *d);
void tendo_diags_print(tendo_diags *d, FILE *out);
void tendo_diags_clear(tendo_diags *d);   /* drop records, keep rule sources */

/* Load and check a rule file and its includes.  NULL on any error (recorded
 * in d with file:line:col).  Caller frees with tendo_program_free. */
tendo_program *tendo_load(const char *path, tendo_diags *d);
void tendo_program_free(tendo_program *p);
const char *tendo_program_id(const tendo_program *p);
const char *tendo_program_version(const tendo_program *p);
const char *tendo_program_sha256(const tendo_program *p);

/* Symptom logs.  path "-" is standard input. */
tendo_log *tendo_log_open(const tendo_program *p, const char *path, tendo_diags *d);
/* 1 patient read, 0 end, -1 bad patient (reported, skipped), -2 file unusable. */
int tendo_log_next(tendo_log *l, tendo_patient *pt, tendo_diags *d);
void tendo_log_close(tendo_log *l);
unsigned long tendo_log_rows(const tendo_log *l);

tendo_patient *tendo_patient_new(void);
void tendo_patient_free(tendo_patient *pt);

typedef struct tendo_opts {
    int32_t as_of;      /* day number; 0 = the patient's last log date */
    int has_as_of;
    int trace;          /* build the full trace (needed by text and JSON views) */
} tendo_opts;

tendo_eval *tendo_eval_new(const tendo_program *p);
void tendo_eval_free(tendo_eval *ev);
/* NULL only when memory ran out (reported as such by the caller). */
const tendo_decision *tendo_decide(tendo_eval *ev, const tendo_patient *pt, const tendo_opts *o);

/* Views.  Each returns 0, or -1 on an output or memory error. */
enum { TENDO_RENDER_TRACE = 1 };
int tendo_render_text(const tendo_decision *dec, const tendo_program *p, FILE *out, int flags);
int tendo_render_json(const tendo_decision *dec, const tendo_program *p, FILE *out, int flags);
int tendo_render_csv_header(FILE *out);
int tendo_render_csv(const tendo_decision *dec, const tendo_program *p, FILE *out);

/* Batch evaluation of whole cohorts: streamed (memory bounded by the
 * largest patient), parallel, output in input order and byte-identical for
 * every number of jobs.  Bad files and bad patients are reported on `err`
 * (file:line: error: ...) and skipped; the rest are still written. */
typedef struct tendo_batch tendo_batch;
enum { TENDO_BATCH_CSV = 0, TENDO_BATCH_JSONL = 1 };
typedef struct tendo_batch_opts {
    int jobs;           /* evaluating threads: the calling thread and jobs - 1 workers */
    int format;         /* TENDO_BATCH_CSV or TENDO_BATCH_JSONL */
    int trace;          /* JSONL records carry the trace */
    tendo_opts eval;    /* as-of date */
    FILE *progress;     /* a progress line is drawn here when not NULL */
    size_t block_size;  /* bytes read per block, 0 = 256 KiB; tiny blocks put cuts
                           everywhere, which the differential fuzz target uses */
    size_t patient_max; /* bytes of one patient, 0 = 256 MiB: a larger patient, or a
                           record longer than this, is reported and skipped (a record
                           ends its file); the tests set small ones */
} tendo_batch_opts;
typedef struct tendo_batch_stats {
    unsigned long patients, skipped, rows, files, files_failed;
    unsigned long by_kind[4];   /* stop, regress, hold, advance */
    double t_start, seconds;
} tendo_batch_stats;

tendo_batch *tendo_batch_new(const tendo_program *p, const tendo_batch_opts *o, FILE *out, FILE *err);
/* One log file ("-" = standard input); 0, or -1 when the file was unusable. */
int tendo_batch_add(tendo_batch *b, const char *path);
/* Waits for every patient and writes the rest; -1 when output failed. */
int tendo_batch_finish(tendo_batch *b, tendo_batch_stats *st);
void tendo_batch_free(tendo_batch *b);

/* "YYYY-MM-DD" -> day number; 0 on a bad date. */
int tendo_parse_date(const char *s, int32_t *day);

#ifdef __cplusplus
}
#endif
#endif
