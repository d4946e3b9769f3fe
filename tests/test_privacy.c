/*  test_privacy - the coordinator's privacy room (fl_privacy) on its own:
    configuration refusals, calibration to the budget, the stop before the
    budget is exceeded, the release seen from the side of whoever reads the
    published aggregate (the noise is really there, of the announced size),
    the refusal of bucket sums that carry too little of the clients' noise,
    adaptive clipping's step, and the untrusted checkpoint state. */
#include "fl_test.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fl_accountant.h"
#include "fl_dp.h"
#include "fl_privacy.h"
#include "fl_quant.h"
#include "fl_robust.h"

static void
s_client_config (fl_privacy_config_t *c)
{
    memset (c, 0, sizeof *c);
    c->unit = FL_PRIVACY_CLIENT;
    c->epsilon = 3;
    c->delta = 1e-5;
    c->noise_multiplier = -1;
    c->clip_norm = 1.0;
    c->rounds = 10;
    c->fraction = 0.5;
    c->batch_size = 32;
    c->client_lr = 0.1;
    c->secure = 1;
    c->sa_corrupt = 0.1;
    c->bucket_size = 3;
    c->robust = 1;
    c->robust_kind = FL_ROBUST_MEAN;
    fl_robust_params_defaults (&c->robust_params);
    c->target_quantile = 0.5;
    c->clip_lr = 0.2;
    c->count_noise = -1;
}

/*  A privacy room for c whose first round has started (2 checks). */
static fl_privacy_t *
s_first_round (const fl_privacy_config_t *c, const fl_privacy_population_t *pop)
{
    char why[256];
    fl_privacy_t *p = fl_privacy_new (c);
    FL_CHECK (p != NULL);
    int rc = p ? fl_privacy_before_round (p, pop, 1, why, sizeof why) : -1;
    FL_CHECK (rc == 0);
    if (rc != 0)
        fl_privacy_destroy (&p);
    return p;
}

static int
s_names_flag (const char *s)
{
    return s && strstr (s, "--") != NULL;
}

static void
test_config_refusals (void)
{
    fl_privacy_config_t c;
    s_client_config (&c);
    FL_CHECK (fl_privacy_config_error (&c) == NULL);

    c.distributed = 1;
    c.secure = 0;
    const char *e = fl_privacy_config_error (&c);
    FL_CHECK (e && strstr (e, "needs secure aggregation"));
    FL_CHECK (!s_names_flag (e));

    s_client_config (&c);
    c.robust = 0;                          /* FedAvg's weighted mean has no fixed denominator */
    e = fl_privacy_config_error (&c);
    FL_CHECK (e && strstr (e, "fixed denominators"));
    FL_CHECK (!s_names_flag (e));

    s_client_config (&c);
    c.unit = FL_PRIVACY_RECORD;
    c.record_clip = 1;
    c.steps = 1;
    c.adaptive_clip = 1;
    e = fl_privacy_config_error (&c);
    FL_CHECK (e && strstr (e, "client-level"));

    s_client_config (&c);
    c.adaptive_clip = 1;
    c.noise_multiplier = 1.0;
    c.count_noise = 0;                     /* an un-noised count with noise on the update */
    e = fl_privacy_config_error (&c);
    FL_CHECK (e && strstr (e, "noise multiplier of 0"));
    FL_CHECK (!s_names_flag (e));

    s_client_config (&c);
    c.noise_multiplier = 0;                /* no noise cannot have a budget */
    FL_CHECK (fl_privacy_config_error (&c) != NULL);
    FL_CHECK (fl_privacy_new (&c) == NULL);

    s_client_config (&c);
    c.unit = 0;
    c.distributed = 1;
    e = fl_privacy_config_error (&c);
    FL_CHECK (e && !s_names_flag (e));
}

/*  Calibrated to epsilon 3 over 10 rounds: the 10 rounds run within the
    budget, the 11th is refused before it is charged, with a reason. */
static void
test_budget (void)
{
    fl_privacy_config_t c;
    s_client_config (&c);
    fl_privacy_t *p = fl_privacy_new (&c);
    FL_CHECK (p != NULL);
    if (!p)
        return;
    FL_CHECK (isnan (fl_privacy_noise_multiplier (p)));
    fl_privacy_population_t pop = {20, 20, 2000, 100, 0, 0};
    char why[512];
    for (uint64_t r = 1; r <= 10; r++)
        FL_CHECK (fl_privacy_before_round (p, &pop, r, why, sizeof why) == 0);
    double z = fl_privacy_noise_multiplier (p);
    FL_CHECK (z > 0);
    FL_CHECK_CLOSE (fl_privacy_sample_rate (p), 0.5, 0, 0);
    double eps = fl_privacy_epsilon (p);
    FL_CHECK (eps > 2.5 && eps <= 3.0);
    /* the accountant agrees with an independent computation */
    FL_CHECK_CLOSE (eps, fl_dp_epsilon (z, 0.5, 10, 1e-5, NULL), 1e-9, 1e-9);
    FL_CHECK (fl_privacy_before_round (p, &pop, 11, why, sizeof why) == 1);
    FL_CHECK (strstr (why, "privacy budget reached") != NULL);
    FL_CHECK (strstr (why, "round 11") != NULL);
    FL_CHECK (!s_names_flag (why));
    FL_CHECK_CLOSE (fl_privacy_epsilon (p), eps, 0, 0);    /* nothing charged */
    char g[2048];
    fl_privacy_guarantee (p, g, sizeof g);
    FL_CHECK (strstr (g, "one member's entire data") != NULL);
    FL_CHECK (strstr (g, "The 10 global model(s)") != NULL);
    fl_privacy_destroy (&p);
    FL_CHECK (p == NULL);
}

/*  The reader of the released aggregate: with noise multiplier 1 on the
    fixed-denominator mean, the released vector differs from the exact
    estimator in (nearly) every coordinate, the differences have the
    standard deviation the room reports, and that sigma is z times the
    sensitivity C / (q N).  Two releases of the same sums differ. */
static void
test_release_noise (void)
{
    fl_privacy_config_t c;
    s_client_config (&c);
    c.epsilon = 0;
    c.noise_multiplier = 1.0;
    c.secure = 0;                            /* plaintext buckets: no encoding term */
    fl_privacy_population_t pop = {20, 20, 2000, 100, 0, 0};
    fl_privacy_t *p = s_first_round (&c, &pop);
    if (!p)
        return;
    enum { NP = 20000 };
    static double sum1[NP + 3], sum2[NP + 3], out[NP], out2[NP];
    for (size_t i = 0; i < NP; i++) {
        sum1[i] = 0.001 * (double) (i % 7);
        sum2[i] = -0.002 * (double) (i % 5);
    }
    sum1[NP] = 3;
    sum2[NP] = 3;
    fl_privacy_bucket_t bk[2] = {{sum1, 3, 3, 0, 0, 0, 0}, {sum2, 3, 3, 0, 0, 0, 1}};
    size_t ready = 20;                       /* q N = 10 */
    FL_CHECK (fl_privacy_release (p, bk, 2, NP, ready, 1, out) == 0);
    double sens, sigma;
    fl_privacy_last_noise (p, &sens, &sigma);
    FL_CHECK_CLOSE (sens, 1.0 / 10.0, 1e-12, 0);
    FL_CHECK (sigma > 0);
    FL_CHECK_CLOSE (sigma, 1.0 * sens, 0, 0.05);   /* z times the sensitivity (on the noise grid) */
    size_t moved = 0;
    double ss = 0;
    for (size_t i = 0; i < NP; i++) {
        double exact = (sum1[i] + sum2[i]) / 10.0, d = out[i] - exact;
        moved += d != 0;
        ss += d * d;
    }
    FL_CHECK (moved > NP * 9 / 10);
    FL_CHECK_CLOSE (sqrt (ss / NP), sigma, 0, 0.05);
    FL_CHECK (fl_privacy_release (p, bk, 2, NP, ready, 1, out2) == 0);
    size_t same = 0;
    for (size_t i = 0; i < NP; i++)
        same += out[i] == out2[i];
    FL_CHECK (same < NP / 10);
    /* nothing usable: nothing released */
    FL_CHECK (fl_privacy_release (p, bk, 0, NP, ready, 1, out) == -1);
    fl_privacy_destroy (&p);
}

/*  Distributed noise: the coordinator that keeps only the colluders and
    the fewest honest members cannot get a sum with too little noise
    released; a bucket whose every member survived is accepted. */
static void
test_distributed_refuses_thin_noise (void)
{
    fl_privacy_config_t c;
    s_client_config (&c);
    c.epsilon = 0;
    c.noise_multiplier = 1.0;
    c.distributed = 1;
    fl_privacy_population_t pop = {20, 20, 2000, 100, 0, 0};
    fl_privacy_t *p = s_first_round (&c, &pop);
    if (!p)
        return;
    enum { NP = 8 };
    fl_quant_encoding_t enc;
    double sigma_i = 0;
    uint32_t honest = 0;
    /* 10 members, threshold 7, corrupt 0.1: one colluder, 6 honest shares */
    FL_CHECK (fl_privacy_bucket_encoding (p, 10, 7, NP, 1.0, &enc, &sigma_i, &honest) == 0);
    FL_CHECK (honest == 6);
    FL_CHECK (sigma_i > 0);
    /* a threshold the colluders alone reach is refused */
    FL_CHECK (fl_privacy_bucket_encoding (p, 10, 1, NP, 1.0, &enc, &sigma_i, &honest) == -1);
    FL_CHECK (fl_privacy_bucket_encoding (p, 10, 7, NP, 1.0, &enc, &sigma_i, &honest) == 0);
    double sum[NP + 3] = {0}, out[NP] = {0};
    fl_privacy_bucket_t ok = {sum, 10, 10, enc.scale, sigma_i, honest, 0};
    FL_CHECK (fl_privacy_release (p, &ok, 1, NP, 20, 1, out) == 0);
    fl_privacy_bucket_t thin = {sum, 10, honest - 1, enc.scale, sigma_i, honest, 0};
    FL_CHECK (fl_privacy_release (p, &thin, 1, NP, 20, 1, out) == -1);
    fl_privacy_destroy (&p);
}

/*  Adaptive clipping without noise (z 0, count noise 0): every update
    unclipped (fraction 1) moves C by exp(-eta (1 - gamma)); a bucket that
    claims more unclipped updates than it has survivors is clamped. */
static void
test_adaptive_clip_step (void)
{
    fl_privacy_config_t c;
    s_client_config (&c);
    c.epsilon = 0;
    c.noise_multiplier = 0;
    c.adaptive_clip = 1;
    c.count_noise = 0;
    c.secure = 0;
    fl_privacy_population_t pop = {4, 4, 400, 100, 0, 0};
    fl_privacy_t *p = s_first_round (&c, &pop);
    if (!p)
        return;
    FL_CHECK (fl_privacy_extra_coords (p) == 1);
    FL_CHECK_CLOSE (fl_privacy_indicator (p, 0.5), 0.5, 0, 0);
    FL_CHECK_CLOSE (fl_privacy_indicator (p, 2.0), -0.5, 0, 0);
    FL_CHECK_CLOSE (fl_privacy_indicator (p, -1), -0.5, 0, 0);
    enum { NP = 4 };
    /* 2 survivors claiming 100 unclipped: clamped to 1 (= 2 x 1/2) */
    double s1[NP + 3] = {0, 0, 0, 0, 2, 0, 100}, s2[NP + 3] = {0, 0, 0, 0, 2, 0, 1}, out[NP];
    fl_privacy_bucket_t bk[2] = {{s1, 2, 2, 0, 0, 0, 0}, {s2, 2, 2, 0, 0, 0, 1}};
    FL_CHECK (fl_privacy_release (p, bk, 2, NP, 4, 1, out) == 0);   /* expected cohort q N = 2 */
    double sb, zd, frac;
    fl_privacy_adaclip (p, &sb, &zd, &frac);
    FL_CHECK_CLOSE (sb, 0, 0, 0);
    FL_CHECK_CLOSE (frac, 1.0 + 0.5, 1e-12, 0);   /* (1 + 1) / 2 + 1/2 */
    FL_CHECK_CLOSE (fl_privacy_clip_norm (p), 1.0 * exp (-0.2 * (1.0 - 0.5)), 1e-12, 1e-9);
    fl_privacy_destroy (&p);
}

/*  The spend survives a state round trip; a hostile state (wrong version,
    negative or huge noise multiplier, truncated, an adapted norm for a run
    without adaptive clipping) is refused with a reason and changes
    nothing. */
static void
test_state_restore (void)
{
    fl_privacy_config_t c;
    s_client_config (&c);
    fl_privacy_t *p = fl_privacy_new (&c), *q = fl_privacy_new (&c);
    FL_CHECK (p && q);
    if (!p || !q)
        return;
    fl_privacy_population_t pop = {20, 20, 2000, 100, 0, 0};
    char why[256];
    for (uint64_t r = 1; r <= 3; r++)
        FL_CHECK (fl_privacy_before_round (p, &pop, r, why, sizeof why) == 0);
    static double st[4096], bad[4096];
    size_t n = fl_privacy_state (p, st, 4096);
    FL_CHECK (n == FL_PRIVACY_STATE_HEADER + FL_ACCOUNTANT_STATE_DOUBLES (FL_ACCOUNTANT_DEFAULT_NORDERS));
    FL_CHECK (fl_privacy_state (p, st, 3) == 0);
    FL_CHECK (fl_privacy_restore (q, st, n, why, sizeof why) == 0);
    FL_CHECK_CLOSE (fl_privacy_epsilon (q), fl_privacy_epsilon (p), 0, 0);
    FL_CHECK_CLOSE (fl_privacy_noise_multiplier (q), fl_privacy_noise_multiplier (p), 0, 0);

    fl_privacy_t *fresh = fl_privacy_new (&c);
    FL_CHECK (fresh != NULL);
    double eps0 = fl_privacy_epsilon (fresh);
    memcpy (bad, st, n * sizeof (double));
    bad[0] = 99;
    FL_CHECK (fl_privacy_restore (fresh, bad, n, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "version") != NULL);
    memcpy (bad, st, n * sizeof (double));
    bad[1] = -1;
    FL_CHECK (fl_privacy_restore (fresh, bad, n, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "noise multiplier") != NULL);
    memcpy (bad, st, n * sizeof (double));
    bad[1] = 1e300;
    FL_CHECK (fl_privacy_restore (fresh, bad, n, why, sizeof why) == -1);
    FL_CHECK (fl_privacy_restore (fresh, st, FL_PRIVACY_STATE_HEADER, why, sizeof why) == -1);
    FL_CHECK (fl_privacy_restore (fresh, st, n - 7, why, sizeof why) == -1);   /* accountant truncated */
    memcpy (bad, st, n * sizeof (double));
    bad[4] = 2.0;                           /* an adapted norm: this run does not adapt */
    FL_CHECK (fl_privacy_restore (fresh, bad, n, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "adaptive clipping") != NULL && !s_names_flag (why));
    FL_CHECK (fl_privacy_epsilon (fresh) == eps0 || (isnan (eps0) && isnan (fl_privacy_epsilon (fresh))));
    FL_CHECK (isnan (fl_privacy_noise_multiplier (fresh)));
    fl_privacy_destroy (&fresh);
    fl_privacy_destroy (&p);
    fl_privacy_destroy (&q);
}

/*  Client-level Poisson cohort: each of 10000 ready members kept with
    probability 1/2, in their order; the count is within 6 standard
    deviations (50) of 5000. */
static void
test_poisson_cohort (void)
{
    fl_privacy_config_t c;
    s_client_config (&c);
    fl_privacy_population_t pop = {10000, 10000, 1e6, 100, 0, 0};
    fl_privacy_t *p = s_first_round (&c, &pop);
    if (!p)
        return;
    static uint32_t idx[10000];
    for (uint32_t i = 0; i < 10000; i++)
        idx[i] = i;
    size_t k = fl_privacy_poisson_cohort (p, idx, 10000);
    FL_CHECK (k >= 4700 && k <= 5300);
    int ordered = 1;
    for (size_t i = 1; i < k; i++)
        ordered &= idx[i] > idx[i - 1];
    FL_CHECK (ordered);
    FL_CHECK (fl_privacy_min_cohort (p) == 3);
    fl_privacy_destroy (&p);
}

/*  Record-level: q from the mean training-set size, the contribution bound
    K C_rec (b + 4 sqrt b + 4) becomes the clipping norm, the server step
    scale is -lr / (K q n_mean); a population without sizes fails. */
static void
test_record_level (void)
{
    fl_privacy_config_t c;
    s_client_config (&c);
    c.unit = FL_PRIVACY_RECORD;
    c.record_central = 1;                  /* the central mechanism (gradient sums, coordinator's noise) */
    c.record_clip = 0.5;
    c.steps = 2;
    c.epsilon = 0;
    c.noise_multiplier = 1.0;
    fl_privacy_t *p = fl_privacy_new (&c);
    FL_CHECK (p != NULL);
    if (!p)
        return;
    char why[256];
    fl_privacy_population_t none = {5, 0, 0, 0, 0, 0};
    FL_CHECK (fl_privacy_before_round (p, &none, 1, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "training-set size") != NULL);
    fl_privacy_population_t pop = {5, 5, 5 * 320.0, 400, 0, 0};   /* mean 320: q = 32 / 320 = 0.1 */
    FL_CHECK (fl_privacy_before_round (p, &pop, 1, why, sizeof why) == 0);
    double q = 0.1, b = q * 400;
    FL_CHECK_CLOSE (fl_privacy_sample_rate (p), 1 - pow (1 - q, 2), 1e-12, 1e-12);
    FL_CHECK_CLOSE (fl_privacy_clip_norm (p), 2 * 0.5 * (b + 4 * sqrt (b) + 4), 1e-9, 1e-12);
    FL_CHECK_CLOSE (fl_privacy_update_scale (p), -0.1 / (2 * q * 320), 1e-12, 1e-9);
    fl_privacy_destroy (&p);
}


/*  Record-level local DP-SGD (the default): the per-step rate q is charged
    K times per round (epsilon after one round equals K steps at q), the
    update is used as is (scale 1), the members' update bound is
    K lr (C (b + 4 sqrt b + 4) + sigma (sqrt d + 8)) / b at b = q n_min, the
    TRAIN message carries the per-step noise multiplier, and distributed
    noise is refused with it. */
static void
test_record_local (void)
{
    fl_privacy_config_t c;
    s_client_config (&c);
    c.unit = FL_PRIVACY_RECORD;
    c.record_clip = 0.5;
    c.steps = 4;
    c.epsilon = 0;
    c.noise_multiplier = 1.5;
    fl_privacy_t *p = fl_privacy_new (&c);
    FL_CHECK (p != NULL);
    if (!p)
        return;
    char why[256];
    fl_privacy_population_t pop = {5, 5, 5 * 320.0, 400, 200, 31};   /* q = 32 / 320 = 0.1 */
    FL_CHECK (fl_privacy_before_round (p, &pop, 1, why, sizeof why) == 0);
    double q = 0.1;
    FL_CHECK_CLOSE (fl_privacy_sample_rate (p), q, 1e-12, 1e-12);
    FL_CHECK_CLOSE (fl_privacy_epsilon (p), fl_dp_epsilon (1.5, q, 4, 1e-5, NULL), 1e-12, 1e-12);
    FL_CHECK (fl_privacy_update_scale (p) == 1.0);
    double h, sigma;
    FL_CHECK (fl_dp_noise_grid (1.5, 0.5, 31, &h, &sigma) == 0);
    double b = q * 200, M = 4 * c.client_lr * (0.5 * (b + 4 * sqrt (b) + 4) + sigma * (sqrt (31.0) + 8)) / b;
    FL_CHECK_CLOSE (fl_privacy_clip_norm (p), M, 1e-9, 1e-12);
    FL_CHECK (fl_privacy_warning (p) == NULL);      /* 20 x 0.5 per step against noise 1.5 x 0.5 x sqrt(31) */
    char g[2048];
    fl_privacy_guarantee (p, g, sizeof g);
    FL_CHECK (strstr (g, "4 local DP-SGD step(s) per round itself, before masking") != NULL);
    FL_CHECK (strstr (g, "per local step") != NULL);
    fl_privacy_destroy (&p);
    c.distributed = 1;
    c.secure = 1;
    const char *e = fl_privacy_config_error (&c);
    FL_CHECK (e && strstr (e, "central record-level mechanism"));
    FL_CHECK (!s_names_flag (e));
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_config_refusals);
    FL_RUN (test_budget);
    FL_RUN (test_release_noise);
    FL_RUN (test_distributed_refuses_thin_noise);
    FL_RUN (test_adaptive_clip_step);
    FL_RUN (test_state_restore);
    FL_RUN (test_poisson_cohort);
    FL_RUN (test_record_level);
    FL_RUN (test_record_local);
    FL_TEST_DONE ();
}
