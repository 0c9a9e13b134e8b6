/* The transport's peer timeouts and keepalive, on loopback with real
 * sockets. The timeout holds to the time set: a peer that goes silent (its side stops servicing, as a
 * blackout or a stopped process looks) is reported gone after the
 * timeout and well before ENet alone would say so (its check comes at
 * resends whose interval doubles: up to twice the timeout and a ping
 * interval late); a peer that keeps answering is never reported gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "mono.h"

#include "gvoip/gvoip.h"
#include "packet/gv_msg.h"
#include "session/gv_transport.h"

#define TIMEOUT_MS GV_TRANSPORT_TIMEOUT_MIN_MS

static uint64_t mono_ms(void)
{
    return mono_us() / 1000u;
}

/* Services t once; the event's type, or GV_TRANSPORT_NONE. */
static int step(gv_transport *t, int *peer)
{
    gv_transport_event ev;
    int rc = gv_transport_service(t, &ev, 5);
    assert_true(rc >= 0);
    if (rc > 0 && peer)
        *peer = ev.peer;
    return rc > 0 ? (int)ev.type : GV_TRANSPORT_NONE;
}

static void connect_pair(gv_transport **server, gv_transport **client)
{
    assert_int_equal(gv_transport_listen("127.0.0.1", 0, 4, server), 0);
    assert_int_equal(gv_transport_set_peer_timeout(*server, TIMEOUT_MS), 0);
    assert_int_equal(gv_transport_connect(NULL, "127.0.0.1", gv_transport_port(*server), 0, client), 0);
    assert_int_equal(gv_transport_set_peer_timeout(*client, 10000), 0);
    int up = 0, down = 0;
    for (uint64_t end = mono_ms() + 3000; mono_ms() < end && !(up && down);) {
        up |= step(*server, NULL) == GV_TRANSPORT_CONNECT;
        down |= step(*client, NULL) == GV_TRANSPORT_CONNECT;
    }
    assert_true(up && down);
}

static void test_silent_peer_goes_on_time(void **state)
{
    (void)state;
    gv_transport *server, *client;
    connect_pair(&server, &client);
    /* Both sides live for longer than the timeout: nobody leaves. */
    for (uint64_t end = mono_ms() + 2 * TIMEOUT_MS; mono_ms() < end;) {
        assert_int_not_equal(step(server, NULL), GV_TRANSPORT_DISCONNECT);
        assert_int_not_equal(step(client, NULL), GV_TRANSPORT_DISCONNECT);
    }
    /* The client falls silent. */
    uint64_t start = mono_ms(), gone = 0;
    int peer = -1;
    while (!gone && mono_ms() - start < 5000)
        if (step(server, &peer) == GV_TRANSPORT_DISCONNECT)
            gone = mono_ms();
    assert_true(gone != 0);
    /* Silence counts from the last acknowledgement, which a live idle
     * peer sends for a ping every half second: up to that much before
     * the client stopped. */
    uint64_t after = gone - start;
    if (after < TIMEOUT_MS - 600 || after > TIMEOUT_MS + 300)
        fail_msg("the silent peer was reported gone after %llu ms, timeout %u ms", (unsigned long long)after,
                 TIMEOUT_MS);
    assert_int_equal(peer, 0);
    assert_false(gv_transport_peer_connected(server, 0));
    gv_transport_destroy(client);
    gv_transport_destroy(server);
}

/* A peer whose datagrams the caller authenticates (as voice) is known to be
 * alive without ENet's keepalive: while both sides hear each other that
 * way, neither sends ENet anything, for seconds past the ping interval.
 * The silence that ends the peer still counts from the last datagram. */
static void test_heard_peer_needs_no_ping(void **state)
{
    (void)state;
    gv_transport *server, *client;
    connect_pair(&server, &client);
    /* Let the connection's own traffic settle (ENet tells the bandwidth
     * limits, reliably, a second after connecting). */
    for (uint64_t end = mono_ms() + 1300; mono_ms() < end;) {
        step(server, NULL);
        step(client, NULL);
    }
    /* Counted from 200 ms in: an acknowledgement of a ping sent just
     * before may still be on its way. */
    uint64_t out_server = 0, out_client = 0, begin = mono_ms();
    for (int counting = 0; mono_ms() - begin < 2200;) {
        if (!counting && mono_ms() - begin >= 200) {
            counting = 1;
            out_server = gv_transport_get_stats(server)->datagrams_out;
            out_client = gv_transport_get_stats(client)->datagrams_out;
        }
        gv_transport_peer_heard(server, 0);
        gv_transport_peer_heard(client, 0);
        step(server, NULL);
        step(client, NULL);
        assert_true(gv_transport_peer_silent_ms(server, 0) < 100);
    }
    assert_int_equal(gv_transport_get_stats(server)->datagrams_out - out_server, 0);
    assert_int_equal(gv_transport_get_stats(client)->datagrams_out - out_client, 0);
    /* Without it, the pings resume within their interval. */
    for (uint64_t end = mono_ms() + 800; mono_ms() < end;) {
        step(server, NULL);
        step(client, NULL);
    }
    assert_true(gv_transport_get_stats(client)->datagrams_out > out_client);
    /* The client falls silent: gone after the timeout, counted from the
     * last thing heard. */
    uint64_t start = mono_ms(), gone = 0;
    while (!gone && mono_ms() - start < 5000)
        if (step(server, NULL) == GV_TRANSPORT_DISCONNECT)
            gone = mono_ms();
    assert_true(gone != 0 && gone - start <= TIMEOUT_MS + 300);
    /* Nothing to refresh for a peer that is not there. */
    gv_transport_peer_heard(server, 0);
    gv_transport_peer_heard(server, -1);
    gv_transport_peer_heard(server, 99);
    assert_false(gv_transport_peer_connected(server, 0));
    gv_transport_destroy(client);
    gv_transport_destroy(server);
}

int main(void)
{
    assert_int_equal(gv_init(), GV_OK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_silent_peer_goes_on_time),
        cmocka_unit_test(test_heard_peer_needs_no_ping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
