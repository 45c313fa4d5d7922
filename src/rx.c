/* rx.c — PCRE2 wrapper: compile once at load time, JIT when the platform
 * has it, explicit match and depth limits, per-thread match data. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rx.h"
#include "mem.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

struct rx {
    pcre2_code *code;
    char *source;
    struct rx *next;
    int empty;      /* rx_match on an empty subject, found once; EMPTY_UNKNOWN when not */
};

enum { EMPTY_UNKNOWN = -2 };

struct rx_set {
    struct rx *head;
};

/* Match data is sized for the largest pattern in use; one per thread. */
struct rx_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *stack;
};

rx_set *rx_set_new(void)
{
    return mem_calloc(1, sizeof(rx_set));
}

void rx_set_free(rx_set *s)
{
    if (!s)
        return;
    struct rx *r = s->head;
    while (r) {
        struct rx *n = r->next;
        pcre2_code_free(r->code);
        mem_free(r->source);
        mem_free(r);
        r = n;
    }
    mem_free(s);
}

static int parse_flags(const char *flags, uint32_t *opts, char *bad)
{
    *opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    for (const char *f = flags; *f; f++) {
        switch (*f) {
        case 'i': *opts |= PCRE2_CASELESS; break;
        case 'm': *opts |= PCRE2_MULTILINE; break;
        case 's': *opts |= PCRE2_DOTALL; break;
        case 'x': *opts |= PCRE2_EXTENDED; break;
        case 'u': *opts |= PCRE2_UCP; break;
        default: *bad = *f; return 0;
        }
    }
    return 1;
}

/* Whether the pattern matches an empty subject, as rx_match would answer
 * (same limits, no options).  Most notes in a log are empty, and a batch
 * asks this of every row in a window; the answer never changes. */
static int match_empty(const pcre2_code *code)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    int res = EMPTY_UNKNOWN;
    if (md && mc) {
        pcre2_set_match_limit(mc, RX_MATCH_LIMIT);
        pcre2_set_depth_limit(mc, RX_DEPTH_LIMIT);
        int rc = pcre2_match(code, (PCRE2_SPTR) "", 0, 0, 0, md, mc);
        res = rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : EMPTY_UNKNOWN;
    }
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    return res;
}

const rx *rx_compile(rx_set *s, const char *pat, size_t len, const char *flags,
                     uint32_t file, uint32_t pat_off, src_loc whole, diag_list *d)
{
    uint32_t opts;
    char bad = 0;
    if (!parse_flags(flags, &opts, &bad)) {
        diag_at(d, DIAG_ERROR, whole, "unknown regex flag '%c': expected i, m, s, x or u", bad);
        return NULL;
    }
    int err;
    PCRE2_SIZE erroff;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat, len, opts, &err, &erroff, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        uint32_t at = pat_off + (uint32_t)(erroff > len ? len : erroff);
        diag_at(d, DIAG_ERROR, (src_loc){ file, at, at + 1 }, "invalid regex: %s", (char *)msg);
        return NULL;
    }
    /* JIT is an optimisation: when unavailable the interpreter still runs.
     * TENDO_NO_JIT=1 turns it off: JIT code reads whole words past the end
     * of a subject, which valgrind reports (make leakcheck sets it), and
     * some hardened systems refuse executable memory. */
    const char *nojit = getenv("TENDO_NO_JIT");
    if (!nojit || strcmp(nojit, "1") != 0)
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    struct rx *r = mem_calloc(1, sizeof *r);
    char *src = mem_strndup(pat, len);
    if (r)
        r->empty = match_empty(code);
    if (!r || !src) {
        pcre2_code_free(code);
        mem_free(r);
        mem_free(src);
        diag_at(d, DIAG_ERROR, whole, "out of memory compiling regex");
        return NULL;
    }
    r->code = code;
    r->source = src;
    r->next = s->head;
    s->head = r;
    return r;
}

rx_scratch *rx_scratch_new(void)
{
    rx_scratch *s = mem_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    /* 10 pairs is plenty: the evaluator only asks whether it matched. */
    s->md = pcre2_match_data_create(10, NULL);
    s->mc = pcre2_match_context_create(NULL);
    if (!s->md || !s->mc) {
        rx_scratch_free(s);
        return NULL;
    }
    pcre2_set_match_limit(s->mc, RX_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mc, RX_DEPTH_LIMIT);
    return s;
}

void rx_scratch_free(rx_scratch *s)
{
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mc);
    if (s->stack)
        pcre2_jit_stack_free(s->stack);
    mem_free(s);
}

int rx_match(const rx *r, const char *s, size_t n, rx_scratch *scratch)
{
    if (n == 0 && r->empty != EMPTY_UNKNOWN)
        return r->empty;
    int rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, 0, 0, scratch->md, scratch->mc);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    return -1;
}

const char *rx_source(const rx *r) { return r->source; }
