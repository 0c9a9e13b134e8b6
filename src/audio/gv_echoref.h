/* The echo canceller's reference: what the speaker played, handed from
 * the thread that feeds the device (the render thread, or a game's own
 * audio callback) to the thread that cleans the microphone, and lined up
 * with the microphone by time.
 *
 * The writer stamps each block with the moment its last sample reaches the
 * speaker; the reader asks for the 10 ms that were playing when a step of
 * microphone samples was captured. Both clocks are the caller's one clock.
 * The reader moves on by exactly one step per call, so the canceller sees
 * a continuous signal while the stamps merely jitter. It jumps when they
 * say it is GV_ECHOREF_RESEAT_MS off at two reads in a row (the sound
 * server changed its latency, playback paused; a single such read is a
 * stray stamp), or GV_ECHOREF_STEP_MS off on average
 * over the last few reads (an underrun: the device played a gap that is
 * not in the reference). Two devices whose clocks drift apart are
 * therefore followed in steps of GV_ECHOREF_STEP_MS. A live sound server's
 * stamps wander by that much on average without the echo moving, so the
 * reader says how far it stepped (gv_echoref_take_moved): the canceller
 * keeps its alignment across the step instead of relearning (it follows
 * the echo's real movements itself).
 *
 * One writer thread and one reader thread, lock-free: after
 * gv_echoref_prepare no call allocates, locks, blocks or makes a system
 * call. Pure: time is passed in. */
#ifndef GV_AUDIO_ECHOREF_H
#define GV_AUDIO_ECHOREF_H

#include <stddef.h>
#include <stdint.h>

#include "audio/gv_clean.h"

/* The reference is handed out this much earlier than the stamps say, so
 * that timing error never puts the echo ahead of it (the canceller looks
 * for the echo up to its max_delay_ms later). */
#define GV_ECHOREF_LEAD_MS 10
#define GV_ECHOREF_RESEAT_MS 20
#define GV_ECHOREF_STEP_MS 4

typedef struct gv_echoref gv_echoref;

/* Returns 0 and the handle in *out (gv_echoref_destroy), GV_EINVAL or
 * GV_ENOMEM. */
int gv_echoref_create(gv_echoref **out);

/* Frees er; NULL is a no-op. Neither end may be in use. */
void gv_echoref_destroy(gv_echoref *er);

/* Writer: builds the converter from rate (8000..192000) and channels (1,
 * 2) to 48 kHz mono, so that writes in that format never allocate.
 * Returns 0, GV_EINVAL or GV_ENOMEM. Not concurrent with gv_echoref_write. */
int gv_echoref_prepare(gv_echoref *er, int rate, int channels);

/* Writer: frames interleaved frames about to be played; the last of them
 * reaches the speaker at play_end_us. A format other than the prepared one
 * prepares it first (and allocates). Returns 0, GV_EINVAL or GV_ENOMEM. */
int gv_echoref_write(gv_echoref *er, const float *samples, size_t frames, int rate, int channels,
                     uint64_t play_end_us);

/* Reader: fills out with the GV_CLEAN_STEP reference samples that were
 * playing while the microphone captured the step ending at
 * captured_end_us. Returns 1, or 0 with out untouched when nothing was
 * being played then (no writes yet, or too long ago); GV_EINVAL. */
int gv_echoref_read(gv_echoref *er, float *out, uint64_t captured_end_us);

/* Reader: samples the reader stepped its reference by since the last call
 * (positive: ahead, skipping samples; negative: back, repeating them), in
 * its GV_ECHOREF_STEP_MS steps; not the jumps of GV_ECHOREF_RESEAT_MS or
 * more, nor the seating after a pause (those are new alignments). */
int gv_echoref_take_moved(gv_echoref *er);

/* Reader: the microphone skipped samples (48 kHz) before its next step;
 * the reference skips them with it, so the echo stays where the canceller
 * has it (not counted as moved). NULL or samples <= 0 does nothing. */
void gv_echoref_skip(gv_echoref *er, int samples);

/* Reader: the number of times the reader jumped to follow the stamps. */
uint64_t gv_echoref_reseats(const gv_echoref *er);

#endif
