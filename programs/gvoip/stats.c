#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

/* Each open lobby of s, in the order they opened, as one object of the
 * "lobbies" list (first: none written before it). */
static void lobby_entries(FILE *f, const gv_server *s, int open, int *first)
{
    gv_lobby_stats *lb = open > 0 ? calloc((size_t)open, sizeof *lb) : NULL;
    int n = 0;
    if (lb) {
        lb[0].size = sizeof *lb;
        n = gv_server_get_lobby_stats(s, lb, open);
    }
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"name\":", *first ? "" : ",");
        *first = 0;
        output_json_string(f, lb[i].name);
        fprintf(f,
                ",\"players\":%d,\"away\":%d,\"max_players\":%d,\"relayed_packets\":%llu,\"culled_packets\":%llu,"
                "\"talkers_limited\":%llu,\"listen_only_dropped\":%llu,\"joined\":%llu,\"open_ms\":%llu}",
                lb[i].players, lb[i].away, lb[i].max_players, (unsigned long long)lb[i].relayed_packets,
                (unsigned long long)lb[i].culled_packets, (unsigned long long)lb[i].talkers_limited,
                (unsigned long long)lb[i].listen_only_dropped, (unsigned long long)lb[i].joined,
                (unsigned long long)lb[i].open_ms);
    }
    free(lb);
}

/* The counters of a server, or of a server's workers added up. */
static void counter_fields(FILE *f, const gv_server_stats *st)
{
    fprintf(f,
            "\"relayed_packets\":%llu,\"datagrams_in\":%llu,\"datagrams_out\":%llu,\"bytes_in\":%llu,"
            "\"bytes_out\":%llu,\"malformed\":%llu,\"auth_failed\":%llu,\"replayed\":%llu,\"over_budget\":%llu,"
            "\"handshakes\":%llu,\"refused\":%llu,\"culled_packets\":%llu,\"positions_relayed\":%llu,\"rebinds\":%llu,"
            "\"resumed\":%llu,\"talkers_limited\":%llu,\"players\":%d,\"away\":%d",
            (unsigned long long)st->relayed_packets, (unsigned long long)st->datagrams_in,
            (unsigned long long)st->datagrams_out, (unsigned long long)st->bytes_in, (unsigned long long)st->bytes_out,
            (unsigned long long)st->malformed, (unsigned long long)st->auth_failed, (unsigned long long)st->replayed,
            (unsigned long long)st->over_budget, (unsigned long long)st->handshakes, (unsigned long long)st->refused,
            (unsigned long long)st->culled_packets, (unsigned long long)st->positions_relayed,
            (unsigned long long)st->rebinds, (unsigned long long)st->resumed, (unsigned long long)st->talkers_limited,
            st->players, st->away);
    fprintf(f,
            ",\"lobbies_opened\":%llu,\"lobbies_closed\":%llu,\"token_missing\":%llu,"
            "\"token_malformed\":%llu,\"token_unknown_key\":%llu,\"token_bad_signature\":%llu,"
            "\"token_expired\":%llu,\"token_in_use\":%llu,\"token_wrong_lobby\":%llu,\"listen_only_dropped\":%llu,"
            "\"redirects\":%llu",
            (unsigned long long)st->lobbies_opened, (unsigned long long)st->lobbies_closed,
            (unsigned long long)st->token_missing, (unsigned long long)st->token_malformed,
            (unsigned long long)st->token_unknown_key, (unsigned long long)st->token_bad_signature,
            (unsigned long long)st->token_expired, (unsigned long long)st->token_in_use,
            (unsigned long long)st->token_wrong_lobby, (unsigned long long)st->listen_only_dropped,
            (unsigned long long)st->redirects);
    static const uint32_t bounds[GV_RELAY_LATENCY_BUCKETS - 1] = GV_RELAY_LATENCY_BOUNDS_US;
    fputs(",\"relay_latency\":{\"upper_us\":[", f);
    for (int i = 0; i < GV_RELAY_LATENCY_BUCKETS - 1; i++)
        fprintf(f, "%u,", (unsigned)bounds[i]);
    fputs("null],\"packets\":[", f);
    for (int i = 0; i < GV_RELAY_LATENCY_BUCKETS; i++)
        fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)st->relay_latency_us[i]);
    fprintf(f, "],\"sum_us\":%llu}", (unsigned long long)st->relay_latency_sum_us);
}

static void server_fields(FILE *f, const gv_server *s)
{
    gv_server_stats st = {.size = sizeof st};
    gv_server_get_stats(s, &st);
    counter_fields(f, &st);
    int first = 1;
    fputs(",\"lobbies\":[", f);
    lobby_entries(f, s, st.lobbies, &first);
    fputc(']', f);
}

void stats_add(gv_server_stats *a, const gv_server_stats *b)
{
    uint64_t *const sums[] = {&a->relayed_packets, &a->datagrams_in, &a->datagrams_out, &a->bytes_in,
                              &a->bytes_out, &a->malformed, &a->auth_failed, &a->replayed, &a->over_budget,
                              &a->handshakes, &a->refused, &a->culled_packets, &a->positions_relayed,
                              &a->events_dropped, &a->rebinds, &a->resumed, &a->talkers_limited,
                              &a->lobbies_opened, &a->lobbies_closed, &a->token_missing, &a->token_malformed,
                              &a->token_unknown_key, &a->token_bad_signature, &a->token_expired, &a->token_in_use,
                              &a->token_wrong_lobby, &a->listen_only_dropped, &a->redirects};
    const uint64_t *const adds[] = {&b->relayed_packets, &b->datagrams_in, &b->datagrams_out, &b->bytes_in,
                                    &b->bytes_out, &b->malformed, &b->auth_failed, &b->replayed, &b->over_budget,
                                    &b->handshakes, &b->refused, &b->culled_packets, &b->positions_relayed,
                                    &b->events_dropped, &b->rebinds, &b->resumed, &b->talkers_limited,
                                    &b->lobbies_opened, &b->lobbies_closed, &b->token_missing, &b->token_malformed,
                                    &b->token_unknown_key, &b->token_bad_signature, &b->token_expired,
                                    &b->token_in_use, &b->token_wrong_lobby, &b->listen_only_dropped, &b->redirects};
    _Static_assert(sizeof sums == sizeof adds, "every counter added");
    for (size_t i = 0; i < sizeof sums / sizeof sums[0]; i++)
        *sums[i] += *adds[i];
    if (b->max_datagram_bytes > a->max_datagram_bytes)
        a->max_datagram_bytes = b->max_datagram_bytes;
    for (int i = 0; i < GV_RELAY_LATENCY_BUCKETS; i++)
        a->relay_latency_us[i] += b->relay_latency_us[i];
    a->relay_latency_sum_us += b->relay_latency_sum_us;
    a->players += b->players;
    a->away += b->away;
    a->lobbies += b->lobbies;
}

static int finish(FILE *f, const char *path)
{
    if (fclose(f) != 0) {
        output_error(0, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int stats_check(const char *path)
{
    /* Opened for appending, so an existing file keeps its contents until
     * the session ends and writes it whole. */
    FILE *f = fopen(path, "a");
    if (!f || fclose(f) != 0) {
        output_error(0, "cannot write the --stats file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int stats_write_workers(const char *path, gv_server *const *servers, const double *cpu_s, int n)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        output_error(0, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    gv_server_stats sum = {.size = sizeof sum}, each[GV_DIRECTORY_WORKERS_MAX];
    for (int i = 0; i < n; i++) {
        each[i] = (gv_server_stats){.size = sizeof each[i]};
        gv_server_get_stats(servers[i], &each[i]);
        stats_add(&sum, &each[i]);
    }
    fputc('{', f);
    counter_fields(f, &sum);
    fputs(",\"workers\":[", f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s{\"port\":%d,\"players\":%d,\"lobbies\":%d,\"relayed_packets\":%llu,\"cpu_s\":%.3f}",
                i ? "," : "", gv_server_port(servers[i]), each[i].players, each[i].lobbies,
                (unsigned long long)each[i].relayed_packets, cpu_s[i]);
    fputs("],\"lobbies\":[", f);
    int first = 1;
    for (int i = 0; i < n; i++)
        lobby_entries(f, servers[i], each[i].lobbies, &first);
    fputs("]}\n", f);
    return finish(f, path);
}

int stats_write_server(const char *path, const gv_server *server)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        output_error(0, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fputc('{', f);
    server_fields(f, server);
    fputs("}\n", f);
    return finish(f, path);
}

static void device_fields(FILE *f, const char *name, const audio_io *io, int capture)
{
    audio_io_device_stats d;
    audio_io_get_device_stats(io, capture, &d);
    fprintf(f, "\"%s\":", name);
    if (!d.open) {
        fputs("null", f);
        return;
    }
    fprintf(f, "{\"backend\":\"%s\",\"rate\":%d,\"channels\":%d,\"buffer_ms\":%.2f,\"latency_ms\":", d.backend,
            d.rate, d.channels, d.buffer_ms);
    if (d.latency_ms < 0)
        fputs("null", f);
    else
        fprintf(f, "%.2f", d.latency_ms);
    fprintf(f, ",\"underruns\":%llu,\"overruns\":%llu,\"buffer_grown\":%llu,\"buffer_shortened\":%llu,\"realtime\":%s}",
            (unsigned long long)d.underruns, (unsigned long long)d.overruns, (unsigned long long)d.grown,
            (unsigned long long)d.shortened, d.realtime < 0 ? "null" : d.realtime ? "true" : "false");
}

static void print_unix_ms(FILE *f, long long ms)
{
    if (ms < 0)
        fputs("null", f);
    else
        fprintf(f, "%lld", ms);
}

int stats_write_client(const char *path, const gvoip_options *opt, const gv_client *client, const audio_io *io,
                       const gv_server *server)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        output_error(0, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    gv_client_stats st = {.size = sizeof st};
    gv_client_get_stats(client, &st);
    gv_peer_stats *peers = calloc(GV_DEFAULT_MAX_PLAYERS * 8, sizeof *peers);
    if (peers)
        peers[0].size = sizeof *peers;
    int n = peers ? gv_client_get_peer_stats(client, peers, GV_DEFAULT_MAX_PLAYERS * 8) : 0;
    fprintf(f, "{\"id\":%d,\"name\":", gv_client_id(client));
    output_json_string(f, opt->client.name);
    fprintf(f, ",\"codec\":\"%s\",\"bitrate\":%d,\"frame_ms\":%d,\"input_start_unix_ms\":",
            opt->client.codec == GV_CODEC_RAW ? "raw" : "opus", opt->client.bitrate, opt->client.frame_ms);
    print_unix_ms(f, io ? (long long)audio_io_input_start_unix_ms(io) : -1);
    fputs(",\"record_start_unix_ms\":", f);
    print_unix_ms(f, io ? (long long)audio_io_record_start_unix_ms(io) : -1);
    fprintf(f,
            ",\"sent\":{\"voice_packets\":%llu,\"voice_payload_bytes\":%llu,\"datagrams\":%llu,"
            "\"wire_bytes\":%llu,\"max_datagram_bytes\":%llu,\"seconds\":%.3f,\"expected_loss_pct\":%d,"
            "\"redundancy\":%s,\"bitrate\":%d,\"redundant_packets\":%llu,\"dtx_frames\":%llu}",
            (unsigned long long)st.voice_packets, (unsigned long long)st.voice_payload_bytes,
            (unsigned long long)st.datagrams, (unsigned long long)st.wire_bytes,
            (unsigned long long)st.max_datagram_bytes, st.seconds, st.expected_loss_pct,
            st.redundancy ? "true" : "false", st.bitrate, (unsigned long long)st.redundant_packets,
            (unsigned long long)st.dtx_frames);
    fprintf(f, ",\"malformed\":%llu,\"auth_failed\":%llu,\"replayed\":%llu,\"join_retries\":%llu,\"cipher\":\"%s\","
            "\"playout_dropped\":%llu,\"rtt_ms\":%u,\"devices\":{",
            (unsigned long long)st.malformed, (unsigned long long)st.auth_failed, (unsigned long long)st.replayed,
            (unsigned long long)st.join_retries, st.cipher, (unsigned long long)st.playout_dropped,
            (unsigned)st.rtt_ms);
    device_fields(f, "capture", io, 1);
    fputc(',', f);
    device_fields(f, "playback", io, 0);
    fprintf(f, "},\"input\":{\"echo_cancel\":%s,\"noise_suppression\":%s,\"auto_gain\":%s,\"echo_delay_ms\":%.1f,"
               "\"echo_erle_db\":%.1f,\"agc_gain_db\":%.1f",
            opt->client.echo_cancel != GV_ECHO_CANCEL_OFF && audio_io_echo_path(io) ? "true" : "false",
            opt->client.noise_suppression ? "true" : "false", opt->client.auto_gain ? "true" : "false",
            st.echo_delay_ms, st.echo_erle_db, st.agc_gain_db);
    fputs("},\"peers\":[", f);
    for (int i = 0; i < n; i++) {
        const gv_peer_stats *p = &peers[i];
        fprintf(f, "%s{\"id\":%u,\"name\":", i ? "," : "", (unsigned)p->id);
        output_json_string(f, p->name);
        fprintf(f,
                ",\"voice_packets\":%llu,\"lost\":%llu,\"late\":%llu,\"duplicates\":%llu,\"fec_recovered\":%llu,"
                "\"redundant_recovered\":%llu,\"concealed_frames\":%llu,\"jitter_ms\":%.2f,\"playout_delay_ms\":%.2f,"
                "\"shortened_frames\":%llu,\"shortened_ms\":%.1f,\"lengthened_frames\":%llu,\"lengthened_ms\":%.1f,"
                "\"rtt_ms\":%u}",
                (unsigned long long)p->voice_packets, (unsigned long long)p->lost, (unsigned long long)p->late,
                (unsigned long long)p->duplicates, (unsigned long long)p->fec_recovered,
                (unsigned long long)p->redundant_recovered, (unsigned long long)p->concealed_frames, p->jitter_ms,
                p->playout_delay_ms, (unsigned long long)p->shortened_frames, p->shortened_ms,
                (unsigned long long)p->lengthened_frames, p->lengthened_ms, (unsigned)p->rtt_ms);
    }
    fputc(']', f);
    if (server) {
        fputs(",\"server\":{", f);
        server_fields(f, server);
        fputc('}', f);
    }
    fputs("}\n", f);
    free(peers);
    return finish(f, path);
}
