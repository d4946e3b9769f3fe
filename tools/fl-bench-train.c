/*  fl-bench-train - how long one client's local training takes, against
    PyTorch and against the GEMMs it cannot avoid.

    Part 1 (the table): times fl_train_local on synthetic data for the
    built-in models, one epoch per call, repeated; prints milliseconds per
    epoch and microseconds per example (process CPU time, mean of the calls,
    so other jobs on a shared machine inflate it less than wall time).

    Part 2 (the comparison): for the MLP 30-64-32-1 (8192 rows, binary) and
    784-256-128-10 (2048 rows, 10 classes), SGD lr 0.01, batch 32, one epoch
    per figure, prints samples/s of
      - libfl: fl_train_local, one epoch per call (setup included);
      - PyTorch: tools/bench_torch.py --serve, the same shapes, rows, batch,
        loss and optimiser (Debian's python3-torch, one intra-op thread),
        run as a coprocess by /usr/bin/python3 so both are timed in this run;
      - the GEMM floor: the same epoch's sgemm calls alone through OpenBLAS
        (per batch and layer: the forward out = inp W^T, the weight gradient
        dout^T inp, and dinp = dout W for every layer but the first), on
        buffers of the same shapes, nothing else;
    and the two ratios: libfl/torch and floor time / libfl time.
    Every figure is process CPU time (CLOCK_PROCESS_CPUTIME_ID here,
    time.process_time() in Python), the best of the rounds; the rounds
    interleave libfl, floor and torch so a busy spell of a shared machine
    hits all three alike.  BLAS runs on one thread (openblas_set_num_threads).

    Usage: fl-bench-train [rows (500)] [repeats (200)] [--rounds N (5)]
                          [--no-table] [--no-torch] [--torch-script PATH]
                          [--profile small|large EPOCHS]
    --profile trains only libfl on that shape for EPOCHS epochs and prints
    nothing else (for valgrind --tool=callgrind).
*/
#include "fl_layers.h"
#include "fl_metrics.h"
#include "fl_model.h"
#include "fl_rng.h"
#include "fl_train.h"

#include <cblas.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FL_SOURCE_TREE
#define FL_SOURCE_TREE "."
#endif

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static double
s_cpu (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* --- part 1: the table ------------------------------------------------------ */

static int
s_table (size_t n, int reps)
{
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
    printf ("rows %zu, inputs %zu, batch 32, %d epochs timed (process CPU time, mean)\n", n, d,
            reps);
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
            double t0 = s_cpu ();
            for (int k = 0; k < reps; k++) {
                tc.seed = (uint64_t) k;
                if (fl_train_local (m, x, y, n, &tc, &loss) != 0)
                    return 1;
            }
            double dt = (s_cpu () - t0) / reps;
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
    if (!m || !c)
        return 1;
    double t0 = s_cpu ();
    for (int k = 0; k < reps; k++)
        fl_metrics_counts_from_model (m, x, y, n, c);
    double dt = (s_cpu () - t0) / reps;
    fl_metrics_summary_t s;
    fl_metrics_counts_summary (c, &s);
    printf ("fl_metrics_counts_from_model (mlp 64,32): %.3f ms for %zu rows\n", 1e3 * dt, n);
    t0 = s_cpu ();
    for (int k = 0; k < reps; k++)
        fl_metrics_counts_summary (c, &s);
    printf ("fl_metrics_counts_summary: %.3f us\n", 1e6 * (s_cpu () - t0) / reps);
    free (c);
    fl_model_destroy (&m);
    free (x);
    free (y);
    return 0;
}

/* --- part 2: libfl, the GEMM floor and PyTorch ---------------------------- */

#define S_BATCH 32u
#define S_MAX_W 5u

typedef struct {
    const char *label, *torch;     /* "30-64-32-1"; the same for bench_torch.py */
    size_t widths[S_MAX_W], n_w;   /* widths[0] inputs ... widths[n_w-1] outputs (1 = binary) */
    const char *hidden;
    size_t rows;
    /* libfl side */
    fl_model_t *model;
    float *x;
    int32_t *y;
    /* floor side: per layer l, weights (w[l+1], w[l]) and activations (B, w[l]) */
    float *fw[S_MAX_W], *fa[S_MAX_W], *fd[S_MAX_W], *fdw[S_MAX_W];
    double best_fl, best_floor, best_torch;
    double best_fl_wall, best_torch_wall;
} s_shape_t;

static int
s_shape_setup (s_shape_t *sh)
{
    size_t n = sh->rows, d = sh->widths[0], k = sh->widths[sh->n_w - 1];
    size_t K = k == 1 ? 2 : k;
    sh->x = (float *) malloc (n * d * sizeof (float));
    sh->y = (int32_t *) malloc (n * sizeof (int32_t));
    float *teacher = (float *) malloc (d * K * sizeof (float));
    fl_rng_t *rng = fl_rng_new_u64 (1, 0x7161u);
    if (!sh->x || !sh->y || !teacher || !rng)
        return -1;
    for (size_t i = 0; i < n * d; i++)
        sh->x[i] = (float) fl_rng_normal (rng);
    for (size_t i = 0; i < d * K; i++)
        teacher[i] = (float) fl_rng_normal (rng);
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        double bv = -1e300;
        for (size_t c = 0; c < K; c++) {
            double v = 0;
            for (size_t j = 0; j < d; j++)
                v += (double) sh->x[i * d + j] * teacher[c * d + j];
            if (v > bv) {
                bv = v;
                best = c;
            }
        }
        sh->y[i] = (int32_t) best;
    }
    free (teacher);
    fl_model_config_t c;
    memset (&c, 0, sizeof c);
    c.n_inputs = d;
    c.n_classes = K;
    c.seed = 2;
    if (fl_model_parse_hidden (sh->hidden, &c) != 0 || !(sh->model = fl_model_new ("mlp", &c)))
        return -1;
    for (size_t l = 0; l < sh->n_w; l++) {
        sh->fa[l] = (float *) malloc (S_BATCH * sh->widths[l] * sizeof (float));
        sh->fd[l] = (float *) malloc (S_BATCH * sh->widths[l] * sizeof (float));
        if (!sh->fa[l] || !sh->fd[l])
            return -1;
        for (size_t i = 0; i < S_BATCH * sh->widths[l]; i++) {
            sh->fa[l][i] = (float) fl_rng_normal (rng);
            sh->fd[l][i] = 0.01f * (float) fl_rng_normal (rng);
        }
        if (l + 1 < sh->n_w) {
            size_t nw = sh->widths[l] * sh->widths[l + 1];
            sh->fw[l] = (float *) malloc (nw * sizeof (float));
            sh->fdw[l] = (float *) malloc (nw * sizeof (float));
            if (!sh->fw[l] || !sh->fdw[l])
                return -1;
            for (size_t i = 0; i < nw; i++)
                sh->fw[l][i] = 0.05f * (float) fl_rng_normal (rng);
        }
    }
    fl_rng_destroy (&rng);
    sh->best_fl = sh->best_floor = sh->best_torch = 1e300;
    sh->best_fl_wall = sh->best_torch_wall = 1e300;
    return 0;
}

static void
s_shape_teardown (s_shape_t *sh)
{
    fl_model_destroy (&sh->model);
    free (sh->x);
    free (sh->y);
    for (size_t l = 0; l < sh->n_w; l++) {
        free (sh->fw[l]);
        free (sh->fa[l]);
        free (sh->fd[l]);
        free (sh->fdw[l]);
    }
}

/*  One libfl epoch; returns its CPU seconds (wall in *wall), < 0 on failure. */
static double
s_epoch_libfl (s_shape_t *sh, uint64_t seed, double *wall)
{
    fl_train_config_t tc;
    fl_train_config_default (&tc);
    tc.lr = 0.01f;
    tc.batch_size = S_BATCH;
    tc.epochs = 1;
    tc.seed = seed;
    double loss, c0 = s_cpu (), t0 = s_now ();
    if (fl_train_local (sh->model, sh->x, sh->y, sh->rows, &tc, &loss) != 0)
        return -1;
    *wall = s_now () - t0;
    return s_cpu () - c0;
}

/*  The GEMMs of one epoch alone, the same calls fl_dense_forward /
    fl_dense_backward make (fl_gemm: cblas_sgemm, row-major). */
static double
s_epoch_floor (s_shape_t *sh)
{
    double c0 = s_cpu ();
    size_t L = sh->n_w - 1;
    for (size_t start = 0; start < sh->rows; start += S_BATCH) {
        size_t B = sh->rows - start < S_BATCH ? sh->rows - start : S_BATCH;
        for (size_t l = 0; l < L; l++)      /* out (B, OC) = inp (B, C) W^T */
            fl_gemm (false, true, B, sh->widths[l + 1], sh->widths[l], 1.0f, sh->fa[l],
                     sh->widths[l], sh->fw[l], sh->widths[l], 0.0f, sh->fa[l + 1],
                     sh->widths[l + 1]);
        for (size_t l = L; l-- > 0;) {
            size_t C = sh->widths[l], OC = sh->widths[l + 1];
            if (l > 0)                      /* dinp (B, C) = dout (B, OC) W (OC, C) */
                fl_gemm (false, false, B, C, OC, 1.0f, sh->fd[l + 1], OC, sh->fw[l], C, 0.0f,
                         sh->fd[l], C);
            /* dW (OC, C) = dout^T (OC, B) inp (B, C) */
            fl_gemm (true, false, OC, C, B, 1.0f, sh->fd[l + 1], OC, sh->fa[l], C, 0.0f,
                     sh->fdw[l], C);
        }
    }
    return s_cpu () - c0;
}

/* the torch coprocess */
typedef struct {
    pid_t pid;
    FILE *to, *from;
} s_torch_t;

static int
s_torch_start (s_torch_t *t, const char *script)
{
    int in[2], out[2];
    if (access ("/usr/bin/python3", X_OK) != 0 || access (script, R_OK) != 0)
        return -1;
    if (pipe (in) != 0 || pipe (out) != 0)
        return -1;
    t->pid = fork ();
    if (t->pid < 0)
        return -1;
    if (t->pid == 0) {
        dup2 (in[0], 0);
        dup2 (out[1], 1);
        close (in[0]);
        close (in[1]);
        close (out[0]);
        close (out[1]);
        execl ("/usr/bin/python3", "python3", "-W", "ignore", script, "--serve", (char *) NULL);
        _exit (127);
    }
    close (in[0]);
    close (out[1]);
    t->to = fdopen (in[1], "w");
    t->from = fdopen (out[0], "r");
    return t->to && t->from ? 0 : -1;
}

/*  One torch epoch of sh; CPU seconds (wall in *wall), < 0 if torch failed. */
static double
s_epoch_torch (s_torch_t *t, const s_shape_t *sh, double *wall)
{
    double cpu;
    if (fprintf (t->to, "%s %zu\n", sh->torch, sh->rows) < 0 || fflush (t->to) != 0
        || fscanf (t->from, "%lf %lf", &cpu, wall) != 2)
        return -1;
    return cpu;
}

static void
s_torch_stop (s_torch_t *t)
{
    if (t->to) {
        fprintf (t->to, "quit\n");
        fclose (t->to);
    }
    if (t->from)
        fclose (t->from);
    if (t->pid > 0)
        waitpid (t->pid, NULL, 0);
}

static int
s_compare (int rounds, int use_torch, const char *script, const char *profile, int profile_epochs)
{
    s_shape_t shapes[2] = {
        { .label = "30-64-32-1", .torch = "30-64-32-1", .widths = { 30, 64, 32, 1 }, .n_w = 4,
          .hidden = "64,32", .rows = 8192 },
        { .label = "784-256-128-10", .torch = "784-256-128-10", .widths = { 784, 256, 128, 10 },
          .n_w = 4, .hidden = "256,128", .rows = 2048 },
    };
    const size_t n_shapes = 2;
    int rc = 1;
    for (size_t s = 0; s < n_shapes; s++)
        if (s_shape_setup (&shapes[s]) != 0) {
            fprintf (stderr, "fl-bench-train: setup failed\n");
            goto done;
        }
    if (profile) {
        s_shape_t *sh = &shapes[strcmp (profile, "large") == 0 ? 1 : 0];
        double wall;
        for (int e = 0; e < profile_epochs; e++)
            if (s_epoch_libfl (sh, (uint64_t) e, &wall) < 0)
                goto done;
        rc = 0;
        goto done;
    }
    s_torch_t torch = { 0, NULL, NULL };
    if (use_torch && s_torch_start (&torch, script) != 0) {
        printf ("PyTorch: cannot run /usr/bin/python3 %s (python3-torch missing?): libfl and the "
                "floor only\n", script);
        use_torch = 0;
    }
    for (size_t s = 0; s < n_shapes; s++) {     /* warm-up: buffers, BLAS, torch's model */
        double wall;
        if (s_epoch_libfl (&shapes[s], 1000, &wall) < 0)
            goto done;
        s_epoch_floor (&shapes[s]);
    }
    for (int r = 0; r < rounds; r++)
        for (size_t s = 0; s < n_shapes; s++) {
            s_shape_t *sh = &shapes[s];
            double wall, t;
            /* three short libfl / floor epochs per round, one torch epoch */
            for (int k = 0; k < 3; k++) {
                if ((t = s_epoch_libfl (sh, (uint64_t) (r * 3 + k), &wall)) < 0)
                    goto done;
                sh->best_fl = t < sh->best_fl ? t : sh->best_fl;
                sh->best_fl_wall = wall < sh->best_fl_wall ? wall : sh->best_fl_wall;
                t = s_epoch_floor (sh);
                sh->best_floor = t < sh->best_floor ? t : sh->best_floor;
            }
            if (use_torch) {
                if ((t = s_epoch_torch (&torch, sh, &wall)) < 0) {
                    printf ("PyTorch: the coprocess failed: libfl and the floor only\n");
                    use_torch = 0;
                    continue;
                }
                sh->best_torch = t < sh->best_torch ? t : sh->best_torch;
                sh->best_torch_wall = wall < sh->best_torch_wall ? wall : sh->best_torch_wall;
            }
        }
    if (use_torch || torch.pid > 0)
        s_torch_stop (&torch);
    printf ("\nMLP training, SGD lr 0.01, batch 32, one epoch per figure; samples/s from process CPU "
            "time,\nbest of %d interleaved rounds (libfl and floor: 3 epochs per round); one BLAS "
            "thread,\none torch intra-op thread (%s)\n\n", rounds,
            use_torch ? "tools/bench_torch.py --serve" : "torch not run");
    printf ("| MLP | rows | libfl samples/s | torch samples/s | libfl/torch | GEMM floor samples/s "
            "| floor/libfl time | libfl wall samples/s | torch wall samples/s |\n");
    printf ("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < n_shapes; s++) {
        s_shape_t *sh = &shapes[s];
        double n = (double) sh->rows;
        if (use_torch)
            printf ("| %s | %zu | %.0f | %.0f | %.2f | %.0f | %.2f | %.0f | %.0f |\n", sh->label,
                    sh->rows, n / sh->best_fl, n / sh->best_torch, sh->best_torch / sh->best_fl,
                    n / sh->best_floor, sh->best_floor / sh->best_fl, n / sh->best_fl_wall,
                    n / sh->best_torch_wall);
        else
            printf ("| %s | %zu | %.0f | - | - | %.0f | %.2f | %.0f | - |\n", sh->label, sh->rows,
                    n / sh->best_fl, n / sh->best_floor, sh->best_floor / sh->best_fl,
                    n / sh->best_fl_wall);
    }
    rc = 0;
done:
    for (size_t s = 0; s < n_shapes; s++)
        s_shape_teardown (&shapes[s]);
    return rc;
}

int
main (int argc, char **argv)
{
    size_t n = 500;
    int reps = 200, rounds = 5, table = 1, use_torch = 1, positional = 0, profile_epochs = 0;
    const char *script = FL_SOURCE_TREE "/tools/bench_torch.py", *profile = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi (argv[++i]);
        else if (strcmp (argv[i], "--no-table") == 0)
            table = 0;
        else if (strcmp (argv[i], "--no-torch") == 0)
            use_torch = 0;
        else if (strcmp (argv[i], "--torch-script") == 0 && i + 1 < argc)
            script = argv[++i];
        else if (strcmp (argv[i], "--profile") == 0 && i + 2 < argc) {
            profile = argv[++i];
            profile_epochs = atoi (argv[++i]);
        }
        else if (argv[i][0] != '-' && positional == 0 && ++positional)
            n = strtoul (argv[i], NULL, 10);
        else if (argv[i][0] != '-' && positional == 1 && ++positional)
            reps = atoi (argv[i]);
        else
            n = 0;
    }
    if (n == 0 || reps <= 0 || rounds <= 0
        || (profile && ((strcmp (profile, "small") != 0 && strcmp (profile, "large") != 0)
                        || profile_epochs <= 0))) {
        fprintf (stderr, "usage: fl-bench-train [rows] [repeats] [--rounds N] [--no-table] "
                 "[--no-torch] [--torch-script PATH] [--profile small|large EPOCHS]\n");
        return 1;
    }
    openblas_set_num_threads (1);
    signal (SIGPIPE, SIG_IGN);
    if (profile)
        return s_compare (1, 0, script, profile, profile_epochs);
    if (table && s_table (n, reps) != 0)
        return 1;
    return s_compare (rounds, use_torch, script, NULL, 0);
}
