#include "netem_model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"

struct netem_model {
    netem_model_params p;
    netem_rng rng;
    int bad;              /* Gilbert chain in its lossy state */
    double ge_enter;      /* P(good -> bad) per datagram */
    double ge_leave;      /* P(bad -> good) per datagram */
    uint64_t link_free_ns; /* when the rate-capped link finishes its backlog */
    uint64_t last_release_us;
    netem_model_stats st;
};

enum { KIND_DOUBLE, KIND_DIST };

typedef struct param_key {
    const char *name;
    int kind;
    size_t offset;
    double min, max; /* inclusive, except where min_open says otherwise */
    int min_open;
} param_key;

/* Indexed by the bit netem_model_params_set returns; the order is part of
 * the interface (schedule masks). */
static const param_key keys[NETEM_MODEL_PARAM_COUNT] = {
    {"loss", KIND_DOUBLE, offsetof(netem_model_params, loss), 0, 100, 0},
    {"burst-loss", KIND_DOUBLE, offsetof(netem_model_params, burst_loss), 0, 99.9, 0},
    {"burst-len", KIND_DOUBLE, offsetof(netem_model_params, burst_len), 1, 1e6, 0},
    {"delay", KIND_DOUBLE, offsetof(netem_model_params, delay_ms), 0, 60000, 0},
    {"jitter", KIND_DOUBLE, offsetof(netem_model_params, jitter_ms), 0, 60000, 0},
    {"jitter-dist", KIND_DIST, offsetof(netem_model_params, jitter_dist), 0, 0, 0},
    {"jitter-shape", KIND_DOUBLE, offsetof(netem_model_params, jitter_shape), 1, 100, 1},
    {"reorder", KIND_DOUBLE, offsetof(netem_model_params, reorder), 0, 100, 0},
    {"reorder-gap", KIND_DOUBLE, offsetof(netem_model_params, reorder_gap_ms), 0, 60000, 0},
    {"duplicate", KIND_DOUBLE, offsetof(netem_model_params, duplicate), 0, 100, 0},
    {"rate", KIND_DOUBLE, offsetof(netem_model_params, rate_kbit), 0, 1e7, 0},
    {"queue-ms", KIND_DOUBLE, offsetof(netem_model_params, queue_ms), 0, 60000, 0},
};

static const char *const dist_names[] = {"uniform", "normal", "exp", "pareto"};

void netem_model_params_default(netem_model_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->burst_len = 3;
    p->jitter_dist = NETEM_JITTER_UNIFORM;
    p->jitter_shape = 2.5;
    p->reorder_gap_ms = 40;
    p->queue_ms = 100;
}

const char *netem_model_param_keys(void)
{
    return "loss burst-loss burst-len delay jitter jitter-dist jitter-shape "
           "reorder reorder-gap duplicate rate queue-ms";
}

static int parse_double(const char *s, double *out)
{
    if (!*s)
        return GV_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return GV_EINVAL;
    *out = v;
    return GV_OK;
}

int netem_model_params_set(netem_model_params *p, const char *key, const char *value)
{
    if (!p || !key || !value)
        return GV_EINVAL;
    for (int i = 0; i < NETEM_MODEL_PARAM_COUNT; i++) {
        const param_key *k = &keys[i];
        if (strcmp(k->name, key) != 0)
            continue;
        if (k->kind == KIND_DIST) {
            for (int d = 0; d < (int)(sizeof dist_names / sizeof dist_names[0]); d++) {
                if (strcmp(dist_names[d], value) == 0) {
                    *(int *)(void *)((char *)p + k->offset) = d;
                    return i;
                }
            }
            return GV_EINVAL;
        }
        double v;
        if (parse_double(value, &v) < 0 || v > k->max || v < k->min || (k->min_open && v <= k->min))
            return GV_EINVAL;
        *(double *)(void *)((char *)p + k->offset) = v;
        return i;
    }
    return GV_ENOTFOUND;
}

void netem_model_params_merge(netem_model_params *dst, const netem_model_params *src, uint32_t mask)
{
    if (!dst || !src)
        return;
    for (int i = 0; i < NETEM_MODEL_PARAM_COUNT; i++) {
        if (!(mask & (1u << i)))
            continue;
        size_t size = keys[i].kind == KIND_DIST ? sizeof(int) : sizeof(double);
        memcpy((char *)dst + keys[i].offset, (const char *)src + keys[i].offset, size);
    }
}

/* Gilbert with loss 1 in the bad state and 0 in the good one: a burst lasts
 * 1/leave datagrams on average and the chain is bad a fraction
 * enter / (enter + leave) of the time, which is solved for enter. */
static double gilbert_enter(const netem_model_params *p)
{
    double loss = p->burst_loss / 100.0;
    return loss * (1.0 / p->burst_len) / (1.0 - loss);
}

int netem_model_params_check(const netem_model_params *p)
{
    if (!p)
        return GV_EINVAL;
    for (int i = 0; i < NETEM_MODEL_PARAM_COUNT; i++) {
        if (keys[i].kind == KIND_DIST) {
            int d = *(const int *)(const void *)((const char *)p + keys[i].offset);
            if (d < 0 || d > NETEM_JITTER_PARETO)
                return GV_EINVAL;
            continue;
        }
        double v = *(const double *)(const void *)((const char *)p + keys[i].offset);
        if (!(v >= keys[i].min && v <= keys[i].max) || (keys[i].min_open && v <= keys[i].min))
            return GV_EINVAL;
    }
    if (gilbert_enter(p) > 1.0)
        return GV_EINVAL;
    return GV_OK;
}

void netem_model_config_default(netem_model_config *cfg)
{
    if (!cfg)
        return;
    netem_model_params_default(&cfg->params);
    cfg->seed = 1;
    cfg->stream = NETEM_UP;
}

static void apply_params(netem_model *m, const netem_model_params *p)
{
    m->p = *p;
    if (p->burst_loss > 0) {
        m->ge_enter = gilbert_enter(p);
        m->ge_leave = 1.0 / p->burst_len;
    } else {
        m->ge_enter = 0;
        m->ge_leave = 1;
        m->bad = 0;
    }
}

int netem_model_create(const netem_model_config *cfg, netem_model **out)
{
    if (!cfg || !out || netem_model_params_check(&cfg->params) < 0)
        return GV_EINVAL;
    netem_model *m = calloc(1, sizeof *m);
    if (!m)
        return GV_ENOMEM;
    netem_rng_seed(&m->rng, cfg->seed, cfg->stream);
    apply_params(m, &cfg->params);
    *out = m;
    return GV_OK;
}

void netem_model_destroy(netem_model *m)
{
    free(m);
}

int netem_model_set_params(netem_model *m, const netem_model_params *p)
{
    if (!m || netem_model_params_check(p) < 0)
        return GV_EINVAL;
    apply_params(m, p);
    return GV_OK;
}

/* The extra delay in ms; see enum netem_jitter_dist. */
static double jitter_sample(netem_model *m)
{
    double j = m->p.jitter_ms;
    switch (m->p.jitter_dist) {
    case NETEM_JITTER_NORMAL:
        return j * fabs(netem_rng_normal(&m->rng));
    case NETEM_JITTER_EXP:
        return -j * log1p(-netem_rng_uniform(&m->rng));
    case NETEM_JITTER_PARETO: {
        /* Lomax with shape a and scale j (a - 1): mean j, median
         * j (a - 1)(2^(1/a) - 1), survival (1 + x / scale)^-a. */
        double a = m->p.jitter_shape;
        return j * (a - 1.0) * (pow(1.0 - netem_rng_uniform(&m->rng), -1.0 / a) - 1.0);
    }
    default:
        return j * netem_rng_uniform(&m->rng);
    }
}

/* When a copy leaves the rate-capped link, or 0 if the queue refuses it. */
static int rate_stage(netem_model *m, uint64_t now_us, size_t bytes, uint64_t *leave_us)
{
    if (m->p.rate_kbit <= 0) {
        *leave_us = now_us;
        return 1;
    }
    uint64_t now_ns = now_us * 1000u;
    uint64_t backlog_ns = m->link_free_ns > now_ns ? m->link_free_ns - now_ns : 0;
    if ((double)backlog_ns > m->p.queue_ms * 1e6)
        return 0;
    uint64_t start = backlog_ns ? m->link_free_ns : now_ns;
    m->link_free_ns = start + (uint64_t)llround((double)bytes * 8e6 / m->p.rate_kbit);
    *leave_us = (m->link_free_ns + 999u) / 1000u;
    return 1;
}

int netem_model_packet(netem_model *m, uint64_t now_us, size_t bytes,
                       uint64_t release_us[NETEM_MODEL_MAX_COPIES])
{
    if (!m || !release_us)
        return GV_EINVAL;
    m->st.received++;
    if (m->p.burst_loss > 0) {
        double u = netem_rng_uniform(&m->rng);
        m->bad = m->bad ? !(u < m->ge_leave) : u < m->ge_enter;
        if (m->bad) {
            m->st.dropped_burst++;
            return 0;
        }
    }
    if (netem_rng_chance(&m->rng, m->p.loss)) {
        m->st.dropped_random++;
        return 0;
    }
    int copies = netem_rng_chance(&m->rng, m->p.duplicate) ? 2 : 1;
    if (copies == 2)
        m->st.duplicated++;
    int n = 0;
    for (int c = 0; c < copies; c++) {
        uint64_t leave;
        if (!rate_stage(m, now_us, bytes, &leave)) {
            m->st.dropped_queue++;
            continue;
        }
        double hold_ms = m->p.delay_ms + (m->p.jitter_ms > 0 ? jitter_sample(m) : 0.0);
        double hold_us = hold_ms * 1000.0;
        if (hold_us > NETEM_MODEL_MAX_HOLD_US)
            hold_us = NETEM_MODEL_MAX_HOLD_US;
        uint64_t t = leave + (uint64_t)llround(hold_us);
        /* Jitter alone never reorders: a copy waits for its predecessor,
         * as on a real link where queueing delay is shared. */
        if (t < m->last_release_us)
            t = m->last_release_us;
        if (netem_rng_chance(&m->rng, m->p.reorder)) {
            t += (uint64_t)llround(m->p.reorder_gap_ms * 1000.0);
            m->st.reordered++;
        } else {
            m->last_release_us = t;
        }
        if (t > now_us)
            m->st.delayed++;
        release_us[n++] = t;
    }
    return n;
}

void netem_model_get_stats(const netem_model *m, netem_model_stats *out)
{
    if (!m || !out)
        return;
    *out = m->st;
}
