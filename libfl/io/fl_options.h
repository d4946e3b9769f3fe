/*  fl_options - the one option table for the coordinator options that
    fl-coordinator and fl-sim both take.

    Each entry spells the flag (and config key), its metavar, its help line
    and its range once; fl_options_round_defaults gives every default, taken
    from fl_round_config_default where the round has one; each field is named
    after the fl_round_config_t field it fills (the program maps them: see
    coordinator/main.c s_round_config).  A program embeds an
    fl_options_round_t in its settings struct and joins the table to its own
    options with fl_args_append (io/fl_args.h):

        typedef struct { char bind[256]; ...; fl_options_round_t r; } settings_t;
        n = fl_args_append (all, cap, 0, s_own, n_own, 0);
        n = fl_args_append (all, cap, n, fl_options_round, fl_options_round_count,
                            offsetof (settings_t, r));

    fl-coordinator adds its listening, membership, deadline, output and
    robust-rule tuning options; fl-sim adds its members, data split, fault
    and attack options and passes these ones on to the fl-coordinator it
    starts.  This is the CLI layer: its help lines name flags.
*/
#ifndef FL_OPTIONS_H_INCLUDED
#define FL_OPTIONS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_args.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t rounds, local_epochs, batch_size;
    double fraction, client_lr, server_lr;
    char client_opt[16], server_opt[16], model[32], hidden[64];
    char model_plugin[1024];        /* model plugin / QAT (docs/MODELS.md) */
    int qat;
    int plaintext;                  /* secure aggregation off (docs/SECURITY.md) */
    double clip_norm, sa_corrupt, sa_dropout;
    size_t bucket_size;
    char aggregator[32];            /* fedavg or a robust rule (docs/ROBUSTNESS.md) */
    double trim_beta;
    size_t robust_f;
    int allow_small_buckets;
    char dp_unit[16];               /* differential privacy (docs/PRIVACY.md); "" = off */
    double dp_epsilon, dp_delta, dp_noise_multiplier, dp_clip;
    uint64_t dp_steps;
    int dp_distributed;
    int dp_adaptive_clip;           /* adaptive clipping (Andrew et al. 2021; docs/PRIVACY.md) */
    double dp_target_quantile, dp_clip_lr, dp_count_noise;
    char class_weight[16];          /* imbalance and model selection (docs/TRAINING.md) */
    double weight_decay;
    uint64_t early_stop;
    double threshold, top_fraction; /* the reported operating point */
    double train_deadline_max;      /* --train-deadline auto: the bound (seconds; docs/COORDINATOR.md) */
    int dp_record_central;          /* record-level: the central-noise mechanism instead of local DP-SGD */
    uint64_t dp_batch_size;         /* record-level local DP-SGD: expected Poisson batch (replaces batch_size) */
    double dp_lr;                   /* record-level local DP-SGD: step size (replaces client_lr) */
} fl_options_round_t;

/*  The table over fl_options_round_t (offsets relative to its start) and its
    length. */
extern const fl_arg_t fl_options_round[];
extern const size_t fl_options_round_count;

/*  Fills o with every option's default: the round's (fl_round_config_default)
    where it has one; aggregator "fedavg", trim beta 0.2, one assumed
    Byzantine bucket, delta 1e-5, per-example clipping norm 1, one DP step,
    the noise multiplier -1 (calibrated from the budget), class weights
    "none", weight decay 0, early stopping 0 (off), and the operating point
    threshold 0.5 with top fraction 0 (off). */
void fl_options_round_defaults (fl_options_round_t *o);

#ifdef __cplusplus
}
#endif
#endif
