/* The DataWriter core driven through a fake consumer (writer/consumer.h), without Redis.
 *
 * The fake keeps in-memory streams, one consumer group's PELs, acknowledgements, heartbeats
 * and a DLQ, all in one MAP_SHARED mapping, so that a writer forked off and killed at a crash
 * point (SKYSPOOL_CRASH_AT, crash.h) leaves exactly the state Redis would keep, and a second
 * writer in this process recovers from it. Every acknowledgement is checked against the
 * ledger as it happens: an acked entry must already be in a commit (or in the DLQ), which is
 * the "nothing acknowledged before its commit" half of exactly-once; the other half is the
 * row count (ledger totals, files on disk) after recovery. Events are small Jetstream v1 JSON
 * lines built here (likes and post deletes) with their meta (ss_event_meta_format). */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "event/event.h"
#include "writer/consumer.h"
#include "writer/ledger.h"
#include "writer/writer.h"

#define FK_MAX 1024
#define FK_EV 512
#define BASE_US 1754524800000000LL /* 2025-08-07T00:00:00Z, a window start */
#define WIN_US 300000000LL

/* ---- the fake consumer's state (shared with forked writers) --------------------------------- */

typedef struct {
    int type;
    ss_writer_id id;
    char idtxt[SS_WRITER_ID_STRLEN];
    char meta[SS_EVENT_META_MAX];
    size_t metalen;
    char ev[FK_EV];
    size_t evlen;
    char owner[SS_WRITER_MAX_CONSUMER + 1]; /* "" when not pending */
    int delivered, acked, acks, dlq;
    long long delivered_ms;
} fk_entry;

typedef struct {
    fk_entry e[FK_MAX];
    int n;
    ss_writer_id last[SS_TYPE__COUNT]; /* the group's last delivered id per stream */
    struct {
        char name[SS_WRITER_MAX_CONSUMER + 1];
        long long ms;
    } hb[8];
    int nhb;
    char ledger[512];
    int bad_acks; /* acks of entries not (yet) committed: must stay 0 */
    int ack_calls, read_calls;
    char fail_op[16]; /* inject: the fail_nth-th call of this op fails */
    int fail_nth, fail_count;
    int fail_class;   /* ... with this ss_err_class (0: io), as a real consumer classes a reply */
    int fence_at_read; /* another writer fences us in the ledger at this read (0: never) */
    uint64_t id_base; /* added to the first entry id of a stream (a Redis clock that moved on) */
    char run_id[16];  /* the fake server's identity */
    int losses;       /* report_loss calls */
} fk_state;

static fk_state *S;

/* The fake's own invariants; not cmocka asserts, which must not run in a forked writer. */
#define FK_CHECK(x)                                                                       \
    do {                                                                                  \
        if (!(x)) {                                                                       \
            fprintf(stderr, "test_writer_core: fake consumer: %s failed (line %d)\n", #x, __LINE__); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* Entries handed out are described in one of three buffers: the round being worked, the
 * round read ahead, and a takeover's batch (which can happen while a read is ahead). */
typedef struct {
    char name[SS_WRITER_MAX_CONSUMER + 1];
    ss_writer_entry ents[3][FK_MAX];
    ss_writer_str strs[3][2 * FK_MAX];
    int next;                /* buffer of the next read: 0 or 1 */
    ss_writer_round ahead;   /* the round read ahead (executed when sent, as Redis does) */
    int has_ahead;
    int connected;
} fk_cons;

static long long now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int injected(ss_writer_consumer *c, const char *op) {
    if (strcmp(S->fail_op, op) != 0) return 0;
    if (++S->fail_count != S->fail_nth) return 0;
    snprintf(c->errstr, sizeof c->errstr, "fake: injected failure of %s", op);
    c->err = S->fail_class ? S->fail_class : SS_ERR_IO;
    return 1;
}

static int fk_connect(ss_writer_consumer *c) {
    if (injected(c, "connect")) return -1;
    ((fk_cons *)c->impl)->connected = 1;
    return 0;
}
static void fk_close(ss_writer_consumer *c) {
    fk_cons *f = c->impl;
    f->connected = 0;
    f->has_ahead = 0;
}
static int fk_shard_recorded(ss_writer_consumer *c, int *shards) {
    (void)c;
    *shards = 0;
    return 0;
}
static int fk_shard_claim(ss_writer_consumer *c, const char *field, const char *ledger_id, int force, char *owner,
                          size_t ownerlen) {
    (void)c, (void)field, (void)force;
    snprintf(owner, ownerlen, "%s", ledger_id);
    return 0;
}
static int fk_ensure_groups(ss_writer_consumer *c) { return injected(c, "groups") ? -1 : 0; }

static int fk_heartbeat(ss_writer_consumer *c, long long ms) {
    fk_cons *f = c->impl;
    if (!f->connected) {
        snprintf(c->errstr, sizeof c->errstr, "fake: not connected");
        return -1;
    }
    if (injected(c, "heartbeat")) return -1;
    int i;
    for (i = 0; i < S->nhb; i++)
        if (!strcmp(S->hb[i].name, f->name)) break;
    if (i == S->nhb && S->nhb < 8) snprintf(S->hb[S->nhb++].name, sizeof S->hb[0].name, "%s", f->name);
    if (i < 8) S->hb[i].ms = ms;
    return 0;
}

static int fk_heartbeat_of(ss_writer_consumer *c, const char *name, long long *ms) {
    (void)c;
    *ms = -1;
    for (int i = 0; i < S->nhb; i++)
        if (!strcmp(S->hb[i].name, name)) *ms = S->hb[i].ms;
    return 0;
}

static void describe(ss_writer_entry *ents, ss_writer_str *strs, int k, size_t *ne) {
    fk_entry *x = &S->e[k];
    ss_writer_entry *d = &ents[*ne];
    d->id = x->idtxt;
    d->idlen = strlen(x->idtxt);
    d->deleted = 0;
    d->f = &strs[2 * *ne];
    d->nf = 2;
    strs[2 * *ne] = (ss_writer_str){x->meta, x->metalen};
    strs[2 * *ne + 1] = (ss_writer_str){x->ev, x->evlen};
    (*ne)++;
}

/* XREADGROUP: ">" delivers the group's next entries to us; an id re-reads our own pending
 * entries after it. */
static void do_read(fk_cons *f, const ss_writer_read_req *req, ss_writer_round *out) {
    ss_writer_entry *ents = f->ents[f->next];
    ss_writer_str *strs = f->strs[f->next];
    f->next ^= 1;
    out->n = 0;
    size_t ne = 0;
    for (int i = 0; i < req->n; i++) {
        int t = req->type[i];
        size_t first = ne;
        int live = !strcmp(req->from[i], ">");
        ss_writer_id from = {0, 0};
        if (!live) FK_CHECK(ss_writer_id_parse(req->from[i], strlen(req->from[i]), &from) == 0);
        for (int k = 0; k < S->n && (int)(ne - first) < req->count; k++) {
            fk_entry *x = &S->e[k];
            if (x->type != t) continue;
            if (live) {
                if (ss_writer_id_cmp(x->id, S->last[t]) <= 0) continue;
                S->last[t] = x->id;
                x->delivered++;
                snprintf(x->owner, sizeof x->owner, "%s", f->name);
                x->delivered_ms = now_ms();
            } else if (strcmp(x->owner, f->name) != 0 || ss_writer_id_cmp(x->id, from) <= 0) {
                continue;
            }
            describe(ents, strs, k, &ne);
        }
        if (ne > first) out->s[out->n++] = (ss_writer_batch){t, &ents[first], ne - first};
    }
}

static int fk_read(ss_writer_consumer *c, const ss_writer_read_req *req, ss_writer_round *out) {
    fk_cons *f = c->impl;
    out->n = 0;
    S->read_calls++;
    if (S->fence_at_read && S->read_calls == S->fence_at_read) { /* a takeover elsewhere declares us dead */
        char err[256];
        ss_ledger *l = ss_ledger_open(S->ledger, err, sizeof err);
        if (!l || ss_ledger_fence(l, f->name) != 0) {
            fprintf(stderr, "test_writer_core: cannot fence %s: %s\n", f->name, l ? ss_ledger_errstr(l) : err);
            abort();
        }
        ss_ledger_close(l);
    }
    if (!req && !f->has_ahead) {
        snprintf(c->errstr, sizeof c->errstr, "fake: no read was sent ahead");
        return -1;
    }
    if (injected(c, "read")) {
        f->has_ahead = 0; /* its entries stay in our PEL, as with a broken connection */
        return -1;
    }
    if (req) do_read(f, req, out);
    else *out = f->ahead;
    f->has_ahead = 0;
    return 0;
}

static int fk_read_ahead(ss_writer_consumer *c, const ss_writer_read_req *req) {
    fk_cons *f = c->impl;
    if (f->has_ahead || req->block_ms > 0) return 0;
    do_read(f, req, &f->ahead);
    f->has_ahead = 1;
    return 1;
}

static void fk_release(ss_writer_consumer *c) { (void)c; }

/* Is id of stream type in a commit of the ledger? (What the ack must come after.) */
static int committed(int type, ss_writer_id id) {
    char err[256];
    ss_ledger *l = ss_ledger_open_readonly(S->ledger, err, sizeof err);
    if (!l) return 0;
    ss_writer_id *ids = NULL;
    size_t n = 0;
    int ok = ss_ledger_committed_ids(l, type, id.ms, id.ms, &ids, &n) == 0 && ss_writer_id_find(ids, n, id);
    free(ids);
    ss_ledger_close(l);
    return ok;
}

static fk_entry *find(int type, ss_writer_id id) {
    for (int k = 0; k < S->n; k++)
        if (S->e[k].type == type && ss_writer_id_cmp(S->e[k].id, id) == 0) return &S->e[k];
    return NULL;
}

static int fk_ack(ss_writer_consumer *c, int type, const ss_writer_id *ids, size_t n) {
    S->ack_calls++;
    if (injected(c, "ack")) return -1;
    for (size_t i = 0; i < n; i++) {
        fk_entry *x = find(type, ids[i]);
        FK_CHECK(x != NULL);
        if (!x->dlq && !committed(type, ids[i])) S->bad_acks++;
        x->acked = 1;
        x->acks++;
        x->owner[0] = '\0';
    }
    return 0;
}

static int fk_dlq(ss_writer_consumer *c, int type, const char *id, const char *reason, const char *raw,
                  size_t rawlen) {
    (void)reason, (void)raw, (void)rawlen;
    if (injected(c, "dlq")) return -1;
    ss_writer_id x;
    FK_CHECK(ss_writer_id_parse(id, strlen(id), &x) == 0 && find(type, x) != NULL);
    find(type, x)->dlq = 1;
    return 0;
}

static int fk_consumers(ss_writer_consumer *c, ss_writer_consumer_info **out, size_t *n) {
    fk_cons *f = c->impl;
    *out = calloc(FK_MAX, sizeof **out);
    *n = 0;
    long long now = now_ms();
    for (int k = 0; k < S->n; k++) {
        fk_entry *x = &S->e[k];
        if (!x->owner[0] || !strcmp(x->owner, f->name)) continue;
        size_t i;
        for (i = 0; i < *n; i++)
            if (!strcmp((*out)[i].name, x->owner)) break;
        if (i == *n) {
            snprintf((*out)[i].name, sizeof (*out)[i].name, "%s", x->owner);
            (*out)[i].idle_ms = now - x->delivered_ms;
            (*n)++;
        }
        (*out)[i].pending++;
        if (now - x->delivered_ms < (*out)[i].idle_ms) (*out)[i].idle_ms = now - x->delivered_ms;
    }
    return 0;
}

static int fk_take_over(ss_writer_consumer *c, int type, const char *dead, long long min_idle, ss_writer_batch *out) {
    fk_cons *f = c->impl;
    size_t ne = 0;
    long long now = now_ms();
    for (int k = 0; k < S->n && ne < 100; k++) {
        fk_entry *x = &S->e[k];
        if (x->type != type || strcmp(x->owner, dead) != 0 || now - x->delivered_ms < min_idle) continue;
        snprintf(x->owner, sizeof x->owner, "%s", f->name);
        x->delivered_ms = now;
        x->delivered++;
        describe(f->ents[2], f->strs[2], k, &ne);
    }
    *out = (ss_writer_batch){type, f->ents[2], ne};
    return ne ? 1 : 0;
}

static int fk_server_id(ss_writer_consumer *c, char *out, size_t outlen) {
    (void)c;
    snprintf(out, outlen, "%s", S->run_id);
    return 0;
}

static int fk_last_delivered(ss_writer_consumer *c, int type, ss_writer_id *out) {
    (void)c;
    *out = S->last[type];
    return 0;
}

static int fk_oldest_pending(ss_writer_consumer *c, int type, ss_writer_id *out) {
    (void)c;
    int any = 0;
    for (int k = 0; k < S->n; k++) {
        fk_entry *x = &S->e[k];
        if (x->type != type || !x->owner[0]) continue;
        if (!any || ss_writer_id_cmp(x->id, *out) < 0) *out = x->id;
        any = 1;
    }
    return any;
}

static int fk_report_loss(ss_writer_consumer *c, int type, long long released, const char *last_delivered,
                          const char *max_claimed) {
    (void)c, (void)type, (void)released, (void)last_delivered, (void)max_claimed;
    S->losses++;
    return 0;
}

static int fk_forget(ss_writer_consumer *c, const char *dead) {
    (void)c, (void)dead;
    return 0;
}

static void fk_free(ss_writer_consumer *c) {
    if (!c) return;
    free(c->impl);
    free(c);
}

static const ss_writer_consumer_vtbl fk_vtbl = {
    .connect = fk_connect,
    .close = fk_close,
    .shard_recorded = fk_shard_recorded,
    .shard_claim = fk_shard_claim,
    .ensure_groups = fk_ensure_groups,
    .heartbeat = fk_heartbeat,
    .heartbeat_of = fk_heartbeat_of,
    .read = fk_read,
    .read_ahead = fk_read_ahead,
    .release = fk_release,
    .ack = fk_ack,
    .dlq = fk_dlq,
    .consumers = fk_consumers,
    .take_over = fk_take_over,
    .server_id = fk_server_id,
    .last_delivered = fk_last_delivered,
    .report_loss = fk_report_loss,
    .oldest_pending = fk_oldest_pending,
    .forget = fk_forget,
    .free = fk_free,
};

static ss_writer_consumer *fk_new(const char *name) {
    ss_writer_consumer *c = calloc(1, sizeof *c);
    fk_cons *f = calloc(1, sizeof *f);
    assert_non_null(c);
    assert_non_null(f);
    snprintf(f->name, sizeof f->name, "%s", name);
    c->v = &fk_vtbl;
    c->impl = f;
    return c;
}

/* ---- synthetic events ----------------------------------------------------------------------- */

static void b32(char *out, size_t n, unsigned long long v) {
    static const char A[] = "234567abcdefghijklmnopqrstuvwxyz";
    for (size_t i = 0; i < n; i++) {
        out[n - 1 - i] = A[v % 32];
        v /= 32;
    }
    out[n] = '\0';
}

/* Appends event i (a like, or a post delete when i is odd) at time t to the fake's stream. */
static void add_event(int i, int64_t t) {
    assert_true(S->n < FK_MAX);
    fk_entry *x = &S->e[S->n];
    memset(x, 0, sizeof *x);
    char did[25], rkey[14], rev[14];
    b32(did, 24, 0x1234567ull * (unsigned)(i + 1));
    b32(rkey, 13, 1000000000000ull + (unsigned)i);
    b32(rev, 13, 2000000000000ull + (unsigned)i);
    if (i % 2 == 0)
        x->evlen = (size_t)snprintf(
            x->ev, sizeof x->ev,
            "{\"did\":\"did:plc:%s\",\"time_us\":%lld,\"kind\":\"commit\",\"commit\":{\"rev\":\"%s\",\"operation\":"
            "\"create\",\"collection\":\"app.bsky.feed.like\",\"rkey\":\"%s\",\"record\":{\"$type\":"
            "\"app.bsky.feed.like\",\"createdAt\":\"2025-08-07T00:00:00.000Z\",\"subject\":{\"cid\":"
            "\"bafyreicqqcru2e42tckvp26uco6swrcogu6tprqjvrccmflzjmdqy6jqmm\",\"uri\":"
            "\"at://did:plc:nyep356grxqejlimmtysiodp/app.bsky.feed.post/3lvr5cgs2y74v\"}},\"cid\":"
            "\"bafyreifzfaglnfxix3ze4jo4a2be7xzt3lrklj7ucn43rgq5psagedb7ky\"}}",
            did, (long long)t, rev, rkey);
    else
        x->evlen = (size_t)snprintf(x->ev, sizeof x->ev,
                                    "{\"did\":\"did:plc:%s\",\"time_us\":%lld,\"kind\":\"commit\",\"commit\":{\"rev\":"
                                    "\"%s\",\"operation\":\"delete\",\"collection\":\"app.bsky.feed.post\",\"rkey\":"
                                    "\"%s\"}}",
                                    did, (long long)t, rev, rkey);
    assert_true(x->evlen < sizeof x->ev);
    ss_decoder *d = ss_decoder_new(NULL);
    ss_event ev;
    assert_int_equal(ss_decode(d, x->ev, x->evlen, &ev), SS_DECODE_OK);
    x->type = (int)ev.type;
    uint8_t key[16];
    ss_event_dedup_key(&ev, key);
    x->metalen = ss_event_meta_format(key, ev.time_us, x->meta);
    ss_decoder_free(d);
    ss_writer_id last = {0, 0};
    for (int k = 0; k < S->n; k++)
        if (S->e[k].type == x->type && ss_writer_id_cmp(S->e[k].id, last) > 0) last = S->e[k].id;
    x->id = (ss_writer_id){last.ms ? last.ms + 1 : 1754524800000ull + S->id_base, 0};
    ss_writer_id_format(x->id, x->idtxt);
    S->n++;
}

/* n distinct events, the first half in window 0, the rest in window 1. */
static void add_events(int n) {
    for (int i = 0; i < n; i++) add_event(i, BASE_US + (i < n / 2 ? 0 : WIN_US) + (int64_t)i * 1000);
}

/* ---- fixture -------------------------------------------------------------------------------- */

static char dir[256], out_dir[300], data_dir[300];

static int setup(void **state) {
    (void)state;
    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (S == MAP_FAILED) return -1;
    memset(S, 0, sizeof *S);
    snprintf(dir, sizeof dir, "/tmp/ss_writer_core_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(out_dir, sizeof out_dir, "%s/archive", dir);
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    snprintf(S->ledger, sizeof S->ledger, "%s/%s", data_dir, SS_LEDGER_FILE);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return -1;
    munmap(S, sizeof *S);
    return 0;
}

static void opts(ss_writer_opts *o, const char *consumer) {
    ss_writer_opts_init(o);
    o->out = out_dir;
    o->data_dir = data_dir;
    o->consumer = consumer;
    o->once = 1;
    o->all = 1;
    o->count = 50; /* several rounds per stream */
    o->retry_base_ms = 1;
    o->retry_max_ms = 4;
    o->claim_idle_ms = 1;
    o->grace_us = 0;
}

/* One writer run in this process; returns ss_writer_run's result, stats in *st. */
static int run_writer(const char *consumer, ss_writer_stats *st) {
    ss_writer_opts o;
    opts(&o, consumer);
    char err[512];
    ss_writer *w = ss_writer_new_with_consumer(&o, fk_new(consumer), err, sizeof err);
    if (!w) fail_msg("ss_writer_new_with_consumer: %s", err);
    volatile sig_atomic_t stop = 0;
    int rc = ss_writer_run(w, &stop);
    if (st) ss_writer_get_stats(w, st);
    ss_writer_free(w);
    return rc;
}

static ss_ledger_totals totals(void) {
    char err[256];
    ss_ledger *l = ss_ledger_open_readonly(S->ledger, err, sizeof err);
    if (!l) fail_msg("ledger: %s", err);
    ss_ledger_totals t;
    assert_int_equal(ss_ledger_totals_get(l, &t), 0);
    ss_ledger_close(l);
    return t;
}

/* Files under the archive: committed .parquet and leftover temporaries. */
static void count_files(const char *path, int *parquet, int *tmp) {
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, ".."))) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        struct stat sb;
        if (stat(p, &sb) != 0) continue;
        size_t l = strlen(de->d_name);
        if (S_ISDIR(sb.st_mode)) count_files(p, parquet, tmp);
        else if (l > 4 && !strcmp(de->d_name + l - 4, ".tmp")) (*tmp)++;
        else if (l > 8 && !strcmp(de->d_name + l - 8, ".parquet")) (*parquet)++;
    }
    closedir(d);
}

static int acked(void) {
    int n = 0;
    for (int k = 0; k < S->n; k++) n += S->e[k].acked;
    return n;
}
static int pending(void) {
    int n = 0;
    for (int k = 0; k < S->n; k++) n += S->e[k].owner[0] != '\0';
    return n;
}

/* The end state of an exactly-once drain of `rows` distinct events in `entries` entries:
 * 4 parts (like and post, two windows), each committed once, every entry acked. */
static void assert_exactly_once(uint64_t rows, uint64_t entries) {
    ss_ledger_totals t = totals();
    assert_int_equal(t.rows, rows);
    assert_int_equal(t.entries, entries);
    assert_int_equal(t.dups, entries - rows);
    int pq = 0, tmp = 0;
    count_files(out_dir, &pq, &tmp);
    assert_int_equal(tmp, 0);
    assert_int_equal((uint64_t)pq, t.files);
    assert_int_equal(acked(), S->n);
    assert_int_equal(pending(), 0);
    assert_int_equal(S->bad_acks, 0);
}

/* Runs writer t1 in a child that kills itself at crash point `at` (SKYSPOOL_CRASH_AT, as
 * kill -9 would) and checks that it did. */
static void crash_writer(const char *at) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("SKYSPOOL_CRASH_AT", at, 1);
        ss_writer_opts o;
        opts(&o, "t1");
        char err[512];
        ss_writer *w = ss_writer_new_with_consumer(&o, fk_new("t1"), err, sizeof err);
        volatile sig_atomic_t stop = 0;
        if (w) ss_writer_run(w, &stop);
        _exit(3); /* not killed: the crash point was not reached */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* (a) 300 events, likes and posts, in two windows: four parts, each committed once. */
static void test_once_two_windows(void **state) {
    (void)state;
    add_events(300);
    ss_writer_stats st;
    assert_int_equal(run_writer("t1", &st), 0);
    ss_ledger_totals t = totals();
    assert_int_equal(t.commits, 4);
    assert_int_equal(t.files, 4);
    assert_int_equal(t.late_rows, 0);
    assert_exactly_once(300, 300);
    assert_int_equal(st.rows, 300);
    assert_int_equal(st.entries, 300);
    assert_int_equal(st.commits, 4);
    assert_int_equal(st.failures, 0);
    for (int k = 0; k < S->n; k++) assert_int_equal(S->e[k].acks, 1); /* acked once each */
    /* a second run finds nothing to do */
    assert_int_equal(run_writer("t1", &st), 0);
    assert_int_equal(totals().commits, 4);
    assert_int_equal(st.entries, 0);
}

/* (b) 200 distinct events plus 30 second copies (same dedup key, other entries): one row
 * per key, both entries of each pair acked. */
static void test_duplicates(void **state) {
    (void)state;
    add_events(200);
    for (int i = 0; i < 30; i++) {
        int src = i * 6; /* a copy of event src, appended later in its stream */
        add_event(src, BASE_US + (src < 100 ? 0 : WIN_US) + (int64_t)src * 1000);
    }
    ss_writer_stats st;
    assert_int_equal(run_writer("t1", &st), 0);
    assert_exactly_once(200, 230);
    assert_int_equal(st.dups, 30);
    assert_int_equal(st.rows, 200);
    /* four files; copies that arrive after their window was committed are committed (as
     * duplicates, no rows) in a late part of their own */
    assert_int_equal(totals().files, 4);
    for (int k = 0; k < S->n; k++) assert_int_equal(S->e[k].acks, 1);
}

/* (c1) A failing Redis step in process: the session ends, nothing is acked that is not
 * committed, and the retry (the recovery path) ends exactly once. */
static void fail_and_retry(const char *op, int nth, int want_recovered) {
    add_events(300);
    snprintf(S->fail_op, sizeof S->fail_op, "%s", op);
    S->fail_nth = nth;
    ss_writer_stats st;
    assert_int_equal(run_writer("t1", &st), 0);
    assert_int_equal(S->fail_count >= nth, 1); /* the failure did happen */
    assert_int_equal(st.failures, 1);
    assert_exactly_once(300, 300);
    ss_ledger_totals t = totals();
    assert_int_equal(t.files, 4); /* no part was committed twice */
    if (want_recovered) assert_true(st.recovered > 0); /* committed, acked only after the retry */
}
static void test_fail_first_ack(void **state) {
    (void)state;
    fail_and_retry("ack", 1, 1);
}
static void test_fail_last_ack(void **state) {
    (void)state;
    fail_and_retry("ack", 4, 1);
}
static void test_fail_read(void **state) {
    (void)state;
    fail_and_retry("read", 3, 0);
}
static void test_fail_heartbeat(void **state) {
    (void)state;
    fail_and_retry("heartbeat", 1, 0);
}

/* The class of a failure decides whether the writer retries it (util/err.h): an io failure is
 * retried (above), a refused password or a refusal by Redis's ACL is not (no retry can fix
 * it), and a fenced writer stops. Returns ss_writer_run's result; the class in *cls. */
static int run_writer_class(const char *consumer, ss_writer_stats *st, ss_err_class *cls) {
    ss_writer_opts o;
    opts(&o, consumer);
    char err[512];
    ss_writer *w = ss_writer_new_with_consumer(&o, fk_new(consumer), err, sizeof err);
    if (!w) fail_msg("ss_writer_new_with_consumer: %s", err);
    volatile sig_atomic_t stop = 0;
    int rc = ss_writer_run(w, &stop);
    ss_writer_get_stats(w, st);
    *cls = rc != 0 ? ss_writer_errclass(w) : SS_ERR_NONE;
    ss_writer_free(w);
    return rc;
}
static void fail_fatal(const char *op, int nth, ss_err_class c) {
    add_events(300);
    snprintf(S->fail_op, sizeof S->fail_op, "%s", op);
    S->fail_nth = nth;
    S->fail_class = (int)c;
    ss_writer_stats st;
    ss_err_class got;
    assert_int_equal(run_writer_class("t1", &st, &got), -1);
    assert_int_equal(got, c);
    assert_int_equal(S->fail_count, nth); /* the failing call was not made again: no retry */
    assert_int_equal(st.failures, 0);
    assert_int_equal(S->bad_acks, 0);
    /* and once the cause is fixed, the next run writes everything exactly once */
    S->fail_op[0] = '\0';
    assert_int_equal(run_writer("t1", &st), 0);
    assert_exactly_once(300, 300);
}
static void test_fail_auth_connect(void **state) {
    (void)state;
    fail_fatal("connect", 1, SS_ERR_AUTH);
}
static void test_fail_permission_read(void **state) {
    (void)state;
    fail_fatal("read", 3, SS_ERR_PERMISSION);
}
static void test_fenced(void **state) {
    (void)state;
    add_events(300);
    S->fence_at_read = 2;
    ss_writer_stats st;
    ss_err_class got;
    assert_int_equal(run_writer_class("t1", &st, &got), -1);
    assert_int_equal(got, SS_ERR_FENCED);
    assert_int_equal(st.commits, 0); /* the fenced commit was refused as a whole */
    assert_int_equal(S->bad_acks, 0);
    /* restarted under its own name, it recovers and writes everything exactly once */
    S->fence_at_read = 0;
    assert_int_equal(run_writer("t1", &st), 0);
    assert_exactly_once(300, 300);
}

/* (d) Redis loses entries a dead writer had claimed (the claim rules of "when Redis loses
 * entries"): the writer is killed after claiming `rounds` rounds, then the fake server keeps
 * only the first `keep` entries of each stream (an AOF cut short: a prefix of its history,
 * with the group's last delivered id rolled back with it) and restarts under a new run id; the
 * ingester re-sends the lost events with new, later ids. A claim may make the writer drop a
 * copy only while its owner is safe, so every event must be written exactly once. */
static void lose_and_resend(const char *at, int keep) {
    add_events(300);
    snprintf(S->run_id, sizeof S->run_id, "run-1");
    crash_writer(at);
    assert_int_equal(totals().commits, 0);
    /* the loss: per stream, the first `keep` entries survive, with their delivery state */
    int per[SS_TYPE__COUNT] = {0}, n = 0, nlost = 0;
    for (int t = 0; t < SS_TYPE__COUNT; t++) S->last[t] = (ss_writer_id){0, 0};
    for (int k = 0; k < S->n; k++) {
        fk_entry *x = &S->e[k];
        if (per[x->type]++ < keep) {
            if (x->delivered && ss_writer_id_cmp(x->id, S->last[x->type]) > 0) S->last[x->type] = x->id;
            S->e[n++] = *x;
        } else {
            nlost++;
        }
    }
    S->n = n;
    snprintf(S->run_id, sizeof S->run_id, "run-2");
    /* the ingester rewinds and sends every event again: the lost ones come back with new ids,
     * the surviving ones once more as duplicates */
    S->id_base = 10000000;
    for (int i = 0; i < 300; i++) add_event(i, BASE_US + (i < 150 ? 0 : WIN_US) + (int64_t)i * 1000);
    ss_writer_stats st;
    assert_int_equal(run_writer("t1", &st), 0);
    ss_ledger_totals t = totals();
    assert_int_equal(t.rows, 300); /* every event once, none dropped as a "duplicate" of a lost entry */
    assert_int_equal(S->bad_acks, 0);
    assert_int_equal(pending(), 0);
    assert_int_equal(acked(), S->n);
    if (nlost > 0) {
        assert_true(st.released > 0);
        assert_int_equal(S->losses > 0, 1);
    }
}
static void test_loss_everything(void **state) {
    (void)state;
    lose_and_resend("after_claim:2", 0); /* a restart on an empty dataset */
}
static void test_loss_tail(void **state) {
    (void)state;
    lose_and_resend("after_claim:3", 30); /* the last deliveries of each stream are gone */
}
static void test_loss_none(void **state) {
    (void)state;
    lose_and_resend("after_claim:1", 1000); /* nothing lost: nothing released, copies are duplicates */
}

/* (c2) A writer killed at each crash point of the commit protocol (SKYSPOOL_CRASH_AT, as
 * `kill -9` would) leaves its state; a second writer -- the same consumer restarted, or
 * another taking the dead one's entries over -- ends exactly once. */
static void crash_then_recover(const char *at, const char *second) {
    add_events(300);
    crash_writer(at);
    int acked_before = acked();
    assert_int_equal(S->bad_acks, 0);
    ss_ledger_totals before = totals();
    if (!strcmp(at, "after_claim")) assert_int_equal(before.commits, 0);
    if (!strcmp(at, "after_ledger")) { /* committed, not acked */
        assert_true(before.commits > 0);
        assert_int_equal(acked_before, 0);
    }
    usleep(20000); /* the dead consumer's entries become idle (claim_idle_ms = 1) */
    ss_writer_stats st;
    assert_int_equal(run_writer(second, &st), 0);
    assert_exactly_once(300, 300);
    assert_int_equal(totals().files, 4);
    if (strcmp(second, "t1") != 0) assert_true(st.reclaimed > 0);
}
static void test_crash_after_claim(void **state) {
    (void)state;
    crash_then_recover("after_claim", "t1");
}
static void test_crash_after_claim_2_takeover(void **state) {
    (void)state;
    crash_then_recover("after_claim:2", "t2");
}
static void test_crash_after_write(void **state) {
    (void)state;
    crash_then_recover("after_write", "t1");
}
static void test_crash_after_write_takeover(void **state) {
    (void)state;
    crash_then_recover("after_write", "t2");
}
static void test_crash_after_rename(void **state) {
    (void)state;
    crash_then_recover("after_rename", "t1");
}
static void test_crash_after_rename_takeover(void **state) {
    (void)state;
    crash_then_recover("after_rename:2", "t2");
}
static void test_crash_after_ledger(void **state) {
    (void)state;
    crash_then_recover("after_ledger", "t1");
}
static void test_crash_after_ledger_takeover(void **state) {
    (void)state;
    crash_then_recover("after_ledger", "t2");
}
static void test_crash_after_ack(void **state) {
    (void)state;
    crash_then_recover("after_ack", "t1");
}
static void test_crash_after_ack_2_takeover(void **state) {
    (void)state;
    crash_then_recover("after_ack:2", "t2");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_once_two_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_first_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_last_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_heartbeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_auth_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_permission_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fenced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_claim_2_takeover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_write_takeover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_rename_takeover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_ledger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_ledger_takeover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_ack_2_takeover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loss_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loss_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loss_none, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
