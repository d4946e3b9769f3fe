/*  fuzz_csv - fl_dataset_parse_csv over the raw buffer (not NUL-terminated:
    the fuzzer's buffer ends exactly at size, so ASan catches any read past
    it), with default options and with a named label column and a fixed class
    count.  Property: no crash or leak; an accepted data set has n > 0 rows,
    d > 0 finite features and every label in [0, K). */
#include <fl_dataset.h>
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
s_check (const fl_dataset_t *ds)
{
    if (fl_dataset_rows (ds) == 0 || fl_dataset_features (ds) == 0 || fl_dataset_classes (ds) == 0)
        abort ();
    fuzz_check_dataset (ds);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fl_csv_error_t err;
    fl_csv_options_t opts = { 0 };
    opts.max_rows = 10000;
    fl_dataset_t *ds = fl_dataset_parse_csv ((const char *) data, size, &opts, "fuzz", &err);
    if (ds)
        s_check (ds);
    else if (err.code == FL_CSV_OK)
        abort ();       /* a refusal always says why */
    fl_dataset_destroy (&ds);
    opts.label_column = "label";
    opts.n_classes = 3;
    opts.max_columns = 16;
    opts.max_line = 256;
    ds = fl_dataset_parse_csv ((const char *) data, size, &opts, NULL, &err);
    if (ds)
        s_check (ds);
    fl_dataset_destroy (&ds);
    return 0;
}
