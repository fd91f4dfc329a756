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
/* 32 hex digits and a NUL. */
void ss_keycmp_hex(const uint8_t key[16], char hex[33]);

#endif
