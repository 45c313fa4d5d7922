/* batch.c — evaluating whole cohorts: streamed, parallel, in input order.
 *
 * One log file flows through three roles:
 *   - cutting: a thread reads the next large block of the file and cuts it
 *     at the last patient boundary, so a block holds whole patients only;
 *     the rest is carried into the next block.  Memory is bounded by the
 *     block size and the largest patient, never by the file.
 *   - running: the thread that cut a block parses, validates and evaluates
 *     its patients and renders them into the block's own output buffer,
 *     with the block's diagnostics.  The block is still in that thread's
 *     cache; a block of 64 KiB or more that the calling thread cuts while
 *     a worker is idle is handed to the worker instead.  A smaller one (a
 *     small file is one block) stays: waking a worker costs more.
 *   - the writer (the calling thread) emits finished blocks strictly in
 *     the order they were cut, which is input order, so the output is
 *     byte-identical for any --jobs.
 * Every thread cuts from the same file in turn, under feed_mu.  With
 * jobs = 1 the calling thread does all three, on the same code path. */
#define _GNU_SOURCE /* memrchr; sched_getcpu and thread affinity, see spread_next */
#include "tendo.h"
#include "decision.h"
#include "csvlog.h"
#include "idseen.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    BLOCK_SIZE = 256 << 10,       /* bytes read per block: a block and its reader's work fit in a core's
                                     L2 cache (3 % faster than 512 KiB on the bench file) */
    PATIENT_MAX = 256 << 20,      /* bytes: a patient larger than this is reported and skipped */
    LOOK_PAST = 4096,             /* bytes read past the limit to see the next record's id, see cut_next */
    BUFFER_GRAIN = 64 << 10,      /* block buffers are sized in these steps, see take_buffer */
    AHEAD = 16,                   /* blocks per thread that may wait to be written, see drain */
    MAX_JOBS = 256
};

/* One log file: its header mapping, shared by the blocks cut from it. */
typedef struct file_ctx {
    logr *hdr;
    char *path;
    unsigned long seq;        /* unique per file, never reused */
    size_t blocks_left;       /* blocks not yet written, and the feeding thread's hold; freed at 0 */
} file_ctx;

typedef struct blk_patient {
    char *id;
    unsigned long line;      /* its first record */
    int id_checked;          /* the id takes part in the "rows together" check */
    size_t out_off, out_len; /* its output inside block.out */
    int kind;                /* decision kind, or -1 for a bad patient */
} blk_patient;

typedef struct block {
    file_ctx *fc;
    char *buf;               /* whole records, mem_alloc'd; buf[len] writable; NULL: diagnostics only */
    size_t len, cap;
    unsigned long first_line;
    unsigned long end_line;  /* the line after it, once read (0: not read) */
    int split_tail;          /* its last patient continues in the next block */
    /* results */
    char *out;               /* open_memstream buffer: libc-owned, free() */
    size_t out_len;
    diag_list diags;
    blk_patient *pts;
    size_t npts, cap_pts;
    arena ids;
    unsigned long rows;
    int oom;
    int done;                /* guarded by the pool mutex */
    struct block *next_q;    /* work queue */
    struct block *next_out;  /* writer order */
} block;

typedef struct worker {
    pthread_t th;
    struct tendo_batch *b;
    tendo_eval *ev;
    patient pt;
    logr *lr;
    unsigned long lr_seq;    /* file whose header lr borrows */
    int started;
    /* The buffer of the block this thread ran last, still in its cache:
     * the next block it cuts is read into it (see cut_next). */
    char *spare;
    size_t spare_cap;
} worker;


/* ---- cutting blocks at patient boundaries ------------------------------- */

/* Newlines in s[0..n): the line count of each block is needed before a
 * worker starts, so this runs on the reader's path. */
static size_t count_lines(const char *s, size_t n)
{
#ifdef __SSE2__
    /* Each compare gives -1 in the lanes that hold a newline; subtracting
     * it counts per lane for up to 255 steps before a lane could wrap, and
     * psadbw then sums the lanes (POPCNT is not in the x86-64 baseline; a
     * table lookup per 16-bit mask took twice the instructions).  Four
     * counters, so that the subtractions do not wait on each other: 2.3
     * -> 1.7 ms over the 20k bench file with --jobs 2. */
    const __m128i nlv = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
    size_t i = 0, c = 0;
    while (n - i >= 64) {
        size_t steps = (n - i) / 64 < 255 ? (n - i) / 64 : 255;
        __m128i a0 = zero, a1 = zero, a2 = zero, a3 = zero; /* four variables: an array stayed in memory */
        for (const char *p = s + i, *e = p + steps * 64; p < e; p += 64) {
            a0 = _mm_sub_epi8(a0, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), nlv));
            a1 = _mm_sub_epi8(a1, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), nlv));
            a2 = _mm_sub_epi8(a2, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 32)), nlv));
            a3 = _mm_sub_epi8(a3, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 48)), nlv));
        }
        /* At most 4 * 8 * 255 per half: the sums fit in 16 bits. */
        __m128i sums = _mm_add_epi64(_mm_add_epi64(_mm_sad_epu8(a0, zero), _mm_sad_epu8(a1, zero)),
                                     _mm_add_epi64(_mm_sad_epu8(a2, zero), _mm_sad_epu8(a3, zero)));
        c += (size_t)_mm_cvtsi128_si32(sums) + (size_t)_mm_extract_epi16(sums, 4);
        i += steps * 64;
    }
    for (; i < n; i++)
        c += s[i] == '\n';
    return c;
#else
    const uint64_t ones = 0x0101010101010101ull, nl = ones * '\n';
    const uint64_t low7 = ones * 0x7F, high = ones * 0x80;
    size_t i = 0, c = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t x = w ^ nl;                      /* zero bytes were newlines */
        uint64_t zero = ~((((x & low7) + low7) | x)) & high; /* 0x80 per newline byte */
        c += (size_t)(((zero >> 7) * ones) >> 56);
    }
    for (; i < n; i++)
        c += s[i] == '\n';
    return c;
#endif
}

/* Quoted spans [open, close] in a buffer that starts at a record start,
 * found by hopping from quote to quote as the reader does (a quote opens a
 * field only at its start; "" inside is an escaped quote). */
typedef struct spans {
    size_t *v;     /* pairs: open, close (SIZE_MAX when still open) */
    size_t n, cap;
} spans;

static int find_spans(const char *b, size_t n, spans *sp)
{
    sp->n = 0;
    const char *p = b, *e = b + n;
    int in_q = 0;
    while (p < e) {
        const char *q = memchr(p, '"', (size_t)(e - p));
        if (!q)
            break;
        if (!in_q) {
            if (q == b || q[-1] == ',' || q[-1] == '\n') {
                size_t *v = mem_grow(sp->v, &sp->cap, sp->n + 2, sizeof *v);
                if (!v)
                    return 0;
                sp->v = v;
                sp->v[sp->n++] = (size_t)(q - b);
                sp->v[sp->n++] = SIZE_MAX;
                in_q = 1;
            }
            p = q + 1;
        } else if (q + 1 < e && q[1] == '"') {
            p = q + 2;
        } else {
            sp->v[sp->n - 1] = (size_t)(q - b);
            in_q = 0;
            p = q + 1;
        }
    }
    return 1;
}

/* The quoted span holding offset off, or -1. */
static long span_at(const spans *sp, size_t off)
{
    size_t lo = 0, hi = sp->n / 2;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sp->v[2 * mid + 1] < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < sp->n / 2 && sp->v[2 * lo] < off ? (long)lo : -1;
}

/* Start of the record that ends just before `end` (a record start), or
 * SIZE_MAX when it starts at 0... which is returned as 0. */
static size_t record_before(const char *b, const spans *sp, size_t end)
{
    size_t lim = end - 1; /* the newline that ends the previous record */
    while (lim > 0) {
        const char *nl = memrchr(b, '\n', lim);
        if (!nl)
            return 0;
        long s = span_at(sp, (size_t)(nl - b));
        if (s < 0)
            return (size_t)(nl - b) + 1;
        lim = sp->v[2 * s]; /* a newline inside quotes: look before the quote */
    }
    return 0;
}

/* The patient id field of the record [s, e), unquoted into buf (at most
 * cap bytes kept); its whole length, or SIZE_MAX when the record has no
 * such field.  The line end is stripped as the reader strips it: one '\n',
 * then one '\r'.  *ended (when not NULL) tells whether the field ended
 * before e, at a comma or its closing quote: for a record cut off at e,
 * whether the id is all there. */
static size_t record_id(const char *s, const char *e, int pos, char *buf, size_t cap, int *ended)
{
    if (e > s && e[-1] == '\n')
        e--;
    if (e > s && e[-1] == '\r')
        e--;
    for (int f = 0; s <= e; f++) {
        size_t n = 0;
        if (s < e && *s == '"') {
            const char *p = s + 1;
            while (p < e && !(*p == '"' && (p + 1 >= e || p[1] != '"'))) {
                if (f == pos && n < cap)
                    buf[n] = *p;
                n += 1;
                p += *p == '"' ? 2 : 1;
            }
            if (f == pos && ended)
                *ended = p < e;
            s = p + 1;
            while (s < e && *s != ',')
                s++;
        } else {
            const char *c = memchr(s, ',', (size_t)(e - s));
            const char *fe = c ? c : e;
            n = (size_t)(fe - s);
            if (f == pos) {
                memcpy(buf, s, n < cap ? n : cap);
                if (ended)
                    *ended = c != NULL;
            }
            s = fe;
        }
        if (f == pos)
            return n;
        if (s >= e)
            return SIZE_MAX;
        s++; /* the comma */
    }
    return SIZE_MAX;
}

/* The reader's rule: the first LOG_MAX_ID bytes, and whether longer. */
static int same_id(const char *a, size_t la, const char *c, size_t lc)
{
    size_t ka = la < LOG_MAX_ID ? la : LOG_MAX_ID, kc = lc < LOG_MAX_ID ? lc : LOG_MAX_ID;
    return (la > LOG_MAX_ID) == (lc > LOG_MAX_ID) && ka == kc && memcmp(a, c, ka) == 0;
}

/* The end of the last record that surely ends inside b[0, n), whose
 * quoted spans sp holds; 0 when none does. */
static size_t last_record_end(const char *b, size_t n, const spans *sp)
{
    size_t lim = n;
    if (sp->n && sp->v[sp->n - 1] == SIZE_MAX)
        lim = sp->v[sp->n - 2]; /* an unfinished quoted field: cut before it */
    while (lim > 0) {
        const char *nl = memrchr(b, '\n', lim);
        if (!nl)
            return 0;
        long s = span_at(sp, (size_t)(nl - b));
        if (s < 0)
            return (size_t)(nl - b) + 1;
        lim = sp->v[2 * s];
    }
    return 0;
}

/* What find_cut saw of a window: the end of its last whole record (0:
 * none), and, when it found no cut, the id that every whole record with
 * an id carries (id_len 0: none has one). */
typedef struct window_end {
    size_t end;
    char id[LOG_MAX_ID];
    size_t id_len;
} window_end;

/* Offset where [0, cut) holds whole patients only; 0 when no patient
 * boundary is in the buffer yet.  Without a patient column a file is one
 * patient and is never cut, but its end is still found (cut_limit). */
static size_t find_cut(const char *b, size_t n, int id_pos, spans *sp, window_end *we, int *oom)
{
    we->end = we->id_len = 0;
    if (n == 0)
        return 0;
    if (!find_spans(b, n, sp)) {
        *oom = 1;
        return 0;
    }
    we->end = last_record_end(b, n, sp);
    if (we->end == 0 || id_pos < 0)
        return 0;
    /* Walk back a record at a time.  A record without an id (a blank line,
     * an empty or missing id field) belongs to the patient before it, as
     * the reader reads it, so the cut goes before the earliest record that
     * carries the last patient's id, never before an id-less record. */
    char c[LOG_MAX_ID];
    size_t cut = 0, start = we->end;
    while (start > 0) {
        size_t prev = record_before(b, sp, start);
        size_t lc = record_id(b + prev, b + start, id_pos, c, sizeof c, NULL);
        if (lc != 0 && lc != SIZE_MAX) {
            if (we->id_len == 0) {
                we->id_len = lc;
                memcpy(we->id, c, lc < sizeof c ? lc : sizeof c);
            } else if (!same_id(we->id, we->id_len, c, lc)) {
                return cut; /* c's patient ends before the last one's first record */
            }
            cut = prev;
        }
        start = prev;
    }
    return 0;
}

/* A window that has reached the patient limit without a patient boundary
 * (find_cut gave 0 and we) is cut after its last whole record, every one
 * of which is the same patient's.  Whether the record the window's end
 * cuts off is that patient's too (1: the patient is larger than the
 * limit), or names another (0: the window held one whole patient, and an
 * overlong record follows); -1 when the window ends before that record's
 * id does. */
static int cut_limit(const char *b, size_t n, int id_pos, const window_end *we)
{
    if (id_pos < 0)
        return 1; /* one patient a file */
    char c[LOG_MAX_ID];
    int ended = 0;
    size_t lc = record_id(b + we->end, b + n, id_pos, c, sizeof c, &ended);
    if (!ended)
        return -1;
    return we->id_len == 0 || lc == 0 || lc == SIZE_MAX || same_id(we->id, we->id_len, c, lc);
}

/* The file being cut: its descriptor, the bytes read but not yet cut, and
 * where they start.  Guarded by the batch's feed_mu. */
typedef struct feed {
    file_ctx *fc;
    int fd, eof, id_pos;
    char *buf;
    size_t len, cap;
    size_t want;             /* the window to cut in */
    unsigned long line;      /* of buf[0] */
    int done;                /* no more blocks: the end, or err */
    int err;                 /* errno that ended the file early, or 0 */
    int looked_past;         /* the window at the limit was widened, see cut_next */
} feed;

struct tendo_batch {
    const tendo_program *p;
    tendo_batch_opts o;
    FILE *out, *err;
    tendo_batch_stats st;
    /* pool: mu guards the queue, the write order and the counts below;
     * feed_mu the file being cut.  Lock order: feed_mu, then mu. */
    pthread_mutex_t mu, feed_mu;
    pthread_cond_t work, finished;
    block *queue_head, **queue_tail;
    int nqueued;             /* blocks in the queue */
    int stop;
    int idle;                /* workers waiting for work, whether or not one is queued for them */
    worker *w;               /* nw threads, then w[nw]: the calling thread */
    int nw;
#ifdef __linux__
    cpu_set_t cpus;          /* the process's CPUs when the workers started */
    int spread, spread_at;   /* see spread_next */
#endif
    size_t block;            /* bytes read per block */
    size_t patient_max;      /* bytes of one patient, see PATIENT_MAX */
    feed *src;               /* the file workers may cut from, or NULL */
    int src_more;            /* src has blocks left (read under mu) */
    spans sp;                /* find_cut's scratch, under feed_mu */
    /* writer order: every block cut, oldest first */
    block *out_head, **out_tail;
    size_t inflight;
    /* the writer's own (the calling thread's) */
    idseen seen;             /* per file: cleared when a file's first block is written */
    unsigned long seen_seq;  /* the file seen belongs to */
    char *prev_split_id;
    unsigned long next_seq;
    int write_failed;
    /* Block buffers come back here: reusing them avoids faulting in fresh
     * pages for every megabyte read.  Under mu. */
    struct { char *p; size_t cap; } spare[16];
    int nspare;
};

/* Sizes are rounded up to BUFFER_GRAIN because the exact need (the carried
 * tail of a patient plus a block) differs every time: with exact sizes a
 * returned buffer was almost never big enough for the next block, and the
 * pool filled with buffers that were never reused, so memory grew with the
 * number of blocks.  Rounded, ordinary blocks all share one size. */
static size_t buffer_size(size_t need)
{
    return (need + BUFFER_GRAIN - 1) / BUFFER_GRAIN * BUFFER_GRAIN;
}

static char *take_buffer(tendo_batch *b, size_t need, size_t *cap)
{
    need = buffer_size(need);
    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < b->nspare; i++) {
        if (b->spare[i].cap >= need) {
            char *p = b->spare[i].p;
            *cap = b->spare[i].cap;
            b->spare[i] = b->spare[--b->nspare];
            pthread_mutex_unlock(&b->mu);
            return p;
        }
    }
    pthread_mutex_unlock(&b->mu);
    *cap = need;
    char *p = mem_alloc(need);
    if (p)
        mem_populate(p, need);
    return p;
}

/* Only buffers that can hold a block go back to the pool: the header
 * reader's buffer of a small file (a few KiB) never could, and a pool full
 * of them made every one-block file of a folder allocate and fault in a
 * block buffer of its own. */
static void give_buffer(tendo_batch *b, char *p, size_t cap)
{
    pthread_mutex_lock(&b->mu);
    if (p && cap >= buffer_size(b->block + LOG_SLACK) && b->nspare < (int)(sizeof b->spare / sizeof b->spare[0])) {
        b->spare[b->nspare].p = p;
        b->spare[b->nspare++].cap = cap;
        p = NULL;
    }
    pthread_mutex_unlock(&b->mu);
    mem_free(p);
}

/* ---- running a block ------------------------------------------------------ */

static blk_patient *add_patient(block *k)
{
    blk_patient *v = mem_grow(k->pts, &k->cap_pts, k->npts + 1, sizeof *v);
    if (!v)
        return NULL;
    k->pts = v;
    blk_patient *bp = &v[k->npts++];
    memset(bp, 0, sizeof *bp);
    bp->kind = -1;
    return bp;
}

static int render_one(const tendo_batch *b, const tendo_decision *dec, FILE *m)
{
    if (b->o.format == TENDO_BATCH_JSONL)
        return tendo_render_json(dec, b->p, m, b->o.trace ? TENDO_RENDER_TRACE : 0);
    return tendo_render_csv(dec, b->p, m);
}

/* A worker's reader borrows the header of the block's file. */
static int bind_reader(worker *w, const block *k)
{
    if (w->lr && w->lr_seq == k->fc->seq)
        return 1;
    logr_close(w->lr);
    w->lr = logr_open_block(k->fc->hdr);
    w->lr_seq = k->fc->seq;
    return w->lr != NULL;
}

static void eval_patient(tendo_batch *b, worker *w, block *k, blk_patient *bp, FILE *m)
{
    tendo_opts eo = b->o.eval;
    eo.trace = b->o.trace;
    const tendo_decision *dec = tendo_decide(w->ev, &w->pt, &eo);
    bp->out_off = k->out_len; /* up to date: m is flushed after each patient */
    if (!dec || render_one(b, dec, m) != 0 || fflush(m) != 0) {
        diag_data(&k->diags, k->fc->path, bp->line, "out of memory evaluating patient '%s'", bp->id);
        fflush(m); /* what a failed render left lies before the next patient's offset */
        return;
    }
    bp->out_len = k->out_len - bp->out_off;
    bp->kind = (int)dec->kind;
}

static void run_block(tendo_batch *b, worker *w, block *k)
{
    if (!k->buf)
        return;
    FILE *m = open_memstream(&k->out, &k->out_len);
    if (!m || !bind_reader(w, k)) {
        if (m)
            fclose(m);
        k->oom = 1;
        return;
    }
    logr_set_block(w->lr, k->buf, k->len, k->first_line);
    unsigned long before = logr_rows(w->lr);
    for (;;) {
        int st = logr_next(w->lr, &w->pt, &k->diags);
        if (st == LOGR_END)
            break;
        blk_patient *bp = add_patient(k);
        if (!bp) {
            k->oom = 1;
            break;
        }
        if (st == LOGR_FATAL)
            break;
        const char *id = w->pt.id ? w->pt.id : "";
        bp->id = arena_strndup(&k->ids, id, strlen(id));
        bp->line = logr_patient_start(w->lr, &bp->id_checked);
        if (!bp->id) {
            k->oom = 1;
            break;
        }
        if (st == LOGR_PATIENT)
            eval_patient(b, w, k, bp, m);
    }
    k->rows = logr_rows(w->lr) - before;
    k->end_line = logr_block_end_line(w->lr);
    if (fclose(m) != 0)
        k->oom = 1;
}

/* A block's bytes are not needed once it has run (ids and messages are
 * copied): its buffer becomes w's spare. */
static void keep_buffer(tendo_batch *b, worker *w, block *k)
{
    if (!k->buf)
        return;
    give_buffer(b, w->spare, w->spare_cap);
    w->spare = k->buf;
    w->spare_cap = k->cap;
    k->buf = NULL;
}

/* Runs k on thread w, then tells the writer.  Called with mu held;
 * returns with it held. */
static void run_locked(tendo_batch *b, worker *w, block *k)
{
    pthread_mutex_unlock(&b->mu);
    run_block(b, w, k);
    keep_buffer(b, w, k);
    pthread_mutex_lock(&b->mu);
    k->done = 1;
    pthread_cond_broadcast(&b->finished);
}

/* Blocks cut and not yet written, beyond which no thread cuts another: a
 * block that has run holds only its output (some kilobytes), so the bound
 * can be loose.  It lets the workers go on while the writer is held up
 * (a long head block; on a virtual machine, its thread descheduled). */
static size_t ahead_limit(const tendo_batch *b)
{
    return (size_t)AHEAD * ((size_t)b->nw + 1);
}

static block *cut_shared(tendo_batch *b, worker *w);

/* The queue holds blocks the calling thread cut and handed to idle
 * workers.  Under mu. */
static void queue_push(tendo_batch *b, block *k)
{
    k->next_q = NULL;
    *b->queue_tail = k;
    b->queue_tail = &k->next_q;
    b->nqueued++;
}

static block *queue_pop(tendo_batch *b)
{
    block *k = b->queue_head;
    if (!k)
        return NULL;
    b->queue_head = k->next_q;
    if (!b->queue_head)
        b->queue_tail = &b->queue_head;
    b->nqueued--;
    return k;
}

/* ---- where a worker starts ------------------------------------------------ */

/* On the benchmark's virtual machine, whose guest kernel sees no shared
 * cache between its CPUs, a new thread started on its creator's CPU and,
 * waking there, stayed: the two threads of --jobs 2 shared one CPU for the
 * first 5 to 10 ms of a 50 ms run while the other idled (perf sched
 * timehist).  So each worker starts on a CPU of its own, the next allowed
 * one after the caller's, and takes the process's whole set back as soon as
 * it runs (spread_release): a hint for the first placement, not pinning. */
#ifdef __linux__
static void spread_init(tendo_batch *b)
{
    int me = sched_getcpu();
    b->spread = me >= 0 && sched_getaffinity(0, sizeof b->cpus, &b->cpus) == 0 &&
                CPU_COUNT(&b->cpus) > 1 && CPU_ISSET(me, &b->cpus);
    b->spread_at = me;
}

/* Sets at to start the next worker on the next allowed CPU, round the set.
 * 0 when there is no hint to give. */
static int spread_next(tendo_batch *b, pthread_attr_t *at)
{
    if (!b->spread)
        return 0;
    int c = b->spread_at;
    do
        c = (c + 1) % CPU_SETSIZE;
    while (!CPU_ISSET(c, &b->cpus));
    b->spread_at = c;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(c, &one);
    return pthread_attr_setaffinity_np(at, sizeof one, &one) == 0;
}

/* A failure leaves the worker on its first CPU: slower, never wrong. */
static void spread_release(tendo_batch *b)
{
    if (b->spread)
        pthread_setaffinity_np(pthread_self(), sizeof b->cpus, &b->cpus);
}
#else
static void spread_init(tendo_batch *b) { (void)b; }
static int spread_next(tendo_batch *b, pthread_attr_t *at) { (void)b, (void)at; return 0; }
static void spread_release(tendo_batch *b) { (void)b; }
#endif

static void *worker_main(void *arg);

/* Starts w's thread, on a CPU of its own if it can. */
static int start_thread(tendo_batch *b, worker *w)
{
    pthread_attr_t at;
    if (pthread_attr_init(&at) != 0)
        return pthread_create(&w->th, NULL, worker_main, w) == 0;
    int hinted = spread_next(b, &at);
    int rc = pthread_create(&w->th, &at, worker_main, w);
    pthread_attr_destroy(&at);
    if (rc != 0 && hinted) /* the CPU went offline meanwhile, say */
        rc = pthread_create(&w->th, NULL, worker_main, w);
    return rc == 0;
}

/* ---- the workers ----------------------------------------------------------- */

/* A worker runs queued blocks, else cuts its own from the file being fed
 * while the writer is not too far behind (see drain). */
static void *worker_main(void *arg)
{
    worker *w = arg;
    tendo_batch *b = w->b;
    spread_release(b);
    pthread_mutex_lock(&b->mu);
    for (;;) {
        block *k = queue_pop(b);
        if (!k && b->src_more && b->inflight <= ahead_limit(b)) {
            pthread_mutex_unlock(&b->mu);
            k = cut_shared(b, w);
            pthread_mutex_lock(&b->mu);
            if (!k)
                continue;
        }
        if (k) {
            run_locked(b, w, k);
            continue;
        }
        if (b->stop)
            break;
        b->idle++;
        pthread_cond_wait(&b->work, &b->mu);
        b->idle--;
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- the writer ---------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(tendo_batch *b)
{
    if (!b->o.progress)
        return;
    double dt = now_s() - b->st.t_start;
    fprintf(b->o.progress, "\rtendo batch: %lu patients, %lu skipped, %lu rows, %.0f rows/s ",
            b->st.patients, b->st.skipped, b->st.rows, dt > 0 ? (double)b->st.rows / dt : 0.0);
    fflush(b->o.progress);
}

/* Drops one hold on fc: a block not yet written, or the feeding thread's;
 * the last frees it. */
static void release_file(tendo_batch *b, file_ctx *fc)
{
    pthread_mutex_lock(&b->mu);
    int last = --fc->blocks_left == 0;
    pthread_mutex_unlock(&b->mu);
    if (!last)
        return;
    logr_close(fc->hdr);
    mem_free(fc->path);
    mem_free(fc);
}

static void free_block(tendo_batch *b, block *k)
{
    give_buffer(b, k->buf, k->cap);
    free(k->out); /* from open_memstream: libc's */
    diag_free(&k->diags);
    mem_free(k->pts);
    arena_free(&k->ids);
    file_ctx *fc = k->fc;
    mem_free(k);
    if (fc)
        release_file(b, fc);
}

/* Every patient's id is recorded, good or bad, as the whole-file reader
 * does: a patient skipped for a bad row that comes back later must not be
 * decided on the rows after its return.  0 when the patient is skipped
 * here.  A return within one block has been reported by the block's
 * reader, which skipped it. */
static int seen_check(tendo_batch *b, block *k, blk_patient *bp)
{
    unsigned long first = 0;
    int a = idseen_add(&b->seen, bp->id, strlen(bp->id), bp->line, &first);
    if (a == 0 && first < k->first_line)
        fprintf(b->err, "%s:%lu: error: rows for patient '%s' are not together: it already appeared at line %lu\n",
                k->fc->path, bp->line, bp->id, first);
    else if (a < 0)
        fprintf(b->err, "%s:%lu: error: out of memory\n", k->fc->path, bp->line);
    return a > 0;
}

/* The patient limit in a message: whole MiB as such, else bytes (tests
 * set small ones). */
static const char *limit_text(const tendo_batch *b, char buf[32])
{
    size_t n = b->patient_max;
    snprintf(buf, 32, n % (1u << 20) ? "%zu bytes" : "%zu MiB", n % (1u << 20) ? n : n >> 20);
    return buf;
}

/* A patient cut at the limit (cut_limit) ends one block and goes on at
 * the start of the next (or of several).  Its first part was evaluated on
 * some of its rows only: that decision is dropped and the patient
 * reported; the rest is dropped without a word, as it was counted and
 * reported with its first part. */
static int continues_split(const tendo_batch *b, const block *k, size_t i)
{
    return i == 0 && b->prev_split_id && strcmp(k->pts[0].id, b->prev_split_id) == 0;
}

static void report_split(const tendo_batch *b, const block *k, const blk_patient *bp)
{
    char lim[32];
    fprintf(b->err, "%s:%lu: error: patient '%s' is larger than the batch limit of %s: skipped\n", k->fc->path,
            bp->line, bp->id, limit_text(b, lim));
}

/* Counts k's patient i as written or skipped; 0 when it is skipped. */
static int emit_patient(tendo_batch *b, block *k, size_t i)
{
    blk_patient *bp = &k->pts[i];
    if (continues_split(b, k, i))
        return 0;
    if (bp->id_checked && !seen_check(b, k, bp))
        bp->kind = -1;
    if (k->split_tail && i + 1 == k->npts) {
        report_split(b, k, bp);
        bp->kind = -1;
    }
    if (bp->kind < 0) {
        b->st.skipped++;
        return 0;
    }
    b->st.patients++;
    b->st.by_kind[bp->kind]++;
    return 1;
}

/* Writes k->out[from, to).  A block without records has no buffer at all,
 * and NULL + 0 is undefined in C (clang's UBSan flags it; fuzz_batch found
 * it on an empty log), so the pointer is formed only when there are bytes. */
static void put_run(tendo_batch *b, const block *k, size_t from, size_t to)
{
    if (to > from && fwrite(k->out + from, 1, to - from, b->out) != to - from)
        b->write_failed = 1;
}

static void write_block(tendo_batch *b, block *k)
{
    if (k->fc->seq != b->seen_seq) {
        /* A new file: its patients may repeat ids of another file's. */
        idseen_clear(&b->seen);
        mem_free(b->prev_split_id);
        b->prev_split_id = NULL;
        b->seen_seq = k->fc->seq;
    }
    diag_print(&k->diags, b->err);
    if (k->oom)
        fprintf(b->err, "%s:%lu: error: out of memory in this part of the log: its patients were skipped\n",
                k->fc->path, k->first_line);
    /* The patients' records lie in order in k->out: those written go out
     * in one fwrite per run between skipped ones. */
    size_t from = 0, to = 0;
    for (size_t i = 0; i < k->npts; i++) {
        blk_patient *bp = &k->pts[i];
        if (!emit_patient(b, k, i) || !bp->out_len)
            continue;
        if (bp->out_off != to) {
            put_run(b, k, from, to);
            from = bp->out_off;
        }
        to = bp->out_off + bp->out_len;
    }
    put_run(b, k, from, to);
    b->st.rows += k->rows;
    mem_free(b->prev_split_id);
    b->prev_split_id = NULL;
    if (k->split_tail && k->npts)
        b->prev_split_id = mem_strdup(k->pts[k->npts - 1].id);
    progress(b);
    free_block(b, k);
}

/* Runs one queued block on the calling thread, so it evaluates instead of
 * waiting when the workers are behind.  Called with mu held; returns with
 * it held.  0 when the queue was empty. */
static int steal(tendo_batch *b)
{
    block *k = queue_pop(b);
    if (!k)
        return 0;
    run_locked(b, &b->w[b->nw], k);
    return 1;
}

/* Writes finished blocks in order; with `all`, waits for every block, else
 * waits (or evaluates a queued block) only while more than ahead_limit
 * blocks are in flight.  Workers stop cutting at that bound too, and are
 * woken when blocks are written. */
static void drain(tendo_batch *b, int all)
{
    pthread_mutex_lock(&b->mu);
    while (b->out_head) {
        block *k = b->out_head;
        while (!k->done && (all || b->inflight > ahead_limit(b)))
            if (!steal(b))
                pthread_cond_wait(&b->finished, &b->mu);
        if (!k->done)
            break;
        b->out_head = k->next_out;
        if (!b->out_head)
            b->out_tail = &b->out_head;
        b->inflight--;
        if (b->idle && b->src_more)
            pthread_cond_signal(&b->work);
        pthread_mutex_unlock(&b->mu);
        write_block(b, k);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
}

/* Appends k to the write order.  Called with mu held. */
static void add_out(tendo_batch *b, block *k)
{
    k->fc->blocks_left++;
    k->next_out = NULL;
    *b->out_tail = k;
    b->out_tail = &k->next_out;
    b->inflight++;
}

static block *new_block(file_ctx *fc)
{
    block *k = mem_calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->fc = fc;
    diag_init(&k->diags);
    arena_init(&k->ids);
    return k;
}

/* ---- cutting a file into blocks ------------------------------------------ */

/* Read until `want` more bytes are buffered or the file ends. */
static int fill(int fd, char **buf, size_t *len, size_t *cap, size_t want, int *eof, int *err)
{
    if (*len + want + LOG_SLACK > *cap) {
        size_t nc = *cap ? *cap : BLOCK_SIZE;
        while (nc < *len + want + LOG_SLACK)
            nc *= 2;
        char *nb = mem_realloc(*buf, nc);
        if (!nb)
            return *err = ENOMEM, 0;
        mem_populate(nb, nc);
        *buf = nb;
        *cap = nc;
    }
    /* No more than `want`: the block size is the caller's to choose (the
     * differential fuzz target sets it to a few bytes). */
    size_t goal = *len + want;
    while (*len < goal && !*eof) {
        ssize_t n = read(fd, *buf + *len, goal - *len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return *err = errno, 0;
        if (n == 0)
            *eof = 1;
        *len += (size_t)n;
    }
    memset(*buf + *len, 0, LOG_SLACK); /* see LOG_SLACK: scans read past the data */
    return 1;
}

/* [0, cut) of f's buffer as a block; the rest is carried into a fresh
 * buffer, unless there is none and the file is done (every small file:
 * taking a block buffer for nothing cost each file of a folder its own).
 * NULL (f->err set) when out of memory. */
static block *cut_at(tendo_batch *b, feed *f, size_t cut, int split)
{
    size_t rest = f->len - cut, ncap = 0;
    int carry = rest || !f->done;
    block *k = new_block(f->fc);
    char *nb = carry ? take_buffer(b, rest + b->block + LOG_SLACK, &ncap) : NULL;
    if (!k || (carry && !nb)) {
        mem_free(k);
        mem_free(nb);
        f->err = ENOMEM;
        return NULL;
    }
    if (nb) {
        memcpy(nb, f->buf + cut, rest);
        memset(nb + rest, 0, LOG_SLACK);
    }
    k->buf = f->buf;
    k->cap = f->cap;
    k->len = cut;
    k->first_line = f->line;
    k->split_tail = split;
    f->buf = nb;
    f->len = rest;
    f->cap = ncap;
    return k;
}

/* The bytes carried from the last cut move into w's spare before more are
 * read: a buffer w has just run is still in its cache, so the read's copy
 * and the cut's scan hit it (on the 20k bench file --jobs 2 spent about a
 * quarter longer reading into whichever pool buffer came next). */
static void hot_buffer(feed *f, worker *w)
{
    if (!w->spare || w->spare_cap < f->len + f->want + LOG_SLACK)
        return;
    memcpy(w->spare, f->buf, f->len);
    char *p = f->buf;
    size_t cap = f->cap;
    f->buf = w->spare;
    f->cap = w->spare_cap;
    w->spare = p;
    w->spare_cap = cap;
}

/* The next block of f: at most b->block bytes ending at a patient
 * boundary; only a patient larger than a block makes one larger.  The
 * window, not the buffer, bounds a block: the header reader may have read
 * far ahead already (a whole small file).  NULL when the file is done, at
 * its end or on an error (f->err). */
static block *cut_next(tendo_batch *b, feed *f, worker *w)
{
    block *k = NULL;
    while (!f->done && !k) {
        if (!f->eof && f->len < f->want) {
            hot_buffer(f, w);
            if (!fill(f->fd, &f->buf, &f->len, &f->cap, f->want - f->len, &f->eof, &f->err))
                break;
        }
        if (f->eof && f->len <= f->want) {
            f->done = 1;
            return f->len ? cut_at(b, f, f->len, 0) : NULL;
        }
        int oom = 0;
        window_end we;
        size_t cut = find_cut(f->buf, f->want, f->id_pos, &b->sp, &we, &oom);
        if (oom) {
            f->err = ENOMEM;
            break;
        }
        if (cut > 0) {
            k = cut_at(b, f, cut, 0);
            f->want = b->block;
            f->looked_past = 0;
        } else if (f->want >= b->patient_max) {
            /* No patient boundary within the limit: cut after the last
             * whole record; the writer reports a patient that goes on past
             * it (cut_limit tells). */
            int split = cut_limit(f->buf, f->want, f->id_pos, &we);
            if (split < 0 && !f->looked_past) {
                /* The next record's id is cut off: look a little further,
                 * rather than take a patient just under the limit for one
                 * larger. */
                f->looked_past = 1;
                f->want += LOOK_PAST;
                continue;
            }
            f->looked_past = 0;
            if (we.end == 0) {
                f->err = EFBIG;
                break;
            }
            k = cut_at(b, f, we.end, split != 0);
        } else {
            f->want *= 2; /* no boundary in the window yet: look at twice as much */
        }
        if (!k && f->err)
            break;
    }
    if (!k)
        f->done = 1;
    return k;
}

/* Cuts the next block of the file being fed, in write order.  A block may
 * be run before the one before it, so its first line is counted here.
 * NULL when the file is done.  Called without mu. */
static block *cut_shared(tendo_batch *b, worker *w)
{
    pthread_mutex_lock(&b->feed_mu);
    feed *f = b->src;
    block *k = f ? cut_next(b, f, w) : NULL;
    if (k)
        f->line += count_lines(k->buf, k->len);
    pthread_mutex_lock(&b->mu);
    if (k)
        add_out(b, k);
    /* Cleared as soon as the last block is cut, not when a thread finds
     * nothing left: a small file is one block, and every wake-up of a
     * worker that finds nothing costs more than the block's work. */
    b->src_more = k && !f->done;
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_unlock(&b->feed_mu);
    return k;
}

/* jobs 1: each block is run and written as soon as it is cut, and its
 * reader tells the line where the next one starts. */
static void feed_alone(tendo_batch *b, feed *f)
{
    block *k;
    worker *w = &b->w[0];
    while ((k = cut_next(b, f, w))) {
        k->fc->blocks_left++;
        run_block(b, w, k);
        /* Not read (out of memory before its reader started): the buffer
         * is as it came. */
        f->line = k->end_line ? k->end_line : k->first_line + count_lines(k->buf, k->len);
        keep_buffer(b, w, k);
        write_block(b, k);
    }
}

/* Whether f is known to hold more than one block: more bytes than a
 * window already read, or a regular file larger than one (with its header
 * line, so a file just over a window may still be one block: a worker
 * woken for nothing, once).  A pipe is not known until its first block is
 * cut. */
static int known_large(const feed *f)
{
    if (f->eof || f->len > f->want)
        return f->len > f->want;
    long long size = logr_file_size(f->fc->hdr);
    return size >= 0 && (unsigned long long)size > f->want;
}

/* With workers: the calling thread cuts and runs blocks like them, but
 * hands a block to an idle worker instead, and writes between blocks. */
static void feed_shared(tendo_batch *b, feed *f)
{
    pthread_mutex_lock(&b->feed_mu);
    pthread_mutex_lock(&b->mu);
    b->src = f;
    b->src_more = 1;
    /* Idle workers are called only for a file of more than one block: a
     * small file is one block, and waking a worker costs more than its
     * work (a folder of 5,000 one-patient files took 113 ms with --jobs 2
     * against 72 with --jobs 1, with 2,600 context switches). */
    int woken = known_large(f);
    if (woken)
        pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_unlock(&b->feed_mu);
    block *k;
    while ((k = cut_shared(b, &b->w[b->nw]))) {
        pthread_mutex_lock(&b->mu);
        if (!woken && b->src_more) {
            pthread_cond_broadcast(&b->work);
            woken = 1;
        }
        /* A worker stays counted idle until it wakes, which on a busy
         * machine can take milliseconds.  Queueing every block cut
         * meanwhile let up to ahead_limit unread blocks pile up, each
         * holding its input buffer (peak RSS up to 14 MiB instead of 6 in
         * 5 of 30 --jobs 2 runs on the 20k bench file), so an idle worker
         * is handed one block, and the calling thread runs the rest.  Not
         * a small one (under a quarter of a block, 64 KiB): its work is
         * less than the wake-up (one-patient files: 2,600 context switches
         * for 5,000 files).  Relative to the block size, so that the tests'
         * tiny blocks still take this path. */
        if (b->idle > b->nqueued && k->len >= b->block / 4) {
            queue_push(b, k);
            pthread_cond_signal(&b->work);
        } else {
            run_locked(b, &b->w[b->nw], k);
        }
        pthread_mutex_unlock(&b->mu);
        drain(b, 0);
    }
    pthread_mutex_lock(&b->feed_mu);
    pthread_mutex_lock(&b->mu);
    b->src = NULL;
    b->src_more = 0;
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_unlock(&b->feed_mu);
}

/* A block that carries only diagnostics, so file-level errors appear in
 * input order with everything else. */
static void report_file(tendo_batch *b, file_ctx *fc, diag_list *d)
{
    block *k = new_block(fc);
    if (!k) {
        diag_print(d, b->err);
        return;
    }
    diag_list tmp = k->diags;
    k->diags = *d;
    *d = tmp;
    pthread_mutex_lock(&b->mu);
    k->done = 1;
    if (b->nw)
        add_out(b, k);
    else
        fc->blocks_left++;
    pthread_mutex_unlock(&b->mu);
    if (b->nw)
        drain(b, 0);
    else
        write_block(b, k);
}

/* Why the file ended early, at the line it was read to. */
static void report_feed_error(const tendo_batch *b, const file_ctx *fc, diag_list *d, const feed *f)
{
    char lim[32];
    if (f->err == EFBIG)
        diag_data(d, fc->path, f->line, "a record longer than the batch limit of %s: the rest of the file was not read",
                  limit_text(b, lim));
    else
        diag_data(d, fc->path, f->line, "%s", f->err == ENOMEM ? "out of memory" : strerror(f->err));
}

int tendo_batch_add(tendo_batch *b, const char *path)
{
    file_ctx *fc = mem_calloc(1, sizeof *fc);
    char *pc = mem_strdup(path);
    if (!fc || !pc) {
        mem_free(fc);
        mem_free(pc);
        fprintf(b->err, "%s: error: out of memory\n", path);
        b->st.files_failed++;
        return -1;
    }
    fc->path = pc;
    fc->seq = ++b->next_seq;
    fc->blocks_left = 1; /* this thread's hold, while it feeds and reports */
    b->st.files++;

    diag_list d;
    diag_init(&d);
    fc->hdr = logr_open(&b->p->sch, fc->path, &d);
    feed f = { .fc = fc, .fd = -1, .want = b->block };
    int rc = 0;
    if (fc->hdr && logr_take_rest(fc->hdr, &f.buf, &f.len, &f.cap, &f.fd, &f.eof, &f.line)) {
        f.id_pos = logr_id_pos(fc->hdr);
        if (b->nw)
            feed_shared(b, &f);
        else
            feed_alone(b, &f);
        if (f.err) {
            report_feed_error(b, fc, &d, &f);
            rc = -1;
        }
    } else {
        rc = -1;
    }
    if (f.fd > STDIN_FILENO)
        close(f.fd);
    mem_free(f.buf);
    if (rc)
        b->st.files_failed++;
    if (d.n || d.nerrors)
        report_file(b, fc, &d);
    diag_free(&d);
    release_file(b, fc);
    return rc;
}

/* ---- life cycle ------------------------------------------------------------ */

static int start_worker(tendo_batch *b, worker *w)
{
    w->b = b;
    w->ev = tendo_eval_new(b->p);
    patient_init(&w->pt);
    return w->ev != NULL;
}

static void end_worker(worker *w)
{
    mem_free(w->spare);
    tendo_eval_free(w->ev);
    patient_free(&w->pt);
    logr_close(w->lr);
}

tendo_batch *tendo_batch_new(const tendo_program *p, const tendo_batch_opts *o, FILE *out, FILE *err)
{
    tendo_batch *b = mem_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->p = p;
    b->o = *o;
    b->out = out;
    b->err = err;
    b->queue_tail = &b->queue_head;
    b->out_tail = &b->out_head;
    b->st.t_start = now_s();
    idseen_init(&b->seen);
    int jobs = o->jobs < 1 ? 1 : o->jobs > MAX_JOBS ? MAX_JOBS : o->jobs;
    /* The calling thread cuts, evaluates and writes too, so jobs threads
     * evaluate in all, and each evaluates the blocks it cut while they are
     * still in its cache (docs/performance.md). */
    b->nw = jobs - 1;
    b->block = o->block_size ? o->block_size : BLOCK_SIZE;
    b->patient_max = o->patient_max ? o->patient_max : PATIENT_MAX;
    b->w = mem_calloc((size_t)b->nw + 1, sizeof *b->w); /* w[nw]: the calling thread */
    if (!b->w || pthread_mutex_init(&b->mu, NULL) != 0) {
        mem_free(b->w);
        mem_free(b);
        return NULL;
    }
    pthread_mutex_init(&b->feed_mu, NULL);
    pthread_cond_init(&b->work, NULL);
    pthread_cond_init(&b->finished, NULL);
    int ok = 1;
    if (b->nw)
        spread_init(b);
    for (int i = 0; i <= b->nw && ok; i++) {
        ok = start_worker(b, &b->w[i]);
        if (ok && i < b->nw)
            ok = start_thread(b, &b->w[i]);
        b->w[i].started = ok;
    }
    if (!ok) {
        tendo_batch_free(b);
        return NULL;
    }
    if (o->format == TENDO_BATCH_CSV && tendo_render_csv_header(out) != 0)
        b->write_failed = 1;
    return b;
}

int tendo_batch_finish(tendo_batch *b, tendo_batch_stats *st)
{
    drain(b, 1);
    b->st.seconds = now_s() - b->st.t_start;
    if (b->o.progress) {
        fputs("\r\033[K", b->o.progress);
        fflush(b->o.progress);
    }
    if (fflush(b->out) != 0 || ferror(b->out))
        b->write_failed = 1;
    *st = b->st;
    return b->write_failed ? -1 : 0;
}

void tendo_batch_free(tendo_batch *b)
{
    if (!b)
        return;
    drain(b, 1);
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i <= b->nw; i++) {
        if (i < b->nw && b->w[i].started)
            pthread_join(b->w[i].th, NULL);
        end_worker(&b->w[i]);
    }
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->finished);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->feed_mu);
    idseen_free(&b->seen);
    mem_free(b->prev_split_id);
    mem_free(b->sp.v);
    for (int i = 0; i < b->nspare; i++)
        mem_free(b->spare[i].p);
    mem_free(b->w);
    mem_free(b);
}
