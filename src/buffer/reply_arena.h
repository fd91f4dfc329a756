/* Replies built in an arena instead of one malloc per object.
 *
 * hiredis builds a reply as a tree of redisReply objects, each calloc'ed, with every string
 * malloc'ed, and freeReplyObject() walks the tree to free them again. For the writer's
 * XREADGROUP replies (thousands of entries of seven objects each) that malloc/free traffic
 * was ~20 % of the writer's CPU. Attached to a context, an arena makes that context's reader
 * build the same redisReply trees by bumping a pointer in large reused chunks; the replies
 * stay valid until ss_reply_arena_reset(), which drops them all at once.
 *
 * Rules: never call freeReplyObject() on a reply of an attached context; reset only when no
 * reply of it is in use; one arena per context. hiredis parses a reply only when it is asked
 * for (redisGetReply), so a reply still on the wire is not built into the arena early. */
#ifndef SS_REPLY_ARENA_H
#define SS_REPLY_ARENA_H

#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct ss_reply_arena ss_reply_arena;

ss_reply_arena *ss_reply_arena_new(void);
void ss_reply_arena_free(ss_reply_arena *a);
/* Makes c's reader build its replies in a. */
void ss_reply_arena_attach(redisContext *c, ss_reply_arena *a);
void ss_reply_arena_attach_reader(redisReader *r, ss_reply_arena *a);
/* Drops every reply built so far; keeps up to a bounded amount of memory for reuse. */
void ss_reply_arena_reset(ss_reply_arena *a);
/* Bytes held (in use or kept for reuse). */
size_t ss_reply_arena_bytes(const ss_reply_arena *a);

#endif
