/* ss_mem: the C library's allocator settings skyspool relies on (design in mem.h). */
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* GLIBC_TUNABLES is a colon-separated list of name=value; only a whole name counts. */
int ss_mem_threshold_is_set(const char *tunables, const char *env) {
    if (env && *env) return 1;
    if (!tunables) return 0;
    static const char name[] = "glibc.malloc.mmap_threshold=";
    for (const char *p = tunables; *p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n >= sizeof name - 1 && memcmp(p, name, sizeof name - 1) == 0) return 1;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

size_t ss_mem_configure(void) {
#ifdef SS_MEM_SANITIZED
    return 0; /* the sanitizer's allocator ignores glibc's settings */
#else
    if (ss_mem_threshold_is_set(getenv("GLIBC_TUNABLES"), getenv("MALLOC_MMAP_THRESHOLD_"))) return 0;
    return mallopt(M_MMAP_THRESHOLD, SS_MEM_MMAP_THRESHOLD) == 1 ? (size_t)SS_MEM_MMAP_THRESHOLD : 0;
#endif
}
