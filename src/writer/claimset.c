/* Open-addressing fingerprint set for the dedup horizon; see claimset.h. Linear probing,
 * grown at 3/4 load; pruning rebuilds the table (every few minutes, O(n)). */
#include "writer/claimset.h"

#include <stdlib.h>
#include <string.h>

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

void ss_writer_claimset_init(ss_writer_claimset *cs) { memset(cs, 0, sizeof *cs); }

void ss_writer_claimset_free(ss_writer_claimset *cs) {
    free(cs->slot);
    memset(cs, 0, sizeof *cs);
}

void ss_writer_claimset_clear(ss_writer_claimset *cs) {
    if (cs->slot) memset(cs->slot, 0, cs->cap * sizeof *cs->slot);
    cs->n = 0;
}

static void raw_insert(ss_writer_claim_slot *slot, size_t cap, const ss_writer_claim_slot *e) {
    size_t i = (size_t)(mix64(e->fp) & (cap - 1));
    while (slot[i].fp) i = (i + 1) & (cap - 1);
    slot[i] = *e;
}

static int resize(ss_writer_claimset *cs, size_t ncap) {
    ss_writer_claim_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < cs->cap; i++)
        if (cs->slot[i].fp) raw_insert(ns, ncap, &cs->slot[i]);
    free(cs->slot);
    cs->slot = ns;
    cs->cap = ncap;
    return 0;
}

int ss_writer_claimset_put(ss_writer_claimset *cs, uint64_t fp, uint32_t owner, uint32_t t, uint32_t *existing) {
    if ((cs->n + 1) * 4 > cs->cap * 3 && resize(cs, cs->cap ? cs->cap * 2 : 4096) != 0) return -1;
    size_t i = (size_t)(mix64(fp) & (cs->cap - 1));
    while (cs->slot[i].fp) {
        if (cs->slot[i].fp == fp) {
            *existing = cs->slot[i].owner;
            return 0;
        }
        i = (i + 1) & (cs->cap - 1);
    }
    cs->slot[i] = (ss_writer_claim_slot){fp, owner, t};
    cs->n++;
    return 1;
}

size_t ss_writer_claimset_prune(ss_writer_claimset *cs, uint32_t before) {
    if (!cs->n) return 0;
    size_t keep = 0;
    for (size_t i = 0; i < cs->cap; i++)
        if (cs->slot[i].fp && cs->slot[i].t >= before) keep++;
    size_t dropped = cs->n - keep;
    if (!dropped) return 0;
    size_t ncap = 4096;
    while (keep * 4 > ncap * 3 / 2) ncap *= 2; /* leave room to grow */
    ss_writer_claim_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) { /* keep the old table: pruning is an optimisation */
        return 0;
    }
    for (size_t i = 0; i < cs->cap; i++)
        if (cs->slot[i].fp && cs->slot[i].t >= before) raw_insert(ns, ncap, &cs->slot[i]);
    free(cs->slot);
    cs->slot = ns;
    cs->cap = ncap;
    cs->n = keep;
    return dropped;
}

size_t ss_writer_claimset_bytes(const ss_writer_claimset *cs) { return cs->cap * sizeof *cs->slot; }
