/* The per-stream record of confirmed XADD ids (confirmed.h): a counter and a ring of
 * per-second starting counts, so recording an id is a compare and an increment. */
#include "buffer/confirmed.h"

#include <string.h>

int ss_confirmed_parse_id(const char *s, size_t n, uint64_t *ms, uint64_t *seq) {
    uint64_t a = 0, b = 0;
    size_t i = 0, d0;
    for (d0 = i; i < n && s[i] >= '0' && s[i] <= '9' && i - d0 < 19; i++) a = a * 10 + (uint64_t)(s[i] - '0');
    if (i == d0 || i >= n || s[i] != '-') return -1;
    i++;
    for (d0 = i; i < n && s[i] >= '0' && s[i] <= '9' && i - d0 < 19; i++) b = b * 10 + (uint64_t)(s[i] - '0');
    if (i == d0 || i != n) return -1;
    *ms = a;
    *seq = b;
    return 0;
}

void ss_confirmed_note(ss_confirmed *c, uint64_t ms, uint64_t seq) {
    uint64_t sec = ms / 1000;
    int newest = (c->head + c->n - 1) % SS_CONFIRMED_SECONDS;
    if (c->n == 0 || c->ring[newest].sec < sec) {
        int at = (c->head + c->n) % SS_CONFIRMED_SECONDS;
        if (c->n == SS_CONFIRMED_SECONDS) c->head = (c->head + 1) % SS_CONFIRMED_SECONDS; /* drop the oldest */
        else c->n++;
        c->ring[at].sec = sec;
        c->ring[at].before = c->total;
    }
    c->total++;
    if (!c->has_last || ms > c->last_ms || (ms == c->last_ms && seq > c->last_seq)) {
        c->last_ms = ms;
        c->last_seq = seq;
        c->has_last = 1;
    }
}

uint64_t ss_confirmed_after(const ss_confirmed *c, uint64_t ms, uint64_t seq) {
    if (!c->has_last || c->last_ms < ms || (c->last_ms == ms && c->last_seq <= seq)) return 0;
    uint64_t sec = ms / 1000;
    for (int i = 0; i < c->n; i++) {
        int k = (c->head + i) % SS_CONFIRMED_SECONDS;
        if (c->ring[k].sec >= sec) {
            /* older than the ring: every id before ring[head] may be newer too */
            if (i == 0 && c->ring[k].sec > sec) return c->total;
            return c->total - c->ring[k].before;
        }
    }
    return c->total; /* not reached: the newest second holds last_ms >= ms */
}

void ss_confirmed_reset(ss_confirmed *c) { memset(c, 0, sizeof *c); }
