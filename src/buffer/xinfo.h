/* Small readers of stream introspection replies (XINFO GROUPS / XINFO STREAM), shared by
 * audit, status and the scrape-time stream metrics. Replies are RESP2 flat arrays of name,
 * value pairs; these helpers pick fields by name so that fields added by newer Redis versions
 * are simply ignored.
 *
 * Why the consumer-group lag is computed here and Redis's own `lag` field is ignored: Redis
 * 7.0 does not keep a group's entries-read counter across an AOF load (XREADGROUP is not
 * propagated with it; only an AOF rewrite records it), so after each restart its lag counts
 * every entry read since the last rewrite again, grows with every restart, and never returns
 * to 0, even on an empty stream. The lag is instead derived from what the AOF does keep: the
 * stream's first and last entry ids, its length, and the group's last-delivered-id:
 *   - empty stream, or last-delivered-id at or past the last entry: 0;
 *   - last-delivered-id before the first entry: every entry (XLEN);
 *   - otherwise the entries after last-delivered-id are counted with one
 *     `XRANGE key (last-delivered-id + COUNT SS_LAG_SCAN_MAX`: exact below the cap; at the
 *     cap the lag is reported as XLEN minus pending (never below the cap), an upper bound
 *     that over-counts only acknowledged entries still held above the trim floor
 *     (writer/ack_script.h), and lag_exact is 0.
 * Cost: two XINFO calls, plus at most one XRANGE of SS_LAG_SCAN_MAX entries per stream and
 * call, and only while the group is partway through the stream. */
#ifndef SS_BUFFER_XINFO_H
#define SS_BUFFER_XINFO_H

#include <hiredis/hiredis.h>

typedef struct {
    int exists;          /* the stream key exists */
    long long length;
    long long first_ms;  /* ms part of the first entry's id; -1 when empty */
    long long last_ms;   /* ms part of the last generated id; -1 when none */
    int has_group;       /* the consumer group exists */
    long long consumers;
    long long pending;
    long long lag;       /* entries after the group's last-delivered-id; -1 without a group */
    int lag_exact;       /* 1: counted; 0: an upper bound (more than SS_LAG_SCAN_MAX entries) */
    char last_delivered[48];
} ss_stream_info;

/* Entries one XRANGE may read to count a lag exactly (per stream and call). */
#define SS_LAG_SCAN_MAX 1000

/* Fills *out for stream key and consumer group. Returns 0, or -1 on a connection error /
 * unexpected reply (message in err; a refused XINFO STREAM returns -class, util/err.h). A
 * missing key is not an error (exists = 0). */
int ss_stream_info_get(redisContext *c, const char *key, const char *group, ss_stream_info *out, char *err,
                       size_t errlen);

#endif
