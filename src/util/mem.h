/* ss_mem: how skyspool asks the C library to hold less memory.
 *
 * ss_mem_configure (by `run` and `write`, at start, before their threads): allocations of
 * SS_MEM_MMAP_THRESHOLD and more get their own mapping, returned to the system by free.
 * glibc's default threshold (128 kB) adapts upward, to 32 MB, as soon as such a block is
 * freed; after that the writer's page and column buffers (hundreds of kB to MBs, allocated by
 * the lane threads) live in the threads' arenas, which keep each arena's peak.
 * bench/run_rss.sh: peak RSS 252-259 MB with the adaptive default, 216-223 MB at 1 MB, for a
 * few percent more CPU (page faults on fresh mappings). `convert` keeps the default: it is
 * single-threaded, far under its memory goal (127 MB at 1M events; 98 MB with the
 * threshold), and the fresh mappings cost it 17 % more CPU. An operator's own setting
 * (GLIBC_TUNABLES' glibc.malloc.mmap_threshold or MALLOC_MMAP_THRESHOLD_) wins.
 *
 * ss_mem_release: give the C library's free heap memory back to the system.
 *
 * glibc keeps what threads free in per-thread arenas; skyspool's writer calls this where it
 * knows a burst of buffers was just freed (a window's close, before an S3 upload) so RSS
 * follows the live data instead of the sum of every arena's peak.
 *
 * Under AddressSanitizer (and the other sanitizers that replace malloc) it does nothing.
 * There glibc's allocator is never used, so malloc_trim has nothing to return, and worse:
 * its first call initializes that allocator lazily, which is not thread-safe. Two threads
 * trimming at once then corrupt an arena's thread count (glibc aborts at thread exit,
 * "a->attached_threads > 0", or ASan reports a SEGV), about 6 processes in 1,000 when four
 * threads make the first call together. A plain build initializes glibc's malloc on the
 * main thread's first allocation, long before any thread exists. */
#ifndef SS_MEM_H
#define SS_MEM_H

#include <malloc.h>
#include <stddef.h>

#define SS_MEM_MMAP_THRESHOLD (1024 * 1024)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SS_MEM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SS_MEM_SANITIZED 1
#endif
#endif

static inline void ss_mem_release(void) {
#ifndef SS_MEM_SANITIZED
    malloc_trim(0);
#endif
}

/* 1 when the environment sets glibc's mmap threshold itself: tunables is GLIBC_TUNABLES'
 * value, env MALLOC_MMAP_THRESHOLD_'s (either may be NULL). */
int ss_mem_threshold_is_set(const char *tunables, const char *env);

/* Applies SS_MEM_MMAP_THRESHOLD unless the environment sets one or under a sanitizer;
 * returns the threshold skyspool set (0: left to the C library). */
size_t ss_mem_configure(void);

#endif
