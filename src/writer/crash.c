/* SKYSPOOL_CRASH_AT fault injection; see crash.h. */
#include "writer/crash.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_step[32];
static long g_nth;
static long g_hits;

static const char *const g_steps[] = {"after_claim", "after_write", "after_rename", "s3_mid_upload", "after_upload",
                                      "after_ledger", "after_ack",
                                      "after_gap_ledger", "migrate_rename", "migrate_ledger"};

int ss_writer_crash_init(char *err, unsigned long errlen) {
    const char *v = getenv("SKYSPOOL_CRASH_AT");
    g_step[0] = '\0';
    g_hits = 0;
    if (!v || !*v) return 0;
    const char *colon = strchr(v, ':');
    size_t n = colon ? (size_t)(colon - v) : strlen(v);
    int known = 0;
    for (size_t i = 0; i < sizeof g_steps / sizeof g_steps[0]; i++)
        if (strlen(g_steps[i]) == n && !strncmp(v, g_steps[i], n)) known = 1;
    long nth = 1;
    if (colon) {
        char *end;
        nth = strtol(colon + 1, &end, 10);
        if (*end || nth < 1) known = 0;
    }
    if (!known) {
        snprintf(err, errlen,
                 "SKYSPOOL_CRASH_AT='%s' is not STEP[:N] with STEP one of after_claim, after_write, "
                 "after_rename, s3_mid_upload, after_upload, after_ledger, after_ack, after_gap_ledger, migrate_rename, migrate_ledger",
                 v);
        return -1;
    }
    memcpy(g_step, v, n);
    g_step[n] = '\0';
    g_nth = nth;
    return 0;
}

void ss_writer_crash_point(const char *step) {
    if (!g_step[0] || strcmp(step, g_step) != 0) return;
    if (__atomic_add_fetch(&g_hits, 1, __ATOMIC_SEQ_CST) < g_nth) return;
    static const char msg[] = "skyspool: SKYSPOOL_CRASH_AT reached, killing myself\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    kill(getpid(), SIGKILL);
    _exit(137);
}
