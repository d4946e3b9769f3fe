/*  fl_secagg_server.c - the server machine of secure aggregation: the
    coordinator's side of one bucket (Bonawitz et al. CCS 2017, Fig. 4;
    neighbourhoods of Bell et al. CCS 2020).  Sans-I/O: it consumes client
    messages and "deadline passed" events (the caller owns the clock) and
    queues messages in an outbox the caller drains.  docs/SECAGG.md §3
    specifies the rounds; this comment is the map a reviewer needs to check
    the code against it.

    DEFINITIONS
      U1..U5   clients whose AdvertiseKeys / ShareKeys / MaskedInput /
               ConsistencyCheck / Unmasking message the server accepted
               before that phase's deadline; U5 <= U4 <= U3 <= U2 <= U1
               (status bits S_U(1..5)).
      N(v)     v's neighbourhood in the graph over U1 (fl_secagg_graph.c).
      sum      the running sum mod 2^32 of the masked inputs of U3.
      inbox    ShareKeys ciphertexts by receiver, relayed after U2 closes.
      shares   Unmasking shares by owner, combined when U5 closes.

    INVARIANTS (checked by s_server_invariants in debug builds; the security
    argument in docs/SECAGG.md §6 rests on them)
      S1  The server never holds an individual unmasked input: its only
          input-dependent state is the running sum of masked inputs, and
          masks are removed only after Unmasking, from the sum over U3 with
          |U3| >= t.
      S2  Server sets are nested: U5 <= U4 <= U3 <= U2 <= U1 (status bits).
      S3  Phases close only with >= t members; otherwise the server is ABORTED
          and queues only ABORT messages (nothing more is revealed).
      S4  For a client v the server stores unmasking shares of one kind only:
          self mask if v in U3, mask key if v in U2 \ U3.

    SERVER STATE DIAGRAM (each arrow is fl_secagg_server_deadline)

      ADVERTISE --|U1|>=t--> SHARE --|U2|>=t--> MASKED --|U3|>=t-->
      CONSISTENCY --|U4|>=t--> UNMASK --reconstruct ok--> DONE
      any phase --(fewer than t, or reconstruction failed)--> ABORTED
      Client messages are consumed in the phase that collects them
      (s_server_on_advertise, _on_shares, _on_masked, _on_consistency,
      _on_unmask); anything else is rejected with a reason, never asserted.
      Closing ShareKeys prunes U2 (s_server_prune_u2); closing Unmasking
      reconstructs and removes the masks (s_server_unmask); the outbox is
      built lazily, one message per call (s_server_build).
*/
#include "fl_secagg.h"
#include "fl_secmem.h"

#include <assert.h>
#include <czmq.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_secagg_ctx.h"
#include "fl_secagg_graph.h"

#define S_ERRBYTES 192

/*  Client status bits: U1..U5. */
#define S_U(i) (1u << ((i) - 1))

struct fl_secagg_server_t {
    fl_secagg_config_t cfg;
    uint8_t *roster;
    uint8_t ctx[32], binding[32];
    fl_secagg_server_state_t state;
    char error[S_ERRBYTES];
    uint8_t *status;                  /* n: S_U(1..5) */
    uint32_t u_count[6];              /* |U1|..|U5| */
    fl_secagg_advert_t *adverts;      /* n, by index */
    uint8_t u1_digest[32];
    fl_secagg_nbgraph_t graph;
    uint32_t kmax;                    /* neighbourhood size */
    /* ShareKeys: inbox[slot * kmax + j] = j-th ciphertext addressed to the
       client at ring slot `slot` (pos); inbox_count per slot. */
    fl_secagg_ciphertext_t *inbox;
    uint32_t *inbox_count;
    uint32_t *sum;                    /* m: running sum of masked inputs (S1) */
    uint32_t *u3;                     /* U3 ascending */
    uint8_t d[32];
    fl_secagg_signature_t *sigs;      /* n, by index; valid where U4 */
    /* Unmasking: shares[pos * kmax + j] of client at ring position pos */
    fl_shamir_share_t *shares;        /* fl_secmem (sodium_malloc) */
    uint32_t *share_count;
    /* Outbox: lazily built messages of one kind to every client with the
       status bit `out_bit`, scanning indices from out_cursor. */
    fl_secagg_msg_kind_t out_kind;
    uint8_t out_bit;
    uint32_t out_cursor;
    uint32_t abort_code;
};

static int
s_server_reject (fl_secagg_server_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, ap);
    va_end (ap);
    zsys_warning ("fl_secagg server (round %llu, bucket %u): rejected: %s",
                  (unsigned long long) self->cfg.round, self->cfg.bucket, self->error);
    return -1;
}

static void
s_server_wipe (fl_secagg_server_t *self)
{
    if (self->shares) { fl_secmem_free (self->shares); self->shares = NULL; }
    free (self->inbox);
    self->inbox = NULL;
    free (self->inbox_count);
    self->inbox_count = NULL;
}

#ifndef NDEBUG
static bool
s_server_invariants (const fl_secagg_server_t *self)
{
    uint32_t c[6] = {0};
    for (uint32_t v = 0; v < self->cfg.n; v++) {
        for (int i = 2; i <= 5; i++)
            if ((self->status[v] & S_U (i)) && !(self->status[v] & S_U (i - 1)))
                return false;                                           /* S2 */
        for (int i = 1; i <= 5; i++)
            c[i] += (self->status[v] & S_U (i)) != 0;
    }
    for (int i = 1; i <= 5; i++)
        if (c[i] != self->u_count[i])
            return false;
    if (self->state == FL_SECAGG_SERVER_DONE && self->u_count[3] < self->cfg.t)
        return false;                                                   /* S1 */
    if (self->state != FL_SECAGG_SERVER_ABORTED)                        /* S3 */
        for (int i = 1; i <= 5 && i <= (int) self->state; i++)
            if (self->u_count[i] < self->cfg.t)
                return false;
    if (self->state == FL_SECAGG_SERVER_ABORTED && self->out_kind != FL_SECAGG_MSG_ABORT && self->out_kind != 0)
        return false;
    return true;
}
#endif

static void
s_server_queue (fl_secagg_server_t *self, fl_secagg_msg_kind_t kind, uint8_t bit)
{
    self->out_kind = kind;
    self->out_bit = bit;
    self->out_cursor = 0;
}

static int
s_server_abort (fl_secagg_server_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, ap);
    va_end (ap);
    zsys_warning ("fl_secagg server (round %llu, bucket %u): bucket aborted: %s",
                  (unsigned long long) self->cfg.round, self->cfg.bucket, self->error);
    self->abort_code = (uint32_t) self->state + 1;
    self->state = FL_SECAGG_SERVER_ABORTED;
    s_server_wipe (self);
    if (self->sum)
        sodium_memzero (self->sum, self->cfg.m * sizeof (uint32_t));
    s_server_queue (self, FL_SECAGG_MSG_ABORT, S_U (1));
    assert (s_server_invariants (self));
    return -1;
}

fl_secagg_server_t *
fl_secagg_server_new (const fl_secagg_config_t *cfg)
{
    if (fl_secagg_config_check_ (cfg, false) != 0)
        return NULL;
    fl_secagg_server_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    uint32_t n = cfg->n;
    self->roster = malloc ((size_t) n * 32);
    self->status = calloc (n, 1);
    self->adverts = calloc (n, sizeof (fl_secagg_advert_t));
    self->sigs = calloc (n, sizeof (fl_secagg_signature_t));
    self->sum = calloc (cfg->m, sizeof (uint32_t));
    if (!self->roster || !self->status || !self->adverts || !self->sigs || !self->sum) {
        fl_secagg_server_destroy (&self);
        return NULL;
    }
    memcpy (self->roster, cfg->roster_pks, (size_t) n * 32);
    if (cfg->round_binding)
        memcpy (self->binding, cfg->round_binding, 32);
    self->cfg.roster_pks = self->roster;
    self->cfg.id_secret_key = NULL;
    self->cfg.policy = NULL;
    self->cfg.round_binding = self->binding;
    fl_secagg_ctx_digest (&self->cfg, self->ctx);
    self->cfg.round_binding = NULL;
    self->state = FL_SECAGG_SERVER_ADVERTISE;
    return self;
}

void
fl_secagg_server_destroy (fl_secagg_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_secagg_server_t *self = *self_p;
    s_server_wipe (self);
    free (self->roster);
    free (self->status);
    free (self->adverts);
    free (self->sigs);
    if (self->sum)
        sodium_memzero (self->sum, self->cfg.m * sizeof (uint32_t));
    free (self->sum);
    free (self->u3);
    free (self->share_count);
    fl_secagg_nbgraph_free_ (&self->graph);
    free (self);
    *self_p = NULL;
}

static void
s_server_mark (fl_secagg_server_t *self, uint32_t v, int which)
{
    self->status[v] |= (uint8_t) S_U (which);
    self->u_count[which]++;
}

static int
s_server_on_advertise (fl_secagg_server_t *self, const fl_secagg_msg_t *in)
{
    const fl_secagg_advert_t *a = &in->u.advert;
    if (a->index != in->sender)
        return s_server_reject (self, "advertisement of client %u carries index %u", in->sender, a->index);
    if (fl_secagg_advert_verify_ (self->ctx, a, self->roster + (size_t) in->sender * 32) != 0)
        return s_server_reject (self, "advertisement of client %u: signature does not verify "
                                "(forged, or from another round or bucket)", in->sender);
    self->adverts[in->sender] = *a;
    s_server_mark (self, in->sender, 1);
    return 0;
}

static int
s_server_on_shares (fl_secagg_server_t *self, const fl_secagg_msg_t *in)
{
    uint32_t u = in->sender, count = in->u.shares.count;
    const fl_secagg_ciphertext_t *items = in->u.shares.items;
    if (count != fl_secagg_nbgraph_degree_ (&self->graph) || (count && !items))
        return s_server_reject (self, "client %u sent %u ciphertexts for a neighbourhood of %u", u, count,
                                fl_secagg_nbgraph_degree_ (&self->graph));
    /*  Exactly one ciphertext to each member of N(u): adjacency plus
        distinct receivers (checked with the inbox counts we are about to
        bump, so undo on failure). */
    uint32_t i;
    for (i = 0; i < count; i++) {
        uint32_t v = items[i].receiver;
        if (items[i].sender != u || !fl_secagg_nbgraph_adjacent_ (&self->graph, u, v))
            break;
        uint32_t p = self->graph.pos[v], c = self->inbox_count[p];
        if (c > 0 && self->inbox[(size_t) p * self->kmax + c - 1].sender == u)
            break;                                          /* duplicate receiver */
        self->inbox[(size_t) p * self->kmax + c] = items[i];
        self->inbox_count[p]++;
    }
    if (i < count) {
        for (uint32_t j = 0; j < i; j++)
            self->inbox_count[self->graph.pos[items[j].receiver]]--;
        return s_server_reject (self, "client %u: ciphertext %u (from %u to %u) is not addressed to a "
                                "distinct neighbour", u, i, items[i].sender, items[i].receiver);
    }
    s_server_mark (self, u, 2);
    return 0;
}

static int
s_server_on_masked (fl_secagg_server_t *self, const fl_secagg_msg_t *in)
{
    if (in->u.masked.count != self->cfg.m || !in->u.masked.values)
        return s_server_reject (self, "client %u sent a masked input of length %zu, expected %zu", in->sender,
                                in->u.masked.count, self->cfg.m);
    const uint32_t *y = in->u.masked.values;
    uint32_t *sum = self->sum;
    for (size_t i = 0; i < self->cfg.m; i++)        /* streaming: O(m) memory per bucket */
        sum[i] += y[i];
    s_server_mark (self, in->sender, 3);
    return 0;
}

static int
s_server_on_consistency (fl_secagg_server_t *self, const fl_secagg_msg_t *in)
{
    uint8_t m[FL_SECAGG_CONSISTENCYBYTES_];
    fl_secagg_consistency_message_ (m, self->d, in->sender);
    if (crypto_sign_verify_detached (in->u.sig, m, sizeof m, self->roster + (size_t) in->sender * 32) != 0)
        return s_server_reject (self, "consistency signature of client %u does not verify over U3", in->sender);
    self->sigs[in->sender].index = in->sender;
    memcpy (self->sigs[in->sender].sig, in->u.sig, FL_SECAGG_SIGBYTES);
    s_server_mark (self, in->sender, 4);
    return 0;
}

static int
s_server_on_unmask (fl_secagg_server_t *self, const fl_secagg_msg_t *in)
{
    uint32_t u = in->sender, count = in->u.unmask.count, expect = 0;
    const fl_secagg_unmask_share_t *items = in->u.unmask.items;
    uint32_t nb[fl_secagg_nbgraph_degree_ (&self->graph)];
    uint32_t nbc = fl_secagg_nbgraph_neighbours_ (&self->graph, u, nb);
    for (uint32_t i = 0; i < nbc; i++)
        expect += (self->status[nb[i]] & S_U (2)) != 0;
    if (count != expect || (count && !items))
        return s_server_reject (self, "client %u sent %u unmasking shares, expected %u", u, count, expect);
    uint32_t i;
    for (i = 0; i < count; i++) {
        uint32_t v = items[i].owner;
        if (v >= self->cfg.n || !(self->status[v] & S_U (2)) || !fl_secagg_nbgraph_adjacent_ (&self->graph, u, v))
            break;
        uint32_t want = (self->status[v] & S_U (3)) ? FL_SECAGG_SHARE_SELF_MASK : FL_SECAGG_SHARE_MASK_KEY;
        if (items[i].kind != want)
            break;                                                    /* S4 */
        uint32_t p = self->graph.pos[v], c = self->share_count[p];
        if (c > 0 && self->shares[(size_t) p * self->kmax + c - 1].index == u + 1)
            break;                                                    /* duplicate owner */
        fl_shamir_share_t *s = &self->shares[(size_t) p * self->kmax + c];
        s->index = u + 1;
        memcpy (s->value, items[i].value, FL_SECAGG_SHAREBYTES);
        self->share_count[p]++;
    }
    if (i < count) {
        for (uint32_t j = 0; j < i; j++)
            self->share_count[self->graph.pos[items[j].owner]]--;
        return s_server_reject (self, "client %u: unmasking share %u (of client %u, kind %u) is not one "
                                "share of the right kind of a distinct neighbour in U2", u, i,
                                items[i].owner, items[i].kind);
    }
    s_server_mark (self, u, 5);
    return 0;
}

int
fl_secagg_server_handle (fl_secagg_server_t *self, const fl_secagg_msg_t *in)
{
    assert (self && in);
    static const fl_secagg_msg_kind_t wants[] = {FL_SECAGG_MSG_ADVERTISE, FL_SECAGG_MSG_SHARES,
                                                 FL_SECAGG_MSG_MASKED_INPUT, FL_SECAGG_MSG_CONSISTENCY,
                                                 FL_SECAGG_MSG_UNMASK};
    if (self->state >= FL_SECAGG_SERVER_DONE)
        return s_server_reject (self, "%s from client %u after the session ended",
                                fl_secagg_msg_kind_name (in->kind), in->sender);
    int phase = (int) self->state + 1;                     /* this phase builds U_phase */
    uint32_t u = in->sender;
    if (u >= self->cfg.n)
        return s_server_reject (self, "%s from unknown client %u", fl_secagg_msg_kind_name (in->kind), u);
    if (in->receiver != FL_SECAGG_SERVER)
        return s_server_reject (self, "%s from client %u not addressed to the server",
                                fl_secagg_msg_kind_name (in->kind), u);
    if (in->kind != wants[self->state])
        return s_server_reject (self, "%s from client %u in phase %s", fl_secagg_msg_kind_name (in->kind), u,
                                fl_secagg_server_state_name (self->state));
    if (phase > 1 && !(self->status[u] & S_U (phase - 1)))
        return s_server_reject (self, "%s from client %u, which is not in U%d", fl_secagg_msg_kind_name (in->kind),
                                u, phase - 1);
    if (self->status[u] & S_U (phase))
        return s_server_reject (self, "duplicate %s from client %u", fl_secagg_msg_kind_name (in->kind), u);
    int rc;
    switch (self->state) {
        case FL_SECAGG_SERVER_ADVERTISE:   rc = s_server_on_advertise (self, in); break;
        case FL_SECAGG_SERVER_SHARE:       rc = s_server_on_shares (self, in); break;
        case FL_SECAGG_SERVER_MASKED:      rc = s_server_on_masked (self, in); break;
        case FL_SECAGG_SERVER_CONSISTENCY: rc = s_server_on_consistency (self, in); break;
        default:                           rc = s_server_on_unmask (self, in); break;
    }
    assert (s_server_invariants (self));
    return rc;
}

/*  Closing ShareKeys: U2 = senders, pruned to a fixed point where every
    member has >= t share holders in U2 (a client with fewer could never be
    unmasked, so its masked input must not be summed). */
static void
s_server_prune_u2 (fl_secagg_server_t *self)
{
    uint32_t nb[fl_secagg_nbgraph_degree_ (&self->graph)];
    bool changed = true;
    while (changed) {
        changed = false;
        for (uint32_t v = 0; v < self->cfg.n; v++) {
            if (!(self->status[v] & S_U (2)))
                continue;
            uint32_t c = fl_secagg_nbgraph_neighbours_ (&self->graph, v, nb), live = 0;
            for (uint32_t i = 0; i < c; i++)
                live += (self->status[nb[i]] & S_U (2)) != 0;
            if (live < self->cfg.t) {
                self->status[v] &= (uint8_t) ~S_U (2);
                self->u_count[2]--;
                changed = true;
            }
        }
    }
}

/*  Lagrange coefficient sets, one per distinct holder index set. */
typedef struct {
    uint32_t *idx;               /* count x t */
    fl_shamir_lagrange_t **lg;
    uint32_t count, cap, t;
} s_lagrange_cache_t;

static const fl_shamir_lagrange_t *
s_lagrange_get (s_lagrange_cache_t *lc, const uint32_t *idx)
{
    for (uint32_t i = lc->count; i-- > 0;)          /* most recent first */
        if (memcmp (lc->idx + (size_t) i * lc->t, idx, lc->t * sizeof (uint32_t)) == 0)
            return lc->lg[i];
    if (lc->count == lc->cap) {
        uint32_t cap = lc->cap ? 2 * lc->cap : 16;
        uint32_t *ni = realloc (lc->idx, (size_t) cap * lc->t * sizeof (uint32_t));
        if (!ni)
            return NULL;
        lc->idx = ni;
        fl_shamir_lagrange_t **nl = realloc (lc->lg, cap * sizeof *nl);
        if (!nl)
            return NULL;
        lc->lg = nl;
        lc->cap = cap;
    }
    fl_shamir_lagrange_t *lg = fl_shamir_lagrange_new (idx, lc->t);
    if (!lg)
        return NULL;
    memcpy (lc->idx + (size_t) lc->count * lc->t, idx, lc->t * sizeof (uint32_t));
    lc->lg[lc->count++] = lg;
    return lg;
}

static void
s_lagrange_free (s_lagrange_cache_t *lc)
{
    for (uint32_t i = 0; i < lc->count; i++)
        fl_shamir_lagrange_destroy (&lc->lg[i]);
    free (lc->lg);
    free (lc->idx);
}

static int
s_cmp_share (const void *a, const void *b)
{
    uint32_t x = ((const fl_shamir_share_t *) a)->index, y = ((const fl_shamir_share_t *) b)->index;
    return x < y ? -1 : x > y;
}

/*  Closing Unmasking: reconstruct b_v (v in U3) and s_v^SK (v in U2 \ U3)
    and remove their masks from the sum. */
static int
s_server_unmask (fl_secagg_server_t *self)
{
    const uint32_t t = self->cfg.t, m = (uint32_t) self->cfg.m;
    s_lagrange_cache_t lc = {.t = t};
    uint8_t *secret = fl_secmem_alloc (64);            /* [0..31] secret, [32..63] pairwise seed */
    uint32_t idx[t];
    uint32_t nb[fl_secagg_nbgraph_degree_ (&self->graph)];
    int rc = 0;
    if (!secret)
        return s_server_abort (self, "out of memory");
    for (uint32_t v = 0; v < self->cfg.n && rc == 0; v++) {
        if (!(self->status[v] & S_U (2)))
            continue;
        uint32_t p = self->graph.pos[v], c = self->share_count[p];
        fl_shamir_share_t *sh = self->shares + (size_t) p * self->kmax;
        if (c < t) {
            rc = s_server_abort (self, "client %u: only %u unmasking shares, threshold %u", v, c, t);
            break;
        }
        /*  Same holders => same index set => one Lagrange computation. */
        qsort (sh, c, sizeof *sh, s_cmp_share);
        for (uint32_t i = 0; i < t; i++)
            idx[i] = sh[i].index;
        const fl_shamir_lagrange_t *lg = s_lagrange_get (&lc, idx);
        if (!lg || fl_shamir_combine (lg, sh, secret) != 0) {
            rc = s_server_abort (self, "client %u: reconstruction failed (tampered shares)", v);
            break;
        }
        if (self->status[v] & S_U (3)) {
            fl_prg_sub (self->sum, m, secret, self->ctx);               /* self mask */
            continue;
        }
        /*  v dropped after sharing: its pairwise masks with surviving
            neighbours w are inside y_w; w added PRG(s_wv) iff v > w. */
        uint8_t check[32];
        crypto_scalarmult_base (check, secret);
        if (sodium_memcmp (check, self->adverts[v].s_pk, 32) != 0) {
            rc = s_server_abort (self, "client %u: reconstructed mask key does not match its advertised key", v);
            break;
        }
        uint32_t nc = fl_secagg_nbgraph_neighbours_ (&self->graph, v, nb);
        for (uint32_t i = 0; i < nc && rc == 0; i++) {
            uint32_t w = nb[i];
            if (w == v || !(self->status[w] & S_U (3)))
                continue;
            if (fl_secagg_pairwise_seed_ (secret + 32, self->ctx, secret, v, self->adverts[v].s_pk, w,
                                          self->adverts[w].s_pk) != 0) {
                rc = s_server_abort (self, "client %u advertised a low-order masking key", w);
                break;
            }
            if (v > w)
                fl_prg_sub (self->sum, m, secret + 32, self->ctx);
            else
                fl_prg_add (self->sum, m, secret + 32, self->ctx);
        }
    }
    fl_secmem_free (secret);
    s_lagrange_free (&lc);
    return rc;
}

int
fl_secagg_server_deadline (fl_secagg_server_t *self)
{
    assert (self);
    const uint32_t t = self->cfg.t, n = self->cfg.n;
    switch (self->state) {
        case FL_SECAGG_SERVER_ADVERTISE: {
            if (self->u_count[1] < t)
                return s_server_abort (self, "only %u clients advertised keys, threshold %u", self->u_count[1], t);
            uint32_t *members = malloc (self->u_count[1] * sizeof (uint32_t));
            fl_secagg_advert_t *list = malloc (self->u_count[1] * sizeof (fl_secagg_advert_t));
            if (!members || !list) {
                free (members);
                free (list);
                return s_server_abort (self, "out of memory");
            }
            uint32_t c = 0;
            for (uint32_t v = 0; v < n; v++)
                if (self->status[v] & S_U (1)) {
                    list[c] = self->adverts[v];
                    members[c++] = v;
                }
            fl_secagg_u1_digest_ (self->u1_digest, self->ctx, list, c);
            free (list);
            int rc = fl_secagg_nbgraph_build_ (&self->graph, n, members, c, self->cfg.graph, self->cfg.k,
                                               self->ctx, self->u1_digest);
            free (members);
            if (rc != 0)
                return s_server_abort (self, "out of memory");
            self->kmax = fl_secagg_nbgraph_degree_ (&self->graph);
            self->inbox = malloc ((size_t) c * self->kmax * sizeof (fl_secagg_ciphertext_t));
            self->inbox_count = calloc (c, sizeof (uint32_t));
            if (!self->inbox || !self->inbox_count)
                return s_server_abort (self, "out of memory");
            self->state = FL_SECAGG_SERVER_SHARE;
            s_server_queue (self, FL_SECAGG_MSG_ADVERTISE_LIST, S_U (1));
            break;
        }
        case FL_SECAGG_SERVER_SHARE:
            s_server_prune_u2 (self);
            if (self->u_count[2] < t)
                return s_server_abort (self, "only %u clients shared keys, threshold %u", self->u_count[2], t);
            self->state = FL_SECAGG_SERVER_MASKED;
            s_server_queue (self, FL_SECAGG_MSG_SHARES_RELAY, S_U (2));
            break;
        case FL_SECAGG_SERVER_MASKED: {
            if (self->u_count[3] < t)
                return s_server_abort (self, "only %u masked inputs, threshold %u", self->u_count[3], t);
            free (self->inbox);                      /* ciphertexts delivered */
            self->inbox = NULL;
            self->u3 = malloc (self->u_count[3] * sizeof (uint32_t));
            if (!self->u3)
                return s_server_abort (self, "out of memory");
            uint32_t c = 0;
            for (uint32_t v = 0; v < n; v++)
                if (self->status[v] & S_U (3))
                    self->u3[c++] = v;
            fl_secagg_survivors_digest_ (self->d, self->ctx, self->u1_digest, self->binding, self->u3, c);
            self->state = FL_SECAGG_SERVER_CONSISTENCY;
            s_server_queue (self, FL_SECAGG_MSG_SURVIVORS, S_U (3));
            break;
        }
        case FL_SECAGG_SERVER_CONSISTENCY:
            if (self->u_count[4] < t)
                return s_server_abort (self, "only %u consistency signatures, threshold %u", self->u_count[4], t);
            self->shares = fl_secmem_alloc ((size_t) self->graph.count * self->kmax * sizeof (fl_shamir_share_t));
            self->share_count = calloc (self->graph.count, sizeof (uint32_t));
            if (!self->shares || !self->share_count)
                return s_server_abort (self, "out of memory");
            self->state = FL_SECAGG_SERVER_UNMASK;
            s_server_queue (self, FL_SECAGG_MSG_SIGNATURE_LIST, S_U (4));
            break;
        case FL_SECAGG_SERVER_UNMASK:
            if (self->u_count[5] < t)
                return s_server_abort (self, "only %u clients sent unmasking shares, threshold %u",
                                       self->u_count[5], t);
            if (s_server_unmask (self) != 0)
                return -1;
            s_server_wipe (self);
            self->state = FL_SECAGG_SERVER_DONE;
            self->out_kind = 0;
            break;
        case FL_SECAGG_SERVER_DONE:
            return 0;
        case FL_SECAGG_SERVER_ABORTED:
            return -1;
    }
    assert (s_server_invariants (self));
    return 0;
}

/*  Builds the current phase's message for client v. */
static fl_secagg_msg_t *
s_server_build (fl_secagg_server_t *self, uint32_t v)
{
    fl_secagg_msg_t *msg = NULL;
    switch (self->out_kind) {
        case FL_SECAGG_MSG_ADVERTISE_LIST: {
            msg = fl_secagg_msg_new (self->out_kind, self->u_count[1]);
            if (!msg)
                break;
            uint32_t c = 0;
            for (uint32_t w = 0; w < self->cfg.n; w++)
                if (self->status[w] & S_U (1))
                    msg->u.adverts.items[c++] = self->adverts[w];
            break;
        }
        case FL_SECAGG_MSG_SHARES_RELAY: {
            uint32_t p = self->graph.pos[v], c = self->inbox_count[p], j = 0;
            msg = fl_secagg_msg_new (self->out_kind, c);
            if (!msg)
                break;
            for (uint32_t i = 0; i < c; i++) {
                const fl_secagg_ciphertext_t *ct = &self->inbox[(size_t) p * self->kmax + i];
                if (self->status[ct->sender] & S_U (2))       /* only from U2 after pruning */
                    msg->u.shares.items[j++] = *ct;
            }
            msg->u.shares.count = j;
            break;
        }
        case FL_SECAGG_MSG_SURVIVORS:
            msg = fl_secagg_msg_new (self->out_kind, self->u_count[3]);
            if (msg)
                memcpy (msg->u.survivors.ids, self->u3, self->u_count[3] * sizeof (uint32_t));
            break;
        case FL_SECAGG_MSG_SIGNATURE_LIST: {
            msg = fl_secagg_msg_new (self->out_kind, self->u_count[4]);
            if (!msg)
                break;
            uint32_t c = 0;
            for (uint32_t w = 0; w < self->cfg.n; w++)
                if (self->status[w] & S_U (4))
                    msg->u.sigs.items[c++] = self->sigs[w];
            break;
        }
        case FL_SECAGG_MSG_ABORT:
            msg = fl_secagg_msg_new (self->out_kind, 0);
            if (msg)
                msg->u.abort_code = self->abort_code;
            break;
        default:
            break;
    }
    if (msg) {
        msg->sender = FL_SECAGG_SERVER;
        msg->receiver = v;
    }
    return msg;
}

fl_secagg_msg_t *
fl_secagg_server_next_out (fl_secagg_server_t *self)
{
    assert (self);
    if (!self->out_kind)
        return NULL;
    while (self->out_cursor < self->cfg.n) {
        uint32_t v = self->out_cursor++;
        if (self->status[v] & self->out_bit) {
            fl_secagg_msg_t *msg = s_server_build (self, v);
            if (!msg)
                zsys_error ("fl_secagg server: out of memory building %s for client %u",
                            fl_secagg_msg_kind_name (self->out_kind), v);
            return msg;
        }
    }
    return NULL;
}

fl_secagg_server_state_t
fl_secagg_server_state (const fl_secagg_server_t *self)
{
    return self->state;
}

const char *
fl_secagg_server_state_name (int state)
{
    static const char *names[] = {"ADVERTISE", "SHARE", "MASKED", "CONSISTENCY", "UNMASK", "DONE", "ABORTED"};
    return state >= 0 && state <= FL_SECAGG_SERVER_ABORTED ? names[state] : "?";
}

const char *
fl_secagg_server_error (const fl_secagg_server_t *self)
{
    return self->error;
}

int
fl_secagg_server_result (const fl_secagg_server_t *self, const uint32_t **sum, size_t *m,
                         const uint32_t **survivors, uint32_t *survivor_count)
{
    if (self->state != FL_SECAGG_SERVER_DONE)
        return -1;
    if (sum) *sum = self->sum;
    if (m) *m = self->cfg.m;
    if (survivors) *survivors = self->u3;
    if (survivor_count) *survivor_count = self->u_count[3];
    return 0;
}

uint32_t
fl_secagg_server_set_size (const fl_secagg_server_t *self, int which)
{
    return which >= 1 && which <= 5 ? self->u_count[which] : 0;
}

uint32_t
fl_secagg_server_k (const fl_secagg_server_t *self)
{
    return self->graph.members ? fl_secagg_nbgraph_degree_ (&self->graph) : 0;
}
