/*  fm_plugin.c - an example libfl model plugin: a factorisation machine.

    Written ONLY against the public header fl_model.h and the C library:
    it is built as a shared object (build/plugins/fm_plugin.so) that links
    nothing of libfl, only libm, and is loaded at run time with
        fl_model_load_plugin ("build/plugins/fm_plugin.so", &cfg, why, sizeof why)
    or `--model-plugin build/plugins/fm_plugin.so` on the programs.  See
    docs/MODELS.md for the walk-through.

    The model (Rendle, "Factorization Machines", ICDM 2010, eq. 1), one per
    output o (1 output for binary, K for K classes):

        logit_o(x) = w0_o + sum_i w_oi x_i + sum_{i<j} <v_oi, v_oj> x_i x_j

    computed in O(k d) with Rendle's Lemma 3.1:

        sum_{i<j} <v_i, v_j> x_i x_j = 1/2 sum_f [ (sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2 ]

    and its gradient (Rendle eq. 4): d/dw0 = 1, d/dw_i = x_i,
    d/dv_if = x_i s_f - v_if x_i^2 with s_f = sum_j v_jf x_j.

    Parameters, one flat float block (views, in this order):
        bias     (n_out, 1)
        linear   (n_out, d)
        factors  (n_out * d, k)   row o*d + i is v_oi
    k = cfg->hidden[0] when one hidden size is given ("--hidden 8"), else 8.
    Initialisation: bias and linear 0, factors N(0, 0.05^2) from a
    splitmix64 / Box-Muller generator seeded by cfg->seed (self-contained:
    the plugin cannot use fl_rng).

    QAT is not implemented here, so a config with qat != 0 is refused
    (create returns NULL) as the ABI asks, rather than silently ignored.
*/
#include "fl_model.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_VERSION 1u
#define S_DEFAULT_K 8u
#define S_MAX_K 1024u

typedef struct {
    size_t d, n_out, k;
    size_t n_params;
    float *params;       /* bias | linear | factors */
    float *grads;        /* same layout */
    float *bias, *lin, *v;
    float *dbias, *dlin, *dv;
    size_t cap;          /* rows the cache holds */
    float *sums;         /* (cap, n_out, k): s_f of the last forward */
} s_fm_t;

static const char *const s_view_names[3] = { "bias", "linear", "factors" };

static uint64_t
s_splitmix64 (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double
s_uniform (uint64_t *state)       /* in (0, 1) */
{
    return ((double) (s_splitmix64 (state) >> 11) + 0.5) / 9007199254740992.0;
}

static void
s_destroy (void *state)
{
    s_fm_t *self = (s_fm_t *) state;
    if (!self)
        return;
    free (self->params);
    free (self->grads);
    free (self->sums);
    free (self);
}

static void *
s_create (const fl_model_config_t *cfg)
{
    if (cfg->qat != FL_MODEL_QAT_OFF) {
        fprintf (stderr, "fm plugin: quantisation-aware training is not supported\n");
        return NULL;
    }
    if (cfg->n_hidden > 1) {
        fprintf (stderr, "fm plugin: takes at most one size (the factor dimension k)\n");
        return NULL;
    }
    size_t k = cfg->n_hidden == 1 ? cfg->hidden[0] : S_DEFAULT_K;
    if (k == 0 || k > S_MAX_K) {
        fprintf (stderr, "fm plugin: factor dimension %zu not in 1..%u\n", k, S_MAX_K);
        return NULL;
    }
    s_fm_t *self = (s_fm_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->d = cfg->n_inputs;
    self->n_out = cfg->n_classes == 2 ? 1 : cfg->n_classes;
    self->k = k;
    /* d, n_out <= 65536 and k <= 1024 (the host checked d and n_classes):
       the product stays below 2^42, no overflow; the host refuses > 2^28. */
    self->n_params = self->n_out * (1 + self->d + self->d * k);
    if (self->n_params > FL_MODEL_MAX_PARAMS) {
        fprintf (stderr, "fm plugin: %zu parameters exceed the limit\n", self->n_params);
        s_destroy (self);
        return NULL;
    }
    self->params = (float *) calloc (self->n_params, sizeof (float));
    self->grads = (float *) calloc (self->n_params, sizeof (float));
    if (!self->params || !self->grads) {
        s_destroy (self);
        return NULL;
    }
    self->bias = self->params;
    self->lin = self->bias + self->n_out;
    self->v = self->lin + self->n_out * self->d;
    self->dbias = self->grads;
    self->dlin = self->dbias + self->n_out;
    self->dv = self->dlin + self->n_out * self->d;
    uint64_t st = cfg->seed ^ 0x666d706c7567696eull;     /* "fmplugin" */
    size_t nv = self->n_out * self->d * k;
    for (size_t i = 0; i < nv; i++) {
        double u1 = s_uniform (&st), u2 = s_uniform (&st);
        self->v[i] = (float) (0.05 * sqrt (-2.0 * log (u1)) * cos (6.283185307179586 * u2));
    }
    return self;
}

static size_t
s_num_params (const void *state)
{
    return ((const s_fm_t *) state)->n_params;
}

static float *
s_params (void *state)
{
    return ((s_fm_t *) state)->params;
}

static float *
s_grads (void *state)
{
    return ((s_fm_t *) state)->grads;
}

static size_t
s_num_views (const void *state)
{
    (void) state;
    return 3;
}

static int
s_view (const void *state, size_t i, fl_model_view_t *out)
{
    const s_fm_t *self = (const s_fm_t *) state;
    switch (i) {
        case 0: *out = (fl_model_view_t) { s_view_names[0], 0, self->n_out, 1 }; return 0;
        case 1:
            *out = (fl_model_view_t) { s_view_names[1], self->n_out, self->n_out, self->d };
            return 0;
        case 2:
            *out = (fl_model_view_t) { s_view_names[2], self->n_out * (1 + self->d),
                                       self->n_out * self->d, self->k };
            return 0;
        default: return -1;
    }
}

static int
s_forward (void *state, const float *x, size_t n, float *logits)
{
    s_fm_t *self = (s_fm_t *) state;
    size_t d = self->d, k = self->k, no = self->n_out;
    if (n > self->cap) {
        size_t cap = self->cap * 2 > n ? self->cap * 2 : n;
        if (cap > SIZE_MAX / sizeof (float) / no / k)
            return -1;
        float *p = (float *) realloc (self->sums, cap * no * k * sizeof (float));
        if (!p)
            return -1;
        self->sums = p;
        self->cap = cap;
    }
    for (size_t b = 0; b < n; b++) {
        const float *xb = x + b * d;
        for (size_t o = 0; o < no; o++) {
            const float *w = self->lin + o * d, *v = self->v + o * d * k;
            float *s = self->sums + (b * no + o) * k;
            double lin = self->bias[o], sq = 0;
            memset (s, 0, k * sizeof (float));
            for (size_t i = 0; i < d; i++) {
                float xi = xb[i];
                lin += (double) w[i] * xi;
                const float *vi = v + i * k;
                for (size_t f = 0; f < k; f++) {
                    s[f] += vi[f] * xi;
                    sq += (double) vi[f] * vi[f] * xi * xi;
                }
            }
            double pair = 0;
            for (size_t f = 0; f < k; f++)
                pair += (double) s[f] * s[f];
            logits[b * no + o] = (float) (lin + 0.5 * (pair - sq));
        }
    }
    return 0;
}

static int
s_backward (void *state, const float *x, size_t n, const float *dlogits)
{
    s_fm_t *self = (s_fm_t *) state;
    size_t d = self->d, k = self->k, no = self->n_out;
    memset (self->grads, 0, self->n_params * sizeof (float));    /* overwrite, not accumulate */
    for (size_t b = 0; b < n; b++) {
        const float *xb = x + b * d;
        for (size_t o = 0; o < no; o++) {
            float g = dlogits[b * no + o];
            if (g == 0.0f)
                continue;
            const float *v = self->v + o * d * k, *s = self->sums + (b * no + o) * k;
            float *dw = self->dlin + o * d, *dv = self->dv + o * d * k;
            self->dbias[o] += g;
            for (size_t i = 0; i < d; i++) {
                float xi = xb[i];
                if (xi == 0.0f)
                    continue;
                dw[i] += g * xi;
                const float *vi = v + i * k;
                float *dvi = dv + i * k;
                for (size_t f = 0; f < k; f++)
                    dvi[f] += g * (xi * s[f] - vi[f] * xi * xi);
            }
        }
    }
    return 0;
}

static const fl_model_ops_t s_ops = {
    .abi_version = FL_MODEL_ABI_VERSION,
    .name = "fm",
    .version = S_VERSION,
    .create = s_create,
    .destroy = s_destroy,
    .num_params = s_num_params,
    .params = s_params,
    .grads = s_grads,
    .num_views = s_num_views,
    .view = s_view,
    .forward = s_forward,
    .backward = s_backward,
    .export_model = NULL,
};

/* The one exported symbol (FL_MODEL_PLUGIN_SYMBOL). */
const fl_model_ops_t *fl_model_plugin_v1 (void);

const fl_model_ops_t *
fl_model_plugin_v1 (void)
{
    return &s_ops;
}
