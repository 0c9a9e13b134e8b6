/* The relay's own seeded PRNG (xoshiro256**, seeded through splitmix64), so
 * that every impairment decision is reproducible from --seed alone. */
#ifndef NETEM_RNG_H
#define NETEM_RNG_H

#include <stdint.h>

/* A plain value rather than an opaque handle: it is embedded in each
 * direction's model and copying it is how a test replays a stream. */
typedef struct netem_rng {
    uint64_t s[4];
} netem_rng;

/* Seeds r from seed and a stream number, so the two directions draw
 * independent sequences from one --seed. Not thread-safe (r is caller's). */
void netem_rng_seed(netem_rng *r, uint64_t seed, uint64_t stream);

/* The next 64 random bits. Not thread-safe. */
uint64_t netem_rng_next(netem_rng *r);

/* A uniform double in [0, 1) with 53 random bits. Not thread-safe. */
double netem_rng_uniform(netem_rng *r);

/* True with probability percent / 100. 0 and 100 do not draw, so a
 * disabled impairment does not shift the stream. Not thread-safe. */
int netem_rng_chance(netem_rng *r, double percent);

/* A standard normal deviate (Box-Muller; one draw per call, the second
 * value is discarded to keep the stream position simple). Not thread-safe. */
double netem_rng_normal(netem_rng *r);

#endif
