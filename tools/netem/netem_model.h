/* The pure impairment model of one direction of the relay: given when a
 * datagram arrived and how long it is, decide whether it is lost, how many
 * copies leave and when each one leaves. No I/O, no clock: time is passed in,
 * randomness comes from the direction's own seeded netem_rng. */
#ifndef NETEM_MODEL_H
#define NETEM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "netem_rng.h"

enum netem_dir { NETEM_UP = 0, NETEM_DOWN = 1 };

/* The shape of the extra delay added on top of delay_ms; jitter_ms is its
 * scale (see README.md for means and spreads). */
enum netem_jitter_dist {
    NETEM_JITTER_UNIFORM = 0, /* U[0, J) */
    NETEM_JITTER_NORMAL,      /* |N(0, J)|, half-normal */
    NETEM_JITTER_EXP,         /* exponential with mean J */
    NETEM_JITTER_PARETO,      /* Lomax (Pareto II) with mean J */
};

/* A datagram leaves in at most this many copies (original + duplicate). */
#define NETEM_MODEL_MAX_COPIES 2

/* No datagram is held longer than this, whatever the distribution draws. */
#define NETEM_MODEL_MAX_HOLD_US 60000000u

/* One direction's conditions. Each field has a key for
 * netem_model_params_set, listed by netem_model_param_keys. */
typedef struct netem_model_params {
    double loss;           /* random loss, percent */
    double burst_loss;     /* Gilbert stationary loss, percent; 0 = off */
    double burst_len;      /* mean length of a loss burst, packets (>= 1) */
    double delay_ms;       /* constant delay */
    double jitter_ms;      /* scale of the extra delay */
    int jitter_dist;       /* enum netem_jitter_dist */
    double jitter_shape;   /* Pareto shape alpha (> 1), pareto only */
    double reorder;        /* percent of datagrams held back */
    double reorder_gap_ms; /* how much longer they are held */
    double duplicate;      /* percent of datagrams sent twice */
    double rate_kbit;      /* bandwidth cap in kbit/s; 0 = none */
    double queue_ms;       /* drop-tail queue limit in time at the cap */
} netem_model_params;

/* Which fields netem_model_params_set changed: bit i is the i-th key. */
#define NETEM_MODEL_PARAM_COUNT 12

typedef struct netem_model_config {
    netem_model_params params;
    uint64_t seed;   /* --seed */
    uint64_t stream; /* NETEM_UP or NETEM_DOWN: separate random streams */
} netem_model_config;

typedef struct netem_model_stats {
    uint64_t received;       /* datagrams offered to the model */
    uint64_t dropped_random; /* lost to --loss */
    uint64_t dropped_burst;  /* lost to the Gilbert bad state */
    uint64_t dropped_queue;  /* copies refused by the full rate-cap queue */
    uint64_t duplicated;     /* extra copies made */
    uint64_t delayed;        /* copies scheduled later than their arrival */
    uint64_t reordered;      /* copies held back by --reorder */
} netem_model_stats;

typedef struct netem_model netem_model;

/* Fills p with no impairment (uniform jitter, Pareto shape 2.5, reorder gap
 * 40 ms, burst length 3, queue 100 ms once a rate is set). Thread-safe. */
void netem_model_params_default(netem_model_params *p);

/* Sets the field named key (e.g. "loss", "jitter-dist") from its text form.
 * Returns the field's bit index (0..NETEM_MODEL_PARAM_COUNT-1), GV_ENOTFOUND
 * for an unknown key or GV_EINVAL for a bad value (p unchanged). Thread-safe
 * for distinct p. */
int netem_model_params_set(netem_model_params *p, const char *key, const char *value);

/* Copies into dst the fields of src whose bit is set in mask. Thread-safe
 * for distinct dst. */
void netem_model_params_merge(netem_model_params *dst, const netem_model_params *src, uint32_t mask);

/* GV_OK if the combination is feasible, else GV_EINVAL (a stationary burst
 * loss that the mean burst length cannot reach: burst_loss must be at most
 * 100 * len / (len + 1)). Thread-safe. */
int netem_model_params_check(const netem_model_params *p);

/* The keys netem_model_params_set knows, space separated; static. */
const char *netem_model_param_keys(void);

/* Fills cfg with default params and seed 1. Thread-safe. */
void netem_model_config_default(netem_model_config *cfg);

/* Creates one direction's model; *out is owned by the caller. Returns
 * GV_EINVAL for bad arguments or params, GV_ENOMEM. */
int netem_model_create(const netem_model_config *cfg, netem_model **out);

/* Frees m; NULL is a no-op. */
void netem_model_destroy(netem_model *m);

/* Changes the conditions from now on, keeping the burst state, the rate-cap
 * backlog and FIFO order. Returns GV_EINVAL for bad params (m unchanged).
 * Not thread-safe. */
int netem_model_set_params(netem_model *m, const netem_model_params *p);

/* Decides the fate of one datagram of `bytes` bytes arriving at now_us
 * (monotonic, non-decreasing across calls). Writes the release time of each
 * copy to release_us and returns the number of copies (0 when lost), or
 * GV_EINVAL. Not thread-safe. */
int netem_model_packet(netem_model *m, uint64_t now_us, size_t bytes,
                       uint64_t release_us[NETEM_MODEL_MAX_COPIES]);

/* Copies the counters so far. Not thread-safe against netem_model_packet. */
void netem_model_get_stats(const netem_model *m, netem_model_stats *out);

#endif
