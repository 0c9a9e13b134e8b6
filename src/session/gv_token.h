/* Access tokens: a game's backend signs, with an Ed25519 key, who may join
 * which lobby and with what rights; a server holding the public keys
 * checks. Byte format, text encoding and key files: docs/protocol.md,
 * "Access tokens". The public side (claims, minting) is in gvoip.h; this
 * is the server's and the client's side. Pure: time is passed in, nothing
 * is kept. Thread-safe; the functions that touch keys require
 * sodium_init(). */
#ifndef GV_TOKEN_H
#define GV_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/gvoip.h"
#include "packet/gv_name.h"

#define GV_TOKEN_VERSION 1
#define GV_TOKEN_KEYS_MAX 16 /* public keys one server accepts */
#define GV_TOKEN_KEY_ID 4    /* bytes of SHA-256(public key) naming the signer */
#define GV_TOKEN_NONCE 16
#define GV_TOKEN_FIXED 105 /* every byte but the lobby's and the name's */
#define GV_TOKEN_BYTES_MIN (GV_TOKEN_FIXED + 2)
#define GV_TOKEN_BYTES_MAX (GV_TOKEN_FIXED + GV_LOBBY_NAME_MAX + GV_NAME_MAX)

/* A token's fields, in the claims' terms. */
typedef struct gv_token {
    unsigned permissions;            /* gv_token_permission bits */
    uint8_t key_id[GV_TOKEN_KEY_ID]; /* of the key that signed it */
    uint64_t expires;                /* Unix time in seconds */
    uint8_t nonce[GV_TOKEN_NONCE];   /* tells apart two tokens with equal claims */
    uint16_t id;                     /* 0: the server gives one; else 2..65535 */
    int spatial_mode;                /* -1: the server's; else a gv_spatial_mode_kind */
    float max_distance;              /* 0: the server's */
    int max_players;                 /* 0: the server's */
    char lobby[GV_LOBBY_NAME_MAX + 1];
    char name[GV_NAME_MAX + 1];
} gv_token;

/* The public keys a server accepts tokens from. */
typedef struct gv_token_keys {
    int count;
    uint8_t pk[GV_TOKEN_KEYS_MAX][32];
} gv_token_keys;

typedef enum gv_token_verdict {
    GV_TOKEN_VALID = 0,
    GV_TOKEN_MALFORMED,     /* not a version-1 token, or a field out of range */
    GV_TOKEN_UNKNOWN_KEY,   /* no key of the set has its key id */
    GV_TOKEN_BAD_SIGNATURE, /* forged or altered */
    GV_TOKEN_EXPIRED,
    /* A server's verdicts beyond the token's own: */
    GV_TOKEN_MISSING,     /* the server needs one and the join has none */
    GV_TOKEN_WRONG_LOBBY, /* the join asks for another lobby than the token's */
    GV_TOKEN_IN_USE,      /* a connected player joined with it, or has its fixed id */
    GV_TOKEN_VERDICTS
} gv_token_verdict;

/* Parses a list of public keys (as gv_token_keypair writes them), one per
 * line; white space around a line is ignored, and so are blank lines and
 * lines starting with '#'. Returns 0; GV_EKEY for a line that is not an
 * Ed25519 public key, with the line's number in why; GV_ETOOBIG for more
 * than GV_TOKEN_KEYS_MAX keys; GV_EINVAL for NULL text or out, or no key
 * at all. why (may be NULL) gets a one-line reason on failure, "" else. */
int gv_token_keys_parse(const char *text, gv_token_keys *out, char *why, size_t why_len);

/* Decodes a token's text (len bytes, white space around it ignored) into
 * out: returns the byte count, GV_EINVAL (NULL text or out),
 * GV_EMALFORMED (empty, or not base64url without padding) or GV_ETOOBIG
 * (more than cap bytes). Checks the encoding only: gv_token_open judges
 * the bytes. Needs no sodium_init(). */
int gv_token_from_text(const char *text, size_t len, uint8_t *out, size_t cap);

/* Judges a token's bytes against keys at Unix time now_s, in this order:
 * MALFORMED (any byte outside the format; NULL bytes), UNKNOWN_KEY (also
 * for NULL keys), BAD_SIGNATURE, EXPIRED (now_s >= expires), else VALID.
 * The fields are checked for form before the (costlier) signature, but
 * reach *out (may be NULL) only once the signature holds: on VALID and
 * EXPIRED. Otherwise *out is zeroed. */
gv_token_verdict gv_token_open(const uint8_t *bytes, size_t len, const gv_token_keys *keys, uint64_t now_s,
                               gv_token *out);

/* A server's first verdict on a join's token (bytes, len; len 0: none)
 * at Unix time now_s, before it looks at the lobby (GV_TOKEN_IN_USE is
 * decided there): the token must be VALID and name the lobby the join asks
 * for (lobby, lobby_len bytes; 0 asks for none: the token's). A resume
 * (resuming 1) takes an expired token, which then only names the lobby:
 * the resumption secret, not the token, proves the player. *out as
 * gv_token_open fills it. Pure. */
gv_token_verdict gv_token_admit(const gv_token_keys *keys, const uint8_t *bytes, size_t len, const char *lobby,
                                size_t lobby_len, int resuming, uint64_t now_s, gv_token *out);

/* A static one-line text for v ("token expired"); never NULL. */
const char *gv_token_verdict_text(gv_token_verdict v);

/* The deterministic core of gv_token_mint: writes the signed token of c
 * (validated as gv_token_mint does, except that any expires > 0 is taken)
 * by the key of seed with nonce to out. Returns the byte count, GV_EINVAL
 * (NULL pointer, invalid claims) or GV_ETOOBIG (cap too small;
 * GV_TOKEN_BYTES_MAX is always enough). */
int gv_token_sign(const gv_token_claims *c, const uint8_t seed[32], const uint8_t nonce[GV_TOKEN_NONCE], uint8_t *out,
                  size_t cap);

#endif
