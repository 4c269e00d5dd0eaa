# Polku: build, run, test, bench, install.
# Extra compiler flags go through OPT= (a command-line CFLAGS= would drop the warnings).

VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
OPT ?=

PKGS := libmicrohttpd jansson sqlite3
WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wvla -Wundef -fno-common
CFLAGS += $(WARN) -D_GNU_SOURCE -DPOLKU_VERSION='"$(VERSION)"' -Iserver -Iapi -I$(BUILD)/gen \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(OPT)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
RELEASE := -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
SAN := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
API_SRC := $(wildcard api/*.c)
LIB_SRC := $(SERVER_SRC) $(API_SRC) $(BUILD)/gen/schema_sql.c
SCHEMA := $(sort $(wildcard schema/*.sql))
HDRS := $(wildcard server/*.h api/*.h)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/san/tests/%,$(UNIT_SRC))

.PHONY: all deps test-deps run test unit e2e lint bench clean install format

all: deps $(BUILD)/polku

deps:
	@sh tests/deps.sh build

test-deps:
	@sh tests/deps.sh test

# Migrations are embedded as C strings, in numeric order. schema.list holds their names and is
# rewritten only when the set changes, so that removing a migration regenerates the C file too.
SCHEMA_LIST := $(BUILD)/gen/schema.list
$(shell mkdir -p $(BUILD)/gen && (echo '$(SCHEMA)' | cmp -s - $(SCHEMA_LIST) || \
	echo '$(SCHEMA)' > $(SCHEMA_LIST)))

$(BUILD)/gen/schema_sql.c: $(SCHEMA) $(SCHEMA_LIST) tests/embed_schema.sh
	@mkdir -p $(dir $@)
	sh tests/embed_schema.sh $(SCHEMA) > $@.tmp && mv $@.tmp $@

# Release objects.
$(BUILD)/rel/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(RELEASE) -c $< -o $@

# Sanitizer objects (the test suite runs these).
$(BUILD)/san/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@

$(BUILD)/polku: $(patsubst %.c,$(BUILD)/rel/%.o,$(LIB_SRC) server/main.c)
	$(CC) $(CFLAGS) $(RELEASE) -o $@ $^ $(LDLIBS)

$(BUILD)/polku-san: $(patsubst %.c,$(BUILD)/san/%.o,$(LIB_SRC) server/main.c)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/san/tests/%: tests/unit/%.c $(patsubst %.c,$(BUILD)/san/%.o,$(LIB_SRC)) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -Itests/unit $(shell pkg-config --cflags check) -o $@ $< \
		$(patsubst %.c,$(BUILD)/san/%.o,$(LIB_SRC)) $(LDLIBS) $(shell pkg-config --libs check)

run: all
	POLKU_LISTEN=$${POLKU_LISTEN:-127.0.0.1:8080} POLKU_DB=$${POLKU_DB:-./polku.db} \
		./$(BUILD)/polku serve

# Everything: unit suites and end-to-end tests under ASan/UBSan, the spec lint; one summary line.
test: deps test-deps $(BUILD)/polku $(BUILD)/polku-san $(UNIT_BIN)
	@sh tests/run.sh $(BUILD)

unit: test-deps $(UNIT_BIN)
	@sh tests/run.sh $(BUILD) unit

e2e: test-deps $(BUILD)/polku-san
	@sh tests/run.sh $(BUILD) e2e

lint: test-deps
	@sh tests/run.sh $(BUILD) lint

bench: deps $(BUILD)/polku
	@sh tests/bench/run.sh $(BUILD)

format:
	clang-format -i server/*.c server/*.h api/*.c api/*.h tests/unit/*.c

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/polku $(DESTDIR)$(PREFIX)/bin/polku

clean:
	rm -rf $(BUILD)
