/* See did_resolve.h. One reused curl easy handle (keeps the connection to the directory),
 * a chained hash of resolved DIDs threaded on an LRU list, and a network-down breaker.
 * libcurl is a required dependency (CMakeLists.txt), shared with the S3 store. */
#include "source/firehose/did_resolve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "source/firehose/did_cache.h"
#include "util/log.h"
#include "util/clock.h"
#include "util/hash.h"

static int url_char_ok(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '-' || ch == '_' || ch == ':' || ch == '%';
}

int ss_did_doc_url(const char *plc, const char *did, size_t n, char *out, size_t cap) {
    if (n > SS_DID_LEN_MAX) return -1;
    for (size_t i = 0; i < n; i++)
        if (!url_char_ok(did[i])) return -1;
    if (n > 8 && !memcmp(did, "did:plc:", 8)) {
        if (!plc || !*plc) plc = "https://plc.directory";
        size_t pl = strlen(plc);
        while (pl && plc[pl - 1] == '/') pl--;
        int w = snprintf(out, cap, "%.*s/%.*s", (int)pl, plc, (int)n, did);
        return w < 0 || (size_t)w >= cap ? -1 : 0;
    }
    if (n > 8 && !memcmp(did, "did:web:", 8)) {
        const char *p = did + 8, *end = did + n;
        size_t o = 0;
        int w = snprintf(out, cap, "https://");
        if (w < 0 || (size_t)w >= cap) return -1;
        o = (size_t)w;
        int segs = 0, in_host = 1;
        for (; p < end; p++) {
            char ch = *p;
            if (ch == ':') {
                if (p + 1 == end || p[1] == ':') return -1; /* an empty segment */
                ch = '/', in_host = 0, segs++;
            } else if (ch == '%') {
                /* percent-decoding: in the host only %3A (a port) is meaningful */
                if (end - p < 3) return -1;
                if (in_host && (p[1] == '3') && (p[2] == 'A' || p[2] == 'a')) ch = ':', p += 2;
                else if (in_host) return -1;
            }
            if (o + 1 >= cap) return -1;
            out[o++] = ch;
        }
        if (o == 8) return -1; /* no host */
        const char *tail = segs ? "/did.json" : "/.well-known/did.json";
        w = snprintf(out + o, cap - o, "%s", tail);
        return w < 0 || (size_t)w >= cap - o ? -1 : 0;
    }
    return -1;
}

enum { ST_KEY, ST_NO_KEY, ST_FAILED };

typedef struct node {
    struct node *hnext;        /* hash chain */
    struct node *prev, *next;  /* LRU list, most recent first */
    char *did;
    int state;
    ss_fh_pubkey key;
    int64_t retry_at;          /* ST_NO_KEY / ST_FAILED: not asked again before (s) */
    int64_t fetched_at;        /* the last request (s), for the refresh rate limit */
    int fails;                 /* consecutive failures, for the backoff */
} node;

struct ss_did_resolver {
    CURL *curl;
    char *plc, *dir;
    int connect_ms, total_ms;
    size_t max_entries, count, nbuckets;
    node **buckets;
    node *head, *tail;
    int transport_fails;       /* consecutive, all DIDs */
    int64_t down_until;        /* the network is considered down until then (s) */
    int down_s;                /* the current down period */
    ss_did_resolver_stats st;
    char *body;
    size_t body_n;
    int body_over;
};

ss_did_resolver *ss_did_resolver_new(const ss_did_resolver_opts *o, char *err, size_t errlen) {
    static int global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) return snprintf(err, errlen, "libcurl: global init failed"), NULL;
        global_done = 1;
    }
    ss_did_resolver *r = calloc(1, sizeof *r);
    if (!r) return snprintf(err, errlen, "out of memory"), NULL;
    r->connect_ms = o && o->connect_timeout_ms > 0 ? o->connect_timeout_ms : SS_DID_CONNECT_MS;
    r->total_ms = o && o->total_timeout_ms > 0 ? o->total_timeout_ms : SS_DID_TOTAL_MS;
    r->max_entries = o && o->max_entries ? o->max_entries : SS_DID_RESOLVED_MAX;
    r->nbuckets = 1024;
    while (r->nbuckets < r->max_entries && r->nbuckets < (1u << 20)) r->nbuckets *= 2;
    r->down_s = SS_DID_DOWN_MIN_S;
    r->buckets = calloc(r->nbuckets, sizeof *r->buckets);
    r->plc = strdup(o && o->plc_directory && *o->plc_directory ? o->plc_directory : "https://plc.directory");
    r->dir = o && o->write_dir ? strdup(o->write_dir) : NULL;
    r->body = malloc(SS_DID_DOC_MAX + 1);
    r->curl = curl_easy_init();
    if (!r->buckets || !r->plc || (o && o->write_dir && !r->dir) || !r->body || !r->curl) {
        snprintf(err, errlen, "out of memory (or libcurl could not start)");
        ss_did_resolver_free(r);
        return NULL;
    }
    return r;
}

void ss_did_resolver_free(ss_did_resolver *r) {
    if (!r) return;
    for (node *n = r->head, *nx; n; n = nx) {
        nx = n->next;
        free(n->did);
        free(n);
    }
    if (r->curl) curl_easy_cleanup(r->curl);
    free(r->buckets);
    free(r->plc);
    free(r->dir);
    free(r->body);
    free(r);
}

void ss_did_resolver_get_stats(const ss_did_resolver *r, ss_did_resolver_stats *out) { *out = r->st; }

static node **slot_of(ss_did_resolver *r, const char *did, size_t n) {
    node **pp = &r->buckets[ss_fnv1a64(did, n) & (r->nbuckets - 1)];
    while (*pp && !(strlen((*pp)->did) == n && !memcmp((*pp)->did, did, n))) pp = &(*pp)->hnext;
    return pp;
}

static void lru_unlink(ss_did_resolver *r, node *x) {
    if (x->prev) x->prev->next = x->next;
    else r->head = x->next;
    if (x->next) x->next->prev = x->prev;
    else r->tail = x->prev;
    x->prev = x->next = NULL;
}

static void lru_front(ss_did_resolver *r, node *x) {
    x->next = r->head;
    if (r->head) r->head->prev = x;
    r->head = x;
    if (!r->tail) r->tail = x;
}

static void evict_one(ss_did_resolver *r) {
    node *x = r->tail;
    if (!x) return;
    lru_unlink(r, x);
    node **pp = slot_of(r, x->did, strlen(x->did));
    if (*pp == x) *pp = x->hnext;
    free(x->did);
    free(x);
    r->count--;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
    ss_did_resolver *r = ud;
    size_t n = size * nmemb;
    if (r->body_n + n > SS_DID_DOC_MAX) {
        r->body_over = 1;
        return 0; /* aborts the transfer */
    }
    memcpy(r->body + r->body_n, p, n);
    r->body_n += n;
    return n;
}

/* Writes the document as <dir>/<did>.json, atomically (temporary file, then rename). */
static void write_back(ss_did_resolver *r, const char *did, size_t n) {
    char tmp[4096], final[4096];
    int a = snprintf(final, sizeof final, "%s/%.*s.json", r->dir, (int)n, did);
    int b = snprintf(tmp, sizeof tmp, "%s/.%.*s.json.tmp%ld", r->dir, (int)n, did, (long)getpid());
    if (a < 0 || b < 0 || (size_t)a >= sizeof final || (size_t)b >= sizeof tmp) return;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ss_warn("did", "cannot write (%s): %s", strerror(errno), tmp);
        return;
    }
    int bad = fwrite(r->body, 1, r->body_n, f) != r->body_n;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, final) != 0) {
        ss_warn("did", "cannot write (%s): %s", strerror(errno), final);
        unlink(tmp);
    }
}

/* One request. ST_KEY (key set), ST_NO_KEY (404, no key, unsupported method), ST_FAILED;
 * *transport = 1 when the failure was the network's (not the document's). */
static int fetch(ss_did_resolver *r, const char *did, size_t n, ss_fh_pubkey *key, int *transport) {
    char url[SS_DID_URL_MAX];
    *transport = 0;
    if (ss_did_doc_url(r->plc, did, n, url, sizeof url) < 0) return ST_NO_KEY;
    r->st.requests++;
    r->body_n = 0, r->body_over = 0;
    CURL *c = r->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)r->connect_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)r->total_ms);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "skyspool");
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)SS_DID_DOC_MAX);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK && !r->body_over) {
        r->st.failures++;
        *transport = 1;
        ss_debug("did", "%s: %s", url, curl_easy_strerror(cc));
        return ST_FAILED;
    }
    if (status == 404 || status == 410) return ST_NO_KEY;
    if (r->body_over || status != 200) {
        r->st.failures++;
        ss_debug("did", "%s: HTTP %ld%s", url, status, r->body_over ? ", over the size limit" : "");
        return ST_FAILED;
    }
    r->body[r->body_n] = '\0';
    int k = ss_did_doc_key(r->body, r->body_n, did, n, key);
    if (k < 0) {
        r->st.failures++;
        ss_debug("did", "%s: not a DID document of %.*s", url, (int)n, did);
        return ST_FAILED;
    }
    if (k == 0) return ST_NO_KEY;
    if (r->dir) write_back(r, did, n);
    return ST_KEY;
}

int ss_did_resolver_peek(ss_did_resolver *r, const char *did, size_t n, ss_fh_pubkey *key) {
    node *x = *slot_of(r, did, n);
    if (!x || x->state != ST_KEY) return 0;
    *key = x->key;
    return 1;
}

int ss_did_resolver_key(ss_did_resolver *r, const char *did, size_t n, int refresh, ss_fh_pubkey *key) {
    if (n == 0 || n > SS_DID_LEN_MAX) return SS_DID_NO_KEY;
    int64_t now = (ss_mono_ms() / 1000);
    node **pp = slot_of(r, did, n), *x = *pp;
    if (x) {
        lru_unlink(r, x);
        lru_front(r, x);
        if (!refresh) {
            if (x->state == ST_KEY) return *key = x->key, SS_DID_KEY;
            if (now < x->retry_at) return x->state == ST_NO_KEY ? SS_DID_NO_KEY : SS_DID_FAILED;
        } else if (now - x->fetched_at < SS_DID_REFRESH_MIN_S) {
            return SS_DID_NO_KEY; /* asked again too recently: nothing newer */
        }
    }
    if (now < r->down_until) return SS_DID_FAILED; /* the network is down: no request */
    if (!x) {
        if (r->count >= r->max_entries) evict_one(r);
        pp = slot_of(r, did, n); /* eviction may have changed the chain */
        if (!(x = calloc(1, sizeof *x)) || !(x->did = strndup(did, n))) {
            free(x);
            return SS_DID_FAILED;
        }
        x->state = ST_FAILED;
        *pp = x;
        lru_front(r, x);
        r->count++;
    }
    int transport;
    ss_fh_pubkey k;
    int st = fetch(r, did, n, &k, &transport);
    x->fetched_at = (ss_mono_ms() / 1000);
    if (transport) {
        if (++r->transport_fails >= SS_DID_DOWN_AFTER) {
            r->down_until = x->fetched_at + r->down_s;
            ss_warn("did", "DID resolution failed %d times in a row (last %.*s): treating the network as down for %d s",
                    r->transport_fails, (int)(n > 80 ? 80 : n), did, r->down_s);
            r->down_s = r->down_s * 2 > SS_DID_DOWN_MAX_S ? SS_DID_DOWN_MAX_S : r->down_s * 2;
        }
    } else {
        r->transport_fails = 0;
        r->down_s = SS_DID_DOWN_MIN_S;
    }
    if (st == ST_KEY) {
        x->state = ST_KEY, x->key = k, x->fails = 0;
        *key = k;
        return SS_DID_KEY;
    }
    if (refresh && x->state == ST_KEY) return SS_DID_NO_KEY; /* keep the key we had */
    if (st == ST_NO_KEY) {
        x->state = ST_NO_KEY, x->fails = 0;
        x->retry_at = x->fetched_at + SS_DID_NOT_FOUND_S;
        return SS_DID_NO_KEY;
    }
    int64_t wait = SS_DID_RETRY_MIN_S;
    for (int i = 0; i < x->fails && wait < SS_DID_RETRY_MAX_S; i++) wait *= 2;
    if (wait > SS_DID_RETRY_MAX_S) wait = SS_DID_RETRY_MAX_S;
    x->fails++;
    x->state = ST_FAILED;
    x->retry_at = x->fetched_at + wait;
    return SS_DID_FAILED;
}
