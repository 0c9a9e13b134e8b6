/* The simulated players: gv_link handles driven from one thread, the first
 * K of them talking in spurts, an optional flooder, and what every player
 * receives from every speaker.
 *
 * The fake Opus packet: byte 0 a real TOC byte for the frame size (so the
 * server's budget reads the right duration), bytes 1-8 the send time
 * (CLOCK_MONOTONIC microseconds, little-endian; sender and receivers share
 * the machine), byte 9 what kind of traffic it is, bytes 10-11 the
 * sender's lobby (its index, little-endian), bytes 12-15 "gvld" (voice
 * without them is a real client's, not ours), then filler.
 *
 * With o->lobbies > 1 player i joins lobby "load-(i % lobbies)" (the
 * flooder the first), and hears only the speakers of its own: voice
 * stamped with another lobby is counted foreign, and each lobby's loss is
 * judged against its own speakers. Ids are the lobby's, so a speaker is
 * known by its lobby and id.
 *
 * With o->source_addresses every join binds a loopback address never used
 * before (127.1.0.1, 127.1.0.2, ...): the server's limits per address
 * then see many players as it would on the Internet. Voice is also
 * counted per 100 ms of send time, so that a run can be judged interval by
 * interval, and apart from outages: from a second before a player's
 * connection was found interrupted until it was back.
 * Not thread-safe: one thread drives the swarm. */
#ifndef LOAD_SWARM_H
#define LOAD_SWARM_H

#include <stddef.h>
#include <stdint.h>

#include "gvoip/gvoip.h"
#include "load_hist.h"
#include "load_opts.h"

enum load_kind { LOAD_KIND_VOICE = 0, LOAD_KIND_FLOOD = 1, LOAD_KIND_IMPOSTOR = 2 };

#define LOAD_PAYLOAD_MIN 16

/* The server's voice budget (gv_server.c: 1.25 times real time plus
 * 100 ms a second), in packets a second for a frame size. */
#define LOAD_VOICE_BUDGET_PPS(frame_ms) (1350.0 / (frame_ms))

/* CLOCK_MONOTONIC in microseconds. */
uint64_t load_now_us(void);

/* Writes a fake Opus packet of len >= LOAD_PAYLOAD_MIN bytes from a
 * member of lobby (its index). */
void load_swarm_fill_payload(uint8_t *p, size_t len, int frame_ms, uint64_t stamp_us, int kind, int lobby);

/* The name of the lobby of index lobby: with --lobbies N > 1
 * "load-INDEX", else --lobby's name, or "" (the default lobby). */
void load_swarm_lobby_name(const load_opts *o, int lobby, char out[GV_LOBBY_NAME_BYTES]);

typedef struct load_swarm load_swarm;

typedef struct load_swarm_report {
    int players, joined, speakers, removed; /* removed: normal players the server dropped */
    double join_s;                          /* from the first connect to the last welcome */
    int lobbies;
    uint64_t sent, expected, received, lost_seq;
    double loss_pct, worst_loss_pct; /* worst_loss_pct: the worst single receiver */
    uint64_t foreign; /* voice packets a player heard from another lobby: must stay 0 */
    const double *lobby_loss_pct; /* each lobby's loss, lobbies entries */
    double worst_lobby_loss_pct;
    double p50_ms, p95_ms, p99_ms, max_ms;
    uint64_t flood_sent, flood_received, impostor_received;
    int flooder_joined, flooder_removed;
    double flooder_removed_after_s;
    char flooder_reason[768]; /* the removal event's reason, copied (as player.reason) */
    const uint64_t *rate; /* voice packets received in each second of the run */
    int rate_seconds;
    /* Only the players who were never replaced count in the figures
     * above, and in roster_ok: those whose roster lists every other
     * player in the lobby (at the time of the report). */
    int stable, roster_ok;
    uint64_t joins, join_failures, join_timeouts; /* every join attempt that ended, from the first */
    uint64_t join_refusals;                       /* failures the server refused (any code) */
    double join_p50_ms, join_p95_ms, join_max_ms; /* from the first attempt to the welcome */
    double leave_p50_ms, leave_max_ms;            /* gv_link_destroy, leaving on purpose */
    /* Sessions: events over all players, and outages (see above). */
    uint64_t interrupted, restored, reconnecting, resumed, fresh, id_changed, others_back;
    int same_ids; /* players holding the id of their first welcome */
    int player_resumes_min, player_resumes_max; /* resumes of the one that had fewest, most */
    double outage_s, longest_outage_s;
    uint64_t outside_expected, outside_received; /* voice sent outside outages */
    double loss_outside_pct;
} load_swarm_report;

/* One interval of --report-every seconds of send time. */
typedef struct load_interval {
    double start_s, end_s; /* since the traffic started */
    uint64_t sent, expected, received;
    double loss_pct;
    double outage_s; /* of the interval */
    double loss_outside_pct;
    double p50_ms, p95_ms, p99_ms, max_ms;
} load_interval;

/* Allocates the players (and the flooder when o->flood_factor > 0); no
 * network yet. The caller owns *out; o must outlive it. */
int load_swarm_create(const load_opts *o, load_swarm **out);

/* Leaves the lobby with every player and frees. NULL: no-op. */
void load_swarm_destroy(load_swarm *sw);

/* Starts connections (at most a few pending at once: the server limits
 * half-open connections per address) and retries failed ones. Returns 1
 * once everyone joined, 0 while joining, a negative code on giving up. */
int load_swarm_join(load_swarm *sw, uint64_t now_us);

/* Starts the traffic clock. */
void load_swarm_start(load_swarm *sw, uint64_t now_us);

/* Sends what is due (voice, flood, loss reports), and services every link
 * every few milliseconds; stop_sending ends the traffic. Returns when the
 * next send is due. */
uint64_t load_swarm_tick(load_swarm *sw, uint64_t now_us, int stop_sending);

/* Waits for datagrams until until_us and services the players that have
 * some. */
void load_swarm_wait(load_swarm *sw, uint64_t until_us);

/* A joined player's id (for the impersonator's victim), or 0. */
uint16_t load_swarm_player_id(const load_swarm *sw, int index);

/* Churn: 1 when the player may be replaced (joined, does not talk). */
int load_swarm_churnable(const load_swarm *sw, int index);

/* Churn: the player leaves on purpose (its link destroyed, which tells
 * the server at once); load_swarm_join then joins a newcomer in its
 * place. */
void load_swarm_leave(load_swarm *sw, int index);

/* Welcomes so far, the first joins included. */
uint64_t load_swarm_joins(const load_swarm *sw);

/* The figures of the interval-th stretch of o->report_every_s seconds of
 * send time, 0 first (the last one may be shorter: up to the end of
 * --duration). Call each once and in order, once its packets have had
 * time to arrive and its outages to be found (a second and a half after
 * its end): its latency histogram is reused two intervals later. */
void load_swarm_interval(load_swarm *sw, int interval, uint64_t now_us, load_interval *out);

/* Valid until the swarm is destroyed. */
void load_swarm_get_report(load_swarm *sw, load_swarm_report *out);

#endif
