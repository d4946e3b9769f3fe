/*  test_quant_encode.c - fl_quant encoding: scale choice, round-trip error,
    unbiased stochastic rounding, extreme sums without wrap, rejection of
    out-of-bound sums, L2 clipping. */
#include "fl_quant.h"
#include "fl_test.h"

#include <czmq.h>
#include <math.h>

static int64_t
s_signed (uint32_t v)
{
    return v < 0x80000000u ? (int64_t) v : (int64_t) v - 0x100000000LL;
}

static void
test_init (void)
{
    const double abs_values[] = {1e-3, 0.5, 1.0, 2.5, 10.0, 1000.0};
    const uint32_t summands[] = {1, 2, 3, 7, 100, 1000, 65535};
    int ok = 1, tight = 1;
    for (size_t a = 0; a < sizeof abs_values / sizeof abs_values[0]; a++)
        for (size_t s = 0; s < sizeof summands / sizeof summands[0]; s++) {
            fl_quant_encoding_t enc;
            if (fl_quant_encoding_init (&enc, abs_values[a], summands[s]) != 0) {
                /* only refused when the scale would drop below 1 */
                ok &= abs_values[a] * summands[s] > 2147483647.0 / 2;
                continue;
            }
            double q = ceil (enc.max_abs * enc.scale);
            ok &= (double) summands[s] * q <= 2147483647.0;    /* no wrap */
            ok &= enc.scale >= 1.0 && enc.max_summands == summands[s];
            /* and not wasteful: the per-vector budget is (nearly) used up */
            tight &= q >= (double) (2147483647u / summands[s]) - 1;
        }
    FL_CHECK (ok);
    FL_CHECK (tight);
    fl_quant_encoding_t enc;
    FL_CHECK (fl_quant_encoding_init (&enc, 1.0, 1) == 0 && enc.scale == 2147483647.0);
    FL_CHECK (fl_quant_encoding_init (&enc, 1.0, 2147483647u) == 0 && enc.scale == 1.0);
    /* errors */
    FL_CHECK (fl_quant_encoding_init (&enc, 2.0, 2147483647u) == -1);      /* scale 0.5 */
    FL_CHECK (fl_quant_encoding_init (&enc, 1e7, 1000) == -1);             /* scale 0.2 */
    FL_CHECK (fl_quant_encoding_init (&enc, 1.0, 0) == -1);
    FL_CHECK (fl_quant_encoding_init (&enc, 1.0, 2147483648u) == -1);
    FL_CHECK (fl_quant_encoding_init (&enc, 0.0, 10) == -1);
    FL_CHECK (fl_quant_encoding_init (&enc, -1.0, 10) == -1);
    FL_CHECK (fl_quant_encoding_init (&enc, NAN, 10) == -1);
    FL_CHECK (fl_quant_encoding_init (&enc, INFINITY, 10) == -1);
    fl_quant_encoding_t zero = {0, 0, 0};
    uint32_t out[1];
    float f[1] = {0};
    fl_rng_t *r = fl_rng_new_u64 (1, 1);
    FL_CHECK (fl_quant_encode (f, 1, &zero, r, out) == -1);                /* uninitialised */
    FL_CHECK (fl_quant_decode_sum (out, 1, &zero, 1, f) == -1);
    fl_rng_destroy (&r);
}

/*  Single vector: |decode(encode(x)) - x| <= 1/scale (+ float rounding of the
    decoded value), for many random x; clamped beyond max_abs. */
static void
test_round_trip (void)
{
    fl_rng_t *r = fl_rng_new_u64 (32, 0);
    const double cases[][2] = {{1.0, 100}, {0.05, 1000}, {3.0, 1}, {1.0, 2000000000}};
    for (size_t c = 0; c < 4; c++) {
        fl_quant_encoding_t enc;
        FL_CHECK (fl_quant_encoding_init (&enc, cases[c][0], (uint32_t) cases[c][1]) == 0);
        const size_t n = 20000;
        float *x = (float *) malloc (n * sizeof (float)), *y = (float *) malloc (n * sizeof (float));
        uint32_t *q = (uint32_t *) malloc (n * 4);
        for (size_t i = 0; i < n; i++)
            x[i] = (float) ((2 * fl_rng_double (r) - 1) * enc.max_abs);
        x[0] = (float) enc.max_abs;
        x[1] = (float) -enc.max_abs;
        x[2] = 0.0f;
        FL_CHECK (fl_quant_encode (x, n, &enc, r, q) == 0);
        FL_CHECK (fl_quant_decode_sum (q, n, &enc, 1, y) == 0);
        int ok = 1;
        double step = 1.0 / enc.scale;
        for (size_t i = 0; i < n; i++)
            ok &= fabs ((double) y[i] - x[i]) <= step + 6e-8 * fabs (x[i]) + 1e-12;
        FL_CHECK (ok);
        FL_CHECK (q[2] == 0);
        /* clamping: way outside the range decodes to about +-max_abs */
        float big[2] = {(float) (50 * enc.max_abs), (float) (-50 * enc.max_abs)};
        uint32_t qb[2];
        float yb[2];
        FL_CHECK (fl_quant_encode (big, 2, &enc, r, qb) == 0);
        FL_CHECK (fl_quant_decode_sum (qb, 2, &enc, 1, yb) == 0);
        FL_CHECK_CLOSE (yb[0], enc.max_abs, step, 1e-6);
        FL_CHECK_CLOSE (yb[1], -enc.max_abs, step, 1e-6);
        free (x);
        free (y);
        free (q);
    }
    /* non-finite input: refused, nothing written */
    fl_quant_encoding_t enc;
    FL_CHECK (fl_quant_encoding_init (&enc, 1.0, 10) == 0);
    float bad[3] = {0.5f, NAN, 0.1f};
    uint32_t q[3] = {7, 7, 7};
    FL_CHECK (fl_quant_encode (bad, 3, &enc, r, q) == -1);
    FL_CHECK (q[0] == 7 && q[1] == 7 && q[2] == 7);
    bad[1] = INFINITY;
    FL_CHECK (fl_quant_encode (bad, 3, &enc, r, q) == -1);
    FL_CHECK (fl_quant_encode (bad, 0, &enc, r, q) == 0);     /* n = 0 */
    fl_rng_destroy (&r);
}

/*  Stochastic rounding is unbiased: encoding x with x * scale = k + f many
    times gives integers in {k, k + 1} with mean k + f.  N = 200,000 draws:
    sd of the mean = sqrt(f (1 - f) / N) <= 0.0011; we allow 6 sd. */
static void
test_unbiased (void)
{
    fl_rng_t *r = fl_rng_new_random ();
    fl_quant_encoding_t enc;
    FL_CHECK (fl_quant_encoding_init (&enc, 1.0, 1000) == 0);
    const size_t n = 200000;
    float *x = (float *) malloc (n * sizeof (float));
    uint32_t *q = (uint32_t *) malloc (n * 4);
    const double targets[] = {0.3, -2.7, 5.5, 1000.9};
    for (size_t t = 0; t < 4; t++) {
        /* the float nearest (target / scale): its exact scaled value v is the mean to hit */
        float xv = (float) (targets[t] / enc.scale);
        double v = (double) xv * enc.scale, fl = floor (v), frac = v - fl;
        for (size_t i = 0; i < n; i++)
            x[i] = xv;
        FL_CHECK (fl_quant_encode (x, n, &enc, r, q) == 0);
        double mean = 0;
        int in_range = 1;
        for (size_t i = 0; i < n; i++) {
            int64_t s = s_signed (q[i]);
            in_range &= s == (int64_t) fl || s == (int64_t) fl + 1;
            mean += (double) s;
        }
        mean /= (double) n;
        double sd = sqrt (frac * (1 - frac) / (double) n);
        FL_CHECK (in_range);
        FL_CHECK (fabs (mean - v) <= 6 * sd + 1e-12);
        if (fl_test_verbose_)
            printf ("  target %.1f: v = %.6f, mean = %.6f, sd %.6f\n", targets[t], v, mean, sd);
    }
    free (x);
    free (q);
    fl_rng_destroy (&r);
}

/*  max_summands vectors of all +max_abs (or all -max_abs) sum without wrap:
    the mod-2^32 sum read as int32 equals the true integer sum, decodes
    within max_summands / scale of the real sum, and passes the bound check.
    One more vector (or a tampered coordinate) is refused. */
static void
test_extreme_sums (void)
{
    fl_rng_t *r = fl_rng_new_u64 (3, 3);
    const uint32_t S = 1000;
    const double M = 2.5;
    fl_quant_encoding_t enc;
    FL_CHECK (fl_quant_encoding_init (&enc, M, S) == 0);
    /* 2.5 * scale is not an integer here, so +max_abs rounds to floor or ceil */
    const size_t n = 16;
    float plus[16], minus[16], out[16];
    for (size_t i = 0; i < n; i++) {
        plus[i] = (float) M;
        minus[i] = (float) -M;
    }
    for (int sign = 0; sign < 2; sign++) {
        uint32_t sum[16] = {0}, q[16];
        int64_t exact[16] = {0};
        for (uint32_t k = 0; k < S; k++) {
            FL_CHECK (fl_quant_encode (sign ? minus : plus, n, &enc, r, q) == 0);
            for (size_t i = 0; i < n; i++) {
                sum[i] += q[i];                 /* Z_2^32, as secure aggregation does */
                exact[i] += s_signed (q[i]);
            }
        }
        int ok = 1;
        for (size_t i = 0; i < n; i++)
            ok &= s_signed (sum[i]) == exact[i];
        FL_CHECK (ok);
        FL_CHECK (fl_quant_decode_sum (sum, n, &enc, S, out) == 0);
        ok = 1;
        for (size_t i = 0; i < n; i++)
            ok &= fabs (out[i] - (sign ? -1 : 1) * M * S) <= S / enc.scale + 1e-6 * M * S;
        FL_CHECK (ok);
        /* Declared fewer summands than were summed: refused, nothing written. */
        for (size_t i = 0; i < n; i++)
            out[i] = 123.0f;
        FL_CHECK (fl_quant_decode_sum (sum, n, &enc, S / 2, out) == -1);
        FL_CHECK (out[0] == 123.0f && out[15] == 123.0f);
    }
    /* With headroom (max_summands = 2 S), one vector more than declared does
       not wrap and is refused.  Without headroom (max_summands = S, above)
       S + 1 extreme vectors wrap around to a value inside the bound, which no
       bound check can see: see the note in fl_quant.h. */
    fl_quant_encoding_t head;
    FL_CHECK (fl_quant_encoding_init (&head, M, 2 * S) == 0);
    {
        uint32_t sum[16] = {0}, q[16];
        for (uint32_t k = 0; k < S + 1; k++) {
            FL_CHECK (fl_quant_encode (plus, n, &head, r, q) == 0);
            for (size_t i = 0; i < n; i++)
                sum[i] += q[i];
        }
        FL_CHECK (fl_quant_decode_sum (sum, n, &head, S + 1, out) == 0);
        FL_CHECK (fl_quant_decode_sum (sum, n, &head, S, out) == -1);
    }
    /* the bound is per declared summand count */
    uint32_t two[1], q1[1];
    float one_max[1] = {(float) M}, y[1];
    FL_CHECK (fl_quant_encode (one_max, 1, &enc, r, q1) == 0);
    two[0] = q1[0] * 3;                                         /* three summands' worth */
    FL_CHECK (fl_quant_decode_sum (two, 1, &enc, 3, y) == 0);
    FL_CHECK (fl_quant_decode_sum (two, 1, &enc, 2, y) == -1);
    /* tampered coordinate, and summand counts out of range */
    uint32_t t[4] = {0, 5, 0x80000000u, 0};
    FL_CHECK (fl_quant_decode_sum (t, 4, &enc, S, y) == -1);
    t[2] = 0x7fffffffu;
    FL_CHECK (fl_quant_decode_sum (t, 4, &enc, S, y) == -1);
    t[2] = 0;
    float y4[4];
    FL_CHECK (fl_quant_decode_sum (t, 4, &enc, S, y4) == 0);
    FL_CHECK (fl_quant_decode_sum (t, 4, &enc, 0, y4) == -1);
    FL_CHECK (fl_quant_decode_sum (t, 4, &enc, S + 1, y4) == -1);
    fl_rng_destroy (&r);
}

/*  Clip then encode then sum: the decoded mean of several clients is close
    to the mean of their clipped updates. */
static void
test_pipeline (void)
{
    fl_rng_t *r = fl_rng_new_u64 (9, 9);
    const size_t n = 1000;
    const uint32_t clients = 20;
    fl_quant_encoding_t enc;
    FL_CHECK (fl_quant_encoding_init (&enc, 1.0, clients) == 0);    /* C = 1 */
    float *x = (float *) malloc (n * 4), *y = (float *) malloc (n * 4);
    double *mean = (double *) calloc (n, sizeof (double));
    uint32_t *q = (uint32_t *) malloc (n * 4), *sum = (uint32_t *) calloc (n, 4);
    for (uint32_t c = 0; c < clients; c++) {
        for (size_t i = 0; i < n; i++)
            x[i] = (float) fl_rng_normal (r);
        FL_CHECK (fl_quant_clip_l2 (x, n, 1.0) > 1.0);
        for (size_t i = 0; i < n; i++)
            mean[i] += x[i] / clients;
        FL_CHECK (fl_quant_encode (x, n, &enc, r, q) == 0);
        for (size_t i = 0; i < n; i++)
            sum[i] += q[i];
    }
    FL_CHECK (fl_quant_decode_sum (sum, n, &enc, clients, y) == 0);
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= fabs (y[i] / clients - mean[i]) <= 1.0 / enc.scale + 1e-6;
    FL_CHECK (ok);
    free (x);
    free (y);
    free (mean);
    free (q);
    free (sum);
    fl_rng_destroy (&r);
}

static void
test_clip (void)
{
    fl_rng_t *r = fl_rng_new_u64 (4, 4);
    const size_t n = 5000;
    float *x = (float *) malloc (n * 4), *orig = (float *) malloc (n * 4);
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        orig[i] = x[i] = (float) fl_rng_normal (r);
        ss += (double) x[i] * x[i];
    }
    double norm = fl_quant_clip_l2 (x, n, 2.0);
    FL_CHECK_CLOSE (norm, sqrt (ss), 0, 1e-12);
    double ss2 = 0, dot = 0;
    for (size_t i = 0; i < n; i++) {
        ss2 += (double) x[i] * x[i];
        dot += (double) x[i] * orig[i];
    }
    FL_CHECK (sqrt (ss2) <= 2.0);                       /* capped, strictly */
    FL_CHECK_CLOSE (sqrt (ss2), 2.0, 0, 1e-6);          /* and not more than needed */
    FL_CHECK_CLOSE (dot / (sqrt (ss2) * norm), 1.0, 1e-9, 0);   /* same direction */
    int ratio_ok = 1;
    for (size_t i = 0; i < n; i++)
        ratio_ok &= fabs (x[i] - orig[i] * (2.0 / norm)) <= 1e-6 * fabs (orig[i]) + 1e-9;
    FL_CHECK (ratio_ok);
    /* already inside the ball: unchanged bit for bit */
    memcpy (orig, x, n * 4);
    FL_CHECK (fl_quant_clip_l2 (x, n, 10.0) <= 2.0);
    FL_CHECK (memcmp (orig, x, n * 4) == 0);
    /* many clip norms: the result never exceeds the cap */
    int capped = 1;
    for (int k = 0; k < 200; k++) {
        for (size_t i = 0; i < 64; i++)
            x[i] = (float) (fl_rng_normal (r) * 100);
        double c = 1e-3 + fl_rng_double (r) * 10;
        fl_quant_clip_l2 (x, 64, c);
        double s = 0;
        for (size_t i = 0; i < 64; i++)
            s += (double) x[i] * x[i];
        capped &= sqrt (s) <= c;
    }
    FL_CHECK (capped);
    /* edge cases and errors */
    FL_CHECK (fl_quant_clip_l2 (NULL, 0, 1.0) == 0.0);
    float z[3] = {0, 0, 0};
    FL_CHECK (fl_quant_clip_l2 (z, 3, 1.0) == 0.0);
    FL_CHECK (fl_quant_clip_l2 (z, 3, 0.0) == -1.0);
    FL_CHECK (fl_quant_clip_l2 (z, 3, -1.0) == -1.0);
    FL_CHECK (fl_quant_clip_l2 (z, 3, NAN) == -1.0);
    float nanv[2] = {1.0f, NAN};
    FL_CHECK (fl_quant_clip_l2 (nanv, 2, 1.0) == -1.0);
    FL_CHECK (nanv[0] == 1.0f);
    free (x);
    free (orig);
    fl_rng_destroy (&r);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    zsys_init ();
    if (!fl_test_verbose_)
        zsys_set_logstream (NULL);
    FL_RUN (test_init);
    FL_RUN (test_round_trip);
    FL_RUN (test_unbiased);
    FL_RUN (test_extreme_sums);
    FL_RUN (test_pipeline);
    FL_RUN (test_clip);
    FL_TEST_DONE ();
}
