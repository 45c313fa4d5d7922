# tendo — build, test, demo.  `make demo` and `make test` are the quick start.
# Generated parser/scanner sources live in build/, never in git.

CC       ?= cc
BUILD    ?= build
PKGS      = libpcre2-8 jansson nettle
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wcast-qual -Wvla
CSTD      = -std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
# Loops and jump targets on 32-byte boundaries, where the compiler takes
# them (GCC; clang rejects -falign-jumps and builds without both): without, the
# CSV reader's loops sped up or slowed down by 4 % with unrelated code
# linked before them (--jobs 1 on the 20k bench file, four placements:
# 89.2 to 92.9 ms; aligned: 89.1 to 90.4 ms).  Backquotes, like PKG_CFLAGS:
# evaluated when a recipe runs, after the dependency step.
ALIGN     = `$(CC) -falign-loops=32 -falign-jumps=32 -Werror -x c -c -o /dev/null /dev/null 2>/dev/null && \
              echo -falign-loops=32 -falign-jumps=32`
OPT      ?= -O2 -g $(ALIGN)
SAN       = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Backquotes: evaluated by the shell when a recipe runs, i.e. after the
# dependency step has installed pkg-config and the libraries.
PKG_CFLAGS = `pkg-config --cflags $(PKGS)`
PKG_LIBS   = `pkg-config --libs $(PKGS)`
LIBS      = $(PKG_LIBS) -lpthread -lm

CLI_SRC   = src/cli.c src/cli_batch.c
LIB_SRC   = $(filter-out $(CLI_SRC),$(wildcard src/*.c))
GEN_SRC   = $(BUILD)/gen/parser.c $(BUILD)/gen/lexer.c
GEN_HDR   = $(BUILD)/gen/parser.h $(BUILD)/gen/lexer.h
INC       = -Iinclude -Isrc -I$(BUILD)/gen

VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

.PHONY: all deps demo test test-fast asan check-rules clean bench fuzz leakcheck FORCE

FORCE:

all: $(BUILD)/tendo

# Build dependencies: installed with apt-get when run as root, otherwise the
# exact command is printed.  The stamp keeps this to once per checkout.
$(BUILD)/.deps-ok: scripts/deps.sh
	@mkdir -p $(BUILD)
	@sh scripts/deps.sh
	@touch $@

deps: $(BUILD)/.deps-ok

$(BUILD)/gen/parser.c $(BUILD)/gen/parser.h &: grammar/parser.y $(BUILD)/.deps-ok
	@mkdir -p $(BUILD)/gen
	bison -Wall -Werror --header=$(BUILD)/gen/parser.h -o $(BUILD)/gen/parser.c grammar/parser.y

$(BUILD)/gen/lexer.c $(BUILD)/gen/lexer.h &: grammar/lexer.l $(BUILD)/.deps-ok
	@mkdir -p $(BUILD)/gen
	flex --header-file=$(BUILD)/gen/lexer.h -o $(BUILD)/gen/lexer.c grammar/lexer.l

# Two variants from the same sources: release (build/obj) and
# AddressSanitizer+UBSan (build/asan), so `make test` can run both.
# Each variant's compiler and flags are kept in a stamp that is rewritten
# only when they change, and its objects depend on it: `make CC=clang` or
# `make OPT=-O3` rebuilds them instead of linking objects built otherwise.
define variant
$(BUILD)/$(1)/.flags: FORCE
	@mkdir -p $$(dir $$@)
	@f='$$(CC) $(2) $$(CSTD) $$(WARN) $$(VERSION)'; echo "$$$$f" | cmp -s - $$@ || echo "$$$$f" > $$@

$(BUILD)/$(1)/%.o: src/%.c $(GEN_HDR) $(wildcard src/*.h include/*.h) $(BUILD)/$(1)/.flags | $(BUILD)/.deps-ok
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CSTD) $(2) $$(WARN) $$(INC) $$(PKG_CFLAGS) -DTENDO_VERSION='"$$(VERSION)"' -c $$< -o $$@

# Generated code is held to the same warnings except the ones flex's
# skeleton cannot meet.
$(BUILD)/$(1)/gen_%.o: $(BUILD)/gen/%.c $(GEN_HDR) $(wildcard src/*.h) $(BUILD)/$(1)/.flags
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CSTD) $(2) $$(WARN) -Wno-missing-prototypes -Wno-unused-function -Wno-sign-compare $$(INC) $$(PKG_CFLAGS) -c $$< -o $$@

$(BUILD)/$(1)/libtendo.a: $(patsubst src/%.c,$(BUILD)/$(1)/%.o,$(LIB_SRC)) $(BUILD)/$(1)/gen_parser.o $(BUILD)/$(1)/gen_lexer.o
	@rm -f $$@
	ar rcs $$@ $$^
endef

$(eval $(call variant,obj,$(OPT)))
$(eval $(call variant,asan,$(SAN)))

$(BUILD)/tendo: $(BUILD)/obj/cli.o $(BUILD)/obj/cli_batch.o $(BUILD)/obj/libtendo.a
	$(CC) $(OPT) -o $@ $^ $(LIBS)

$(BUILD)/tendo-asan: $(BUILD)/asan/cli.o $(BUILD)/asan/cli_batch.o $(BUILD)/asan/libtendo.a
	$(CC) $(SAN) -o $@ $^ $(LIBS)

# Unit-test programs: tests/unit/test_*.c, each linked against the library.
# test_batch_cuts shares fuzz/batch_diff.h with the fuzz_batch target,
# test_fast_path fuzz/reader_diff.h with fuzz_reader.
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_HDR  = fuzz/batch_diff.h fuzz/reader_diff.h tests/unit/unit.h
$(BUILD)/obj/unit/%: tests/unit/%.c $(BUILD)/obj/libtendo.a $(UNIT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(OPT) $(WARN) $(INC) $(PKG_CFLAGS) -o $@ $(filter-out %.h,$^) $(LIBS)
$(BUILD)/asan/unit/%: tests/unit/%.c $(BUILD)/asan/libtendo.a $(UNIT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(SAN) $(WARN) $(INC) $(PKG_CFLAGS) -o $@ $(filter-out %.h,$^) $(LIBS)

UNIT_BINS = $(patsubst tests/unit/%.c,%,$(UNIT_SRC))

demo: $(BUILD)/tendo
	$(BUILD)/tendo eval rules/achilles.rules examples/achilles_midportion.csv

# The whole suite twice: release build, then ASan+UBSan build.
test: $(BUILD)/tendo $(BUILD)/tendo-asan $(addprefix $(BUILD)/obj/unit/,$(UNIT_BINS)) $(addprefix $(BUILD)/asan/unit/,$(UNIT_BINS))
	@python3 tests/run.py $(BUILD)

test-fast: $(BUILD)/tendo $(addprefix $(BUILD)/obj/unit/,$(UNIT_BINS))
	@TENDO_NO_ASAN=1 python3 tests/run.py $(BUILD)

# The benchmark of issue 4: data generated into build/bench, decisions
# checked against shared/bench/reference.py, then timed (never in `make test`).
bench: $(BUILD)/tendo
	python3 bench/bench.py $(BUILD)

check-rules: $(BUILD)/tendo
	$(BUILD)/tendo check rules/*.rules

clean:
	rm -rf $(BUILD)

# Fuzzing targets (libFuzzer; clang) live in fuzz/fuzz.mk.
-include fuzz/fuzz.mk
