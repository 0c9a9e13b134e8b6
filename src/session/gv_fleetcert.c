#include "session/gv_fleetcert.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "packet/gv_why.h"
#include "session/gv_keyfile.h"
#include "session/gv_token.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define SIG_BYTES crypto_sign_BYTES

/* Offsets (docs/protocol.md, "Fleet certificates"). */
#define OFF_VERSION 0
#define OFF_FLEET 1
#define OFF_NODE 33
#define OFF_NOT_BEFORE 65
#define OFF_NOT_AFTER 73
#define OFF_SIGNATURE 81

/* Signed before the body, so that nothing else the fleet key might ever
 * sign (another format, a later version) verifies as a certificate. */
static const char context[] = "gvoip-fleet-cert-v1";
#define CONTEXT_LEN (sizeof context - 1)

_Static_assert(GV_FLEETCERT_BYTES == OFF_SIGNATURE + SIG_BYTES, "certificate size");
_Static_assert(GV_FLEETCERT_TEXT_MAX >= sodium_base64_ENCODED_LEN(GV_FLEETCERT_BYTES, B64), "certificate text size");
_Static_assert(GV_FINGERPRINT_BYTES >= GV_KEYFILE_FINGERPRINT_LEN, "fingerprint size");

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The context and the body, as they are signed. */
static void signed_message(const uint8_t body[OFF_SIGNATURE], uint8_t msg[CONTEXT_LEN + OFF_SIGNATURE])
{
    memcpy(msg, context, CONTEXT_LEN);
    memcpy(msg + CONTEXT_LEN, body, OFF_SIGNATURE);
}

/* "2030-01-01T00:00:00Z", or the bare number past what gmtime can say. */
static void format_time(uint64_t t, char *out, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t > (uint64_t)253402300799u || (uint64_t)tt != t || !gmtime_r(&tt, &tm) ||
        strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "%" PRIu64 " (Unix time)", t);
}

int gv_fleetcert_encode(const uint8_t seed[32], const uint8_t node_pk[32], uint64_t not_before, uint64_t not_after,
                        uint8_t out[GV_FLEETCERT_BYTES])
{
    if (!seed || !node_pk || !out || not_before >= not_after)
        return GV_EINVAL;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t msg[CONTEXT_LEN + OFF_SIGNATURE];
    crypto_sign_seed_keypair(pk, sk, seed);
    out[OFF_VERSION] = GV_FLEETCERT_VERSION;
    memcpy(out + OFF_FLEET, pk, 32);
    memcpy(out + OFF_NODE, node_pk, 32);
    put64(out + OFF_NOT_BEFORE, not_before);
    put64(out + OFF_NOT_AFTER, not_after);
    signed_message(out, msg);
    crypto_sign_detached(out + OFF_SIGNATURE, NULL, msg, sizeof msg, sk);
    sodium_memzero(sk, sizeof sk);
    return GV_FLEETCERT_BYTES;
}

gv_fleetcert_verdict gv_fleetcert_decode(const uint8_t *bytes, size_t len, gv_fleetcert *out, char *why,
                                         size_t why_len)
{
    gv_why(why, why_len, "%s", "");
    if (out)
        memset(out, 0, sizeof *out);
    if (!bytes || len != GV_FLEETCERT_BYTES) {
        gv_why(why, why_len, "fleet certificate is %zu bytes, not %d", bytes ? len : 0, GV_FLEETCERT_BYTES);
        return GV_FLEETCERT_MALFORMED;
    }
    if (bytes[OFF_VERSION] != GV_FLEETCERT_VERSION) {
        gv_why(why, why_len, "fleet certificate has version %u, not %d", bytes[OFF_VERSION], GV_FLEETCERT_VERSION);
        return GV_FLEETCERT_MALFORMED;
    }
    uint64_t not_before = get64(bytes + OFF_NOT_BEFORE), not_after = get64(bytes + OFF_NOT_AFTER);
    if (not_before >= not_after) {
        gv_why(why, why_len, "fleet certificate ends before it starts (not before %" PRIu64 ", not after %" PRIu64 ")",
               not_before, not_after);
        return GV_FLEETCERT_MALFORMED;
    }
    /* A point outside the group, or of small order, is no signer's key;
     * libsodium's verification refuses those too, but a reason that says
     * so is worth the check. */
    if (crypto_core_ed25519_is_valid_point(bytes + OFF_FLEET) != 1) {
        gv_why(why, why_len, "fleet certificate names a fleet key that is not an Ed25519 public key");
        return GV_FLEETCERT_MALFORMED;
    }
    uint8_t msg[CONTEXT_LEN + OFF_SIGNATURE];
    signed_message(bytes, msg);
    if (crypto_sign_verify_detached(bytes + OFF_SIGNATURE, msg, sizeof msg, bytes + OFF_FLEET) != 0) {
        gv_why(why, why_len, "fleet certificate signature does not verify (forged, or altered since it was signed)");
        return GV_FLEETCERT_BAD_SIGNATURE;
    }
    if (out) {
        memcpy(out->fleet_pk, bytes + OFF_FLEET, 32);
        memcpy(out->node_pk, bytes + OFF_NODE, 32);
        out->not_before = not_before;
        out->not_after = not_after;
    }
    return GV_FLEETCERT_VALID;
}

gv_fleetcert_verdict gv_fleetcert_verify(const uint8_t *bytes, size_t len, const uint8_t node_pk[32],
                                         uint64_t now_s, gv_fleetcert *out, char *why, size_t why_len)
{
    gv_fleetcert c;
    gv_fleetcert_verdict v = gv_fleetcert_decode(bytes, len, &c, why, why_len);
    if (v == GV_FLEETCERT_VALID && (!node_pk || sodium_memcmp(c.node_pk, node_pk, 32) != 0)) {
        char fp[GV_KEYFILE_FINGERPRINT_LEN] = "none";
        if (node_pk)
            gv_keyfile_fingerprint(node_pk, fp);
        char cert_fp[GV_KEYFILE_FINGERPRINT_LEN];
        gv_keyfile_fingerprint(c.node_pk, cert_fp);
        gv_why(why, why_len, "fleet certificate is for the server key %s, not %s", cert_fp, fp);
        v = GV_FLEETCERT_OTHER_NODE;
    } else if (v == GV_FLEETCERT_VALID && (now_s < c.not_before || now_s >= c.not_after)) {
        char at[40], now[40];
        format_time(now_s < c.not_before ? c.not_before : c.not_after, at, sizeof at);
        format_time(now_s, now, sizeof now);
        gv_why(why, why_len, "fleet certificate %s %s (the time here is %s)",
               now_s < c.not_before ? "is not valid before" : "expired at", at, now);
        v = now_s < c.not_before ? GV_FLEETCERT_NOT_YET_VALID : GV_FLEETCERT_EXPIRED;
    }
    if (out) {
        if (v == GV_FLEETCERT_MALFORMED || v == GV_FLEETCERT_BAD_SIGNATURE)
            memset(out, 0, sizeof *out);
        else
            *out = c;
    }
    return v;
}

/* ---- The public side (gvoip.h) ---------------------------------------- */

/* Like gv_token_keypair and gv_token_mint, these start libsodium
 * themselves: whoever issues certificates need not start ENet. */
int gv_fleetcert_keypair(char *secret_text, size_t secret_len, char *public_text, size_t public_len,
                         char *fingerprint, size_t fingerprint_len)
{
    if (!secret_text || !public_text || !fingerprint)
        return GV_EINVAL;
    if (secret_len > 0)
        secret_text[0] = '\0';
    if (public_len > 0)
        public_text[0] = '\0';
    if (fingerprint_len > 0)
        fingerprint[0] = '\0';
    if (fingerprint_len < GV_KEYFILE_FINGERPRINT_LEN)
        return GV_ETOOBIG;
    /* The kind of key, and the text, of a token backend's: the signed
     * contexts keep the two uses apart. */
    int rc = gv_token_keypair(secret_text, secret_len, public_text, public_len);
    if (rc < 0)
        return rc;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    size_t pk_len = 0;
    if (sodium_base642bin(pk, sizeof pk, public_text, strlen(public_text), NULL, &pk_len, NULL, B64) != 0 ||
        pk_len != sizeof pk)
        return GV_EKEY;
    gv_keyfile_fingerprint(pk, fingerprint);
    return 0;
}

int gv_fleetcert_issue(const char *secret_text, const uint8_t node_pk[32], uint64_t not_before, uint64_t not_after,
                       char *out, size_t out_len)
{
    if (!secret_text || !node_pk || !out)
        return GV_EINVAL;
    if (out_len > 0)
        out[0] = '\0';
    if (not_before >= not_after)
        return GV_EINVAL;
    if (sodium_init() < 0)
        return GV_EKEY;
    /* gv_token_from_text's strict decoding (white space around ignored):
     * one spelling per key. A byte more than a seed, to tell a longer text. */
    uint8_t seed[33];
    int n = gv_token_from_text(secret_text, strlen(secret_text), seed, sizeof seed);
    if (n != 32) {
        sodium_memzero(seed, sizeof seed);
        return GV_EKEY;
    }
    uint8_t cert[GV_FLEETCERT_BYTES];
    gv_fleetcert_encode(seed, node_pk, not_before, not_after, cert);
    sodium_memzero(seed, sizeof seed);
    size_t text_len = sodium_base64_ENCODED_LEN(sizeof cert, B64);
    if (out_len < text_len)
        return GV_ETOOBIG;
    /* libsodium zero-fills the whole length it is given: only the text's. */
    sodium_bin2base64(out, text_len, cert, sizeof cert, B64);
    return (int)strlen(out);
}

int gv_fleetcert_from_text(const char *text, size_t len, uint8_t *out, size_t cap)
{
    return gv_token_from_text(text, len, out, cap);
}

int gv_fleetcert_inspect(const uint8_t *cert, size_t len, gv_fleetcert_info *out, char *why, size_t why_len)
{
    gv_why(why, why_len, "%s", "");
    /* Every size published so far: this one. */
    if (!cert || !out || out->size < sizeof *out) {
        gv_why(why, why_len, "invalid arguments");
        return GV_EINVAL;
    }
    if (sodium_init() < 0) {
        gv_why(why, why_len, "libsodium could not start");
        return GV_EKEY;
    }
    gv_fleetcert c;
    gv_fleetcert_verdict v = gv_fleetcert_decode(cert, len, &c, why, why_len);
    if (v != GV_FLEETCERT_VALID)
        return v == GV_FLEETCERT_BAD_SIGNATURE ? GV_EAUTH : GV_EMALFORMED;
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    gv_keyfile_fingerprint(c.fleet_pk, out->fleet);
    gv_keyfile_fingerprint(c.node_pk, out->node);
    out->not_before = c.not_before;
    out->not_after = c.not_after;
    return 0;
}
