/* Player-name rules: gv_name_check and gv_name_check_assigned against an
 * independent model built from the Unicode table of well-formed UTF-8
 * sequences and its lists of format and white-space characters, and
 * gv_name_with_suffix, which must keep a valid name valid (as assigned:
 * "alice#2") and never exceed GV_NAME_MAX.
 * Input: 4 bytes of suffix number (LE), then the name bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"
#include "packet/gv_name.h"
#include "fuzz_common.h"

/* Length of the well-formed sequence at s (Unicode 15, table 3-7), or 0;
 * written from the byte ranges rather than by decoding, so that it does not
 * share gv_name.c's approach. */
static size_t model_sequence(const uint8_t *s, size_t left, uint32_t *cp)
{
    uint8_t b = s[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf;
    if (b <= 0x7f) {
        *cp = b;
        return 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
    } else if (b == 0xe0) {
        n = 3;
        lo = 0xa0;
    } else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) {
        n = 3;
    } else if (b == 0xed) {
        n = 3;
        hi = 0x9f;
    } else if (b == 0xf0) {
        n = 4;
        lo = 0x90;
    } else if (b >= 0xf1 && b <= 0xf3) {
        n = 4;
    } else if (b == 0xf4) {
        n = 4;
        hi = 0x8f;
    } else {
        return 0;
    }
    if (n > left || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    /* The scalar value, for the rules on particular characters. */
    *cp = n == 2 ? b & 0x1fu : n == 3 ? b & 0x0fu : b & 0x07u;
    for (size_t i = 1; i < n; i++)
        *cp = *cp << 6 | (s[i] & 0x3fu);
    return n;
}

/* Unicode's format characters (Cf) and the other invisible fillers the
 * rules name, as listed in the Unicode 15 character database. */
static int model_invisible(uint32_t c)
{
    return c == 0xad || c == 0x34f || c == 0x61c || c == 0x115f || c == 0x1160 || c == 0x17b4 || c == 0x17b5 ||
           (c >= 0x180b && c <= 0x180f) || (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) ||
           (c >= 0x2060 && c <= 0x206f) || c == 0x3164 || (c >= 0xfe00 && c <= 0xfe0f) || c == 0xfeff ||
           c == 0xffa0 || (c >= 0xfff0 && c <= 0xfffb) || (c >= 0x1d173 && c <= 0x1d17a) ||
           (c >= 0xe0000 && c <= 0xe0fff);
}

/* Unicode's White_Space characters that are not controls. */
static int model_white(uint32_t c)
{
    return c == 0x20 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

static int model_valid(const uint8_t *s, size_t len, int assigned)
{
    int visible = 0;
    if (len == 0 || len > GV_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = model_sequence(s + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || model_invisible(cp) ||
            (cp == '#' && !assigned))
            return 0;
        visible |= !model_white(cp);
        i += n;
    }
    return visible;
}

static void check_name(const uint8_t *s, size_t len)
{
    const char *why = "unset";
    int rc = gv_name_check((const char *)s, len, &why);
    if (rc != 0 && rc != GV_ENAME)
        abort();
    if ((rc == 0) != model_valid(s, len, 0))
        abort();
    if ((gv_name_check_assigned((const char *)s, len, NULL) == 0) != model_valid(s, len, 1))
        abort();
    if ((rc == 0) != (why == NULL))
        abort();
    if (gv_name_check((const char *)s, len, NULL) != rc)
        abort();
}

static void check_suffix(const uint8_t *s, size_t len, unsigned n)
{
    /* The function reads a NUL-terminated string; an exact-size copy lets
     * ASan see any read past it. */
    char *name = malloc(len + 1);
    if (name == NULL)
        abort();
    memcpy(name, s, len);
    name[len] = '\0';
    size_t name_len = strlen(name);

    char out[GV_NAME_MAX + 1 + 8];
    memset(out, 0x5a, sizeof out);
    gv_name_with_suffix(name, n, out);
    size_t out_len = strnlen(out, sizeof out);
    if (out_len > GV_NAME_MAX)
        abort();
    for (size_t i = GV_NAME_MAX + 1; i < sizeof out; i++)
        if (out[i] != 0x5a)
            abort();

    char suffix[16] = "";
    if (n >= 2)
        snprintf(suffix, sizeof suffix, "#%u", n);
    size_t slen = strlen(suffix);
    if (out_len < slen || memcmp(out + out_len - slen, suffix, slen) != 0)
        abort();
    size_t base = out_len - slen;
    size_t capped = name_len < GV_NAME_MAX ? name_len : GV_NAME_MAX;
    if (base > capped || memcmp(out, name, base) != 0)
        abort();
    if (n < 2 && base != capped)
        abort();

    if (gv_name_check(name, name_len, NULL) == 0) {
        /* A valid name stays valid as the server assigns it, loses no more
         * than the suffix needs (rounded down to a character boundary) and
         * is never emptied. (Cut short, it may end in white space only when
         * its visible characters come later: the suffix keeps it visible.) */
        if (gv_name_check_assigned(out, out_len, NULL) != 0)
            abort();
        size_t want = name_len + slen <= GV_NAME_MAX ? name_len : GV_NAME_MAX - slen;
        while (want > 0 && ((uint8_t)name[want] & 0xc0) == 0x80)
            want--;
        if (base != want || (base == 0 && n < 2))
            abort();
    }
    free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    unsigned n = (unsigned)data[0] | (unsigned)data[1] << 8 | (unsigned)data[2] << 16 |
                 (unsigned)data[3] << 24;
    check_name(data + 4, size - 4);
    check_suffix(data + 4, size - 4, n);
    return 0;
}
