/* Access tokens: the test vector of docs/protocol.md (computed with OpenSSL
 * by tests/vectors/token_vector.sh), minting and opening every field,
 * claims validation, expiry, forgeries, malformed bytes, key rotation and
 * the text parsers. Deterministic: keys come from fixed seeds, and
 * gv_token_open takes the time as an argument. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "gvoip/error.h"
#include "gvoip/gvoip.h"
#include "session/gv_token.h"

/* tests/vectors/token_vector.sh: seed 00..1f, nonce a0..af. */
static const char vector_text[] =
    "AQJWR1qnAAAAAHDb2ICgoaKjpKWmp6ipqqusra6vAAcDQiAAAAAICG1hdGNoIzQyBWFsaWNlWliVEYaDxdrPr9OWIhv-3YE_N9SFT4xLoV2bQdS"
    "mbumeV3_z3iD1QZrGfdmQBwL5V7H-8nY5GQoRAjxNot8dAQ";
static const char vector_public[] = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg";
#define VECTOR_EXPIRES 1893456000u
#define FAR_FUTURE 4102444800u /* 2100-01-01 */

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* ---- helpers ---------------------------------------------------------- */

typedef struct test_key {
    uint8_t seed[32], pk[32];
    char secret[GV_TOKEN_KEY_BYTES], public[GV_TOKEN_KEY_BYTES];
} test_key;

/* The key of seed fill, fill+1, ... (fill 0: the vector's key). */
static void key_make(uint8_t fill, test_key *k)
{
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    for (int i = 0; i < 32; i++)
        k->seed[i] = (uint8_t)(fill + i);
    crypto_sign_seed_keypair(k->pk, sk, k->seed);
    sodium_bin2base64(k->secret, sizeof k->secret, k->seed, 32, B64);
    sodium_bin2base64(k->public, sizeof k->public, k->pk, 32, B64);
}

static void keys_of(const test_key *k, gv_token_keys *keys)
{
    char why[128];
    assert_int_equal(gv_token_keys_parse(k->public, keys, why, sizeof why), 0);
    assert_int_equal(keys->count, 1);
}

static void vector_claims(gv_token_claims *c)
{
    gv_token_claims_default(c);
    c->lobby = "match#42";
    c->name = "alice";
    c->id = 7;
    c->permissions = GV_TOKEN_MODERATOR;
    c->expires = VECTOR_EXPIRES;
    c->spatial_mode = GV_SPATIAL_MODE_3D;
    c->max_distance = 40.0f;
    c->max_players = 8;
}

static void plain_claims(gv_token_claims *c)
{
    gv_token_claims_default(c);
    c->lobby = "lobby";
    c->name = "bob";
    c->expires = FAR_FUTURE;
}

static const uint8_t nonce_a0[GV_TOKEN_NONCE] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                                 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};

static int sign(const gv_token_claims *c, const test_key *k, uint8_t out[GV_TOKEN_BYTES_MAX])
{
    int n = gv_token_sign(c, k->seed, nonce_a0, out, GV_TOKEN_BYTES_MAX);
    assert_true(n >= GV_TOKEN_BYTES_MIN);
    return n;
}

/* Re-signs bytes[0 .. len-65] in place, as a correct minter would: what
 * the server then refuses, it refuses for the fields, not the signature. */
static void resign(uint8_t *bytes, size_t len, const test_key *k)
{
    uint8_t msg[14 + GV_TOKEN_BYTES_MAX + 64], pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, k->seed);
    memcpy(msg, "gvoip-token-v1", 14);
    memcpy(msg + 14, bytes, len - 64);
    crypto_sign_detached(bytes + len - 64, NULL, msg, 14 + len - 64, sk);
}

static void check_fields(const gv_token *t, const gv_token_claims *c)
{
    assert_int_equal(t->permissions, c->permissions);
    assert_true(t->expires == c->expires);
    assert_int_equal(t->id, c->id);
    assert_int_equal(t->spatial_mode, c->spatial_mode);
    assert_true(t->max_distance == c->max_distance);
    assert_int_equal(t->max_players, c->max_players);
    assert_string_equal(t->lobby, c->lobby);
    assert_string_equal(t->name, c->name);
}

/* ---- the vector ------------------------------------------------------- */

static void test_vector(void **state)
{
    (void)state;
    test_key k;
    key_make(0, &k);
    assert_string_equal(k.public, vector_public);

    gv_token_claims c;
    vector_claims(&c);
    uint8_t bytes[GV_TOKEN_BYTES_MAX];
    int n = sign(&c, &k, bytes);
    assert_int_equal(n, 105 + 8 + 5);
    char text[GV_TOKEN_TEXT_MAX];
    sodium_bin2base64(text, sizeof text, bytes, (size_t)n, B64);
    assert_string_equal(text, vector_text);

    uint8_t decoded[GV_TOKEN_BYTES_MAX];
    assert_int_equal(gv_token_from_text(vector_text, strlen(vector_text), decoded, sizeof decoded), n);
    assert_memory_equal(decoded, bytes, (size_t)n);

    gv_token_keys keys;
    assert_int_equal(gv_token_keys_parse(vector_public, &keys, NULL, 0), 0);
    gv_token t;
    assert_int_equal(gv_token_open(decoded, (size_t)n, &keys, VECTOR_EXPIRES - 1, &t), GV_TOKEN_VALID);
    check_fields(&t, &c);
    assert_memory_equal(t.nonce, nonce_a0, GV_TOKEN_NONCE);
    static const uint8_t id[4] = {0x56, 0x47, 0x5a, 0xa7}; /* SHA-256 of the public key */
    assert_memory_equal(t.key_id, id, 4);
}

/* ---- minting and opening ---------------------------------------------- */

static void test_claims_default(void **state)
{
    (void)state;
    gv_token_claims c;
    memset(&c, 0x5a, sizeof c);
    gv_token_claims_default(&c);
    assert_int_equal(c.size, sizeof c);
    assert_null(c.lobby);
    assert_null(c.name);
    assert_int_equal(c.id, 0);
    assert_int_equal(c.permissions, 0);
    assert_true(c.expires == 0);
    assert_int_equal(c.spatial_mode, -1);
    assert_true(c.max_distance == 0);
    assert_int_equal(c.max_players, 0);
    gv_token_claims_default(NULL);
}

static void test_round_trip(void **state)
{
    (void)state;
    char secret[GV_TOKEN_KEY_BYTES], public[GV_TOKEN_KEY_BYTES];
    assert_int_equal(gv_token_keypair(secret, sizeof secret, public, sizeof public), 0);
    assert_int_equal(strlen(secret), 43);
    assert_int_equal(strlen(public), 43);
    gv_token_keys keys;
    assert_int_equal(gv_token_keys_parse(public, &keys, NULL, 0), 0);

    static const char lobby64[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    static const char name32[] = "0123456789abcdef0123456789abcdef";
    struct {
        const char *lobby, *name;
        uint16_t id;
        unsigned permissions;
        int mode;
        float distance;
        int players;
    } cases[] = {
        {"a", "b", 0, 0, -1, 0, 0},
        {lobby64, name32, 65535, GV_TOKEN_LISTEN_ONLY | GV_TOKEN_MODERATOR, GV_SPATIAL_MODE_OFF, 100000.0f,
         GV_MAX_PLAYERS_LIMIT},
        {"match#1234", "Zoë", 2, GV_TOKEN_LISTEN_ONLY, GV_SPATIAL_MODE_2D, 0.1f, 1},
        {"ロビー", "名前", 300, GV_TOKEN_MODERATOR, GV_SPATIAL_MODE_3D, 12.5f, 32},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gv_token_claims c;
        gv_token_claims_default(&c);
        c.lobby = cases[i].lobby;
        c.name = cases[i].name;
        c.id = cases[i].id;
        c.permissions = cases[i].permissions;
        c.expires = FAR_FUTURE + i;
        c.spatial_mode = cases[i].mode;
        c.max_distance = cases[i].distance;
        c.max_players = cases[i].players;

        char text[GV_TOKEN_TEXT_MAX], again[GV_TOKEN_TEXT_MAX];
        int len = gv_token_mint(&c, secret, text, sizeof text);
        size_t bytes_len = 105 + strlen(c.lobby) + strlen(c.name);
        assert_int_equal(len, (bytes_len * 4 + 2) / 3);
        assert_int_equal(strlen(text), len);
        /* The nonce makes each token unique. */
        assert_int_equal(gv_token_mint(&c, secret, again, sizeof again), len);
        assert_string_not_equal(text, again);

        uint8_t bytes[GV_TOKEN_BYTES_MAX];
        assert_int_equal(gv_token_from_text(text, (size_t)len, bytes, sizeof bytes), bytes_len);
        gv_token t;
        assert_int_equal(gv_token_open(bytes, bytes_len, &keys, 0, &t), GV_TOKEN_VALID);
        check_fields(&t, &c);
    }

    /* The longest token's text fits GV_TOKEN_TEXT_MAX with room to spare. */
    assert_true(sodium_base64_ENCODED_LEN(GV_TOKEN_BYTES_MAX, B64) <= GV_TOKEN_TEXT_MAX);
    assert_int_equal(GV_TOKEN_BYTES_MAX, 201);
}

static void test_claims_invalid(void **state)
{
    (void)state;
    test_key k;
    key_make(0x40, &k);
    char out[GV_TOKEN_TEXT_MAX];
    uint8_t bytes[GV_TOKEN_BYTES_MAX];
    gv_token_claims c;

    enum { SIZE_SMALL, SIZE_BIG, SIZE_ZERO, NO_LOBBY, NO_NAME, EMPTY_LOBBY, EMPTY_NAME, LONG_LOBBY, LONG_NAME,
           NAME_HASH, NAME_CONTROL, NAME_BAD_UTF8, NAME_BLANK, LOBBY_INVISIBLE, ID_1, PERMISSION_4, PERMISSION_HIGH,
           EXPIRES_0, MODE_LOW, MODE_HIGH, DISTANCE_SMALL, DISTANCE_BIG, DISTANCE_NEGATIVE, DISTANCE_NAN,
           DISTANCE_INF, PLAYERS_NEGATIVE, PLAYERS_BIG, CASES };
    for (int i = 0; i < CASES; i++) {
        plain_claims(&c);
        switch (i) {
        case SIZE_SMALL: c.size = sizeof c - 1; break;
        case SIZE_BIG: c.size = sizeof c + 8; break;
        case SIZE_ZERO: c.size = 0; break;
        case NO_LOBBY: c.lobby = NULL; break;
        case NO_NAME: c.name = NULL; break;
        case EMPTY_LOBBY: c.lobby = ""; break;
        case EMPTY_NAME: c.name = ""; break;
        case LONG_LOBBY: c.lobby = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefX"; break;
        case LONG_NAME: c.name = "0123456789abcdef0123456789abcdefX"; break;
        case NAME_HASH: c.name = "bob#2"; break;
        case NAME_CONTROL: c.name = "bo\tb"; break;
        case NAME_BAD_UTF8: c.name = "bo\xc3"; break;
        case NAME_BLANK: c.name = "   "; break;
        case LOBBY_INVISIBLE: c.lobby = "lob\xe2\x80\x8b" "by"; break; /* U+200B */
        case ID_1: c.id = 1; break;
        case PERMISSION_4: c.permissions = 0x04; break;
        case PERMISSION_HIGH: c.permissions = 0x80000000u | GV_TOKEN_MODERATOR; break;
        case EXPIRES_0: c.expires = 0; break;
        case MODE_LOW: c.spatial_mode = -2; break;
        case MODE_HIGH: c.spatial_mode = GV_SPATIAL_MODE_3D + 1; break;
        case DISTANCE_SMALL: c.max_distance = 0.09f; break;
        case DISTANCE_BIG: c.max_distance = 100001.0f; break;
        case DISTANCE_NEGATIVE: c.max_distance = -5.0f; break;
        case DISTANCE_NAN: c.max_distance = NAN; break;
        case DISTANCE_INF: c.max_distance = INFINITY; break;
        case PLAYERS_NEGATIVE: c.max_players = -1; break;
        case PLAYERS_BIG: c.max_players = GV_MAX_PLAYERS_LIMIT + 1; break;
        }
        assert_int_equal(gv_token_mint(&c, k.secret, out, sizeof out), GV_EINVAL);
        assert_string_equal(out, "");
        assert_int_equal(gv_token_sign(&c, k.seed, nonce_a0, bytes, sizeof bytes), GV_EINVAL);
    }

    /* Minting needs a future expiry; the deterministic signer takes any. */
    plain_claims(&c);
    c.expires = 1;
    assert_int_equal(gv_token_mint(&c, k.secret, out, sizeof out), GV_EINVAL);
    c.expires = (uint64_t)time(NULL);
    assert_int_equal(gv_token_mint(&c, k.secret, out, sizeof out), GV_EINVAL);
    c.expires = 1;
    assert_true(gv_token_sign(&c, k.seed, nonce_a0, bytes, sizeof bytes) > 0);
    /* -0.0 is "the server's", as 0 is. */
    plain_claims(&c);
    c.max_distance = -0.0f;
    int n = gv_token_sign(&c, k.seed, nonce_a0, bytes, sizeof bytes);
    assert_true(n > 0);
    assert_memory_equal(bytes + 33, "\0\0\0\0", 4);

    /* NULL arguments. */
    plain_claims(&c);
    assert_int_equal(gv_token_mint(NULL, k.secret, out, sizeof out), GV_EINVAL);
    assert_int_equal(gv_token_mint(&c, NULL, out, sizeof out), GV_EINVAL);
    assert_int_equal(gv_token_mint(&c, k.secret, NULL, sizeof out), GV_EINVAL);
    assert_int_equal(gv_token_sign(NULL, k.seed, nonce_a0, bytes, sizeof bytes), GV_EINVAL);
    assert_int_equal(gv_token_sign(&c, NULL, nonce_a0, bytes, sizeof bytes), GV_EINVAL);
    assert_int_equal(gv_token_sign(&c, k.seed, NULL, bytes, sizeof bytes), GV_EINVAL);
    assert_int_equal(gv_token_sign(&c, k.seed, nonce_a0, NULL, sizeof bytes), GV_EINVAL);
}

static void test_mint_key_and_buffers(void **state)
{
    (void)state;
    test_key k;
    key_make(0x40, &k);
    gv_token_claims c;
    plain_claims(&c);
    char out[GV_TOKEN_TEXT_MAX];

    /* Not a key: too short, too long, another alphabet, padding, a blank
     * inside, non-zero unused bits in the last character. */
    char bad[6][GV_TOKEN_KEY_BYTES + 48];
    snprintf(bad[0], sizeof bad[0], "%.42s", k.secret);
    snprintf(bad[1], sizeof bad[1], "%sA", k.secret);
    snprintf(bad[2], sizeof bad[2], "%.42s+", k.secret);
    snprintf(bad[3], sizeof bad[3], "%.42s=", k.secret);
    snprintf(bad[4], sizeof bad[4], "%.20s %s", k.secret, k.secret + 21);
    snprintf(bad[5], sizeof bad[5], "%.42s%c", k.secret, k.secret[42] == 'B' ? 'C' : 'B');
    for (int i = 0; i < 6; i++)
        assert_int_equal(gv_token_mint(&c, bad[i], out, sizeof out), GV_EKEY);
    snprintf(bad[0], sizeof bad[0], "%s", k.secret);
    bad[0][5] = (char)0xff; /* libsodium alone would take it for '_' */
    assert_int_equal(gv_token_mint(&c, bad[0], out, sizeof out), GV_EKEY);
    assert_int_equal(gv_token_mint(&c, "", out, sizeof out), GV_EKEY);

    /* White space around the key (a file's final newline) is ignored. */
    char padded[64];
    snprintf(padded, sizeof padded, " \t%s\r\n", k.secret);
    int len = gv_token_mint(&c, padded, out, sizeof out);
    assert_int_equal(len, ((105 + 5 + 3) * 4 + 2) / 3);

    /* The buffer: the text and its NUL exactly, or GV_ETOOBIG. */
    assert_int_equal(gv_token_mint(&c, k.secret, out, (size_t)len + 1), len);
    assert_int_equal(gv_token_mint(&c, k.secret, out, (size_t)len), GV_ETOOBIG);
    assert_string_equal(out, "");
    assert_int_equal(gv_token_mint(&c, k.secret, out, 0), GV_ETOOBIG);
    uint8_t bytes[GV_TOKEN_BYTES_MAX];
    assert_int_equal(gv_token_sign(&c, k.seed, nonce_a0, bytes, 105 + 5 + 3 - 1), GV_ETOOBIG);
    assert_int_equal(gv_token_sign(&c, k.seed, nonce_a0, bytes, 105 + 5 + 3), 105 + 5 + 3);

    /* The key pair's buffers. */
    char s[GV_TOKEN_KEY_BYTES], p[GV_TOKEN_KEY_BYTES];
    assert_int_equal(gv_token_keypair(NULL, sizeof s, p, sizeof p), GV_EINVAL);
    assert_int_equal(gv_token_keypair(s, sizeof s, NULL, sizeof p), GV_EINVAL);
    assert_int_equal(gv_token_keypair(s, sizeof s - 1, p, sizeof p), GV_ETOOBIG);
    assert_int_equal(gv_token_keypair(s, sizeof s, p, sizeof p - 1), GV_ETOOBIG);
    assert_string_equal(s, "");
    assert_int_equal(gv_token_keypair(s, sizeof s, p, sizeof p), 0);
    /* The secret text is the seed: it gives the public text. */
    uint8_t seed[32], pk[32], sk[64];
    size_t bin_len = 0;
    assert_int_equal(sodium_base642bin(seed, 32, s, 43, NULL, &bin_len, NULL, B64), 0);
    assert_int_equal(bin_len, 32);
    crypto_sign_seed_keypair(pk, sk, seed);
    char derived[GV_TOKEN_KEY_BYTES];
    sodium_bin2base64(derived, sizeof derived, pk, 32, B64);
    assert_string_equal(derived, p);
}

static void test_expiry_boundary(void **state)
{
    (void)state;
    test_key k;
    key_make(0, &k);
    gv_token_keys keys;
    keys_of(&k, &keys);
    gv_token_claims c;
    vector_claims(&c);
    uint8_t bytes[GV_TOKEN_BYTES_MAX];
    int n = sign(&c, &k, bytes);

    static const struct {
        uint64_t now;
        gv_token_verdict want;
    } table[] = {
        {0, GV_TOKEN_VALID},
        {VECTOR_EXPIRES - 3600, GV_TOKEN_VALID},
        {VECTOR_EXPIRES - 1, GV_TOKEN_VALID},
        {VECTOR_EXPIRES, GV_TOKEN_EXPIRED},
        {VECTOR_EXPIRES + 1, GV_TOKEN_EXPIRED},
        {UINT64_MAX, GV_TOKEN_EXPIRED},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        gv_token t;
        assert_int_equal(gv_token_open(bytes, (size_t)n, &keys, table[i].now, &t), table[i].want);
        /* An expired token is still authentic: its fields are given. */
        check_fields(&t, &c);
    }

    /* The largest expiry never expires. */
    c.expires = UINT64_MAX;
    n = sign(&c, &k, bytes);
    assert_int_equal(gv_token_open(bytes, (size_t)n, &keys, UINT64_MAX - 1, NULL), GV_TOKEN_VALID);
    assert_int_equal(gv_token_open(bytes, (size_t)n, &keys, UINT64_MAX, NULL), GV_TOKEN_EXPIRED);
}

/* ---- refusals --------------------------------------------------------- */

static int zeroed(const gv_token *t)
{
    static const gv_token zero;
    return memcmp(t, &zero, sizeof zero) == 0;
}

static void test_forgery(void **state)
{
    (void)state;
    test_key k;
    key_make(0, &k);
    gv_token_keys keys;
    keys_of(&k, &keys);
    gv_token_claims c;
    vector_claims(&c);
    uint8_t bytes[GV_TOKEN_BYTES_MAX];
    size_t n = (size_t)sign(&c, &k, bytes);

    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            uint8_t forged[GV_TOKEN_BYTES_MAX];
            memcpy(forged, bytes, n);
            forged[i] ^= flips[f];
            gv_token t;
            memset(&t, 0x5a, sizeof t);
            gv_token_verdict v = gv_token_open(forged, n, &keys, 0, &t);
            assert_true(v == GV_TOKEN_MALFORMED || v == GV_TOKEN_UNKNOWN_KEY || v == GV_TOKEN_BAD_SIGNATURE);
            assert_true(zeroed(&t));
            /* Which refusal: the key id names no key; a field that stays
             * in the format only breaks the signature. */
            if (i >= 2 && i < 6)
                assert_int_equal(v, GV_TOKEN_UNKNOWN_KEY);
            if ((i >= 6 && i < 30) || i >= n - 64)
                assert_int_equal(v, GV_TOKEN_BAD_SIGNATURE);
        }
    }
}

static void test_truncated_and_trailing(void **state)
{
    (void)state;
    test_key k;
    key_make(0, &k);
    gv_token_keys keys;
    keys_of(&k, &keys);
    gv_token_claims c;
    vector_claims(&c);
    uint8_t bytes[GV_TOKEN_BYTES_MAX + 1];
    size_t n = (size_t)sign(&c, &k, bytes);

    for (size_t len = 0; len < n; len++)
        assert_int_equal(gv_token_open(bytes, len, &keys, 0, NULL), GV_TOKEN_MALFORMED);
    bytes[n] = 0;
    assert_int_equal(gv_token_open(bytes, n + 1, &keys, 0, NULL), GV_TOKEN_MALFORMED);
    assert_int_equal(gv_token_open(NULL, n, &keys, 0, NULL), GV_TOKEN_MALFORMED);
    assert_int_equal(gv_token_open(bytes, n, &keys, 0, NULL), GV_TOKEN_VALID);

    /* The longest possible token plus one byte. */
    static uint8_t big[GV_TOKEN_BYTES_MAX + 1];
    assert_int_equal(gv_token_open(big, sizeof big, &keys, 0, NULL), GV_TOKEN_MALFORMED);
}

/* Tokens that a correct signature covers but the format refuses. */
static void test_malformed_fields(void **state)
{
    (void)state;
    test_key k;
    key_make(0, &k);
    gv_token_keys keys;
    keys_of(&k, &keys);
    gv_token_claims c;
    vector_claims(&c); /* lobby "match#42" at 40..47, name "alice" at 49..53 */
    uint8_t good[GV_TOKEN_BYTES_MAX];
    size_t n = (size_t)sign(&c, &k, good);

    static const struct {
        const char *what;
        size_t at;
        int len; /* bytes of value, big-endian */
        uint32_t value;
    } cases[] = {
        {"version 0", 0, 1, 0x00},
        {"version 2", 0, 1, 0x02},
        {"permission bit 2", 1, 1, 0x04},
        {"permission bit 7", 1, 1, 0x82},
        {"id 1", 30, 2, 1},
        {"spatial mode 4", 32, 1, 4},
        {"spatial mode 255", 32, 1, 255},
        {"distance -0.0", 33, 4, 0x80000000u},
        {"distance 0.09", 33, 4, 0x3db851ecu},
        {"distance 100001", 33, 4, 0x47c35080u},
        {"distance -40", 33, 4, 0xc2200000u},
        {"distance infinity", 33, 4, 0x7f800000u},
        {"distance NaN", 33, 4, 0x7fc00000u},
        {"distance denormal", 33, 4, 0x00000001u},
        {"players 257", 37, 2, 257},
        {"players 65535", 37, 2, 65535},
        {"lobby length 0", 39, 1, 0},
        {"lobby length 9 (swallows the name length)", 39, 1, 9},
        {"lobby length 255", 39, 1, 255},
        {"name length 0", 48, 1, 0},
        {"name length 4", 48, 1, 4},
        {"name length 6", 48, 1, 6},
        {"lobby with a control character", 45, 1, 0x01},
        {"lobby with a NUL", 40, 1, 0x00},
        {"lobby with invalid UTF-8", 41, 1, 0xff},
        {"name with '#'", 50, 1, '#'},
        {"name with a NUL", 53, 1, 0x00},
        {"name with a lone continuation byte", 49, 1, 0x80},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[GV_TOKEN_BYTES_MAX];
        memcpy(b, good, n);
        for (int j = 0; j < cases[i].len; j++)
            b[cases[i].at + (size_t)j] = (uint8_t)(cases[i].value >> (8 * (cases[i].len - 1 - j)));
        resign(b, n, &k);
        gv_token_verdict v = gv_token_open(b, n, &keys, 0, NULL);
        if (v != GV_TOKEN_MALFORMED)
            fail_msg("%s: verdict %d", cases[i].what, (int)v);
    }

    /* The control: resigning the untouched bytes keeps them valid, and
     * the smallest values still in range pass. */
    uint8_t b[GV_TOKEN_BYTES_MAX];
    memcpy(b, good, n);
    resign(b, n, &k);
    assert_int_equal(gv_token_open(b, n, &keys, 0, NULL), GV_TOKEN_VALID);
    b[33] = 0x3d; /* 0.1f = 0x3dcccccd */
    b[34] = 0xcc;
    b[35] = 0xcc;
    b[36] = 0xcd;
    b[37] = 1; /* 256 players */
    b[38] = 0;
    b[32] = 0; /* the server's mode */
    resign(b, n, &k);
    gv_token t;
    assert_int_equal(gv_token_open(b, n, &keys, 0, &t), GV_TOKEN_VALID);
    assert_true(t.max_distance == 0.1f);
    assert_int_equal(t.max_players, 256);
    assert_int_equal(t.spatial_mode, -1);
}

static void test_key_rotation(void **state)
{
    (void)state;
    test_key old_key, new_key, other;
    key_make(0x10, &old_key);
    key_make(0x20, &new_key);
    key_make(0x30, &other);
    char text[256];
    snprintf(text, sizeof text, "# retired on Friday\n  %s  \r\n\n\t# the new one\n%s", old_key.public, new_key.public);
    gv_token_keys keys;
    char why[128] = "x";
    assert_int_equal(gv_token_keys_parse(text, &keys, why, sizeof why), 0);
    assert_string_equal(why, "");
    assert_int_equal(keys.count, 2);
    assert_memory_equal(keys.pk[0], old_key.pk, 32);
    assert_memory_equal(keys.pk[1], new_key.pk, 32);

    gv_token_claims c;
    plain_claims(&c);
    uint8_t bytes[GV_TOKEN_BYTES_MAX];
    int n = sign(&c, &old_key, bytes);
    assert_int_equal(gv_token_open(bytes, (size_t)n, &keys, 0, NULL), GV_TOKEN_VALID);
    n = sign(&c, &new_key, bytes);
    assert_int_equal(gv_token_open(bytes, (size_t)n, &keys, 0, NULL), GV_TOKEN_VALID);
    n = sign(&c, &other, bytes);
    assert_int_equal(gv_token_open(bytes, (size_t)n, &keys, 0, NULL), GV_TOKEN_UNKNOWN_KEY);

    /* Two keys with the same id (by chance, or a key listed twice): each
     * is tried, the signature decides. */
    gv_token_keys twins = keys;
    memcpy(twins.pk[0], new_key.pk, 32);
    memcpy(twins.pk[1], old_key.pk, 32);
    n = sign(&c, &old_key, bytes);
    assert_int_equal(gv_token_open(bytes, (size_t)n, &twins, 0, NULL), GV_TOKEN_VALID);
    /* Bytes 2..5 of new_key's token named old_key: a key id that matches
     * a key that did not sign is a bad signature, not an unknown key. */
    uint8_t other_bytes[GV_TOKEN_BYTES_MAX];
    int m = sign(&c, &new_key, other_bytes);
    memcpy(other_bytes + 2, bytes + 2, 4);
    assert_int_equal(gv_token_open(other_bytes, (size_t)m, &keys, 0, NULL), GV_TOKEN_BAD_SIGNATURE);

    /* No usable key set. */
    assert_int_equal(gv_token_open(bytes, (size_t)n, NULL, 0, NULL), GV_TOKEN_UNKNOWN_KEY);
    gv_token_keys none = keys;
    none.count = 0;
    assert_int_equal(gv_token_open(bytes, (size_t)n, &none, 0, NULL), GV_TOKEN_UNKNOWN_KEY);
    none.count = -1;
    assert_int_equal(gv_token_open(bytes, (size_t)n, &none, 0, NULL), GV_TOKEN_UNKNOWN_KEY);
    none.count = GV_TOKEN_KEYS_MAX + 1;
    assert_int_equal(gv_token_open(bytes, (size_t)n, &none, 0, NULL), GV_TOKEN_UNKNOWN_KEY);
}

/* ---- the text parsers ------------------------------------------------- */

static void test_keys_parse_errors(void **state)
{
    (void)state;
    test_key k;
    key_make(0x50, &k);
    gv_token_keys keys;
    char why[160];
    char text[GV_TOKEN_KEYS_MAX * 64 + 64];

    assert_int_equal(gv_token_keys_parse(NULL, &keys, why, sizeof why), GV_EINVAL);
    assert_int_equal(gv_token_keys_parse(k.public, NULL, why, sizeof why), GV_EINVAL);
    assert_int_equal(gv_token_keys_parse("", &keys, why, sizeof why), GV_EINVAL);
    assert_string_equal(why, "no token keys");
    assert_int_equal(gv_token_keys_parse("# only a comment\n\n   \n", &keys, why, sizeof why), GV_EINVAL);

    /* The bad line's number is given; blank and comment lines count. */
    static const char *bad[] = {
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 32 zero bytes: a point of small order */
        "not a key",
        "%s extra",
        "%s=",
        "%.42s",
        "%s # comment",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, bad[i], k.public);
        snprintf(text, sizeof text, "%s\n# comment\n\n%s\n%s\n", k.public, line, k.public);
        memset(&keys, 0x5a, sizeof keys);
        assert_int_equal(gv_token_keys_parse(text, &keys, why, sizeof why), GV_EKEY);
        assert_non_null(strstr(why, "line 4:"));
        assert_int_equal(keys.count, 0);
    }
    /* Non-zero unused bits in the last character: another spelling of
     * the same key is refused. */
    snprintf(text, sizeof text, "%s", k.public);
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    text[42] = alphabet[(strchr(alphabet, text[42]) - alphabet) ^ 1];
    assert_int_equal(gv_token_keys_parse(text, &keys, why, sizeof why), GV_EKEY);
    assert_non_null(strstr(why, "line 1:"));
    /* Bytes from 0x80 up, which libsodium alone would take for '_'. */
    snprintf(text, sizeof text, "%s", k.public);
    text[10] = (char)0xdf;
    assert_int_equal(gv_token_keys_parse(text, &keys, why, sizeof why), GV_EKEY);

    /* Sixteen keys are the most. */
    text[0] = '\0';
    for (int i = 0; i < GV_TOKEN_KEYS_MAX; i++) {
        test_key ki;
        key_make((uint8_t)(0x60 + i), &ki);
        strcat(text, ki.public);
        strcat(text, "\n");
    }
    assert_int_equal(gv_token_keys_parse(text, &keys, why, sizeof why), 0);
    assert_int_equal(keys.count, GV_TOKEN_KEYS_MAX);
    strcat(text, k.public);
    assert_int_equal(gv_token_keys_parse(text, &keys, why, sizeof why), GV_ETOOBIG);
    assert_non_null(strstr(why, "line 17:"));
    assert_int_equal(keys.count, 0);

    /* A short or absent why is cut, never overrun. */
    char tiny[4] = "xxx";
    assert_int_equal(gv_token_keys_parse("bad", &keys, tiny, 3), GV_EKEY);
    assert_string_equal(tiny, "to");
    assert_int_equal(gv_token_keys_parse("bad", &keys, NULL, 0), GV_EKEY);
    assert_int_equal(gv_token_keys_parse("bad", &keys, tiny, 0), GV_EKEY);
}

static void test_from_text_errors(void **state)
{
    (void)state;
    uint8_t out[GV_TOKEN_BYTES_MAX];
    assert_int_equal(gv_token_from_text(NULL, 4, out, sizeof out), GV_EINVAL);
    assert_int_equal(gv_token_from_text("AAAA", 4, NULL, sizeof out), GV_EINVAL);

    static const char *malformed[] = {
        "", " \t\r\n", "A", "AAAAA", "AA==", "AAA=", "AA+A", "AA/A", "AA A", "AB", "AAB", "AA\x80" "A", "AA.A",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        assert_int_equal(gv_token_from_text(malformed[i], strlen(malformed[i]), out, sizeof out), GV_EMALFORMED);
    /* libsodium alone would read any byte from 0x80 up as '_'. */
    for (int ch = 0x80; ch <= 0xff; ch++) {
        char text[5] = {'A', 'A', (char)ch, 'A', '\0'};
        assert_int_equal(gv_token_from_text(text, 4, out, sizeof out), GV_EMALFORMED);
    }
    /* A NUL inside the given length is a bad character, not an end. */
    assert_int_equal(gv_token_from_text("AA\0A", 4, out, sizeof out), GV_EMALFORMED);

    /* Lengths: 4 characters are 3 bytes, 2 are 1, 3 are 2. */
    assert_int_equal(gv_token_from_text("_-8A", 4, out, sizeof out), 3);
    assert_memory_equal(out, "\xff\xef\x00", 3);
    assert_int_equal(gv_token_from_text("  AQ\n", 5, out, sizeof out), 1);
    assert_int_equal(out[0], 1);
    assert_int_equal(gv_token_from_text("AQI", 3, out, sizeof out), 2);
    assert_int_equal(gv_token_from_text("AQID", 4, out, 3), 3);
    assert_int_equal(gv_token_from_text("AQID", 4, out, 2), GV_ETOOBIG);
    assert_int_equal(gv_token_from_text("AQI", 3, out, 1), GV_ETOOBIG);
    assert_int_equal(gv_token_from_text(vector_text, strlen(vector_text), out, 105 + 13 - 1), GV_ETOOBIG);
    /* Only len bytes are read: the rest of the string does not count. */
    assert_int_equal(gv_token_from_text("AQIDBAUG", 4, out, sizeof out), 3);
}

/* A server's first verdict on a join, in virtual time: the token, its
 * lobby against the one asked for, and a resume, which takes an expired
 * token as the name of its lobby. */
static void test_admit_table(void **state)
{
    (void)state;
    test_key k, other;
    key_make(0, &k);
    key_make(100, &other);
    gv_token_keys keys;
    keys_of(&k, &keys);
    gv_token_claims c;
    plain_claims(&c);
    c.expires = 1000;
    uint8_t good[GV_TOKEN_BYTES_MAX], forged[GV_TOKEN_BYTES_MAX], stranger[GV_TOKEN_BYTES_MAX];
    int n = sign(&c, &k, good);
    memcpy(forged, good, (size_t)n);
    forged[n - 1] ^= 0x01;
    int m = sign(&c, &other, stranger);
    static const uint8_t junk[] = {1, 2, 3};
    const struct {
        const char *what;
        const uint8_t *bytes;
        size_t len;
        const char *lobby; /* asked for; "" none */
        int resuming;
        uint64_t now;
        gv_token_verdict want;
    } cases[] = {
        {"no token", NULL, 0, "", 0, 10, GV_TOKEN_MISSING},
        {"no token, resuming: the server does not ask", NULL, 0, "lobby", 1, 10, GV_TOKEN_MISSING},
        {"valid, naming its lobby", good, (size_t)n, "", 0, 10, GV_TOKEN_VALID},
        {"valid, the lobby asked for is its own", good, (size_t)n, "lobby", 0, 10, GV_TOKEN_VALID},
        {"valid, another lobby asked for", good, (size_t)n, "lobby2", 0, 10, GV_TOKEN_WRONG_LOBBY},
        {"valid, a prefix of its lobby asked for", good, (size_t)n, "lob", 0, 10, GV_TOKEN_WRONG_LOBBY},
        {"the last second before expiry", good, (size_t)n, "", 0, 999, GV_TOKEN_VALID},
        {"expired", good, (size_t)n, "", 0, 1000, GV_TOKEN_EXPIRED},
        {"expired, resuming", good, (size_t)n, "", 1, 5000, GV_TOKEN_VALID},
        {"expired, resuming, another lobby", good, (size_t)n, "x", 1, 5000, GV_TOKEN_WRONG_LOBBY},
        {"forged", forged, (size_t)n, "", 0, 10, GV_TOKEN_BAD_SIGNATURE},
        {"forged, resuming", forged, (size_t)n, "", 1, 10, GV_TOKEN_BAD_SIGNATURE},
        {"another backend's key", stranger, (size_t)m, "", 0, 10, GV_TOKEN_UNKNOWN_KEY},
        {"junk", junk, sizeof junk, "", 0, 10, GV_TOKEN_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gv_token t;
        gv_token_verdict v = gv_token_admit(&keys, cases[i].bytes, cases[i].len, cases[i].lobby,
                                            strlen(cases[i].lobby), cases[i].resuming, cases[i].now, &t);
        if (v != cases[i].want)
            fail_msg("%s: %s, want %s", cases[i].what, gv_token_verdict_text(v), gv_token_verdict_text(cases[i].want));
        if (v == GV_TOKEN_VALID)
            assert_string_equal(t.lobby, "lobby");
    }
}

static void test_verdict_text(void **state)
{
    (void)state;
    assert_string_equal(gv_token_verdict_text(GV_TOKEN_VALID), "token valid");
    assert_string_equal(gv_token_verdict_text(GV_TOKEN_MALFORMED), "token malformed");
    assert_string_equal(gv_token_verdict_text(GV_TOKEN_UNKNOWN_KEY), "token signed by an unknown key");
    assert_string_equal(gv_token_verdict_text(GV_TOKEN_BAD_SIGNATURE), "token signature invalid");
    assert_string_equal(gv_token_verdict_text(GV_TOKEN_EXPIRED), "token expired");
    assert_string_equal(gv_token_verdict_text(GV_TOKEN_VERDICTS), "token verdict unknown");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_claims_default),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_claims_invalid),
        cmocka_unit_test(test_mint_key_and_buffers),
        cmocka_unit_test(test_expiry_boundary),
        cmocka_unit_test(test_forgery),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_malformed_fields),
        cmocka_unit_test(test_key_rotation),
        cmocka_unit_test(test_keys_parse_errors),
        cmocka_unit_test(test_from_text_errors),
        cmocka_unit_test(test_admit_table),
        cmocka_unit_test(test_verdict_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
