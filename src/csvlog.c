/* csvlog.c — streaming symptom-log reader: RFC 4180 records are found and
 * split in place inside one large read buffer, every value is validated
 * against the schema, and consecutive rows are grouped into patients.
 *
 * find_record() locates the next record, tracking quote parity so a quoted
 * field may hold newlines; split_*() cut it into fields without copying;
 * logr_next() assigns the row to a patient and stores its cells in the
 * reused patient arrays.  A row that starts the next patient stays in the
 * buffer ("pending") until the following call, which is why the buffer is
 * only compacted when the next record is fetched. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "csvlog.h"
#include "date.h"
#include "idseen.h"
#include "mem.h"
#include "utf8.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    LOG_MAX_RECORD = 1 << 20,    /* bytes in one record */
    LOG_MAX_COLUMNS = 1024,      /* fields in a record */
    LOG_MAX_ROWS = 100000,       /* rows of one patient */
    LOG_MAX_PATIENT_ERRORS = 10, /* diagnostics for one bad patient */
    LOG_BUF_INIT = 256 * 1024,   /* read buffer; doubles while a record does not fit */
    /* LOG_SLACK (csvlog.h): bytes kept readable past the data, so the fast
     * path and the echo can load 16 and 64 bytes at a time without a
     * bounds test. */
    LOG_SHOW = 60,               /* bytes of a value quoted in a message */
    SHOW_BUF = LOG_SHOW * 2 + 4, /* every byte may be escaped, then "..." */
    LOG_MSG = 1024
};

/* The echo (echo_run) reads records whose fields before the last lie in
 * their first ECHO_BYTES bytes. */
enum { ECHO_BYTES = 64 };

typedef struct field {
    char *p;
    size_t n;
} field;

/* Something wrong with a record as a whole, found before its patient is
 * known; reported when the row is assigned to one. */
typedef enum { REC_OK, REC_TOO_LONG, REC_NUL, REC_UNTERMINATED, REC_JUNK } rec_problem;

typedef enum { END_NONE, END_NL, END_EOF, END_UNTERM, END_LONG, END_FATAL } rec_end;

typedef struct fast_col {
    unsigned char kind;     /* FK_* */
    unsigned char open;     /* open_field: its parser could take a separator */
    unsigned char pp;       /* a per-patient column */
    unsigned char ranged;
    unsigned char empty;    /* FE_*: what an empty field means */
    int col;                /* schema column, -1 when skipped */
    double lo, hi;
    int64_t ilo, ihi;       /* the range for whole numbers: ceil(lo), floor(hi) */
    /* One byte wide, a number or yes/no is read as fast_value reads it
     * when it is a digit in base .. base + span (digit 0: never). */
    unsigned char digit, base, span;
} fast_col;

/* A one-byte number or yes/no field of the echo's layout: stored from its
 * byte on every record, with one test that the byte is allowed. */
typedef struct echo_digit {
    unsigned char pos;        /* its byte */
    unsigned char base, span; /* allowed: base .. base + span (see fast_col) */
    int col;                  /* schema column */
} echo_digit;

typedef struct col_info {
    int pos;                /* header position, -1 when absent */
    int required;           /* an empty field is an error */
    const size_t *vlen;     /* lengths of values[], in logr.vlens */
    const char (*vpad)[16]; /* values[] zero-padded to 16 bytes (longer ones: empty), in logr.vpads */
} col_info;

struct logr {
    const schema *s;
    const char *path;       /* as given; patients point here */
    const char *name;       /* for diagnostics */
    int fd, close_fd;
    char *buf;              /* unread bytes are [pos, end); buf[end] is always writable */
    size_t cap, pos, end;
    int eof, done, dead, pending;
    unsigned long line;     /* line where the next record starts */
    unsigned long rows;

    /* the current record */
    field *f;               /* the first LOG_MAX_COLUMNS fields */
    size_t nf;              /* all its fields */
    unsigned long rec_line;
    int quoted_rec;         /* the record has a quoted field */
    int unsplit;            /* plain record not split yet: rec_b/rec_len (fast path) */
    int slow_only;          /* the fast path is off (logr_set_fast_path) */
    char *rec_b;
    size_t rec_len;
    rec_problem prob;
    size_t prob_field;      /* SIZE_MAX when not known */
    unsigned long prob_line;
    const char *junk;
    size_t junk_n;
    char long_id[LOG_MAX_ID + 1]; /* patient id of a record too long to split */
    size_t long_n;                /* SIZE_MAX when it has none */

    /* the header */
    size_t nhdr;
    char **htitle;          /* trimmed titles, by position */
    col_info *col;          /* by schema column */
    size_t *vlens;
    char (*vpads)[16];
    size_t *pp, npp;        /* per-patient columns present in the header */
    int id_pos;             /* header position of the patient column, or -1 */
    long long size;         /* of a regular file, from logr_open; -1 otherwise */
    int *hcol;              /* schema column of each header position, -1 when ignored */
    fast_col *fplan;        /* by header position: how the fast path reads it */
    size_t *absent, nabsent; /* schema columns the header lacks */
    char ym[8];             /* "YYYY-MM-" of the last date parsed ... */
    int32_t ym_base;        /* ... the day number of its day 0 ... */
    unsigned ym_days;       /* ... and its days (0 before the first date) */
    int rest_last;          /* the last header column takes the rest of the row */
    char *file_id;          /* the patient id when there is no patient column */

    /* the echo: the last row stored by the fast path, to read the next
     * records as changes to it (see echo_run) */
    int echo_ok;            /* echo_* describe row nrows - 1 of the patient being read */
    _Alignas(16) unsigned char echo_b[ECHO_BYTES]; /* its first bytes */
    uint64_t echo_pre;      /* the bytes before its last field */
    uint64_t echo_seps;     /* its commas and quotes inside fields among them */
    uint64_t echo_id;       /* the patient id's bytes */
    uint64_t echo_open;     /* the bytes of fields open_field names */
    uint64_t echo_pp;       /* per-patient columns' bytes ... */
    int echo_pp_last;       /* ... and whether the last field is one */
    uint64_t echo_fmask[ECHO_BYTES];      /* the bytes of each field before the last and its comma */
    unsigned char echo_start[ECHO_BYTES]; /* where each of them starts ... */
    unsigned char echo_end[ECHO_BYTES];   /* ... and ends (its comma) */
    size_t echo_last;       /* where its last field starts */
    echo_digit echo_d[ECHO_BYTES];        /* its one-byte fields (see echo_digit): numbers
                                           * from the start, yes/no from the end ... */
    unsigned char echo_other[ECHO_BYTES]; /* ... and the header positions of the others */
    unsigned char echo_nd, echo_nb, echo_nother;

    /* the patient being read */
    int started, id_long;
    size_t id_len;
    unsigned long start_line; /* of its first record */
    int id_checked;         /* its id is in the seen set (not empty, not too long) */
    unsigned perr;          /* errors found for it, reported or not */
    unsigned long prows;    /* its rows, stored or not */
    int have_prev;
    int32_t prev_day;
    unsigned long prev_line;

    /* block mode: the header and buffer belong to someone else */
    int borrowed;

    /* patients already read, to catch one whose rows are split */
    idseen seen;
};

/* ---- small helpers ----------------------------------------------------- */

static const char *col_title(const sch_column *c) { return c->title ? c->title : c->name; }

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

/* s[0..n) equals the NUL-terminated lit, ignoring ASCII case. */
static int ieq(const char *s, size_t n, const char *lit)
{
    for (size_t i = 0; i < n; i++)
        if (!lit[i] || lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
            return 0;
    return lit[n] == '\0';
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Narrows [*b, *e) of s to exclude surrounding spaces and tabs. */
static void trim_span(const char *s, size_t *b, size_t *e)
{
    while (*b < *e && is_blank(s[*b]))
        (*b)++;
    while (*e > *b && is_blank(s[*e - 1]))
        (*e)--;
}

static inline void trim_field(field *f)
{
    if (f->n && !is_blank(f->p[0]) && !is_blank(f->p[f->n - 1]))
        return; /* the usual case, kept cheap */
    size_t b = 0, e = f->n;
    trim_span(f->p, &b, &e);
    f->p += b;
    f->n = e - b;
}

static size_t count_nl(const char *s, size_t n)
{
    size_t k = 0;
    const char *e = s + n;
    while ((s = memchr(s, '\n', (size_t)(e - s))) != NULL) {
        k++;
        s++;
    }
    return k;
}

/* A value as quoted in a message: at most LOG_SHOW bytes (not splitting a
 * UTF-8 character), control bytes escaped so the message stays one line. */
static const char *show(char out[SHOW_BUF], const char *s, size_t n)
{
    size_t cut = n > LOG_SHOW ? LOG_SHOW : n;
    while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    size_t o = 0;
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f) {
            out[o++] = (char)c;
            continue;
        }
        out[o++] = '\\';
        out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : '?';
    }
    if (cut < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static const char *errstr(int e, char buf[128])
{
#ifdef _GNU_SOURCE
    return strerror_r(e, buf, 128);
#else
    if (strerror_r(e, buf, 128) != 0)
        snprintf(buf, 128, "error %d", e);
    return buf;
#endif
}

/* Records an error against the current patient; only the first
 * LOG_MAX_PATIENT_ERRORS are kept, so one broken patient cannot flood the
 * list, but all are counted so the patient is known to be bad. */
static void bad(logr *r, diag_list *d, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void bad(logr *r, diag_list *d, unsigned long line, const char *fmt, ...)
{
    if (r->perr++ >= LOG_MAX_PATIENT_ERRORS)
        return;
    char msg[LOG_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_data(d, r->name, line, "%s", msg);
}

static int fatal_oom(logr *r, diag_list *d)
{
    diag_data(d, r->name, r->rec_line, "out of memory while reading the log");
    r->dead = 1;
    return LOGR_FATAL;
}

/* The title a column goes by in this file (as its header spells it). */
static const char *ctitle(const logr *r, size_t j)
{
    int pos = r->col[j].pos;
    return pos >= 0 ? r->htitle[pos] : col_title(&r->s->cols[j]);
}

static const char *pos_title(const logr *r, size_t pos)
{
    return pos < r->nhdr ? r->htitle[pos] : "(beyond the header)";
}

/* ---- reading records ---------------------------------------------------- */

/* Moves the unread bytes to the front and reads more, doubling the buffer
 * when a record fills it.  0 on a fatal error (reported). */
static int refill(logr *r, diag_list *d)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->end -= r->pos;
        r->pos = 0;
    }
    if (r->end + LOG_SLACK >= r->cap) {
        char *nb = mem_realloc(r->buf, r->cap * 2);
        if (!nb)
            return fatal_oom(r, d), 0;
        mem_populate(nb, r->cap * 2);
        r->buf = nb;
        r->cap *= 2;
    }
    ssize_t n;
    do
        n = read(r->fd, r->buf + r->end, r->cap - LOG_SLACK - r->end);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        char eb[128];
        diag_data(d, r->name, r->line, "read error: %s", errstr(errno, eb));
        r->dead = 1;
        return 0;
    }
    if (n == 0)
        r->eof = 1;
    r->end += (size_t)n;
    memset(r->buf + r->end, 0, LOG_SLACK); /* defined bytes for the wide loads; a NUL ends scans */
    return 1;
}

/* Past the field at p (and its comma), or NULL when it is the last. */
static const char *skip_field(const char *p, const char *e)
{
    if (p < e && *p == '"') {
        for (p++;;) {
            const char *q = memchr(p, '"', (size_t)(e - p));
            if (!q)
                return NULL;
            p = q + 1;
            if (p < e && *p == '"')
                p++;
            else
                break;
        }
    }
    const char *c = memchr(p, ',', (size_t)(e - p));
    return c ? c + 1 : NULL;
}

/* The patient id of a record too long to keep, copied from its start (the id
 * column normally comes first) so the error goes to the right patient.  At
 * most LOG_MAX_ID + 1 bytes are kept: enough to tell an id is too long. */
static void long_record_id(logr *r, const char *p, const char *e)
{
    r->long_n = SIZE_MAX;
    for (int k = 0; k < r->id_pos; k++)
        if (!(p = skip_field(p, e)))
            return;
    if (r->id_pos < 0)
        return;
    size_t n = 0;
    int quoted = p < e && *p == '"';
    for (p += quoted; p < e && n <= LOG_MAX_ID; p++) {
        if (quoted && *p == '"') {
            if (p + 1 >= e || p[1] != '"')
                break;
            p++;
        } else if (!quoted && *p == ',') {
            break;
        }
        r->long_id[n++] = *p;
    }
    r->long_n = n;
}

/* A record longer than LOG_MAX_RECORD outside quotes: drop it up to the next
 * newline so the rows after it can still be read. */
static rec_end skip_long(logr *r, diag_list *d)
{
    long_record_id(r, r->buf + r->pos, r->buf + r->end);
    /* Newlines already passed were inside quoted fields of this record. */
    r->line += count_nl(r->buf + r->pos, r->end - r->pos);
    for (;;) {
        r->pos = r->end;
        if (r->eof)
            return END_LONG;
        if (!refill(r, d))
            return END_FATAL;
        char *nl = memchr(r->buf + r->pos, '\n', r->end - r->pos);
        if (nl) {
            r->pos = (size_t)(nl + 1 - r->buf);
            r->line++;
            return END_LONG;
        }
    }
}

/* A quoted value longer than LOG_MAX_RECORD: read on without keeping it, to
 * the end of its record (quotes tracked as find_record does), so the row is
 * reported and skipped and the rows after it are still read -- as batch's
 * block reader does.  Only a quote still open at the end of the file (a
 * missing quote) ends the file. */
static rec_end long_quote(logr *r, diag_list *d, size_t q_off)
{
    unsigned long qline = r->line + count_nl(r->buf + r->pos, q_off);
    long_record_id(r, r->buf + r->pos, r->buf + r->end);
    size_t i = r->pos + q_off + 1;  /* just past the opening quote */
    int in_q = 1, closing = 0;      /* closing: a quote seen inside, "" or the end? */
    char prev = '"';
    for (;;) {
        for (; i < r->end; i++) {
            char c = r->buf[i];
            if (in_q) {
                if (closing) {
                    closing = 0;
                    if (c == '"')
                        continue;   /* "" inside a quoted value */
                    in_q = 0;
                } else {
                    closing = c == '"';
                    continue;
                }
            }
            if (c == '\n') {
                r->line += count_nl(r->buf + r->pos, i + 1 - r->pos);
                r->pos = i + 1;
                return END_LONG;
            }
            if (c == '"' && prev == ',')
                in_q = 1;
            prev = c;
        }
        if (r->eof)
            break;
        /* Nothing before i is needed again: count its lines and drop it. */
        r->line += count_nl(r->buf + r->pos, i - r->pos);
        r->pos = i;
        if (!refill(r, d))
            return END_FATAL;
        i = r->pos;
    }
    r->line += count_nl(r->buf + r->pos, r->end - r->pos);
    r->pos = r->end;
    if (!in_q || closing)
        return END_LONG;           /* the last record, closed at the end of the file */
    diag_data(d, r->name, qline,
              "quoted value starting here has no closing '\"' before the end of the file "
              "(is a quote missing?); the rows after it cannot be read");
    r->dead = 1;
    return END_FATAL;
}

/* Finds the end of the record at r->pos, reading more as needed.  *len is
 * its length without the newline.  A quote opens a quoted field only at the
 * start of a field; inside one, "" is an escaped quote. */
/* The common case in one pass: the next '\n' with no '"' before it.
 * Returns its offset from b, or SIZE_MAX (a quote first, or no newline
 * in [b, e)), in which case find_record takes the general way.  Reads up
 * to LOG_SLACK bytes past e, which the buffers keep readable and zeroed. */
static size_t plain_line(const char *b, const char *e)
{
#ifdef __SSE2__
    const __m128i nl = _mm_set1_epi8('\n'), q = _mm_set1_epi8('"');
    for (const char *p = b; p < e; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned mn = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl));
        unsigned mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, q));
        if (!(mn | mq))
            continue;
        unsigned first = (unsigned)__builtin_ctz(mn | mq);
        if (!(mn & (1u << first)) || p + first >= e)
            return SIZE_MAX;
        return (size_t)(p - b) + first;
    }
    return SIZE_MAX;
#else
    (void)b;
    (void)e;
    return SIZE_MAX;
#endif
}

static rec_end find_record(logr *r, diag_list *d, size_t *len, int *quoted)
{
    size_t off = 0, nl_off = SIZE_MAX, q_off = 0;
    int in_q = 0;
    *quoted = 0;
    size_t fast = plain_line(r->buf + r->pos, r->buf + r->end);
    if (fast != SIZE_MAX) {
        *len = fast;
        return END_NL;
    }
    for (;;) {
        char *b = r->buf + r->pos, *e = r->buf + r->end, *p = b + off;
        if (!in_q) {
            /* Remember the newline so a line full of quoted fields is not
             * rescanned for it after each one. */
            if (nl_off == SIZE_MAX || nl_off < off) {
                char *nl = memchr(p, '\n', (size_t)(e - p));
                nl_off = nl ? (size_t)(nl - b) : SIZE_MAX;
            }
            char *lim = nl_off != SIZE_MAX ? b + nl_off : e;
            char *q = memchr(p, '"', (size_t)(lim - p));
            if (q) {
                if (q == b || q[-1] == ',') {
                    in_q = *quoted = 1;
                    q_off = (size_t)(q - b);
                }
                off = (size_t)(q + 1 - b);
                continue;
            }
            if (nl_off != SIZE_MAX) {
                *len = nl_off;
                return END_NL;
            }
            off = (size_t)(e - b);
        } else {
            char *q = memchr(p, '"', (size_t)(e - p));
            if (q && (q + 1 < e || r->eof)) {
                int esc = q + 1 < e && q[1] == '"';
                in_q = esc;
                off = (size_t)(q + 1 + esc - b);
                continue;
            }
            off = (size_t)((q ? q : e) - b); /* a quote at the end: need the next byte */
        }
        if (r->eof) {
            *len = off;
            return in_q ? END_UNTERM : off ? END_EOF : END_NONE;
        }
        if ((size_t)(e - b) > LOG_MAX_RECORD)
            return in_q ? long_quote(r, d, q_off) : skip_long(r, d);
        if (!refill(r, d))
            return END_FATAL;
    }
}

static void add_field(logr *r, size_t *nf, char *p, size_t n)
{
    if (*nf < LOG_MAX_COLUMNS)
        r->f[*nf] = (field){ p, n };
    (*nf)++;
}

static void problem(logr *r, rec_problem k, size_t fld, unsigned long line)
{
    if (r->prob != REC_OK)
        return;
    r->prob = k;
    r->prob_field = fld;
    r->prob_line = line;
}

/* The common case: no quoted field, so fields are the bytes between commas.
 * Fields are short, so a byte loop beats a memchr call per field; a comma
 * written over the terminator (or the spare byte) stops it without a bounds
 * test. */
static void split_plain(logr *r, char *p, char *e)
{
    size_t nf = 0;
    char keep = *e;
    *e = ',';
    for (;;) {
        char *c = p;
        while (*c != ',')
            c++;
        add_field(r, &nf, p, (size_t)(c - p));
        if (c == e)
            break;
        p = c + 1;
    }
    *e = keep;
    r->nf = nf;
}

/* Unescapes the quoted field at p (*p == '"') in place, so its value starts
 * at p; *n is its length.  Returns where its raw text ends (just past the
 * closing quote), or NULL when it is not closed before e. */
static char *unquote(char *p, char *e, size_t *n)
{
    char *w = p, *s = p + 1;
    for (;;) {
        char *q = memchr(s, '"', (size_t)(e - s));
        char *stop = q ? q : e;
        memmove(w, s, (size_t)(stop - s));
        w += stop - s;
        if (q && q + 1 < e && q[1] == '"') {
            *w++ = '"';
            s = q + 2;
            continue;
        }
        *n = (size_t)(w - p);
        return q ? q + 1 : NULL;
    }
}

static void split_quoted(logr *r, char *p, char *e)
{
    size_t nf = 0;
    unsigned long line = r->rec_line;
    for (;;) {
        char *next;
        if (p < e && *p == '"') {
            size_t n;
            unsigned long qline = line;
            char *after = unquote(p, e, &n);
            add_field(r, &nf, p, n);
            line += count_nl(p, n);
            if (!after) {
                problem(r, REC_UNTERMINATED, nf - 1, qline);
                break;
            }
            next = after;
            if (after < e && *after != ',') {
                char *c = memchr(after, ',', (size_t)(e - after));
                next = c ? c : e;
                if (r->prob == REC_OK) {
                    r->junk = after;
                    r->junk_n = (size_t)(next - after);
                }
                problem(r, REC_JUNK, nf - 1, line);
            }
        } else {
            char *c = memchr(p, ',', (size_t)(e - p));
            next = c ? c : e;
            add_field(r, &nf, p, (size_t)(next - p));
        }
        if (next >= e)
            break;
        p = next + 1;
    }
    r->nf = nf;
}

static size_t nul_field(const logr *r)
{
    size_t n = r->nf < LOG_MAX_COLUMNS ? r->nf : LOG_MAX_COLUMNS;
    for (size_t i = 0; i < n; i++)
        if (memchr(r->f[i].p, '\0', r->f[i].n))
            return i;
    return SIZE_MAX;
}

static void split_record(logr *r, char *b, size_t len);
static void fast_plan(logr *r);

/* Reads and splits the next non-blank record: 1, 0 at end of file, -2 on a
 * fatal error (reported).  Problems with the record are left in r->prob. */
static int read_record(logr *r, diag_list *d)
{
    for (;;) {
        size_t len;
        int quoted;
        r->rec_line = r->line;
        r->prob = REC_OK;
        r->nf = 0;
        r->unsplit = 0;
        rec_end k = find_record(r, d, &len, &quoted);
        if (k == END_FATAL)
            return -2;
        if (k == END_NONE)
            return 0;
        if (k == END_LONG) {
            r->prob = REC_TOO_LONG;
            return 1;
        }
        char *b = r->buf + r->pos;
        r->pos += len + (k == END_NL);
        r->line += (quoted ? count_nl(b, len) : 0) + (k == END_NL);
        if (len > LOG_MAX_RECORD) {
            long_record_id(r, b, b + len);
            r->prob = REC_TOO_LONG;
            return 1;
        }
        if (k != END_UNTERM && len > 0 && b[len - 1] == '\r')
            len--;
        if (len == 0)
            continue;
        r->quoted_rec = quoted;
        if (!quoted && r->hcol && !r->slow_only) {
            /* Split only if the fast path declines it (see fast_take). */
            r->unsplit = 1;
            r->rec_b = b;
            r->rec_len = len;
            return 1;
        }
        split_record(r, b, len);
        return 1;
    }
}

/* The general path: fields in r->f, problems in r->prob. */
static void split_record(logr *r, char *b, size_t len)
{
    int has_nul = memchr(b, '\0', len) != NULL;
    if (r->quoted_rec)
        split_quoted(r, b, b + len);
    else
        split_plain(r, b, b + len);
    if (has_nul) {
        r->prob = REC_OK;
        problem(r, REC_NUL, nul_field(r), r->rec_line);
    }
}

/* ---- the header ---------------------------------------------------------- */

static int skip_bom(logr *r, diag_list *d)
{
    while (r->end - r->pos < 3 && !r->eof)
        if (!refill(r, d))
            return 0;
    if (r->end - r->pos >= 3 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
        r->pos += 3;
    return 1;
}

/* Exact title first; failing that, ignoring ASCII case and surrounding
 * spaces, so "Date " and "date" both find the column titled "date". */
static int find_column(const schema *s, const field *f)
{
    for (size_t j = 0; j < s->ncols; j++) {
        const char *t = col_title(&s->cols[j]);
        if (strlen(t) == f->n && memcmp(t, f->p, f->n) == 0)
            return (int)j;
    }
    field h = *f;
    trim_field(&h);
    for (size_t j = 0; j < s->ncols; j++) {
        const char *t = col_title(&s->cols[j]);
        size_t b = 0, e = strlen(t);
        trim_span(t, &b, &e);
        if (e - b != h.n)
            continue;
        size_t i = 0;
        while (i < h.n && lower((unsigned char)h.p[i]) == lower((unsigned char)t[b + i]))
            i++;
        if (i == h.n)
            return (int)j;
    }
    return -1;
}

/* The schema title closest to an unknown header title, if any is close. */
static const char *suggest(const schema *s, const char *t)
{
    const char *best = NULL;
    size_t bd = 3;
    for (size_t j = 0; j < s->ncols; j++) {
        const sch_column *c = &s->cols[j];
        size_t dt = diag_distance(t, col_title(c), 2);
        size_t dn = diag_distance(t, c->name, 2);
        size_t dd = dt < dn ? dt : dn;
        if (dd < bd) {
            bd = dd;
            best = col_title(c);
        }
    }
    return best;
}

static int header_problem(logr *r, diag_list *d)
{
    char v[SHOW_BUF], w[SHOW_BUF];
    size_t fi = r->prob_field;
    const field *f = fi < r->nf && fi < LOG_MAX_COLUMNS ? &r->f[fi] : &(field){ NULL, 0 };
    switch (r->prob) {
    case REC_OK:
        return 0;
    case REC_TOO_LONG:
        diag_data(d, r->name, r->rec_line, "header row is longer than %d bytes", LOG_MAX_RECORD);
        break;
    case REC_NUL:
        diag_data(d, r->name, r->rec_line, "NUL byte in data (header row)");
        break;
    case REC_UNTERMINATED:
        diag_data(d, r->name, r->prob_line,
                  "header: quoted title '\"%s' is never closed: expected a closing '\"'",
                  show(v, f->p, f->n));
        break;
    case REC_JUNK:
        diag_data(d, r->name, r->prob_line,
                  "header: '\"%s\"%s' has text after the closing quote: expected ',' or the end of the line",
                  show(v, f->p, f->n), show(w, r->junk, r->junk_n));
        break;
    }
    return 1;
}

static int check_titles(logr *r, diag_list *d)
{
    const schema *s = r->s;
    unsigned long line = r->rec_line;
    int ok = 1;
    for (size_t h = 0; h < r->nhdr; h++) {
        int j = find_column(s, &r->f[h]);
        if (j >= 0 && r->col[j].pos >= 0) {
            diag_data(d, r->name, line, "duplicate column '%s' in header (columns %d and %zu)",
                      r->htitle[h], r->col[j].pos + 1, h + 1);
            ok = 0;
        } else if (j >= 0) {
            r->col[j].pos = (int)h;
        } else if (s->ignore_extra) {
            continue;
        } else if (r->htitle[h][0] == '\0') {
            diag_data(d, r->name, line, "column %zu of the header has no title", h + 1);
            ok = 0;
        } else {
            const char *g = suggest(s, r->htitle[h]);
            diag_data(d, r->name, line, "unknown column '%s' in header%s%s%s", r->htitle[h],
                      g ? "; did you mean '" : "", g ? g : "", g ? "'?" : "");
            ok = 0;
        }
    }
    for (size_t j = 0; j < s->ncols; j++) {
        const sch_column *c = &s->cols[j];
        if (r->col[j].pos >= 0 || (c->presence != PRES_REQUIRED && (int)j != s->date_col))
            continue;
        if (c->label)
            diag_data(d, r->name, line, "missing required column '%s' (%s)", col_title(c), c->label);
        else
            diag_data(d, r->name, line, "missing required column '%s'", col_title(c));
        ok = 0;
    }
    return ok;
}

/* Enum values are compared by length first, for every row. */
static int value_lengths(logr *r, diag_list *d)
{
    const schema *s = r->s;
    size_t total = 0;
    for (size_t j = 0; j < s->ncols; j++)
        total += s->cols[j].nvalues;
    if (!(r->vlens = mem_array(total, sizeof *r->vlens)) || !(r->vpads = mem_calloc(total ? total : 1, 16)))
        return fatal_oom(r, d), 0;
    size_t *v = r->vlens;
    char (*pad)[16] = r->vpads;
    for (size_t j = 0; j < s->ncols; j++) {
        r->col[j].vlen = v;
        r->col[j].vpad = pad;
        for (size_t k = 0; k < s->cols[j].nvalues; k++, v++, pad++) {
            *v = strlen(s->cols[j].values[k]);
            if (*v <= 16)
                memcpy(*pad, s->cols[j].values[k], *v);
        }
    }
    return 1;
}

/* Maps header positions to schema columns once, so rows are read by index. */
static int map_header(logr *r, diag_list *d)
{
    const schema *s = r->s;
    r->nhdr = r->nf;
    r->htitle = mem_calloc(r->nhdr, sizeof *r->htitle);
    r->col = mem_array(s->ncols, sizeof *r->col);
    r->pp = mem_array(s->ncols, sizeof *r->pp);
    if (!r->htitle || !r->col || !r->pp)
        return fatal_oom(r, d), 0;
    for (size_t h = 0; h < r->nhdr; h++) {
        field t = r->f[h];
        trim_field(&t);
        if (!(r->htitle[h] = mem_strndup(t.p, t.n)))
            return fatal_oom(r, d), 0;
    }
    for (size_t j = 0; j < s->ncols; j++)
        r->col[j].pos = -1;
    if (!check_titles(r, d))
        return 0;
    for (size_t j = 0; j < s->ncols; j++) {
        const sch_column *c = &s->cols[j];
        int pos = r->col[j].pos;
        r->col[j].required = c->presence == PRES_REQUIRED || (int)j == s->date_col ||
                             ((int)j == s->patient_col && pos >= 0);
        if (c->per_patient && pos >= 0)
            r->pp[r->npp++] = j;
        if (c->rest_of_row && pos >= 0) {
            if ((size_t)pos + 1 != r->nhdr) {
                diag_data(d, r->name, r->rec_line,
                          "column '%s' takes the rest of the row, so it must be the last column of the header",
                          r->htitle[pos]);
                return 0;
            }
            r->rest_last = 1;
        }
    }
    if (s->patient_col >= 0 && (size_t)s->patient_col < s->ncols)
        r->id_pos = r->col[s->patient_col].pos;
    if (!value_lengths(r, d))
        return 0;
    r->hcol = mem_array(r->nhdr, sizeof *r->hcol);
    r->fplan = mem_array(r->nhdr, sizeof *r->fplan);
    r->absent = mem_array(s->ncols + 1, sizeof *r->absent);
    if (!r->hcol || !r->fplan || !r->absent)
        return fatal_oom(r, d), 0;
    for (size_t h = 0; h < r->nhdr; h++)
        r->hcol[h] = -1;
    for (size_t j = 0; j < s->ncols; j++) {
        if (r->col[j].pos >= 0)
            r->hcol[r->col[j].pos] = (int)j;
        else
            r->absent[r->nabsent++] = j;
    }
    fast_plan(r);
    return 1;
}

static int read_header(logr *r, diag_list *d)
{
    if (!skip_bom(r, d))
        return 0;
    int k = read_record(r, d);
    if (k < 0)
        return 0;
    if (k == 0) {
        diag_data(d, r->name, 1, "empty file: expected a header row naming the columns");
        return 0;
    }
    if (header_problem(r, d))
        return 0;
    if (r->nf > LOG_MAX_COLUMNS) {
        diag_data(d, r->name, r->rec_line, "header has %zu columns, more than the limit of %d",
                  r->nf, LOG_MAX_COLUMNS);
        return 0;
    }
    return map_header(r, d);
}

/* The size of a regular file, -1 for anything else. */
static long long file_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
}

/* The first read buffer: a small file (one patient per file is common in
 * folders) needs no 256 KiB buffer; a larger one or a pipe starts at
 * LOG_BUF_INIT.  refill() doubles it when a record does not fit. */
static size_t initial_cap(long long size)
{
    if (size < 0 || size >= LOG_BUF_INIT / 2)
        return LOG_BUF_INIT;
    size_t want = (size_t)size + 2 * LOG_SLACK + 1, cap = 4096;
    while (cap < want)
        cap *= 2;
    return cap;
}

/* "dir/p17.csv" -> "p17"; "-" -> "stdin". */
static char *file_id(const char *path)
{
    if (strcmp(path, "-") == 0)
        return mem_strdup("stdin");
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strrchr(b, '.');
    return mem_strndup(b, dot && dot != b ? (size_t)(dot - b) : strlen(b));
}

logr *logr_open(const schema *s, const char *path, diag_list *d)
{
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char eb[128];
        diag_data(d, name, 0, "cannot open log file: %s", errstr(errno, eb));
        return NULL;
    }
    logr *r = mem_calloc(1, sizeof *r);
    if (!r) {
        if (!is_stdin)
            close(fd);
        diag_data(d, name, 0, "out of memory while reading the log");
        return NULL;
    }
    r->s = s;
    r->path = path;
    r->name = name;
    r->fd = fd;
    r->close_fd = !is_stdin;
    r->line = 1;
    r->id_pos = -1;
    idseen_init(&r->seen);
    r->size = file_size(fd);
    r->cap = initial_cap(r->size);
    r->buf = mem_alloc(r->cap); /* refill() zeroes the slack past the data */
    if (r->buf)
        mem_populate(r->buf, r->cap);
    r->f = mem_array(LOG_MAX_COLUMNS, sizeof *r->f);
    r->file_id = file_id(path);
    if (!r->buf || !r->f || !r->file_id) {
        fatal_oom(r, d);
        logr_close(r);
        return NULL;
    }
    if (!read_header(r, d)) {
        logr_close(r);
        return NULL;
    }
    return r;
}

void logr_close(logr *r)
{
    if (!r)
        return;
    if (r->close_fd)
        close(r->fd);
    if (r->borrowed) {
        mem_free(r->f);
        idseen_free(&r->seen);
        mem_free(r);
        return;
    }
    if (r->htitle)
        for (size_t h = 0; h < r->nhdr; h++)
            mem_free(r->htitle[h]);
    mem_free(r->htitle);
    mem_free(r->col);
    mem_free(r->vlens);
    mem_free(r->vpads);
    mem_free(r->pp);
    mem_free(r->hcol);
    mem_free(r->fplan);
    mem_free(r->absent);
    mem_free(r->file_id);
    mem_free(r->buf);
    mem_free(r->f);
    idseen_free(&r->seen);
    mem_free(r);
}

unsigned long logr_rows(const logr *r) { return r->rows; }

unsigned long logr_patient_start(const logr *r, int *id_checked)
{
    *id_checked = r->started && r->id_checked;
    return r->start_line;
}

/* ---- block mode (parallel batch) ---------------------------------------- */

int logr_take_rest(logr *r, char **buf, size_t *len, size_t *cap, int *fd, int *eof, unsigned long *line)
{
    if (r->pending || r->dead || r->borrowed)
        return 0;
    memmove(r->buf, r->buf + r->pos, r->end - r->pos);
    *len = r->end - r->pos;
    *buf = r->buf;
    *cap = r->cap;
    *fd = r->fd;
    *eof = r->eof;
    *line = r->line;
    r->buf = NULL;
    r->pos = r->end = r->cap = 0;
    r->close_fd = 0; /* the caller owns the descriptor now */
    r->done = 1;
    return 1;
}

int logr_id_pos(const logr *r) { return r->id_pos; }

long long logr_file_size(const logr *r) { return r->size; }

void logr_set_fast_path(logr *r, int on) { r->slow_only = !on; }

logr *logr_open_block(const logr *hdr)
{
    logr *r = mem_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    *r = *hdr;
    r->borrowed = 1;
    r->fd = -1;
    r->close_fd = 0;
    r->buf = NULL;
    idseen_init(&r->seen); /* not the header reader's */
    r->rows = 0;
    r->f = mem_array(LOG_MAX_COLUMNS, sizeof *r->f);
    if (!r->f) {
        mem_free(r);
        return NULL;
    }
    return r;
}

void logr_set_block(logr *r, char *data, size_t len, unsigned long first_line)
{
    r->buf = data;
    r->pos = 0;
    r->end = len;
    r->cap = len + LOG_SLACK;
    r->eof = 1;
    r->done = r->dead = r->pending = 0;
    r->started = 0;
    r->line = first_line;
    idseen_clear(&r->seen);
}

unsigned long logr_block_end_line(const logr *r)
{
    return r->line + (unsigned long)count_nl(r->buf + r->pos, r->end - r->pos);
}

/* ---- values --------------------------------------------------------------- */

static int put_text(patient *p, const char *v, size_t n, cell *c)
{
    if (n > 0) {
        if (p->text_len + n > p->text_cap) {
            char *t = mem_grow(p->text, &p->text_cap, p->text_len + n, 1);
            if (!t)
                return 0;
            p->text = t;
        }
        memcpy(p->text + p->text_len, v, n);
    }
    c->s.off = (uint32_t)p->text_len;
    c->s.len = (uint32_t)n;
    p->text_len += n;
    return 1;
}

/* -?[0-9]+ as a double: scores are small, and a long run of digits only has
 * to compare correctly against the range. */
static int parse_int(const char *s, size_t n, double *out)
{
    size_t i = s[0] == '-';
    if (i == n)
        return 0;
    double x = 0;
    for (; i < n; i++) {
        unsigned dg = (unsigned char)s[i] - '0';
        if (dg > 9)
            return 0;
        x = x * 10 + dg;
    }
    *out = s[0] == '-' && x != 0 ? -x : x;
    return 1;
}

/* -?digits with an optional '.', nothing else (no exponent, inf, nan, hex).
 * Up to 2^53 with 22 decimals one division is exact and correctly rounded;
 * longer numbers go to strtod, NUL-terminated in place (buf[end] is ours). */
static int parse_decimal(char *s, size_t n, double *out)
{
    static const double p10[23] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
    size_t i = s[0] == '-';
    uint64_t m = 0;
    int digits = 0, frac = 0, dot = 0, exact = 1;
    for (; i < n; i++) {
        if (s[i] == '.' && !dot) {
            dot = 1;
            continue;
        }
        unsigned dg = (unsigned char)s[i] - '0';
        if (dg > 9)
            return 0;
        digits++;
        frac += dot;
        if (m < (1ULL << 53) / 10 + 1)
            m = m * 10 + dg;
        else
            exact = 0;
    }
    if (!digits)
        return 0;
    double x;
    if (exact && m <= (1ULL << 53) && frac <= 22) {
        x = (double)m / p10[frac];
        if (s[0] == '-')
            x = -x;
    } else {
        char keep = s[n];
        s[n] = '\0';
        x = strtod(s, NULL);
        s[n] = keep;
    }
    *out = x == 0 ? 0.0 : x; /* no "-0" in messages */
    return 1;
}

static int parse_bool(const char *s, size_t n, int32_t *out)
{
    static const char *const words[] = { "no", "yes", "n", "y", "false", "true", "0", "1" };
    if (n == 1 && (s[0] == '0' || s[0] == '1')) { /* what exports write most */
        *out = s[0] == '1';
        return 1;
    }
    for (size_t k = 0; k < sizeof words / sizeof *words; k++)
        if (ieq(s, n, words[k])) {
            *out = (int32_t)(k & 1);
            return 1;
        }
    return 0;
}

static int parse_enum(const sch_column *c, const size_t *vlen, const char *s, size_t n, int32_t *out)
{
    for (size_t k = 0; k < c->nvalues; k++)
        if (vlen[k] == n && memcmp(c->values[k], s, n) == 0) {
            *out = (int32_t)k;
            return 1;
        }
    for (size_t k = 0; k < c->nvalues; k++)
        if (ieq(s, n, c->values[k])) {
            *out = (int32_t)k;
            return 1;
        }
    return 0;
}

static const char *value_list(const sch_column *c, char *buf, size_t sz)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < c->nvalues; k++) {
        int w = snprintf(buf + o, sz - o, "%s%s", k ? ", " : "", c->values[k]);
        if (w < 0 || (size_t)w >= sz - o) {
            memcpy(buf + sz - 4, "...", 4);
            break;
        }
        o += (size_t)w;
    }
    return buf;
}

static const char *expected(const sch_column *c, const char *what, char *buf, size_t sz)
{
    if (c->has_range)
        snprintf(buf, sz, "%s from %g to %g", what, c->lo, c->hi);
    else
        snprintf(buf, sz, "%s", what);
    return buf;
}

/* Numbers and scores share the messages; whole says scores must be integers. */
static int check_number(logr *r, diag_list *d, size_t j, field v, int whole, cell *out)
{
    const sch_column *c = &r->s->cols[j];
    char sv[SHOW_BUF], ex[128];
    const char *what = whole ? "a score" : "a number";
    double x;
    if (whole ? !parse_int(v.p, v.n, &x) : !parse_decimal(v.p, v.n, &x)) {
        int frac = whole && parse_decimal(v.p, v.n, &x);
        bad(r, d, r->rec_line, "column '%s': '%s' is not a %s: expected %s", ctitle(r, j),
            show(sv, v.p, v.n), frac ? "whole number" : "number", expected(c, what, ex, sizeof ex));
        return 2;
    }
    if (c->has_range && (x < c->lo || x > c->hi)) {
        bad(r, d, r->rec_line, "column '%s': '%s' is out of range: expected %s", ctitle(r, j),
            show(sv, v.p, v.n), expected(c, what, ex, sizeof ex));
        return 2;
    }
    out->num = x;
    return 1;
}

/* The value of an empty field in a column that may be empty: its default,
 * or unknown.  Returns the `known` byte, or -1 on out of memory. */
static int default_cell(const logr *r, patient *p, size_t j, cell *c)
{
    const sch_column *col = &r->s->cols[j];
    if (col->presence != PRES_DEFAULT) {
        c->num = 0;
        return 0;
    }
    if (col->type != COL_TEXT) {
        *c = col->defval;
        return 1;
    }
    const char *t = col->defval_text ? col->defval_text : "";
    return put_text(p, t, strlen(t), c) ? 1 : -1;
}

static int empty_cell(logr *r, patient *p, diag_list *d, size_t j, cell *c)
{
    if (r->col[j].required) {
        bad(r, d, r->rec_line, "column '%s' is required but empty", ctitle(r, j));
        return 2;
    }
    return default_cell(r, p, j, c);
}

/* Validates one value into *c.  Returns the `known` byte: 0 empty, 1 value,
 * 2 invalid (reported; only ever seen inside a bad patient), or -1 on OOM. */
static int parse_cell(logr *r, patient *p, diag_list *d, size_t j, cell *c)
{
    const sch_column *col = &r->s->cols[j];
    int pos = r->col[j].pos;
    field v = pos >= 0 ? r->f[pos] : (field){ NULL, 0 };
    if (col->type != COL_TEXT && v.n)
        trim_field(&v);
    if (v.n == 0)
        return empty_cell(r, p, d, j, c);
    char sv[SHOW_BUF], list[400];
    c->num = 0;
    switch (col->type) {
    case COL_DATE:
        if (date_parse(v.p, v.n, &c->i))
            return 1;
        bad(r, d, r->rec_line, "column '%s': '%s' is not a valid date: expected YYYY-MM-DD",
            ctitle(r, j), show(sv, v.p, v.n));
        return 2;
    case COL_SCORE:
    case COL_NUMBER:
        return check_number(r, d, j, v, col->type == COL_SCORE, c);
    case COL_BOOL:
        if (parse_bool(v.p, v.n, &c->i))
            return 1;
        bad(r, d, r->rec_line, "column '%s': '%s' is not yes/no", ctitle(r, j), show(sv, v.p, v.n));
        return 2;
    case COL_ENUM:
    case COL_STAGE:
        if (parse_enum(col, r->col[j].vlen, v.p, v.n, &c->i))
            return 1;
        bad(r, d, r->rec_line, "column '%s': '%s' is not one of: %s", ctitle(r, j),
            show(sv, v.p, v.n), value_list(col, list, sizeof list));
        return 2;
    case COL_TEXT: {
        if (v.n > UINT32_MAX - p->text_len) {
            bad(r, d, r->rec_line, "column '%s': the text of this patient exceeds 4 GiB",
                ctitle(r, j));
            return 2;
        }
        /* Records are validated, not repaired: a Latin-1 export would
         * otherwise reach the JSON view as bytes it cannot write. */
        size_t at = utf8_invalid(v.p, v.n);
        if (at < v.n) {
            bad(r, d, r->rec_line, "column '%s': byte 0x%02X at position %zu is not UTF-8: "
                "expected UTF-8 text (save the file as UTF-8)", ctitle(r, j), (unsigned char)v.p[at], at + 1);
            return 2;
        }
        return put_text(p, v.p, v.n, c) ? 1 : -1;
    }
    }
    return 2;
}

/* ---- rows ------------------------------------------------------------------ */

static int reserve_rows(patient *p, size_t rows)
{
    if (rows <= p->row_cap)
        return 1;
    size_t nc = p->row_cap ? p->row_cap : 64;
    while (nc < rows)
        nc *= 2;
    if (nc > SIZE_MAX / sizeof(cell) / p->ncols)
        return 0;
    cell *c = mem_realloc(p->cells, nc * p->ncols * sizeof *c);
    if (!c)
        return 0;
    p->cells = c;
    uint8_t *k = mem_realloc(p->known, nc * p->ncols);
    if (!k)
        return 0;
    p->known = k;
    unsigned long *l = mem_realloc(p->line, nc * sizeof *l);
    if (!l)
        return 0;
    p->line = l;
    p->row_cap = nc;
    return 1;
}

static __attribute__((noinline, cold)) void date_out_of_order(logr *r, diag_list *d, int32_t day)
{
    char a[11], b[11];
    date_format(day, a);
    date_format(r->prev_day, b);
    if (day == r->prev_day)
        bad(r, d, r->rec_line, "duplicate date %s (also at line %lu)", a, r->prev_line);
    else
        bad(r, d, r->rec_line, "date %s comes before the previous row's %s: rows must be in date order", a, b);
}

static inline void check_date(logr *r, patient *p, diag_list *d, size_t row)
{
    size_t j = (size_t)r->s->date_col, at = row * p->ncols + j;
    if (p->known[at] != 1)
        return;
    int32_t day = p->cells[at].i;
    if (r->have_prev && day <= r->prev_day)
        date_out_of_order(r, d, day);
    r->have_prev = 1;
    r->prev_day = day;
    r->prev_line = r->rec_line;
}

static inline int same_cell(col_type t, const patient *p, size_t a, size_t b)
{
    if (p->known[a] != p->known[b])
        return 0;
    if (!p->known[a])
        return 1;
    const cell *x = &p->cells[a], *y = &p->cells[b];
    switch (t) {
    case COL_SCORE:
    case COL_NUMBER:
        return x->num == y->num;
    case COL_TEXT:
        /* Empty text may have no store at all (p->text NULL). */
        return x->s.len == y->s.len &&
               (x->s.len == 0 || memcmp(p->text + x->s.off, p->text + y->s.off, x->s.len) == 0);
    default:
        return x->i == y->i;
    }
}

/* A stored value for a message: 'value' or empty. */
static const char *cell_text(const logr *r, const patient *p, size_t j, size_t at, char *buf)
{
    const sch_column *c = &r->s->cols[j];
    const cell *x = &p->cells[at];
    char v[SHOW_BUF];
    if (!p->known[at])
        return "empty";
    switch (c->type) {
    case COL_DATE:
        date_format(x->i, v);
        break;
    case COL_SCORE:
    case COL_NUMBER:
        snprintf(v, sizeof v, "%g", x->num);
        break;
    case COL_BOOL:
        strcpy(v, x->i ? "yes" : "no");
        break;
    case COL_ENUM:
    case COL_STAGE:
        show(v, c->values[x->i], strlen(c->values[x->i]));
        break;
    case COL_TEXT:
        show(v, p->text + x->s.off, x->s.len);
        break;
    }
    snprintf(buf, SHOW_BUF + 2, "'%s'", v);
    return buf;
}

/* Out of line: its message buffers would cost every row a stack frame. */
static __attribute__((noinline, cold)) void not_same(logr *r, patient *p, diag_list *d, size_t j, size_t at)
{
    char a[SHOW_BUF + 2], b[SHOW_BUF + 2], id[SHOW_BUF];
    bad(r, d, r->rec_line, "column '%s' must be the same on every row of patient '%s': %s here, %s at line %lu",
        ctitle(r, j), show(id, p->id, strlen(p->id)), cell_text(r, p, j, at, a),
        cell_text(r, p, j, j, b), p->line[0]);
}

static inline void check_same(logr *r, patient *p, diag_list *d, size_t row)
{
    for (size_t i = 0; i < r->npp; i++) {
        size_t j = r->pp[i], at = row * p->ncols + j;
        if (p->known[j] != 2 && p->known[at] != 2 && !same_cell(r->s->cols[j].type, p, j, at))
            not_same(r, p, d, j, at);
    }
}

/* Stores the current record as a row of p.  0 on out of memory. */
static int store_row(logr *r, patient *p, diag_list *d)
{
    size_t nc = p->ncols, row = p->nrows;
    if (!reserve_rows(p, row + 1))
        return 0;
    cell *c = p->cells + row * nc;
    uint8_t *k = p->known + row * nc;
    for (size_t j = 0; j < nc; j++) {
        int kk = parse_cell(r, p, d, j, &c[j]);
        if (kk < 0)
            return 0;
        k[j] = (uint8_t)kk;
    }
    p->line[row] = r->rec_line;
    p->nrows++;
    if (r->s->date_col >= 0)
        check_date(r, p, d, row);
    if (row > 0)
        check_same(r, p, d, row);
    return 1;
}

/* 1 when the record is unusable as a row (reported). */
/* A last column declared `rest of row` takes every byte after the comma
 * that opens it, extra commas included (for exports that do not quote free
 * text).  Only unquoted extra fields are joined: they still lie in place. */
static void join_rest(logr *r)
{
    size_t last = r->nhdr - 1;
    if (r->nf > LOG_MAX_COLUMNS || r->quoted_rec)
        return;
    field *f = &r->f[last], *e = &r->f[r->nf - 1];
    f->n = (size_t)(e->p + e->n - f->p);
    r->nf = r->nhdr;
}

static int row_problem(logr *r, diag_list *d)
{
    char v[SHOW_BUF], w[SHOW_BUF];
    size_t fi = r->prob_field;
    const field *f = fi < r->nf && fi < LOG_MAX_COLUMNS ? &r->f[fi] : NULL;
    switch (r->prob) {
    case REC_OK:
        break;
    case REC_TOO_LONG:
        bad(r, d, r->rec_line, "row is longer than %d bytes: skipped", LOG_MAX_RECORD);
        return 1;
    case REC_NUL:
        if (f)
            bad(r, d, r->rec_line, "NUL byte in data (column '%s')", pos_title(r, fi));
        else
            bad(r, d, r->rec_line, "NUL byte in data");
        return 1;
    case REC_UNTERMINATED:
        bad(r, d, r->prob_line,
            "column '%s': quoted value '\"%s' is never closed: expected a closing '\"' before the end of the file",
            pos_title(r, fi), f ? show(v, f->p, f->n) : "");
        return 1;
    case REC_JUNK:
        bad(r, d, r->prob_line,
            "column '%s': '\"%s\"%s' has text after the closing quote: expected ',' or the end of the line",
            pos_title(r, fi), f ? show(v, f->p, f->n) : "", show(w, r->junk, r->junk_n));
        return 1;
    }
    if (r->nf > r->nhdr && r->rest_last)
        join_rest(r);
    if (r->nf != r->nhdr) {
        bad(r, d, r->rec_line, "row has %zu fields, the header has %zu", r->nf, r->nhdr);
        return 1;
    }
    return 0;
}

/* ---- patients ------------------------------------------------------------- */

/* The patient id of the current record; 0 when it has none (the row then
 * belongs to the patient being read). */
static int row_id(logr *r, field *id)
{
    size_t pos = (size_t)r->id_pos;
    if (r->prob == REC_TOO_LONG) {
        if (r->long_n == SIZE_MAX)
            return 0;
        *id = (field){ r->long_id, r->long_n };
    } else if (pos < r->nf && pos < LOG_MAX_COLUMNS) {
        *id = r->f[pos];
    } else {
        return 0;
    }
    if (r->s->cols[r->s->patient_col].type != COL_TEXT)
        trim_field(id);
    return id->n > 0;
}

static int same_id(const logr *r, const patient *p, field id)
{
    if ((id.n > LOG_MAX_ID) != r->id_long)
        return 0;
    size_t kn = id.n > LOG_MAX_ID ? LOG_MAX_ID : id.n;
    return kn == r->id_len && memcmp(p->id, id.p, kn) == 0;
}

/* check: an id from the patient column (limited in length, must not have
 * been seen before) rather than the file's name.  0 on out of memory. */
static int start_patient(logr *r, patient *p, diag_list *d, const char *id, size_t n, int check)
{
    size_t kn = check && n > LOG_MAX_ID ? LOG_MAX_ID : n;
    char *buf = mem_grow(p->id, &p->id_cap, kn + 1, 1);
    if (!buf)
        return 0;
    p->id = buf;
    memcpy(buf, id, kn);
    buf[kn] = '\0';
    r->started = 1;
    r->id_len = kn;
    r->id_long = kn < n;
    r->start_line = r->rec_line;
    /* An id with a NUL byte is an error of its own (the patient is skipped),
     * and ids go on as C strings, in which it would read as a shorter id:
     * it takes no part in the check below. */
    r->id_checked = check && kn > 0 && !r->id_long && !memchr(id, '\0', kn);
    char v[SHOW_BUF];
    if (r->id_long) {
        bad(r, d, r->rec_line, "column '%s': '%s' is too long: expected a patient id of at most %d bytes",
            ctitle(r, (size_t)r->s->patient_col), show(v, id, n), LOG_MAX_ID);
        return 1;
    }
    if (!r->id_checked)
        return 1;
    unsigned long first = 0;
    int k = idseen_add(&r->seen, id, kn, r->rec_line, &first);
    if (k < 0)
        return 0;
    if (k == 0)
        bad(r, d, r->rec_line, "rows for patient '%s' are not together: it already appeared at line %lu",
            show(v, id, kn), first);
    return 1;
}

enum { TAKE_OK, TAKE_NEXT, TAKE_FATAL };

/* ---- the fast path ------------------------------------------------------ */

/* Most rows of a real log are plain: no quotes, one field per column, every
 * value written canonically.  fast_take parses such a record in one pass,
 * straight into the patient's next row.  Anything else -- a quote, a blank
 * to trim, "Yes" for "yes", a bad value, a missing field -- declines, and the
 * general path (split, then parse_cell) handles the record and reports its
 * problems exactly.  Both paths store identical cells for the same input. */
enum { FAST_DECLINED = -1 };

/* A date in another month than the last one read: parsed in full. */
static __attribute__((noinline)) int fast_new_month(logr *r, const char *s, size_t n, int32_t *out)
{
    unsigned days;
    if (!date_parse_month(s, n, out, &days))
        return 0;
    r->ym_days = days;
    memcpy(r->ym, s, 8);
    r->ym_base = *out - (int32_t)((s[8] - '0') * 10 + (s[9] - '0'));
    return 1;
}

static inline int fast_date(logr *r, const char *s, size_t n, int32_t *out)
{
    if (n != 10)
        return 0;
    unsigned d1 = (unsigned char)s[8] - '0', d2 = (unsigned char)s[9] - '0';
    if (memcmp(s, r->ym, 8) == 0 && d1 <= 9 && d2 <= 9) {
        unsigned dd = d1 * 10 + d2;
        if (dd >= 1 && dd <= r->ym_days) {
            *out = r->ym_base + (int32_t)dd;
            return 1;
        }
    }
    return fast_new_month(r, s, n, out);
}

static int fast_enum(const logr *r, size_t j, const char *s, size_t n, int32_t *out)
{
    const sch_column *c = &r->s->cols[j];
    const size_t *vlen = r->col[j].vlen;
#ifdef __SSE2__
    /* One 16-byte compare per value instead of a memcmp call: the field
     * lies in the read buffer, which has LOG_SLACK readable bytes past its
     * data, so the load never leaves it. */
    if (n <= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        unsigned want = (1u << n) - 1;
        for (size_t k = 0; k < c->nvalues; k++) {
            if (vlen[k] != n)
                continue;
            __m128i w = _mm_loadu_si128((const __m128i *)(const void *)r->col[j].vpad[k]);
            if (((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, w)) & want) == want) {
                *out = (int32_t)k;
                return 1;
            }
        }
        return 0;
    }
#endif
    for (size_t k = 0; k < c->nvalues; k++)
        if (vlen[k] == n && c->values[k][0] == s[0] && memcmp(c->values[k], s, n) == 0) {
            *out = (int32_t)k;
            return 1;
        }
    return 0;
}

/* What the fast path does with each header position, decided once when
 * the header is read so the per-field work is a switch and a loop. */
enum { FK_SKIP, FK_DATE, FK_INT, FK_NUM, FK_BOOL, FK_ENUM, FK_TEXT };
enum { FE_SLOW, FE_UNKNOWN, FE_DEFAULT, FE_EMPTY_TEXT };

/* A field whose parser could take a comma, a quote, a newline or a NUL
 * as part of a value: text, an ignored column, an enum with such a value.
 * Changed bytes in other fields need no check for them (see echo_run):
 * the parser declines. */
static int open_field(const logr *r, const fast_col *f)
{
    if (f->kind == FK_TEXT || f->kind == FK_SKIP)
        return 1;
    if (f->kind != FK_ENUM)
        return 0;
    const sch_column *c = &r->s->cols[f->col];
    for (size_t k = 0; k < c->nvalues; k++)
        if (strpbrk(c->values[k], ",\"\n"))
            return 1;
    return 0;
}

/* Which bytes f accepts as a field of one byte (see fast_col.digit): a
 * whole number of one digit within its range, or 0/1 for yes/no. */
static void fast_digit(fast_col *f)
{
    int64_t lo = 0, hi = 9;
    if (f->kind == FK_BOOL) {
        hi = 1;
    } else if (f->kind != FK_INT && f->kind != FK_NUM) {
        return;
    } else if (f->ranged) {
        lo = f->ilo > lo ? f->ilo : lo;
        hi = f->ihi < hi ? f->ihi : hi;
    }
    if (lo > hi)
        return;
    f->digit = 1;
    f->base = (unsigned char)('0' + lo);
    f->span = (unsigned char)(hi - lo);
}

static void fast_plan(logr *r)
{
    for (size_t h = 0; h < r->nhdr; h++) {
        fast_col *f = &r->fplan[h];
        int j = r->hcol[h];
        f->col = j;
        if (j < 0) {
            f->kind = FK_SKIP;
            f->open = 1;
            f->pp = 0;
            continue;
        }
        const sch_column *c = &r->s->cols[j];
        static const unsigned char kinds[] = { [COL_DATE] = FK_DATE, [COL_SCORE] = FK_INT,
                                               [COL_NUMBER] = FK_NUM, [COL_BOOL] = FK_BOOL,
                                               [COL_ENUM] = FK_ENUM, [COL_STAGE] = FK_ENUM,
                                               [COL_TEXT] = FK_TEXT };
        f->kind = kinds[c->type];
        f->open = (unsigned char)open_field(r, f);
        f->pp = c->per_patient != 0;
        f->ranged = c->has_range != 0;
        if (r->col[j].required)
            f->empty = FE_SLOW;
        else if (c->presence != PRES_DEFAULT)
            f->empty = FE_UNKNOWN;
        else if (c->type != COL_TEXT)
            f->empty = FE_DEFAULT;
        else
            f->empty = !c->defval_text || !c->defval_text[0] ? FE_EMPTY_TEXT : FE_SLOW;
        f->lo = c->lo;
        f->hi = c->hi;
        /* Whole numbers compare against whole bounds without converting
         * each value to double; the fast path reads at most 9 digits. */
        f->ilo = !f->ranged || c->lo < -1e15 ? INT64_MIN : (int64_t)ceil(c->lo);
        f->ihi = !f->ranged || c->hi > 1e15 ? INT64_MAX : (int64_t)floor(c->hi);
        f->digit = 0;
        fast_digit(f);
    }
}

/* An empty field: the column's default, unknown, or (required) a decline. */
static int fast_empty(logr *r, patient *p, size_t j, cell *c, uint8_t *known)
{
    if (r->col[j].required)
        return 0;
    int k = default_cell(r, p, j, c);
    if (k < 0)
        return -1;
    *known = (uint8_t)k;
    return 1;
}

/* A number that is not a plain run of digits: decimals, signs. */
static int fast_decimal(const fast_col *f, char *s, size_t n, cell *c)
{
    double x;
    if (f->kind != FK_NUM || is_blank(s[0]) || is_blank(s[n - 1]) || !parse_decimal(s, n, &x))
        return 0;
    if (f->ranged && (x < f->lo || x > f->hi))
        return 0;
    c->num = x == 0 ? 0.0 : x;
    return 1;
}

/* One non-empty field; 0 declines, -1 is out of memory. */
static inline __attribute__((always_inline)) int fast_value(logr *r, patient *p, const fast_col *f, char *s, size_t n, cell *c)
{
    uint32_t v = 0;
    size_t i;
    switch (f->kind) {
    case FK_DATE:
        return fast_date(r, s, n, &c->i);
    case FK_INT:
    case FK_NUM:
        if (n > 9)
            return fast_decimal(f, s, n, c);
        for (i = 0; i < n; i++) {
            unsigned dg = (unsigned char)s[i] - '0';
            if (dg > 9)
                return fast_decimal(f, s, n, c);
            v = v * 10 + dg;
        }
        if (f->ranged && ((int64_t)v < f->ilo || (int64_t)v > f->ihi))
            return 0;
        c->num = v;
        return 1;
    case FK_BOOL:
        if (n == 1 && (s[0] == '0' || s[0] == '1'))
            c->i = s[0] == '1';
        else if (n == 2 && s[0] == 'n' && s[1] == 'o')
            c->i = 0;
        else if (n == 3 && memcmp(s, "yes", 3) == 0)
            c->i = 1;
        else
            return 0;
        return 1;
    case FK_ENUM:
        return fast_enum(r, (size_t)f->col, s, n, &c->i);
    case FK_TEXT:
        if (n > UINT32_MAX - p->text_len || utf8_invalid(s, n) < n)
            return 0;
        return put_text(p, s, n, c) ? 1 : -1;
    }
    return 1;
}

/* One field of a plain record into row cells c and known bytes k (both
 * indexed by schema column): 1 stored, 0 declines, -1 out of memory. */
static inline __attribute__((always_inline)) int fast_field(logr *r, patient *p, const fast_col *fc, char *s, size_t n, cell *c, uint8_t *k)
{
    size_t j = (size_t)fc->col;
    if (n > 0) {
        k[j] = 1;
        return fast_value(r, p, fc, s, n, &c[j]);
    }
    switch (fc->empty) {
    case FE_UNKNOWN:
        c[j].num = 0;
        k[j] = 0;
        return 1;
    case FE_EMPTY_TEXT:
        c[j].s.off = (uint32_t)p->text_len;
        c[j].s.len = 0;
        k[j] = 1;
        return 1;
    default:
        return fast_empty(r, p, j, &c[j], &k[j]);
    }
}

/* The first ',' or NUL at or after s; the record ends in a ',' sentinel and
 * LOG_SLACK readable bytes follow it, so 16-byte loads are safe. */
static inline char *next_sep(char *s)
{
#ifdef __SSE2__
    const __m128i comma = _mm_set1_epi8(','), zero = _mm_setzero_si128();
    for (;; s += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, zero)));
        if (m)
            return s + __builtin_ctz(m);
    }
#else
    while (*s != ',' && *s != '\0')
        s++;
    return s;
#endif
}

/* Row 0 of p holds exactly the text s[0..n) in column j. */
static inline int same_text(const patient *p, size_t j, const char *s, size_t n)
{
    const cell *c = &p->cells[j];
    return p->known[j] == 1 && c->s.len == n && n > 0 && memcmp(p->text + c->s.off, s, n) == 0;
}

/* The record starts the next patient: another non-empty id, take_row's
 * rule; its other fields are parsed when that patient is read. */
enum { FIELDS_NEXT = 2 };

/* Fields of the unsplit record into row `row`; the patient id's span is
 * returned in *id.  1 stored,
 * FIELDS_NEXT, 0 declines (a NUL byte, a field count that is off, a value
 * that is not canonical), -1 is out of memory. */
static int fast_fields(logr *r, patient *p, size_t row, field *id)
{
    size_t nc = p->ncols;
    cell *c = p->cells + row * nc;
    uint8_t *k = p->known + row * nc;
    char *s = r->rec_b, *e = s + r->rec_len;
    char keep = *e;
    *e = '\0'; /* a sentinel: the field scan needs no bounds test */
    int ok = 1;
    size_t h = 0, last = r->nhdr - 1;
    for (;; h++) {
        char *f = next_sep(s);
        /* A comma ends every field but the last, the sentinel the last;
         * anything else (a NUL in the data, a field count that is off)
         * declines. */
        if (*f != ',' ? f != e || h != last : h == last) {
            ok = 0;
            break;
        }
        const fast_col *fc = &r->fplan[h];
        if ((int)h == r->id_pos)
            *id = (field){ s, (size_t)(f - s) };
        if (fc->kind != FK_SKIP) {
            size_t j = (size_t)fc->col;
            if ((int)h == r->id_pos && row > 0 && same_text(p, j, s, (size_t)(f - s))) {
                /* The patient's id again: row 0's stored value, already
                 * checked, instead of another copy in the text store (and
                 * no second comparison with the patient's id). */
                c[j] = p->cells[j];
                k[j] = 1;
            } else if ((int)h == r->id_pos && r->started && f > s && !same_id(r, p, *id) &&
                       r->s->cols[j].type == COL_TEXT) {
                ok = FIELDS_NEXT;
                break;
            } else {
                ok = fast_field(r, p, fc, s, (size_t)(f - s), c, k);
            }
            if (ok <= 0)
                break;
        }
        if (h == last)
            break;
        s = f + 1;
    }
    *e = keep;
    for (size_t a = 0; a < r->nabsent && ok == 1; a++) {
        size_t j = r->absent[a];
        ok = fast_empty(r, p, j, &c[j], &k[j]);
    }
    return ok;
}

/* ---- the echo ----------------------------------------------------------- */

/* Consecutive rows of a patient mostly repeat each other: the same id,
 * presentation and stage, fields of the same widths; the date and a few
 * scores change.  After a row stored by fast_take, echo_learn keeps the
 * record's first ECHO_BYTES bytes and where its fields lie.  echo_run then
 * reads the records that follow as changes to the row before: it finds the
 * record's end, checks that every separator before the last field is where
 * it was and that the id's bytes are the same, copies the previous row's
 * cells and parses again only the fields whose bytes changed, plus the last
 * field (which may change length), with the fast path's own fast_field.  A
 * cell depends on its field's bytes and column alone, so an unchanged
 * field's cell is the previous row's, and the rows stored are the ones
 * fast_take would store.  A record whose fields moved (a score of 10
 * after 9) is read with its layout learned on the spot (echo_relayout),
 * and a last field in quotes is taken when it is plain inside
 * (echo_end_of).  The first record that is neither (a new patient, a quote
 * elsewhere, a value the fast path declines, fields before the last that
 * do not fit in ECHO_BYTES bytes) is left unread for read_record and
 * take_row. */
#ifdef __SSE2__
typedef struct echo_vec {
    __m128i v[ECHO_BYTES / 16];
} echo_vec;

/* Reads ECHO_BYTES bytes at s: the record and what follows it in the
 * buffer, which keeps LOG_SLACK >= ECHO_BYTES readable bytes past its data. */
static inline echo_vec echo_load(const char *s)
{
    echo_vec e;
#pragma GCC unroll 4
    for (int i = 0; i < ECHO_BYTES / 16; i++)
        e.v[i] = _mm_loadu_si128((const __m128i *)(const void *)(s + 16 * i));
    return e;
}

/* Bit i set when byte i of a equals byte i of b. */
static inline uint64_t echo_same(const echo_vec *a, const echo_vec *b)
{
    uint64_t m = 0;
#pragma GCC unroll 4
    for (int i = 0; i < ECHO_BYTES / 16; i++)
        m |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a->v[i], b->v[i])) << (16 * i);
    return m;
}

/* Bit i set when byte i of v is one a plain record's fields cannot hold:
 * a quote, a newline or a NUL, and with `comma` a comma. */
static inline unsigned specials16(__m128i v, int comma)
{
    __m128i x = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')), _mm_cmpeq_epi8(v, _mm_setzero_si128())));
    if (comma)
        x = _mm_or_si128(x, _mm_cmpeq_epi8(v, _mm_set1_epi8(',')));
    return (unsigned)_mm_movemask_epi8(x);
}

/* The same, commas included, for ECHO_BYTES bytes from the 16-byte chunk
 * `first` on. */
static inline uint64_t echo_specials_from(const echo_vec *a, int first)
{
    uint64_t m = 0;
#pragma GCC unroll 4
    for (int i = 0; i < ECHO_BYTES / 16; i++)
        if (i >= first)
            m |= (uint64_t)specials16(a->v[i], 1) << (16 * i);
    return m;
}

/* memcpy for a row's few cells, without the call. */
static inline void copy_small(void *dst, const void *src, size_t n)
{
    char *d = dst;
    const char *s = src;
    if (n >= 16) {
        size_t i = 0;
        for (; i + 16 <= n; i += 16)
            _mm_storeu_si128((__m128i *)(void *)(d + i), _mm_loadu_si128((const __m128i *)(const void *)(s + i)));
        if (i < n) /* the last 16 bytes, overlapping those copied */
            _mm_storeu_si128((__m128i *)(void *)(d + n - 16),
                             _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16)));
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else {
        memcpy(d, s, n);
    }
}

static inline uint64_t echo_specials(const echo_vec *a) { return echo_specials_from(a, 0); }

static inline uint64_t low_bits(size_t n) { return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1; }

static inline uint64_t echo_commas_of(const echo_vec *e)
{
    echo_vec commas;
    for (int i = 0; i < ECHO_BYTES / 16; i++)
        commas.v[i] = _mm_set1_epi8(',');
    return echo_same(e, &commas);
}

/* Learns where the fields before the last lie in a record, from its
 * commas and its separators (commas, quotes, newlines, NULs) among its
 * first len bytes.  0 when they do not fit (the tables are then unusable:
 * the caller clears echo_ok). */
static int echo_layout(logr *r, uint64_t commas, uint64_t seps, size_t len)
{
    size_t nsep = r->nhdr - 1, start = 0, nd = 0, nb = 0, nother = 0;
    uint64_t m = commas & low_bits(len), id = 0, pp = 0, open = 0;
    for (size_t h = 0; h < nsep; h++) {
        if (!m)
            return 0;
        size_t c = (size_t)__builtin_ctzll(m);
        m &= m - 1;
        /* A field's bytes and its comma: a comma never changes while the
         * fields keep their places, and an empty field still has one.
         * start <= c < 64 here. */
        uint64_t f = (~(uint64_t)0 >> (63 - c)) & (~(uint64_t)0 << start);
        const fast_col *fc = &r->fplan[h];
        r->echo_fmask[h] = f;
        pp |= fc->pp ? f : 0;
        open |= fc->open ? f : 0;
        r->echo_start[h] = (unsigned char)start;
        r->echo_end[h] = (unsigned char)c;
        if ((int)h == r->id_pos)
            id = f & ~((uint64_t)1 << c);
        else if (c - start == 1 && fc->digit)
            r->echo_d[fc->kind == FK_BOOL ? ECHO_BYTES - 1 - nb++ : nd++] =
                (echo_digit){ (unsigned char)start, fc->base, fc->span, fc->col };
        else if (fc->kind != FK_SKIP)
            r->echo_other[nother++] = (unsigned char)h;
        start = c + 1;
    }
    r->echo_id = id;
    r->echo_pp = pp;
    r->echo_open = open;
    r->echo_nd = (unsigned char)nd;
    r->echo_nb = (unsigned char)nb;
    r->echo_nother = (unsigned char)nother;
    r->echo_last = start;
    r->echo_pre = low_bits(start);
    r->echo_pp_last = r->fplan[nsep].pp;
    /* Its commas, and any quote inside a field, which a plain record may
     * have (only a quote that opens a field makes it quoted). */
    r->echo_seps = seps & r->echo_pre;
    return 1;
}

/* Learns the layout of the record fast_take just stored. */
static void echo_learn(logr *r)
{
    size_t nsep = r->nhdr - 1;
    r->echo_ok = 0;
    if (nsep == 0 || nsep >= ECHO_BYTES || r->id_pos == (int)nsep)
        return;
    echo_vec e = echo_load(r->rec_b);
    memcpy(r->echo_b, &e, sizeof e);
    r->echo_ok = echo_layout(r, echo_commas_of(&e), echo_specials(&e), r->rec_len);
}

/* A record whose fields moved (a score of two digits after one of one):
 * its layout is learned on the spot from its commas before its first
 * quote, newline or NUL; the id must have kept its place and bytes, and
 * *diff becomes the new layout's fields.  0 declines, with echo_ok cleared
 * when the tables were overwritten. */
static int echo_relayout(logr *r, const echo_vec *e, uint64_t *diff)
{
    uint64_t old_id = r->echo_id, commas = echo_commas_of(e), seps = echo_specials(e), other = seps & ~commas;
    size_t end = other ? (size_t)__builtin_ctzll(other) : ECHO_BYTES;
    if (!echo_layout(r, commas, seps, end) || r->echo_id != old_id) {
        r->echo_ok = 0;
        return 0;
    }
    /* Every field but the id, the empty ones by their commas. */
    *diff = r->echo_pre & ~(r->id_pos >= 0 ? r->echo_fmask[r->id_pos] : 0);
    return 1;
}

/* The offset of the first quote, newline or NUL at or after s, and with
 * `comma` of the first comma too.  The buffer's zeroed slack past its data
 * stops the scan. */
static size_t echo_scan(const char *s, int comma)
{
    for (size_t i = 0;; i += 16) {
        unsigned m = specials16(_mm_loadu_si128((const __m128i *)(const void *)(s + i)), comma);
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
}

/* The end of the record at b whose last field starts at b[at] with
 * its first separator at b[sp]: the offset of its newline, with the last
 * field's value in [*vs, *ve).  A last field in quotes is taken when it is
 * text and plain inside (no quote, newline or NUL): "sore, then ok".
 * SIZE_MAX declines. */
static inline size_t echo_end_of(const logr *r, const char *b, size_t at, size_t sp, size_t *vs, size_t *ve)
{
    *vs = at;
    if (b[sp] == '\n') {
        *ve = sp > at && b[sp - 1] == '\r' ? sp - 1 : sp;
        return sp;
    }
    if (b[sp] != '"' || sp != at || r->fplan[r->nhdr - 1].kind != FK_TEXT)
        return SIZE_MAX;
    size_t q = at + 1 + echo_scan(b + at + 1, 0), nl = q + 1;
    if (b[q] != '"')
        return SIZE_MAX;
    nl += b[nl] == '\r';
    if (b[nl] != '\n') /* "" inside, or bytes after the closing quote */
        return SIZE_MAX;
    *vs = at + 1;
    *ve = q;
    return nl;
}

/* The row at p->nrows from the record at b, whose last field's value is
 * [vs, ve), as changes to the row before it: the fields with a byte in
 * diff are parsed again.  1 stored, 0 declines, -1 out of memory. */
static inline int echo_row(logr *r, patient *p, char *b, size_t vs, size_t ve, uint64_t diff)
{
    size_t nc = p->ncols, row = p->nrows;
    if (row >= p->row_cap && !reserve_rows(p, row + 1))
        return -1;
    cell *c = p->cells + row * nc;
    uint8_t *k = p->known + row * nc;
    copy_small(c, c - nc, nc * sizeof *c);
    copy_small(k, k - nc, nc);
    int ok;
    /* One-byte fields are stored whether they changed or not: a test of
     * a byte costs less than a branch on whether it changed, which a
     * score changing at random mispredicts (measured: see
     * docs/performance.md). */
    const echo_digit *g = r->echo_d;
    for (size_t i = 0, n = r->echo_nd; i < n; i++) {
        unsigned char x = (unsigned char)b[g[i].pos];
        if ((unsigned)(x - g[i].base) > g[i].span)
            return 0;
        k[g[i].col] = 1;
        c[g[i].col].num = x - '0';
    }
    for (size_t i = ECHO_BYTES - r->echo_nb; i < ECHO_BYTES; i++) {
        unsigned char x = (unsigned char)b[g[i].pos];
        if ((unsigned)(x - g[i].base) > g[i].span)
            return 0;
        k[g[i].col] = 1;
        c[g[i].col].i = x - '0';
    }
    /* The other fields in header order, not by changed byte: the i-th is
     * always of the same kind, so the branches follow a pattern (measured:
     * 8% faster than visiting the changed bytes' fields). */
    for (size_t i = 0; i < r->echo_nother; i++) {
        size_t h = r->echo_other[i];
        if (!(diff & r->echo_fmask[h]))
            continue;
        size_t s = r->echo_start[h];
        if ((ok = fast_field(r, p, &r->fplan[h], b + s, r->echo_end[h] - s, c, k)) <= 0)
            return ok;
    }
    const fast_col *fc = &r->fplan[r->nhdr - 1];
    if (fc->kind != FK_SKIP && (ok = fast_field(r, p, fc, b + vs, ve - vs, c, k)) <= 0)
        return ok;
    return 1;
}

/* Stores the records that follow as changes to the row before them (see
 * above), until one is not.  0, or -1 out of memory. */
static int echo_run(logr *r, patient *p, diag_list *d)
{
    while (r->echo_ok && !r->perr && r->prows < LOG_MAX_ROWS) {
        char *b = r->buf + r->pos;
        echo_vec e = echo_load(b);
        const echo_vec *prev = (const echo_vec *)(const void *)r->echo_b;
        uint64_t diff = ~echo_same(&e, prev) & r->echo_pre;
        /* The same id; separators unchanged, or a new layout learned; and
         * no comma, quote, newline or NUL among the changed bytes: the
         * parsers of most fields decline them, the others' are looked at. */
        if (diff & r->echo_id)
            return 0;
        int moved = (diff & r->echo_seps) != 0;
        if (moved ? !echo_relayout(r, &e, &diff) : (diff & r->echo_open) && (diff & echo_specials(&e)))
            return 0;
        uint64_t tail = echo_specials_from(&e, (int)(r->echo_last / 16)) & ~r->echo_pre;
        size_t sp = tail ? (size_t)__builtin_ctzll(tail) : echo_scan(b + ECHO_BYTES, 1) + ECHO_BYTES, vs, ve;
        size_t nl = echo_end_of(r, b, r->echo_last, sp, &vs, &ve);
        size_t text_before = p->text_len;
        int ok = nl != SIZE_MAX && nl < r->end - r->pos ? echo_row(r, p, b, vs, ve, diff) : 0;
        if (ok <= 0) {
            p->text_len = text_before;
            if (moved) /* the tables describe this record, not the row before */
                r->echo_ok = 0;
            return ok;
        }
        size_t row = p->nrows++;
        r->rec_line = r->line++;
        r->pos += nl + 1;
        r->rows++;
        r->prows++;
        p->line[row] = r->rec_line;
        memcpy(r->echo_b, &e, sizeof e);
        if (r->s->date_col >= 0)
            check_date(r, p, d, row);
        /* A per-patient field whose bytes did not change holds the value
         * the previous row was checked with. */
        if ((diff & r->echo_pp) || r->echo_pp_last)
            check_same(r, p, d, row);
    }
    return 0;
}
#else
static void echo_learn(logr *r) { r->echo_ok = 0; }
static int echo_run(logr *r, patient *p, diag_list *d)
{
    (void)r, (void)p, (void)d;
    return 0;
}
#endif

static int fast_take(logr *r, patient *p, diag_list *d)
{
    if (r->perr || r->prows + 1 > LOG_MAX_ROWS)
        return FAST_DECLINED;
    size_t row = p->nrows, text_before = p->text_len;
    if (!reserve_rows(p, row + 1))
        return TAKE_FATAL;
    field id = { NULL, 0 };
    int ok = fast_fields(r, p, row, &id);
    if (ok < 0)
        return TAKE_FATAL;
    if (ok == FIELDS_NEXT) {
        p->text_len = text_before;
        return TAKE_NEXT;
    }
    if (ok == 0 || (r->id_pos >= 0 && (id.n == 0 || id.n > LOG_MAX_ID ||
                                       r->s->cols[r->s->patient_col].type != COL_TEXT))) {
        p->text_len = text_before;
        return FAST_DECLINED;
    }
    if (r->id_pos < 0) {
        if (!r->started && !start_patient(r, p, d, r->file_id, strlen(r->file_id), 0))
            return TAKE_FATAL;
    } else if (!r->started) {
        if (!start_patient(r, p, d, id.p, id.n, 1))
            return TAKE_FATAL;
    }
    r->prows++;
    p->line[row] = r->rec_line;
    p->nrows++;
    echo_learn(r);
    if (r->s->date_col >= 0)
        check_date(r, p, d, row);
    if (row > 0)
        check_same(r, p, d, row);
    return TAKE_OK;
}

/* Adds the current record to p, or says it starts the next patient. */
static int take_row(logr *r, patient *p, diag_list *d)
{
    if (r->unsplit) {
        int k = fast_take(r, p, d);
        if (k != FAST_DECLINED)
            return k;
        r->unsplit = 0;
        split_record(r, r->rec_b, r->rec_len);
    }
    r->echo_ok = 0; /* this row is not stored by the fast path */
    if (r->id_pos < 0) {
        if (!r->started && !start_patient(r, p, d, r->file_id, strlen(r->file_id), 0))
            return TAKE_FATAL;
    } else {
        field id = { NULL, 0 };
        int has = row_id(r, &id);
        if (!r->started) {
            if (!start_patient(r, p, d, has ? id.p : "", has ? id.n : 0, 1))
                return TAKE_FATAL;
        } else if (has && !same_id(r, p, id)) {
            return TAKE_NEXT;
        }
    }
    if (++r->prows > LOG_MAX_ROWS && r->perr < LOG_MAX_PATIENT_ERRORS) {
        char v[SHOW_BUF];
        bad(r, d, r->rec_line, "patient '%s' has more than %d rows", show(v, p->id, strlen(p->id)),
            LOG_MAX_ROWS);
        r->perr = LOG_MAX_PATIENT_ERRORS;
    }
    if (r->perr >= LOG_MAX_PATIENT_ERRORS || row_problem(r, d))
        return TAKE_OK;
    return store_row(r, p, d) ? TAKE_OK : TAKE_FATAL;
}

static void begin_patient(logr *r, patient *p)
{
    if (p->ncols != r->s->ncols) {
        /* Row capacity was counted in rows of the old width. */
        mem_free(p->cells);
        mem_free(p->known);
        mem_free(p->line);
        p->cells = NULL;
        p->known = NULL;
        p->line = NULL;
        p->row_cap = 0;
        p->ncols = r->s->ncols;
    }
    patient_clear(p);
    p->path = r->path;
    r->started = 0;
    r->perr = 0;
    r->prows = 0;
    r->have_prev = 0;
    r->echo_ok = 0;
}

int logr_next(logr *r, patient *p, diag_list *d)
{
    if (r->dead || r->done)
        return LOGR_END;
    begin_patient(r, p);
    for (;;) {
        if (!r->pending) {
            if (r->echo_ok && echo_run(r, p, d) < 0)
                return fatal_oom(r, d);
            int k = read_record(r, d);
            if (k < 0) {
                r->dead = 1;
                return LOGR_FATAL;
            }
            if (k == 0) {
                r->done = 1;
                return !r->started ? LOGR_END : r->perr ? LOGR_BAD : LOGR_PATIENT;
            }
            r->rows++;
        }
        r->pending = 0;
        switch (take_row(r, p, d)) {
        case TAKE_NEXT:
            r->pending = 1;
            return r->perr ? LOGR_BAD : LOGR_PATIENT;
        case TAKE_FATAL:
            return fatal_oom(r, d);
        default:
            break;
        }
    }
}

/* ---- patient tables --------------------------------------------------------- */

void patient_init(patient *p) { memset(p, 0, sizeof *p); }

void patient_clear(patient *p)
{
    p->nrows = 0;
    p->text_len = 0;
    if (p->id)
        p->id[0] = '\0';
}

void patient_free(patient *p)
{
    mem_free(p->id);
    mem_free(p->cells);
    mem_free(p->known);
    mem_free(p->line);
    mem_free(p->text);
    patient_init(p);
}
