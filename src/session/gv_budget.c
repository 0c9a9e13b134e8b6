#include "session/gv_budget.h"

#include "gvoip/gvoip.h"

#define MIN_FRAME_US 10000u /* gvoip never sends 2.5 or 5 ms frames */
#define MAX_PACKET_US 120000u

void gv_budget_start(gv_budget *b, uint64_t now_us)
{
    *b = (gv_budget){.window_start_us = now_us};
}

gv_budget_verdict gv_budget_charge(gv_budget *b, gv_budget_kind kind, uint64_t voice_us, size_t bytes, int players,
                                   uint64_t now_us)
{
    if (now_us - b->window_start_us >= GV_BUDGET_WINDOW_US) {
        /* Strikes count windows over budget in a row; a quiet window
         * between two bad ones clears them. */
        int adjacent = now_us - b->window_start_us < 2 * GV_BUDGET_WINDOW_US;
        int strikes = b->over && adjacent ? b->strikes + 1 : 0;
        gv_budget_start(b, now_us);
        b->strikes = strikes;
    }
    if (kind == GV_BUDGET_VOICE)
        b->voice_us += voice_us;
    else if (kind == GV_BUDGET_POSITION)
        b->positions++;
    else
        b->control++;
    b->bytes += bytes;
    if (b->voice_us <= GV_BUDGET_VOICE_US && b->control <= GV_BUDGET_CONTROL_MAX + players &&
        b->positions <= GV_BUDGET_POSITIONS_MAX && b->bytes <= GV_BUDGET_BYTES_MAX)
        return GV_BUDGET_PASS;
    b->over = 1;
    return b->strikes >= GV_BUDGET_STRIKES - 1 ? GV_BUDGET_REMOVE : GV_BUDGET_OVER;
}

uint64_t gv_budget_voice_us(const gv_msg *m)
{
    static const uint32_t silk[4] = {10000, 20000, 40000, 60000};
    static const uint32_t celt[4] = {2500, 5000, 10000, 20000};
    if (m->u.voice.flags & GV_VOICE_RAW)
        return (uint64_t)GV_RAW_FRAMES * 1000000u / GV_SAMPLE_RATE;
    uint8_t toc = m->u.voice.payload[0];
    unsigned config = toc >> 3;
    uint64_t frame = config < 12 ? silk[config & 3] : config < 16 ? (config & 1 ? 20000 : 10000) : celt[config & 3];
    unsigned frames = (toc & 3) == 0 ? 1 : (toc & 3) < 3 ? 2 : m->u.voice.len > 1 ? m->u.voice.payload[1] & 0x3f : 0;
    uint64_t d = frame * frames;
    return d < MIN_FRAME_US ? MIN_FRAME_US : d > MAX_PACKET_US ? MAX_PACKET_US : d;
}
