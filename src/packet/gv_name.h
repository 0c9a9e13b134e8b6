/* Player-name rules, shared by the client (to fail early) and the server
 * (which decides). */
#ifndef GV_NAME_H
#define GV_NAME_H

#include <stddef.h>

#define GV_NAME_MAX 32       /* bytes of UTF-8, without the terminating NUL */
#define GV_LOBBY_NAME_MAX 64 /* the same for a lobby's name */

/* 0 if `name` (len bytes, not NUL-terminated) may be chosen by a player:
 * 1..32 bytes of valid UTF-8 (shortest form, no surrogates), not only
 * white space, without control or invisible formatting characters (bidi
 * controls, zero-width characters: a name that displays as another's) and
 * without '#', which marks the server's suffix for a duplicate. Otherwise
 * GV_ENAME with a static reason in *why. Pure; thread-safe. */
int gv_name_check(const char *name, size_t len, const char **why);

/* The same for a name the server assigned: a chosen one, or one with its
 * duplicate suffix ("alice#2"). */
int gv_name_check_assigned(const char *name, size_t len, const char **why);

/* The same rules for a lobby's name, up to GV_LOBBY_NAME_MAX bytes and
 * with '#' allowed ("match#1234"): the server never renames a lobby. (The
 * default lobby's name is empty and never checked.) */
int gv_name_check_lobby(const char *name, size_t len, const char **why);

/* Writes into out (GV_NAME_MAX + 1 bytes) the name with the suffix of
 * attempt n >= 2 ("alice" -> "alice#2"), shortening the base on a character
 * boundary so the result still fits. Pure; thread-safe. */
void gv_name_with_suffix(const char *name, unsigned n, char out[GV_NAME_MAX + 1]);

#endif
