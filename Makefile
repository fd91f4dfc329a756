# Thin wrapper over CMake. `make` only builds; installing packages is explicit:
#   make          release build in build/ (needs the build dependencies; `make deps` installs them)
#   make deps     scripts/install-deps: the Debian and test-side npm packages (sudo/root)
#   make demo     deps, build, then the main job on a private redis-server, with a summary
#   make test     deps, the release build and the ASan/UBSan build in build-asan/ (both with
#                 -Werror: SKYSPOOL_WERROR=ON), then every test through CTest
#   make install  cmake --install build/ (PREFIX, default /usr/local; DESTDIR for staged installs)
#   make bench    benchmarks against their peers; results go to BENCHMARKS.md
#   make fuzz     every fuzz target for FUZZ_SECONDS (default 300) each, in build-fuzz/
#                 (clang + libFuzzer; corpora kept in build-fuzz/corpus/), FUZZ_TARGETS to pick
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Tests run one more at a time than there are cores: most of them wait on servers, timers and
# sockets (about 40-60 % of a core each, measured), so cores+1 keeps both cores busy.
TEST_JOBS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 2) + 1 )))
CTEST_ARGS ?=

# -Werror (SKYSPOOL_WERROR) is ON for the builds `make test` uses and for the sanitized build,
# which is for tests. A plain `make` passes WERROR=ON/OFF when given and otherwise keeps
# what build/ was configured with (OFF for a fresh build/).
WERROR ?=

FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?=

.PHONY: all deps build build-asan demo test unit integration bench fuzz install clean

all: build

deps:
	@./scripts/install-deps

build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(if $(WERROR),-DSKYSPOOL_WERROR=$(WERROR)) >/dev/null
	@cmake --build build -j $(JOBS)

build-asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSKYSPOOL_SANITIZE=ON -DSKYSPOOL_WERROR=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

demo: deps
	@$(MAKE) --no-print-directory build
	@./scripts/demo

# The release build (gcc -O3) is compiled too: optimisation enables warnings
# (-Wmaybe-uninitialized) that the Debug build cannot see, and `make demo` uses it. Both with
# -Werror. clang compiles the library and the fuzz targets with -Werror in fuzz_smoke.
test: deps
	@$(MAKE) --no-print-directory build build-asan WERROR=ON
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir build-asan --output-on-failure -j $(TEST_JOBS) $(CTEST_ARGS)

unit: build-asan
	@ctest --test-dir build-asan --output-on-failure -j $(JOBS) -L unit

integration: build-asan
	@ctest --test-dir build-asan --output-on-failure -j $(JOBS) -L integration

PREFIX ?= /usr/local
install: build
	@cmake -S . -B build -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build build -j $(JOBS)
	@cmake --install build

bench: deps
	@$(MAKE) --no-print-directory build
	@./bench/run-all

fuzz: deps
	@./tests/fuzz/run.sh --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build build-asan build-fuzz
