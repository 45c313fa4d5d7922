/* date.c — calendar dates as day numbers (days since 1970-01-01, proleptic
 * Gregorian, years 0001..9999).
 *
 * The conversions are Howard Hinnant's days_from_civil / civil_from_days:
 * shifting the year to start in March puts the leap day last, so the day of
 * the year is a closed formula and no month table is needed. */
#include "date.h"

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned date_month_days(int y, unsigned m)
{
    static const unsigned char dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int32_t date_from_ymd(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);             /* [0, 399] */
    unsigned mp = m > 2 ? m - 3 : m + 9;                  /* March = 0 */
    unsigned doy = (153 * mp + 2) / 5 + d - 1;            /* [0, 365] */
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
    return (int32_t)(era * 146097 + (int)doe - 719468);
}

/* Two ASCII digits at s as a number, or -1. */
static int two_digits(const char *s)
{
    unsigned a = (unsigned char)s[0] - '0', b = (unsigned char)s[1] - '0';
    return a <= 9 && b <= 9 ? (int)(a * 10 + b) : -1;
}

int date_parse(const char *s, size_t n, int32_t *out)
{
    unsigned days;
    return date_parse_month(s, n, out, &days);
}

int date_parse_month(const char *s, size_t n, int32_t *out, unsigned *month_days)
{
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    int hi = two_digits(s), lo = two_digits(s + 2);
    int m = two_digits(s + 5), d = two_digits(s + 8);
    if (hi < 0 || lo < 0 || m < 1 || m > 12 || d < 1)
        return 0;
    int y = hi * 100 + lo;
    if (y < 1 || (unsigned)d > date_month_days(y, (unsigned)m))
        return 0;
    *out = date_from_ymd(y, (unsigned)m, (unsigned)d);
    *month_days = date_month_days(y, (unsigned)m);
    return 1;
}

static void put_digits(char *dst, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        dst[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Days outside years 0000..9999 cannot be written as YYYY-MM-DD; they come
 * out as question marks (with the dashes) rather than as a misleading date. */
void date_format(int32_t day, char buf[11])
{
    int64_t z = (int64_t)day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999) {
        for (int i = 0; i < 10; i++)
            buf[i] = i == 4 || i == 7 ? '-' : '?'; /* a literal would hold trigraphs */
        buf[10] = '\0';
        return;
    }
    put_digits(buf, (unsigned)y, 4);
    buf[4] = '-';
    put_digits(buf + 5, m, 2);
    buf[7] = '-';
    put_digits(buf + 8, d, 2);
    buf[10] = '\0';
}
