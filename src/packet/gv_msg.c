#include "packet/gv_msg.h"

#include <math.h>
#include <string.h>

#include "gvoip/error.h"

/* Names the server assigned must be valid; a HELLO's requested name is
 * checked by the server instead, so that it can say what is wrong. */
static void read_name_unchecked(gv_reader *r, gv_msg_name *name)
{
    name->len = gv_read_u8(r);
    name->bytes = (const char *)gv_read_bytes(r, name->len);
}

static void read_name(gv_reader *r, gv_msg_name *name)
{
    read_name_unchecked(r, name);
    if (!r->err && gv_name_check_assigned(name->bytes, name->len, NULL) != 0)
        r->err = GV_EMALFORMED;
}

static void write_name(gv_writer *w, const char *bytes, size_t len)
{
    if (len > UINT8_MAX) {
        w->err = GV_EINVAL;
        return;
    }
    gv_write_u8(w, (uint8_t)len);
    gv_write_bytes(w, bytes, len);
}

static void read_voice(gv_reader *r, gv_msg *m)
{
    m->u.voice.seq = gv_read_u16(r);
    m->u.voice.ts = gv_read_u32(r);
    m->u.voice.flags = gv_read_u8(r);
    size_t left = gv_reader_remaining(r);
    /* Opus travels in voice datagrams (gv_datagram); ENet carries only the
     * raw baseline, which needs its fragmentation. */
    if (!(m->u.voice.flags & GV_VOICE_RAW) || left == 0 || left > GV_RAW_PAYLOAD) {
        r->err = GV_EMALFORMED;
        return;
    }
    m->u.voice.len = (uint16_t)left;
    m->u.voice.payload = gv_read_bytes(r, left);
    size_t primary, copy_len;
    const uint8_t *copy;
    if (m->u.voice.payload &&
        gv_voice_split(m->u.voice.payload, left, m->u.voice.flags, &primary, &copy, &copy_len) < 0)
        r->err = GV_EMALFORMED;
}

int gv_voice_split(const uint8_t *payload, size_t len, uint8_t flags, size_t *primary_len,
                   const uint8_t **copy, size_t *copy_len)
{
    if (!payload || len == 0 || !primary_len || !copy || !copy_len)
        return GV_EMALFORMED;
    *primary_len = len;
    *copy = NULL;
    *copy_len = 0;
    if (!(flags & GV_VOICE_REDUNDANT))
        return 0;
    size_t n = payload[len - 1];
    if ((flags & GV_VOICE_RAW) || n == 0 || len < n + 2)
        return GV_EMALFORMED;
    *primary_len = len - 1 - n;
    *copy = payload + *primary_len;
    *copy_len = n;
    return 0;
}

int gv_voice_join(uint8_t *out, size_t cap, const uint8_t *packet, size_t len, const uint8_t *copy,
                  size_t copy_len)
{
    if (!out || !packet || !copy || len == 0 || copy_len == 0 || copy_len > GV_VOICE_REDUNDANT_MAX)
        return GV_EINVAL;
    size_t total = len + copy_len + 1;
    if (total > cap || total > GV_VOICE_PAYLOAD_MAX)
        return GV_ETOOBIG;
    memcpy(out, packet, len);
    memcpy(out + len, copy, copy_len);
    out[len + copy_len] = (uint8_t)copy_len;
    return (int)total;
}

/* IEEE-754 binary32, big-endian like every other field. */
static float read_f32(gv_reader *r)
{
    uint32_t bits = gv_read_u32(r);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void write_f32(gv_writer *w, float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    gv_write_u32(w, bits);
}

static int coordinate_ok(float f)
{
    return isfinite(f) && fabsf(f) <= GV_POSITION_MAX;
}

static int pose_ok(const gv_player_pose *p)
{
    const float f[] = {p->x, p->y, p->z, p->fx, p->fy, p->fz};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!coordinate_ok(f[i]))
            return 0;
    return 1;
}

static void read_pose(gv_reader *r, gv_player_pose *p)
{
    p->x = read_f32(r);
    p->y = read_f32(r);
    p->z = read_f32(r);
    p->fx = read_f32(r);
    p->fy = read_f32(r);
    p->fz = read_f32(r);
    if (!r->err && !pose_ok(p))
        r->err = GV_EMALFORMED;
}

static void write_pose(gv_writer *w, const gv_player_pose *p)
{
    write_f32(w, p->x);
    write_f32(w, p->y);
    write_f32(w, p->z);
    write_f32(w, p->fx);
    write_f32(w, p->fy);
    write_f32(w, p->fz);
}

static int spatial_ok(const gv_spatial_config *c)
{
    const float f[] = {c->unit_size,   c->max_distance,     c->volume_db, c->max_db,
                       c->attenuation, c->panning_strength, c->pan_width};
    if (c->mode < GV_SPATIAL_MODE_OFF || c->mode > GV_SPATIAL_MODE_3D || c->model < GV_ATTENUATION_INVERSE ||
        c->model > GV_ATTENUATION_DISABLED || (c->godot_pan != 0 && c->godot_pan != 1))
        return 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!isfinite(f[i]))
            return 0;
    return 1;
}

static void read_spatial(gv_reader *r, gv_spatial_config *c)
{
    c->mode = gv_read_u8(r);
    c->model = gv_read_u8(r);
    uint8_t flags = gv_read_u8(r);
    c->godot_pan = (flags & GV_SPATIAL_FLAG_GODOT_PAN) != 0;
    c->unit_size = read_f32(r);
    c->max_distance = read_f32(r);
    c->volume_db = read_f32(r);
    c->max_db = read_f32(r);
    c->attenuation = read_f32(r);
    c->panning_strength = read_f32(r);
    c->pan_width = read_f32(r);
    if (!r->err && ((flags & ~GV_SPATIAL_FLAG_GODOT_PAN) || !spatial_ok(c)))
        r->err = GV_EMALFORMED;
}

static void write_spatial(gv_writer *w, const gv_spatial_config *c)
{
    gv_write_u8(w, (uint8_t)c->mode);
    gv_write_u8(w, (uint8_t)c->model);
    gv_write_u8(w, c->godot_pan ? GV_SPATIAL_FLAG_GODOT_PAN : 0);
    write_f32(w, c->unit_size);
    write_f32(w, c->max_distance);
    write_f32(w, c->volume_db);
    write_f32(w, c->max_db);
    write_f32(w, c->attenuation);
    write_f32(w, c->panning_strength);
    write_f32(w, c->pan_width);
}

static uint64_t read_u48(gv_reader *r)
{
    uint64_t hi = gv_read_u16(r);
    return hi << 32 | gv_read_u32(r);
}

static void write_u48(gv_writer *w, uint64_t v)
{
    gv_write_u16(w, (uint16_t)(v >> 32));
    gv_write_u32(w, (uint32_t)v);
}

int gv_msg_next_player(gv_reader *list, gv_msg_player *out)
{
    gv_msg_name n;
    out->id = gv_read_u16(list);
    read_name(list, &n);
    out->slot = gv_read_u8(list);
    out->epoch = gv_read_u32(list);
    out->next = read_u48(list);
    if (list->err)
        return GV_EMALFORMED;
    memcpy(out->name, n.bytes, n.len);
    out->name[n.len] = '\0';
    return 0;
}

int gv_msg_decode(const uint8_t *data, size_t len, gv_msg *out)
{
    if (!data || !out)
        return GV_EINVAL;
    memset(out, 0, sizeof *out);
    gv_reader r;
    gv_reader_init(&r, data, len);
    out->type = gv_read_u8(&r);
    switch (out->type) {
    case GV_MSG_HELLO:
        read_name_unchecked(&r, &out->u.hello.name);
        out->u.hello.password_len = gv_read_u8(&r);
        if (out->u.hello.password_len > GV_PASSWORD_MAX)
            r.err = GV_EMALFORMED;
        out->u.hello.password = gv_read_bytes(&r, out->u.hello.password_len);
        out->u.hello.host_token_len = gv_read_u8(&r);
        if (out->u.hello.host_token_len != 0 && out->u.hello.host_token_len != GV_HOST_TOKEN_LEN)
            r.err = GV_EMALFORMED;
        out->u.hello.host_token = gv_read_bytes(&r, out->u.hello.host_token_len);
        out->u.hello.resume_len = gv_read_u8(&r);
        if (out->u.hello.resume_len != 0 && out->u.hello.resume_len != GV_RESUME_SECRET_LEN)
            r.err = GV_EMALFORMED;
        out->u.hello.resume = gv_read_bytes(&r, out->u.hello.resume_len);
        out->u.hello.lobby.len = gv_read_u8(&r);
        if (out->u.hello.lobby.len > GV_LOBBY_NAME_MAX)
            r.err = GV_EMALFORMED;
        out->u.hello.lobby.bytes = (const char *)gv_read_bytes(&r, out->u.hello.lobby.len);
        out->u.hello.access_len = gv_read_u8(&r);
        out->u.hello.access = gv_read_bytes(&r, out->u.hello.access_len);
        break;
    case GV_MSG_WELCOME: {
        out->u.welcome.id = gv_read_u16(&r);
        read_name(&r, &out->u.welcome.name);
        out->u.welcome.index = gv_read_u16(&r);
        out->u.welcome.slot = gv_read_u8(&r);
        out->u.welcome.epoch = gv_read_u32(&r);
        out->u.welcome.flags = gv_read_u8(&r);
        if (out->u.welcome.flags & ~GV_WELCOME_RESUMED)
            r.err = GV_EMALFORMED;
        out->u.welcome.resume = gv_read_bytes(&r, GV_RESUME_SECRET_LEN);
        out->u.welcome.count = gv_read_u16(&r);
        if (out->u.welcome.count > GV_MAX_PLAYERS)
            r.err = GV_EMALFORMED;
        out->u.welcome.players = r.err ? NULL : r.data + r.pos;
        size_t start = r.pos;
        for (uint16_t i = 0; i < out->u.welcome.count && !r.err; i++) {
            gv_msg_player p;
            (void)gv_msg_next_player(&r, &p);
        }
        out->u.welcome.players_len = r.err ? 0 : r.pos - start;
        break;
    }
    case GV_MSG_PLAYER_JOINED:
        out->u.player.id = gv_read_u16(&r);
        read_name(&r, &out->u.player.name);
        out->u.player.slot = gv_read_u8(&r);
        out->u.player.epoch = gv_read_u32(&r);
        break;
    case GV_MSG_PLAYER_LEFT:
    case GV_MSG_PLAYER_AWAY:
        out->u.player.id = gv_read_u16(&r);
        break;
    case GV_MSG_PLAYER_BACK:
        out->u.player.id = gv_read_u16(&r);
        out->u.player.slot = gv_read_u8(&r);
        out->u.player.epoch = gv_read_u32(&r);
        break;
    case GV_MSG_MUTE_FOR_ALL:
    case GV_MSG_PLAYER_MUTED:
        out->u.mute.id = gv_read_u16(&r);
        out->u.mute.on = gv_read_u8(&r);
        if (out->u.mute.on > 1 || out->u.mute.id == 0)
            r.err = GV_EMALFORMED;
        if (out->type == GV_MSG_PLAYER_MUTED && (out->u.mute.by = gv_read_u16(&r)) == 0)
            r.err = GV_EMALFORMED;
        break;
    case GV_MSG_REDIRECT:
        if ((out->u.redirect.port = gv_read_u16(&r)) == 0)
            r.err = GV_EMALFORMED;
        out->u.redirect.host_len = 0;
        out->u.redirect.host = NULL;
        if (r.err == 0 && gv_reader_remaining(&r) > 0) { /* another node's host follows */
            out->u.redirect.host_len = gv_read_u8(&r);
            out->u.redirect.host = (const char *)gv_read_bytes(&r, out->u.redirect.host_len);
            if (r.err == 0 && (out->u.redirect.host_len == 0 ||
                               !gv_msg_host_ok(out->u.redirect.host, out->u.redirect.host_len)))
                r.err = GV_EMALFORMED;
        }
        break;
    case GV_MSG_REFUSE:
        out->u.refuse.code = gv_read_u8(&r);
        out->u.refuse.len = gv_read_u8(&r);
        if (out->u.refuse.len > GV_REASON_MAX)
            r.err = GV_EMALFORMED;
        out->u.refuse.text = (const char *)gv_read_bytes(&r, out->u.refuse.len);
        break;
    case GV_MSG_LOSS_REPORT:
        out->u.loss.id = gv_read_u16(&r);
        out->u.loss.loss_permille = gv_read_u16(&r);
        if (out->u.loss.loss_permille > 1000)
            r.err = GV_EMALFORMED;
        break;
    case GV_MSG_VOICE_RELAY:
        out->u.voice.sender = gv_read_u16(&r);
        read_voice(&r, out);
        break;
    case GV_MSG_VOICE:
        read_voice(&r, out);
        break;
    case GV_MSG_POSITION_RELAY:
    case GV_MSG_POSITION:
        if (out->type == GV_MSG_POSITION_RELAY)
            out->u.position.sender = gv_read_u16(&r);
        out->u.position.seq = gv_read_u16(&r);
        read_pose(&r, &out->u.position.pose);
        break;
    case GV_MSG_SPATIAL_CONFIG:
        read_spatial(&r, &out->u.spatial);
        break;
    case GV_MSG_PLAYER_RTT:
        out->u.rtt.count = gv_read_u16(&r);
        if (out->u.rtt.count > GV_MAX_PLAYERS)
            r.err = GV_EMALFORMED;
        out->u.rtt.entries = gv_read_bytes(&r, (size_t)out->u.rtt.count * 4);
        break;
    default:
        return r.err ? GV_EMALFORMED : GV_EUNKNOWN;
    }
    if (!r.err && gv_reader_remaining(&r) != 0)
        r.err = GV_EMALFORMED;
    return r.err ? GV_EMALFORMED : 0;
}

int gv_msg_encode(const gv_msg *m, uint8_t *out, size_t cap)
{
    if (!m || !out)
        return GV_EINVAL;
    gv_writer w;
    gv_writer_init(&w, out, cap);
    gv_write_u8(&w, m->type);
    switch (m->type) {
    case GV_MSG_HELLO:
        write_name(&w, m->u.hello.name.bytes, m->u.hello.name.len);
        if (m->u.hello.password_len > GV_PASSWORD_MAX ||
            (m->u.hello.host_token_len != 0 && m->u.hello.host_token_len != GV_HOST_TOKEN_LEN) ||
            (m->u.hello.resume_len != 0 && m->u.hello.resume_len != GV_RESUME_SECRET_LEN) ||
            m->u.hello.lobby.len > GV_LOBBY_NAME_MAX || (m->u.hello.lobby.len && !m->u.hello.lobby.bytes) ||
            (m->u.hello.access_len && !m->u.hello.access))
            return GV_EINVAL;
        gv_write_u8(&w, m->u.hello.password_len);
        gv_write_bytes(&w, m->u.hello.password, m->u.hello.password_len);
        gv_write_u8(&w, m->u.hello.host_token_len);
        gv_write_bytes(&w, m->u.hello.host_token, m->u.hello.host_token_len);
        gv_write_u8(&w, m->u.hello.resume_len);
        gv_write_bytes(&w, m->u.hello.resume, m->u.hello.resume_len);
        gv_write_u8(&w, m->u.hello.lobby.len);
        gv_write_bytes(&w, m->u.hello.lobby.bytes, m->u.hello.lobby.len);
        gv_write_u8(&w, m->u.hello.access_len);
        gv_write_bytes(&w, m->u.hello.access, m->u.hello.access_len);
        break;
    case GV_MSG_PLAYER_JOINED:
        gv_write_u16(&w, m->u.player.id);
        write_name(&w, m->u.player.name.bytes, m->u.player.name.len);
        gv_write_u8(&w, m->u.player.slot);
        gv_write_u32(&w, m->u.player.epoch);
        break;
    case GV_MSG_PLAYER_LEFT:
    case GV_MSG_PLAYER_AWAY:
        gv_write_u16(&w, m->u.player.id);
        break;
    case GV_MSG_PLAYER_BACK:
        gv_write_u16(&w, m->u.player.id);
        gv_write_u8(&w, m->u.player.slot);
        gv_write_u32(&w, m->u.player.epoch);
        break;
    case GV_MSG_MUTE_FOR_ALL:
    case GV_MSG_PLAYER_MUTED:
        if (m->u.mute.on > 1 || m->u.mute.id == 0 || (m->type == GV_MSG_PLAYER_MUTED && m->u.mute.by == 0))
            return GV_EINVAL;
        gv_write_u16(&w, m->u.mute.id);
        gv_write_u8(&w, m->u.mute.on);
        if (m->type == GV_MSG_PLAYER_MUTED)
            gv_write_u16(&w, m->u.mute.by);
        break;
    case GV_MSG_REDIRECT:
        if (m->u.redirect.port == 0 || (m->u.redirect.host_len && !gv_msg_host_ok(m->u.redirect.host, m->u.redirect.host_len)))
            return GV_EINVAL;
        gv_write_u16(&w, m->u.redirect.port);
        if (m->u.redirect.host_len) {
            gv_write_u8(&w, m->u.redirect.host_len);
            gv_write_bytes(&w, m->u.redirect.host, m->u.redirect.host_len);
        }
        break;
    case GV_MSG_REFUSE:
        if (m->u.refuse.len > GV_REASON_MAX)
            return GV_EINVAL;
        gv_write_u8(&w, m->u.refuse.code);
        gv_write_u8(&w, m->u.refuse.len);
        gv_write_bytes(&w, m->u.refuse.text, m->u.refuse.len);
        break;
    case GV_MSG_LOSS_REPORT:
        if (m->u.loss.loss_permille > 1000)
            return GV_EINVAL;
        gv_write_u16(&w, m->u.loss.id);
        gv_write_u16(&w, m->u.loss.loss_permille);
        break;
    case GV_MSG_VOICE_RELAY:
    case GV_MSG_VOICE: {
        if (!(m->u.voice.flags & GV_VOICE_RAW) || (m->u.voice.flags & GV_VOICE_REDUNDANT) ||
            m->u.voice.len == 0 || m->u.voice.len > GV_RAW_PAYLOAD || !m->u.voice.payload)
            return GV_EINVAL;
        if (m->type == GV_MSG_VOICE_RELAY)
            gv_write_u16(&w, m->u.voice.sender);
        gv_write_u16(&w, m->u.voice.seq);
        gv_write_u32(&w, m->u.voice.ts);
        gv_write_u8(&w, m->u.voice.flags);
        gv_write_bytes(&w, m->u.voice.payload, m->u.voice.len);
        break;
    }
    case GV_MSG_POSITION_RELAY:
    case GV_MSG_POSITION:
        if (!pose_ok(&m->u.position.pose))
            return GV_EINVAL;
        if (m->type == GV_MSG_POSITION_RELAY)
            gv_write_u16(&w, m->u.position.sender);
        gv_write_u16(&w, m->u.position.seq);
        write_pose(&w, &m->u.position.pose);
        break;
    case GV_MSG_SPATIAL_CONFIG:
        if (!spatial_ok(&m->u.spatial))
            return GV_EINVAL;
        write_spatial(&w, &m->u.spatial);
        break;
    default:
        return GV_EINVAL;
    }
    return w.err ? w.err : (int)w.pos;
}

int gv_msg_encode_welcome(const gv_msg_welcome_self *self, uint16_t count, const gv_msg_player *players,
                          uint8_t *out, size_t cap)
{
    if (!self || !self->player || !self->resume || (self->flags & ~GV_WELCOME_RESUMED) || !out ||
        count > GV_MAX_PLAYERS || (count && !players))
        return GV_EINVAL;
    const gv_msg_player *me = self->player;
    gv_writer w;
    gv_writer_init(&w, out, cap);
    gv_write_u8(&w, GV_MSG_WELCOME);
    gv_write_u16(&w, me->id);
    write_name(&w, me->name, strlen(me->name));
    gv_write_u16(&w, self->index);
    gv_write_u8(&w, me->slot);
    gv_write_u32(&w, me->epoch);
    gv_write_u8(&w, self->flags);
    gv_write_bytes(&w, self->resume, GV_RESUME_SECRET_LEN);
    gv_write_u16(&w, count);
    for (uint16_t i = 0; i < count; i++) {
        if (players[i].next >= GV_VOICE_COUNTER_LIMIT)
            return GV_EINVAL;
        gv_write_u16(&w, players[i].id);
        write_name(&w, players[i].name, strlen(players[i].name));
        gv_write_u8(&w, players[i].slot);
        gv_write_u32(&w, players[i].epoch);
        write_u48(&w, players[i].next);
    }
    return w.err ? w.err : (int)w.pos;
}

int gv_msg_encode_rtt(uint16_t count, const uint16_t *ids, const uint16_t *rtt_ms, uint8_t *out, size_t cap)
{
    if (!out || count > GV_MAX_PLAYERS || (count && (!ids || !rtt_ms)))
        return GV_EINVAL;
    gv_writer w;
    gv_writer_init(&w, out, cap);
    gv_write_u8(&w, GV_MSG_PLAYER_RTT);
    gv_write_u16(&w, count);
    for (uint16_t i = 0; i < count; i++) {
        gv_write_u16(&w, ids[i]);
        gv_write_u16(&w, rtt_ms[i]);
    }
    return w.err ? w.err : (int)w.pos;
}

int gv_msg_next_rtt(gv_reader *list, uint16_t *id, uint16_t *rtt_ms)
{
    *id = gv_read_u16(list);
    *rtt_ms = gv_read_u16(list);
    return list->err ? GV_EMALFORMED : 0;
}

const char *gv_refuse_text(int code)
{
    switch (code) {
    case GV_REFUSE_VERSION: return "protocol version mismatch";
    case GV_REFUSE_FULL: return "lobby is full";
    case GV_REFUSE_NAME: return "name not acceptable";
    case GV_REFUSE_PASSWORD: return "wrong password";
    case GV_REFUSE_RATE_LIMIT: return "too many attempts, try again later";
    case GV_REFUSE_FLOODING: return "flooding";
    case GV_REFUSE_PROTOCOL: return "protocol error";
    case GV_REFUSE_SHUTDOWN: return "server shutting down";
    case GV_REFUSE_TIMEOUT: return "handshake timed out";
    case GV_REFUSE_RESUME: return "the session could not be resumed";
    case GV_REFUSE_REPLACED: return "the session was resumed on another connection";
    case GV_REFUSE_CLOSED: return "the host ended the lobby";
    case GV_REFUSE_LOBBY: return "no such lobby may be opened";
    case GV_REFUSE_TOKEN: return "access token refused";
    case GV_REFUSE_REDIRECT: return "the lobby is served on another port";
    case GV_REFUSE_MOVED: return "the lobby moved to another server of the fleet";
    }
    return "refused";
}

int gv_msg_host_ok(const char *host, size_t len)
{
    if (!host || len == 0 || len > 255)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_' || c == ':'))
            return 0;
    }
    return 1;
}
