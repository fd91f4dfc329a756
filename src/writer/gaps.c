/* The writer's half of gap records (buffer/gaps.h): what a source reported it did not
 * deliver is moved from Redis into the ledger, where `skyspool gaps` reads it for good.
 *
 * The same order as for events, simpler: read the records (XRANGE), commit them to the
 * ledger in one FULL transaction, and only then delete them from Redis (the consumer's
 * gaps_done: XDEL plus the note `status` reads, atomically). A crash in between
 * (SKYSPOOL_CRASH_AT=after_gap_ledger) leaves them in Redis; the next attempt commits them
 * again, and the ledger, keyed by the entry id, keeps one row each. Gaps are few, so this
 * runs at session start, every GAPS_EVERY_MS and at session end, not per round.
 *
 * Scale-out: with shards every ledger would see every gap; only the writer of shard 0 (or
 * the unsharded writer) moves them, so a gap is in one ledger. Writers sharing one ledger
 * may both move the same record; the key makes that harmless. */
#include <stdlib.h>

#include "util/log.h"
#include "writer/crash.h"
#include "writer/writer_internal.h"

#define GAPS_EVERY_MS 1000
#define GAPS_BATCH 256 /* records per ledger transaction */

int ss_wr_commit_gaps(ss_writer *w, int now) {
    if (!w->c->v->gaps_read || !w->c->v->gaps_done) return 0;
    if (w->nshards > 1 && w->o.shard != 0) return 0;
    if (!now && ss_wr_mono_ms() - w->last_gaps_ms < GAPS_EVERY_MS) return 0;
    w->last_gaps_ms = ss_wr_mono_ms();
    for (;;) {
        ss_gap_record *g = NULL;
        size_t n = 0, added = 0;
        if (w->c->v->gaps_read(w->c, GAPS_BATCH, &g, &n) != 0) return ss_wr_consumer_fail(w);
        if (n == 0) {
            free(g);
            return 0;
        }
        if (ss_ledger_gaps_add(w->led, g, n, &added) != 0) {
            ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
            free(g);
            return -1;
        }
        ss_writer_crash_point("after_gap_ledger");
        if (w->c->v->gaps_done(w->c, g, n) != 0) {
            free(g);
            return ss_wr_consumer_fail(w);
        }
        for (size_t i = 0; i < n; i++)
            ss_info(LOG, "gap recorded in the ledger: %s %s %s %lld..%lld", g[i].source, g[i].reason, g[i].unit,
                    (long long)g[i].from, (long long)g[i].to);
        if (added) ss_wr_stat_add(w, &w->stats.gaps, added, w->m.gaps);
        free(g);
        if (n < GAPS_BATCH) return 0;
    }
}
