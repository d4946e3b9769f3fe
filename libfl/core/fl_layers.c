/*  fl_layers.c - dense layer, activations and losses (see fl_layers.h).

    The dense layer keeps the PyTorch weight layout (OC, C) so a row of the
    weight matrix is one output unit; the three GEMMs below are the standard
    ones (llm.c matmul_forward / matmul_backward), expressed as cblas_sgemm
    with transposes instead of hand loops.
*/
#include "fl_layers.h"

#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

void
fl_gemm (bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
         const float *A, size_t lda, const float *B, size_t ldb, float beta,
         float *C, size_t ldc)
{
    assert (M <= INT_MAX && N <= INT_MAX && K <= INT_MAX);
    assert (lda <= INT_MAX && ldb <= INT_MAX && ldc <= INT_MAX);
    if (M == 0 || N == 0)
        return;
    cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                 trans_b ? CblasTrans : CblasNoTrans, (int) M, (int) N, (int) K, alpha, A,
                 (int) lda, B, (int) ldb, beta, C, (int) ldc);
}

void
fl_gemm_ref (bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
             const float *A, size_t lda, const float *B, size_t ldb, float beta,
             float *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) {
                double a = trans_a ? A[k * lda + i] : A[i * lda + k];
                double b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
            }
            /* BLAS semantics: beta == 0 means C is not read (may hold NaN) */
            double c = beta == 0.0f ? 0.0 : (double) beta * C[i * ldc + j];
            C[i * ldc + j] = (float) ((double) alpha * s + c);
        }
}

void
fl_dense_forward (float *out, const float *inp, const float *weight, const float *bias,
                  size_t B, size_t C, size_t OC)
{
    assert (out && inp && weight);
    // out (B, OC) = inp (B, C) @ weight^T (C, OC) [+ bias broadcast over rows]
    if (bias) {
        for (size_t b = 0; b < B; b++)
            memcpy (out + b * OC, bias, OC * sizeof (float));
        fl_gemm (false, true, B, OC, C, 1.0f, inp, C, weight, C, 1.0f, out, OC);
    }
    else
        fl_gemm (false, true, B, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC);
}

/*  sums (OC) = column sums of m (B, OC): row by row, so the inner loop is a
    vector add over contiguous memory. */
static void
s_column_sums (float *restrict sums, const float *restrict m, size_t B, size_t OC)
{
    memset (sums, 0, OC * sizeof (float));
    for (size_t b = 0; b < B; b++)
        for (size_t o = 0; o < OC; o++)
            sums[o] += m[b * OC + o];
}

void
fl_dense_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                   const float *inp, const float *weight, size_t B, size_t C, size_t OC)
{
    assert (dweight && dout && inp && weight);
    // dinp (B, C) = dout (B, OC) @ weight (OC, C)
    if (dinp)
        fl_gemm (false, false, B, C, OC, 1.0f, dout, OC, weight, C, 0.0f, dinp, C);
    // dweight (OC, C) = dout^T (OC, B) @ inp (B, C)
    if (B == 0)
        memset (dweight, 0, OC * C * sizeof (float));
    else
        fl_gemm (true, false, OC, C, B, 1.0f, dout, OC, inp, C, 0.0f, dweight, C);
    // dbias (OC) = sum over the batch of dout
    if (dbias)
        s_column_sums (dbias, dout, B, OC);
}

/*  The activations are written as selects the compiler turns into vector
    max / compare-and-mask instructions (this file is built with -O3,
    libfl/CMakeLists.txt): as branches they mispredicted on about half the
    elements of a trained layer (signs are close to random), which cost more
    than the GEMMs on the small MLP.  The in-place case (out == inp), the one
    the models use, gets its own loop over one restrict pointer so it
    vectorises without a run-time overlap check. */
static void
s_relu_inplace (float *restrict p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = p[i];
        p[i] = v > 0.0f ? v : 0.0f;
    }
}

void
fl_relu_forward (float *out, const float *inp, size_t n)
{
    if (out == inp) {
        s_relu_inplace (out, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float v = inp[i];
        out[i] = v > 0.0f ? v : 0.0f;
    }
}

static void
s_relu_backward_inplace (float *restrict d, const float *restrict out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = out[i] > 0.0f ? d[i] : 0.0f;
}

void
fl_relu_backward (float *dinp, const float *dout, const float *out, size_t n)
{
    if (dinp == dout) {
        s_relu_backward_inplace (dinp, out, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dinp[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

float
fl_sigmoid (float z)
{
    /* exp of a non-positive number only, so it never overflows */
    if (z >= 0) {
        float e = expf (-z);
        return 1.0f / (1.0f + e);
    }
    float e = expf (z);
    return e / (1.0f + e);
}

void
fl_sigmoid_forward (float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = fl_sigmoid (inp[i]);
}

void
fl_sigmoid_backward (float *dinp, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] = dout[i] * out[i] * (1.0f - out[i]);
}

void
fl_softmax_forward (float *probs, const float *logits, size_t B, size_t K)
{
    for (size_t b = 0; b < B; b++) {
        const float *z = logits + b * K;
        float *p = probs + b * K;
        float zmax = -INFINITY;
        for (size_t k = 0; k < K; k++)
            if (z[k] > zmax)
                zmax = z[k];
        double sum = 0;
        for (size_t k = 0; k < K; k++) {
            p[k] = expf (z[k] - zmax);
            sum += p[k];
        }
        float inv = (float) (1.0 / sum);
        for (size_t k = 0; k < K; k++)
            p[k] *= inv;
    }
}

double
fl_bce_logits (float *dlogits, const float *logits, const int32_t *y, size_t B,
               const float *class_weights)
{
    assert (logits && y);
    if (B == 0)
        return 0.0;
    double sum = 0;
    for (size_t i = 0; i < B; i++) {
        assert (y[i] == 0 || y[i] == 1);
        double z = logits[i], t = (double) y[i];
        double w = class_weights ? class_weights[y[i]] : 1.0;
        sum += w * (fmax (z, 0.0) - z * t + log1p (exp (-fabs (z))));
        if (dlogits)
            dlogits[i] = (float) (w * ((double) fl_sigmoid (logits[i]) - t) / (double) B);
    }
    return sum / (double) B;
}

double
fl_ce_logits (float *dlogits, const float *logits, const int32_t *y, size_t B, size_t K,
              const float *class_weights)
{
    assert (logits && y && K >= 1);
    if (B == 0)
        return 0.0;
    double sum = 0;
    for (size_t i = 0; i < B; i++) {
        assert (y[i] >= 0 && (size_t) y[i] < K);
        const float *z = logits + i * K;
        double zmax = -INFINITY;
        for (size_t k = 0; k < K; k++)
            if (z[k] > zmax)
                zmax = z[k];
        double se = 0;
        for (size_t k = 0; k < K; k++)
            se += exp ((double) z[k] - zmax);
        double lse = zmax + log (se);
        double w = class_weights ? class_weights[y[i]] : 1.0;
        sum += w * (lse - (double) z[y[i]]);
        if (dlogits) {
            float *d = dlogits + i * K;
            double scale = w / (double) B;
            for (size_t k = 0; k < K; k++) {
                double p = exp ((double) z[k] - lse);
                d[k] = (float) (scale * (p - (k == (size_t) y[i] ? 1.0 : 0.0)));
            }
        }
    }
    return sum / (double) B;
}
