/*  fl_logreg.c - the built-in logistic regression ("logreg").

    logits = x @ W^T + b: one dense layer, sigmoid (binary, W is (1, inputs))
    or softmax (multinomial, W is (K, inputs)) applied by fl_model.  The model
    keeps no activations: backward needs only x and dL/dlogits, so forward
    never allocates.

    With cfg->qat on, forward and backward go through a one-layer fl_qat
    stack (fake-quantised input and weights, STE; fl_qat.h), and
    export_model writes the int8 model.

    Initialisation: Glorot-uniform U(-a, a), a = sqrt(6 / (fan_in + fan_out))
    (Glorot & Bengio 2010, eq. 16) from fl_rng stream "logreg" of cfg->seed;
    bias 0.  (Zero weights would do for this convex model; small random ones
    keep every built-in model initialised the same way.)
*/
#include "fl_layers.h"
#include "fl_model.h"
#include "fl_qat.h"
#include "fl_rng.h"
#include "fl_tensor.h"

#include <czmq.h>
#include <math.h>
#include <stdlib.h>

#define S_VERSION 1u
#define S_STREAM 0x6c6f67726567u    /* "logreg" */

typedef struct {
    fl_tensor_t *t;          /* views: weight (n_out, n_inputs), bias (n_out, 1) */
    size_t n_inputs;
    size_t n_out;
    fl_qat_stack_t *qat;     /* QAT path, or NULL */
} s_logreg_t;

static void
s_destroy (void *state)
{
    s_logreg_t *self = (s_logreg_t *) state;
    if (!self)
        return;
    fl_tensor_destroy (&self->t);
    fl_qat_stack_destroy (&self->qat);
    free (self);
}

static void *
s_create (const fl_model_config_t *cfg)
{
    if (cfg->n_hidden != 0) {
        zsys_error ("logreg: takes no hidden layers (got %zu; use mlp)", cfg->n_hidden);
        return NULL;
    }
    s_logreg_t *self = (s_logreg_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->n_inputs = cfg->n_inputs;
    self->n_out = cfg->n_classes == 2 ? 1 : cfg->n_classes;
    if ((self->n_inputs + 1) * self->n_out > FL_MODEL_MAX_PARAMS) {
        zsys_error ("logreg: too many parameters for inputs %zu, classes %zu", self->n_inputs,
                    cfg->n_classes);
        s_destroy (self);
        return NULL;
    }
    fl_tensor_shape_t shapes[2] = {
        { "weight", self->n_out, self->n_inputs },
        { "bias", self->n_out, 1 },
    };
    self->t = fl_tensor_new (shapes, 2);
    fl_rng_t *rng = fl_rng_new_u64 (cfg->seed, S_STREAM);
    if (!self->t || !rng) {
        fl_rng_destroy (&rng);
        s_destroy (self);
        return NULL;
    }
    float *w = fl_tensor_view_data (self->t, 0);
    double a = sqrt (6.0 / (double) (self->n_inputs + self->n_out));
    for (size_t i = 0; i < self->n_inputs * self->n_out; i++)
        w[i] = (float) (a * (2.0 * fl_rng_double (rng) - 1.0));
    fl_rng_destroy (&rng);
    size_t width[2] = { self->n_inputs, self->n_out };
    if (cfg->qat != FL_MODEL_QAT_OFF && !(self->qat = fl_qat_stack_new (width, 1, cfg->qat))) {
        s_destroy (self);
        return NULL;
    }
    return self;
}

static int
s_forward (void *state, const float *x, size_t n, float *logits)
{
    s_logreg_t *self = (s_logreg_t *) state;
    if (self->qat) {
        float *w = fl_tensor_view_data (self->t, 0), *b = fl_tensor_view_data (self->t, 1);
        return fl_qat_stack_forward (self->qat, &w, &b, x, n, logits);
    }
    // logits (n, n_out) = x (n, n_inputs) @ weight^T + bias
    fl_dense_forward (logits, x, fl_tensor_view_data (self->t, 0),
                      fl_tensor_view_data (self->t, 1), n, self->n_inputs, self->n_out);
    return 0;
}

static int
s_backward (void *state, const float *x, size_t n, const float *dlogits)
{
    s_logreg_t *self = (s_logreg_t *) state;
    if (self->qat) {
        float *w = fl_tensor_view_data (self->t, 0);
        float *dw = fl_tensor_view_grad (self->t, 0), *db = fl_tensor_view_grad (self->t, 1);
        fl_qat_stack_backward (self->qat, &w, &dw, &db, x, n, dlogits);
        return 0;
    }
    fl_dense_backward (NULL, fl_tensor_view_grad (self->t, 0), fl_tensor_view_grad (self->t, 1),
                       dlogits, x, fl_tensor_view_data (self->t, 0), n, self->n_inputs,
                       self->n_out);
    return 0;
}

static size_t
s_num_params (const void *state)
{
    return fl_tensor_size (((const s_logreg_t *) state)->t);
}

static float *
s_params (void *state)
{
    return fl_tensor_data (((s_logreg_t *) state)->t);
}

static float *
s_grads (void *state)
{
    return fl_tensor_grad (((s_logreg_t *) state)->t);
}

static size_t
s_num_views (const void *state)
{
    return fl_tensor_num_views (((const s_logreg_t *) state)->t);
}

static int
s_view (const void *state, size_t i, fl_model_view_t *out)
{
    const fl_tensor_t *t = ((const s_logreg_t *) state)->t;
    if (i >= fl_tensor_num_views (t))
        return -1;
    const fl_tensor_view_t *v = fl_tensor_view (t, i);
    *out = (fl_model_view_t) { v->name, v->offset, v->rows, v->cols };
    return 0;
}

/* int8 export (fl_qat file format); needs QAT for the input range. */
static int
s_export (void *state, const char *path)
{
    s_logreg_t *self = (s_logreg_t *) state;
    if (!self->qat) {
        zsys_error ("logreg: int8 export needs a model trained with qat on");
        return -1;
    }
    float *w = fl_tensor_view_data (self->t, 0), *b = fl_tensor_view_data (self->t, 1);
    fl_qat_int8_t *q = fl_qat_int8_from_stack (self->qat, &w, &b);
    int rc = q ? fl_qat_int8_save (q, path) : -1;
    fl_qat_int8_destroy (&q);
    return rc;
}

const fl_model_ops_t fl_logreg_ops = {
    .abi_version = FL_MODEL_ABI_VERSION,
    .name = "logreg",
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
