/* floor.c — a floor for the cost of reading the benchmark's rows with
 * validation: a parser written by hand for this one schema (the columns of
 * ../shared/bench/TASK.md), with the checks tendo's fast path makes (dates
 * real and in order, scores and kilograms in range, enum values, UTF-8 as
 * ASCII, per-patient presentation unchanged) and its techniques (16-byte
 * comma scans, 16-byte enum compares, the month of the previous date kept),
 * but no schema plan, no messages and no quoted fields: a row whose notes
 * are quoted counts as not parsed.  It reads the whole file into memory.
 *
 *     cc -O2 -o build/floor bench/floor.c
 *     valgrind --tool=callgrind build/floor build/bench/cohort_1000.csv
 *     /usr/bin/time build/floor build/bench/cohort_20000.csv
 *
 * docs/performance.md §4 compares it with tendo's reader.  Not part of the
 * product or of make test. */
#include <emmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef union { double num; int32_t i; struct { uint32_t off, len; } s; } cell;

static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

static char ym[8];
static int32_t ym_base;

static int parse_date(const char *s, size_t n, int32_t *out)
{
    if (n != 10)
        return 0;
    unsigned d1 = (unsigned char)s[8] - '0', d2 = (unsigned char)s[9] - '0';
    if (memcmp(s, ym, 8) == 0 && d1 <= 9 && d2 <= 9 && d1 * 10 + d2 >= 1 && d1 * 10 + d2 <= 28) {
        *out = ym_base + (int32_t)(d1 * 10 + d2);
        return 1;
    }
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (unsigned)(s[i] - '0') > 9)
            return 0;
    if (s[4] != '-' || s[7] != '-')
        return 0;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0')), d = d1 * 10 + d2;
    static const unsigned char ml[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m < 1 || m > 12 || d < 1 || d > ml[m - 1] + (unsigned)(m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
        return 0;
    *out = days_from_civil(y, m, d);
    memcpy(ym, s, 8);
    ym_base = *out - (int32_t)d;
    return 1;
}

static int small_int(const char *s, size_t n, unsigned hi, double *out)
{
    unsigned a = (unsigned char)s[0] - '0', b = (unsigned char)s[1] - '0', v;
    if (n == 1 && a <= 9)
        v = a;
    else if (n == 2 && a >= 1 && a <= 9 && b <= 9)
        v = a * 10 + b;
    else
        return 0;
    *out = v;
    return v <= hi;
}

static const char *const VALUES[] = { "midportion", "insertional", "isometric", "bilateral", "single_leg", "hsr" };
static char vpad[6][16];
static size_t vlen[6];

/* Index of s among values base..base+nv-1 (the guess first), or -1. */
static int enum_of(const char *s, size_t n, int base, int nv, int guess)
{
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)s);
    unsigned want = (1u << n) - 1;
    for (int t = -1; t < nv; t++) {
        int k = t < 0 ? guess : t;
        if (k < 0 || vlen[base + k] != n)
            continue;
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)vpad[base + k]);
        if (((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, b)) & want) == want)
            return k;
    }
    return -1;
}

static char *next_sep(char *s)
{
    const __m128i comma = _mm_set1_epi8(','), nl = _mm_set1_epi8('\n');
    for (;; s += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, nl)));
        if (m)
            return s + __builtin_ctz(m);
    }
}

int main(int argc, char **argv)
{
    FILE *f = argc == 2 ? fopen(argv[1], "rb") : NULL;
    if (!f) {
        fprintf(stderr, "usage: floor COHORT.csv (as written by shared/bench/gen.py)\n");
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 65);
    if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz)
        return 2;
    fclose(f);
    memset(buf + sz, '\n', 1);
    memset(buf + sz + 1, 0, 64);
    for (int k = 0; k < 6; k++) {
        vlen[k] = strlen(VALUES[k]);
        memcpy(vpad[k], VALUES[k], vlen[k]);
    }
    enum { CAP = 1 << 16 };
    cell *cells = malloc(CAP * 10 * sizeof *cells);
    uint8_t *known = malloc(CAP * 10);
    char *text = malloc(CAP * 64), id[64];
    if (!cells || !known || !text)
        return 2;
    size_t rows = 0, skipped = 0, patients = 0, idn = 0, prow = 0, tlen = 0;
    int32_t prev_day = 0;
    char *p = memchr(buf, '\n', (size_t)sz) + 1, *end = buf + sz;
    while (p < end) {
        const char *fs[10];
        size_t fn[10], nf = 0;
        char *s = p, *e;
        for (;;) {
            char *c = next_sep(s);
            if (nf < 10) {
                fs[nf] = s;
                fn[nf] = (size_t)(c - s);
            }
            nf++;
            s = c + 1;
            if (*c == '\n') {
                e = c;
                break;
            }
        }
        p = e + 1;
        rows++;
        if (nf != 10 || fn[0] >= sizeof id) {
            skipped++;
            continue;
        }
        if (fn[0] != idn || memcmp(fs[0], id, idn) != 0) {
            patients++;
            memcpy(id, fs[0], fn[0]);
            idn = fn[0];
            prow = tlen = 0;
        }
        if (prow == CAP)
            prow = 0;
        cell *c = cells + prow * 10;
        memset(known + prow * 10, 1, 10);
        int ok = parse_date(fs[1], fn[1], &c[1].i);
        c[0].s.off = 0;
        c[0].s.len = (uint32_t)idn;
        ok &= (c[2].i = enum_of(fs[2], fn[2], 0, 2, prow ? c[-8].i : -1)) >= 0;
        ok &= (c[3].i = enum_of(fs[3], fn[3], 2, 4, prow ? c[-7].i : -1)) >= 0;
        ok &= small_int(fs[4], fn[4], 10, &c[4].num);
        ok &= small_int(fs[5], fn[5], 10, &c[5].num);
        ok &= small_int(fs[6], fn[6], 10, &c[6].num);
        ok &= fn[7] == 1 && (fs[7][0] == '0' || fs[7][0] == '1');
        c[7].i = fs[7][0] == '1';
        ok &= small_int(fs[8], fn[8], 40, &c[8].num);
        unsigned char any = 0;
        for (size_t i = 0; i < fn[9]; i++)
            any |= (unsigned char)fs[9][i];
        ok &= any < 0x80 && fn[9] < 64;
        if (fn[9] < 64) {
            memcpy(text + tlen, fs[9], fn[9]);
            c[9].s.off = (uint32_t)tlen;
            c[9].s.len = (uint32_t)fn[9];
            tlen += fn[9];
        }
        ok &= !prow || (c[1].i > prev_day && c[2].i == cells[2].i);
        prev_day = c[1].i;
        skipped += !ok;
        prow++;
    }
    printf("%zu rows, %zu patients, %zu not parsed (quoted notes or bad values)\n", rows, patients, skipped);
    free(buf);
    free(cells);
    free(known);
    free(text);
    return 0;
}
