# coachfs — build, test, bench, install. Every library through pkg-config.
#   make                 build build/bin/{coachfs,coach-admin,coach-grant,coach-audit}
#   make test            unit + integration tests (as root; mounts real FUSE)
#   make test SANITIZE=1 the same under ASan+UBSan (SANITIZE=thread: TSan)
#   make tsan            the threaded tests under ThreadSanitizer, in $(B)-tsan
#   make bench           coachfs vs gocryptfs vs bindfs vs the raw directory
#   make fuzz            libFuzzer targets (clang), bounded time each
#   make demo            the README's demo (as root)
#   make deps            install the Debian packages the build and tests need
#   make install PREFIX=/usr/local DESTDIR=   (make uninstall undoes it;
#                        MANDIR, COMPDIR: where the pages and completion go)
#   WERROR=1             warnings are errors (make test, make tsan and CI set it;
#                        a user's plain build keeps warnings as warnings)

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := fuse3 libsodium sqlite3 inih
B       := build

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# The version: the release number, plus the commit when built from git
# (0.1.0+g1b76aa0, +dirty for uncommitted changes). Only the programs that
# print it are rebuilt when it changes (build/.version).
RELEASE := 0.1.0
VERSION := $(RELEASE)$(shell git rev-parse --short HEAD >/dev/null 2>&1 && \
	   printf '+g%s%s' "$$(git rev-parse --short HEAD)" \
	   "$$(git diff --quiet HEAD 2>/dev/null || echo .dirty)")

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wvla \
           -Wformat=2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 -pthread \
           -fPIE -Iinclude $(PKG_CFLAGS)
LDFLAGS += -pie -Wl,-z,relro -Wl,-z,now
LDLIBS  += $(PKG_LIBS) -pthread
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -U_FORTIFY_SOURCE
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(SANITIZE),thread)
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer -U_FORTIFY_SOURCE
LDFLAGS += -fsanitize=thread
endif

LIB_SRC   := $(filter-out fs/main.c fs/ops%.c,$(wildcard fs/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/obj/%.o)
DAEMON_SRC:= fs/main.c $(wildcard fs/ops*.c)
DAEMON_OBJ:= $(DAEMON_SRC:%.c=$(B)/obj/%.o)
TOOL_SRC  := $(wildcard tools/coach-*.c)
TOOL_BIN  := $(TOOL_SRC:tools/%.c=$(B)/bin/%)
# A tool is tools/coach-NAME.c plus its own tools/NAME-*.c pieces, linked
# with the tools' shared module (tools/tool*.c, tools/tool.h).
TOOLLIB_SRC := $(wildcard tools/tool*.c)
TOOL_HDRS := $(wildcard tools/*.h)
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
VERSION_STAMP := $(B)/.version
$(shell echo '$(VERSION)' | cmp -s - $(VERSION_STAMP) || echo '$(VERSION)' > $(VERSION_STAMP))
VERSION_DEF := -DCFS_VERSION='"$(VERSION)"'

.PHONY: all test unit integration bench fuzz deps install uninstall clean check-deps demo tsan
GEN       := $(B)/coachfs.service $(B)/coachfs@.service $(B)/sbin/mount.fuse.coachfs
all: check-deps $(B)/bin/coachfs $(TOOL_BIN) $(GEN)

check-deps:
	@pkg-config --exists $(PKGS) || { echo "missing build libraries; run 'make deps' (as root)"; exit 1; }

$(B)/obj/%.o: %.c $(HDRS) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The daemon's and the tools' main files print the version.
$(B)/obj/fs/main.o: fs/main.c $(HDRS) $(FLAGS_STAMP) $(VERSION_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(VERSION_DEF) -c -o $@ $<

$(B)/libcoachfs.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/bin/coachfs: $(DAEMON_OBJ) $(B)/libcoachfs.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.SECONDEXPANSION:
$(B)/bin/coach-%: tools/coach-%.c $$(wildcard tools/$$*-*.c) $(TOOLLIB_SRC) $(B)/libcoachfs.a $(HDRS) $(TOOL_HDRS) $(FLAGS_STAMP) $(VERSION_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(VERSION_DEF) -Itools $(LDFLAGS) -o $@ $(filter %.c,$^) $(B)/libcoachfs.a $(LDLIBS)

$(B)/tests/%: tests/unit/%.c tests/unit/t.h $(B)/libcoachfs.a $(HDRS) $(FLAGS_STAMP) $(VERSION_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(VERSION_DEF) -Itests/unit $(LDFLAGS) -o $@ $< $(B)/libcoachfs.a $(LDLIBS)

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
	@$(MAKE) --no-print-directory WERROR=1 all $(UNIT_BIN) $(HELPER_BIN)
	@sh tests/run.sh $(B)

# ThreadSanitizer over the tests where threads and processes race: the audit
# writer's unit tests, many callers at once, kill -9 under load, lock
# contention. A report in any process (lib.sh's log_path) is a FAIL line.
TSAN_TESTS ?= test_audit test_workers test_content test_readahead test_par_write t_parallel t_crash t_contention t_bigread t_cache t_readahead t_opens
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

# The systemd units and the mount(8) helper name the installed binary, so
# they are made from PREFIX. mount(8) looks for helpers in /sbin only, so the
# helper goes to SBINDIR whatever PREFIX is.
SBINDIR ?= /sbin
$(B)/%.service: etc/%.service.in Makefile
	@mkdir -p $(dir $@)
	sed 's|@BINDIR@|$(PREFIX)/bin|g' $< > $@
$(B)/sbin/mount.fuse.coachfs: etc/mount.fuse.coachfs.in Makefile
	@mkdir -p $(dir $@)
	sed 's|@BINDIR@|$(PREFIX)/bin|g' $< > $@
	chmod 0755 $@

# Manual pages, and bash completion: one file, which bash-completion loads
# by the command's name, so the tools' names are links to it.
MANDIR  ?= $(PREFIX)/share/man
COMPDIR ?= $(PREFIX)/share/bash-completion/completions
MAN5    := $(wildcard man/*.5)
MAN8    := $(wildcard man/*.8)
COMPLETIONS := coachfs coach-admin coach-grant coach-audit

INSTALLED := $(DESTDIR)$(PREFIX)/bin/coachfs $(TOOL_BIN:$(B)/bin/%=$(DESTDIR)$(PREFIX)/bin/%) \
	     $(DESTDIR)$(PREFIX)/share/doc/coachfs/README.md \
	     $(DESTDIR)$(PREFIX)/share/doc/coachfs/coachfs.ini \
	     $(DESTDIR)$(PREFIX)/share/doc/coachfs/LICENSE \
	     $(DESTDIR)$(PREFIX)/lib/systemd/system/coachfs.service \
	     $(DESTDIR)$(PREFIX)/lib/systemd/system/coachfs@.service \
	     $(DESTDIR)$(SBINDIR)/mount.fuse.coachfs \
	     $(MAN5:man/%=$(DESTDIR)$(MANDIR)/man5/%) $(MAN8:man/%=$(DESTDIR)$(MANDIR)/man8/%) \
	     $(COMPLETIONS:%=$(DESTDIR)$(COMPDIR)/%)

# The units and the helper are made again here: PREFIX may differ from the build's.
install: all
	@rm -f $(GEN)
	@$(MAKE) --no-print-directory $(GEN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/coachfs $(DESTDIR)$(SBINDIR)
	install -m 0755 $(B)/bin/coachfs $(TOOL_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(B)/sbin/mount.fuse.coachfs $(DESTDIR)$(SBINDIR)/
	install -m 0644 README.md LICENSE etc/coachfs.ini $(DESTDIR)$(PREFIX)/share/doc/coachfs/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0644 $(B)/coachfs.service $(B)/coachfs@.service $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(COMPDIR)
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 etc/bash_completion.d/coachfs $(DESTDIR)$(COMPDIR)/coachfs
	for c in coach-admin coach-grant coach-audit; do ln -sf coachfs $(DESTDIR)$(COMPDIR)/$$c; done

# Removes exactly what install put there (configuration, the store and the
# databases are the administrator's and stay).
uninstall:
	rm -f $(INSTALLED)
	-rmdir $(DESTDIR)$(PREFIX)/share/doc/coachfs 2>/dev/null

clean:
	rm -rf $(B) $(B)-tsan
