/* The progress line: one line on a terminal, redrawn in place, that log lines never land on.
 *
 * `run`, `ingest`, `convert` and `cat` show what they do on a TTY. A progress line is drawn
 * with "\r" and no newline, so a log line written meanwhile (from any thread) would land on
 * its end. The line is therefore owned here: ss_log() hands every log line to
 * ss_progress_log_write(), which, while a line is shown, erases it, writes the log line and
 * draws the line again below it, all under one lock. Nothing is drawn unless the descriptor
 * is a terminal, so logs piped to a file never carry "\r" debris.
 *
 *   if (ss_progress_begin(STDERR_FILENO)) ...   // 1: a terminal, lines will be drawn
 *   ss_progress_draw("%llu events, %s", n, eta); // at most a few times a second
 *   ss_progress_end(1);                          // keep the last line (newline) or erase it (0)
 */
#ifndef SS_PROGRESS_H
#define SS_PROGRESS_H

#include <stddef.h>

#define SS_PROGRESS_MAX 512 /* bytes of one progress line; longer text is cut */

/* Starts a progress line on fd when fd is a terminal: returns 1, else 0 (and every draw is
 * a no-op). One line at a time per process. */
int ss_progress_begin(int fd);
/* Replaces the shown line with the formatted text (no newline in it). */
void ss_progress_draw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends the line: keep = 1 leaves the last text with a newline, 0 erases it. */
void ss_progress_end(int keep);
/* For the logger: writes n bytes of a log line (ending in '\n') to stderr so that it does
 * not land on a shown progress line, which is drawn again after it. Returns 1 when it wrote
 * the line (a progress line is active), 0 when the caller writes it itself. */
int ss_progress_log_write(const char *line, size_t n);

/* " 42% ETA 1m05s" (with a leading space): at pos of 0..end, having started at start
 * elapsed_s seconds ago (a resumed run starts past 0: its rate is (pos - start) / elapsed).
 * "" when end is unknown (<= 0); the ETA is left out until there is a rate to go by. */
void ss_progress_eta(char *out, size_t outlen, double pos, double start, double end, double elapsed_s);

#endif
