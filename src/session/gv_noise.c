#include "session/gv_noise.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"

/* Exactly HASHLEN (32) bytes, so it becomes h without hashing or padding. */
static const char protocol_name[] = "Noise_NX_25519_ChaChaPoly_SHA256";
_Static_assert(sizeof protocol_name - 1 == crypto_hash_sha256_BYTES, "name must be HASHLEN");

#define HMAC_LEN crypto_auth_hmacsha256_BYTES

enum role { ROLE_INITIATOR, ROLE_RESPONDER };

/* The next thing each side may do; DEAD after any failure that touched the
 * transcript, so a half-verified handshake can never be split. */
enum step {
    STEP_INIT_WRITE1,
    STEP_INIT_READ2,
    STEP_RESP_READ1,
    STEP_RESP_WRITE2,
    STEP_DONE,
    STEP_SPLIT,
    STEP_DEAD,
};

struct gv_noise {
    enum role role;
    enum step step;
    /* SymmetricState */
    uint8_t ck[32];
    uint8_t h[32];
    uint8_t k[32];
    int has_k;
    uint64_t n;
    /* HandshakeState */
    uint8_t s_sk[32], s_pk[32];
    uint8_t e_sk[32], e_pk[32];
    uint8_t re[32];
    uint8_t rs[32];
    int has_rs;
    int has_e; /* e_sk/e_pk were fixed by gv_noise_test_ephemeral */
};

static int overlaps(const void *a, size_t alen, const void *b, size_t blen)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    if (alen == 0 || blen == 0)
        return 0;
    return pa < pb + blen && pb < pa + alen;
}

static void hmac(const uint8_t *key, size_t key_len, const uint8_t *a, size_t a_len,
                 const uint8_t *b, size_t b_len, uint8_t c, uint8_t out[HMAC_LEN])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    if (a_len > 0)
        crypto_auth_hmacsha256_update(&st, a, a_len);
    if (b_len > 0)
        crypto_auth_hmacsha256_update(&st, b, b_len);
    crypto_auth_hmacsha256_update(&st, &c, 1);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

int gv_noise_hkdf(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                  const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    if ((salt == NULL && salt_len > 0) || (ikm == NULL && ikm_len > 0) ||
        (info == NULL && info_len > 0) || out == NULL || out_len == 0 ||
        out_len > 255 * HMAC_LEN)
        return GV_EINVAL;

    /* RFC 5869: an absent salt is HashLen zero bytes, which HMAC's key
     * padding makes identical to an empty key. */
    static const uint8_t zero_salt[HMAC_LEN];
    uint8_t prk[HMAC_LEN];
    uint8_t t[HMAC_LEN];
    crypto_auth_hmacsha256_state st;
    if (salt_len == 0) {
        salt = zero_salt;
        salt_len = sizeof zero_salt;
    }
    crypto_auth_hmacsha256_init(&st, salt, salt_len);
    if (ikm_len > 0)
        crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
    crypto_auth_hmacsha256_final(&st, prk);
    sodium_memzero(&st, sizeof st);

    size_t done = 0, t_len = 0;
    for (uint8_t i = 1; done < out_len; i++) {
        hmac(prk, sizeof prk, t, t_len, info, info_len, i, t);
        t_len = sizeof t;
        size_t take = out_len - done < sizeof t ? out_len - done : sizeof t;
        memcpy(out + done, t, take);
        done += take;
    }
    sodium_memzero(prk, sizeof prk);
    sodium_memzero(t, sizeof t);
    return GV_OK;
}

/* X25519 clamps the scalar itself, so any 32 bytes are a valid secret. */
static int public_of(const uint8_t sk[32], uint8_t pk[32])
{
    return crypto_scalarmult_base(pk, sk) == 0 ? GV_OK : GV_EKEY;
}

int gv_noise_keypair(uint8_t sk[32], uint8_t pk[32])
{
    if (sk == NULL || pk == NULL)
        return GV_EINVAL;
    randombytes_buf(sk, 32);
    int rc = public_of(sk, pk);
    if (rc != GV_OK)
        sodium_memzero(sk, 32);
    return rc;
}

static void mix_hash(gv_noise *ns, const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, ns->h, sizeof ns->h);
    if (len > 0)
        crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, ns->h);
}

static int mix_key_dh(gv_noise *ns, const uint8_t sk[32], const uint8_t pk[32])
{
    uint8_t dh[32];
    uint8_t okm[64];
    /* libsodium refuses a low-order point (all-zero result); Noise allows
     * rejecting it, and a handshake with one has no secret to offer. */
    if (crypto_scalarmult(dh, sk, pk) != 0) {
        sodium_memzero(dh, sizeof dh);
        return GV_EAUTH;
    }
    gv_noise_hkdf(ns->ck, sizeof ns->ck, dh, sizeof dh, NULL, 0, okm, sizeof okm);
    memcpy(ns->ck, okm, 32);
    memcpy(ns->k, okm + 32, 32);
    ns->has_k = 1;
    ns->n = 0;
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(okm, sizeof okm);
    return GV_OK;
}

static void make_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], uint64_t n)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/* out holds len + 16 (tag) bytes when a key is set, len otherwise. NX
 * encrypts at most once per key, so n never nears Noise's 2^64-1 limit. */
static void encrypt_and_hash(gv_noise *ns, const uint8_t *plain, size_t len, uint8_t *out)
{
    size_t out_len = len;
    if (ns->has_k) {
        uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
        unsigned long long clen = 0;
        make_nonce(nonce, ns->n);
        crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, plain, len, ns->h, sizeof ns->h,
                                                  NULL, nonce, ns->k);
        ns->n++;
        out_len = (size_t)clen;
    } else if (len > 0) {
        memcpy(out, plain, len);
    }
    mix_hash(ns, out, out_len);
}

/* in is len bytes; out gets len - 16 (tag) bytes when a key is set. */
static int decrypt_and_hash(gv_noise *ns, const uint8_t *in, size_t len, uint8_t *out)
{
    if (ns->has_k) {
        uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
        unsigned long long mlen = 0;
        make_nonce(nonce, ns->n);
        if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, in, len, ns->h,
                                                      sizeof ns->h, nonce, ns->k) != 0)
            return GV_EAUTH;
        ns->n++;
    } else if (len > 0) {
        memcpy(out, in, len);
    }
    mix_hash(ns, in, len);
    return GV_OK;
}

/* A failed step leaves a transcript that must never be split or reused. */
static void make_dead(gv_noise *ns)
{
    enum role role = ns->role;
    sodium_memzero(ns, sizeof *ns);
    ns->role = role;
    ns->step = STEP_DEAD;
}

static void finish(gv_noise *ns)
{
    sodium_memzero(ns->e_sk, sizeof ns->e_sk);
    sodium_memzero(ns->s_sk, sizeof ns->s_sk);
    sodium_memzero(ns->k, sizeof ns->k);
    ns->has_k = 0;
    ns->step = STEP_DONE;
}

static int create(enum role role, const uint8_t *prologue, size_t prologue_len, gv_noise **out)
{
    gv_noise *ns = calloc(1, sizeof *ns);
    if (ns == NULL)
        return GV_ENOMEM;
    ns->role = role;
    ns->step = role == ROLE_INITIATOR ? STEP_INIT_WRITE1 : STEP_RESP_READ1;
    memcpy(ns->h, protocol_name, sizeof ns->h);
    memcpy(ns->ck, ns->h, sizeof ns->ck);
    mix_hash(ns, prologue, prologue_len);
    *out = ns;
    return GV_OK;
}

int gv_noise_initiator_create(const uint8_t *prologue, size_t prologue_len, gv_noise **out)
{
    if (out == NULL)
        return GV_EINVAL;
    *out = NULL;
    if (prologue == NULL && prologue_len > 0)
        return GV_EINVAL;
    return create(ROLE_INITIATOR, prologue, prologue_len, out);
}

int gv_noise_responder_create(const uint8_t *prologue, size_t prologue_len,
                              const uint8_t static_sk[32], const uint8_t static_pk[32],
                              gv_noise **out)
{
    if (out == NULL)
        return GV_EINVAL;
    *out = NULL;
    if ((prologue == NULL && prologue_len > 0) || static_sk == NULL || static_pk == NULL)
        return GV_EINVAL;
    int rc = create(ROLE_RESPONDER, prologue, prologue_len, out);
    if (rc != GV_OK)
        return rc;
    memcpy((*out)->s_sk, static_sk, 32);
    memcpy((*out)->s_pk, static_pk, 32);
    return GV_OK;
}

void gv_noise_destroy(gv_noise *noise)
{
    if (noise == NULL)
        return;
    sodium_memzero(noise, sizeof *noise);
    free(noise);
}

int gv_noise_test_ephemeral(gv_noise *noise, const uint8_t e_sk[32])
{
    if (noise == NULL || e_sk == NULL)
        return GV_EINVAL;
    if (noise->step != STEP_INIT_WRITE1 && noise->step != STEP_RESP_READ1 &&
        noise->step != STEP_RESP_WRITE2)
        return GV_ESTATE;
    memcpy(noise->e_sk, e_sk, 32);
    int rc = public_of(noise->e_sk, noise->e_pk);
    noise->has_e = rc == GV_OK;
    if (rc != GV_OK)
        sodium_memzero(noise->e_sk, 32);
    return rc;
}

static int new_ephemeral(gv_noise *ns)
{
    return ns->has_e ? GV_OK : gv_noise_keypair(ns->e_sk, ns->e_pk);
}

/* -> e */
static int write_msg1(gv_noise *ns, const uint8_t *payload, size_t payload_len, uint8_t *out)
{
    int rc = new_ephemeral(ns);
    if (rc != GV_OK)
        return rc;
    memcpy(out, ns->e_pk, 32);
    mix_hash(ns, ns->e_pk, 32);
    encrypt_and_hash(ns, payload, payload_len, out + 32);
    ns->step = STEP_INIT_READ2;
    return (int)(GV_NOISE_MSG1_MIN + payload_len);
}

/* <- e, ee, s, es */
static int write_msg2(gv_noise *ns, const uint8_t *payload, size_t payload_len, uint8_t *out)
{
    int rc = new_ephemeral(ns);
    if (rc != GV_OK)
        return rc;
    memcpy(out, ns->e_pk, 32);
    mix_hash(ns, ns->e_pk, 32);
    if ((rc = mix_key_dh(ns, ns->e_sk, ns->re)) != GV_OK)
        return rc;
    encrypt_and_hash(ns, ns->s_pk, 32, out + 32);
    if ((rc = mix_key_dh(ns, ns->s_sk, ns->re)) != GV_OK)
        return rc;
    encrypt_and_hash(ns, payload, payload_len, out + 32 + 48);
    finish(ns);
    return (int)(GV_NOISE_MSG2_LEN + payload_len);
}

int gv_noise_write_message(gv_noise *noise, const uint8_t *payload, size_t payload_len,
                           uint8_t *out, size_t cap)
{
    if (noise == NULL || out == NULL || (payload == NULL && payload_len > 0))
        return GV_EINVAL;
    size_t overhead;
    if (noise->step == STEP_INIT_WRITE1)
        overhead = GV_NOISE_MSG1_MIN;
    else if (noise->step == STEP_RESP_WRITE2)
        overhead = GV_NOISE_MSG2_LEN;
    else
        return GV_ESTATE;
    if (payload_len > GV_NOISE_MAX_MSG - overhead || cap < overhead + payload_len)
        return GV_ETOOBIG;
    if (overlaps(payload, payload_len, out, overhead + payload_len))
        return GV_EINVAL;

    int rc = noise->step == STEP_INIT_WRITE1 ? write_msg1(noise, payload, payload_len, out)
                                             : write_msg2(noise, payload, payload_len, out);
    if (rc < 0) {
        sodium_memzero(out, overhead + payload_len);
        make_dead(noise);
    }
    return rc;
}

/* -> e */
static int read_msg1(gv_noise *ns, const uint8_t *msg, size_t len, uint8_t *payload_out)
{
    memcpy(ns->re, msg, 32);
    mix_hash(ns, ns->re, 32);
    int rc = decrypt_and_hash(ns, msg + 32, len - 32, payload_out);
    if (rc != GV_OK)
        return rc;
    ns->step = STEP_RESP_WRITE2;
    return (int)(len - 32);
}

/* <- e, ee, s, es */
static int read_msg2(gv_noise *ns, const uint8_t *msg, size_t len, uint8_t *payload_out)
{
    int rc;
    memcpy(ns->re, msg, 32);
    mix_hash(ns, ns->re, 32);
    if ((rc = mix_key_dh(ns, ns->e_sk, ns->re)) != GV_OK)
        return rc;
    if ((rc = decrypt_and_hash(ns, msg + 32, 48, ns->rs)) != GV_OK)
        return rc;
    if ((rc = mix_key_dh(ns, ns->e_sk, ns->rs)) != GV_OK)
        return rc;
    if ((rc = decrypt_and_hash(ns, msg + 80, len - 80, payload_out)) != GV_OK)
        return rc;
    ns->has_rs = 1;
    finish(ns);
    return (int)(len - GV_NOISE_MSG2_LEN);
}

int gv_noise_read_message(gv_noise *noise, const uint8_t *msg, size_t len, uint8_t *payload_out,
                          size_t cap)
{
    if (noise == NULL || msg == NULL)
        return GV_EINVAL;
    size_t overhead;
    if (noise->step == STEP_RESP_READ1)
        overhead = GV_NOISE_MSG1_MIN;
    else if (noise->step == STEP_INIT_READ2)
        overhead = GV_NOISE_MSG2_LEN;
    else
        return GV_ESTATE;
    if (len < overhead || len > GV_NOISE_MAX_MSG) {
        make_dead(noise);
        return GV_EMALFORMED;
    }
    size_t payload_len = len - overhead;
    if (payload_out == NULL && payload_len > 0)
        return GV_EINVAL;
    if (cap < payload_len)
        return GV_ETOOBIG;
    if (overlaps(msg, len, payload_out, payload_len))
        return GV_EINVAL;

    /* libsodium wants somewhere to write even an empty plaintext. */
    uint8_t empty[1];
    uint8_t *dst = payload_len > 0 ? payload_out : empty;
    int rc = noise->step == STEP_RESP_READ1 ? read_msg1(noise, msg, len, dst)
                                            : read_msg2(noise, msg, len, dst);
    if (rc < 0) {
        if (payload_len > 0)
            sodium_memzero(payload_out, payload_len);
        make_dead(noise);
    }
    return rc;
}

int gv_noise_remote_static(const gv_noise *noise, uint8_t pk[32])
{
    if (noise == NULL || pk == NULL)
        return GV_EINVAL;
    if (!noise->has_rs)
        return GV_ESTATE;
    memcpy(pk, noise->rs, 32);
    return GV_OK;
}

int gv_noise_split(gv_noise *noise, gv_seal_keys *out)
{
    if (noise == NULL || out == NULL)
        return GV_EINVAL;
    if (noise->step != STEP_DONE)
        return GV_ESTATE;
    uint8_t okm[64];
    gv_noise_hkdf(noise->ck, sizeof noise->ck, NULL, 0, NULL, 0, okm, sizeof okm);
    /* Noise: the initiator sends with the first key. */
    const uint8_t *k1 = okm, *k2 = okm + 32;
    memcpy(out->send, noise->role == ROLE_INITIATOR ? k1 : k2, 32);
    memcpy(out->recv, noise->role == ROLE_INITIATOR ? k2 : k1, 32);
    memcpy(out->handshake_hash, noise->h, 32);
    out->cipher = GV_SEAL_CHACHA20POLY1305;
    sodium_memzero(okm, sizeof okm);
    sodium_memzero(noise->ck, sizeof noise->ck);
    noise->step = STEP_SPLIT;
    return GV_OK;
}
