/* The library's version, and the promises gvoip.h makes about its ABI
 * checked where the internals that must keep them are visible. */
#include <stddef.h>

#include "gvoip/gvoip.h"
#include "packet/gv_msg.h"
#include "session/gv_keyfile.h"
#include "session/gv_talkers.h"

#define GV_STR(x) #x
#define GV_XSTR(x) GV_STR(x)

_Static_assert(sizeof(gv_event) <= 256, "gvoip.h promises events of at most 256 bytes");
_Static_assert(offsetof(gv_event, size) == 0 && offsetof(gv_server_config, size) == 0 &&
                   offsetof(gv_client_config, size) == 0 && offsetof(gv_server_stats, size) == 0 &&
                   offsetof(gv_client_stats, size) == 0 && offsetof(gv_peer_stats, size) == 0,
               "size comes first in every struct that carries it");
_Static_assert(GV_MAX_PLAYERS_LIMIT == GV_MAX_PLAYERS, "the public limit is the lobby's");
_Static_assert(GV_MAX_TALKERS_LIMIT == GV_TALKERS_MAX, "the public talker limit is the relay's");
_Static_assert(GV_HOST_TOKEN_BYTES == GV_HOST_TOKEN_LEN, "the public token size is the wire's");
_Static_assert(GV_RESUME_SECRET_LEN == 32, "docs/protocol.md: HELLO and WELCOME carry 32-byte secrets");
_Static_assert(GV_NAME_BYTES == GV_NAME_MAX + 1, "a public name holds every name the server accepts");
_Static_assert(GV_LOBBY_NAME_BYTES == GV_LOBBY_NAME_MAX + 1, "a public lobby name holds every one there is");
_Static_assert(GV_FINGERPRINT_BYTES >= GV_KEYFILE_FINGERPRINT_LEN, "a public fingerprint buffer holds one");
_Static_assert((int)GV_REFUSAL_VERSION == GV_REFUSE_VERSION && (int)GV_REFUSAL_FULL == GV_REFUSE_FULL &&
                   (int)GV_REFUSAL_NAME == GV_REFUSE_NAME && (int)GV_REFUSAL_PASSWORD == GV_REFUSE_PASSWORD &&
                   (int)GV_REFUSAL_RATE_LIMIT == GV_REFUSE_RATE_LIMIT &&
                   (int)GV_REFUSAL_FLOODING == GV_REFUSE_FLOODING && (int)GV_REFUSAL_PROTOCOL == GV_REFUSE_PROTOCOL &&
                   (int)GV_REFUSAL_SHUTDOWN == GV_REFUSE_SHUTDOWN && (int)GV_REFUSAL_TIMEOUT == GV_REFUSE_TIMEOUT &&
                   (int)GV_REFUSAL_RESUME == GV_REFUSE_RESUME && (int)GV_REFUSAL_REPLACED == GV_REFUSE_REPLACED &&
                   (int)GV_REFUSAL_CLOSED == GV_REFUSE_CLOSED && (int)GV_REFUSAL_LOBBY == GV_REFUSE_LOBBY &&
                   (int)GV_REFUSAL_TOKEN == GV_REFUSE_TOKEN && (int)GV_REFUSAL_REDIRECT == GV_REFUSE_REDIRECT,
               "the public refusal codes are the wire's");

const char *gv_version(void)
{
    return GV_XSTR(GV_VERSION_MAJOR) "." GV_XSTR(GV_VERSION_MINOR) "." GV_XSTR(GV_VERSION_PATCH);
}

uint32_t gv_version_number(void)
{
    return GV_VERSION_NUMBER;
}

int gv_protocol_version(void)
{
    return GV_PROTOCOL_VERSION;
}
