/* One recording session on a PulseAudio server (the one PULSE_SERVER names,
 * else the default): record streams from several sources, started one
 * after the other, and optionally a sound played into a sink after a lead
 * time. Each stream's origin on the wall clock is estimated from the
 * server's timing reports (devrec_origin), so the caller can put every
 * stream on one timeline. Single-threaded: libpulse's plain main loop. */
#ifndef DEVREC_SESSION_H
#define DEVREC_SESSION_H

#include <stddef.h>

#include "devrec_origin.h"

#define DEVREC_RATE 48000 /* every record stream, mono float */

typedef struct devrec_session_config {
    const char *sink;          /* where to play; NULL: nothing is played */
    const float *play;         /* interleaved frames to play (borrowed) */
    size_t play_frames;
    int play_rate;             /* the server resamples to the sink's rate */
    int play_channels;
    const char *const *sources; /* record from these, in this order (borrowed) */
    size_t n_sources;          /* 1..DEVREC_MAX_SOURCES */
    double seconds;            /* record this long once every stream runs */
    double lead_ms;            /* play that long after every stream runs */
    double stagger_ms;         /* start each record stream this long after the previous */
} devrec_session_config;

#define DEVREC_MAX_SOURCES 16

/* What one record stream delivered: mono float frames at DEVREC_RATE from
 * the stream's byte 0 (a gap the server reported is zeros), and the
 * estimates of where byte 0 sits on the wall clock. For the monitor of the
 * sink the sound is played into (the mouth), also the sink's render block
 * (its configured latency) each time the stream was timed: a null sink
 * hands its monitor a whole block as the block's first sample plays, so
 * a program capturing from it gets each block that much before the
 * origin's clock says it sounded; a microphone never does. */
typedef struct devrec_track {
    float *samples;
    size_t frames, cap;
    devrec_origin origin;
    devrec_origin block;
} devrec_track;

/* Runs the session to its end. tracks[0..n_sources) must be zeroed; they
 * are filled in order of cfg->sources and owned by the caller
 * (devrec_track_clear), also after a failure. *played receives the
 * estimates of the played sound's origin (nothing when cfg->sink is NULL).
 * Returns 0, or GV_EINVAL, GV_ENOMEM, GV_EIO (no server, no such sink or
 * source, a stream failed) with a sentence in why. Not thread-safe. */
int devrec_session_run(const devrec_session_config *cfg, devrec_track *tracks,
                       devrec_origin *played, char *why, size_t why_len);

/* Frees a track's samples and estimates; NULL is a no-op. */
void devrec_track_clear(devrec_track *t);

#endif
