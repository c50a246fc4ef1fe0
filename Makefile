# vmlab — GNU Make build.
#
#   make            library (static + shared) and the vmlab CLI
#   make run        the main job on the bundled input
#   make test       every unit test under prove (TAP), and the differential
#                   test against the host kernel (tests/linux, docs/differential.md)
#   make test-long  the same with the long versions of random tests
#   make bench      benchmarks, each against a floor measured in the same run
#   make bench-vgtool  capture speed and trace size: the Valgrind tool against lackey
#   make fuzz       each fuzz target for FUZZ_SECONDS (needs clang + libFuzzer)
#   make install    PREFIX=/usr/local DESTDIR=
#   make vgtool     vmlab's Valgrind tool alone (docs/vgtool.md); `make` builds it
#                   when Valgrind's tool headers and libraries are installed
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

.PHONY: all run test test-long bench bench-build bench-vgtool fuzz install uninstall clean vgtool
.DEFAULT_GOAL := all

all: $(STATIC) $(SHARED) $(CLI) vgtool

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

# The capture functions as a command for tests/vgtool and the benchmark.
VGT_CAPTURE := $(B)/tests/vgtool/vgtool_capture
$(VGT_CAPTURE): tests/vgtool/capture_main.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

$(B)/bench/%: bench/%.c bench/bench.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Ibench $(CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

# vmlab's Valgrind tool (src/vgtool/, docs/vgtool.md): a static executable
# linked against Valgrind's own libraries at Valgrind's tool address, not
# part of the library, built without the C library or sanitizers.  It runs
# as `valgrind --tool=vmlab` with VALGRIND_LIB pointing at $(VGT_DIR), which
# also holds links to Valgrind's support files (vgpreload_core, default.supp
# and the other tools).  Skipped with a message when Valgrind's tool headers
# or static libraries are missing (Debian: the valgrind package has them).
VG_INCDIR  ?= /usr/include/valgrind
VG_LIBDIR  ?= /usr/lib/x86_64-linux-gnu/valgrind
VG_SUPPORT ?= $(patsubst %/,%,$(dir $(firstword $(wildcard \
		/usr/libexec/valgrind/vgpreload_core-amd64-linux.so \
		/usr/lib/x86_64-linux-gnu/valgrind/vgpreload_core-amd64-linux.so \
		/usr/lib/valgrind/vgpreload_core-amd64-linux.so))))
VGT_OK   := $(and $(filter x86_64,$(shell uname -m)),$(wildcard $(VG_INCDIR)/pub_tool_basics.h),\
		$(wildcard $(VG_LIBDIR)/libcoregrind-amd64-linux.a),$(VG_SUPPORT))
VGT_SRCS := $(sort $(wildcard src/vgtool/*.c))
VGT_DIR  := $(B)/vgtool
VGT_OBJS := $(VGT_SRCS:src/vgtool/%.c=$(VGT_DIR)/obj/%.o)
VGT      := $(VGT_DIR)/vmlab-amd64-linux
VGT_CFLAGS := -std=gnu11 -O2 -g $(filter-out -Wmissing-prototypes,$(WARN)) -Wno-unused-parameter \
	-fno-stack-protector -fno-builtin -fno-strict-aliasing -fomit-frame-pointer -fno-pie \
	-I$(VG_INCDIR) -DVGA_amd64=1 -DVGO_linux=1 -DVGP_amd64_linux=1 \
	-DVGPV_amd64_linux_vanilla=1 -MMD -MP

ifneq ($(VGT_OK),)
vgtool: $(VGT) $(VGT_DIR)/.links

$(VGT_DIR)/obj/%.o: src/vgtool/%.c
	@mkdir -p $(dir $@)
	$(CC) $(VGT_CFLAGS) -c $< -o $@

# Valgrind's Makefile.tool.am: static, no default libraries, entry _start
# in libcoregrind, text at 0x58000000 (valt_load_address for amd64-linux).
$(VGT): $(VGT_OBJS)
	$(CC) -o $@ $^ -static -nodefaultlibs -nostartfiles -u _start -no-pie \
	  -Wl,-Ttext-segment=0x58000000 -L$(VG_LIBDIR) -lcoregrind-amd64-linux -lvex-amd64-linux -lgcc

$(VGT_DIR)/.links:
	@mkdir -p $(VGT_DIR)
	@for f in $(VG_SUPPORT)/*; do case "$${f##*/}" in vmlab-*) ;; *) ln -sfn "$$f" $(VGT_DIR)/;; esac; done
	@touch $@
else
vgtool:
	@echo "vgtool: skipped: Valgrind's tool headers ($(VG_INCDIR)/pub_tool_basics.h) or" \
	  "libraries ($(VG_LIBDIR)/libcoregrind-amd64-linux.a) are not installed (x86-64 only)"
endif


# The main job: replay the bundled real trace (examples/traces/README.md).
RUN_TRACE := examples/traces/ls-l-usr-bin.vmt
run: $(CLI)
	$(CLI) replay $(RUN_TRACE)

test: $(TESTS) $(FUZZ_REPLAY) $(CLI) $(KDIFF) $(EXECDIFF) $(VGT_CAPTURE) vgtool
	VMLAB=$(CLI) FUZZ_BIN=$(B)/fuzz-replay KDIFF=$(KDIFF) EXECDIFF=$(EXECDIFF) \
	  VGT_CAPTURE=$(VGT_CAPTURE) VGTOOL_DIR=$(if $(VGT_OK),$(VGT_DIR)) prove -j2 -e '' \
	  $(TESTS) tests/cli/*.t tests/fuzz/run_corpus.t tests/linux/kdiff.t tests/linux/execdiff.t \
	  tests/vgtool/*.t

test-long: export VMLAB_TEST_LONG=1
test-long: test

bench-build: $(BENCHES)

bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

# Capture speed: the tool against lackey on real programs (bench/vgtool.sh);
# a few minutes, so not part of `make bench`.
bench-vgtool: $(CLI) $(VGT_CAPTURE) vgtool
	VMLAB=$(CLI) VGT_CAPTURE=$(VGT_CAPTURE) VGTOOL_DIR=$(if $(VGT_OK),$(VGT_DIR)) bench/vgtool.sh $(BENCH_ARGS)

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
ifneq ($(VGT_OK),)
	install -d $(DESTDIR)$(PREFIX)/libexec/vmlab
	install -m 755 $(VGT) $(DESTDIR)$(PREFIX)/libexec/vmlab/vmlab-amd64-linux
	for f in $(VG_SUPPORT)/*; do case "$${f##*/}" in vmlab-*) ;; \
	  *) ln -sfn "$$f" $(DESTDIR)$(PREFIX)/libexec/vmlab/;; esac; done
endif

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vmlab $(DESTDIR)$(PREFIX)/lib/libvmlab.* \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/vmlab.pc
	rm -rf $(DESTDIR)$(PREFIX)/include/vmlab $(DESTDIR)$(PREFIX)/libexec/vmlab

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TESTS:%=%.d) $(BENCHES:%=%.d) $(FUZZ_REPLAY:%=%.d) \
	 $(KDIFF_OBJS:.o=.d) $(VGT_OBJS:.o=.d)
