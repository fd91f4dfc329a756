/* Jetstream's compress=true: every message is its own zstd frame made with a shared
 * 112,640-byte dictionary (bluesky-social/jetstream, pkg/models/zstd_dictionary).
 *
 * The dictionary is read once and digested once (ZSTD_DDict / ZSTD_CDict), because
 * digesting it per message would cost more than the message. Decompression is
 * streamed into a growing buffer with a hard output limit, so a hostile frame cannot
 * make us allocate more than the caller allows, whatever its header claims. */
#ifndef SS_ZDICT_H
#define SS_ZDICT_H

#include <stddef.h>

#include "util/buf.h"

#define SS_ZDICT_MAX_BYTES (4u * 1024 * 1024) /* largest dictionary file we accept */

typedef struct ss_zdict ss_zdict;

/* Loads a dictionary file. level is the compression level for ss_zdict_compress
 * (0 = zstd's default). Returns NULL with a message in err. */
ss_zdict *ss_zdict_open(const char *path, int level, char *err, size_t errlen);
void ss_zdict_free(ss_zdict *z);

/* Decompresses one frame into out (replacing its contents). Returns 0, or -1 with a
 * short stable reason in *reason: "bad_zstd" or "too_large" (output over max_out). */
int ss_zdict_decompress(ss_zdict *z, const void *src, size_t n, ss_buf *out, size_t max_out, const char **reason);
/* Compresses src into one frame in out (replacing its contents). Returns 0 or -1. */
int ss_zdict_compress(ss_zdict *z, const void *src, size_t n, ss_buf *out);

#endif
