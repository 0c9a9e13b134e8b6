/* The base64url text form that access tokens and fleet certificates
 * share: whatever a parser takes back from text must be exactly that text
 * again, once the white space around it is trimmed. */
#ifndef GV_FUZZ_TEXT_H
#define GV_FUZZ_TEXT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "fuzz_common.h"

#define FUZZ_TEXT_BYTES_MAX 512

typedef int (*fuzz_from_text_fn)(const char *text, size_t len, uint8_t *out, size_t cap);

static int fuzz_blank(uint8_t ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* from_text may give up to max bytes (at most FUZZ_TEXT_BYTES_MAX). */
static void fuzz_check_text(fuzz_from_text_fn from_text, size_t max, const uint8_t *data, size_t size)
{
    uint8_t out[FUZZ_TEXT_BYTES_MAX];
    CHECK(max <= sizeof out);
    /* A cap that varies with the input, to reach GV_ETOOBIG both ways. */
    size_t cap = size % (max + 1);
    int n = from_text((const char *)data, size, out, cap);
    CHECK(n > 0 || n == GV_EMALFORMED || n == GV_ETOOBIG);
    if (n < 0)
        return;
    CHECK((size_t)n <= cap);
    size_t begin = 0, end = size;
    while (begin < end && fuzz_blank(data[begin]))
        begin++;
    while (end > begin && fuzz_blank(data[end - 1]))
        end--;
    char text[sodium_base64_ENCODED_LEN(FUZZ_TEXT_BYTES_MAX, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(text, sizeof text, out, (size_t)n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    CHECK(strlen(text) == end - begin && memcmp(text, data + begin, end - begin) == 0);
}

#endif
