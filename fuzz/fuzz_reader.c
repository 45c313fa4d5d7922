/* fuzz_reader.c — differential: the CSV reader's fast path against its
 * general path.
 *
 * A plain record is parsed on a fast path that declines to the general
 * path (split, then parse every field with full diagnostics) on anything
 * unusual; both must give the same patients, values, line numbers and
 * messages (fuzz/reader_diff.h).  Each input is read under three schemas
 * (rules/achilles.rules, bench/reference.rules with its rest-of-row notes,
 * fuzz/notes.rules without a patient column); under the schemas whose
 * header it does not match it is refused at once, at the same place by
 * both paths.  tests/unit/test_fast_path.c replays the committed logs and
 * byte-mutated ones in `make test`. */
#include "tendo.h"
#include "fuzz_common.h"
#include "program.h"
#include "reader_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static tendo_program *progs[3];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    progs[0] = fuzz_load_rules("fuzz_reader", "TENDO_FUZZ_RULES", "rules/achilles.rules");
    progs[1] = fuzz_load_rules("fuzz_reader", "TENDO_FUZZ_RULES_BENCH", "bench/reference.rules");
    progs[2] = fuzz_load_rules("fuzz_reader", "TENDO_FUZZ_RULES_NOTES", "fuzz/notes.rules");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input("reader.csv", data, size);
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++)
        if (rd_compare(&progs[i]->sch, path, stderr) != 0) {
            fprintf(stderr, "fuzz_reader: under schema %zu\n", i);
            abort();
        }
    return 0;
}
