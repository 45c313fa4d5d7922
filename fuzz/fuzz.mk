# fuzz/fuzz.mk — libFuzzer targets, included by the Makefile.
#
#   make fuzz-build        build build/fuzz/fuzz_{rules,log,notes,batch,reader}
#   make fuzz              run each target for FUZZ_SECONDS (default 60)
#   make fuzz FUZZ_SECONDS=3600 FUZZ_ARGS='-jobs=2 -workers=2'
#   make fuzz-one FUZZ_TARGET=fuzz_log
#   make leakcheck         CLI cases/eval/golden/batch suites under valgrind
#
# The library sources are compiled again with clang and the same sanitizer
# flags as the asan variant, plus libFuzzer's coverage instrumentation;
# generated parser/scanner come from build/gen as for the other variants.
# Corpora grow in build/fuzz/corpus/TARGET (seeded by fuzz/seeds.py from
# rules/, examples/, fuzz/notes.rules and the test case files); crashes land
# in build/fuzz/artifacts/.  See docs/robustness.md.

FUZZ_CC        ?= clang
FUZZ_SECONDS   ?= 60
FUZZ_ARGS      ?=
FUZZ_TARGET    ?= fuzz_rules
FUZZ_SAN        = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS     = -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
                  -fsanitize-coverage-ignorelist=fuzz/coverage-ignore.txt
FUZZ_LDFLAGS    = -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer
FUZZ_BUILD      = $(BUILD)/fuzz
FUZZ_TARGETS    = fuzz_rules fuzz_log fuzz_notes fuzz_batch fuzz_reader
FUZZ_BINS       = $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))
FUZZ_OBJS       = $(patsubst src/%.c,$(FUZZ_BUILD)/obj/%.o,$(LIB_SRC)) \
                  $(FUZZ_BUILD)/obj/gen_parser.o $(FUZZ_BUILD)/obj/gen_lexer.o
# Per-input limits: a slow input (a regex that does not stop, a quadratic
# loop) is a finding, like a crash.
FUZZ_RUN        = -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1
FUZZ_DICT_fuzz_rules = fuzz/tendo.dict
FUZZ_DICT_fuzz_log   = fuzz/log.dict
FUZZ_DICT_fuzz_notes = fuzz/notes.dict
FUZZ_DICT_fuzz_batch = fuzz/log.dict
FUZZ_DICT_fuzz_reader = fuzz/log.dict

.PHONY: fuzz fuzz-build fuzz-one fuzz-seeds fuzz-check leakcheck

# libFuzzer ships with clang's runtime libraries; say exactly what to
# install instead of failing with a linker error.
$(FUZZ_BUILD)/.fuzzer-ok:
	@mkdir -p $(FUZZ_BUILD)
	@printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > $(FUZZ_BUILD)/probe.c
	@if ! $(FUZZ_CC) $(FUZZ_LDFLAGS) $(FUZZ_BUILD)/probe.c -o $(FUZZ_BUILD)/probe 2>/dev/null; then \
	    rt=libclang-rt-dev; \
	    if $(FUZZ_CC) --version 2>/dev/null | grep -q clang; then \
	        rt=libclang-rt-`$(FUZZ_CC) -dumpversion | cut -d. -f1`-dev; fi; \
	    echo "fuzz: '$(FUZZ_CC)' cannot build libFuzzer targets (-fsanitize=fuzzer,address,undefined)." >&2; \
	    echo "fuzz: install clang and its runtime with:  sudo apt-get install clang $$rt" >&2; \
	    echo "fuzz: or choose another compiler:  make fuzz FUZZ_CC=clang-NN" >&2; \
	    exit 1; \
	fi
	@touch $@

fuzz-check: $(FUZZ_BUILD)/.fuzzer-ok

$(FUZZ_BUILD)/obj/%.o: src/%.c $(GEN_HDR) $(wildcard src/*.h include/*.h) fuzz/coverage-ignore.txt | $(FUZZ_BUILD)/.fuzzer-ok
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) $(FUZZ_CFLAGS) $(WARN) $(INC) $(PKG_CFLAGS) -DTENDO_VERSION='"$(VERSION)"' -c $< -o $@

$(FUZZ_BUILD)/obj/gen_%.o: $(BUILD)/gen/%.c $(GEN_HDR) $(wildcard src/*.h) fuzz/coverage-ignore.txt | $(FUZZ_BUILD)/.fuzzer-ok
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) $(FUZZ_CFLAGS) $(WARN) -Wno-missing-prototypes -Wno-unused-function -Wno-sign-compare \
	    -Wno-unused-but-set-variable $(INC) $(PKG_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h fuzz/batch_diff.h fuzz/reader_diff.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(CSTD) $(FUZZ_LDFLAGS) $(WARN) $(INC) $(PKG_CFLAGS) -o $@ $< $(FUZZ_OBJS) $(LIBS)

# Keep the objects: they are only named as prerequisites of a pattern rule.
.SECONDARY: $(FUZZ_OBJS)

fuzz-build: $(FUZZ_BINS)

# Seed corpora, regenerated from the repository files when they change.
FUZZ_SEED_SRC = fuzz/seeds.py $(wildcard rules/*.rules rules/*/*.rules bench/*.rules fuzz/*.rules \
                tests/cases/*.rules tests/cases/*.test tests/eval/*.test examples/*.csv \
                tests/golden/*.csv tests/golden/*.in tests/hostile/*.csv)
$(FUZZ_BUILD)/seeds/.stamp: $(FUZZ_SEED_SRC)
	@python3 fuzz/seeds.py $(FUZZ_BUILD)/seeds
	@touch $@

fuzz-seeds: $(FUZZ_BUILD)/seeds/.stamp

# Each target for FUZZ_SECONDS; stdin is /dev/null so that no input can
# make a target wait on the terminal.  Stops at the first target that fails.
fuzz: fuzz-build fuzz-seeds
	@for t in $(FUZZ_TARGETS); do \
	    $(MAKE) --no-print-directory fuzz-one FUZZ_TARGET=$$t || exit 1; \
	done

fuzz-one: $(FUZZ_BUILD)/$(FUZZ_TARGET) $(FUZZ_BUILD)/seeds/.stamp
	@mkdir -p $(FUZZ_BUILD)/corpus/$(FUZZ_TARGET) $(FUZZ_BUILD)/artifacts
	@echo "fuzz: $(FUZZ_TARGET) for $(FUZZ_SECONDS) s"
	$(FUZZ_BUILD)/$(FUZZ_TARGET) $(FUZZ_RUN) -max_total_time=$(FUZZ_SECONDS) \
	    -dict=$(FUZZ_DICT_$(FUZZ_TARGET)) -artifact_prefix=$(FUZZ_BUILD)/artifacts/$(FUZZ_TARGET)- \
	    $(FUZZ_ARGS) $(FUZZ_BUILD)/corpus/$(FUZZ_TARGET) $(FUZZ_BUILD)/seeds/$(FUZZ_TARGET) \
	    $(wildcard fuzz/corpus/$(FUZZ_TARGET)) < /dev/null

# valgrind over the CLI suites (release build: valgrind and ASan do not mix).
leakcheck: $(BUILD)/tendo
	@command -v valgrind >/dev/null 2>&1 || { \
	    echo "leakcheck: valgrind is missing; install it with:  sudo apt-get install valgrind" >&2; exit 1; }
	@python3 fuzz/leakcheck.py $(BUILD)
