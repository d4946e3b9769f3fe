/*  test_round_distdp.c - distributed differential privacy (each client adds
    its share of discrete Gaussian noise before masking; Kairouz, Liu,
    Steinke 2021) through the coordinator's round state machine and real
    secure clients in one process (the harness of test_round_secure.c), plus
    the calibration functions it rests on:

    - test_calibration: fl_dp_dist_calibrate gives sigma_i^2 t >= sigma^2,
      headroom for FL_DP_DIST_TAIL standard deviations of a full bucket's
      noise, sigma_i >= the floor; fl_dp_dist_check accepts exactly that and
      refuses a smaller sigma_i, NaN, no headroom, noise without z; the
      sum-of-discrete-Gaussians slack is negligible at the floor;
    - test_sum_variance: n clients' shares summed modulo 2^32 (as secure
      aggregation does) have variance n sigma_i^2 (fixed seeds);
    - test_zero_noise_equals_secure_sum: noise multiplier 0 in distributed
      mode gives the non-DP secure run's model (up to the encoding);
    - test_round_noise_matches_clients: one round with z > 0 moves the model
      away from the z = 0 run by exactly the clients' noise (variance
      survivors sigma_i^2 / (scale n)^2, computed here independently): the
      coordinator adds none of its own (it would double the variance);
    - test_dropout_keeps_noise: with only t members surviving, the sum still
      carries at least sigma^2 of noise;
    - test_refusals: distributed mode in plaintext is refused by fl_round_new;
      a client refuses a TRAIN whose sigma_i is too small, negative or out of
      range (the others finish the round without it); the guarantee sentence
      says who adds the noise;
    - test_checkpoint_roundtrip: the spend survives a checkpoint, and a
      checkpoint of one mode is refused by a run in the other. */
#include <czmq.h>
#include <math.h>
#include <sodium.h>

#include "fl_checkpoint.h"
#include "fl_client.h"
#include "fl_dp.h"
#include "fl_roster.h"
#include "fl_round.h"
#include "fl_secagg.h"
#include "fl_shard.h"
#include "fl_test.h"
#include "round_sim.h"
#include "fl_wire.h"

#define N 8

typedef struct {
    fl_round_t *round;
    fl_client_t *clients[N];
    uint8_t ids[N][8];
    uint8_t *sks[N];
    fl_roster_t *roster;
    int64_t now;
    double sigma_factor;           /* != 0: client 0's TRAIN gets dp_sigma_i times this */
    int mute;                      /* clients [N - mute, N) never receive anything (dropped) */
} sim_t;

/* ---- calibration ---------------------------------------------------------- */

static void
test_calibration (void)
{
    const double zs[] = {0.5, 1.0, 3.0, 0.001};
    const uint32_t ns[] = {3, 8, 40};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 3; b++) {
            uint32_t n = ns[b], t = n - n / 4;
            fl_quant_encoding_t e;
            double si = 0, C = 1.0, d = 529;
            FL_CHECK (fl_dp_dist_calibrate (zs[a], C, (size_t) d, n, t, 1.0, &e, &si) == 0);
            double sigma = zs[a] * (C * e.scale + 2 * sqrt (d));
            FL_CHECK (si * si * t >= sigma * sigma);                      /* t survivors carry sigma^2 */
            FL_CHECK (si >= FL_DP_DIST_SIGMA_FLOOR);
            FL_CHECK (si <= fmax (FL_DP_DIST_SIGMA_FLOOR, sigma / sqrt ((double) t)) * (1 + 1e-12));
            double Q = ceil (e.max_abs * e.scale);
            FL_CHECK (e.max_summands > n);
            FL_CHECK ((double) (e.max_summands - n) * Q >= FL_DP_DIST_TAIL * sqrt ((double) n) * si);
            FL_CHECK ((double) e.max_summands * Q <= 2147483647.0);         /* the sum cannot wrap */
            char why[160];
            FL_CHECK (fl_dp_dist_check (zs[a], C, (size_t) d, n, t, 1.0, e.max_summands, si, NULL, why, sizeof why) == 0);
            if (zs[a] >= 0.5) {      /* the floor is not binding: 1% less noise is refused */
                FL_CHECK (fl_dp_dist_check (zs[a], C, (size_t) d, n, t, 1.0, e.max_summands, si * 0.99, NULL, why,
                                            sizeof why) == -1);
                FL_CHECK (strstr (why, "too small") != NULL);
            }
            FL_CHECK (fl_dp_dist_check (zs[a], C, (size_t) d, n, t, 1.0, n, si, NULL, why, sizeof why) == -1);
            FL_CHECK (fl_dp_dist_check (zs[a], C, (size_t) d, n, t, 1.0, e.max_summands, NAN, NULL, why,
                                        sizeof why) == -1);
            FL_CHECK (fl_dp_dist_check (zs[a], C, (size_t) d, n, t, 1.0, e.max_summands, 2.0, NULL, why,
                                        sizeof why) == -1);                 /* below the floor */
            FL_CHECK (fl_dp_dist_check (zs[a], C, (size_t) d, n, t, 1.0, n - 1, si, NULL, why, sizeof why) == -1);
            FL_CHECK (fl_dp_dist_check (zs[a], 2.0, (size_t) d, n, t, 1.0, e.max_summands, si, NULL, why,
                                        sizeof why) == -1);                 /* sensitivity above the clamp */
        }
    /* z = 0: no noise, the plain encoding; noise without z is refused */
    fl_quant_encoding_t e, plain;
    double si = -1;
    FL_CHECK (fl_dp_dist_calibrate (0, 1.0, 10, 5, 4, 1.0, &e, &si) == 0 && si == 0);
    FL_CHECK (fl_quant_encoding_init (&plain, 1.0, 5) == 0 && e.scale == plain.scale && e.max_summands == 5);
    FL_CHECK (fl_dp_dist_check (0, 1.0, 10, 5, 4, 1.0, 5, 0, NULL, NULL, 0) == 0);
    FL_CHECK (fl_dp_dist_check (0, 1.0, 10, 5, 4, 1.0, 5, 8.0, NULL, NULL, 0) == -1);
    /* refusals */
    FL_CHECK (fl_dp_dist_calibrate (1, 1.0, 10, 5, 6, 1.0, &e, &si) == -1);       /* t > n */
    FL_CHECK (fl_dp_dist_calibrate (1, 1.0, 10, 5, 0, 1.0, &e, &si) == -1);
    FL_CHECK (fl_dp_dist_calibrate (NAN, 1.0, 10, 5, 4, 1.0, &e, &si) == -1);
    FL_CHECK (fl_dp_dist_calibrate (1, 0, 10, 5, 4, 1.0, &e, &si) == -1);
    FL_CHECK (fl_dp_dist_calibrate (2e6, 1.0, 10, 5, 4, 1.0, &e, &si) == -1);     /* above the accountant's range */
    /* a huge z still fits: the grid gets coarser (scale >= 1), sigma_i stays in the sampler's range */
    FL_CHECK (fl_dp_dist_calibrate (1e5, 1.0, 10, 5, 4, 1.0, &e, &si) == 0);
    FL_CHECK (e.scale >= 1 && si <= FL_DP_SIGMA_MAX && (double) (e.max_summands - 5) * ceil (e.scale) >= 12 * sqrt (5.0) * si);
    /* the slack of KLS 2021 Theorem 1: negligible at the floor, for the largest bucket and model */
    double tau = fl_dp_dist_slack (FL_DP_DIST_SIGMA_FLOOR, 65535, (size_t) 1 << 25);
    if (fl_test_verbose_)
        printf ("  slack tau d at sigma_i = %g, c = 65535, d = 2^25: %.3g\n", FL_DP_DIST_SIGMA_FLOOR, tau);
    FL_CHECK (tau >= 0 && tau < 1e-54);
    FL_CHECK (fl_dp_dist_slack (4, 1, 100) == 0);
    FL_CHECK (fl_dp_dist_slack (1, 2, 1) > 0);
    FL_CHECK (isnan (fl_dp_dist_slack (0.4, 3, 1)));
}

/* n shares summed modulo 2^32: variance n sigma_i^2, mean 0 */
static void
test_sum_variance (void)
{
    const size_t m = 20000;
    const uint32_t n = 7;
    const double si = 37.5;
    uint32_t *sum = (uint32_t *) calloc (m, sizeof (uint32_t));
    uint32_t *x = (uint32_t *) calloc (m, sizeof (uint32_t));
    for (uint32_t c = 0; c < n; c++) {
        fl_rng_t *rng = fl_rng_new_u64 (100 + c, 9);
        for (size_t i = 0; i < m; i++)
            x[i] = 1000u * c;                         /* an encoded signal, removed below */
        FL_CHECK (fl_dp_discrete_gaussian_add_u32 (rng, si, x, m) == 0);
        for (size_t i = 0; i < m; i++)
            sum[i] += x[i];
        fl_rng_destroy (&rng);
    }
    double mean = 0, var = 0, signal = 1000.0 * n * (n - 1) / 2;
    for (size_t i = 0; i < m; i++) {
        double v = (double) (int32_t) sum[i] - signal;
        mean += v;
        var += v * v;
    }
    mean /= (double) m;
    var /= (double) m;
    double want = n * si * si;
    if (fl_test_verbose_)
        printf ("  %u shares of sigma_i %g: variance %.1f, expected %.1f (mean %.2f)\n", n, si, var, want, mean);
    FL_CHECK_CLOSE (mean, 0, 5 * sqrt (want / (double) m), 0);
    FL_CHECK_CLOSE (var, want, 0, 0.05);             /* relative standard error sqrt(2 / m) = 1% */
    free (sum);
    free (x);
}

/* ---- through the round ------------------------------------------------------ */

/* TRAIN for client 0 with dp_sigma_i multiplied (a coordinator that asks for
   less noise than the calibration requires). */
static void
s_tamper (const sim_t *s, uint8_t **data, size_t *len)
{
    char why[128];
    fl_wire_limits_t lim = fl_wire_limits_default ();
    fl_wire_msg_t *m = fl_wire_decode (*data, *len, &lim, why, sizeof why);
    if (!m || fl_wire_type (m) != FL_WIRE_TRAIN) {
        fl_wire_msg_destroy (&m);
        return;
    }
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_TRAIN, fl_wire_run_id (m), fl_wire_round (m));
    const float *params;
    size_t np;
    fl_wire_get_f32s (m, FL_K_PARAMS, &params, &np);
    fl_wire_put_f32s (w, FL_K_PARAMS, params, np);
    const uint8_t *b;
    size_t bl;
    fl_wire_get_bin (m, FL_K_FP, &b, &bl);
    fl_wire_put_bin (w, FL_K_FP, b, bl);
    static const char *u64s[] = {"epochs", "batch", "seed", "cap", "sa_bucket", "sa_index", "sa_n", "sa_t",
                                 "sa_k", "sa_graph", "sa_buckets", "enc_summands", "dp_unit", "dp_steps"};
    for (size_t i = 0; i < sizeof u64s / sizeof u64s[0]; i++) {
        uint64_t v;
        if (fl_wire_get_u64 (m, u64s[i], &v) == 0)
            fl_wire_put_u64 (w, u64s[i], v);
    }
    static const char *f64s[] = {"lr", "clip", "enc_max_abs", "dp_clip", "dp_q", "dp_z", "dp_sigma_i"};
    for (size_t i = 0; i < sizeof f64s / sizeof f64s[0]; i++) {
        double v;
        if (fl_wire_get_f64 (m, f64s[i], &v) == 0)
            fl_wire_put_f64 (w, f64s[i], strcmp (f64s[i], "dp_sigma_i") == 0 ? v * s->sigma_factor : v);
    }
    fl_wire_put_str (w, FL_K_OPT, fl_wire_get_cstr (m, FL_K_OPT));
    size_t nm = fl_wire_bin_list_len (m, FL_K_SA_MEMBERS);
    const uint8_t *items[N];
    size_t lens[N];
    for (size_t i = 0; i < nm && i < N; i++)
        fl_wire_get_bin_list_item (m, FL_K_SA_MEMBERS, i, &items[i], &lens[i]);
    fl_wire_put_bin_list (w, FL_K_SA_MEMBERS, items, lens, nm);
    const uint32_t *cohort;
    size_t cn;
    if (fl_wire_get_u32s (m, FL_K_SA_COHORT, &cohort, &cn) == 0)
        fl_wire_put_u32s (w, FL_K_SA_COHORT, cohort, cn);
    free (*data);
    FL_CHECK (fl_wire_writer_finish (&w, data, len) == 0);
    fl_wire_msg_destroy (&m);
}

/* Client 0 may get a TRAIN with a changed sigma_i; muted clients vanish
   once training starts. */
static void
s_to_client (void *ctx, size_t i, uint8_t **data, size_t *len)
{
    sim_t *s = (sim_t *) ctx;
    if (i == 0 && s->sigma_factor != 0)
        s_tamper (s, data, len);
    if ((int) i >= N - s->mute && fl_round_phase (s->round) == FL_ROUND_TRAIN)
        return;
    fl_client_on_message (s->clients[i], *data, *len);
}

static void
s_pump (sim_t *s)
{
    round_sim_t r = {.round = s->round, .clients = s->clients, .ids = s->ids, .n = N, .now = &s->now,
                     .max_passes = 100000, .advance_when_idle = 1, .ctx = s, .to_client = s_to_client};
    round_sim_pump (&r);
}

/* Client-level DP over one bucket of N secure members, mean rule. */
static void
s_config (fl_round_config_t *cfg, double z, int distributed)
{
    fl_round_config_default (cfg);
    cfg->min_clients = N;
    cfg->rounds = 1;
    cfg->client_lr = 0.5;
    cfg->batch_size = 16;
    cfg->secure = 1;
    cfg->clip_norm = 1.0;
    cfg->bucket_size = N;                 /* the cohort is one bucket */
    snprintf (cfg->model, sizeof cfg->model, "mlp");
    snprintf (cfg->hidden, sizeof cfg->hidden, "16");
    cfg->robust = 1;
    cfg->robust_kind = FL_ROBUST_MEAN;
    fl_robust_params_defaults (&cfg->robust_params);
    cfg->dp = FL_ROUND_DP_CLIENT;
    cfg->dp_delta = 1e-5;
    cfg->dp_noise_multiplier = z;
    cfg->dp_epsilon = 0;
    cfg->dp_distributed = distributed;
    memcpy (cfg->run_id, "distdp-test-run1", 16);
}

static void
s_setup (sim_t *s, fl_round_config_t *cfg)
{
    memset (s, 0, sizeof *s);
    s->roster = round_sim_roster (N, s->sks);
    cfg->roster = s->roster;
    s->round = fl_round_new (cfg);
    FL_CHECK (s->round != NULL);
    if (!s->round)
        return;
    fl_round_start (s->round, 0);
    for (int i = 0; i < N; i++) {
        fl_dataset_t *tr = NULL, *te = NULL;
        FL_CHECK (round_sim_shard (N, (size_t) i, &tr, &te) == 0);
        char name[32];
        snprintf (name, sizeof name, "hospital-%d", i);
        fl_client_config_t ccfg = {.member = name, .seed = (uint64_t) i, .roster = s->roster,
                                   .identity_secret = s->sks[i]};
        s->clients[i] = fl_client_new (&ccfg, &tr, &te);
        round_sim_id (s->ids[i], (size_t) i);
        fl_client_hello (s->clients[i]);
    }
}

static void
s_teardown (sim_t *s)
{
    for (int i = 0; i < N; i++) {
        fl_client_destroy (&s->clients[i]);
        sodium_free (s->sks[i]);
    }
    fl_round_destroy (&s->round);
    fl_roster_destroy (&s->roster);
}

/* One round: the global model after it, its summary, the reported noise. */
static void
s_run (fl_round_config_t *cfg, int mute, float *out, size_t *np, fl_round_summary_t *sum, double *sigma)
{
    sim_t s;
    s_setup (&s, cfg);
    s.mute = mute;
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    *np = fl_round_num_params (s.round);
    memcpy (out, fl_round_params (s.round), *np * sizeof (float));
    FL_CHECK (fl_round_next_summary (s.round, sum) == 1);
    double sens;
    fl_round_dp_last_noise (s.round, &sens, sigma);
    s_teardown (&s);
}

static void
test_zero_noise_equals_secure_sum (void)
{
    static float a[1024], b[1024];
    size_t na, nb;
    fl_round_summary_t sa, sb;
    double ga, gb;
    fl_round_config_t cfg;
    s_config (&cfg, 0, 1);
    s_run (&cfg, 0, a, &na, &sa, &ga);
    s_config (&cfg, 0, 0);
    cfg.dp = FL_ROUND_DP_OFF;            /* the plain secure sum, mean over the bucket */
    cfg.dp_distributed = 0;
    s_run (&cfg, 0, b, &nb, &sb, &gb);
    FL_CHECK (na == nb && na == 30 * 16 + 16 + 16 + 1);
    FL_CHECK (!sa.skipped && !sb.skipped && sa.updates == N && sb.updates == N);
    FL_CHECK (ga == 0);
    double maxdiff = 0;
    for (size_t i = 0; i < na; i++)
        maxdiff = fmax (maxdiff, fabs ((double) a[i] - b[i]));
    if (fl_test_verbose_)
        printf ("  distributed z = 0 vs non-DP secure: max parameter difference %.3g\n", maxdiff);
    FL_CHECK (maxdiff < 1e-5);           /* both are the exact secure sum, up to the stochastic rounding */
}

/* The noise a bucket of n members with threshold t carries, per
   coordinate of the bucket mean, computed here from the calibration. */
static double
s_expected_sd (double z, uint32_t n, uint32_t survivors, size_t np)
{
    uint32_t k, t;
    FL_CHECK (fl_secagg_params_choose (n, 0.15, 0.25, &k, &t) == 0);
    uint32_t c = (uint32_t) ceil (0.15 * n - 1e-9);
    fl_quant_encoding_t e;
    double si;
    FL_CHECK (fl_dp_dist_calibrate (z, 1.0, np, n, t - c, 1.0, &e, &si) == 0);
    double sigma = z * (e.scale + 2 * sqrt ((double) np));
    FL_CHECK (si * si * (t - c) >= sigma * sigma);
    FL_CHECK (survivors >= t);
    return sqrt ((double) survivors) * si / e.scale / n;
}

static void
test_round_noise_matches_clients (void)
{
    static float a[1024], c[1024];
    size_t na, nc;
    fl_round_summary_t sa, sc;
    double ga, gc;
    const double z = 2.0;
    fl_round_config_t cfg;
    s_config (&cfg, 0, 1);
    s_run (&cfg, 0, a, &na, &sa, &ga);
    s_config (&cfg, z, 1);
    s_run (&cfg, 0, c, &nc, &sc, &gc);
    FL_CHECK (na == nc && !sc.skipped && sc.updates == N);
    double ss = 0;
    for (size_t i = 0; i < na; i++)
        ss += ((double) c[i] - a[i]) * ((double) c[i] - a[i]);
    double rms = sqrt (ss / (double) na), want = s_expected_sd (z, N, N, na);
    if (fl_test_verbose_)
        printf ("  z %g: rms parameter change %.4f, clients' noise alone %.4f (reported sigma / n %.4f)\n", z, rms,
                want, gc / N);
    /* 529 coordinates: the rms has a relative standard error of ~3%; a
       coordinator adding its own noise on top would give sqrt(2) (or more) */
    FL_CHECK_CLOSE (rms, want, 0, 0.15);
    FL_CHECK_CLOSE (gc / N, want, 0, 1e-9);         /* the reported sigma is the clients' noise */
    FL_CHECK (gc >= z * 1.0);                        /* at least z times the bucket-sum sensitivity */
}

static void
test_dropout_keeps_noise (void)
{
    uint32_t k, t;
    FL_CHECK (fl_secagg_params_choose (N, 0.15, 0.25, &k, &t) == 0);
    int mute = (int) (N - t);                        /* the worst case: only t survive */
    FL_CHECK (mute >= 1);
    static float a[1024], c[1024];
    size_t na, nc;
    fl_round_summary_t sa, sc;
    double ga, gc;
    const double z = 2.0;
    fl_round_config_t cfg;
    s_config (&cfg, 0, 1);
    s_run (&cfg, mute, a, &na, &sa, &ga);
    s_config (&cfg, z, 1);
    s_run (&cfg, mute, c, &nc, &sc, &gc);
    FL_CHECK (!sc.skipped && sc.updates == t && sa.updates == t);
    double ss = 0;
    for (size_t i = 0; i < na; i++)
        ss += ((double) c[i] - a[i]) * ((double) c[i] - a[i]);
    double rms = sqrt (ss / (double) na), want = s_expected_sd (z, N, t, na);
    /* sigma itself, per coordinate of the mean (planned denominator N) */
    fl_quant_encoding_t e;
    double si;
    uint32_t cc = (uint32_t) ceil (0.15 * N - 1e-9);
    FL_CHECK (fl_dp_dist_calibrate (z, 1.0, na, N, t - cc, 1.0, &e, &si) == 0);
    double sigma_mean = z * (e.scale + 2 * sqrt ((double) na)) / e.scale / N;
    if (fl_test_verbose_)
        printf ("  %d of %d dropped (t = %u): rms change %.4f, survivors' noise %.4f, required sigma %.4f\n", mute,
                N, t, rms, want, sigma_mean);
    FL_CHECK_CLOSE (rms, want, 0, 0.15);
    FL_CHECK (want >= sigma_mean);
    FL_CHECK (rms >= 0.85 * sigma_mean);
}

static void
test_refusals (void)
{
    fl_round_config_t cfg;
    s_config (&cfg, 1.0, 1);
    cfg.secure = 0;                                  /* plaintext: refused */
    FL_CHECK (fl_round_new (&cfg) == NULL);
    s_config (&cfg, 1.0, 1);
    cfg.dp = FL_ROUND_DP_OFF;                        /* distributed noise without DP */
    FL_CHECK (fl_round_new (&cfg) == NULL);
    s_config (&cfg, 1.0, 1);
    cfg.dp_adaptive_clip = 1;                        /* with adaptive clipping: refused (the count would carry no client noise) */
    cfg.dp_target_quantile = 0.5;
    cfg.dp_clip_lr = 0.2;
    cfg.dp_count_noise = -1;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    /* a coordinator asking client 0 for half the calibrated noise: it
       refuses before training; the others complete without it */
    s_config (&cfg, 1.0, 1);
    sim_t s;
    s_setup (&s, &cfg);
    s.sigma_factor = 0.5;
    s_pump (&s);
    fl_round_summary_t sum;
    FL_CHECK (fl_round_next_summary (s.round, &sum) == 1);
    FL_CHECK (fl_client_rounds_trained (s.clients[0]) == 0);
    FL_CHECK (sum.updates == N - 1 && !sum.skipped);
    for (int i = 1; i < N; i++)
        FL_CHECK (fl_client_secure_rounds (s.clients[i]) == 1);
    char g[2048];
    fl_round_dp_guarantee (s.round, g, sizeof g);
    FL_CHECK (strstr (g, "clients add the noise themselves before masking") != NULL);
    FL_CHECK (strstr (g, "never sees an un-noised sum") != NULL);
    FL_CHECK (strstr (g, "at most the assumed fraction (0.15)") != NULL);
    FL_CHECK (g[strlen (g) - 1] == '.');             /* not truncated */
    s_teardown (&s);
    /* a negative or absurdly large sigma_i is refused too (NaN cannot
       travel: the wire codec refuses non-finite floats) */
    const double bad[] = {-1.0, 1e12};
    for (size_t i = 0; i < 2; i++) {
        s_setup (&s, &cfg);
        s.sigma_factor = bad[i];
        s_pump (&s);
        FL_CHECK (fl_client_rounds_trained (s.clients[0]) == 0);
        FL_CHECK (fl_client_rounds_trained (s.clients[1]) == 1);
        s_teardown (&s);
    }
}

static void
test_checkpoint_roundtrip (void)
{
    fl_round_config_t cfg;
    s_config (&cfg, 1.0, 1);
    cfg.rounds = 2;
    sim_t s;
    s_setup (&s, &cfg);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE && fl_round_current (s.round) == 2);
    double eps = fl_round_dp_epsilon (s.round);
    FL_CHECK (eps > 0 && isfinite (eps));
    struct fl_checkpoint_t *ck0 = fl_round_take_checkpoint (s.round);
    FL_CHECK (ck0 != NULL);
    /* through the on-disk encoding */
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[256];
    FL_CHECK (fl_checkpoint_encode (ck0, &buf, &len) == 0);
    struct fl_checkpoint_t *ck = fl_checkpoint_decode (buf, len, why, sizeof why);
    FL_CHECK (ck != NULL);
    free (buf);
    fl_checkpoint_destroy (&ck0);
    /* the same mode resumes with the spend */
    cfg.rounds = 4;
    fl_round_t *r = fl_round_new (&cfg);
    FL_CHECK (r && fl_round_restore (r, ck) == 0);
    FL_CHECK_CLOSE (fl_round_dp_epsilon (r), eps, 0, 1e-12);
    fl_round_destroy (&r);
    /* central noise cannot resume a distributed run */
    cfg.dp_distributed = 0;
    r = fl_round_new (&cfg);
    FL_CHECK (r && fl_round_restore (r, ck) == -1);
    fl_round_destroy (&r);
    fl_checkpoint_destroy (&ck);
    s_teardown (&s);
    /* nor the other way round */
    s_config (&cfg, 1.0, 0);
    s_setup (&s, &cfg);
    s_pump (&s);
    ck = fl_round_take_checkpoint (s.round);
    FL_CHECK (ck != NULL);
    cfg.dp_distributed = 1;
    r = fl_round_new (&cfg);
    FL_CHECK (r && fl_round_restore (r, ck) == -1);
    fl_round_destroy (&r);
    fl_checkpoint_destroy (&ck);
    s_teardown (&s);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    zsys_init ();
    zsys_set_logstream (fl_test_verbose_ ? stderr : NULL);
    FL_RUN (test_calibration);
    FL_RUN (test_sum_variance);
    FL_RUN (test_zero_noise_equals_secure_sum);
    FL_RUN (test_round_noise_matches_clients);
    FL_RUN (test_dropout_keeps_noise);
    FL_RUN (test_refusals);
    FL_RUN (test_checkpoint_roundtrip);
    FL_TEST_DONE ();
}
