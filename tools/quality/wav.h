/* Sound files for the quality tools: any format libsndfile reads, as mono
 * float at a chosen rate, and mono 16-bit WAV out. Resampling is offline
 * and delay-free, so a file and its resampled copy stay time-aligned. */
#ifndef GV_QUALITY_WAV_H
#define GV_QUALITY_WAV_H

#include <stddef.h>

#define GV_WAV_MIN_RATE 1000
#define GV_WAV_MAX_RATE 768000

/* Reads path, averages its channels to mono and resamples to rate (0 keeps
 * the file's rate). *samples is malloc'd and owned by the caller (free);
 * *frames gets its length and *file_rate (may be NULL) the file's rate.
 * Returns 0, GV_EINVAL, GV_EIO (missing, unreadable, not a sound file,
 * empty, or a rate outside GV_WAV_MIN_RATE..GV_WAV_MAX_RATE) or GV_ENOMEM.
 * Thread-safe. */
int gv_wav_read(const char *path, int rate, float **samples, size_t *frames, int *file_rate);

/* Writes n mono samples (borrowed) at rate to path as 16-bit WAV, clipping
 * at full scale. Returns 0, GV_EINVAL or GV_EIO. Thread-safe. */
int gv_wav_write(const char *path, const float *samples, size_t n, int rate);

/* Resamples n samples (borrowed) from in_rate to out_rate with speexdsp at
 * quality 8 of 10, compensating the filter delay so that sample i of the
 * output is at time i / out_rate like the input's. *out is malloc'd, owned
 * by the caller, round(n * out_rate / in_rate) samples long (*out_n).
 * Returns 0, GV_EINVAL or GV_ENOMEM. Thread-safe. */
int gv_wav_resample(const float *in, size_t n, int in_rate, int out_rate, float **out,
                    size_t *out_n);

#endif
