/*  fl_privacy.c - the coordinator's differential privacy (see fl_privacy.h
    for where it sits in a round and its invariants; docs/PRIVACY.md for
    the analysis).

    Distributed mode (distributed, secure only): fl_privacy_bucket_encoding
    calibrates each bucket's per-client noise sigma_i and the encoding's
    headroom (fl_dp_dist_calibrate), fl_privacy_put_train announces them,
    the clients add the noise before masking, and fl_privacy_release only
    checks that every bucket sum used carried at least sigma^2 and adds
    nothing.
*/
#include "fl_privacy.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_accountant.h"
#include "fl_checkpoint.h"
#include "fl_dp.h"
#include "fl_rng.h"
#include "fl_session.h"
#include "fl_wire.h"

struct fl_privacy_t {
    fl_privacy_config_t cfg;         /* cfg.clip_norm is the current clipping norm (C_t, or record-level M) */
    fl_accountant_t *acc;            /* the spend: one entry per started round */
    fl_rng_t *rng;                   /* noise and Poisson cohorts: fl_rng_new_random (CSPRNG) */
    int fixed;                       /* z, rate, q fixed (first round, or restored) */
    double z;                        /* noise multiplier */
    double rate;                     /* sample rate charged per round */
    double q;                        /* record-level: per-example Poisson rate */
    double batch;                    /* record-level: expected clipped gradients per client and round */
    double round_eps;                /* epsilon after the current round's charge */
    int logged;                      /* the settings were logged */
    double last_sens, last_sigma;    /* the last release's sensitivity and noise (aggregate units) */
    double sigma_b;                  /* adaptive clipping: count noise (NaN until fixed) */
    double z_delta;                  /* adaptive clipping: the update's noise multiplier (NaN until fixed) */
    double last_frac;                /* adaptive clipping: last noisy fraction of unclipped updates */
    /* record-level local DP-SGD (the default record mechanism) */
    double step_sigma;               /* the noise std per coordinate of each local step's gradient sum
                                        (gradient units, z (C + h sqrt d)); NaN until the model size is known */
    double n_mean;                   /* mean announced training-set size */
    size_t n_params;                 /* the model's parameters */
    char warning[320];               /* noise larger than the signal ("" = none) */
};

/*  Record-level with the default mechanism: every member runs K DP-SGD
    steps and noises each one itself (docs/PRIVACY.md "Record-level"). */
static int
s_local (const fl_privacy_config_t *c)
{
    return c->unit == FL_PRIVACY_RECORD && !c->record_central;
}

const char *
fl_privacy_config_error (const fl_privacy_config_t *cfg)
{
    if (cfg->unit == 0 && cfg->distributed)
        return "distributed noise needs differential privacy (a record or client unit)";
    if (cfg->unit != FL_PRIVACY_RECORD && cfg->unit != FL_PRIVACY_CLIENT)
        return "differential privacy: the unit must be record or client";
    if (cfg->distributed && !cfg->secure)
        return "distributed differential privacy needs secure aggregation: the clients' noise shares protect "
               "only a masked sum (use secure aggregation, or central noise)";
    if (!cfg->robust)
        return "differential privacy needs fixed denominators: FedAvg's example-weighted mean has none; "
               "use a rule over bucket means (the mean rule gives the unweighted mean)";
    if (!(cfg->delta > 0 && cfg->delta < 1))
        return "differential privacy: delta must be in (0, 1)";
    if (!(cfg->epsilon >= 0) || !isfinite (cfg->epsilon))
        return "differential privacy: the epsilon budget must be a finite number >= 0";
    if (cfg->noise_multiplier < 0 && !(cfg->epsilon > 0))
        return "differential privacy: give an epsilon budget or a noise multiplier";
    if (cfg->noise_multiplier == 0 && cfg->epsilon > 0)
        return "differential privacy: a noise multiplier of 0 (no noise) spends an infinite epsilon, "
               "so it cannot have a budget";
    if (!(cfg->noise_multiplier <= FL_ACCOUNTANT_MAX_SIGMA))
        return "differential privacy: noise multiplier out of range";
    if (cfg->unit == FL_PRIVACY_RECORD
        && (!(cfg->record_clip > 0 && cfg->record_clip <= FL_SESSION_DP_CLIP_MAX) || cfg->steps < 1
            || cfg->steps > FL_SESSION_DP_STEPS_MAX))
        return "record-level differential privacy: per-example clipping norm in (0, 1e4] and 1..1000 local "
               "steps required";
    if (s_local (cfg) && cfg->distributed)
        return "record-level local DP-SGD already has every member noise each of its steps before masking; "
               "distributed noise applies to the central record-level mechanism or to client-level";
    if (cfg->adaptive_clip) {
        if (cfg->distributed)
            return "adaptive clipping with distributed noise is not implemented: the count of unclipped updates "
                   "would need its own noise shares from the clients, and the coordinator would see it un-noised "
                   "(use one or the other)";
        if (cfg->unit != FL_PRIVACY_CLIENT)
            return "adaptive clipping is implemented for client-level differential privacy only: record-level "
                   "clipping happens per example inside each client's local steps, and a count of unclipped "
                   "examples would need its own per-record accounting (docs/PRIVACY.md)";
        if (!(cfg->clip_norm >= FL_DP_ADACLIP_MIN && cfg->clip_norm <= FL_DP_ADACLIP_MAX))
            return "adaptive clipping: the starting clipping norm must be in [1e-6, 1e5]";
        if (!(cfg->target_quantile >= 0 && cfg->target_quantile <= 1))
            return "adaptive clipping: the target quantile must be in [0, 1]";
        if (!(cfg->clip_lr > 0 && cfg->clip_lr <= 10))
            return "adaptive clipping: the clipping-norm learning rate must be in (0, 10]";
        if (!(cfg->count_noise < 0 || cfg->count_noise == 0
              || (cfg->count_noise >= FL_DP_SIGMA_MIN && cfg->count_noise <= 1e6)))
            return "adaptive clipping: the count noise must be 0 or in [2^-10, 1e6] (negative: the default)";
        if (cfg->count_noise == 0 && cfg->noise_multiplier != 0)
            return "adaptive clipping: a count noise of 0 releases the count without noise, so it is allowed "
                   "only with a noise multiplier of 0 (no privacy, for comparisons)";
        if (cfg->count_noise > 0 && cfg->noise_multiplier > 0 && !(2 * cfg->count_noise > cfg->noise_multiplier))
            return "adaptive clipping: the count noise must exceed half the noise multiplier (2 sigma_b > z, "
                   "Andrew et al. 2021, Theorem 1): the count alone would otherwise spend the whole budget";
    }
    return NULL;
}

fl_privacy_t *
fl_privacy_new (const fl_privacy_config_t *cfg)
{
    assert (cfg);
    const char *bad = fl_privacy_config_error (cfg);
    if (bad) {
        zsys_error ("coordinator: invalid configuration: %s", bad);
        return NULL;
    }
    fl_privacy_t *self = (fl_privacy_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->z = self->rate = self->q = NAN;
    self->last_sens = self->last_sigma = NAN;
    self->sigma_b = self->z_delta = self->last_frac = NAN;
    self->step_sigma = NAN;
    self->acc = fl_accountant_new ();
    self->rng = fl_rng_new_random ();
    if (!self->acc || !self->rng) {
        fl_privacy_destroy (&self);
        return NULL;
    }
    return self;
}

void
fl_privacy_destroy (fl_privacy_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_privacy_t *self = *self_p;
    fl_accountant_destroy (&self->acc);
    fl_rng_destroy (&self->rng);
    free (self);
    *self_p = NULL;
}

/*  Adaptive clipping: fixes the count noise sigma_b (the default is the
    paper's: expected cohort size / 20, the cohort expected from the clients
    admitted at the first round) and the update's noise multiplier z_delta
    (Andrew et al. 2021, Theorem 1), once z is known (also after a restore,
    which brings sigma_b back).  Fails when 2 sigma_b <= z. */
static int
s_adaclip_fix (fl_privacy_t *self, size_t admitted, char *why, size_t cap)
{
    const fl_privacy_config_t *c = &self->cfg;
    if (isnan (self->sigma_b))
        self->sigma_b = c->count_noise >= 0 ? c->count_noise : self->rate * (double) admitted / 20.0;
    if (self->z > 0 && !(2 * self->sigma_b > self->z)) {
        snprintf (why, cap, "adaptive clipping: the count noise %.4g is too small for the noise multiplier "
                  "%.4g (need 2 x count noise > z, Andrew et al. 2021, Theorem 1); raise the count noise",
                  self->sigma_b, self->z);
        return -1;
    }
    if (self->sigma_b != 0 && !(2 * self->sigma_b >= FL_DP_SIGMA_MIN && 2 * self->sigma_b <= FL_DP_SIGMA_MAX)) {
        snprintf (why, cap, "adaptive clipping: the count noise is below the sampler's range");
        return -1;
    }
    self->z_delta = fl_dp_adaclip_update_z (self->z, self->sigma_b);
    if (isnan (self->z_delta) || !(self->z_delta <= FL_ACCOUNTANT_MAX_SIGMA)) {
        snprintf (why, cap, "adaptive clipping: no update noise multiplier fits the budget (see the log above)");
        return -1;
    }
    return 0;
}

/*  Fixes the per-example rate q (record-level), the per-round rate charged
    and the noise multiplier, once; and, in every process (also after a
    restore), the record-level contribution bound and expected batch from the
    admitted clients' training-set sizes (public: sent in HELLO). */
static int
s_fix (fl_privacy_t *self, const fl_privacy_population_t *pop, char *why, size_t cap)
{
    const fl_privacy_config_t *c = &self->cfg;
    if (c->unit == FL_PRIVACY_RECORD && pop->with_train == 0) {
        snprintf (why, cap, "record-level differential privacy: no client announced its training-set size");
        return -1;
    }
    if (!self->fixed) {
        if (c->unit == FL_PRIVACY_RECORD) {
            /* Poisson rate with an expected batch of batch_size examples at
               the average client; K batches per round include a record at
               least once with probability 1 - (1 - q)^K */
            double q = fmin (1.0, (double) c->batch_size / (pop->train_sum / (double) pop->with_train));
            self->q = q;
            /* local DP-SGD charges K steps at q per round; the central
               mechanism one step at the rate of "in at least one batch" */
            self->rate = s_local (c) ? q : q >= 1 ? 1.0 : -expm1 ((double) c->steps * log1p (-q));
        }
        else
            self->rate = c->fraction;
        uint64_t per_round = s_local (c) ? c->steps : 1;
        if (c->noise_multiplier >= 0)
            self->z = c->noise_multiplier;
        else if (fl_dp_find_noise_multiplier (c->epsilon, c->delta, self->rate, c->rounds * per_round,
                                              &self->z) != 0) {
            snprintf (why, cap, "differential privacy: no noise multiplier reaches the epsilon budget over the "
                                "planned rounds (see the log above)");
            return -1;
        }
        self->fixed = 1;
    }
    if (c->adaptive_clip && s_adaclip_fix (self, pop->admitted, why, cap) != 0)
        return -1;
    if (s_local (c) && !(self->batch > 0)) {
        /* A member's round update is lr/(q n_c) times the sum of K noisy
           sums of ~Poisson(q n_c) clipped gradients.  Bound it (a projection
           after the noise: post-processing, no privacy cost) where it is
           rarely reached, at b = q n_min, the noise's norm taken at
           sigma (sqrt(d) + 8): this is the clip and the encoding bound of
           secure aggregation in these rounds. */
        self->n_params = pop->n_params ? pop->n_params : 1;
        self->n_mean = pop->train_sum / (double) pop->with_train;
        double step = 0, sigma = 0;
        if (self->z > 0 && fl_dp_noise_grid (self->z, c->record_clip, self->n_params, &step, &sigma) != 0) {
            snprintf (why, cap, "record-level differential privacy: the noise multiplier is outside the sampler's "
                                "range");
            return -1;
        }
        self->step_sigma = sigma;
        double nmin = pop->train_min > 0 ? pop->train_min : pop->train_max;
        double b = fmax (self->q * nmin, 1e-3);
        double M = (double) c->steps * c->client_lr
                   * (c->record_clip * (b + 4 * sqrt (b) + 4) + sigma * (sqrt ((double) self->n_params) + 8)) / b;
        if (!(M < 1e6)) {
            snprintf (why, cap, "record-level differential privacy: the per-member update bound exceeds 1e6 (lower "
                                "the learning rate, the local steps or the noise, or raise the batch size)");
            return -1;
        }
        self->cfg.clip_norm = M;
        self->batch = self->q * self->n_mean;
    }
    else if (c->unit == FL_PRIVACY_RECORD && !(self->batch > 0)) {
        /* A client's contribution is a sum of ~Poisson(K q n) clipped
           gradients: bound it (a projection, so one record still moves it by
           at most K C_rec) at K C_rec (b + 4 sqrt(b) + 4), b = q n_max, which
           the sum rarely reaches; this is the clip and encoding bound
           secure aggregation uses in record-level rounds. */
        double b = self->q * pop->train_max, M = (double) c->steps * c->record_clip * (b + 4 * sqrt (b) + 4);
        if (!(M < 1e6)) {
            snprintf (why, cap, "record-level differential privacy: the per-client contribution bound exceeds 1e6 "
                                "(lower the per-example clipping norm, the batch size or the local steps)");
            return -1;
        }
        self->cfg.clip_norm = M;
        self->batch = (double) c->steps * self->q * pop->train_sum / (double) pop->with_train;
    }
    if (!self->logged++ && s_local (c))
        zsys_info ("coordinator: differential privacy, record-level local DP-SGD: each member takes %u step(s) "
                   "per round, each on a Poisson sample at rate %.4g with per-example clipping %g and noise "
                   "multiplier %.4g added by the member; delta %g, budget %s%.4g; updates bounded at %g",
                   c->steps, self->q, c->record_clip, self->z, c->delta, c->epsilon > 0 ? "epsilon " : "none, ",
                   c->epsilon, self->cfg.clip_norm);
    else if (self->logged == 1)
        zsys_info ("coordinator: differential privacy, %s-level: noise multiplier %.4g, sample rate %.4g per "
                   "round%s, delta %g, budget %s%.4g; contributions bounded at %g",
                   c->unit == FL_PRIVACY_RECORD ? "record" : "client", self->z, self->rate,
                   c->unit == FL_PRIVACY_RECORD ? " (records)" : " (clients)", c->delta,
                   c->epsilon > 0 ? "epsilon " : "none, ", c->epsilon, c->clip_norm);
    if (self->logged == 1 && s_local (c) && self->z > 0) {
        /* noise against signal, from public quantities: per step the noise's
           norm sigma sqrt(d) against the largest the sum of the expected
           q n clipped gradients can be, C q n; over K steps and the m
           members averaged per round the signal adds up K-fold and the
           noise sqrt(K m)-fold */
        double m = (double) pop->with_train, ratio = self->step_sigma * sqrt ((double) self->n_params)
                                                     / (c->record_clip * self->batch * sqrt ((double) c->steps * m));
        if (ratio > 1 && (snprintf (self->warning, sizeof self->warning,
                      "the noise is larger than the signal: per round, the noise's norm (%.3g per step, d = %zu) "
                      "is %.2f times the largest possible clipped-gradient signal over %u step(s) and %.0f members "
                      "(raise the DP-SGD batch size, lower the local steps, or raise the budget)",
                      self->step_sigma * sqrt ((double) self->n_params), self->n_params, ratio, c->steps, m),
                          1))
            zsys_warning ("coordinator: differential privacy: %s", self->warning);
    }
    if (c->adaptive_clip && self->logged == 1)
        zsys_info ("coordinator: adaptive clipping (Andrew et al. 2021): C %g, target quantile %g, rate %g, count "
                   "noise %g; the update's noise multiplier is %.4g so that update and count together are charged "
                   "as noise multiplier %.4g", c->clip_norm, c->target_quantile, c->clip_lr, self->sigma_b,
                   self->z_delta, self->z);
    return 0;
}

int
fl_privacy_before_round (fl_privacy_t *self, const fl_privacy_population_t *pop, uint64_t round, char *why,
                         size_t cap)
{
    assert (self && pop && why && cap);
    why[0] = 0;
    if (s_fix (self, pop, why, cap) != 0)
        return -1;
    uint64_t per_round = s_local (&self->cfg) ? self->cfg.steps : 1;
    double eps = fl_accountant_epsilon_after (self->acc, self->z, self->rate, per_round, self->cfg.delta, NULL);
    if (isnan (eps)) {
        snprintf (why, cap, "differential privacy: the accountant could not evaluate the next round");
        return -1;
    }
    if (self->cfg.epsilon > 0 && eps > self->cfg.epsilon) {
        snprintf (why, cap,
                  "privacy budget reached: round %" PRIu64 " would bring epsilon to %.4g, above the budget %.4g "
                  "(delta %g); training stopped after %" PRIu64 " round(s) at epsilon %.4g",
                  round, eps, self->cfg.epsilon, self->cfg.delta, round - 1,
                  fl_accountant_epsilon (self->acc, self->cfg.delta, NULL));
        return 1;
    }
    if (fl_accountant_add (self->acc, self->z, self->rate, per_round) != 0) {
        snprintf (why, cap, "differential privacy: the accountant refused the round");
        return -1;
    }
    self->round_eps = eps;
    return 0;
}

size_t
fl_privacy_poisson_cohort (fl_privacy_t *self, uint32_t *idx, size_t ready)
{
    size_t k = 0;
    for (size_t j = 0; j < ready; j++)
        if (self->rate >= 1 || fl_rng_double (self->rng) < self->rate)
            idx[k++] = idx[j];
    return k;
}

size_t
fl_privacy_min_cohort (const fl_privacy_t *self)
{
    return self->cfg.bucket_size > 2 ? self->cfg.bucket_size : 2;
}

void
fl_privacy_put_train (const fl_privacy_t *self, fl_wire_writer_t *w, const double *sigma_i)
{
    fl_wire_put_u64 (w, FL_K_DP_UNIT, (uint64_t) self->cfg.unit);
    if (self->cfg.adaptive_clip)
        fl_wire_put_u64 (w, FL_K_DP_ADAPTIVE, 1);   /* append the unclipped indicator (secure: masked) */
    if (self->cfg.unit == FL_PRIVACY_RECORD) {
        fl_wire_put_f64 (w, FL_K_DP_CLIP, self->cfg.record_clip);
        fl_wire_put_f64 (w, FL_K_DP_Q, self->q);
        fl_wire_put_u64 (w, FL_K_DP_STEPS, self->cfg.steps);
        if (s_local (&self->cfg))        /* the member noises each local step itself */
            fl_wire_put_f64 (w, FL_K_DP_LOCAL_Z, self->z);
    }
    if (self->cfg.distributed && sigma_i) {
        fl_wire_put_f64 (w, FL_K_DP_Z, self->z);
        fl_wire_put_f64 (w, FL_K_DP_SIGMA_I, *sigma_i);
    }
}

/*  L2 sensitivity of one bucket's sum to one unit, in the update's units,
    before the encoding's rounding: client-level the clipping norm C,
    record-level K C_rec (one record moves its client's sum of clipped
    per-example gradients by at most C_rec in each of K batches). */
static double
s_unit_sensitivity (const fl_privacy_t *self)
{
    return self->cfg.unit == FL_PRIVACY_RECORD ? (double) self->cfg.steps * self->cfg.record_clip
                                               : self->cfg.clip_norm;
}

/*  The noise must survive the worst case: only t members reach the sum
    (the secure-aggregation threshold), and the coordinator may collude with
    up to ceil(sa_corrupt n) of them, who know (or skip) their own shares.
    So each member adds sigma_i^2 = sigma^2 / (t - c) and any sum that
    unmasks carries at least sigma^2 of honest noise; more survivors only
    add noise.  fl_dp_dist_calibrate also widens the encoding so the noisy
    sum cannot wrap (FL_DP_DIST_TAIL standard deviations of headroom). */
int
fl_privacy_bucket_encoding (const fl_privacy_t *self, uint32_t n, uint32_t t, size_t np, double max_abs,
                            fl_quant_encoding_t *enc, double *sigma_i, uint32_t *honest_t)
{
    *sigma_i = 0;
    *honest_t = 0;
    if (!self->cfg.distributed)
        return fl_quant_encoding_init (enc, max_abs, n);
    uint32_t c = (uint32_t) ceil (self->cfg.sa_corrupt * (double) n - 1e-9);
    if (t <= c) {
        zsys_error ("coordinator: distributed noise: a bucket of %u with threshold %u may hold only colluding "
                    "members (assumed corrupt fraction %g)", n, t, self->cfg.sa_corrupt);
        return -1;
    }
    *honest_t = t - c;
    if (fl_dp_dist_calibrate (self->z, s_unit_sensitivity (self), np, n, *honest_t, max_abs, enc, sigma_i) != 0)
        return -1;
    return 0;
}

/*  Distributed mode: the clients added the noise; check that every bucket
    sum used holds at least sigma^2 = (z Delta)^2 of it (grid units) and
    record what was released.  Adds nothing. */
static int
s_release_distributed (fl_privacy_t *self, const fl_privacy_bucket_t *bk, size_t nb, size_t np, uint64_t round)
{
    double min_sigma = INFINITY, sens = NAN;
    for (size_t b = 0; b < nb; b++) {
        double scale = bk[b].scale;
        double sigma = self->z * (s_unit_sensitivity (self) * scale + 2.0 * sqrt ((double) np));
        if (self->z > 0 && !((double) bk[b].survivors * bk[b].sigma_i * bk[b].sigma_i >= sigma * sigma
                             && bk[b].survivors >= bk[b].honest_t)) {
            zsys_error ("coordinator: round %" PRIu64 " bucket %zu: %u survivor(s) carry less than the calibrated "
                        "noise; nothing released", round, bk[b].bucket, bk[b].survivors);
            return -1;
        }
        min_sigma = fmin (min_sigma, sqrt ((double) bk[b].survivors) * bk[b].sigma_i / scale);
        sens = fmax (isnan (sens) ? 0 : sens, s_unit_sensitivity (self) + 2.0 * sqrt ((double) np) / scale);
    }
    if (isnan (sens))
        return -1;
    self->last_sens = sens;
    self->last_sigma = min_sigma;
    zsys_info ("coordinator: round %" PRIu64 ": %s over noisy bucket sums (distributed noise, none added here): "
               "bucket-sum sensitivity %.4g, smallest noise sigma %.4g; epsilon %.4g at delta %g", round,
               fl_robust_kind_name (self->cfg.robust_kind), sens, min_sigma, self->round_eps, self->cfg.delta);
    return 0;
}

/*  Adaptive clipping, after the update's release (Andrew et al. 2021,
    Algorithm 1): the sum over the usable buckets of the shifted indicators
    b_i - 1/2 (decoded from the masked sums in secure mode: the coordinator
    sees bucket totals only), each bucket's total clamped to what its
    survivors can contribute, [-n/2, n/2] (a client that lies about its
    indicator moves the count by at most 1/2 more than an honest one), plus
    discrete Gaussian noise sigma_b, over the EXPECTED cohort q N (the same
    fixed denominator as the mean rule's release), gives the noisy fraction
    of unclipped updates b; C moves geometrically towards the target
    quantile for the next round.  Only the noisy count is used. */
static int
s_adaclip_release (fl_privacy_t *self, const fl_privacy_bucket_t *bk, size_t nb, size_t np, size_t ready,
                   uint64_t round)
{
    const fl_privacy_config_t *c = &self->cfg;
    double shifted = 0;
    for (size_t b = 0; b < nb; b++) {
        double half = (double) bk[b].survivors / 2.0, v = bk[b].sum[np + 2];
        shifted += isnan (v) ? 0 : v < -half ? -half : v > half ? half : v;
    }
    double expected = self->rate * (double) ready, frac;
    if (fl_dp_adaclip_fraction (self->rng, shifted, self->sigma_b, expected, &frac) != 0)
        return -1;
    double next = fl_dp_adaclip_next (c->clip_norm, frac, c->target_quantile, c->clip_lr);
    if (isnan (next))
        return -1;
    zsys_info ("coordinator: round %" PRIu64 ": adaptive clipping: noisy fraction of unclipped updates %.3f "
               "(target %g); clipping norm %.4g -> %.4g", round, frac, c->target_quantile, c->clip_norm, next);
    self->last_frac = frac;
    self->cfg.clip_norm = next;
    return 0;
}

/*  Record-level local DP-SGD: the members' updates are already noised (each
    local step is a Sampled Gaussian Mechanism), so the aggregate is
    post-processing and nothing is added here.  The aggregate's norm is
    compared with the norm the members' noise alone would give it (each
    member's update carries lr sqrt(K) sigma / (q n) per coordinate, the
    mean over m members 1/sqrt(m) of that): a signal estimate below the
    noise sets the warning. */
static int
s_release_local (fl_privacy_t *self, const fl_privacy_bucket_t *bk, size_t nb, size_t np, uint64_t round,
                 const double *out)
{
    const fl_privacy_config_t *c = &self->cfg;
    double m = 0, n2 = 0;
    for (size_t b = 0; b < nb; b++)
        m += (double) bk[b].survivors;
    for (size_t i = 0; i < np; i++)
        n2 += out[i] * out[i];
    double noise = c->client_lr * sqrt ((double) c->steps) * self->step_sigma * sqrt ((double) np)
                   / (self->batch * sqrt (m > 0 ? m : 1));
    double signal = sqrt (fmax (0, n2 - noise * noise));
    self->last_sens = c->record_clip;
    self->last_sigma = self->step_sigma;
    if (self->z > 0 && signal < noise && !self->warning[0]) {
        snprintf (self->warning, sizeof self->warning,
                  "the noise is larger than the signal: in round %" PRIu64 " the aggregate's norm %.3g is what the "
                  "members' noise alone gives (%.3g expected; signal estimate %.3g); raise the DP-SGD batch "
                  "size or the budget", round, sqrt (n2), noise, signal);
        zsys_warning ("coordinator: differential privacy: %s", self->warning);
    }
    zsys_info ("coordinator: round %" PRIu64 ": %s over %zu bucket(s) of members' noised DP-SGD updates (noise "
               "sigma %.4g per step, added by the members, none here): update norm %.4g, of which noise %.4g "
               "expected; epsilon %.4g at delta %g", round, fl_robust_kind_name (c->robust_kind), nb,
               self->step_sigma, sqrt (n2), noise, self->round_eps, c->delta);
    return 0;
}

/*  One unit changes one bucket's sum by at most delta (client-level C,
    record-level K C_rec, plus the encoding's rounding), each bucket mean
    has the fixed denominator of its planned size (at least s) and norm at
    most the per-client bound; the rule's sensitivity follows
    (docs/PRIVACY.md).  Client-level with the mean rule releases McMahan et
    al.'s fixed-denominator estimator instead: sum of all clipped updates /
    (q N); it does not depend on how the cohort was split into buckets. */
int
fl_privacy_release (fl_privacy_t *self, const fl_privacy_bucket_t *bk, size_t nb, size_t np, size_t ready,
                    uint64_t round, double *out)
{
    const fl_privacy_config_t *c = &self->cfg;
    double s = INFINITY, enc = 0;
    for (size_t b = 0; b < nb; b++) {
        s = fmin (s, (double) bk[b].n);
        if (bk[b].scale > 0)   /* stochastic rounding moves each encoded coordinate by < 1/scale */
            enc = fmax (enc, 2.0 * sqrt ((double) np) / bk[b].scale);
    }
    if (nb == 0)
        return -1;
    if (c->distributed)
        return s_release_distributed (self, bk, nb, np, round);
    if (s_local (c))
        return s_release_local (self, bk, nb, np, round, out);
    double delta = (c->unit == FL_PRIVACY_RECORD ? (double) c->steps * c->record_clip : c->clip_norm) + enc;
    double max_norm = c->clip_norm + enc;
    double sens;
    if (c->unit == FL_PRIVACY_CLIENT && c->robust_kind == FL_ROBUST_MEAN && c->robust_params.M <= 0) {
        double qn = self->rate * (double) ready;
        memset (out, 0, np * sizeof (double));
        for (size_t b = 0; b < nb; b++)
            for (size_t i = 0; i < np; i++)
                out[i] += bk[b].sum[i] / qn;
        sens = delta / qn;
    }
    else
        sens = fl_dp_aggregator_sensitivity (c->robust_kind, &c->robust_params, nb, s, delta, max_norm);
    if (isnan (sens))
        return -1;
    self->last_sens = sens;
    self->last_sigma = 0;
    /* adaptive clipping: the update takes z_delta, the count the rest of z */
    double z = c->adaptive_clip ? self->z_delta : self->z;
    if (z == 0)                          /* no noise: the epsilon = infinity comparison run */
        return c->adaptive_clip ? s_adaclip_release (self, bk, nb, np, ready, round) : 0;
    double step, sigma;
    if (fl_dp_noise_grid (z, sens, np, &step, &sigma) != 0
        || fl_dp_discrete_gaussian_add_f64 (self->rng, sigma, step, out, np) != 0)
        return -1;
    self->last_sigma = sigma;
    if (c->adaptive_clip && s_adaclip_release (self, bk, nb, np, ready, round) != 0)
        return -1;
    zsys_info ("coordinator: round %" PRIu64 ": %s over %zu bucket(s) of >= %g: sensitivity %.4g, noise sigma %.4g "
               "(grid %g); epsilon %.4g at delta %g", round, fl_robust_kind_name (c->robust_kind), nb, s, sens,
               sigma, step, self->round_eps, c->delta);
    return 0;
}

double
fl_privacy_update_scale (const fl_privacy_t *self)
{
    if (self->cfg.unit != FL_PRIVACY_RECORD || s_local (&self->cfg))
        return 1.0;
    return -self->cfg.client_lr / self->batch;
}

size_t
fl_privacy_extra_coords (const fl_privacy_t *self)
{
    return self->cfg.adaptive_clip ? 1 : 0;
}

double
fl_privacy_indicator (const fl_privacy_t *self, double norm)
{
    return norm >= 0 && norm <= self->cfg.clip_norm ? 0.5 : -0.5;
}

double fl_privacy_clip_norm (const fl_privacy_t *self) { return self->cfg.clip_norm; }
const char *fl_privacy_warning (const fl_privacy_t *self) { return self->warning[0] ? self->warning : NULL; }
double fl_privacy_round_epsilon (const fl_privacy_t *self) { return self->round_eps; }
double fl_privacy_noise_multiplier (const fl_privacy_t *self) { return self->z; }
double fl_privacy_sample_rate (const fl_privacy_t *self) { return self->rate; }

double
fl_privacy_epsilon (const fl_privacy_t *self)
{
    return fl_accountant_epsilon (self->acc, self->cfg.delta, NULL);
}

void
fl_privacy_last_noise (const fl_privacy_t *self, double *sensitivity, double *sigma)
{
    if (sensitivity)
        *sensitivity = self->last_sens;
    if (sigma)
        *sigma = self->last_sigma;
}

void
fl_privacy_adaclip (const fl_privacy_t *self, double *sigma_b, double *z_delta, double *last_frac)
{
    int on = self->cfg.adaptive_clip;
    if (sigma_b)
        *sigma_b = on ? self->sigma_b : NAN;
    if (z_delta)
        *z_delta = on ? self->z_delta : NAN;
    if (last_frac)
        *last_frac = on ? self->last_frac : NAN;
}

void
fl_privacy_guarantee (const fl_privacy_t *self, char *buf, size_t cap)
{
    assert (buf && cap);
    buf[0] = 0;
    const fl_privacy_config_t *c = &self->cfg;
    double eps = fl_privacy_epsilon (self);
    int rec = c->unit == FL_PRIVACY_RECORD;
    char e[32];
    if (isinf (eps))
        snprintf (e, sizeof e, "infinity (no noise)");
    else
        snprintf (e, sizeof e, "%.4g", eps);
    char ada[512] = "";
    if (c->adaptive_clip)
        snprintf (ada, sizeof ada,
                  ", with the clipping norm adapted every round by adaptive clipping (Andrew et al. 2021: the count "
                  "of unclipped updates is released with discrete Gaussian noise of standard deviation %.4g and the "
                  "update with noise multiplier %.4g, together charged as the noise multiplier above by their "
                  "Theorem 1, so the clipping norms are covered too)", self->sigma_b, self->z_delta);
    char who[512], steps[64];
    snprintf (steps, sizeof steps, "local step, %u step(s) per round", c->steps);
    if (s_local (c))
        snprintf (who, sizeof who,
                  "that every member clips each example's gradient to %g and adds the discrete Gaussian noise "
                  "(standard deviation %.4g per coordinate of each step's gradient sum) to each of its %u local "
                  "DP-SGD step(s) per round itself, before masking (so the guarantee does not rely on the "
                  "coordinator, which adds nothing and sees only noised updates), that the %s rule and the "
                  "server optimizer only post-process them",
                  c->record_clip, self->step_sigma, c->steps, fl_robust_kind_name (c->robust_kind));
    else if (c->distributed)
        snprintf (who, sizeof who,
                  "that the clients add the noise themselves before masking (distributed discrete Gaussian, "
                  "Kairouz, Liu and Steinke 2021: each bucket sum carries the calibrated noise even if only its "
                  "secure-aggregation threshold of members survive, so the coordinator never sees an un-noised "
                  "sum), that at most the assumed fraction (%g) of the clients collude with the coordinator, "
                  "that the %s rule is applied to the noisy bucket sums",
                  c->sa_corrupt, fl_robust_kind_name (c->robust_kind));
    else
        snprintf (who, sizeof who,
                  "that the coordinator adds the calibrated discrete Gaussian noise to the %s aggregate as it is "
                  "trusted to (no distributed noise)", fl_robust_kind_name (c->robust_kind));
    snprintf (buf, cap,
              "The %" PRIu64 " global model(s) released by this run are (epsilon = %s, delta = %g)-differentially "
              "private with respect to adding or removing %s, assuming %s (accounted sample rate %.4g per %s, "
              "noise multiplier %.4g, RDP accountant)%s, %s, that clients follow the "
              "protocol%s%s, and that only the models are published (logs, metrics and evaluation results are not "
              "covered).",
              fl_accountant_entries (self->acc), e, c->delta,
              rec ? "one training record of any member" : "one member's entire data",
              rec ? "Poisson sampling of each member's records in each of its local batches"
                  : "Poisson sampling of the members into each round's cohort",
              self->rate, s_local (c) ? steps : "round", self->z, ada, who,
              rec || c->robust_kind == FL_ROBUST_MEAN
                  ? ""
                  : ", that the bucket partition is treated as fixed (docs/PRIVACY.md)",
              self->rate < 1 ? ", that the subsampled-Gaussian accounting carries over to discrete noise "
                               "(docs/PRIVACY.md)"
                             : "");
}

size_t
fl_privacy_state (const fl_privacy_t *self, double *out, size_t cap)
{
    if (cap < FL_PRIVACY_STATE_HEADER)
        return 0;
    size_t n = fl_accountant_export (self->acc, out + FL_PRIVACY_STATE_HEADER, cap - FL_PRIVACY_STATE_HEADER);
    if (n == 0)
        return 0;
    out[0] = FL_PRIVACY_STATE_VERSION;
    out[1] = self->fixed ? self->z : NAN;
    out[2] = self->fixed ? self->rate : NAN;
    out[3] = self->fixed ? self->q : NAN;
    out[4] = self->cfg.adaptive_clip ? self->cfg.clip_norm : NAN;   /* the next round's C_t */
    out[5] = self->cfg.adaptive_clip ? self->sigma_b : NAN;
    return FL_PRIVACY_STATE_HEADER + n;
}

int
fl_privacy_restore (fl_privacy_t *self, const double *in, size_t n, char *why, size_t cap)
{
    const char *bad = NULL;
    /* version 1 (before adaptive clipping) has a header of 4 */
    size_t hdr = in && n > 0 && in[0] == 1 ? FL_PRIVACY_STATE_HEADER_V1 : FL_PRIVACY_STATE_HEADER;
    double clip = hdr > 4 && in ? in[4] : NAN, sigma_b = hdr > 5 && in ? in[5] : NAN;
    if (!in || n <= hdr || (in[0] != FL_PRIVACY_STATE_VERSION && in[0] != 1))
        bad = "unknown version or too short";
    else if (!isnan (clip) && !self->cfg.adaptive_clip)
        bad = "it was written by a run with adaptive clipping; resume with adaptive clipping on";
    else if (!isnan (clip) && !(clip >= FL_DP_ADACLIP_MIN && clip <= FL_DP_ADACLIP_MAX))
        bad = "adaptive clipping norm out of range";
    else if (!isnan (sigma_b) && (isnan (clip) || !(sigma_b >= 0 && sigma_b <= 1e6)))
        bad = "count noise out of range";
    else if (!isnan (in[1]) && !(in[1] >= 0 && in[1] <= FL_ACCOUNTANT_MAX_SIGMA))
        bad = "noise multiplier out of range";
    else if (!isnan (in[1]) && (!(in[2] > 0 && in[2] <= 1)
                                || (self->cfg.unit == FL_PRIVACY_RECORD && !(in[3] > 0 && in[3] <= 1))))
        bad = "sample rate out of (0, 1]";
    else if (isnan (in[1]) != isnan (in[2]))
        bad = "noise multiplier and sample rate must be both set or both unset";
    fl_accountant_t *acc = bad ? NULL : fl_accountant_import (in + hdr, n - hdr);
    if (!bad && !acc)
        bad = "the accountant state is malformed";
    if (bad) {
        snprintf (why, cap, "%s", bad);
        return -1;
    }
    fl_accountant_destroy (&self->acc);
    self->acc = acc;
    if (!isnan (in[1])) {
        self->z = in[1];
        self->rate = in[2];
        self->q = in[3];
        self->fixed = 1;
    }
    if (!isnan (clip)) {
        self->cfg.clip_norm = clip;      /* continue from the adapted norm */
        self->sigma_b = sigma_b;         /* NaN: fixed at the first round, as in a fresh run */
        zsys_info ("coordinator: adaptive clipping resumes at clipping norm %g", clip);
    }
    zsys_info ("coordinator: privacy state restored: %" PRIu64 " round(s) spent, epsilon %.4g at delta %g",
               fl_accountant_entries (acc), fl_privacy_epsilon (self), self->cfg.delta);
    return 0;
}

int
fl_privacy_checkpoint_put (const fl_privacy_t *self, fl_checkpoint_t *ck)
{
    double dps[4096];
    size_t n = fl_privacy_state (self, dps, sizeof dps / sizeof dps[0]);
    int rc = n ? fl_checkpoint_put_f64s (ck, FL_CHECKPOINT_KEY_ACCOUNTANT, dps, n) : -1;
    rc |= fl_checkpoint_put_u64 (ck, "dp.distributed", self->cfg.distributed ? 1 : 0);
    if (s_local (&self->cfg))            /* absent: the central record mechanism (or client-level) */
        rc |= fl_checkpoint_put_u64 (ck, "dp.record_local", 1);
    return rc;
}

int
fl_privacy_checkpoint_restore (fl_privacy_t *self, const fl_checkpoint_t *ck, char *why, size_t cap)
{
    const double *dps = NULL;
    size_t n_dps = 0;
    uint64_t v = 0;
    char bad[160];
    if (fl_checkpoint_get_f64s (ck, FL_CHECKPOINT_KEY_ACCOUNTANT, &dps, &n_dps) != 0) {
        snprintf (why, cap, "this run uses differential privacy but the checkpoint holds no privacy spend");
        return -1;
    }
    if ((fl_checkpoint_has (ck, "dp.distributed") && fl_checkpoint_get_u64 (ck, "dp.distributed", &v) != 0)
        || (v != 0) != (self->cfg.distributed != 0)) {
        snprintf (why, cap, "it was written with the noise added by the %s; resume it with the same noise mode "
                  "(distributed or central)", self->cfg.distributed ? "coordinator" : "clients");
        return -1;
    }
    uint64_t loc = 0;
    if ((fl_checkpoint_has (ck, "dp.record_local") && fl_checkpoint_get_u64 (ck, "dp.record_local", &loc) != 0)
        || (loc != 0) != (s_local (&self->cfg) != 0)) {
        snprintf (why, cap, "it was written with the %s record-level mechanism; resume it with the same one", s_local (&self->cfg) ? "central" : "local DP-SGD");
        return -1;
    }
    if (fl_privacy_restore (self, dps, n_dps, bad, sizeof bad) != 0) {
        zsys_error ("coordinator: privacy state not restored: %s", bad);
        snprintf (why, cap, "its privacy spend is malformed");
        return -1;
    }
    return 0;
}
