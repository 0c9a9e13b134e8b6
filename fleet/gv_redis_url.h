/* The Redis URL of gv_fleet_config: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]. */
#ifndef GV_REDIS_URL_H
#define GV_REDIS_URL_H

#include <stddef.h>

#define GV_REDIS_URL_HOST_MAX 255
#define GV_REDIS_URL_USER_MAX 128
#define GV_REDIS_URL_PASSWORD_MAX 512
#define GV_REDIS_URL_DEFAULT_PORT 6379

typedef struct gv_redis_url {
    char host[GV_REDIS_URL_HOST_MAX + 1]; /* without the brackets of an IPv6 address */
    int port;                             /* 1..65535 */
    int db;                               /* 0..INT_MAX */
    char user[GV_REDIS_URL_USER_MAX + 1]; /* "": Redis's default user */
    char password[GV_REDIS_URL_PASSWORD_MAX + 1];
    int auth; /* AUTH is sent: the URL names a user or a non-empty password */
} gv_redis_url;

/* Parses url into *out (zeroed first). USER and PASSWORD may be
 * percent-encoded (a '@', ':' or '/' in a password must be); a decoded NUL
 * is refused. Returns 0, or GV_EINVAL (NULL url or out, or not such a URL)
 * with a sentence in why (why_len bytes; why may be NULL) that never
 * quotes the password. On failure *out holds no password. Thread-safe. */
int gv_redis_url_parse(const char *url, gv_redis_url *out, char *why, size_t why_len);

/* Writes the sentence (printf format) to why (why_len bytes; NULL or 0:
 * nowhere) and returns GV_EINVAL: the refusals of this library's argument
 * checks. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int gv_redis_refuse(char *why, size_t why_len, const char *fmt, ...);

#endif
