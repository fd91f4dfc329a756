/* Is this Redis keeping what it acknowledges? The checks both the ingester and the writer
 * run at connect and every SS_PERSIST_CHECK_MS while running.
 *
 * Why while running, not only at connect: `CONFIG SET appendonly no` or `CONFIG SET
 * maxmemory-policy allkeys-lru` on a live server changes nothing a client sees -- every XADD
 * still answers OK -- but from then on a restart loses the buffer, or memory pressure deletes
 * whole streams. Only asking again notices it. The verdict is computed from INFO text (the
 * persistence and memory sections), so the ingester can piggyback it on the INFO replies it
 * already reads asynchronously and the writer on one synchronous call; neither needs
 * CONFIG GET (often disabled on managed Redis). A field INFO does not report is "unknown"
 * and never a finding: a server that hides it is not declared unsafe. */
#ifndef SS_BUFFER_PERSIST_H
#define SS_BUFFER_PERSIST_H

#include <stddef.h>

#define SS_PERSIST_CHECK_MS 10000 /* how often a running ingester or writer checks again */

enum {
    SS_PERSIST_NO_AOF = 1,        /* aof_enabled:0 -- a restart loses everything buffered */
    SS_PERSIST_EVICTING = 2,      /* maxmemory_policy other than noeviction */
    SS_PERSIST_AOF_WRITE_ERR = 4, /* aof_last_write_status:err -- Redis refuses writes until the disk recovers */
};

typedef struct {
    unsigned problems; /* SS_PERSIST_* found */
    int aof_known, policy_known;
    char policy[64];   /* maxmemory_policy as reported ("" when unknown) */
} ss_persist;

/* Reads an INFO reply that holds the persistence section, the memory section, or both
 * (what is absent stays unknown). Call again with more INFO text to add to p. */
void ss_persist_parse(const char *info, ss_persist *p);
/* What one problem (one SS_PERSIST_* bit) means, and the exact fix, as one sentence
 * fit for an error message. */
void ss_persist_describe(const ss_persist *p, unsigned problem, char *out, size_t n);

#endif
