/*  client_sim.h - drives one member (fl_client) through a plaintext
    training round with hand-made coordinator messages, for the tests of
    what a member sends (test_attack, test_adversary).

    client_sim_train: HELLO, then WELCOME (logreg over `features` inputs, 2
    classes), STANDARDISE (mean 0, std 1) and TRAIN of `round` (zero global
    model, 2 epochs, batch 4, lr 0.1, sgd, no example cap) for run `run`.
    WELCOME and STANDARDISE must be accepted; TRAIN's fl_client_on_message
    must return `expect`.  Returns the UPDATE delta (malloc'd, *n_out
    parameters), or NULL if the member sent no UPDATE.
*/
#ifndef CLIENT_SIM_H_INCLUDED
#define CLIENT_SIM_H_INCLUDED

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fl_client.h"
#include "fl_model.h"
#include "fl_test.h"
#include "fl_wire.h"

static inline void
client_sim_drain (fl_client_t *c)
{
    uint8_t *data;
    size_t len;
    while (fl_client_next_out (c, &data, &len))
        free (data);
}

static inline void
client_sim_deliver (fl_client_t *c, fl_wire_writer_t *w, int expect)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    FL_CHECK (fl_wire_writer_finish (&w, &buf, &len) == 0);
    FL_CHECK (fl_client_on_message (c, buf, len) == expect);
    free (buf);
}

/*  The example count ("n") of the last UPDATE client_sim_train saw. */
static uint64_t client_sim_last_n;

static inline float *
client_sim_train (fl_client_t *c, const uint8_t run[16], uint64_t round, size_t features, int expect,
                  size_t *n_out)
{
    fl_client_hello (c);
    client_sim_drain (c);
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_WELCOME, run, 0);
    fl_wire_put_u64 (w, FL_K_CLIENT, 0);
    fl_wire_put_str (w, FL_K_MODEL, "logreg");
    fl_wire_put_str (w, FL_K_HIDDEN, "");
    fl_wire_put_u64 (w, FL_K_FEATURES, features);
    fl_wire_put_u64 (w, FL_K_CLASSES, 2);
    fl_wire_put_u64 (w, FL_K_SEED, 7);
    client_sim_deliver (c, w, 1);
    float *mean = (float *) calloc (2 * features, sizeof (float)), *std = mean + features;
    for (size_t j = 0; j < features; j++)
        std[j] = 1;
    w = fl_wire_writer_new (FL_WIRE_STANDARDISE, run, 0);
    fl_wire_put_f32s (w, FL_K_MEAN, mean, features);
    fl_wire_put_f32s (w, FL_K_STD, std, features);
    client_sim_deliver (c, w, 1);
    free (mean);
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = features;
    mc.n_classes = 2;
    mc.seed = 7;
    fl_model_t *model = fl_model_new ("logreg", &mc);
    uint8_t fp[32];
    fl_model_fingerprint (model, fp);
    size_t np = fl_model_num_params (model);
    float *zero = (float *) calloc (np, sizeof (float));
    w = fl_wire_writer_new (FL_WIRE_TRAIN, run, round);
    fl_wire_put_f32s (w, FL_K_PARAMS, zero, np);
    fl_wire_put_bin (w, FL_K_FP, fp, 32);
    fl_wire_put_u64 (w, FL_K_EPOCHS, 2);
    fl_wire_put_u64 (w, FL_K_BATCH, 4);
    fl_wire_put_f64 (w, FL_K_LR, 0.1);
    fl_wire_put_str (w, FL_K_OPT, "sgd");
    fl_wire_put_u64 (w, FL_K_SEED, 99);
    fl_wire_put_u64 (w, FL_K_CAP, 0);
    client_sim_deliver (c, w, expect);
    float *delta = (float *) calloc (np, sizeof (float));
    uint8_t *data;
    size_t len;
    int got = 0;
    while (fl_client_next_out (c, &data, &len)) {
        char why[64];
        fl_wire_limits_t lim = fl_wire_limits_default ();
        fl_wire_msg_t *um = fl_wire_decode (data, len, &lim, why, sizeof why);
        if (um && fl_wire_type (um) == FL_WIRE_UPDATE)
            got = fl_wire_copy_f32s (um, FL_K_DELTA, delta, np) == 0
                  && fl_wire_get_u64 (um, FL_K_N, &client_sim_last_n) == 0;
        fl_wire_msg_destroy (&um);
        free (data);
    }
    free (zero);
    fl_model_destroy (&model);
    *n_out = np;
    if (!got) {
        free (delta);
        return NULL;
    }
    return delta;
}

#endif
