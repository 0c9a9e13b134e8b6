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

#endif
