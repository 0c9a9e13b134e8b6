#include "session/gv_sys.h"

#include <time.h>

#include <sodium.h>

#include "gvoip/gvoip.h"
#include "session/gv_transport.h"

static uint64_t monotonic_us(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sodium_fill(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    randombytes_buf(buf, len);
}

gv_clock gv_sys_clock(void)
{
    return (gv_clock){.now_us = monotonic_us, .ctx = NULL};
}

gv_random gv_sys_random(void)
{
    return (gv_random){.fill = sodium_fill, .ctx = NULL};
}

int gv_init(void)
{
    if (sodium_init() < 0)
        return GV_EKEY;
    return gv_transport_init();
}
