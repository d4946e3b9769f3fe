/*  test_baseline.c - fl_baseline: the L-BFGS logistic regression reaches a
    stationary point of the penalised objective (gradient recomputed here
    naively, in double, binary and multinomial), a known answer on a tiny
    separable problem with L2, early stopping keeps its best epoch, exact
    metrics say "undefined" rather than inventing a value, and bad input is
    refused. */
#include "fl_baseline.h"
#include "fl_model.h"
#include "fl_rng.h"
#include "fl_test.h"

static fl_model_t *
s_model (const char *name, size_t in, size_t classes, const char *hidden)
{
    fl_model_config_t c;
    memset (&c, 0, sizeof c);
    c.n_inputs = in;
    c.n_classes = classes;
    c.seed = 7;
    if (fl_model_parse_hidden (hidden, &c) != 0)
        return NULL;
    return fl_model_new (name, &c);
}

/* A noisy, overlapping (non-separable) problem: y from a linear score plus noise. */
static void
s_data (size_t n, size_t d, size_t k, float *x, int32_t *y, uint64_t seed)
{
    fl_rng_t *r = fl_rng_new_u64 (seed, 1);
    for (size_t i = 0; i < n; i++) {
        double best = -1e300;
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = (float) fl_rng_normal (r);
        for (size_t c = 0; c < (k == 2 ? 1 : k); c++) {
            double s = 0;
            for (size_t j = 0; j < d; j++)
                s += x[i * d + j] * (double) ((j + c) % 3) * 0.7;
            s += 1.5 * fl_rng_normal (r);
            if (k == 2)
                y[i] = s > 0.3;
            else if (s > best) {
                best = s;
                y[i] = (int32_t) c;
            }
        }
    }
    fl_rng_destroy (&r);
}

/* ||grad f||_inf at the model's parameters, computed naively in double. */
static double
s_grad_inf (fl_model_t *m, const float *x, const int32_t *y, size_t n, double l2)
{
    size_t d = fl_model_num_inputs (m), k = fl_model_num_outputs (m);
    const float *p = fl_model_params (m);
    fl_model_view_t vw, vb;
    if (fl_model_view (m, 0, &vw) != 0 || fl_model_view (m, 1, &vb) != 0)
        return INFINITY;
    double *g = (double *) calloc (k * d + k, sizeof (double));
    double z[16], r[16];
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < k; c++) {
            z[c] = p[vb.offset + c];
            for (size_t j = 0; j < d; j++)
                z[c] += (double) p[vw.offset + c * d + j] * x[i * d + j];
        }
        if (k == 1)
            r[0] = 1 / (1 + exp (-z[0])) - y[i];
        else {
            double mx = z[0], s = 0;
            for (size_t c = 1; c < k; c++)
                mx = fmax (mx, z[c]);
            for (size_t c = 0; c < k; c++)
                s += exp (z[c] - mx);
            for (size_t c = 0; c < k; c++)
                r[c] = exp (z[c] - mx) / s - (y[i] == (int32_t) c);
        }
        for (size_t c = 0; c < k; c++) {
            for (size_t j = 0; j < d; j++)
                g[c * d + j] += r[c] * x[i * d + j] / (double) n;
            g[k * d + c] += r[c] / (double) n;
        }
    }
    double worst = 0;
    for (size_t c = 0; c < k; c++)
        for (size_t j = 0; j < d; j++)
            worst = fmax (worst, fabs (g[c * d + j] + l2 * p[vw.offset + c * d + j]));
    for (size_t c = 0; c < k; c++)
        worst = fmax (worst, fabs (g[k * d + c]));
    free (g);
    return worst;
}

static void
test_stationary (void)
{
    enum { N = 400, D = 6 };
    static float x[N * D];
    static int32_t y[N];
    size_t ks[] = { 2, 3 };
    for (size_t t = 0; t < 2; t++) {
        s_data (N, D, ks[t], x, y, 11 + t);
        fl_model_t *m = s_model ("logreg", D, ks[t], "");
        fl_baseline_lbfgs_t cfg;
        fl_baseline_lbfgs_default (&cfg);
        cfg.l2 = 1e-2;
        fl_baseline_report_t rep;
        FL_CHECK (fl_baseline_fit_logreg (m, x, y, N, &cfg, &rep) == 0);
        FL_CHECK (strcmp (rep.stop, "iteration cap") != 0);
        FL_CHECK (rep.iterations >= 2 && rep.iterations < cfg.max_iter);
        FL_CHECK (rep.grad_inf <= 1e-6);
        /* the float32 parameters, gradient recomputed independently */
        double gi = s_grad_inf (m, x, y, N, cfg.l2);
        if (fl_test_verbose_)
            printf ("  K=%zu: %d iterations (%s), loss %.10f, |g| %.2e, float |g| %.2e\n", ks[t], rep.iterations,
                    rep.stop, rep.loss, rep.grad_inf, gi);
        FL_CHECK (gi < 1e-5);
        fl_metrics_summary_t s;
        size_t def = 0;
        FL_CHECK (fl_baseline_metrics (m, x, y, N, &s, &def) == 0);
        FL_CHECK (def == (ks[t] == 2 ? 1u : 3u));
        FL_CHECK (s.auroc > 0.7 && s.auroc <= 1);
        FL_CHECK (s.accuracy > 0.6);
        fl_model_destroy (&m);
    }
}

/*  Known answer: x = -1 (y = 0) and x = +1 (y = 1), separable.  By symmetry
    b = 0 and the gradient in w is -sigmoid(-w) + l2 w, so with
    l2 = sigmoid(-2) / 2 the minimiser is exactly w = 2. */
static void
test_known_answer (void)
{
    float x[2] = { -1, 1 };
    int32_t y[2] = { 0, 1 };
    fl_model_t *m = s_model ("logreg", 1, 2, "");
    fl_baseline_lbfgs_t cfg;
    fl_baseline_lbfgs_default (&cfg);
    cfg.l2 = 0.5 / (1 + exp (2.0));
    fl_baseline_report_t rep;
    FL_CHECK (fl_baseline_fit_logreg (m, x, y, 2, &cfg, &rep) == 0);
    const float *p = fl_model_params (m);
    FL_CHECK_CLOSE (p[0], 2.0, 1e-5, 0);
    FL_CHECK_CLOSE (p[1], 0.0, 1e-6, 0);
    /* the objective at the solution: log(1 + e^-2) + l2/2 * 4 */
    FL_CHECK_CLOSE (rep.loss, log1p (exp (-2.0)) + 2 * cfg.l2, 1e-10, 0);
    fl_model_destroy (&m);
}

static void
test_refuses (void)
{
    float x[4] = { 0, 1, 2, 3 };
    int32_t y[2] = { 0, 2 };
    fl_baseline_lbfgs_t cfg;
    fl_baseline_lbfgs_default (&cfg);
    fl_model_t *m = s_model ("logreg", 2, 2, "");
    FL_CHECK (fl_baseline_fit_logreg (m, x, y, 2, &cfg, NULL) == -1);       /* label 2 of 2 classes */
    y[1] = 1;
    x[3] = NAN;
    FL_CHECK (fl_baseline_fit_logreg (m, x, y, 2, &cfg, NULL) == -1);       /* NaN input */
    x[3] = 3;
    FL_CHECK (fl_baseline_fit_logreg (m, x, y, 0, &cfg, NULL) == -1);       /* no rows */
    cfg.l2 = -1;
    FL_CHECK (fl_baseline_fit_logreg (m, x, y, 2, &cfg, NULL) == -1);
    fl_model_destroy (&m);
    fl_baseline_lbfgs_default (&cfg);
    fl_model_t *mlp = s_model ("mlp", 2, 2, "4");
    FL_CHECK (fl_baseline_fit_logreg (mlp, x, y, 2, &cfg, NULL) == -1);     /* not logreg */
    fl_train_config_t tc;
    fl_train_config_default (&tc);
    fl_baseline_early_stop_t es;
    fl_baseline_early_stop_default (&es);
    FL_CHECK (fl_baseline_fit_early_stop (mlp, x, y, 1, &tc, &es, NULL) == -1);   /* 1 row */
    es.patience = 0;
    FL_CHECK (fl_baseline_fit_early_stop (mlp, x, y, 2, &tc, &es, NULL) == -1);
    fl_model_destroy (&mlp);
}

static void
test_early_stop (void)
{
    enum { N = 300, D = 5 };
    static float x[N * D];
    static int32_t y[N];
    s_data (N, D, 2, x, y, 5);
    fl_model_t *m = s_model ("mlp", D, 2, "16");
    fl_train_config_t tc;
    fl_train_config_default (&tc);
    tc.batch_size = 16;
    tc.lr = 0.1f;
    fl_baseline_early_stop_t es;
    fl_baseline_early_stop_default (&es);
    es.val_fraction = 0.2;
    es.patience = 5;
    es.max_epochs = 200;
    es.seed = 3;
    fl_baseline_report_t rep;
    FL_CHECK (fl_baseline_fit_early_stop (m, x, y, N, &tc, &es, &rep) == 0);
    FL_CHECK (rep.best_epoch >= 1 && rep.best_epoch <= rep.iterations);
    FL_CHECK (strcmp (rep.stop, "patience") == 0 || strcmp (rep.stop, "epoch cap") == 0);
    if (strcmp (rep.stop, "patience") == 0)
        FL_CHECK (rep.iterations == rep.best_epoch + es.patience);
    FL_CHECK (isfinite (rep.loss));
    /* the model holds the best epoch: same seed, same run, same parameters */
    fl_model_t *m2 = s_model ("mlp", D, 2, "16");
    fl_baseline_report_t rep2;
    FL_CHECK (fl_baseline_fit_early_stop (m2, x, y, N, &tc, &es, &rep2) == 0);
    FL_CHECK (rep2.best_epoch == rep.best_epoch);
    FL_CHECK (memcmp (fl_model_params (m), fl_model_params (m2), fl_model_num_params (m) * sizeof (float)) == 0);
    fl_metrics_summary_t s;
    FL_CHECK (fl_baseline_metrics (m, x, y, N, &s, NULL) == 0);
    FL_CHECK (s.auroc > 0.7);
    if (fl_test_verbose_)
        printf ("  best epoch %d of %d (%s), val loss %.4f, train AUROC %.4f\n", rep.best_epoch, rep.iterations,
                rep.stop, rep.loss, s.auroc);
    fl_model_destroy (&m);
    fl_model_destroy (&m2);
}

/* A class absent from the rows: its one-vs-rest AUROC is undefined and left out of the macro average. */
static void
test_metrics_undefined (void)
{
    float x[4] = { -1, 0, 1, 2 };
    int32_t y[4] = { 0, 0, 1, 1 };
    fl_model_t *m = s_model ("logreg", 1, 3, "");
    float *p = fl_model_params (m);
    /* weight (3, 1) then bias (3): logits (-x, x, 0) */
    p[0] = -1;
    p[1] = 1;
    p[2] = 0;
    p[3] = p[4] = p[5] = 0;
    fl_metrics_summary_t s;
    size_t def = 9;
    FL_CHECK (fl_baseline_metrics (m, x, y, 4, &s, &def) == 0);
    FL_CHECK (def == 2);                 /* class 2 never occurs */
    /* P(class 0) falls and P(class 1) rises with x: both one-vs-rest AUROCs
       are 1, so the macro average over the TWO defined classes is 1 (an
       undefined class counted as 0.5 would give 0.833) */
    FL_CHECK_CLOSE (s.auroc, 1.0, 1e-12, 0);
    FL_CHECK_CLOSE (s.auprc, 1.0, 1e-12, 0);
    FL_CHECK (isnan (s.precision));
    /* binary with one class only: AUROC undefined (NAN), not 0.5 */
    fl_model_t *b = s_model ("logreg", 1, 2, "");
    int32_t one[4] = { 1, 1, 1, 1 };
    FL_CHECK (fl_baseline_metrics (b, x, one, 4, &s, &def) == 0);
    FL_CHECK (def == 0 && isnan (s.auroc) && isnan (s.auprc));
    FL_CHECK (s.accuracy >= 0 && s.accuracy <= 1);
    fl_model_destroy (&m);
    fl_model_destroy (&b);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_stationary);
    FL_RUN (test_known_answer);
    FL_RUN (test_refuses);
    FL_RUN (test_early_stop);
    FL_RUN (test_metrics_undefined);
    FL_TEST_DONE ();
}
