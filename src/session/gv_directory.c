/* The lobby directory: a table of lobby names under one mutex, and the
 * placement rule as a pure function. Implements gv_directory_create and
 * gv_directory_destroy of the public API (gvoip/gvoip.h). */
#include "session/gv_directory.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

int gv_directory_claim(gv_directory *d, int worker, const char *name, size_t len, uint64_t now_us, uint16_t *port)
{
    pthread_mutex_lock(&d->lock);
    int i = lookup(d, name, len, now_us), owner;
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
        *port = d->port[owner];
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

int gv_directory_max_lobbies(const gv_directory *d)
{
    return d->max_lobbies;
}

int gv_directory_workers(const gv_directory *d)
{
    return d->workers;
}
