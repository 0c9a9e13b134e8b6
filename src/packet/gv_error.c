#include "gvoip/error.h"

const char *gv_strerror(int err)
{
    switch (err) {
    case GV_OK: return "success";
    case GV_EINVAL: return "invalid argument";
    case GV_ENOMEM: return "out of memory";
    case GV_EMALFORMED: return "malformed message";
    case GV_EUNKNOWN: return "unknown message type";
    case GV_ETOOBIG: return "too big";
    case GV_EAGAIN: return "nothing available yet";
    case GV_EIO: return "input/output error";
    case GV_ENET: return "network error";
    case GV_EVERSION: return "protocol version mismatch";
    case GV_EFULL: return "lobby is full";
    case GV_ENAME: return "name not acceptable";
    case GV_EAUTH: return "authentication failed";
    case GV_EKEY: return "key error";
    case GV_ETIMEOUT: return "timed out";
    case GV_ESTATE: return "wrong state for this call";
    case GV_EREPLAY: return "replayed or too old";
    case GV_ECODEC: return "codec error";
    case GV_EDENIED: return "refused by the server";
    case GV_ENOTFOUND: return "not found";
    }
    return err > 0 ? "success" : "unknown error";
}
