/*  test_cohort - one aggregation over buckets (fl_cohort) on its own, with
    a real peer table and real wire messages: plaintext buckets (robust
    and FedAvg training, statistics, evaluation) formed from replies,
    deadlines leaving members out, bad and stray replies, and secure
    buckets: invitations carrying each member's session, a bucket that
    hears nothing aborting with nothing to read, and a first aggregation
    that cannot run safely refusing to start. */
#include "fl_test.h"
#include "round_sim.h"

#include <czmq.h>
#include <math.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "fl_cohort.h"
#include "fl_metrics_wire.h"
#include "fl_peers.h"
#include "fl_roster.h"
#include "fl_secagg.h"

static const uint8_t RUN[16] = {7, 7, 7, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* A table of n admitted peers "hospital-i" (routing id {0, i}); with a
   roster, authenticated and bound to their roster entries. */
static fl_peers_t *
s_table (size_t n, const fl_roster_t *roster)
{
    fl_peers_t *t = fl_peers_new (0);
    FL_CHECK (t != NULL);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf (name, sizeof name, "hospital-%zu", i);
        uint8_t id[2] = {0, (uint8_t) i};
        fl_peer_t *p = fl_peers_route (t, id, sizeof id, roster ? name : NULL);
        FL_CHECK (p != NULL);
        fl_peers_hello_t h = {name, 3, 2, 100 + i, 10 + i};
        char why[160] = "";
        FL_CHECK (fl_peers_check_hello (t, p, &h, roster, 0, 0, 0, why, sizeof why) == 0);
        fl_peers_admit (t, p, &h, 0);
        p->ready = 1;
        p->sa_bucket = -1;
    }
    return t;
}

static fl_wire_msg_t *
s_decode (fl_wire_writer_t *w)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    FL_CHECK (fl_wire_writer_finish (&w, &buf, &len) == 0);
    char why[160];
    fl_wire_msg_t *m = fl_wire_decode (buf, len, NULL, why, sizeof why);
    free (buf);
    FL_CHECK (m != NULL);
    return m;
}

static fl_wire_msg_t *
s_update (uint64_t round, const float *delta, size_t np, uint64_t n, double loss)
{
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_UPDATE, RUN, round);
    fl_wire_put_f32s (w, FL_K_DELTA, delta, np);
    fl_wire_put_u64 (w, FL_K_N, n);
    fl_wire_put_f64 (w, FL_K_LOSS, loss);
    return s_decode (w);
}

static void
s_cfg (fl_cohort_config_t *c)
{
    memset (c, 0, sizeof *c);
    c->sa_corrupt = 0.15;
    c->sa_dropout = -1;
    c->secagg_deadline_ms = 1000;
    c->example_cap = 50;
}

/*  Drains the outbox: the invited peers in order (returns how many). */
static size_t
s_invited (fl_cohort_t *c, size_t *peers, size_t cap)
{
    fl_cohort_out_t o;
    size_t n = 0;
    while (fl_cohort_next_out (c, &o)) {
        FL_CHECK (o.data == NULL);
        if (n < cap)
            peers[n] = o.peer;
        n++;
    }
    return n;
}

/*  Plaintext training with a robust rule: buckets are consecutive runs of
    the cohort's order, each sums its members' unweighted updates; a bad
    vector is a violation, a stranger's update is ignored. */
static void
test_plain_robust_buckets (void)
{
    fl_peers_t *t = s_table (6, NULL);
    fl_cohort_config_t cfg;
    s_cfg (&cfg);
    cfg.robust = 1;
    cfg.bucket_size = 3;
    fl_cohort_t *c = fl_cohort_new (&cfg, t, NULL);
    FL_CHECK (c != NULL);
    uint32_t idx[5] = {4, 3, 2, 1, 0};     /* peer 5 not in the cohort */
    fl_cohort_spec_t spec = {RUN, 1, FL_SECAGG_PURPOSE_TRAIN, 5000, 2, 3, 2, NULL, 10};
    char why[256];
    FL_CHECK (fl_cohort_start (c, &spec, idx, 5, 0, why, sizeof why) == 0);
    FL_CHECK (fl_cohort_buckets (c) == 1);            /* 5 / 3: one bucket of 5 */
    fl_cohort_destroy (&c);

    c = fl_cohort_new (&cfg, t, NULL);
    uint32_t idx6[6] = {5, 4, 3, 2, 1, 0};
    FL_CHECK (fl_cohort_start (c, &spec, idx6, 6, 0, why, sizeof why) == 0);
    FL_CHECK (fl_cohort_buckets (c) == 2);
    size_t inv[8];
    FL_CHECK (s_invited (c, inv, 8) == 6);
    for (size_t j = 0; j < 6; j++) {
        FL_CHECK (inv[j] == idx6[j]);               /* invited in the cohort's order */
        fl_peer_t *p = fl_peers_at (t, idx6[j]);
        FL_CHECK (p->expected == 1);
        FL_CHECK (p->sa_bucket == (int) (j / 3) && p->sa_index == j % 3);
    }
    FL_CHECK (!fl_cohort_done (c));
    /* peer i sends the update (i, -i); weights are 1 with a robust rule */
    for (size_t i = 0; i < 6; i++) {
        float d[2] = {(float) i, -(float) i};
        fl_wire_msg_t *m = s_update (1, d, 2, 1000, 0.5);
        FL_CHECK (fl_cohort_on_contribution (c, i, m, why, sizeof why) == FL_COHORT_ACCEPTED);
        fl_wire_msg_destroy (&m);
        fl_peers_at (t, i)->answered = 1;           /* as the round marks it */
    }
    FL_CHECK (fl_cohort_done (c));
    fl_strategy_bucket_t out[2];
    size_t unusable = 9;
    FL_CHECK (fl_cohort_train (c, out, &unusable) == 2);
    FL_CHECK (unusable == 0);
    /* bucket 0 = peers 5, 4, 3: Σ = 12, -12; bucket 1 = peers 2, 1, 0: Σ = 3, -3 */
    FL_CHECK (out[0].n == 3 && out[0].survivors == 3 && out[0].sum[0] == 12 && out[0].sum[1] == -12);
    FL_CHECK (out[0].sum[2] == 3 && fabs (out[0].sum[3] - 1.5) < 1e-12);   /* Σ w, Σ w loss */
    FL_CHECK (out[1].sum[0] == 3 && out[1].sum[1] == -3 && out[1].scale == 0);
    fl_cohort_end (c);
    for (size_t i = 0; i < 6; i++)
        FL_CHECK (fl_peers_at (t, i)->sa_bucket == -1);   /* invariant 1 */
    FL_CHECK (fl_cohort_buckets (c) == 0);

    /* a wrong-length vector is a violation; a peer in no bucket is ignored */
    for (size_t i = 0; i < 6; i++)
        fl_peers_at (t, i)->expected = fl_peers_at (t, i)->answered = 0;
    uint32_t idx3[3] = {0, 1, 2};
    FL_CHECK (fl_cohort_start (c, &spec, idx3, 3, 0, why, sizeof why) == 0);
    s_invited (c, inv, 8);
    float d3[3] = {1, 2, 3};
    fl_wire_msg_t *m = s_update (1, d3, 3, 10, 0.1);
    FL_CHECK (fl_cohort_on_contribution (c, 0, m, why, sizeof why) == FL_COHORT_VIOLATION);
    FL_CHECK (strstr (why, "wrong length") != NULL);
    FL_CHECK (fl_cohort_on_contribution (c, 4, m, why, sizeof why) == FL_COHORT_IGNORED);
    fl_wire_msg_destroy (&m);
    /* (non-finite values never get this far: the codec refuses them) */
    fl_strategy_bucket_t one[1];
    FL_CHECK (fl_cohort_train (c, one, &unusable) == 0);     /* nothing usable arrived */
    FL_CHECK (unusable == 1);
    fl_cohort_destroy (&c);
    FL_CHECK (c == NULL);
    fl_cohort_destroy (&c);                                  /* safe twice */
    fl_peers_destroy (&t);
}

/*  Plaintext FedAvg: one bucket, each update weighted by its example count
    capped at example_cap; an update without examples is a violation. */
static void
test_plain_fedavg (void)
{
    fl_peers_t *t = s_table (3, NULL);
    fl_cohort_config_t cfg;
    s_cfg (&cfg);
    cfg.bucket_size = 2;                       /* ignored without a robust rule */
    fl_cohort_t *c = fl_cohort_new (&cfg, t, NULL);
    uint32_t idx[3] = {2, 0, 1};
    fl_cohort_spec_t spec = {RUN, 4, FL_SECAGG_PURPOSE_TRAIN, 5000, 1, 3, 2, NULL, 10};
    char why[256];
    FL_CHECK (fl_cohort_start (c, &spec, idx, 3, 0, why, sizeof why) == 0);
    FL_CHECK (fl_cohort_buckets (c) == 1);
    size_t inv[4];
    FL_CHECK (s_invited (c, inv, 4) == 3);
    uint64_t n[3] = {10, 200, 0};
    float d = 1;
    int verdicts[3];
    for (size_t i = 0; i < 3; i++) {
        fl_wire_msg_t *m = s_update (4, &d, 1, n[i], 1.0);
        verdicts[i] = fl_cohort_on_contribution (c, i, m, why, sizeof why);
        fl_wire_msg_destroy (&m);
        fl_peers_at (t, i)->answered = 1;
    }
    FL_CHECK (verdicts[0] == FL_COHORT_ACCEPTED && verdicts[1] == FL_COHORT_ACCEPTED);
    FL_CHECK (verdicts[2] == FL_COHORT_VIOLATION);           /* zero examples */
    fl_strategy_bucket_t out[1];
    size_t unusable = 9;
    FL_CHECK (fl_cohort_train (c, out, &unusable) == 1 && unusable == 0);
    FL_CHECK (out[0].survivors == 2);
    FL_CHECK (out[0].sum[0] == 60 && out[0].sum[1] == 60);   /* 10 + min (200, 50) */
    fl_cohort_destroy (&c);
    fl_peers_destroy (&t);
}

/*  Statistics and evaluation in plaintext: one bucket merging the replies;
    a member that never answers is left out at the deadline, and a second
    miss in a row makes it not ready. */
static void
test_plain_stats_eval_deadline (void)
{
    fl_peers_t *t = s_table (3, NULL);
    fl_cohort_config_t cfg;
    s_cfg (&cfg);
    fl_cohort_t *c = fl_cohort_new (&cfg, t, NULL);
    uint32_t idx[3] = {0, 1, 2};
    fl_cohort_spec_t spec = {RUN, 0, FL_SECAGG_PURPOSE_STATS, 1000, 0, 2, 2, NULL, 0};
    char why[256];
    FL_CHECK (fl_cohort_start (c, &spec, idx, 3, 0, why, sizeof why) == 0);
    size_t inv[4];
    FL_CHECK (s_invited (c, inv, 4) == 3);
    FL_CHECK (fl_cohort_next_timeout (c, 400) == 600);
    for (size_t i = 0; i < 2; i++) {
        double sum[2] = {1.0 + (double) i, 2}, sumsq[2] = {4, 4};
        fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_STATS, RUN, 0);
        fl_wire_put_u64 (w, FL_K_COUNT, 4);
        fl_wire_put_f64s (w, FL_K_SUM, sum, 2);
        fl_wire_put_f64s (w, FL_K_SUMSQ, sumsq, 2);
        fl_wire_msg_t *m = s_decode (w);
        FL_CHECK (fl_cohort_on_contribution (c, i, m, why, sizeof why) == FL_COHORT_ACCEPTED);
        fl_wire_msg_destroy (&m);
        fl_peers_at (t, i)->answered = 1;
    }
    FL_CHECK (!fl_cohort_done (c));
    FL_CHECK (fl_cohort_tick (c, 999) == 0);
    FL_CHECK (fl_cohort_tick (c, 1000) == 1);                /* the deadline passes */
    FL_CHECK (fl_cohort_tick (c, 2000) == 0);                /* once */
    fl_peer_t *late = fl_peers_at (t, 2);
    FL_CHECK (late->expected == 0 && late->misses == 1 && late->ready == 1);
    FL_CHECK (fl_cohort_done (c));
    fl_stats_t *all = fl_stats_new (2);
    size_t ok = 0, members = 0;
    FL_CHECK (fl_cohort_stats (c, all, &ok, &members) == 0);
    FL_CHECK (ok == 1 && members == 2);
    FL_CHECK (fl_stats_count (all) == 8);
    FL_CHECK (fl_stats_sum (all)[0] == 3 && fl_stats_sum (all)[1] == 4);
    fl_stats_destroy (&all);

    /* evaluation: member 2 misses again and is no longer ready */
    for (size_t i = 0; i < 3; i++)
        fl_peers_at (t, i)->expected = fl_peers_at (t, i)->answered = 0;
    spec.purpose = FL_SECAGG_PURPOSE_EVAL;
    spec.round = 1;
    FL_CHECK (fl_cohort_start (c, &spec, idx, 3, 5000, why, sizeof why) == 0);
    s_invited (c, inv, 4);
    fl_metrics_counts_t mc;
    fl_metrics_counts_init (&mc);
    mc.n_classes = 2;
    mc.n = 10;
    mc.tp = 5, mc.fn = 1, mc.tn = 2, mc.fp = 2;
    mc.n_correct = 7;
    mc.hist_pos[FL_METRICS_BINS - 1] = 6;
    mc.hist_neg[0] = 4;
    FL_CHECK (fl_metrics_counts_check (&mc) == 0);
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_EVAL_RESULT, RUN, 1);
    FL_CHECK (fl_metrics_counts_to_wire (&mc, w) == 0);
    fl_wire_msg_t *m = s_decode (w);
    for (size_t i = 0; i < 2; i++) {
        FL_CHECK (fl_cohort_on_contribution (c, i, m, why, sizeof why) == FL_COHORT_ACCEPTED);
        fl_peers_at (t, i)->answered = 1;
    }
    fl_wire_msg_destroy (&m);
    FL_CHECK (fl_cohort_tick (c, 6000) == 1);
    FL_CHECK (late->misses == 2 && late->ready == 0);
    fl_metrics_counts_t acc;
    fl_metrics_counts_init (&acc);
    size_t clients = 0;
    fl_cohort_eval (c, &acc, &clients, &ok);
    FL_CHECK (clients == 2 && ok == 1 && acc.n == 20 && acc.n_correct == 14);
    fl_cohort_destroy (&c);
    fl_peers_destroy (&t);
}

/*  Secure buckets: every member is invited with its bucket's session (the
    same bucket, size, threshold and member list in every invitation, its
    own index); a bucket that hears nothing aborts at its deadline and
    yields nothing.  A first aggregation that cannot run safely refuses. */
static void
test_secure (void)
{
    uint8_t *sks[8];
    fl_roster_t *roster = round_sim_roster (8, sks);
    fl_peers_t *t = s_table (8, roster);
    fl_cohort_config_t cfg;
    s_cfg (&cfg);
    cfg.secure = 1;
    cfg.roster = roster;
    cfg.bucket_size = 4;
    fl_cohort_t *c = fl_cohort_new (&cfg, t, NULL);
    uint8_t binding[32] = {1};
    uint32_t idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    fl_cohort_spec_t spec = {RUN, 0, FL_SECAGG_PURPOSE_STATS, 1000, 0, 3, 2, binding, 0};
    char why[512];
    FL_CHECK (fl_cohort_start (c, &spec, idx, 8, 0, why, sizeof why) == 0);
    FL_CHECK (fl_cohort_buckets (c) == 2);
    FL_CHECK (fl_cohort_secure_state (c) == FL_SECAGG_SERVER_ADVERTISE);
    FL_CHECK (fl_cohort_sa_dropout_used (c) >= 0);
    fl_cohort_out_t o;
    size_t seen = 0, per_bucket[2] = {0, 0};
    while (fl_cohort_next_out (c, &o)) {
        FL_CHECK (o.data == NULL && o.announce != NULL && o.sigma_i == NULL);
        const fl_peer_t *p = fl_peers_at (t, o.peer);
        FL_CHECK (o.announce->bucket == (uint32_t) p->sa_bucket && o.announce->index == p->sa_index);
        FL_CHECK (o.announce->n == 4 && o.announce->t >= 3 && o.announce->t <= 4);
        FL_CHECK (o.announce->cohort_len == 8 && o.announce->buckets == 2);
        FL_CHECK (o.announce->member_ids != NULL);
        FL_CHECK (o.announce->member_lens[o.announce->index] == strlen (p->name));
        FL_CHECK (memcmp (o.announce->member_ids[o.announce->index], p->name, strlen (p->name)) == 0);
        per_bucket[o.announce->bucket]++;
        seen++;
    }
    FL_CHECK (seen == 8 && per_bucket[0] == 4 && per_bucket[1] == 4);
    FL_CHECK (!fl_cohort_done (c));
    FL_CHECK (fl_cohort_next_timeout (c, 250) == 750);
    /* nobody advertises keys: both buckets abort at the deadline */
    FL_CHECK (fl_cohort_tick (c, 1000) == 1);
    FL_CHECK (fl_cohort_done (c));
    FL_CHECK (fl_cohort_secure_state (c) == -1);
    fl_stats_t *all = fl_stats_new (3);
    size_t ok = 9, members = 9;
    FL_CHECK (fl_cohort_stats (c, all, &ok, &members) == 0);
    FL_CHECK (ok == 0 && members == 0 && fl_stats_count (all) == 0);
    for (size_t i = 0; i < 8; i++)
        FL_CHECK (fl_peers_at (t, i)->misses == 1);       /* each left out, once */
    fl_stats_destroy (&all);
    fl_cohort_destroy (&c);

    /* the run's first aggregation over buckets of 2: refused, nothing queued */
    cfg.bucket_size = 2;
    c = fl_cohort_new (&cfg, t, NULL);
    FL_CHECK (fl_cohort_start (c, &spec, idx, 4, 0, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "smallest secure bucket") != NULL);
    FL_CHECK (fl_cohort_next_out (c, &o) == 0);
    FL_CHECK (fl_cohort_buckets (c) == 0);
    fl_cohort_destroy (&c);
    fl_peers_destroy (&t);
    fl_roster_destroy (&roster);
    for (size_t i = 0; i < 8; i++)
        sodium_free (sks[i]);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (sodium_init () < 0)
        return 1;
    if (!fl_test_verbose_)
        zsys_set_logstream (NULL);
    FL_RUN (test_plain_robust_buckets);
    FL_RUN (test_plain_fedavg);
    FL_RUN (test_plain_stats_eval_deadline);
    FL_RUN (test_secure);
    FL_TEST_DONE ();
}
