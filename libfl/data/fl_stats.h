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

/* ==== Fixed-point encoding for secure aggregation ========================

    Secure aggregation sums vectors in Z_2^32 (fl_secagg), but round 0
    statistics do not fit one 32-bit word: sum x^2 of raw features reaches
    ~1e16 (UCI credit bill amounts) and sum x is signed.  Each real value v
    becomes the signed fixed-point integer q = round(v * 2^F), F =
    FL_STATS_FIXED_FRAC_BITS, held as a 128-bit two's-complement number and
    split into FL_STATS_FIXED_LIMBS limbs of 16 bits (little-endian), each
    limb one Z_2^32 coordinate.  A limb is < 2^16, so the sum of up to
    FL_STATS_FIXED_MAX_SUMMANDS (65,535: a whole secure-aggregation bucket)
    encoded values never wraps a coordinate.  The decoder propagates carries
    (digit_k = (s_k + carry) mod 2^16, carry = (s_k + carry) >> 16), which
    reassembles the 128-bit two's-complement sum mod 2^128, the exact sum of
    the q's as long as it stays inside the signed range: |v| <
    2^FL_STATS_FIXED_MAX_BITS (= 2^(127 - F - 16)) at every client
    guarantees that for 65,535 summands.  Resolution 2^-F (~2.3e-10)
    per value; the decoded double is the exact integer sum rounded once to
    53 bits (relative error <= 2^-52 plus that of the final add).
    Why not one word: a 32-bit fixed point with a per-feature scale would
    need the scale, i.e. the feature's range, agreed in advance, and would
    still lose ~8 digits on sum x^2; 8 limbs cost 8 words per value
    (e.g. 488 words for 30 features), nothing next to a model update. */
#define FL_STATS_FIXED_FRAC_BITS   32
#define FL_STATS_FIXED_LIMBS       8u
#define FL_STATS_FIXED_MAX_BITS    79        /* 127 - FRAC_BITS - 16 */
#define FL_STATS_FIXED_MAX_SUMMANDS 65535u

/*  Encodes n doubles into out (n * FL_STATS_FIXED_LIMBS words, caller-
    allocated): out[8i + k] = limb k (bits 16k..16k+15) of the 128-bit two's
    complement of round(v[i] * 2^F) (rounding to nearest, ties to even).
    Returns 0, or -1 with a zsys_error naming the value (nothing written)
    if a value is not finite or |v| >= 2^FL_STATS_FIXED_MAX_BITS (its sum
    over a bucket could overflow the signed range). */
int fl_stats_fixed_encode (const double *v, size_t n, uint32_t *out);

/*  Decodes the mod-2^32 sum of `summands` encoded vectors (n values, n * 8
    words) into out (n doubles).  Returns -1 with a zsys_error (nothing
    written) if summands is 0 or > FL_STATS_FIXED_MAX_SUMMANDS, a limb sum
    exceeds summands * (2^16 - 1) (no honest sum does: tampered or
    mis-sized), or a value's magnitude is beyond what summands honest
    inputs can reach. */
int fl_stats_fixed_decode (const uint32_t *sum, size_t n, uint32_t summands, double *out);

/*  Length of a member's encoded statistics: (1 + 2d) values (count, sum,
    sumsq), FL_STATS_FIXED_LIMBS words each. */
size_t fl_stats_fixed_len (size_t d);

/*  Encodes self's (count, sum (d), sumsq (d)) into out (fl_stats_fixed_len
    (d) words).  -1 (logged) as fl_stats_fixed_encode. */
int fl_stats_to_fixed (const fl_stats_t *self, uint32_t *out);

/*  Statistics from a bucket's unmasked sum of `summands` members'
    fl_stats_to_fixed vectors (len words, d features).  Checks the decoded
    values: count a positive integer below 2^48, every sum finite, every
    sumsq >= 0 (up to the encoding's rounding, which is clamped away).
    NULL (logged) on any violation.  Caller owns. */
fl_stats_t *fl_stats_from_fixed (size_t d, const uint32_t *sum, size_t len, uint32_t summands);

#ifdef __cplusplus
}
#endif
#endif
