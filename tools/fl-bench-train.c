/*  fl-bench-train - how long one client's local training takes.

    Times fl_train_local on synthetic data for the built-in models, one epoch
    per call, repeated; prints milliseconds per epoch and microseconds per
    example.  Usage: fl-bench-train [rows (500)] [repeats (200)]
    OpenBLAS threading matters at these sizes: run with OPENBLAS_NUM_THREADS=1
    (what a client on a shared machine should use) and compare. */
#include "fl_metrics.h"
#include "fl_model.h"
#include "fl_rng.h"
#include "fl_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

int
main (int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul (argv[1], NULL, 10) : 500;
    int reps = argc > 2 ? atoi (argv[2]) : 200;
    if (n == 0 || reps <= 0) {
        fprintf (stderr, "usage: fl-bench-train [rows] [repeats]\n");
        return 1;
    }
    const size_t d = 30;
    float *x = malloc (n * d * sizeof (float));
    int32_t *y = malloc (n * sizeof (int32_t));
    if (!x || !y)
        return 1;
    fl_rng_t *r = fl_rng_new_u64 (1, 0);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            x[i * d + j] = (float) fl_rng_normal (r);
            s += x[i * d + j] * (j % 3 ? 0.3 : -0.5);
        }
        y[i] = s > 0;
    }
    fl_rng_destroy (&r);
    const struct { const char *model, *hidden; } models[] = {
        { "logreg", "" }, { "mlp", "64,32" }, { "mlp", "256,128" } };
    const fl_opt_kind_t opts[] = { FL_OPT_SGD, FL_OPT_ADAM };
    printf ("rows %zu, inputs %zu, batch 32, %d epochs timed\n", n, d, reps);
    printf ("%-8s %-10s %-9s %8s %12s %12s\n", "model", "hidden", "optimizer", "params",
            "ms/epoch", "us/example");
    for (size_t mi = 0; mi < sizeof models / sizeof models[0]; mi++)
        for (size_t oi = 0; oi < 2; oi++) {
            fl_model_config_t mc;
            memset (&mc, 0, sizeof mc);
            mc.n_inputs = d;
            mc.n_classes = 2;
            if (fl_model_parse_hidden (models[mi].hidden, &mc) != 0)
                return 1;
            fl_model_t *m = fl_model_new (models[mi].model, &mc);
            if (!m)
                return 1;
            fl_train_config_t tc;
            fl_train_config_default (&tc);
            tc.optimizer = opts[oi];
            tc.lr = opts[oi] == FL_OPT_ADAM ? 0.001f : 0.01f;
            tc.batch_size = 32;
            double loss = 0;
            fl_train_local (m, x, y, n, &tc, &loss);       /* warm-up */
            double t0 = s_now ();
            for (int k = 0; k < reps; k++) {
                tc.seed = (uint64_t) k;
                if (fl_train_local (m, x, y, n, &tc, &loss) != 0)
                    return 1;
            }
            double dt = (s_now () - t0) / reps;
            printf ("%-8s %-10s %-9s %8zu %12.3f %12.3f\n", models[mi].model,
                    *models[mi].hidden ? models[mi].hidden : "-", fl_opt_kind_name (opts[oi]),
                    fl_model_num_params (m), 1e3 * dt, 1e6 * dt / (double) n);
            fl_model_destroy (&m);
        }
    /* federated evaluation: filling the binned counts */
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = d;
    mc.n_classes = 2;
    if (fl_model_parse_hidden ("64,32", &mc) != 0)
        return 1;
    fl_model_t *m = fl_model_new ("mlp", &mc);
    fl_metrics_counts_t *c = malloc (sizeof *c);
    double t0 = s_now ();
    for (int k = 0; k < reps; k++)
        fl_metrics_counts_from_model (m, x, y, n, c);
    double dt = (s_now () - t0) / reps;
    fl_metrics_summary_t s;
    fl_metrics_counts_summary (c, &s);
    printf ("fl_metrics_counts_from_model (mlp 64,32): %.3f ms for %zu rows\n", 1e3 * dt, n);
    t0 = s_now ();
    for (int k = 0; k < reps; k++)
        fl_metrics_counts_summary (c, &s);
    printf ("fl_metrics_counts_summary: %.3f us\n", 1e6 * (s_now () - t0) / reps);
    free (c);
    fl_model_destroy (&m);
    free (x);
    free (y);
    return 0;
}
