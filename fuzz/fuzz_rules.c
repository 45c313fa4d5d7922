/* fuzz_rules.c — rule text -> scanner, parser, checker -> free.
 *
 * Every input is a whole rule file.  Loading must end in a program or in
 * located diagnostics; either way everything is freed (LeakSanitizer checks
 * it at exit) and the diagnostics are printed to /dev/null, so the message
 * formatting (carets, line:col, escapes) runs on hostile text too. */
#include "tendo.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input("rules.rules", data, size);

    tendo_diags *d = tendo_diags_new();
    if (!d)
        abort();
    tendo_program *p = tendo_load(path, d);
    if (p) {
        /* A loaded program has no errors and is fully usable. */
        if (tendo_diags_errors(d) != 0)
            abort();
        if (!tendo_program_id(p) || strlen(tendo_program_sha256(p)) != 64)
            abort();
        tendo_program_free(p);
    } else if (tendo_diags_errors(d) == 0) {
        /* Rejected without saying why: a silent failure. */
        abort();
    }
    /* Printing (excerpts, carets, escapes) is exercised for one input in
     * eight, chosen by content so that a crash reproduces; printing every
     * time would halve the executions. */
    if (size == 0 || (data[0] & 7) == 0)
        tendo_diags_print(d, fuzz_devnull());
    tendo_diags_free(d);
    return 0;
}
