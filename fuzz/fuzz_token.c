/* Access tokens (docs/protocol.md, "Access tokens"): gv_token_open on the
 * input as token bytes, gv_token_from_text on it as a token's text and
 * gv_token_keys_parse on it as a key list.
 * Input: [selector][payload...]. Selector bit 0: re-sign the payload with
 * key A (bit 3 clear) or B (set) first, so that the checks behind the
 * signature are reached; bits 1-2: the time, from before the vector's
 * expiry to the end of time.
 * Invariants: a token that opens is the one spelling gv_token_sign makes
 * of its fields (same key, same nonce: Ed25519 is deterministic); a token
 * that does not open leaves nothing behind; decoded text is the one
 * spelling of its bytes; parsed keys are the input's keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "session/gv_token.h"
#include "fuzz_common.h"
#include "fuzz_text.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define SIG 64

static uint8_t seeds[2][32];
static uint8_t sks[2][64];
static gv_token_keys keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    /* Key A is the test vector's (seed 00..1f); B follows it. */
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 32; i++)
            seeds[k][i] = (uint8_t)(32 * k + i);
        CHECK(crypto_sign_seed_keypair(keys.pk[k], sks[k], seeds[k]) == 0);
    }
    keys.count = 2;
    return 0;
}

static int zeroed(const gv_token *t)
{
    static const gv_token zero;
    return memcmp(t, &zero, sizeof zero) == 0;
}

static void check_open(uint8_t selector, const uint8_t *payload, size_t len)
{
    static const uint64_t times[] = {0, 1893455999u, 1893456000u, UINT64_MAX};
    uint8_t bytes[GV_TOKEN_BYTES_MAX + 64];
    int signer = (selector >> 3) & 1;
    if (len > sizeof bytes)
        len = sizeof bytes;
    memcpy(bytes, payload, len);
    if ((selector & 1) && len >= SIG) {
        uint8_t msg[14 + sizeof bytes];
        memcpy(msg, "gvoip-token-v1", 14);
        memcpy(msg + 14, bytes, len - SIG);
        crypto_sign_detached(bytes + len - SIG, NULL, msg, 14 + len - SIG, sks[signer]);
    }

    gv_token t;
    memset(&t, 0x5a, sizeof t);
    gv_token_verdict v = gv_token_open(bytes, len, &keys, times[(selector >> 1) & 3], &t);
    CHECK(v >= GV_TOKEN_VALID && v < GV_TOKEN_VERDICTS);
    CHECK(gv_token_verdict_text(v) != NULL);
    if (v != GV_TOKEN_VALID && v != GV_TOKEN_EXPIRED) {
        CHECK(zeroed(&t));
        return;
    }
    CHECK(len >= GV_TOKEN_BYTES_MIN && len <= GV_TOKEN_BYTES_MAX);
    if (t.expires == 0) {
        /* Valid bytes, but no minter makes them: never current. */
        CHECK(v == GV_TOKEN_EXPIRED);
        return;
    }
    /* Which key verified: the one whose id the token carries. */
    uint8_t digest[32];
    int k = 0;
    for (; k < 2; k++) {
        crypto_hash_sha256(digest, keys.pk[k], 32);
        if (memcmp(digest, t.key_id, 4) == 0)
            break;
    }
    CHECK(k < 2);
    gv_token_claims c;
    gv_token_claims_default(&c);
    c.lobby = t.lobby;
    c.name = t.name;
    c.id = t.id;
    c.permissions = t.permissions;
    c.expires = t.expires;
    c.spatial_mode = t.spatial_mode;
    c.max_distance = t.max_distance;
    c.max_players = t.max_players;
    uint8_t again[GV_TOKEN_BYTES_MAX];
    int n = gv_token_sign(&c, seeds[k], t.nonce, again, sizeof again);
    CHECK(n == (int)len && memcmp(again, bytes, len) == 0);
}

static void check_keys(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    gv_token_keys parsed;
    char why[96];
    memset(why, 0x5a, sizeof why);
    int rc = gv_token_keys_parse(text, &parsed, why, sizeof why);
    CHECK(memchr(why, '\0', sizeof why) != NULL);
    if (rc != 0) {
        CHECK(rc == GV_EKEY || rc == GV_ETOOBIG || rc == GV_EINVAL);
        CHECK(why[0] != '\0' && parsed.count == 0);
    } else {
        CHECK(why[0] == '\0' && parsed.count >= 1 && parsed.count <= GV_TOKEN_KEYS_MAX);
        for (int i = 0; i < parsed.count; i++) {
            char key[GV_TOKEN_KEY_BYTES];
            sodium_bin2base64(key, sizeof key, parsed.pk[i], 32, B64);
            CHECK(strstr(text, key) != NULL);
        }
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    check_open(data[0], data + 1, size - 1);
    fuzz_check_text(gv_token_from_text, GV_TOKEN_BYTES_MAX, data, size);
    check_keys(data, size);
    return 0;
}
