/* Fleet certificates (docs/protocol.md, "Fleet certificates"):
 * gv_fleetcert_verify and gv_fleetcert_inspect on the input as
 * certificate bytes, gv_fleetcert_from_text on it as a certificate's
 * text.
 * Input: [selector][payload...]. Selector bit 0: re-sign the payload's
 * first 81 bytes with key A (bit 3 clear) or B (set) first, so that the
 * checks behind the signature are reached; bits 1-2: the time; bit 4:
 * verify against the node key the payload names rather than a fixed one.
 * Invariants: a certificate whose signature holds is the one spelling
 * gv_fleetcert_encode makes of its fields (Ed25519 is deterministic), and
 * its verdict is exactly what its node key and times say; one that does
 * not leaves nothing behind and says why; inspection agrees; decoded text
 * is the one spelling of its bytes. */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "gvoip/gvoip.h"
#include "session/gv_fleetcert.h"
#include "fuzz_common.h"
#include "fuzz_text.h"

#define BODY 81

static uint8_t seeds[2][32];
static uint8_t pks[2][32];
static uint8_t sks[2][64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    /* Key A is the test vector's (seed 00..1f); B follows it. */
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 32; i++)
            seeds[k][i] = (uint8_t)(32 * k + i);
        CHECK(crypto_sign_seed_keypair(pks[k], sks[k], seeds[k]) == 0);
    }
    return 0;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void check_bytes(uint8_t selector, const uint8_t *payload, size_t len)
{
    static const uint64_t times[] = {0, 1767225600u, 1798761599u, UINT64_MAX};
    static const uint8_t fixed_node[32] = {0xde, 0x9e, 0xdb, 0x7d};
    uint8_t bytes[GV_FLEETCERT_BYTES + 64];
    if (len > sizeof bytes)
        len = sizeof bytes;
    memcpy(bytes, payload, len);
    if ((selector & 1) && len >= BODY + 64) {
        uint8_t msg[19 + BODY];
        memcpy(msg, "gvoip-fleet-cert-v1", 19);
        memcpy(msg + 19, bytes, BODY);
        crypto_sign_detached(bytes + BODY, NULL, msg, sizeof msg, sks[(selector >> 3) & 1]);
    }
    uint64_t now = times[(selector >> 1) & 3];
    const uint8_t *node = (selector & 0x10) && len >= 65 ? bytes + 33 : fixed_node;

    gv_fleetcert c;
    char why[160];
    memset(&c, 0x5a, sizeof c);
    memset(why, 0x5a, sizeof why);
    gv_fleetcert_verdict v = gv_fleetcert_verify(bytes, len, node, now, &c, why, sizeof why);
    CHECK(v >= GV_FLEETCERT_VALID && v < GV_FLEETCERT_VERDICTS);
    CHECK(memchr(why, '\0', sizeof why) != NULL);
    CHECK((v == GV_FLEETCERT_VALID) == (why[0] == '\0'));

    gv_fleetcert_info info = {.size = sizeof info};
    int rc = gv_fleetcert_inspect(bytes, len, &info, NULL, 0);
    if (v == GV_FLEETCERT_MALFORMED || v == GV_FLEETCERT_BAD_SIGNATURE) {
        static const gv_fleetcert zero;
        CHECK(memcmp(&c, &zero, sizeof zero) == 0);
        CHECK(rc == (v == GV_FLEETCERT_MALFORMED ? GV_EMALFORMED : GV_EAUTH));
        return;
    }
    CHECK(rc == 0 && info.not_before == c.not_before && info.not_after == c.not_after);
    CHECK(len == GV_FLEETCERT_BYTES && c.not_before < c.not_after);
    CHECK(c.not_before == get64(bytes + 65) && c.not_after == get64(bytes + 73));
    int node_ok = memcmp(c.node_pk, node, 32) == 0;
    gv_fleetcert_verdict want = !node_ok                ? GV_FLEETCERT_OTHER_NODE
                                : now < c.not_before    ? GV_FLEETCERT_NOT_YET_VALID
                                : now >= c.not_after    ? GV_FLEETCERT_EXPIRED
                                                        : GV_FLEETCERT_VALID;
    CHECK(v == want);
    /* Only keys A and B sign here: the signature held, so it is one of
     * them, and signing the fields again gives the same bytes. */
    int k = memcmp(c.fleet_pk, pks[0], 32) == 0 ? 0 : 1;
    CHECK(memcmp(c.fleet_pk, pks[k], 32) == 0);
    uint8_t again[GV_FLEETCERT_BYTES];
    CHECK(gv_fleetcert_encode(seeds[k], c.node_pk, c.not_before, c.not_after, again) == GV_FLEETCERT_BYTES);
    CHECK(memcmp(again, bytes, GV_FLEETCERT_BYTES) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    check_bytes(data[0], data + 1, size - 1);
    fuzz_check_text(gv_fleetcert_from_text, GV_FLEETCERT_BYTES + 8, data, size);
    return 0;
}
