/* Sharded, compact fingerprint set for the dedup horizon; the layout, time buckets and odds
 * are in claimset.h.
 *
 * Each shard is a bucketized cuckoo table in one anonymous mapping of whole pages. A bucket
 * is one 64-byte line: 5 slots (q << 12 | time bucket), then their 5 owner hashes (12.8
 * bytes per slot). A key may sit in either of two buckets, both computed from q (its top 32
 * bits, and its low 20 bits), so a lookup reads two cache lines whose loads overlap, and a
 * table can be rebuilt from its own slots. Why not linear probing: at the load that makes
 * the set compact (~80 %), a miss walked ~8 slots and took 2.5x the time of a lookup at
 * 40 %; two independent lines stay flat up to 90 %.
 *
 * Insertion takes a free slot in either bucket, else evicts a random slot's key to that
 * key's other bucket, and so on for up to MAX_KICKS moves; if that fails, the moves are
 * undone and the shard grows. Deleting is clearing a slot, so pruning is one pass over a
 * shard, in place. Capacities are whole pages, not powers of two (bucket = (h * nb) >> 32),
 * so a shard grows by a quarter instead of doubling. */
#include "writer/claimset.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096u
#define PER_BUCKET 5
typedef struct {
    uint64_t v[PER_BUCKET];
    uint32_t o[PER_BUCKET];
    uint32_t unused;
} bucket_t;
#define BUCKETS_PER_PAGE (PAGE / sizeof(bucket_t))
#define SLOTS_PER_PAGE (BUCKETS_PER_PAGE * PER_BUCKET)

#define Q_BITS (64 - SS_CLAIMSET_SHARD_BITS)
#define Q_MASK ((UINT64_C(1) << Q_BITS) - 1)
#define TB_BITS SS_CLAIMSET_TIME_BITS
#define TB_MASK ((UINT64_C(1) << TB_BITS) - 1)
#define TB_MAX ((uint32_t)TB_MASK)
/* Grown above LOAD_NUM/LOAD_DEN, by GROW_NUM/GROW_DEN; rebuilt smaller below 1/SHRINK_DIV. */
#define LOAD_NUM 7
#define LOAD_DEN 8
#define GROW_NUM 5
#define GROW_DEN 4
#define SHRINK_DIV 4
#define MAX_KICKS 64

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t ss_writer_claim_fp(const uint8_t key[16]) {
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    uint64_t fp = a ^ mix64(b); /* keys are hashes already; fold all 128 bits anyway */
    return fp ? fp : 1;
}

uint32_t ss_writer_claim_owner(int type, uint64_t ms, uint64_t seq) {
    uint64_t h = mix64(ms ^ mix64(seq + 0x9e3779b97f4a7c15ULL * (uint64_t)(type + 1)));
    return (uint32_t)(h ^ (h >> 32));
}

/* ---- one shard ------------------------------------------------------------------------- */

static inline bucket_t *bucket(const ss_writer_claim_shard *s, uint32_t b) { return (bucket_t *)s->lines + b; }
static inline uint32_t cap_of(const ss_writer_claim_shard *s) { return s->nb * PER_BUCKET; }

/* The two buckets of q: from its top 32 bits and from its low 20 bits (independent). */
static inline uint32_t bucket1(uint64_t q, uint32_t nb) { return (uint32_t)(((q >> (Q_BITS - 32)) * nb) >> 32); }
static inline uint32_t bucket2(uint64_t q, uint32_t nb) { return (uint32_t)(((q & 0xfffff) * nb) >> 20); }
static inline uint32_t other_bucket(uint64_t v, uint32_t b, uint32_t nb) {
    uint64_t q = v >> TB_BITS;
    uint32_t b1 = bucket1(q, nb);
    return b1 == b ? bucket2(q, nb) : b1;
}

static inline int free_slot(const bucket_t *bk) {
    for (int k = 0; k < PER_BUCKET; k++)
        if (!bk->v[k]) return k;
    return -1;
}

static uint32_t rng_next(uint64_t *r) {
    *r = *r * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*r >> 33);
}

/* Stores (v, o), which is not in the table, in one of its buckets, moving other keys to
 * their other bucket as needed. Returns 0, or -1 when MAX_KICKS moves found no room (the
 * table is then as it was). Does not count. */
static int place(ss_writer_claim_shard *s, uint64_t v, uint32_t o, uint64_t *rng) {
    uint64_t q = v >> TB_BITS;
    uint32_t b1 = bucket1(q, s->nb), b2 = bucket2(q, s->nb);
    bucket_t *bk = bucket(s, b1);
    int k = free_slot(bk);
    if (k < 0) {
        bk = bucket(s, b2);
        k = free_slot(bk);
    }
    if (k >= 0) {
        bk->v[k] = v;
        bk->o[k] = o;
        return 0;
    }
    struct {
        uint32_t b;
        int k;
    } path[MAX_KICKS];
    uint32_t b = rng_next(rng) & 1 ? b1 : b2;
    for (int n = 0; n < MAX_KICKS; n++) {
        bk = bucket(s, b);
        k = (int)(rng_next(rng) % PER_BUCKET);
        path[n].b = b;
        path[n].k = k;
        uint64_t ev = bk->v[k];
        uint32_t eo = bk->o[k];
        bk->v[k] = v;
        bk->o[k] = o;
        v = ev, o = eo;
        b = other_bucket(v, b, s->nb);
        bucket_t *to = bucket(s, b);
        int f = free_slot(to);
        if (f >= 0) {
            to->v[f] = v;
            to->o[f] = o;
            return 0;
        }
    }
    for (int n = MAX_KICKS - 1; n >= 0; n--) { /* undo: every key back where it was */
        bk = bucket(s, path[n].b);
        uint64_t ev = bk->v[path[n].k];
        uint32_t eo = bk->o[path[n].k];
        bk->v[path[n].k] = v;
        bk->o[path[n].k] = o;
        v = ev, o = eo;
    }
    return -1;
}

/* A mapping of `pages` pages as an empty table. */
static int table_map(ss_writer_claim_shard *t, uint32_t pages) {
    void *p = mmap(NULL, (size_t)pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
    t->lines = p;
    t->pages = pages;
    t->nb = (uint32_t)(pages * BUCKETS_PER_PAGE);
    t->n = 0;
    return 0;
}

static void table_unmap(ss_writer_claim_shard *s) {
    if (s->lines) munmap(s->lines, (size_t)s->pages * PAGE);
    s->lines = NULL;
    s->nb = s->n = s->pages = 0;
}

static uint32_t grown(uint32_t pages) {
    uint32_t np = (uint32_t)((uint64_t)pages * GROW_NUM / GROW_DEN);
    return np > pages ? np : pages + 1;
}

/* Pages for a table holding n keys a growth step below the load limit. */
static uint32_t pages_for(size_t n) {
    size_t cap = n * LOAD_DEN / LOAD_NUM * GROW_NUM / GROW_DEN + 1;
    return (uint32_t)((cap + SLOTS_PER_PAGE - 1) / SLOTS_PER_PAGE);
}

/* Moves every key of s into a fresh table of at least `pages` pages (the only time two
 * tables of a shard exist at once); bigger if the keys do not fit. -1: out of memory, s
 * unchanged. */
static int rebuild(ss_writer_claimset *cs, ss_writer_claim_shard *s, uint32_t pages) {
    ss_writer_claim_shard t;
    for (;; pages = grown(pages)) {
        if (table_map(&t, pages) != 0) return -1;
        int ok = 1;
        for (uint32_t b = 0; ok && b < s->nb; b++) {
            const bucket_t *bk = bucket(s, b);
            for (int k = 0; ok && k < PER_BUCKET; k++)
                if (bk->v[k] && place(&t, bk->v[k], bk->o[k], &cs->rng) != 0) ok = 0;
        }
        if (ok) break;
        table_unmap(&t);
    }
    t.n = s->n;
    t.base = s->base;
    cs->pages = cs->pages - s->pages + t.pages;
    table_unmap(s);
    *s = t;
    return 0;
}

/* Moves the shard's time base forward to nb (> base): buckets below it round up to it. */
static void rebase(ss_writer_claim_shard *s, uint32_t nbase) {
    uint32_t d = nbase - s->base;
    for (uint32_t b = 0; b < s->nb; b++) {
        bucket_t *bk = bucket(s, b);
        for (int k = 0; k < PER_BUCKET; k++) {
            uint64_t v = bk->v[k];
            if (!v) continue;
            uint32_t tb = (uint32_t)(v & TB_MASK);
            bk->v[k] = (v & ~TB_MASK) | (tb > d ? tb - d : 0);
        }
    }
    s->base = nbase;
}

/* Drops the slots before minute m and rebases the shard to m, in one pass. */
static size_t shard_prune(ss_writer_claim_shard *s, uint32_t m) {
    if (!s->n || m <= s->base) return 0;
    uint32_t d = m - s->base;
    size_t dropped = 0;
    for (uint32_t b = 0; b < s->nb; b++) {
        bucket_t *bk = bucket(s, b);
        for (int k = 0; k < PER_BUCKET; k++) {
            uint64_t v = bk->v[k];
            if (!v) continue;
            if ((v & TB_MASK) < d) {
                bk->v[k] = 0;
                dropped++;
            } else {
                bk->v[k] = v - d;
            }
        }
    }
    s->n -= (uint32_t)dropped;
    s->base = m;
    return dropped;
}

/* ---- the set ----------------------------------------------------------------------------- */

void ss_writer_claimset_init(ss_writer_claimset *cs) {
    memset(cs, 0, sizeof *cs);
    cs->rng = 0x853c49e6748fea9bULL;
}

void ss_writer_claimset_clear(ss_writer_claimset *cs) {
    if (cs->sh)
        for (uint32_t i = 0; i < SS_CLAIMSET_SHARDS; i++) table_unmap(&cs->sh[i]);
    cs->n = 0;
    cs->pages = 0;
}

void ss_writer_claimset_free(ss_writer_claimset *cs) {
    ss_writer_claimset_clear(cs);
    free(cs->sh);
    ss_writer_claimset_init(cs);
}

int ss_writer_claimset_put(ss_writer_claimset *cs, uint64_t fp, uint32_t owner, uint32_t t, uint32_t *existing) {
    if (!cs->sh && !(cs->sh = calloc(SS_CLAIMSET_SHARDS, sizeof *cs->sh))) return -1;
    ss_writer_claim_shard *s = &cs->sh[fp >> Q_BITS];
    uint64_t q = fp & Q_MASK;
    if (!q) q = 1; /* 0 marks an empty slot */
    if (s->lines) {
        const bucket_t *x = bucket(s, bucket1(q, s->nb)), *y = bucket(s, bucket2(q, s->nb));
        __builtin_prefetch(y);
        for (int k = 0; k < PER_BUCKET; k++)
            if (x->v[k] >> TB_BITS == q) return *existing = x->o[k], 0;
        for (int k = 0; k < PER_BUCKET; k++)
            if (y->v[k] >> TB_BITS == q) return *existing = y->o[k], 0;
    } else {
        if (table_map(s, 1) != 0) return -1;
        cs->pages += s->pages;
    }
    uint32_t minute = t / 60;
    if (!s->n) s->base = minute > TB_MAX / 2 ? minute - TB_MAX / 2 : 0; /* room both ways */
    else if (minute > s->base + TB_MAX) rebase(s, minute - TB_MAX / 2);
    uint64_t v = q << TB_BITS | (minute > s->base ? minute - s->base : 0);
    if ((uint64_t)(s->n + 1) * LOAD_DEN > (uint64_t)cap_of(s) * LOAD_NUM && rebuild(cs, s, grown(s->pages)) != 0)
        return -1;
    while (place(s, v, owner, &cs->rng) != 0)
        if (rebuild(cs, s, grown(s->pages)) != 0) return -1;
    s->n++;
    cs->n++;
    return 1;
}

void ss_writer_claimset_prefetch(const ss_writer_claimset *cs, uint64_t fp) {
    if (!cs->sh) return;
    const ss_writer_claim_shard *s = &cs->sh[fp >> Q_BITS];
    if (!s->lines) return;
    uint64_t q = fp & Q_MASK;
    __builtin_prefetch(bucket(s, bucket1(q, s->nb)));
    __builtin_prefetch(bucket(s, bucket2(q, s->nb)));
}

size_t ss_writer_claimset_prune(ss_writer_claimset *cs, uint32_t before) {
    if (!cs->sh || !cs->n) return 0;
    uint32_t m = before / 60;
    size_t dropped = 0;
    for (uint32_t i = 0; i < SS_CLAIMSET_SHARDS; i++) {
        ss_writer_claim_shard *s = &cs->sh[i];
        size_t d = shard_prune(s, m);
        dropped += d;
        /* mostly empty now: give pages back (a failed rebuild keeps the bigger table) */
        if (d && s->pages > 1 && (uint64_t)s->n * SHRINK_DIV < cap_of(s)) {
            uint32_t np = pages_for(s->n);
            if (np < s->pages) rebuild(cs, s, np);
        }
    }
    cs->n -= dropped;
    return dropped;
}

size_t ss_writer_claimset_bytes(const ss_writer_claimset *cs) {
    return cs->pages * PAGE + (cs->sh ? SS_CLAIMSET_SHARDS * sizeof *cs->sh : 0);
}
