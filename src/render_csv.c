/* render_csv.c — one decision as one CSV row, for spreadsheets and batch
 * summaries.  Fields are quoted RFC 4180 style only when they need it
 * (a comma, a quote, CR or LF), and written straight to the stream, so a
 * long referral or path never meets a fixed buffer. */
#include <string.h>

#include "date.h"
#include "tendo.h"
#include "view.h"

static int needs_quotes(const char *s)
{
    return s && strpbrk(s, ",\"\r\n") != NULL;
}

/* Writes s with every quote doubled (the inside of a quoted field), a run
 * between quotes at a time: this view writes a line per patient in batch. */
static void put_escaped(FILE *out, const char *s)
{
    while (s && *s) {
        const char *q = strchr(s, '"');
        size_t n = q ? (size_t)(q - s) + 1 : strlen(s);
        fwrite(s, 1, n, out);
        if (!q)
            return;
        fputc('"', out);
        s = q + 1;
    }
}

/* One field made of parts joined by sep (flags joined by ";", or a rule's
 * file, ":" and line): quoted as a whole when any part needs it. */
static void put_field(FILE *out, const char *const *parts, size_t n, const char *sep, int first)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        quote |= needs_quotes(parts[i]);
    if (!first)
        fputc(',', out);
    if (quote)
        fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            put_escaped(out, sep);
        put_escaped(out, parts[i]);
    }
    if (quote)
        fputc('"', out);
}

static void put_one(FILE *out, const char *s)
{
    put_field(out, &s, s ? 1 : 0, "", 0);
}

/* "file:line", empty when nothing fired. */
static void put_rule(FILE *out, const rule *r)
{
    if (!r) {
        put_one(out, NULL);
        return;
    }
    char line[24];
    snprintf(line, sizeof line, "%u", r->line);
    const char *parts[] = { r->file ? r->file : "?", ":", line };
    put_field(out, parts, 3, "", 0);
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
    const char *id = dec->patient;
    put_field(out, &id, id ? 1 : 0, "", 1);
    put_one(out, day);
    put_one(out, view_stage_name(p, dec->stage));
    put_one(out, kind_name(dec->kind));
    put_one(out, view_stage_name(p, dec->next_stage));
    put_one(out, volume);
    put_one(out, dec->urgent ? "yes" : "no");
    put_one(out, dec->refer);
    put_field(out, dec->flags, dec->nflags, ";", 0);
    put_rule(out, dec->rule);
    put_one(out, p->sha256);
    fputc('\n', out);
    return ferror(out) ? -1 : 0;
}
