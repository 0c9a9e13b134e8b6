/* The lobby's players: scenario tables of joins, leaves, look-ups and
 * resumes, each step with what it must give (id, name, voice slot, epoch,
 * the WELCOME roster, who holds a secret, who is away). Every member's
 * owner is the step that joined or resumed it, which also says the
 * counter of its next voice packet, as a server's seal window would.
 * Besides each step's own checks, every join and every resume must get an
 * epoch above all before it; a join lands last in join order, a resume
 * keeps the member where it was. A secret here is 32 copies of one
 * byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gvoip/error.h"
#include "session/gv_lobby.h"

enum op {
    OP_END,
    OP_JOIN,
    OP_LEAVE,
    OP_FIND,
    OP_SLOT,
    OP_ROSTER,
    OP_COUNT,
    OP_CYCLE,
    OP_FILL,
    OP_AWAY,
    OP_AWAY_COUNT,
    OP_EXPIRED,
    OP_RESUME,
    OP_BY_SECRET,
    OP_CONFIRM,
};

typedef struct step {
    enum op op;
    const char *name; /* JOIN, FILL: the name asked for; ROSTER: the entries expected */
    int host;         /* JOIN: the id asked for: 0 the next free, 1 the host's, else a token's fixed id */
    int want;         /* JOIN: the return code; COUNT, AWAY_COUNT: the count; CYCLE, FILL: how many */
    int id;           /* JOIN: the id given; LEAVE, FIND, AWAY, CONFIRM: whose; SLOT, EXPIRED, BY_SECRET: whose
                       * (0: nobody); ROSTER: self (0: none); RESUME: whose */
    int slot;         /* JOIN, RESUME: the slot given; FIND: theirs (-1: not found); SLOT: which */
    uint32_t epoch;   /* JOIN, RESUME: the epoch given */
    const char *as;   /* JOIN: the name given (NULL: as asked) */
    uint64_t next;    /* JOIN: the counter the owner reports */
    uint8_t secret;   /* JOIN: the member's (0: one no step asks for); RESUME: presented; BY_SECRET: asked for */
    uint8_t fresh;    /* RESUME: the new secret */
    uint64_t time;    /* AWAY: until; EXPIRED: now */
} step;

typedef struct scen {
    const char *name;
    int max_players;
    step steps[32];
} scen;

#define JOIN(name, id, slot, epoch, as) {OP_JOIN, name, 0, 0, id, slot, epoch, as, 0, 0, 0, 0}
#define JOIN_AT(name, id, slot, epoch, next) {OP_JOIN, name, 0, 0, id, slot, epoch, NULL, next, 0, 0, 0}
#define JOIN_S(name, id, slot, epoch, secret) {OP_JOIN, name, 0, 0, id, slot, epoch, NULL, 0, secret, 0, 0}
#define HOST(name, slot, epoch) {OP_JOIN, name, 1, 0, GV_LOBBY_HOST_ID, slot, epoch, NULL, 0, 0, 0, 0}
#define HOST_AT(name, slot, epoch, next) {OP_JOIN, name, 1, 0, GV_LOBBY_HOST_ID, slot, epoch, NULL, next, 0, 0, 0}
#define REFUSED(name, host, rc) {OP_JOIN, name, host, rc, 0, 0, 0, NULL, 0, 0, 0, 0}
#define FIXED(name, id, slot, epoch) {OP_JOIN, name, id, 0, id, slot, epoch, NULL, 0, 0, 0, 0}
#define LEAVE(id) {OP_LEAVE, NULL, 0, 0, id, 0, 0, NULL, 0, 0, 0, 0}
#define FIND(id, slot) {OP_FIND, NULL, 0, 0, id, slot, 0, NULL, 0, 0, 0, 0}
#define SLOT(slot, id) {OP_SLOT, NULL, 0, 0, id, slot, 0, NULL, 0, 0, 0, 0}
/* "id:name:slot:epoch:next" per entry, in join order, without self. */
#define ROSTER(self, text) {OP_ROSTER, text, 0, 0, self, 0, 0, NULL, 0, 0, 0, 0}
#define COUNT(n) {OP_COUNT, NULL, 0, n, 0, 0, 0, NULL, 0, 0, 0, 0}
/* n joins of "cycler", each leaving at once: ids and epochs move on */
#define CYCLE(n) {OP_CYCLE, NULL, 0, n, 0, 0, 0, NULL, 0, 0, 0, 0}
/* n joins of one name, which all stay */
#define FILL(n, name) {OP_FILL, name, 0, n, 0, 0, 0, NULL, 0, 0, 0, 0}
#define AWAY(id, until) {OP_AWAY, NULL, 0, 0, id, 0, 0, NULL, 0, 0, 0, until}
#define AWAY_COUNT(n) {OP_AWAY_COUNT, NULL, 0, n, 0, 0, 0, NULL, 0, 0, 0, 0}
#define EXPIRED(now, id) {OP_EXPIRED, NULL, 0, 0, id, 0, 0, NULL, 0, 0, 0, now}
/* the member holding `secret` resumes with it: id, slot and epoch after */
#define RESUME(secret, fresh, id, slot, epoch) {OP_RESUME, NULL, 0, 0, id, slot, epoch, NULL, 0, secret, fresh, 0}
#define BY_SECRET(secret, id) {OP_BY_SECRET, NULL, 0, 0, id, 0, 0, NULL, 0, secret, 0, 0}
#define CONFIRM(id) {OP_CONFIRM, NULL, 0, 0, id, 0, 0, NULL, 0, 0, 0, 0}
#define END {OP_END, NULL, 0, 0, 0, 0, 0, NULL, 0, 0, 0, 0}

#define A10 "aaaaaaaaaa"
#define A28 A10 A10 "aaaaaaaa"
#define A29 A28 "a"
#define A30 A29 "a"
#define A32 A30 "aa"
#define E_ACUTE "\xc3\xa9"  /* 2 bytes */
#define EURO "\xe2\x82\xac" /* 3 bytes */

static const scen scenarios[] = {
    {"ids: the host 1, others from 2 in join order, none given twice while in use", 8,
     {JOIN("bob", 2, 0, 1, NULL),
      HOST("alice", 1, 2),
      JOIN("carol", 3, 2, 3, NULL),
      REFUSED("mallory", 1, GV_ESTATE), /* a second host */
      COUNT(3),
      LEAVE(2),
      JOIN("dave", 4, 0, 4, NULL), /* 2 is free, but the count moves on */
      LEAVE(1),
      HOST("erin", 1, 5), /* the host's id is the host's again */
      FIND(1, 1),
      FIND(2, -1),
      ROSTER(0, "3:carol:2:3:0 4:dave:0:4:0 1:erin:1:5:0"),
      END}},
    {"ids: past 65535 the count starts again at 2, skipping ids in use", 8,
     {HOST("host", 0, 1),
      JOIN("a", 2, 1, 2, NULL),
      JOIN("b", 3, 2, 3, NULL),
      CYCLE(65535 - 4), /* ids 4..65534, epochs 4..65534, all in slot 3 */
      JOIN("c", 65535, 3, 65535, NULL),
      JOIN("d", 4, 4, 65536, NULL), /* not 0, 1 (the host's), 2 or 3 (in use) */
      LEAVE(3),
      JOIN("e", 5, 2, 65537, NULL), /* 3 is free again, but behind */
      FIND(65535, 3),
      SLOT(2, 5),
      END}},
    {"ids: a token's fixed id is given while free, and skipped by the count", 8,
     {FIXED("t7", 7, 0, 1),
      JOIN("a", 2, 1, 2, NULL),
      REFUSED("t7again", 7, GV_ESTATE), /* in use */
      REFUSED("tok2", 2, GV_ESTATE),    /* an id the count gave */
      FIXED("t3", 3, 2, 3),
      JOIN("b", 4, 3, 4, NULL), /* not 3 */
      LEAVE(7),
      FIXED("t7back", 7, 0, 5),
      FIND(7, 0),
      END}},
    {"ids: wrapping with no host skips 1 even when free", 4,
     {JOIN("a", 2, 0, 1, NULL),
      CYCLE(65535 - 3), /* ids 3..65534 */
      JOIN("b", 65535, 1, 65534, NULL),
      JOIN("c", 3, 2, 65535, NULL),
      END}},
    {"names: a name taken gets the lowest free #N", 8,
     {JOIN("alice", 2, 0, 1, NULL),
      JOIN("alice", 3, 1, 2, "alice#2"),
      JOIN("alice", 4, 2, 3, "alice#3"),
      JOIN("Alice", 5, 3, 4, NULL), /* names differ by their bytes */
      LEAVE(3),
      JOIN("alice", 6, 1, 5, "alice#2"),
      LEAVE(2),
      JOIN("alice", 7, 0, 6, NULL),
      ROSTER(7, "4:alice#3:2:3:0 5:Alice:3:4:0 6:alice#2:1:5:0"),
      END}},
    {"names: 32 bytes are shortened for the suffix on a character boundary", 16,
     {JOIN(A29 E_ACUTE "b", 2, 0, 1, NULL),
      JOIN(A29 E_ACUTE "b", 3, 1, 2, A29 "#2"),   /* not A29 "\xc3#2" */
      JOIN(A29 E_ACUTE "b", 4, 2, 3, A29 "#3"),
      JOIN(A28 EURO "b", 5, 3, 4, NULL),
      JOIN(A28 EURO "b", 6, 4, 5, A28 "#2"),      /* the 3-byte character goes whole */
      JOIN(A30 E_ACUTE, 7, 5, 6, NULL),
      JOIN(A30 E_ACUTE, 8, 6, 7, A30 "#2"),
      JOIN(A32, 9, 7, 8, NULL),
      JOIN(A32, 10, 8, 9, A30 "#3"),              /* A30 "#2" is another's already */
      REFUSED(A32 "a", 0, GV_EINVAL),             /* 33 bytes */
      COUNT(9),
      END}},
    {"names: the suffix grows to #10 and shortens the base again", 10,
     {FILL(9, A32),
      JOIN(A32, 11, 9, 10, A29 "#10"),
      SLOT(8, 10),
      END}},
    {"full: the lobby refuses a join, the host's too, until someone leaves", 2,
     {JOIN("a", 2, 0, 1, NULL),
      JOIN("b", 3, 1, 2, NULL),
      REFUSED("c", 0, GV_EFULL),
      REFUSED("host", 1, GV_EFULL),
      COUNT(2),
      LEAVE(2),
      JOIN("c", 4, 0, 3, NULL), /* a refused join spent no epoch */
      REFUSED("d", 0, GV_EFULL),
      END}},
    {"full: 256 players, slots 0..255", 256,
     {FILL(256, "p"),
      REFUSED("q", 0, GV_EFULL),
      SLOT(255, 257),
      SLOT(0, 2),
      FIND(257, 255),
      LEAVE(100),
      JOIN("q", 258, 98, 257, NULL),
      END}},
    {"slots: the lowest free, reused after a leave; epochs never", 8,
     {JOIN("a", 2, 0, 1, NULL),
      JOIN("b", 3, 1, 2, NULL),
      JOIN("c", 4, 2, 3, NULL),
      JOIN("d", 5, 3, 4, NULL),
      LEAVE(5),
      LEAVE(3),
      JOIN("e", 6, 1, 5, NULL),
      JOIN("f", 7, 3, 6, NULL),
      JOIN("g", 8, 4, 7, NULL),
      SLOT(1, 6),
      SLOT(3, 7),
      SLOT(5, 0),
      SLOT(255, 0), /* beyond the lobby's size */
      FIND(3, -1),
      FIND(5, -1),
      FIND(0, -1),
      FIND(6, 1),
      LEAVE(2),
      SLOT(0, 0),
      JOIN("h", 9, 0, 8, NULL),
      END}},
    {"roster: everyone else in join order with the counters the server passes", 8,
     {HOST_AT("alice", 0, 1, 300),
      JOIN_AT("bob", 2, 1, 2, 0),
      JOIN_AT("carol", 3, 2, 3, 17),
      ROSTER(3, "1:alice:0:1:300 2:bob:1:2:0"),
      ROSTER(1, "2:bob:1:2:0 3:carol:2:3:17"),
      LEAVE(2),
      JOIN_AT("dave", 4, 1, 4, (uint64_t)1 << 47),
      ROSTER(4, "1:alice:0:1:300 3:carol:2:3:17"),
      ROSTER(0, "1:alice:0:1:300 3:carol:2:3:17 4:dave:1:4:140737488355328"),
      LEAVE(1),
      LEAVE(3),
      ROSTER(4, ""),
      END}},
    {"resume: the same id, name, slot and place in join order, a new epoch; none given twice", 4,
     {JOIN_S("a", 2, 0, 1, 0x11),
      JOIN_S("b", 3, 1, 2, 0x22),
      AWAY(3, 1000),
      RESUME(0x22, 0x23, 3, 1, 3),
      AWAY_COUNT(0),
      EXPIRED(5000, 0), /* back: no longer waited for */
      JOIN("c", 4, 2, 4, NULL),
      LEAVE(4),
      RESUME(0x11, 0x12, 2, 0, 5), /* not away: a connection the server had not seen fail */
      JOIN("c", 5, 2, 6, NULL),
      ROSTER(0, "2:a:0:5:0 3:b:1:3:0 5:c:2:6:0"),
      END}},
    {"resume: the secret presented holds until the new session is heard from, then only the new one", 4,
     {JOIN_S("a", 2, 0, 1, 0x11),
      JOIN_S("b", 3, 1, 2, 0x21),
      BY_SECRET(0x11, 2),
      BY_SECRET(0x21, 3),
      BY_SECRET(0x99, 0),
      AWAY(2, 100),
      RESUME(0x11, 0x12, 2, 0, 3),
      BY_SECRET(0x11, 2),
      BY_SECRET(0x12, 2),
      RESUME(0x11, 0x13, 2, 0, 4), /* its WELCOME was lost: again, with what the client still has */
      BY_SECRET(0x12, 0),          /* never delivered, never valid again */
      BY_SECRET(0x11, 2),
      BY_SECRET(0x13, 2),
      CONFIRM(2),
      BY_SECRET(0x11, 0),
      BY_SECRET(0x13, 2),
      RESUME(0x13, 0x14, 2, 0, 5),
      CONFIRM(2),
      CONFIRM(2),
      BY_SECRET(0x13, 0),
      BY_SECRET(0x14, 2),
      CONFIRM(3), /* never resumed: nothing to forget */
      BY_SECRET(0x21, 3),
      LEAVE(2),
      BY_SECRET(0x14, 0),
      END}},
    {"away: members keep their place and count toward capacity until their time", 2,
     {JOIN("a", 2, 0, 1, NULL),
      JOIN("b", 3, 1, 2, NULL),
      AWAY(3, 300),
      AWAY(2, 500),
      AWAY_COUNT(2),
      COUNT(2),
      REFUSED("c", 0, GV_EFULL),
      FIND(2, 0),
      SLOT(1, 3),
      EXPIRED(299, 0),
      EXPIRED(300, 3),
      LEAVE(3), /* what a server does with it */
      AWAY_COUNT(1),
      EXPIRED(499, 0),
      EXPIRED(UINT64_MAX, 2),
      JOIN("c", 4, 1, 3, NULL),
      REFUSED("d", 0, GV_EFULL),
      END}},
};

typedef struct owner {
    uint64_t next;
} owner;

/* The current scenario's lobby, freed by the next run or at the end, so
 * that a failed check (which jumps out) leaks nothing more. */
static gv_lobby *g_lobby;
static owner g_owners[32];
static owner g_filler; /* CYCLE's and FILL's members */

static uint64_t next_of(const void *o)
{
    return ((const owner *)o)->next;
}

static void roster_text(gv_lobby *l, const gv_lobby_member *self, char *out, size_t cap)
{
    int count = -1;
    const gv_msg_player *r = gv_lobby_roster(l, self, next_of, &count);
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < count && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%u:%s:%u:%u:%llu", i ? " " : "", (unsigned)r[i].id,
                                 r[i].name, (unsigned)r[i].slot, (unsigned)r[i].epoch, (unsigned long long)r[i].next);
}

static void secret_of(uint8_t b, uint8_t out[GV_RESUME_SECRET_LEN])
{
    memset(out, b ? b : 0xee, GV_RESUME_SECRET_LEN);
}

/* A join that must succeed, as the lobby's invariants want it. */
static const gv_lobby_member *joined(const scen *sc, int at, const char *name, int host, uint8_t secret, void *o,
                                     uint32_t *last_epoch)
{
    const gv_lobby_member *m = NULL;
    uint8_t s[GV_RESUME_SECRET_LEN];
    secret_of(secret, s);
    int rc = gv_lobby_join(g_lobby, name, strlen(name), host, s, o, &m);
    if (rc != 0 || !m)
        fail_msg("%s: step %d: join \"%s\" gave %d", sc->name, at, name, rc);
    if (m->epoch <= *last_epoch)
        fail_msg("%s: step %d: epoch %u after %u", sc->name, at, (unsigned)m->epoch, (unsigned)*last_epoch);
    *last_epoch = m->epoch;
    if (gv_lobby_at(g_lobby, gv_lobby_count(g_lobby) - 1) != m || m->owner != o)
        fail_msg("%s: step %d: not last in join order, or not its owner's", sc->name, at);
    if (gv_lobby_find(g_lobby, m->id) != m || gv_lobby_by_slot(g_lobby, m->slot) != m)
        fail_msg("%s: step %d: not found by id %u or slot %u", sc->name, at, (unsigned)m->id, (unsigned)m->slot);
    if (m->away)
        fail_msg("%s: step %d: away at its join", sc->name, at);
    return m;
}

static int join_index(const gv_lobby_member *m)
{
    int i = 0;
    while (i < gv_lobby_count(g_lobby) && gv_lobby_at(g_lobby, i) != m)
        i++;
    return i;
}

/* A resume that must succeed: the member is the same (id, name, slot,
 * memory, place in join order), with a new epoch and owner. */
static void resumed(const scen *sc, int at, const step *st, uint32_t *last_epoch)
{
    uint8_t presented[GV_RESUME_SECRET_LEN], fresh[GV_RESUME_SECRET_LEN];
    secret_of(st->secret, presented);
    secret_of(st->fresh, fresh);
    const gv_lobby_member *m = gv_lobby_by_secret(g_lobby, presented);
    if (!m || m->id != st->id)
        fail_msg("%s: step %d: secret 0x%02x is %d's, expected %d's", sc->name, at, st->secret, m ? m->id : 0,
                 st->id);
    char name[sizeof m->name];
    memcpy(name, m->name, sizeof name);
    int count = gv_lobby_count(g_lobby), place = join_index(m);
    int rc = gv_lobby_resume(g_lobby, m, &g_owners[at], presented, fresh);
    if (rc != 0)
        fail_msg("%s: step %d: resume gave %d", sc->name, at, rc);
    if (m->id != st->id || m->slot != st->slot || m->epoch != st->epoch || strcmp(m->name, name) != 0)
        fail_msg("%s: step %d: id %u slot %u epoch %u \"%s\", expected %d %d %u \"%s\"", sc->name, at,
                 (unsigned)m->id, (unsigned)m->slot, (unsigned)m->epoch, m->name, st->id, st->slot,
                 (unsigned)st->epoch, name);
    if (m->epoch <= *last_epoch)
        fail_msg("%s: step %d: epoch %u after %u", sc->name, at, (unsigned)m->epoch, (unsigned)*last_epoch);
    *last_epoch = m->epoch;
    if (m->owner != &g_owners[at] || m->away || gv_lobby_count(g_lobby) != count || join_index(m) != place ||
        gv_lobby_find(g_lobby, m->id) != m || gv_lobby_by_slot(g_lobby, m->slot) != m)
        fail_msg("%s: step %d: not the same member, or not its new owner's", sc->name, at);
}

static void run(const scen *sc)
{
    uint32_t last_epoch = 0;
    char text[4096];
    gv_lobby_destroy(g_lobby);
    g_lobby = NULL;
    assert_int_equal(gv_lobby_create(sc->max_players, &g_lobby), GV_OK);
    assert_int_equal(gv_lobby_capacity(g_lobby), sc->max_players);
    for (const step *st = sc->steps; st->op != OP_END; st++) {
        int at = (int)(st - sc->steps);
        const gv_lobby_member *m;
        switch (st->op) {
        case OP_JOIN:
            if (st->want) {
                int count = gv_lobby_count(g_lobby);
                m = NULL;
                uint8_t secret[GV_RESUME_SECRET_LEN];
                secret_of(st->secret, secret);
                int rc = gv_lobby_join(g_lobby, st->name, strlen(st->name), st->host, secret, &g_owners[at], &m);
                if (rc != st->want || m || gv_lobby_count(g_lobby) != count)
                    fail_msg("%s: step %d: join gave %d, expected %d", sc->name, at, rc, st->want);
                if ((rc == GV_EFULL) != gv_lobby_full(g_lobby))
                    fail_msg("%s: step %d: full says %d", sc->name, at, gv_lobby_full(g_lobby));
                break;
            }
            g_owners[at].next = st->next;
            m = joined(sc, at, st->name, st->host, st->secret, &g_owners[at], &last_epoch);
            const char *as = st->as ? st->as : st->name;
            if (m->id != st->id || m->slot != st->slot || m->epoch != st->epoch || strcmp(m->name, as) != 0)
                fail_msg("%s: step %d: id %u slot %u epoch %u \"%s\", expected %d %d %u \"%s\"", sc->name, at,
                         (unsigned)m->id, (unsigned)m->slot, (unsigned)m->epoch, m->name, st->id, st->slot,
                         (unsigned)st->epoch, as);
            break;
        case OP_LEAVE: {
            int count = gv_lobby_count(g_lobby);
            m = gv_lobby_find(g_lobby, (uint16_t)st->id);
            if (!m)
                fail_msg("%s: step %d: no %d to leave", sc->name, at, st->id);
            int slot = m->slot;
            gv_lobby_leave(g_lobby, m);
            if (gv_lobby_count(g_lobby) != count - 1 || gv_lobby_find(g_lobby, (uint16_t)st->id) ||
                gv_lobby_by_slot(g_lobby, (uint8_t)slot))
                fail_msg("%s: step %d: %d still there", sc->name, at, st->id);
            break;
        }
        case OP_FIND:
            m = gv_lobby_find(g_lobby, (uint16_t)st->id);
            if ((m ? m->slot : -1) != st->slot || (m && m->id != st->id))
                fail_msg("%s: step %d: id %d in slot %d, expected %d", sc->name, at, st->id, m ? m->slot : -1,
                         st->slot);
            break;
        case OP_SLOT:
            m = gv_lobby_by_slot(g_lobby, (uint8_t)st->slot);
            if ((m ? m->id : 0) != st->id || (m && m->slot != st->slot))
                fail_msg("%s: step %d: slot %d holds %d, expected %d", sc->name, at, st->slot, m ? m->id : 0,
                         st->id);
            break;
        case OP_ROSTER:
            m = st->id ? gv_lobby_find(g_lobby, (uint16_t)st->id) : NULL;
            if (st->id && !m)
                fail_msg("%s: step %d: no %d", sc->name, at, st->id);
            roster_text(g_lobby, m, text, sizeof text);
            if (strcmp(text, st->name) != 0)
                fail_msg("%s: step %d: roster \"%s\", expected \"%s\"", sc->name, at, text, st->name);
            break;
        case OP_COUNT:
            if (gv_lobby_count(g_lobby) != st->want)
                fail_msg("%s: step %d: %d players, expected %d", sc->name, at, gv_lobby_count(g_lobby), st->want);
            break;
        case OP_CYCLE:
            for (int k = 0; k < st->want; k++)
                gv_lobby_leave(g_lobby, joined(sc, at, "cycler", 0, 0, &g_filler, &last_epoch));
            break;
        case OP_FILL:
            for (int k = 0; k < st->want; k++)
                joined(sc, at, st->name, 0, 0, &g_filler, &last_epoch);
            break;
        case OP_AWAY:
            m = gv_lobby_find(g_lobby, (uint16_t)st->id);
            if (!m)
                fail_msg("%s: step %d: no %d to be away", sc->name, at, st->id);
            gv_lobby_away(g_lobby, m, st->time);
            if (!m->away || gv_lobby_find(g_lobby, (uint16_t)st->id) != m)
                fail_msg("%s: step %d: %d not away, or not there", sc->name, at, st->id);
            break;
        case OP_AWAY_COUNT:
            if (gv_lobby_away_count(g_lobby) != st->want)
                fail_msg("%s: step %d: %d away, expected %d", sc->name, at, gv_lobby_away_count(g_lobby), st->want);
            break;
        case OP_EXPIRED:
            m = gv_lobby_expired(g_lobby, st->time);
            if ((m ? m->id : 0) != st->id)
                fail_msg("%s: step %d: %d expired at %llu, expected %d", sc->name, at, m ? m->id : 0,
                         (unsigned long long)st->time, st->id);
            break;
        case OP_RESUME:
            g_owners[at].next = 0;
            resumed(sc, at, st, &last_epoch);
            break;
        case OP_BY_SECRET: {
            uint8_t secret[GV_RESUME_SECRET_LEN];
            secret_of(st->secret, secret);
            m = gv_lobby_by_secret(g_lobby, secret);
            if ((m ? m->id : 0) != st->id)
                fail_msg("%s: step %d: secret 0x%02x is %d's, expected %d's", sc->name, at, st->secret,
                         m ? m->id : 0, st->id);
            break;
        }
        case OP_CONFIRM:
            m = gv_lobby_find(g_lobby, (uint16_t)st->id);
            if (!m)
                fail_msg("%s: step %d: no %d to confirm", sc->name, at, st->id);
            gv_lobby_confirm(g_lobby, m);
            break;
        case OP_END:
            break;
        }
    }
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        run(&scenarios[i]);
    gv_lobby_destroy(g_lobby);
    g_lobby = NULL;
}

static void test_create(void **state)
{
    (void)state;
    gv_lobby *l = (gv_lobby *)&state; /* anything but NULL: a refusal must clear it */
    assert_int_equal(gv_lobby_create(0, &l), GV_EINVAL);
    assert_null(l);
    assert_int_equal(gv_lobby_create(GV_MAX_PLAYERS + 1, &l), GV_EINVAL);
    assert_int_equal(gv_lobby_create(1, NULL), GV_EINVAL);
    gv_lobby_destroy(NULL);
    assert_int_equal(gv_lobby_create(1, &l), GV_OK);
    assert_int_equal(gv_lobby_count(l), 0);
    assert_false(gv_lobby_full(l));
    assert_null(gv_lobby_at(l, 0));
    gv_lobby_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
