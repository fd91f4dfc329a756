/* The WebSocket plumbing shared by the live sources (jetstream:, firehose:) and
 * `skyspool record`.
 *
 * All three ask a relay for a stream that resumes by a `cursor` query parameter: the
 * user's URL with any cursor taken out is the base, and every (re)connect asks for
 * base + cursor=<where to resume>. They also build their ss_ws_client the same way from
 * ss_source_opts and name themselves the same way. One copy of that lives here; what
 * each one means by a cursor (time_us, seq) stays with it. */
#ifndef SS_WS_SOURCE_H
#define SS_WS_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "net/ws_client.h"
#include "net/ws_url.h"
#include "source/source.h"
#include "util/buf.h"

/* Copies path (a parsed URL's path and query) to base without any cursor parameter, and
 * returns in *url_cursor the cursor the URL asked for (-1 when none). 0, or -1 when out
 * of memory. */
int ss_ws_source_base(const char *path, ss_buf *base, int64_t *url_cursor);

/* Writes base plus "cursor=<cursor>" when cursor >= 0 to path: the body of a path_fn.
 * 0, or -1 when out of memory. */
int ss_ws_source_path(ss_buf *path, const ss_buf *base, int64_t cursor);

/* Client options for url from the source options (TLS, timeouts); the caller sets the
 * message limits, path_fn, ud and log_name. */
void ss_ws_source_client_opts(ss_ws_client_opts *wo, const char *url, const ss_source_opts *so);

/* Updates s->link (connected, connects, failures) from the client: after every next(). */
void ss_source_link_from_ws(ss_source *s, const ss_ws_client *c);

/* "SCHEME:ws://host:port/path" (the query left out): the source's id. */
void ss_ws_source_id(char *id, size_t idlen, const char *scheme, const ss_ws_url *u);

/* A gap: a stretch of the upstream's stream the source knows it did not and will not
 * deliver (a cursor in the relay's future, a cursor older than the upstream's window, a
 * seq reset). from/to are in the source's cursor unit (seq, time_us); -1 when unknown
 * (e.g. "up to wherever live is now"). reason is a stable short name: future_cursor,
 * outdated_cursor, clamped_cursor, seq_reset. */
typedef struct {
    const char *source;  /* the source id */
    const char *reason;
    const char *unit;    /* "seq" or "time_us" */
    int64_t from, to;
    const char *detail;  /* one human sentence; may be NULL */
} ss_source_gap;

/* The one place a detected gap goes. Today it is logged as one WARN line
 * "gap: source=... reason=... unit=... from=... to=... detected_us=..." (greppable, fixed
 * keys); durable gap records (Redis for the writer, the ledger, `skyspool gaps`) are meant
 * to hook in here, so that every source reports through it already. */
void ss_source_gap_report(const ss_source_gap *g);

#endif
