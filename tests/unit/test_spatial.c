#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audio/gv_spatial.h"
#include "gvoip/error.h"

#define PI 3.14159265358979323846
#define RATE 48000
#define SEED 0x73706174u
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t rng_state = SEED;

static uint32_t xorshift32(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * (double)(xorshift32() >> 8) / 16777216.0;
}

/* The formulas of the brief, written out independently of the module. */
static double ref_gain_3d(int model, double u, double max_d, double vol, double max_db, double d)
{
    double att = 0.0;
    if (max_d > 0.0 && d > max_d)
        return 0.0;
    if (model == GV_ATTENUATION_INVERSE)
        att = 20.0 * log10(1.0 / (d / u + 1e-5));
    else if (model == GV_ATTENUATION_INVERSE_SQUARE)
        att = 20.0 * log10(1.0 / (pow(d / u, 2.0) + 1e-5));
    else if (model == GV_ATTENUATION_LOGARITHMIC)
        att = -20.0 * log(d / u + 1e-5);
    att += vol;
    if (att > max_db)
        att = max_db;
    double g = pow(10.0, att / 20.0);
    if (max_d > 0.0)
        g *= fmax(0.0, 1.0 - d / max_d);
    return g;
}

static double ref_gain_2d(double max_d, double a, double vol, double d)
{
    if (d > max_d)
        return 0.0;
    return pow(1.0 - d / max_d, a) * pow(10.0, vol / 20.0);
}

/* Offset of the source to the listener's right, and distance. */
static double ref_offset(int mode, const gv_player_pose *l, const gv_player_pose *s, double *dist)
{
    double rx = (double)s->x - l->x, ry = (double)s->y - l->y;
    double rz = mode == GV_SPATIAL_MODE_2D ? 0.0 : (double)s->z - l->z;
    double ax, ay, az;
    if (mode == GV_SPATIAL_MODE_2D) {
        ax = -l->fy;
        ay = l->fx;
        az = 0.0;
    } else {
        ax = -l->fz;
        ay = 0.0;
        az = l->fx;
    }
    double len = sqrt(ax * ax + ay * ay + az * az);
    *dist = sqrt(rx * rx + ry * ry + rz * rz);
    return (rx * ax + ry * ay + rz * az) / len;
}

static void ref_equal_power(double pan, double g, double *l, double *r)
{
    pan = pan < -1.0 ? -1.0 : (pan > 1.0 ? 1.0 : pan);
    *l = g * sqrt(2.0) * cos((pan + 1.0) * PI / 4.0);
    *r = g * sqrt(2.0) * sin((pan + 1.0) * PI / 4.0);
}

static void ref_gains(const gv_spatial_config *p, const gv_player_pose *l, const gv_player_pose *s, double *gl,
                      double *gr)
{
    double d, x = ref_offset(p->mode, l, s, &d);
    double g = p->mode == GV_SPATIAL_MODE_3D
                   ? ref_gain_3d(p->model, p->unit_size, p->max_distance, p->volume_db, p->max_db, d)
                   : ref_gain_2d(p->max_distance, p->attenuation, p->volume_db, d);
    if (p->mode == GV_SPATIAL_MODE_2D && p->godot_pan) {
        double w = p->pan_width > 0.0f ? p->pan_width : p->max_distance;
        double pan = x / w;
        pan = pan < -1.0 ? -1.0 : (pan > 1.0 ? 1.0 : pan);
        pan = pan * p->panning_strength * 0.5 + 0.5;
        pan = pan < 0.0 ? 0.0 : (pan > 1.0 ? 1.0 : pan);
        *gl = g * (1.0 - pan);
        *gr = g * pan;
        return;
    }
    ref_equal_power(d > 0.0 ? x / d * p->panning_strength : 0.0, g, gl, gr);
}

static void check_close(const char *what, double got, double want, int row)
{
    if (!(fabs(got - want) <= 1e-5 * fabs(want) + 1e-6))
        fail_msg("%s row %d: got %.9g want %.9g (seed %#x)", what, row, got, want, SEED);
}

static void check_against_ref(const gv_spatial_config *p, const gv_player_pose *l, const gv_player_pose *s, int row)
{
    float gl, gr, dist;
    double wl, wr, wd;
    gv_spatial_gains(p, l, s, &gl, &gr, &dist);
    ref_gains(p, l, s, &wl, &wr);
    (void)ref_offset(p->mode, l, s, &wd);
    check_close("left", gl, wl, row);
    check_close("right", gr, wr, row);
    check_close("distance", dist, wd, row);
}

/* A listener's pose. Sources are poses too, written {x, y, z, 0, 0, 0}:
 * a speaker's facing is not used. */
static gv_player_pose pose(float x, float y, float z, float fx, float fy, float fz)
{
    gv_player_pose p = {x, y, z, fx, fy, fz};
    return p;
}

static void test_defaults_and_check(void **state)
{
    (void)state;
    gv_spatial_config p;

    gv_spatial_config_default(&p, GV_SPATIAL_MODE_3D);
    assert_int_equal(p.mode, GV_SPATIAL_MODE_3D);
    assert_int_equal(p.model, GV_ATTENUATION_INVERSE);
    assert_true(p.unit_size == 10.0f && p.max_distance == 0.0f && p.max_db == 3.0f);
    assert_true(p.volume_db == 0.0f && p.panning_strength == 1.0f);
    assert_int_equal(gv_spatial_config_check(&p), GV_OK);

    gv_spatial_config_default(&p, GV_SPATIAL_MODE_2D);
    assert_true(p.max_distance == 2000.0f && p.attenuation == 1.0f && p.pan_width == 0.0f);
    assert_int_equal(p.godot_pan, 0);
    assert_int_equal(gv_spatial_config_check(&p), GV_OK);

    gv_spatial_config_default(&p, 77);
    assert_int_equal(p.mode, GV_SPATIAL_MODE_OFF);
    assert_int_equal(gv_spatial_config_check(&p), GV_OK);
    gv_spatial_config_default(NULL, GV_SPATIAL_MODE_3D);
    assert_int_equal(gv_spatial_config_check(NULL), GV_EINVAL);

    static const struct {
        int mode;
        int field;
        float value;
    } bad[] = {
        {GV_SPATIAL_MODE_3D, 0, 5.0f},       {GV_SPATIAL_MODE_3D, 1, -1.0f},   {GV_SPATIAL_MODE_3D, 1, 4.0f},
        {GV_SPATIAL_MODE_3D, 2, 0.0f},       {GV_SPATIAL_MODE_3D, 2, NAN},     {GV_SPATIAL_MODE_3D, 3, -1.0f},
        {GV_SPATIAL_MODE_3D, 3, INFINITY},   {GV_SPATIAL_MODE_2D, 3, 0.0f},    {GV_SPATIAL_MODE_3D, 4, 200.0f},
        {GV_SPATIAL_MODE_3D, 5, NAN},        {GV_SPATIAL_MODE_2D, 6, -0.5f},   {GV_SPATIAL_MODE_3D, 7, 3.5f},
        {GV_SPATIAL_MODE_3D, 7, -0.1f},      {GV_SPATIAL_MODE_2D, 8, -1.0f},   {GV_SPATIAL_MODE_2D, 9, 2.0f},
        {GV_SPATIAL_MODE_2D, 8, NAN},
    };
    for (size_t k = 0; k < NELEM(bad); k++) {
        gv_spatial_config_default(&p, bad[k].mode);
        switch (bad[k].field) {
        case 0: p.mode = (int)bad[k].value; break;
        case 1: p.model = (int)bad[k].value; break;
        case 2: p.unit_size = bad[k].value; break;
        case 3: p.max_distance = bad[k].value; break;
        case 4: p.volume_db = bad[k].value; break;
        case 5: p.max_db = bad[k].value; break;
        case 6: p.attenuation = bad[k].value; break;
        case 7: p.panning_strength = bad[k].value; break;
        case 8: p.pan_width = bad[k].value; break;
        default: p.godot_pan = (int)bad[k].value; break;
        }
        if (gv_spatial_config_check(&p) != GV_EINVAL)
            fail_msg("bad row %zu accepted", k);
        /* Whatever arrives, the gains stay finite and silent. */
        gv_player_pose l = pose(0, 0, 0, 0, 0, -1);
        gv_player_pose s = {1, 0, -3, 0, 0, 0};
        float gl = -1.0f, gr = -1.0f;
        gv_spatial_gains(&p, &l, &s, &gl, &gr, NULL);
        assert_true(gl == 0.0f && gr == 0.0f);
    }
}

static void test_off_and_bad_positions(void **state)
{
    (void)state;
    gv_spatial_config p;
    gv_player_pose l = pose(0, 0, 0, 0, 0, -1);
    gv_player_pose s = {300, 40, -1000, 0, 0, 0}, nan_s = {NAN, 0, 0, 0, 0, 0};
    float gl, gr, d;

    gv_spatial_config_default(&p, GV_SPATIAL_MODE_OFF);
    gv_spatial_gains(&p, &l, &s, &gl, &gr, &d);
    assert_true(gl == 1.0f && gr == 1.0f);
    gv_spatial_gains(&p, NULL, NULL, &gl, &gr, &d);
    assert_true(gl == 1.0f && gr == 1.0f && isinf(d));

    gv_spatial_config_default(&p, GV_SPATIAL_MODE_3D);
    gv_spatial_gains(&p, &l, &nan_s, &gl, &gr, &d);
    assert_true(gl == 0.0f && gr == 0.0f && isinf(d));
    gv_spatial_gains(&p, &l, NULL, &gl, &gr, &d);
    assert_true(gl == 0.0f && gr == 0.0f);
    gv_spatial_gains(NULL, &l, &s, &gl, &gr, &d);
    assert_true(gl == 0.0f && gr == 0.0f);
    gv_spatial_gains(&p, &l, &s, NULL, NULL, NULL);

    /* Far-apart coordinates near float's range give finite results. */
    gv_player_pose far = {3e38f, -3e38f, 3e38f, 0, 0, 0};
    gv_player_pose lfar = pose(-3e38f, 3e38f, -3e38f, 0, 0, -1);
    for (int m = GV_ATTENUATION_INVERSE; m <= GV_ATTENUATION_DISABLED; m++) {
        p.model = m;
        gv_spatial_gains(&p, &lfar, &far, &gl, &gr, &d);
        assert_true(isfinite(gl) && isfinite(gr) && gl >= 0.0f && gr >= 0.0f);
    }
}

static void test_distance_table_3d(void **state)
{
    (void)state;
    static const struct {
        float max_d, vol, max_db, u;
    } setups[] = {
        {0.0f, 0.0f, 3.0f, 10.0f}, {100.0f, 0.0f, 3.0f, 10.0f}, {100.0f, -6.0f, 3.0f, 10.0f},
        {100.0f, 6.0f, 0.0f, 10.0f}, {50.0f, 0.0f, 6.0f, 1.0f}, {0.0f, 12.0f, -3.0f, 2.5f},
    };
    static const gv_player_pose listeners[] = {
        {0, 0, 0, 0, 0, -1},
        {3.0f, 1.5f, -2.0f, 0.6f, 0.0f, 0.8f},
        {-7.0f, 0.0f, 11.0f, 1.0f, 0.5f, -1.0f}, /* non-unit, tilted facing */
    };
    static const float dirs[][3] = {{0, 0, -1}, {0.6f, 0.0f, -0.8f}, {-1, 0, 0}, {0.48f, 0.6f, 0.64f}};
    int row = 0;

    for (int m = GV_ATTENUATION_INVERSE; m <= GV_ATTENUATION_DISABLED; m++) {
        for (size_t k = 0; k < NELEM(setups); k++) {
            gv_spatial_config p;
            gv_spatial_config_default(&p, GV_SPATIAL_MODE_3D);
            p.model = m;
            p.max_distance = setups[k].max_d;
            p.volume_db = setups[k].vol;
            p.max_db = setups[k].max_db;
            p.unit_size = setups[k].u;
            float u = p.unit_size, dm = p.max_distance > 0 ? p.max_distance : 1000.0f;
            const float eps = 1e-3f;
            float dists[] = {0.0f, 0.5f * u, u, 2.0f * u, 10.0f * u, dm - eps, dm, dm + eps, 3.0f * dm};
            for (size_t li = 0; li < NELEM(listeners); li++) {
                for (size_t di = 0; di < NELEM(dirs); di++) {
                    for (size_t j = 0; j < NELEM(dists); j++, row++) {
                        const gv_player_pose *l = &listeners[li];
                        gv_player_pose s = {l->x + dirs[di][0] * dists[j],
                                     l->y + dirs[di][1] * dists[j],
                                     l->z + dirs[di][2] * dists[j], 0, 0, 0};
                        check_against_ref(&p, l, &s, row);
                    }
                }
            }
        }
    }

    /* Spot values worked out by hand: inverse at 2u is -6.02 dB; at the
     * listener it is clamped to max_db; max_distance scales linearly. */
    gv_spatial_config p;
    gv_spatial_config_default(&p, GV_SPATIAL_MODE_3D);
    gv_player_pose l = pose(0, 0, 0, 0, 0, -1);
    gv_player_pose s = {0, 0, -20, 0, 0, 0};
    float gl, gr;
    gv_spatial_gains(&p, &l, &s, &gl, &gr, NULL);
    assert_float_equal(gl, 0.5f, 1e-4f);
    assert_float_equal(gr, 0.5f, 1e-4f);
    s.z = 0.0f;
    gv_spatial_gains(&p, &l, &s, &gl, &gr, NULL);
    assert_float_equal(gl, powf(10.0f, 3.0f / 20.0f), 1e-5f);
    p.max_distance = 40.0f;
    s.z = -20.0f;
    gv_spatial_gains(&p, &l, &s, &gl, &gr, NULL);
    assert_float_equal(gl, 0.25f, 1e-4f);
    s.z = -40.001f;
    gv_spatial_gains(&p, &l, &s, &gl, &gr, NULL);
    assert_true(gl == 0.0f && gr == 0.0f);
}

static void test_distance_table_2d(void **state)
{
    (void)state;
    static const float exponents[] = {0.0f, 0.5f, 1.0f, 2.0f, 4.5f};
    static const float max_ds[] = {2000.0f, 100.0f};
    static const float vols[] = {0.0f, -6.0f, 4.0f};
    static const float fracs[] = {0.0f, 0.005f, 0.05f, 0.25f, 0.5f, 0.9f};
    static const gv_player_pose listeners[] = {
        {0, 0, 0, 0, -1, 0},
        {250.0f, -40.0f, 9.0f, 0.8f, 0.6f, 0.0f},
        {-3.0f, 17.0f, 0.0f, -2.0f, 0.0f, 0.0f},
    };
    static const float dirs[][2] = {{0, -1}, {1, 0}, {-0.6f, 0.8f}, {0.28f, 0.96f}};
    int row = 0;

    for (size_t e = 0; e < NELEM(exponents); e++)
        for (size_t m = 0; m < NELEM(max_ds); m++)
            for (size_t v = 0; v < NELEM(vols); v++)
                for (int godot = 0; godot <= 1; godot++) {
                    gv_spatial_config p;
                    gv_spatial_config_default(&p, GV_SPATIAL_MODE_2D);
                    p.attenuation = exponents[e];
                    p.max_distance = max_ds[m];
                    p.volume_db = vols[v];
                    p.godot_pan = godot;
                    float dm = p.max_distance, eps = 1e-3f * dm / 100.0f;
                    float dists[NELEM(fracs) + 4];
                    size_t nd = 0;
                    for (size_t f = 0; f < NELEM(fracs); f++)
                        dists[nd++] = fracs[f] * dm;
                    dists[nd++] = dm - eps;
                    dists[nd++] = dm;
                    dists[nd++] = dm + eps;
                    dists[nd++] = 2.0f * dm;
                    for (size_t li = 0; li < NELEM(listeners); li++)
                        for (size_t di = 0; di < NELEM(dirs); di++)
                            for (size_t j = 0; j < nd; j++, row++) {
                                const gv_player_pose *l = &listeners[li];
                                /* z differs from the listener's: 2D ignores it. */
                                gv_player_pose s = {l->x + dirs[di][0] * dists[j],
                                             l->y + dirs[di][1] * dists[j], 123.0f, 0, 0, 0};
                                check_against_ref(&p, l, &s, row);
                            }
                }

    /* Hand-worked: half way with exponent 2 is a quarter; beyond is silence. */
    gv_spatial_config p;
    gv_spatial_config_default(&p, GV_SPATIAL_MODE_2D);
    p.attenuation = 2.0f;
    gv_player_pose l = pose(0, 0, 0, 0, -1, 0);
    gv_player_pose s = {0, -1000, 0, 0, 0, 0};
    float gl, gr;
    gv_spatial_gains(&p, &l, &s, &gl, &gr, NULL);
    assert_float_equal(gl, 0.25f, 1e-6f);
    assert_float_equal(gr, 0.25f, 1e-6f);
    s.y = -2000.5f;
    gv_spatial_gains(&p, &l, &s, &gl, &gr, NULL);
    assert_true(gl == 0.0f && gr == 0.0f);
}

/* Sources all round a listener whose facing also turns, 15 degrees apart:
 * the pan is the sine of the relative angle, power is constant, and the
 * louder channel is the side the source is on. */
static void test_angles(void **state)
{
    (void)state;
    static const float strengths[] = {1.0f, 0.5f, 0.0f, 2.0f};
    for (int mode = GV_SPATIAL_MODE_2D; mode <= GV_SPATIAL_MODE_3D; mode++)
        for (size_t si = 0; si < NELEM(strengths); si++)
            for (int fa = 0; fa < 360; fa += 15)
                for (int sa = 0; sa < 360; sa += 15) {
                    gv_spatial_config p;
                    gv_spatial_config_default(&p, mode);
                    p.panning_strength = strengths[si];
                    double phi = fa * PI / 180.0, alpha = sa * PI / 180.0, r = 15.0;
                    gv_player_pose l;
                    gv_player_pose s;
                    if (mode == GV_SPATIAL_MODE_3D) {
                        l = pose(1, 2, 3, (float)sin(phi), 0, (float)-cos(phi));
                        s = (gv_player_pose){(float)(1 + r * sin(alpha)), 2, (float)(3 - r * cos(alpha)), 0, 0, 0};
                    } else {
                        l = pose(1, 2, 0, (float)sin(phi), (float)-cos(phi), 0);
                        s = (gv_player_pose){(float)(1 + r * sin(alpha)), (float)(2 - r * cos(alpha)), 0, 0, 0, 0};
                    }
                    float gl, gr, d;
                    gv_spatial_gains(&p, &l, &s, &gl, &gr, &d);
                    double g = mode == GV_SPATIAL_MODE_3D ? ref_gain_3d(GV_ATTENUATION_INVERSE, 10, 0, 0, 3, r)
                                                     : ref_gain_2d(2000, 1, 0, r);
                    double wl, wr, lat = sin(alpha - phi);
                    ref_equal_power(lat * strengths[si], g, &wl, &wr);
                    int row = (mode * 1000 + (int)si) * 100000 + fa * 1000 + sa;
                    if (fabs(gl - wl) > 1e-4 || fabs(gr - wr) > 1e-4)
                        fail_msg("row %d: %g %g want %g %g", row, gl, gr, wl, wr);
                    if (fabs((double)gl * gl + (double)gr * gr - 2.0 * g * g) > 1e-4)
                        fail_msg("row %d: power %g want %g", row, gl * gl + gr * gr, 2 * g * g);
                    double side = lat * strengths[si];
                    if (side < -1e-3 && !(gl > gr))
                        fail_msg("row %d: source on the left but %g <= %g", row, gl, gr);
                    if (side > 1e-3 && !(gr > gl))
                        fail_msg("row %d: source on the right but %g <= %g", row, gr, gl);
                    if (fabs(side) < 1e-6 && fabs(gl - gr) > 1e-4)
                        fail_msg("row %d: centred source panned %g %g", row, gl, gr);
                }
}

static double pan_of(const gv_spatial_config *p, gv_player_pose l, gv_player_pose s)
{
    float gl, gr;
    gv_spatial_gains(p, &l, &s, &gl, &gr, NULL);
    return (gr - gl) / (gr + gl);
}

static void test_facing_rotates_image(void **state)
{
    (void)state;
    gv_spatial_config p;
    gv_spatial_config_default(&p, GV_SPATIAL_MODE_3D);
    gv_player_pose east = {5, 0, 0, 0, 0, 0};

    /* Godot's forward is -Z, so +X starts on the right. */
    assert_true(pan_of(&p, pose(0, 0, 0, 0, 0, -1), east) > 0.9);
    assert_true(fabs(pan_of(&p, pose(0, 0, 0, 1, 0, 0), east)) < 1e-6);
    assert_true(pan_of(&p, pose(0, 0, 0, 0, 0, 1), east) < -0.9);
    assert_true(fabs(pan_of(&p, pose(0, 0, 0, -1, 0, 0), east)) < 1e-6);
    /* Length of facing does not matter; zero facing is the default. */
    assert_true(fabs(pan_of(&p, pose(0, 0, 0, 0, 0, -7), east) -
                     pan_of(&p, pose(0, 0, 0, 0, 0, -1), east)) < 1e-6);
    assert_true(fabs(pan_of(&p, pose(0, 0, 0, 0, 0, 0), east) -
                     pan_of(&p, pose(0, 0, 0, 0, 0, -1), east)) < 1e-6);
    assert_true(fabs(pan_of(&p, pose(0, 0, 0, NAN, 0, 1), east) -
                     pan_of(&p, pose(0, 0, 0, 0, 0, -1), east)) < 1e-6);
    /* Looking straight up or down counts as the default facing too. */
    assert_true(fabs(pan_of(&p, pose(0, 0, 0, 0, 1, 0), east) -
                     pan_of(&p, pose(0, 0, 0, 0, 0, -1), east)) < 1e-6);
    /* Overhead is centred; above-and-right pans by the elevation's cosine. */
    assert_true(fabs(pan_of(&p, pose(0, 0, 0, 0, 0, -1), (gv_player_pose){0, 5, 0, 0, 0, 0})) < 1e-6);
    {
        float gl, gr;
        gv_player_pose l = pose(0, 0, 0, 0, 0, -1);
        gv_player_pose s = {3, 4, 0, 0, 0, 0};
        double wl, wr;
        gv_spatial_gains(&p, &l, &s, &gl, &gr, NULL);
        ref_equal_power(0.6, ref_gain_3d(GV_ATTENUATION_INVERSE, 10, 0, 0, 3, 5), &wl, &wr);
        assert_float_equal(gl, wl, 1e-5);
        assert_float_equal(gr, wr, 1e-5);
    }
    /* A source at the listener is centred. */
    assert_true(fabs(pan_of(&p, pose(1, 1, 1, 0, 0, -1), (gv_player_pose){1, 1, 1, 0, 0, 0})) < 1e-6);
    /* Where the speaker looks does not matter. */
    assert_true(pan_of(&p, pose(0, 0, 0, 0, 0, -1), pose(5, 0, 0, 1, 0, 0)) ==
                pan_of(&p, pose(0, 0, 0, 0, 0, -1), east));

    gv_spatial_config_default(&p, GV_SPATIAL_MODE_2D);
    /* y grows down: facing up the screen has +X on the right. */
    assert_true(pan_of(&p, pose(0, 0, 0, 0, -1, 0), east) > 0.9);
    assert_true(fabs(pan_of(&p, pose(0, 0, 0, 1, 0, 0), east)) < 1e-6);
    assert_true(pan_of(&p, pose(0, 0, 0, 0, 1, 0), east) < -0.9);
    /* Facing east, south (down the screen) is on the right. */
    assert_true(pan_of(&p, pose(0, 0, 0, 1, 0, 0), (gv_player_pose){0, 5, 0, 0, 0, 0}) > 0.9);
    assert_true(fabs(pan_of(&p, pose(0, 0, 0, 0, 0, 0), east) -
                     pan_of(&p, pose(0, 0, 0, 0, -1, 0), east)) < 1e-6);
}

/* The biggest change of the reference between neighbouring points of a
 * 100x finer walk over the step from a to b: the formula's own change. */
static void ref_step_bound(const gv_spatial_config *p, const gv_player_pose *l, gv_player_pose a, gv_player_pose b,
                           double *bound_l, double *bound_r)
{
    double pl, pr;
    *bound_l = *bound_r = 0.0;
    ref_gains(p, l, &a, &pl, &pr);
    for (int k = 1; k <= 100; k++) {
        double t = k / 100.0, wl, wr;
        gv_player_pose s = {(float)(a.x + (b.x - a.x) * t), (float)(a.y + (b.y - a.y) * t),
                     (float)(a.z + (b.z - a.z) * t), 0, 0, 0};
        ref_gains(p, l, &s, &wl, &wr);
        *bound_l = fmax(*bound_l, fabs(wl - pl));
        *bound_r = fmax(*bound_r, fabs(wr - pr));
        pl = wl;
        pr = wr;
    }
    *bound_l *= 100.0;
    *bound_r *= 100.0;
}

static void test_continuity_under_motion(void **state)
{
    (void)state;
    static const struct {
        int mode, model;
        float max_d, attenuation;
        gv_player_pose from, to;
    } paths[] = {
        {GV_SPATIAL_MODE_3D, GV_ATTENUATION_INVERSE, 40.0f, 1.0f, {-50, 0, -3, 0, 0, 0}, {50, 0, -3, 0, 0, 0}},
        {GV_SPATIAL_MODE_3D, GV_ATTENUATION_INVERSE_SQUARE, 30.0f, 1.0f, {-40, 1, 2, 0, 0, 0}, {40, -1, 2, 0, 0, 0}},
        {GV_SPATIAL_MODE_3D, GV_ATTENUATION_LOGARITHMIC, 0.0f, 1.0f, {-5, 2, -30, 0, 0, 0}, {-5, 2, 30, 0, 0, 0}},
        {GV_SPATIAL_MODE_3D, GV_ATTENUATION_DISABLED, 25.0f, 1.0f, {0.5f, -30, 0.5f, 0, 0, 0}, {0.5f, 30, 0.5f, 0, 0, 0}},
        {GV_SPATIAL_MODE_2D, 0, 60.0f, 1.0f, {-70, 2, 0, 0, 0, 0}, {70, 2, 0, 0, 0, 0}},
        {GV_SPATIAL_MODE_2D, 0, 60.0f, 2.5f, {-3, -70, 0, 0, 0, 0}, {-3, 70, 0, 0, 0, 0}},
        {GV_SPATIAL_MODE_2D, 0, 80.0f, 0.5f, {-60, -60, 0, 0, 0, 0}, {60, 62, 0, 0, 0, 0}},
    };
    gv_player_pose l = pose(0, 0, 0, 0.3f, 0.0f, -1.0f);
    for (size_t k = 0; k < NELEM(paths); k++) {
        for (int godot = 0; godot <= (paths[k].mode == GV_SPATIAL_MODE_2D); godot++) {
            gv_spatial_config p;
            gv_spatial_config_default(&p, paths[k].mode);
            p.model = paths[k].model;
            p.max_distance = paths[k].max_d;
            p.attenuation = paths[k].attenuation;
            p.godot_pan = godot;
            if (paths[k].mode == GV_SPATIAL_MODE_2D)
                l = pose(0, 0, 0, 0.3f, -1.0f, 0.0f);
            gv_player_pose a = paths[k].from, b = paths[k].to;
            double len = sqrt(pow(b.x - a.x, 2) + pow(b.y - a.y, 2) + pow(b.z - a.z, 2));
            int steps = (int)(len / 0.1);
            float pl, pr, jump = 0.0f;
            gv_player_pose prev = a;
            gv_spatial_gains(&p, &l, &prev, &pl, &pr, NULL);
            for (int i = 1; i <= steps; i++) {
                double t = (double)i / steps;
                gv_player_pose s = {(float)(a.x + (b.x - a.x) * t), (float)(a.y + (b.y - a.y) * t),
                             (float)(a.z + (b.z - a.z) * t), 0, 0, 0};
                float gl, gr;
                double bl, br;
                gv_spatial_gains(&p, &l, &s, &gl, &gr, NULL);
                ref_step_bound(&p, &l, prev, s, &bl, &br);
                /* The step may be as big as the formula's steepest slope
                 * over it, never bigger: a jump would be. */
                if (fabsf(gl - pl) > bl * 1.05 + 1e-5 || fabsf(gr - pr) > br * 1.05 + 1e-5)
                    fail_msg("path %zu godot %d step %d: jump %g %g, formula allows %g %g", k, godot,
                             i, fabsf(gl - pl), fabsf(gr - pr), bl, br);
                jump = fmaxf(jump, fmaxf(fabsf(gl - pl), fabsf(gr - pr)));
                pl = gl;
                pr = gr;
                prev = s;
            }
            /* Each path really moves the gains. */
            assert_true(jump > 0.0f);
        }
    }
}

static void test_godot_pan(void **state)
{
    (void)state;
    static const struct {
        float x, w, s, l, r;
    } rows[] = {
        {0, 100, 1, 0.5f, 0.5f},     {100, 100, 1, 0, 1},      {-100, 100, 1, 1, 0},
        {100, 100, 0.5f, 0.25f, 0.75f}, {-250, 100, 1, 1, 0},  {50, 100, 2, 0, 1},
        {25, 100, 1, 0.375f, 0.625f}, {80, 100, 0, 0.5f, 0.5f}, {10, 0, 1, 0.5f, 0.5f},
        {NAN, 100, 1, 0.5f, 0.5f},
    };
    for (size_t k = 0; k < NELEM(rows); k++) {
        float l, r;
        gv_spatial_godot2d_pan(rows[k].x, rows[k].w, rows[k].s, &l, &r);
        if (fabsf(l - rows[k].l) > 1e-6f || fabsf(r - rows[k].r) > 1e-6f)
            fail_msg("row %zu: %g %g want %g %g", k, l, r, rows[k].l, rows[k].r);
    }

    /* Through gv_spatial_gains: the 2D formula exactly, random poses. */
    for (int k = 0; k < 2000; k++) {
        gv_spatial_config p;
        gv_spatial_config_default(&p, GV_SPATIAL_MODE_2D);
        p.godot_pan = 1;
        p.max_distance = (float)uniform(50, 3000);
        p.attenuation = (float)uniform(0, 3);
        p.panning_strength = (float)uniform(0, 3);
        p.pan_width = (k & 1) ? 0.0f : (float)uniform(10, 1000);
        p.volume_db = (float)uniform(-20, 6);
        double fa = uniform(0, 2 * PI);
        gv_player_pose l = pose((float)uniform(-100, 100), (float)uniform(-100, 100), 0, (float)sin(fa),
                         (float)-cos(fa), 0);
        gv_player_pose s = {l.x + (float)uniform(-1.1, 1.1) * p.max_distance,
                     l.y + (float)uniform(-1.1, 1.1) * p.max_distance, 0, 0, 0, 0};
        check_against_ref(&p, &l, &s, k);
    }
}

static void test_equal_power_pan(void **state)
{
    (void)state;
    float l, r;
    gv_spatial_equal_power_pan(0.0f, &l, &r);
    assert_float_equal(l, 1.0f, 1e-6f);
    assert_float_equal(r, 1.0f, 1e-6f);
    gv_spatial_equal_power_pan(-1.0f, &l, &r);
    assert_float_equal(l, sqrtf(2.0f), 1e-6f);
    assert_float_equal(r, 0.0f, 1e-6f);
    gv_spatial_equal_power_pan(7.0f, &l, &r);
    assert_float_equal(l, 0.0f, 1e-6f);
    assert_float_equal(r, sqrtf(2.0f), 1e-6f);
    gv_spatial_equal_power_pan(NAN, &l, &r);
    assert_float_equal(l, 1.0f, 1e-6f);
    for (int i = -20; i <= 20; i++) {
        gv_spatial_equal_power_pan(i / 20.0f, &l, &r);
        assert_float_equal(l * l + r * r, 2.0f, 1e-5f);
    }
}

static void test_audible(void **state)
{
    (void)state;
    gv_spatial_config p;
    gv_player_pose l = pose(10, 0, 10, 0, 0, -1);
    gv_player_pose s = {10, 0, 60, 0, 0, 0};

    gv_spatial_config_default(&p, GV_SPATIAL_MODE_3D);
    assert_int_equal(gv_spatial_audible(&p, &l, &s, 0), 1); /* unlimited */
    p.max_distance = 45.0f;
    assert_int_equal(gv_spatial_audible(&p, &l, &s, 0), 0);
    assert_int_equal(gv_spatial_audible(&p, &l, &s, 5.0f), 1);
    assert_int_equal(gv_spatial_audible(&p, &l, &s, 4.9f), 0);
    p.max_distance = 50.0f;
    assert_int_equal(gv_spatial_audible(&p, &l, &s, 0), 1);
    s.y = 0.1f;
    assert_int_equal(gv_spatial_audible(&p, &l, &s, 0), 0);
    gv_player_pose bad = {NAN, 0, 0, 0, 0, 0};
    assert_int_equal(gv_spatial_audible(&p, &l, &bad, 100), 0);
    assert_int_equal(gv_spatial_audible(&p, &l, NULL, 100), 0);
    assert_int_equal(gv_spatial_audible(NULL, &l, &s, 100), 0);

    gv_spatial_config_default(&p, GV_SPATIAL_MODE_2D);
    p.max_distance = 50.0f;
    s = (gv_player_pose){10, 50, 1e6f, 0, 0, 0}; /* z ignored in 2D */
    gv_player_pose l2 = pose(10, 0, 0, 0, -1, 0);
    assert_int_equal(gv_spatial_audible(&p, &l2, &s, 0), 1);
    s.x = 10.5f;
    assert_int_equal(gv_spatial_audible(&p, &l2, &s, 0), 0);
    assert_int_equal(gv_spatial_audible(&p, &l2, &s, 1), 1);

    gv_spatial_config_default(&p, GV_SPATIAL_MODE_OFF);
    p.max_distance = 1.0f;
    assert_int_equal(gv_spatial_audible(&p, &l, &bad, 0), 1);

    /* The culling agrees with the gains: audible at margin 0 exactly when a
     * sound can come out (or sits right on the edge). */
    gv_spatial_config_default(&p, GV_SPATIAL_MODE_3D);
    p.max_distance = 30.0f;
    for (int i = 0; i < 500; i++) {
        gv_player_pose r = {(float)uniform(-40, 40), (float)uniform(-40, 40), (float)uniform(-40, 40), 0, 0, 0};
        float gl, gr, d;
        gv_spatial_gains(&p, &l, &r, &gl, &gr, &d);
        if (gl > 0.0f || gr > 0.0f)
            assert_int_equal(gv_spatial_audible(&p, &l, &r, 0), 1);
        if (d > 30.0f)
            assert_true(gl == 0.0f && gr == 0.0f && !gv_spatial_audible(&p, &l, &r, 0));
    }
}

static void test_itd(void **state)
{
    (void)state;
    gv_spatial_config p;
    gv_player_pose l = pose(0, 0, 0, 0, 0, -1);
    int il, ir;
    double full = 0.0875 / 343.0 * (PI / 2 + 1.0) * RATE;

    gv_spatial_config_default(&p, GV_SPATIAL_MODE_OFF);
    gv_spatial_itd(&p, &l, &(gv_player_pose){5, 0, 0, 0, 0, 0}, RATE, &il, &ir);
    assert_true(il == 0 && ir == 0);
    gv_spatial_config_default(&p, GV_SPATIAL_MODE_3D);
    gv_spatial_itd(&p, &l, &(gv_player_pose){5, 0, 0, 0, 0, 0}, RATE, &il, &ir);
    assert_int_equal(il, (int)lround(full));
    assert_int_equal(ir, 0);
    assert_true(il >= 30 && il <= 32); /* about 0.65 ms */
    gv_spatial_itd(&p, &l, &(gv_player_pose){-5, 0, 0, 0, 0, 0}, RATE, &il, &ir);
    assert_int_equal(il, 0);
    assert_int_equal(ir, (int)lround(full));
    gv_spatial_itd(&p, &l, &(gv_player_pose){0, 0, -5, 0, 0, 0}, RATE, &il, &ir);
    assert_true(il == 0 && ir == 0);
    gv_spatial_itd(&p, &l, &(gv_player_pose){0, 0, 0, 0, 0, 0}, RATE, &il, &ir);
    assert_true(il == 0 && ir == 0);
    for (int a = -90; a <= 90; a += 15) {
        double az = a * PI / 180.0;
        gv_player_pose s = {(float)(10 * sin(az)), 0, (float)(-10 * cos(az)), 0, 0, 0};
        int want = (int)lround(0.0875 / 343.0 * (fabs(az) + sin(fabs(az))) * RATE);
        gv_spatial_itd(&p, &l, &s, RATE, &il, &ir);
        assert_int_equal(a > 0 ? il : ir, want);
        assert_int_equal(a > 0 ? ir : il, 0);
    }
    gv_spatial_itd(&p, &l, &(gv_player_pose){5, 0, 0, 0, 0, 0}, 192000, &il, &ir);
    assert_true(il <= GV_SPATIAL_ITD_MAX && il > 90);
    gv_spatial_itd(&p, &l, &(gv_player_pose){5, 0, 0, 0, 0, 0}, 1000, &il, &ir);
    assert_true(il == 0 && ir == 0);
    gv_spatial_config_default(&p, GV_SPATIAL_MODE_2D);
    gv_player_pose l2 = pose(0, 0, 0, 0, -1, 0);
    gv_spatial_itd(&p, &l2, &(gv_player_pose){-5, 0, 0, 0, 0, 0}, RATE, &il, &ir);
    assert_true(il == 0 && ir == (int)lround(full));
}

static void test_render_ramp(void **state)
{
    (void)state;
    static const struct {
        float g0[2], g1[2];
        size_t n;
    } rows[] = {
        {{0.0f, 1.0f}, {1.0f, 0.0f}, 960},   {{1.0f, 1.0f}, {0.2f, 1.4f}, 480},
        {{0.5f, 0.5f}, {0.5f, 0.5f}, 120},   {{1.41f, 0.0f}, {0.0f, 1.41f}, 7},
        {{0.3f, 0.9f}, {0.31f, 0.89f}, 2880}, {{0.0f, 0.0f}, {1.0f, 1.0f}, 1},
    };
    for (size_t k = 0; k < NELEM(rows); k++) {
        size_t n = rows[k].n;
        float *ones = malloc(n * sizeof(float)), *out = malloc(2 * n * sizeof(float));
        assert_non_null(ones);
        assert_non_null(out);
        for (size_t i = 0; i < n; i++)
            ones[i] = 1.0f;
        gv_spatial_voice v;
        gv_spatial_voice_init(&v);
        /* The first block starts at its gains: no fade-in of an onset. */
        memset(out, 0, 2 * n * sizeof(float));
        gv_spatial_voice_render(&v, ones, n, rows[k].g0[0], rows[k].g0[1], 0, 0, out);
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 2; c++)
                assert_float_equal(out[2 * i + c], rows[k].g0[c], 1e-6f);
        memset(out, 0, 2 * n * sizeof(float));
        gv_spatial_voice_render(&v, ones, n, rows[k].g1[0], rows[k].g1[1], 0, 0, out);
        for (int c = 0; c < 2; c++) {
            float step = fabsf(rows[k].g1[c] - rows[k].g0[c]) / (float)n, prev = rows[k].g0[c];
            for (size_t i = 0; i < n; i++) {
                float y = out[2 * i + (size_t)c];
                if (fabsf(y - prev) > step + 1e-6f)
                    fail_msg("row %zu ch %d sample %zu: step %g > %g", k, c, i, fabsf(y - prev), step);
                /* Monotonic towards the target: a linear ramp, not a wobble. */
                float want = rows[k].g0[c] + (rows[k].g1[c] - rows[k].g0[c]) * (float)(i + 1) / n;
                assert_float_equal(y, want, 1e-5f);
                prev = y;
            }
            assert_true(out[2 * (n - 1) + (size_t)c] == rows[k].g1[c]);
        }
        free(ones);
        free(out);
    }

    /* Rendering adds; NULL and non-finite gains are harmless. */
    gv_spatial_voice v;
    float in[4] = {1, 1, 1, 1}, out[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    gv_spatial_voice_init(&v);
    gv_spatial_voice_render(&v, in, 4, 0.5f, NAN, 0, 0, out);
    assert_float_equal(out[6], 1.5f, 1e-6f);
    assert_float_equal(out[7], 1.0f, 1e-6f);
    gv_spatial_voice_render(NULL, in, 4, 1, 1, 0, 0, out);
    gv_spatial_voice_render(&v, NULL, 4, 1, 1, 0, 0, out);
    gv_spatial_voice_render(&v, in, 4, 1, 1, 0, 0, NULL);
    gv_spatial_voice_init(NULL);
}

/* Moving the interaural delay must not click: on a smooth sine no output
 * step may exceed the input's largest step by more than the delay's rate
 * of change allows, however the requested delay jumps. */
static void test_render_itd_smooth(void **state)
{
    (void)state;
    static const size_t blocks[] = {120, 480, 960, 64};
    for (size_t b = 0; b < NELEM(blocks); b++) {
        size_t n = blocks[b], total = 48000;
        float *in = malloc(total * sizeof(float)), *out = calloc(2 * total, sizeof(float));
        assert_non_null(in);
        assert_non_null(out);
        double w = 2 * PI * 440.0 / RATE, max_in = 0.0;
        for (size_t i = 0; i < total; i++) {
            in[i] = (float)(0.5 * sin(w * i));
            if (i)
                max_in = fmax(max_in, fabs(in[i] - in[i - 1]));
        }
        gv_spatial_voice v;
        gv_spatial_voice_init(&v);
        for (size_t at = 0, k = 0; at + n <= total; at += n, k++) {
            /* Jump between far-apart targets every few blocks. */
            int phase = (int)((k / 3) % 4);
            int tl = phase == 0 ? 31 : (phase == 2 ? 5 : 0);
            int tr = phase == 1 ? 31 : (phase == 3 ? 200 : 0);
            gv_spatial_voice_render(&v, in + at, n, 1.0f, 1.0f, tl, tr, out + 2 * at);
        }
        double max_out = 0.0;
        for (size_t i = 1; i < total; i++)
            for (int c = 0; c < 2; c++)
                max_out = fmax(max_out, fabs(out[2 * i + c] - out[2 * (i - 1) + c]));
        if (max_out > max_in * (1.0 + 1.0 / 256.0) + 1e-6)
            fail_msg("block %zu: output step %g, input step %g", n, max_out, max_in);
        free(in);
        free(out);
    }
}

/* Once it has settled, a delay is exact: the channel is the input shifted
 * by that many samples, and the other channel is not shifted. */
static void test_render_itd_exact(void **state)
{
    (void)state;
    size_t n = 480, blocks = 40;
    float *in = malloc(n * blocks * sizeof(float)), *out = calloc(2 * n * blocks, sizeof(float));
    assert_non_null(in);
    assert_non_null(out);
    for (size_t i = 0; i < n * blocks; i++)
        in[i] = (float)uniform(-1, 1);
    gv_spatial_voice v;
    gv_spatial_voice_init(&v);
    for (size_t k = 0; k < blocks; k++)
        gv_spatial_voice_render(&v, in + k * n, n, 0.7f, 1.0f, 23, 0, out + 2 * k * n);
    for (size_t i = 23; i < n * blocks; i++) {
        if (out[2 * i] != 0.7f * in[i - 23])
            fail_msg("left sample %zu: %g want %g (seed %#x)", i, out[2 * i], 0.7f * in[i - 23],
                     SEED);
        assert_true(out[2 * i + 1] == in[i]);
    }
    /* Moving to a new delay takes 256 samples per sample of delay and ends
     * exact again. */
    memset(out, 0, 2 * n * blocks * sizeof(float));
    for (size_t k = 0; k < blocks; k++)
        gv_spatial_voice_render(&v, in + k * n, n, 1.0f, 1.0f, 0, 12, out + 2 * k * n);
    size_t settled = (12 + 23) * 256 / n + 1;
    for (size_t i = (settled + 1) * n; i < n * blocks; i++) {
        assert_true(out[2 * i] == in[i]);
        assert_true(out[2 * i + 1] == in[i - 12]);
    }
    free(in);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_check),
        cmocka_unit_test(test_off_and_bad_positions),
        cmocka_unit_test(test_distance_table_3d),
        cmocka_unit_test(test_distance_table_2d),
        cmocka_unit_test(test_angles),
        cmocka_unit_test(test_facing_rotates_image),
        cmocka_unit_test(test_continuity_under_motion),
        cmocka_unit_test(test_godot_pan),
        cmocka_unit_test(test_equal_power_pan),
        cmocka_unit_test(test_audible),
        cmocka_unit_test(test_itd),
        cmocka_unit_test(test_render_ramp),
        cmocka_unit_test(test_render_itd_smooth),
        cmocka_unit_test(test_render_itd_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
