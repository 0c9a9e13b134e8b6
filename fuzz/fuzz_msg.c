/* Every sealed-message parser: decode, and re-encode what decoded, which
 * must give back the same bytes (WELCOME through gv_msg_encode_welcome,
 * from the entries gv_msg_next_player reads back; PLAYER_RTT through
 * gv_msg_encode_rtt from gv_msg_next_rtt's). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet/gv_msg.h"
#include "fuzz_common.h"

/* The longest WELCOME: every name at its maximum, a full lobby. */
#define WELCOME_MAX                                                                                                    \
    (1 + 2 + 1 + GV_NAME_MAX + 2 + 1 + 4 + 1 + GV_RESUME_SECRET_LEN + 2 +                                              \
     GV_MAX_PLAYERS * (2 + 1 + GV_NAME_MAX + 1 + 4 + 6))

static uint8_t out[WELCOME_MAX + GV_VOICE_RELAY_HEADER + GV_RAW_PAYLOAD]; /* room for either */
static gv_msg_player players[GV_MAX_PLAYERS];

static int reencode_welcome(const gv_msg *m)
{
    gv_msg_player self = {0};
    self.id = m->u.welcome.id;
    self.slot = m->u.welcome.slot;
    self.epoch = m->u.welcome.epoch;
    CHECK(m->u.welcome.name.len <= GV_NAME_MAX);
    memcpy(self.name, m->u.welcome.name.bytes, m->u.welcome.name.len);
    self.name[m->u.welcome.name.len] = '\0';
    CHECK(m->u.welcome.count <= GV_MAX_PLAYERS);
    gv_reader r;
    gv_reader_init(&r, m->u.welcome.players, m->u.welcome.players_len);
    for (uint16_t i = 0; i < m->u.welcome.count; i++) {
        CHECK(gv_msg_next_player(&r, &players[i]) == 0);
        CHECK(players[i].next < GV_VOICE_COUNTER_LIMIT);
    }
    /* The list is exactly count entries: nothing after them. */
    CHECK(gv_reader_remaining(&r) == 0);
    gv_msg_player past;
    CHECK(gv_msg_next_player(&r, &past) == GV_EMALFORMED);
    gv_msg_welcome_self welcome = {
        .player = &self, .index = m->u.welcome.index, .flags = m->u.welcome.flags, .resume = m->u.welcome.resume};
    return gv_msg_encode_welcome(&welcome, m->u.welcome.count, players, out, sizeof out);
}

static int reencode_rtt(const gv_msg *m)
{
    static uint16_t ids[GV_MAX_PLAYERS], rtts[GV_MAX_PLAYERS];
    CHECK(m->u.rtt.count <= GV_MAX_PLAYERS);
    gv_reader r;
    gv_reader_init(&r, m->u.rtt.entries, (size_t)m->u.rtt.count * 4);
    for (uint16_t i = 0; i < m->u.rtt.count; i++)
        CHECK(gv_msg_next_rtt(&r, &ids[i], &rtts[i]) == 0);
    uint16_t id, rtt;
    CHECK(gv_msg_next_rtt(&r, &id, &rtt) == GV_EMALFORMED);
    return gv_msg_encode_rtt(m->u.rtt.count, ids, rtts, out, sizeof out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gv_msg m;
    if (gv_msg_decode(data, size, &m) != 0)
        return 0;
    if (m.type == GV_MSG_VOICE || m.type == GV_MSG_VOICE_RELAY) {
        /* ENet carries only the raw baseline; Opus is voice datagrams'. */
        CHECK(m.u.voice.flags & GV_VOICE_RAW);
        CHECK(m.u.voice.len >= 1 && m.u.voice.len <= GV_RAW_PAYLOAD);
    }
    int n = m.type == GV_MSG_WELCOME      ? reencode_welcome(&m)
            : m.type == GV_MSG_PLAYER_RTT ? reencode_rtt(&m)
                                          : gv_msg_encode(&m, out, sizeof out);
    CHECK(n >= 0 && (size_t)n == size && memcmp(out, data, size) == 0);
    return 0;
}
