/* The program's clocks, in milliseconds: monotonic for waits and
 * deadlines, the wall clock for what others compare (a fleet's lobby
 * times). */
#ifndef GVOIP_CLOCK_H
#define GVOIP_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ms(void);
uint64_t clock_unix_ms(void);

#endif
