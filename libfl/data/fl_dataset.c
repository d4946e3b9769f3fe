/*  fl_dataset - the in-memory data set: construction, accessors, copies of
    row subsets, concatenation, the seeded stratified split, in-place
    standardisation and the names of the bundled data sets.

    The CSV parser is in fl_csv.c, partitions in fl_partition.c, federated
    standardisation statistics in fl_stats.c; they share the representation
    through fl_dataset_priv.h.
*/
#include "fl_dataset_priv.h"
#include "fl_rng.h"

#include <czmq.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fl_dataset_t *
fl_dataset_alloc_ (size_t n, size_t d, size_t k)
{
    if (d == 0 || (n > 0 && d > SIZE_MAX / sizeof (float) / n))
        return NULL;
    fl_dataset_t *self = (fl_dataset_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->n = n;
    self->d = d;
    self->k = k;
    /* At least one element, so x and y are never NULL even for n == 0. */
    self->x = (float *) malloc ((n ? n * d : 1) * sizeof (float));
    self->y = (int32_t *) malloc ((n ? n : 1) * sizeof (int32_t));
    self->feature_names = (char **) calloc (d, sizeof (char *));
    if (!self->x || !self->y || !self->feature_names) {
        fl_dataset_destroy (&self);
        return NULL;
    }
    return self;
}

int
fl_dataset_copy_names_ (fl_dataset_t *dst, const fl_dataset_t *src)
{
    assert (dst->d == src->d);
    for (size_t j = 0; j < dst->d; j++) {
        dst->feature_names[j] = strdup (src->feature_names[j]);
        if (!dst->feature_names[j])
            return -1;
    }
    if (src->missing_indicator) {
        dst->missing_indicator = (int32_t *) malloc (dst->d * sizeof (int32_t));
        if (!dst->missing_indicator)
            return -1;
        memcpy (dst->missing_indicator, src->missing_indicator, dst->d * sizeof (int32_t));
    }
    dst->label_name = strdup (src->label_name);
    return dst->label_name ? 0 : -1;
}

fl_dataset_t *
fl_dataset_new (size_t n, size_t d, const float *x, const int32_t *y, size_t n_classes,
                const char *const *feature_names, const char *label_name)
{
    if (d == 0 || n_classes == 0 || n_classes > INT32_MAX || (n > 0 && (!x || !y))
        || n > UINT32_MAX || (n > 0 && d > SIZE_MAX / sizeof (float) / n)) {
        zsys_error ("fl_dataset_new: bad shape (n=%zu, d=%zu, classes=%zu)", n, d, n_classes);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t) y[i] >= n_classes) {
            zsys_error ("fl_dataset_new: label %d of row %zu not in [0, %zu)", (int) y[i], i,
                        n_classes);
            return NULL;
        }
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite (x[i])) {
            zsys_error ("fl_dataset_new: x[%zu] is not finite", i);
            return NULL;
        }
    fl_dataset_t *self = fl_dataset_alloc_ (n, d, n_classes);
    if (!self) {
        zsys_error ("fl_dataset_new: out of memory (n=%zu, d=%zu)", n, d);
        return NULL;
    }
    if (n) {
        memcpy (self->x, x, n * d * sizeof (float));
        memcpy (self->y, y, n * sizeof (int32_t));
    }
    int rc = 0;
    for (size_t j = 0; j < d && rc == 0; j++) {
        if (feature_names && feature_names[j])
            self->feature_names[j] = strdup (feature_names[j]);
        else {
            char tmp[32];
            snprintf (tmp, sizeof tmp, "x%zu", j);
            self->feature_names[j] = strdup (tmp);
        }
        rc = self->feature_names[j] ? 0 : -1;
    }
    self->label_name = strdup (label_name ? label_name : "label");
    if (rc || !self->label_name) {
        zsys_error ("fl_dataset_new: out of memory");
        fl_dataset_destroy (&self);
    }
    return self;
}

void
fl_dataset_destroy (fl_dataset_t **self_p)
{
    assert (self_p);
    fl_dataset_t *self = *self_p;
    if (!self)
        return;
    if (self->feature_names)
        for (size_t j = 0; j < self->d; j++)
            free (self->feature_names[j]);
    free (self->feature_names);
    free (self->label_name);
    free (self->missing_indicator);
    free (self->x);
    free (self->y);
    free (self);
    *self_p = NULL;
}

size_t fl_dataset_rows (const fl_dataset_t *self) { assert (self); return self->n; }
size_t fl_dataset_features (const fl_dataset_t *self) { assert (self); return self->d; }
size_t fl_dataset_classes (const fl_dataset_t *self) { assert (self); return self->k; }
const float *fl_dataset_x (const fl_dataset_t *self) { assert (self); return self->x; }
float *fl_dataset_x_mut (fl_dataset_t *self) { assert (self); return self->x; }
const int32_t *fl_dataset_y (const fl_dataset_t *self) { assert (self); return self->y; }
const char *fl_dataset_label_name (const fl_dataset_t *self) { assert (self); return self->label_name; }

const char *
fl_dataset_feature_name (const fl_dataset_t *self, size_t j)
{
    assert (self);
    assert (j < self->d);
    return self->feature_names[j];
}

long
fl_dataset_feature_index (const fl_dataset_t *self, const char *name)
{
    assert (self);
    if (!name)
        return -1;
    for (size_t j = 0; j < self->d; j++)
        if (strcmp (self->feature_names[j], name) == 0)
            return (long) j;
    return -1;
}

size_t
fl_dataset_class_count (const fl_dataset_t *self, size_t c)
{
    assert (self);
    size_t count = 0;
    for (size_t i = 0; i < self->n; i++)
        count += (size_t) self->y[i] == c;
    return count;
}

fl_dataset_t *
fl_dataset_subset (const fl_dataset_t *self, const uint32_t *rows, size_t n)
{
    assert (self);
    assert (rows || n == 0);
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= self->n) {
            zsys_error ("fl_dataset_subset: row %u out of range (n=%zu)", rows[i], self->n);
            return NULL;
        }
    fl_dataset_t *out = fl_dataset_alloc_ (n, self->d, self->k);
    if (!out || fl_dataset_copy_names_ (out, self)) {
        zsys_error ("fl_dataset_subset: out of memory");
        fl_dataset_destroy (&out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy (out->x + i * self->d, self->x + (size_t) rows[i] * self->d,
                self->d * sizeof (float));
        out->y[i] = self->y[rows[i]];
    }
    return out;
}

fl_dataset_t *
fl_dataset_copy (const fl_dataset_t *self)
{
    assert (self);
    fl_dataset_t *out = fl_dataset_alloc_ (self->n, self->d, self->k);
    if (!out || fl_dataset_copy_names_ (out, self)) {
        zsys_error ("fl_dataset_copy: out of memory");
        fl_dataset_destroy (&out);
        return NULL;
    }
    if (self->n) {
        memcpy (out->x, self->x, self->n * self->d * sizeof (float));
        memcpy (out->y, self->y, self->n * sizeof (int32_t));
    }
    return out;
}

fl_dataset_t *
fl_dataset_concat (const fl_dataset_t *a, const fl_dataset_t *b)
{
    assert (a && b);
    if (a->d != b->d) {
        zsys_error ("fl_dataset_concat: feature counts differ (%zu vs %zu)", a->d, b->d);
        return NULL;
    }
    for (size_t j = 0; j < a->d; j++)
        if (strcmp (a->feature_names[j], b->feature_names[j]) != 0) {
            zsys_error ("fl_dataset_concat: feature %zu is '%s' in one and '%s' in the other", j,
                        a->feature_names[j], b->feature_names[j]);
            return NULL;
        }
    if (a->n > SIZE_MAX / 2 || a->n + b->n > UINT32_MAX) {
        zsys_error ("fl_dataset_concat: too many rows");
        return NULL;
    }
    fl_dataset_t *out = fl_dataset_alloc_ (a->n + b->n, a->d, a->k > b->k ? a->k : b->k);
    if (!out || fl_dataset_copy_names_ (out, a)) {
        zsys_error ("fl_dataset_concat: out of memory");
        fl_dataset_destroy (&out);
        return NULL;
    }
    if (a->n) {
        memcpy (out->x, a->x, a->n * a->d * sizeof (float));
        memcpy (out->y, a->y, a->n * sizeof (int32_t));
    }
    if (b->n) {
        memcpy (out->x + a->n * a->d, b->x, b->n * b->d * sizeof (float));
        memcpy (out->y + a->n, b->y, b->n * sizeof (int32_t));
    }
    return out;
}

fl_dataset_t *
fl_dataset_drop_feature (const fl_dataset_t *self, const char *name)
{
    assert (self);
    long drop = fl_dataset_feature_index (self, name);
    if (drop < 0 || self->d < 2) {
        zsys_error ("fl_dataset_drop_feature: %s '%s'",
                    drop < 0 ? "no feature called" : "cannot drop the only feature",
                    name ? name : "(null)");
        return NULL;
    }
    fl_dataset_t *out = fl_dataset_alloc_ (self->n, self->d - 1, self->k);
    if (!out) {
        zsys_error ("fl_dataset_drop_feature: out of memory");
        return NULL;
    }
    size_t dj = (size_t) drop;
    for (size_t j = 0, o = 0; j < self->d; j++) {
        if (j == dj)
            continue;
        out->feature_names[o] = strdup (self->feature_names[j]);
        if (!out->feature_names[o++]) {
            fl_dataset_destroy (&out);
            return NULL;
        }
    }
    out->label_name = strdup (self->label_name);
    if (!out->label_name) {
        fl_dataset_destroy (&out);
        return NULL;
    }
    for (size_t i = 0; i < self->n; i++) {
        const float *src = self->x + i * self->d;
        float *dst = out->x + i * out->d;
        memcpy (dst, src, dj * sizeof (float));
        memcpy (dst + dj, src + dj + 1, (self->d - dj - 1) * sizeof (float));
        out->y[i] = self->y[i];
    }
    return out;
}

static int
s_cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return (x > y) - (x < y);
}

int
fl_dataset_split (const fl_dataset_t *self, double test_fraction, uint64_t seed,
                  fl_dataset_t **train, fl_dataset_t **test)
{
    assert (self && train && test);
    if (!(test_fraction > 0.0 && test_fraction < 1.0)) {
        zsys_error ("fl_dataset_split: test fraction %g not in (0, 1)", test_fraction);
        return -1;
    }
    if (self->n < 2 || self->n > UINT32_MAX) {
        zsys_error ("fl_dataset_split: cannot split %zu rows", self->n);
        return -1;
    }
    uint32_t *idx = (uint32_t *) malloc (self->n * sizeof (uint32_t));
    uint32_t *tr = (uint32_t *) malloc (self->n * sizeof (uint32_t));
    uint32_t *te = (uint32_t *) malloc (self->n * sizeof (uint32_t));
    fl_rng_t *rng = fl_rng_new_u64 (seed, FL_DATASET_SPLIT_STREAM);
    int rc = -1;
    size_t n_tr = 0, n_te = 0;
    if (!idx || !tr || !te || !rng) {
        zsys_error ("fl_dataset_split: out of memory");
        goto done;
    }
    /* Class by class in label order, so the random stream consumed for one
       class does not depend on the row order of another. */
    for (size_t c = 0; c < self->k; c++) {
        size_t m = 0;
        for (size_t i = 0; i < self->n; i++)
            if ((size_t) self->y[i] == c)
                idx[m++] = (uint32_t) i;
        if (m == 0)
            continue;
        fl_rng_shuffle_u32 (rng, idx, m);
        size_t t = (size_t) floor (test_fraction * (double) m + 0.5);
        if (m >= 2 && t == 0)
            t = 1;
        if (m >= 2 && t == m)
            t = m - 1;
        for (size_t i = 0; i < m; i++) {
            if (i < t)
                te[n_te++] = idx[i];
            else
                tr[n_tr++] = idx[i];
        }
    }
    if (n_tr == 0 || n_te == 0) {
        zsys_error ("fl_dataset_split: fraction %g of %zu rows leaves one side empty",
                    test_fraction, self->n);
        goto done;
    }
    qsort (tr, n_tr, sizeof (uint32_t), s_cmp_u32);
    qsort (te, n_te, sizeof (uint32_t), s_cmp_u32);
    fl_dataset_t *a = fl_dataset_subset (self, tr, n_tr);
    fl_dataset_t *b = fl_dataset_subset (self, te, n_te);
    if (!a || !b) {
        fl_dataset_destroy (&a);
        fl_dataset_destroy (&b);
        goto done;
    }
    *train = a;
    *test = b;
    rc = 0;
done:
    fl_rng_destroy (&rng);
    free (idx);
    free (tr);
    free (te);
    return rc;
}

int
fl_dataset_standardise (fl_dataset_t *self, const float *mean, const float *std)
{
    assert (self && mean && std);
    for (size_t j = 0; j < self->d; j++)
        if (!isfinite (mean[j]) || !isfinite (std[j]) || !(std[j] > 0.0f)) {
            zsys_error ("fl_dataset_standardise: feature %zu ('%s'): mean %g, std %g invalid", j,
                        self->feature_names[j], (double) mean[j], (double) std[j]);
            return -1;
        }
    for (size_t i = 0; i < self->n; i++) {
        float *row = self->x + i * self->d;
        /* Federated-mean imputation (docs/DATA.md): a missing numeric cell
           was stored as 0 with its indicator at 1, so over the federation's
           training rows mean[j] = (sum of observed values) / n and
           mean[ind] = (missing cells) / n; the mean of the observed values
           is mean[j] / (1 - mean[ind]).  Done before the indicator itself
           is standardised. */
        if (self->missing_indicator)
            for (size_t j = 0; j < self->d; j++) {
                int32_t ind = self->missing_indicator[j];
                if (ind < 0 || (size_t) ind >= self->d || row[ind] < 0.5f)
                    continue;
                double miss = (double) mean[ind];
                row[j] = miss < 1.0 ? (float) ((double) mean[j] / (1.0 - miss)) : 0.0f;
            }
        for (size_t j = 0; j < self->d; j++)
            row[j] = (float) (((double) row[j] - (double) mean[j]) / (double) std[j]);
    }
    return 0;
}

/*  The bundled data sets (datasets/README.md).  Short name, file stem, label. */
static const struct {
    const char *name, *stem, *label;
} s_named[] = {
    {"wdbc", "wdbc", "malignant"},
    {"pima", "pima_diabetes", "diabetes"},
    {"ulb", "ulb_creditcard_subset", "Class"},
    {"uci_credit", "uci_default_credit_card", "default_next_month"},
    {"german_credit", "german_credit", "class"},      /* 13 text columns */
    {"breast_cancer", "breast_cancer", "Class"},      /* text, '?' missing cells */
};

int
fl_dataset_named_has_text (const char *name)
{
    return name && (strcmp (name, "german_credit") == 0 || strcmp (name, "breast_cancer") == 0);
}

int
fl_dataset_named (const char *name, const char *datadir, char *path_out, size_t cap,
                  const char **label_column_out)
{
    assert (path_out || cap == 0);
    if (!name) {
        zsys_error ("fl_dataset_named: no data set name");
        return -1;
    }
    for (size_t i = 0; i < sizeof s_named / sizeof s_named[0]; i++) {
        if (strcmp (name, s_named[i].name) != 0 && strcmp (name, s_named[i].stem) != 0)
            continue;
        int len = snprintf (path_out, cap, "%s/%s.csv", datadir ? datadir : ".", s_named[i].stem);
        if (len < 0 || (size_t) len >= cap) {
            zsys_error ("fl_dataset_named: path for '%s' does not fit in %zu bytes", name, cap);
            return -1;
        }
        if (label_column_out)
            *label_column_out = s_named[i].label;
        return 0;
    }
    zsys_error ("fl_dataset_named: unknown data set '%s' (known: wdbc, pima, ulb, uci_credit, german_credit, breast_cancer)",
                name);
    return -1;
}
