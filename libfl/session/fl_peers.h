/*  fl_peers - the coordinator's table of peers: admission, routing-id
    pinning, liveness and strikes (sans I/O).

    Definitions (docs/COORDINATOR.md):
      peer      a connection known by its transport routing id.
      admitted  a peer whose HELLO was accepted (it got WELCOME).
      ready     admitted, standardisation sent, and heard from within the
                liveness window: the pool cohorts are sampled from.
      strike    a protocol violation (malformed message, a reply it was
                never asked for twice, cleartext in a secure run); being
                early, late or unknown is not one.

    Invariants:
      1. fl_peers_admitted () is the number of entries with admitted set;
         ready implies admitted.
      2. A routing id on which a connection authenticated (CURVE) as member
         M is pinned to M: nothing another member sends on it is credited to
         M, and only a connection authenticated as M takes M's entry (and
         the coordinator's messages to it) to a new routing id.
      3. A peer with FL_PEERS_MAX_STRIKES strikes is quarantined: not
         admitted, and heard again only through a valid HELLO, which resets
         its strikes (docs/FAULTS.md).
      4. The table holds at most 2 x the admission limit + 16 entries
         (peers that never got admitted are bounded too).

    Entries are never removed, so an index names the same peer for the whole
    run (the round keeps indices, e.g. a bucket's members and the outbox);
    pointers into the table are valid until the next fl_peers_route, the
    only call that grows it.
*/
#ifndef FL_PEERS_H_INCLUDED
#define FL_PEERS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Protocol violations before a peer is quarantined. */
#define FL_PEERS_MAX_STRIKES 8
/*  The admission limit when none is configured. */
#define FL_PEERS_MAX 65535u

/*  One peer.  The fields after `misses` belong to the round's current
    phase (the round sets and reads them); the table's calls keep the rest. */
typedef struct {
    uint8_t id[255];
    size_t id_len;
    char name[64];           /* member id for log lines */
    char auth_member[64];    /* member id the transport authenticated (CURVE), or "" */
    int admitted;
    int ready;               /* received the standardisation */
    int strikes;             /* protocol violations since the last admission */
    int misses;              /* consecutive deadlines missed */
    int expected;            /* the current phase waits for this peer */
    int answered;            /* ... and it has answered */
    int roster_index;        /* secure mode: the member's roster entry (-1 unknown) */
    int sa_bucket;           /* secure mode: bucket of the current round (-1 none) */
    uint32_t sa_index;       /* ... and the index within it */
    int64_t last_seen;
    int64_t last_rehello;    /* when it was last asked to say HELLO again (-1 never) */
    uint64_t n_train, n_test;
} fl_peer_t;

/*  What a HELLO claims (already decoded and type-checked by fl_wire). */
typedef struct {
    const char *member;      /* the member id it claims */
    uint64_t features, classes;
    uint64_t n_train, n_test;
} fl_peers_hello_t;

typedef struct fl_peers_t fl_peers_t;
struct fl_roster_t;

/*  An empty table admitting at most max_clients members (0 =
    FL_PEERS_MAX).  NULL on out of memory. */
fl_peers_t *fl_peers_new (size_t max_clients);
void fl_peers_destroy (fl_peers_t **self_p);

/*  Entries (admitted or not) and the i-th (i < fl_peers_size). */
size_t fl_peers_size (const fl_peers_t *self);
fl_peer_t *fl_peers_at (fl_peers_t *self, size_t i);
/*  The table itself (fl_peers_size entries): valid until the next
    fl_peers_route. */
fl_peer_t *fl_peers_table (fl_peers_t *self);
/*  Members admitted now, and the admission limit. */
size_t fl_peers_admitted (const fl_peers_t *self);
size_t fl_peers_limit (const fl_peers_t *self);

/*  The entry a message received on routing id (id, id_len) belongs to.
    member: the member the transport authenticated ("" or NULL: none, in
    plaintext).  Found by routing id; else, for an authenticated member, the
    entry of that member (a reconnect: the entry moves to the new routing
    id, invariant 2); else a new entry.  NULL (logged) when the table is
    full of unknown peers, or when the routing id is pinned to another
    member (the message must be dropped). */
fl_peer_t *fl_peers_route (fl_peers_t *self, const uint8_t *id, size_t id_len, const char *member);

/*  HELLO's admission checks, in order: the consortium is full (a member
    not yet admitted and the limit reached), the data shape is unsupported
    (features in 1..100000, classes in 2..1000), differs from the
    consortium's (features / classes: 0 = not fixed yet), training has ended
    (ended), and in secure mode (roster non-NULL) the member is not on the
    roster or HELLO names another member than the connection authenticated
    as.  Returns 0 (p->roster_index set in secure mode; p's log name taken
    from HELLO if it had none), or -1 with the refusal (to be sent in
    REJECT) in why (cap bytes). */
int fl_peers_check_hello (fl_peers_t *self, fl_peer_t *p, const fl_peers_hello_t *h,
                          const struct fl_roster_t *roster, size_t features, size_t classes, int ended,
                          char *why, size_t cap);

/*  Admits p after a valid HELLO at now_ms: strikes reset (invariant 3),
    sizes recorded.  Returns 1 if it was admitted already (a re-HELLO),
    else 0. */
int fl_peers_admit (fl_peers_t *self, fl_peer_t *p, const fl_peers_hello_t *h, int64_t now_ms);

/*  p is no longer admitted (BYE, or quarantined): not ready, and no longer
    waited for by the current phase unless it already answered. */
void fl_peers_leave (fl_peers_t *self, fl_peer_t *p);

/*  Counts a protocol violation by p (what: the message; why: the fault),
    logged.  Returns 1 when this strike quarantines an admitted member: it
    has left (fl_peers_leave) and must be told reason (REJECT, cap bytes);
    else 0 (also when already quarantined: nothing is counted twice). */
int fl_peers_strike (fl_peers_t *self, fl_peer_t *p, const char *what, const char *why, char *reason, size_t cap);

/*  1 if p is quarantined (only a valid HELLO is heard). */
int fl_peers_quarantined (const fl_peer_t *p);

/*  A message from a peer that is not admitted gets one "say HELLO" answer
    per second at most (a dozen heartbeats queued while the coordinator was
    down need one answer): 1 if it should be answered at now_ms (and the
    time is recorded), else 0. */
int fl_peers_may_ask_hello (fl_peer_t *p, int64_t now_ms);

/*  Liveness: writes the indices of the ready peers heard from within
    liveness_ms of now_ms to idx (room for fl_peers_size) and returns how
    many. */
size_t fl_peers_ready (const fl_peers_t *self, int64_t now_ms, int64_t liveness_ms, uint32_t *idx);

/*  The admitted members' names, each once (a member that reconnected counts
    once), in order of first admission, comma separated, to buf (cap > 0,
    always terminated; ", ..." ends a list that did not fit).  Returns the
    number of distinct members. */
size_t fl_peers_member_names (const fl_peers_t *self, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
