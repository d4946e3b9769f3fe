/*  fl_robust.c - robust aggregators over B vectors of dimension d (see fl_robust.h).

    Pure functions: every call checks its parameters, scans the input for
    NaN/inf, then runs one rule.  The coordinator calls these after the secure
    bucket sums have been turned into B bucket means (DESIGN.md §4).

    Performance notes (why the code looks the way it does):
    - Per-coordinate order statistics (median, trimmed mean, Bulyan) gather a
      block of S_COLS columns into a contiguous (S_COLS, B) scratch first, so
      the strided reads of x touch each cache line once per block rather than
      once per coordinate, then run introselect (branchless three-way
      partition) on each column: O(B) expected per coordinate instead of the
      O(B log B) of a sort.
    - Krum's pairwise squared distances are computed directly as sum (a-b)^2
      (no ||a||^2 + ||b||^2 - 2ab Gram shortcut, whose cancellation would change
      the ordering of near-equal scores), tiled over d so that one tile of all
      B rows stays in L2, summed pairwise (see s_pw_sum).
    - Scores are sums of the selected neighbour distances in ascending order,
      so two identical rows get bit-identical scores and the lowest-index
      tie-break is honoured regardless of how selection shuffled the values.
*/
#include "fl_robust.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_SMALL 8       /* ranges this small are finished by insertion sort */
#define S_COLS  16      /* columns gathered per block for order statistics */

/*  ---- work area ------------------------------------------------------------ */

/*  Two independent slots: slot 0 is the kernels' scratch, slot 1 holds the
    dispatcher's norm-bounded copy of the input while a kernel uses slot 0. */
struct fl_robust_work_t {
    void *slot[2];
    size_t cap[2];      /* bytes */
};

fl_robust_work_t *
fl_robust_work_new (void)
{
    fl_robust_work_t *self = calloc (1, sizeof *self);
    if (!self)
        zsys_error ("fl_robust_work_new: out of memory");
    return self;
}

static void
s_work_clear (fl_robust_work_t *w)
{
    for (int s = 0; s < 2; s++) {
        free (w->slot[s]);
        w->slot[s] = NULL;
        w->cap[s] = 0;
    }
}

void
fl_robust_work_destroy (fl_robust_work_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_work_clear (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

size_t
fl_robust_work_bytes (const fl_robust_work_t *self)
{
    return self ? self->cap[0] + self->cap[1] : 0;
}

/*  At least `bytes` in slot `slot` (old contents are not kept).  NULL with a
    log line on failure. */
static void *
s_reserve (fl_robust_work_t *w, int slot, size_t bytes, const char *who)
{
    if (bytes == 0)
        bytes = 16;
    if (w->cap[slot] >= bytes)
        return w->slot[slot];
    free (w->slot[slot]);
    w->slot[slot] = malloc (bytes);
    if (!w->slot[slot]) {
        w->cap[slot] = 0;
        zsys_error ("%s: cannot allocate %zu bytes of scratch", who, bytes);
        return NULL;
    }
    w->cap[slot] = bytes;
    return w->slot[slot];
}

/*  Round a carve size up so every piece of a slot stays 16-byte aligned. */
static size_t
s_al (size_t bytes)
{
    return (bytes + 15) & ~(size_t) 15;
}

/*  ---- checks ---------------------------------------------------------------- */

static int
s_check_shape (const char *who, size_t B, size_t d)
{
    if (B == 0 || d == 0) {
        zsys_error ("%s: need B >= 1 rows and d >= 1 coordinates (got B=%zu, d=%zu)",
                    who, B, d);
        return -1;
    }
    if (B > FL_ROBUST_MAX_ROWS || d > FL_ROBUST_MAX_ELEMENTS / B) {
        zsys_error ("%s: B=%zu x d=%zu exceeds the limits (B <= %zu, B*d <= %zu)",
                    who, B, d, (size_t) FL_ROBUST_MAX_ROWS, (size_t) FL_ROBUST_MAX_ELEMENTS);
        return -1;
    }
    return 0;
}

/*  Rejects NaN and ±inf.  The fast path ORs an "exponent all ones" flag over
    the bit patterns (vectorisable integer work); only on failure do we walk
    again to say where. */
static int
s_check_finite (const char *who, const char *what, const double *v, size_t n, size_t d)
{
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t bits;
        memcpy (&bits, &v[i], sizeof bits);
        bad |= (uint64_t) ((bits & 0x7ff0000000000000ull) == 0x7ff0000000000000ull);
    }
    if (!bad)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isfinite (v[i])) {
            zsys_error ("%s: %s row %zu coordinate %zu is %s; non-finite input is rejected",
                        who, what, i / d, i % d, isnan (v[i]) ? "NaN" : "infinite");
            return -1;
        }
    return 0;
}

static int
s_check_input (const char *who, const double *x, size_t B, size_t d)
{
    assert (x);
    if (s_check_shape (who, B, d))
        return -1;
    return s_check_finite (who, "input", x, B * d, d);
}

/*  ---- selection -------------------------------------------------------------- */

static inline void
s_swap (double *a, size_t i, size_t j)
{
    double t = a[i];
    a[i] = a[j];
    a[j] = t;
}

static void
s_insertion_sort (double *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        double v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static void
s_sift_down (double *a, size_t n, size_t i)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && a[c + 1] > a[c])
            c++;
        if (!(a[c] > a[i]))
            return;
        s_swap (a, i, c);
        i = c;
    }
}

static void
s_heapsort (double *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        s_sift_down (a, n, i);
    for (size_t e = n; e-- > 1;) {
        s_swap (a, 0, e);
        s_sift_down (a, e, 0);
    }
}

/*  Branchless Lomuto partition of a[lo..hi) by the predicate "v < p" (strict)
    or "v <= p": every element is swapped with the boundary and the boundary
    advances by the predicate, so there is no data-dependent branch to
    mispredict (the Hoare scans mispredicted about every other element on
    random data).  Returns s with the predicate true on a[lo..s) and false on
    a[s..hi). */
static size_t
s_partition_lt (double *a, size_t lo, size_t hi, double p)
{
    size_t s = lo;
    for (size_t i = lo; i < hi; i++) {
        double v = a[i];
        a[i] = a[s];
        a[s] = v;
        s += (size_t) (v < p);
    }
    return s;
}

static size_t
s_partition_le (double *a, size_t lo, size_t hi, double p)
{
    size_t s = lo;
    for (size_t i = lo; i < hi; i++) {
        double v = a[i];
        a[i] = a[s];
        a[s] = v;
        s += (size_t) (v <= p);
    }
    return s;
}

static double
s_median3 (double x, double y, double z)
{
    if (x > y) {
        double t = x;
        x = y;
        y = t;
    }
    /* now x <= y */
    return z <= x ? x : z >= y ? y : z;
}

double
fl_robust_select (double *a, size_t n, size_t k)
{
    assert (a && k < n);
    size_t lo = 0, hi = n;
    int budget = 4;
    for (size_t m = n; m > 1; m >>= 1)
        budget += 2;
    while (hi - lo > S_SMALL) {
        if (budget-- == 0) {
            /* Too many bad pivots: finish this range in guaranteed O(n log n). */
            s_heapsort (a + lo, hi - lo);
            return a[k];
        }
        double p = s_median3 (a[lo], a[lo + (hi - lo) / 2], a[hi - 1]);
        /* Three-way split: [lo, s) < p, [s, e) == p, [e, hi) > p.  The second
           pass only runs when k is not in the "< p" part; it is what keeps
           heavy ties (quantised updates, identical rows) linear.  p is one of
           the range's values, so both outer parts are strictly smaller. */
        size_t s = s_partition_lt (a, lo, hi, p);
        if (k < s) {
            hi = s;
            continue;
        }
        size_t e = s_partition_le (a, s, hi, p);
        if (k < e)
            return a[k];                /* == p */
        lo = e;
    }
    s_insertion_sort (a + lo, hi - lo);
    return a[k];
}

/*  Mean of the two middle values without overflowing for huge finite ones. */
static double
s_midpoint (double lo, double hi)
{
    double m = (lo + hi) / 2;
    if (!isfinite (m))
        m = lo / 2 + hi / 2;
    return m;
}

/*  Median of a[0..n), reordering a.  Even n: mean of the two middle values. */
static double
s_median_of (double *a, size_t n)
{
    double hi = fl_robust_select (a, n, n / 2);
    if (n % 2)
        return hi;
    double lo = a[0];               /* max of the lower half = order stat n/2-1 */
    for (size_t i = 1; i < n / 2; i++)
        if (a[i] > lo)
            lo = a[i];
    return s_midpoint (lo, hi);
}

/*  Mean of order statistics k..n-k-1 of a[0..n), reordering a.  After the two
    selections positions [k, n-k) hold exactly those order statistics (as a
    multiset), so ties are counted as often as they occur. */
static double
s_trimmed_of (double *a, size_t n, size_t k)
{
    if (k > 0) {
        fl_robust_select (a, n, k);
        if (n - 2 * k >= 2)
            fl_robust_select (a + k + 1, n - k - 1, n - 2 * k - 2);
    }
    double s = 0;
    for (size_t i = k; i < n - k; i++)
        s += a[i];
    return s / (double) (n - 2 * k);
}

/*  ---- coordinate-wise order statistics --------------------------------------- */

enum { S_MODE_MEDIAN, S_MODE_TRIM };

static int
s_columnwise (const char *who, const double *x, size_t B, size_t d, int mode, size_t k,
              fl_robust_work_t *work, double *out)
{
    fl_robust_work_t local = {{NULL, NULL}, {0, 0}};
    fl_robust_work_t *w = work ? work : &local;
    double *col = s_reserve (w, 0, S_COLS * B * sizeof (double), who);
    if (!col)
        return -1;
    for (size_t j0 = 0; j0 < d; j0 += S_COLS) {
        size_t nc = d - j0 < S_COLS ? d - j0 : S_COLS;
        for (size_t i = 0; i < B; i++) {
            const double *row = x + i * d + j0;
            for (size_t c = 0; c < nc; c++)
                col[c * B + i] = row[c];
        }
        for (size_t c = 0; c < nc; c++)
            out[j0 + c] = mode == S_MODE_MEDIAN ? s_median_of (col + c * B, B)
                                                : s_trimmed_of (col + c * B, B, k);
    }
    if (!work)
        s_work_clear (&local);
    return 0;
}

int
fl_robust_mean (const double *x, size_t B, size_t d, double *out)
{
    assert (out);
    if (s_check_input ("fl_robust_mean", x, B, d))
        return -1;
    memcpy (out, x, d * sizeof (double));
    for (size_t i = 1; i < B; i++) {
        const double *row = x + i * d;
        for (size_t j = 0; j < d; j++)
            out[j] += row[j];
    }
    for (size_t j = 0; j < d; j++)
        out[j] /= (double) B;
    return 0;
}

int
fl_robust_median (const double *x, size_t B, size_t d, fl_robust_work_t *work, double *out)
{
    assert (out);
    if (s_check_input ("fl_robust_median", x, B, d))
        return -1;
    return s_columnwise ("fl_robust_median", x, B, d, S_MODE_MEDIAN, 0, work, out);
}

int
fl_robust_trimmed_mean_b (const double *x, size_t B, size_t d, size_t b,
                          fl_robust_work_t *work, double *out)
{
    assert (out);
    if (s_check_input ("fl_robust_trimmed_mean_b", x, B, d))
        return -1;
    if (b >= B || 2 * b >= B) {
        zsys_error ("fl_robust_trimmed_mean_b: trimming b=%zu from each side needs 2b < B (B=%zu)",
                    b, B);
        return -1;
    }
    return s_columnwise ("fl_robust_trimmed_mean_b", x, B, d, S_MODE_TRIM, b, work, out);
}

int
fl_robust_trimmed_mean (const double *x, size_t B, size_t d, double beta,
                        fl_robust_work_t *work, double *out)
{
    assert (out);
    if (!(beta >= 0.0 && beta < 0.5)) {
        zsys_error ("fl_robust_trimmed_mean: beta=%g must be in [0, 0.5)", beta);
        return -1;
    }
    if (s_check_input ("fl_robust_trimmed_mean", x, B, d))
        return -1;
    /* floor(beta*B), as scipy trim_mean's int(proportiontocut * nobs). */
    size_t k = (size_t) floor (beta * (double) B);
    if (2 * k >= B) {       /* cannot happen for beta < 0.5; kept as a guard */
        zsys_error ("fl_robust_trimmed_mean: k=floor(beta*B)=%zu needs 2k < B (B=%zu)", k, B);
        return -1;
    }
    return s_columnwise ("fl_robust_trimmed_mean", x, B, d, S_MODE_TRIM, k, work, out);
}

/*  ---- Krum family ---------------------------------------------------------------- */

/*  Sums are numpy's pairwise summation (numpy/core/src/umath/loops_utils.h:
    below 8 terms a plain loop; up to 128 terms eight interleaved partial sums
    combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) plus the tail; above
    that, split at a multiple of 8 and recurse).  Two reasons: its error grows
    as O(eps log n) rather than O(eps n), and it reproduces the reference
    implementation's rounding bit for bit, which matters for the geometric
    median: its ftol = 1e-20 rule stops at the first iteration whose objective
    is unchanged in the last bit, so a different summation order stops a few
    iterations earlier or later and moves the result by ~1e-8 (measured on the
    reference case seed 202).  The eight partial sums also break the add
    dependency chain, so this is as fast as a naive loop. */
#define S_PW_BLOCK 128

static double
s_pw_sum (const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= S_PW_BLOCK) {
        double r[8];
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return s_pw_sum (a, n2) + s_pw_sum (a + n2, n - n2);
}

/*  sum_k (a_k - b_k)^2 in the same pairwise order (numpy: ((X - z)**2).sum()). */
static double
s_sqdist (const double *a, const double *b, size_t n)
{
#define S_SQ(k) ((a[k] - b[k]) * (a[k] - b[k]))
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; i++)
            res += S_SQ (i);
        return res;
    }
    if (n <= S_PW_BLOCK) {
        double r[8];
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = S_SQ (j);
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += S_SQ (i + j);
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += S_SQ (i);
        return res;
    }
#undef S_SQ
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return s_sqdist (a, b, n2) + s_sqdist (a + n2, b + n2, n - n2);
}

/*  D (B, B) = squared pairwise distances, symmetric, zero diagonal.  Tiled
    over d: one tile of all B rows is ~1 MiB, so it stays in L2 while the
    B(B-1)/2 pairs are formed. */
static void
s_sqdist_matrix (const double *x, size_t B, size_t d, double *D)
{
    memset (D, 0, B * B * sizeof (double));
    size_t C = ((size_t) 1 << 17) / B;
    if (C < 256)
        C = 256;
    if (C > d)
        C = d;
    for (size_t j0 = 0; j0 < d; j0 += C) {
        size_t len = d - j0 < C ? d - j0 : C;
        for (size_t i = 0; i < B; i++)
            for (size_t k = i + 1; k < B; k++)
                D[i * B + k] += s_sqdist (x + i * d + j0, x + k * d + j0, len);
    }
    for (size_t i = 0; i < B; i++)
        for (size_t k = i + 1; k < B; k++)
            D[k * B + i] = D[i * B + k];
}

static int
s_cmp_double (const void *pa, const void *pb)
{
    double a = *(const double *) pa, b = *(const double *) pb;
    return (a > b) - (a < b);
}

/*  Krum score of every row in idx[0..n) restricted to that subset: the sum of
    its nb smallest squared distances to the others.  The nb smallest are
    found by selection, then summed in ascending order so that the result
    does not depend on the order selection left them in. */
static void
s_scores_subset (const double *D, size_t B, const size_t *idx, size_t n, size_t nb,
                 double *tmp, double *scores)
{
    for (size_t a = 0; a < n; a++) {
        const double *Drow = D + idx[a] * B;
        size_t cnt = 0;
        for (size_t b = 0; b < n; b++)
            if (b != a)
                tmp[cnt++] = Drow[idx[b]];
        double s = 0;
        if (nb > 0) {
            fl_robust_select (tmp, cnt, nb - 1);
            qsort (tmp, nb, sizeof (double), s_cmp_double);
            for (size_t t = 0; t < nb; t++)
                s += tmp[t];
        }
        scores[a] = s;
    }
}

static int
s_check_krum (const char *who, size_t B, size_t f)
{
    if (B < 3 || f > (B - 3) / 2) {
        zsys_error ("%s: Krum with f=%zu needs B >= 2f+3 (got B=%zu)", who, f, B);
        return -1;
    }
    return 0;
}

/*  Scores of all B rows into scores (B); scratch is D (B*B) and tmp (B). */
static int
s_krum_common (const char *who, const double *x, size_t B, size_t d, size_t f,
               fl_robust_work_t *w, double *scores)
{
    size_t bytes = s_al (B * B * sizeof (double)) + s_al (B * sizeof (double))
                   + s_al (B * sizeof (size_t));
    char *base = s_reserve (w, 0, bytes, who);
    if (!base)
        return -1;
    double *D = (double *) base;
    double *tmp = (double *) (base + s_al (B * B * sizeof (double)));
    size_t *idx = (size_t *) ((char *) tmp + s_al (B * sizeof (double)));
    for (size_t i = 0; i < B; i++)
        idx[i] = i;
    s_sqdist_matrix (x, B, d, D);
    s_scores_subset (D, B, idx, B, B - f - 2, tmp, scores);
    return 0;
}

int
fl_robust_krum_scores (const double *x, size_t B, size_t d, size_t f,
                       fl_robust_work_t *work, double *scores)
{
    const char *who = "fl_robust_krum_scores";
    assert (scores);
    if (s_check_input (who, x, B, d) || s_check_krum (who, B, f))
        return -1;
    fl_robust_work_t local = {{NULL, NULL}, {0, 0}};
    int rc = s_krum_common (who, x, B, d, f, work ? work : &local, scores);
    if (!work)
        s_work_clear (&local);
    return rc;
}

typedef struct {
    double score;
    size_t index;
} s_scored_t;

static int
s_cmp_scored (const void *pa, const void *pb)
{
    const s_scored_t *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

int
fl_robust_multi_krum (const double *x, size_t B, size_t d, size_t f, size_t m,
                      fl_robust_work_t *work, double *out, size_t *selected)
{
    const char *who = "fl_robust_multi_krum";
    assert (out);
    if (s_check_input (who, x, B, d) || s_check_krum (who, B, f))
        return -1;
    if (m < 1 || m > B - f) {
        zsys_error ("%s: m=%zu rows to average must be in [1, B-f] = [1, %zu]", who, m, B - f);
        return -1;
    }
    s_scored_t *order = malloc (B * sizeof *order);
    double *scores = malloc (B * sizeof *scores);
    fl_robust_work_t local = {{NULL, NULL}, {0, 0}};
    int rc = -1;
    if (!order || !scores) {
        zsys_error ("%s: out of memory for %zu scores", who, B);
        goto done;
    }
    if (s_krum_common (who, x, B, d, f, work ? work : &local, scores))
        goto done;
    for (size_t i = 0; i < B; i++)
        order[i] = (s_scored_t) {scores[i], i};
    qsort (order, B, sizeof *order, s_cmp_scored);     /* total order: ties by index */
    memset (out, 0, d * sizeof (double));
    for (size_t t = 0; t < m; t++) {
        const double *row = x + order[t].index * d;
        for (size_t j = 0; j < d; j++)
            out[j] += row[j];
        if (selected)
            selected[t] = order[t].index;
    }
    for (size_t j = 0; j < d; j++)
        out[j] /= (double) m;
    rc = 0;
done:
    free (order);
    free (scores);
    if (!work)
        s_work_clear (&local);
    return rc;
}

int
fl_robust_krum (const double *x, size_t B, size_t d, size_t f, fl_robust_work_t *work,
                double *out, size_t *selected)
{
    const char *who = "fl_robust_krum";
    assert (out);
    if (s_check_input (who, x, B, d) || s_check_krum (who, B, f))
        return -1;
    double *scores = malloc (B * sizeof *scores);
    if (!scores) {
        zsys_error ("%s: out of memory for %zu scores", who, B);
        return -1;
    }
    fl_robust_work_t local = {{NULL, NULL}, {0, 0}};
    int rc = s_krum_common (who, x, B, d, f, work ? work : &local, scores);
    if (rc == 0) {
        size_t best = 0;
        for (size_t i = 1; i < B; i++)
            if (scores[i] < scores[best])       /* strict: ties keep the lowest index */
                best = i;
        memcpy (out, x + best * d, d * sizeof (double));
        if (selected)
            *selected = best;
    }
    free (scores);
    if (!work)
        s_work_clear (&local);
    return rc;
}

/*  ---- Bulyan ------------------------------------------------------------------------ */

int
fl_robust_bulyan (const double *x, size_t B, size_t d, size_t f, fl_robust_work_t *work,
                  double *out, size_t *selected)
{
    const char *who = "fl_robust_bulyan";
    assert (out);
    if (s_check_input (who, x, B, d))
        return -1;
    if (B < 3 || f > (B - 3) / 4) {
        zsys_error ("%s: Bulyan with f=%zu needs B >= 4f+3 (got B=%zu)", who, f, B);
        return -1;
    }
    size_t theta = B - 2 * f, beta = theta - 2 * f;
    fl_robust_work_t local = {{NULL, NULL}, {0, 0}};
    fl_robust_work_t *w = work ? work : &local;
    size_t off_tmp = s_al (B * B * sizeof (double));
    size_t off_sc = off_tmp + s_al (B * sizeof (double));
    size_t off_rem = off_sc + s_al (B * sizeof (double));
    size_t off_sel = off_rem + s_al (B * sizeof (size_t));
    size_t off_col = off_sel + s_al (B * sizeof (size_t));
    size_t off_med = off_col + s_al (S_COLS * theta * sizeof (double));
    size_t off_dst = off_med + s_al (theta * sizeof (double));
    size_t bytes = off_dst + s_al (2 * theta * sizeof (double));
    char *base = s_reserve (w, 0, bytes, who);
    if (!base)
        return -1;
    double *D = (double *) base, *tmp = (double *) (base + off_tmp);
    double *sc = (double *) (base + off_sc);
    size_t *rem = (size_t *) (base + off_rem), *sel = (size_t *) (base + off_sel);
    double *col = (double *) (base + off_col), *med = (double *) (base + off_med);
    double *dst = (double *) (base + off_dst), *dsel = dst + theta;

    /* 1. theta rows by repeated Krum over the remaining set (Flower
          aggregate_bulyan: neighbours max(1, n'-f-2), capped at n'-1). */
    s_sqdist_matrix (x, B, d, D);
    size_t n = B;
    for (size_t i = 0; i < B; i++)
        rem[i] = i;
    for (size_t t = 0; t < theta; t++) {
        size_t nb = 0;
        if (n >= 2) {
            nb = n >= f + 3 ? n - f - 2 : 1;
            if (nb > n - 1)
                nb = n - 1;
        }
        s_scores_subset (D, B, rem, n, nb, tmp, sc);
        size_t best = 0;
        for (size_t a = 1; a < n; a++)
            if (sc[a] < sc[best])
                best = a;
        sel[t] = rem[best];
        memmove (rem + best, rem + best + 1, (n - best - 1) * sizeof (size_t));
        n--;
    }
    /* 2. per coordinate: mean of the beta selected values closest to the
          selected set's median; distance ties go to the earlier-selected row. */
    for (size_t j0 = 0; j0 < d; j0 += S_COLS) {
        size_t nc = d - j0 < S_COLS ? d - j0 : S_COLS;
        for (size_t a = 0; a < theta; a++) {
            const double *row = x + sel[a] * d + j0;
            for (size_t c = 0; c < nc; c++)
                col[c * theta + a] = row[c];
        }
        for (size_t c = 0; c < nc; c++) {
            const double *v = col + c * theta;
            memcpy (med, v, theta * sizeof (double));
            double m = s_median_of (med, theta);
            for (size_t a = 0; a < theta; a++)
                dst[a] = dsel[a] = fabs (v[a] - m);
            double cut = fl_robust_select (dsel, theta, beta - 1);
            double s = 0;
            size_t taken = 0;
            for (size_t a = 0; a < theta; a++)
                if (dst[a] < cut) {
                    s += v[a];
                    taken++;
                }
            for (size_t a = 0; a < theta && taken < beta; a++)
                if (dst[a] == cut) {
                    s += v[a];
                    taken++;
                }
            out[j0 + c] = s / (double) beta;
        }
    }
    if (selected)
        memcpy (selected, sel, theta * sizeof (size_t));
    if (!work)
        s_work_clear (&local);
    return 0;
}

/*  ---- geometric median and centered clipping ------------------------------------ */

static double
s_dist (const double *a, const double *b, size_t n)
{
    return sqrt (s_sqdist (a, b, n));
}

int
fl_robust_geomed (const double *x, size_t B, size_t d, double nu, int max_iter, double tol,
                  const double *init, fl_robust_work_t *work, double *out, int *iters)
{
    const char *who = "fl_robust_geomed";
    assert (out);
    if (!(nu > 0.0) || !isfinite (nu)) {
        zsys_error ("%s: smoothing nu=%g must be > 0 and finite", who, nu);
        return -1;
    }
    if (max_iter < 1) {
        zsys_error ("%s: max_iter=%d must be >= 1", who, max_iter);
        return -1;
    }
    if (!(tol >= 0.0) || !isfinite (tol)) {
        zsys_error ("%s: tol=%g must be >= 0 and finite", who, tol);
        return -1;
    }
    if (s_check_input (who, x, B, d))
        return -1;
    if (init && s_check_finite (who, "init", init, d, d))
        return -1;
    fl_robust_work_t local = {{NULL, NULL}, {0, 0}};
    fl_robust_work_t *w = work ? work : &local;
    size_t off_w = s_al (B * sizeof (double)), off_acc = 2 * off_w;
    char *base = s_reserve (w, 0, off_acc + s_al (d * sizeof (double)), who);
    if (!base)
        return -1;
    double *dist = (double *) base, *wt = (double *) (base + off_w);
    double *acc = (double *) (base + off_acc);

    if (init)
        memcpy (out, init, d * sizeof (double));
    else
        fl_robust_mean (x, B, d, out);      /* input already checked: cannot fail */
    for (size_t i = 0; i < B; i++)
        dist[i] = s_dist (x + i * d, out, d);
    double F = s_pw_sum (dist, B) / (double) B;
    int it = 0;
    while (it < max_iter) {
        it++;
        memset (acc, 0, d * sizeof (double));
        for (size_t i = 0; i < B; i++) {
            double wi = 1.0 / (dist[i] > nu ? dist[i] : nu);
            const double *row = x + i * d;
            wt[i] = wi;
            for (size_t j = 0; j < d; j++)
                acc[j] += wi * row[j];
        }
        double W = s_pw_sum (wt, B);
        for (size_t j = 0; j < d; j++)
            out[j] = acc[j] / W;
        for (size_t i = 0; i < B; i++)
            dist[i] = s_dist (x + i * d, out, d);
        double Fnew = s_pw_sum (dist, B) / (double) B;
        int stop = fabs (F - Fnew) <= tol * Fnew;
        F = Fnew;
        if (stop)
            break;
    }
    if (iters)
        *iters = it;
    if (!work)
        s_work_clear (&local);
    return 0;
}

int
fl_robust_cclip (const double *x, size_t B, size_t d, double tau, int L, const double *v0,
                 fl_robust_work_t *work, double *out)
{
    const char *who = "fl_robust_cclip";
    assert (out);
    if (!(tau > 0.0) || !isfinite (tau)) {
        zsys_error ("%s: clipping radius tau=%g must be > 0 and finite", who, tau);
        return -1;
    }
    if (L < 1) {
        zsys_error ("%s: iterations L=%d must be >= 1", who, L);
        return -1;
    }
    if (s_check_input (who, x, B, d))
        return -1;
    if (v0 && s_check_finite (who, "starting point v0", v0, d, d))
        return -1;
    fl_robust_work_t local = {{NULL, NULL}, {0, 0}};
    fl_robust_work_t *w = work ? work : &local;
    double *acc = s_reserve (w, 0, d * sizeof (double), who);
    if (!acc)
        return -1;
    if (v0)
        memcpy (out, v0, d * sizeof (double));
    else
        memset (out, 0, d * sizeof (double));
    for (int l = 0; l < L; l++) {
        memset (acc, 0, d * sizeof (double));
        for (size_t i = 0; i < B; i++) {
            const double *row = x + i * d;
            double r = s_dist (row, out, d);
            double c = r > 0 ? fmin (1.0, tau / r) : 1.0;
            for (size_t j = 0; j < d; j++)
                acc[j] += c * (row[j] - out[j]);
        }
        for (size_t j = 0; j < d; j++)
            out[j] += acc[j] / (double) B;
    }
    if (!work)
        s_work_clear (&local);
    return 0;
}

/*  ---- pre-steps ------------------------------------------------------------------- */

int
fl_robust_norm_bound (const double *x, size_t B, size_t d, double M, double *y)
{
    const char *who = "fl_robust_norm_bound";
    assert (y);
    if (!(M > 0.0) || !isfinite (M)) {
        zsys_error ("%s: norm bound M=%g must be > 0 and finite", who, M);
        return -1;
    }
    if (s_check_input (who, x, B, d))
        return -1;
    for (size_t i = 0; i < B; i++) {
        const double *row = x + i * d;
        double *yr = y + i * d;
        double s0 = 0;
        for (size_t j = 0; j < d; j++)
            s0 += row[j] * row[j];
        double r = sqrt (s0);
        double c = r > 0 ? fmin (1.0, M / r) : 1.0;
        for (size_t j = 0; j < d; j++)
            yr[j] = row[j] * c;
    }
    return 0;
}

int
fl_robust_bucket_means (const double *x, size_t B, size_t d, size_t s, const uint32_t *perm,
                        double *out, size_t *n_buckets)
{
    const char *who = "fl_robust_bucket_means";
    assert (out);
    if (s == 0) {
        zsys_error ("%s: bucket size s must be >= 1", who);
        return -1;
    }
    if (s_check_input (who, x, B, d))
        return -1;
    if (perm) {
        unsigned char *seen = calloc (B, 1);
        if (!seen) {
            zsys_error ("%s: out of memory", who);
            return -1;
        }
        for (size_t i = 0; i < B; i++) {
            if (perm[i] >= B || seen[perm[i]]) {
                zsys_error ("%s: perm is not a permutation of 0..%zu (entry %zu = %u)",
                            who, B - 1, i, (unsigned) perm[i]);
                free (seen);
                return -1;
            }
            seen[perm[i]] = 1;
        }
        free (seen);
    }
    size_t nb = (B + s - 1) / s;
    for (size_t t = 0; t < nb; t++) {
        size_t a = t * s, e = a + s < B ? a + s : B;
        double *o = out + t * d;
        memset (o, 0, d * sizeof (double));
        for (size_t r = a; r < e; r++) {
            const double *row = x + (size_t) (perm ? perm[r] : r) * d;
            for (size_t j = 0; j < d; j++)
                o[j] += row[j];
        }
        for (size_t j = 0; j < d; j++)
            o[j] /= (double) (e - a);
    }
    if (n_buckets)
        *n_buckets = nb;
    return 0;
}

/*  ---- dispatcher ---------------------------------------------------------------------- */

void
fl_robust_params_defaults (fl_robust_params_t *p)
{
    assert (p);
    memset (p, 0, sizeof *p);
    p->nu = 1e-6;
    p->max_iter = 100;
    p->tol = 1e-20;
    p->tau = 1.0;
    p->L = 3;
}

static const struct {
    const char *name;
    fl_robust_kind_t kind;
} s_names[] = {
    {"mean", FL_ROBUST_MEAN},
    {"median", FL_ROBUST_MEDIAN},
    {"trimmed_mean", FL_ROBUST_TRIMMED_MEAN},
    {"krum", FL_ROBUST_KRUM},
    {"multi_krum", FL_ROBUST_MULTI_KRUM},
    {"geomed", FL_ROBUST_GEOMED},
    {"cclip", FL_ROBUST_CCLIP},
    {"bulyan", FL_ROBUST_BULYAN},
    /* aliases after the canonical names */
    {"trimmed-mean", FL_ROBUST_TRIMMED_MEAN},
    {"multi-krum", FL_ROBUST_MULTI_KRUM},
    {"geometric_median", FL_ROBUST_GEOMED},
    {"centered_clipping", FL_ROBUST_CCLIP},
};

int
fl_robust_kind_parse (const char *name, fl_robust_kind_t *kind)
{
    assert (kind);
    if (name)
        for (size_t i = 0; i < sizeof s_names / sizeof s_names[0]; i++)
            if (strcmp (name, s_names[i].name) == 0) {
                *kind = s_names[i].kind;
                return 0;
            }
    zsys_error ("fl_robust_kind_parse: unknown aggregator '%s' (expected mean, median, "
                "trimmed_mean, krum, multi_krum, geomed, cclip or bulyan)",
                name ? name : "(null)");
    return -1;
}

const char *
fl_robust_kind_name (fl_robust_kind_t kind)
{
    for (size_t i = 0; i < sizeof s_names / sizeof s_names[0]; i++)
        if (s_names[i].kind == kind)
            return s_names[i].name;
    return "unknown";
}

int
fl_robust_aggregate_work (fl_robust_kind_t kind, const fl_robust_params_t *p, const double *x,
                          size_t B, size_t d, const double *prev, fl_robust_work_t *work,
                          double *out)
{
    const char *who = "fl_robust_aggregate";
    assert (p && x && out);
    fl_robust_work_t local = {{NULL, NULL}, {0, 0}};
    fl_robust_work_t *w = work ? work : &local;
    const double *in = x;
    int rc = -1;
    if (p->M != 0.0) {
        if (s_check_shape (who, B, d))
            goto done;
        double *copy = s_reserve (w, 1, B * d * sizeof (double), who);
        if (!copy || fl_robust_norm_bound (x, B, d, p->M, copy))
            goto done;
        in = copy;
    }
    switch (kind) {
    case FL_ROBUST_MEAN:
        rc = fl_robust_mean (in, B, d, out);
        break;
    case FL_ROBUST_MEDIAN:
        rc = fl_robust_median (in, B, d, w, out);
        break;
    case FL_ROBUST_TRIMMED_MEAN:
        if (p->beta != 0.0 && p->b != 0) {
            zsys_error ("%s: trimmed mean takes beta (%g) or b (%zu), not both", who, p->beta,
                        p->b);
            break;
        }
        rc = p->beta != 0.0 ? fl_robust_trimmed_mean (in, B, d, p->beta, w, out)
                            : fl_robust_trimmed_mean_b (in, B, d, p->b, w, out);
        break;
    case FL_ROBUST_KRUM:
        rc = fl_robust_krum (in, B, d, p->f, w, out, NULL);
        break;
    case FL_ROBUST_MULTI_KRUM: {
        size_t m = p->m ? p->m : (B > p->f ? B - p->f : 1);
        rc = fl_robust_multi_krum (in, B, d, p->f, m, w, out, NULL);
        break;
    }
    case FL_ROBUST_GEOMED:
        rc = fl_robust_geomed (in, B, d, p->nu, p->max_iter, p->tol, NULL, w, out, NULL);
        break;
    case FL_ROBUST_CCLIP:
        rc = fl_robust_cclip (in, B, d, p->tau, p->L, prev, w, out);
        break;
    case FL_ROBUST_BULYAN:
        rc = fl_robust_bulyan (in, B, d, p->f, w, out, NULL);
        break;
    default:
        zsys_error ("%s: unknown aggregator kind %d", who, (int) kind);
        break;
    }
done:
    if (!work)
        s_work_clear (&local);
    return rc;
}

int
fl_robust_aggregate (fl_robust_kind_t kind, const fl_robust_params_t *p, const double *x,
                     size_t B, size_t d, const double *prev, double *out)
{
    return fl_robust_aggregate_work (kind, p, x, B, d, prev, NULL, out);
}
