/*  fl_stats - sufficient statistics for federated standardisation (round 0).

    Features must be standardised with the same mean and standard deviation at
    every client, or the one global model sees differently scaled inputs at
    each site.  Those must be the *federation's* statistics: a client that
    standardised with only its own shard's statistics would map the same raw
    value to different inputs than its peers (under label or site skew the
    shards' means differ a lot), and the trained model would not fit any
    site's data once deployed.  So, before training:

      1. each client accumulates (count, sum x_j, sum x_j^2) over its
         *training* rows only (test rows never inform preprocessing);
      2. the coordinator sums the clients' statistics (fl_stats_merge) -- the
         sums are the only thing that leaves a site, and they can travel
         through secure aggregation like any update;
      3. everyone finalises the sum to mean_j and population std_j and applies
         fl_dataset_standardise to its training and test rows.

    The sums are in double.  var = sumsq/n - mean^2 is the one-pass formula:
    it loses precision when |mean| >> std (catastrophic cancellation), so the
    result is clamped at 0.  With the bundled data (e.g. ULB "Time" up to
    1.7e5, mean 1.3e4, std 2.9e4) the loss is ~1e-16 * E[x^2] / var, negligible;
    a feature with |mean|/std above ~1e6 should be shifted before export.
    A std below FL_STATS_STD_FLOOR (constant feature) is reported as 1, so
    the feature becomes x - mean (all zeros) rather than a division by zero.
    docs/DATA.md has the protocol.
*/
#ifndef FL_STATS_H_INCLUDED
#define FL_STATS_H_INCLUDED

#include "fl_dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_STATS_STD_FLOOR 1e-12
#define FL_STATS_MAX_DIM   FL_CSV_MAX_COLUMNS

typedef struct fl_stats_t fl_stats_t;

/*  Zeroed statistics for d features (0 < d <= FL_STATS_MAX_DIM).  NULL
    (logged) on a bad d or allocation failure.  Caller owns. */
fl_stats_t *fl_stats_new (size_t d);

/*  Statistics received from the wire: copies count and the d-length sum and
    sumsq arrays after validating them (d in range, every value finite,
    sumsq >= 0, count 0 only with all-zero sums).  NULL (logged) otherwise. */
fl_stats_t *fl_stats_from_arrays (size_t d, uint64_t count, const double *sum,
                                  const double *sumsq);

/*  Frees, nulls *self_p; safe on NULL and twice. */
void fl_stats_destroy (fl_stats_t **self_p);

/*  Adds every row of ds (count += n, sum[j] += x_ij, sumsq[j] += x_ij^2).
    Returns -1 (logged, nothing changed) if ds has a different number of
    features. */
int fl_stats_accumulate (fl_stats_t *self, const fl_dataset_t *ds);

/*  acc += add, element-wise.  -1 (logged, acc unchanged) if dimensions differ
    or the count would overflow. */
int fl_stats_merge (fl_stats_t *acc, const fl_stats_t *add);

/*  Writes the d-length mean and population std (divisor n) as float:
        mean_j = sum_j / n
        std_j  = sqrt (max (0, sumsq_j / n - mean_j^2)), or 1 if below
                 FL_STATS_STD_FLOOR.
    Returns -1 (logged, nothing written) if count is 0 or a result is not
    finite in float. */
int fl_stats_finalize (const fl_stats_t *self, float *mean, float *std);

/*  The state that travels on the wire: d, count, sum (d), sumsq (d).  The
    arrays are owned by the statistics object. */
size_t fl_stats_dim (const fl_stats_t *self);
uint64_t fl_stats_count (const fl_stats_t *self);
const double *fl_stats_sum (const fl_stats_t *self);
const double *fl_stats_sumsq (const fl_stats_t *self);

#ifdef __cplusplus
}
#endif
#endif
