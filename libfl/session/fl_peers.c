/*  fl_peers.c - the coordinator's table of peers (see fl_peers.h for the
    definitions and invariants). */
#include "fl_peers.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_roster.h"

struct fl_peers_t {
    fl_peer_t *peers;                /* array, grows; entries never removed */
    size_t n, cap;
    size_t admitted;                 /* invariant 1 */
    size_t limit;                    /* admission limit */
};

fl_peers_t *
fl_peers_new (size_t max_clients)
{
    fl_peers_t *self = (fl_peers_t *) calloc (1, sizeof *self);
    if (self)
        self->limit = max_clients ? max_clients : FL_PEERS_MAX;
    return self;
}

void
fl_peers_destroy (fl_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->peers);
    free (*self_p);
    *self_p = NULL;
}

size_t fl_peers_size (const fl_peers_t *self) { return self->n; }
fl_peer_t *fl_peers_table (fl_peers_t *self) { return self->peers; }
size_t fl_peers_admitted (const fl_peers_t *self) { return self->admitted; }
size_t fl_peers_limit (const fl_peers_t *self) { return self->limit; }

fl_peer_t *
fl_peers_at (fl_peers_t *self, size_t i)
{
    assert (i < self->n);
    return &self->peers[i];
}

static fl_peer_t *
s_find (fl_peers_t *self, const uint8_t *id, size_t id_len)
{
    for (size_t i = 0; i < self->n; i++)
        if (self->peers[i].id_len == id_len && memcmp (self->peers[i].id, id, id_len) == 0)
            return &self->peers[i];
    return NULL;
}

static void
s_set_id (fl_peer_t *p, const uint8_t *id, size_t id_len)
{
    if (id_len > sizeof p->id)
        id_len = sizeof p->id;
    memcpy (p->id, id, id_len);
    p->id_len = id_len;
}

static fl_peer_t *
s_add (fl_peers_t *self, const uint8_t *id, size_t id_len)
{
    /* Peers that never got admitted are bounded too (they are garbage or
       late-comers); a table twice the admission limit is plenty. */
    if (self->n >= 2 * self->limit + 16)
        return NULL;
    if (self->n == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 16;
        fl_peer_t *np = (fl_peer_t *) realloc (self->peers, cap * sizeof *np);
        if (!np)
            return NULL;
        self->peers = np;
        self->cap = cap;
    }
    fl_peer_t *p = &self->peers[self->n++];
    memset (p, 0, sizeof *p);
    s_set_id (p, id, id_len);
    snprintf (p->name, sizeof p->name, "peer-%zu", self->n);
    p->roster_index = -1;
    p->sa_bucket = -1;
    p->last_rehello = -1;
    return p;
}

fl_peer_t *
fl_peers_route (fl_peers_t *self, const uint8_t *id, size_t id_len, const char *member)
{
    fl_peer_t *p = s_find (self, id, id_len);
    if (!p && member && member[0]) {
        /* Transport identity (CURVE): a member that reconnects gets a new
           routing id; only a connection authenticated with the member's own
           key takes its slot (and the coordinator's messages) back. */
        for (size_t i = 0; i < self->n && !p; i++)
            if (strcmp (self->peers[i].auth_member, member) == 0) {
                p = &self->peers[i];
                zsys_info ("coordinator: %s reconnected (new connection authenticated with its key)", p->name);
                s_set_id (p, id, id_len);
            }
    }
    if (!p) {
        p = s_add (self, id, id_len);
        if (!p) {
            zsys_warning ("coordinator: too many unknown peers; message dropped");
            return NULL;
        }
    }
    if (member && member[0]) {
        if (p->auth_member[0] && strcmp (p->auth_member, member) != 0) {
            /* Another member's connection uses this member's routing id:
               nothing it sends is credited to the member the id is pinned to. */
            zsys_warning ("coordinator: dropped a message on %s's routing id: the connection authenticated as "
                          "'%s' (routing ids are pinned to the authenticated member)", p->auth_member, member);
            return NULL;
        }
        snprintf (p->name, sizeof p->name, "%s", member);
        snprintf (p->auth_member, sizeof p->auth_member, "%s", member);
    }
    return p;
}

int
fl_peers_check_hello (fl_peers_t *self, fl_peer_t *p, const fl_peers_hello_t *h, const fl_roster_t *roster,
                      size_t features, size_t classes, int ended, char *why, size_t cap)
{
    assert (why && cap);
    why[0] = 0;
    if (!p->name[0] || strncmp (p->name, "peer-", 5) == 0)
        snprintf (p->name, sizeof p->name, "%s", h->member);
    if (!p->admitted && self->admitted >= self->limit)
        snprintf (why, cap, "the consortium is full (%zu clients)", self->limit);
    else if (h->features == 0 || h->features > 100000 || h->classes < 2 || h->classes > 1000)
        snprintf (why, cap, "unsupported data shape (%" PRIu64 " features, %" PRIu64 " classes)", h->features,
                  h->classes);
    else if (features && h->features != features)
        snprintf (why, cap, "data has %" PRIu64 " features, the consortium's model takes %zu", h->features, features);
    else if (classes && h->classes != classes)
        snprintf (why, cap, "data has %" PRIu64 " classes, the consortium's model has %zu", h->classes, classes);
    else if (ended)
        snprintf (why, cap, "training has ended");
    else if (roster) {
        /* The roster decides who is a member; over CURVE the transport has
           already authenticated the peer as auth_member. */
        int ri = fl_roster_find_by_id (roster, h->member);
        if (ri < 0)
            snprintf (why, cap, "'%s' is not a member of the consortium roster", h->member);
        else if (p->auth_member[0] && strcmp (p->auth_member, h->member) != 0)
            snprintf (why, cap, "HELLO names '%s' but the connection authenticated as '%s'", h->member,
                      p->auth_member);
        else
            p->roster_index = ri;
    }
    return why[0] ? -1 : 0;
}

int
fl_peers_admit (fl_peers_t *self, fl_peer_t *p, const fl_peers_hello_t *h, int64_t now_ms)
{
    int rejoin = p->admitted;
    if (!p->admitted) {
        p->admitted = 1;
        self->admitted++;
    }
    p->strikes = 0;               /* a valid HELLO starts the member afresh */
    p->n_train = h->n_train;
    p->n_test = h->n_test;
    p->last_seen = now_ms;
    return rejoin;
}

void
fl_peers_leave (fl_peers_t *self, fl_peer_t *p)
{
    if (!p->admitted)
        return;
    p->admitted = 0;
    p->ready = 0;
    self->admitted--;
    if (p->expected && !p->answered)
        p->expected = 0;           /* no longer waited for */
}

int
fl_peers_strike (fl_peers_t *self, fl_peer_t *p, const char *what, const char *why, char *reason, size_t cap)
{
    if (p->strikes >= FL_PEERS_MAX_STRIKES)
        return 0;                  /* quarantined already; logged once (and no overflow) */
    p->strikes++;
    zsys_warning ("coordinator: peer %s: rejected %s: %s", p->name, what, why);
    if (p->strikes < FL_PEERS_MAX_STRIKES)
        return 0;
    snprintf (reason, cap, "quarantined: %d protocol violations (last: %s: %s)", FL_PEERS_MAX_STRIKES, what, why);
    zsys_error ("coordinator: member %s %s; its messages are ignored until it is admitted again", p->name, reason);
    if (!p->admitted)
        return 0;
    fl_peers_leave (self, p);
    return 1;
}

int
fl_peers_quarantined (const fl_peer_t *p)
{
    return p->strikes >= FL_PEERS_MAX_STRIKES;
}

int
fl_peers_may_ask_hello (fl_peer_t *p, int64_t now_ms)
{
    if (p->last_rehello >= 0 && now_ms - p->last_rehello < 1000)
        return 0;
    p->last_rehello = now_ms;
    return 1;
}

size_t
fl_peers_ready (const fl_peers_t *self, int64_t now_ms, int64_t liveness_ms, uint32_t *idx)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n; i++) {
        const fl_peer_t *p = &self->peers[i];
        if (p->ready && now_ms - p->last_seen <= liveness_ms)
            idx[n++] = (uint32_t) i;
    }
    return n;
}

size_t
fl_peers_member_names (const fl_peers_t *self, char *buf, size_t cap)
{
    assert (buf && cap > 0);
    buf[0] = '\0';
    size_t n = 0, used = 0;
    int truncated = 0;
    for (size_t i = 0; i < self->n; i++) {
        const fl_peer_t *p = &self->peers[i];
        if (!p->admitted)
            continue;
        int seen = 0;                  /* a member that reconnected has an earlier peer entry */
        for (size_t j = 0; j < i && !seen; j++)
            seen = self->peers[j].admitted && strcmp (self->peers[j].name, p->name) == 0;
        if (seen)
            continue;
        n++;
        if (truncated)
            continue;
        size_t need = strlen (p->name) + (used ? 2 : 0);
        if (used + need + 4 >= cap) {  /* room for ", ..." is kept */
            snprintf (buf + used, cap - used, "%s", used ? ", ..." : "...");
            truncated = 1;
            continue;
        }
        used += (size_t) snprintf (buf + used, cap - used, "%s%s", used ? ", " : "", p->name);
    }
    return n;
}
