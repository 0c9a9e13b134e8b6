// The only C++ in gvoip: webrtc-audio-processing has no C interface.
#include "cb_webrtc.h"

#include <webrtc/modules/audio_processing/include/audio_processing.h>

#include <cstring>
#include <new>

#include "audio/gv_clean.h"

struct cb_webrtc {
    webrtc::AudioProcessing *apm;
    bool echo;
    int delay_ms;
    float in[GV_CLEAN_STEP];
    float rev[GV_CLEAN_STEP];
};

static bool ok(int rc)
{
    return rc == webrtc::AudioProcessing::kNoError;
}

extern "C" int cb_webrtc_create(int echo, int ns, int agc, int delay_ms, int agc_target_dbfs,
                                cb_webrtc **out)
{
    if (!out)
        return -1;
    *out = nullptr;
    cb_webrtc *w = new (std::nothrow) cb_webrtc();
    if (!w)
        return -1;
    w->apm = webrtc::AudioProcessing::Create();
    w->echo = echo != 0;
    w->delay_ms = delay_ms;
    bool good = w->apm != nullptr;
    if (good) {
        webrtc::ProcessingConfig pc = {{webrtc::StreamConfig(GV_CLEAN_RATE, 1), webrtc::StreamConfig(GV_CLEAN_RATE, 1),
                                        webrtc::StreamConfig(GV_CLEAN_RATE, 1),
                                        webrtc::StreamConfig(GV_CLEAN_RATE, 1)}};
        good = ok(w->apm->Initialize(pc));
    }
    if (good && echo)
        good = ok(w->apm->echo_cancellation()->Enable(true));
    if (good && ns) {
        good = ok(w->apm->noise_suppression()->set_level(webrtc::NoiseSuppression::kHigh)) &&
               ok(w->apm->noise_suppression()->Enable(true));
    }
    if (good && agc) {
        webrtc::GainControl *gc = w->apm->gain_control();
        good = ok(gc->set_mode(webrtc::GainControl::kAdaptiveDigital)) &&
               ok(gc->set_target_level_dbfs(agc_target_dbfs)) && ok(gc->Enable(true));
    }
    if (!good) {
        cb_webrtc_destroy(w);
        return -1;
    }
    *out = w;
    return 0;
}

extern "C" void cb_webrtc_destroy(cb_webrtc *w)
{
    if (!w)
        return;
    delete w->apm;
    delete w;
}

extern "C" int cb_webrtc_process(cb_webrtc *w, const float *mic, const float *ref, float *out)
{
    if (!w || !mic || !out)
        return -1;
    const webrtc::StreamConfig cfg(GV_CLEAN_RATE, 1);
    if (w->echo) {
        // The API takes non-const channel pointers; copies keep the
        // caller's buffers const.
        if (ref)
            std::memcpy(w->rev, ref, sizeof w->rev);
        else
            std::memset(w->rev, 0, sizeof w->rev);
        float *rev = w->rev;
        if (!ok(w->apm->ProcessReverseStream(&rev, cfg, cfg, &rev)))
            return -1;
        if (!ok(w->apm->set_stream_delay_ms(w->delay_ms)))
            return -1;
    }
    std::memcpy(w->in, mic, sizeof w->in);
    const float *src = w->in;
    float *dst = out;
    return ok(w->apm->ProcessStream(&src, cfg, cfg, &dst)) ? 0 : -1;
}
