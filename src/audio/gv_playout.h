/* The playout half of a client's voice path: one stream per remote player
 * (jitter buffer, decoder with FEC and concealment, time-stretch, local
 * gain and position), the mixer, the limiter and the resampler to the
 * device's format.
 *
 * Two threads meet here. The control thread (the one that services the
 * network) owns the players' settings and the arrival of packets; the
 * render thread (a device callback, clocked by the sound card) decodes and
 * mixes exactly when the device asks. They share nothing but two lock-free
 * mailboxes and a triple-buffered statistics snapshot: the control thread
 * posts packets and state, the render thread takes them at the start of
 * each render and hands back what the control thread must free. Nothing on
 * the render side allocates, locks, blocks or does I/O, except a render at a
 * format gv_playout_prepare was not told of (it builds its resampler then).
 * Both may be the same thread.
 *
 * Pure logic: time is passed in (microseconds, the control thread's clock
 * for arrivals, the same clock read by the render thread for playout). */
#ifndef GV_AUDIO_PLAYOUT_H
#define GV_AUDIO_PLAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "audio/gv_jbuf.h"
#include "audio/gv_spatial.h"

#define GV_PLAYOUT_MAX_STREAMS 256

typedef struct gv_playout gv_playout;

/* Control thread ---------------------------------------------------------- */

/* Returns 0, GV_ENOMEM. The caller owns *out. */
int gv_playout_create(gv_playout **out);

/* Frees everything; the render side must no longer run. NULL is a no-op. */
void gv_playout_destroy(gv_playout *pl);

/* Announces a player's stream (allocated here). Returns 0, GV_EFULL when
 * the mailbox has no room now (try again later), GV_ENOMEM. Announcing an
 * id twice without removing it first is the caller's mistake. */
int gv_playout_add(gv_playout *pl, uint16_t id);

/* The player's stream goes; freed once the render side lets go of it.
 * 0 or GV_EFULL (try again later). */
int gv_playout_remove(gv_playout *pl, uint16_t id);

/* A packet too faint to wake a sleeping playback device (comfort noise
 * of a quiet room): while the render side has taken nothing for
 * GV_PLAYOUT_ASLEEP_US, it is not kept. Otherwise a device asleep for
 * minutes beside a player sent in continuous mode found the mailbox full
 * of old noise when a word woke it, and the word was lost. */
#define GV_PLAYOUT_FAINT 0x100
#define GV_PLAYOUT_ASLEEP_US 500000u

/* One voice packet for id's jitter buffer (see gv_jbuf_put for the
 * fields; jbuf_flags may add GV_PLAYOUT_FAINT), arrived at arrival_us. 0
 * (also for a faint packet not kept), GV_EFULL (dropped and counted),
 * GV_EINVAL. */
int gv_playout_voice(gv_playout *pl, uint16_t id, uint16_t seq, uint32_t ts, int samples, int jbuf_flags,
                     const uint8_t *payload, size_t len, uint64_t arrival_us);

/* The uncompressed baseline: interleaved stereo float32 little-endian
 * frames, played as they come with no jitter buffer. */
int gv_playout_raw(gv_playout *pl, uint16_t id, const uint8_t *payload, size_t len);

/* A player's local volume (0..4), mute and position (pose NULL: none yet).
 * 0 or GV_EFULL. */
int gv_playout_player(gv_playout *pl, uint16_t id, float volume, int muted, const gv_player_pose *pose);

/* The listener: the lobby's positional settings, whether to add the
 * interaural delay (itd, the client's own choice), own pose (NULL: none
 * yet), deafened. 0 or GV_EFULL. */
int gv_playout_listener(gv_playout *pl, const gv_spatial_config *spatial, int itd, const gv_player_pose *pose,
                        int deafened);

/* Builds the converter for rendering at rate (8000..192000) and channels
 * (1, 2), so that renders at that format never allocate; also the rate
 * gv_playout_render_player renders new streams at. 0, GV_EINVAL, GV_ENOMEM
 * or GV_EFULL. */
int gv_playout_prepare(gv_playout *pl, int rate, int channels);

/* Frees what the render side has let go of. Call regularly. */
void gv_playout_collect(gv_playout *pl);

/* The latest statistics the render side published for id: 0, or
 * GV_ENOTFOUND when it has published none for that player. */
int gv_playout_stats(gv_playout *pl, uint16_t id, gv_jbuf_stats *out);

/* Voice packets dropped because the render side was not taking them. */
uint64_t gv_playout_dropped(const gv_playout *pl);

/* Render thread ----------------------------------------------------------- */

/* Takes what the control thread posted, then renders frames frames of the
 * mix at rate and channels into out (always filled). Returns frames or a
 * negative code. now_us: the clock arrivals are stamped with. */
int gv_playout_render(gv_playout *pl, float *out, size_t frames, int rate, int channels, uint64_t now_us);

/* The same for one player alone, mono and un-spatialized (local volume
 * only). GV_ENOTFOUND (out filled with silence) when id has no stream. */
int gv_playout_render_player(gv_playout *pl, uint16_t id, float *out, size_t frames, int rate, uint64_t now_us);

#endif
