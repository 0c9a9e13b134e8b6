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
#include "session/gv_noise.h"
#include "session/gv_seal.h"

/* ---- helpers ---------------------------------------------------------- */

static void unhex(const char *hex, uint8_t *out, size_t len)
{
    size_t got = 0;
    assert_int_equal(sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL), 0);
    assert_int_equal(got, len);
}

static void assert_hex(const uint8_t *bin, size_t len, const char *expected)
{
    char hex[2 * 256 + 1];
    assert_true(len <= 256);
    sodium_bin2hex(hex, sizeof hex, bin, len);
    if (strcmp(hex, expected) != 0)
        print_error("got      %s\nexpected %s\n", hex, expected);
    assert_string_equal(hex, expected);
}

/* splitmix64: seeded bytes for tests that want "any" keys, repeatably. */
static uint64_t g_seed = 0x67766f697031ull;

static void seeded_fill(uint64_t *st, uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        p[i] = (uint8_t)(z ^ (z >> 31));
    }
}

/* A side whose ephemeral secret is the next 32 seeded bytes. */
static void seeded_ephemeral(uint64_t *st, gv_noise *ns)
{
    uint8_t e_sk[32];
    seeded_fill(st, e_sk, sizeof e_sk);
    assert_int_equal(gv_noise_test_ephemeral(ns, e_sk), GV_OK);
}

#define CHECK_SEEDED(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("seed %" PRIu64 "\n", g_seed);                                             \
            fail_msg("%s", #cond);                                                                 \
        }                                                                                          \
    } while (0)

/* RFC 7748 section 6.1 key pairs and their shared secret. */
static const char alice_sk_hex[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char alice_pk_hex[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char bob_sk_hex[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char bob_pk_hex[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char shared_hex[] = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

/* The regression vector (docs/protocol.md, "Cryptography" 1): initiator ephemeral =
 * Alice, responder static = Bob, responder ephemeral = bytes 0x40..0x5f. */
static const uint8_t vec_prologue[] = {'g', 'v', 'o', 'i', 'p', 0x01};
static const char vec_p1[] = "gvoip msg1";
static const char vec_p2[] = "gvoip msg2";
static const char vec_msg1_hex[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
                                   "67766f6970206d736731";
static const char vec_msg2_hex[] = "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"
                                   "669a789f5722dba51750b51dd4d44095f523b390a53c02d5553a92fc86776ec1"
                                   "28147c8478b8bf628888d3afccc177889c33592ef2511144a234c86621102021"
                                   "fcee48a82520ed6332ea";
static const char vec_hash_hex[] = "c71fb5563008656edf81d1e4c515417e23669d4fe1ef57b15e5aac9accad95fa";
/* Split: the initiator sends with k1, the responder with k2. */
static const char vec_k1_hex[] = "082de1d119fc1de89e1a5f6077822f104bde62cd84436d2380acb4d4168ccb8a";
static const char vec_k2_hex[] = "f35fe249a6afa1cd433a8b70cbb52baa2bcb98edeb561bcad2ec03307929674e";

typedef struct fixture {
    uint8_t s_sk[32], s_pk[32];
    gv_noise *init, *resp;
    uint8_t msg1[256], msg2[256];
    int msg1_len, msg2_len;
} fixture;

static void setup_sides(fixture *f, const uint8_t *pro_i, size_t pro_i_len, const uint8_t *pro_r,
                        size_t pro_r_len)
{
    uint8_t e_i[32], e_r[32];
    memset(f, 0, sizeof *f);
    unhex(bob_sk_hex, f->s_sk, 32);
    unhex(bob_pk_hex, f->s_pk, 32);
    unhex(alice_sk_hex, e_i, 32);
    for (int i = 0; i < 32; i++)
        e_r[i] = (uint8_t)(0x40 + i);
    assert_int_equal(gv_noise_initiator_create(pro_i, pro_i_len, &f->init), GV_OK);
    assert_int_equal(gv_noise_responder_create(pro_r, pro_r_len, f->s_sk, f->s_pk, &f->resp), GV_OK);
    assert_int_equal(gv_noise_test_ephemeral(f->init, e_i), GV_OK);
    assert_int_equal(gv_noise_test_ephemeral(f->resp, e_r), GV_OK);
}

static void setup_vector(fixture *f)
{
    setup_sides(f, vec_prologue, sizeof vec_prologue, vec_prologue, sizeof vec_prologue);
}

static void teardown(fixture *f)
{
    gv_noise_destroy(f->init);
    gv_noise_destroy(f->resp);
    f->init = f->resp = NULL;
}

/* Message 1 written and read, message 2 written: what is left is the
 * initiator reading message 2. */
static void run_to_msg2(fixture *f)
{
    uint8_t p[64];
    f->msg1_len = gv_noise_write_message(f->init, (const uint8_t *)vec_p1, strlen(vec_p1), f->msg1,
                                         sizeof f->msg1);
    assert_int_equal(f->msg1_len, GV_NOISE_MSG1_MIN + strlen(vec_p1));
    assert_int_equal(gv_noise_read_message(f->resp, f->msg1, (size_t)f->msg1_len, p, sizeof p),
                     (int)strlen(vec_p1));
    assert_memory_equal(p, vec_p1, strlen(vec_p1));
    f->msg2_len = gv_noise_write_message(f->resp, (const uint8_t *)vec_p2, strlen(vec_p2), f->msg2,
                                         sizeof f->msg2);
    assert_int_equal(f->msg2_len, GV_NOISE_MSG2_LEN + strlen(vec_p2));
}

/* ---- an independent Noise NX, straight from the spec's formulas -------- */

static void ref_mix_hash(uint8_t h[32], const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, h, 32);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, h);
}

/* Noise section 4.3: HKDF(ck, ikm, 2) spelled out with HMAC. */
static void ref_hkdf2(const uint8_t ck[32], const uint8_t *ikm, size_t ikm_len, uint8_t o1[32],
                      uint8_t o2[32])
{
    uint8_t temp[32], in[33];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, ck, 32);
    crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
    crypto_auth_hmacsha256_final(&st, temp);
    in[0] = 0x01;
    crypto_auth_hmacsha256_init(&st, temp, 32);
    crypto_auth_hmacsha256_update(&st, in, 1);
    crypto_auth_hmacsha256_final(&st, o1);
    memcpy(in, o1, 32);
    in[32] = 0x02;
    crypto_auth_hmacsha256_init(&st, temp, 32);
    crypto_auth_hmacsha256_update(&st, in, 33);
    crypto_auth_hmacsha256_final(&st, o2);
}

/* Noise section 12.3 (ChaChaPoly): 32 zero bits then the 64-bit counter,
 * little-endian. Every handshake key here is used once, with n = 0. */
static void ref_encrypt(const uint8_t k[32], uint64_t n, const uint8_t ad[32], const uint8_t *p,
                        size_t len, uint8_t *out)
{
    uint8_t nonce[12] = {0};
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
    unsigned long long clen;
    crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, p, len, ad, 32, NULL, nonce, k);
}

static void ref_nx(uint8_t *msg1, uint8_t *msg2, uint8_t h[32], uint8_t k1[32], uint8_t k2[32])
{
    uint8_t ck[32], k[32], ei_sk[32], ei_pk[32], s_sk[32], s_pk[32], er_sk[32], er_pk[32], dh[32];
    unhex(alice_sk_hex, ei_sk, 32);
    unhex(bob_sk_hex, s_sk, 32);
    for (int i = 0; i < 32; i++)
        er_sk[i] = (uint8_t)(0x40 + i);
    assert_int_equal(crypto_scalarmult_base(ei_pk, ei_sk), 0);
    assert_int_equal(crypto_scalarmult_base(s_pk, s_sk), 0);
    assert_int_equal(crypto_scalarmult_base(er_pk, er_sk), 0);
    size_t p1 = strlen(vec_p1), p2 = strlen(vec_p2);

    memcpy(h, "Noise_NX_25519_ChaChaPoly_SHA256", 32);
    memcpy(ck, h, 32);
    ref_mix_hash(h, vec_prologue, sizeof vec_prologue);
    /* -> e */
    memcpy(msg1, ei_pk, 32);
    ref_mix_hash(h, ei_pk, 32);
    memcpy(msg1 + 32, vec_p1, p1);
    ref_mix_hash(h, (const uint8_t *)vec_p1, p1);
    /* <- e, ee, s, es */
    memcpy(msg2, er_pk, 32);
    ref_mix_hash(h, er_pk, 32);
    assert_int_equal(crypto_scalarmult(dh, er_sk, ei_pk), 0);
    ref_hkdf2(ck, dh, 32, ck, k);
    ref_encrypt(k, 0, h, s_pk, 32, msg2 + 32);
    ref_mix_hash(h, msg2 + 32, 48);
    assert_int_equal(crypto_scalarmult(dh, s_sk, ei_pk), 0);
    ref_hkdf2(ck, dh, 32, ck, k);
    ref_encrypt(k, 0, h, (const uint8_t *)vec_p2, p2, msg2 + 80);
    ref_mix_hash(h, msg2 + 80, p2 + 16);
    ref_hkdf2(ck, NULL, 0, k1, k2);
}

/* ---- known answers ------------------------------------------------------ */

/* RFC 5869 appendix A.1 (test case 1). */
static void test_hkdf_rfc5869_case1(void **state)
{
    (void)state;
    uint8_t ikm[22], salt[13], info[10], okm[42];
    memset(ikm, 0x0b, sizeof ikm);
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof info; i++)
        info[i] = (uint8_t)(0xf0 + i);
    assert_int_equal(gv_noise_hkdf(salt, sizeof salt, ikm, sizeof ikm, info, sizeof info, okm,
                                   sizeof okm),
                     GV_OK);
    assert_hex(okm, sizeof okm,
               "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

/* Noise's two-output HKDF equals RFC 5869 with empty info and 64 bytes. */
static void test_hkdf_matches_noise_formula(void **state)
{
    (void)state;
    uint8_t ck[32], ikm[32], okm[64], o1[32], o2[32];
    for (int i = 0; i < 32; i++) {
        ck[i] = (uint8_t)(3 * i + 1);
        ikm[i] = (uint8_t)(255 - i);
    }
    assert_int_equal(gv_noise_hkdf(ck, 32, ikm, 32, NULL, 0, okm, 64), GV_OK);
    ref_hkdf2(ck, ikm, 32, o1, o2);
    assert_memory_equal(okm, o1, 32);
    assert_memory_equal(okm + 32, o2, 32);
    assert_int_equal(gv_noise_hkdf(ck, 32, ikm, 32, NULL, 0, okm, 255 * 32 + 1), GV_EINVAL);
    assert_int_equal(gv_noise_hkdf(ck, 32, ikm, 32, NULL, 0, NULL, 64), GV_EINVAL);
    assert_int_equal(gv_noise_hkdf(NULL, 1, ikm, 32, NULL, 0, okm, 64), GV_EINVAL);
}

/* A fixed ephemeral secret gives RFC 7748's public keys in message 1, and
 * the two sides of the vector share RFC 7748's secret. */
static void test_x25519_rfc7748(void **state)
{
    (void)state;
    uint8_t a_sk[32], b_sk[32], b_pk[32], shared[32], m1[64];
    gv_noise *a = NULL, *b = NULL;
    unhex(alice_sk_hex, a_sk, 32);
    unhex(bob_sk_hex, b_sk, 32);
    assert_int_equal(gv_noise_initiator_create(NULL, 0, &a), GV_OK);
    assert_int_equal(gv_noise_initiator_create(NULL, 0, &b), GV_OK);
    assert_int_equal(gv_noise_test_ephemeral(a, a_sk), GV_OK);
    assert_int_equal(gv_noise_test_ephemeral(b, b_sk), GV_OK);
    assert_int_equal(gv_noise_write_message(a, NULL, 0, m1, sizeof m1), GV_NOISE_MSG1_MIN);
    assert_hex(m1, 32, alice_pk_hex);
    assert_int_equal(gv_noise_write_message(b, NULL, 0, m1, sizeof m1), GV_NOISE_MSG1_MIN);
    assert_hex(m1, 32, bob_pk_hex);
    unhex(bob_pk_hex, b_pk, 32);
    assert_int_equal(crypto_scalarmult(shared, a_sk, b_pk), 0);
    assert_hex(shared, 32, shared_hex);
    /* Too late once the message is out. */
    assert_int_equal(gv_noise_test_ephemeral(a, a_sk), GV_ESTATE);
    assert_int_equal(gv_noise_test_ephemeral(NULL, a_sk), GV_EINVAL);
    assert_int_equal(gv_noise_test_ephemeral(b, NULL), GV_EINVAL);
    gv_noise_destroy(a);
    gv_noise_destroy(b);
}

/* Without the test hook every key is libsodium's: each pair matches, and
 * no two handshakes (either side) share an ephemeral key. */
static void test_fresh_keys(void **state)
{
    (void)state;
    uint8_t sk[2][32], pk[2][32], derived[32], s_sk[32], s_pk[32];
    uint8_t m1[2][64], m2[2][128], p[16];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(gv_noise_keypair(sk[i], pk[i]), GV_OK);
        assert_int_equal(crypto_scalarmult_base(derived, sk[i]), 0);
        assert_memory_equal(derived, pk[i], 32);
    }
    assert_memory_not_equal(sk[0], sk[1], 32);
    assert_int_equal(gv_noise_keypair(sk[0], NULL), GV_EINVAL);
    assert_int_equal(gv_noise_keypair(NULL, pk[0]), GV_EINVAL);

    assert_int_equal(gv_noise_keypair(s_sk, s_pk), GV_OK);
    for (int i = 0; i < 2; i++) {
        gv_noise *init = NULL, *resp = NULL;
        assert_int_equal(gv_noise_initiator_create(vec_prologue, sizeof vec_prologue, &init), GV_OK);
        assert_int_equal(
            gv_noise_responder_create(vec_prologue, sizeof vec_prologue, s_sk, s_pk, &resp), GV_OK);
        assert_int_equal(gv_noise_write_message(init, NULL, 0, m1[i], sizeof m1[i]),
                         GV_NOISE_MSG1_MIN);
        assert_int_equal(gv_noise_read_message(resp, m1[i], GV_NOISE_MSG1_MIN, p, sizeof p), 0);
        assert_int_equal(gv_noise_write_message(resp, NULL, 0, m2[i], sizeof m2[i]),
                         GV_NOISE_MSG2_LEN);
        assert_int_equal(gv_noise_read_message(init, m2[i], GV_NOISE_MSG2_LEN, p, sizeof p), 0);
        gv_noise_destroy(init);
        gv_noise_destroy(resp);
    }
    assert_memory_not_equal(m1[0], m1[1], 32);
    assert_memory_not_equal(m2[0], m2[1], 32);
}

/* ---- the handshake ------------------------------------------------------- */

static void test_vector_transcript(void **state)
{
    (void)state;
    fixture f;
    setup_vector(&f);
    run_to_msg2(&f);
    uint8_t p[64];
    assert_int_equal(gv_noise_read_message(f.init, f.msg2, (size_t)f.msg2_len, p, sizeof p),
                     (int)strlen(vec_p2));
    assert_memory_equal(p, vec_p2, strlen(vec_p2));
    gv_seal_keys ki, kr;
    assert_int_equal(gv_noise_split(f.init, &ki), GV_OK);
    assert_int_equal(gv_noise_split(f.resp, &kr), GV_OK);

    /* The same bytes as the spec's formulas computed independently... */
    uint8_t r1[256], r2[256], rh[32], rk1[32], rk2[32];
    ref_nx(r1, r2, rh, rk1, rk2);
    assert_memory_equal(f.msg1, r1, (size_t)f.msg1_len);
    assert_memory_equal(f.msg2, r2, (size_t)f.msg2_len);
    assert_memory_equal(ki.handshake_hash, rh, 32);
    assert_memory_equal(ki.send, rk1, 32);
    assert_memory_equal(ki.recv, rk2, 32);

    /* ...and as pinned in docs/protocol.md, so any change shows. */
    assert_hex(f.msg1, (size_t)f.msg1_len, vec_msg1_hex);
    assert_hex(f.msg2, (size_t)f.msg2_len, vec_msg2_hex);
    assert_hex(ki.handshake_hash, 32, vec_hash_hex);
    assert_hex(ki.send, 32, vec_k1_hex);
    assert_hex(ki.recv, 32, vec_k2_hex);
    assert_hex(kr.send, 32, vec_k2_hex);
    assert_hex(kr.recv, 32, vec_k1_hex);
    assert_hex(kr.handshake_hash, 32, vec_hash_hex);
    teardown(&f);
}

static void test_mirrored_keys(void **state)
{
    (void)state;
    uint64_t st = g_seed;
    uint8_t s_sk[32], s_pk[32], got_pk[32], p[16];
    uint8_t m1[64], m2[128];
    gv_noise *init = NULL, *resp = NULL;
    seeded_fill(&st, s_sk, sizeof s_sk);
    CHECK_SEEDED(crypto_scalarmult_base(s_pk, s_sk) == 0);
    CHECK_SEEDED(gv_noise_initiator_create(NULL, 0, &init) == GV_OK);
    CHECK_SEEDED(gv_noise_responder_create(NULL, 0, s_sk, s_pk, &resp) == GV_OK);
    seeded_ephemeral(&st, init);
    seeded_ephemeral(&st, resp);
    int n1 = gv_noise_write_message(init, NULL, 0, m1, sizeof m1);
    CHECK_SEEDED(n1 == GV_NOISE_MSG1_MIN);
    CHECK_SEEDED(gv_noise_read_message(resp, m1, (size_t)n1, NULL, 0) == 0);
    int n2 = gv_noise_write_message(resp, NULL, 0, m2, sizeof m2);
    CHECK_SEEDED(n2 == GV_NOISE_MSG2_LEN);
    CHECK_SEEDED(gv_noise_remote_static(init, got_pk) == GV_ESTATE);
    CHECK_SEEDED(gv_noise_read_message(init, m2, (size_t)n2, p, sizeof p) == 0);
    CHECK_SEEDED(gv_noise_remote_static(init, got_pk) == GV_OK);
    CHECK_SEEDED(memcmp(got_pk, s_pk, 32) == 0);
    CHECK_SEEDED(gv_noise_remote_static(resp, got_pk) == GV_ESTATE);

    gv_seal_keys ki, kr;
    CHECK_SEEDED(gv_noise_split(init, &ki) == GV_OK);
    CHECK_SEEDED(gv_noise_split(resp, &kr) == GV_OK);
    CHECK_SEEDED(memcmp(ki.send, kr.recv, 32) == 0);
    CHECK_SEEDED(memcmp(ki.recv, kr.send, 32) == 0);
    CHECK_SEEDED(memcmp(ki.handshake_hash, kr.handshake_hash, 32) == 0);
    CHECK_SEEDED(memcmp(ki.send, ki.recv, 32) != 0);
    /* Split hands the keys out once; the server key is still readable. */
    CHECK_SEEDED(gv_noise_split(init, &ki) == GV_ESTATE);
    CHECK_SEEDED(gv_noise_remote_static(init, got_pk) == GV_OK);

    /* The split keys drive gv_seal in both directions. */
    gv_seal *si = NULL, *sr = NULL;
    uint8_t sealed[64], opened[64];
    CHECK_SEEDED(gv_seal_create(&ki, &si) == GV_OK);
    CHECK_SEEDED(gv_seal_create(&kr, &sr) == GV_OK);
    int n = gv_seal_encrypt(si, 1, NULL, 0, (const uint8_t *)"hi", 2, sealed, sizeof sealed);
    CHECK_SEEDED(gv_seal_decrypt(sr, 1, NULL, 0, sealed, (size_t)n, opened, sizeof opened) == 2);
    n = gv_seal_encrypt(sr, 1, NULL, 0, (const uint8_t *)"yo", 2, sealed, sizeof sealed);
    CHECK_SEEDED(gv_seal_decrypt(si, 1, NULL, 0, sealed, (size_t)n, opened, sizeof opened) == 2);
    gv_seal_destroy(si);
    gv_seal_destroy(sr);
    gv_noise_destroy(init);
    gv_noise_destroy(resp);
}

/* Every byte of message 2 is covered by a tag or feeds a DH whose result a
 * tag covers: any change must fail, and the state must stay dead. */
static void test_tamper_msg2(void **state)
{
    (void)state;
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    fixture f;
    setup_vector(&f);
    run_to_msg2(&f);
    uint8_t genuine[256];
    size_t len = (size_t)f.msg2_len;
    memcpy(genuine, f.msg2, len);
    teardown(&f);

    for (size_t m = 0; m < sizeof masks; m++) {
        for (size_t i = 0; i < len; i++) {
            uint8_t bad[256], p[64];
            setup_vector(&f);
            run_to_msg2(&f);
            memcpy(bad, genuine, len);
            bad[i] ^= masks[m];
            int rc = gv_noise_read_message(f.init, bad, len, p, sizeof p);
            if (rc != GV_EAUTH)
                print_error("byte %zu mask 0x%02x -> %d\n", i, masks[m], rc);
            assert_int_equal(rc, GV_EAUTH);
            /* Dead for good: even the genuine message is refused now. */
            assert_int_equal(gv_noise_read_message(f.init, genuine, len, p, sizeof p), GV_ESTATE);
            gv_seal_keys k;
            assert_int_equal(gv_noise_split(f.init, &k), GV_ESTATE);
            uint8_t pk[32];
            assert_int_equal(gv_noise_remote_static(f.init, pk), GV_ESTATE);
            teardown(&f);
        }
    }
    /* Control: the untampered message passes with the same setup. */
    setup_vector(&f);
    run_to_msg2(&f);
    uint8_t p[64];
    assert_int_equal(gv_noise_read_message(f.init, genuine, len, p, sizeof p), (int)strlen(vec_p2));
    teardown(&f);
}

/* Message 1 travels in clear but is hashed into the transcript: a change
 * anywhere makes message 2 unreadable for the real initiator. */
static void test_tamper_msg1(void **state)
{
    (void)state;
    fixture f;
    setup_vector(&f);
    uint8_t m1[64], p[64], m2[256];
    int n1 = gv_noise_write_message(f.init, (const uint8_t *)vec_p1, strlen(vec_p1), m1, sizeof m1);
    teardown(&f);
    for (int i = 0; i < n1; i++) {
        setup_vector(&f);
        assert_int_equal(gv_noise_write_message(f.init, (const uint8_t *)vec_p1, strlen(vec_p1),
                                                f.msg1, sizeof f.msg1),
                         n1);
        memcpy(f.msg1, m1, (size_t)n1);
        f.msg1[i] ^= 0x04;
        assert_int_equal(gv_noise_read_message(f.resp, f.msg1, (size_t)n1, p, sizeof p),
                         n1 - GV_NOISE_MSG1_MIN);
        int n2 = gv_noise_write_message(f.resp, NULL, 0, m2, sizeof m2);
        if (n2 >= 0)
            assert_int_equal(gv_noise_read_message(f.init, m2, (size_t)n2, p, sizeof p), GV_EAUTH);
        else
            assert_int_equal(n2, GV_EAUTH); /* the flipped key was a low-order point */
        teardown(&f);
    }
}

static void test_prologue_mismatch(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        size_t alen, blen;
        int expect;
    } cases[] = {
        {"gvoip\x01", "gvoip\x01", 6, 6, (int)sizeof "gvoip msg2" - 1},
        {"gvoip\x01", "gvoip\x02", 6, 6, GV_EAUTH},
        {"gvoip\x01", "", 6, 0, GV_EAUTH},
        {"", "gvoip\x01", 0, 6, GV_EAUTH},
        {"gvoip\x01", "gvoip\x01\x00", 6, 7, GV_EAUTH},
        {"", "", 0, 0, (int)sizeof "gvoip msg2" - 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fixture f;
        uint8_t p[64];
        setup_sides(&f, (const uint8_t *)cases[c].a, cases[c].alen, (const uint8_t *)cases[c].b,
                    cases[c].blen);
        run_to_msg2(&f);
        int rc = gv_noise_read_message(f.init, f.msg2, (size_t)f.msg2_len, p, sizeof p);
        if (rc != cases[c].expect)
            print_error("case %zu\n", c);
        assert_int_equal(rc, cases[c].expect);
        teardown(&f);
    }
}

static void test_bad_lengths(void **state)
{
    (void)state;
    static uint8_t big[GV_NOISE_MAX_MSG + 1];
    uint8_t p[GV_NOISE_MAX_MSG];
    static const struct {
        int reader_is_initiator;
        size_t len;
    } cases[] = {
        {0, 0}, {0, 1}, {0, 31}, {0, GV_NOISE_MAX_MSG + 1},
        {1, 0}, {1, 32}, {1, 80}, {1, 95}, {1, GV_NOISE_MAX_MSG + 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fixture f;
        setup_vector(&f);
        run_to_msg2(&f);
        gv_noise *reader = f.resp;
        if (cases[c].reader_is_initiator) {
            reader = f.init;
        } else {
            gv_noise_destroy(f.resp);
            assert_int_equal(gv_noise_responder_create(NULL, 0, f.s_sk, f.s_pk, &f.resp), GV_OK);
            reader = f.resp;
        }
        const uint8_t *msg = cases[c].reader_is_initiator ? f.msg2 : f.msg1;
        if (cases[c].len > sizeof f.msg2)
            msg = big;
        assert_int_equal(gv_noise_read_message(reader, msg, cases[c].len, p, sizeof p),
                         GV_EMALFORMED);
        /* The state died with the bad message. */
        const uint8_t *good = cases[c].reader_is_initiator ? f.msg2 : f.msg1;
        size_t good_len = (size_t)(cases[c].reader_is_initiator ? f.msg2_len : f.msg1_len);
        assert_int_equal(gv_noise_read_message(reader, good, good_len, p, sizeof p), GV_ESTATE);
        teardown(&f);
    }
}

static void test_state_and_args(void **state)
{
    (void)state;
    fixture f;
    uint8_t p[64], out[256];
    gv_seal_keys k;
    gv_noise *n = NULL;
    uint8_t key[32] = {0};

    gv_noise_destroy(NULL);
    assert_int_equal(gv_noise_initiator_create(NULL, 1, &n), GV_EINVAL);
    assert_null(n);
    assert_int_equal(gv_noise_initiator_create(NULL, 0, NULL), GV_EINVAL);
    assert_int_equal(gv_noise_responder_create(NULL, 0, NULL, key, &n), GV_EINVAL);
    assert_null(n);

    setup_vector(&f);
    /* Out of turn. */
    assert_int_equal(gv_noise_read_message(f.init, out, 96, p, sizeof p), GV_ESTATE);
    assert_int_equal(gv_noise_write_message(f.resp, NULL, 0, out, sizeof out), GV_ESTATE);
    assert_int_equal(gv_noise_split(f.init, &k), GV_ESTATE);
    assert_int_equal(gv_noise_split(f.resp, &k), GV_ESTATE);
    /* Too small an output leaves the state as it was. */
    assert_int_equal(gv_noise_write_message(f.init, (const uint8_t *)vec_p1, strlen(vec_p1), out,
                                            GV_NOISE_MSG1_MIN + strlen(vec_p1) - 1),
                     GV_ETOOBIG);
    assert_int_equal(gv_noise_write_message(f.init, out, GV_NOISE_MAX_MSG, out + 0, sizeof out),
                     GV_ETOOBIG);
    /* Output overlapping the payload. */
    memcpy(out + 32, vec_p1, strlen(vec_p1));
    assert_int_equal(gv_noise_write_message(f.init, out + 32, strlen(vec_p1), out, sizeof out),
                     GV_EINVAL);
    assert_int_equal(gv_noise_write_message(f.init, NULL, 3, out, sizeof out), GV_EINVAL);
    teardown(&f);

    setup_vector(&f);
    run_to_msg2(&f);
    assert_int_equal(gv_noise_read_message(f.init, f.msg2, (size_t)f.msg2_len, p, 3), GV_ETOOBIG);
    assert_int_equal(gv_noise_read_message(f.init, f.msg2, (size_t)f.msg2_len, NULL, 0),
                     GV_EINVAL);
    assert_int_equal(gv_noise_read_message(f.init, f.msg2, (size_t)f.msg2_len, p, sizeof p),
                     (int)strlen(vec_p2));
    /* Done: no more messages either way. */
    assert_int_equal(gv_noise_write_message(f.init, NULL, 0, out, sizeof out), GV_ESTATE);
    assert_int_equal(gv_noise_write_message(f.resp, NULL, 0, out, sizeof out), GV_ESTATE);
    assert_int_equal(gv_noise_read_message(f.resp, f.msg1, (size_t)f.msg1_len, p, sizeof p),
                     GV_ESTATE);
    teardown(&f);
}

/* A captured message 2 is useless to an initiator with another ephemeral,
 * and a replayed message 1 makes the responder derive fresh keys. */
static void test_replayed_handshake(void **state)
{
    (void)state;
    fixture f;
    uint8_t p[64], m1[64], m2[128];
    setup_vector(&f);
    run_to_msg2(&f);
    assert_int_equal(gv_noise_read_message(f.init, f.msg2, (size_t)f.msg2_len, p, sizeof p),
                     (int)strlen(vec_p2));
    gv_seal_keys orig;
    assert_int_equal(gv_noise_split(f.resp, &orig), GV_OK);

    uint64_t st = g_seed;
    gv_noise *other = NULL, *resp2 = NULL;
    assert_int_equal(gv_noise_initiator_create(vec_prologue, sizeof vec_prologue, &other), GV_OK);
    seeded_ephemeral(&st, other);
    assert_int_equal(gv_noise_write_message(other, NULL, 0, m1, sizeof m1), GV_NOISE_MSG1_MIN);
    assert_int_equal(gv_noise_read_message(other, f.msg2, (size_t)f.msg2_len, p, sizeof p),
                     GV_EAUTH);

    assert_int_equal(
        gv_noise_responder_create(vec_prologue, sizeof vec_prologue, f.s_sk, f.s_pk, &resp2), GV_OK);
    seeded_ephemeral(&st, resp2);
    assert_int_equal(gv_noise_read_message(resp2, f.msg1, (size_t)f.msg1_len, p, sizeof p),
                     (int)strlen(vec_p1));
    int n2 = gv_noise_write_message(resp2, NULL, 0, m2, sizeof m2);
    assert_int_equal(n2, GV_NOISE_MSG2_LEN);
    gv_seal_keys again;
    assert_int_equal(gv_noise_split(resp2, &again), GV_OK);
    CHECK_SEEDED(memcmp(orig.send, again.send, 32) != 0);
    CHECK_SEEDED(memcmp(orig.recv, again.recv, 32) != 0);
    CHECK_SEEDED(memcmp(orig.handshake_hash, again.handshake_hash, 32) != 0);
    gv_noise_destroy(other);
    gv_noise_destroy(resp2);
    teardown(&f);
}

/* A low-order ephemeral key gives an all-zero DH result; both sides refuse
 * it instead of deriving keys an attacker can predict. */
static void test_low_order_keys(void **state)
{
    (void)state;
    fixture f;
    uint8_t m[128] = {0}, p[64];
    setup_vector(&f);
    assert_int_equal(gv_noise_read_message(f.resp, m, 32, p, sizeof p), 0);
    assert_int_equal(gv_noise_write_message(f.resp, NULL, 0, m, sizeof m), GV_EAUTH);
    assert_int_equal(gv_noise_write_message(f.resp, NULL, 0, m, sizeof m), GV_ESTATE);
    teardown(&f);

    setup_vector(&f);
    assert_int_equal(gv_noise_write_message(f.init, NULL, 0, m, sizeof m), GV_NOISE_MSG1_MIN);
    memset(m, 0, sizeof m);
    assert_int_equal(gv_noise_read_message(f.init, m, GV_NOISE_MSG2_LEN, p, sizeof p), GV_EAUTH);
    teardown(&f);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hkdf_rfc5869_case1),
        cmocka_unit_test(test_hkdf_matches_noise_formula),
        cmocka_unit_test(test_x25519_rfc7748),
        cmocka_unit_test(test_fresh_keys),
        cmocka_unit_test(test_vector_transcript),
        cmocka_unit_test(test_mirrored_keys),
        cmocka_unit_test(test_tamper_msg2),
        cmocka_unit_test(test_tamper_msg1),
        cmocka_unit_test(test_prologue_mismatch),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_state_and_args),
        cmocka_unit_test(test_replayed_handshake),
        cmocka_unit_test(test_low_order_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
