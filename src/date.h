/* date.h — calendar dates as day numbers (days since 1970-01-01, proleptic
 * Gregorian), so date differences are plain subtraction. */
#ifndef TENDO_DATE_H
#define TENDO_DATE_H

#include <stddef.h>
#include <stdint.h>

/* Parse exactly "YYYY-MM-DD" (n bytes, not NUL-terminated); 1 on success,
 * 0 when malformed or not a real calendar date (2023-02-29, 2024-13-01). */
int date_parse(const char *s, size_t n, int32_t *out);
/* Writes "YYYY-MM-DD" and a NUL into buf (11 bytes). */
void date_format(int32_t day, char buf[11]);
/* date_parse, also giving the number of days in the date's month (set
 * only when the date is valid). */
int date_parse_month(const char *s, size_t n, int32_t *out, unsigned *month_days);
int32_t date_from_ymd(int y, unsigned m, unsigned d);

/* Day numbers of 0001-01-01 and 9999-12-31. */
enum { DATE_MIN_DAY = -719162, DATE_MAX_DAY = 2932896 };

#endif
