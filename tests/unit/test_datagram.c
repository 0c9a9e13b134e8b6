/* Voice datagrams (src/session/gv_datagram.c) against docs/protocol.md,
 * "Voice datagrams": the counter expansion, the first byte, the up and down
 * layouts, replays and forgeries, the record parser, timestamp unwrapping
 * and the pinned vectors. Table-driven where it fits; random payloads come
 * from a seed printed on failure. Every test runs once per AEAD (main):
 * ChaCha20-Poly1305 always, AES-256-GCM where this CPU has it.
 *
 * Where a test needs the bytes the document describes, it builds nonces and
 * associated data itself (doc_nonce_up, doc_nonce_down) and calls libsodium
 * directly, so that the code's own nonce builders are not used to check
 * themselves. */
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
#include "packet/gv_msg.h"
#include "session/gv_datagram.h"
#include "session/gv_seal.h"
#include "seal_pair.h"

#define PLAIN_CAP (GV_DATAGRAM_LEVEL + GV_VOICE_PAYLOAD_MAX)
#define MTU 1392
#define CLEAR_FLAGS (GV_VOICE_MARKER | GV_VOICE_ECHO | GV_VOICE_PREROLL | GV_VOICE_REDUNDANT)

static uint64_t g_seed = 0xda7a6a3ull;

static uint64_t next_u64(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The table row being checked, named on failure with the seed. */
static const char *g_case = "";

#define CHECK_SEEDED(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("%s: seed %" PRIu64 " (GVOIP_TEST_SEED)\n", g_case, g_seed);               \
            fail_msg("%s", #cond);                                                                 \
        }                                                                                          \
    } while (0)

/* Every test runs once per AEAD (main). */
static gv_seal_cipher g_cipher = GV_SEAL_CHACHA20POLY1305;

/* Both ends with this run's AEAD. */
static void pair_open(pair *p)
{
    pair_open_with(p, g_cipher);
}

static gv_msg make_voice(uint8_t flags, uint32_t ts, uint8_t level, const uint8_t *payload, size_t len)
{
    gv_msg m;
    memset(&m, 0, sizeof m);
    m.type = GV_MSG_VOICE;
    m.u.voice.flags = flags;
    m.u.voice.ts = ts;
    m.u.voice.level = level;
    m.u.voice.payload = payload;
    m.u.voice.len = (uint16_t)len;
    return m;
}

/* Random payload bytes; with the redundant flag, a valid copy length last
 * (between 1 and min(255, len - 2)). len >= 3 then. */
static void fill_payload(uint64_t *st, uint8_t *p, size_t len, uint8_t flags)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)next_u64(st);
    if (flags & GV_VOICE_REDUNDANT) {
        size_t most = len - 2 < GV_VOICE_REDUNDANT_MAX ? len - 2 : GV_VOICE_REDUNDANT_MAX;
        p[len - 1] = (uint8_t)(1 + next_u64(st) % most);
    }
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- the document's nonces and a direct AEAD --------------------------- */

/* Up: 04 00 00 00 || LE64(counter). */
static void doc_nonce_up(uint8_t n[12], uint64_t counter)
{
    memset(n, 0, 12);
    n[0] = 0x04;
    for (int i = 0; i < 8; i++)
        n[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* Down: 05 || slot || LE32(epoch) || LE48(counter). */
static void doc_nonce_down(uint8_t n[12], uint8_t slot, uint32_t epoch, uint64_t counter)
{
    n[0] = 0x05;
    n[1] = slot;
    for (int i = 0; i < 4; i++)
        n[2 + i] = (uint8_t)(epoch >> (8 * i));
    for (int i = 0; i < 6; i++)
        n[6 + i] = (uint8_t)(counter >> (8 * i));
}

static size_t raw_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad, size_t ad_len,
                       const uint8_t *m, size_t len, uint8_t *out)
{
    unsigned long long clen = 0;
    if (g_cipher == GV_SEAL_AES256GCM)
        crypto_aead_aes256gcm_encrypt(out, &clen, m, len, ad, ad_len, NULL, nonce, key);
    else
        crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, m, len, ad, ad_len, NULL, nonce, key);
    assert_int_equal(clen, len + GV_SEAL_TAG);
    return (size_t)clen;
}

static int raw_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad, size_t ad_len,
                    const uint8_t *c, size_t clen, uint8_t *out, size_t *len)
{
    unsigned long long mlen = 0;
    int rc = g_cipher == GV_SEAL_AES256GCM
                 ? crypto_aead_aes256gcm_decrypt(out, &mlen, NULL, c, clen, ad, ad_len, nonce, key)
                 : crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, c, clen, ad, ad_len, nonce, key);
    *len = (size_t)mlen;
    return rc;
}

/* ---- gv_seal_window_expand ---------------------------------------------- */

/* The full counter nearest the window's next expected one (top) with the
 * 16 bits that travelled, from 32767 behind to 32768 ahead; a reading
 * before counter 0 does not exist, so the larger one is taken. */
static void test_expand_table(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint64_t top;
        uint16_t low;
        uint64_t want;
    } cases[] = {
        {"nothing yet: the first packet", 0, 0, 0},
        {"nothing yet: one ahead", 0, 1, 1},
        {"nothing yet: 500 ahead", 0, 500, 500},
        {"nothing yet: 32767 ahead", 0, 0x7fff, 32767},
        {"nothing yet: exactly 32768 ahead", 0, 0x8000, 32768},
        {"before counter 0: 32767 behind 0 does not exist", 0, 0x8001, 32769},
        {"before counter 0: 1 behind 0 does not exist", 0, 0xffff, 65535},
        {"first packet accepted: it again", 1, 0, 0},
        {"first packet accepted: the next", 1, 1, 1},
        {"two accepted: the first again", 2, 0, 0},
        {"before counter 0: 21 behind 5", 5, 0xfff0, 65520},
        {"before counter 0: 6 behind 5", 5, 0xffff, 65535},
        {"5 behind 5 is counter 0", 5, 0, 0},
        {"500 ahead (10 s of loss)", 10, 510, 510},
        {"100 behind", 1000, 900, 900},
        {"32767 ahead from 1000", 1000, (uint16_t)(1000 + 32767), 33767},
        {"wrap across 65536, ahead", 65530, 4, 65540},
        {"wrap across 65536, behind", 65540, 65530, 65530},
        {"top at 65536, low 0", 65536, 0, 65536},
        {"top at 65536, one behind", 65536, 0xffff, 65535},
        {"far from 0: 500 ahead", 100000, (uint16_t)(100000 + 500), 100500},
        {"far from 0: 100 behind", 100000, (uint16_t)(100000 - 100), 99900},
        {"far from 0: 32767 ahead", 100000, (uint16_t)(100000 + 32767), 132767},
        {"far from 0: 32769 ahead reads as 32767 behind", 100000, (uint16_t)(100000 + 32769), 67233},
        {"far from 0: 32000 behind", 100000, (uint16_t)(100000 - 32000), 68000},
        {"32767 top: exactly 32768 ahead (reading behind would be before 0)", 32767, 0xffff, 65535},
        {"2^40 + 3: 3 behind", ((uint64_t)1 << 40) + 3, 0, (uint64_t)1 << 40},
        {"2^48 - 1 accepted: the next is at the limit", GV_VOICE_COUNTER_LIMIT, 0, GV_VOICE_COUNTER_LIMIT},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gv_seal_window w;
        gv_seal_window_start(&w, cases[c].top);
        uint64_t got = gv_seal_window_expand(&w, cases[c].low);
        if (got != cases[c].want)
            print_error("%s: top %" PRIu64 " low %u -> %" PRIu64 ", want %" PRIu64 "\n", cases[c].what,
                        cases[c].top, cases[c].low, got, cases[c].want);
        assert_true(got == cases[c].want);
    }
}

/* docs/protocol.md: "the one nearest the window's next expected counter
 * with those low 16 bits (from 32767 behind to 32768 ahead)", and
 * gv_seal.h says the same. At exactly 32768 the two readings are equally
 * near and the document picks ahead. Once top >= 32768 (so the reading
 * behind exists) the code reads it as 32768 behind: its int16_t difference
 * spans -32768..32767, i.e. 32768 behind to 32767 ahead. This test states
 * the document; it fails until gv_seal_window_expand follows it. */
static void test_expand_exactly_32768_ahead(void **state)
{
    (void)state;
    static const struct {
        uint64_t top;
        uint64_t want;
    } cases[] = {
        {32768, 65536},
        {40000, 72768},
        {100000, 132768},
        {((uint64_t)1 << 40), ((uint64_t)1 << 40) + 32768},
    };
    int bad = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gv_seal_window w;
        gv_seal_window_start(&w, cases[c].top);
        uint64_t got = gv_seal_window_expand(&w, (uint16_t)cases[c].want);
        if (got != cases[c].want) {
            print_error("top %" PRIu64 ": 32768 ahead (low %u) -> %" PRIu64 ", the document says %" PRIu64 "\n",
                        cases[c].top, (unsigned)(uint16_t)cases[c].want, got, cases[c].want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* ---- the first byte ----------------------------------------------------- */

static void test_kind_table(void **state)
{
    (void)state;
    static const struct {
        uint8_t lo, hi;
        gv_datagram_kind kind;
    } ranges[] = {
        {0x00, 0x3f, GV_DATAGRAM_ENET},  {0x40, 0x46, GV_DATAGRAM_OTHER}, {0x47, 0x47, GV_DATAGRAM_OTHER}, /* cookie */
        {0x48, 0x48, GV_DATAGRAM_HERE},  {0x49, 0x4f, GV_DATAGRAM_OTHER}, {0x50, 0x5f, GV_DATAGRAM_UP},
        {0x60, 0x6f, GV_DATAGRAM_DOWN},  {0x70, 0x7f, GV_DATAGRAM_DOWN},  {0x80, 0xbf, GV_DATAGRAM_ENET},
        /* Bit 7 with 0x40: up kinds carry the receiver index's bit 8 there. */
        {0xc0, 0xc7, GV_DATAGRAM_OTHER}, {0xc8, 0xc8, GV_DATAGRAM_HERE},  {0xc9, 0xcf, GV_DATAGRAM_OTHER},
        {0xd0, 0xdf, GV_DATAGRAM_UP},    {0xe0, 0xff, GV_DATAGRAM_OTHER},
    };
    /* The ranges cover every byte once. */
    unsigned next = 0;
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        assert_int_equal(ranges[r].lo, next);
        next = ranges[r].hi + 1u;
    }
    assert_int_equal(next, 256);
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        for (unsigned b = ranges[r].lo; b <= ranges[r].hi; b++) {
            uint8_t d[40] = {(uint8_t)b};
            /* Only the first byte decides, whatever the length. */
            static const size_t lens[] = {1, 7, 24, sizeof d};
            for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
                gv_datagram_kind k = gv_datagram_kind_of(d, lens[l]);
                if (k != ranges[r].kind)
                    print_error("byte 0x%02x len %zu -> %d\n", b, lens[l], (int)k);
                assert_int_equal(k, ranges[r].kind);
            }
        }
    }
    uint8_t one = 0x50;
    assert_int_equal(gv_datagram_kind_of(&one, 0), GV_DATAGRAM_OTHER);
    assert_int_equal(gv_datagram_kind_of(NULL, 0), GV_DATAGRAM_OTHER);
    assert_int_equal(gv_datagram_kind_of(NULL, 10), GV_DATAGRAM_OTHER);
}

/* ---- up ----------------------------------------------------------------- */

static void test_up_round_trip(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint64_t counter;
        uint16_t index;
        uint8_t flags;
        uint32_t ts;
        uint8_t level;
        uint16_t len;
        uint32_t want_ts;   /* the 16 bits of ticks that travelled, times 120 */
        uint8_t want_level; /* clamped to 127 */
    } cases[] = {
        {"first packet, marker", 0, 0, GV_VOICE_MARKER, 0, 30, 3, 0, 30},
        {"echo test", 1, 5, GV_VOICE_ECHO, 960, 0, 40, 960, 0},
        {"pre-roll, quiet, the largest index", 2, GV_DATAGRAM_INDEX_MAX, GV_VOICE_PREROLL | GV_VOICE_QUIET, 120, 127,
         1, 120, 127},
        {"redundant copy", 65535, 1, GV_VOICE_REDUNDANT, 65535u * 120, 64, 100, 65535u * 120, 64},
        {"all four clear flags and quiet, index 256", 65536, 256, CLEAR_FLAGS | GV_VOICE_QUIET, 7 * 120, 90, 20,
         7 * 120, 90},
        {"level 128 clamped", 70000, 9, 0, 65536u * 120, 128, 60, 0, 127},
        {"level 255 quiet clamped", 70001, 9, GV_VOICE_QUIET, 65537u * 120, 255, 60, 120, 127},
        {"largest Opus packet", 123456789, 300, 0, 4800, 12, GV_VOICE_PAYLOAD_MAX, 4800, 12},
        {"ticks beyond 16 bits travel as their low 16", 5, 2, 0, 70000u * 120, 1, 2, (70000u & 0xffff) * 120, 1},
        {"largest timestamp", 6, 2, 0, 35791394u * 120, 1, 2, (35791394u & 0xffff) * 120, 1},
        {"the last counter", GV_VOICE_COUNTER_LIMIT - 1, 77, GV_VOICE_MARKER, 240, 50, 10, 240, 50},
    };
    assert_int_equal(GV_DATAGRAM_UP_OVERHEAD, 23);
    assert_int_equal(GV_DATAGRAM_UP_HEADER, 6);
    assert_int_equal(GV_DATAGRAM_INDEX_MAX, 511);
    uint64_t st = g_seed;
    pair p;
    pair_open(&p);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        g_case = cases[c].what;
        uint8_t payload[GV_VOICE_PAYLOAD_MAX], d[MTU], plain[PLAIN_CAP];
        fill_payload(&st, payload, cases[c].len, cases[c].flags);
        gv_msg v = make_voice(cases[c].flags, cases[c].ts, cases[c].level, payload, cases[c].len);
        int n = gv_datagram_seal_up(p.a, cases[c].index, cases[c].counter, &v, d, sizeof d);
        CHECK_SEEDED(n == GV_DATAGRAM_UP_OVERHEAD + cases[c].len);

        /* The header, as the document lays it out. */
        CHECK_SEEDED(d[0] == (0x50 | (cases[c].flags & CLEAR_FLAGS) | (cases[c].index >> 8) << 7));
        CHECK_SEEDED(d[1] == (uint8_t)cases[c].index);
        CHECK_SEEDED(be16(d + 2) == (uint16_t)cases[c].counter);
        CHECK_SEEDED(be16(d + 4) == (uint16_t)(cases[c].ts / 120));
        CHECK_SEEDED(gv_datagram_kind_of(d, (size_t)n) == GV_DATAGRAM_UP);
        CHECK_SEEDED(gv_datagram_up_index(d, (size_t)n) == cases[c].index);

        /* The sealed part opens with the document's nonce and associated
         * data: the level byte (bit 0x80: voice, clear: quiet), then the
         * payload. */
        uint8_t nonce[12], raw[PLAIN_CAP];
        size_t raw_len = 0;
        doc_nonce_up(nonce, cases[c].counter);
        CHECK_SEEDED(raw_open(p.ka.send, nonce, d, 6, d + 6, (size_t)n - 6, raw, &raw_len) == 0);
        CHECK_SEEDED(raw_len == 1u + cases[c].len);
        CHECK_SEEDED((raw[0] & 0x80) == ((cases[c].flags & GV_VOICE_QUIET) ? 0 : 0x80));
        CHECK_SEEDED((raw[0] & 0x7f) == cases[c].want_level);
        CHECK_SEEDED(memcmp(raw + 1, payload, cases[c].len) == 0);

        /* The server opens it with a window that expects about this counter. */
        gv_seal_window w;
        gv_seal_window_start(&w, cases[c].counter > 10 ? cases[c].counter - 10 : 0);
        gv_msg got;
        uint64_t counter = 0;
        memset(plain, 0xee, sizeof plain);
        int rc = gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, &counter);
        CHECK_SEEDED(rc == 0);
        CHECK_SEEDED(counter == cases[c].counter);
        CHECK_SEEDED(got.type == GV_MSG_VOICE);
        CHECK_SEEDED(got.u.voice.seq == (uint16_t)cases[c].counter);
        CHECK_SEEDED(got.u.voice.ts == cases[c].want_ts);
        CHECK_SEEDED(got.u.voice.flags == cases[c].flags);
        CHECK_SEEDED(got.u.voice.level == cases[c].want_level);
        CHECK_SEEDED(got.u.voice.len == cases[c].len);
        CHECK_SEEDED(got.u.voice.payload == plain + 1);
        CHECK_SEEDED(memcmp(got.u.voice.payload, payload, cases[c].len) == 0);
        /* Once. */
        CHECK_SEEDED(gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, &counter) ==
                     GV_EREPLAY);
        /* The client cannot open its own datagram: the other key. */
        gv_seal_window w2;
        gv_seal_window_start(&w2, 0);
        CHECK_SEEDED(gv_datagram_open_up(p.a, &w2, d, (size_t)n, plain, sizeof plain, &got, &counter) ==
                         GV_EAUTH);
    }
    pair_close(&p);
}

static void test_up_index(void **state)
{
    (void)state;
    static const struct {
        uint8_t first;
        size_t len;
        int want;
    } cases[] = {
        {0x5f, GV_DATAGRAM_UP_OVERHEAD + 1, 0xab},
        {0x50, GV_DATAGRAM_UP_OVERHEAD, 0xab},
        {0xd0, GV_DATAGRAM_UP_OVERHEAD, 0x1ab},      /* bit 7: the index's bit 8 */
        {0xdf, 1392, 0x1ab},
        {0x50, GV_DATAGRAM_UP_OVERHEAD - 1, GV_EMALFORMED},
        {0x50, 0, GV_EMALFORMED},
        {0x48, GV_DATAGRAM_HERE_LEN, 0xab},          /* "I am here": exactly 20 bytes */
        {0xc8, GV_DATAGRAM_HERE_LEN, 0x1ab},
        {0x48, GV_DATAGRAM_HERE_LEN - 1, GV_EMALFORMED},
        {0x48, GV_DATAGRAM_HERE_LEN + 1, GV_EMALFORMED},
        {0x60, GV_DATAGRAM_UP_OVERHEAD + 1, GV_EMALFORMED},
        {0x70, GV_DATAGRAM_UP_OVERHEAD + 1, GV_EMALFORMED},
        {0x10, GV_DATAGRAM_UP_OVERHEAD + 1, GV_EMALFORMED},
        {0x47, GV_DATAGRAM_UP_OVERHEAD + 1, GV_EMALFORMED},
        {0xe0, GV_DATAGRAM_UP_OVERHEAD + 1, GV_EMALFORMED},
    };
    static uint8_t d[1392];
    d[1] = 0xab;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        d[0] = cases[c].first;
        int got = gv_datagram_up_index(d, cases[c].len);
        if (got != cases[c].want)
            print_error("0x%02x, %zu bytes -> %d\n", cases[c].first, cases[c].len, got);
        assert_int_equal(got, cases[c].want);
    }
    assert_int_equal(gv_datagram_up_index(NULL, 40), GV_EMALFORMED);
}

/* Seals voice up with counter c (a 5-byte payload derived from c). */
static int seal_up_counter(gv_seal *s, uint64_t c, uint8_t *d, size_t cap)
{
    uint8_t payload[5] = {0xf8, (uint8_t)c, (uint8_t)(c >> 8), (uint8_t)(c >> 16), 0x55};
    gv_msg v = make_voice(0, (uint32_t)(c % 1000) * 960, 20, payload, sizeof payload);
    return gv_datagram_seal_up(s, 5, c, &v, d, cap);
}

/* A stream resynchronises across gaps under 32768 packets. */
static void test_resync(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    gv_seal_window w;
    gv_seal_window_start(&w, 0);
    uint8_t d[64], plain[PLAIN_CAP];
    gv_msg got;
    uint64_t counter = 0;
    for (uint64_t c = 0; c <= 520; c++) {
        if (c == 10)
            c = 510; /* 500 packets lost: 10 s of 20 ms frames */
        int n = seal_up_counter(p.a, c, d, sizeof d);
        assert_int_equal(n, GV_DATAGRAM_UP_OVERHEAD + 5);
        int rc = gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, &counter);
        if (rc != 0)
            print_error("counter %" PRIu64 " -> %d\n", c, rc);
        assert_int_equal(rc, 0);
        assert_true(counter == c);
        assert_int_equal(got.u.voice.seq, (uint16_t)c);
        assert_int_equal(got.u.voice.payload[1], (uint8_t)c);
    }
    pair_close(&p);

    /* Jumps from a stream whose newest counter is `from`. Only the low 16
     * bits of the counter travel and the receiver takes the reading nearest
     * its next expected counter, so a jump of 32769 or more is read wrong:
     * 32768 less than 65536 behind (older than the window: GV_EREPLAY,
     * before any crypto), within the window (a counter not yet seen: the
     * nonce is wrong and the tag fails, GV_EAUTH), or, past 65536, the jump
     * less 65536 ahead (GV_EAUTH again). The one exception is a reading
     * behind that would be before counter 0: then only the larger one
     * exists, and it is right. A failed jump leaves the window as it was. */
    static const struct {
        const char *what;
        uint64_t from, jump;
        int want;
    } jumps[] = {
        {"next", 100000, 1, 0},
        {"500 ahead", 100000, 500, 0},
        {"32767 past the next expected", 100000, 32768, 0},
        {"40000: read 25537 behind, older than the window", 100000, 40000, GV_EREPLAY},
        {"65436: read 101 behind, inside the window: wrong nonce", 100000, 65436, GV_EAUTH},
        {"65536 + 500: read 499 ahead: wrong nonce", 100000, 65536 + 500, GV_EAUTH},
        {"40000 from 520: the reading behind would be before 0", 520, 40000, 0},
        {"65536 from 0: read as counter 0, already seen", 0, 65536, GV_EREPLAY},
    };
    for (size_t j = 0; j < sizeof jumps / sizeof jumps[0]; j++) {
        pair_open(&p);
        gv_seal_window_start(&w, jumps[j].from);
        int n = seal_up_counter(p.a, jumps[j].from, d, sizeof d);
        assert_int_equal(gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, &counter), 0);
        n = seal_up_counter(p.a, jumps[j].from + jumps[j].jump, d, sizeof d);
        assert_int_equal(n, GV_DATAGRAM_UP_OVERHEAD + 5);
        uint64_t top = w.top;
        int rc = gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, &counter);
        if (rc != jumps[j].want)
            print_error("%s: %d\n", jumps[j].what, rc);
        assert_int_equal(rc, jumps[j].want);
        if (rc == 0) {
            assert_true(counter == jumps[j].from + jumps[j].jump);
        } else {
            /* The window did not move: the next genuine packet opens. */
            assert_true(w.top == top);
            n = seal_up_counter(p.a, jumps[j].from + 1, d, sizeof d);
            assert_int_equal(gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, &counter),
                             0);
            assert_true(counter == jumps[j].from + 1);
        }
        pair_close(&p);
    }
}

static void test_up_replay(void **state)
{
    (void)state;
    static const struct {
        uint64_t counter;
        int want;
    } steps[] = {
        {0, 0},
        {0, GV_EREPLAY},
        {2049, 0},
        {0, GV_EREPLAY},    /* 2049 behind the newest */
        {1, GV_EREPLAY},    /* 2048 behind: older than the window */
        {2, 0},             /* 2047 behind: still in */
        {2, GV_EREPLAY},
        {2048, 0},
        {2048, GV_EREPLAY},
        {2050, 0},
        {2, GV_EREPLAY},    /* now 2048 behind */
        {3, 0},             /* 2047 behind */
        {2049, GV_EREPLAY},
        {2051, 0},
    };
    pair p;
    pair_open(&p);
    gv_seal_window w;
    gv_seal_window_start(&w, 0);
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        uint8_t d[64], plain[PLAIN_CAP];
        gv_msg got;
        uint64_t counter = 0;
        int n = seal_up_counter(p.a, steps[s].counter, d, sizeof d);
        int rc = gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, &counter);
        if (rc != steps[s].want)
            print_error("step %zu (counter %" PRIu64 "): %d\n", s, steps[s].counter, rc);
        assert_int_equal(rc, steps[s].want);
    }
    pair_close(&p);
}

/* Every change to a genuine datagram fails authentication, whatever it
 * touches, and leaves the window as it was: the genuine datagram still
 * opens afterwards, once. Short and oversized shapes are refused as
 * GV_EAUTH too (the code's contract: nothing is the sender's before the
 * tag verified). */
static void test_up_forgeries(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    uint8_t payload[9] = {0xf8, 1, 2, 3, 4, 5, 6, 7, 8}, d[64], bad[MTU + 1], plain[PLAIN_CAP];
    gv_msg v = make_voice(GV_VOICE_MARKER, 4800, 33, payload, sizeof payload);
    const uint64_t c = 1000;
    int n = gv_datagram_seal_up(p.a, 5, c, &v, d, sizeof d);
    assert_int_equal(n, GV_DATAGRAM_UP_OVERHEAD + (int)sizeof payload);
    gv_seal_window w;
    gv_seal_window_start(&w, c); /* nothing accepted: every misread counter is fresh */
    const gv_seal_window before = w;
    gv_msg got;
    uint64_t counter = 0;

    /* Each bit: the 6 header bytes (kind and index bit 8, index, sequence,
     * ticks), the
     * ciphertext and the tag. */
    for (size_t bit = 0; bit < (size_t)n * 8; bit++) {
        memcpy(bad, d, (size_t)n);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        memset(plain, 0xee, sizeof plain);
        int rc = gv_datagram_open_up(p.b, &w, bad, (size_t)n, plain, sizeof plain, &got, &counter);
        if (rc != GV_EAUTH)
            print_error("byte %zu bit %zu -> %d\n", bit / 8, bit % 8, rc);
        assert_int_equal(rc, GV_EAUTH);
        assert_memory_not_equal(plain + 1, payload, sizeof payload);
        assert_memory_equal(&w, &before, sizeof w);
    }
    /* Another receiver index, whole. */
    memcpy(bad, d, (size_t)n);
    bad[1] = 6;
    assert_int_equal(gv_datagram_open_up(p.b, &w, bad, (size_t)n, plain, sizeof plain, &got, &counter), GV_EAUTH);
    /* Truncated to every length, and one byte too many. */
    for (size_t len = 0; len < (size_t)n; len++)
        assert_int_equal(gv_datagram_open_up(p.b, &w, d, len, plain, sizeof plain, &got, &counter), GV_EAUTH);
    memcpy(bad, d, (size_t)n);
    bad[n] = 0;
    assert_int_equal(gv_datagram_open_up(p.b, &w, bad, (size_t)n + 1, plain, sizeof plain, &got, &counter),
                     GV_EAUTH);
    /* Longer than any voice datagram. */
    memset(bad, 0, sizeof bad);
    memcpy(bad, d, 6);
    assert_int_equal(gv_datagram_open_up(p.b, &w, bad, GV_DATAGRAM_UP_OVERHEAD + GV_VOICE_PAYLOAD_MAX + 1, plain,
                                         sizeof plain, &got, &counter),
                     GV_EAUTH);
    assert_memory_equal(&w, &before, sizeof w);

    /* A plaintext buffer too small is the caller's error and consumes
     * nothing. */
    assert_int_equal(gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof payload, &got, &counter),
                     GV_ETOOBIG);
    assert_int_equal(gv_datagram_open_up(NULL, &w, d, (size_t)n, plain, sizeof plain, &got, &counter), GV_EINVAL);
    assert_int_equal(gv_datagram_open_up(p.b, NULL, d, (size_t)n, plain, sizeof plain, &got, &counter), GV_EINVAL);
    assert_int_equal(gv_datagram_open_up(p.b, &w, d, (size_t)n, NULL, sizeof plain, &got, &counter), GV_EINVAL);
    assert_int_equal(gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, NULL, &counter), GV_EINVAL);
    assert_int_equal(gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, NULL), GV_EINVAL);
    assert_int_equal(gv_datagram_open_up(p.b, &w, NULL, (size_t)n, plain, sizeof plain, &got, &counter), GV_EAUTH);
    assert_memory_equal(&w, &before, sizeof w);

    /* The genuine datagram, once. */
    assert_int_equal(gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, &counter), 0);
    assert_true(counter == c);
    assert_memory_equal(got.u.voice.payload, payload, sizeof payload);
    assert_int_equal(gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, &counter), GV_EREPLAY);
    pair_close(&p);
}

/* A sealed part that does not parse once the tag verified is the sender's:
 * GV_EMALFORMED, and the counter is spent (a replay is then GV_EREPLAY).
 * Crafted with the document's nonce, since gv_datagram_seal_up refuses to
 * seal such voice. */
static const struct malformed_case {
    const char *what;
    uint8_t flags;
    uint8_t body[8]; /* level byte, then the payload */
    size_t len;
    int want;
} malformed_cases[] = {
    {"level byte only, no payload", 0, {0x9e}, 1, GV_EMALFORMED},
    {"redundant, copy length 0", GV_VOICE_REDUNDANT, {0x9e, 0xf8, 1, 2, 0}, 5, GV_EMALFORMED},
    {"redundant, copy length = payload - 1", GV_VOICE_REDUNDANT, {0x9e, 0xf8, 1, 2, 3}, 5, GV_EMALFORMED},
    {"redundant, copy length = payload", GV_VOICE_REDUNDANT, {0x9e, 0xf8, 1, 2, 4}, 5, GV_EMALFORMED},
    {"redundant, one byte only", GV_VOICE_REDUNDANT, {0x9e, 1}, 2, GV_EMALFORMED},
    {"redundant, copy length = payload - 2 (valid)", GV_VOICE_REDUNDANT, {0x9e, 0xf8, 1, 1}, 4, 0},
    {"not redundant, anything goes", 0, {0x1e, 0}, 2, 0},
};

static void test_up_malformed_after_auth(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    for (size_t c = 0; c < sizeof malformed_cases / sizeof malformed_cases[0]; c++) {
        const struct malformed_case *mc = &malformed_cases[c];
        uint64_t counter = 40 + c;
        uint8_t d[64], nonce[12], plain[PLAIN_CAP];
        d[0] = (uint8_t)(0x50 | mc->flags);
        d[1] = 5;
        d[2] = (uint8_t)(counter >> 8), d[3] = (uint8_t)counter;
        d[4] = 0, d[5] = 8;
        doc_nonce_up(nonce, counter);
        size_t n = 6 + raw_seal(p.ka.send, nonce, d, 6, mc->body, mc->len, d + 6);
        gv_seal_window w;
        gv_seal_window_start(&w, 0);
        gv_msg got;
        uint64_t opened = 0;
        int rc = gv_datagram_open_up(p.b, &w, d, n, plain, sizeof plain, &got, &opened);
        if (rc != mc->want)
            print_error("%s: %d\n", mc->what, rc);
        assert_int_equal(rc, mc->want);
        assert_true(opened == counter);
        assert_int_equal(gv_datagram_open_up(p.b, &w, d, n, plain, sizeof plain, &got, &opened), GV_EREPLAY);
    }
    pair_close(&p);
}

static void test_seal_up_refusals(void **state)
{
    (void)state;
    static uint8_t payload[GV_VOICE_PAYLOAD_MAX + 1];
    payload[0] = 0xf8;
    static const struct {
        const char *what;
        uint64_t counter;
        uint8_t flags;
        uint32_t ts;
        size_t len;
        size_t cap; /* 0: MTU */
        int want;
    } cases[] = {
        {"fine", 0, 0, 0, 3, 0, GV_DATAGRAM_UP_OVERHEAD + 3},
        {"the last counter", GV_VOICE_COUNTER_LIMIT - 1, 0, 0, 3, 0, GV_DATAGRAM_UP_OVERHEAD + 3},
        {"counter 2^48", GV_VOICE_COUNTER_LIMIT, 0, 0, 3, 0, GV_ESTATE},
        {"counter 2^64 - 1", UINT64_MAX, 0, 0, 3, 0, GV_ESTATE},
        {"raw audio", 0, GV_VOICE_RAW, 0, 3, 0, GV_EINVAL},
        {"an undefined flag 0x40", 0, 0x40, 0, 3, 0, GV_EINVAL},
        {"an undefined flag 0x80", 0, 0x80, 0, 3, 0, GV_EINVAL},
        {"empty payload", 0, 0, 0, 0, 0, GV_EINVAL},
        {"largest payload", 0, 0, 0, GV_VOICE_PAYLOAD_MAX, 0, GV_DATAGRAM_UP_OVERHEAD + GV_VOICE_PAYLOAD_MAX},
        {"payload over 1275", 0, 0, 0, GV_VOICE_PAYLOAD_MAX + 1, 0, GV_EINVAL},
        {"ts not a multiple of 120", 0, 0, 121, 3, 0, GV_EINVAL},
        {"ts 60", 0, 0, 60, 3, 0, GV_EINVAL},
        {"redundant with a bad copy length (payload f8 00 00)", 0, GV_VOICE_REDUNDANT, 0, 3, 0, GV_EINVAL},
        {"cap one short", 0, 0, 0, 3, GV_DATAGRAM_UP_OVERHEAD + 2, GV_ETOOBIG},
        {"cap exact", 0, 0, 0, 3, GV_DATAGRAM_UP_OVERHEAD + 3, GV_DATAGRAM_UP_OVERHEAD + 3},
        {"cap of a header", 0, 0, 0, 3, 6, GV_ETOOBIG},
        {"a bad voice at counter 2^48: the voice first", GV_VOICE_COUNTER_LIMIT, GV_VOICE_RAW, 0, 3, 0, GV_EINVAL},
    };
    pair p;
    pair_open(&p);
    uint8_t out[MTU + 64];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gv_msg v = make_voice(cases[c].flags, cases[c].ts, 10, payload, cases[c].len);
        int rc = gv_datagram_seal_up(p.a, 1, cases[c].counter, &v, out, cases[c].cap ? cases[c].cap : MTU);
        if (rc != cases[c].want)
            print_error("%s: %d\n", cases[c].what, rc);
        assert_int_equal(rc, cases[c].want);
    }
    gv_msg v = make_voice(0, 0, 10, payload, 3);
    assert_int_equal(gv_datagram_seal_up(NULL, 1, 0, &v, out, sizeof out), GV_EINVAL);
    /* The low 9 bits of the receiver index travel. */
    assert_int_equal(gv_datagram_seal_up(p.a, GV_DATAGRAM_INDEX_MAX, 0, &v, out, sizeof out),
                     GV_DATAGRAM_UP_OVERHEAD + 3);
    assert_int_equal(gv_datagram_up_index(out, GV_DATAGRAM_UP_OVERHEAD + 3), GV_DATAGRAM_INDEX_MAX);
    assert_int_equal(gv_datagram_seal_up(p.a, 3 * (GV_DATAGRAM_INDEX_MAX + 1) + 5, 1, &v, out, sizeof out),
                     GV_DATAGRAM_UP_OVERHEAD + 3);
    assert_int_equal(gv_datagram_up_index(out, GV_DATAGRAM_UP_OVERHEAD + 3), 5);
    assert_int_equal(gv_datagram_seal_up(p.a, 0xffff, 2, &v, out, sizeof out), GV_DATAGRAM_UP_OVERHEAD + 3);
    assert_int_equal(gv_datagram_up_index(out, GV_DATAGRAM_UP_OVERHEAD + 3), GV_DATAGRAM_INDEX_MAX);
    assert_int_equal(gv_datagram_seal_up(p.a, 1, 0, NULL, out, sizeof out), GV_EINVAL);
    assert_int_equal(gv_datagram_seal_up(p.a, 1, 0, &v, NULL, sizeof out), GV_EINVAL);
    v.u.voice.payload = NULL;
    assert_int_equal(gv_datagram_seal_up(p.a, 1, 0, &v, out, sizeof out), GV_EINVAL);
    v = make_voice(0, 0, 10, payload, 3);
    v.type = GV_MSG_POSITION;
    assert_int_equal(gv_datagram_seal_up(p.a, 1, 0, &v, out, sizeof out), GV_EINVAL);
    /* A relayed voice seals too (the server's own echo path uses one). */
    v.type = GV_MSG_VOICE_RELAY;
    assert_int_equal(gv_datagram_seal_up(p.a, 1, 0, &v, out, sizeof out), GV_DATAGRAM_UP_OVERHEAD + 3);
    pair_close(&p);
}

/* ---- "I am here" ---------------------------------------------------------- */

/* Pinned like the vectors below (Python's cryptography, from the
 * document): index 300 (bit 8 set), counter 2, the client's key k1. */
static const char *const here_vector[2] = {
    "c82c0002e34a831c836f9229d6a076a41101e29a",
    "c82c000242cdadb4d046ad4ff688b3b21d82b377",
};

/* The receiver reads the counter as the nearest at or after the next it
 * expects: a replay or an older one reads 65535 or so ahead, under a nonce
 * it was not sealed with, and fails; so does a jump of 65536 or more. */
static void test_here(void **state)
{
    (void)state;
    assert_int_equal(GV_DATAGRAM_HERE_LEN, 20);
    pair p;
    pair_open(&p);
    uint8_t d[64];
    char hex[41];
    int n = gv_datagram_seal_here(p.a, 300, 2, d, sizeof d);
    assert_int_equal(n, GV_DATAGRAM_HERE_LEN);
    sodium_bin2hex(hex, sizeof hex, d, (size_t)n);
    assert_string_equal(hex, here_vector[g_cipher]);
    assert_int_equal(gv_datagram_kind_of(d, (size_t)n), GV_DATAGRAM_HERE);
    assert_int_equal(gv_datagram_up_index(d, (size_t)n), 300);
    /* Nothing encrypted: the 4 header bytes are the associated data of a
     * bare tag under 06 00 00 00 || LE64(counter). */
    uint8_t nonce[12], none[1];
    size_t none_len = 1;
    doc_nonce_up(nonce, 2);
    nonce[0] = 0x06;
    assert_int_equal(raw_open(p.ka.send, nonce, d, 4, d + 4, 16, none, &none_len), 0);
    assert_int_equal(none_len, 0);

    static const struct {
        const char *what;
        uint64_t counter;
        int want;
        uint64_t next_after;
    } steps[] = {
        {"the first", 0, 0, 1},
        {"it again", 0, GV_EAUTH, 1},
        {"a gap", 5, 0, 6},
        {"an older one never sent", 3, GV_EAUTH, 6},
        {"the last again", 5, GV_EAUTH, 6},
        {"65535 ahead of the next expected", 6 + 65535, 0, 6 + 65536},
        {"65536 ahead: read as the next, wrong nonce", 6 + 65536 + 65536, GV_EAUTH, 6 + 65536},
        {"the next", 6 + 65536, 0, 6 + 65537},
    };
    uint64_t next = 0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        n = gv_datagram_seal_here(p.a, 7, steps[i].counter, d, sizeof d);
        assert_int_equal(n, GV_DATAGRAM_HERE_LEN);
        int rc = gv_datagram_open_here(p.b, &next, d, (size_t)n);
        if (rc != steps[i].want || next != steps[i].next_after)
            print_error("%s: %d, next %" PRIu64 "\n", steps[i].what, rc, next);
        assert_int_equal(rc, steps[i].want);
        assert_true(next == steps[i].next_after);
    }

    /* Every bit changed, every other length: refused, next unmoved. */
    n = gv_datagram_seal_here(p.a, 7, next, d, sizeof d);
    const uint64_t expect = next;
    for (size_t bit = 0; bit < (size_t)n * 8; bit++) {
        uint8_t bad[GV_DATAGRAM_HERE_LEN];
        memcpy(bad, d, sizeof bad);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(gv_datagram_open_here(p.b, &next, bad, sizeof bad), GV_EAUTH);
    }
    for (size_t len = 0; len < 40; len++)
        if (len != GV_DATAGRAM_HERE_LEN)
            assert_int_equal(gv_datagram_open_here(p.b, &next, d, len), GV_EAUTH);
    assert_int_equal(gv_datagram_open_here(p.b, &next, NULL, GV_DATAGRAM_HERE_LEN), GV_EAUTH);
    assert_int_equal(gv_datagram_open_here(p.a, &next, d, (size_t)n), GV_EAUTH); /* the other key */
    assert_true(next == expect);
    /* It is no voice datagram, and a voice datagram is no "I am here". */
    gv_seal_window w;
    gv_seal_window_start(&w, expect);
    uint8_t plain[PLAIN_CAP];
    gv_msg got;
    uint64_t counter = 0;
    assert_int_equal(gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, &counter), GV_EAUTH);
    assert_true(w.top == expect);
    assert_int_equal(gv_datagram_open_here(p.b, &next, d, (size_t)n), 0);
    assert_true(next == expect + 1);

    /* The counters' limit. */
    next = GV_VOICE_COUNTER_LIMIT - 1;
    n = gv_datagram_seal_here(p.a, 7, GV_VOICE_COUNTER_LIMIT - 1, d, sizeof d);
    assert_int_equal(gv_datagram_open_here(p.b, &next, d, (size_t)n), 0);
    assert_true(next == GV_VOICE_COUNTER_LIMIT);
    assert_int_equal(gv_datagram_open_here(p.b, &next, d, (size_t)n), GV_EREPLAY);

    /* Refusals. */
    assert_int_equal(gv_datagram_seal_here(p.a, 7, GV_VOICE_COUNTER_LIMIT, d, sizeof d), GV_ESTATE);
    assert_int_equal(gv_datagram_seal_here(p.a, GV_DATAGRAM_INDEX_MAX, 0, d, sizeof d), GV_DATAGRAM_HERE_LEN);
    assert_int_equal(gv_datagram_seal_here(p.a, GV_DATAGRAM_INDEX_MAX + 2, 0, d, sizeof d), GV_DATAGRAM_HERE_LEN);
    assert_int_equal(gv_datagram_up_index(d, GV_DATAGRAM_HERE_LEN), 1);
    assert_int_equal(gv_datagram_seal_here(p.a, 7, 0, d, GV_DATAGRAM_HERE_LEN - 1), GV_ETOOBIG);
    assert_int_equal(gv_datagram_seal_here(NULL, 7, 0, d, sizeof d), GV_EINVAL);
    assert_int_equal(gv_datagram_seal_here(p.a, 7, 0, NULL, sizeof d), GV_EINVAL);
    assert_int_equal(gv_datagram_open_here(NULL, &next, d, (size_t)n), GV_EINVAL);
    assert_int_equal(gv_datagram_open_here(p.b, NULL, d, (size_t)n), GV_EINVAL);
    pair_close(&p);
}

/* ---- down --------------------------------------------------------------- */

typedef struct speaker_case {
    gv_datagram_speaker who;
    uint64_t start; /* the stream's next, from the roster */
    uint8_t flags;
    uint32_t ts;
    uint8_t level;
    uint16_t len;
} speaker_case;

static const speaker_case three[] = {
    {{3, 100, 5}, 5, GV_VOICE_MARKER, 960, 30, 3},
    /* A roster hint: the stream expects 70000, the packet is 70003. */
    {{200, 0xdeadbeef, 70003}, 70000, GV_VOICE_REDUNDANT | GV_VOICE_ECHO, 65535u * 120, 0, 200},
    {{0, 1, 0}, 0, GV_VOICE_PREROLL | GV_VOICE_QUIET, 0, 127, 1},
};

/* A fourth, alone in its datagram: a counter beyond 40 bits (all 48 are in
 * the nonce). */
static const speaker_case far_speaker = {{255, 0xffffffff, ((uint64_t)1 << 47) + 0x123456789aull},
                                         ((uint64_t)1 << 47) + 0x123456789aull - 3, 0, 2400, 60, 9};

static void test_down_three_records(void **state)
{
    (void)state;
    assert_int_equal(GV_DATAGRAM_DOWN_OVERHEAD, 23);
    uint64_t st = g_seed;
    pair p;
    pair_open(&p);
    uint8_t payload[3][GV_VOICE_PAYLOAD_MAX], d[MTU];
    size_t used = 0;
    size_t rec_at[3], rec_len[3];
    for (int i = 0; i < 3; i++) {
        fill_payload(&st, payload[i], three[i].len, three[i].flags);
        gv_msg v = make_voice(three[i].flags, three[i].ts, three[i].level, payload[i], three[i].len);
        v.type = GV_MSG_VOICE_RELAY;
        int more = i < 2;
        int n = gv_datagram_seal_down(p.b, &three[i].who, &v, more, d + used, sizeof d - used);
        CHECK_SEEDED(n == GV_DATAGRAM_DOWN_OVERHEAD + (more ? 2 : 0) + three[i].len);
        /* The header as documented. */
        CHECK_SEEDED(d[used] == ((more ? 0x70 : 0x60) | (three[i].flags & CLEAR_FLAGS)));
        CHECK_SEEDED(d[used + 1] == three[i].who.slot);
        CHECK_SEEDED(be16(d + used + 2) == (uint16_t)three[i].who.counter);
        CHECK_SEEDED(be16(d + used + 4) == (uint16_t)(three[i].ts / 120));
        size_t hl = more ? 8 : 6;
        if (more)
            CHECK_SEEDED(be16(d + used + 6) == 1u + three[i].len + 16);
        /* Sealed under the document's nonce and associated data. */
        uint8_t nonce[12], raw[PLAIN_CAP];
        size_t raw_len = 0;
        doc_nonce_down(nonce, three[i].who.slot, three[i].who.epoch, three[i].who.counter);
        CHECK_SEEDED(raw_open(p.kb.send, nonce, d + used, hl, d + used + hl, (size_t)n - hl, raw, &raw_len) == 0);
        CHECK_SEEDED(raw[0] == (uint8_t)(three[i].level | ((three[i].flags & GV_VOICE_QUIET) ? 0 : 0x80)));
        CHECK_SEEDED(memcmp(raw + 1, payload[i], three[i].len) == 0);
        rec_at[i] = used;
        rec_len[i] = (size_t)n;
        used += (size_t)n;
    }
    assert_int_equal(gv_datagram_kind_of(d, used), GV_DATAGRAM_DOWN);

    /* The walk: exactly three records, then the end. */
    const uint8_t *at = d;
    size_t left = used;
    gv_datagram_record rec[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gv_datagram_next_record(&at, &left, &rec[i]), 1);
        assert_ptr_equal(rec[i].header, d + rec_at[i]);
        assert_int_equal(rec[i].slot, three[i].who.slot);
        assert_int_equal(rec[i].header_len, i < 2 ? 8 : 6);
        assert_ptr_equal(rec[i].sealed, rec[i].header + rec[i].header_len);
        assert_int_equal(rec[i].header_len + rec[i].sealed_len, rec_len[i]);
        assert_int_equal(left, used - rec_at[i] - rec_len[i]);
    }
    assert_int_equal(gv_datagram_next_record(&at, &left, &rec[0]), 0);
    assert_int_equal(left, 0);
    assert_ptr_equal(at, d + used);

    for (int i = 0; i < 3; i++) {
        gv_datagram_stream s;
        gv_datagram_stream_start(&s, three[i].who.epoch, three[i].start);
        uint8_t plain[PLAIN_CAP];
        gv_msg got;
        int rc = gv_datagram_open_down(p.a, &s, &rec[i], plain, sizeof plain, &got);
        CHECK_SEEDED(rc == 0);
        CHECK_SEEDED(got.type == GV_MSG_VOICE_RELAY);
        CHECK_SEEDED(got.u.voice.sender == 0);
        CHECK_SEEDED(got.u.voice.seq == (uint16_t)three[i].who.counter);
        CHECK_SEEDED(got.u.voice.ts == three[i].ts);
        CHECK_SEEDED(got.u.voice.flags == three[i].flags);
        CHECK_SEEDED(got.u.voice.level == three[i].level);
        CHECK_SEEDED(got.u.voice.len == three[i].len);
        CHECK_SEEDED(got.u.voice.payload == plain + 1);
        CHECK_SEEDED(memcmp(got.u.voice.payload, payload[i], three[i].len) == 0);
        CHECK_SEEDED(s.window.top == three[i].who.counter + 1);
        CHECK_SEEDED(gv_datagram_open_down(p.a, &s, &rec[i], plain, sizeof plain, &got) == GV_EREPLAY);

        /* The wrong epoch (a new player in a reused slot): another nonce;
         * the window does not move. */
        gv_datagram_stream_start(&s, three[i].who.epoch + 1, three[i].start);
        CHECK_SEEDED(gv_datagram_open_down(p.a, &s, &rec[i], plain, sizeof plain, &got) == GV_EAUTH);
        CHECK_SEEDED(s.window.top == three[i].start && !s.have_ticks);
        /* Started without the hint, the speaker at 70003 is read as 4467
         * first, which does not open; the reading one turn later does
         * (what a listener culled for a long time needs), and the window
         * follows it. */
        if (three[i].start != three[i].who.counter) {
            gv_datagram_stream_start(&s, three[i].who.epoch, 0);
            CHECK_SEEDED(gv_datagram_open_down(p.a, &s, &rec[i], plain, sizeof plain, &got) == 0);
            CHECK_SEEDED(s.window.top == three[i].who.counter + 1);
        }
        /* The server cannot open what it sealed: the other key. */
        gv_datagram_stream_start(&s, three[i].who.epoch, three[i].start);
        CHECK_SEEDED(gv_datagram_open_down(p.b, &s, &rec[i], plain, sizeof plain, &got) == GV_EAUTH);
    }

    /* The far speaker: the bytes under the document's nonce, and back. */
    {
        uint8_t fp[9] = {0xf8, 9, 8, 7, 6, 5, 4, 3, 2}, fd[64], nonce[12], raw[PLAIN_CAP];
        gv_msg fv = make_voice(far_speaker.flags, far_speaker.ts, far_speaker.level, fp, far_speaker.len);
        int n = gv_datagram_seal_down(p.b, &far_speaker.who, &fv, 0, fd, sizeof fd);
        assert_int_equal(n, GV_DATAGRAM_DOWN_OVERHEAD + 9);
        size_t raw_len = 0;
        doc_nonce_down(nonce, far_speaker.who.slot, far_speaker.who.epoch, far_speaker.who.counter);
        assert_int_equal(raw_open(p.kb.send, nonce, fd, 6, fd + 6, (size_t)n - 6, raw, &raw_len), 0);
        assert_memory_equal(raw + 1, fp, sizeof fp);
        const uint8_t *fat = fd;
        size_t fleft = (size_t)n;
        gv_datagram_record fr;
        assert_int_equal(gv_datagram_next_record(&fat, &fleft, &fr), 1);
        gv_datagram_stream fs;
        gv_datagram_stream_start(&fs, far_speaker.who.epoch, far_speaker.start);
        uint8_t fplain[PLAIN_CAP];
        gv_msg fgot;
        assert_int_equal(gv_datagram_open_down(p.a, &fs, &fr, fplain, sizeof fplain, &fgot), 0);
        assert_int_equal(fgot.u.voice.seq, (uint16_t)far_speaker.who.counter);
        assert_int_equal(fgot.u.voice.ts, far_speaker.ts);
        assert_memory_equal(fgot.u.voice.payload, fp, sizeof fp);
        assert_true(fs.window.top == far_speaker.who.counter + 1);
    }

    /* Another slot byte on the first record, the epoch kept: the slot is
     * in the nonce and the associated data. */
    uint8_t bad[MTU];
    memcpy(bad, d, used);
    bad[1] = 4;
    at = bad;
    left = used;
    gv_datagram_record r;
    assert_int_equal(gv_datagram_next_record(&at, &left, &r), 1);
    assert_int_equal(r.slot, 4);
    gv_datagram_stream s;
    gv_datagram_stream_start(&s, three[0].who.epoch, three[0].start);
    uint8_t plain[PLAIN_CAP];
    gv_msg got;
    assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got), GV_EAUTH);
    /* The unchanged record after it still opens. */
    assert_int_equal(gv_datagram_next_record(&at, &left, &r), 1);
    gv_datagram_stream_start(&s, three[1].who.epoch, three[1].start);
    assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got), 0);
    pair_close(&p);
}

/* Every bit of a lone record changed: either the parser refuses the shape
 * (a kind byte that is no longer a record, or one that now claims a length)
 * or the tag fails; the stream's window never moves. */
static void test_down_forgeries(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    uint8_t payload[6] = {0xf8, 0xff, 1, 2, 3, 4}, d[64], bad[64], plain[PLAIN_CAP];
    gv_msg v = make_voice(GV_VOICE_MARKER, 480, 20, payload, sizeof payload);
    gv_datagram_speaker who = {7, 77, 0};
    int n = gv_datagram_seal_down(p.b, &who, &v, 0, d, sizeof d);
    assert_int_equal(n, GV_DATAGRAM_DOWN_OVERHEAD + (int)sizeof payload);
    gv_datagram_stream s;
    gv_datagram_stream_start(&s, 77, 0);
    const gv_datagram_stream before = s;
    gv_msg got;
    for (size_t bit = 0; bit < (size_t)n * 8; bit++) {
        memcpy(bad, d, (size_t)n);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        const uint8_t *at = bad;
        size_t left = (size_t)n;
        gv_datagram_record r;
        int rc = gv_datagram_next_record(&at, &left, &r);
        if (rc == 1)
            rc = gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got);
        if (rc != GV_EAUTH && rc != GV_EMALFORMED)
            print_error("byte %zu bit %zu -> %d\n", bit / 8, bit % 8, rc);
        assert_true(rc == GV_EAUTH || rc == GV_EMALFORMED);
        /* Only the kind byte can make it a shape the parser refuses. */
        if (bit >= 8)
            assert_int_equal(rc, GV_EAUTH);
        assert_memory_equal(&s, &before, sizeof s);
    }
    /* The last record takes the rest of the datagram: a byte after it is
     * part of its sealed part, and fails the tag. */
    memcpy(bad, d, (size_t)n);
    bad[n] = 0;
    const uint8_t *at = bad;
    size_t left = (size_t)n + 1;
    gv_datagram_record r;
    assert_int_equal(gv_datagram_next_record(&at, &left, &r), 1);
    assert_int_equal(r.sealed_len, (size_t)n - 6 + 1);
    assert_int_equal(left, 0);
    assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got), GV_EAUTH);
    /* Cut short: the sealed part loses the end of its tag. */
    at = d;
    left = (size_t)n - 1;
    assert_int_equal(gv_datagram_next_record(&at, &left, &r), 1);
    assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got), GV_EAUTH);
    assert_memory_equal(&s, &before, sizeof s);
    /* The plaintext buffer too small: the caller's, nothing consumed. */
    at = d;
    left = (size_t)n;
    assert_int_equal(gv_datagram_next_record(&at, &left, &r), 1);
    assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof payload, &got), GV_ETOOBIG);
    assert_int_equal(gv_datagram_open_down(NULL, &s, &r, plain, sizeof plain, &got), GV_EINVAL);
    assert_int_equal(gv_datagram_open_down(p.a, NULL, &r, plain, sizeof plain, &got), GV_EINVAL);
    assert_int_equal(gv_datagram_open_down(p.a, &s, NULL, plain, sizeof plain, &got), GV_EINVAL);
    assert_int_equal(gv_datagram_open_down(p.a, &s, &r, NULL, sizeof plain, &got), GV_EINVAL);
    assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, NULL), GV_EINVAL);
    assert_memory_equal(&s, &before, sizeof s);
    /* The genuine record, once. */
    assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got), 0);
    assert_memory_equal(got.u.voice.payload, payload, sizeof payload);
    assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got), GV_EREPLAY);
    pair_close(&p);
}

static void test_down_malformed_after_auth(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    for (size_t c = 0; c < sizeof malformed_cases / sizeof malformed_cases[0]; c++) {
        const struct malformed_case *mc = &malformed_cases[c];
        uint64_t counter = 300 + c;
        uint8_t d[64], nonce[12], plain[PLAIN_CAP];
        d[0] = (uint8_t)(0x60 | mc->flags);
        d[1] = 9;
        d[2] = (uint8_t)(counter >> 8), d[3] = (uint8_t)counter;
        d[4] = 0, d[5] = 2;
        doc_nonce_down(nonce, 9, 1234, counter);
        size_t n = 6 + raw_seal(p.kb.send, nonce, d, 6, mc->body, mc->len, d + 6);
        const uint8_t *at = d;
        size_t left = n;
        gv_datagram_record r;
        assert_int_equal(gv_datagram_next_record(&at, &left, &r), 1);
        gv_datagram_stream s;
        gv_datagram_stream_start(&s, 1234, 0);
        gv_msg got;
        int rc = gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got);
        if (rc != mc->want)
            print_error("%s: %d\n", mc->what, rc);
        assert_int_equal(rc, mc->want);
        assert_true(s.window.top == counter + 1);
        assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got), GV_EREPLAY);
    }
    pair_close(&p);
}

static void test_seal_down_refusals(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    uint8_t payload[4] = {0xf8, 1, 2, 3}, out[MTU];
    gv_msg v = make_voice(0, 0, 10, payload, sizeof payload);
    gv_datagram_speaker who = {1, 2, 3};
    static const struct {
        int more;
        size_t cap;
        int want;
    } caps[] = {
        {0, GV_DATAGRAM_DOWN_OVERHEAD + 4, GV_DATAGRAM_DOWN_OVERHEAD + 4},
        {0, GV_DATAGRAM_DOWN_OVERHEAD + 3, GV_ETOOBIG},
        {1, GV_DATAGRAM_DOWN_OVERHEAD + 2 + 4, GV_DATAGRAM_DOWN_OVERHEAD + 2 + 4},
        {1, GV_DATAGRAM_DOWN_OVERHEAD + 2 + 3, GV_ETOOBIG},
        {1, 0, GV_ETOOBIG},
    };
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
        assert_int_equal(gv_datagram_seal_down(p.b, &who, &v, caps[c].more, out, caps[c].cap), caps[c].want);
    assert_int_equal(gv_datagram_seal_down(NULL, &who, &v, 0, out, sizeof out), GV_EINVAL);
    assert_int_equal(gv_datagram_seal_down(p.b, NULL, &v, 0, out, sizeof out), GV_EINVAL);
    assert_int_equal(gv_datagram_seal_down(p.b, &who, NULL, 0, out, sizeof out), GV_EINVAL);
    assert_int_equal(gv_datagram_seal_down(p.b, &who, &v, 0, NULL, sizeof out), GV_EINVAL);
    /* The counter limit: GV_EINVAL here (gv_datagram_seal_up says GV_ESTATE). */
    who.counter = GV_VOICE_COUNTER_LIMIT;
    assert_int_equal(gv_datagram_seal_down(p.b, &who, &v, 0, out, sizeof out), GV_EINVAL);
    who.counter = GV_VOICE_COUNTER_LIMIT - 1;
    assert_int_equal(gv_datagram_seal_down(p.b, &who, &v, 0, out, sizeof out), GV_DATAGRAM_DOWN_OVERHEAD + 4);
    static const struct {
        uint8_t flags;
        uint32_t ts;
        size_t len;
    } bad[] = {
        {GV_VOICE_RAW, 0, 4}, {0x40, 0, 4}, {0, 119, 4}, {0, 0, 0}, {0, 0, GV_VOICE_PAYLOAD_MAX + 1},
        {GV_VOICE_REDUNDANT, 0, 4}, /* copy length 3 > 4 - 2 */
    };
    static uint8_t big[GV_VOICE_PAYLOAD_MAX + 1] = {0xf8, 1, 2, 3};
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        v = make_voice(bad[c].flags, bad[c].ts, 10, big, bad[c].len);
        assert_int_equal(gv_datagram_seal_down(p.b, &who, &v, 0, out, sizeof out), GV_EINVAL);
    }
    pair_close(&p);
}

/* What gv_datagram_next_record promises, on crafted (unsealed) bytes: a
 * record is at least 23 bytes; one that says another follows (0x7_) has a
 * sealed part of 17..1292 bytes and leaves at least 23 after it; the last
 * (0x6_) takes the rest, at most 1292 bytes sealed; anything else is
 * GV_EMALFORMED and leaves the cursor where it was. */
typedef struct patch {
    uint16_t at;
    uint8_t v;
} patch;

static const struct parse_case {
    const char *what;
    size_t total;
    patch p[6];
    size_t np;
    int steps[4]; /* results in order, ending with 0 or GV_EMALFORMED */
    size_t sealed[3];
} parse_cases[] = {
    {"empty", 0, {{0, 0}}, 0, {0}, {0}},
    {"a minimal last record", 23, {{0, 0x60}}, 1, {1, 0}, {17}},
    {"a last record with all flags", 30, {{0, 0x6f}}, 1, {1, 0}, {24}},
    {"22 bytes", 22, {{0, 0x60}}, 1, {GV_EMALFORMED}, {0}},
    {"an up datagram", 30, {{0, 0x50}}, 1, {GV_EMALFORMED}, {0}},
    {"ENet", 30, {{0, 0x20}}, 1, {GV_EMALFORMED}, {0}},
    {"the cookie", 30, {{0, 0x47}}, 1, {GV_EMALFORMED}, {0}},
    {"0xe0", 30, {{0, 0xe0}}, 1, {GV_EMALFORMED}, {0}},
    {"more, then a minimal last", 48, {{0, 0x70}, {7, 17}, {25, 0x60}}, 3, {1, 1, 0}, {17, 17}},
    {"more with a sealed part of 16", 47, {{0, 0x70}, {7, 16}, {24, 0x60}}, 3, {GV_EMALFORMED}, {0}},
    {"more with a length of 0", 48, {{0, 0x70}, {7, 0}}, 2, {GV_EMALFORMED}, {0}},
    {"more, its length overruns", 48, {{0, 0x70}, {7, 100}}, 2, {GV_EMALFORMED}, {0}},
    {"more, its length 0xffff", 48, {{0, 0x70}, {6, 0xff}, {7, 0xff}}, 3, {GV_EMALFORMED}, {0}},
    {"more, 22 bytes left after it", 47, {{0, 0x70}, {7, 17}, {25, 0x60}}, 3, {GV_EMALFORMED}, {0}},
    {"more, nothing after it", 25, {{0, 0x7f}, {7, 17}}, 2, {GV_EMALFORMED}, {0}},
    {"more, then not a record", 48, {{0, 0x70}, {7, 17}, {25, 0x50}}, 3, {1, GV_EMALFORMED}, {17}},
    {"more, then a last that is short", 8 + 17 + 23, {{0, 0x70}, {7, 18}, {26, 0x60}}, 3, {GV_EMALFORMED}, {0}},
    {"three records", 8 + 17 + 8 + 20 + 23, {{0, 0x71}, {7, 17}, {25, 0x78}, {32, 20}, {53, 0x62}}, 5,
     {1, 1, 1, 0}, {17, 20, 17}},
    {"more, then more with nothing after", 8 + 17 + 8 + 17, {{0, 0x70}, {7, 17}, {25, 0x70}, {32, 17}}, 4,
     {1, GV_EMALFORMED}, {17}},
    {"more, then more, then too short", 8 + 17 + 8 + 17 + 22, {{0, 0x70}, {7, 17}, {25, 0x70}, {32, 17}}, 4,
     {1, GV_EMALFORMED}, {17}},
    {"last, sealed 1292 (the largest voice)", 6 + 1292, {{0, 0x60}}, 1, {1, 0}, {1292}},
    {"last, sealed 1293", 6 + 1293, {{0, 0x60}}, 1, {GV_EMALFORMED}, {0}},
    {"more, sealed 1292, then a last", 8 + 1292 + 23, {{0, 0x70}, {6, 0x05}, {7, 0x0c}, {1300, 0x60}}, 4,
     {1, 1, 0}, {1292, 17}},
    {"more, sealed 1293, then a last", 8 + 1293 + 23, {{0, 0x70}, {6, 0x05}, {7, 0x0d}, {1301, 0x60}}, 4,
     {GV_EMALFORMED}, {0}},
};

static void test_next_record_table(void **state)
{
    (void)state;
    static uint8_t buf[1400];
    for (size_t c = 0; c < sizeof parse_cases / sizeof parse_cases[0]; c++) {
        const struct parse_case *pc = &parse_cases[c];
        assert_true(pc->total <= sizeof buf);
        memset(buf, 0, sizeof buf);
        for (size_t i = 0; i < pc->np; i++)
            buf[pc->p[i].at] = pc->p[i].v;
        const uint8_t *at = buf;
        size_t left = pc->total, consumed = 0;
        for (size_t s = 0, r = 0;; s++) {
            gv_datagram_record rec;
            const uint8_t *was = at;
            size_t was_left = left;
            int rc = gv_datagram_next_record(&at, &left, &rec);
            if (rc != pc->steps[s])
                print_error("%s: step %zu -> %d, want %d\n", pc->what, s, rc, pc->steps[s]);
            assert_int_equal(rc, pc->steps[s]);
            if (rc == GV_EMALFORMED) {
                assert_ptr_equal(at, was);
                assert_int_equal(left, was_left);
                break;
            }
            if (rc == 0) {
                assert_int_equal(consumed, pc->total);
                assert_int_equal(left, 0);
                break;
            }
            assert_ptr_equal(rec.header, was);
            assert_int_equal(rec.slot, was[1]);
            assert_int_equal(rec.header_len, (was[0] & 0xf0) == 0x70 ? 8 : 6);
            assert_ptr_equal(rec.sealed, was + rec.header_len);
            assert_int_equal(rec.sealed_len, pc->sealed[r++]);
            assert_ptr_equal(at, rec.sealed + rec.sealed_len);
            consumed += rec.header_len + rec.sealed_len;
            assert_int_equal(left, pc->total - consumed);
        }
    }
    const uint8_t *at = buf;
    size_t left = 23;
    gv_datagram_record rec;
    assert_int_equal(gv_datagram_next_record(NULL, &left, &rec), GV_EINVAL);
    assert_int_equal(gv_datagram_next_record(&at, NULL, &rec), GV_EINVAL);
    assert_int_equal(gv_datagram_next_record(&at, &left, NULL), GV_EINVAL);
}

/* Timestamps travel as 16 bits of 2.5 ms ticks; a stream unwraps them to
 * the value nearest the newest one, so across the 16-bit wrap they keep
 * increasing by 120 samples per tick, in uint32 arithmetic, and a late
 * packet from before the wrap gets its own earlier timestamp. */
static void test_down_timestamps(void **state)
{
    (void)state;
    static const struct {
        uint64_t counter;
        uint16_t ticks; /* what travels */
        uint32_t want;  /* the full timestamp, in samples */
    } steps[] = {
        {0, 65530, 65530u * 120},
        {1, 65533, 65533u * 120},
        {3, 0, 65536u * 120},                  /* across the 16-bit wrap */
        {4, 3, 65539u * 120},
        {2, 65535, 65535u * 120},              /* late, from before the wrap */
        {5, 32000, (65536u + 32000) * 120},    /* 80 s on */
        {6, 28000, (65536u + 28000) * 120},    /* 10 s back: late, behind */
        {7, 0, 2 * 65536u * 120},              /* 80 s back would be too far: 84 s on */
        {8, 60000, (2 * 65536u + 60000) * 120}, /* 150 s of silence: on */
        {9, 64000, (2 * 65536u + 64000) * 120}, /* 10 s on */
        {10, 64000 - 4096, (2 * 65536u + 64000 - 4096) * 120}, /* 10.24 s back: the most behind */
        {11, 30464, (3 * 65536u + 30464) * 120}, /* 32000 ticks on from the newest */
    };
    pair p;
    pair_open(&p);
    gv_datagram_speaker who = {1, 2, 0};
    gv_datagram_stream s;
    gv_datagram_stream_start(&s, 2, 0);
    uint8_t payload[3] = {0xf8, 0xff, 0xfe}, d[64], plain[PLAIN_CAP];
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        who.counter = steps[i].counter;
        gv_msg v = make_voice(0, (uint32_t)steps[i].ticks * 120, 50, payload, sizeof payload);
        int n = gv_datagram_seal_down(p.b, &who, &v, 0, d, sizeof d);
        assert_true(n > 0);
        const uint8_t *at = d;
        size_t left = (size_t)n;
        gv_datagram_record r;
        assert_int_equal(gv_datagram_next_record(&at, &left, &r), 1);
        gv_msg got;
        assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got), 0);
        if (got.u.voice.ts != steps[i].want)
            print_error("step %zu: ts %" PRIu32 ", want %" PRIu32 "\n", i, got.u.voice.ts, steps[i].want);
        assert_int_equal(got.u.voice.ts, steps[i].want);
    }

    /* A long run of 32000-tick steps crosses the 32-bit sample clock's
     * wrap (2^32 samples are 35791394.13 ticks): each step is 32000 * 120
     * samples later in uint32 arithmetic. */
    gv_datagram_stream_start(&s, 2, 100);
    uint32_t prev = 0;
    uint64_t ticks = 0;
    int wrapped = 0;
    for (uint64_t k = 0; k < 1200; k++) {
        who.counter = 100 + k;
        gv_msg v = make_voice(0, (uint32_t)(ticks & 0xffff) * 120, 50, payload, sizeof payload);
        int n = gv_datagram_seal_down(p.b, &who, &v, 0, d, sizeof d);
        const uint8_t *at = d;
        size_t left = (size_t)n;
        gv_datagram_record r;
        assert_int_equal(gv_datagram_next_record(&at, &left, &r), 1);
        gv_msg got;
        assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got), 0);
        assert_int_equal(got.u.voice.ts, (uint32_t)(ticks * 120));
        if (k > 0) {
            assert_int_equal((uint32_t)(got.u.voice.ts - prev), 32000u * 120);
            if (got.u.voice.ts < prev)
                wrapped++;
        }
        prev = got.u.voice.ts;
        ticks += 32000;
    }
    assert_int_equal(wrapped, 1);
    pair_close(&p);
}

/* ---- vectors ------------------------------------------------------------ */

/* The two examples of docs/protocol.md ("Voice datagrams", "Examples").
 * The expected bytes were computed independently from the document with
 * Python's cryptography package (ChaCha20Poly1305 and AESGCM; nonce, and
 * associated data = the header bytes, built by hand), not by this code.
 * Keys: the client's send key k1 = 01 02 .. 20, the server's send key
 * k2 = a0 a1 .. bf (pair_open). */
static const char *const up_vector[2] = {
    "510500010008e0233cf51c565f2d346e2d9b80a0ea0fa94d8117",
    "510500010008062d7cd87143a0487dff31c5c44fe2c07c86de81",
};
static const char *const down_vector[2] = {
    "7002012c0010001480d84c66b222467844d4f6c80a51466b6c268b00"
    "60000007000002e952058e68ea57801cc159388ab5f78efe4f",
    "7002012c0010001457d02f2257c236d84a4d9d9e706b9e48db29a4ac"
    "600000070000e5d96ab53ad95ba361ccb167f86a8dbfe2d536",
};

static void test_vectors(void **state)
{
    (void)state;
    pair p;
    pair_open(&p);
    static const uint8_t opus3[3] = {0xf8, 0xff, 0xfe};
    char hex[2 * MTU + 1];
    uint8_t d[MTU], plain[PLAIN_CAP];
    gv_msg got;

    /* (a) up: index 5, counter 1, ts 960 (8 ticks), marker, level 30, voice. */
    gv_msg v = make_voice(GV_VOICE_MARKER, 960, 30, opus3, 3);
    int n = gv_datagram_seal_up(p.a, 5, 1, &v, d, sizeof d);
    assert_int_equal(n, 26);
    sodium_bin2hex(hex, sizeof hex, d, (size_t)n);
    assert_string_equal(hex, up_vector[g_cipher]);
    gv_seal_window w;
    gv_seal_window_start(&w, 0);
    uint64_t counter = 0;
    assert_int_equal(gv_datagram_up_index(d, (size_t)n), 5);
    assert_int_equal(gv_datagram_open_up(p.b, &w, d, (size_t)n, plain, sizeof plain, &got, &counter), 0);
    assert_true(counter == 1);
    assert_int_equal(got.u.voice.seq, 1);
    assert_int_equal(got.u.voice.ts, 960);
    assert_int_equal(got.u.voice.flags, GV_VOICE_MARKER);
    assert_int_equal(got.u.voice.level, 30);
    assert_int_equal(got.u.voice.len, 3);
    assert_memory_equal(got.u.voice.payload, opus3, 3);

    /* (b) down, two records: slot 2 epoch 9 counter 300 ts 1920 level 40
     * voice f8 ff fe (another follows), then slot 0 epoch 1 counter 7 ts 0
     * quiet level 127 f8 ff (the last). */
    gv_datagram_speaker s1 = {2, 9, 300}, s2 = {0, 1, 7};
    v = make_voice(0, 1920, 40, opus3, 3);
    v.type = GV_MSG_VOICE_RELAY;
    int n1 = gv_datagram_seal_down(p.b, &s1, &v, 1, d, sizeof d);
    assert_int_equal(n1, 28);
    v = make_voice(GV_VOICE_QUIET, 0, 127, opus3, 2);
    v.type = GV_MSG_VOICE_RELAY;
    int n2 = gv_datagram_seal_down(p.b, &s2, &v, 0, d + n1, sizeof d - (size_t)n1);
    assert_int_equal(n2, 25);
    sodium_bin2hex(hex, sizeof hex, d, (size_t)(n1 + n2));
    assert_string_equal(hex, down_vector[g_cipher]);

    /* And the pinned bytes open (the listener's streams from the roster). */
    size_t len = 0;
    assert_int_equal(sodium_hex2bin(d, sizeof d, down_vector[g_cipher], strlen(down_vector[g_cipher]), NULL, &len,
                                    NULL),
                     0);
    assert_int_equal(len, 53);
    const uint8_t *at = d;
    size_t left = len;
    gv_datagram_record r;
    gv_datagram_stream st1, st2;
    gv_datagram_stream_start(&st1, 9, 0);
    gv_datagram_stream_start(&st2, 1, 0);
    assert_int_equal(gv_datagram_next_record(&at, &left, &r), 1);
    assert_int_equal(r.slot, 2);
    assert_int_equal(gv_datagram_open_down(p.a, &st1, &r, plain, sizeof plain, &got), 0);
    assert_int_equal(got.u.voice.seq, 300);
    assert_int_equal(got.u.voice.ts, 1920);
    assert_int_equal(got.u.voice.flags, 0);
    assert_int_equal(got.u.voice.level, 40);
    assert_int_equal(got.u.voice.len, 3);
    assert_memory_equal(got.u.voice.payload, opus3, 3);
    assert_int_equal(gv_datagram_next_record(&at, &left, &r), 1);
    assert_int_equal(r.slot, 0);
    assert_int_equal(gv_datagram_open_down(p.a, &st2, &r, plain, sizeof plain, &got), 0);
    assert_int_equal(got.u.voice.seq, 7);
    assert_int_equal(got.u.voice.ts, 0);
    assert_int_equal(got.u.voice.flags, GV_VOICE_QUIET);
    assert_int_equal(got.u.voice.level, 127);
    assert_int_equal(got.u.voice.len, 2);
    assert_memory_equal(got.u.voice.payload, opus3, 2);
    assert_int_equal(gv_datagram_next_record(&at, &left, &r), 0);

    /* The up vector pinned opens too. */
    assert_int_equal(sodium_hex2bin(d, sizeof d, up_vector[g_cipher], strlen(up_vector[g_cipher]), NULL, &len, NULL),
                     0);
    gv_seal_window_start(&w, 0);
    assert_int_equal(gv_datagram_open_up(p.b, &w, d, len, plain, sizeof plain, &got, &counter), 0);
    assert_memory_equal(got.u.voice.payload, opus3, 3);
    pair_close(&p);
}

/* Up and down nonces never meet, nor a sealed ENet message's: a record
 * sealed under the up nonce of the same counter, with the right key and
 * associated data, does not open as a down record; the control, sealed
 * under the document's down nonce, does. */
static void test_nonce_domains(void **state)
{
    (void)state;
    uint8_t nonce_up[12], nonce_down[12];
    doc_nonce_up(nonce_up, 0);
    doc_nonce_down(nonce_down, 0, 0, 0);
    assert_memory_not_equal(nonce_up, nonce_down, 12);
    /* A sealed ENet message's nonce starts with its channel, 0..3. */
    assert_true(nonce_up[0] >= GV_SEAL_CHANNELS && nonce_down[0] >= GV_SEAL_CHANNELS);
    pair p;
    pair_open(&p);
    static const uint8_t body[4] = {0x9e, 0xf8, 0xff, 0xfe};
    const uint8_t *nonces[2] = {nonce_up, nonce_down};
    static const int want[2] = {GV_EAUTH, 0};
    for (int i = 0; i < 2; i++) {
        uint8_t d[64] = {0x60, 0, 0, 0, 0, 0}, plain[PLAIN_CAP];
        size_t n = 6 + raw_seal(p.kb.send, nonces[i], d, 6, body, sizeof body, d + 6);
        const uint8_t *at = d;
        size_t left = n;
        gv_datagram_record r;
        assert_int_equal(gv_datagram_next_record(&at, &left, &r), 1);
        gv_datagram_stream s;
        gv_datagram_stream_start(&s, 0, 0);
        gv_msg got;
        assert_int_equal(gv_datagram_open_down(p.a, &s, &r, plain, sizeof plain, &got), want[i]);
    }
    pair_close(&p);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const char *seed = getenv("GVOIP_TEST_SEED");
    if (seed)
        g_seed = strtoull(seed, NULL, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_up_round_trip),
        cmocka_unit_test(test_resync),
        cmocka_unit_test(test_up_replay),
        cmocka_unit_test(test_up_forgeries),
        cmocka_unit_test(test_up_malformed_after_auth),
        cmocka_unit_test(test_seal_up_refusals),
        cmocka_unit_test(test_here),
        cmocka_unit_test(test_down_three_records),
        cmocka_unit_test(test_down_forgeries),
        cmocka_unit_test(test_down_malformed_after_auth),
        cmocka_unit_test(test_seal_down_refusals),
        cmocka_unit_test(test_down_timestamps),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_nonce_domains),
    };
    /* Pure functions: no key involved. */
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_expand_table),
        cmocka_unit_test(test_expand_exactly_32768_ahead),
        cmocka_unit_test(test_kind_table),
        cmocka_unit_test(test_up_index),
        cmocka_unit_test(test_next_record_table),
    };
    int failed = cmocka_run_group_tests_name("pure", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("chacha20-poly1305", tests, NULL, NULL);
    if (!gv_seal_aes256gcm_available()) {
        print_message("AES-256-GCM is not available on this CPU: its group did not run\n");
        return failed;
    }
    g_cipher = GV_SEAL_AES256GCM;
    failed += cmocka_run_group_tests_name("aes-256-gcm", tests, NULL, NULL);
    return failed;
}
