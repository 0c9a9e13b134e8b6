#include "packet/gv_name.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gvoip/error.h"

/* Length of the UTF-8 sequence starting at s[0], or 0 if it is not a valid
 * shortest-form encoding of a scalar value. */
static size_t utf8_sequence(const unsigned char *s, size_t left, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n;
    uint32_t min;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        min = 0x80;
        *cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        min = 0x800;
        *cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        min = 0x10000;
        *cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = *cp << 6 | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return n;
}

/* Characters that show nothing, or reorder what follows (Unicode's
 * format characters, category Cf, and the other invisible separators). */
static int invisible(uint32_t cp)
{
    static const uint32_t ranges[][2] = {
        {0x00ad, 0x00ad},   {0x034f, 0x034f},   {0x061c, 0x061c},   {0x115f, 0x1160}, {0x17b4, 0x17b5},
        {0x180b, 0x180f},   {0x200b, 0x200f},   {0x202a, 0x202e},   {0x2060, 0x206f}, {0x3164, 0x3164},
        {0xfe00, 0xfe0f},   {0xfeff, 0xfeff},   {0xffa0, 0xffa0},   {0xfff0, 0xfffb}, {0x1d173, 0x1d17a},
        {0xe0000, 0xe0fff},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (cp >= ranges[i][0] && cp <= ranges[i][1])
            return 1;
    return 0;
}

static int white(uint32_t cp)
{
    return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* max: the most bytes allowed; assigned: '#' allowed (a server's suffix). */
static int check(const char *name, size_t len, size_t max, int assigned, const char **why)
{
    const char *unused;
    int seen = 0;
    if (!why)
        why = &unused;
    if (!name || len == 0) {
        *why = "name is empty";
        return GV_ENAME;
    }
    if (len > max) {
        *why = max == GV_LOBBY_NAME_MAX ? "name is longer than 64 bytes" : "name is longer than 32 bytes";
        return GV_ENAME;
    }
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_sequence(s + i, len - i, &cp);
        if (n == 0) {
            *why = "name is not valid UTF-8";
            return GV_ENAME;
        }
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            *why = "name contains a control character";
            return GV_ENAME;
        }
        if (invisible(cp)) {
            *why = "name contains an invisible formatting character";
            return GV_ENAME;
        }
        if (cp == '#' && !assigned) {
            *why = "name contains '#' (the server's mark for a duplicate name)";
            return GV_ENAME;
        }
        seen |= !white(cp);
        i += n;
    }
    if (!seen) {
        *why = "name is only white space";
        return GV_ENAME;
    }
    *why = NULL;
    return 0;
}

int gv_name_check(const char *name, size_t len, const char **why)
{
    return check(name, len, GV_NAME_MAX, 0, why);
}

int gv_name_check_assigned(const char *name, size_t len, const char **why)
{
    return check(name, len, GV_NAME_MAX, 1, why);
}

int gv_name_check_lobby(const char *name, size_t len, const char **why)
{
    return check(name, len, GV_LOBBY_NAME_MAX, 1, why);
}

void gv_name_with_suffix(const char *name, unsigned n, char out[GV_NAME_MAX + 1])
{
    char suffix[16];
    int slen = n >= 2 ? snprintf(suffix, sizeof suffix, "#%u", n) : 0;
    size_t base = strnlen(name, GV_NAME_MAX);
    if (base + (size_t)slen > GV_NAME_MAX) {
        base = GV_NAME_MAX - (size_t)slen;
        /* Back up to a character boundary: never split a UTF-8 sequence. */
        while (base > 0 && ((unsigned char)name[base] & 0xc0) == 0x80)
            base--;
    }
    memcpy(out, name, base);
    memcpy(out + base, suffix, (size_t)slen);
    out[base + (size_t)slen] = '\0';
}
