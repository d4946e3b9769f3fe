/*  fl-schema - the vocabulary round of a member's own CSV, done with files.

    fl-schema --data FILE [--label COL] [--drop COL,...] --out REPORT
        a member's vocabulary report: its columns' types, each text column's
        distinct values, which columns have missing cells (no counts, no
        numeric values); the member sends REPORT to whoever merges.
    fl-schema --merge --out SCHEMA REPORT...
        the union of the members' reports, sorted and capped: the
        consortium's schema, which every member passes to fl-client --schema.
    fl-schema --show FILE
        what a report or schema holds: features after encoding, text
        columns, label mapping.

    The reports and the schema are fl_schema files (docs/DATA.md); every
    file read is validated as untrusted input.  fl-sim --data runs the same
    round inside one process.
*/
#include <czmq.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_args.h"
#include "fl_schema.h"
#include "fl_table.h"

typedef struct {
    char data[1024], label[256], drop[1024], out[1024], show[1024];
    int merge;
} settings_t;

#define F(x) offsetof (settings_t, x)
#define STR(x) F (x), sizeof ((settings_t *) 0)->x
static const fl_arg_t s_args[] = {
    {"data", FL_ARG_STR, STR (data), "CSV", "this member's CSV: write its vocabulary report to --out", FL_ARG_NO_RANGE},
    {"label", FL_ARG_STR, STR (label), "COLUMN", "with --data: the label column (default: the last column)", FL_ARG_NO_RANGE},
    {"drop", FL_ARG_STR, STR (drop), "COL,...", "with --data: columns to leave out (identifiers)", FL_ARG_NO_RANGE},
    {"merge", FL_ARG_FLAG, F (merge), 0, NULL, "merge the REPORT files given after the options into the schema --out", FL_ARG_NO_RANGE},
    {"out", FL_ARG_STR, STR (out), "FILE", "the report or schema to write", FL_ARG_NO_RANGE},
    {"show", FL_ARG_STR, STR (show), "FILE", "print what a report or schema holds", FL_ARG_NO_RANGE},
};
#undef F
#undef STR

static void
s_print (const char *path, const fl_schema_t *schema)
{
    char *map = fl_schema_label_mapping (schema);
    printf ("%s: label '%s', %zu classes; %zu features after encoding; %zu text columns with %zu categories\n",
            path, fl_schema_label (schema), fl_schema_classes (schema), fl_schema_features (schema),
            fl_schema_text_columns (schema), fl_schema_text_values (schema));
    if (map && map[0])
        printf ("%s: label mapping %s\n", path, map);
    free (map);
}

int
main (int argc, char **argv)
{
    settings_t s;
    memset (&s, 0, sizeof s);
    int first = argc;
    int rc = fl_args_parse (s_args, sizeof s_args / sizeof s_args[0], &s, argc, argv, "fl-schema", "schema",
                            "fl-schema --data CSV [--label COL] [--drop COLS] --out REPORT\n"
                            "       fl-schema --merge --out SCHEMA REPORT...\n"
                            "       fl-schema --show FILE",
                            "The vocabulary round with files (docs/DATA.md): each member writes a report of its\n"
                            "own CSV, the reports are merged into the consortium's schema, and every member\n"
                            "runs fl-client --data CSV --schema SCHEMA.",
                            &first);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    zsys_init ();
    char why[512];
    int modes = (s.data[0] != 0) + s.merge + (s.show[0] != 0);
    if (modes != 1 || ((s.data[0] || s.merge) && !s.out[0]) || (!s.merge && first < argc)) {
        fprintf (stderr, "fl-schema: give exactly one of --data (with --out), --merge (with --out and reports) "
                         "or --show; see --help\n");
        return 2;
    }
    if (s.show[0]) {
        fl_schema_t *schema = fl_schema_load (s.show, why, sizeof why);
        if (!schema) {
            fprintf (stderr, "fl-schema: %s\n", why);
            return 1;
        }
        s_print (s.show, schema);
        fl_schema_destroy (&schema);
        return 0;
    }
    fl_schema_t *schema = NULL;
    if (s.data[0]) {
        fl_csv_error_t err;
        fl_table_t *table = fl_table_load_csv (s.data, NULL, &err);
        schema = table ? fl_schema_from_table (table, s.label[0] ? s.label : NULL, s.drop, &err) : NULL;
        fl_table_destroy (&table);
        if (!schema) {
            fprintf (stderr, "fl-schema: %s\n", err.message);
            return 1;
        }
    }
    else {
        if (first >= argc) {
            fprintf (stderr, "fl-schema: --merge needs at least one report\n");
            return 2;
        }
        for (int i = first; i < argc; i++) {
            fl_schema_t *report = fl_schema_load (argv[i], why, sizeof why);
            if (!report) {
                fprintf (stderr, "fl-schema: %s\n", why);
                fl_schema_destroy (&schema);
                return 1;
            }
            if (!schema)
                schema = report;
            else {
                int m = fl_schema_merge (schema, report, why, sizeof why);
                fl_schema_destroy (&report);
                if (m != 0) {
                    fprintf (stderr, "fl-schema: %s: %s\n", argv[i], why);
                    fl_schema_destroy (&schema);
                    return 1;
                }
            }
        }
    }
    rc = fl_schema_save (schema, s.out) == 0 ? 0 : 1;
    if (rc == 0)
        s_print (s.out, schema);
    fl_schema_destroy (&schema);
    return rc;
}
