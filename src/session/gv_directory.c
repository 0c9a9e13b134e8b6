/* The lobby directory: a table of lobby names under one mutex, and the
 * placement rule as a pure function. Implements gv_directory_create and
 * gv_directory_destroy of the public API (gvoip/gvoip.h). */
#include "session/gv_directory.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "packet/gv_msg.h"
#include "packet/gv_name.h"

typedef struct entry {
    char name[GV_LOBBY_NAME_MAX];
    size_t len;
    int worker;
    int opened;        /* else pending since placed_us */
    uint64_t placed_us;
} entry;

struct gv_directory {
    pthread_mutex_t lock;
    int workers;
    int max_lobbies;
    int count;
    entry *entries;          /* count of them, in no order */
    uint16_t *port;          /* per worker; 0: not attached */
    gv_directory_load *load; /* per worker */
    gv_directory_gate_fn gate;
    void *gate_user;
    /* Lobbies to close, each with the worker that holds it; moves_waiting
     * is read without the lock so that servers pay nothing while none is. */
    gv_directory_move moves[GV_DIRECTORY_MOVES_MAX];
    int move_worker[GV_DIRECTORY_MOVES_MAX];
    int move_count;
    atomic_int moves_waiting;
};

int gv_directory_place(const gv_directory_load *load, int n)
{
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (!load[i].attached)
            continue;
        if (best < 0 || load[i].players < load[best].players ||
            (load[i].players == load[best].players && load[i].lobbies < load[best].lobbies))
            best = i;
    }
    return best;
}

int gv_directory_create(int workers, int max_lobbies, gv_directory **out)
{
    if (!out)
        return GV_EINVAL;
    *out = NULL;
    if (workers < 1 || workers > GV_DIRECTORY_WORKERS_MAX || max_lobbies < 1 || max_lobbies > GV_MAX_LOBBIES_LIMIT)
        return GV_EINVAL;
    gv_directory *d = calloc(1, sizeof *d);
    if (!d)
        return GV_ENOMEM;
    d->entries = calloc((size_t)max_lobbies, sizeof *d->entries);
    d->port = calloc((size_t)workers, sizeof *d->port);
    d->load = calloc((size_t)workers, sizeof *d->load);
    if (!d->entries || !d->port || !d->load || pthread_mutex_init(&d->lock, NULL) != 0) {
        free(d->entries);
        free(d->port);
        free(d->load);
        free(d);
        return GV_ENOMEM;
    }
    d->workers = workers;
    d->max_lobbies = max_lobbies;
    *out = d;
    return 0;
}

void gv_directory_destroy(gv_directory *d)
{
    if (!d)
        return;
    pthread_mutex_destroy(&d->lock);
    free(d->entries);
    free(d->port);
    free(d->load);
    free(d);
}

static void remove_at(gv_directory *d, int i)
{
    d->load[d->entries[i].worker].lobbies--;
    d->entries[i] = d->entries[--d->count];
}

/* The entry of a lobby, after forgetting those whose player never came;
 * -1 when there is none. Under the lock. */
static int lookup(gv_directory *d, const char *name, size_t len, uint64_t now_us)
{
    int found = -1;
    for (int i = d->count - 1; i >= 0; i--) {
        entry *e = &d->entries[i];
        if (!e->opened && now_us - e->placed_us >= GV_DIRECTORY_PENDING_US) {
            remove_at(d, i);
            if (found == d->count) /* the last entry moved into i */
                found = i;
            continue;
        }
        if (e->len == len && memcmp(e->name, name, len) == 0)
            found = i;
    }
    return found;
}

int gv_directory_attach(gv_directory *d, int worker, uint16_t port)
{
    if (!d || worker < 0 || worker >= d->workers || port == 0)
        return GV_EINVAL;
    int rc = GV_ESTATE;
    pthread_mutex_lock(&d->lock);
    if (!d->port[worker]) {
        d->port[worker] = port;
        d->load[worker] = (gv_directory_load){.attached = 1};
        rc = 0;
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void gv_directory_detach(gv_directory *d, int worker)
{
    pthread_mutex_lock(&d->lock);
    for (int i = d->count - 1; i >= 0; i--)
        if (d->entries[i].worker == worker)
            remove_at(d, i);
    d->port[worker] = 0;
    d->load[worker] = (gv_directory_load){0};
    pthread_mutex_unlock(&d->lock);
}

/* The fleet's word, asked without the lock: 0 placed here,
 * GV_DIRECTORY_NODE with where filled, or its error. */
static int ask_gate(gv_directory_gate_fn gate, void *user, const char *name, size_t len, gv_directory_where *where)
{
    char host[sizeof where->host] = "";
    uint16_t port = 0;
    int rc = gate(user, name, len, host, sizeof host, &port);
    if (rc < 0)
        return rc == GV_EFULL ? GV_DIRECTORY_FLEET_FULL : rc;
    if (rc == 0)
        return 0;
    host[sizeof host - 1] = '\0';
    if (port == 0 || (host[0] && !gv_msg_host_ok(host, strlen(host))))
        return GV_EINVAL; /* a gate that names no place refuses the join */
    where->port = port;
    memcpy(where->host, host, sizeof host);
    return GV_DIRECTORY_NODE;
}

int gv_directory_claim(gv_directory *d, int worker, const char *name, size_t len, uint64_t now_us,
                       gv_directory_where *where)
{
    where->host[0] = '\0';
    pthread_mutex_lock(&d->lock);
    int i = lookup(d, name, len, now_us), owner;
    if (i < 0 && d->gate) {
        gv_directory_gate_fn gate = d->gate;
        void *user = d->gate_user;
        pthread_mutex_unlock(&d->lock);
        int rc = ask_gate(gate, user, name, len, where);
        if (rc != 0)
            return rc;
        pthread_mutex_lock(&d->lock);
        i = lookup(d, name, len, now_us); /* another worker may have claimed it meanwhile */
    }
    if (i >= 0) {
        owner = d->entries[i].worker;
        if (owner == worker && !d->entries[i].opened)
            d->entries[i].placed_us = now_us;
    } else if (d->count >= d->max_lobbies) {
        owner = GV_EFULL;
    } else {
        owner = gv_directory_place(d->load, d->workers);
        if (owner < 0) /* only a detached caller sees none: it takes it */
            owner = worker;
        entry *e = &d->entries[d->count++];
        memcpy(e->name, name, len);
        e->len = len;
        e->worker = owner;
        e->opened = 0;
        e->placed_us = now_us;
        d->load[owner].lobbies++;
    }
    if (owner >= 0)
        where->port = d->port[owner];
    pthread_mutex_unlock(&d->lock);
    return owner;
}

int gv_directory_find(gv_directory *d, const char *name, size_t len, uint64_t now_us, uint16_t *port)
{
    pthread_mutex_lock(&d->lock);
    int i = lookup(d, name, len, now_us);
    int owner = i >= 0 ? d->entries[i].worker : GV_ENOTFOUND;
    if (owner >= 0)
        *port = d->port[owner];
    pthread_mutex_unlock(&d->lock);
    return owner;
}

void gv_directory_opened(gv_directory *d, int worker, const char *name, size_t len)
{
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < d->count; i++) {
        entry *e = &d->entries[i];
        if (e->worker == worker && e->len == len && memcmp(e->name, name, len) == 0)
            e->opened = 1;
    }
    pthread_mutex_unlock(&d->lock);
}

void gv_directory_closed(gv_directory *d, int worker, const char *name, size_t len)
{
    pthread_mutex_lock(&d->lock);
    for (int i = d->count - 1; i >= 0; i--) {
        const entry *e = &d->entries[i];
        if (e->worker == worker && e->len == len && memcmp(e->name, name, len) == 0)
            remove_at(d, i);
    }
    pthread_mutex_unlock(&d->lock);
}

void gv_directory_players(gv_directory *d, int worker, int players)
{
    pthread_mutex_lock(&d->lock);
    d->load[worker].players = players;
    pthread_mutex_unlock(&d->lock);
}

int gv_directory_set_gate(gv_directory *d, gv_directory_gate_fn fn, void *user)
{
    if (!d)
        return GV_EINVAL;
    pthread_mutex_lock(&d->lock);
    d->gate = fn;
    d->gate_user = user;
    pthread_mutex_unlock(&d->lock);
    return 0;
}

int gv_directory_revoke(gv_directory *d, const char *lobby, size_t len, const char *host, uint16_t port)
{
    size_t host_len = host ? strlen(host) : 0;
    if (!d || (len && !lobby) || len > GV_LOBBY_NAME_MAX || host_len > 255 || (host_len && !gv_msg_host_ok(host, host_len)))
        return GV_EINVAL;
    pthread_mutex_lock(&d->lock);
    int rc = GV_ENOTFOUND;
    for (int i = 0; i < d->count; i++) {
        entry *e = &d->entries[i];
        if (e->len != len || memcmp(e->name, lobby, len) != 0)
            continue;
        if (!e->opened) { /* nobody is in it yet: forgetting it is enough */
            remove_at(d, i);
            rc = 0;
            break;
        }
        if (d->move_count == GV_DIRECTORY_MOVES_MAX) {
            rc = GV_EFULL;
            break;
        }
        gv_directory_move *m = &d->moves[d->move_count];
        memcpy(m->name, lobby, len);
        m->name[len] = '\0';
        m->len = len;
        m->to.port = port;
        memcpy(m->to.host, host ? host : "", host_len);
        m->to.host[host_len] = '\0';
        d->move_worker[d->move_count++] = e->worker;
        remove_at(d, i); /* a join from now on asks the gate again */
        atomic_fetch_add(&d->moves_waiting, 1);
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int gv_directory_take_move(gv_directory *d, int worker, gv_directory_move *out)
{
    if (atomic_load_explicit(&d->moves_waiting, memory_order_relaxed) == 0)
        return 0;
    int found = 0;
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < d->move_count; i++) {
        if (d->move_worker[i] != worker)
            continue;
        *out = d->moves[i];
        d->moves[i] = d->moves[--d->move_count];
        d->move_worker[i] = d->move_worker[d->move_count];
        atomic_fetch_sub(&d->moves_waiting, 1);
        found = 1;
        break;
    }
    pthread_mutex_unlock(&d->lock);
    return found;
}

int gv_directory_list(gv_directory *d, gv_directory_lobby *out, int max, int *players, int *lobbies)
{
    if (!d || max < 0 || (!out && max))
        return GV_EINVAL;
    pthread_mutex_lock(&d->lock);
    int n = 0, p = 0;
    for (int i = 0; i < d->count && n < max; i++, n++) {
        memcpy(out[n].name, d->entries[i].name, d->entries[i].len);
        out[n].name[d->entries[i].len] = '\0';
        out[n].len = d->entries[i].len;
        out[n].opened = d->entries[i].opened;
    }
    for (int w = 0; w < d->workers; w++)
        p += d->load[w].players;
    if (players)
        *players = p;
    if (lobbies)
        *lobbies = d->count;
    pthread_mutex_unlock(&d->lock);
    return n;
}

int gv_directory_max_lobbies(const gv_directory *d)
{
    return d->max_lobbies;
}

int gv_directory_workers(const gv_directory *d)
{
    return d->workers;
}
