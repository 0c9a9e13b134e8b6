/* Packet traces for the jitter-buffer benchmark: a 20 ms voice sender
 * (continuous or in talk spurts) behind one or two FIFO legs whose delay,
 * jitter and loss follow netem's models (gvoip-netem's README), with the
 * periodic changes of its schedules. Seeded and deterministic. */
#ifndef JBENCH_TRACE_H
#define JBENCH_TRACE_H

#include <stdint.h>

enum { JBENCH_UNIFORM, JBENCH_NORMAL, JBENCH_EXP, JBENCH_PARETO };

typedef struct jbench_leg {
    double delay_ms;  /* constant part */
    double jitter_ms; /* scale J of the extra delay, as netem's --jitter */
    int dist;         /* JBENCH_UNIFORM .. JBENCH_PARETO (Lomax, shape 2.5, mean J) */
} jbench_leg;

/* A window of changed conditions on leg 0 for len_s every every_s seconds,
 * starting at at_s; every_s 0 = once. */
typedef struct jbench_window {
    double at_s, len_s, every_s;
} jbench_window;

typedef struct jbench_scenario {
    const char *name;
    int legs; /* 1 or 2 */
    jbench_leg leg[2];
    int spurts;        /* talk spurts: on and off periods exponential, mean 1.5 s */
    double seconds;    /* of sending */
    jbench_window spike; double spike_jitter_ms; /* leg 0 jitter during the spike */
    jbench_window step;  double step_ms;         /* extra leg 0 delay during the step */
    jbench_window burst; double burst_pct, burst_len; /* Gilbert loss during the window */
    double clock_ppm;    /* the sender's clock runs fast by this much (negative: slow) */
} jbench_scenario;

typedef struct jbench_pkt {
    int64_t send_us;   /* when it left (real time): the end of its 20 ms of audio */
    int64_t arrive_us; /* -1 when lost on the way */
    uint32_t ts;       /* of its first sample, 48 kHz, runs on through pauses */
    uint16_t seq;
    int marker;        /* first packet of a talk spurt */
} jbench_pkt;

typedef struct jbench_trace {
    jbench_pkt *pkt; /* in sending order */
    int n;
    int *by_arrival; /* indices of the arrived packets in arrival order */
    int arrived;
} jbench_trace;

#define JBENCH_FRAME_US 20000
#define JBENCH_FRAME_SAMPLES 960

/* Builds the trace of sc with seed. Returns 0 or -1 (no memory); the caller
 * frees it with jbench_trace_free. Not thread-safe (qsort without context). */
int jbench_trace_make(const jbench_scenario *sc, uint64_t seed, jbench_trace *out);

/* Frees what jbench_trace_make allocated; a zeroed trace is a no-op. */
void jbench_trace_free(jbench_trace *t);

/* The smallest constant playout offset (send to playout, microseconds)
 * with which at most `late` of the arrived packets would come after their
 * playout time: the hindsight-best fixed delay for that late count.
 * Thread-safe. */
int64_t jbench_hindsight_us(const jbench_trace *t, int late);

#endif
