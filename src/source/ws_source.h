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

/* Logs a detected gap as one WARN line "gap: source=... reason=... unit=... from=... to=...
 * detected_us=..." (greppable, fixed keys). The durable record is the SS_SOURCE_GAP message
 * the source hands on (ss_ws_gapq below); `skyspool record`, which keeps frames, not
 * events, only logs. detected_us 0 is taken as now. */
void ss_source_gap_report(const ss_source_gap *g);

/* The gaps a source has detected and not yet handed on, in order. A frame or a message can
 * reveal at most a few (an outdated cursor and a seq reset at once), so the queue is fixed:
 * SS_WS_GAPQ_MAX, and a push beyond it is logged and dropped (it cannot happen with the
 * sources as written: each drains the queue before reading on). */
#define SS_WS_GAPQ_MAX 4
typedef struct {
    ss_source_gap g[SS_WS_GAPQ_MAX];
    char detail[SS_WS_GAPQ_MAX][SS_SOURCE_GAP_DETAIL_MAX];
    int64_t cursor[SS_WS_GAPQ_MAX]; /* the cursor its message carries */
    int head, n;
} ss_ws_gapq;

/* Logs g (ss_source_gap_report), stamps detected_us and queues a copy with `cursor`. */
void ss_ws_gapq_push(ss_ws_gapq *q, const ss_source_gap *g, int64_t cursor);
/* Fills msg with the oldest queued gap and returns SS_SOURCE_GAP, or 0 when none. The
 * record stays valid until the next push or pop. */
int ss_ws_gapq_pop(ss_ws_gapq *q, ss_source_msg *msg);

#endif
