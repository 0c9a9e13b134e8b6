/* Transport sealing after the handshake: every ENet payload is an AEAD
 * message (ChaCha20-Poly1305 IETF, or AES-256-GCM where both ends have the
 * instructions for it; full 16-byte tag) with its own counter per
 * (direction, channel) and a sliding replay window per receive channel.
 * Wire format and nonce layout: docs/protocol.md, "Cryptography", section 2.
 * All gv_seal_* functions require sodium_init() to have succeeded. */
#ifndef GV_SEAL_H
#define GV_SEAL_H

#include <stddef.h>
#include <stdint.h>

/* ENet channels 0..3 may carry sealed traffic. */
#define GV_SEAL_CHANNELS 4
/* Bytes a sealed message adds: 8-byte counter + 16-byte tag. */
#define GV_SEAL_OVERHEAD 24
#define GV_SEAL_TAG 16
#define GV_SEAL_NONCE 12
/* Counters a receive window remembers behind the newest one. */
#define GV_SEAL_WINDOW 2048
/* Largest caller-supplied associated data (e.g. header bytes). */
#define GV_SEAL_MAX_AAD 64

/* The AEADs a session can use; the handshake picks one (docs/protocol.md). */
typedef enum gv_seal_cipher {
    GV_SEAL_CHACHA20POLY1305 = 0, /* everywhere */
    GV_SEAL_AES256GCM = 1,        /* only where gv_seal_aes256gcm_available(); about three
                                   * times faster for voice-sized messages */
} gv_seal_cipher;

/* Whether this CPU runs libsodium's AES-256-GCM (AES-NI and CLMUL).
 * Thread-safe after sodium_init(). */
int gv_seal_aes256gcm_available(void);

/* The keys one side of a finished handshake uses (gv_noise_split fills it,
 * with cipher ChaCha20-Poly1305; the caller sets what the handshake chose):
 * send for what this side seals, recv for what it opens, and the handshake
 * hash, identical on both sides, for channel binding. Wipe it with
 * sodium_memzero once it has been handed to gv_seal_create. */
typedef struct gv_seal_keys {
    uint8_t send[32];
    uint8_t recv[32];
    uint8_t handshake_hash[32];
    gv_seal_cipher cipher;
} gv_seal_keys;

typedef struct gv_seal gv_seal;

/* What a receiver remembers of one stream of counters: top is one past
 * the newest accepted counter (0: nothing accepted yet); bit c %
 * GV_SEAL_WINDOW of seen stands for counter c while c lies in
 * [top - GV_SEAL_WINDOW, top). A gv_seal keeps one per channel; voice
 * datagrams keep their own (gv_datagram). */
typedef struct gv_seal_window {
    uint64_t top;
    uint64_t seen[GV_SEAL_WINDOW / 64];
} gv_seal_window;

/* Empties the window and expects counter `next` first. */
void gv_seal_window_start(gv_seal_window *w, uint64_t next);

/* GV_OK when counter c has not been accepted and is not older than the
 * window, else GV_EREPLAY. Pure. */
int gv_seal_window_check(const gv_seal_window *w, uint64_t c);

/* Records c as accepted (after its tag verified), sliding the window. */
void gv_seal_window_accept(gv_seal_window *w, uint64_t c);

/* The full counter whose low 16 bits travelled: the one nearest top,
 * from 32767 behind to 32768 ahead, so a stream resynchronises across
 * any gap shorter than that. Pure. */
uint64_t gv_seal_window_expand(const gv_seal_window *w, uint16_t low);

/* Creates a sealing state holding a copy of the keys; counters start at 0.
 * GV_EINVAL for an unknown cipher or AES-256-GCM on a CPU without it. The
 * caller owns *out and frees it with gv_seal_destroy. Thread-safe; each
 * handle is then for one thread. */
int gv_seal_create(const gv_seal_keys *keys, gv_seal **out);

/* Wipes the keys and frees the state; NULL is a no-op. Not thread-safe
 * against other calls on the same handle. */
void gv_seal_destroy(gv_seal *seal);

/* Seals len bytes of plain for channel (0..GV_SEAL_CHANNELS-1) into out:
 * [counter LE64][ciphertext][tag]. aad (up to GV_SEAL_MAX_AAD bytes, may be
 * NULL when aad_len is 0) is authenticated, not sent. out must not overlap
 * plain and hold len + GV_SEAL_OVERHEAD bytes. Returns the sealed length,
 * GV_EINVAL, GV_ETOOBIG, or GV_ESTATE once the channel's counters are spent.
 * Not thread-safe: one thread per gv_seal. */
int gv_seal_encrypt(gv_seal *seal, uint8_t channel, const uint8_t *aad, size_t aad_len,
                    const uint8_t *plain, size_t len, uint8_t *out, size_t cap);

/* Opens a sealed message received on channel with the same aad. The replay
 * window moves only after the tag verified. out must not overlap in and hold
 * len - GV_SEAL_OVERHEAD bytes. Returns the plaintext length, GV_EMALFORMED
 * (too short, or channel out of range: both come from the wire), GV_EREPLAY
 * (seen before or older than the window), GV_EAUTH (bad tag; out is wiped),
 * GV_EINVAL or GV_ETOOBIG. Not thread-safe: one thread per gv_seal. */
int gv_seal_decrypt(gv_seal *seal, uint8_t channel, const uint8_t *aad, size_t aad_len,
                    const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* The AEAD alone with a nonce the caller built (gv_datagram: the voice
 * datagrams' nonces, docs/protocol.md): out gets ciphertext then the
 * 16-byte tag, nothing else; no counter is kept or checked, so the caller
 * must never repeat a nonce under this seal's send key, and checks
 * replays itself. aad up to GV_SEAL_MAX_AAD bytes. Returns len +
 * GV_SEAL_TAG, GV_EINVAL or GV_ETOOBIG. Not thread-safe. */
int gv_seal_encrypt_at(gv_seal *seal, const uint8_t nonce[GV_SEAL_NONCE], const uint8_t *aad, size_t aad_len,
                       const uint8_t *plain, size_t len, uint8_t *out, size_t cap);

/* Opens what gv_seal_encrypt_at sealed under the peer's key: the
 * plaintext length, GV_EMALFORMED (shorter than a tag), GV_EAUTH (out
 * wiped), GV_EINVAL or GV_ETOOBIG. Not thread-safe. */
int gv_seal_decrypt_at(gv_seal *seal, const uint8_t nonce[GV_SEAL_NONCE], const uint8_t *aad, size_t aad_len,
                       const uint8_t *in, size_t len, uint8_t *out, size_t cap);

#endif
