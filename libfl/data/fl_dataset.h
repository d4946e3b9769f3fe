/*  fl_dataset - a labelled tabular data set in memory, its CSV loader, the
    seeded stratified train/test split and in-place standardisation.

    A data set is n rows of d float32 features (one row-major block, the only
    layout the trainer and models read) and one int32 class label per row,
    coded 0..K-1.  Every member site of a federation loads its own shard from
    a CSV file; the loader treats that file as untrusted input: every error is
    typed (fl_csv_error_t) and names the file, line and column, sizes are
    checked against limits before anything is allocated, and the parser is a
    pure function over a buffer (fl_dataset_parse_csv) so it can be fuzzed.

    Partitioning a data set across simulated clients lives in fl_partition.h;
    the federated standardisation statistics (round 0) live in fl_stats.h.
    docs/DATA.md describes the formats, limits and protocols.
*/
#ifndef FL_DATASET_H_INCLUDED
#define FL_DATASET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
   CSV errors and limits
   ------------------------------------------------------------------------- */

typedef enum {
    FL_CSV_OK = 0,
    FL_CSV_EOPEN,       /* file cannot be opened or read */
    FL_CSV_EEMPTY,      /* no header, or a header and no data rows */
    FL_CSV_EHEADER,     /* header malformed: empty/duplicate/too long name, < 2 columns */
    FL_CSV_EFIELD,      /* a feature field is not a finite number (also empty, NaN, inf) */
    FL_CSV_ECOLUMNS,    /* a row has a different number of fields than the header */
    FL_CSV_ELABEL,      /* a label is not an integer in 0..K-1 */
    FL_CSV_ETOOBIG,     /* a limit (columns, rows, line length, file size) exceeded */
    FL_CSV_ENOLABEL,    /* the requested label column is not in the header */
    FL_CSV_ENOMEM,      /* allocation failed */
    FL_CSV_EARG         /* bad argument (NULL buffer, bad options) */
} fl_csv_errcode_t;

/*  Where and why loading failed.  line is 1-based (line 1 is the header);
    column is the 1-based field index within the line (0 when the error is not
    about one field, e.g. EOPEN, EEMPTY, ETOOBIG for a file).  file is the path
    given to the loader, or the name given to the parser ("<buffer>" if NULL),
    truncated to fit.  message is a human-readable sentence that repeats the
    position and names the offending column. */
typedef struct {
    fl_csv_errcode_t code;
    char file[256];
    size_t line;
    size_t column;
    char message[256];
} fl_csv_error_t;

#define FL_CSV_MAX_COLUMNS        4096u         /* hard cap, incl. the label */
#define FL_CSV_DEFAULT_MAX_ROWS   10000000u     /* data rows */
#define FL_CSV_DEFAULT_MAX_LINE   (1u << 20)    /* bytes per line, incl. CR */
#define FL_CSV_DEFAULT_MAX_BYTES  ((size_t) 1 << 31)   /* file size for the loader */
#define FL_CSV_MAX_NAME           255u          /* bytes of one header name */
#define FL_CSV_MAX_FIELD          127u          /* bytes of one numeric field, trimmed */
#define FL_CSV_MAX_CLASSES        65536u        /* labels must be < this (or < n_classes) */

/*  Loader options.  Zero fields mean "default", so `fl_csv_options_t o = {0}`
    gives the defaults.  max_columns is capped at FL_CSV_MAX_COLUMNS. */
typedef struct {
    const char *label_column;   /* header name of the label; NULL = last column */
    size_t max_rows;            /* 0 = FL_CSV_DEFAULT_MAX_ROWS */
    size_t max_columns;         /* 0 = FL_CSV_MAX_COLUMNS */
    size_t max_line;            /* 0 = FL_CSV_DEFAULT_MAX_LINE */
    size_t max_bytes;           /* 0 = FL_CSV_DEFAULT_MAX_BYTES (file loader only) */
    size_t n_classes;           /* 0 = infer K = max label + 1; else labels must be < n_classes */
} fl_csv_options_t;

/*  Short name of an error code ("EFIELD", ...); never NULL. */
const char *fl_csv_errcode_str (fl_csv_errcode_t code);

/*  Fills *err (if err is not NULL): code, file (NULL -> "<buffer>"), line
    and column (1-based; 0 = not applicable), and message =
    "<file>:<line>:<column>: " followed by the printf-formatted reason,
    truncated to fit.  Used by the CSV, table and schema loaders so every
    data error reads the same way. */
void fl_csv_error_set (fl_csv_error_t *err, fl_csv_errcode_t code, const char *file, size_t line,
                       size_t column, const char *fmt, ...) __attribute__ ((format (printf, 6, 7)));

/* ---------------------------------------------------------------------------
   The data set
   ------------------------------------------------------------------------- */

typedef struct fl_dataset_t fl_dataset_t;

/*  Parses a CSV document held in buf[0..len) (need not be NUL-terminated).
    Format (docs/DATA.md): optional UTF-8 BOM; a header line of column names
    (optionally double-quoted, "" escapes a quote); then one line per row of
    numeric fields (decimal integers, decimals, exponent forms like -1.5e-3;
    optional surrounding spaces/tabs and double quotes).  Lines end in LF or
    CRLF; the last line may lack a newline; blank lines at the end are
    ignored, a blank line before more data is ECOLUMNS.  NaN, inf, empty
    fields and values outside float range are EFIELD.  The label column
    (opts->label_column, default last) must hold integers 0..K-1 (ELABEL
    otherwise; "1.0" counts as 1); all other columns become features, in file
    order.  K = opts->n_classes if set, else max label + 1 (a class may then
    have no rows).  name is used in error reports (may be NULL).
    Returns a new data set (caller owns; fl_dataset_destroy) or NULL with
    *err filled (err may be NULL).  Never asserts on content. */
fl_dataset_t *fl_dataset_parse_csv (const char *buf, size_t len, const fl_csv_options_t *opts,
                                    const char *name, fl_csv_error_t *err);

/*  Reads the file at path (size checked against max_bytes first) and parses it
    with fl_dataset_parse_csv.  label_column NULL = last column.  Errors as the
    parser plus FL_CSV_EOPEN.  err may be NULL: the error is then logged;
    a caller that passes err prints err->message itself (it already starts
    with "<file>:<line>:<column>: "), so each error is printed once. */
fl_dataset_t *fl_dataset_load_csv (const char *path, const char *label_column, fl_csv_error_t *err);

/*  As fl_dataset_load_csv with explicit options (opts may be NULL). */
fl_dataset_t *fl_dataset_load_csv_opts (const char *path, const fl_csv_options_t *opts,
                                        fl_csv_error_t *err);

/*  Resolves a bundled data set's short name to its CSV path under datadir and
    its label column:
        "wdbc"        -> wdbc.csv                    label "malignant"
        "pima"        -> pima_diabetes.csv           label "diabetes"
        "ulb"         -> ulb_creditcard_subset.csv   label "Class"
        "uci_credit"  -> uci_default_credit_card.csv label "default_next_month"
        "german_credit" -> german_credit.csv         label "class" (text)
        "breast_cancer" -> breast_cancer.csv         label "Class" (text)
    The file stems ("pima_diabetes", ...) are accepted as aliases.  Writes the
    path into path_out[cap] and the (static) label name into *label_column_out
    (may be NULL).  Returns 0, or -1 for an unknown name or a path that does
    not fit (logged). */
int fl_dataset_named (const char *name, const char *datadir, char *path_out, size_t cap,
                      const char **label_column_out);

/*  True for the bundled data sets with text columns or missing values
    (german_credit, breast_cancer), which load through fl_schema (fl_shard). */
int fl_dataset_named_has_text (const char *name);

/*  A data set from arrays, copied.  x is (n, d) row-major float32, y is (n)
    labels each in [0, n_classes).  feature_names may be NULL (names become
    "x0".."x<d-1>"), label_name may be NULL ("label").  n may be 0.  Returns
    NULL (logged) on d == 0, n_classes == 0, a label out of range, a
    non-finite x, or allocation failure. */
fl_dataset_t *fl_dataset_new (size_t n, size_t d, const float *x, const int32_t *y,
                              size_t n_classes, const char *const *feature_names,
                              const char *label_name);

/*  Frees the data set, nulls *self_p; safe on NULL and twice. */
void fl_dataset_destroy (fl_dataset_t **self_p);

size_t fl_dataset_rows (const fl_dataset_t *self);        /* n */
size_t fl_dataset_features (const fl_dataset_t *self);    /* d */
size_t fl_dataset_classes (const fl_dataset_t *self);     /* K */
/*  Features, (n, d) row-major; valid until the data set is destroyed. */
const float *fl_dataset_x (const fl_dataset_t *self);
float *fl_dataset_x_mut (fl_dataset_t *self);
/*  Labels, (n), each in [0, K). */
const int32_t *fl_dataset_y (const fl_dataset_t *self);
/*  Name of feature j (j < d) and of the label; owned by the data set. */
const char *fl_dataset_feature_name (const fl_dataset_t *self, size_t j);
const char *fl_dataset_label_name (const fl_dataset_t *self);
/*  Index of the feature called name, or -1. */
long fl_dataset_feature_index (const fl_dataset_t *self, const char *name);
/*  Number of rows whose label is c (0 if c >= K). */
size_t fl_dataset_class_count (const fl_dataset_t *self, size_t c);

/*  A new data set holding copies of rows[0..n) in that order (repeats
    allowed; n may be 0).  K, names are kept.  NULL (logged) if a row index is
    out of range or on allocation failure. */
fl_dataset_t *fl_dataset_subset (const fl_dataset_t *self, const uint32_t *rows, size_t n);

/*  A deep copy (e.g. before standardising in place).  NULL on allocation
    failure. */
fl_dataset_t *fl_dataset_copy (const fl_dataset_t *self);

/*  A new data set: a's rows then b's rows.  d and the feature names must
    match (NULL, logged, otherwise); K = max(K_a, K_b). */
fl_dataset_t *fl_dataset_concat (const fl_dataset_t *a, const fl_dataset_t *b);

/*  A new data set without the feature called name (e.g. a site column used
    to partition).  NULL (logged) if there is no such feature or it is the
    only one. */
fl_dataset_t *fl_dataset_drop_feature (const fl_dataset_t *self, const char *name);

/*  Seeded stratified split.  For every class c with n_c rows, the rows are
    shuffled (fl_rng stream (seed, FL_DATASET_SPLIT_STREAM)) and
    round(test_fraction * n_c) of them go to test, clamped so that a class
    with >= 2 rows has at least one row on each side.  Both outputs keep the
    original row order and K.  test_fraction must be in (0, 1).  On success
    writes new data sets to *train and *test (caller owns both) and returns 0;
    returns -1 (logged, nothing written) on a bad fraction, fewer than 2 rows,
    an empty side, or allocation failure.  Same (data, fraction, seed) gives
    the same split on every machine. */
int fl_dataset_split (const fl_dataset_t *self, double test_fraction, uint64_t seed,
                      fl_dataset_t **train, fl_dataset_t **test);

#define FL_DATASET_SPLIT_STREAM 0x73706c6974ull   /* "split" */

/*  In place: x[i][j] = (x[i][j] - mean[j]) / std[j] for every row, with mean
    and std of length d (from fl_stats_finalize over the federation's training
    rows; see fl_stats.h).  Computed in double, stored as float.  Returns -1
    (logged, nothing changed) if any mean is non-finite or any std is not
    finite and > 0.  A data set encoded by fl_schema_encode with missing-value
    indicators first imputes each missing numeric cell with the federated
    mean of the observed values, mean[j] / (1 - mean[indicator]) (the cell
    was stored as 0, so the round-0 mean covers observed values only). */
int fl_dataset_standardise (fl_dataset_t *self, const float *mean, const float *std);

#ifdef __cplusplus
}
#endif
#endif
