/*  fl_shard - a member's local data: a CSV file of its own, or (for trials
    and simulations) one partition of a bundled data set; then a seeded,
    stratified train/test split.

    fl-client and fl-sim both build shards through this one function, so the
    centralised and local-only baselines fl-sim prints use exactly the rows
    each simulated client trains and evaluates on.
*/
#ifndef FL_SHARD_H_INCLUDED
#define FL_SHARD_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char data[1024];          /* CSV path; when set, the whole file is this member's data */
    char label[128];          /* label column ("" = the data set's default / last column) */
    char dataset[64];         /* bundled data set name (wdbc, pima, ulb, uci_credit) */
    char datadir[1024];       /* where bundled data sets live ("" = built-in default) */
    size_t partitions;        /* N members the data set is split across (<= 1: whole data) */
    size_t index;             /* this member's partition, 0..N-1 */
    char partition[16];       /* iid | dirichlet | column */
    double alpha;             /* Dirichlet concentration */
    char column[128];         /* partition column (kind "column") */
    uint64_t seed;            /* partition and split seed (same for every member of a trial) */
    double test_fraction;     /* held-out share of the member's rows */
    char schema[1024];        /* the consortium's schema file (fl_schema.h); "" = none */
    char drop[1024];          /* comma-separated columns to leave out (without a schema) */
    char missing[16];         /* missing cells: "impute" (default, "") | "error" */
} fl_shard_spec_t;

/*  Defaults: dataset wdbc, dirichlet alpha 0.5, seed 1, test fraction 0.2. */
void fl_shard_spec_default (fl_shard_spec_t *spec);

/*  The default directory of bundled data sets: $FL_DATADIR when set, else
    the first that exists of: the install's share/libfl/datasets relative to
    the running program, then relative to libfl.so, the source tree's
    datasets/ (in-tree builds), the compiled-in install directory
    (fl_install.h has the reasons).  When none exists, the first candidate
    (loading from it then fails with a clear error).  A static string, never
    NULL; found once per process (thread-safe). */
const char *fl_shard_default_datadir (void);

/*  Loads the spec's rows and splits them.  *train and *test are new data
    sets owned by the caller.  A file with text columns or missing values is
    encoded by fl_schema with spec->schema (required for a member's own
    file; a bundled data set every member reads whole uses its own).  -1
    with one log line per error (CSV errors name the file, line and column)
    on any failure. */
int fl_shard_load (const fl_shard_spec_t *spec, fl_dataset_t **train, fl_dataset_t **test);

#ifdef __cplusplus
}
#endif
#endif
