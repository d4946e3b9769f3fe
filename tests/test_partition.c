/*  test_partition.c - fl_partition: every scheme covers every row exactly
    once, is reproducible by seed, IID sizes are near-equal, Dirichlet with a
    small alpha is visibly label-skewed (and large alpha is not), the
    minimum-size rule holds (redraw and top-up paths), by-column partitions
    follow the column's values and refuse a wrong client count. */
#include "fl_partition.h"
#include "fl_test.h"

#include <stdint.h>

static fl_dataset_t *
s_load (const char *name)
{
    char path[4096];
    const char *label = NULL;
    if (fl_dataset_named (name, FL_TEST_PATH ("datasets"), path, sizeof path, &label) != 0)
        return NULL;
    return fl_dataset_load_csv (path, label, NULL);
}

/*  Every row in exactly one client, lists sorted, sizes add up, label counts
    agree with the rows. */
static int
s_covers (const fl_partition_t *p, const fl_dataset_t *ds)
{
    size_t n = fl_dataset_rows (ds), total = 0;
    int *seen = (int *) calloc (n, sizeof (int)), ok = 1;
    for (size_t i = 0; i < fl_partition_clients (p); i++) {
        const uint32_t *r = fl_partition_rows (p, i);
        size_t m = fl_partition_size (p, i), pos = 0;
        total += m;
        for (size_t j = 0; j < m; j++) {
            ok &= r[j] < n && (j == 0 || r[j] > r[j - 1]);
            if (r[j] < n)
                seen[r[j]]++;
            pos += fl_dataset_y (ds)[r[j] < n ? r[j] : 0] == 1;
        }
        ok &= fl_partition_label_count (p, i, 1) == pos;
        ok &= fl_partition_label_count (p, i, 0) == m - pos;
    }
    for (size_t i = 0; i < n; i++)
        ok &= seen[i] == 1;
    free (seen);
    return ok && total == n;
}

static int
s_equal (const fl_partition_t *a, const fl_partition_t *b)
{
    if (fl_partition_clients (a) != fl_partition_clients (b))
        return 0;
    for (size_t i = 0; i < fl_partition_clients (a); i++)
        if (fl_partition_size (a, i) != fl_partition_size (b, i)
            || memcmp (fl_partition_rows (a, i), fl_partition_rows (b, i),
                       fl_partition_size (a, i) * sizeof (uint32_t)) != 0)
            return 0;
    return 1;
}

/*  Mean over clients of |share of class 1 at the client - global share|. */
static double
s_skew (const fl_partition_t *p, const fl_dataset_t *ds)
{
    double global = (double) fl_dataset_class_count (ds, 1) / (double) fl_dataset_rows (ds), s = 0;
    for (size_t i = 0; i < fl_partition_clients (p); i++)
        s += fabs ((double) fl_partition_label_count (p, i, 1) / (double) fl_partition_size (p, i)
                   - global);
    return s / (double) fl_partition_clients (p);
}

static void
test_kind_parse (void)
{
    FL_CHECK (fl_partition_kind_parse ("iid") == FL_PARTITION_IID);
    FL_CHECK (fl_partition_kind_parse ("dirichlet") == FL_PARTITION_DIRICHLET);
    FL_CHECK (fl_partition_kind_parse ("column") == FL_PARTITION_COLUMN);
    FL_CHECK (fl_partition_kind_parse ("IID") == FL_PARTITION_UNKNOWN);
    FL_CHECK (fl_partition_kind_parse (NULL) == FL_PARTITION_UNKNOWN);
    FL_CHECK (strcmp (fl_partition_kind_str (FL_PARTITION_DIRICHLET), "dirichlet") == 0);
}

static void
test_iid (void)
{
    fl_dataset_t *ds = s_load ("wdbc");
    FL_CHECK (ds != NULL);
    if (!ds)
        return;
    fl_partition_t *a = fl_partition_new (ds, FL_PARTITION_IID, 7, 0, NULL, 5);
    fl_partition_t *b = fl_partition_new (ds, FL_PARTITION_IID, 7, 0, NULL, 5);
    fl_partition_t *c = fl_partition_new (ds, FL_PARTITION_IID, 7, 0, NULL, 6);
    FL_CHECK (a && b && c);
    if (a && b && c) {
        FL_CHECK (s_covers (a, ds));
        FL_CHECK (s_equal (a, b));
        FL_CHECK (!s_equal (a, c));
        for (size_t i = 0; i < 7; i++)      /* 569 = 7 * 81 + 2 */
            FL_CHECK (fl_partition_size (a, i) == (i < 2 ? 82u : 81u));
        FL_CHECK (s_skew (a, ds) < 0.08);
        FL_CHECK (isnan (fl_partition_column_value (a, 0)) && fl_partition_redraws (a) == 0);
        /* fl_dataset_shard returns exactly client 3's rows */
        fl_dataset_t *shard = fl_dataset_shard (ds, FL_PARTITION_IID, 7, 3, 0, NULL, 5);
        fl_dataset_t *expect = fl_dataset_subset (ds, fl_partition_rows (a, 3),
                                                  fl_partition_size (a, 3));
        FL_CHECK (shard && expect && fl_dataset_rows (shard) == fl_dataset_rows (expect));
        FL_CHECK (shard && expect
                  && memcmp (fl_dataset_x (shard), fl_dataset_x (expect),
                             fl_dataset_rows (shard) * 30 * sizeof (float)) == 0);
        fl_dataset_destroy (&shard);
        fl_dataset_destroy (&expect);
    }
    /* Errors */
    FL_CHECK (fl_partition_new (ds, FL_PARTITION_IID, 0, 0, NULL, 1) == NULL);
    FL_CHECK (fl_partition_new (ds, FL_PARTITION_IID, 570, 0, NULL, 1) == NULL);
    FL_CHECK (fl_partition_new (ds, FL_PARTITION_UNKNOWN, 2, 0, NULL, 1) == NULL);
    FL_CHECK (fl_dataset_shard (ds, FL_PARTITION_IID, 3, 3, 0, NULL, 1) == NULL);
    fl_partition_t *one = fl_partition_new (ds, FL_PARTITION_IID, 1, 0, NULL, 1);
    FL_CHECK (one && fl_partition_size (one, 0) == 569 && s_covers (one, ds));
    fl_partition_destroy (&one);
    fl_partition_destroy (&a);
    fl_partition_destroy (&b);
    fl_partition_destroy (&c);
    FL_CHECK (a == NULL);
    fl_partition_destroy (&a);
    fl_dataset_destroy (&ds);
}

static void
test_dirichlet (void)
{
    fl_dataset_t *ds = s_load ("uci_credit");
    FL_CHECK (ds != NULL);
    if (!ds)
        return;
    fl_partition_t *skewed = fl_partition_new (ds, FL_PARTITION_DIRICHLET, 10, 0.1, NULL, 11);
    fl_partition_t *again = fl_partition_new (ds, FL_PARTITION_DIRICHLET, 10, 0.1, NULL, 11);
    fl_partition_t *other = fl_partition_new (ds, FL_PARTITION_DIRICHLET, 10, 0.1, NULL, 12);
    fl_partition_t *mild = fl_partition_new (ds, FL_PARTITION_DIRICHLET, 10, 1000, NULL, 11);
    fl_partition_t *iid = fl_partition_new (ds, FL_PARTITION_IID, 10, 0, NULL, 11);
    FL_CHECK (skewed && again && other && mild && iid);
    if (skewed && again && other && mild && iid) {
        FL_CHECK (s_covers (skewed, ds) && s_covers (mild, ds) && s_covers (other, ds));
        FL_CHECK (s_equal (skewed, again));
        FL_CHECK (!s_equal (skewed, other));
        double sk = s_skew (skewed, ds), sm = s_skew (mild, ds), si = s_skew (iid, ds);
        if (fl_test_verbose_)
            printf ("  mean |p1 - 0.221|: alpha 0.1 %.3f, alpha 1000 %.3f, iid %.3f\n", sk, sm, si);
        /* The global default rate is 0.221: with alpha 0.1 clients are mostly
           one class, so shares sit far from it; with alpha 1000 or IID close. */
        FL_CHECK (sk > 0.2);
        FL_CHECK (sm < 0.03 && si < 0.03);
        for (size_t i = 0; i < 10; i++)
            FL_CHECK (fl_partition_size (skewed, i) >= FL_PARTITION_MIN_ROWS);
        FL_CHECK (fl_partition_redraws (skewed) >= 1);
    }
    fl_partition_destroy (&skewed);
    fl_partition_destroy (&again);
    fl_partition_destroy (&other);
    fl_partition_destroy (&mild);
    fl_partition_destroy (&iid);
    FL_CHECK (fl_partition_new (ds, FL_PARTITION_DIRICHLET, 10, 0, NULL, 1) == NULL);
    FL_CHECK (fl_partition_new (ds, FL_PARTITION_DIRICHLET, 10, -1, NULL, 1) == NULL);
    FL_CHECK (fl_partition_new (ds, FL_PARTITION_DIRICHLET, 10, INFINITY, NULL, 1) == NULL);
    fl_dataset_destroy (&ds);
}

/*  A minimum so high that no Dirichlet draw meets it: the top-up rule runs. */
static void
test_dirichlet_min_rows (void)
{
    fl_dataset_t *ds = s_load ("wdbc");
    if (!ds) {
        FL_CHECK (0);
        return;
    }
    fl_partition_options_t o = {.min_rows = 11, .drop_column = false};
    fl_partition_t *p = fl_partition_new_opts (ds, FL_PARTITION_DIRICHLET, 50, 0.05, NULL, 3, &o);
    FL_CHECK (p != NULL);
    if (p) {
        FL_CHECK (s_covers (p, ds));
        FL_CHECK (fl_partition_redraws (p) == FL_PARTITION_MAX_DRAWS + 1);
        size_t smallest = SIZE_MAX;
        for (size_t i = 0; i < 50; i++)
            smallest = fl_partition_size (p, i) < smallest ? fl_partition_size (p, i) : smallest;
        FL_CHECK (smallest == 11);
        fl_partition_t *q = fl_partition_new_opts (ds, FL_PARTITION_DIRICHLET, 50, 0.05, NULL, 3, &o);
        FL_CHECK (q && s_equal (p, q));     /* the top-up is seeded too */
        fl_partition_destroy (&q);
    }
    fl_partition_destroy (&p);
    o.min_rows = 12;                        /* 50 * 12 > 569 */
    FL_CHECK (fl_partition_new_opts (ds, FL_PARTITION_DIRICHLET, 50, 0.05, NULL, 3, &o) == NULL);
    fl_dataset_destroy (&ds);
}

static void
test_column (void)
{
    /* Synthetic: site values 3, 1, 2 in rows; client i = i-th smallest value. */
    const float x[] = {3, 0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 1, 4.5f, 2, 5.5f};   /* (6, 2) */
    const int32_t y[] = {0, 1, 0, 1, 1, 1};
    const char *names[] = {"site", "v"};
    fl_dataset_t *ds = fl_dataset_new (6, 2, x, y, 2, names, "y");
    fl_partition_t *p = ds ? fl_partition_new (ds, FL_PARTITION_COLUMN, 3, 0, "site", 0) : NULL;
    FL_CHECK (p != NULL);
    if (p) {
        FL_CHECK (s_covers (p, ds));
        const uint32_t r0[] = {1, 4}, r1[] = {2, 5}, r2[] = {0, 3};
        FL_CHECK (fl_partition_size (p, 0) == 2 && memcmp (fl_partition_rows (p, 0), r0, 8) == 0);
        FL_CHECK (fl_partition_size (p, 1) == 2 && memcmp (fl_partition_rows (p, 1), r1, 8) == 0);
        FL_CHECK (fl_partition_size (p, 2) == 2 && memcmp (fl_partition_rows (p, 2), r2, 8) == 0);
        FL_CHECK (fl_partition_column_value (p, 0) == 1 && fl_partition_column_value (p, 2) == 3);
        fl_dataset_t *shard = fl_dataset_shard (ds, FL_PARTITION_COLUMN, 3, 2, 0, "site", 0);
        const float sx[] = {0.5f, 3.5f};    /* site dropped by default */
        FL_CHECK (shard && fl_dataset_features (shard) == 1);
        FL_CHECK (shard && memcmp (fl_dataset_x (shard), sx, sizeof sx) == 0);
        fl_dataset_destroy (&shard);
        fl_partition_options_t keep = {.min_rows = 0, .drop_column = false};
        shard = fl_dataset_shard_opts (ds, FL_PARTITION_COLUMN, 3, 2, 0, "site", 0, &keep);
        FL_CHECK (shard && fl_dataset_features (shard) == 2 && fl_dataset_x (shard)[0] == 3);
        fl_dataset_destroy (&shard);
    }
    fl_partition_destroy (&p);
    /* Wrong number of clients, missing column. */
    FL_CHECK (ds && fl_partition_new (ds, FL_PARTITION_COLUMN, 2, 0, "site", 0) == NULL);
    FL_CHECK (ds && fl_partition_new (ds, FL_PARTITION_COLUMN, 4, 0, "site", 0) == NULL);
    FL_CHECK (ds && fl_partition_new (ds, FL_PARTITION_COLUMN, 3, 0, "region", 0) == NULL);
    FL_CHECK (ds && fl_partition_new (ds, FL_PARTITION_COLUMN, 3, 0, NULL, 0) == NULL);
    fl_dataset_destroy (&ds);

    /* Real data: UCI credit by SEX (1 = male 11,888 rows, 2 = female 18,112). */
    ds = s_load ("uci_credit");
    p = ds ? fl_partition_new (ds, FL_PARTITION_COLUMN, 2, 0, "SEX", 0) : NULL;
    FL_CHECK (p && s_covers (p, ds));
    FL_CHECK (p && fl_partition_size (p, 0) == 11888 && fl_partition_size (p, 1) == 18112);
    fl_partition_destroy (&p);
    FL_CHECK (ds && fl_partition_new (ds, FL_PARTITION_COLUMN, 3, 0, "SEX", 0) == NULL);
    fl_dataset_t *shard = ds ? fl_dataset_shard (ds, FL_PARTITION_COLUMN, 7, 0, 0, "EDUCATION", 0)
                             : NULL;        /* EDUCATION 0..6: client 0 = 14 rows coded 0 */
    FL_CHECK (shard && fl_dataset_rows (shard) == 14 && fl_dataset_features (shard) == 22);
    FL_CHECK (shard && fl_dataset_feature_index (shard, "EDUCATION") == -1);
    fl_dataset_destroy (&shard);
    fl_dataset_destroy (&ds);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_kind_parse);
    FL_RUN (test_iid);
    FL_RUN (test_dirichlet);
    FL_RUN (test_dirichlet_min_rows);
    FL_RUN (test_column);
    FL_TEST_DONE ();
}
