#include "cb_metric.h"

#include <math.h>
#include <stdlib.h>

#include "audio/gv_clean.h"
#include "cb_signal.h"
#include "gvoip/error.h"
#include "stoi.h"
#include "wav.h"

#define CB_DB_LIMIT 200.0

static double mean(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return n ? s / (double)n : 0;
}

double cb_metric_si_sdr(const float *ref, const float *est, size_t n)
{
    double mr = mean(ref, n), me = mean(est, n), dot = 0, rr = 0;
    for (size_t i = 0; i < n; i++) {
        dot += (ref[i] - mr) * (est[i] - me);
        rr += (ref[i] - mr) * (ref[i] - mr);
    }
    if (rr <= 0 || dot <= 0)
        return -CB_DB_LIMIT;
    double alpha = dot / rr, target = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        double t = alpha * (ref[i] - mr), e = (est[i] - me) - t;
        target += t * t;
        err += e * e;
    }
    if (err <= target * 1e-20)
        return CB_DB_LIMIT;
    return 10.0 * log10(target / err);
}

int cb_metric_stoi(const float *ref, const float *deg, size_t n, double *stoi)
{
    if (!ref || !deg || !stoi || n == 0)
        return GV_EINVAL;
    float *r = NULL, *d = NULL;
    size_t rn = 0, dn = 0;
    gv_stoi_result res;
    int rc = gv_wav_resample(ref, n, GV_CLEAN_RATE, GV_STOI_RATE, &r, &rn);
    if (rc == 0)
        rc = gv_wav_resample(deg, n, GV_CLEAN_RATE, GV_STOI_RATE, &d, &dn);
    if (rc == 0)
        rc = gv_stoi_compute(r, d, rn < dn ? rn : dn, &res);
    if (rc == 0)
        *stoi = res.stoi;
    free(r);
    free(d);
    return rc;
}

size_t cb_metric_masks(const float *clean, size_t n, unsigned char *active, unsigned char *pause)
{
    size_t frames = n / GV_CLEAN_STEP;
    double loudest = 0;
    for (size_t f = 0; f < frames; f++) {
        double p = cb_signal_power(clean + f * GV_CLEAN_STEP, GV_CLEAN_STEP);
        if (p > loudest)
            loudest = p;
    }
    double on = loudest * pow(10.0, -CB_ACTIVE_RANGE_DB / 10.0);
    double silent = loudest * pow(10.0, -CB_PAUSE_RANGE_DB / 10.0);
    size_t last_active = (size_t)-1;
    for (size_t f = 0; f < frames; f++) {
        double p = cb_signal_power(clean + f * GV_CLEAN_STEP, GV_CLEAN_STEP);
        int act = loudest > 0 && p >= on;
        if (active)
            active[f] = (unsigned char)act;
        if (pause)
            pause[f] = (unsigned char)(p < silent || loudest == 0);
        if (act)
            last_active = f;
        /* The guard before each active frame, and after the last one. */
        if (pause && act) {
            for (size_t g = f > CB_PAUSE_GUARD_FRAMES ? f - CB_PAUSE_GUARD_FRAMES : 0; g < f; g++)
                pause[g] = 0;
        }
        if (pause && last_active != (size_t)-1 && f - last_active <= CB_PAUSE_GUARD_FRAMES)
            pause[f] = 0;
    }
    return frames;
}

static double masked_energy(const float *x, const unsigned char *mask, size_t from, size_t to,
                            size_t *count)
{
    double s = 0;
    size_t c = 0;
    for (size_t f = from; f < to; f++) {
        if (mask && !mask[f])
            continue;
        const float *p = x + f * GV_CLEAN_STEP;
        for (size_t i = 0; i < GV_CLEAN_STEP; i++)
            s += (double)p[i] * p[i];
        c++;
    }
    if (count)
        *count = c;
    return s;
}

double cb_metric_ratio_db(const float *a, const float *b, const unsigned char *mask, size_t from,
                          size_t to)
{
    double ea = masked_energy(a, mask, from, to, NULL), eb = masked_energy(b, mask, from, to, NULL);
    if (ea <= 0 && eb <= 0)
        return 0;
    if (eb <= 0)
        return CB_DB_LIMIT;
    if (ea <= 0)
        return -CB_DB_LIMIT;
    return 10.0 * log10(ea / eb);
}

double cb_metric_power(const float *x, const unsigned char *mask, size_t from, size_t to)
{
    size_t c;
    double e = masked_energy(x, mask, from, to, &c);
    return c ? e / ((double)c * GV_CLEAN_STEP) : 0;
}

double cb_metric_convergence(const float *echo, const float *out, const unsigned char *mask,
                             size_t from, size_t to, size_t window, double threshold_db,
                             double min_power)
{
    if (window == 0)
        return -1;
    size_t run = 0;
    for (size_t f = from; f < to; f++) {
        run = mask && !mask[f] ? 0 : run + 1;
        if (run < window)
            continue;
        size_t first = f + 1 - window;
        if (cb_metric_power(echo, NULL, first, f + 1) < min_power)
            continue;
        if (cb_metric_ratio_db(echo, out, NULL, first, f + 1) >= threshold_db)
            return (double)(f + 1 - from) * GV_CLEAN_STEP / GV_CLEAN_RATE;
    }
    return -1;
}

double cb_metric_reach_time(const float *in, const float *out, const unsigned char *active, size_t to,
                            size_t window, double in_level_db, double target_db, double tol_db)
{
    if (window == 0)
        return -1;
    for (size_t f = window; f <= to; f++) {
        size_t c;
        double ein = masked_energy(in, active, f - window, f, &c);
        if (c * 4 < window || ein <= 0)
            continue;
        double eout = masked_energy(out, active, f - window, f, NULL);
        double level = in_level_db + (eout > 0 ? 10.0 * log10(eout / ein) : -CB_DB_LIMIT);
        if (fabs(level - target_db) <= tol_db)
            return (double)f * GV_CLEAN_STEP / GV_CLEAN_RATE;
    }
    return -1;
}

double cb_metric_peak_dbfs(const float *x, size_t n)
{
    double peak = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > peak)
            peak = fabs(x[i]);
    return peak > 0 ? 20.0 * log10(peak) : -CB_DB_LIMIT;
}
