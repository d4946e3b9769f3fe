/*  fl_server_opt.c - FedAvg accumulator and server optimizers (see header). */
#include "fl_server_opt.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fl_server_opt_t {
    fl_server_opt_config_t cfg;
    size_t n;
    uint64_t steps;
    float *state;       /* (2, n): momentum / first moment, then second moment */
};

struct fl_fedavg_t {
    size_t n;
    uint64_t cap;
    double *sum;        /* (n) sum of weight * update, in double to keep order effects small */
    double weight;
    size_t count;
};

void
fl_server_opt_config_default (fl_server_opt_config_t *cfg)
{
    cfg->kind = FL_SERVER_FEDAVG;
    cfg->lr = 1.0;
    cfg->momentum = 0.9;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.99;
    cfg->tau = 1e-3;
}

int
fl_server_opt_kind_parse (const char *s, fl_server_opt_kind_t *kind)
{
    if (!s)
        return -1;
    if (strcmp (s, "fedavg") == 0)
        *kind = FL_SERVER_FEDAVG;
    else if (strcmp (s, "fedavgm") == 0)
        *kind = FL_SERVER_FEDAVGM;
    else if (strcmp (s, "fedadam") == 0)
        *kind = FL_SERVER_FEDADAM;
    else
        return -1;
    return 0;
}

const char *
fl_server_opt_kind_name (fl_server_opt_kind_t kind)
{
    switch (kind) {
    case FL_SERVER_FEDAVG: return "fedavg";
    case FL_SERVER_FEDAVGM: return "fedavgm";
    case FL_SERVER_FEDADAM: return "fedadam";
    }
    return "?";
}

fl_server_opt_t *
fl_server_opt_new (const fl_server_opt_config_t *cfg, size_t n)
{
    if (!(cfg->lr > 0) || !(cfg->momentum >= 0 && cfg->momentum < 1)
        || !(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1)
        || !(cfg->tau > 0)) {
        zsys_error ("server optimizer: parameters out of range (lr %g > 0, momentum %g, "
                    "beta1 %g, beta2 %g in [0,1), tau %g > 0)",
                    cfg->lr, cfg->momentum, cfg->beta1, cfg->beta2, cfg->tau);
        return NULL;
    }
    fl_server_opt_t *self = (fl_server_opt_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->n = n;
    self->state = (float *) calloc (2 * n + 1, sizeof (float));
    if (!self->state) {
        free (self);
        return NULL;
    }
    return self;
}

void
fl_server_opt_destroy (fl_server_opt_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->state);
        free (*self_p);
        *self_p = NULL;
    }
}

int
fl_server_opt_step (fl_server_opt_t *self, float *params, const float *delta)
{
    size_t n = self->n;
    for (size_t i = 0; i < n; i++)
        if (!isfinite (delta[i])) {
            zsys_error ("server optimizer: aggregate update has a non-finite value at %zu; "
                        "global model left unchanged", i);
            return -1;
        }
    float lr = (float) self->cfg.lr;
    float *m = self->state, *v = self->state + n;
    switch (self->cfg.kind) {
    case FL_SERVER_FEDAVG:
        for (size_t i = 0; i < n; i++)
            params[i] += lr * delta[i];
        break;
    case FL_SERVER_FEDAVGM: {
        float beta = (float) self->cfg.momentum;
        for (size_t i = 0; i < n; i++) {
            m[i] = beta * m[i] + delta[i];
            params[i] += lr * m[i];
        }
        break;
    }
    case FL_SERVER_FEDADAM: {
        /* Reddi et al. 2021, Alg. 2: no bias correction; tau bounds the step. */
        float b1 = (float) self->cfg.beta1, b2 = (float) self->cfg.beta2, tau = (float) self->cfg.tau;
        for (size_t i = 0; i < n; i++) {
            m[i] = b1 * m[i] + (1 - b1) * delta[i];
            v[i] = b2 * v[i] + (1 - b2) * delta[i] * delta[i];
            params[i] += lr * m[i] / (sqrtf (v[i]) + tau);
        }
        break;
    }
    }
    self->steps++;
    return 0;
}

size_t
fl_server_opt_state_len (const fl_server_opt_t *self)
{
    return 2 * self->n;
}

float *
fl_server_opt_state (fl_server_opt_t *self)
{
    return self->state;
}

uint64_t
fl_server_opt_steps (const fl_server_opt_t *self)
{
    return self->steps;
}

void
fl_server_opt_set_steps (fl_server_opt_t *self, uint64_t steps)
{
    self->steps = steps;
}

fl_fedavg_t *
fl_fedavg_new (size_t n, uint64_t example_cap)
{
    fl_fedavg_t *self = (fl_fedavg_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->n = n;
    self->cap = example_cap;
    self->sum = (double *) calloc (n ? n : 1, sizeof (double));
    if (!self->sum) {
        free (self);
        return NULL;
    }
    return self;
}

void
fl_fedavg_destroy (fl_fedavg_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->sum);
        free (*self_p);
        *self_p = NULL;
    }
}

void
fl_fedavg_reset (fl_fedavg_t *self)
{
    memset (self->sum, 0, self->n * sizeof (double));
    self->weight = 0;
    self->count = 0;
}

int
fl_fedavg_add (fl_fedavg_t *self, const float *update, uint64_t num_examples)
{
    if (num_examples == 0)
        return -1;
    for (size_t i = 0; i < self->n; i++)
        if (!isfinite (update[i]))
            return -1;
    uint64_t w = self->cap && num_examples > self->cap ? self->cap : num_examples;
    for (size_t i = 0; i < self->n; i++)
        self->sum[i] += (double) w * update[i];
    self->weight += (double) w;
    self->count++;
    return 0;
}

int
fl_fedavg_mean (const fl_fedavg_t *self, float *out)
{
    if (self->count == 0 || self->weight <= 0)
        return -1;
    for (size_t i = 0; i < self->n; i++)
        out[i] = (float) (self->sum[i] / self->weight);
    return 0;
}

size_t
fl_fedavg_count (const fl_fedavg_t *self)
{
    return self->count;
}

double
fl_fedavg_total_weight (const fl_fedavg_t *self)
{
    return self->weight;
}
