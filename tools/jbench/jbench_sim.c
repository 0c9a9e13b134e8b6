#include "jbench_sim.h"

#include <speex/speex_jitter.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"

#define TAIL_US 2000000 /* played on after the last arrival */

static void payload_of(int idx, uint8_t b[4])
{
    b[0] = (uint8_t)idx;
    b[1] = (uint8_t)(idx >> 8);
    b[2] = (uint8_t)(idx >> 16);
    b[3] = (uint8_t)(idx >> 24);
}

static int index_of(const uint8_t *b)
{
    return (int)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
}

static void note_play(const jbench_trace *t, int idx, int64_t now, double *sum, int *played, int64_t *play_us)
{
    if (idx < 0 || idx >= t->n || t->pkt[idx].arrive_us < 0)
        return;
    *sum += (double)(now - t->pkt[idx].send_us);
    (*played)++;
    if (play_us)
        play_us[idx] = now;
}

static void finish(const jbench_trace *t, double sum, int played, jbench_result *out)
{
    out->arrived = t->arrived;
    out->played = played;
    out->late = t->arrived - played;
    out->delay_ms = played ? sum / played / 1000.0 : 0;
}

static void clear_play(const jbench_trace *t, int64_t *play_us)
{
    int i;
    if (play_us)
        for (i = 0; i < t->n; i++)
            play_us[i] = -1;
}

int jbench_run_gv(const jbench_trace *t, const gv_jbuf_config *cfg, jbench_result *out, int64_t *play_us)
{
    gv_jbuf *jb = NULL;
    int next = 0, played = 0, rc;
    double sum = 0;
    int64_t now, end;

    if (!t || !out || t->arrived == 0)
        return GV_EINVAL;
    rc = gv_jbuf_create(cfg, &jb);
    if (rc < 0)
        return rc;
    clear_play(t, play_us);
    now = t->pkt[t->by_arrival[0]].arrive_us;
    end = t->pkt[t->by_arrival[t->arrived - 1]].arrive_us + TAIL_US;
    while (now < end) {
        gv_jbuf_frame f;
        while (next < t->arrived && t->pkt[t->by_arrival[next]].arrive_us <= now) {
            int idx = t->by_arrival[next++];
            const jbench_pkt *p = &t->pkt[idx];
            uint8_t b[4];
            payload_of(idx, b);
            gv_jbuf_put(jb, p->seq, p->ts, JBENCH_FRAME_SAMPLES, p->marker, b, sizeof b,
                        (uint64_t)p->arrive_us);
        }
        rc = gv_jbuf_get(jb, (uint64_t)now, &f);
        if (rc < 0)
            goto out;
        if (f.kind == GV_JBUF_PACKET && f.len == 4)
            note_play(t, index_of(f.payload), now, &sum, &played, play_us);
        now += (int64_t)(f.samples - f.skip) * 125 / 6;
    }
    finish(t, sum, played, out);
    rc = 0;
out:
    gv_jbuf_destroy(jb);
    return rc;
}

int jbench_run_speex(const jbench_trace *t, int mode, jbench_result *out, int64_t *play_us)
{
    JitterBuffer *jb;
    int next = 0, played = 0;
    double sum = 0;
    int64_t now, end;

    if (!t || !out || t->arrived == 0)
        return GV_EINVAL;
    jb = jitter_buffer_init(JBENCH_FRAME_SAMPLES);
    if (!jb)
        return GV_ENOMEM;
    clear_play(t, play_us);
    now = t->pkt[t->by_arrival[0]].arrive_us;
    end = t->pkt[t->by_arrival[t->arrived - 1]].arrive_us + TAIL_US;
    while (now < end) {
        JitterBufferPacket jp;
        char buf[16];
        spx_int32_t offset = 0;
        int r, span;
        while (next < t->arrived && t->pkt[t->by_arrival[next]].arrive_us <= now) {
            int idx = t->by_arrival[next++];
            const jbench_pkt *p = &t->pkt[idx];
            uint8_t b[4];
            JitterBufferPacket in;
            payload_of(idx, b);
            memset(&in, 0, sizeof in);
            in.data = (char *)b;
            in.len = sizeof b;
            in.timestamp = p->ts;
            in.span = JBENCH_FRAME_SAMPLES;
            in.sequence = p->seq;
            in.user_data = (spx_uint32_t)idx;
            jitter_buffer_put(jb, &in);
        }
        memset(&jp, 0, sizeof jp);
        jp.data = buf;
        jp.len = sizeof buf;
        r = jitter_buffer_get(jb, &jp, JBENCH_FRAME_SAMPLES, &offset);
        if (r == JITTER_BUFFER_OK) {
            note_play(t, (int)jp.user_data, now + (int64_t)offset * 125 / 6, &sum, &played, play_us);
        } else if (mode == JBENCH_SPEEX_MUMBLE) {
            jitter_buffer_update_delay(jb, &jp, NULL);
        }
        /* What was handed out plays in full: a packet's span, an
         * insertion's span, or one frame of concealment. */
        span = jp.span > 0 ? (int)jp.span : JBENCH_FRAME_SAMPLES;
        jitter_buffer_tick(jb);
        now += (int64_t)span * 125 / 6;
    }
    finish(t, sum, played, out);
    jitter_buffer_destroy(jb);
    return 0;
}
