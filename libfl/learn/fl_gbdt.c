/*  fl_gbdt - histogram gradient boosting (Chen and Guestrin 2016), the
    centralised core of issue 18.  See fl_gbdt.h for the layout and
    docs/TREES.md for the formulas and the comparison with XGBoost.

    Why depth-wise and why the separate steps: the federated trainer runs
    one secure aggregation per tree level, summing every member's
    fl_gbdt_hist_build output for all open nodes, then calls
    fl_gbdt_split_find on the sums.  The trainer here does the same on
    pooled rows, so the two give identical trees when the sums are exact.
*/
#include "fl_gbdt.h"
#include "fl_rng.h"

#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fl_gbdt_bins_t {
    size_t d;
    size_t max_bins;
    uint32_t *n_edges;          /* (d); value bins of f = n_edges[f] + 1 */
    float *edges;               /* (d, max_bins - 1) */
};

struct fl_gbdt_t {
    fl_gbdt_bins_t *bins;
    size_t n_classes;
    size_t groups;
    size_t n_trees;
    size_t cap_trees;
    size_t *tree_offset;        /* (n_trees + 1) into nodes */
    fl_gbdt_node_t *nodes;
    size_t n_nodes;
    size_t cap_nodes;
};

/* ---------------------------------------------------------------------------
   Bins
   ------------------------------------------------------------------------- */

static fl_gbdt_bins_t *
s_bins_alloc (size_t d, size_t max_bins)
{
    fl_gbdt_bins_t *self = (fl_gbdt_bins_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->d = d;
    self->max_bins = max_bins;
    self->n_edges = (uint32_t *) calloc (d, sizeof (uint32_t));
    self->edges = (float *) calloc (d * (max_bins > 1 ? max_bins - 1 : 1), sizeof (float));
    if (!self->n_edges || !self->edges) {
        fl_gbdt_bins_destroy (&self);
        return NULL;
    }
    return self;
}

static int
s_check_grid (const double *lo, const double *hi, size_t d, size_t n_fine, const char *where)
{
    if (!lo || !hi) {
        zsys_error ("%s: NULL lo/hi", where);
        return -1;
    }
    if (d == 0 || d > FL_GBDT_MAX_FEATURES || n_fine == 0 || n_fine > FL_GBDT_MAX_FINE) {
        zsys_error ("%s: %zu features (1..%u), %zu fine cells (1..%u)", where, d, FL_GBDT_MAX_FEATURES,
                    n_fine, FL_GBDT_MAX_FINE);
        return -1;
    }
    for (size_t f = 0; f < d; f++)
        if (!isfinite (lo[f]) || !isfinite (hi[f]) || hi[f] < lo[f]) {
            zsys_error ("%s: feature %zu: grid [%g, %g] is not a finite interval", where, f, lo[f], hi[f]);
            return -1;
        }
    return 0;
}

int
fl_gbdt_fine_histogram (const float *x, size_t n, size_t d, const double *lo, const double *hi,
                        size_t n_fine, double *counts)
{
    if ((!x && n > 0) || !counts) {
        zsys_error ("fl_gbdt_fine_histogram: NULL rows or counts");
        return -1;
    }
    if (s_check_grid (lo, hi, d, n_fine, "fl_gbdt_fine_histogram"))
        return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < d; f++) {
            double v = x[i * d + f];
            if (isnan (v))
                continue;
            double w = hi[f] - lo[f];
            size_t c = 0;
            if (w > 0) {
                double t = floor ((v - lo[f]) / w * (double) n_fine);
                c = t <= 0 ? 0 : t >= (double) (n_fine - 1) ? n_fine - 1 : (size_t) t;
            }
            counts[f * n_fine + c] += 1.0;
        }
    return 0;
}

fl_gbdt_bins_t *
fl_gbdt_bins_from_histogram (const double *counts, size_t d, size_t n_fine, const double *lo,
                             const double *hi, size_t max_bins)
{
    const char *where = "fl_gbdt_bins_from_histogram";
    if (!counts) {
        zsys_error ("%s: NULL counts", where);
        return NULL;
    }
    if (s_check_grid (lo, hi, d, n_fine, where))
        return NULL;
    if (max_bins == 0 || max_bins > FL_GBDT_MAX_BINS) {
        zsys_error ("%s: %zu bins (1..%u)", where, max_bins, FL_GBDT_MAX_BINS);
        return NULL;
    }
    for (size_t k = 0; k < d * n_fine; k++)
        if (!isfinite (counts[k]) || counts[k] < 0) {
            zsys_error ("%s: count %zu of feature %zu is %g (need finite >= 0)", where, k % n_fine,
                        k / n_fine, counts[k]);
            return NULL;
        }
    fl_gbdt_bins_t *self = s_bins_alloc (d, max_bins);
    if (!self) {
        zsys_error ("%s: no memory", where);
        return NULL;
    }
    for (size_t f = 0; f < d; f++) {
        const double *c = counts + f * n_fine;
        double total = 0;
        size_t last = 0;
        for (size_t j = 0; j < n_fine; j++) {
            total += c[j];
            if (c[j] > 0)
                last = j;
        }
        if (total <= 0 || hi[f] <= lo[f])
            continue;                           /* one value bin */
        double w = (hi[f] - lo[f]) / (double) n_fine;
        float *e = self->edges + f * (max_bins - 1);
        uint32_t m = 0;
        double cum = 0;
        size_t j = 0;
        for (size_t k = 1; k < max_bins; k++) {
            double target = total * (double) k / (double) max_bins;
            while (j < n_fine && cum + c[j] < target) {
                cum += c[j];
                j++;
            }
            if (j >= last)
                break;                          /* would leave an empty last bin */
            float edge = (float) (lo[f] + (double) (j + 1) * w);
            if (m == 0 || edge > e[m - 1])
                e[m++] = edge;
        }
        self->n_edges[f] = m;
    }
    return self;
}

fl_gbdt_bins_t *
fl_gbdt_bins_new (const float *x, size_t n, size_t d, size_t n_fine, size_t max_bins)
{
    if (!x || n == 0 || d == 0 || d > FL_GBDT_MAX_FEATURES || n_fine == 0 || n_fine > FL_GBDT_MAX_FINE) {
        zsys_error ("fl_gbdt_bins_new: need rows (n %zu), 1..%u features (%zu), 1..%u fine cells (%zu)", n,
                    FL_GBDT_MAX_FEATURES, d, FL_GBDT_MAX_FINE, n_fine);
        return NULL;
    }
    double *lo = (double *) malloc (d * sizeof (double));
    double *hi = (double *) malloc (d * sizeof (double));
    double *counts = (double *) calloc (d * n_fine, sizeof (double));
    fl_gbdt_bins_t *self = NULL;
    if (!lo || !hi || !counts) {
        zsys_error ("fl_gbdt_bins_new: no memory");
        goto done;
    }
    for (size_t f = 0; f < d; f++) {
        lo[f] = INFINITY;
        hi[f] = -INFINITY;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < d; f++) {
            double v = x[i * d + f];
            if (!isfinite (v))
                continue;
            lo[f] = v < lo[f] ? v : lo[f];
            hi[f] = v > hi[f] ? v : hi[f];
        }
    for (size_t f = 0; f < d; f++)
        if (lo[f] > hi[f])
            lo[f] = hi[f] = 0;
    if (fl_gbdt_fine_histogram (x, n, d, lo, hi, n_fine, counts) == 0)
        self = fl_gbdt_bins_from_histogram (counts, d, n_fine, lo, hi, max_bins);
done:
    free (lo);
    free (hi);
    free (counts);
    return self;
}

fl_gbdt_bins_t *
fl_gbdt_bins_from_edges (const float *edges, const uint32_t *n_edges, size_t d, size_t max_bins)
{
    const char *where = "fl_gbdt_bins_from_edges";
    if (!edges || !n_edges || d == 0 || d > FL_GBDT_MAX_FEATURES || max_bins == 0
        || max_bins > FL_GBDT_MAX_BINS) {
        zsys_error ("%s: NULL, or %zu features (1..%u), %zu bins (1..%u)", where, d, FL_GBDT_MAX_FEATURES,
                    max_bins, FL_GBDT_MAX_BINS);
        return NULL;
    }
    size_t w = max_bins - 1;
    for (size_t f = 0; f < d; f++) {
        if (n_edges[f] > w) {
            zsys_error ("%s: feature %zu has %u edges (at most %zu)", where, f, n_edges[f], w);
            return NULL;
        }
        for (size_t k = 0; k < n_edges[f]; k++) {
            float e = edges[f * w + k];
            if (!isfinite (e) || (k > 0 && !(e > edges[f * w + k - 1]))) {
                zsys_error ("%s: feature %zu edge %zu (%g) is not finite and increasing", where, f, k, e);
                return NULL;
            }
        }
    }
    fl_gbdt_bins_t *self = s_bins_alloc (d, max_bins);
    if (!self) {
        zsys_error ("%s: no memory", where);
        return NULL;
    }
    memcpy (self->n_edges, n_edges, d * sizeof (uint32_t));
    if (w > 0)
        memcpy (self->edges, edges, d * w * sizeof (float));
    return self;
}

static fl_gbdt_bins_t *
s_bins_copy (const fl_gbdt_bins_t *b)
{
    return fl_gbdt_bins_from_edges (b->edges, b->n_edges, b->d, b->max_bins);
}

void
fl_gbdt_bins_destroy (fl_gbdt_bins_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_gbdt_bins_t *self = *self_p;
    free (self->n_edges);
    free (self->edges);
    free (self);
    *self_p = NULL;
}

size_t
fl_gbdt_bins_features (const fl_gbdt_bins_t *self)
{
    return self ? self->d : 0;
}

size_t
fl_gbdt_bins_max (const fl_gbdt_bins_t *self)
{
    return self ? self->max_bins : 0;
}

size_t
fl_gbdt_bins_stride (const fl_gbdt_bins_t *self)
{
    return self ? self->max_bins + 1 : 0;
}

size_t
fl_gbdt_bins_count (const fl_gbdt_bins_t *self, size_t f)
{
    return self && f < self->d ? (size_t) self->n_edges[f] + 1 : 0;
}

float
fl_gbdt_bins_edge (const fl_gbdt_bins_t *self, size_t f, size_t k)
{
    if (!self || f >= self->d || k >= self->n_edges[f])
        return NAN;
    return self->edges[f * (self->max_bins - 1) + k];
}

static uint16_t
s_bin_of (const fl_gbdt_bins_t *self, size_t f, float v)
{
    if (isnan (v))
        return FL_GBDT_MISSING_BIN;
    const float *e = self->edges + f * (self->max_bins - 1);
    size_t a = 0, b = self->n_edges[f];        /* first edge > v, in [a, b] */
    while (a < b) {
        size_t m = (a + b) / 2;
        if (e[m] <= v)
            a = m + 1;
        else
            b = m;
    }
    return (uint16_t) (1 + a);
}

int
fl_gbdt_bins_apply (const fl_gbdt_bins_t *self, const float *x, size_t n, size_t d, uint16_t *out)
{
    if (!self || (!x && n > 0) || (!out && n > 0) || d != self->d) {
        zsys_error ("fl_gbdt_bins_apply: NULL, or %zu features where the bins have %zu", d,
                    self ? self->d : 0);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < d; f++)
            out[i * d + f] = s_bin_of (self, f, x[i * d + f]);
    return 0;
}

/* ---------------------------------------------------------------------------
   Histograms and splits
   ------------------------------------------------------------------------- */

int
fl_gbdt_hist_build (const uint16_t *xb, size_t n, size_t d, size_t stride, const float *grad,
                    const float *hess, const uint32_t *rows, size_t n_rows, double *hist)
{
    if (!xb || !grad || !hess || !hist || (!rows && n_rows > 0) || d == 0 || stride < 2) {
        zsys_error ("fl_gbdt_hist_build: NULL pointer, d = 0 or stride < 2");
        return -1;
    }
    memset (hist, 0, d * stride * 2 * sizeof (double));
    for (size_t i = 0; i < n_rows; i++) {
        size_t r = rows[i];
        if (r >= n) {
            zsys_error ("fl_gbdt_hist_build: row %zu out of range (%zu rows)", r, n);
            return -1;
        }
        double g = grad[r], h = hess[r];
        const uint16_t *xr = xb + r * d;
        for (size_t f = 0; f < d; f++) {
            if (xr[f] >= stride) {
                zsys_error ("fl_gbdt_hist_build: row %zu feature %zu: bin %u >= %zu", r, f, xr[f], stride);
                return -1;
            }
            double *cell = hist + (f * stride + xr[f]) * 2;
            cell[0] += g;
            cell[1] += h;
        }
    }
    return 0;
}

double
fl_gbdt_gain (double gl, double hl, double gr, double hr, double lambda)
{
    double g = gl + gr, h = hl + hr;
    return gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - g * g / (h + lambda);
}

double
fl_gbdt_leaf_weight (double g, double h, const fl_gbdt_split_param_t *p)
{
    if (h < p->min_child_weight || h <= 0)
        return 0;
    return -g / (h + p->lambda);
}

static int
s_param_ok (const fl_gbdt_split_param_t *p)
{
    return p && isfinite (p->lambda) && p->lambda >= 0 && isfinite (p->min_child_weight)
           && p->min_child_weight >= 0;
}

/*  Keeps (f, b, default_left) in *out if both children have enough hessian
    and its gain beats *best strictly. */
static void
s_consider (fl_gbdt_split_t *out, double *best, size_t f, size_t b, bool default_left, double gl, double hl,
            double gr, double hr, const fl_gbdt_split_param_t *p)
{
    if (hl < p->min_child_weight || hr < p->min_child_weight || hl <= 0 || hr <= 0)
        return;                                 /* an empty side changes nothing */
    double gain = fl_gbdt_gain (gl, hl, gr, hr, p->lambda);
    if (!(gain > *best))
        return;
    *best = gain;
    out->feature = (int32_t) f;
    out->bin = (uint32_t) b;
    out->default_left = default_left;
    out->gain = gain;
    out->g_left = gl;
    out->h_left = hl;
    out->g_right = gr;
    out->h_right = hr;
}

int
fl_gbdt_split_find (const fl_gbdt_bins_t *bins, const double *hist, const fl_gbdt_split_param_t *p,
                    fl_gbdt_split_t *out)
{
    const char *where = "fl_gbdt_split_find";
    if (!bins || !hist || !out || !s_param_ok (p)) {
        zsys_error ("%s: NULL pointer or bad lambda / min_child_weight", where);
        return -1;
    }
    size_t d = bins->d, stride = bins->max_bins + 1;
    for (size_t k = 0; k < d * stride; k++)
        if (!isfinite (hist[2 * k]) || !isfinite (hist[2 * k + 1]) || hist[2 * k + 1] < 0) {
            zsys_error ("%s: feature %zu bin %zu: (%g, %g) is not a gradient and a hessian >= 0", where,
                        k / stride, k % stride, hist[2 * k], hist[2 * k + 1]);
            return -1;
        }
    double G = 0, H = 0;
    for (size_t b = 0; b < stride; b++) {
        G += hist[2 * b];
        H += hist[2 * b + 1];
    }
    memset (out, 0, sizeof *out);
    out->feature = -1;
    double best = FL_GBDT_MIN_GAIN;
    for (size_t f = 0; f < d; f++) {
        const double *hf = hist + f * stride * 2;
        size_t nb = bins->n_edges[f] + 1;
        double gm = hf[0], hm = hf[1];
        bool has_missing = hm > 0 || gm != 0;
        /* forward: missing right, left = value bins 1..b, b ascending */
        double gl = 0, hl = 0;
        for (size_t b = 1; b <= nb; b++) {
            gl += hf[2 * b];
            hl += hf[2 * b + 1];
            s_consider (out, &best, f, b, false, gl, hl, G - gl, H - hl, p);
        }
        if (!has_missing)
            continue;
        /* backward (alg. 3's second pass): missing left, right = value bins
           b+1..nb, b descending to 0 (left = the missing rows only).  The
           scan direction matters only for ties between equivalent bins (empty
           bins in this node): as XGBoost, the backward pass keeps the highest
           b, the forward pass the lowest. */
        double gr = 0, hr = 0;
        for (size_t b = nb; b-- > 0;) {
            gr += hf[2 * (b + 1)];
            hr += hf[2 * (b + 1) + 1];
            s_consider (out, &best, f, b, true, G - gr, H - hr, gr, hr, p);
        }
    }
    return 0;
}

int
fl_gbdt_split_check (const fl_gbdt_bins_t *bins, const fl_gbdt_split_t *s, bool node_exists)
{
    if (!bins || !s) {
        zsys_error ("fl_gbdt_split_check: NULL");
        return -1;
    }
    if (!node_exists) {
        zsys_error ("fl_gbdt_split_check: split for a node that is not open in this level");
        return -1;
    }
    if (s->feature == -1)
        return 0;                               /* the node becomes a leaf */
    if (s->feature < 0 || (size_t) s->feature >= bins->d) {
        zsys_error ("fl_gbdt_split_check: feature %d out of range (%zu features)", s->feature, bins->d);
        return -1;
    }
    size_t nb = bins->n_edges[s->feature] + 1;
    if ((s->bin < 1 && !s->default_left) || s->bin > nb) {
        zsys_error ("fl_gbdt_split_check: bin %u of feature %d out of range (1..%zu; 0 only with missing "
                    "values left)", s->bin, s->feature, nb);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
   The model
   ------------------------------------------------------------------------- */

fl_gbdt_param_t
fl_gbdt_param_default (void)
{
    fl_gbdt_param_t p = { .trees = 100, .max_depth = 6, .eta = 0.3, .lambda = 1.0,
                          .min_child_weight = 1.0, .subsample = 1.0, .seed = 0 };
    return p;
}

static fl_gbdt_t *
s_model_new (const fl_gbdt_bins_t *bins, size_t n_classes)
{
    fl_gbdt_t *self = (fl_gbdt_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->bins = s_bins_copy (bins);
    self->n_classes = n_classes;
    self->groups = n_classes > 2 ? n_classes : 1;
    self->tree_offset = (size_t *) calloc (1, sizeof (size_t));
    if (!self->bins || !self->tree_offset)
        fl_gbdt_destroy (&self);
    return self;
}

void
fl_gbdt_destroy (fl_gbdt_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_gbdt_t *self = *self_p;
    fl_gbdt_bins_destroy (&self->bins);
    free (self->tree_offset);
    free (self->nodes);
    free (self);
    *self_p = NULL;
}

size_t
fl_gbdt_tree_count (const fl_gbdt_t *self)
{
    return self ? self->n_trees : 0;
}

size_t
fl_gbdt_classes (const fl_gbdt_t *self)
{
    return self ? self->n_classes : 0;
}

size_t
fl_gbdt_groups (const fl_gbdt_t *self)
{
    return self ? self->groups : 0;
}

const fl_gbdt_node_t *
fl_gbdt_tree (const fl_gbdt_t *self, size_t t, size_t *n_nodes)
{
    if (!self || t >= self->n_trees) {
        if (n_nodes)
            *n_nodes = 0;
        return NULL;
    }
    if (n_nodes)
        *n_nodes = self->tree_offset[t + 1] - self->tree_offset[t];
    return self->nodes + self->tree_offset[t];
}

const fl_gbdt_bins_t *
fl_gbdt_bins (const fl_gbdt_t *self)
{
    return self ? self->bins : NULL;
}

int
fl_gbdt_add_tree (fl_gbdt_t *self, const fl_gbdt_node_t *nodes, size_t n_nodes)
{
    const char *where = "fl_gbdt_add_tree";
    if (!self || !nodes || n_nodes == 0 || n_nodes > (1u << (FL_GBDT_MAX_DEPTH + 1))) {
        zsys_error ("%s: NULL or %zu nodes (1..%u)", where, n_nodes, 1u << (FL_GBDT_MAX_DEPTH + 1));
        return -1;
    }
    if (self->n_trees >= FL_GBDT_MAX_TREES) {
        zsys_error ("%s: the model already has %u trees", where, FL_GBDT_MAX_TREES);
        return -1;
    }
    uint8_t *seen = (uint8_t *) calloc (n_nodes, 1);
    if (!seen) {
        zsys_error ("%s: no memory", where);
        return -1;
    }
    int rc = 0;
    seen[0] = 1;
    for (size_t i = 0; i < n_nodes && rc == 0; i++) {
        const fl_gbdt_node_t *nd = nodes + i;
        if (!seen[i]) {
            zsys_error ("%s: node %zu is not reached from the root", where, i);
            rc = -1;
        }
        else if (nd->feature == -1) {
            if (!isfinite (nd->value)) {
                zsys_error ("%s: leaf %zu has a non-finite value", where, i);
                rc = -1;
            }
        }
        else if (nd->feature < 0 || (size_t) nd->feature >= self->bins->d) {
            zsys_error ("%s: node %zu: feature %d out of range (%zu features)", where, i, nd->feature,
                        self->bins->d);
            rc = -1;
        }
        else if ((nd->bin < 1 && !nd->default_left) || nd->bin > self->bins->n_edges[nd->feature] + 1) {
            zsys_error ("%s: node %zu: bin %u out of range for feature %d", where, i, nd->bin, nd->feature);
            rc = -1;
        }
        else if (nd->left <= (int32_t) i || nd->right <= (int32_t) i || (size_t) nd->left >= n_nodes
                 || (size_t) nd->right >= n_nodes || nd->left == nd->right || seen[nd->left]
                 || seen[nd->right]) {
            zsys_error ("%s: node %zu: children %d, %d are not distinct unvisited nodes after it", where, i,
                        nd->left, nd->right);
            rc = -1;
        }
        else
            seen[nd->left] = seen[nd->right] = 1;
    }
    free (seen);
    if (rc)
        return -1;
    if (self->n_nodes + n_nodes > self->cap_nodes) {
        size_t cap = self->cap_nodes ? self->cap_nodes : 256;
        while (cap < self->n_nodes + n_nodes)
            cap *= 2;
        fl_gbdt_node_t *nn = (fl_gbdt_node_t *) realloc (self->nodes, cap * sizeof *nn);
        if (!nn) {
            zsys_error ("%s: no memory", where);
            return -1;
        }
        self->nodes = nn;
        self->cap_nodes = cap;
    }
    if (self->n_trees + 2 > self->cap_trees) {
        size_t cap = self->cap_trees ? self->cap_trees * 2 : 64;
        size_t *no = (size_t *) realloc (self->tree_offset, cap * sizeof *no);
        if (!no) {
            zsys_error ("%s: no memory", where);
            return -1;
        }
        self->tree_offset = no;
        self->cap_trees = cap;
    }
    memcpy (self->nodes + self->n_nodes, nodes, n_nodes * sizeof *nodes);
    self->n_nodes += n_nodes;
    self->n_trees++;
    self->tree_offset[self->n_trees] = self->n_nodes;
    return 0;
}

static float
s_tree_value (const fl_gbdt_node_t *t, const uint16_t *xr)
{
    size_t i = 0;
    while (t[i].feature >= 0) {
        uint16_t b = xr[t[i].feature];
        bool left = b == FL_GBDT_MISSING_BIN ? t[i].default_left : b <= t[i].bin;
        i = (size_t) (left ? t[i].left : t[i].right);
    }
    return t[i].value;
}

/*  Grows one tree on rows[0..n_rows) (the subsample) and appends it.  Also
    adds its outputs to margin[:, group] for every row of the data set
    (rows outside the subsample are routed by the tree like new data). */
static int
s_grow_tree (fl_gbdt_t *self, const uint16_t *xb, size_t n, const float *grad, const float *hess,
             uint32_t *rows, size_t n_rows, const fl_gbdt_param_t *param, double *margin, size_t group)
{
    size_t d = self->bins->d, stride = self->bins->max_bins + 1;
    size_t max_nodes = ((size_t) 2 << param->max_depth) - 1;
    fl_gbdt_node_t *nodes = (fl_gbdt_node_t *) calloc (max_nodes, sizeof *nodes);
    size_t *begin = (size_t *) calloc (max_nodes, sizeof (size_t));   /* rows of node: rows[begin..end) */
    size_t *end = (size_t *) calloc (max_nodes, sizeof (size_t));
    double *hist = (double *) malloc (d * stride * 2 * sizeof (double));
    uint32_t *tmp = (uint32_t *) malloc ((n_rows ? n_rows : 1) * sizeof (uint32_t));
    int rc = -1;
    if (!nodes || !begin || !end || !hist || !tmp) {
        zsys_error ("fl_gbdt_train: no memory");
        goto done;
    }
    fl_gbdt_split_param_t sp = { .lambda = param->lambda, .min_child_weight = param->min_child_weight };
    size_t n_nodes = 1, level_begin = 0;
    begin[0] = 0;
    end[0] = n_rows;
    for (size_t depth = 0; depth <= param->max_depth; depth++) {
        size_t level_end = n_nodes;
        for (size_t k = level_begin; k < level_end; k++) {
            fl_gbdt_node_t *nd = nodes + k;
            if (fl_gbdt_hist_build (xb, n, d, stride, grad, hess, rows + begin[k], end[k] - begin[k], hist))
                goto done;
            double G = 0, H = 0;
            for (size_t b = 0; b < stride; b++) {
                G += hist[2 * b];
                H += hist[2 * b + 1];
            }
            nd->sum_hess = H;
            fl_gbdt_split_t s = { .feature = -1 };
            if (depth < param->max_depth && fl_gbdt_split_find (self->bins, hist, &sp, &s))
                goto done;
            if (s.feature < 0) {
                nd->feature = -1;
                nd->left = nd->right = -1;
                nd->value = (float) (param->eta * fl_gbdt_leaf_weight (G, H, &sp));
                continue;
            }
            nd->feature = s.feature;
            nd->bin = s.bin;
            nd->default_left = s.default_left;
            nd->gain = s.gain;
            size_t nb = self->bins->n_edges[s.feature] + 1;
            nd->threshold = s.bin == 0    ? -INFINITY
                            : s.bin < nb ? fl_gbdt_bins_edge (self->bins, (size_t) s.feature, s.bin - 1)
                                         : INFINITY;
            nd->left = (int32_t) n_nodes;
            nd->right = (int32_t) n_nodes + 1;
            /* stable partition of the node's rows */
            size_t nl = 0, nr = 0, cnt = end[k] - begin[k];
            uint32_t *r = rows + begin[k];
            for (size_t i = 0; i < cnt; i++) {
                uint16_t b = xb[(size_t) r[i] * d + (size_t) s.feature];
                bool left = b == FL_GBDT_MISSING_BIN ? s.default_left : b <= s.bin;
                if (left)
                    r[nl++] = r[i];
                else
                    tmp[nr++] = r[i];
            }
            memcpy (r + nl, tmp, nr * sizeof (uint32_t));
            begin[n_nodes] = begin[k];
            end[n_nodes] = begin[k] + nl;
            begin[n_nodes + 1] = begin[k] + nl;
            end[n_nodes + 1] = end[k];
            n_nodes += 2;
        }
        level_begin = level_end;
        if (level_begin == n_nodes)
            break;
    }
    if (fl_gbdt_add_tree (self, nodes, n_nodes))
        goto done;
    for (size_t i = 0; i < n; i++)
        margin[i * self->groups + group] += s_tree_value (nodes, xb + i * d);
    rc = 0;
done:
    free (nodes);
    free (begin);
    free (end);
    free (hist);
    free (tmp);
    return rc;
}

static int
s_param_check (const fl_gbdt_param_t *p)
{
    if (!p || p->trees == 0 || p->trees > FL_GBDT_MAX_TREES || p->max_depth == 0
        || p->max_depth > FL_GBDT_MAX_DEPTH || !(p->eta > 0 && p->eta <= 1) || !isfinite (p->lambda)
        || p->lambda < 0 || !isfinite (p->min_child_weight) || p->min_child_weight < 0
        || !(p->subsample > 0 && p->subsample <= 1)) {
        zsys_error ("fl_gbdt_train: bad parameters (need trees 1..%u, max_depth 1..%u, eta in (0, 1], "
                    "lambda >= 0, min_child_weight >= 0, subsample in (0, 1])",
                    FL_GBDT_MAX_TREES, FL_GBDT_MAX_DEPTH);
        return -1;
    }
    return 0;
}

fl_gbdt_t *
fl_gbdt_train (const fl_gbdt_bins_t *bins, const uint16_t *xb, const int32_t *y, size_t n,
               size_t n_classes, const fl_gbdt_param_t *param)
{
    const char *where = "fl_gbdt_train";
    if (!bins || !xb || !y || n == 0 || n > UINT32_MAX || n_classes < 2 || n_classes > FL_GBDT_MAX_CLASSES) {
        zsys_error ("%s: NULL, %zu rows (1..%u) or %zu classes (2..%u)", where, n, UINT32_MAX, n_classes,
                    FL_GBDT_MAX_CLASSES);
        return NULL;
    }
    if (s_param_check (param))
        return NULL;
    size_t d = bins->d;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || (size_t) y[i] >= n_classes) {
            zsys_error ("%s: row %zu: label %d out of range (0..%zu)", where, i, y[i], n_classes - 1);
            return NULL;
        }
        for (size_t f = 0; f < d; f++)
            if (xb[i * d + f] > bins->n_edges[f] + 1) {
                zsys_error ("%s: row %zu feature %zu: bin %u out of range (0..%u)", where, i, f, xb[i * d + f],
                            bins->n_edges[f] + 1);
                return NULL;
            }
    }
    fl_gbdt_t *self = s_model_new (bins, n_classes);
    if (!self) {
        zsys_error ("%s: no memory", where);
        return NULL;
    }
    size_t K = self->groups;
    double *margin = (double *) calloc (n * K, sizeof (double));
    float *grad = (float *) malloc (n * K * sizeof (float));
    float *hess = (float *) malloc (n * K * sizeof (float));
    float *gk = (float *) malloc (n * sizeof (float));
    float *hk = (float *) malloc (n * sizeof (float));
    uint32_t *rows = (uint32_t *) malloc (n * sizeof (uint32_t));
    fl_rng_t *rng = param->subsample < 1 ? fl_rng_new_u64 (param->seed, 0x67626474u /* "gbdt" */) : NULL;
    if (!margin || !grad || !hess || !gk || !hk || !rows || (param->subsample < 1 && !rng)) {
        zsys_error ("%s: no memory", where);
        fl_gbdt_destroy (&self);
        goto done;
    }
    for (size_t t = 0; t < param->trees; t++) {
        /* gradients at the current margin, for every group (XGBoost computes
           them once per round, before the round's K trees) */
        for (size_t i = 0; i < n; i++) {
            if (K == 1) {
                double p = 1.0 / (1.0 + exp (-margin[i]));
                grad[i] = (float) (p - (double) y[i]);
                double h = p * (1 - p);
                hess[i] = (float) (h > FL_GBDT_MIN_HESS ? h : FL_GBDT_MIN_HESS);
            }
            else {
                const double *m = margin + i * K;
                double mx = m[0], z = 0;
                for (size_t k = 1; k < K; k++)
                    mx = m[k] > mx ? m[k] : mx;
                for (size_t k = 0; k < K; k++)
                    z += exp (m[k] - mx);
                for (size_t k = 0; k < K; k++) {
                    double p = exp (m[k] - mx) / z;
                    grad[i * K + k] = (float) (p - ((size_t) y[i] == k ? 1.0 : 0.0));
                    double h = 2.0 * p * (1 - p);
                    hess[i * K + k] = (float) (h > FL_GBDT_MIN_HESS ? h : FL_GBDT_MIN_HESS);
                }
            }
        }
        size_t n_rows = 0;
        for (size_t i = 0; i < n; i++)
            if (!rng || fl_rng_double (rng) < param->subsample)
                rows[n_rows++] = (uint32_t) i;
        for (size_t k = 0; k < K; k++) {
            for (size_t i = 0; i < n; i++) {
                gk[i] = grad[i * K + k];
                hk[i] = hess[i * K + k];
            }
            if (s_grow_tree (self, xb, n, gk, hk, rows, n_rows, param, margin, k)) {
                fl_gbdt_destroy (&self);
                goto done;
            }
            /* s_grow_tree reorders rows within the subsample; the set is unchanged */
        }
    }
done:
    free (margin);
    free (grad);
    free (hess);
    free (gk);
    free (hk);
    free (rows);
    fl_rng_destroy (&rng);
    return self;
}

int
fl_gbdt_predict_margin (const fl_gbdt_t *self, const uint16_t *xb, size_t n, double *out)
{
    if (!self || (n > 0 && (!xb || !out))) {
        zsys_error ("fl_gbdt_predict_margin: NULL");
        return -1;
    }
    size_t d = self->bins->d, K = self->groups;
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < d; f++)
            if (xb[i * d + f] > self->bins->n_edges[f] + 1) {
                zsys_error ("fl_gbdt_predict_margin: row %zu feature %zu: bin %u out of range", i, f,
                            xb[i * d + f]);
                return -1;
            }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < K; k++)
            out[i * K + k] = 0;
        for (size_t t = 0; t < self->n_trees; t++)
            out[i * K + t % K] += s_tree_value (self->nodes + self->tree_offset[t], xb + i * d);
    }
    return 0;
}

int
fl_gbdt_predict_proba (const fl_gbdt_t *self, const float *x, size_t n, size_t d, float *out)
{
    if (!self || (n > 0 && (!x || !out)) || d != self->bins->d) {
        zsys_error ("fl_gbdt_predict_proba: NULL or %zu features (the model has %zu)", d,
                    self ? self->bins->d : 0);
        return -1;
    }
    size_t K = self->groups;
    uint16_t *xb = (uint16_t *) malloc ((n ? n : 1) * d * sizeof (uint16_t));
    double *m = (double *) malloc ((n ? n : 1) * K * sizeof (double));
    int rc = -1;
    if (!xb || !m) {
        zsys_error ("fl_gbdt_predict_proba: no memory");
        goto done;
    }
    if (fl_gbdt_bins_apply (self->bins, x, n, d, xb) || fl_gbdt_predict_margin (self, xb, n, m))
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (K == 1)
            out[i] = (float) (1.0 / (1.0 + exp (-m[i])));
        else {
            double mx = m[i * K], z = 0;
            for (size_t k = 1; k < K; k++)
                mx = m[i * K + k] > mx ? m[i * K + k] : mx;
            for (size_t k = 0; k < K; k++)
                z += exp (m[i * K + k] - mx);
            for (size_t k = 0; k < K; k++)
                out[i * K + k] = (float) (exp (m[i * K + k] - mx) / z);
        }
    }
    rc = 0;
done:
    free (xb);
    free (m);
    return rc;
}
