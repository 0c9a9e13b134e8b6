/* The server key-file parser: gv_keyfile_load_or_create on an existing file
 * with fuzzed contents and mode, against the format of docs/protocol.md
 * ("Cryptography") section 3. Input: [mode selector][file contents...]; a selector with the
 * top bit set grants its low six bits to group and others, which must be
 * refused whatever the contents. The file lives in a memfd, rewritten for
 * every input, so nothing is ever created. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "session/gv_keyfile.h"
#include "fuzz_common.h"

static const char header[] = "gvoip-server-key 1\n";
#define HEADER_LEN (sizeof header - 1)
#define FILE_LEN (HEADER_LEN + 64 + 1)

static int file_fd = -1;
static char file_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    file_fd = memfd_create("gvoip-fuzz-keyfile", MFD_CLOEXEC);
    CHECK(file_fd >= 0);
    snprintf(file_path, sizeof file_path, "/proc/self/fd/%d", file_fd);
    return 0;
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 1 and the secret key if the contents are exactly the format. Hex digits
 * of either case are accepted, as sodium_hex2bin does. */
static int model_parse(const uint8_t *text, size_t len, uint8_t sk[32])
{
    if (len != FILE_LEN || memcmp(text, header, HEADER_LEN) != 0 || text[FILE_LEN - 1] != '\n')
        return 0;
    for (size_t i = 0; i < 32; i++) {
        int hi = hex_value(text[HEADER_LEN + 2 * i]), lo = hex_value(text[HEADER_LEN + 2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        sk[i] = (uint8_t)(hi << 4 | lo);
    }
    return 1;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    mode_t loose = (data[0] & 0x80) ? (mode_t)(data[0] & 077) : 0;
    /* Small why buffers check that the reason is cut, not overrun. */
    size_t why_len = (data[0] & 0x40) ? 1 + (data[0] & 0x0f) : 256;
    const uint8_t *text = data + 1;
    size_t len = size - 1;

    CHECK(ftruncate(file_fd, 0) == 0);
    CHECK(pwrite(file_fd, text, len, 0) == (ssize_t)len);
    CHECK(fchmod(file_fd, 0600 | loose) == 0);

    uint8_t sk[32], pk[32], want_sk[32], want_pk[32];
    memset(sk, 0xa5, sizeof sk);
    memset(pk, 0xa5, sizeof pk);
    char *why = malloc(why_len);
    CHECK(why != NULL);
    memset(why, 0x5a, why_len);
    int created = -1;
    int rc = gv_keyfile_load_or_create(file_path, sk, pk, &created, why, why_len);

    CHECK(created == 0);
    CHECK(memchr(why, '\0', why_len) != NULL);
    int valid = model_parse(text, len, want_sk);
    if (valid && loose == 0) {
        CHECK(rc == GV_OK && why[0] == '\0');
        CHECK(crypto_scalarmult_base(want_pk, want_sk) == 0);
        CHECK(memcmp(sk, want_sk, 32) == 0 && memcmp(pk, want_pk, 32) == 0);
    } else {
        CHECK(rc == GV_EKEY);
        CHECK(why_len == 1 || why[0] != '\0');
        CHECK(all_zero(sk, sizeof sk) && all_zero(pk, sizeof pk));
    }
    free(why);
    return 0;
}
