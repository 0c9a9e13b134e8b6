/* Residual echo suppression: the gain per frequency bin that removes what
 * the linear canceller (gv_echo) left of the echo while keeping the near
 * talker during double talk. gv_denoise calls it inside its own analysis,
 * so that noise and residual echo are suppressed in one transform (one
 * delay, one set of gains).
 *
 * The residual is modelled per band from the echo estimate's power: a
 * learnt share of it (the filter's misalignment, distortion) plus the
 * room's reverberation beyond the filter, predicted from the estimate's
 * power history with a decay measured in the far end's pauses. The filter
 * is taken to cover gv_echo's default tail (300 ms). Without a near talker
 * the model, widened over neighbouring bins, is subtracted hard, down to
 * -50 dB; while the residual clearly exceeds the model (a near talker)
 * gently, down to -16 dB at most.
 *
 * Pure: no I/O, no clock; allocation only in gv_resup_create. */
#ifndef GV_AUDIO_RESUP_H
#define GV_AUDIO_RESUP_H

typedef struct gv_resup gv_resup;

/* Creates a suppressor for spectra of bins bins (2..4097, 0 Hz to 24 kHz)
 * of frames that advance by hop samples at 48 kHz (for its time
 * constants). Returns 0 and the handle in *out (gv_resup_destroy),
 * GV_EINVAL or GV_ENOMEM. Thread-safe. */
int gv_resup_create(int bins, int hop, gv_resup **out);

/* Frees rs; NULL is a no-op. */
void gv_resup_destroy(gv_resup *rs);

/* For one analysis frame: the spectra of the canceller's output (e_re,
 * e_im) and of its echo estimate (y_re, y_im), taken with the same window,
 * bins values each (borrowed); the microphone's is their sum. Writes bins
 * gains in [0, 1] to gain (non-finite bins count as 0). Returns 0 or
 * GV_EINVAL. One thread at a time per rs; no allocation, locks or I/O. */
int gv_resup_gains(gv_resup *rs, const double *e_re, const double *e_im, const double *y_re,
                   const double *y_im, float *gain);

/* The canceller lost the echo path it had (the path changed): how much of
 * the echo it leaves is learnt afresh, from suppressing hard wherever the
 * estimate sounds, as after create; the room's tail and noise are kept.
 * NULL does nothing. One thread at a time per rs. */
void gv_resup_relearn(gv_resup *rs);

/* Forgets what was learnt, as after create. NULL does nothing. One thread
 * at a time per rs. */
void gv_resup_reset(gv_resup *rs);

#endif
