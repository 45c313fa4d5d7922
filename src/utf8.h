/* utf8.h — strict UTF-8 validation for text that leaves tendo (JSON needs
 * valid UTF-8; a Latin-1 byte in a rule string would otherwise surface as
 * "cannot write the output" far from its cause). */
#ifndef TENDO_UTF8_H
#define TENDO_UTF8_H

#include <stddef.h>

/* Offset of the first byte of s[0..n) that does not start a well-formed
 * UTF-8 character (no overlong forms, no surrogates, at most U+10FFFF), or
 * n when all of it is valid. */
static inline size_t utf8_invalid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    /* Log values are mostly short and ASCII: one branch-free pass first. */
    unsigned char any = 0;
    for (size_t k = 0; k < n; k++)
        any |= s[k];
    if (any < 0x80)
        return n;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;       /* overlong */
            if (c == 0xED) hi = 0x9F;       /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;       /* overlong */
            if (c == 0xF4) hi = 0x8F;       /* above U+10FFFF */
        } else {
            return i;
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += len;
    }
    return n;
}

#endif
