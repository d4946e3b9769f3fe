/*  fl_score - `fl-model predict`: score the rows of a CSV file with a model
    file, checking the file's columns against the names the model keeps.

    The steps, each a function so the tests can reach it:
      1. fl_score_match: which CSV column feeds which model input.  The model
         file's feature names (fl_modelfile_names_t) must all be in the
         header; any other column is an error unless it is the label (used
         for metrics, else ignored).  Missing and extra columns are named.
         A model file from before names were kept (format 1) takes the CSV's
         columns in file order: exactly n_inputs of them, or n_inputs + 1
         with the last one (the training programs' default label) taken as
         the label.
      2. fl_score_read: the matched columns of every row as float32 (finite
         numbers only; an error names file:line:column) and the labels
         (integers 0..K-1 or the stored class names).
      3. fl_predict_scores (learn/fl_predict.h): standardisation, forward
         pass, sigmoid / softmax.
      4. fl_score_write: the output CSV.
    Speed: a plain numeric CSV (commas, optional spaces and quotes around a
    field, LF or CRLF) is read by a fast reader that parses the mapped file
    in place, FL_PREDICT_CHUNK rows at a time, scoring and formatting each
    chunk as it goes (fl_score_run holds the output in memory until the end,
    so nothing is written on an error).  Any other form, and any error,
    goes through steps 1-2 on an fl_table, which accepts the same files and
    reports errors with file:line:column.
    A model trained on an encoded CSV (a schema stored in the file: text
    columns, missing values; docs/DATA.md) goes through fl_schema_encode
    instead of steps 1-2; that encoder needs the label column present.

    Output CSV (docs/SCORING.md): header "row,score,class" for a binary
    model (score = P(class 1)), "row,p_<class 0>,...,p_<class K-1>,class"
    otherwise; row is the 1-based data row of the input; class is the class
    name when the model keeps class names, else its index.
*/
#ifndef FL_SCORE_H_INCLUDED
#define FL_SCORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fl_dataset.h"
#include "fl_model.h"
#include "fl_modelfile.h"
#include "fl_table.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  Column mapping of a CSV for a model of d inputs. */
typedef struct {
    size_t d;
    long *column;           /* (d): table column of input j */
    long label_column;      /* table column of the label, or -1 */
} fl_score_map_t;

/*  Fills *map for table and names (see step 1 above); map->column is
    malloc'd (fl_score_map_clear).  0, or -1 with why (cap bytes) naming the
    missing and extra columns, e.g. "missing column(s): 'radius'; extra
    column(s): 'radius_'". */
int fl_score_match (const fl_table_t *table, const fl_modelfile_names_t *names, size_t d, fl_score_map_t *map,
                    char *why, size_t cap);

void fl_score_map_clear (fl_score_map_t *map);

/*  Reads the mapped columns of every row: *x (rows, d) row-major, and, when
    the map has a label column and y_out is not NULL, *y (rows) with each
    label as the index of a class name in names (if the model keeps them) or
    an integer 0..n_classes-1.  Both malloc'd (caller frees).  0, or -1 with
    err->message "<file>:<line>:<column>: <reason>" on a field that is not a
    finite number or a label that is not a class. */
int fl_score_read (const fl_table_t *table, const fl_score_map_t *map, const fl_modelfile_names_t *names,
                   size_t n_classes, float **x, int32_t **y_out, fl_csv_error_t *err);

/*  Writes the output CSV for n score rows (n, n_out) to f (see above);
    class_names (n_classes) may be NULL.  threshold: binary decision.
    0, or -1 on a write error. */
int fl_score_write (FILE *f, const float *scores, size_t n, size_t n_out, const char *const *class_names,
                    size_t n_classes, float threshold);

/*  The fast reader's number parser: a decimal number (optional sign,
    digits, '.', digits, optional exponent; no spaces, hex, inf or nan)
    at the start of [p, end), not NUL-terminated.  Returns the end of the
    number with *out set, or NULL if there is none, an exponent has no
    digits ("1e"), or it is not finite in float32 or underflows (e.g.
    "1e39", "1e-50"; the general path then reports the field).  The
    value: at most 15 significant digits and a power of ten up to 1e22
    are one correctly rounded double operation, then rounded to float, i.e.
    (float) strtod (s); any other number is strtof (s).  Digits are read
    eight at a time (the SWAR conversion of D. Lemire, "Number parsing at
    a gigabyte per second", 2021). */
const char *fl_score_parse_number (const char *p, const char *end, float *out);

/*  Writes v as printf's "%.9g" of (double) v writes it (9 significant
    digits, round half to even on the exact binary value: enough to read
    back as the same float32) at dst, NUL-terminated; returns the length
    (at most 15 characters, so dst needs 16 bytes).  Exact integer
    arithmetic for 2^-21 <= |v| < 2^23 (every probability the output
    normally holds), snprintf for the other values.  The output CSV's
    score columns (docs/SCORING.md). */
size_t fl_score_format_g9 (char *dst, float v);

/*  A model file and the rows of a CSV made ready for it (steps 1-2, or the
    stored schema's encoder).  Everything is owned (fl_score_rows_clear). */
typedef struct {
    fl_model_t *model;
    float *mean, *std;              /* the stored standardisation, or NULL */
    fl_modelfile_names_t names;
    size_t n;                       /* rows */
    float *x;                       /* (n, n_inputs) */
    bool standardised;              /* x is already standardised (schema path, with imputation) */
    int32_t *y;                     /* (n) labels, or NULL */
    const char *const *class_names; /* n_class_names, or NULL (points into names) */
    size_t n_class_names;
    const char **schema_classes;    /* internal */
} fl_score_rows_t;

/*  Loads the model file (plugin as for fl_modelfile_load_plugin) and the
    rows of csv_path for it: column checks, numbers, labels when want_labels
    (then a missing label column is an error).  0, or -1 with why (cap
    bytes); *out is empty then. */
int fl_score_rows_load (const char *model_path, const char *plugin, const char *csv_path, bool want_labels,
                        fl_score_rows_t *out, char *why, size_t cap);

/*  Frees what *rows holds and zeroes it; safe twice. */
void fl_score_rows_clear (fl_score_rows_t *rows);

/*  The names a member's CSV gives a model of d inputs and k classes, as
    the training programs read it: the label column is label (NULL: the
    last column, their default), the features are the other columns in
    file order, the classes "0".."k-1".  For a model file the coordinator
    wrote (it never sees a header): `fl-model names MODEL CSV`, then
    fl_modelfile_attach_names.  Only the header (and one row, to check the
    file's syntax) is read; a file holding only the header will do.  0 with
    *names filled (fl_modelfile_names_clear),
    or -1 with why: no such label, or not d feature columns. */
int fl_score_names_from_csv (const char *csv_path, const char *label, size_t d, size_t k,
                             fl_modelfile_names_t *names, char *why, size_t cap);

/*  What `fl-model predict` does. */
typedef struct {
    const char *model_path;     /* model file */
    const char *plugin;         /* model plugin for plugin-trained models, or NULL */
    const char *csv_path;       /* rows to score */
    const char *out_path;       /* output CSV, or NULL for stdout */
    float threshold;            /* binary decision threshold, in [0, 1] (0.5) */
    bool metrics;               /* compute metrics from the label column */
} fl_score_config_t;

/*  Metrics of a scored file with labels (NAN where undefined). */
typedef struct {
    size_t rows;
    bool has_metrics;
    double accuracy;            /* at the threshold (binary) / argmax */
    double auroc;               /* binary only */
    double log_loss;
} fl_score_summary_t;

/*  Loads the model file (validated), reads and checks the CSV, scores every
    row and writes the output CSV (atomically when out_path is given).
    *summary gets the row count and, with cfg->metrics, the metrics
    (fl_metrics: accuracy, AUROC, log loss).  0, or -1 with why (cap bytes)
    saying what was wrong: an unreadable model or CSV, column errors,
    --metrics without a label column, a write error. */
int fl_score_run (const fl_score_config_t *cfg, fl_score_summary_t *summary, char *why, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
