/* test_batch_cuts.c — batch's block cuts against the whole-file reader.
 *
 * Replays the files in fuzz/corpus/fuzz_batch (inputs on which fuzz_batch found
 * batch and eval to disagree) and the example logs through the differential
 * check of fuzz/batch_diff.h, with block sizes from 16 bytes up, so that
 * the cuts fall at every kind of place, and with two threads for each.
 * Runs from the repository root (tests/run.py does).  Prints TAP-style
 * "ok N - ..." lines and exits non-zero when any check fails. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "tendo.h"
#include "../../fuzz/batch_diff.h"
#include "unit.h"

#include <glob.h>
#include <stdio.h>

static int check_files(const tendo_program *p, const char *pattern, int *n)
{
    static const size_t blocks[] = { 16, 23, 64, 116, 149, 200, 232, 271, 4096 };
    glob_t g;
    int failures = 0;
    if (glob(pattern, 0, NULL, &g) != 0)
        return 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        int bad = 0;
        for (size_t k = 0; k < sizeof blocks / sizeof blocks[0] && !bad; k++) {
            bad = bd_compare(p, g.gl_pathv[i], blocks[k], 1, stdout);
            if (bad)
                printf("(block size %zu)\n", blocks[k]);
        }
        printf("%s %d - batch and eval agree on %s at every block size\n", bad ? "not ok" : "ok", ++*n,
               g.gl_pathv[i]);
        failures += bad;
    }
    globfree(&g);
    return failures;
}

int main(void)
{
    tendo_diags *d;
    tendo_program *p = unit_rules("rules/achilles.rules", &d);
    if (!p)
        return 1;
    int n = 0, failures = 0;
    failures += check_files(p, "fuzz/corpus/fuzz_batch/*", &n);
    failures += check_files(p, "examples/achilles_*.csv", &n);
    if (n < 8) {
        printf("not ok %d - found the inputs (%d files)\n", n + 1, n);
        failures++;
    }
    tendo_program_free(p);
    tendo_diags_free(d);
    return failures != 0;
}
