/* Growable byte buffer and the Thrift compact protocol writer.
 *
 * Parquet's page headers and footer are Thrift structs in the compact protocol. We only
 * ever write them, always in ascending field id order, so a tiny streaming encoder is
 * enough: a field header is the id delta from the previous field of the same struct
 * (kept on a small stack, reset per struct) packed with the type into one byte when the
 * delta is 1..15, else the type byte followed by the zigzag-varint id. Integers are
 * zigzag varints, binaries a varint length plus bytes, lists a size/type header. */
#include <stdlib.h>

#include "pq_internal.h"

int ss_pqbuf_grow(ss_pqbuf *b, size_t extra) {
    if (b->oom) return -1;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + extra, cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void ss_pqbuf_free(ss_pqbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

void ss_pqbuf_uvarint(ss_pqbuf *b, uint64_t v) {
    if (ss_pqbuf_reserve(b, 10)) return;
    uint8_t *p = b->p + b->len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len = (size_t)(p - b->p);
}

void ss_tc_init(ss_tc *t, ss_pqbuf *b) {
    t->b = b;
    t->depth = 0;
    t->last[0] = 0;
}

uint64_t ss_tc_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

void ss_tc_field(ss_tc *t, int16_t id, int type) {
    int delta = id - t->last[t->depth];
    if (delta > 0 && delta <= 15) {
        ss_pqbuf_byte(t->b, (uint8_t)(delta << 4 | type));
    } else {
        ss_pqbuf_byte(t->b, (uint8_t)type);
        ss_pqbuf_uvarint(t->b, ss_tc_zigzag(id));
    }
    t->last[t->depth] = id;
}

void ss_tc_i32(ss_tc *t, int16_t id, int32_t v) {
    ss_tc_field(t, id, SS_TC_I32);
    ss_pqbuf_uvarint(t->b, ss_tc_zigzag(v));
}

void ss_tc_i64(ss_tc *t, int16_t id, int64_t v) {
    ss_tc_field(t, id, SS_TC_I64);
    ss_pqbuf_uvarint(t->b, ss_tc_zigzag(v));
}

void ss_tc_bool(ss_tc *t, int16_t id, int v) { ss_tc_field(t, id, v ? SS_TC_TRUE : SS_TC_FALSE); }

void ss_tc_binary(ss_tc *t, int16_t id, const void *p, size_t n) {
    ss_tc_field(t, id, SS_TC_BINARY);
    ss_tc_elem_binary(t, p, n);
}

static void push(ss_tc *t) {
    /* Depth is fixed by our own code (the footer nests 5 deep); overflow is a bug. */
    if (t->depth + 1 >= SS_TC_MAX_DEPTH) {
        t->b->oom = 1;
        return;
    }
    t->last[++t->depth] = 0;
}

void ss_tc_struct_begin(ss_tc *t, int16_t id) {
    ss_tc_field(t, id, SS_TC_STRUCT);
    push(t);
}

void ss_tc_elem_struct_begin(ss_tc *t) { push(t); }

void ss_tc_struct_end(ss_tc *t) {
    ss_pqbuf_byte(t->b, 0);
    if (t->depth > 0) t->depth--;
}

void ss_tc_list_header(ss_tc *t, int elem_type, size_t n) {
    if (n < 15) {
        ss_pqbuf_byte(t->b, (uint8_t)(n << 4 | (size_t)elem_type));
    } else {
        ss_pqbuf_byte(t->b, (uint8_t)(0xF0 | elem_type));
        ss_pqbuf_uvarint(t->b, n);
    }
}

void ss_tc_list_begin(ss_tc *t, int16_t id, int elem_type, size_t n) {
    ss_tc_field(t, id, SS_TC_LIST);
    ss_tc_list_header(t, elem_type, n);
}

void ss_tc_elem_i32(ss_tc *t, int32_t v) { ss_pqbuf_uvarint(t->b, ss_tc_zigzag(v)); }

void ss_tc_elem_binary(ss_tc *t, const void *p, size_t n) {
    ss_pqbuf_uvarint(t->b, n);
    ss_pqbuf_put(t->b, p, n);
}
