#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "gvoip/error.h"
#include "session/gv_seal.h"
#include "seal_pair.h"

#define MAX_PLAIN 1392

static uint64_t g_seed = 0x5ea15ea1ull;

static uint64_t next_u64(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define CHECK_SEEDED(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("seed %" PRIu64 "\n", g_seed);                                             \
            fail_msg("%s", #cond);                                                                 \
        }                                                                                          \
    } while (0)

/* Every test but the cross-cipher one runs once per AEAD (main). */
static gv_seal_cipher g_cipher = GV_SEAL_CHACHA20POLY1305;

/* Both ends with this run's AEAD. */
static void pair_open(pair *p)
{
    pair_open_with(p, g_cipher);
}

/* Seals count messages on channel; message i carries counter i. */
typedef struct batch {
    uint8_t (*msg)[64];
    int *len;
    size_t count;
} batch;

static void batch_make(batch *bt, gv_seal *s, uint8_t channel, size_t count)
{
    bt->msg = calloc(count, sizeof *bt->msg);
    bt->len = calloc(count, sizeof *bt->len);
    bt->count = count;
    assert_non_null(bt->msg);
    assert_non_null(bt->len);
    for (size_t i = 0; i < count; i++) {
        uint8_t plain[8];
        memcpy(plain, &i, sizeof plain < sizeof i ? sizeof plain : sizeof i);
        bt->len[i] = gv_seal_encrypt(s, channel, NULL, 0, plain, sizeof plain, bt->msg[i], 64);
        assert_int_equal(bt->len[i], (int)sizeof plain + GV_SEAL_OVERHEAD);
    }
}

static void batch_free(batch *bt)
{
    free(bt->msg);
    free(bt->len);
}

static int open_msg(gv_seal *s, uint8_t channel, const batch *bt, size_t i)
{
    uint8_t out[64];
    return gv_seal_decrypt(s, channel, NULL, 0, bt->msg[i], (size_t)bt->len[i], out, sizeof out);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_round_trip(void **state)
{
    (void)state;
    static const struct {
        uint8_t channel;
        size_t len;
        size_t aad_len;
    } cases[] = {
        {0, 0, 0}, {0, 1, 0}, {1, 100, 4}, {2, 160, 0}, {3, MAX_PLAIN - GV_SEAL_OVERHEAD, 12},
        {3, 7, GV_SEAL_MAX_AAD},
    };
    uint64_t st = g_seed;
    pair p;
    pair_open(&p);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t plain[MAX_PLAIN], aad[GV_SEAL_MAX_AAD], sealed[MAX_PLAIN + GV_SEAL_OVERHEAD],
            opened[MAX_PLAIN];
        for (size_t i = 0; i < cases[c].len; i++)
            plain[i] = (uint8_t)next_u64(&st);
        for (size_t i = 0; i < cases[c].aad_len; i++)
            aad[i] = (uint8_t)next_u64(&st);
        /* Both directions, each with its own key. */
        gv_seal *from[2] = {p.a, p.b}, *to[2] = {p.b, p.a};
        for (int d = 0; d < 2; d++) {
            int n = gv_seal_encrypt(from[d], cases[c].channel, aad, cases[c].aad_len, plain,
                                    cases[c].len, sealed, sizeof sealed);
            CHECK_SEEDED(n == (int)(cases[c].len + GV_SEAL_OVERHEAD));
            /* Nothing of the plaintext shows in the ciphertext. */
            if (cases[c].len >= 16)
                CHECK_SEEDED(memcmp(sealed + 8, plain, 16) != 0);
            int m = gv_seal_decrypt(to[d], cases[c].channel, aad, cases[c].aad_len, sealed,
                                    (size_t)n, opened, sizeof opened);
            CHECK_SEEDED(m == (int)cases[c].len);
            CHECK_SEEDED(cases[c].len == 0 || memcmp(opened, plain, cases[c].len) == 0);
        }
    }
    pair_close(&p);
}

/* Counters are per (direction, channel), start at 0 and are little-endian;
 * the nonce is channel LE32 || counter LE64 (Noise's layout on channel 0). */
static void test_wire_layout_and_nonce(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    uint8_t sealed[64], plain[5] = {'v', 'o', 'i', 'c', 'e'}, out[64];
    for (uint8_t ch = 0; ch < GV_SEAL_CHANNELS; ch++) {
        for (uint64_t want = 0; want < 3u + ch; want++) {
            int n = gv_seal_encrypt(p.a, ch, NULL, 0, plain, sizeof plain, sealed, sizeof sealed);
            assert_int_equal(n, (int)sizeof plain + GV_SEAL_OVERHEAD);
            uint8_t le[8];
            for (int i = 0; i < 8; i++)
                le[i] = (uint8_t)(want >> (8 * i));
            assert_memory_equal(sealed, le, 8);

            /* Open it with libsodium directly, nonce and AAD built here. */
            uint8_t nonce[12] = {ch, 0, 0, 0};
            memcpy(nonce + 4, le, 8);
            uint8_t ad = ch;
            unsigned long long mlen = 0;
            int rc = g_cipher == GV_SEAL_AES256GCM
                         ? crypto_aead_aes256gcm_decrypt(out, &mlen, NULL, sealed + 8, (unsigned long long)n - 8,
                                                         &ad, 1, nonce, p.ka.send)
                         : crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, sealed + 8,
                                                                     (unsigned long long)n - 8, &ad, 1, nonce,
                                                                     p.ka.send);
            assert_int_equal(rc, 0);
            assert_int_equal(mlen, sizeof plain);
            assert_memory_equal(out, plain, sizeof plain);
        }
    }
    /* The other direction counts on its own. */
    int n = gv_seal_encrypt(p.b, 2, NULL, 0, plain, sizeof plain, sealed, sizeof sealed);
    assert_int_equal(n, (int)sizeof plain + GV_SEAL_OVERHEAD);
    static const uint8_t zero[8];
    assert_memory_equal(sealed, zero, 8);
    pair_close(&p);
}

/* The vector of docs/protocol.md ("Cryptography" 2): the send key is k1 of the handshake
 * vector in test_noise.c; the expected bytes were computed independently
 * (Python's cryptography package). */
/* Sealed bytes computed independently (Python's cryptography package:
 * ChaCha20Poly1305 and AESGCM with nonce = channel || 0 0 0 || LE64(counter),
 * AAD = channel byte || caller's bytes). */
static void test_vector(void **state)
{
    (void)state;
    static const char k1_hex[] = "082de1d119fc1de89e1a5f6077822f104bde62cd84436d2380acb4d4168ccb8a";
    static const struct {
        const uint8_t *aad;
        size_t aad_len;
        const char *hex[2]; /* by gv_seal_cipher */
    } steps[] = {
        {NULL, 0,
         {"0000000000000000dbbf2f463e6289586561f62a7f5850ea72e8700c8651d56ac16109",
          "00000000000000000e3a110c06a6c203a237b8bb9da6b1b74e33f610ef0df7e1960e12"}},
        {(const uint8_t *)"\x82\x01", 2,
         {"0100000000000000d8cbd3b745cc1e8b7dc605b4adfbed2c08200aeafc96384eabbb3d",
          "0100000000000000cd7b4fd81cd75809979b714ec2fc9ed9758ce1da5cf4af72806bb3"}},
    };
    gv_seal_keys k = {.cipher = g_cipher};
    size_t got = 0;
    assert_int_equal(sodium_hex2bin(k.send, 32, k1_hex, 64, NULL, &got, NULL), 0);
    gv_seal *s = NULL;
    assert_int_equal(gv_seal_create(&k, &s), GV_OK);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        uint8_t sealed[64];
        char hex[129];
        int n = gv_seal_encrypt(s, 1, steps[i].aad, steps[i].aad_len,
                                (const uint8_t *)"hello voice", 11, sealed, sizeof sealed);
        assert_int_equal(n, 11 + GV_SEAL_OVERHEAD);
        sodium_bin2hex(hex, sizeof hex, sealed, (size_t)n);
        assert_string_equal(hex, steps[i].hex[g_cipher]);
    }
    gv_seal_destroy(s);
}

/* The same keys under the other AEAD open nothing, and an unknown cipher
 * is refused. */
static void test_ciphers_apart(void **state)
{
    (void)state;
    gv_seal_keys k = {.cipher = GV_SEAL_CHACHA20POLY1305};
    memset(k.send, 0x42, sizeof k.send);
    memcpy(k.recv, k.send, sizeof k.recv);
    gv_seal *chacha = NULL, *aes = NULL;
    assert_int_equal(gv_seal_create(&k, &chacha), GV_OK);
    k.cipher = GV_SEAL_AES256GCM;
    assert_int_equal(gv_seal_create(&k, &aes), GV_OK);
    uint8_t sealed[64], out[64];
    int n = gv_seal_encrypt(chacha, 1, NULL, 0, (const uint8_t *)"hello", 5, sealed, sizeof sealed);
    assert_int_equal(n, 5 + GV_SEAL_OVERHEAD);
    assert_int_equal(gv_seal_decrypt(aes, 1, NULL, 0, sealed, (size_t)n, out, sizeof out), GV_EAUTH);
    n = gv_seal_encrypt(aes, 1, NULL, 0, (const uint8_t *)"hello", 5, sealed, sizeof sealed);
    assert_int_equal(gv_seal_decrypt(chacha, 1, NULL, 0, sealed, (size_t)n, out, sizeof out), GV_EAUTH);
    assert_int_equal(gv_seal_decrypt(aes, 1, NULL, 0, sealed, (size_t)n, out, sizeof out), 5);
    gv_seal_destroy(chacha);
    gv_seal_destroy(aes);
    gv_seal *bad = (gv_seal *)&k;
    k.cipher = (gv_seal_cipher)7;
    assert_int_equal(gv_seal_create(&k, &bad), GV_EINVAL);
    assert_null(bad);
}

/* Every single-bit change (counter, ciphertext, tag, or the AAD) fails the
 * tag, and the failed attempts leave the window as it was. */
static void test_bit_flips(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    uint8_t plain[40], aad[6] = {1, 2, 3, 4, 5, 6}, sealed[64], out[64];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)(i * 7);
    int n = gv_seal_encrypt(p.a, 1, aad, sizeof aad, plain, sizeof plain, sealed, sizeof sealed);
    assert_int_equal(n, (int)sizeof plain + GV_SEAL_OVERHEAD);

    for (size_t bit = 0; bit < (size_t)n * 8; bit++) {
        uint8_t bad[64];
        memcpy(bad, sealed, (size_t)n);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        memset(out, 0xee, sizeof out);
        int rc = gv_seal_decrypt(p.b, 1, aad, sizeof aad, bad, (size_t)n, out, sizeof out);
        if (rc != GV_EAUTH)
            print_error("bit %zu -> %d\n", bit, rc);
        assert_int_equal(rc, GV_EAUTH);
        /* No unauthenticated plaintext is left behind. */
        for (size_t i = 0; i < sizeof plain; i++)
            assert_int_equal(out[i], 0);
    }
    for (size_t bit = 0; bit < sizeof aad * 8; bit++) {
        uint8_t bad_aad[6];
        memcpy(bad_aad, aad, sizeof aad);
        bad_aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(gv_seal_decrypt(p.b, 1, bad_aad, sizeof aad, sealed, (size_t)n, out,
                                         sizeof out),
                         GV_EAUTH);
    }
    assert_int_equal(gv_seal_decrypt(p.b, 1, aad, 5, sealed, (size_t)n, out, sizeof out), GV_EAUTH);
    assert_int_equal(gv_seal_decrypt(p.b, 1, NULL, 0, sealed, (size_t)n, out, sizeof out),
                     GV_EAUTH);
    /* The genuine message is still accepted, exactly once. */
    assert_int_equal(gv_seal_decrypt(p.b, 1, aad, sizeof aad, sealed, (size_t)n, out, sizeof out),
                     (int)sizeof plain);
    assert_memory_equal(out, plain, sizeof plain);
    assert_int_equal(gv_seal_decrypt(p.b, 1, aad, sizeof aad, sealed, (size_t)n, out, sizeof out),
                     GV_EREPLAY);
    pair_close(&p);
}

/* A forged message far ahead must not move the window: if it did, the
 * genuine old messages would fall out of it. */
static void test_forgery_does_not_move_window(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    batch bt;
    batch_make(&bt, p.a, 0, 3001);
    uint8_t bad[64];
    memcpy(bad, bt.msg[3000], (size_t)bt.len[3000]);
    bad[bt.len[3000] - 1] ^= 0x20; /* tag */
    uint8_t out[64];
    assert_int_equal(gv_seal_decrypt(p.b, 0, NULL, 0, bad, (size_t)bt.len[3000], out, sizeof out),
                     GV_EAUTH);
    /* Also a well-formed counter far ahead with garbage behind it. */
    memcpy(bad, bt.msg[0], (size_t)bt.len[0]);
    bad[2] = 0x7f;
    assert_int_equal(gv_seal_decrypt(p.b, 0, NULL, 0, bad, (size_t)bt.len[0], out, sizeof out),
                     GV_EAUTH);
    assert_int_equal(open_msg(p.b, 0, &bt, 0), 8);
    assert_int_equal(open_msg(p.b, 0, &bt, 1), 8);
    assert_int_equal(open_msg(p.b, 0, &bt, 3000), 8);
    batch_free(&bt);
    pair_close(&p);
}

static void test_replay(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    batch bt;
    batch_make(&bt, p.a, 2, 4);
    static const struct {
        size_t index;
        int expect;
    } steps[] = {
        {0, 8}, {0, GV_EREPLAY}, {2, 8}, {2, GV_EREPLAY}, {1, 8}, {0, GV_EREPLAY}, {1, GV_EREPLAY},
        {3, 8}, {3, GV_EREPLAY},
    };
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        int rc = open_msg(p.b, 2, &bt, steps[s].index);
        if (rc != steps[s].expect)
            print_error("step %zu\n", s);
        assert_int_equal(rc, steps[s].expect);
    }
    batch_free(&bt);
    pair_close(&p);
}

/* A whole window's worth in shuffled order: each accepted once. */
static void test_reorder_within_window(void **state)
{
    (void)state;
    static const size_t counts[] = {GV_SEAL_WINDOW, GV_SEAL_WINDOW + 500};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        uint64_t st = g_seed + c;
        pair p;
        pair_open(&p);
        batch bt;
        batch_make(&bt, p.a, 3, counts[c]);
        size_t *order = malloc(counts[c] * sizeof *order);
        assert_non_null(order);
        for (size_t i = 0; i < counts[c]; i++)
            order[i] = i;
        /* Shuffle inside blocks of GV_SEAL_WINDOW so that nothing arrives
         * more than a window late. */
        for (size_t base = 0; base < counts[c]; base += GV_SEAL_WINDOW) {
            size_t end = base + GV_SEAL_WINDOW < counts[c] ? base + GV_SEAL_WINDOW : counts[c];
            for (size_t i = end - 1; i > base; i--) {
                size_t j = base + (size_t)(next_u64(&st) % (i - base + 1));
                size_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        for (size_t i = 0; i < counts[c]; i++)
            CHECK_SEEDED(open_msg(p.b, 3, &bt, order[i]) == 8);
        for (size_t i = 0; i < counts[c]; i++)
            CHECK_SEEDED(open_msg(p.b, 3, &bt, order[i]) == GV_EREPLAY);
        free(order);
        batch_free(&bt);
        pair_close(&p);
    }
}

/* The window is exactly GV_SEAL_WINDOW counters: newest - 2047 is still
 * in, newest - 2048 is out, and big jumps forget everything behind. */
static void test_window_edges(void **state)
{
    (void)state;
    static const struct {
        size_t index;
        int expect;
    } steps[] = {
        {3000, 8},
        {3000 - GV_SEAL_WINDOW, GV_EREPLAY},
        {3000 - GV_SEAL_WINDOW + 1, 8},
        {3000 - GV_SEAL_WINDOW + 1, GV_EREPLAY},
        {2999, 8},
        {0, GV_EREPLAY},
        {3001, 8},
        {3001 - GV_SEAL_WINDOW + 1, 8},
        {3001 - GV_SEAL_WINDOW, GV_EREPLAY},
        {9000, 8},
        {9000 - GV_SEAL_WINDOW + 1, 8},
        {3001, GV_EREPLAY},
        {8999, 8},
        {7000, 8},
        {6952, GV_EREPLAY},
        {6953, GV_EREPLAY},
        {6954, 8},
    };
    pair p;
    pair_open(&p);
    batch bt;
    batch_make(&bt, p.a, 1, 9001);
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        int rc = open_msg(p.b, 1, &bt, steps[s].index);
        if (rc != steps[s].expect)
            print_error("step %zu (counter %zu)\n", s, steps[s].index);
        assert_int_equal(rc, steps[s].expect);
    }
    batch_free(&bt);
    pair_close(&p);
}

/* Sliding forward by less than a window must clear the slots of the
 * counters skipped over, or they would look like replays. */
static void test_window_slot_reuse(void **state)
{
    (void)state;
    static const struct {
        size_t index;
        int expect;
    } steps[] = {
        {5, 8}, {2000, 8}, {2100, 8},
        {5 + GV_SEAL_WINDOW, 8}, /* the slot counter 5 used */
        {5 + GV_SEAL_WINDOW, GV_EREPLAY},
        {5, GV_EREPLAY},
    };
    pair p;
    pair_open(&p);
    batch bt;
    batch_make(&bt, p.a, 0, 2200);
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        int rc = open_msg(p.b, 0, &bt, steps[s].index);
        if (rc != steps[s].expect)
            print_error("step %zu (counter %zu)\n", s, steps[s].index);
        assert_int_equal(rc, steps[s].expect);
    }
    batch_free(&bt);
    pair_close(&p);
}

static void test_channels_apart(void **state)
{
    (void)state;
    static const struct {
        uint8_t sealed_on, opened_on;
        int expect;
    } cases[] = {
        {1, 0, GV_EAUTH}, {0, 1, GV_EAUTH}, {3, 2, GV_EAUTH}, {2, 2, 8}, {1, 4, GV_EMALFORMED},
        {1, 255, GV_EMALFORMED},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pair p;
        pair_open(&p);
        batch bt;
        batch_make(&bt, p.a, cases[c].sealed_on, 1);
        assert_int_equal(open_msg(p.b, cases[c].opened_on, &bt, 0), cases[c].expect);
        batch_free(&bt);
        pair_close(&p);
    }
    /* Replay windows are per channel: counter 0 on each channel is new. */
    pair p;
    pair_open(&p);
    for (uint8_t ch = 0; ch < GV_SEAL_CHANNELS; ch++) {
        batch bt;
        batch_make(&bt, p.a, ch, 1);
        assert_int_equal(open_msg(p.b, ch, &bt, 0), 8);
        batch_free(&bt);
    }
    pair_close(&p);
}

static void test_keys_mirrored(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    batch bt;
    batch_make(&bt, p.a, 0, 1);
    /* A cannot open its own message: directions use different keys. */
    assert_int_equal(open_msg(p.a, 0, &bt, 0), GV_EAUTH);
    assert_int_equal(open_msg(p.b, 0, &bt, 0), 8);
    batch_free(&bt);
    /* Channel 1: b's window on channel 0 has counter 0 already. */
    batch_make(&bt, p.b, 1, 1);
    assert_int_equal(open_msg(p.b, 1, &bt, 0), GV_EAUTH);
    assert_int_equal(open_msg(p.a, 1, &bt, 0), 8);
    batch_free(&bt);
    pair_close(&p);
}

static void test_malformed_and_args(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    uint8_t buf[128] = {0}, out[128], aad[GV_SEAL_MAX_AAD + 1] = {0};
    for (size_t len = 0; len < GV_SEAL_OVERHEAD; len++)
        assert_int_equal(gv_seal_decrypt(p.b, 0, NULL, 0, buf, len, out, sizeof out),
                         GV_EMALFORMED);
    /* The unused counter value is refused before any crypto. */
    int n = gv_seal_encrypt(p.a, 0, NULL, 0, buf, 10, buf + 64, 64);
    assert_int_equal(n, 10 + GV_SEAL_OVERHEAD);
    memset(buf + 64, 0xff, 8);
    assert_int_equal(gv_seal_decrypt(p.b, 0, NULL, 0, buf + 64, (size_t)n, out, sizeof out),
                     GV_EREPLAY);

    gv_seal *none = p.a;
    assert_int_equal(gv_seal_create(NULL, &none), GV_EINVAL);
    assert_null(none);
    assert_int_equal(gv_seal_create(&p.ka, NULL), GV_EINVAL);
    gv_seal_destroy(NULL);
    assert_int_equal(gv_seal_encrypt(p.b, 4, NULL, 0, buf, 10, out, sizeof out), GV_EINVAL);
    assert_int_equal(gv_seal_encrypt(p.b, 0, NULL, 0, buf, 10, out, 10 + GV_SEAL_OVERHEAD - 1),
                     GV_ETOOBIG);
    assert_int_equal(gv_seal_encrypt(p.b, 0, aad, sizeof aad, buf, 10, out, sizeof out),
                     GV_EINVAL);
    assert_int_equal(gv_seal_encrypt(p.b, 0, NULL, 3, buf, 10, out, sizeof out), GV_EINVAL);
    assert_int_equal(gv_seal_encrypt(p.b, 0, NULL, 0, NULL, 10, out, sizeof out), GV_EINVAL);
    /* In place would overwrite the plaintext with the counter. */
    assert_int_equal(gv_seal_encrypt(p.b, 0, NULL, 0, buf, 10, buf, sizeof buf), GV_EINVAL);

    n = gv_seal_encrypt(p.b, 0, NULL, 0, buf, 10, out, sizeof out);
    assert_int_equal(n, 10 + GV_SEAL_OVERHEAD);
    assert_int_equal(gv_seal_decrypt(p.a, 0, NULL, 0, out, (size_t)n, buf, 9), GV_ETOOBIG);
    assert_int_equal(gv_seal_decrypt(p.a, 0, NULL, 0, out, (size_t)n, out + 4, 64), GV_EINVAL);
    assert_int_equal(gv_seal_decrypt(p.a, 0, aad, sizeof aad, out, (size_t)n, buf, sizeof buf),
                     GV_EINVAL);
    assert_int_equal(gv_seal_decrypt(p.a, 0, NULL, 0, out, (size_t)n, NULL, 0), GV_EINVAL);
    /* None of the refusals above consumed the message. */
    assert_int_equal(gv_seal_decrypt(p.a, 0, NULL, 0, out, (size_t)n, buf, sizeof buf), 10);
    pair_close(&p);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_wire_layout_and_nonce),
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_forgery_does_not_move_window),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_reorder_within_window),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_window_slot_reuse),
        cmocka_unit_test(test_channels_apart),
        cmocka_unit_test(test_keys_mirrored),
        cmocka_unit_test(test_malformed_and_args),
    };
    const struct CMUnitTest both[] = {
        cmocka_unit_test(test_ciphers_apart),
    };
    int failed = cmocka_run_group_tests_name("chacha20-poly1305", tests, NULL, NULL);
    if (!gv_seal_aes256gcm_available()) {
        /* A CPU without AES-NI: sessions there always use ChaCha20-Poly1305. */
        print_message("AES-256-GCM is not available on this CPU: its group did not run\n");
        return failed;
    }
    g_cipher = GV_SEAL_AES256GCM;
    failed += cmocka_run_group_tests_name("aes-256-gcm", tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("both", both, NULL, NULL);
    return failed;
}
