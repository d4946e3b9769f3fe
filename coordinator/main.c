/*  fl-coordinator - schedules a consortium's training rounds.

    Wiring only: options (fl_args), the round state machine (fl_round), the
    transport (fl_transport), and the driver loop (fl_server), which feeds
    received payloads and the clock to the round, sends what it emits,
    saves checkpoints and reports each finished round as a progress line, a
    metrics CSV row and a report row; at the end, a model file and a run
    report.  See docs/COORDINATOR.md.
*/
#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "fl_args.h"
#include "fl_options.h"
#include "fl_model.h"
#include "fl_checkpoint.h"
#include "fl_log.h"
#include "fl_report.h"
#include "fl_roster.h"
#include "fl_modelfile.h"
#include "fl_round.h"
#include "fl_schema.h"
#include "fl_server.h"
#include "fl_transport.h"

typedef struct {
    char bind[256];
    size_t min_clients, max_clients, min_cohort, min_updates;
    uint64_t example_cap, seed, model_seed;
    double server_momentum, beta1, beta2, tau;
    double join_timeout, stats_deadline, eval_deadline, liveness;
    char train_deadline[24];        /* seconds, or "auto" (s_train_deadline) */
    char metrics[1024], model_out[1024], report[1024], run_name[128], port_file[1024];
    char schema[1024];              /* a member's own CSV: the agreed encoding (docs/DATA.md) */
    size_t max_message_mb;
    char roster[1024], cert[1024];
    char identity[1024];            /* the coordinator's identity secret key: signs the report */
    double secagg_deadline;
    double geomed_nu, cclip_tau, norm_bound;
    size_t multi_krum_m;
    uint64_t geomed_iters, cclip_iters;
    int quiet;
    char checkpoint_dir[1024], resume[1024], crash_at[32];
    uint64_t crash_round;
    char log_format[8];             /* text | json (fl_log) */
    fl_options_round_t r;           /* the options fl-sim takes too (io/fl_options) */
} settings_t;

#define F(x) offsetof (settings_t, x)
static const fl_arg_t s_args[] = {
    {"bind", FL_ARG_STR, F (bind), sizeof ((settings_t *) 0)->bind, "ENDPOINT", "ZeroMQ endpoint to bind", FL_ARG_NO_RANGE},
    {"min-clients", FL_ARG_SIZE, F (min_clients), 0, "N", "clients that must join before training starts", 1, 65535},
    {"max-clients", FL_ARG_SIZE, F (max_clients), 0, "N", "admission limit", 1, 65535},
    {"min-cohort", FL_ARG_SIZE, F (min_cohort), 0, "N", "minimum cohort size (when that many are ready)", 1, 65535},
    {"min-updates", FL_ARG_SIZE, F (min_updates), 0, "N", "fewer updates than this: round skipped, model unchanged", 1, 65535},
    {"example-cap", FL_ARG_U64, F (example_cap), 0, "N", "FedAvg weight cap per client (examples; 0 = none)", 0, 1e12},
    {"model-seed", FL_ARG_U64, F (model_seed), 0, "S", "seed of the global model's initialisation", FL_ARG_NO_RANGE},
    {"server-momentum", FL_ARG_DOUBLE, F (server_momentum), 0, "B", "FedAvgM momentum", 0, 0.999999},
    {"beta1", FL_ARG_DOUBLE, F (beta1), 0, "B", "FedAdam beta1", 0, 0.999999},
    {"beta2", FL_ARG_DOUBLE, F (beta2), 0, "B", "FedAdam beta2", 0, 0.999999},
    {"tau", FL_ARG_DOUBLE, F (tau), 0, "T", "FedAdam adaptivity tau", 1e-12, 10},
    {"join-timeout", FL_ARG_DOUBLE, F (join_timeout), 0, "SEC", "give up if min-clients have not joined (0 = wait forever)", 0, 1e7},
    {"stats-deadline", FL_ARG_DOUBLE, F (stats_deadline), 0, "SEC", "deadline of round 0 (standardisation)", 0.01, 1e6},
    {"train-deadline", FL_ARG_STR, F (train_deadline), sizeof ((settings_t *) 0)->train_deadline, "SEC|auto", "deadline for updates in each round (0.01 to 1e6 s), or auto: 3 x the slowest update of the last 5 rounds, at least 5 s, at most --train-deadline-max", FL_ARG_NO_RANGE},
    {"eval-deadline", FL_ARG_DOUBLE, F (eval_deadline), 0, "SEC", "deadline for evaluation results", 0.01, 1e6},
    {"liveness", FL_ARG_DOUBLE, F (liveness), 0, "SEC", "a client silent this long is not sampled", 1, 1e7},
    {"seed", FL_ARG_U64, F (seed), 0, "S", "seed of cohort sampling and client shuffling", FL_ARG_NO_RANGE},
    {"metrics", FL_ARG_STR, F (metrics), sizeof ((settings_t *) 0)->metrics, "FILE", "write per-round metrics CSV here", FL_ARG_NO_RANGE},
    {"model-out", FL_ARG_STR, F (model_out), sizeof ((settings_t *) 0)->model_out, "FILE", "write the final global model here", FL_ARG_NO_RANGE},
    {"schema", FL_ARG_STR, F (schema), sizeof ((settings_t *) 0)->schema, "FILE", "the consortium's schema (fl-schema): stored in --model-out with its label mapping", FL_ARG_NO_RANGE},
    {"report", FL_ARG_STR, F (report), sizeof ((settings_t *) 0)->report, "FILE", "write the run report (Markdown) here", FL_ARG_NO_RANGE},
    {"port-file", FL_ARG_STR, F (port_file), sizeof ((settings_t *) 0)->port_file, "FILE", "write the bound TCP port here once listening (for launchers)", FL_ARG_NO_RANGE},
    {"run-name", FL_ARG_STR, F (run_name), sizeof ((settings_t *) 0)->run_name, "NAME", "name of the run in the report", FL_ARG_NO_RANGE},
    {"max-message-mb", FL_ARG_SIZE, F (max_message_mb), 0, "MB", "largest message accepted (MiB)", 1, 2047},
    {"roster", FL_ARG_STR, F (roster), sizeof ((settings_t *) 0)->roster, "FILE", "consortium roster (fl-keygen): who may join, with their keys", FL_ARG_NO_RANGE},
    {"cert", FL_ARG_STR, F (cert), sizeof ((settings_t *) 0)->cert, "FILE", "the coordinator's CURVE certificate (NAME.curve, with NAME.curve_secret)", FL_ARG_NO_RANGE},
    {"identity", FL_ARG_STR, F (identity), sizeof ((settings_t *) 0)->identity, "FILE", "the coordinator's identity secret key (fl-keygen: NAME.identity_secret; must be the roster's coordinator key): signs the report (REPORT.sig)", FL_ARG_NO_RANGE},
    {"secagg-deadline", FL_ARG_DOUBLE, F (secagg_deadline), 0, "SEC", "secure mode: deadline of each protocol phase after key advertisement", 0.01, 1e6},
    {"multi-krum-m", FL_ARG_SIZE, F (multi_krum_m), 0, "M", "multi_krum: bucket means averaged (0 = B - f)", 0, 65535},
    {"geomed-nu", FL_ARG_DOUBLE, F (geomed_nu), 0, "NU", "geomed: Weiszfeld smoothing", 1e-12, 1e6},
    {"geomed-iters", FL_ARG_U64, F (geomed_iters), 0, "N", "geomed: iteration limit", 1, 100000},
    {"cclip-tau", FL_ARG_DOUBLE, F (cclip_tau), 0, "TAU", "cclip: clipping radius", 1e-12, 1e9},
    {"cclip-iters", FL_ARG_U64, F (cclip_iters), 0, "L", "cclip: iterations", 1, 1000},
    {"norm-bound", FL_ARG_DOUBLE, F (norm_bound), 0, "M", "bound every bucket mean to this L2 norm before the rule (0 = off)", 0, 1e9},
    {"checkpoint-dir", FL_ARG_STR, F (checkpoint_dir), sizeof ((settings_t *) 0)->checkpoint_dir, "DIR", "write a checkpoint here after every completed round", FL_ARG_NO_RANGE},
    {"resume", FL_ARG_STR, F (resume), sizeof ((settings_t *) 0)->resume, "DIR", "continue the run checkpointed in DIR (and keep checkpointing there)", FL_ARG_NO_RANGE},
    {"crash-at", FL_ARG_STR, F (crash_at), sizeof ((settings_t *) 0)->crash_at, "PHASE", "fault injection for tests: SIGKILL this process on entering PHASE (stats | stats-share | stats-masked | stats-consistency | stats-unmask | train | advertise | share | masked | consistency | unmask | evaluate | evaluate-share | evaluate-masked | evaluate-consistency | evaluate-unmask) of --crash-round", FL_ARG_NO_RANGE},
    {"crash-round", FL_ARG_U64, F (crash_round), 0, "R", "fault injection: the round of --crash-at", 0, 1e9},
    {"quiet", FL_ARG_FLAG, F (quiet), 0, NULL, "no zsys log lines (progress lines and fatal errors still print)", FL_ARG_NO_RANGE},
    {"log-format", FL_ARG_STR, F (log_format), sizeof ((settings_t *) 0)->log_format, "FORMAT", "log lines on stderr: text (ISO-8601 UTC time, level, program, message) | json (one object per line)", FL_ARG_NO_RANGE},
    /* differential privacy (docs/PRIVACY.md) */
};
#undef F

/* The program's options: its own, then the ones it shares with fl-sim
   (io/fl_options), in one table for fl_args, --help and the run's
   configuration in its checkpoints. */
static fl_arg_t s_all[sizeof s_args / sizeof s_args[0] + 64];
static size_t s_n_all;

static void
s_table (void)
{
    size_t n = fl_args_append (s_all, sizeof s_all / sizeof s_all[0], 0, s_args, sizeof s_args / sizeof s_args[0], 0);
    s_n_all = fl_args_append (s_all, sizeof s_all / sizeof s_all[0], n, fl_options_round, fl_options_round_count,
                              offsetof (settings_t, r));
    assert (n && s_n_all);
}

static void
s_defaults (settings_t *s)
{
    memset (s, 0, sizeof *s);
    fl_options_round_defaults (&s->r);
    fl_round_config_t d;
    fl_round_config_default (&d);
    snprintf (s->bind, sizeof s->bind, "tcp://127.0.0.1:5555");
    s->min_clients = d.min_clients;
    s->max_clients = 1000;
    s->min_cohort = d.min_cohort;
    s->min_updates = d.min_updates;
    s->example_cap = d.example_cap;
    s->model_seed = d.model_seed;
    s->server_momentum = d.server_opt.momentum;
    s->beta1 = d.server_opt.beta1;
    s->beta2 = d.server_opt.beta2;
    s->tau = d.server_opt.tau;
    s->join_timeout = 0;
    s->stats_deadline = d.stats_deadline_ms / 1000.0;
    snprintf (s->train_deadline, sizeof s->train_deadline, "%g", d.train_deadline_ms / 1000.0);
    s->eval_deadline = d.eval_deadline_ms / 1000.0;
    s->liveness = d.liveness_ms / 1000.0;
    s->seed = d.seed;
    s->max_message_mb = 64;
    s->secagg_deadline = d.secagg_deadline_ms / 1000.0;
    s->geomed_nu = d.robust_params.nu;
    s->geomed_iters = (uint64_t) d.robust_params.max_iter;
    s->cclip_tau = d.robust_params.tau;
    s->cclip_iters = (uint64_t) d.robust_params.L;
    snprintf (s->run_name, sizeof s->run_name, "libfl run");
    snprintf (s->log_format, sizeof s->log_format, "text");
}

static int
s_round_config (const settings_t *s, fl_round_config_t *c)
{
    fl_round_config_default (c);
    c->min_clients = s->min_clients;
    c->max_clients = s->max_clients;
    c->rounds = s->r.rounds;
    c->fraction = s->r.fraction;
    c->min_cohort = s->min_cohort;
    c->min_updates = s->min_updates;
    c->local_epochs = (uint32_t) s->r.local_epochs;
    c->batch_size = (uint32_t) s->r.batch_size;
    c->client_lr = s->r.client_lr;
    snprintf (c->client_opt, sizeof c->client_opt, "%s", s->r.client_opt);
    c->example_cap = s->example_cap;
    snprintf (c->model, sizeof c->model, "%s", s->r.model);
    snprintf (c->hidden, sizeof c->hidden, "%s", s->r.hidden);
    c->model_seed = s->model_seed;
    c->qat = s->r.qat ? FL_MODEL_QAT_PER_CHANNEL : FL_MODEL_QAT_OFF;
    if (fl_server_opt_kind_parse (s->r.server_opt, &c->server_opt.kind) != 0) {
        fprintf (stderr, "fl-coordinator: --server-opt: '%s' is not fedavg, fedavgm or fedadam\n", s->r.server_opt);
        return -1;
    }
    c->server_opt.lr = s->r.server_lr;
    c->server_opt.momentum = s->server_momentum;
    c->server_opt.beta1 = s->beta1;
    c->server_opt.beta2 = s->beta2;
    c->server_opt.tau = s->tau;
    c->join_timeout_ms = (int64_t) (s->join_timeout * 1000);
    c->stats_deadline_ms = (int64_t) (s->stats_deadline * 1000);
    if (strcmp (s->train_deadline, "auto") == 0) {
        c->train_deadline_auto = 1;
        c->train_deadline_ms = FL_ROUND_AUTO_FLOOR_MS;
        c->train_deadline_max_ms = (int64_t) (s->r.train_deadline_max * 1000);
        if (c->train_deadline_max_ms < c->train_deadline_ms) {
            fprintf (stderr, "fl-coordinator: --train-deadline-max: %g s is below the automatic deadline's floor "
                             "(%g s)\n", s->r.train_deadline_max, FL_ROUND_AUTO_FLOOR_MS / 1000.0);
            return -1;
        }
    }
    else {
        char *end;
        errno = 0;
        double v = strtod (s->train_deadline, &end);
        if (end == s->train_deadline || *end || errno || !(v >= 0.01 && v <= 1e6)) {
            fprintf (stderr, "fl-coordinator: --train-deadline: '%s' is neither seconds in [0.01, 1e+06] nor auto\n",
                     s->train_deadline);
            return -1;
        }
        c->train_deadline_ms = (int64_t) (v * 1000);
    }
    c->eval_deadline_ms = (int64_t) (s->eval_deadline * 1000);
    c->liveness_ms = (int64_t) (s->liveness * 1000);
    c->seed = s->seed;
    randombytes_buf (c->run_id, sizeof c->run_id);
    c->secure = !s->r.plaintext;
    c->clip_norm = s->r.clip_norm;
    c->bucket_size = s->r.bucket_size;
    c->sa_corrupt = s->r.sa_corrupt;
    c->sa_dropout = s->r.sa_dropout;
    c->secagg_deadline_ms = (int64_t) (s->secagg_deadline * 1000);
    c->allow_small_buckets = s->r.allow_small_buckets;
    if (strcmp (s->r.aggregator, "fedavg") != 0) {
        if (fl_robust_kind_parse (s->r.aggregator, &c->robust_kind) != 0) {
            fprintf (stderr, "fl-coordinator: --aggregator: unknown rule '%s'\n", s->r.aggregator);
            return -1;
        }
        c->robust = 1;
        fl_robust_params_defaults (&c->robust_params);
        if (c->robust_kind == FL_ROBUST_TRIMMED_MEAN)
            c->robust_params.beta = s->r.trim_beta;
        c->robust_params.f = s->r.robust_f;
        c->robust_params.m = s->multi_krum_m;
        c->robust_params.nu = s->geomed_nu;
        c->robust_params.max_iter = (int) s->geomed_iters;
        c->robust_params.tau = s->cclip_tau;
        c->robust_params.L = (int) s->cclip_iters;
        c->robust_params.M = s->norm_bound;
    }
    /* differential privacy */
    if (s->r.dp_unit[0]) {
        if (strcmp (s->r.dp_unit, "record") == 0)
            c->dp = FL_ROUND_DP_RECORD;
        else if (strcmp (s->r.dp_unit, "client") == 0)
            c->dp = FL_ROUND_DP_CLIENT;
        else {
            fprintf (stderr, "fl-coordinator: --dp-unit: '%s' is not record or client\n", s->r.dp_unit);
            return -1;
        }
        c->dp_epsilon = s->r.dp_epsilon;
        c->dp_delta = s->r.dp_delta;
        c->dp_noise_multiplier = s->r.dp_noise_multiplier;
        c->dp_clip = s->r.dp_clip;
        c->dp_steps = (uint32_t) s->r.dp_steps;
        c->dp_adaptive_clip = s->r.dp_adaptive_clip;
        c->dp_target_quantile = s->r.dp_target_quantile;
        c->dp_clip_lr = s->r.dp_clip_lr;
        c->dp_count_noise = s->r.dp_count_noise;
        c->dp_distributed = s->r.dp_distributed;
        c->dp_record_central = s->r.dp_record_central;
        if (c->dp == FL_ROUND_DP_RECORD && !c->dp_record_central) {   /* no ordinary local training: DP-SGD's */
            c->batch_size = (uint32_t) s->r.dp_batch_size;
            c->client_lr = s->r.dp_lr;
        }
        if (s->r.dp_distributed && s->r.plaintext) {
            fprintf (stderr, "fl-coordinator: --dp-distributed needs secure aggregation: the clients' noise shares "
                             "protect only a masked sum (drop --plaintext)\n");
            return -1;
        }
    }
    else if (s->r.dp_distributed) {
        fprintf (stderr, "fl-coordinator: --dp-distributed needs --dp-unit record|client\n");
        return -1;
    }
    else if (s->r.dp_epsilon > 0 || s->r.dp_noise_multiplier >= 0 || s->r.dp_adaptive_clip) {
        fprintf (stderr, "fl-coordinator: --dp-epsilon / --dp-noise-multiplier / --dp-adaptive-clip need --dp-unit "
                         "record|client\n");
        return -1;
    }
    /* imbalance and model selection (docs/TRAINING.md) */
    if (strcmp (s->r.class_weight, "balanced") == 0)
        c->class_weight_balanced = 1;
    else if (strcmp (s->r.class_weight, "none") != 0) {
        fprintf (stderr, "fl-coordinator: --class-weight: '%s' is not balanced or none\n", s->r.class_weight);
        return -1;
    }
    c->weight_decay = s->r.weight_decay;
    c->early_stop = (uint32_t) s->r.early_stop;
    c->op_threshold = s->r.threshold;
    c->op_top_fraction = s->r.top_fraction;
    if (!s->r.dp_adaptive_clip && s->r.dp_count_noise >= 0) {
        fprintf (stderr, "fl-coordinator: --dp-count-noise needs --dp-adaptive-clip\n");
        return -1;
    }
    return 0;
}

/*  The report's "Privacy and security" statements known before the run: the
    transport, the membership, and what the coordinator sees of each member.
    Each states what this code does (docs/SECURITY.md), nothing more. */
static void
s_report_privacy (fl_report_t *report, const settings_t *s, const fl_roster_t *roster, bool curve)
{
    if (roster) {
        uint8_t d[FL_ROSTER_DIGESTBYTES];
        char hex[2 * FL_ROSTER_DIGESTBYTES + 1];
        fl_roster_digest (roster, d);
        sodium_bin2hex (hex, sizeof hex, d, sizeof d);
        fl_report_add_fact (report, "Roster", "%s, %zu members, digest %s (fl-client logs the same digest "
                            "at start: every site can check it holds this membership)",
                            s->roster, fl_roster_size (roster), hex);
    }
    if (curve)
        fl_report_add_privacy (report, "Transport: every connection CURVE-encrypted (ZeroMQ CurveZMQ); the "
                               "coordinator admitted only the roster's member keys, and clients pinned the "
                               "coordinator's key from the roster.");
    else
        fl_report_add_privacy (report, "Transport: NOT encrypted and NOT authenticated; member ids are what "
                               "clients claimed.");
    if (s->r.plaintext) {
        fl_report_add_privacy (report, "Model updates: NOT masked (plaintext mode). The coordinator saw every "
                               "member's individual update, example count and training loss.");
        fl_report_add_privacy (report, "Round-0 feature statistics and federated-evaluation counts and score "
                               "histograms: NOT masked; the coordinator saw them per member.");
    }
    else {
        char buckets[96];
        if (s->r.bucket_size)
            snprintf (buckets, sizeof buckets, "buckets of at least %zu members", s->r.bucket_size);
        else
            snprintf (buckets, sizeof buckets, "one bucket per round (the whole cohort)");
        fl_report_add_privacy (report, "Model updates: masked by secure aggregation (Bonawitz et al., CCS 2017, "
                               "active-adversary variant, with SecAgg+ neighbour graphs); the coordinator learned "
                               "only the sum over each bucket, %s, of updates clipped to L2 norm %g. This holds "
                               "while at most %g of a bucket's members collude with the coordinator; a bucket "
                               "that loses more members than its threshold allows aborts and reveals nothing "
                               "(docs/SECURITY.md, docs/SECAGG.md).",
                               buckets, s->r.clip_norm, s->r.sa_corrupt);
        if (roster) {
            fl_secagg_policy_t pol;
            fl_roster_policy (roster, &pol);
            unsigned g = pol.graphs;
            fl_report_add_privacy (report, "Client policy in force (%s): every client assumed up to gamma = %g of "
                                   "a bucket colluding with the coordinator, recomputed from it the least threshold "
                                   "(2t > n + ceil(gamma n) on the complete graph), and refused any session with a "
                                   "lower threshold or degree, a bucket below %u members, a graph other than %s%s%s, "
                                   "or a bucket not formed by the public rule over the cohort; the global model's "
                                   "hash was bound into every session from its first message (docs/SECAGG.md §6.1).",
                                   fl_roster_has_policy (roster) ? "the roster's policy section" : "the default: the "
                                   "roster has no policy section", pol.gamma, pol.min_bucket,
                                   g & (1u << FL_SECAGG_GRAPH_COMPLETE) ? "complete" : "",
                                   g == FL_SECAGG_POLICY_GRAPHS ? " or " : "",
                                   g & (1u << FL_SECAGG_GRAPH_HARARY) ? "Harary" : "");
        }
        fl_report_add_privacy (report, "Round-0 feature statistics (count, sum, sum of squares) and federated-"
                               "evaluation counts and score histograms: masked by the same per-bucket secure "
                               "aggregation, so the coordinator learned only their sums over a bucket. Those "
                               "bucket sums are not covered by differential privacy, and each member's row "
                               "counts are announced when it joins (docs/SECURITY.md).");
    }
    fl_report_add_privacy (report, "Records never left a member: only updates, feature statistics and "
                           "evaluation counts travelled.");
}

/*  The report's facts known once the run ended: run id, model, members. */
static void
s_report_run (fl_report_t *report, const fl_round_t *round, const settings_t *s)
{
    char hex[2 * 32 + 1];
    sodium_bin2hex (hex, sizeof hex, fl_round_run_id (round), FL_ROUND_RUNIDBYTES);
    fl_report_add_fact (report, "Run id", "%s", hex);
    fl_report_add_fact (report, "Software", "libfl %s", FL_VERSION);
    const uint8_t *fp = fl_round_fingerprint (round);
    if (fp) {
        sodium_bin2hex (hex, sizeof hex, fp, 32);
        fl_report_add_fact (report, "Model", "%s%s%s, %zu features, %zu classes, %zu parameters, fingerprint %s",
                            s->r.model_plugin[0] ? s->r.model_plugin : s->r.model, s->r.hidden[0] ? " " : "", s->r.hidden,
                            fl_round_features (round), fl_round_classes (round), fl_round_num_params (round), hex);
    }
    char names[2048];
    size_t n = fl_round_member_names (round, names, sizeof names);
    fl_report_add_fact (report, "Members admitted", "%zu%s%s%s", n, n ? " (" : "", names, n ? ")" : "");
}

/* ---- the run's configuration in its checkpoint (docs/CHECKPOINT.md) -------

   A resumed run is the run that was checkpointed: every option that shapes
   it is stored in each checkpoint as "name=value" lines (field run.config)
   and --resume takes them from there.  These may change between restarts:
   where to listen and write, deadlines and timeouts, logging, fault
   injection, and the roster and certificate files (a roster may change
   between runs, docs/FAULTS.md). */
#define S_CONFIG_KEY FL_SERVER_CONFIG_KEY
#define S_RESTARTS_KEY FL_SERVER_RESTARTS_KEY
#define S_MAX_RESTARTS 64

static const char *s_mutable[] = {"bind", "port-file", "metrics", "model-out", "report", "run-name",
                                  "checkpoint-dir", "resume", "crash-at", "crash-round", "quiet", "log-format",
                                  "join-timeout", "stats-deadline", "train-deadline", "eval-deadline",
                                  "secagg-deadline", "liveness", "max-message-mb", "roster", "cert", "identity"};

static int
s_is_mutable (const char *name)
{
    for (size_t i = 0; i < sizeof s_mutable / sizeof s_mutable[0]; i++)
        if (strcmp (s_mutable[i], name) == 0)
            return 1;
    return 0;
}

static void
s_arg_value (const fl_arg_t *a, const settings_t *s, char *buf, size_t cap)
{
    const char *base = (const char *) s + a->offset;
    switch (a->type) {
    case FL_ARG_U64: snprintf (buf, cap, "%" PRIu64, *(const uint64_t *) (const void *) base); break;
    case FL_ARG_SIZE: snprintf (buf, cap, "%zu", *(const size_t *) (const void *) base); break;
    case FL_ARG_DOUBLE: snprintf (buf, cap, "%.17g", *(const double *) (const void *) base); break;
    case FL_ARG_STR: snprintf (buf, cap, "%s", base); break;
    case FL_ARG_FLAG: snprintf (buf, cap, "%d", *(const int *) (const void *) base ? 1 : 0); break;
    }
}

static int
s_arg_set (const fl_arg_t *a, settings_t *s, const char *v)
{
    char *base = (char *) s + a->offset, *end = NULL;
    errno = 0;
    switch (a->type) {
    case FL_ARG_U64:
    case FL_ARG_SIZE: {
        unsigned long long x = strtoull (v, &end, 10);
        if (errno || end == v || *end)
            return -1;
        if (a->type == FL_ARG_U64)
            *(uint64_t *) (void *) base = (uint64_t) x;
        else
            *(size_t *) (void *) base = (size_t) x;
        break;
    }
    case FL_ARG_DOUBLE: {
        double x = strtod (v, &end);
        if (errno || end == v || *end)
            return -1;
        *(double *) (void *) base = x;
        break;
    }
    case FL_ARG_STR:
        if (strlen (v) >= a->size)
            return -1;
        memcpy (base, v, strlen (v) + 1);
        break;
    case FL_ARG_FLAG:
        if (strcmp (v, "0") != 0 && strcmp (v, "1") != 0)
            return -1;
        *(int *) (void *) base = v[0] == '1';
        break;
    }
    return 0;
}

/* The run's configuration as "name=value\n" lines; caller frees. */
static char *
s_config_text (const settings_t *s)
{
    size_t cap = 65536, off = 0;
    char *out = (char *) malloc (cap);
    if (!out)
        return NULL;
    out[0] = 0;
    for (size_t i = 0; i < s_n_all; i++) {
        if (s_is_mutable (s_all[i].name))
            continue;
        char v[1100];
        s_arg_value (&s_all[i], s, v, sizeof v);
        int n = snprintf (out + off, cap - off, "%s=%s\n", s_all[i].name, v);
        if (n < 0 || (size_t) n >= cap - off) {
            free (out);
            return NULL;
        }
        off += (size_t) n;
    }
    return out;
}

static int
s_on_command_line (int argc, char **argv, const char *name)
{
    size_t n = strlen (name);
    for (int i = 1; i < argc; i++)
        if (strncmp (argv[i], "--", 2) == 0 && strncmp (argv[i] + 2, name, n) == 0
            && (argv[i][2 + n] == 0 || argv[i][2 + n] == '='))
            return 1;
    return 0;
}

/* --resume: the checkpointed run's options replace the command line's,
   except the ones that may change; an option given (on the command line,
   or in a config file with a value other than the default) that differs
   from the run's is refused.  A checkpoint of an older libfl, without the
   field, is used with the command line's options and a warning.  0, or -1
   (printed) when refused. */
static int
s_apply_run_config (settings_t *s, const fl_checkpoint_t *ck, const char *dir, int argc, char **argv)
{
    const uint8_t *data = NULL;
    size_t len = 0;
    if (fl_checkpoint_get_bytes (ck, S_CONFIG_KEY, &data, &len) != 0) {
        fprintf (stderr, "fl-coordinator: warning: the checkpoint in %s holds no run configuration (written by an "
                         "older libfl): the command line's options are used, repeat the run's options\n", dir);
        return 0;
    }
    if (len > 65535) {
        fprintf (stderr, "fl-coordinator: the run configuration in %s is too large (%zu bytes)\n", dir, len);
        return -1;
    }
    char *text = (char *) malloc (len + 1);
    if (!text)
        return -1;
    memcpy (text, data, len);
    text[len] = 0;
    /* --rounds may grow on resume (a run extended), unless differential
       privacy calibrated its noise to the run's length */
    const char *dpl = strstr (text, "\ndp-unit=");
    int dp_off = dpl && dpl[9] == '\n';
    settings_t d;
    s_defaults (&d);
    int refused = 0;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        char *eq = strchr (line, '=');
        if (!eq) {
            fprintf (stderr, "fl-coordinator: the run configuration in %s is damaged: '%.60s'\n", dir, line);
            refused = 1;
            continue;
        }
        *eq = 0;
        const char *name = line, *val = eq + 1;
        const fl_arg_t *a = NULL;
        for (size_t i = 0; i < s_n_all && !a; i++)
            if (strcmp (s_all[i].name, name) == 0)
                a = &s_all[i];
        if (!a) {
            fprintf (stderr, "fl-coordinator: the checkpointed run in %s has option --%s, which this version does "
                             "not know\n", dir, name);
            refused = 1;
            continue;
        }
        if (s_is_mutable (name))
            continue;
        char cur[1100], def[1100];
        s_arg_value (a, s, cur, sizeof cur);
        s_arg_value (a, &d, def, sizeof def);
        int given = s_on_command_line (argc, argv, name) || strcmp (cur, def) != 0;
        if (given && strcmp (cur, val) != 0 && strcmp (name, "rounds") == 0 && dp_off
            && strtoull (cur, NULL, 10) > strtoull (val, NULL, 10)) {
            printf ("fl-coordinator: the run is extended from %s to %s rounds\n", val, cur);
            continue;
        }
        if (given && strcmp (cur, val) != 0) {
            fprintf (stderr, "fl-coordinator: --%s %s differs from the checkpointed run's %s%s: a resumed run keeps "
                             "its configuration (only deadlines, timeouts, output paths, logging and the roster "
                             "files may change)\n", name, a->type == FL_ARG_FLAG ? (cur[0] == '1' ? "(on)" : "(off)")
                             : cur, a->type == FL_ARG_FLAG ? (val[0] == '1' ? "on" : "off") : val, "");
            refused = 1;
        }
        else if (s_arg_set (a, s, val) != 0) {
            fprintf (stderr, "fl-coordinator: the run configuration in %s has an invalid --%s '%.60s'\n", dir, name,
                     val);
            refused = 1;
        }
    }
    free (text);
    return refused ? -1 : 0;
}

/* ---- destinations checked at start ------------------------------------------ */

/* Creates, writes one byte to, fsyncs and removes a probe file in dir: a
   read-only or full file system is found before any round runs.  0, or -1
   with a line naming what, the path and errno. */
static int
s_probe_dir (const char *dir, const char *what)
{
    char probe[2048];
    snprintf (probe, sizeof probe, "%s/.fl-write-probe.%d", dir, (int) getpid ());
    int fd = open (probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int err = 0;
    if (fd < 0)
        err = errno;
    else {
        if (write (fd, "x", 1) != 1 || fsync (fd) != 0)
            err = errno ? errno : EIO;
        if (close (fd) != 0 && !err)
            err = errno;
        unlink (probe);
    }
    if (err) {
        fprintf (stderr, "fl-coordinator: cannot write the %s in %s: %s\n", what, dir, strerror (err));
        return -1;
    }
    return 0;
}

/* A file destination: its directory must take a new file (the model and
   the report are written beside it and renamed), and an existing file must
   be writable. */
static int
s_probe_file (const char *path, const char *what)
{
    char copy[1024];
    snprintf (copy, sizeof copy, "%s", path);
    struct stat st;
    if (stat (path, &st) == 0 && !S_ISREG (st.st_mode)) {
        /* a device such as /dev/full: only a write shows */
        int fd = open (path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf (stderr, "fl-coordinator: cannot write the %s %s: %s\n", what, path, strerror (errno));
            return -1;
        }
        close (fd);
        return 0;
    }
    return s_probe_dir (dirname (copy), what);
}

static void
s_iso_time (uint64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t) t;
    struct tm tm;
    gmtime_r (&tt, &tm);
    strftime (buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
main (int argc, char **argv)
{
    settings_t s;
    s_table ();
    s_defaults (&s);
    int rc = fl_args_parse (s_all, s_n_all, &s, argc, argv, "fl-coordinator",
                            "coordinator", NULL,
                            "Waits for --min-clients clients, runs round 0 (federated feature\n"
                            "standardisation) and --rounds training rounds, then writes the model.\n"
                            "Transport security and secure aggregation: see docs/SECURITY.md.\n"
                            "Exit status: 0 the run completed (or stopped by SIGTERM/SIGINT after its\n"
                            "last checkpoint, or by the privacy budget); 1 the run failed; 2 wrong\n"
                            "options; 3 an output (checkpoint, metrics, report, model) could not be\n"
                            "written.  See docs/COORDINATOR.md.",
                            NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (s.schema[0]) {              /* refused now, not after the run */
        char why[512];
        fl_schema_t *schema = fl_schema_load (s.schema, why, sizeof why);
        if (!schema) {
            fprintf (stderr, "fl-coordinator: --schema %s\n", why);
            return 2;
        }
        fl_schema_destroy (&schema);
    }
    if (sodium_init () < 0) {
        fprintf (stderr, "fl-coordinator: libsodium failed to initialise\n");
        return 1;
    }
    fl_log_format_t log_format;
    if (fl_log_format_parse (s.log_format, &log_format) != 0) {
        fprintf (stderr, "fl-coordinator: --log-format: '%s' is not text or json\n", s.log_format);
        return 2;
    }
    zsys_init ();
    zsys_set_logstream (stderr);      /* stdout carries only results and progress lines */
    zsys_set_logident ("fl-coordinator");
    if (s.quiet)
        zsys_set_logstream (NULL);
    else
        fl_log_init ("fl-coordinator", log_format);
    fl_roster_t *roster = NULL;
    zcert_t *cert = NULL;
    fl_round_t *round = NULL;
    fl_model_plugin_t *plugin = NULL;  /* opened here (--model-plugin); the round only makes models from it */
    fl_transport_t *tr = NULL;
    fl_server_t *server = NULL;
    fl_report_t *report = NULL;
    uint8_t *identity_sk = NULL;       /* sodium_malloc'd; signs the report */
    fl_checkpoint_t *resume_ck = NULL;
    FILE *csv = NULL;
    char *config_text = NULL;
    int exit_code = 0, output_failed = 0;
    uint64_t restarts[2 * S_MAX_RESTARTS];      /* (after round, unix time) of each resume */
    size_t n_restarts = 0;
    const char *ckdir = s.resume[0] ? s.resume : s.checkpoint_dir[0] ? s.checkpoint_dir : NULL;
    if (ckdir && mkdir (ckdir, 0700) != 0 && errno != EEXIST) {
        fprintf (stderr, "fl-coordinator: cannot create checkpoint directory %s: %s\n", ckdir, strerror (errno));
        exit_code = 1;
        goto done;
    }
    uint64_t resumed_at = 0;
    int from_prev_ck = 0;
    if (s.resume[0]) {
        bool from_prev = false;
        int lr = fl_checkpoint_load_dir (s.resume, &resume_ck, &from_prev);
        if (lr < 0) {
            fprintf (stderr, "fl-coordinator: cannot resume from %s: no usable checkpoint (see the log)\n", s.resume);
            exit_code = 1;
            goto done;
        }
        if (lr == 1)
            printf ("fl-coordinator: %s holds no checkpoint yet: starting a new run\n", s.resume);
        else {
            from_prev_ck = from_prev;
            resumed_at = fl_checkpoint_round (resume_ck);
            if (s_apply_run_config (&s, resume_ck, s.resume, argc, argv) != 0) {
                exit_code = 2;
                goto done;
            }
            const uint64_t *rs = NULL;
            size_t nrs = 0;
            if (fl_checkpoint_get_u64s (resume_ck, S_RESTARTS_KEY, &rs, &nrs) == 0 && nrs % 2 == 0) {
                size_t keep = nrs / 2 < S_MAX_RESTARTS - 1 ? nrs / 2 : S_MAX_RESTARTS - 1;
                memcpy (restarts, rs + (nrs - 2 * keep), 2 * keep * sizeof (uint64_t));
                n_restarts = keep;
            }
            restarts[2 * n_restarts] = resumed_at;
            restarts[2 * n_restarts + 1] = (uint64_t) time (NULL);
            n_restarts++;
        }
    }
    fl_round_config_t rcfg;
    if (s_round_config (&s, &rcfg) != 0)
        { exit_code = 2; goto done; }
    if (!s.r.plaintext && (!s.roster[0] || !s.cert[0])) {
        fprintf (stderr, "fl-coordinator: secure aggregation needs --roster and --cert (see fl-keygen); "
                         "--plaintext runs unmasked FedAvg instead\n");
        { exit_code = 2; goto done; }
    }
    {
        /* The model is validated before listening: a wrong --model, --hidden
           or plugin must not wait for members to join (any shape will do). */
        fl_model_config_t mc;
        memset (&mc, 0, sizeof mc);
        mc.n_inputs = 2;
        mc.n_classes = 2;
        mc.qat = rcfg.qat;
        fl_model_t *probe = NULL;
        if (s.r.hidden[0] && fl_model_parse_hidden (s.r.hidden, &mc) != 0)
            fprintf (stderr, "fl-coordinator: --hidden: '%s' is not a list of layer sizes such as 64,32\n", s.r.hidden);
        else if (!s.r.model_plugin[0] || (plugin = fl_model_plugin_open (s.r.model_plugin, NULL, 0)))
            probe = fl_model_make (plugin, s.r.model, &mc, NULL, 0);
        rcfg.model_plugin = plugin;     /* the round only makes models from it */
        if (!probe) {
            fprintf (stderr, "fl-coordinator: the model (--model %s%s%s%s%s) cannot be built (see the log)\n", s.r.model,
                     s.r.hidden[0] ? " --hidden " : "", s.r.hidden, s.r.model_plugin[0] ? " --model-plugin " : "",
                     s.r.model_plugin);
            exit_code = 2;
            goto done;
        }
        fl_model_destroy (&probe);
    }
    /* Every destination is checked before listening (docs/COORDINATOR.md). */
    if ((ckdir && s_probe_dir (ckdir, "checkpoint") != 0)
        || (s.metrics[0] && s_probe_file (s.metrics, "metrics CSV") != 0)
        || (s.report[0] && s_probe_file (s.report, "report") != 0)
        || (s.model_out[0] && s_probe_file (s.model_out, "model file") != 0)
        || (s.port_file[0] && s_probe_file (s.port_file, "port file") != 0)) {
        exit_code = 3;
        goto done;
    }
    if (s.roster[0] && !(roster = fl_roster_load (s.roster)))
        { exit_code = 1; goto done; }
    if (s.cert[0] && !(cert = fl_curve_cert_load (s.cert)))
        { exit_code = 1; goto done; }
    if (cert && !roster) {
        fprintf (stderr, "fl-coordinator: --cert needs --roster (the allowlist of member keys)\n");
        { exit_code = 2; goto done; }
    }
    if (cert && fl_roster_has_coordinator (roster)
        && strcmp (zcert_public_txt (cert), fl_roster_coordinator_curve_pk (roster)) != 0) {
        fprintf (stderr, "fl-coordinator: the certificate %s is not the coordinator's key in the roster %s\n",
                 s.cert, s.roster);
        { exit_code = 1; goto done; }
    }
    if (s.identity[0]) {
        if (!roster || !fl_roster_has_coordinator (roster)) {
            fprintf (stderr, "fl-coordinator: --identity needs --roster with a coordinator entry (the key a reader "
                             "of the report checks the signature against)\n");
            { exit_code = 2; goto done; }
        }
        if (!s.report[0]) {
            fprintf (stderr, "fl-coordinator: --identity signs the report: give --report too\n");
            { exit_code = 2; goto done; }
        }
        if (!(identity_sk = fl_identity_load_secret (s.identity))) {
            fprintf (stderr, "fl-coordinator: cannot load the identity secret key %s (see the log)\n", s.identity);
            { exit_code = 1; goto done; }
        }
        /* an Ed25519 secret key is seed || public key */
        if (sodium_memcmp (identity_sk + 32, fl_roster_coordinator_identity_pk (roster), 32) != 0) {
            fprintf (stderr, "fl-coordinator: the identity key %s is not the coordinator's identity key in the "
                             "roster %s\n", s.identity, s.roster);
            { exit_code = 1; goto done; }
        }
    }
    rcfg.roster = roster;
    {   /* TEST ONLY (tests/it_secure.sh): a coordinator that offers unsafe thresholds */
        const char *weak = getenv ("FL_TEST_WEAKEN_T");
        rcfg.test_weaken_threshold = weak && strcmp (weak, "1") == 0;
    }
    round = fl_round_new (&rcfg);
    if (!round)
        { exit_code = 2; goto done; }
    config_text = s_config_text (&s);
    if (!config_text)
        { exit_code = 1; goto done; }
    if (resume_ck) {
        int rr = fl_round_restore (round, resume_ck);
        fl_checkpoint_destroy (&resume_ck);
        if (rr != 0) {
            fprintf (stderr, "fl-coordinator: the checkpoint in %s does not fit this configuration (see the log)\n",
                     s.resume);
            exit_code = 1;
            goto done;
        }
        printf ("fl-coordinator: resuming after round %" PRIu64 "%s (restart %zu of this run)\n", resumed_at,
                from_prev_ck ? " (from the previous checkpoint: the latest was damaged)" : "", n_restarts);
    }

    fl_transport_config_t tcfg;
    memset (&tcfg, 0, sizeof tcfg);
    tcfg.endpoint = s.bind;
    tcfg.max_message_bytes = s.max_message_mb << 20;
    if (cert) {
        tcfg.own_cert = cert;
        tcfg.allow = fl_roster_certstore (roster);   /* zauth admits roster members only */
    }
    const char *mode = s.r.plaintext ? "plaintext FedAvg (updates are NOT masked)"
                                   : "secure aggregation (masked updates, round 0 statistics and evaluation counts; "
                                     "the coordinator learns only bucket sums)";
    const char *tag = s.r.plaintext ? "plaintext" : "secure";
    report = fl_report_new (s.run_name, mode);
    fl_report_set_config (report, "rounds %" PRIu64 ", min clients %zu, fraction %g, model %s%s%s, "
                          "local epochs %" PRIu64 ", batch %" PRIu64 ", client lr %g (%s), server %s lr %g, "
                          "aggregator %s, bucket size %zu",
                          s.r.rounds, s.min_clients, s.r.fraction, s.r.model, s.r.hidden[0] ? " " : "", s.r.hidden,
                          s.r.local_epochs, s.r.batch_size, s.r.client_lr, s.r.client_opt, s.r.server_opt, s.r.server_lr,
                          s.r.aggregator, s.r.bucket_size);
    if (n_restarts) {
        char list[2048] = "";
        size_t off = 0;
        for (size_t i = 0; i < n_restarts && off < sizeof list - 64; i++) {
            char when[32];
            s_iso_time (restarts[2 * i + 1], when, sizeof when);
            off += (size_t) snprintf (list + off, sizeof list - off, "%sresumed after round %" PRIu64 " at %s",
                                      i ? "; " : "", restarts[2 * i], when);
        }
        fl_report_add_fact (report, "Restarts", "%zu (%s)", n_restarts, list);
    }
    if (s.metrics[0]) {
        csv = fopen (s.metrics, "w");
        if (!csv) {
            fprintf (stderr, "fl-coordinator: cannot write the metrics CSV %s: %s\n", s.metrics, strerror (errno));
            { exit_code = 3; goto done; }
        }
        fl_report_csv_header (csv);
        if (fflush (csv) != 0 || ferror (csv)) {
            fprintf (stderr, "fl-coordinator: cannot write the metrics CSV %s: %s\n", s.metrics, strerror (errno));
            fclose (csv);
            csv = NULL;
            unlink (s.metrics);
            { exit_code = 3; goto done; }
        }
    }
    tr = fl_transport_server_new (&tcfg);
    if (!tr)
        { exit_code = 1; goto done; }
    if (s.port_file[0]) {
        FILE *pf = fopen (s.port_file, "w");
        if (!pf || fprintf (pf, "%d\n", fl_transport_port (tr)) < 0 || fclose (pf) != 0) {
            fprintf (stderr, "fl-coordinator: cannot write port file %s: %s\n", s.port_file, strerror (errno));
            { exit_code = 3; goto done; }
        }
    }
    printf ("fl-coordinator: listening on %s (port %d) [%s; transport %s]; waiting for %zu clients\n", s.bind,
            fl_transport_port (tr), mode, cert ? "CURVE-encrypted, roster members only" : "NOT encrypted",
            s.min_clients);
    s_report_privacy (report, &s, roster, cert != NULL);
    fflush (stdout);

    fl_server_config_t scfg;
    memset (&scfg, 0, sizeof scfg);
    scfg.round = round;
    scfg.transport = tr;
    scfg.report = report;
    scfg.progress = stdout;
    scfg.mode_tag = tag;
    scfg.rounds = s.r.rounds;
    scfg.metrics = csv;
    scfg.metrics_name = s.metrics;
    scfg.checkpoint_dir = ckdir;
    scfg.config_text = config_text;
    scfg.restarts = restarts;
    scfg.n_restarts = n_restarts;
    scfg.crash_at = s.crash_at;
    scfg.crash_round = s.crash_round;
    server = fl_server_new (&scfg);
    if (!server)
        { exit_code = 1; goto done; }
    fl_server_run (server);
    if (fl_server_output_failed (server))
        output_failed = 1;
    if (fl_server_metrics_failed (server)) {
        fclose (csv);               /* the failed write was logged; no more rows */
        csv = NULL;
    }
    int completed = 0, model_saved = 0;
    if (zsys_interrupted) {
        /* SIGTERM / SIGINT: the round in progress is abandoned; the last
           checkpoint holds every completed round.  An orderly stop (exit 0):
           members keep waiting and rejoin a resumed run by themselves. */
        uint64_t cur = fl_round_current (round);
        char outcome[1200];
        snprintf (outcome, sizeof outcome, "stopped by a signal in round %" PRIu64 " (abandoned)%s%s", cur,
                  ckdir ? "; resume with --resume " : "; no checkpoint (no --checkpoint-dir)", ckdir ? ckdir : "");
        printf ("fl-coordinator: %s\n", outcome);
        fl_report_set_outcome (report, outcome);
    }
    else if (fl_round_phase (round) == FL_ROUND_FAILED) {
        fprintf (stderr, "fl-coordinator: %s\n", fl_round_failure (round));
        char outcome[512];
        snprintf (outcome, sizeof outcome, "failed: %s", fl_round_failure (round));
        fl_report_set_outcome (report, outcome);
        exit_code = 1;
    }
    else if (fl_round_stop_reason (round)[0]) {
        /* differential privacy's budget or early stopping ended training early (cleanly) */
        printf ("fl-coordinator: %s\n", fl_round_stop_reason (round));
        char outcome[512];
        snprintf (outcome, sizeof outcome, "stopped early: %s", fl_round_stop_reason (round));
        fl_report_set_outcome (report, outcome);
        completed = 1;
    }
    else {
        fl_report_set_outcome (report, "completed");
        completed = 1;
    }
    if (rcfg.dp) {
        char g[2048];
        fl_round_dp_guarantee (round, g, sizeof g);
        printf ("fl-coordinator: differential privacy: %s\n", g);
        fl_report_add_privacy (report, "Differential privacy: %s", g);
        if (fl_round_dp_warning (round)) {
            printf ("fl-coordinator: warning: differential privacy: %s\n", fl_round_dp_warning (round));
            fl_report_add_privacy (report, "Warning: %s.", fl_round_dp_warning (round));
        }
        if (rcfg.dp_adaptive_clip) {
            fl_round_summary_t last;
            size_t nh = fl_round_history (round, 0, &last);
            if (nh)
                fl_round_history (round, nh - 1, &last);
            fl_report_add_privacy (report, "Clipping: adaptive (--dp-adaptive-clip, target quantile %g, rate %g): "
                                   "the clipping norm started at %g (the norm named above), the last round "
                                   "clipped at %g, and the next would clip at %g; every round's norm is in the "
                                   "metrics CSV, column clip_norm.", rcfg.dp_target_quantile, rcfg.dp_clip_lr,
                                   rcfg.clip_norm, nh ? last.clip_norm : NAN, fl_round_dp_clip_norm (round));
        }
    }
    s_report_run (report, round, &s);
    fl_report_set_eval_counts (report, fl_round_eval_counts (round));
    if (s.r.top_fraction > 0)
        fl_report_set_oppoint (report, "the top %g%% of rows by score, --top-fraction %g", 100 * s.r.top_fraction,
                               s.r.top_fraction);
    else
        fl_report_set_oppoint (report, "threshold %g, --threshold", s.r.threshold);
    fl_round_summary_t best;
    if (fl_round_best (round, &best)) {
        fl_report_set_best (report, &best);
        printf ("fl-coordinator: early stopping: the model is round %" PRIu64 "'s (federated evaluation log loss %.6f, "
                "AUROC %.4f, AUPRC %.4f)\n", best.round, best.eval.log_loss, best.eval.auroc, best.eval.auprc);
    }
    if (!s.r.plaintext && fl_round_sa_dropout (round) >= 0)
        fl_report_add_privacy (report, "Dropout tolerance (liveness, not privacy): the thresholds let a bucket "
                               "complete while at most %g of its members drop out%s.", fl_round_sa_dropout (round),
                               s.r.sa_dropout < 0 ? " (chosen per bucket size as the largest of 0.25, 0.2, ... 0 "
                               "with a safe threshold; --sa-dropout fixes it)" : "");
    if (!rcfg.dp)
        fl_report_add_privacy (report, "Differential privacy: none. The released model carries no formal guarantee "
                               "about any one record or member; a model can memorise parts of its training data.");
    if (s.model_out[0] && completed && fl_round_params (round)) {
        if (fl_server_save_model (round, rcfg.hidden, s.model_out) == 0
            && (!s.schema[0] || fl_modelfile_attach_schema (s.model_out, s.schema) == 0)) {
            printf ("fl-coordinator: model written to %s\n", s.model_out);
            model_saved = 1;
        }
        else {
            fprintf (stderr, "fl-coordinator: the model could not be written to %s (see the log)\n", s.model_out);
            output_failed = 1;
        }
    }
    else if (s.model_out[0])
        printf ("fl-coordinator: no model written to %s: the run did not complete%s\n", s.model_out,
                ckdir ? " (the checkpoint holds the last completed round's model)" : "");
    if (fl_round_params (round) && fl_round_fingerprint (round)) {
        /* The trained parameters' digest (proto/fl_modelfile): read back from
           the model file when one was written, so the report names exactly
           the file's parameters; else computed from the global model. */
        uint8_t dg[FL_MODELFILE_DIGESTBYTES];
        char dhex[2 * FL_MODELFILE_DIGESTBYTES + 1];
        if (!(model_saved && fl_modelfile_load_digest (s.model_out, dg, NULL) == 0))
            fl_modelfile_digest (fl_round_fingerprint (round), fl_round_params (round), fl_round_num_params (round),
                                 dg);
        sodium_bin2hex (dhex, sizeof dhex, dg, sizeof dg);
        fl_report_add_fact (report, FL_REPORT_DIGEST_LABEL, "blake2b-256 %s (the trained parameters%s%s; "
                            "`fl-model digest FILE` prints it from a model file; definition in docs/MODELS.md)", dhex,
                            model_saved ? ", as in " : "", model_saved ? s.model_out : "");
    }
    if (s.report[0]) {
        char html[1100], sig[1100];
        int rh = fl_report_sibling (s.report, ".html", html, sizeof html);
        int rs = fl_report_sibling (s.report, ".sig", sig, sizeof sig);
        if (fl_report_write (report, s.report) == 0)
            printf ("fl-coordinator: report written to %s\n", s.report);
        else {
            fprintf (stderr, "fl-coordinator: the report could not be written to %s (see the log)\n", s.report);
            output_failed = 1;
        }
        if (rh == 0 && fl_report_write_html (report, html) == 0)
            printf ("fl-coordinator: report written to %s\n", html);
        else {
            fprintf (stderr, "fl-coordinator: the HTML report could not be written beside %s (see the log)\n",
                     s.report);
            output_failed = 1;
        }
        if (identity_sk && !output_failed) {
            const char *files[2] = {s.report, html};
            if (rs == 0 && fl_report_sign (files, 2, identity_sk, sig) == 0)
                printf ("fl-coordinator: report signed with the coordinator's identity key: %s\n", sig);
            else {
                fprintf (stderr, "fl-coordinator: the report signature could not be written beside %s (see the "
                                 "log)\n", s.report);
                output_failed = 1;
            }
        }
    }
    if (output_failed && exit_code == 0) {
        fprintf (stderr, "fl-coordinator: an output could not be written (see above): exit 3\n");
        exit_code = 3;
    }
    zclock_sleep (200);       /* let the BYE / ERROR messages leave */
done:
    if (csv && fclose (csv) != 0 && exit_code == 0) {
        fprintf (stderr, "fl-coordinator: cannot write the metrics CSV %s: %s\n", s.metrics, strerror (errno));
        exit_code = 3;
    }
    free (config_text);
    fl_checkpoint_destroy (&resume_ck);
    fl_server_destroy (&server);
    fl_report_destroy (&report);
    fl_transport_destroy (&tr);
    fl_round_destroy (&round);
    fl_model_plugin_close (&plugin);    /* after the round, which borrows it */
    zcert_destroy (&cert);
    fl_identity_secret_destroy (&identity_sk);
    fl_roster_destroy (&roster);
    return exit_code;
}
