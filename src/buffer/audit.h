/* `skyspool audit`: is this Redis fit to be skyspool's buffer?
 *
 * Reads CONFIG GET and INFO (falling back to INFO alone where CONFIG is disabled, as on
 * some managed services) and grades each setting PASS, WARN or FAIL with a
 * recommendation. Only "required" checks can FAIL; the audit passes when none does:
 *   required: maxmemory set (>= a required size), maxmemory-policy noeviction, AOF on,
 *             appendfsync everysec|always, last AOF write / rewrite and RDB save ok;
 *   advisory: Redis version, timeout, tcp-backlog, stream node limits, memory headroom,
 *             consumer group "writers" on each stream with its pending entries and lag.
 * The result is data (ss_audit); rendering to text or JSON is separate. */
#ifndef SS_BUFFER_AUDIT_H
#define SS_BUFFER_AUDIT_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "util/buf.h"

typedef enum { SS_CHECK_PASS = 0, SS_CHECK_WARN, SS_CHECK_FAIL } ss_check_status;

typedef struct {
    char name[40];
    ss_check_status status;
    int required;
    char value[128];
    char message[384];
    char recommendation[512]; /* empty for PASS */
} ss_check;

#define SS_AUDIT_MAX_CHECKS 48

typedef struct {
    char stream[256];
    int exists;
    long long length;
    int has_group;
    long long pending;
    long long lag; /* -1 = unknown (Redis < 7 or after an AOF replay) */
    long long consumers;
} ss_audit_group;

typedef struct {
    char redis[1200];  /* address, no password */
    char version[32];
    ss_check checks[SS_AUDIT_MAX_CHECKS];
    int nchecks;
    ss_audit_group groups[16];
    int ngroups;
} ss_audit;

typedef struct {
    const char *prefix;          /* default "skyspool:" */
    long long require_maxmemory; /* bytes; default 2 GiB */
    const char *group;           /* default "writers" */
    int keep_other;              /* also check <prefix>other */
} ss_audit_opts;

/* Runs every check. Returns 0 (result in *out, whatever the grades), or -1 with err when
 * Redis could not be read at all. */
int ss_audit_run(redisContext *c, const ss_audit_opts *o, ss_audit *out, char *err, size_t errlen);
/* Number of required checks that FAILed (0 = the audit passes). */
int ss_audit_failures(const ss_audit *a);
int ss_audit_render_text(const ss_audit *a, ss_buf *out);
int ss_audit_render_json(const ss_audit *a, ss_buf *out);
const char *ss_check_status_name(ss_check_status s);

#endif
