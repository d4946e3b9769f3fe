/*  test_schema.c - a member's own CSV: the text table (fl_table), column
    typing, the vocabulary round's reports and merge (union, sorted, caps),
    one-hot encoding, missing values (federated-mean imputation through
    fl_stats + fl_dataset_standardise, indicators, --missing error),
    --drop, text labels, the schema file and its refusals, and that every
    error names file:line:column once.  Also the two bundled CSVs with
    text columns (german_credit, breast_cancer). */
#include "fl_dataset.h"
#include "fl_schema.h"
#include "fl_stats.h"
#include "fl_table.h"
#include "fl_test.h"

#include <czmq.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

static fl_table_t *
s_table (const char *text, const char *name)
{
    fl_csv_error_t err;
    fl_table_t *t = fl_table_parse_csv (text, strlen (text), NULL, name, &err);
    if (!t && fl_test_verbose_)
        printf ("  %s\n", err.message);
    return t;
}

/*  Report of text under name, merged with nothing. */
static fl_schema_t *
s_report (const char *text, const char *name, const char *label, const char *drop, fl_csv_error_t *err)
{
    fl_table_t *t = s_table (text, name);
    if (!t)
        return NULL;
    fl_schema_t *s = fl_schema_from_table (t, label, drop, err);
    fl_table_destroy (&t);
    return s;
}

static long
s_feature (const fl_dataset_t *ds, const char *name)
{
    return fl_dataset_feature_index (ds, name);
}

static void
test_table_cells (void)
{
    fl_table_t *t = s_table ("a, b ,c\n x ,\"y, z\",NA\n1,,?\n", "t.csv");
    FL_CHECK (t != NULL);
    if (!t)
        return;
    FL_CHECK (fl_table_rows (t) == 2 && fl_table_columns (t) == 3);
    FL_CHECK (strcmp (fl_table_column_name (t, 1), "b") == 0);
    FL_CHECK (strcmp (fl_table_cell (t, 0, 0), "x") == 0);
    FL_CHECK (strcmp (fl_table_cell (t, 0, 1), "y, z") == 0);
    FL_CHECK (fl_table_is_missing (fl_table_cell (t, 0, 2)));
    FL_CHECK (fl_table_is_missing (fl_table_cell (t, 1, 1)));
    FL_CHECK (fl_table_is_missing (fl_table_cell (t, 1, 2)));
    FL_CHECK (!fl_table_is_missing (fl_table_cell (t, 1, 0)));
    FL_CHECK (fl_table_line (t, 1) == 3);
    /* write + read back: the same cells */
    char path[] = "/tmp/test_schema_XXXXXX";
    int fd = mkstemp (path);
    FL_CHECK (fd >= 0);
    close (fd);
    uint32_t rows[] = {1, 0};
    FL_CHECK (fl_table_write_csv (t, rows, 2, path) == 0);
    fl_csv_error_t err;
    fl_table_t *u = fl_table_load_csv (path, NULL, &err);
    FL_CHECK (u && fl_table_rows (u) == 2);
    if (u) {
        FL_CHECK (strcmp (fl_table_cell (u, 1, 1), "y, z") == 0);
        FL_CHECK (strcmp (fl_table_cell (u, 0, 0), "1") == 0);
        FL_CHECK (fl_table_is_missing (fl_table_cell (u, 0, 2)));
    }
    uint32_t bad = 7;
    FL_CHECK (fl_table_write_csv (t, &bad, 1, path) == -1);
    fl_table_destroy (&u);
    fl_table_destroy (&t);
    fl_table_destroy (&t);
    unlink (path);
}

static void
test_table_errors (void)
{
    fl_csv_error_t err;
    const char *bad[] = {"", "a,a\n1,2\n", "a,b\n1\n", "a,b\n1,2,3\n", "a,b\n\"x,2\n", "a,b\n"};
    const fl_csv_errcode_t code[] = {FL_CSV_EEMPTY, FL_CSV_EHEADER, FL_CSV_ECOLUMNS, FL_CSV_ECOLUMNS,
                                     FL_CSV_EFIELD, FL_CSV_EEMPTY};
    const size_t line[] = {1, 1, 2, 2, 2, 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_table_t *t = fl_table_parse_csv (bad[i], strlen (bad[i]), NULL, "bad.csv", &err);
        FL_CHECK (t == NULL);
        FL_CHECK (err.code == code[i]);
        FL_CHECK (err.line == line[i]);
        FL_CHECK (strncmp (err.message, "bad.csv:", 8) == 0);
    }
    char nul[] = "a,b\nx,y\n";
    nul[5] = '\0';
    FL_CHECK (fl_table_parse_csv (nul, sizeof nul - 1, NULL, "nul.csv", &err) == NULL && err.code == FL_CSV_EFIELD);
    FL_CHECK (fl_table_load_csv ("/nonexistent/x.csv", NULL, &err) == NULL && err.code == FL_CSV_EOPEN);
}

/*  Two members with different categories: the union is sorted and both
    encode to the same features. */
static void
test_vocabulary_merge_one_hot (void)
{
    const char *a = "colour,size,y\nred,1,good\nblue,2,bad\nred,3,good\n";
    const char *b = "colour,size,y\ngreen,4,good\nblue,5,good\n";
    fl_csv_error_t err;
    fl_schema_t *sa = s_report (a, "a.csv", "y", NULL, &err);
    fl_schema_t *sb = s_report (b, "b.csv", "y", NULL, &err);
    FL_CHECK (sa && sb);
    if (!sa || !sb)
        goto done;
    FL_CHECK (fl_schema_features (sa) == 3);        /* blue, red, size */
    FL_CHECK (fl_schema_features (sb) == 3);        /* blue, green, size: same count, other meaning */
    char why[256];
    FL_CHECK (fl_schema_merge (sa, sb, why, sizeof why) == 0);
    FL_CHECK (fl_schema_features (sa) == 4);
    FL_CHECK (fl_schema_text_columns (sa) == 1 && fl_schema_text_values (sa) == 3);
    FL_CHECK (fl_schema_classes (sa) == 2);
    FL_CHECK (strcmp (fl_schema_label_value (sa, 0), "bad") == 0);
    FL_CHECK (strcmp (fl_schema_label_value (sa, 1), "good") == 0);
    char *map = fl_schema_label_mapping (sa);
    FL_CHECK (map && strcmp (map, "bad=0 good=1") == 0);
    free (map);
    fl_table_t *tb = s_table (b, "b.csv");
    fl_dataset_t *ds = tb ? fl_schema_encode (sa, tb, FL_SCHEMA_MISSING_IMPUTE, &err) : NULL;
    FL_CHECK (ds != NULL);
    if (ds) {
        FL_CHECK (fl_dataset_features (ds) == 4 && fl_dataset_rows (ds) == 2);
        FL_CHECK (s_feature (ds, "colour=blue") == 0);
        FL_CHECK (s_feature (ds, "colour=green") == 1);
        FL_CHECK (s_feature (ds, "colour=red") == 2);
        FL_CHECK (s_feature (ds, "size") == 3);
        const float *x = fl_dataset_x (ds);
        const float r0[] = {0, 1, 0, 4}, r1[] = {1, 0, 0, 5};
        FL_CHECK (memcmp (x, r0, sizeof r0) == 0);
        FL_CHECK (memcmp (x + 4, r1, sizeof r1) == 0);
        FL_CHECK (fl_dataset_y (ds)[0] == 1 && fl_dataset_y (ds)[1] == 1);
    }
    fl_dataset_destroy (&ds);
    fl_table_destroy (&tb);
    /* Merge order does not matter. */
    fl_schema_t *sb2 = s_report (b, "b.csv", "y", NULL, &err), *sa2 = s_report (a, "a.csv", "y", NULL, &err);
    FL_CHECK (sb2 && sa2 && fl_schema_merge (sb2, sa2, why, sizeof why) == 0);
    FL_CHECK (sb2 && fl_schema_features (sb2) == 4 && strcmp (fl_schema_label_value (sb2, 0), "bad") == 0);
    fl_schema_destroy (&sb2);
    fl_schema_destroy (&sa2);
done:
    fl_schema_destroy (&sa);
    fl_schema_destroy (&sb);
}

static void
test_merge_refusals (void)
{
    fl_csv_error_t err;
    char why[256];
    fl_schema_t *a = s_report ("c,y\nx,0\n", "a.csv", NULL, NULL, &err);
    fl_schema_t *num = s_report ("c,y\n1,0\n", "b.csv", NULL, NULL, &err);
    fl_schema_t *other = s_report ("d,y\nx,0\n", "c.csv", NULL, NULL, &err);
    fl_schema_t *textlab = s_report ("c,y\nx,no\n", "d.csv", NULL, NULL, &err);
    FL_CHECK (a && num && other && textlab);
    if (a && num && other && textlab) {
        FL_CHECK (fl_schema_merge (a, num, why, sizeof why) == -1 && strstr (why, "'c' is numeric here and text"));
        FL_CHECK (fl_schema_merge (a, other, why, sizeof why) == -1 && strstr (why, "'d'"));
        FL_CHECK (fl_schema_merge (a, textlab, why, sizeof why) == -1 && strstr (why, "text labels"));
        FL_CHECK (fl_schema_features (a) == 1);     /* unchanged */
    }
    fl_schema_destroy (&a);
    fl_schema_destroy (&num);
    fl_schema_destroy (&other);
    fl_schema_destroy (&textlab);
}

/*  Caps: 256 values per member report; the union of two reports of 200
    each is refused; a value longer than 64 bytes; the cap error names the
    file:line:column of the first value over. */
static void
test_caps (void)
{
    char *a = (char *) malloc (64 * 1024), *b = (char *) malloc (64 * 1024);
    char *p = a + sprintf (a, "c,y\n"), *q = b + sprintf (b, "c,y\n");
    for (int i = 0; i < 257; i++)
        p += sprintf (p, "v%03d,%d\n", i, i % 2);
    for (int i = 0; i < 200; i++)
        q += sprintf (q, "w%03d,%d\n", i, i % 2);
    fl_csv_error_t err;
    fl_schema_t *s = s_report (a, "a.csv", NULL, NULL, &err);
    FL_CHECK (s == NULL && err.code == FL_CSV_ETOOBIG && err.line == 258 && err.column == 1);
    FL_CHECK (strstr (err.message, "a.csv:258:1: column 'c' has more than 256 distinct values") == err.message);
    a[strlen ("c,y\n") + 200 * strlen ("v000,0\n")] = '\0';     /* first 200 rows */
    fl_schema_t *sa = s_report (a, "a.csv", NULL, NULL, &err), *sb = s_report (b, "b.csv", NULL, NULL, &err);
    char why[256];
    FL_CHECK (sa && sb && fl_schema_merge (sa, sb, why, sizeof why) == -1 && strstr (why, "more than 256"));
    FL_CHECK (sa && fl_schema_text_values (sa) == 200);
    fl_schema_destroy (&sa);
    fl_schema_destroy (&sb);
    char longv[200];
    snprintf (longv, sizeof longv, "c,y\nok,0\n%065d,1\n", 7);
    s = s_report (longv, "l.csv", NULL, NULL, &err);
    FL_CHECK (s == NULL && err.line == 3 && err.column == 1 && strstr (err.message, "longer than 64 bytes"));
    s = s_report ("c,y\nok,0\n(missing),1\n", "m.csv", NULL, NULL, &err);
    FL_CHECK (s == NULL && err.line == 3 && strstr (err.message, "missing category"));
    free (a);
    free (b);
}

/*  Missing values: numeric -> 0 + indicator, then imputed with the
    federated mean of the observed values by fl_dataset_standardise using
    the round-0 statistics (fl_stats over both members' rows). */
static void
test_missing_impute (void)
{
    const char *a = "age,town,y\n10,x,0\n,y,1\n30,?,0\n";
    const char *b = "age,town,y\nNA,x,1\n50,x,0\n";
    fl_csv_error_t err;
    char why[256];
    fl_schema_t *s = s_report (a, "a.csv", NULL, NULL, &err), *sb = s_report (b, "b.csv", NULL, NULL, &err);
    FL_CHECK (s && sb && fl_schema_merge (s, sb, why, sizeof why) == 0);
    if (!s || !sb)
        goto done;
    /* age, age (missing), town=x, town=y, town=(missing) */
    FL_CHECK (fl_schema_features (s) == 5);
    fl_table_t *ta = s_table (a, "a.csv"), *tb = s_table (b, "b.csv");
    fl_dataset_t *da = fl_schema_encode (s, ta, FL_SCHEMA_MISSING_IMPUTE, &err);
    fl_dataset_t *db = fl_schema_encode (s, tb, FL_SCHEMA_MISSING_IMPUTE, &err);
    FL_CHECK (da && db);
    if (da && db) {
        FL_CHECK (s_feature (da, "age (missing)") == 1 && s_feature (da, "town=(missing)") == 4);
        const float *x = fl_dataset_x (da);
        FL_CHECK (x[5 * 1 + 0] == 0 && x[5 * 1 + 1] == 1);      /* row 2: age missing */
        FL_CHECK (x[5 * 2 + 4] == 1 && x[5 * 2 + 2] == 0);      /* row 3: town missing */
        /* Round 0: statistics over both members, as the federation sums them. */
        fl_stats_t *st = fl_stats_new (5);
        float mean[5], std[5];
        FL_CHECK (fl_stats_accumulate (st, da) == 0 && fl_stats_accumulate (st, db) == 0
                  && fl_stats_finalize (st, mean, std) == 0);
        fl_stats_destroy (&st);
        /* observed ages 10, 30, 50: federated mean 30 */
        FL_CHECK (fl_dataset_standardise (da, mean, std) == 0);
        x = fl_dataset_x (da);
        float imputed = x[5 * 1 + 0] * std[0] + mean[0];
        FL_CHECK_CLOSE (imputed, 30.0, 1e-4, 1e-5);
        float first = x[0] * std[0] + mean[0];
        FL_CHECK_CLOSE (first, 10.0, 1e-4, 1e-5);                /* observed cells untouched */
        /* The imputation survives a subset copy (fl_client's working copies). */
        uint32_t rows[] = {1};
        fl_dataset_t *sub = fl_dataset_subset (db, rows, 1);
        FL_CHECK (sub && fl_dataset_standardise (sub, mean, std) == 0);
        if (sub)
            FL_CHECK_CLOSE (fl_dataset_x (sub)[0] * std[0] + mean[0], 50.0, 1e-4, 1e-5);
        fl_dataset_destroy (&sub);
        fl_dataset_t *sub0 = fl_dataset_subset (db, (const uint32_t[]){0}, 1);
        FL_CHECK (sub0 && fl_dataset_standardise (sub0, mean, std) == 0);
        if (sub0)
            FL_CHECK_CLOSE (fl_dataset_x (sub0)[0] * std[0] + mean[0], 30.0, 1e-4, 1e-5);
        fl_dataset_destroy (&sub0);
    }
    /* --missing error: refused, naming file:line:column and the value. */
    FL_CHECK (fl_schema_encode (s, ta, FL_SCHEMA_MISSING_ERROR, &err) == NULL);
    FL_CHECK (err.line == 3 && err.column == 1
              && strcmp (err.message, "a.csv:3:1: missing value ('') in column 'age' (refused: missing values are an error)") == 0);
    fl_dataset_destroy (&da);
    fl_dataset_destroy (&db);
    fl_table_destroy (&ta);
    fl_table_destroy (&tb);
    /* A schema without missing for a column refuses a missing cell. */
    fl_schema_t *clean = s_report ("age,town,y\n1,x,0\n", "c.csv", NULL, NULL, &err);
    fl_table_t *tm = s_table (b, "b.csv");
    FL_CHECK (clean && tm && fl_schema_encode (clean, tm, FL_SCHEMA_MISSING_IMPUTE, &err) == NULL);
    FL_CHECK (err.line == 2 && err.column == 1 && strstr (err.message, "which the schema says has none"));
    fl_table_destroy (&tm);
    fl_schema_destroy (&clean);
done:
    fl_schema_destroy (&s);
    fl_schema_destroy (&sb);
}

static void
test_drop_and_errors (void)
{
    const char *a = "id,x,kind,y\nA17,1.5,p,0\nB22,2.5,q,1\n";
    fl_csv_error_t err;
    fl_schema_t *s = s_report (a, "a.csv", "y", "id", &err);
    FL_CHECK (s && fl_schema_features (s) == 3);    /* x, kind=p, kind=q */
    fl_table_t *t = s_table (a, "a.csv");
    fl_dataset_t *ds = s && t ? fl_schema_encode (s, t, FL_SCHEMA_MISSING_IMPUTE, &err) : NULL;
    FL_CHECK (ds && s_feature (ds, "id") == -1 && s_feature (ds, "x") == 0);
    fl_dataset_destroy (&ds);
    /* the id column without --drop is text with 2 values */
    fl_schema_t *s2 = s_report (a, "a.csv", "y", NULL, &err);
    FL_CHECK (s2 && fl_schema_features (s2) == 5);
    fl_schema_destroy (&s2);
    FL_CHECK (s_report (a, "a.csv", "y", "idd", &err) == NULL && strstr (err.message, "the columns to drop name 'idd'"));
    FL_CHECK (s_report (a, "a.csv", "label", NULL, &err) == NULL && err.code == FL_CSV_ENOLABEL);
    FL_CHECK (s_report (a, "a.csv", "y", "id,x,kind", &err) == NULL && strstr (err.message, "no feature column"));
    FL_CHECK (s_report ("x,y\n1,\n", "n.csv", NULL, NULL, &err) == NULL && err.code == FL_CSV_ELABEL
              && err.line == 2 && err.column == 2);
    /* encode: unknown value, bad number, extra column, unknown label */
    fl_table_t *u = s_table ("id,x,kind,y\nA,1,r,0\n", "u.csv");
    FL_CHECK (u && fl_schema_encode (s, u, FL_SCHEMA_MISSING_IMPUTE, &err) == NULL);
    FL_CHECK (strcmp (err.message, "u.csv:2:3: 'r' in column 'kind' is not in the agreed vocabulary (2 values)") == 0);
    fl_table_destroy (&u);
    u = s_table ("id,x,kind,y\nA,abc,p,0\n", "u.csv");
    FL_CHECK (u && fl_schema_encode (s, u, FL_SCHEMA_MISSING_IMPUTE, &err) == NULL && err.column == 2
              && strstr (err.message, "numeric column 'x'"));
    fl_table_destroy (&u);
    u = s_table ("id,x,kind,extra,y\nA,1,p,3,0\n", "u.csv");
    FL_CHECK (u && fl_schema_encode (s, u, FL_SCHEMA_MISSING_IMPUTE, &err) == NULL && err.column == 4
              && strstr (err.message, "'extra' is not in the schema"));
    fl_table_destroy (&u);
    u = s_table ("id,x,kind,y\nA,1,p,7\n", "u.csv");
    FL_CHECK (u && fl_schema_encode (s, u, FL_SCHEMA_MISSING_IMPUTE, &err) == NULL && err.code == FL_CSV_ELABEL);
    fl_table_destroy (&u);
    fl_table_destroy (&t);
    fl_schema_destroy (&s);
}

static void
s_write (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    if (f) {
        fputs (text, f);
        fclose (f);
    }
}

static void
test_schema_file (void)
{
    const char *a = "id,purpose,amount,y\n1,new car,100,good\n2,radio/tv,,bad\n3,'x' <0,50,good\n";
    fl_csv_error_t err;
    fl_schema_t *s = s_report (a, "a.csv", "y", "id", &err);
    FL_CHECK (s != NULL);
    if (!s)
        return;
    char path[] = "/tmp/test_schema_XXXXXX";
    int fd = mkstemp (path);
    close (fd);
    FL_CHECK (fl_schema_save (s, path) == 0);
    char why[512];
    fl_schema_t *r = fl_schema_load (path, why, sizeof why);
    FL_CHECK (r != NULL);
    if (r) {
        FL_CHECK (fl_schema_features (r) == fl_schema_features (s) && fl_schema_features (r) == 5);
        FL_CHECK (fl_schema_classes (r) == 2 && strcmp (fl_schema_label_value (r, 1), "good") == 0);
        fl_table_t *t = s_table (a, "a.csv");
        fl_dataset_t *d1 = fl_schema_encode (s, t, FL_SCHEMA_MISSING_IMPUTE, &err);
        fl_dataset_t *d2 = fl_schema_encode (r, t, FL_SCHEMA_MISSING_IMPUTE, &err);
        FL_CHECK (d1 && d2 && memcmp (fl_dataset_x (d1), fl_dataset_x (d2), 3 * 5 * sizeof (float)) == 0);
        FL_CHECK (d2 && s_feature (d2, "purpose='x' <0") >= 0);
        fl_dataset_destroy (&d1);
        fl_dataset_destroy (&d2);
        fl_table_destroy (&t);
    }
    fl_schema_destroy (&r);
    /* A hand-written schema (the docs/DATA.md example) and its refusals. */
    const char *good =
        "version = 1\nlabel = \"class\"\n    type = \"text\"\n    value = \"good\"\n    value = \"bad\"\n"
        "column = \"customer_id\"\n    type = \"drop\"\ncolumn = \"purpose\"\n    type = \"text\"\n"
        "    missing = 1\n    value = \"radio/tv\"\n    value = \"new car\"\ncolumn = \"amount\"\n"
        "    type = \"numeric\"\n    missing = 1\n";
    s_write (path, good);
    r = fl_schema_load (path, why, sizeof why);
    FL_CHECK (r && fl_schema_features (r) == 5 && strcmp (fl_schema_label_value (r, 0), "bad") == 0);
    if (!r && fl_test_verbose_)
        printf ("  %s\n", why);
    fl_schema_destroy (&r);
    struct {
        const char *text, *expect;
    } bad[] = {
        {"version = 2\n", "version '2'"},
        {"version = 1\n", "no label column name"},
        {"version = 1\nlabel = \"y\"\n    type = \"text\"\n    value = \"a\"\n", "need at least 2"},
        {"version = 1\nlabel = \"y\"\n    type = \"int\"\n", "label type 'int'"},
        {"version = 1\nlabel = \"y\"\n    type = \"integer\"\n    classes = 1\n", "classes '1'"},
        {"version = 1\nlabel = \"y\"\n    type = \"integer\"\n    classes = 2\n", "0 columns"},
        {"version = 1\nlabel = \"y\"\n    type = \"integer\"\n    classes = 2\ncolumn = \"c\"\n    type = \"txt\"\n",
         "type 'txt'"},
        {"version = 1\nlabel = \"y\"\n    type = \"integer\"\n    classes = 2\ncolumn = \"c\"\n    type = \"text\"\n",
         "needs at least one value"},
        {"version = 1\nlabel = \"y\"\n    type = \"integer\"\n    classes = 2\ncolumn = \"c\"\n    type = \"text\"\n"
         "    value = \"a\"\n    value = \"a\"\n", "appears twice"},
        {"version = 1\nlabel = \"y\"\n    type = \"integer\"\n    classes = 2\ncolumn = \"c\"\n    type = \"numeric\"\n"
         "column = \"c\"\n    type = \"numeric\"\n", "named twice"},
        {"version = 1\nlabel = \"y\"\n    type = \"integer\"\n    classes = 2\ncolumn = \"c\"\n    type = \"numeric\"\n"
         "    missing = 2\n", "missing '2'"},
        {"version = 1\nlabel = \"y\"\n    type = \"integer\"\n    classes = 2\ncolumn = \"c\"\n    type = \"drop\"\n",
         "every column is dropped"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_write (path, bad[i].text);
        why[0] = '\0';
        r = fl_schema_load (path, why, sizeof why);
        FL_CHECK (r == NULL);
        FL_CHECK (strstr (why, bad[i].expect) != NULL);
        if (!strstr (why, bad[i].expect))
            printf ("  case %zu: '%s'\n", i, why);
        fl_schema_destroy (&r);
    }
    /* Over the size bound: refused before zconfig reads it. */
    FILE *f = fopen (path, "w");
    for (int i = 0; f && i < (int) (FL_SCHEMA_MAX_FILEBYTES / 16) + 1; i++)
        fputs ("# padding ......\n", f);
    if (f)
        fclose (f);
    FL_CHECK (fl_schema_load (path, why, sizeof why) == NULL && strstr (why, "at most"));
    FL_CHECK (fl_schema_load ("/nonexistent/s.zpl", why, sizeof why) == NULL && strstr (why, "cannot open"));
    unlink (path);
    fl_schema_destroy (&s);
}

/*  The bundled tables: 13 text columns + 7 numeric (German credit), and
    all-categorical with '?' cells (Ljubljana breast cancer). */
static void
test_bundled (void)
{
    fl_csv_error_t err;
    fl_table_t *t = fl_table_load_csv (FL_TEST_PATH ("datasets/german_credit.csv"), NULL, &err);
    FL_CHECK (t && fl_table_rows (t) == 1000 && fl_table_columns (t) == 21);
    fl_schema_t *s = t ? fl_schema_from_table (t, "class", NULL, &err) : NULL;
    FL_CHECK (s && fl_schema_text_columns (s) == 13 && fl_schema_classes (s) == 2);
    fl_dataset_t *ds = s ? fl_schema_encode (s, t, FL_SCHEMA_MISSING_ERROR, &err) : NULL;
    FL_CHECK (ds && fl_dataset_features (ds) == 7 + fl_schema_text_values (s));
    FL_CHECK (ds && fl_dataset_class_count (ds, 1) == 700);     /* good = 1 */
    fl_dataset_destroy (&ds);
    fl_schema_destroy (&s);
    fl_table_destroy (&t);
    t = fl_table_load_csv (FL_TEST_PATH ("datasets/breast_cancer.csv"), NULL, &err);
    FL_CHECK (t && fl_table_rows (t) == 286);
    s = t ? fl_schema_from_table (t, "Class", NULL, &err) : NULL;
    FL_CHECK (s && fl_schema_classes (s) == 2 && strcmp (fl_schema_label_value (s, 1), "recurrence-events") == 0);
    ds = s ? fl_schema_encode (s, t, FL_SCHEMA_MISSING_IMPUTE, &err) : NULL;
    FL_CHECK (ds && s_feature (ds, "node-caps=(missing)") >= 0 && s_feature (ds, "breast-quad=(missing)") >= 0);
    FL_CHECK (ds && fl_dataset_class_count (ds, 1) == 85);
    FL_CHECK (s && t && fl_schema_encode (s, t, FL_SCHEMA_MISSING_ERROR, &err) == NULL && err.code == FL_CSV_EFIELD);
    fl_dataset_destroy (&ds);
    fl_schema_destroy (&s);
    fl_table_destroy (&t);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    zsys_init ();
    FL_RUN (test_table_cells);
    FL_RUN (test_table_errors);
    FL_RUN (test_vocabulary_merge_one_hot);
    FL_RUN (test_merge_refusals);
    FL_RUN (test_caps);
    FL_RUN (test_missing_impute);
    FL_RUN (test_drop_and_errors);
    FL_RUN (test_schema_file);
    FL_RUN (test_bundled);
    FL_TEST_DONE ();
}
