/*  test_malicious_coordinator.c - the coordinator as an attacker.

    Sans I/O: the test IS the coordinator.  It drives the real fl_secagg
    client state machines (no server object: it builds every server message
    itself, so it can lie freely), performs one attack per test, then
    ATTEMPTS THE RECONSTRUCTION the attack aims at -- Shamir-combines the
    shares it obtained into the victim's self-mask seed b_v and mask key
    s_v^SK, re-derives the victim's pairwise masks from the formats of
    docs/SECAGG.md §2, and removes them from the victim's masked input y_v --
    and asserts what it could compute.

    Each attack is first run where it must succeed (no policy / a weakened
    parameter) to show the harness really recovers an input bit for bit,
    then against the fix, where the recovery must fail. */
#include <math.h>
#include <sodium.h>

#include "fl_prg.h"
#include "fl_rng.h"
#include "fl_secagg.h"
#include "fl_shamir.h"
#include "fl_test.h"

#define MAXN 32
#define M    64

typedef struct {
    uint32_t n, t;
    fl_secagg_config_t cfg;
    uint8_t pks[MAXN * 32], sks[MAXN * 64];
    uint8_t bindings[MAXN * 32];
    uint32_t x[MAXN * M];
    fl_secagg_client_t *c[MAXN];
    fl_secagg_advert_t adverts[MAXN];
    fl_secagg_ciphertext_t *cts;       /* all ciphertexts sent, n * n */
    uint32_t n_cts;
    uint32_t y_victim[M];
    int have_y;
} mc_t;

static void
mc_init (mc_t *s, uint32_t n, uint32_t t, const fl_secagg_policy_t *policy, uint64_t seed)
{
    memset (s, 0, sizeof *s);
    s->n = n;
    s->t = t;
    fl_rng_t *rng = fl_rng_new_u64 (seed, 7);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t ks[32];
        fl_rng_bytes (rng, ks, 32);
        crypto_sign_seed_keypair (s->pks + i * 32, s->sks + i * 64, ks);
    }
    fl_rng_bytes (rng, s->x, sizeof s->x);
    fl_rng_destroy (&rng);
    fl_secagg_config_t cfg = {.version = FL_SECAGG_VERSION, .round = 9, .bucket = 0, .n = n, .t = t,
                              .graph = FL_SECAGG_GRAPH_COMPLETE, .k = n, .m = M, .roster_pks = s->pks};
    memcpy (cfg.run_id, "malicious-coord!", 16);
    s->cfg = cfg;
    for (uint32_t i = 0; i < n; i++) {
        fl_secagg_config_t c = cfg;
        c.my_index = i;
        c.id_secret_key = s->sks + i * 64;
        c.round_binding = s->bindings + i * 32;
        c.policy = policy;
        s->c[i] = fl_secagg_client_new (&c);
        if (s->c[i])
            FL_CHECK (fl_secagg_client_set_input (s->c[i], s->x + (size_t) i * M) == 0);
    }
    s->cts = calloc ((size_t) n * n, sizeof (fl_secagg_ciphertext_t));
}

static void
mc_free (mc_t *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        fl_secagg_client_destroy (&s->c[i]);
    free (s->cts);
}

/*  Delivers msg to client i; returns its reply (or NULL). */
static fl_secagg_msg_t *
mc_send (mc_t *s, uint32_t i, fl_secagg_msg_t *msg)
{
    if (!s->c[i])
        return NULL;
    msg->sender = FL_SECAGG_SERVER;
    msg->receiver = i;
    fl_secagg_msg_t *out = NULL;
    fl_secagg_client_handle (s->c[i], msg, &out);
    return out;
}

/*  Phases 0-2 played straight (the attacker wants the victim's masked
    input): every client advertises, gets the full list, shares, gets its
    ciphertexts, masks.  Returns how many clients sent a masked input;
    y of client `victim` is kept. */
static uint32_t
mc_run_to_masked (mc_t *s, uint32_t victim)
{
    uint32_t na = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        fl_secagg_msg_t *out = NULL;
        if (s->c[i] && fl_secagg_client_start (s->c[i], &out) == 0 && out)
            s->adverts[na++] = out->u.advert;
        fl_secagg_msg_destroy (&out);
    }
    s->n_cts = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        fl_secagg_msg_t *list = fl_secagg_msg_new (FL_SECAGG_MSG_ADVERTISE_LIST, na);
        memcpy (list->u.adverts.items, s->adverts, na * sizeof (fl_secagg_advert_t));
        fl_secagg_msg_t *out = mc_send (s, i, list);
        if (out && out->kind == FL_SECAGG_MSG_SHARES)
            for (uint32_t j = 0; j < out->u.shares.count; j++)
                s->cts[s->n_cts++] = out->u.shares.items[j];
        fl_secagg_msg_destroy (&out);
        fl_secagg_msg_destroy (&list);
    }
    uint32_t masked = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t c = 0;
        for (uint32_t j = 0; j < s->n_cts; j++)
            c += s->cts[j].receiver == i;
        fl_secagg_msg_t *relay = fl_secagg_msg_new (FL_SECAGG_MSG_SHARES_RELAY, c);
        c = 0;
        for (uint32_t j = 0; j < s->n_cts; j++)
            if (s->cts[j].receiver == i)
                relay->u.shares.items[c++] = s->cts[j];
        fl_secagg_msg_t *out = mc_send (s, i, relay);
        if (out && out->kind == FL_SECAGG_MSG_MASKED_INPUT) {
            masked++;
            if (i == victim) {
                memcpy (s->y_victim, out->u.masked.values, sizeof s->y_victim);
                s->have_y = 1;
            }
        }
        fl_secagg_msg_destroy (&out);
        fl_secagg_msg_destroy (&relay);
    }
    return masked;
}

/*  The pairwise seed of docs/SECAGG.md §2, from v's secret mask key. */
static void
doc_pairwise_seed (const uint8_t ctx[32], const uint8_t *v_sk, uint32_t v, const uint8_t *v_pk, uint32_t w,
                   const uint8_t *w_pk, uint8_t out[32])
{
    uint8_t dh[32];
    FL_CHECK (crypto_scalarmult (dh, v_sk, w_pk) == 0);
    static const char label[] = "libfl secagg pairwise mask v1";
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, 32);
    crypto_generichash_update (&st, (const uint8_t *) label, sizeof label);
    crypto_generichash_update (&st, ctx, 32);
    crypto_generichash_update (&st, dh, 32);
    uint32_t lo = v < w ? v : w, hi = v < w ? w : v;
    uint8_t b[4];
    for (int k = 0; k < 4; k++) b[k] = (uint8_t) (lo >> (8 * k));
    crypto_generichash_update (&st, b, 4);
    crypto_generichash_update (&st, v < w ? v_pk : w_pk, 32);
    for (int k = 0; k < 4; k++) b[k] = (uint8_t) (hi >> (8 * k));
    crypto_generichash_update (&st, b, 4);
    crypto_generichash_update (&st, v < w ? w_pk : v_pk, 32);
    crypto_generichash_final (&st, out, 32);
}

/*  The reconstruction: from the unmasking shares the attacker collected,
    b_v and s_v^SK, then x_v = y_v - PRG(b_v) -+ pairwise masks.  true iff
    the victim's input came out bit for bit. */
static bool
mc_reconstruct (mc_t *s, uint32_t victim, const fl_shamir_share_t *bsh, uint32_t nb, const fl_shamir_share_t *ssh,
                uint32_t ns)
{
    uint8_t b[32], sk[32], pk[32], ctx[32];
    if (!s->have_y || nb < s->t || ns < s->t)
        return false;
    if (fl_shamir_reconstruct (bsh, nb, s->t, b) != 0 || fl_shamir_reconstruct (ssh, ns, s->t, sk) != 0)
        return false;
    const fl_secagg_advert_t *va = NULL;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->adverts[i].index == victim)
            va = &s->adverts[i];
    crypto_scalarmult_base (pk, sk);
    if (!va || sodium_memcmp (pk, va->s_pk, 32) != 0)
        return false;
    fl_secagg_config_t cfg = s->cfg;
    cfg.round_binding = s->bindings + victim * 32;
    fl_secagg_ctx_digest (&cfg, ctx);
    uint32_t x[M];
    memcpy (x, s->y_victim, sizeof x);
    fl_prg_sub (x, M, b, ctx);
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t w = s->adverts[i].index;
        if (w == victim)
            continue;
        uint8_t seed[32];
        doc_pairwise_seed (ctx, sk, victim, va->s_pk, w, s->adverts[i].s_pk, seed);
        if (w > victim)
            fl_prg_sub (x, M, seed, ctx);
        else
            fl_prg_add (x, M, seed, ctx);
    }
    return memcmp (x, s->x + (size_t) victim * M, sizeof x) == 0;
}

/*  The split-survivor attack (the finding 1): victim 0 and group A
    = 1..a are told the victim survived (they reveal shares of b_0), group B
    = a+1..n-1 that it dropped (they reveal shares of s_0^SK).  Each group
    gets the consistency signatures over its own survivor set.  Returns
    whether the victim's input was recovered. */
static bool
mc_split_attack (mc_t *s, uint32_t a)
{
    uint32_t n = s->n, victim = 0;
    if (mc_run_to_masked (s, victim) < n)
        return false;
    uint32_t all[MAXN], without[MAXN];
    for (uint32_t i = 0; i < n; i++)
        all[i] = i;
    for (uint32_t i = 1; i < n; i++)
        without[i - 1] = i;
    fl_secagg_signature_t sig_a[MAXN], sig_b[MAXN];
    uint32_t na = 0, nbs = 0;
    for (uint32_t i = 0; i < n; i++) {
        int in_a = i <= a;
        fl_secagg_msg_t *u3 = fl_secagg_msg_new (FL_SECAGG_MSG_SURVIVORS, in_a ? n : n - 1);
        memcpy (u3->u.survivors.ids, in_a ? all : without, (in_a ? n : n - 1) * sizeof (uint32_t));
        fl_secagg_msg_t *out = mc_send (s, i, u3);
        if (out && out->kind == FL_SECAGG_MSG_CONSISTENCY) {
            fl_secagg_signature_t *d = in_a ? &sig_a[na++] : &sig_b[nbs++];
            d->index = i;
            memcpy (d->sig, out->u.sig, 64);
        }
        fl_secagg_msg_destroy (&out);
        fl_secagg_msg_destroy (&u3);
    }
    fl_shamir_share_t bsh[MAXN], ssh[MAXN];
    uint32_t nb = 0, ns = 0;
    for (uint32_t i = 0; i < n; i++) {
        int in_a = i <= a;
        uint32_t cnt = in_a ? na : nbs;
        fl_secagg_msg_t *list = fl_secagg_msg_new (FL_SECAGG_MSG_SIGNATURE_LIST, cnt);
        memcpy (list->u.sigs.items, in_a ? sig_a : sig_b, cnt * sizeof (fl_secagg_signature_t));
        fl_secagg_msg_t *out = mc_send (s, i, list);
        for (uint32_t j = 0; out && out->kind == FL_SECAGG_MSG_UNMASK && j < out->u.unmask.count; j++) {
            const fl_secagg_unmask_share_t *u = &out->u.unmask.items[j];
            if (u->owner != victim)
                continue;
            fl_shamir_share_t *d = u->kind == FL_SECAGG_SHARE_SELF_MASK ? &bsh[nb++] : &ssh[ns++];
            d->index = i + 1;
            memcpy (d->value, u->value, FL_SECAGG_SHAREBYTES);
        }
        fl_secagg_msg_destroy (&out);
        fl_secagg_msg_destroy (&list);
    }
    if (fl_test_verbose_)
        printf ("  n = %u, t = %u: %u shares of b_0, %u of s_0^SK\n", n, s->t, nb, ns);
    bool got = mc_reconstruct (s, victim, bsh, nb, ssh, ns);
    sodium_memzero (bsh, sizeof bsh);
    sodium_memzero (ssh, sizeof ssh);
    return got;
}

/*  Finding 1: a coordinator-chosen threshold t = n/2 lets the split attack
    unmask the victim with no colluding client at all (shown here: the
    harness recovers the input).  Every client holding the default policy
    refuses such a session in fl_secagg_client_new; at the threshold the
    policy requires, the same attack recovers nothing. */
static void
test_weak_threshold_refused (void)
{
    fl_secagg_policy_t pol;
    fl_secagg_policy_default (&pol);
    const uint32_t ns[] = {4, 8, 12};
    for (size_t q = 0; q < 3; q++) {
        uint32_t n = ns[q], need = 0;
        FL_CHECK (fl_secagg_threshold_min (n, n, pol.gamma, &need) == 0);
        FL_CHECK (2 * need > n + (uint32_t) ceil (pol.gamma * n));       /* Bonawitz et al.: 2t > n + n_C */
        /* without the policy: the attack works (the harness is real) */
        mc_t s;
        mc_init (&s, n, n / 2, NULL, 100 + n);
        FL_CHECK (mc_split_attack (&s, n / 2 - 1));
        mc_free (&s);
        /* with the policy: every client refuses the weak session */
        mc_init (&s, n, n / 2, &pol, 100 + n);
        for (uint32_t i = 0; i < n; i++)
            FL_CHECK (s.c[i] == NULL);
        FL_CHECK (mc_run_to_masked (&s, 0) == 0);
        FL_CHECK (!s.have_y);
        mc_free (&s);
        /* at the policy's threshold the same attack, with every split, fails */
        for (uint32_t a = 0; a + 1 < n; a++) {
            mc_init (&s, n, need, &pol, 200 + n);
            FL_CHECK (s.c[0] != NULL);
            FL_CHECK (!mc_split_attack (&s, a));
            mc_free (&s);
        }
    }
}

/*  Split survivor sets / alive-and-dropped listing at the policy's
    threshold, with the "never both" rule: no holder reveals both kinds, so
    the shares the coordinator holds never reach t of both secrets. */
static void
test_split_survivor_sets_recover_nothing (void)
{
    fl_secagg_policy_t pol;
    fl_secagg_policy_default (&pol);
    uint32_t n = 20, t = 0;
    FL_CHECK (fl_secagg_threshold_min (n, n, pol.gamma, &t) == 0);
    for (uint32_t a = 0; a + 1 < n; a += 3) {
        mc_t s;
        mc_init (&s, n, t, &pol, 300 + a);
        FL_CHECK (!mc_split_attack (&s, a));
        for (uint32_t i = 1; i < n; i++)
            FL_CHECK (s.c[i] && fl_secagg_client_revealed (s.c[i], 0) != 3u);
        mc_free (&s);
    }
}

/*  A survivor list that omits the client itself (after it sent its masked
    input) would have its neighbours reveal its mask key: it refuses to
    sign, so it never reveals anything either. */
static void
test_survivor_list_omitting_self_refused (void)
{
    mc_t s;
    mc_init (&s, 8, 6, NULL, 400);
    FL_CHECK (mc_run_to_masked (&s, 0) == 8);
    fl_secagg_msg_t *u3 = fl_secagg_msg_new (FL_SECAGG_MSG_SURVIVORS, 7);
    for (uint32_t i = 1; i < 8; i++)
        u3->u.survivors.ids[i - 1] = i;
    fl_secagg_msg_t *out = mc_send (&s, 0, u3);
    FL_CHECK (out == NULL);
    FL_CHECK (fl_secagg_client_state (s.c[0]) == FL_SECAGG_CLIENT_ABORTED);
    FL_CHECK (strstr (fl_secagg_client_error (s.c[0]), "omits this client (0)") != NULL);
    fl_secagg_msg_destroy (&u3);
    mc_free (&s);
}

/*  A bucket of 2 shows each member the other's input from the sum: the
    default policy refuses it outright; a bucket below the policy's minimum
    is refused too. */
static void
test_bucket_of_two_refused (void)
{
    fl_secagg_policy_t pol;
    fl_secagg_policy_default (&pol);
    mc_t s;
    mc_init (&s, 2, 2, &pol, 500);
    FL_CHECK (s.c[0] == NULL && s.c[1] == NULL);
    mc_free (&s);
    char why[320];
    FL_CHECK (fl_secagg_policy_check (&pol, 2, 2, FL_SECAGG_GRAPH_COMPLETE, 2, NULL, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "bucket of 2 clients offered, the policy requires at least 3") != NULL);
    pol.min_bucket = 5;
    FL_CHECK (fl_secagg_policy_check (&pol, 4, 4, FL_SECAGG_GRAPH_COMPLETE, 4, NULL, why, sizeof why) == -1);
    pol.min_bucket = 2;                      /* explicit: then t = 2 on the complete graph only */
    FL_CHECK (fl_secagg_policy_check (&pol, 2, 2, FL_SECAGG_GRAPH_COMPLETE, 2, NULL, why, sizeof why) == 0);
}

/*  Graph and degree: a Harary graph with a degree too small for the
    policy's gamma, an even degree, or a graph the policy forbids. */
static void
test_weak_graph_refused (void)
{
    fl_secagg_policy_t pol;
    fl_secagg_policy_default (&pol);
    char why[320];
    uint32_t k = 0, t = 0;
    FL_CHECK (fl_secagg_params_choose (100, pol.gamma, 0.1, &k, &t) == 0);
    FL_CHECK (fl_secagg_policy_check (&pol, 100, t, FL_SECAGG_GRAPH_HARARY, k, NULL, why, sizeof why) == 0);
    FL_CHECK (fl_secagg_policy_check (&pol, 100, t - 1, FL_SECAGG_GRAPH_HARARY, k, NULL, why, sizeof why) == -1);
    FL_CHECK (fl_secagg_policy_check (&pol, 100, 3, FL_SECAGG_GRAPH_HARARY, 5, NULL, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "requires k >=") != NULL);
    FL_CHECK (fl_secagg_policy_check (&pol, 100, t, FL_SECAGG_GRAPH_HARARY, k + 1, NULL, why, sizeof why) == -1);
    pol.graphs = 1u << FL_SECAGG_GRAPH_COMPLETE;
    FL_CHECK (fl_secagg_policy_check (&pol, 100, t, FL_SECAGG_GRAPH_HARARY, k, NULL, why, sizeof why) == -1);
    /* an honest coordinator's choice passes for 3, 4, 5 and 8 members at
       every dropout fraction it may pick (delta only decides liveness) */
    fl_secagg_policy_default (&pol);
    const uint32_t ns[] = {3, 4, 5, 8, 20, 100};
    const double ds[] = {0, 0.05, 0.1, 0.15, 0.2, 0.25};
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < 6; j++)
            if (fl_secagg_params_choose (ns[i], pol.gamma, ds[j], &k, &t) == 0)
                FL_CHECK (fl_secagg_policy_check (&pol, ns[i], t, k >= ns[i] ? FL_SECAGG_GRAPH_COMPLETE
                                                                               : FL_SECAGG_GRAPH_HARARY,
                                                  k, NULL, why, sizeof why) == 0);
}

/*  Colluders packed into a bucket: bucket membership comes from the public
    rule over the cohort, so the coordinator cannot choose it: the same
    cohort always gives the same buckets, and the assignment the attacker
    wants is not the one every client re-derives (fl_client refuses any
    other: test_round_secure, test_packed_bucket_refused). */
static void
test_colluders_packed_into_bucket_not_derivable (void)
{
    uint8_t run[16] = "packed-buckets!";
    uint32_t cohort[12], order[12], again[12];
    for (uint32_t i = 0; i < 12; i++)
        cohort[i] = 3 * i + 1;
    FL_CHECK (fl_secagg_buckets_derive (run, 4, FL_SECAGG_PURPOSE_TRAIN, cohort, 12, 3, order) == 0);
    FL_CHECK (fl_secagg_buckets_derive (run, 4, FL_SECAGG_PURPOSE_TRAIN, cohort, 12, 3, again) == 0);
    FL_CHECK (memcmp (order, again, sizeof order) == 0);
    /* another round, purpose or run id: another assignment */
    FL_CHECK (fl_secagg_buckets_derive (run, 5, FL_SECAGG_PURPOSE_TRAIN, cohort, 12, 3, again) == 0);
    FL_CHECK (memcmp (order, again, sizeof order) != 0);
    FL_CHECK (fl_secagg_buckets_derive (run, 4, FL_SECAGG_PURPOSE_EVAL, cohort, 12, 3, again) == 0);
    FL_CHECK (memcmp (order, again, sizeof order) != 0);
    /* a cohort not in roster order, or duplicated, is refused */
    uint32_t bad[3] = {5, 2, 9}, dup[3] = {2, 2, 9};
    FL_CHECK (fl_secagg_buckets_derive (run, 4, 0, bad, 3, 1, again) == -1);
    FL_CHECK (fl_secagg_buckets_derive (run, 4, 0, dup, 3, 1, again) == -1);
    FL_CHECK (fl_secagg_buckets_derive (run, 4, 0, cohort, 12, 13, again) == -1);
}

/*  One victim shown another model (Pasquini et al. 2022), with a coordinator
    that relays the victim's advertisement anyway: the model is in the
    session context, so every other client finds the victim's signature
    forged and the victim finds everyone else's forged: nobody shares with
    it, it masks nothing, no share of it exists to reveal. */
static void
test_victim_shown_other_model_unmasks_nothing (void)
{
    mc_t s;
    mc_init (&s, 12, 8, NULL, 600);
    fl_secagg_client_destroy (&s.c[5]);
    memset (s.bindings + 5 * 32, 0x5A, 32);           /* client 5 was shown model 2 */
    fl_secagg_config_t c = s.cfg;
    c.my_index = 5;
    c.id_secret_key = s.sks + 5 * 64;
    c.round_binding = s.bindings + 5 * 32;
    s.c[5] = fl_secagg_client_new (&c);
    FL_CHECK (fl_secagg_client_set_input (s.c[5], s.x + 5 * M) == 0);
    FL_CHECK (mc_run_to_masked (&s, 5) == 0);          /* every client aborts on a forged advert */
    FL_CHECK (!s.have_y);
    for (uint32_t i = 0; i < 12; i++) {
        FL_CHECK (fl_secagg_client_state (s.c[i]) == FL_SECAGG_CLIENT_ABORTED);
        FL_CHECK (strstr (fl_secagg_client_error (s.c[i]), "forged key advertisement") != NULL);
    }
    for (uint32_t j = 0; j < s.n_cts; j++)
        FL_CHECK (s.cts[j].sender != 5);
    mc_free (&s);
}

/*  Tampered share: the coordinator flips one bit of a ciphertext addressed
    to client 3 (from victim 0) before relaying it.  AEAD refuses it, client
    3 aborts before its masked input, and the attack then gets no share of
    the victim from it; the split attack over the rest still recovers
    nothing at the policy's threshold. */
static void
test_tampered_share_refused (void)
{
    fl_secagg_policy_t pol;
    fl_secagg_policy_default (&pol);
    uint32_t n = 8, t = 0;
    FL_CHECK (fl_secagg_threshold_min (n, n, pol.gamma, &t) == 0);
    mc_t s;
    mc_init (&s, n, t, &pol, 700);
    uint32_t na = 0;
    for (uint32_t i = 0; i < n; i++) {
        fl_secagg_msg_t *out = NULL;
        FL_CHECK (fl_secagg_client_start (s.c[i], &out) == 0);
        s.adverts[na++] = out->u.advert;
        fl_secagg_msg_destroy (&out);
    }
    for (uint32_t i = 0; i < n; i++) {
        fl_secagg_msg_t *list = fl_secagg_msg_new (FL_SECAGG_MSG_ADVERTISE_LIST, na);
        memcpy (list->u.adverts.items, s.adverts, na * sizeof (fl_secagg_advert_t));
        fl_secagg_msg_t *out = mc_send (&s, i, list);
        for (uint32_t j = 0; out && j < out->u.shares.count; j++)
            s.cts[s.n_cts++] = out->u.shares.items[j];
        fl_secagg_msg_destroy (&out);
        fl_secagg_msg_destroy (&list);
    }
    uint32_t masked = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = 0;
        fl_secagg_msg_t *relay = fl_secagg_msg_new (FL_SECAGG_MSG_SHARES_RELAY, n);
        for (uint32_t j = 0; j < s.n_cts; j++)
            if (s.cts[j].receiver == i) {
                relay->u.shares.items[c] = s.cts[j];
                if (i == 3 && s.cts[j].sender == 0)
                    relay->u.shares.items[c].ct[40] ^= 1;
                c++;
            }
        relay->u.shares.count = c;
        fl_secagg_msg_t *out = mc_send (&s, i, relay);
        masked += out && out->kind == FL_SECAGG_MSG_MASKED_INPUT;
        fl_secagg_msg_destroy (&out);
        fl_secagg_msg_destroy (&relay);
    }
    FL_CHECK (masked == n - 1);
    FL_CHECK (fl_secagg_client_state (s.c[3]) == FL_SECAGG_CLIENT_ABORTED);
    FL_CHECK (strstr (fl_secagg_client_error (s.c[3]), "AEAD tag failed on share from client 0") != NULL);
    FL_CHECK (fl_secagg_client_revealed (s.c[3], 0) == 0);
    mc_free (&s);
}

/*  Replay across round / bucket / purpose: the advertisement list of one
    session handed to a client of another (same run, same members).  The
    context differs, so every signature is "forged" there and the client
    aborts before it shares anything. */
static void
test_replay_across_round_bucket_purpose_refused (void)
{
    for (int what = 0; what < 3; what++) {
        mc_t a, b;
        mc_init (&a, 6, 5, NULL, 800);
        mc_init (&b, 6, 5, NULL, 800);                 /* same identities */
        for (uint32_t i = 0; i < 6; i++)
            fl_secagg_client_destroy (&b.c[i]);
        if (what == 0)
            b.cfg.round++;
        else if (what == 1)
            b.cfg.bucket++;
        else
            b.cfg.purpose = FL_SECAGG_PURPOSE_EVAL;
        for (uint32_t i = 0; i < 6; i++) {
            fl_secagg_config_t c = b.cfg;
            c.my_index = i;
            c.id_secret_key = b.sks + i * 64;
            b.c[i] = fl_secagg_client_new (&c);
            fl_secagg_msg_t *out = NULL;
            FL_CHECK (fl_secagg_client_set_input (b.c[i], b.x + (size_t) i * M) == 0);
            FL_CHECK (fl_secagg_client_start (b.c[i], &out) == 0);
            fl_secagg_msg_destroy (&out);
        }
        for (uint32_t i = 0; i < 6; i++) {
            fl_secagg_msg_t *out = NULL;
            FL_CHECK (fl_secagg_client_start (a.c[i], &out) == 0);
            a.adverts[i] = out->u.advert;
            fl_secagg_msg_destroy (&out);
        }
        for (uint32_t i = 0; i < 6; i++) {
            fl_secagg_msg_t *list = fl_secagg_msg_new (FL_SECAGG_MSG_ADVERTISE_LIST, 6);
            memcpy (list->u.adverts.items, a.adverts, sizeof (fl_secagg_advert_t) * 6);
            fl_secagg_msg_t *out = mc_send (&b, i, list);
            FL_CHECK (out == NULL);
            FL_CHECK (fl_secagg_client_state (b.c[i]) == FL_SECAGG_CLIENT_ABORTED);
            fl_secagg_msg_destroy (&list);
        }
        mc_free (&a);
        mc_free (&b);
    }
}

int
main (void)
{
    FL_RUN (test_weak_threshold_refused);
    FL_RUN (test_split_survivor_sets_recover_nothing);
    FL_RUN (test_survivor_list_omitting_self_refused);
    FL_RUN (test_bucket_of_two_refused);
    FL_RUN (test_weak_graph_refused);
    FL_RUN (test_colluders_packed_into_bucket_not_derivable);
    FL_RUN (test_victim_shown_other_model_unmasks_nothing);
    FL_RUN (test_tampered_share_refused);
    FL_RUN (test_replay_across_round_bucket_purpose_refused);
    FL_TEST_DONE ();
}
