/*  fl_strategy.c - a training round's aggregation (see fl_strategy.h). */
#include "fl_strategy.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void
fl_strategy_state_clear (fl_strategy_state_t *state)
{
    free (state->prev_agg);
    fl_robust_work_destroy (&state->work);
    memset (state, 0, sizeof *state);
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
    else if (fl_robust_aggregate_work (cfg->kind, &cfg->params, X, nb, np, state->prev_agg, state->work, out) != 0) {
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
