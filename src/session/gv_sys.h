/* The real clock and randomness behind gv_clock and gv_random. */
#ifndef GV_SYS_H
#define GV_SYS_H

#include "gvoip/platform.h"

/* CLOCK_MONOTONIC in microseconds. Thread-safe. */
gv_clock gv_sys_clock(void);

/* libsodium's randombytes_buf. Thread-safe once gv_init has run. */
gv_random gv_sys_random(void);

#endif
