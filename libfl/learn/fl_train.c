/*  fl_train.c - local training loop and optimizers (see fl_train.h).

    Everything a call needs is allocated once at its start (optimizer state,
    the permutation, one gathered batch of rows and labels) and freed at its
    end: no per-step and no per-example allocation.  Batches are gathered into
    a contiguous buffer so the model's GEMMs see dense row-major input.
*/
#include "fl_train.h"
#include "fl_dp.h"
#include "fl_layers.h"
#include "fl_rng.h"
#include "fl_tensor.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_STREAM 0x747261696eu        /* "train" */
#define S_LOSS_CHUNK 512u

struct fl_optim_t {
    fl_opt_kind_t kind;
    size_t n;
    float lr, momentum, beta1, beta2, eps, weight_decay;
    uint64_t t;              /* steps taken (Adam bias correction) */
    float *m;                /* (n) momentum buffer / Adam first moment */
    float *v;                /* (n) Adam second moment */
};

void
fl_train_config_default (fl_train_config_t *cfg)
{
    assert (cfg);
    *cfg = (fl_train_config_t) {
        .optimizer = FL_OPT_SGD,
        .epochs = 1,
        .batch_size = 32,
        .lr = 0.01f,
        .momentum = 0.9f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .eps = 1e-8f,
        .weight_decay = 0.0f,
        .class_weights = NULL,
        .seed = 0,
    };
}

int
fl_opt_kind_parse (const char *s, fl_opt_kind_t *out)
{
    assert (out);
    if (s && strcmp (s, "sgd") == 0)
        *out = FL_OPT_SGD;
    else if (s && strcmp (s, "momentum") == 0)
        *out = FL_OPT_MOMENTUM;
    else if (s && strcmp (s, "adam") == 0)
        *out = FL_OPT_ADAM;
    else {
        zsys_error ("unknown optimizer '%s' (sgd, momentum, adam)", s ? s : "(null)");
        return -1;
    }
    return 0;
}

const char *
fl_opt_kind_name (fl_opt_kind_t kind)
{
    switch (kind) {
    case FL_OPT_SGD: return "sgd";
    case FL_OPT_MOMENTUM: return "momentum";
    case FL_OPT_ADAM: return "adam";
    }
    return "?";
}

static int
s_class_weights_ok (const float *w, size_t n_classes, const char *where)
{
    if (!w)
        return 1;
    for (size_t k = 0; k < n_classes; k++)
        if (!isfinite (w[k]) || w[k] < 0) {
            zsys_error ("%s: class weight %zu is %g (need finite, >= 0)", where, k, (double) w[k]);
            return 0;
        }
    return 1;
}

/* Optimizer fields only (fl_optim_new has no n_classes / epochs to check). */
static int
s_optim_config_ok (const fl_train_config_t *cfg)
{
    if (cfg->optimizer != FL_OPT_SGD && cfg->optimizer != FL_OPT_MOMENTUM
        && cfg->optimizer != FL_OPT_ADAM) {
        zsys_error ("fl_train: unknown optimizer %d", (int) cfg->optimizer);
        return 0;
    }
    if (!isfinite (cfg->lr) || cfg->lr <= 0) {
        zsys_error ("fl_train: learning rate %g (need finite, > 0)", (double) cfg->lr);
        return 0;
    }
    if (!isfinite (cfg->weight_decay) || cfg->weight_decay < 0) {
        zsys_error ("fl_train: weight decay %g (need finite, >= 0)", (double) cfg->weight_decay);
        return 0;
    }
    if (cfg->optimizer == FL_OPT_MOMENTUM && !(cfg->momentum >= 0 && cfg->momentum < 1)) {
        zsys_error ("fl_train: momentum %g (need 0 <= mu < 1)", (double) cfg->momentum);
        return 0;
    }
    if (cfg->optimizer == FL_OPT_ADAM
        && (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1)
            || !isfinite (cfg->eps) || cfg->eps <= 0)) {
        zsys_error ("fl_train: Adam beta1 %g, beta2 %g, eps %g (need betas in [0, 1), eps > 0)",
                    (double) cfg->beta1, (double) cfg->beta2, (double) cfg->eps);
        return 0;
    }
    return 1;
}

int
fl_train_config_check (const fl_train_config_t *cfg, size_t n_classes)
{
    if (!cfg) {
        zsys_error ("fl_train: no config");
        return -1;
    }
    if (cfg->epochs < 1 || cfg->epochs > FL_TRAIN_MAX_EPOCHS) {
        zsys_error ("fl_train: epochs %d (need 1..%d)", cfg->epochs, FL_TRAIN_MAX_EPOCHS);
        return -1;
    }
    if (cfg->batch_size < 1 || cfg->batch_size > FL_TRAIN_MAX_BATCH) {
        zsys_error ("fl_train: batch size %zu (need 1..%zu)", cfg->batch_size, FL_TRAIN_MAX_BATCH);
        return -1;
    }
    if (!s_optim_config_ok (cfg) || !s_class_weights_ok (cfg->class_weights, n_classes, "fl_train"))
        return -1;
    return 0;
}

fl_optim_t *
fl_optim_new (const fl_train_config_t *cfg, size_t n)
{
    if (!cfg || !s_optim_config_ok (cfg))
        return NULL;
    fl_optim_t *self = (fl_optim_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->kind = cfg->optimizer;
    self->n = n;
    self->lr = cfg->lr;
    self->momentum = cfg->momentum;
    self->beta1 = cfg->beta1;
    self->beta2 = cfg->beta2;
    self->eps = cfg->eps;
    self->weight_decay = cfg->weight_decay;
    if (self->kind != FL_OPT_SGD && n > 0) {
        self->m = (float *) calloc (n, sizeof (float));
        if (!self->m)
            goto nomem;
    }
    if (self->kind == FL_OPT_ADAM && n > 0) {
        self->v = (float *) calloc (n, sizeof (float));
        if (!self->v)
            goto nomem;
    }
    return self;
nomem:
    zsys_error ("fl_optim_new: out of memory for %zu parameters", n);
    fl_optim_destroy (&self);
    return NULL;
}

void
fl_optim_destroy (fl_optim_t **self_p)
{
    assert (self_p);
    fl_optim_t *self = *self_p;
    if (!self)
        return;
    free (self->m);
    free (self->v);
    free (self);
    *self_p = NULL;
}

void
fl_optim_step (fl_optim_t *self, float *params_, float *grads_)
{
    assert (self && ((params_ && grads_) || self->n == 0));
    /* The blocks are distinct (a model's parameter and gradient blocks, and
       the optimiser's own state): restrict lets the loops vectorise without
       overlap checks (this file is built with -O3, libfl/CMakeLists.txt). */
    float *restrict params = params_;
    float *restrict grads = grads_;
    float *restrict mom = self->m;
    size_t n = self->n;
    const float lr = self->lr, wd = self->weight_decay;
    if (wd > 0)
        for (size_t i = 0; i < n; i++)
            grads[i] += wd * params[i];
    self->t++;
    switch (self->kind) {
    case FL_OPT_SGD:
        for (size_t i = 0; i < n; i++)
            params[i] -= lr * grads[i];
        break;
    case FL_OPT_MOMENTUM: {
        const float mu = self->momentum;
        for (size_t i = 0; i < n; i++) {
            mom[i] = mu * mom[i] + grads[i];
            params[i] -= lr * mom[i];
        }
        break;
    }
    case FL_OPT_ADAM: {
        const float b1 = self->beta1, b2 = self->beta2, eps = self->eps;
        /* bias corrections in double: b2^t is close to 1 for many steps */
        const double c1 = 1.0 - pow (b1, (double) self->t), c2 = 1.0 - pow (b2, (double) self->t);
        const float step = (float) (lr / c1), inv_sqrt_c2 = (float) (1.0 / sqrt (c2));
        float *restrict var = self->v;
        for (size_t i = 0; i < n; i++) {
            float g = grads[i];
            mom[i] = b1 * mom[i] + (1.0f - b1) * g;
            var[i] = b2 * var[i] + (1.0f - b2) * g * g;
            /* lr * mhat / (sqrt(vhat) + eps) with mhat = m/c1, vhat = v/c2 */
            params[i] -= step * mom[i] / (sqrtf (var[i]) * inv_sqrt_c2 + eps);
        }
        break;
    }
    }
}

/*  Labels in range and inputs finite: checked once per call, so the inner
    loops can assume valid data (the loss functions assert it). */
static int
s_data_ok (const fl_model_t *m, const float *x, const int32_t *y, size_t n, const char *where)
{
    size_t k = fl_model_num_classes (m), d = fl_model_num_inputs (m);
    if (!x || !y || n == 0 || n > FL_TRAIN_MAX_ROWS) {
        zsys_error ("%s: %zu examples (need 1..%zu)", where, n, FL_TRAIN_MAX_ROWS);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t) y[i] >= k) {
            zsys_error ("%s: label %d of example %zu is not in 0..%zu", where, (int) y[i], i,
                        k - 1);
            return 0;
        }
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite (x[i])) {
            zsys_error ("%s: input value %zu of example %zu is not finite", where, i % d, i / d);
            return 0;
        }
    return 1;
}

int
fl_train_local (fl_model_t *m, const float *x, const int32_t *y, size_t n,
                const fl_train_config_t *cfg, double *mean_loss)
{
    assert (m);
    if (fl_train_config_check (cfg, fl_model_num_classes (m)) != 0
        || !s_data_ok (m, x, y, n, "fl_train_local"))
        return -1;
    size_t d = fl_model_num_inputs (m), np = fl_model_num_params (m);
    size_t bs = cfg->batch_size < n ? cfg->batch_size : n;
    int rc = -1;
    fl_optim_t *opt = fl_optim_new (cfg, np);
    fl_rng_t *rng = fl_rng_new_u64 (cfg->seed, S_STREAM);
    uint32_t *perm = (uint32_t *) malloc (n * sizeof (uint32_t));
    float *bx = (float *) malloc (bs * d * sizeof (float));        // (bs, d) gathered rows
    int32_t *by = (int32_t *) malloc (bs * sizeof (int32_t));      // (bs) gathered labels
    if (!opt || !rng || !perm || !bx || !by) {
        zsys_error ("fl_train_local: out of memory (%zu examples, %zu parameters)", n, np);
        goto done;
    }
    float *params = fl_model_params (m), *grads = fl_model_grads (m);
    double epoch_loss = 0;
    for (int e = 0; e < cfg->epochs; e++) {
        /* a fresh permutation of the identity each epoch, so epoch e's order
           depends only on (seed, e), not on how earlier epochs went */
        for (size_t i = 0; i < n; i++)
            perm[i] = (uint32_t) i;
        fl_rng_shuffle_u32 (rng, perm, n);
        epoch_loss = 0;
        for (size_t start = 0; start < n; start += bs) {
            size_t b = n - start < bs ? n - start : bs;
            for (size_t i = 0; i < b; i++) {
                size_t r = perm[start + i];
                memcpy (bx + i * d, x + r * d, d * sizeof (float));
                by[i] = y[r];
            }
            double loss;
            if (fl_model_loss_grad (m, bx, by, b, cfg->class_weights, &loss) != 0)
                goto done;
            if (!isfinite (loss)) {
                zsys_error ("fl_train_local: loss became %g in epoch %d (diverged: lower the "
                            "learning rate)", loss, e);
                goto done;
            }
            epoch_loss += loss * (double) b;
            fl_optim_step (opt, params, grads);
        }
    }
    if (!fl_tensor_all_finite (params, np)) {
        zsys_error ("fl_train_local: parameters became non-finite (diverged)");
        goto done;
    }
    if (mean_loss)
        *mean_loss = epoch_loss / (double) n;
    rc = 0;
done:
    fl_optim_destroy (&opt);
    fl_rng_destroy (&rng);
    free (perm);
    free (bx);
    free (by);
    return rc;
}

double
fl_train_loss (fl_model_t *m, const float *x, const int32_t *y, size_t n,
               const float *class_weights)
{
    assert (m);
    size_t k = fl_model_num_classes (m), no = fl_model_num_outputs (m), d = fl_model_num_inputs (m);
    if (!s_data_ok (m, x, y, n, "fl_train_loss") || !s_class_weights_ok (class_weights, k, "fl_train_loss"))
        return NAN;
    size_t chunk = n < S_LOSS_CHUNK ? n : S_LOSS_CHUNK;
    float *logits = (float *) malloc (chunk * no * sizeof (float));     // (chunk, n_out)
    if (!logits) {
        zsys_error ("fl_train_loss: out of memory");
        return NAN;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i += chunk) {
        size_t b = n - i < chunk ? n - i : chunk;
        if (fl_model_forward (m, x + i * d, b, logits) != 0) {
            free (logits);
            return NAN;
        }
        double l = no == 1 ? fl_bce_logits (NULL, logits, y + i, b, class_weights)
                           : fl_ce_logits (NULL, logits, y + i, b, no, class_weights);
        sum += l * (double) b;
    }
    free (logits);
    return sum / (double) n;
}

int
fl_train_dp_grad_sum (fl_model_t *m, const float *x, const int32_t *y, size_t n, double q, double C,
                      uint32_t steps, fl_rng_t *rng, float *out, uint64_t *included)
{
    assert (m && rng && out);
    size_t np = fl_model_num_params (m), d = fl_model_num_inputs (m);
    memset (out, 0, np * sizeof (float));
    if (included)
        *included = 0;
    if (!(q > 0 && q <= 1) || !(C > 0) || !isfinite (C) || steps == 0 || steps > FL_TRAIN_MAX_EPOCHS) {
        zsys_error ("fl_train_dp_grad_sum: need q in (0, 1], finite C > 0, steps in 1..%d (q %g, C %g, steps %u)",
                    FL_TRAIN_MAX_EPOCHS, q, C, steps);
        return -1;
    }
    if (!s_data_ok (m, x, y, n, "fl_train_dp_grad_sum"))
        return -1;
    double *acc = (double *) calloc (np ? np : 1, sizeof (double));    // (np) running sum in double
    float *one = (float *) malloc ((np ? np : 1) * sizeof (float));     // (np) one clipped gradient
    if (!acc || !one) {
        zsys_error ("fl_train_dp_grad_sum: out of memory (%zu parameters)", np);
        free (acc);
        free (one);
        return -1;
    }
    /* Bernoulli(q) as a 53-bit uniform below q: exact enough for q of any
       practical size, and q = 1 always includes. */
    const float *grads = fl_model_grads (m);
    uint64_t count = 0;
    int rc = 0;
    for (uint32_t k = 0; k < steps && rc == 0; k++)
        for (size_t i = 0; i < n; i++) {
            if (q < 1 && !(fl_rng_double (rng) < q))
                continue;
            if (fl_model_loss_grad (m, x + i * d, y + i, 1, NULL, NULL) != 0
                || fl_dp_clip_rows_sum (grads, 1, np, C, one, NULL) < 0) {
                rc = -1;
                break;
            }
            for (size_t j = 0; j < np; j++)
                acc[j] += one[j];
            count++;
        }
    if (rc == 0)
        for (size_t j = 0; j < np; j++)
            out[j] = (float) acc[j];
    else
        zsys_error ("fl_train_dp_grad_sum: a per-example gradient could not be computed or clipped");
    if (included)
        *included = count;
    free (acc);
    free (one);
    return rc;
}

int
fl_train_dp_local (fl_model_t *m, const float *x, const int32_t *y, size_t n, double q, double C, double z,
                   uint32_t steps, double lr, double expected_batch, fl_rng_t *rng, fl_train_dp_stats_t *st)
{
    assert (m && rng);
    size_t np = fl_model_num_params (m), d = fl_model_num_inputs (m);
    fl_train_dp_stats_t local = {0, 0, 0, 0};
    if (st)
        *st = local;
    if (!(q > 0 && q <= 1) || !(C > 0) || !isfinite (C) || !(z >= 0) || !isfinite (z) || steps == 0
        || steps > FL_TRAIN_MAX_EPOCHS || !(lr > 0) || !isfinite (lr) || !(expected_batch > 0)
        || !isfinite (expected_batch)) {
        zsys_error ("fl_train_dp_local: need q in (0, 1], finite C > 0, z >= 0, steps in 1..%d, lr and expected "
                    "batch finite > 0 (q %g, C %g, z %g, steps %u, lr %g, batch %g)", FL_TRAIN_MAX_EPOCHS, q, C, z,
                    steps, lr, expected_batch);
        return -1;
    }
    if (!s_data_ok (m, x, y, n, "fl_train_dp_local"))
        return -1;
    if (z > 0 && fl_dp_noise_grid (z, C, np, &local.grid, &local.sigma) != 0)
        return -1;
    double *acc = (double *) malloc ((np ? np : 1) * sizeof (double));   // (np) step's sum, in double
    float *one = (float *) malloc ((np ? np : 1) * sizeof (float));      // (np) one clipped gradient
    if (!acc || !one) {
        zsys_error ("fl_train_dp_local: out of memory (%zu parameters)", np);
        free (acc);
        free (one);
        return -1;
    }
    const float *grads = fl_model_grads (m);
    float *params = fl_model_params (m);
    double signal = 0;
    int rc = 0;
    for (uint32_t k = 0; k < steps && rc == 0; k++) {
        memset (acc, 0, np * sizeof (double));
        for (size_t i = 0; i < n; i++) {
            if (q < 1 && !(fl_rng_double (rng) < q))
                continue;
            if (fl_model_loss_grad (m, x + i * d, y + i, 1, NULL, NULL) != 0
                || fl_dp_clip_rows_sum (grads, 1, np, C, one, NULL) < 0) {
                zsys_error ("fl_train_dp_local: a per-example gradient could not be computed or clipped");
                rc = -1;
                break;
            }
            for (size_t j = 0; j < np; j++)
                acc[j] += one[j];
            local.included++;
        }
        if (rc != 0)
            break;
        double s2 = 0;
        for (size_t j = 0; j < np; j++)
            s2 += acc[j] * acc[j];
        signal += sqrt (s2);
        if (z > 0 && fl_dp_discrete_gaussian_add_f64 (rng, local.sigma, local.grid, acc, np) != 0) {
            rc = -1;
            break;
        }
        for (size_t j = 0; j < np; j++)
            params[j] -= (float) (lr * acc[j] / expected_batch);
        if (!fl_tensor_all_finite (params, np)) {
            zsys_error ("fl_train_dp_local: parameters became non-finite in step %u (lower the learning rate)", k);
            rc = -1;
        }
    }
    local.signal_norm = signal / (double) steps;
    if (st)
        *st = local;
    free (acc);
    free (one);
    return rc;
}
