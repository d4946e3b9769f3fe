/*  fl_table - a member's own CSV as text: the header and every cell as it
    was written, before any column is typed or encoded.

    Real tables (credit, lending, clinical) hold text categories and missing
    values; fl_dataset_parse_csv accepts numbers only.  fl_table keeps the
    cells as strings so fl_schema (fl_schema.h) can type the columns, collect
    each text column's distinct values for the vocabulary round and encode
    the rows (one-hot, imputation, missing indicators).  The parser is the
    same one as fl_dataset_parse_csv's (fl_csv.c): same quoting, BOM, CRLF,
    limits and typed errors naming file, line and column; it is a pure
    function over a buffer, so it can be fuzzed.  docs/DATA.md.
*/
#ifndef FL_TABLE_H_INCLUDED
#define FL_TABLE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_table_t fl_table_t;

/*  Parses buf[0..len) (need not be NUL-terminated): header of unique,
    non-empty names, then rows with as many fields as the header.  Cells are
    trimmed of surrounding spaces/tabs and unquoted; a cell may hold any byte
    but NUL, CR and LF.  opts: max_rows, max_columns, max_line as for
    fl_dataset_parse_csv (label_column and n_classes are ignored here).
    name is used in error messages (may be NULL).  Returns a new table (the
    caller owns it) or NULL with *err filled (err may be NULL):
    EEMPTY, EHEADER, ECOLUMNS, ETOOBIG, ENOMEM, EARG, EFIELD (a NUL byte). */
fl_table_t *fl_table_parse_csv (const char *buf, size_t len, const fl_csv_options_t *opts,
                                const char *name, fl_csv_error_t *err);

/*  Reads path (bounded by opts->max_bytes, default FL_CSV_DEFAULT_MAX_BYTES)
    and parses it.  NULL with *err filled (EOPEN, ETOOBIG, or the parser's
    errors); nothing is logged: the caller prints err->message once. */
fl_table_t *fl_table_load_csv (const char *path, const fl_csv_options_t *opts, fl_csv_error_t *err);

/*  Frees the table and nulls *self_p; safe on NULL and twice. */
void fl_table_destroy (fl_table_t **self_p);

size_t fl_table_rows (const fl_table_t *self);
size_t fl_table_columns (const fl_table_t *self);
/*  Header name of column j (< columns). */
const char *fl_table_column_name (const fl_table_t *self, size_t j);
/*  Index of the column named name, or -1. */
long fl_table_column_index (const fl_table_t *self, const char *name);
/*  The cell of row i, column j as a NUL-terminated string (trimmed, unquoted). */
const char *fl_table_cell (const fl_table_t *self, size_t i, size_t j);
/*  The 1-based line of the file row i came from (the header is line 1). */
size_t fl_table_line (const fl_table_t *self, size_t i);
/*  The name the table was parsed under (file path or "<buffer>"). */
const char *fl_table_name (const fl_table_t *self);

/*  True for the spellings of a missing value: an empty cell, "NA" and "?". */
int fl_table_is_missing (const char *cell);

/*  Writes the header and rows[0..n) (indices < rows) to path as CSV, cells
    quoted when they hold a comma, quote or leading/trailing space, so
    fl_table_load_csv reads back the same cells.  0, or -1 (logged) on I/O
    error or a bad row index. */
int fl_table_write_csv (const fl_table_t *self, const uint32_t *rows, size_t n, const char *path);

#ifdef __cplusplus
}
#endif
#endif
