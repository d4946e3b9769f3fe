/*  test_layers.c - fl_layers: cblas_sgemm vs the naive reference, and every
    layer's and loss's backward pass against central finite differences.

    Gradient-check tolerance: the forward passes are float32, so a central
    difference with step h = 1e-2 (1e-3 for losses) has rounding error about
    eps_f32 * |L| / h ~ 1e-5 .. 1e-4 and truncation error O(h^2) (zero for
    the linear layer); we accept |analytic - numeric| <= 2e-3 + 1e-2 |numeric|.
    Scalar objectives are accumulated in double. */
#include "fl_layers.h"
#include "fl_rng.h"
#include "fl_test.h"

static void
s_fill (fl_rng_t *r, float *a, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (float) (scale * fl_rng_normal (r));
}

static void
test_gemm_vs_reference (void)
{
    fl_rng_t *r = fl_rng_new_u64 (11, 0);
    const size_t shapes[][3] = { { 1, 1, 1 }, { 3, 5, 7 }, { 17, 9, 33 }, { 64, 1, 30 },
                                 { 1, 40, 3 }, { 32, 32, 64 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int pad = 0; pad < 2; pad++) {
                    /* stored shapes, with optional row padding to test ld */
                    size_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
                    size_t lda = ac + 3 * pad, ldb = bc + 2 * pad, ldc = N + pad;
                    float *A = malloc (ar * lda * sizeof (float));
                    float *B = malloc (br * ldb * sizeof (float));
                    float *C1 = malloc (M * ldc * sizeof (float));
                    float *C2 = malloc (M * ldc * sizeof (float));
                    s_fill (r, A, ar * lda, 1);
                    s_fill (r, B, br * ldb, 1);
                    s_fill (r, C1, M * ldc, 1);
                    memcpy (C2, C1, M * ldc * sizeof (float));
                    fl_gemm (ta, tb, M, N, K, 0.7f, A, lda, B, ldb, 0.3f, C1, ldc);
                    fl_gemm_ref (ta, tb, M, N, K, 0.7f, A, lda, B, ldb, 0.3f, C2, ldc);
                    double maxerr = 0;
                    for (size_t i = 0; i < M; i++)
                        for (size_t j = 0; j < ldc; j++) {
                            double e = fabs ((double) C1[i * ldc + j] - C2[i * ldc + j]);
                            if (e > maxerr)
                                maxerr = e;
                        }
                    /* |entries| ~ sqrt(K): float32 accumulation error ~ K * 6e-8 * sqrt(K) */
                    FL_CHECK (maxerr <= 1e-5 * (double) K + 1e-6);
                    free (A);
                    free (B);
                    free (C1);
                    free (C2);
                }
    }
    /* a hand-checked product: [1 2; 3 4] @ [5 6; 7 8] = [19 22; 43 50] */
    float A[] = { 1, 2, 3, 4 }, B[] = { 5, 6, 7, 8 }, C[4] = { NAN, NAN, NAN, NAN };
    fl_gemm (false, false, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);  /* beta 0 ignores NaN in C */
    FL_CHECK (C[0] == 19 && C[1] == 22 && C[2] == 43 && C[3] == 50);
    fl_gemm (true, false, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);   /* A^T B = [26 30; 38 44] */
    FL_CHECK (C[0] == 26 && C[1] == 30 && C[2] == 38 && C[3] == 44);
    fl_rng_destroy (&r);
}

/* L = sum(out * R) for the dense layer, in double. */
static double
s_dense_obj (const float *inp, const float *w, const float *b, const float *R, size_t B,
             size_t C, size_t OC)
{
    float *out = malloc (B * OC * sizeof (float));
    fl_dense_forward (out, inp, w, b, B, C, OC);
    double L = 0;
    for (size_t i = 0; i < B * OC; i++)
        L += (double) out[i] * R[i];
    free (out);
    return L;
}

static void
s_check_fd (float *p, const float *analytic, size_t n, double (*obj) (void *), void *ctx, float h)
{
    for (size_t i = 0; i < n; i++) {
        float save = p[i];
        p[i] = save + h;
        double lp = obj (ctx);
        p[i] = save - h;
        double lm = obj (ctx);
        p[i] = save;
        double num = (lp - lm) / (2.0 * h);
        FL_CHECK_CLOSE (analytic[i], num, 2e-3, 1e-2);
    }
}

typedef struct {
    float *inp, *w, *b, *R;
    size_t B, C, OC;
} s_dense_ctx_t;

static double
s_dense_obj_ctx (void *p)
{
    s_dense_ctx_t *c = p;
    return s_dense_obj (c->inp, c->w, c->b, c->R, c->B, c->C, c->OC);
}

static void
test_dense_gradcheck (void)
{
    fl_rng_t *r = fl_rng_new_u64 (12, 0);
    size_t B = 5, C = 7, OC = 4;
    float inp[35], w[28], b[4], R[20], dinp[35], dw[28], db[4];
    s_fill (r, inp, 35, 1);
    s_fill (r, w, 28, 0.5);
    s_fill (r, b, 4, 0.5);
    s_fill (r, R, 20, 1);
    /* forward against a hand loop */
    float out[20];
    fl_dense_forward (out, inp, w, b, B, C, OC);
    for (size_t i = 0; i < B; i++)
        for (size_t o = 0; o < OC; o++) {
            double s = b[o];
            for (size_t c = 0; c < C; c++)
                s += (double) inp[i * C + c] * w[o * C + c];
            FL_CHECK_CLOSE (out[i * OC + o], s, 1e-5, 1e-5);
        }
    /* dL/dout = R */
    memset (dw, 0x7f, sizeof dw);         /* garbage: backward must overwrite */
    fl_dense_backward (dinp, dw, db, R, inp, w, B, C, OC);
    s_dense_ctx_t ctx = { inp, w, b, R, B, C, OC };
    s_check_fd (inp, dinp, 35, s_dense_obj_ctx, &ctx, 1e-2f);
    s_check_fd (w, dw, 28, s_dense_obj_ctx, &ctx, 1e-2f);
    s_check_fd (b, db, 4, s_dense_obj_ctx, &ctx, 1e-2f);
    /* without bias */
    ctx.b = NULL;
    float out2[20];
    fl_dense_forward (out2, inp, w, NULL, B, C, OC);
    FL_CHECK_CLOSE (out2[0] + b[0], out[0], 1e-5, 1e-5);
    fl_rng_destroy (&r);
}

typedef struct {
    float *inp, *R;
    size_t n;
    int kind;   /* 0 relu, 1 sigmoid */
} s_act_ctx_t;

static double
s_act_obj (void *p)
{
    s_act_ctx_t *c = p;
    float out[64];
    if (c->kind == 0)
        fl_relu_forward (out, c->inp, c->n);
    else
        fl_sigmoid_forward (out, c->inp, c->n);
    double L = 0;
    for (size_t i = 0; i < c->n; i++)
        L += (double) out[i] * c->R[i];
    return L;
}

static void
test_activation_gradcheck (void)
{
    fl_rng_t *r = fl_rng_new_u64 (13, 0);
    float inp[64], R[64], out[64], dinp[64];
    s_fill (r, inp, 64, 2);
    s_fill (r, R, 64, 1);
    for (size_t i = 0; i < 64; i++)       /* keep ReLU inputs away from the kink */
        if (fabsf (inp[i]) < 0.05f)
            inp[i] = 0.5f;
    for (int kind = 0; kind < 2; kind++) {
        if (kind == 0)
            fl_relu_forward (out, inp, 64);
        else
            fl_sigmoid_forward (out, inp, 64);
        if (kind == 0)
            fl_relu_backward (dinp, R, out, 64);
        else
            fl_sigmoid_backward (dinp, R, out, 64);
        s_act_ctx_t ctx = { inp, R, 64, kind };
        s_check_fd (inp, dinp, 64, s_act_obj, &ctx, 1e-2f);
    }
    /* values */
    FL_CHECK (fl_sigmoid (0) == 0.5f);
    FL_CHECK (fl_sigmoid (-1000) == 0.0f && fl_sigmoid (1000) == 1.0f);
    FL_CHECK_CLOSE (fl_sigmoid (2), 1.0 / (1.0 + exp (-2.0)), 0, 1e-6);
    float lg[6] = { 1000, 0, -1000, 1, 2, 3 }, pr[6];
    fl_softmax_forward (pr, lg, 2, 3);
    FL_CHECK (pr[0] == 1.0f && pr[1] == 0.0f && pr[2] == 0.0f);    /* no overflow */
    double e = exp (1) + exp (2) + exp (3);
    FL_CHECK_CLOSE (pr[3], exp (1) / e, 0, 1e-6);
    FL_CHECK_CLOSE (pr[5], exp (3) / e, 0, 1e-6);
    FL_CHECK_CLOSE ((double) pr[3] + pr[4] + pr[5], 1.0, 1e-6, 0);
    fl_rng_destroy (&r);
}

typedef struct {
    float *logits;
    int32_t *y;
    size_t B, K;
    const float *w;
} s_loss_ctx_t;

static double
s_loss_obj (void *p)
{
    s_loss_ctx_t *c = p;
    return c->K == 1 ? fl_bce_logits (NULL, c->logits, c->y, c->B, c->w)
                     : fl_ce_logits (NULL, c->logits, c->y, c->B, c->K, c->w);
}

static void
test_loss_values (void)
{
    float z0[] = { 0 };
    int32_t one[] = { 1 }, zero[] = { 0 };
    FL_CHECK_CLOSE (fl_bce_logits (NULL, z0, one, 1, NULL), log (2.0), 0, 1e-12);
    float zbig[] = { 100 };
    FL_CHECK_CLOSE (fl_bce_logits (NULL, zbig, zero, 1, NULL), 100.0, 0, 1e-12);   /* finite */
    FL_CHECK_CLOSE (fl_bce_logits (NULL, zbig, one, 1, NULL), 0.0, 1e-40, 0);
    float zneg[] = { -3 };
    FL_CHECK_CLOSE (fl_bce_logits (NULL, zneg, one, 1, NULL), log1p (exp (3.0)), 0, 1e-12);
    float w2[] = { 1.0f, 3.0f };
    FL_CHECK_CLOSE (fl_bce_logits (NULL, zneg, one, 1, w2), 3.0 * log1p (exp (3.0)), 0, 1e-12);
    /* mean over batch with weights; denominator is B, not the weight sum */
    float zz[] = { 0, 0 };
    int32_t y01[] = { 0, 1 };
    FL_CHECK_CLOSE (fl_bce_logits (NULL, zz, y01, 2, w2), (1.0 + 3.0) * log (2.0) / 2.0, 0, 1e-12);
    /* cross-entropy */
    float u[] = { 0.3f, 0.3f, 0.3f };
    int32_t y2[] = { 2 };
    FL_CHECK_CLOSE (fl_ce_logits (NULL, u, y2, 1, 3, NULL), log (3.0), 0, 1e-7);
    float huge[] = { 1000, -1000, 0 };
    int32_t y1[] = { 1 };
    FL_CHECK_CLOSE (fl_ce_logits (NULL, huge, y1, 1, 3, NULL), 2000.0, 0, 1e-9);
    /* K = 2 cross-entropy on (0, z) equals binary cross-entropy on z */
    float pair[] = { 0, 1.7f }, single[] = { 1.7f };
    FL_CHECK_CLOSE (fl_ce_logits (NULL, pair, zero, 1, 2, NULL),
                    fl_bce_logits (NULL, single, zero, 1, NULL), 0, 1e-6);
}

static void
test_loss_gradcheck (void)
{
    fl_rng_t *r = fl_rng_new_u64 (14, 0);
    float logits[24], d[24];
    int32_t y[8];
    float wb[2] = { 0.5f, 2.0f }, wk[3] = { 1.0f, 0.25f, 4.0f };
    /* binary, with and without class weights */
    s_fill (r, logits, 8, 3);
    for (int i = 0; i < 8; i++)
        y[i] = (int32_t) fl_rng_uniform (r, 2);
    for (int wi = 0; wi < 2; wi++) {
        s_loss_ctx_t c = { logits, y, 8, 1, wi ? wb : NULL };
        fl_bce_logits (d, logits, y, 8, c.w);
        s_check_fd (logits, d, 8, s_loss_obj, &c, 1e-3f);
    }
    /* multi-class */
    s_fill (r, logits, 24, 3);
    for (int i = 0; i < 8; i++)
        y[i] = (int32_t) fl_rng_uniform (r, 3);
    for (int wi = 0; wi < 2; wi++) {
        s_loss_ctx_t c = { logits, y, 8, 3, wi ? wk : NULL };
        fl_ce_logits (d, logits, y, 8, 3, c.w);
        s_check_fd (logits, d, 24, s_loss_obj, &c, 1e-3f);
    }
    /* dlogits may alias logits */
    float copy[24];
    memcpy (copy, logits, sizeof copy);
    double l1 = fl_ce_logits (d, logits, y, 8, 3, wk);
    double l2 = fl_ce_logits (copy, copy, y, 8, 3, wk);
    FL_CHECK (l1 == l2 && memcmp (d, copy, sizeof d) == 0);
    fl_rng_destroy (&r);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_gemm_vs_reference);
    FL_RUN (test_dense_gradcheck);
    FL_RUN (test_activation_gradcheck);
    FL_RUN (test_loss_values);
    FL_RUN (test_loss_gradcheck);
    FL_TEST_DONE ();
}
