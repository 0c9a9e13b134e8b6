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

#endif
