/*  fl_gbdt - gradient-boosted decision trees over pre-binned features: the
    centralised core the federated trainer (issue 18) is built on.

    The algorithm is XGBoost's (Chen and Guestrin 2016, "XGBoost: A Scalable
    Tree Boosting System", KDD): second-order split gain and leaf weights
    (sec. 2.2, eq. 5-7), split finding over histogram bins (the approximate
    algorithm of sec. 3.1 with fixed bins, as tree_method=hist), the
    sparsity-aware default direction for missing values (sec. 3.4, alg. 3),
    trees grown level by level (depth-wise) to max_depth.

    The steps are separate functions so the federated version can put a
    secure sum between them:

        fl_gbdt_fine_histogram     rows -> counts over a fine equal-width grid
                                   (summed over members)
        fl_gbdt_bins_from_histogram  summed counts -> B quantile edges per feature
        fl_gbdt_bins_apply         rows -> bin indices (bin 0 = missing)
        fl_gbdt_hist_build         rows of one node -> (gradient, hessian) per
                                   feature and bin (summed over members)
        fl_gbdt_split_find         a node's histogram -> its best split
        fl_gbdt_split_check        a split received from elsewhere, validated

    Layout of a node histogram: d features x stride bins x 2 doubles
    (gradient sum, hessian sum), stride = fl_gbdt_bins_stride (max_bins + 1);
    bin 0 of each feature holds the rows whose value is missing (NaN), bins
    1..n_bins(f) the values in order.  The same layout on every member, so
    histograms add element-wise.

    A value x of feature f is in value bin 1 + #{edges e of f : e <= x}: the
    edges are thresholds, "x < edge" is the left side.  A split (f, b) sends
    value bins 1..b left and b+1.. right; missing values go the split's
    default direction.  docs/TREES.md describes the whole and its measured
    agreement with XGBoost.
*/
#ifndef FL_GBDT_H_INCLUDED
#define FL_GBDT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_GBDT_MAX_BINS      1024u     /* value bins per feature (bin 0 = missing is extra) */
#define FL_GBDT_MAX_FEATURES  4096u
#define FL_GBDT_MAX_FINE      65536u    /* cells of the fine grid per feature */
#define FL_GBDT_MAX_DEPTH     16u
#define FL_GBDT_MAX_TREES     100000u
#define FL_GBDT_MAX_CLASSES   1024u
#define FL_GBDT_MISSING_BIN   0u
/*  XGBoost's kRtEps: a split must improve the objective by more than this. */
#define FL_GBDT_MIN_GAIN      1e-6
/*  XGBoost's floor on a logistic / softmax row hessian. */
#define FL_GBDT_MIN_HESS      1e-16

/* ---------------------------------------------------------------------------
   Bins
   ------------------------------------------------------------------------- */

typedef struct fl_gbdt_bins_t fl_gbdt_bins_t;

/*  Adds rows x (n, d) row-major float32 to counts (d, n_fine) row-major:
    for feature f, a finite value v lands in cell
    clamp(floor((v - lo[f]) / (hi[f] - lo[f]) * n_fine), 0, n_fine - 1)
    (values outside [lo, hi] go to the end cells; lo == hi puts everything in
    cell 0).  NaN (missing) values are not counted.  counts is added to, not
    cleared, so members' counts can be summed.  Returns 0; -1 (logged,
    nothing changed) on NULL pointers, d or n_fine out of range
    (1..FL_GBDT_MAX_FEATURES, 1..FL_GBDT_MAX_FINE), a non-finite lo/hi or
    hi < lo. */
int fl_gbdt_fine_histogram (const float *x, size_t n, size_t d, const double *lo, const double *hi,
                            size_t n_fine, double *counts);

/*  Derives quantile bin edges from a fine histogram (counts (d, n_fine) over
    the grid [lo[f], hi[f]] of fl_gbdt_fine_histogram, e.g. summed over the
    members).  For each feature, edge k (k = 1..max_bins-1) is the upper
    boundary of the first cell where the cumulative count reaches
    k / max_bins of the feature's total: lo + (c + 1) (hi - lo) / n_fine.
    Duplicate edges and edges at or beyond the last non-empty cell's upper
    boundary are dropped, so a feature gets at most max_bins value bins and
    no empty trailing bin (a constant feature gets one).  This is the
    weighted-quantile idea of sec. 3.3 with unit weights, resolved to the
    fine grid.  Returns new bins (caller owns; fl_gbdt_bins_destroy) or NULL
    (logged) on NULL pointers, d, n_fine or max_bins out of range
    (max_bins 1..FL_GBDT_MAX_BINS), negative or non-finite counts, bad
    lo/hi. */
fl_gbdt_bins_t *fl_gbdt_bins_from_histogram (const double *counts, size_t d, size_t n_fine,
                                             const double *lo, const double *hi, size_t max_bins);

/*  Convenience for pooled data: lo/hi are the finite min/max of each
    feature over x (0/0 if a feature is all missing), a fine histogram of
    n_fine cells, then fl_gbdt_bins_from_histogram.  NULL (logged) on the
    same errors or n == 0. */
fl_gbdt_bins_t *fl_gbdt_bins_new (const float *x, size_t n, size_t d, size_t n_fine, size_t max_bins);

/*  Bins from explicit edges (e.g. received from a coordinator): edges is
    (d, max_bins - 1) row-major, n_edges[f] of them used per feature, each
    row strictly increasing and finite.  NULL (logged) on any violation
    (this is the members' check of the coordinator's bins). */
fl_gbdt_bins_t *fl_gbdt_bins_from_edges (const float *edges, const uint32_t *n_edges, size_t d,
                                         size_t max_bins);

/*  Frees the bins, nulls *self_p; safe on NULL and twice. */
void fl_gbdt_bins_destroy (fl_gbdt_bins_t **self_p);

size_t fl_gbdt_bins_features (const fl_gbdt_bins_t *self);      /* d */
size_t fl_gbdt_bins_max (const fl_gbdt_bins_t *self);           /* max_bins */
/*  Histogram stride per feature: max_bins + 1 (bin 0 = missing). */
size_t fl_gbdt_bins_stride (const fl_gbdt_bins_t *self);
/*  Value bins of feature f (1..max_bins; 0 if f >= d). */
size_t fl_gbdt_bins_count (const fl_gbdt_bins_t *self, size_t f);
/*  Edge k (0 <= k < count - 1) of feature f: values < edge are in bins <= k + 1.
    NAN if out of range. */
float fl_gbdt_bins_edge (const fl_gbdt_bins_t *self, size_t f, size_t k);

/*  Bin index of each value of x (n, d) into out (n, d) uint16: 0 for NaN,
    else 1 + number of edges <= x.  Returns 0; -1 (logged) on NULL or a
    width mismatch (d != fl_gbdt_bins_features). */
int fl_gbdt_bins_apply (const fl_gbdt_bins_t *self, const float *x, size_t n, size_t d, uint16_t *out);

/* ---------------------------------------------------------------------------
   Histograms and splits (one node)
   ------------------------------------------------------------------------- */

typedef struct {
    double lambda;              /* L2 on leaf weights (XGBoost reg_lambda), >= 0 */
    double min_child_weight;    /* least hessian sum in each child, >= 0 */
} fl_gbdt_split_param_t;

/*  A node's best split.  feature -1: no split improves the objective by
    more than FL_GBDT_MIN_GAIN under the constraints (the node is a leaf).
    Left = value bins 1..bin, plus missing when default_left; bin is 0 only
    with default_left (left = the missing rows only). */
typedef struct {
    int32_t feature;
    uint32_t bin;
    bool default_left;
    double gain;                /* eq. 7 without the 1/2 and gamma, as XGBoost's loss_chg */
    double g_left, h_left;      /* gradient/hessian sums of the left child */
    double g_right, h_right;
} fl_gbdt_split_t;

/*  Clears hist (d * stride * 2 doubles) and adds, for each row rows[i]
    (i < n_rows) of the binned matrix xb (n, d), grad[row] and hess[row]
    into feature f's bin xb[row][f], for every f (Chen & Guestrin alg. 2's
    G_kv, H_kv).  stride = fl_gbdt_bins_stride.  Returns 0; -1 (logged) on
    NULL pointers (rows may be NULL with n_rows 0), a row index >= n or a
    bin >= stride. */
int fl_gbdt_hist_build (const uint16_t *xb, size_t n, size_t d, size_t stride, const float *grad,
                        const float *hess, const uint32_t *rows, size_t n_rows, double *hist);

/*  Gain of a split, XGBoost's loss_chg (eq. 7 times 2, gamma 0):
    G_L^2/(H_L+lambda) + G_R^2/(H_R+lambda) - (G_L+G_R)^2/(H_L+H_R+lambda). */
double fl_gbdt_gain (double gl, double hl, double gr, double hr, double lambda);

/*  Optimal leaf weight, eq. 5: -G / (H + lambda); 0 when H < min_child_weight
    or H <= 0 (as XGBoost's CalcWeight).  Not yet scaled by the learning rate. */
double fl_gbdt_leaf_weight (double g, double h, const fl_gbdt_split_param_t *p);

/*  Best split of a node from its histogram (layout above; e.g. the sum of
    the members' fl_gbdt_hist_build outputs).  For each feature f in order,
    scans value bins left to right with missing values going right
    (default right), then, if the node has missing values of f, right to
    left with them going left, down to bin 0 (left = the missing rows only)
    (alg. 3); a candidate is kept when both children have hessian >=
    min_child_weight and its gain beats the best so far strictly (ties keep
    the lower feature, the forward scan's lowest bin, the backward scan's
    highest, as XGBoost 1.7).
    The node totals are taken from feature 0's bins.  Writes *out (feature
    -1 if no split beats FL_GBDT_MIN_GAIN) and returns 0; -1 (logged) on
    NULL pointers, a negative or non-finite hessian, or a non-finite sum
    (a corrupt or hostile histogram), or bad parameters. */
int fl_gbdt_split_find (const fl_gbdt_bins_t *bins, const double *hist, const fl_gbdt_split_param_t *p,
                        fl_gbdt_split_t *out);

/* ---------------------------------------------------------------------------
   The model
   ------------------------------------------------------------------------- */

/*  One node of a tree.  Internal: feature >= 0, children indices within
    the same tree (> own index); left = value bins 1..bin (x < threshold)
    plus missing when default_left.  Leaf: feature -1, value = eta * weight. */
typedef struct {
    int32_t feature;
    uint32_t bin;
    uint8_t default_left;
    int32_t left, right;
    float threshold;            /* edge: values < threshold go left; +inf = all values, -inf = none */
    float value;                /* leaf output (learning rate applied); 0 for internal */
    double gain;                /* split gain (internal) */
    double sum_hess;            /* hessian sum ("cover") of the node */
} fl_gbdt_node_t;

typedef struct {
    size_t trees;               /* boosting rounds (x n_groups trees for softmax) */
    size_t max_depth;           /* 1..FL_GBDT_MAX_DEPTH */
    double eta;                 /* learning rate, (0, 1] */
    double lambda;              /* >= 0 */
    double min_child_weight;    /* >= 0 */
    double subsample;           /* row fraction per tree, (0, 1]; 1 = all rows */
    uint64_t seed;              /* for subsample (fl_rng stream) */
} fl_gbdt_param_t;

/*  Defaults, XGBoost's: 100 trees, depth 6, eta 0.3, lambda 1,
    min_child_weight 1, subsample 1, seed 0. */
fl_gbdt_param_t fl_gbdt_param_default (void);

typedef struct fl_gbdt_t fl_gbdt_t;

/*  Trains on binned rows xb (n, d) (fl_gbdt_bins_apply with bins) and labels
    y in [0, n_classes).  n_classes 2: binary logistic, one tree per round,
    margin starts at 0 (base_score 0.5), g = p - y, h = max(p(1-p), 1e-16).
    n_classes > 2: softmax, n_classes trees per round, g_k = p_k - [y = k],
    h_k = max(2 p_k (1 - p_k), 1e-16) (as XGBoost's multi:softprob).
    Each tree grows depth-wise: per level, for each open node
    fl_gbdt_hist_build then fl_gbdt_split_find; leaves get
    eta * fl_gbdt_leaf_weight.  With subsample < 1 each tree uses a random
    subset of rows (each kept with probability subsample; fl_rng with seed).
    The model keeps a copy of bins.  Returns the model (caller owns) or NULL
    (logged) on NULL pointers, n == 0, a width mismatch, a label or bin out
    of range, or bad parameters. */
fl_gbdt_t *fl_gbdt_train (const fl_gbdt_bins_t *bins, const uint16_t *xb, const int32_t *y, size_t n,
                          size_t n_classes, const fl_gbdt_param_t *param);

/*  Frees the model, nulls *self_p; safe on NULL and twice. */
void fl_gbdt_destroy (fl_gbdt_t **self_p);

/*  Number of trees, classes, and output groups (1 for binary, K for softmax). */
size_t fl_gbdt_tree_count (const fl_gbdt_t *self);
size_t fl_gbdt_classes (const fl_gbdt_t *self);
size_t fl_gbdt_groups (const fl_gbdt_t *self);
/*  Nodes of tree t (flat array, root at 0) and their count; NULL / 0 if out
    of range.  Tree t adds to output group t % groups. */
const fl_gbdt_node_t *fl_gbdt_tree (const fl_gbdt_t *self, size_t t, size_t *n_nodes);
/*  The model's bins (owned by the model). */
const fl_gbdt_bins_t *fl_gbdt_bins (const fl_gbdt_t *self);

/*  Appends one tree (used by the trainer and by a member that receives
    trees): nodes[0..n_nodes) are copied after validation: feature < d,
    bin in 1..count(feature) (0 only with default_left), children inside
    the tree and after their
    parent, every node reached exactly once, finite leaf values.  Returns 0;
    -1 (logged, model unchanged) otherwise. */
int fl_gbdt_add_tree (fl_gbdt_t *self, const fl_gbdt_node_t *nodes, size_t n_nodes);

/*  Raw margins of binned rows xb (n, d): out (n, groups), starting at 0
    (base_score 0.5 for binary; 0 for softmax) plus every tree's leaf.
    Returns 0; -1 (logged) on NULL or a bin out of range. */
int fl_gbdt_predict_margin (const fl_gbdt_t *self, const uint16_t *xb, size_t n, double *out);

/*  Probabilities of raw rows x (n, d) float32 (NaN = missing), binned with
    the model's bins: binary: out (n) = sigmoid(margin), P(class 1);
    softmax: out (n, K).  Returns 0; -1 (logged) on NULL, a width mismatch
    or allocation failure. */
int fl_gbdt_predict_proba (const fl_gbdt_t *self, const float *x, size_t n, size_t d, float *out);

/*  Checks a split received for a node of a tree being built on a member:
    node_exists is whether the node is open in the current level; the
    feature must be -1 (a leaf) or < d, and the bin in 1..count(feature)
    (0 only with default_left).  Returns 0; -1
    (logged with the reason) otherwise. */
int fl_gbdt_split_check (const fl_gbdt_bins_t *bins, const fl_gbdt_split_t *s, bool node_exists);

#ifdef __cplusplus
}
#endif

#endif
