/* Micro-benchmark of the session layer's cryptography: full Noise NX
 * handshakes (both sides, as one join costs the client and the server),
 * an access token's verification (what a server with token keys adds to
 * a join) and seal + open of one voice-sized and one largest Opus-sized
 * message.
 * CPU time of this thread, so a busy machine slows the wall clock but not
 * the figures much. One JSON object on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "session/gv_noise.h"
#include "session/gv_seal.h"
#include "session/gv_token.h"

#define PROLOGUE "gvoip-bench"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct hs_cost {
    double client_s, server_s;
    long n;
} hs_cost;

/* One join's handshake: message 1, message 2, keys split on both sides.
 * The time of each side's calls is added to its own total. */
static int handshake_once(const uint8_t sk[32], const uint8_t pk[32], hs_cost *c)
{
    gv_noise *ini = NULL, *res = NULL;
    uint8_t m1[64], m2[256], pay[64], rpk[32];
    gv_seal_keys kc, ks;
    int rc = GV_EINVAL;
    double t0 = cpu_now();
    rc = gv_noise_initiator_create((const uint8_t *)PROLOGUE, strlen(PROLOGUE), &ini);
    int n1 = rc < 0 ? rc : gv_noise_write_message(ini, NULL, 0, m1, sizeof m1);
    double t1 = cpu_now();
    c->client_s += t1 - t0;
    if (n1 < 0) {
        rc = n1;
        goto out;
    }
    rc = gv_noise_responder_create((const uint8_t *)PROLOGUE, strlen(PROLOGUE), sk, pk, &res);
    if (rc >= 0)
        rc = gv_noise_read_message(res, m1, (size_t)n1, pay, sizeof pay);
    int n2 = rc < 0 ? rc : gv_noise_write_message(res, NULL, 0, m2, sizeof m2);
    if (n2 >= 0)
        rc = gv_noise_split(res, &ks);
    double t2 = cpu_now();
    c->server_s += t2 - t1;
    if (n2 < 0 || rc < 0) {
        rc = n2 < 0 ? n2 : rc;
        goto out;
    }
    rc = gv_noise_read_message(ini, m2, (size_t)n2, pay, sizeof pay);
    if (rc >= 0)
        rc = gv_noise_remote_static(ini, rpk);
    if (rc >= 0)
        rc = gv_noise_split(ini, &kc);
    c->client_s += cpu_now() - t2;
    if (rc < 0)
        goto out;
    /* A handshake whose keys do not pair up would time nothing useful. */
    if (memcmp(kc.send, ks.recv, 32) != 0 || memcmp(rpk, pk, 32) != 0) {
        rc = GV_EAUTH;
        goto out;
    }
    c->n++;
    rc = GV_OK;
out:
    gv_noise_destroy(ini);
    gv_noise_destroy(res);
    sodium_memzero(&kc, sizeof kc);
    sodium_memzero(&ks, sizeof ks);
    return rc;
}

typedef struct seal_cost {
    double seal_s, open_s;
    long n;
} seal_cost;

/* Seals BATCH messages on one side, then opens them on the other (len-byte
 * plaintexts on the voice channel), for about `seconds` of CPU. Batches
 * keep the clock reads (a system call each) out of the per-message time. */
#define BATCH 256
static int seal_run(size_t len, gv_seal_cipher cipher, double seconds, seal_cost *c)
{
    gv_seal_keys ka = {.cipher = cipher}, kb = {.cipher = cipher};
    gv_seal *a = NULL, *b = NULL;
    const size_t wlen = len + GV_SEAL_OVERHEAD;
    uint8_t *plain = malloc(len), *wire = malloc(wlen * BATCH), *back = malloc(len);
    int rc = GV_ENOMEM;
    if (!plain || !wire || !back)
        goto out;
    randombytes_buf(ka.send, 32);
    randombytes_buf(ka.recv, 32);
    memcpy(kb.send, ka.recv, 32);
    memcpy(kb.recv, ka.send, 32);
    randombytes_buf(plain, len);
    rc = gv_seal_create(&ka, &a);
    if (rc >= 0)
        rc = gv_seal_create(&kb, &b);
    if (rc < 0)
        goto out;
    double start = cpu_now();
    while (cpu_now() - start < seconds) {
        double t0 = cpu_now();
        for (int i = 0; i < BATCH; i++) {
            int n = gv_seal_encrypt(a, 1, NULL, 0, plain, len, wire + i * wlen, wlen);
            if (n != (int)wlen) {
                rc = n < 0 ? n : GV_EINVAL;
                goto out;
            }
        }
        double t1 = cpu_now();
        for (int i = 0; i < BATCH; i++) {
            int m = gv_seal_decrypt(b, 1, NULL, 0, wire + i * wlen, wlen, back, len);
            if (m != (int)len) {
                rc = m < 0 ? m : GV_EINVAL;
                goto out;
            }
        }
        c->open_s += cpu_now() - t1;
        c->seal_s += t1 - t0;
        c->n += BATCH;
    }
    rc = memcmp(plain, back, len) == 0 ? GV_OK : GV_EAUTH;
out:
    gv_seal_destroy(a);
    gv_seal_destroy(b);
    sodium_memzero(&ka, sizeof ka);
    sodium_memzero(&kb, sizeof kb);
    free(plain);
    free(wire);
    free(back);
    return rc;
}

/* CPU seconds per gv_token_open of a valid token, against a list of
 * `keys` public keys with the signer's last (a server in a rotation
 * looks the key up by its id, so the list's length should not matter). */
static int token_run(int keys, double seconds, double *us)
{
    gv_token_keys list = {0};
    uint8_t seed[32], sk[64];
    for (int k = 0; k < keys; k++) {
        randombytes_buf(seed, sizeof seed);
        crypto_sign_seed_keypair(list.pk[k], sk, seed);
    }
    list.count = keys;
    gv_token_claims c;
    gv_token_claims_default(&c);
    c.lobby = "match#1234";
    c.name = "player";
    c.expires = (uint64_t)time(NULL) + 600;
    uint8_t nonce[GV_TOKEN_NONCE], bytes[GV_TOKEN_BYTES_MAX];
    randombytes_buf(nonce, sizeof nonce);
    int n = gv_token_sign(&c, seed, nonce, bytes, sizeof bytes);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    if (n < 0)
        return n;
    long runs = 0;
    gv_token t;
    double start = cpu_now(), now = start;
    while (now - start < seconds) {
        for (int i = 0; i < 64; i++)
            if (gv_token_open(bytes, (size_t)n, &list, (uint64_t)time(NULL), &t) != GV_TOKEN_VALID)
                return GV_EKEY;
        runs += 64;
        now = cpu_now();
    }
    *us = 1e6 * (now - start) / (double)runs;
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: gvoip-bench-crypto [--seconds S]\n");
            return 2;
        }
    }
    if (seconds <= 0 || sodium_init() < 0) {
        fprintf(stderr, "gvoip-bench-crypto: bad --seconds or sodium_init failed\n");
        return 2;
    }
    uint8_t sk[32], pk[32];
    int rc = gv_noise_keypair(sk, pk);
    hs_cost hs = {0};
    double start = cpu_now();
    while (rc >= 0 && cpu_now() - start < seconds)
        rc = handshake_once(sk, pk, &hs);
    /* ChaCha20-Poly1305 everywhere; AES-256-GCM where the CPU has it. */
    const size_t sizes[2] = {60, 1275};
    const int ciphers = gv_seal_aes256gcm_available() ? 2 : 1;
    seal_cost sc[2][2] = {{{0}}};
    for (int k = 0; k < ciphers && rc >= 0; k++)
        for (int i = 0; i < 2 && rc >= 0; i++)
            rc = seal_run(sizes[i], k ? GV_SEAL_AES256GCM : GV_SEAL_CHACHA20POLY1305, seconds, &sc[k][i]);
    double token_us = 0, token16_us = 0;
    if (rc >= 0)
        rc = token_run(1, seconds, &token_us);
    if (rc >= 0)
        rc = token_run(GV_TOKEN_KEYS_MAX, seconds, &token16_us);
    if (rc < 0) {
        fprintf(stderr, "gvoip-bench-crypto: %s\n", gv_strerror(rc));
        return 1;
    }
    double both = hs.client_s + hs.server_s;
    printf("{\"null_aead\":%s,\"handshakes\":%ld,\"handshakes_per_s\":%.1f,"
           "\"handshake_us\":%.2f,\"handshake_client_us\":%.2f,\"handshake_server_us\":%.2f",
#ifdef GVOIP_BENCH_NULL_AEAD
           "true",
#else
           "false",
#endif
           hs.n, hs.n / both, 1e6 * both / hs.n, 1e6 * hs.client_s / hs.n,
           1e6 * hs.server_s / hs.n);
    for (int k = 0; k < ciphers; k++)
        for (int i = 0; i < 2; i++)
            printf(",\"%sseal_%zu\":{\"n\":%ld,\"seal_us\":%.3f,\"open_us\":%.3f,\"seal_open_us\":%.3f}",
                   k ? "aes_" : "", sizes[i], sc[k][i].n, 1e6 * sc[k][i].seal_s / sc[k][i].n,
                   1e6 * sc[k][i].open_s / sc[k][i].n, 1e6 * (sc[k][i].seal_s + sc[k][i].open_s) / sc[k][i].n);
    printf(",\"token_verify_us\":%.2f,\"token_verify_16_keys_us\":%.2f", token_us, token16_us);
    printf(",\"overhead_bytes\":%d}\n", GV_SEAL_OVERHEAD);
    sodium_memzero(sk, sizeof sk);
    return 0;
}
