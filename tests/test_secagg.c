/*  test_secagg.c - fl_secagg: exactness with dropouts at every phase, on the
    complete and the Harary graph, aborts below threshold, and the named
    adversarial cases of docs/SECAGG.md §6 (a malicious coordinator played by
    the test, which sits between the honest server object and the clients
    and can rewrite, withhold or forge messages).

    All clients run in this process; inputs are random uint32 vectors from a
    seeded fl_rng, and the unmasked sum must equal their plain sum mod 2^32
    bit for bit. */
#include <sodium.h>

#include "fl_rng.h"
#include "fl_secagg.h"
#include "fl_test.h"

#define NEVER 99

typedef struct sim_s sim_t;
typedef void (*tamper_fn) (sim_t *sim, fl_secagg_msg_t *msg, void *arg);

struct sim_s {
    uint32_t n;
    fl_secagg_config_t cfg;
    uint8_t *pks, *sks;              /* n x 32, n x 64 */
    uint8_t *bindings;               /* n x 32: round binding per client */
    fl_secagg_client_t **c;
    fl_secagg_server_t *s;
    uint32_t *x;                     /* n x m */
    fl_secagg_msg_t **pending;       /* replies not yet forwarded */
    int *drop_at;                    /* phase after which a client goes silent */
    fl_secagg_msg_t *captured;       /* last message of kind capture_kind to capture_for */
    int capture_kind;
    uint32_t capture_for;
    uint32_t unmask_msgs;            /* UNMASK messages clients produced */
    tamper_fn tamper;
    void *tamper_arg;
};

static sim_t *
sim_new (uint32_t n, uint32_t t, fl_secagg_graph_t graph, uint32_t k, size_t m, uint64_t round,
         uint32_t bucket, uint64_t seed)
{
    sim_t *sim = calloc (1, sizeof *sim);
    sim->n = n;
    sim->pks = malloc (n * 32);
    sim->sks = malloc (n * 64);
    sim->bindings = calloc (n, 32);
    sim->c = calloc (n, sizeof *sim->c);
    sim->x = malloc (n * m * sizeof (uint32_t));
    sim->pending = calloc (n, sizeof *sim->pending);
    sim->drop_at = malloc (n * sizeof (int));
    fl_rng_t *rng = fl_rng_new_u64 (seed, 0);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t ks[32];
        fl_rng_t *kr = fl_rng_new_u64 (1000 + i, 1);     /* identities fixed across sims */
        fl_rng_bytes (kr, ks, 32);
        fl_rng_destroy (&kr);
        crypto_sign_seed_keypair (sim->pks + i * 32, sim->sks + i * 64, ks);
        sim->drop_at[i] = NEVER;
    }
    fl_rng_bytes (rng, sim->x, n * m * sizeof (uint32_t));
    fl_rng_destroy (&rng);
    fl_secagg_config_t cfg = {.version = FL_SECAGG_VERSION, .round = round, .bucket = bucket, .n = n,
                              .t = t, .graph = graph, .k = k, .m = m, .roster_pks = sim->pks};
    memcpy (cfg.run_id, "libfl-test-run!!", 16);
    sim->cfg = cfg;
    sim->capture_kind = -1;
    return sim;
}

/*  Creates the machines (after the test had a chance to edit cfg / bindings). */
static void
sim_init (sim_t *sim)
{
    fl_secagg_config_t cfg = sim->cfg;
    cfg.round_binding = sim->bindings;              /* client 0's binding for the server */
    sim->s = fl_secagg_server_new (&cfg);
    for (uint32_t i = 0; i < sim->n; i++) {
        cfg.my_index = i;
        cfg.id_secret_key = sim->sks + i * 64;
        cfg.round_binding = sim->bindings + i * 32;
        sim->c[i] = fl_secagg_client_new (&cfg);
        fl_secagg_client_set_input (sim->c[i], sim->x + (size_t) i * sim->cfg.m);
    }
}

static void
sim_destroy (sim_t **sim_p)
{
    sim_t *sim = *sim_p;
    for (uint32_t i = 0; i < sim->n; i++) {
        fl_secagg_client_destroy (&sim->c[i]);
        fl_secagg_msg_destroy (&sim->pending[i]);
    }
    fl_secagg_server_destroy (&sim->s);
    fl_secagg_msg_destroy (&sim->captured);
    free (sim->pks); free (sim->sks); free (sim->bindings); free (sim->c); free (sim->x);
    free (sim->pending); free (sim->drop_at);
    free (sim);
    *sim_p = NULL;
}

static fl_secagg_msg_t *
s_copy_msg (const fl_secagg_msg_t *m)
{
    size_t count = 0, item = 0;
    const void *src = NULL;
    switch (m->kind) {
        case FL_SECAGG_MSG_ADVERTISE_LIST: count = m->u.adverts.count; item = sizeof (fl_secagg_advert_t); src = m->u.adverts.items; break;
        case FL_SECAGG_MSG_SHARES:
        case FL_SECAGG_MSG_SHARES_RELAY: count = m->u.shares.count; item = sizeof (fl_secagg_ciphertext_t); src = m->u.shares.items; break;
        case FL_SECAGG_MSG_SURVIVORS: count = m->u.survivors.count; item = 4; src = m->u.survivors.ids; break;
        case FL_SECAGG_MSG_SIGNATURE_LIST: count = m->u.sigs.count; item = sizeof (fl_secagg_signature_t); src = m->u.sigs.items; break;
        case FL_SECAGG_MSG_MASKED_INPUT: count = m->u.masked.count; item = 4; src = m->u.masked.values; break;
        case FL_SECAGG_MSG_UNMASK: count = m->u.unmask.count; item = sizeof (fl_secagg_unmask_share_t); src = m->u.unmask.items; break;
        default: break;
    }
    fl_secagg_msg_t *c = fl_secagg_msg_new (m->kind, count);
    void *arr = c->u.adverts.items;                 /* every array member starts the union */
    if (m->kind == FL_SECAGG_MSG_MASKED_INPUT) arr = c->u.masked.values;
    c->sender = m->sender;
    c->receiver = m->receiver;
    if (item) {
        memcpy (arr, src, count * item);
    } else
        c->u = m->u;
    return c;
}

/*  Clients start; those with drop_at > 0 advertise. */
static void
sim_start (sim_t *sim)
{
    for (uint32_t i = 0; i < sim->n; i++) {
        fl_secagg_msg_t *out = NULL;
        FL_CHECK (fl_secagg_client_start (sim->c[i], &out) == 0);
        if (sim->drop_at[i] > 0)
            FL_CHECK (fl_secagg_server_handle (sim->s, out) == 0);
        fl_secagg_msg_destroy (&out);
    }
}

/*  Delivers everything in the server's outbox to the clients (through the
    tamper hook), keeping replies in pending[]. */
static void
sim_deliver (sim_t *sim)
{
    fl_secagg_msg_t *msg;
    while ((msg = fl_secagg_server_next_out (sim->s))) {
        uint32_t v = msg->receiver;
        if (sim->tamper)
            sim->tamper (sim, msg, sim->tamper_arg);
        if ((int) msg->kind == sim->capture_kind && v == sim->capture_for) {
            fl_secagg_msg_destroy (&sim->captured);
            sim->captured = s_copy_msg (msg);
        }
        fl_secagg_msg_t *out = NULL;
        fl_secagg_client_handle (sim->c[v], msg, &out);
        if (out && out->kind == FL_SECAGG_MSG_UNMASK)
            sim->unmask_msgs++;
        fl_secagg_msg_destroy (&sim->pending[v]);
        sim->pending[v] = out;
        fl_secagg_msg_destroy (&msg);
    }
}

/*  Forwards pending replies of phase `phase` (1..4) to the server, except
    from clients that drop out after this phase's message. */
static void
sim_forward (sim_t *sim, int phase)
{
    for (uint32_t i = 0; i < sim->n; i++) {
        if (sim->pending[i] && sim->drop_at[i] > phase)
            FL_CHECK (fl_secagg_server_handle (sim->s, sim->pending[i]) == 0);
        fl_secagg_msg_destroy (&sim->pending[i]);
    }
}

/*  The whole protocol: returns the server's final state. */
static fl_secagg_server_state_t
sim_run (sim_t *sim)
{
    sim_start (sim);
    for (int phase = 1; phase <= 4; phase++) {
        if (fl_secagg_server_deadline (sim->s) != 0)
            break;
        sim_deliver (sim);
        sim_forward (sim, phase);
    }
    fl_secagg_server_deadline (sim->s);
    sim_deliver (sim);                       /* ABORT notices, if any */
    return fl_secagg_server_state (sim->s);
}

/*  Plain sum over clients that sent a masked input (drop_at >= 3). */
static bool
sim_sum_exact (sim_t *sim)
{
    const uint32_t *sum;
    size_t m;
    uint32_t count;
    const uint32_t *ids;
    if (fl_secagg_server_result (sim->s, &sum, &m, &ids, &count) != 0)
        return false;
    uint32_t expect_count = 0;
    for (uint32_t i = 0; i < sim->n; i++)
        expect_count += sim->drop_at[i] >= 3;
    if (count != expect_count || m != sim->cfg.m)
        return false;
    for (size_t j = 0; j < m; j++) {
        uint32_t s = 0;
        for (uint32_t i = 0; i < sim->n; i++)
            if (sim->drop_at[i] >= 3)
                s += sim->x[(size_t) i * m + j];
        if (s != sum[j])
            return false;
    }
    return true;
}

/*  ---------------------------------------------------------------------------
    What a corrupted client signs, re-implemented from docs/SECAGG.md §3
    (doubles as a check that the documented format is the implemented one).
    ------------------------------------------------------------------------- */

static void
h_u32 (crypto_generichash_state *st, uint32_t v)
{
    uint8_t b[4] = {(uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24)};
    crypto_generichash_update (st, b, 4);
}

static void
h_label (crypto_generichash_state *st, const char *label)
{
    crypto_generichash_init (st, NULL, 0, 32);
    crypto_generichash_update (st, (const uint8_t *) label, strlen (label) + 1);
}

static void
doc_sign_survivors (const sim_t *sim, uint32_t signer, const fl_secagg_msg_t *adverts,
                    const uint8_t binding[32], const uint32_t *ids, uint32_t count, uint8_t sig[64])
{
    uint8_t ctx[32], u1[32], d[32], m[44];
    fl_secagg_ctx_digest (&sim->cfg, ctx);
    crypto_generichash_state st;
    h_label (&st, "libfl secagg U1 v1");
    crypto_generichash_update (&st, ctx, 32);
    h_u32 (&st, adverts->u.adverts.count);
    for (uint32_t i = 0; i < adverts->u.adverts.count; i++) {
        h_u32 (&st, adverts->u.adverts.items[i].index);
        crypto_generichash_update (&st, adverts->u.adverts.items[i].c_pk, 32);
        crypto_generichash_update (&st, adverts->u.adverts.items[i].s_pk, 32);
    }
    crypto_generichash_final (&st, u1, 32);
    h_label (&st, "libfl secagg U3 v1");
    crypto_generichash_update (&st, ctx, 32);
    crypto_generichash_update (&st, u1, 32);
    crypto_generichash_update (&st, binding, 32);
    h_u32 (&st, count);
    for (uint32_t i = 0; i < count; i++)
        h_u32 (&st, ids[i]);
    crypto_generichash_final (&st, d, 32);
    memcpy (m, "FLSA-U3", 8);
    memcpy (m + 8, d, 32);
    m[40] = (uint8_t) signer; m[41] = (uint8_t) (signer >> 8); m[42] = m[43] = 0;
    crypto_sign_detached (sig, NULL, m, sizeof m, sim->sks + signer * 64);
}

/*  ---------------------------------------------------------------------------
    Exactness
    ------------------------------------------------------------------------- */

static void
test_exact_complete_no_dropout (void)
{
    sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 1000, 1, 0, 1);
    sim_init (sim);
    FL_CHECK (sim_run (sim) == FL_SECAGG_SERVER_DONE);
    FL_CHECK (sim_sum_exact (sim));
    FL_CHECK (fl_secagg_server_k (sim->s) == 20);
    for (uint32_t i = 0; i < sim->n; i++)
        FL_CHECK (fl_secagg_client_state (sim->c[i]) == FL_SECAGG_CLIENT_DONE);
    sim_destroy (&sim);
}

static int harary_shares_seen;
static void
count_relay (sim_t *sim, fl_secagg_msg_t *msg, void *arg)
{
    (void) sim;
    uint32_t k = *(uint32_t *) arg;
    if (msg->kind == FL_SECAGG_MSG_SHARES_RELAY && msg->u.shares.count != k)
        harary_shares_seen = -1000;
    else if (msg->kind == FL_SECAGG_MSG_SHARES_RELAY)
        harary_shares_seen++;
}

static void
test_exact_harary_no_dropout (void)
{
    uint32_t k = 11;
    sim_t *sim = sim_new (24, 7, FL_SECAGG_GRAPH_HARARY, k, 1000, 1, 0, 2);
    sim_init (sim);
    harary_shares_seen = 0;
    sim->tamper = count_relay;
    sim->tamper_arg = &k;
    FL_CHECK (sim_run (sim) == FL_SECAGG_SERVER_DONE);
    FL_CHECK (sim_sum_exact (sim));
    FL_CHECK (fl_secagg_server_k (sim->s) == k);
    FL_CHECK (harary_shares_seen == 24);      /* every client got exactly k ciphertexts */
    sim_destroy (&sim);
}

/*  Drop `d` clients (spread over the index range) at `phase`; 0 = never
    advertise, 1 = silent after the advert list, 2 = no masked input,
    3 = no consistency signature, 4 = no unmasking shares. */
static void
s_drop (sim_t *sim, int phase, uint32_t d, uint32_t offset)
{
    uint32_t stride = 5, a, b;
    for (;; stride++) {                                    /* coprime to n: d distinct clients */
        for (a = stride, b = sim->n; b;) { uint32_t r = a % b; a = b; b = r; }
        if (a == 1) break;
    }
    for (uint32_t j = 0; j < d; j++)
        sim->drop_at[(offset + j * stride) % sim->n] = phase;
}

static void
test_exact_dropout_each_phase (void)
{
    for (int g = 0; g < 2; g++) {
        bool harary = g == 1;
        uint32_t n = harary ? 24 : 21, t = harary ? 7 : 11, k = harary ? 11 : 0;
        for (int phase = 0; phase <= 4; phase++) {
            /* complete: up to n - t at every phase; Harary: up to k - t per neighbourhood */
            uint32_t d = harary ? k - t : n - t;
            sim_t *sim = sim_new (n, t, harary ? FL_SECAGG_GRAPH_HARARY : FL_SECAGG_GRAPH_COMPLETE, k, 777,
                                  7, 3, 100 + (uint64_t) phase);
            if (harary)                       /* d consecutive indices: k - t in any neighbourhood at most */
                for (uint32_t j = 0; j < d; j++)
                    sim->drop_at[j + 3] = phase;
            else
                s_drop (sim, phase, d, 1);
            sim_init (sim);
            fl_secagg_server_state_t st = sim_run (sim);
            FL_CHECK (st == FL_SECAGG_SERVER_DONE);
            FL_CHECK (sim_sum_exact (sim));
            if (st != FL_SECAGG_SERVER_DONE || fl_test_verbose_)
                printf ("  graph %s phase %d dropped %u: %s %s\n", harary ? "harary" : "complete", phase, d,
                        fl_secagg_server_state_name (st), fl_secagg_server_error (sim->s));
            sim_destroy (&sim);
        }
    }
    /*  Harary with many dropouts before advertising: U1 = t < k, so the graph
        becomes complete over U1 and everyone left must finish. */
    sim_t *sim = sim_new (24, 7, FL_SECAGG_GRAPH_HARARY, 11, 100, 7, 3, 99);
    s_drop (sim, 0, 17, 0);
    sim_init (sim);
    FL_CHECK (sim_run (sim) == FL_SECAGG_SERVER_DONE);
    FL_CHECK (sim_sum_exact (sim));
    FL_CHECK (fl_secagg_server_k (sim->s) == 7);
    sim_destroy (&sim);
}

static void
test_exact_dropout_every_phase_at_once (void)
{
    for (int g = 0; g < 2; g++) {
        bool harary = g == 1;
        sim_t *sim = sim_new (30, harary ? 9 : 16, harary ? FL_SECAGG_GRAPH_HARARY : FL_SECAGG_GRAPH_COMPLETE,
                              harary ? 15 : 0, 500, 2, 1, 55);
        for (int phase = 0; phase <= 4; phase++)
            sim->drop_at[phase * 6 + 1] = phase;      /* one per phase, spread over the ring */
        sim->drop_at[20] = 2;
        sim->drop_at[25] = 3;
        sim_init (sim);
        FL_CHECK (sim_run (sim) == FL_SECAGG_SERVER_DONE);
        FL_CHECK (sim_sum_exact (sim));
        sim_destroy (&sim);
    }
}

static void
test_abort_below_threshold_reveals_nothing (void)
{
    for (int phase = 0; phase <= 3; phase++) {
        sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 100, 1, 0, 7);
        s_drop (sim, phase, 20 - 11 + 1, 0);
        sim_init (sim);
        FL_CHECK (sim_run (sim) == FL_SECAGG_SERVER_ABORTED);
        FL_CHECK (sim->unmask_msgs == 0);                     /* no share was revealed */
        FL_CHECK (fl_secagg_server_result (sim->s, NULL, NULL, NULL, NULL) == -1);
        FL_CHECK (strstr (fl_secagg_server_error (sim->s), "threshold") != NULL);
        for (uint32_t i = 0; i < sim->n; i++)
            if (phase > 0 || sim->drop_at[i] > 0)             /* everyone who advertised was told */
                FL_CHECK (fl_secagg_client_state (sim->c[i]) == FL_SECAGG_CLIENT_ABORTED);
        for (uint32_t i = 0; i < sim->n; i++)
            for (uint32_t v = 0; v < sim->n; v++)
                FL_CHECK (fl_secagg_client_revealed (sim->c[i], v) == 0);
        sim_destroy (&sim);
    }
    /*  Too few unmasking responses: the few shares sent (< t) reveal nothing
        and the server aborts instead of returning a wrong sum. */
    sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 100, 1, 0, 8);
    s_drop (sim, 4, 10, 0);
    sim_init (sim);
    FL_CHECK (sim_run (sim) == FL_SECAGG_SERVER_ABORTED);
    FL_CHECK (fl_secagg_server_set_size (sim->s, 5) == 10);
    sim_destroy (&sim);
}

/*  ---------------------------------------------------------------------------
    Adversarial: the test plays the malicious coordinator
    ------------------------------------------------------------------------- */

/*  Runs up to and including delivery of the phase-`upto` messages
    (1 ADVERTISE_LIST, 2 SHARES_RELAY, 3 SURVIVORS, 4 SIGNATURE_LIST), leaving
    the replies to the last delivery in pending[]. */
static void
sim_run_to (sim_t *sim, int upto)
{
    sim_start (sim);
    for (int phase = 1; phase <= upto; phase++) {
        FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
        sim_deliver (sim);
        if (phase < upto)
            sim_forward (sim, phase);
    }
}

static bool
s_error_has (const fl_secagg_client_t *c, const char *what)
{
    return strstr (fl_secagg_client_error (c), what) != NULL;
}

/*  Malicious server shows U3 = all to group A and U3 = all \ {victim} to
    group B, with two corrupt clients signing both sets.  With t > (n + nc)/2
    (the bound params_choose enforces) one group must fall below t, so the
    server never holds t shares of both b_victim and s_victim^SK. */
static void
test_server_lists_client_alive_and_dropped_gets_no_share_pair (void)
{
    const uint32_t n = 20, t = 12, victim = 0, c1 = 18, c2 = 19;     /* 2t = 24 > n + 2 */
    sim_t *sim = sim_new (n, t, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 11);
    sim_init (sim);
    sim->capture_kind = FL_SECAGG_MSG_ADVERTISE_LIST;
    sim->capture_for = 1;
    sim_run_to (sim, 2);
    sim_forward (sim, 2);                          /* all masked inputs */
    uint32_t all[20], most[19];
    for (uint32_t i = 0; i < n; i++) all[i] = i;
    for (uint32_t i = 1; i < n; i++) most[i - 1] = i;
    /*  Instead of the honest SURVIVORS, the adversary sends its own lists. */
    FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
    fl_secagg_msg_t *drain;
    while ((drain = fl_secagg_server_next_out (sim->s)))
        fl_secagg_msg_destroy (&drain);
    fl_secagg_signature_t sig_a[20], sig_b[20];
    uint32_t na = 0, nb = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool group_b = i >= 10 && i < c1;
        if (i == c1 || i == c2) {                  /* corrupt: sign both */
            sig_a[na].index = i;
            doc_sign_survivors (sim, i, sim->captured, sim->bindings, all, n, sig_a[na++].sig);
            sig_b[nb].index = i;
            doc_sign_survivors (sim, i, sim->captured, sim->bindings, most, n - 1, sig_b[nb++].sig);
            continue;
        }
        fl_secagg_msg_t *m = fl_secagg_msg_new (FL_SECAGG_MSG_SURVIVORS, group_b ? n - 1 : n);
        memcpy (m->u.survivors.ids, group_b ? most : all, m->u.survivors.count * 4);
        m->receiver = i;
        fl_secagg_msg_t *out = NULL;
        FL_CHECK (fl_secagg_client_handle (sim->c[i], m, &out) == 0);
        FL_CHECK (out && out->kind == FL_SECAGG_MSG_CONSISTENCY);
        fl_secagg_signature_t *dst = group_b ? &sig_b[nb++] : &sig_a[na++];
        dst->index = i;
        memcpy (dst->sig, out->u.sig, 64);
        fl_secagg_msg_destroy (&out);
        fl_secagg_msg_destroy (&m);
    }
    /*  Signature lists must be ascending: corrupt indices are last, fine for
        A (0..9, 18, 19) and B (10..17, 18, 19). */
    uint32_t b_shares = 2, k_shares = 2;          /* corrupt holders give both */
    for (uint32_t i = 0; i < c1; i++) {
        bool group_b = i >= 10;
        {
            fl_secagg_msg_t *m = fl_secagg_msg_new (FL_SECAGG_MSG_SIGNATURE_LIST, group_b ? nb : na);
            memcpy (m->u.sigs.items, group_b ? sig_b : sig_a, m->u.sigs.count * sizeof (fl_secagg_signature_t));
            m->receiver = i;
            fl_secagg_msg_t *out = NULL;
            int rc = fl_secagg_client_handle (sim->c[i], m, &out);
            if (rc == 0 && out)
                for (uint32_t j = 0; j < out->u.unmask.count; j++)
                    if (out->u.unmask.items[j].owner == victim) {
                        if (out->u.unmask.items[j].kind == FL_SECAGG_SHARE_SELF_MASK) b_shares++;
                        else k_shares++;
                    }
            FL_CHECK (group_b ? rc == -1 : rc == 0);
            if (group_b)
                FL_CHECK (s_error_has (sim->c[i], "only 10 consistency signatures"));
            FL_CHECK (fl_secagg_client_revealed (sim->c[i], victim) != 3);
            fl_secagg_msg_destroy (&out);
            fl_secagg_msg_destroy (&m);
        }
    }
    FL_CHECK (b_shares == 12);                    /* A (10 honest) + 2 corrupt: legitimately alive */
    FL_CHECK (k_shares == 2);                     /* only the corrupt ones: < t */
    FL_CHECK (!(b_shares >= t && k_shares >= t));
    sim_destroy (&sim);
}

/*  One client is shown a different U3; the coordinator relays every
    signature anyway (an honest server would have rejected it). */
static void
test_different_survivor_sets_detected_at_consistency_check (void)
{
    const uint32_t n = 20;
    sim_t *sim = sim_new (n, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 12);
    sim_init (sim);
    sim_run_to (sim, 2);
    sim_forward (sim, 2);
    FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
    fl_secagg_msg_t *msg, *cons[20] = {0};
    while ((msg = fl_secagg_server_next_out (sim->s))) {
        uint32_t v = msg->receiver;
        if (v == 3) {                             /* drop client 9 from client 3's view */
            memmove (msg->u.survivors.ids + 9, msg->u.survivors.ids + 10, 10 * 4);
            msg->u.survivors.count = 19;
        }
        FL_CHECK (fl_secagg_client_handle (sim->c[v], msg, &cons[v]) == 0);
        fl_secagg_msg_destroy (&msg);
    }
    /*  The honest server refuses client 3's signature ... */
    for (uint32_t i = 0; i < n; i++)
        FL_CHECK (fl_secagg_server_handle (sim->s, cons[i]) == (i == 3 ? -1 : 0));
    /*  ... a malicious one relays all 20: every client detects it. */
    fl_secagg_msg_t *list = fl_secagg_msg_new (FL_SECAGG_MSG_SIGNATURE_LIST, n);
    for (uint32_t i = 0; i < n; i++) {
        list->u.sigs.items[i].index = i;
        memcpy (list->u.sigs.items[i].sig, cons[i]->u.sig, 64);
    }
    for (uint32_t i = 0; i < n; i++) {
        fl_secagg_msg_t *out = NULL;
        list->receiver = i;
        FL_CHECK (fl_secagg_client_handle (sim->c[i], list, &out) == -1);
        FL_CHECK (out == NULL);
        FL_CHECK (s_error_has (sim->c[i], i == 3 ? "client 0 is not over my survivor set"
                                                 : "client 3 is not over my survivor set"));
        FL_CHECK (fl_secagg_client_state (sim->c[i]) == FL_SECAGG_CLIENT_ABORTED);
    }
    for (uint32_t i = 0; i < n; i++)
        fl_secagg_msg_destroy (&cons[i]);
    fl_secagg_msg_destroy (&list);
    sim_destroy (&sim);
}

typedef struct { uint32_t victim, from; int mode; } tamper_share_t;

static void
tamper_share (sim_t *sim, fl_secagg_msg_t *msg, void *arg)
{
    (void) sim;
    tamper_share_t *ts = arg;
    if (msg->kind != FL_SECAGG_MSG_SHARES_RELAY || msg->receiver != ts->victim)
        return;
    for (uint32_t i = 0; i < msg->u.shares.count; i++)
        if (msg->u.shares.items[i].sender == ts->from) {
            if (ts->mode == 0)
                msg->u.shares.items[i].ct[40] ^= 1;                 /* flip a ciphertext bit */
            else if (ts->mode == 1)
                msg->u.shares.items[i].ct[FL_SECAGG_CIPHERTEXTBYTES - 1] ^= 0x80;   /* tag */
            else
                msg->u.shares.items[i].ct[3] ^= 0x10;               /* nonce */
        }
}

static void
test_tampered_relayed_share_rejected_by_aead (void)
{
    for (int mode = 0; mode < 3; mode++) {
        sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 13);
        sim_init (sim);
        tamper_share_t ts = {5, 2, mode};
        sim->tamper = tamper_share;
        sim->tamper_arg = &ts;
        sim_run_to (sim, 2);
        FL_CHECK (fl_secagg_client_state (sim->c[5]) == FL_SECAGG_CLIENT_ABORTED);
        FL_CHECK (sim->pending[5] == NULL);                         /* no masked input sent */
        FL_CHECK (s_error_has (sim->c[5], "AEAD tag failed on share from client 2"));
        FL_CHECK (fl_secagg_client_state (sim->c[6]) == FL_SECAGG_CLIENT_MASKED);
        sim_destroy (&sim);
    }
    /*  A ciphertext re-addressed to another receiver fails too (AD names
        sender and receiver, and the key is pairwise). */
    sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 14);
    sim_init (sim);
    sim_run_to (sim, 1);
    sim_forward (sim, 1);
    FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
    fl_secagg_msg_t *m5 = NULL, *m6 = NULL, *msg;
    while ((msg = fl_secagg_server_next_out (sim->s))) {
        if (msg->receiver == 5) m5 = msg;
        else if (msg->receiver == 6) m6 = msg;
        else fl_secagg_msg_destroy (&msg);
    }
    for (uint32_t i = 0; i < m5->u.shares.count; i++)
        if (m5->u.shares.items[i].sender == 2)
            for (uint32_t j = 0; j < m6->u.shares.count; j++)
                if (m6->u.shares.items[j].sender == 2) {
                    m5->u.shares.items[i] = m6->u.shares.items[j];
                    m5->u.shares.items[i].receiver = 5;
                }
    fl_secagg_msg_t *out = NULL;
    FL_CHECK (fl_secagg_client_handle (sim->c[5], m5, &out) == -1);
    FL_CHECK (s_error_has (sim->c[5], "from client 2"));
    fl_secagg_msg_destroy (&m5);
    fl_secagg_msg_destroy (&m6);
    sim_destroy (&sim);
}

/*  Replay: messages of a session with a different ctx. */
static void
s_replay_test (uint64_t round2, uint32_t bucket2, uint32_t purpose2)
{
    sim_t *a = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 5, 1, 15);
    sim_init (a);
    a->capture_kind = FL_SECAGG_MSG_ADVERTISE_LIST;
    a->capture_for = 0;
    sim_run_to (a, 1);
    sim_t *b = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, round2, bucket2, 15);
    b->cfg.purpose = purpose2;
    sim_init (b);
    /*  Server: the old round's advertisements are refused. */
    fl_secagg_msg_t *old = fl_secagg_msg_new (FL_SECAGG_MSG_ADVERTISE, 0);
    old->sender = 4;
    old->u.advert = a->captured->u.adverts.items[4];
    FL_CHECK (fl_secagg_server_handle (b->s, old) == -1);
    FL_CHECK (strstr (fl_secagg_server_error (b->s), "client 4") != NULL);
    fl_secagg_msg_destroy (&old);
    /*  Client: an old advertisement list (even with our own fresh entry
        spliced in) is refused, naming a replayed entry. */
    fl_secagg_msg_t *mine = NULL, *out = NULL;
    FL_CHECK (fl_secagg_client_start (b->c[0], &mine) == 0);
    a->captured->u.adverts.items[0] = mine->u.advert;
    FL_CHECK (fl_secagg_client_handle (b->c[0], a->captured, &out) == -1);
    FL_CHECK (out == NULL);
    FL_CHECK (s_error_has (b->c[0], "forged key advertisement for client 1"));
    /*  And old share ciphertexts would not decrypt under the new ctx: a
        client of session b in SHARED fed session a's relay aborts. */
    fl_secagg_msg_destroy (&mine);
    sim_destroy (&a);
    sim_destroy (&b);
    a = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 5, 1, 15);
    b = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, round2, bucket2, 15);
    b->cfg.purpose = purpose2;
    sim_init (a);
    sim_init (b);
    a->capture_kind = b->capture_kind = FL_SECAGG_MSG_SHARES_RELAY;
    a->capture_for = b->capture_for = 0;
    sim_run_to (a, 2);
    sim_run_to (b, 1);
    a->captured->receiver = 0;
    FL_CHECK (fl_secagg_client_state (b->c[0]) == FL_SECAGG_CLIENT_SHARED);
    FL_CHECK (fl_secagg_client_handle (b->c[0], a->captured, &out) == -1);
    FL_CHECK (s_error_has (b->c[0], "AEAD tag failed"));
    sim_destroy (&a);
    sim_destroy (&b);
}

static void
test_replay_from_earlier_round_rejected (void)
{
    s_replay_test (6, 1, FL_SECAGG_PURPOSE_TRAIN);
}

static void
test_replay_from_other_bucket_rejected (void)
{
    s_replay_test (5, 2, FL_SECAGG_PURPOSE_TRAIN);
}

/*  Same run, round and bucket, another aggregation: training round 5's
    messages replayed into the evaluation of round 5 (and into round 0's
    statistics) are refused, because the purpose is part of ctx. */
static void
test_replay_across_purposes_rejected (void)
{
    s_replay_test (5, 1, FL_SECAGG_PURPOSE_EVAL);
    s_replay_test (5, 1, FL_SECAGG_PURPOSE_STATS);
}

static void
tamper_forge (sim_t *sim, fl_secagg_msg_t *msg, void *arg)
{
    (void) sim;
    if (msg->kind != FL_SECAGG_MSG_ADVERTISE_LIST)
        return;
    /*  The coordinator substitutes its own keys for client 4's and signs
        with an Ed25519 key that is not 4's roster key. */
    const uint8_t *attacker_sk = arg;
    fl_secagg_advert_t *a = &msg->u.adverts.items[4];
    memcpy (a->c_pk, attacker_sk + 32, 32);       /* same forgery for every client */
    uint8_t ctx[32], m[32];
    fl_secagg_ctx_digest (&sim->cfg, ctx);
    crypto_generichash_state st;
    h_label (&st, "libfl secagg advertise v1");
    crypto_generichash_update (&st, ctx, 32);
    h_u32 (&st, a->index);
    crypto_generichash_update (&st, a->c_pk, 32);
    crypto_generichash_update (&st, a->s_pk, 32);
    crypto_generichash_final (&st, m, 32);
    crypto_sign_detached (a->sig, NULL, m, 32, attacker_sk);
}

static void
test_forged_identity_key_refused (void)
{
    uint8_t apk[32], ask[64];
    crypto_sign_keypair (apk, ask);
    for (int g = 0; g < 2; g++) {
        bool harary = g == 1;
        sim_t *sim = sim_new (20, harary ? 7 : 11, harary ? FL_SECAGG_GRAPH_HARARY : FL_SECAGG_GRAPH_COMPLETE,
                              harary ? 11 : 0, 64, 3, 0, 16);
        sim_init (sim);
        sim->tamper = tamper_forge;
        sim->tamper_arg = ask;
        sim_run_to (sim, 1);
        uint32_t refused = 0;
        for (uint32_t i = 0; i < sim->n; i++)
            if (fl_secagg_client_state (sim->c[i]) == FL_SECAGG_CLIENT_ABORTED) {
                FL_CHECK (s_error_has (sim->c[i], i == 4 ? "my own key advertisement is missing or altered"
                                                         : "forged key advertisement for client 4"));
                FL_CHECK (sim->pending[i] == NULL);
                refused++;
            }
        /*  Complete graph: everyone; Harary: at least 4's k-1 neighbours. */
        FL_CHECK (refused >= (harary ? 10u : 20u));
        sim_destroy (&sim);
    }
    /*  The server refuses an advertisement signed by a non-roster key. */
    sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 16);
    sim_init (sim);
    fl_secagg_msg_t *adv = NULL;
    FL_CHECK (fl_secagg_client_start (sim->c[4], &adv) == 0);
    adv->u.advert.sig[0] ^= 1;
    FL_CHECK (fl_secagg_server_handle (sim->s, adv) == -1);
    FL_CHECK (fl_secagg_server_set_size (sim->s, 1) == 0);
    fl_secagg_msg_destroy (&adv);
    sim_destroy (&sim);
}

static void
test_unknown_identity_refused (void)
{
    sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 17);
    sim_init (sim);
    /*  Server: a sender outside the bucket. */
    fl_secagg_msg_t *adv = NULL;
    FL_CHECK (fl_secagg_client_start (sim->c[2], &adv) == 0);
    adv->sender = 20;
    adv->u.advert.index = 20;
    FL_CHECK (fl_secagg_server_handle (sim->s, adv) == -1);
    FL_CHECK (strstr (fl_secagg_server_error (sim->s), "unknown client 20") != NULL);
    adv->sender = adv->u.advert.index = 2;
    FL_CHECK (fl_secagg_server_handle (sim->s, adv) == 0);
    fl_secagg_msg_destroy (&adv);
    /*  Client: an advertisement list with an identity not in the roster. */
    fl_secagg_msg_t *mine = NULL, *out = NULL;
    FL_CHECK (fl_secagg_client_start (sim->c[0], &mine) == 0);
    fl_secagg_msg_t *list = fl_secagg_msg_new (FL_SECAGG_MSG_ADVERTISE_LIST, 12);
    list->receiver = 0;
    list->u.adverts.items[0] = mine->u.advert;
    for (uint32_t i = 1; i < 12; i++) {
        list->u.adverts.items[i] = mine->u.advert;
        list->u.adverts.items[i].index = 20 + i;                  /* sybils */
    }
    FL_CHECK (fl_secagg_client_handle (sim->c[0], list, &out) == -1);
    FL_CHECK (s_error_has (sim->c[0], "unknown identity"));
    fl_secagg_msg_destroy (&mine);
    fl_secagg_msg_destroy (&list);
    sim_destroy (&sim);
}

typedef struct { uint32_t add; int shrink_to; } tamper_u3_t;

static void
tamper_u3 (sim_t *sim, fl_secagg_msg_t *msg, void *arg)
{
    (void) sim;
    tamper_u3_t *tu = arg;
    if (msg->kind != FL_SECAGG_MSG_SURVIVORS)
        return;
    if (tu->shrink_to > 0) {
        msg->u.survivors.count = (uint32_t) tu->shrink_to;
        return;
    }
    /* insert tu->add in order (it is missing: it did not share keys) */
    uint32_t c = msg->u.survivors.count, *ids = msg->u.survivors.ids, *n = malloc ((c + 1) * 4), j = 0;
    for (uint32_t i = 0; i < c; i++) {
        if (ids[i] > tu->add && (j == i))
            n[j++] = tu->add;
        n[j++] = ids[i];
    }
    if (j == c) n[j++] = tu->add;
    free (ids);
    msg->u.survivors.ids = n;
    msg->u.survivors.count = c + 1;
}

static void
test_survivor_set_not_subset_refused (void)
{
    for (int g = 0; g < 2; g++) {
        bool harary = g == 1;
        sim_t *sim = sim_new (20, harary ? 7 : 11, harary ? FL_SECAGG_GRAPH_HARARY : FL_SECAGG_GRAPH_COMPLETE,
                              harary ? 11 : 0, 64, 3, 0, 18);
        sim->drop_at[7] = 1;                     /* 7 advertised but never shared keys */
        sim_init (sim);
        tamper_u3_t tu = {7, 0};
        sim->tamper = tamper_u3;
        sim->tamper_arg = &tu;
        sim_run_to (sim, 3);
        uint32_t refused = 0;
        for (uint32_t i = 0; i < sim->n; i++) {
            if (i == 7)
                continue;
            if (fl_secagg_client_state (sim->c[i]) == FL_SECAGG_CLIENT_ABORTED) {
                FL_CHECK (s_error_has (sim->c[i], "not a subset of U2: client 7"));
                refused++;
            }
        }
        FL_CHECK (refused >= (harary ? 10u : 19u));   /* Harary: 7's neighbours can tell */
        sim_destroy (&sim);
    }
}

static void
test_survivor_set_below_threshold_refused (void)
{
    sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 19);
    sim_init (sim);
    tamper_u3_t tu = {0, 10};
    sim->tamper = tamper_u3;
    sim->tamper_arg = &tu;
    sim_run_to (sim, 3);
    for (uint32_t i = 0; i < sim->n; i++) {
        FL_CHECK (fl_secagg_client_state (sim->c[i]) == FL_SECAGG_CLIENT_ABORTED);
        FL_CHECK (s_error_has (sim->c[i], "below threshold 11"));
        FL_CHECK (sim->pending[i] == NULL);
    }
    sim_destroy (&sim);
    /*  Harary: a U3 of client 0 plus all its non-neighbours passes the global
        count (13 >= t) but isolates client 0 (1 of its 11 neighbours). */
    sim = sim_new (24, 7, FL_SECAGG_GRAPH_HARARY, 11, 64, 3, 0, 19);
    sim_init (sim);
    sim->capture_kind = FL_SECAGG_MSG_SHARES_RELAY;   /* senders = client 0's neighbours */
    sim->capture_for = 0;
    sim_run_to (sim, 2);
    bool nb[24] = {false};
    for (uint32_t i = 0; i < sim->captured->u.shares.count; i++)
        nb[sim->captured->u.shares.items[i].sender] = true;
    fl_secagg_msg_t *u3 = fl_secagg_msg_new (FL_SECAGG_MSG_SURVIVORS, 24), *out = NULL;
    uint32_t c = 0;
    for (uint32_t w = 0; w < 24; w++)
        if (w == 0 || !nb[w])
            u3->u.survivors.ids[c++] = w;
    u3->u.survivors.count = c;
    u3->receiver = 0;
    FL_CHECK (c == 14);
    fl_secagg_msg_t *y = NULL;
    FL_CHECK (fl_secagg_client_state (sim->c[0]) == FL_SECAGG_CLIENT_MASKED);
    FL_CHECK (fl_secagg_client_handle (sim->c[0], u3, &out) == -1);
    FL_CHECK (out == NULL && y == NULL);
    FL_CHECK (s_error_has (sim->c[0], "1 of my neighbours, below threshold 7"));
    fl_secagg_msg_destroy (&u3);
    sim_destroy (&sim);
}

static void
test_signature_over_different_set_refused (void)
{
    sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 20);
    sim_init (sim);
    sim->capture_kind = FL_SECAGG_MSG_ADVERTISE_LIST;
    sim->capture_for = 0;
    sim_run_to (sim, 3);
    sim_forward (sim, 3);
    FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
    /*  Replace client 2's signature by a genuine signature of client 2 over a
        different survivor set (all but 9). */
    uint32_t most[19];
    for (uint32_t i = 0, j = 0; i < 20; i++)
        if (i != 9) most[j++] = i;
    fl_secagg_msg_t *msg;
    while ((msg = fl_secagg_server_next_out (sim->s))) {
        doc_sign_survivors (sim, 2, sim->captured, sim->bindings, most, 19, msg->u.sigs.items[2].sig);
        fl_secagg_msg_t *out = NULL;
        uint32_t v = msg->receiver;
        FL_CHECK (fl_secagg_client_handle (sim->c[v], msg, &out) == -1);
        FL_CHECK (out == NULL);
        FL_CHECK (s_error_has (sim->c[v], "signature of client 2 is not over my survivor set"));
        fl_secagg_msg_destroy (&msg);
    }
    /*  Sanity for the test's re-implementation of the signed format: over
        the true set it produces a signature the honest path accepts. */
    sim_destroy (&sim);
    sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 20);
    sim_init (sim);
    sim->capture_kind = FL_SECAGG_MSG_ADVERTISE_LIST;
    sim->capture_for = 0;
    sim_run_to (sim, 3);
    uint32_t all[20];
    for (uint32_t i = 0; i < 20; i++) all[i] = i;
    uint8_t sig[64];
    doc_sign_survivors (sim, 2, sim->captured, sim->bindings, all, 20, sig);
    FL_CHECK (sim->pending[2] && memcmp (sim->pending[2]->u.sig, sig, 64) == 0);   /* Ed25519 is deterministic */
    sim_destroy (&sim);
}

/*  Two groups were shown two different models (round bindings). */
static void
test_two_models_detected (void)
{
    /*  Two groups of 10 shown different models (round bindings): the
        binding is in the session context, so the honest server verifies
        only group A's advertisements, U1 = 10 < t and the bucket aborts
        before any share exists: no UNMASK, nothing summed. */
    sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 21);
    for (uint32_t i = 10; i < 20; i++)
        memset (sim->bindings + i * 32, 0xAB, 32);   /* group B saw model 2 */
    sim_init (sim);                                  /* server: model 1 */
    uint32_t verified = 0;
    for (uint32_t i = 0; i < 20; i++) {
        fl_secagg_msg_t *out = NULL;
        FL_CHECK (fl_secagg_client_start (sim->c[i], &out) == 0);
        verified += fl_secagg_server_handle (sim->s, out) == 0;
        fl_secagg_msg_destroy (&out);
    }
    FL_CHECK (verified == 10);
    FL_CHECK (fl_secagg_server_deadline (sim->s) == -1);
    sim_deliver (sim);
    FL_CHECK (sim->unmask_msgs == 0);
    const uint32_t *sum;
    size_t m;
    FL_CHECK (fl_secagg_server_result (sim->s, &sum, &m, NULL, NULL) == -1);
    sim_destroy (&sim);

    /*  One victim (client 19) shown model 2, 19 clients model 1 (Pasquini
        et al. 2022): the honest server refuses the victim's advertisement,
        runs the other 19 to the end, and the sum it unmasks is exactly
        theirs: the victim's input is not in it, and no client revealed a
        share of the victim. */
    sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 23);
    memset (sim->bindings + 19 * 32, 0xAB, 32);
    sim_init (sim);
    for (uint32_t i = 0; i < 20; i++) {
        fl_secagg_msg_t *out = NULL;
        FL_CHECK (fl_secagg_client_start (sim->c[i], &out) == 0);
        FL_CHECK (fl_secagg_server_handle (sim->s, out) == (i < 19 ? 0 : -1));
        fl_secagg_msg_destroy (&out);
    }
    FL_CHECK (fl_secagg_server_set_size (sim->s, 1) == 19);
    for (int phase = 1; phase <= 4; phase++) {
        if (fl_secagg_server_deadline (sim->s) != 0)
            break;
        sim_deliver (sim);
        for (uint32_t i = 0; i < sim->n; i++) {
            if (sim->pending[i])
                FL_CHECK (i != 19 && fl_secagg_server_handle (sim->s, sim->pending[i]) == 0);
            fl_secagg_msg_destroy (&sim->pending[i]);
        }
    }
    FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
    const uint32_t *u3;
    uint32_t u3n = 0;
    FL_CHECK (fl_secagg_server_result (sim->s, &sum, &m, &u3, &u3n) == 0);
    FL_CHECK (u3n == 19);
    bool others = true, victim = true;
    for (size_t j = 0; j < m; j++) {
        uint32_t s19 = 0;
        for (uint32_t i = 0; i < 19; i++)
            s19 += sim->x[(size_t) i * m + j];
        others &= sum[j] == s19;
        victim &= sum[j] == sim->x[(size_t) 19 * m + j];
    }
    FL_CHECK (others);
    FL_CHECK (!victim);
    for (uint32_t i = 0; i < 19; i++)
        FL_CHECK (fl_secagg_client_revealed (sim->c[i], 19) == 0);
    sim_destroy (&sim);
}

/*  Harary: neighbours' signatures are what a client relies on; a list
    padded with valid non-neighbour signatures is not enough. */
static void
test_harary_needs_neighbour_signatures (void)
{
    sim_t *sim = sim_new (24, 7, FL_SECAGG_GRAPH_HARARY, 11, 64, 3, 0, 25);
    sim_init (sim);
    sim->capture_kind = FL_SECAGG_MSG_SHARES_RELAY;
    sim->capture_for = 0;
    sim_run_to (sim, 3);
    bool nb[24] = {false};
    for (uint32_t i = 0; i < sim->captured->u.shares.count; i++)
        nb[sim->captured->u.shares.items[i].sender] = true;
    sim_forward (sim, 3);
    FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
    fl_secagg_msg_t *msg;
    while ((msg = fl_secagg_server_next_out (sim->s))) {
        if (msg->receiver == 0) {
            uint32_t c = 0, kept = 0;
            for (uint32_t i = 0; i < msg->u.sigs.count; i++) {
                bool is_nb = nb[msg->u.sigs.items[i].index];
                if (!is_nb || kept < 3) {                          /* keep 3 neighbours + all others */
                    kept += is_nb;
                    msg->u.sigs.items[c++] = msg->u.sigs.items[i];
                }
            }
            msg->u.sigs.count = c;
            fl_secagg_msg_t *out = NULL;
            FL_CHECK (c >= 7);
            FL_CHECK (fl_secagg_client_handle (sim->c[0], msg, &out) == -1);
            FL_CHECK (out == NULL);
            FL_CHECK (s_error_has (sim->c[0], "only 3 consistency signatures from my neighbours"));
            if (fl_test_verbose_) printf ("  %s\n", fl_secagg_client_error (sim->c[0]));
        }
        fl_secagg_msg_destroy (&msg);
    }
    sim_destroy (&sim);
}

static void
test_client_refuses_after_done (void)
{
    sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 22);
    sim_init (sim);
    sim->capture_kind = FL_SECAGG_MSG_SIGNATURE_LIST;
    sim->capture_for = 1;
    FL_CHECK (sim_run (sim) == FL_SECAGG_SERVER_DONE);
    /*  A second unmasking request (e.g. after a replayed signature list)
        reveals nothing more. */
    fl_secagg_msg_t *out = NULL;
    FL_CHECK (fl_secagg_client_handle (sim->c[1], sim->captured, &out) == -1);
    FL_CHECK (out == NULL);
    FL_CHECK (fl_secagg_client_state (sim->c[1]) == FL_SECAGG_CLIENT_DONE);
    for (uint32_t v = 0; v < 20; v++)
        FL_CHECK (fl_secagg_client_revealed (sim->c[1], v) == 1);
    sim_destroy (&sim);
}

static void
test_server_rejects_bad_input (void)
{
    sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_HARARY, 11, 64, 3, 0, 23);
    sim_init (sim);
    fl_secagg_msg_t *adv = NULL;
    FL_CHECK (fl_secagg_client_start (sim->c[0], &adv) == 0);
    FL_CHECK (fl_secagg_server_handle (sim->s, adv) == 0);
    FL_CHECK (fl_secagg_server_handle (sim->s, adv) == -1);               /* duplicate */
    FL_CHECK (strstr (fl_secagg_server_error (sim->s), "duplicate") != NULL);
    adv->receiver = 3;
    FL_CHECK (fl_secagg_server_handle (sim->s, adv) == -1);               /* not to the server */
    fl_secagg_msg_destroy (&adv);
    fl_secagg_msg_t *early = fl_secagg_msg_new (FL_SECAGG_MSG_MASKED_INPUT, 64);
    early->sender = 1;
    FL_CHECK (fl_secagg_server_handle (sim->s, early) == -1);             /* wrong phase */
    FL_CHECK (strstr (fl_secagg_server_error (sim->s), "in phase ADVERTISE") != NULL);
    fl_secagg_msg_destroy (&early);
    for (uint32_t i = 1; i < 20; i++) {
        FL_CHECK (fl_secagg_client_start (sim->c[i], &adv) == 0);
        FL_CHECK (fl_secagg_server_handle (sim->s, adv) == 0);
        fl_secagg_msg_destroy (&adv);
    }
    FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
    sim_deliver (sim);
    /*  SHARES: wrong count, receiver outside the neighbourhood, duplicate receiver. */
    fl_secagg_msg_t *sh = s_copy_msg (sim->pending[0]);
    sh->u.shares.count--;
    FL_CHECK (fl_secagg_server_handle (sim->s, sh) == -1);
    sh->u.shares.count++;
    uint32_t save = sh->u.shares.items[3].receiver;
    sh->u.shares.items[3].receiver = sh->u.shares.items[4].receiver;
    FL_CHECK (fl_secagg_server_handle (sim->s, sh) == -1);
    FL_CHECK (strstr (fl_secagg_server_error (sim->s), "distinct neighbour") != NULL);
    sh->u.shares.items[3].receiver = save;
    uint32_t outsider = 0;
    while (outsider < 20) {
        bool in = false;
        for (uint32_t i = 0; i < sh->u.shares.count; i++)
            in |= sh->u.shares.items[i].receiver == outsider;
        if (!in) break;
        outsider++;
    }
    FL_CHECK (outsider < 20);
    sh->u.shares.items[3].receiver = outsider;
    FL_CHECK (fl_secagg_server_handle (sim->s, sh) == -1);
    sh->u.shares.items[3].receiver = save;
    FL_CHECK (fl_secagg_server_handle (sim->s, sh) == 0);                 /* the repaired one is fine */
    fl_secagg_msg_destroy (&sh);
    fl_secagg_msg_destroy (&sim->pending[0]);
    sim_forward (sim, 1);
    FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
    sim_deliver (sim);
    fl_secagg_msg_t *y = s_copy_msg (sim->pending[1]);
    y->u.masked.count = 63;
    FL_CHECK (fl_secagg_server_handle (sim->s, y) == -1);                 /* wrong length */
    fl_secagg_msg_destroy (&y);
    sim_forward (sim, 2);
    FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
    sim_deliver (sim);
    fl_secagg_msg_t *sig = s_copy_msg (sim->pending[5]);
    sig->u.sig[10] ^= 4;
    FL_CHECK (fl_secagg_server_handle (sim->s, sig) == -1);               /* bad signature */
    fl_secagg_msg_destroy (&sig);
    sim_forward (sim, 3);
    FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
    sim_deliver (sim);
    fl_secagg_msg_t *um = s_copy_msg (sim->pending[2]);
    um->u.unmask.items[1].kind = FL_SECAGG_SHARE_MASK_KEY;                /* asks for the other kind */
    FL_CHECK (fl_secagg_server_handle (sim->s, um) == -1);
    FL_CHECK (strstr (fl_secagg_server_error (sim->s), "right kind") != NULL);
    fl_secagg_msg_destroy (&um);
    sim_forward (sim, 4);
    FL_CHECK (fl_secagg_server_deadline (sim->s) == 0);
    FL_CHECK (sim_sum_exact (sim));                                       /* rejections changed nothing */
    sim_destroy (&sim);
}

static void
test_params_choose (void)
{
    uint32_t k = 0, t = 0;
    FL_CHECK (fl_secagg_params_choose (100, 0.1, 0.1, &k, &t) == 0);
    FL_CHECK (t >= 2 && t <= k && k <= 100 && 2 * t > k);
    uint32_t kbig, tbig;
    FL_CHECK (fl_secagg_params_choose (10000, 0.05, 0.1, &kbig, &tbig) == 0);
    FL_CHECK (kbig < 10000 && kbig % 2 == 1 && 2 * tbig > kbig);          /* sparse graph pays off */
    if (fl_test_verbose_)
        printf ("  n=100: k=%u t=%u; n=10000: k=%u t=%u\n", k, t, kbig, tbig);
    /*  Complete graph, no randomness: t must exceed (n + corrupt) / 2 and
        leave room for the dropouts. */
    FL_CHECK (fl_secagg_params_choose (20, 0.1, 0.1, &k, &t) == 0);
    FL_CHECK (2 * t > k + 2 && t <= k - 2);
    /*  More corruption never gives a smaller neighbourhood. */
    uint32_t k1, t1, k2, t2;
    FL_CHECK (fl_secagg_params_choose (1000, 0.01, 0.05, &k1, &t1) == 0);
    FL_CHECK (fl_secagg_params_choose (1000, 0.2, 0.05, &k2, &t2) == 0);
    FL_CHECK (k2 >= k1);
    /*  Refusals: impossible fractions, bad arguments. */
    k = t = 7;
    FL_CHECK (fl_secagg_params_choose (100, 0.4, 0.3, &k, &t) == -1);
    FL_CHECK (k == 7 && t == 7);                                          /* wrote nothing */
    FL_CHECK (fl_secagg_params_choose (2, 0.0, 0.0, &k, &t) == -1);
    FL_CHECK (fl_secagg_params_choose (100, -0.1, 0.0, &k, &t) == -1);
    FL_CHECK (fl_secagg_params_choose (100, 0.1, 1.0, &k, &t) == -1);
}

static void
test_config_and_ctx (void)
{
    sim_t *sim = sim_new (20, 11, FL_SECAGG_GRAPH_COMPLETE, 0, 64, 3, 0, 24);
    fl_secagg_config_t cfg = sim->cfg;
    uint8_t d1[32], d2[32];
    fl_secagg_ctx_digest (&cfg, d1);
    cfg.round++;
    fl_secagg_ctx_digest (&cfg, d2);
    FL_CHECK (memcmp (d1, d2, 32) != 0);
    cfg = sim->cfg;
    cfg.bucket++;
    fl_secagg_ctx_digest (&cfg, d2);
    FL_CHECK (memcmp (d1, d2, 32) != 0);
    cfg = sim->cfg;
    cfg.run_id[15] ^= 1;
    fl_secagg_ctx_digest (&cfg, d2);
    FL_CHECK (memcmp (d1, d2, 32) != 0);
    for (uint32_t p = 1; p <= FL_SECAGG_PURPOSE_MAX; p++) {
        cfg = sim->cfg;
        cfg.purpose = p;
        fl_secagg_ctx_digest (&cfg, d2);
        FL_CHECK (memcmp (d1, d2, 32) != 0);
    }
    cfg = sim->cfg;
    cfg.purpose = FL_SECAGG_PURPOSE_MAX + 1;           /* unknown purpose: refused */
    FL_CHECK (fl_secagg_server_new (&cfg) == NULL);
    /*  Invalid configurations are refused, never asserted. */
    cfg = sim->cfg;
    cfg.my_index = 0;
    cfg.id_secret_key = sim->sks;
    cfg.t = 21;
    FL_CHECK (fl_secagg_client_new (&cfg) == NULL);
    cfg.t = 11;
    cfg.graph = FL_SECAGG_GRAPH_HARARY;
    cfg.k = 10;                                          /* even */
    FL_CHECK (fl_secagg_server_new (&cfg) == NULL);
    cfg.graph = FL_SECAGG_GRAPH_COMPLETE;
    cfg.id_secret_key = sim->sks + 64;                   /* someone else's key */
    FL_CHECK (fl_secagg_client_new (&cfg) == NULL);
    FL_CHECK (fl_secagg_msg_new (FL_SECAGG_MSG_SHARES, FL_SECAGG_MAX_CLIENTS + 1) == NULL);
    FL_CHECK (fl_secagg_msg_new ((fl_secagg_msg_kind_t) 99, 1) == NULL);
    fl_secagg_msg_t *m = NULL;
    fl_secagg_msg_destroy (&m);                          /* safe on NULL */
    sim_destroy (&sim);
}

/* Auto dropout: the largest feasible delta of 0.25 ... 0; the threshold it
   gives is never below the privacy minimum (which does not depend on delta),
   so a client's policy check accepts it; small buckets get a secure setting
   the fixed 0.25 would refuse. */
static void
test_params_choose_auto (void)
{
    static const double tries[] = {0.25, 0.2, 0.15, 0.1, 0.05, 0};
    for (uint32_t n = 3; n <= 40; n++) {
        double d = -1;
        uint32_t k = 0, t = 0, tmin = 0, k2, t2;
        FL_CHECK (fl_secagg_params_choose_auto (n, 0.15, &d, &k, &t) == 0);
        FL_CHECK (fl_secagg_threshold_min (n, k, 0.15, &tmin) == 0);
        FL_CHECK (t >= tmin);
        FL_CHECK (fl_secagg_params_choose (n, 0.15, d, &k2, &t2) == 0 && k2 == k && t2 == t);
        for (size_t i = 0; i < sizeof tries / sizeof tries[0] && tries[i] > d; i++)
            FL_CHECK (fl_secagg_params_choose (n, 0.15, tries[i], &k2, &t2) == -1);
        if (n == 4)
            FL_CHECK (d == 0.25 && t == 3);
    }
    double d;
    uint32_t k, t;
    FL_CHECK (fl_secagg_params_choose_auto (2, 0.15, &d, &k, &t) == -1);
    FL_CHECK (fl_secagg_params_choose_auto (10, 1.0, &d, &k, &t) == -1);
    FL_CHECK (fl_secagg_params_choose_auto (3, 0.9, &d, &k, &t) == -1);  /* 3 colluding of 3 */
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (sodium_init () < 0)
        return 1;
    FL_RUN (test_exact_complete_no_dropout);
    FL_RUN (test_exact_harary_no_dropout);
    FL_RUN (test_exact_dropout_each_phase);
    FL_RUN (test_exact_dropout_every_phase_at_once);
    FL_RUN (test_abort_below_threshold_reveals_nothing);
    FL_RUN (test_server_lists_client_alive_and_dropped_gets_no_share_pair);
    FL_RUN (test_different_survivor_sets_detected_at_consistency_check);
    FL_RUN (test_tampered_relayed_share_rejected_by_aead);
    FL_RUN (test_replay_from_earlier_round_rejected);
    FL_RUN (test_replay_from_other_bucket_rejected);
    FL_RUN (test_replay_across_purposes_rejected);
    FL_RUN (test_forged_identity_key_refused);
    FL_RUN (test_unknown_identity_refused);
    FL_RUN (test_survivor_set_not_subset_refused);
    FL_RUN (test_survivor_set_below_threshold_refused);
    FL_RUN (test_signature_over_different_set_refused);
    FL_RUN (test_two_models_detected);
    FL_RUN (test_harary_needs_neighbour_signatures);
    FL_RUN (test_client_refuses_after_done);
    FL_RUN (test_server_rejects_bad_input);
    FL_RUN (test_params_choose);
    FL_RUN (test_params_choose_auto);
    FL_RUN (test_config_and_ctx);
    FL_TEST_DONE ();
}
