/* The Noise NX handshake parsers, both directions, with fixed keys (the
 * ephemerals through gv_noise_test_ephemeral) so that every run is
 * reproducible. The first byte picks the mode:
 *   0: a responder reads the rest as message 1;
 *   1: an initiator that has sent message 1 reads the rest as message 2;
 *   2: a genuine exchange: [mode][payload length][server version byte]
 *      [payload][(pos16 LE, xor8) tampers...]; the tampered message 2 must
 *      open exactly when it still equals the genuine one.
 * Payload capacities are those gv_server.c and gv_link.c pass. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gvoip/error.h"
#include "packet/gv_msg.h"
#include "session/gv_noise.h"
#include "session/gv_seal.h"
#include "fuzz_common.h"

#define RESPONDER_CAP GV_HANDSHAKE_PAD
#define INITIATOR_CAP 64
#define MSG1_LEN (GV_NOISE_MSG1_MIN + GV_HANDSHAKE_PAD)
#define MAX_TAMPERS 64

/* splitmix64: the same bytes every time it is restarted from a seed. */
typedef struct det_rng {
    uint64_t state;
} det_rng;

static void det_fill(det_rng *r, uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t z = (r->state += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        p[i] = (uint8_t)(z ^ (z >> 31));
    }
}

/* ns's ephemeral secret: the next 32 bytes of r. */
static void det_ephemeral(det_rng *r, gv_noise *ns)
{
    uint8_t e_sk[32];
    det_fill(r, e_sk, sizeof e_sk);
    CHECK(gv_noise_test_ephemeral(ns, e_sk) == GV_OK);
}

#define SEED_SERVER_KEY 1u
#define SEED_INITIATOR 2u
#define SEED_RESPONDER 3u

static uint8_t server_sk[32], server_pk[32];

static void prologue(uint8_t version, uint8_t out[6])
{
    memcpy(out, "gvoip", 5);
    out[5] = version;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    det_rng r = {SEED_SERVER_KEY};
    det_fill(&r, server_sk, sizeof server_sk);
    CHECK(crypto_scalarmult_base(server_pk, server_sk) == 0);
    return 0;
}

/* Every call on a handle that failed for good must say GV_ESTATE. */
static void check_dead(gv_noise *ns)
{
    uint8_t buf[GV_NOISE_MSG2_LEN + GV_HANDSHAKE_PAD] = {0}, pk[32];
    gv_seal_keys keys;
    CHECK(gv_noise_read_message(ns, buf, GV_NOISE_MSG2_LEN, NULL, 0) == GV_ESTATE);
    CHECK(gv_noise_write_message(ns, NULL, 0, buf, sizeof buf) == GV_ESTATE);
    CHECK(gv_noise_split(ns, &keys) == GV_ESTATE);
    CHECK(gv_noise_remote_static(ns, pk) == GV_ESTATE);
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* The client of gv_link.c: message 1 sent, waiting for message 2. */
static gv_noise *initiator_after_msg1(det_rng *r, uint8_t msg1[MSG1_LEN])
{
    uint8_t pro[6], pad[GV_HANDSHAKE_PAD] = {0};
    gv_noise *ns = NULL;
    r->state = SEED_INITIATOR;
    prologue(GV_PROTOCOL_VERSION, pro);
    CHECK(gv_noise_initiator_create(pro, sizeof pro, &ns) == GV_OK);
    det_ephemeral(r, ns);
    CHECK(gv_noise_write_message(ns, pad, sizeof pad, msg1, MSG1_LEN) == MSG1_LEN);
    return ns;
}

/* What the server of gv_server.c answers to msg1 with this payload; its
 * keys go to *keys. Returns the message 2 length, or a negative code. */
static int genuine_msg2(det_rng *r, uint8_t version, const uint8_t *msg1, const uint8_t *payload,
                        size_t payload_len, uint8_t *out, size_t cap, gv_seal_keys *keys)
{
    uint8_t pro[6], got[RESPONDER_CAP];
    gv_noise *ns = NULL;
    r->state = SEED_RESPONDER;
    prologue(version, pro);
    CHECK(gv_noise_responder_create(pro, sizeof pro, server_sk, server_pk, &ns) == GV_OK);
    det_ephemeral(r, ns);
    CHECK(gv_noise_read_message(ns, msg1, MSG1_LEN, got, sizeof got) == GV_HANDSHAKE_PAD);
    int n = gv_noise_write_message(ns, payload, payload_len, out, cap);
    if (n >= 0)
        CHECK(gv_noise_split(ns, keys) == GV_OK);
    gv_noise_destroy(ns);
    return n;
}

/* The keys must work as a pair: what one side seals the other opens. */
static void check_keys_pair(const gv_seal_keys *client, const gv_seal_keys *server)
{
    CHECK(memcmp(client->send, server->recv, 32) == 0);
    CHECK(memcmp(client->recv, server->send, 32) == 0);
    CHECK(memcmp(client->handshake_hash, server->handshake_hash, 32) == 0);
    CHECK(memcmp(client->send, client->recv, 32) != 0);
    gv_seal *a = NULL, *b = NULL;
    CHECK(gv_seal_create(client, &a) == GV_OK && gv_seal_create(server, &b) == GV_OK);
    static const uint8_t hello[] = "hello";
    uint8_t sealed[sizeof hello + GV_SEAL_OVERHEAD], plain[sizeof hello];
    int n = gv_seal_encrypt(a, 0, NULL, 0, hello, sizeof hello, sealed, sizeof sealed);
    CHECK(n == (int)sizeof sealed);
    CHECK(gv_seal_decrypt(b, 0, NULL, 0, sealed, (size_t)n, plain, sizeof plain) ==
          (int)sizeof hello);
    CHECK(memcmp(plain, hello, sizeof hello) == 0);
    gv_seal_destroy(a);
    gv_seal_destroy(b);
}

static void responder_reads(const uint8_t *msg, size_t len)
{
    uint8_t pro[6];
    det_rng r = {SEED_RESPONDER};
    gv_noise *ns = NULL;
    prologue(GV_PROTOCOL_VERSION, pro);
    CHECK(gv_noise_responder_create(pro, sizeof pro, server_sk, server_pk, &ns) == GV_OK);
    det_ephemeral(&r, ns);

    /* Exact-size heap buffer: ASan sees any write past the capacity. */
    uint8_t *payload = malloc(RESPONDER_CAP);
    CHECK(payload != NULL);
    int rc = gv_noise_read_message(ns, msg, len, payload, RESPONDER_CAP);
    if (len < GV_NOISE_MSG1_MIN || len > GV_NOISE_MAX_MSG) {
        CHECK(rc == GV_EMALFORMED);
        check_dead(ns);
        goto out;
    }
    size_t payload_len = len - GV_NOISE_MSG1_MIN;
    if (payload_len > RESPONDER_CAP) {
        /* Documented to leave the state as it was: a second read with room
         * for the payload must now succeed. */
        CHECK(rc == GV_ETOOBIG);
        uint8_t *big = malloc(payload_len);
        CHECK(big != NULL);
        rc = gv_noise_read_message(ns, msg, len, big, payload_len);
        CHECK(rc == (int)payload_len && memcmp(big, msg + GV_NOISE_MSG1_MIN, payload_len) == 0);
        free(big);
    } else {
        /* Message 1 has no key yet: its payload comes through in clear. */
        CHECK(rc == (int)payload_len);
        CHECK(memcmp(payload, msg + GV_NOISE_MSG1_MIN, payload_len) == 0);
    }
    CHECK(gv_noise_read_message(ns, msg, len, payload, RESPONDER_CAP) == GV_ESTATE);

    /* The reply fails exactly when the client's ephemeral key is of small
     * order, which X25519 with any clamped scalar reveals. */
    uint8_t q[32], reply[GV_NOISE_MSG2_LEN];
    int low_order = crypto_scalarmult(q, server_sk, msg) != 0;
    rc = gv_noise_write_message(ns, NULL, 0, reply, sizeof reply);
    if (low_order) {
        CHECK(rc == GV_EAUTH);
        check_dead(ns);
        goto out;
    }
    CHECK(rc == GV_NOISE_MSG2_LEN);
    gv_seal_keys keys;
    uint8_t pk[32];
    CHECK(gv_noise_split(ns, &keys) == GV_OK);
    CHECK(gv_noise_split(ns, &keys) == GV_ESTATE);
    CHECK(gv_noise_remote_static(ns, pk) == GV_ESTATE);
out:
    free(payload);
    gv_noise_destroy(ns);
}

static void initiator_reads(const uint8_t *msg, size_t len)
{
    det_rng r;
    uint8_t msg1[MSG1_LEN];
    gv_noise *ns = initiator_after_msg1(&r, msg1);
    uint8_t *payload = malloc(INITIATOR_CAP);
    CHECK(payload != NULL);
    memset(payload, 0xa5, INITIATOR_CAP);
    int rc = gv_noise_read_message(ns, msg, len, payload, INITIATOR_CAP);
    if (len < GV_NOISE_MSG2_LEN || len > GV_NOISE_MAX_MSG) {
        CHECK(rc == GV_EMALFORMED);
        check_dead(ns);
        goto out;
    }
    size_t payload_len = len - GV_NOISE_MSG2_LEN;
    if (payload_len > INITIATOR_CAP) {
        /* State unchanged: the real server's reply still completes it. */
        CHECK(rc == GV_ETOOBIG);
        uint8_t real[GV_NOISE_MSG2_LEN];
        gv_seal_keys server_keys, client_keys;
        det_rng rr;
        CHECK(genuine_msg2(&rr, GV_PROTOCOL_VERSION, msg1, NULL, 0, real, sizeof real,
                           &server_keys) == GV_NOISE_MSG2_LEN);
        CHECK(gv_noise_read_message(ns, real, sizeof real, payload, INITIATOR_CAP) == 0);
        CHECK(gv_noise_split(ns, &client_keys) == GV_OK);
        check_keys_pair(&client_keys, &server_keys);
        goto out;
    }
    if (rc < 0) {
        CHECK(rc == GV_EAUTH);
        if (payload_len > 0)
            CHECK(all_zero(payload, payload_len));
        check_dead(ns);
        goto out;
    }
    /* Nobody but the holder of server_sk can make a message 2 that opens:
     * whatever opened must be byte for byte what the server would send. */
    CHECK(rc == (int)payload_len);
    uint8_t pk[32], *again = malloc(len);
    gv_seal_keys server_keys;
    det_rng rr;
    CHECK(again != NULL);
    CHECK(gv_noise_remote_static(ns, pk) == GV_OK && memcmp(pk, server_pk, 32) == 0);
    CHECK(genuine_msg2(&rr, GV_PROTOCOL_VERSION, msg1, payload, payload_len, again, len,
                       &server_keys) == (int)len);
    CHECK(memcmp(again, msg, len) == 0);
    free(again);
out:
    free(payload);
    gv_noise_destroy(ns);
}

static void genuine_exchange(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    size_t payload_len = data[0] % (INITIATOR_CAP + 1);
    uint8_t version = data[1];
    data += 2;
    size -= 2;
    uint8_t payload[INITIATOR_CAP] = {0};
    size_t take = size < payload_len ? size : payload_len;
    memcpy(payload, data, take);
    data += take;
    size -= take;

    det_rng r, rr;
    uint8_t msg1[MSG1_LEN], msg2[GV_NOISE_MSG2_LEN + INITIATOR_CAP],
        orig[GV_NOISE_MSG2_LEN + INITIATOR_CAP];
    gv_seal_keys server_keys, client_keys;
    gv_noise *ns = initiator_after_msg1(&r, msg1);
    int n = genuine_msg2(&rr, version, msg1, payload, payload_len, msg2, sizeof msg2,
                         &server_keys);
    CHECK(n == (int)(GV_NOISE_MSG2_LEN + payload_len));
    size_t len = (size_t)n;
    memcpy(orig, msg2, len);
    for (size_t i = 0; i + 3 <= size && i / 3 < MAX_TAMPERS; i += 3) {
        size_t pos = (size_t)(data[i] | data[i + 1] << 8) % len;
        msg2[pos] ^= data[i + 2];
    }
    int tampered = memcmp(orig, msg2, len) != 0;

    /* Exactly sized copy so that ASan sees a read past the message. */
    uint8_t *in = malloc(len), *out = malloc(INITIATOR_CAP);
    CHECK(in != NULL && out != NULL);
    memcpy(in, msg2, len);
    int rc = gv_noise_read_message(ns, in, len, out, INITIATOR_CAP);
    if (tampered || version != GV_PROTOCOL_VERSION) {
        /* The prologue carries the version: a server of another version
         * fails at message 2, as docs/protocol.md promises. */
        CHECK(rc == GV_EAUTH);
        check_dead(ns);
    } else {
        uint8_t pk[32];
        CHECK(rc == (int)payload_len && memcmp(out, payload, payload_len) == 0);
        CHECK(gv_noise_remote_static(ns, pk) == GV_OK && memcmp(pk, server_pk, 32) == 0);
        CHECK(gv_noise_split(ns, &client_keys) == GV_OK);
        check_keys_pair(&client_keys, &server_keys);
    }
    free(in);
    free(out);
    gv_noise_destroy(ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        responder_reads(data + 1, size - 1);
        break;
    case 1:
        initiator_reads(data + 1, size - 1);
        break;
    default:
        genuine_exchange(data + 1, size - 1);
        break;
    }
    return 0;
}
