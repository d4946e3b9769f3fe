/*  fl_shard.c - local data of one member (see fl_shard.h). */
#include "fl_shard.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_partition.h"

#ifndef FL_DEFAULT_DATADIR
#define FL_DEFAULT_DATADIR "datasets"
#endif

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

const char *
fl_shard_default_datadir (void)
{
    const char *env = getenv ("FL_DATADIR");
    return env && env[0] ? env : FL_DEFAULT_DATADIR;
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
        if (fl_dataset_named (spec->dataset, dir, path, sizeof path, &named_label) != 0) {
            zsys_error ("data: unknown data set '%s' (known: wdbc, pima, ulb, uci_credit)", spec->dataset);
            return -1;
        }
        if (!label)
            label = named_label;
    }
    fl_csv_error_t err;
    fl_dataset_t *full = fl_dataset_load_csv (path, label, &err);
    if (!full) {
        zsys_error ("data: %s:%zu:%zu: %s", err.file, err.line, err.column, err.message);
        return -1;
    }
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
