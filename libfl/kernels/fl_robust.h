/*  fl_robust - robust aggregators as pure functions over B vectors of dimension d.

    The coordinator feeds these the B bucket means produced by per-bucket secure
    aggregation (DESIGN.md §4; Karimireddy, He, Jaggi, "Byzantine-Robust Learning
    on Heterogeneous Datasets via Bucketing", ICLR 2022), or B individual updates
    in plaintext mode.  Every function here is a pure function of its arguments:
    no round state, no globals, no I/O other than a zsys_error line on refusal.

    Conventions shared by every function
    ------------------------------------
    - Input x is (B, d), row-major, double precision: row i is x[i*d .. i*d+d).
      Double (not float32 with double accumulation) was chosen so that results
      reproduce the reference vectors (tests/data/robust_vectors.json) to a
      relative tolerance of 1e-9 and so that order statistics are taken on the
      exact values the caller supplied.  Outputs are (d) doubles unless stated.
    - Every function checks its parameters and its input and returns -1 with a
      zsys_error naming the function and the violated requirement when:
      B == 0, d == 0, B*d*8 overflows or exceeds FL_ROBUST_MAX_ELEMENTS, any
      entry of x (or of prev/init) is NaN or ±inf (rejected, never propagated),
      or a rule-specific requirement fails (listed per function).  On -1 the
      output buffers are left unspecified (never partially trusted).
      NULL pointers for required arguments are programmer errors (assert).
    - Ties are broken towards the lowest row index everywhere (stable order),
      as in the reference vectors.
    - Work buffers: functions that need scratch take an fl_robust_work_t*.
      Pass one from fl_robust_work_new() to reuse memory across rounds, or NULL
      to allocate (and free) internally.  Allocation failure returns -1 with a
      log line; the sizes are checked for overflow before allocating.
    - "Breakdown point" is the largest fraction of arbitrary (Byzantine) rows
      the rule tolerates while its output stays bounded.
*/
#ifndef FL_ROBUST_H_INCLUDED
#define FL_ROBUST_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Upper bound on B*d accepted by any function (2^31 doubles = 16 GiB); the
    bound exists so that size arithmetic can never overflow. */
#define FL_ROBUST_MAX_ELEMENTS ((size_t) 1 << 31)
/*  Upper bound on B (Krum keeps a B x B distance matrix). */
#define FL_ROBUST_MAX_ROWS ((size_t) 1 << 16)

/*  ---- work buffers -------------------------------------------------------- */

typedef struct fl_robust_work_t fl_robust_work_t;

/*  A growable scratch area; grows on demand, never shrinks.  NULL only on
    allocation failure.  Caller owns it.  Not thread-safe: one per thread. */
fl_robust_work_t *fl_robust_work_new (void);

/*  Frees the work area, nulls *self_p; safe on NULL and twice. */
void fl_robust_work_destroy (fl_robust_work_t **self_p);

/*  Bytes currently reserved by the work area (for tests and benchmarks). */
size_t fl_robust_work_bytes (const fl_robust_work_t *self);

/*  ---- selection ------------------------------------------------------------ */

/*  Rearranges a[0..n) so that a[k] is the k-th smallest value (0-based), every
    a[i] <= a[k] for i < k and a[k] <= a[i] for i > k (nth_element), and
    returns a[k].  Introselect: quickselect with a median-of-three pivot and a
    branchless three-way (< p, == p, > p) Lomuto partition, so heavy ties stay
    linear; after 2*log2(n)+4 partitioning rounds the remaining range is
    heapsorted; ranges of 8 values or fewer are finished by insertion sort.
    Expected O(n) time, worst case O(n log n), O(1) extra memory.  Requires
    k < n and no NaN in a (assert for k; NaN is the caller's to exclude).
    Source: Hoare, "Find" (Algorithm 65), CACM 1961; Musser, "Introspective
    Sorting and Selection Algorithms", Software: Practice and Experience
    1997. */
double fl_robust_select (double *a, size_t n, size_t k);

/*  ---- aggregators ------------------------------------------------------------ */

/*  Coordinate-wise mean: out[j] = (1/B) sum_i x[i][j], rows summed in order.
    Breakdown point 0 (one row moves it arbitrarily).  O(B d) time, O(1) extra.
    Source: McMahan et al., "Communication-Efficient Learning of Deep Networks
    from Decentralized Data" (FedAvg), AISTATS 2017, Alg. 1 (unweighted). */
int fl_robust_mean (const double *x, size_t B, size_t d, double *out);

/*  Coordinate-wise median; for even B the mean of the two middle values
    (numpy.median, Flower aggregate_median).  Breakdown point floor((B-1)/2)/B
    (-> 1/2).  O(B d) expected time (introselect per coordinate over a gathered
    block of columns), O(16 B) doubles of scratch.  Source: Yin, Chen,
    Ramchandran, Bartlett, "Byzantine-Robust Distributed Learning: Towards
    Optimal Statistical Rates", ICML 2018, §3 (Alg. "median"). */
int fl_robust_median (const double *x, size_t B, size_t d, fl_robust_work_t *work,
                      double *out);

/*  Coordinate-wise trimmed mean with k = floor(beta*B) values removed from EACH
    side per coordinate, mean of the remaining B-2k (scipy trim_mean, Flower
    FedTrimmedAvg).  Requires 0 <= beta < 0.5 (so 2k < B).  Ties are exact: the
    middle order statistics k..B-k-1 are summed by position after two
    selections, so repeated values are counted exactly as often as they occur.
    Breakdown point k/B (-> beta).  O(B d) expected time, O(16 B) scratch.
    Source: Yin et al. ICML 2018, §3 (Alg. "trimmed mean"). */
int fl_robust_trimmed_mean (const double *x, size_t B, size_t d, double beta,
                            fl_robust_work_t *work, double *out);

/*  Same with an integer count b removed from each side (Karimireddy et al.'s
    TM(b), byzfl TrMean(f)).  Requires 2b < B.  Breakdown point b/B. */
int fl_robust_trimmed_mean_b (const double *x, size_t B, size_t d, size_t b,
                              fl_robust_work_t *work, double *out);

/*  Krum scores: scores[i] = sum of the B-f-2 smallest squared L2 distances
    ||x_i - x_j||^2 over j != i.  Requires B >= 2f+3 (so B-f-2 >= f+1).
    O(B^2 d / 2) time (direct differences, tiled over d so the working set stays
    in cache; no Gram-matrix shortcut, which loses precision to cancellation),
    O(B^2) memory.  Source: Blanchard, El Mhamdi, Guerraoui, Stainer, "Machine
    Learning with Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS
    2017, §4 (Definition of Krum). */
int fl_robust_krum_scores (const double *x, size_t B, size_t d, size_t f,
                           fl_robust_work_t *work, double *scores);

/*  Krum: out = x_{i*} with i* = argmin scores (lowest index on ties), stored in
    *selected if non-NULL.  Requires B >= 2f+3.  Breakdown point f/B with
    B >= 2f+3 (-> 1/2).  Cost as fl_robust_krum_scores.  Source: Blanchard et
    al. NeurIPS 2017, §4. */
int fl_robust_krum (const double *x, size_t B, size_t d, size_t f,
                    fl_robust_work_t *work, double *out, size_t *selected);

/*  Multi-Krum: unweighted mean of the m rows with the lowest Krum scores;
    selected[0..m) (if non-NULL) receives their indices in increasing score
    order, ties by lowest index.  Requires B >= 2f+3 and 1 <= m <= B-f.
    Breakdown point f/B.  O(B^2 d / 2 + m d) time, O(B^2) memory.  Source:
    Blanchard et al. NeurIPS 2017, §5 ("m-Krum"). */
int fl_robust_multi_krum (const double *x, size_t B, size_t d, size_t f, size_t m,
                          fl_robust_work_t *work, double *out, size_t *selected);

/*  Geometric median by smoothed Weiszfeld (RFA): starting at z = init (the
    mean when init is NULL), repeat up to max_iter times
        w_i = 1 / max(nu, ||x_i - z||),   z = sum_i w_i x_i / sum_i w_i,
    stopping after the iteration in which |F_prev - F| <= tol * F, where
    F(z) = (1/B) sum_i ||x_i - z||.  With nu = 1e-6, max_iter = 100,
    tol = 1e-20, init = NULL this is exactly Pillutla et al.'s geom_median
    (numpy weiszfeld_array.py); with nu = 0.1, max_iter = 3, tol = 0 and a
    zero init it is byzfl's GeometricMedian.  Requires nu > 0, max_iter >= 1,
    tol >= 0.  *iters (if non-NULL) receives the iterations run.
    Breakdown point 1/2 (of the exact geometric median; Lopuhaä & Rousseeuw
    1991).  O(max_iter * 2 B d) time, O(B + d) scratch.  Source: Pillutla,
    Kakade, Harchaoui, "Robust Aggregation for Federated Learning", IEEE TSP
    2022, §3 (Algorithm 2, smoothed Weiszfeld). */
int fl_robust_geomed (const double *x, size_t B, size_t d, double nu, int max_iter,
                      double tol, const double *init, fl_robust_work_t *work,
                      double *out, int *iters);

/*  Centered clipping: starting at v = v0 (zero when v0 is NULL; the previous
    round's aggregate in use), L times
        v <- v + (1/B) sum_i (x_i - v) * min(1, tau / ||x_i - v||).
    Requires tau > 0 and L >= 1.  Robustness: each step moves v by at most
    tau, so ||out - v0|| <= L tau whatever the input, and f Byzantine rows can
    shift each step by at most tau f / B beyond what the honest rows do; the
    guarantee rests on a good v0 (the previous aggregate, with momentum), and
    the paper's analysis assumes a Byzantine fraction below a small constant.
    O(L * 2 B d) time, O(d) scratch.  Source: Karimireddy, He, Jaggi,
    "Learning from History for Byzantine Robust Optimization", ICML 2021, §4
    (centered clipping). */
int fl_robust_cclip (const double *x, size_t B, size_t d, double tau, int L,
                     const double *v0, fl_robust_work_t *work, double *out);

/*  Bulyan over Krum, as Flower's aggregate_bulyan: theta = B-2f rows are picked
    one at a time by Krum(f) over the remaining set (neighbour count
    max(1, n'-f-2) capped at n'-1 for n' remaining rows); then per coordinate,
    the mean of the beta = theta-2f selected values closest to the selected
    set's coordinate-wise median (ties in distance go to the earlier-selected
    row).  selected[0..theta) (if non-NULL) receives the picked rows in order.
    Requires B >= 4f+3.  Breakdown point f/B with B >= 4f+3 (-> 1/4).
    O(B^2 d / 2 + theta B^2 + theta d) time, O(B^2 + 16 theta) doubles of
    scratch.  Source: El Mhamdi, Guerraoui, Rouault, "The
    Hidden Vulnerability of Distributed Learning in Byzantium", ICML 2018, §4. */
int fl_robust_bulyan (const double *x, size_t B, size_t d, size_t f,
                      fl_robust_work_t *work, double *out, size_t *selected);

/*  L2 norm bounding: y_i = x_i * min(1, M / ||x_i||) for every row (zero rows
    stay zero).  y is (B, d) and may equal x (in place).  Requires M > 0 and
    finite.  A pre-step, not an aggregator: it bounds each row's influence on
    a following mean to M/B.  O(B d) time, no scratch.  Source: Sun, Kairouz,
    Suresh, McMahan, "Can You Really Backdoor Federated Learning?", 2019, §4
    ("norm thresholding of updates"). */
int fl_robust_norm_bound (const double *x, size_t B, size_t d, double M, double *y);

/*  Bucketing: with perm a permutation of 0..B-1 (NULL = identity), bucket t
    is the mean of rows perm[t*s .. min(B, (t+1)*s)); the last, incomplete
    bucket is averaged over the rows it has.  out is (ceil(B/s), d);
    *n_buckets receives ceil(B/s).  Requires s >= 1 and perm to be a
    permutation (checked).  O(B d) time.  Source: Karimireddy, He, Jaggi,
    "Byzantine-Robust Learning on Heterogeneous Datasets via Bucketing", ICLR
    2022, Alg. 1 (byzfl Bucketing). */
int fl_robust_bucket_means (const double *x, size_t B, size_t d, size_t s,
                            const uint32_t *perm, double *out, size_t *n_buckets);

/*  ---- dispatcher -------------------------------------------------------------- */

typedef enum {
    FL_ROBUST_MEAN,
    FL_ROBUST_MEDIAN,
    FL_ROBUST_TRIMMED_MEAN,
    FL_ROBUST_KRUM,
    FL_ROBUST_MULTI_KRUM,
    FL_ROBUST_GEOMED,
    FL_ROBUST_CCLIP,
    FL_ROBUST_BULYAN
} fl_robust_kind_t;

typedef struct {
    double beta;     /* trimmed mean: fraction trimmed from each side, [0, 0.5) */
    size_t b;        /* trimmed mean: count trimmed from each side (set beta OR b) */
    size_t f;        /* Krum / multi-Krum / Bulyan: assumed Byzantine rows */
    size_t m;        /* multi-Krum: rows averaged; 0 means B - f */
    double nu;       /* geometric median: smoothing (Weiszfeld floor), > 0 */
    int max_iter;    /* geometric median: iteration limit, >= 1 */
    double tol;      /* geometric median: relative objective change to stop, >= 0 */
    double tau;      /* centered clipping: clipping radius, > 0 */
    int L;           /* centered clipping: iterations, >= 1 */
    double M;        /* L2 norm bound applied to every row first; 0 = none */
} fl_robust_params_t;

/*  Defaults matching the reference vectors' conventions: beta 0, b 0, f 0,
    m 0 (= B - f), nu 1e-6, max_iter 100, tol 1e-20, tau 1.0, L 3, M 0. */
void fl_robust_params_defaults (fl_robust_params_t *p);

/*  Parses "mean", "median", "trimmed_mean", "krum", "multi_krum", "geomed",
    "cclip", "bulyan" (also accepts "trimmed-mean", "multi-krum",
    "geometric_median", "centered_clipping").  Returns 0, or -1 with a log
    line for an unknown name. */
int fl_robust_kind_parse (const char *name, fl_robust_kind_t *kind);

/*  The canonical name ("mean", "median", ...), or "unknown". */
const char *fl_robust_kind_name (fl_robust_kind_t kind);

/*  Runs the chosen rule with params p on x (B, d) into out (d).  If p->M > 0
    every row is first norm-bounded to M (into a B*d copy held in the work
    area: O(B d) extra memory).  prev is the previous aggregate (d), used as
    the starting point of centered clipping (NULL = zero); ignored by other
    rules (the geometric median starts at the mean, as in RFA).
    Trimmed mean uses beta if beta > 0, else b (b = 0 is the plain mean);
    setting both is refused.  Returns 0 or -1 with a log line, as the rule. */
int fl_robust_aggregate (fl_robust_kind_t kind, const fl_robust_params_t *p,
                         const double *x, size_t B, size_t d, const double *prev,
                         double *out);

/*  Same, with a caller-owned work area reused across calls (NULL = internal). */
int fl_robust_aggregate_work (fl_robust_kind_t kind, const fl_robust_params_t *p,
                              const double *x, size_t B, size_t d, const double *prev,
                              fl_robust_work_t *work, double *out);

#ifdef __cplusplus
}
#endif
#endif
