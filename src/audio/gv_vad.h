/* Voice activity detection for transmitting without push-to-talk.
 *
 * Works on 48 kHz mono frames. A frame's level is its mean square in dB
 * relative to full scale (a full-scale sine reads -3 dBFS). The noise floor
 * is the minimum of the level smoothed over 100 ms, taken over roughly the
 * last 4 to 4.5 s, so it follows a quieter room at once and a louder one within
 * that window, whether or not someone is talking. Speech starts when a
 * frame is on_db above the floor (and at least min_level_dbfs), and goes on
 * while frames stay off_db above it (and at least min_level_dbfs minus the
 * same on_db - off_db gap): the gap is the hysteresis. After the last such
 * frame the detector keeps transmitting for hold_ms, bridging pauses
 * between words. At an onset it also hands back the last preroll_ms of
 * frames that were not sent, so a quiet first syllable is not clipped.
 *
 * Pure: no I/O, no clock; the only allocation is in gv_vad_create. */
#ifndef GV_AUDIO_VAD_H
#define GV_AUDIO_VAD_H

#define GV_VAD_RATE 48000
#define GV_VAD_MAX_PREROLL_FRAMES 32
/* The most frames one gv_vad_process call can hand back: size the caller's
 * send_frames array with it. */
#define GV_VAD_MAX_SEND (GV_VAD_MAX_PREROLL_FRAMES + 1)

typedef struct gv_vad gv_vad;

typedef struct gv_vad_config {
    int frame_samples;    /* 120..2880 (2.5..60 ms); no default: the caller's frame size */
    float on_db;          /* dB above the floor that starts speech; default 10 */
    float off_db;         /* dB above the floor that keeps it going; < on_db; default 5 */
    int hold_ms;          /* 0..5000; default 300 */
    int preroll_ms;       /* 0..1000, at most GV_VAD_MAX_PREROLL_FRAMES frames; default 60 */
    float min_level_dbfs; /* absolute gate: quieter frames never start speech; default -55 */
} gv_vad_config;

/* Fills *cfg with the defaults for frames of frame_samples. NULL does
 * nothing. Thread-safe. */
void gv_vad_config_default(gv_vad_config *cfg, int frame_samples);

/* Creates a detector from *cfg (copied), silent, with no floor yet (the
 * first frame sets it). Returns 0 and the new handle in *out, owned by the
 * caller (gv_vad_destroy), or GV_EINVAL for a NULL or out-of-range
 * argument, GV_ENOMEM. Thread-safe. */
int gv_vad_create(const gv_vad_config *cfg, gv_vad **out);

/* Frees vad; NULL is a no-op. Not concurrent with other calls on vad. */
void gv_vad_destroy(gv_vad *vad);

/* Feeds one frame of cfg.frame_samples samples (copied). Returns 1 when
 * transmitting, 0 when silent, GV_EINVAL for NULL vad, frame, send_frames
 * or send_count. send_frames (an array of GV_VAD_MAX_SEND pointers owned by
 * the caller) receives *send_count consecutive frames ending with this one,
 * oldest first: at an onset the unsent pre-roll frames and this one, while
 * transmitting just this one, when silent none. They point into vad and
 * stay valid until the next call on vad. *level_dbfs (NULL allowed) gets
 * this frame's level, at least -120. One thread at a time per vad. */
int gv_vad_process(gv_vad *vad, const float *frame, const float **send_frames, int *send_count,
                   float *level_dbfs);

/* 1 while transmitting (speech or hold), else 0 (also for NULL). Not
 * concurrent with gv_vad_process on the same vad. */
int gv_vad_active(const gv_vad *vad);

/* The current noise floor in dBFS (-120 before the first frame or for
 * NULL), for meters and tuning. Not concurrent with gv_vad_process. */
float gv_vad_floor_dbfs(const gv_vad *vad);

/* Forgets the floor, the pre-roll and any speech in progress, as after
 * create; for a change of input device or of talk mode. NULL does nothing.
 * One thread at a time per vad. */
void gv_vad_reset(gv_vad *vad);

#endif
