/* The pipeline of one process (pipeline.h): ingester thread, writer on the caller's
 * thread, an optional progress thread; one stop flag and one drain flag between them. */
#include "pipeline/pipeline.h"
#include "util/clock.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

void ss_pipeline_init(ss_pipeline *p, ss_ingest *ing, ss_source *src, volatile sig_atomic_t *stop) {
    memset(p, 0, sizeof *p);
    p->ing = ing;
    p->src = src;
    p->stop = stop;
    atomic_init(&p->ended, 0);
}

static void *ingest_main(void *arg) {
    ss_pipeline *p = arg;
    pthread_setname_np(pthread_self(), "ss-ingest"); /* per-thread CPU in top -H, bench/live.sh */
    p->ingest_rc = ss_ingest_run(p->ing, p->src, p->stop);
    /* Only a source that ended closes every window; a stop (signal, or the writer failed)
     * leaves the open windows pending for the next run. */
    if (p->ingest_rc == 0 && !*p->stop) atomic_store(&p->ended, 1);
    else if (p->ingest_rc != 0) *p->stop = 1; /* the ingester failed: the writer stops too */
    return NULL;
}

typedef struct {
    ss_pipeline *p;
    atomic_int quit;
    double t0;
} progress_ctx;

static void *progress_main(void *arg) {
    progress_ctx *pc = arg;
    ss_pipeline *p = pc->p;
    pthread_setname_np(pthread_self(), "ss-progress");
    double tl = pc->t0;
    uint64_t last_in = 0, last_out = 0;
    while (!atomic_load(&pc->quit)) {
        ss_sleep_ms(250);
        double t = ss_mono_s();
        if (t - tl < SS_PIPELINE_PROGRESS_MS / 1000.0) continue;
        ss_pipeline_progress pr;
        memset(&pr, 0, sizeof pr);
        ss_ingest_get_stats(p->ing, &pr.ingest);
        ss_writer_get_stats(p->w, &pr.writer);
        pr.elapsed_s = t - pc->t0;
        pr.interval_s = t - tl;
        pr.ingest_per_s = (double)(pr.ingest.written - last_in) / pr.interval_s;
        pr.written_per_s = (double)(pr.writer.entries - last_out) / pr.interval_s;
        p->progress(p->progress_ud, &pr);
        last_in = pr.ingest.written;
        last_out = pr.writer.entries;
        tl = t;
    }
    return NULL;
}

void ss_pipeline_run(ss_pipeline *p) {
    double t0 = ss_mono_s();
    pthread_t ith, pth;
    progress_ctx pc;
    pc.p = p;
    pc.t0 = t0;
    atomic_init(&pc.quit, 0);
    p->ingest_started = pthread_create(&ith, NULL, ingest_main, p) == 0;
    if (!p->ingest_started) *p->stop = 1;
    int have_prog = p->progress && pthread_create(&pth, NULL, progress_main, &pc) == 0;
    p->writer_rc = ss_writer_run(p->w, p->stop);
    if (p->writer_rc != 0) *p->stop = 1; /* the writer failed: stop ingesting too */
    if (p->ingest_started) pthread_join(ith, NULL);
    atomic_store(&pc.quit, 1);
    if (have_prog) pthread_join(pth, NULL);
    p->stopped = *p->stop != 0;
    p->secs = ss_mono_s() - t0;
}
