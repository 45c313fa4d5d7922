/* view.h — formatting shared by the text, JSON and CSV views: runtime
 * values, doses, and the names of kinds, statuses and truth values.
 *
 * The formatters work like snprintf: they write at most n bytes (always
 * NUL-terminated when n > 0, never splitting a UTF-8 character) and return
 * the length the whole text needs, so a caller can detect a cut.  view_str
 * wraps them for callers that must never cut: short results stay in an
 * inline buffer, long ones go to the heap (mem_*). */
#ifndef TENDO_VIEW_H
#define TENDO_VIEW_H

#include <stddef.h>

#include "decision.h"

/* Longest text value shown, in bytes, "..." included: log notes can be
 * paragraphs, and a condition line must stay one readable line. */
enum { VIEW_TEXT_MAX = 60 };

/* A runtime value for people: "unknown", 2 / 2.5 / 0.333333, YYYY-MM-DD,
 * yes/no, enum value or stage name, "quoted text" (cut to VIEW_TEXT_MAX).
 * domain is the enum's column index (TY_ENUM).  Returns the full length. */
int view_value(char *buf, size_t n, const value *v, vtype t, int domain,
               const tendo_program *p);

/* A number in the shortest %.6g form ("2", "2.5", "0.333333"); -0 is "0". */
int view_num(char *buf, size_t n, double x);

/* Stage name, or NULL when idx is not a stage of p (e.g. -1). */
const char *view_stage_name(const tendo_program *p, int idx);

/* A dose without its exercise name, only the fields that are set:
 * "3 x 15, tempo 3-1-3, daily, knee straight, surface floor, range neutral".
 * Returns the full length (the void-returning form of the brief, widened so
 * callers can tell a cut). */
size_t view_dose(char *buf, size_t n, const out_dose *d);

const char *view_status_name(tr_status s);  /* "won", "also_true", ... */
const char *view_tri_name(tri t);           /* "true", "false", "unknown" */

/* Kind name of a trace entry: the rule's kind, or "modify" for a modifier. */
const char *view_entry_kind(const tr_rule *t);
/* File and line of a trace entry (rule or modifier); file may be NULL. */
const char *view_entry_file(const tr_rule *t, unsigned *line);
/* Label of a trace entry: the rule's name, or NULL. */
const char *view_entry_name(const tr_rule *t);

/* 1 when x is a whole number that a double holds exactly (|x| <= 2^53). */
int view_is_whole(double x);

/* ---- uncut strings ---------------------------------------------------- */

typedef struct view_str {
    char small[160];   /* fits nearly every value and dose */
    char *heap;        /* used when the text is longer; view_str_free */
} view_str;

void view_str_init(view_str *s);
/* The formatted text, or NULL when memory ran out. */
const char *view_value_str(view_str *s, const value *v, vtype t, int domain,
                           const tendo_program *p);
const char *view_dose_str(view_str *s, const out_dose *d);
void view_str_free(view_str *s);

#endif
