/*  fl_round_snapshot.c - what survives a coordinator restart: every
    finished round's summary (the history), and after each completed round
    a checkpoint of the global model, optimizer and robust state, the
    standardisation and the privacy spend (docs/CHECKPOINT.md), which
    fl_round_restore checks and loads before any client joins.  Part of the
    round class (fl_round_priv.h). */
#include "fl_round_priv.h"

static void
s_summary_pack (const fl_round_summary_t *s, double *h)
{
    double v[FL_ROUND_HIST_] = {(double) s->round, (double) s->ready, (double) s->cohort, (double) s->updates,
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
    s->brier = s->min_class_share = NAN;      /* not in the history: the metrics CSV has them */
    s->op = (fl_metrics_oppoint_t) {NAN, 0, 0, 0, 0, NAN, NAN, NAN};
}

void
fl_round_history_add_ (fl_round_t *self, const fl_round_summary_t *s)
{
    double *h = (double *) realloc (self->history, (self->n_history + 1) * FL_ROUND_HIST_ * sizeof (double));
    if (!h)
        return;
    self->history = h;
    s_summary_pack (s, h + self->n_history * FL_ROUND_HIST_);
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

void
fl_round_snapshot_ (fl_round_t *self)
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
    rc |= fl_checkpoint_put_f64s (ck, FL_CHECKPOINT_KEY_METRICS, self->history, self->n_history * FL_ROUND_HIST_);
    uint64_t rng[2] = {self->cfg.seed, self->round};
    rc |= fl_checkpoint_put_u64s (ck, FL_CHECKPOINT_KEY_RNG, rng, 2);
    if (self->strategy.prev_agg)
        rc |= fl_checkpoint_put_f64s (ck, "robust.prev", self->strategy.prev_agg, self->n_params);
    if (self->privacy)   /* the privacy spend: a restart must not reset the budget */
        rc |= fl_privacy_checkpoint_put (self->privacy, ck);
    if (self->cfg.early_stop && self->best_params) {   /* the best model so far and the patience spent */
        double es[4] = {FL_ROUND_EARLY_VERSION, (double) self->best_round, self->best_loss, (double) self->since_best};
        rc |= fl_checkpoint_put_f64s (ck, FL_ROUND_EARLY_STATE_, es, 4);
        rc |= fl_checkpoint_put_f32s (ck, FL_ROUND_EARLY_PARAMS_, self->best_params, self->n_params);
    }
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

/*  Early stopping's state from a checkpoint (untrusted: a file): the
    version must be FL_ROUND_EARLY_VERSION, the best round in 1..the
    checkpoint's round with its row in the history, the log loss finite and
    >= 0 and equal to that row's, the rounds since it equal to the rounds
    finished after it, the model of the right size and finite.  A run with
    early stopping resumed from a checkpoint without it starts tracking at
    the next round; a checkpoint with it is refused by a run without.  On
    a refusal why says why (nothing kept). */
static void
s_early_stop_restore (fl_round_t *self, const fl_checkpoint_t *ck, const double *hist, size_t n_hist, char *why,
                      size_t cap)
{
    const double *es = NULL;
    size_t n_es = 0;
    int has = fl_checkpoint_has (ck, FL_ROUND_EARLY_STATE_) || fl_checkpoint_has (ck, FL_ROUND_EARLY_PARAMS_);
    if (!self->cfg.early_stop) {
        if (has)
            snprintf (why, cap, "it was written by a run with early stopping; resume it with early stopping on");
        return;
    }
    if (!has) {
        zsys_warning ("coordinator: the checkpoint holds no early-stopping state (written by a run without early stopping): "
                      "the best round is tracked from the next round on");
        return;
    }
    uint64_t round = fl_checkpoint_round (ck);
    if (fl_checkpoint_get_f64s (ck, FL_ROUND_EARLY_STATE_, &es, &n_es) != 0 || n_es < 1) {
        snprintf (why, cap, "early-stopping state missing or malformed");
        return;
    }
    if (es[0] != FL_ROUND_EARLY_VERSION) {
        snprintf (why, cap, "early-stopping state of version %g (this build reads version %d)", es[0],
                  FL_ROUND_EARLY_VERSION);
        return;
    }
    if (n_es != 4 || !(es[1] >= 1 && es[1] <= (double) round && es[1] == floor (es[1]))
        || !(isfinite (es[2]) && es[2] >= 0) || es[3] != (double) round - es[1]) {
        snprintf (why, cap, "early-stopping state inconsistent with the checkpoint's round %" PRIu64, round);
        return;
    }
    uint64_t best = (uint64_t) es[1];
    fl_round_summary_t row;
    int found = 0;
    for (size_t i = 0; i < n_hist / FL_ROUND_HIST_; i++)
        if (hist[i * FL_ROUND_HIST_] == (double) best) {
            s_summary_unpack (hist + i * FL_ROUND_HIST_, &row);
            found = 1;
        }
    if (!found || row.eval.log_loss != es[2]) {
        snprintf (why, cap, "early-stopping state names round %" PRIu64 " with log loss %g, which the checkpoint's "
                  "metrics do not record", best, es[2]);
        return;
    }
    float *bp = (float *) malloc ((self->n_params ? self->n_params : 1) * sizeof (float));
    if (!bp || fl_checkpoint_copy_f32s (ck, FL_ROUND_EARLY_PARAMS_, bp, self->n_params) != 0) {
        free (bp);
        snprintf (why, cap, "early-stopping model missing or of the wrong size");
        return;
    }
    for (size_t i = 0; i < self->n_params; i++)
        if (!isfinite (bp[i])) {
            free (bp);
            snprintf (why, cap, "non-finite parameter in the early-stopping model");
            return;
        }
    free (self->best_params);
    self->best_params = bp;
    self->best_round = best;
    self->best_loss = es[2];
    self->since_best = (uint64_t) es[3];
    row.best = 1;
    self->best_sum = row;
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
        || fl_checkpoint_get_f64s (ck, FL_CHECKPOINT_KEY_METRICS, &hist, &n_hist) != 0 || n_hist % FL_ROUND_HIST_
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
    if (fl_round_build_model_ (self) != 0)
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
    if (!why[0])
        s_early_stop_restore (self, ck, hist, n_hist, why, sizeof why);
    if (why[0]) {
        free (self->best_params);
        self->best_params = NULL;
        self->best_round = 0;
        zsys_error ("coordinator: checkpoint refused: %s", why);
        return -1;
    }
    fl_server_opt_set_steps (self->opt, steps);
    memcpy (self->cfg.run_id, fl_checkpoint_run_id (ck), FL_ROUND_RUNIDBYTES);
    self->round = fl_checkpoint_round (ck);
    self->history = (double *) malloc ((n_hist ? n_hist : 1) * sizeof (double));
    if (self->history) {
        memcpy (self->history, hist, n_hist * sizeof (double));
        self->n_history = n_hist / FL_ROUND_HIST_;
    }
    zsys_info ("coordinator: resumed run after round %" PRIu64 " (%zu rounds of metrics restored)", self->round,
               self->n_history);
    return 0;
}

size_t
fl_round_history (const fl_round_t *self, size_t i, fl_round_summary_t *out)
{
    if (i < self->n_history)
        s_summary_unpack (self->history + i * FL_ROUND_HIST_, out);
    return self->n_history;
}

