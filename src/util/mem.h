/* ss_mem_release: give the C library's free heap memory back to the system.
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

#endif
