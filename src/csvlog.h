/* csvlog.h — streaming reader for symptom logs in CSV (RFC 4180).
 *
 * A log is read one patient at a time: every value is validated against the
 * schema and stored in a reused `patient` table, so a large batch file is
 * never held in memory.  Errors go to the diag_list as path:line records;
 * nothing is printed.  One logr per thread: readers share no state. */
#ifndef TENDO_CSVLOG_H
#define TENDO_CSVLOG_H

#include "diag.h"
#include "schema.h"

typedef struct logr logr;

/* Readable bytes a buffer keeps after its data (see logr_set_block): the
 * reader loads up to 64 bytes from a record's start. */
enum { LOG_SLACK = 64 };

/* Bytes of a patient id; a longer id is an error, and two ids are the same
 * patient when their first LOG_MAX_ID bytes and their being longer agree
 * (batch cuts blocks by the same rule). */
enum { LOG_MAX_ID = 256 };

/* logr_next results */
enum {
    LOGR_PATIENT = 1,  /* a valid patient is in p */
    LOGR_END = 0,      /* end of file (also every call after LOGR_FATAL) */
    LOGR_BAD = -1,     /* this patient had errors (reported, skipped): call again */
    LOGR_FATAL = -2    /* the rest of the file is unusable (reported) */
};

/* path "-" reads standard input (named "<stdin>" in diagnostics).  Returns
 * NULL, with a diag naming the file, when it cannot be opened or its header
 * is unusable (missing required column, unknown column unless
 * schema->ignore_extra, duplicate column, empty file).  s and path must stay
 * valid until logr_close: patients point at path. */
logr *logr_open(const schema *s, const char *path, diag_list *d);

/* Reads the next patient into p (p->path = the path given to logr_open).
 * Returns one of the LOGR_* values above.  A bad patient gets at most 10
 * diagnostics, each naming file, line, column, value and what was expected. */
int logr_next(logr *r, patient *p, diag_list *d);

void logr_close(logr *r);               /* NULL is fine */

/* Data rows read so far (header and blank lines excluded). */
unsigned long logr_rows(const logr *r);

/* The line of the first record of the patient logr_next last returned,
 * good or bad; *id_checked says whether its id took part in the check that
 * a patient's rows are together (an empty or too long id, or one with a NUL
 * byte, does not).  Batch
 * continues that check across blocks with the same ids and lines. */
unsigned long logr_patient_start(const logr *r, int *id_checked);

/* The fast path for plain records is on by default.  Off, every record
 * takes the general path (split, then parse each field with full
 * diagnostics); the differential tests (fuzz/reader_diff.h) check that both
 * paths give the same patients, cells and messages. */
void logr_set_fast_path(logr *r, int on);

/* Block mode, for parallel batch evaluation.  After logr_open has read the
 * header, logr_take_rest hands the unread bytes (buf[0..len), a mem_alloc'd
 * buffer of cap bytes, now the caller's), the descriptor (the caller's to
 * read and close), whether it is at end of file, and the line number of the
 * next record.  0 when a patient was already started.
 * logr_open_block makes a reader that shares hdr's header mapping (hdr must
 * outlive it); logr_set_block points it at whole records in data[0..len)
 * (data[len .. len + LOG_SLACK) must be writable; bytes are split in
 * place, not freed)
 * starting at first_line.  Patients are then read with logr_next. */
int logr_take_rest(logr *r, char **buf, size_t *len, size_t *cap, int *fd, int *eof, unsigned long *line);
int logr_id_pos(const logr *r);   /* header position of the patient column, -1 */
long long logr_file_size(const logr *r); /* bytes of a regular file, as opened; -1 otherwise */
logr *logr_open_block(const logr *hdr);
void logr_set_block(logr *r, char *data, size_t len, unsigned long first_line);
/* The line just past the block's data: the lines read so far and the
 * newlines in the part not read (after an error), so the caller need not
 * count the block's lines again. */
unsigned long logr_block_end_line(const logr *r);

#endif
