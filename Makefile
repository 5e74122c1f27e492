# tokenforge: `make demo` runs the demo, `make test` runs every test. Both set up what a fresh
# machine lacks (cbindgen, pinned, into .tools/; valgrind through apt-get when missing).

CARGO          ?= cargo
CC             ?= cc
CXX            ?= c++
SHELL          := /bin/bash
CBINDGEN_VER   := 0.29.4
TOOLS          := $(CURDIR)/.tools
# A cbindgen on PATH of the pinned version is used as it is; otherwise one is built into .tools/.
CBINDGEN_ON_PATH := $(shell command -v cbindgen 2>/dev/null)
ifeq ($(if $(CBINDGEN_ON_PATH),$(shell $(CBINDGEN_ON_PATH) --version 2>/dev/null)),cbindgen $(CBINDGEN_VER))
CBINDGEN       := $(CBINDGEN_ON_PATH)
else
CBINDGEN       := $(TOOLS)/bin/cbindgen
endif
RELEASE        := target/release
LIB_SO         := $(RELEASE)/libtokenforge.so
SERVER         := $(RELEASE)/tokenforge-testserver
BUILD          := build
WITH_SERVER    := scripts/with-server.sh $(SERVER)
CFLAGS_STRICT  := -std=c11 -Wall -Wextra -Werror -pedantic -g -Iinclude
LDFLAGS_TF     := -L$(RELEASE) -Wl,-rpath,$(CURDIR)/$(RELEASE) -ltokenforge -lpthread
VALGRIND       := valgrind --quiet --fair-sched=yes --leak-check=full --show-leak-kinds=definite,indirect \
                  --errors-for-leak-kinds=definite,indirect --error-exitcode=1
EXAMPLES       := quickstart simple_oauth2 two_step header_auth mixed_tokens error_handling \
                  custom_header custom_data dependency_injection custom_fetcher robust_errors \
                  pipeline_demo
EXAMPLE_BINS   := $(EXAMPLES:%=$(BUILD)/examples/%)
C_TESTS        := $(BUILD)/test_ffi $(BUILD)/test_hooks $(BUILD)/test_pipeline
# The demo's secrets come from the environment, as a deployment's would.
export DEMO_APP_SECRET    ?= demo-app-secret
export DEMO_USER_PASSWORD ?= demo-password

GO             ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
PREFIX         ?= /usr/local
VERSION        := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR          := $(firstword $(subst ., ,$(VERSION)))
STAGE          := $(CURDIR)/$(BUILD)/stage

.PHONY: all lib header check-header test test-suites test-readme test-sanitizers fuzz test-rust test-c test-go test-cpp test-python test-install examples demo bench install valgrind redis nginx tools python-env check-peers clean

all: lib

lib:
	$(CARGO) build --release --workspace
	@ln -sf libtokenforge.so $(RELEASE)/libtokenforge.so.$(MAJOR)

$(CBINDGEN):
	$(CARGO) install --locked cbindgen --version $(CBINDGEN_VER) --root $(TOOLS)

## Regenerates include/tokenforge.h from the Rust sources.
header: $(CBINDGEN)
	$(CBINDGEN) --quiet --config cbindgen.toml --output include/tokenforge.h .

## Fails when the committed header differs from what cbindgen makes now; compiles it alone
## as C11 and as C++17.
check-header: $(CBINDGEN)
	@mkdir -p $(BUILD)
	$(CBINDGEN) --quiet --config cbindgen.toml --output $(BUILD)/tokenforge.h .
	@cmp -s $(BUILD)/tokenforge.h include/tokenforge.h || { \
	  echo "include/tokenforge.h is stale: run 'make header' and commit it"; \
	  diff -u include/tokenforge.h $(BUILD)/tokenforge.h | head -40; exit 1; }
	$(CC) -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c include/tokenforge.h
	$(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c++ include/tokenforge.h
	@echo "header: up to date, compiles as C11 and C++17"

valgrind:
	@command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq valgrind; }

## redis-server, for the shared-store tests (each starts its own on a free loopback port).
redis:
	@command -v redis-server >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq redis-server; }

## Python's pip and venv, for the Python package's tests (Debian splits them out of python3).
python-env:
	@python3 -c 'import ensurepip, venv' 2>/dev/null && python3 -m pip --version >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq python3-venv python3-pip; }

## pkg-config, cmake and ninja, for the install checks and the C++ tests.
tools:
	@for t in pkg-config:pkgconf cmake:cmake ninja:ninja-build; do \
	  command -v $${t%%:*} >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $${t##*:}; }; \
	done

$(BUILD)/examples/%: examples-c/%.c examples-c/example_util.h include/tokenforge.h lib
	@mkdir -p $(BUILD)/examples
	$(CC) $(CFLAGS_STRICT) -o $@ $< $(LDFLAGS_TF)

$(BUILD)/test_%: tests/c/test_%.c tests/c/check.h include/tokenforge.h lib
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_STRICT) -DTOKENFORGE_SOURCE_DIR='"$(CURDIR)"' -o $@ $< $(LDFLAGS_TF)

examples: $(EXAMPLE_BINS)

## Every test suite (going on past a failing one), each ending with "SUITE: N passed, N failed";
## then one line with the totals. The whole output is also in build/test.log.
test:
	@mkdir -p $(BUILD)
	@set -o pipefail; $(MAKE) --no-print-directory -k test-suites 2>&1 | tee $(BUILD)/test.log; \
	  scripts/test-summary.sh $(BUILD)/test.log $$?

test-suites: check-header test-rust test-c test-sanitizers test-go test-cpp test-python test-install test-readme

test-rust: redis
	@mkdir -p $(BUILD)
	@set -o pipefail; $(CARGO) test --workspace 2>&1 | tee $(BUILD)/rust-test.log; rc=$$?; \
	  sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' $(BUILD)/rust-test.log | \
	  awk '{p+=$$1; f+=$$2} END {printf "rust: %d passed, %d failed\n", p, f}'; exit $$rc

## C tests and every C example, against the loopback server, under valgrind.
test-c: valgrind $(C_TESTS) $(EXAMPLE_BINS)
	@set -e; for t in $(C_TESTS); do \
	  echo "== $$t (valgrind)"; \
	  $(WITH_SERVER) $(VALGRIND) $$t; \
	done
	@set -e; for e in $(EXAMPLES); do \
	  echo "== example $$e (valgrind)"; \
	  $(WITH_SERVER) $(VALGRIND) $(BUILD)/examples/$$e; \
	done
	@echo "examples: $(words $(EXAMPLES)) passed, 0 failed"

## The C tests and examples again, built with AddressSanitizer (leaks included) and
## UndefinedBehaviorSanitizer, against the loopback server (valgrind runs them in test-c).
SAN_FLAGS      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
test-sanitizers: lib
	@mkdir -p $(BUILD)/san
	@n=0; set -o pipefail; \
	for src in $(C_TESTS:$(BUILD)/test_%=tests/c/test_%.c) $(EXAMPLES:%=examples-c/%.c); do \
	  exe=$(BUILD)/san/$$(basename $$src .c); \
	  $(CC) $(CFLAGS_STRICT) $(SAN_FLAGS) -DTOKENFORGE_SOURCE_DIR='"$(CURDIR)"' -o $$exe $$src $(LDFLAGS_TF) || exit 1; \
	  echo "== $$exe (ASan, UBSan)"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(WITH_SERVER) $$exe 2>&1 | sed 's/^/  /' || { echo "sanitizers: $$n passed, 1 failed"; exit 1; }; \
	  n=$$((n + 1)); \
	done; echo "sanitizers: $$n passed, 0 failed"

## The Go package: vet, then its tests with the race detector (they start the loopback server).
test-go: lib
	@mkdir -p $(BUILD)
	cd bindings/go && $(GO) vet ./...
	@log=$(CURDIR)/$(BUILD)/go-test.log; cd bindings/go && $(GO) test -race -count=1 -v ./... > $$log 2>&1; rc=$$?; \
	  if [ $$rc -ne 0 ]; then cat $$log; else grep -E '^(ok|FAIL)' $$log; fi; \
	  echo "go: $$(grep -c '^--- PASS' $$log) passed, $$(grep -c '^--- FAIL' $$log) failed"; exit $$rc

## The C++ wrapper's GoogleTest tests through CMake and ctest.
## The Python package: a wheel carrying the shared library, installed with pytest into a fresh
## virtual environment, its tests run against the loopback server and a redis-server.
test-python: lib redis python-env
	@bindings/python/run-tests.sh

test-cpp: lib tools
	cmake -S bindings/cpp -B $(BUILD)/cpp -G Ninja -DCMAKE_BUILD_TYPE=Debug > /dev/null
	cmake --build $(BUILD)/cpp
	@set -o pipefail; ctest --test-dir $(BUILD)/cpp --output-on-failure 2>&1 | tee $(BUILD)/cpp-test.log; rc=$$?; \
	  sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1 \2/p' $(BUILD)/cpp-test.log | \
	  awk '{printf "c++: %d passed, %d failed\n", $$2 - $$1, $$1}'; exit $$rc

## Every code block of README.md, built and run as written (tests/readme/check.py).
test-readme: lib tools
	python3 tests/readme/check.py

## Installs the shared and static libraries, the C and C++ headers, tokenforge.pc and the
## CMake package (find_package(tokenforge); tokenforge::tokenforge) under $(PREFIX).
install: lib
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/cmake/tokenforge $(DESTDIR)$(PREFIX)/include
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libtokenforge.so.$(VERSION)
	strip --strip-unneeded $(DESTDIR)$(PREFIX)/lib/libtokenforge.so.$(VERSION)
	ln -sf libtokenforge.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libtokenforge.so.$(MAJOR)
	ln -sf libtokenforge.so.$(MAJOR) $(DESTDIR)$(PREFIX)/lib/libtokenforge.so
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 -s $(RELEASE)/tokenforge $(DESTDIR)$(PREFIX)/bin/tokenforge
	install -d $(DESTDIR)$(PREFIX)/share/doc/tokenforge
	install -m 644 LICENSE-MIT LICENSE-APACHE CHANGELOG.md README.md $(DESTDIR)$(PREFIX)/share/doc/tokenforge/
	install -m 644 $(RELEASE)/libtokenforge.a $(DESTDIR)$(PREFIX)/lib/libtokenforge.a
	strip --strip-debug $(DESTDIR)$(PREFIX)/lib/libtokenforge.a
	install -m 644 include/tokenforge.h bindings/cpp/include/tokenforge.hpp $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' packaging/tokenforge.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tokenforge.pc
	install -m 644 packaging/tokenforgeConfig.cmake $(DESTDIR)$(PREFIX)/lib/cmake/tokenforge/
	sed -e 's|@VERSION@|$(VERSION)|' packaging/tokenforgeConfigVersion.cmake.in \
	  > $(DESTDIR)$(PREFIX)/lib/cmake/tokenforge/tokenforgeConfigVersion.cmake

## Installs into a temporary prefix and builds a program against it with pkg-config and
## two with CMake (shared and static), then runs them.
test-install: tools
	rm -rf $(STAGE) $(BUILD)/install-cmake
	$(MAKE) --no-print-directory install PREFIX=$(STAGE)
	$(CC) $(CFLAGS_STRICT) -o $(BUILD)/hello_pkgconfig tests/install/hello.c \
	  $$(PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --cflags --libs tokenforge) -Wl,-rpath,$(STAGE)/lib
	$(BUILD)/hello_pkgconfig
	@test "$$(PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --modversion tokenforge)" = "$(VERSION)" || \
	  { echo "tokenforge.pc does not say $(VERSION)"; exit 1; }
	@grep -q 'set(PACKAGE_VERSION "$(VERSION)")' $(STAGE)/lib/cmake/tokenforge/tokenforgeConfigVersion.cmake || \
	  { echo "the CMake version file does not say $(VERSION)"; exit 1; }
	@grep -q '#define TOKENFORGE_VERSION "$(VERSION)"' $(STAGE)/include/tokenforge.h || \
	  { echo "the installed header does not say $(VERSION)"; exit 1; }
	@readelf -d $(STAGE)/lib/libtokenforge.so.$(VERSION) | grep -q 'SONAME.*\[libtokenforge.so.$(MAJOR)\]' && \
	  test "$$(readlink $(STAGE)/lib/libtokenforge.so)" = libtokenforge.so.$(MAJOR) && \
	  test "$$(readlink $(STAGE)/lib/libtokenforge.so.$(MAJOR))" = libtokenforge.so.$(VERSION) && \
	  readelf -d $(BUILD)/hello_pkgconfig | grep -q 'NEEDED.*\[libtokenforge.so.$(MAJOR)\]' || \
	  { echo "SONAME libtokenforge.so.$(MAJOR) or its symlinks are wrong"; exit 1; }
	@test -f $(STAGE)/share/doc/tokenforge/LICENSE-MIT && test -f $(STAGE)/share/doc/tokenforge/CHANGELOG.md
	@test -x $(STAGE)/bin/tokenforge && $(STAGE)/bin/tokenforge --version | grep -q "$(VERSION)"
	@echo "install: version $(VERSION) in tokenforge.pc, the CMake version file and the header; SONAME and symlinks; tokenforge command"
	cmake -S tests/install -B $(BUILD)/install-cmake -G Ninja -DCMAKE_PREFIX_PATH=$(STAGE) > /dev/null
	cmake --build $(BUILD)/install-cmake > /dev/null
	$(BUILD)/install-cmake/hello_cmake
	$(BUILD)/install-cmake/hello_cmake_static
	cd bindings/go && PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig LD_LIBRARY_PATH=$(STAGE)/lib \
	  $(GO) test -tags tokenforge_pkgconfig -count=1 -run 'TestVersion|TestToken|TestPipelineFromJSON' ./...
	@echo "install: 5 passed, 0 failed"

## A JSON-configured three-step pipeline against the project's loopback token server.
demo: $(BUILD)/examples/pipeline_demo
	@$(WITH_SERVER) $(BUILD)/examples/pipeline_demo examples-c/demo_pipeline.json

nginx:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { apt-get update -qq && apt-get install -y -qq nginx-light || apt-get install -y -qq nginx; }

## Speed figures (targets in the README), each side by side with its peer in one run: the
## cached get through the C ABI (by name and by step handle, 1 and 2 threads) and a fetch
## against a raw socket POST to the same nginx; the Go binding beside golang.org/x/oauth2
## (bindings/go/bench, its own module); the pipeline under load against a failing
## endpoint (TOKENFORGE_LOAD_SECONDS); processes sharing a file store and a real redis-server;
## the Python binding beside the reference's cached get and a hand-written http.client fetch.
bench: redis nginx lib
	$(CARGO) bench --bench pipeline
	PATH="$$PATH:/usr/sbin" $(CARGO) bench --bench fetch
	cd bindings/go/bench && PATH="$$PATH:/usr/sbin" $(GO) run .
	$(CARGO) bench --bench fleet
	$(CARGO) bench --bench load
	$(CARGO) bench --bench tenants
	PYTHONPATH=bindings/python/src TOKENFORGE_LIBRARY=$(CURDIR)/$(LIB_SO) python3 bindings/python/bench.py

## Fuzzing (needs a nightly toolchain): each cargo-fuzz target of fuzz/ for FUZZ_SECONDS,
## from its seed corpus in fuzz/corpus/TARGET (new inputs go to build/fuzz/TARGET). A finding
## stops it, with the input saved under fuzz/artifacts/TARGET.
FUZZ_SECONDS   ?= 60
FUZZ_TARGETS   := response header_token pipeline_json template
fuzz:
	@cargo +nightly --version >/dev/null 2>&1 || { \
	  echo "make fuzz needs a nightly Rust toolchain (cargo fuzz uses libFuzzer): rustup toolchain install nightly"; exit 1; }
	@PATH="$(TOOLS)/bin:$$PATH"; command -v cargo-fuzz >/dev/null 2>&1 || \
	  $(CARGO) install --locked cargo-fuzz --root $(TOOLS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(CURDIR)/$(BUILD)/fuzz/$$t; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  log=$(CURDIR)/$(BUILD)/fuzz/$$t.log; \
	  if (cd fuzz && PATH="$(TOOLS)/bin:$$PATH" cargo +nightly fuzz run $$t $(CURDIR)/$(BUILD)/fuzz/$$t corpus/$$t -- \
	        -max_total_time=$(FUZZ_SECONDS) -max_len=8192 > $$log 2>&1); then \
	    grep -E '^(#[0-9]+.*DONE|Done [0-9]+ runs)' $$log | tail -1; \
	  else tail -40 $$log; echo "fuzz: $$t found a failure (input under fuzz/artifacts/$$t)"; exit 1; fi; \
	done; echo "fuzz: $(words $(FUZZ_TARGETS)) targets ran $(FUZZ_SECONDS) s each without a finding"

## Opt-in: tokenforge's requests against real identity providers (Keycloak 26 and
## panva/oidc-provider 9 from ../shared/peers, started on loopback; slow to install).
check-peers: lib
	tests/peers/check.sh

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
