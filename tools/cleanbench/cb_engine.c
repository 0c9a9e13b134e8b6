#include "cb_engine.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>

#include "audio/gv_clean.h"
#include "cb_webrtc.h"
#include "gvoip/error.h"

struct cb_engine {
    cb_engine_id id;
    int stages;
    int delay; /* samples */

    gv_clean *clean; /* gvoip's chain, as the client runs it */

    SpeexEchoState *sec;
    SpeexPreprocessState *spp;

    cb_webrtc *wr;
};

const char *cb_engine_name(cb_engine_id id)
{
    switch (id) {
    case CB_ENGINE_GVOIP:
        return "gvoip";
    case CB_ENGINE_SPEEX:
        return "speexdsp";
    case CB_ENGINE_WEBRTC:
        return "webrtc 0.3";
    default:
        return "?";
    }
}

const char *cb_engine_key(cb_engine_id id)
{
    return id == CB_ENGINE_WEBRTC ? "webrtc" : cb_engine_name(id);
}

static int speex_setup(cb_engine *e)
{
    spx_int32_t rate = GV_CLEAN_RATE, on = 1, off = 0;
    spx_int32_t suppress = CB_SPEEX_NOISE_SUPPRESS, target = CB_SPEEX_AGC_TARGET;
    spx_int32_t max_gain = CB_SPEEX_AGC_MAX_GAIN_DB;
    if (e->stages & CB_STAGE_ECHO) {
        e->sec = speex_echo_state_init(GV_CLEAN_STEP, CB_SPEEX_TAIL);
        if (!e->sec)
            return GV_ENOMEM;
        speex_echo_ctl(e->sec, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
    }
    e->spp = speex_preprocess_state_init(GV_CLEAN_STEP, GV_CLEAN_RATE);
    if (!e->spp)
        return GV_ENOMEM;
    speex_preprocess_ctl(e->spp, SPEEX_PREPROCESS_SET_DENOISE, e->stages & CB_STAGE_NS ? &on : &off);
    speex_preprocess_ctl(e->spp, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &suppress);
    speex_preprocess_ctl(e->spp, SPEEX_PREPROCESS_SET_DEREVERB, &off);
    speex_preprocess_ctl(e->spp, SPEEX_PREPROCESS_SET_AGC, e->stages & CB_STAGE_AGC ? &on : &off);
    speex_preprocess_ctl(e->spp, SPEEX_PREPROCESS_SET_AGC_TARGET, &target);
    speex_preprocess_ctl(e->spp, SPEEX_PREPROCESS_SET_AGC_MAX_GAIN, &max_gain);
    /* The preprocessor's residual-echo suppression reads the canceller's
     * state, as in Mumble. */
    if (e->sec)
        speex_preprocess_ctl(e->spp, SPEEX_PREPROCESS_SET_ECHO_STATE, e->sec);
    return 0;
}

static int gvoip_setup(cb_engine *e)
{
    gv_clean_config cc = {
        .echo = !!(e->stages & CB_STAGE_ECHO),
        .denoise = !!(e->stages & CB_STAGE_NS),
        .agc = !!(e->stages & CB_STAGE_AGC),
    };
    return gv_clean_create(&cc, &e->clean);
}

int cb_engine_create(cb_engine_id id, int stages, int delay_samples, cb_engine **out)
{
    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if ((unsigned)id >= CB_ENGINES || !stages || (stages & ~7) || delay_samples < 0 ||
        delay_samples > GV_CLEAN_RATE)
        return GV_EINVAL;
    cb_engine *e = calloc(1, sizeof *e);
    if (!e)
        return GV_ENOMEM;
    e->id = id;
    e->stages = stages;
    e->delay = delay_samples;
    int rc;
    switch (id) {
    case CB_ENGINE_GVOIP:
        rc = gvoip_setup(e);
        break;
    case CB_ENGINE_SPEEX:
        rc = speex_setup(e);
        break;
    default:
        rc = cb_webrtc_create(stages & CB_STAGE_ECHO, stages & CB_STAGE_NS, stages & CB_STAGE_AGC,
                              (int)lround(delay_samples * 1000.0 / GV_CLEAN_RATE), CB_WEBRTC_AGC_TARGET,
                              &e->wr) == 0
                 ? 0
                 : GV_EIO;
        break;
    }
    if (rc < 0) {
        cb_engine_destroy(e);
        return rc;
    }
    *out = e;
    return 0;
}

void cb_engine_destroy(cb_engine *e)
{
    if (!e)
        return;
    gv_clean_destroy(e->clean);
    if (e->spp)
        speex_preprocess_state_destroy(e->spp);
    if (e->sec)
        speex_echo_state_destroy(e->sec);
    cb_webrtc_destroy(e->wr);
    free(e);
}

static int gvoip_step(cb_engine *e, const float *mic, const float *ref, float *out)
{
    memcpy(out, mic, GV_CLEAN_STEP * sizeof *out);
    return gv_clean_process(e->clean, out, ref);
}

static spx_int16_t to_s16(float x)
{
    long v = lrintf(x * 32768.0f);
    return (spx_int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
}

static int speex_step(cb_engine *e, const float *mic, const float *ref, float *out)
{
    spx_int16_t m[GV_CLEAN_STEP], r[GV_CLEAN_STEP], o[GV_CLEAN_STEP];
    for (int i = 0; i < GV_CLEAN_STEP; i++)
        m[i] = to_s16(mic[i]);
    if (e->sec) {
        for (int i = 0; i < GV_CLEAN_STEP; i++)
            r[i] = ref ? to_s16(ref[i]) : 0;
        speex_echo_cancellation(e->sec, m, r, o);
    } else {
        memcpy(o, m, sizeof o);
    }
    speex_preprocess_run(e->spp, o);
    for (int i = 0; i < GV_CLEAN_STEP; i++)
        out[i] = o[i] / 32768.0f;
    return 0;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cb_engine_run(cb_engine *e, const float *mic, const float *ref, size_t n, float *out,
                  double *cpu_s)
{
    if (!e || !mic || !out || !cpu_s || n % GV_CLEAN_STEP)
        return GV_EINVAL;
    int echo = (e->stages & CB_STAGE_ECHO) && ref;
    float shifted[GV_CLEAN_STEP];
    double start = thread_cpu_s();
    int rc = 0;
    for (size_t at = 0; at < n && rc == 0; at += GV_CLEAN_STEP) {
        const float *r = echo ? ref + at : NULL;
        switch (e->id) {
        case CB_ENGINE_GVOIP:
            rc = gvoip_step(e, mic + at, r, out + at);
            break;
        case CB_ENGINE_SPEEX:
            /* The device's reported delay, applied to the reference. */
            if (r) {
                for (size_t i = 0; i < GV_CLEAN_STEP; i++)
                    shifted[i] = at + i >= (size_t)e->delay ? ref[at + i - (size_t)e->delay] : 0.0f;
                r = shifted;
            }
            rc = speex_step(e, mic + at, r, out + at);
            break;
        default:
            rc = cb_webrtc_process(e->wr, mic + at, r, out + at) == 0 ? 0 : GV_EIO;
            break;
        }
    }
    *cpu_s += thread_cpu_s() - start;
    return rc;
}
