#include "session/gv_seal.h"

#include <limits.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"

#define COUNTER_LEN 8

_Static_assert(crypto_aead_aes256gcm_NPUBBYTES == GV_SEAL_NONCE &&
                   crypto_aead_chacha20poly1305_ietf_NPUBBYTES == GV_SEAL_NONCE &&
                   crypto_aead_aes256gcm_ABYTES == GV_SEAL_TAG &&
                   crypto_aead_chacha20poly1305_ietf_ABYTES == GV_SEAL_TAG,
               "both AEADs share one nonce and tag layout");

struct gv_seal {
    gv_seal_cipher cipher;
    uint8_t send_key[32];
    uint8_t recv_key[32];
    /* AES-256-GCM: the expanded keys, computed once (libsodium's "afternm"). */
    crypto_aead_aes256gcm_state send_aes;
    crypto_aead_aes256gcm_state recv_aes;
    uint64_t send_next[GV_SEAL_CHANNELS];
    gv_seal_window recv[GV_SEAL_CHANNELS];
};

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Noise's ChaChaPoly nonce is 32 zero bits then the 64-bit LE counter; the
 * channel id takes the zero bits so that the channels never share a nonce.
 * AES-256-GCM takes the same 96 bits. */
static void make_nonce(uint8_t nonce[GV_SEAL_NONCE], uint8_t channel,
                       uint64_t counter)
{
    nonce[0] = channel;
    nonce[1] = nonce[2] = nonce[3] = 0;
    put_le64(nonce + 4, counter);
}

/* libsodium takes one associated-data buffer: channel byte, then the
 * caller's bytes. */
static size_t make_aad(uint8_t *buf, uint8_t channel, const uint8_t *aad, size_t aad_len)
{
    buf[0] = channel;
    if (aad_len > 0)
        memcpy(buf + 1, aad, aad_len);
    return aad_len + 1;
}

static int overlaps(const void *a, size_t alen, const void *b, size_t blen)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    if (alen == 0 || blen == 0)
        return 0;
    return pa < pb + blen && pb < pa + alen;
}

static int bit_get(const gv_seal_window *w, uint64_t c)
{
    uint64_t i = c % GV_SEAL_WINDOW;
    return (int)((w->seen[i / 64] >> (i % 64)) & 1u);
}

static void bit_set(gv_seal_window *w, uint64_t c, int on)
{
    uint64_t i = c % GV_SEAL_WINDOW;
    uint64_t mask = (uint64_t)1 << (i % 64);
    if (on)
        w->seen[i / 64] |= mask;
    else
        w->seen[i / 64] &= ~mask;
}

/* UINT64_MAX is never sent (encrypt stops before it), and accepting it would
 * wrap top to 0 and reopen the whole window. */
int gv_seal_window_check(const gv_seal_window *w, uint64_t c)
{
    if (c == UINT64_MAX)
        return GV_EREPLAY;
    if (c >= w->top)
        return GV_OK;
    if (w->top - c > GV_SEAL_WINDOW)
        return GV_EREPLAY;
    return bit_get(w, c) ? GV_EREPLAY : GV_OK;
}

void gv_seal_window_accept(gv_seal_window *w, uint64_t c)
{
    if (c >= w->top) {
        if (c - w->top >= GV_SEAL_WINDOW) {
            memset(w->seen, 0, sizeof w->seen);
        } else {
            /* The slots of the skipped counters still hold bits of counters
             * that have just fallen out of the window. */
            for (uint64_t k = w->top; k < c; k++)
                bit_set(w, k, 0);
        }
        w->top = c + 1;
    }
    bit_set(w, c, 1);
}

int gv_seal_aes256gcm_available(void)
{
    return crypto_aead_aes256gcm_is_available();
}

int gv_seal_create(const gv_seal_keys *keys, gv_seal **out)
{
    if (out == NULL)
        return GV_EINVAL;
    *out = NULL;
    if (keys == NULL || (keys->cipher != GV_SEAL_CHACHA20POLY1305 && keys->cipher != GV_SEAL_AES256GCM) ||
        (keys->cipher == GV_SEAL_AES256GCM && !gv_seal_aes256gcm_available()))
        return GV_EINVAL;
    /* The AES states must be 16-byte aligned. */
    size_t size = (sizeof(gv_seal) + alignof(gv_seal) - 1) / alignof(gv_seal) * alignof(gv_seal);
    gv_seal *s = aligned_alloc(alignof(gv_seal), size);
    if (s == NULL)
        return GV_ENOMEM;
    memset(s, 0, sizeof *s);
    s->cipher = keys->cipher;
    memcpy(s->send_key, keys->send, sizeof s->send_key);
    memcpy(s->recv_key, keys->recv, sizeof s->recv_key);
    if (s->cipher == GV_SEAL_AES256GCM) {
        crypto_aead_aes256gcm_beforenm(&s->send_aes, s->send_key);
        crypto_aead_aes256gcm_beforenm(&s->recv_aes, s->recv_key);
    }
    *out = s;
    return GV_OK;
}

void gv_seal_destroy(gv_seal *seal)
{
    if (seal == NULL)
        return;
    sodium_memzero(seal, sizeof *seal);
    free(seal);
}

/* Whether out can take len bytes sealed with `overhead` more: 0,
 * GV_ETOOBIG or GV_EINVAL (it overlaps plain). */
static int seal_room(const uint8_t *plain, size_t len, const uint8_t *out, size_t cap, size_t overhead)
{
    if (len > (size_t)INT_MAX - overhead || cap < len + overhead)
        return GV_ETOOBIG;
    return overlaps(plain, len, out, len + overhead) ? GV_EINVAL : GV_OK;
}

/* Whether out can take the plain_len bytes that opening in gives: 0,
 * GV_EINVAL (NULL, or it overlaps in) or GV_ETOOBIG. */
static int open_room(const uint8_t *in, size_t len, const uint8_t *out, size_t cap, size_t plain_len)
{
    if (out == NULL && plain_len > 0)
        return GV_EINVAL;
    if (cap < plain_len)
        return GV_ETOOBIG;
    return overlaps(in, len, out, plain_len) ? GV_EINVAL : GV_OK;
}

/* The AEAD itself, on arguments already checked: ciphertext and tag into
 * out. */
static void aead_seal(gv_seal *seal, const uint8_t *nonce, const uint8_t *ad, size_t ad_len, const uint8_t *plain,
                      size_t len, uint8_t *out)
{
#ifdef GVOIP_BENCH_NULL_AEAD
    /* Benchmark-only build (bench/run.sh): same framing and counters, no
     * cipher, so the relay's cost of the AEAD itself can be measured. */
    (void)seal, (void)nonce, (void)ad, (void)ad_len;
    if (len > 0)
        memcpy(out, plain, len);
    memset(out + len, 0, GV_SEAL_TAG);
#else
    unsigned long long clen = 0;
    if (seal->cipher == GV_SEAL_AES256GCM)
        crypto_aead_aes256gcm_encrypt_afternm(out, &clen, plain, len, ad, ad_len, NULL, nonce, &seal->send_aes);
    else
        crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, plain, len, ad, ad_len, NULL, nonce, seal->send_key);
#endif
}

/* Opens len bytes of ciphertext and tag into out (len - GV_SEAL_TAG
 * bytes); GV_EAUTH with out wiped when the tag does not verify. */
static int aead_open(gv_seal *seal, const uint8_t *nonce, const uint8_t *ad, size_t ad_len, const uint8_t *in,
                     size_t len, uint8_t *out)
{
    size_t plain_len = len - GV_SEAL_TAG;
#ifdef GVOIP_BENCH_NULL_AEAD
    (void)seal, (void)nonce, (void)ad, (void)ad_len;
    if (plain_len > 0)
        memcpy(out, in, plain_len);
    return GV_OK;
#else
    unsigned long long mlen = 0;
    int bad = seal->cipher == GV_SEAL_AES256GCM
                  ? crypto_aead_aes256gcm_decrypt_afternm(out, &mlen, NULL, in, len, ad, ad_len, nonce,
                                                          &seal->recv_aes)
                  : crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, in, len, ad, ad_len, nonce,
                                                              seal->recv_key);
    if (bad != 0) {
        if (plain_len > 0)
            sodium_memzero(out, plain_len);
        return GV_EAUTH;
    }
    return GV_OK;
#endif
}

int gv_seal_encrypt(gv_seal *seal, uint8_t channel, const uint8_t *aad, size_t aad_len,
                    const uint8_t *plain, size_t len, uint8_t *out, size_t cap)
{
    if (seal == NULL || out == NULL || channel >= GV_SEAL_CHANNELS)
        return GV_EINVAL;
    if ((aad == NULL && aad_len > 0) || aad_len > GV_SEAL_MAX_AAD)
        return GV_EINVAL;
    if (plain == NULL && len > 0)
        return GV_EINVAL;
    int rc = seal_room(plain, len, out, cap, GV_SEAL_OVERHEAD);
    if (rc != GV_OK)
        return rc;

    uint64_t counter = seal->send_next[channel];
    if (counter == UINT64_MAX)
        return GV_ESTATE;

    uint8_t nonce[GV_SEAL_NONCE];
    uint8_t ad[1 + GV_SEAL_MAX_AAD];
    size_t ad_len = make_aad(ad, channel, aad, aad_len);
    make_nonce(nonce, channel, counter);
    put_le64(out, counter);
    aead_seal(seal, nonce, ad, ad_len, plain, len, out + COUNTER_LEN);
    seal->send_next[channel] = counter + 1;
    return (int)(len + GV_SEAL_OVERHEAD);
}

int gv_seal_decrypt(gv_seal *seal, uint8_t channel, const uint8_t *aad, size_t aad_len,
                    const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    if (seal == NULL || (in == NULL && len > 0))
        return GV_EINVAL;
    if ((aad == NULL && aad_len > 0) || aad_len > GV_SEAL_MAX_AAD)
        return GV_EINVAL;
    if (channel >= GV_SEAL_CHANNELS || len < GV_SEAL_OVERHEAD)
        return GV_EMALFORMED;
    if (len > (size_t)INT_MAX)
        return GV_EMALFORMED;
    size_t plain_len = len - GV_SEAL_OVERHEAD;
    int rc = open_room(in, len, out, cap, plain_len);
    if (rc != GV_OK)
        return rc;

    gv_seal_window *w = &seal->recv[channel];
    uint64_t counter = get_le64(in);
    rc = gv_seal_window_check(w, counter);
    if (rc != GV_OK)
        return rc;

    uint8_t nonce[GV_SEAL_NONCE];
    uint8_t ad[1 + GV_SEAL_MAX_AAD];
    size_t ad_len = make_aad(ad, channel, aad, aad_len);
    make_nonce(nonce, channel, counter);
    rc = aead_open(seal, nonce, ad, ad_len, in + COUNTER_LEN, len - COUNTER_LEN, out);
    if (rc != GV_OK)
        return rc;
    gv_seal_window_accept(w, counter);
    return (int)plain_len;
}

int gv_seal_encrypt_at(gv_seal *seal, const uint8_t nonce[GV_SEAL_NONCE], const uint8_t *aad, size_t aad_len,
                       const uint8_t *plain, size_t len, uint8_t *out, size_t cap)
{
    if (seal == NULL || nonce == NULL || out == NULL || (aad == NULL && aad_len > 0) ||
        aad_len > GV_SEAL_MAX_AAD || (plain == NULL && len > 0))
        return GV_EINVAL;
    int rc = seal_room(plain, len, out, cap, GV_SEAL_TAG);
    if (rc != GV_OK)
        return rc;
    aead_seal(seal, nonce, aad, aad_len, plain, len, out);
    return (int)(len + GV_SEAL_TAG);
}

int gv_seal_decrypt_at(gv_seal *seal, const uint8_t nonce[GV_SEAL_NONCE], const uint8_t *aad, size_t aad_len,
                       const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    if (seal == NULL || nonce == NULL || (in == NULL && len > 0) || (aad == NULL && aad_len > 0) ||
        aad_len > GV_SEAL_MAX_AAD)
        return GV_EINVAL;
    if (len < GV_SEAL_TAG || len > (size_t)INT_MAX)
        return GV_EMALFORMED;
    size_t plain_len = len - GV_SEAL_TAG;
    int rc = open_room(in, len, out, cap, plain_len);
    if (rc != GV_OK)
        return rc;
    rc = aead_open(seal, nonce, aad, aad_len, in, len, out);
    return rc != GV_OK ? rc : (int)plain_len;
}

void gv_seal_window_start(gv_seal_window *w, uint64_t next)
{
    memset(w, 0, sizeof *w);
    w->top = next;
}

uint64_t gv_seal_window_expand(const gv_seal_window *w, uint16_t low)
{
    /* The counter nearest the next expected one whose low 16 bits are
     * low: up to 32767 behind or 32768 ahead of it. */
    uint32_t ahead = (uint16_t)(low - (uint16_t)w->top);
    if (ahead <= 32768)
        return w->top + ahead;
    uint32_t behind = 65536u - ahead;
    if (behind > w->top)
        return w->top + ahead; /* before counter 0: only the later reading remains */
    return w->top - behind;
}
