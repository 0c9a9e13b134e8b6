/* The clean-input chain that runs on the microphone before the encoder:
 * echo cancellation (gv_echo), noise and residual-echo suppression in one
 * transform (gv_denoise with gv_resup), then automatic gain (gv_agc).
 *
 * Every stage works on 48 kHz mono float samples in steps of
 * GV_CLEAN_STEP; so does the chain. Pure: no I/O, no clock; allocation
 * only in gv_clean_create. */
#ifndef GV_AUDIO_CLEAN_H
#define GV_AUDIO_CLEAN_H

#define GV_CLEAN_RATE 48000
#define GV_CLEAN_STEP 480 /* 10 ms */

typedef struct gv_clean gv_clean;

typedef struct gv_clean_config {
    int echo;    /* 1: cancel the echo of the reference */
    int denoise; /* 1: suppress noise */
    int agc;     /* 1: automatic gain */
} gv_clean_config;

typedef struct gv_clean_stats {
    int echo_delay_samples; /* the echo's delay behind the reference handed in; -1: none found */
    float echo_erle_db;     /* the linear canceller's, recent */
    float agc_gain_db;      /* applied to the last step */
    int echo_found;         /* 1 once the canceller removed an echo: its output is used from then on */
} gv_clean_stats;

/* Returns 0 and the handle in *out (gv_clean_destroy), GV_EINVAL (NULL
 * argument, a flag other than 0 or 1) or GV_ENOMEM. */
int gv_clean_create(const gv_clean_config *cfg, gv_clean **out);

/* Frees cl; NULL is a no-op. */
void gv_clean_destroy(gv_clean *cl);

/* Cleans GV_CLEAN_STEP samples of step in place; the output lags the input
 * by gv_clean_delay samples. ref: what the speaker played during the step
 * (aligned as gv_echo asks), NULL when nothing was. The canceller's output
 * and its echo estimate are used only once it has found an echo, and a
 * step it made louder goes out as it came. Returns 0 or GV_EINVAL. No
 * allocation, locks or I/O. */
int gv_clean_process(gv_clean *cl, float *step, const float *ref);

/* The reference of the next steps was stepped by samples while the echo
 * stayed (gv_echo_reference_moved). NULL or no canceller does nothing. */
void gv_clean_reference_moved(gv_clean *cl, int samples);

/* Samples by which the output lags the input: 0 with every stage off. */
int gv_clean_delay(const gv_clean *cl);

/* Copies the stages' current figures to *st. Returns 0 or GV_EINVAL. */
int gv_clean_get_stats(const gv_clean *cl, gv_clean_stats *st);

#endif
