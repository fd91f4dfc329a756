/* Row-by-row exactly-once: the dedup keys of an input against those of the archive.
 *
 * The checks' lost/duplicated figures used to be counts (distinct keys served vs rows in the
 * Parquet footers), where a lost row and a duplicated one cancel out. This compares the keys
 * themselves: every input key must appear exactly once in the archive and nothing else may.
 * Keys are the 16-byte dedup keys of event/event.h (ss_event_dedup_key); both lists are given
 * in any order, as flat arrays of n * 16 bytes, and are sorted in place. Input keys repeated
 * in the input (planted duplicates) count once: the archive must hold them once.
 * Pure computation: no I/O, nothing printed. */
#ifndef SS_CHECK_KEYCMP_H
#define SS_CHECK_KEYCMP_H

#include <stddef.h>
#include <stdint.h>

#define SS_KEYCMP_EXAMPLES 5 /* examples kept per kind */

typedef struct {
    long long expected;   /* distinct input keys */
    long long rows;       /* archive keys (rows), repeats included */
    long long matched;    /* input keys found exactly once */
    long long lost;       /* input keys absent from the archive */
    long long duplicated; /* extra rows of input keys found more than once (2 rows = 1) */
    long long unexpected; /* archive rows whose key is not an input key */
    /* a few examples of each kind, in key order */
    uint8_t lost_ex[SS_KEYCMP_EXAMPLES][16], dup_ex[SS_KEYCMP_EXAMPLES][16], unexp_ex[SS_KEYCMP_EXAMPLES][16];
    int n_lost_ex, n_dup_ex, n_unexp_ex;
} ss_keycmp_result;

/* Sorts both arrays in place and compares them. */
void ss_keycmp(uint8_t *in, size_t nin, uint8_t *out, size_t nout, ss_keycmp_result *res);
/* The same comparison, streaming the archive side: the input keys are sorted (and their
 * repeats folded) once, then each archive row's key is looked up by binary search and
 * counted in one byte per input key, so memory is the input array plus n bytes, whatever
 * the archive's size (a 1-hour soak: 7.2 M keys, 115 MB + 7 MB; no per-row allocation).
 * Lost and duplicated examples are in key order, unexpected ones in arrival order.
 *
 *     ss_keycmp_stream s;
 *     if (ss_keycmp_stream_init(&s, in, nin) != 0) ...   // out of memory
 *     for each row: ss_keycmp_stream_add(&s, key);
 *     ss_keycmp_stream_finish(&s, &res); ss_keycmp_stream_free(&s); */
typedef struct {
    uint8_t *in;     /* borrowed: sorted, repeats folded to the front n entries */
    size_t n;
    uint8_t *seen;   /* rows per input key, saturating at 255 */
    long long rows, unexpected, extra_dups; /* extra_dups: rows beyond 255 of one key */
    uint8_t unexp_ex[SS_KEYCMP_EXAMPLES][16];
    int n_unexp_ex;
} ss_keycmp_stream;

/* Sorts in and folds its repeats in place (in is borrowed until free). 0, or -1 out of memory. */
int ss_keycmp_stream_init(ss_keycmp_stream *s, uint8_t *in, size_t nin);
void ss_keycmp_stream_add(ss_keycmp_stream *s, const uint8_t key[16]);
void ss_keycmp_stream_finish(const ss_keycmp_stream *s, ss_keycmp_result *res);
void ss_keycmp_stream_free(ss_keycmp_stream *s);

/* 32 hex digits and a NUL. */
void ss_keycmp_hex(const uint8_t key[16], char hex[33]);

#endif
