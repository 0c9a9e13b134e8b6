#include "gv_redis_url.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"

#define SCHEME "redis://"

int gv_redis_refuse(char *why, size_t why_len, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return GV_EINVAL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes len bytes of s into out (cap bytes with the NUL).
 * Returns 0, or -1 for a bad escape, a decoded NUL or too long a text. */
static int decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
            if (lo < 0 || (c = hi * 16 + lo) == 0)
                return -1;
            i += 2;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return 0;
}

/* Decimal digits only, no sign, within 0..max. */
static int parse_number(const char *s, size_t len, long max, long *out)
{
    long v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

static int host_char(char c, int bracketed)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.')
        return 1;
    return bracketed ? c == ':' : c == '-' || c == '_';
}

static int parse_host_port(const char *s, size_t len, gv_redis_url *out, char *why, size_t why_len)
{
    const char *host = s, *port = NULL;
    size_t host_len;
    int bracketed = len > 0 && s[0] == '[';
    if (bracketed) {
        const char *close = memchr(s, ']', len);
        if (!close)
            return gv_redis_refuse(why, why_len, "the Redis URL's [IPv6 address] has no ']'");
        host = s + 1;
        host_len = (size_t)(close - host);
        size_t rest = len - (size_t)(close + 1 - s);
        if (rest > 0 && close[1] != ':')
            return gv_redis_refuse(why, why_len, "the Redis URL has something other than :PORT after its [IPv6 address]");
        port = rest > 0 ? close + 2 : NULL;
    } else {
        const char *colon = memchr(s, ':', len);
        host_len = colon ? (size_t)(colon - s) : len;
        port = colon ? colon + 1 : NULL;
    }
    if (host_len == 0)
        return gv_redis_refuse(why, why_len, "the Redis URL has no host");
    if (host_len > GV_REDIS_URL_HOST_MAX)
        return gv_redis_refuse(why, why_len, "the Redis URL's host is longer than %d bytes", GV_REDIS_URL_HOST_MAX);
    for (size_t i = 0; i < host_len; i++)
        if (!host_char(host[i], bracketed))
            return gv_redis_refuse(why, why_len, "the Redis URL's host has a character a host name cannot%s",
                          bracketed ? "" : " (an IPv6 address goes in brackets: [::1])");
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = GV_REDIS_URL_DEFAULT_PORT;
    if (port) {
        long v;
        if (parse_number(port, len - (size_t)(port - s), 65535, &v) != 0 || v == 0)
            return gv_redis_refuse(why, why_len, "the Redis URL's port is not 1..65535");
        out->port = (int)v;
    }
    return 0;
}

static int parse(const char *url, gv_redis_url *out, char *why, size_t why_len)
{
    if (!strncmp(url, "rediss://", 9))
        return gv_redis_refuse(why, why_len, "Redis over TLS (rediss://) is not supported: use redis:// (a TLS tunnel "
                                    "such as stunnel can carry it)");
    if (strncmp(url, SCHEME, strlen(SCHEME)) != 0)
        return gv_redis_refuse(why, why_len, "the Redis URL does not start with redis://");
    const char *auth = url + strlen(SCHEME);
    size_t auth_len = strcspn(auth, "/?#");
    const char *path = auth + auth_len;
    if (strpbrk(path, "?#"))
        return gv_redis_refuse(why, why_len, "the Redis URL has a query or fragment (?, #), which gvoip does not take");

    /* The last '@' ends the user information, so that a password with an
     * unencoded '@' still parses as its author meant. */
    const char *at = NULL;
    for (const char *p = auth; p < path; p++)
        if (*p == '@')
            at = p;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (!colon)
            return gv_redis_refuse(why, why_len, "the Redis URL names a user without a password (redis://USER:PASSWORD@HOST)");
        if (decode(auth, (size_t)(colon - auth), out->user, sizeof out->user) != 0)
            return gv_redis_refuse(why, why_len, "the Redis URL's user is longer than %d bytes or badly percent-encoded",
                          GV_REDIS_URL_USER_MAX);
        if (decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password) != 0)
            return gv_redis_refuse(why, why_len, "the Redis URL's password is longer than %d bytes or badly percent-encoded",
                          GV_REDIS_URL_PASSWORD_MAX);
        out->auth = out->user[0] || out->password[0];
    }
    const char *hostport = at ? at + 1 : auth;
    int rc = parse_host_port(hostport, (size_t)(path - hostport), out, why, why_len);
    if (rc != 0)
        return rc;
    if (*path && path[1]) {
        long db;
        if (parse_number(path + 1, strlen(path + 1), INT_MAX, &db) != 0)
            return gv_redis_refuse(why, why_len, "the Redis URL's database (after /) is not a number 0 or more");
        out->db = (int)db;
    }
    return 0;
}

int gv_redis_url_parse(const char *url, gv_redis_url *out, char *why, size_t why_len)
{
    if (!out)
        return gv_redis_refuse(why, why_len, "no place for the parsed Redis URL");
    memset(out, 0, sizeof *out);
    if (!url)
        return gv_redis_refuse(why, why_len, "no Redis URL");
    int rc = parse(url, out, why, why_len);
    if (rc != 0)
        sodium_memzero(out, sizeof *out);
    return rc;
}
