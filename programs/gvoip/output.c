#include "output.h"

#include <stdarg.h>
#include <string.h>

void output_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* A server's events about players name the lobby, unless it is the
 * default one: one lobby's server prints what it always did. */
static void json_lobby(FILE *o, const gv_event *ev)
{
    if (!ev->lobby[0])
        return;
    fputs(",\"lobby\":", o);
    output_json_string(o, ev->lobby);
}

static const char *in_lobby(const gv_event *ev, char *buf, size_t len)
{
    if (!ev->lobby[0])
        return "";
    snprintf(buf, len, " in lobby %s", ev->lobby);
    return buf;
}

/* A server's LISTENING: one port (ports NULL), or n workers' ports;
 * metrics_port > 0: where --metrics listens, at the end of the line. */
static void listening_json(const gv_event *ev, const int *ports, int n, int metrics_port)
{
    FILE *o = stdout;
    fprintf(o, "{\"event\":\"listening\",\"port\":%u", ports ? (unsigned)ports[0] : (unsigned)ev->port);
    if (ports) {
        fputs(",\"ports\":[", o);
        for (int i = 0; i < n; i++)
            fprintf(o, "%s%d", i ? "," : "", ports[i]);
        fputc(']', o);
    }
    fputs(",\"fingerprint\":", o);
    output_json_string(o, ev->fingerprint);
    fprintf(o, ",\"key_created\":%s", ev->first_use ? "true" : "false");
    if (metrics_port > 0)
        fprintf(o, ",\"metrics_port\":%d", metrics_port);
    fputs("}\n", o);
}

static void listening_human(const gv_event *ev, const int *ports, int n, int metrics_port)
{
    FILE *o = stdout;
    if (ports) {
        fputs("listening on UDP ports", o);
        for (int i = 0; i < n; i++)
            fprintf(o, "%s%d", i ? ", " : " ", ports[i]);
        fprintf(o, " (%d worker threads; players join on %d)\n", n, ports[0]);
    } else {
        fprintf(o, "listening on UDP port %u\n", (unsigned)ev->port);
    }
    fprintf(o, "server key %s%s\n", ev->fingerprint, ev->first_use ? " (new key created)" : "");
    if (metrics_port > 0)
        fprintf(o, "metrics on TCP port %d (GET /metrics, /healthz)\n", metrics_port);
}

static void json_event(const gv_event *ev)
{
    FILE *o = stdout;
    switch (ev->type) {
    case GV_EVENT_LISTENING:
        listening_json(ev, NULL, 0, 0);
        break;
    case GV_EVENT_CONNECTED:
    case GV_EVENT_PLAYER_CONNECTED:
        fprintf(o, "{\"event\":\"%s\",\"id\":%u,\"name\":",
                ev->type == GV_EVENT_CONNECTED ? "connected" : "player_connected", (unsigned)ev->id);
        output_json_string(o, ev->name);
        json_lobby(o, ev);
        fputs("}\n", o);
        break;
    case GV_EVENT_PLAYER_DISCONNECTED:
        fprintf(o, "{\"event\":\"player_disconnected\",\"id\":%u,\"name\":", (unsigned)ev->id);
        output_json_string(o, ev->name);
        json_lobby(o, ev);
        if (ev->reason[0]) {
            fputs(",\"reason\":", o);
            output_json_string(o, ev->reason);
        }
        fputs("}\n", o);
        break;
    case GV_EVENT_SERVER_DISCONNECTED:
        fputs("{\"event\":\"server_disconnected\",\"reason\":", o);
        output_json_string(o, ev->reason);
        fputs("}\n", o);
        break;
    case GV_EVENT_CONNECTION_FAILED:
        fputs("{\"event\":\"connection_failed\",\"reason\":", o);
        output_json_string(o, ev->reason);
        if (ev->known_fingerprint[0]) {
            fputs(",\"server_key\":", o);
            output_json_string(o, ev->fingerprint);
            fputs(",\"expected_key\":", o);
            output_json_string(o, ev->known_fingerprint);
        }
        fputs("}\n", o);
        break;
    case GV_EVENT_SERVER_KEY:
        fputs("{\"event\":\"server_key\",\"fingerprint\":", o);
        output_json_string(o, ev->fingerprint);
        if (ev->known_fingerprint[0]) { /* the fleet key that vouched for it */
            fputs(",\"fleet_key\":", o);
            output_json_string(o, ev->known_fingerprint);
        }
        fprintf(o, ",\"first_use\":%s}\n", ev->first_use ? "true" : "false");
        break;
    case GV_EVENT_SPEAKING:
        fprintf(o, "{\"event\":\"speaking\",\"id\":%u,\"on\":%s,\"name\":", (unsigned)ev->id,
                ev->on ? "true" : "false");
        output_json_string(o, ev->name);
        fputs("}\n", o);
        break;
    case GV_EVENT_CONNECTION_INTERRUPTED:
        fputs("{\"event\":\"connection_interrupted\",\"reason\":", o);
        output_json_string(o, ev->reason);
        fputs("}\n", o);
        break;
    case GV_EVENT_CONNECTION_RESTORED:
        fputs("{\"event\":\"connection_restored\"}\n", o);
        break;
    case GV_EVENT_RECONNECTING:
        fprintf(o, "{\"event\":\"reconnecting\",\"attempt\":%d,\"retry_ms\":%u,\"reason\":", ev->attempt,
                (unsigned)ev->retry_ms);
        output_json_string(o, ev->reason);
        fputs("}\n", o);
        break;
    case GV_EVENT_RECONNECTED:
        fprintf(o, "{\"event\":\"reconnected\",\"resumed\":%s,\"id\":%u,\"name\":", ev->resumed ? "true" : "false",
                (unsigned)ev->id);
        output_json_string(o, ev->name);
        fputs("}\n", o);
        break;
    case GV_EVENT_PLAYER_RECONNECTING:
    case GV_EVENT_PLAYER_RECONNECTED:
        fprintf(o, "{\"event\":\"%s\",\"id\":%u,\"name\":",
                ev->type == GV_EVENT_PLAYER_RECONNECTING ? "player_reconnecting" : "player_reconnected",
                (unsigned)ev->id);
        output_json_string(o, ev->name);
        json_lobby(o, ev);
        fputs("}\n", o);
        break;
    case GV_EVENT_LOBBY_OPENED:
    case GV_EVENT_LOBBY_CLOSED:
        fprintf(o, "{\"event\":\"%s\",\"lobby\":", ev->type == GV_EVENT_LOBBY_OPENED ? "lobby_opened" : "lobby_closed");
        output_json_string(o, ev->lobby);
        fputs("}\n", o);
        break;
    case GV_EVENT_MUTED_BY_MODERATOR:
        fprintf(o, "{\"event\":\"muted_by_moderator\",\"on\":%s,\"id\":%u}\n", ev->on ? "true" : "false",
                (unsigned)ev->id);
        break;
    case GV_EVENT_PLAYER_MUTED_FOR_ALL:
        fprintf(o, "{\"event\":\"player_muted_for_all\",\"on\":%s,\"id\":%u,\"name\":", ev->on ? "true" : "false",
                (unsigned)ev->id);
        output_json_string(o, ev->name);
        json_lobby(o, ev);
        fputs("}\n", o);
        break;
    case GV_EVENT_NONE:
        break;
    }
}

static void human_event(const gv_event *ev)
{
    FILE *o = stdout;
    char lb[GV_LOBBY_NAME_BYTES + 16];
    switch (ev->type) {
    case GV_EVENT_LISTENING:
        listening_human(ev, NULL, 0, 0);
        break;
    case GV_EVENT_CONNECTED:
        fprintf(o, "joined as %s (id %u)\n", ev->name, (unsigned)ev->id);
        break;
    case GV_EVENT_PLAYER_CONNECTED:
        fprintf(o, "%s (id %u) is here%s\n", ev->name, (unsigned)ev->id, in_lobby(ev, lb, sizeof lb));
        break;
    case GV_EVENT_PLAYER_DISCONNECTED:
        fprintf(o, "%s (id %u) left%s%s%s\n", ev->name, (unsigned)ev->id, in_lobby(ev, lb, sizeof lb),
                ev->reason[0] ? ": " : "", ev->reason);
        break;
    case GV_EVENT_SERVER_DISCONNECTED:
        fprintf(o, "disconnected from the server: %s\n", ev->reason);
        break;
    case GV_EVENT_CONNECTION_FAILED:
        fprintf(o, "could not join: %s\n", ev->reason);
        break;
    case GV_EVENT_SERVER_KEY:
        if (ev->first_use && ev->known_fingerprint[0])
            fprintf(o, "first connection to this server's fleet; the fleet's key %s is now remembered (this node's "
                       "key is %s)\n",
                    ev->known_fingerprint, ev->fingerprint);
        else if (ev->first_use)
            fprintf(o, "first connection to this server; its key %s is now remembered\n", ev->fingerprint);
        break;
    case GV_EVENT_SPEAKING:
        if (ev->name[0])
            fprintf(o, "%s (id %u) %s\n", ev->name, (unsigned)ev->id, ev->on ? "is speaking" : "stopped speaking");
        else
            fprintf(o, "you %s\n", ev->on ? "are speaking" : "stopped speaking");
        break;
    case GV_EVENT_CONNECTION_INTERRUPTED:
        fprintf(o, "connection interrupted: %s\n", ev->reason);
        break;
    case GV_EVENT_CONNECTION_RESTORED:
        fputs("connection restored\n", o);
        break;
    case GV_EVENT_RECONNECTING:
        fprintf(o, "reconnecting (attempt %d, next in %.1f s): %s\n", ev->attempt, ev->retry_ms / 1000.0, ev->reason);
        break;
    case GV_EVENT_RECONNECTED:
        if (ev->resumed)
            fprintf(o, "reconnected as %s (id %u), same session\n", ev->name, (unsigned)ev->id);
        else
            fprintf(o, "reconnected as %s (id %u); the server had restarted, so everyone rejoins\n", ev->name,
                    (unsigned)ev->id);
        break;
    case GV_EVENT_PLAYER_RECONNECTING:
        fprintf(o, "%s (id %u)%s lost the connection; waiting for them\n", ev->name, (unsigned)ev->id,
                in_lobby(ev, lb, sizeof lb));
        break;
    case GV_EVENT_PLAYER_RECONNECTED:
        fprintf(o, "%s (id %u)%s is back\n", ev->name, (unsigned)ev->id, in_lobby(ev, lb, sizeof lb));
        break;
    case GV_EVENT_LOBBY_OPENED:
        fprintf(o, "lobby %s opened\n", ev->lobby[0] ? ev->lobby : "(default)");
        break;
    case GV_EVENT_LOBBY_CLOSED:
        fprintf(o, "lobby %s closed\n", ev->lobby[0] ? ev->lobby : "(default)");
        break;
    case GV_EVENT_MUTED_BY_MODERATOR:
        fputs(ev->on ? "a moderator muted you for everyone\n" : "a moderator unmuted you\n", o);
        break;
    case GV_EVENT_PLAYER_MUTED_FOR_ALL:
        fprintf(o, "%s (id %u)%s was %s for everyone by a moderator\n", ev->name, (unsigned)ev->id,
                in_lobby(ev, lb, sizeof lb), ev->on ? "muted" : "unmuted");
        break;
    case GV_EVENT_NONE:
        break;
    }
}

/* A server's workers print from their own threads: each event goes out
 * whole (stdio's lock is recursive, so what it calls may take it too). */
void output_event(const gv_event *ev, int json)
{
    flockfile(stdout);
    if (json)
        json_event(ev);
    else
        human_event(ev);
    fflush(stdout);
    funlockfile(stdout);
}

void output_listening(const gv_event *ev, const int *ports, int n, int metrics_port, int json)
{
    /* One port is how a single server has always said it. */
    if (n == 1)
        ports = NULL;
    flockfile(stdout);
    if (json)
        listening_json(ev, ports, n, metrics_port);
    else
        listening_human(ev, ports, n, metrics_port);
    fflush(stdout);
    funlockfile(stdout);
}

void output_encoder(const gv_client_stats *st, unsigned long long t_ms)
{
    printf("{\"event\":\"encoder\",\"expected_loss_pct\":%d,\"redundancy\":%s,\"bitrate\":%d,\"t_ms\":%llu}\n",
           st->expected_loss_pct, st->redundancy ? "true" : "false", st->bitrate, t_ms);
    fflush(stdout);
}

void output_error(int json, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (json) {
        flockfile(stdout);
        fputs("{\"event\":\"error\",\"reason\":", stdout);
        output_json_string(stdout, text);
        fputs("}\n", stdout);
        fflush(stdout);
        funlockfile(stdout);
    }
    fprintf(stderr, "gvoip: %s\n", text);
}

static const char *direction(const audio_event *ev)
{
    return ev->capture ? "capture" : "playback";
}

void output_device_sentence(const audio_event *ev, char *text, size_t len)
{
    if (ev->lost)
        snprintf(text, len, "lost the %s device \"%s\": %s", direction(ev), ev->name, ev->reason);
    else if (ev->fallback)
        snprintf(text, len, "%s on \"%s\", the default, until the device chosen is back", direction(ev), ev->name);
    else
        snprintf(text, len, "%s on \"%s\"", direction(ev), ev->name);
}

void output_device_event(const audio_event *ev, int json)
{
    if (json) {
        printf("{\"event\":\"%s\",\"device\":\"%s\",\"name\":", ev->lost ? "device_lost" : "device_changed",
               direction(ev));
        output_json_string(stdout, ev->name);
        if (ev->lost) {
            fputs(",\"reason\":", stdout);
            output_json_string(stdout, ev->reason);
            fputs("}\n", stdout);
        } else {
            printf(",\"fallback\":%s}\n", ev->fallback ? "true" : "false");
        }
    } else {
        char text[600];
        output_device_sentence(ev, text, sizeof text);
        printf("%s\n", text);
    }
    fflush(stdout);
}

void output_device_listed(int json, int change, const char *device, const char *name)
{
    if (json) {
        printf("{\"event\":\"%s\",\"device\":\"%s\",\"name\":",
               change > 0 ? "device_added" : change < 0 ? "device_removed" : "device", device);
        output_json_string(stdout, name);
        fputs("}\n", stdout);
    } else {
        printf("%c %s ", change > 0 ? '+' : change < 0 ? '-' : ' ', device);
        output_json_string(stdout, name);
        fputc('\n', stdout);
    }
    fflush(stdout);
}
