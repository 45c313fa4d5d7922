/* schema.h — the checked log schema and the per-patient table it produces.
 *
 * The checker builds a `schema` from the rule file's `log { ... }` block; the
 * log reader (csvlog.c) maps CSV headers onto it, validates every value and
 * fills one `patient` table at a time; the evaluator reads cells by column
 * index, never by name. */
#ifndef TENDO_SCHEMA_H
#define TENDO_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    COL_DATE,    /* cell.i = days since 1970-01-01 (proleptic Gregorian) */
    COL_SCORE,   /* cell.num, an integer within [lo, hi] */
    COL_NUMBER,  /* cell.num, a real within [lo, hi] when has_range */
    COL_BOOL,    /* cell.i = 0 or 1; accepts yes/no, y/n, true/false, 1/0 */
    COL_ENUM,    /* cell.i = index into values[] */
    COL_TEXT,    /* cell.s = byte range into patient.text */
    COL_STAGE    /* cell.i = index into values[] (the protocol's stages, in order) */
} col_type;

typedef enum { PRES_OPTIONAL, PRES_REQUIRED, PRES_DEFAULT } col_presence;

typedef union cell {
    double num;
    int32_t i;
    struct { uint32_t off, len; } s;
} cell;

typedef struct sch_column {
    const char *name;        /* identifier in the rules */
    const char *title;       /* CSV header it is read from (`from "..."`), or name */
    const char *label;       /* human label, may be NULL */
    const char *unit;        /* may be NULL */
    col_type type;
    int has_range;
    double lo, hi;
    col_presence presence;
    cell defval;             /* with PRES_DEFAULT; text defaults point into defval_text */
    const char *defval_text;
    int per_patient;         /* value must be identical on every row of a patient */
    const char *const *values; /* COL_ENUM / COL_STAGE names */
    size_t nvalues;
    int rest_of_row;         /* COL_TEXT, last in the header: extra fields join it */
} sch_column;

typedef struct schema {
    const sch_column *cols;
    size_t ncols;
    int date_col;            /* the column named `date` (required by the checker) */
    int patient_col;         /* the column named `patient_id`, or -1 */
    int stage_col;           /* the column of type stage, or -1 */
    int ignore_extra;        /* `ignore extra columns`: unknown headers are skipped */
} schema;

/* One patient's visible rows, row-major: cells[row * ncols + col].
 * Buffers are reused from patient to patient (patient_clear keeps capacity),
 * so batch evaluation does no per-row allocation once warmed up. */
typedef struct patient {
    char *id;                /* NUL-terminated */
    size_t id_cap;
    const char *path;        /* the log file it came from (not owned) */
    size_t nrows, ncols;
    cell *cells;
    uint8_t *known;          /* 1 when the cell holds a value, 0 when empty */
    unsigned long *line;     /* 1-based line of each row in the file (first line of a multi-line record) */
    size_t row_cap;
    char *text;              /* storage for COL_TEXT cells */
    size_t text_len, text_cap;
} patient;

void patient_init(patient *p);
void patient_clear(patient *p);  /* nrows = 0, keep buffers */
void patient_free(patient *p);

static inline const cell *patient_cell(const patient *p, size_t row, size_t col)
{
    return &p->cells[row * p->ncols + col];
}
static inline int patient_known(const patient *p, size_t row, size_t col)
{
    return p->known[row * p->ncols + col];
}

#endif
