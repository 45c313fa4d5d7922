/* render_csv.c — one decision as one CSV row, for spreadsheets and batch
 * summaries.  Fields are quoted RFC 4180 style only when they need it
 * (a comma, a quote, CR or LF).  The row is assembled in a small buffer
 * that is flushed whenever it fills, so a long referral or path never
 * meets a fixed limit, and a batch pays for one fwrite a patient instead
 * of one for every field and separator. */
#include <string.h>

#include "date.h"
#include "tendo.h"
#include "view.h"

typedef struct line {
    FILE *out;
    size_t len;
    char buf[512];
} line;

static void flush(line *l)
{
    fwrite(l->buf, 1, l->len, l->out);
    l->len = 0;
}

static void put(line *l, const char *s, size_t n)
{
    if (l->len + n > sizeof l->buf) {
        flush(l);
        if (n > sizeof l->buf) {
            fwrite(s, 1, n, l->out);
            return;
        }
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_char(line *l, char c)
{
    if (l->len == sizeof l->buf)
        flush(l);
    l->buf[l->len++] = c;
}

static int needs_quotes(const char *s)
{
    return s && strpbrk(s, ",\"\r\n") != NULL;
}

/* One part of a field: as it is, or inside quotes with every quote
 * doubled. */
static void put_part(line *l, const char *s, int quoted)
{
    if (!s)
        return;
    if (!quoted) {
        put(l, s, strlen(s));
        return;
    }
    for (;;) {
        const char *q = strchr(s, '"');
        size_t n = q ? (size_t)(q - s) + 1 : strlen(s);
        put(l, s, n);
        if (!q)
            return;
        put_char(l, '"');
        s = q + 1;
    }
}

/* One field made of parts joined by sep (flags joined by ";", or a rule's
 * file, ":" and line): quoted as a whole when any part needs it. */
static void put_field(line *l, const char *const *parts, size_t n, const char *sep, int first)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        quote |= needs_quotes(parts[i]);
    if (!first)
        put_char(l, ',');
    if (quote)
        put_char(l, '"');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            put_part(l, sep, quote);
        put_part(l, parts[i], quote);
    }
    if (quote)
        put_char(l, '"');
}

static void put_one(line *l, const char *s)
{
    put_field(l, &s, s ? 1 : 0, "", 0);
}

/* "file:line", empty when nothing fired. */
static void put_rule(line *l, const rule *r)
{
    if (!r) {
        put_one(l, NULL);
        return;
    }
    char num[24], *e = num + sizeof num, *d = e;
    unsigned v = r->line;
    *--d = '\0';
    do
        *--d = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    const char *parts[] = { r->file ? r->file : "?", ":", d };
    put_field(l, parts, 3, "", 0);
}

int tendo_render_csv_header(FILE *out)
{
    if (!out)
        return -1;
    fputs("patient,as_of,stage,decision,next_stage,volume,urgent,refer,flags,rule,"
          "rules_sha256\n", out);
    return ferror(out) ? -1 : 0;
}

int tendo_render_csv(const tendo_decision *dec, const tendo_program *p, FILE *out)
{
    if (!dec || !p || !out)
        return -1;
    char day[11], volume[32];
    date_format(dec->as_of, day);
    view_num(volume, sizeof volume, dec->volume);
    line l = { .out = out, .len = 0 };
    const char *id = dec->patient;
    put_field(&l, &id, id ? 1 : 0, "", 1);
    put_one(&l, day);
    put_one(&l, view_stage_name(p, dec->stage));
    put_one(&l, kind_name(dec->kind));
    put_one(&l, view_stage_name(p, dec->next_stage));
    put_one(&l, volume);
    put_one(&l, dec->urgent ? "yes" : "no");
    put_one(&l, dec->refer);
    put_field(&l, dec->flags, dec->nflags, ";", 0);
    put_rule(&l, dec->rule);
    put_char(&l, ',');
    put(&l, p->sha256, strlen(p->sha256)); /* hex digits: never quoted */
    put_char(&l, '\n');
    flush(&l);
    return ferror(out) ? -1 : 0;
}
