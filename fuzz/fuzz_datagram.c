/* Voice datagrams (src/session/gv_datagram.c) with fixed keys, against
 * docs/protocol.md, "Voice datagrams". Every input goes through all of:
 *
 *   - gv_datagram_kind_of and gv_datagram_up_index, against a model of the
 *     first-byte table and the up / "I am here" layouts;
 *   - gv_datagram_open_up (the server's seal, a fresh window) and
 *     gv_datagram_open_here: only what the key holder sealed opens; a
 *     refusal leaves the window (or the next counter) as it was; what
 *     opens has its fields where the document puts them and opens once;
 *   - the gv_datagram_next_record walk, each record opened with the
 *     listener's stream of its slot (one for each of the 256 slots, epoch
 *     4 * slot + 1, next counter 0): no record reaches past the input, a
 *     walk that ends with 0 has consumed exactly the input, a refusal does
 *     not move the cursor; an opened voice has at least one byte of
 *     payload, inside the plaintext buffer;
 *   - a round trip: the first 17 bytes choose a voice (flags, level,
 *     ticks, counter, index, slot, epoch, the cipher, whether another
 *     record follows), the rest is its payload; it is sealed up and down
 *     (and an "I am here" with the same counter), the bytes must equal
 *     the document's layout sealed with libsodium directly, and each must
 *     open back to the same voice.
 *
 * The keys are the ones of the document's examples (the client's send key
 * 01..20, the server's a0..bf) so that the seeds in
 * fuzz/corpus/fuzz_datagram/ include datagrams that open. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "packet/gv_msg.h"
#include "session/gv_datagram.h"
#include "session/gv_seal.h"
#include "fuzz_common.h"

#define CLEAR 0x0f /* marker, echo, pre-roll, redundant: in the first byte */
#define TAG 16
#define UP_HEADER 6
#define HERE_LEN 20
#define MIN_RECORD 23
#define MAX_SEALED (1 + GV_VOICE_PAYLOAD_MAX + TAG)
#define PARAMS 17

static uint8_t k1[32], k2[32]; /* client to server, server to client */
static int have_aes;
/* [cipher]: the server opens up and seals down; the client the reverse. */
static gv_seal *server[2], *client[2];
static gv_datagram_stream streams[256];

static uint32_t epoch_of(uint8_t slot)
{
    return 4u * slot + 1u;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    for (int i = 0; i < 32; i++) {
        k1[i] = (uint8_t)(i + 1);
        k2[i] = (uint8_t)(0xa0 + i);
    }
    have_aes = gv_seal_aes256gcm_available();
    for (int c = 0; c < (have_aes ? 2 : 1); c++) {
        gv_seal_keys ks = {.cipher = (gv_seal_cipher)c}, kc = {.cipher = (gv_seal_cipher)c};
        memcpy(ks.send, k2, 32);
        memcpy(ks.recv, k1, 32);
        memcpy(kc.send, k1, 32);
        memcpy(kc.recv, k2, 32);
        CHECK(gv_seal_create(&ks, &server[c]) == GV_OK);
        CHECK(gv_seal_create(&kc, &client[c]) == GV_OK);
    }
    return 0;
}

/* ---- models, from the document ------------------------------------------- */

static gv_datagram_kind model_kind(const uint8_t *d, size_t len)
{
    if (len == 0)
        return GV_DATAGRAM_OTHER;
    unsigned b = d[0];
    if (b <= 0x3f || (b >= 0x80 && b <= 0xbf))
        return GV_DATAGRAM_ENET;
    if (b == 0x48 || b == 0xc8)
        return GV_DATAGRAM_HERE;
    if ((b >= 0x50 && b <= 0x5f) || (b >= 0xd0 && b <= 0xdf))
        return GV_DATAGRAM_UP;
    if (b >= 0x60 && b <= 0x7f)
        return GV_DATAGRAM_DOWN;
    return GV_DATAGRAM_OTHER;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* 04 (voice) or 06 ("I am here"), 00 00 00, LE64(counter). */
static void model_nonce_up(uint8_t n[12], uint8_t domain, uint64_t counter)
{
    memset(n, 0, 12);
    n[0] = domain;
    put_le(n + 4, counter, 8);
}

/* 05, slot, LE32(epoch), LE48(counter). */
static void model_nonce_down(uint8_t n[12], uint8_t slot, uint32_t epoch, uint64_t counter)
{
    n[0] = 5;
    n[1] = slot;
    put_le(n + 2, epoch, 4);
    put_le(n + 6, counter, 6);
}

static size_t model_aead(int aes, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad, size_t ad_len,
                         const uint8_t *m, size_t len, uint8_t *out)
{
    unsigned long long clen = 0;
    if (aes)
        crypto_aead_aes256gcm_encrypt(out, &clen, m, len, ad, ad_len, NULL, nonce, key);
    else
        crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, m, len, ad, ad_len, NULL, nonce, key);
    CHECK(clen == len + TAG);
    return (size_t)clen;
}

/* A payload the document accepts: 1..1275 bytes; with 0x08, a last byte
 * r of 1..len-2. */
static int model_payload_ok(const uint8_t *p, size_t len, uint8_t flags)
{
    if (len < 1 || len > GV_VOICE_PAYLOAD_MAX)
        return 0;
    if (!(flags & GV_VOICE_REDUNDANT))
        return 1;
    return len >= 2 && p[len - 1] != 0 && p[len - 1] <= len - 2;
}

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    CHECK(q != NULL);
    if (n)
        memcpy(q, p, n);
    return q;
}

/* ---- fuzzed bytes as they come off the wire -------------------------------- */

static void check_kind_and_index(const uint8_t *d, size_t len)
{
    gv_datagram_kind k = model_kind(d, len);
    CHECK(gv_datagram_kind_of(d, len) == k);
    int want = GV_EMALFORMED;
    if ((k == GV_DATAGRAM_UP && len >= UP_HEADER + 1 + TAG) || (k == GV_DATAGRAM_HERE && len == HERE_LEN))
        want = (d[0] >> 7) << 8 | d[1];
    CHECK(gv_datagram_up_index(d, len) == want);
}

static void check_up(const uint8_t *d, size_t len)
{
    /* The plaintext buffer is exactly as large as the sealed part's
     * plaintext, on the heap, so that ASan sees any write past it. */
    size_t cap = len > UP_HEADER + TAG ? len - UP_HEADER - TAG : 0;
    uint8_t *plain = malloc(cap ? cap : 1);
    CHECK(plain != NULL);
    gv_seal_window w, fresh;
    gv_seal_window_start(&w, 0);
    fresh = w;
    gv_msg v;
    uint64_t counter = UINT64_MAX;
    int rc = gv_datagram_open_up(server[0], &w, d, len, plain, cap, &v, &counter);
    int shape = gv_datagram_up_index(d, len) >= 0 && len <= UP_HEADER + 1 + GV_VOICE_PAYLOAD_MAX + TAG;
    CHECK(rc == 0 || rc == GV_EMALFORMED || rc == GV_EAUTH);
    if (!shape)
        CHECK(rc == GV_EAUTH);
    if (rc == GV_EAUTH) {
        CHECK(memcmp(&w, &fresh, sizeof w) == 0);
    } else {
        /* Authenticated: the counter is spent, whatever the payload. */
        CHECK(model_kind(d, len) == GV_DATAGRAM_UP);
        CHECK(counter == be16(d + 2) && w.top == counter + 1);
        if (rc == 0) {
            CHECK(v.type == GV_MSG_VOICE);
            CHECK(v.u.voice.len >= 1 && (size_t)v.u.voice.len == len - UP_HEADER - 1 - TAG);
            CHECK(v.u.voice.payload == plain + 1 && v.u.voice.payload + v.u.voice.len <= plain + cap);
            CHECK(v.u.voice.seq == be16(d + 2));
            CHECK(v.u.voice.ts == (uint32_t)be16(d + 4) * GV_VOICE_TICK);
            CHECK((v.u.voice.flags & ~GV_VOICE_QUIET) == (d[0] & CLEAR));
            CHECK(v.u.voice.level <= 127);
            CHECK(model_payload_ok(v.u.voice.payload, v.u.voice.len, v.u.voice.flags));
        }
        CHECK(gv_datagram_open_up(server[0], &w, d, len, plain, cap, &v, &counter) == GV_EREPLAY);
    }
    free(plain);
}

static void check_here(const uint8_t *d, size_t len)
{
    uint64_t next = 0;
    int rc = gv_datagram_open_here(server[0], &next, d, len);
    CHECK(rc == 0 || rc == GV_EAUTH);
    if (rc == 0) {
        CHECK(len == HERE_LEN && model_kind(d, len) == GV_DATAGRAM_HERE);
        CHECK(next == (uint64_t)be16(d + 2) + 1);
        CHECK(gv_datagram_open_here(server[0], &next, d, len) == GV_EAUTH);
    } else {
        CHECK(next == 0);
    }
}

static void check_down(const uint8_t *d, size_t len)
{
    uint8_t touched[256] = {0};
    const uint8_t *at = d, *end = d + len;
    size_t left = len, consumed = 0, records = 0;
    for (;;) {
        const uint8_t *was = at;
        size_t was_left = left;
        gv_datagram_record rec;
        int rc = gv_datagram_next_record(&at, &left, &rec);
        if (rc == 0) {
            CHECK(left == 0 && at == end && consumed == len);
            break;
        }
        if (rc == GV_EMALFORMED) {
            CHECK(at == was && left == was_left);
            break;
        }
        CHECK(rc == 1);
        records++;
        CHECK(records * MIN_RECORD <= len);
        CHECK(model_kind(was, was_left) == GV_DATAGRAM_DOWN);
        CHECK(rec.header == was && rec.slot == was[1]);
        CHECK(rec.header_len == ((was[0] & 0xf0) == 0x70 ? 8u : 6u));
        CHECK(rec.sealed == was + rec.header_len);
        CHECK(rec.sealed_len >= 1 + TAG && rec.sealed_len <= MAX_SEALED);
        CHECK(rec.sealed_len <= (size_t)(end - rec.sealed));
        CHECK(at == rec.sealed + rec.sealed_len && left == (size_t)(end - at));
        if (rec.header_len == 8)
            CHECK(rec.sealed_len == be16(was + 6) && left >= MIN_RECORD);
        else
            CHECK(left == 0);
        consumed += rec.header_len + rec.sealed_len;

        gv_datagram_stream *st = &streams[rec.slot];
        if (!touched[rec.slot]) {
            gv_datagram_stream_start(st, epoch_of(rec.slot), 0);
            touched[rec.slot] = 1;
        }
        gv_datagram_stream before = *st;
        size_t cap = rec.sealed_len - TAG;
        uint8_t *plain = malloc(cap);
        CHECK(plain != NULL);
        gv_msg v;
        rc = gv_datagram_open_down(client[0], st, &rec, plain, cap, &v);
        CHECK(rc == 0 || rc == GV_EMALFORMED || rc == GV_EREPLAY || rc == GV_EAUTH);
        if (rc == GV_EAUTH || rc == GV_EREPLAY) {
            CHECK(memcmp(st, &before, sizeof *st) == 0);
        } else {
            /* Authenticated: the counter the window read is now spent. */
            uint64_t c = gv_seal_window_expand(&before.window, be16(was + 2));
            CHECK(gv_seal_window_check(&before.window, c) == GV_OK);
            CHECK(gv_seal_window_check(&st->window, c) == GV_EREPLAY);
            /* The timestamp: the one nearest the newest (the first one as
             * it came), in uint32 samples. */
            uint16_t low = be16(was + 4);
            uint64_t base = before.have_ticks ? before.ticks : ((uint64_t)1 << 32) + low;
            int32_t diff = (int32_t)low - (int32_t)(base & 0xffff);
            if (diff > 32767)
                diff -= 65536;
            else if (diff < -32768)
                diff += 65536;
            uint64_t ticks = base + (uint64_t)(int64_t)diff;
            CHECK(st->have_ticks && st->ticks == (ticks > base ? ticks : base));
            if (rc == 0) {
                CHECK(v.type == GV_MSG_VOICE_RELAY && v.u.voice.sender == 0);
                CHECK(v.u.voice.len >= 1 && (size_t)v.u.voice.len == cap - 1);
                CHECK(v.u.voice.payload == plain + 1 && v.u.voice.payload + v.u.voice.len <= plain + cap);
                CHECK(v.u.voice.seq == be16(was + 2));
                CHECK(v.u.voice.ts == (uint32_t)(ticks * GV_VOICE_TICK));
                CHECK((v.u.voice.flags & ~GV_VOICE_QUIET) == (was[0] & CLEAR));
                CHECK(v.u.voice.level <= 127);
            }
            CHECK(gv_datagram_open_down(client[0], st, &rec, plain, cap, &v) == GV_EREPLAY);
        }
        free(plain);
    }
}

/* ---- round trip ---------------------------------------------------------------- */

static void round_trip(const uint8_t *data, size_t size)
{
    if (size < PARAMS)
        return;
    uint8_t flags = data[0] & (CLEAR | GV_VOICE_QUIET);
    int more = (data[0] & 0x10) != 0;
    int aes = have_aes && (data[0] & 0x40);
    uint8_t level = data[1];
    uint16_t ticks = be16(data + 2);
    uint64_t counter = 0;
    for (int i = 0; i < 6; i++)
        counter = counter << 8 | data[4 + i];
    uint16_t index = be16(data + 10) & GV_DATAGRAM_INDEX_MAX;
    gv_datagram_speaker who = {data[12], 0, counter};
    for (int i = 0; i < 4; i++)
        who.epoch = who.epoch << 8 | data[13 + i];
    const uint8_t *payload = data + PARAMS;
    size_t len = size - PARAMS;
    if (len > GV_VOICE_PAYLOAD_MAX + 1)
        len = GV_VOICE_PAYLOAD_MAX + 1;
    /* A buffer just large enough: a datagram of the largest voice, plus a
     * last record after a record that says more follow. */
    static uint8_t out[8 + MAX_SEALED + MIN_RECORD], want[8 + MAX_SEALED];
    gv_msg voice;
    memset(&voice, 0, sizeof voice);
    voice.type = GV_MSG_VOICE;
    voice.u.voice.flags = flags;
    voice.u.voice.ts = (uint32_t)ticks * GV_VOICE_TICK;
    voice.u.voice.level = level;
    voice.u.voice.payload = payload;
    voice.u.voice.len = (uint16_t)len;
    int ok = model_payload_ok(payload, len, flags);
    uint8_t want_level = level > 127 ? 127 : level;
    uint8_t body[1 + GV_VOICE_PAYLOAD_MAX];
    if (ok) {
        body[0] = (uint8_t)(want_level | ((flags & GV_VOICE_QUIET) ? 0 : 0x80));
        memcpy(body + 1, payload, len);
    }
    uint64_t start = counter >= 1000 ? counter - 1000 : 0;
    uint8_t nonce[12], plain[1 + GV_VOICE_PAYLOAD_MAX];
    gv_msg got;

    /* Up. */
    int n = gv_datagram_seal_up(client[aes], index, counter, &voice, out, sizeof out);
    if (!ok) {
        CHECK(n == GV_EINVAL);
    } else {
        CHECK(n == (int)(UP_HEADER + 1 + len + TAG));
        want[0] = (uint8_t)(0x50 | (flags & CLEAR) | (index >> 8) << 7);
        want[1] = (uint8_t)index;
        want[2] = (uint8_t)(counter >> 8), want[3] = (uint8_t)counter;
        want[4] = (uint8_t)(ticks >> 8), want[5] = (uint8_t)ticks;
        model_nonce_up(nonce, 4, counter);
        model_aead(aes, k1, nonce, want, UP_HEADER, body, 1 + len, want + UP_HEADER);
        CHECK(memcmp(out, want, (size_t)n) == 0);
        gv_seal_window w;
        gv_seal_window_start(&w, start);
        uint64_t c = 0;
        CHECK(gv_datagram_open_up(server[aes], &w, out, (size_t)n, plain, sizeof plain, &got, &c) == 0);
        CHECK(c == counter && got.type == GV_MSG_VOICE && got.u.voice.seq == (uint16_t)counter);
        CHECK(got.u.voice.ts == voice.u.voice.ts && got.u.voice.flags == flags && got.u.voice.level == want_level);
        CHECK(got.u.voice.len == len && memcmp(got.u.voice.payload, payload, len) == 0);
        CHECK(gv_datagram_up_index(out, (size_t)n) == index);
    }

    /* Down, the record first in its datagram; with `more`, a last record
     * (unsealed: never opened) after it. */
    voice.type = GV_MSG_VOICE_RELAY;
    n = gv_datagram_seal_down(server[aes], &who, &voice, more, out, sizeof out - MIN_RECORD);
    if (!ok) {
        CHECK(n == GV_EINVAL);
    } else {
        size_t hl = more ? 8 : 6, sealed = 1 + len + TAG;
        CHECK(n == (int)(hl + sealed));
        want[0] = (uint8_t)((more ? 0x70 : 0x60) | (flags & CLEAR));
        want[1] = who.slot;
        want[2] = (uint8_t)(counter >> 8), want[3] = (uint8_t)counter;
        want[4] = (uint8_t)(ticks >> 8), want[5] = (uint8_t)ticks;
        want[6] = (uint8_t)(sealed >> 8), want[7] = (uint8_t)sealed;
        model_nonce_down(nonce, who.slot, who.epoch, counter);
        model_aead(aes, k2, nonce, want, hl, body, 1 + len, want + hl);
        CHECK(memcmp(out, want, (size_t)n) == 0);
        size_t total = (size_t)n;
        if (more) {
            memset(out + total, 0, MIN_RECORD);
            out[total] = 0x60;
            total += MIN_RECORD;
        }
        const uint8_t *at = out;
        size_t left = total;
        gv_datagram_record rec;
        CHECK(gv_datagram_next_record(&at, &left, &rec) == 1);
        CHECK(rec.slot == who.slot && rec.header_len == hl && rec.sealed_len == sealed);
        gv_datagram_stream st;
        gv_datagram_stream_start(&st, who.epoch, start);
        CHECK(gv_datagram_open_down(client[aes], &st, &rec, plain, sizeof plain, &got) == 0);
        CHECK(got.type == GV_MSG_VOICE_RELAY && got.u.voice.seq == (uint16_t)counter);
        CHECK(got.u.voice.ts == voice.u.voice.ts && got.u.voice.flags == flags && got.u.voice.level == want_level);
        CHECK(got.u.voice.len == len && memcmp(got.u.voice.payload, payload, len) == 0);
        /* Another epoch is another nonce. */
        gv_datagram_stream_start(&st, who.epoch ^ 1, start);
        CHECK(gv_datagram_open_down(client[aes], &st, &rec, plain, sizeof plain, &got) == GV_EAUTH);
        if (more) {
            CHECK(gv_datagram_next_record(&at, &left, &rec) == 1);
            CHECK(rec.header_len == 6 && rec.sealed_len == MIN_RECORD - 6);
        }
        CHECK(gv_datagram_next_record(&at, &left, &rec) == 0);
    }

    /* "I am here" with the same counter and index. */
    n = gv_datagram_seal_here(client[aes], index, counter, out, sizeof out);
    CHECK(n == HERE_LEN);
    want[0] = (uint8_t)(0x48 | (index >> 8) << 7);
    want[1] = (uint8_t)index;
    want[2] = (uint8_t)(counter >> 8), want[3] = (uint8_t)counter;
    model_nonce_up(nonce, 6, counter);
    model_aead(aes, k1, nonce, want, 4, NULL, 0, want + 4);
    CHECK(memcmp(out, want, HERE_LEN) == 0);
    uint64_t next = start;
    CHECK(gv_datagram_up_index(out, HERE_LEN) == index);
    CHECK(gv_datagram_open_here(server[aes], &next, out, HERE_LEN) == 0 && next == counter + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exactly sized copy: ASan sees a read past the datagram. */
    uint8_t *d = dup_exact(data, size);
    check_kind_and_index(d, size);
    check_up(d, size);
    check_here(d, size);
    check_down(d, size);
    CHECK(size == 0 || memcmp(d, data, size) == 0); /* nothing writes into it */
    free(d);
    round_trip(data, size);
    return 0;
}
