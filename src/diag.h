/* diag.h — source files and diagnostic records.
 *
 * Rule files are kept in memory for the life of a program so that a
 * diagnostic can carry only a byte range; line and column are computed when
 * the record is printed.  Deep code never prints: it appends a record here
 * and the caller (the CLI, or an embedding application) decides what to do. */
#ifndef TENDO_DIAG_H
#define TENDO_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct src_file {
    char *path;            /* as given (include paths joined to the includer's dir) */
    char *text;            /* NUL-terminated bytes */
    size_t len;
    uint32_t *line_start;  /* byte offset of each line, built lazily */
    size_t nlines;
} src_file;

/* A byte range inside one source file; file == SRC_NONE for no source. */
typedef struct src_loc {
    uint32_t file;
    uint32_t start, end;
} src_loc;

enum { SRC_NONE = UINT32_MAX };

typedef enum { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } diag_severity;

typedef struct diag {
    diag_severity sev;
    src_loc loc;           /* rule-file location, or file == SRC_NONE ... */
    char *path;            /* ... with a data location: path:line (log errors) */
    unsigned long line;    /* 0 = no line */
    char *msg;
} diag;

typedef struct diag_list {
    src_file *files;
    size_t nfiles, cap_files;
    diag *items;
    size_t n, cap;
    size_t nerrors;
    int oom;               /* an allocation failed while recording */
    size_t max_errors;     /* stop recording errors after this many (0 = 100) */
} diag_list;

void diag_init(diag_list *d);
void diag_free(diag_list *d);

/* Register a source file; takes ownership of text (NUL-terminated, len bytes).
 * Returns its index, or SRC_NONE on allocation failure (text is freed). */
uint32_t diag_add_file(diag_list *d, const char *path, char *text, size_t len);

void diag_at(diag_list *d, diag_severity sev, src_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_vat(diag_list *d, diag_severity sev, src_loc loc, const char *fmt, va_list ap);
void diag_data(diag_list *d, const char *path, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_plain(diag_list *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1-based line and column (in characters) of a byte offset. */
void diag_linecol(diag_list *d, uint32_t file, uint32_t off, unsigned *line, unsigned *col);

/* Print every record: file:line:col: severity: message, source line, caret. */
void diag_print(diag_list *d, FILE *out);
void diag_print_one(diag_list *d, const diag *g, FILE *out);
/* Drop records from index n on (used to discard speculative diagnostics). */
void diag_truncate(diag_list *d, size_t n);

/* Edit distance with a cap, for "did you mean" suggestions. */
size_t diag_distance(const char *a, const char *b, size_t cap);

#endif
