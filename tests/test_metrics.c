/*  test_metrics.c - fl_metrics: exact metrics on hand-checked cases
    (including sklearn's documented examples), the binned form against the
    exact one, merging, and validation of untrusted counts. */
#include "fl_metrics.h"
#include "fl_rng.h"
#include "fl_test.h"

static void
test_sklearn_examples (void)
{
    /* sklearn docs, roc_auc_score and average_precision_score:
       y = [0, 0, 1, 1], scores = [0.1, 0.4, 0.35, 0.8] -> 0.75 and 0.8333... */
    int32_t y[] = { 0, 0, 1, 1 };
    float s[] = { 0.1f, 0.4f, 0.35f, 0.8f };
    FL_CHECK_CLOSE (fl_metrics_auroc (s, y, 4), 0.75, 1e-15, 0);
    FL_CHECK_CLOSE (fl_metrics_auprc (s, y, 4), 5.0 / 6.0, 1e-15, 0);
}

static void
test_ties_and_extremes (void)
{
    /* y = [0,0,1,1,1], s = [0.2,0.6,0.6,0.6,0.9]: of the 6 (pos, neg) pairs,
       the two 0.6 positives beat 0.2 and tie 0.6 (2 x 1.5), 0.9 beats both (2):
       AUROC = 5/6.  AP: threshold 0.9 -> R 1/3, P 1; 0.6 -> R 1, P 3/4:
       AP = 1/3 + 2/3 * 3/4 = 5/6. */
    int32_t y[] = { 0, 0, 1, 1, 1 };
    float s[] = { 0.2f, 0.6f, 0.6f, 0.6f, 0.9f };
    FL_CHECK_CLOSE (fl_metrics_auroc (s, y, 5), 5.0 / 6.0, 1e-15, 0);
    FL_CHECK_CLOSE (fl_metrics_auprc (s, y, 5), 5.0 / 6.0, 1e-15, 0);
    /* all tied: AUROC 1/2, AP = prevalence */
    int32_t y2[] = { 0, 1, 1, 0, 0 };
    float t[] = { 0.5f, 0.5f, 0.5f, 0.5f, 0.5f };
    FL_CHECK_CLOSE (fl_metrics_auroc (t, y2, 5), 0.5, 1e-15, 0);
    FL_CHECK_CLOSE (fl_metrics_auprc (t, y2, 5), 0.4, 1e-15, 0);
    /* perfect and reversed */
    int32_t y3[] = { 0, 0, 1, 1 };
    float up[] = { 0.1f, 0.2f, 0.3f, 0.4f }, down[] = { 0.4f, 0.3f, 0.2f, 0.1f };
    FL_CHECK (fl_metrics_auroc (up, y3, 4) == 1.0);
    FL_CHECK (fl_metrics_auprc (up, y3, 4) == 1.0);
    FL_CHECK (fl_metrics_auroc (down, y3, 4) == 0.0);
    /* reversed AP: positives at ranks 3, 4 -> 1/2 * 1/3 + 1/2 * 2/4 */
    FL_CHECK_CLOSE (fl_metrics_auprc (down, y3, 4), 1.0 / 6.0 + 0.25, 1e-15, 0);
    /* one class only / bad labels / NaN scores: NAN */
    int32_t ones[] = { 1, 1 }, bad[] = { 0, 2 };
    float two[] = { 0.3f, 0.7f }, nan2[] = { NAN, 0.1f };
    FL_CHECK (isnan (fl_metrics_auroc (two, ones, 2)));
    FL_CHECK (isnan (fl_metrics_auroc (two, bad, 2)));
    FL_CHECK (isnan (fl_metrics_auprc (two, bad, 2)));
    FL_CHECK (isnan (fl_metrics_auroc (nan2, y3, 2)));
    FL_CHECK (isnan (fl_metrics_auroc (two, y3, 0)));
    int32_t zeros[] = { 0, 0 };
    FL_CHECK (isnan (fl_metrics_auprc (two, zeros, 2)));
}

static void
test_threshold_metrics (void)
{
    int32_t y[] = { 1, 0, 1, 1, 0, 0 };
    float s[] = { 0.8f, 0.3f, 0.4f, 0.9f, 0.6f, 0.1f };
    /* at 0.5: predicted positive {0, 3, 4}: TP 2, FP 1, FN 1, TN 2 */
    double p, r;
    FL_CHECK (fl_metrics_precision_recall (s, y, 6, 0.5f, &p, &r) == 0);
    FL_CHECK_CLOSE (p, 2.0 / 3.0, 1e-15, 0);
    FL_CHECK_CLOSE (r, 2.0 / 3.0, 1e-15, 0);
    FL_CHECK_CLOSE (fl_metrics_accuracy (s, y, 6, 0.5f), 4.0 / 6.0, 1e-15, 0);
    /* at 0.95 nothing is predicted positive: precision 0 by convention */
    FL_CHECK (fl_metrics_precision_recall (s, y, 6, 0.95f, &p, &r) == 0 && p == 0 && r == 0);
    FL_CHECK (fl_metrics_precision_recall (s, y, 6, 0.0f, &p, &r) == 0 && p == 0.5 && r == 1);
    int32_t bad[] = { 3 };
    FL_CHECK (fl_metrics_precision_recall (s, bad, 1, 0.5f, &p, &r) == -1);
    /* log loss: y = [1, 0], s = [0.8, 0.3] -> -(ln 0.8 + ln 0.7) / 2 */
    int32_t y2[] = { 1, 0 };
    float s2[] = { 0.8f, 0.3f };
    FL_CHECK_CLOSE (fl_metrics_log_loss (s2, y2, 2), -(log (0.8) + log (0.7)) / 2, 1e-7, 0);
    /* clipping keeps confident mistakes finite: -ln(1e-7) */
    float s3[] = { 0.0f, 1.0f };
    FL_CHECK_CLOSE (fl_metrics_log_loss (s3, y2, 2), -log (FL_METRICS_PROB_EPS), 1e-9, 0);
    /* multi-class */
    float pr[] = { 0.7f, 0.2f, 0.1f, 0.1f, 0.3f, 0.6f, 0.3f, 0.4f, 0.3f };
    int32_t yk[] = { 0, 1, 1 };
    FL_CHECK_CLOSE (fl_metrics_accuracy_multi (pr, yk, 3, 3), 2.0 / 3.0, 1e-15, 0);
    FL_CHECK_CLOSE (fl_metrics_log_loss_multi (pr, yk, 3, 3),
                    -(log (0.7) + log (0.3) + log (0.4)) / 3, 1e-7, 0);
    int32_t yb[] = { 0, 3, 1 };
    FL_CHECK (isnan (fl_metrics_accuracy_multi (pr, yb, 3, 3)));
}

static void
test_bins (void)
{
    FL_CHECK (fl_metrics_bin (0.0f) == 0);
    FL_CHECK (fl_metrics_bin (-1.0f) == 0);
    FL_CHECK (fl_metrics_bin (NAN) == 0);
    FL_CHECK (fl_metrics_bin (0.0009f) == 0);
    FL_CHECK (fl_metrics_bin (0.001f) == 1);     /* float 0.001f is 0.0010000000475 */
    FL_CHECK (fl_metrics_bin (0.5f) == 500);
    FL_CHECK (fl_metrics_bin (nextafterf (0.5f, 0.0f)) == 499);   /* bin 500 starts at the threshold */
    FL_CHECK (fl_metrics_bin (1.0f) == FL_METRICS_BINS - 1);
    FL_CHECK (fl_metrics_bin (2.0f) == FL_METRICS_BINS - 1);
}

/* scores from a noisy classifier: positives shifted up */
static void
s_scores (fl_rng_t *r, float *s, int32_t *y, size_t n, int quantise)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = fl_rng_uniform (r, 10) < 3;          /* 30 % positives */
        double z = fl_rng_normal (r) + (y[i] ? 1.2 : 0.0);
        s[i] = (float) (1.0 / (1.0 + exp (-z)));
        if (quantise)      /* the centre of its bin */
            s[i] = (float) (((double) fl_metrics_bin (s[i]) + 0.5) / FL_METRICS_BINS);
    }
}

static void
test_binned_vs_exact (void)
{
    fl_rng_t *r = fl_rng_new_u64 (31, 0);
    const size_t n = 5000;
    float *s = malloc (n * sizeof (float));
    int32_t *y = malloc (n * sizeof (int32_t));
    for (int q = 0; q < 2; q++) {
        s_scores (r, s, y, n, q);
        fl_metrics_counts_t c;
        fl_metrics_counts_init (&c);
        FL_CHECK (fl_metrics_counts_add (&c, s, y, n, 1) == 0);
        FL_CHECK (fl_metrics_counts_check (&c) == 0);
        fl_metrics_summary_t sum;
        fl_metrics_counts_summary (&c, &sum);
        double p, rc;
        fl_metrics_precision_recall (s, y, n, 0.5f, &p, &rc);
        /* count-based metrics are exact */
        FL_CHECK (sum.n == n);
        FL_CHECK_CLOSE (sum.accuracy, fl_metrics_accuracy (s, y, n, 0.5f), 1e-15, 0);
        FL_CHECK_CLOSE (sum.log_loss, fl_metrics_log_loss (s, y, n), 1e-12, 0);
        FL_CHECK_CLOSE (sum.precision, p, 1e-15, 0);
        FL_CHECK_CLOSE (sum.recall, rc, 1e-15, 0);
        double auroc = fl_metrics_auroc (s, y, n), ap = fl_metrics_auprc (s, y, n);
        if (fl_test_verbose_)
            printf ("  %s: AUROC exact %.6f binned %.6f; AP exact %.6f binned %.6f\n",
                    q ? "bin-centred scores" : "continuous scores", auroc, sum.auroc, ap,
                    sum.auprc);
        if (q) {
            /* scores already on the bin grid: binned equals exact */
            FL_CHECK_CLOSE (sum.auroc, auroc, 1e-12, 0);
            FL_CHECK_CLOSE (sum.auprc, ap, 1e-12, 0);
        }
        else {
            /* within bin resolution: ties inside a bin move AUROC by at most
               half the fraction of (pos, neg) pairs sharing a bin (tiny at
               1000 bins); AP moves similarly */
            double bound = fl_metrics_counts_auroc_bound (&c);
            if (fl_test_verbose_)
                printf ("  AUROC tie bound %.6f\n", bound);
            FL_CHECK (fabs (sum.auroc - auroc) <= bound);
            FL_CHECK (bound < 1e-3);
            FL_CHECK_CLOSE (sum.auprc, ap, 2e-3, 0);
        }
    }
    free (s);
    free (y);
    fl_rng_destroy (&r);
}

static void
test_merge (void)
{
    fl_rng_t *r = fl_rng_new_u64 (32, 0);
    const size_t n = 3000;
    float *s = malloc (n * sizeof (float));
    int32_t *y = malloc (n * sizeof (int32_t));
    s_scores (r, s, y, n, 0);
    fl_metrics_counts_t whole, acc, part, empty;
    fl_metrics_counts_init (&whole);
    fl_metrics_counts_init (&acc);
    fl_metrics_counts_init (&empty);
    fl_metrics_counts_add (&whole, s, y, n, 1);
    /* three uneven shards, merged, equal the whole */
    size_t cut[] = { 0, 100, 2200, n };
    for (int k = 0; k < 3; k++) {
        fl_metrics_counts_init (&part);
        fl_metrics_counts_add (&part, s + cut[k], y + cut[k], cut[k + 1] - cut[k], 1);
        fl_metrics_counts_merge (&acc, &part);
    }
    fl_metrics_counts_merge (&acc, &empty);              /* identity */
    FL_CHECK (acc.n == whole.n && acc.n_correct == whole.n_correct && acc.tp == whole.tp
              && acc.fp == whole.fp && acc.tn == whole.tn && acc.fn == whole.fn);
    FL_CHECK (memcmp (acc.hist_pos, whole.hist_pos, sizeof acc.hist_pos) == 0);
    FL_CHECK (memcmp (acc.hist_neg, whole.hist_neg, sizeof acc.hist_neg) == 0);
    FL_CHECK_CLOSE (acc.log_loss_sum, whole.log_loss_sum, 0, 1e-12);
    fl_metrics_summary_t a, b;
    fl_metrics_counts_summary (&acc, &a);
    fl_metrics_counts_summary (&whole, &b);
    FL_CHECK (a.auroc == b.auroc && a.auprc == b.auprc && a.accuracy == b.accuracy);
    /* empty counts summarise to NAN */
    fl_metrics_counts_summary (&empty, &a);
    FL_CHECK (a.n == 0 && isnan (a.accuracy) && isnan (a.auroc));
    FL_CHECK (isnan (fl_metrics_counts_auroc_bound (&empty)));
    /* merging a multi-class count into a binary one poisons the result */
    float pr[] = { 0.2f, 0.5f, 0.3f };
    int32_t y1[] = { 1 };
    fl_metrics_counts_init (&part);
    FL_CHECK (fl_metrics_counts_add (&part, pr, y1, 1, 3) == 0);
    FL_CHECK (part.n_classes == 3);
    FL_CHECK (fl_metrics_counts_add (&part, s, y, 5, 1) == -1);   /* mixing refused */
    fl_metrics_counts_merge (&acc, &part);
    fl_metrics_counts_summary (&acc, &a);
    FL_CHECK (a.n == 0 && isnan (a.accuracy) && isnan (a.log_loss));
    FL_CHECK (fl_metrics_counts_check (&acc) == -1);
    free (s);
    free (y);
    fl_rng_destroy (&r);
}

static void
test_check_untrusted (void)
{
    int32_t y[] = { 0, 1, 1, 0 };
    float s[] = { 0.2f, 0.7f, 0.4f, 0.9f };
    fl_metrics_counts_t c, t;
    fl_metrics_counts_init (&c);
    FL_CHECK (fl_metrics_counts_check (&c) == 0);         /* empty is valid */
    FL_CHECK (fl_metrics_counts_add (&c, s, y, 4, 1) == 0);
    FL_CHECK (fl_metrics_counts_check (&c) == 0);
    FL_CHECK (c.tp == 1 && c.fp == 1 && c.tn == 1 && c.fn == 1 && c.n_correct == 2);
    t = c; t.tp++;                          FL_CHECK (fl_metrics_counts_check (&t) == -1);
    t = c; t.hist_pos[3]++;                 FL_CHECK (fl_metrics_counts_check (&t) == -1);
    t = c; t.n_correct = 5;                 FL_CHECK (fl_metrics_counts_check (&t) == -1);
    t = c; t.n_classes = 1;                 FL_CHECK (fl_metrics_counts_check (&t) == -1);
    t = c; t.log_loss_sum = -1;             FL_CHECK (fl_metrics_counts_check (&t) == -1);
    t = c; t.log_loss_sum = NAN;            FL_CHECK (fl_metrics_counts_check (&t) == -1);
    t = c; t.n = UINT64_MAX;                FL_CHECK (fl_metrics_counts_check (&t) == -1);
    /* wrap-around attempt: huge histogram entries that sum to the right value mod 2^64 */
    t = c; t.hist_pos[0] += (uint64_t) 1 << 63; t.hist_pos[1] += (uint64_t) 1 << 63;
    FL_CHECK (fl_metrics_counts_check (&t) == -1);
    /* a multi-class count must not carry binary fields */
    fl_metrics_counts_init (&t);
    float pr[] = { 0.2f, 0.5f, 0.3f };
    fl_metrics_counts_add (&t, pr, y + 1, 1, 3);
    FL_CHECK (fl_metrics_counts_check (&t) == 0);
    t.tp = 1;
    FL_CHECK (fl_metrics_counts_check (&t) == -1);
    /* a bad label is refused and leaves the counts unchanged */
    int32_t bad[] = { 0, 2 };
    t = c;
    FL_CHECK (fl_metrics_counts_add (&t, s, bad, 2, 1) == -1);
    FL_CHECK (memcmp (&t, &c, sizeof t) == 0);
}

static void
test_from_model (void)
{
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = 3;
    mc.n_classes = 2;
    mc.seed = 4;
    int rc = fl_model_parse_hidden ("5", &mc);
    FL_CHECK (rc == 0);
    fl_model_t *m = fl_model_new ("mlp", &mc);
    fl_rng_t *r = fl_rng_new_u64 (33, 0);
    const size_t n = 700;      /* more than one chunk */
    float *x = malloc (n * 3 * sizeof (float)), *p = malloc (n * sizeof (float));
    int32_t *y = malloc (n * sizeof (int32_t));
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < 3; j++)
            x[i * 3 + j] = (float) fl_rng_normal (r);
        y[i] = x[i * 3] > 0;
    }
    fl_metrics_counts_t a, b;
    FL_CHECK (fl_metrics_counts_from_model (m, x, y, n, &a) == 0);
    fl_model_predict (m, x, n, p);
    fl_metrics_counts_init (&b);
    fl_metrics_counts_add (&b, p, y, n, 1);
    FL_CHECK (a.n == n && memcmp (a.hist_pos, b.hist_pos, sizeof a.hist_pos) == 0 && a.tp == b.tp);
    FL_CHECK_CLOSE (a.log_loss_sum, b.log_loss_sum, 0, 1e-12);
    fl_metrics_summary_t s;
    fl_metrics_counts_summary (&a, &s);
    FL_CHECK_CLOSE (s.auroc, fl_metrics_auroc (p, y, n), 2e-3, 0);
    y[5] = 7;
    FL_CHECK (fl_metrics_counts_from_model (m, x, y, n, &a) == -1 && a.n == 0);
    /* multi-class: accuracy and log loss only */
    mc.n_classes = 4;
    fl_model_t *mk = fl_model_new ("mlp", &mc);
    y[5] = 3;
    FL_CHECK (fl_metrics_counts_from_model (mk, x, y, n, &a) == 0);
    FL_CHECK (fl_metrics_counts_check (&a) == 0);
    fl_metrics_counts_summary (&a, &s);
    FL_CHECK (s.n == n && s.accuracy >= 0 && s.accuracy <= 1 && s.log_loss > 0);
    FL_CHECK (isnan (s.auroc) && isnan (s.auprc) && isnan (s.precision) && isnan (s.recall));
    fl_model_destroy (&m);
    fl_model_destroy (&mk);
    fl_rng_destroy (&r);
    free (x);
    free (p);
    free (y);
}

/* Secure-aggregation vectors: three shards' encoded counts summed word by
   word mod 2^32 decode to the merged counts; multi-class has no histograms;
   counts that could wrap a bucket's sum, and inconsistent sums, are refused. */
static void
test_encoded_sum (void)
{
    fl_rng_t *r = fl_rng_new_u64 (33, 0);
    const size_t n = 3000;
    float *s = malloc (n * sizeof (float));
    int32_t *y = malloc (n * sizeof (int32_t));
    s_scores (r, s, y, n, 0);
    fl_metrics_counts_t whole, part, dec;
    fl_metrics_counts_init (&whole);
    fl_metrics_counts_add (&whole, s, y, n, 1);
    size_t len = fl_metrics_counts_encoded_len (2);
    FL_CHECK (len == 2 + 8 + 4 + 2 * FL_METRICS_BINS);
    FL_CHECK (fl_metrics_counts_encoded_len (1) == 0 && fl_metrics_counts_encoded_len (3) == 10);
    uint32_t *e = calloc (len, 4), *acc = calloc (len, 4);
    size_t cut[] = {0, 100, 2200, n};
    for (int k = 0; k < 3; k++) {
        fl_metrics_counts_init (&part);
        fl_metrics_counts_add (&part, s + cut[k], y + cut[k], cut[k + 1] - cut[k], 1);
        FL_CHECK (fl_metrics_counts_encode (&part, 2, 3, e) == 0);
        for (size_t i = 0; i < len; i++)
            acc[i] += e[i];
    }
    FL_CHECK (fl_metrics_counts_decode (acc, len, 2, 3, &dec) == 0);
    FL_CHECK (dec.n == whole.n && dec.n_correct == whole.n_correct && dec.tp == whole.tp && dec.fn == whole.fn);
    FL_CHECK (memcmp (dec.hist_pos, whole.hist_pos, sizeof dec.hist_pos) == 0);
    FL_CHECK (memcmp (dec.hist_neg, whole.hist_neg, sizeof dec.hist_neg) == 0);
    FL_CHECK_CLOSE (dec.log_loss_sum, whole.log_loss_sum, 3 * ldexp (1, -32), 1e-12);
    fl_metrics_summary_t a, b;
    fl_metrics_counts_summary (&dec, &a);
    fl_metrics_counts_summary (&whole, &b);
    FL_CHECK (a.auroc == b.auroc && a.auprc == b.auprc && a.accuracy == b.accuracy);
    FL_CHECK_CLOSE (a.log_loss, b.log_loss, 1e-12, 1e-12);
    /* wrong length, a histogram bin off by one, too few summands: refused */
    FL_CHECK (fl_metrics_counts_decode (acc, len - 1, 2, 3, &dec) == -1);
    acc[20]++;
    FL_CHECK (fl_metrics_counts_decode (acc, len, 2, 3, &dec) == -1 && dec.n == 0);
    /* a member whose count could wrap a bucket's 32-bit sum is refused */
    FL_CHECK (fl_metrics_counts_encode (&whole, 2, (uint32_t) (UINT32_MAX / 2999), e) == -1);
    FL_CHECK (fl_metrics_counts_encode (&whole, 3, 2, e) == -1);      /* another class count */
    /* multi-class: accuracy and log loss only */
    float probs[6] = {0.7f, 0.2f, 0.1f, 0.1f, 0.1f, 0.8f};
    int32_t y3[2] = {0, 1};
    fl_metrics_counts_t m3, d3;
    fl_metrics_counts_init (&m3);
    FL_CHECK (fl_metrics_counts_add (&m3, probs, y3, 2, 3) == 0);
    uint32_t e3[10], s3[10] = {0};
    FL_CHECK (fl_metrics_counts_encode (&m3, 3, 2, e3) == 0);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 10; i++)
            s3[i] += e3[i];
    FL_CHECK (fl_metrics_counts_decode (s3, 10, 3, 2, &d3) == 0);
    FL_CHECK (d3.n == 4 && d3.n_correct == 2 && d3.n_classes == 3);
    FL_CHECK_CLOSE (d3.log_loss_sum, 2 * m3.log_loss_sum, 1e-9, 1e-12);
    free (e);
    free (acc);
    free (s);
    free (y);
    fl_rng_destroy (&r);
}

/*  Curve points from the histograms against the exact confusion counts of
    "score >= threshold" computed from the arrays: a hand-checked case, then
    random bin-centred scores.  The trapezoidal area under the points equals
    the binned AUROC.  Calibration groups against a direct count. */
static void
test_curve_points (void)
{
    /* hand case: bins 100 (pos), 300 (neg, pos), 700 (pos, neg), 900 (pos) */
    int32_t y[] = { 1, 0, 1, 1, 0, 1 };
    float s[] = { 0.1005f, 0.3005f, 0.3005f, 0.7005f, 0.7005f, 0.9005f };
    fl_metrics_counts_t c;
    fl_metrics_counts_init (&c);
    FL_CHECK (fl_metrics_counts_add (&c, s, y, 6, 1) == 0);
    fl_metrics_curve_point_t pts[FL_METRICS_BINS + 1];
    size_t np = fl_metrics_counts_curve (&c, pts, FL_METRICS_BINS + 1);
    FL_CHECK (np == 5);    /* nothing positive, then one point per non-empty bin */
    /* thresholds 0.9, 0.7, 0.3, 0.1: (tp, fp) = (1,0) (2,1) (3,2) (4,2); P = 4, N = 2 */
    uint64_t tp[] = { 0, 1, 2, 3, 4 }, fp[] = { 0, 0, 1, 2, 2 };
    for (size_t i = 0; i < np && i < 5; i++) {
        FL_CHECK (pts[i].tp == tp[i] && pts[i].fp == fp[i]);
        FL_CHECK_CLOSE (pts[i].tpr, tp[i] / 4.0, 1e-15, 0);
        FL_CHECK_CLOSE (pts[i].fpr, fp[i] / 2.0, 1e-15, 0);
        if (i)
            FL_CHECK_CLOSE (pts[i].precision, (double) tp[i] / (double) (tp[i] + fp[i]), 1e-15, 0);
    }
    FL_CHECK (isnan (pts[0].precision));
    FL_CHECK_CLOSE (pts[1].threshold, 0.9, 1e-12, 0);
    FL_CHECK_CLOSE (pts[4].threshold, 0.1, 1e-12, 0);
    /* area: ROC (0,0) (0,.25) (.5,.5) (1,.75) (1,1): 0 + .5*.375 + .5*.625 = 0.5 = exact AUROC */
    double area = 0;
    for (size_t i = 1; i < np; i++)
        area += (pts[i].fpr - pts[i - 1].fpr) * (pts[i].tpr + pts[i - 1].tpr) / 2;
    FL_CHECK_CLOSE (area, fl_metrics_auroc (s, y, 6), 1e-15, 0);
    /* a small cap: only cap points written, no overrun */
    fl_metrics_curve_point_t two[2];
    FL_CHECK (fl_metrics_counts_curve (&c, two, 2) == 2);
    /* undefined: one class only, multi-class, empty */
    fl_metrics_counts_t one;
    fl_metrics_counts_init (&one);
    int32_t ones[] = { 1, 1 };
    FL_CHECK (fl_metrics_counts_add (&one, s, ones, 2, 1) == 0);
    FL_CHECK (fl_metrics_counts_curve (&one, pts, FL_METRICS_BINS + 1) == 0);
    fl_metrics_counts_t multi;
    fl_metrics_counts_init (&multi);
    float pr3[] = { 0.2f, 0.3f, 0.5f, 0.6f, 0.3f, 0.1f };
    int32_t y3[] = { 2, 0 };
    FL_CHECK (fl_metrics_counts_add (&multi, pr3, y3, 2, 3) == 0);
    FL_CHECK (fl_metrics_counts_curve (&multi, pts, FL_METRICS_BINS + 1) == 0);
    fl_metrics_calib_t cal[10];
    FL_CHECK (fl_metrics_counts_calibration (&multi, 10, cal) == 0);
    fl_metrics_counts_init (&one);
    FL_CHECK (fl_metrics_counts_curve (&one, pts, FL_METRICS_BINS + 1) == 0);

    /* random bin-centred scores: every point equals the exact count at its threshold */
    fl_rng_t *r = fl_rng_new_u64 (77, 0);
    const size_t n = 3000;
    float *sc = malloc (n * sizeof (float));
    int32_t *yy = malloc (n * sizeof (int32_t));
    s_scores (r, sc, yy, n, 1);
    fl_metrics_counts_init (&c);
    FL_CHECK (fl_metrics_counts_add (&c, sc, yy, n, 1) == 0);
    np = fl_metrics_counts_curve (&c, pts, FL_METRICS_BINS + 1);
    FL_CHECK (np > 100);
    size_t bad = 0;
    area = 0;
    for (size_t i = 1; i < np; i++) {
        uint64_t etp = 0, efp = 0;
        size_t b = (size_t) llround (pts[i].threshold * FL_METRICS_BINS);
        for (size_t k = 0; k < n; k++)
            if (fl_metrics_bin (sc[k]) >= b) {
                etp += yy[k] == 1;
                efp += yy[k] == 0;
            }
        bad += etp != pts[i].tp || efp != pts[i].fp;
        area += (pts[i].fpr - pts[i - 1].fpr) * (pts[i].tpr + pts[i - 1].tpr) / 2;
    }
    FL_CHECK (bad == 0);
    FL_CHECK (pts[np - 1].tpr == 1.0 && pts[np - 1].fpr == 1.0);
    fl_metrics_summary_t sum;
    fl_metrics_counts_summary (&c, &sum);
    FL_CHECK_CLOSE (area, sum.auroc, 1e-12, 0);
    FL_CHECK_CLOSE (area, fl_metrics_auroc (sc, yy, n), 1e-12, 0);
    /* calibration: 10 groups of 100 bins, against a direct count */
    size_t ng = fl_metrics_counts_calibration (&c, 10, cal);
    FL_CHECK (ng >= 5 && ng <= 10);
    uint64_t total = 0;
    for (size_t g = 0; g < ng; g++) {
        uint64_t cnt = 0, pos = 0;
        double sumsc = 0;
        for (size_t k = 0; k < n; k++)
            if (sc[k] >= cal[g].lo && sc[k] < cal[g].hi) {
                cnt++;
                pos += yy[k] == 1;
                sumsc += sc[k];
            }
        FL_CHECK (cnt == cal[g].n);
        FL_CHECK_CLOSE (cal[g].observed, (double) pos / (double) cnt, 1e-12, 0);
        FL_CHECK_CLOSE (cal[g].predicted, sumsc / (double) cnt, 1e-6, 0);   /* bin-centred: midpoints exact */
        total += cnt;
    }
    FL_CHECK (total == n);
    FL_CHECK (fl_metrics_counts_calibration (&c, 7, cal) == 0);   /* 7 does not divide 1000 */
    free (sc);
    free (yy);
    fl_rng_destroy (&r);
}

/* Brier score, operating points and the minority share on hand-computed
   cases (fl_metrics.h, "imbalance"). */
static void
test_brier_oppoint (void)
{
    int32_t y[] = { 0, 0, 1, 1, 0 };
    float s[] = { 0.1f, 0.4f, 0.35f, 0.8f, 0.6f };
    /* 0.01 + 0.16 + 0.4225 + 0.04 + 0.36 = 0.9925, / 5 */
    FL_CHECK_CLOSE (fl_metrics_brier (s, y, 5), 0.1985, 1e-6, 0);
    FL_CHECK_CLOSE (fl_metrics_min_class_share (y, 5, 2), 0.4, 1e-15, 0);
    fl_metrics_oppoint_t o;
    /* threshold 0.5: flags 0.8 (pos) and 0.6 (neg); 0.35 is missed */
    FL_CHECK (fl_metrics_oppoint (s, y, 5, 0.5, 0, &o) == 0);
    FL_CHECK (o.flagged == 2 && o.tp == 1 && o.fp == 1 && o.fn == 1);
    FL_CHECK_CLOSE (o.precision, 0.5, 1e-15, 0);
    FL_CHECK_CLOSE (o.recall, 0.5, 1e-15, 0);
    FL_CHECK_CLOSE (o.f1, 0.5, 1e-15, 0);
    /* top 40%: ceil(2) rows, the threshold is the 2nd highest score */
    FL_CHECK (fl_metrics_oppoint (s, y, 5, -1, 0.4, &o) == 0);
    FL_CHECK (o.flagged == 2 && o.tp == 1);
    FL_CHECK_CLOSE (o.threshold, (double) 0.6f, 1e-15, 0);
    /* top 1% of 5 rows: at least one row, the 0.8 positive: P 1, R 1/2, F1 2/3 */
    FL_CHECK (fl_metrics_oppoint (s, y, 5, -1, 0.01, &o) == 0);
    FL_CHECK (o.flagged == 1 && o.tp == 1 && o.fn == 1);
    FL_CHECK_CLOSE (o.precision, 1.0, 1e-15, 0);
    FL_CHECK_CLOSE (o.f1, 2.0 / 3.0, 1e-15, 0);
    /* nothing flagged: precision and F1 undefined, recall 0 */
    FL_CHECK (fl_metrics_oppoint (s, y, 5, 0.9, 0, &o) == 0);
    FL_CHECK (o.flagged == 0 && isnan (o.precision) && o.recall == 0 && isnan (o.f1));
    /* no positive: recall undefined */
    int32_t yn[] = { 0, 0, 0, 0, 0 };
    FL_CHECK (fl_metrics_oppoint (s, yn, 5, 0.5, 0, &o) == 0);
    FL_CHECK (o.precision == 0 && isnan (o.recall) && isnan (o.f1));
    /* ties with the m-th score are flagged too: top 25% of 4 = 1 row, 3 tied */
    int32_t yt[] = { 1, 0, 0, 0 };
    float st[] = { 0.5f, 0.5f, 0.5f, 0.2f };
    FL_CHECK (fl_metrics_oppoint (st, yt, 4, -1, 0.25, &o) == 0);
    FL_CHECK (o.flagged == 3 && o.tp == 1);
    FL_CHECK_CLOSE (o.f1, 0.5, 1e-15, 0);          /* P 1/3, R 1 */
    /* out of range */
    FL_CHECK (fl_metrics_oppoint (s, y, 5, 1.5, 0, &o) == -1 && isnan (o.precision));
    FL_CHECK (fl_metrics_oppoint (s, y, 5, -1, 1.5, &o) == -1);
    FL_CHECK (isnan (fl_metrics_brier (s, y, 0)));

    /* multi-class: rows [0.7 .2 .1] y0, [.2 .5 .3] y1, [.1 .3 .6] y1 */
    float p[] = { 0.7f, 0.2f, 0.1f, 0.2f, 0.5f, 0.3f, 0.1f, 0.3f, 0.6f };
    int32_t ym[] = { 0, 1, 1 };
    /* 0.14 + 0.38 + 0.86 = 1.38, / 3 */
    FL_CHECK_CLOSE (fl_metrics_brier_multi (p, ym, 3, 3), 0.46, 1e-6, 0);
    FL_CHECK (fl_metrics_min_class_share (ym, 3, 3) == 0);
    /* at 0.5: class 0 P 1 R 1; class 1 P 1 R 1/2; class 2 P 0, R undefined:
       macro P 2/3, R 3/4, F1 (1 + 2/3) / 2 */
    FL_CHECK (fl_metrics_oppoint_multi (p, ym, 3, 3, 0.5, 0, &o) == 0);
    FL_CHECK (o.flagged == 3 && o.tp == 2 && o.fp == 1 && o.fn == 1);
    FL_CHECK_CLOSE (o.precision, 2.0 / 3.0, 1e-12, 0);
    FL_CHECK_CLOSE (o.recall, 0.75, 1e-12, 0);
    FL_CHECK_CLOSE (o.f1, 5.0 / 6.0, 1e-12, 0);

    /* from the histograms: the Brier score within 1/BINS of the exact one,
       the operating points by whole bins (0.5 is a bin edge: exact) */
    fl_metrics_counts_t c;
    fl_metrics_counts_init (&c);
    FL_CHECK (fl_metrics_counts_add (&c, s, y, 5, 1) == 0);
    double bc = fl_metrics_counts_brier (&c);
    FL_CHECK (fabs (bc - 0.1985) <= 1.0 / FL_METRICS_BINS);
    FL_CHECK (fl_metrics_counts_oppoint (&c, 0.5, 0, &o) == 0);
    FL_CHECK (o.flagged == 2 && o.tp == 1 && o.fp == 1 && o.fn == 1);
    FL_CHECK (fl_metrics_counts_oppoint (&c, -1, 0.01, &o) == 0);
    FL_CHECK (o.flagged == 1 && o.tp == 1);
    FL_CHECK_CLOSE (o.threshold, 0.8, 1e-12, 0);
    fl_metrics_counts_t cm;
    fl_metrics_counts_init (&cm);
    FL_CHECK (fl_metrics_counts_add (&cm, p, ym, 3, 3) == 0);
    FL_CHECK (isnan (fl_metrics_counts_brier (&cm)));
    FL_CHECK (fl_metrics_counts_oppoint (&cm, 0.5, 0, &o) == -1);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_sklearn_examples);
    FL_RUN (test_ties_and_extremes);
    FL_RUN (test_threshold_metrics);
    FL_RUN (test_bins);
    FL_RUN (test_binned_vs_exact);
    FL_RUN (test_merge);
    FL_RUN (test_check_untrusted);
    FL_RUN (test_from_model);
    FL_RUN (test_encoded_sum);
    FL_RUN (test_curve_points);
    FL_RUN (test_brier_oppoint);
    FL_TEST_DONE ();
}
