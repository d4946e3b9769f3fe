/*  fl_secagg_client.c - the client machine of secure aggregation: one
    client of one bucket (Bonawitz et al. CCS 2017, Fig. 4, the variant
    secure against an active server; neighbourhoods of Bell et al. CCS 2020).
    Sans-I/O: it consumes server messages and emits at most one message per
    input.  docs/SECAGG.md §3 specifies the rounds; this comment is the map
    a reviewer needs to check the code against it.

    DEFINITIONS
      u        this client (cfg.my_index).
      U1..U3   as the server announced them; U2 is known only as "my
               neighbours whose share ciphertext to me decrypted" (flags).
      N(u)     u's neighbourhood in the graph over U1, u included
               (fl_secagg_graph.c); shares of u's secrets go to N(u), u masks
               pairwise with N(u) n U2 minus itself.
      b_u      self-mask seed; s_u^SK masking secret key; c_u^SK encryption
               key (fresh X25519 pairs per session).
      s_uv     pairwise mask seed (fl_secagg_pairwise_seed_).
      D        digest of the survivor set U3 (with ctx, U1 and the round
               binding) that ConsistencyCheck signatures cover.

    INVARIANTS (checked by s_client_invariants in debug builds; the security
    argument in docs/SECAGG.md §6 rests on them)
      C1  A client never reveals, over the whole session, a share of both b_v
          and s_v^SK for any neighbour v (revealed[v] is never 3).
      C2  A client in DONE or ABORTED holds no secret: X25519 secret keys, b_u,
          pairwise seeds, its input and the shares it holds are wiped.
      C3  A client reveals shares only after verifying >= t signatures, from
          distinct neighbours in U3, over the same D it signed itself (and
          no neighbour's signature over anything else).
      C4  A client past ADVERTISED has verified the signature of every
          neighbour's advertisement against the roster, and |U1| >= t.

    CLIENT STATE DIAGRAM (function behind each transition)

      NEW --start--> ADVERTISED --ADVERTISE_LIST--> SHARED --SHARES_RELAY-->
          fl_secagg_client_start  s_client_share_keys  s_client_mask_input
      MASKED --SURVIVORS--> SIGNED --SIGNATURE_LIST--> DONE
          s_client_sign_survivors  s_client_unmask
      any state but DONE --(ABORT or any check failing)--> ABORTED (s_client_abort)
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

/*  Everything secret lives in one guarded sodium_malloc block (fl_secmem). */
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
    s_client_secrets_t *sec;         /* fl_secmem, NULL once wiped */
    uint32_t *x;                     /* fl_secmem m: input; NULL once used */
    uint8_t c_pk[32], s_pk[32];
    /* after ADVERTISE_LIST */
    fl_secagg_advert_t *adverts;     /* n, by index; valid where in_u1 */
    uint8_t *flags;                  /* n: bit 1 U1, 2 U2 (from my view), 4 U3 */
    uint8_t *revealed;               /* n: bit 0 self mask, bit 1 mask key (C1) */
    uint8_t u1_digest[32];
    fl_secagg_nbgraph_t graph;
    uint32_t *nb;                    /* my neighbourhood, self included */
    uint32_t nb_count;
    uint8_t *held;                   /* fl_secmem nb_count x 80: my shares of
                                        (s_v^SK, b_v) for nb[i]; NULL once wiped */
    uint8_t *enc_keys;               /* fl_secmem nb_count x 32: AEAD key with nb[i],
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
    if (self->sec) { fl_secmem_free (self->sec); self->sec = NULL; }   /* fl_secmem_free wipes */
    if (self->x) { fl_secmem_free (self->x); self->x = NULL; }
    if (self->held) { fl_secmem_free (self->held); self->held = NULL; }
    if (self->enc_keys) { fl_secmem_free (self->enc_keys); self->enc_keys = NULL; }
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
    if (fl_secagg_config_check_ (cfg, true) != 0)
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
    self->sec = fl_secmem_alloc (sizeof (s_client_secrets_t));
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
    fl_secagg_nbgraph_free_ (&self->graph);
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
        self->x = fl_secmem_alloc (self->cfg.m * sizeof (uint32_t));
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
    fl_secagg_advert_message_ (m, self->ctx, a);
    crypto_sign_detached (a->sig, NULL, m, sizeof m, self->sec->id_sk);
    msg->sender = self->cfg.my_index;
    msg->receiver = FL_SECAGG_SERVER;
    self->state = FL_SECAGG_CLIENT_ADVERTISED;
    *out = msg;
    return 0;
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
    fl_secagg_u1_digest_ (self->u1_digest, self->ctx, items, count);
    int rc = fl_secagg_nbgraph_build_ (&self->graph, cfg->n, members, count, cfg->graph, cfg->k, self->ctx,
                                       self->u1_digest);
    free (members);
    if (rc != 0)
        return s_client_abort (self, "out of memory");
    self->nb = malloc (fl_secagg_nbgraph_degree_ (&self->graph) * sizeof (uint32_t));
    if (!self->nb)
        return s_client_abort (self, "out of memory");
    self->nb_count = fl_secagg_nbgraph_neighbours_ (&self->graph, me, self->nb);
    if (self->nb_count < cfg->t)
        return s_client_abort (self, "neighbourhood of %u is below threshold %u", self->nb_count, cfg->t);
    /*  Verify the advertisement of every neighbour (= all of U1 for the
        complete graph): these are the keys we will encrypt to and mask
        with.  A non-neighbour's advertisement is verified by its own
        neighbours; any alteration of U1 also changes the U1 digest signed in
        ConsistencyCheck (docs/SECAGG.md §3). */
    for (uint32_t i = 0; i < self->nb_count; i++) {
        uint32_t v = self->nb[i];
        if (fl_secagg_advert_verify_ (self->ctx, &self->adverts[v], self->roster + (size_t) v * 32) != 0)
            return s_client_abort (self, "forged key advertisement for client %u (signature does not "
                                   "verify against its roster identity key)", v);
    }
    /*  Draw b_u and share both secrets t-of-|N(u)| at x = index + 1. */
    size_t k = self->nb_count;
    fl_shamir_share_t *sh = fl_secmem_alloc (2 * k * sizeof (fl_shamir_share_t));
    uint32_t *xs = malloc (k * sizeof (uint32_t));
    fl_secagg_msg_t *msg = fl_secagg_msg_new (FL_SECAGG_MSG_SHARES, k);
    self->enc_keys = fl_secmem_alloc (k * 32);
    if (!sh || !xs || !msg || !self->enc_keys) {
        if (sh) fl_secmem_free (sh);
        free (xs);
        fl_secagg_msg_destroy (&msg);
        return s_client_abort (self, "out of memory");
    }
    for (size_t i = 0; i < k; i++)
        xs[i] = self->nb[i] + 1;
    randombytes_buf (self->sec->b, 32);
    if (fl_shamir_split (self->sec->s_sk, cfg->t, (uint32_t) k, xs, sh) != 0
        || fl_shamir_split (self->sec->b, cfg->t, (uint32_t) k, xs, sh + k) != 0) {
        fl_secmem_free (sh);
        free (xs);
        fl_secagg_msg_destroy (&msg);
        return s_client_abort (self, "secret sharing failed");
    }
    free (xs);
    uint8_t plain[FL_SECAGG_PLAINBYTES], ad[FL_SECAGG_ADBYTES_];
    for (size_t i = 0; i < k; i++) {
        uint32_t v = self->nb[i];
        fl_secagg_ciphertext_t *c = &msg->u.shares.items[i];
        c->sender = me;
        c->receiver = v;
        uint8_t *key = self->enc_keys + i * 32;
        if (fl_secagg_share_key_ (key, self->ctx, self->sec->c_sk, me, self->c_pk, v, self->adverts[v].c_pk)
            != 0) {
            fl_secmem_free (sh);
            fl_secagg_msg_destroy (&msg);
            return s_client_abort (self, "client %u advertised a low-order encryption key", v);
        }
        memcpy (plain, sh[i].value, FL_SECAGG_SHAREBYTES);
        memcpy (plain + FL_SECAGG_SHAREBYTES, sh[k + i].value, FL_SECAGG_SHAREBYTES);
        fl_secagg_share_ad_ (ad, self->ctx, me, v);
        randombytes_buf (c->ct, FL_SECAGG_NONCEBYTES);
        crypto_aead_xchacha20poly1305_ietf_encrypt (c->ct + FL_SECAGG_NONCEBYTES, NULL, plain, sizeof plain,
                                                    ad, sizeof ad, NULL, c->ct, key);
    }
    sodium_memzero (plain, sizeof plain);
    sodium_memzero (self->sec->c_sk, 32);               /* the per-neighbour keys suffice now */
    fl_secmem_free (sh);
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
    self->held = fl_secmem_alloc ((size_t) self->nb_count * FL_SECAGG_PLAINBYTES);
    if (!self->held)
        return s_client_abort (self, "out of memory");
    uint8_t ad[FL_SECAGG_ADBYTES_];
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v = items[i].sender;
        int32_t slot = v < cfg->n ? s_client_nb_slot (self, v) : -1;
        if (items[i].receiver != me || slot < 0)
            return s_client_abort (self, "share relay: ciphertext from client %u to %u is not from a "
                                   "neighbour to me", v, items[i].receiver);
        if (self->flags[v] & F_U2)
            return s_client_abort (self, "share relay: two ciphertexts from client %u", v);
        fl_secagg_share_ad_ (ad, self->ctx, v, me);
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
    fl_secmem_free (self->enc_keys);                       /* no further use */
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
    fl_secmem_free (self->x);
    self->x = NULL;
    fl_prg_add (y, cfg->m, self->sec->b, self->ctx);
    for (uint32_t i = 0; i < self->nb_count; i++) {
        uint32_t v = self->nb[i];
        if (v == me || !(self->flags[v] & F_U2))
            continue;
        if (fl_secagg_pairwise_seed_ (self->sec->tmp, self->ctx, self->sec->s_sk, me, self->s_pk, v,
                                      self->adverts[v].s_pk) != 0) {
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
        bool nb = fl_secagg_nbgraph_adjacent_ (&self->graph, cfg->my_index, v);
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
    fl_secagg_survivors_digest_ (self->d, self->ctx, self->u1_digest, self->binding, ids, count);
    fl_secagg_msg_t *msg = fl_secagg_msg_new (FL_SECAGG_MSG_CONSISTENCY, 0);
    if (!msg)
        return s_client_abort (self, "out of memory");
    uint8_t m[FL_SECAGG_CONSISTENCYBYTES_];
    fl_secagg_consistency_message_ (m, self->d, cfg->my_index);
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
    uint8_t m[FL_SECAGG_CONSISTENCYBYTES_];
    uint32_t local = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v = items[i].index;
        if (v >= cfg->n || (i > 0 && v <= items[i - 1].index))
            return s_client_abort (self, "signature list not strictly ascending at entry %u", i);
        if (!(self->flags[v] & F_U3))
            return s_client_abort (self, "signature list is not a subset of U3: client %u", v);
        if (!fl_secagg_nbgraph_adjacent_ (&self->graph, cfg->my_index, v))
            continue;
        local++;
        fl_secagg_consistency_message_ (m, self->d, v);
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
