/* The server's long-term X25519 key in a private file, its fingerprint,
 * and the per-user directory gvoip keeps such files in.
 * File format: the line "gvoip-server-key 1", then a line of 64 lowercase
 * hex digits (the secret key); the public key is derived. Details in
 * docs/protocol.md. Functions touching keys require sodium_init(). The
 * public gv_keyfile_public_key (gvoip.h: a key file's public key, never
 * creating it) lives here too. */
#ifndef GV_KEYFILE_H
#define GV_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

/* "SHA256:" + 43 characters of unpadded standard base64 + NUL. */
#define GV_KEYFILE_FINGERPRINT_LEN 51

/* Loads the key pair from path, or, when path does not exist, creates it
 * (missing parent directories with mode 0700, the file with O_EXCL and mode
 * 0600) from libsodium's randombytes_buf (gv_noise_keypair). *created
 * (may be NULL) tells which happened. A file that group or others may
 * access, that another user owns, or that is malformed is refused with
 * GV_EKEY; I/O failures give GV_EIO. On failure a one-line reason for the
 * user goes to why (may be NULL), and sk/pk are wiped. Thread-safe. */
int gv_keyfile_load_or_create(const char *path, uint8_t sk[32], uint8_t pk[32], int *created,
                              char *why, size_t why_len);

/* Writes the per-user gvoip directory to buf: $GVOIP_HOME, else
 * $XDG_CONFIG_HOME/gvoip, else $HOME/.config/gvoip (empty variables count as
 * unset). GV_OK, GV_EINVAL, GV_ETOOBIG, or GV_ENOTFOUND when none is set.
 * Reads the environment: not safe against a concurrent setenv. */
int gv_keyfile_config_dir(char *buf, size_t len);

/* gv_keyfile_config_dir() + "/" + name (e.g. "known_servers"); same
 * returns and caveats. */
int gv_keyfile_config_path(const char *name, char *buf, size_t len);

/* gv_keyfile_config_dir() + "/server.key"; same returns and caveats. */
int gv_keyfile_default_path(char *buf, size_t len);

/* Creates the missing directories leading to the file path, each with mode
 * 0700 (existing ones are left as they are). GV_OK, GV_ENOMEM or GV_EIO
 * (errno kept). Thread-safe. */
int gv_keyfile_make_parent_dir(const char *path);

/* "SHA256:" + unpadded standard base64 of SHA-256(pk), as SSH prints keys.
 * Thread-safe. */
void gv_keyfile_fingerprint(const uint8_t pk[32], char out[GV_KEYFILE_FINGERPRINT_LEN]);

/* 1 if fp has the exact form gv_keyfile_fingerprint produces, else 0 (use
 * it on a fingerprint the user typed). Thread-safe. */
int gv_keyfile_fingerprint_valid(const char *fp);

/* 1 if both are fingerprint-length strings with equal bytes (compared in
 * constant time over that length), else 0; NULL is never equal.
 * Thread-safe. */
int gv_keyfile_fingerprint_equal(const char *a, const char *b);

#endif
