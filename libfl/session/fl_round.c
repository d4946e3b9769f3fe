/*  fl_round.c - the coordinator's round state machine (see fl_round.h for
    the phases and invariants).

    Definitions.
      peer      a connection known by its transport routing id.
      admitted  a peer whose HELLO was accepted (it got WELCOME).
      ready     admitted, standardisation sent, and heard from within
                liveness_ms: the pool cohorts are sampled from.
      expected  the peers a phase is waiting for; a reply is accepted from an
                expected peer once (invariant 2).

    Why sans I/O: the same code runs under the real ZeroMQ loop, under unit
    tests with simulated clients, and under the fuzzer; time is an input.
*/
#include "fl_round.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_checkpoint.h"
#include "fl_cohort.h"
#include "fl_dataset.h"
#include "fl_dp.h"
#include "fl_stats.h"
#include "fl_model.h"
#include "fl_metrics_wire.h"
#include "fl_modelfile.h"
#include "fl_peers.h"
#include "fl_privacy.h"
#include "fl_quant.h"
#include "fl_rng.h"
#include "fl_roster.h"
#include "fl_secagg.h"
#include "fl_secagg_wire.h"
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

typedef struct s_out_t {
    size_t peer;                     /* index in the peer table (stable: entries are never removed) */
    uint8_t *data;
    size_t len;
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
    int64_t phase_deadline;          /* absolute ms; -1 = none */
    int64_t started;
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
    fl_rng_t *rng;

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
    double *history;                 /* (rounds, S_HIST) every finished round's summary, for checkpoints */
    size_t n_history;

    s_out_t *out_head, *out_tail;
    s_summary_node_t *sum_head, *sum_tail;

    fl_privacy_t *privacy;           /* differential privacy (docs/PRIVACY.md); NULL without */
    char stop_reason[256];
};


/* ---- helpers ---------------------------------------------------------------- */

const char *
fl_round_phase_name (fl_round_phase_t phase)
{
    static const char *names[] = {"wait-clients", "stats", "train", "evaluate", "done", "failed"};
    return (unsigned) phase < sizeof names / sizeof names[0] ? names[phase] : "?";
}

static void s_send_simple (fl_round_t *self, s_peer_t *peer, fl_wire_type_t type, const char *reason);

/* The run ends in failure: every admitted member is told why (ERROR
   "run aborted: ..."; the client logs it and exits non-zero) instead of
   waiting for a coordinator that is gone. */
static void
s_fail (fl_round_t *self, const char *why)
{
    snprintf (self->failure, sizeof self->failure, "%.255s", why);
    self->phase = FL_ROUND_FAILED;
    self->phase_deadline = -1;
    if (self->cohort)
        fl_cohort_end (self->cohort);   /* secure buckets' secrets wiped */
    zsys_error ("coordinator: run failed: %s", why);
    char reason[320];
    snprintf (reason, sizeof reason, "run aborted: %s", why);
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i].admitted)
            s_send_simple (self, &self->peers[i], FL_WIRE_ERROR, reason);
}

/* Queues len encoded bytes (taken: freed here on failure) for peer index i. */
static void
s_enqueue_bytes (fl_round_t *self, size_t i, uint8_t *data, size_t len)
{
    s_out_t *o = (s_out_t *) calloc (1, sizeof *o);
    if (!o) {
        free (data);
        return;
    }
    o->peer = i;
    o->data = data;
    o->len = len;
    if (self->out_tail)
        self->out_tail->next = o;
    else
        self->out_head = o;
    self->out_tail = o;
}

static void
s_enqueue (fl_round_t *self, s_peer_t *peer, fl_wire_writer_t *w)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fl_wire_writer_finish (&w, &buf, &len) != 0) {
        zsys_error ("coordinator: could not encode a message for %s", peer->name);
        return;
    }
    s_enqueue_bytes (self, (size_t) (peer - self->peers), buf, len);
}

static fl_wire_writer_t *
s_writer (fl_round_t *self, fl_wire_type_t type)
{
    return fl_wire_writer_new (type, self->cfg.run_id, self->round);
}

/* TRAIN with what every member of a round gets: the global model, its
   fingerprint and the local training configuration.  Callers add the
   secure-aggregation session and the DP settings. */
static fl_wire_writer_t *
s_train_writer (fl_round_t *self)
{
    fl_wire_writer_t *w = s_writer (self, FL_WIRE_TRAIN);
    fl_wire_put_f32s (w, FL_K_PARAMS, self->params, self->n_params);
    fl_wire_put_bin (w, FL_K_FP, self->fingerprint, sizeof self->fingerprint);
    fl_wire_put_u64 (w, FL_K_EPOCHS, self->cfg.local_epochs);
    fl_wire_put_u64 (w, FL_K_BATCH, self->cfg.batch_size);
    fl_wire_put_f64 (w, FL_K_LR, self->cfg.client_lr);
    fl_wire_put_str (w, FL_K_OPT, self->cfg.client_opt);
    fl_wire_put_u64 (w, FL_K_SEED, self->cfg.seed * 1000003u + self->round);
    fl_wire_put_u64 (w, FL_K_CAP, self->cfg.robust ? 0 : self->cfg.example_cap);   /* 0: unweighted */
    return w;
}

static void
s_send_simple (fl_round_t *self, s_peer_t *peer, fl_wire_type_t type, const char *reason)
{
    fl_wire_writer_t *w = s_writer (self, type);
    if (reason)
        fl_wire_put_str (w, FL_K_REASON, reason);
    s_enqueue (self, peer, w);
}

#ifndef NDEBUG
static int
s_invariants (const fl_round_t *self)
{
    if (self->phase == FL_ROUND_TRAIN || self->phase == FL_ROUND_EVAL)
        if (!self->params)
            return 0;
    size_t admitted = 0;
    for (size_t i = 0; i < self->n_peers; i++) {
        const s_peer_t *p = &self->peers[i];
        admitted += p->admitted;
        if (p->answered && !p->expected)
            return 0;
        if (p->ready && !p->admitted)
            return 0;
    }
    return admitted == fl_peers_admitted (self->peer_table);
}
#endif

/* Round 0 statistics, training and evaluation each run one aggregation
   (fl_cohort); the other phases run none. */
static int
s_aggregating (const fl_round_t *self)
{
    return self->phase == FL_ROUND_STATS || self->phase == FL_ROUND_TRAIN || self->phase == FL_ROUND_EVAL;
}

static void s_history_add (fl_round_t *self, const fl_round_summary_t *s);
static void s_snapshot (fl_round_t *self);

/*  The clipping norm this round's contributions are bounded by: the
    privacy room's (adapted, or record-level the contribution bound) with
    differential privacy, else the configured one. */
static double
s_clip_norm (const fl_round_t *self)
{
    return self->privacy ? fl_privacy_clip_norm (self->privacy) : self->cfg.clip_norm;
}

/* ---- construction -------------------------------------------------------- */

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
}

/*  The privacy room's view of the run's configuration. */
static void
s_privacy_config (const fl_round_config_t *cfg, fl_privacy_config_t *pc)
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
}

fl_round_t *
fl_round_new (const fl_round_config_t *cfg)
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
    fl_privacy_config_t pc;
    s_privacy_config (cfg, &pc);
    if (!bad && (cfg->dp || cfg->dp_distributed))
        bad = fl_privacy_config_error (&pc);
    if (bad) {
        zsys_error ("coordinator: invalid configuration: %s", bad);
        return NULL;
    }
    fl_round_t *self = (fl_round_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->phase = FL_ROUND_WAIT_CLIENTS;
    self->phase_deadline = -1;
    self->rng = fl_rng_new_u64 (cfg->seed, 0x636f686f7274ull /* "cohort" */);   /* kept for liveness checks */
    self->features = cfg->features;
    self->classes = cfg->classes;
    self->peer_table = fl_peers_new (cfg->max_clients);
    if (cfg->dp)
        self->privacy = fl_privacy_new (&pc);
    fl_cohort_config_t cc = {cfg->secure, cfg->bucket_size, cfg->robust, cfg->roster, cfg->sa_corrupt,
                             cfg->sa_dropout, cfg->allow_small_buckets, cfg->secagg_deadline_ms, cfg->example_cap,
                             cfg->test_weaken_threshold};
    if (self->peer_table && (!cfg->dp || self->privacy))
        self->cohort = fl_cohort_new (&cc, self->peer_table, self->privacy);
    if (!self->rng || !self->peer_table || (cfg->dp && !self->privacy) || !self->cohort) {
        fl_rng_destroy (&self->rng);
        fl_peers_destroy (&self->peer_table);
        fl_privacy_destroy (&self->privacy);
        free (self);
        return NULL;
    }
    if (cfg->bucket_size)
        zsys_info ("coordinator: cohorts are split into buckets of at least %zu clients: %s", cfg->bucket_size,
                   cfg->secure ? "the coordinator sees only each bucket's sum of updates"
                               : "plaintext mode, the coordinator sees every update");
    return self;
}

void
fl_round_destroy (fl_round_t **self_p)
{
    assert (self_p);
    fl_round_t *self = *self_p;
    if (!self)
        return;
    while (self->out_head) {
        s_out_t *o = self->out_head;
        self->out_head = o->next;
        free (o->data);
        free (o);
    }
    while (self->sum_head) {
        s_summary_node_t *s = self->sum_head;
        self->sum_head = s->next;
        free (s);
    }
    fl_cohort_destroy (&self->cohort);
    fl_strategy_state_clear (&self->strategy);
    free (self->history);
    fl_checkpoint_destroy (&self->pending_ckpt);
    fl_model_destroy (&self->model);
    fl_server_opt_destroy (&self->opt);
    fl_stats_destroy (&self->stats);
    fl_rng_destroy (&self->rng);
    fl_privacy_destroy (&self->privacy);
    free (self->scratch);
    free (self->mean);
    free (self->std);
    fl_peers_destroy (&self->peer_table);
    free (self);
    *self_p = NULL;
}

/* Builds the global model once the input shape is known. */
static int
s_build_model (fl_round_t *self)
{
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = self->features;
    mc.n_classes = self->classes;
    mc.seed = self->cfg.model_seed;
    mc.qat = self->cfg.qat;
    if (self->cfg.hidden[0] && fl_model_parse_hidden (self->cfg.hidden, &mc) != 0)
        return -1;
    if (self->cfg.model_plugin[0])       /* WELCOME then names the plugin's model */
        self->model = fl_model_load_plugin (self->cfg.model_plugin, &mc, NULL, 0);
    else
        self->model = fl_model_new (self->cfg.model, &mc);
    if (!self->model)
        return -1;
    if (strlen (fl_model_name (self->model)) >= sizeof self->cfg.model) {
        zsys_error ("coordinator: model name '%s' is too long for WELCOME", fl_model_name (self->model));
        return -1;
    }
    snprintf (self->cfg.model, sizeof self->cfg.model, "%s", fl_model_name (self->model));
    self->params = fl_model_params (self->model);
    self->n_params = fl_model_num_params (self->model);
    fl_model_fingerprint (self->model, self->fingerprint);
    self->opt = fl_server_opt_new (&self->cfg.server_opt, self->n_params);
    self->scratch = (float *) calloc (self->n_params, sizeof (float));
    self->stats = fl_stats_new (self->features);
    if (!self->opt || !self->scratch || !self->stats)
        return -1;
    zsys_info ("coordinator: global model %s (%zu inputs, %zu classes, %zu parameters)",
               self->cfg.model, self->features, self->classes, self->n_params);
    return 0;
}

void
fl_round_start (fl_round_t *self, int64_t now_ms)
{
    self->started = now_ms;
    self->phase_deadline = self->cfg.join_timeout_ms > 0 ? now_ms + self->cfg.join_timeout_ms : -1;
}

/* ---- phases: states x events -> actions ------------------------------------

    The round is a table (zproto's shape): in each phase an event names one
    action, and an action returns the next event (S_EV_NONE: wait for the
    world).  s_dispatch runs the chain; nothing else changes the phase
    except s_fail, which any action may call (the run is FAILED, no
    further event).  Messages that every phase hears the same way (HELLO,
    HEARTBEAT, BYE, ERROR) are the "defaults" superstate in
    fl_round_on_message.

        phase         event           action              next event
        wait-clients  enough-clients  s_act_begin         (stats or training starts)
        wait-clients  join-timeout    s_act_join_timeout  - (FAILED)
        stats         cohort-done     s_act_stats_done    next-round
        stats, eval   next-round      s_act_train         evaluate (round skipped), cohort-done, -
        train         cohort-done     s_act_train_done    evaluate
        train         evaluate        s_act_eval          cohort-done, -
        eval          cohort-done     s_act_eval_done     next-round | finished
        eval          finished        s_act_finish        - (DONE)
*/

typedef enum {
    S_EV_NONE,
    S_EV_ENOUGH_CLIENTS,             /* admission: min_clients admitted and the model built */
    S_EV_JOIN_TIMEOUT,               /* ... not before the join timeout */
    S_EV_COHORT_DONE,                /* the phase's aggregation is over (fl_cohort_done) */
    S_EV_NEXT_ROUND,                 /* statistics known, or the last round evaluated with rounds left */
    S_EV_EVALUATE,                   /* the training round ended (or was skipped) */
    S_EV_FINISHED,                   /* the last round evaluated */
    S_EV_COUNT
} s_event_t;

typedef s_event_t (*s_action_t) (fl_round_t *self, int64_t now);

static void
s_clear_expected (fl_round_t *self)
{
    for (size_t i = 0; i < self->n_peers; i++)
        self->peers[i].expected = self->peers[i].answered = 0;
}

static void
s_send_standardise (fl_round_t *self, s_peer_t *p)
{
    fl_wire_writer_t *w = s_writer (self, FL_WIRE_STANDARDISE);
    fl_wire_put_f32s (w, FL_K_MEAN, self->mean, self->features);
    fl_wire_put_f32s (w, FL_K_STD, self->std, self->features);
    s_enqueue (self, p, w);
    p->ready = 1;
}

/*  Turns what the cohort queued into messages, in order: an invitation
    becomes the purpose's request (TRAIN: the model and training
    configuration; STATS_REQUEST; EVALUATE: the model), with the bucket's
    session in a secure run and the DP settings for training; a secure-
    aggregation message goes out as it is. */
static void
s_drain_cohort (fl_round_t *self)
{
    fl_cohort_out_t o;
    while (fl_cohort_next_out (self->cohort, &o)) {
        s_peer_t *p = &self->peers[o.peer];
        if (o.data) {
            s_enqueue_bytes (self, o.peer, o.data, o.len);
            continue;
        }
        fl_wire_writer_t *w;
        if (self->purpose == FL_SECAGG_PURPOSE_TRAIN) {
            w = s_train_writer (self);
            if (self->cfg.secure)
                fl_wire_put_f64 (w, FL_K_CLIP, s_clip_norm (self));
        }
        else if (self->purpose == FL_SECAGG_PURPOSE_STATS)
            w = s_writer (self, FL_WIRE_STATS_REQUEST);
        else {
            w = s_writer (self, FL_WIRE_EVALUATE);
            fl_wire_put_f32s (w, FL_K_PARAMS, self->params, self->n_params);
            fl_wire_put_bin (w, FL_K_FP, self->fingerprint, sizeof self->fingerprint);
        }
        if (o.announce)
            fl_session_announce_put (w, self->purpose, o.announce);
        if (self->purpose == FL_SECAGG_PURPOSE_TRAIN && self->privacy)
            fl_privacy_put_train (self->privacy, w, o.sigma_i);
        s_enqueue (self, p, w);
    }
}

/*  Starts the phase's aggregation of purpose over the members idx[0..k):
    the cohort room forms the buckets and invites them.  Returns the next
    event: cohort-done when nothing is left to wait for in a secure run
    (every bucket was left out), else none; none after a failure. */
static s_event_t
s_start_cohort (fl_round_t *self, uint32_t purpose, const uint32_t *idx, size_t k, int64_t deadline_ms,
                int64_t now)
{
    self->purpose = purpose;
    if (self->cfg.secure) {
        if (purpose == FL_SECAGG_PURPOSE_STATS)
            fl_round_stats_binding (self->fingerprint, self->features, self->binding);
        else
            fl_round_binding (self->fingerprint, self->params, self->n_params, self->binding);
    }
    fl_cohort_spec_t spec = {self->cfg.run_id, self->round, purpose, deadline_ms, self->n_params,
                             self->features, self->classes, self->binding, s_clip_norm (self)};
    char why[512];
    if (fl_cohort_start (self->cohort, &spec, idx, k, now, why, sizeof why) != 0) {
        s_fail (self, why);
        return S_EV_NONE;
    }
    if (purpose == FL_SECAGG_PURPOSE_TRAIN && (self->cfg.secure || self->cfg.robust))
        self->cur.buckets = fl_cohort_buckets (self->cohort);   /* plaintext FedAvg reports no buckets */
    s_drain_cohort (self);
    return self->cfg.secure && fl_cohort_done (self->cohort) ? S_EV_COHORT_DONE : S_EV_NONE;
}

/*  Round 0: every admitted member, in buckets (secure: the coordinator
    learns only each bucket's sums of (count, Σx, Σx²)). */
static s_event_t
s_act_stats (fl_round_t *self, int64_t now)
{
    self->phase = FL_ROUND_STATS;
    self->round = 0;
    s_clear_expected (self);
    uint32_t *idx = (uint32_t *) calloc (self->n_peers + 1, sizeof (uint32_t));
    if (!idx) {
        s_fail (self, "out of memory");
        return S_EV_NONE;
    }
    size_t k = 0;
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i].admitted)
            idx[k++] = (uint32_t) i;
    zsys_info ("coordinator: round 0: federated standardisation with %zu clients%s",
               fl_peers_admitted (self->peer_table), self->cfg.secure ? ", through secure aggregation" : "");
    s_event_t ev = s_start_cohort (self, FL_SECAGG_PURPOSE_STATS, idx, k, self->cfg.stats_deadline_ms, now);
    free (idx);
    return ev;
}

/*  Round 0 ended: the global statistics are the sum of the buckets that
    completed (a secure bucket that aborted leaves its members out; they
    still get the standardisation); every admitted member gets it. */
static s_event_t
s_act_stats_done (fl_round_t *self, int64_t now)
{
    (void) now;
    size_t ok = 0, members = 0, B = fl_cohort_buckets (self->cohort);
    int rc = fl_cohort_stats (self->cohort, self->stats, &ok, &members);
    fl_cohort_end (self->cohort);
    s_clear_expected (self);
    if (rc != 0) {
        s_fail (self, "out of memory");
        return S_EV_NONE;
    }
    if (self->cfg.secure) {
        if (ok == 0) {
            s_fail (self, "no bucket's secure aggregation of the round 0 feature statistics completed "
                          "(too many clients dropped out or sent invalid data)");
            return S_EV_NONE;
        }
        zsys_info ("coordinator: round 0: statistics of %zu client(s) from %zu of %zu bucket(s)", members, ok, B);
    }
    uint64_t count = fl_stats_count (self->stats);
    if (count == 0) {
        s_fail (self, "no client reported feature statistics in round 0");
        return S_EV_NONE;
    }
    /* sum x² >= (sum x)² / n holds for any honest data (Cauchy-Schwarz): a
       clearly negative variance means a tampered or wrapped sum */
    for (size_t j = 0; j < self->features; j++) {
        double n = (double) count, mu = fl_stats_sum (self->stats)[j] / n, ex2 = fl_stats_sumsq (self->stats)[j] / n;
        if (!isfinite (mu) || !isfinite (ex2) || ex2 - mu * mu < -(1e-9 * ex2 + 1e-9)) {
            char why[160];
            snprintf (why, sizeof why, "round 0: the global statistics of feature %zu are inconsistent "
                      "(negative variance): tampered or wrapped sums", j);
            s_fail (self, why);
            return S_EV_NONE;
        }
    }
    self->mean = (float *) calloc (self->features, sizeof (float));
    self->std = (float *) calloc (self->features, sizeof (float));
    if (!self->mean || !self->std || fl_stats_finalize (self->stats, self->mean, self->std) != 0) {
        s_fail (self, "could not compute the global feature statistics");
        return S_EV_NONE;
    }
    zsys_info ("coordinator: round 0: global mean/std from %" PRIu64 " training examples", count);
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i].admitted)
            s_send_standardise (self, &self->peers[i]);
    return S_EV_NEXT_ROUND;
}

/*  The run is DONE: nothing is waited for, every admitted member gets BYE
    with reason. */
static void
s_end_training (fl_round_t *self, const char *reason)
{
    self->phase = FL_ROUND_DONE;
    self->phase_deadline = -1;
    fl_cohort_end (self->cohort);
    s_clear_expected (self);
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i].admitted)
            s_send_simple (self, &self->peers[i], FL_WIRE_BYE, reason);
}

/*  Differential privacy before a training round: the privacy room fixes
    its parameters from the admitted members and charges the round, or says
    why training stops (budget: the same goodbye as after the last round)
    or fails.  0: the round may start. */
static int
s_privacy_before_round (fl_round_t *self)
{
    fl_privacy_population_t pop = {fl_peers_admitted (self->peer_table), 0, 0, 0};
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i].admitted && self->peers[i].n_train > 0) {
            pop.train_sum += (double) self->peers[i].n_train;
            pop.train_max = fmax (pop.train_max, (double) self->peers[i].n_train);
            pop.with_train++;
        }
    char why[512];
    int rc = fl_privacy_before_round (self->privacy, &pop, self->round + 1, why, sizeof why);
    if (rc < 0)
        s_fail (self, why);
    else if (rc > 0) {
        snprintf (self->stop_reason, sizeof self->stop_reason, "%.255s", why);
        s_end_training (self, "training finished: privacy budget reached");
        zsys_warning ("coordinator: %s", self->stop_reason);
    }
    return rc;
}

/*  A training round: the cohort is the first k of a permutation of the
    ready members drawn from (seed, round) alone, so a run resumed from a
    checkpoint samples exactly the cohorts it would have (client-level DP:
    a Poisson cohort from the privacy room instead). */
static s_event_t
s_act_train (fl_round_t *self, int64_t now)
{
    if (self->privacy && s_privacy_before_round (self) != 0)
        return S_EV_NONE;            /* budget exhausted (training ended) or a DP failure */
    self->phase = FL_ROUND_TRAIN;
    self->round++;
    s_clear_expected (self);
    memset (&self->cur, 0, sizeof self->cur);
    self->cur.round = self->round;
    self->cur.epsilon = self->privacy ? fl_privacy_round_epsilon (self->privacy) : NAN;
    self->cur.clip_norm = fl_round_dp_clip_norm (self);

    uint32_t *idx = (uint32_t *) calloc (self->n_peers + 1, sizeof (uint32_t));
    fl_rng_t *crng = fl_rng_new_u64 (self->cfg.seed ^ 0x636f686f7274ull, self->round);
    if (!idx || !crng) {
        free (idx);
        fl_rng_destroy (&crng);
        s_fail (self, "out of memory");
        return S_EV_NONE;
    }
    size_t ready = fl_peers_ready (self->peer_table, now, self->cfg.liveness_ms, idx);
    size_t k = (size_t) ceil (self->cfg.fraction * (double) ready);
    if (k < self->cfg.min_cohort)
        k = self->cfg.min_cohort;
    if (k > ready)
        k = ready;
    fl_rng_shuffle_u32 (crng, idx, ready);
    fl_rng_destroy (&crng);
    if (self->cfg.dp == FL_ROUND_DP_CLIENT)
        k = fl_privacy_poisson_cohort (self->privacy, idx, ready);   /* replaces the fixed-size cohort (CSPRNG) */
    self->cur.ready = ready;
    self->cur.cohort = k;
    if (self->cfg.dp == FL_ROUND_DP_CLIENT && k < fl_privacy_min_cohort (self->privacy)) {
        /* smaller than one bucket: skipped (its charge stays: conservative) */
        self->cur.skipped = 1;
        zsys_warning ("coordinator: round %" PRIu64 ": the Poisson cohort has %zu client(s), fewer than one bucket "
                      "(%zu); global model unchanged", self->round, k, fl_privacy_min_cohort (self->privacy));
        free (idx);
        return S_EV_EVALUATE;
    }
    /* the permutation also assigns plaintext buckets (consecutive runs of it) */
    s_event_t ev = s_start_cohort (self, FL_SECAGG_PURPOSE_TRAIN, idx, k, self->cfg.train_deadline_ms, now);
    free (idx);
    return ev;
}

/*  The end of a training round: the usable buckets' sums go through the
    strategy, the one place the global model changes (invariant 1).
    Usable: secure, its aggregation completed; plaintext, at least one
    member's update arrived. */
static s_event_t
s_act_train_done (fl_round_t *self, int64_t now)
{
    (void) now;
    fl_strategy_bucket_t *pb = (fl_strategy_bucket_t *) calloc (fl_cohort_buckets (self->cohort) + 1, sizeof *pb);
    if (!pb) {
        s_fail (self, "out of memory");
        return S_EV_NONE;
    }
    size_t unusable = 0;
    size_t nb = fl_cohort_train (self->cohort, pb, &unusable);
    self->cur.buckets_aborted += unusable;
    fl_strategy_config_t sc = {self->cfg.robust, self->cfg.robust_kind, self->cfg.robust_params, self->cfg.min_updates};
    fl_strategy_result_t res;
    int rc = fl_strategy_step (&sc, &self->strategy, pb, nb, self->n_params, self->privacy, self->cur.ready,
                               self->round, self->opt, self->params, self->scratch, &res);
    free (pb);
    fl_cohort_end (self->cohort);
    s_clear_expected (self);
    if (rc != 0) {
        s_fail (self, "out of memory");
        return S_EV_NONE;
    }
    self->cur.updates = res.updates;
    self->cur.dropped = self->cur.cohort > res.updates ? self->cur.cohort - res.updates : 0;
    self->cur.train_loss = res.train_loss;
    self->cur.update_norm = res.update_norm;
    self->cur.skipped |= res.skipped;
    return S_EV_EVALUATE;
}

/*  Evaluation: every ready member, in buckets (secure: the coordinator
    learns only each bucket's summed counts and histograms). */
static s_event_t
s_act_eval (fl_round_t *self, int64_t now)
{
    self->phase = FL_ROUND_EVAL;
    s_clear_expected (self);
    fl_metrics_counts_init (&self->eval_acc);
    uint32_t *idx = (uint32_t *) calloc (self->n_peers + 1, sizeof (uint32_t));
    if (!idx) {
        s_fail (self, "out of memory");
        return S_EV_NONE;
    }
    size_t ready = fl_peers_ready (self->peer_table, now, self->cfg.liveness_ms, idx);
    s_event_t ev = s_start_cohort (self, FL_SECAGG_PURPOSE_EVAL, idx, ready, self->cfg.eval_deadline_ms, now);
    free (idx);
    return ev;
}

/*  The round is complete: its summary is queued and recorded, and a
    snapshot taken (what a resume continues from). */
static s_event_t
s_act_eval_done (fl_round_t *self, int64_t now)
{
    (void) now;
    size_t B = fl_cohort_buckets (self->cohort), clients = 0, ok = 0;
    fl_cohort_eval (self->cohort, &self->eval_acc, &clients, &ok);
    self->cur.eval_clients += clients;
    if (self->cfg.secure && ok < B)
        zsys_warning ("coordinator: round %" PRIu64 ": evaluation counted %zu client(s) from %zu of %zu bucket(s)",
                      self->round, self->cur.eval_clients, ok, B);
    fl_cohort_end (self->cohort);
    s_clear_expected (self);
    fl_metrics_counts_summary (&self->eval_acc, &self->cur.eval);
    s_summary_node_t *node = (s_summary_node_t *) calloc (1, sizeof *node);
    if (node) {
        node->s = self->cur;
        if (self->sum_tail)
            self->sum_tail->next = node;
        else
            self->sum_head = node;
        self->sum_tail = node;
    }
    s_history_add (self, &self->cur);
    s_snapshot (self);
    return self->round >= self->cfg.rounds ? S_EV_FINISHED : S_EV_NEXT_ROUND;
}

static s_event_t
s_act_finish (fl_round_t *self, int64_t now)
{
    (void) now;
    s_end_training (self, "training finished");
    zsys_info ("coordinator: training finished after %" PRIu64 " rounds", self->round);
    return S_EV_NONE;
}

/*  Admission is complete: round 0, or (resumed: round 0 happened before
    the restart) the next training round. */
static s_event_t
s_act_begin (fl_round_t *self, int64_t now)
{
    return self->mean ? s_act_train (self, now) : s_act_stats (self, now);
}

static s_event_t
s_act_join_timeout (fl_round_t *self, int64_t now)
{
    (void) now;
    char why[128];
    snprintf (why, sizeof why, "only %zu of %zu clients joined before the join timeout",
              fl_peers_admitted (self->peer_table), self->cfg.min_clients);
    s_fail (self, why);
    return S_EV_NONE;
}

static const s_action_t s_transitions[FL_ROUND_FAILED + 1][S_EV_COUNT] = {
    [FL_ROUND_WAIT_CLIENTS] = {[S_EV_ENOUGH_CLIENTS] = s_act_begin, [S_EV_JOIN_TIMEOUT] = s_act_join_timeout},
    [FL_ROUND_STATS] = {[S_EV_COHORT_DONE] = s_act_stats_done, [S_EV_NEXT_ROUND] = s_act_train},
    [FL_ROUND_TRAIN] = {[S_EV_COHORT_DONE] = s_act_train_done, [S_EV_EVALUATE] = s_act_eval},
    [FL_ROUND_EVAL] = {[S_EV_COHORT_DONE] = s_act_eval_done, [S_EV_NEXT_ROUND] = s_act_train,
                       [S_EV_FINISHED] = s_act_finish},
};

/*  Runs event ev and the chain of events its actions return. */
static void
s_dispatch (fl_round_t *self, s_event_t ev, int64_t now)
{
    while (ev != S_EV_NONE) {
        assert ((unsigned) self->phase <= FL_ROUND_FAILED && ev < S_EV_COUNT);
        s_action_t act = s_transitions[self->phase][ev];
        assert (act || self->phase == FL_ROUND_FAILED || self->phase == FL_ROUND_DONE);
        if (!act)
            return;
        ev = act (self, now);
    }
}

/*  After a message or a deadline: the phase's aggregation may be over. */
static void
s_maybe_advance (fl_round_t *self, int64_t now)
{
    if (s_aggregating (self) && fl_cohort_done (self->cohort))
        s_dispatch (self, S_EV_COHORT_DONE, now);
}

/* ---- checkpoints ------------------------------------------------------- */

#define S_HIST 20    /* doubles per finished round in a checkpoint */

static void
s_summary_pack (const fl_round_summary_t *s, double *h)
{
    double v[S_HIST] = {(double) s->round, (double) s->ready, (double) s->cohort, (double) s->updates,
                        (double) s->dropped, (double) s->buckets, (double) s->buckets_aborted, (double) s->eval_clients,
                        (double) s->skipped, s->train_loss, s->update_norm, s->eval.accuracy, s->eval.log_loss,
                        s->eval.auroc, s->eval.auprc, s->eval.precision, s->eval.recall, (double) s->eval.n, s->epsilon,
                        isnan (s->clip_norm) ? 0 : s->clip_norm};
    memcpy (h, v, sizeof v);
}

static void
s_summary_unpack (const double *h, fl_round_summary_t *s)
{
    memset (s, 0, sizeof *s);
    s->round = (uint64_t) h[0];
    s->ready = (size_t) h[1];
    s->cohort = (size_t) h[2];
    s->updates = (size_t) h[3];
    s->dropped = (size_t) h[4];
    s->buckets = (size_t) h[5];
    s->buckets_aborted = (size_t) h[6];
    s->eval_clients = (size_t) h[7];
    s->skipped = (int) h[8];
    s->train_loss = h[9];
    s->update_norm = h[10];
    s->eval.accuracy = h[11];
    s->eval.log_loss = h[12];
    s->eval.auroc = h[13];
    s->eval.auprc = h[14];
    s->eval.precision = h[15];
    s->eval.recall = h[16];
    s->eval.n = (uint64_t) h[17];
    s->epsilon = h[18];
    s->clip_norm = h[19] > 0 ? h[19] : NAN;    /* 0: no adaptive clipping (or an older checkpoint) */
}

static void
s_history_add (fl_round_t *self, const fl_round_summary_t *s)
{
    double *h = (double *) realloc (self->history, (self->n_history + 1) * S_HIST * sizeof (double));
    if (!h)
        return;
    self->history = h;
    s_summary_pack (s, h + self->n_history * S_HIST);
    self->n_history++;
}

/* What identifies "the same run" across a restart: the model and its shape. */
static void
s_config_fp (const fl_round_t *self, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, 32);
    crypto_generichash_update (&st, self->fingerprint, 32);
    crypto_generichash_update (&st, (const uint8_t *) &self->cfg.secure, sizeof self->cfg.secure);
    crypto_generichash_final (&st, out, 32);
}

static void
s_snapshot (fl_round_t *self)
{
    fl_checkpoint_destroy (&self->pending_ckpt);
    fl_checkpoint_t *ck = fl_checkpoint_new (self->cfg.run_id, self->round);
    if (!ck)
        return;
    uint8_t cfp[32];
    s_config_fp (self, cfp);
    int rc = 0;
    rc |= fl_checkpoint_put_bytes (ck, FL_CHECKPOINT_KEY_CONFIG_FP, cfp, 32);
    rc |= fl_checkpoint_put_u64 (ck, "shape.features", self->features);
    rc |= fl_checkpoint_put_u64 (ck, "shape.classes", self->classes);
    rc |= fl_checkpoint_put_f32s (ck, FL_CHECKPOINT_KEY_PARAMS, self->params, self->n_params);
    rc |= fl_checkpoint_put_f32s (ck, FL_CHECKPOINT_KEY_OPT_STATE, fl_server_opt_state (self->opt),
                                  fl_server_opt_state_len (self->opt));
    rc |= fl_checkpoint_put_u64 (ck, FL_CHECKPOINT_KEY_OPT_STEP, fl_server_opt_steps (self->opt));
    rc |= fl_checkpoint_put_f32s (ck, FL_CHECKPOINT_KEY_MEAN, self->mean, self->features);
    rc |= fl_checkpoint_put_f32s (ck, FL_CHECKPOINT_KEY_STD, self->std, self->features);
    rc |= fl_checkpoint_put_f64s (ck, FL_CHECKPOINT_KEY_METRICS, self->history, self->n_history * S_HIST);
    uint64_t rng[2] = {self->cfg.seed, self->round};
    rc |= fl_checkpoint_put_u64s (ck, FL_CHECKPOINT_KEY_RNG, rng, 2);
    if (self->strategy.prev_agg)
        rc |= fl_checkpoint_put_f64s (ck, "robust.prev", self->strategy.prev_agg, self->n_params);
    if (self->privacy)   /* the privacy spend: a restart must not reset the budget */
        rc |= fl_privacy_checkpoint_put (self->privacy, ck);
    if (rc != 0) {
        zsys_error ("coordinator: could not build the checkpoint of round %" PRIu64, self->round);
        fl_checkpoint_destroy (&ck);
        return;
    }
    self->pending_ckpt = ck;
}

fl_checkpoint_t *
fl_round_take_checkpoint (fl_round_t *self)
{
    fl_checkpoint_t *ck = self->pending_ckpt;
    self->pending_ckpt = NULL;
    return ck;
}

int
fl_round_restore (fl_round_t *self, const fl_checkpoint_t *ck)
{
    char why[200] = "";
    uint64_t features = 0, classes = 0, steps = 0;
    const double *hist = NULL, *prev = NULL;
    size_t n_hist = 0, n_prev = 0;
    const uint8_t *cfp = NULL;
    size_t cfp_len = 0;
    if (self->phase != FL_ROUND_WAIT_CLIENTS || self->model || fl_peers_admitted (self->peer_table)) {
        zsys_error ("coordinator: a run can be restored only before any client joined");
        return -1;
    }
    if (fl_checkpoint_get_u64 (ck, "shape.features", &features) != 0
        || fl_checkpoint_get_u64 (ck, "shape.classes", &classes) != 0 || features == 0 || features > 100000
        || classes < 2 || classes > 1000 || fl_checkpoint_get_u64 (ck, FL_CHECKPOINT_KEY_OPT_STEP, &steps) != 0
        || fl_checkpoint_get_f64s (ck, FL_CHECKPOINT_KEY_METRICS, &hist, &n_hist) != 0 || n_hist % S_HIST
        || fl_checkpoint_get_bytes (ck, FL_CHECKPOINT_KEY_CONFIG_FP, &cfp, &cfp_len) != 0 || cfp_len != 32) {
        zsys_error ("coordinator: checkpoint lacks required fields or has invalid shapes");
        return -1;
    }
    if ((self->cfg.features && self->cfg.features != features) || (self->cfg.classes && self->cfg.classes != classes)) {
        zsys_error ("coordinator: checkpoint is for %" PRIu64 " features / %" PRIu64 " classes, not the configured shape",
                    features, classes);
        return -1;
    }
    self->features = features;
    self->classes = classes;
    if (s_build_model (self) != 0)
        return -1;
    uint8_t mine[32];
    s_config_fp (self, mine);
    if (sodium_memcmp (mine, cfp, 32) != 0)
        snprintf (why, sizeof why, "it was written by a run with another model, shape or aggregation mode");
    else if (fl_checkpoint_copy_f32s (ck, FL_CHECKPOINT_KEY_PARAMS, self->params, self->n_params) != 0
             || fl_checkpoint_copy_f32s (ck, FL_CHECKPOINT_KEY_OPT_STATE, fl_server_opt_state (self->opt),
                                         fl_server_opt_state_len (self->opt)) != 0)
        snprintf (why, sizeof why, "model or optimizer state has the wrong size");
    else {
        self->mean = (float *) calloc (features, sizeof (float));
        self->std = (float *) calloc (features, sizeof (float));
        if (!self->mean || !self->std || fl_checkpoint_copy_f32s (ck, FL_CHECKPOINT_KEY_MEAN, self->mean, features) != 0
            || fl_checkpoint_copy_f32s (ck, FL_CHECKPOINT_KEY_STD, self->std, features) != 0)
            snprintf (why, sizeof why, "standardisation has the wrong size");
    }
    for (size_t i = 0; !why[0] && i < self->n_params; i++)
        if (!isfinite (self->params[i]))
            snprintf (why, sizeof why, "non-finite model parameter");
    for (size_t i = 0; !why[0] && i < features; i++)
        if (!isfinite (self->mean[i]) || !(self->std[i] > 0) || !isfinite (self->std[i]))
            snprintf (why, sizeof why, "invalid standardisation");
    if (!why[0] && fl_checkpoint_get_f64s (ck, "robust.prev", &prev, &n_prev) == 0) {
        if (n_prev != self->n_params
            || !(self->strategy.prev_agg = (double *) malloc (n_prev * sizeof (double))))
            snprintf (why, sizeof why, "robust state has the wrong size");
        else
            memcpy (self->strategy.prev_agg, prev, n_prev * sizeof (double));
    }
    if (!why[0] && self->privacy)
        fl_privacy_checkpoint_restore (self->privacy, ck, why, sizeof why);
    else if (!why[0] && fl_checkpoint_has (ck, FL_CHECKPOINT_KEY_ACCOUNTANT))
        snprintf (why, sizeof why, "it was written by a run with differential privacy; resume it with the same "
                  "differential privacy settings");
    if (why[0]) {
        zsys_error ("coordinator: checkpoint refused: %s", why);
        return -1;
    }
    fl_server_opt_set_steps (self->opt, steps);
    memcpy (self->cfg.run_id, fl_checkpoint_run_id (ck), FL_ROUND_RUNIDBYTES);
    self->round = fl_checkpoint_round (ck);
    self->history = (double *) malloc ((n_hist ? n_hist : 1) * sizeof (double));
    if (self->history) {
        memcpy (self->history, hist, n_hist * sizeof (double));
        self->n_history = n_hist / S_HIST;
    }
    zsys_info ("coordinator: resumed run after round %" PRIu64 " (%zu rounds of metrics restored)", self->round,
               self->n_history);
    return 0;
}

size_t
fl_round_history (const fl_round_t *self, size_t i, fl_round_summary_t *out)
{
    if (i < self->n_history)
        s_summary_unpack (self->history + i * S_HIST, out);
    return self->n_history;
}

/* ---- message handlers ------------------------------------------------------- */

/* A protocol violation: logged and counted (fl_peers_strike); at
   FL_PEERS_MAX_STRIKES the member is quarantined: no longer admitted, told
   so by REJECT "quarantined: ..." (the client logs it and exits non-zero),
   and its messages other than a valid HELLO are ignored. */
static void
s_reject (fl_round_t *self, s_peer_t *p, const char *what, const char *why)
{
    char reason[256];
    if (fl_peers_strike (self->peer_table, p, what, why, reason, sizeof reason))
        s_send_simple (self, p, FL_WIRE_REJECT, reason);
}

/* Early, late or stale: not a violation.  Dropped with a log line and no
   strike (a member that was slow or cut off must not be locked out). */
static void
s_discard (fl_round_t *self, s_peer_t *p, const char *what, const char *why)
{
    (void) self;
    zsys_info ("coordinator: peer %s: discarded %s: %s", p->name, what, why);
}

/* The round's answer to a room's verdict on a message (fl_cohort.h):
   a violation is a strike, an ignored message a log line (unless the room
   logged it already: why empty).  Returns 1 if it was accepted. */
static int
s_verdict (fl_round_t *self, s_peer_t *p, const char *what, int verdict, const char *why)
{
    if (verdict == FL_COHORT_VIOLATION)
        s_reject (self, p, what, why);
    else if (verdict == FL_COHORT_IGNORED && why[0])
        s_discard (self, p, what, why);
    return verdict == FL_COHORT_ACCEPTED;
}

/* Parameters of the configured built-in model for a data shape (dense
   layers hold (inputs + 1) x outputs); plugins report 0 (checked by the
   plugin loader's own limit). */
static size_t
s_implied_params (const fl_round_t *self, uint64_t features, uint64_t classes)
{
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    if (self->cfg.hidden[0] && fl_model_parse_hidden (self->cfg.hidden, &mc) != 0)
        return 0;
    if (self->cfg.model_plugin[0]
        || (strcmp (self->cfg.model, "logreg") != 0 && strcmp (self->cfg.model, "mlp") != 0))
        return 0;
    double count = 0, prev = (double) features;
    for (size_t l = 0; l < mc.n_hidden; l++) {
        count += (prev + 1) * (double) mc.hidden[l];
        prev = (double) mc.hidden[l];
    }
    count += (prev + 1) * (double) (classes == 2 ? 1 : classes);
    return count > 1e18 ? (size_t) -1 : (size_t) count;
}

static int
s_on_hello (fl_round_t *self, s_peer_t *p, const fl_wire_msg_t *m, int64_t now)
{
    uint64_t features = 0, classes = 0, n_train = 0, n_test = 0;
    const char *member = fl_wire_get_cstr (m, FL_K_MEMBER);
    const uint8_t *fp = NULL;
    size_t fp_len = 0;
    if (fl_wire_get_u64 (m, FL_K_FEATURES, &features) != 0 || fl_wire_get_u64 (m, FL_K_CLASSES, &classes) != 0
        || fl_wire_get_u64 (m, FL_K_N_TRAIN, &n_train) != 0 || fl_wire_get_u64 (m, FL_K_N_TEST, &n_test) != 0
        || !member || fl_wire_get_bin (m, FL_K_FP, &fp, &fp_len) != 0) {
        s_reject (self, p, "HELLO", "missing fields");
        return 0;
    }
    fl_peers_hello_t hello = {member, features, classes, n_train, n_test};
    char why[160] = "";
    fl_peers_check_hello (self->peer_table, p, &hello, self->cfg.secure ? self->cfg.roster : NULL, self->features,
                          self->classes, self->phase == FL_ROUND_DONE || self->phase == FL_ROUND_FAILED, why,
                          sizeof why);
    if (why[0]) {
        zsys_warning ("coordinator: refused %s: %s", p->name, why);
        s_send_simple (self, p, FL_WIRE_REJECT, why);
        return 0;
    }
    if (!self->model && s_implied_params (self, features, classes) > FL_ROUND_MAX_PARAMS) {
        /* The first client fixes the shape unless it is configured: do not
           let one HELLO choose a gigantic global model. */
        snprintf (why, sizeof why, "data shape (%" PRIu64 " features, %" PRIu64 " classes) implies a model of "
                  "more than %zu parameters", features, classes, (size_t) FL_ROUND_MAX_PARAMS);
        zsys_warning ("coordinator: refused %s: %s", p->name, why);
        s_send_simple (self, p, FL_WIRE_REJECT, why);
        return 0;
    }
    if (!self->model) {
        self->features = features;
        self->classes = classes;
        if (s_build_model (self) != 0) {
            s_fail (self, "could not build the global model");
            return 0;
        }
    }
    static const uint8_t zero[32];
    if (fp_len == 32 && sodium_memcmp (fp, zero, 32) != 0 && sodium_memcmp (fp, self->fingerprint, 32) != 0) {
        zsys_warning ("coordinator: refused %s: model fingerprint differs from the global model's", p->name);
        s_send_simple (self, p, FL_WIRE_REJECT, "model fingerprint mismatch");
        return 0;
    }
    int rejoin = fl_peers_admit (self->peer_table, p, &hello, now);
    fl_wire_writer_t *w = s_writer (self, FL_WIRE_WELCOME);
    fl_wire_put_u64 (w, FL_K_CLIENT, (uint64_t) (p - self->peers));
    fl_wire_put_str (w, FL_K_MODEL, self->cfg.model);
    fl_wire_put_str (w, FL_K_HIDDEN, self->cfg.hidden);
    fl_wire_put_u64 (w, FL_K_FEATURES, self->features);
    fl_wire_put_u64 (w, FL_K_CLASSES, self->classes);
    fl_wire_put_u64 (w, FL_K_SEED, self->cfg.model_seed);
    if (self->cfg.qat)
        fl_wire_put_u64 (w, FL_K_QAT, self->cfg.qat);
    s_enqueue (self, p, w);
    zsys_info ("coordinator: %s %s (%" PRIu64 " training / %" PRIu64 " test examples); %zu client(s)",
               rejoin ? "re-admitted" : "admitted", p->name, n_train, n_test, fl_peers_admitted (self->peer_table));
    if (self->mean)
        s_send_standardise (self, p);     /* late joiner: gets the global statistics */
    return 1;
}

int
fl_round_on_message (fl_round_t *self, int64_t now, const uint8_t *id, size_t id_len,
                     const char *member, const uint8_t *data, size_t len)
{
    s_peer_t *p = fl_peers_route (self->peer_table, id, id_len, member);
    self->peers = fl_peers_table (self->peer_table);
    self->n_peers = fl_peers_size (self->peer_table);
    if (!p)
        return 0;

    char why[160];
    fl_wire_limits_t limits = p->admitted ? fl_wire_limits_default () : fl_wire_limits_preauth ();
    fl_wire_msg_t *m = fl_wire_decode (data, len, &limits, why, sizeof why);
    if (!m) {
        s_reject (self, p, "message", why);
        return 0;
    }
    fl_wire_type_t type = fl_wire_type (m);
    const char *tname = fl_wire_type_name (type);
    int accepted = 0;

    if (fl_peers_quarantined (p) && type != FL_WIRE_HELLO)
        goto done;                /* quarantined: only a valid HELLO is heard */
    if (type == FL_WIRE_HELLO) {
        accepted = s_on_hello (self, p, m, now);
        goto done;
    }
    if (!p->admitted) {
        /* Unknown (the coordinator restarted, or the member was left out):
           a polite answer, no strike; the client says HELLO again. */
        if (fl_peers_may_ask_hello (p, now)) {
            s_send_simple (self, p, FL_WIRE_REJECT, "not admitted: send HELLO first");
            s_discard (self, p, tname, "peer has not been admitted (coordinator restarted?); asked it to say HELLO");
        }
        goto done;
    }
    if (sodium_memcmp (fl_wire_run_id (m), self->cfg.run_id, FL_ROUND_RUNIDBYTES) != 0) {
        s_discard (self, p, tname, "run id of another run (queued before a restart?)");
        goto done;
    }
    p->last_seen = now;
    p->misses = 0;
    if (!p->ready && self->mean && self->phase != FL_ROUND_STATS)
        p->ready = 1;              /* back after missing deadlines; it has the statistics */
    if (type == FL_WIRE_HEARTBEAT) {
        accepted = 1;
        goto done;
    }
    if (type == FL_WIRE_BYE) {
        const char *r = fl_wire_get_cstr (m, FL_K_REASON);
        zsys_info ("coordinator: %s left: %s", p->name, r ? r : "(no reason)");
        fl_peers_leave (self->peer_table, p);
        accepted = 1;
        goto done;
    }
    if (type == FL_WIRE_ERROR) {
        const char *r = fl_wire_get_cstr (m, FL_K_REASON);
        zsys_warning ("coordinator: %s reported an error: %s", p->name, r ? r : "(none)");
        accepted = 1;
        goto done;
    }
    if (type == FL_WIRE_SECAGG) {
        if (!self->cfg.secure || !s_aggregating (self))
            s_discard (self, p, "SECAGG", "no secure aggregation of this round includes this peer (late?)");
        else
            accepted = s_verdict (self, p, "SECAGG",
                                  fl_cohort_on_secagg (self->cohort, (size_t) (p - self->peers), m, now, why,
                                                       sizeof why), why);
        s_drain_cohort (self);
        goto done;
    }
    fl_wire_type_t want = self->phase == FL_ROUND_STATS ? FL_WIRE_STATS
                          : self->phase == FL_ROUND_TRAIN ? FL_WIRE_UPDATE
                          : self->phase == FL_ROUND_EVAL ? FL_WIRE_EVAL_RESULT
                          : (fl_wire_type_t) -1;
    if (type != want) {
        s_discard (self, p, tname, "not expected in this phase (late: its deadline passed)");
        goto done;
    }
    if (fl_wire_round (m) != self->round) {
        char r[96];
        snprintf (r, sizeof r, "round %" PRIu64 " is not the current round %" PRIu64 " (late)",
                  fl_wire_round (m), self->round);
        s_discard (self, p, tname, r);
        goto done;
    }
    if (p->answered) {
        s_reject (self, p, tname, "duplicate reply");
        goto done;
    }
    if (!p->expected) {
        s_discard (self, p, tname, "peer was not asked in this round, or its deadline passed");
        goto done;
    }
    if (self->cfg.secure)                /* secure runs take contributions through secure aggregation only */
        s_reject (self, p, tname, type == FL_WIRE_UPDATE ? "this run takes masked updates only"
                                  : type == FL_WIRE_STATS ? "this run takes round 0 statistics through secure aggregation only"
                                  : "this run takes evaluation counts through secure aggregation only");
    else
        accepted = s_verdict (self, p, tname,
                              fl_cohort_on_contribution (self->cohort, (size_t) (p - self->peers), m, why, sizeof why),
                              why);
    p->answered = 1;             /* one reply per phase, accepted or not */
done:
    fl_wire_msg_destroy (&m);
    s_maybe_advance (self, now);
    assert (s_invariants (self));
    return accepted;
}

void
fl_round_on_tick (fl_round_t *self, int64_t now)
{
    if (self->phase == FL_ROUND_WAIT_CLIENTS) {
        if (fl_peers_admitted (self->peer_table) >= self->cfg.min_clients && self->model)
            s_dispatch (self, S_EV_ENOUGH_CLIENTS, now);
        else if (self->phase_deadline >= 0 && now >= self->phase_deadline)
            s_dispatch (self, S_EV_JOIN_TIMEOUT, now);
    }
    else if (s_aggregating (self)) {
        int passed = fl_cohort_tick (self->cohort, now);
        s_drain_cohort (self);
        if (passed)
            s_maybe_advance (self, now);
    }
    assert (s_invariants (self));
}

int64_t
fl_round_next_timeout_ms (const fl_round_t *self, int64_t now)
{
    if (self->phase == FL_ROUND_WAIT_CLIENTS)
        return 100;   /* admission is checked on a short tick */
    return s_aggregating (self) ? fl_cohort_next_timeout (self->cohort, now) : -1;
}

int
fl_round_next_out (fl_round_t *self, const uint8_t **id, size_t *id_len, uint8_t **data, size_t *len)
{
    s_out_t *o = self->out_head;
    if (!o)
        return 0;
    self->out_head = o->next;
    if (!self->out_head)
        self->out_tail = NULL;
    *id = self->peers[o->peer].id;
    *id_len = self->peers[o->peer].id_len;
    *data = o->data;
    *len = o->len;
    free (o);
    return 1;
}

int
fl_round_next_summary (fl_round_t *self, fl_round_summary_t *out)
{
    s_summary_node_t *s = self->sum_head;
    if (!s)
        return 0;
    self->sum_head = s->next;
    if (!self->sum_head)
        self->sum_tail = NULL;
    *out = s->s;
    free (s);
    return 1;
}

fl_round_phase_t fl_round_phase (const fl_round_t *self) { return self->phase; }

int
fl_round_secure_state (const fl_round_t *self)
{
    return self->cfg.secure && s_aggregating (self) ? fl_cohort_secure_state (self->cohort) : -1;
}
uint64_t fl_round_current (const fl_round_t *self) { return self->round; }
size_t fl_round_clients (const fl_round_t *self) { return fl_peers_admitted (self->peer_table); }
const char *fl_round_failure (const fl_round_t *self) { return self->failure; }
const float *fl_round_params (const fl_round_t *self) { return self->params; }
size_t fl_round_num_params (const fl_round_t *self) { return self->n_params; }
const float *fl_round_mean (const fl_round_t *self) { return self->mean; }
const float *fl_round_std (const fl_round_t *self) { return self->std; }
size_t fl_round_features (const fl_round_t *self) { return self->features; }
size_t fl_round_classes (const fl_round_t *self) { return self->classes; }
const uint8_t *fl_round_run_id (const fl_round_t *self) { return self->cfg.run_id; }
const uint8_t *fl_round_fingerprint (const fl_round_t *self) { return self->model ? self->fingerprint : NULL; }

size_t
fl_round_member_names (const fl_round_t *self, char *buf, size_t cap)
{
    return fl_peers_member_names (self->peer_table, buf, cap);
}

fl_model_t *
fl_round_model (const fl_round_t *self)
{
    assert (self);
    return self->model;
}

const char *fl_round_stop_reason (const fl_round_t *self) { return self->stop_reason; }

double
fl_round_sa_dropout (const fl_round_t *self)
{
    assert (self);
    return self->cfg.sa_dropout >= 0 ? self->cfg.sa_dropout : fl_cohort_sa_dropout_used (self->cohort);
}

/* ---- differential privacy: the round's view of its fl_privacy_t ---------- */

double
fl_round_dp_clip_norm (const fl_round_t *self)
{
    return self->privacy && self->cfg.dp_adaptive_clip ? fl_privacy_clip_norm (self->privacy) : NAN;
}

void
fl_round_dp_adaclip (const fl_round_t *self, double *sigma_b, double *z_delta, double *last_frac)
{
    if (self->privacy)
        fl_privacy_adaclip (self->privacy, sigma_b, z_delta, last_frac);
    else {
        if (sigma_b)
            *sigma_b = NAN;
        if (z_delta)
            *z_delta = NAN;
        if (last_frac)
            *last_frac = NAN;
    }
}

double
fl_round_dp_noise_multiplier (const fl_round_t *self)
{
    return self->privacy ? fl_privacy_noise_multiplier (self->privacy) : NAN;
}

double
fl_round_dp_sample_rate (const fl_round_t *self)
{
    return self->privacy ? fl_privacy_sample_rate (self->privacy) : NAN;
}

double
fl_round_dp_epsilon (const fl_round_t *self)
{
    return self->privacy ? fl_privacy_epsilon (self->privacy) : NAN;
}

void
fl_round_dp_last_noise (const fl_round_t *self, double *sensitivity, double *sigma)
{
    if (self->privacy)
        fl_privacy_last_noise (self->privacy, sensitivity, sigma);
    else {
        if (sensitivity)
            *sensitivity = NAN;
        if (sigma)
            *sigma = NAN;
    }
}

void
fl_round_dp_guarantee (const fl_round_t *self, char *buf, size_t cap)
{
    assert (buf && cap);
    buf[0] = 0;
    if (self->privacy)
        fl_privacy_guarantee (self->privacy, buf, cap);
}

size_t
fl_round_dp_state (const fl_round_t *self, double *out, size_t cap)
{
    return self->privacy ? fl_privacy_state (self->privacy, out, cap) : 0;
}

int
fl_round_dp_restore (fl_round_t *self, const double *in, size_t n)
{
    char why[160] = "";
    if (!self->privacy)
        snprintf (why, sizeof why, "this run has no differential privacy");
    else if (self->round > 0 || self->phase != FL_ROUND_WAIT_CLIENTS)
        snprintf (why, sizeof why, "training has started");
    else if (fl_privacy_restore (self->privacy, in, n, why, sizeof why) == 0)
        return 0;
    zsys_error ("coordinator: privacy state not restored: %s", why);
    return -1;
}
