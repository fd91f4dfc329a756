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
 * Open files are few (tens), so they live in a small array searched linearly, with the
 * last hit checked first; part counters live in an open-addressing table keyed by
 * (type, hour). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/archive.h"

typedef struct {
    ss_ar_file *f;
    ss_type type;
    int64_t hour;
    uint64_t last_use;
} open_slot;

typedef struct {
    int64_t hour; /* -1 = empty */
    uint32_t next_part[SS_TYPE__COUNT];
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

/* The part counter for (type, hour); returns the next part number and advances it. */
static int next_part(ss_ar_sink *s, ss_type t, int64_t hour, uint32_t *out) {
    if ((s->ctr_n + 1) * 2 > s->ctr_cap) {
        size_t cap = s->ctr_cap * 2;
        part_counter *tab = malloc(cap * sizeof *tab);
        if (!tab) return -1;
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
    *out = s->ctr[i].next_part[t]++;
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
    s->last = s->nopen++;
    return f;
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

void ss_ar_sink_free(ss_ar_sink *s) {
    if (!s) return;
    while (s->nopen) ss_ar_file_abort(s->slots[--s->nopen].f);
    free(s->slots);
    free(s->ctr);
    free(s);
}
