/*  fl_mlp.c - the built-in multi-layer perceptron ("mlp").

    inputs -> [dense -> ReLU] x n_hidden -> dense -> logits.  One fl_tensor
    block holds every weight and bias (views fc<l>.weight (out, in) and
    fc<l>.bias (out, 1)), so the flat vector handed to the federated side is
    the block itself.  Activations are kept post-ReLU in one buffer per hidden
    layer, sized to the largest batch seen: forward allocates only when a
    batch is larger than any before, never per example.

    With cfg->qat on, forward and backward go through an fl_qat stack
    (int8 fake quantisation of every layer's input and weights, clipped
    straight-through estimator; fl_qat.h): the flat vector still holds the
    float master weights, and export_model writes the int8 model.

    Initialisation: hidden layers He-normal N(0, 2 / fan_in) (He et al. 2015,
    "Delving Deep into Rectifiers", sec. 2.2), the output layer Glorot-uniform
    U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010, eq. 16),
    biases 0.  Weights come from fl_rng stream "mlp" of cfg->seed.
*/
#include "fl_layers.h"
#include "fl_model.h"
#include "fl_qat.h"
#include "fl_rng.h"
#include "fl_tensor.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdlib.h>

#define S_VERSION 1u
#define S_STREAM 0x6d6c70u      /* "mlp" */
#define S_MAX_LAYERS (FL_MODEL_MAX_HIDDEN + 1)

typedef struct {
    fl_tensor_t *t;
    size_t n_layers;                        /* dense layers = n_hidden + 1 */
    size_t width[S_MAX_LAYERS + 1];         /* width[0] inputs ... width[L] outputs */
    size_t max_hidden;                      /* widest hidden layer (scratch row length) */
    size_t cap;                             /* rows the buffers hold */
    float *act[FL_MODEL_MAX_HIDDEN];        /* (cap, width[l+1]) post-ReLU, hidden layer l */
    float *scratch[2];                      /* (cap, max_hidden) ping-pong for dinp */
    fl_qat_stack_t *qat;                    /* QAT path, or NULL for float training */
    float *w[S_MAX_LAYERS], *b[S_MAX_LAYERS];      /* views into t, per layer */
    float *dw[S_MAX_LAYERS], *db[S_MAX_LAYERS];
} s_mlp_t;

static void
s_destroy (void *state)
{
    s_mlp_t *self = (s_mlp_t *) state;
    if (!self)
        return;
    fl_tensor_destroy (&self->t);
    fl_qat_stack_destroy (&self->qat);
    for (size_t l = 0; l < FL_MODEL_MAX_HIDDEN; l++)
        free (self->act[l]);
    free (self->scratch[0]);
    free (self->scratch[1]);
    free (self);
}

static void *
s_create (const fl_model_config_t *cfg)
{
    if (cfg->n_hidden == 0) {
        zsys_error ("mlp: needs at least one hidden layer (use logreg for none)");
        return NULL;
    }
    s_mlp_t *self = (s_mlp_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->n_layers = cfg->n_hidden + 1;
    self->width[0] = cfg->n_inputs;
    for (size_t l = 0; l < cfg->n_hidden; l++) {
        self->width[l + 1] = cfg->hidden[l];
        if (cfg->hidden[l] > self->max_hidden)
            self->max_hidden = cfg->hidden[l];
    }
    self->width[self->n_layers] = cfg->n_classes == 2 ? 1 : cfg->n_classes;

    /* count first: refuse before allocating (widths are <= 65536 each, so
       each product fits in size_t and the sum of <= 9 layers cannot wrap) */
    size_t total = 0;
    for (size_t l = 0; l < self->n_layers; l++)
        total += (self->width[l] + 1) * self->width[l + 1];
    if (total > FL_MODEL_MAX_PARAMS) {
        zsys_error ("mlp: %zu parameters exceed the limit %zu", total, FL_MODEL_MAX_PARAMS);
        s_destroy (self);
        return NULL;
    }
    char names[2 * S_MAX_LAYERS][FL_TENSOR_NAME_MAX];
    fl_tensor_shape_t shapes[2 * S_MAX_LAYERS];
    for (size_t l = 0; l < self->n_layers; l++) {
        snprintf (names[2 * l], FL_TENSOR_NAME_MAX, "fc%zu.weight", l);
        snprintf (names[2 * l + 1], FL_TENSOR_NAME_MAX, "fc%zu.bias", l);
        shapes[2 * l] = (fl_tensor_shape_t) { names[2 * l], self->width[l + 1], self->width[l] };
        shapes[2 * l + 1] = (fl_tensor_shape_t) { names[2 * l + 1], self->width[l + 1], 1 };
    }
    self->t = fl_tensor_new (shapes, 2 * self->n_layers);
    fl_rng_t *rng = fl_rng_new_u64 (cfg->seed, S_STREAM);
    if (!self->t || !rng) {
        fl_rng_destroy (&rng);
        s_destroy (self);
        return NULL;
    }
    for (size_t l = 0; l < self->n_layers; l++) {
        float *w = fl_tensor_view_data (self->t, 2 * l);
        size_t fan_in = self->width[l], fan_out = self->width[l + 1];
        if (l + 1 < self->n_layers) {
            double sd = sqrt (2.0 / (double) fan_in);
            for (size_t i = 0; i < fan_in * fan_out; i++)
                w[i] = (float) (sd * fl_rng_normal (rng));
        }
        else {
            double a = sqrt (6.0 / (double) (fan_in + fan_out));
            for (size_t i = 0; i < fan_in * fan_out; i++)
                w[i] = (float) (a * (2.0 * fl_rng_double (rng) - 1.0));
        }
        /* biases stay 0 (fl_tensor_new zeroes) */
    }
    fl_rng_destroy (&rng);
    for (size_t l = 0; l < self->n_layers; l++) {
        self->w[l] = fl_tensor_view_data (self->t, 2 * l);
        self->b[l] = fl_tensor_view_data (self->t, 2 * l + 1);
        self->dw[l] = fl_tensor_view_grad (self->t, 2 * l);
        self->db[l] = fl_tensor_view_grad (self->t, 2 * l + 1);
    }
    if (cfg->qat != FL_MODEL_QAT_OFF
        && !(self->qat = fl_qat_stack_new (self->width, self->n_layers, cfg->qat))) {
        s_destroy (self);
        return NULL;
    }
    return self;
}

static int
s_reserve (s_mlp_t *self, size_t n)
{
    if (n <= self->cap)
        return 0;
    /* grow geometrically so a slowly rising batch size reallocates O(log n) times */
    size_t cap = self->cap * 2 > n ? self->cap * 2 : n;
    for (size_t l = 0; l + 1 < self->n_layers; l++) {
        float *p = (float *) realloc (self->act[l], cap * self->width[l + 1] * sizeof (float));
        if (!p)
            return -1;
        self->act[l] = p;
    }
    for (int k = 0; k < 2; k++) {
        float *p = (float *) realloc (self->scratch[k], cap * self->max_hidden * sizeof (float));
        if (!p)
            return -1;
        self->scratch[k] = p;
    }
    self->cap = cap;
    return 0;
}

static int
s_forward (void *state, const float *x, size_t n, float *logits)
{
    s_mlp_t *self = (s_mlp_t *) state;
    if (self->qat)
        return fl_qat_stack_forward (self->qat, self->w, self->b, x, n, logits);
    if (s_reserve (self, n) != 0) {
        zsys_error ("mlp: out of memory for a batch of %zu", n);
        return -1;
    }
    const float *in = x;
    for (size_t l = 0; l < self->n_layers; l++) {
        int last = l + 1 == self->n_layers;
        float *out = last ? logits : self->act[l];      // (n, width[l+1])
        fl_dense_forward (out, in, fl_tensor_view_data (self->t, 2 * l),
                          fl_tensor_view_data (self->t, 2 * l + 1), n, self->width[l],
                          self->width[l + 1]);
        if (!last)
            fl_relu_forward (out, out, n * self->width[l + 1]);
        in = out;
    }
    return 0;
}

static int
s_backward (void *state, const float *x, size_t n, const float *dlogits)
{
    s_mlp_t *self = (s_mlp_t *) state;
    if (self->qat) {
        fl_qat_stack_backward (self->qat, self->w, self->dw, self->db, x, n, dlogits);
        return 0;
    }
    assert (n <= self->cap);     /* forward ran on this batch */
    const float *dout = dlogits;
    int ping = 0;
    for (size_t l = self->n_layers; l-- > 0;) {
        const float *in = l == 0 ? x : self->act[l - 1];   // (n, width[l])
        float *dinp = l == 0 ? NULL : self->scratch[ping]; // (n, width[l])
        fl_dense_backward (dinp, fl_tensor_view_grad (self->t, 2 * l),
                           fl_tensor_view_grad (self->t, 2 * l + 1), dout, in,
                           fl_tensor_view_data (self->t, 2 * l), n, self->width[l],
                           self->width[l + 1]);
        if (dinp) {
            fl_relu_backward (dinp, dinp, self->act[l - 1], n * self->width[l]);
            dout = dinp;
            ping ^= 1;
        }
    }
    return 0;
}

static size_t
s_num_params (const void *state)
{
    return fl_tensor_size (((const s_mlp_t *) state)->t);
}

static float *
s_params (void *state)
{
    return fl_tensor_data (((s_mlp_t *) state)->t);
}

static float *
s_grads (void *state)
{
    return fl_tensor_grad (((s_mlp_t *) state)->t);
}

static size_t
s_num_views (const void *state)
{
    return fl_tensor_num_views (((const s_mlp_t *) state)->t);
}

static int
s_view (const void *state, size_t i, fl_model_view_t *out)
{
    const fl_tensor_t *t = ((const s_mlp_t *) state)->t;
    if (i >= fl_tensor_num_views (t))
        return -1;
    const fl_tensor_view_t *v = fl_tensor_view (t, i);
    *out = (fl_model_view_t) { v->name, v->offset, v->rows, v->cols };
    return 0;
}

/* int8 export (fl_qat file format); needs QAT: the activation ranges come
   from the running min/max only a QAT model keeps. */
static int
s_export (void *state, const char *path)
{
    s_mlp_t *self = (s_mlp_t *) state;
    if (!self->qat) {
        zsys_error ("mlp: int8 export needs a model trained with qat on");
        return -1;
    }
    fl_qat_int8_t *q = fl_qat_int8_from_stack (self->qat, self->w, self->b);
    int rc = q ? fl_qat_int8_save (q, path) : -1;
    fl_qat_int8_destroy (&q);
    return rc;
}

const fl_model_ops_t fl_mlp_ops = {
    .abi_version = FL_MODEL_ABI_VERSION,
    .name = "mlp",
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
    .export_model = s_export,
};
