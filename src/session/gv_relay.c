#include "session/gv_relay.h"

#include "audio/gv_spatial.h"
#include "packet/gv_msg.h"
#include "session/gv_datagram.h"
#include "session/gv_talkers.h"

_Static_assert(GV_COALESCE_HELD <= 32, "a batch's items are bits of a uint32_t");

int gv_relay_hears(const gv_room *room, const gv_relay_party *from, const gv_relay_party *to, int echo,
                   gv_relay_counts *counts)
{
    if (to == from)
        return echo;
    if (room->spatial.mode != GV_SPATIAL_MODE_OFF && from->has_pose && to->has_pose &&
        !gv_spatial_audible(&room->spatial, &to->pose, &from->pose, room->cull_margin)) {
        counts->culled++;
        return 0;
    }
    return 1;
}

/* The size of item's record in a listener's datagram. */
static size_t record_size(const gv_coalesce_item *item, int more)
{
    return GV_DATAGRAM_DOWN_OVERHEAD + item->len + (more ? GV_DATAGRAM_RECORD_LENGTH : 0);
}

/* The items `to` is sent, in pick[] with the flags each goes with: a
 * talker who just got a place is marked, since the gap before it is not
 * loss. */
static int choose(gv_room *room, const gv_relay_party *to, const gv_coalesce_item *items,
                  const gv_relay_party *const *from, int count, uint64_t now_us, gv_relay_counts *counts,
                  const gv_coalesce_item **pick, const gv_relay_party **speakers, uint8_t *flags)
{
    int n = 0;
    for (int k = 0; k < count; k++) {
        if (!from[k] || !gv_relay_hears(room, from[k], to, items[k].echo, counts))
            continue;
        flags[n] = items[k].flags;
        if (room->talkers && from[k] != to) {
            int voiced = !(items[k].flags & GV_VOICE_QUIET);
            enum gv_talkers_verdict v =
                gv_talkers_admit(room->talkers, to->member->slot, from[k]->member->slot, voiced, now_us);
            if (v == GV_TALKERS_DROP) {
                counts->talkers_limited++;
                continue;
            }
            if (v == GV_TALKERS_START)
                flags[n] |= GV_VOICE_MARKER;
        }
        speakers[n] = from[k];
        pick[n++] = &items[k];
    }
    return n;
}

uint32_t gv_relay_room(gv_room *room, const gv_relay_party *const *listeners, int n, const gv_coalesce_item *items,
                       const gv_relay_party *const *from, int count, uint64_t now_us, uint8_t *out,
                       gv_relay_counts *counts, gv_relay_send_fn send, void *ctx)
{
    uint32_t forwarded = 0;
    for (int i = 0; i < n; i++) {
        const gv_relay_party *to = listeners[i];
        const gv_coalesce_item *pick[GV_COALESCE_HELD];
        const gv_relay_party *speakers[GV_COALESCE_HELD];
        uint8_t flags[GV_COALESCE_HELD];
        int picked = choose(room, to, items, from, count, now_us, counts, pick, speakers, flags);
        size_t used = 0;
        for (int k = 0; k < picked; k++) {
            const gv_coalesce_item *it = pick[k];
            int more = k + 1 < picked && used + record_size(it, 1) + record_size(pick[k + 1], 0) <= GV_MTU;
            const gv_lobby_member *speaker = speakers[k]->member;
            gv_datagram_speaker who = {.slot = speaker->slot, .epoch = speaker->epoch, .counter = it->counter};
            gv_msg voice = {.type = GV_MSG_VOICE_RELAY};
            voice.u.voice.ts = it->ts;
            voice.u.voice.flags = flags[k];
            voice.u.voice.level = it->level;
            voice.u.voice.len = (uint16_t)it->len;
            voice.u.voice.payload = it->payload;
            int rc = gv_datagram_seal_down(to->seal, &who, &voice, more, out + used, GV_MTU - used);
            if (rc < 0) {
                counts->unsealable++;
                continue;
            }
            used += (size_t)rc;
            counts->relayed++;
            forwarded |= 1u << (it - items);
            if (!more) {
                send(ctx, to->peer, out, used);
                used = 0;
            }
        }
    }
    return forwarded;
}
