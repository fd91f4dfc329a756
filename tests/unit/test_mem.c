/* Unit tests for ss_mem_release (src/util/mem.h), the writer's "give freed heap back" call.
 *
 * The writer calls it from several finish threads at once. Under a sanitizer, glibc's own
 * allocator is never initialized, and a direct malloc_trim would initialize it from
 * whichever threads got there first, racing: about 6 fresh processes in 1,000 aborted
 * ("a->attached_threads > 0" at thread exit) or crashed. Each trial here is such a fresh
 * process (a fork of this one, which has not trimmed), whose first calls are four threads
 * released together. The test fails when any trial dies; it is meaningful in both builds:
 * in a plain build the call is a real malloc_trim and must be safe from threads too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/mem.h"

#define TRIALS 1500
#define THREADS 4

static pthread_barrier_t start;

static void *release_together(void *arg) {
    (void)arg;
    pthread_barrier_wait(&start);
    ss_mem_release();
    return NULL;
}

/* One trial in a child: the threads' first allocator call is the release, all at once. */
static int trial_child(void) {
    pthread_t t[THREADS];
    if (pthread_barrier_init(&start, NULL, THREADS) != 0) return 2;
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, release_together, NULL) != 0) return 2;
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    return 0;
}

static void test_concurrent_first_release(void **state) {
    (void)state;
    int died = 0, exited_badly = 0;
    for (int n = 0; n < TRIALS; n++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) _exit(trial_child());
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (WIFSIGNALED(st)) died++;
        else if (WEXITSTATUS(st) != 0) exited_badly++;
    }
    if (died || exited_badly) print_error("%d of %d trials died, %d exited non-zero\n", died, TRIALS, exited_badly);
    assert_int_equal(died, 0);
    assert_int_equal(exited_badly, 0);
}

/* The operator's own threshold wins; only a whole tunable name counts. */
static void test_threshold_set_by_environment(void **state) {
    (void)state;
    assert_int_equal(ss_mem_threshold_is_set(NULL, NULL), 0);
    assert_int_equal(ss_mem_threshold_is_set("", ""), 0);
    assert_int_equal(ss_mem_threshold_is_set(NULL, "65536"), 1);
    assert_int_equal(ss_mem_threshold_is_set("glibc.malloc.mmap_threshold=65536", NULL), 1);
    assert_int_equal(ss_mem_threshold_is_set("glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=1", NULL), 1);
    assert_int_equal(ss_mem_threshold_is_set("glibc.malloc.arena_max=2", NULL), 0);
    assert_int_equal(ss_mem_threshold_is_set("glibc.malloc.mmap_threshold_x=1:x.glibc.malloc.mmap_threshold=2", NULL), 0);
    assert_int_equal(ss_mem_threshold_is_set("glibc.malloc.mmap_threshold", NULL), 0); /* no value */
}

/* Configured unless sanitized (whose allocator ignores glibc's) or set by the environment. */
static void test_configure(void **state) {
    (void)state;
    size_t got = ss_mem_configure();
#ifdef SS_MEM_SANITIZED
    assert_int_equal(got, 0);
#else
    if (ss_mem_threshold_is_set(getenv("GLIBC_TUNABLES"), getenv("MALLOC_MMAP_THRESHOLD_")))
        assert_int_equal(got, 0);
    else
        assert_int_equal(got, SS_MEM_MMAP_THRESHOLD);
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_first_release),
        cmocka_unit_test(test_threshold_set_by_environment),
        cmocka_unit_test(test_configure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
