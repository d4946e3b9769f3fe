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

    The round is one class in four files (fl_round_priv.h): this one holds
    the phases and the messages; configuration, snapshots and accessors
    live beside it.  The rooms it drives return results, they never call
    back: fl_peers (admission, liveness, strikes), fl_cohort (the phase's
    aggregation over buckets), fl_strategy (bucket sums to the new global
    model), fl_privacy (calibration, accounting, noise).
*/
#include "fl_round_priv.h"

/* ---- helpers ---------------------------------------------------------------- */

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

static void
s_tail_release (s_tail_t **t)
{
    if (*t && --(*t)->refs == 0)
        free (*t);
    *t = NULL;
}

/* Queues len encoded bytes (taken: freed here on failure) for peer index i;
   the queued entry, or NULL. */
static s_out_t *
s_enqueue_bytes (fl_round_t *self, size_t i, uint8_t *data, size_t len)
{
    s_out_t *o = (s_out_t *) calloc (1, sizeof *o);
    if (!o) {
        free (data);
        return NULL;
    }
    o->peer = i;
    o->data = data;
    o->len = len;
    if (self->out_tail)
        self->out_tail->next = o;
    else
        self->out_head = o;
    self->out_tail = o;
    return o;
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

/* TRAIN with what every member of a round gets: the global model's
   fingerprint and the local training configuration.  Callers add the
   secure-aggregation session, the DP settings and, last, the model. */
static fl_wire_writer_t *
s_train_writer (fl_round_t *self)
{
    fl_wire_writer_t *w = s_writer (self, FL_WIRE_TRAIN);
    fl_wire_put_bin (w, FL_K_FP, self->fingerprint, sizeof self->fingerprint);
    fl_wire_put_u64 (w, FL_K_EPOCHS, self->cfg.local_epochs);
    fl_wire_put_u64 (w, FL_K_BATCH, self->cfg.batch_size);
    fl_wire_put_f64 (w, FL_K_LR, self->cfg.client_lr);
    fl_wire_put_str (w, FL_K_OPT, self->cfg.client_opt);
    fl_wire_put_u64 (w, FL_K_SEED, self->cfg.seed * 1000003u + self->round);
    fl_wire_put_u64 (w, FL_K_CAP, self->cfg.robust ? 0 : self->cfg.example_cap);   /* 0: unweighted */
    if (self->cfg.class_weight_balanced)     /* sent only when set: older clients join runs without them */
        fl_wire_put_u64 (w, FL_K_CLASS_WEIGHT, 1);
    if (self->cfg.weight_decay > 0)
        fl_wire_put_f64 (w, FL_K_WEIGHT_DECAY, self->cfg.weight_decay);
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


/*  The clipping norm this round's contributions are bounded by: the
    privacy room's (adapted, or record-level the contribution bound) with
    differential privacy, else the configured one. */
static double
s_clip_norm (const fl_round_t *self)
{
    return self->privacy ? fl_privacy_clip_norm (self->privacy) : self->cfg.clip_norm;
}

/* ---- construction -------------------------------------------------------- */

fl_round_t *
fl_round_new (const fl_round_config_t *cfg)
{
    fl_privacy_config_t pc;
    fl_round_privacy_config_ (cfg, &pc);
    char bad[320];
    if (fl_round_config_check_ (cfg, &pc, bad, sizeof bad) != 0) {
        zsys_error ("coordinator: invalid configuration: %s", bad);
        return NULL;
    }
    fl_round_t *self = (fl_round_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->phase = FL_ROUND_WAIT_CLIENTS;
    self->phase_deadline = -1;
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
    if (!self->peer_table || (cfg->dp && !self->privacy) || !self->cohort) {
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
        s_tail_release (&o->tail);
        free (o);
    }
    s_tail_release (&self->cur_tail);
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
    fl_privacy_destroy (&self->privacy);
    free (self->scratch);
    free (self->mean);
    free (self->std);
    free (self->best_params);
    fl_peers_destroy (&self->peer_table);
    free (self);
    *self_p = NULL;
}

int
fl_round_build_model_ (fl_round_t *self)
{
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = self->features;
    mc.n_classes = self->classes;
    mc.seed = self->cfg.model_seed;
    mc.qat = self->cfg.qat;
    if (self->cfg.hidden[0] && fl_model_parse_hidden (self->cfg.hidden, &mc) != 0)
        return -1;
    /* with a plugin, WELCOME then names the plugin's model */
    self->model = fl_model_make (self->cfg.model_plugin, self->cfg.model, &mc, NULL, 0);
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

/*  Models at least this large (bytes) are shared across an invitation
    batch's messages rather than encoded into each one. */
#define S_TAIL_MIN ((size_t) 64 << 10)

/*  Puts the model into w, last, and queues w for peer i.  A large model on
    a little-endian host is put external (fl_wire_put_f32s_external): its
    bytes, the same in every message of the batch, go once into the batch's
    shared tail *tail (created on first use) and the message keeps only its
    head, so head + tail is byte for byte the whole message. */
static void
s_enqueue_model (fl_round_t *self, size_t i, fl_wire_writer_t *w, s_tail_t **tail)
{
    size_t pb = self->n_params * sizeof (float);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    int le = 1;
#else
    int le = 0;
#endif
    if (le && pb >= S_TAIL_MIN && !*tail && (*tail = (s_tail_t *) malloc (sizeof (s_tail_t) + pb)) != NULL) {
        (*tail)->refs = 1;                       /* the batch's own reference */
        (*tail)->serial = ++self->tail_serial;
        (*tail)->len = pb;
        memcpy ((*tail)->data, self->params, pb);
    }
    if (!*tail) {
        fl_wire_put_f32s (w, FL_K_PARAMS, self->params, self->n_params);
        s_enqueue (self, &self->peers[i], w);
        return;
    }
    fl_wire_put_f32s_external (w, FL_K_PARAMS, self->params, self->n_params);
    uint8_t *head = NULL;
    size_t len = 0;
    if (fl_wire_writer_finish (&w, &head, &len) != 0) {
        zsys_error ("coordinator: could not encode a message for %s", self->peers[i].name);
        return;
    }
    s_out_t *o = s_enqueue_bytes (self, i, head, len);
    if (o) {
        o->tail = *tail;
        (*tail)->refs++;
    }
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
    s_tail_t *tail = NULL;                   /* this batch's shared model bytes */
    while (fl_cohort_next_out (self->cohort, &o)) {
        s_peer_t *p = &self->peers[o.peer];
        if (o.data) {
            s_enqueue_bytes (self, o.peer, o.data, o.len);
            continue;
        }
        fl_wire_writer_t *w;
        int model = 1;
        if (self->purpose == FL_SECAGG_PURPOSE_TRAIN) {
            w = s_train_writer (self);
            if (self->cfg.secure)
                fl_wire_put_f64 (w, FL_K_CLIP, s_clip_norm (self));
        }
        else if (self->purpose == FL_SECAGG_PURPOSE_STATS) {
            w = s_writer (self, FL_WIRE_STATS_REQUEST);
            model = 0;
        }
        else {
            w = s_writer (self, FL_WIRE_EVALUATE);
            fl_wire_put_bin (w, FL_K_FP, self->fingerprint, sizeof self->fingerprint);
        }
        if (o.announce)
            fl_session_announce_put (w, self->purpose, o.announce);
        if (self->purpose == FL_SECAGG_PURPOSE_TRAIN && self->privacy)
            fl_privacy_put_train (self->privacy, w, o.sigma_i);
        if (model) {
            /* the model last: its bytes end the message and are shared */
            s_enqueue_model (self, o.peer, w, &tail);
        }
        else
            s_enqueue (self, p, w);
    }
    s_tail_release (&tail);
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
    if (self->cfg.early_stop && self->best_params && self->best_round != self->round) {
        /* early stopping: the run's model is the best round's (fl_round_best) */
        memcpy (self->params, self->best_params, self->n_params * sizeof (float));
        zsys_info ("coordinator: early stopping: the global model is round %" PRIu64 "'s (federated evaluation "
                   "log loss %.6f), not the last round's (%" PRIu64 ")", self->best_round, self->best_loss, self->round);
    }
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
    fl_privacy_population_t pop = {fl_peers_admitted (self->peer_table), 0, 0, 0, 0, self->n_params};
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i].admitted && self->peers[i].n_train > 0) {
            pop.train_sum += (double) self->peers[i].n_train;
            pop.train_min = pop.train_min > 0 ? fmin (pop.train_min, (double) self->peers[i].n_train)
                                              : (double) self->peers[i].n_train;
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

/*  The largest slowest-update time (ms) of the last FL_ROUND_AUTO_WINDOW
    rounds that accepted one; -1 if none did. */
static int64_t
s_slowest_recent (const fl_round_t *self)
{
    int64_t best = -1;
    size_t n = self->n_slowest < FL_ROUND_AUTO_WINDOW ? self->n_slowest : FL_ROUND_AUTO_WINDOW;
    for (size_t i = 0; i < n; i++)
        if (self->slowest_hist[i] > best)
            best = self->slowest_hist[i];
    return best;
}

/*  This round's training deadline, ms (fl_round_config_t.train_deadline_auto). */
static int64_t
s_train_deadline (fl_round_t *self)
{
    const fl_round_config_t *c = &self->cfg;
    if (!c->train_deadline_auto)
        return c->train_deadline_ms;
    int64_t slow = s_slowest_recent (self), dl;
    const char *why;
    if (self->n_slowest && self->slowest_hist[(self->n_slowest - 1) % FL_ROUND_AUTO_WINDOW] < 0
        && self->train_deadline > 0) {
        dl = 2 * self->train_deadline;       /* the last round accepted nothing: give more time */
        why = "twice the last (it accepted no update)";
    }
    else if (slow >= 0) {
        dl = FL_ROUND_AUTO_FACTOR * slow;
        why = "3 x the slowest update of the last rounds";
    }
    else {
        dl = c->train_deadline_max_ms;
        why = "no update measured yet: the bound";
    }
    if (dl < c->train_deadline_ms)
        dl = c->train_deadline_ms;
    if (dl > c->train_deadline_max_ms)
        dl = c->train_deadline_max_ms;
    char slowest[48] = "none";
    if (slow >= 0)
        snprintf (slowest, sizeof slowest, "%.1f s", slow / 1000.0);
    zsys_info ("coordinator: round %" PRIu64 ": training deadline %.1f s (auto: %s; slowest recent update %s, "
               "floor %.1f s, bound %.1f s)", self->round, dl / 1000.0, why, slowest, c->train_deadline_ms / 1000.0,
               c->train_deadline_max_ms / 1000.0);
    return dl;
}

/*  An update of the current training round was accepted at now. */
static void
s_note_update (fl_round_t *self, int64_t now)
{
    int64_t t = now - self->train_started;
    if (t > self->train_slowest)
        self->train_slowest = t < 0 ? 0 : t;
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
    int64_t deadline = s_train_deadline (self);
    self->train_started = now;
    self->train_deadline = deadline;
    self->train_slowest = -1;
    self->cur.train_deadline = deadline / 1000.0;
    int64_t earlier = s_slowest_recent (self);
    self->cur.train_slowest_earlier = earlier >= 0 ? earlier / 1000.0 : NAN;
    self->cur.train_slowest = NAN;
    s_event_t ev = s_start_cohort (self, FL_SECAGG_PURPOSE_TRAIN, idx, k, deadline, now);
    free (idx);
    return ev;
}

/*  Records the round's slowest accepted update for the automatic deadline,
    and says why when a round's deadline passed with no update at all. */
static void
s_train_times (fl_round_t *self)
{
    self->slowest_hist[self->n_slowest % FL_ROUND_AUTO_WINDOW] = self->train_slowest;
    self->n_slowest++;
    self->cur.train_slowest = self->train_slowest >= 0 ? self->train_slowest / 1000.0 : NAN;
    if (self->train_slowest >= 0 || self->cur.cohort == 0)
        return;
    char earlier[96];
    if (isnan (self->cur.train_slowest_earlier))
        snprintf (earlier, sizeof earlier, "no earlier round had an update to measure");
    else
        snprintf (earlier, sizeof earlier, "the slowest update of the last rounds took %.1f s",
                  self->cur.train_slowest_earlier);
    zsys_warning ("coordinator: round %" PRIu64 ": training deadline %.1f s passed, 0 of %zu updates arrived (%s)%s",
                  self->round, self->train_deadline / 1000.0, self->cur.cohort, earlier,
                  self->cfg.train_deadline_auto ? "; the next deadline doubles"
                                                : "; an automatic training deadline would follow the measured times");
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
    s_train_times (self);
    self->cur.train_loss = res.train_loss;
    self->cur.update_norm = res.update_norm;
    self->cur.skipped |= res.skipped;
    self->cur.rule_degenerate = res.degenerate;
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

/*  Early stopping ends the run: the reason, then the goodbye (which also
    puts the best round's model in place). */
static void
s_early_stop_end (fl_round_t *self)
{
    snprintf (self->stop_reason, sizeof self->stop_reason,
              "early stopping: no lower federated evaluation log loss in %" PRIu32 " round(s) after "
              "round %" PRIu64 " (log loss %.6f); the model kept is round %" PRIu64 "'s", self->cfg.early_stop,
              self->best_round, self->best_loss, self->best_round);
    zsys_info ("coordinator: %s", self->stop_reason);
    s_end_training (self, "training finished: early stopping");
}

/*  Early stopping: after each round's federated evaluation, a finite log
    loss strictly below the best so far makes this round the best (its
    global model copied, the counter reset); anything else (higher, equal,
    NaN: no evaluation counted) adds one round without improvement.
    Prechelt, "Early Stopping - But When?", 1998 (stop after P rounds
    without improvement, keep the best), on the federated evaluation loss.
    0, or -1 (the run failed: no memory). */
static int
s_early_stop_track (fl_round_t *self)
{
    double loss = self->cur.eval.log_loss;
    if (isfinite (loss) && (self->best_round == 0 || loss < self->best_loss)) {
        if (!self->best_params
            && !(self->best_params = (float *) malloc ((self->n_params ? self->n_params : 1) * sizeof (float)))) {
            s_fail (self, "out of memory");
            return -1;
        }
        memcpy (self->best_params, self->params, self->n_params * sizeof (float));
        self->best_round = self->round;
        self->best_loss = loss;
        self->since_best = 0;
        self->cur.best = 1;
        self->best_sum = self->cur;
        self->best_counts = self->eval_acc;
    }
    else
        self->since_best++;
    return 0;
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
    self->cur.brier = fl_metrics_counts_brier (&self->eval_acc);
    self->cur.min_class_share = NAN;
    if (fl_metrics_counts_oppoint (&self->eval_acc, self->cfg.op_threshold, self->cfg.op_top_fraction,
                                   &self->cur.op) == 0) {
        uint64_t pos = self->eval_acc.tp + self->eval_acc.fn;
        self->cur.min_class_share = (double) (pos < self->eval_acc.n - pos ? pos : self->eval_acc.n - pos)
                                    / (double) self->eval_acc.n;
    }
    if (self->cfg.early_stop && s_early_stop_track (self) != 0)
        return S_EV_NONE;
    s_summary_node_t *node = (s_summary_node_t *) calloc (1, sizeof *node);
    if (node) {
        node->s = self->cur;
        if (self->sum_tail)
            self->sum_tail->next = node;
        else
            self->sum_head = node;
        self->sum_tail = node;
    }
    fl_round_history_add_ (self, &self->cur);
    fl_round_snapshot_ (self);
    if (self->round < self->cfg.rounds && self->cfg.early_stop && self->since_best >= self->cfg.early_stop) {
        s_early_stop_end (self);
        return S_EV_NONE;
    }
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
    if (self->mean && self->cfg.early_stop && self->best_round && self->since_best >= self->cfg.early_stop) {
        /* resumed from the checkpoint of a run early stopping had ended: end it again, train nothing */
        s_early_stop_end (self);
        return S_EV_NONE;
    }
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
    if (self->cfg.model_plugin
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
        if (fl_round_build_model_ (self) != 0) {
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
        /* a key advertisement in a training round: the member has trained */
        int trained = self->phase == FL_ROUND_TRAIN && fl_round_secure_state (self) == 0;
        if (!self->cfg.secure || !s_aggregating (self))
            s_discard (self, p, "SECAGG", "no secure aggregation of this round includes this peer (late?)");
        else
            accepted = s_verdict (self, p, "SECAGG",
                                  fl_cohort_on_secagg (self->cohort, (size_t) (p - self->peers), m, now, why,
                                                       sizeof why), why);
        if (accepted && trained)
            s_note_update (self, now);
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
    if (accepted && type == FL_WIRE_UPDATE)
        s_note_update (self, now);
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
    if (o->tail) {
        /* the whole message: head and the shared tail in one buffer */
        uint8_t *all = (uint8_t *) realloc (o->data, o->len + o->tail->len);
        if (!all) {
            zsys_error ("coordinator: out of memory; a message to %s is not sent", self->peers[o->peer].name);
            free (o->data);
            o->data = NULL;
            o->len = 0;
        }
        else {
            memcpy (all + o->len, o->tail->data, o->tail->len);
            o->data = all;
            o->len += o->tail->len;
        }
        s_tail_release (&o->tail);
    }
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
fl_round_next_out_shared (fl_round_t *self, const uint8_t **id, size_t *id_len, uint8_t **data, size_t *len,
                          const uint8_t **tail, size_t *tail_len, uint64_t *tail_serial)
{
    s_tail_release (&self->cur_tail);
    *tail = NULL;
    *tail_len = 0;
    *tail_serial = 0;
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
    if (o->tail) {
        self->cur_tail = o->tail;            /* the reference moves to self until the next call */
        *tail = o->tail->data;
        *tail_len = o->tail->len;
        *tail_serial = o->tail->serial;
    }
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

