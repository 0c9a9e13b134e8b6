#include "audio/gv_agc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_floor.h"
#include "gvoip/error.h"

#define GV_AGC_STEP_S ((double)GV_CLEAN_STEP / GV_CLEAN_RATE)
#define GV_AGC_MIN_DB GV_FLOOR_MIN_DB
/* Speech louder than the target is turned down at most this far: enough
 * for speech at full scale with the quietest target. */
#define GV_AGC_MIN_GAIN_DB (-40.0f)

/* The active level is a mean power over speech steps: a running mean for
 * the first GV_AGC_LONG_STEPS (a quick first estimate), then an
 * exponential one over as many, steady across syllables. Besides it, the
 * mean over the last GV_AGC_SHORT_STEPS speech steps (about a syllable):
 * once that stays GV_AGC_FAST_UP_DB above or GV_AGC_FAST_DOWN_DB below the
 * long mean of before those steps for GV_AGC_PERSIST_STEPS speech steps
 * (longer than one loud or soft syllable), the talker or the microphone
 * has really changed (a shout, a step back), and the long mean glides to
 * the short one in the dB domain, quickly when it went up (attack) and
 * more slowly when it went down (release), until it is within
 * GV_AGC_FAST_EXIT_DB of it. The long mean then goes on as a running mean
 * from there, as after a start. A shout needs no detection to be turned
 * down: a mean power rises with loud steps within a few of them. */
#define GV_AGC_LONG_STEPS 200
#define GV_AGC_SHORT_STEPS 20
#define GV_AGC_PERSIST_STEPS 30
#define GV_AGC_FAST_UP_DB 8.0f
#define GV_AGC_FAST_DOWN_DB 10.0f
#define GV_AGC_FAST_EXIT_DB 1.0f
#define GV_AGC_ATTACK_S 0.05
#define GV_AGC_RELEASE_S 0.1

/* The most the speech gain moves per second of speech: up slowly enough
 * not to be heard breathing, down fast enough to catch a shout (the limiter
 * holds the peaks meanwhile). */
#define GV_AGC_RISE_DB_PER_S 30.0
#define GV_AGC_FALL_DB_PER_S 100.0

/* In pauses the gain is at most this, so the noise between sentences is
 * not raised; speech gains below it apply in pauses too, so loud talkers
 * are turned down evenly instead of being gated. */
#define GV_AGC_PAUSE_CEIL_DB 0.0f
/* A switch between the pause and the speech gain is larger than any
 * level-following move (GV_AGC_FALL_DB_PER_S per step); it is ramped over
 * GV_AGC_SWITCH_RAMP samples so that a word's onset is not faded in and
 * the gain is down before the noise of the pause: a ramp from +20 dB
 * across the whole step would alone use up the 3 dB budget of a 0.2 s
 * pause. */
#define GV_AGC_SWITCH_DB 1.5f
#define GV_AGC_SWITCH_RAMP (GV_CLEAN_RATE / 400) /* 2.5 ms */

/* Suppressor probability to speech weight: 0 up to P_LO, 1 from P_HI; the
 * level is measured on steps from P_SPEECH. */
#define GV_AGC_P_LO 0.3f
#define GV_AGC_P_HI 0.7f
#define GV_AGC_P_SPEECH 0.5f

/* The own detector (no suppressor): the noise floor is the minimum of the
 * level smoothed over GV_AGC_FLOOR_SMOOTH_S, over the last
 * GV_AGC_FLOOR_WINDOWS windows of GV_AGC_FLOOR_WINDOW_STEPS; longer than a
 * sentence, so speech does not lift it, short enough to follow a fan
 * switched on. Speech starts ON_DB above it and goes on while STAY_DB
 * above it. There is no hold: every pause step at the speech gain would
 * raise the pause noise by up to max_gain_db. */
#define GV_AGC_FLOOR_SMOOTH_S 0.05
#define GV_AGC_FLOOR_WINDOWS 8
#define GV_AGC_FLOOR_WINDOW_STEPS 50
#define GV_AGC_ON_DB 10.0f
#define GV_AGC_STAY_DB 6.0f

/* The peak limiter: instant attack, the envelope held through one pitch
 * period of a low voice (so a steady loud vowel gets a steady gain, not
 * one rippling at its pitch) and then released. */
#define GV_AGC_LIM_HOLD (GV_CLEAN_RATE * 15 / 1000)
#define GV_AGC_LIM_RELEASE_S 0.08

struct gv_agc {
    gv_agc_config cfg;
    float limit;        /* linear limit_dbfs */
    float gate_db;      /* quieter steps are never speech, nor measured */
    double lim_release; /* per-sample envelope decay */
    double attack_k, release_k;

    /* level */
    double level_pow;   /* active level, mean square; valid when level_count > 0 */
    int level_count;
    int beyond;         /* speech steps the short mean has been beyond the thresholds, signed */
    int fast;           /* gliding to the short mean after a change */
    double box[GV_AGC_SHORT_STEPS];     /* the short mean's steps */
    double box_ref[GV_AGC_SHORT_STEPS]; /* the long mean before each of them */
    int box_next, box_count;

    /* own detector */
    gv_floor floor;
    int own_active;

    /* gains */
    float speech_db;  /* gain for speech */
    float gain_db;    /* applied at the end of the last step */
    double gain_lin;
    double env;       /* limiter envelope, at least limit */
    int hold;
};

void gv_agc_config_default(gv_agc_config *cfg)
{
    if (!cfg)
        return;
    cfg->target_dbfs = -20.0f;
    cfg->max_gain_db = 30.0f;
    cfg->limit_dbfs = -1.0f;
}

static int config_valid(const gv_agc_config *c)
{
    return isfinite(c->target_dbfs) && isfinite(c->max_gain_db) && isfinite(c->limit_dbfs) &&
           c->target_dbfs >= -40.0f && c->target_dbfs <= -3.0f && c->max_gain_db >= 0.0f &&
           c->max_gain_db <= 60.0f && c->limit_dbfs >= -20.0f && c->limit_dbfs <= 0.0f &&
           c->target_dbfs <= c->limit_dbfs;
}

void gv_agc_reset(gv_agc *agc)
{
    if (!agc)
        return;
    agc->level_pow = 0.0;
    agc->level_count = 0;
    agc->beyond = 0;
    agc->fast = 0;
    memset(agc->box, 0, sizeof agc->box);
    memset(agc->box_ref, 0, sizeof agc->box_ref);
    agc->box_next = 0;
    agc->box_count = 0;
    gv_floor_reset(&agc->floor);
    agc->own_active = 0;
    agc->speech_db = 0.0f;
    agc->gain_db = 0.0f;
    agc->gain_lin = 1.0f;
    agc->env = agc->limit;
    agc->hold = 0;
}

int gv_agc_create(const gv_agc_config *cfg, gv_agc **out)
{
    gv_agc_config def;
    gv_agc *agc;

    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (!cfg) {
        gv_agc_config_default(&def);
        cfg = &def;
    }
    if (!config_valid(cfg))
        return GV_EINVAL;
    agc = calloc(1, sizeof *agc);
    if (!agc)
        return GV_ENOMEM;
    agc->cfg = *cfg;
    agc->limit = (float)pow(10.0, cfg->limit_dbfs / 20.0);
    /* 20 dB under what the full gain would bring to the target, and never
     * above target - 40 so that a small max_gain_db still lets the level
     * estimate fall to a quiet talker. */
    agc->gate_db = fminf(cfg->target_dbfs - cfg->max_gain_db, cfg->target_dbfs - 20.0f) - 20.0f;
    agc->lim_release = exp(-1.0 / (GV_AGC_LIM_RELEASE_S * GV_CLEAN_RATE));
    gv_floor_init(&agc->floor, GV_AGC_STEP_S, GV_AGC_FLOOR_SMOOTH_S, GV_AGC_FLOOR_WINDOW_STEPS * GV_AGC_STEP_S,
                  GV_AGC_FLOOR_WINDOWS);
    agc->attack_k = 1.0 - exp(-GV_AGC_STEP_S / GV_AGC_ATTACK_S);
    agc->release_k = 1.0 - exp(-GV_AGC_STEP_S / GV_AGC_RELEASE_S);
    gv_agc_reset(agc);
    *out = agc;
    return GV_OK;
}

void gv_agc_destroy(gv_agc *agc)
{
    free(agc);
}

static void update_level(gv_agc *agc, double mean_square)
{
    agc->box[agc->box_next] = mean_square;
    agc->box_ref[agc->box_next] = agc->level_pow;
    agc->box_next = (agc->box_next + 1) % GV_AGC_SHORT_STEPS;
    if (agc->box_count < GV_AGC_SHORT_STEPS)
        agc->box_count++;
    if (agc->level_count == 0) {
        agc->level_pow = mean_square;
        agc->level_count = 1;
        return;
    }
    double sum = 0.0;
    for (int i = 0; i < agc->box_count; i++)
        sum += agc->box[i];
    float short_db = gv_power_db(sum / agc->box_count);
    if (!agc->fast && agc->level_count >= GV_AGC_SHORT_STEPS) {
        /* Against the long mean from before the short one's steps: the
         * long mean itself soon leans towards a louder talker, which would
         * hide the change. The box is full here. */
        float change = short_db - gv_power_db(agc->box_ref[agc->box_next]);
        if (change >= GV_AGC_FAST_UP_DB)
            agc->beyond = agc->beyond > 0 ? agc->beyond + 1 : 1;
        else if (change <= -GV_AGC_FAST_DOWN_DB)
            agc->beyond = agc->beyond < 0 ? agc->beyond - 1 : -1;
        else
            agc->beyond = 0;
        agc->fast = abs(agc->beyond) >= GV_AGC_PERSIST_STEPS;
    }
    float d = short_db - gv_power_db(agc->level_pow);
    if (agc->fast) {
        double k = d > 0.0f ? agc->attack_k : agc->release_k;
        agc->level_pow *= pow(10.0, k * d / 10.0);
        if (fabsf(d) < GV_AGC_FAST_EXIT_DB) {
            agc->fast = 0;
            agc->beyond = 0;
            agc->level_count = GV_AGC_SHORT_STEPS;
        }
    } else {
        if (agc->level_count < GV_AGC_LONG_STEPS)
            agc->level_count++;
        agc->level_pow += (mean_square - agc->level_pow) / agc->level_count;
    }
}

/* Moves the speech gain towards what brings the active level to the
 * target, within the slew limits. */
static void update_speech_gain(gv_agc *agc)
{
    float want = agc->cfg.target_dbfs - gv_power_db(agc->level_pow);
    want = fmaxf(GV_AGC_MIN_GAIN_DB, fminf(agc->cfg.max_gain_db, want));
    float up = (float)(GV_AGC_RISE_DB_PER_S * GV_AGC_STEP_S);
    float down = (float)(GV_AGC_FALL_DB_PER_S * GV_AGC_STEP_S);
    float d = want - agc->speech_db;
    agc->speech_db += d > up ? up : (d < -down ? -down : d);
}

/* Gain ramp from the last step's gain, then the peak limiter. The ramp is
 * geometric (linear in dB): it sounds even over a 20 dB switch, and spends
 * less of the pause-noise budget at the speech gain than a linear one. */
static void apply_gain(gv_agc *agc, float *frame, float gain_db)
{
    const float lim = agc->limit;
    const double to = pow(10.0, gain_db / 20.0);
    int ramp = GV_CLEAN_STEP;
    if (fabsf(gain_db - agc->gain_db) > GV_AGC_SWITCH_DB)
        ramp = GV_AGC_SWITCH_RAMP;
    double g = agc->gain_lin, ratio = pow(to / g, 1.0 / ramp);
    double env = agc->env;
    int hold = agc->hold;

    for (int i = 0; i < GV_CLEAN_STEP; i++) {
        if (i < ramp - 1)
            g *= ratio;
        else
            g = to;
        /* In double, so that no finite sample overflows at any gain. */
        double y = frame[i] * g, a = fabs(y);
        if (a >= env) {
            env = a;
            hold = GV_AGC_LIM_HOLD;
        } else if (hold > 0) {
            hold--;
        } else {
            env = fmax(lim, env * agc->lim_release);
        }
        if (env > lim)
            y *= lim / env;
        /* |y| <= lim in exact arithmetic; the clamp covers rounding. */
        frame[i] = y > lim ? lim : (y < -lim ? -lim : (float)y);
    }
    agc->env = env;
    agc->hold = hold;
    agc->gain_lin = to;
    agc->gain_db = gain_db;
}

int gv_agc_process(gv_agc *agc, float *frame, float speech_probability)
{
    if (!agc || !frame || isnan(speech_probability) || speech_probability > 1.0f)
        return GV_EINVAL;

    double sum = 0.0;
    for (int i = 0; i < GV_CLEAN_STEP; i++) {
        /* A stray NaN or infinity must neither reach the encoder nor
         * poison the level for seconds. */
        if (!isfinite(frame[i]))
            frame[i] = 0.0f;
        sum += (double)frame[i] * (double)frame[i];
    }
    double mean_square = sum / GV_CLEAN_STEP;
    float level = gv_power_db(mean_square);
    float floor_db = gv_floor_update(&agc->floor, mean_square);
    float stay = agc->own_active ? GV_AGC_STAY_DB : GV_AGC_ON_DB;
    agc->own_active = level >= agc->gate_db && level >= floor_db + stay;

    float weight;
    int speech;
    if (speech_probability >= 0.0f) {
        weight = (speech_probability - GV_AGC_P_LO) / (GV_AGC_P_HI - GV_AGC_P_LO);
        weight = fmaxf(0.0f, fminf(1.0f, weight));
        speech = speech_probability >= GV_AGC_P_SPEECH;
    } else {
        speech = agc->own_active;
        weight = (float)speech;
    }
    if (speech && level >= agc->gate_db) {
        update_level(agc, mean_square);
        update_speech_gain(agc);
    }
    float pause_db = fminf(agc->speech_db, GV_AGC_PAUSE_CEIL_DB);
    apply_gain(agc, frame, pause_db + weight * (agc->speech_db - pause_db));
    return GV_OK;
}

float gv_agc_gain_db(const gv_agc *agc)
{
    return agc ? agc->gain_db : 0.0f;
}
