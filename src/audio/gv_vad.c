#include "audio/gv_vad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/gv_floor.h"
#include "gvoip/error.h"

#define GV_VAD_MIN_DB GV_FLOOR_MIN_DB
#define GV_VAD_SMOOTH_S 0.100 /* steadies the floor's input against single frames */
/* The floor is the minimum over GV_VAD_SUBWINDOWS windows of
 * GV_VAD_SUBWINDOW_MS each plus the current one: long enough that the
 * pauses of ordinary speech keep it at the room's level, short enough that
 * a fan switched on stops counting as speech after a few seconds. */
#define GV_VAD_SUBWINDOWS 8
#define GV_VAD_SUBWINDOW_MS 500

struct gv_vad {
    gv_vad_config cfg;
    int preroll_frames; /* pre-roll length in frames */
    int hold_frames;    /* hold length in frames */

    float *ring;  /* preroll_frames + 1 frame slots */
    int slots;
    int head;     /* slot of the latest frame */
    int unsent;   /* frames before the latest that were not sent (<= preroll) */

    int active;
    int hold_left; /* frames still to send after the speech fell below off */

    gv_floor floor;
};

void gv_vad_config_default(gv_vad_config *cfg, int frame_samples)
{
    if (!cfg)
        return;
    cfg->frame_samples = frame_samples;
    cfg->on_db = 10.0f;
    cfg->off_db = 5.0f;
    cfg->hold_ms = 300;
    cfg->preroll_ms = 60;
    cfg->min_level_dbfs = -55.0f;
}

static int frames_for_ms(int ms, int frame_samples)
{
    long samples = (long)ms * (GV_VAD_RATE / 1000);
    return (int)((samples + frame_samples - 1) / frame_samples);
}

static int config_valid(const gv_vad_config *c)
{
    if (c->frame_samples < 120 || c->frame_samples > 2880)
        return 0;
    if (!isfinite(c->on_db) || !isfinite(c->off_db) || c->off_db < 0.0f || c->off_db >= c->on_db ||
        c->on_db > 60.0f)
        return 0;
    if (c->hold_ms < 0 || c->hold_ms > 5000 || c->preroll_ms < 0 || c->preroll_ms > 1000)
        return 0;
    if (frames_for_ms(c->preroll_ms, c->frame_samples) > GV_VAD_MAX_PREROLL_FRAMES)
        return 0;
    return isfinite(c->min_level_dbfs) && c->min_level_dbfs >= GV_VAD_MIN_DB &&
           c->min_level_dbfs <= 0.0f;
}

void gv_vad_reset(gv_vad *vad)
{
    if (!vad)
        return;
    memset(vad->ring, 0, (size_t)vad->slots * (size_t)vad->cfg.frame_samples * sizeof(float));
    vad->head = 0;
    vad->unsent = 0;
    vad->active = 0;
    vad->hold_left = 0;
    gv_floor_reset(&vad->floor);
}

int gv_vad_create(const gv_vad_config *cfg, gv_vad **out)
{
    gv_vad *vad = NULL;
    int err = GV_EINVAL;

    if (out)
        *out = NULL;
    if (!cfg || !out || !config_valid(cfg))
        goto out;
    err = GV_ENOMEM;
    vad = calloc(1, sizeof(*vad));
    if (!vad)
        goto out;
    vad->cfg = *cfg;
    vad->preroll_frames = frames_for_ms(cfg->preroll_ms, cfg->frame_samples);
    vad->hold_frames = frames_for_ms(cfg->hold_ms, cfg->frame_samples);
    gv_floor_init(&vad->floor, (double)cfg->frame_samples / GV_VAD_RATE, GV_VAD_SMOOTH_S,
                  GV_VAD_SUBWINDOW_MS / 1000.0, GV_VAD_SUBWINDOWS);
    vad->slots = vad->preroll_frames + 1;
    vad->ring = calloc((size_t)vad->slots * (size_t)cfg->frame_samples, sizeof(float));
    if (!vad->ring)
        goto out;
    gv_vad_reset(vad);
    *out = vad;
    vad = NULL;
    err = GV_OK;
out:
    gv_vad_destroy(vad);
    return err;
}

void gv_vad_destroy(gv_vad *vad)
{
    if (!vad)
        return;
    free(vad->ring);
    free(vad);
}

int gv_vad_process(gv_vad *vad, const float *frame, const float **send_frames, int *send_count,
                   float *level_dbfs)
{
    if (!vad || !frame || !send_frames || !send_count)
        return GV_EINVAL;
    const int n = vad->cfg.frame_samples;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        /* A stray NaN or infinity must not poison the floor for seconds. */
        if (isfinite(frame[i]))
            sum += (double)frame[i] * (double)frame[i];
    }
    double mean_square = sum / n;
    float level = gv_power_db(mean_square);
    float floor_db = gv_floor_update(&vad->floor, mean_square);

    vad->head = (vad->head + 1) % vad->slots;
    memcpy(vad->ring + (size_t)vad->head * (size_t)n, frame, (size_t)n * sizeof(float));

    float gap = vad->cfg.on_db - vad->cfg.off_db;
    float on_thr = fmaxf(floor_db + vad->cfg.on_db, vad->cfg.min_level_dbfs);
    float stay_thr = fmaxf(floor_db + vad->cfg.off_db, vad->cfg.min_level_dbfs - gap);
    int onset = 0;
    if (vad->active) {
        if (level >= stay_thr)
            vad->hold_left = vad->hold_frames;
        else if (vad->hold_left > 0)
            vad->hold_left--;
        else
            vad->active = 0;
    } else if (level >= on_thr) {
        vad->active = 1;
        vad->hold_left = vad->hold_frames;
        onset = 1;
    }

    int count = 0;
    if (vad->active) {
        int pre = onset ? vad->unsent : 0;
        for (int k = pre; k >= 0; k--) {
            int slot = ((vad->head - k) % vad->slots + vad->slots) % vad->slots;
            send_frames[count++] = vad->ring + (size_t)slot * (size_t)n;
        }
        vad->unsent = 0;
    } else if (vad->unsent < vad->preroll_frames) {
        vad->unsent++;
    }
    *send_count = count;
    if (level_dbfs)
        *level_dbfs = level;
    return vad->active;
}

int gv_vad_active(const gv_vad *vad)
{
    return vad ? vad->active : 0;
}

float gv_vad_floor_dbfs(const gv_vad *vad)
{
    return vad ? vad->floor.floor_db : GV_VAD_MIN_DB;
}
