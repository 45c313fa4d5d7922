/* rx.h — PCRE2 regexes compiled once at load time (JIT when available),
 * with match and depth limits so a catastrophic pattern ends in an error. */
#ifndef TENDO_RX_H
#define TENDO_RX_H

#include <stddef.h>
#include <stdint.h>
#include "diag.h"

typedef struct rx rx;
typedef struct rx_set rx_set;

/* A pattern such as (a+)+$ hits the match limit within a few tens of ms
 * (at 1 000 000 it took over a second per note, so a log of catastrophic
 * notes took minutes); ordinary patterns on a 1 MiB note stay far below. */
enum {
    RX_MATCH_LIMIT = 100000,    /* backtracking steps per match */
    RX_DEPTH_LIMIT = 10000      /* nested backtracking depth */
};

rx_set *rx_set_new(void);
void rx_set_free(rx_set *s);
/* Compile pat (len bytes) with flags from [imsxu]; on a bad pattern or flag
 * records an error located inside the rule file (pat_off = offset of the
 * pattern's first byte) and returns NULL. */
const rx *rx_compile(rx_set *s, const char *pat, size_t len, const char *flags,
                     uint32_t file, uint32_t pat_off, src_loc whole, diag_list *d);
/* 1 match, 0 no match, -1 limit hit or other runtime error (treated as
 * unknown by the evaluator and reported in the trace).  Thread-safe: each
 * call uses per-thread match data (rx_scratch). */
typedef struct rx_scratch rx_scratch;
rx_scratch *rx_scratch_new(void);
void rx_scratch_free(rx_scratch *s);
int rx_match(const rx *r, const char *s, size_t n, rx_scratch *scratch);
const char *rx_source(const rx *r);

#endif
