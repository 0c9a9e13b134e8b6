/* The client's voice path, between the public calls and the session link:
 * capture (resample, frame, encode, send), the control thread's view of
 * the remote players (speaking, loss counts, volume, position), and the
 * hand-off to the playout (gv_playout), which the render thread drives.
 * gv_voice_pull_mix and gv_voice_pull_player are the render thread's; every
 * other call is the control thread's. */
#ifndef GV_VOICE_H
#define GV_VOICE_H

#include "gvoip/gvoip.h"
#include "packet/gv_msg.h"
#include "session/gv_events.h"
#include "session/gv_link.h"

typedef struct gv_voice gv_voice;

/* Validates the voice fields of cfg (codec, frame size, transmit mode,
 * the cleaning stages). Speaking events go to `events`, the client's
 * stream, which must outlive the voice path. */
int gv_voice_create(const gv_client_config *cfg, gv_event_queue *events, gv_voice **out);
void gv_voice_destroy(gv_voice *v);

/* A relayed voice message from the link (which tells our id and the
 * sender's name). */
void gv_voice_receive(gv_voice *v, const gv_msg *relay, const gv_link *link);
void gv_voice_loss_report(gv_voice *v, uint16_t reporter, uint16_t loss_permille);
void gv_voice_remove_peer(gv_voice *v, uint16_t id);

/* A player joined the lobby: their stream is made ready before they speak.
 * 0 or GV_ENOMEM. */
int gv_voice_add_peer(gv_voice *v, uint16_t id);

/* The player resumed their session: their sequence numbers start afresh
 * (the jitter buffer follows the restart on its own). */
void gv_voice_restart_peer(gv_voice *v, uint16_t id);

/* We are on a new session: our stream starts afresh at the receivers, so
 * the encoder does too, the next packet opens a talk spurt, and our pose
 * goes out again at once. */
void gv_voice_new_session(gv_voice *v);

/* The local volume and mute of a player: 0 or GV_ENOTFOUND. */
int gv_voice_player_settings(const gv_voice *v, uint16_t id, float *volume, int *muted);

/* The playback format the render thread will pull at: its converter is
 * built now, so that pulls never allocate. */
int gv_voice_prepare_playback(gv_voice *v, int rate, int channels);

/* Periodic work: loss reports to the speakers, encoder adaptation,
 * speaking events for players gone quiet. */
void gv_voice_tick(gv_voice *v, gv_link *link);

int gv_voice_push_capture(gv_voice *v, gv_link *link, const float *samples, size_t frames, int rate, int channels);

/* Device timing for lining the echo canceller's reference up with the
 * microphone (gv_client_set_device_latency). */
int gv_voice_set_device_latency(gv_voice *v, uint32_t capture_us, uint32_t playback_us);

/* What the caller's device is about to play, in GV_ECHO_CANCEL_EXTERNAL
 * mode (GV_ESTATE otherwise). Render thread. */
int gv_voice_push_echo_reference(gv_voice *v, const float *samples, size_t frames, int rate, int channels);
int gv_voice_pull_mix(gv_voice *v, float *out, size_t frames, int rate, int channels);

/* Per-player stream for engines that spatialize themselves (mono). */
int gv_voice_pull_player(gv_voice *v, uint16_t id, float *out, size_t frames, int rate);

/* Own pose (validated), relayed poses of others, and the lobby's settings
 * from SPATIAL_CONFIG (GV_EINVAL when gv_spatial_config_check refuses them). */
int gv_voice_set_pose(gv_voice *v, const gv_player_pose *pose);
void gv_voice_position(gv_voice *v, const gv_msg *relay, uint16_t own_id);
int gv_voice_player_pose(const gv_voice *v, uint16_t id, gv_player_pose *out);
int gv_voice_spatial_config(gv_voice *v, const gv_msg *config);
void gv_voice_get_spatial(const gv_voice *v, gv_spatial_config *out);

/* Controls; each returns 0 or GV_EINVAL (GV_ENOMEM for a new player entry).
 * gv_voice_set_player changes whichever of volume and muted is not NULL. */
int gv_voice_set_muted(gv_voice *v, int on);
int gv_voice_set_deafened(gv_voice *v, int on);
int gv_voice_set_transmit_mode(gv_voice *v, int mode);
int gv_voice_set_ptt(gv_voice *v, int down);
int gv_voice_set_player(gv_voice *v, uint16_t id, const float *volume, const int *muted);
float gv_voice_input_level_db(const gv_voice *v);
/* See gv_client_loudest_peer_db. */
float gv_voice_loudest_peer_db(const gv_voice *v);
int gv_voice_transmitting(const gv_voice *v);
/* 1 while something of the voice path is timed finer than once a second:
 * own voice being sent, a remote player heard speaking (its end is a
 * timeout), own pose moving. */
int gv_voice_busy(const gv_voice *v);
/* See gv_client_capture_quiet_db. */
float gv_voice_capture_quiet_db(const gv_voice *v);

/* Adds the voice counters to *out. */
void gv_voice_get_stats(const gv_voice *v, gv_client_stats *out);
/* The statistics of the index-th player (0..); GV_ENOTFOUND past the last. */
int gv_voice_peer_stats_at(const gv_voice *v, int index, gv_peer_stats *out);

/* One player's statistics; GV_ENOTFOUND if they are not in the lobby. */
int gv_voice_peer_stats(const gv_voice *v, uint16_t id, gv_peer_stats *out);

#endif
