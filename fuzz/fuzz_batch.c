/* fuzz_batch.c — differential: the batch reader against the whole-file reader.
 *
 * `tendo batch` cuts a log into blocks at patient boundaries with its own
 * quote-aware scan (src/batch.c), reads each block with a reader of its
 * own, and checks across blocks that a patient's rows are together.  None
 * of that runs in `tendo eval`, which reads the file in one pass.  Both
 * must write the same records for every input: a record only one of them
 * writes is a patient lost or invented at a cut.
 *
 * Each input is read both ways against rules/achilles.rules (or
 * TENDO_FUZZ_RULES), batch with a block size of 16 to 271 bytes chosen by
 * the input's hash, so that the cuts fall everywhere a 4 KiB input allows.
 * The check is batch_diff.h's; for one input in eight batch also runs with
 * two worker threads.  tests/unit/test_batch_cuts.c replays the committed
 * inputs (fuzz/corpus/fuzz_batch) with many block sizes in `make test`. */
#include "tendo.h"
#include "fuzz_common.h"
#include "batch_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static tendo_program *prog;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    prog = fuzz_load_rules("fuzz_batch", "TENDO_FUZZ_RULES", "rules/achilles.rules");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input("batch.csv", data, size);
    uint32_t h = fuzz_hash(data, size);
    if (bd_compare(prog, path, 16 + h % 256, (h >> 16) % 8 == 0, stderr) != 0) {
        fprintf(stderr, "fuzz_batch: block size %u\n", (unsigned)(16 + h % 256));
        abort();
    }
    return 0;
}
