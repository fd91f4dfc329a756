/* The synthetic firehose: realistic, reproducible Jetstream v1 JSONL.
 *
 * `skyspool synth` and the `synth:` source both use this generator, so the command's
 * output and what the source yields are the same bytes.
 *
 * Every output line ("slot") i is a pure function of (params, i): slot i draws from its
 * own PRNG stream seeded from (seed, i), and time_us is derived from i and the rate.
 * That gives byte-identical output for the same arguments on any machine (no libc rand,
 * no locale, no time zone), and O(1) seeking: the source's cursor is a slot index and
 * seek just sets it. Accounts come from a fixed Zipf-like population so actors repeat.
 * Likes, reposts, quotes and replies point at posts of earlier slots (Zipf-like popularity,
 * threads with a real root), and deletes at earlier creates: a record's identity is a pure
 * function of its slot, so these references need no state (docs/design/sources.md,
 * "References to its own events").
 *
 * A slot is one of:
 *   - good: a fresh event (post, like, ... in the Nov 2024 network mix);
 *   - dup:  an exact copy of an earlier good slot's line (planted with dup_frac);
 *   - bad:  a malformed line of a known kind (planted with bad_frac), for dead-letter tests.
 * Slot categories, types and operations can be computed without formatting JSON
 * (ss_synth_plan), which keeps statistical tests fast. */
#ifndef SS_SYNTH_H
#define SS_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "event/event.h"
#include "util/buf.h"

#define SS_SYNTH_MAX_EVENTS 10000000000000LL /* 1e13 slots */
#define SS_SYNTH_MAX_RATE 1e7                /* events per simulated second */
#define SS_SYNTH_DEFAULT_RATE 2000.0
#define SS_SYNTH_DEFAULT_START_US 1754524800000000LL /* 2025-08-07T00:00:00Z */
#define SS_SYNTH_DEFAULT_OTHER_FRAC 0.019
#define SS_SYNTH_OVERSIZE_BYTES (2u * 1024 * 1024 + 4096) /* > the 2 MiB default limit */
#define SS_SYNTH_DUP_WINDOW 2000 /* a duplicate repeats one of the last N slots */

typedef struct {
    int64_t events;      /* number of lines (slots); required */
    uint64_t seed;       /* default 1 */
    int64_t start_us;    /* time_us of slot 0 */
    double rate;         /* slots per simulated second */
    double jitter_frac;  /* share of good events whose time_us is moved by up to +-jitter_us */
    int64_t jitter_us;
    double dup_frac;     /* share of slots that repeat an earlier line */
    double bad_frac;     /* share of slots that are malformed */
    int bad_oversize;    /* include lines over 2 MiB among the bad kinds */
    double other_frac;   /* share of good events in non-archived collections (type other) */
} ss_synth_params;

typedef enum { SS_SYNTH_GOOD = 0, SS_SYNTH_DUP, SS_SYNTH_BAD } ss_synth_cat;

/* Kinds of planted malformed lines, with the decoder reason each one must produce. */
typedef enum {
    SS_SYNTH_BAD_NOT_JSON = 0, /* not_json */
    SS_SYNTH_BAD_TRUNCATED,    /* not_json */
    SS_SYNTH_BAD_UTF8,         /* bad_utf8: invalid UTF-8 bytes inside a string */
    SS_SYNTH_BAD_SURROGATE,    /* bad_utf8: lone surrogate escape "\ud83e" */
    SS_SYNTH_BAD_MISSING,      /* missing_field */
    SS_SYNTH_BAD_WRONG_TYPE,   /* wrong_type */
    SS_SYNTH_BAD_OVERSIZE,     /* too_large (only with bad_oversize) */
    SS_SYNTH_BAD__COUNT
} ss_synth_bad_kind;

const char *ss_synth_bad_kind_name(ss_synth_bad_kind k);   /* "not_json", "truncated", ... */
const char *ss_synth_bad_kind_reason(ss_synth_bad_kind k); /* decoder reason name */

/* What a slot is, decided without formatting its line. */
typedef struct {
    ss_synth_cat cat;
    int64_t source_slot;     /* the slot whose event this line carries (== slot unless dup) */
    ss_type type;            /* of the event (good and dup) */
    ss_op op;                /* SS_OP_NONE for identity/account */
    ss_synth_bad_kind bad;   /* when cat == BAD */
    int jittered;            /* time_us moved by the jitter option */
} ss_synth_slot;

typedef struct {
    int64_t lines, bytes;           /* bytes include the '\n' of each line */
    int64_t good, dups, bad;
    int64_t unique[SS_TYPE__COUNT]; /* fresh events per type */
    int64_t total[SS_TYPE__COUNT];  /* fresh + duplicated lines per type */
    int64_t ops[4];                 /* fresh commits per ss_op (index 0 = identity/account) */
    int64_t ops_total[4];           /* the same, duplicates included */
    int64_t bad_kind[SS_SYNTH_BAD__COUNT];
    int64_t jittered;
} ss_synth_stats;

void ss_synth_params_init(ss_synth_params *p);
/* Checks ranges; returns 0 or -1 with a message saying what to fix. */
int ss_synth_params_check(const ss_synth_params *p, char *err, size_t errlen);
/* Parses the `synth:` source arguments "events=N,seed=S,start=ISO|us,rate=R,dup=F,bad=F,
 * jitter=F,jitter_us=U,other=F,oversize=0|1" over the defaults. Returns 0 or -1 with err. */
int ss_synth_params_parse(ss_synth_params *p, const char *args, char *err, size_t errlen);
/* The canonical argument string (every parameter, fixed order), for source ids. */
void ss_synth_params_canonical(const ss_synth_params *p, char *out, size_t outlen);
/* Parses "2025-08-07T00:00:00Z" (optionally with fractional seconds) or plain
 * microseconds since the epoch. Returns 0 or -1. */
int ss_synth_parse_time(const char *s, int64_t *us);

typedef struct ss_synth ss_synth;

ss_synth *ss_synth_new(const ss_synth_params *p); /* NULL on OOM; params must be checked */
void ss_synth_free(ss_synth *g);
/* Decides what slot i is (0 <= i < events). Cheap: no JSON is built. */
void ss_synth_plan(const ss_synth *g, int64_t slot, ss_synth_slot *out);
/* Formats slot i's line (no trailing newline) into out (reset first). Returns 0, -1 on OOM.
 * plan may be NULL. */
int ss_synth_line(ss_synth *g, int64_t slot, ss_buf *out, ss_synth_slot *plan);
/* Adds a formatted slot to stats. */
void ss_synth_stats_add(ss_synth_stats *st, const ss_synth_slot *plan, size_t line_len);
/* Writes the stats as one JSON object (see docs/design/sources.md, "Synthetic firehose"). */
int ss_synth_stats_json(const ss_synth_stats *st, const ss_synth_params *p, ss_buf *out);

#endif
