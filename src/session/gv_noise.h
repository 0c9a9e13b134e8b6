/* The connection handshake: Noise_NX_25519_ChaChaPoly_SHA256 (Noise
 * specification revision 34), two messages:
 *   -> e
 *   <- e, ee, s, es
 * The initiator (client) has no static key and learns the responder's
 * (server's) static public key from message 2; the caller decides whether
 * to trust it (known-servers file or a pinned fingerprint). Both sides get
 * fresh ephemeral keys, so a later key compromise does not open old traffic.
 * Every secret here comes from libsodium's randombytes_buf: no caller can
 * hand in a weaker generator (docs/security.md). Byte layout and a test
 * vector: docs/protocol.md. All gv_noise_* functions require sodium_init()
 * to have succeeded. */
#ifndef GV_NOISE_H
#define GV_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "session/gv_seal.h"

/* Noise caps every handshake message at 65535 bytes. */
#define GV_NOISE_MAX_MSG 65535
/* Message 1 is the initiator's ephemeral key, then its payload in clear:
 * GV_NOISE_MSG1_MIN + payload bytes. */
#define GV_NOISE_MSG1_MIN 32
/* Message 2 with an empty payload: ephemeral key (32), encrypted static key
 * (32 + 16-byte tag), the empty payload's tag (16). A payload adds its own
 * length: GV_NOISE_MSG2_LEN + payload bytes. */
#define GV_NOISE_MSG2_LEN (32 + 48 + 16)

typedef struct gv_noise gv_noise;

/* A fresh X25519 key pair from libsodium's randombytes_buf. GV_OK,
 * GV_EINVAL or GV_EKEY. Thread-safe. */
int gv_noise_keypair(uint8_t sk[32], uint8_t pk[32]);

/* Starts a client handshake. prologue (may be NULL when prologue_len is 0)
 * is hashed in, so both sides must pass the same bytes. The ephemeral key
 * is drawn fresh from libsodium when message 1 is written. The caller owns
 * *out and frees it with gv_noise_destroy. Thread-safe; each handle is then
 * for one thread. */
int gv_noise_initiator_create(const uint8_t *prologue, size_t prologue_len, gv_noise **out);

/* Starts a server handshake with its long-term key pair (copied; wiped on
 * destroy). Otherwise as gv_noise_initiator_create (message 2). */
int gv_noise_responder_create(const uint8_t *prologue, size_t prologue_len,
                              const uint8_t static_sk[32], const uint8_t static_pk[32],
                              gv_noise **out);

/* Tests only, never the library: this side's message then uses e_sk
 * (copied) as its ephemeral secret instead of a fresh one, so that pinned
 * vectors and fuzzing runs repeat byte for byte. A fixed ephemeral gives up
 * forward secrecy, which is why no public setting reaches it. Call before
 * this side writes its message: GV_ESTATE after, GV_EKEY when no public
 * key derives from e_sk. Not thread-safe. */
int gv_noise_test_ephemeral(gv_noise *noise, const uint8_t e_sk[32]);

/* Wipes every key and frees the state; NULL is a no-op. Not thread-safe
 * against other calls on the same handle. */
void gv_noise_destroy(gv_noise *noise);

/* Writes the next handshake message (initiator: message 1, responder:
 * message 2) carrying payload (may be NULL when payload_len is 0; sent in
 * clear in message 1, encrypted in message 2) into out, which must not
 * overlap payload. Returns the bytes written, GV_ETOOBIG (cap or payload too
 * large; the state is unchanged), GV_ESTATE (not this side's turn, or the
 * state is dead), GV_EINVAL, or GV_EAUTH (responder: message 1 carried an
 * invalid public key; the state is dead). Not thread-safe. */
int gv_noise_write_message(gv_noise *noise, const uint8_t *payload, size_t payload_len,
                           uint8_t *out, size_t cap);

/* Reads the peer's handshake message (responder: message 1, initiator:
 * message 2) and copies its payload to payload_out, which must not overlap
 * msg. The length is checked before anything else. Returns the payload
 * length, GV_EMALFORMED (wrong length) or GV_EAUTH (a tag or key did not
 * verify; payload_out is wiped): after either, the state is dead and every
 * further call returns GV_ESTATE. GV_ETOOBIG (cap too small), GV_EINVAL and
 * GV_ESTATE leave the state unchanged. Not thread-safe. */
int gv_noise_read_message(gv_noise *noise, const uint8_t *msg, size_t len, uint8_t *payload_out,
                          size_t cap);

/* Copies out the responder's static public key as learned from message 2
 * (initiator only, after gv_noise_read_message succeeded); GV_ESTATE
 * otherwise. The caller must check it before trusting anything in the
 * session. Not thread-safe against writers of the same handle. */
int gv_noise_remote_static(const gv_noise *noise, uint8_t pk[32]);

/* After the handshake: this side's send/recv transport keys and the
 * handshake hash, into caller-owned *out. Callable once; it then wipes the
 * handshake secrets (a second call returns GV_ESTATE; gv_noise_remote_static
 * keeps working). Not thread-safe. */
int gv_noise_split(gv_noise *noise, gv_seal_keys *out);

/* HKDF-SHA256 (RFC 5869) from libsodium's HMAC-SHA256: extract with salt
 * (may be empty), expand with info to out_len (at most 255 * 32) bytes.
 * Noise's HKDF(ck, ikm, 2) is salt = ck, info empty, out_len 64. Thread-safe. */
int gv_noise_hkdf(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                  const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

#endif
