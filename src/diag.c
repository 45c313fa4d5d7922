/* diag.c — diagnostic records and their compiler-style rendering. */
#include "diag.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

void diag_init(diag_list *d)
{
    memset(d, 0, sizeof *d);
    d->max_errors = 100;
}

void diag_free(diag_list *d)
{
    for (size_t i = 0; i < d->nfiles; i++) {
        mem_free(d->files[i].path);
        mem_free(d->files[i].text);
        mem_free(d->files[i].line_start);
    }
    mem_free(d->files);
    for (size_t i = 0; i < d->n; i++) {
        mem_free(d->items[i].msg);
        mem_free(d->items[i].path);
    }
    mem_free(d->items);
    memset(d, 0, sizeof *d);
}

uint32_t diag_add_file(diag_list *d, const char *path, char *text, size_t len)
{
    src_file *f = mem_grow(d->files, &d->cap_files, d->nfiles + 1, sizeof *f);
    char *p = mem_strdup(path);
    if (!f || !p || d->nfiles >= SRC_NONE) {
        if (f)
            d->files = f;
        mem_free(p);
        mem_free(text);
        d->oom = 1;
        return SRC_NONE;
    }
    d->files = f;
    f[d->nfiles] = (src_file){ .path = p, .text = text, .len = len };
    return (uint32_t)d->nfiles++;
}

static char *vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *s = mem_alloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static diag *push(diag_list *d, diag_severity sev)
{
    if (sev == DIAG_ERROR) {
        d->nerrors++;
        if (d->max_errors && d->nerrors > d->max_errors)
            return NULL; /* counted, not recorded: the list stays readable */
    }
    diag *items = mem_grow(d->items, &d->cap, d->n + 1, sizeof *items);
    if (!items) {
        d->oom = 1;
        return NULL;
    }
    d->items = items;
    diag *g = &items[d->n];
    memset(g, 0, sizeof *g);
    g->sev = sev;
    g->loc.file = SRC_NONE;
    return g;
}

void diag_vat(diag_list *d, diag_severity sev, src_loc loc, const char *fmt, va_list ap)
{
    diag *g = push(d, sev);
    if (!g)
        return;
    g->loc = loc;
    g->msg = vformat(fmt, ap);
    if (!g->msg) {
        d->oom = 1;
        return;
    }
    d->n++;
}

void diag_at(diag_list *d, diag_severity sev, src_loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vat(d, sev, loc, fmt, ap);
    va_end(ap);
}

void diag_data(diag_list *d, const char *path, unsigned long line, const char *fmt, ...)
{
    diag *g = push(d, DIAG_ERROR);
    if (!g)
        return;
    va_list ap;
    va_start(ap, fmt);
    g->msg = vformat(fmt, ap);
    va_end(ap);
    g->path = path ? mem_strdup(path) : NULL;
    g->line = line;
    if (!g->msg || (path && !g->path)) {
        mem_free(g->msg);
        mem_free(g->path);
        d->oom = 1;
        return;
    }
    d->n++;
}

void diag_plain(diag_list *d, const char *fmt, ...)
{
    diag *g = push(d, DIAG_ERROR);
    if (!g)
        return;
    va_list ap;
    va_start(ap, fmt);
    g->msg = vformat(fmt, ap);
    va_end(ap);
    if (!g->msg) {
        d->oom = 1;
        return;
    }
    d->n++;
}

void diag_truncate(diag_list *d, size_t n)
{
    while (d->n > n) {
        diag *g = &d->items[--d->n];
        if (g->sev == DIAG_ERROR && d->nerrors)
            d->nerrors--;
        mem_free(g->msg);
        mem_free(g->path);
    }
}

static int build_lines(src_file *f)
{
    if (f->line_start)
        return 1;
    size_t n = 1;
    for (size_t i = 0; i < f->len; i++)
        n += f->text[i] == '\n';
    f->line_start = mem_array(n, sizeof *f->line_start);
    if (!f->line_start)
        return 0;
    size_t k = 0;
    f->line_start[k++] = 0;
    for (size_t i = 0; i < f->len; i++)
        if (f->text[i] == '\n')
            f->line_start[k++] = (uint32_t)(i + 1);
    f->nlines = n;
    return 1;
}

/* Index of the line holding byte off (binary search over line starts). */
static size_t line_index(const src_file *f, uint32_t off)
{
    size_t lo = 0, hi = f->nlines;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->line_start[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Characters, not bytes: a UTF-8 continuation byte does not start a column. */
static unsigned count_chars(const char *s, size_t n)
{
    unsigned c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

void diag_linecol(diag_list *d, uint32_t file, uint32_t off, unsigned *line, unsigned *col)
{
    *line = *col = 0;
    if (file >= d->nfiles)
        return;
    src_file *f = &d->files[file];
    if (off > f->len)
        off = (uint32_t)f->len;
    if (!build_lines(f)) {
        d->oom = 1; /* a line number of 0 must not pass for a real one */
        return;
    }
    size_t li = line_index(f, off);
    *line = (unsigned)li + 1;
    *col = count_chars(f->text + f->line_start[li], off - f->line_start[li]) + 1;
}

static const char *sev_name(diag_severity s)
{
    return s == DIAG_ERROR ? "error" : s == DIAG_WARNING ? "warning" : "note";
}

/* The source line, then a caret under the start and tildes to the end of the
 * range (clipped to the line); tabs are kept so the caret lines up. */
static void print_excerpt(src_file *f, uint32_t start, uint32_t end, FILE *out)
{
    size_t li = line_index(f, start);
    size_t ls = f->line_start[li];
    size_t le = ls;
    while (le < f->len && f->text[le] != '\n' && f->text[le] != '\r')
        le++;
    enum { MAX_SHOWN = 300 }; /* a 2 MB line is not echoed whole */
    size_t shown_end = le - ls > MAX_SHOWN ? ls + MAX_SHOWN : le;
    fputs("  ", out);
    for (size_t i = ls; i < shown_end; i++) {
        unsigned char c = (unsigned char)f->text[i];
        fputc(c == '\t' || c >= 0x20 ? c : '?', out);
    }
    if (shown_end < le)
        fputs("...", out);
    fputs("\n  ", out);
    size_t s = start < shown_end ? start : shown_end;
    for (size_t i = ls; i < s; i++) {
        unsigned char c = (unsigned char)f->text[i];
        if ((c & 0xC0) != 0x80)
            fputc(c == '\t' ? '\t' : ' ', out);
    }
    fputc('^', out);
    size_t e = end < shown_end ? end : shown_end;
    for (size_t i = s + 1; i < e; i++)
        if (((unsigned char)f->text[i] & 0xC0) != 0x80)
            fputc('~', out);
    fputc('\n', out);
}

void diag_print_one(diag_list *d, const diag *g, FILE *out)
{
    if (g->loc.file != SRC_NONE && g->loc.file < d->nfiles) {
        src_file *f = &d->files[g->loc.file];
        unsigned line, col;
        diag_linecol(d, g->loc.file, g->loc.start, &line, &col);
        fprintf(out, "%s:%u:%u: %s: %s\n", f->path, line, col, sev_name(g->sev), g->msg);
        if (f->line_start)
            print_excerpt(f, g->loc.start, g->loc.end, out);
    } else if (g->path && g->line) {
        fprintf(out, "%s:%lu: %s: %s\n", g->path, g->line, sev_name(g->sev), g->msg);
    } else if (g->path) {
        fprintf(out, "%s: %s: %s\n", g->path, sev_name(g->sev), g->msg);
    } else {
        fprintf(out, "tendo: %s: %s\n", sev_name(g->sev), g->msg);
    }
}

void diag_print(diag_list *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++)
        diag_print_one(d, &d->items[i], out);
    if (d->max_errors && d->nerrors > d->max_errors)
        fprintf(out, "tendo: note: %zu more errors not shown\n", d->nerrors - d->max_errors);
    if (d->oom)
        fprintf(out, "tendo: error: out of memory while reporting errors\n");
}

size_t diag_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return cap + 1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        size_t best = row[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
            if (row[j] < best)
                best = row[j];
        }
        if (best > cap)
            return cap + 1;
    }
    return row[lb];
}
