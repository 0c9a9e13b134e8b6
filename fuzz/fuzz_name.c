/* Player-name rules: gv_name_check against an independent model built from
 * the Unicode table of well-formed UTF-8 sequences, and gv_name_with_suffix,
 * which must keep a valid name valid and never exceed GV_NAME_MAX.
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
    /* Only the C1 controls (U+0080..U+009F, "c2 80".."c2 9f") matter among
     * the multi-byte ones. */
    *cp = n == 2 && b == 0xc2 ? s[1] : 0xa0;
    return n;
}

static int model_valid(const uint8_t *s, size_t len)
{
    if (len == 0 || len > GV_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = model_sequence(s + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
            return 0;
        i += n;
    }
    return 1;
}

static void check_name(const uint8_t *s, size_t len)
{
    const char *why = "unset";
    int rc = gv_name_check((const char *)s, len, &why);
    if (rc != 0 && rc != GV_ENAME)
        abort();
    if ((rc == 0) != model_valid(s, len))
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
        snprintf(suffix, sizeof suffix, "%u", n);
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
        /* A valid name stays valid, loses no more than the suffix needs
         * (rounded down to a character boundary) and is never emptied. */
        if (gv_name_check(out, out_len, NULL) != 0)
            abort();
        size_t want = name_len + slen <= GV_NAME_MAX ? name_len : GV_NAME_MAX - slen;
        while (want > 0 && ((uint8_t)name[want] & 0xc0) == 0x80)
            want--;
        if (base != want || base == 0)
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
