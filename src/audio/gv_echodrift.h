/* The echo canceller's fine delay and drift follower: where, to the
 * sample, the echo's early part sits in the filter's window, and how fast
 * that place moves when the capture and playback clocks differ.
 *
 * The phase transform of the smoothed cross spectrum of microphone and
 * reference peaks at the direct path (its phase alone carries the delay;
 * the echo path's colouring and the speech's spectrum are divided out).
 * The fine delays found are recorded; a few seconds of them give the
 * drift by a least-squares slope, a few that agree far off the record a
 * jump (a latency change), and, after the filter lost the echo's place,
 * the way back to where its taps have it. The follower only tells the
 * canceller (gv_echo) what to do with its delay and filter; it never
 * touches them.
 *
 * Spectra handed in are bins of 1024-point transforms of 48 kHz frames
 * ending with the newest GV_CLEAN_STEP samples (the canceller's own); the
 * follower reads the first GV_ECHODRIFT_BINS of them. Pure logic; one instance per canceller,
 * not thread-safe; allocation only in gv_echodrift_create. */
#ifndef GV_AUDIO_ECHODRIFT_H
#define GV_AUDIO_ECHODRIFT_H

#include "audio/gv_fft.h"

#define GV_ECHODRIFT_BINS 200
/* Reference partitions (the filter's first, 10 ms each) searched for the
 * fine delay: the direct path lies in the window's first 40 ms. */
#define GV_ECHODRIFT_PARTS 4

typedef struct gv_echodrift gv_echodrift;

/* The canceller as the follower needs to know it at each step. */
typedef struct gv_echodrift_filter {
    double delay;  /* its reference's read delay, samples (fractional) */
    float erle_db; /* how well it cancels, recently */
    int converged; /* it has found the echo */
    int lost;      /* it does worse than no filter: the echo moved or changed */
    int settling;  /* it has just moved, and its taps are not trusted yet */
    int kept;      /* it keeps the taps with which it cancelled well lately */
    int alone;     /* the microphone is about as loud as its estimate: no near talker */
} gv_echodrift_filter;

/* What the canceller is to do after a step; all zero for nothing. */
typedef struct gv_echodrift_order {
    double jump;  /* the echo jumped by this many samples (a latency change) and the
                     filter lost it: move the delay with it, with the taps it kept */
    double nudge; /* samples to add to the delay to bring the echo back under the
                     taps that had it */
    int relearn;  /* a new drift smeared the echo over the filter: relearn at full rate */
} gv_echodrift_order;

/* A follower for a canceller of parts partitions (at least 1) whose delay
 * stays within 0..max_delay samples, transforming with fft (borrowed, 1024
 * points; it must outlive the follower). Returns 0 and the handle in *out
 * (gv_echodrift_destroy), GV_EINVAL or GV_ENOMEM. */
int gv_echodrift_create(const gv_fft *fft, int parts, int max_delay, gv_echodrift **out);

/* NULL is a no-op. */
void gv_echodrift_destroy(gv_echodrift *dr);

/* Forgets the fine delays, the drift and the echo's place, as just
 * created. */
void gv_echodrift_reset(gv_echodrift *dr);

/* Adds a step where both ends sounded: the microphone's spectrum (mr + i
 * mi) and the reference partitions' (xr[j] + i xi[j], the newest first,
 * as many as the canceller has up to GV_ECHODRIFT_PARTS). */
void gv_echodrift_listen(gv_echodrift *dr, const float *mr, const float *mi,
                         const float *const *xr, const float *const *xi);

/* One step of the canceller's, after its filters have adapted (every
 * step, sounding or not: the follower keeps the time). Every few steps
 * searches the fine delay and follows it; fills *order. */
void gv_echodrift_step(gv_echodrift *dr, const gv_echodrift_filter *filter,
                       gv_echodrift_order *order);

/* The canceller moved its delay by delta samples (a window move or a
 * jump): the cross spectra, of the old delay, start afresh. With window
 * the window moved over an echo that stayed where it was, and the taps
 * moved the other way: the echo's place in it moves too, and is forgotten
 * when it fell out or kept is 0 (no tap was kept). */
void gv_echodrift_moved(gv_echodrift *dr, double delta, int window, int kept);

/* The reference was stepped by samples and the canceller's delay moved
 * back by as much (gv_echo_reference_moved): the fine delays on record,
 * counted in the reference's samples, move with it. */
void gv_echodrift_reference_moved(gv_echodrift *dr, int samples);

/* The drift followed: the change of the delay per sample. */
double gv_echodrift_rate(const gv_echodrift *dr);

/* 1 and the last fine delay (samples from the reference to the echo's
 * direct path) in *fine when one was found recently, else 0. */
int gv_echodrift_fine(const gv_echodrift *dr, double *fine);

#endif
