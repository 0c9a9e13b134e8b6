/* Streaming sample-rate and channel-count conversion of interleaved float
 * audio (speexdsp underneath). A handle keeps filter history between calls,
 * so one handle serves one continuous stream, one thread at a time. */
#ifndef GV_AUDIO_RESAMPLE_H
#define GV_AUDIO_RESAMPLE_H

#include <stddef.h>

#define GV_RESAMPLE_MIN_RATE 8000
#define GV_RESAMPLE_MAX_RATE 192000
/* Pass as quality to get speex's VoIP setting (3): ample for voice and
 * cheap enough to run per player. */
#define GV_RESAMPLE_QUALITY_DEFAULT (-1)

typedef struct gv_resampler gv_resampler;

/* Creates a converter from in_rate/in_channels to out_rate/out_channels
 * (rates 8000..192000, channels 1 or 2, quality 0..10 or -1). Stereo to mono
 * averages the channels, mono to stereo duplicates. *out is owned by the
 * caller (gv_resampler_destroy). Returns 0, GV_EINVAL or GV_ENOMEM.
 * Thread-safe. */
int gv_resampler_create(int in_rate, int in_channels, int out_rate, int out_channels,
                        int quality, gv_resampler **out);

/* Frees the converter; NULL is a no-op. Not concurrent with other calls on
 * it. */
void gv_resampler_destroy(gv_resampler *r);

/* Converts up to in_frames interleaved frames from in into at most
 * out_cap_frames frames at out; in and out are borrowed and must not
 * overlap. Sets *in_consumed to the input frames used (the caller re-offers
 * the rest) and returns the frames written, or GV_EINVAL. Never allocates.
 * One thread at a time per converter. */
int gv_resampler_process(gv_resampler *r, const float *in, size_t in_frames, float *out,
                         size_t out_cap_frames, size_t *in_consumed);

/* An output capacity that always lets one process() call consume all of
 * in_frames (saturates at SIZE_MAX); 0 if r is NULL. Safe to call
 * concurrently with itself. */
size_t gv_resampler_max_out_frames(const gv_resampler *r, size_t in_frames);

#endif
