/* Sharded, compact fingerprint set for the dedup horizon; the layout, time units and odds
 * are in claimset.h.
 *
 * Each shard is a bucketized cuckoo table in one anonymous mapping of whole pages. A bucket
 * is one 64-byte line of 6 slots: six 64-bit words, then two words holding six 21-bit
 * fields (85 bits a slot, 2 bits unused). A word is
 *     bits  0-21  l, the fingerprint's low 22 bits
 *          22-45  h mod 2^24 (h: the fingerprint's bits 22-53, which pick the first bucket)
 *          46     0: the slot is in the key's first bucket, 1: in its second
 *          47-52  1 + recorded time unit (0: the slot is free; a free slot's word is 0)
 *          53-63  owner hash bits 0-10
 * and its 21-bit field holds owner bits 11-31. Bits 0-46 are the slot's key in its bucket:
 * a lookup compares one masked word per slot. A key's second bucket is its first plus an
 * offset drawn from l (never 0), so moving a key to its other bucket flips its flag bit and
 * nothing else, and a table can be rebuilt at another size from its own slots (h is
 * recovered from the first bucket's interval, a division per key, only when resizing).
 * Why cuckoo: two independent lines stay fast up to high load (linear probing at ~80 %
 * walked ~8 slots a miss and took 2.5x a lookup at 40 %), and high load is what makes the
 * set small.
 *
 * Insertion takes a free slot in either bucket, else evicts a random slot's key to that
 * key's other bucket, and so on for up to MAX_KICKS moves; if that fails, the moves are
 * undone and the shard grows. Deleting is clearing a slot, so pruning is one pass over a
 * shard, in place. Capacities are whole pages (>= 4: the 24-bit h residue needs >= 256
 * buckets), not powers of two (bucket = (h * nb) >> 32), so a shard grows by an eighth
 * at 15/16 load instead of doubling. */
#include "writer/claimset.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/hash.h"

#define PAGE 4096u
#define PER_BUCKET 6
typedef struct {
    uint64_t w[PER_BUCKET];
    uint64_t tail[2]; /* 3 owner-high fields of 21 bits each */
} bucket_t;
#define BUCKETS_PER_PAGE (PAGE / sizeof(bucket_t))
#define SLOTS_PER_PAGE (BUCKETS_PER_PAGE * PER_BUCKET)
#define MIN_PAGES 4u /* 256 buckets: h's interval per bucket is <= 2^24 */

#define Q_BITS (64 - SS_CLAIMSET_SHARD_BITS) /* 54 */
#define L_BITS 22
#define L_MASK ((UINT64_C(1) << L_BITS) - 1)
#define HR_BITS 24
#define HR_MASK ((UINT64_C(1) << HR_BITS) - 1)
#define FLAG_BIT (UINT64_C(1) << 46)
#define KEY_MASK ((UINT64_C(1) << 47) - 1)
#define TU_SHIFT 47
#define TU_MASK (UINT64_C(63) << TU_SHIFT)
#define TU_MAX 62u /* recorded units 0..62 (stored as 1..63) */
#define OWN_LO_SHIFT 53
#define OWN_LO_BITS 11
#define TAIL_MASK ((UINT64_C(1) << 21) - 1)

/* Grown above LOAD_NUM/LOAD_DEN, by GROW_NUM/GROW_DEN; rebuilt smaller below 1/SHRINK_DIV. */
#define LOAD_NUM 15
#define LOAD_DEN 16
#define GROW_NUM 9
#define GROW_DEN 8
#define SHRINK_DIV 4
#define MAX_KICKS 128

uint64_t ss_writer_claim_fp(const uint8_t key[16]) {
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    uint64_t fp = a ^ ss_mix64(b); /* keys are hashes already; fold all 128 bits anyway */
    return fp ? fp : 1;
}

uint32_t ss_writer_claim_owner(int type, uint64_t ms, uint64_t seq) {
    uint64_t h = ss_mix64(ms ^ ss_mix64(seq + 0x9e3779b97f4a7c15ULL * (uint64_t)(type + 1)));
    return (uint32_t)(h ^ (h >> 32));
}

/* ---- slots ------------------------------------------------------------------------------- */

static inline bucket_t *bucket(const ss_writer_claim_shard *s, uint32_t b) { return (bucket_t *)s->lines + b; }
static inline uint32_t cap_of(const ss_writer_claim_shard *s) { return s->nb * PER_BUCKET; }

static inline uint32_t q_h(uint64_t q) { return (uint32_t)(q >> L_BITS); }
static inline uint32_t bucket1(uint32_t h, uint32_t nb) { return (uint32_t)(((uint64_t)h * nb) >> 32); }
/* 1..nb-1, from l alone */
static inline uint32_t offset_of(uint64_t l, uint32_t nb) {
    uint32_t m = (uint32_t)(l * 0x9e3779b1u ^ (l >> 11));
    return 1 + (uint32_t)(((uint64_t)m * (nb - 1)) >> 32);
}
static inline uint32_t add_mod(uint32_t b, uint32_t off, uint32_t nb) { return b + off >= nb ? b + off - nb : b + off; }
static inline uint32_t sub_mod(uint32_t b, uint32_t off, uint32_t nb) { return b >= off ? b - off : b + nb - off; }

/* The slot key (bits 0-46, flag clear) of q. */
static inline uint64_t key_of(uint64_t q) { return (q & L_MASK) | ((uint64_t)(q_h(q) & HR_MASK) << L_BITS); }

static inline uint32_t owner_get(const bucket_t *bk, int k) {
    uint32_t hi = (uint32_t)((bk->tail[k / 3] >> (21 * (k % 3))) & TAIL_MASK);
    return (uint32_t)(bk->w[k] >> OWN_LO_SHIFT) | hi << OWN_LO_BITS;
}

/* A slot as (word, owner-high field). */
typedef struct {
    uint64_t w;
    uint32_t hi;
} slot_t;

static inline slot_t slot_get(const bucket_t *bk, int k) {
    slot_t s = {bk->w[k], (uint32_t)((bk->tail[k / 3] >> (21 * (k % 3))) & TAIL_MASK)};
    return s;
}
static inline void slot_set(bucket_t *bk, int k, slot_t s) {
    bk->w[k] = s.w;
    int sh = 21 * (k % 3);
    bk->tail[k / 3] = (bk->tail[k / 3] & ~(TAIL_MASK << sh)) | ((uint64_t)s.hi << sh);
}
static inline slot_t slot_make(uint64_t key, uint32_t owner, uint32_t tu) {
    slot_t s = {key | (uint64_t)(tu + 1) << TU_SHIFT | (uint64_t)(owner & ((1u << OWN_LO_BITS) - 1)) << OWN_LO_SHIFT,
                owner >> OWN_LO_BITS};
    return s;
}
static inline uint32_t slot_tu(uint64_t w) { return (uint32_t)((w & TU_MASK) >> TU_SHIFT) - 1; }
static inline uint64_t with_tu(uint64_t w, uint32_t tu) { return (w & ~TU_MASK) | (uint64_t)(tu + 1) << TU_SHIFT; }

/* The bucket a slot's key moves to from bucket b. */
static inline uint32_t other_bucket(uint64_t w, uint32_t b, uint32_t nb) {
    uint32_t off = offset_of(w & L_MASK, nb);
    return w & FLAG_BIT ? sub_mod(b, off, nb) : add_mod(b, off, nb);
}

/* The 54-bit q of the slot word w found in bucket b of a table of nb buckets. */
static uint64_t q_of(uint64_t w, uint32_t b, uint32_t nb) {
    uint64_t l = w & L_MASK;
    uint32_t b1 = w & FLAG_BIT ? sub_mod(b, offset_of(l, nb), nb) : b;
    /* the smallest h with bucket1(h) == b1, then the one of its interval with this residue */
    uint32_t lo = (uint32_t)((((uint64_t)b1 << 32) + nb - 1) / nb);
    uint32_t h = lo + (uint32_t)(((w >> L_BITS) - lo) & HR_MASK);
    return (uint64_t)h << L_BITS | l;
}

static inline int free_slot(const bucket_t *bk) {
    for (int k = 0; k < PER_BUCKET; k++)
        if (!bk->w[k]) return k;
    return -1;
}

static uint32_t rng_next(uint64_t *r) {
    *r = *r * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*r >> 33);
}

/* ---- one shard ------------------------------------------------------------------------- */

/* Stores the key q (not in the table) with owner o and recorded unit tu in one of its
 * buckets, moving other keys to their other bucket as needed. Returns 0, or -1 when
 * MAX_KICKS moves found no room (the table is then as it was). Does not count. */
static int place(ss_writer_claim_shard *s, uint64_t q, uint32_t o, uint32_t tu, uint64_t *rng) {
    uint32_t nb = s->nb;
    uint32_t b1 = bucket1(q_h(q), nb), b2 = add_mod(b1, offset_of(q & L_MASK, nb), nb);
    slot_t v = slot_make(key_of(q), o, tu);
    bucket_t *bk = bucket(s, b1);
    int k = free_slot(bk);
    if (k < 0) {
        bk = bucket(s, b2);
        k = free_slot(bk);
        v.w |= FLAG_BIT;
    }
    if (k >= 0) {
        slot_set(bk, k, v);
        return 0;
    }
    struct {
        uint32_t b;
        int k;
    } path[MAX_KICKS];
    uint32_t b = b2; /* v carries b2's flag */
    if (rng_next(rng) & 1) b = b1, v.w &= ~FLAG_BIT;
    for (int n = 0; n < MAX_KICKS; n++) {
        bk = bucket(s, b);
        k = (int)(rng_next(rng) % PER_BUCKET);
        path[n].b = b;
        path[n].k = k;
        slot_t ev = slot_get(bk, k);
        slot_set(bk, k, v);
        v = ev;
        b = other_bucket(v.w, b, nb);
        v.w ^= FLAG_BIT;
        bucket_t *to = bucket(s, b);
        int f = free_slot(to);
        if (f >= 0) {
            slot_set(to, f, v);
            return 0;
        }
    }
    for (int n = MAX_KICKS - 1; n >= 0; n--) { /* undo: every key back where it was */
        v.w ^= FLAG_BIT; /* back to the bucket it was taken from */
        bk = bucket(s, path[n].b);
        slot_t ev = slot_get(bk, path[n].k);
        slot_set(bk, path[n].k, v);
        v = ev;
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
    uint32_t p = (uint32_t)((cap + SLOTS_PER_PAGE - 1) / SLOTS_PER_PAGE);
    return p < MIN_PAGES ? MIN_PAGES : p;
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
            for (int k = 0; ok && k < PER_BUCKET; k++) {
                uint64_t w = bk->w[k];
                if (w && place(&t, q_of(w, b, s->nb), owner_get(bk, k), slot_tu(w), &cs->rng) != 0) ok = 0;
            }
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

/* Moves the shard's time base forward to nbase (> base): units below it round up to it. */
static void rebase(ss_writer_claim_shard *s, uint32_t nbase) {
    uint32_t d = nbase - s->base;
    for (uint32_t b = 0; b < s->nb; b++) {
        bucket_t *bk = bucket(s, b);
        for (int k = 0; k < PER_BUCKET; k++) {
            uint64_t w = bk->w[k];
            if (!w) continue;
            uint32_t tu = slot_tu(w);
            bk->w[k] = with_tu(w, tu > d ? tu - d : 0);
        }
    }
    s->base = nbase;
}

/* Drops the slots before unit u and rebases the shard to u, in one pass. */
static size_t shard_prune(ss_writer_claim_shard *s, uint32_t u) {
    if (!s->n || u <= s->base) return 0;
    uint32_t d = u - s->base;
    size_t dropped = 0;
    for (uint32_t b = 0; b < s->nb; b++) {
        bucket_t *bk = bucket(s, b);
        for (int k = 0; k < PER_BUCKET; k++) {
            uint64_t w = bk->w[k];
            if (!w) continue;
            uint32_t tu = slot_tu(w);
            if (tu < d) {
                slot_t z = {0, 0};
                slot_set(bk, k, z);
                dropped++;
            } else {
                bk->w[k] = with_tu(w, tu - d);
            }
        }
    }
    s->n -= (uint32_t)dropped;
    s->base = u;
    return dropped;
}

/* ---- the set ----------------------------------------------------------------------------- */

void ss_writer_claimset_init(ss_writer_claimset *cs) {
    memset(cs, 0, sizeof *cs);
    cs->rng = 0x853c49e6748fea9bULL;
    cs->unit = 3600 / SS_CLAIMSET_UNITS;
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

void ss_writer_claimset_set_horizon(ss_writer_claimset *cs, int64_t horizon_s) {
    int64_t u = (horizon_s + SS_CLAIMSET_UNITS - 1) / SS_CLAIMSET_UNITS;
    if (u < 60) u = 60;
    if (u > 3600) u = 3600;
    if ((uint32_t)u == cs->unit) return;
    ss_writer_claimset_clear(cs);
    cs->unit = (uint32_t)u;
}

int ss_writer_claimset_put(ss_writer_claimset *cs, uint64_t fp, uint32_t owner, uint32_t t, uint32_t *existing) {
    if (!cs->sh && !(cs->sh = calloc(SS_CLAIMSET_SHARDS, sizeof *cs->sh))) return -1;
    ss_writer_claim_shard *s = &cs->sh[fp >> Q_BITS];
    uint64_t q = fp & ((UINT64_C(1) << Q_BITS) - 1);
    if (s->lines) {
        uint32_t nb = s->nb, b1 = bucket1(q_h(q), nb);
        const bucket_t *x = bucket(s, b1), *y = bucket(s, add_mod(b1, offset_of(q & L_MASK, nb), nb));
        __builtin_prefetch(y);
        uint64_t key = key_of(q);
        for (int k = 0; k < PER_BUCKET; k++)
            if ((x->w[k] & KEY_MASK) == key && x->w[k]) return *existing = owner_get(x, k), 0;
        key |= FLAG_BIT;
        for (int k = 0; k < PER_BUCKET; k++)
            if ((y->w[k] & KEY_MASK) == key) return *existing = owner_get(y, k), 0; /* flag set: not free */
    } else {
        if (table_map(s, MIN_PAGES) != 0) return -1;
        cs->pages += s->pages;
    }
    uint32_t unit = t / cs->unit;
    if (!s->n) s->base = unit > TU_MAX / 2 ? unit - TU_MAX / 2 : 0; /* room both ways */
    else if (unit > s->base + TU_MAX) rebase(s, unit - TU_MAX / 2);
    uint32_t tu = unit > s->base ? unit - s->base : 0;
    if ((uint64_t)(s->n + 1) * LOAD_DEN > (uint64_t)cap_of(s) * LOAD_NUM && rebuild(cs, s, grown(s->pages)) != 0)
        return -1;
    while (place(s, q, owner, tu, &cs->rng) != 0)
        if (rebuild(cs, s, grown(s->pages)) != 0) return -1;
    s->n++;
    cs->n++;
    return 1;
}

void ss_writer_claimset_prefetch(const ss_writer_claimset *cs, uint64_t fp) {
    if (!cs->sh) return;
    const ss_writer_claim_shard *s = &cs->sh[fp >> Q_BITS];
    if (!s->lines) return;
    uint64_t q = fp & ((UINT64_C(1) << Q_BITS) - 1);
    uint32_t b1 = bucket1(q_h(q), s->nb);
    __builtin_prefetch(bucket(s, b1));
    __builtin_prefetch(bucket(s, add_mod(b1, offset_of(q & L_MASK, s->nb), s->nb)));
}

size_t ss_writer_claimset_prune(ss_writer_claimset *cs, uint32_t before) {
    if (!cs->sh || !cs->n) return 0;
    uint32_t u = before / cs->unit;
    size_t dropped = 0;
    for (uint32_t i = 0; i < SS_CLAIMSET_SHARDS; i++) {
        ss_writer_claim_shard *s = &cs->sh[i];
        size_t d = shard_prune(s, u);
        dropped += d;
        /* mostly empty now: give pages back (a failed rebuild keeps the bigger table) */
        if (d && s->pages > MIN_PAGES && (uint64_t)s->n * SHRINK_DIV < cap_of(s)) {
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
