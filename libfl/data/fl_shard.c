/*  fl_shard.c - local data of one member (see fl_shard.h). */
#include "fl_shard.h"

#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_install.h"
#include "fl_partition.h"
#include "fl_schema.h"
#include "fl_table.h"


void
fl_shard_spec_default (fl_shard_spec_t *spec)
{
    memset (spec, 0, sizeof *spec);
    snprintf (spec->dataset, sizeof spec->dataset, "wdbc");
    snprintf (spec->partition, sizeof spec->partition, "dirichlet");
    spec->alpha = 0.5;
    spec->seed = 1;
    spec->test_fraction = 0.2;
}

/* The bundled data sets' directory, found once (fl_install.h); when none of
   the candidates exists, the first one, so the error names a path. */
static char s_datadir[4096];
static pthread_once_t s_datadir_once = PTHREAD_ONCE_INIT;

static void
s_datadir_find (void)
{
    if (fl_install_find (FL_INSTALL_DATASETS, "", s_datadir, sizeof s_datadir) != 0) {
        char *comma = strstr (s_datadir, ", ");
        if (comma)
            *comma = '\0';
    }
}

const char *
fl_shard_default_datadir (void)
{
    const char *env = getenv ("FL_DATADIR");
    if (env && env[0])
        return env;
    pthread_once (&s_datadir_once, s_datadir_find);
    return s_datadir;
}

/*  A CSV with text columns or missing values: the text table, encoded with
    the consortium's schema (--schema), or, for a bundled data set every
    member reads whole, or a numeric file with --drop, with the schema of
    this file.  A member's own file with text or missing cells and no schema
    is refused: its own vocabulary would not match the other members'. */
static fl_dataset_t *
s_load_encoded (const fl_shard_spec_t *spec, const char *path, const char *label)
{
    fl_schema_missing_t missing = FL_SCHEMA_MISSING_IMPUTE;
    if (spec->missing[0] && fl_schema_missing_parse (spec->missing, &missing) != 0) {
        zsys_error ("data: missing-value policy '%s': expected impute or error", spec->missing);
        return NULL;
    }
    fl_csv_error_t err;
    fl_table_t *table = fl_table_load_csv (path, NULL, &err);
    if (!table) {
        zsys_error ("data: %s", err.message);
        return NULL;
    }
    fl_schema_t *schema = NULL;
    fl_dataset_t *ds = NULL;
    if (spec->schema[0]) {
        char why[512];
        schema = fl_schema_load (spec->schema, why, sizeof why);
        if (!schema)
            zsys_error ("data: schema %s", why);
        else if (label && strcmp (label, fl_schema_label (schema)) != 0) {
            zsys_error ("data: the label column is '%s' but the schema %s names '%s'", label, spec->schema,
                        fl_schema_label (schema));
            fl_schema_destroy (&schema);
        }
        else if (spec->drop[0])
            zsys_warning ("data: the columns to drop are ignored: the schema %s says which columns are dropped", spec->schema);
    }
    else {
        schema = fl_schema_from_table (table, label, spec->drop, &err);
        if (!schema)
            zsys_error ("data: %s", err.message);
        else if (spec->data[0] && (fl_schema_text_columns (schema) || fl_schema_label_value (schema, 0))) {
            zsys_error ("data: %s has text columns or a text label: every member must encode them with the "
                        "consortium's schema (a schema file made by fl-schema; docs/DATA.md)", path);
            fl_schema_destroy (&schema);
        }
    }
    if (schema) {
        ds = fl_schema_encode (schema, table, missing, &err);
        if (!ds)
            zsys_error ("data: %s", err.message);
    }
    fl_schema_destroy (&schema);
    fl_table_destroy (&table);
    return ds;
}

int
fl_shard_load (const fl_shard_spec_t *spec, fl_dataset_t **train, fl_dataset_t **test)
{
    *train = *test = NULL;
    char path[2048];
    const char *label = spec->label[0] ? spec->label : NULL;
    if (spec->data[0])
        snprintf (path, sizeof path, "%s", spec->data);
    else {
        const char *named_label = NULL;
        const char *dir = spec->datadir[0] ? spec->datadir : fl_shard_default_datadir ();
        if (fl_dataset_named (spec->dataset, dir, path, sizeof path, &named_label) != 0)
            return -1;                  /* logged, with the known names */
        if (!label)
            label = named_label;
    }
    fl_dataset_t *full = NULL;
    if (spec->schema[0] || spec->drop[0] || (spec->missing[0] && strcmp (spec->missing, "impute") != 0)
        || fl_dataset_named_has_text (spec->data[0] ? NULL : spec->dataset))
        full = s_load_encoded (spec, path, label);
    else {
        fl_csv_error_t err;
        full = fl_dataset_load_csv (path, label, &err);
        if (!full) {
            zsys_error ("data: %s", err.message);       /* the message names file:line:column */
            if (err.code == FL_CSV_EFIELD || err.code == FL_CSV_ELABEL)
                zsys_error ("data: a CSV with text columns, text labels or missing values needs the consortium's "
                            "schema (a schema file made by fl-schema; docs/DATA.md)");
        }
    }
    if (!full)
        return -1;
    fl_dataset_t *mine = full;
    if (!spec->data[0] && spec->partitions > 1) {
        fl_partition_kind_t kind = fl_partition_kind_parse (spec->partition);
        if (kind == FL_PARTITION_UNKNOWN) {
            zsys_error ("data: unknown partition '%s' (iid, dirichlet, column)", spec->partition);
            fl_dataset_destroy (&full);
            return -1;
        }
        if (spec->index >= spec->partitions) {
            zsys_error ("data: partition index %zu is not below the number of partitions %zu", spec->index,
                        spec->partitions);
            fl_dataset_destroy (&full);
            return -1;
        }
        mine = fl_dataset_shard (full, kind, spec->partitions, spec->index, spec->alpha,
                                 spec->column[0] ? spec->column : NULL, spec->seed);
        fl_dataset_destroy (&full);
        if (!mine)
            return -1;
    }
    int rc = fl_dataset_split (mine, spec->test_fraction, spec->seed, train, test);
    fl_dataset_destroy (&mine);
    if (rc != 0)
        zsys_error ("data: cannot split %s into train and test (test fraction %g)", path, spec->test_fraction);
    return rc;
}
