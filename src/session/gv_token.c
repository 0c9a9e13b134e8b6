#include "session/gv_token.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "packet/gv_why.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define KEY_TEXT_LEN (GV_TOKEN_KEY_BYTES - 1)
#define SIG_BYTES crypto_sign_BYTES
#define MAX_DISTANCE_MIN 0.1f
#define MAX_DISTANCE_MAX 100000.0f

/* Offsets of the fixed part (docs/protocol.md, "Access tokens"). */
#define OFF_VERSION 0
#define OFF_PERMISSIONS 1
#define OFF_KEY_ID 2
#define OFF_EXPIRES 6
#define OFF_NONCE 14
#define OFF_ID 30
#define OFF_MODE 32
#define OFF_DISTANCE 33
#define OFF_PLAYERS 37
#define OFF_LOBBY 39

#define PERMISSIONS_ALL (GV_TOKEN_LISTEN_ONLY | GV_TOKEN_MODERATOR)

/* Signed before the body, so that a signature made for anything else with
 * the same key (another protocol, a later token version) never verifies as
 * a token. */
static const char context[] = "gvoip-token-v1";
#define CONTEXT_LEN (sizeof context - 1)

_Static_assert(GV_TOKEN_KEY_BYTES == sodium_base64_ENCODED_LEN(32, B64), "key text size");
_Static_assert(GV_TOKEN_TEXT_MAX >= sodium_base64_ENCODED_LEN(GV_TOKEN_BYTES_MAX, B64), "token text size");
_Static_assert(GV_LOBBY_NAME_BYTES == GV_LOBBY_NAME_MAX + 1, "lobby name size");
_Static_assert(GV_TOKEN_FIXED == OFF_LOBBY + 2 + SIG_BYTES, "fixed part");

static int blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static void trim(const char **begin, const char **end)
{
    while (*begin < *end && blank(**begin))
        (*begin)++;
    while (*end > *begin && blank((*end)[-1]))
        (*end)--;
}

/* libsodium 1.0.18 decodes every byte from 0x80 up as '_'; checking the
 * alphabet first keeps one spelling per key and per token. */
static int alphabet_ok(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_'))
            return 0;
    }
    return 1;
}

/* 0 if text is exactly one 32-byte key's base64url (a strict decode: the
 * unused bits of the last character must be zero, so each key has one
 * spelling). */
static int key_decode(const char *text, size_t len, uint8_t key[32])
{
    size_t bin_len = 0;
    if (len != KEY_TEXT_LEN || !alphabet_ok(text, len) ||
        sodium_base642bin(key, 32, text, len, NULL, &bin_len, NULL, B64) != 0 || bin_len != 32) {
        sodium_memzero(key, 32);
        return -1;
    }
    return 0;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

static uint32_t get32(const uint8_t *p)
{
    return get16(p) << 16 | get16(p + 2);
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* NaN compares false both ways: out of range too. */
static int distance_ok(float d)
{
    return d >= MAX_DISTANCE_MIN && d <= MAX_DISTANCE_MAX;
}

static void key_id(const uint8_t pk[32], uint8_t id[GV_TOKEN_KEY_ID])
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, pk, 32);
    memcpy(id, digest, GV_TOKEN_KEY_ID);
}

/* Everything gv_token_mint refuses with GV_EINVAL but a past expiry,
 * which needs a clock. */
static int claims_check(const gv_token_claims *c)
{
    if (c->size != sizeof *c || !c->lobby || !c->name || c->id == 1 || (c->permissions & ~PERMISSIONS_ALL) != 0 ||
        c->expires == 0 || c->spatial_mode < -1 || c->spatial_mode > GV_SPATIAL_MODE_3D ||
        (c->max_distance != 0 && !distance_ok(c->max_distance)) || c->max_players < 0 ||
        c->max_players > GV_MAX_PLAYERS_LIMIT)
        return GV_EINVAL;
    /* strnlen one past the limit: the check then sees "too long" without
     * reading an unterminated string to its end. */
    if (gv_name_check_lobby(c->lobby, strnlen(c->lobby, GV_LOBBY_NAME_MAX + 1), NULL) != 0 ||
        gv_name_check(c->name, strnlen(c->name, GV_NAME_MAX + 1), NULL) != 0)
        return GV_EINVAL;
    return 0;
}

void gv_token_claims_default(gv_token_claims *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    c->size = sizeof *c;
    c->spatial_mode = -1;
}

/* gv_token_keypair and gv_token_mint start libsodium themselves
 * (sodium_init is idempotent and thread-safe), so that a backend that only
 * mints need not call gv_init, which would also start ENet. */
int gv_token_keypair(char *secret_text, size_t secret_len, char *public_text, size_t public_len)
{
    if (!secret_text || !public_text)
        return GV_EINVAL;
    if (secret_len > 0)
        secret_text[0] = '\0';
    if (public_len > 0)
        public_text[0] = '\0';
    if (secret_len < GV_TOKEN_KEY_BYTES || public_len < GV_TOKEN_KEY_BYTES)
        return GV_ETOOBIG;
    if (sodium_init() < 0)
        return GV_EKEY;
    uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    /* The seed, not libsodium's 64-byte secret key: the seed is what
     * other Ed25519 libraries (RFC 8032's "private key") take. */
    /* libsodium zero-fills the whole length it is given: only the text's. */
    sodium_bin2base64(secret_text, GV_TOKEN_KEY_BYTES, seed, sizeof seed, B64);
    sodium_bin2base64(public_text, GV_TOKEN_KEY_BYTES, pk, sizeof pk, B64);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    return 0;
}

int gv_token_sign(const gv_token_claims *c, const uint8_t seed[32], const uint8_t nonce[GV_TOKEN_NONCE], uint8_t *out,
                  size_t cap)
{
    if (!c || !seed || !nonce || !out)
        return GV_EINVAL;
    int rc = claims_check(c);
    if (rc != 0)
        return rc;
    size_t lobby_len = strlen(c->lobby), name_len = strlen(c->name);
    size_t body_len = OFF_LOBBY + 1 + lobby_len + 1 + name_len;
    if (cap < body_len + SIG_BYTES)
        return GV_ETOOBIG;

    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(pk, sk, seed);

    /* The context and the body in one buffer, as they are signed. */
    uint8_t msg[CONTEXT_LEN + GV_TOKEN_BYTES_MAX - SIG_BYTES];
    uint8_t *b = msg + CONTEXT_LEN;
    memcpy(msg, context, CONTEXT_LEN);
    b[OFF_VERSION] = GV_TOKEN_VERSION;
    b[OFF_PERMISSIONS] = (uint8_t)c->permissions;
    key_id(pk, b + OFF_KEY_ID);
    put64(b + OFF_EXPIRES, c->expires);
    memcpy(b + OFF_NONCE, nonce, GV_TOKEN_NONCE);
    put16(b + OFF_ID, c->id);
    b[OFF_MODE] = (uint8_t)(c->spatial_mode + 1);
    uint32_t bits = 0;
    /* -0.0 too is "the server's": one spelling, all zero bits. */
    if (c->max_distance != 0)
        memcpy(&bits, &c->max_distance, sizeof bits);
    put32(b + OFF_DISTANCE, bits);
    put16(b + OFF_PLAYERS, (uint32_t)c->max_players);
    b[OFF_LOBBY] = (uint8_t)lobby_len;
    memcpy(b + OFF_LOBBY + 1, c->lobby, lobby_len);
    b[OFF_LOBBY + 1 + lobby_len] = (uint8_t)name_len;
    memcpy(b + OFF_LOBBY + 2 + lobby_len, c->name, name_len);

    crypto_sign_detached(out + body_len, NULL, msg, CONTEXT_LEN + body_len, sk);
    sodium_memzero(sk, sizeof sk);
    memcpy(out, b, body_len);
    return (int)(body_len + SIG_BYTES);
}

int gv_token_mint(const gv_token_claims *c, const char *secret_text, char *out, size_t out_len)
{
    if (!c || !secret_text || !out)
        return GV_EINVAL;
    if (out_len > 0)
        out[0] = '\0';
    if (sodium_init() < 0)
        return GV_EKEY;
    int rc = claims_check(c);
    if (rc != 0)
        return rc;
    time_t t = time(NULL);
    if (c->expires <= (t > 0 ? (uint64_t)t : 0))
        return GV_EINVAL;

    const char *begin = secret_text, *end = secret_text + strlen(secret_text);
    trim(&begin, &end);
    uint8_t seed[crypto_sign_SEEDBYTES];
    if (key_decode(begin, (size_t)(end - begin), seed) != 0)
        return GV_EKEY;
    uint8_t nonce[GV_TOKEN_NONCE], bytes[GV_TOKEN_BYTES_MAX];
    randombytes_buf(nonce, sizeof nonce);
    int n = gv_token_sign(c, seed, nonce, bytes, sizeof bytes);
    sodium_memzero(seed, sizeof seed);
    if (n < 0)
        return n;
    if (out_len < sodium_base64_ENCODED_LEN((size_t)n, B64))
        return GV_ETOOBIG;
    /* libsodium zero-fills the whole length it is given: only the text's. */
    sodium_bin2base64(out, sodium_base64_ENCODED_LEN((size_t)n, B64), bytes, (size_t)n, B64);
    return (int)strlen(out);
}

int gv_token_keys_parse(const char *text, gv_token_keys *out, char *why, size_t why_len)
{
    gv_why(why, why_len, "%s", "");
    if (!text || !out) {
        gv_why(why, why_len, "invalid arguments");
        return GV_EINVAL;
    }
    memset(out, 0, sizeof *out);
    int rc = 0;
    size_t line = 0;
    for (const char *p = text; *p != '\0';) {
        const char *end = strchr(p, '\n');
        if (!end)
            end = p + strlen(p);
        const char *begin = p;
        p = *end != '\0' ? end + 1 : end;
        line++;
        trim(&begin, &end);
        if (begin == end || *begin == '#')
            continue;
        if (out->count == GV_TOKEN_KEYS_MAX) {
            gv_why(why, why_len, "token keys, line %zu: more than %d keys", line, GV_TOKEN_KEYS_MAX);
            rc = GV_ETOOBIG;
            break;
        }
        uint8_t *pk = out->pk[out->count];
        /* A point outside the group (or of small order) cannot be a
         * signer's key: say so now rather than refuse every token later. */
        if (key_decode(begin, (size_t)(end - begin), pk) != 0 || crypto_core_ed25519_is_valid_point(pk) != 1) {
            gv_why(why, why_len, "token keys, line %zu: not an Ed25519 public key (43 characters of base64url)",
                line);
            rc = GV_EKEY;
            break;
        }
        out->count++;
    }
    if (rc == 0 && out->count == 0) {
        gv_why(why, why_len, "no token keys");
        rc = GV_EINVAL;
    }
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int gv_token_from_text(const char *text, size_t len, uint8_t *out, size_t cap)
{
    if (!text || !out)
        return GV_EINVAL;
    const char *begin = text, *end = text + len;
    trim(&begin, &end);
    size_t n = (size_t)(end - begin);
    /* Four characters carry three bytes; a lone last character carries
     * less than one and is no encoding's output. */
    if (n == 0 || n % 4 == 1 || !alphabet_ok(begin, n))
        return GV_EMALFORMED;
    size_t bytes = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (bytes > cap || bytes > INT_MAX)
        return GV_ETOOBIG;
    size_t bin_len = 0;
    if (sodium_base642bin(out, cap, begin, n, NULL, &bin_len, NULL, B64) != 0 || bin_len != bytes)
        return GV_EMALFORMED;
    return (int)bin_len;
}

/* The fields of a token of len bytes (already within the size bounds) if
 * every byte is in the format, else -1. Checks form only: nothing here
 * is authentic yet. */
static int parse(const uint8_t *b, size_t len, gv_token *t)
{
    size_t lobby_len = b[OFF_LOBBY];
    if (b[OFF_VERSION] != GV_TOKEN_VERSION || (b[OFF_PERMISSIONS] & ~PERMISSIONS_ALL) != 0 || lobby_len == 0 ||
        lobby_len > GV_LOBBY_NAME_MAX || OFF_LOBBY + 2 + lobby_len > len)
        return -1;
    size_t name_at = OFF_LOBBY + 2 + lobby_len;
    size_t name_len = b[name_at - 1];
    if (name_len == 0 || name_len > GV_NAME_MAX || len != GV_TOKEN_FIXED + lobby_len + name_len)
        return -1;

    t->permissions = b[OFF_PERMISSIONS];
    memcpy(t->key_id, b + OFF_KEY_ID, GV_TOKEN_KEY_ID);
    t->expires = get64(b + OFF_EXPIRES);
    memcpy(t->nonce, b + OFF_NONCE, GV_TOKEN_NONCE);
    t->id = (uint16_t)get16(b + OFF_ID);
    t->spatial_mode = (int)b[OFF_MODE] - 1;
    uint32_t bits = get32(b + OFF_DISTANCE);
    memcpy(&t->max_distance, &bits, sizeof bits);
    t->max_players = (int)get16(b + OFF_PLAYERS);
    memcpy(t->lobby, b + OFF_LOBBY + 1, lobby_len);
    t->lobby[lobby_len] = '\0';
    memcpy(t->name, b + name_at, name_len);
    t->name[name_len] = '\0';

    /* bits, not the value: -0.0 is a second spelling of "the server's". */
    if (t->id == 1 || t->spatial_mode > GV_SPATIAL_MODE_3D || (bits != 0 && !distance_ok(t->max_distance)) ||
        t->max_players > GV_MAX_PLAYERS_LIMIT || gv_name_check_lobby(t->lobby, lobby_len, NULL) != 0 ||
        gv_name_check(t->name, name_len, NULL) != 0)
        return -1;
    return 0;
}

gv_token_verdict gv_token_open(const uint8_t *bytes, size_t len, const gv_token_keys *keys, uint64_t now_s,
                               gv_token *out)
{
    gv_token t;
    memset(&t, 0, sizeof t);
    if (out)
        memset(out, 0, sizeof *out);
    if (!bytes || len < GV_TOKEN_BYTES_MIN || len > GV_TOKEN_BYTES_MAX || parse(bytes, len, &t) != 0)
        return GV_TOKEN_MALFORMED;
    if (!keys || keys->count < 0 || keys->count > GV_TOKEN_KEYS_MAX)
        return GV_TOKEN_UNKNOWN_KEY;

    size_t body_len = len - SIG_BYTES;
    uint8_t msg[CONTEXT_LEN + GV_TOKEN_BYTES_MAX - SIG_BYTES];
    memcpy(msg, context, CONTEXT_LEN);
    memcpy(msg + CONTEXT_LEN, bytes, body_len);
    gv_token_verdict v = GV_TOKEN_UNKNOWN_KEY;
    /* Every key with the id is tried: two keys of one set may share the
     * 4 bytes by chance. */
    for (int i = 0; i < keys->count && v != GV_TOKEN_VALID; i++) {
        uint8_t id[GV_TOKEN_KEY_ID];
        key_id(keys->pk[i], id);
        if (memcmp(id, t.key_id, GV_TOKEN_KEY_ID) != 0)
            continue;
        v = crypto_sign_verify_detached(bytes + body_len, msg, CONTEXT_LEN + body_len, keys->pk[i]) == 0
                ? GV_TOKEN_VALID
                : GV_TOKEN_BAD_SIGNATURE;
    }
    if (v != GV_TOKEN_VALID)
        return v;
    if (out)
        *out = t;
    return now_s >= t.expires ? GV_TOKEN_EXPIRED : GV_TOKEN_VALID;
}

gv_token_verdict gv_token_admit(const gv_token_keys *keys, const uint8_t *bytes, size_t len, const char *lobby,
                                size_t lobby_len, int resuming, uint64_t now_s, gv_token *out)
{
    if (len == 0)
        return GV_TOKEN_MISSING;
    gv_token_verdict v = gv_token_open(bytes, len, keys, now_s, out);
    if (v == GV_TOKEN_EXPIRED && resuming)
        v = GV_TOKEN_VALID;
    if (v != GV_TOKEN_VALID)
        return v;
    if (lobby_len && (lobby_len != strlen(out->lobby) || memcmp(lobby, out->lobby, lobby_len) != 0))
        return GV_TOKEN_WRONG_LOBBY;
    return GV_TOKEN_VALID;
}

const char *gv_token_verdict_text(gv_token_verdict v)
{
    switch (v) {
    case GV_TOKEN_VALID:
        return "token valid";
    case GV_TOKEN_MALFORMED:
        return "token malformed";
    case GV_TOKEN_UNKNOWN_KEY:
        return "token signed by an unknown key";
    case GV_TOKEN_BAD_SIGNATURE:
        return "token signature invalid";
    case GV_TOKEN_EXPIRED:
        return "token expired";
    case GV_TOKEN_MISSING:
        return "this server admits players with an access token only (GVOIP_TOKEN or --token-file FILE)";
    case GV_TOKEN_WRONG_LOBBY:
        return "token is for another lobby";
    case GV_TOKEN_IN_USE:
        return "token in use by a connected player";
    case GV_TOKEN_VERDICTS:
        break;
    }
    return "token verdict unknown";
}
