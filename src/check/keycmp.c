/* Row-by-row exactly-once comparison of dedup keys (keycmp.h): sort both lists, then one
 * merge walk. Sorting is O(n log n) on 16-byte records, a few hundred ms for millions of
 * keys, which is nothing next to reading the archive back. */
#include "check/keycmp.h"

#include <stdlib.h>
#include <string.h>

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }

static void keep(uint8_t ex[][16], int *n, const uint8_t *k) {
    if (*n < SS_KEYCMP_EXAMPLES) memcpy(ex[(*n)++], k, 16);
}

void ss_keycmp(uint8_t *in, size_t nin, uint8_t *out, size_t nout, ss_keycmp_result *res) {
    memset(res, 0, sizeof *res);
    if (nin) qsort(in, nin, 16, cmp16);
    if (nout) qsort(out, nout, 16, cmp16);
    res->rows = (long long)nout;
    size_t i = 0, j = 0;
    while (i < nin || j < nout) {
        int c = i == nin ? 1 : j == nout ? -1 : memcmp(in + 16 * i, out + 16 * j, 16);
        if (c < 0) { /* an input key (and its repeats) with no row */
            const uint8_t *k = in + 16 * i;
            res->expected++;
            res->lost++;
            keep(res->lost_ex, &res->n_lost_ex, k);
            while (i < nin && memcmp(in + 16 * i, k, 16) == 0) i++;
        } else if (c > 0) { /* a row of no input key */
            res->unexpected++;
            keep(res->unexp_ex, &res->n_unexp_ex, out + 16 * j);
            j++;
        } else {
            const uint8_t *k = in + 16 * i;
            res->expected++;
            while (i < nin && memcmp(in + 16 * i, k, 16) == 0) i++;
            size_t r = 0;
            while (j < nout && memcmp(out + 16 * j, k, 16) == 0) j++, r++;
            if (r == 1) res->matched++;
            else {
                res->duplicated += (long long)(r - 1);
                keep(res->dup_ex, &res->n_dup_ex, k);
            }
        }
    }
}

int ss_keycmp_stream_init(ss_keycmp_stream *s, uint8_t *in, size_t nin) {
    memset(s, 0, sizeof *s);
    if (nin) qsort(in, nin, 16, cmp16);
    size_t n = 0;
    for (size_t i = 0; i < nin; i++)
        if (n == 0 || memcmp(in + 16 * i, in + 16 * (n - 1), 16) != 0) {
            if (n != i) memcpy(in + 16 * n, in + 16 * i, 16);
            n++;
        }
    s->in = in;
    s->n = n;
    s->seen = calloc(n ? n : 1, 1);
    return s->seen ? 0 : -1;
}

void ss_keycmp_stream_add(ss_keycmp_stream *s, const uint8_t key[16]) {
    s->rows++;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(s->in + 16 * mid, key, 16);
        if (c == 0) {
            if (s->seen[mid] < 255) s->seen[mid]++;
            else s->extra_dups++;
            return;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    s->unexpected++;
    keep(s->unexp_ex, &s->n_unexp_ex, key);
}

void ss_keycmp_stream_finish(const ss_keycmp_stream *s, ss_keycmp_result *res) {
    memset(res, 0, sizeof *res);
    res->expected = (long long)s->n;
    res->rows = s->rows;
    res->unexpected = s->unexpected;
    res->duplicated = s->extra_dups;
    memcpy(res->unexp_ex, s->unexp_ex, sizeof res->unexp_ex);
    res->n_unexp_ex = s->n_unexp_ex;
    for (size_t i = 0; i < s->n; i++) {
        const uint8_t *k = s->in + 16 * i;
        if (s->seen[i] == 0) {
            res->lost++;
            keep(res->lost_ex, &res->n_lost_ex, k);
        } else if (s->seen[i] == 1) {
            res->matched++;
        } else {
            res->duplicated += s->seen[i] - 1;
            keep(res->dup_ex, &res->n_dup_ex, k);
        }
    }
}

void ss_keycmp_stream_free(ss_keycmp_stream *s) {
    free(s->seen);
    s->seen = NULL;
}

void ss_keycmp_hex(const uint8_t key[16], char hex[33]) {
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = d[key[i] >> 4];
        hex[2 * i + 1] = d[key[i] & 15];
    }
    hex[32] = '\0';
}
