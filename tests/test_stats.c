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

/* ---- fixed-point encoding for secure aggregation ---------------------------- */

/* Sums `members` encoded vectors word by word mod 2^32, as the secure
   aggregation's unmasked result is. */
static void
s_sum_words (uint32_t *acc, const uint32_t *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += x[i];
}

static void
test_fixed_known_values (void)
{
    const double v[] = {0.0, 1.0, -1.0, 2.5, -2.5, 1e16, -3.75e12, 0.1, 123456789.123};
    size_t n = sizeof v / sizeof v[0];
    uint32_t enc[sizeof v / sizeof v[0] * FL_STATS_FIXED_LIMBS];
    double out[sizeof v / sizeof v[0]];
    FL_CHECK (fl_stats_fixed_encode (v, n, enc) == 0);
    /* 1.0 is 2^32: limb 2 = 1, the rest 0; -1.0 is all ones above bit 32 */
    const uint32_t *one = enc + 1 * FL_STATS_FIXED_LIMBS, *minus = enc + 2 * FL_STATS_FIXED_LIMBS;
    FL_CHECK (one[0] == 0 && one[1] == 0 && one[2] == 1 && one[3] == 0 && one[7] == 0);
    FL_CHECK (minus[0] == 0 && minus[1] == 0 && minus[2] == 0xffff && minus[7] == 0xffff);
    for (size_t i = 0; i < n * FL_STATS_FIXED_LIMBS; i++)
        FL_CHECK (enc[i] <= 0xffffu);
    FL_CHECK (fl_stats_fixed_decode (enc, n, 1, out) == 0);
    for (size_t i = 0; i < n; i++)       /* exact up to the 2^-32 grid */
        FL_CHECK_CLOSE (out[i], v[i], ldexp (1, -33), 1e-15);
    FL_CHECK (out[0] == 0 && out[1] == 1 && out[2] == -1 && out[5] == 1e16);
}

static void
test_fixed_negative_and_carries (void)
{
    /* Two members whose low limbs are all 0xffff: every limb sum carries. */
    double a = ldexp (1.0, 20) - ldexp (1.0, -32);       /* q = 2^52 - 1: limbs 0..2 are 0xffff */
    double b = ldexp (1.0, -32);                         /* q = 1 */
    double v[2] = {a, b}, w[2] = {-a, -b};
    uint32_t ea[16], eb[16], sum[16] = {0};
    FL_CHECK (fl_stats_fixed_encode (v, 1, ea) == 0 && fl_stats_fixed_encode (v + 1, 1, eb) == 0);
    FL_CHECK (ea[0] == 0xffff && ea[2] == 0xffff && ea[3] == 0xf && ea[4] == 0);
    s_sum_words (sum, ea, 8);
    s_sum_words (sum, eb, 8);
    double out;
    FL_CHECK (fl_stats_fixed_decode (sum, 1, 2, &out) == 0 && out == ldexp (1.0, 20));
    /* negative + positive: -a + b = -(2^20 - 2^-31) */
    memset (sum, 0, sizeof sum);
    FL_CHECK (fl_stats_fixed_encode (w, 1, ea) == 0);
    s_sum_words (sum, ea, 8);
    s_sum_words (sum, eb, 8);
    FL_CHECK (fl_stats_fixed_decode (sum, 1, 2, &out) == 0);
    FL_CHECK (out == -(ldexp (1.0, 20) - ldexp (1.0, -31)));
    /* -x + x = 0 exactly: the 2^128 wrap of the carries is dropped */
    memset (sum, 0, sizeof sum);
    FL_CHECK (fl_stats_fixed_encode (w, 2, ea) == 0 && fl_stats_fixed_encode (v, 2, eb) == 0);
    s_sum_words (sum, ea, 16);
    s_sum_words (sum, eb, 16);
    double o2[2];
    FL_CHECK (fl_stats_fixed_decode (sum, 2, 2, o2) == 0 && o2[0] == 0 && o2[1] == 0);
}

static void
test_fixed_bucket_of_many (void)
{
    /* The largest bucket, every member at the largest magnitudes of
       either sign: no limb wraps, the sum is exact. */
    uint32_t members = FL_STATS_FIXED_MAX_SUMMANDS;
    double big = ldexp (1.0, FL_STATS_FIXED_MAX_BITS) - ldexp (1.0, FL_STATS_FIXED_MAX_BITS - 52);
    double v[3] = {big, -big, -1234.5678};
    uint32_t enc[24], sum[24] = {0};
    FL_CHECK (fl_stats_fixed_encode (v, 3, enc) == 0);
    for (uint32_t m = 0; m < members; m++)
        s_sum_words (sum, enc, 24);
    double out[3];
    FL_CHECK (fl_stats_fixed_decode (sum, 3, members, out) == 0);
    FL_CHECK_CLOSE (out[0], (double) members * big, 0, 1e-15);
    FL_CHECK_CLOSE (out[1], -(double) members * big, 0, 1e-15);
    FL_CHECK_CLOSE (out[2], -1234.5678 * members, 1e-5, 1e-15);
    /* and statistics of real data: ULB-like magnitudes, summed over 1000
       members, decode to the double sums within 1e-12 relative */
    fl_stats_t *st = fl_stats_new (2);
    const float x[] = {172792.0f, -3.5f, 25691.16f, 0.25f};
    const int32_t y[] = {0, 1};
    fl_dataset_t *ds = fl_dataset_new (2, 2, x, y, 2, NULL, NULL);
    FL_CHECK (ds && st && fl_stats_accumulate (st, ds) == 0);
    size_t len = fl_stats_fixed_len (2);
    FL_CHECK (len == 5 * FL_STATS_FIXED_LIMBS);
    uint32_t *e = calloc (len, 4), *acc = calloc (len, 4);
    FL_CHECK (fl_stats_to_fixed (st, e) == 0);
    for (int m = 0; m < 1000; m++)
        s_sum_words (acc, e, len);
    fl_stats_t *tot = fl_stats_from_fixed (2, acc, len, 1000);
    FL_CHECK (tot && fl_stats_count (tot) == 2000);
    for (size_t j = 0; tot && j < 2; j++) {
        FL_CHECK_CLOSE (fl_stats_sum (tot)[j], 1000 * fl_stats_sum (st)[j], 1e-6, 1e-12);
        FL_CHECK_CLOSE (fl_stats_sumsq (tot)[j], 1000 * fl_stats_sumsq (st)[j], 1e-6, 1e-12);
    }
    fl_stats_destroy (&tot);
    /* a wrong length, too many or zero summands, a tampered limb: refused */
    FL_CHECK (fl_stats_from_fixed (2, acc, len - 1, 1000) == NULL);
    FL_CHECK (fl_stats_from_fixed (2, acc, len, 0) == NULL);
    FL_CHECK (fl_stats_fixed_decode (acc, 1, FL_STATS_FIXED_MAX_SUMMANDS + 1, out) == -1);
    acc[3] = 0xffffffffu;
    FL_CHECK (fl_stats_from_fixed (2, acc, len, 1000) == NULL);
    free (e);
    free (acc);
    fl_dataset_destroy (&ds);
    fl_stats_destroy (&st);
}

static void
test_fixed_refuses_out_of_range (void)
{
    uint32_t enc[16];
    memset (enc, 0xab, sizeof enc);
    double limit = ldexp (1.0, FL_STATS_FIXED_MAX_BITS);
    const double bad[] = {limit, -limit, 1e300, INFINITY, -INFINITY, NAN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v[2] = {1.0, bad[i]};
        FL_CHECK (fl_stats_fixed_encode (v, 2, enc) == -1);
        FL_CHECK (enc[0] == 0xabababab);       /* nothing written */
    }
    /* a count of zero, a negative count or a negative sumsq decode as invalid statistics */
    double v[3] = {0, 1, 1};
    uint32_t e3[24];
    FL_CHECK (fl_stats_fixed_encode (v, 3, e3) == 0);
    FL_CHECK (fl_stats_from_fixed (1, e3, 24, 1) == NULL);
    v[0] = -2;
    FL_CHECK (fl_stats_fixed_encode (v, 3, e3) == 0);
    FL_CHECK (fl_stats_from_fixed (1, e3, 24, 1) == NULL);
    v[0] = 2;
    v[2] = -1;
    FL_CHECK (fl_stats_fixed_encode (v, 3, e3) == 0);
    FL_CHECK (fl_stats_from_fixed (1, e3, 24, 1) == NULL);
    v[2] = 3;
    FL_CHECK (fl_stats_fixed_encode (v, 3, e3) == 0);
    fl_stats_t *ok = fl_stats_from_fixed (1, e3, 24, 1);
    FL_CHECK (ok && fl_stats_count (ok) == 2);
    fl_stats_destroy (&ok);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_known_answer);
    FL_RUN (test_federated_pima);
    FL_RUN (test_federated_ulb);
    FL_RUN (test_errors);
    FL_RUN (test_fixed_known_values);
    FL_RUN (test_fixed_negative_and_carries);
    FL_RUN (test_fixed_bucket_of_many);
    FL_RUN (test_fixed_refuses_out_of_range);
    FL_TEST_DONE ();
}
