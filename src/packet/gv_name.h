/* Player-name rules, shared by the client (to fail early) and the server
 * (which decides). */
#ifndef GV_NAME_H
#define GV_NAME_H

#include <stddef.h>

#define GV_NAME_MAX 32 /* bytes of UTF-8, without the terminating NUL */

/* 0 if `name` (len bytes, not NUL-terminated) is 1..32 bytes of valid UTF-8
 * (shortest form, no surrogates) without control characters; otherwise
 * GV_ENAME with a static reason in *why. Pure; thread-safe. */
int gv_name_check(const char *name, size_t len, const char **why);

/* Writes into out (GV_NAME_MAX + 1 bytes) the name with a numeric suffix
 * for attempt n >= 2 ("alice" -> "alice2"), shortening the base on a
 * character boundary so the result still fits. Pure; thread-safe. */
void gv_name_with_suffix(const char *name, unsigned n, char out[GV_NAME_MAX + 1]);

#endif
