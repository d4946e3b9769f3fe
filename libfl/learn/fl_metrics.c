/*  fl_metrics.c - exact and binned (mergeable) evaluation metrics (see
    fl_metrics.h for definitions and sources).

    The exact rank metrics sort (score, label) pairs once; the binned ones
    treat each histogram bin as one group of tied scores, which is what makes
    them computable from added-up histograms.
*/
#include "fl_metrics.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fl_stats.h"

#define S_CHUNK 512u

typedef struct {
    float s;
    int32_t y;
} s_pair_t;

static int
s_cmp_asc (const void *a, const void *b)
{
    float x = ((const s_pair_t *) a)->s, y = ((const s_pair_t *) b)->s;
    return (x > y) - (x < y);
}

/*  Validates binary inputs; counts positives.  0 on bad input. */
static int
s_binary_ok (const float *score, const int32_t *y, size_t n, size_t *n_pos, const char *where)
{
    if (!score || !y || n == 0) {
        zsys_error ("%s: no examples", where);
        return 0;
    }
    size_t p = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1) {
            zsys_error ("%s: label %d of example %zu is not 0 or 1", where, (int) y[i], i);
            return 0;
        }
        if (isnan (score[i])) {
            zsys_error ("%s: score of example %zu is NaN", where, i);
            return 0;
        }
        p += (size_t) y[i];
    }
    if (n_pos)
        *n_pos = p;
    return 1;
}

/*  Sorted copy of (score, y), ascending by score; NULL on no memory. */
static s_pair_t *
s_sorted (const float *score, const int32_t *y, size_t n, const char *where)
{
    s_pair_t *p = (s_pair_t *) malloc (n * sizeof *p);
    if (!p) {
        zsys_error ("%s: out of memory for %zu examples", where, n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (s_pair_t) { score[i], y[i] };
    qsort (p, n, sizeof *p, s_cmp_asc);
    return p;
}

double
fl_metrics_accuracy (const float *score, const int32_t *y, size_t n, float threshold)
{
    if (!s_binary_ok (score, y, n, NULL, "fl_metrics_accuracy"))
        return NAN;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += (score[i] >= threshold) == (y[i] == 1);
    return (double) ok / (double) n;
}

static double
s_nll (double p)
{
    if (!(p >= FL_METRICS_PROB_EPS))      /* also catches NaN */
        p = FL_METRICS_PROB_EPS;
    if (p > 1.0 - FL_METRICS_PROB_EPS)
        p = 1.0 - FL_METRICS_PROB_EPS;
    return -log (p);
}

double
fl_metrics_log_loss (const float *score, const int32_t *y, size_t n)
{
    if (!s_binary_ok (score, y, n, NULL, "fl_metrics_log_loss"))
        return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += s_nll (y[i] ? (double) score[i] : 1.0 - (double) score[i]);
    return s / (double) n;
}

double
fl_metrics_auroc (const float *score, const int32_t *y, size_t n)
{
    size_t n_pos;
    if (!s_binary_ok (score, y, n, &n_pos, "fl_metrics_auroc"))
        return NAN;
    size_t n_neg = n - n_pos;
    if (n_pos == 0 || n_neg == 0) {
        zsys_error ("fl_metrics_auroc: only one class present (%zu positives, %zu negatives)",
                    n_pos, n_neg);
        return NAN;
    }
    s_pair_t *p = s_sorted (score, y, n, "fl_metrics_auroc");
    if (!p)
        return NAN;
    /* sum of the (1-based, tie-averaged) ranks of the positives */
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        size_t pos = 0;
        while (j < n && p[j].s == p[i].s)
            pos += (size_t) p[j++].y;
        double avg_rank = ((double) (i + 1) + (double) j) / 2.0;   /* ranks i+1..j */
        rank_sum += avg_rank * (double) pos;
        i = j;
    }
    free (p);
    double u = rank_sum - (double) n_pos * ((double) n_pos + 1.0) / 2.0;
    return u / ((double) n_pos * (double) n_neg);
}

double
fl_metrics_auprc (const float *score, const int32_t *y, size_t n)
{
    size_t n_pos;
    if (!s_binary_ok (score, y, n, &n_pos, "fl_metrics_auprc"))
        return NAN;
    if (n_pos == 0) {
        zsys_error ("fl_metrics_auprc: no positive examples");
        return NAN;
    }
    s_pair_t *p = s_sorted (score, y, n, "fl_metrics_auprc");
    if (!p)
        return NAN;
    /* walk thresholds from the highest score down; a group of ties enters at once */
    double ap = 0;
    size_t tp = 0, fp = 0;
    for (size_t j = n; j > 0;) {
        size_t i = j;
        size_t gpos = 0, gneg = 0;
        while (i > 0 && p[i - 1].s == p[j - 1].s) {
            i--;
            if (p[i].y)
                gpos++;
            else
                gneg++;
        }
        tp += gpos;
        fp += gneg;
        if (gpos)
            ap += ((double) gpos / (double) n_pos) * ((double) tp / (double) (tp + fp));
        j = i;
    }
    free (p);
    return ap;
}

int
fl_metrics_precision_recall (const float *score, const int32_t *y, size_t n, float threshold,
                             double *precision, double *recall)
{
    assert (precision && recall);
    if (!s_binary_ok (score, y, n, NULL, "fl_metrics_precision_recall"))
        return -1;
    size_t tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < n; i++) {
        int pred = score[i] >= threshold;
        tp += pred && y[i];
        fp += pred && !y[i];
        fn += !pred && y[i];
    }
    *precision = tp + fp ? (double) tp / (double) (tp + fp) : 0.0;
    *recall = tp + fn ? (double) tp / (double) (tp + fn) : 0.0;
    return 0;
}

static int
s_multi_ok (const float *probs, const int32_t *y, size_t n, size_t k, const char *where)
{
    if (!probs || !y || n == 0 || k < 2) {
        zsys_error ("%s: %zu examples, %zu classes", where, n, k);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t) y[i] >= k) {
            zsys_error ("%s: label %d of example %zu not in 0..%zu", where, (int) y[i], i, k - 1);
            return 0;
        }
    return 1;
}

static size_t
s_argmax (const float *p, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (p[j] > p[best])
            best = j;
    return best;
}

double
fl_metrics_accuracy_multi (const float *probs, const int32_t *y, size_t n, size_t k)
{
    if (!s_multi_ok (probs, y, n, k, "fl_metrics_accuracy_multi"))
        return NAN;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += s_argmax (probs + i * k, k) == (size_t) y[i];
    return (double) ok / (double) n;
}

double
fl_metrics_log_loss_multi (const float *probs, const int32_t *y, size_t n, size_t k)
{
    if (!s_multi_ok (probs, y, n, k, "fl_metrics_log_loss_multi"))
        return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += s_nll (probs[i * k + (size_t) y[i]]);
    return s / (double) n;
}

/* --- binned form ------------------------------------------------------------- */

size_t
fl_metrics_bin (float score)
{
    if (!(score > 0.0f))            /* also NaN */
        return 0;
    double b = floor ((double) score * FL_METRICS_BINS);
    return b >= FL_METRICS_BINS ? FL_METRICS_BINS - 1 : (size_t) b;
}

void
fl_metrics_counts_init (fl_metrics_counts_t *c)
{
    assert (c);
    memset (c, 0, sizeof *c);
}

int
fl_metrics_counts_add (fl_metrics_counts_t *c, const float *probs, const int32_t *y, size_t n,
                       size_t n_out)
{
    assert (c);
    if (n_out == 0 || (n > 0 && (!probs || !y))) {
        zsys_error ("fl_metrics_counts_add: no outputs or no data");
        return -1;
    }
    uint64_t k = n_out == 1 ? 2 : n_out;
    if (c->n_classes != 0 && c->n_classes != k) {
        zsys_error ("fl_metrics_counts_add: counts hold %llu classes, predictions have %llu",
                    (unsigned long long) c->n_classes, (unsigned long long) k);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (uint64_t) y[i] >= k) {
            zsys_error ("fl_metrics_counts_add: label %d of example %zu not in 0..%llu",
                        (int) y[i], i, (unsigned long long) (k - 1));
            return -1;
        }
    c->n_classes = k;
    for (size_t i = 0; i < n; i++) {
        if (n_out == 1) {
            float s = probs[i];
            int pred = s >= 0.5f;
            if (y[i]) {
                c->hist_pos[fl_metrics_bin (s)]++;
                if (pred) c->tp++; else c->fn++;
            }
            else {
                c->hist_neg[fl_metrics_bin (s)]++;
                if (pred) c->fp++; else c->tn++;
            }
            c->n_correct += pred == (y[i] == 1);
            c->log_loss_sum += s_nll (y[i] ? (double) s : 1.0 - (double) s);
        }
        else {
            const float *p = probs + i * n_out;
            c->n_correct += s_argmax (p, n_out) == (size_t) y[i];
            c->log_loss_sum += s_nll (p[y[i]]);
        }
        c->n++;
    }
    return 0;
}

int
fl_metrics_counts_from_model (fl_model_t *m, const float *x, const int32_t *y, size_t n,
                              fl_metrics_counts_t *out)
{
    assert (m && out);
    fl_metrics_counts_init (out);
    if (n == 0)
        return 0;
    if (!x || !y) {
        zsys_error ("fl_metrics_counts_from_model: no data");
        return -1;
    }
    size_t k = fl_model_num_outputs (m), d = fl_model_num_inputs (m);
    size_t chunk = n < S_CHUNK ? n : S_CHUNK;
    float *probs = (float *) malloc (chunk * k * sizeof (float));   // (chunk, n_out)
    if (!probs) {
        zsys_error ("fl_metrics_counts_from_model: out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += chunk) {
        size_t b = n - i < chunk ? n - i : chunk;
        rc = fl_model_predict (m, x + i * d, b, probs);
        if (rc == 0)
            rc = fl_metrics_counts_add (out, probs, y + i, b, k);
    }
    free (probs);
    if (rc != 0)
        fl_metrics_counts_init (out);
    return rc;
}

void
fl_metrics_counts_merge (fl_metrics_counts_t *acc, const fl_metrics_counts_t *add)
{
    assert (acc && add);
    if (add->n_classes == 0)
        return;
    if (acc->n_classes != 0 && acc->n_classes != add->n_classes) {
        zsys_error ("fl_metrics_counts_merge: %llu classes merged with %llu; result poisoned",
                    (unsigned long long) acc->n_classes, (unsigned long long) add->n_classes);
        acc->n_classes = UINT64_MAX;
        return;
    }
    acc->n_classes = add->n_classes;
    acc->n += add->n;
    acc->n_correct += add->n_correct;
    acc->tp += add->tp;
    acc->fp += add->fp;
    acc->tn += add->tn;
    acc->fn += add->fn;
    acc->log_loss_sum += add->log_loss_sum;
    for (size_t b = 0; b < FL_METRICS_BINS; b++) {
        acc->hist_pos[b] += add->hist_pos[b];
        acc->hist_neg[b] += add->hist_neg[b];
    }
}

int
fl_metrics_counts_check (const fl_metrics_counts_t *c)
{
    assert (c);
    const char *why = NULL;
    if (c->n_classes == 1 || c->n_classes > FL_MODEL_MAX_CLASSES)
        why = "n_classes out of range";
    else if (c->n > FL_METRICS_MAX_COUNT)
        why = "n too large";
    else if (c->n_correct > c->n)
        why = "more correct than examples";
    else if (!isfinite (c->log_loss_sum) || c->log_loss_sum < 0)
        why = "log loss sum not finite and >= 0";
    else if (c->n_classes == 0 && c->n != 0)
        why = "examples without a class count";
    if (!why) {
        /* each term is <= n <= 2^48 after these checks, so sums cannot wrap */
        uint64_t hp = 0, hn = 0;
        int big = c->tp > c->n || c->fp > c->n || c->tn > c->n || c->fn > c->n;
        for (size_t b = 0; b < FL_METRICS_BINS && !big; b++) {
            big = c->hist_pos[b] > c->n || c->hist_neg[b] > c->n;
            hp += c->hist_pos[b];
            hn += c->hist_neg[b];
        }
        if (big)
            why = "a count exceeds n";
        else if (c->n_classes == 2) {
            if (c->tp + c->fp + c->tn + c->fn != c->n)
                why = "confusion matrix does not sum to n";
            else if (hp != c->tp + c->fn || hn != c->fp + c->tn)
                why = "histograms do not match class counts";
            else if (c->n_correct != c->tp + c->tn)
                why = "correct count does not match confusion matrix";
        }
        else if (c->tp || c->fp || c->tn || c->fn || hp || hn)
            why = "multi-class counts with binary fields set";
    }
    if (why) {
        zsys_error ("fl_metrics_counts_check: %s", why);
        return -1;
    }
    return 0;
}

void
fl_metrics_counts_summary (const fl_metrics_counts_t *c, fl_metrics_summary_t *out)
{
    assert (c && out);
    *out = (fl_metrics_summary_t) { NAN, NAN, NAN, NAN, NAN, NAN, 0 };
    if (c->n_classes < 2 || c->n_classes == UINT64_MAX || c->n == 0)
        return;
    out->n = c->n;
    out->accuracy = (double) c->n_correct / (double) c->n;
    out->log_loss = c->log_loss_sum / (double) c->n;
    if (c->n_classes != 2)
        return;
    out->precision = c->tp + c->fp ? (double) c->tp / (double) (c->tp + c->fp) : 0.0;
    out->recall = c->tp + c->fn ? (double) c->tp / (double) (c->tp + c->fn) : 0.0;
    double P = 0, N = 0;
    for (size_t b = 0; b < FL_METRICS_BINS; b++) {
        P += (double) c->hist_pos[b];
        N += (double) c->hist_neg[b];
    }
    if (P > 0 && N > 0) {
        /* each bin is one group of ties: positives beat every negative in a
           lower bin and half of those in their own */
        double below = 0, u = 0;
        for (size_t b = 0; b < FL_METRICS_BINS; b++) {
            u += (double) c->hist_pos[b] * (below + 0.5 * (double) c->hist_neg[b]);
            below += (double) c->hist_neg[b];
        }
        out->auroc = u / (P * N);
    }
    if (P > 0) {
        double tp = 0, fp = 0, ap = 0;
        for (size_t b = FL_METRICS_BINS; b-- > 0;) {
            tp += (double) c->hist_pos[b];
            fp += (double) c->hist_neg[b];
            if (c->hist_pos[b])
                ap += ((double) c->hist_pos[b] / P) * (tp / (tp + fp));
        }
        out->auprc = ap;
    }
}

double
fl_metrics_counts_auroc_bound (const fl_metrics_counts_t *c)
{
    assert (c);
    if (c->n_classes != 2)
        return NAN;
    double P = 0, N = 0, same = 0;
    for (size_t b = 0; b < FL_METRICS_BINS; b++) {
        P += (double) c->hist_pos[b];
        N += (double) c->hist_neg[b];
        same += (double) c->hist_pos[b] * (double) c->hist_neg[b];
    }
    if (P == 0 || N == 0)
        return NAN;
    return 0.5 * same / (P * N);
}

/* ---- secure-aggregation vectors (see fl_metrics.h) ----------------------------- */

#define S_ENC_HEAD (2u + FL_STATS_FIXED_LIMBS)    /* n, n_correct, log loss limbs */

size_t
fl_metrics_counts_encoded_len (uint64_t n_classes)
{
    if (n_classes < 2 || n_classes > FL_MODEL_MAX_CLASSES)
        return 0;
    return S_ENC_HEAD + (n_classes == 2 ? 4u + 2u * FL_METRICS_BINS : 0u);
}

int
fl_metrics_counts_encode (const fl_metrics_counts_t *c, uint64_t n_classes, uint32_t max_summands, uint32_t *out)
{
    size_t len = fl_metrics_counts_encoded_len (n_classes);
    if (len == 0 || c->n_classes != n_classes || max_summands == 0 || fl_metrics_counts_check (c) != 0) {
        zsys_error ("fl_metrics: counts cannot be encoded for %llu classes", (unsigned long long) n_classes);
        return -1;
    }
    if (c->n > UINT32_MAX / max_summands) {
        zsys_error ("fl_metrics: %llu test examples: a bucket of %u could wrap a 32-bit sum",
                    (unsigned long long) c->n, max_summands);
        return -1;
    }
    uint32_t ll[FL_STATS_FIXED_LIMBS];
    if (fl_stats_fixed_encode (&c->log_loss_sum, 1, ll) != 0)
        return -1;
    out[0] = (uint32_t) c->n;
    out[1] = (uint32_t) c->n_correct;
    memcpy (out + 2, ll, sizeof ll);
    if (n_classes == 2) {
        uint32_t *o = out + S_ENC_HEAD;
        o[0] = (uint32_t) c->tp;
        o[1] = (uint32_t) c->fp;
        o[2] = (uint32_t) c->tn;
        o[3] = (uint32_t) c->fn;
        for (size_t b = 0; b < FL_METRICS_BINS; b++) {
            o[4 + b] = (uint32_t) c->hist_pos[b];
            o[4 + FL_METRICS_BINS + b] = (uint32_t) c->hist_neg[b];
        }
    }
    return 0;
}

int
fl_metrics_counts_decode (const uint32_t *sum, size_t len, uint64_t n_classes, uint32_t summands,
                          fl_metrics_counts_t *out)
{
    fl_metrics_counts_init (out);
    size_t want = fl_metrics_counts_encoded_len (n_classes);
    double ll = 0;
    if (want == 0 || len != want || !sum || fl_stats_fixed_decode (sum + 2, 1, summands, &ll) != 0) {
        zsys_error ("fl_metrics: the summed evaluation vector (%zu words) does not decode", len);
        return -1;
    }
    fl_metrics_counts_t c;
    fl_metrics_counts_init (&c);
    c.n_classes = n_classes;
    c.n = sum[0];
    c.n_correct = sum[1];
    c.log_loss_sum = ll;
    if (n_classes == 2) {
        const uint32_t *o = sum + S_ENC_HEAD;
        c.tp = o[0];
        c.fp = o[1];
        c.tn = o[2];
        c.fn = o[3];
        for (size_t b = 0; b < FL_METRICS_BINS; b++) {
            c.hist_pos[b] = o[4 + b];
            c.hist_neg[b] = o[4 + FL_METRICS_BINS + b];
        }
    }
    if (c.n == 0 || fl_metrics_counts_check (&c) != 0) {
        zsys_error ("fl_metrics: the summed evaluation counts are inconsistent (wrapped or tampered)");
        return -1;
    }
    *out = c;
    return 0;
}

/* ---- curves from the binned form -------------------------------------------- */

size_t
fl_metrics_counts_curve (const fl_metrics_counts_t *c, fl_metrics_curve_point_t *out, size_t cap)
{
    assert (c && (out || cap == 0));
    if (c->n_classes != 2)
        return 0;
    uint64_t P = 0, N = 0;
    for (size_t b = 0; b < FL_METRICS_BINS; b++) {
        P += c->hist_pos[b];
        N += c->hist_neg[b];
    }
    if (P == 0 || N == 0)
        return 0;
    size_t k = 0;
    uint64_t tp = 0, fp = 0;
    if (k < cap)
        out[k] = (fl_metrics_curve_point_t) { 1.0 + 1.0 / FL_METRICS_BINS, 0, 0, 0.0, 0.0, NAN };
    k++;
    for (size_t b = FL_METRICS_BINS; b-- > 0;) {
        if (c->hist_pos[b] == 0 && c->hist_neg[b] == 0)
            continue;
        tp += c->hist_pos[b];
        fp += c->hist_neg[b];
        if (k < cap)
            out[k] = (fl_metrics_curve_point_t) { (double) b / FL_METRICS_BINS, tp, fp, (double) tp / (double) P,
                                                  (double) fp / (double) N, (double) tp / (double) (tp + fp) };
        k++;
    }
    return k < cap ? k : cap;
}

size_t
fl_metrics_counts_calibration (const fl_metrics_counts_t *c, size_t groups, fl_metrics_calib_t *out)
{
    assert (c && out);
    if (c->n_classes != 2 || groups == 0 || FL_METRICS_BINS % groups != 0)
        return 0;
    size_t per = FL_METRICS_BINS / groups, k = 0;
    for (size_t g = 0; g < groups; g++) {
        uint64_t n = 0, pos = 0;
        double sum = 0;
        for (size_t b = g * per; b < (g + 1) * per; b++) {
            uint64_t nb = c->hist_pos[b] + c->hist_neg[b];
            n += nb;
            pos += c->hist_pos[b];
            sum += (double) nb * ((double) b + 0.5) / FL_METRICS_BINS;
        }
        if (n == 0)
            continue;
        out[k++] = (fl_metrics_calib_t) { (double) (g * per) / FL_METRICS_BINS,
                                          (double) ((g + 1) * per) / FL_METRICS_BINS, sum / (double) n,
                                          (double) pos / (double) n, n };
    }
    return k;
}

/* ---- imbalance: Brier score and operating points (see fl_metrics.h) ------------ */

double
fl_metrics_brier (const float *score, const int32_t *y, size_t n)
{
    if (!s_binary_ok (score, y, n, NULL, "fl_metrics_brier"))
        return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double) score[i] - (double) y[i];
        s += d * d;
    }
    return s / (double) n;
}

double
fl_metrics_brier_multi (const float *probs, const int32_t *y, size_t n, size_t k)
{
    if (!s_multi_ok (probs, y, n, k, "fl_metrics_brier_multi"))
        return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < k; c++) {
            double d = (double) probs[i * k + c] - (y[i] == (int32_t) c ? 1.0 : 0.0);
            s += d * d;
        }
    return s / (double) n;
}

double
fl_metrics_min_class_share (const int32_t *y, size_t n, size_t k)
{
    if (!y || n == 0 || k < 2) {
        zsys_error ("fl_metrics_min_class_share: %zu labels, %zu classes", n, k);
        return NAN;
    }
    uint64_t *cnt = (uint64_t *) calloc (k, sizeof (uint64_t));
    if (!cnt)
        return NAN;
    double share = NAN;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || (size_t) y[i] >= k) {
            zsys_error ("fl_metrics_min_class_share: label %d of example %zu not in 0..%zu", (int) y[i], i, k - 1);
            free (cnt);
            return NAN;
        }
        cnt[y[i]]++;
    }
    uint64_t lo = cnt[0];
    for (size_t c = 1; c < k; c++)
        lo = cnt[c] < lo ? cnt[c] : lo;
    share = (double) lo / (double) n;
    free (cnt);
    return share;
}

static void
s_oppoint_blank (fl_metrics_oppoint_t *out)
{
    *out = (fl_metrics_oppoint_t) {NAN, 0, 0, 0, 0, NAN, NAN, NAN};
}

/* precision, recall, F1 from the counts (NAN where undefined) */
static void
s_oppoint_finish (fl_metrics_oppoint_t *o)
{
    o->precision = o->flagged ? (double) o->tp / (double) o->flagged : NAN;
    o->recall = o->tp + o->fn ? (double) o->tp / (double) (o->tp + o->fn) : NAN;
    if (isnan (o->precision) || isnan (o->recall))
        o->f1 = NAN;
    else
        o->f1 = o->precision + o->recall > 0 ? 2 * o->precision * o->recall / (o->precision + o->recall) : 0.0;
}

static int
s_oppoint_args_ok (double threshold, double top_fraction, const char *where)
{
    if (top_fraction > 0 ? !(top_fraction <= 1) : !(threshold >= 0 && threshold <= 1)) {
        zsys_error ("%s: threshold %g / top fraction %g (need a threshold in [0, 1] or a top fraction in (0, 1])",
                    where, threshold, top_fraction);
        return 0;
    }
    return 1;
}

static int
s_desc_float (const void *a, const void *b)
{
    float x = *(const float *) a, y = *(const float *) b;
    return (x < y) - (x > y);
}

/* rows to flag for a top fraction of n: max(1, ceil(F n)), at most n */
static uint64_t
s_top_count (double top_fraction, uint64_t n)
{
    double m = ceil (top_fraction * (double) n - 1e-9);
    uint64_t k = m < 1 ? 1 : (uint64_t) m;
    return k > n ? n : k;
}

int
fl_metrics_oppoint (const float *score, const int32_t *y, size_t n, double threshold, double top_fraction,
                    fl_metrics_oppoint_t *out)
{
    assert (out);
    s_oppoint_blank (out);
    if (!s_oppoint_args_ok (threshold, top_fraction, "fl_metrics_oppoint")
        || !s_binary_ok (score, y, n, NULL, "fl_metrics_oppoint"))
        return -1;
    double t = threshold;
    if (top_fraction > 0) {
        float *s = (float *) malloc (n * sizeof (float));
        if (!s) {
            zsys_error ("fl_metrics_oppoint: no memory for %zu scores", n);
            return -1;
        }
        memcpy (s, score, n * sizeof (float));
        qsort (s, n, sizeof (float), s_desc_float);
        t = (double) s[s_top_count (top_fraction, n) - 1];
        free (s);
    }
    out->threshold = t;
    for (size_t i = 0; i < n; i++) {
        int pred = (double) score[i] >= t;
        out->flagged += (uint64_t) pred;
        out->tp += (uint64_t) (pred && y[i]);
        out->fp += (uint64_t) (pred && !y[i]);
        out->fn += (uint64_t) (!pred && y[i]);
    }
    s_oppoint_finish (out);
    return 0;
}

int
fl_metrics_oppoint_multi (const float *probs, const int32_t *y, size_t n, size_t k, double threshold,
                          double top_fraction, fl_metrics_oppoint_t *out)
{
    assert (out);
    s_oppoint_blank (out);
    if (!s_oppoint_args_ok (threshold, top_fraction, "fl_metrics_oppoint_multi")
        || !s_multi_ok (probs, y, n, k, "fl_metrics_oppoint_multi"))
        return -1;
    float *s = (float *) malloc (n * sizeof (float));
    int32_t *yc = (int32_t *) malloc (n * sizeof (int32_t));
    if (!s || !yc) {
        free (s);
        free (yc);
        zsys_error ("fl_metrics_oppoint_multi: no memory for %zu rows", n);
        return -1;
    }
    double sum[3] = {0, 0, 0};
    size_t def[3] = {0, 0, 0};
    fl_metrics_oppoint_t acc, one;
    s_oppoint_blank (&acc);
    int rc = 0;
    for (size_t c = 0; c < k && rc == 0; c++) {
        for (size_t i = 0; i < n; i++) {
            s[i] = probs[i * k + c];
            yc[i] = y[i] == (int32_t) c;
        }
        rc = fl_metrics_oppoint (s, yc, n, threshold, top_fraction, &one);
        acc.flagged += one.flagged;
        acc.tp += one.tp;
        acc.fp += one.fp;
        acc.fn += one.fn;
        double v[3] = {one.precision, one.recall, one.f1};
        for (int q = 0; q < 3; q++)
            if (!isnan (v[q])) {
                sum[q] += v[q];
                def[q]++;
            }
    }
    free (s);
    free (yc);
    if (rc != 0)
        return -1;
    acc.threshold = top_fraction > 0 ? NAN : threshold;
    acc.precision = def[0] ? sum[0] / (double) def[0] : NAN;
    acc.recall = def[1] ? sum[1] / (double) def[1] : NAN;
    acc.f1 = def[2] ? sum[2] / (double) def[2] : NAN;
    *out = acc;
    return 0;
}

double
fl_metrics_counts_brier (const fl_metrics_counts_t *c)
{
    assert (c);
    if (c->n_classes != 2 || c->n == 0)
        return NAN;
    double s = 0, n = 0;
    for (size_t b = 0; b < FL_METRICS_BINS; b++) {
        double m = ((double) b + 0.5) / FL_METRICS_BINS;
        s += (double) c->hist_pos[b] * (1 - m) * (1 - m) + (double) c->hist_neg[b] * m * m;
        n += (double) c->hist_pos[b] + (double) c->hist_neg[b];
    }
    return n > 0 ? s / n : NAN;
}

int
fl_metrics_counts_oppoint (const fl_metrics_counts_t *c, double threshold, double top_fraction,
                           fl_metrics_oppoint_t *out)
{
    assert (c && out);
    s_oppoint_blank (out);
    if (c->n_classes != 2 || c->n == 0 || !s_oppoint_args_ok (threshold, top_fraction, "fl_metrics_counts_oppoint"))
        return -1;
    uint64_t total = 0;
    for (size_t b = 0; b < FL_METRICS_BINS; b++)
        total += c->hist_pos[b] + c->hist_neg[b];
    if (total == 0)
        return -1;
    size_t lo;                                   /* the lowest flagged bin */
    if (top_fraction > 0) {
        uint64_t want = s_top_count (top_fraction, total), got = 0;
        lo = FL_METRICS_BINS;
        while (lo > 0 && got < want) {
            lo--;
            got += c->hist_pos[lo] + c->hist_neg[lo];
        }
    }
    else
        lo = fl_metrics_bin ((float) threshold);
    out->threshold = top_fraction > 0 ? (double) lo / FL_METRICS_BINS : threshold;
    for (size_t b = 0; b < FL_METRICS_BINS; b++) {
        if (b >= lo) {
            out->flagged += c->hist_pos[b] + c->hist_neg[b];
            out->tp += c->hist_pos[b];
            out->fp += c->hist_neg[b];
        }
        else
            out->fn += c->hist_pos[b];
    }
    s_oppoint_finish (out);
    return 0;
}
