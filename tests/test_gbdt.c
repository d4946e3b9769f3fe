/*  test_gbdt.c - fl_gbdt: gain and leaf weight on hand-computed cases, the
    split XGBoost's formula picks (and a naive exhaustive search as the
    reference kernel), missing-value default directions, bins from a fine
    histogram, sums of histograms equal the histogram of the union (what the
    federated version relies on), bad input refused, predictions consistent.
    The comparison with XGBoost itself is tests/it_gbdt_reference.sh. */
#include "fl_gbdt.h"
#include "fl_rng.h"
#include "fl_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void
test_gain_and_weight (void)
{
    /* G_L = -4, H_L = 2, G_R = 6, H_R = 3, lambda 1:
       16/3 + 36/4 - 4/6 = 13 + 2/3 (eq. 7 without 1/2, as XGBoost's loss_chg) */
    FL_CHECK_CLOSE (fl_gbdt_gain (-4, 2, 6, 3, 1), 13.0 + 2.0 / 3.0, 1e-12, 0);
    /* lambda 0: 8 + 12 - 4/5 */
    FL_CHECK_CLOSE (fl_gbdt_gain (-4, 2, 6, 3, 0), 19.2, 1e-12, 0);
    /* eq. 5: w = -G / (H + lambda) */
    fl_gbdt_split_param_t p = { .lambda = 1, .min_child_weight = 1 };
    FL_CHECK_CLOSE (fl_gbdt_leaf_weight (-4, 2, &p), 4.0 / 3.0, 1e-15, 0);
    FL_CHECK_CLOSE (fl_gbdt_leaf_weight (6, 3, &p), -1.5, 1e-15, 0);
    /* below min_child_weight: 0, as XGBoost's CalcWeight */
    FL_CHECK (fl_gbdt_leaf_weight (-4, 0.5, &p) == 0);
    p.min_child_weight = 0;
    FL_CHECK (fl_gbdt_leaf_weight (-4, 0, &p) == 0);
}

/*  One feature, rows in bins 1..4 with the gradients below, hessian 1 each. */
static void
test_split_hand (void)
{
    float edges[3] = { 1, 2, 3 };
    uint32_t ne[2] = { 3, 3 };
    float e2[6] = { 1, 2, 3, 1, 2, 3 };
    fl_gbdt_bins_t *b = fl_gbdt_bins_from_edges (e2, ne, 2, 4);
    FL_CHECK (b != NULL);
    FL_CHECK (fl_gbdt_bins_stride (b) == 5);
    FL_CHECK (fl_gbdt_bins_count (b, 0) == 4);
    (void) edges;
    /* feature 0 bins 1,2,3,4; feature 1 uninformative (all bin 1) */
    uint16_t xb[8] = { 1, 1, 2, 1, 3, 1, 4, 1 };
    float g[4] = { -3, -2, 2, 3 }, h[4] = { 1, 1, 1, 1 };
    uint32_t rows[4] = { 0, 1, 2, 3 };
    double hist[2 * 5 * 2];
    FL_CHECK (fl_gbdt_hist_build (xb, 4, 2, 5, g, h, rows, 4, hist) == 0);
    /* feature 0 bin 2 holds row 1: (-2, 1) */
    FL_CHECK (hist[(0 * 5 + 2) * 2] == -2 && hist[(0 * 5 + 2) * 2 + 1] == 1);
    FL_CHECK (hist[(1 * 5 + 1) * 2] == 0 && hist[(1 * 5 + 1) * 2 + 1] == 4);
    /* candidates on feature 0 (lambda 1): b=1: 9/2 + 9/4 = 6.75; b=2: 25/3 + 25/3;
       b=3: 6.75; feature 1 has none (one side empty) -> (0, 2, right), 50/3 */
    fl_gbdt_split_param_t p = { .lambda = 1, .min_child_weight = 0 };
    fl_gbdt_split_t s;
    FL_CHECK (fl_gbdt_split_find (b, hist, &p, &s) == 0);
    FL_CHECK (s.feature == 0 && s.bin == 2 && !s.default_left);
    FL_CHECK_CLOSE (s.gain, 50.0 / 3.0, 1e-12, 0);
    FL_CHECK (s.g_left == -5 && s.h_left == 2 && s.g_right == 5 && s.h_right == 2);
    /* min_child_weight 2.5: no side of any split has hessian >= 2.5 and the other too */
    p.min_child_weight = 2.5;
    FL_CHECK (fl_gbdt_split_find (b, hist, &p, &s) == 0);
    FL_CHECK (s.feature == -1);
    /* min_child_weight 1 with gradients that cannot be improved: all zero */
    float z[4] = { 0, 0, 0, 0 };
    FL_CHECK (fl_gbdt_hist_build (xb, 4, 2, 5, z, h, rows, 4, hist) == 0);
    p.min_child_weight = 1;
    FL_CHECK (fl_gbdt_split_find (b, hist, &p, &s) == 0);
    FL_CHECK (s.feature == -1);
    fl_gbdt_bins_destroy (&b);
    fl_gbdt_bins_destroy (&b);
    FL_CHECK (b == NULL);
}

/*  Exhaustive reference: every feature, every b, both directions, both
    children with hessian >= mcw, highest gain (lowest feature, then lowest
    b with missing right, then highest b with missing left, on ties). */
static void
s_naive_split (const double *hist, size_t d, size_t stride, const size_t *nb, double lambda, double mcw,
               double *best_gain, int *bf)
{
    *best_gain = FL_GBDT_MIN_GAIN;
    *bf = -1;
    double G = 0, H = 0;
    for (size_t k = 0; k < stride; k++) {
        G += hist[2 * k];
        H += hist[2 * k + 1];
    }
    for (size_t f = 0; f < d; f++)
        for (int dir = 0; dir < 2; dir++)
            for (size_t b = 0; b <= nb[f]; b++) {
                double gl = dir ? hist[f * stride * 2] : 0, hl = dir ? hist[f * stride * 2 + 1] : 0;
                for (size_t j = 1; j <= b; j++) {
                    gl += hist[(f * stride + j) * 2];
                    hl += hist[(f * stride + j) * 2 + 1];
                }
                double gr = G - gl, hr = H - hl;
                if (hl < mcw || hr < mcw || hl <= 0 || hr <= 0)
                    continue;
                double gain = fl_gbdt_gain (gl, hl, gr, hr, lambda);
                if (gain > *best_gain) {
                    *best_gain = gain;
                    *bf = (int) f;
                }
            }
}

static void
test_split_vs_naive (void)
{
    fl_rng_t *rng = fl_rng_new_u64 (11, 0);
    size_t d = 5, B = 8, stride = B + 1;
    float edges[5 * 7];
    uint32_t ne[5];
    for (size_t f = 0; f < d; f++) {
        ne[f] = (uint32_t) f + 3;               /* 4..8 value bins */
        for (size_t k = 0; k < 7; k++)
            edges[f * 7 + k] = (float) k;
    }
    fl_gbdt_bins_t *b = fl_gbdt_bins_from_edges (edges, ne, d, B);
    FL_CHECK (b != NULL);
    size_t nb[5];
    for (size_t f = 0; f < d; f++)
        nb[f] = fl_gbdt_bins_count (b, f);
    int agree = 0, trials = 200;
    for (int t = 0; t < trials; t++) {
        /* random rows, some missing */
        size_t n = 60;
        uint16_t xb[60 * 5];
        float g[60], h[60];
        uint32_t rows[60];
        for (size_t i = 0; i < n; i++) {
            rows[i] = (uint32_t) i;
            g[i] = (float) (fl_rng_double (rng) * 2 - 1);
            h[i] = (float) (0.05 + fl_rng_double (rng) * 0.2);
            for (size_t f = 0; f < d; f++)
                xb[i * d + f] = fl_rng_double (rng) < 0.15 ? 0 : (uint16_t) (1 + fl_rng_uniform (rng, nb[f]));
        }
        double hist[5 * 9 * 2];
        fl_gbdt_hist_build (xb, n, d, stride, g, h, rows, n, hist);
        fl_gbdt_split_param_t p = { .lambda = 1, .min_child_weight = 0.5 };
        fl_gbdt_split_t s;
        double ng;
        int nf;
        s_naive_split (hist, d, stride, nb, p.lambda, p.min_child_weight, &ng, &nf);
        if (fl_gbdt_split_find (b, hist, &p, &s) == 0 && s.feature == nf
            && (nf < 0 || fabs (s.gain - ng) <= 1e-12 * (1 + ng)))
            agree++;
        /* the reported child sums are the histogram's */
        if (s.feature >= 0) {
            double hl = s.default_left ? hist[s.feature * stride * 2 + 1] : 0;
            for (size_t j = 1; j <= s.bin; j++)
                hl += hist[(s.feature * stride + j) * 2 + 1];
            FL_CHECK_CLOSE (s.h_left, hl, 1e-12, 0);
        }
    }
    FL_CHECK (agree == trials);
    fl_gbdt_bins_destroy (&b);
    fl_rng_destroy (&rng);
}

static void
test_missing_default_direction (void)
{
    /* one feature: bin 1 (-3, 1), bin 2 (3, 1), missing (-4, 2), lambda 1:
       missing right, b=1: 9/2 + 1/4 - 16/5 = 1.55;
       missing left,  b=1: 49/4 + 9/2 - 16/5 = 13.55  <- best;
       missing left,  b=0: 16/3 + 0 - 16/5 */
    float e[1] = { 0.5f };
    uint32_t ne[1] = { 1 };
    fl_gbdt_bins_t *b = fl_gbdt_bins_from_edges (e, ne, 1, 2);
    FL_CHECK (b != NULL);
    uint16_t xb[4] = { 1, 2, 0, 0 };
    float g[4] = { -3, 3, -2, -2 }, h[4] = { 1, 1, 1, 1 };
    uint32_t rows[4] = { 0, 1, 2, 3 };
    double hist[3 * 2];
    FL_CHECK (fl_gbdt_hist_build (xb, 4, 1, 3, g, h, rows, 4, hist) == 0);
    fl_gbdt_split_param_t p = { .lambda = 1, .min_child_weight = 0 };
    fl_gbdt_split_t s;
    FL_CHECK (fl_gbdt_split_find (b, hist, &p, &s) == 0);
    FL_CHECK (s.feature == 0 && s.bin == 1 && s.default_left);
    FL_CHECK_CLOSE (s.gain, 13.55, 1e-12, 0);
    /* the same with the missing rows' gradients flipped: they go right */
    float g2[4] = { -3, 3, 2, 2 };
    FL_CHECK (fl_gbdt_hist_build (xb, 4, 1, 3, g2, h, rows, 4, hist) == 0);
    FL_CHECK (fl_gbdt_split_find (b, hist, &p, &s) == 0);
    FL_CHECK (s.feature == 0 && s.bin == 1 && !s.default_left);

    /* trained end to end: label 1 exactly when x is missing or < 0.5, so
       the missing rows belong with the left bin */
    size_t n = 40;
    float x[40];
    int32_t y[40];
    uint16_t xb2[40];
    for (size_t i = 0; i < n; i++) {
        x[i] = i % 4 == 0 ? NAN : i % 4 == 1 ? 0.0f : 1.0f;
        y[i] = i % 4 != 2 && i % 4 != 3;
    }
    FL_CHECK (fl_gbdt_bins_apply (b, x, n, 1, xb2) == 0);
    FL_CHECK (xb2[0] == 0 && xb2[1] == 1 && xb2[2] == 2);
    fl_gbdt_param_t prm = fl_gbdt_param_default ();
    prm.trees = 5;
    prm.min_child_weight = 0;
    fl_gbdt_t *m = fl_gbdt_train (b, xb2, y, n, 2, &prm);
    FL_CHECK (m != NULL);
    size_t nn;
    const fl_gbdt_node_t *t0 = fl_gbdt_tree (m, 0, &nn);
    FL_CHECK (t0 && t0[0].feature == 0 && t0[0].bin == 1 && t0[0].default_left);
    FL_CHECK (t0 && t0[0].threshold == 0.5f);
    float q[3] = { NAN, 0.0f, 1.0f }, pr[3];
    FL_CHECK (fl_gbdt_predict_proba (m, q, 3, 1, pr) == 0);
    FL_CHECK (pr[0] > 0.8f && pr[1] > 0.8f && pr[2] < 0.2f);
    fl_gbdt_destroy (&m);
    fl_gbdt_bins_destroy (&b);
}

static void
test_bins (void)
{
    /* 10 cells over [0, 10], one value each, 4 bins: cumulative 2.5, 5,
       7.5 are reached in cells 2, 4, 7 -> edges 3, 5, 8 */
    double counts[10] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, lo = 0, hi = 10;
    fl_gbdt_bins_t *b = fl_gbdt_bins_from_histogram (counts, 1, 10, &lo, &hi, 4);
    FL_CHECK (b != NULL);
    FL_CHECK (fl_gbdt_bins_count (b, 0) == 4);
    FL_CHECK (fl_gbdt_bins_edge (b, 0, 0) == 3 && fl_gbdt_bins_edge (b, 0, 1) == 5 && fl_gbdt_bins_edge (b, 0, 2) == 8);
    FL_CHECK (isnan (fl_gbdt_bins_edge (b, 0, 3)) && isnan (fl_gbdt_bins_edge (b, 1, 0)));
    float x[7] = { 2.9f, 3.0f, 7.99f, 8.0f, 100.0f, -5.0f, NAN };
    uint16_t xb[7];
    FL_CHECK (fl_gbdt_bins_apply (b, x, 7, 1, xb) == 0);
    FL_CHECK (xb[0] == 1 && xb[1] == 2 && xb[2] == 3 && xb[3] == 4 && xb[4] == 4 && xb[5] == 1 && xb[6] == 0);
    fl_gbdt_bins_destroy (&b);
    /* all mass in one cell: one value bin; all-zero counts: one value bin */
    double one[10] = { 0, 0, 0, 7, 0, 0, 0, 0, 0, 0 }, none[10] = { 0 };
    b = fl_gbdt_bins_from_histogram (one, 1, 10, &lo, &hi, 4);
    FL_CHECK (b && fl_gbdt_bins_count (b, 0) == 1);
    fl_gbdt_bins_destroy (&b);
    b = fl_gbdt_bins_from_histogram (none, 1, 10, &lo, &hi, 4);
    FL_CHECK (b && fl_gbdt_bins_count (b, 0) == 1);
    fl_gbdt_bins_destroy (&b);
    /* two heavy cells: two bins split between them */
    double two[10] = { 5, 0, 0, 0, 0, 0, 0, 0, 0, 5 };
    b = fl_gbdt_bins_from_histogram (two, 1, 10, &lo, &hi, 8);
    FL_CHECK (b && fl_gbdt_bins_count (b, 0) == 2 && fl_gbdt_bins_edge (b, 0, 0) == 1);
    fl_gbdt_bins_destroy (&b);

    /* the members' fine histograms sum to the pooled one, so the bins agree */
    fl_rng_t *rng = fl_rng_new_u64 (3, 0);
    size_t n = 500, d = 3, nf = 256;
    float *xs = malloc (n * d * sizeof (float));
    for (size_t i = 0; i < n * d; i++)
        xs[i] = fl_rng_double (rng) < 0.05 ? NAN : (float) fl_rng_normal (rng) * (float) (1 + i % d);
    double los[3] = { -8, -8, -12 }, his[3] = { 8, 8, 12 };
    double *pooled = calloc (d * nf, sizeof (double)), *summed = calloc (d * nf, sizeof (double));
    FL_CHECK (fl_gbdt_fine_histogram (xs, n, d, los, his, nf, pooled) == 0);
    FL_CHECK (fl_gbdt_fine_histogram (xs, 200, d, los, his, nf, summed) == 0);
    FL_CHECK (fl_gbdt_fine_histogram (xs + 200 * d, 300, d, los, his, nf, summed) == 0);
    FL_CHECK (memcmp (pooled, summed, d * nf * sizeof (double)) == 0);
    fl_gbdt_bins_t *b1 = fl_gbdt_bins_from_histogram (pooled, d, nf, los, his, 16);
    FL_CHECK (b1 && fl_gbdt_bins_count (b1, 0) == 16);
    /* quantile bins: each holds about 1/16 of the non-missing values */
    uint16_t *xb2 = malloc (n * d * sizeof (uint16_t));
    FL_CHECK (fl_gbdt_bins_apply (b1, xs, n, d, xb2) == 0);
    size_t cnt[17] = { 0 }, present = 0;
    for (size_t i = 0; i < n; i++) {
        cnt[xb2[i * d]]++;
        present += !isnan (xs[i * d]);
    }
    FL_CHECK (cnt[0] == n - present);
    int even = 1;
    for (size_t k = 1; k <= 16; k++)
        even &= cnt[k] > present / 32 && cnt[k] < present / 8;
    FL_CHECK (even);
    fl_gbdt_bins_destroy (&b1);
    free (xb2);
    free (pooled);
    free (summed);
    free (xs);
    fl_rng_destroy (&rng);
}

static void
test_hist_sum (void)
{
    /* histograms of two members' rows add up to the histogram of all rows */
    fl_rng_t *rng = fl_rng_new_u64 (5, 0);
    size_t n = 100, d = 4, stride = 9;
    uint16_t xb[400];
    float g[100], h[100];
    uint32_t all[100];
    for (size_t i = 0; i < n; i++) {
        all[i] = (uint32_t) i;
        g[i] = (float) fl_rng_normal (rng);
        h[i] = (float) fl_rng_double (rng);
        for (size_t f = 0; f < d; f++)
            xb[i * d + f] = (uint16_t) fl_rng_uniform (rng, stride);
    }
    double ha[4 * 9 * 2], hb[4 * 9 * 2], hall[4 * 9 * 2];
    FL_CHECK (fl_gbdt_hist_build (xb, n, d, stride, g, h, all, 37, ha) == 0);
    FL_CHECK (fl_gbdt_hist_build (xb, n, d, stride, g, h, all + 37, 63, hb) == 0);
    FL_CHECK (fl_gbdt_hist_build (xb, n, d, stride, g, h, all, 100, hall) == 0);
    double worst = 0;
    for (size_t k = 0; k < d * stride * 2; k++)
        worst = fmax (worst, fabs (ha[k] + hb[k] - hall[k]));
    FL_CHECK (worst < 1e-12);
    /* every feature's bins sum to the node totals */
    double t0 = 0, t3 = 0;
    for (size_t k = 0; k < stride; k++) {
        t0 += hall[2 * k + 1];
        t3 += hall[(3 * stride + k) * 2 + 1];
    }
    FL_CHECK_CLOSE (t0, t3, 1e-12, 0);
    fl_rng_destroy (&rng);
}

static void
test_bad_input (void)
{
    float e[3] = { 1, 2, 3 }, dec[3] = { 1, 3, 2 }, nan3[3] = { 1, NAN, 3 };
    uint32_t ne[1] = { 3 }, too_many[1] = { 4 };
    FL_CHECK (fl_gbdt_bins_from_edges (dec, ne, 1, 4) == NULL);
    FL_CHECK (fl_gbdt_bins_from_edges (nan3, ne, 1, 4) == NULL);
    FL_CHECK (fl_gbdt_bins_from_edges (e, too_many, 1, 4) == NULL);
    FL_CHECK (fl_gbdt_bins_from_edges (e, ne, 1, 0) == NULL);
    FL_CHECK (fl_gbdt_bins_from_edges (e, ne, 0, 4) == NULL);
    FL_CHECK (fl_gbdt_bins_from_edges (e, ne, 1, FL_GBDT_MAX_BINS + 1) == NULL);
    double c[4] = { 1, -1, 1, 1 }, cn[4] = { 1, NAN, 1, 1 }, lo = 0, hi = 1, badhi = -1;
    FL_CHECK (fl_gbdt_bins_from_histogram (c, 1, 4, &lo, &hi, 2) == NULL);
    FL_CHECK (fl_gbdt_bins_from_histogram (cn, 1, 4, &lo, &hi, 2) == NULL);
    FL_CHECK (fl_gbdt_bins_from_histogram (c, 1, 4, &lo, &badhi, 2) == NULL);
    FL_CHECK (fl_gbdt_fine_histogram (e, 1, 1, &lo, &badhi, 4, c) == -1);
    FL_CHECK (fl_gbdt_fine_histogram (e, 1, 1, &lo, &hi, 0, c) == -1);

    fl_gbdt_bins_t *b = fl_gbdt_bins_from_edges (e, ne, 1, 4);
    FL_CHECK (b != NULL);
    float x[2] = { 0, 1 };
    uint16_t xb[2];
    FL_CHECK (fl_gbdt_bins_apply (b, x, 2, 2, xb) == -1);   /* width mismatch */
    /* histograms: row and bin out of range */
    uint16_t xbad[2] = { 1, 9 };
    float g[2] = { 1, 1 }, h[2] = { 1, 1 };
    uint32_t r_bad[1] = { 2 }, r_ok[2] = { 0, 1 };
    double hist[5 * 2];
    FL_CHECK (fl_gbdt_hist_build (xbad, 2, 1, 5, g, h, r_bad, 1, hist) == -1);
    FL_CHECK (fl_gbdt_hist_build (xbad, 2, 1, 5, g, h, r_ok, 2, hist) == -1);
    /* a hostile histogram: negative hessian, NaN, infinite gradient */
    fl_gbdt_split_param_t p = { .lambda = 1, .min_child_weight = 1 }, pbad = { .lambda = -1 };
    fl_gbdt_split_t s;
    double hneg[10] = { 0, 0, 1, -1, 1, 1, 0, 0, 0, 0 };
    FL_CHECK (fl_gbdt_split_find (b, hneg, &p, &s) == -1);
    hneg[3] = NAN;
    FL_CHECK (fl_gbdt_split_find (b, hneg, &p, &s) == -1);
    hneg[3] = 1;
    hneg[2] = INFINITY;
    FL_CHECK (fl_gbdt_split_find (b, hneg, &p, &s) == -1);
    hneg[2] = 1;
    FL_CHECK (fl_gbdt_split_find (b, hneg, &pbad, &s) == -1);
    FL_CHECK (fl_gbdt_split_find (b, hneg, &p, &s) == 0);
    /* a split received from a coordinator */
    fl_gbdt_split_t ok = { .feature = 0, .bin = 4 }, badf = { .feature = 1, .bin = 1 },
                    negf = { .feature = -7, .bin = 1 }, badb = { .feature = 0, .bin = 5 },
                    zero = { .feature = 0, .bin = 0 }, zero_left = { .feature = 0, .bin = 0, .default_left = true },
                    leaf = { .feature = -1 };
    FL_CHECK (fl_gbdt_split_check (b, &ok, true) == 0);
    FL_CHECK (fl_gbdt_split_check (b, &leaf, true) == 0);
    FL_CHECK (fl_gbdt_split_check (b, &zero_left, true) == 0);
    FL_CHECK (fl_gbdt_split_check (b, &ok, false) == -1);        /* node does not exist */
    FL_CHECK (fl_gbdt_split_check (b, &badf, true) == -1);
    FL_CHECK (fl_gbdt_split_check (b, &negf, true) == -1);
    FL_CHECK (fl_gbdt_split_check (b, &badb, true) == -1);
    FL_CHECK (fl_gbdt_split_check (b, &zero, true) == -1);
    FL_CHECK (fl_gbdt_split_check (NULL, &ok, true) == -1);

    /* training: labels and bins out of range, bad parameters */
    uint16_t xt[4] = { 1, 2, 3, 4 };
    int32_t y[4] = { 0, 1, 0, 1 }, ybad[4] = { 0, 1, 2, 1 };
    fl_gbdt_param_t prm = fl_gbdt_param_default ();
    prm.trees = 2;
    FL_CHECK (fl_gbdt_train (b, xt, ybad, 4, 2, &prm) == NULL);
    uint16_t xt_bad[4] = { 1, 2, 3, 5 };
    FL_CHECK (fl_gbdt_train (b, xt_bad, y, 4, 2, &prm) == NULL);
    FL_CHECK (fl_gbdt_train (b, xt, y, 0, 2, &prm) == NULL);
    FL_CHECK (fl_gbdt_train (b, xt, y, 4, 1, &prm) == NULL);
    fl_gbdt_param_t q = prm;
    q.max_depth = 0;
    FL_CHECK (fl_gbdt_train (b, xt, y, 4, 2, &q) == NULL);
    q = prm;
    q.eta = 0;
    FL_CHECK (fl_gbdt_train (b, xt, y, 4, 2, &q) == NULL);
    q = prm;
    q.subsample = 1.5;
    FL_CHECK (fl_gbdt_train (b, xt, y, 4, 2, &q) == NULL);
    q = prm;
    q.lambda = NAN;
    FL_CHECK (fl_gbdt_train (b, xt, y, 4, 2, &q) == NULL);
    prm.min_child_weight = 0;
    fl_gbdt_t *m = fl_gbdt_train (b, xt, y, 4, 2, &prm);
    FL_CHECK (m != NULL);
    FL_CHECK (fl_gbdt_tree_count (m) == 2);
    double out[4];
    FL_CHECK (fl_gbdt_predict_margin (m, xt_bad, 4, out) == -1);
    float pr[4];
    FL_CHECK (fl_gbdt_predict_proba (m, x, 1, 2, pr) == -1);

    /* trees received from elsewhere: every malformed shape refused, model unchanged */
    fl_gbdt_node_t leaf1 = { .feature = -1, .left = -1, .right = -1, .value = 0.5f };
    fl_gbdt_node_t t_ok[3] = { { .feature = 0, .bin = 2, .left = 1, .right = 2 }, leaf1, leaf1 };
    FL_CHECK (fl_gbdt_add_tree (m, t_ok, 3) == 0);
    FL_CHECK (fl_gbdt_tree_count (m) == 3);
    fl_gbdt_node_t t_bad[3];
    memcpy (t_bad, t_ok, sizeof t_bad);
    t_bad[0].feature = 1;                               /* no such feature */
    FL_CHECK (fl_gbdt_add_tree (m, t_bad, 3) == -1);
    memcpy (t_bad, t_ok, sizeof t_bad);
    t_bad[0].bin = 5;                                   /* no such bin */
    FL_CHECK (fl_gbdt_add_tree (m, t_bad, 3) == -1);
    memcpy (t_bad, t_ok, sizeof t_bad);
    t_bad[0].right = 1;                                 /* both children the same node */
    FL_CHECK (fl_gbdt_add_tree (m, t_bad, 3) == -1);
    memcpy (t_bad, t_ok, sizeof t_bad);
    t_bad[0].right = 3;                                 /* child outside the tree */
    FL_CHECK (fl_gbdt_add_tree (m, t_bad, 3) == -1);
    memcpy (t_bad, t_ok, sizeof t_bad);
    t_bad[1] = t_ok[0];
    t_bad[1].left = 0;                                  /* a cycle back to the root */
    FL_CHECK (fl_gbdt_add_tree (m, t_bad, 3) == -1);
    memcpy (t_bad, t_ok, sizeof t_bad);
    t_bad[2].value = NAN;
    FL_CHECK (fl_gbdt_add_tree (m, t_bad, 3) == -1);
    FL_CHECK (fl_gbdt_add_tree (m, t_ok, 2) == -1);     /* node 2 missing */
    fl_gbdt_node_t t_orphan[3] = { leaf1, leaf1, leaf1 };
    FL_CHECK (fl_gbdt_add_tree (m, t_orphan, 3) == -1); /* unreachable nodes */
    FL_CHECK (fl_gbdt_add_tree (m, t_ok, 0) == -1);
    FL_CHECK (fl_gbdt_tree_count (m) == 3);
    FL_CHECK (fl_gbdt_tree (m, 3, NULL) == NULL);
    fl_gbdt_destroy (&m);
    fl_gbdt_destroy (&m);
    fl_gbdt_bins_destroy (&b);
}

/*  Walks a tree on raw values with the stored float thresholds. */
static double
s_walk_raw (const fl_gbdt_node_t *t, const float *x)
{
    size_t i = 0;
    while (t[i].feature >= 0) {
        float v = x[t[i].feature];
        bool left = isnan (v) ? t[i].default_left : v < t[i].threshold;
        i = (size_t) (left ? t[i].left : t[i].right);
    }
    return t[i].value;
}

static void
test_predict_consistent (void)
{
    /* y = 1 when x0 + x1^2 > 1, x2 noise, 10% missing */
    fl_rng_t *rng = fl_rng_new_u64 (9, 0);
    size_t n = 600, d = 3;
    float *x = malloc (n * d * sizeof (float));
    int32_t *y = malloc (n * sizeof (int32_t));
    for (size_t i = 0; i < n; i++) {
        float a = (float) fl_rng_normal (rng), c = (float) fl_rng_normal (rng);
        x[i * d] = a;
        x[i * d + 1] = c;
        x[i * d + 2] = (float) fl_rng_normal (rng);
        y[i] = a + c * c > 1;
        for (size_t f = 0; f < d; f++)
            if (fl_rng_double (rng) < 0.1)
                x[i * d + f] = NAN;
    }
    fl_gbdt_bins_t *b = fl_gbdt_bins_new (x, n, d, 1024, 32);
    FL_CHECK (b != NULL);
    uint16_t *xb = malloc (n * d * sizeof (uint16_t));
    FL_CHECK (fl_gbdt_bins_apply (b, x, n, d, xb) == 0);
    fl_gbdt_param_t prm = fl_gbdt_param_default ();
    prm.trees = 30;
    prm.max_depth = 4;
    fl_gbdt_t *m = fl_gbdt_train (b, xb, y, n, 2, &prm);
    FL_CHECK (m != NULL);
    FL_CHECK (fl_gbdt_tree_count (m) == 30 && fl_gbdt_groups (m) == 1 && fl_gbdt_classes (m) == 2);
    double *mg = malloc (n * sizeof (double));
    float *pr = malloc (n * sizeof (float));
    FL_CHECK (fl_gbdt_predict_margin (m, xb, n, mg) == 0);
    FL_CHECK (fl_gbdt_predict_proba (m, x, n, d, pr) == 0);
    double worst_p = 0, worst_raw = 0;
    size_t correct = 0, depth_ok = 1;
    for (size_t i = 0; i < n; i++) {
        worst_p = fmax (worst_p, fabs (pr[i] - 1.0 / (1.0 + exp (-mg[i]))));
        double raw = 0;
        for (size_t t = 0; t < fl_gbdt_tree_count (m); t++) {
            size_t nn;
            const fl_gbdt_node_t *tr = fl_gbdt_tree (m, t, &nn);
            raw += s_walk_raw (tr, x + i * d);
            depth_ok &= nn <= 31;               /* depth 4: at most 2^5 - 1 nodes */
        }
        worst_raw = fmax (worst_raw, fabs (raw - mg[i]));
        correct += (pr[i] > 0.5f) == (y[i] == 1);
    }
    FL_CHECK (worst_p < 1e-6);      /* probability = sigmoid(margin) */
    FL_CHECK (worst_raw < 1e-9);    /* float thresholds route as the bins do */
    FL_CHECK (depth_ok);
    FL_CHECK (correct > n * 9 / 10); /* it learns (training accuracy) */
    /* subsample: same seed, same model; other seed, another model */
    prm.subsample = 0.5;
    prm.seed = 4;
    fl_gbdt_t *s1 = fl_gbdt_train (b, xb, y, n, 2, &prm), *s2 = fl_gbdt_train (b, xb, y, n, 2, &prm);
    prm.seed = 5;
    fl_gbdt_t *s3 = fl_gbdt_train (b, xb, y, n, 2, &prm);
    double *m1 = malloc (n * sizeof (double)), *m2 = malloc (n * sizeof (double)), *m3 = malloc (n * sizeof (double));
    FL_CHECK (s1 && s2 && s3);
    fl_gbdt_predict_margin (s1, xb, n, m1);
    fl_gbdt_predict_margin (s2, xb, n, m2);
    fl_gbdt_predict_margin (s3, xb, n, m3);
    FL_CHECK (memcmp (m1, m2, n * sizeof (double)) == 0);
    FL_CHECK (memcmp (m1, m3, n * sizeof (double)) != 0);
    /* the root of a subsampled tree covers about half the rows' hessian */
    size_t nn;
    const fl_gbdt_node_t *r1 = fl_gbdt_tree (s1, 0, &nn), *r0 = fl_gbdt_tree (m, 0, &nn);
    FL_CHECK (r1[0].sum_hess > 0.35 * r0[0].sum_hess && r1[0].sum_hess < 0.65 * r0[0].sum_hess);
    fl_gbdt_destroy (&s1);
    fl_gbdt_destroy (&s2);
    fl_gbdt_destroy (&s3);
    free (m1);
    free (m2);
    free (m3);

    /* softmax: 3 classes by the sign pattern; probabilities sum to 1 */
    int32_t *y3 = malloc (n * sizeof (int32_t));
    for (size_t i = 0; i < n; i++) {
        float a = x[i * d];
        y3[i] = isnan (a) ? 2 : a > 0 ? 1 : 0;
    }
    prm.subsample = 1;
    prm.trees = 10;
    fl_gbdt_t *k3 = fl_gbdt_train (b, xb, y3, n, 3, &prm);
    FL_CHECK (k3 && fl_gbdt_groups (k3) == 3 && fl_gbdt_tree_count (k3) == 30);
    float *p3 = malloc (n * 3 * sizeof (float));
    FL_CHECK (fl_gbdt_predict_proba (k3, x, n, d, p3) == 0);
    double worst_sum = 0;
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        worst_sum = fmax (worst_sum, fabs (p3[3 * i] + p3[3 * i + 1] + p3[3 * i + 2] - 1.0));
        size_t am = 0;
        for (size_t k = 1; k < 3; k++)
            am = p3[3 * i + k] > p3[3 * i + am] ? k : am;
        right += am == (size_t) y3[i];
    }
    FL_CHECK (worst_sum < 1e-5);
    FL_CHECK (right > n * 95 / 100);
    fl_gbdt_destroy (&k3);
    free (p3);
    free (y3);
    fl_gbdt_destroy (&m);
    fl_gbdt_bins_destroy (&b);
    free (x);
    free (y);
    free (xb);
    free (mg);
    free (pr);
    fl_rng_destroy (&rng);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_gain_and_weight);
    FL_RUN (test_split_hand);
    FL_RUN (test_split_vs_naive);
    FL_RUN (test_missing_default_direction);
    FL_RUN (test_bins);
    FL_RUN (test_hist_sum);
    FL_RUN (test_bad_input);
    FL_RUN (test_predict_consistent);
    FL_TEST_DONE ();
}
