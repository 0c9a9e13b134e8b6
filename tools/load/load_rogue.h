/* A hostile lobby member built from the session layer's parts, so it can
 * send what gv_link never would: garbage inside a valid seal, messages of
 * the wrong type or on the wrong channel, VOICE_RELAY in another player's
 * name, an oversized name. Not thread-safe: one thread per rogue. */
#ifndef LOAD_ROGUE_H
#define LOAD_ROGUE_H

#include <stddef.h>
#include <stdint.h>

typedef enum load_rogue_kind {
    LOAD_ROGUE_MALFORMED,   /* joins, then sends a rotation of malformed messages */
    LOAD_ROGUE_IMPERSONATE, /* joins, then sends VOICE_RELAY with a victim's id */
    LOAD_ROGUE_LONG_NAME,   /* HELLO with a 200-byte name: must be refused */
} load_rogue_kind;

typedef struct load_rogue load_rogue;

typedef struct load_rogue_report {
    int joined;
    int refused;         /* the server's refuse code (REFUSE message or DISCONNECT data), 0 if none */
    int removed;         /* disconnected by the server after joining */
    double removed_after_s; /* seconds after the first hostile message */
    uint64_t hostile_sent;
} load_rogue_report;

/* Starts connecting, to join lobby ("": the default one); the caller owns
 * *out. Thread-compatible. */
int load_rogue_create(load_rogue_kind kind, const char *host, uint16_t port, const char *name, const char *lobby,
                      const uint8_t *password, size_t password_len, load_rogue **out);

void load_rogue_destroy(load_rogue *r);

/* The UDP socket to poll. */
int load_rogue_fd(const load_rogue *r);

/* Services the network without waiting: handshake, HELLO, what the server says. */
void load_rogue_service(load_rogue *r, uint64_t now_us);

/* Sends one hostile message (no-op unless joined); victim is a real
 * player's id for impersonation. */
void load_rogue_attack(load_rogue *r, uint16_t victim, uint64_t now_us);

/* Id once welcomed, else 0. */
int load_rogue_id(const load_rogue *r);

int load_rogue_done(const load_rogue *r);

void load_rogue_get_report(const load_rogue *r, load_rogue_report *out);

#endif
