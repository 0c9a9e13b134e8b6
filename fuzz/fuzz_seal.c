/* gv_seal_decrypt with fixed keys, against a model of the wire format
 * (docs/protocol.md, "Cryptography" section 2) and of the replay window. The first
 * byte picks the mode:
 *   even: [mode][channel][aad selector][sealed bytes]: one fuzzed message
 *         on a fresh state; only a message the model would seal may open;
 *   odd:  [mode][op (6 bytes)...]: genuine messages with fuzzer-chosen
 *         channel, counter, length and an optional bit flip or wrong
 *         channel; forgeries are refused and leave the window as it was, so
 *         the genuine message still opens after them exactly when the model
 *         window says so. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "session/gv_seal.h"
#include "fuzz_common.h"

#define COUNTER_LEN 8
#define OP_LEN 6
#define MAX_OPS 256
#define MAX_PLAIN 63

static const gv_seal_keys receiver_keys = {
    .send = {0x5e, 0x4d},
    .recv = {0x52, 0x45, 0x43, 0x56, 0x2d, 0x6b, 0x65, 0x79},
};
static uint8_t aad_pattern[GV_SEAL_MAX_AAD + 1];

/* The sender side, written from the documentation rather than from
 * gv_seal.c: [LE64 counter][AEAD(recv key, LE32 channel || LE64 counter,
 * channel || aad, plain)]. */
static size_t model_seal(uint8_t channel, uint64_t counter, const uint8_t *aad, size_t aad_len,
                         const uint8_t *plain, size_t len, uint8_t *out)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {channel, 0, 0, 0};
    uint8_t ad[1 + GV_SEAL_MAX_AAD];
    unsigned long long clen = 0;
    for (int i = 0; i < 8; i++) {
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
        out[i] = (uint8_t)(counter >> (8 * i));
    }
    ad[0] = channel;
    memcpy(ad + 1, aad, aad_len);
    crypto_aead_chacha20poly1305_ietf_encrypt(out + COUNTER_LEN, &clen, plain, len, ad,
                                              1 + aad_len, NULL, nonce, receiver_keys.recv);
    CHECK(clen == len + crypto_aead_chacha20poly1305_ietf_ABYTES);
    return len + GV_SEAL_OVERHEAD;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    for (size_t i = 0; i < sizeof aad_pattern; i++)
        aad_pattern[i] = (uint8_t)(0xa0 + i);

    /* The model must agree with the real sender, or the rest proves
     * nothing: seal with a peer whose send key is the receiver's recv key. */
    gv_seal_keys peer_keys;
    memset(&peer_keys, 0, sizeof peer_keys);
    memcpy(peer_keys.send, receiver_keys.recv, 32);
    gv_seal *peer = NULL;
    CHECK(gv_seal_create(&peer_keys, &peer) == GV_OK);
    static const uint8_t plain[] = "model check";
    uint8_t want[sizeof plain + GV_SEAL_OVERHEAD], got[sizeof plain + GV_SEAL_OVERHEAD];
    for (uint8_t ch = 0; ch < GV_SEAL_CHANNELS; ch++) {
        for (uint64_t counter = 0; counter < 3; counter++) {
            size_t aad_len = counter == 1 ? GV_SEAL_MAX_AAD : counter;
            int n = gv_seal_encrypt(peer, ch, aad_pattern, aad_len, plain, sizeof plain, got,
                                    sizeof got);
            CHECK(n == (int)sizeof got);
            CHECK(model_seal(ch, counter, aad_pattern, aad_len, plain, sizeof plain, want) ==
                  sizeof want);
            CHECK(memcmp(want, got, sizeof want) == 0);
        }
    }
    gv_seal_destroy(peer);
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* Decrypts into an exactly sized heap buffer (ASan sees overruns) filled
 * with a pattern, so that a wipe on failure can be checked. */
static int open_exact(gv_seal *s, uint8_t ch, size_t aad_len, const uint8_t *in, size_t len,
                      uint8_t **plain_out)
{
    size_t plain_len = len >= GV_SEAL_OVERHEAD ? len - GV_SEAL_OVERHEAD : 0;
    uint8_t *copy = malloc(len > 0 ? len : 1);
    uint8_t *out = malloc(plain_len > 0 ? plain_len : 1);
    CHECK(copy != NULL && out != NULL);
    memcpy(copy, in, len);
    memset(out, 0xa5, plain_len > 0 ? plain_len : 1);
    int rc = gv_seal_decrypt(s, ch, aad_pattern, aad_len, copy, len, out, plain_len);
    CHECK(rc == GV_EINVAL || rc == GV_EMALFORMED || rc == GV_EREPLAY || rc == GV_EAUTH ||
          rc == (int)plain_len);
    CHECK(memcmp(copy, in, len) == 0);
    if (rc == GV_EAUTH)
        CHECK(all_zero(out, plain_len));
    free(copy);
    if (plain_out != NULL)
        *plain_out = out;
    else
        free(out);
    return rc;
}

static void one_message(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    uint8_t ch = data[0];
    size_t aad_len = data[1] % (GV_SEAL_MAX_AAD + 2);
    const uint8_t *in = data + 2;
    size_t len = size - 2;
    gv_seal *s = NULL;
    CHECK(gv_seal_create(&receiver_keys, &s) == GV_OK);

    uint8_t *plain = NULL;
    int rc = open_exact(s, ch, aad_len, in, len, &plain);
    if (aad_len > GV_SEAL_MAX_AAD) {
        CHECK(rc == GV_EINVAL);
    } else if (ch >= GV_SEAL_CHANNELS || len < GV_SEAL_OVERHEAD) {
        CHECK(rc == GV_EMALFORMED);
    } else if (get_le64(in) == UINT64_MAX) {
        CHECK(rc == GV_EREPLAY);
    } else if (rc >= 0) {
        /* Only what the holder of the key seals can open. */
        uint8_t *again = malloc(len);
        CHECK(again != NULL);
        CHECK(model_seal(ch, get_le64(in), aad_pattern, aad_len, plain, (size_t)rc, again) ==
              len);
        CHECK(memcmp(again, in, len) == 0);
        free(again);
        CHECK(open_exact(s, ch, aad_len, in, len, NULL) == GV_EREPLAY);
    } else {
        CHECK(rc == GV_EAUTH);
        CHECK(open_exact(s, ch, aad_len, in, len, NULL) == GV_EAUTH);
    }
    free(plain);
    gv_seal_destroy(s);
}

/* The replay window as docs/protocol.md states it: every accepted
 * counter, and one past the newest. */
typedef struct model_window {
    uint64_t top;
    uint64_t seen[MAX_OPS];
    size_t n;
} model_window;

static int model_fresh(const model_window *w, uint64_t c)
{
    if (c == UINT64_MAX)
        return 0;
    if (c >= w->top)
        return 1;
    if (w->top - c > GV_SEAL_WINDOW)
        return 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->seen[i] == c)
            return 0;
    return 1;
}

static void model_accept(model_window *w, uint64_t c)
{
    CHECK(w->n < MAX_OPS);
    w->seen[w->n++] = c;
    if (c >= w->top)
        w->top = c + 1;
}

/* Counters around the interesting places: next, just behind, the window's
 * edge, far ahead, and the top of the range. */
static uint64_t pick_counter(const model_window *w, unsigned kind, uint16_t x)
{
    switch (kind) {
    case 0:
        return w->top + x % 8;
    case 1: {
        uint64_t back = 1 + x % (GV_SEAL_WINDOW + 16);
        return w->top >= back ? w->top - back : x % 64;
    }
    case 2:
        return w->top + GV_SEAL_WINDOW - 8 + x % 16;
    default:
        return x & 0x8000 ? UINT64_MAX - x % 4 : (uint64_t)x << 32 | x;
    }
}

static void genuine_ops(const uint8_t *data, size_t size)
{
    static model_window model[GV_SEAL_CHANNELS];
    memset(model, 0, sizeof model);
    gv_seal *s = NULL;
    CHECK(gv_seal_create(&receiver_keys, &s) == GV_OK);

    for (size_t i = 0; i + OP_LEN <= size && i / OP_LEN < MAX_OPS; i += OP_LEN) {
        const uint8_t *op = data + i;
        uint8_t ch = op[0] & 3;
        int wrong_channel = op[0] & 4;
        int flip = op[0] & 8;
        unsigned kind = (op[0] >> 4) & 3;
        size_t aad_len = (size_t)(op[0] >> 6) * 16;
        size_t plain_len = op[1] % (MAX_PLAIN + 1);
        uint16_t x = (uint16_t)(op[2] | op[3] << 8);
        uint16_t bit = (uint16_t)(op[4] | op[5] << 8);

        model_window *w = &model[ch];
        uint64_t counter = pick_counter(w, kind, x);
        uint8_t plain[MAX_PLAIN], sealed[MAX_PLAIN + GV_SEAL_OVERHEAD];
        for (size_t k = 0; k < plain_len; k++)
            plain[k] = (uint8_t)(i + k);
        size_t len = model_seal(ch, counter, aad_pattern, aad_len, plain, plain_len, sealed);

        if (flip) {
            uint8_t bad[MAX_PLAIN + GV_SEAL_OVERHEAD];
            size_t at = bit % (len * 8);
            memcpy(bad, sealed, len);
            bad[at / 8] ^= (uint8_t)(1u << (at % 8));
            int rc = open_exact(s, ch, aad_len, bad, len, NULL);
            CHECK(rc == (model_fresh(w, get_le64(bad)) ? GV_EAUTH : GV_EREPLAY));
        }
        if (wrong_channel) {
            uint8_t other = (uint8_t)((ch + 1 + x % 3) % GV_SEAL_CHANNELS);
            int rc = open_exact(s, other, aad_len, sealed, len, NULL);
            CHECK(rc == (model_fresh(&model[other], counter) ? GV_EAUTH : GV_EREPLAY));
        }

        uint8_t *got = NULL;
        int rc = open_exact(s, ch, aad_len, sealed, len, &got);
        if (model_fresh(w, counter)) {
            CHECK(rc == (int)plain_len && memcmp(got, plain, plain_len) == 0);
            model_accept(w, counter);
            CHECK(open_exact(s, ch, aad_len, sealed, len, NULL) == GV_EREPLAY);
        } else {
            CHECK(rc == GV_EREPLAY);
        }
        free(got);
    }
    gv_seal_destroy(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        genuine_ops(data + 1, size - 1);
    else
        one_message(data + 1, size - 1);
    return 0;
}
