/*  fl_schema - column types, agreed vocabulary, missing values and label
    mapping of a member's own CSV (fl_schema.h, docs/DATA.md).

    Vocabularies are kept as sorted arrays of unique strings, so a merge is
    a sorted union, a lookup is a binary search, and the encoded feature
    order is the same on every member whatever order its rows came in.
    Nothing here trusts its input: a report or a schema file may come from
    another organisation, a table from any export.
*/
#include "fl_schema.h"
#include "fl_dataset_priv.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char *name;
    fl_schema_kind_t kind;
    int missing;            /* some member has missing cells: indicator / "(missing)" feature */
    size_t nv;              /* text: vocabulary size */
    char **v;               /* text: (nv) sorted, unique */
} s_col_t;

struct fl_schema_t {
    size_t nc;
    s_col_t *c;             /* (nc) every column but the label, in file order */
    char *label;
    int label_text;         /* 1: labels[] maps text to class index */
    size_t classes;
    size_t nl;
    char **labels;          /* (nl) sorted, unique (text labels) */
};

static void
s_why (char *why, size_t cap, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
static void
s_why (char *why, size_t cap, const char *fmt, ...)
{
    if (!why || !cap)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (why, cap, fmt, ap);
    va_end (ap);
}

/*  A printable, truncated copy for messages. */
static const char *
s_show (const char *s, char out[48])
{
    size_t o = 0, i = 0;
    for (; s[i] && o < 40; i++)
        out[o++] = ((unsigned char) s[i] >= 0x20 && s[i] != 0x7f) ? s[i] : '?';
    if (s[i]) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    out[o] = '\0';
    return out;
}

/*  A category value or text label the schema can hold: 1..64 bytes, no
    control characters, no double quote (the schema file quotes with it),
    not the missing category's name.  NULL if fine, else the reason. */
static const char *
s_bad_value (const char *v)
{
    size_t n = strlen (v);
    if (n == 0)
        return "is empty";
    if (n > FL_SCHEMA_MAX_VALUEBYTES)
        return "is longer than 64 bytes";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) v[i] < 0x20 || v[i] == 0x7f)
            return "holds a control character";
    if (strchr (v, '"'))
        return "holds a double quote";
    if (strcmp (v, FL_SCHEMA_MISSING_NAME) == 0)
        return "is the name of the missing category";
    return NULL;
}

static void
s_free_strs (char **v, size_t n)
{
    if (v)
        for (size_t i = 0; i < n; i++)
            free (v[i]);
    free (v);
}

void
fl_schema_destroy (fl_schema_t **self_p)
{
    assert (self_p);
    fl_schema_t *self = *self_p;
    if (!self)
        return;
    for (size_t j = 0; self->c && j < self->nc; j++) {
        free (self->c[j].name);
        s_free_strs (self->c[j].v, self->c[j].nv);
    }
    free (self->c);
    free (self->label);
    s_free_strs (self->labels, self->nl);
    free (self);
    *self_p = NULL;
}

int
fl_schema_missing_parse (const char *s, fl_schema_missing_t *out)
{
    if (s && strcmp (s, "impute") == 0)
        *out = FL_SCHEMA_MISSING_IMPUTE;
    else if (s && strcmp (s, "error") == 0)
        *out = FL_SCHEMA_MISSING_ERROR;
    else
        return -1;
    return 0;
}

/*  Binary search in a sorted array: index, or -(insertion point) - 1. */
static long
s_find (char *const *v, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp (v[mid], s);
        if (c == 0)
            return (long) mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long) lo - 1;
}

/*  Inserts s into the sorted set *v (capacity max).  1 inserted, 0 already
    there, -1 full (set unchanged), -2 out of memory. */
static int
s_insert (char ***v, size_t *n, size_t max, const char *s)
{
    long at = s_find (*v, *n, s);
    if (at >= 0)
        return 0;
    if (*n == max)
        return -1;
    if (!*v && !(*v = (char **) calloc (max, sizeof (char *))))
        return -2;
    char *copy = strdup (s);
    if (!copy)
        return -2;
    size_t pos = (size_t) (-at - 1);
    memmove (*v + pos + 1, *v + pos, (*n - pos) * sizeof (char *));
    (*v)[pos] = copy;
    (*n)++;
    return 1;
}

/*  Integer label: digits only (an optional ".0..." allowed as "1.0" is by
    fl_dataset_parse_csv), value < FL_CSV_MAX_CLASSES.  0 / -1. */
static int
s_int_label (const char *s, size_t *out)
{
    double v;
    if (fl_csv_number_ (s, strlen (s), &v) != 0 || v != floor (v) || v < 0 || v >= FL_CSV_MAX_CLASSES)
        return -1;
    *out = (size_t) v;
    return 0;
}

/*  Is name in the comma-separated list? */
static int
s_in_list (const char *list, const char *name)
{
    size_t n = strlen (name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr (p, ',');
        size_t len = e ? (size_t) (e - p) : strlen (p);
        if (len == n && strncmp (p, name, n) == 0)
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

fl_schema_t *
fl_schema_from_table (const fl_table_t *t, const char *label, const char *drop, fl_csv_error_t *err)
{
    assert (t);
    if (err)
        memset (err, 0, sizeof *err);
    const char *file = fl_table_name (t);
    size_t nc = fl_table_columns (t), n = fl_table_rows (t);
    long lc = label ? fl_table_column_index (t, label) : (long) nc - 1;
    char show[48];
    if (lc < 0) {
        fl_csv_error_set (err, FL_CSV_ENOLABEL, file, 1, 0, "no column named '%s' for the label", s_show (label, show));
        return NULL;
    }
    /* Every --drop name must exist: a typo must not leave an identifier in. */
    for (const char *p = drop; p && *p;) {
        const char *e = strchr (p, ',');
        size_t len = e ? (size_t) (e - p) : strlen (p);
        int found = 0;
        for (size_t j = 0; j < nc && !found; j++)
            found = strlen (fl_table_column_name (t, j)) == len && strncmp (fl_table_column_name (t, j), p, len) == 0;
        if (!found || (long) len == 0) {
            char name[300];
            snprintf (name, sizeof name, "%.*s", (int) (len < 255 ? len : 255), p);
            fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, 0, "the columns to drop name '%s', which the header does not have",
                   s_show (name, show));
            return NULL;
        }
        p = e ? e + 1 : NULL;
    }
    fl_schema_t *self = (fl_schema_t *) calloc (1, sizeof *self);
    if (!self || !(self->c = (s_col_t *) calloc (nc, sizeof (s_col_t)))
        || !(self->label = strdup (fl_table_column_name (t, (size_t) lc)))) {
        fl_csv_error_set (err, FL_CSV_ENOMEM, file, 0, 0, "out of memory");
        goto fail;
    }
    size_t used = 0;
    for (size_t j = 0; j < nc; j++) {
        if ((long) j == lc)
            continue;
        s_col_t *c = &self->c[self->nc++];
        if (!(c->name = strdup (fl_table_column_name (t, j)))) {
            fl_csv_error_set (err, FL_CSV_ENOMEM, file, 0, 0, "out of memory");
            goto fail;
        }
        if (s_in_list (drop, c->name)) {
            c->kind = FL_SCHEMA_DROP;
            continue;
        }
        used++;
        c->kind = FL_SCHEMA_NUMERIC;
        for (size_t i = 0; i < n; i++) {
            const char *cell = fl_table_cell (t, i, j);
            double v;
            if (fl_table_is_missing (cell))
                c->missing = 1;
            else if (fl_csv_number_ (cell, strlen (cell), &v) != 0) {
                c->kind = FL_SCHEMA_TEXT;
                break;
            }
        }
        if (c->kind != FL_SCHEMA_TEXT)
            continue;
        c->missing = 0;
        for (size_t i = 0; i < n; i++) {
            const char *cell = fl_table_cell (t, i, j), *bad;
            if (fl_table_is_missing (cell)) {
                c->missing = 1;
                continue;
            }
            if ((bad = s_bad_value (cell))) {
                fl_csv_error_set (err, FL_CSV_EFIELD, file, fl_table_line (t, i), j + 1, "value '%s' in column '%s' %s",
                       s_show (cell, show), c->name, bad);
                goto fail;
            }
            int rc = s_insert (&c->v, &c->nv, FL_SCHEMA_MAX_VALUES, cell);
            if (rc == -1) {
                fl_csv_error_set (err, FL_CSV_ETOOBIG, file, fl_table_line (t, i), j + 1,
                       "column '%s' has more than %u distinct values ('%s' is one too many): "
                       "drop the column, or fix its vocabulary in a schema file",
                       c->name, FL_SCHEMA_MAX_VALUES, s_show (cell, show));
                goto fail;
            }
            if (rc == -2) {
                fl_csv_error_set (err, FL_CSV_ENOMEM, file, fl_table_line (t, i), j + 1, "out of memory");
                goto fail;
            }
        }
    }
    if (used == 0) {
        fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, 0, "no feature column left besides the label '%s'", self->label);
        goto fail;
    }
    /* The label: integers as they are, else a text vocabulary. */
    size_t maxlab = 0, k;
    for (size_t i = 0; i < n; i++) {
        const char *cell = fl_table_cell (t, i, (size_t) lc);
        if (fl_table_is_missing (cell)) {
            fl_csv_error_set (err, FL_CSV_ELABEL, file, fl_table_line (t, i), (size_t) lc + 1,
                   "label in column '%s' is missing ('%s'): rows without a label cannot train", self->label, cell);
            goto fail;
        }
        if (!self->label_text && s_int_label (cell, &k) == 0) {
            if (k > maxlab)
                maxlab = k;
            continue;
        }
        self->label_text = 1;
    }
    if (!self->label_text) {
        self->classes = maxlab + 1 < 2 ? 2 : maxlab + 1;
        return self;
    }
    for (size_t i = 0; i < n; i++) {
        const char *cell = fl_table_cell (t, i, (size_t) lc), *bad;
        if ((bad = s_bad_value (cell))) {
            fl_csv_error_set (err, FL_CSV_ELABEL, file, fl_table_line (t, i), (size_t) lc + 1, "label '%s' in column '%s' %s",
                   s_show (cell, show), self->label, bad);
            goto fail;
        }
        int rc = s_insert (&self->labels, &self->nl, FL_SCHEMA_MAX_LABELS, cell);
        if (rc < 0) {
            fl_csv_error_set (err, rc == -1 ? FL_CSV_ETOOBIG : FL_CSV_ENOMEM, file, fl_table_line (t, i), (size_t) lc + 1,
                   "label column '%s' has more than %u distinct text values", self->label, FL_SCHEMA_MAX_LABELS);
            goto fail;
        }
    }
    self->classes = self->nl < 2 ? 2 : self->nl;
    return self;
fail:
    fl_schema_destroy (&self);
    return NULL;
}

static const char *
s_kind_name (fl_schema_kind_t k)
{
    return k == FL_SCHEMA_NUMERIC ? "numeric" : k == FL_SCHEMA_TEXT ? "text" : "drop";
}

/*  The sorted union of a and b into a new array (*out, *n_out); 0, -1 over
    max, -2 out of memory. */
static int
s_union (char *const *a, size_t na, char *const *b, size_t nb, size_t max, char ***out, size_t *n_out,
         const char **extra)
{
    char **u = NULL;
    size_t nu = 0;
    int rc = 0;
    for (size_t i = 0; i < na && rc >= 0; i++)
        rc = s_insert (&u, &nu, max, a[i]);
    for (size_t i = 0; i < nb && rc >= 0; i++) {
        rc = s_insert (&u, &nu, max, b[i]);
        if (rc == -1)
            *extra = b[i];
    }
    if (rc < 0) {
        s_free_strs (u, nu);
        return rc;
    }
    *out = u;
    *n_out = nu;
    return 0;
}

int
fl_schema_merge (fl_schema_t *self, const fl_schema_t *r, char *why, size_t cap)
{
    assert (self && r);
    char show[48];
    if (strcmp (self->label, r->label) != 0) {
        s_why (why, cap, "label column '%s', the consortium's is '%s'", r->label, self->label);
        return -1;
    }
    if (self->nc != r->nc) {
        s_why (why, cap, "%zu columns besides the label, the consortium's schema has %zu", r->nc, self->nc);
        return -1;
    }
    if (self->label_text != r->label_text) {
        s_why (why, cap, "label column '%s' holds %s labels, the others' are %s", r->label,
               r->label_text ? "text" : "integer", self->label_text ? "text" : "integer");
        return -1;
    }
    for (size_t j = 0; j < self->nc; j++) {
        const s_col_t *a = &self->c[j], *b = &r->c[j];
        if (strcmp (a->name, b->name) != 0) {
            s_why (why, cap, "column %zu is '%s', the consortium's is '%s'", j + 1, b->name, a->name);
            return -1;
        }
        if (a->kind != b->kind) {
            s_why (why, cap, "column '%s' is %s here and %s at another member: fix its type in a schema file",
                   a->name, s_kind_name (b->kind), s_kind_name (a->kind));
            return -1;
        }
    }
    /* Compute every union first, commit only if all fit. */
    char ***nv = (char ***) calloc (self->nc + 1, sizeof (char **));
    size_t *nn = (size_t *) calloc (self->nc + 1, sizeof (size_t));
    if (!nv || !nn) {
        free (nv);
        free (nn);
        s_why (why, cap, "out of memory");
        return -1;
    }
    int rc = 0;
    size_t j = 0;
    for (; j < self->nc && rc == 0; j++) {
        const char *extra = "";
        if (self->c[j].kind != FL_SCHEMA_TEXT)
            continue;
        rc = s_union (self->c[j].v, self->c[j].nv, r->c[j].v, r->c[j].nv, FL_SCHEMA_MAX_VALUES, &nv[j], &nn[j],
                      &extra);
        if (rc == -1)
            s_why (why, cap, "the union of column '%s' has more than %u values ('%s' is one too many): "
                   "drop the column, or fix its vocabulary in a schema file", self->c[j].name,
                   FL_SCHEMA_MAX_VALUES, s_show (extra, show));
    }
    if (rc == 0 && self->label_text) {
        const char *extra = "";
        rc = s_union (self->labels, self->nl, r->labels, r->nl, FL_SCHEMA_MAX_LABELS, &nv[self->nc],
                      &nn[self->nc], &extra);
        if (rc == -1)
            s_why (why, cap, "label column '%s' has more than %u distinct values", self->label,
                   FL_SCHEMA_MAX_LABELS);
    }
    if (rc == -2)
        s_why (why, cap, "out of memory");
    if (rc != 0) {
        for (size_t i = 0; i <= self->nc; i++)
            s_free_strs (nv[i], nn[i]);
        free (nv);
        free (nn);
        return -1;
    }
    for (j = 0; j < self->nc; j++) {
        self->c[j].missing |= r->c[j].missing;
        if (self->c[j].kind == FL_SCHEMA_TEXT) {
            s_free_strs (self->c[j].v, self->c[j].nv);
            self->c[j].v = nv[j];
            self->c[j].nv = nn[j];
        }
    }
    if (self->label_text) {
        s_free_strs (self->labels, self->nl);
        self->labels = nv[self->nc];
        self->nl = nn[self->nc];
        self->classes = self->nl < 2 ? 2 : self->nl;
    }
    else if (r->classes > self->classes)
        self->classes = r->classes;
    free (nv);
    free (nn);
    return 0;
}

size_t
fl_schema_features (const fl_schema_t *self)
{
    assert (self);
    size_t d = 0;
    for (size_t j = 0; j < self->nc; j++)
        if (self->c[j].kind == FL_SCHEMA_NUMERIC)
            d += 1 + (size_t) self->c[j].missing;
        else if (self->c[j].kind == FL_SCHEMA_TEXT)
            d += self->c[j].nv + (size_t) self->c[j].missing;
    return d;
}

size_t fl_schema_classes (const fl_schema_t *self) { assert (self); return self->classes; }
const char *fl_schema_label (const fl_schema_t *self) { assert (self); return self->label; }

size_t
fl_schema_text_columns (const fl_schema_t *self)
{
    assert (self);
    size_t n = 0;
    for (size_t j = 0; j < self->nc; j++)
        n += self->c[j].kind == FL_SCHEMA_TEXT;
    return n;
}

size_t
fl_schema_text_values (const fl_schema_t *self)
{
    assert (self);
    size_t n = 0;
    for (size_t j = 0; j < self->nc; j++)
        n += self->c[j].kind == FL_SCHEMA_TEXT ? self->c[j].nv : 0;
    return n;
}

const char *
fl_schema_label_value (const fl_schema_t *self, size_t k)
{
    assert (self);
    return self->label_text && k < self->nl ? self->labels[k] : NULL;
}

char *
fl_schema_label_mapping (const fl_schema_t *self)
{
    assert (self);
    size_t len = 1;
    for (size_t k = 0; self->label_text && k < self->nl; k++)
        len += strlen (self->labels[k]) + 16;
    char *s = (char *) malloc (len), *p = s;
    if (!s)
        return NULL;
    *p = '\0';
    for (size_t k = 0; self->label_text && k < self->nl; k++)
        p += sprintf (p, "%s%s=%zu", k ? " " : "", self->labels[k], k);
    return s;
}

fl_dataset_t *
fl_schema_encode (const fl_schema_t *self, const fl_table_t *t, fl_schema_missing_t missing, fl_csv_error_t *err)
{
    assert (self && t);
    if (err)
        memset (err, 0, sizeof *err);
    const char *file = fl_table_name (t);
    size_t tc = fl_table_columns (t), n = fl_table_rows (t), d = fl_schema_features (self);
    char show[48];
    long lc = fl_table_column_index (t, self->label);
    if (lc < 0) {
        fl_csv_error_set (err, FL_CSV_ENOLABEL, file, 1, 0, "no column named '%s' for the label (the schema's label)",
               self->label);
        return NULL;
    }
    if (d == 0 || d > FL_CSV_MAX_COLUMNS * (size_t) FL_SCHEMA_MAX_VALUES) {
        fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, 0, "the schema encodes to %zu features", d);
        return NULL;
    }
    /* Table column of each schema column; every table column accounted for. */
    long *src = (long *) calloc (self->nc ? self->nc : 1, sizeof (long));
    fl_dataset_t *ds = NULL;
    if (!src) {
        fl_csv_error_set (err, FL_CSV_ENOMEM, file, 0, 0, "out of memory");
        return NULL;
    }
    for (size_t j = 0; j < self->nc; j++) {
        src[j] = fl_table_column_index (t, self->c[j].name);
        if (src[j] < 0 && self->c[j].kind != FL_SCHEMA_DROP) {
            fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, 0, "the schema's %s column '%s' is not in the header",
                   s_kind_name (self->c[j].kind), self->c[j].name);
            goto fail;
        }
    }
    for (size_t j = 0; j < tc; j++) {
        int known = (long) j == lc;
        for (size_t s = 0; s < self->nc && !known; s++)
            known = src[s] == (long) j;
        if (!known) {
            fl_csv_error_set (err, FL_CSV_EHEADER, file, 1, j + 1,
                   "column '%s' is not in the schema (drop the column, or add it to the schema)",
                   fl_table_column_name (t, j));
            goto fail;
        }
    }
    ds = fl_dataset_alloc_ (n, d, self->classes);
    if (!ds || !(ds->label_name = strdup (self->label))) {
        fl_csv_error_set (err, FL_CSV_ENOMEM, file, 0, 0, "out of memory for %zu rows of %zu features", n, d);
        goto fail;
    }
    /* Feature names (and indicator links). */
    size_t f = 0;
    int any_indicator = 0;
    for (size_t j = 0; j < self->nc; j++)
        any_indicator |= self->c[j].kind == FL_SCHEMA_NUMERIC && self->c[j].missing;
    if (any_indicator && !(ds->missing_indicator = (int32_t *) malloc (d * sizeof (int32_t)))) {
        fl_csv_error_set (err, FL_CSV_ENOMEM, file, 0, 0, "out of memory");
        goto fail;
    }
    for (size_t j = 0; j < self->nc; j++) {
        const s_col_t *c = &self->c[j];
        if (c->kind == FL_SCHEMA_DROP)
            continue;
        size_t nfeat = c->kind == FL_SCHEMA_NUMERIC ? 1 : c->nv;
        for (size_t v = 0; v < nfeat + (size_t) c->missing; v++) {
            char name[FL_CSV_MAX_NAME + FL_SCHEMA_MAX_VALUEBYTES + 16];
            if (c->kind == FL_SCHEMA_NUMERIC)
                snprintf (name, sizeof name, v ? "%s (missing)" : "%s", c->name);
            else
                snprintf (name, sizeof name, "%s=%s", c->name, v < c->nv ? c->v[v] : FL_SCHEMA_MISSING_NAME);
            if (!(ds->feature_names[f + v] = strdup (name))) {
                fl_csv_error_set (err, FL_CSV_ENOMEM, file, 0, 0, "out of memory");
                goto fail;
            }
            if (ds->missing_indicator)
                ds->missing_indicator[f + v] = c->kind == FL_SCHEMA_NUMERIC && c->missing && v == 0
                                                   ? (int32_t) (f + 1) : -1;
        }
        f += nfeat + (size_t) c->missing;
    }
    for (size_t i = 0; i < n; i++) {
        float *row = ds->x + i * d;
        size_t line = fl_table_line (t, i);
        memset (row, 0, d * sizeof (float));
        f = 0;
        for (size_t j = 0; j < self->nc; j++) {
            const s_col_t *c = &self->c[j];
            if (c->kind == FL_SCHEMA_DROP)
                continue;
            size_t col = (size_t) src[j];
            const char *cell = fl_table_cell (t, i, col);
            size_t width = (c->kind == FL_SCHEMA_NUMERIC ? 1 : c->nv) + (size_t) c->missing;
            if (fl_table_is_missing (cell)) {
                if (missing == FL_SCHEMA_MISSING_ERROR) {
                    fl_csv_error_set (err, FL_CSV_EFIELD, file, line, col + 1,
                           "missing value ('%s') in column '%s' (refused: missing values are an error)", cell, c->name);
                    goto fail;
                }
                if (!c->missing) {
                    fl_csv_error_set (err, FL_CSV_EFIELD, file, line, col + 1,
                           "missing value ('%s') in column '%s', which the schema says has none", cell, c->name);
                    goto fail;
                }
                row[f + width - 1] = 1.0f;      /* indicator or "(missing)"; a numeric cell stays 0 */
            }
            else if (c->kind == FL_SCHEMA_NUMERIC) {
                double v;
                if (fl_csv_number_ (cell, strlen (cell), &v) != 0) {
                    fl_csv_error_set (err, FL_CSV_EFIELD, file, line, col + 1,
                           "'%s' in numeric column '%s' is not a finite decimal number", s_show (cell, show),
                           c->name);
                    goto fail;
                }
                row[f] = (float) v;
            }
            else {
                long at = s_find (c->v, c->nv, cell);
                if (at < 0) {
                    fl_csv_error_set (err, FL_CSV_EFIELD, file, line, col + 1,
                           "'%s' in column '%s' is not in the agreed vocabulary (%zu values)", s_show (cell, show),
                           c->name, c->nv);
                    goto fail;
                }
                row[f + (size_t) at] = 1.0f;
            }
            f += width;
        }
        const char *lab = fl_table_cell (t, i, (size_t) lc);
        size_t k = 0;
        long at = self->label_text ? s_find (self->labels, self->nl, lab) : 0;
        if (self->label_text ? at < 0 : (s_int_label (lab, &k) != 0 || k >= self->classes)) {
            fl_csv_error_set (err, FL_CSV_ELABEL, file, line, (size_t) lc + 1, "label '%s' in column '%s' is %s",
                   s_show (lab, show), self->label,
                   fl_table_is_missing (lab) ? "missing"
                   : self->label_text        ? "not in the agreed label vocabulary"
                                             : "not an integer class of the schema");
            goto fail;
        }
        ds->y[i] = (int32_t) (self->label_text ? (size_t) at : k);
    }
    free (src);
    return ds;
fail:
    free (src);
    fl_dataset_destroy (&ds);
    return NULL;
}

/* ---- the schema file (zconfig) ---- */

int
fl_schema_save (const fl_schema_t *self, const char *path)
{
    assert (self && path);
    zconfig_t *root = zconfig_new ("root", NULL);
    if (!root)
        return -1;
    zconfig_set_comment (root, " libfl schema: column types, vocabularies, label mapping (docs/DATA.md)");
    zconfig_put (root, "version", "1");
    zconfig_t *l = zconfig_new ("label", root);
    zconfig_set_value (l, "%s", self->label);
    zconfig_t *lt = zconfig_new ("type", l);
    zconfig_set_value (lt, "%s", self->label_text ? "text" : "integer");
    zconfig_t *lk = zconfig_new ("classes", l);
    zconfig_set_value (lk, "%zu", self->classes);
    for (size_t k = 0; self->label_text && k < self->nl; k++)
        zconfig_set_value (zconfig_new ("value", l), "%s", self->labels[k]);
    for (size_t j = 0; j < self->nc; j++) {
        const s_col_t *c = &self->c[j];
        zconfig_t *col = zconfig_new ("column", root);
        zconfig_set_value (col, "%s", c->name);
        zconfig_set_value (zconfig_new ("type", col), "%s", s_kind_name (c->kind));
        if (c->kind != FL_SCHEMA_DROP)
            zconfig_set_value (zconfig_new ("missing", col), "%d", c->missing);
        for (size_t v = 0; v < c->nv; v++)
            zconfig_set_value (zconfig_new ("value", col), "%s", c->v[v]);
    }
    int rc = zconfig_save (root, path);
    zconfig_destroy (&root);
    if (rc != 0)
        zsys_error ("schema: cannot write %s", path);
    return rc;
}

/*  The children named `name` of node, as a sorted unique set checked like
    table values.  0 / -1 with why. */
static int
s_load_values (zconfig_t *node, size_t max, const char *what, char ***v, size_t *n, char *why, size_t cap)
{
    char show[48];
    for (zconfig_t *ch = zconfig_child (node); ch; ch = zconfig_next (ch)) {
        if (strcmp (zconfig_name (ch), "value") != 0)
            continue;
        const char *val = zconfig_value (ch), *bad;
        if ((bad = s_bad_value (val ? val : ""))) {
            s_why (why, cap, "%s: value '%s' %s", what, s_show (val ? val : "", show), bad);
            return -1;
        }
        int rc = s_insert (v, n, max, val);
        if (rc == 0) {
            s_why (why, cap, "%s: value '%s' appears twice", what, s_show (val, show));
            return -1;
        }
        if (rc < 0) {
            s_why (why, cap, "%s: more than %zu values", what, max);
            return -1;
        }
    }
    return 0;
}

/*  The schema held by a parsed zconfig tree; path names it in messages. */
static fl_schema_t *
s_from_zconfig (zconfig_t *root, const char *path, char *why, size_t cap)
{
    char show[48];
    fl_schema_t *self = (fl_schema_t *) calloc (1, sizeof *self);
    char what[400];
    size_t ncol = 0;
    if (!self)
        goto fail;
    const char *ver = zconfig_get (root, "version", "");
    if (strcmp (ver, "1") != 0) {
        s_why (why, cap, "%s: version '%s', expected 1", path, s_show (ver, show));
        goto fail;
    }
    zconfig_t *l = zconfig_locate (root, "label");
    const char *lname = l ? zconfig_value (l) : NULL;
    if (!lname || !lname[0] || strlen (lname) > FL_CSV_MAX_NAME) {
        s_why (why, cap, "%s: no label column name (key 'label')", path);
        goto fail;
    }
    if (!(self->label = strdup (lname)))
        goto fail;
    const char *ltype = zconfig_get (l, "type", "");
    if (strcmp (ltype, "text") == 0)
        self->label_text = 1;
    else if (strcmp (ltype, "integer") != 0) {
        s_why (why, cap, "%s: label type '%s', expected text or integer", path, s_show (ltype, show));
        goto fail;
    }
    snprintf (what, sizeof what, "%s: label '%s'", path, self->label);
    if (self->label_text) {
        if (s_load_values (l, FL_SCHEMA_MAX_LABELS, what, &self->labels, &self->nl, why, cap) != 0)
            goto fail;
        if (self->nl < 2) {
            s_why (why, cap, "%s: has %zu values, need at least 2", what, self->nl);
            goto fail;
        }
        self->classes = self->nl;
    }
    else {
        const char *k = zconfig_get (l, "classes", "");
        char *end;
        errno = 0;
        unsigned long long kk = strtoull (k, &end, 10);
        if (!k[0] || *end || errno || kk < 2 || kk > FL_CSV_MAX_CLASSES) {
            s_why (why, cap, "%s: classes '%s', expected an integer in [2, %u]", what, s_show (k, show),
                   FL_CSV_MAX_CLASSES);
            goto fail;
        }
        self->classes = (size_t) kk;
    }
    for (zconfig_t *ch = zconfig_child (root); ch; ch = zconfig_next (ch))
        ncol += strcmp (zconfig_name (ch), "column") == 0;
    if (ncol == 0 || ncol >= FL_CSV_MAX_COLUMNS) {
        s_why (why, cap, "%s: %zu columns, expected 1 to %u", path, ncol, FL_CSV_MAX_COLUMNS - 1);
        goto fail;
    }
    if (!(self->c = (s_col_t *) calloc (ncol, sizeof (s_col_t))))
        goto fail;
    size_t used = 0;
    for (zconfig_t *ch = zconfig_child (root); ch; ch = zconfig_next (ch)) {
        if (strcmp (zconfig_name (ch), "column") != 0)
            continue;
        const char *name = zconfig_value (ch);
        if (!name || !name[0] || strlen (name) > FL_CSV_MAX_NAME) {
            s_why (why, cap, "%s: column %zu has no name", path, self->nc + 1);
            goto fail;
        }
        for (size_t j = 0; j <= self->nc; j++)
            if (j == self->nc ? strcmp (name, self->label) == 0 : strcmp (self->c[j].name, name) == 0) {
                s_why (why, cap, "%s: column '%s' named twice (or as the label)", path, s_show (name, show));
                goto fail;
            }
        s_col_t *c = &self->c[self->nc++];
        if (!(c->name = strdup (name)))
            goto fail;
        const char *type = zconfig_get (ch, "type", "");
        snprintf (what, sizeof what, "%s: column '%s'", path, c->name);
        c->kind = strcmp (type, "numeric") == 0 ? FL_SCHEMA_NUMERIC
                  : strcmp (type, "text") == 0  ? FL_SCHEMA_TEXT
                  : strcmp (type, "drop") == 0  ? FL_SCHEMA_DROP
                                                : (fl_schema_kind_t) 0;
        if (!c->kind) {
            s_why (why, cap, "%s: type '%s', expected numeric, text or drop", what, s_show (type, show));
            goto fail;
        }
        const char *miss = zconfig_get (ch, "missing", "0");
        if (strcmp (miss, "0") != 0 && strcmp (miss, "1") != 0) {
            s_why (why, cap, "%s: missing '%s', expected 0 or 1", what, s_show (miss, show));
            goto fail;
        }
        c->missing = c->kind != FL_SCHEMA_DROP && miss[0] == '1';
        if (s_load_values (ch, FL_SCHEMA_MAX_VALUES, what, &c->v, &c->nv, why, cap) != 0)
            goto fail;
        if ((c->kind == FL_SCHEMA_TEXT) != (c->nv > 0)) {
            s_why (why, cap, "%s: a %s column %s", what, type,
                   c->kind == FL_SCHEMA_TEXT ? "needs at least one value" : "takes no values");
            goto fail;
        }
        used += c->kind != FL_SCHEMA_DROP;
    }
    if (used == 0) {
        s_why (why, cap, "%s: every column is dropped", path);
        goto fail;
    }
    return self;
fail:
    if (why && cap && !why[0])
        s_why (why, cap, "%s: out of memory", path);
    fl_schema_destroy (&self);
    return NULL;
}

fl_schema_t *
fl_schema_load_str (const char *text, const char *name, char *why, size_t cap)
{
    assert (text);
    if (why && cap)
        why[0] = '\0';
    const char *what = name ? name : "<schema>";
    if (strlen (text) > FL_SCHEMA_MAX_FILEBYTES) {
        s_why (why, cap, "%s: longer than %u bytes", what, FL_SCHEMA_MAX_FILEBYTES);
        return NULL;
    }
    zconfig_t *root = zconfig_str_load (text);
    if (!root) {
        s_why (why, cap, "%s: not a valid zconfig file", what);
        return NULL;
    }
    fl_schema_t *self = s_from_zconfig (root, what, why, cap);
    zconfig_destroy (&root);
    return self;
}

char *
fl_schema_read_file (const char *path, char *why, size_t cap)
{
    assert (path);
    struct stat st;
    if (stat (path, &st) != 0) {
        s_why (why, cap, "%s: cannot open: %s", path, strerror (errno));
        return NULL;
    }
    if (!S_ISREG (st.st_mode) || (uint64_t) st.st_size > FL_SCHEMA_MAX_FILEBYTES) {
        s_why (why, cap, "%s: not a regular file of at most %u bytes", path, FL_SCHEMA_MAX_FILEBYTES);
        return NULL;
    }
    FILE *f = fopen (path, "rb");
    char *text = f ? (char *) malloc ((size_t) st.st_size + 1) : NULL;
    size_t got = text ? fread (text, 1, (size_t) st.st_size, f) : 0;
    if (f)
        fclose (f);
    if (!text || got != (size_t) st.st_size || memchr (text, '\0', got)) {
        s_why (why, cap, "%s: cannot read it whole, or it holds a NUL byte", path);
        free (text);
        return NULL;
    }
    text[got] = '\0';
    return text;
}

fl_schema_t *
fl_schema_load (const char *path, char *why, size_t cap)
{
    assert (path);
    if (why && cap)
        why[0] = '\0';
    char *text = fl_schema_read_file (path, why, cap);
    if (!text)
        return NULL;
    fl_schema_t *self = fl_schema_load_str (text, path, why, cap);
    free (text);
    return self;
}
