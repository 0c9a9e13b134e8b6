/* The lobby server's internals beyond its public half (gvoip.h): what
 * tests reach and programs may not. Compiled into the library, never
 * exported from the shared one. */
#ifndef GV_SERVER_H
#define GV_SERVER_H

#include <stddef.h>

#include "gvoip/gvoip.h"

/* gv_server_create speaking protocol_version (1..255; 0: the real one),
 * for tests of a version mismatch. Same returns. */
int gv_server_create_with_version(const gv_server_config *cfg, int protocol_version, gv_server **out, char *why,
                                  size_t why_len);

#endif
