/* fuzz_common.h — shared by the libFuzzer harnesses in fuzz/.
 *
 * The library reads rule files and logs by path (there is no memory loader,
 * and the harnesses add nothing to the API), so each input is written to a
 * per-process temporary file, under /dev/shm when it exists. */
#ifndef TENDO_FUZZ_COMMON_H
#define TENDO_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tendo.h"

/* A per-process path: parallel workers (-jobs) never share a file. */
static inline const char *fuzz_tmp_path(const char *stem)
{
    static char path[4][256];
    static int used;
    int slot = used++ & 3;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path[slot], sizeof path[slot], "%s/tendo-fuzz-%ld-%s", dir, (long)getpid(), stem);
    return path[slot];
}

/* Writes data to path (truncating); aborts on failure: a harness that
 * cannot write its input would silently test nothing. */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* Writes the input to this process's file for it and returns its path.
 * A harness reads one input file, so the path is made on the first call
 * (from that call's stem) and kept. */
static inline const char *fuzz_input(const char *stem, const uint8_t *data, size_t size)
{
    static const char *path;
    if (!path)
        path = fuzz_tmp_path(stem);
    fuzz_write(path, data, size);
    return path;
}

/* FNV-1a of the input: picks optional work by content, reproducibly. */
static inline uint32_t fuzz_hash(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    return h;
}

/* The fixed protocol a target evaluates against: the path in the
 * environment variable `env`, else `dflt` (relative to the repository
 * root, where make fuzz runs).  Aborts, saying why, when it does not load:
 * a target without its protocol would test nothing. */
static inline tendo_program *fuzz_load_rules(const char *target, const char *env, const char *dflt)
{
    const char *rules = getenv(env);
    if (!rules)
        rules = dflt;
    tendo_diags *d = tendo_diags_new();
    tendo_program *p = d ? tendo_load(rules, d) : NULL;
    if (!p) {
        fprintf(stderr, "%s: cannot load %s (run from the repository root or set %s)\n", target, rules, env);
        if (d)
            tendo_diags_print(d, stderr);
        abort();
    }
    tendo_diags_free(d);
    return p;
}

static inline FILE *fuzz_devnull(void)
{
    static FILE *f;
    if (!f && !(f = fopen("/dev/null", "w"))) {
        perror("/dev/null");
        abort();
    }
    return f;
}

/* A JSON view failure is always a bug now that the CSV reader rejects
 * invalid UTF-8 (it used to accept it, and the JSON view then failed:
 * tests/hostile/log_latin1_*.csv).  -DFUZZ_TOLERATE_BAD_UTF8 brings back
 * the old tolerance for inputs that are not valid UTF-8. */
#ifdef FUZZ_TOLERATE_BAD_UTF8
#define FUZZ_JSON_MAY_FAIL(valid_utf8) (!(valid_utf8))
#else
#define FUZZ_JSON_MAY_FAIL(valid_utf8) 0
#endif

#endif
