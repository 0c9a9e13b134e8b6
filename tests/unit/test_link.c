/* The handshake's ephemeral keys as the real client (gv_link) and the real
 * server (gv_server) draw them, on loopback: a game that hands in a
 * constant gv_random must still get a fresh key per connection, because
 * gv_random is for nothing secret (gvoip/platform.h). The other side of
 * each exchange is a bare gvoip transport that captures the handshake
 * message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mono.h"
#include <sodium.h>

#include "gvoip/gvoip.h"
#include "packet/gv_msg.h"
#include "session/gv_fleetcert.h"
#include "session/gv_link.h"
#include "session/gv_noise.h"
#include "session/gv_session.h"
#include "session/gv_transport.h"

#define DEADLINE_US 5000000ull
#define CONSTANT 0x42

/* The worst generator a game could pass; it is fine for what gv_random
 * is for. */
static void constant_fill(void *ctx, void *buf, size_t len)
{
    int *calls = ctx;
    (*calls)++;
    memset(buf, CONSTANT, len);
}

/* The key a secret drawn from the constant generator would give. */
static void constant_public(uint8_t pk[32])
{
    uint8_t sk[32];
    memset(sk, CONSTANT, sizeof sk);
    assert_int_equal(crypto_scalarmult_base(pk, sk), 0);
}

/* Services t for up to 5 ms; 1 with *out filled when a packet of the given
 * type arrived on the control channel (type byte and 32 key bytes). */
static int take_handshake(gv_transport *t, uint8_t type, uint8_t out[32])
{
    gv_transport_event e;
    int got = 0;
    for (int rc = gv_transport_service(t, &e, 5); rc > 0; rc = gv_transport_service(t, &e, 0)) {
        if (e.type != GV_TRANSPORT_RECEIVE)
            continue;
        if (!got && e.channel == GV_CH_CONTROL && e.len >= 33 && e.packet[0] == type) {
            memcpy(out, e.packet + 1, 32);
            got = 1;
        }
    }
    return got;
}

/* The ephemeral public key in the HANDSHAKE_INIT of a client whose
 * gv_random is constant. */
static void client_ephemeral(gv_transport *server, int *calls, uint8_t e_pub[32])
{
    gv_client_config cfg;
    gv_client_config_default(&cfg);
    cfg.server_host = "127.0.0.1";
    cfg.server_port = gv_transport_port(server);
    cfg.name = "p";
    cfg.known_servers_file = "";
    cfg.random = (gv_random){constant_fill, calls};
    gv_link *l = NULL;
    static gv_event_queue events; /* the link's stream, which nobody reads here */
    assert_int_equal(gv_link_create(&cfg, 0, &events, NULL, &l), GV_OK);
    int got = 0;
    for (uint64_t end = mono_us() + DEADLINE_US; !got && mono_us() < end;) {
        assert_true(gv_link_service(l, 0) >= 0);
        got = take_handshake(server, GV_HANDSHAKE_INIT, e_pub);
    }
    assert_true(got);
    gv_link_destroy(l);
}

static void test_client_ephemeral_not_from_gv_random(void **state)
{
    (void)state;
    gv_transport *server = NULL;
    uint8_t e[2][32], weak[32];
    int calls = 0;
    assert_int_equal(gv_transport_listen("127.0.0.1", 0, 4, &server), GV_OK);
    client_ephemeral(server, &calls, e[0]);
    client_ephemeral(server, &calls, e[1]);
    gv_transport_destroy(server);

    constant_public(weak);
    assert_memory_not_equal(e[0], e[1], 32);
    assert_memory_not_equal(e[0], weak, 32);
    assert_memory_not_equal(e[1], weak, 32);
    /* The generator was in use (the retry timer), just not for the keys. */
    assert_true(calls >= 2);
}

/* The ephemeral public key in a server's HANDSHAKE_RESP to a client of
 * our own making. */
static void server_ephemeral(gv_server *s, uint8_t e_pub[32])
{
    gv_transport *t = NULL;
    gv_noise *noise = NULL;
    assert_int_equal(gv_transport_connect(NULL, "127.0.0.1", (uint16_t)gv_server_port(s), GV_PROTOCOL_VERSION, &t),
                     GV_OK);
    int got = 0;
    for (uint64_t end = mono_us() + DEADLINE_US; !got && mono_us() < end;) {
        gv_event ev = {.size = sizeof ev};
        assert_true(gv_server_service(s, &ev, 0) >= 0);
        if (!noise && gv_transport_peer_connected(t, 0)) {
            uint8_t msg[GV_SESSION_INIT_LEN];
            assert_int_equal(gv_session_initiate(GV_PROTOCOL_VERSION, 0, &noise, msg), (int)sizeof msg);
            assert_int_equal(gv_transport_send(t, 0, GV_CH_CONTROL, msg, sizeof msg, 0), GV_OK);
        }
        got = take_handshake(t, GV_HANDSHAKE_RESP, e_pub);
    }
    assert_true(got);
    gv_noise_destroy(noise);
    gv_transport_destroy(t);
}

/* The server takes no generator at all: its ephemeral keys still differ
 * between handshakes and are not the constant generator's. */
static void test_server_ephemeral_fresh(void **state)
{
    (void)state;
    char dir[] = "/tmp/gvoip-test-link-XXXXXX", key[64];
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof key, "%s/server.key", dir);

    gv_server_config cfg;
    gv_server_config_default(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.key_file = key;
    gv_server *s = NULL;
    char why[256];
    assert_int_equal(gv_server_create(&cfg, &s, why, sizeof why), GV_OK);
    uint8_t e[2][32], weak[32];
    server_ephemeral(s, e[0]);
    server_ephemeral(s, e[1]);
    gv_server_destroy(s);
    assert_int_equal(unlink(key), 0);
    assert_int_equal(rmdir(dir), 0);

    constant_public(weak);
    assert_memory_not_equal(e[0], e[1], 32);
    assert_memory_not_equal(e[0], weak, 32);
    assert_memory_not_equal(e[1], weak, 32);
}

/* The server's HANDSHAKE_RESP to a HANDSHAKE_INIT whose offer byte is
 * offer: its length, and message 2's payload in payload (cap bytes);
 * returns the payload's length. */
static int answer_to(gv_server *s, uint8_t offer, size_t *resp_len, uint8_t *payload, size_t cap)
{
    gv_transport *t = NULL;
    gv_noise *noise = NULL;
    uint8_t pro[GV_SESSION_PROLOGUE], pad[GV_HANDSHAKE_PAD] = {offer};
    gv_session_prologue(GV_PROTOCOL_VERSION, pro);
    assert_int_equal(gv_transport_connect(NULL, "127.0.0.1", (uint16_t)gv_server_port(s), GV_PROTOCOL_VERSION, &t),
                     GV_OK);
    int got = -1;
    for (uint64_t end = mono_us() + DEADLINE_US; got < 0 && mono_us() < end;) {
        gv_event ev = {.size = sizeof ev};
        assert_true(gv_server_service(s, &ev, 0) >= 0);
        if (!noise && gv_transport_peer_connected(t, 0)) {
            uint8_t msg[GV_SESSION_INIT_LEN] = {GV_HANDSHAKE_INIT};
            assert_int_equal(gv_noise_initiator_create(pro, sizeof pro, &noise), GV_OK);
            assert_int_equal(gv_noise_write_message(noise, pad, sizeof pad, msg + 1, sizeof msg - 1),
                             (int)sizeof msg - 1);
            assert_int_equal(gv_transport_send(t, 0, GV_CH_CONTROL, msg, sizeof msg, 0), GV_OK);
        }
        gv_transport_event e;
        for (int rc = gv_transport_service(t, &e, 5); rc > 0 && got < 0; rc = gv_transport_service(t, &e, 0))
            if (e.type == GV_TRANSPORT_RECEIVE && e.channel == GV_CH_CONTROL && e.len > 1 &&
                e.packet[0] == GV_HANDSHAKE_RESP) {
                *resp_len = e.len;
                got = gv_noise_read_message(noise, e.packet + 1, e.len - 1, payload, cap);
                assert_true(got >= 0);
            }
    }
    assert_true(got >= 0);
    gv_noise_destroy(noise);
    gv_transport_destroy(t);
    return got;
}

/* A server with a fleet certificate sends it only to a client that asks
 * (GV_OFFER_FLEET_CERT, which this version's clients set): a client from
 * before, which refuses a payload longer than the cipher, gets the reply it
 * always got. */
static void test_certificate_only_when_asked(void **state)
{
    (void)state;
    char dir[] = "/tmp/gvoip-test-link-XXXXXX", key[64], why[256];
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof key, "%s/server.key", dir);
    gv_server_config cfg;
    gv_server_config_default(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.key_file = key;
    gv_server *s = NULL;
    assert_int_equal(gv_server_create(&cfg, &s, why, sizeof why), GV_OK);
    gv_server_destroy(s);
    uint8_t pk[32], seed[32] = {7}, cert[GV_FLEETCERT_BYTES];
    assert_int_equal(gv_keyfile_public_key(key, pk, why, sizeof why), GV_OK);
    assert_int_equal(gv_fleetcert_encode(seed, pk, 1, 2, cert), GV_FLEETCERT_BYTES);
    cfg.fleet_cert = cert;
    cfg.fleet_cert_len = sizeof cert;
    assert_int_equal(gv_server_create(&cfg, &s, why, sizeof why), GV_OK);

    uint8_t payload[256];
    size_t resp_len = 0;
    assert_int_equal(answer_to(s, 0, &resp_len, payload, sizeof payload), 1);
    assert_int_equal(resp_len, 1 + GV_NOISE_MSG2_LEN + 1);
    assert_int_equal(payload[0], GV_SEAL_CHACHA20POLY1305);
    assert_int_equal(answer_to(s, GV_OFFER_FLEET_CERT, &resp_len, payload, sizeof payload), 1 + GV_FLEETCERT_BYTES);
    assert_int_equal(resp_len, 1 + GV_NOISE_MSG2_LEN + 1 + GV_FLEETCERT_BYTES);
    assert_int_equal(payload[0], GV_SEAL_CHACHA20POLY1305);
    assert_memory_equal(payload + 1, cert, sizeof cert);
    gv_server_destroy(s);

    /* This version's clients ask. */
    uint8_t msg[GV_SESSION_INIT_LEN], got[GV_HANDSHAKE_PAD];
    gv_noise *init = NULL, *resp = NULL;
    uint8_t pro[GV_SESSION_PROLOGUE], sk[32], spk[32];
    gv_session_prologue(GV_PROTOCOL_VERSION, pro);
    assert_int_equal(gv_session_initiate(GV_PROTOCOL_VERSION, 0, &init, msg), (int)sizeof msg);
    assert_int_equal(gv_noise_keypair(sk, spk), GV_OK);
    assert_int_equal(gv_noise_responder_create(pro, sizeof pro, sk, spk, &resp), GV_OK);
    assert_int_equal(gv_noise_read_message(resp, msg + 1, sizeof msg - 1, got, sizeof got), GV_HANDSHAKE_PAD);
    assert_int_equal(got[0], GV_OFFER_FLEET_CERT);
    gv_noise_destroy(init);
    gv_noise_destroy(resp);
    assert_int_equal(unlink(key), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    if (gv_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_ephemeral_not_from_gv_random),
        cmocka_unit_test(test_server_ephemeral_fresh),
        cmocka_unit_test(test_certificate_only_when_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
