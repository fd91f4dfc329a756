/* Small readers of stream introspection replies (XINFO GROUPS / XINFO STREAM), shared by
 * audit and status. Replies are RESP2 flat arrays of name, value pairs; these helpers pick
 * fields by name so that fields added by newer Redis versions are simply ignored. */
#ifndef SS_BUFFER_XINFO_H
#define SS_BUFFER_XINFO_H

#include <hiredis/hiredis.h>

typedef struct {
    int exists;          /* the stream key exists */
    long long length;
    long long first_ms;  /* ms part of the first entry's id; -1 when empty */
    long long last_ms;   /* ms part of the last generated id; -1 when none */
    int has_group;       /* the consumer group exists */
    long long consumers;
    long long pending;
    long long lag;       /* -1 when Redis does not know (nil) or is older than 7.0 */
    char last_delivered[48];
} ss_stream_info;

/* Fills *out for stream key and consumer group. Returns 0, or -1 on a connection error /
 * unexpected reply (message in err). A missing key is not an error (exists = 0). */
int ss_stream_info_get(redisContext *c, const char *key, const char *group, ss_stream_info *out, char *err,
                       size_t errlen);

#endif
