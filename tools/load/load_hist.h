/* A latency histogram: 10-microsecond bins up to two seconds, so every
 * sample of a long run is kept without storing them one by one. */
#ifndef LOAD_HIST_H
#define LOAD_HIST_H

#include <stdint.h>

#define LOAD_HIST_BIN_US 10
#define LOAD_HIST_BINS 200000

typedef struct load_hist {
    uint32_t bins[LOAD_HIST_BINS + 1]; /* the last one: everything longer */
    uint64_t count;
} load_hist;

void load_hist_add(load_hist *h, int64_t us);

/* The p-th percentile (0..100) in milliseconds; 0 when empty. */
double load_hist_percentile_ms(const load_hist *h, double p);

#endif
