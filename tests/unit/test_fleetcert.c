/* Fleet certificates: the test vector of docs/protocol.md (computed with
 * OpenSSL by tests/vectors/fleetcert_vector.sh), a table of verdicts at
 * chosen times and keys, every byte tampered with, every truncation,
 * trailing bytes, and the public side (key pair, issuing, text,
 * inspection). Deterministic: keys come from fixed seeds, and the time is
 * an argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "gvoip/error.h"
#include "gvoip/gvoip.h"
#include "session/gv_fleetcert.h"
#include "session/gv_keyfile.h"

/* tests/vectors/fleetcert_vector.sh: the fleet key of seed 00..1f (the
 * access-token vector's), the node key RFC 7748's Bob, valid 2026. */
static const char vector_text[] =
    "AQOhB7_zzhC-HXDdGOdLwJln5NYwm6UNXx3chmQSVTG43p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08AAAAAaVW5AAAAAABrNuyAPB9"
    "IcX65DGhFRfZxT6RQCqZ7jjOVdO0FNHRHOsS8m5ncsvUYnwJklPmOlgk_3KS92vpijEB4-hPmfMuEU2vnBw";
static const char vector_secret[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
static const char vector_fleet_fp[] = "SHA256:Vkdap1RjR0wChd9dvyvKtz2mUTWIOem3dIGy6rEHcIw";
static const uint8_t bob[32] = {0xde, 0x9e, 0xdb, 0x7d, 0x7b, 0x7d, 0xc1, 0xb4, 0xd3, 0x5b, 0x61,
                                0xc2, 0xec, 0xe4, 0x35, 0x37, 0x3f, 0x83, 0x43, 0xc8, 0x5b, 0x78,
                                0x67, 0x4d, 0xad, 0xfc, 0x7e, 0x14, 0x6f, 0x88, 0x2b, 0x4f};
#define NOT_BEFORE 1767225600u /* 2026-01-01 */
#define NOT_AFTER 1798761600u  /* 2027-01-01 */
#define MIDDLE 1782000000u

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

static void seed_of(uint8_t fill, uint8_t seed[32])
{
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(fill + i);
}

static void vector_bytes(uint8_t out[GV_FLEETCERT_BYTES])
{
    assert_int_equal(gv_fleetcert_from_text(vector_text, strlen(vector_text), out, GV_FLEETCERT_BYTES),
                     GV_FLEETCERT_BYTES);
}

/* The bytes of body (81 bytes) signed by the key of seed: for
 * certificates gv_fleetcert_encode refuses to make. */
static void sign_body(const uint8_t seed[32], uint8_t cert[GV_FLEETCERT_BYTES])
{
    uint8_t pk[32], sk[64], msg[19 + 81];
    crypto_sign_seed_keypair(pk, sk, seed);
    memcpy(msg, "gvoip-fleet-cert-v1", 19);
    memcpy(msg + 19, cert, 81);
    crypto_sign_detached(cert + 81, NULL, msg, sizeof msg, sk);
}

static int zeroed(const gv_fleetcert *c)
{
    static const gv_fleetcert zero;
    return memcmp(c, &zero, sizeof zero) == 0;
}

static void test_vector(void **state)
{
    (void)state;
    uint8_t seed[32], made[GV_FLEETCERT_BYTES], pinned[GV_FLEETCERT_BYTES];
    seed_of(0, seed);
    assert_int_equal(gv_fleetcert_encode(seed, bob, NOT_BEFORE, NOT_AFTER, made), GV_FLEETCERT_BYTES);
    vector_bytes(pinned);
    assert_memory_equal(made, pinned, GV_FLEETCERT_BYTES);

    char text[GV_FLEETCERT_TEXT_MAX];
    assert_int_equal(gv_fleetcert_issue(vector_secret, bob, NOT_BEFORE, NOT_AFTER, text, sizeof text),
                     (int)strlen(vector_text));
    assert_string_equal(text, vector_text);
    /* White space around the secret key's text, as a file holds it. */
    assert_int_equal(gv_fleetcert_issue("  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", bob, NOT_BEFORE, NOT_AFTER,
                                        text, sizeof text),
                     (int)strlen(vector_text));

    gv_fleetcert c;
    char why[200];
    assert_int_equal(gv_fleetcert_verify(pinned, sizeof pinned, bob, MIDDLE, &c, why, sizeof why), GV_FLEETCERT_VALID);
    assert_string_equal(why, "");
    assert_memory_equal(c.node_pk, bob, 32);
    assert_int_equal(c.not_before, NOT_BEFORE);
    assert_int_equal(c.not_after, NOT_AFTER);
    char fp[GV_KEYFILE_FINGERPRINT_LEN];
    gv_keyfile_fingerprint(c.fleet_pk, fp);
    assert_string_equal(fp, vector_fleet_fp);

    gv_fleetcert_info info;
    memset(&info, 0x5a, sizeof info);
    info.size = sizeof info;
    assert_int_equal(gv_fleetcert_inspect(pinned, sizeof pinned, &info, why, sizeof why), 0);
    assert_int_equal(info.size, sizeof info);
    assert_string_equal(info.fleet, vector_fleet_fp);
    gv_keyfile_fingerprint(bob, fp);
    assert_string_equal(info.node, fp);
    assert_int_equal(info.not_before, NOT_BEFORE);
    assert_int_equal(info.not_after, NOT_AFTER);
}

/* ---- Verdicts ----------------------------------------------------------- */

enum { FLEET_A = 0, FLEET_B = 100 }; /* seeds */

typedef struct verdict_case {
    const char *name;
    uint8_t signer;        /* the seed of the key that signs */
    uint8_t named;         /* the seed of the fleet key the certificate names */
    uint64_t not_before, not_after;
    int other_node;        /* verified against another node key than its own */
    uint64_t now;
    gv_fleetcert_verdict want;
    const char *want_why;  /* a part of the reason */
} verdict_case;

static const verdict_case verdict_cases[] = {
    {"valid", FLEET_A, FLEET_A, NOT_BEFORE, NOT_AFTER, 0, MIDDLE, GV_FLEETCERT_VALID, ""},
    {"valid from its first second", FLEET_A, FLEET_A, NOT_BEFORE, NOT_AFTER, 0, NOT_BEFORE, GV_FLEETCERT_VALID, ""},
    {"valid to its last second", FLEET_A, FLEET_A, NOT_BEFORE, NOT_AFTER, 0, NOT_AFTER - 1, GV_FLEETCERT_VALID, ""},
    {"another fleet's, valid (the caller judges the fleet key)", FLEET_B, FLEET_B, NOT_BEFORE, NOT_AFTER, 0, MIDDLE,
     GV_FLEETCERT_VALID, ""},
    {"expired at not_after", FLEET_A, FLEET_A, NOT_BEFORE, NOT_AFTER, 0, NOT_AFTER, GV_FLEETCERT_EXPIRED,
     "expired at 2027-01-01T00:00:00Z (the time here is 2027-01-01T00:00:00Z)"},
    {"expired long ago", FLEET_A, FLEET_A, NOT_BEFORE, NOT_AFTER, 0, UINT64_MAX, GV_FLEETCERT_EXPIRED, "expired at"},
    {"not yet valid", FLEET_A, FLEET_A, NOT_BEFORE, NOT_AFTER, 0, NOT_BEFORE - 1, GV_FLEETCERT_NOT_YET_VALID,
     "is not valid before 2026-01-01T00:00:00Z"},
    {"not yet valid at time 0", FLEET_A, FLEET_A, NOT_BEFORE, NOT_AFTER, 0, 0, GV_FLEETCERT_NOT_YET_VALID,
     "not valid before"},
    {"for another node's key", FLEET_A, FLEET_A, NOT_BEFORE, NOT_AFTER, 1, MIDDLE, GV_FLEETCERT_OTHER_NODE,
     "is for the server key SHA256:"},
    {"names fleet A, signed by fleet B", FLEET_B, FLEET_A, NOT_BEFORE, NOT_AFTER, 0, MIDDLE,
     GV_FLEETCERT_BAD_SIGNATURE, "signature does not verify"},
    {"ends when it starts", FLEET_A, FLEET_A, NOT_BEFORE, NOT_BEFORE, 0, NOT_BEFORE, GV_FLEETCERT_MALFORMED,
     "ends before it starts"},
    {"ends before it starts", FLEET_A, FLEET_A, NOT_AFTER, NOT_BEFORE, 0, MIDDLE, GV_FLEETCERT_MALFORMED,
     "ends before it starts"},
    {"the whole range of time", FLEET_A, FLEET_A, 0, UINT64_MAX, 0, UINT64_MAX - 1, GV_FLEETCERT_VALID, ""},
};

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void test_verdicts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof verdict_cases / sizeof verdict_cases[0]; i++) {
        const verdict_case *t = &verdict_cases[i];
        uint8_t signer[32], named[32], named_pk[32], sk[64], cert[GV_FLEETCERT_BYTES], other[32];
        seed_of(t->signer, signer);
        seed_of(t->named, named);
        crypto_sign_seed_keypair(named_pk, sk, named);
        cert[0] = 1;
        memcpy(cert + 1, named_pk, 32);
        memcpy(cert + 33, bob, 32);
        put64(cert + 65, t->not_before);
        put64(cert + 73, t->not_after);
        sign_body(signer, cert);
        memcpy(other, bob, 32);
        other[31] ^= 1;

        gv_fleetcert c;
        char why[200];
        memset(&c, 0x5a, sizeof c);
        gv_fleetcert_verdict v =
            gv_fleetcert_verify(cert, sizeof cert, t->other_node ? other : bob, t->now, &c, why, sizeof why);
        if (v != t->want || !strstr(why, t->want_why) || (t->want == GV_FLEETCERT_VALID) != (why[0] == '\0'))
            fail_msg("%s: verdict %d (\"%s\"), expected %d (\"%s\")", t->name, v, why, t->want, t->want_why);
        if (v == GV_FLEETCERT_MALFORMED || v == GV_FLEETCERT_BAD_SIGNATURE) {
            assert_true(zeroed(&c));
        } else {
            assert_memory_equal(c.fleet_pk, named_pk, 32);
            assert_int_equal(c.not_before, t->not_before);
        }
        /* Without a clock: the form and the signature only. */
        gv_fleetcert_verdict d = gv_fleetcert_decode(cert, sizeof cert, NULL, NULL, 0);
        assert_int_equal(d, v == GV_FLEETCERT_MALFORMED || v == GV_FLEETCERT_BAD_SIGNATURE ? v : GV_FLEETCERT_VALID);
        /* gv_fleetcert_encode makes exactly the certificates that verify. */
        uint8_t again[GV_FLEETCERT_BYTES];
        int n = gv_fleetcert_encode(signer, bob, t->not_before, t->not_after, again);
        if (t->not_before >= t->not_after) {
            assert_int_equal(n, GV_EINVAL);
        } else if (t->signer == t->named) {
            assert_int_equal(n, GV_FLEETCERT_BYTES);
            assert_memory_equal(again, cert, sizeof cert);
        }
    }
}

/* Any one bit of a certificate changed: not valid, and nothing of it
 * believed. */
static void test_tampered(void **state)
{
    (void)state;
    uint8_t good[GV_FLEETCERT_BYTES];
    vector_bytes(good);
    for (size_t i = 0; i < sizeof good; i++)
        for (int bit = 0; bit < 8; bit++) {
            uint8_t bad[GV_FLEETCERT_BYTES];
            memcpy(bad, good, sizeof bad);
            bad[i] ^= (uint8_t)(1u << bit);
            gv_fleetcert c;
            char why[200] = "";
            memset(&c, 0x5a, sizeof c);
            gv_fleetcert_verdict v = gv_fleetcert_verify(bad, sizeof bad, bob, MIDDLE, &c, why, sizeof why);
            /* A changed node key is a genuine signature's no longer: the
             * signature covers it, so it fails before the key compare. */
            if (v != GV_FLEETCERT_MALFORMED && v != GV_FLEETCERT_BAD_SIGNATURE)
                fail_msg("byte %zu bit %d: verdict %d", i, bit, v);
            assert_true(zeroed(&c));
            assert_true(why[0] != '\0');
        }
    /* The version byte and the fleet key's form are read before the
     * signature: their reasons say so. */
    uint8_t bad[GV_FLEETCERT_BYTES];
    char why[200];
    memcpy(bad, good, sizeof bad);
    bad[0] = 2;
    assert_int_equal(gv_fleetcert_decode(bad, sizeof bad, NULL, why, sizeof why), GV_FLEETCERT_MALFORMED);
    assert_string_equal(why, "fleet certificate has version 2, not 1");
    memcpy(bad, good, sizeof bad);
    memset(bad + 1, 0, 32); /* the identity: of small order */
    assert_int_equal(gv_fleetcert_decode(bad, sizeof bad, NULL, why, sizeof why), GV_FLEETCERT_MALFORMED);
    assert_non_null(strstr(why, "not an Ed25519 public key"));
}

/* Strict lengths: every truncation, trailing bytes, nothing at all. */
static void test_lengths(void **state)
{
    (void)state;
    uint8_t buf[GV_FLEETCERT_BYTES + 64];
    memset(buf, 0, sizeof buf);
    vector_bytes(buf);
    char why[200], want[64];
    for (size_t len = 0; len <= sizeof buf; len++) {
        gv_fleetcert c;
        memset(&c, 0x5a, sizeof c);
        gv_fleetcert_verdict v = gv_fleetcert_verify(buf, len, bob, MIDDLE, &c, why, sizeof why);
        if (len == GV_FLEETCERT_BYTES) {
            assert_int_equal(v, GV_FLEETCERT_VALID);
            continue;
        }
        assert_int_equal(v, GV_FLEETCERT_MALFORMED);
        assert_true(zeroed(&c));
        snprintf(want, sizeof want, "fleet certificate is %zu bytes, not 145", len);
        assert_string_equal(why, want);
    }
    assert_int_equal(gv_fleetcert_verify(NULL, GV_FLEETCERT_BYTES, bob, MIDDLE, NULL, why, sizeof why),
                     GV_FLEETCERT_MALFORMED);
    assert_int_equal(gv_fleetcert_verify(buf, GV_FLEETCERT_BYTES, NULL, MIDDLE, NULL, NULL, 0),
                     GV_FLEETCERT_OTHER_NODE);
    /* A reason is cut to its buffer, never overrun. */
    memset(why, 0x5a, sizeof why);
    assert_int_equal(gv_fleetcert_decode(buf, 3, NULL, why, 8), GV_FLEETCERT_MALFORMED);
    assert_string_equal(why, "fleet c");
    assert_int_equal((unsigned char)why[8], 0x5a);
}

/* ---- The public side ----------------------------------------------------- */

static void test_keypair_and_issue(void **state)
{
    (void)state;
    char secret[GV_TOKEN_KEY_BYTES], public_text[GV_TOKEN_KEY_BYTES], fp[GV_FINGERPRINT_BYTES];
    assert_int_equal(gv_fleetcert_keypair(secret, sizeof secret, public_text, sizeof public_text, fp, sizeof fp), 0);
    assert_true(gv_keyfile_fingerprint_valid(fp));
    /* The fingerprint is the public key's. */
    uint8_t pk[32], cert[GV_FLEETCERT_BYTES];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(pk, sizeof pk, public_text, strlen(public_text), NULL, &n, NULL, B64), 0);
    assert_int_equal(n, 32);
    char want[GV_KEYFILE_FINGERPRINT_LEN];
    gv_keyfile_fingerprint(pk, want);
    assert_string_equal(fp, want);

    /* A certificate it issues names it, and verifies. */
    char text[GV_FLEETCERT_TEXT_MAX];
    assert_true(gv_fleetcert_issue(secret, bob, 10, 20, text, sizeof text) > 0);
    assert_int_equal(gv_fleetcert_from_text(text, strlen(text), cert, sizeof cert), GV_FLEETCERT_BYTES);
    gv_fleetcert c;
    assert_int_equal(gv_fleetcert_verify(cert, sizeof cert, bob, 15, &c, NULL, 0), GV_FLEETCERT_VALID);
    assert_memory_equal(c.fleet_pk, pk, 32);

    /* Not a key: the public key, a longer text, another alphabet. */
    assert_int_equal(gv_fleetcert_issue(vector_secret + 1, bob, 10, 20, text, sizeof text), GV_EKEY);
    assert_int_equal(gv_fleetcert_issue("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", bob, 10, 20, text, sizeof text),
                     GV_EKEY);
    assert_int_equal(gv_fleetcert_issue("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AAAA", bob, 10, 20, text,
                                        sizeof text),
                     GV_EKEY);
    assert_int_equal(gv_fleetcert_issue("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+", bob, 10, 20, text, sizeof text),
                     GV_EKEY);
    assert_int_equal(gv_fleetcert_issue(vector_secret, bob, 20, 20, text, sizeof text), GV_EINVAL);
    assert_int_equal(gv_fleetcert_issue(vector_secret, bob, 10, 20, text, GV_FLEETCERT_TEXT_MAX - 3), GV_ETOOBIG);
    assert_string_equal(text, "");

    /* The text: strict base64url, its bytes judged by inspection. */
    assert_int_equal(gv_fleetcert_from_text("AQ=", 3, cert, sizeof cert), GV_EMALFORMED);
    assert_int_equal(gv_fleetcert_from_text(vector_text, strlen(vector_text), cert, 10), GV_ETOOBIG);
    gv_fleetcert_info info = {.size = sizeof info};
    char why[200];
    assert_int_equal(gv_fleetcert_inspect(cert, 10, &info, why, sizeof why), GV_EMALFORMED);
    assert_string_equal(why, "fleet certificate is 10 bytes, not 145");
    vector_bytes(cert);
    cert[100] ^= 1;
    assert_int_equal(gv_fleetcert_inspect(cert, sizeof cert, &info, why, sizeof why), GV_EAUTH);
    assert_non_null(strstr(why, "signature"));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_keypair_and_issue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
