/* The client's known-servers file: trust on first use, like SSH's
 * known_hosts. One entry a line, "<host>:<port> <fingerprint>\n" (or a
 * fleet's, below); blank
 * lines, lines starting with '#' and malformed lines are skipped. Host and
 * port are compared byte for byte, so callers pass one canonical spelling. */
#ifndef GV_KNOWN_H
#define GV_KNOWN_H

#include <stddef.h>

/* Longest accepted "<host>:<port>": a 253-byte name, brackets, ':' and a
 * 5-digit port fit. */
#define GV_KNOWN_MAX_HOSTPORT 262

/* Looks hostport up in the file at path. Returns 0 if an entry for it has
 * this fingerprint, 1 if the file (or the entry) does not exist, GV_EKEY if
 * the entries for it carry another fingerprint (the first one is copied to
 * stored_out, which may be NULL, else needs GV_KEYFILE_FINGERPRINT_LEN
 * bytes), GV_EINVAL for a malformed hostport or fingerprint, GV_EIO.
 * Thread-safe. */
int gv_known_check(const char *path, const char *hostport, const char *fingerprint,
                   char *stored_out, size_t stored_len);

/* Appends an entry (no check for an existing one), creating missing parent
 * directories with mode 0700 and the file with mode 0600. GV_OK, GV_EINVAL,
 * GV_ENOMEM or GV_EIO. Safe against concurrent appenders (one write with
 * O_APPEND). */
int gv_known_add(const char *path, const char *hostport, const char *fingerprint);

/* A fleet's key, remembered for the address of one of its nodes, is an
 * entry of its own kind, "@fleet <host>:<port> <fingerprint>\n", which a
 * reader from before fleets skips (three fields) and which
 * gv_known_check never matches. gv_known_check_fleet and
 * gv_known_add_fleet are gv_known_check and gv_known_add for those
 * entries, with the same returns. */
int gv_known_check_fleet(const char *path, const char *hostport, const char *fingerprint, char *stored_out,
                         size_t stored_len);
int gv_known_add_fleet(const char *path, const char *hostport, const char *fingerprint);

/* gv_keyfile_config_dir() + "/known_servers": GV_OK, GV_EINVAL, GV_ETOOBIG
 * or GV_ENOTFOUND. Reads the environment: not safe against a concurrent
 * setenv. */
int gv_known_default_path(char *buf, size_t len);

#endif
