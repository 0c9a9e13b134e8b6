/* The lobby server: handshakes, admission, the player table and the voice
 * relay. Implements the gv_server half of the public API (gvoip/gvoip.h);
 * it has no audio of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audio/gv_spatial.h"
#include "gvoip/gvoip.h"
#include "packet/gv_msg.h"
#include "session/gv_events.h"
#include "session/gv_keyfile.h"
#include "session/gv_server.h"
#include "session/gv_noise.h"
#include "session/gv_seal.h"
#include "session/gv_sys.h"
#include "session/gv_transport.h"

#define HANDSHAKE_TIMEOUT_US 5000000u
#define INIT_TIMEOUT_US 2000000u /* a client sends HANDSHAKE_INIT at once on connecting */
#define EXPIRY_INTERVAL_US 100000u
/* Admission. Half-open: an ENet peer that is not (yet) a player. Past
 * COOKIE_THRESHOLD of them a CONNECT must carry a cookie proving its source
 * address receives; past HALF_OPEN_TOTAL a verified CONNECT replaces the
 * oldest half-open connection that has waited at least EVICT_AGE_US. */
#define HALF_OPEN_PER_ADDRESS 4
#define HALF_OPEN_TOTAL 64
#define COOKIE_THRESHOLD 16
#define EVICT_AGE_US 500000u
#define COOKIE_ROTATE_US 30000000u
#define ATTEMPT_BURST 32 /* CONNECTs per source address: burst, then ATTEMPT_RATE a second */
#define ATTEMPT_RATE 20
#define ATTEMPT_TABLE 4096
/* Per-player budgets, per one-second window. Voice is budgeted in audio
 * time taken from each packet's Opus TOC: 1.25 times real time plus a
 * burst allowance, so 20 ms frames get 67 packets a second and 10 ms
 * frames 135; no frame counts as shorter than MIN_FRAME_US. */
#define BUDGET_WINDOW_US 1000000u
#define BUDGET_STRIKES 3 /* windows over budget in a row before removal */
#define VOICE_BUDGET_US (BUDGET_WINDOW_US * 5 / 4 + 100000u)
#define MIN_FRAME_US 10000u
#define MAX_PACKET_US 120000u
#define CONTROL_PER_SECOND 20 /* plus one loss report per other player */
#define POSITIONS_PER_SECOND 75 /* a game's 60 Hz physics rate, times 1.25 */
#define BYTES_PER_SECOND (40 * 1024)
#define MALFORMED_LIMIT 16 /* authenticated nonsense a player may send before removal */
#define PASSWORD_BURST 5
#define PASSWORD_REFILL_US 2000000u
#define PASSWORD_TABLE 64
/* Positions are relayed at most this often per sender (20 a second); a
 * newer one that arrives sooner waits and replaces any still waiting. */
#define POSITION_RELAY_US 50000u
/* Coalescing. A flush sends one datagram to every listener with something
 * queued, and on a busy relay the kernel's work per datagram is most of the
 * cost of a relayed packet. Once the server relays hold_rate packets a
 * second (measured over RATE_PERIOD_US), a service call that receives one
 * voice packet waits, up to hold_us and within its timeout, for
 * COALESCE_BATCH of them, then seals and sends them together: a
 * listener's datagram carries several, for half a millisecond more
 * latency at the median (128 players, 16 talking). Below three quarters
 * of hold_rate every packet is relayed as it arrives again. */
#define COALESCE_BATCH 2
#define HELD_MAX 16 /* voice held at most: a longer burst is relayed at once */
#define DEFAULT_HOLD_US 2000
#define MAX_HOLD_US 20000
#define DEFAULT_HOLD_RATE 40000
#define RATE_PERIOD_US 100000u

enum slot_state { SLOT_HANDSHAKE, SLOT_HELLO, SLOT_PLAYER, SLOT_CLOSING };

typedef struct slot {
    ENetPeer *peer;
    enum slot_state state;
    gv_noise *noise;
    gv_seal *seal;
    uint64_t deadline_us;
    uint16_t id;
    char name[GV_NAME_MAX + 1];
    uint64_t window_start_us;
    uint64_t voice_us; /* audio time of the voice in this window */
    int control_count, position_count;
    size_t byte_count;
    int over_budget, strikes;
    int malformed;
    /* positional voice */
    int has_pose, pose_pending;
    uint16_t pose_seq;
    gv_player_pose pose;
    uint64_t pose_relayed_us;
} slot;

typedef struct password_bucket {
    enet_uint32 host;
    uint64_t last_us;
    double tokens;
} password_bucket;

typedef password_bucket attempt_bucket;

struct gv_server {
    gv_transport transport;
    gv_clock clock;
    int max_players;
    int local_host;
    int allow_raw;
    int protocol_version;
    gv_spatial_config spatial;
    float cull_margin;
    uint8_t sk[32], pk[32];
    int has_password;
    uint8_t password_hash[crypto_generichash_BYTES];
    uint8_t host_token[GV_HOST_TOKEN_LEN];
    uint16_t next_id;
    slot **players; /* joined players, in join order */
    int player_count;
    password_bucket buckets[PASSWORD_TABLE];
    attempt_bucket attempts[ATTEMPT_TABLE];
    uint8_t attempt_key[crypto_shorthash_KEYBYTES];
    uint8_t cookie_key[2][32]; /* current, previous */
    uint64_t cookie_rotated_us, last_expiry_us;
    gv_event_queue events;
    gv_server_stats stats;
    int coalesce;
    uint64_t hold_us, hold_rate;
    int aes; /* AES-256-GCM may seal sessions whose client offers it */
    uint64_t rate_start_us, rate_relayed;
    /* Voice waiting to be relayed, oldest first. A sender in here is a
     * player: the queue is emptied before any player leaves or joins. */
    struct held_voice {
        slot *from;
        int echo;
        size_t len;
        uint8_t msg[GV_VOICE_RELAY_HEADER + GV_VOICE_PAYLOAD_MAX];
    } held[HELD_MAX];
    int held_count;
    uint64_t held_since_us;
    /* One buffer per stage, so that a message being relayed is never
     * encoded over the plaintext it comes from. */
    uint8_t plain[GV_MTU + 64 * 1024];  /* opened input */
    uint8_t encoded[GV_MTU + 64 * 1024]; /* a message to send */
    uint8_t sealed[GV_MTU + 64 * 1024];  /* that message sealed */
};

void gv_server_config_default(gv_server_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->port = GV_DEFAULT_PORT;
    cfg->max_players = GV_DEFAULT_MAX_PLAYERS;
    cfg->relay_hold_us = DEFAULT_HOLD_US;
    cfg->relay_hold_rate = DEFAULT_HOLD_RATE;
    gv_spatial_config_default(&cfg->spatial, GV_SPATIAL_MODE_OFF);
    cfg->clock = gv_sys_clock();
}

/* Off needs no parameters: a zero-filled config stays valid, and the
 * lobby then announces the defaults. */
static int spatial_from_config(const gv_spatial_config *c, gv_spatial_config *out)
{
    if (c->mode == GV_SPATIAL_MODE_OFF) {
        gv_spatial_config_default(out, GV_SPATIAL_MODE_OFF);
        return 0;
    }
    *out = *c;
    return gv_spatial_config_check(out);
}

static uint64_t now_us(const gv_server *s)
{
    return s->clock.now_us(s->clock.ctx);
}

static void prologue(int version, uint8_t out[6])
{
    memcpy(out, "gvoip", 5);
    out[5] = (uint8_t)version;
}

/* Seals and sends one message to one peer. */
static int send_sealed(gv_server *s, slot *sl, uint8_t channel, const uint8_t *plain, size_t len, int fragment)
{
    uint8_t *sealed = s->sealed;
    int n = gv_seal_encrypt(sl->seal, channel, NULL, 0, plain, len, sealed, sizeof s->sealed);
    if (n < 0)
        return n;
    return gv_transport_send(&s->transport, sl->peer, channel, sealed, (size_t)n, fragment);
}

static int send_msg(gv_server *s, slot *sl, const gv_msg *m)
{
    uint8_t buf[512];
    int n = gv_msg_encode(m, buf, sizeof buf);
    return n < 0 ? n : send_sealed(s, sl, GV_CH_CONTROL, buf, (size_t)n, 0);
}

static void refuse(gv_server *s, slot *sl, int code, const char *text)
{
    if (sl->seal) {
        gv_msg m = {.type = GV_MSG_REFUSE};
        m.u.refuse.code = (uint8_t)code;
        m.u.refuse.len = (uint8_t)strnlen(text, GV_REASON_MAX);
        m.u.refuse.text = text;
        send_msg(s, sl, &m);
    }
    s->stats.refused++;
    sl->state = SLOT_CLOSING;
    enet_peer_disconnect_later(sl->peer, (enet_uint32)code);
}

static slot *find_player(gv_server *s, uint16_t id)
{
    for (int i = 0; i < s->player_count; i++)
        if (s->players[i]->id == id)
            return s->players[i];
    return NULL;
}

static int name_taken(gv_server *s, const char *name)
{
    for (int i = 0; i < s->player_count; i++)
        if (strcmp(s->players[i]->name, name) == 0)
            return 1;
    return 0;
}

static uint16_t allocate_id(gv_server *s)
{
    for (;;) {
        uint16_t id = s->next_id++;
        if (s->next_id == 0)
            s->next_id = 2;
        if (id >= 2 && !find_player(s, id))
            return id;
    }
}

/* Counts half-open peers (not players) from addr and in total. */
static void half_open(const gv_server *s, const ENetAddress *addr, int *mine, int *total)
{
    *mine = *total = 0;
    for (size_t i = 0; i < s->transport.host->peerCount; i++) {
        const ENetPeer *p = &s->transport.host->peers[i];
        if (p->state == ENET_PEER_STATE_DISCONNECTED || p->state == ENET_PEER_STATE_ZOMBIE)
            continue;
        const slot *sl = p->data;
        if (sl && sl->state == SLOT_PLAYER)
            continue;
        ++*total;
        if (p->address.host == addr->host)
            ++*mine;
    }
}

/* Refills a token bucket; 1 if a token was there and is now spent. */
static int take_token(attempt_bucket *b, uint64_t now, double burst, double per_second)
{
    b->tokens += (double)(now - b->last_us) * per_second / 1e6;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last_us = now;
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

/* Connection attempts per source address. The table is indexed by a keyed
 * hash, so an attacker cannot aim addresses at a victim's entry; a
 * collision hands the entry to the newcomer with a full bucket. */
static int attempt_allowed(gv_server *s, enet_uint32 host, uint64_t now)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const uint8_t *)&host, sizeof host, s->attempt_key);
    attempt_bucket *b = &s->attempts[(h[0] | h[1] << 8) % ATTEMPT_TABLE];
    if (b->host != host || !b->last_us) {
        b->host = host;
        b->last_us = now;
        b->tokens = ATTEMPT_BURST;
    }
    return take_token(b, now, ATTEMPT_BURST, ATTEMPT_RATE);
}

/* The 24-bit cookie for a source address and port under one key: a
 * truncated keyed BLAKE2b. The key rotates every COOKIE_ROTATE_US; the
 * previous one stays valid, so a cookie lives 30 to 60 seconds. */
static uint32_t cookie_for(const uint8_t key[32], const ENetAddress *addr)
{
    uint8_t in[6], mac[crypto_generichash_BYTES_MIN];
    memcpy(in, &addr->host, 4); /* network order, as on the wire */
    in[4] = (uint8_t)(addr->port >> 8);
    in[5] = (uint8_t)addr->port;
    crypto_generichash(mac, sizeof mac, in, sizeof in, key, 32);
    uint32_t cookie = (uint32_t)mac[0] << 16 | (uint32_t)mac[1] << 8 | mac[2];
    return cookie ? cookie : 1; /* 0 means "no cookie" in a CONNECT */
}

static int cookie_valid(gv_server *s, const ENetAddress *addr, uint32_t connect_data, uint64_t now)
{
    if (now - s->cookie_rotated_us >= COOKIE_ROTATE_US) {
        memcpy(s->cookie_key[1], s->cookie_key[0], 32);
        randombytes_buf(s->cookie_key[0], 32);
        s->cookie_rotated_us = now;
    }
    uint32_t cookie = connect_data >> 8;
    return cookie == cookie_for(s->cookie_key[0], addr) || cookie == cookie_for(s->cookie_key[1], addr);
}

static void free_slot(slot *sl);
static void release_held(gv_server *s);

/* Makes room for a verified newcomer by dropping the half-open connection
 * that has waited longest, if it has waited EVICT_AGE_US: a real client
 * gets through its handshake in a few round trips. ENet is between
 * datagrams when this runs, so the peer can be reset at once. */
static int evict_oldest(gv_server *s, uint64_t now)
{
    ENetPeer *victim = NULL;
    uint64_t oldest = UINT64_MAX;
    for (size_t i = 0; i < s->transport.host->peerCount; i++) {
        ENetPeer *p = &s->transport.host->peers[i];
        const slot *sl = p->data;
        if (!sl || (sl->state != SLOT_HANDSHAKE && sl->state != SLOT_HELLO))
            continue;
        uint64_t started = sl->deadline_us - HANDSHAKE_TIMEOUT_US;
        if (started < oldest && now - started >= EVICT_AGE_US) {
            oldest = started;
            victim = p;
        }
    }
    if (!victim)
        return 0;
    slot *sl = victim->data;
    victim->data = NULL;
    enet_peer_reset(victim);
    free_slot(sl);
    s->stats.refused++;
    return 1;
}

/* Screens every ENet CONNECT before ENet keeps any state for it. */
static int admit(void *ctx, const ENetAddress *addr, uint32_t connect_data, uint32_t *cookie)
{
    gv_server *s = ctx;
    uint64_t now = now_us(s);
    int mine, total;
    if (!attempt_allowed(s, addr->host, now))
        return GV_ADMIT_DROP;
    half_open(s, addr, &mine, &total);
    if (mine >= HALF_OPEN_PER_ADDRESS)
        return GV_ADMIT_DROP;
    if (total >= COOKIE_THRESHOLD && !cookie_valid(s, addr, connect_data, now)) {
        *cookie = cookie_for(s->cookie_key[0], addr);
        return GV_ADMIT_COOKIE;
    }
    if (total >= HALF_OPEN_TOTAL && !evict_oldest(s, now))
        return GV_ADMIT_DROP;
    return GV_ADMIT_PASS;
}

/* A token bucket per source address, so guessing a password is slow. */
static password_bucket *bucket_for(gv_server *s, enet_uint32 host)
{
    password_bucket *oldest = &s->buckets[0];
    for (int i = 0; i < PASSWORD_TABLE; i++) {
        if (s->buckets[i].host == host && s->buckets[i].last_us)
            return &s->buckets[i];
        if (s->buckets[i].last_us < oldest->last_us)
            oldest = &s->buckets[i];
    }
    oldest->host = host;
    oldest->last_us = now_us(s);
    oldest->tokens = PASSWORD_BURST;
    return oldest;
}

static int password_attempt_allowed(gv_server *s, enet_uint32 host)
{
    password_bucket *b = bucket_for(s, host);
    uint64_t now = now_us(s);
    b->tokens += (double)(now - b->last_us) / PASSWORD_REFILL_US;
    if (b->tokens > PASSWORD_BURST)
        b->tokens = PASSWORD_BURST;
    b->last_us = now;
    return b->tokens >= 1.0;
}

static void password_failed(gv_server *s, enet_uint32 host)
{
    bucket_for(s, host)->tokens -= 1.0;
}

static void broadcast(gv_server *s, const gv_msg *m, const slot *except)
{
    for (int i = 0; i < s->player_count; i++)
        if (s->players[i] != except)
            send_msg(s, s->players[i], m);
}

/* The lobby's positional settings, to a player who was just welcomed. */
static void send_spatial(gv_server *s, slot *sl)
{
    gv_msg m = {.type = GV_MSG_SPATIAL_CONFIG, .u.spatial = s->spatial};
    send_msg(s, sl, &m);
}

/* Sends from's latest pose to one player, or to every other player when
 * to is NULL. */
static void send_pose(gv_server *s, slot *from, slot *to)
{
    gv_msg m = {.type = GV_MSG_POSITION_RELAY};
    m.u.position.sender = from->id;
    m.u.position.seq = from->pose_seq;
    m.u.position.pose = from->pose;
    uint8_t buf[GV_POSITION_RELAY_LEN];
    int n = gv_msg_encode(&m, buf, sizeof buf);
    if (n < 0)
        return;
    for (int i = 0; i < s->player_count; i++) {
        slot *p = s->players[i];
        if (p == from || (to && p != to))
            continue;
        if (send_sealed(s, p, GV_CH_VOICE, buf, (size_t)n, 0) == 0)
            s->stats.positions_relayed++;
    }
}

static void admit_player(gv_server *s, slot *sl, const gv_msg *hello)
{
    const char *why = NULL;
    char base[GV_NAME_MAX + 1];
    int is_host = hello->u.hello.token_len == GV_HOST_TOKEN_LEN && s->local_host &&
                  sodium_memcmp(hello->u.hello.token, s->host_token, GV_HOST_TOKEN_LEN) == 0 &&
                  !find_player(s, 1);

    if (s->has_password && !is_host) {
        if (!password_attempt_allowed(s, sl->peer->address.host)) {
            refuse(s, sl, GV_REFUSE_RATE_LIMIT, "too many wrong passwords from this address; wait and try again");
            return;
        }
        uint8_t hash[crypto_generichash_BYTES];
        crypto_generichash(hash, sizeof hash, hello->u.hello.password, hello->u.hello.password_len, NULL, 0);
        if (sodium_memcmp(hash, s->password_hash, sizeof hash) != 0) {
            password_failed(s, sl->peer->address.host);
            refuse(s, sl, GV_REFUSE_PASSWORD,
                   hello->u.hello.password_len ? "wrong password"
                                               : "this lobby needs a password (--password-file FILE or GVOIP_PASSWORD)");
            return;
        }
    }
    if (gv_name_check(hello->u.hello.name.bytes, hello->u.hello.name.len, &why) != 0) {
        char text[GV_REASON_MAX];
        snprintf(text, sizeof text, "bad name: %s", why);
        refuse(s, sl, GV_REFUSE_NAME, text);
        return;
    }
    if (s->player_count >= s->max_players) {
        char text[GV_REASON_MAX];
        snprintf(text, sizeof text, "lobby is full (%d of %d players)", s->player_count, s->max_players);
        refuse(s, sl, GV_REFUSE_FULL, text);
        return;
    }
    memcpy(base, hello->u.hello.name.bytes, hello->u.hello.name.len);
    base[hello->u.hello.name.len] = '\0';
    gv_name_with_suffix(base, 1, sl->name);
    for (unsigned n = 2; name_taken(s, sl->name); n++)
        gv_name_with_suffix(base, n, sl->name);

    sl->id = is_host ? 1 : allocate_id(s);
    sl->state = SLOT_PLAYER;
    sl->window_start_us = now_us(s);

    uint16_t ids[GV_MAX_PLAYERS];
    const char *names[GV_MAX_PLAYERS];
    for (int i = 0; i < s->player_count; i++) {
        ids[i] = s->players[i]->id;
        names[i] = s->players[i]->name;
    }
    uint8_t *buf = s->encoded;
    int n = gv_msg_encode_welcome(sl->id, sl->name, (uint16_t)s->player_count, ids, names, buf, sizeof s->encoded);
    if (n > 0)
        send_sealed(s, sl, GV_CH_CONTROL, buf, (size_t)n, 0);
    send_spatial(s, sl);

    gv_msg joined = {.type = GV_MSG_PLAYER_JOINED};
    joined.u.player.id = sl->id;
    joined.u.player.name.bytes = sl->name;
    joined.u.player.name.len = (uint8_t)strlen(sl->name);
    broadcast(s, &joined, NULL);
    release_held(s); /* voice from before the newcomer joined is not for them */
    s->players[s->player_count++] = sl;
    s->stats.players = s->player_count;
    for (int i = 0; i < s->player_count - 1; i++)
        if (s->players[i]->has_pose)
            send_pose(s, s->players[i], sl);

    gv_event *ev = gv_events_push(&s->events, GV_EVENT_PLAYER_CONNECTED);
    ev->id = sl->id;
    snprintf(ev->name, sizeof ev->name, "%s", sl->name);
}

static void drop_player(gv_server *s, slot *sl, int code)
{
    release_held(s); /* held voice may be sl's, and sl is about to go */
    int i = 0;
    while (i < s->player_count && s->players[i] != sl)
        i++;
    if (i == s->player_count)
        return;
    memmove(&s->players[i], &s->players[i + 1], (size_t)(s->player_count - i - 1) * sizeof s->players[0]);
    s->player_count--;
    s->stats.players = s->player_count;
    gv_msg left = {.type = GV_MSG_PLAYER_LEFT};
    left.u.player.id = sl->id;
    broadcast(s, &left, sl);
    gv_event *ev = gv_events_push(&s->events, GV_EVENT_PLAYER_DISCONNECTED);
    ev->id = sl->id;
    ev->refused = (gv_refusal)code;
    snprintf(ev->name, sizeof ev->name, "%s", sl->name);
    if (code)
        ev->reason = gv_refuse_text(code);
}

static void free_slot(slot *sl)
{
    if (!sl)
        return;
    gv_noise_destroy(sl->noise);
    gv_seal_destroy(sl->seal);
    free(sl);
}

/* Audio time of one voice message, from the Opus TOC byte (RFC 6716,
 * section 3.1) or the raw baseline's fixed frame count. Shorter than
 * MIN_FRAME_US counts as MIN_FRAME_US (gvoip never sends 2.5 or 5 ms
 * frames), which caps the packet rate whatever the TOC claims. */
static uint64_t voice_duration_us(const gv_msg *m)
{
    static const uint32_t silk[4] = {10000, 20000, 40000, 60000};
    static const uint32_t celt[4] = {2500, 5000, 10000, 20000};
    if (m->u.voice.flags & GV_VOICE_RAW)
        return (uint64_t)GV_RAW_FRAMES * 1000000u / GV_SAMPLE_RATE;
    uint8_t toc = m->u.voice.payload[0];
    unsigned config = toc >> 3;
    uint64_t frame = config < 12 ? silk[config & 3] : config < 16 ? (config & 1 ? 20000 : 10000) : celt[config & 3];
    unsigned frames = (toc & 3) == 0 ? 1 : (toc & 3) < 3 ? 2 : m->u.voice.len > 1 ? m->u.voice.payload[1] & 0x3f : 0;
    uint64_t d = frame * frames;
    return d < MIN_FRAME_US ? MIN_FRAME_US : d > MAX_PACKET_US ? MAX_PACKET_US : d;
}

/* Counts a message against the player's budget; 0 if it may pass. */
static int charge(gv_server *s, slot *sl, uint8_t channel, const gv_msg *m, size_t bytes)
{
    uint64_t now = now_us(s);
    if (now - sl->window_start_us >= BUDGET_WINDOW_US) {
        /* Strikes count windows over budget in a row; a quiet window
         * between two bad ones clears them. */
        int adjacent = now - sl->window_start_us < 2 * BUDGET_WINDOW_US;
        sl->strikes = sl->over_budget && adjacent ? sl->strikes + 1 : 0;
        sl->over_budget = 0;
        sl->voice_us = 0;
        sl->control_count = 0;
        sl->position_count = 0;
        sl->byte_count = 0;
        sl->window_start_us = now;
    }
    if (channel == GV_CH_VOICE && m->type == GV_MSG_VOICE)
        sl->voice_us += voice_duration_us(m);
    else if (m->type == GV_MSG_POSITION)
        sl->position_count++;
    else
        sl->control_count++;
    sl->byte_count += bytes;
    if (sl->voice_us > VOICE_BUDGET_US || sl->control_count > CONTROL_PER_SECOND + s->player_count ||
        sl->position_count > POSITIONS_PER_SECOND || sl->byte_count > BYTES_PER_SECOND) {
        sl->over_budget = 1;
        s->stats.over_budget++;
        if (sl->strikes >= BUDGET_STRIKES - 1) {
            drop_player(s, sl, GV_REFUSE_FLOODING);
            refuse(s, sl, GV_REFUSE_FLOODING, "flooding");
        }
        return -1;
    }
    return 0;
}

/* An authenticated message that makes no sense from this player: counted;
 * a player who keeps sending them is broken or hostile and is removed. */
static void malformed(gv_server *s, slot *sl)
{
    s->stats.malformed++;
    if (sl->state != SLOT_PLAYER || ++sl->malformed < MALFORMED_LIMIT)
        return;
    drop_player(s, sl, GV_REFUSE_PROTOCOL);
    refuse(s, sl, GV_REFUSE_PROTOCOL, "too many malformed messages");
}

/* Seals one voice relay for every listener and queues it in ENet. */
static void relay_to_all(gv_server *s, slot *from, const uint8_t *msg, size_t len, int echo, int raw)
{
    int cull = s->spatial.mode != GV_SPATIAL_MODE_OFF && from->has_pose;
    for (int i = 0; i < s->player_count; i++) {
        slot *to = s->players[i];
        if (to == from && !echo)
            continue;
        /* Proximity: nobody is sent a voice they could not hear. A player
         * whose position is not known yet is not culled. */
        if (cull && to != from && to->has_pose &&
            !gv_spatial_audible(&s->spatial, &to->pose, &from->pose, s->cull_margin)) {
            s->stats.culled_packets++;
            continue;
        }
        if (send_sealed(s, to, GV_CH_VOICE, msg, len, raw) == 0)
            s->stats.relayed_packets++;
    }
}

static void release_held(gv_server *s)
{
    for (int i = 0; i < s->held_count; i++)
        relay_to_all(s, s->held[i].from, s->held[i].msg, s->held[i].len, s->held[i].echo, 0);
    s->held_count = 0;
}

static void relay_voice(gv_server *s, slot *from, const gv_msg *m)
{
    gv_msg out = *m;
    out.type = GV_MSG_VOICE_RELAY;
    out.u.voice.sender = from->id;
    out.u.voice.flags &= (uint8_t)~GV_VOICE_ECHO;
    int raw = (m->u.voice.flags & GV_VOICE_RAW) != 0;
    int echo = (m->u.voice.flags & GV_VOICE_ECHO) != 0;
    /* The raw baseline does not fit, and is for benchmarks of its own. */
    int hold = s->coalesce && !raw;
    struct held_voice *h = &s->held[s->held_count];
    uint8_t *buf = hold ? h->msg : s->encoded;
    int n = gv_msg_encode(&out, buf, hold ? sizeof h->msg : sizeof s->encoded);
    if (n < 0) {
        s->stats.malformed++;
        return;
    }
    if (!hold) {
        relay_to_all(s, from, buf, (size_t)n, echo, raw);
        return;
    }
    h->from = from;
    h->echo = echo;
    h->len = (size_t)n;
    if (s->held_count++ == 0)
        s->held_since_us = now_us(s);
    if (s->held_count == HELD_MAX)
        release_held(s);
}

/* A player's new position (the voice channel is unsequenced: an older one
 * arriving late is ignored), relayed to the others at most every
 * POSITION_RELAY_US; flush_poses sends what had to wait. */
static void update_pose(gv_server *s, slot *sl, const gv_msg *m)
{
    if (sl->has_pose && (int16_t)(m->u.position.seq - sl->pose_seq) <= 0)
        return;
    sl->has_pose = 1;
    sl->pose_seq = m->u.position.seq;
    sl->pose = m->u.position.pose;
    uint64_t now = now_us(s);
    if (now - sl->pose_relayed_us >= POSITION_RELAY_US) {
        sl->pose_relayed_us = now;
        sl->pose_pending = 0;
        send_pose(s, sl, NULL);
    } else {
        sl->pose_pending = 1;
    }
}

static void flush_poses(gv_server *s)
{
    uint64_t now = now_us(s);
    for (int i = 0; i < s->player_count; i++) {
        slot *sl = s->players[i];
        if (sl->pose_pending && now - sl->pose_relayed_us >= POSITION_RELAY_US) {
            sl->pose_relayed_us = now;
            sl->pose_pending = 0;
            send_pose(s, sl, NULL);
        }
    }
}

static void handle_sealed(gv_server *s, slot *sl, uint8_t channel, const uint8_t *data, size_t len)
{
    uint8_t *plain = s->plain;
    int n = gv_seal_decrypt(sl->seal, channel, NULL, 0, data, len, plain, sizeof s->plain);
    if (n == GV_EREPLAY) {
        s->stats.replayed++;
        return;
    }
    if (n < 0) {
        s->stats.auth_failed++;
        return;
    }
    gv_msg m;
    if (gv_msg_decode(plain, (size_t)n, &m) != 0) {
        malformed(s, sl);
        return;
    }
    if (sl->state == SLOT_HELLO) {
        if (m.type != GV_MSG_HELLO || channel != GV_CH_CONTROL) {
            s->stats.malformed++;
            return;
        }
        admit_player(s, sl, &m);
        return;
    }
    if (sl->state != SLOT_PLAYER)
        return;
    int raw = m.type == GV_MSG_VOICE && (m.u.voice.flags & GV_VOICE_RAW);
    if (raw && !s->allow_raw) {
        s->stats.malformed++;
        return;
    }
    /* The raw baseline is ten times over any sane byte budget by design;
     * a server lets it through only when told to (benchmarks). */
    if (charge(s, sl, channel, &m, raw ? 0 : len) != 0)
        return;
    if (channel == GV_CH_VOICE && m.type == GV_MSG_VOICE) {
        relay_voice(s, sl, &m);
    } else if (channel == GV_CH_VOICE && m.type == GV_MSG_POSITION) {
        update_pose(s, sl, &m);
    } else if (channel == GV_CH_CONTROL && m.type == GV_MSG_LOSS_REPORT) {
        slot *speaker = find_player(s, m.u.loss.id);
        if (speaker && speaker != sl) {
            m.u.loss.id = sl->id;
            send_msg(s, speaker, &m);
        }
    } else {
        malformed(s, sl);
    }
}

static void handle_handshake(gv_server *s, slot *sl, const uint8_t *data, size_t len)
{
    uint8_t payload[GV_HANDSHAKE_PAD];
    uint8_t reply[1 + GV_NOISE_MSG2_LEN + 1];
    gv_seal_keys keys;
    int got;
    if (len < 1 || data[0] != GV_HANDSHAKE_INIT ||
        (got = gv_noise_read_message(sl->noise, data + 1, len - 1, payload, sizeof payload)) < 0) {
        s->stats.auth_failed++;
        refuse(s, sl, GV_REFUSE_PROTOCOL, "handshake failed");
        return;
    }
    /* The client's offer is the first payload byte (absent: ChaCha20-Poly1305
     * only); the answer travels encrypted in message 2. */
    uint8_t cipher = got >= 1 && (payload[0] & GV_CIPHER_OFFER_AES256GCM) && s->aes ? GV_SEAL_AES256GCM
                                                                                    : GV_SEAL_CHACHA20POLY1305;
    reply[0] = GV_HANDSHAKE_RESP;
    int n = gv_noise_write_message(sl->noise, &cipher, 1, reply + 1, sizeof reply - 1);
    int rc = n < 0 ? n : gv_noise_split(sl->noise, &keys);
    if (rc == 0) {
        keys.cipher = (gv_seal_cipher)cipher;
        rc = gv_seal_create(&keys, &sl->seal);
    }
    if (rc != 0) {
        sodium_memzero(&keys, sizeof keys);
        refuse(s, sl, GV_REFUSE_PROTOCOL, "handshake failed");
        return;
    }
    sodium_memzero(&keys, sizeof keys);
    gv_noise_destroy(sl->noise);
    sl->noise = NULL;
    sl->state = SLOT_HELLO;
    s->stats.handshakes++;
    gv_transport_send(&s->transport, sl->peer, GV_CH_CONTROL, reply, (size_t)n + 1, 0);
}

static void on_connect(gv_server *s, ENetPeer *peer, uint32_t data)
{
    uint8_t pro[6];
    gv_transport_clamp_mtu(peer);
    enet_peer_timeout(peer, 32, 2000, 6000);
    if ((data & 0xff) != (uint32_t)s->protocol_version) {
        /* Tell the client which version we speak; it prints both. */
        s->stats.refused++;
        enet_peer_disconnect_later(peer, GV_REFUSE_VERSION | (uint32_t)s->protocol_version << 8);
        return;
    }
    slot *sl = calloc(1, sizeof *sl);
    prologue(s->protocol_version, pro);
    if (!sl || gv_noise_responder_create(pro, sizeof pro, s->sk, s->pk, &sl->noise) != 0) {
        free(sl);
        enet_peer_reset(peer);
        return;
    }
    sl->peer = peer;
    sl->state = SLOT_HANDSHAKE;
    sl->deadline_us = now_us(s) + HANDSHAKE_TIMEOUT_US;
    peer->data = sl;
}

static void on_disconnect(gv_server *s, ENetPeer *peer)
{
    slot *sl = peer->data;
    if (!sl)
        return;
    if (sl->state == SLOT_PLAYER)
        drop_player(s, sl, 0);
    peer->data = NULL;
    free_slot(sl);
}

static void on_receive(gv_server *s, ENetPeer *peer, uint8_t channel, const uint8_t *data, size_t len)
{
    slot *sl = peer->data;
    if (!sl || sl->state == SLOT_CLOSING)
        return;
    if (sl->state == SLOT_HANDSHAKE) {
        if (channel == GV_CH_CONTROL)
            handle_handshake(s, sl, data, len);
        else
            s->stats.malformed++;
        return;
    }
    handle_sealed(s, sl, channel, data, len);
}

/* A peer that never sent HANDSHAKE_INIT has no seal to hear a reason
 * with: it is dropped at once (one unreliable DISCONNECT), freeing its slot
 * for real players. One that finished the handshake but sent no HELLO is
 * told why. */
static void expire_handshakes(gv_server *s)
{
    uint64_t now = now_us(s);
    if (now - s->last_expiry_us < EXPIRY_INTERVAL_US)
        return;
    s->last_expiry_us = now;
    for (size_t i = 0; i < s->transport.host->peerCount; i++) {
        ENetPeer *peer = &s->transport.host->peers[i];
        slot *sl = peer->data;
        if (!sl)
            continue;
        if (sl->state == SLOT_HANDSHAKE && now > sl->deadline_us - HANDSHAKE_TIMEOUT_US + INIT_TIMEOUT_US) {
            peer->data = NULL;
            enet_peer_disconnect_now(peer, GV_REFUSE_TIMEOUT);
            free_slot(sl);
            s->stats.refused++;
        } else if (sl->state == SLOT_HELLO && now > sl->deadline_us) {
            refuse(s, sl, GV_REFUSE_TIMEOUT, "handshake timed out");
        }
    }
}

int gv_server_create(const gv_server_config *cfg, gv_server **out, char *why, size_t why_len)
{
    return gv_server_create_with_version(cfg, 0, out, why, why_len);
}

int gv_server_create_with_version(const gv_server_config *cfg, int protocol_version, gv_server **out, char *why,
                                  size_t why_len)
{
    int rc = GV_EINVAL;
    gv_server *s = NULL;
    char path[4096];
    if (why && why_len)
        why[0] = '\0';
    if (out)
        *out = NULL;
    /* Every size published so far: this one. */
    if (!cfg || !out || cfg->size != sizeof *cfg || cfg->max_players < 1 || cfg->max_players > GV_MAX_PLAYERS ||
        cfg->password_len > GV_PASSWORD_MAX || (cfg->password_len && !cfg->password) || !cfg->clock.now_us ||
        protocol_version < 0 || protocol_version > 255 || cfg->relay_hold_us < 0 ||
        cfg->relay_hold_us > MAX_HOLD_US || cfg->relay_hold_rate < 0 ||
        (cfg->cipher != GV_CIPHER_AUTO && cfg->cipher != GV_CIPHER_CHACHA20POLY1305))
        goto out;
    rc = GV_ENOMEM;
    s = calloc(1, sizeof *s);
    if (!s)
        goto out;
    s->players = calloc(GV_MAX_PLAYERS, sizeof *s->players);
    if (!s->players)
        goto out;
    s->clock = cfg->clock;
    s->max_players = cfg->max_players;
    s->local_host = cfg->local_host;
    s->allow_raw = cfg->allow_raw;
    s->hold_us = (uint64_t)cfg->relay_hold_us;
    s->hold_rate = (uint64_t)cfg->relay_hold_rate;
    s->aes = cfg->cipher == GV_CIPHER_AUTO && gv_seal_aes256gcm_available();
    if (spatial_from_config(&cfg->spatial, &s->spatial) != 0) {
        rc = GV_EINVAL;
        if (why)
            snprintf(why, why_len, "the positional settings are out of range");
        goto out;
    }
    /* Room for motion between two position updates. */
    s->cull_margin = s->spatial.max_distance * 0.1f > 2.0f ? s->spatial.max_distance * 0.1f : 2.0f;
    s->protocol_version = protocol_version ? protocol_version : GV_PROTOCOL_VERSION;
    s->next_id = 2;
    if (cfg->password_len) {
        s->has_password = 1;
        crypto_generichash(s->password_hash, sizeof s->password_hash, cfg->password, cfg->password_len, NULL, 0);
    }
    randombytes_buf(s->host_token, sizeof s->host_token);
    randombytes_buf(s->attempt_key, sizeof s->attempt_key);
    randombytes_buf(s->cookie_key, sizeof s->cookie_key);
    s->cookie_rotated_us = now_us(s);

    if (cfg->key_file) {
        snprintf(path, sizeof path, "%s", cfg->key_file);
    } else if ((rc = gv_keyfile_default_path(path, sizeof path)) < 0) {
        if (why)
            snprintf(why, why_len, "no place for the server key: set HOME or use --key FILE");
        goto out;
    }
    int created = 0;
    rc = gv_keyfile_load_or_create(path, s->sk, s->pk, &created, why, why_len);
    if (rc < 0)
        goto out;

    size_t peers = (size_t)s->max_players + HALF_OPEN_TOTAL + 8;
    rc = gv_transport_listen(&s->transport, cfg->bind_address, cfg->port, peers);
    if (rc < 0) {
        if (why)
            snprintf(why, why_len, "cannot listen on UDP port %u", (unsigned)cfg->port);
        goto out;
    }
    s->transport.admit = admit;
    s->transport.admit_ctx = s;

    gv_event *ev = gv_events_push(&s->events, GV_EVENT_LISTENING);
    ev->port = gv_transport_port(&s->transport);
    gv_keyfile_fingerprint(s->pk, ev->fingerprint);
    ev->first_use = created;
    *out = s;
    s = NULL;
    rc = 0;
out:
    gv_server_destroy(s);
    return rc;
}

void gv_server_destroy(gv_server *s)
{
    if (!s)
        return;
    if (s->transport.host) {
        ENetHost *host = s->transport.host;
        for (size_t i = 0; i < host->peerCount; i++)
            if (host->peers[i].state == ENET_PEER_STATE_CONNECTED)
                enet_peer_disconnect(&host->peers[i], GV_REFUSE_SHUTDOWN);
        /* Give the disconnects a moment to leave, so clients hear of it at
         * once instead of timing out. */
        ENetEvent ev;
        for (int i = 0; i < 10 && gv_transport_service(&s->transport, &ev, 20) >= 0;)
            if (ev.type == ENET_EVENT_TYPE_NONE)
                i++;
        for (size_t i = 0; i < host->peerCount; i++) {
            free_slot(host->peers[i].data);
            host->peers[i].data = NULL;
        }
        gv_transport_close(&s->transport);
    }
    sodium_memzero(s->sk, sizeof s->sk);
    free(s->players);
    free(s);
}

int gv_server_fd(const gv_server *s)
{
    return s ? gv_transport_fd(&s->transport) : GV_EINVAL;
}

int gv_server_port(const gv_server *s)
{
    return s ? gv_transport_port(&s->transport) : GV_EINVAL;
}

int gv_server_fingerprint(const gv_server *s, char *out, size_t len)
{
    if (!s || !out)
        return GV_EINVAL;
    if (len < GV_KEYFILE_FINGERPRINT_LEN) {
        if (len)
            out[0] = '\0';
        return GV_ETOOBIG;
    }
    char fp[GV_KEYFILE_FINGERPRINT_LEN];
    gv_keyfile_fingerprint(s->pk, fp);
    memcpy(out, fp, sizeof fp);
    return 0;
}

const uint8_t *gv_server_host_token(const gv_server *s)
{
    return s ? s->host_token : NULL;
}

int gv_server_get_stats(const gv_server *s, gv_server_stats *out)
{
    /* Every size published so far: this one. */
    if (!s || !out || out->size < sizeof *out)
        return GV_EINVAL;
    *out = s->stats;
    out->size = sizeof *out;
    out->datagrams_in = s->transport.stats.datagrams_in;
    out->datagrams_out = s->transport.stats.datagrams_out;
    out->bytes_in = s->transport.stats.bytes_in;
    out->bytes_out = s->transport.stats.bytes_out;
    out->max_datagram_bytes = s->transport.stats.max_datagram_out;
    out->events_dropped = s->events.overwritten;
    return 0;
}

static void update_rate(gv_server *s, uint64_t now)
{
    uint64_t elapsed = now - s->rate_start_us;
    if (elapsed < RATE_PERIOD_US)
        return;
    uint64_t per_second = (s->stats.relayed_packets - s->rate_relayed) * 1000000u / elapsed;
    s->coalesce = s->hold_us > 0 && per_second >= (s->coalesce ? s->hold_rate * 3 / 4 : s->hold_rate);
    s->rate_start_us = now;
    s->rate_relayed = s->stats.relayed_packets;
}

/* Handles what ENet has received (waiting up to timeout_ms for the first
 * of it): up to 256 events. */
static int drain(gv_server *s, uint32_t timeout_ms)
{
    ENetEvent e;
    int rc = gv_transport_service(&s->transport, &e, timeout_ms);
    for (int budget = 256; rc > 0 && budget > 0; budget--) {
        switch (e.type) {
        case ENET_EVENT_TYPE_CONNECT:
            on_connect(s, e.peer, e.data);
            break;
        case ENET_EVENT_TYPE_DISCONNECT:
            on_disconnect(s, e.peer);
            break;
        case ENET_EVENT_TYPE_RECEIVE:
            if (e.packet->dataLength > 0)
                on_receive(s, e.peer, e.channelID, e.packet->data, e.packet->dataLength);
            enet_packet_destroy(e.packet);
            break;
        default:
            break;
        }
        rc = gv_transport_pending(&s->transport, &e);
    }
    return rc < 0 ? rc : 0;
}

int gv_server_service(gv_server *s, gv_event *ev, uint32_t timeout_ms)
{
    if (!s || !ev || ev->size < GV_EVENT_SIZE_MIN)
        return GV_EINVAL;
    if (gv_events_pop(&s->events, ev))
        return 1;
    uint64_t end = now_us(s) + (uint64_t)timeout_ms * 1000u;
    int rc = drain(s, timeout_ms);
    /* Held voice waits within this call only, for at most hold_us and
     * never past the caller's timeout: a caller that polls with 0 is
     * never made to wait, and nothing is held between two calls. The
     * wait is finer than ENet's milliseconds. */
    for (int waits = 0; rc == 0 && s->held_count > 0 && s->held_count < COALESCE_BATCH && waits < HELD_MAX;
         waits++) {
        uint64_t now = now_us(s), due = s->held_since_us + s->hold_us;
        if (due > end)
            due = end;
        if (now >= due || !gv_transport_wait(&s->transport, due - now))
            break;
        rc = drain(s, 0);
    }
    /* Relayed after everything that arrived in this call: ENet puts all of
     * a pass's commands to a peer into one datagram. */
    release_held(s);
    if (rc < 0)
        return rc;
    expire_handshakes(s);
    flush_poses(s);
    update_rate(s, now_us(s));
    gv_transport_flush(&s->transport);
    return gv_events_pop(&s->events, ev);
}
