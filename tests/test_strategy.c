/*  test_strategy - one round's aggregation (fl_strategy) on its own: the
    FedAvg weighted mean of bucket sums, the fixed denominators of bucket
    means, a Byzantine bucket against the median (what the attacker can move
    the model by), the skips that leave the model untouched, and the noise
    of a differentially private release reaching the model. */
#include "fl_test.h"

#include <math.h>
#include <string.h>

#include "fl_privacy.h"
#include "fl_round.h"
#include "fl_strategy.h"

enum { NP = 3 };

static fl_server_opt_t *
s_opt (void)
{
    fl_server_opt_config_t c;
    fl_server_opt_config_default (&c);       /* FedAvg, lr 1: params += update */
    return fl_server_opt_new (&c, NP);
}

static void
test_fedavg_weighted (void)
{
    fl_server_opt_t *opt = s_opt ();
    float params[NP] = {1, 1, 1}, scratch[NP];
    /* bucket 0: one member, weight 10, update (1, 2, 3), loss 0.5;
       bucket 1: one member, weight 30, update (-1, 0, 1), loss 1.5 */
    double s0[NP + 2] = {10, 20, 30, 10, 5}, s1[NP + 2] = {-30, 0, 30, 30, 45};
    fl_strategy_bucket_t bk[2] = {{s0, 1, 1, 0, 0, 0, 0}, {s1, 1, 1, 0, 0, 0, 1}};
    fl_strategy_config_t c;
    memset (&c, 0, sizeof c);
    c.kind = FL_ROBUST_MEAN;
    c.min_updates = 2;
    fl_strategy_state_t st = {0};
    fl_strategy_result_t r;
    FL_CHECK (fl_strategy_step (&c, &st, bk, 2, NP, NULL, 2, 1, opt, params, scratch, &r) == 0);
    FL_CHECK (!r.skipped);
    FL_CHECK (r.updates == 2);
    FL_CHECK_CLOSE (r.train_loss, 50.0 / 40.0, 1e-12, 0);
    FL_CHECK_CLOSE (params[0], 1 - 20.0 / 40, 1e-6, 0);
    FL_CHECK_CLOSE (params[1], 1 + 20.0 / 40, 1e-6, 0);
    FL_CHECK_CLOSE (params[2], 1 + 60.0 / 40, 1e-6, 0);
    FL_CHECK_CLOSE (r.update_norm, sqrt (0.25 + 0.25 + 2.25), 1e-6, 0);
    /* min_updates 3: skipped, model untouched */
    c.min_updates = 3;
    float before[NP];
    memcpy (before, params, sizeof before);
    FL_CHECK (fl_strategy_step (&c, &st, bk, 2, NP, NULL, 2, 2, opt, params, scratch, &r) == 0);
    FL_CHECK (r.skipped && r.update_norm == 0);
    FL_CHECK (memcmp (before, params, sizeof before) == 0);
    /* a non-finite sum (a forged bucket): the server step refuses it */
    c.min_updates = 1;
    s1[1] = NAN;
    FL_CHECK (fl_strategy_step (&c, &st, bk, 2, NP, NULL, 2, 3, opt, params, scratch, &r) == 0);
    FL_CHECK (r.skipped);
    FL_CHECK (memcmp (before, params, sizeof before) == 0);
    /* nothing usable */
    FL_CHECK (fl_strategy_step (&c, &st, NULL, 0, NP, NULL, 2, 4, opt, params, scratch, &r) == 0);
    FL_CHECK (r.skipped && r.updates == 0 && isnan (r.train_loss));
    fl_strategy_state_clear (&st);
    fl_server_opt_destroy (&opt);
}

/*  Robust, the attacker's side: three honest buckets and one whose sum is
    forged to 1e6; the median of the four bucket means moves the model by
    a value between the honest means, never towards 1e6.  Means use the
    planned size (4), not the survivors (2 in bucket 0). */
static void
test_robust_byzantine_bucket (void)
{
    fl_server_opt_t *opt = s_opt ();
    float params[NP] = {0, 0, 0}, scratch[NP];
    double h0[NP + 2] = {0.4, 0.4, 0.4, 2, 0}, h1[NP + 2] = {0.8, 0.8, 0.8, 4, 0},
           h2[NP + 2] = {1.2, 1.2, 1.2, 4, 0}, evil[NP + 2] = {1e6, -1e6, 1e6, 4, 0};
    fl_strategy_bucket_t bk[4] = {{h0, 4, 2, 0, 0, 0, 0}, {h1, 4, 4, 0, 0, 0, 1}, {h2, 4, 4, 0, 0, 0, 2},
                                  {evil, 4, 4, 0, 0, 0, 3}};
    fl_strategy_config_t c;
    memset (&c, 0, sizeof c);
    c.robust = 1;
    c.kind = FL_ROBUST_MEDIAN;
    c.min_updates = 1;
    fl_robust_params_defaults (&c.params);
    fl_strategy_state_t st = {0};
    fl_strategy_result_t r;
    FL_CHECK (fl_strategy_step (&c, &st, bk, 4, NP, NULL, 16, 1, opt, params, scratch, &r) == 0);
    FL_CHECK (!r.skipped);
    FL_CHECK (r.updates == 14);
    /* means: 0.1, 0.2, 0.3 and the attacker's; the coordinate-wise median
       of four is the mean of the middle two */
    FL_CHECK_CLOSE (params[0], (0.2 + 0.3) / 2, 1e-6, 0);
    FL_CHECK_CLOSE (params[1], (0.1 + 0.2) / 2, 1e-6, 0);
    FL_CHECK_CLOSE (params[2], (0.2 + 0.3) / 2, 1e-6, 0);
    for (int i = 0; i < NP; i++)
        FL_CHECK (params[i] >= 0.1f && params[i] <= 0.3f);
    FL_CHECK (st.prev_agg != NULL);
    if (st.prev_agg)
        FL_CHECK_CLOSE (st.prev_agg[0], 0.25, 1e-12, 0);
    /* the plain mean would have let it through: the contrast */
    c.kind = FL_ROBUST_MEAN;
    float p2[NP] = {0, 0, 0};
    FL_CHECK (fl_strategy_step (&c, &st, bk, 4, NP, NULL, 16, 2, opt, p2, scratch, &r) == 0);
    FL_CHECK (p2[0] > 1e4f);
    fl_strategy_state_clear (&st);
    FL_CHECK (st.prev_agg == NULL && st.work == NULL);
    fl_server_opt_destroy (&opt);
}

/*  With the privacy room: the model moves by the noisy release, not by the
    exact mean (what a reader of successive models could subtract), the
    reported loss is withheld, and the noise has the announced size. */
static void
test_private_step (void)
{
    fl_privacy_config_t pc;
    memset (&pc, 0, sizeof pc);
    pc.unit = FL_PRIVACY_CLIENT;
    pc.delta = 1e-5;
    pc.noise_multiplier = 1.0;
    pc.clip_norm = 1.0;
    pc.rounds = 5;
    pc.fraction = 1.0;
    pc.bucket_size = 3;
    pc.robust = 1;
    pc.robust_kind = FL_ROBUST_MEDIAN;
    fl_robust_params_defaults (&pc.robust_params);
    fl_privacy_t *priv = fl_privacy_new (&pc);
    FL_CHECK (priv != NULL);
    if (!priv)
        return;
    fl_privacy_population_t pop = {6, 6, 600, 100, 0, 0};
    char why[256];
    FL_CHECK (fl_privacy_before_round (priv, &pop, 1, why, sizeof why) == 0);
    enum { D = 4000 };
    fl_server_opt_config_t oc;
    fl_server_opt_config_default (&oc);
    fl_server_opt_t *opt = fl_server_opt_new (&oc, D);
    static float params[D], scratch[D];
    static double s0[D + 2], s1[D + 2];
    s0[D] = s1[D] = 3;
    s0[D + 1] = s1[D + 1] = 3;
    fl_strategy_bucket_t bk[2] = {{s0, 3, 3, 0, 0, 0, 0}, {s1, 3, 3, 0, 0, 0, 1}};
    fl_strategy_config_t c = {1, FL_ROBUST_MEDIAN, pc.robust_params, 1};
    fl_strategy_state_t st = {0};
    fl_strategy_result_t r;
    FL_CHECK (fl_strategy_step (&c, &st, bk, 2, D, priv, 6, 1, opt, params, scratch, &r) == 0);
    FL_CHECK (!r.skipped);
    FL_CHECK (isnan (r.train_loss));
    double sens, sigma, ss = 0;
    fl_privacy_last_noise (priv, &sens, &sigma);
    size_t moved = 0;
    for (size_t i = 0; i < D; i++) {
        moved += params[i] != 0;
        ss += (double) params[i] * params[i];
    }
    FL_CHECK (moved > D * 9 / 10);                  /* the exact aggregate is 0 */
    FL_CHECK (sigma > 0);
    FL_CHECK_CLOSE (sqrt (ss / D), sigma, 0, 0.1);
    fl_strategy_state_clear (&st);
    fl_server_opt_destroy (&opt);
    fl_privacy_destroy (&priv);
}

/*  When a rule is meaningful over B bucket means (fl_strategy_rule_check):
    trimmed mean trims floor(beta B) >= 1, median and geometric median need
    3 buckets, Krum 2f+3, Bulyan 4f+3. */
static void
test_rule_check (void)
{
    fl_robust_params_t p;
    fl_robust_params_defaults (&p);
    char why[256];
    p.beta = 0.2;
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_TRIMMED_MEAN, &p, 3, why, sizeof why) == FL_STRATEGY_RULE_MEAN_ONLY);
    FL_CHECK (strstr (why, "floor(0.2 x 3) = 0") != NULL && strstr (why, "plain mean") != NULL);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_TRIMMED_MEAN, &p, 4, why, sizeof why) == FL_STRATEGY_RULE_MEAN_ONLY);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_TRIMMED_MEAN, &p, 5, why, sizeof why) == FL_STRATEGY_RULE_OK);
    FL_CHECK (why[0] == 0);
    p.beta = 0.34;                              /* 3 buckets: one trimmed from each side */
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_TRIMMED_MEAN, &p, 3, why, sizeof why) == FL_STRATEGY_RULE_OK);
    p.beta = 0;                                 /* beta 0, b 0: the mean by another name */
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_TRIMMED_MEAN, &p, 10, why, sizeof why) == FL_STRATEGY_RULE_MEAN_ONLY);
    p.b = 1;
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_TRIMMED_MEAN, &p, 3, why, sizeof why) == FL_STRATEGY_RULE_OK);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_TRIMMED_MEAN, &p, 2, why, sizeof why) == FL_STRATEGY_RULE_REFUSES);
    p.b = 0;
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_MEDIAN, &p, 2, why, sizeof why) == FL_STRATEGY_RULE_MEAN_ONLY);
    FL_CHECK (strstr (why, "median of 2") != NULL);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_MEDIAN, &p, 1, why, sizeof why) == FL_STRATEGY_RULE_MEAN_ONLY);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_MEDIAN, &p, 3, why, sizeof why) == FL_STRATEGY_RULE_OK);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_GEOMED, &p, 2, why, sizeof why) == FL_STRATEGY_RULE_MEAN_ONLY);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_GEOMED, &p, 3, why, sizeof why) == FL_STRATEGY_RULE_OK);
    p.f = 1;
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_KRUM, &p, 4, why, sizeof why) == FL_STRATEGY_RULE_REFUSES);
    FL_CHECK (strstr (why, "2f+3 = 5") != NULL);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_KRUM, &p, 5, why, sizeof why) == FL_STRATEGY_RULE_OK);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_MULTI_KRUM, &p, 4, why, sizeof why) == FL_STRATEGY_RULE_REFUSES);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_BULYAN, &p, 6, why, sizeof why) == FL_STRATEGY_RULE_REFUSES);
    FL_CHECK (strstr (why, "4f+3 = 7") != NULL);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_BULYAN, &p, 7, why, sizeof why) == FL_STRATEGY_RULE_OK);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_MEAN, &p, 1, why, sizeof why) == FL_STRATEGY_RULE_OK);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_CCLIP, &p, 1, why, sizeof why) == FL_STRATEGY_RULE_OK);
    FL_CHECK (fl_strategy_rule_check (FL_ROBUST_MEDIAN, &p, 0, why, sizeof why) == FL_STRATEGY_RULE_REFUSES);
}

/*  The attacker's side of a trimmed mean that trims nothing: with 3 buckets
    and beta 0.2 one forged bucket moves the model by a third of its value
    (exactly the mean), and the step says so (degenerate); with 5 buckets the
    same forged bucket is trimmed and the model stays between the honest
    means. */
static void
test_trimmed_nothing_round (void)
{
    fl_server_opt_t *opt = s_opt ();
    float params[NP] = {0, 0, 0}, scratch[NP];
    double h0[NP + 2] = {0.3, 0.3, 0.3, 3, 0}, h1[NP + 2] = {0.6, 0.6, 0.6, 3, 0}, h2[NP + 2] = {0.9, 0.9, 0.9, 3, 0},
           h3[NP + 2] = {0.45, 0.45, 0.45, 3, 0}, evil[NP + 2] = {3e3, 3e3, 3e3, 3, 0};
    fl_strategy_bucket_t bk[5] = {{h0, 3, 3, 0, 0, 0, 0}, {h1, 3, 3, 0, 0, 0, 1}, {evil, 3, 3, 0, 0, 0, 2},
                                  {h2, 3, 3, 0, 0, 0, 3}, {h3, 3, 3, 0, 0, 0, 4}};
    fl_strategy_config_t c;
    memset (&c, 0, sizeof c);
    c.robust = 1;
    c.kind = FL_ROBUST_TRIMMED_MEAN;
    c.min_updates = 1;
    fl_robust_params_defaults (&c.params);
    c.params.beta = 0.2;
    fl_strategy_state_t st = {0};
    fl_strategy_result_t r;
    FL_CHECK (fl_strategy_step (&c, &st, bk, 3, NP, NULL, 9, 1, opt, params, scratch, &r) == 0);
    FL_CHECK (!r.skipped && r.degenerate == 1);
    FL_CHECK_CLOSE (params[0], (0.1 + 0.2 + 1e3) / 3, 1e-3, 0);      /* the attacker's 1e3 went through */
    float p5[NP] = {0, 0, 0};
    FL_CHECK (fl_strategy_step (&c, &st, bk, 5, NP, NULL, 15, 2, opt, p5, scratch, &r) == 0);
    FL_CHECK (!r.skipped && r.degenerate == 0);
    FL_CHECK_CLOSE (p5[0], (0.15 + 0.2 + 0.3) / 3, 1e-6, 0);          /* 0.1 and the forged 1e3 trimmed */
    /* a median of 2 buckets: the mean, flagged too */
    c.kind = FL_ROBUST_MEDIAN;
    FL_CHECK (fl_strategy_step (&c, &st, bk, 2, NP, NULL, 6, 3, opt, p5, scratch, &r) == 0);
    FL_CHECK (r.degenerate == 1);
    fl_strategy_state_clear (&st);
    fl_server_opt_destroy (&opt);
}

/*  The round refuses, at configuration, a trimmed mean that would trim
    nothing and a Krum / Bulyan that would refuse every round at the
    bucket count min_clients gives; a median of 2 buckets runs (logged). */
static void
test_round_config_rules (void)
{
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.robust = 1;
    cfg.bucket_size = 3;
    cfg.min_clients = 9;                        /* 3 buckets */
    memcpy (cfg.run_id, "rule-check-run-1", 16);
    cfg.robust_kind = FL_ROBUST_TRIMMED_MEAN;
    cfg.robust_params.beta = 0.2;
    fl_round_t *r = fl_round_new (&cfg);
    FL_CHECK (r == NULL);
    cfg.robust_params.beta = 0.34;
    r = fl_round_new (&cfg);
    FL_CHECK (r != NULL);
    fl_round_destroy (&r);
    cfg.robust_params.beta = 0.2;
    cfg.min_clients = 15;                       /* 5 buckets: one trimmed from each side */
    r = fl_round_new (&cfg);
    FL_CHECK (r != NULL);
    fl_round_destroy (&r);
    cfg.min_clients = 15;
    cfg.fraction = 0.5;                         /* a cohort of 8: 2 buckets */
    r = fl_round_new (&cfg);
    FL_CHECK (r == NULL);
    cfg.fraction = 1;
    cfg.robust_kind = FL_ROBUST_KRUM;
    cfg.robust_params.beta = 0;
    cfg.robust_params.f = 1;
    cfg.min_clients = 12;                       /* 4 buckets < 2f+3 */
    FL_CHECK ((r = fl_round_new (&cfg)) == NULL);
    cfg.min_clients = 15;
    FL_CHECK ((r = fl_round_new (&cfg)) != NULL);
    fl_round_destroy (&r);
    cfg.robust_kind = FL_ROBUST_BULYAN;         /* 5 buckets < 4f+3 */
    FL_CHECK ((r = fl_round_new (&cfg)) == NULL);
    cfg.min_clients = 21;
    FL_CHECK ((r = fl_round_new (&cfg)) != NULL);
    fl_round_destroy (&r);
    cfg.robust_kind = FL_ROBUST_MEDIAN;
    cfg.min_clients = 6;                        /* 2 buckets: runs as the mean, said in the log */
    FL_CHECK ((r = fl_round_new (&cfg)) != NULL);
    fl_round_destroy (&r);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_fedavg_weighted);
    FL_RUN (test_robust_byzantine_bucket);
    FL_RUN (test_private_step);
    FL_RUN (test_rule_check);
    FL_RUN (test_trimmed_nothing_round);
    FL_RUN (test_round_config_rules);
    FL_TEST_DONE ();
}
