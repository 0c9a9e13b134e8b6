/* Fleet certificates: a fleet's Ed25519 key vouches, for a span of time,
 * for one node's X25519 server key, so that a client trusting the fleet
 * key accepts any node of the fleet (docs/protocol.md, "Fleet
 * certificates"). The public side (the fleet's key pair, issuing, text,
 * inspection) is in gvoip.h; this is the format's core. Pure: no I/O, the
 * time is passed in, nothing is kept. Thread-safe; every function here
 * needs sodium_init(). */
#ifndef GV_FLEETCERT_H
#define GV_FLEETCERT_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/gvoip.h"

#define GV_FLEETCERT_VERSION 1

/* A certificate's fields. */
typedef struct gv_fleetcert {
    uint8_t fleet_pk[32]; /* Ed25519: the fleet's key, which signed it */
    uint8_t node_pk[32];  /* X25519: the node's static (server) key */
    uint64_t not_before;  /* Unix seconds: valid from this second on */
    uint64_t not_after;   /* Unix seconds: refused from this second on */
} gv_fleetcert;

typedef enum gv_fleetcert_verdict {
    GV_FLEETCERT_VALID = 0,
    GV_FLEETCERT_MALFORMED,     /* a length, version, time order or fleet key outside the format */
    GV_FLEETCERT_BAD_SIGNATURE, /* not signed by the fleet key it names: forged or altered */
    GV_FLEETCERT_OTHER_NODE,    /* genuine, but for another server key */
    GV_FLEETCERT_NOT_YET_VALID, /* now is before not_before */
    GV_FLEETCERT_EXPIRED,       /* now is at or past not_after */
    GV_FLEETCERT_VERDICTS
} gv_fleetcert_verdict;

/* Writes the certificate the fleet key of seed makes for node_pk, valid
 * from not_before up to (not including) not_after, to out. Returns
 * GV_FLEETCERT_BYTES, or GV_EINVAL (a NULL pointer, or not_before not
 * before not_after). Ed25519 is deterministic: the same inputs give the
 * same bytes. */
int gv_fleetcert_encode(const uint8_t seed[32], const uint8_t node_pk[32], uint64_t not_before, uint64_t not_after,
                        uint8_t out[GV_FLEETCERT_BYTES]);

/* Judges len bytes as a certificate, without a clock: MALFORMED (NULL
 * bytes too) or BAD_SIGNATURE, else VALID with *out (may be NULL) filled;
 * on anything else *out is zeroed. why (may be NULL) gets a one-line
 * reason when not VALID, "" else. */
gv_fleetcert_verdict gv_fleetcert_decode(const uint8_t *bytes, size_t len, gv_fleetcert *out, char *why,
                                         size_t why_len);

/* What a client asks of the certificate a node showed: gv_fleetcert_decode,
 * then OTHER_NODE unless it is for node_pk (the key the handshake proved),
 * then NOT_YET_VALID or EXPIRED at Unix time now_s. *out (may be NULL) is
 * filled once the signature holds (OTHER_NODE, NOT_YET_VALID and EXPIRED
 * too, so that a reason can name the fleet), zeroed otherwise. why as
 * gv_fleetcert_decode's; a NULL node_pk is OTHER_NODE. */
gv_fleetcert_verdict gv_fleetcert_verify(const uint8_t *bytes, size_t len, const uint8_t node_pk[32],
                                         uint64_t now_s, gv_fleetcert *out, char *why, size_t why_len);

#endif
