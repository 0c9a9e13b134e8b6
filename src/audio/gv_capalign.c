#include "audio/gv_capalign.h"

void gv_capalign_init(gv_capalign *a, int rate, int unit)
{
    a->unit = unit > 0 ? unit : 1;
    a->window = rate / 1000 * GV_CAPALIGN_WINDOW_MS;
    a->least = rate / 1000 * GV_CAPALIGN_MIN_MS;
    a->last_us = 0;
    a->delivering = 0;
    a->seen = 0;
    a->min_wait = -1;
    a->max_wait = 0;
    a->due = 0;
    a->aligned = 0;
    a->skip = 0;
}

/* A delivery of delivered samples ended with waiting samples waiting. */
static int delivered(gv_capalign *a, int delivered, int waiting, int inaudible)
{
    if (a->due > 0 && inaudible && waiting >= a->least + a->unit) {
        /* least stays waiting: pieces come a few samples long or short,
         * and a frame that ended a sample after its piece would wait for
         * the whole next one. Less waiting than due: the pieces' phase
         * moved down since. */
        int drop = ((waiting < a->due ? waiting : a->due) - a->least) / a->unit * a->unit;
        if (a->aligned)
            a->skip += drop;
        a->aligned = 1;
        a->due = 0;
        a->seen = 0;
        a->min_wait = -1;
        a->max_wait = 0;
        return drop;
    }
    if (a->min_wait < 0 || waiting < a->min_wait)
        a->min_wait = waiting;
    if (waiting > a->max_wait)
        a->max_wait = waiting;
    a->seen += delivered;
    if (a->seen >= a->window) {
        /* Every delivery of the window left min_wait or more waiting: the
         * frames' ends lie that far before the deliveries'. Only when the
         * deliveries keep their phase within least (a device's pieces):
         * where it wanders further (audio pushed as a loop's wake-ups
         * come, a file paced by the clock), what waits is also what keeps
         * a frame from missing the next delivery's end and going out one
         * delivery late. Measured again while a drop waits for silence:
         * the pieces' phase moves, either way. */
        int steady = a->max_wait - a->min_wait <= a->least;
        a->due = steady && a->min_wait >= a->least + a->unit ? a->min_wait : 0;
        a->seen = 0;
        a->min_wait = -1;
        a->max_wait = 0;
    }
    return 0;
}

int gv_capalign_push(gv_capalign *a, uint64_t now_us, int waiting, int inaudible)
{
    int drop = 0;
    if (waiting < 0)
        return 0;
    if (a->last_us != 0 && now_us - a->last_us >= GV_CAPALIGN_SAME_US && a->delivering > 0) {
        drop = delivered(a, a->delivering, waiting, inaudible);
        a->delivering = 0;
    }
    a->last_us = now_us ? now_us : 1;
    return drop;
}

void gv_capalign_pushed(gv_capalign *a, int samples)
{
    if (samples > 0)
        a->delivering += samples;
}

int gv_capalign_take_skip(gv_capalign *a)
{
    int skip = a->skip;
    a->skip = 0;
    return skip;
}
