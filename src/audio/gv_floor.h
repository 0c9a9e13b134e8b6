/* A noise floor that follows the room: the minimum of the signal's level,
 * smoothed so that single frames do not count, over the last few
 * sub-windows and the current one. A quieter room lowers it at once, a
 * louder one raises it within the windows' span, talking or not. The voice
 * detector and the automatic gain's own speech detector both judge speech
 * against it. A plain struct owned by its user: no allocation. */
#ifndef GV_AUDIO_FLOOR_H
#define GV_AUDIO_FLOOR_H

#define GV_FLOOR_MIN_DB (-120.0f)
#define GV_FLOOR_MAX_WINDOWS 16

typedef struct gv_floor {
    double alpha;     /* smoothing per update */
    int window_steps; /* updates per sub-window */
    int windows;      /* finished sub-windows kept, 1..GV_FLOOR_MAX_WINDOWS */
    int primed;
    double smooth_power;
    float cur_min; /* of the current sub-window */
    int cur_steps;
    float mins[GV_FLOOR_MAX_WINDOWS];
    int mins_count, mins_next;
    float floor_db;
} gv_floor;

/* Sets up f for updates every step_s seconds, levels smoothed over
 * smooth_s, the minimum taken over windows sub-windows of window_s, and
 * forgets everything (gv_floor_reset). */
void gv_floor_init(gv_floor *f, double step_s, double smooth_s, double window_s, int windows);

/* Forgets the floor: the next update starts it again. */
void gv_floor_reset(gv_floor *f);

/* Takes one step's mean square; returns the floor in dBFS. */
float gv_floor_update(gv_floor *f, double mean_square);

/* 10 log10 of a mean square, at least GV_FLOOR_MIN_DB (also for 0 and NaN). */
float gv_power_db(double mean_square);

#endif
