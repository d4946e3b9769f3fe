/*  test_dataset.c - fl_dataset: the four bundled data sets load with their
    documented shapes and class counts, spot values match the files, and the
    data-set operations (subset, concat, drop_feature, split) keep their
    promises: copies, reproducibility by seed, stratification, coverage. */
#include "fl_dataset.h"
#include "fl_test.h"

#include <stdint.h>

static fl_dataset_t *
s_load_named (const char *name)
{
    char path[4096];
    const char *label = NULL;
    if (fl_dataset_named (name, FL_TEST_PATH ("datasets"), path, sizeof path, &label) != 0)
        return NULL;
    fl_csv_error_t err;
    fl_dataset_t *ds = fl_dataset_load_csv (path, label, &err);
    if (!ds)
        fprintf (stderr, "  %s: %s\n", name, err.message);
    return ds;
}

static void
test_bundled (void)
{
    static const struct {
        const char *name, *label, *first_feature;
        size_t rows, features, positives;
        float x00;      /* first row, first feature, as written in the file */
        size_t j;
        float x0j;      /* first row, feature j */
    } cases[] = {
        {"wdbc", "malignant", "mean_radius", 569, 30, 212, 17.99f, 29, 0.1189f},
        {"pima", "diabetes", "pregnant", 768, 8, 268, 6, 6, 0.627f},
        {"ulb", "Class", "Time", 10457, 30, 492, 0, 1, -1.3598071336738f},
        {"uci_credit", "default_next_month", "LIMIT_BAL", 30000, 23, 6636, 20000, 22, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_dataset_t *ds = s_load_named (cases[i].name);
        FL_CHECK (ds != NULL);
        if (!ds)
            continue;
        FL_CHECK (fl_dataset_rows (ds) == cases[i].rows);
        FL_CHECK (fl_dataset_features (ds) == cases[i].features);
        FL_CHECK (fl_dataset_classes (ds) == 2);
        FL_CHECK (fl_dataset_class_count (ds, 1) == cases[i].positives);
        FL_CHECK (fl_dataset_class_count (ds, 0) == cases[i].rows - cases[i].positives);
        FL_CHECK (strcmp (fl_dataset_label_name (ds), cases[i].label) == 0);
        FL_CHECK (strcmp (fl_dataset_feature_name (ds, 0), cases[i].first_feature) == 0);
        FL_CHECK (fl_dataset_x (ds)[0] == cases[i].x00);
        FL_CHECK (fl_dataset_x (ds)[cases[i].j] == cases[i].x0j);
        if (fl_test_verbose_)
            printf ("  %-10s %zu x %zu, %zu positives\n", cases[i].name, fl_dataset_rows (ds),
                    fl_dataset_features (ds), fl_dataset_class_count (ds, 1));
        fl_dataset_destroy (&ds);
        FL_CHECK (ds == NULL);
        fl_dataset_destroy (&ds);       /* safe twice */
    }
    /* Spot checks tied to the provenance notes. */
    fl_dataset_t *uci = s_load_named ("uci_credit");
    if (uci) {      /* mean LIMIT_BAL 167,484.32 as published by UCI */
        double s = 0;
        for (size_t i = 0; i < fl_dataset_rows (uci); i++)
            s += fl_dataset_x (uci)[i * fl_dataset_features (uci)];
        FL_CHECK_CLOSE (s / 30000.0, 167484.32, 0.01, 0);
    }
    fl_dataset_destroy (&uci);
    fl_dataset_t *pima = s_load_named ("pima");
    if (pima) {     /* 374 zero "insulin" values, i.e. missing (PROVENANCE) */
        long j = fl_dataset_feature_index (pima, "insulin");
        size_t zeros = 0;
        FL_CHECK (j == 4);
        for (size_t i = 0; j >= 0 && i < fl_dataset_rows (pima); i++)
            zeros += fl_dataset_x (pima)[i * 8 + (size_t) j] == 0.0f;
        FL_CHECK (zeros == 374);
    }
    fl_dataset_destroy (&pima);
}

static void
test_named (void)
{
    char path[64];
    const char *label = NULL;
    FL_CHECK (fl_dataset_named ("pima", "/d", path, sizeof path, &label) == 0);
    FL_CHECK (strcmp (path, "/d/pima_diabetes.csv") == 0 && strcmp (label, "diabetes") == 0);
    FL_CHECK (fl_dataset_named ("ulb_creditcard_subset", "x", path, sizeof path, &label) == 0);
    FL_CHECK (strcmp (path, "x/ulb_creditcard_subset.csv") == 0 && strcmp (label, "Class") == 0);
    FL_CHECK (fl_dataset_named ("uci_credit", NULL, path, sizeof path, NULL) == 0);
    FL_CHECK (strcmp (path, "./uci_default_credit_card.csv") == 0);
    FL_CHECK (fl_dataset_named ("mnist", "/d", path, sizeof path, &label) == -1);
    FL_CHECK (fl_dataset_named (NULL, "/d", path, sizeof path, &label) == -1);
    FL_CHECK (fl_dataset_named ("wdbc", "/a/long/directory", path, 12, &label) == -1);
}

static void
test_ops (void)
{
    const float x[] = {1, 10, 2, 20, 3, 30, 4, 40};   /* (4, 2) */
    const int32_t y[] = {0, 1, 2, 1};
    const char *names[] = {"a", "b"};
    fl_dataset_t *ds = fl_dataset_new (4, 2, x, y, 3, names, "y");
    FL_CHECK (ds && fl_dataset_rows (ds) == 4 && fl_dataset_classes (ds) == 3);
    if (!ds)
        return;
    FL_CHECK (fl_dataset_feature_index (ds, "b") == 1 && fl_dataset_feature_index (ds, "z") == -1);
    const uint32_t rows[] = {3, 0, 3};
    fl_dataset_t *sub = fl_dataset_subset (ds, rows, 3);
    const float sx[] = {4, 40, 1, 10, 4, 40};
    FL_CHECK (sub && fl_dataset_rows (sub) == 3 && fl_dataset_classes (sub) == 3);
    FL_CHECK (sub && memcmp (fl_dataset_x (sub), sx, sizeof sx) == 0);
    FL_CHECK (sub && fl_dataset_y (sub)[0] == 1 && fl_dataset_y (sub)[1] == 0);
    fl_dataset_x_mut (sub)[0] = 99;                     /* a copy, not a view */
    FL_CHECK (fl_dataset_x (ds)[6] == 4);
    const uint32_t bad[] = {4};
    FL_CHECK (fl_dataset_subset (ds, bad, 1) == NULL);
    fl_dataset_t *empty = fl_dataset_subset (ds, NULL, 0);
    FL_CHECK (empty && fl_dataset_rows (empty) == 0 && fl_dataset_x (empty) != NULL);

    fl_dataset_t *cat = fl_dataset_concat (ds, sub);
    FL_CHECK (cat && fl_dataset_rows (cat) == 7);
    FL_CHECK (cat && fl_dataset_x (cat)[8] == 99 && fl_dataset_y (cat)[6] == 1);
    fl_dataset_t *cat2 = fl_dataset_concat (empty, ds);
    FL_CHECK (cat2 && memcmp (fl_dataset_x (cat2), x, sizeof x) == 0);

    fl_dataset_t *dropped = fl_dataset_drop_feature (ds, "a");
    const float dx[] = {10, 20, 30, 40};
    FL_CHECK (dropped && fl_dataset_features (dropped) == 1);
    FL_CHECK (dropped && memcmp (fl_dataset_x (dropped), dx, sizeof dx) == 0);
    FL_CHECK (dropped && strcmp (fl_dataset_feature_name (dropped, 0), "b") == 0);
    FL_CHECK (fl_dataset_drop_feature (ds, "nope") == NULL);
    FL_CHECK (dropped && fl_dataset_drop_feature (dropped, "b") == NULL);   /* the only one */
    FL_CHECK (dropped && fl_dataset_concat (ds, dropped) == NULL);          /* d differs */
    const char *other[] = {"a", "c"};
    fl_dataset_t *renamed = fl_dataset_new (4, 2, x, y, 3, other, "y");
    FL_CHECK (renamed && fl_dataset_concat (ds, renamed) == NULL);          /* names differ */

    /* Constructor rejects bad input. */
    const int32_t ybad[] = {0, 1, 3, 1};
    FL_CHECK (fl_dataset_new (4, 2, x, ybad, 3, NULL, NULL) == NULL);
    const float xnan[] = {1, NAN};
    FL_CHECK (fl_dataset_new (1, 2, xnan, y, 3, NULL, NULL) == NULL);
    FL_CHECK (fl_dataset_new (4, 0, x, y, 3, NULL, NULL) == NULL);
    fl_dataset_t *unnamed = fl_dataset_new (4, 2, x, y, 3, NULL, NULL);
    FL_CHECK (unnamed && strcmp (fl_dataset_feature_name (unnamed, 1), "x1") == 0);
    FL_CHECK (unnamed && strcmp (fl_dataset_label_name (unnamed), "label") == 0);

    /* Standardise: known answer and rejection of bad parameters. */
    const float mean[] = {2.5f, 25}, sd[] = {0.5f, 10};
    FL_CHECK (fl_dataset_standardise (ds, mean, sd) == 0);
    const float zx[] = {-3, -1.5f, -1, -0.5f, 1, 0.5f, 3, 1.5f};
    FL_CHECK (memcmp (fl_dataset_x (ds), zx, sizeof zx) == 0);
    const float sd0[] = {0, 1};
    FL_CHECK (fl_dataset_standardise (ds, mean, sd0) == -1);
    FL_CHECK (memcmp (fl_dataset_x (ds), zx, sizeof zx) == 0);     /* unchanged */

    fl_dataset_destroy (&unnamed);
    fl_dataset_destroy (&renamed);
    fl_dataset_destroy (&dropped);
    fl_dataset_destroy (&cat2);
    fl_dataset_destroy (&cat);
    fl_dataset_destroy (&empty);
    fl_dataset_destroy (&sub);
    fl_dataset_destroy (&ds);
}

static int
s_same (const fl_dataset_t *a, const fl_dataset_t *b)
{
    size_t n = fl_dataset_rows (a), d = fl_dataset_features (a);
    return n == fl_dataset_rows (b) && d == fl_dataset_features (b)
           && memcmp (fl_dataset_x (a), fl_dataset_x (b), n * d * sizeof (float)) == 0
           && memcmp (fl_dataset_y (a), fl_dataset_y (b), n * sizeof (int32_t)) == 0;
}

static void
test_split (void)
{
    fl_dataset_t *ds = s_load_named ("wdbc");
    if (!ds) {
        FL_CHECK (0);
        return;
    }
    fl_dataset_t *tr1 = NULL, *te1 = NULL, *tr2 = NULL, *te2 = NULL, *tr3 = NULL, *te3 = NULL;
    FL_CHECK (fl_dataset_split (ds, 0.25, 7, &tr1, &te1) == 0);
    FL_CHECK (fl_dataset_split (ds, 0.25, 7, &tr2, &te2) == 0);
    FL_CHECK (fl_dataset_split (ds, 0.25, 8, &tr3, &te3) == 0);
    if (!tr1 || !tr2 || !tr3)
        goto done;
    /* Reproducible by seed, different for another seed. */
    FL_CHECK (s_same (tr1, tr2) && s_same (te1, te2));
    FL_CHECK (!s_same (te1, te3));
    /* Stratified: round(0.25 * n_c) test rows per class (212 -> 53, 357 -> 89). */
    FL_CHECK (fl_dataset_class_count (te1, 1) == 53 && fl_dataset_class_count (te1, 0) == 89);
    FL_CHECK (fl_dataset_class_count (tr1, 1) == 159 && fl_dataset_class_count (tr1, 0) == 268);
    FL_CHECK (fl_dataset_classes (te1) == 2);
    /* Train and test together are the whole data set: every original row
       matches exactly one row of the concatenation (features and label). */
    fl_dataset_t *all = fl_dataset_concat (tr1, te1);
    FL_CHECK (all && fl_dataset_rows (all) == 569);
    if (all) {
        size_t d = fl_dataset_features (ds), matched = 0;
        int *used = (int *) calloc (569, sizeof (int));
        for (size_t i = 0; i < 569; i++)
            for (size_t r = 0; r < 569; r++)
                if (!used[r] && memcmp (fl_dataset_x (ds) + i * d, fl_dataset_x (all) + r * d,
                                        d * sizeof (float)) == 0
                    && fl_dataset_y (ds)[i] == fl_dataset_y (all)[r]) {
                    used[r] = 1;
                    matched++;
                    break;
                }
        FL_CHECK (matched == 569);
        free (used);
    }
    fl_dataset_destroy (&all);
    /* Errors write nothing. */
    fl_dataset_t *a = NULL, *b = NULL;
    FL_CHECK (fl_dataset_split (ds, 0.0, 1, &a, &b) == -1);
    FL_CHECK (fl_dataset_split (ds, 1.0, 1, &a, &b) == -1);
    FL_CHECK (fl_dataset_split (ds, NAN, 1, &a, &b) == -1);
    FL_CHECK (a == NULL && b == NULL);
    /* A class with 2 rows keeps one on each side even at fraction 0.01. */
    const float x[] = {0, 1, 2, 3, 4, 5};
    const int32_t y[] = {0, 0, 0, 0, 1, 1};
    fl_dataset_t *tiny = fl_dataset_new (6, 1, x, y, 2, NULL, NULL);
    FL_CHECK (tiny && fl_dataset_split (tiny, 0.01, 3, &a, &b) == 0);
    FL_CHECK (b && fl_dataset_class_count (b, 1) == 1 && fl_dataset_class_count (b, 0) == 1);
    FL_CHECK (a && fl_dataset_rows (a) == 4);
    fl_dataset_destroy (&a);
    fl_dataset_destroy (&b);
    fl_dataset_destroy (&tiny);
done:
    fl_dataset_destroy (&tr1);
    fl_dataset_destroy (&te1);
    fl_dataset_destroy (&tr2);
    fl_dataset_destroy (&te2);
    fl_dataset_destroy (&tr3);
    fl_dataset_destroy (&te3);
    fl_dataset_destroy (&ds);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_bundled);
    FL_RUN (test_named);
    FL_RUN (test_ops);
    FL_RUN (test_split);
    FL_TEST_DONE ();
}
