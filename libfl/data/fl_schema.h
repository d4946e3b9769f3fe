/*  fl_schema - how a member's own CSV becomes model inputs: column types,
    the agreed vocabulary of every text column, missing-value handling and
    the label mapping.  docs/DATA.md ("A member's own CSV").

    Every member of a consortium must encode its rows the same way, so the
    encoding is agreed before the statistics of round 0:
      1. each member types its columns and lists each text column's distinct
         values (fl_schema_from_table: the member's vocabulary report; it
         holds category names and whether a column has missing cells, never
         counts or numeric values);
      2. the reports are merged (fl_schema_merge: the union, sorted and
         capped at FL_SCHEMA_MAX_VALUES per column);
      3. every member encodes with the merged schema (fl_schema_encode).
    A consortium that would rather fix the vocabulary in advance writes the
    schema file itself (fl_schema_load; format in docs/DATA.md).

    Encoding (fl_schema_encode), in schema column order:
      numeric column     one feature; a missing cell (empty, NA, ?) is stored
                         as 0 with a "<col> (missing)" indicator feature at 1,
                         and fl_dataset_standardise replaces it by the
                         federated mean of the observed values;
      text column        one 0/1 feature "<col>=<value>" per vocabulary value;
                         a missing cell sets the "<col>=(missing)" feature;
      dropped column     nothing (identifiers: --drop);
      label              integers as they are, or text values mapped to their
                         index in the sorted label vocabulary.
    The indicator / "(missing)" features exist only for columns the schema
    marks as having missing cells, so every member has the same features.
    With FL_SCHEMA_MISSING_ERROR a missing cell is refused instead.

    All inputs (tables, reports, schema files) are untrusted: sizes are
    bounded before use and every refusal names the value and, for table
    cells, file:line:column.
*/
#ifndef FL_SCHEMA_H_INCLUDED
#define FL_SCHEMA_H_INCLUDED

#include <stddef.h>

#include "fl_dataset.h"
#include "fl_table.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_SCHEMA_MAX_VALUES      256u    /* distinct values of one text column */
#define FL_SCHEMA_MAX_VALUEBYTES  64u     /* bytes of one category value */
#define FL_SCHEMA_MAX_LABELS      256u    /* distinct text labels */
#define FL_SCHEMA_MAX_FILEBYTES   (4u << 20)   /* a schema file */
#define FL_SCHEMA_MISSING_NAME    "(missing)"  /* the text columns' missing category */

typedef enum {
    FL_SCHEMA_NUMERIC = 1,
    FL_SCHEMA_TEXT = 2,
    FL_SCHEMA_DROP = 3
} fl_schema_kind_t;

typedef enum {
    FL_SCHEMA_MISSING_IMPUTE = 0,   /* default: impute + indicator */
    FL_SCHEMA_MISSING_ERROR = 1     /* refuse any missing cell */
} fl_schema_missing_t;

typedef struct fl_schema_t fl_schema_t;

/*  "impute" | "error" -> *out; 0, or -1 for anything else. */
int fl_schema_missing_parse (const char *s, fl_schema_missing_t *out);

/*  A member's vocabulary report from its own table.  label: the label
    column's name (NULL = last column).  drop: comma-separated column names
    to leave out (NULL or "" = none; each must exist).  A column is numeric
    when every non-missing cell is a finite decimal number, else text.  The
    label is "integer" when every cell is an integer in [0, 65536), else
    text.  Returns a new schema (caller owns) or NULL with err->message
    naming file:line:column and the reason: a missing label, a text column
    with more than FL_SCHEMA_MAX_VALUES distinct values or a value longer
    than FL_SCHEMA_MAX_VALUEBYTES or holding a control character or a
    double quote, more than FL_SCHEMA_MAX_LABELS text labels, an unknown
    label or --drop column, or no feature left. */
fl_schema_t *fl_schema_from_table (const fl_table_t *table, const char *label, const char *drop,
                                   fl_csv_error_t *err);

/*  Merges report into self (the vocabulary round's union): same columns
    in the same order with the same types and label column; text values
    and text labels are united, sorted, and must stay within the caps;
    missing flags are OR-ed; integer labels take the larger class count.
    0, or -1 with why (cap bytes) naming the column and value; self is
    unchanged on failure. */
int fl_schema_merge (fl_schema_t *self, const fl_schema_t *report, char *why, size_t cap);

/*  Encodes table with the schema into a new data set (caller owns): the
    table must have every schema column and the label (any order, extra
    columns refused: name them in the schema as dropped).  NULL with
    err->message "<file>:<line>:<column>: <reason>" for a value not in the
    vocabulary, a non-number in a numeric column, a missing label, a label
    not in the label vocabulary, a missing cell under
    FL_SCHEMA_MISSING_ERROR or in a column the schema says has none. */
fl_dataset_t *fl_schema_encode (const fl_schema_t *self, const fl_table_t *table,
                                fl_schema_missing_t missing, fl_csv_error_t *err);

/*  Features fl_schema_encode produces; classes of the label (text: the
    label vocabulary size; integer: max label + 1, at least 2). */
size_t fl_schema_features (const fl_schema_t *self);
size_t fl_schema_classes (const fl_schema_t *self);
const char *fl_schema_label (const fl_schema_t *self);
/*  Text columns, and the total number of their vocabulary values. */
size_t fl_schema_text_columns (const fl_schema_t *self);
size_t fl_schema_text_values (const fl_schema_t *self);
/*  The text label of class k, or NULL for integer labels / k out of range. */
const char *fl_schema_label_value (const fl_schema_t *self, size_t k);
/*  The label mapping as one line, e.g. "bad=0 good=1" ("" for integer
    labels); a new string the caller frees, NULL on allocation failure. */
char *fl_schema_label_mapping (const fl_schema_t *self);

/*  Writes / reads the schema as a zconfig file (docs/DATA.md).  save: 0 or
    -1 (logged).  load: the file is untrusted: bounded to
    FL_SCHEMA_MAX_FILEBYTES, every value checked as for fl_schema_from_table,
    duplicates refused, vocabularies sorted; NULL with why naming the key
    and value. */
int fl_schema_save (const fl_schema_t *self, const char *path);
fl_schema_t *fl_schema_load (const char *path, char *why, size_t cap);

/*  As fl_schema_load from the file's text (e.g. stored in a model file);
    name is used in messages (may be NULL). */
fl_schema_t *fl_schema_load_str (const char *text, const char *name, char *why, size_t cap);

/*  The text of a schema file, bounded to FL_SCHEMA_MAX_FILEBYTES, with no
    NUL byte; a new string the caller frees, or NULL with why.  Not parsed. */
char *fl_schema_read_file (const char *path, char *why, size_t cap);

void fl_schema_destroy (fl_schema_t **self_p);

#ifdef __cplusplus
}
#endif
#endif
