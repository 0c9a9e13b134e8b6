#include "tui.h"
#include "clock.h"

#include <curses.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROWS 64       /* players listed */
#define LOG_LINES 4
#define MIN_COLS 40       /* below this the screen only asks for more room */
#define MIN_LINES 10
#define REDRAW_MS 50
#define MAP_LEFT 58       /* the map needs the list this wide on its left */
#define KEY_TAB '\t'

typedef struct row {
    uint16_t id;
    char name[GV_NAME_BYTES];
    int speaking;
    int away; /* their connection was lost; the server keeps their place */
    int muted;
    int muted_for_all; /* by a moderator, as the server last said */
    float volume;
} row;

struct tui {
    gv_player_pose pose;
    int muted, deafened, ptt, transmit_mode;
    int self_speaking;
    int moderated; /* a moderator muted us for everyone: the server drops our voice */
    uint16_t own_id;
    char own_name[GV_NAME_BYTES];
    char target[300]; /* what is joined, for "connecting to ..." */
    int lost;         /* the server went away or refused us */
    int interrupted;  /* nothing from the server for a while; the session waits */
    int attempt;      /* connecting anew: the attempt under way, 0 when none */
    row rows[MAX_ROWS];
    int row_count;
    int selected;
    char log[LOG_LINES][128];
    int log_count;
    uint64_t last_draw_ms;
    int dirty;
};

int tui_open(const char *target, const gv_player_pose *pose, int muted, int transmit_mode, tui **out)
{
    tui *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    setlocale(LC_ALL, "");
    if (!initscr()) {
        free(t);
        return -1;
    }
    cbreak();
    noecho();
    nodelay(stdscr, TRUE); /* the audio must keep flowing: never wait for a key */
    keypad(stdscr, TRUE);
    curs_set(0);
    t->pose = *pose;
    snprintf(t->target, sizeof t->target, "%s", target ? target : "");
    t->muted = muted;
    t->transmit_mode = transmit_mode;
    t->dirty = 1;
    *out = t;
    return 0;
}

void tui_close(tui *t)
{
    if (!t)
        return;
    endwin();
    free(t);
}

void tui_note(tui *t, const char *text)
{
    if (t->log_count == LOG_LINES) {
        memmove(t->log[0], t->log[1], sizeof t->log[0] * (LOG_LINES - 1));
        t->log_count--;
    }
    size_t n = strnlen(text, sizeof t->log[0] - 1);
    memcpy(t->log[t->log_count], text, n);
    t->log[t->log_count++][n] = '\0';
    t->dirty = 1;
}

static row *find_row(tui *t, uint16_t id)
{
    for (int i = 0; i < t->row_count; i++)
        if (t->rows[i].id == id)
            return &t->rows[i];
    return NULL;
}

void tui_event(tui *t, const gv_event *ev)
{
    char line[1024];
    row *r;
    t->dirty = 1;
    switch (ev->type) {
    case GV_EVENT_CONNECTED:
        t->own_id = ev->id;
        snprintf(t->own_name, sizeof t->own_name, "%s", ev->name);
        snprintf(line, sizeof line, "joined as %s (id %u)", ev->name, (unsigned)ev->id);
        tui_note(t, line);
        break;
    case GV_EVENT_PLAYER_CONNECTED:
        if (!find_row(t, ev->id) && t->row_count < MAX_ROWS) {
            r = &t->rows[t->row_count++];
            memset(r, 0, sizeof *r);
            r->id = ev->id;
            r->volume = 1.0f;
            snprintf(r->name, sizeof r->name, "%s", ev->name);
        }
        snprintf(line, sizeof line, "%s joined", ev->name);
        tui_note(t, line);
        break;
    case GV_EVENT_PLAYER_DISCONNECTED:
        if ((r = find_row(t, ev->id)) != NULL) {
            *r = t->rows[--t->row_count];
            if (t->selected >= t->row_count)
                t->selected = t->row_count ? t->row_count - 1 : 0;
        }
        snprintf(line, sizeof line, "%s left%s%s", ev->name, ev->reason[0] ? ": " : "", ev->reason);
        tui_note(t, line);
        break;
    case GV_EVENT_SPEAKING:
        if (ev->id == t->own_id)
            t->self_speaking = ev->on;
        else if ((r = find_row(t, ev->id)) != NULL)
            r->speaking = ev->on;
        break;
    case GV_EVENT_SERVER_DISCONNECTED:
        t->lost = 1;
        snprintf(line, sizeof line, "disconnected: %s", ev->reason);
        tui_note(t, line);
        break;
    case GV_EVENT_CONNECTION_FAILED:
        t->lost = 1;
        snprintf(line, sizeof line, "could not join: %s", ev->reason);
        tui_note(t, line);
        break;
    case GV_EVENT_LISTENING:
        snprintf(line, sizeof line, "listening on UDP port %u", (unsigned)ev->port);
        tui_note(t, line);
        break;
    case GV_EVENT_CONNECTION_INTERRUPTED:
        t->interrupted = 1;
        tui_note(t, "connection interrupted: waiting for the server");
        break;
    case GV_EVENT_CONNECTION_RESTORED:
        t->interrupted = 0;
        t->attempt = 0;
        tui_note(t, "connection restored");
        break;
    case GV_EVENT_RECONNECTING:
        t->attempt = ev->attempt;
        break;
    case GV_EVENT_RECONNECTED:
        t->interrupted = 0;
        t->attempt = 0;
        t->own_id = ev->id;
        snprintf(t->own_name, sizeof t->own_name, "%s", ev->name);
        snprintf(line, sizeof line, "reconnected as %s (id %u)%s", ev->name, (unsigned)ev->id,
                 ev->resumed ? "" : ": the server had restarted");
        tui_note(t, line);
        break;
    case GV_EVENT_MUTED_BY_MODERATOR:
        t->moderated = ev->on;
        tui_note(t, ev->on ? "a moderator muted you for everyone" : "a moderator unmuted you");
        break;
    case GV_EVENT_PLAYER_MUTED_FOR_ALL:
        if ((r = find_row(t, ev->id)) != NULL)
            r->muted_for_all = ev->on;
        snprintf(line, sizeof line, "%s was %s for everyone by a moderator", ev->name, ev->on ? "muted" : "unmuted");
        tui_note(t, line);
        break;
    case GV_EVENT_PLAYER_RECONNECTING:
    case GV_EVENT_PLAYER_RECONNECTED:
        if ((r = find_row(t, ev->id)) != NULL)
            r->away = ev->type == GV_EVENT_PLAYER_RECONNECTING;
        snprintf(line, sizeof line, "%s %s", ev->name,
                 ev->type == GV_EVENT_PLAYER_RECONNECTING ? "lost the connection; waiting" : "is back");
        tui_note(t, line);
        break;
    default:
        break;
    }
}

void tui_pose(const tui *t, gv_player_pose *out)
{
    *out = t->pose;
}

void tui_set_pose(tui *t, const gv_player_pose *pose)
{
    t->pose = *pose;
    t->dirty = 1;
}

/* One arrow key's step: a twentieth of the audible range, so a few
 * presses take you out of earshot. */
static float step_size(const gv_spatial_config *sp)
{
    float d = sp->max_distance > 0.0f ? sp->max_distance : sp->unit_size * 10.0f;
    float step = d / 20.0f;
    return step >= 0.1f ? step : 0.1f;
}

static void walk(tui *t, gv_client *c, const gv_spatial_config *sp, float right, float forward)
{
    if (sp->mode == GV_SPATIAL_MODE_OFF)
        return;
    float step = step_size(sp);
    t->pose.x += right * step;
    /* Up the screen is -y on the 2D canvas and -z (forward) in 3D. */
    if (sp->mode == GV_SPATIAL_MODE_2D)
        t->pose.y -= forward * step;
    else
        t->pose.z -= forward * step;
    if (c)
        gv_client_set_pose(c, &t->pose);
    t->dirty = 1;
}

static void apply_key(tui *t, gv_client *c, int key, const gv_spatial_config *sp, int *quit)
{
    row *sel = t->row_count ? &t->rows[t->selected] : NULL;
    switch (key) {
    case 'q':
    case 'Q':
        *quit = 1;
        break;
    case 'm':
        t->muted = !t->muted;
        if (c)
            gv_client_set_muted(c, t->muted);
        break;
    case 'd':
        t->deafened = !t->deafened;
        if (c)
            gv_client_set_deafened(c, t->deafened);
        break;
    case ' ':
        /* Terminals send no key-up: space latches push-to-talk on and off. */
        if (t->transmit_mode != GV_TX_PUSH_TO_TALK) {
            t->transmit_mode = GV_TX_PUSH_TO_TALK;
            t->ptt = 0;
            if (c)
                gv_client_set_transmit_mode(c, t->transmit_mode);
        }
        t->ptt = !t->ptt;
        if (c)
            gv_client_set_ptt(c, t->ptt);
        break;
    case 't':
        t->transmit_mode = (t->transmit_mode + 1) % 3;
        t->ptt = 0;
        if (c) {
            gv_client_set_transmit_mode(c, t->transmit_mode);
            gv_client_set_ptt(c, 0);
        }
        break;
    case KEY_TAB:
        if (t->row_count)
            t->selected = (t->selected + 1) % t->row_count;
        break;
    case '+':
    case '=':
    case '-':
        if (sel) {
            float v = sel->volume + (key == '-' ? -0.1f : 0.1f);
            sel->volume = v < 0.0f ? 0.0f : v > 4.0f ? 4.0f : roundf(v * 10.0f) / 10.0f;
            if (c)
                gv_client_set_player_volume(c, sel->id, sel->volume);
        }
        break;
    case 'x':
        if (sel) {
            sel->muted = !sel->muted;
            if (c)
                gv_client_set_player_muted(c, sel->id, sel->muted);
        }
        break;
    case 'M':
        /* The row changes when the server says it happened: it ignores
         * players without a moderator's token. */
        if (sel && c && gv_client_mute_for_all(c, sel->id, !sel->muted_for_all) == 0) {
            char line[128];
            snprintf(line, sizeof line, "asked to %s %s for everyone (moderators only)",
                     sel->muted_for_all ? "unmute" : "mute", sel->name);
            tui_note(t, line);
        }
        break;
    case KEY_UP:
        walk(t, c, sp, 0.0f, 1.0f);
        break;
    case KEY_DOWN:
        walk(t, c, sp, 0.0f, -1.0f);
        break;
    case KEY_LEFT:
        walk(t, c, sp, -1.0f, 0.0f);
        break;
    case KEY_RIGHT:
        walk(t, c, sp, 1.0f, 0.0f);
        break;
    default:
        /* A digit selects the player of that id, as the list shows it. */
        for (int i = 0; key >= '1' && key <= '9' && i < t->row_count; i++)
            if (t->rows[i].id == key - '0')
                t->selected = i;
        break;
    }
    t->dirty = 1;
}

static const char *mode_name(int mode)
{
    return mode == GV_TX_CONTINUOUS ? "continuous" : mode == GV_TX_VOICE_ACTIVITY ? "voice activity" : "push-to-talk";
}

/* One line, cut at the screen's width: curses would wrap it onto the next
 * line, and leave the rest of a shorter one behind. */
static void line_in(int y, int width, int attr, const char *fmt, va_list ap)
{
    char buf[512];
    if (y < 0 || y >= LINES)
        return;
    vsnprintf(buf, sizeof buf, fmt, ap);
    attron(attr);
    mvaddnstr(y, 0, buf, width < COLS ? width : COLS);
    attroff(attr);
}

static void line_at(int y, int attr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line_in(y, COLS, attr, fmt, ap);
    va_end(ap);
}

/* The same, no wider than width (left of the map). */
static void line_w(int y, int width, int attr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line_in(y, width, attr, fmt, ap);
    va_end(ap);
}

static void draw_meter(int y, float level_db)
{
    int width = COLS - 22 < 30 ? COLS - 22 : 30;
    char bar[31];
    float frac = (level_db + 60.0f) / 60.0f;
    int n = frac <= 0.0f ? 0 : frac >= 1.0f ? width : (int)(frac * (float)width);
    for (int i = 0; i < width; i++)
        bar[i] = i < n ? '#' : ' ';
    bar[width > 0 ? width : 0] = '\0';
    line_at(y, 0, "input [%s] %5.1f dBFS", bar, level_db < -99.0f ? -99.0 : (double)level_db);
}

/* A player's mark on the map: its id when that is one digit. */
static chtype mark_of(uint16_t id)
{
    return id <= 9 ? (chtype)('0' + id) : '*';
}

/* Others around you, scaled so that the audible range fills the box. */
static void draw_map(tui *t, gv_client *c, const gv_spatial_config *sp, int top, int left, int h, int w)
{
    if (h < 5 || w < 12)
        return;
    float range = sp->max_distance > 0.0f ? sp->max_distance : sp->unit_size * 10.0f;
    mvaddch(top, left, '+');
    for (int x = 1; x < w - 1; x++)
        addch('-');
    addch('+');
    for (int y = 1; y < h - 1; y++) {
        mvaddch(top + y, left, '|');
        mvaddch(top + y, left + w - 1, '|');
    }
    mvaddch(top + h - 1, left, '+');
    for (int x = 1; x < w - 1; x++)
        addch('-');
    addch('+');
    int cx = left + w / 2, cy = top + h / 2;
    /* A character cell is about twice as tall as wide. */
    float sx = (float)(w / 2 - 1) / range, sy = (float)(h / 2 - 1) / range;
    for (int i = 0; i < t->row_count; i++) {
        gv_player_pose p;
        if (!c || gv_client_player_pose(c, t->rows[i].id, &p) != 0)
            continue;
        float dx = p.x - t->pose.x;
        float dy = sp->mode == GV_SPATIAL_MODE_2D ? p.y - t->pose.y : p.z - t->pose.z;
        int x = cx + (int)lroundf(dx * sx), y = cy + (int)lroundf(dy * sy);
        int out = x <= left || x >= left + w - 1 || y <= top || y >= top + h - 1;
        if (out) {
            x = x <= left ? left + 1 : x >= left + w - 1 ? left + w - 2 : x;
            y = y <= top ? top + 1 : y >= top + h - 1 ? top + h - 2 : y;
        }
        mvaddch(y, x, mark_of(t->rows[i].id) | (t->rows[i].speaking ? A_BOLD | A_REVERSE : 0) | (out ? A_DIM : 0));
    }
    mvaddch(cy, cx, '@' | A_BOLD);
}

static const gv_peer_stats *peer_of(const gv_peer_stats *ps, int n, uint16_t id)
{
    for (int i = 0; i < n; i++)
        if (ps[i].id == id)
            return &ps[i];
    return NULL;
}

/* Name, speaking, loss, ping, the jitter buffer's delay, volume,
 * distance. */
static void draw_player(int y, int width, const tui *t, int i, gv_client *c, const gv_spatial_config *sp,
                        const gv_peer_stats *st)
{
    const row *r = &t->rows[i];
    char where[32] = "", figures[64] = "";
    gv_player_pose p;
    if (st) {
        /* Sent: what arrived, and what never did (lost but not late). */
        uint64_t expected = st->voice_packets + st->lost - (st->late < st->lost ? st->late : st->lost);
        snprintf(figures, sizeof figures, " loss %4.1f%% ping %3u ms delay %3.0f ms",
                 expected ? 100.0 * (double)st->lost / (double)expected : 0.0, (unsigned)st->rtt_ms,
                 st->playout_delay_ms);
    }
    if (sp->mode != GV_SPATIAL_MODE_OFF && c && gv_client_player_pose(c, r->id, &p) == 0) {
        float dx = p.x - t->pose.x, dy = p.y - t->pose.y;
        float dz = sp->mode == GV_SPATIAL_MODE_3D ? p.z - t->pose.z : 0.0f;
        snprintf(where, sizeof where, " at %.0f", sqrt((double)(dx * dx + dy * dy + dz * dz)));
    }
    /* Their level as they sent it, 6 dB a step from -48 dBov. */
    char meter[9] = "        ";
    for (int k = 0; st && k < 8 && st->level_db > -48.0f + 6.0f * (float)k; k++)
        meter[k] = '|';
    line_w(y, width, i == t->selected ? A_BOLD : 0, "%c%3u %-16.16s %-8s [%s] vol %3.0f%%%s%s%s%s",
           i == t->selected ? '>' : ' ', (unsigned)r->id, r->name, r->away ? "away" : r->speaking ? "speaking" : "",
           meter, (double)(r->volume * 100.0f), r->muted ? " MUTED" : "", r->muted_for_all ? " muted for all" : "",
           where, figures);
}

static void draw(tui *t, gv_client *c, const gv_spatial_config *sp)
{
    gv_peer_stats ps[MAX_ROWS];
    int rows = LINES, cols = COLS, n = 0;

    erase();
    if (rows < MIN_LINES || cols < MIN_COLS) {
        line_at(0, 0, "gvoip: %dx%d is too small,", cols, rows);
        line_at(1, 0, "%dx%d at least", MIN_COLS, MIN_LINES);
        line_at(2, 0, "(q quits)");
        refresh();
        return;
    }
    if (c) {
        ps[0].size = sizeof ps[0];
        n = gv_client_get_peer_stats(c, ps, MAX_ROWS);
        if (n < 0)
            n = 0;
    }
    if (t->lost)
        line_at(0, A_BOLD, "gvoip  not connected to %s", t->target);
    else if (!t->own_id)
        line_at(0, A_BOLD, "gvoip  connecting to %s ...", t->target);
    else if (t->interrupted && t->attempt)
        line_at(0, A_BOLD, "gvoip  %s (id %u): reconnecting to %s (attempt %d) ...", t->own_name,
                (unsigned)t->own_id, t->target, t->attempt);
    else if (t->interrupted)
        line_at(0, A_BOLD, "gvoip  %s (id %u): connection to %s interrupted, waiting ...", t->own_name,
                (unsigned)t->own_id, t->target);
    else
        line_at(0, 0, "gvoip  %s (id %u) on %s", t->own_name, (unsigned)t->own_id, t->target);
    line_at(1, 0, "you: %s%s%stransmit: %s%s", t->self_speaking ? "SPEAKING " : "", t->muted ? "MUTED " : "",
            t->deafened ? "DEAFENED " : "", mode_name(t->transmit_mode),
            t->transmit_mode == GV_TX_PUSH_TO_TALK ? (t->ptt ? " [TALKING]" : " [off]") : "");
    draw_meter(2, c ? gv_client_input_level_db(c) : -120.0f);
    int y = 3;
    if (t->moderated)
        line_at(y++, A_BOLD, "a moderator has muted you for everyone: nobody hears you");
    if (sp->mode != GV_SPATIAL_MODE_OFF) {
        char range[32] = "unlimited";
        if (sp->max_distance > 0.0f)
            snprintf(range, sizeof range, "%.0f", (double)sp->max_distance);
        line_at(y++, 0, "position %.1f, %.1f, %.1f  (%s, max distance %s)", (double)t->pose.x,
                (double)t->pose.y, (double)t->pose.z, sp->mode == GV_SPATIAL_MODE_2D ? "2D" : "3D", range);
    }
    /* From the bottom: the log (fewer lines on a short screen), the keys
     * (one line, or none on a very short one); the players get the rest. */
    int logs = rows >= 20 ? LOG_LINES : rows >= 14 ? 2 : 1;
    int keys = rows >= 14 ? 2 : rows >= 12 ? 1 : 0;
    int bottom = rows - logs - keys;
    int map = sp->mode != GV_SPATIAL_MODE_OFF && cols > MAP_LEFT + 12 && bottom - y > 6;
    /* The map keeps to the right edge, so a wide screen leaves the list room. */
    int map_w = cols - MAP_LEFT > 41 ? 41 : cols - MAP_LEFT, map_left = cols - map_w;
    int list_top = y, width = map ? map_left - 1 : cols;
    line_at(y++, 0, "players (%d):", t->row_count);
    int shown = 0;
    for (int i = 0; i < t->row_count; i++) {
        /* The library's settings win: a returning player's follow their name. */
        const gv_peer_stats *st = peer_of(ps, n, t->rows[i].id);
        if (st) {
            t->rows[i].volume = st->volume;
            t->rows[i].muted = st->muted;
        }
    }
    for (int i = 0; i < t->row_count && y < bottom; i++, y++, shown++)
        draw_player(y, width, t, i, c, sp, peer_of(ps, n, t->rows[i].id));
    if (shown < t->row_count)
        line_w(bottom - 1, width, 0, "  ... %d more (Tab selects them)", t->row_count - shown + 1);
    if (map) {
        int h = bottom - list_top;
        draw_map(t, c, sp, list_top, map_left, h > 21 ? 21 : h, map_w);
    }
    if (keys >= 1)
        line_at(bottom, 0, "keys: m mute  d deafen  space push-to-talk  t transmit mode  q quit");
    if (keys >= 2)
        line_at(bottom + 1, 0, "      Tab/id select player  +/- volume  x mute player  M mute for all%s",
                sp->mode != GV_SPATIAL_MODE_OFF ? "  arrows move" : "");
    for (int i = 0; i < logs && i < t->log_count; i++)
        line_at(bottom + keys + i, 0, "%s", t->log[t->log_count - (logs < t->log_count ? logs : t->log_count) + i]);
    refresh();
}

int tui_update(tui *t, gv_client *c)
{
    gv_spatial_config sp;
    int quit = 0, key;
    if (!c || gv_client_get_spatial(c, &sp) != 0)
        gv_spatial_config_default(&sp, GV_SPATIAL_MODE_OFF);
    while ((key = getch()) != ERR)
        apply_key(t, c, key, &sp, &quit);
    uint64_t now = clock_mono_ms();
    /* The level meter and the speaking marks change all the time: redraw
     * at a steady rate, sooner after a key. */
    if (t->dirty || now - t->last_draw_ms >= REDRAW_MS) {
        draw(t, c, &sp);
        t->last_draw_ms = now;
        t->dirty = 0;
    }
    return quit;
}
