/* gvoip error codes, and the GV_API mark every public function carries.
 * Every call that can fail returns 0 (or a count) on success and one of
 * these negative codes on failure; each function's comment in gvoip.h
 * lists the codes it can return. */
#ifndef GVOIP_ERROR_H
#define GVOIP_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Exported from the shared library, and only these: the library itself is
 * built with hidden visibility (ELF) and GVOIP_BUILDING defined. On
 * Windows a program using the DLL gets dllimport; one linking the static
 * library defines GVOIP_STATIC before including any gvoip header. */
#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(GVOIP_BUILDING)
#define GV_API __declspec(dllexport)
#elif defined(GVOIP_STATIC)
#define GV_API
#else
#define GV_API __declspec(dllimport)
#endif
#elif defined(GVOIP_BUILDING) && defined(__GNUC__)
#define GV_API __attribute__((visibility("default")))
#else
#define GV_API
#endif

enum gv_error {
    GV_OK = 0,
    GV_EINVAL = -1,     /* an argument is out of range or NULL */
    GV_ENOMEM = -2,     /* allocation failed */
    GV_EMALFORMED = -3, /* a message is truncated, oversized or inconsistent */
    GV_EUNKNOWN = -4,   /* a message type this version does not know */
    GV_ETOOBIG = -5,    /* the result would not fit (buffer, MTU) */
    GV_EAGAIN = -6,     /* nothing available yet; try again later */
    GV_EIO = -7,        /* a file or socket operation failed */
    GV_ENET = -8,       /* the network layer (ENet) failed */
    GV_EVERSION = -9,   /* the peer speaks another protocol version */
    GV_EFULL = -10,     /* the lobby is full; or a queue is (try again) */
    GV_ENAME = -11,     /* a player name is not acceptable */
    GV_EAUTH = -12,     /* authentication failed (tag, handshake, password) */
    GV_EKEY = -13,      /* a key is missing, unreadable, unsafe or unexpected */
    GV_ETIMEOUT = -14,  /* the peer did not answer in time */
    GV_ESTATE = -15,    /* the call does not fit the object's current state */
    GV_EREPLAY = -16,   /* a message was seen before or is too old */
    GV_ECODEC = -17,    /* the audio codec failed */
    GV_EDENIED = -18,   /* the server refused (password, rate limit, flooding) */
    GV_ENOTFOUND = -19, /* no such player, device, host or entry */
};

/* A static, human-readable description of any int (an unknown negative
 * code gives "unknown error", 0 and positive counts "success"); never
 * NULL, never to be freed. Thread-safe. */
GV_API const char *gv_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
