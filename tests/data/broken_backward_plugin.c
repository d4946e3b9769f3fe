/*  broken_backward_plugin.c - the example factorisation-machine plugin with a
    deliberately wrong backward pass: the gradient of every factor is
    scaled by 1.5, the kind of slip (a missing 1/2 of Rendle's Lemma 3.1) a
    plugin author makes.  tests/it_predict.sh builds it with the C compiler
    (cc -shared -fPIC, against libfl/learn/fl_model.h only, as an
    out-of-tree plugin is built) and `fl-model gradcheck --model-plugin`
    must report FAIL with exit status 1.  Not built by CMake. */
#define fl_model_plugin_v1 s_fm_entry
#include "../../models/examples/fm_plugin.c"
#undef fl_model_plugin_v1

static int
s_broken_backward (void *state, const float *x, size_t n, const float *dlogits)
{
    int rc = s_ops.backward (state, x, n, dlogits);
    s_fm_t *self = (s_fm_t *) state;
    for (size_t i = 0; i < self->n_out * self->d * self->k; i++)
        self->dv[i] *= 1.5f;
    return rc;
}

static fl_model_ops_t s_broken_ops;

const fl_model_ops_t *fl_model_plugin_v1 (void);

const fl_model_ops_t *
fl_model_plugin_v1 (void)
{
    s_broken_ops = *s_fm_entry ();
    s_broken_ops.name = "fm_broken";
    s_broken_ops.backward = s_broken_backward;
    return &s_broken_ops;
}
