/* The synthetic firehose generator (see synth.h for the model).
 *
 * Design notes:
 *  - Determinism: each slot seeds its own xoshiro256** stream from ss_splitmix64(seed, slot).
 *    The plan (category, type, operation, bad kind, jitter) is always the first draws of
 *    that stream, and formatting continues the same stream, so ss_synth_plan() and
 *    ss_synth_line() agree and a slot's bytes never depend on the slots before it.
 *  - time_us: base(i) = start + floor(i * 1e6 / rate), plus a natural jitter drawn in
 *    [0, base(i+1) - base(i)), so time_us is non-decreasing and follows the rate exactly.
 *  - JSON is written by hand in Jetstream's layout: the envelope in Go struct order,
 *    records with sorted keys (Jetstream marshals maps), blobs in the order the live
 *    stream shows ($type, ref, mimeType, size), and Go's escaping (<, >, & as \u003c...).
 *  - Dates are formatted with our own civil-calendar arithmetic: no locale, no TZ.
 *  - Post text is built from token pools with known grapheme counts, so length limits
 *    (300 graphemes, 3000 bytes) hold and facet byte ranges index the raw UTF-8 text. */
#include "source/synth/synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/civil.h"
#include "util/str.h"
#include "util/hash.h"

/* ---- PRNG ------------------------------------------------------------------------ */

typedef struct {
    uint64_t s[4];
} rng_t;

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_u64(rng_t *r) {
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

/* Uniform in [0, 1) with 53 bits. */
static inline double rng_unit(rng_t *r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

/* Uniform in [0, n); n > 0. Multiply-shift: bias is negligible for our n. */
static inline uint64_t rng_below(rng_t *r, uint64_t n) {
    return (uint64_t)(((unsigned __int128)rng_u64(r) * n) >> 64);
}

static inline int rng_chance(rng_t *r, double p) { return rng_unit(r) < p; }

static void rng_seed(rng_t *r, uint64_t seed, uint64_t stream, uint64_t slot) {
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    x ^= ss_splitmix64(&x) + slot * 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 4; i++) r->s[i] = ss_splitmix64(&x);
}

/* A stateless 64-bit hash, for identifiers derived from (seed, number). */
static uint64_t hash64(uint64_t a, uint64_t b) {
    uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ULL);
    ss_splitmix64(&x);
    return ss_splitmix64(&x);
}

/* ---- the mix ----------------------------------------------------------------------- */

/* Collections we generate. Several map to SS_TYPE_OTHER. */
typedef enum {
    K_POST = 0, K_LIKE, K_REPOST, K_FOLLOW, K_BLOCK, K_IDENTITY, K_ACCOUNT,
    K_PROFILE, K_LISTITEM, K_THREADGATE, K_LISTBLOCK, K_POSTGATE, K_CHATDECL,
    K__COUNT
} kind_t;

typedef struct {
    const char *nsid;
    ss_type type;
    double weight;   /* percent of all events, Nov 2024 */
    double del_pct;  /* percent of this kind's commits that are deletes */
    double upd_pct;  /* ... and updates */
} kind_info;

static const kind_info g_kinds[K__COUNT] = {
    [K_POST] = {"app.bsky.feed.post", SS_TYPE_POST, 9.4, 4.6, 0.3},
    [K_LIKE] = {"app.bsky.feed.like", SS_TYPE_LIKE, 47.3, 1.3, 0},
    [K_REPOST] = {"app.bsky.feed.repost", SS_TYPE_REPOST, 5.9, 3.2, 0},
    [K_FOLLOW] = {"app.bsky.graph.follow", SS_TYPE_FOLLOW, 33.3, 8.2, 0},
    [K_BLOCK] = {"app.bsky.graph.block", SS_TYPE_BLOCK, 1.6, 2.5, 0},
    [K_IDENTITY] = {NULL, SS_TYPE_IDENTITY, 0.3, 0, 0},
    [K_ACCOUNT] = {NULL, SS_TYPE_ACCOUNT, 0.3, 0, 0},
    /* 1.9 % other collections; profile writes are mostly updates. */
    [K_PROFILE] = {"app.bsky.actor.profile", SS_TYPE_OTHER, 0.8, 0, 75},
    [K_LISTITEM] = {"app.bsky.graph.listitem", SS_TYPE_OTHER, 0.8, 4, 0},
    [K_THREADGATE] = {"app.bsky.feed.threadgate", SS_TYPE_OTHER, 0.1, 2, 0},
    [K_LISTBLOCK] = {"app.bsky.graph.listblock", SS_TYPE_OTHER, 0.08, 2, 0},
    [K_POSTGATE] = {"app.bsky.feed.postgate", SS_TYPE_OTHER, 0.07, 2, 0},
    [K_CHATDECL] = {"chat.bsky.actor.declaration", SS_TYPE_OTHER, 0.05, 0, 0},
};
#define OTHER_PCT 1.9

#define N_ACCOUNTS 4000000ULL
#define SEQ_BASE 13000000000LL
#define TEXT_MAX_BYTES 3000
#define TEXT_MAX_GRAPHEMES 300
#define TRUNC_CAP 64

struct ss_synth {
    ss_synth_params p;
    double cum[K__COUNT]; /* cumulative probabilities over kinds */
    double us_per_slot;
    uint64_t pop_seed;
    /* formatting scratch */
    char text[TEXT_MAX_BYTES + 256];
    ss_buf tmp;
};

void ss_synth_params_init(ss_synth_params *p) {
    memset(p, 0, sizeof *p);
    p->events = -1;
    p->seed = 1;
    p->start_us = SS_SYNTH_DEFAULT_START_US;
    p->rate = SS_SYNTH_DEFAULT_RATE;
    p->jitter_us = 0;
    p->other_frac = SS_SYNTH_DEFAULT_OTHER_FRAC;
}

int ss_synth_params_check(const ss_synth_params *p, char *err, size_t errlen) {
    if (p->events < 0 || p->events > SS_SYNTH_MAX_EVENTS)
        return snprintf(err, errlen, "events must be given, between 0 and %lld", (long long)SS_SYNTH_MAX_EVENTS), -1;
    if (!(p->rate > 0) || p->rate > SS_SYNTH_MAX_RATE)
        return snprintf(err, errlen, "rate must be > 0 and <= %g events per simulated second", SS_SYNTH_MAX_RATE), -1;
    if (p->start_us < 0 || p->start_us > 4102444800000000LL) /* 2100-01-01 */
        return snprintf(err, errlen, "start must be between 1970 and 2100"), -1;
    const double fr[] = {p->jitter_frac, p->dup_frac, p->bad_frac, p->other_frac};
    const char *names[] = {"jitter fraction", "dup fraction", "bad fraction", "other fraction"};
    for (int i = 0; i < 4; i++)
        if (!(fr[i] >= 0 && fr[i] <= 1)) return snprintf(err, errlen, "%s must be between 0 and 1", names[i]), -1;
    if (p->dup_frac + p->bad_frac > 1) return snprintf(err, errlen, "dup fraction + bad fraction must be <= 1"), -1;
    if (p->jitter_us < 0 || p->jitter_us > 86400000000LL)
        return snprintf(err, errlen, "jitter microseconds must be between 0 and 86400000000 (one day)"), -1;
    if (p->jitter_frac > 0 && p->jitter_us == 0)
        return snprintf(err, errlen, "a jitter fraction needs a jitter amount in microseconds (jitter-us > 0)"), -1;
    return 0;
}

/* ---- time ---------------------------------------------------------------------------- */

int ss_synth_parse_time(const char *s, int64_t *us) {
    if (!s || !*s) return -1;
    int all_digits = 1;
    for (const char *c = s; *c; c++)
        if (*c < '0' || *c > '9') all_digits = 0;
    if (all_digits) {
        if (strlen(s) > 17) return -1;
        *us = strtoll(s, NULL, 10);
        return 0;
    }
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19) return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0)
        return -1;
    const char *p = s + n;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 6) frac = frac * 10 + (*p - '0');
        if (digits == 0) return -1;
        for (; digits < 6; digits++) frac *= 10;
    }
    if (strcmp(p, "Z") != 0) return -1;
    int64_t days = ss_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *us = ((days * 86400 + h * 3600 + mi * 60 + sec) * 1000000) + frac;
    return 0;
}

/* ---- output helpers ------------------------------------------------------------------ */

/* All appends go through these; the buffer is reserved generously per line, and an
 * allocation failure is remembered in `oom` rather than checked at every call. */
typedef struct {
    ss_buf *b;
    int oom;
} out_t;

static void put(out_t *o, const char *s, size_t n) {
    if (ss_buf_append(o->b, s, n) < 0) o->oom = 1;
}
#define PUTS(o, lit) put((o), (lit), sizeof(lit) - 1)
static void put_cstr(out_t *o, const char *s) { put(o, s, strlen(s)); }

static void put_i64(out_t *o, int64_t v) {
    char out[24];
    put(o, out, ss_fmt_i64(out, v));
}

/* A JSON string as Go's encoding/json writes it: <, >, & and U+2028/9 as \u escapes. */
static void put_jstr(out_t *o, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    PUTS(o, "\"");
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char ubuf[6];
        size_t skip = 1;
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            ubuf[0] = '\\', ubuf[1] = 'u', ubuf[2] = '0', ubuf[3] = '0', ubuf[4] = hex[c >> 4], ubuf[5] = hex[c & 15];
        } else if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
            memcpy(ubuf, (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
            skip = 3;
        } else
            continue;
        put(o, s + run, i - run);
        if (esc) put_cstr(o, esc);
        else put(o, ubuf, 6);
        i += skip - 1;
        run = i + 1;
    }
    put(o, s + run, n - run);
    PUTS(o, "\"");
}
static void put_jcstr(out_t *o, const char *s) { put_jstr(o, s, strlen(s)); }

static const char B32[] = "abcdefghijklmnopqrstuvwxyz234567";    /* RFC 4648 lower */
static const char B32S[] = "234567abcdefghijklmnopqrstuvwxyz";   /* base32-sortable (TIDs) */

/* did:plc: + 24 chars, from a 120-bit hash of the account number. */
static void did_of(const ss_synth *g, uint64_t acct, char out[33]) {
    memcpy(out, "did:plc:", 8);
    uint64_t a = hash64(g->pop_seed, acct), b = hash64(g->pop_seed ^ 0x5bd1e995u, acct);
    for (int i = 0; i < 12; i++) out[8 + i] = B32[(a >> (5 * i)) & 31];
    for (int i = 0; i < 12; i++) out[20 + i] = B32[(b >> (5 * i)) & 31];
    out[32] = '\0';
}

/* An account from the Zipf-like population: a few accounts are very active. */
static uint64_t pick_account(rng_t *r) {
    double u = rng_unit(r);
    return (uint64_t)((double)N_ACCOUNTS * u * u * u);
}

/* TID: 64 bits = 0 | 53-bit microseconds | 10-bit clock id, as 13 base32-sortable chars. */
static void tid_of(int64_t us, unsigned clock_id, char out[14]) {
    if (us < 0) us = 0;
    uint64_t v = (((uint64_t)us & ((1ULL << 53) - 1)) << 10) | (clock_id & 1023u);
    for (int i = 0; i < 13; i++) out[i] = B32S[(v >> (60 - 5 * i)) & 31];
    out[13] = '\0';
}

/* CIDv1, sha2-256, base32: "bafyrei" (dag-cbor) or "bafkrei" (raw, for blobs), 59 chars. */
static void cid_of(rng_t *r, int raw, char out[60]) {
    unsigned char bytes[36] = {0x01, (unsigned char)(raw ? 0x55 : 0x71), 0x12, 0x20};
    for (int i = 0; i < 4; i++) {
        uint64_t x = rng_u64(r);
        memcpy(bytes + 4 + 8 * i, &x, 8);
    }
    out[0] = 'b';
    int n = 1;
    uint32_t acc = 0;
    int bits = 0;
    for (int i = 0; i < 36; i++) {
        acc = (acc << 8) | bytes[i];
        bits += 8;
        while (bits >= 5) {
            out[n++] = B32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out[n++] = B32[(acc << (5 - bits)) & 31];
    out[n] = '\0';
}

/* ISO-8601 UTC with milliseconds, as clients write createdAt. */
static size_t fmt_iso(int64_t us, int digits, char *out) {
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int y, m, d;
    ss_civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
                     (int)(sod % 60));
    if (digits == 3) n += snprintf(out + n, 40 - (size_t)n, ".%03dZ", (int)(frac / 1000));
    else if (digits == 6) n += snprintf(out + n, 40 - (size_t)n, ".%06dZ", (int)frac);
    else n += snprintf(out + n, 40 - (size_t)n, "Z");
    return (size_t)n;
}

static void put_iso(out_t *o, int64_t us) {
    char t[48];
    size_t n = fmt_iso(us, 3, t);
    PUTS(o, "\"");
    put(o, t, n);
    PUTS(o, "\"");
}

/* createdAt: client clock, shortly before the event reaches Jetstream; a small share is
 * malformed or far off, as in the real network. */
static void put_created_at(out_t *o, rng_t *r, int64_t time_us) {
    int64_t us = time_us - 20000 - (int64_t)rng_below(r, 2500000);
    if (!rng_chance(r, 0.004)) {
        put_iso(o, us);
        return;
    }
    char t[64];
    size_t n;
    switch (rng_below(r, 6)) {
    case 0: n = fmt_iso(us - (int64_t)rng_below(r, 600) * 86400000000LL - 86400000000LL, 3, t); break; /* far past */
    case 1: n = fmt_iso(us + (int64_t)(1 + rng_below(r, 30)) * 86400000000LL, 3, t); break;          /* future */
    case 2: n = fmt_iso(us, 0, t); break;                                                          /* no fraction */
    case 3: n = fmt_iso(us, 6, t); break;                                                          /* microseconds */
    case 4:
        n = fmt_iso(us + 7200000000LL, 3, t);
        memcpy(t + n - 1, "+02:00", 7);
        n += 5;
        break;
    default: n = (size_t)snprintf(t, sizeof t, "0001-01-01T00:00:00.000Z"); break;
    }
    PUTS(o, "\"");
    put(o, t, n);
    PUTS(o, "\"");
}

/* ---- planning -------------------------------------------------------------------------- */

static int64_t base_time(const ss_synth *g, int64_t slot) {
    return g->p.start_us + (int64_t)floor((double)slot * g->us_per_slot);
}

ss_synth *ss_synth_new(const ss_synth_params *p) {
    ss_synth *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->p = *p;
    g->us_per_slot = 1e6 / p->rate;
    uint64_t x = p->seed ^ 0x243f6a8885a308d3ULL;
    g->pop_seed = ss_splitmix64(&x);
    double archived = 0;
    for (int k = 0; k < K__COUNT; k++)
        if (g_kinds[k].type != SS_TYPE_OTHER) archived += g_kinds[k].weight;
    double acc = 0;
    for (int k = 0; k < K__COUNT; k++) {
        double w = g_kinds[k].type == SS_TYPE_OTHER ? g_kinds[k].weight / OTHER_PCT * p->other_frac
                                                      : g_kinds[k].weight / archived * (1 - p->other_frac);
        acc += w;
        g->cum[k] = acc;
    }
    for (int k = 0; k < K__COUNT; k++) g->cum[k] /= acc;
    ss_buf_init(&g->tmp);
    return g;
}

void ss_synth_free(ss_synth *g) {
    if (!g) return;
    ss_buf_free(&g->tmp);
    free(g);
}

/* The raw category and, for dups, how far back to look: the first two draws of a slot. */
static ss_synth_cat raw_cat(const ss_synth *g, rng_t *r, int64_t *back) {
    double u = rng_unit(r);
    uint64_t d = rng_u64(r);
    *back = 1 + (int64_t)(d % SS_SYNTH_DUP_WINDOW);
    if (u < g->p.bad_frac) return SS_SYNTH_BAD;
    if (u < g->p.bad_frac + g->p.dup_frac) return SS_SYNTH_DUP;
    return SS_SYNTH_GOOD;
}

static ss_synth_cat raw_cat_of(const ss_synth *g, int64_t slot, int64_t *back) {
    rng_t r;
    rng_seed(&r, g->p.seed, 1, (uint64_t)slot);
    return raw_cat(g, &r, back);
}

/* A dup repeats the good slot reached by following dup links backwards and stepping
 * over bad slots; if that leaves the window of SS_SYNTH_DUP_WINDOW slots before it, the
 * slot becomes a fresh event instead. */
static int64_t resolve_dup(const ss_synth *g, int64_t slot, int64_t back) {
    int64_t j = slot - back, floor_slot = slot - SS_SYNTH_DUP_WINDOW;
    if (floor_slot < 0) floor_slot = 0;
    for (int steps = 0; steps < 64 && j >= floor_slot; steps++) {
        int64_t b;
        ss_synth_cat c = raw_cat_of(g, j, &b);
        if (c == SS_SYNTH_GOOD) return j;
        j = c == SS_SYNTH_BAD ? j - 1 : j - b;
    }
    return -1;
}

/* Draws kind and op for a fresh event. */
static kind_t draw_kind(const ss_synth *g, rng_t *r) {
    double u = rng_unit(r);
    for (int k = 0; k < K__COUNT - 1; k++)
        if (u < g->cum[k]) return (kind_t)k;
    return (kind_t)(K__COUNT - 1);
}

static ss_op draw_op(rng_t *r, kind_t k) {
    double u = rng_unit(r) * 100;
    if (k == K_IDENTITY || k == K_ACCOUNT) return SS_OP_NONE;
    if (u < g_kinds[k].del_pct) return SS_OP_DELETE;
    if (u < g_kinds[k].del_pct + g_kinds[k].upd_pct) return SS_OP_UPDATE;
    return SS_OP_CREATE;
}

/* The full plan of a slot, leaving r positioned for formatting that slot's own content. */
typedef struct {
    ss_synth_slot pub;
    kind_t kind;
    int64_t jitter;
} plan_t;

static void plan_slot(const ss_synth *g, int64_t slot, rng_t *r, plan_t *pl) {
    memset(pl, 0, sizeof *pl);
    rng_seed(r, g->p.seed, 1, (uint64_t)slot);
    int64_t back;
    ss_synth_cat c = raw_cat(g, r, &back);
    pl->pub.source_slot = slot;
    if (c == SS_SYNTH_DUP) {
        int64_t src = resolve_dup(g, slot, back);
        if (src >= 0) pl->pub.source_slot = src;
        else c = SS_SYNTH_GOOD;
    }
    pl->pub.cat = c;
    /* Always draw the same number of values so the stream position is fixed. */
    kind_t k = draw_kind(g, r);
    ss_op op = draw_op(r, k);
    double uj = rng_unit(r);
    uint64_t jv = rng_u64(r);
    uint64_t bk = rng_u64(r);
    pl->kind = k;
    pl->pub.type = g_kinds[k].type;
    pl->pub.op = op;
    if (c == SS_SYNTH_GOOD && g->p.jitter_frac > 0 && uj < g->p.jitter_frac) {
        pl->pub.jittered = 1;
        pl->jitter = (int64_t)(jv % (uint64_t)(2 * g->p.jitter_us + 1)) - g->p.jitter_us;
        if (pl->jitter == 0) pl->jitter = 1;
    }
    if (c == SS_SYNTH_BAD) {
        int nk = g->p.bad_oversize ? SS_SYNTH_BAD__COUNT : SS_SYNTH_BAD_OVERSIZE;
        pl->pub.bad = (ss_synth_bad_kind)(bk % (uint64_t)nk);
    }
}

void ss_synth_plan(const ss_synth *g, int64_t slot, ss_synth_slot *out) {
    rng_t r;
    plan_t pl;
    plan_slot(g, slot, &r, &pl);
    *out = pl.pub;
    if (out->cat == SS_SYNTH_DUP) {
        plan_t src;
        plan_slot(g, out->source_slot, &r, &src);
        out->type = src.pub.type;
        out->op = src.pub.op;
        out->jittered = src.pub.jittered;
    }
}

/* ---- references to earlier events ----------------------------------------------------
 *
 * Likes, reposts, quotes and replies point at posts that this generator wrote earlier, and
 * deletes remove records it created earlier, without any state: a record's identity (author,
 * rkey, CID) is a pure function of its slot, so "the post of slot j" can be recomputed from
 * j alone by replaying the first draws of j's stream (plan, time, actor, rev, rkey) and its
 * CID side stream. Choices about references are drawn from per-slot side streams too, so a
 * post's reply parent is known without formatting the post, and a slot still never depends
 * on the output of the slots before it (seeking stays O(1), memory stays O(1)).
 *
 * Popularity: a reference draws a rank k from a log-uniform law over REF_RANKS ranks, which
 * is Zipf with exponent 1 (P(k) ~ 1/k). Rank k's post is the last post created at or before
 * the most recent slot congruent to hash(k) modulo REF_PERIOD: it stays the same for
 * REF_PERIOD slots, so low ranks collect many references, and the hot set turns over with
 * time. Walking back from that slot to a post costs ~11 plans at the default mix (bounded
 * by REF_WALK). */
#define REF_RANKS (1u << 20)
#define REF_PERIOD 65536   /* slots a rank keeps its post (33 s at the default rate) */
#define REF_WALK 256       /* slots walked back looking for a post */
#define REF_RANK_TRIES 4   /* ranks drawn before a uniform recent fallback */
#define REPLY_FRAC 0.5     /* posts that are replies */
#define THREAD_MAX_CHAIN 48 /* parent links followed to a root (a longer chain has p ~ 2^-48) */
#define DEL_LAG 1024       /* a delete removes the last create of its kind at least this many slots back */
#define DEL_WALK 4096      /* slots walked back from there */

enum { STREAM_PLAN = 1, STREAM_CID = 3, STREAM_REF = 4, STREAM_QUOTE = 5 };

typedef struct {
    int64_t slot;
    uint64_t actor;
    char rkey[14];
    char cid[60];
} rec_ref;

static int64_t slot_time(const ss_synth *g, int64_t slot, rng_t *r);

/* The record CID of slot's commit, from its own side stream. */
static void slot_cid(const ss_synth *g, int64_t slot, char out[60]) {
    rng_t c;
    rng_seed(&c, g->p.seed, STREAM_CID, (uint64_t)slot);
    cid_of(&c, 0, out);
}

/* The first draws after a commit's plan, shared by formatting and by references so that
 * both see the same event: time, actor, rev and (for creates) the rkey's time. */
typedef struct {
    int64_t time_us;
    uint64_t actor;
} commit_head;

static void draw_head(const ss_synth *g, int64_t slot, rng_t *r, int64_t jitter, commit_head *h) {
    h->time_us = slot_time(g, slot, r) + jitter;
    if (h->time_us < 0) h->time_us = 0;
    h->actor = pick_account(r);
}

/* If slot j is a fresh create of kind k, fills ref with its author, rkey and CID. */
static int create_at(const ss_synth *g, int64_t j, kind_t k, rec_ref *ref) {
    rng_t r;
    plan_t pl;
    int64_t back;
    /* Most slots are rejected by their first three draws (category and kind, as plan_slot
     * draws them); only candidates pay for the full plan. */
    rng_seed(&r, g->p.seed, STREAM_PLAN, (uint64_t)j);
    if (raw_cat(g, &r, &back) == SS_SYNTH_BAD || draw_kind(g, &r) != k) return 0;
    plan_slot(g, j, &r, &pl);
    if (pl.pub.cat != SS_SYNTH_GOOD || pl.kind != k || pl.pub.op != SS_OP_CREATE) return 0;
    commit_head h;
    draw_head(g, j, &r, pl.jitter, &h);
    (void)rng_below(&r, 300000); /* rev */
    int64_t at = h.time_us - 20000 - (int64_t)rng_below(&r, 2000000);
    tid_of(at, (unsigned)((h.actor & 1023) + 1) & 1023, ref->rkey);
    ref->slot = j;
    ref->actor = h.actor;
    slot_cid(g, j, ref->cid);
    return 1;
}

/* The last create of kind k at or before slot `from`, at most `walk` slots back. */
static int last_create(const ss_synth *g, int64_t from, kind_t k, int walk, rec_ref *ref) {
    for (int64_t j = from; j >= 0 && j > from - walk; j--)
        if (create_at(g, j, k, ref)) return 1;
    return 0;
}

/* An earlier post for a reference made at slot i, with Zipf-like popularity. */
static int pick_post(const ss_synth *g, rng_t *r, int64_t i, rec_ref *ref) {
    if (i <= 0) return 0;
    int64_t anchor = -1;
    for (int t = 0; t < REF_RANK_TRIES && anchor < 0; t++) {
        uint64_t k = (uint64_t)exp(rng_unit(r) * log((double)REF_RANKS + 1)) - 1;
        int64_t off = (int64_t)(hash64(g->pop_seed ^ 0x72616e6bULL, k) % REF_PERIOD);
        if (i - 1 >= off) anchor = off + (i - 1 - off) / REF_PERIOD * REF_PERIOD;
    }
    if (anchor < 0) anchor = i - 1 - (int64_t)rng_below(r, (uint64_t)(i < REF_PERIOD ? i : REF_PERIOD));
    return last_create(g, anchor, K_POST, REF_WALK, ref);
}

/* Whether the post of slot j is a reply, and if so its parent and thread root. */
static int post_thread(const ss_synth *g, int64_t j, rec_ref *parent, rec_ref *root) {
    rng_t r;
    rng_seed(&r, g->p.seed, STREAM_REF, (uint64_t)j);
    if (!rng_chance(&r, REPLY_FRAC) || !pick_post(g, &r, j, parent)) return 0;
    *root = *parent;
    for (int d = 0; d < THREAD_MAX_CHAIN; d++) {
        rec_ref up;
        rng_seed(&r, g->p.seed, STREAM_REF, (uint64_t)root->slot);
        if (!rng_chance(&r, REPLY_FRAC) || !pick_post(g, &r, root->slot, &up)) break;
        *root = up;
    }
    return 1;
}

/* A follow's or block's subject: Zipf over accounts (exponent 1), so in-degrees are
 * heavy-tailed; out-degrees follow the actors' N*u^3 law. Never the actor itself. */
static uint64_t pick_subject(rng_t *r, uint64_t actor) {
    uint64_t a = (uint64_t)exp(rng_unit(r) * log((double)N_ACCOUNTS + 1)) - 1;
    if (a >= N_ACCOUNTS) a = N_ACCOUNTS - 1;
    return a == actor ? (a + 1) % N_ACCOUNTS : a;
}

/* ---- text ---------------------------------------------------------------------------- */

typedef struct {
    const char *s;
    unsigned char g; /* graphemes; 0 = count code points */
} tok_t;

static const tok_t T_EN[] = {
    {"the", 0}, {"a", 0}, {"to", 0}, {"and", 0}, {"of", 0}, {"I", 0}, {"is", 0}, {"this", 0}, {"that", 0},
    {"you", 0}, {"it", 0}, {"in", 0}, {"for", 0}, {"on", 0}, {"my", 0}, {"just", 0}, {"so", 0}, {"be", 0},
    {"have", 0}, {"not", 0}, {"but", 0}, {"what", 0}, {"with", 0}, {"are", 0}, {"all", 0}, {"like", 0},
    {"me", 0}, {"was", 0}, {"at", 0}, {"do", 0}, {"your", 0}, {"we", 0}, {"can", 0}, {"they", 0},
    {"about", 0}, {"one", 0}, {"out", 0}, {"people", 0}, {"if", 0}, {"get", 0}, {"how", 0}, {"no", 0},
    {"good", 0}, {"think", 0}, {"more", 0}, {"time", 0}, {"love", 0}, {"really", 0}, {"know", 0},
    {"day", 0}, {"new", 0}, {"today", 0}, {"going", 0}, {"now", 0}, {"still", 0}, {"lol", 0},
    {"gonna", 0}, {"actually", 0}, {"thread", 0}, {"art", 0}, {"book", 0}, {"music", 0}, {"news", 0},
    {"world", 0}, {"post", 0}, {"Bluesky", 0}, {"here", 0}, {"great", 0}, {"thanks", 0}, {"every", 0},
    {"never", 0}, {"always", 0}, {"maybe", 0}, {"why", 0}, {"because", 0}, {"morning", 0}, {"night", 0},
    {"week", 0}, {"year", 0}, {"coffee", 0}, {"cat", 0}, {"dog", 0}, {"game", 0}, {"vote", 0},
    {"read", 0}, {"write", 0}, {"code", 0}, {"work", 0}, {"home", 0}, {"friends", 0}, {"finally", 0},
    {"pretty", 0}, {"weird", 0}, {"okay", 0}, {"yes", 0}, {"wow", 0}, {"it's", 0}, {"don't", 0},
    {"I'm", 0}, {"can't", 0}, {"everyone", 0}, {"tonight", 0}, {"weekend", 0}, {"photo", 0},
};
static const tok_t T_PT[] = {
    {"não", 0}, {"você", 0}, {"está", 0}, {"também", 0}, {"então", 0}, {"coração", 0}, {"obrigado", 0},
    {"hoje", 0}, {"amanhã", 0}, {"saudade", 0}, {"muito", 0}, {"bom", 0}, {"dia", 0}, {"gente", 0},
    {"é", 0}, {"só", 0}, {"ação", 0}, {"ninguém", 0}, {"que", 0}, {"de", 0}, {"eu", 0}, {"mais", 0},
};
static const tok_t T_DE[] = {
    {"über", 0}, {"schön", 0}, {"Grüße", 0}, {"Straße", 0}, {"müde", 0}, {"heute", 0}, {"nicht", 0},
    {"und", 0}, {"ich", 0}, {"Mädchen", 0}, {"danke", 0}, {"für", 0}, {"wirklich", 0}, {"das", 0},
};
static const tok_t T_ES[] = {
    {"niño", 0}, {"mañana", 0}, {"qué", 0}, {"sí", 0}, {"también", 0}, {"café", 0}, {"déjà", 0},
    {"être", 0}, {"où", 0}, {"très", 0}, {"garçon", 0}, {"naïve", 0}, {"français", 0}, {"España", 0},
    {"el", 0}, {"la", 0}, {"y", 0}, {"por", 0}, {"eléctrico", 0},
};
static const tok_t T_JA[] = {
    {"今日", 0}, {"は", 0}, {"いい", 0}, {"天気", 0}, {"です", 0}, {"ね", 0}, {"ありがとう", 0},
    {"東京", 0}, {"本", 0}, {"を", 0}, {"読んだ", 0}, {"猫", 0}, {"かわいい", 0}, {"。", 0}, {"、", 0},
    {"こんにちは", 0}, {"草", 0}, {"ｗ", 0}, {"你好", 0}, {"世界", 0}, {"谢谢", 0}, {"한국어", 0},
    {"안녕하세요", 0},
};
/* Emoji, including modifiers, variation selectors and ZWJ sequences: each is one grapheme. */
static const tok_t T_EMOJI[] = {
    {"😀", 1}, {"😂", 1}, {"❤️", 1}, {"🔥", 1}, {"✨", 1}, {"🦋", 1}, {"👍🏽", 1}, {"👨‍👩‍👧‍👦", 1},
    {"🏳️‍🌈", 1}, {"🧑‍💻", 1}, {"🙏", 1}, {"💀", 1}, {"🥲", 1}, {"😭", 1}, {"🇧🇷", 1}, {"❤️‍🔥", 1},
};
/* Things that need JSON escapes or odd code points. */
static const tok_t T_SPECIAL[] = {
    {"\"quoted\"", 0}, {"\n", 0}, {"\n\n", 0}, {"C:\\Users\\me", 0}, {"<3", 0}, {"&", 0}, {"—", 0},
    {"…", 0}, {"\t", 0}, {"50%", 0}, {"e\xcc\x81", 1}, {"'single'", 0}, {"a/b", 0}, {"\xe2\x80\xa8", 0},
    {"→", 0}, {"½", 0}, {"#1", 0}, {"Ω", 0},
};

static const char *const TAGS[] = {"art", "photography", "books", "science", "news", "caturday", "music",
                                   "gamedev", "writing", "politics", "nature", "bluesky", "japan", "café"};
static const char *const SITES[] = {"https://www.nytimes.com/2025/08/06/world/story.html",
                                    "https://github.com/bluesky-social/atproto/pull/3512",
                                    "https://youtu.be/dQw4w9WgXcQ?si=abc123",
                                    "https://en.wikipedia.org/wiki/Caf%C3%A9",
                                    "https://www.theguardian.com/science/2025/aug/06/article",
                                    "https://example.org/blog/post?id=42&ref=bsky",
                                    "https://substack.com/@writer/p/a-long-essay-title"};
static const char *const HANDLE_WORDS[] = {"alice", "bob", "carol", "dan", "eve", "frank", "grace", "heidi",
                                           "ivan", "judy", "mallory", "olivia", "peggy", "sybil", "trent",
                                           "victor", "walter", "news", "art", "cats", "dev", "music"};
static const char *const LANGS[] = {"en", "ja", "pt", "de", "es", "fr", "ko", "zh"};

static unsigned tok_graphemes(const tok_t *t) {
    if (t->g) return t->g;
    unsigned n = 0;
    for (const unsigned char *p = (const unsigned char *)t->s; *p; p++)
        if ((*p & 0xc0) != 0x80) n++;
    return n;
}

typedef enum { F_MENTION, F_LINK, F_TAG } facet_kind;
typedef struct {
    facet_kind kind;
    size_t start, end;
    char val[96];
} facet_t;

typedef struct {
    char *text; /* g->text */
    size_t len;
    unsigned graphemes, gmax;
    facet_t f[8];
    int nf;
} textb_t;

static int tb_fits(const textb_t *tb, size_t bytes, unsigned graphemes) {
    return tb->len + bytes <= TEXT_MAX_BYTES && tb->graphemes + graphemes <= tb->gmax;
}

static void tb_add(textb_t *tb, const char *s, size_t n, unsigned graphemes) {
    memcpy(tb->text + tb->len, s, n);
    tb->len += n;
    tb->graphemes += graphemes;
}

/* Appends a token with a leading space when needed; returns 0 when the text is full. */
static int tb_token(textb_t *tb, const char *s, unsigned graphemes, int spaced) {
    size_t n = strlen(s);
    int sp = spaced && tb->len > 0 && tb->text[tb->len - 1] != '\n';
    if (!tb_fits(tb, n + (size_t)sp, graphemes + (unsigned)sp)) return 0;
    if (sp) tb_add(tb, " ", 1, 1);
    tb_add(tb, s, n, graphemes);
    return 1;
}

static void tb_facet(textb_t *tb, facet_kind kind, const char *shown, const char *val) {
    if (tb->nf >= 8) return;
    size_t n = strlen(shown);
    int sp = tb->len > 0 && tb->text[tb->len - 1] != '\n';
    if (!tb_fits(tb, n + (size_t)sp, (unsigned)(n + (size_t)sp))) return;
    if (sp) tb_add(tb, " ", 1, 1);
    facet_t *f = &tb->f[tb->nf++];
    f->kind = kind;
    f->start = tb->len;
    tb_add(tb, shown, n, tok_graphemes(&(tok_t){shown, 0}));
    f->end = tb->len;
    snprintf(f->val, sizeof f->val, "%s", val);
}

static void handle_of(const ss_synth *g, uint64_t acct, char *out, size_t outlen) {
    uint64_t h = hash64(g->pop_seed ^ 0x68616e646c65ULL, acct);
    const char *w = HANDLE_WORDS[h % (sizeof HANDLE_WORDS / sizeof HANDLE_WORDS[0])];
    if ((h >> 20) % 10 == 0) snprintf(out, outlen, "%s.example.com", w);
    else snprintf(out, outlen, "%s%u.bsky.social", w, (unsigned)((h >> 8) % 10000));
}

/* Builds a post's text into g->text; returns the language index (-1 = none). */
static int build_text(ss_synth *g, rng_t *r, textb_t *tb) {
    memset(tb, 0, sizeof *tb);
    tb->text = g->text;
    double u = rng_unit(r);
    tb->gmax = u < 0.05 ? 0 : (unsigned)(1 + floor(299.0 * pow(rng_unit(r), 1.1)));
    double lu = rng_unit(r);
    int lang = lu < 0.70 ? 0 : lu < 0.80 ? 1 : lu < 0.88 ? 2 : lu < 0.92 ? 3 : lu < 0.96 ? 4 : 5;
    const tok_t *pool;
    size_t npool;
    int spaced = 1;
    switch (lang) {
    case 1: pool = T_JA, npool = sizeof T_JA / sizeof T_JA[0], spaced = 0; break;
    case 2: pool = T_PT, npool = sizeof T_PT / sizeof T_PT[0]; break;
    case 3: pool = T_DE, npool = sizeof T_DE / sizeof T_DE[0]; break;
    case 4: case 5: pool = T_ES, npool = sizeof T_ES / sizeof T_ES[0]; break;
    default: pool = T_EN, npool = sizeof T_EN / sizeof T_EN[0]; break;
    }
    char shown[128], val[96];
    /* Replies often start with mentions. */
    int nm = rng_chance(r, 0.25) ? 1 + (int)rng_below(r, 2) : 0;
    for (int i = 0; i < nm; i++) {
        uint64_t acct = pick_account(r);
        char h[64];
        handle_of(g, acct, h, sizeof h);
        snprintf(shown, sizeof shown, "@%s", h);
        did_of(g, acct, val);
        tb_facet(tb, F_MENTION, shown, val);
    }
    while (tb->graphemes < tb->gmax) {
        double t = rng_unit(r);
        const tok_t *tok;
        if (t < 0.86) tok = &pool[rng_below(r, npool)];
        else if (t < 0.90) tok = &T_EN[rng_below(r, sizeof T_EN / sizeof T_EN[0])];
        else if (t < 0.96) tok = &T_EMOJI[rng_below(r, sizeof T_EMOJI / sizeof T_EMOJI[0])];
        else tok = &T_SPECIAL[rng_below(r, sizeof T_SPECIAL / sizeof T_SPECIAL[0])];
        if (!tb_token(tb, tok->s, tok_graphemes(tok), spaced)) break;
    }
    if (tb->gmax > 0 && rng_chance(r, 0.2)) {
        const char *site = SITES[rng_below(r, sizeof SITES / sizeof SITES[0])];
        /* The app shows links shortened: host and path start, then "...". */
        const char *host = strstr(site, "//") + 2;
        size_t hn = strlen(host);
        if (hn > 26) snprintf(shown, sizeof shown, "%.23s...", host);
        else snprintf(shown, sizeof shown, "%s", host);
        tb_facet(tb, F_LINK, shown, site);
    }
    int nt = rng_chance(r, 0.12) ? 1 + (int)rng_below(r, 3) : 0;
    for (int i = 0; i < nt; i++) {
        const char *tag = TAGS[rng_below(r, sizeof TAGS / sizeof TAGS[0])];
        snprintf(shown, sizeof shown, "#%s", tag);
        tb_facet(tb, F_TAG, shown, tag);
    }
    return lang;
}

/* ---- records ------------------------------------------------------------------------- */

/* Formatting context for one event. */
typedef enum { INJ_NONE = 0, INJ_BAD_UTF8, INJ_SURROGATE, INJ_OVERSIZE } inject_t;

typedef struct {
    ss_synth *g;
    rng_t *r;
    out_t *o;
    int64_t slot; /* the slot whose event this is (side streams and references key on it) */
    int64_t time_us;
    uint64_t actor;
    char did[33];
    inject_t inject;
    const char *del_rkey; /* a delete of an earlier create: that create's rkey */
} ev_t;

static void put_strong_ref(ev_t *e, uint64_t acct, const char *coll, int64_t age_us) {
    char did[33], tid[14], cid[60];
    did_of(e->g, acct, did);
    tid_of(e->time_us - age_us, (unsigned)(acct & 1023), tid);
    cid_of(e->r, 0, cid);
    PUTS(e->o, "{\"cid\":\"");
    put_cstr(e->o, cid);
    PUTS(e->o, "\",\"uri\":\"at://");
    put_cstr(e->o, did);
    PUTS(e->o, "/");
    put_cstr(e->o, coll);
    PUTS(e->o, "/");
    put_cstr(e->o, tid);
    PUTS(e->o, "\"}");
}

/* A strong ref {cid, uri} to a post this generator created (see "references"). */
static void put_post_ref(ev_t *e, const rec_ref *p) {
    char did[33];
    did_of(e->g, p->actor, did);
    PUTS(e->o, "{\"cid\":\"");
    put_cstr(e->o, p->cid);
    PUTS(e->o, "\",\"uri\":\"at://");
    put_cstr(e->o, did);
    PUTS(e->o, "/app.bsky.feed.post/");
    put_cstr(e->o, p->rkey);
    PUTS(e->o, "\"}");
}

static int64_t draw_age(rng_t *r) {
    /* Log-uniform between 1 s and ~1 year. */
    return (int64_t)(1e6 * exp(rng_unit(r) * 17.3));
}

static void put_blob(ev_t *e, const char *mime, int64_t size) {
    char cid[60];
    cid_of(e->r, 1, cid);
    PUTS(e->o, "{\"$type\":\"blob\",\"ref\":{\"$link\":\"");
    put_cstr(e->o, cid);
    PUTS(e->o, "\"},\"mimeType\":\"");
    put_cstr(e->o, mime);
    PUTS(e->o, "\",\"size\":");
    put_i64(e->o, size);
    PUTS(e->o, "}");
}

static const char *const ALTS[] = {"", "", "A cat sleeping on a keyboard", "Screenshot of a chart showing \"growth\" over time",
                                   "夕焼けの写真", "Foto da praia ao pôr do sol 🌅", "Line 1\nLine 2",
                                   "A hand-drawn sketch of a bird & a tree"};

static void put_images(ev_t *e) {
    int n = 1 + (rng_chance(e->r, 0.3) ? (int)rng_below(e->r, 4) : 0);
    PUTS(e->o, "{\"$type\":\"app.bsky.embed.images\",\"images\":[");
    for (int i = 0; i < n; i++) {
        if (i) PUTS(e->o, ",");
        PUTS(e->o, "{\"alt\":");
        put_jcstr(e->o, ALTS[rng_below(e->r, sizeof ALTS / sizeof ALTS[0])]);
        if (rng_chance(e->r, 0.8)) {
            PUTS(e->o, ",\"aspectRatio\":{\"height\":");
            put_i64(e->o, 300 + (int64_t)rng_below(e->r, 1700));
            PUTS(e->o, ",\"width\":");
            put_i64(e->o, 300 + (int64_t)rng_below(e->r, 1700));
            PUTS(e->o, "}");
        }
        PUTS(e->o, ",\"image\":");
        put_blob(e, rng_chance(e->r, 0.85) ? "image/jpeg" : "image/png", 20000 + (int64_t)rng_below(e->r, 980000));
        PUTS(e->o, "}");
    }
    PUTS(e->o, "]}");
}

static void put_external(ev_t *e) {
    const char *site = SITES[rng_below(e->r, sizeof SITES / sizeof SITES[0])];
    PUTS(e->o, "{\"$type\":\"app.bsky.embed.external\",\"external\":{\"description\":");
    put_jcstr(e->o, rng_chance(e->r, 0.3) ? "" : "A longer description of the linked page, with \"quotes\" & details…");
    if (rng_chance(e->r, 0.6)) {
        PUTS(e->o, ",\"thumb\":");
        put_blob(e, "image/jpeg", 5000 + (int64_t)rng_below(e->r, 900000));
    }
    PUTS(e->o, ",\"title\":");
    put_jcstr(e->o, rng_chance(e->r, 0.5) ? "Breaking: something happened" : "Título da matéria – Notícias");
    PUTS(e->o, ",\"uri\":");
    put_jcstr(e->o, site);
    PUTS(e->o, "}}");
}

/* A quote: an earlier post of this stream, drawn from the slot's quote side stream. */
static void put_embed_record(ev_t *e) {
    PUTS(e->o, "{\"$type\":\"app.bsky.embed.record\",\"record\":");
    rng_t q;
    rec_ref p;
    rng_seed(&q, e->g->p.seed, STREAM_QUOTE, (uint64_t)e->slot);
    if (pick_post(e->g, &q, e->slot, &p)) put_post_ref(e, &p);
    else put_strong_ref(e, pick_account(e->r), "app.bsky.feed.post", draw_age(e->r)); /* nothing earlier */
    PUTS(e->o, "}");
}

static void put_text(ev_t *e, const textb_t *tb) {
    if (e->inject == INJ_OVERSIZE) {
        /* One huge (but well-formed) text: the line exceeds the 2 MiB limit. */
        PUTS(e->o, "\"");
        static const char chunk[] = "this line is far too long for the firehose ";
        size_t total = 0;
        while (total < SS_SYNTH_OVERSIZE_BYTES) {
            put(e->o, chunk, sizeof chunk - 1);
            total += sizeof chunk - 1;
        }
        PUTS(e->o, "\"");
        return;
    }
    put_jstr(e->o, tb->text, tb->len);
    if (e->inject == INJ_BAD_UTF8 || e->inject == INJ_SURROGATE) {
        /* Remove the closing quote and append the broken tail. */
        e->o->b->len--;
        if (e->inject == INJ_BAD_UTF8) PUTS(e->o, " caf\xc3\x28 \xff\xfe");
        else PUTS(e->o, " \\ud83e");
        PUTS(e->o, "\"");
    }
}

static void put_post(ev_t *e) {
    ss_synth *g = e->g;
    rng_t *r = e->r;
    out_t *o = e->o;
    textb_t tb;
    int lang = build_text(g, r, &tb);
    PUTS(o, "{\"$type\":\"app.bsky.feed.post\",\"createdAt\":");
    put_created_at(o, r, e->time_us);
    double eu = rng_unit(r);
    int want_embed = eu < 0.50 || tb.len == 0;
    if (want_embed) {
        PUTS(o, ",\"embed\":");
        double k = eu < 0.50 ? eu / 0.50 : 0;
        if (k < 0.50) put_images(e);
        else if (k < 0.75) put_external(e);
        else if (k < 0.92) put_embed_record(e);
        else {
            PUTS(o, "{\"$type\":\"app.bsky.embed.recordWithMedia\",\"media\":");
            put_images(e);
            PUTS(o, ",\"record\":");
            put_embed_record(e);
            PUTS(o, "}");
        }
    }
    if (tb.nf > 0) {
        PUTS(o, ",\"facets\":[");
        for (int i = 0; i < tb.nf; i++) {
            const facet_t *f = &tb.f[i];
            if (i) PUTS(o, ",");
            PUTS(o, "{");
            if (rng_chance(r, 0.3)) PUTS(o, "\"$type\":\"app.bsky.richtext.facet\",");
            PUTS(o, "\"features\":[{\"$type\":\"app.bsky.richtext.facet#");
            switch (f->kind) {
            case F_MENTION: PUTS(o, "mention\",\"did\":"); break;
            case F_LINK: PUTS(o, "link\",\"uri\":"); break;
            case F_TAG: PUTS(o, "tag\",\"tag\":"); break;
            }
            put_jcstr(o, f->val);
            PUTS(o, "}],\"index\":{\"byteEnd\":");
            put_i64(o, (int64_t)f->end);
            PUTS(o, ",\"byteStart\":");
            put_i64(o, (int64_t)f->start);
            PUTS(o, "}}");
        }
        PUTS(o, "]");
    }
    if (rng_chance(r, 0.01)) {
        static const char *const vals[] = {"porn", "sexual", "nudity", "graphic-media"};
        PUTS(o, ",\"labels\":{\"$type\":\"com.atproto.label.defs#selfLabels\",\"values\":[{\"val\":\"");
        put_cstr(o, vals[rng_below(r, 4)]);
        PUTS(o, "\"}]}");
    }
    double lu = rng_unit(r);
    if (lu >= 0.08) {
        PUTS(o, ",\"langs\":[\"");
        put_cstr(o, LANGS[lang]);
        PUTS(o, "\"");
        if (lu < 0.11) {
            PUTS(o, ",\"");
            put_cstr(o, LANGS[lang == 0 ? 1 + rng_below(r, 7) : 0]);
            PUTS(o, "\"");
        }
        PUTS(o, "]");
    }
    rec_ref parent, root;
    if (post_thread(g, e->slot, &parent, &root)) {
        PUTS(o, ",\"reply\":{\"parent\":");
        put_post_ref(e, &parent);
        PUTS(o, ",\"root\":");
        put_post_ref(e, &root);
        PUTS(o, "}");
    }
    PUTS(o, ",\"text\":");
    put_text(e, &tb);
    PUTS(o, "}");
}

static void put_subject_ref_record(ev_t *e, const char *nsid) {
    PUTS(e->o, "{\"$type\":\"");
    put_cstr(e->o, nsid);
    PUTS(e->o, "\",\"createdAt\":");
    put_created_at(e->o, e->r, e->time_us);
    PUTS(e->o, ",\"subject\":");
    rng_t s;
    rec_ref p;
    rng_seed(&s, e->g->p.seed, STREAM_REF, (uint64_t)e->slot);
    if (pick_post(e->g, &s, e->slot, &p)) put_post_ref(e, &p);
    else put_strong_ref(e, pick_account(e->r), "app.bsky.feed.post", 2000000 + draw_age(e->r) / 100);
    if (rng_chance(e->r, 0.4)) {
        PUTS(e->o, ",\"via\":");
        put_strong_ref(e, pick_account(e->r), "app.bsky.feed.repost", 1000000 + draw_age(e->r) / 1000);
    }
    PUTS(e->o, "}");
}

static void put_subject_did_record(ev_t *e, const char *nsid) {
    char did[33];
    PUTS(e->o, "{\"$type\":\"");
    put_cstr(e->o, nsid);
    PUTS(e->o, "\",\"createdAt\":");
    put_created_at(e->o, e->r, e->time_us);
    PUTS(e->o, ",\"subject\":\"");
    did_of(e->g, pick_subject(e->r, e->actor), did);
    put_cstr(e->o, did);
    PUTS(e->o, "\"}");
}

static void put_at_uri(ev_t *e, uint64_t acct, const char *coll, int64_t age) {
    char did[33], tid[14];
    did_of(e->g, acct, did);
    tid_of(e->time_us - age, (unsigned)(acct & 1023), tid);
    PUTS(e->o, "\"at://");
    put_cstr(e->o, did);
    PUTS(e->o, "/");
    put_cstr(e->o, coll);
    PUTS(e->o, "/");
    put_cstr(e->o, tid);
    PUTS(e->o, "\"");
}

static void put_profile(ev_t *e) {
    static const char *const names[] = {"Alice 🦋", "Bob", "Café Society", "山田太郎", "la mucura mística",
                                        "News \"Daily\"", "Dev & Ops"};
    static const char *const descs[] = {
        "", "Writer. Reader. Coffee drinker ☕", "Professor, views my own \\n\\nlinks below",
        "ela/dela | parte da fauna fantástica do céu azul", "日本語で呟きます。よろしくお願いします！",
        "Line one\nLine two\n\nhttps://example.com", "Artist 🎨 commissions open <3"};
    PUTS(e->o, "{\"$type\":\"app.bsky.actor.profile\"");
    if (rng_chance(e->r, 0.8)) {
        PUTS(e->o, ",\"avatar\":");
        put_blob(e, "image/jpeg", 10000 + (int64_t)rng_below(e->r, 990000));
    }
    if (rng_chance(e->r, 0.5)) {
        PUTS(e->o, ",\"banner\":");
        put_blob(e, "image/jpeg", 10000 + (int64_t)rng_below(e->r, 990000));
    }
    if (rng_chance(e->r, 0.7)) {
        PUTS(e->o, ",\"createdAt\":");
        put_iso(e->o, e->time_us - draw_age(e->r));
    }
    PUTS(e->o, ",\"description\":");
    put_jcstr(e->o, descs[rng_below(e->r, sizeof descs / sizeof descs[0])]);
    PUTS(e->o, ",\"displayName\":");
    put_jcstr(e->o, names[rng_below(e->r, sizeof names / sizeof names[0])]);
    if (rng_chance(e->r, 0.4)) {
        PUTS(e->o, ",\"pinnedPost\":");
        put_strong_ref(e, e->actor, "app.bsky.feed.post", draw_age(e->r));
    }
    PUTS(e->o, "}");
}

static void put_other_record(ev_t *e, kind_t k) {
    out_t *o = e->o;
    char did[33];
    switch (k) {
    case K_PROFILE: put_profile(e); return;
    case K_LISTITEM:
        PUTS(o, "{\"$type\":\"app.bsky.graph.listitem\",\"createdAt\":");
        put_created_at(o, e->r, e->time_us);
        PUTS(o, ",\"list\":");
        put_at_uri(e, e->actor, "app.bsky.graph.list", draw_age(e->r));
        PUTS(o, ",\"subject\":\"");
        did_of(e->g, pick_account(e->r), did);
        put_cstr(o, did);
        PUTS(o, "\"}");
        return;
    case K_THREADGATE:
        PUTS(o, "{\"$type\":\"app.bsky.feed.threadgate\",\"allow\":[{\"$type\":\"app.bsky.feed.threadgate#mentionRule\"}],"
                "\"createdAt\":");
        put_created_at(o, e->r, e->time_us);
        PUTS(o, ",\"hiddenReplies\":[],\"post\":");
        put_at_uri(e, e->actor, "app.bsky.feed.post", 1000);
        PUTS(o, "}");
        return;
    case K_LISTBLOCK:
        PUTS(o, "{\"$type\":\"app.bsky.graph.listblock\",\"createdAt\":");
        put_created_at(o, e->r, e->time_us);
        PUTS(o, ",\"subject\":");
        put_at_uri(e, pick_account(e->r), "app.bsky.graph.list", draw_age(e->r));
        PUTS(o, "}");
        return;
    case K_POSTGATE:
        PUTS(o, "{\"$type\":\"app.bsky.feed.postgate\",\"createdAt\":");
        put_created_at(o, e->r, e->time_us);
        PUTS(o, ",\"detachedEmbeddingUris\":[],\"embeddingRules\":[{\"$type\":\"app.bsky.feed.postgate#disableRule\"}],"
                "\"post\":");
        put_at_uri(e, e->actor, "app.bsky.feed.post", 1000);
        PUTS(o, "}");
        return;
    default:
        PUTS(o, "{\"$type\":\"chat.bsky.actor.declaration\",\"allowIncoming\":\"");
        put_cstr(o, rng_chance(e->r, 0.5) ? "following" : "all");
        PUTS(o, "\"}");
        return;
    }
}

/* Variants for planted missing-field / wrong-type lines. */
typedef enum { MAL_NONE = 0, MAL_NO_TIME_US, MAL_NO_COLLECTION, MAL_TIME_US_STRING, MAL_REV_NUMBER } malform_t;

static void put_commit_event(ev_t *e, kind_t k, ss_op op, malform_t mal) {
    out_t *o = e->o;
    rng_t *r = e->r;
    char tid[14], cid[60];
    unsigned clk = (unsigned)(e->actor & 1023);
    PUTS(o, "{\"did\":\"");
    put_cstr(o, e->did);
    PUTS(o, "\"");
    if (mal == MAL_TIME_US_STRING) {
        PUTS(o, ",\"time_us\":\"");
        put_i64(o, e->time_us);
        PUTS(o, "\"");
    } else if (mal != MAL_NO_TIME_US) {
        PUTS(o, ",\"time_us\":");
        put_i64(o, e->time_us);
    }
    PUTS(o, ",\"kind\":\"commit\",\"commit\":{\"rev\":");
    tid_of(e->time_us - 1000 - (int64_t)rng_below(r, 300000), clk, tid);
    if (mal == MAL_REV_NUMBER) put_i64(o, (int64_t)rng_below(r, 1000000000));
    else {
        PUTS(o, "\"");
        put_cstr(o, tid);
        PUTS(o, "\"");
    }
    PUTS(o, ",\"operation\":\"");
    put_cstr(o, op == SS_OP_DELETE ? "delete" : op == SS_OP_UPDATE ? "update" : "create");
    PUTS(o, "\"");
    if (mal != MAL_NO_COLLECTION) {
        PUTS(o, ",\"collection\":\"");
        put_cstr(o, g_kinds[k].nsid);
        PUTS(o, "\"");
    }
    PUTS(o, ",\"rkey\":\"");
    if (k == K_PROFILE || k == K_CHATDECL) PUTS(o, "self");
    else {
        /* A create's rkey is minted by the client around createdAt; updates and deletes
         * refer to an older record. */
        int64_t at = op == SS_OP_CREATE ? e->time_us - 20000 - (int64_t)rng_below(r, 2000000)
                                        : e->time_us - draw_age(r);
        tid_of(at, (clk + 1) & 1023, tid);
        put_cstr(o, e->del_rkey ? e->del_rkey : tid);
    }
    PUTS(o, "\"");
    if (op != SS_OP_DELETE) {
        PUTS(o, ",\"record\":");
        switch (k) {
        case K_POST: put_post(e); break;
        case K_LIKE: put_subject_ref_record(e, "app.bsky.feed.like"); break;
        case K_REPOST: put_subject_ref_record(e, "app.bsky.feed.repost"); break;
        case K_FOLLOW: put_subject_did_record(e, "app.bsky.graph.follow"); break;
        case K_BLOCK: put_subject_did_record(e, "app.bsky.graph.block"); break;
        default: put_other_record(e, k); break;
        }
        slot_cid(e->g, e->slot, cid);
        PUTS(o, ",\"cid\":\"");
        put_cstr(o, cid);
        PUTS(o, "\"");
    }
    PUTS(o, "}}");
}

static void put_identity_event(ev_t *e, int64_t slot, int account) {
    out_t *o = e->o;
    rng_t *r = e->r;
    char t[48];
    size_t tn = fmt_iso(e->time_us - 50000 - (int64_t)rng_below(r, 400000), 3, t);
    PUTS(o, "{\"did\":\"");
    put_cstr(o, e->did);
    PUTS(o, "\",\"time_us\":");
    put_i64(o, e->time_us);
    if (!account) {
        PUTS(o, ",\"kind\":\"identity\",\"identity\":{\"did\":\"");
        put_cstr(o, e->did);
        PUTS(o, "\"");
        if (rng_chance(r, 0.6)) {
            char h[64];
            handle_of(e->g, e->actor, h, sizeof h);
            PUTS(o, ",\"handle\":");
            put_jcstr(o, h);
        }
    } else {
        static const char *const statuses[] = {"deactivated", "deleted", "takendown", "suspended", "desynchronized",
                                               "throttled"};
        static const int weights[] = {40, 25, 20, 10, 3, 2};
        int active = rng_chance(r, 0.7);
        PUTS(o, ",\"kind\":\"account\",\"account\":{\"active\":");
        if (active) PUTS(o, "true");
        else PUTS(o, "false");
        PUTS(o, ",\"did\":\"");
        put_cstr(o, e->did);
        PUTS(o, "\"");
        if (!active) {
            int w = (int)rng_below(r, 100), s = 0;
            while (s < 5 && w >= weights[s]) w -= weights[s++];
            PUTS(o, ",\"seq\":");
            put_i64(o, SEQ_BASE + slot);
            PUTS(o, ",\"status\":\"");
            put_cstr(o, statuses[s]);
            PUTS(o, "\",\"time\":\"");
            put(o, t, tn);
            PUTS(o, "\"}}");
            return;
        }
    }
    PUTS(o, ",\"seq\":");
    put_i64(o, SEQ_BASE + slot);
    PUTS(o, ",\"time\":\"");
    put(o, t, tn);
    PUTS(o, "\"}}");
}

static int64_t slot_time(const ss_synth *g, int64_t slot, rng_t *r) {
    int64_t b = base_time(g, slot), nb = base_time(g, slot + 1);
    return b + (nb > b ? (int64_t)rng_below(r, (uint64_t)(nb - b)) : 0);
}

/* Formats a fresh event for slot (whose plan is pl, rng right after the plan). */
static void format_event(ss_synth *g, int64_t slot, rng_t *r, const plan_t *pl, kind_t k, ss_op op, inject_t inj,
                         malform_t mal, out_t *o) {
    ev_t e = {.g = g, .r = r, .o = o, .slot = slot, .inject = inj};
    commit_head h;
    draw_head(g, slot, r, pl->jitter, &h);
    e.time_us = h.time_us;
    e.actor = h.actor;
    /* A delete removes a record created earlier in this stream: the last create of its kind
     * DEL_LAG or more slots back, by its own author. Early in a stream (or when none is
     * found) it removes a record older than the stream, as before. */
    rec_ref del;
    if (op == SS_OP_DELETE && slot >= DEL_LAG && mal == MAL_NONE && inj == INJ_NONE &&
        (k == K_POST || k == K_LIKE || k == K_REPOST || k == K_FOLLOW || k == K_BLOCK) &&
        last_create(g, slot - DEL_LAG, k, DEL_WALK, &del)) {
        e.actor = del.actor;
        e.del_rkey = del.rkey;
    }
    did_of(g, e.actor, e.did);
    if (k == K_IDENTITY || k == K_ACCOUNT) put_identity_event(&e, slot, k == K_ACCOUNT);
    else put_commit_event(&e, k, op, mal);
}

/* Not JSON at all, or broken syntax. Each carries its slot number so that planted bad
 * lines are distinct (only --dup-frac makes repeats). */
static const char *const NOT_JSON[] = {
    "<html><head><title>502 Bad Gateway</title></head><body>nginx request %lld</body></html>",
    "Connection reset by peer (%lld)",
    "{\"did\":did:plc:abc,\"time_us\":%lld}",
    "{\"did\":\"did:plc:ewvi7nxzyoun6zhxrhs64oiz\",\"time_us\":%lld,\"kind\":\"commit\",}",
    "{'did': 'did:plc:ewvi7nxzyoun6zhxrhs64oiz', 'time_us': %lld}",
    "{\"did\":\"did:plc:ewvi7nxzyoun6zhxrhs64oiz\" \"time_us\":%lld}",
};

static void format_bad(ss_synth *g, int64_t slot, rng_t *r, const plan_t *pl, out_t *o) {
    switch (pl->pub.bad) {
    case SS_SYNTH_BAD_NOT_JSON: {
        char t[160];
        int n = snprintf(t, sizeof t, NOT_JSON[rng_below(r, sizeof NOT_JSON / sizeof NOT_JSON[0])], (long long)slot);
        put(o, t, (size_t)n);
        return;
    }
    case SS_SYNTH_BAD_TRUNCATED: {
        kind_t k = rng_chance(r, 0.5) ? K_POST : K_LIKE;
        format_event(g, slot, r, pl, k, SS_OP_CREATE, INJ_NONE, MAL_NONE, o);
        /* Cut somewhere in the middle, at a character boundary so the reason stays not_json. */
        size_t len = o->b->len, cut = len / 4 + (size_t)rng_below(r, len / 2);
        while (cut > 1 && ((unsigned char)o->b->data[cut] & 0xc0) == 0x80) cut--;
        o->b->len = cut;
        o->b->data[cut] = '\0';
        return;
    }
    case SS_SYNTH_BAD_UTF8:
        format_event(g, slot, r, pl, K_POST, SS_OP_CREATE, INJ_BAD_UTF8, MAL_NONE, o);
        return;
    case SS_SYNTH_BAD_SURROGATE:
        format_event(g, slot, r, pl, K_POST, SS_OP_CREATE, INJ_SURROGATE, MAL_NONE, o);
        return;
    case SS_SYNTH_BAD_MISSING:
        format_event(g, slot, r, pl, rng_chance(r, 0.5) ? K_LIKE : K_FOLLOW, SS_OP_CREATE, INJ_NONE,
                     rng_chance(r, 0.5) ? MAL_NO_TIME_US : MAL_NO_COLLECTION, o);
        return;
    case SS_SYNTH_BAD_WRONG_TYPE:
        format_event(g, slot, r, pl, rng_chance(r, 0.5) ? K_LIKE : K_FOLLOW, SS_OP_CREATE, INJ_NONE,
                     rng_chance(r, 0.5) ? MAL_TIME_US_STRING : MAL_REV_NUMBER, o);
        return;
    default: format_event(g, slot, r, pl, K_POST, SS_OP_CREATE, INJ_OVERSIZE, MAL_NONE, o); return;
    }
}

int ss_synth_line(ss_synth *g, int64_t slot, ss_buf *out, ss_synth_slot *plan_out) {
    rng_t r;
    plan_t pl;
    plan_slot(g, slot, &r, &pl);
    ss_buf_reset(out);
    if (ss_buf_reserve(out, 4096) < 0) return -1;
    out_t o = {out, 0};
    if (pl.pub.cat == SS_SYNTH_BAD) format_bad(g, slot, &r, &pl, &o);
    else {
        int64_t src = pl.pub.source_slot;
        plan_t spl;
        if (pl.pub.cat == SS_SYNTH_DUP) {
            plan_slot(g, src, &r, &spl);
            pl.pub.type = spl.pub.type;
            pl.pub.op = spl.pub.op;
            pl.pub.jittered = spl.pub.jittered;
        } else
            spl = pl;
        format_event(g, src, &r, &spl, spl.kind, spl.pub.op, INJ_NONE, MAL_NONE, &o);
    }
    if (plan_out) *plan_out = pl.pub;
    return o.oom ? -1 : 0;
}

/* ---- stats ------------------------------------------------------------------------- */

static const char *const BAD_NAMES[SS_SYNTH_BAD__COUNT] = {"not_json", "truncated", "invalid_utf8", "lone_surrogate",
                                                           "missing_field", "wrong_type", "oversize"};
static const char *const BAD_REASONS[SS_SYNTH_BAD__COUNT] = {"not_json", "not_json", "bad_utf8", "bad_utf8",
                                                             "missing_field", "wrong_type", "too_large"};
static const char *const TYPE_NAMES[SS_TYPE__COUNT] = {"post", "like", "repost", "follow",
                                                       "block", "identity", "account", "other", "sync"};
static const char *const OP_NAMES[4] = {"none", "create", "update", "delete"};

const char *ss_synth_bad_kind_name(ss_synth_bad_kind k) {
    return (unsigned)k < SS_SYNTH_BAD__COUNT ? BAD_NAMES[k] : "?";
}
const char *ss_synth_bad_kind_reason(ss_synth_bad_kind k) {
    return (unsigned)k < SS_SYNTH_BAD__COUNT ? BAD_REASONS[k] : "?";
}

void ss_synth_stats_add(ss_synth_stats *st, const ss_synth_slot *pl, size_t line_len) {
    st->lines++;
    st->bytes += (int64_t)line_len + 1;
    if (pl->cat == SS_SYNTH_BAD) {
        st->bad++;
        st->bad_kind[pl->bad]++;
        return;
    }
    st->total[pl->type]++;
    st->ops_total[pl->op]++;
    if (pl->cat == SS_SYNTH_DUP) {
        st->dups++;
        return;
    }
    st->good++;
    st->unique[pl->type]++;
    st->ops[pl->op]++;
    if (pl->jittered) st->jittered++;
}

/* Shortest "%.*g" that reads back as the same double, so canonical strings are stable. */
static void fmt_double(double v, char *out, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, n, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}

static void put_counts(out_t *o, const char *name, const int64_t *v, const char *const *names, int n, int from) {
    PUTS(o, "\"");
    put_cstr(o, name);
    PUTS(o, "\":{");
    for (int i = from; i < n; i++) {
        if (i > from) PUTS(o, ",");
        PUTS(o, "\"");
        put_cstr(o, names[i]);
        PUTS(o, "\":");
        put_i64(o, v[i]);
    }
    PUTS(o, "}");
}

int ss_synth_stats_json(const ss_synth_stats *st, const ss_synth_params *p, ss_buf *b) {
    out_t o = {b, 0};
    char canon[512];
    ss_synth_params_canonical(p, canon, sizeof canon);
    PUTS(&o, "{\"params\":");
    put_jcstr(&o, canon);
    PUTS(&o, ",\"lines\":");
    put_i64(&o, st->lines);
    PUTS(&o, ",\"bytes\":");
    put_i64(&o, st->bytes);
    PUTS(&o, ",\"good\":");
    put_i64(&o, st->good);
    PUTS(&o, ",\"dups\":");
    put_i64(&o, st->dups);
    PUTS(&o, ",\"bad\":");
    put_i64(&o, st->bad);
    PUTS(&o, ",\"jittered\":");
    put_i64(&o, st->jittered);
    PUTS(&o, ",");
    put_counts(&o, "unique", st->unique, TYPE_NAMES, SS_TYPE__COUNT, 0);
    PUTS(&o, ",");
    put_counts(&o, "total", st->total, TYPE_NAMES, SS_TYPE__COUNT, 0);
    PUTS(&o, ",");
    put_counts(&o, "ops", st->ops, OP_NAMES, 4, 1);
    PUTS(&o, ",");
    put_counts(&o, "ops_total", st->ops_total, OP_NAMES, 4, 1);
    PUTS(&o, ",");
    put_counts(&o, "bad_kinds", st->bad_kind, BAD_NAMES, SS_SYNTH_BAD__COUNT, 0);
    /* Expected dead-letter reasons, summed over kinds. */
    static const char *const reasons[] = {"not_json", "bad_utf8", "missing_field", "wrong_type", "too_large"};
    PUTS(&o, ",\"bad_reasons\":{");
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        int64_t n = 0;
        for (int k = 0; k < SS_SYNTH_BAD__COUNT; k++)
            if (!strcmp(BAD_REASONS[k], reasons[i])) n += st->bad_kind[k];
        if (i) PUTS(&o, ",");
        PUTS(&o, "\"");
        put_cstr(&o, reasons[i]);
        PUTS(&o, "\":");
        put_i64(&o, n);
    }
    PUTS(&o, "}}");
    return o.oom ? -1 : 0;
}

/* ---- source arguments -------------------------------------------------------------- */

void ss_synth_params_canonical(const ss_synth_params *p, char *out, size_t outlen) {
    char rate[32], jf[32], df[32], bf[32], of[32];
    fmt_double(p->rate, rate, sizeof rate);
    fmt_double(p->jitter_frac, jf, sizeof jf);
    fmt_double(p->dup_frac, df, sizeof df);
    fmt_double(p->bad_frac, bf, sizeof bf);
    fmt_double(p->other_frac, of, sizeof of);
    snprintf(out, outlen,
             "events=%lld,seed=%llu,start=%lld,rate=%s,jitter=%s,jitter_us=%lld,dup=%s,bad=%s,oversize=%d,other=%s",
             (long long)p->events, (unsigned long long)p->seed, (long long)p->start_us, rate, jf,
             (long long)p->jitter_us, df, bf, p->bad_oversize ? 1 : 0, of);
}

static int parse_num(const char *v, double lo, double hi, double *out) {
    char *end;
    if (!*v) return -1;
    double d = strtod(v, &end);
    if (*end || !(d >= lo && d <= hi)) return -1;
    *out = d;
    return 0;
}

static int parse_int(const char *v, long long lo, long long hi, long long *out) {
    char *end;
    if (!*v || *v == '-' || *v == '+') return -1;
    errno = 0;
    unsigned long long u = strtoull(v, &end, 10);
    if (*end || errno || u > (unsigned long long)hi || (long long)u < lo) return -1;
    *out = (long long)u;
    return 0;
}

int ss_synth_params_parse(ss_synth_params *p, const char *args, char *err, size_t errlen) {
    char buf[1024];
    if (strlen(args) >= sizeof buf) return snprintf(err, errlen, "arguments too long"), -1;
    snprintf(buf, sizeof buf, "%s", args);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) return snprintf(err, errlen, "'%s' is not key=value (e.g. events=1000,seed=7)", kv), -1;
        *eq = '\0';
        const char *k = kv, *v = eq + 1;
        long long ll;
        double d;
        int bad = 0;
        if (!strcmp(k, "events")) bad = parse_int(v, 0, SS_SYNTH_MAX_EVENTS, &ll) || (p->events = ll, 0);
        else if (!strcmp(k, "seed")) {
            char *end;
            if (!*v || *v == '-' || *v == '+') bad = 1;
            else {
                errno = 0;
                p->seed = strtoull(v, &end, 10);
                bad = *end != '\0' || errno != 0;
            }
        } else if (!strcmp(k, "start")) bad = ss_synth_parse_time(v, &p->start_us);
        else if (!strcmp(k, "rate")) bad = parse_num(v, 1e-9, SS_SYNTH_MAX_RATE, &p->rate);
        else if (!strcmp(k, "jitter")) bad = parse_num(v, 0, 1, &p->jitter_frac);
        else if (!strcmp(k, "jitter_us")) bad = parse_int(v, 0, 86400000000LL, &ll) || (p->jitter_us = ll, 0);
        else if (!strcmp(k, "dup")) bad = parse_num(v, 0, 1, &p->dup_frac);
        else if (!strcmp(k, "bad")) bad = parse_num(v, 0, 1, &p->bad_frac);
        else if (!strcmp(k, "other")) bad = parse_num(v, 0, 1, &p->other_frac);
        else if (!strcmp(k, "oversize")) bad = parse_num(v, 0, 1, &d) || (p->bad_oversize = d != 0, 0);
        else
            return snprintf(err, errlen,
                            "unknown key '%s' (known: events, seed, start, rate, jitter, jitter_us, dup, bad, "
                            "other, oversize)",
                            k),
                   -1;
        if (bad) return snprintf(err, errlen, "bad value '%s' for %s", v, k), -1;
    }
    if (p->jitter_frac > 0 && p->jitter_us == 0) p->jitter_us = 1000000; /* default amount for the source */
    return ss_synth_params_check(p, err, errlen);
}
