/*  fl-bench-qat - what quantisation-aware training costs and what int8 saves.

    For the built-in MLP at two shapes, 30-64-32-1 (tabular, binary) and
    784-256-128-10 (MNIST-sized, 10 classes), on synthetic data (inputs
    N(0, 1) from fl_rng seed 1, labels from a random linear teacher):
      - local training throughput (samples/s) of fl_train_local, float32 vs
        QAT (per-channel), SGD lr 0.01, batch 32, one epoch per call, best of
        --repeats calls (each call includes its setup, as a client's would);
      - inference throughput: the float path (fl_model_forward, BLAS), the
        fake-quant path (same call with QAT on) and the integer-only int8
        path (fl_qat_int8_predict, plain C loops);
      - the int8 file's size in bytes vs the float32 parameter vector.
    Usage: fl-bench-qat [--rows-small N (8192)] [--rows-large N (2048)]
                        [--repeats R (3)]
    Run with OPENBLAS_NUM_THREADS=1 (one BLAS thread per client).
*/
#include "fl_model.h"
#include "fl_qat.h"
#include "fl_rng.h"
#include "fl_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

typedef struct {
    const char *label, *hidden;
    size_t inputs, classes, rows;
} s_shape_t;

static int
s_bench (const s_shape_t *sh, int repeats)
{
    size_t n = sh->rows, d = sh->inputs, K = sh->classes, k = K == 2 ? 1 : K;
    float *x = (float *) malloc (n * d * sizeof (float)), *teacher = (float *) malloc (d * K * sizeof (float));
    int32_t *y = (int32_t *) malloc (n * sizeof (int32_t));
    float *out = (float *) malloc (n * k * sizeof (float));
    fl_rng_t *rng = fl_rng_new_u64 (1, 0x7161u);
    if (!x || !teacher || !y || !out || !rng)
        return -1;
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float) fl_rng_normal (rng);
    for (size_t i = 0; i < d * K; i++)
        teacher[i] = (float) fl_rng_normal (rng);
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        double bv = -1e300;
        for (size_t c = 0; c < K; c++) {
            double v = 0;
            for (size_t j = 0; j < d; j++)
                v += (double) x[i * d + j] * teacher[c * d + j];
            if (v > bv) {
                bv = v;
                best = c;
            }
        }
        y[i] = (int32_t) best;
    }
    double train_sps[2] = { 0, 0 }, infer_sps[2] = { 0, 0 }, int8_sps = 0;
    size_t file_bytes = 0, params = 0;
    for (int q = 0; q < 2; q++) {
        fl_model_config_t c;
        memset (&c, 0, sizeof c);
        c.n_inputs = d;
        c.n_classes = K;
        c.seed = 2;
        c.qat = q ? FL_MODEL_QAT_PER_CHANNEL : FL_MODEL_QAT_OFF;
        if (fl_model_parse_hidden (sh->hidden, &c) != 0)
            return -1;
        fl_model_t *m = fl_model_new ("mlp", &c);
        if (!m)
            return -1;
        params = fl_model_num_params (m);
        fl_train_config_t tc;
        fl_train_config_default (&tc);
        tc.lr = 0.01f;
        tc.batch_size = 32;
        tc.epochs = 1;
        double best = 1e300, loss;
        for (int r = 0; r < repeats; r++) {
            tc.seed = (uint64_t) r;
            double t0 = s_now ();
            if (fl_train_local (m, x, y, n, &tc, &loss) != 0)
                return -1;
            double t = s_now () - t0;
            best = t < best ? t : best;
        }
        train_sps[q] = (double) n / best;
        best = 1e300;
        for (int r = 0; r < repeats; r++) {
            double t0 = s_now ();
            for (size_t i = 0; i < n; i += 512)
                fl_model_forward (m, x + i * d, n - i < 512 ? n - i : 512, out + i * k);
            double t = s_now () - t0;
            best = t < best ? t : best;
        }
        infer_sps[q] = (double) n / best;
        if (q) {
            char path[256];
            snprintf (path, sizeof path, "/tmp/fl-bench-qat-%d.flq8", (int) getpid ());
            fl_qat_int8_t *q8 = NULL;
            if (fl_model_export (m, path) == 0)
                q8 = fl_qat_int8_load (path);
            unlink (path);
            if (!q8)
                return -1;
            file_bytes = fl_qat_int8_file_bytes (q8);
            best = 1e300;
            for (int r = 0; r < repeats; r++) {
                double t0 = s_now ();
                fl_qat_int8_predict (q8, x, n, out);
                double t = s_now () - t0;
                best = t < best ? t : best;
            }
            int8_sps = (double) n / best;
            fl_qat_int8_destroy (&q8);
        }
        fl_model_destroy (&m);
    }
    printf ("| %s | %zu | %zu | %.0f | %.0f | %.2f | %.0f | %.0f | %.0f | %zu | %zu | %.2f |\n", sh->label, params,
            n, train_sps[0], train_sps[1], train_sps[1] / train_sps[0], infer_sps[0], infer_sps[1], int8_sps,
            params * 4, file_bytes, (double) file_bytes / (double) (params * 4));
    fflush (stdout);
    free (x);
    free (teacher);
    free (y);
    free (out);
    fl_rng_destroy (&rng);
    return 0;
}

int
main (int argc, char **argv)
{
    size_t small = 8192, large = 2048;
    int repeats = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp (argv[i], "--rows-small") == 0)
            small = strtoul (argv[i + 1], NULL, 10);
        else if (strcmp (argv[i], "--rows-large") == 0)
            large = strtoul (argv[i + 1], NULL, 10);
        else if (strcmp (argv[i], "--repeats") == 0)
            repeats = atoi (argv[i + 1]);
        else {
            fprintf (stderr, "usage: fl-bench-qat [--rows-small N] [--rows-large N] [--repeats R]\n");
            return 2;
        }
    }
    if (small == 0 || large == 0 || repeats < 1) {
        fprintf (stderr, "fl-bench-qat: rows and repeats must be positive\n");
        return 2;
    }
    s_shape_t shapes[2] = {
        { "30-64-32-1", "64,32", 30, 2, small },
        { "784-256-128-10", "256,128", 784, 10, large },
    };
    printf ("| MLP | params | rows | train fp32 samples/s | train QAT samples/s | QAT/fp32 | infer fp32 "
            "samples/s | infer fake-quant samples/s | infer int8 samples/s | fp32 bytes | int8 file bytes "
            "| int8/fp32 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int s = 0; s < 2; s++)
        if (s_bench (&shapes[s], repeats) != 0) {
            fprintf (stderr, "fl-bench-qat: %s failed\n", shapes[s].label);
            return 1;
        }
    return 0;
}
