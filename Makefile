# coachfs — build, test, bench, install. Every library through pkg-config.
#   make                 build build/bin/{coachfs,coach-admin,coach-grant,coach-audit}
#   make test            unit + integration tests (as root; mounts real FUSE)
#   make test SANITIZE=1 the same under ASan+UBSan (SANITIZE=thread: TSan)
#   make tsan            the threaded tests under ThreadSanitizer, in $(B)-tsan
#   make bench           coachfs vs gocryptfs vs bindfs vs the raw directory
#   make fuzz            libFuzzer targets (clang), bounded time each
#   make demo            the README's demo (as root)
#   make deps            install the Debian packages the build and tests need
#   make install PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := fuse3 libsodium sqlite3 inih
B       := build

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wvla \
           -Wformat=2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 -pthread \
           -Iinclude $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -pthread

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -U_FORTIFY_SOURCE
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(SANITIZE),thread)
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer -U_FORTIFY_SOURCE
LDFLAGS += -fsanitize=thread
endif

LIB_SRC   := $(filter-out fs/main.c fs/ops.c,$(wildcard fs/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/obj/%.o)
DAEMON_OBJ:= $(B)/obj/fs/main.o $(B)/obj/fs/ops.o
TOOL_SRC  := $(wildcard tools/coach-*.c)
TOOL_BIN  := $(TOOL_SRC:tools/%.c=$(B)/bin/%)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
HELPER_SRC:= $(wildcard tests/integration/*.c)
HELPER_BIN:= $(HELPER_SRC:tests/integration/%.c=$(B)/tests/%)
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(B)/bench/%)
HDRS      := $(wildcard include/coachfs/*.h)

# Rebuild everything when the flags change (e.g. SANITIZE=1 after a plain build).
FLAGS_STAMP := $(B)/.flags
$(shell mkdir -p $(B); echo '$(CC) $(CFLAGS) $(LDFLAGS)' | cmp -s - $(FLAGS_STAMP) || echo '$(CC) $(CFLAGS) $(LDFLAGS)' > $(FLAGS_STAMP))

.PHONY: all test unit integration bench fuzz deps install clean check-deps demo tsan
all: check-deps $(B)/bin/coachfs $(TOOL_BIN)

check-deps:
	@pkg-config --exists $(PKGS) || { echo "missing build libraries; run 'make deps' (as root)"; exit 1; }

$(B)/obj/%.o: %.c $(HDRS) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libcoachfs.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/bin/coachfs: $(DAEMON_OBJ) $(B)/libcoachfs.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/bin/%: tools/%.c $(B)/libcoachfs.a $(HDRS) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libcoachfs.a $(LDLIBS)

$(B)/tests/%: tests/unit/%.c tests/unit/t.h $(B)/libcoachfs.a $(HDRS) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(B)/libcoachfs.a $(LDLIBS)

$(B)/tests/%: tests/integration/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

$(B)/bench/%: tests/bench/%.c $(B)/libcoachfs.a $(HDRS) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libcoachfs.a $(LDLIBS)

deps:
	sh tools/deps.sh

demo:
	bash tools/demo.sh

# The whole suite. Installs missing packages first (needs root, like the mounts).
test:
	@sh tools/deps.sh --if-missing
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(HELPER_BIN)
	@sh tests/run.sh $(B)

# ThreadSanitizer over the tests where threads and processes race: the audit
# writer's unit tests, many callers at once, kill -9 under load, lock
# contention. A report in any process (lib.sh's log_path) is a FAIL line.
TSAN_TESTS ?= test_audit test_workers test_content t_parallel t_crash t_contention t_bigread
tsan:
	@$(MAKE) --no-print-directory B=$(B)-tsan SANITIZE=thread TESTS="$(TSAN_TESTS)" test

unit: all $(UNIT_BIN)
	@sh tests/run.sh $(B) unit

integration: all $(HELPER_BIN)
	@sh tests/run.sh $(B) integration

bench:
	@sh tools/deps.sh --if-missing --bench
	@$(MAKE) --no-print-directory all $(BENCH_BIN) $(HELPER_BIN)
	@bash tests/bench/run.sh $(B)

fuzz:
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/coachfs
	install -m 0755 $(B)/bin/coachfs $(TOOL_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 README.md etc/coachfs.ini $(DESTDIR)$(PREFIX)/share/doc/coachfs/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0644 etc/coachfs.service $(DESTDIR)$(PREFIX)/lib/systemd/system/

clean:
	rm -rf $(B) $(B)-tsan
