/*  fl_round - the coordinator's round state machine (sans I/O).

    fl_round decides everything the coordinator does during training and
    touches neither a socket nor a clock: the caller feeds it received
    payloads (with the peer's routing id and authenticated member id) and the
    current time in milliseconds, and drains the payloads it wants sent and
    the summaries of finished rounds.  The coordinator program (coordinator/)
    is the loop around it; tests drive it directly with simulated clients.

    One run:

        WAIT_CLIENTS --min_clients admitted--> STATS (round 0: federated
        standardisation) --> TRAIN(1) --> EVAL(1) --> TRAIN(2) ... EVAL(R) --> DONE

    STATS, TRAIN and EVAL each run one aggregation of their purpose
    (statistics / training / evaluation) over buckets, in the cohort room
    (fl_cohort.h): in secure mode one secure aggregation per bucket
    (docs/SECAGG.md), ending when the buckets do, so the coordinator sees
    only bucket sums; in plaintext the same buckets summed from the
    replies.  The phases are a states x events -> actions table
    (fl_round.c, s_transitions).

    Every phase ends when all expected replies are in or at its deadline,
    whichever comes first: a client that misses a deadline is dropped from
    that round, never waited for.  A round with fewer than min_updates
    updates leaves the global model unchanged (and says so).

    Invariants (checked in debug builds by s_invariants):
      1. The global model changes only in fl_strategy_step (fl_strategy.h)
         (and, with early stopping, once at the end of training, when it is
         replaced by the best round's global model: fl_round_best),
         called once per training round from s_act_train_done, in plaintext
         and secure mode alike, over the sums of the round's usable buckets
         (secure: aggregation completed; plaintext: at least one update
         arrived; plaintext FedAvg is one bucket holding the whole cohort),
         and only with an aggregate whose every value is finite (the server
         optimizer refuses any other; the round is then skipped).
      2. A reply is accepted only from a peer that was sent the request of
         the current phase and round, at most once.
      3. Every payload is decoded by fl_wire (validated) before any use; a bad
         payload is logged with the peer's name and dropped.
*/
#ifndef FL_ROUND_H_INCLUDED
#define FL_ROUND_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_metrics.h"
#include "fl_robust.h"
#include "fl_server_opt.h"
#include "fl_session.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_ROUND_RUNIDBYTES FL_SESSION_RUNIDBYTES     /* the run id (fl_session.h) */
#define FL_ROUND_MAX_PEERS 65535u

typedef enum {
    FL_ROUND_WAIT_CLIENTS = 0,
    FL_ROUND_STATS,
    FL_ROUND_TRAIN,
    FL_ROUND_EVAL,
    FL_ROUND_DONE,
    FL_ROUND_FAILED
} fl_round_phase_t;

typedef struct {
    /* schedule */
    size_t min_clients;          /* admitted clients needed before round 0 */
    size_t max_clients;          /* admission limit (0 = FL_ROUND_MAX_PEERS) */
    uint64_t rounds;             /* R training rounds */
    double fraction;             /* cohort = ceil(fraction * ready clients) ... */
    size_t min_cohort;           /* ... but at least this many (when available) */
    size_t min_updates;          /* fewer updates: round skipped, model unchanged */
    /* what clients are told to do each round */
    uint32_t local_epochs;
    uint32_t batch_size;
    double client_lr;
    char client_opt[16];         /* "sgd" | "momentum" | "adam" */
    uint64_t example_cap;        /* FedAvg weight cap per client (0 = none) */
    /* the model */
    char model[32];              /* built-in model name */
    char hidden[64];             /* MLP hidden sizes, "64,32" */
    struct fl_model_plugin_t *model_plugin;  /* opened by the driver (fl_model_plugin_open), borrowed:
                                    must outlive the round; the round only makes models from it.
                                    NULL = the built-in `model` */
    uint32_t qat;                /* FL_MODEL_QAT_* of the model, announced in WELCOME "qat" */
    uint64_t model_seed;         /* initialisation of the global model */
    size_t features;             /* 0 = taken from the first client's HELLO */
    size_t classes;              /* 0 = taken from the first client's HELLO */
    fl_server_opt_config_t server_opt;
    /* deadlines, milliseconds after the phase starts (0 = no limit for join) */
    int64_t join_timeout_ms;
    int64_t stats_deadline_ms;
    int64_t train_deadline_ms;
    int64_t eval_deadline_ms;
    int64_t liveness_ms;         /* a client silent this long is no longer sampled */
    uint64_t seed;               /* cohort sampling */
    uint8_t run_id[FL_ROUND_RUNIDBYTES];
    /* secure aggregation (docs/SECURITY.md).  When secure is set, updates
       are masked per bucket and the coordinator learns only each bucket's
       sum; clients are identified by the roster. */
    int secure;
    const struct fl_roster_t *roster;  /* borrowed; required when secure */
    double clip_norm;            /* L2 clipping norm C of each client update */
    size_t bucket_size;          /* s_min, clients per bucket at least (0 = the cohort is one bucket) */
    double sa_corrupt;           /* assumed fraction of clients colluding with the coordinator */
    double sa_dropout;           /* assumed fraction of clients dropping out of a bucket; -1 (default):
                                    the largest of 0.25, 0.2, ... 0 safe for each bucket size */
    int64_t secagg_deadline_ms;  /* deadline of each secure-aggregation phase after key advertisement */
    int test_weaken_threshold;   /* TEST ONLY (tests/it_secure.sh; fl-coordinator sets it from
                                    FL_TEST_WEAKEN_T=1): offer half the safe threshold, as a malicious
                                    coordinator would; every client must refuse.  Logged loudly. */
    /* robust aggregation over bucket means (docs/ROBUSTNESS.md).  When
       robust is set, clients send unweighted updates, each bucket's mean is
       its sum divided by its planned size (a fixed denominator), and the
       rule below combines the bucket means.  Otherwise the aggregate is the
       FedAvg weighted mean over every bucket's sum. */
    int robust;
    fl_robust_kind_t robust_kind;
    fl_robust_params_t robust_params;
    int allow_small_buckets;     /* accept bucket_size below FL_ROUND_SAFE_BUCKET, and (if the
                                    roster policy's min_bucket is 2) secure buckets of 2, where
                                    each member learns the other's update */
    /* differential privacy (docs/PRIVACY.md).  dp = FL_ROUND_DP_RECORD or
       FL_ROUND_DP_CLIENT turns it on; it needs a robust rule (robust = 1:
       fixed-denominator bucket means; FedAvg's weighted mean is refused).
       Gaussian noise, on the integer grid, is added to the robust aggregate,
       calibrated to the rule's sensitivity to one unit; an RDP accountant
       tracks (epsilon, delta) and training stops before dp_epsilon would
       be exceeded. */
    int dp;                      /* FL_ROUND_DP_OFF | _RECORD | _CLIENT */
    double dp_epsilon;           /* budget; 0 = none (then dp_noise_multiplier is required) */
    double dp_delta;             /* delta of the (epsilon, delta) guarantee, in (0, 1) */
    double dp_noise_multiplier;  /* z; < 0 = the smallest z with epsilon <= dp_epsilon after
                                    `rounds` rounds (fl_dp_find_noise_multiplier); 0 = no noise
                                    (epsilon = infinity, for comparisons only) */
    double dp_clip;              /* record-level: per-example L2 clipping norm C_rec */
    uint32_t dp_steps;           /* record-level: local Poisson batches per round K (>= 1) */
    int dp_distributed;          /* distributed noise (needs secure): each client adds its share of
                                    discrete Gaussian noise to its encoded update before masking, so
                                    every bucket sum the coordinator unmasks is already noised and
                                    the coordinator adds none (Kairouz, Liu, Steinke 2021;
                                    docs/PRIVACY.md, "Distributed noise") */
    /* adaptive clipping (client-level only; Andrew, Thakkar, McMahan,
       Ramaswamy 2021, Algorithm 1; docs/PRIVACY.md "Adaptive clipping"):
       clip_norm is the starting norm C_0; every round each client reports
       whether its update was unclipped (masked, in secure mode), the
       coordinator releases the noisy count and moves C towards the
       dp_target_quantile of the update norms.  The accountant keeps charging
       the noise multiplier z; the update noise uses z_delta
       (fl_dp_adaclip_update_z). */
    int dp_adaptive_clip;        /* 1: adapt clip_norm each round */
    double dp_target_quantile;   /* gamma in [0, 1]: target fraction of unclipped updates (0.5) */
    double dp_clip_lr;           /* eta_C > 0: C <- C exp(-eta_C (b - gamma)) (0.2) */
    double dp_count_noise;       /* sigma_b: noise on the count; < 0 = expected cohort size / 20,
                                    0 = none (only with dp_noise_multiplier 0) */
    /* imbalance and model selection (docs/TRAINING.md), sent to every member
       in TRAIN ("class_weight", "weight_decay") so all train the same loss */
    int class_weight_balanced;   /* 1: each member weights class c by n / (k n_c) from its own
                                    training label counts (sklearn class_weight="balanced") */
    double weight_decay;         /* L2 weight decay of local training, in [0, FL_ROUND_MAX_WEIGHT_DECAY] */
    uint32_t early_stop;         /* patience P: after P rounds without a lower federated evaluation
                                    log loss training stops; the global model at the end is the best
                                    round's (0 = off: the last round's) */
    double op_threshold;         /* reported operating point (fl_round_summary_t.op): flag scores >= it */
    double op_top_fraction;      /* or, if > 0, flag this fraction of the evaluation rows by score */
    /* a training deadline that follows the work (--train-deadline auto;
       docs/COORDINATOR.md, "Deadlines").  With train_deadline_auto set, round
       r's training deadline is FL_ROUND_AUTO_FACTOR x the slowest update
       accepted in the last FL_ROUND_AUTO_WINDOW rounds (the time from the
       cohort's start to the update, or in secure mode to the key
       advertisement the member sends after training), at least
       train_deadline_ms and at most train_deadline_max_ms; before any
       update was accepted it is train_deadline_max_ms, and after a round
       that accepted none, twice the last deadline (at most the max). */
    int train_deadline_auto;
    int64_t train_deadline_max_ms;   /* auto: the bound and the first round's deadline (> 0) */
    /* Record-level mechanism (docs/PRIVACY.md "Record-level").  Default (0):
       local DP-SGD: every member takes dp_steps DP-SGD steps per round that
       move its local model, each on a Poisson sample (rate batch_size over
       the mean announced training-set size), with per-example clipping to
       dp_clip and discrete Gaussian noise added by the member itself; the
       accountant composes dp_steps steps per round.  1: the earlier central
       mechanism (sums of clipped gradients at the global model, the noise
       added by the coordinator, one SGD step per round; also the only
       record-level mechanism dp_distributed applies to). */
    int dp_record_central;
} fl_round_config_t;

/*  The largest weight decay a round accepts (fl_client's default policy too). */
#define FL_ROUND_MAX_WEIGHT_DECAY 1.0

#define FL_ROUND_AUTO_FACTOR 3       /* --train-deadline auto: deadline = 3 x the slowest recent update */
#define FL_ROUND_AUTO_WINDOW 5       /* ... of the last 5 rounds */
#define FL_ROUND_AUTO_FLOOR_MS 5000  /* fl-coordinator --train-deadline auto: the floor (train_deadline_ms) */

/* Privacy units (fl_round_config_t.dp, and "dp_unit" in TRAIN): the
   protocol's, defined once in fl_session.h. */
#define FL_ROUND_DP_OFF    FL_SESSION_DP_OFF
#define FL_ROUND_DP_RECORD FL_SESSION_DP_RECORD
#define FL_ROUND_DP_CLIENT FL_SESSION_DP_CLIENT

/*  The smallest bucket the coordinator accepts by default: with secure
    aggregation it sees sums of at least this many members' updates. */
#define FL_ROUND_SAFE_BUCKET 3u

/*  The largest global model a client's HELLO may imply (when the shape is
    not configured): 16 Mi parameters, 64 MiB of float32. */
#define FL_ROUND_MAX_PARAMS (16u << 20)

/*  What one finished round did (also the row of the metrics CSV). */
typedef struct {
    uint64_t round;
    size_t ready;                /* clients ready when the cohort was sampled */
    size_t cohort;               /* clients sent the model */
    size_t updates;              /* updates aggregated */
    size_t dropped;              /* cohort members that missed the deadline or were rejected */
    size_t buckets;              /* secure mode: buckets planned */
    size_t buckets_aborted;      /* secure mode: buckets whose secure aggregation aborted */
    size_t eval_clients;         /* clients whose evaluation was counted (secure mode: the survivors
                                    of the evaluation buckets whose secure aggregation completed) */
    int skipped;                 /* 1: too few updates, model unchanged */
    double train_loss;           /* example-weighted mean of the clients' reported loss */
    double update_norm;          /* L2 norm of the applied aggregate update */
    fl_metrics_summary_t eval;   /* federated evaluation of the new global model */
    double epsilon;              /* DP: epsilon spent after this round (at dp_delta); NaN without DP */
    double clip_norm;            /* adaptive clipping: the clipping norm C_t this round used; NaN otherwise */
    int rule_degenerate;         /* 1: the robust rule was the plain mean of the buckets this round
                                    (trimmed_mean trimmed nothing; median / geometric median of 1 or 2
                                    buckets), logged; fl_strategy_rule_check */
    int best;                    /* early stopping: 1 if this round's federated evaluation log loss was
                                    the lowest so far (its model is the one kept); 0 otherwise or off */
    /* imbalance (binary tasks; NaN / 0 for multi-class, whose federated counts carry no
       histograms): from the summed score histograms, not exact scores (fl_metrics.h) */
    double brier;                /* Brier score, bins at their midpoints (within 1/1000) */
    fl_metrics_oppoint_t op;     /* at cfg.op_threshold / cfg.op_top_fraction, whole bins flagged */
    double min_class_share;      /* the smaller class's share of the evaluation examples */
    double train_deadline;       /* seconds: the training deadline this round was given */
    double train_slowest;        /* seconds from the cohort's start to its slowest accepted update (secure:
                                    key advertisement); NaN if none was accepted before the deadline */
    double train_slowest_earlier;   /* the largest train_slowest of the FL_ROUND_AUTO_WINDOW rounds
                                    before; NaN if none (a round that drops every update says so) */
} fl_round_summary_t;

typedef struct fl_round_t fl_round_t;

/*  Fills cfg with the defaults documented in docs/COORDINATOR.md
    (plaintext; secure aggregation needs a roster). */
void fl_round_config_default (fl_round_config_t *cfg);

/*  A state machine for one run.  The configuration is copied.  NULL (with a
    log line) on an invalid configuration: unknown model or optimizer, rounds
    == 0, fraction outside (0, 1], min_clients == 0, non-positive deadlines or
    learning rate, a weight decay outside [0, FL_ROUND_MAX_WEIGHT_DECAY], an
    operating point out of range, or class weights / weight decay with
    record-level DP. */
fl_round_t *fl_round_new (const fl_round_config_t *cfg);
void fl_round_destroy (fl_round_t **self_p);

/*  Starts the clock: now_ms is the caller's monotonic time.  Call once. */
void fl_round_start (fl_round_t *self, int64_t now_ms);

/*  Feeds one received payload.  id/id_len: the transport's routing id of the
    sender; member: its authenticated member id ("" in plaintext mode, where
    the member id from HELLO is used for log lines).  Never fails: invalid
    input is logged and dropped.  Returns 1 if the payload was accepted, 0
    if it was rejected. */
int fl_round_on_message (fl_round_t *self, int64_t now_ms, const uint8_t *id, size_t id_len,
                         const char *member, const uint8_t *data, size_t len);

/*  Advances on the clock: closes a phase whose deadline has passed.  Call
    whenever fl_round_next_timeout_ms says so (or more often). */
void fl_round_on_tick (fl_round_t *self, int64_t now_ms);

/*  Milliseconds until the next deadline (>= 0), or -1 if none is pending. */
int64_t fl_round_next_timeout_ms (const fl_round_t *self, int64_t now_ms);

/*  Next payload to send: returns 1 and sets (*id, *id_len) (owned by self, valid
    until the next call) and (*data, *len) (ownership passes to the caller: free
    with free()), or 0 when the outbox is empty. */
int fl_round_next_out (fl_round_t *self, const uint8_t **id, size_t *id_len,
                       uint8_t **data, size_t *len);

/*  Like fl_round_next_out, but a large model is not copied into every
    message: the payload is (*data, *len) (owned by the caller, free with
    free()) followed by (*tail, *tail_len) (owned by self, valid until the
    next call of this function or fl_round_destroy; NULL and 0 when the
    message is all in *data).  Messages of one batch (the TRAIN or EVALUATE
    invitations of a phase) share the same tail, with the same
    *tail_serial: a nonzero number unique within this round (0 when there is
    no tail), so a transport can copy each tail once and send it by
    reference.  The receiver sees data followed by tail as one message, byte
    for byte what fl_round_next_out returns.  Shared when the model is at
    least 64 KiB on a little-endian host.  Returns 1, or 0 when the outbox
    is empty. */
int fl_round_next_out_shared (fl_round_t *self, const uint8_t **id, size_t *id_len,
                              uint8_t **data, size_t *len,
                              const uint8_t **tail, size_t *tail_len, uint64_t *tail_serial);

/*  Next finished round: returns 1 and fills *out, or 0 if none is pending. */
int fl_round_next_summary (fl_round_t *self, fl_round_summary_t *out);

fl_round_phase_t fl_round_phase (const fl_round_t *self);
/*  During a secure phase (round 0 statistics, training or evaluation: all
    three run per-bucket secure aggregation): the least advanced bucket's
    secure-aggregation state (fl_secagg_server_state_t: 0 advertise .. 4
    unmask), or -1 when no secure aggregation is running.  For progress reports and
    fault-injection tests. */
int fl_round_secure_state (const fl_round_t *self);
const char *fl_round_phase_name (fl_round_phase_t phase);
/*  Current round number (0 during standardisation). */
uint64_t fl_round_current (const fl_round_t *self);
/*  Clients admitted so far (including ones that went silent). */
size_t fl_round_clients (const fl_round_t *self);
/*  Reason the run failed (FL_ROUND_FAILED), or "". */
const char *fl_round_failure (const fl_round_t *self);

/*  The global model: NULL until the first client fixed the input shape. */
const float *fl_round_params (const fl_round_t *self);
size_t fl_round_num_params (const fl_round_t *self);
/*  Feature standardisation computed in round 0 (NULL before): d floats each. */
const float *fl_round_mean (const fl_round_t *self);
const float *fl_round_std (const fl_round_t *self);
size_t fl_round_features (const fl_round_t *self);
size_t fl_round_classes (const fl_round_t *self);
/*  The run id: FL_ROUND_RUNIDBYTES bytes, the configured one or, after
    fl_round_restore, the checkpoint's.  Owned by self. */
const uint8_t *fl_round_run_id (const fl_round_t *self);
/*  The global model's fingerprint (32 bytes: fl_model_fingerprint of name,
    version and shapes), or NULL before the first client fixed the shape. */
const uint8_t *fl_round_fingerprint (const fl_round_t *self);
/*  Writes the ids of the members admitted so far, each once (a member that
    reconnected counts once), in order of first admission, comma separated,
    to buf (cap > 0 bytes, always terminated; ", ..." ends a list that did not
    fit).  In secure mode the ids are the roster's, authenticated by CURVE; in
    plaintext mode they are what the clients claimed in HELLO.  Returns the
    number of distinct members. */
size_t fl_round_member_names (const fl_round_t *self, char *buf, size_t cap);

/*  The merged federated-evaluation counts (score histograms) of the last
    evaluation that completed, or under early stopping those of the kept
    (best) round's evaluation (after a resume, until a new best round: the
    last evaluation's, as the checkpoint does not hold counts): what the run
    report's ROC, precision-recall and calibration plots are drawn from.  Owned by self; n_classes == 0 when
    no evaluation has completed (or during one).  In secure mode these are
    the bucket sums the coordinator unmasked, nothing more. */
const fl_metrics_counts_t *fl_round_eval_counts (const fl_round_t *self);

/*  The bindings clients sign in secure aggregation's consistency check
    are the protocol's (fl_session.h): the old names stay as aliases. */
#define fl_round_binding       fl_session_model_binding
#define fl_round_stats_binding fl_session_stats_binding

/*  Checkpoints (docs/CHECKPOINT.md).  When a round completes, fl_round
    snapshots what a resumed run needs: run id, round, global model, server
    optimizer state, standardisation, every finished round's summary,
    robust-step state.  take_checkpoint hands the latest snapshot to the
    caller (who writes it, e.g. with fl_checkpoint_save_dir), or NULL if
    none is pending.  Caller owns the result. */
struct fl_checkpoint_t;
struct fl_checkpoint_t *fl_round_take_checkpoint (fl_round_t *self);

/*  Continues a run from a checkpoint: call after fl_round_new and before any
    client joined.  The run id, round, model and optimizer state come from
    the checkpoint; admitted clients get the saved standardisation and
    training resumes at the next round (no round 0).  Cohorts are drawn from
    (seed, round), so a resumed run samples what the uninterrupted one would.
    -1 (logged, nothing changed that matters: destroy and start afresh) if
    the checkpoint lacks fields, holds invalid values, or was written for
    another model, shape or aggregation mode. */
int fl_round_restore (fl_round_t *self, const struct fl_checkpoint_t *ck);

/*  Finished rounds so far (including restored ones); fills *out with the
    i-th if i is in range. */
size_t fl_round_history (const fl_round_t *self, size_t i, fl_round_summary_t *out);

/*  The global model (its ops and parameters), or NULL before the first
    client fixed the shape.  Owned by self; the caller must not change it
    (it is not const only because fl_modelfile_save recomputes the model's
    fingerprint through the ops table).  The round writes no file: the
    driver saves the model (fl_server_save_model). */
fl_model_t *fl_round_model (const fl_round_t *self);

/* ---- early stopping (cfg.early_stop; docs/TRAINING.md) ---------------------- */

/*  The best round so far: the one whose federated evaluation log loss was the
    lowest (the first of equal ones), whose global model the round keeps.
    Returns its number and fills *out (may be NULL) with its summary, or 0
    (out untouched) without early stopping or before a round with a finite
    log loss finished.  When training ends (DONE: the rounds ran out, the
    patience ran out, or the privacy budget stopped it) the global model
    (fl_round_params, fl_round_model) is replaced by the best round's, so the
    driver saves that one; fl_round_stop_reason says when the patience
    ended the run ("no lower federated evaluation log loss in P rounds ..."). */
uint64_t fl_round_best (const fl_round_t *self, fl_round_summary_t *out);

/* ---- differential privacy (docs/PRIVACY.md) -------------------------------- */

/*  Why training ended before the planned rounds (e.g. "the privacy budget
    epsilon = 3 would be exceeded by round 21 (epsilon 3.04)"), or "" when
    it did not stop early.  The phase is then FL_ROUND_DONE, not FAILED. */
const char *fl_round_stop_reason (const fl_round_t *self);

/*  Epsilon spent so far at dp_delta (NaN without DP; +inf with no noise). */
double fl_round_dp_epsilon (const fl_round_t *self);

/*  Noise multiplier z in use (after calibration) and the sample rate the
    accountant charges per round (record-level: 1 - (1 - q)^K for Poisson
    rate q and K local batches; client-level: the cohort rate).  NaN before
    the first training round fixed them, or without DP. */
double fl_round_dp_noise_multiplier (const fl_round_t *self);
double fl_round_dp_sample_rate (const fl_round_t *self);

/*  The last round's release: the L2 sensitivity the noise was calibrated
    to and the noise's standard deviation sigma (in the units of the robust
    aggregate: model differences client-level, sums of clipped gradients
    record-level; sigma 0 with no noise).  NaN before the first release.
    With dp_distributed the released quantities are the bucket sums: the
    sensitivity is that of one bucket's sum (C or K C_rec, plus the
    encoding's rounding) and sigma the smallest standard deviation of the
    clients' noise any used bucket sum carried (sqrt(survivors) sigma_i /
    scale), which is at least z times the sensitivity. */
void fl_round_dp_last_noise (const fl_round_t *self, double *sensitivity, double *sigma);

/*  Adaptive clipping (cfg.dp_adaptive_clip): the clipping norm the next
    round will use (C_t, or C_0 before the first round), the count noise
    sigma_b and the update's noise multiplier z_delta in use (NaN until the
    first training round fixed them), and the last released noisy fraction
    of unclipped updates (unclamped; NaN before the first release).  All NaN
    without adaptive clipping. */
double fl_round_dp_clip_norm (const fl_round_t *self);

void fl_round_dp_adaclip (const fl_round_t *self, double *sigma_b, double *z_delta, double *last_frac);

/*  The noise-versus-signal warning of the run so far (owned by the round,
    valid until it is destroyed), or NULL: record-level local DP-SGD whose
    noise is larger than the signal it carries (fl_privacy_warning). */
const char *fl_round_dp_warning (const fl_round_t *self);

/*  The dropout fraction secure aggregation assumed: cfg.sa_dropout when it
    was given; with the default (auto) the smallest the run chose for any
    bucket so far (fl_secagg_params_choose_auto), or -1 before the first
    secure bucket.  A fraction in [0, 1): the share of a bucket that may
    drop out while the bucket still completes (docs/SECAGG.md §5). */
double fl_round_sa_dropout (const fl_round_t *self);

/*  The guarantee as one sentence (unit, epsilon, delta, assumptions; with
    adaptive clipping also the count noise and z_delta), written to buf (cap
    bytes, always terminated; 2048 always suffices).  "" without DP. */
void fl_round_dp_guarantee (const fl_round_t *self, char *buf, size_t cap);

/*  Checkpoint support: the privacy spend as flat doubles.
      [0] FL_ROUND_DP_STATE_VERSION, [1] noise multiplier z (NaN if not yet
      fixed), [2] per-round sample rate (NaN if not yet fixed), [3] per-example
      Poisson rate q (record-level; NaN otherwise), [4] adaptive clipping: the
      clipping norm of the next round C_t (NaN without adaptive clipping),
      [5] adaptive clipping: the count noise sigma_b (NaN if not yet fixed or
      without adaptive clipping), [6 ..] fl_accountant_export.
    fl_round_dp_state writes FL_ROUND_DP_STATE_HEADER + the accountant's
    doubles (FL_ACCOUNTANT_STATE_DOUBLES (151) = 306 with the default orders:
    312 in all) to out[0..cap) and returns how many, or 0 (nothing written)
    without DP or if cap is too small.  fl_round_dp_restore also reads
    version 1 (header of 4, no adaptive clipping: a run configured with
    adaptive clipping then starts from its configured C_0).  A state with a
    C_t is refused by a run without adaptive clipping (resume with the same
    options).
    fl_round_dp_restore takes such a state (untrusted: from a checkpoint
    file), checks it (version, finite positive rates and z, the accountant's
    own checks) and replaces the accountant, z and the rates: call it after
    fl_round_new and before the first training round.  A resumed run keeps
    charging the restored accountant, so the budget covers both runs.
    Returns 0, or -1 (and logs, nothing changed) without DP, on a malformed
    state, or once a training round has started. */
#define FL_ROUND_DP_STATE_VERSION 2
#define FL_ROUND_DP_STATE_HEADER 6u
#define FL_ROUND_DP_STATE_HEADER_V1 4u
size_t fl_round_dp_state (const fl_round_t *self, double *out, size_t cap);
int fl_round_dp_restore (fl_round_t *self, const double *in, size_t n);

#ifdef __cplusplus
}
#endif
#endif
