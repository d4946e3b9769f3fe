/*  fl_baseline - models trained to convergence on data held in one place,
    the yardsticks a federated run is compared with (fl-sim's "centralised"
    and "member alone" rows; docs/SIMULATION.md "Baselines").

    A baseline must not depend on an epoch count or a learning rate: a
    comparison with "the last step of 20 epochs of fixed-rate SGD" measures
    the SGD schedule, not what the data allow.  So:

    Logistic regression (the "logreg" model, binary or multinomial) is
    fitted full-batch by L-BFGS to the minimiser of the strictly convex
        f(W, b) = (1/n) sum_i loss(x_i, y_i; W, b) + (l2 / 2) ||W||^2
    where loss is the binary cross-entropy of sigmoid(w.x + b) (binary,
    one output) or the categorical cross-entropy of softmax(W x + b) (K > 2
    classes, K outputs, the same over-parameterised softmax as the model),
    the bias b NOT penalised.  This is exactly scikit-learn's
    LogisticRegression(penalty="l2", C=1/(l2 * n), fit_intercept=True)
    (binary; multi_class="multinomial" for K > 2), whose objective is
    C sum_i loss_i + (1/2) ||W||^2 = C n f.  The solution does not depend on
    the model's initialisation (the fit starts from zero).  Arithmetic is in
    double; the products X W^T and R^T X are OpenBLAS dgemm.
    Source: Nocedal & Wright, "Numerical Optimization", 2nd ed. 2006,
    Algorithm 7.4 (two-loop recursion) and 7.5 (L-BFGS) with the initial
    Hessian gamma I, gamma = s'y / y'y (eq. 7.20), and a backtracking line
    search for the Armijo condition (Algorithm 3.1, c1 = 1e-4, steps halved,
    first trial step 1).  Since f is (l2)-strongly convex in W and convex in
    b, s'y > 0 on every step that changes W; a pair with s'y <= 1e-16 s's is
    skipped (N&W sec. 7.2, "skipping the update").
    Stopping rule: ||grad f||_inf <= gtol, or a relative decrease of f below
    ftol ((f_old - f) <= ftol * max(|f_old|, |f|, 1)), or the iteration cap,
    or a line search that cannot decrease f (f is at its minimum to machine
    precision).  The report says which.

    MLP (and any other model): minibatch training (fl_train_local, one epoch
    per call with the federated run's optimizer, batch size and learning
    rate) with early stopping on a validation split carved from the training
    rows: a fraction val_fraction (at least 1 row) chosen by a seeded
    permutation (fl_rng stream (seed, "baseline-val")), the rest trained on;
    after each epoch the mean validation loss (fl_train_loss) is measured,
    the best epoch's parameters are kept and training stops after
    `patience` epochs without improvement or at max_epochs; the model ends
    with the best epoch's parameters.  Source: Prechelt, "Early Stopping -
    But When?", in Neural Networks: Tricks of the Trade, 1998 (the
    "stop after p epochs without improvement, keep the best" rule, as in
    scikit-learn's MLPClassifier(early_stopping=True)).

    Exact metrics (fl_baseline_metrics): the baselines and the federated
    model are all scored in one place by fl-sim, so their AUROC/AUPRC are
    computed on the exact scores (fl_metrics_auroc, fl_metrics_auprc), not
    the 1000-bin histograms federated evaluation needs; for K > 2 classes
    they are macro averages of the one-vs-rest values over the classes
    where they are defined (sklearn roc_auc_score(multi_class="ovr",
    average="macro") and average_precision_score(average="macro") when
    every class is present in the test rows).
*/
#ifndef FL_BASELINE_H_INCLUDED
#define FL_BASELINE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_metrics.h"
#include "fl_model.h"
#include "fl_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  The library's default L2 (fl_baseline_lbfgs_default): a small penalty
    that keeps the problem well posed on separable data (without one the
    weights of a separable problem grow without bound and "converged" means
    nothing).  1e-4 on the mean loss is C = 1e4 / n in scikit-learn's terms.
    fl-sim passes its own (--baseline-l2, default 1/n, scikit-learn's C = 1). */
#define FL_BASELINE_L2_DEFAULT 1e-4

typedef struct {
    double l2;        /* lambda >= 0 on the weights (not the bias), mean-loss scale */
    int max_iter;     /* L-BFGS iterations, >= 1 */
    int history;      /* L-BFGS memory m, 1..100 */
    double gtol;      /* stop when ||grad||_inf <= gtol */
    double ftol;      /* stop on a relative decrease below ftol */
    const float *class_weights;  /* NULL, or one finite weight >= 0 per class: example i's loss is
                                    multiplied by class_weights[y_i] (the mean stays over n), which is
                                    scikit-learn's class_weight (e.g. "balanced": n / (k n_c));
                                    not owned */
} fl_baseline_lbfgs_t;

typedef struct {
    double val_fraction;   /* share of the training rows held out, in (0, 0.5] */
    int max_epochs;        /* >= 1 */
    int patience;          /* epochs without improvement before stopping, >= 1 */
    uint64_t seed;         /* the validation split's seed */
} fl_baseline_early_stop_t;

/*  What a fit did (for the summary and the docs). */
typedef struct {
    int iterations;        /* L-BFGS iterations, or epochs trained */
    int best_epoch;        /* early stopping: the epoch kept (1-based); 0 for L-BFGS */
    double loss;           /* final objective (L-BFGS: with the penalty) or best validation loss */
    double grad_inf;       /* L-BFGS: ||grad f||_inf at the end; NAN otherwise */
    const char *stop;      /* "gradient", "relative change", "line search", "iteration cap",
                              "patience", "epoch cap" (static strings) */
} fl_baseline_report_t;

/*  Defaults: l2 FL_BASELINE_L2_DEFAULT, max_iter 2000, history 10,
    gtol 1e-7, ftol 1e-13. */
void fl_baseline_lbfgs_default (fl_baseline_lbfgs_t *cfg);

/*  Defaults: val_fraction 0.1, max_epochs 500, patience 20, seed 0. */
void fl_baseline_early_stop_default (fl_baseline_early_stop_t *cfg);

/*  Fits the "logreg" model m to x (n, n_inputs) row-major, y (n) in
    0..n_classes-1 by L-BFGS as described above, starting from zero, and
    writes the solution (rounded to float32) into m's parameters.
    rep (may be NULL) receives what happened; reaching the iteration cap
    is not an error (rep->stop says so).  Returns -1 and logs, leaving m
    untouched, if m is not a "logreg" model, n is 0 or above
    FL_TRAIN_MAX_ROWS, a label is out of range, an input is not finite, the
    config is out of range, the objective becomes non-finite, or memory
    runs out (about 8 (n d + 3 n K) bytes plus the history). */
int fl_baseline_fit_logreg (fl_model_t *m, const float *x, const int32_t *y, size_t n,
                            const fl_baseline_lbfgs_t *cfg, fl_baseline_report_t *rep);

/*  Trains m (any model, from its current parameters) on x (n, n_inputs),
    y (n) with early stopping as described above, tc giving the optimizer,
    batch size, learning rate, weight decay and class weights (tc->epochs
    and tc->seed are ignored: epoch e is shuffled with seed es->seed + e).
    Needs n >= 2 (one row to train on and one to validate).  Ends with the
    best epoch's parameters in m.  Returns -1 and logs on a bad config, n < 2,
    bad data (fl_train_local's checks), divergence in the first epoch, or no
    memory; m's parameters are then unspecified. */
int fl_baseline_fit_early_stop (fl_model_t *m, const float *x, const int32_t *y, size_t n,
                                const fl_train_config_t *tc, const fl_baseline_early_stop_t *es,
                                fl_baseline_report_t *rep);

/*  Scores m on x (n, n_inputs), y (n) and fills out with exact metrics:
    accuracy (threshold 0.5 / argmax), log loss, AUROC, AUPRC, precision and
    recall at 0.5 (binary; NAN for K > 2).  For K > 2 AUROC and AUPRC are the
    macro averages over the classes whose one-vs-rest value is defined
    (the class present and absent among the rows); *defined (may be NULL)
    receives how many classes that was (binary: 1 or 0).  An undefined
    metric is NAN, never a made-up 0.5 or 0.  Returns -1 and logs on n = 0,
    a label out of range or no memory. */
int fl_baseline_metrics (fl_model_t *m, const float *x, const int32_t *y, size_t n,
                         fl_metrics_summary_t *out, size_t *defined);

#ifdef __cplusplus
}
#endif
#endif
