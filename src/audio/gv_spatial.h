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
 * Pure: no allocation, no I/O, no global state. */
#ifndef GV_AUDIO_SPATIAL_H
#define GV_AUDIO_SPATIAL_H

#include <stddef.h>

/* Longest interaural delay the renderer keeps, in samples: Woodworth's
 * 0.66 ms maximum fits up to 144 kHz. */
#define GV_SPATIAL_ITD_MAX 96
#define GV_SPATIAL_HISTORY 128 /* delay-line length; a power of two above ITD_MAX + 1 */

typedef enum gv_spatial_mode {
    GV_SPATIAL_OFF = 0, /* no positional audio: unity gains, centred */
    GV_SPATIAL_2D = 1,  /* AudioStreamPlayer2D */
    GV_SPATIAL_3D = 2,  /* AudioStreamPlayer3D */
} gv_spatial_mode;

/* The values are Godot's AttenuationModel values. */
typedef enum gv_atten_model {
    GV_ATTEN_INVERSE = 0,
    GV_ATTEN_INVERSE_SQUARE = 1,
    GV_ATTEN_LOGARITHMIC = 2,
    GV_ATTEN_DISABLED = 3,
} gv_atten_model;

typedef struct gv_spatial_params {
    int mode;               /* gv_spatial_mode */
    int model;              /* gv_atten_model; 3D only */
    float unit_size;        /* 3D: distance at which the models give 0 dB; default 10 */
    float max_distance;     /* beyond it the speaker is not heard; 3D: 0 = unlimited,
                             * default 0; 2D: must be > 0, default 2000 */
    float volume_db;        /* added to the attenuation; default 0 */
    float max_db;           /* 3D: ceiling of attenuation + volume; default 3 */
    float attenuation;      /* 2D: exponent of (1 - d / max_distance); default 1 */
    float panning_strength; /* 0..3, scales the pan before it is clamped; default 1 */
    float pan_width;        /* 2D Godot pan: distance to one side that pans fully
                             * (Godot's screen width); 0 = max_distance; default 0 */
    int godot_pan;          /* 2D: 1 = Godot's linear pan (l = 1 - pan, r = pan, so
                             * -6 dB per channel when centred); 0 = equal-power */
    int itd;                /* 1 = compute an interaural delay (gv_spatial_itd); default 0 */
} gv_spatial_params;

typedef struct gv_vec3 {
    float x, y, z;
} gv_vec3;

typedef struct gv_pose {
    gv_vec3 position;
    gv_vec3 facing; /* need not be unit length; 2D uses x and y */
} gv_pose;

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

/* Fills *p with Godot's defaults for mode (GV_SPATIAL_2D or _3D; anything
 * else gives mode GV_SPATIAL_OFF with the 3D values). NULL does nothing.
 * Thread-safe. */
void gv_spatial_params_default(gv_spatial_params *p, int mode);

/* Returns 0 when every field of *p is usable (known mode and model, finite
 * values in range, 2D max_distance > 0), else GV_EINVAL. Parameters that
 * arrive from the network go through here first. Thread-safe. */
int gv_spatial_params_check(const gv_spatial_params *p);

/* The gains of source as heard by listener: *left and *right are linear
 * channel gains, *distance the distance (3D, or 2D in the x/y plane;
 * INFINITY when it cannot be computed). Parameters failing
 * gv_spatial_params_check give 0 and 0; mode off then gives 1 and 1
 * whatever the positions; otherwise NULL or non-finite positions give 0
 * and 0. Any output pointer may be NULL. Pure; thread-safe. */
void gv_spatial_gains(const gv_spatial_params *p, const gv_pose *listener, const gv_vec3 *source,
                      float *left, float *right, float *distance);

/* 1 when source is within max_distance + margin of listener, for the
 * server's proximity culling; always 1 when the mode is off or max_distance
 * is 0 (unlimited). 0 for NULL pointers or non-finite coordinates otherwise.
 * Pure; thread-safe. */
int gv_spatial_audible(const gv_spatial_params *p, const gv_pose *listener, const gv_vec3 *source,
                       float margin);

/* The interaural delay in whole samples at sample_rate (8000..192000):
 * Woodworth's r/c * (theta + sin theta), head radius 8.75 cm, c = 343 m/s,
 * theta the lateral angle; the ear away from the source gets the delay,
 * the other 0. Both 0 when p->itd is 0, the mode is off, the arguments are
 * invalid or the source is at the listener. Pure; thread-safe. */
void gv_spatial_itd(const gv_spatial_params *p, const gv_pose *listener, const gv_vec3 *source,
                    int sample_rate, int *left_samples, int *right_samples);

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
