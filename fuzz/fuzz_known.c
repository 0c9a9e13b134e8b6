/* The known-servers file parser: gv_known_check and gv_known_check_fleet
 * on a file with fuzzed contents, against a model of docs/protocol.md
 * ("Cryptography") section 5.
 * Input: [query selector][file contents...]; the selector picks one of a
 * few host:port spellings and fingerprints, and whether stored_out is
 * passed. The file lives in a memfd, rewritten for every input. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "session/gv_keyfile.h"
#include "session/gv_known.h"
#include "fuzz_common.h"

#define FP_LEN (GV_KEYFILE_FINGERPRINT_LEN - 1)

static const char *const hostports[] = {"example.org:7777", "[::1]:7777", "127.0.0.1:1", "a:1"};
#define HOSTPORTS (sizeof hostports / sizeof hostports[0])
#define FINGERPRINTS 3
static char fingerprints[FINGERPRINTS][GV_KEYFILE_FINGERPRINT_LEN];
static int file_fd = -1;
static char file_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    /* Public keys 1, 2, 3 (any 32 bytes hash to a fingerprint). */
    for (int i = 0; i < FINGERPRINTS; i++) {
        uint8_t pk[32] = {(uint8_t)(i + 1)};
        gv_keyfile_fingerprint(pk, fingerprints[i]);
        CHECK(gv_keyfile_fingerprint_valid(fingerprints[i]));
    }
    file_fd = memfd_create("gvoip-fuzz-known", MFD_CLOEXEC);
    CHECK(file_fd >= 0);
    snprintf(file_path, sizeof file_path, "/proc/self/fd/%d", file_fd);
    return 0;
}

static int is_blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A server's entry line holds exactly two blank-separated fields, the
 * first not starting with '#', the second a valid fingerprint; a fleet's
 * (fleet 1) exactly three, the first "@fleet". A NUL ends the line's text,
 * as it does for gv_known.c's C-string parser, so "host fp\0junk" counts
 * as an entry rather than as a malformed line. Returns 1 and the host's
 * and the fingerprint's bounds for an entry of that kind. */
static int model_entry(const uint8_t *line, size_t len, int fleet, size_t field[2][2])
{
    const uint8_t *nul = memchr(line, '\0', len);
    if (nul != NULL)
        len = (size_t)(nul - line);
    size_t all[3][2], nfields = 0;
    for (size_t i = 0; i < len;) {
        if (is_blank(line[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && !is_blank(line[i]))
            i++;
        if (nfields == 3)
            return 0;
        all[nfields][0] = start;
        all[nfields][1] = i - start;
        nfields++;
    }
    if (fleet ? nfields != 3 || all[0][1] != 6 || memcmp(line + all[0][0], "@fleet", 6) != 0
              : nfields != 2 || line[all[0][0]] == '#')
        return 0;
    memcpy(field, all[nfields - 2], sizeof all[0]);
    memcpy(field[1], all[nfields - 1], sizeof all[0]);
    if (field[1][1] != FP_LEN)
        return 0;
    char fp[GV_KEYFILE_FINGERPRINT_LEN];
    memcpy(fp, line + field[1][0], FP_LEN);
    fp[FP_LEN] = '\0';
    return gv_keyfile_fingerprint_valid(fp);
}

/* 0 (match), 1 (unknown) or GV_EKEY with the first other fingerprint,
 * among the entries of one kind (fleet 1: fleets'). */
static int model_check(const uint8_t *file, size_t size, int fleet, const char *hostport, const char *fp,
                       char stored[GV_KEYFILE_FINGERPRINT_LEN])
{
    int rc = 1;
    size_t hp_len = strlen(hostport);
    for (size_t at = 0; at < size;) {
        const uint8_t *nl = memchr(file + at, '\n', size - at);
        size_t len = nl != NULL ? (size_t)(nl - (file + at)) + 1 : size - at;
        const uint8_t *line = file + at;
        size_t field[2][2];
        at += len;
        if (!model_entry(line, len, fleet, field) || field[0][1] != hp_len ||
            memcmp(line + field[0][0], hostport, hp_len) != 0)
            continue;
        if (memcmp(line + field[1][0], fp, FP_LEN) == 0)
            return 0;
        if (rc == 1) {
            memcpy(stored, line + field[1][0], FP_LEN);
            stored[FP_LEN] = '\0';
            rc = GV_EKEY;
        }
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *hostport = hostports[data[0] % HOSTPORTS];
    const char *fp = fingerprints[(data[0] / HOSTPORTS) % FINGERPRINTS];
    int want_stored = !(data[0] & 0x80);
    const uint8_t *file = data + 1;
    size_t file_len = size - 1;

    CHECK(ftruncate(file_fd, 0) == 0);
    CHECK(pwrite(file_fd, file, file_len, 0) == (ssize_t)file_len);

    /* The same file looked up for a server's key, then for a fleet's. */
    for (int fleet = 0; fleet < 2; fleet++) {
        char *stored = malloc(GV_KEYFILE_FINGERPRINT_LEN);
        char model_stored[GV_KEYFILE_FINGERPRINT_LEN] = "";
        CHECK(stored != NULL);
        memset(stored, 0x5a, GV_KEYFILE_FINGERPRINT_LEN);
        int rc = (fleet ? gv_known_check_fleet : gv_known_check)(file_path, hostport, fp, want_stored ? stored : NULL,
                                                                  want_stored ? GV_KEYFILE_FINGERPRINT_LEN : 0);
        int want = model_check(file, file_len, fleet, hostport, fp, model_stored);
        CHECK(rc == want);
        if (rc == GV_EKEY && want_stored) {
            CHECK(memcmp(stored, model_stored, GV_KEYFILE_FINGERPRINT_LEN) == 0);
            CHECK(gv_keyfile_fingerprint_valid(stored));
            CHECK(!gv_keyfile_fingerprint_equal(stored, fp));
        }
        free(stored);
    }
    return 0;
}
