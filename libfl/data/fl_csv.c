/*  fl_csv - the CSV loader behind fl_dataset_parse_csv / fl_dataset_load_csv.

    A member site's CSV file is untrusted input (it was exported by some other
    system, maybe truncated, maybe hostile), so this parser:
      - is a pure function over (buf, len): no I/O, no globals, no logging,
        no NUL-termination assumed, so it can be fuzzed directly;
      - bounds every size before allocating: columns (<= FL_CSV_MAX_COLUMNS),
        line length, rows (growth is geometric and capped by max_rows, so the
        memory used is proportional to the rows actually validated, never to
        a count claimed or guessed from the input);
      - reports every failure as a typed fl_csv_error_t with line and column;
      - never asserts on content.
    Numbers are validated against a strict grammar before strtod sees them
    (so "0x1p3", "nan", "inf", "1,5" and trailing junk are rejected whatever
    the C library would accept); strtod runs in the process locale, which is
    "C" unless the program calls setlocale (libfl's programs do not).
*/
#include "fl_dataset_priv.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
fl_csv_errcode_str (fl_csv_errcode_t code)
{
    switch (code) {
    case FL_CSV_OK: return "OK";
    case FL_CSV_EOPEN: return "EOPEN";
    case FL_CSV_EEMPTY: return "EEMPTY";
    case FL_CSV_EHEADER: return "EHEADER";
    case FL_CSV_EFIELD: return "EFIELD";
    case FL_CSV_ECOLUMNS: return "ECOLUMNS";
    case FL_CSV_ELABEL: return "ELABEL";
    case FL_CSV_ETOOBIG: return "ETOOBIG";
    case FL_CSV_ENOLABEL: return "ENOLABEL";
    case FL_CSV_ENOMEM: return "ENOMEM";
    case FL_CSV_EARG: return "EARG";
    }
    return "E?";
}

/*  fl_csv_error_set (fl_dataset.h): the message starts with
    "<file>:<line>:<column>: " so it can be logged as is. */
void
fl_csv_error_set (fl_csv_error_t *err, fl_csv_errcode_t code, const char *file, size_t line,
                  size_t column, const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    snprintf (err->file, sizeof err->file, "%s", file ? file : "<buffer>");
    err->line = line;
    err->column = column;
    int off = snprintf (err->message, sizeof err->message, "%s:%zu:%zu: ", err->file, line, column);
    if (off < 0 || (size_t) off >= sizeof err->message)
        off = 0;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err->message + off, sizeof err->message - (size_t) off, fmt, ap);
    va_end (ap);
}

/*  A printable, truncated copy of a field for error messages. */
static const char *
s_show (const char *s, size_t n, char out[40])
{
    size_t m = n < 32 ? n : 32, o = 0;
    for (size_t i = 0; i < m; i++)
        out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n > m) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    out[o] = '\0';
    return out;
}

/*  A header field is a usable column name: 1..FL_CSV_MAX_NAME bytes, no
    control characters.  -1 with err (line 1, column col) otherwise. */
static int
s_check_name (const char *fs, size_t fn, size_t col, const char *file, fl_csv_error_t *err)
{
    char show[40];
    if (fn == 0 || fn > FL_CSV_MAX_NAME) {
        fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, col, "column name %s",
                          fn ? "longer than 255 bytes" : "is empty");
        return -1;
    }
    for (size_t i = 0; i < fn; i++)
        if ((unsigned char) fs[i] < 0x20 || fs[i] == 0x7f) {
            fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, col, "control character in column name '%s'",
                              s_show (fs, fn, show));
            return -1;
        }
    return 0;
}

static int
s_is_space (char c)
{
    return c == ' ' || c == '\t';
}

/*  One field of the line [p, end), starting at *pos.  Unquoted fields are
    returned in place; quoted ones are unescaped into scratch (at least as
    large as the line).  Surrounding spaces/tabs are trimmed.  On return *pos
    is just past the separating comma, or at end; *more says whether a comma
    was seen.  Returns 0, or -1 for bad quoting (unterminated quote, or text
    after the closing quote). */
static int
s_field (const char *p, size_t end, size_t *pos, char *scratch, const char **fs, size_t *fn,
         int *more)
{
    size_t i = *pos;
    while (i < end && s_is_space (p[i]))
        i++;
    if (i < end && p[i] == '"') {
        size_t o = 0;
        i++;
        for (;;) {
            if (i >= end)
                return -1;              /* unterminated quote */
            if (p[i] == '"') {
                if (i + 1 < end && p[i + 1] == '"') {
                    scratch[o++] = '"';
                    i += 2;
                    continue;
                }
                i++;
                break;
            }
            scratch[o++] = p[i++];
        }
        while (i < end && s_is_space (p[i]))
            i++;
        if (i < end && p[i] != ',')
            return -1;                  /* text after the closing quote */
        *fs = scratch;
        *fn = o;
    }
    else {
        size_t s = i;
        while (i < end && p[i] != ',')
            i++;
        size_t e = i;
        while (e > s && s_is_space (p[e - 1]))
            e--;
        *fs = p + s;
        *fn = e - s;
    }
    *more = i < end;                    /* p[i] == ',' */
    *pos = *more ? i + 1 : i;
    return 0;
}

/*  Strict decimal number: [+-]? (D+ (. D*)? | . D+) ([eE] [+-]? D+)?
    Returns 0 with *out finite and within float range, -1 on bad syntax or
    length, -2 if the value overflows float.  No NaN/inf spelling passes the
    grammar, so those are -1. */
static int
s_number (const char *s, size_t n, double *out)
{
    if (n == 0 || n > FL_CSV_MAX_FIELD)
        return -1;
    size_t i = 0, digits = 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, exp_digits++;
        if (exp_digits == 0)
            return -1;
    }
    if (i != n)
        return -1;
    char tmp[FL_CSV_MAX_FIELD + 1];
    memcpy (tmp, s, n);
    tmp[n] = '\0';
    double v = strtod (tmp, NULL);      /* underflow to 0 is accepted */
    if (!isfinite (v) || fabs (v) > (double) FLT_MAX)
        return -2;
    *out = v;
    return 0;
}

/*  True if [p, end) holds only spaces, tabs, CR and LF. */
static int
s_blank (const char *p, size_t start, size_t end)
{
    for (size_t i = start; i < end; i++)
        if (!(s_is_space (p[i]) || p[i] == '\r' || p[i] == '\n'))
            return 0;
    return 1;
}

typedef struct {
    const char *buf;
    size_t len;
    size_t pos;         /* start of the next line */
    size_t line_no;     /* number of the line last returned, 1-based */
} s_lines_t;

/*  Next line as [*start, *end) without its LF and one trailing CR.  Returns
    1, 0 at end of buffer, -1 if the line (incl. CR) is longer than max_line. */
static int
s_next_line (s_lines_t *r, size_t max_line, size_t *start, size_t *end)
{
    if (r->pos >= r->len)
        return 0;
    const char *nl = (const char *) memchr (r->buf + r->pos, '\n', r->len - r->pos);
    size_t e = nl ? (size_t) (nl - r->buf) : r->len;
    r->line_no++;
    if (e - r->pos > max_line)
        return -1;
    *start = r->pos;
    *end = (e > r->pos && r->buf[e - 1] == '\r') ? e - 1 : e;
    r->pos = nl ? e + 1 : r->len;
    return 1;
}

/*  The options' row, column and line limits with the defaults filled in
    (zero means default; columns are capped at FL_CSV_MAX_COLUMNS). */
static void
s_limits (const fl_csv_options_t *o, size_t *max_rows, size_t *max_cols, size_t *max_line)
{
    *max_rows = o->max_rows ? o->max_rows : FL_CSV_DEFAULT_MAX_ROWS;
    *max_cols = o->max_columns && o->max_columns < FL_CSV_MAX_COLUMNS ? o->max_columns : FL_CSV_MAX_COLUMNS;
    *max_line = o->max_line ? o->max_line : FL_CSV_DEFAULT_MAX_LINE;
}

fl_dataset_t *
fl_dataset_parse_csv (const char *buf, size_t len, const fl_csv_options_t *opts,
                      const char *name, fl_csv_error_t *err)
{
    fl_csv_options_t o = {0};
    if (opts)
        o = *opts;
    if (err)
        memset (err, 0, sizeof *err);
    const char *file = name ? name : "<buffer>";
    if (!buf && len > 0) {
        fl_csv_error_set (err, FL_CSV_EARG, file, 0, 0, "no buffer");
        return NULL;
    }
    size_t max_rows, max_cols, max_line;
    s_limits (&o, &max_rows, &max_cols, &max_line);
    size_t label_limit = o.n_classes ? o.n_classes : FL_CSV_MAX_CLASSES;
    if (label_limit > FL_CSV_MAX_CLASSES || max_line > SIZE_MAX / 2) {
        fl_csv_error_set (err, FL_CSV_EARG, file, 0, 0, "n_classes %zu above %u or max_line too large",
                 o.n_classes, FL_CSV_MAX_CLASSES);
        return NULL;
    }
    if (max_rows > UINT32_MAX)
        max_rows = UINT32_MAX;          /* rows are indexed by uint32_t everywhere */

    s_lines_t r = {buf, len, 0, 0};
    if (len >= 3 && memcmp (buf, "\xEF\xBB\xBF", 3) == 0)
        r.pos = 3;                      /* UTF-8 byte order mark */
    if (s_blank (buf, r.pos, len)) {
        fl_csv_error_set (err, FL_CSV_EEMPTY, file, 1, 0, "empty file: no header");
        return NULL;
    }

    fl_dataset_t *ds = NULL;
    char *scratch = NULL;
    char **names = NULL;
    double *row = NULL;
    size_t ncols = 0, cap = 0, n = 0, label_col = 0;
    int32_t max_label = -1;
    char show[40];

    /* ---- header ---- */
    size_t ls, le;
    int got = s_next_line (&r, max_line, &ls, &le);
    if (got < 0) {
        fl_csv_error_set (err, FL_CSV_ETOOBIG, file, 1, 0, "header line longer than %zu bytes", max_line);
        goto fail;
    }
    scratch = (char *) malloc ((max_line < len ? max_line : len) + 1);  /* >= any line */
    names = (char **) calloc (max_cols, sizeof (char *));
    if (!scratch || !names) {
        fl_csv_error_set (err, FL_CSV_ENOMEM, file, 1, 0, "out of memory");
        goto fail;
    }
    if (s_blank (buf, ls, le)) {
        fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, 0, "blank header line");
        goto fail;
    }
    for (size_t pos = ls, more = 1; more;) {
        const char *fs;
        size_t fn;
        int m;
        if (ncols == max_cols) {
            fl_csv_error_set (err, FL_CSV_ETOOBIG, file, 1, ncols + 1, "more than %zu columns", max_cols);
            goto fail;
        }
        if (s_field (buf, le, &pos, scratch, &fs, &fn, &m) < 0) {
            fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, ncols + 1, "bad quoting in column name");
            goto fail;
        }
        more = (size_t) m;
        if (s_check_name (fs, fn, ncols + 1, file, err) != 0)
            goto fail;
        names[ncols] = (char *) malloc (fn + 1);
        if (!names[ncols]) {
            fl_csv_error_set (err, FL_CSV_ENOMEM, file, 1, ncols + 1, "out of memory");
            goto fail;
        }
        memcpy (names[ncols], fs, fn);
        names[ncols][fn] = '\0';
        for (size_t j = 0; j < ncols; j++)
            if (strcmp (names[j], names[ncols]) == 0) {
                fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, ncols + 1,
                         "duplicate column name '%s' (also column %zu)", names[ncols], j + 1);
                ncols++;        /* so it is freed */
                goto fail;
            }
        ncols++;
    }
    if (ncols < 2) {
        fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, 0,
                 "header has %zu column; need at least one feature and a label", ncols);
        goto fail;
    }
    if (o.label_column) {
        for (label_col = 0; label_col < ncols; label_col++)
            if (strcmp (names[label_col], o.label_column) == 0)
                break;
        if (label_col == ncols) {
            char lab[40];
            fl_csv_error_set (err, FL_CSV_ENOLABEL, file, 1, 0, "no column named '%s' for the label",
                     s_show (o.label_column, strlen (o.label_column), lab));
            goto fail;
        }
    }
    else
        label_col = ncols - 1;

    /* ---- data rows ---- */
    const size_t d = ncols - 1;
    row = (double *) malloc (ncols * sizeof (double));
    /* Every valid row takes at least 2 * ncols - 1 bytes plus a newline, so
       the rest of the buffer bounds the row count; start small anyway and
       grow, so memory follows rows actually validated. */
    cap = (len - r.pos + 1) / (2 * ncols) + 1;
    if (cap > 1024)
        cap = 1024;
    if (cap > max_rows)
        cap = max_rows;
    ds = fl_dataset_alloc_ (cap, d, 1);
    if (!row || !ds) {
        fl_csv_error_set (err, FL_CSV_ENOMEM, file, 1, 0, "out of memory");
        goto fail;
    }
    for (;;) {
        got = s_next_line (&r, max_line, &ls, &le);
        if (got == 0)
            break;
        if (got < 0) {
            fl_csv_error_set (err, FL_CSV_ETOOBIG, file, r.line_no, 0, "line longer than %zu bytes",
                     max_line);
            goto fail;
        }
        if (s_blank (buf, ls, le)) {
            if (s_blank (buf, ls, len))
                break;                  /* trailing blank lines */
            fl_csv_error_set (err, FL_CSV_ECOLUMNS, file, r.line_no, 0,
                     "blank line before more data (expected %zu fields)", ncols);
            goto fail;
        }
        if (n == max_rows) {
            fl_csv_error_set (err, FL_CSV_ETOOBIG, file, r.line_no, 0, "more than %zu data rows",
                     max_rows);
            goto fail;
        }
        size_t col = 0;
        for (size_t pos = ls, more = 1; more; col++) {
            const char *fs;
            size_t fn;
            int m;
            if (col == ncols) {
                fl_csv_error_set (err, FL_CSV_ECOLUMNS, file, r.line_no, col + 1,
                         "more fields than the header's %zu", ncols);
                goto fail;
            }
            if (s_field (buf, le, &pos, scratch, &fs, &fn, &m) < 0) {
                fl_csv_error_set (err, col == label_col ? FL_CSV_ELABEL : FL_CSV_EFIELD, file, r.line_no,
                         col + 1, "bad quoting in column '%s'", names[col]);
                goto fail;
            }
            more = (size_t) m;
            int rc = s_number (fs, fn, &row[col]);
            if (col == label_col) {
                double v = row[col];
                if (rc != 0 || v != floor (v) || v < 0 || v >= (double) label_limit) {
                    fl_csv_error_set (err, FL_CSV_ELABEL, file, r.line_no, col + 1,
                             "label '%s' in column '%s' is not an integer in [0, %zu)",
                             s_show (fs, fn, show), names[col], label_limit);
                    goto fail;
                }
            }
            else if (rc != 0) {
                fl_csv_error_set (err, FL_CSV_EFIELD, file, r.line_no, col + 1,
                         "'%s' in column '%s' is %s", s_show (fs, fn, show), names[col],
                         fn == 0     ? "empty (missing values are not supported)"
                         : rc == -2 ? "outside float range"
                                    : "not a finite decimal number");
                goto fail;
            }
        }
        if (col != ncols) {
            fl_csv_error_set (err, FL_CSV_ECOLUMNS, file, r.line_no, col, "%zu fields, header has %zu",
                     col, ncols);
            goto fail;
        }
        if (n == cap) {
            /* Grow geometrically, capped by max_rows; n * d cannot overflow
               because d <= 4096 and n <= UINT32_MAX, checked anyway. */
            size_t ncap = cap * 2 > max_rows ? max_rows : cap * 2;
            if (ncap > SIZE_MAX / sizeof (float) / d) {
                fl_csv_error_set (err, FL_CSV_ETOOBIG, file, r.line_no, 0, "too many rows for memory");
                goto fail;
            }
            float *nx = (float *) realloc (ds->x, ncap * d * sizeof (float));
            if (nx)
                ds->x = nx;
            int32_t *ny = nx ? (int32_t *) realloc (ds->y, ncap * sizeof (int32_t)) : NULL;
            if (ny)
                ds->y = ny;
            if (!nx || !ny) {
                fl_csv_error_set (err, FL_CSV_ENOMEM, file, r.line_no, 0, "out of memory at %zu rows", n);
                goto fail;
            }
            cap = ncap;
        }
        float *xr = ds->x + n * d;
        for (size_t j = 0, f = 0; j < ncols; j++)
            if (j != label_col)
                xr[f++] = (float) row[j];
        ds->y[n] = (int32_t) row[label_col];
        if (ds->y[n] > max_label)
            max_label = ds->y[n];
        n++;
    }
    if (n == 0) {
        fl_csv_error_set (err, FL_CSV_EEMPTY, file, 2, 0, "header but no data rows");
        goto fail;
    }
    ds->n = n;
    ds->k = o.n_classes ? o.n_classes : (size_t) max_label + 1;
    /* Hand the names over: features in file order, then the label. */
    for (size_t j = 0, f = 0; j < ncols; j++) {
        if (j == label_col)
            ds->label_name = names[j];
        else
            ds->feature_names[f++] = names[j];
        names[j] = NULL;
    }
    free (names);
    free (scratch);
    free (row);
    return ds;

fail:
    if (names)
        for (size_t j = 0; j < ncols; j++)
            free (names[j]);
    free (names);
    free (scratch);
    free (row);
    fl_dataset_destroy (&ds);
    return NULL;
}

/*  Reads path into a malloc'd buffer bounded by max_bytes.  0 / -1 with err. */
static int
s_read_file (const char *path, size_t max_bytes, char **buf_p, size_t *len_p, fl_csv_error_t *err)
{
    *buf_p = NULL;
    *len_p = 0;
    FILE *fp = fopen (path, "rb");
    if (!fp) {
        fl_csv_error_set (err, FL_CSV_EOPEN, path, 0, 0, "cannot open: %s", strerror (errno));
        return -1;
    }
    size_t cap = 0, len = 0;
    char *buf = NULL;
    int rc = -1;
    for (;;) {
        if (len == cap) {
            if (cap >= max_bytes + 1) {
                fl_csv_error_set (err, FL_CSV_ETOOBIG, path, 0, 0, "file larger than %zu bytes", max_bytes);
                goto done;
            }
            size_t ncap = cap ? cap * 2 : 65536;
            if (ncap > max_bytes + 1)
                ncap = max_bytes + 1;
            char *nb = (char *) realloc (buf, ncap);
            if (!nb) {
                fl_csv_error_set (err, FL_CSV_ENOMEM, path, 0, 0, "out of memory reading %zu bytes", ncap);
                goto done;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread (buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) {
            if (ferror (fp)) {
                fl_csv_error_set (err, FL_CSV_EOPEN, path, 0, 0, "read error: %s", strerror (errno));
                goto done;
            }
            break;
        }
    }
    if (len > max_bytes) {
        fl_csv_error_set (err, FL_CSV_ETOOBIG, path, 0, 0, "file larger than %zu bytes", max_bytes);
        goto done;
    }
    rc = 0;
done:
    fclose (fp);
    if (rc == 0) {
        *buf_p = buf;
        *len_p = len;
    }
    else
        free (buf);
    return rc;
}

fl_dataset_t *
fl_dataset_load_csv_opts (const char *path, const fl_csv_options_t *opts, fl_csv_error_t *err)
{
    size_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : FL_CSV_DEFAULT_MAX_BYTES;
    if (max_bytes > SIZE_MAX / 4)
        max_bytes = SIZE_MAX / 4;
    fl_csv_error_t local;
    /* The caller that asked for the error prints it (once); a caller that
       did not gets it logged here. */
    const int do_log = err == NULL;
    if (!err)
        err = &local;
    memset (err, 0, sizeof *err);
    if (!path) {
        fl_csv_error_set (err, FL_CSV_EARG, NULL, 0, 0, "no path");
        if (do_log)
            zsys_error ("fl_dataset_load_csv: %s", err->message);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    fl_dataset_t *ds = NULL;
    if (s_read_file (path, max_bytes, &buf, &len, err) == 0)
        ds = fl_dataset_parse_csv (buf, len, opts, path, err);
    if (!ds && do_log)
        zsys_error ("fl_dataset_load_csv: %s %s", fl_csv_errcode_str (err->code), err->message);
    free (buf);
    return ds;
}

fl_dataset_t *
fl_dataset_load_csv (const char *path, const char *label_column, fl_csv_error_t *err)
{
    fl_csv_options_t o = {0};
    o.label_column = label_column;
    return fl_dataset_load_csv_opts (path, &o, err);
}

/* ---------------------------------------------------------------------------
   fl_table: the same CSV grammar, cells kept as text (fl_table.h)
   ------------------------------------------------------------------------- */

#include "fl_table.h"

struct fl_table_t {
    char *name;             /* file path or "<buffer>" */
    size_t ncols, n;
    char **names;           /* (ncols) */
    char *arena;            /* every cell, NUL-terminated, row-major */
    size_t *off;            /* (n * ncols) offsets into arena */
    uint32_t *line;         /* (n) 1-based source line */
};

void
fl_table_destroy (fl_table_t **self_p)
{
    assert (self_p);
    fl_table_t *self = *self_p;
    if (!self)
        return;
    if (self->names)
        for (size_t j = 0; j < self->ncols; j++)
            free (self->names[j]);
    free (self->names);
    free (self->name);
    free (self->arena);
    free (self->off);
    free (self->line);
    free (self);
    *self_p = NULL;
}

size_t fl_table_rows (const fl_table_t *self) { assert (self); return self->n; }
size_t fl_table_columns (const fl_table_t *self) { assert (self); return self->ncols; }
const char *fl_table_name (const fl_table_t *self) { assert (self); return self->name; }

const char *
fl_table_column_name (const fl_table_t *self, size_t j)
{
    assert (self && j < self->ncols);
    return self->names[j];
}

long
fl_table_column_index (const fl_table_t *self, const char *name)
{
    assert (self);
    for (size_t j = 0; name && j < self->ncols; j++)
        if (strcmp (self->names[j], name) == 0)
            return (long) j;
    return -1;
}

const char *
fl_table_cell (const fl_table_t *self, size_t i, size_t j)
{
    assert (self && i < self->n && j < self->ncols);
    return self->arena + self->off[i * self->ncols + j];
}

size_t
fl_table_line (const fl_table_t *self, size_t i)
{
    assert (self && i < self->n);
    return self->line[i];
}

int
fl_table_is_missing (const char *cell)
{
    return !cell || cell[0] == '\0' || strcmp (cell, "NA") == 0 || strcmp (cell, "?") == 0;
}

fl_table_t *
fl_table_parse_csv (const char *buf, size_t len, const fl_csv_options_t *opts, const char *name,
                    fl_csv_error_t *err)
{
    fl_csv_options_t o = {0};
    if (opts)
        o = *opts;
    if (err)
        memset (err, 0, sizeof *err);
    const char *file = name ? name : "<buffer>";
    if (!buf && len > 0) {
        fl_csv_error_set (err, FL_CSV_EARG, file, 0, 0, "no buffer");
        return NULL;
    }
    size_t max_rows, max_cols, max_line;
    s_limits (&o, &max_rows, &max_cols, &max_line);
    if (max_line > SIZE_MAX / 2) {
        fl_csv_error_set (err, FL_CSV_EARG, file, 0, 0, "max_line too large");
        return NULL;
    }
    if (max_rows > UINT32_MAX)
        max_rows = UINT32_MAX;
    s_lines_t r = {buf, len, 0, 0};
    if (len >= 3 && memcmp (buf, "\xEF\xBB\xBF", 3) == 0)
        r.pos = 3;
    if (s_blank (buf, r.pos, len)) {
        fl_csv_error_set (err, FL_CSV_EEMPTY, file, 1, 0, "empty file: no header");
        return NULL;
    }
    fl_table_t *self = (fl_table_t *) calloc (1, sizeof *self);
    char *scratch = NULL;
    size_t ls, le, arena_len = 0, arena_cap = 0, cap = 0;
    if (!self || !(self->name = strdup (file))) {
        fl_csv_error_set (err, FL_CSV_ENOMEM, file, 1, 0, "out of memory");
        goto fail;
    }
    int got = s_next_line (&r, max_line, &ls, &le);
    if (got < 0) {
        fl_csv_error_set (err, FL_CSV_ETOOBIG, file, 1, 0, "header line longer than %zu bytes", max_line);
        goto fail;
    }
    scratch = (char *) malloc ((max_line < len ? max_line : len) + 1);
    self->names = (char **) calloc (max_cols, sizeof (char *));
    if (!scratch || !self->names) {
        fl_csv_error_set (err, FL_CSV_ENOMEM, file, 1, 0, "out of memory");
        goto fail;
    }
    if (s_blank (buf, ls, le)) {
        fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, 0, "blank header line");
        goto fail;
    }
    for (size_t pos = ls, more = 1; more;) {
        const char *fs;
        size_t fn;
        int m;
        size_t c = self->ncols;
        if (c == max_cols) {
            fl_csv_error_set (err, FL_CSV_ETOOBIG, file, 1, c + 1, "more than %zu columns", max_cols);
            goto fail;
        }
        if (s_field (buf, le, &pos, scratch, &fs, &fn, &m) < 0) {
            fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, c + 1, "bad quoting in column name");
            goto fail;
        }
        more = (size_t) m;
        if (s_check_name (fs, fn, c + 1, file, err) != 0)
            goto fail;
        self->names[c] = (char *) malloc (fn + 1);
        if (!self->names[c]) {
            fl_csv_error_set (err, FL_CSV_ENOMEM, file, 1, c + 1, "out of memory");
            goto fail;
        }
        memcpy (self->names[c], fs, fn);
        self->names[c][fn] = '\0';
        self->ncols++;
        for (size_t j = 0; j < c; j++)
            if (strcmp (self->names[j], self->names[c]) == 0) {
                fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, c + 1,
                         "duplicate column name '%s' (also column %zu)", self->names[c], j + 1);
                goto fail;
            }
    }
    if (self->ncols < 2) {
        fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, 0,
                 "header has %zu column; need at least one feature and a label", self->ncols);
        goto fail;
    }
    const size_t nc = self->ncols;
    for (;;) {
        got = s_next_line (&r, max_line, &ls, &le);
        if (got == 0)
            break;
        if (got < 0) {
            fl_csv_error_set (err, FL_CSV_ETOOBIG, file, r.line_no, 0, "line longer than %zu bytes", max_line);
            goto fail;
        }
        if (s_blank (buf, ls, le)) {
            if (s_blank (buf, ls, len))
                break;
            fl_csv_error_set (err, FL_CSV_ECOLUMNS, file, r.line_no, 0,
                     "blank line before more data (expected %zu fields)", nc);
            goto fail;
        }
        if (self->n == max_rows) {
            fl_csv_error_set (err, FL_CSV_ETOOBIG, file, r.line_no, 0, "more than %zu data rows", max_rows);
            goto fail;
        }
        if (self->n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            if (ncap > max_rows)
                ncap = max_rows;
            if (ncap > SIZE_MAX / sizeof (size_t) / nc) {
                fl_csv_error_set (err, FL_CSV_ETOOBIG, file, r.line_no, 0, "too many rows for memory");
                goto fail;
            }
            size_t *no = (size_t *) realloc (self->off, ncap * nc * sizeof (size_t));
            if (no)
                self->off = no;
            uint32_t *nl = no ? (uint32_t *) realloc (self->line, ncap * sizeof (uint32_t)) : NULL;
            if (nl)
                self->line = nl;
            if (!no || !nl) {
                fl_csv_error_set (err, FL_CSV_ENOMEM, file, r.line_no, 0, "out of memory at %zu rows", self->n);
                goto fail;
            }
            cap = ncap;
        }
        /* The line's cells take at most its length plus one NUL each. */
        size_t need = (le - ls) + nc + 1;
        if (arena_len + need > arena_cap) {
            size_t ncap = arena_cap ? arena_cap : 65536;
            while (ncap < arena_len + need)
                ncap *= 2;
            char *na = (char *) realloc (self->arena, ncap);
            if (!na) {
                fl_csv_error_set (err, FL_CSV_ENOMEM, file, r.line_no, 0, "out of memory at %zu rows", self->n);
                goto fail;
            }
            self->arena = na;
            arena_cap = ncap;
        }
        size_t col = 0;
        for (size_t pos = ls, more = 1; more; col++) {
            const char *fs;
            size_t fn;
            int m;
            if (col == nc) {
                fl_csv_error_set (err, FL_CSV_ECOLUMNS, file, r.line_no, col + 1, "more fields than the header's %zu",
                         nc);
                goto fail;
            }
            if (s_field (buf, le, &pos, scratch, &fs, &fn, &m) < 0) {
                fl_csv_error_set (err, FL_CSV_EFIELD, file, r.line_no, col + 1, "bad quoting in column '%s'",
                         self->names[col]);
                goto fail;
            }
            more = (size_t) m;
            if (memchr (fs, '\0', fn)) {
                fl_csv_error_set (err, FL_CSV_EFIELD, file, r.line_no, col + 1, "NUL byte in column '%s'",
                         self->names[col]);
                goto fail;
            }
            self->off[self->n * nc + col] = arena_len;
            memcpy (self->arena + arena_len, fs, fn);
            arena_len += fn;
            self->arena[arena_len++] = '\0';
        }
        if (col != nc) {
            fl_csv_error_set (err, FL_CSV_ECOLUMNS, file, r.line_no, col, "%zu fields, header has %zu", col, nc);
            goto fail;
        }
        self->line[self->n++] = (uint32_t) (r.line_no > UINT32_MAX ? UINT32_MAX : r.line_no);
    }
    if (self->n == 0) {
        fl_csv_error_set (err, FL_CSV_EEMPTY, file, 2, 0, "header but no data rows");
        goto fail;
    }
    free (scratch);
    return self;
fail:
    free (scratch);
    fl_table_destroy (&self);
    return NULL;
}

fl_table_t *
fl_table_load_csv (const char *path, const fl_csv_options_t *opts, fl_csv_error_t *err)
{
    fl_csv_error_t local;
    if (!err)
        err = &local;
    memset (err, 0, sizeof *err);
    if (!path) {
        fl_csv_error_set (err, FL_CSV_EARG, NULL, 0, 0, "no path");
        return NULL;
    }
    size_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : FL_CSV_DEFAULT_MAX_BYTES;
    if (max_bytes > SIZE_MAX / 4)
        max_bytes = SIZE_MAX / 4;
    char *buf = NULL;
    size_t len = 0;
    if (s_read_file (path, max_bytes, &buf, &len, err) != 0)
        return NULL;
    fl_table_t *t = fl_table_parse_csv (buf, len, opts, path, err);
    free (buf);
    return t;
}

static void
s_put_cell (FILE *fp, const char *c)
{
    size_t n = strlen (c);
    int quote = n > 0 && (strpbrk (c, ",\"") || s_is_space (c[0]) || s_is_space (c[n - 1]));
    if (!quote) {
        fputs (c, fp);
        return;
    }
    fputc ('"', fp);
    for (const char *p = c; *p; p++) {
        if (*p == '"')
            fputc ('"', fp);
        fputc (*p, fp);
    }
    fputc ('"', fp);
}

int
fl_table_write_csv (const fl_table_t *self, const uint32_t *rows, size_t n, const char *path)
{
    assert (self && path && (rows || n == 0));
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= self->n) {
            zsys_error ("fl_table_write_csv: row %u out of range (%zu rows)", rows[i], self->n);
            return -1;
        }
    FILE *fp = fopen (path, "w");
    if (!fp) {
        zsys_error ("fl_table_write_csv: cannot create %s: %s", path, strerror (errno));
        return -1;
    }
    for (size_t j = 0; j < self->ncols; j++) {
        if (j)
            fputc (',', fp);
        s_put_cell (fp, self->names[j]);
    }
    fputc ('\n', fp);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < self->ncols; j++) {
            if (j)
                fputc (',', fp);
            s_put_cell (fp, fl_table_cell (self, rows[i], j));
        }
        fputc ('\n', fp);
    }
    int bad = ferror (fp);
    if (fclose (fp) != 0 || bad) {
        zsys_error ("fl_table_write_csv: cannot write %s", path);
        return -1;
    }
    return 0;
}

int
fl_csv_number_ (const char *s, size_t n, double *out)
{
    return s_number (s, n, out);
}
