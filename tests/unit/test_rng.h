/* The tests' seeded random numbers: one xorshift32 stream per test file,
 * so a failure reproduces from the seed it prints. */
#ifndef GV_TEST_RNG_H
#define GV_TEST_RNG_H

#include <stdint.h>

static uint32_t test_rng_state;

static inline void test_rng_seed(uint32_t seed)
{
    test_rng_state = seed ? seed : 1;
}

static inline uint32_t test_rng_next(void)
{
    uint32_t x = test_rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return test_rng_state = x;
}

/* Uniform in [0, 1), 24 bits. */
static inline double test_rng_uniform(void)
{
    return (double)(test_rng_next() >> 8) / 16777216.0;
}

#endif
