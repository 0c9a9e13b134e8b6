/* Who may start a connection, and how fast a source address may guess
 * passwords: the server's admission decisions (docs/protocol.md,
 * "Admission"), with the time passed in and no socket in sight, so they
 * run in virtual time. The secrets (cookie and table keys) come from
 * libsodium. Not thread-safe: one per server thread. */
#ifndef GV_ADMISSION_H
#define GV_ADMISSION_H

#include <stdint.h>

#include "session/gv_transport.h"

/* Half-open: a connection that is not (yet) a player. Past
 * GV_ADMISSION_COOKIE_AT of them a CONNECT must carry a cookie proving its
 * source address receives; past GV_ADMISSION_HALF_OPEN a verified CONNECT
 * replaces the oldest half-open connection, if that has waited at least
 * GV_ADMISSION_EVICT_AGE_US (a real client gets through its handshake in
 * a few round trips). */
#define GV_ADMISSION_PER_ADDRESS 4
#define GV_ADMISSION_COOKIE_AT 16
#define GV_ADMISSION_HALF_OPEN 64
#define GV_ADMISSION_EVICT_AGE_US 500000u
#define GV_ADMISSION_COOKIE_ROTATE_US 30000000u
/* CONNECTs per source address: a burst, then a steady rate. */
#define GV_ADMISSION_ATTEMPT_BURST 32
#define GV_ADMISSION_ATTEMPT_RATE 20
/* Wrong passwords per source address: a burst, then one per refill. */
#define GV_ADMISSION_PASSWORD_BURST 5
#define GV_ADMISSION_PASSWORD_REFILL_US 2000000u

typedef struct gv_admission gv_admission;

/* The half-open connections as the caller sees them when a CONNECT
 * arrives. */
typedef struct gv_admission_view {
    int mine;      /* from the CONNECT's IPv4 address */
    int total;     /* from anywhere */
    int evictable; /* one of them has waited GV_ADMISSION_EVICT_AGE_US */
} gv_admission_view;

/* 0, or GV_ENOMEM. The caller owns *out. */
int gv_admission_create(uint64_t now_us, gv_admission **out);

void gv_admission_destroy(gv_admission *a);

/* Decides about one CONNECT (a gv_admit_verdict). For GV_ADMIT_COOKIE
 * *cookie is the 24-bit cookie to answer with; with GV_ADMIT_PASS and
 * *evict set, the caller must first drop the half-open connection that has
 * waited longest. */
int gv_admission_connect(gv_admission *a, const gv_addr *from, uint32_t connect_data, const gv_admission_view *v,
                         uint64_t now_us, uint32_t *cookie, int *evict);

/* 1 when the address may try a password now. */
int gv_admission_password_allowed(gv_admission *a, uint32_t host, uint64_t now_us);

/* Spends one of the address's password tries. */
void gv_admission_password_failed(gv_admission *a, uint32_t host, uint64_t now_us);

#endif
