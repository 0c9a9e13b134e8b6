/* Positional voice: the gains one listener hears one speaker with, and a
 * per-stream renderer that turns a mono block into ramped stereo.
 *
 * Distance attenuation follows Godot's AudioStreamPlayer3D (inverse,
 * inverse square, logarithmic, disabled; unit size, volume, max_db, max
 * distance) and AudioStreamPlayer2D (max distance, attenuation exponent),
 * so a game developer hears what the engine would give. Panning is
 * equal-power from the listener's facing by default; 2D can use Godot's own
 * linear pan instead. Godot's 3D panner (SPCAP) and its attenuation
 * low-pass filter are not reproduced.
 *
 * Coordinates. 3D: +Y is up, Godot's forward is -Z, so a listener facing -Z
 * has +X on its right. 2D: y grows downwards as on a Godot canvas or a
 * terminal map; a listener facing (0,-1) (up the screen) has +X on its
 * right, and in general the right of facing (fx,fy) is (-fy,fx); z is
 * ignored. A facing that is zero, not finite, or (3D) vertical stands for
 * the default facing (3D -Z, 2D (0,-1)).
 *
 * Equal-power pan = panning_strength * (the source's offset to the
 * listener's right / its distance), clamped to [-1, 1]: the sine of the
 * azimuth in the horizontal plane, shrinking with the cosine of the
 * elevation off it, so it stays continuous through the zenith. A source at
 * the listener is centred.
 *
 * The lobby's settings and the poses are the public gv_spatial_config and
 * gv_player_pose (gvoip/gvoip.h), the same structs the server is given,
 * the wire carries (packet/gv_msg.h) and a game reads back; the defaults
 * (gv_spatial_config_default) are defined here. A source is a speaker's
 * pose, whose facing is not used: voices are heard alike from every side.
 *
 * Pure: no allocation, no I/O, no global state. */
#ifndef GV_AUDIO_SPATIAL_H
#define GV_AUDIO_SPATIAL_H

#include <stddef.h>

#include "gvoip/gvoip.h"

/* Longest interaural delay the renderer keeps, in samples: Woodworth's
 * 0.66 ms maximum fits up to 144 kHz. */
#define GV_SPATIAL_ITD_MAX 96
#define GV_SPATIAL_HISTORY 128 /* delay-line length; a power of two above ITD_MAX + 1 */

/* The renderer's state for one stream. A plain struct so that it needs no
 * allocation and can live inside a per-player stream; fill it with
 * gv_spatial_voice_init() and treat the fields as private. */
typedef struct gv_spatial_voice {
    float gain[2];                  /* left, right gains reached by the last block */
    float delay[2];                 /* left, right delays (samples) reached by the last block */
    float history[GV_SPATIAL_HISTORY]; /* the latest input samples, for the delays */
    unsigned pos;                   /* slot of the latest input sample */
    int started;                    /* 0 until the first block, which starts at its targets */
} gv_spatial_voice;

/* Returns 0 when every field of *p is usable, else GV_EINVAL: a known mode
 * and model, unit_size in (0, 1e9], max_distance and pan_width in [0, 1e9]
 * (2D max_distance > 0), volume_db in [-80, 80], max_db in [-80, 24],
 * attenuation in [0, 100], panning_strength in [0, 3], godot_pan 0 or 1.
 * Settings from a game or from the network go through here before use.
 * Thread-safe. */
int gv_spatial_config_check(const gv_spatial_config *p);

/* The gains of source as heard by listener: *left and *right are linear
 * channel gains, *distance the distance (3D, or 2D in the x/y plane;
 * INFINITY when it cannot be computed). Settings failing
 * gv_spatial_config_check give 0 and 0; mode off then gives 1 and 1
 * whatever the positions; otherwise NULL or non-finite positions give 0
 * and 0. Any output pointer may be NULL. Pure; thread-safe. */
void gv_spatial_gains(const gv_spatial_config *p, const gv_player_pose *listener,
                      const gv_player_pose *source, float *left, float *right, float *distance);

/* 1 when source is within max_distance + margin of listener, for the
 * server's proximity culling; always 1 when the mode is off or max_distance
 * is 0 (unlimited). 0 for NULL pointers or non-finite coordinates otherwise.
 * Pure; thread-safe. */
int gv_spatial_audible(const gv_spatial_config *p, const gv_player_pose *listener,
                       const gv_player_pose *source, float margin);

/* The interaural delay in whole samples at sample_rate (8000..192000):
 * Woodworth's r/c * (theta + sin theta), head radius 8.75 cm, c = 343 m/s,
 * theta the lateral angle; the ear away from the source gets the delay,
 * the other 0. Whether to use it is the listener's choice (a client
 * setting, not the lobby's). Both 0 when the mode is off, the arguments
 * are invalid or the source is at the listener. Pure; thread-safe. */
void gv_spatial_itd(const gv_spatial_config *p, const gv_player_pose *listener,
                    const gv_player_pose *source, int sample_rate, int *left_samples,
                    int *right_samples);

/* Godot AudioStreamPlayer2D's pan: x is the source's offset to the
 * listener's right, width the distance that pans fully, strength the
 * panning strength. pan = clamp(clamp(x / width, -1, 1) * strength * 0.5
 * + 0.5, 0, 1); *left = 1 - pan, *right = pan. width <= 0 or non-finite
 * input gives 0.5, 0.5. Pure; thread-safe. */
void gv_spatial_godot2d_pan(float x, float width, float strength, float *left, float *right);

/* Equal-power pan for pan in [-1, 1] (clamped; NaN is 0): left =
 * sqrt2 * cos((pan + 1) * pi / 4), right = sqrt2 * sin(...). left^2 +
 * right^2 = 2 at every pan, so a centred source keeps unity gain per channel
 * (the level the mono mix would give) and a fully panned one gets +3 dB on
 * its side. Pure; thread-safe. */
void gv_spatial_equal_power_pan(float pan, float *left, float *right);

/* Resets v to silence; the next block jumps straight to its gains and
 * delays (a stream's first syllable is not faded in). NULL does nothing.
 * One thread at a time per v. */
void gv_spatial_voice_init(gv_spatial_voice *v);

/* Adds mono[0..n) into the interleaved stereo_accumulate[0..2n). Each
 * channel's gain moves linearly from the previous block's gain to the new
 * one, reaching it on the last sample; each channel's delay (0 ..
 * GV_SPATIAL_ITD_MAX, clamped) moves towards its target by at most one
 * sample per 256 samples, read with linear interpolation, so neither a
 * gain change nor a delay change clicks. Non-finite gains count as 0.
 * NULL or n == 0 does nothing. Buffers are borrowed and may not overlap.
 * One thread at a time per v. */
void gv_spatial_voice_render(gv_spatial_voice *v, const float *mono, size_t n, float left_gain,
                             float right_gain, int itd_left_samples, int itd_right_samples,
                             float *stereo_accumulate);

#endif
