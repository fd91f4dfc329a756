/* The pipeline: the ingester and the DataWriter of one process, wired together, as
 * `skyspool run` uses them.
 *
 * The ingester runs on its own thread and the writer on the caller's; they share one stop
 * flag. Either one failing sets it, so the other stops too: an ingester without a writer
 * fills Redis, a writer without an ingester archives nothing new. Only a source that really
 * ended (not a stop) sets `ended`, the writer's drain flag: then the writer closes every
 * window and returns, and the run ends with the buffer drained. A stop leaves the open
 * windows buffered in Redis for the next start.
 *
 * Library code: it neither prints nor exits. Progress goes to a callback, once a second,
 * from a thread of its own; the caller draws it.
 *
 *     ss_pipeline p;
 *     ss_pipeline_init(&p, ing, src, &stop);
 *     wo.drain = &p.ended;                       // before ss_writer_new()
 *     p.w = ss_writer_new(&wo, err, sizeof err);
 *     ss_pipeline_run(&p);                       // returns when both have stopped
 *     if (!p.ingest_started || p.ingest_rc || p.writer_rc) ... */
#ifndef SS_PIPELINE_H
#define SS_PIPELINE_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buffer/ingest.h"
#include "source/source.h"
#include "writer/writer.h"

#define SS_PIPELINE_PROGRESS_MS 1000 /* interval of the progress callback */

typedef struct {
    double elapsed_s;          /* since ss_pipeline_run() began */
    double interval_s;         /* since the previous call */
    ss_ingest_stats ingest;    /* totals now */
    ss_writer_stats writer;
    double ingest_per_s;       /* over the interval */
    double written_per_s;      /* writer entries over the interval */
} ss_pipeline_progress;

typedef struct {
    /* set by ss_pipeline_init, or by the caller before ss_pipeline_run */
    ss_ingest *ing;
    ss_source *src;
    ss_writer *w;
    volatile sig_atomic_t *stop; /* shared stop flag (signals set it too) */
    void (*progress)(void *ud, const ss_pipeline_progress *pr); /* NULL: none */
    void *progress_ud;

    atomic_int ended;  /* the writer's drain flag (ss_writer_opts.drain) */

    /* results of ss_pipeline_run */
    int ingest_started; /* 0: the ingester thread could not be created (nothing ran) */
    int ingest_rc;      /* ss_ingest_run's result (0 ok); see ss_ingest_errstr */
    int writer_rc;      /* ss_writer_run's result (0 ok); see ss_writer_errstr */
    int stopped;        /* it ended by a stop (signal or failure), not because the source ended */
    double secs;        /* wall time of the run */
} ss_pipeline;

void ss_pipeline_init(ss_pipeline *p, ss_ingest *ing, ss_source *src, volatile sig_atomic_t *stop);
/* Runs the ingester on a thread and the writer here until both have returned. */
void ss_pipeline_run(ss_pipeline *p);

#endif
