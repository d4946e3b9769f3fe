/*  fl_round_query.c - what the coordinator round reports: its phase, the
    global model and standardisation, the members, and its view of the
    privacy room (docs/PRIVACY.md).  Part of the round class
    (fl_round_priv.h). */
#include "fl_round_priv.h"

const char *
fl_round_phase_name (fl_round_phase_t phase)
{
    static const char *names[] = {"wait-clients", "stats", "train", "evaluate", "done", "failed"};
    return (unsigned) phase < sizeof names / sizeof names[0] ? names[phase] : "?";
}

fl_round_phase_t fl_round_phase (const fl_round_t *self) { return self->phase; }

int
fl_round_secure_state (const fl_round_t *self)
{
    int aggregating = self->phase == FL_ROUND_STATS || self->phase == FL_ROUND_TRAIN || self->phase == FL_ROUND_EVAL;
    return self->cfg.secure && aggregating ? fl_cohort_secure_state (self->cohort) : -1;
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

uint64_t
fl_round_best (const fl_round_t *self, fl_round_summary_t *out)
{
    if (!self->cfg.early_stop || self->best_round == 0)
        return 0;
    if (out)
        *out = self->best_sum;
    return self->best_round;
}

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

const char *
fl_round_dp_warning (const fl_round_t *self)
{
    return self->privacy ? fl_privacy_warning (self->privacy) : NULL;
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

const fl_metrics_counts_t *
fl_round_eval_counts (const fl_round_t *self)
{
    if (self->cfg.early_stop && self->best_round && self->best_counts.n_classes)
        return &self->best_counts;      /* the kept model's evaluation */
    return &self->eval_acc;
}
