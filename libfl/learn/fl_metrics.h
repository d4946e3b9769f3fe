/*  fl_metrics - evaluation metrics, exact and federated.

    Exact metrics work on arrays of scores (probabilities) and labels held in
    one place: accuracy, log loss, AUROC, AUPRC (average precision),
    precision and recall at a threshold.

    Federated evaluation cannot pool the scores (they stay at the members), so
    each member summarises its test predictions in a fl_metrics_counts_t:
    plain counts, a summed log loss, a confusion matrix at threshold 0.5 and
    two histograms of scores (positives, negatives) over FL_METRICS_BINS
    equal bins of [0, 1].  Counts ADD: the coordinator merges members'
    counts with fl_metrics_counts_merge (or they can be summed under secure
    aggregation, being integers), then computes the metrics from the sum.
    Accuracy, log loss, precision and recall from merged counts are exact;
    AUROC and AUPRC are exact for the scores rounded down to their bin, i.e.
    examples in the same bin count as tied (error bounds in docs/TRAINING.md).

    Binary tasks (n_classes == 2, score = P(y = 1)) get every metric.
    Multi-class tasks get accuracy (argmax) and log loss only; AUROC, AUPRC,
    precision and recall are NAN for them.

    Definitions and sources:
      AUROC = P(score of a random positive > score of a random negative)
              + 0.5 P(equal), computed from average ranks (Mann-Whitney U:
              Hanley & McNeil 1982, Radiology 143:29); equals sklearn
              roc_auc_score.
      AUPRC = average precision, sum_n (R_n - R_{n-1}) P_n over the distinct
              score thresholds in decreasing order, examples with equal
              scores entering together (sklearn average_precision_score;
              not the trapezoidal area, which is optimistic: Davis & Goadrich
              2006).
      log loss = mean of -log p(true class), p clipped to
              [FL_METRICS_PROB_EPS, 1 - FL_METRICS_PROB_EPS] (sklearn log_loss
              clips the same way; our probabilities are float32).
      precision = TP / (TP + FP), recall = TP / (TP + FN), predicting positive
              when score >= threshold; 0 when the denominator is 0 (sklearn
              zero_division=0 behaviour).
*/
#ifndef FL_METRICS_H_INCLUDED
#define FL_METRICS_H_INCLUDED

#include "fl_model.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_METRICS_BINS 1000u
#define FL_METRICS_PROB_EPS 1e-7
/* Largest example count a counts struct may claim (checked on untrusted input). */
#define FL_METRICS_MAX_COUNT ((uint64_t) 1 << 48)

/* --- exact metrics from arrays ------------------------------------------------
   score (n): P(y = 1); y (n) in {0, 1}.  A label other than 0/1, n = 0 or
   no memory gives NAN and a log line. */

/*  Fraction with (score >= threshold) == y. */
double fl_metrics_accuracy (const float *score, const int32_t *y, size_t n, float threshold);

/*  Mean binary log loss (natural log). */
double fl_metrics_log_loss (const float *score, const int32_t *y, size_t n);

/*  Area under the ROC curve, ties counted half.  NAN (with a log line) if
    either class is absent.  O(n log n), allocates n indices. */
double fl_metrics_auroc (const float *score, const int32_t *y, size_t n);

/*  Average precision (sklearn definition).  NAN if there is no positive. */
double fl_metrics_auprc (const float *score, const int32_t *y, size_t n);

/*  Precision and recall of "score >= threshold".  -1 on bad input. */
int fl_metrics_precision_recall (const float *score, const int32_t *y, size_t n,
                                 float threshold, double *precision, double *recall);

/*  Multi-class: probs (n, k) row-major, y (n) in 0..k-1.  Accuracy of the
    argmax (first maximum on ties) and mean log loss of the true class. */
double fl_metrics_accuracy_multi (const float *probs, const int32_t *y, size_t n, size_t k);
double fl_metrics_log_loss_multi (const float *probs, const int32_t *y, size_t n, size_t k);


/* --- imbalance: calibration and an operating point ---------------------------
   For imbalanced tasks accuracy and the 0.5 cut-off say little (a 5%-positive
   table is 95% "accurate" with no positive ever flagged).  These give the
   Brier score (calibration) and precision / recall / F1 at an operating
   point the user chooses: a fixed threshold, or "flag the top fraction F of
   rows by score" (a review budget). */

/*  Brier score, binary: (1/n) sum_i (score_i - y_i)^2, in [0, 1]; lower is
    better (Brier 1950, Monthly Weather Review 78:1; equals sklearn
    brier_score_loss).  NAN (and a log line) on bad input. */
double fl_metrics_brier (const float *score, const int32_t *y, size_t n);

/*  Brier score, multi-class: (1/n) sum_i sum_c (probs[i,c] - [y_i = c])^2,
    in [0, 2] (Brier's original multi-category form; for K = 2 it is twice
    the binary form).  probs (n, k) row-major.  NAN on bad input. */
double fl_metrics_brier_multi (const float *probs, const int32_t *y, size_t n, size_t k);

/*  The smallest class's share of the labels y (n) in 0..k-1 (0 for a class
    that is absent); NAN on bad input.  fl-sim and the report lead with
    AUROC / AUPRC when it is below FL_METRICS_IMBALANCED. */
double fl_metrics_min_class_share (const int32_t *y, size_t n, size_t k);
#define FL_METRICS_IMBALANCED 0.2

/*  An operating point: rows with score >= threshold are flagged positive.
    precision = tp / flagged (NAN, "undefined", when nothing is flagged),
    recall = tp / (tp + fn) (NAN when there is no positive), F1 = 2 P R /
    (P + R) (NAN when P or R is; 0 when both are 0).  Unlike
    fl_metrics_precision_recall, undefined is NAN, never a made-up 0. */
typedef struct {
    double threshold;     /* the cut-off used (multi-class top fraction: NAN, one per class) */
    uint64_t flagged, tp, fp, fn;   /* multi-class: summed over the classes */
    double precision, recall, f1;   /* multi-class: macro averages over the classes where defined */
} fl_metrics_oppoint_t;

/*  Binary: the operating point of score (n) = P(y = 1) against y (n) in
    {0, 1}.  With top_fraction in (0, 1] the threshold is the score of the
    m-th highest row, m = max(1, ceil(top_fraction n)): the m highest rows
    are flagged, and rows tied with the m-th too (so flagged can exceed m);
    otherwise (top_fraction <= 0) threshold in [0, 1] is used as given.
    Returns 0, or -1 (a log line, *out all NAN / 0) on bad input, a threshold
    outside [0, 1] or a top_fraction above 1.  O(n log n) with top_fraction
    (allocates n floats), O(n) otherwise. */
int fl_metrics_oppoint (const float *score, const int32_t *y, size_t n, double threshold, double top_fraction,
                        fl_metrics_oppoint_t *out);

/*  Multi-class: one-vs-rest per class c (score probs[., c], positive y = c),
    each at the threshold or its own top fraction; precision, recall and F1
    macro-averaged over the classes where each is defined (NAN when none),
    counts summed.  probs (n, k) row-major.  0 or -1 as above. */
int fl_metrics_oppoint_multi (const float *probs, const int32_t *y, size_t n, size_t k, double threshold,
                              double top_fraction, fl_metrics_oppoint_t *out);

/* --- mergeable binned form ---------------------------------------------------- */

/*  Plain old data, fixed size, so it serialises as arrays of u64 and one
    double.  Invariants (fl_metrics_counts_check): n_classes is 0 (empty) or
    >= 2; n_correct <= n; for binary tp + fp + tn + fn == n and each
    histogram sums to its class count (tp + fn positives, fp + tn
    negatives); for multi-class the confusion counts and histograms are 0. */
typedef struct {
    uint64_t n_classes;                    /* 0 = nothing counted yet */
    uint64_t n;                            /* examples */
    uint64_t n_correct;                    /* binary: score >= 0.5 matches y; else argmax */
    uint64_t tp, fp, tn, fn;               /* binary, threshold 0.5 */
    double log_loss_sum;                   /* sum of clipped -log p(true class) */
    uint64_t hist_pos[FL_METRICS_BINS];    /* positives by score bin */
    uint64_t hist_neg[FL_METRICS_BINS];    /* negatives by score bin */
} fl_metrics_counts_t;

typedef struct {
    double accuracy;
    double log_loss;
    double auroc;        /* NAN: multi-class, or a class absent */
    double auprc;        /* NAN: multi-class, or no positives */
    double precision;    /* at 0.5; NAN for multi-class */
    double recall;       /* at 0.5; NAN for multi-class */
    uint64_t n;
} fl_metrics_summary_t;

/*  Bin of a score: floor(score * BINS), clamped to [0, BINS - 1]; NaN goes to 0. */
size_t fl_metrics_bin (float score);

/*  All zero (the identity of merge). */
void fl_metrics_counts_init (fl_metrics_counts_t *c);

/*  Adds the predictions probs (n, n_out) for labels y (n): n_out = 1 means
    binary with probs = P(y = 1), otherwise n_out = n_classes (softmax rows).
    -1 and a log line (c unchanged) on a label out of range, n_classes
    differing from what c already holds, or n_out == 0. */
int fl_metrics_counts_add (fl_metrics_counts_t *c, const float *probs, const int32_t *y,
                           size_t n, size_t n_out);

/*  Resets *out and fills it from m's predictions on x (n, n_inputs), y (n);
    predictions in chunks (no n-sized allocation).  -1 and a log line on bad
    labels or no memory. */
int fl_metrics_counts_from_model (fl_model_t *m, const float *x, const int32_t *y, size_t n,
                                  fl_metrics_counts_t *out);

/*  acc += add, field by field.  Merging an empty counts is a no-op either
    way.  If both are non-empty and their n_classes differ the merge is
    meaningless: acc is poisoned (n_classes = UINT64_MAX, every summary field
    NAN) and a line is logged; validate decoded counts with
    fl_metrics_counts_check first. */
void fl_metrics_counts_merge (fl_metrics_counts_t *acc, const fl_metrics_counts_t *add);

/*  Checks the invariants above and n <= FL_METRICS_MAX_COUNT, log_loss_sum
    finite and >= 0: use on counts decoded from the network.  -1 and a log
    line on any violation. */
int fl_metrics_counts_check (const fl_metrics_counts_t *c);

/*  Metrics from (merged) counts.  Every field NAN and n = 0 when c is empty
    or poisoned. */
void fl_metrics_counts_summary (const fl_metrics_counts_t *c, fl_metrics_summary_t *out);

/*  Bound on |binned AUROC - exact AUROC| for the scores behind c: pairs
    (positive, negative) in the same bin count 1/2 in the binned form and 0,
    1/2 or 1 in the exact one, so the error is at most
        (1/2) sum_b hist_pos[b] hist_neg[b] / (P N).
    NAN when AUROC is undefined (multi-class, a class absent, empty). */
double fl_metrics_counts_auroc_bound (const fl_metrics_counts_t *c);


/*  From the histograms (binary counts only; federated evaluation, where the
    exact scores stay at the members): the Brier score with every score taken
    at its bin's midpoint, within 1 / FL_METRICS_BINS of the exact one
    (|(s - y)^2 - (m - y)^2| = |s - m| |s + m - 2y| <= 1/(2 BINS) * 2).  NAN
    for multi-class or empty counts. */
double fl_metrics_counts_brier (const fl_metrics_counts_t *c);

/*  From the histograms (binary only): the operating point flagging whole
    bins from the top.  With top_fraction in (0, 1]: the fewest top bins
    holding at least max(1, ceil(top_fraction n)) rows (threshold = the
    lowest flagged bin's lower edge); otherwise the bins from the one holding
    threshold upwards (exact when threshold * FL_METRICS_BINS is an integer,
    else rows of that bin below the threshold are flagged too).  0, or -1
    (*out NAN / 0) for multi-class or empty counts or an out-of-range
    argument. */
int fl_metrics_counts_oppoint (const fl_metrics_counts_t *c, double threshold, double top_fraction,
                               fl_metrics_oppoint_t *out);

/*  Federated evaluation under secure aggregation (docs/SECAGG.md): a
    member's counts as a vector in Z_2^32, summed over a bucket and decoded
    by the coordinator.  Layout (words):
      [0] n, [1] n_correct, [2..9] log_loss_sum in the 8-limb fixed point of
      fl_stats_fixed_encode, and for binary tasks (n_classes == 2) then
      tp, fp, tn, fn, hist_pos (FL_METRICS_BINS), hist_neg (FL_METRICS_BINS).
    Multi-class tasks stop after the log loss.  Every count of a member is
    <= its n, so refusing n > (2^32 - 1) / max_summands makes every
    bucket-wide sum exact (no wrap). */

/*  Words of the vector for n_classes (0 if n_classes is out of range). */
size_t fl_metrics_counts_encoded_len (uint64_t n_classes);

/*  Encodes c into out (fl_metrics_counts_encoded_len (n_classes) words).
    -1 (logged, nothing written) if c fails fl_metrics_counts_check, holds
    another n_classes, max_summands is 0, c->n > (2^32 - 1) / max_summands,
    or the log loss cannot be encoded. */
int fl_metrics_counts_encode (const fl_metrics_counts_t *c, uint64_t n_classes, uint32_t max_summands,
                              uint32_t *out);

/*  Decodes the unmasked sum of `summands` encoded vectors (len words) into
    *out and validates it with fl_metrics_counts_check (histograms add up to
    the class counts, ...), and n > 0.  -1 (logged, *out zeroed) otherwise. */
int fl_metrics_counts_decode (const uint32_t *sum, size_t len, uint64_t n_classes, uint32_t summands,
                              fl_metrics_counts_t *out);


/* --- curves from the binned form (the run report's plots) ----------------------

   The counts hold, per score bin b (scores in [b/BINS, (b+1)/BINS)), how many
   positives and negatives scored there.  Predicting positive when a score's
   bin is >= b is one threshold; sweeping b from BINS down to 0 gives the ROC
   and precision-recall curves at the BINS + 1 bin boundaries, exactly (no
   approximation beyond the binning itself: an example's score is known only
   to its bin).  The trapezoidal area under these ROC points equals the binned
   AUROC of fl_metrics_counts_summary (ties within a bin count 1/2). */

/*  One operating point: predict positive when bin(score) >= bin, i.e.
    score >= threshold = bin / FL_METRICS_BINS. */
typedef struct {
    double threshold;    /* bin / FL_METRICS_BINS, in [0, 1] */
    uint64_t tp, fp;     /* positives / negatives predicted positive */
    double tpr;          /* recall = tp / P */
    double fpr;          /* fp / N */
    double precision;    /* tp / (tp + fp); NAN when nothing is predicted positive */
} fl_metrics_curve_point_t;

/*  The ROC / PR operating points of binary counts c, strictly decreasing
    threshold: the first point predicts nothing positive (threshold 1 + 1/BINS,
    tp = fp = 0), then one point per non-empty bin from the highest score
    down, the last predicting everything positive.  Writes at most cap points
    to out (cap >= FL_METRICS_BINS + 1 always suffices) and returns how many
    there are; 0 when the curve is undefined (c not binary, empty or
    poisoned, or a class absent).  Allocates nothing. */
size_t fl_metrics_counts_curve (const fl_metrics_counts_t *c, fl_metrics_curve_point_t *out, size_t cap);

/*  One group of a reliability (calibration) diagram. */
typedef struct {
    double lo, hi;       /* the score range [lo, hi) of the group */
    double predicted;    /* mean score of its examples, each taken at its bin's midpoint */
    double observed;     /* fraction of its examples that are positive */
    uint64_t n;          /* its examples */
} fl_metrics_calib_t;

/*  Reliability diagram of binary counts c: the score range cut into groups
    equal parts (groups must divide FL_METRICS_BINS: 10, 20, 25, 50, ...);
    writes the non-empty groups, lowest scores first, to out (groups entries
    suffice) and returns how many; 0 when c is not binary or empty or groups
    does not divide FL_METRICS_BINS.  The predicted value is exact to within
    half a bin (1 / (2 BINS)).  Calibration: Niculescu-Mizil & Caruana,
    "Predicting good probabilities with supervised learning", ICML 2005, §2
    (reliability diagrams); sklearn.calibration.calibration_curve with
    strategy "uniform". */
size_t fl_metrics_counts_calibration (const fl_metrics_counts_t *c, size_t groups, fl_metrics_calib_t *out);

#ifdef __cplusplus
}
#endif
#endif
