/* The wall of the tests that run real sockets or threads: their waits are
 * bounded by deadlines on CLOCK_MONOTONIC rather than by virtual time. */
#ifndef TEST_MONO_H
#define TEST_MONO_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
