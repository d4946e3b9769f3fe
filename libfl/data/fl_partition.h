/*  fl_partition - splitting one data set across N simulated clients.

    A partition is N lists of row indices into a data set, together covering
    every row exactly once (each list sorted ascending).  Three schemes:

    IID        rows shuffled with the seed, cut into N near-equal slices
               (sizes differ by at most one).

    DIRICHLET  label skew.  For every class c independently, proportions
               p_c ~ Dir(alpha, ..., alpha) over the N clients are drawn (each
               component Gamma(alpha, 1), normalised; fl_rng_gamma), and the
               class's shuffled rows are cut at round(cumsum(p_c) * n_c).
               Small alpha (0.1) gives clients dominated by one class; large
               alpha (100) approaches IID.  This is the per-class formulation
               of Yurochkin et al. 2019 ("Bayesian nonparametric federated
               learning of neural networks", ICML) and Wang et al. 2020
               (FedMA, ICLR); Hsu, Qi & Brown 2019 ("Measuring the effects of
               non-identical data distribution for federated visual
               classification", arXiv:1909.06335, sec. 3) draw the
               transposed vector (a client's class mix q ~ Dir(alpha p)); both
               interpolate between IID (alpha -> inf) and one class per client
               (alpha -> 0).
               Minimum size rule: every client must get at least min_rows rows.
               The draw is repeated (up to FL_PARTITION_MAX_DRAWS times, each
               from the same seeded stream, so still reproducible) until it
               does, as the reference implementations do; if no draw
               satisfies it, the last draw is topped up: a deficient client
               receives random rows from the currently largest client until
               it has min_rows.  fl_partition_redraws() reports which happened.

    COLUMN     natural partition by a site column: each distinct value of the
               named feature (sorted ascending) is one client, so client i
               holds the rows whose value is the i-th smallest.  The number of
               distinct values must equal N.

    The same (data set, scheme, N, alpha, column, seed) gives the same
    partition on every machine.
*/
#ifndef FL_PARTITION_H_INCLUDED
#define FL_PARTITION_H_INCLUDED

#include "fl_dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FL_PARTITION_UNKNOWN = -1,
    FL_PARTITION_IID = 0,
    FL_PARTITION_DIRICHLET = 1,
    FL_PARTITION_COLUMN = 2
} fl_partition_kind_t;

#define FL_PARTITION_MAX_CLIENTS  65536u
#define FL_PARTITION_MIN_ROWS     10u       /* default min rows per client (Dirichlet) */
#define FL_PARTITION_MAX_DRAWS    1000u
#define FL_PARTITION_STREAM       0x7061727469ull   /* "parti": fl_rng stream */

typedef struct {
    /* Dirichlet: minimum rows per client.  0 = min (FL_PARTITION_MIN_ROWS,
       floor (n / N)).  Must satisfy N * min_rows <= n. */
    size_t min_rows;
    /* fl_dataset_shard with COLUMN: drop the site column from the shard's
       features (default true when options are NULL; set explicitly here). */
    bool drop_column;
} fl_partition_options_t;

typedef struct fl_partition_t fl_partition_t;

/*  "iid", "dirichlet", "column" -> kind; anything else FL_PARTITION_UNKNOWN. */
fl_partition_kind_t fl_partition_kind_parse (const char *name);
/*  The inverse; "unknown" for others. */
const char *fl_partition_kind_str (fl_partition_kind_t kind);

/*  Partitions ds's rows across n_clients (1..FL_PARTITION_MAX_CLIENTS, and
    <= rows).  alpha (> 0, finite) is used by DIRICHLET only; column (a
    feature name) by COLUMN only.  seed selects the fl_rng stream
    (seed, FL_PARTITION_STREAM).  opts may be NULL (defaults).  Returns a new
    partition (caller owns) or NULL, logged, for: unknown kind, bad n_clients
    or alpha, N * min_rows > n, COLUMN with a missing column or a number of
    distinct values != n_clients, allocation failure. */
fl_partition_t *fl_partition_new (const fl_dataset_t *ds, fl_partition_kind_t kind,
                                  size_t n_clients, double alpha, const char *column,
                                  uint64_t seed);
fl_partition_t *fl_partition_new_opts (const fl_dataset_t *ds, fl_partition_kind_t kind,
                                       size_t n_clients, double alpha, const char *column,
                                       uint64_t seed, const fl_partition_options_t *opts);

/*  Frees, nulls *self_p; safe on NULL and twice. */
void fl_partition_destroy (fl_partition_t **self_p);

size_t fl_partition_clients (const fl_partition_t *self);
/*  Rows of client i (i < N): fl_partition_size() indices, sorted ascending,
    owned by the partition. */
size_t fl_partition_size (const fl_partition_t *self, size_t i);
const uint32_t *fl_partition_rows (const fl_partition_t *self, size_t i);
/*  Rows of client i with label c (0 if c >= K). */
size_t fl_partition_label_count (const fl_partition_t *self, size_t i, size_t c);
/*  COLUMN: the site value of client i (NAN for other kinds). */
double fl_partition_column_value (const fl_partition_t *self, size_t i);
/*  DIRICHLET: number of draws made (1 = first draw met min_rows);
    FL_PARTITION_MAX_DRAWS + 1 means the top-up rule was applied.  0 otherwise. */
size_t fl_partition_redraws (const fl_partition_t *self);

/*  Convenience for one simulated client: partitions full and returns a copy of
    client index's rows (a new data set, caller owns).  With COLUMN and
    drop_column (the default when opts is NULL) the site column is removed
    from the shard's features.  NULL (logged) on any fl_partition_new error
    or index >= n_clients. */
fl_dataset_t *fl_dataset_shard (const fl_dataset_t *full, fl_partition_kind_t kind,
                                size_t n_clients, size_t index, double alpha,
                                const char *column, uint64_t seed);
fl_dataset_t *fl_dataset_shard_opts (const fl_dataset_t *full, fl_partition_kind_t kind,
                                     size_t n_clients, size_t index, double alpha,
                                     const char *column, uint64_t seed,
                                     const fl_partition_options_t *opts);

#ifdef __cplusplus
}
#endif
#endif
