/*  fl_dataset_priv.h - the data set's representation, shared only by the
    files that implement fl_dataset (fl_dataset.c, fl_csv.c, fl_partition.c,
    fl_stats.c).  Not installed, not part of the public API: callers use the
    accessors in fl_dataset.h.
*/
#ifndef FL_DATASET_PRIV_H_INCLUDED
#define FL_DATASET_PRIV_H_INCLUDED

#include "fl_dataset.h"

struct fl_dataset_t {
    size_t n;               /* rows */
    size_t d;               /* features */
    size_t k;               /* classes; labels are in [0, k) */
    float *x;               /* (n, d), row-major; never NULL */
    int32_t *y;             /* (n); never NULL */
    char **feature_names;   /* (d) owned strings */
    char *label_name;       /* owned */
    int32_t *missing_indicator;   /* (d) or NULL: for a numeric feature j whose
                                     missing cells were stored as 0, the index of
                                     its 0/1 missing-indicator feature, else -1;
                                     set by fl_schema_encode, read by
                                     fl_dataset_standardise (federated-mean
                                     imputation, docs/DATA.md) */
};

/*  An empty shell for n rows of d features with uninitialised x and y and
    names unset (NULL); allocations are at least one element so x and y are
    never NULL.  NULL on allocation failure or n * d overflow. */
fl_dataset_t *fl_dataset_alloc_ (size_t n, size_t d, size_t k);

/*  Copies src's feature and label names (and missing indicators) into dst
    (same d). 0 / -1. */
int fl_dataset_copy_names_ (fl_dataset_t *dst, const fl_dataset_t *src);

/*  fl_csv's strict decimal grammar (fl_dataset_parse_csv): 0 with *out
    finite and within float range, -1 bad syntax or length, -2 overflow. */
int fl_csv_number_ (const char *s, size_t n, double *out);

#endif
