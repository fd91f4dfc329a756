/* Arena-built hiredis replies; see reply_arena.h for why and the rules.
 *
 * Chunks are bump-allocated, 8-byte aligned. A reset rewinds every chunk and frees those
 * beyond KEEP_BYTES, so one huge reply does not pin its memory forever. An object that does
 * not fit the current chunk moves to the next free one, or to a new chunk of
 * max(CHUNK_BYTES, size). When a chunk cannot be had, the create function returns NULL and
 * hiredis reports "Out of memory" on the context, as with its own allocator. */
#include "buffer/reply_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES (1u << 20)
#define KEEP_BYTES (8u << 20)

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    unsigned char data[];
} chunk;

struct ss_reply_arena {
    chunk *head; /* chunks in use order; cur is the one being filled */
    chunk *cur;
    size_t bytes;
};

ss_reply_arena *ss_reply_arena_new(void) { return calloc(1, sizeof(ss_reply_arena)); }

void ss_reply_arena_free(ss_reply_arena *a) {
    if (!a) return;
    for (chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

void ss_reply_arena_reset(ss_reply_arena *a) {
    size_t kept = 0;
    chunk **link = &a->head;
    while (*link) {
        chunk *c = *link;
        if (kept + c->cap > KEEP_BYTES) {
            *link = c->next;
            a->bytes -= c->cap;
            free(c);
            continue;
        }
        kept += c->cap;
        c->used = 0;
        link = &c->next;
    }
    a->cur = a->head;
}

size_t ss_reply_arena_bytes(const ss_reply_arena *a) { return a ? a->bytes : 0; }

/* Chunks after cur are always unused (filled in order since the last reset), so the search
 * only moves forward; a big object may leave the rest of a chunk unused until the reset. */
static void *arena_alloc(ss_reply_arena *a, size_t n) {
    n = (n + 7) & ~(size_t)7;
    chunk *c = a->cur;
    while (c && c->cap - c->used < n) c = c->next;
    if (!c) {
        size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
        if (!(c = malloc(sizeof *c + cap))) return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = NULL;
        chunk **link = &a->head; /* append: the chunks before it are full or skipped */
        while (*link) link = &(*link)->next;
        *link = c;
        a->bytes += cap;
    }
    a->cur = c;
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static redisReply *new_reply(const redisReadTask *task, size_t extra) {
    ss_reply_arena *a = task->privdata;
    redisReply *r = arena_alloc(a, sizeof *r + extra);
    if (!r) return NULL;
    memset(r, 0, sizeof *r);
    r->type = task->type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len) {
    redisReply *r = new_reply(task, len + 1);
    if (!r) return NULL;
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements) {
    size_t n = elements > 0 ? (size_t)elements : 0;
    redisReply *r = new_reply(task, n * sizeof(redisReply *));
    if (!r) return NULL;
    r->elements = n;
    r->element = n ? (redisReply **)(r + 1) : NULL;
    if (n) memset(r->element, 0, n * sizeof(redisReply *));
    return r;
}

static void *create_integer(const redisReadTask *task, long long value) {
    redisReply *r = new_reply(task, 0);
    if (r) r->integer = value;
    return r;
}

static void *create_nil(const redisReadTask *task) {
    redisReply *r = new_reply(task, 0); /* the task says what was expected ($-1, *-1) */
    if (r) r->type = REDIS_REPLY_NIL;
    return r;
}

static void free_object(void *obj) { (void)obj; /* the arena's reset frees everything */ }

static redisReplyObjectFunctions arena_fns = {create_string, create_array, create_integer, create_nil, free_object};

void ss_reply_arena_attach_reader(redisReader *r, ss_reply_arena *a) {
    if (!r) return;
    r->fn = &arena_fns;
    r->privdata = a;
}

void ss_reply_arena_attach(redisContext *c, ss_reply_arena *a) {
    if (c) ss_reply_arena_attach_reader(c->reader, a);
}
