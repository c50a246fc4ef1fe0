# vmlab — GNU Make build.
#
#   make            library (static + shared) and the vmlab CLI
#   make run        the main job on the bundled input
#   make test       every unit test under prove (TAP), and the differential
#                   test against the host kernel (tests/linux, docs/differential.md)
#   make test-long  the same with the long versions of random tests
#   make bench      benchmarks, each against a floor measured in the same run
#   make fuzz       each fuzz target for FUZZ_SECONDS (needs clang + libFuzzer)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean
#
# Variants build into their own folder so that flags never mix:
#   SAN=1    -fsanitize=address,undefined        build/san
#   DEBUG=1  invariant validators after each step build/debug
#   WERROR=1 warnings are errors (CI)

CC      ?= cc
AR      ?= ar
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

VARIANT := release
OPT     := -O2
ifeq ($(DEBUG),1)
  VARIANT := debug
  OPT     := -O1 -g -DVM_DEBUG=1
endif
ifeq ($(SAN),1)
  VARIANT := $(VARIANT)-san
  OPT     += -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN   := -fsanitize=address,undefined
endif
B := build/$(VARIANT)

WARN   := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wvla -Wmissing-prototypes
ifeq ($(WERROR),1)
  WARN += -Werror
endif
CPPFLAGS += -Iinclude -Isrc -D_DEFAULT_SOURCE
CFLAGS   += -std=c11 $(OPT) $(WARN) -fPIC -MMD -MP
LDFLAGS  += $(LDSAN)
LDLIBS   += -lm -lz

LIB_SRCS  := $(sort $(wildcard src/base/*.c src/core/*.c src/hw/*.c src/kernel/*.c \
                               src/policy/*.c src/alloc/*.c src/trace/*.c src/report/*.c \
                               src/checksec/*.c))
CLI_SRCS  := $(sort $(wildcard src/cli/*.c))
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRCS:= $(sort $(wildcard bench/bench_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
KDIFF_SRCS:= $(sort $(wildcard tests/linux/*.c))

LIB_OBJS  := $(LIB_SRCS:%.c=$(B)/%.o)
CLI_OBJS  := $(CLI_SRCS:%.c=$(B)/%.o)
TESTS     := $(TEST_SRCS:tests/unit/%.c=$(B)/tests/%)
BENCHES   := $(BENCH_SRCS:bench/%.c=$(B)/bench/%)
FUZZ_REPLAY := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz-replay/%)
KDIFF_OBJS:= $(KDIFF_SRCS:%.c=$(B)/%.o)
KDIFF     := $(B)/tests/linux/kdiff

STATIC := $(B)/libvmlab.a
SHARED := $(B)/libvmlab.so
CLI    := $(B)/vmlab

.PHONY: all run test test-long bench bench-build fuzz install uninstall clean
.DEFAULT_GOAL := all

all: $(STATIC) $(SHARED) $(CLI)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(STATIC): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(SHARED): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,libvmlab.so.0 $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(CLI): $(CLI_OBJS) $(STATIC)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(STATIC) $(LDLIBS)

# Unit tests: one program per module, linked against the static library.
$(B)/tests/%: tests/unit/%.c tests/unit/tap.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

# Fuzz targets built with a plain main() that replays the saved inputs
# (tests/fuzz/corpus/<target>/*), so that `make test` runs every regression input.
$(B)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c $(STATIC) $(LDLIBS)

# The differential test against the host kernel: one program from
# tests/linux/*.c, run by tests/linux/kdiff.t.
$(KDIFF_OBJS): CPPFLAGS += -Itests/unit -Itests/linux
$(KDIFF): $(KDIFF_OBJS) $(STATIC)
	$(CC) $(LDFLAGS) -o $@ $(KDIFF_OBJS) $(STATIC) $(LDLIBS)

# exec against the host kernel (tests/linux/exec, docs/exec.md).
EXECDIFF := $(B)/tests/linux/execdiff
$(EXECDIFF): tests/linux/exec/execdiff.c tests/unit/tap.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

$(B)/bench/%: bench/%.c bench/bench.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Ibench $(CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

# The main job: replay the bundled real trace (examples/traces/README.md).
RUN_TRACE := examples/traces/ls-l-usr-bin.vmt
run: $(CLI)
	$(CLI) replay $(RUN_TRACE)

test: $(TESTS) $(FUZZ_REPLAY) $(CLI) $(KDIFF) $(EXECDIFF)
	VMLAB=$(CLI) FUZZ_BIN=$(B)/fuzz-replay KDIFF=$(KDIFF) EXECDIFF=$(EXECDIFF) prove -j2 -e '' \
	  $(TESTS) tests/cli/*.t tests/fuzz/run_corpus.t tests/linux/kdiff.t tests/linux/execdiff.t

test-long: export VMLAB_TEST_LONG=1
test-long: test

bench-build: $(BENCHES)

bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

FUZZ_SECONDS ?= 30
FUZZ_BIN := build/fuzz
fuzz:
	@mkdir -p $(FUZZ_BIN)
	@for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  clang $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -o $(FUZZ_BIN)/$$n $$f $(LIB_SRCS) $(LDLIBS) || exit 1; \
	  mkdir -p tests/fuzz/corpus/$$n $(FUZZ_BIN)/$$n.work; \
	  $(FUZZ_BIN)/$$n -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=tests/fuzz/corpus/$$n/crash- \
	    $(FUZZ_BIN)/$$n.work tests/fuzz/corpus/$$n || exit 1; \
	done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/vmlab
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/vmlab
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/libvmlab.a
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/libvmlab.so.$(VERSION)
	ln -sf libvmlab.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libvmlab.so.0
	ln -sf libvmlab.so.0 $(DESTDIR)$(PREFIX)/lib/libvmlab.so
	install -m 644 include/vmlab/*.h $(DESTDIR)$(PREFIX)/include/vmlab/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' vmlab.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/vmlab.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vmlab $(DESTDIR)$(PREFIX)/lib/libvmlab.* \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/vmlab.pc
	rm -rf $(DESTDIR)$(PREFIX)/include/vmlab

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TESTS:%=%.d) $(BENCHES:%=%.d) $(FUZZ_REPLAY:%=%.d) \
	 $(KDIFF_OBJS:.o=.d)
