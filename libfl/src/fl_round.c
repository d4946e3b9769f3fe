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

#include "fl_dataset.h"
#include "fl_stats.h"
#include "fl_model.h"
#include "fl_modelfile.h"
#include "fl_rng.h"
#include "fl_train.h"
#include "fl_wire.h"

#define S_MAX_STRIKES 8      /* malformed messages before a peer is ignored */

typedef struct {
    uint8_t id[255];
    size_t id_len;
    char name[64];           /* member id for log lines */
    int admitted;
    int ready;               /* received the standardisation */
    int expected;            /* the current phase waits for this peer */
    int answered;            /* ... and it has answered */
    int strikes;             /* malformed / out-of-protocol messages */
    int misses;              /* consecutive deadlines missed */
    int64_t last_seen;
    uint64_t n_train, n_test;
} s_peer_t;

typedef struct s_out_t {
    s_peer_t *peer;
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

    s_peer_t *peers;                 /* array, grows */
    size_t n_peers, cap_peers;
    size_t n_admitted;

    fl_model_t *model;               /* the global model (shape and fingerprint) */
    uint8_t fingerprint[32];
    float *params;                   /* = fl_model_params (model) */
    size_t n_params;
    fl_server_opt_t *opt;
    fl_fedavg_t *fedavg;
    float *scratch;                  /* (n_params) decoded update / aggregate */
    fl_rng_t *rng;

    /* round 0 */
    size_t features, classes;
    fl_stats_t *stats;
    float *mean, *std;

    /* current round */
    fl_round_summary_t cur;
    double loss_sum, loss_weight;
    fl_metrics_counts_t eval_acc;

    s_out_t *out_head, *out_tail;
    s_peer_t *last_out_peer;
    s_summary_node_t *sum_head, *sum_tail;
};


/* ---- helpers ---------------------------------------------------------------- */

const char *
fl_round_phase_name (fl_round_phase_t phase)
{
    static const char *names[] = {"wait-clients", "stats", "train", "evaluate", "done", "failed"};
    return (unsigned) phase < sizeof names / sizeof names[0] ? names[phase] : "?";
}

static void
s_fail (fl_round_t *self, const char *why)
{
    snprintf (self->failure, sizeof self->failure, "%s", why);
    self->phase = FL_ROUND_FAILED;
    self->phase_deadline = -1;
    zsys_error ("coordinator: run failed: %s", why);
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
    s_out_t *o = (s_out_t *) calloc (1, sizeof *o);
    if (!o) {
        free (buf);
        return;
    }
    o->peer = peer;
    o->data = buf;
    o->len = len;
    if (self->out_tail)
        self->out_tail->next = o;
    else
        self->out_head = o;
    self->out_tail = o;
}

static fl_wire_writer_t *
s_writer (fl_round_t *self, fl_wire_type_t type)
{
    return fl_wire_writer_new (type, self->cfg.run_id, self->round);
}

static void
s_send_simple (fl_round_t *self, s_peer_t *peer, fl_wire_type_t type, const char *reason)
{
    fl_wire_writer_t *w = s_writer (self, type);
    if (reason)
        fl_wire_put_str (w, "reason", reason);
    s_enqueue (self, peer, w);
}

static s_peer_t *
s_peer_find (fl_round_t *self, const uint8_t *id, size_t id_len)
{
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i].id_len == id_len && memcmp (self->peers[i].id, id, id_len) == 0)
            return &self->peers[i];
    return NULL;
}

static s_peer_t *
s_peer_add (fl_round_t *self, const uint8_t *id, size_t id_len)
{
    size_t limit = self->cfg.max_clients ? self->cfg.max_clients : FL_ROUND_MAX_PEERS;
    /* Peers that never got admitted are bounded too (they are garbage or
       late-comers); a table twice the admission limit is plenty. */
    if (self->n_peers >= 2 * limit + 16)
        return NULL;
    if (self->n_peers == self->cap_peers) {
        /* Grow by copy: outbox entries hold peer pointers, so fix them up. */
        size_t cap = self->cap_peers ? 2 * self->cap_peers : 16;
        s_peer_t *np = (s_peer_t *) calloc (cap, sizeof *np);
        if (!np)
            return NULL;
        if (self->peers)
            memcpy (np, self->peers, self->n_peers * sizeof *np);
        for (s_out_t *o = self->out_head; o; o = o->next)
            o->peer = np + (o->peer - self->peers);
        free (self->peers);
        self->peers = np;
        self->cap_peers = cap;
    }
    s_peer_t *p = &self->peers[self->n_peers++];
    memset (p, 0, sizeof *p);
    if (id_len > sizeof p->id)
        id_len = sizeof p->id;
    memcpy (p->id, id, id_len);
    p->id_len = id_len;
    snprintf (p->name, sizeof p->name, "peer-%zu", self->n_peers);
    return p;
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
    return admitted == self->n_admitted;
}
#endif

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
    self->rng = fl_rng_new_u64 (cfg->seed, 0x636f686f7274ull /* "cohort" */);
    self->features = cfg->features;
    self->classes = cfg->classes;
    if (!self->rng) {
        free (self);
        return NULL;
    }
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
    fl_model_destroy (&self->model);
    fl_server_opt_destroy (&self->opt);
    fl_fedavg_destroy (&self->fedavg);
    fl_stats_destroy (&self->stats);
    fl_rng_destroy (&self->rng);
    free (self->scratch);
    free (self->mean);
    free (self->std);
    free (self->peers);
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
    self->fedavg = fl_fedavg_new (self->n_params, self->cfg.example_cap);
    self->scratch = (float *) calloc (self->n_params, sizeof (float));
    self->stats = fl_stats_new (self->features);
    if (!self->opt || !self->fedavg || !self->scratch || !self->stats)
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

/* ---- phase transitions ---------------------------------------------------- */

static void
s_clear_expected (fl_round_t *self)
{
    for (size_t i = 0; i < self->n_peers; i++)
        self->peers[i].expected = self->peers[i].answered = 0;
}

static size_t
s_pending (const fl_round_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_peers; i++)
        n += self->peers[i].expected && !self->peers[i].answered;
    return n;
}

static void
s_send_standardise (fl_round_t *self, s_peer_t *p)
{
    fl_wire_writer_t *w = s_writer (self, FL_WIRE_STANDARDISE);
    fl_wire_put_f32s (w, "mean", self->mean, self->features);
    fl_wire_put_f32s (w, "std", self->std, self->features);
    s_enqueue (self, p, w);
    p->ready = 1;
}

static void
s_start_stats (fl_round_t *self, int64_t now)
{
    self->phase = FL_ROUND_STATS;
    self->round = 0;
    s_clear_expected (self);
    for (size_t i = 0; i < self->n_peers; i++) {
        s_peer_t *p = &self->peers[i];
        if (!p->admitted)
            continue;
        p->expected = 1;
        s_send_simple (self, p, FL_WIRE_STATS_REQUEST, NULL);
    }
    self->phase_deadline = now + self->cfg.stats_deadline_ms;
    zsys_info ("coordinator: round 0: federated standardisation with %zu clients", self->n_admitted);
}

static void s_start_train (fl_round_t *self, int64_t now);

static void
s_finish_stats (fl_round_t *self, int64_t now)
{
    uint64_t count = fl_stats_count (self->stats);
    if (count == 0) {
        s_fail (self, "no client reported feature statistics in round 0");
        return;
    }
    self->mean = (float *) calloc (self->features, sizeof (float));
    self->std = (float *) calloc (self->features, sizeof (float));
    if (!self->mean || !self->std || fl_stats_finalize (self->stats, self->mean, self->std) != 0) {
        s_fail (self, "could not compute the global feature statistics");
        return;
    }
    zsys_info ("coordinator: round 0: global mean/std from %" PRIu64 " training examples", count);
    for (size_t i = 0; i < self->n_peers; i++)
        if (self->peers[i].admitted)
            s_send_standardise (self, &self->peers[i]);
    s_start_train (self, now);
}

static size_t
s_ready_list (fl_round_t *self, int64_t now, uint32_t *idx)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_peers; i++) {
        s_peer_t *p = &self->peers[i];
        if (p->ready && now - p->last_seen <= self->cfg.liveness_ms)
            idx[n++] = (uint32_t) i;
    }
    return n;
}

static void
s_start_train (fl_round_t *self, int64_t now)
{
    self->phase = FL_ROUND_TRAIN;
    self->round++;
    s_clear_expected (self);
    memset (&self->cur, 0, sizeof self->cur);
    self->cur.round = self->round;
    self->loss_sum = self->loss_weight = 0;
    fl_fedavg_reset (self->fedavg);

    uint32_t *idx = (uint32_t *) calloc (self->n_peers + 1, sizeof (uint32_t));
    if (!idx) {
        s_fail (self, "out of memory");
        return;
    }
    size_t ready = s_ready_list (self, now, idx);
    size_t k = (size_t) ceil (self->cfg.fraction * (double) ready);
    if (k < self->cfg.min_cohort)
        k = self->cfg.min_cohort;
    if (k > ready)
        k = ready;
    fl_rng_shuffle_u32 (self->rng, idx, ready);       /* cohort = first k of a permutation */
    self->cur.ready = ready;
    self->cur.cohort = k;
    for (size_t j = 0; j < k; j++) {
        s_peer_t *p = &self->peers[idx[j]];
        p->expected = 1;
        fl_wire_writer_t *w = s_writer (self, FL_WIRE_TRAIN);
        fl_wire_put_f32s (w, "params", self->params, self->n_params);
        fl_wire_put_bin (w, "fp", self->fingerprint, sizeof self->fingerprint);
        fl_wire_put_u64 (w, "epochs", self->cfg.local_epochs);
        fl_wire_put_u64 (w, "batch", self->cfg.batch_size);
        fl_wire_put_f64 (w, "lr", self->cfg.client_lr);
        fl_wire_put_str (w, "opt", self->cfg.client_opt);
        fl_wire_put_u64 (w, "seed", self->cfg.seed * 1000003u + self->round);
        fl_wire_put_u64 (w, "cap", self->cfg.example_cap);
        s_enqueue (self, p, w);
    }
    free (idx);
    self->phase_deadline = now + self->cfg.train_deadline_ms;
}

static void s_start_eval (fl_round_t *self, int64_t now);

static void
s_finish_train (fl_round_t *self, int64_t now)
{
    self->cur.updates = fl_fedavg_count (self->fedavg);
    self->cur.dropped = self->cur.cohort - self->cur.updates;
    self->cur.train_loss = self->loss_weight > 0 ? self->loss_sum / self->loss_weight : NAN;
    if (self->cur.updates < self->cfg.min_updates || fl_fedavg_mean (self->fedavg, self->scratch) != 0) {
        self->cur.skipped = 1;
        zsys_warning ("coordinator: round %" PRIu64 ": %zu update(s), fewer than the %zu required; "
                      "global model unchanged", self->round, self->cur.updates, self->cfg.min_updates);
    }
    else {
        double norm = 0;
        for (size_t i = 0; i < self->n_params; i++)
            norm += (double) self->scratch[i] * self->scratch[i];
        self->cur.update_norm = sqrt (norm);
        if (fl_server_opt_step (self->opt, self->params, self->scratch) != 0)
            self->cur.skipped = 1;
    }
    s_start_eval (self, now);
}

static void
s_start_eval (fl_round_t *self, int64_t now)
{
    self->phase = FL_ROUND_EVAL;
    s_clear_expected (self);
    fl_metrics_counts_init (&self->eval_acc);
    uint32_t *idx = (uint32_t *) calloc (self->n_peers + 1, sizeof (uint32_t));
    if (!idx) {
        s_fail (self, "out of memory");
        return;
    }
    size_t ready = s_ready_list (self, now, idx);
    for (size_t j = 0; j < ready; j++) {
        s_peer_t *p = &self->peers[idx[j]];
        p->expected = 1;
        fl_wire_writer_t *w = s_writer (self, FL_WIRE_EVALUATE);
        fl_wire_put_f32s (w, "params", self->params, self->n_params);
        fl_wire_put_bin (w, "fp", self->fingerprint, sizeof self->fingerprint);
        s_enqueue (self, p, w);
    }
    free (idx);
    self->phase_deadline = now + self->cfg.eval_deadline_ms;
}

static void
s_finish_eval (fl_round_t *self, int64_t now)
{
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
    if (self->round >= self->cfg.rounds) {
        self->phase = FL_ROUND_DONE;
        self->phase_deadline = -1;
        s_clear_expected (self);
        for (size_t i = 0; i < self->n_peers; i++)
            if (self->peers[i].admitted)
                s_send_simple (self, &self->peers[i], FL_WIRE_BYE, "training finished");
        zsys_info ("coordinator: training finished after %" PRIu64 " rounds", self->round);
    }
    else
        s_start_train (self, now);
}

static void
s_maybe_advance (fl_round_t *self, int64_t now)
{
    if (s_pending (self) > 0)
        return;
    switch (self->phase) {
    case FL_ROUND_STATS: s_finish_stats (self, now); break;
    case FL_ROUND_TRAIN: s_finish_train (self, now); break;
    case FL_ROUND_EVAL: s_finish_eval (self, now); break;
    default: break;
    }
}

/* ---- message handlers ------------------------------------------------------- */

static void
s_reject (fl_round_t *self, s_peer_t *p, const char *what, const char *why)
{
    (void) self;
    p->strikes++;
    zsys_warning ("coordinator: peer %s: rejected %s: %s", p->name, what, why);
}

static int
s_on_hello (fl_round_t *self, s_peer_t *p, const fl_wire_msg_t *m, int64_t now)
{
    uint64_t features = 0, classes = 0, n_train = 0, n_test = 0;
    const char *member = fl_wire_get_cstr (m, "member");
    const uint8_t *fp = NULL;
    size_t fp_len = 0;
    if (fl_wire_get_u64 (m, "features", &features) != 0 || fl_wire_get_u64 (m, "classes", &classes) != 0
        || fl_wire_get_u64 (m, "n_train", &n_train) != 0 || fl_wire_get_u64 (m, "n_test", &n_test) != 0
        || !member || fl_wire_get_bin (m, "fp", &fp, &fp_len) != 0) {
        s_reject (self, p, "HELLO", "missing fields");
        return 0;
    }
    if (!p->name[0] || strncmp (p->name, "peer-", 5) == 0)
        snprintf (p->name, sizeof p->name, "%s", member);
    size_t limit = self->cfg.max_clients ? self->cfg.max_clients : FL_ROUND_MAX_PEERS;
    char why[160] = "";
    if (!p->admitted && self->n_admitted >= limit)
        snprintf (why, sizeof why, "the consortium is full (%zu clients)", limit);
    else if (features == 0 || features > 100000 || classes < 2 || classes > 1000)
        snprintf (why, sizeof why, "unsupported data shape (%" PRIu64 " features, %" PRIu64 " classes)",
                  features, classes);
    else if (self->features && features != self->features)
        snprintf (why, sizeof why, "data has %" PRIu64 " features, the consortium's model takes %zu",
                  features, self->features);
    else if (self->classes && classes != self->classes)
        snprintf (why, sizeof why, "data has %" PRIu64 " classes, the consortium's model has %zu",
                  classes, self->classes);
    else if (self->phase == FL_ROUND_DONE || self->phase == FL_ROUND_FAILED)
        snprintf (why, sizeof why, "training has ended");
    if (why[0]) {
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
    int rejoin = p->admitted;
    if (!p->admitted) {
        p->admitted = 1;
        self->n_admitted++;
    }
    p->n_train = n_train;
    p->n_test = n_test;
    p->last_seen = now;
    fl_wire_writer_t *w = s_writer (self, FL_WIRE_WELCOME);
    fl_wire_put_u64 (w, "client", (uint64_t) (p - self->peers));
    fl_wire_put_str (w, "model", self->cfg.model);
    fl_wire_put_str (w, "hidden", self->cfg.hidden);
    fl_wire_put_u64 (w, "features", self->features);
    fl_wire_put_u64 (w, "classes", self->classes);
    fl_wire_put_u64 (w, "seed", self->cfg.model_seed);
    if (self->cfg.qat)
        fl_wire_put_u64 (w, "qat", self->cfg.qat);
    s_enqueue (self, p, w);
    zsys_info ("coordinator: %s %s (%" PRIu64 " training / %" PRIu64 " test examples); %zu client(s)",
               rejoin ? "re-admitted" : "admitted", p->name, n_train, n_test, self->n_admitted);
    if (self->mean)
        s_send_standardise (self, p);     /* late joiner: gets the global statistics */
    return 1;
}

static int
s_on_stats (fl_round_t *self, s_peer_t *p, const fl_wire_msg_t *m)
{
    uint64_t count = 0;
    if (fl_wire_get_u64 (m, "count", &count) != 0) {
        s_reject (self, p, "STATS", "no count");
        return 0;
    }
    double *sum = (double *) calloc (2 * self->features, sizeof (double));
    if (!sum)
        return 0;
    double *sumsq = sum + self->features;
    int ok = fl_wire_copy_f64s (m, "sum", sum, self->features) == 0
             && fl_wire_copy_f64s (m, "sumsq", sumsq, self->features) == 0;
    for (size_t i = 0; ok && i < self->features; i++)
        ok = isfinite (sum[i]) && isfinite (sumsq[i]) && sumsq[i] >= 0;
    if (!ok || count == 0 || count > ((uint64_t) 1 << 40)) {
        s_reject (self, p, "STATS", "vectors of the wrong length, non-finite values or a bad count");
        free (sum);
        return 0;
    }
    fl_stats_t *one = fl_stats_from_arrays (self->features, count, sum, sumsq);
    int rc = one ? fl_stats_merge (self->stats, one) : -1;
    fl_stats_destroy (&one);
    free (sum);
    if (rc != 0)
        s_reject (self, p, "STATS", "statistics could not be merged");
    return rc == 0;
}

static int
s_on_update (fl_round_t *self, s_peer_t *p, const fl_wire_msg_t *m)
{
    uint64_t n = 0;
    double loss = 0;
    if (fl_wire_get_u64 (m, "n", &n) != 0 || fl_wire_get_f64 (m, "loss", &loss) != 0) {
        s_reject (self, p, "UPDATE", "missing fields");
        return 0;
    }
    if (fl_wire_copy_f32s (m, "delta", self->scratch, self->n_params) != 0) {
        s_reject (self, p, "UPDATE", "update vector has the wrong length");
        return 0;
    }
    if (fl_fedavg_add (self->fedavg, self->scratch, n) != 0) {
        s_reject (self, p, "UPDATE", "non-finite values or zero examples");
        return 0;
    }
    if (isfinite (loss)) {
        uint64_t w = self->cfg.example_cap && n > self->cfg.example_cap ? self->cfg.example_cap : n;
        self->loss_sum += loss * (double) w;
        self->loss_weight += (double) w;
    }
    return 1;
}

static int
s_on_eval (fl_round_t *self, s_peer_t *p, const fl_wire_msg_t *m)
{
    fl_metrics_counts_t c;
    if (fl_metrics_counts_from_wire (m, &c) != 0) {
        s_reject (self, p, "EVAL_RESULT", "malformed evaluation counts");
        return 0;
    }
    fl_metrics_counts_merge (&self->eval_acc, &c);
    self->cur.eval_clients++;
    return 1;
}

int
fl_round_on_message (fl_round_t *self, int64_t now, const uint8_t *id, size_t id_len,
                     const char *member, const uint8_t *data, size_t len)
{
    s_peer_t *p = s_peer_find (self, id, id_len);
    if (!p) {
        p = s_peer_add (self, id, id_len);
        if (!p) {
            zsys_warning ("coordinator: too many unknown peers; message dropped");
            return 0;
        }
    }
    if (member && member[0])
        snprintf (p->name, sizeof p->name, "%s", member);
    if (p->strikes >= S_MAX_STRIKES)
        return 0;                 /* ignored: it kept sending garbage */

    char why[160];
    fl_wire_limits_t limits = p->admitted ? fl_wire_limits_default () : fl_wire_limits_preauth ();
    fl_wire_msg_t *m = fl_wire_decode (data, len, &limits, why, sizeof why);
    if (!m) {
        s_reject (self, p, "message", why);
        if (p->strikes == S_MAX_STRIKES)
            zsys_warning ("coordinator: peer %s sent %d malformed messages; ignoring it from now on",
                          p->name, S_MAX_STRIKES);
        return 0;
    }
    fl_wire_type_t type = fl_wire_type (m);
    const char *tname = fl_wire_type_name (type);
    int accepted = 0;

    if (type == FL_WIRE_HELLO) {
        accepted = s_on_hello (self, p, m, now);
        goto done;
    }
    if (!p->admitted) {
        s_send_simple (self, p, FL_WIRE_REJECT, "not admitted: send HELLO first");
        s_reject (self, p, tname, "peer has not been admitted (coordinator restarted?)");
        goto done;
    }
    if (sodium_memcmp (fl_wire_run_id (m), self->cfg.run_id, FL_ROUND_RUNIDBYTES) != 0) {
        s_reject (self, p, tname, "run id of another run");
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
        const char *r = fl_wire_get_cstr (m, "reason");
        zsys_info ("coordinator: %s left: %s", p->name, r ? r : "(no reason)");
        p->ready = 0;
        p->admitted = 0;
        self->n_admitted--;
        if (p->expected && !p->answered)
            p->expected = 0;       /* no longer waited for */
        accepted = 1;
        goto done;
    }
    if (type == FL_WIRE_ERROR) {
        const char *r = fl_wire_get_cstr (m, "reason");
        zsys_warning ("coordinator: %s reported an error: %s", p->name, r ? r : "(none)");
        accepted = 1;
        goto done;
    }
    fl_wire_type_t want = self->phase == FL_ROUND_STATS ? FL_WIRE_STATS
                          : self->phase == FL_ROUND_TRAIN ? FL_WIRE_UPDATE
                          : self->phase == FL_ROUND_EVAL ? FL_WIRE_EVAL_RESULT
                          : (fl_wire_type_t) -1;
    if (type != want) {
        s_reject (self, p, tname, "not expected in this phase");
        goto done;
    }
    if (fl_wire_round (m) != self->round) {
        char r[96];
        snprintf (r, sizeof r, "round %" PRIu64 " is not the current round %" PRIu64,
                  fl_wire_round (m), self->round);
        s_reject (self, p, tname, r);
        goto done;
    }
    if (!p->expected || p->answered) {
        s_reject (self, p, tname, p->answered ? "duplicate reply" : "peer was not asked in this round");
        goto done;
    }
    switch (type) {
    case FL_WIRE_STATS: accepted = s_on_stats (self, p, m); break;
    case FL_WIRE_UPDATE: accepted = s_on_update (self, p, m); break;
    case FL_WIRE_EVAL_RESULT: accepted = s_on_eval (self, p, m); break;
    default: break;
    }
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
        if (self->n_admitted >= self->cfg.min_clients && self->model)
            s_start_stats (self, now);
        else if (self->phase_deadline >= 0 && now >= self->phase_deadline) {
            char why[128];
            snprintf (why, sizeof why, "only %zu of %zu clients joined before the join timeout",
                      self->n_admitted, self->cfg.min_clients);
            s_fail (self, why);
        }
        return;
    }
    if (self->phase_deadline >= 0 && now >= self->phase_deadline) {
        size_t late = s_pending (self);
        if (late)
            zsys_warning ("coordinator: round %" PRIu64 " %s: deadline passed, %zu client(s) dropped",
                          self->round, fl_round_phase_name (self->phase), late);
        for (size_t i = 0; i < self->n_peers; i++) {
            s_peer_t *p = &self->peers[i];
            if (p->expected && !p->answered) {
                p->expected = 0;
                if (++p->misses == 2 && p->ready) {
                    p->ready = 0;
                    zsys_warning ("coordinator: %s missed two deadlines in a row; not sampled until "
                                  "it is heard from again", p->name);
                }
            }
        }
        s_maybe_advance (self, now);
    }
    assert (s_invariants (self));
}

int64_t
fl_round_next_timeout_ms (const fl_round_t *self, int64_t now)
{
    if (self->phase == FL_ROUND_WAIT_CLIENTS)
        return 100;   /* admission is checked on a short tick */
    if (self->phase_deadline < 0)
        return -1;
    return self->phase_deadline > now ? self->phase_deadline - now : 0;
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
    self->last_out_peer = o->peer;
    *id = o->peer->id;
    *id_len = o->peer->id_len;
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
uint64_t fl_round_current (const fl_round_t *self) { return self->round; }
size_t fl_round_clients (const fl_round_t *self) { return self->n_admitted; }
const char *fl_round_failure (const fl_round_t *self) { return self->failure; }
const float *fl_round_params (const fl_round_t *self) { return self->params; }
size_t fl_round_num_params (const fl_round_t *self) { return self->n_params; }
const float *fl_round_mean (const fl_round_t *self) { return self->mean; }
const float *fl_round_std (const fl_round_t *self) { return self->std; }
size_t fl_round_features (const fl_round_t *self) { return self->features; }
size_t fl_round_classes (const fl_round_t *self) { return self->classes; }

int
fl_round_save_model (const fl_round_t *self, const char *path)
{
    if (!self->model) {
        zsys_error ("coordinator: no model to save yet");
        return -1;
    }
    return fl_modelfile_save (path, self->model, self->cfg.hidden, self->mean, self->std, self->cfg.run_id,
                              self->round);
}
