/* `skyspool status`: the buffer at a glance.
 *
 * Collects, with a handful of read-only commands: per-type stream length and the "writers"
 * group's pending entries and lag, the age of the oldest buffered entry, memory used
 * against maxmemory, every stored source cursor with its age, the ingester's state hash
 * (paused or not, counters, heartbeat), and the DLQ length. Rendering is separate: a text
 * screen for people, and JSON whose field names are a stable interface for scripts
 * (documented in docs/METRICS.md). */
#ifndef SS_BUFFER_STATUS_H
#define SS_BUFFER_STATUS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer/gaps.h"
#include "buffer/shard.h"
#include "buffer/xinfo.h"
#include "event/event.h"
#include "util/buf.h"

#define SS_STATUS_MAX_CURSORS 32
#define SS_STATUS_MAX_WRITERS 32
/* A writer consumer counts as alive while its heartbeat (<prefix>writers, every second) is
 * younger than this; an exited writer writes 0. */
#define SS_STATUS_WRITER_ALIVE_US (10 * 1000000LL)

typedef struct {
    char source[512];
    int64_t cursor;
    int64_t updated_us;
    char name[16];
} ss_status_cursor;

typedef struct {
    char redis[1200];
    char version[32];
    int64_t now_us;
    long long used_memory, maxmemory;
    char policy[32];
    char prefix[200];
    ss_stream_info streams[SS_TYPE__COUNT]; /* index = ss_type; summed over the shards */
    int shards;                             /* recorded in <prefix>ingest (buffer/shard.h); 1 if none */
    ss_stream_info shard_streams[SS_TYPE__COUNT][SS_SHARDS_MAX]; /* with shards > 1: <prefix><type>:<s> */
    char owners[SS_SHARDS_MAX][SS_SHARD_OWNER_MAX + 1]; /* ledger owning each shard ([0]: "all" if 1) */
    ss_stream_info dlq;
    ss_status_cursor cursors[SS_STATUS_MAX_CURSORS];
    int ncursors;
    int cursors_truncated;
    /* the ingester's state hash (<prefix>ingest) */
    int has_ingest;
    char ingest_state[16];
    int paused;
    char pause_reason[32];
    long long pauses_total, events_total, dlq_total, other_total, reconnects_total;
    int64_t heartbeat_us;
    char ingest_source[512];
    /* Redis data loss detected by a writer (<prefix>redis-loss): entries it had delivered
     * were gone after a restart or failover, and the writer released their dedup claims. */
    long long loss_detected;   /* how many times; 0: never */
    int64_t loss_last_us;
    char loss_stream[256];
    long long loss_released;
    /* Gap records (buffer/gaps.h): those the writer committed to its ledger (counted in
     * <prefix>gaps-seen) and those still waiting in <prefix>gaps; the newest of them. */
    long long gaps_committed, gaps_pending;
    int has_last_gap, last_gap_pending;
    ss_gap_record last_gap;
    /* writer consumers and their heartbeats (<prefix>writers); the first SS_STATUS_MAX_WRITERS */
    struct {
        char consumer[128];
        int64_t heartbeat_us; /* 0: exited cleanly */
    } writers[SS_STATUS_MAX_WRITERS];
    int nwriters, writers_truncated;
    /* the last commit, from the ledger (the caller reads it; Redis does not know): wall-clock
     * µs, 0 when no commit yet, -1 when the ledger was not read */
    int64_t last_commit_us;
} ss_status;

/* Gathers the status. Returns 0, or -class (util/err.h; -1: io) with err. out->redis may be
 * set by the caller beforehand (it is kept). */
int ss_status_collect(redisContext *c, const char *prefix, const char *group, ss_status *out, char *err,
                      size_t errlen);
int ss_status_render_text(const ss_status *s, ss_buf *out);
int ss_status_render_json(const ss_status *s, ss_buf *out);

#endif
