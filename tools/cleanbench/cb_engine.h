/* The three engines under comparison, behind one interface: gvoip's
 * clean-input stages (gv_echo -> gv_denoise -> gv_agc), libspeexdsp's echo
 * canceller and preprocessor wired as Mumble wires them, and
 * webrtc-audio-processing 0.3. Each runs a whole signal in GV_CLEAN_STEP
 * steps and reports the thread CPU time it took. */
#ifndef CB_ENGINE_H
#define CB_ENGINE_H

#include <stddef.h>

typedef enum cb_engine_id { CB_ENGINE_GVOIP, CB_ENGINE_SPEEX, CB_ENGINE_WEBRTC, CB_ENGINES } cb_engine_id;

/* Stages, or-ed. */
enum { CB_STAGE_ECHO = 1, CB_STAGE_NS = 2, CB_STAGE_AGC = 4 };

/* speexdsp's echo filter, samples (150 ms). */
#define CB_SPEEX_TAIL 7200
/* speexdsp's noise suppression, dB (Mumble's default). */
#define CB_SPEEX_NOISE_SUPPRESS (-30)
/* speexdsp's AGC target, in its own loudness measure (Mumble's setting;
 * about -20 dBFS of active speech). */
#define CB_SPEEX_AGC_TARGET 30000
#define CB_SPEEX_AGC_MAX_GAIN_DB 30
/* webrtc's AGC target, its own scale (dB below full scale). */
#define CB_WEBRTC_AGC_TARGET 3

typedef struct cb_engine cb_engine;

/* "gvoip", "speexdsp", "webrtc 0.3"; "?" out of range. */
const char *cb_engine_name(cb_engine_id id);

/* The same without spaces, for file names: "gvoip", "speexdsp", "webrtc". */
const char *cb_engine_key(cb_engine_id id);

/* An engine with the given stages. delay_samples is the echo path's true
 * bulk delay, what a device reports: webrtc is told it
 * (set_stream_delay_ms), speexdsp gets the reference delayed by it, gvoip
 * is not told (it finds the delay itself). Returns 0 and the handle in
 * *out (cb_engine_destroy), GV_EINVAL or GV_ENOMEM. */
int cb_engine_create(cb_engine_id id, int stages, int delay_samples, cb_engine **out);

/* Frees e; NULL is a no-op. */
void cb_engine_destroy(cb_engine *e);

/* Runs n samples of mic (and ref, the far end as played; NULL when the
 * echo stage is off) through e into out; n a multiple of GV_CLEAN_STEP.
 * Adds the thread CPU time spent to *cpu_s. Returns 0, GV_EINVAL, or the
 * engine's failure as GV_EIO. */
int cb_engine_run(cb_engine *e, const float *mic, const float *ref, size_t n, float *out,
                  double *cpu_s);

#endif
