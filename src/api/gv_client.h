/* The player handle's internals beyond its public half (gvoip.h): what
 * tests reach and programs may not. Compiled into the library, never
 * exported from the shared one. */
#ifndef GV_CLIENT_H
#define GV_CLIENT_H

#include "gvoip/gvoip.h"

/* gv_client_create speaking protocol_version (1..255; 0: the real one),
 * for tests of a version mismatch. Same returns. */
int gv_client_create_with_version(const gv_client_config *cfg, int protocol_version, gv_client **out);

#endif
