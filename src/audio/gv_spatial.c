#include "audio/gv_spatial.h"

#include <math.h>

#include "gvoip/error.h"

#define GV_PI 3.14159265358979323846
#define GV_SQRT2 1.41421356237309504880
#define GV_CMP_EPSILON 0.00001 /* Godot's CMP_EPSILON, part of its formulas */
#define GV_HEAD_RADIUS_M 0.0875
#define GV_SPEED_OF_SOUND 343.0
/* Delay change per output sample: fast enough to follow a turning head
 * (a full 0.66 ms swing takes about 165 ms at 48 kHz), slow enough that the
 * pitch shift while it moves stays under 7 cents. */
#define GV_ITD_RATE (1.0f / 256.0f)
#define GV_HISTORY_MASK (GV_SPATIAL_HISTORY - 1u)

/* Large enough for any game world, small enough that squares stay finite. */
#define GV_MAX_LENGTH 1e9f

void gv_spatial_config_default(gv_spatial_config *cfg, gv_spatial_mode_kind mode)
{
    if (!cfg)
        return;
    cfg->mode = (mode == GV_SPATIAL_MODE_2D || mode == GV_SPATIAL_MODE_3D) ? mode : GV_SPATIAL_MODE_OFF;
    cfg->model = GV_ATTENUATION_INVERSE;
    cfg->unit_size = 10.0f;
    cfg->max_distance = mode == GV_SPATIAL_MODE_2D ? 2000.0f : 0.0f;
    cfg->volume_db = 0.0f;
    cfg->max_db = 3.0f;
    cfg->attenuation = 1.0f;
    cfg->panning_strength = 1.0f;
    cfg->godot_pan = 0;
    cfg->pan_width = 0.0f;
}

static int in_range(float v, float lo, float hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

int gv_spatial_config_check(const gv_spatial_config *p)
{
    if (!p)
        return GV_EINVAL;
    if (p->mode != GV_SPATIAL_MODE_OFF && p->mode != GV_SPATIAL_MODE_2D && p->mode != GV_SPATIAL_MODE_3D)
        return GV_EINVAL;
    if (p->model < GV_ATTENUATION_INVERSE || p->model > GV_ATTENUATION_DISABLED)
        return GV_EINVAL;
    if (!in_range(p->unit_size, 0.0f, GV_MAX_LENGTH) || p->unit_size <= 0.0f)
        return GV_EINVAL;
    if (!in_range(p->max_distance, 0.0f, GV_MAX_LENGTH))
        return GV_EINVAL;
    if (p->mode == GV_SPATIAL_MODE_2D && p->max_distance <= 0.0f)
        return GV_EINVAL;
    if (!in_range(p->volume_db, -80.0f, 80.0f) || !in_range(p->max_db, -80.0f, 24.0f))
        return GV_EINVAL;
    if (!in_range(p->attenuation, 0.0f, 100.0f) || !in_range(p->panning_strength, 0.0f, 3.0f))
        return GV_EINVAL;
    if (!in_range(p->pan_width, 0.0f, GV_MAX_LENGTH))
        return GV_EINVAL;
    if (p->godot_pan != 0 && p->godot_pan != 1)
        return GV_EINVAL;
    return GV_OK;
}

static int position_finite(const gv_player_pose *p)
{
    return isfinite(p->x) && isfinite(p->y) && isfinite(p->z);
}

/* source - listener in double (float differences of far-apart points lose
 * nothing there), flattened to the x/y plane in 2D; returns its length. */
static double relative(int mode, const gv_player_pose *listener, const gv_player_pose *source,
                       double rel[3])
{
    rel[0] = (double)source->x - (double)listener->x;
    rel[1] = (double)source->y - (double)listener->y;
    rel[2] = mode == GV_SPATIAL_MODE_2D ? 0.0 : (double)source->z - (double)listener->z;
    return sqrt(rel[0] * rel[0] + rel[1] * rel[1] + rel[2] * rel[2]);
}

/* The listener's unit right vector: facing x up in 3D, or facing turned a
 * quarter clockwise on a y-down 2D canvas (the same thing seen from above). */
static void right_vector(int mode, const gv_player_pose *listener, double right[3])
{
    double x, y, z;

    if (mode == GV_SPATIAL_MODE_2D) {
        x = -(double)listener->fy;
        y = (double)listener->fx;
        z = 0.0;
    } else {
        x = -(double)listener->fz;
        y = 0.0;
        z = (double)listener->fx;
    }
    double len = sqrt(x * x + y * y + z * z);
    if (!isfinite(len) || len < 1e-12) {
        right[0] = 1.0;
        right[1] = right[2] = 0.0;
        return;
    }
    right[0] = x / len;
    right[1] = y / len;
    right[2] = z / len;
}

/* The source's offset to the listener's right. Divided by the distance it
 * is the sine of the azimuth for a source in the listener's horizontal
 * plane; above or below it shrinks with the cosine of the elevation, which
 * keeps it continuous through the zenith where the azimuth is not. */
static double offset_right(int mode, const gv_player_pose *listener, const double rel[3])
{
    double right[3];

    right_vector(mode, listener, right);
    return rel[0] * right[0] + rel[1] * right[1] + rel[2] * right[2];
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static double lateral(int mode, const gv_player_pose *listener, const double rel[3], double dist)
{
    if (!(dist > 0.0))
        return 0.0;
    return clamp(offset_right(mode, listener, rel) / dist, -1.0, 1.0);
}

static double gain_3d(const gv_spatial_config *p, double d)
{
    double u = p->unit_size, max_d = p->max_distance, att = 0.0;

    if (max_d > 0.0 && d > max_d)
        return 0.0;
    switch (p->model) {
    case GV_ATTENUATION_INVERSE:
        att = 20.0 * log10(1.0 / (d / u + GV_CMP_EPSILON));
        break;
    case GV_ATTENUATION_INVERSE_SQUARE:
        att = 20.0 * log10(1.0 / ((d / u) * (d / u) + GV_CMP_EPSILON));
        break;
    case GV_ATTENUATION_LOGARITHMIC:
        att = -20.0 * log(d / u + GV_CMP_EPSILON);
        break;
    default:
        break;
    }
    att += p->volume_db;
    if (att > p->max_db)
        att = p->max_db;
    double g = pow(10.0, att / 20.0);
    if (max_d > 0.0)
        g *= fmax(0.0, 1.0 - d / max_d);
    return g;
}

static double gain_2d(const gv_spatial_config *p, double d)
{
    double max_d = p->max_distance;

    if (d > max_d)
        return 0.0;
    return pow(1.0 - d / max_d, p->attenuation) * pow(10.0, p->volume_db / 20.0);
}

static void set_out(float *out, double v)
{
    if (out)
        *out = (float)v;
}

void gv_spatial_gains(const gv_spatial_config *p, const gv_player_pose *listener,
                      const gv_player_pose *source, float *left, float *right, float *distance)
{
    double rel[3] = {0.0, 0.0, 0.0}, dist = INFINITY, l = 0.0, r = 0.0;
    int have_pos = listener && source && position_finite(listener) && position_finite(source);

    if (have_pos && p)
        dist = relative(p->mode, listener, source, rel);
    if (gv_spatial_config_check(p) != GV_OK) {
        l = r = 0.0;
    } else if (p->mode == GV_SPATIAL_MODE_OFF) {
        l = r = 1.0;
    } else if (have_pos) {
        double g = p->mode == GV_SPATIAL_MODE_3D ? gain_3d(p, dist) : gain_2d(p, dist);
        if (p->mode == GV_SPATIAL_MODE_2D && p->godot_pan) {
            float pl, pr;
            double width = p->pan_width > 0.0f ? p->pan_width : p->max_distance;
            gv_spatial_godot2d_pan((float)offset_right(p->mode, listener, rel), (float)width,
                                   p->panning_strength, &pl, &pr);
            l = g * pl;
            r = g * pr;
        } else {
            double pan = clamp(lateral(p->mode, listener, rel, dist) * p->panning_strength, -1.0, 1.0);
            double theta = (pan + 1.0) * GV_PI / 4.0;
            l = g * GV_SQRT2 * cos(theta);
            r = g * GV_SQRT2 * sin(theta);
        }
    }
    set_out(left, l);
    set_out(right, r);
    set_out(distance, dist);
}

int gv_spatial_audible(const gv_spatial_config *p, const gv_player_pose *listener,
                       const gv_player_pose *source, float margin)
{
    double rel[3];

    if (p && (p->mode == GV_SPATIAL_MODE_OFF || p->max_distance == 0.0f))
        return 1;
    if (!p || !listener || !source || !position_finite(listener) || !position_finite(source))
        return 0;
    if (!isfinite(p->max_distance) || !isfinite(margin))
        return 0;
    return relative(p->mode, listener, source, rel) <= (double)p->max_distance + (double)margin;
}

void gv_spatial_itd(const gv_spatial_config *p, const gv_player_pose *listener,
                    const gv_player_pose *source, int sample_rate, int *left_samples,
                    int *right_samples)
{
    double rel[3];
    int l = 0, r = 0;

    if (gv_spatial_config_check(p) == GV_OK && p->mode != GV_SPATIAL_MODE_OFF && listener && source &&
        position_finite(listener) && position_finite(source) && sample_rate >= 8000 &&
        sample_rate <= 192000) {
        double dist = relative(p->mode, listener, source, rel);
        double lat = lateral(p->mode, listener, rel, dist);
        double theta = asin(fabs(lat));
        double seconds = GV_HEAD_RADIUS_M / GV_SPEED_OF_SOUND * (theta + sin(theta));
        long n = lround(seconds * sample_rate);
        if (n > GV_SPATIAL_ITD_MAX)
            n = GV_SPATIAL_ITD_MAX;
        if (lat > 0.0)
            l = (int)n;
        else
            r = (int)n;
    }
    if (left_samples)
        *left_samples = l;
    if (right_samples)
        *right_samples = r;
}

void gv_spatial_godot2d_pan(float x, float width, float strength, float *left, float *right)
{
    double pan = 0.5;

    if (isfinite(x) && isfinite(width) && isfinite(strength) && width > 0.0f) {
        pan = clamp((double)x / (double)width, -1.0, 1.0);
        pan = clamp(pan * strength * 0.5 + 0.5, 0.0, 1.0);
    }
    set_out(left, 1.0 - pan);
    set_out(right, pan);
}

void gv_spatial_equal_power_pan(float pan, float *left, float *right)
{
    double p = isnan(pan) ? 0.0 : clamp(pan, -1.0, 1.0);
    double theta = (p + 1.0) * GV_PI / 4.0;

    set_out(left, GV_SQRT2 * cos(theta));
    set_out(right, GV_SQRT2 * sin(theta));
}

void gv_spatial_voice_init(gv_spatial_voice *v)
{
    if (!v)
        return;
    v->gain[0] = v->gain[1] = 0.0f;
    v->delay[0] = v->delay[1] = 0.0f;
    for (unsigned i = 0; i < GV_SPATIAL_HISTORY; i++)
        v->history[i] = 0.0f;
    v->pos = 0;
    v->started = 0;
}

static float clamp_delay(int samples)
{
    return samples < 0 ? 0.0f : (float)(samples > GV_SPATIAL_ITD_MAX ? GV_SPATIAL_ITD_MAX : samples);
}

/* The input delayed by d samples (fractional: linear interpolation between
 * the two neighbours); pos is the slot of the current input sample. */
static float delayed(const float *history, unsigned pos, float d)
{
    unsigned k = (unsigned)d;
    float frac = d - (float)k;
    float a = history[(pos - k) & GV_HISTORY_MASK];
    if (frac == 0.0f)
        return a;
    return a + (history[(pos - k - 1u) & GV_HISTORY_MASK] - a) * frac;
}

void gv_spatial_voice_render(gv_spatial_voice *v, const float *mono, size_t n, float left_gain,
                             float right_gain, int itd_left_samples, int itd_right_samples,
                             float *stereo_accumulate)
{
    float g1[2], d1[2], target[2];

    if (!v || !mono || !stereo_accumulate || n == 0)
        return;
    g1[0] = isfinite(left_gain) ? left_gain : 0.0f;
    g1[1] = isfinite(right_gain) ? right_gain : 0.0f;
    target[0] = clamp_delay(itd_left_samples);
    target[1] = clamp_delay(itd_right_samples);
    if (!v->started) {
        for (int c = 0; c < 2; c++) {
            v->gain[c] = g1[c];
            v->delay[c] = target[c];
        }
        v->started = 1;
    }
    float max_move = (float)n * GV_ITD_RATE;
    for (int c = 0; c < 2; c++) {
        float diff = target[c] - v->delay[c];
        /* Landing exactly on the integer target makes a steady delay exact
         * (no interpolation) once the move is over. */
        if (fabsf(diff) <= max_move)
            d1[c] = target[c];
        else
            d1[c] = v->delay[c] + (diff > 0.0f ? max_move : -max_move);
    }

    const float *g0 = v->gain, *d0 = v->delay;
    for (size_t i = 0; i < n; i++) {
        unsigned pos = (v->pos + 1u) & GV_HISTORY_MASK;
        v->pos = pos;
        v->history[pos] = mono[i];
        /* The two-product form lands exactly on the targets at t == 1;
         * values that do not move are used as they are, so a steady gain
         * and a steady integer delay are exact. */
        float t = (float)(i + 1) / (float)n;
        for (int c = 0; c < 2; c++) {
            float g = g0[c] == g1[c] ? g1[c] : g0[c] * (1.0f - t) + g1[c] * t;
            float d = d0[c] == d1[c] ? d1[c] : d0[c] * (1.0f - t) + d1[c] * t;
            if (d < 0.0f)
                d = 0.0f;
            stereo_accumulate[2 * i + (size_t)c] += g * delayed(v->history, pos, d);
        }
    }
    for (int c = 0; c < 2; c++) {
        v->gain[c] = g1[c];
        v->delay[c] = d1[c];
    }
}
