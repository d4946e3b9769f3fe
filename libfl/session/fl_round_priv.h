/*  fl_round_priv.h - the coordinator round's object, shared only by the
    files of the round class in libfl/session/ (not installed; callers use
    fl_round.h):
      fl_round.c           phases (the states x events -> actions table),
                           messages, deadlines, the outbox;
      fl_round_config.c    configuration defaults and checks;
      fl_round_snapshot.c  per-round history, checkpoints, resume;
      fl_round_query.c     what the round reports (accessors).
*/
#ifndef FL_ROUND_PRIV_H_INCLUDED
#define FL_ROUND_PRIV_H_INCLUDED

#include "fl_round.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_checkpoint.h"
#include "fl_cohort.h"
#include "fl_model.h"
#include "fl_peers.h"
#include "fl_privacy.h"
#include "fl_metrics.h"
#include "fl_rng.h"
#include "fl_roster.h"
#include "fl_session.h"
#include "fl_stats.h"
#include "fl_strategy.h"
#include "fl_train.h"
#include "fl_wire.h"

/* The public constants of fl_round.h name the rooms' own. */
_Static_assert (FL_ROUND_DP_RECORD == FL_PRIVACY_RECORD && FL_ROUND_DP_CLIENT == FL_PRIVACY_CLIENT,
                "the round's privacy units are the privacy room's");
_Static_assert (FL_ROUND_DP_STATE_VERSION == FL_PRIVACY_STATE_VERSION
                    && FL_ROUND_DP_STATE_HEADER == FL_PRIVACY_STATE_HEADER
                    && FL_ROUND_DP_STATE_HEADER_V1 == FL_PRIVACY_STATE_HEADER_V1,
                "the round's privacy-state layout is the privacy room's");
_Static_assert (FL_ROUND_MAX_PEERS == FL_PEERS_MAX, "the round's admission limit is the peer table's");

/* A peer: fl_peers.h (admission, liveness and strikes live there). */
typedef fl_peer_t s_peer_t;

/*  Doubles per finished round in a checkpoint's history. */
#define FL_ROUND_HIST_ 20

/*  A model's encoded bytes shared by the messages of one invitation batch
    (TRAIN or EVALUATE to every member): the messages hold only their own
    head and a reference, so the outbox holds one model copy, not n. */
typedef struct s_tail_t {
    size_t refs;
    uint64_t serial;                 /* unique within the round, never 0 */
    size_t len;
    uint8_t data[];
} s_tail_t;

typedef struct s_out_t {
    size_t peer;                     /* index in the peer table (stable: entries are never removed) */
    uint8_t *data;
    size_t len;
    s_tail_t *tail;                  /* NULL, or bytes that follow data in the message (a reference) */
    struct s_out_t *next;
} s_out_t;

typedef struct s_summary_node_t {
    fl_round_summary_t s;
    struct s_summary_node_t *next;
} s_summary_node_t;

struct fl_round_t {
    fl_round_config_t cfg;
    fl_round_phase_t phase;
    uint64_t round;
    int64_t phase_deadline;          /* wait-clients: the join timeout, absolute ms; -1 = none */
    char failure[256];

    fl_peers_t *peer_table;          /* admission, liveness, strikes (fl_peers.h) */
    s_peer_t *peers;                 /* = fl_peers_table (peer_table), n_peers entries: refreshed after
                                        fl_peers_route, the only call that grows the table */
    size_t n_peers;

    fl_model_t *model;               /* the global model (shape and fingerprint) */
    uint8_t fingerprint[32];
    float *params;                   /* = fl_model_params (model) */
    size_t n_params;
    fl_server_opt_t *opt;
    float *scratch;                  /* (n_params) decoded update / aggregate */

    /* round 0 */
    size_t features, classes;
    fl_stats_t *stats;
    float *mean, *std;

    /* current round */
    fl_round_summary_t cur;
    fl_metrics_counts_t eval_acc;

    /* the current phase's aggregation (statistics, training, evaluation) */
    fl_cohort_t *cohort;             /* buckets, secure or plaintext (fl_cohort.h) */
    uint32_t purpose;                /* FL_SECAGG_PURPOSE_* of the aggregation the cohort runs */
    uint8_t binding[32];             /* secure: what members sign (fl_session_*_binding) */
    fl_strategy_state_t strategy;    /* the last robust aggregate (centered clipping starts there), work */
    fl_checkpoint_t *pending_ckpt;   /* state after the last completed round, not yet taken */
    double *history;                 /* (rounds, FL_ROUND_HIST_)  every finished round's summary, for checkpoints */
    size_t n_history;

    s_out_t *out_head, *out_tail;
    uint64_t tail_serial;            /* last s_tail_t serial given */
    s_tail_t *cur_tail;              /* the tail fl_round_next_out_shared last handed out (a reference) */
    s_summary_node_t *sum_head, *sum_tail;

    fl_privacy_t *privacy;           /* differential privacy (docs/PRIVACY.md); NULL without */
    char stop_reason[256];

    /* early stopping (cfg.early_stop): the best round by federated evaluation log loss */
    float *best_params;              /* (n_params) its global model; NULL until the first finite loss */
    uint64_t best_round;             /* 0 = none yet */
    double best_loss;
    uint64_t since_best;             /* rounds finished since the best one */
    fl_round_summary_t best_sum;
    fl_metrics_counts_t best_counts;  /* its merged evaluation counts (n_classes 0: none, e.g. after a resume) */
    /* training deadlines (--train-deadline auto; fl_round_config_t) */
    int64_t train_started;           /* ms: the current training cohort's start */
    int64_t train_deadline;          /* ms: the deadline it was given */
    int64_t train_slowest;           /* ms: its slowest accepted update so far; -1 = none */
    int64_t slowest_hist[FL_ROUND_AUTO_WINDOW];  /* the last rounds' train_slowest (-1: none accepted) */
    size_t n_slowest;                /* rounds recorded (the ring's next slot is n_slowest % window) */
};

/*  Checkpoint fields of early stopping: "early_stop.state" f64s
    [FL_ROUND_EARLY_VERSION, best round, best log loss, rounds since] and
    "early_stop.params" f32s (n_params), the best round's model. */
#define FL_ROUND_EARLY_VERSION 1
#define FL_ROUND_EARLY_STATE_ "early_stop.state"
#define FL_ROUND_EARLY_PARAMS_ "early_stop.params"

/*  Builds the global model (and its optimizer, work buffers and statistics)
    once the input shape is known.  0, or -1 (logged). */
int fl_round_build_model_ (fl_round_t *self);

/*  The privacy room's view of the run's configuration. */
void fl_round_privacy_config_ (const fl_round_config_t *cfg, fl_privacy_config_t *pc);

/*  0 if cfg (and pc, its privacy view) can run; else -1 with the reason in
    buf (cap bytes). */
int fl_round_config_check_ (const fl_round_config_t *cfg, const fl_privacy_config_t *pc, char *buf, size_t cap);
/*  The bucket count of a round when exactly min_clients are ready
    (ceil(fraction x min_clients), at least min_cohort, at most
    min_clients, over bucket_size; at least 1). */
size_t fl_round_expected_buckets_ (const fl_round_config_t *cfg);
/*  The robust rule at the expected bucket count (fl_strategy_rule_check):
    0 if it is meaningful, or if it is a median / geometric median of 1 or 2
    buckets (logged once: it runs, as the plain mean); -1 with the reason
    in buf when it would refuse every round, or is a trimmed mean that
    trims nothing. */
int fl_round_rule_check_ (const fl_round_config_t *cfg, char *buf, size_t cap);

/*  Appends a finished round's summary to the history checkpoints carry. */
void fl_round_history_add_ (fl_round_t *self, const fl_round_summary_t *s);

/*  The round is complete: builds the checkpoint a resume continues from
    (taken by fl_round_take_checkpoint). */
void fl_round_snapshot_ (fl_round_t *self);

#endif
