/*  fl_options - see fl_options.h. */
#include "fl_options.h"

#include <stdio.h>
#include <string.h>

#include "fl_round.h"

#define F(x) offsetof (fl_options_round_t, x)
const fl_arg_t fl_options_round[] = {
    {"rounds", FL_ARG_U64, F (rounds), 0, "R", "training rounds", 1, 1e6},
    {"fraction", FL_ARG_DOUBLE, F (fraction), 0, "F", "fraction of ready clients sampled into each round's cohort", 1e-6, 1},
    {"local-epochs", FL_ARG_U64, F (local_epochs), 0, "E", "local epochs per round", 1, 1000},
    {"batch-size", FL_ARG_U64, F (batch_size), 0, "B", "local batch size", 1, 1000000},
    {"client-lr", FL_ARG_DOUBLE, F (client_lr), 0, "LR", "client learning rate", 1e-9, 100},
    {"client-opt", FL_ARG_STR, F (client_opt), sizeof ((fl_options_round_t *) 0)->client_opt, "NAME", "client optimizer: sgd | momentum | adam", FL_ARG_NO_RANGE},
    {"server-opt", FL_ARG_STR, F (server_opt), sizeof ((fl_options_round_t *) 0)->server_opt, "NAME", "server optimizer: fedavg | fedavgm | fedadam", FL_ARG_NO_RANGE},
    {"server-lr", FL_ARG_DOUBLE, F (server_lr), 0, "LR", "server learning rate", 1e-9, 100},
    {"model", FL_ARG_STR, F (model), sizeof ((fl_options_round_t *) 0)->model, "NAME", "model: logreg | mlp", FL_ARG_NO_RANGE},
    {"hidden", FL_ARG_STR, F (hidden), sizeof ((fl_options_round_t *) 0)->hidden, "SIZES", "MLP hidden sizes, e.g. 64,32", FL_ARG_NO_RANGE},
    {"model-plugin", FL_ARG_STR, F (model_plugin), sizeof ((fl_options_round_t *) 0)->model_plugin, "PATH", "model plugin shared object (replaces --model; docs/MODELS.md)", FL_ARG_NO_RANGE},
    {"qat", FL_ARG_FLAG, F (qat), 0, NULL, "quantisation-aware training (int8, per-channel weight scales)", FL_ARG_NO_RANGE},
    {"plaintext", FL_ARG_FLAG, F (plaintext), 0, NULL, "plain FedAvg: updates travel unmasked (trusted settings only)", FL_ARG_NO_RANGE},
    {"clip-norm", FL_ARG_DOUBLE, F (clip_norm), 0, "C", "secure mode and client-level DP: L2 clipping norm of each client update (with --dp-adaptive-clip: the starting norm)", 1e-6, 1e5},
    {"bucket-size", FL_ARG_SIZE, F (bucket_size), 0, "S", "secure mode: clients per bucket at least (0 = the whole cohort is one bucket)", 0, 65535},
    {"sa-corrupt", FL_ARG_DOUBLE, F (sa_corrupt), 0, "G", "secure mode: assumed fraction of clients colluding with the coordinator", 0, 0.99},
    {"sa-dropout", FL_ARG_DOUBLE, F (sa_dropout), 0, "D", "secure mode: assumed fraction of a bucket that drops out (default -1: per bucket size, the largest of 0.25, 0.2, ... 0 with a safe threshold)", 0, 0.99},
    {"aggregator", FL_ARG_STR, F (aggregator), sizeof ((fl_options_round_t *) 0)->aggregator, "RULE", "fedavg | mean | median | trimmed_mean | krum | multi_krum | geomed | cclip | bulyan (all but fedavg run over bucket means)", FL_ARG_NO_RANGE},
    {"trim-beta", FL_ARG_DOUBLE, F (trim_beta), 0, "B", "trimmed_mean: fraction of buckets trimmed from each side (floor(B x beta) buckets of B; a beta that trims none at the bucket count --min-clients gives is refused)", 0, 0.4999},
    {"robust-f", FL_ARG_SIZE, F (robust_f), 0, "F", "krum / multi_krum / bulyan: assumed Byzantine buckets", 0, 65535},
    {"allow-small-buckets", FL_ARG_FLAG, F (allow_small_buckets), 0, NULL, "accept --bucket-size 1 or 2 (the coordinator then sees sums of 1 or 2 updates), and secure buckets of 2 if the roster policy has min_bucket = 2: each member of such a bucket learns the other's update", FL_ARG_NO_RANGE},
    {"dp-unit", FL_ARG_STR, F (dp_unit), sizeof ((fl_options_round_t *) 0)->dp_unit, "UNIT", "differential privacy per record (DP-SGD-style local steps) or per client (DP-FedAvg; --fraction is the Poisson cohort rate); needs a rule over bucket means", FL_ARG_NO_RANGE},
    {"dp-epsilon", FL_ARG_DOUBLE, F (dp_epsilon), 0, "E", "privacy budget: training stops before epsilon would exceed E", 1e-6, 1e6},
    {"dp-delta", FL_ARG_DOUBLE, F (dp_delta), 0, "D", "delta of the (epsilon, delta) guarantee", 1e-300, 0.5},
    {"dp-noise-multiplier", FL_ARG_DOUBLE, F (dp_noise_multiplier), 0, "Z", "noise multiplier (default: the smallest reaching --dp-epsilon after --rounds; 0 = no noise, epsilon infinite)", 0, 1e6},
    {"dp-clip", FL_ARG_DOUBLE, F (dp_clip), 0, "C", "record-level: per-example L2 clipping norm", 1e-6, 1e4},
    {"dp-steps", FL_ARG_U64, F (dp_steps), 0, "K", "record-level: local DP-SGD steps per round, each on its own Poisson sample (with --dp-record-central: local Poisson batches summed at the global model)", 1, 1000},
    {"dp-distributed", FL_ARG_FLAG, F (dp_distributed), 0, NULL, "distributed noise: each client adds its share of discrete Gaussian noise before masking, so the coordinator never sees an un-noised bucket sum (needs secure aggregation)", FL_ARG_NO_RANGE},
    {"dp-adaptive-clip", FL_ARG_FLAG, F (dp_adaptive_clip), 0, NULL, "client-level: adapt --clip-norm (the starting norm) each round towards the --dp-target-quantile of the update norms (Andrew et al. 2021); the count of unclipped updates is noised and accounted", FL_ARG_NO_RANGE},
    {"dp-target-quantile", FL_ARG_DOUBLE, F (dp_target_quantile), 0, "G", "adaptive clipping: target fraction of unclipped updates", 0, 1},
    {"dp-clip-lr", FL_ARG_DOUBLE, F (dp_clip_lr), 0, "ETA", "adaptive clipping: geometric rate, C <- C exp(-ETA (unclipped fraction - G))", 1e-6, 10},
    {"dp-count-noise", FL_ARG_DOUBLE, F (dp_count_noise), 0, "S", "adaptive clipping: noise on the count of unclipped updates (default: expected cohort / 20; must exceed half the noise multiplier)", 0, 1e6},
    {"class-weight", FL_ARG_STR, F (class_weight), sizeof ((fl_options_round_t *) 0)->class_weight, "MODE", "balanced: every member weights its loss by n / (k n_c), from its own label counts; none (default)", FL_ARG_NO_RANGE},
    {"weight-decay", FL_ARG_DOUBLE, F (weight_decay), 0, "L", "L2 weight decay of local training (every member uses the same; a member may refuse one above its --max-weight-decay)", 0, 1},
    {"early-stop", FL_ARG_U64, F (early_stop), 0, "P", "stop after P rounds without a lower federated evaluation log loss and keep the best round's model (0 = off)", 0, 1000000},
    {"threshold", FL_ARG_DOUBLE, F (threshold), 0, "T", "operating point of the reported precision / recall / F1: flag scores >= T", 0, 1},
    {"top-fraction", FL_ARG_DOUBLE, F (top_fraction), 0, "F", "operating point instead: flag the fraction F of rows with the highest scores (0 = use --threshold)", 0, 1},
    {"train-deadline-max", FL_ARG_DOUBLE, F (train_deadline_max), 0, "SEC", "with --train-deadline auto: the longest training deadline, and the first round's (before any update was timed)", 1, 1e6},
    {"dp-batch-size", FL_ARG_U64, F (dp_batch_size), 0, "B", "record-level DP-SGD: expected Poisson batch of each local step at the average member (replaces --batch-size in record-level runs without --dp-record-central)", 1, 1000000},
    {"dp-lr", FL_ARG_DOUBLE, F (dp_lr), 0, "LR", "record-level DP-SGD: learning rate of each local step (replaces --client-lr in record-level runs without --dp-record-central)", 1e-9, 100},
    {"dp-record-central", FL_ARG_FLAG, F (dp_record_central), 0, NULL, "record-level: the earlier central mechanism (gradient sums at the global model, noise added by the coordinator, one step per round) instead of local DP-SGD steps noised by each member", FL_ARG_NO_RANGE},
};
#undef F

const size_t fl_options_round_count = sizeof fl_options_round / sizeof fl_options_round[0];

void
fl_options_round_defaults (fl_options_round_t *o)
{
    memset (o, 0, sizeof *o);
    fl_round_config_t d;
    fl_round_config_default (&d);
    o->rounds = d.rounds;
    o->fraction = d.fraction;
    o->local_epochs = d.local_epochs;
    o->batch_size = d.batch_size;
    o->client_lr = d.client_lr;
    snprintf (o->client_opt, sizeof o->client_opt, "%s", d.client_opt);
    snprintf (o->model, sizeof o->model, "%s", d.model);
    snprintf (o->server_opt, sizeof o->server_opt, "fedavg");
    o->server_lr = d.server_opt.lr;
    o->clip_norm = d.clip_norm;
    o->sa_corrupt = d.sa_corrupt;
    o->sa_dropout = d.sa_dropout;
    o->bucket_size = d.bucket_size;
    snprintf (o->aggregator, sizeof o->aggregator, "fedavg");
    o->trim_beta = 0.2;
    o->robust_f = 1;
    o->dp_delta = 1e-5;
    o->dp_noise_multiplier = -1;     /* calibrated from the budget */
    o->dp_clip = 0.5;                /* record-level: measured (docs/PRIVACY.md "Defaults") */
    o->dp_steps = 5;                 /* record-level: measured (docs/PRIVACY.md "Defaults") */
    o->dp_batch_size = 64;
    o->dp_lr = 1.0;
    o->dp_target_quantile = d.dp_target_quantile;
    o->dp_clip_lr = d.dp_clip_lr;
    o->dp_count_noise = d.dp_count_noise;   /* < 0: expected cohort / 20 */
    snprintf (o->class_weight, sizeof o->class_weight, "none");
    o->weight_decay = d.weight_decay;
    o->early_stop = d.early_stop;
    o->threshold = 0.5;
    o->top_fraction = 0;
    o->train_deadline_max = d.train_deadline_max_ms / 1000.0;
}
