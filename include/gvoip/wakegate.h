/* When a capture callback must wake the thread that pushes its audio to
 * the client, and when quiet audio may wait for a later wake-up: an idle
 * client's CPU is mostly the kernel waking its threads, once per device
 * period each, and with voice activation a quiet room's microphone
 * changes nothing that is sent (gv_client_capture_quiet_db says how quiet
 * that is, now).
 *
 * A frame that could start speech must never wait. Any frame's samples
 * that end in a block lie within that block and the frame's length before
 * it, so the block wakes when the energy there (over-estimated by whole
 * earlier blocks) could make a frame as loud as the threshold; the energy
 * is the mean square over the channels, which no downmix exceeds. Quiet
 * audio waits at most GV_WAKEGATE_WAIT_MS.
 *
 * One control thread sets the level, one capture thread at a time judges
 * blocks; after gv_wakegate_create no call allocates, locks, blocks or
 * makes a system call, so the capture end may run inside a real-time
 * audio callback. */
#ifndef GVOIP_WAKEGATE_H
#define GVOIP_WAKEGATE_H

#include <stddef.h>

#include "gvoip/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest quiet capture waits (gv_client_capture_quiet_db allows it). */
#define GV_WAKEGATE_WAIT_MS 100

typedef struct gv_wakegate gv_wakegate;

/* Creates a gate for capture at rate Hz (8000..192000) with channels
 * interleaved channels (1..8), for a client whose frames last frame_ms
 * (gv_client_config.frame_ms: 10, 20, 40 or 60; the gate is exact for
 * that length only). Until gv_wakegate_set_quiet, every block wakes.
 * Returns 0 with *out the caller's (gv_wakegate_destroy), or GV_EINVAL
 * (NULL out, a value out of range) or GV_ENOMEM, with *out NULL when out
 * is not NULL. Thread-safe. */
GV_API int gv_wakegate_create(int rate, int channels, int frame_ms, gv_wakegate **out);

/* Frees g; neither end may be in use. NULL is a no-op. */
GV_API void gv_wakegate_destroy(gv_wakegate *g);

/* Control thread: audio quieter than quiet_db (dBFS, as
 * gv_client_capture_quiet_db returns it) may wait; -INFINITY and every
 * block wakes, +INFINITY and blocks wake only to bound the wait. Returns
 * 0, or GV_EINVAL for a NULL g or a NaN. */
GV_API int gv_wakegate_set_quiet(gv_wakegate *g, float quiet_db);

/* Capture thread: frames interleaved frames just captured (borrowed), in
 * the order captured. Returns 1 when the thread that pushes capture must
 * wake now (for this block and all that waited before it), 0 when they
 * may wait; 1 for a NULL g or in, or a block holding a NaN or an
 * infinity. Real-time safe. */
GV_API int gv_wakegate_block(gv_wakegate *g, const float *in, size_t frames);

#ifdef __cplusplus
}
#endif

#endif
