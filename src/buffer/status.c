/* The buffer status. See status.h. Everything is read with plain read-only commands (INFO,
 * XINFO, HGETALL, SCAN), so status is safe to run against a production buffer at any time. */
#include "buffer/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "buffer/redis.h"
#include "util/clock.h"

static const char *hget(redisReply *h, const char *name) {
    if (!h || h->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && !strcmp(h->element[i]->str, name) &&
            h->element[i + 1]->type == REDIS_REPLY_STRING)
            return h->element[i + 1]->str;
    return NULL;
}

static long long hget_ll(redisReply *h, const char *name) {
    const char *v = hget(h, name);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* Escapes glob characters so that SCAN MATCH treats the prefix literally. */
static void glob_escape(const char *s, char *out, size_t n) {
    size_t o = 0;
    for (; *s && o + 3 < n; s++) {
        if (strchr("*?[]\\", *s)) out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = '\0';
}

static int collect_ingest(redisContext *c, ss_status *s) {
    char key[256];
    snprintf(key, sizeof key, "%singest", s->prefix);
    const char *argv[2] = {"HGETALL", key};
    redisReply *r = redisCommandArgv(c, 2, argv, NULL);
    if (!r) return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        s->has_ingest = 1;
        const char *v;
        if ((v = hget(r, "state"))) snprintf(s->ingest_state, sizeof s->ingest_state, "%s", v);
        s->paused = (int)hget_ll(r, "paused");
        if ((v = hget(r, "pause_reason"))) snprintf(s->pause_reason, sizeof s->pause_reason, "%s", v);
        s->pauses_total = hget_ll(r, "pauses_total");
        s->events_total = hget_ll(r, "events_total");
        s->dlq_total = hget_ll(r, "dlq_total");
        s->other_total = hget_ll(r, "other_total");
        s->reconnects_total = hget_ll(r, "reconnects_total");
        s->heartbeat_us = hget_ll(r, "heartbeat_us");
        if ((v = hget(r, "source"))) snprintf(s->ingest_source, sizeof s->ingest_source, "%s", v);
    }
    freeReplyObject(r);
    return 0;
}

static int collect_writers(redisContext *c, ss_status *s) {
    char key[256];
    snprintf(key, sizeof key, "%swriters", s->prefix);
    const char *argv[2] = {"HGETALL", key};
    redisReply *r = redisCommandArgv(c, 2, argv, NULL);
    if (!r) return -1;
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            if (r->element[i]->type != REDIS_REPLY_STRING || r->element[i + 1]->type != REDIS_REPLY_STRING) continue;
            if (s->nwriters >= SS_STATUS_MAX_WRITERS) {
                s->writers_truncated = 1;
                break;
            }
            snprintf(s->writers[s->nwriters].consumer, sizeof s->writers[0].consumer, "%s", r->element[i]->str);
            s->writers[s->nwriters++].heartbeat_us = strtoll(r->element[i + 1]->str, NULL, 10) * 1000;
        }
    freeReplyObject(r);
    return 0;
}

static int writer_alive(const ss_status *s, int i) {
    return s->writers[i].heartbeat_us > 0 && s->now_us - s->writers[i].heartbeat_us < SS_STATUS_WRITER_ALIVE_US;
}

static int writers_alive(const ss_status *s) {
    int n = 0;
    for (int i = 0; i < s->nwriters; i++) n += writer_alive(s, i);
    return n;
}

static int collect_loss(redisContext *c, ss_status *s) {
    char key[256];
    snprintf(key, sizeof key, "%sredis-loss", s->prefix);
    const char *argv[2] = {"HGETALL", key};
    redisReply *r = redisCommandArgv(c, 2, argv, NULL);
    if (!r) return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        s->loss_detected = hget_ll(r, "detected");
        s->loss_last_us = hget_ll(r, "last_us");
        s->loss_released = hget_ll(r, "last_released");
        const char *v = hget(r, "last_stream");
        snprintf(s->loss_stream, sizeof s->loss_stream, "%s", v ? v : "");
    }
    freeReplyObject(r);
    return 0;
}

static int collect_cursors(redisContext *c, ss_status *s) {
    char pat[512], esc[400];
    glob_escape(s->prefix, esc, sizeof esc);
    snprintf(pat, sizeof pat, "%scursor:*", esc);
    char cur[32] = "0";
    size_t plen = strlen(s->prefix) + strlen("cursor:");
    int rounds = 0;
    do {
        const char *argv[6] = {"SCAN", cur, "MATCH", pat, "COUNT", "1000"};
        redisReply *r = redisCommandArgv(c, 6, argv, NULL);
        if (!r) return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return 0;
        }
        snprintf(cur, sizeof cur, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            if (s->ncursors >= SS_STATUS_MAX_CURSORS) {
                s->cursors_truncated = 1;
                break;
            }
            const char *k = keys->element[i]->str;
            const char *hv[2] = {"HGETALL", k};
            redisReply *h = redisCommandArgv(c, 2, hv, NULL);
            if (!h) {
                freeReplyObject(r);
                return -1;
            }
            const char *cv = hget(h, "cursor");
            if (cv) {
                ss_status_cursor *sc = &s->cursors[s->ncursors++];
                snprintf(sc->source, sizeof sc->source, "%s", strlen(k) > plen ? k + plen : k);
                sc->cursor = strtoll(cv, NULL, 10);
                sc->updated_us = hget_ll(h, "updated_us");
                const char *nm = hget(h, "name");
                snprintf(sc->name, sizeof sc->name, "%s", nm ? nm : "");
            }
            freeReplyObject(h);
        }
        freeReplyObject(r);
    } while (strcmp(cur, "0") != 0 && ++rounds < 10000);
    return 0;
}

int ss_status_collect(redisContext *c, const char *prefix, const char *group, ss_status *s, char *err,
                      size_t errlen) {
    char redis_desc[sizeof s->redis];
    snprintf(redis_desc, sizeof redis_desc, "%s", s->redis);
    memset(s, 0, sizeof *s);
    snprintf(s->redis, sizeof s->redis, "%s", redis_desc);
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix ? prefix : "skyspool:");
    if (!group) group = "writers";
    s->now_us = ss_wall_us();
    s->last_commit_us = -1;
    char *info = ss_redis_info(c, "everything", err, errlen);
    if (!info) return -1;
    ss_redis_info_str(info, "redis_version", s->version, sizeof s->version);
    ss_redis_info_ll(info, "used_memory", &s->used_memory);
    ss_redis_info_ll(info, "maxmemory", &s->maxmemory);
    ss_redis_info_str(info, "maxmemory_policy", s->policy, sizeof s->policy);
    free(info);
    int crc = ss_shard_recorded(c, s->prefix, &s->shards, err, errlen); /* -class: util/err.h */
    if (crc != 0) return crc;
    if (s->shards < 1) s->shards = 1;
    for (int t = 0; t < SS_TYPE__COUNT; t++)
        if (ss_shard_stream_info(c, s->prefix, (ss_type)t, s->shards, group, &s->streams[t],
                                 s->shards > 1 ? s->shard_streams[t] : NULL, err, errlen) != 0)
            return -1;
    for (int i = 0; i < s->shards; i++) {
        char field[16];
        if (s->shards > 1) snprintf(field, sizeof field, "%d", i);
        else snprintf(field, sizeof field, "%s", SS_SHARD_UNSHARDED);
        if ((crc = ss_shard_owner(c, s->prefix, field, s->owners[i], sizeof s->owners[i], err, errlen)) != 0) return crc;
    }
    char key[256];
    snprintf(key, sizeof key, "%sdlq", s->prefix);
    if ((crc = ss_stream_info_get(c, key, group, &s->dlq, err, errlen)) != 0) return crc;
    if (collect_ingest(c, s) != 0 || collect_cursors(c, s) != 0 || collect_loss(c, s) != 0 ||
        collect_writers(c, s) != 0) {
        ss_redis_describe_error(c, NULL, err, errlen);
        return -1;
    }
    ss_gap_record seen_last;
    int has_seen = 0;
    if (ss_gaps_pending(c, s->prefix, &s->gaps_pending, &s->last_gap, &s->has_last_gap, err, errlen) != 0 ||
        ss_gaps_seen_read(c, s->prefix, &s->gaps_committed, &seen_last, &has_seen, err, errlen) != 0)
        return -1;
    s->last_gap_pending = s->has_last_gap; /* the newest waiting in Redis is newer than any committed */
    if (!s->has_last_gap && has_seen) {
        s->last_gap = seen_last;
        s->has_last_gap = 1;
    }
    return 0;
}

/* ---- rendering ------------------------------------------------------------------------------- */

static void age(int64_t us, char *out, size_t n) {
    if (us < 0) us = 0;
    double s = (double)us / 1e6;
    if (s < 120) snprintf(out, n, "%.1fs", s);
    else if (s < 7200) snprintf(out, n, "%.1fm", s / 60);
    else if (s < 172800) snprintf(out, n, "%.1fh", s / 3600);
    else snprintf(out, n, "%.1fd", s / 86400);
}

/* A running or paused ingester refreshes its heartbeat every second. */
static int ingest_alive(const ss_status *s) {
    int active = !strcmp(s->ingest_state, "running") || !strcmp(s->ingest_state, "paused");
    return s->has_ingest && active && s->now_us - s->heartbeat_us < 10 * 1000000LL;
}

static void mib(long long v, char *out, size_t n) { snprintf(out, n, "%.1f MiB", (double)v / 1048576.0); }

int ss_status_render_text(const ss_status *s, ss_buf *b) {
    char u[32], m[32];
    mib(s->used_memory, u, sizeof u);
    mib(s->maxmemory, m, sizeof m);
    int rc = ss_buf_printf(b, "skyspool status  %s  (Redis %s, prefix %s)\n\n", s->redis, s->version, s->prefix);
    if (s->maxmemory > 0)
        rc |= ss_buf_printf(b, "memory   %s of %s (%.0f%%), policy %s\n", u, m,
                            100.0 * (double)s->used_memory / (double)s->maxmemory, s->policy);
    else
        rc |= ss_buf_printf(b, "memory   %s, no maxmemory (!), policy %s\n", u, s->policy);
    if (s->has_ingest) {
        char hb[32];
        age(s->now_us - s->heartbeat_us, hb, sizeof hb);
        rc |= ss_buf_printf(b, "ingest   %s%s%s%s, heartbeat %s ago, %lld events, %lld dlq, %lld other skipped, "
                               "%lld pauses, %lld reconnects\n",
                            s->paused ? "PAUSED" : s->ingest_state, s->paused ? " (" : "",
                            s->paused ? s->pause_reason : "", s->paused ? ")" : "", hb, s->events_total, s->dlq_total,
                            s->other_total, s->pauses_total, s->reconnects_total);
        rc |= ss_buf_printf(b, "         source %s\n", s->ingest_source);
        if (!ingest_alive(s) && (!strcmp(s->ingest_state, "running") || !strcmp(s->ingest_state, "paused")))
            rc |= ss_buf_puts(b, "         (no heartbeat for over 10 s: the ingester is not running)\n");
    } else {
        rc |= ss_buf_puts(b, "ingest   never ran against this prefix\n");
    }
    {
        int alive = writers_alive(s);
        char lc[64] = "";
        if (s->last_commit_us > 0) {
            char a[32];
            age(s->now_us - s->last_commit_us, a, sizeof a);
            snprintf(lc, sizeof lc, ", last commit %s ago", a);
        } else if (s->last_commit_us == 0) {
            snprintf(lc, sizeof lc, ", no commit yet");
        }
        if (!s->nwriters) rc |= ss_buf_printf(b, "writer   never ran against this prefix%s\n", lc);
        else if (alive) rc |= ss_buf_printf(b, "writer   alive (%d of %d consumers)%s\n", alive, s->nwriters, lc);
        else rc |= ss_buf_printf(b, "writer   not running (%d consumers, none with a heartbeat under 10 s)%s\n", s->nwriters, lc);
    }
    rc |= ss_buf_printf(b, "\n%-10s %12s %10s %12s %10s\n", "stream", "length", "pending", "lag", "oldest");
    long long total = 0;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        const ss_stream_info *si = &s->streams[t];
        if (t == SS_TYPE_OTHER && !si->exists) continue;
        char lag[32], old[32] = "-";
        if (!si->exists) snprintf(lag, sizeof lag, "-");
        else if (!si->has_group) snprintf(lag, sizeof lag, "no group");
        else if (si->lag < 0) snprintf(lag, sizeof lag, "unknown");
        else snprintf(lag, sizeof lag, "%lld", si->lag);
        if (si->exists && si->length > 0 && si->first_ms >= 0) age(s->now_us - si->first_ms * 1000, old, sizeof old);
        rc |= ss_buf_printf(b, "%-10s %12lld %10lld %12s %10s\n", ss_type_name((ss_type)t), si->length, si->pending,
                            lag, old);
        total += si->length;
        for (int sh = 0; s->shards > 1 && sh < s->shards; sh++) {
            const ss_stream_info *ss = &s->shard_streams[t][sh];
            char name[32];
            snprintf(name, sizeof name, "  %s:%d", ss_type_name((ss_type)t), sh);
            snprintf(old, sizeof old, "-");
            if (!ss->exists) snprintf(lag, sizeof lag, "-");
            else if (!ss->has_group) snprintf(lag, sizeof lag, "no group");
            else if (ss->lag < 0) snprintf(lag, sizeof lag, "unknown");
            else snprintf(lag, sizeof lag, "%lld", ss->lag);
            if (ss->exists && ss->length > 0 && ss->first_ms >= 0) age(s->now_us - ss->first_ms * 1000, old, sizeof old);
            rc |= ss_buf_printf(b, "%-10s %12lld %10lld %12s %10s\n", name, ss->length, ss->pending, lag, old);
        }
    }
    rc |= ss_buf_printf(b, "%-10s %12lld\n%-10s %12lld\n", "total", total, "dlq", s->dlq.length);
    if (s->shards > 1) {
        rc |= ss_buf_printf(b, "\nshards   %d (streams <prefix><type>:<shard>), writer ledger of each:\n", s->shards);
        for (int i = 0; i < s->shards; i++)
            rc |= ss_buf_printf(b, "  %d  %s\n", i, s->owners[i][0] ? s->owners[i] : "(no writer yet)");
    } else if (s->owners[0][0]) {
        rc |= ss_buf_printf(b, "\nwriters  ledger %s\n", s->owners[0]);
    }
    if (s->loss_detected > 0) {
        char a[32];
        age(s->now_us - s->loss_last_us, a, sizeof a);
        rc |= ss_buf_printf(b, "\nDATA LOSS in Redis detected %lld time(s), last %s ago in %s: entries the writer had "
                               "read were gone; %lld dedup claims released so re-sent copies are written (see the "
                               "writer's log and the ledger table redis_losses)\n",
                            s->loss_detected, a, s->loss_stream, s->loss_released);
    }
    if (s->gaps_committed + s->gaps_pending > 0) {
        rc |= ss_buf_printf(b, "\ngaps     %lld (%lld in the writer's ledger, %lld waiting in Redis): stretches a source "
                               "did not receive (skyspool gaps)\n",
                            s->gaps_committed + s->gaps_pending, s->gaps_committed, s->gaps_pending);
        if (s->has_last_gap) {
            char a[32];
            age(s->now_us - s->last_gap.detected_us, a, sizeof a);
            rc |= ss_buf_printf(b, "  latest %s ago: %s %s %lld..%lld from %s\n", a, s->last_gap.reason,
                                s->last_gap.unit, (long long)s->last_gap.from, (long long)s->last_gap.to,
                                s->last_gap.source);
        }
    } else {
        rc |= ss_buf_puts(b, "\ngaps     0\n");
    }
    rc |= ss_buf_puts(b, "\ncursors\n");
    if (s->ncursors == 0) rc |= ss_buf_puts(b, "  (none stored)\n");
    for (int i = 0; i < s->ncursors; i++) {
        char a[32];
        age(s->now_us - s->cursors[i].updated_us, a, sizeof a);
        rc |= ss_buf_printf(b, "  %s  %s %lld, updated %s ago\n", s->cursors[i].source, s->cursors[i].name,
                            (long long)s->cursors[i].cursor, a);
    }
    if (s->cursors_truncated) rc |= ss_buf_printf(b, "  (only the first %d shown)\n", SS_STATUS_MAX_CURSORS);
    return rc ? -1 : 0;
}

static int jstr(ss_buf *b, const char *s) { return ss_buf_append_json_string(b, s, strlen(s)); }

static int stream_json(ss_buf *b, const ss_status *s, const ss_stream_info *si) {
    int rc = ss_buf_printf(b, "{\"exists\":%s,\"length\":%lld,\"group\":%s,\"pending\":%lld,\"consumers\":%lld,\"lag\":",
                           si->exists ? "true" : "false", si->length, si->has_group ? "true" : "false", si->pending,
                           si->consumers);
    if (si->has_group && si->lag >= 0) rc |= ss_buf_printf(b, "%lld", si->lag);
    else rc |= ss_buf_puts(b, "null");
    rc |= ss_buf_printf(b, ",\"lag_exact\":%s", si->has_group && !si->lag_exact ? "false" : "true");
    rc |= ss_buf_puts(b, ",\"oldest_age_s\":");
    if (si->exists && si->length > 0 && si->first_ms >= 0)
        rc |= ss_buf_printf(b, "%.3f", (double)(s->now_us - si->first_ms * 1000) / 1e6);
    else rc |= ss_buf_puts(b, "null");
    return rc | ss_buf_putc(b, '}');
}

int ss_status_render_json(const ss_status *s, ss_buf *b) {
    int rc = ss_buf_puts(b, "{\"redis\":");
    rc |= jstr(b, s->redis);
    rc |= ss_buf_puts(b, ",\"version\":");
    rc |= jstr(b, s->version);
    rc |= ss_buf_puts(b, ",\"prefix\":");
    rc |= jstr(b, s->prefix);
    rc |= ss_buf_printf(b, ",\"now_us\":%lld,\"memory\":{\"used\":%lld,\"max\":%lld,\"policy\":", (long long)s->now_us,
                        s->used_memory, s->maxmemory);
    rc |= jstr(b, s->policy);
    rc |= ss_buf_puts(b, "},\"streams\":{");
    int first = 1;
    long long total = 0, pending = 0;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        if (t == SS_TYPE_OTHER && !s->streams[t].exists) continue;
        rc |= ss_buf_printf(b, "%s\"%s\":", first ? "" : ",", ss_type_name((ss_type)t));
        first = 0;
        rc |= stream_json(b, s, &s->streams[t]);
        total += s->streams[t].length;
        pending += s->streams[t].pending;
    }
    rc |= ss_buf_printf(b, "},\"total_length\":%lld,\"total_pending\":%lld,\"dlq\":{\"length\":%lld}", total, pending,
                        s->dlq.length);
    rc |= ss_buf_printf(b, ",\"shards\":%d,\"shard_streams\":{", s->shards);
    first = 1;
    for (int t = 0; s->shards > 1 && t < SS_TYPE__COUNT; t++) {
        if (t == SS_TYPE_OTHER && !s->streams[t].exists) continue;
        for (int sh = 0; sh < s->shards; sh++) {
            rc |= ss_buf_printf(b, "%s\"%s:%d\":", first ? "" : ",", ss_type_name((ss_type)t), sh);
            first = 0;
            rc |= stream_json(b, s, &s->shard_streams[t][sh]);
        }
    }
    rc |= ss_buf_puts(b, "},\"shard_owners\":[");
    for (int i = 0; i < s->shards; i++) {
        if (i) rc |= ss_buf_putc(b, ',');
        if (s->owners[i][0]) rc |= jstr(b, s->owners[i]);
        else rc |= ss_buf_puts(b, "null");
    }
    rc |= ss_buf_putc(b, ']');
    rc |= ss_buf_puts(b, ",\"ingest\":");
    if (!s->has_ingest) {
        rc |= ss_buf_puts(b, "null");
    } else {
        rc |= ss_buf_puts(b, "{\"state\":");
        rc |= jstr(b, s->ingest_state);
        rc |= ss_buf_printf(b, ",\"alive\":%s,\"paused\":%s,\"pause_reason\":", ingest_alive(s) ? "true" : "false",
                            s->paused ? "true" : "false");
        rc |= jstr(b, s->pause_reason);
        rc |= ss_buf_printf(b,
                            ",\"pauses_total\":%lld,\"events_total\":%lld,\"dlq_total\":%lld,\"other_total\":%lld,"
                            "\"reconnects_total\":%lld,\"heartbeat_us\":%lld,\"heartbeat_age_s\":%.3f,\"source\":",
                            s->pauses_total, s->events_total, s->dlq_total, s->other_total, s->reconnects_total,
                            (long long)s->heartbeat_us, (double)(s->now_us - s->heartbeat_us) / 1e6);
        rc |= jstr(b, s->ingest_source);
        rc |= ss_buf_putc(b, '}');
    }
    rc |= ss_buf_printf(b, ",\"redis_loss\":{\"detected\":%lld,\"last_us\":%lld,\"last_released\":%lld,\"last_stream\":",
                        s->loss_detected, (long long)s->loss_last_us, s->loss_released);
    rc |= jstr(b, s->loss_stream);
    rc |= ss_buf_putc(b, '}');
    rc |= ss_buf_printf(b, ",\"gaps\":{\"total\":%lld,\"committed\":%lld,\"pending\":%lld,\"last\":",
                        s->gaps_committed + s->gaps_pending, s->gaps_committed, s->gaps_pending);
    if (s->has_last_gap) rc |= ss_gap_record_json(b, &s->last_gap, s->last_gap_pending ? "redis" : "ledger");
    else rc |= ss_buf_puts(b, "null");
    rc |= ss_buf_putc(b, '}');
    rc |= ss_buf_printf(b, ",\"writer\":{\"alive\":%s,\"alive_consumers\":%d,\"last_commit_us\":",
                        writers_alive(s) ? "true" : "false", writers_alive(s));
    if (s->last_commit_us >= 0) rc |= ss_buf_printf(b, "%lld", (long long)s->last_commit_us);
    else rc |= ss_buf_puts(b, "null");
    rc |= ss_buf_puts(b, ",\"last_commit_age_s\":");
    if (s->last_commit_us > 0) rc |= ss_buf_printf(b, "%.3f", (double)(s->now_us - s->last_commit_us) / 1e6);
    else rc |= ss_buf_puts(b, "null");
    rc |= ss_buf_puts(b, ",\"consumers\":[");
    for (int i = 0; i < s->nwriters; i++) {
        rc |= ss_buf_printf(b, "%s{\"name\":", i ? "," : "");
        rc |= jstr(b, s->writers[i].consumer);
        rc |= ss_buf_printf(b, ",\"heartbeat_us\":%lld,\"alive\":%s}", (long long)s->writers[i].heartbeat_us,
                            writer_alive(s, i) ? "true" : "false");
    }
    rc |= ss_buf_printf(b, "],\"consumers_truncated\":%s}", s->writers_truncated ? "true" : "false");
    rc |= ss_buf_puts(b, ",\"cursors\":[");
    for (int i = 0; i < s->ncursors; i++) {
        const ss_status_cursor *c = &s->cursors[i];
        rc |= ss_buf_printf(b, "%s{\"source\":", i ? "," : "");
        rc |= jstr(b, c->source);
        rc |= ss_buf_puts(b, ",\"name\":");
        rc |= jstr(b, c->name);
        rc |= ss_buf_printf(b, ",\"cursor\":%lld,\"updated_us\":%lld,\"age_s\":%.3f}", (long long)c->cursor,
                            (long long)c->updated_us, (double)(s->now_us - c->updated_us) / 1e6);
    }
    rc |= ss_buf_printf(b, "],\"cursors_truncated\":%s}\n", s->cursors_truncated ? "true" : "false");
    return rc ? -1 : 0;
}
