/* stream_loop: the Redis Streams ceiling the DataWriter is compared with in bench/writer.sh.
 * The same work the writer does on Redis -- XREADGROUP COUNT 1000 from a consumer group,
 * then the writer's acknowledgement script (XACK + trim, src/writer/ack_script.h) on what was
 * read -- with no decoding and no Parquet, optionally while a
 * producer XADDs pipelined batches of 1000 ~600-byte entries (the ingester's shape).
 *
 *   stream_loop HOST PORT consume STREAM            drain what is buffered; prints events/s
 *   stream_loop HOST PORT loop STREAM SECONDS       producer + consumer threads for SECONDS
 *
 * Output: one line "mode=... events=N seconds=S events_per_s=R". Bench tool, not shipped. */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/writer/ack_script.h"

static const char *g_host, *g_stream;
static int g_port;
static volatile int g_stop;
static long long g_consumed, g_produced;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static redisContext *conn(void) {
    redisContext *c = redisConnect(g_host, g_port);
    if (!c || c->err) {
        fprintf(stderr, "stream_loop: cannot connect\n");
        exit(1);
    }
    return c;
}

static void *producer(void *arg) {
    (void)arg;
    redisContext *c = conn();
    char payload[600];
    memset(payload, 'x', sizeof payload);
    while (!g_stop) {
        for (int i = 0; i < 1000; i++)
            redisAppendCommand(c, "XADD %s * %s %b", g_stream, "0123456789abcdef0123456789abcdef 1754524800000278",
                               payload, sizeof payload);
        for (int i = 0; i < 1000; i++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) exit(1);
            freeReplyObject(r);
        }
        __atomic_add_fetch(&g_produced, 1000, __ATOMIC_RELAXED);
    }
    redisFree(c);
    return NULL;
}

/* returns entries handled in this round */
static int consume_round(redisContext *c) {
    redisReply *r = redisCommand(c, "XREADGROUP GROUP g c COUNT 1000 STREAMS %s >", g_stream);
    if (!r) exit(1);
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        freeReplyObject(r);
        return 0;
    }
    redisReply *ents = r->element[0]->element[1];
    int n = (int)ents->elements;
    const char **argv = malloc((n + 5) * sizeof *argv);
    size_t *lens = malloc((n + 5) * sizeof *lens);
    for (int i = 0; i < n; i++) {
        argv[5 + i] = ents->element[i]->element[0]->str;
        lens[5 + i] = ents->element[i]->element[0]->len;
    }
    argv[0] = "EVAL"; lens[0] = 4;
    argv[1] = SS_WRITER_ACK_SCRIPT; lens[1] = strlen(SS_WRITER_ACK_SCRIPT);
    argv[2] = "1"; lens[2] = 1;
    argv[3] = g_stream; lens[3] = strlen(g_stream);
    argv[4] = "g"; lens[4] = 1;
    redisReply *x = redisCommandArgv(c, n + 5, argv, lens);
    if (!x || x->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "stream_loop: ack script failed\n");
        exit(1);
    }
    freeReplyObject(x);
    free(argv);
    free(lens);
    freeReplyObject(r);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: stream_loop HOST PORT consume|loop STREAM [SECONDS]\n");
        return 2;
    }
    g_host = argv[1];
    g_port = atoi(argv[2]);
    g_stream = argv[4];
    redisContext *c = conn();
    redisReply *r = redisCommand(c, "XGROUP CREATE %s g 0 MKSTREAM", g_stream);
    freeReplyObject(r);
    double t0 = now();
    if (!strcmp(argv[3], "consume")) {
        int n;
        while ((n = consume_round(c)) > 0) g_consumed += n;
    } else {
        double secs = argc > 5 ? atof(argv[5]) : 10;
        pthread_t th;
        pthread_create(&th, NULL, producer, NULL);
        while (now() - t0 < secs) g_consumed += consume_round(c);
        g_stop = 1;
        pthread_join(th, NULL);
    }
    double dt = now() - t0;
    printf("mode=%s events=%lld produced=%lld seconds=%.3f events_per_s=%.0f\n", argv[3], g_consumed, g_produced, dt,
           g_consumed / dt);
    redisFree(c);
    return 0;
}
