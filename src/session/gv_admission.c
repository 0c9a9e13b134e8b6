#include "session/gv_admission.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"

#define ATTEMPT_TABLE 4096
#define PASSWORD_TABLE 64

typedef struct bucket {
    uint32_t host;
    uint64_t last_us;
    double tokens;
} bucket;

struct gv_admission {
    bucket attempts[ATTEMPT_TABLE];
    bucket passwords[PASSWORD_TABLE];
    uint8_t attempt_key[crypto_shorthash_KEYBYTES];
    uint8_t cookie_key[2][32]; /* current, previous */
    uint64_t cookie_rotated_us;
};

int gv_admission_create(uint64_t now_us, gv_admission **out)
{
    gv_admission *a = calloc(1, sizeof *a);
    if (!a)
        return GV_ENOMEM;
    randombytes_buf(a->attempt_key, sizeof a->attempt_key);
    randombytes_buf(a->cookie_key, sizeof a->cookie_key);
    a->cookie_rotated_us = now_us;
    *out = a;
    return 0;
}

void gv_admission_destroy(gv_admission *a)
{
    if (!a)
        return;
    sodium_memzero(a, sizeof *a);
    free(a);
}

/* Refills a token bucket; 1 if a token was there and is now spent. */
static int take_token(bucket *b, uint64_t now, double burst, double per_second)
{
    b->tokens += (double)(now - b->last_us) * per_second / 1e6;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last_us = now;
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

/* Connection attempts per source address. The table is indexed by a keyed
 * hash, so an attacker cannot aim addresses at a victim's entry; a
 * collision hands the entry to the newcomer with a full bucket. */
static int attempt_allowed(gv_admission *a, uint32_t host, uint64_t now)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const uint8_t *)&host, sizeof host, a->attempt_key);
    bucket *b = &a->attempts[(h[0] | h[1] << 8) % ATTEMPT_TABLE];
    if (b->host != host || !b->last_us) {
        b->host = host;
        b->last_us = now;
        b->tokens = GV_ADMISSION_ATTEMPT_BURST;
    }
    return take_token(b, now, GV_ADMISSION_ATTEMPT_BURST, GV_ADMISSION_ATTEMPT_RATE);
}

/* The 24-bit cookie for a source address and port under one key: a
 * truncated keyed BLAKE2b. The key rotates every
 * GV_ADMISSION_COOKIE_ROTATE_US; the previous one stays valid, so a cookie
 * lives 30 to 60 seconds. */
static uint32_t cookie_for(const uint8_t key[32], const gv_addr *addr)
{
    uint8_t in[6], mac[crypto_generichash_BYTES_MIN];
    memcpy(in, &addr->host, 4); /* network order, as on the wire */
    in[4] = (uint8_t)(addr->port >> 8);
    in[5] = (uint8_t)addr->port;
    crypto_generichash(mac, sizeof mac, in, sizeof in, key, 32);
    uint32_t cookie = (uint32_t)mac[0] << 16 | (uint32_t)mac[1] << 8 | mac[2];
    return cookie ? cookie : 1; /* 0 means "no cookie" in a CONNECT */
}

static int cookie_valid(gv_admission *a, const gv_addr *addr, uint32_t connect_data, uint64_t now)
{
    if (now - a->cookie_rotated_us >= GV_ADMISSION_COOKIE_ROTATE_US) {
        memcpy(a->cookie_key[1], a->cookie_key[0], 32);
        randombytes_buf(a->cookie_key[0], 32);
        a->cookie_rotated_us = now;
    }
    uint32_t cookie = connect_data >> 8;
    return cookie == cookie_for(a->cookie_key[0], addr) || cookie == cookie_for(a->cookie_key[1], addr);
}

int gv_admission_connect(gv_admission *a, const gv_addr *from, uint32_t connect_data, const gv_admission_view *v,
                         uint64_t now_us, uint32_t *cookie, int *evict)
{
    *evict = 0;
    if (!attempt_allowed(a, from->host, now_us) || v->mine >= GV_ADMISSION_PER_ADDRESS)
        return GV_ADMIT_DROP;
    if (v->total >= GV_ADMISSION_COOKIE_AT && !cookie_valid(a, from, connect_data, now_us)) {
        *cookie = cookie_for(a->cookie_key[0], from);
        return GV_ADMIT_COOKIE;
    }
    if (v->total >= GV_ADMISSION_HALF_OPEN) {
        if (!v->evictable)
            return GV_ADMIT_DROP;
        *evict = 1;
    }
    return GV_ADMIT_PASS;
}

/* The password bucket of an address: a small table, the least recently
 * used entry handed to a newcomer. */
static bucket *password_bucket(gv_admission *a, uint32_t host, uint64_t now)
{
    bucket *oldest = &a->passwords[0];
    for (int i = 0; i < PASSWORD_TABLE; i++) {
        if (a->passwords[i].host == host && a->passwords[i].last_us)
            return &a->passwords[i];
        if (a->passwords[i].last_us < oldest->last_us)
            oldest = &a->passwords[i];
    }
    oldest->host = host;
    oldest->last_us = now;
    oldest->tokens = GV_ADMISSION_PASSWORD_BURST;
    return oldest;
}

int gv_admission_password_allowed(gv_admission *a, uint32_t host, uint64_t now_us)
{
    bucket *b = password_bucket(a, host, now_us);
    b->tokens += (double)(now_us - b->last_us) / GV_ADMISSION_PASSWORD_REFILL_US;
    if (b->tokens > GV_ADMISSION_PASSWORD_BURST)
        b->tokens = GV_ADMISSION_PASSWORD_BURST;
    b->last_us = now_us;
    return b->tokens >= 1.0;
}

void gv_admission_password_failed(gv_admission *a, uint32_t host, uint64_t now_us)
{
    password_bucket(a, host, now_us)->tokens -= 1.0;
}
