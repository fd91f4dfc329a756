/* Writer options, their defaults, and codec names. */
#include <string.h>

#include "parquet.h"

#include "ss_revision.h" /* SKYSPOOL_BUILD, written at build time (cmake/revision.cmake) */
#ifndef SKYSPOOL_VERSION
#define SKYSPOOL_VERSION "dev"
#endif

void ss_pq_options_init(ss_pq_options *o) {
    memset(o, 0, sizeof *o);
    o->codec = SS_PQ_CODEC_ZSTD;
    o->zstd_level = 1; /* a generic default; callers with measured needs set their own */
    o->row_group_rows = 131072;
    o->row_group_bytes = 64u << 20;
    o->page_bytes = 1u << 20;
    o->dict_max_bytes = 4u << 20;
    o->created_by = "skyspool version " SKYSPOOL_VERSION " (build " SKYSPOOL_BUILD ")";
    o->fsync = 1;
    o->replace_bad_utf8 = 1;
    o->bloom_fpp = 0.01;
    o->bloom_max_bytes = 1u << 20; /* ~860k distinct values at 1 %; a row group holds far fewer */
}

static const char *const g_codec_names[] = {"none", "snappy", "zstd"};

const char *ss_pq_codec_name(ss_pq_codec c) {
    return (unsigned)c < sizeof g_codec_names / sizeof g_codec_names[0] ? g_codec_names[c] : "?";
}

int ss_pq_codec_parse(const char *s, ss_pq_codec *out) {
    for (size_t i = 0; i < sizeof g_codec_names / sizeof g_codec_names[0]; i++)
        if (s && !strcmp(s, g_codec_names[i])) {
            *out = (ss_pq_codec)i;
            return 0;
        }
    if (s && !strcmp(s, "uncompressed")) {
        *out = SS_PQ_CODEC_NONE;
        return 0;
    }
    return -1;
}
