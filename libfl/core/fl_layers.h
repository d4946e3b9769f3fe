/*  fl_layers - the building blocks of the built-in models.

    One forward and one backward function per layer, outputs first, shapes in
    the comments, row-major throughout (llm.c train_gpt2.c style).  B is the
    batch size, C the input width, OC the output width, K the number of
    classes.  All matrix products go through cblas_sgemm; fl_gemm_ref is the
    naive triple loop kept beside it so tests can check the BLAS calls
    (including every transpose) against something obviously right.

    Gradient conventions: backward functions OVERWRITE their gradient outputs
    (they do not accumulate), so a model's backward pass fully defines its
    gradient block and nobody needs to zero it first.

    Losses take logits, not probabilities, and are computed in the
    numerically stable forms (log-sum-exp), so they stay finite for any
    finite logits.  The loss is the MEAN over the batch of per-example losses,
    each multiplied by its class weight w[y] (Keras class_weight /
    reduction "sum over batch size": the denominator is B, not the sum of
    weights, so a batch's loss scale does not jump with its class mix).
    Labels must be valid (0/1 for binary, 0..K-1 otherwise): fl_train checks
    them once per dataset; here they are asserted.
*/
#ifndef FL_LAYERS_H_INCLUDED
#define FL_LAYERS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- GEMM ------------------------------------------------------------------ */

/*  C = alpha * op(A) op(B) + beta * C, row-major, op(X) = X or X^T.
    op(A) is (M, K), op(B) is (K, N), C is (M, N); lda/ldb/ldc are the row
    strides of the stored matrices.  fl_gemm calls cblas_sgemm;
    fl_gemm_ref is the naive reference (double accumulation) for tests.
    All dimensions must fit in int (asserted). */
void fl_gemm (bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
              const float *A, size_t lda, const float *B, size_t ldb, float beta,
              float *C, size_t ldc);
void fl_gemm_ref (bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
                  const float *A, size_t lda, const float *B, size_t ldb, float beta,
                  float *C, size_t ldc);

/* --- dense (fully connected) layer: out = inp @ weight^T + bias ------------ */

/*  out    (B, OC)
    inp    (B, C)
    weight (OC, C)   (PyTorch nn.Linear layout)
    bias   (OC) or NULL */
void fl_dense_forward (float *out, const float *inp, const float *weight, const float *bias,
                       size_t B, size_t C, size_t OC);

/*  Given dout = dL/dout (B, OC), writes
    dinp    (B, C)   = dout @ weight        (skipped if NULL: first layer)
    dweight (OC, C)  = dout^T @ inp
    dbias   (OC)     = column sums of dout  (skipped if NULL)
    inp and weight are the forward pass's inputs. */
void fl_dense_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, size_t B, size_t C, size_t OC);

/* --- activations (elementwise, n elements; out may alias inp) -------------- */

/*  out = max(0, inp) */
void fl_relu_forward (float *out, const float *inp, size_t n);

/*  dinp = dout * [out > 0], from the forward OUTPUT (equivalent to the input
    test for ReLU, and lets a model keep only post-activation buffers).
    dinp may alias dout.  The subgradient at 0 is taken as 0. */
void fl_relu_backward (float *dinp, const float *dout, const float *out, size_t n);

/*  The logistic function 1 / (1 + e^-z), evaluated without overflow. */
float fl_sigmoid (float z);

/*  out = sigmoid(inp) */
void fl_sigmoid_forward (float *out, const float *inp, size_t n);

/*  dinp = dout * out * (1 - out), from the forward output. */
void fl_sigmoid_backward (float *dinp, const float *dout, const float *out, size_t n);

/*  probs (B, K) = softmax of each row of logits (B, K), max-subtracted.
    probs may alias logits. */
void fl_softmax_forward (float *probs, const float *logits, size_t B, size_t K);

/* --- losses on logits -------------------------------------------------------- */

/*  Binary cross-entropy on one logit per example:
        l_i = w[y_i] * ( max(z_i, 0) - z_i y_i + log(1 + e^{-|z_i|}) )
    (= -w[y_i] (y_i log s(z_i) + (1 - y_i) log(1 - s(z_i))), the stable form
    used by TensorFlow's sigmoid_cross_entropy_with_logits).
    logits (B), y (B) in {0, 1}, class_weights (2) or NULL (all 1).
    Returns (1/B) sum_i l_i.  If dlogits (B) is not NULL writes the gradient
    of that mean: dlogits_i = w[y_i] (s(z_i) - y_i) / B. */
double fl_bce_logits (float *dlogits, const float *logits, const int32_t *y, size_t B,
                      const float *class_weights);

/*  Multi-class cross-entropy on logits (B, K):
        l_i = w[y_i] * ( logsumexp(z_i) - z_i[y_i] )
    y (B) in 0..K-1, class_weights (K) or NULL.  Returns (1/B) sum_i l_i; if
    dlogits (B, K) is not NULL writes dlogits_ij = w[y_i] (softmax(z_i)_j -
    [j == y_i]) / B.  dlogits may alias logits. */
double fl_ce_logits (float *dlogits, const float *logits, const int32_t *y, size_t B, size_t K,
                     const float *class_weights);

#ifdef __cplusplus
}
#endif
#endif
