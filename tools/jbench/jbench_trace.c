#include "jbench_trace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PARETO_SHAPE 2.5
#define TALK_MEAN_S 1.5

/* splitmix64: tiny, seedable, good enough for traffic models. */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so logs and powers stay finite. */
static double rng_unit(rng *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double draw_extra(rng *r, double j, int dist)
{
    double u = rng_unit(r);
    if (j <= 0)
        return 0;
    switch (dist) {
    case JBENCH_NORMAL:
        return fabs(j * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * rng_unit(r)));
    case JBENCH_EXP:
        return -j * log(u);
    case JBENCH_PARETO:
        return j * (PARETO_SHAPE - 1.0) * (pow(u, -1.0 / PARETO_SHAPE) - 1.0);
    default:
        return j * u;
    }
}

static int in_window(const jbench_window *w, double t)
{
    if (w->len_s <= 0 || t < w->at_s)
        return 0;
    if (w->every_s <= 0)
        return t < w->at_s + w->len_s;
    return fmod(t - w->at_s, w->every_s) < w->len_s;
}

/* qsort has no context argument: the packets being sorted, set around the
 * one call below (the tool is single-threaded). */
static const jbench_pkt *sort_pkts;

static int cmp_arrival(const void *a, const void *b)
{
    int ia = *(const int *)a, ib = *(const int *)b;
    const jbench_pkt *pa = &sort_pkts[ia], *pb = &sort_pkts[ib];
    if (pa->arrive_us != pb->arrive_us)
        return pa->arrive_us < pb->arrive_us ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
}

int jbench_trace_make(const jbench_scenario *sc, uint64_t seed, jbench_trace *out)
{
    rng r = {seed * 0x2545f4914f6cdd1dull + 1};
    int frames = (int)(sc->seconds * 1e6 / JBENCH_FRAME_US), n = 0, bad = 0, talking = 1, i;
    double switch_at = 0;
    int64_t leg_out[2] = {0, 0};
    uint16_t seq = (uint16_t)rng_next(&r);
    uint32_t ts0 = (uint32_t)rng_next(&r);

    memset(out, 0, sizeof *out);
    out->pkt = calloc((size_t)frames + 1, sizeof *out->pkt);
    out->by_arrival = calloc((size_t)frames + 1, sizeof *out->by_arrival);
    if (!out->pkt || !out->by_arrival) {
        jbench_trace_free(out);
        return -1;
    }
    if (sc->spurts)
        switch_at = -TALK_MEAN_S * log(rng_unit(&r));
    for (i = 0; i < frames; i++) {
        double t = (double)(i + 1) * JBENCH_FRAME_US / 1e6;
        jbench_pkt *p;
        int k, lost = 0, start = 0;

        if (sc->spurts) {
            while (t >= switch_at) {
                talking = !talking;
                start = talking;
                switch_at += -TALK_MEAN_S * log(rng_unit(&r));
            }
            if (!talking)
                continue;
        }
        p = &out->pkt[n];
        /* A fast clock's 20 ms are shorter in real time. */
        p->send_us = (int64_t)llround((double)(i + 1) * JBENCH_FRAME_US * 1e6 / (1e6 + sc->clock_ppm));
        p->ts = ts0 + (uint32_t)i * JBENCH_FRAME_SAMPLES;
        p->seq = seq++;
        p->marker = start || n == 0;

        if (in_window(&sc->burst, t) && sc->burst_pct > 0) {
            double pl = sc->burst_pct / 100.0, rr = 1.0 / sc->burst_len;
            double q = pl * rr / (1.0 - pl);
            if (bad)
                bad = rng_unit(&r) >= rr;
            else
                bad = rng_unit(&r) < q;
            lost = bad;
        } else {
            bad = 0;
        }
        if (lost) {
            p->arrive_us = -1;
            n++;
            continue;
        }
        {
            int64_t at = p->send_us;
            for (k = 0; k < sc->legs; k++) {
                double d = sc->leg[k].delay_ms, j = sc->leg[k].jitter_ms;
                double tk = (double)at / 1e6;
                if (k == 0 && in_window(&sc->spike, tk))
                    j = sc->spike_jitter_ms;
                if (k == 0 && in_window(&sc->step, tk))
                    d += sc->step_ms;
                at += (int64_t)llround((d + draw_extra(&r, j, sc->leg[k].dist)) * 1000.0);
                /* FIFO: jitter delays but never reorders (netem's rule). */
                if (at < leg_out[k])
                    at = leg_out[k];
                leg_out[k] = at;
            }
            p->arrive_us = at;
        }
        out->by_arrival[out->arrived++] = n;
        n++;
    }
    out->n = n;
    sort_pkts = out->pkt;
    qsort(out->by_arrival, (size_t)out->arrived, sizeof *out->by_arrival, cmp_arrival);
    sort_pkts = NULL;
    return 0;
}

void jbench_trace_free(jbench_trace *t)
{
    free(t->pkt);
    free(t->by_arrival);
    memset(t, 0, sizeof *t);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t jbench_hindsight_us(const jbench_trace *t, int late)
{
    int64_t *d, v;
    int i, m = 0;

    if (t->arrived == 0)
        return 0;
    d = malloc((size_t)t->arrived * sizeof *d);
    if (!d)
        return -1;
    for (i = 0; i < t->n; i++)
        if (t->pkt[i].arrive_us >= 0)
            d[m++] = t->pkt[i].arrive_us - t->pkt[i].send_us;
    qsort(d, (size_t)m, sizeof *d, cmp_i64);
    if (late < 0)
        late = 0;
    if (late >= m)
        late = m - 1;
    v = d[m - 1 - late];
    free(d);
    return v;
}
