# Outpost - offline-first clinical record sync node.
#   make          release build (build/release/outpost)
#   make test     install missing Debian packages, debug build, every test
#   make check    the tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench    benchmarks (informative, never gating)
#   make soak     the long tests: a 50,000-commit bootstrap through a cut, slow link;
#                 every allocation of a sync session failing in turn; 10,000 convergence
#                 simulation seeds (SN_SIM_SOAK=a-b for other seeds); 2,100 crash-test
#                 kill points (SN_CRASH_POINTS per scenario); then one summary of the figures
#   make fuzz     each libFuzzer target (fuzz/) for FUZZ_SECONDS (60) under clang, one at a time
#   make fuzz-seeds  regenerate the seed inputs of tests/fuzz/ with the real encoders
#   make demo     install, build, run the demonstration
#   make clean | format | lint

CC       ?= cc
CFLAGS   ?= -O2 -g
WERROR   ?= 1
WARN      = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wwrite-strings -Wpointer-arith -Wundef -Wvla -Wimplicit-fallthrough -Wcast-qual
SN_CFLAGS = -std=c11 -D_GNU_SOURCE -MMD -MP -I. $(WARN) $(if $(filter 1,$(WERROR)),-Werror)
PKGS      = sqlite3 libuv libsodium msgpack libxxhash inih libmicrohttpd
SAN       = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lsqlite3 -luv -lsodium -lmsgpackc -lxxhash -linih -lmicrohttpd)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

LIB_SRC   = $(wildcard base/*.c crdt/*.c schema/*.c sync/*.c node/*.c)
CLI_SRC   = $(wildcard cli/*.c)
TEST_SRC  = $(wildcard tests/*.c)
BENCH_SRC = $(wildcard bench/*.c)
# Fuzz targets: fuzz/fuzz_<name>.c each, plus the shared harness fuzz/fuzz_common*.c.
FUZZ_TARGETS = $(patsubst fuzz/fuzz_%.c,%,$(filter-out fuzz/fuzz_common%,$(wildcard fuzz/fuzz_*.c)))

# Flavour-specific flags; each flavour builds in its own directory.
FLAVOUR  ?= release
ifeq ($(FLAVOUR),release)
  FL_CFLAGS = -DNDEBUG
else ifeq ($(FLAVOUR),debug)
  FL_CFLAGS = -DSN_TESTABLE -O0 -g
else ifeq ($(FLAVOUR),asan)
  FL_CFLAGS = -DSN_TESTABLE -O1 -g $(SAN)
  FL_LDFLAGS = $(SAN)
else ifeq ($(FLAVOUR),fuzz)
  FL_CFLAGS = -O1 -g $(SAN) -fsanitize=fuzzer-no-link
  FL_LDFLAGS = $(SAN) -fsanitize=fuzzer
endif
B = build/$(FLAVOUR)

ifeq ($(V),1)
  Q =
else
  Q = @
endif

LIB_OBJ   = $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ   = $(CLI_SRC:%.c=$(B)/obj/%.o)
TEST_OBJ  = $(TEST_SRC:%.c=$(B)/obj/%.o)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(B)/bench/%)
FUZZ_OBJ  = $(patsubst %.c,$(B)/obj/%.o,$(wildcard fuzz/*.c))
REPLAY_BIN = $(FUZZ_TARGETS:%=$(B)/fuzz/replay_%)
FUZZ_COMMON_OBJ = $(B)/obj/fuzz/fuzz_common.o $(B)/obj/fuzz/fuzz_common_keys.o

.PHONY: all build test check bench demo clean deps format lint test-run cli-test soak \
        fuzz fuzz-build fuzz-replay fuzz-seeds
.DEFAULT_GOAL := all

all:
	$(Q)$(MAKE) --no-print-directory FLAVOUR=release build

# The test binary needs the fault injector, compiled only into test flavours.
build: $(B)/outpost $(if $(filter release,$(FLAVOUR)),,$(B)/check_outpost $(B)/linksim $(REPLAY_BIN))

deps:
	$(Q)./scripts/install-deps

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(SN_CFLAGS) $(FL_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(B)/liboutpost.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/outpost: $(CLI_OBJ) $(B)/liboutpost.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FL_LDFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/check_outpost: $(TEST_OBJ) $(B)/liboutpost.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FL_LDFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

# The link simulator for tests and benches (tests/linksim/); libuv and libc only.
LINKSIM_OBJ = $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/linksim/*.c))
$(B)/linksim: $(LINKSIM_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FL_LDFLAGS) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libuv 2>/dev/null || echo -luv) -lm

# Fuzz targets. In test flavours each is linked with fuzz/replay_main.c (a plain main that
# replays files); in the fuzz flavour (clang only) with libFuzzer's main.
$(B)/fuzz/replay_%: $(B)/obj/fuzz/fuzz_%.o $(FUZZ_COMMON_OBJ) $(B)/obj/fuzz/replay_main.o \
                    $(B)/liboutpost.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FL_LDFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

.SECONDARY: $(FUZZ_OBJ) # made through pattern rules, kept for the next build

$(B)/fuzz/fuzz_%: $(B)/obj/fuzz/fuzz_%.o $(FUZZ_COMMON_OBJ) $(B)/liboutpost.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FL_LDFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/fuzz/gen_seeds: $(B)/obj/fuzz/gen_seeds.o $(B)/obj/fuzz/gen_seeds_store.o \
                     $(B)/obj/fuzz/gen_seeds_bundle.o $(FUZZ_COMMON_OBJ) $(B)/liboutpost.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(FL_LDFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/bench/%: bench/%.c $(B)/liboutpost.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(SN_CFLAGS) $(FL_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# The tests: the fuzz corpus replay, Check suites, then the CLI tests against the binary.
test-run: build fuzz-replay
	$(Q)LINKSIM=$(B)/linksim CK_DEFAULT_TIMEOUT=$${CK_DEFAULT_TIMEOUT:-600} $(B)/check_outpost
	$(Q)OUTPOST=$(B)/outpost LINKSIM=$(B)/linksim tests/cli/run.sh
	$(Q)LINKSIM=$(B)/linksim bash tests/cli/linksim.sh

test: deps
	$(Q)$(MAKE) --no-print-directory FLAVOUR=debug test-run

check: deps
	$(Q)CK_FORK=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(MAKE) --no-print-directory FLAVOUR=asan CFLAGS="-g" test-run

# Replay every committed fuzz input (tests/fuzz/<target>/) through its target.
fuzz-replay: $(REPLAY_BIN)
	$(Q)for t in $(FUZZ_TARGETS); do $(B)/fuzz/replay_$$t tests/fuzz/$$t || exit 1; done

# Fuzzing with libFuzzer (clang and compiler-rt from `scripts/install-deps fuzz`): each
# target runs FUZZ_SECONDS (`make fuzz FUZZ_SECONDS=600` is the ten-minute proof run;
# FUZZ_TARGETS="frame cert" picks some), one after another, from its seeds in tests/fuzz/
# and a working corpus in build/fuzz/corpus/. A crash, leak, timeout or out-of-memory
# fails the run and leaves the input in build/fuzz/crashes/<target>/. To keep it as a
# regression input: fix the bug, then copy the file into tests/fuzz/<target>/ (any name;
# crash-<what>) and commit it; `make test` and `make check` replay it from then on.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang-14
fuzz:
	$(Q)./scripts/install-deps fuzz
	$(Q)$(MAKE) --no-print-directory FLAVOUR=fuzz CC=$(FUZZ_CC) CFLAGS="-g" fuzz-build
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh build/fuzz $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)

# Seed inputs made by the real encoders (fuzz/gen_seeds.c): rewrites tests/fuzz/*/seed-*.
fuzz-seeds: deps
	$(Q)$(MAKE) --no-print-directory FLAVOUR=debug build/debug/fuzz/gen_seeds
	$(Q)build/debug/fuzz/gen_seeds tests/fuzz

soak: deps
	$(Q)$(MAKE) --no-print-directory FLAVOUR=debug build
	$(Q)./scripts/soak build/debug

bench: deps
	$(Q)$(MAKE) --no-print-directory FLAVOUR=release CFLAGS="-O2 -g" $(BENCH_SRC:bench/%.c=build/release/bench/%) build/release/outpost
	$(Q)for b in $(BENCH_SRC:bench/%.c=build/release/bench/%); do echo "== $$b"; $$b || exit 1; done

demo: deps
	$(Q)$(MAKE) --no-print-directory FLAVOUR=release build/release/outpost
	$(Q)OUTPOST=build/release/outpost ./scripts/demo

clean:
	rm -rf build

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) $(BENCH_SRC) $(wildcard fuzz/*.c) \
	    $(wildcard */*.h)

lint:
	@! grep -nE '\b(sprintf|strcpy|strcat|strtok|atoi|gets)\s*\(' $(LIB_SRC) $(CLI_SRC) || \
	    { echo "lint: banned function (see STYLE.md section 6)"; exit 1; }
	@! grep -nE '\b(malloc|calloc|realloc|free)\s*\(' $(filter-out base/alloc.c,$(LIB_SRC) $(CLI_SRC)) || \
	    { echo "lint: raw allocation outside base/alloc.c"; exit 1; }

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(LINKSIM_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)
