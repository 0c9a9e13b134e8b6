/* What both ends of a sealed session do alike, once: the Noise prologue,
 * the first handshake message, turning a finished handshake into a seal,
 * sealing and sending a message, and opening and decoding one. The
 * staging buffers are sized here, for the largest packet ENet accepts. */
#ifndef GV_SESSION_H
#define GV_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "packet/gv_msg.h"
#include "session/gv_noise.h"
#include "session/gv_seal.h"
#include "session/gv_transport.h"

#define GV_SESSION_PROLOGUE 6
/* ENet's largest packet (the raw baseline's 8 KiB messages fit) and room. */
#define GV_SESSION_BUF (GV_MTU + 64 * 1024)
/* HANDSHAKE_INIT: type byte, Noise message 1 with the padded payload. */
#define GV_SESSION_INIT_LEN (1 + GV_NOISE_MSG1_MIN + GV_HANDSHAKE_PAD)

/* One buffer per stage, so that a message being relayed is never encoded
 * over the plaintext it comes from, nor sealed over its encoding. */
typedef struct gv_session_buffers {
    uint8_t plain[GV_SESSION_BUF];   /* an opened message */
    uint8_t encoded[GV_SESSION_BUF]; /* a message to send */
    uint8_t sealed[GV_SESSION_BUF];  /* that message sealed */
} gv_session_buffers;

/* "gvoip" || version: a peer of another version cannot complete the
 * handshake. */
void gv_session_prologue(int version, uint8_t out[GV_SESSION_PROLOGUE]);

/* The initiator's HANDSHAKE_INIT into msg (GV_SESSION_INIT_LEN bytes),
 * offering AES-256-GCM when offer_aes, and always asking for the server's
 * fleet certificate (GV_OFFER_FLEET_CERT); *noise is the caller's. Returns the
 * message length, GV_ENOMEM or GV_EINVAL. */
int gv_session_initiate(int version, int offer_aes, gv_noise **noise, uint8_t msg[GV_SESSION_INIT_LEN]);

/* A finished handshake's keys into a new seal for `cipher` (a
 * gv_seal_cipher); the keys are wiped and the handshake state freed
 * (*noise set to NULL) either way. 0, GV_EINVAL, GV_ESTATE or GV_ENOMEM. */
int gv_session_keys(gv_noise **noise, int cipher, gv_seal **out);

/* Seals len bytes of plain (not b->sealed) for channel and queues them to
 * peer. 0 or a negative code of gv_seal_encrypt or gv_transport_send. */
int gv_session_send(gv_transport *t, int peer, gv_seal *seal, gv_session_buffers *b, uint8_t channel,
                    const uint8_t *plain, size_t len, int fragment);

/* Encodes a small control-sized message (at most 512 bytes; the encoding
 * is wiped afterwards, a HELLO carries the password) and sends it sealed. */
int gv_session_send_msg(gv_transport *t, int peer, gv_seal *seal, gv_session_buffers *b, uint8_t channel,
                        const gv_msg *m);

/* Opens a sealed packet into b->plain and decodes it into *m, which then
 * points into b->plain. 0; GV_EREPLAY (seen before); GV_EAUTH (did not
 * open); GV_EUNKNOWN (opened, a type this version does not know: a later
 * version's, to be ignored); GV_EMALFORMED (opened but not a message). */
int gv_session_open(gv_seal *seal, gv_session_buffers *b, uint8_t channel, const uint8_t *data, size_t len,
                    gv_msg *m);

#endif
