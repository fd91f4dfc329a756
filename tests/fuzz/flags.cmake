# Compiler flags for a fuzzing build (-DSKYSPOOL_FUZZ=ON), included by the top-level
# CMakeLists.txt before any library is defined, so that the code under test carries the
# coverage instrumentation and the sanitizers, not only the fuzz targets.
#
# Two engines, chosen here once:
#   libfuzzer   clang with libFuzzer (Debian: clang + libclang-rt-14-dev): coverage-guided
#               fuzzing, -fsanitize=fuzzer,address,undefined.
#   standalone  any other compiler (gcc): the same LLVMFuzzerTestOneInput, linked with
#               tests/fuzz/standalone.c, which replays the corpus and then runs seeded random
#               mutations under ASan/UBSan. No coverage feedback, but never "no fuzzing".
# SKYSPOOL_FUZZ_ENGINE may force one ("standalone" also works under clang).
include(CheckCSourceCompiles)

set(SKYSPOOL_FUZZ_ENGINE "" CACHE STRING "libfuzzer or standalone (empty: libfuzzer when available)")
set(SS_SAN_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)

if(SKYSPOOL_FUZZ_ENGINE STREQUAL "")
  set(SS_FUZZ_ENGINE standalone)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer,address,undefined")
    check_c_source_compiles("
      #include <stddef.h>
      #include <stdint.h>
      int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }"
      SS_HAVE_LIBFUZZER)
    unset(CMAKE_REQUIRED_FLAGS)
    if(SS_HAVE_LIBFUZZER)
      set(SS_FUZZ_ENGINE libfuzzer)
    endif()
  endif()
else()
  set(SS_FUZZ_ENGINE ${SKYSPOOL_FUZZ_ENGINE})
endif()

if(SS_FUZZ_ENGINE STREQUAL "libfuzzer")
  add_compile_options(-fsanitize=fuzzer-no-link ${SS_SAN_FLAGS} -g)
else()
  add_compile_options(${SS_SAN_FLAGS} -g)
endif()
add_link_options(-fsanitize=address,undefined)
# The sanitized build is already slow; -O1 keeps it fast enough to fuzz, and keeps stack traces.
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE RelWithDebInfo)
endif()
message(STATUS "skyspool fuzz engine: ${SS_FUZZ_ENGINE}")
