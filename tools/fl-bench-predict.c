/*  fl-bench-predict - how fast fl-model predict scores rows.

    Two figures, each the best of `repeats` runs:
      1. scoring: fl_predict_scores on n rows held in memory (stored
         standardisation, forward pass in chunks of FL_PREDICT_CHUNK rows
         through OpenBLAS sgemm, sigmoid), for logreg and an mlp 64,32;
      2. end to end: fl_score_run as `fl-model predict MODEL CSV --out FILE`
         runs it (read and parse the CSV, check the columns, score, write
         the output CSV) on a CSV of n rows written to a temporary
         directory, logreg.
    Synthetic data: d = 30 features, N(0, 1).  Prints rows per second.
    3. the steps of 2 one at a time (parse, score, format, write), to show
       where the time goes.
    Usage: fl-bench-predict [rows (1000000)] [repeats (3)] [csv rows (200000)] [dir]
    With dir (an existing directory), the files of 2 (model.flm, rows.csv,
    scores.csv) are written there and kept.
    docs/BENCHMARKS.md records the figures. */
#include "fl_atomic.h"
#include "fl_model.h"
#include "fl_modelfile.h"
#include "fl_predict.h"
#include "fl_rng.h"
#include "fl_score.h"

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

static fl_model_t *
s_model (const char *name, const char *hidden, size_t d)
{
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = d;
    mc.n_classes = 2;
    mc.seed = 7;
    if (hidden[0] && fl_model_parse_hidden (hidden, &mc) != 0)
        return NULL;
    return fl_model_new (name, &mc);
}

/*  Where the end-to-end time goes, one step at a time through the public
    calls fl_score_run is made of (best of reps each): model load + map +
    parse (fl_score_rows_load, the same fast reader, all rows at once),
    scoring (fl_predict_scores), formatting (fl_score_write into memory)
    and the atomic write with fsync (fl_atomic_write). */
static int
s_phases (const char *model_path, const char *csv_path, const char *out_path, int reps)
{
    double t_load = 1e30, t_score = 1e30, t_fmt = 1e30, t_write = 1e30;
    size_t n = 0;
    for (int rep = 0; rep < reps; rep++) {
        fl_score_rows_t r;
        char why[512];
        double t0 = s_now ();
        if (fl_score_rows_load (model_path, NULL, csv_path, false, &r, why, sizeof why) != 0) {
            fprintf (stderr, "fl-bench-predict: %s\n", why);
            return -1;
        }
        double t1 = s_now ();
        n = r.n;
        size_t k_out = fl_model_num_outputs (r.model);
        float *sc = malloc (n * k_out * sizeof (float));
        if (!sc || fl_predict_scores (r.model, r.mean, r.std, r.x, n, sc) != 0)
            return -1;
        double t2 = s_now ();
        char *obuf = NULL;
        size_t olen = 0;
        FILE *mem = open_memstream (&obuf, &olen);
        if (!mem || fl_score_write (mem, sc, n, k_out, r.class_names, r.n_class_names, 0.5f) != 0
            || fclose (mem) != 0)
            return -1;
        double t3 = s_now ();
        if (fl_atomic_write (out_path, obuf, olen, 0644) != 0)
            return -1;
        double t4 = s_now ();
        t_load = t1 - t0 < t_load ? t1 - t0 : t_load;
        t_score = t2 - t1 < t_score ? t2 - t1 : t_score;
        t_fmt = t3 - t2 < t_fmt ? t3 - t2 : t_fmt;
        t_write = t4 - t3 < t_write ? t4 - t3 : t_write;
        free (obuf);
        free (sc);
        fl_score_rows_clear (&r);
    }
    printf ("  steps (best of %d each, %zu rows):\n", reps, n);
    printf ("    model load + map + parse %8.3f s  %6.1f ns/row\n", t_load, 1e9 * t_load / (double) n);
    printf ("    scoring                  %8.3f s  %6.1f ns/row\n", t_score, 1e9 * t_score / (double) n);
    printf ("    formatting the output    %8.3f s  %6.1f ns/row\n", t_fmt, 1e9 * t_fmt / (double) n);
    printf ("    atomic write (fsync)     %8.3f s  %6.1f ns/row\n", t_write, 1e9 * t_write / (double) n);
    return 0;
}

int
main (int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul (argv[1], NULL, 10) : 1000000;
    int reps = argc > 2 ? atoi (argv[2]) : 3;
    size_t n_csv = argc > 3 ? strtoul (argv[3], NULL, 10) : 200000;
    if (n == 0 || reps <= 0 || n_csv == 0) {
        fprintf (stderr, "usage: fl-bench-predict [rows] [repeats] [csv rows] [dir]\n");
        return 1;
    }
    const size_t d = 30;
    float *x = malloc (n * d * sizeof (float)), *out = malloc (n * sizeof (float));
    float mean[30], std[30];
    fl_rng_t *r = fl_rng_new_u64 (1, 0);
    if (!x || !out || !r)
        return 1;
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float) fl_rng_normal (r);
    for (size_t j = 0; j < d; j++) {
        mean[j] = 0.1f * (float) j;
        std[j] = 1.0f + 0.05f * (float) j;
    }
    printf ("fl-bench-predict: %zu rows x %zu features, best of %d\n", n, d, reps);
    const char *models[2][2] = { { "logreg", "" }, { "mlp", "64,32" } };
    for (int k = 0; k < 2; k++) {
        fl_model_t *m = s_model (models[k][0], models[k][1], d);
        double best = 1e30;
        for (int rep = 0; rep < reps; rep++) {
            double t0 = s_now ();
            if (!m || fl_predict_scores (m, mean, std, x, n, out) != 0)
                return 1;
            double t = s_now () - t0;
            best = t < best ? t : best;
        }
        printf ("  scoring in memory, %-6s %-6s %8.3f s  %12.0f rows/s\n", models[k][0],
                models[k][1][0] ? models[k][1] : "-", best, (double) n / best);
        fl_model_destroy (&m);
    }

    /* End to end through a real CSV file and a model file with names, in
       a temporary directory (removed at the end), or in keep_dir (kept,
       so `fl-model predict` can be timed or profiled on the same files). */
    const char *keep_dir = argc > 4 ? argv[4] : NULL;
    const char *tmp = getenv ("TMPDIR");
    char dbuf[4096];
    snprintf (dbuf, sizeof dbuf, "%s/fl-bench-predict-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (keep_dir)
        snprintf (dbuf, sizeof dbuf, "%s", keep_dir);
    else if (!mkdtemp (dbuf)) {
        perror ("mkdtemp");
        return 1;
    }
    char model_path[4200], csv_path[4200], out_path[4200];
    snprintf (model_path, sizeof model_path, "%s/model.flm", dbuf);
    snprintf (csv_path, sizeof csv_path, "%s/rows.csv", dbuf);
    snprintf (out_path, sizeof out_path, "%s/scores.csv", dbuf);
    fl_model_t *m = s_model ("logreg", "", d);
    char *fn[30], store[30][16];
    for (size_t j = 0; j < d; j++) {
        snprintf (store[j], sizeof store[j], "f%zu", j);
        fn[j] = store[j];
    }
    fl_modelfile_names_t names = { 0, fn, d, "label", NULL, 0 };
    if (fl_modelfile_save (model_path, m, "", mean, std, NULL, 1) != 0
        || fl_modelfile_attach_names (model_path, &names) != 0)
        return 1;
    fl_model_destroy (&m);
    FILE *f = fopen (csv_path, "w");
    if (!f)
        return 1;
    for (size_t j = 0; j < d; j++)
        fprintf (f, "f%zu,", j);
    fprintf (f, "label\n");
    size_t rows = n_csv < n ? n_csv : n;
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < d; j++)
            fprintf (f, "%.6g,", (double) x[i * d + j]);
        fprintf (f, "%d\n", (int) (i & 1));
    }
    fclose (f);
    double best = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        fl_score_config_t cfg = { model_path, NULL, csv_path, out_path, 0.5f, false };
        fl_score_summary_t sum;
        char why[512];
        double t0 = s_now ();
        if (fl_score_run (&cfg, &sum, why, sizeof why) != 0) {
            fprintf (stderr, "fl-bench-predict: %s\n", why);
            return 1;
        }
        double t = s_now () - t0;
        best = t < best ? t : best;
    }
    printf ("  end to end (CSV in, CSV out), logreg  %8.3f s  %12.0f rows/s  (%zu rows)\n", best,
            (double) rows / best, rows);
    if (s_phases (model_path, csv_path, out_path, reps) != 0)
        return 1;
    if (!keep_dir) {
        unlink (model_path);
        unlink (csv_path);
        unlink (out_path);
        rmdir (dbuf);
    }
    fl_rng_destroy (&r);
    free (x);
    free (out);
    return 0;
}
