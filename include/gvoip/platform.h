/* The small interfaces gvoip reaches the outside world through, so that a
 * test (or a game with its own clock) can replace them. */
#ifndef GVOIP_PLATFORM_H
#define GVOIP_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A monotonic clock in microseconds. The default reads CLOCK_MONOTONIC. */
typedef struct gv_clock {
    uint64_t (*now_us)(void *ctx);
    void *ctx;
} gv_clock;

/* A source of random bytes. The default is libsodium's randombytes_buf;
 * key material always comes from it, tests may seed the rest. */
typedef struct gv_random {
    void (*fill)(void *ctx, void *buf, size_t len);
    void *ctx;
} gv_random;

#ifdef __cplusplus
}
#endif
#endif
