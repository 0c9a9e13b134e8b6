#include "session/gv_datagram.h"

#include <string.h>

#include "gvoip/error.h"

/* The first byte: the kind in bits 4-6, the voice flags that travel in
 * clear in bits 0-3; 0x40 is ENet's compressed flag. Up, bit 7 is the
 * receiver index's ninth bit. */
#define KIND_HERE 0x48
#define KIND_UP 0x50
#define KIND_DOWN_LAST 0x60
#define KIND_DOWN_MORE 0x70
#define KIND_MASK 0xf0
#define CLEAR_FLAGS (GV_VOICE_MARKER | GV_VOICE_ECHO | GV_VOICE_PREROLL | GV_VOICE_REDUNDANT)

/* The level byte: RFC 6464's voice-activity bit and level in -dBov. */
#define LEVEL_VOICE 0x80
#define LEVEL_MAX 127

/* Nonce domains: a sealed ENet message uses its channel (0..3) as the
 * first nonce byte; voice datagrams take the next two. */
#define NONCE_UP 4
#define NONCE_DOWN 5
#define NONCE_HERE 6

/* How far behind the newest timestamp a relayed one may be read: 10 s. */
#define TICKS_BEHIND 4096u

_Static_assert(GV_SEAL_CHANNELS <= NONCE_UP, "voice nonces never meet a channel's");

gv_datagram_kind gv_datagram_kind_of(const uint8_t *d, size_t len)
{
    if (!d || len == 0)
        return GV_DATAGRAM_OTHER;
    if (!(d[0] & 0x40))
        return GV_DATAGRAM_ENET;
    if ((d[0] & 0x7f) == KIND_HERE)
        return GV_DATAGRAM_HERE;
    if ((d[0] & 0x70) == KIND_UP)
        return GV_DATAGRAM_UP;
    if ((d[0] & KIND_MASK) == KIND_DOWN_LAST || (d[0] & KIND_MASK) == KIND_DOWN_MORE)
        return GV_DATAGRAM_DOWN;
    return GV_DATAGRAM_OTHER;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void nonce_up(uint8_t nonce[GV_SEAL_NONCE], uint8_t domain, uint64_t counter)
{
    memset(nonce, 0, GV_SEAL_NONCE);
    nonce[0] = domain;
    put_le(nonce + 4, counter, 8);
}

static void nonce_down(uint8_t nonce[GV_SEAL_NONCE], uint8_t slot, uint32_t epoch, uint64_t counter)
{
    nonce[0] = NONCE_DOWN;
    nonce[1] = slot;
    put_le(nonce + 2, epoch, 4);
    put_le(nonce + 6, counter, 6);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The receiver index's low 9 bits: 8 in the second byte, the ninth in
 * the first byte's bit 7. */
static void put_index(uint8_t *d, uint16_t index)
{
    d[0] = (uint8_t)(d[0] | (index >> 8 & 1) << 7);
    d[1] = (uint8_t)index;
}

static int get_index(const uint8_t *d)
{
    return (d[0] >> 7) << 8 | d[1];
}

static uint8_t level_byte(const gv_msg *voice)
{
    uint8_t level = voice->u.voice.level > LEVEL_MAX ? LEVEL_MAX : voice->u.voice.level;
    return (uint8_t)(level | ((voice->u.voice.flags & GV_VOICE_QUIET) ? 0 : LEVEL_VOICE));
}

/* What every voice must be before it is sealed. */
static int voice_ok(const gv_msg *voice)
{
    size_t primary, copy_len;
    const uint8_t *copy;
    return voice && (voice->type == GV_MSG_VOICE || voice->type == GV_MSG_VOICE_RELAY) &&
           !(voice->u.voice.flags & ~(CLEAR_FLAGS | GV_VOICE_QUIET)) && voice->u.voice.payload &&
           voice->u.voice.len > 0 && voice->u.voice.len <= GV_VOICE_PAYLOAD_MAX &&
           voice->u.voice.ts % GV_VOICE_TICK == 0 &&
           gv_voice_split(voice->u.voice.payload, voice->u.voice.len, voice->u.voice.flags, &primary, &copy,
                          &copy_len) == 0;
}

/* The level byte and the payload, sealed after the header at out. */
static int seal_body(gv_seal *seal, const uint8_t nonce[GV_SEAL_NONCE], const uint8_t *header, size_t header_len,
                     const gv_msg *voice, uint8_t *out, size_t cap)
{
    uint8_t plain[GV_DATAGRAM_LEVEL + GV_VOICE_PAYLOAD_MAX];
    plain[0] = level_byte(voice);
    memcpy(plain + 1, voice->u.voice.payload, voice->u.voice.len);
    return gv_seal_encrypt_at(seal, nonce, header, header_len, plain, 1u + voice->u.voice.len, out, cap);
}

int gv_datagram_seal_up(gv_seal *seal, uint16_t index, uint64_t counter, const gv_msg *voice, uint8_t *out,
                        size_t cap)
{
    if (!seal || !out || !voice_ok(voice))
        return GV_EINVAL;
    if (counter >= GV_VOICE_COUNTER_LIMIT)
        return GV_ESTATE;
    if (cap < GV_DATAGRAM_UP_OVERHEAD + (size_t)voice->u.voice.len)
        return GV_ETOOBIG;
    out[0] = (uint8_t)(KIND_UP | (voice->u.voice.flags & CLEAR_FLAGS));
    put_index(out, index);
    put_be16(out + 2, (uint16_t)counter);
    put_be16(out + 4, (uint16_t)(voice->u.voice.ts / GV_VOICE_TICK));
    uint8_t nonce[GV_SEAL_NONCE];
    nonce_up(nonce, NONCE_UP, counter);
    int n = seal_body(seal, nonce, out, GV_DATAGRAM_UP_HEADER, voice, out + GV_DATAGRAM_UP_HEADER,
                      cap - GV_DATAGRAM_UP_HEADER);
    return n < 0 ? n : n + GV_DATAGRAM_UP_HEADER;
}

int gv_datagram_up_index(const uint8_t *d, size_t len)
{
    gv_datagram_kind kind = gv_datagram_kind_of(d, len);
    if (!(kind == GV_DATAGRAM_UP && len >= GV_DATAGRAM_UP_OVERHEAD) &&
        !(kind == GV_DATAGRAM_HERE && len == GV_DATAGRAM_HERE_LEN))
        return GV_EMALFORMED;
    return get_index(d);
}

#define HERE_HEADER 4 /* kind, index, counter */

int gv_datagram_seal_here(gv_seal *seal, uint16_t index, uint64_t counter, uint8_t *out, size_t cap)
{
    if (!seal || !out)
        return GV_EINVAL;
    if (counter >= GV_VOICE_COUNTER_LIMIT)
        return GV_ESTATE;
    if (cap < GV_DATAGRAM_HERE_LEN)
        return GV_ETOOBIG;
    out[0] = KIND_HERE;
    put_index(out, index);
    put_be16(out + 2, (uint16_t)counter);
    uint8_t nonce[GV_SEAL_NONCE];
    nonce_up(nonce, NONCE_HERE, counter);
    int n = gv_seal_encrypt_at(seal, nonce, out, HERE_HEADER, NULL, 0, out + HERE_HEADER, cap - HERE_HEADER);
    return n < 0 ? n : n + HERE_HEADER;
}

int gv_datagram_open_here(gv_seal *seal, uint64_t *next, const uint8_t *d, size_t len)
{
    if (!seal || !next)
        return GV_EINVAL;
    if (!d || len != GV_DATAGRAM_HERE_LEN || (d[0] & 0x7f) != KIND_HERE)
        return GV_EAUTH;
    /* Only newer ones count: the nearest counter at or after *next. */
    uint64_t c = *next + (uint16_t)(get_be16(d + 2) - (uint16_t)*next);
    if (c >= GV_VOICE_COUNTER_LIMIT)
        return GV_EREPLAY;
    uint8_t nonce[GV_SEAL_NONCE], none[1];
    nonce_up(nonce, NONCE_HERE, c);
    int n = gv_seal_decrypt_at(seal, nonce, d, HERE_HEADER, d + HERE_HEADER, len - HERE_HEADER, none, 0);
    if (n < 0)
        return GV_EAUTH;
    *next = c + 1;
    return 0;
}

/* The opened level byte and payload into *voice; the flags that travelled
 * in clear come from the kind byte. */
static int read_body(uint8_t kind, const uint8_t *plain, size_t n, gv_msg *voice)
{
    if (n < 2)
        return GV_EMALFORMED;
    voice->u.voice.flags = (uint8_t)(kind & CLEAR_FLAGS);
    if (!(plain[0] & LEVEL_VOICE))
        voice->u.voice.flags |= GV_VOICE_QUIET;
    voice->u.voice.level = plain[0] & LEVEL_MAX;
    voice->u.voice.payload = plain + 1;
    voice->u.voice.len = (uint16_t)(n - 1);
    size_t primary, copy_len;
    const uint8_t *copy;
    return gv_voice_split(voice->u.voice.payload, n - 1, voice->u.voice.flags, &primary, &copy, &copy_len) == 0
               ? 0
               : GV_EMALFORMED;
}

int gv_datagram_open_up(gv_seal *seal, gv_seal_window *w, const uint8_t *d, size_t len, uint8_t *plain,
                        size_t cap, gv_msg *voice, uint64_t *counter)
{
    if (!seal || !w || !plain || !voice || !counter)
        return GV_EINVAL;
    /* Nothing is known to come from the sender before the tag verified:
     * a shape no sealed voice has is a forgery (GV_EAUTH), not a sender's
     * malformed message. */
    if (gv_datagram_up_index(d, len) < 0 || len > GV_DATAGRAM_UP_OVERHEAD + GV_VOICE_PAYLOAD_MAX)
        return GV_EAUTH;
    uint64_t c = gv_seal_window_expand(w, get_be16(d + 2));
    if (c >= GV_VOICE_COUNTER_LIMIT)
        return GV_EREPLAY;
    int rc = gv_seal_window_check(w, c);
    if (rc < 0)
        return rc;
    uint8_t nonce[GV_SEAL_NONCE];
    nonce_up(nonce, NONCE_UP, c);
    int n = gv_seal_decrypt_at(seal, nonce, d, GV_DATAGRAM_UP_HEADER, d + GV_DATAGRAM_UP_HEADER,
                               len - GV_DATAGRAM_UP_HEADER, plain, cap);
    if (n < 0)
        return n == GV_EMALFORMED ? GV_EAUTH : n;
    memset(voice, 0, sizeof *voice);
    voice->type = GV_MSG_VOICE;
    voice->u.voice.seq = (uint16_t)c;
    voice->u.voice.ts = (uint32_t)get_be16(d + 4) * GV_VOICE_TICK;
    /* A sender whose payload does not parse still sent it: the window
     * keeps the counter, so a replay of it is a replay. */
    gv_seal_window_accept(w, c);
    *counter = c;
    return read_body(d[0], plain, (size_t)n, voice);
}

int gv_datagram_seal_down(gv_seal *seal, const gv_datagram_speaker *speaker, const gv_msg *voice, int more,
                          uint8_t *out, size_t cap)
{
    if (!seal || !speaker || !out || !voice_ok(voice))
        return GV_EINVAL;
    if (speaker->counter >= GV_VOICE_COUNTER_LIMIT)
        return GV_EINVAL;
    size_t header = GV_DATAGRAM_DOWN_HEADER + (more ? GV_DATAGRAM_RECORD_LENGTH : 0);
    size_t sealed = GV_DATAGRAM_LEVEL + (size_t)voice->u.voice.len + GV_SEAL_TAG;
    if (cap < header + sealed)
        return GV_ETOOBIG;
    out[0] = (uint8_t)((more ? KIND_DOWN_MORE : KIND_DOWN_LAST) | (voice->u.voice.flags & CLEAR_FLAGS));
    out[1] = speaker->slot;
    put_be16(out + 2, (uint16_t)speaker->counter);
    put_be16(out + 4, (uint16_t)(voice->u.voice.ts / GV_VOICE_TICK));
    if (more)
        put_be16(out + GV_DATAGRAM_DOWN_HEADER, (uint16_t)sealed);
    uint8_t nonce[GV_SEAL_NONCE];
    nonce_down(nonce, speaker->slot, speaker->epoch, speaker->counter);
    int n = seal_body(seal, nonce, out, header, voice, out + header, cap - header);
    return n < 0 ? n : n + (int)header;
}

int gv_datagram_next_record(const uint8_t **d, size_t *left, gv_datagram_record *rec)
{
    if (!d || !left || !rec)
        return GV_EINVAL;
    if (*left == 0)
        return 0;
    const uint8_t *p = *d;
    size_t n = *left;
    if (n < GV_DATAGRAM_DOWN_OVERHEAD || (p[0] & KIND_MASK) < KIND_DOWN_LAST || (p[0] & KIND_MASK) > KIND_DOWN_MORE)
        return GV_EMALFORMED;
    rec->slot = p[1];
    rec->header = p;
    if ((p[0] & KIND_MASK) == KIND_DOWN_LAST) {
        rec->header_len = GV_DATAGRAM_DOWN_HEADER;
        rec->sealed_len = n - GV_DATAGRAM_DOWN_HEADER;
    } else {
        rec->header_len = GV_DATAGRAM_DOWN_HEADER + GV_DATAGRAM_RECORD_LENGTH;
        if (n < rec->header_len)
            return GV_EMALFORMED;
        rec->sealed_len = get_be16(p + GV_DATAGRAM_DOWN_HEADER);
        /* A record that says more follow leaves room for one. */
        if (rec->sealed_len < GV_DATAGRAM_LEVEL + GV_SEAL_TAG ||
            rec->sealed_len + GV_DATAGRAM_DOWN_OVERHEAD > n - rec->header_len)
            return GV_EMALFORMED;
    }
    if (rec->sealed_len > GV_DATAGRAM_LEVEL + GV_VOICE_PAYLOAD_MAX + GV_SEAL_TAG)
        return GV_EMALFORMED;
    rec->sealed = p + rec->header_len;
    *d = rec->sealed + rec->sealed_len;
    *left = n - rec->header_len - rec->sealed_len;
    return 1;
}

void gv_datagram_stream_start(gv_datagram_stream *st, uint32_t epoch, uint64_t next)
{
    memset(st, 0, sizeof *st);
    st->epoch = epoch;
    gv_seal_window_start(&st->window, next);
}

int gv_datagram_open_down(gv_seal *seal, gv_datagram_stream *st, const gv_datagram_record *rec, uint8_t *plain,
                          size_t cap, gv_msg *voice)
{
    if (!seal || !st || !rec || !plain || !voice || !rec->header || !rec->sealed)
        return GV_EINVAL;
    uint64_t c = gv_seal_window_expand(&st->window, get_be16(rec->header + 2));
    int rc = c < GV_VOICE_COUNTER_LIMIT ? gv_seal_window_check(&st->window, c) : GV_EREPLAY;
    /* A reading the window remembers is a replay; one older than the
     * window may be a speaker far ahead, as may one that does not open. */
    int remembered = rc == GV_EREPLAY && c < st->window.top && st->window.top - c <= GV_SEAL_WINDOW;
    if (remembered)
        return rc;
    int n = GV_EAUTH;
    for (int k = 0; k <= GV_DATAGRAM_RESYNC && c < GV_VOICE_COUNTER_LIMIT; k++, c += 65536u) {
        if (c < st->window.top && gv_seal_window_check(&st->window, c) != GV_OK)
            continue;
        uint8_t nonce[GV_SEAL_NONCE];
        nonce_down(nonce, rec->slot, st->epoch, c);
        n = gv_seal_decrypt_at(seal, nonce, rec->header, rec->header_len, rec->sealed, rec->sealed_len, plain, cap);
        if (n >= 0 || n == GV_ETOOBIG)
            break;
    }
    if (n < 0) /* a reading older than the window that no later one opens is a replay */
        return n == GV_ETOOBIG ? n : rc == GV_EREPLAY ? GV_EREPLAY : GV_EAUTH;
    gv_seal_window_accept(&st->window, c);
    /* A speaker's clock only moves on, but for a late or pre-roll packet:
     * these 16 bits of ticks are read up to 10 s behind the newest
     * timestamp, else ahead (up to 153 s of silence come out exactly; a
     * longer one, shorter by whole turns of 164 s, which only a new talk
     * spurt can follow). */
    uint16_t low = get_be16(rec->header + 4);
    if (!st->have_ticks) {
        /* Far from 0, so that nothing before it wraps; 2^32 ticks are a
         * whole number of turns of the 32-bit sample clock. */
        st->ticks = ((uint64_t)1 << 32) + low;
        st->have_ticks = 1;
    }
    uint32_t ahead = (uint16_t)(low - (uint16_t)st->ticks);
    uint64_t ticks = ahead < 65536u - TICKS_BEHIND ? st->ticks + ahead : st->ticks - (65536u - ahead);
    if (ticks > st->ticks)
        st->ticks = ticks;
    memset(voice, 0, sizeof *voice);
    voice->type = GV_MSG_VOICE_RELAY;
    voice->u.voice.seq = (uint16_t)c;
    voice->u.voice.ts = (uint32_t)(ticks * GV_VOICE_TICK);
    return read_body(rec->header[0], plain, (size_t)n, voice);
}
