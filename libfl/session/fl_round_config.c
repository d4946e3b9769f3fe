/*  fl_round_config.c - the coordinator round's configuration: defaults,
    the checks fl_round_new makes before anything is allocated, and the
    privacy room's view of it.  Part of the round class (fl_round_priv.h). */
#include "fl_round_priv.h"

void
fl_round_config_default (fl_round_config_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->min_clients = 2;
    cfg->rounds = 20;
    cfg->fraction = 1.0;
    cfg->min_cohort = 2;
    cfg->min_updates = 1;
    cfg->local_epochs = 1;
    cfg->batch_size = 32;
    cfg->client_lr = 0.05;
    snprintf (cfg->client_opt, sizeof cfg->client_opt, "sgd");
    cfg->example_cap = 10000;
    snprintf (cfg->model, sizeof cfg->model, "logreg");
    cfg->model_seed = 1;
    fl_server_opt_config_default (&cfg->server_opt);
    cfg->join_timeout_ms = 0;
    cfg->stats_deadline_ms = 10000;
    cfg->train_deadline_ms = 60000;
    cfg->eval_deadline_ms = 30000;
    cfg->train_deadline_auto = 0;
    cfg->train_deadline_max_ms = 600000;
    cfg->liveness_ms = 30000;
    cfg->seed = 1;
    cfg->secure = 0;
    cfg->clip_norm = 10.0;
    cfg->bucket_size = 0;
    cfg->sa_corrupt = 0.15;
    cfg->sa_dropout = -1;           /* auto: the largest safe of 0.25 ... 0 per bucket size */
    cfg->secagg_deadline_ms = 10000;
    cfg->robust = 0;
    cfg->robust_kind = FL_ROBUST_MEAN;
    fl_robust_params_defaults (&cfg->robust_params);
    cfg->allow_small_buckets = 0;
    cfg->dp_adaptive_clip = 0;
    cfg->dp_target_quantile = 0.5;
    cfg->dp_clip_lr = 0.2;
    cfg->dp_count_noise = -1;
    cfg->class_weight_balanced = 0;
    cfg->weight_decay = 0;
    cfg->early_stop = 0;
    cfg->op_threshold = 0.5;
    cfg->op_top_fraction = 0;
}

void
fl_round_privacy_config_ (const fl_round_config_t *cfg, fl_privacy_config_t *pc)
{
    memset (pc, 0, sizeof *pc);
    pc->unit = cfg->dp;
    pc->epsilon = cfg->dp_epsilon;
    pc->delta = cfg->dp_delta;
    pc->noise_multiplier = cfg->dp_noise_multiplier;
    pc->record_clip = cfg->dp_clip;
    pc->steps = cfg->dp_steps;
    pc->distributed = cfg->dp_distributed;
    pc->adaptive_clip = cfg->dp_adaptive_clip;
    pc->target_quantile = cfg->dp_target_quantile;
    pc->clip_lr = cfg->dp_clip_lr;
    pc->count_noise = cfg->dp_count_noise;
    pc->clip_norm = cfg->clip_norm;
    pc->rounds = cfg->rounds;
    pc->fraction = cfg->fraction;
    pc->batch_size = cfg->batch_size;
    pc->client_lr = cfg->client_lr;
    pc->secure = cfg->secure;
    pc->sa_corrupt = cfg->sa_corrupt;
    pc->bucket_size = cfg->bucket_size;
    pc->robust = cfg->robust;
    pc->robust_kind = cfg->robust_kind;
    pc->robust_params = cfg->robust_params;
    pc->record_central = cfg->dp_record_central;
}

size_t
fl_round_expected_buckets_ (const fl_round_config_t *cfg)
{
    size_t ready = cfg->min_clients;
    size_t k = (size_t) ceil (cfg->fraction * (double) ready);
    if (k < cfg->min_cohort)
        k = cfg->min_cohort;
    if (k > ready)
        k = ready;
    size_t B = cfg->bucket_size ? k / cfg->bucket_size : 1;
    return B ? B : 1;
}

int
fl_round_rule_check_ (const fl_round_config_t *cfg, char *buf, size_t cap)
{
    size_t B = fl_round_expected_buckets_ (cfg);
    char why[256];
    fl_strategy_rule_t r = fl_strategy_rule_check (cfg->robust_kind, &cfg->robust_params, B, why, sizeof why);
    if (r == FL_STRATEGY_RULE_OK)
        return 0;
    if (r == FL_STRATEGY_RULE_MEAN_ONLY && cfg->robust_kind != FL_ROBUST_TRIMMED_MEAN) {
        /* median / geometric median of 1 or 2 buckets: it runs (differential
           privacy and small consortia use it), but it is said once here and
           in every such round */
        zsys_warning ("coordinator: with %zu clients in buckets of %zu a round has %zu bucket(s): %s", cfg->min_clients,
                      cfg->bucket_size, B, why);
        return 0;
    }
    snprintf (buf, cap, "with %zu clients (min_clients) in buckets of %zu a round has %zu bucket(s): %s; "
              "use more clients or smaller buckets%s", cfg->min_clients, cfg->bucket_size, B, why,
              cfg->robust_kind == FL_ROBUST_TRIMMED_MEAN ? ", a larger trim fraction, or the mean aggregator" : ", or a smaller f");
    return -1;
}

int
fl_round_config_check_ (const fl_round_config_t *cfg, const fl_privacy_config_t *pc, char *buf, size_t cap)
{
    fl_opt_kind_t okind;
    const char *bad = NULL;
    if (cfg->rounds == 0)
        bad = "rounds must be at least 1";
    else if (!(cfg->fraction > 0 && cfg->fraction <= 1))
        bad = "fraction must be in (0, 1]";
    else if (cfg->min_clients == 0)
        bad = "min_clients must be at least 1";
    else if (cfg->min_updates == 0)
        bad = "min_updates must be at least 1";
    else if (cfg->stats_deadline_ms <= 0 || cfg->train_deadline_ms <= 0 || cfg->eval_deadline_ms <= 0)
        bad = "phase deadlines must be positive";
    else if (cfg->train_deadline_auto && cfg->train_deadline_max_ms < cfg->train_deadline_ms)
        bad = "with the automatic training deadline, its bound must be at least the floor (train_deadline_ms)";
    else if (!(cfg->client_lr > 0) || cfg->local_epochs == 0 || cfg->batch_size == 0)
        bad = "client learning rate, local epochs and batch size must be positive";
    else if (fl_opt_kind_parse (cfg->client_opt, &okind) != 0)
        bad = "client optimizer must be sgd, momentum or adam";
    else if (cfg->secure && !cfg->roster)
        bad = "secure aggregation needs the consortium roster";
    else if (cfg->secure && !(cfg->clip_norm > 0 && cfg->clip_norm < 1e6))
        bad = "secure aggregation needs a clipping norm in (0, 1e6)";
    else if (cfg->secure && (cfg->secagg_deadline_ms <= 0 || !(cfg->sa_corrupt >= 0 && cfg->sa_corrupt < 1)
                             || !((cfg->sa_dropout >= 0 && cfg->sa_dropout < 1) || cfg->sa_dropout == -1)))
        bad = "secure aggregation deadline must be positive, corrupt and dropout fractions in [0, 1) (dropout -1: auto)";
    else if (cfg->robust && cfg->bucket_size == 0)
        bad = "robust aggregation runs over buckets: set the bucket size";
    else if (cfg->bucket_size && cfg->bucket_size < FL_ROUND_SAFE_BUCKET && !cfg->allow_small_buckets)
        bad = "buckets smaller than 3 let the coordinator see sums of 1 or 2 updates; "
              "allow it explicitly (allow_small_buckets) if that is intended";
    else if (cfg->secure && cfg->bucket_size == 1)
        bad = "secure aggregation over buckets of 1 would reveal every update";
    fl_secagg_policy_t policy;
    char pbad[256];
    if (!bad && cfg->secure) {
        fl_roster_policy (cfg->roster, &policy);
        if (cfg->sa_corrupt < policy.gamma) {
            snprintf (pbad, sizeof pbad, "the assumed corrupt fraction %g is below the roster policy's gamma %g: "
                      "every client would refuse the thresholds it gives", cfg->sa_corrupt, policy.gamma);
            bad = pbad;
        }
    }
    if (!bad && !(cfg->weight_decay >= 0 && cfg->weight_decay <= FL_ROUND_MAX_WEIGHT_DECAY))
        bad = "weight decay must be in [0, 1]";
    else if (!bad && (cfg->op_top_fraction > 0 ? !(cfg->op_top_fraction <= 1)
                                              : !(cfg->op_threshold >= 0 && cfg->op_threshold <= 1)))
        bad = "the operating point needs a threshold in [0, 1] or a top fraction in (0, 1]";
    else if (!bad && (cfg->class_weight_balanced != 0 && cfg->class_weight_balanced != 1))
        bad = "class_weight_balanced must be 0 or 1";
    else if (!bad && cfg->dp == FL_ROUND_DP_RECORD && (cfg->class_weight_balanced || cfg->weight_decay > 0))
        bad = "record-level differential privacy trains by per-example clipped gradients, which apply neither "
              "class weights nor weight decay: drop them or use client-level privacy";
    if (!bad && (cfg->dp || cfg->dp_distributed))
        bad = fl_privacy_config_error (pc);
    char rbad[512];
    if (!bad && cfg->robust && fl_round_rule_check_ (cfg, rbad, sizeof rbad) != 0)
        bad = rbad;
    if (!bad)
        return 0;
    snprintf (buf, cap, "%s", bad);
    return -1;
}
