#include "audio/gv_clean.h"

#include <stdlib.h>
#include <string.h>

#include "audio/gv_agc.h"
#include "audio/gv_denoise.h"
#include "audio/gv_echo.h"
#include "gvoip/error.h"

/* The filter removing this much of the microphone while the far end
 * talks, this many of its steps in a row after the far end changed its
 * sound (gv_echo_stats.far_sounds), means there is an echo. Unrelated
 * near speech leaves it at 0 dB, except while each talker holds one
 * steady sound: the filter fits the ratio of their spectra bin by bin,
 * which a new sound of the far end breaks, where a real echo path stays.
 * Steps the far end is silent do not count: the ERLE stands still. */
#define ECHO_FOUND_DB 3.0f
#define ECHO_FOUND_STEPS 10
/* A step the filter made this much louder (3 dB) went wrong. */
#define ECHO_ADDS 2.0
/* Steps of digital silence after which the suppressor's window and
 * overlap hold nothing but zeros: its output is zeros too. */
#define SILENCE_FLUSHED ((GV_DENOISE_DELAY + GV_CLEAN_STEP - 1) / GV_CLEAN_STEP + 2)

struct gv_clean {
    gv_clean_config cfg;
    gv_echo *echo;
    /* Also there for the canceller alone: its residual is suppressed in the
     * denoiser's transform. */
    gv_denoise *denoise;
    gv_agc *agc;
    float estimate[GV_CLEAN_STEP];
    float mic[GV_CLEAN_STEP];
    int echo_found; /* the canceller has cancelled an echo at least once */
    int echo_steps; /* far-end steps in a row the filter removed something */
    int echo_new;   /* of them, since the far end's first new sound within, or -1 */
    unsigned sounds; /* the far end's sound count at its last talking step */
    unsigned losses; /* the canceller's count of paths lost, as last seen */
    int silent;     /* steps in a row of digital silence into the suppressor */
};

int gv_clean_create(const gv_clean_config *cfg, gv_clean **out)
{
    gv_clean *cl = NULL;
    int rc = GV_EINVAL;

    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (!cfg || (cfg->echo & ~1) || (cfg->denoise & ~1) || (cfg->agc & ~1))
        return GV_EINVAL;
    cl = calloc(1, sizeof *cl);
    if (!cl)
        return GV_ENOMEM;
    cl->cfg = *cfg;
    cl->echo_new = -1;
    if (cfg->echo && (rc = gv_echo_create(NULL, &cl->echo)) < 0)
        goto fail;
    if (cfg->echo || cfg->denoise) {
        gv_denoise_config dc;
        gv_denoise_config_default(&dc);
        dc.suppress_noise = cfg->denoise;
        if ((rc = gv_denoise_create(&dc, &cl->denoise)) < 0)
            goto fail;
    }
    if (cfg->agc && (rc = gv_agc_create(NULL, &cl->agc)) < 0)
        goto fail;
    *out = cl;
    return 0;
fail:
    gv_clean_destroy(cl);
    return rc;
}

void gv_clean_destroy(gv_clean *cl)
{
    if (!cl)
        return;
    gv_echo_destroy(cl->echo);
    gv_denoise_destroy(cl->denoise);
    gv_agc_destroy(cl->agc);
    free(cl);
}

static int is_silent(const float *step)
{
    for (int i = 0; i < GV_CLEAN_STEP; i++)
        if (step[i] != 0.0f)
            return 0;
    return 1;
}

int gv_clean_process(gv_clean *cl, float *step, const float *ref)
{
    const float *estimate = NULL;

    if (!cl || !step)
        return GV_EINVAL;
    if (cl->echo) {
        /* Also when silence was played: the room still rings with what was
         * played before. */
        double in = 0.0, out = 0.0;
        gv_echo_stats es;
        memcpy(cl->mic, step, sizeof cl->mic);
        gv_echo_process(cl->echo, cl->mic, ref, step, cl->estimate);
        for (int i = 0; i < GV_CLEAN_STEP; i++) {
            in += (double)cl->mic[i] * cl->mic[i];
            out += (double)step[i] * step[i];
        }
        /* Until the filter has found an echo (a headset has none) its
         * output and estimate are not used: with nothing to model, the far
         * end talking over the near one makes it adapt to the near talker,
         * and the suppressor would take him for echo not yet learnt. The
         * filter adapts on meanwhile. */
        gv_echo_get_stats(cl->echo, &es);
        if (!cl->echo_found && es.far_active) {
            if (es.erle_db > ECHO_FOUND_DB) {
                if (cl->echo_steps > 0 && cl->echo_new < 0 && es.far_sounds != cl->sounds)
                    cl->echo_new = 0;
                cl->echo_steps++;
                if (cl->echo_new >= 0)
                    cl->echo_new++;
            } else {
                cl->echo_steps = 0;
                cl->echo_new = -1;
            }
            cl->sounds = es.far_sounds;
            cl->echo_found = cl->echo_new >= ECHO_FOUND_STEPS;
        }
        /* A path lost is a new room: the suppressor learnt how little
         * the old filter left, and would take what the new one leaves for
         * a near talker and spare it for the seconds its regression
         * needs. */
        if (es.losses != cl->losses) {
            cl->losses = es.losses;
            gv_denoise_echo_changed(cl->denoise);
        }
        /* Then, a canceller only ever removes: a filter still adapted to
         * the room before it changed adds to the microphone what it
         * subtracts. Such a step goes out as it came; its estimate still
         * tells the suppressor where the echo is. */
        if (!cl->echo_found || out > ECHO_ADDS * in)
            memcpy(step, cl->mic, sizeof cl->mic);
        if (cl->echo_found)
            estimate = cl->estimate;
    }
    /* Digital silence (a muted or disconnected microphone, a virtual
     * device) needs no suppression and has no level: once the suppressor's
     * window holds only zeros, its steps are skipped, which also keeps its
     * noise estimate and the gain from learning a floor no room has. */
    cl->silent = is_silent(step) && (!estimate || is_silent(estimate)) ? cl->silent + 1 : 0;
    if (cl->silent > SILENCE_FLUSHED)
        return 0;
    if (cl->denoise)
        gv_denoise_process(cl->denoise, step, estimate);
    if (cl->agc)
        gv_agc_process(cl->agc, step, cl->cfg.denoise ? gv_denoise_speech_probability(cl->denoise) : -1.0f);
    return 0;
}

void gv_clean_reference_moved(gv_clean *cl, int samples)
{
    if (cl)
        gv_echo_reference_moved(cl->echo, samples);
}

int gv_clean_delay(const gv_clean *cl)
{
    return cl && cl->denoise ? GV_DENOISE_DELAY : 0;
}

int gv_clean_get_stats(const gv_clean *cl, gv_clean_stats *st)
{
    gv_echo_stats es;

    if (!cl || !st)
        return GV_EINVAL;
    memset(st, 0, sizeof *st);
    st->echo_delay_samples = -1;
    if (cl->echo && gv_echo_get_stats(cl->echo, &es) == 0) {
        st->echo_delay_samples = es.delay_samples;
        st->echo_erle_db = es.erle_db;
    }
    st->echo_found = cl->echo_found;
    st->agc_gain_db = gv_agc_gain_db(cl->agc);
    return 0;
}
