/*  fuzz_table - a member's own CSV: fl_table_parse_csv over the raw buffer
    (not NUL-terminated), then, on success, the vocabulary report
    (fl_schema_from_table), the encoding with it (fl_schema_encode, impute
    and error), the report's schema-file text reloaded (fl_schema_load_str)
    and the input itself read as a schema file's text.  Property: no crash or
    leak; a refusal always says why; an encoded data set has n rows, the
    schema's feature count, finite features and labels in [0, K); a saved
    schema reloads with the same feature count. */
#include <fl_dataset.h>
#include <fl_schema.h>
#include <fl_table.h>
#include <math.h>
#include <stdlib.h>

#include "fuzz_common.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet ();
    return 0;
}

static void
s_check (const fl_dataset_t *ds, const fl_table_t *t, const fl_schema_t *s)
{
    fuzz_check_dataset (ds);
    if (fl_dataset_rows (ds) != fl_table_rows (t) || fl_dataset_features (ds) != fl_schema_features (s)
        || fl_dataset_classes (ds) < 2)
        abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fl_csv_error_t err;
    fl_csv_options_t opts = { 0 };
    opts.max_rows = 256;            /* n x (columns x 257) floats stays small */
    opts.max_columns = 64;
    fl_table_t *t = fl_table_parse_csv ((const char *) data, size, &opts, "fuzz", &err);
    if (!t && err.code == FL_CSV_OK)
        abort ();
    fl_schema_t *s = t ? fl_schema_from_table (t, NULL, NULL, &err) : NULL;
    if (t && !s && err.code == FL_CSV_OK)
        abort ();
    if (s) {
        for (int how = 0; how < 2; how++) {
            fl_dataset_t *ds = fl_schema_encode (s, t, how ? FL_SCHEMA_MISSING_ERROR : FL_SCHEMA_MISSING_IMPUTE, &err);
            if (ds)
                s_check (ds, t, s);
            else if (how == 0)
                abort ();       /* a table encodes with its own report */
            fl_dataset_destroy (&ds);
        }
    }
    fl_schema_destroy (&s);
    fl_table_destroy (&t);
    /* The same bytes as a schema file's text. */
    char *text = (char *) malloc (size + 1);
    if (!text)
        return 0;
    memcpy (text, data, size);
    text[size] = '\0';
    char why[256];
    s = fl_schema_load_str (text, "fuzz", why, sizeof why);
    if (s && (fl_schema_features (s) == 0 || fl_schema_classes (s) < 2))
        abort ();
    fl_schema_destroy (&s);
    free (text);
    return 0;
}
