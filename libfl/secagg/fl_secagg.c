/*  fl_secagg.c - secure aggregation (SecAgg / SecAgg+) state machines, no I/O.

    This file is the heart of libfl's privacy promise: the coordinator learns
    the sum of a bucket's encoded updates and nothing else about any single
    one.  Protocol: Bonawitz et al. CCS 2017 (malicious-server variant with
    signatures and ConsistencyCheck), sparse graph of Bell et al. CCS 2020.
    The full specification as implemented is docs/SECAGG.md; this comment is
    the map a reviewer needs to check the code against it.

    DEFINITIONS
      ctx      32-byte digest of (version, run id, round, bucket, purpose, n,
               t, graph, k, m); in every signature, KDF, PRG key and AEAD AD.
      U1..U5   clients whose AdvertiseKeys / ShareKeys / MaskedInput /
               ConsistencyCheck / Unmasking message the server accepted
               before that phase's deadline; U5 <= U4 <= U3 <= U2 <= U1.
      N(u)     u's neighbourhood in the graph over U1, u included (|N(u)| = k,
               or |U1| for the complete graph).  Shares of u's secrets go to
               N(u); u masks pairwise with N(u) n U2 minus itself.
      b_u      self-mask seed; s_u^SK masking secret key; c_u^SK encryption key.
      s_uv     pairwise mask seed KDF(X25519(s_u^SK, s_v^PK), ctx, ...).
      D        digest of the survivor set U3 (with ctx, U1 and round binding)
               that ConsistencyCheck signatures cover.

    INVARIANTS (checked by s_client_invariants / s_server_invariants in debug
    builds; the security argument in docs/SECAGG.md §6 rests on them)
      C1  A client never reveals, over the whole session, a share of both b_v
          and s_v^SK for any neighbour v (revealed[v] is never 3).
      C2  A client in DONE or ABORTED holds no secret: X25519 secret keys, b_u,
          pairwise seeds, its input and the shares it holds are wiped.
      C3  A client reveals shares only after verifying >= t signatures, from
          distinct neighbours in U3, over the same D it signed itself (and
          no neighbour's signature over anything else).
      C4  A client past ADVERTISED has verified the signature of every
          neighbour's advertisement against the roster, and |U1| >= t.
      S1  The server never holds an individual unmasked input: its only
          input-dependent state is the running sum of masked inputs, and
          masks are removed only after Unmasking, from the sum over U3 with
          |U3| >= t.
      S2  Server sets are nested: U5 <= U4 <= U3 <= U2 <= U1 (status bits).
      S3  Phases close only with >= t members; otherwise the server is ABORTED
          and queues only ABORT messages (nothing more is revealed).
      S4  For a client v the server stores unmasking shares of one kind only:
          self mask if v in U3, mask key if v in U2 \ U3.

    CLIENT STATE DIAGRAM (function behind each transition)

      NEW --start--> ADVERTISED --ADVERTISE_LIST--> SHARED --SHARES_RELAY-->
          s_client_advertise   s_client_share_keys    s_client_mask_input
      MASKED --SURVIVORS--> SIGNED --SIGNATURE_LIST--> DONE
          s_client_sign_survivors  s_client_unmask
      any state but DONE --(ABORT or any check failing)--> ABORTED (s_client_abort)

    SERVER STATE DIAGRAM (each arrow is fl_secagg_server_deadline)

      ADVERTISE --|U1|>=t--> SHARE --|U2|>=t--> MASKED --|U3|>=t-->
      CONSISTENCY --|U4|>=t--> UNMASK --reconstruct ok--> DONE
      any phase --(fewer than t, or reconstruction failed)--> ABORTED
      Client messages are consumed in the phase that collects them
      (s_server_on_advertise, _on_shares, _on_masked, _on_consistency,
      _on_unmask); anything else is rejected with a reason, never asserted.
*/
#include "fl_secagg.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_rng.h"

#define S_ERRBYTES 192

/*  ---------------------------------------------------------------------------
    Encoding, hashing, key derivation
    ------------------------------------------------------------------------- */

static void
s_put32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v; p[1] = (uint8_t) (v >> 8); p[2] = (uint8_t) (v >> 16); p[3] = (uint8_t) (v >> 24);
}

static void
s_hash_u32 (crypto_generichash_state *st, uint32_t v)
{
    uint8_t b[4];
    s_put32 (b, v);
    crypto_generichash_update (st, b, 4);
}

static void
s_hash_u64 (crypto_generichash_state *st, uint64_t v)
{
    s_hash_u32 (st, (uint32_t) v);
    s_hash_u32 (st, (uint32_t) (v >> 32));
}

static void
s_hash_label (crypto_generichash_state *st, const char *label)
{
    crypto_generichash_init (st, NULL, 0, 32);
    crypto_generichash_update (st, (const uint8_t *) label, strlen (label) + 1);
}

void
fl_secagg_ctx_digest (const fl_secagg_config_t *cfg, uint8_t out[FL_SECAGG_CTXBYTES])
{
    crypto_generichash_state st;
    static const uint8_t zero[FL_SECAGG_BINDINGBYTES];
    s_hash_label (&st, "libfl secagg ctx v3");
    s_hash_u32 (&st, cfg->version);
    crypto_generichash_update (&st, cfg->run_id, FL_SECAGG_RUNIDBYTES);
    s_hash_u64 (&st, cfg->round);
    s_hash_u32 (&st, cfg->bucket);
    s_hash_u32 (&st, cfg->purpose);
    s_hash_u32 (&st, cfg->n);
    s_hash_u32 (&st, cfg->t);
    s_hash_u32 (&st, (uint32_t) cfg->graph);
    s_hash_u32 (&st, cfg->graph == FL_SECAGG_GRAPH_HARARY ? cfg->k : 0);
    s_hash_u64 (&st, (uint64_t) cfg->m);
    /*  The model from the first message on (docs/SECAGG.md §2): clients
        shown different models have different contexts, so they never
        verify each other's advertisements, decrypt each other's shares or
        derive the same pairwise masks. */
    crypto_generichash_update (&st, cfg->round_binding ? cfg->round_binding : zero, FL_SECAGG_BINDINGBYTES);
    crypto_generichash_final (&st, out, FL_SECAGG_CTXBYTES);
}

/*  32-byte key from an X25519 shared point between clients lo < hi, bound to
    ctx, a purpose label and both public keys (as crypto_kx does).  Returns
    -1 (and wipes) if the peer key is a low-order point (all-zero output). */
static int
s_dh_kdf (uint8_t out[32], const char *label, const uint8_t ctx[32], const uint8_t *my_sk,
          const uint8_t *peer_pk, uint32_t lo, const uint8_t *lo_pk, uint32_t hi, const uint8_t *hi_pk)
{
    uint8_t dh[crypto_scalarmult_BYTES];
    if (crypto_scalarmult (dh, my_sk, peer_pk) != 0) {
        sodium_memzero (dh, sizeof dh);
        return -1;
    }
    crypto_generichash_state st;
    s_hash_label (&st, label);
    crypto_generichash_update (&st, ctx, 32);
    crypto_generichash_update (&st, dh, sizeof dh);
    s_hash_u32 (&st, lo);
    crypto_generichash_update (&st, lo_pk, 32);
    s_hash_u32 (&st, hi);
    crypto_generichash_update (&st, hi_pk, 32);
    crypto_generichash_final (&st, out, 32);
    sodium_memzero (dh, sizeof dh);
    sodium_memzero (&st, sizeof st);
    return 0;
}

/*  What AdvertiseKeys signs: label || ctx || index || c_pk || s_pk. */
static void
s_advert_message (uint8_t out[32], const uint8_t ctx[32], const fl_secagg_advert_t *a)
{
    crypto_generichash_state st;
    s_hash_label (&st, "libfl secagg advertise v1");
    crypto_generichash_update (&st, ctx, 32);
    s_hash_u32 (&st, a->index);
    crypto_generichash_update (&st, a->c_pk, 32);
    crypto_generichash_update (&st, a->s_pk, 32);
    crypto_generichash_final (&st, out, 32);
}

static int __attribute__ ((warn_unused_result))
s_advert_verify (const uint8_t ctx[32], const fl_secagg_advert_t *a, const uint8_t *id_pk)
{
    uint8_t msg[32];
    s_advert_message (msg, ctx, a);
    return crypto_sign_verify_detached (a->sig, msg, sizeof msg, id_pk);
}

/*  Transcript digest of U1 (ascending indices): everything the graph and
    the ConsistencyCheck bind to. */
static void
s_u1_digest (uint8_t out[32], const uint8_t ctx[32], const fl_secagg_advert_t *items, uint32_t count)
{
    crypto_generichash_state st;
    s_hash_label (&st, "libfl secagg U1 v1");
    crypto_generichash_update (&st, ctx, 32);
    s_hash_u32 (&st, count);
    for (uint32_t i = 0; i < count; i++) {
        s_hash_u32 (&st, items[i].index);
        crypto_generichash_update (&st, items[i].c_pk, 32);
        crypto_generichash_update (&st, items[i].s_pk, 32);
    }
    crypto_generichash_final (&st, out, 32);
}

/*  D = H(label || ctx || U1 digest || round binding || |U3| || U3). */
static void
s_survivors_digest (uint8_t out[32], const uint8_t ctx[32], const uint8_t u1[32],
                    const uint8_t binding[32], const uint32_t *ids, uint32_t count)
{
    crypto_generichash_state st;
    s_hash_label (&st, "libfl secagg U3 v1");
    crypto_generichash_update (&st, ctx, 32);
    crypto_generichash_update (&st, u1, 32);
    crypto_generichash_update (&st, binding, 32);
    s_hash_u32 (&st, count);
    for (uint32_t i = 0; i < count; i++)
        s_hash_u32 (&st, ids[i]);
    crypto_generichash_final (&st, out, 32);
}

/*  What ConsistencyCheck signs: "FLSA-U3\0" || D || signer (44 bytes). */
#define S_CONSISTENCY_BYTES 44
static void
s_consistency_message (uint8_t out[S_CONSISTENCY_BYTES], const uint8_t d[32], uint32_t signer)
{
    memcpy (out, "FLSA-U3", 8);
    memcpy (out + 8, d, 32);
    s_put32 (out + 40, signer);
}

/*  ---------------------------------------------------------------------------
    Neighbour graph over U1
    ------------------------------------------------------------------------- */

typedef struct {
    uint32_t n;           /* bucket size: indices 0..n-1 */
    uint32_t count;       /* |U1| */
    uint32_t h;           /* ring half-width (k-1)/2; unused when complete */
    bool     complete;
    uint32_t *members;    /* count: U1 ascending */
    uint32_t *pos;        /* n: ring position of index (UINT32_MAX if not in U1) */
    uint32_t *ring;       /* count: index at ring position */
} s_graph_t;

static void
s_graph_free (s_graph_t *g)
{
    free (g->members);
    free (g->pos);
    free (g->ring);
    memset (g, 0, sizeof *g);
}

/*  Builds the graph: the members of U1 placed on a ring in the order of a
    permutation drawn by ChaCha20 (fl_rng) keyed by H(ctx || U1 digest), so
    every honest party computes the same graph and the server cannot pick it
    except by changing U1 itself (docs/SECAGG.md §4). */
static int
s_graph_build (s_graph_t *g, uint32_t n, const uint32_t *members, uint32_t count,
               fl_secagg_graph_t kind, uint32_t k, const uint8_t ctx[32], const uint8_t u1[32])
{
    memset (g, 0, sizeof *g);
    g->n = n;
    g->count = count;
    g->complete = kind == FL_SECAGG_GRAPH_COMPLETE || k >= count;
    g->h = g->complete ? 0 : (k - 1) / 2;
    g->members = malloc (count * sizeof (uint32_t));
    g->pos = malloc (n * sizeof (uint32_t));
    g->ring = malloc (count * sizeof (uint32_t));
    if (!g->members || !g->pos || !g->ring) {
        s_graph_free (g);
        return -1;
    }
    memcpy (g->members, members, count * sizeof (uint32_t));
    memcpy (g->ring, members, count * sizeof (uint32_t));
    if (!g->complete) {
        uint8_t seed[FL_RNG_SEEDBYTES];
        crypto_generichash_state st;
        s_hash_label (&st, "libfl secagg graph v1");
        crypto_generichash_update (&st, ctx, 32);
        crypto_generichash_update (&st, u1, 32);
        crypto_generichash_final (&st, seed, sizeof seed);
        fl_rng_t *rng = fl_rng_new (seed);
        if (!rng) {
            s_graph_free (g);
            return -1;
        }
        fl_rng_shuffle_u32 (rng, g->ring, count);
        fl_rng_destroy (&rng);
    }
    for (uint32_t i = 0; i < n; i++)
        g->pos[i] = UINT32_MAX;
    for (uint32_t p = 0; p < count; p++)
        g->pos[g->ring[p]] = p;
    return 0;
}

static bool
s_graph_in (const s_graph_t *g, uint32_t u)
{
    return u < g->n && g->pos[u] != UINT32_MAX;
}

static bool
s_graph_adjacent (const s_graph_t *g, uint32_t u, uint32_t v)
{
    if (!s_graph_in (g, u) || !s_graph_in (g, v))
        return false;
    if (g->complete)
        return true;
    uint32_t d = g->pos[u] > g->pos[v] ? g->pos[u] - g->pos[v] : g->pos[v] - g->pos[u];
    if (g->count - d < d)
        d = g->count - d;
    return d <= g->h;
}

/*  Neighbourhood size (u included). */
static uint32_t
s_graph_degree (const s_graph_t *g)
{
    return g->complete ? g->count : 2 * g->h + 1;
}

/*  Writes N(u) (u included) to out (room for s_graph_degree); returns count. */
static uint32_t
s_graph_neighbours (const s_graph_t *g, uint32_t u, uint32_t *out)
{
    if (g->complete) {
        memcpy (out, g->members, g->count * sizeof (uint32_t));
        return g->count;
    }
    uint32_t c = 0, p = g->pos[u];
    out[c++] = u;
    for (uint32_t j = 1; j <= g->h; j++) {
        out[c++] = g->ring[(p + j) % g->count];
        out[c++] = g->ring[(p + g->count - j) % g->count];
    }
    return c;
}

/*  ---------------------------------------------------------------------------
    Configuration and messages
    ------------------------------------------------------------------------- */

static int
s_config_check (const fl_secagg_config_t *cfg, bool client)
{
    const char *why = NULL;
    if (!cfg)
        why = "no configuration";
    else if (cfg->version != FL_SECAGG_VERSION)
        why = "unsupported protocol version";
    else if (cfg->purpose > FL_SECAGG_PURPOSE_MAX)
        why = "unknown purpose";
    else if (cfg->n < 2 || cfg->n > FL_SECAGG_MAX_CLIENTS)
        why = "n out of range 2..65535";
    else if (cfg->graph != FL_SECAGG_GRAPH_COMPLETE && cfg->graph != FL_SECAGG_GRAPH_HARARY)
        why = "unknown graph kind";
    else if (cfg->graph == FL_SECAGG_GRAPH_HARARY && (cfg->k < 3 || cfg->k > cfg->n || cfg->k % 2 == 0))
        why = "Harary neighbourhood size k must be odd and in 3..n";
    else if (cfg->t < 2 || cfg->t > (cfg->graph == FL_SECAGG_GRAPH_HARARY ? cfg->k : cfg->n))
        why = "threshold t must be in 2..k (COMPLETE: 2..n)";
    else if (cfg->m < 1 || cfg->m > FL_SECAGG_MAX_LENGTH)
        why = "vector length m out of range";
    else if (!cfg->roster_pks)
        why = "no roster public keys";
    else if (client && cfg->my_index >= cfg->n)
        why = "my_index out of range";
    else if (client && !cfg->id_secret_key)
        why = "no identity secret key";
    if (why) {
        zsys_error ("fl_secagg: invalid configuration: %s", why);
        return -1;
    }
    if (sodium_init () < 0) {
        zsys_error ("fl_secagg: sodium_init failed");
        return -1;
    }
    return 0;
}

fl_secagg_msg_t *
fl_secagg_msg_new (fl_secagg_msg_kind_t kind, size_t count)
{
    size_t item = 0, limit = FL_SECAGG_MAX_CLIENTS;
    switch (kind) {
        case FL_SECAGG_MSG_ADVERTISE_LIST: item = sizeof (fl_secagg_advert_t); break;
        case FL_SECAGG_MSG_SHARES:
        case FL_SECAGG_MSG_SHARES_RELAY:   item = sizeof (fl_secagg_ciphertext_t); break;
        case FL_SECAGG_MSG_MASKED_INPUT:   item = sizeof (uint32_t); limit = FL_SECAGG_MAX_LENGTH; break;
        case FL_SECAGG_MSG_SURVIVORS:      item = sizeof (uint32_t); break;
        case FL_SECAGG_MSG_SIGNATURE_LIST: item = sizeof (fl_secagg_signature_t); break;
        case FL_SECAGG_MSG_UNMASK:         item = sizeof (fl_secagg_unmask_share_t); break;
        case FL_SECAGG_MSG_ADVERTISE:
        case FL_SECAGG_MSG_CONSISTENCY:
        case FL_SECAGG_MSG_ABORT:          count = 0; break;
        default:
            zsys_error ("fl_secagg: message kind %d unknown", (int) kind);
            return NULL;
    }
    if (count > limit) {
        zsys_error ("fl_secagg: %s with %zu items exceeds limit %zu",
                    fl_secagg_msg_kind_name (kind), count, limit);
        return NULL;
    }
    fl_secagg_msg_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->kind = kind;
    self->sender = self->receiver = FL_SECAGG_SERVER;
    if (item) {
        void *a = calloc (count ? count : 1, item);
        if (!a) {
            free (self);
            return NULL;
        }
        /* every array member of the union starts with the pointer */
        switch (kind) {
            case FL_SECAGG_MSG_ADVERTISE_LIST: self->u.adverts.items = a; self->u.adverts.count = (uint32_t) count; break;
            case FL_SECAGG_MSG_SHARES:
            case FL_SECAGG_MSG_SHARES_RELAY:   self->u.shares.items = a; self->u.shares.count = (uint32_t) count; break;
            case FL_SECAGG_MSG_MASKED_INPUT:   self->u.masked.values = a; self->u.masked.count = count; break;
            case FL_SECAGG_MSG_SURVIVORS:      self->u.survivors.ids = a; self->u.survivors.count = (uint32_t) count; break;
            case FL_SECAGG_MSG_SIGNATURE_LIST: self->u.sigs.items = a; self->u.sigs.count = (uint32_t) count; break;
            case FL_SECAGG_MSG_UNMASK:         self->u.unmask.items = a; self->u.unmask.count = (uint32_t) count; break;
            default: break;
        }
    }
    return self;
}

void
fl_secagg_msg_destroy (fl_secagg_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_secagg_msg_t *self = *self_p;
    switch (self->kind) {
        case FL_SECAGG_MSG_ADVERTISE_LIST: free (self->u.adverts.items); break;
        case FL_SECAGG_MSG_SHARES:
        case FL_SECAGG_MSG_SHARES_RELAY:   free (self->u.shares.items); break;
        case FL_SECAGG_MSG_MASKED_INPUT:   free (self->u.masked.values); break;
        case FL_SECAGG_MSG_SURVIVORS:      free (self->u.survivors.ids); break;
        case FL_SECAGG_MSG_SIGNATURE_LIST: free (self->u.sigs.items); break;
        case FL_SECAGG_MSG_UNMASK:
            if (self->u.unmask.items)
                sodium_memzero (self->u.unmask.items, self->u.unmask.count * sizeof (fl_secagg_unmask_share_t));
            free (self->u.unmask.items);
            break;
        default: break;
    }
    free (self);
    *self_p = NULL;
}

const char *
fl_secagg_msg_kind_name (int kind)
{
    static const char *names[] = {"?", "ADVERTISE", "ADVERTISE_LIST", "SHARES", "SHARES_RELAY",
                                  "MASKED_INPUT", "SURVIVORS", "CONSISTENCY", "SIGNATURE_LIST",
                                  "UNMASK", "ABORT"};
    return kind > 0 && kind < FL_SECAGG_MSG_KIND_MAX ? names[kind] : "?";
}

/*  ---------------------------------------------------------------------------
    Client
    ------------------------------------------------------------------------- */

/*  Everything secret lives in one guarded sodium_malloc block. */
typedef struct {
    uint8_t id_sk[FL_SECAGG_IDSECRETKEYBYTES];
    uint8_t c_sk[32];        /* encryption X25519 secret key: wiped after ShareKeys */
    uint8_t s_sk[32];        /* masking X25519 secret key: wiped after masking */
    uint8_t b[32];           /* self-mask seed: wiped after masking */
    uint8_t tmp[32];         /* derived keys and seeds in flight */
} s_client_secrets_t;

struct fl_secagg_client_t {
    fl_secagg_config_t cfg;          /* pointers below replace the borrowed ones */
    uint8_t *roster;                 /* n x 32 */
    uint8_t ctx[32], binding[32];
    fl_secagg_client_state_t state;
    char error[S_ERRBYTES];
    s_client_secrets_t *sec;         /* sodium_malloc, NULL once wiped */
    uint32_t *x;                     /* sodium_malloc m: input; NULL once used */
    uint8_t c_pk[32], s_pk[32];
    /* after ADVERTISE_LIST */
    fl_secagg_advert_t *adverts;     /* n, by index; valid where in_u1 */
    uint8_t *flags;                  /* n: bit 1 U1, 2 U2 (from my view), 4 U3 */
    uint8_t *revealed;               /* n: bit 0 self mask, bit 1 mask key (C1) */
    uint8_t u1_digest[32];
    s_graph_t graph;
    uint32_t *nb;                    /* my neighbourhood, self included */
    uint32_t nb_count;
    uint8_t *held;                   /* sodium_malloc nb_count x 80: my shares of
                                        (s_v^SK, b_v) for nb[i]; NULL once wiped */
    uint8_t *enc_keys;               /* sodium_malloc nb_count x 32: AEAD key with nb[i],
                                        kept from ShareKeys to decrypt the relay (saves
                                        one X25519 per neighbour); NULL once wiped */
    uint32_t u1_count, u2_count;
    uint8_t d[32];                   /* survivor set digest I signed */
};

#define F_U1 1u
#define F_U2 2u
#define F_U3 4u

static void
s_client_wipe (fl_secagg_client_t *self)
{
    if (self->sec) { sodium_free (self->sec); self->sec = NULL; }   /* sodium_free wipes */
    if (self->x) { sodium_free (self->x); self->x = NULL; }
    if (self->held) { sodium_free (self->held); self->held = NULL; }
    if (self->enc_keys) { sodium_free (self->enc_keys); self->enc_keys = NULL; }
}

#ifndef NDEBUG
static bool
s_client_invariants (const fl_secagg_client_t *self)
{
    if (self->revealed)
        for (uint32_t v = 0; v < self->cfg.n; v++)
            if (self->revealed[v] == 3)
                return false;                                           /* C1 */
    if ((self->state == FL_SECAGG_CLIENT_DONE || self->state == FL_SECAGG_CLIENT_ABORTED)
        && (self->sec || self->x || self->held || self->enc_keys))
        return false;                                                   /* C2 */
    if (self->state >= FL_SECAGG_CLIENT_SHARED && self->state != FL_SECAGG_CLIENT_ABORTED
        && self->u1_count < self->cfg.t)
        return false;                                                   /* C4 */
    if (self->flags)
        for (uint32_t v = 0; v < self->cfg.n; v++)
            if ((self->flags[v] & F_U2) && !(self->flags[v] & F_U1))
                return false;
    return true;
}
#endif

/*  Moves to ABORTED, wipes all secrets, records why. Always returns -1. */
static int
s_client_abort (fl_secagg_client_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, ap);
    va_end (ap);
    s_client_wipe (self);
    self->state = FL_SECAGG_CLIENT_ABORTED;
    zsys_warning ("fl_secagg client %u (round %llu, bucket %u): aborted: %s", self->cfg.my_index,
                  (unsigned long long) self->cfg.round, self->cfg.bucket, self->error);
    assert (s_client_invariants (self));
    return -1;
}

fl_secagg_client_t *
fl_secagg_client_new (const fl_secagg_config_t *cfg)
{
    if (s_config_check (cfg, true) != 0)
        return NULL;
    char why[320];
    if (cfg->policy && fl_secagg_policy_check (cfg->policy, cfg->n, cfg->t, cfg->graph, cfg->k, NULL, why,
                                               sizeof why) != 0) {
        zsys_error ("fl_secagg client %u: session weaker than the policy: %s", cfg->my_index, why);
        return NULL;
    }
    fl_secagg_client_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    uint32_t n = cfg->n;
    self->roster = malloc ((size_t) n * 32);
    self->adverts = calloc (n, sizeof (fl_secagg_advert_t));
    self->flags = calloc (n, 1);
    self->revealed = calloc (n, 1);
    self->sec = sodium_malloc (sizeof (s_client_secrets_t));
    if (!self->roster || !self->adverts || !self->flags || !self->revealed || !self->sec) {
        fl_secagg_client_destroy (&self);
        return NULL;
    }
    memcpy (self->roster, cfg->roster_pks, (size_t) n * 32);
    memcpy (self->sec->id_sk, cfg->id_secret_key, FL_SECAGG_IDSECRETKEYBYTES);
    if (cfg->round_binding)
        memcpy (self->binding, cfg->round_binding, 32);
    self->cfg.roster_pks = self->roster;
    self->cfg.id_secret_key = NULL;
    self->cfg.policy = NULL;
    self->cfg.round_binding = self->binding;
    fl_secagg_ctx_digest (&self->cfg, self->ctx);
    self->cfg.round_binding = NULL;
    /*  Our identity secret key must belong to our roster entry, or every
        honest peer would reject us: catch the wiring mistake here. */
    uint8_t pk[32];
    crypto_sign_ed25519_sk_to_pk (pk, self->sec->id_sk);
    if (sodium_memcmp (pk, self->roster + (size_t) cfg->my_index * 32, 32) != 0) {
        zsys_error ("fl_secagg: identity secret key does not match roster entry %u", cfg->my_index);
        fl_secagg_client_destroy (&self);
        return NULL;
    }
    self->state = FL_SECAGG_CLIENT_NEW;
    return self;
}

void
fl_secagg_client_destroy (fl_secagg_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_secagg_client_t *self = *self_p;
    s_client_wipe (self);
    free (self->roster);
    free (self->adverts);
    free (self->flags);
    free (self->revealed);
    free (self->nb);
    s_graph_free (&self->graph);
    sodium_memzero (self, sizeof *self);
    free (self);
    *self_p = NULL;
}

int
fl_secagg_client_set_input (fl_secagg_client_t *self, const uint32_t *x)
{
    assert (self && x);
    if (self->state > FL_SECAGG_CLIENT_SHARED) {
        zsys_error ("fl_secagg client %u: input set too late (state %s)", self->cfg.my_index,
                    fl_secagg_client_state_name (self->state));
        return -1;
    }
    if (!self->x) {
        self->x = sodium_malloc (self->cfg.m * sizeof (uint32_t));
        if (!self->x)
            return -1;
    }
    memcpy (self->x, x, self->cfg.m * sizeof (uint32_t));
    return 0;
}

/*  Round 0, AdvertiseKeys. */
int
fl_secagg_client_start (fl_secagg_client_t *self, fl_secagg_msg_t **out)
{
    assert (self && out);
    *out = NULL;
    if (self->state != FL_SECAGG_CLIENT_NEW)
        return -1;
    fl_secagg_msg_t *msg = fl_secagg_msg_new (FL_SECAGG_MSG_ADVERTISE, 0);
    if (!msg)
        return -1;
    crypto_box_keypair (self->c_pk, self->sec->c_sk);
    crypto_box_keypair (self->s_pk, self->sec->s_sk);
    fl_secagg_advert_t *a = &msg->u.advert;
    a->index = self->cfg.my_index;
    memcpy (a->c_pk, self->c_pk, 32);
    memcpy (a->s_pk, self->s_pk, 32);
    uint8_t m[32];
    s_advert_message (m, self->ctx, a);
    crypto_sign_detached (a->sig, NULL, m, sizeof m, self->sec->id_sk);
    msg->sender = self->cfg.my_index;
    msg->receiver = FL_SECAGG_SERVER;
    self->state = FL_SECAGG_CLIENT_ADVERTISED;
    *out = msg;
    return 0;
}

/*  AEAD associated data: ctx || sender || receiver. */
static void
s_share_ad (uint8_t ad[40], const uint8_t ctx[32], uint32_t sender, uint32_t receiver)
{
    memcpy (ad, ctx, 32);
    s_put32 (ad + 32, sender);
    s_put32 (ad + 36, receiver);
}

static int
s_enc_key (fl_secagg_client_t *self, uint32_t v, uint8_t key[32])
{
    uint32_t u = self->cfg.my_index;
    const uint8_t *vpk = self->adverts[v].c_pk;
    return s_dh_kdf (key, "libfl secagg share key v1", self->ctx, self->sec->c_sk, vpk,
                     u < v ? u : v, u < v ? self->c_pk : vpk, u < v ? v : u, u < v ? vpk : self->c_pk);
}

/*  Round 1, ShareKeys: verify U1, build the graph, share s^SK and b. */
static int
s_client_share_keys (fl_secagg_client_t *self, const fl_secagg_msg_t *in, fl_secagg_msg_t **out)
{
    const fl_secagg_config_t *cfg = &self->cfg;
    uint32_t me = cfg->my_index, count = in->u.adverts.count;
    const fl_secagg_advert_t *items = in->u.adverts.items;
    if (count > cfg->n || (count && !items))
        return s_client_abort (self, "advertisement list has %u entries for %u clients", count, cfg->n);
    if (count < cfg->t)
        return s_client_abort (self, "only %u clients advertised keys, threshold is %u", count, cfg->t);
    uint32_t *members = malloc (count * sizeof (uint32_t));
    if (!members)
        return s_client_abort (self, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        if (items[i].index >= cfg->n || (i > 0 && items[i].index <= items[i - 1].index)) {
            free (members);
            return s_client_abort (self, "advertisement list: unknown identity or not strictly ascending "
                                   "at entry %u (client %u)", i, items[i].index);
        }
        members[i] = items[i].index;
        self->adverts[items[i].index] = items[i];
        self->flags[items[i].index] |= F_U1;
    }
    self->u1_count = count;
    if (!(self->flags[me] & F_U1) || sodium_memcmp (self->adverts[me].c_pk, self->c_pk, 32) != 0
        || sodium_memcmp (self->adverts[me].s_pk, self->s_pk, 32) != 0) {
        free (members);
        return s_client_abort (self, "my own key advertisement is missing or altered in U1");
    }
    s_u1_digest (self->u1_digest, self->ctx, items, count);
    int rc = s_graph_build (&self->graph, cfg->n, members, count, cfg->graph, cfg->k, self->ctx, self->u1_digest);
    free (members);
    if (rc != 0)
        return s_client_abort (self, "out of memory");
    self->nb = malloc (s_graph_degree (&self->graph) * sizeof (uint32_t));
    if (!self->nb)
        return s_client_abort (self, "out of memory");
    self->nb_count = s_graph_neighbours (&self->graph, me, self->nb);
    if (self->nb_count < cfg->t)
        return s_client_abort (self, "neighbourhood of %u is below threshold %u", self->nb_count, cfg->t);
    /*  Verify the advertisement of every neighbour (= all of U1 for the
        complete graph): these are the keys we will encrypt to and mask
        with.  A non-neighbour's advertisement is verified by its own
        neighbours; any alteration of U1 also changes the U1 digest signed in
        ConsistencyCheck (docs/SECAGG.md §3). */
    for (uint32_t i = 0; i < self->nb_count; i++) {
        uint32_t v = self->nb[i];
        if (s_advert_verify (self->ctx, &self->adverts[v], self->roster + (size_t) v * 32) != 0)
            return s_client_abort (self, "forged key advertisement for client %u (signature does not "
                                   "verify against its roster identity key)", v);
    }
    /*  Draw b_u and share both secrets t-of-|N(u)| at x = index + 1. */
    size_t k = self->nb_count;
    fl_shamir_share_t *sh = sodium_malloc (2 * k * sizeof (fl_shamir_share_t));
    uint32_t *xs = malloc (k * sizeof (uint32_t));
    fl_secagg_msg_t *msg = fl_secagg_msg_new (FL_SECAGG_MSG_SHARES, k);
    self->enc_keys = sodium_malloc (k * 32);
    if (!sh || !xs || !msg || !self->enc_keys) {
        if (sh) sodium_free (sh);
        free (xs);
        fl_secagg_msg_destroy (&msg);
        return s_client_abort (self, "out of memory");
    }
    for (size_t i = 0; i < k; i++)
        xs[i] = self->nb[i] + 1;
    randombytes_buf (self->sec->b, 32);
    if (fl_shamir_split (self->sec->s_sk, cfg->t, (uint32_t) k, xs, sh) != 0
        || fl_shamir_split (self->sec->b, cfg->t, (uint32_t) k, xs, sh + k) != 0) {
        sodium_free (sh);
        free (xs);
        fl_secagg_msg_destroy (&msg);
        return s_client_abort (self, "secret sharing failed");
    }
    free (xs);
    uint8_t plain[FL_SECAGG_PLAINBYTES], ad[40];
    for (size_t i = 0; i < k; i++) {
        uint32_t v = self->nb[i];
        fl_secagg_ciphertext_t *c = &msg->u.shares.items[i];
        c->sender = me;
        c->receiver = v;
        uint8_t *key = self->enc_keys + i * 32;
        if (s_enc_key (self, v, key) != 0) {
            sodium_free (sh);
            fl_secagg_msg_destroy (&msg);
            return s_client_abort (self, "client %u advertised a low-order encryption key", v);
        }
        memcpy (plain, sh[i].value, FL_SECAGG_SHAREBYTES);
        memcpy (plain + FL_SECAGG_SHAREBYTES, sh[k + i].value, FL_SECAGG_SHAREBYTES);
        s_share_ad (ad, self->ctx, me, v);
        randombytes_buf (c->ct, FL_SECAGG_NONCEBYTES);
        crypto_aead_xchacha20poly1305_ietf_encrypt (c->ct + FL_SECAGG_NONCEBYTES, NULL, plain, sizeof plain,
                                                    ad, sizeof ad, NULL, c->ct, key);
    }
    sodium_memzero (plain, sizeof plain);
    sodium_memzero (self->sec->c_sk, 32);               /* the per-neighbour keys suffice now */
    sodium_free (sh);
    msg->sender = me;
    self->state = FL_SECAGG_CLIENT_SHARED;
    *out = msg;
    return 0;
}

static int32_t
s_client_nb_slot (const fl_secagg_client_t *self, uint32_t v)
{
    for (uint32_t i = 0; i < self->nb_count; i++)
        if (self->nb[i] == v)
            return (int32_t) i;
    return -1;
}

/*  Round 2, MaskedInputCollection: decrypt the shares addressed to me (this
    fixes my view of N(u) n U2), then y = x + PRG(b) + sum_{v>u} PRG(s_uv)
    - sum_{v<u} PRG(s_uv) over v in N(u) n U2. */
static int
s_client_mask_input (fl_secagg_client_t *self, const fl_secagg_msg_t *in, fl_secagg_msg_t **out)
{
    const fl_secagg_config_t *cfg = &self->cfg;
    uint32_t me = cfg->my_index, count = in->u.shares.count;
    const fl_secagg_ciphertext_t *items = in->u.shares.items;
    if (count > self->nb_count || (count && !items))
        return s_client_abort (self, "share relay has %u ciphertexts for %u neighbours", count, self->nb_count);
    if (!self->x)
        return s_client_abort (self, "no input set before masking (fl_secagg_client_set_input)");
    self->held = sodium_malloc ((size_t) self->nb_count * FL_SECAGG_PLAINBYTES);
    if (!self->held)
        return s_client_abort (self, "out of memory");
    uint8_t ad[40];
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v = items[i].sender;
        int32_t slot = v < cfg->n ? s_client_nb_slot (self, v) : -1;
        if (items[i].receiver != me || slot < 0)
            return s_client_abort (self, "share relay: ciphertext from client %u to %u is not from a "
                                   "neighbour to me", v, items[i].receiver);
        if (self->flags[v] & F_U2)
            return s_client_abort (self, "share relay: two ciphertexts from client %u", v);
        s_share_ad (ad, self->ctx, v, me);
        unsigned long long plen = 0;
        uint8_t *dst = self->held + (size_t) slot * FL_SECAGG_PLAINBYTES;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt (dst, &plen, NULL,
                items[i].ct + FL_SECAGG_NONCEBYTES, FL_SECAGG_CIPHERTEXTBYTES - FL_SECAGG_NONCEBYTES,
                ad, sizeof ad, items[i].ct, self->enc_keys + (size_t) slot * 32) != 0
            || plen != FL_SECAGG_PLAINBYTES) {
            return s_client_abort (self, "AEAD tag failed on share from client %u (tampered, "
                                   "misaddressed or replayed ciphertext)", v);
        }
        self->flags[v] |= F_U2;
        self->u2_count++;
    }
    sodium_free (self->enc_keys);                       /* no further use */
    self->enc_keys = NULL;
    if (!(self->flags[me] & F_U2))
        return s_client_abort (self, "share relay does not contain my own share: I am not in U2");
    if (self->u2_count < cfg->t)
        return s_client_abort (self, "only %u neighbours in U2, threshold is %u", self->u2_count, cfg->t);

    fl_secagg_msg_t *msg = fl_secagg_msg_new (FL_SECAGG_MSG_MASKED_INPUT, cfg->m);
    if (!msg)
        return s_client_abort (self, "out of memory");
    uint32_t *y = msg->u.masked.values;
    memcpy (y, self->x, cfg->m * sizeof (uint32_t));
    sodium_free (self->x);
    self->x = NULL;
    fl_prg_add (y, cfg->m, self->sec->b, self->ctx);
    for (uint32_t i = 0; i < self->nb_count; i++) {
        uint32_t v = self->nb[i];
        if (v == me || !(self->flags[v] & F_U2))
            continue;
        const uint8_t *vpk = self->adverts[v].s_pk;
        if (s_dh_kdf (self->sec->tmp, "libfl secagg pairwise mask v1", self->ctx, self->sec->s_sk, vpk,
                      me < v ? me : v, me < v ? self->s_pk : vpk, me < v ? v : me, me < v ? vpk : self->s_pk) != 0) {
            fl_secagg_msg_destroy (&msg);
            return s_client_abort (self, "client %u advertised a low-order masking key", v);
        }
        if (v > me)
            fl_prg_add (y, cfg->m, self->sec->tmp, self->ctx);
        else
            fl_prg_sub (y, cfg->m, self->sec->tmp, self->ctx);
    }
    /*  s^SK and b are now only recoverable from t shares: drop our copies. */
    sodium_memzero (self->sec->tmp, 32);
    sodium_memzero (self->sec->s_sk, 32);
    sodium_memzero (self->sec->b, 32);
    msg->sender = me;
    self->state = FL_SECAGG_CLIENT_MASKED;
    *out = msg;
    return 0;
}

/*  Round 3, ConsistencyCheck: check U3 and sign it. */
static int
s_client_sign_survivors (fl_secagg_client_t *self, const fl_secagg_msg_t *in, fl_secagg_msg_t **out)
{
    const fl_secagg_config_t *cfg = &self->cfg;
    uint32_t count = in->u.survivors.count, local = 0;
    const uint32_t *ids = in->u.survivors.ids;
    if (count > cfg->n || (count && !ids))
        return s_client_abort (self, "survivor set has %u entries for %u clients", count, cfg->n);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v = ids[i];
        if (v >= cfg->n || (i > 0 && v <= ids[i - 1]))
            return s_client_abort (self, "survivor set not strictly ascending at entry %u", i);
        /*  U3 <= U2: checkable for neighbours (my view of U2); for others we
            only know U1. */
        bool nb = s_graph_adjacent (&self->graph, cfg->my_index, v);
        if (!(self->flags[v] & F_U1) || (nb && !(self->flags[v] & F_U2)))
            return s_client_abort (self, "survivor set is not a subset of U2: client %u did not share keys", v);
        if (nb)
            local++;
    }
    if (count < cfg->t)
        return s_client_abort (self, "survivor set has %u clients, below threshold %u", count, cfg->t);
    if (local < cfg->t)
        return s_client_abort (self, "survivor set has %u of my neighbours, below threshold %u", local, cfg->t);
    /*  A survivor list without us would have our neighbours reveal shares
        of our mask key while our masked input may already be in the sum:
        refuse to sign it (docs/SECAGG.md §3, round 3). */
    bool me = false;
    for (uint32_t i = 0; i < count && !me; i++)
        me = ids[i] == cfg->my_index;
    if (!me)
        return s_client_abort (self, "survivor set omits this client (%u), which sent its masked input",
                               cfg->my_index);
    for (uint32_t i = 0; i < count; i++)
        self->flags[ids[i]] |= F_U3;
    s_survivors_digest (self->d, self->ctx, self->u1_digest, self->binding, ids, count);
    fl_secagg_msg_t *msg = fl_secagg_msg_new (FL_SECAGG_MSG_CONSISTENCY, 0);
    if (!msg)
        return s_client_abort (self, "out of memory");
    uint8_t m[S_CONSISTENCY_BYTES];
    s_consistency_message (m, self->d, cfg->my_index);
    crypto_sign_detached (msg->u.sig, NULL, m, sizeof m, self->sec->id_sk);
    msg->sender = cfg->my_index;
    self->state = FL_SECAGG_CLIENT_SIGNED;
    *out = msg;
    return 0;
}

/*  Round 4, Unmasking: check the signatures, reveal one share per
    neighbour in U2. */
static int
s_client_unmask (fl_secagg_client_t *self, const fl_secagg_msg_t *in, fl_secagg_msg_t **out)
{
    const fl_secagg_config_t *cfg = &self->cfg;
    uint32_t count = in->u.sigs.count;
    const fl_secagg_signature_t *items = in->u.sigs.items;
    if (count > cfg->n || (count && !items))
        return s_client_abort (self, "signature list has %u entries for %u clients", count, cfg->n);
    if (count < cfg->t)
        return s_client_abort (self, "only %u consistency signatures, threshold is %u", count, cfg->t);
    /*  Every neighbour's signature is verified (on the complete graph: every
        signature); >= t of them must be present.  Non-neighbours' entries
        are only checked for membership of U3: on the Harary graph verifying
        them would cost O(n) Ed25519 verifications per client, and they do
        not protect any secret this client holds (docs/SECAGG.md §3). */
    uint8_t m[S_CONSISTENCY_BYTES];
    uint32_t local = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v = items[i].index;
        if (v >= cfg->n || (i > 0 && v <= items[i - 1].index))
            return s_client_abort (self, "signature list not strictly ascending at entry %u", i);
        if (!(self->flags[v] & F_U3))
            return s_client_abort (self, "signature list is not a subset of U3: client %u", v);
        if (!s_graph_adjacent (&self->graph, cfg->my_index, v))
            continue;
        local++;
        s_consistency_message (m, self->d, v);
        if (crypto_sign_verify_detached (items[i].sig, m, sizeof m, self->roster + (size_t) v * 32) != 0)
            return s_client_abort (self, "consistency signature of client %u is not over my survivor set "
                                   "(different U3, U1 or round binding, or forged)", v);
    }
    if (local < cfg->t)
        return s_client_abort (self, "only %u consistency signatures from my neighbours, threshold is %u",
                               local, cfg->t);
    uint32_t reveal = 0;
    for (uint32_t i = 0; i < self->nb_count; i++)
        reveal += (self->flags[self->nb[i]] & F_U2) != 0;
    fl_secagg_msg_t *msg = fl_secagg_msg_new (FL_SECAGG_MSG_UNMASK, reveal);
    if (!msg)
        return s_client_abort (self, "out of memory");
    uint32_t j = 0;
    for (uint32_t i = 0; i < self->nb_count; i++) {
        uint32_t v = self->nb[i];
        if (!(self->flags[v] & F_U2))
            continue;
        bool alive = (self->flags[v] & F_U3) != 0;
        unsigned bit = alive ? 1u : 2u;
        if (self->revealed[v] & ~bit) {         /* C1: never both */
            fl_secagg_msg_destroy (&msg);
            return s_client_abort (self, "refusing to reveal a second kind of share of client %u", v);
        }
        self->revealed[v] |= (uint8_t) bit;
        fl_secagg_unmask_share_t *s = &msg->u.unmask.items[j++];
        s->owner = v;
        s->kind = alive ? FL_SECAGG_SHARE_SELF_MASK : FL_SECAGG_SHARE_MASK_KEY;
        memcpy (s->value, self->held + (size_t) i * FL_SECAGG_PLAINBYTES + (alive ? FL_SECAGG_SHAREBYTES : 0),
                FL_SECAGG_SHAREBYTES);
    }
    msg->sender = cfg->my_index;
    s_client_wipe (self);
    self->state = FL_SECAGG_CLIENT_DONE;
    *out = msg;
    return 0;
}

int
fl_secagg_client_handle (fl_secagg_client_t *self, const fl_secagg_msg_t *in, fl_secagg_msg_t **out)
{
    assert (self && in && out);
    *out = NULL;
    if (self->state == FL_SECAGG_CLIENT_DONE || self->state == FL_SECAGG_CLIENT_ABORTED) {
        zsys_warning ("fl_secagg client %u: %s message after the session ended ignored", self->cfg.my_index,
                      fl_secagg_msg_kind_name (in->kind));
        return -1;
    }
    if (in->kind == FL_SECAGG_MSG_ABORT)
        return s_client_abort (self, "server aborted the bucket (code %u)", in->u.abort_code);
    if (in->sender != FL_SECAGG_SERVER || in->receiver != self->cfg.my_index)
        return s_client_abort (self, "%s message addressed to %u from %u", fl_secagg_msg_kind_name (in->kind),
                               in->receiver, in->sender);
    int rc;
    fl_secagg_client_state_t st = self->state;
    if (st == FL_SECAGG_CLIENT_ADVERTISED && in->kind == FL_SECAGG_MSG_ADVERTISE_LIST)
        rc = s_client_share_keys (self, in, out);
    else if (st == FL_SECAGG_CLIENT_SHARED && in->kind == FL_SECAGG_MSG_SHARES_RELAY)
        rc = s_client_mask_input (self, in, out);
    else if (st == FL_SECAGG_CLIENT_MASKED && in->kind == FL_SECAGG_MSG_SURVIVORS)
        rc = s_client_sign_survivors (self, in, out);
    else if (st == FL_SECAGG_CLIENT_SIGNED && in->kind == FL_SECAGG_MSG_SIGNATURE_LIST)
        rc = s_client_unmask (self, in, out);
    else
        rc = s_client_abort (self, "unexpected %s message in state %s", fl_secagg_msg_kind_name (in->kind),
                             fl_secagg_client_state_name (st));
    assert (s_client_invariants (self));
    return rc;
}

fl_secagg_client_state_t
fl_secagg_client_state (const fl_secagg_client_t *self)
{
    return self->state;
}

const char *
fl_secagg_client_state_name (int state)
{
    static const char *names[] = {"NEW", "ADVERTISED", "SHARED", "MASKED", "SIGNED", "DONE", "ABORTED"};
    return state >= 0 && state <= FL_SECAGG_CLIENT_ABORTED ? names[state] : "?";
}

const char *
fl_secagg_client_error (const fl_secagg_client_t *self)
{
    return self->error;
}

unsigned
fl_secagg_client_revealed (const fl_secagg_client_t *self, uint32_t v)
{
    return v < self->cfg.n ? self->revealed[v] : 0;
}

/*  ---------------------------------------------------------------------------
    Server
    ------------------------------------------------------------------------- */

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
    s_graph_t graph;
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
    fl_shamir_share_t *shares;        /* sodium_malloc */
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
    if (self->shares) { sodium_free (self->shares); self->shares = NULL; }
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
    if (s_config_check (cfg, false) != 0)
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
    s_graph_free (&self->graph);
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
    if (s_advert_verify (self->ctx, a, self->roster + (size_t) in->sender * 32) != 0)
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
    if (count != s_graph_degree (&self->graph) || (count && !items))
        return s_server_reject (self, "client %u sent %u ciphertexts for a neighbourhood of %u", u, count,
                                s_graph_degree (&self->graph));
    /*  Exactly one ciphertext to each member of N(u): adjacency plus
        distinct receivers (checked with the inbox counts we are about to
        bump, so undo on failure). */
    uint32_t i;
    for (i = 0; i < count; i++) {
        uint32_t v = items[i].receiver;
        if (items[i].sender != u || !s_graph_adjacent (&self->graph, u, v))
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
    uint8_t m[S_CONSISTENCY_BYTES];
    s_consistency_message (m, self->d, in->sender);
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
    uint32_t nb[s_graph_degree (&self->graph)];
    uint32_t nbc = s_graph_neighbours (&self->graph, u, nb);
    for (uint32_t i = 0; i < nbc; i++)
        expect += (self->status[nb[i]] & S_U (2)) != 0;
    if (count != expect || (count && !items))
        return s_server_reject (self, "client %u sent %u unmasking shares, expected %u", u, count, expect);
    uint32_t i;
    for (i = 0; i < count; i++) {
        uint32_t v = items[i].owner;
        if (v >= self->cfg.n || !(self->status[v] & S_U (2)) || !s_graph_adjacent (&self->graph, u, v))
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
    uint32_t nb[s_graph_degree (&self->graph)];
    bool changed = true;
    while (changed) {
        changed = false;
        for (uint32_t v = 0; v < self->cfg.n; v++) {
            if (!(self->status[v] & S_U (2)))
                continue;
            uint32_t c = s_graph_neighbours (&self->graph, v, nb), live = 0;
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
    uint8_t *secret = sodium_malloc (64);            /* [0..31] secret, [32..63] pairwise seed */
    uint32_t idx[t];
    uint32_t nb[s_graph_degree (&self->graph)];
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
        uint32_t nc = s_graph_neighbours (&self->graph, v, nb);
        for (uint32_t i = 0; i < nc && rc == 0; i++) {
            uint32_t w = nb[i];
            if (w == v || !(self->status[w] & S_U (3)))
                continue;
            const uint8_t *vpk = self->adverts[v].s_pk, *wpk = self->adverts[w].s_pk;
            if (s_dh_kdf (secret + 32, "libfl secagg pairwise mask v1", self->ctx, secret, wpk,
                          v < w ? v : w, v < w ? vpk : wpk, v < w ? w : v, v < w ? wpk : vpk) != 0) {
                rc = s_server_abort (self, "client %u advertised a low-order masking key", w);
                break;
            }
            if (v > w)
                fl_prg_sub (self->sum, m, secret + 32, self->ctx);
            else
                fl_prg_add (self->sum, m, secret + 32, self->ctx);
        }
    }
    sodium_free (secret);
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
            s_u1_digest (self->u1_digest, self->ctx, list, c);
            free (list);
            int rc = s_graph_build (&self->graph, n, members, c, self->cfg.graph, self->cfg.k, self->ctx,
                                    self->u1_digest);
            free (members);
            if (rc != 0)
                return s_server_abort (self, "out of memory");
            self->kmax = s_graph_degree (&self->graph);
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
            s_survivors_digest (self->d, self->ctx, self->u1_digest, self->binding, self->u3, c);
            self->state = FL_SECAGG_SERVER_CONSISTENCY;
            s_server_queue (self, FL_SECAGG_MSG_SURVIVORS, S_U (3));
            break;
        }
        case FL_SECAGG_SERVER_CONSISTENCY:
            if (self->u_count[4] < t)
                return s_server_abort (self, "only %u consistency signatures, threshold %u", self->u_count[4], t);
            self->shares = sodium_malloc ((size_t) self->graph.count * self->kmax * sizeof (fl_shamir_share_t));
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
    return self->graph.members ? s_graph_degree (&self->graph) : 0;
}

/*  ---------------------------------------------------------------------------
    Parameter selection (docs/SECAGG.md §5)
    ------------------------------------------------------------------------- */

static double
s_lchoose (double a, double b)
{
    return lgamma (a + 1) - lgamma (b + 1) - lgamma (a - b + 1);
}

/*  Least c with P[X >= c] <= bound, X ~ Hypergeometric(population N, K
    marked, d draws): the pmf is summed from the top, O(d) lgamma calls. */
static uint32_t
s_hyper_quantile (uint32_t N, uint32_t K, uint32_t d, double bound)
{
    uint32_t hi = K < d ? K : d;
    uint32_t lo = d > N - K ? d - (N - K) : 0;
    double tail = 0, ltot = s_lchoose (N, d);
    uint32_t c = hi + 1;                           /* P[X >= hi + 1] = 0 */
    for (uint32_t x = hi + 1; x-- > lo;) {
        tail += exp (s_lchoose (K, x) + s_lchoose (N - K, d - x) - ltot);
        if (tail > bound)
            break;
        c = x;
    }
    return c;
}

/*  Corrupt clients assumed in a bucket of n: ceil(gamma n), at most n - 1. */
static uint32_t
s_corrupt_count (uint32_t n, double gamma)
{
    uint32_t nc = (uint32_t) ceil (gamma * n);
    return nc > n - 1 ? n - 1 : nc;
}

/*  The privacy condition for neighbourhood k: c* and t = max(2, ceil((k +
    c*) / 2)).  false if no t <= k exists (c* > k - 1). */
static bool
s_threshold (uint32_t n, uint32_t k, uint32_t nc, uint32_t *t_out)
{
    const double sec = ldexp (1.0, -FL_SECAGG_SIGMA_BITS) / n;
    /* c*: least c with P[C >= c] <= 2^-sigma / n, C corrupt among k-1 others */
    uint32_t cs = s_hyper_quantile (n - 1, nc, k - 1, sec);
    uint32_t t = (k + cs + 1) / 2;                 /* least t with 2t - k >= c* */
    if (t < 2)
        t = 2;
    *t_out = t;
    return cs <= k - 1;
}

int
fl_secagg_threshold_min (uint32_t n, uint32_t k, double gamma, uint32_t *t_out)
{
    if (!t_out || n < 2 || n > FL_SECAGG_MAX_CLIENTS || k < 2 || k > n || !(gamma >= 0 && gamma < 1))
        return -1;
    uint32_t t = 0;
    if (!s_threshold (n, k, s_corrupt_count (n, gamma), &t))
        return -1;
    *t_out = t;
    return 0;
}

/*  params_choose without the log line; delta < 0: privacy alone (the least
    feasible k, for the policy check). */
static int
s_params_choose (uint32_t n, double gamma, double delta, uint32_t *k_out, uint32_t *t_out)
{
    const double cor = ldexp (1.0, -FL_SECAGG_ETA_BITS) / n;
    uint32_t nc = s_corrupt_count (n, gamma), nd = delta > 0 ? (uint32_t) ceil (delta * n) : 0;
    /*  Odd k = 3, 5, ... up to a search limit of 4095, then the complete graph
        k = n.  Larger neighbourhoods only help, so the first feasible k is the
        cheapest safe one. */
    uint32_t k = 3;
    for (;;) {
        if (k > n)
            k = n;
        uint32_t t = 0;
        bool private_ok = s_threshold (n, k, nc, &t);
        /* d*: least d with P[D > d] <= 2^-eta / n, D dropped among the k holders */
        uint32_t q = s_hyper_quantile (n, nd, k, cor), ds = q ? q - 1 : 0;
        if (private_ok && t + ds <= k) {
            *k_out = k;
            *t_out = t;
            return 0;
        }
        if (k == n)
            break;
        k = (k + 2 < n && k + 2 <= 4095) ? k + 2 : n;
    }
    return -1;
}

int
fl_secagg_params_choose (uint32_t n, double gamma, double delta, uint32_t *k_out, uint32_t *t_out)
{
    if (!k_out || !t_out || n < 3 || n > FL_SECAGG_MAX_CLIENTS || !(gamma >= 0 && gamma < 1)
        || !(delta >= 0 && delta < 1)) {
        zsys_error ("fl_secagg_params_choose: need 3 <= n <= %u and gamma, delta in [0, 1) "
                    "(n = %u, gamma = %g, delta = %g)", FL_SECAGG_MAX_CLIENTS, n, gamma, delta);
        return -1;
    }
    if (s_params_choose (n, gamma, delta, k_out, t_out) == 0)
        return 0;
    zsys_error ("fl_secagg_params_choose: no safe (k, t) for n = %u, gamma = %g, delta = %g "
                "(sigma = %d, eta = %d)", n, gamma, delta, FL_SECAGG_SIGMA_BITS, FL_SECAGG_ETA_BITS);
    return -1;
}

int
fl_secagg_params_choose_auto (uint32_t n, double gamma, double *delta_out, uint32_t *k_out, uint32_t *t_out)
{
    static const double tries[] = {0.25, 0.2, 0.15, 0.1, 0.05, 0};
    if (!delta_out || !k_out || !t_out || n < 3 || n > FL_SECAGG_MAX_CLIENTS || !(gamma >= 0 && gamma < 1))
        return -1;
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++)
        if (s_params_choose (n, gamma, tries[i], k_out, t_out) == 0) {
            *delta_out = tries[i];
            return 0;
        }
    return -1;
}

/*  ---------------------------------------------------------------------------
    The consortium's policy, checked by every client (docs/SECAGG.md §6.1)
    ------------------------------------------------------------------------- */

void
fl_secagg_policy_default (fl_secagg_policy_t *policy)
{
    assert (policy);
    policy->gamma = FL_SECAGG_POLICY_GAMMA;
    policy->min_bucket = FL_SECAGG_POLICY_MIN_BUCKET;
    policy->graphs = FL_SECAGG_POLICY_GRAPHS;
}

int
fl_secagg_policy_valid (const fl_secagg_policy_t *policy, char *why, size_t cap)
{
    const char *bad = NULL;
    if (!policy)
        bad = "no policy";
    else if (!(policy->gamma >= 0 && policy->gamma < 1))
        bad = "gamma (colluding fraction) must be in [0, 1)";
    else if (policy->min_bucket < 2 || policy->min_bucket > FL_SECAGG_MAX_CLIENTS)
        bad = "min_bucket must be in 2..65535";
    else if (policy->graphs == 0 || (policy->graphs & ~FL_SECAGG_POLICY_GRAPHS))
        bad = "graphs must allow complete, harary or both";
    if (bad && why && cap)
        snprintf (why, cap, "%s", bad);
    return bad ? -1 : 0;
}

int
fl_secagg_policy_check (const fl_secagg_policy_t *policy, uint32_t n, uint32_t t, fl_secagg_graph_t graph,
                        uint32_t k, uint32_t *t_min, char *why, size_t cap)
{
    char buf[256] = "";
    int rc = -1;
    const char *gname = graph == FL_SECAGG_GRAPH_COMPLETE ? "complete" : graph == FL_SECAGG_GRAPH_HARARY ? "Harary" : "?";
    uint32_t need = 0, kmin = 0, tk = 0;
    if (fl_secagg_policy_valid (policy, buf, sizeof buf) != 0)
        ;
    else if (n < policy->min_bucket || n < 2 || n > FL_SECAGG_MAX_CLIENTS)
        snprintf (buf, sizeof buf, "bucket of %u clients offered, the policy requires at least %u%s", n,
                  policy->min_bucket, n == 2 ? " (in a bucket of 2 each member learns the other's input)" : "");
    else if ((unsigned) graph > FL_SECAGG_GRAPH_HARARY || !(policy->graphs & (1u << graph)))
        snprintf (buf, sizeof buf, "%s graph offered, the policy does not allow it", gname);
    else if (graph == FL_SECAGG_GRAPH_HARARY && (k < 3 || k > n || k % 2 == 0))
        snprintf (buf, sizeof buf, "Harary graph with k = %u offered for %u clients: k must be odd and in 3..%u",
                  k, n, n);
    else if (n == 2) {
        /*  A pair (only if the policy allows it): each member learns the
            other's input from the sum, whatever the threshold; t = 2. */
        if (t != 2 || graph != FL_SECAGG_GRAPH_COMPLETE)
            snprintf (buf, sizeof buf, "bucket of 2 offered with threshold %u on a %s graph: needs t = 2, complete",
                      t, gname);
        else {
            need = 2;
            rc = 0;
        }
    }
    else {
        tk = graph == FL_SECAGG_GRAPH_HARARY ? k : n;
        uint32_t tdummy = 0;
        if (s_params_choose (n, policy->gamma, -1, &kmin, &tdummy) != 0)
            snprintf (buf, sizeof buf, "no threshold keeps a bucket of %u private with gamma = %g colluding", n,
                      policy->gamma);
        else if (tk < kmin)
            snprintf (buf, sizeof buf, "neighbourhood k = %u offered for %u clients, the policy (gamma = %g) "
                      "requires k >= %u", tk, n, policy->gamma, kmin);
        else if (fl_secagg_threshold_min (n, tk, policy->gamma, &need) != 0)
            snprintf (buf, sizeof buf, "no threshold keeps k = %u private with gamma = %g colluding", tk,
                      policy->gamma);
        else if (t < need || t > tk)
            snprintf (buf, sizeof buf, "threshold t = %u offered for %u clients (%s graph, k = %u), the policy "
                      "(gamma = %g colluding) requires %u <= t <= %u", t, n, gname, tk, policy->gamma, need, tk);
        else
            rc = 0;
    }
    if (rc == 0 && t_min)
        *t_min = need;
    if (rc != 0 && why && cap)
        snprintf (why, cap, "%s", buf);
    return rc;
}

/*  ---------------------------------------------------------------------------
    Bucket membership (docs/SECAGG.md §4.1)
    ------------------------------------------------------------------------- */

int
fl_secagg_buckets_derive (const uint8_t run_id[FL_SECAGG_RUNIDBYTES], uint64_t round, uint32_t purpose,
                          const uint32_t *cohort, uint32_t count, uint32_t buckets, uint32_t *order)
{
    if (!run_id || !cohort || !order || count == 0 || count > FL_SECAGG_MAX_COHORT || buckets == 0
        || buckets > count)
        return -1;
    for (uint32_t i = 1; i < count; i++)
        if (cohort[i] <= cohort[i - 1])
            return -1;
    crypto_generichash_state st;
    uint8_t seed[32];
    s_hash_label (&st, "libfl secagg buckets v1");
    crypto_generichash_update (&st, run_id, FL_SECAGG_RUNIDBYTES);
    s_hash_u64 (&st, round);
    s_hash_u32 (&st, purpose);
    s_hash_u32 (&st, buckets);
    s_hash_u32 (&st, count);
    for (uint32_t i = 0; i < count; i++)
        s_hash_u32 (&st, cohort[i]);
    crypto_generichash_final (&st, seed, sizeof seed);
    fl_rng_t *rng = fl_rng_new (seed);
    if (!rng)
        return -1;
    for (uint32_t i = 0; i < count; i++)
        order[i] = i;
    fl_rng_shuffle_u32 (rng, order, count);
    fl_rng_destroy (&rng);
    return 0;
}
