/*  fl_privacy - the coordinator's differential privacy for one run (sans I/O).

    The round owns one fl_privacy_t when differential privacy is on and asks
    it, at fixed points of a training round, for results; fl_privacy never
    calls back into the round, touches no socket, clock or file, and draws
    its randomness (noise, Poisson cohorts) from its own CSPRNG
    (fl_rng_new_random).

    Where it sits in a training round (docs/PRIVACY.md, docs/COORDINATOR.md):
      start    fl_privacy_before_round: fixes the noise multiplier z and the
               sample rates (first round), checks that one more round keeps
               epsilon within the budget (else: the reason training stops),
               and charges the accountant.  The accountant is charged before
               anything is known of the round's outcome, so a round that is
               later skipped still counts (conservative).
               Client-level: fl_privacy_poisson_cohort replaces the
               fixed-size cohort (amplification by sampling needs a sample
               the adversary cannot predict).
      TRAIN    fl_privacy_put_train tells clients the unit (record-level:
               C_rec, q, K; distributed noise: z and each member's sigma_i).
               Secure buckets take their encoding (and, distributed, their
               members' noise) from fl_privacy_bucket_encoding.
      release  fl_privacy_release adds discrete Gaussian noise to the robust
               aggregate, calibrated to the rule's sensitivity
               (fl_dp_aggregator_sensitivity), or, with distributed noise,
               checks that every bucket sum used already carries it; with
               adaptive clipping it then releases the noisy count of
               unclipped updates and moves the clipping norm
               (Andrew, Thakkar, McMahan, Ramaswamy 2021, Algorithm 1).

    Invariants:
      1. The accountant holds one entry per training round started (or
         restored), charged at (z, rate) before the round's cohort is sent.
      2. z, the per-round rate and the record-level Poisson rate q are fixed
         once (first round, or a restored state) and never change after.
      3. Nothing leaves fl_privacy_release un-noised unless z is 0 (the
         epsilon = infinity comparison run, refused with a budget).
*/
#ifndef FL_PRIVACY_H_INCLUDED
#define FL_PRIVACY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_quant.h"
#include "fl_robust.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  Privacy units: the values of the wire's "dp_unit" (and of the round's
    FL_ROUND_DP_RECORD / FL_ROUND_DP_CLIENT). */
#define FL_PRIVACY_RECORD 1      /* one training record of one member (DP-SGD style) */
#define FL_PRIVACY_CLIENT 2      /* one member's whole data (DP-FedAvg) */

/*  The exported privacy spend (fl_privacy_state): a header of doubles, then
    fl_accountant_export.  Version 1 had a header of 4 (no adaptive clipping). */
#define FL_PRIVACY_STATE_VERSION 2
#define FL_PRIVACY_STATE_HEADER 6u
#define FL_PRIVACY_STATE_HEADER_V1 4u

/*  What fl_privacy needs of the run's configuration (the round copies its
    own fields here; the meanings are those of fl_round_config_t). */
typedef struct {
    int unit;                    /* 0 (off) | FL_PRIVACY_RECORD | FL_PRIVACY_CLIENT */
    double epsilon;              /* budget; 0 = none (then noise_multiplier >= 0 is required) */
    double delta;                /* in (0, 1) */
    double noise_multiplier;     /* z; < 0: calibrated to the budget over `rounds`; 0: no noise */
    double record_clip;          /* record-level: per-example clipping norm C_rec */
    uint32_t steps;              /* record-level: local Poisson batches per round K */
    int distributed;             /* the clients add the noise before masking (needs secure) */
    int adaptive_clip;           /* client-level: adapt the clipping norm every round */
    double target_quantile;      /* adaptive clipping: gamma in [0, 1] */
    double clip_lr;              /* adaptive clipping: eta_C in (0, 10] */
    double count_noise;          /* adaptive clipping: sigma_b; < 0 = expected cohort / 20 */
    double clip_norm;            /* client-level clipping norm C (C_0 with adaptive clipping) */
    /* the round's schedule and aggregation, which calibration depends on */
    uint64_t rounds;             /* planned training rounds */
    double fraction;             /* client-level: the cohort's Poisson rate */
    uint32_t batch_size;         /* record-level: expected local batch at the average member */
    double client_lr;            /* record-level: the server's SGD step on released gradient sums */
    int secure;                  /* secure aggregation (buckets' sums only) */
    double sa_corrupt;           /* assumed fraction of clients colluding with the coordinator */
    size_t bucket_size;          /* smallest bucket (0: the cohort is one bucket) */
    int robust;                  /* a rule over fixed-denominator bucket means */
    fl_robust_kind_t robust_kind;
    fl_robust_params_t robust_params;
    int record_central;          /* record-level: the central-noise mechanism (gradient sums at the
                                    global model, noise added by the coordinator) instead of the
                                    default local DP-SGD (each member noises each of its K steps) */
} fl_privacy_config_t;

/*  What the coordinator knows of its admitted members when a round starts:
    how many were admitted, and the training-set sizes they announced in
    HELLO (public), over the members that announced one. */
typedef struct {
    size_t admitted;             /* members admitted so far */
    size_t with_train;           /* ... of which announced a training-set size > 0 */
    double train_sum;            /* sum of those sizes */
    double train_max;            /* the largest */
    double train_min;            /* the smallest announced (record-level local DP-SGD: the encoding bound) */
    size_t n_params;             /* the model's parameters (0: unknown) */
} fl_privacy_population_t;

/*  One usable bucket of a training round, as the release sees it: its
    decoded sum [sum of updates (np), count, loss, (adaptive clipping:
    sum of b_i - 1/2)], its planned size (the fixed denominator), its
    survivors, and (secure) its encoding's scale and (distributed) the noise
    its members added. */
typedef struct {
    const double *sum;
    uint32_t n;                  /* planned members */
    uint32_t survivors;          /* members whose contribution is in sum */
    double scale;                /* secure: the encoding's scale (grid units per unit); 0 = plaintext */
    double sigma_i;              /* distributed: each member's noise standard deviation (grid units) */
    uint32_t honest_t;           /* distributed: fewest honest noise shares a surviving sum holds */
    size_t bucket;               /* the bucket's number in the round (log lines) */
} fl_privacy_bucket_t;

typedef struct fl_privacy_t fl_privacy_t;
struct fl_wire_writer_t;
struct fl_checkpoint_t;

/*  Why cfg cannot run, in the library's terms (a static string), or NULL.
    Checks: distributed noise needs a unit and secure aggregation; the unit
    is record or client; a robust rule (fixed denominators); delta in (0, 1);
    epsilon finite >= 0; a budget or a noise multiplier, not a budget with
    no noise; z <= FL_ACCOUNTANT_MAX_SIGMA; record-level C_rec in (0, 1e4]
    and K in 1..1000; adaptive clipping only client-level, without
    distributed noise, C_0 in [FL_DP_ADACLIP_MIN, FL_DP_ADACLIP_MAX], gamma
    in [0, 1], eta_C in (0, 10], sigma_b 0 (only with z = 0), negative
    (default) or in [2^-10, 1e6] and above z / 2 (Andrew et al. 2021,
    Theorem 1). */
const char *fl_privacy_config_error (const fl_privacy_config_t *cfg);

/*  A privacy object for a run (cfg copied; cfg->unit must be set and
    fl_privacy_config_error (cfg) NULL).  NULL on an invalid configuration
    or out of memory.  Owns an RDP accountant and a CSPRNG. */
fl_privacy_t *fl_privacy_new (const fl_privacy_config_t *cfg);
void fl_privacy_destroy (fl_privacy_t **self_p);

/*  Before training round `round` (1-based) starts: fixes z and the rates on
    the first call, checks the budget and charges the accountant (invariant
    1).  pop: the admitted members (record-level rates and contribution
    bound come from their training-set sizes; adaptive clipping's default
    count noise from their number).  Returns 0 (charged: the round may run),
    1 (the budget would be exceeded: why holds the reason training stops,
    nothing charged) or -1 (why holds the failure: no member announced a
    training-set size, no z reaches the budget, the count noise is too
    small for z, the contribution bound exceeds 1e6, the accountant
    refused).  why: cap bytes, always terminated. */
int fl_privacy_before_round (fl_privacy_t *self, const fl_privacy_population_t *pop, uint64_t round, char *why,
                             size_t cap);

/*  Client-level Poisson cohort: keeps each of idx[0..ready) independently
    with probability the per-round rate (CSPRNG), in idx's order (so buckets
    stay random); returns how many were kept, now in idx[0..k). */
size_t fl_privacy_poisson_cohort (fl_privacy_t *self, uint32_t *idx, size_t ready);

/*  Smallest Poisson cohort that can be aggregated (one bucket, at least 2);
    a smaller one skips the round (its charge stays). */
size_t fl_privacy_min_cohort (const fl_privacy_t *self);

/*  Writes the unit and its parameters into a TRAIN message: dp_unit,
    dp_adaptive, record-level dp_clip, dp_q, dp_steps; with distributed
    noise and a bucket (sigma_i non-NULL) dp_z and dp_sigma_i. */
void fl_privacy_put_train (const fl_privacy_t *self, struct fl_wire_writer_t *w, const double *sigma_i);

/*  The fixed-point encoding of a secure training bucket of n members with
    secure-aggregation threshold t over np parameters whose values are at
    most max_abs; with distributed noise also each member's noise sigma_i
    (grid units) and the fewest honest noise shares any unmasked sum holds
    (t minus the colluders ceil(sa_corrupt n)), so every sum that unmasks
    carries at least the calibrated noise (Kairouz, Liu, Steinke 2021;
    fl_dp_dist_calibrate).  Without distributed noise: fl_quant_encoding_init
    and sigma_i = 0, honest_t = 0.  Returns 0, or -1 (logged) when only
    colluding members could reach the threshold or no encoding fits. */
int fl_privacy_bucket_encoding (const fl_privacy_t *self, uint32_t n, uint32_t t, size_t np, double max_abs,
                                fl_quant_encoding_t *enc, double *sigma_i, uint32_t *honest_t);

/*  Releases the round's aggregate: out (np doubles) holds the robust rule's
    result over the nb usable buckets bk; on success it holds what may be
    published (noise added in place; client-level with the plain mean rule
    McMahan et al.'s fixed-denominator estimator sum / (q N), N = ready, the
    clients ready when the cohort was drawn).  With distributed noise adds
    nothing and checks that each bucket carries the calibrated noise.  With
    adaptive clipping then moves the clipping norm (fl_privacy_clip_norm)
    from the noisy count.  Returns 0, or -1 (logged; out must not be used)
    if no bucket is usable, a bucket carries less than the calibrated noise,
    or the sampler failed. */
int fl_privacy_release (fl_privacy_t *self, const fl_privacy_bucket_t *bk, size_t nb, size_t np, size_t ready,
                        uint64_t round, double *out);

/*  The factor turning the released aggregate into the server optimizer's
    update: 1 client-level; record-level -client_lr / (K q n_mean), an SGD
    step on the estimated sum of one member's clipped gradients. */
double fl_privacy_update_scale (const fl_privacy_t *self);

/*  The noise-versus-signal warning (a static buffer owned by self), or NULL:
    record-level local DP-SGD sets it at the first round when the noise's
    norm in a round exceeds the largest possible clipped-gradient signal
    (public quantities), or at the first release whose aggregate is no
    larger than the members' noise alone would make it. */
const char *fl_privacy_warning (const fl_privacy_t *self);
/*  Coordinates each contribution carries after [update, count, loss]:
    1 with adaptive clipping (b_i - 1/2), else 0. */
size_t fl_privacy_extra_coords (const fl_privacy_t *self);
/*  A plaintext update's shifted indicator: +1/2 if its norm before clipping
    was at most the current clipping norm, else -1/2 (norm -1: unclippable,
    counted as clipped). */
double fl_privacy_indicator (const fl_privacy_t *self, double norm);
/*  The clipping norm this round's contributions are bounded by: C (adapted
    with adaptive clipping; record-level, once fixed, the per-member
    contribution bound K C_rec (b + 4 sqrt(b) + 4)). */
double fl_privacy_clip_norm (const fl_privacy_t *self);

/*  The spend: epsilon at delta so far (+inf with no noise), and after the
    last charged round (the value fl_privacy_before_round checked). */
double fl_privacy_epsilon (const fl_privacy_t *self);
double fl_privacy_round_epsilon (const fl_privacy_t *self);
/*  z and the per-round sample rate (NaN until fixed). */
double fl_privacy_noise_multiplier (const fl_privacy_t *self);
double fl_privacy_sample_rate (const fl_privacy_t *self);
/*  The last release's sensitivity and noise sigma (NaN before the first). */
void fl_privacy_last_noise (const fl_privacy_t *self, double *sensitivity, double *sigma);
/*  Adaptive clipping: sigma_b and z_delta (NaN until fixed) and the last
    noisy fraction of unclipped updates (NaN before the first release); all
    NaN without adaptive clipping. */
void fl_privacy_adaclip (const fl_privacy_t *self, double *sigma_b, double *z_delta, double *last_frac);

/*  The guarantee as one sentence (see fl_round_dp_guarantee), to buf (cap
    bytes, always terminated; 2048 suffice). */
void fl_privacy_guarantee (const fl_privacy_t *self, char *buf, size_t cap);

/*  The spend as flat doubles (layout in fl_round.h, fl_round_dp_state):
    returns how many were written, or 0 if cap is too small. */
size_t fl_privacy_state (const fl_privacy_t *self, double *out, size_t cap);
/*  Replaces the spend from an untrusted state (checkpoint file): version,
    ranges, the accountant's own checks.  Returns 0, or -1 with the reason
    in why (cap bytes) and nothing changed. */
int fl_privacy_restore (fl_privacy_t *self, const double *in, size_t n, char *why, size_t cap);

/*  Checkpoints: put writes the spend (FL_CHECKPOINT_KEY_ACCOUNTANT) and the
    noise mode ("dp.distributed") into ck; returns 0 or -1.  restore reads
    them back from an untrusted checkpoint: -1 with the reason in why when
    the spend is missing, was written in the other noise mode (clients' vs
    coordinator's noise would describe earlier rounds wrongly; checkpoints
    without the key were central) or is malformed. */
int fl_privacy_checkpoint_put (const fl_privacy_t *self, struct fl_checkpoint_t *ck);
int fl_privacy_checkpoint_restore (fl_privacy_t *self, const struct fl_checkpoint_t *ck, char *why, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
