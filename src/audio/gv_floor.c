#include "audio/gv_floor.h"

#include <math.h>

void gv_floor_init(gv_floor *f, double step_s, double smooth_s, double window_s, int windows)
{
    int steps = (int)lround(window_s / step_s);
    f->alpha = 1.0 - exp(-step_s / smooth_s);
    f->window_steps = steps < 1 ? 1 : steps;
    f->windows = windows < 1 ? 1 : windows > GV_FLOOR_MAX_WINDOWS ? GV_FLOOR_MAX_WINDOWS : windows;
    gv_floor_reset(f);
}

void gv_floor_reset(gv_floor *f)
{
    f->primed = 0;
    f->smooth_power = 0.0;
    f->cur_min = INFINITY;
    f->cur_steps = 0;
    f->mins_count = 0;
    f->mins_next = 0;
    f->floor_db = GV_FLOOR_MIN_DB;
}

float gv_power_db(double mean_square)
{
    if (!(mean_square > 0.0))
        return GV_FLOOR_MIN_DB;
    double db = 10.0 * log10(mean_square);
    return db < GV_FLOOR_MIN_DB ? GV_FLOOR_MIN_DB : (float)db;
}

float gv_floor_update(gv_floor *f, double mean_square)
{
    if (!f->primed) {
        f->smooth_power = mean_square;
        f->primed = 1;
    } else {
        f->smooth_power += f->alpha * (mean_square - f->smooth_power);
    }
    float db = gv_power_db(f->smooth_power);
    if (db < f->cur_min)
        f->cur_min = db;
    float floor_db = f->cur_min;
    for (int i = 0; i < f->mins_count; i++)
        floor_db = fminf(floor_db, f->mins[i]);
    f->floor_db = floor_db;
    if (++f->cur_steps >= f->window_steps) {
        f->mins[f->mins_next] = f->cur_min;
        f->mins_next = (f->mins_next + 1) % f->windows;
        if (f->mins_count < f->windows)
            f->mins_count++;
        f->cur_min = INFINITY;
        f->cur_steps = 0;
    }
    return floor_db;
}
