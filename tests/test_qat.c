/*  test_qat.c - fl_qat: fake quantisation known answers, the straight-
    through estimator checked against its analytic expectation, running
    ranges, the int8 file (round trip and refusals), and agreement of the
    integer-only inference with the fake-quant float path on WDBC and the
    ULB fraud subset.

    How the QAT gradients are checked.  The fake-quant forward is piecewise
    constant in the weights and activations, so a finite difference of it is
    0 or huge and says nothing.  What the STE promises is this: its gradient
    at theta0 is the exact gradient of the SURROGATE network in which every
    fake-quant op q(u) is replaced by
        u + (q(u0) - u0)   if lo <= u0 <= hi   (value q(u0) at theta0, slope 1)
        q(u0)              otherwise           (constant, slope 0)
    with u0 the op's input at theta0 (weights: u0 = w0, never clamped).  The
    surrogate is smooth (but for ReLU kinks), equals the QAT network's output
    at theta0, and is evaluated here in double by naive loops, independent
    of fl_qat's code; its central differences (h = 1e-5) must match the
    stack's backward to |a - n| <= 1e-3 + 1e-2 |n|.  Where nothing is
    clamped this is "the float gradient of the network evaluated at the
    quantised weights and activations", the expectation of Jacob et al. §3.
*/
#include "fl_dataset.h"
#include "fl_layers.h"
#include "fl_model.h"
#include "fl_qat.h"
#include "fl_rng.h"
#include "fl_stats.h"
#include "fl_test.h"
#include "fl_train.h"

#include <stdint.h>
#include <unistd.h>

/* ---- element-wise known answers ------------------------------------------ */

static void
test_affine (void)
{
    fl_qat_affine_t q;
    fl_qat_affine_from_range (&q, 0.0f, 2.55f);       /* ReLU-like: zero at the bottom */
    FL_CHECK_CLOSE (q.scale, 0.01, 1e-7, 0);
    FL_CHECK (q.zero_point == -128);
    FL_CHECK_CLOSE (q.lo, 0.0, 1e-9, 0);
    FL_CHECK_CLOSE (q.hi, 2.55, 1e-6, 0);
    fl_qat_affine_from_range (&q, -1.0f, 1.0f);       /* -128 + 127.5 rounds away to -1 */
    FL_CHECK_CLOSE (q.scale, 2.0 / 255, 1e-8, 0);
    FL_CHECK (q.zero_point == -1);
    FL_CHECK (fl_qat_quantize (0.0f, &q) == -1);       /* 0 exactly representable */
    fl_qat_affine_from_range (&q, 1.0f, 2.0f);        /* widened to [0, 2] */
    FL_CHECK (q.zero_point == -128 && q.lo == 0.0f);
    FL_CHECK_CLOSE (q.scale, 2.0 / 255, 1e-8, 0);
    fl_qat_affine_from_range (&q, -3.0f, -1.0f);      /* widened to [-3, 0] */
    FL_CHECK (q.zero_point == 127 && q.hi == 0.0f);
    fl_qat_affine_from_range (&q, 0.0f, 0.0f);        /* degenerate: minimum width */
    FL_CHECK (q.scale > 0 && isfinite (q.scale));

    /* forward: representable values unchanged, others within s/2, clamped outside */
    fl_qat_affine_from_range (&q, 0.0f, 2.55f);
    float in[6] = { 0.0f, 0.5f, 0.504f, 2.55f, 3.7f, -1.0f }, out[6];
    fl_qat_fake_quant_forward (out, in, 6, &q);
    FL_CHECK (out[0] == 0.0f);
    FL_CHECK_CLOSE (out[1], 0.5, 1e-6, 0);
    FL_CHECK_CLOSE (out[2], 0.5, 1e-6, 0);
    FL_CHECK_CLOSE (out[3], 2.55, 1e-6, 0);
    FL_CHECK_CLOSE (out[4], 2.55, 1e-6, 0);           /* clamped to hi */
    FL_CHECK (out[5] == 0.0f);                         /* clamped to lo */
    FL_CHECK (fl_qat_quantize (NAN, &q) == -128);
    fl_rng_t *rng = fl_rng_new_u64 (1, 1);
    fl_qat_affine_from_range (&q, -0.7f, 1.3f);
    int within = 1;
    for (int i = 0; i < 1000; i++) {
        float x = (float) (-0.7 + 2.0 * fl_rng_double (rng)), y;
        fl_qat_fake_quant_forward (&y, &x, 1, &q);
        within &= fabsf (y - x) <= 0.5f * q.scale * 1.0001f;
    }
    FL_CHECK (within);
    fl_rng_destroy (&rng);

    /* STE: passes exactly inside [lo, hi] (both ends included), zero outside */
    float dout[6] = { 1, 2, 3, 4, 5, 6 }, din[6];
    fl_qat_affine_from_range (&q, 0.0f, 2.55f);
    fl_qat_fake_quant_backward (din, dout, in, 6, &q);
    FL_CHECK (din[0] == 1 && din[1] == 2 && din[2] == 3 && din[3] == 4);
    FL_CHECK (din[4] == 0 && din[5] == 0);
}

static void
test_weights (void)
{
    /* rows: max|w| 1.27 and 0.254, and an all-zero row */
    float w[9] = { 1.27f, -0.635f, 0.0f, 0.254f, -0.1f, 0.2f, 0, 0, 0 }, s[3], wq[9];
    int8_t q[9];
    fl_qat_weight_scales (s, w, 3, 3, FL_MODEL_QAT_PER_CHANNEL);
    FL_CHECK_CLOSE (s[0], 0.01, 1e-8, 0);
    FL_CHECK_CLOSE (s[1], 0.002, 1e-9, 0);
    FL_CHECK (s[2] == 1.0f);
    fl_qat_fake_quant_weight (wq, q, w, s, 3, 3);
    FL_CHECK (q[0] == 127 && q[1] == -64 && q[2] == 0);      /* -63.5 rounds away */
    FL_CHECK (q[3] == 127 && q[4] == -50 && q[5] == 100);
    FL_CHECK (q[6] == 0 && q[8] == 0);
    FL_CHECK_CLOSE (wq[1], -0.64, 1e-6, 0);
    fl_qat_weight_scales (s, w, 3, 3, FL_MODEL_QAT_PER_TENSOR);
    FL_CHECK (s[0] == s[1] && s[1] == s[2]);
    FL_CHECK_CLOSE (s[0], 0.01, 1e-8, 0);
    fl_qat_fake_quant_weight (wq, q, w, s, 3, 3);
    FL_CHECK (q[3] == 25 && q[4] == -10 && q[5] == 20);
    /* wq may alias w */
    float w2[2] = { 0.3f, -1.0f }, s2;
    fl_qat_weight_scales (&s2, w2, 1, 2, FL_MODEL_QAT_PER_CHANNEL);
    fl_qat_fake_quant_weight (w2, NULL, w2, &s2, 1, 2);
    FL_CHECK_CLOSE (w2[0], 38 * (1.0 / 127), 1e-6, 0);
    FL_CHECK_CLOSE (w2[1], -1.0, 1e-6, 0);
}

/* ---- STE vs the surrogate ---------------------------------------------------- */

typedef struct {
    size_t L, width[6];
    const float *xq;                 /* (n, width[0]) fake-quantised input (constant) */
    size_t n;
    const int32_t *y;
    double *cw[5];                   /* weight offsets q(w0) - w0 */
    int *mask[5];                    /* hidden l: (n, width[l+1]) inside the pass band at theta0 */
    double *ca[5];                   /* hidden l: q(a0) - a0, or q(a0) where masked out */
} s_surrogate_t;

/* Surrogate loss at (w, b) in double.  With record != NULL (the pass at
   theta0) it fills the masks and offsets from qp (the stack's ranges). */
static double
s_surrogate_loss (s_surrogate_t *S, double *const *w, double *const *b, const fl_qat_affine_t *qp,
                  int record)
{
    size_t n = S->n, maxw = 0;
    for (size_t l = 0; l <= S->L; l++)
        maxw = S->width[l] > maxw ? S->width[l] : maxw;
    double *h = (double *) calloc (n * maxw, sizeof (double));
    double *z = (double *) calloc (n * maxw, sizeof (double));
    for (size_t i = 0; i < n * S->width[0]; i++)
        h[i] = S->xq[i];
    for (size_t l = 0; l < S->L; l++) {
        size_t C = S->width[l], OC = S->width[l + 1];
        for (size_t i = 0; i < n; i++)
            for (size_t o = 0; o < OC; o++) {
                double acc = b[l][o];
                for (size_t c = 0; c < C; c++)
                    acc += h[i * C + c] * (w[l][o * C + c] + S->cw[l][o * C + c]);
                z[i * OC + o] = acc;
            }
        if (l + 1 == S->L)
            break;
        for (size_t i = 0; i < n * OC; i++) {
            double a = z[i] > 0 ? z[i] : 0;
            if (record) {
                float af = (float) a, q;
                fl_qat_fake_quant_forward (&q, &af, 1, &qp[l + 1]);
                S->mask[l][i] = af >= qp[l + 1].lo && af <= qp[l + 1].hi;
                S->ca[l][i] = S->mask[l][i] ? (double) q - a : (double) q;
            }
            h[i] = S->mask[l][i] ? a + S->ca[l][i] : S->ca[l][i];
        }
    }
    size_t K = S->width[S->L];
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        if (K == 1) {
            double t = z[i];
            loss += (t > 0 ? t : 0) - t * S->y[i] + log1p (exp (-fabs (t)));
        }
        else {
            double m = z[i * K];
            for (size_t k = 1; k < K; k++)
                m = z[i * K + k] > m ? z[i * K + k] : m;
            double se = 0;
            for (size_t k = 0; k < K; k++)
                se += exp (z[i * K + k] - m);
            loss += m + log (se) - z[i * K + (size_t) S->y[i]];
        }
    }
    free (h);
    free (z);
    return loss / (double) n;
}

static void
s_check_stack (const size_t *width, size_t L, uint32_t mode, uint64_t seed)
{
    size_t n = 7, d = width[0], K = width[L];
    fl_rng_t *rng = fl_rng_new_u64 (seed, 2);
    float *x = (float *) malloc (n * d * sizeof (float));
    int32_t y[7];
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float) (1.5 * fl_rng_normal (rng));
    for (size_t i = 0; i < n; i++)
        y[i] = (int32_t) (fl_rng_double (rng) * (K == 1 ? 2 : K)) % (int32_t) (K == 1 ? 2 : K);
    float *w[5], *b[5], *dw[5], *db[5];
    double *wd[5], *bd[5];
    for (size_t l = 0; l < L; l++) {
        size_t C = width[l], OC = width[l + 1];
        w[l] = (float *) malloc (OC * C * sizeof (float));
        b[l] = (float *) malloc (OC * sizeof (float));
        dw[l] = (float *) malloc (OC * C * sizeof (float));
        db[l] = (float *) malloc (OC * sizeof (float));
        wd[l] = (double *) malloc (OC * C * sizeof (double));
        bd[l] = (double *) malloc (OC * sizeof (double));
        for (size_t i = 0; i < OC * C; i++)
            w[l][i] = (float) (fl_rng_normal (rng) * sqrt (2.0 / (double) C));
        for (size_t i = 0; i < OC; i++)
            b[l][i] = (float) (0.1 * fl_rng_normal (rng));
    }
    fl_qat_stack_t *st = fl_qat_stack_new (width, L, mode);
    FL_CHECK (st != NULL);
    float *logits = (float *) malloc (n * K * sizeof (float)), *dl = (float *) malloc (n * K * sizeof (float));
    /* a first step on a shrunken batch (0.7 x) so the running ranges are
       EMA'd, narrower than the checked batch's, and some of its activations
       fall outside them (clamping).  Not on x itself: its extreme
       activation would then sit exactly on the range's edge, where float
       and double legitimately disagree about the STE mask. */
    float *xw = (float *) malloc (n * d * sizeof (float));
    for (size_t i = 0; i < n * d; i++)
        xw[i] = 0.7f * x[i];
    FL_CHECK (fl_qat_stack_forward (st, w, b, xw, n, logits) == 0);
    if (K == 1)
        fl_bce_logits (dl, logits, y, n, NULL);
    else
        fl_ce_logits (dl, logits, y, n, K, NULL);
    fl_qat_stack_backward (st, w, dw, db, xw, n, dl);
    free (xw);
    /* the checked step */
    FL_CHECK (fl_qat_stack_forward (st, w, b, x, n, logits) == 0);
    fl_qat_affine_t qp[5];
    for (size_t l = 0; l < L; l++)
        FL_CHECK (fl_qat_stack_input_qparams (st, l, &qp[l]) == 0);
    if (K == 1)
        fl_bce_logits (dl, logits, y, n, NULL);
    else
        fl_ce_logits (dl, logits, y, n, K, NULL);
    fl_qat_stack_backward (st, w, dw, db, x, n, dl);

    s_surrogate_t S;
    memset (&S, 0, sizeof S);
    S.L = L;
    memcpy (S.width, width, (L + 1) * sizeof (size_t));
    S.n = n;
    S.y = y;
    float *xq = (float *) malloc (n * d * sizeof (float));
    fl_qat_fake_quant_forward (xq, x, n * d, &qp[0]);
    S.xq = xq;
    size_t clamped = 0;
    for (size_t l = 0; l < L; l++) {
        size_t C = width[l], OC = width[l + 1];
        float *sc = (float *) malloc (OC * sizeof (float)), *wq = (float *) malloc (OC * C * sizeof (float));
        fl_qat_weight_scales (sc, w[l], OC, C, mode);
        fl_qat_fake_quant_weight (wq, NULL, w[l], sc, OC, C);
        S.cw[l] = (double *) malloc (OC * C * sizeof (double));
        for (size_t i = 0; i < OC * C; i++) {
            S.cw[l][i] = (double) wq[i] - (double) w[l][i];
            wd[l][i] = w[l][i];
        }
        for (size_t i = 0; i < OC; i++)
            bd[l][i] = b[l][i];
        S.mask[l] = (int *) calloc (n * OC, sizeof (int));
        S.ca[l] = (double *) calloc (n * OC, sizeof (double));
        free (sc);
        free (wq);
    }
    double l0 = s_surrogate_loss (&S, wd, bd, qp, 1);
    for (size_t l = 0; l + 1 < L; l++)
        for (size_t i = 0; i < n * width[l + 1]; i++)
            clamped += !S.mask[l][i];
    /* the surrogate reproduces the QAT network's loss at theta0 */
    double lq = K == 1 ? fl_bce_logits (NULL, logits, y, n, NULL) : fl_ce_logits (NULL, logits, y, n, K, NULL);
    FL_CHECK_CLOSE (l0, lq, 1e-5, 1e-4);
    const double h = 1e-5;
    int bad = 0;
    size_t checked = 0;
    for (size_t l = 0; l < L; l++) {
        size_t C = width[l], OC = width[l + 1];
        for (int which = 0; which < 2; which++) {
            double *p = which ? bd[l] : wd[l];
            float *g = which ? db[l] : dw[l];
            for (size_t i = 0; i < (which ? OC : OC * C); i++) {
                double keep = p[i];
                p[i] = keep + h;
                double lp = s_surrogate_loss (&S, wd, bd, qp, 0);
                p[i] = keep - h;
                double lm = s_surrogate_loss (&S, wd, bd, qp, 0);
                p[i] = keep;
                double num = (lp - lm) / (2 * h);
                if (fabs (g[i] - num) > 1e-3 + 1e-2 * fabs (num)) {
                    if (bad++ < 5)
                        fprintf (stderr, "  L=%zu mode %u layer %zu %s[%zu]: STE %.6g surrogate %.6g\n",
                                 L, (unsigned) mode, l, which ? "b" : "w", i, g[i], num);
                }
                checked++;
            }
        }
    }
    FL_CHECK (bad == 0);
    if (fl_test_verbose_)
        printf ("  stack L=%zu mode %u: %zu gradients checked, %zu hidden activations clamped\n", L,
                (unsigned) mode, checked, clamped);
    for (size_t l = 0; l < L; l++) {
        free (w[l]); free (b[l]); free (dw[l]); free (db[l]); free (wd[l]); free (bd[l]);
        free (S.cw[l]); free (S.mask[l]); free (S.ca[l]);
    }
    free (x); free (xq); free (logits); free (dl);
    fl_qat_stack_destroy (&st);
    fl_qat_stack_destroy (&st);     /* safe twice */
    fl_rng_destroy (&rng);
}

static void
test_ste_gradients (void)
{
    const size_t a[] = { 5, 1 }, b[] = { 5, 3 }, c[] = { 5, 6, 1 }, d[] = { 4, 6, 5, 3 },
                 e[] = { 6, 5, 4, 3, 1 };
    for (uint32_t mode = 1; mode <= 2; mode++) {
        s_check_stack (a, 1, mode, 1);      /* logreg, binary */
        s_check_stack (b, 1, mode, 2);      /* logreg, multinomial */
        s_check_stack (c, 2, mode, 3);      /* MLP, one hidden layer */
        s_check_stack (d, 3, mode, 4);      /* two hidden, 3 classes */
        s_check_stack (e, 4, mode, 5);      /* three hidden */
    }
}

/* The built-in models' QAT path is the stack: same params, same gradients. */
static void
test_models_use_stack (void)
{
    const char *names[2] = { "logreg", "mlp" };
    const char *hidden[2] = { "", "6,4" };
    for (int m = 0; m < 2; m++)
        for (uint32_t mode = 1; mode <= 2; mode++) {
            fl_model_config_t c;
            memset (&c, 0, sizeof c);
            c.n_inputs = 5;
            c.n_classes = 3;
            c.seed = 9;
            c.qat = mode;
            FL_CHECK (fl_model_parse_hidden (hidden[m], &c) == 0);
            fl_model_t *model = fl_model_new (names[m], &c);
            FL_CHECK (model != NULL);
            if (!model)
                continue;
            size_t L = c.n_hidden + 1, width[4] = { 5, 0, 0, 0 };
            for (size_t l = 0; l < c.n_hidden; l++)
                width[l + 1] = c.hidden[l];
            width[L] = 3;
            float *p = fl_model_params (model);
            float *w[3], *b[3], *dw[3], *db[3];
            size_t off = 0;
            for (size_t l = 0; l < L; l++) {
                w[l] = p + off;
                off += width[l + 1] * width[l];
                b[l] = p + off;
                off += width[l + 1];
                dw[l] = (float *) malloc (width[l + 1] * width[l] * sizeof (float));
                db[l] = (float *) malloc (width[l + 1] * sizeof (float));
            }
            FL_CHECK (off == fl_model_num_params (model));
            fl_qat_stack_t *st = fl_qat_stack_new (width, L, mode);
            float x[20];
            int32_t y[4] = { 0, 1, 2, 1 };
            for (int i = 0; i < 20; i++)
                x[i] = (float) sin (i * 1.7) * 2;
            float lg[12], dl[12];
            FL_CHECK (fl_qat_stack_forward (st, w, b, x, 4, lg) == 0);
            fl_ce_logits (dl, lg, y, 4, 3, NULL);
            fl_qat_stack_backward (st, w, dw, db, x, 4, dl);
            double loss;
            FL_CHECK (fl_model_loss_grad (model, x, y, 4, NULL, &loss) == 0);
            const float *g = fl_model_grads (model);
            int same = 1;
            off = 0;
            for (size_t l = 0; l < L; l++) {
                same &= memcmp (g + off, dw[l], width[l + 1] * width[l] * sizeof (float)) == 0;
                off += width[l + 1] * width[l];
                same &= memcmp (g + off, db[l], width[l + 1] * sizeof (float)) == 0;
                off += width[l + 1];
                free (dw[l]);
                free (db[l]);
            }
            FL_CHECK (same);
            fl_qat_stack_destroy (&st);
            fl_model_destroy (&model);
        }
}

static void
test_fingerprint_and_config (void)
{
    fl_model_config_t c;
    memset (&c, 0, sizeof c);
    c.n_inputs = 30;
    c.n_classes = 2;
    FL_CHECK (fl_model_parse_hidden ("32", &c) == 0);
    uint8_t fp[3][FL_MODEL_FINGERPRINTBYTES];
    for (uint32_t q = 0; q < 3; q++) {
        c.qat = q;
        fl_model_t *m = fl_model_new ("mlp", &c);
        FL_CHECK (m != NULL);
        fl_model_fingerprint (m, fp[q]);
        if (q == 0) {
            /* float models keep the fingerprint they had before QAT (ABI 1):
               golden value computed independently with Python's
               hashlib.blake2b(digest_size=32) from the spec in fl_model.h */
            char hex[65];
            for (int i = 0; i < 32; i++)
                snprintf (hex + 2 * i, 3, "%02x", fp[0][i]);
            if (fl_test_verbose_)
                printf ("  mlp 30-32-1 float fingerprint %s\n", hex);
            FL_CHECK (strcmp (hex, "5a4ba19ab27e255f1e7e6581a6ad09f84eea6abc138a0434a5d75a5b87babdc0") == 0);
        }
        char why[256];
        FL_CHECK (fl_model_check_compatible (m, fp[q], fl_model_num_params (m), why, sizeof why) == 0);
        FL_CHECK (fl_model_check_compatible (m, NULL, fl_model_num_params (m) + 1, why, sizeof why) == -1);
        FL_CHECK (strstr (why, "parameters") != NULL);
        fl_model_destroy (&m);
    }
    FL_CHECK (memcmp (fp[0], fp[1], 32) != 0);
    FL_CHECK (memcmp (fp[0], fp[2], 32) != 0);
    FL_CHECK (memcmp (fp[1], fp[2], 32) != 0);
    c.qat = 3;
    FL_CHECK (fl_model_new ("mlp", &c) == NULL);
    /* export needs QAT */
    c.qat = 0;
    fl_model_t *m = fl_model_new ("mlp", &c);
    FL_CHECK (fl_model_export (m, "/tmp/should-not-exist.flq8") == -1);
    fl_model_destroy (&m);
    /* and a forward pass (ranges) */
    c.qat = 2;
    m = fl_model_new ("mlp", &c);
    FL_CHECK (fl_model_export (m, "/tmp/should-not-exist.flq8") == -1);
    FL_CHECK (access ("/tmp/should-not-exist.flq8", F_OK) != 0);
    fl_model_destroy (&m);
}

/* Ranges: forward alone (evaluation) never moves them; a training step
   folds the batch min/max in with decay FL_QAT_EMA_DECAY. */
static void
test_ranges (void)
{
    size_t width[3] = { 2, 3, 1 };
    fl_qat_stack_t *st = fl_qat_stack_new (width, 2, FL_MODEL_QAT_PER_CHANNEL);
    float w0[6] = { 1, 0, 0, 1, 1, 1 }, b0[3] = { 0, 0, 0 }, w1[3] = { 1, 1, 1 }, b1[1] = { 0 };
    float *w[2] = { w0, w1 }, *b[2] = { b0, b1 };
    float dw0[6], db0[3], dw1[3], db1[1];
    float *dw[2] = { dw0, dw1 }, *db[2] = { db0, db1 };
    float mn, mx, lg[2], dl[2] = { 0.1f, 0.1f };
    FL_CHECK (fl_qat_stack_range (st, 0, &mn, &mx) == -1);     /* never observed */
    float x1[4] = { -1, 2, 0.5f, 1 };
    FL_CHECK (fl_qat_stack_forward (st, w, b, x1, 2, lg) == 0);
    FL_CHECK (fl_qat_stack_range (st, 0, &mn, &mx) == 0 && mn == -1 && mx == 2);
    float x2[4] = { -5, 10, 0, 0 };
    FL_CHECK (fl_qat_stack_forward (st, w, b, x2, 2, lg) == 0);      /* evaluation */
    FL_CHECK (fl_qat_stack_range (st, 0, &mn, &mx) == 0 && mn == -1 && mx == 2);
    fl_qat_stack_backward (st, w, dw, db, x2, 2, dl);                 /* training step */
    FL_CHECK (fl_qat_stack_range (st, 0, &mn, &mx) == 0);
    FL_CHECK_CLOSE (mn, 0.99 * -1 + 0.01 * -5, 1e-6, 0);
    FL_CHECK_CLOSE (mx, 0.99 * 2 + 0.01 * 10, 1e-6, 0);
    /* hidden layer 1's input is post-ReLU: its range starts at 0 */
    FL_CHECK (fl_qat_stack_range (st, 1, &mn, &mx) == 0 && mn >= 0);
    FL_CHECK (fl_qat_stack_range (st, 2, &mn, &mx) == -1);
    fl_qat_stack_destroy (&st);
    /* bad configurations */
    FL_CHECK (fl_qat_stack_new (width, 0, 1) == NULL);
    FL_CHECK (fl_qat_stack_new (width, 2, 3) == NULL);
    size_t zero[3] = { 2, 0, 1 };
    FL_CHECK (fl_qat_stack_new (zero, 2, 1) == NULL);
}

/* ---- data: load, split, standardise ------------------------------------------- */

static int
s_load (const char *name, fl_dataset_t **train, fl_dataset_t **test)
{
    char path[4096];
    const char *label = NULL;
    if (fl_dataset_named (name, FL_TEST_PATH ("datasets"), path, sizeof path, &label) != 0)
        return -1;
    fl_dataset_t *ds = fl_dataset_load_csv (path, label, NULL);
    if (!ds || fl_dataset_split (ds, 0.25, 7, train, test) != 0) {
        fl_dataset_destroy (&ds);
        return -1;
    }
    fl_dataset_destroy (&ds);
    size_t d = fl_dataset_features (*train);
    float *mean = (float *) malloc (d * sizeof (float)), *std = (float *) malloc (d * sizeof (float));
    fl_stats_t *st = fl_stats_new (d);
    int rc = fl_stats_accumulate (st, *train) == 0 && fl_stats_finalize (st, mean, std) == 0
                     && fl_dataset_standardise (*train, mean, std) == 0
                     && fl_dataset_standardise (*test, mean, std) == 0 ? 0 : -1;
    fl_stats_destroy (&st);
    free (mean);
    free (std);
    return rc;
}

static size_t
s_top1 (const float *z, size_t k, size_t i)
{
    if (k == 1)
        return z[i] > 0;
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (z[i * k + j] > z[i * k + best])
            best = j;
    return best;
}

/* Train a QAT model, export int8, reload it, compare the integer path with
   the fake-quant float path on the test split. */
static void
s_agreement (const char *dataset, const char *model, const char *hidden, uint32_t mode, int epochs)
{
    fl_dataset_t *train = NULL, *test = NULL;
    FL_CHECK (s_load (dataset, &train, &test) == 0);
    if (!train || !test)
        return;
    fl_model_config_t c;
    memset (&c, 0, sizeof c);
    c.n_inputs = fl_dataset_features (train);
    c.n_classes = 2;
    c.seed = 3;
    c.qat = mode;
    FL_CHECK (fl_model_parse_hidden (hidden, &c) == 0);
    fl_model_t *m = fl_model_new (model, &c);
    FL_CHECK (m != NULL);
    fl_train_config_t tc;
    fl_train_config_default (&tc);
    tc.optimizer = FL_OPT_ADAM;
    tc.lr = 0.003f;
    tc.epochs = epochs;
    tc.batch_size = 32;
    tc.seed = 5;
    double loss;
    FL_CHECK (fl_train_local (m, fl_dataset_x (train), fl_dataset_y (train), fl_dataset_rows (train),
                              &tc, &loss) == 0);
    char path[256];
    snprintf (path, sizeof path, "/tmp/fl-test-qat-%d-%s.flq8", (int) getpid (), dataset);
    FL_CHECK (fl_model_export (m, path) == 0);
    fl_qat_int8_t *q = fl_qat_int8_load (path);
    FL_CHECK (q != NULL);
    size_t n = fl_dataset_rows (test), k = fl_model_num_outputs (m);
    float *zf = (float *) malloc (n * k * sizeof (float)), *zi = (float *) malloc (n * k * sizeof (float));
    FL_CHECK (fl_model_forward (m, fl_dataset_x (test), n, zf) == 0);
    size_t agree = 0, correct_f = 0, correct_i = 0;
    double maxdiff = 0, maxabs = 0;
    if (q) {
        FL_CHECK (fl_qat_int8_num_inputs (q) == c.n_inputs && fl_qat_int8_num_outputs (q) == k);
        FL_CHECK (fl_qat_int8_predict (q, fl_dataset_x (test), n, zi) == 0);
        const int32_t *y = fl_dataset_y (test);
        for (size_t i = 0; i < n; i++) {
            size_t a = s_top1 (zf, k, i), b = s_top1 (zi, k, i);
            agree += a == b;
            correct_f += a == (size_t) y[i];
            correct_i += b == (size_t) y[i];
        }
        for (size_t i = 0; i < n * k; i++) {
            maxdiff = fmax (maxdiff, fabs ((double) zf[i] - zi[i]));
            maxabs = fmax (maxabs, fabs ((double) zf[i]));
        }
        /* file size is what the header says */
        FILE *f = fopen (path, "rb");
        fseek (f, 0, SEEK_END);
        FL_CHECK ((size_t) ftell (f) == fl_qat_int8_file_bytes (q));
        fclose (f);
    }
    double agreement = (double) agree / (double) n;
    FL_CHECK (agreement >= 0.995);
    FL_CHECK ((double) correct_f / (double) n >= 0.9);     /* it learned something */
    printf ("  %s %s(%s) qat %u: %zu test rows, top-1 agreement int8 vs fake-quant %.4f, "
            "accuracy %.4f / %.4f, max |logit diff| %.3g (max |logit| %.3g), int8 file %zu bytes "
            "vs fp32 params %zu bytes\n",
            dataset, model, hidden, (unsigned) mode, n, agreement, (double) correct_f / (double) n,
            (double) correct_i / (double) n, maxdiff, maxabs, q ? fl_qat_int8_file_bytes (q) : 0,
            fl_model_num_params (m) * 4);
    free (zf);
    free (zi);
    fl_qat_int8_destroy (&q);
    unlink (path);
    fl_model_destroy (&m);
    fl_dataset_destroy (&train);
    fl_dataset_destroy (&test);
}

static void
test_agreement_wdbc (void)
{
    s_agreement ("wdbc", "mlp", "32", FL_MODEL_QAT_PER_CHANNEL, 20);
    s_agreement ("wdbc", "mlp", "32,16", FL_MODEL_QAT_PER_TENSOR, 20);
    s_agreement ("wdbc", "logreg", "", FL_MODEL_QAT_PER_CHANNEL, 20);
}

static void
test_agreement_ulb (void)
{
    s_agreement ("ulb", "mlp", "32", FL_MODEL_QAT_PER_CHANNEL, 5);
    s_agreement ("ulb", "mlp", "32,16", FL_MODEL_QAT_PER_TENSOR, 5);
}

/* ---- the int8 file: round trip and refusals ------------------------------------ */

static void
test_int8_file (void)
{
    fl_model_config_t c;
    memset (&c, 0, sizeof c);
    c.n_inputs = 6;
    c.n_classes = 4;
    c.seed = 1;
    c.qat = FL_MODEL_QAT_PER_CHANNEL;
    FL_CHECK (fl_model_parse_hidden ("8,5", &c) == 0);
    fl_model_t *m = fl_model_new ("mlp", &c);
    float x[60], lg[40];
    for (int i = 0; i < 60; i++)
        x[i] = (float) cos (i * 0.37) * 3;
    FL_CHECK (fl_model_forward (m, x, 10, lg) == 0);    /* sets the ranges */
    char path[256], bad[300];
    snprintf (path, sizeof path, "/tmp/fl-test-qat-%d.flq8", (int) getpid ());
    snprintf (bad, sizeof bad, "%s.bad", path);
    FL_CHECK (fl_model_export (m, path) == 0);
    fl_qat_int8_t *q = fl_qat_int8_load (path);
    FL_CHECK (q != NULL && fl_qat_int8_num_layers (q) == 3);
    /* expected size: 16 + 4*4 + 32 + per layer 8 + 8R + R*C */
    FL_CHECK (q && fl_qat_int8_file_bytes (q) == 16 + 16 + 32 + (8 + 64 + 48) + (8 + 40 + 40) + (8 + 32 + 20));
    float zi[40];
    FL_CHECK (q && fl_qat_int8_predict (q, x, 10, zi) == 0);
    int agree = 0;
    for (size_t i = 0; i < 10; i++)
        agree += s_top1 (lg, 4, i) == s_top1 (zi, 4, i);
    FL_CHECK (agree >= 9);
    fl_qat_int8_destroy (&q);
    fl_qat_int8_destroy (&q);       /* safe twice */

    /* refusals: read the good file, damage copies */
    FILE *f = fopen (path, "rb");
    uint8_t buf[4096];
    size_t len = fread (buf, 1, sizeof buf, f);
    fclose (f);
    struct { size_t at; int flip; size_t cut; } cases[] = {
        { 0, 1, 0 },            /* magic */
        { 4, 1, 0 },            /* version (also the checksum) */
        { 100, 1, 0 },          /* a weight byte: checksum */
        { len - 1, 1, 0 },      /* the checksum itself */
        { 0, 0, 10 },           /* shorter than the header */
        { 0, 0, len - 5 },      /* truncated */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t copy[4096];
        memcpy (copy, buf, len);
        if (cases[i].flip)
            copy[cases[i].at] ^= 0x40;
        f = fopen (bad, "wb");
        fwrite (copy, 1, cases[i].cut ? cases[i].cut : len, f);
        fclose (f);
        FL_CHECK (fl_qat_int8_load (bad) == NULL);
    }
    /* a header declaring a huge layer is refused before allocating */
    uint8_t huge[40] = { 'F', 'L', 'Q', '8', 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0,
                         0, 0, 1, 0, 0, 0, 1, 0 };   /* widths 65536 x 65536 */
    f = fopen (bad, "wb");
    fwrite (huge, 1, sizeof huge, f);
    fclose (f);
    FL_CHECK (fl_qat_int8_load (bad) == NULL);
    huge[16] = 1;
    huge[18] = 2;           /* width 131073: over the limit */
    f = fopen (bad, "wb");
    fwrite (huge, 1, sizeof huge, f);
    fclose (f);
    FL_CHECK (fl_qat_int8_load (bad) == NULL);
    FL_CHECK (fl_qat_int8_load ("/nonexistent/model.flq8") == NULL);
    unlink (bad);
    unlink (path);
    fl_model_destroy (&m);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_affine);
    FL_RUN (test_weights);
    FL_RUN (test_ste_gradients);
    FL_RUN (test_models_use_stack);
    FL_RUN (test_fingerprint_and_config);
    FL_RUN (test_ranges);
    FL_RUN (test_int8_file);
    FL_RUN (test_agreement_wdbc);
    FL_RUN (test_agreement_ulb);
    FL_TEST_DONE ();
}
