/* unit.h — what the batch unit tests (tests/unit/test_batch_*.c) share. */
#ifndef TENDO_UNIT_H
#define TENDO_UNIT_H

#include "tendo.h"

#include <stdio.h>

/* The rules at path (rules/achilles.rules for most tests), and their
 * diagnostics in *d, the caller's to free; NULL (and *d NULL) after
 * printing a failed check.  The programs run from the repository root
 * (tests/run.py runs them there). */
static inline tendo_program *unit_rules(const char *path, tendo_diags **d)
{
    *d = tendo_diags_new();
    tendo_program *p = *d ? tendo_load(path, *d) : NULL;
    if (!p) {
        printf("not ok - %s loads (run from the repository root)\n", path);
        if (*d)
            tendo_diags_print(*d, stdout);
        tendo_diags_free(*d);
        *d = NULL;
    }
    return p;
}

#endif
