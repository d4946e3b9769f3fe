/*  fl_predict - scoring new rows with a trained model, and checking a
    model's backward pass by finite differences.

    Scoring is the model's forward pass behind the standardisation the model
    was trained with: for every row x (raw feature values, input order)
        z = (x - mean) / std           (float32, per feature)
        p = sigmoid (logit (z))        binary: P(y = 1), one column
        p = softmax (logits (z))       K > 2 classes: K columns
    computed in chunks of FL_PREDICT_CHUNK rows, so each chunk is one matrix
    product (fl_model_forward; the built-in models call OpenBLAS sgemm) and
    nothing n-sized is allocated.  Pure: no file, no clock.  Reading CSV
    rows and checking their columns is io/fl_score's job.

    The gradient check (fl_gradcheck) compares a model's backward with
    central finite differences of the loss fl_model_loss_grad computes
    (mean binary / categorical cross-entropy of the logits) at random
    inputs, so a plugin author can test a hand-written backward
    (`fl-model gradcheck --model-plugin P`, docs/SCORING.md).
*/
#ifndef FL_PREDICT_H_INCLUDED
#define FL_PREDICT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_PREDICT_CHUNK 4096u    /* rows per forward call */

/*  Scores x (n, n_inputs) row-major, raw values: standardised with mean and
    std (n_inputs floats each; both NULL = the rows are used as they are),
    then the forward pass and the output non-linearity.  out is (n, n_out),
    n_out = fl_model_num_outputs (model): P(y = 1) for binary models, softmax
    rows otherwise.  x is not modified.  -1 (logged) on no memory, a failed
    forward, or a std that is not finite and > 0.  n may be 0. */
int fl_predict_scores (fl_model_t *model, const float *mean, const float *std, const float *x, size_t n,
                       float *out);

/*  Predicted class of each of n score rows (n, n_out): binary (n_out == 1)
    class 1 iff score >= threshold; otherwise the argmax (first maximum on
    ties; threshold unused).  Writes cls (n). */
void fl_predict_classes (const float *scores, size_t n, size_t n_out, float threshold, int32_t *cls);

/*  Result of a gradient check. */
typedef struct {
    double max_rel_error;   /* max over the checked parameters of
                               |analytic - numeric| / max (|analytic|, |numeric|, FL_GRADCHECK_FLOOR) */
    size_t worst_param;     /* index of that parameter in the flat vector */
    double worst_analytic;  /* its backward gradient */
    double worst_numeric;   /* its central-difference estimate */
    size_t checked;         /* parameters checked */
    double loss;            /* loss at the unperturbed parameters */
} fl_gradcheck_result_t;

#define FL_GRADCHECK_FLOOR   1e-2   /* gradients smaller than this are compared absolutely */
#define FL_GRADCHECK_EPS     1e-2   /* largest central-difference step (float32 forward) */
#define FL_GRADCHECK_STEPS   7      /* steps 1e-2 .. 1e-5, a factor sqrt (10) apart */
#define FL_GRADCHECK_TOL     3e-2   /* pass threshold on max_rel_error (float32 forward passes) */

/*  Checks model's backward: draws n rows of N(0, 1) inputs and uniform
    labels from seed, computes the analytic gradient of the mean loss
    (fl_model_loss_grad), then for up to max_params parameters (all if the
    model has fewer, else an evenly spaced subset; 0 = all) the central
    difference (L(w + eps) - L(w - eps)) / 2 eps at FL_GRADCHECK_STEPS steps
    eps = FL_GRADCHECK_EPS, FL_GRADCHECK_EPS / sqrt (10), ... down to 1e-5
    (the best agreement counts: the largest
    step is robust to float32 rounding of the loss, the smaller ones to ReLU
    kinks, a ReLU input crossing 0 within the step; a wrong backward
    disagrees at every step).  A parameter that disagrees beyond
    FL_GRADCHECK_TOL is checked again at a second, independent random point
    (a kink within every step at both is most unlikely; a wrong backward
    disagrees at any point) and the better point counts.
    The parameters are restored afterwards.  Fills *out; returns 0 (pass:
    max_rel_error <= FL_GRADCHECK_TOL), 1 (fail) or -1 (logged: no memory,
    a failed forward/backward, n == 0, or a non-finite loss or gradient,
    which is reported as a failure of the model). */
int fl_gradcheck (fl_model_t *model, size_t n, uint64_t seed, size_t max_params, fl_gradcheck_result_t *out);

#ifdef __cplusplus
}
#endif
#endif
