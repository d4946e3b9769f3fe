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

/* A plaintext consortium over WDBC (iid) with the given DP settings. */
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
    FL_TEST_DONE ();
}
