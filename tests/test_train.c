/*  test_train.c - fl_train: optimizer steps against hand-computed values,
    config and data errors, reproducible shuffling, fresh optimizer state per
    call, class weights, and training logistic regression and the MLP to high
    accuracy on small synthetic sets. */
#include "fl_model.h"
#include "fl_rng.h"
#include "fl_test.h"
#include "fl_train.h"

static fl_model_config_t
s_cfg (size_t in, size_t classes, const char *hidden, uint64_t seed)
{
    fl_model_config_t c;
    memset (&c, 0, sizeof c);
    c.n_inputs = in;
    c.n_classes = classes;
    c.seed = seed;
    int rc = fl_model_parse_hidden (hidden, &c);
    (void) rc;
    return c;
}

static void
test_optimizer_steps (void)
{
    fl_train_config_t cfg;
    fl_train_config_default (&cfg);
    cfg.lr = 0.1f;
    /* SGD: w = (1, -2), g = (0.5, 0.25) -> (0.95, -2.025) */
    float w[2] = { 1, -2 }, g[2] = { 0.5f, 0.25f };
    fl_optim_t *o = fl_optim_new (&cfg, 2);
    fl_optim_step (o, w, g);
    FL_CHECK_CLOSE (w[0], 0.95, 0, 1e-7);
    FL_CHECK_CLOSE (w[1], -2.025, 0, 1e-7);
    fl_optim_destroy (&o);
    FL_CHECK (o == NULL);
    fl_optim_destroy (&o);

    /* SGD + weight decay 0.1: g' = 0.5 + 0.1 * 1 = 0.6 -> 0.94 */
    cfg.weight_decay = 0.1f;
    w[0] = 1;
    g[0] = 0.5f;
    o = fl_optim_new (&cfg, 1);
    fl_optim_step (o, w, g);
    FL_CHECK_CLOSE (w[0], 0.94, 0, 1e-7);
    fl_optim_destroy (&o);
    cfg.weight_decay = 0;

    /* momentum 0.9, grads 0.5 then -0.25: v = 0.5, w = 0.95; v = 0.2, w = 0.93 */
    cfg.optimizer = FL_OPT_MOMENTUM;
    o = fl_optim_new (&cfg, 1);
    w[0] = 1;
    g[0] = 0.5f;
    fl_optim_step (o, w, g);
    FL_CHECK_CLOSE (w[0], 0.95, 0, 1e-7);
    g[0] = -0.25f;
    fl_optim_step (o, w, g);
    FL_CHECK_CLOSE (w[0], 0.93, 0, 1e-6);
    fl_optim_destroy (&o);

    /* Adam (0.9, 0.999, 1e-8), lr 0.1, grads 0.5 then -0.25:
       step 1: mhat = 0.5, vhat = 0.25 -> w = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.900000002
       step 2: m = 0.02, v = 0.00031225, mhat = 0.02 / 0.19, vhat = 0.00031225 / 0.001999
               -> w = 0.87336629870... */
    cfg.optimizer = FL_OPT_ADAM;
    o = fl_optim_new (&cfg, 1);
    w[0] = 1;
    g[0] = 0.5f;
    fl_optim_step (o, w, g);
    FL_CHECK_CLOSE (w[0], 0.900000002, 0, 1e-6);
    g[0] = -0.25f;
    fl_optim_step (o, w, g);
    FL_CHECK_CLOSE (w[0], 0.8733662987078463, 0, 1e-6);
    fl_optim_destroy (&o);
    /* constant gradient: every Adam step moves lr (bias correction exact) */
    o = fl_optim_new (&cfg, 1);
    w[0] = 0;
    for (int t = 0; t < 50; t++) {
        g[0] = -2.0f;
        fl_optim_step (o, w, g);
    }
    FL_CHECK_CLOSE (w[0], 5.0, 0, 1e-4);
    fl_optim_destroy (&o);
}

static void
test_config_errors (void)
{
    fl_train_config_t d, c;
    fl_train_config_default (&d);
    FL_CHECK (fl_train_config_check (&d, 2) == 0);
    FL_CHECK (fl_train_config_check (NULL, 2) == -1);
    c = d; c.lr = 0;             FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.lr = -1;            FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.lr = NAN;           FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.epochs = 0;         FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.batch_size = 0;     FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.weight_decay = -1;  FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.optimizer = (fl_opt_kind_t) 7; FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.optimizer = FL_OPT_MOMENTUM; c.momentum = 1; FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.optimizer = FL_OPT_ADAM; c.beta2 = 1;        FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.optimizer = FL_OPT_ADAM; c.eps = 0;          FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.momentum = 5;       FL_CHECK (fl_train_config_check (&c, 2) == 0);  /* unused by SGD */
    float bad[2] = { 1, -1 }, nan2[2] = { NAN, 1 }, ok2[2] = { 0, 3 };
    c = d; c.class_weights = bad;  FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.class_weights = nan2; FL_CHECK (fl_train_config_check (&c, 2) == -1);
    c = d; c.class_weights = ok2;  FL_CHECK (fl_train_config_check (&c, 2) == 0);
    fl_optim_t *o = fl_optim_new (&c, 3);
    FL_CHECK (o != NULL);
    fl_optim_destroy (&o);
    c = d; c.lr = 0;
    FL_CHECK (fl_optim_new (&c, 3) == NULL);

    fl_opt_kind_t k;
    FL_CHECK (fl_opt_kind_parse ("sgd", &k) == 0 && k == FL_OPT_SGD);
    FL_CHECK (fl_opt_kind_parse ("momentum", &k) == 0 && k == FL_OPT_MOMENTUM);
    FL_CHECK (fl_opt_kind_parse ("adam", &k) == 0 && k == FL_OPT_ADAM);
    FL_CHECK (fl_opt_kind_parse ("Adam", &k) == -1 && k == FL_OPT_ADAM);
    FL_CHECK (fl_opt_kind_parse (NULL, &k) == -1);
    FL_CHECK (strcmp (fl_opt_kind_name (FL_OPT_MOMENTUM), "momentum") == 0);
}

/* Linearly separable binary data: y = [w . x + 0.3 > 0], with a margin. */
static void
s_linear_data (uint64_t seed, size_t n, size_t d, float *x, int32_t *y)
{
    fl_rng_t *r = fl_rng_new_u64 (seed, 1);
    for (size_t i = 0; i < n;) {
        double s = 0.3;
        for (size_t j = 0; j < d; j++) {
            x[i * d + j] = (float) fl_rng_normal (r);
            s += (j % 2 ? -1.0 : 1.0) * x[i * d + j] / (double) (j + 1);
        }
        if (fabs (s) < 0.1)
            continue;            /* margin */
        y[i++] = s > 0;
    }
    fl_rng_destroy (&r);
}

/* Not linearly separable: y = [||x||^2 < d] (inside a sphere). */
static void
s_sphere_data (uint64_t seed, size_t n, size_t d, float *x, int32_t *y)
{
    fl_rng_t *r = fl_rng_new_u64 (seed, 2);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            x[i * d + j] = (float) fl_rng_normal (r);
            s += (double) x[i * d + j] * x[i * d + j];
        }
        y[i] = s < (double) d - 0.7;    /* about half inside */
    }
    fl_rng_destroy (&r);
}

static double
s_accuracy (fl_model_t *m, const float *x, const int32_t *y, size_t n)
{
    size_t k = fl_model_num_outputs (m), ok = 0;
    float *p = malloc (n * k * sizeof (float));
    fl_model_predict (m, x, n, p);
    for (size_t i = 0; i < n; i++) {
        size_t pred;
        if (k == 1)
            pred = p[i] >= 0.5f;
        else {
            pred = 0;
            for (size_t j = 1; j < k; j++)
                if (p[i * k + j] > p[i * k + pred])
                    pred = j;
        }
        ok += pred == (size_t) y[i];
    }
    free (p);
    return (double) ok / (double) n;
}

static void
test_train_separable (void)
{
    const size_t n = 400, d = 6;
    float *x = malloc (n * d * sizeof (float));
    int32_t *y = malloc (n * sizeof (int32_t));
    s_linear_data (21, n, d, x, y);
    const fl_opt_kind_t kinds[] = { FL_OPT_SGD, FL_OPT_MOMENTUM, FL_OPT_ADAM };
    const float lrs[] = { 0.5f, 0.05f, 0.05f };
    for (int k = 0; k < 3; k++)
        for (int mlp = 0; mlp < 2; mlp++) {
            fl_model_config_t mc = s_cfg (d, 2, mlp ? "16" : "", 7);
            fl_model_t *m = fl_model_new (mlp ? "mlp" : "logreg", &mc);
            fl_train_config_t tc;
            fl_train_config_default (&tc);
            tc.optimizer = kinds[k];
            tc.lr = lrs[k];
            tc.epochs = 30;
            tc.batch_size = 16;
            double before = fl_train_loss (m, x, y, n, NULL), last;
            FL_CHECK (fl_train_local (m, x, y, n, &tc, &last) == 0);
            double after = fl_train_loss (m, x, y, n, NULL);
            double acc = s_accuracy (m, x, y, n);
            if (fl_test_verbose_)
                printf ("  %s %s: loss %.4f -> %.4f (last epoch %.4f), accuracy %.3f\n",
                        mlp ? "mlp" : "logreg", fl_opt_kind_name (kinds[k]), before, after,
                        last, acc);
            FL_CHECK (after < 0.5 * before);
            FL_CHECK (acc >= 0.97);
            FL_CHECK (last > 0 && last < before);
            fl_model_destroy (&m);
        }
    free (x);
    free (y);
}

static void
test_train_nonlinear (void)
{
    /* a sphere: the MLP learns it, logistic regression cannot */
    const size_t n = 600, d = 3;
    float *x = malloc (n * d * sizeof (float));
    int32_t *y = malloc (n * sizeof (int32_t));
    s_sphere_data (22, n, d, x, y);
    fl_train_config_t tc;
    fl_train_config_default (&tc);
    tc.optimizer = FL_OPT_ADAM;
    tc.lr = 0.01f;
    tc.epochs = 60;
    tc.batch_size = 32;
    fl_model_config_t mc = s_cfg (d, 2, "32,16", 3), lc = s_cfg (d, 2, "", 3);
    fl_model_t *m = fl_model_new ("mlp", &mc), *l = fl_model_new ("logreg", &lc);
    FL_CHECK (fl_train_local (m, x, y, n, &tc, NULL) == 0);
    FL_CHECK (fl_train_local (l, x, y, n, &tc, NULL) == 0);
    double am = s_accuracy (m, x, y, n), al = s_accuracy (l, x, y, n);
    if (fl_test_verbose_)
        printf ("  sphere: mlp accuracy %.3f, logreg %.3f\n", am, al);
    FL_CHECK (am >= 0.93);
    FL_CHECK (al < 0.75);
    fl_model_destroy (&m);
    fl_model_destroy (&l);
    free (x);
    free (y);
}

static void
test_train_multiclass (void)
{
    /* three Gaussian blobs in 4-d */
    const size_t n = 300, d = 4, k = 3;
    float *x = malloc (n * d * sizeof (float));
    int32_t *y = malloc (n * sizeof (int32_t));
    fl_rng_t *r = fl_rng_new_u64 (23, 0);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t) (i % k);
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = (float) (0.6 * fl_rng_normal (r) + (j == (size_t) y[i] ? 3.0 : 0.0));
    }
    for (int mlp = 0; mlp < 2; mlp++) {
        fl_model_config_t mc = s_cfg (d, k, mlp ? "8" : "", 5);
        fl_model_t *m = fl_model_new (mlp ? "mlp" : "logreg", &mc);
        fl_train_config_t tc;
        fl_train_config_default (&tc);
        tc.optimizer = FL_OPT_MOMENTUM;
        tc.lr = 0.05f;
        tc.epochs = 20;
        tc.batch_size = 10;
        FL_CHECK (fl_train_local (m, x, y, n, &tc, NULL) == 0);
        FL_CHECK (s_accuracy (m, x, y, n) >= 0.97);
        fl_model_destroy (&m);
    }
    fl_rng_destroy (&r);
    free (x);
    free (y);
}

static void
test_reproducible (void)
{
    const size_t n = 97, d = 5;      /* n not a multiple of the batch size */
    float x[97 * 5];
    int32_t y[97];
    s_linear_data (24, n, d, x, y);
    fl_model_config_t mc = s_cfg (d, 2, "8", 1);
    fl_model_t *a = fl_model_new ("mlp", &mc), *b = fl_model_new ("mlp", &mc),
               *c = fl_model_new ("mlp", &mc);
    size_t np = fl_model_num_params (a);
    fl_train_config_t tc;
    fl_train_config_default (&tc);
    tc.optimizer = FL_OPT_ADAM;
    tc.epochs = 3;
    tc.batch_size = 10;
    tc.seed = 100;
    double la, lb, lc;
    FL_CHECK (fl_train_local (a, x, y, n, &tc, &la) == 0);
    FL_CHECK (fl_train_local (b, x, y, n, &tc, &lb) == 0);
    tc.seed = 101;
    FL_CHECK (fl_train_local (c, x, y, n, &tc, &lc) == 0);
    FL_CHECK (memcmp (fl_model_params (a), fl_model_params (b), np * sizeof (float)) == 0);
    FL_CHECK (la == lb);
    FL_CHECK (memcmp (fl_model_params (a), fl_model_params (c), np * sizeof (float)) != 0);
    fl_model_destroy (&a);
    fl_model_destroy (&b);
    fl_model_destroy (&c);
}

static void
test_fresh_state_per_call (void)
{
    /* Two calls on model A must equal one call on a copy B of A after the
       first: each call starts its momentum / Adam state from zero. */
    const size_t n = 64, d = 4;
    float x[64 * 4];
    int32_t y[64];
    s_linear_data (25, n, d, x, y);
    for (int k = 1; k <= 2; k++) {
        fl_model_config_t mc = s_cfg (d, 2, "", 2);
        fl_model_t *a = fl_model_new ("logreg", &mc), *b = fl_model_new ("logreg", &mc);
        size_t np = fl_model_num_params (a);
        fl_train_config_t tc;
        fl_train_config_default (&tc);
        tc.optimizer = k == 1 ? FL_OPT_MOMENTUM : FL_OPT_ADAM;
        tc.batch_size = 8;
        FL_CHECK (fl_train_local (a, x, y, n, &tc, NULL) == 0);
        memcpy (fl_model_params (b), fl_model_params (a), np * sizeof (float));
        FL_CHECK (fl_train_local (a, x, y, n, &tc, NULL) == 0);
        FL_CHECK (fl_train_local (b, x, y, n, &tc, NULL) == 0);
        FL_CHECK (memcmp (fl_model_params (a), fl_model_params (b), np * sizeof (float)) == 0);
        fl_model_destroy (&a);
        fl_model_destroy (&b);
    }
}

static void
test_class_weights (void)
{
    const size_t n = 80, d = 3;
    float x[80 * 3];
    int32_t y[80];
    s_linear_data (26, n, d, x, y);
    fl_model_config_t mc = s_cfg (d, 2, "4", 8);
    fl_model_t *a = fl_model_new ("mlp", &mc), *b = fl_model_new ("mlp", &mc),
               *c = fl_model_new ("mlp", &mc);
    size_t np = fl_model_num_params (a);
    fl_train_config_t tc;
    fl_train_config_default (&tc);
    tc.lr = 0.1f;
    tc.batch_size = 8;
    tc.epochs = 2;
    /* weights (1, 1) are exactly no weights */
    float ones[2] = { 1, 1 }, twos[2] = { 2, 2 };
    FL_CHECK (fl_train_local (a, x, y, n, &tc, NULL) == 0);
    tc.class_weights = ones;
    FL_CHECK (fl_train_local (b, x, y, n, &tc, NULL) == 0);
    FL_CHECK (memcmp (fl_model_params (a), fl_model_params (b), np * sizeof (float)) == 0);
    /* with SGD, weights (2, 2) at lr equal no weights at 2 lr (scaling by 2 is exact) */
    tc.class_weights = twos;
    tc.lr = 0.05f;
    FL_CHECK (fl_train_local (c, x, y, n, &tc, NULL) == 0);
    int same = 1;
    for (size_t i = 0; i < np; i++)
        same &= fabsf (fl_model_params (a)[i] - fl_model_params (c)[i]) <= 1e-6f;
    FL_CHECK (same);
    /* fl_train_loss honours weights: loss with (2, 2) is twice the unweighted */
    double l1 = fl_train_loss (a, x, y, n, NULL), l2 = fl_train_loss (a, x, y, n, twos);
    FL_CHECK_CLOSE (l2, 2.0 * l1, 0, 1e-12);
    fl_model_destroy (&a);
    fl_model_destroy (&b);
    fl_model_destroy (&c);
}

static void
test_data_errors (void)
{
    const size_t n = 10, d = 2;
    float x[20];
    int32_t y[10];
    s_linear_data (27, n, d, x, y);
    fl_model_config_t mc = s_cfg (d, 2, "", 1);
    fl_model_t *m = fl_model_new ("logreg", &mc);
    float before[3];
    memcpy (before, fl_model_params (m), sizeof before);
    fl_train_config_t tc;
    fl_train_config_default (&tc);
    FL_CHECK (fl_train_local (m, x, y, 0, &tc, NULL) == -1);
    y[3] = 2;
    FL_CHECK (fl_train_local (m, x, y, n, &tc, NULL) == -1);
    FL_CHECK (isnan (fl_train_loss (m, x, y, n, NULL)));
    y[3] = -1;
    FL_CHECK (fl_train_local (m, x, y, n, &tc, NULL) == -1);
    y[3] = 1;
    x[5] = NAN;
    FL_CHECK (fl_train_local (m, x, y, n, &tc, NULL) == -1);
    x[5] = INFINITY;
    FL_CHECK (fl_train_local (m, x, y, n, &tc, NULL) == -1);
    x[5] = 0;
    tc.epochs = 0;
    FL_CHECK (fl_train_local (m, x, y, n, &tc, NULL) == -1);
    FL_CHECK (memcmp (before, fl_model_params (m), sizeof before) == 0);   /* untouched */
    tc.epochs = 1;
    float negw[2] = { -1, 1 };
    FL_CHECK (isnan (fl_train_loss (m, x, y, n, negw)));
    /* divergence is reported, not silently returned */
    tc.lr = 1e30f;
    tc.epochs = 3;
    tc.batch_size = 2;
    for (size_t i = 0; i < 20; i++)
        x[i] *= 1e6f;
    FL_CHECK (fl_train_local (m, x, y, n, &tc, NULL) == -1);
    fl_model_destroy (&m);
}

static void
test_train_loss_matches (void)
{
    /* fl_train_loss in chunks equals one-batch fl_model_loss_grad */
    const size_t n = 1100, d = 3;
    float *x = malloc (n * d * sizeof (float));
    int32_t *y = malloc (n * sizeof (int32_t));
    s_sphere_data (28, n, d, x, y);
    fl_model_config_t mc = s_cfg (d, 2, "5", 1);
    fl_model_t *m = fl_model_new ("mlp", &mc);
    float w[2] = { 0.3f, 1.7f };
    double l1 = fl_train_loss (m, x, y, n, w), l2;
    FL_CHECK (fl_model_loss_grad (m, x, y, n, w, &l2) == 0);
    FL_CHECK_CLOSE (l1, l2, 0, 1e-9);
    fl_model_destroy (&m);
    free (x);
    free (y);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_optimizer_steps);
    FL_RUN (test_config_errors);
    FL_RUN (test_train_separable);
    FL_RUN (test_train_nonlinear);
    FL_RUN (test_train_multiclass);
    FL_RUN (test_reproducible);
    FL_RUN (test_fresh_state_per_call);
    FL_RUN (test_class_weights);
    FL_RUN (test_data_errors);
    FL_RUN (test_train_loss_matches);
    FL_TEST_DONE ();
}
