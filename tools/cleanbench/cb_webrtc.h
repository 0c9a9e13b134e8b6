/* webrtc-audio-processing 0.3 (the comparator; linked into gvoip-cleanbench
 * only) behind a C interface. 48 kHz mono float, GV_CLEAN_STEP samples a
 * call. */
#ifndef CB_WEBRTC_H
#define CB_WEBRTC_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cb_webrtc cb_webrtc;

/* Builds an AudioProcessing with the chosen components: echo cancellation
 * (told delay_ms as the device's stream delay before every frame), noise
 * suppression at kHigh, adaptive digital gain control aiming at
 * agc_target_dbfs (webrtc's own scale: a positive number of dB below full
 * scale). Returns 0 and the handle in *out, or -1. */
int cb_webrtc_create(int echo, int ns, int agc, int delay_ms, int agc_target_dbfs, cb_webrtc **out);

/* Frees w; NULL is a no-op. */
void cb_webrtc_destroy(cb_webrtc *w);

/* One 10 ms step: ref (may be NULL when echo is off) goes to the reverse
 * stream, mic through the capture chain to out. Returns 0 or -1. */
int cb_webrtc_process(cb_webrtc *w, const float *mic, const float *ref, float *out);

#ifdef __cplusplus
}
#endif

#endif
