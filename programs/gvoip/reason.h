/* The human reason a failing call gives its caller: a printf-style
 * message into the caller's buffer (why may be NULL or why_len 0: then
 * nothing is written). */
#ifndef GVOIP_REASON_H
#define GVOIP_REASON_H

#include <stddef.h>

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void reason_set(char *why, size_t why_len, const char *fmt, ...);

#endif
