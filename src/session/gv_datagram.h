/* Voice datagrams: Opus voice travels in UDP datagrams of its own beside
 * ENet's, each sealed with the session's keys, with 23 bytes of framing up
 * and 23 down where a sealed ENet packet spent about 46. Layout, nonces
 * and examples: docs/protocol.md, "Voice datagrams".
 *
 * Up (client to server) a datagram carries one VOICE and the receiver
 * index the server gave the client, which finds the session whatever
 * address the datagram comes from (NAT rebinding). Its counter is the
 * voice sequence number: only its low 16 bits travel, and the receiver
 * takes the full counter nearest its window's newest.
 *
 * Down (server to client) a datagram carries one or more records, each a
 * relayed VOICE sealed on its own: the speaker's slot, their sequence
 * number (the low bits of their counter, which the listener's per-slot
 * window expands) and timestamp. The nonce is the speaker's epoch and
 * counter, so a relay never needs a counter per listener.
 *
 * Every function requires sodium_init(); none allocates or keeps state
 * beyond what the caller passes. */
#ifndef GV_DATAGRAM_H
#define GV_DATAGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "packet/gv_msg.h"
#include "session/gv_seal.h"

#define GV_DATAGRAM_UP_HEADER 6   /* kind and index bit 8, index, sequence (2), time (2) */
#define GV_DATAGRAM_DOWN_HEADER 6 /* kind, slot, sequence (2), time (2) */
#define GV_DATAGRAM_RECORD_LENGTH 2 /* a record another follows carries its sealed length */
#define GV_DATAGRAM_LEVEL 1         /* the audio level, first byte of the plaintext */
#define GV_DATAGRAM_UP_OVERHEAD (GV_DATAGRAM_UP_HEADER + GV_DATAGRAM_LEVEL + GV_SEAL_TAG)
#define GV_DATAGRAM_DOWN_OVERHEAD (GV_DATAGRAM_DOWN_HEADER + GV_DATAGRAM_LEVEL + GV_SEAL_TAG)
/* A datagram carries the receiver index's low 9 bits: with more than 512
 * sessions a server tells those that share them apart by address and key
 * (docs/protocol.md, voice datagrams). */
#define GV_DATAGRAM_INDEX_MAX 511

/* What the first byte says a datagram is. ENet's own datagrams never set
 * its compressed flag (0x40), which gvoip never uses: every gvoip datagram
 * outside ENet sets it. */
typedef enum gv_datagram_kind {
    GV_DATAGRAM_ENET = 0, /* not ours: ENet's */
    GV_DATAGRAM_UP,       /* voice, client to server */
    GV_DATAGRAM_DOWN,     /* relayed voice, server to client */
    GV_DATAGRAM_HERE,     /* a silent client's "I am here", client to server */
    GV_DATAGRAM_OTHER,    /* the flag set, a kind this version does not read (the transport's cookie
                           * among them): not a voice datagram */
} gv_datagram_kind;

/* Pure; thread-safe. An empty datagram is GV_DATAGRAM_OTHER. */
gv_datagram_kind gv_datagram_kind_of(const uint8_t *d, size_t len);

/* Seals voice (index: the receiver index, of which the low 9 bits
 * travel; a VOICE: seq is ignored, counter stands for it; flags
 * without GV_VOICE_RAW; ts a multiple of GV_VOICE_TICK) as an uplink
 * datagram into out. Returns its length, GV_EINVAL, GV_ETOOBIG or
 * GV_ESTATE (counter at GV_VOICE_COUNTER_LIMIT). The caller never seals
 * two datagrams with one counter. */
int gv_datagram_seal_up(gv_seal *seal, uint16_t index, uint64_t counter, const gv_msg *voice, uint8_t *out,
                        size_t cap);

/* The low 9 bits of an uplink datagram's (voice or "I am here") receiver
 * index, or GV_EMALFORMED when it is too short to be one. Pure. */
int gv_datagram_up_index(const uint8_t *d, size_t len);

/* Opens an uplink datagram against the sender's window: *voice (a VOICE
 * whose payload points into plain; ts is the 16 bits of ticks that
 * travelled, times GV_VOICE_TICK) and *counter. The window moves only
 * once the tag verified. 0; GV_EREPLAY; GV_EAUTH (a bad tag, or a shape
 * no sealed voice has: nothing is known to come from the sender before
 * the tag verified); GV_EMALFORMED (authenticated, but the payload does
 * not parse: the sender's fault, and its counter is spent); GV_ETOOBIG
 * (cap). */
int gv_datagram_open_up(gv_seal *seal, gv_seal_window *w, const uint8_t *d, size_t len, uint8_t *plain,
                        size_t cap, gv_msg *voice, uint64_t *counter);

/* "I am here": what a client sends when it has heard nothing from the
 * server for a while, so that a server that lost it to a NAT rebinding
 * learns its new address even if it does not speak. Its counter has its
 * own nonces, apart from voice, so that listeners see no gap in the
 * speaker's sequence. 20 bytes: kind, index, counter, tag. */
#define GV_DATAGRAM_HERE_LEN 20

/* Seals an "I am here" with counter (never reused) and the low 9 bits of
 * the receiver index. GV_DATAGRAM_HERE_LEN,
 * GV_EINVAL, GV_ETOOBIG or GV_ESTATE. */
int gv_datagram_seal_here(gv_seal *seal, uint16_t index, uint64_t counter, uint8_t *out, size_t cap);

/* Opens one against *next, the counter the sender's next one must at least
 * have, which it then advances: its 16 bits are read as the nearest
 * counter at or after *next, so a replay or an older one does not open.
 * 0, GV_EREPLAY (beyond the counters' limit) or GV_EAUTH (any other shape,
 * or a bad tag). The receiver index is read with gv_datagram_up_index. */
int gv_datagram_open_here(gv_seal *seal, uint64_t *next, const uint8_t *d, size_t len);

/* One speaker as a listener's datagrams name them. */
typedef struct gv_datagram_speaker {
    uint8_t slot;
    uint32_t epoch;
    uint64_t counter; /* the voice packet's */
} gv_datagram_speaker;

/* Seals voice (its flags, ts, level and payload) from speaker as one
 * record at out; with `more`, another record will follow it in the same
 * datagram. Returns the record's length, GV_EINVAL or GV_ETOOBIG. */
int gv_datagram_seal_down(gv_seal *seal, const gv_datagram_speaker *speaker, const gv_msg *voice, int more,
                          uint8_t *out, size_t cap);

/* A record of a downlink datagram, not yet opened. */
typedef struct gv_datagram_record {
    uint8_t slot;
    const uint8_t *header; /* authenticated with the record */
    size_t header_len;
    const uint8_t *sealed; /* level, payload and tag */
    size_t sealed_len;
} gv_datagram_record;

/* Splits the next record off *d (*left bytes; both advance). 1 with *rec
 * filled, 0 at the end, GV_EMALFORMED (the rest is unusable). Pure. */
int gv_datagram_next_record(const uint8_t **d, size_t *left, gv_datagram_record *rec);

/* What a listener keeps per slot. */
typedef struct gv_datagram_stream {
    uint32_t epoch;
    uint64_t ticks; /* newest timestamp, in ticks, unwrapped */
    int have_ticks;
    gv_seal_window window;
} gv_datagram_stream;

/* A new speaker in the slot: epoch and their next counter, from the
 * roster. */
void gv_datagram_stream_start(gv_datagram_stream *st, uint32_t epoch, uint64_t next);

/* Opens a record of st's slot: *voice is a VOICE_RELAY (sender left 0 for
 * the caller) with the full timestamp, its payload pointing into plain.
 * A listener can miss far more than 32768 of a speaker's packets while
 * still connected (the server culls voice out of earshot), so a record
 * that does not open at the nearest reading of its counter is tried at up
 * to GV_DATAGRAM_RESYNC later ones, 65536 apart (an hour and a half of a
 * culled speaker's 20 ms packets): a forgery costs that many more tag
 * checks, a listener's own server being the only sender it opens records
 * from. 0, GV_EMALFORMED, GV_EREPLAY, GV_EAUTH or GV_ETOOBIG. */
#define GV_DATAGRAM_RESYNC 8
int gv_datagram_open_down(gv_seal *seal, gv_datagram_stream *st, const gv_datagram_record *rec, uint8_t *plain,
                          size_t cap, gv_msg *voice);

#endif
