/* Shortening decoded speech without a click: the jitter buffer asks for a
 * frame to be played a few milliseconds shorter when its delay has stayed
 * above target. Cutting samples out leaves a step in the waveform; here
 * the cut is placed where the audio after it best resembles the audio
 * before it (a whole number of pitch periods, for voiced speech) and the
 * two sides are cross-faded. Pure function over a caller buffer. */
#ifndef GV_AUDIO_SPLICE_H
#define GV_AUDIO_SPLICE_H

/* Removes between skip/2 and skip samples from pcm[0..n), keeping its
 * first samples continuous with whatever played before, and returns the
 * new length (n when skip is 0 or does not fit: skip must be at most n/2
 * and n at least 192). The buffer is borrowed and modified in place.
 * Thread-safe on distinct buffers; never allocates. */
int gv_splice_shorten(float *pcm, int n, int skip);

#endif
