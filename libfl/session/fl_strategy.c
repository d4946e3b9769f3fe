/*  fl_strategy.c - a training round's aggregation (see fl_strategy.h). */
#include "fl_strategy.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fl_strategy_state_clear (fl_strategy_state_t *state)
{
    free (state->prev_agg);
    fl_robust_work_destroy (&state->work);
    memset (state, 0, sizeof *state);
}

fl_strategy_rule_t
fl_strategy_rule_check (fl_robust_kind_t kind, const fl_robust_params_t *p, size_t B, char *why, size_t cap)
{
    assert (p && why && cap > 0);
    why[0] = 0;
    const char *name = fl_robust_kind_name (kind);
    if (B == 0) {
        snprintf (why, cap, "%s has no bucket means to combine", name);
        return FL_STRATEGY_RULE_REFUSES;
    }
    switch (kind) {
    case FL_ROBUST_TRIMMED_MEAN: {
        size_t k = p->beta > 0 ? (size_t) floor (p->beta * (double) B) : p->b;
        if (p->beta > 0 && k == 0) {
            snprintf (why, cap, "trimmed_mean trims floor(%g x %zu) = 0 buckets from each side of %zu: it is "
                      "the plain mean (beta must be at least 1/%zu = %.3g)", p->beta, B, B, B, 1.0 / (double) B);
            return FL_STRATEGY_RULE_MEAN_ONLY;
        }
        if (p->beta <= 0 && k == 0) {
            snprintf (why, cap, "trimmed_mean with beta 0 trims nothing from %zu buckets: it is the plain mean", B);
            return FL_STRATEGY_RULE_MEAN_ONLY;
        }
        if (2 * k >= B) {
            snprintf (why, cap, "trimmed_mean trims %zu buckets from each side of %zu: nothing is left", k, B);
            return FL_STRATEGY_RULE_REFUSES;
        }
        return FL_STRATEGY_RULE_OK;
    }
    case FL_ROBUST_MEDIAN:
    case FL_ROBUST_GEOMED:
        if (B <= 2) {
            snprintf (why, cap, "the %s of %zu bucket mean%s is %s: one bad bucket moves it arbitrarily (breakdown "
                      "point 0; 3 buckets or more are needed)", kind == FL_ROBUST_MEDIAN ? "median" : "geometric median",
                      B, B == 1 ? "" : "s", B == 1 ? "that mean" : "their mean");
            return FL_STRATEGY_RULE_MEAN_ONLY;
        }
        return FL_STRATEGY_RULE_OK;
    case FL_ROBUST_KRUM:
    case FL_ROBUST_MULTI_KRUM:
        if (B < 2 * p->f + 3) {
            snprintf (why, cap, "%s with f = %zu needs at least 2f+3 = %zu buckets, not %zu", name, p->f,
                      2 * p->f + 3, B);
            return FL_STRATEGY_RULE_REFUSES;
        }
        return FL_STRATEGY_RULE_OK;
    case FL_ROBUST_BULYAN:
        if (B < 4 * p->f + 3) {
            snprintf (why, cap, "bulyan with f = %zu needs at least 4f+3 = %zu buckets, not %zu", p->f, 4 * p->f + 3, B);
            return FL_STRATEGY_RULE_REFUSES;
        }
        return FL_STRATEGY_RULE_OK;
    default:
        return FL_STRATEGY_RULE_OK;
    }
}

/*  Applies update (np floats) to the model and measures it. */
static void
s_apply (fl_server_opt_t *opt, float *params, const float *update, size_t np, fl_strategy_result_t *res)
{
    double norm = 0;
    for (size_t i = 0; i < np; i++)
        norm += (double) update[i] * update[i];
    res->update_norm = sqrt (norm);
    if (fl_server_opt_step (opt, params, update) != 0)
        res->skipped = 1;
}

static int
s_fedavg (const fl_strategy_config_t *cfg, const fl_strategy_bucket_t *bk, size_t nb, size_t np, uint64_t round,
          fl_server_opt_t *opt, float *params, float *scratch, fl_strategy_result_t *res)
{
    double w = 0, wloss = 0;
    double *acc = (double *) calloc (np ? np : 1, sizeof (double));
    if (!acc)
        return -1;
    for (size_t b = 0; b < nb; b++) {
        for (size_t i = 0; i < np; i++)
            acc[i] += bk[b].sum[i];
        w += bk[b].sum[np];
        wloss += bk[b].sum[np + 1];
        res->updates += bk[b].survivors;
    }
    res->train_loss = w > 0 ? wloss / w : NAN;
    if (res->updates < cfg->min_updates || !(w > 0)) {
        res->skipped = 1;
        zsys_warning ("coordinator: round %" PRIu64 ": %zu update(s), fewer than the %zu required; "
                      "global model unchanged", round, res->updates, cfg->min_updates);
    }
    else {
        for (size_t i = 0; i < np; i++)
            scratch[i] = (float) (acc[i] / w);
        s_apply (opt, params, scratch, np, res);
    }
    free (acc);
    return 0;
}

/*  Logs (and returns 1) when the rule is the plain mean of these nb
    buckets; a rule that refuses them says so itself. */
static int
s_note_degenerate (const fl_strategy_config_t *cfg, size_t nb, uint64_t round)
{
    char why[256];
    if (fl_strategy_rule_check (cfg->kind, &cfg->params, nb, why, sizeof why) != FL_STRATEGY_RULE_MEAN_ONLY)
        return 0;
    if (cfg->kind == FL_ROBUST_TRIMMED_MEAN)
        zsys_warning ("coordinator: round %" PRIu64 ": trimmed_mean trimmed nothing this round (%zu buckets, beta %g): "
                      "the aggregate is the plain mean of the buckets, not robust", round, nb, cfg->params.beta);
    else
        zsys_warning ("coordinator: round %" PRIu64 ": %s; the aggregate is not robust this round", round, why);
    return 1;
}

static int
s_robust (const fl_strategy_config_t *cfg, fl_strategy_state_t *state, const fl_strategy_bucket_t *bk, size_t nb,
          size_t np, fl_privacy_t *privacy, size_t ready, uint64_t round, fl_server_opt_t *opt, float *params,
          float *scratch, fl_strategy_result_t *res)
{
    double count = 0, loss = 0;
    double *X = (double *) calloc ((nb ? nb : 1) * (np ? np : 1), sizeof (double));
    double *out = (double *) calloc (np ? np : 1, sizeof (double));
    if (!X || !out || (!state->work && !(state->work = fl_robust_work_new ()))) {
        free (X);
        free (out);
        return -1;
    }
    for (size_t b = 0; b < nb; b++) {
        for (size_t i = 0; i < np; i++)
            X[b * np + i] = bk[b].sum[i] / (double) bk[b].n;
        count += bk[b].sum[np];
        loss += bk[b].sum[np + 1];
        res->updates += bk[b].survivors;
    }
    res->train_loss = count > 0 ? loss / count : NAN;
    if (nb == 0 || res->updates < cfg->min_updates) {
        res->skipped = 1;
        zsys_warning ("coordinator: round %" PRIu64 ": %zu bucket(s) completed; global model unchanged", round, nb);
    }
    else if (res->degenerate = s_note_degenerate (cfg, nb, round),
             fl_robust_aggregate_work (cfg->kind, &cfg->params, X, nb, np, state->prev_agg, state->work, out) != 0) {
        res->skipped = 1;
        zsys_warning ("coordinator: round %" PRIu64 ": the %s rule refused %zu bucket mean(s) (see above); "
                      "global model unchanged", round, fl_robust_kind_name (cfg->kind), nb);
    }
    else if (privacy && (res->train_loss = NAN, fl_privacy_release (privacy, bk, nb, np, ready, round, out) != 0)) {
        /* clients send no loss under differential privacy: it is not noised */
        res->skipped = 1;
        zsys_warning ("coordinator: round %" PRIu64 ": noise could not be added; nothing released, "
                      "global model unchanged", round);
    }
    else {
        double scale = privacy ? fl_privacy_update_scale (privacy) : 1.0;
        for (size_t i = 0; i < np; i++)
            scratch[i] = (float) (scale * out[i]);
        double norm = 0;
        for (size_t i = 0; i < np; i++)
            norm += (scale * out[i]) * (scale * out[i]);
        if (!state->prev_agg)
            state->prev_agg = (double *) calloc (np ? np : 1, sizeof (double));
        if (state->prev_agg)
            memcpy (state->prev_agg, out, np * sizeof (double));
        res->update_norm = sqrt (norm);
        if (fl_server_opt_step (opt, params, scratch) != 0)
            res->skipped = 1;
    }
    free (X);
    free (out);
    return 0;
}

int
fl_strategy_step (const fl_strategy_config_t *cfg, fl_strategy_state_t *state, const fl_strategy_bucket_t *bk,
                  size_t nb, size_t np, fl_privacy_t *privacy, size_t ready, uint64_t round, fl_server_opt_t *opt,
                  float *params, float *scratch, fl_strategy_result_t *res)
{
    assert (cfg && state && (bk || nb == 0) && opt && params && scratch && res);
    memset (res, 0, sizeof *res);
    res->train_loss = NAN;
    if (cfg->robust)
        return s_robust (cfg, state, bk, nb, np, privacy, ready, round, opt, params, scratch, res);
    return s_fedavg (cfg, bk, nb, np, round, opt, params, scratch, res);
}
