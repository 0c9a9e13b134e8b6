/* `gvoip token-key` and `gvoip token`: a game backend's side of access
 * tokens from the command line, for scripts and for trying a server that
 * requires them. */
#ifndef GVOIP_TOKEN_H
#define GVOIP_TOKEN_H

#include "options.h"

/* Makes a signing key pair: the secret key into opt->out_file (0600), the
 * public one into opt->out_file.pub (0644) and on stdout. Returns an exit
 * code. */
int token_key_command(const gvoip_options *opt);

/* Signs a token with the secret key in opt->server.key_file and prints it
 * on one line. Returns an exit code. */
int token_command(const gvoip_options *opt);

/* Writes text and a newline to a new file of exactly this mode (whatever
 * the umask), never over one that exists; says why on stderr when it
 * cannot. 0 or -1 (nothing left behind). Also for fleet keys and
 * certificates. */
int token_write_new(const char *path, unsigned mode, const char *text);

/* A key pair's two files, created new: public_path (0644) first, then
 * secret_path (0600), the first removed if the second fails. 0 or -1
 * after saying why. */
int token_write_pair(const char *secret_path, const char *public_path, const char *secret, const char *public_key);

/* Reads a secret signing key's file (at most cap - 1 bytes) into text,
 * under the rule the server's own key file follows: a regular file, ours,
 * and nobody else's to read. what names the key for the refusal ("a token
 * signing key (gvoip token-key writes one)"). Returns an exit code, having
 * said why on stderr. */
int token_read_secret(const char *path, char *text, size_t cap, const char *what);

#endif
