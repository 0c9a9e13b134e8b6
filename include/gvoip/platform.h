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

/* Random bytes for what need not be secret, replaceable so that a test can
 * make it repeat: today only how much longer than 1.2 s a client waits
 * before it starts a lost handshake again (up to a quarter more). The
 * default is libsodium's randombytes_buf; any generator will do, even a
 * constant.
 *
 * It never supplies a secret: the handshake's ephemeral keys, the server's
 * key, its admission cookie keys and its host token come from libsodium's
 * randombytes_buf whatever is set here (nonces are counters), so a weak or
 * seeded generator cannot cost a session its forward secrecy
 * (docs/security.md). Only a client takes one (gv_client_config). */
typedef struct gv_random {
    void (*fill)(void *ctx, void *buf, size_t len);
    void *ctx;
} gv_random;

#ifdef __cplusplus
}
#endif
#endif
