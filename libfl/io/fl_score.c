/*  fl_score.c - `fl-model predict` (see fl_score.h). */
#include "fl_score.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_atomic.h"
#include "fl_metrics.h"
#include "fl_predict.h"
#include "fl_schema.h"

/*  Appends printf output to why[cap] (truncating). */
static void
s_append (char *why, size_t cap, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
static void
s_append (char *why, size_t cap, const char *fmt, ...)
{
    size_t used = strnlen (why, cap);
    if (used + 1 >= cap)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (why + used, cap - used, fmt, ap);
    va_end (ap);
}

void
fl_score_map_clear (fl_score_map_t *map)
{
    if (!map)
        return;
    free (map->column);
    memset (map, 0, sizeof *map);
    map->label_column = -1;
}

int
fl_score_match (const fl_table_t *table, const fl_modelfile_names_t *names, size_t d, fl_score_map_t *map,
                char *why, size_t cap)
{
    assert (table && names && map && d > 0);
    memset (map, 0, sizeof *map);
    map->label_column = -1;
    if (why && cap)
        why[0] = '\0';
    size_t cols = fl_table_columns (table);
    map->d = d;
    map->column = (long *) malloc (d * sizeof (long));
    if (!map->column) {
        snprintf (why, cap, "no memory");
        return -1;
    }
    long label = names->label ? fl_table_column_index (table, names->label) : -1;
    if (names->n_features == 0) {
        /* Format 1: no names; the columns in file order, the label last. */
        if (label < 0 && cols == d + 1)
            label = (long) cols - 1;
        if (cols != d + (label >= 0)) {
            snprintf (why, cap,
                      "the model file keeps no feature names (record them with fl-model names): the CSV must have "
                      "the model's %zu input columns in training order (plus the label last); it has %zu", d, cols);
            fl_score_map_clear (map);
            return -1;
        }
        for (size_t c = 0, j = 0; c < cols; c++)
            if ((long) c != label)
                map->column[j++] = (long) c;
        map->label_column = label;
        return 0;
    }
    assert (names->n_features == d);
    size_t missing = 0, extra = 0;
    char miss[2048] = "", ext[2048] = "";
    for (size_t j = 0; j < d; j++) {
        map->column[j] = fl_table_column_index (table, names->features[j]);
        if (map->column[j] < 0)
            s_append (miss, sizeof miss, "%s'%s'", missing++ ? ", " : "", names->features[j]);
    }
    for (size_t c = 0; c < cols; c++) {
        if ((long) c == label)
            continue;
        const char *name = fl_table_column_name (table, c);
        int known = 0;
        for (size_t j = 0; j < d && !known; j++)
            known = strcmp (name, names->features[j]) == 0;
        if (!known)
            s_append (ext, sizeof ext, "%s'%s'", extra++ ? ", " : "", name);
    }
    if (missing || extra) {
        snprintf (why, cap, "%s: the columns do not match the model's %zu features:%s%s%s%s%s%s",
                  fl_table_name (table), d, missing ? " missing column(s): " : "", miss,
                  missing && extra ? ";" : "", extra ? " extra column(s): " : "", ext,
                  names->label ? "" : " (the model keeps no label name)");
        fl_score_map_clear (map);
        return -1;
    }
    map->label_column = label;
    return 0;
}

/*  Class index of a label cell: a stored class name, else an integer
    0..k-1 ("1.0" counts as 1); -1 if neither. */
static long
s_label (const char *cell, const fl_modelfile_names_t *names, size_t k)
{
    for (size_t c = 0; c < names->n_classes; c++)
        if (strcmp (cell, names->classes[c]) == 0)
            return (long) c;
    char *end;
    errno = 0;
    double v = strtod (cell, &end);
    if (end == cell || *end || errno || v != floor (v) || v < 0 || v >= (double) k)
        return -1;
    return (long) v;
}

int
fl_score_read (const fl_table_t *table, const fl_score_map_t *map, const fl_modelfile_names_t *names,
               size_t n_classes, float **x_out, int32_t **y_out, fl_csv_error_t *err)
{
    assert (table && map && names && x_out);
    *x_out = NULL;
    if (y_out)
        *y_out = NULL;
    size_t n = fl_table_rows (table), d = map->d;
    bool want_y = y_out && map->label_column >= 0;
    float *x = (float *) malloc ((n ? n : 1) * d * sizeof (float));
    int32_t *y = want_y ? (int32_t *) malloc ((n ? n : 1) * sizeof (int32_t)) : NULL;
    if (!x || (want_y && !y)) {
        fl_csv_error_set (err, FL_CSV_ENOMEM, fl_table_name (table), 0, 0, "no memory for %zu rows", n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        float *row = x + i * d;
        for (size_t j = 0; j < d; j++) {
            size_t c = (size_t) map->column[j];
            const char *cell = fl_table_cell (table, i, c);
            char *end;
            errno = 0;
            float v = strtof (cell, &end);
            if (end == cell || *end || !isfinite (v) || errno == ERANGE) {
                fl_csv_error_set (err, FL_CSV_EFIELD, fl_table_name (table), fl_table_line (table, i), c + 1,
                                  "column '%s': '%s' is not a finite number", fl_table_column_name (table, c),
                                  cell);
                goto fail;
            }
            row[j] = v;
        }
        if (want_y) {
            size_t c = (size_t) map->label_column;
            long cls = s_label (fl_table_cell (table, i, c), names, n_classes);
            if (cls < 0) {
                fl_csv_error_set (err, FL_CSV_ELABEL, fl_table_name (table), fl_table_line (table, i), c + 1,
                                  "label '%s' is not one of the model's %zu classes",
                                  fl_table_cell (table, i, c), n_classes);
                goto fail;
            }
            y[i] = (int32_t) cls;
        }
    }
    *x_out = x;
    if (y_out)
        *y_out = y;
    return 0;
fail:
    free (x);
    free (y);
    return -1;
}

/*  A CSV cell: quoted when it holds a comma, quote or surrounding space. */
static void
s_cell (FILE *f, const char *s)
{
    size_t len = strlen (s);
    if (!strpbrk (s, ",\"") && (len == 0 || (s[0] != ' ' && s[len - 1] != ' '))) {
        fputs (s, f);
        return;
    }
    fputc ('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc ('"', f);
        fputc (*s, f);
    }
    fputc ('"', f);
}

/*  The output CSV's header line. */
static void
s_write_header (FILE *f, size_t n_out, const char *const *class_names, size_t n_classes)
{
    if (n_out == 1)
        fputs ("row,score", f);
    else {
        fputs ("row", f);
        for (size_t c = 0; c < n_out; c++) {
            char name[300];
            if (class_names && c < n_classes)
                snprintf (name, sizeof name, "p_%s", class_names[c]);
            else
                snprintf (name, sizeof name, "p_%zu", c);
            fputc (',', f);
            s_cell (f, name);
        }
    }
    fputs (",class\n", f);
}

/*  10^i (i = 0..38) and 5^i (i = 0..44) as 128-bit integers (10^38 and
    2^24 5^44 are below 2^128), filled once. */
static unsigned __int128 s_p10_t[39], s_p5_t[45];
static int s_tables_ready = 0;

static void
s_tables (void)
{
    if (__atomic_load_n (&s_tables_ready, __ATOMIC_ACQUIRE))
        return;
    unsigned __int128 v = 1;
    for (int j = 0; j < 39; j++, v *= 10)
        s_p10_t[j] = v;
    v = 1;
    for (int j = 0; j < 45; j++, v *= 5)
        s_p5_t[j] = v;
    __atomic_store_n (&s_tables_ready, 1, __ATOMIC_RELEASE);
}

size_t
fl_score_format_g9 (char *dst, float v)
{
    uint32_t bits;
    memcpy (&bits, &v, sizeof bits);
    uint32_t be = (bits >> 23) & 0xffu;
    int e2 = (int) be - 150;
    if (be == 0 || be == 0xffu || e2 >= 0 || e2 < -44)
        /* zero, subnormals, inf/nan, |v| >= 2^23 or < 2^-21: the C library */
        return (size_t) snprintf (dst, 16, "%.9g", (double) v);
    char *o = dst;
    if (bits >> 31)
        *o++ = '-';
    /* |v| = M 2^e2 = M 5^k / 10^k exactly, k = -e2 in 1..44: N = M 5^k <
       2^24 5^44 < 2^127. */
    s_tables ();
    uint32_t m = (bits & 0x7fffffu) | 0x800000u;
    int k = -e2;
    unsigned __int128 n = (unsigned __int128) m * s_p5_t[k];
    /* digits of n: n >= 2^23 5^k > 10^(6 + floor(0.69 k)), so start there */
    int nd = 7 + (k * 69) / 100;
    while (nd < 39 && n >= s_p10_t[nd])
        nd++;
    int x = nd - 1 - k;                 /* decimal exponent of the first digit */
    uint64_t q = 0;
    bool done = false;
    if (nd > 9 && x >= -14 && x <= 8) {
        /* Usually the rounding is plain from a double: sc = |v| 10^(8-x)
           = n / 10^(nd-9) in [1e8, 1e9), one rounding (10^(8-x) is exact),
           so within 1.2e-7 of the true quotient; if its fraction is not
           within 1e-6 of 0, 1/2 or 1, rounding sc gives the same 9 digits
           as the exact division below, which is taken otherwise. */
        static const double p10[23] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
        double sc = fabs ((double) v) * p10[8 - x];
        uint64_t q0 = (uint64_t) sc;
        double fr = sc - (double) q0;
        if (fr > 1e-6 && fr < 0.5 - 1e-6) {
            q = q0;
            done = true;
        }
        else if (fr > 0.5 + 1e-6 && fr < 1.0 - 1e-6) {
            q = q0 + 1;
            done = true;
        }
    }
    if (nd > 9) {
        if (!done) {
            /* round to 9 significant digits, ties to even, as glibc's printf */
            unsigned __int128 div = s_p10_t[nd - 9], qq = n / div, r = n - qq * div, half = div / 2;
            q = (uint64_t) qq;
            if (r > half || (r == half && (q & 1u)))
                q++;
        }
        if (q == 1000000000u) {
            q = 100000000u;
            x++;
        }
    }
    else
        q = (uint64_t) n * (uint64_t) s_p10_t[9 - nd];
    char dig[9];
    for (int i = 8; i >= 0; i--, q /= 10)
        dig[i] = (char) ('0' + q % 10);
    int len = 9;
    while (len > 1 && dig[len - 1] == '0')
        len--;
    if (x < -4 || x >= 9) {
        *o++ = dig[0];
        if (len > 1) {
            *o++ = '.';
            memcpy (o, dig + 1, (size_t) len - 1);
            o += len - 1;
        }
        *o++ = 'e';
        *o++ = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 10)
            *o++ = (char) ('0' + ax / 10);
        else
            *o++ = '0';
        *o++ = (char) ('0' + ax % 10);
    }
    else if (x >= 0) {
        memcpy (o, dig, (size_t) x + 1);
        o += x + 1;
        if (len > x + 1) {
            *o++ = '.';
            memcpy (o, dig + x + 1, (size_t) (len - x - 1));
            o += len - x - 1;
        }
    }
    else {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -x - 1; i++)
            *o++ = '0';
        memcpy (o, dig, (size_t) len);
        o += len;
    }
    *o = '\0';
    return (size_t) (o - dst);
}

/*  Decimal digits of v at o; returns the end. */
static char *
s_put_u64 (char *o, uint64_t v)
{
    char t[20];
    int i = 20;
    do {
        t[--i] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy (o, t + i, (size_t) (20 - i));
    return o + (20 - i);
}

/*  Output lines for n score rows, numbered from first_row, appended to
    *buf (*len bytes used of *room, grown as needed).  0, or -1 on no
    memory. */
static int
s_format_rows (char **buf, size_t *len, size_t *room, const float *scores, size_t n, size_t first_row,
               size_t n_out, const char *const *class_names, size_t n_classes, float threshold)
{
    size_t cls_max = 12;                  /* quoted class name, worst case */
    for (size_t c = 0; class_names && c < n_classes; c++)
        if (2 * strlen (class_names[c]) + 3 > cls_max)
            cls_max = 2 * strlen (class_names[c]) + 3;
    size_t line_max = 21 + n_out * 33 + cls_max + 2;
    for (size_t i = 0; i < n; i++) {
        if (*room - *len < line_max) {
            size_t nr = 2 * *room + line_max * 4096;
            char *nb = (char *) realloc (*buf, nr);
            if (!nb)
                return -1;
            *buf = nb;
            *room = nr;
        }
        char *o = *buf + *len;
        const float *p = scores + i * n_out;
        o = s_put_u64 (o, (uint64_t) (first_row + i));
        for (size_t c = 0; c < n_out; c++) {
            *o++ = ',';
            o += fl_score_format_g9 (o, p[c]);
        }
        int32_t cls;
        fl_predict_classes (p, 1, n_out, threshold, &cls);
        *o++ = ',';
        if (class_names && (size_t) cls < n_classes) {
            const char *s = class_names[cls];
            size_t sl = strlen (s);
            if (!strpbrk (s, ",\"") && (sl == 0 || (s[0] != ' ' && s[sl - 1] != ' '))) {
                memcpy (o, s, sl);
                o += sl;
            }
            else {
                *o++ = '"';
                for (; *s; s++) {
                    if (*s == '"')
                        *o++ = '"';
                    *o++ = *s;
                }
                *o++ = '"';
            }
        }
        else
            o = s_put_u64 (o, (uint64_t) cls);
        *o++ = '\n';
        *len = (size_t) (o - *buf);
    }
    return 0;
}

/*  Output lines for n score rows, numbered from first_row, to f,
    FL_PREDICT_CHUNK lines at a time.  0, or -1 on no memory or a write
    error. */
static int
s_write_rows (FILE *f, const float *scores, size_t n, size_t first_row, size_t n_out,
              const char *const *class_names, size_t n_classes, float threshold)
{
    char *buf = NULL;
    size_t len = 0, room = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += FL_PREDICT_CHUNK) {
        size_t m = n - i < FL_PREDICT_CHUNK ? n - i : FL_PREDICT_CHUNK;
        len = 0;
        rc = s_format_rows (&buf, &len, &room, scores + i * n_out, m, first_row + i, n_out, class_names,
                            n_classes, threshold);
        if (rc == 0 && fwrite (buf, 1, len, f) != len)
            rc = -1;
    }
    free (buf);
    return rc;
}

int
fl_score_write (FILE *f, const float *scores, size_t n, size_t n_out, const char *const *class_names,
                size_t n_classes, float threshold)
{
    assert (f && (scores || n == 0));
    s_write_header (f, n_out, class_names, n_classes);
    if (s_write_rows (f, scores, n, 1, n_out, class_names, n_classes, threshold) != 0)
        return -1;
    return ferror (f) ? -1 : 0;
}

typedef struct {
    const float *scores;
    size_t n, n_out;
    const char *const *class_names;
    size_t n_classes;
    float threshold;
} s_out_job_t;

static int
s_out_fill (FILE *f, void *arg)
{
    const s_out_job_t *j = (const s_out_job_t *) arg;
    return fl_score_write (f, j->scores, j->n, j->n_out, j->class_names, j->n_classes, j->threshold);
}

/*  Writes the scores to path atomically (path.tmp, then rename), or to
    stdout when path is NULL. */
static int
s_output (const char *path, const float *scores, size_t n, size_t n_out, const char *const *class_names,
          size_t n_classes, float threshold, char *why, size_t cap)
{
    if (!path) {
        if (fl_score_write (stdout, scores, n, n_out, class_names, n_classes, threshold) != 0
            || fflush (stdout) != 0) {
            snprintf (why, cap, "cannot write to standard output: %s", strerror (errno));
            return -1;
        }
        return 0;
    }
    s_out_job_t job = {scores, n, n_out, class_names, n_classes, threshold};
    if (fl_atomic_write_stream (path, 0666, s_out_fill, &job) == 0)
        return 0;
    snprintf (why, cap, "cannot write %s: %s", path, strerror (errno));
    return -1;
}

/* --- the fast path ---------------------------------------------------------
   Scoring millions of rows spends its time reading text.  The general path
   (fl_table: every cell a string, then strtof) runs near 100 k rows/s; this
   one parses the numbers straight from the file's bytes into the input
   matrix.  It takes only the plain form: fields separated by commas,
   optional spaces/tabs and one pair of double quotes around a field, LF or
   CRLF, blank lines only at the end.  Anything else, and any error, sends
   the whole file through the general path, which reports errors with
   file:line:column, so both paths accept the same files and say the same
   things. */

static const double s_pow10[23] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

static const uint64_t s_pow10_u64[9] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000 };

/*  Appends the decimal digits at [p, end) to *m (*m = *m 10^count +
    their value, wrapping past 2^64 like the byte loop it replaces: the
    caller counts the digits and takes strtof beyond 15 of them); returns
    the end of the digits.  Eight bytes at a time while eight are left:
    which bytes are digits, then their value, with a few integer
    operations on the eight as one word (the SWAR technique of Lemire's
    "Fast number parsing"). */
static inline __attribute__ ((always_inline)) const char *
s_digits (const char *p, const char *end, uint64_t *m)
{
    uint64_t acc = *m;
    while (end - p >= 8) {
        uint64_t w;
        memcpy (&w, p, 8);
        /* a byte is a digit iff its high nibble is 3 before and after
           adding 6 (a carry out of a non-digit byte only reaches the
           bytes after it, which are not counted) */
        uint64_t bad = (((w & 0xF0F0F0F0F0F0F0F0ull) ^ 0x3030303030303030ull)
                        | (((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) ^ 0x3030303030303030ull));
        int count = bad ? __builtin_ctzll (bad) / 8 : 8;
        if (count == 0)
            break;
        uint64_t v = w & 0x0F0F0F0F0F0F0F0Full;
        if (count < 8)
            v <<= 8 * (8 - count);      /* the digits last, zeros (leading zeros) first */
        v = v * 10 + (v >> 8);
        v = (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32)))
             + (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >> 32;
        acc = acc * s_pow10_u64[count] + v;
        p += count;
        if (count < 8) {
            *m = acc;
            return p;
        }
    }
    while (p < end && (unsigned) (*p - '0') < 10)
        acc = acc * 10 + (uint64_t) (*p++ - '0');
    *m = acc;
    return p;
}

/*  Parses a decimal number (sign, digits, '.', digits, exponent) from
    [p, end) into *out; returns the end of the number, or NULL if there is
    none or it is not finite in float.  Clinger's fast path: a mantissa of at
    most 15 significant digits (exact in a double) times or divided by an
    exact power of ten up to 1e22 is one correctly rounded double operation,
    then rounded to float (equal to strtof's result except for a double
    rounding in rare halfway cases, at most 1 ulp); other forms go through
    strtof. */
static inline __attribute__ ((always_inline)) const char *
s_number (const char *p, const char *end, float *out)
{
    const char *start = p;
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    /* Digits: leading zeros skipped, then at most 19 significant ones. */
    uint64_t m = 0;
    int exp10 = 0, sig = 0;
    const char *d0 = p;
    while (p < end && *p == '0')
        p++;
    const char *s0 = p;
    p = s_digits (p, end, &m);
    sig = (int) (p - s0);
    bool any = p > d0;
    if (p < end && *p == '.') {
        const char *f0 = ++p;
        if (m == 0)
            while (p < end && *p == '0')
                p++;
        const char *f1 = p;
        p = s_digits (p, end, &m);
        sig += (int) (p - f1);
        exp10 = -(int) (p - f0);
        any = any || p > f0;
    }
    if (!any)
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        bool eneg = false;
        if (q < end && (*q == '-' || *q == '+'))
            eneg = *q++ == '-';
        if (q >= end || (unsigned) (*q - '0') >= 10)
            return NULL;
        int e = 0;
        while (q < end && (unsigned) (*q - '0') < 10) {
            if (e < 10000)
                e = e * 10 + (*q - '0');
            q++;
        }
        exp10 += eneg ? -e : e;
        p = q;
    }
    float f;
    if (sig <= 15 && exp10 >= -22 && exp10 <= 22) {
        /* m < 10^15 < 2^53: exact in a double, as is 10^|exp10| */
        double v = (double) m;
        v = exp10 < 0 ? v / s_pow10[-exp10] : v * s_pow10[exp10];
        f = (float) (neg ? -v : v);
    }
    else {
        char tmp[128];
        size_t len = (size_t) (p - start);
        if (len >= sizeof tmp)
            return NULL;
        memcpy (tmp, start, len);
        tmp[len] = '\0';
        errno = 0;
        f = strtof (tmp, NULL);
        if (errno == ERANGE)
            return NULL;
    }
    if (!isfinite (f))
        return NULL;
    *out = f;
    return p;
}

const char *
fl_score_parse_number (const char *p, const char *end, float *out)
{
    assert (p && end && out && p <= end);
    return s_number (p, end, out);
}

/*  Reads the data lines [p, end) for map (col_of: the feature index of each
    of the file's cols columns, -1 for the label).  0 with *x, *y (y only
    when want_y) and *n filled; 1 to use the general path instead; -1 on no
    memory. */
/*  Parses up to max data lines from *pp (up to end) into x (max, d) and,
    when y is not NULL, the labels into y (max).  *n_out: rows parsed; *pp
    is advanced past them (to end once the input is done).  0, or 1 when
    the input is not in the plain form or holds an error (the caller then
    uses the general path). */
static int
s_fast_chunk (const char **pp, const char *end, size_t cols, const long *col_of, size_t d, int32_t *y,
              const fl_modelfile_names_t *names, size_t k, size_t max, float *x, size_t *n_out)
{
    const char *p = *pp;
    size_t n = 0;
    *n_out = 0;
    while (p < end && n < max) {
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) {
            /* a blank line: only blank lines may follow */
            for (; p < end; p++)
                if (*p != '\n' && *p != '\r')
                    return 1;
            break;
        }
        float *row = x + n * d;
        for (size_t c = 0; c < cols; c++) {
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            bool quoted = p < end && *p == '"';
            p += quoted;
            const char *f0 = p;
            if (col_of[c] >= 0) {
                if (!(p = s_number (p, end, &row[col_of[c]])))
                    return 1;
            }
            else {
                while (p < end && *p != ',' && *p != '\n' && *p != '\r' && *p != '"')
                    p++;
                if (y) {
                    char cell[256];
                    const char *t = p;
                    while (t > f0 && (t[-1] == ' ' || t[-1] == '\t'))
                        t--;
                    size_t len = (size_t) (t - f0);
                    if (len == 0 || len >= sizeof cell)
                        return 1;
                    memcpy (cell, f0, len);
                    cell[len] = '\0';
                    long cls = s_label (cell, names, k);
                    if (cls < 0)
                        return 1;
                    y[n] = (int32_t) cls;
                }
            }
            if (quoted) {
                if (p >= end || *p != '"')
                    return 1;
                p++;
            }
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (c + 1 < cols) {
                if (p >= end || *p != ',')
                    return 1;
                p++;
            }
        }
        if (p < end && *p == '\r')
            p++;
        if (p < end) {
            if (*p != '\n')
                return 1;
            p++;
        }
        n++;
    }
    *pp = p;
    *n_out = n;
    return 0;
}

/*  The header of a mapped CSV: the first two lines through the general
    parser (the header's rules, BOM, quoting, duplicates, are its own),
    matched against the model.  0 with *col_of (the feature index of each of
    *cols columns, -1 for the label; malloc'd), *label_col and *data (the
    first data line); -1 with why on a column error; 1 to use the general
    path. */
static int
s_fast_header (const char *buf, size_t len, const char *csv_path, const fl_modelfile_names_t *names, size_t d,
               bool want_labels, long **col_of, size_t *cols, const char **data, char *why, size_t cap)
{
    fl_csv_error_t err;
    memset (&err, 0, sizeof err);
    fl_table_t *head = NULL;
    fl_score_map_t map = { 0, NULL, -1 };
    int rc = 1;
    *col_of = NULL;
    const char *nl1 = (const char *) memchr (buf, '\n', len);
    const char *nl2 = nl1 ? (const char *) memchr (nl1 + 1, '\n', len - (size_t) (nl1 + 1 - buf)) : NULL;
    size_t two = nl2 ? (size_t) (nl2 + 1 - buf) : len;
    if (!nl1 || !(head = fl_table_parse_csv (buf, two, NULL, csv_path, &err)))
        goto done;
    if (fl_score_match (head, names, d, &map, why, cap) != 0) {
        rc = -1;
        goto done;
    }
    if (want_labels && map.label_column < 0) {
        snprintf (why, cap, "%s: metrics need the label column%s%s%s in the CSV", csv_path,
                  names->label ? " '" : "", names->label ? names->label : "", names->label ? "'" : "");
        rc = -1;
        goto done;
    }
    *cols = fl_table_columns (head);
    if (!(*col_of = (long *) malloc (*cols * sizeof (long))))
        goto done;
    for (size_t c = 0; c < *cols; c++)
        (*col_of)[c] = -1;
    for (size_t j = 0; j < d; j++)
        (*col_of)[map.column[j]] = (long) j;
    *data = nl1 + 1;
    rc = 0;
done:
    fl_score_map_clear (&map);
    fl_table_destroy (&head);
    return rc;
}

/*  Maps path read-only (a regular file of 1 .. FL_CSV_DEFAULT_MAX_BYTES
    bytes; pages read ahead), so the text is parsed where the page cache
    holds it, without a copy.  NULL if it cannot (the general path then
    reads the file and reports why). */
static char *
s_map (const char *path, size_t *len_out)
{
    int fd = open (path, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *p = NULL;
    if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > 0
        && (uint64_t) st.st_size <= (uint64_t) FL_CSV_DEFAULT_MAX_BYTES) {
        void *m = mmap (NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (m != MAP_FAILED) {
            p = (char *) m;
            *len_out = (size_t) st.st_size;
        }
    }
    close (fd);
    return p;
}

void
fl_score_rows_clear (fl_score_rows_t *self)
{
    if (!self)
        return;
    fl_model_destroy (&self->model);
    fl_modelfile_names_clear (&self->names);
    free (self->mean);
    free (self->std);
    free (self->x);
    free (self->y);
    free (self->schema_classes);
    memset (self, 0, sizeof *self);
}

/*  The fast path of fl_score_rows_load for a model without a stored
    schema: 0 done (out->x, y, n and the class names filled), -1 error (why
    filled: column errors are found on the header, as the general path
    would), 1 use the general path. */
static int
s_fast_load (const char *csv_path, fl_score_rows_t *out, size_t d, size_t k, bool want_labels, char *why,
             size_t cap)
{
    size_t len = 0, cols = 0, n = 0, room = 0;
    char *buf = s_map (csv_path, &len);
    if (!buf)
        return 1;                   /* the general path reads it and reports why */
    long *col_of = NULL;
    const char *p = NULL, *end = buf + len;
    float *x = NULL;
    int32_t *y = NULL;
    int rc = s_fast_header (buf, len, csv_path, &out->names, d, want_labels, &col_of, &cols, &p, why, cap);
    while (rc == 0 && p < end) {
        if (n + FL_PREDICT_CHUNK > room) {
            room = room ? 2 * room : 16 * FL_PREDICT_CHUNK;
            float *nx = (float *) realloc (x, room * d * sizeof (float));
            int32_t *ny = want_labels ? (int32_t *) realloc (y, room * sizeof (int32_t)) : NULL;
            if (nx)
                x = nx;
            if (ny)
                y = ny;
            if (!nx || (want_labels && !ny)) {
                snprintf (why, cap, "no memory for the rows of %s", csv_path);
                rc = -1;
                break;
            }
        }
        size_t m = 0;
        rc = s_fast_chunk (&p, end, cols, col_of, d, want_labels ? y + n : NULL, &out->names, k,
                           FL_PREDICT_CHUNK, x + n * d, &m);
        n += m;
        if (rc == 0 && (m == 0 || n > FL_CSV_DEFAULT_MAX_ROWS))
            rc = n > FL_CSV_DEFAULT_MAX_ROWS ? 1 : rc;
        if (m == 0)
            break;
    }
    if (rc == 0 && n == 0)
        rc = 1;                     /* the general path says "no data rows" */
    if (rc == 0) {
        out->x = x;
        out->y = y;
        out->n = n;
        x = NULL;
        y = NULL;
        if (out->names.n_classes) {
            out->class_names = (const char *const *) out->names.classes;
            out->n_class_names = out->names.n_classes;
        }
    }
    free (x);
    free (y);
    free (col_of);
    munmap (buf, len);
    return rc;
}

/*  fl_score_run's fast path: parse, score and format FL_PREDICT_CHUNK rows
    at a time (no n-sized input matrix), the output held in memory until
    the whole file has been read, so a fallback to the general path has
    written nothing.  0 done, -1 error (why), 1 use the general path. */
static int
s_fast_run (const fl_score_config_t *cfg, fl_model_t *model, const float *mean, const float *std,
            const fl_modelfile_names_t *names, fl_score_summary_t *summary, char *why, size_t cap)
{
    size_t len = 0, cols = 0, d = fl_model_num_inputs (model), k = fl_model_num_classes (model),
           k_out = fl_model_num_outputs (model), n = 0, room = 0;
    char *buf = s_map (cfg->csv_path, &len);
    if (!buf)
        return 1;
    long *col_of = NULL;
    const char *p = NULL, *end = buf + len;
    const char *const *class_names = names->n_classes ? (const char *const *) names->classes : NULL;
    float *x = (float *) malloc (FL_PREDICT_CHUNK * d * sizeof (float));
    float *sc = (float *) malloc (FL_PREDICT_CHUNK * k_out * sizeof (float));
    float *all = NULL;                    /* every score, for the metrics */
    int32_t *y = NULL;                    /* every label, for the metrics */
    /* The output in one buffer: the header, then every line (s_format_rows
       grows it, about 20 bytes a line for a binary model). */
    char *obuf = NULL;
    size_t olen = 0, oroom = 0;
    FILE *mem = open_memstream (&obuf, &olen);
    int rc = -1;
    if (!x || !sc || !mem) {
        snprintf (why, cap, "no memory");
        goto done;
    }
    rc = s_fast_header (buf, len, cfg->csv_path, names, d, cfg->metrics, &col_of, &cols, &p, why, cap);
    if (rc != 0)
        goto done;
    s_write_header (mem, k_out, class_names, names->n_classes);
    if (fclose (mem) != 0) {
        mem = NULL;
        snprintf (why, cap, "no memory for the output");
        rc = -1;
        goto done;
    }
    mem = NULL;
    oroom = olen + 1;
    while (p < end) {
        if (cfg->metrics && n + FL_PREDICT_CHUNK > room) {
            room = room ? 2 * room : 16 * FL_PREDICT_CHUNK;
            float *na = (float *) realloc (all, room * k_out * sizeof (float));
            int32_t *ny = (int32_t *) realloc (y, room * sizeof (int32_t));
            if (na)
                all = na;
            if (ny)
                y = ny;
            if (!na || !ny) {
                snprintf (why, cap, "no memory for the scores of %s", cfg->csv_path);
                rc = -1;
                goto done;
            }
        }
        size_t m = 0;
        if ((rc = s_fast_chunk (&p, end, cols, col_of, d, cfg->metrics ? y + n : NULL, names, k,
                                FL_PREDICT_CHUNK, x, &m)) != 0)
            goto done;
        if (m == 0)
            break;
        if (fl_predict_scores (model, mean, std, x, m, sc) != 0) {
            snprintf (why, cap, "scoring failed (see the line above)");
            rc = -1;
            goto done;
        }
        if (s_format_rows (&obuf, &olen, &oroom, sc, m, n + 1, k_out, class_names, names->n_classes,
                           cfg->threshold) != 0) {
            snprintf (why, cap, "no memory for the output");
            rc = -1;
            goto done;
        }
        if (cfg->metrics)
            memcpy (all + n * k_out, sc, m * k_out * sizeof (float));
        n += m;
        if (n > FL_CSV_DEFAULT_MAX_ROWS) {
            rc = 1;                 /* the general path says which limit */
            goto done;
        }
    }
    if (n == 0) {
        rc = 1;                     /* the general path says "no data rows" */
        goto done;
    }
    summary->rows = n;
    if (cfg->metrics) {
        summary->has_metrics = true;
        if (k_out == 1) {
            summary->accuracy = fl_metrics_accuracy (all, y, n, cfg->threshold);
            summary->auroc = fl_metrics_auroc (all, y, n);
            summary->log_loss = fl_metrics_log_loss (all, y, n);
        }
        else {
            summary->accuracy = fl_metrics_accuracy_multi (all, y, n, k);
            summary->log_loss = fl_metrics_log_loss_multi (all, y, n, k);
        }
    }
    if (!cfg->out_path) {
        if (fwrite (obuf, 1, olen, stdout) != olen || fflush (stdout) != 0) {
            snprintf (why, cap, "cannot write to standard output: %s", strerror (errno));
            rc = -1;
            goto done;
        }
    }
    else if (fl_atomic_write (cfg->out_path, obuf, olen, 0644) != 0) {
        snprintf (why, cap, "cannot write %s: %s", cfg->out_path, strerror (errno));
        rc = -1;
        goto done;
    }
    rc = 0;
done:
    if (mem)
        fclose (mem);
    free (obuf);
    free (x);
    free (sc);
    free (all);
    free (y);
    free (col_of);
    munmap (buf, len);
    return rc;
}

int
fl_score_rows_load (const char *model_path, const char *plugin, const char *csv_path, bool want_labels,
                    fl_score_rows_t *out, char *why, size_t cap)
{
    assert (model_path && csv_path && out);
    memset (out, 0, sizeof *out);
    if (why && cap)
        why[0] = '\0';
    char *schema_text = NULL;
    fl_schema_t *schema = NULL;
    fl_table_t *table = NULL;
    fl_dataset_t *ds = NULL;
    fl_score_map_t map = { 0, NULL, -1 };
    int rc = -1;
    fl_csv_error_t err;
    memset (&err, 0, sizeof err);
    if (fl_modelfile_load_plugin (model_path, plugin, &out->model, &out->mean, &out->std) != 0
        || fl_modelfile_load_names (model_path, &out->names) != 0
        || fl_modelfile_load_schema (model_path, &schema_text) != 0) {
        snprintf (why, cap, "cannot load the model file %s (see the line above)", model_path);
        goto done;
    }
    size_t d = fl_model_num_inputs (out->model), k = fl_model_num_classes (out->model);
    if (!schema_text) {
        int fast = s_fast_load (csv_path, out, d, k, want_labels, why, cap);
        if (fast <= 0) {
            rc = fast;
            goto done;
        }
    }
    if (!(table = fl_table_load_csv (csv_path, NULL, &err))) {
        snprintf (why, cap, "%s", err.message);
        goto done;
    }
    out->n = fl_table_rows (table);
    if (schema_text) {
        /* An encoded CSV: the stored schema types, one-hot encodes and
           imputes exactly as in training; its encoder checks the columns. */
        char swhy[512];
        if (!(schema = fl_schema_load_str (schema_text, model_path, swhy, sizeof swhy))) {
            snprintf (why, cap, "stored schema: %s", swhy);
            goto done;
        }
        if (fl_table_column_index (table, fl_schema_label (schema)) < 0) {
            snprintf (why, cap, "%s: this model's inputs are encoded with a stored schema, whose encoder needs "
                      "the label column '%s' (any valid value) in the CSV", csv_path, fl_schema_label (schema));
            goto done;
        }
        if (!(ds = fl_schema_encode (schema, table, FL_SCHEMA_MISSING_IMPUTE, &err))) {
            snprintf (why, cap, "%s", err.message);
            goto done;
        }
        if (fl_dataset_features (ds) != d) {
            snprintf (why, cap, "the stored schema encodes %zu features, the model takes %zu",
                      fl_dataset_features (ds), d);
            goto done;
        }
        if (out->mean && fl_dataset_standardise (ds, out->mean, out->std) != 0) {
            snprintf (why, cap, "the model file's standardisation is invalid (see the line above)");
            goto done;
        }
        out->n = fl_dataset_rows (ds);
        out->x = (float *) malloc ((out->n ? out->n : 1) * d * sizeof (float));
        out->y = (int32_t *) malloc ((out->n ? out->n : 1) * sizeof (int32_t));
        if (!out->x || !out->y) {
            snprintf (why, cap, "no memory for %zu rows", out->n);
            goto done;
        }
        memcpy (out->x, fl_dataset_x (ds), out->n * d * sizeof (float));
        memcpy (out->y, fl_dataset_y (ds), out->n * sizeof (int32_t));
        out->standardised = out->mean != NULL;      /* (with imputation) above */
        if (out->names.n_classes == 0 && fl_schema_label_value (schema, 0)) {
            if (!(out->schema_classes = (const char **) calloc (k, sizeof *out->schema_classes)))
                goto done;
            for (size_t c = 0; c < k; c++)
                out->schema_classes[c] = fl_schema_label_value (schema, c) ? fl_schema_label_value (schema, c) : "?";
        }
    }
    else {
        if (fl_score_match (table, &out->names, d, &map, why, cap) != 0)
            goto done;
        if (want_labels && map.label_column < 0) {
            snprintf (why, cap, "%s: metrics need the label column%s%s%s in the CSV", csv_path,
                      out->names.label ? " '" : "", out->names.label ? out->names.label : "",
                      out->names.label ? "'" : "");
            goto done;
        }
        if (fl_score_read (table, &map, &out->names, k, &out->x, want_labels ? &out->y : NULL, &err) != 0) {
            snprintf (why, cap, "%s", err.message);
            goto done;
        }
    }
    if (out->names.n_classes) {
        out->class_names = (const char *const *) out->names.classes;
        out->n_class_names = out->names.n_classes;
    }
    else if (out->schema_classes) {
        out->class_names = out->schema_classes;
        out->n_class_names = k;
    }
    rc = 0;
done:
    /* The schema's class names point into the schema: keep it alive by
       copying them into the names struct instead. */
    if (rc == 0 && out->schema_classes) {
        size_t kk = fl_model_num_classes (out->model);
        char **copy = (char **) calloc (kk, sizeof *copy);
        for (size_t c = 0; copy && c < kk; c++)
            if (!(copy[c] = strdup (out->schema_classes[c])))
                rc = -1;
        if (!copy)
            rc = -1;
        free (out->schema_classes);
        out->schema_classes = NULL;
        out->names.classes = copy;
        out->names.n_classes = copy ? kk : 0;
        out->class_names = (const char *const *) copy;
        out->n_class_names = copy ? kk : 0;
        if (rc != 0)
            snprintf (why, cap, "no memory");
    }
    if (rc != 0)
        fl_score_rows_clear (out);
    fl_score_map_clear (&map);
    fl_schema_destroy (&schema);
    fl_table_destroy (&table);
    fl_dataset_destroy (&ds);
    free (schema_text);
    return rc;
}

int
fl_score_run (const fl_score_config_t *cfg, fl_score_summary_t *summary, char *why, size_t cap)
{
    assert (cfg && cfg->model_path && cfg->csv_path && summary);
    memset (summary, 0, sizeof *summary);
    summary->accuracy = summary->auroc = summary->log_loss = NAN;
    if (why && cap)
        why[0] = '\0';
    if (!(cfg->threshold >= 0.0f && cfg->threshold <= 1.0f)) {
        snprintf (why, cap, "threshold %g is not in [0, 1]", (double) cfg->threshold);
        return -1;
    }
    {
        /* A model without a stored schema: the streaming fast path first. */
        fl_model_t *model = NULL;
        float *mean = NULL, *std = NULL;
        fl_modelfile_names_t names;
        memset (&names, 0, sizeof names);
        char *schema_text = NULL;
        int fast = -1;
        if (fl_modelfile_load_plugin (cfg->model_path, cfg->plugin, &model, &mean, &std) != 0
            || fl_modelfile_load_names (cfg->model_path, &names) != 0
            || fl_modelfile_load_schema (cfg->model_path, &schema_text) != 0)
            snprintf (why, cap, "cannot load the model file %s (see the line above)", cfg->model_path);
        else
            fast = schema_text ? 1 : s_fast_run (cfg, model, mean, std, &names, summary, why, cap);
        fl_model_destroy (&model);
        fl_modelfile_names_clear (&names);
        free (mean);
        free (std);
        free (schema_text);
        if (fast <= 0)
            return fast;
        memset (summary, 0, sizeof *summary);
        summary->accuracy = summary->auroc = summary->log_loss = NAN;
    }
    fl_score_rows_t r;
    if (fl_score_rows_load (cfg->model_path, cfg->plugin, cfg->csv_path, cfg->metrics, &r, why, cap) != 0)
        return -1;
    int rc = -1;
    size_t n = r.n, k = fl_model_num_classes (r.model), k_out = fl_model_num_outputs (r.model);
    float *scores = (float *) malloc ((n ? n : 1) * k_out * sizeof (float));
    if (!scores) {
        snprintf (why, cap, "no memory for %zu scores", n);
        goto done;
    }
    if (fl_predict_scores (r.model, r.standardised ? NULL : r.mean, r.standardised ? NULL : r.std, r.x, n,
                           scores) != 0) {
        snprintf (why, cap, "scoring failed (see the line above)");
        goto done;
    }
    summary->rows = n;
    if (cfg->metrics && r.y) {
        summary->has_metrics = true;
        if (k_out == 1) {
            summary->accuracy = fl_metrics_accuracy (scores, r.y, n, cfg->threshold);
            summary->auroc = fl_metrics_auroc (scores, r.y, n);
            summary->log_loss = fl_metrics_log_loss (scores, r.y, n);
        }
        else {
            summary->accuracy = fl_metrics_accuracy_multi (scores, r.y, n, k);
            summary->log_loss = fl_metrics_log_loss_multi (scores, r.y, n, k);
        }
    }
    rc = s_output (cfg->out_path, scores, n, k_out, r.class_names, r.n_class_names, cfg->threshold, why, cap);
done:
    free (scores);
    fl_score_rows_clear (&r);
    return rc;
}

int
fl_score_names_from_csv (const char *csv_path, const char *label, size_t d, size_t k, fl_modelfile_names_t *names,
                         char *why, size_t cap)
{
    assert (csv_path && names);
    memset (names, 0, sizeof *names);
    /* The first two lines: the header and one row, so the general
       parser checks the header's syntax (BOM, quoting, duplicates). */
    fl_csv_error_t err;
    memset (&err, 0, sizeof err);
    FILE *f = fopen (csv_path, "rb");
    if (!f) {
        snprintf (why, cap, "cannot open %s: %s", csv_path, strerror (errno));
        return -1;
    }
    char *line = NULL, *two = NULL;
    size_t lcap = 0, len = 0;
    for (int i = 0; i < 2; i++) {
        ssize_t got = getline (&line, &lcap, f);
        if (got <= 0 || (size_t) got > FL_CSV_DEFAULT_MAX_LINE)
            break;
        char *nt = (char *) realloc (two, len + (size_t) got + 1);
        if (!nt)
            break;
        two = nt;
        memcpy (two + len, line, (size_t) got);
        len += (size_t) got;
    }
    fclose (f);
    if (two && !memchr (two, '\n', len)) {     /* a header without its newline */
        char *nt = (char *) realloc (two, len + 2);
        if (nt) {
            nt[len++] = '\n';
            two = nt;
        }
    }
    if (two && memchr (two, '\n', len) == two + len - 1) {
        /* a header alone: parse it as its own row too */
        char *nt = (char *) realloc (two, 2 * len + 1);
        if (nt) {
            memcpy (nt + len, nt, len);
            two = nt;
            len *= 2;
        }
    }
    fl_table_t *t = two ? fl_table_parse_csv (two, len, NULL, csv_path, &err) : NULL;
    if (!two)
        fl_csv_error_set (&err, FL_CSV_EEMPTY, csv_path, 1, 0, "no header");
    free (line);
    free (two);
    if (!t) {
        snprintf (why, cap, "%s", err.message);
        return -1;
    }
    size_t cols = fl_table_columns (t);
    long lab = label ? fl_table_column_index (t, label) : (long) cols - 1;
    int rc = -1;
    if (lab < 0) {
        snprintf (why, cap, "%s: no label column '%s'", csv_path, label);
        goto done;
    }
    if (cols - 1 != d) {
        snprintf (why, cap, "%s has %zu feature columns besides the label '%s', the model takes %zu inputs", csv_path,
                  cols - 1, fl_table_column_name (t, (size_t) lab), d);
        goto done;
    }
    names->format = FL_MODELFILE_FORMAT;
    names->features = (char **) calloc (d, sizeof (char *));
    names->classes = (char **) calloc (k, sizeof (char *));
    if (!names->features || !names->classes)
        goto nomem;
    names->n_features = d;
    names->n_classes = k;
    for (size_t c = 0, j = 0; c < cols; c++)
        if ((long) c != lab && !(names->features[j++] = strdup (fl_table_column_name (t, c))))
            goto nomem;
    for (size_t c = 0; c < k; c++) {
        char num[32];
        snprintf (num, sizeof num, "%zu", c);
        if (!(names->classes[c] = strdup (num)))
            goto nomem;
    }
    if (!(names->label = strdup (fl_table_column_name (t, (size_t) lab))))
        goto nomem;
    rc = 0;
    goto done;
nomem:
    snprintf (why, cap, "no memory");
done:
    if (rc != 0)
        fl_modelfile_names_clear (names);
    fl_table_destroy (&t);
    return rc;
}
