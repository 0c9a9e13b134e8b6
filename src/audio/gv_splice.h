/* Changing the length of decoded speech without a click: the jitter buffer
 * asks for a frame to be played a few milliseconds shorter when its delay
 * has stayed above target, and longer when it is below target (the delay
 * rose, the sender's clock runs slow, the audio device pulls fast). Cutting
 * samples out or repeating some leaves a step in the waveform; here the
 * seam is placed where the audio after it best resembles the audio before
 * it (a whole number of pitch periods, for voiced speech) and the two sides
 * are cross-faded, with a gain that keeps the power when they are unlike
 * (noise, unvoiced speech). Pure functions over a caller buffer. */
#ifndef GV_AUDIO_SPLICE_H
#define GV_AUDIO_SPLICE_H

/* Removes between skip/2 and skip samples from pcm[0..n), keeping its
 * first samples continuous with whatever played before, and returns the
 * new length (n when skip is 0 or does not fit: skip must be at most n/2
 * and n at least 192). The buffer is borrowed and modified in place.
 * Thread-safe on distinct buffers; never allocates. */
int gv_splice_shorten(float *pcm, int n, int skip);

/* Plays pcm[0..n) shorter (change < 0) or longer (change > 0) and returns
 * the new length: change < 0 is gv_splice_shorten(pcm, n, -change), and
 * change > 0 repeats between change/2 and change samples (whole pitch
 * periods of voiced speech when one fits in that range), so the result is
 * n + change/2 .. n + change long. Either way the first samples stay
 * continuous with whatever played before and the result ends with pcm's
 * own last samples, continuous with the next decoded frame.
 * pcm has room for cap samples. Returns n, pcm untouched, when change is 0
 * or does not fit: |change| at most n/2, n at least 192, and for change > 0
 * n + change at most cap. To play a gv_jbuf_frame f, decode f.samples into
 * room for f.samples + f.samples / 2 and call
 * gv_splice_stretch(pcm, f.samples, -f.skip, f.samples + f.samples / 2).
 * The buffer is borrowed and modified in place. Thread-safe on distinct
 * buffers; never allocates. */
int gv_splice_stretch(float *pcm, int n, int change, int cap);

#endif
