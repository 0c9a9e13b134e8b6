#include "load_storm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <enet/enet.h>

#include "gvoip/error.h"
#include "packet/gv_msg.h"

#define SERVICE_INTERVAL_US 20000u
#define CONNECT_GIVE_UP_US 1000000u /* connect mode: forget an attempt after this */

typedef struct storm_host {
    ENetHost *host;
    ENetPeer *peer; /* NULL when idle */
    uint64_t started_us;
} storm_host;

struct load_storm {
    ENetAddress server;
    double rate;
    load_storm_mode mode;
    storm_host *hosts;
    int count, next;
    uint64_t last_us, last_service_us;
    double credit; /* attempts due; capped so idle time does not bank a burst */
    load_storm_report rep;
};

/* Counts cookie datagrams (ENet's compressed flag, which nobody here
 * uses) and drops them, as stock ENet without a decompressor would. */
static int count_cookie(ENetHost *host, ENetEvent *event)
{
    (void)event;
    load_storm *st = host->compressor.context;
    if (host->receivedDataLength >= 2 && (host->receivedData[0] << 8 & ENET_PROTOCOL_HEADER_FLAG_COMPRESSED)) {
        st->rep.cookies++;
        return 1;
    }
    return 0;
}

int load_storm_create(const char *host, uint16_t port, int addresses, double rate, load_storm_mode mode,
                      load_storm **out)
{
    ENetAddress server = {.port = port};
    if (!host || enet_address_set_host(&server, host) != 0 || addresses < 1 || addresses > 250 * 254 ||
        rate <= 0 || !out)
        return GV_EINVAL;
    load_storm *st = calloc(1, sizeof *st);
    if (!st || !(st->hosts = calloc((size_t)addresses, sizeof *st->hosts))) {
        free(st);
        return GV_ENOMEM;
    }
    st->server = server;
    st->rate = rate;
    st->mode = mode;
    st->rep.addresses = addresses;
    for (int i = 0; i < addresses; i++) {
        ENetAddress a = {.port = 0};
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.%d.%d", 1 + i / 254, 1 + i % 254);
        inet_pton(AF_INET, ip, &a.host);
        ENetHost *h = enet_host_create(&a, 1, GV_CH_COUNT, 0, 0);
        if (!h) {
            load_storm_destroy(st);
            return GV_ENET;
        }
        h->mtu = GV_MTU;
        h->checksum = enet_crc32;
        h->compressor.context = st;
        h->intercept = count_cookie;
        st->hosts[st->count++].host = h;
    }
    *out = st;
    return 0;
}

void load_storm_destroy(load_storm *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->count; i++) {
        st->hosts[i].host->compressor.context = NULL;
        enet_host_destroy(st->hosts[i].host);
    }
    free(st->hosts);
    free(st);
}

static void service(load_storm *st, storm_host *sh, uint64_t now_us)
{
    ENetEvent e;
    if (st->mode == LOAD_STORM_CONNECT) {
        /* Never answer: only look at the socket for cookies, and forget
         * the attempt after a while so the address can try again. */
        if (sh->peer && now_us - sh->started_us >= CONNECT_GIVE_UP_US) {
            enet_peer_reset(sh->peer);
            sh->peer = NULL;
        }
        return;
    }
    while (enet_host_service(sh->host, &e, 0) > 0) {
        if (e.type == ENET_EVENT_TYPE_CONNECT) {
            st->rep.established++;
        } else if (e.type == ENET_EVENT_TYPE_DISCONNECT) {
            st->rep.dropped++;
            sh->peer = NULL;
        } else if (e.type == ENET_EVENT_TYPE_RECEIVE) {
            enet_packet_destroy(e.packet);
        }
    }
}

/* Connect mode never lets ENet near the socket again (it would retransmit
 * and acknowledge); datagrams are read raw, and only cookies counted. */
static void drain_raw(load_storm *st, storm_host *sh)
{
    uint8_t buf[GV_MTU];
    ENetBuffer b = {.data = buf, .dataLength = sizeof buf};
    ENetAddress from;
    int n;
    while ((n = enet_socket_receive(sh->host->socket, &from, &b, 1)) > 0)
        if (n >= 2 && (buf[0] << 8 & ENET_PROTOCOL_HEADER_FLAG_COMPRESSED))
            st->rep.cookies++;
}

void load_storm_run(load_storm *st, uint64_t now_us)
{
    if (st->last_us) {
        double cap = st->rate * 0.05 > 1 ? st->rate * 0.05 : 1;
        st->credit += (double)(now_us - st->last_us) * st->rate / 1e6;
        if (st->credit > cap)
            st->credit = cap;
    } else {
        st->credit = 1;
    }
    st->last_us = now_us;
    for (int tries = 0; st->credit >= 1 && tries < st->count; tries++) {
        storm_host *sh = &st->hosts[st->next];
        st->next = (st->next + 1) % st->count;
        if (sh->peer)
            continue;
        sh->peer = enet_host_connect(sh->host, &st->server, GV_CH_COUNT, GV_PROTOCOL_VERSION);
        if (!sh->peer)
            continue;
        sh->started_us = now_us;
        st->rep.attempts++;
        st->credit -= 1;
        enet_host_flush(sh->host);
    }
    if (now_us - st->last_service_us < SERVICE_INTERVAL_US)
        return;
    st->last_service_us = now_us;
    for (int i = 0; i < st->count; i++) {
        if (st->mode == LOAD_STORM_CONNECT)
            drain_raw(st, &st->hosts[i]);
        service(st, &st->hosts[i], now_us);
    }
}

void load_storm_get_report(const load_storm *st, load_storm_report *out)
{
    *out = st->rep;
}
