/*  test_csv.c - the CSV loader: accepted syntax, every typed error with its
    file/line/column, limits, fixtures on disk, and a seeded robustness run
    over mutated and random buffers (a pre-fuzz smoke test: must never crash,
    and every success must be a well-formed data set). */
#include "fl_dataset.h"
#include "fl_rng.h"
#include "fl_test.h"

#include <float.h>
#include <stdint.h>

static fl_dataset_t *
s_parse (const char *text, const char *label, fl_csv_error_t *err)
{
    fl_csv_options_t o = {0};
    o.label_column = label;
    return fl_dataset_parse_csv (text, strlen (text), &o, "mem.csv", err);
}

/*  Parses text expecting failure with the given code, line and column. */
static void
s_expect (const char *text, const char *label, fl_csv_errcode_t code, size_t line, size_t column)
{
    fl_csv_error_t err;
    fl_dataset_t *ds = s_parse (text, label, &err);
    FL_CHECK (ds == NULL);
    FL_CHECK (err.code == code);
    FL_CHECK (err.line == line);
    FL_CHECK (err.column == column);
    FL_CHECK (strcmp (err.file, "mem.csv") == 0);
    FL_CHECK (strncmp (err.message, "mem.csv:", 8) == 0);
    if (err.code != code || err.line != line || err.column != column)
        fprintf (stderr, "  for input [%s]: got %s line %zu col %zu: %s\n", text,
                 fl_csv_errcode_str (err.code), err.line, err.column, err.message);
    else if (fl_test_verbose_)
        printf ("  %-8s %s\n", fl_csv_errcode_str (err.code), err.message);
    fl_dataset_destroy (&ds);
}

static void
test_accepts (void)
{
    fl_csv_error_t err;
    fl_dataset_t *ds = s_parse ("a,b,y\n1,2,0\n3.5,-4e2,1\n", NULL, &err);
    FL_CHECK (ds != NULL);
    if (!ds)
        return;
    FL_CHECK (err.code == FL_CSV_OK);
    FL_CHECK (fl_dataset_rows (ds) == 2 && fl_dataset_features (ds) == 2);
    FL_CHECK (fl_dataset_classes (ds) == 2);
    const float expect_x[] = {1, 2, 3.5f, -400};
    FL_CHECK (memcmp (fl_dataset_x (ds), expect_x, sizeof expect_x) == 0);
    FL_CHECK (fl_dataset_y (ds)[0] == 0 && fl_dataset_y (ds)[1] == 1);
    FL_CHECK (strcmp (fl_dataset_feature_name (ds, 1), "b") == 0);
    FL_CHECK (strcmp (fl_dataset_label_name (ds), "y") == 0);
    fl_dataset_destroy (&ds);

    /* Numeric forms, spaces, quotes, CRLF, no final newline, float rounding. */
    ds = s_parse ("x1,x2,x3,x4,x5,x6,x7,lab\r\n"
                  " +2 ,.5,5.,-1.5E-3,1e3,\"0.1\",16777217,1.0\r\n"
                  "0,-0,1e-50,3.4e38,-7,00012,1E+2,0", NULL, &err);
    FL_CHECK (ds != NULL);
    if (ds) {
        const float *x = fl_dataset_x (ds);
        FL_CHECK (fl_dataset_rows (ds) == 2 && fl_dataset_features (ds) == 7);
        FL_CHECK (x[0] == 2.0f && x[1] == 0.5f && x[2] == 5.0f && x[3] == -1.5e-3f);
        FL_CHECK (x[4] == 1000.0f && x[5] == 0.1f && x[6] == 16777216.0f);
        FL_CHECK (x[7] == 0 && x[9] == 0 && x[10] == 3.4e38f && x[12] == 12 && x[13] == 100);
        FL_CHECK (fl_dataset_y (ds)[0] == 1 && fl_dataset_y (ds)[1] == 0);
        fl_dataset_destroy (&ds);
    }

    /* Label chosen by name from the middle; features keep file order;
       trailing blank lines (LF and CRLF, spaces) are ignored. */
    ds = s_parse ("a,cls,b\n1,2,3\n4,0,6\n\n \r\n\n", "cls", &err);
    FL_CHECK (ds != NULL);
    if (ds) {
        const float expect[] = {1, 3, 4, 6};
        FL_CHECK (fl_dataset_rows (ds) == 2 && fl_dataset_features (ds) == 2);
        FL_CHECK (memcmp (fl_dataset_x (ds), expect, sizeof expect) == 0);
        FL_CHECK (fl_dataset_classes (ds) == 3);
        FL_CHECK (fl_dataset_class_count (ds, 1) == 0);     /* a gap is allowed */
        FL_CHECK (strcmp (fl_dataset_feature_name (ds, 1), "b") == 0);
        fl_dataset_destroy (&ds);
    }

    /* n_classes fixes K above the largest label seen. */
    fl_csv_options_t o = {0};
    o.n_classes = 5;
    const char *t = "a,y\n1,0\n2,0\n";
    ds = fl_dataset_parse_csv (t, strlen (t), &o, NULL, &err);
    FL_CHECK (ds && fl_dataset_classes (ds) == 5);
    fl_dataset_destroy (&ds);

    /* Not NUL-terminated: the parser must stop at len. */
    char buf[] = {'a', ',', 'y', '\n', '1', ',', '1', '9', '9'};
    ds = fl_dataset_parse_csv (buf, 7, NULL, NULL, &err);
    FL_CHECK (ds && fl_dataset_rows (ds) == 1 && fl_dataset_y (ds)[0] == 1);
    fl_dataset_destroy (&ds);
}

static void
test_errors (void)
{
    /* EEMPTY */
    s_expect ("", NULL, FL_CSV_EEMPTY, 1, 0);
    s_expect ("\n\r\n  \n", NULL, FL_CSV_EEMPTY, 1, 0);
    s_expect ("a,b\n", NULL, FL_CSV_EEMPTY, 2, 0);
    s_expect ("a,b\n\n\n", NULL, FL_CSV_EEMPTY, 2, 0);
    /* EHEADER */
    s_expect ("a,,y\n1,2,0\n", NULL, FL_CSV_EHEADER, 1, 2);
    s_expect ("a,b,a\n1,2,0\n", NULL, FL_CSV_EHEADER, 1, 3);
    s_expect ("y\n1\n", NULL, FL_CSV_EHEADER, 1, 0);
    s_expect ("a,\"b,y\n1,2,0\n", NULL, FL_CSV_EHEADER, 1, 2);
    s_expect ("a,\"b\"x,y\n1,2,0\n", NULL, FL_CSV_EHEADER, 1, 2);
    s_expect ("\na,y\n1,0\n", NULL, FL_CSV_EHEADER, 1, 0);
    s_expect ("a,b\ty,c\n1,2,0\n", NULL, FL_CSV_EHEADER, 1, 2);
    char longname[400];
    memset (longname, 'n', 300);
    strcpy (longname + 300, ",y\n1,0\n");
    s_expect (longname, NULL, FL_CSV_EHEADER, 1, 1);
    /* EFIELD: not a number, NaN, inf, empty, out of float range, junk */
    s_expect ("a,b,y\n1,2,0\n1,x,1\n", NULL, FL_CSV_EFIELD, 3, 2);
    s_expect ("a,b,y\n1,nan,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\n1,NaN,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\ninf,1,0\n", NULL, FL_CSV_EFIELD, 2, 1);
    s_expect ("a,b,y\n-Infinity,1,0\n", NULL, FL_CSV_EFIELD, 2, 1);
    s_expect ("a,b,y\n1,,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\n1,1e999,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\n1,3.5e38,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\n1,0x10,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\n1,1.2.3,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\n1,1e,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\n1,-,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\n1,.,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\n1,\"1,5\",0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\n1,2 3,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    s_expect ("a,b,y\n1,\"2,0\n", NULL, FL_CSV_EFIELD, 2, 2);
    /* ECOLUMNS: too few, too many, interior blank line */
    s_expect ("a,b,y\n1,2,0\n3,4\n", NULL, FL_CSV_ECOLUMNS, 3, 2);
    s_expect ("a,b,y\n1,2,0,4\n", NULL, FL_CSV_ECOLUMNS, 2, 4);
    s_expect ("a,b,y\n1,2,0,\n", NULL, FL_CSV_ECOLUMNS, 2, 4);
    s_expect ("a,b,y\n1,2,0\n\n1,2,0\n", NULL, FL_CSV_ECOLUMNS, 3, 0);
    /* ELABEL: negative, fractional, text, empty, too large */
    s_expect ("a,y\n1,0\n2,-1\n", NULL, FL_CSV_ELABEL, 3, 2);
    s_expect ("a,y\n1,0.5\n", NULL, FL_CSV_ELABEL, 2, 2);
    s_expect ("a,y\n1,yes\n", NULL, FL_CSV_ELABEL, 2, 2);
    s_expect ("a,y\n1,\n", NULL, FL_CSV_ELABEL, 2, 2);
    s_expect ("a,y\n1,70000\n", NULL, FL_CSV_ELABEL, 2, 2);
    s_expect ("y,a\n1e9,1\n", "y", FL_CSV_ELABEL, 2, 1);
    /* ENOLABEL */
    s_expect ("a,b,y\n1,2,0\n", "label", FL_CSV_ENOLABEL, 1, 0);
    /* ETOOBIG: more than FL_CSV_MAX_COLUMNS columns */
    size_t cap = (FL_CSV_MAX_COLUMNS + 2) * 8;
    char *wide = (char *) malloc (cap);
    size_t o = 0;
    for (unsigned j = 0; j <= FL_CSV_MAX_COLUMNS; j++)
        o += (size_t) snprintf (wide + o, cap - o, "%sc%u", j ? "," : "", j);
    snprintf (wide + o, cap - o, "\n");
    s_expect (wide, NULL, FL_CSV_ETOOBIG, 1, FL_CSV_MAX_COLUMNS + 1);
    free (wide);
}

/*  Limits from options: rows, columns, line length, label bound; EARG. */
static void
test_limits (void)
{
    fl_csv_error_t err;
    fl_csv_options_t o = {0};
    const char *t = "a,b,y\n1,2,0\n3,4,1\n5,6,0\n";
    o.max_rows = 3;
    fl_dataset_t *ds = fl_dataset_parse_csv (t, strlen (t), &o, NULL, &err);
    FL_CHECK (ds && fl_dataset_rows (ds) == 3);
    fl_dataset_destroy (&ds);
    o.max_rows = 2;
    ds = fl_dataset_parse_csv (t, strlen (t), &o, NULL, &err);
    FL_CHECK (!ds && err.code == FL_CSV_ETOOBIG && err.line == 4 && err.column == 0);
    FL_CHECK (strcmp (err.file, "<buffer>") == 0);
    o = (fl_csv_options_t) {0};
    o.max_columns = 2;
    ds = fl_dataset_parse_csv (t, strlen (t), &o, NULL, &err);
    FL_CHECK (!ds && err.code == FL_CSV_ETOOBIG && err.line == 1 && err.column == 3);
    o = (fl_csv_options_t) {0};
    o.max_line = 5;                     /* "a,b,y" is exactly 5 bytes: allowed */
    const char *t2 = "a,b,y\n1,2,0\n10,20,1\n";
    ds = fl_dataset_parse_csv (t2, strlen (t2), &o, NULL, &err);
    FL_CHECK (!ds && err.code == FL_CSV_ETOOBIG && err.line == 3);
    o.max_line = 4;
    ds = fl_dataset_parse_csv (t2, strlen (t2), &o, NULL, &err);
    FL_CHECK (!ds && err.code == FL_CSV_ETOOBIG && err.line == 1);
    o = (fl_csv_options_t) {0};
    o.n_classes = 2;
    const char *t3 = "a,y\n1,0\n1,2\n";
    ds = fl_dataset_parse_csv (t3, strlen (t3), &o, NULL, &err);
    FL_CHECK (!ds && err.code == FL_CSV_ELABEL && err.line == 3 && err.column == 2);
    o.n_classes = FL_CSV_MAX_CLASSES + 1;
    ds = fl_dataset_parse_csv (t3, strlen (t3), &o, NULL, &err);
    FL_CHECK (!ds && err.code == FL_CSV_EARG);
    ds = fl_dataset_parse_csv (NULL, 5, NULL, NULL, &err);
    FL_CHECK (!ds && err.code == FL_CSV_EARG);
    ds = fl_dataset_parse_csv (NULL, 0, NULL, NULL, NULL);     /* err may be NULL */
    FL_CHECK (!ds);
    FL_CHECK (strcmp (fl_csv_errcode_str (FL_CSV_ENOMEM), "ENOMEM") == 0);
}

/*  Fixtures on disk: the file loader reports the path, line and column. */
static void
test_files (void)
{
    static const struct {
        const char *file;
        fl_csv_errcode_t code;
        size_t line, column;
    } cases[] = {
        {"tests/data/bad_field.csv", FL_CSV_EFIELD, 4, 2},
        {"tests/data/bad_columns.csv", FL_CSV_ECOLUMNS, 3, 2},
        {"tests/data/bad_label.csv", FL_CSV_ELABEL, 5, 3},
        {"tests/data/empty.csv", FL_CSV_EEMPTY, 1, 0},
        {"tests/data/header_only.csv", FL_CSV_EEMPTY, 2, 0},
        {"tests/data/bad_header.csv", FL_CSV_EHEADER, 1, 2},
        {"tests/data/nan_field.csv", FL_CSV_EFIELD, 3, 2},
        {"tests/data/does_not_exist.csv", FL_CSV_EOPEN, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[4096];
        snprintf (path, sizeof path, "%s", FL_TEST_PATH (cases[i].file));
        fl_csv_error_t err;
        fl_dataset_t *ds = fl_dataset_load_csv (path, NULL, &err);
        FL_CHECK (ds == NULL);
        FL_CHECK (err.code == cases[i].code);
        FL_CHECK (err.line == cases[i].line && err.column == cases[i].column);
        FL_CHECK (strcmp (err.file, path) == 0);
        if (err.code != cases[i].code || err.line != cases[i].line)
            fprintf (stderr, "  %s: %s\n", cases[i].file, err.message);
    }
    /* BOM, quoted header with a space, spaces, CRLF, trailing CRLF blank lines */
    fl_csv_error_t err;
    fl_dataset_t *ds = fl_dataset_load_csv (FL_TEST_PATH ("tests/data/ok_crlf_quoted.csv"),
                                            "label", &err);
    FL_CHECK (ds != NULL);
    if (ds) {
        FL_CHECK (fl_dataset_rows (ds) == 2 && fl_dataset_features (ds) == 2);
        FL_CHECK (strcmp (fl_dataset_feature_name (ds, 0), "site id") == 0);
        FL_CHECK (strcmp (fl_dataset_feature_name (ds, 1), "value") == 0);
        const float expect[] = {1, -0.25f, 2, 3};
        FL_CHECK (memcmp (fl_dataset_x (ds), expect, sizeof expect) == 0);
        fl_dataset_destroy (&ds);
    }
    /* File size limit */
    fl_csv_options_t o = {0};
    o.max_bytes = 10;
    ds = fl_dataset_load_csv_opts (FL_TEST_PATH ("tests/data/bad_label.csv"), &o, &err);
    FL_CHECK (!ds && err.code == FL_CSV_ETOOBIG && err.line == 0);
    /* A directory is not a CSV file. */
    ds = fl_dataset_load_csv (FL_TEST_PATH ("tests/data"), NULL, &err);
    FL_CHECK (!ds && err.code == FL_CSV_EOPEN);
}

/*  Checks a parse result is self-consistent, whatever the input. */
static int
s_well_formed (fl_dataset_t *ds, const fl_csv_error_t *err)
{
    if (!ds)
        return err->code > FL_CSV_OK && err->code <= FL_CSV_EARG && err->message[0] != '\0';
    size_t n = fl_dataset_rows (ds), d = fl_dataset_features (ds), k = fl_dataset_classes (ds);
    if (n == 0 || d == 0 || k == 0 || err->code != FL_CSV_OK)
        return 0;
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite (fl_dataset_x (ds)[i]))
            return 0;
    for (size_t i = 0; i < n; i++)
        if (fl_dataset_y (ds)[i] < 0 || (size_t) fl_dataset_y (ds)[i] >= k)
            return 0;
    return 1;
}

static void
test_robustness (void)
{
    fl_rng_t *rng = fl_rng_new_u64 (2024, 1);
    const char seed_csv[] = "a,\"b c\",y\r\n1.5,-2e3,0\r\n3,4,1\n\"5\",6,1\n";
    const char alphabet[] = "0123456789.,-+eE\n\r\" \tnaix\x00\xff";
    char buf[256];
    int ok = 1, successes = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len;
        if (iter % 2 == 0) {            /* mutate a valid document */
            len = sizeof seed_csv - 1;
            memcpy (buf, seed_csv, len);
            int flips = 1 + (int) fl_rng_uniform (rng, 4);
            for (int f = 0; f < flips && len > 0; f++) {
                size_t at = (size_t) fl_rng_uniform (rng, len);
                switch (fl_rng_uniform (rng, 3)) {
                case 0: buf[at] = alphabet[fl_rng_uniform (rng, sizeof alphabet - 1)]; break;
                case 1: len = at; break;                        /* truncate */
                default: buf[at] = (char) fl_rng_u32 (rng); break;
                }
            }
        }
        else {                          /* random text from the alphabet */
            len = (size_t) fl_rng_uniform (rng, sizeof buf);
            for (size_t i = 0; i < len; i++)
                buf[i] = alphabet[fl_rng_uniform (rng, sizeof alphabet - 1)];
        }
        fl_csv_error_t err;
        fl_dataset_t *ds = fl_dataset_parse_csv (buf, len, NULL, NULL, &err);
        successes += ds != NULL;
        ok &= s_well_formed (ds, &err);
        fl_dataset_destroy (&ds);
    }
    FL_CHECK (ok);
    FL_CHECK (successes > 100);         /* the mutations do not all fail */
    if (fl_test_verbose_)
        printf ("  %d of 20000 random inputs parsed\n", successes);
    fl_rng_destroy (&rng);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_accepts);
    FL_RUN (test_errors);
    FL_RUN (test_limits);
    FL_RUN (test_files);
    FL_RUN (test_robustness);
    FL_TEST_DONE ();
}
