/*  test_round_dp.c - differential privacy through the coordinator's round
    state machine and real client sessions, in one process (no sockets,
    simulated clock; the harness of test_round.c), plus the DP pieces the
    round relies on:

    - test_sensitivity_values: fl_dp_aggregator_sensitivity for every rule
      (the formulas of docs/PRIVACY.md) and its refusals;
    - test_sensitivity_holds: a property test: for random bucket means inside
      the norm ball, moving ONE bucket mean by delta/s moves each rule's real
      output (fl_robust_aggregate) by no more than the stated sensitivity;
    - test_noise_grid: the grid is a power of two small against the
      sensitivity, sigma = z (sensitivity + step sqrt(d)), refusals;
    - test_record_clipping_bounds_influence: removing or replacing one record
      changes a client's record-level contribution by at most K C_rec
      (and 2 K C_rec), reached by an outlier; Poisson inclusion counts;
    - test_budget_stops_training: with a fixed noise multiplier and a budget
      that allows only a few of the planned rounds, training ends cleanly
      (DONE, a stop reason) before epsilon exceeds the budget; the summaries'
      and the CSV's epsilon are non-decreasing and within the budget;
    - test_calibrated_budget: with only epsilon given, the calibrated noise
      multiplier runs every planned round and ends just below epsilon;
    - test_noise_is_added: a noiseless run (z = 0) is deterministic, a noisy
      one moves the model away from it by about sigma per coordinate, and
      sigma = z * sensitivity with the sensitivity of the mean rule;
    - test_dp_state_roundtrip: the privacy spend exports, restores into a new
      run (which then starts from it), and malformed states are refused;
    - test_dp_config_refused: DP with FedAvg, no budget and no noise, a budget
      with no noise, bad record-level parameters. */
#include <czmq.h>
#include <math.h>

#include "fl_checkpoint.h"
#include "fl_client.h"
#include "fl_dp.h"
#include "fl_model.h"
#include "fl_report.h"
#include "fl_round.h"
#include "fl_shard.h"
#include "fl_test.h"
#include "round_sim.h"
#include "fl_train.h"
#include "fl_wire.h"

#define N_CLIENTS 6

typedef struct {
    fl_round_t *round;
    fl_client_t *clients[N_CLIENTS];
    uint8_t ids[N_CLIENTS][8];
    int64_t now;
} sim_t;

static void
s_pump (sim_t *s)
{
    round_sim_t r = {.round = s->round, .clients = s->clients, .ids = s->ids, .n = N_CLIENTS, .now = &s->now,
                     .max_passes = 100000, .tick_every_pass = 1, .advance_when_idle = 1};
    round_sim_pump (&r);
}

/* A plaintext consortium over WDBC (iid) with the given DP settings; every
   member with the DP policy `policy` and the update hook (hook, arg) when
   given; n_train (if not NULL) receives each member's training rows. */
static void
s_setup_ex (sim_t *s, const fl_round_config_t *cfg, const fl_client_dp_policy_t *policy, fl_client_update_fn hook,
            void *arg, size_t *n_train)
{
    memset (s, 0, sizeof *s);
    s->round = fl_round_new (cfg);
    FL_CHECK (s->round != NULL);
    if (!s->round)
        return;
    fl_round_start (s->round, 0);
    for (int i = 0; i < N_CLIENTS; i++) {
        fl_dataset_t *tr = NULL, *te = NULL;
        FL_CHECK (round_sim_shard (N_CLIENTS, (size_t) i, &tr, &te) == 0);
        if (n_train)
            n_train[i] = tr ? fl_dataset_rows (tr) : 0;
        char name[32];
        snprintf (name, sizeof name, "hospital-%d", i);
        fl_client_config_t cc = {.member = name, .seed = (uint64_t) i, .allow_plaintext = 1, .dp_policy = policy,
                                 .update_hook = hook, .update_arg = arg};
        s->clients[i] = fl_client_new (&cc, &tr, &te);
        FL_CHECK (s->clients[i] != NULL);
        round_sim_id (s->ids[i], (size_t) i);
        fl_client_hello (s->clients[i]);
    }
}

static void
s_setup (sim_t *s, const fl_round_config_t *cfg)
{
    memset (s, 0, sizeof *s);
    s->round = fl_round_new (cfg);
    FL_CHECK (s->round != NULL);
    if (!s->round)
        return;
    fl_round_start (s->round, 0);
    for (int i = 0; i < N_CLIENTS; i++) {
        fl_dataset_t *tr = NULL, *te = NULL;
        FL_CHECK (round_sim_shard (N_CLIENTS, (size_t) i, &tr, &te) == 0);
        char name[32];
        snprintf (name, sizeof name, "hospital-%d", i);
        fl_client_config_t cc = {.member = name, .seed = (uint64_t) i, .allow_plaintext = 1};
        s->clients[i] = fl_client_new (&cc, &tr, &te);
        FL_CHECK (s->clients[i] != NULL);
        round_sim_id (s->ids[i], (size_t) i);
        fl_client_hello (s->clients[i]);
    }
}

static void
s_teardown (sim_t *s)
{
    for (int i = 0; i < N_CLIENTS; i++)
        fl_client_destroy (&s->clients[i]);
    fl_round_destroy (&s->round);
}

static void
s_config (fl_round_config_t *cfg, int unit, fl_robust_kind_t kind, uint64_t rounds)
{
    fl_round_config_default (cfg);
    cfg->min_clients = N_CLIENTS;
    cfg->rounds = rounds;
    cfg->client_lr = 0.5;
    cfg->batch_size = 16;
    cfg->robust = 1;
    cfg->robust_kind = kind;
    cfg->bucket_size = 3;
    cfg->clip_norm = 1.0;
    cfg->dp = unit;
    cfg->dp_delta = 1e-5;
    cfg->dp_noise_multiplier = -1;
    cfg->dp_clip = 1.0;
    cfg->dp_steps = 1;
    memcpy (cfg->run_id, "dp-test-run-0001", 16);
}

/* ---- sensitivity ------------------------------------------------------------ */

static void
test_sensitivity_values (void)
{
    fl_robust_params_t p;
    fl_robust_params_defaults (&p);
    const double d = 1.0, s = 3.0, mx = 5.0;
    FL_CHECK_CLOSE (fl_dp_aggregator_sensitivity (FL_ROBUST_MEAN, &p, 10, s, d, mx), 1.0 / 30, 0, 1e-15);
    FL_CHECK_CLOSE (fl_dp_aggregator_sensitivity (FL_ROBUST_MEDIAN, &p, 10, s, d, mx), 1.0 / 3, 0, 1e-15);
    p.beta = 0.2;                                   /* k = floor(0.2 * 10) = 2 per side, 6 kept */
    FL_CHECK_CLOSE (fl_dp_aggregator_sensitivity (FL_ROBUST_TRIMMED_MEAN, &p, 10, s, d, mx), 1.0 / 18, 0, 1e-15);
    p.beta = 0;
    p.b = 1;                                        /* 8 kept */
    FL_CHECK_CLOSE (fl_dp_aggregator_sensitivity (FL_ROBUST_TRIMMED_MEAN, &p, 10, s, d, mx), 1.0 / 24, 0, 1e-15);
    p.b = 5;                                        /* nothing left */
    FL_CHECK (isnan (fl_dp_aggregator_sensitivity (FL_ROBUST_TRIMMED_MEAN, &p, 10, s, d, mx)));
    p.b = 0;
    p.L = 3;
    FL_CHECK_CLOSE (fl_dp_aggregator_sensitivity (FL_ROBUST_CCLIP, &p, 10, s, d, mx), 3.0 / 30, 0, 1e-15);
    FL_CHECK_CLOSE (fl_dp_aggregator_sensitivity (FL_ROBUST_KRUM, &p, 10, s, d, mx), 10.0, 0, 1e-15);
    FL_CHECK_CLOSE (fl_dp_aggregator_sensitivity (FL_ROBUST_MULTI_KRUM, &p, 10, s, d, mx), 10.0, 0, 1e-15);
    FL_CHECK_CLOSE (fl_dp_aggregator_sensitivity (FL_ROBUST_GEOMED, &p, 10, s, d, mx), 10.0, 0, 1e-15);
    FL_CHECK_CLOSE (fl_dp_aggregator_sensitivity (FL_ROBUST_BULYAN, &p, 10, s, d, mx), 10.0 * sqrt (11.0), 0, 1e-15);
    p.M = 2.0;                                      /* the norm bound caps the ball */
    FL_CHECK_CLOSE (fl_dp_aggregator_sensitivity (FL_ROBUST_KRUM, &p, 10, s, d, mx), 4.0, 0, 1e-15);
    FL_CHECK_CLOSE (fl_dp_aggregator_sensitivity (FL_ROBUST_MEDIAN, &p, 10, s, d, mx), 1.0 / 3, 0, 1e-15);
    p.M = 0;
    /* refusals */
    FL_CHECK (isnan (fl_dp_aggregator_sensitivity (FL_ROBUST_MEAN, &p, 0, s, d, mx)));
    FL_CHECK (isnan (fl_dp_aggregator_sensitivity (FL_ROBUST_MEAN, &p, 10, 0, d, mx)));
    FL_CHECK (isnan (fl_dp_aggregator_sensitivity (FL_ROBUST_MEAN, &p, 10, s, -1, mx)));
    FL_CHECK (isnan (fl_dp_aggregator_sensitivity (FL_ROBUST_MEAN, &p, 10, s, d, NAN)));
    FL_CHECK (isnan (fl_dp_aggregator_sensitivity (FL_ROBUST_MEAN, &p, 10, INFINITY, d, mx)));
}

/* Random rows in the ball of radius mx; one row moved by exactly delta / s. */
static void
test_sensitivity_holds (void)
{
    const size_t B = 9, d = 7;
    const double s = 3, delta = 1.0, mx = 2.0;
    fl_rng_t *rng = fl_rng_new_u64 (7, 1);
    double x[9 * 7], y[9 * 7], a[7], b[7];
    fl_robust_kind_t kinds[] = {FL_ROBUST_MEAN, FL_ROBUST_MEDIAN, FL_ROBUST_TRIMMED_MEAN, FL_ROBUST_CCLIP,
                                FL_ROBUST_KRUM, FL_ROBUST_MULTI_KRUM, FL_ROBUST_GEOMED, FL_ROBUST_BULYAN};
    double worst[8] = {0};
    int violations = 0;
    for (int trial = 0; trial < 300; trial++) {
        for (size_t i = 0; i < B; i++) {
            double n = 0;
            for (size_t j = 0; j < d; j++) {
                x[i * d + j] = fl_rng_normal (rng) + (trial % 3 == 0 ? 0 : 1.0);
                n += x[i * d + j] * x[i * d + j];
            }
            double r = mx * fl_rng_double (rng) / sqrt (n);      /* inside the ball */
            for (size_t j = 0; j < d; j++)
                x[i * d + j] *= r;
        }
        memcpy (y, x, sizeof x);
        size_t row = (size_t) fl_rng_uniform (rng, B);
        double u[7], n = 0;
        for (size_t j = 0; j < d; j++) {
            u[j] = fl_rng_normal (rng);
            n += u[j] * u[j];
        }
        for (size_t j = 0; j < d; j++)
            y[row * d + j] += u[j] / sqrt (n) * delta / s;
        /* the moved row may leave the ball slightly: the coarse bounds get
           the larger radius */
        double mxy = mx + delta / s;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            fl_robust_params_t p;
            fl_robust_params_defaults (&p);
            if (kinds[k] == FL_ROBUST_TRIMMED_MEAN)
                p.beta = 0.25;
            if (kinds[k] == FL_ROBUST_KRUM || kinds[k] == FL_ROBUST_MULTI_KRUM || kinds[k] == FL_ROBUST_BULYAN)
                p.f = 1;
            if (fl_robust_aggregate (kinds[k], &p, x, B, d, NULL, a) != 0
                || fl_robust_aggregate (kinds[k], &p, y, B, d, NULL, b) != 0) {
                violations++;
                continue;
            }
            double diff = 0;
            for (size_t j = 0; j < d; j++)
                diff += (a[j] - b[j]) * (a[j] - b[j]);
            diff = sqrt (diff);
            double sens = fl_dp_aggregator_sensitivity (kinds[k], &p, B, s, delta, mxy);
            if (diff / sens > worst[k])
                worst[k] = diff / sens;
            if (!(diff <= sens * (1 + 1e-12)))
                violations++;
        }
    }
    if (fl_test_verbose_)
        for (size_t k = 0; k < 8; k++)
            printf ("  %-12s largest observed change / sensitivity %.3f\n", fl_robust_kind_name (kinds[k]), worst[k]);
    FL_CHECK (violations == 0);
    /* the tight bounds are reached, or nearly: mean exactly, median and trimmed mean often */
    FL_CHECK (worst[0] > 0.999);
    FL_CHECK (worst[1] > 0.5);
    fl_rng_destroy (&rng);
}

static void
test_noise_grid (void)
{
    double step, sigma;
    FL_CHECK (fl_dp_noise_grid (1.5, 0.25, 100, &step, &sigma) == 0);
    int e;
    FL_CHECK (frexp (step, &e) == 0.5);                             /* a power of two */
    FL_CHECK (step * 10 <= 0.25 / 1024 && step * 10 > 0.25 / 2048);  /* largest <= sens / (1024 sqrt d) */
    FL_CHECK_CLOSE (sigma, 1.5 * (0.25 + step * 10), 0, 1e-15);
    FL_CHECK (sigma / 1.5 < 0.25 * 1.001);
    /* a huge noise multiplier: the grid gets coarser so sigma / step stays <= 2^29 */
    FL_CHECK (fl_dp_noise_grid (1e6, 1.0, 1000, &step, &sigma) == 0);
    FL_CHECK (frexp (step, &e) == 0.5);
    FL_CHECK (sigma / step <= 0x1p29 + 1e6 * sqrt (1000.0) && sigma / step >= 0x1p27);
    FL_CHECK_CLOSE (sigma, 1e6 * (1.0 + step * sqrt (1000.0)), 0, 1e-12);
    /* ... unless z sqrt(d) alone leaves the sampler's range */
    FL_CHECK (fl_dp_noise_grid (1e6, 1.0, 100000000, &step, &sigma) == -1);
    FL_CHECK (fl_dp_noise_grid (0, 1.0, 10, &step, &sigma) == -1);
    FL_CHECK (fl_dp_noise_grid (1, 0, 10, &step, &sigma) == -1);
    FL_CHECK (fl_dp_noise_grid (1, 1, 0, &step, &sigma) == -1);
    FL_CHECK (fl_dp_noise_grid (NAN, 1, 10, &step, &sigma) == -1);
    /* add_f64 lands on the grid and adds noise of the requested spread */
    fl_rng_t *rng = fl_rng_new_u64 (3, 3);
    double v[20000];
    for (size_t i = 0; i < 20000; i++)
        v[i] = 0.3;
    FL_CHECK (fl_dp_discrete_gaussian_add_f64 (rng, 2.0, 1.0 / 64, v, 20000) == 0);
    double m = 0, q = 0;
    int on_grid = 1;
    for (size_t i = 0; i < 20000; i++) {
        on_grid &= v[i] * 64 == nearbyint (v[i] * 64);
        m += v[i];
        q += (v[i] - 0.296875) * (v[i] - 0.296875);       /* 0.3 rounded to the grid: 19/64 */
    }
    FL_CHECK (on_grid);
    FL_CHECK_CLOSE (m / 20000, 0.296875, 5 * 2.0 / sqrt (20000.0), 0);
    FL_CHECK_CLOSE (sqrt (q / 20000), 2.0, 0, 0.03);
    v[0] = NAN;
    double keep = v[1];
    FL_CHECK (fl_dp_discrete_gaussian_add_f64 (rng, 2.0, 1.0 / 64, v, 2) == -1 && v[1] == keep);
    FL_CHECK (fl_dp_discrete_gaussian_add_f64 (rng, 2.0, 0.3, v + 1, 1) == -1);
    fl_rng_destroy (&rng);
}

/* ---- record-level contributions ------------------------------------------- */

static double
s_dist (const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
    return sqrt (s);
}

static void
test_record_clipping_bounds_influence (void)
{
    const size_t n = 40, d = 5;
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = d;
    mc.n_classes = 2;
    mc.seed = 1;
    fl_model_t *m = fl_model_new ("logreg", &mc);
    FL_CHECK (m != NULL);
    size_t np = fl_model_num_params (m);
    float x[40 * 5], x2[40 * 5];
    int32_t y[40], y2[40];
    fl_rng_t *g = fl_rng_new_u64 (11, 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = (float) fl_rng_normal (g);
        y[i] = (int32_t) (i % 2);
    }
    /* record 0 is an outlier: its gradient is far above the clipping norm
       (labelled against the model's prediction, so the loss is large) */
    for (size_t j = 0; j < d; j++)
        x[j] = 50.0f;
    float p0;
    FL_CHECK (fl_model_predict (m, x, 1, &p0) == 0);
    y[0] = p0 < 0.5f ? 1 : 0;
    const double C = 0.5;
    const uint32_t K = 3;
    float *full = (float *) calloc (np, sizeof (float)), *less = (float *) calloc (np, sizeof (float));
    float *swap = (float *) calloc (np, sizeof (float));
    fl_rng_t *r = fl_rng_new_u64 (1, 1);
    uint64_t inc = 0;
    FL_CHECK (fl_train_dp_grad_sum (m, x, y, n, 1.0, C, K, r, full, &inc) == 0);
    FL_CHECK (inc == K * n);
    /* remove record 0: the contribution moves by at most K C, and the
       outlier (clipped, so exactly norm C per step) reaches it */
    FL_CHECK (fl_train_dp_grad_sum (m, x + d, y + 1, n - 1, 1.0, C, K, r, less, NULL) == 0);
    double dr = s_dist (full, less, np);
    FL_CHECK (dr <= K * C * (1 + 1e-5));
    FL_CHECK (dr >= K * C * (1 - 1e-4));
    /* replace record 0 by an opposite outlier: at most 2 K C */
    memcpy (x2, x, sizeof x);
    memcpy (y2, y, sizeof y);
    for (size_t j = 0; j < d; j++)
        x2[j] = -50.0f;
    y2[0] = 1 - y[0];
    FL_CHECK (fl_train_dp_grad_sum (m, x2, y2, n, 1.0, C, K, r, swap, NULL) == 0);
    FL_CHECK (s_dist (full, swap, np) <= 2 * K * C * (1 + 1e-5));
    /* every clipped per-example gradient has norm <= C: the whole sum is <= K n C */
    double norm = 0;
    for (size_t i = 0; i < np; i++)
        norm += (double) full[i] * full[i];
    FL_CHECK (sqrt (norm) <= K * n * C * (1 + 1e-5));
    /* Poisson inclusion: mean count K q n over 200 draws, within 5 standard errors */
    double sum = 0;
    for (int t = 0; t < 200; t++) {
        FL_CHECK (fl_train_dp_grad_sum (m, x, y, n, 0.25, C, K, r, less, &inc) == 0);
        sum += (double) inc;
    }
    double mean = sum / 200, want = K * 0.25 * n, se = sqrt (K * n * 0.25 * 0.75 / 200);
    FL_CHECK_CLOSE (mean, want, 5 * se, 0);
    /* refusals: out zeroed */
    FL_CHECK (fl_train_dp_grad_sum (m, x, y, n, 0.0, C, K, r, full, NULL) == -1);
    FL_CHECK (full[0] == 0.0f);
    FL_CHECK (fl_train_dp_grad_sum (m, x, y, n, 0.5, -1, K, r, full, NULL) == -1);
    FL_CHECK (fl_train_dp_grad_sum (m, x, y, n, 0.5, C, 0, r, full, NULL) == -1);
    y[3] = 7;
    FL_CHECK (fl_train_dp_grad_sum (m, x, y, n, 0.5, C, K, r, full, NULL) == -1);
    free (full);
    free (less);
    free (swap);
    fl_rng_destroy (&r);
    fl_rng_destroy (&g);
    fl_model_destroy (&m);
}

/* ---- through the round ------------------------------------------------------ */

/* Reads every summary; checks epsilon non-decreasing and <= budget (if > 0);
   writes them through the CSV writer and reads the epsilon column back. */
static int
s_drain (sim_t *s, double budget, double *last_eps)
{
    FILE *f = tmpfile ();
    FL_CHECK (f != NULL);
    fl_report_csv_header (f);
    fl_round_summary_t sum;
    int n = 0;
    double prev = 0;
    while (fl_round_next_summary (s->round, &sum)) {
        n++;
        FL_CHECK (sum.epsilon >= prev);
        if (budget > 0)
            FL_CHECK (sum.epsilon <= budget);
        FL_CHECK (isnan (sum.train_loss));           /* no un-noised loss under DP */
        prev = sum.epsilon;
        fl_report_csv_row (f, &sum, 0.0);
    }
    /* the CSV's epsilon column (found by name, as readers do) agrees */
    rewind (f);
    char line[1024];
    int rows = 0, col = -1;
    double csv_prev = 0, csv_last = NAN;
    FL_CHECK (fgets (line, sizeof line, f) != NULL);
    line[strcspn (line, "\n")] = 0;
    {
        int i = 0;
        for (char *tok = strtok (line, ","); tok; tok = strtok (NULL, ","), i++)
            if (strcmp (tok, "epsilon") == 0)
                col = i;
    }
    FL_CHECK (col >= 0);
    while (fgets (line, sizeof line, f)) {
        char *c = line;
        for (int i = 0; i < col && c; i++) {
            c = strchr (c, ',');
            c = c ? c + 1 : NULL;
        }
        double e = c ? strtod (c, NULL) : NAN;
        FL_CHECK (e >= csv_prev);
        if (budget > 0)
            FL_CHECK (e <= budget);
        csv_prev = e;
        csv_last = e;
        rows++;
    }
    FL_CHECK (rows == n);
    if (n)
        FL_CHECK_CLOSE (csv_last, prev, 0, 1e-5);
    fclose (f);
    *last_eps = prev;
    return n;
}

static void
test_budget_stops_training (void)
{
    fl_round_config_t cfg;
    s_config (&cfg, FL_ROUND_DP_RECORD, FL_ROBUST_MEDIAN, 30);
    cfg.dp_epsilon = 2.0;
    cfg.dp_noise_multiplier = 2.0;           /* fixed: 30 rounds would spend about 3.4 */
    sim_t s;
    s_setup (&s, &cfg);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    FL_CHECK (strstr (fl_round_stop_reason (s.round), "privacy budget") != NULL);
    double last = 0;
    int n = s_drain (&s, 2.0, &last);
    if (fl_test_verbose_)
        printf ("  stopped after %d rounds at epsilon %.4f: %s\n", n, last, fl_round_stop_reason (s.round));
    FL_CHECK (n >= 1 && n < 30);
    FL_CHECK (fl_round_current (s.round) == (uint64_t) n);
    FL_CHECK (fl_round_dp_epsilon (s.round) <= 2.0);
    FL_CHECK_CLOSE (fl_round_dp_epsilon (s.round), last, 0, 1e-12);
    /* one more round would have exceeded it */
    FL_CHECK (fl_dp_epsilon (2.0, fl_round_dp_sample_rate (s.round), (uint64_t) n + 1, 1e-5, NULL) > 2.0);
    for (int i = 0; i < N_CLIENTS; i++)
        FL_CHECK (fl_client_state (s.clients[i]) == FL_CLIENT_FINISHED);
    char g[1024];
    fl_round_dp_guarantee (s.round, g, sizeof g);
    FL_CHECK (strstr (g, "one training record") != NULL && strstr (g, "delta = 1e-05") != NULL);
    s_teardown (&s);
}

static void
test_calibrated_budget (void)
{
    fl_round_config_t cfg;
    s_config (&cfg, FL_ROUND_DP_RECORD, FL_ROBUST_MEAN, 6);
    cfg.dp_epsilon = 3.0;                    /* the noise multiplier is found for 6 rounds */
    sim_t s;
    s_setup (&s, &cfg);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    FL_CHECK (fl_round_stop_reason (s.round)[0] == 0);
    double last = 0;
    FL_CHECK (s_drain (&s, 3.0, &last) == 6);
    FL_CHECK (last <= 3.0 && last >= 2.97);  /* the search stops within 1% below the target */
    double z = fl_round_dp_noise_multiplier (s.round), q = fl_round_dp_sample_rate (s.round);
    FL_CHECK (z > 0 && q > 0 && q <= 1);
    FL_CHECK_CLOSE (fl_dp_epsilon (z, q, 6, 1e-5, NULL), last, 0, 1e-12);
    /* the model still learns something at epsilon 3 */
    s_teardown (&s);
}

/* The global model after one client-level round with mean over buckets. */
static void
s_one_round (double z, float *out, size_t *np, double *sens, double *sigma)
{
    fl_round_config_t cfg;
    s_config (&cfg, FL_ROUND_DP_CLIENT, FL_ROBUST_MEAN, 1);
    snprintf (cfg.model, sizeof cfg.model, "mlp");
    snprintf (cfg.hidden, sizeof cfg.hidden, "16");
    cfg.dp_noise_multiplier = z;
    cfg.dp_epsilon = 0;                      /* no budget */
    sim_t s;
    s_setup (&s, &cfg);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    *np = fl_round_num_params (s.round);
    memcpy (out, fl_round_params (s.round), *np * sizeof (float));
    fl_round_dp_last_noise (s.round, sens, sigma);
    fl_round_summary_t sum;
    FL_CHECK (fl_round_next_summary (s.round, &sum) == 1 && !sum.skipped && sum.updates == N_CLIENTS);
    if (z == 0)
        FL_CHECK (isinf (sum.epsilon));
    s_teardown (&s);
}

static void
test_noise_is_added (void)
{
    static float a[4096], b[4096], c[4096];
    size_t na, nb, nc;
    double sa, sb, sc, ga, gb, gc;
    s_one_round (0, a, &na, &sa, &ga);        /* no noise: deterministic (fraction 1, seeded training) */
    s_one_round (0, b, &nb, &sb, &gb);
    FL_CHECK (na == nb && na == 30 * 16 + 16 + 16 + 1);    /* MLP 30-16-1 */
    FL_CHECK (memcmp (a, b, na * sizeof (float)) == 0);
    FL_CHECK (ga == 0);
    /* client-level mean: McMahan's estimator, sensitivity C / (q N) = 1 / 6 */
    FL_CHECK_CLOSE (sa, 1.0 / N_CLIENTS, 0, 1e-12);
    s_one_round (1000, c, &nc, &sc, &gc);
    FL_CHECK_CLOSE (sc, 1.0 / N_CLIENTS, 0, 1e-12);
    FL_CHECK_CLOSE (gc, 1000.0 / N_CLIENTS, 0, 1e-3);     /* sigma = z (sensitivity + grid) */
    /* the noisy model differs from the noiseless one by ~sigma per coordinate
       (the clipped signal, norm <= 1, is negligible next to sigma ~ 167) */
    double ss = 0;
    for (size_t i = 0; i < na; i++)
        ss += ((double) c[i] - a[i]) * ((double) c[i] - a[i]);
    double rms = sqrt (ss / (double) na);
    if (fl_test_verbose_)
        printf ("  sigma %.3f, rms parameter change %.3f over %zu parameters\n", gc, rms, na);
    FL_CHECK_CLOSE (rms, gc, 0, 0.15);        /* 529 coordinates: standard error ~3% */
}


/* ---- record-level local DP-SGD (the default record mechanism) -------------- */

/*  What an adversary reading the members' updates sees (the update hook
    gets exactly what the member would clip, encode and send).  With q = 1
    and huge noise (z = 1000) the clipped signal (norm <= K lr C in the
    update) is negligible, so each coordinate of update * n / lr is the sum
    of the K steps' noise: variance K sigma^2, sigma = z (C + h sqrt d). */
typedef struct {
    size_t n_train[N_CLIENTS];
    double ss;                /* sum of squares of update * n / lr */
    size_t count;             /* coordinates seen */
    size_t calls;
    double lr;
} s_noise_probe_t;

static int
s_noise_hook (void *arg, fl_client_update_t *info, float *update, size_t n)
{
    s_noise_probe_t *p = (s_noise_probe_t *) arg;
    int i = -1;
    sscanf (info->member, "hospital-%d", &i);
    if (i < 0 || i >= N_CLIENTS)
        return 0;
    for (size_t j = 0; j < n; j++) {
        double v = (double) update[j] * (double) p->n_train[i] / p->lr;
        p->ss += v * v;
    }
    p->count += n;
    p->calls++;
    return 0;
}

static void
s_local_noise_run (uint32_t steps, double *ratio, size_t *calls)
{
    fl_round_config_t cfg;
    s_config (&cfg, FL_ROUND_DP_RECORD, FL_ROBUST_MEAN, 2);
    snprintf (cfg.model, sizeof cfg.model, "mlp");
    snprintf (cfg.hidden, sizeof cfg.hidden, "16");
    cfg.dp_noise_multiplier = 1000;
    cfg.dp_epsilon = 0;
    cfg.dp_steps = steps;
    cfg.batch_size = 1000000;                /* q = 1: every record in every step */
    cfg.client_lr = 0.01;
    s_noise_probe_t probe;
    memset (&probe, 0, sizeof probe);
    probe.lr = cfg.client_lr;
    sim_t s;
    s_setup_ex (&s, &cfg, NULL, s_noise_hook, &probe, probe.n_train);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    FL_CHECK (fl_round_dp_sample_rate (s.round) == 1.0);
    size_t d = fl_round_num_params (s.round);
    double h = 0, sigma = 0;
    FL_CHECK (fl_dp_noise_grid (1000, 1.0, d, &h, &sigma) == 0);
    FL_CHECK_CLOSE (sigma, 1000.0, 0, 1e-3);               /* z C, the grid adds < 0.1% */
    *ratio = probe.count ? probe.ss / (double) probe.count / ((double) steps * sigma * sigma) : NAN;
    *calls = probe.calls;
    s_teardown (&s);
}

static void
test_local_noise_per_step (void)
{
    double r1, r4;
    size_t c1, c4;
    s_local_noise_run (1, &r1, &c1);
    s_local_noise_run (4, &r4, &c4);
    if (fl_test_verbose_)
        printf ("  update variance / (K sigma^2): K = 1: %.4f (%zu updates), K = 4: %.4f (%zu updates)\n", r1, c1,
                r4, c4);
    FL_CHECK (c1 == 2 * N_CLIENTS && c4 == 2 * N_CLIENTS);
    /* 12 updates x 513 coordinates: the variance's standard error is
       sqrt(2 / 6156) = 1.8%; 10% is over 5 standard errors.  Noise added
       once per round instead of per step would give 0.25 at K = 4, noise by
       the coordinator instead of the member 0. */
    FL_CHECK (fabs (r1 - 1) < 0.10);
    FL_CHECK (fabs (r4 - 1) < 0.10);
}

/*  RDP of the Poisson-subsampled Gaussian at integer order a (Mironov,
    Talwar, Zhang 2019, Sec. 3.3), written again here, independently of
    fl_accountant: log sum_i C(a, i) q^i (1-q)^(a-i) exp((i^2 - i) / (2 z^2)),
    divided by a - 1. */
static double
s_rdp_int (double q, double z, int a)
{
    double terms[128], mx = -INFINITY;
    for (int i = 0; i <= a; i++) {
        double lc = lgamma (a + 1.0) - lgamma (i + 1.0) - lgamma (a - i + 1.0);
        terms[i] = lc + i * log (q) + (a - i) * log1p (-q) + (double) (i * i - i) / (2 * z * z);
        mx = fmax (mx, terms[i]);
    }
    double s = 0;
    for (int i = 0; i <= a; i++)
        s += exp (terms[i] - mx);
    return (mx + log (s)) / (a - 1);
}

/*  epsilon from composed RDP over the integer orders 2..63 (Balle et al.
    2020, Thm 21). */
static double
s_eps_int (double q, double z, double steps, double delta)
{
    double best = INFINITY;
    for (int a = 2; a <= 63; a++) {
        double e = steps * s_rdp_int (q, z, a) - (log (delta) + log ((double) a)) / (a - 1) + log ((a - 1.0) / a);
        best = fmin (best, e);
    }
    return best;
}

static void
test_local_accounting (void)
{
    fl_round_config_t cfg;
    s_config (&cfg, FL_ROUND_DP_RECORD, FL_ROBUST_MEAN, 4);
    cfg.dp_noise_multiplier = 1.1;
    cfg.dp_epsilon = 0;
    cfg.dp_steps = 3;
    cfg.batch_size = 8;
    sim_t s;
    size_t n_train[N_CLIENTS];
    s_setup_ex (&s, &cfg, NULL, NULL, NULL, n_train);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    double n_mean = 0;
    for (int i = 0; i < N_CLIENTS; i++)
        n_mean += (double) n_train[i] / N_CLIENTS;
    double q = 8.0 / n_mean;
    FL_CHECK_CLOSE (fl_round_dp_sample_rate (s.round), q, 0, 1e-12);      /* per step, not per round */
    double eps = fl_round_dp_epsilon (s.round);
    double want = s_eps_int (q, 1.1, 4.0 * 3, 1e-5);                       /* K = 3 steps x R = 4 rounds */
    double one_per_round = s_eps_int (q, 1.1, 4.0, 1e-5);
    double union_rate = s_eps_int (1 - pow (1 - q, 3), 1.1, 4.0, 1e-5);
    if (fl_test_verbose_)
        printf ("  q %.5f: epsilon %.5f, independent (integer orders) %.5f; 1 step per round %.4f, the central "
                "mechanism's rate %.4f\n", q, eps, want, one_per_round, union_rate);
    /* the library also searches fractional orders, so it may be a little
       lower than the integer-order value, never higher */
    FL_CHECK (eps <= want + 1e-9);
    FL_CHECK (eps >= want * 0.97);
    FL_CHECK (fabs (eps - one_per_round) > 0.1 * eps);
    char g[2048];
    fl_round_dp_guarantee (s.round, g, sizeof g);
    FL_CHECK (strstr (g, "3 step(s) per round") != NULL);
    FL_CHECK (strstr (g, "before masking") != NULL);
    FL_CHECK (strstr (g, "does not rely on the coordinator") != NULL);
    s_teardown (&s);
}

/*  A malicious coordinator announces weaker settings than the members'
    policy: less noise, a larger rate, more steps, the central mechanism
    (noise it would add itself), no DP at all; every member refuses before
    training (it sends nothing: the round gets no update), and trains when
    the announcement meets its policy, until its own budget would be
    exceeded. */
static uint64_t
s_policy_run (const fl_round_config_t *cfg, const fl_client_dp_policy_t *pol)
{
    sim_t s;
    s_setup_ex (&s, cfg, pol, NULL, NULL, NULL);
    s_pump (&s);
    uint64_t trained = 0;
    for (int i = 0; i < N_CLIENTS; i++)
        trained += fl_client_rounds_trained (s.clients[i]);
    s_teardown (&s);
    return trained;
}

static void
test_member_policy_refuses (void)
{
    fl_client_dp_policy_t pol = {.min_noise = 1.0, .max_rate = 0.3, .max_steps = 5, .epsilon = 0, .delta = 0};
    fl_round_config_t ok;
    s_config (&ok, FL_ROUND_DP_RECORD, FL_ROBUST_MEAN, 2);
    ok.dp_noise_multiplier = 1.5;
    ok.dp_epsilon = 0;
    ok.dp_steps = 5;
    ok.batch_size = 8;                     /* q = 8 / ~71 = 0.11 */
    FL_CHECK (s_policy_run (&ok, &pol) == 2 * N_CLIENTS);
    fl_round_config_t c = ok;
    c.dp_noise_multiplier = 0.5;           /* less noise than the policy's */
    FL_CHECK (s_policy_run (&c, &pol) == 0);
    c = ok;
    c.batch_size = 40;                     /* q = 0.56 > 0.3 */
    FL_CHECK (s_policy_run (&c, &pol) == 0);
    c = ok;
    c.dp_steps = 6;                        /* more steps than the policy's */
    FL_CHECK (s_policy_run (&c, &pol) == 0);
    c = ok;
    c.dp_record_central = 1;               /* the coordinator would add the noise */
    FL_CHECK (s_policy_run (&c, &pol) == 0);
    c = ok;
    c.dp = 0;                              /* no DP at all */
    c.dp_noise_multiplier = -1;
    FL_CHECK (s_policy_run (&c, &pol) == 0);
    /* the member's own budget: z = 1.5, q ~ 0.11, 5 steps a round gives
       epsilon 1.34 after 1 round and 1.64 after 2 at delta 1e-5 (integer
       orders); a budget of 1.5 lets each member train the first round only,
       however many rounds the coordinator runs */
    size_t n_train[N_CLIENTS];
    sim_t s;
    s_setup_ex (&s, &ok, NULL, NULL, NULL, n_train);
    s_teardown (&s);
    double n_mean = 0;
    for (int i = 0; i < N_CLIENTS; i++)
        n_mean += (double) n_train[i] / N_CLIENTS;
    double e1 = s_eps_int (8.0 / n_mean, 1.5, 5, 1e-5), e2 = s_eps_int (8.0 / n_mean, 1.5, 10, 1e-5);
    if (fl_test_verbose_)
        printf ("  own epsilon after 1 round %.3f, after 2 %.3f\n", e1, e2);
    FL_CHECK (e1 < 1.45 && e2 > 1.55);
    pol.epsilon = 1.5;
    pol.delta = 1e-5;
    c = ok;
    c.rounds = 3;
    FL_CHECK (s_policy_run (&c, &pol) == N_CLIENTS);
    /* an invalid policy is refused at construction */
    fl_client_dp_policy_t bad = pol;
    bad.min_noise = 0;
    fl_dataset_t *tr = NULL, *te = NULL;
    FL_CHECK (round_sim_shard (N_CLIENTS, 0, &tr, &te) == 0);
    fl_client_config_t cc = {.member = "x", .allow_plaintext = 1, .dp_policy = &bad};
    FL_CHECK (fl_client_new (&cc, &tr, &te) == NULL);
    FL_CHECK (tr != NULL && te != NULL);   /* not taken */
    fl_dataset_destroy (&tr);
    fl_dataset_destroy (&te);
}

/*  The local mechanism trains: 10 rounds at epsilon 3 on WDBC reach an
    accuracy far above the majority rate, and a checkpointed spend refuses a
    run of the other record mechanism. */
static void
test_local_trains (void)
{
    fl_round_config_t cfg;
    s_config (&cfg, FL_ROUND_DP_RECORD, FL_ROBUST_MEAN, 10);
    cfg.dp_epsilon = 3;
    cfg.dp_steps = 5;
    cfg.batch_size = 16;
    sim_t s;
    s_setup (&s, &cfg);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    double eps = fl_round_dp_epsilon (s.round), acc = NAN;
    fl_round_summary_t sum;
    while (fl_round_next_summary (s.round, &sum) == 1)
        if (!isnan (sum.eval.accuracy))
            acc = sum.eval.accuracy;
    if (fl_test_verbose_)
        printf ("  epsilon %.4f, final accuracy %.4f\n", eps, acc);
    FL_CHECK (eps <= 3 && eps > 2.9);
    FL_CHECK (acc > 0.85);
    struct fl_checkpoint_t *ck = fl_round_take_checkpoint (s.round);
    FL_CHECK (ck != NULL);
    fl_round_config_t central = cfg;
    central.dp_record_central = 1;
    fl_round_t *r2 = fl_round_new (&central);
    FL_CHECK (r2 && ck && fl_round_restore (r2, ck) != 0);        /* the other record mechanism: refused */
    fl_round_t *r3 = fl_round_new (&cfg);
    FL_CHECK (r3 && ck && fl_round_restore (r3, ck) == 0);
    FL_CHECK_CLOSE (fl_round_dp_epsilon (r3), eps, 0, 1e-15);
    fl_round_destroy (&r2);
    fl_round_destroy (&r3);
    fl_checkpoint_destroy (&ck);
    s_teardown (&s);
}

static void
test_dp_state_roundtrip (void)
{
    fl_round_config_t cfg;
    s_config (&cfg, FL_ROUND_DP_RECORD, FL_ROBUST_MEDIAN, 3);
    cfg.dp_epsilon = 4.0;
    cfg.dp_noise_multiplier = 1.2;
    sim_t s;
    s_setup (&s, &cfg);
    s_pump (&s);
    double st[512];
    size_t n = fl_round_dp_state (s.round, st, 512);
    FL_CHECK (n == FL_ROUND_DP_STATE_HEADER + FL_ACCOUNTANT_STATE_DOUBLES (FL_ACCOUNTANT_DEFAULT_NORDERS));
    FL_CHECK (fl_round_dp_state (s.round, st, 100) == 0);   /* too small */
    double eps = fl_round_dp_epsilon (s.round);
    /* a fresh run restores the spend, then keeps charging it */
    fl_round_t *r2 = fl_round_new (&cfg);
    FL_CHECK (fl_round_dp_restore (r2, st, n) == 0);
    FL_CHECK_CLOSE (fl_round_dp_epsilon (r2), eps, 0, 1e-15);
    FL_CHECK (fl_round_dp_noise_multiplier (r2) == 1.2);
    FL_CHECK (fl_round_dp_sample_rate (r2) == fl_round_dp_sample_rate (s.round));
    /* malformed states are refused, nothing changes */
    double bad[512];
    memcpy (bad, st, n * sizeof (double));
    bad[0] = 3;                                             /* unknown version */
    FL_CHECK (fl_round_dp_restore (r2, bad, n) == -1);
    memcpy (bad, st, n * sizeof (double));
    bad[2] = 1.5;
    FL_CHECK (fl_round_dp_restore (r2, bad, n) == -1);
    memcpy (bad, st, n * sizeof (double));
    bad[1] = -1;
    FL_CHECK (fl_round_dp_restore (r2, bad, n) == -1);
    FL_CHECK (fl_round_dp_restore (r2, st, n - 1) == -1);   /* truncated accountant */
    memcpy (bad, st, n * sizeof (double));
    bad[n - 1] = -0.5;                                      /* negative RDP */
    FL_CHECK (fl_round_dp_restore (r2, bad, n) == -1);
    FL_CHECK_CLOSE (fl_round_dp_epsilon (r2), eps, 0, 1e-15);
    fl_round_destroy (&r2);
    /* after training started: refused */
    FL_CHECK (fl_round_dp_restore (s.round, st, n) == -1);
    s_teardown (&s);
    /* a run without DP has no state */
    fl_round_config_t plain;
    fl_round_config_default (&plain);
    fl_round_t *r3 = fl_round_new (&plain);
    FL_CHECK (fl_round_dp_state (r3, st, 512) == 0);
    FL_CHECK (fl_round_dp_restore (r3, st, n) == -1);
    FL_CHECK (isnan (fl_round_dp_epsilon (r3)));
    fl_round_destroy (&r3);
}

/* A restart cannot reset the budget: a run checkpointed after 2 rounds and
   resumed for 2 more spends exactly what 4 uninterrupted rounds spend. */
static void
test_checkpoint_keeps_privacy_spend (void)
{
    fl_round_config_t cfg;
    s_config (&cfg, FL_ROUND_DP_RECORD, FL_ROBUST_MEAN, 2);
    cfg.dp_noise_multiplier = 1.0;
    sim_t a;
    s_setup (&a, &cfg);
    s_pump (&a);
    FL_CHECK (fl_round_phase (a.round) == FL_ROUND_DONE);
    double eps2 = fl_round_dp_epsilon (a.round);
    struct fl_checkpoint_t *ck = fl_round_take_checkpoint (a.round);
    FL_CHECK (ck != NULL && fl_checkpoint_has (ck, FL_CHECKPOINT_KEY_ACCOUNTANT));
    s_teardown (&a);

    cfg.rounds = 4;
    sim_t b;
    memset (&b, 0, sizeof b);
    b.round = fl_round_new (&cfg);
    FL_CHECK (b.round && ck && fl_round_restore (b.round, ck) == 0);
    FL_CHECK_CLOSE (fl_round_dp_epsilon (b.round), eps2, 0, 1e-12);   /* spend restored, not reset */
    fl_checkpoint_destroy (&ck);
    fl_round_destroy (&b.round);
    /* continue: a fresh round restored from the same state, with clients */
    s_config (&cfg, FL_ROUND_DP_RECORD, FL_ROBUST_MEAN, 2);
    cfg.dp_noise_multiplier = 1.0;
    s_setup (&a, &cfg);
    s_pump (&a);
    ck = fl_round_take_checkpoint (a.round);
    s_teardown (&a);
    cfg.rounds = 4;
    s_setup (&b, &cfg);
    fl_round_destroy (&b.round);
    b.round = fl_round_new (&cfg);
    FL_CHECK (fl_round_restore (b.round, ck) == 0);
    fl_round_start (b.round, 0);
    for (int i = 0; i < N_CLIENTS; i++)
        fl_client_hello (b.clients[i]);
    s_pump (&b);
    FL_CHECK (fl_round_phase (b.round) == FL_ROUND_DONE && fl_round_current (b.round) == 4);
    double eps_resumed = fl_round_dp_epsilon (b.round);
    fl_checkpoint_destroy (&ck);
    s_teardown (&b);

    sim_t c;
    s_setup (&c, &cfg);
    s_pump (&c);
    double eps_straight = fl_round_dp_epsilon (c.round);
    s_teardown (&c);
    if (fl_test_verbose_)
        printf ("epsilon after 2 rounds %.4f; 2 + 2 resumed %.4f; 4 uninterrupted %.4f\n", eps2, eps_resumed,
                eps_straight);
    FL_CHECK (eps_resumed > eps2);
    FL_CHECK_CLOSE (eps_resumed, eps_straight, 1e-9, 1e-9);
}

static void
test_dp_config_refused (void)
{
    fl_round_config_t cfg;
    s_config (&cfg, FL_ROUND_DP_RECORD, FL_ROBUST_MEAN, 3);
    cfg.dp_epsilon = 1;
    fl_round_t *r = fl_round_new (&cfg);
    FL_CHECK (r != NULL);
    fl_round_destroy (&r);
    cfg.robust = 0;                          /* FedAvg: no fixed denominators */
    cfg.bucket_size = 0;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    s_config (&cfg, FL_ROUND_DP_RECORD, FL_ROBUST_MEAN, 3);
    cfg.dp_epsilon = 0;                      /* neither a budget nor a noise multiplier */
    FL_CHECK (fl_round_new (&cfg) == NULL);
    cfg.dp_epsilon = 1;
    cfg.dp_noise_multiplier = 0;             /* no noise with a budget */
    FL_CHECK (fl_round_new (&cfg) == NULL);
    s_config (&cfg, FL_ROUND_DP_RECORD, FL_ROBUST_MEAN, 3);
    cfg.dp_epsilon = 1;
    cfg.dp_clip = 0;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    cfg.dp_clip = 1;
    cfg.dp_steps = 0;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    cfg.dp_steps = 1;
    cfg.dp_delta = 1;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    cfg.dp_delta = 1e-5;
    cfg.dp = 7;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    /* an unreachable budget fails the run at the first round, with a reason */
    s_config (&cfg, FL_ROUND_DP_CLIENT, FL_ROBUST_MEAN, 3);
    cfg.dp_epsilon = 0.01;                   /* below the conversion's floor */
    sim_t s;
    s_setup (&s, &cfg);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_FAILED);
    FL_CHECK (strstr (fl_round_failure (s.round), "noise multiplier") != NULL);
    s_teardown (&s);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    zsys_init ();
    zsys_set_logstream (fl_test_verbose_ ? stderr : NULL);
    FL_RUN (test_sensitivity_values);
    FL_RUN (test_sensitivity_holds);
    FL_RUN (test_noise_grid);
    FL_RUN (test_record_clipping_bounds_influence);
    FL_RUN (test_budget_stops_training);
    FL_RUN (test_calibrated_budget);
    FL_RUN (test_noise_is_added);
    FL_RUN (test_dp_state_roundtrip);
    FL_RUN (test_checkpoint_keeps_privacy_spend);
    FL_RUN (test_dp_config_refused);
    FL_RUN (test_local_noise_per_step);
    FL_RUN (test_local_accounting);
    FL_RUN (test_member_policy_refuses);
    FL_RUN (test_local_trains);
    FL_TEST_DONE ();
}
