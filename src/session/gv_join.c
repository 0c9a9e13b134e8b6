#include "session/gv_join.h"

#include <stdio.h>
#include <string.h>

#include "session/gv_keyfile.h"

void gv_join_start(gv_join *j, const char *host, uint16_t port, int protocol_version, gv_random random,
                   uint64_t timeout_us, uint64_t now_us)
{
    uint64_t retries = j->retries;
    memset(j, 0, sizeof *j);
    j->retries = retries;
    snprintf(j->host, sizeof j->host, "%s", host);
    snprintf(j->hostport, sizeof j->hostport, "%s:%u", j->host, (unsigned)port);
    j->port = port;
    j->protocol_version = protocol_version;
    j->random = random;
    j->timeout_us = timeout_us ? timeout_us : GV_JOIN_TIMEOUT_US;
    j->deadline_us = now_us + j->timeout_us;
    j->tried = 1;
}

static void arm_retry(gv_join *j, uint64_t now_us)
{
    uint32_t jitter = 0;
    j->random.fill(j->random.ctx, &jitter, sizeof jitter);
    j->retry_us = now_us + GV_JOIN_RETRY_US + jitter % GV_JOIN_RETRY_JITTER_US;
}

void gv_join_set_others(gv_join *j, int others, uint64_t now_us)
{
    j->others = others > 0 ? others : 0;
    if (j->others && j->stage == GV_JOIN_CONNECTING)
        arm_retry(j, now_us);
}

void gv_join_moved(gv_join *j, const char *host, uint16_t port, uint64_t now_us)
{
    snprintf(j->host, sizeof j->host, "%s", host);
    snprintf(j->hostport, sizeof j->hostport, "%s:%u", j->host, (unsigned)port);
    j->port = port;
    j->stage = GV_JOIN_CONNECTING;
    j->tried++;
    arm_retry(j, now_us);
}

enum gv_join_action gv_join_connected(gv_join *j)
{
    return j->stage == GV_JOIN_CONNECTING ? GV_JOIN_SEND_INIT : GV_JOIN_NOTHING;
}

void gv_join_init_sent(gv_join *j, uint64_t now_us)
{
    j->stage = GV_JOIN_HANDSHAKE;
    arm_retry(j, now_us);
}

enum gv_join_action gv_join_answered(gv_join *j, uint64_t now_us)
{
    if (j->stage != GV_JOIN_HANDSHAKE)
        return GV_JOIN_NOTHING;
    j->stage = GV_JOIN_HELLO;
    j->deadline_us = now_us + j->timeout_us;
    return GV_JOIN_SEND_HELLO;
}

int gv_join_welcome(gv_join *j)
{
    if (j->stage != GV_JOIN_HELLO)
        return 0;
    j->stage = GV_JOIN_JOINED;
    return 1;
}

void gv_join_refuse(gv_join *j, int code, const char *text, size_t len)
{
    if (len > GV_REASON_MAX)
        len = GV_REASON_MAX;
    j->refused = code;
    memcpy(j->refuse_text, text, len);
    j->refuse_text[len] = '\0';
}

int gv_join_redirect(gv_join *j, uint16_t port, const char *host, size_t host_len)
{
    if (j->stage != GV_JOIN_HELLO || port == 0 || host_len >= sizeof j->redirect_host)
        return GV_ESTATE;
    j->redirect = port;
    if (host_len)
        memcpy(j->redirect_host, host, host_len);
    j->redirect_host[host_len] = '\0';
    return 0;
}

/* Starts over where the server said, keeping the retries and the
 * redirects so far. */
static enum gv_join_action follow(gv_join *j, uint64_t now_us)
{
    char host[sizeof j->host];
    memcpy(host, j->redirect_host[0] ? j->redirect_host : j->host, sizeof host);
    int redirects = j->redirects + 1;
    gv_join_start(j, host, j->redirect, j->protocol_version, j->random, j->timeout_us, now_us);
    j->redirects = redirects;
    return GV_JOIN_REDIRECT;
}

enum gv_join_action gv_join_fail(gv_join *j, int error, const char *fmt, const char *detail)
{
    if (j->stage == GV_JOIN_DONE)
        return GV_JOIN_NOTHING;
    j->stage = GV_JOIN_DONE;
    j->end.error = error;
    j->end.refused = j->refused;
    snprintf(j->end.reason, sizeof j->end.reason, fmt, detail ? detail : "");
    return GV_JOIN_FAILED;
}

enum gv_join_action gv_join_disconnected(gv_join *j, uint32_t data, uint64_t now_us)
{
    enum gv_join_stage was = j->stage;
    int code = j->refused ? j->refused : (int)(data & 0xff);
    if (was == GV_JOIN_DONE)
        return GV_JOIN_NOTHING;
    if (was == GV_JOIN_HELLO && j->redirect) {
        if (j->redirects < GV_JOIN_REDIRECTS_MAX)
            return follow(j, now_us);
        j->refused = GV_REFUSE_REDIRECT;
        char text[160];
        snprintf(text, sizeof text,
                 "the server sent the join on to another of its ports %d times in a row without admitting it",
                 j->redirects + 1);
        return gv_join_fail(j, GV_EDENIED, "%s", text);
    }
    if (was == GV_JOIN_JOINED) {
        j->stage = GV_JOIN_DONE;
        j->end.refused = code;
        snprintf(j->end.reason, sizeof j->end.reason, "%s",
                 j->refuse_text[0] ? j->refuse_text : code ? gv_refuse_text(code) : "connection lost");
        return GV_JOIN_LOST;
    }
    j->refused = code;
    if (code == GV_REFUSE_VERSION) {
        char text[128];
        snprintf(text, sizeof text, "server speaks protocol version %u, this client speaks %d",
                 (unsigned)(data >> 8 & 0xff), j->protocol_version);
        return gv_join_fail(j, GV_EVERSION, "%s", text);
    }
    if (code)
        return gv_join_fail(j, code == GV_REFUSE_FULL ? GV_EFULL : code == GV_REFUSE_NAME ? GV_ENAME : GV_EDENIED,
                            "%s", j->refuse_text[0] ? j->refuse_text : gv_refuse_text(code));
    return gv_join_fail(j, GV_ETIMEOUT, "no answer from the server%s", NULL);
}

/* The server keeps a half-open connection only until ENet's first
 * retransmission of VERIFY_CONNECT (about 500 ms; gv_transport's answer
 * to spoofed CONNECTs), so when our one acknowledgement of it is lost the
 * server forgets us while ENet here believes it is connected, and our
 * handshake goes nowhere. No answer by the retry time: start again with a
 * new CONNECT and a new handshake. The server holds no lobby state for us
 * yet. The deadline is checked first: a join out of time fails rather
 * than starting over. */
enum gv_join_action gv_join_tick(gv_join *j, uint64_t now_us)
{
    if (j->stage < GV_JOIN_JOINED && now_us > j->deadline_us)
        return gv_join_fail(j, GV_ETIMEOUT,
                            j->tried < 2 ? "timed out joining %s (no gvoip server answered there)"
                                         : "timed out joining %s (no gvoip server answered there, nor at the other "
                                           "addresses given)",
                            j->hostport);
    if (j->others && j->stage <= GV_JOIN_HANDSHAKE && now_us > j->retry_us) {
        j->retries++;
        return GV_JOIN_NEXT_NODE;
    }
    if (j->stage == GV_JOIN_HANDSHAKE && now_us > j->retry_us) {
        j->stage = GV_JOIN_CONNECTING;
        j->retries++;
        return GV_JOIN_RECONNECT;
    }
    return GV_JOIN_NOTHING;
}

static int refuse_key(gv_join *j, int error, const char *fingerprint, const char *known)
{
    j->stage = GV_JOIN_DONE;
    j->end.error = error;
    j->end.refused = j->refused;
    snprintf(j->end.fingerprint, sizeof j->end.fingerprint, "%s", fingerprint);
    snprintf(j->end.known_fingerprint, sizeof j->end.known_fingerprint, "%s", known);
    return error;
}

/* Refused because the file could not be read (or holds a line this
 * host:port cannot be checked against): not a changed key, but the key
 * cannot be checked, so said as it is. what: "server" or "fleet". */
static int cannot_check(gv_join *j, const gv_join_key_in *in, const char *what, const char *fingerprint, int rc)
{
    snprintf(j->end.reason, sizeof j->end.reason, "cannot check the %s key of %s against %s: %s", what, j->hostport,
             in->known_file, gv_strerror(rc));
    return refuse_key(j, rc, fingerprint, "");
}

int gv_join_check_key(gv_join *j, const gv_join_key_in *in, int *first_use)
{
    char stored[GV_FINGERPRINT_BYTES] = "";
    const char *hostport = j->hostport;
    const char *fleet = in->fleet ? in->fleet : "", *fleet_pinned = in->fleet_pinned ? in->fleet_pinned : "";
    *first_use = 0;
    if (fleet_pinned[0] && !fleet[0] && !in->pinned[0]) {
        snprintf(j->end.reason, sizeof j->end.reason,
                 "the server at %s shows no fleet certificate, and --fleet-key %s asks for one (its key is %s; "
                 "pin that with --server-key to join it all the same)",
                 hostport, fleet_pinned, in->fingerprint);
        return refuse_key(j, GV_EKEY, in->fingerprint, fleet_pinned);
    }
    if (fleet_pinned[0] && fleet[0] && !gv_keyfile_fingerprint_equal(fleet, fleet_pinned)) {
        snprintf(j->end.reason, sizeof j->end.reason,
                 "fleet key does not match the pinned key: the server's certificate is signed by the fleet key %s, "
                 "--fleet-key is %s",
                 fleet, fleet_pinned);
        return refuse_key(j, GV_EKEY, fleet, fleet_pinned);
    }
    if (in->pinned[0] && !gv_keyfile_fingerprint_equal(in->fingerprint, in->pinned)) {
        snprintf(j->end.reason, sizeof j->end.reason,
                 "server key does not match the pinned key: server has %s, --server-key is %s", in->fingerprint,
                 in->pinned);
        return refuse_key(j, GV_EKEY, in->fingerprint, in->pinned);
    }
    /* Pinned keys are the user's word: the file is not read. */
    if (in->pinned[0] || fleet_pinned[0] || !in->known_file)
        return 0;
    int rc;
    /* A fleet's nodes each have a key of their own: once its fleet key is
     * known for this address, a valid certificate of it is enough. */
    if (fleet[0]) {
        rc = in->check_fleet(in->known_file, hostport, fleet, stored, sizeof stored);
        if (rc == 0)
            return 0;
        if (rc == GV_EKEY) {
            snprintf(j->end.reason, sizeof j->end.reason,
                     "FLEET KEY CHANGED for %s: known %s, now %s. If the fleet's key was replaced on purpose, remove "
                     "its @fleet line from %s (or pin it with --fleet-key); otherwise someone may be impersonating "
                     "its servers",
                     hostport, stored, fleet, in->known_file);
            return refuse_key(j, GV_EKEY, fleet, stored);
        }
        if (rc != 1)
            return cannot_check(j, in, "fleet", fleet, rc);
    }
    /* No fleet known here yet: a server key remembered for the address
     * still stands, so that a certificate from an impostor's own fleet
     * cannot displace it. */
    rc = in->check(in->known_file, hostport, in->fingerprint, stored, sizeof stored);
    if (rc == GV_EKEY) {
        snprintf(j->end.reason, sizeof j->end.reason,
                 "SERVER KEY CHANGED for %s: known %s, now %s. If the server's key was replaced on purpose, "
                 "remove its line from %s (or pin it with --server-key); otherwise someone may be impersonating it",
                 hostport, stored, in->fingerprint, in->known_file);
        return refuse_key(j, GV_EKEY, in->fingerprint, stored);
    }
    if (rc != 0 && rc != 1)
        return cannot_check(j, in, "server", in->fingerprint, rc);
    if (fleet[0]) {
        in->add_fleet(in->known_file, hostport, fleet);
        *first_use = 1;
    }
    /* The server key too: a server at this address that one day shows no
     * certificate is held to the key it had. */
    if (rc == 1) {
        in->add(in->known_file, hostport, in->fingerprint);
        *first_use = 1;
    }
    return 0;
}
