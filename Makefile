# Thin wrapper over CMake. Every target installs what it needs first (scripts/install-deps
# is idempotent and quick when everything is present).
#   make          release build in build/
#   make demo     the main job on a private redis-server, with a summary
#   make test     ASan/UBSan build in build-asan/, then every test through CTest
#   make bench    benchmarks against their peers; results go to BENCHMARKS.md
#   make fuzz     every fuzz target for FUZZ_SECONDS (default 300) each, in build-fuzz/
#                 (clang + libFuzzer; corpora kept in build-fuzz/corpus/), FUZZ_TARGETS to pick
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?=

.PHONY: all deps build build-asan demo test unit integration bench fuzz clean

all: build

deps:
	@./scripts/install-deps

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSKYSPOOL_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

demo: build
	@./scripts/demo

# The release build is compiled too: -O2 enables warnings (-Wmaybe-uninitialized) that the
# Debug build cannot see, and `make demo` uses it.
test: build build-asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir build-asan --output-on-failure -j $(JOBS) $(CTEST_ARGS)

unit: build-asan
	@ctest --test-dir build-asan --output-on-failure -j $(JOBS) -L unit

integration: build-asan
	@ctest --test-dir build-asan --output-on-failure -j $(JOBS) -L integration

bench: build
	@./bench/run-all

fuzz: deps
	@./tests/fuzz/run.sh --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build build-asan build-fuzz
