/* The DataWriter's consumer interface: every Redis operation the writer core needs, as a
 * table of functions (like ss_source_vtbl in source/source.h).
 *
 * The core (claims, parts, the commit protocol, the loop) never sees a redisContext: it asks
 * a consumer to read a round of entries, acknowledge ids, move an entry to the DLQ, list and
 * take over a dead consumer's entries, and keep its heartbeat. The real consumer is
 * hiredis-backed (consumer.c, ss_writer_consumer_redis); tests/unit/test_writer_core.c drives
 * the core through an in-memory fake, so the exactly-once protocol is tested without Redis.
 *
 * Speed. The writer drains ~160k entries/s, so entries are not copied: a consumer hands out
 * *borrowed* pointers into its reply (for the Redis one, hiredis objects built in a reply
 * arena, buffer/reply_arena.h). Entries returned by `read` or `take_over` stay valid until
 * the consumer's next `release`, `read`, `take_over` or `close`; the core calls `release`
 * once it has claimed, placed and appended a round (anything it keeps, it copies: entry ids
 * into parts, event bytes into the Parquet writer). The entry and field arrays are reused
 * between rounds, so there is no allocation per entry. `read_ahead` sends the next round's
 * read without waiting for it, so Redis builds that reply while the core works on this one;
 * the next `read(c, NULL, ...)` collects it.
 *
 * Errors are carried in c->errstr, as in hiredis: a function returning -1 has set it, and the
 * message names what failed ("redis: connection lost", "redis XADD ...: ..."). */
#ifndef SS_WRITER_CONSUMER_H
#define SS_WRITER_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "buffer/gaps.h"
#include "event/event.h"
#include "writer/ids.h"
#include "writer/writer.h"

/* One field name or value; p is NULL when Redis sent something other than a string. */
typedef struct {
    const char *p;
    size_t n;
} ss_writer_str;

typedef struct {
    const char *id; /* "<ms>-<seq>", as Redis sent it (not NUL-terminated) */
    size_t idlen;
    int deleted;    /* still pending but deleted from the stream: no fields */
    const ss_writer_str *f; /* field names and values, alternately: <meta> <event>, or e <event> [t .. k ..] */
    size_t nf;
} ss_writer_entry;

/* The entries of one stream, in id order. */
typedef struct {
    int type; /* the stream's index: ss_type */
    const ss_writer_entry *e;
    size_t n;
} ss_writer_batch;

/* What one read returned: the streams that had entries, in the order they were asked for. */
typedef struct {
    ss_writer_batch s[SS_TYPE__COUNT];
    int n;
} ss_writer_round;

typedef struct {
    int n;                            /* streams to read, 1..SS_TYPE__COUNT */
    int type[SS_TYPE__COUNT];
    const char *from[SS_TYPE__COUNT]; /* ">" new entries, or an id: our own pending entries after it */
    int count;                        /* at most this many entries per stream */
    int block_ms;                     /* > 0: wait this long when nothing is there */
} ss_writer_read_req;

typedef struct {
    char name[SS_WRITER_MAX_CONSUMER + 1];
    long long pending; /* entries pending, summed over the streams */
    long long idle_ms; /* smallest idle time over the streams */
} ss_writer_consumer_info;

typedef struct ss_writer_consumer ss_writer_consumer;

typedef struct ss_writer_consumer_vtbl {
    /* Connects the command connection unless it is up. Called at each session start and,
     * while backing off, to keep the heartbeat fresh. */
    int (*connect)(ss_writer_consumer *c);
    /* Drops every connection (after a failure). A read sent ahead stays in our PEL. */
    void (*close)(ss_writer_consumer *c);
    /* Shards (buffer/shard.h): the number recorded by the ingester (0: none), and claiming
     * `field` for ledger_id: 0 ours, 1 owned by another ledger (its id in owner), -1 error. */
    int (*shard_recorded)(ss_writer_consumer *c, int *shards);
    int (*shard_claim)(ss_writer_consumer *c, const char *field, const char *ledger_id, int force, char *owner,
                       size_t ownerlen);
    /* Creates the consumer group on every stream (from id 0) where it does not exist. */
    int (*ensure_groups)(ss_writer_consumer *c);
    /* Our heartbeat: wall-clock ms, or 0 for "exited". Fails without connecting when the
     * command connection is down. */
    int (*heartbeat)(ss_writer_consumer *c, long long ms);
    /* Another consumer's heartbeat: *ms = -1 when it has none. */
    int (*heartbeat_of)(ss_writer_consumer *c, const char *consumer, long long *ms);
    /* Reads one round and waits for it: req, or with req NULL the read sent by read_ahead. */
    int (*read)(ss_writer_consumer *c, const ss_writer_read_req *req, ss_writer_round *out);
    /* Sends req without waiting (never a blocking one). 1 sent, 0 not (no reader connection,
     * or it broke: its entries, if any got there, wait in our PEL for the next session). */
    int (*read_ahead)(ss_writer_consumer *c, const ss_writer_read_req *req);
    /* The entries handed out by the last read or take_over are no longer used. */
    void (*release)(ss_writer_consumer *c);
    /* Acknowledges ids of stream `type` and trims what no group needs (ack_script.h). */
    int (*ack)(ss_writer_consumer *c, int type, const ss_writer_id *ids, size_t n);
    /* Adds an entry the writer cannot use to the DLQ (raw: its event bytes, may be NULL). */
    int (*dlq)(ss_writer_consumer *c, int type, const char *id, const char *reason, const char *raw, size_t rawlen);
    /* The other consumers of our streams with their pending counts (malloc'ed; caller frees). */
    int (*consumers)(ss_writer_consumer *c, ss_writer_consumer_info **out, size_t *n);
    /* Moves up to a batch of `dead`'s entries of stream `type` idle >= min_idle ms into our
     * PEL and returns them: 1 (out filled, possibly empty: entries touched meanwhile), 0
     * nothing pending, -1 error. */
    int (*take_over)(ss_writer_consumer *c, int type, const char *dead, long long min_idle, ss_writer_batch *out);
    /* The server's identity (Redis: run_id), which changes when it restarts; "" if unknown. */
    int (*server_id)(ss_writer_consumer *c, char *out, size_t outlen);
    /* The group's last delivered id on stream `type`; 0-0 when the stream or group is gone. */
    int (*last_delivered)(ss_writer_consumer *c, int type, ss_writer_id *out);
    /* The oldest entry of stream `type` pending in the group (any consumer): 1 and *out, or
     * 0 when nothing is pending. */
    int (*oldest_pending)(ss_writer_consumer *c, int type, ss_writer_id *out);
    /* Records a detected loss of delivered entries where `skyspool status` shows it. */
    int (*report_loss)(ss_writer_consumer *c, int type, long long released, const char *last_delivered,
                       const char *max_claimed);
    /* Does the server keep what it acknowledges (Redis: AOF on, maxmemory-policy
     * noeviction; buffer/persist.h)? 0 yes -- why may then hold a problem to log as an error
     * that does not stop the writer (a failed AOF write: Redis refuses writes until its disk
     * recovers, which fails and retries sessions anyway); 1 no: why says what is wrong and the
     * exact fix; -1 error (errstr). NULL: not checked (the tests' fake). */
    int (*persistence)(ss_writer_consumer *c, char *why, size_t n);
    /* Gap records (buffer/gaps.h), oldest first: up to max of P<gaps> into *out (malloc'ed,
     * the caller frees), *n of them. NULL in a consumer without gaps (the tests' fake). */
    int (*gaps_read)(ss_writer_consumer *c, size_t max, ss_gap_record **out, size_t *n);
    /* Deletes gap entries the ledger has committed, and notes them in P<gaps-seen> (the
     * count of those really deleted, and the newest), atomically. */
    int (*gaps_done)(ss_writer_consumer *c, const ss_gap_record *g, size_t n);
    /* Deletes `dead` from the groups and the heartbeats when nothing of it is pending. */
    int (*forget)(ss_writer_consumer *c, const char *dead);
    void (*free)(ss_writer_consumer *c);
} ss_writer_consumer_vtbl;

struct ss_writer_consumer {
    const ss_writer_consumer_vtbl *v;
    void *impl;
    char errstr[1024];
    int err; /* the ss_err_class of errstr (util/err.h) */
};

/* What a consumer is told about its streams and keys. */
typedef struct {
    const char *prefix;
    const char *consumer;                 /* our consumer name in group SS_WRITER_GROUP */
    const char *stream_key[SS_TYPE__COUNT];
    const char *hb_key;                   /* hash of heartbeats */
    const char *dlq_key;
} ss_writer_consumer_cfg;

/* The Redis consumer: connections come from connect(connect_ctx), as in ss_writer_opts.
 * NULL when out of memory. */
ss_writer_consumer *ss_writer_consumer_redis(const ss_writer_consumer_cfg *cfg,
                                             redisContext *(*connect)(void *ctx, char *err, size_t errlen, ss_err_class *cls),
                                             void *connect_ctx);

/* ss_writer_new with another consumer (tests). The writer owns c from here on, also when this
 * fails (then c is freed). o->connect is not used. */
ss_writer *ss_writer_new_with_consumer(const ss_writer_opts *o, ss_writer_consumer *c, char *err, size_t errlen);

#endif
