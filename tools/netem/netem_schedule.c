#include "netem_schedule.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/error.h"

struct netem_schedule {
    netem_schedule_event *events;
    size_t count;
};

static void say(char *why, size_t why_len, const char *fmt, ...)
{
    if (!why || !why_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static int parse_seconds(const char *s, int allow_zero, uint64_t *out_us)
{
    if (!*s)
        return GV_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < 0 || v > NETEM_SCHEDULE_MAX_SECONDS || (!allow_zero && v <= 0))
        return GV_EINVAL;
    *out_us = (uint64_t)llround(v * 1e6);
    if (!allow_zero && !*out_us)
        return GV_EINVAL;
    return GV_OK;
}

/* Parses one line (modified in place) into ev. 0 = an event, 1 = nothing
 * on the line, negative = malformed with the reason in why. */
static int parse_line(char *line, netem_schedule_event *ev, char *why, size_t why_len)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *save = NULL;
    char *tok = strtok_r(line, " \t\r", &save);
    if (!tok)
        return 1;
    memset(ev, 0, sizeof *ev);
    netem_model_params_default(&ev->values);
    ev->dirs = (1u << NETEM_UP) | (1u << NETEM_DOWN);
    if (parse_seconds(tok, 1, &ev->at_us) < 0) {
        say(why, why_len, "bad time '%s' (seconds, 0..1e7)", tok);
        return GV_EMALFORMED;
    }
    int have_every = 0, have_duration = 0, first = 1;
    while ((tok = strtok_r(NULL, " \t\r", &save)) != NULL) {
        if (first && !strchr(tok, '=')) {
            if (!strcmp(tok, "up"))
                ev->dirs = 1u << NETEM_UP;
            else if (!strcmp(tok, "down"))
                ev->dirs = 1u << NETEM_DOWN;
            else if (strcmp(tok, "both") != 0) {
                say(why, why_len, "expected up, down, both or key=value, got '%s'", tok);
                return GV_EMALFORMED;
            }
            first = 0;
            continue;
        }
        first = 0;
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) {
            say(why, why_len, "expected key=value, got '%s'", tok);
            return GV_EMALFORMED;
        }
        *eq = '\0';
        const char *key = tok, *value = eq + 1;
        if (!strcmp(key, "every") || !strcmp(key, "duration")) {
            int is_every = key[0] == 'e';
            int *seen = is_every ? &have_every : &have_duration;
            if (*seen || parse_seconds(value, 0, is_every ? &ev->every_us : &ev->duration_us) < 0) {
                say(why, why_len, *seen ? "%s set twice" : "bad %s '%s' (seconds, > 0)", key, value);
                return GV_EMALFORMED;
            }
            *seen = 1;
            continue;
        }
        int bit = netem_model_params_set(&ev->values, key, value);
        if (bit == GV_ENOTFOUND) {
            say(why, why_len, "unknown key '%s' (known: %s every duration)", key, netem_model_param_keys());
            return GV_EMALFORMED;
        }
        if (bit < 0) {
            say(why, why_len, "bad value '%s' for %s", value, key);
            return GV_EMALFORMED;
        }
        if (ev->mask & (1u << bit)) {
            say(why, why_len, "%s set twice", key);
            return GV_EMALFORMED;
        }
        ev->mask |= 1u << bit;
    }
    if (!ev->mask) {
        say(why, why_len, "nothing to change (no key=value)");
        return GV_EMALFORMED;
    }
    if (have_every && !have_duration) {
        say(why, why_len, "every= needs duration=");
        return GV_EMALFORMED;
    }
    if (have_every && ev->duration_us >= ev->every_us) {
        say(why, why_len, "duration= must be shorter than every=");
        return GV_EMALFORMED;
    }
    return 0;
}

static int event_cmp(const void *a, const void *b)
{
    const netem_schedule_event *x = a, *y = b;
    if (x->at_us != y->at_us)
        return x->at_us < y->at_us ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

int netem_schedule_parse(const char *text, size_t len, netem_schedule **out,
                         int *err_line, char *why, size_t why_len)
{
    if ((!text && len) || !out)
        return GV_EINVAL;
    if (err_line)
        *err_line = 0;
    int rc = GV_ENOMEM;
    char *line = NULL;
    netem_schedule *s = calloc(1, sizeof *s);
    if (!s)
        goto out;
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        lineno++;
        free(line);
        line = malloc(end - pos + 1);
        if (!line) {
            rc = GV_ENOMEM;
            goto out;
        }
        memcpy(line, text + pos, end - pos);
        line[end - pos] = '\0';
        pos = end + 1;
        netem_schedule_event ev;
        int r = parse_line(line, &ev, why, why_len);
        if (r == 1)
            continue;
        if (r < 0) {
            if (err_line)
                *err_line = lineno;
            rc = r;
            goto out;
        }
        if (s->count == NETEM_SCHEDULE_MAX_EVENTS) {
            if (err_line)
                *err_line = lineno;
            say(why, why_len, "more than %d events", NETEM_SCHEDULE_MAX_EVENTS);
            rc = GV_ETOOBIG;
            goto out;
        }
        netem_schedule_event *grown = realloc(s->events, (s->count + 1) * sizeof *grown);
        if (!grown) {
            rc = GV_ENOMEM;
            goto out;
        }
        s->events = grown;
        ev.line = lineno;
        s->events[s->count++] = ev;
    }
    if (s->count)
        qsort(s->events, s->count, sizeof *s->events, event_cmp);
    *out = s;
    s = NULL;
    rc = GV_OK;
out:
    free(line);
    netem_schedule_destroy(s);
    return rc;
}

void netem_schedule_destroy(netem_schedule *s)
{
    if (!s)
        return;
    free(s->events);
    free(s);
}

size_t netem_schedule_count(const netem_schedule *s)
{
    return s ? s->count : 0;
}

const netem_schedule_event *netem_schedule_get(const netem_schedule *s, size_t i)
{
    return s && i < s->count ? &s->events[i] : NULL;
}

/* Whether a window is open at t, and the next boundary after t. */
static int window_open(const netem_schedule_event *e, uint64_t t, uint64_t *next)
{
    if (t < e->at_us) {
        *next = e->at_us;
        return 0;
    }
    uint64_t since = t - e->at_us;
    if (!e->every_us) {
        int open = since < e->duration_us;
        *next = open ? e->at_us + e->duration_us : UINT64_MAX;
        return open;
    }
    uint64_t start = e->at_us + since / e->every_us * e->every_us;
    int open = since % e->every_us < e->duration_us;
    *next = open ? start + e->duration_us : start + e->every_us;
    return open;
}

uint64_t netem_schedule_eval(const netem_schedule *s, int dir, const netem_model_params *base,
                             uint64_t t_us, netem_model_params *out)
{
    if (!base || !out)
        return UINT64_MAX;
    *out = *base;
    uint64_t next = UINT64_MAX;
    if (!s || (dir != NETEM_UP && dir != NETEM_DOWN))
        return next;
    for (size_t i = 0; i < s->count; i++) {
        const netem_schedule_event *e = &s->events[i];
        if (!(e->dirs & (1u << dir)) || e->duration_us)
            continue;
        if (e->at_us <= t_us)
            netem_model_params_merge(out, &e->values, e->mask);
        else if (e->at_us < next)
            next = e->at_us;
    }
    for (size_t i = 0; i < s->count; i++) {
        const netem_schedule_event *e = &s->events[i];
        if (!(e->dirs & (1u << dir)) || !e->duration_us)
            continue;
        uint64_t n;
        if (window_open(e, t_us, &n))
            netem_model_params_merge(out, &e->values, e->mask);
        if (n < next)
            next = n;
    }
    return next;
}
