# btkit — plain GNU make.  See `make help`.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
BUILD   ?= build

PKGS := libpcap openssl libcurl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpcap -lssl -lcrypto -lcurl -lz)
# Debian's readline has a .pc file; others may not.
RL_LIBS    := $(shell pkg-config --libs readline 2>/dev/null || echo -lreadline)

WFLAGS  := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wshadow -Wvla
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WFLAGS) $(CFLAGS) $(SANFLAGS) \
             -Icommon $(PKG_CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) $(RL_LIBS) -lm

ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all
endif

LIB_SRC   := $(wildcard common/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libbt.a
TOOL_SRC  := $(wildcard tools/bt-*.c)
TOOLS     := $(TOOL_SRC:tools/%.c=$(BUILD)/bin/%)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNITS     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HDRS      := $(wildcard common/*.h) $(wildcard tests/unit/*.h) $(wildcard tests/data/*/*.h)
MANS      := $(wildcard docs/*.1)

.SECONDARY:
.PHONY: all deps test check fuzz bench demo install uninstall clean help units tools

all: $(LIB) $(TOOLS) $(UNITS)

tools: $(TOOLS)
units: $(UNITS)

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	@echo "  AR      $@"
	@ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $< $(LIB) $(LDLIBS_ALL) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $< $(LIB) $(LDLIBS_ALL) -o $@

deps:
	@bash tests/deps.sh

# The test command of the README.  Last line: "N passed, N failed[, N skipped]".
test: all
	@BUILD=$(BUILD) bash tests/run.sh

# The same suites built with AddressSanitizer and UndefinedBehaviorSanitizer.
check:
	@$(MAKE) --no-print-directory BUILD=build/check SAN=1 CFLAGS="-O1 -g" test

fuzz:
	@bash tests/fuzz/run.sh

bench: all
	@bash tests/bench/run.sh

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bash tests/demo.sh

install: $(TOOLS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(MANS),install -m 0644 $(MANS) $(DESTDIR)$(PREFIX)/share/man/man1/)

uninstall:
	rm -f $(TOOLS:$(BUILD)/bin/%=$(DESTDIR)$(PREFIX)/bin/%) \
	      $(MANS:docs/%=$(DESTDIR)$(PREFIX)/share/man/man1/%)

clean:
	rm -rf build

help:
	@echo "targets: all deps test check fuzz bench demo install uninstall clean"
	@echo "  make deps    install build and test packages (apt, idempotent)"
	@echo "  make demo    local tracker + seeder on 127.0.0.1, every tool against them"
	@echo "  make test    build, run unit and integration suites"
	@echo "  make check   the same under ASan+UBSan (build/check)"
	@echo "  make install PREFIX=/usr/local DESTDIR="
