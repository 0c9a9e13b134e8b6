/* Plays a packet trace through a jitter buffer on a simulated clock and
 * records when each packet was played: gvoip's gv_jbuf, or libspeexdsp's
 * jitter buffer driven the standard way. Playout starts at the first
 * arrival; the audio device pulls the next piece as soon as the previous
 * one has played, and a piece plays from the moment it is handed out. */
#ifndef JBENCH_SIM_H
#define JBENCH_SIM_H

#include <stdint.h>

#include "audio/gv_jbuf.h"
#include "jbench_trace.h"

typedef struct jbench_result {
    int arrived, played;
    int late;        /* arrived but never played: late, or dropped to cut the delay */
    double delay_ms; /* send to playout, mean over the played packets */
} jbench_result;

enum { JBENCH_SPEEX_MUMBLE, JBENCH_SPEEX_AUTO };

/* Runs gv_jbuf (cfg NULL = defaults). play_us, when not NULL, has t->n
 * entries and receives each packet's playout time (-1: not played).
 * Returns 0 or a negative code. Thread-safe for distinct arguments. */
int jbench_run_gv(const jbench_trace *t, const gv_jbuf_config *cfg, jbench_result *out, int64_t *play_us);

/* Runs speexdsp's jitter buffer (step 960 samples): put at arrival,
 * get + tick for every 20 ms played. JBENCH_SPEEX_MUMBLE also calls
 * jitter_buffer_update_delay after each get that returned no packet, as
 * Mumble does (it turns the automatic adjustment in tick off, so the delay
 * moves only between packets); JBENCH_SPEEX_AUTO leaves that to tick.
 * Same play_us and return value as jbench_run_gv. */
int jbench_run_speex(const jbench_trace *t, int mode, jbench_result *out, int64_t *play_us);

#endif
