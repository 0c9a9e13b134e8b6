/* The one-line reason an internal call leaves for its caller in a
 * (why, why_len) buffer that may be NULL or empty. */
#ifndef GV_WHY_H
#define GV_WHY_H

#include <stddef.h>

/* printf into why (why_len bytes, NUL-terminated); nothing when why is
 * NULL or why_len 0. Thread-safe. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void gv_why(char *why, size_t why_len, const char *fmt, ...);

#endif
