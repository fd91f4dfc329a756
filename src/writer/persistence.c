/* The writer's persistence check: at every session start and every SS_PERSIST_CHECK_MS of a
 * session, the consumer is asked whether the server keeps what it acknowledges (AOF on,
 * maxmemory-policy noeviction; buffer/persist.h). A server that does not is a fatal error:
 * retrying cannot fix a configuration, and carrying on would archive from a buffer that a
 * restart empties or that memory pressure silently deletes streams from -- the writer would
 * acknowledge and trim as usual while the events it never saw are gone. Kept out of loop.c
 * so that the session loop only calls it. A consumer without the op is not checked. */
#include "buffer/persist.h"
#include "util/log.h"
#include "writer/writer_internal.h"

int ss_wr_check_persistence(ss_writer *w, int now) {
    if (!w->c->v->persistence) return 0;
    if (!now && ss_wr_mono_ms() - w->last_persist_ms < SS_PERSIST_CHECK_MS) return 0;
    w->last_persist_ms = ss_wr_mono_ms();
    char why[900];
    int r = w->c->v->persistence(w->c, why, sizeof why);
    if (r < 0) return ss_wr_consumer_fail(w);
    if (r > 0) {
        w->fatal = 1;
        return ss_wr_fail(w, "%s. The writer stopped: run it again once Redis is fixed", why);
    }
    if (why[0]) ss_error(LOG, "%s", why);
    return 0;
}
