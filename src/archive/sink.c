/* The sink: routes a stream of events to (type, hour) partition files with bounded memory.
 *
 * Every open Parquet writer buffers up to one row group, so memory is bounded by
 * max_open x row_group_bytes whatever the input. Input that is roughly in time order
 * (everything Jetstream and synth produce) keeps a handful of partitions open at a time;
 * when a new partition needs a slot and all are taken, the least recently used file is
 * finished, and a later event for that partition opens an additional part file
 * ("part-TAG-000001", ...). The per-partition part counter outlives the open file, so
 * names stay unique and deterministic for the same input and settings.
 *
 * Input far from time order would make that thrash (one file per few events), so before
 * evicting, an event for a partition that has no slot is *spilled*: its raw JSON is kept
 * in that partition's pending buffer. Only when all pending buffers together pass
 * spill_max does the partition with the most pending bytes get a slot (the least
 * recently used file is finished), and its pending events are decoded again and written
 * in their order. Files then hold batches instead of single events, and memory stays
 * bounded by max_open x row_group_bytes + spill_max. Events without raw JSON (built by
 * hand) are never spilled.
 *
 * Open files are few (tens), so they live in a small array searched linearly, with the
 * last hit checked first; part counters and pending buffers live in an open-addressing
 * table keyed by the hour. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/archive.h"
#include "util/buf.h"

typedef struct {
    ss_ar_file *f;
    ss_type type;
    int64_t hour;
    uint64_t last_use;
} open_slot;

typedef struct {
    int64_t hour; /* -1 = empty */
    uint32_t next_part[SS_TYPE__COUNT];
    ss_buf pending[SS_TYPE__COUNT]; /* spilled events: raw JSON lines, '\n'-terminated */
} part_counter;

struct ss_ar_sink {
    char root[SS_AR_MAX_PATH];
    char tag[SS_AR_MAX_NAME + 1];
    ss_ar_options o;
    int keep_other;
    open_slot *slots;
    size_t max_open, nopen, last;
    uint64_t tick;
    part_counter *ctr;
    size_t ctr_cap, ctr_n;
    ss_ar_sink_stats st;
    size_t spill_max, pending_total;
    ss_decoder *dec; /* for replaying spilled events; created on first use */
    void (*on_file)(void *ctx, ss_type t, const ss_ar_file_result *r);
    void *on_file_ctx;
    char errstr[512];
};

ss_ar_sink *ss_ar_sink_new(const char *root, const char *tag, const ss_ar_options *o, size_t max_open,
                           int keep_other, char *err, size_t errlen) {
    if (!ss_ar_valid_name(tag) || strlen(tag) > SS_AR_MAX_NAME - 12) {
        if (err) snprintf(err, errlen, "invalid file tag '%s'", tag ? tag : "");
        return NULL;
    }
    if (strlen(root) >= SS_AR_MAX_PATH - 200) {
        if (err) snprintf(err, errlen, "output directory path too long");
        return NULL;
    }
    ss_ar_sink *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    snprintf(s->root, sizeof s->root, "%s", root);
    snprintf(s->tag, sizeof s->tag, "%s", tag);
    if (o) s->o = *o;
    else ss_ar_options_init(&s->o);
    s->keep_other = keep_other;
    s->max_open = max_open ? max_open : 1;
    s->slots = calloc(s->max_open, sizeof *s->slots);
    s->ctr_cap = 256;
    s->ctr = malloc(s->ctr_cap * sizeof *s->ctr);
    if (!s->slots || !s->ctr) goto oom;
    for (size_t i = 0; i < s->ctr_cap; i++) s->ctr[i].hour = -1;
    s->spill_max = SS_AR_DEFAULT_SPILL_BYTES;
    return s;
oom:
    if (s) {
        free(s->slots);
        free(s->ctr);
        free(s);
    }
    if (err) snprintf(err, errlen, "out of memory");
    return NULL;
}

const char *ss_ar_sink_errstr(const ss_ar_sink *s) { return s->errstr; }
const ss_ar_sink_stats *ss_ar_sink_stats_get(const ss_ar_sink *s) { return &s->st; }

void ss_ar_sink_on_file(ss_ar_sink *s, void (*fn)(void *ctx, ss_type t, const ss_ar_file_result *r), void *ctx) {
    s->on_file = fn;
    s->on_file_ctx = ctx;
}

static size_t ctr_slot(const part_counter *tab, size_t cap, int64_t hour) {
    uint64_t h = (uint64_t)hour / 3600000000ULL * 0x9E3779B97F4A7C15ULL;
    size_t i = (size_t)(h >> 20) & (cap - 1);
    while (tab[i].hour != -1 && tab[i].hour != hour) i = (i + 1) & (cap - 1);
    return i;
}

/* The table entry of an hour, created if missing (may move the table: do not keep
 * entry pointers across calls). NULL when out of memory. */
static part_counter *ctr_get(ss_ar_sink *s, int64_t hour) {
    if ((s->ctr_n + 1) * 2 > s->ctr_cap) {
        size_t cap = s->ctr_cap * 2;
        part_counter *tab = malloc(cap * sizeof *tab);
        if (!tab) return NULL;
        for (size_t i = 0; i < cap; i++) tab[i].hour = -1;
        for (size_t i = 0; i < s->ctr_cap; i++)
            if (s->ctr[i].hour != -1) tab[ctr_slot(tab, cap, s->ctr[i].hour)] = s->ctr[i];
        free(s->ctr);
        s->ctr = tab;
        s->ctr_cap = cap;
    }
    size_t i = ctr_slot(s->ctr, s->ctr_cap, hour);
    if (s->ctr[i].hour == -1) {
        memset(&s->ctr[i], 0, sizeof s->ctr[i]);
        s->ctr[i].hour = hour;
        s->ctr_n++;
    }
    return &s->ctr[i];
}

/* The part counter for (type, hour); returns the next part number and advances it. */
static int next_part(ss_ar_sink *s, ss_type t, int64_t hour, uint32_t *out) {
    part_counter *pc = ctr_get(s, hour);
    if (!pc) return -1;
    *out = pc->next_part[t]++;
    if (*out == 0) s->st.partitions++;
    return 0;
}

static int finish_slot(ss_ar_sink *s, size_t i) {
    open_slot *sl = &s->slots[i];
    ss_ar_file_result res;
    char err[512];
    int rc = ss_ar_file_finish(sl->f, &res, err, sizeof err);
    ss_type t = sl->type;
    s->slots[i] = s->slots[--s->nopen];
    s->last = 0;
    if (rc != 0) {
        snprintf(s->errstr, sizeof s->errstr, "%s", err);
        return -1;
    }
    s->st.files++;
    s->st.bytes += res.bytes;
    s->st.row_groups += res.row_groups;
    s->st.utf8_replaced += res.utf8_replaced;
    s->st.rows_flagged += res.rows_flagged;
    if (s->on_file) s->on_file(s->on_file_ctx, t, &res);
    return 0;
}

/* Writes the spilled events of (t, hour) into f, in their order, and frees the buffer. */
static int replay_pending(ss_ar_sink *s, ss_ar_file *f, ss_type t, int64_t hour) {
    part_counter *pc = ctr_get(s, hour);
    if (!pc) return snprintf(s->errstr, sizeof s->errstr, "out of memory"), -1;
    if (pc->pending[t].len == 0) return 0;
    ss_buf b = pc->pending[t]; /* take it: decoding cannot move the table, but be plain about ownership */
    ss_buf_init(&pc->pending[t]);
    s->pending_total -= b.len;
    if (!s->dec) {
        ss_decode_limits lim = {SS_AR_MAX_REPLAY_BYTES, SS_AR_MAX_DEPTH};
        if (!(s->dec = ss_decoder_new(&lim))) {
            ss_buf_free(&b);
            return snprintf(s->errstr, sizeof s->errstr, "out of memory"), -1;
        }
    }
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < b.len;) {
        const char *line = b.data + off, *nl = memchr(line, '\n', b.len - off);
        size_t n = (size_t)(nl - line);
        off += n + 1;
        ss_event ev;
        ss_decode_reason r = ss_decode(s->dec, line, n, &ev);
        if (r != SS_DECODE_OK) {
            snprintf(s->errstr, sizeof s->errstr, "replaying a spilled event: %s", ss_decoder_errstr(s->dec));
            rc = -1;
        } else if (ss_ar_file_append(f, &ev) != 0) {
            snprintf(s->errstr, sizeof s->errstr, "%s", ss_ar_file_errstr(f));
            rc = -1;
        }
    }
    ss_buf_free(&b);
    return rc;
}

static ss_ar_file *open_partition(ss_ar_sink *s, ss_type t, int64_t hour) {
    if (s->nopen == s->max_open) {
        size_t lru = 0;
        for (size_t i = 1; i < s->nopen; i++)
            if (s->slots[i].last_use < s->slots[lru].last_use) lru = i;
        s->st.evictions++;
        if (finish_slot(s, lru) != 0) return NULL;
    }
    uint32_t part;
    if (next_part(s, t, hour, &part) != 0) {
        snprintf(s->errstr, sizeof s->errstr, "out of memory");
        return NULL;
    }
    char name[SS_AR_MAX_NAME + 32], err[512];
    snprintf(name, sizeof name, "part-%s-%06u", s->tag, part);
    ss_ar_file *f = ss_ar_file_open(s->root, t, hour, name, &s->o, err, sizeof err);
    if (!f) {
        snprintf(s->errstr, sizeof s->errstr, "%s", err);
        return NULL;
    }
    open_slot *sl = &s->slots[s->nopen];
    sl->f = f;
    sl->type = t;
    sl->hour = hour;
    sl->last_use = ++s->tick;
    s->last = s->nopen++;
    return replay_pending(s, f, t, hour) == 0 ? f : NULL;
}

/* Spills one event into its partition's pending buffer. */
static int spill(ss_ar_sink *s, const ss_event *ev, int64_t hour) {
    part_counter *pc = ctr_get(s, hour);
    ss_buf *b = pc ? &pc->pending[ev->type] : NULL;
    if (!b || ss_buf_reserve(b, ev->raw_len + 1) != 0) {
        snprintf(s->errstr, sizeof s->errstr, "out of memory");
        return -1;
    }
    ss_buf_append(b, ev->raw, ev->raw_len);
    ss_buf_putc(b, '\n');
    s->pending_total += ev->raw_len + 1;
    s->st.spilled++;
    return 0;
}

/* Gives the partition with the most pending bytes a slot; opening it replays them. */
static int flush_largest_pending(ss_ar_sink *s) {
    size_t best = 0, best_i = 0;
    int best_t = -1;
    for (size_t i = 0; i < s->ctr_cap; i++) {
        if (s->ctr[i].hour == -1) continue;
        for (int t = 0; t < SS_TYPE__COUNT; t++)
            if (s->ctr[i].pending[t].len > best) {
                best = s->ctr[i].pending[t].len;
                best_i = i;
                best_t = t;
            }
    }
    if (best_t < 0) return 0;
    return open_partition(s, (ss_type)best_t, s->ctr[best_i].hour) ? 0 : -1;
}

int ss_ar_sink_add(ss_ar_sink *s, const ss_event *ev) {
    if (s->errstr[0]) return -1;
    if ((unsigned)ev->type >= SS_TYPE__COUNT) {
        snprintf(s->errstr, sizeof s->errstr, "event has no valid archive type");
        return -1;
    }
    if (ev->type == SS_TYPE_OTHER && !s->keep_other) {
        s->st.skipped_other++;
        return 1;
    }
    if (ev->time_us < SS_AR_TIME_MIN_US || ev->time_us > SS_AR_TIME_MAX_US) {
        snprintf(s->errstr, sizeof s->errstr, "time_us %lld outside the partitionable range", (long long)ev->time_us);
        return -1;
    }
    int64_t hour = ss_ar_hour_start(ev->time_us);
    open_slot *sl = NULL;
    if (s->nopen && s->slots[s->last].type == ev->type && s->slots[s->last].hour == hour) {
        sl = &s->slots[s->last];
    } else {
        for (size_t i = 0; i < s->nopen; i++)
            if (s->slots[i].type == ev->type && s->slots[i].hour == hour) {
                sl = &s->slots[i];
                s->last = i;
                break;
            }
        if (!sl && s->nopen == s->max_open && s->spill_max && ev->raw) {
            if (spill(s, ev, hour) != 0) return -1;
            s->st.events++;
            s->st.rows[ev->type]++;
            return s->pending_total > s->spill_max ? flush_largest_pending(s) : 0;
        }
        if (!sl) {
            if (!open_partition(s, ev->type, hour)) return -1;
            sl = &s->slots[s->last];
        }
    }
    sl->last_use = ++s->tick;
    if (ss_ar_file_append(sl->f, ev) != 0) {
        snprintf(s->errstr, sizeof s->errstr, "%s", ss_ar_file_errstr(sl->f));
        return -1;
    }
    s->st.events++;
    s->st.rows[ev->type]++;
    return 0;
}

int ss_ar_sink_finish(ss_ar_sink *s) {
    while (!s->errstr[0] && s->pending_total > 0)
        if (flush_largest_pending(s) != 0) break;
    int rc = s->errstr[0] ? -1 : 0;
    while (s->nopen) {
        if (rc != 0) {
            ss_ar_file_abort(s->slots[--s->nopen].f);
            continue;
        }
        /* finish oldest first so files appear in time order */
        size_t lru = 0;
        for (size_t i = 1; i < s->nopen; i++)
            if (s->slots[i].last_use < s->slots[lru].last_use) lru = i;
        if (finish_slot(s, lru) != 0) rc = -1;
    }
    return rc;
}

void ss_ar_sink_set_spill(ss_ar_sink *s, size_t bytes) { s->spill_max = bytes; }

void ss_ar_sink_free(ss_ar_sink *s) {
    if (!s) return;
    while (s->nopen) ss_ar_file_abort(s->slots[--s->nopen].f);
    for (size_t i = 0; i < s->ctr_cap; i++)
        if (s->ctr[i].hour != -1)
            for (int t = 0; t < SS_TYPE__COUNT; t++) ss_buf_free(&s->ctr[i].pending[t]);
    ss_decoder_free(s->dec);
    free(s->slots);
    free(s->ctr);
    free(s);
}
