/* Where the real samples of ../shared are, for unit tests, and what a test does without
 * them. The samples are optional: a clone without ../shared beside it has none, so every
 * test makes its own fixtures and uses the samples in addition. A case that needs them calls
 * SS_SHARED_OR_SKIP and is skipped with a one-line notice; under CI=true (CI has ../shared
 * and must run those cases) the skip is a failure instead. A test program that skipped a case
 * ends through SS_SHARED_EXIT: 77, which CTest counts as skipped, never as passed (cmocka alone
 * would report the program as passed).
 *
 * Resolution, as in tests/lib/harness.sh: $SKYSPOOL_SHARED (by hand), then
 * $SKYSPOOL_SHARED_DIR (set by CMake), then ../shared. Header-only: the macro uses cmocka,
 * which must be included first. */
#ifndef SS_TEST_SHARED_H
#define SS_TEST_SHARED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *ss_shared_dir(void) {
    const char *s = getenv("SKYSPOOL_SHARED");
    if (s && *s) return s;
    s = getenv("SKYSPOOL_SHARED_DIR");
    if (s && *s) return s;
    return "../shared";
}

static inline int ss_shared_ci(void) {
    const char *c = getenv("CI");
    return c && strcmp(c, "true") == 0;
}

static int ss_shared_skipped; /* cases skipped for want of the samples, in this program */

/* The exit status of a test program: cmocka's failures first, else 77 when a case was skipped. */
#define SS_SHARED_EXIT(failed) ((failed) ? (failed) : ss_shared_skipped ? 77 : 0)

/* Writes the path of rel (e.g. "jetstream/zstd_dictionary") into buf; 1 if it is readable. */
static inline int ss_shared_path(const char *rel, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", ss_shared_dir(), rel);
    return access(buf, R_OK) == 0;
}

/* Inside a cmocka test: continue when rel is there (its path in buf, a char array),
 * otherwise skip this case with a notice, or fail under CI=true. */
#define SS_SHARED_OR_SKIP(rel, buf)                                                              \
    do {                                                                                         \
        if (!ss_shared_path((rel), (buf), sizeof(buf))) {                                        \
            if (ss_shared_ci())                                                                  \
                fail_msg("CI=true but %s is missing: CI must run the shared samples", (buf));    \
            print_message("skip - %s: no %s (the real samples of ../shared; set SKYSPOOL_SHARED)\n", \
                          __func__, (buf));                                                      \
            ss_shared_skipped++;                                                                 \
            skip();                                                                              \
        }                                                                                        \
    } while (0)

#endif
