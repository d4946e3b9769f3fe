/*  fl_strategy - one training round's aggregation, from bucket sums to the
    new global model (sans I/O, no round state): Flower's
    Strategy.aggregate_fit in the coordinator's terms.

        bucket sums --> FedAvg weighted mean          --> server step
                    \-> bucket means --> robust rule --> noise --/
                        (fixed denominators)            (fl_privacy)

    Every aggregation of training updates goes through fl_strategy_step, in
    plaintext (the coordinator forms the buckets' sums from the updates it
    sees) and in secure mode (secure aggregation unmasks them), so the
    global model changes at this one place (invariant 1 of fl_round.h).

    A bucket's sum is [sum of w update (np), sum of w, sum of w loss, extra]
    (w: the example weight capped at the run's cap for FedAvg, 1 with a
    robust rule; extra: fl_privacy_extra_coords).
      FedAvg   update = sum over buckets of the first np / sum of w.
      robust   each bucket's mean is its sum / its PLANNED size (a fixed
               denominator: a dropped member pulls its bucket towards zero
               rather than changing the denominator, the sensitivity the
               privacy room relies on); the rule (kernels/fl_robust)
               combines the means; with differential privacy the privacy
               room then adds the noise (fl_privacy_release) and scales a
               record-level release into an SGD step.
    References: McMahan et al. 2017 (FedAvg); docs/ROBUSTNESS.md (rules
    over bucket means); docs/PRIVACY.md.
*/
#ifndef FL_STRATEGY_H_INCLUDED
#define FL_STRATEGY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_privacy.h"
#include "fl_robust.h"
#include "fl_server_opt.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  A bucket's sum as the strategy (and the privacy room) see it. */
typedef fl_privacy_bucket_t fl_strategy_bucket_t;

typedef struct {
    int robust;                  /* 0: FedAvg's weighted mean; 1: the rule below over bucket means */
    fl_robust_kind_t kind;
    fl_robust_params_t params;
    size_t min_updates;          /* fewer contributions: the model is left unchanged */
} fl_strategy_config_t;

/*  State the strategy carries from round to round (owned by the caller,
    zero-initialised before the first round, checkpointed by it): the last
    robust aggregate, where centered clipping starts (NULL until the first
    robust step; np doubles, allocated by fl_strategy_step, freed by the
    caller), and the robust rule's work buffers (created on first use). */
typedef struct {
    double *prev_agg;
    fl_robust_work_t *work;
} fl_strategy_state_t;

/*  What one step did. */
typedef struct {
    size_t updates;              /* contributions in the usable buckets */
    int skipped;                 /* 1: the model is unchanged (the reason is logged) */
    double train_loss;           /* sum of w loss / sum of w; NaN when none, or under DP (not noised) */
    double update_norm;          /* L2 norm of the applied update (0 when skipped) */
    int degenerate;              /* 1: the rule was the plain mean of the buckets this round
                                    (fl_strategy_rule_check said so; logged) */
} fl_strategy_result_t;

/*  What a robust rule does with B bucket means (fl_strategy_rule_check). */
typedef enum {
    FL_STRATEGY_RULE_OK = 0,     /* the rule does what its name says */
    FL_STRATEGY_RULE_MEAN_ONLY,  /* it runs but is the plain mean of the buckets (no robustness):
                                    trimmed_mean with floor(beta B) = 0 (or b = 0), median or
                                    geometric median of B <= 2 */
    FL_STRATEGY_RULE_REFUSES     /* it refuses B means: Krum / multi-Krum with B < 2f+3, Bulyan
                                    with B < 4f+3, B == 0 */
} fl_strategy_rule_t;

/*  Whether rule kind with parameters p is meaningful over B bucket means,
    and why not, written into why (cap bytes, always terminated; "" when
    FL_STRATEGY_RULE_OK), e.g. "trimmed_mean trims floor(0.2 x 3) = 0
    buckets from each side of 3: it is the plain mean".  Pure function
    (no logging): the round's configuration check refuses MEAN_ONLY for
    trimmed_mean and REFUSES for every rule at the expected bucket count,
    and fl_strategy_step logs and reports MEAN_ONLY each round it happens.
    Requirements: Yin et al. ICML 2018 §3 (median, trimmed mean, breakdown
    floor(beta B)/B); Blanchard et al. NeurIPS 2017 §4 (Krum, B >= 2f+3);
    El Mhamdi et al. ICML 2018 §4 (Bulyan, B >= 4f+3). */
fl_strategy_rule_t fl_strategy_rule_check (fl_robust_kind_t kind, const fl_robust_params_t *p, size_t B, char *why,
                                           size_t cap);

/*  Aggregates the nb usable buckets bk (np parameters each) and, unless the
    round must be skipped, steps the global model params (np floats) with
    the server optimizer opt.  privacy: the run's privacy room or NULL;
    ready: the clients ready when the cohort was drawn (the privacy room's
    fixed denominator); round: for log lines.  scratch: np floats of work.
    The round is skipped (res->skipped, model unchanged, logged) when fewer
    than min_updates contributions arrived, no weight, the rule refused
    the means, the noise could not be added, or the server optimizer
    refused a non-finite update.  Returns 0, or -1 on out of memory (model
    unchanged). */
int fl_strategy_step (const fl_strategy_config_t *cfg, fl_strategy_state_t *state, const fl_strategy_bucket_t *bk,
                      size_t nb, size_t np, fl_privacy_t *privacy, size_t ready, uint64_t round,
                      fl_server_opt_t *opt, float *params, float *scratch, fl_strategy_result_t *res);

/*  Frees what state holds (prev_agg, work) and zeroes it. */
void fl_strategy_state_clear (fl_strategy_state_t *state);

#ifdef __cplusplus
}
#endif
#endif
