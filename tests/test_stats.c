/*  test_stats.c - federated standardisation: statistics merged from K client
    shards equal the pooled statistics, finalising gives the pooled mean and
    population std (checked against a two-pass reference in double, including
    ULB's large "Time"/"Amount" columns), standardising every shard with the
    merged statistics equals standardising the pooled data, constant features
    get std 1, and bad inputs are refused. */
#include "fl_partition.h"
#include "fl_stats.h"
#include "fl_test.h"

static fl_dataset_t *
s_load (const char *name)
{
    char path[4096];
    const char *label = NULL;
    if (fl_dataset_named (name, FL_TEST_PATH ("datasets"), path, sizeof path, &label) != 0)
        return NULL;
    return fl_dataset_load_csv (path, label, NULL);
}

static void
test_known_answer (void)
{
    /* Feature a = 1,2,3,4: mean 2.5, population variance 1.25.
       Feature b constant 7: std reported as 1, standardised to 0. */
    const float x[] = {1, 7, 2, 7, 3, 7, 4, 7};
    const int32_t y[] = {0, 1, 0, 1};
    fl_dataset_t *ds = fl_dataset_new (4, 2, x, y, 2, NULL, NULL);
    fl_stats_t *st = fl_stats_new (2);
    FL_CHECK (ds && st && fl_stats_accumulate (st, ds) == 0);
    FL_CHECK (fl_stats_count (st) == 4 && fl_stats_dim (st) == 2);
    FL_CHECK (fl_stats_sum (st)[0] == 10 && fl_stats_sumsq (st)[0] == 30);
    FL_CHECK (fl_stats_sum (st)[1] == 28 && fl_stats_sumsq (st)[1] == 196);
    float mean[2], sd[2];
    FL_CHECK (fl_stats_finalize (st, mean, sd) == 0);
    FL_CHECK (mean[0] == 2.5f && sd[0] == (float) sqrt (1.25));
    FL_CHECK (mean[1] == 7.0f && sd[1] == 1.0f);
    FL_CHECK (ds && fl_dataset_standardise (ds, mean, sd) == 0);
    const float *z = ds ? fl_dataset_x (ds) : x;
    FL_CHECK_CLOSE (z[0], -1.5 / sqrt (1.25), 1e-6, 0);
    FL_CHECK (z[1] == 0 && z[3] == 0 && z[5] == 0 && z[7] == 0);
    fl_stats_destroy (&st);
    FL_CHECK (st == NULL);
    fl_stats_destroy (&st);
    fl_dataset_destroy (&ds);
}

/*  Two-pass reference in double: mean, then mean of squared deviations. */
static void
s_reference (const fl_dataset_t *ds, double *mean, double *sd)
{
    size_t n = fl_dataset_rows (ds), d = fl_dataset_features (ds);
    const float *x = fl_dataset_x (ds);
    for (size_t j = 0; j < d; j++) {
        double s = 0, v = 0;
        for (size_t i = 0; i < n; i++)
            s += x[i * d + j];
        mean[j] = s / (double) n;
        for (size_t i = 0; i < n; i++)
            v += (x[i * d + j] - mean[j]) * (x[i * d + j] - mean[j]);
        sd[j] = sqrt (v / (double) n);
    }
}

/*  K clients (Dirichlet label skew, so shard means differ), each accumulating
    its own rows; the merged statistics equal the pooled ones, and each
    client's rows standardised with them equal the pooled standardisation. */
static void
s_federated_equals_pooled (const char *name, size_t K)
{
    fl_dataset_t *ds = s_load (name);
    FL_CHECK (ds != NULL);
    if (!ds)
        return;
    size_t n = fl_dataset_rows (ds), d = fl_dataset_features (ds);
    fl_partition_t *part = fl_partition_new (ds, FL_PARTITION_DIRICHLET, K, 0.5, NULL, 99);
    fl_stats_t *pooled = fl_stats_new (d), *merged = fl_stats_new (d);
    FL_CHECK (part && pooled && merged);
    if (!part || !pooled || !merged)
        goto done;
    FL_CHECK (fl_stats_accumulate (pooled, ds) == 0);
    fl_dataset_t **shards = (fl_dataset_t **) calloc (K, sizeof *shards);
    for (size_t c = 0; c < K; c++) {
        shards[c] = fl_dataset_subset (ds, fl_partition_rows (part, c), fl_partition_size (part, c));
        fl_stats_t *local = fl_stats_new (d);
        FL_CHECK (shards[c] && local && fl_stats_accumulate (local, shards[c]) == 0);
        /* What goes on the wire: count, sum, sumsq; rebuild and merge. */
        fl_stats_t *wire = local ? fl_stats_from_arrays (d, fl_stats_count (local),
                                                         fl_stats_sum (local),
                                                         fl_stats_sumsq (local)) : NULL;
        FL_CHECK (wire && fl_stats_merge (merged, wire) == 0);
        fl_stats_destroy (&wire);
        fl_stats_destroy (&local);
    }
    FL_CHECK (fl_stats_count (merged) == n);
    int sums_ok = 1;
    for (size_t j = 0; j < d; j++) {
        double a = fl_stats_sum (merged)[j], b = fl_stats_sum (pooled)[j];
        double a2 = fl_stats_sumsq (merged)[j], b2 = fl_stats_sumsq (pooled)[j];
        sums_ok &= fabs (a - b) <= 1e-9 * (fabs (b) + sqrt (b2)) && fabs (a2 - b2) <= 1e-12 * b2;
    }
    FL_CHECK (sums_ok);
    float *m1 = (float *) malloc (d * sizeof (float)), *s1 = (float *) malloc (d * sizeof (float));
    float *m2 = (float *) malloc (d * sizeof (float)), *s2 = (float *) malloc (d * sizeof (float));
    double *rm = (double *) malloc (d * sizeof (double)), *rs = (double *) malloc (d * sizeof (double));
    FL_CHECK (fl_stats_finalize (merged, m1, s1) == 0 && fl_stats_finalize (pooled, m2, s2) == 0);
    s_reference (ds, rm, rs);
    int close = 1;
    double worst = 0;
    for (size_t j = 0; j < d; j++) {
        /* merged vs pooled: equal up to summation order (float rounding) */
        close &= fabs (m1[j] - m2[j]) <= 1e-6 * fabs (m2[j]) + 1e-6 * s2[j];
        close &= fabs (s1[j] - s2[j]) <= 1e-6 * s2[j];
        /* one-pass vs two-pass reference */
        double e = fabs (s1[j] - rs[j]) / rs[j];
        worst = e > worst ? e : worst;
        close &= fabs (m1[j] - rm[j]) <= 1e-6 * (fabs (rm[j]) + rs[j]) && e <= 1e-5;
    }
    FL_CHECK (close);
    if (fl_test_verbose_)
        printf ("  %s: %zu clients, worst relative std error vs two-pass %.2g\n", name, K, worst);
    /* Standardise pooled data and every shard with the merged statistics. */
    fl_dataset_t *copy = fl_dataset_copy (ds);
    FL_CHECK (copy && memcmp (fl_dataset_x (copy), fl_dataset_x (ds), n * d * sizeof (float)) == 0);
    FL_CHECK (copy && fl_dataset_standardise (copy, m1, s1) == 0);
    int same = copy != NULL;
    for (size_t c = 0; c < K && copy; c++) {
        FL_CHECK (fl_dataset_standardise (shards[c], m1, s1) == 0);
        const uint32_t *rows = fl_partition_rows (part, c);
        for (size_t i = 0; i < fl_partition_size (part, c); i++)
            same &= memcmp (fl_dataset_x (shards[c]) + i * d, fl_dataset_x (copy) + rows[i] * d,
                            d * sizeof (float)) == 0;
    }
    FL_CHECK (same);
    /* The standardised pooled data has mean ~0 and population std ~1. */
    fl_stats_t *after = fl_stats_new (d);
    float *m3 = (float *) malloc (d * sizeof (float)), *s3 = (float *) malloc (d * sizeof (float));
    FL_CHECK (after && copy && fl_stats_accumulate (after, copy) == 0
              && fl_stats_finalize (after, m3, s3) == 0);
    int unit = 1;
    for (size_t j = 0; j < d && after; j++)
        unit &= fabs (m3[j]) < 1e-4 && fabs (s3[j] - 1) < 1e-4;
    FL_CHECK (unit);
    fl_stats_destroy (&after);
    free (m3);
    free (s3);
    fl_dataset_destroy (&copy);
    for (size_t c = 0; c < K; c++)
        fl_dataset_destroy (&shards[c]);
    free (shards);
    free (m1);
    free (s1);
    free (m2);
    free (s2);
    free (rm);
    free (rs);
done:
    fl_stats_destroy (&pooled);
    fl_stats_destroy (&merged);
    fl_partition_destroy (&part);
    fl_dataset_destroy (&ds);
}

static void
test_federated_pima (void)
{
    s_federated_equals_pooled ("pima", 5);
}

static void
test_federated_ulb (void)
{
    s_federated_equals_pooled ("ulb", 8);
}

static void
test_errors (void)
{
    FL_CHECK (fl_stats_new (0) == NULL);
    FL_CHECK (fl_stats_new (FL_STATS_MAX_DIM + 1) == NULL);
    fl_stats_t *a = fl_stats_new (2), *b = fl_stats_new (3);
    float mean[3] = {-9, -9, -9}, sd[3] = {-9, -9, -9};
    FL_CHECK (a && b && fl_stats_merge (a, b) == -1);
    FL_CHECK (a && fl_stats_finalize (a, mean, sd) == -1);           /* no rows */
    FL_CHECK (mean[0] == -9 && sd[0] == -9);                         /* nothing written */
    const float x[] = {1, 2, 3};
    const int32_t y[] = {0};
    fl_dataset_t *ds = fl_dataset_new (1, 3, x, y, 1, NULL, NULL);
    FL_CHECK (a && ds && fl_stats_accumulate (a, ds) == -1);
    FL_CHECK (a && fl_stats_count (a) == 0);
    const double sum[] = {1, 2}, sumsq[] = {1, -4}, bad[] = {NAN, 1};
    FL_CHECK (fl_stats_from_arrays (2, 3, sum, sumsq) == NULL);      /* negative sumsq */
    FL_CHECK (fl_stats_from_arrays (2, 3, bad, sum) == NULL);        /* NaN */
    FL_CHECK (fl_stats_from_arrays (2, 0, sum, sum) == NULL);        /* sums without rows */
    FL_CHECK (fl_stats_from_arrays (0, 3, sum, sum) == NULL);
    FL_CHECK (fl_stats_from_arrays (2, 3, NULL, sum) == NULL);
    /* Cancellation: a value with |mean| >> std can make sumsq/n - mean^2
       slightly negative; it is clamped, so the std is 1 (constant), not NaN. */
    const double s1[] = {3 * 0.1}, q1[] = {3 * 0.1 * 0.1 * (1 - 1e-15)};
    fl_stats_t *c = fl_stats_from_arrays (1, 3, s1, q1);
    FL_CHECK (c && fl_stats_finalize (c, mean, sd) == 0 && sd[0] == 1.0f);
    fl_stats_destroy (&c);
    /* A mean outside float range is refused. */
    const double big[] = {1e300}, bigsq[] = {1e300};
    c = fl_stats_from_arrays (1, 1, big, bigsq);
    FL_CHECK (c && fl_stats_finalize (c, mean, sd) == -1);
    fl_stats_destroy (&c);
    fl_dataset_destroy (&ds);
    fl_stats_destroy (&a);
    fl_stats_destroy (&b);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_known_answer);
    FL_RUN (test_federated_pima);
    FL_RUN (test_federated_ulb);
    FL_RUN (test_errors);
    FL_TEST_DONE ();
}
