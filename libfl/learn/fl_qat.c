/*  fl_qat.c - quantisation-aware training, int8 export and integer
    inference (see fl_qat.h for the scheme and its sources).

    The fake-quant path and the integer path share fl_qat_quantize and the
    weight-code computation, so the int8 codes a model trains with are the
    codes it exports: the two paths differ only in float vs integer
    accumulation and in rounding the bias to int32, which is what the
    agreement test (tests/test_qat.c) measures.
*/
#include "fl_qat.h"
#include "fl_atomic.h"
#include "fl_layers.h"
#include "fl_model.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_WIDTH 65536u

/* ==== element-wise ========================================================== */

void
fl_qat_affine_from_range (fl_qat_affine_t *qp, float min, float max)
{
    assert (qp);
    double a = min < 0 ? min : 0, b = max > 0 ? max : 0;   /* contain 0 */
    if (!(b - a >= 1e-6))
        b = a + 1e-6;
    double s = (b - a) / (double) (FL_QAT_QMAX - FL_QAT_QMIN);
    double zr = (double) FL_QAT_QMIN - a / s;
    long z = lround (zr);
    if (z < FL_QAT_QMIN)
        z = FL_QAT_QMIN;
    if (z > FL_QAT_QMAX)
        z = FL_QAT_QMAX;
    qp->scale = (float) s;
    qp->zero_point = (int32_t) z;
    qp->lo = (float) (FL_QAT_QMIN - z) * qp->scale;
    qp->hi = (float) (FL_QAT_QMAX - z) * qp->scale;
}

int32_t
fl_qat_quantize (float x, const fl_qat_affine_t *qp)
{
    float v = roundf (x / qp->scale) + (float) qp->zero_point;
    if (!(v >= (float) FL_QAT_QMIN))     /* also maps NaN to the bottom code */
        return FL_QAT_QMIN;
    if (v > (float) FL_QAT_QMAX)
        return FL_QAT_QMAX;
    return (int32_t) v;
}

void
fl_qat_fake_quant_forward (float *out, const float *inp, size_t n, const fl_qat_affine_t *qp)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float) (fl_qat_quantize (inp[i], qp) - qp->zero_point) * qp->scale;
}

void
fl_qat_fake_quant_backward (float *dinp, const float *dout, const float *inp, size_t n,
                            const fl_qat_affine_t *qp)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] = inp[i] >= qp->lo && inp[i] <= qp->hi ? dout[i] : 0.0f;
}

void
fl_qat_weight_scales (float *scales, const float *w, size_t rows, size_t cols, uint32_t mode)
{
    float all = 0;
    for (size_t r = 0; r < rows; r++) {
        float m = 0;
        for (size_t c = 0; c < cols; c++) {
            float a = fabsf (w[r * cols + c]);
            if (a > m)
                m = a;
        }
        scales[r] = m > 0 ? m / (float) FL_QAT_WMAX : 1.0f;
        if (m > all)
            all = m;
    }
    if (mode == FL_MODEL_QAT_PER_TENSOR)
        for (size_t r = 0; r < rows; r++)
            scales[r] = all > 0 ? all / (float) FL_QAT_WMAX : 1.0f;
}

void
fl_qat_fake_quant_weight (float *wq, int8_t *q, const float *w, const float *scales, size_t rows,
                          size_t cols)
{
    for (size_t r = 0; r < rows; r++) {
        float s = scales[r];
        for (size_t c = 0; c < cols; c++) {
            float v = roundf (w[r * cols + c] / s);     /* divide, not * (1/s): exact codes */
            if (v > (float) FL_QAT_WMAX)
                v = (float) FL_QAT_WMAX;
            if (v < (float) -FL_QAT_WMAX)
                v = (float) -FL_QAT_WMAX;
            if (q)
                q[r * cols + c] = (int8_t) v;
            wq[r * cols + c] = v * s;
        }
    }
}

/* ==== the QAT stack ============================================================ */

typedef struct {
    float min, max;        /* running range */
    int have;              /* observed at least once */
    float bmin, bmax;      /* last forward's batch range */
    fl_qat_affine_t qp;    /* parameters the last forward used */
} s_obs_t;

struct fl_qat_stack_t {
    size_t L;
    size_t width[FL_QAT_MAX_LAYERS + 1];
    size_t max_width;
    uint32_t mode;
    int ran;                               /* a forward has run */
    s_obs_t obs[FL_QAT_MAX_LAYERS];        /* input of layer l */
    float *scales[FL_QAT_MAX_LAYERS];      /* (width[l+1]) */
    float *wq[FL_QAT_MAX_LAYERS];          /* (width[l+1], width[l]) fake-quantised weights */
    size_t cap;
    float *xin[FL_QAT_MAX_LAYERS];         /* (cap, width[l]) fake-quantised input of layer l */
    float *raw[FL_QAT_MAX_LAYERS];         /* (cap, width[l+1]) post-ReLU, pre-quant, hidden l */
    float *scratch[2];                     /* (cap, max_width) */
};

fl_qat_stack_t *
fl_qat_stack_new (const size_t *width, size_t n_layers, uint32_t mode)
{
    if (n_layers == 0 || n_layers > FL_QAT_MAX_LAYERS) {
        zsys_error ("fl_qat: %zu dense layers, must be 1..%u", n_layers, FL_QAT_MAX_LAYERS);
        return NULL;
    }
    if (mode != FL_MODEL_QAT_PER_TENSOR && mode != FL_MODEL_QAT_PER_CHANNEL) {
        zsys_error ("fl_qat: mode %u is neither per tensor (1) nor per channel (2)", (unsigned) mode);
        return NULL;
    }
    for (size_t l = 0; l <= n_layers; l++)
        if (width[l] == 0 || width[l] > S_MAX_WIDTH) {
            zsys_error ("fl_qat: width %zu of layer %zu not in 1..%u", width[l], l, S_MAX_WIDTH);
            return NULL;
        }
    fl_qat_stack_t *self = (fl_qat_stack_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->L = n_layers;
    self->mode = mode;
    for (size_t l = 0; l <= n_layers; l++) {
        self->width[l] = width[l];
        if (width[l] > self->max_width)
            self->max_width = width[l];
    }
    for (size_t l = 0; l < n_layers; l++) {
        self->scales[l] = (float *) malloc (width[l + 1] * sizeof (float));
        self->wq[l] = (float *) malloc (width[l + 1] * width[l] * sizeof (float));
        if (!self->scales[l] || !self->wq[l]) {
            fl_qat_stack_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
fl_qat_stack_destroy (fl_qat_stack_t **self_p)
{
    assert (self_p);
    fl_qat_stack_t *self = *self_p;
    if (!self)
        return;
    for (size_t l = 0; l < FL_QAT_MAX_LAYERS; l++) {
        free (self->scales[l]);
        free (self->wq[l]);
        free (self->xin[l]);
        free (self->raw[l]);
    }
    free (self->scratch[0]);
    free (self->scratch[1]);
    free (self);
    *self_p = NULL;
}

static int
s_reserve (fl_qat_stack_t *self, size_t n)
{
    if (n <= self->cap)
        return 0;
    size_t cap = self->cap * 2 > n ? self->cap * 2 : n;
    if (cap > SIZE_MAX / sizeof (float) / self->max_width)
        return -1;
    for (size_t l = 0; l < self->L; l++) {
        float *p = (float *) realloc (self->xin[l], cap * self->width[l] * sizeof (float));
        if (!p)
            return -1;
        self->xin[l] = p;
        if (l + 1 < self->L) {
            p = (float *) realloc (self->raw[l], cap * self->width[l + 1] * sizeof (float));
            if (!p)
                return -1;
            self->raw[l] = p;
        }
    }
    for (int k = 0; k < 2; k++) {
        float *p = (float *) realloc (self->scratch[k], cap * self->max_width * sizeof (float));
        if (!p)
            return -1;
        self->scratch[k] = p;
    }
    self->cap = cap;
    return 0;
}

static void
s_minmax (const float *x, size_t n, float *mn, float *mx)
{
    float a = x[0], b = x[0];
    for (size_t i = 1; i < n; i++) {
        if (x[i] < a)
            a = x[i];
        if (x[i] > b)
            b = x[i];
    }
    *mn = a;
    *mx = b;
}

int
fl_qat_stack_forward (fl_qat_stack_t *self, float *const *w, float *const *b, const float *x,
                      size_t n, float *logits)
{
    assert (self && w && b && x && logits && n >= 1);
    if (s_reserve (self, n) != 0) {
        zsys_error ("fl_qat: out of memory for a batch of %zu", n);
        return -1;
    }
    const float *in = x;
    for (size_t l = 0; l < self->L; l++) {
        size_t C = self->width[l], OC = self->width[l + 1];
        s_obs_t *o = &self->obs[l];
        s_minmax (in, n * C, &o->bmin, &o->bmax);
        if (!o->have) {
            o->min = o->bmin;
            o->max = o->bmax;
            o->have = 1;
        }
        fl_qat_affine_from_range (&o->qp, o->min, o->max);
        fl_qat_fake_quant_forward (self->xin[l], in, n * C, &o->qp);
        fl_qat_weight_scales (self->scales[l], w[l], OC, C, self->mode);
        fl_qat_fake_quant_weight (self->wq[l], NULL, w[l], self->scales[l], OC, C);
        int last = l + 1 == self->L;
        float *out = last ? logits : self->raw[l];          // (n, OC)
        fl_dense_forward (out, self->xin[l], self->wq[l], b[l], n, C, OC);
        if (!last)
            fl_relu_forward (out, out, n * OC);
        in = out;
    }
    self->ran = 1;
    return 0;
}

void
fl_qat_stack_backward (fl_qat_stack_t *self, float *const *w, float *const *dw,
                       float *const *db, const float *x, size_t n, const float *dlogits)
{
    assert (self && self->ran && n <= self->cap);
    (void) w;        /* the forward's fake-quantised copies are what the chain rule needs */
    (void) x;        /* layer 0's input gradient is not needed */
    const float *dout = dlogits;
    int ping = 0;
    for (size_t l = self->L; l-- > 0;) {
        size_t C = self->width[l], OC = self->width[l + 1];
        float *dinp = l == 0 ? NULL : self->scratch[ping];
        /* STE for the weights: dL/dw = dL/dw_hat (nothing is clamped) */
        fl_dense_backward (dinp, dw[l], db[l], dout, self->xin[l], self->wq[l], n, C, OC);
        if (dinp) {
            /* dL/draw = dL/dxin * [lo <= raw <= hi] (clipped STE), then ReLU */
            fl_qat_fake_quant_backward (dinp, dinp, self->raw[l - 1], n * C, &self->obs[l].qp);
            fl_relu_backward (dinp, dinp, self->raw[l - 1], n * C);
            dout = dinp;
            ping ^= 1;
        }
    }
    /* training step done: move the running ranges (Jacob et al. §3.1) */
    const double d = FL_QAT_EMA_DECAY;
    for (size_t l = 0; l < self->L; l++) {
        s_obs_t *o = &self->obs[l];
        o->min = (float) (d * o->min + (1 - d) * o->bmin);
        o->max = (float) (d * o->max + (1 - d) * o->bmax);
    }
}

int
fl_qat_stack_input_qparams (const fl_qat_stack_t *self, size_t l, fl_qat_affine_t *out)
{
    assert (self && out);
    if (l >= self->L || !self->ran)
        return -1;
    *out = self->obs[l].qp;
    return 0;
}

int
fl_qat_stack_range (const fl_qat_stack_t *self, size_t l, float *min, float *max)
{
    assert (self && min && max);
    if (l >= self->L || !self->obs[l].have)
        return -1;
    *min = self->obs[l].min;
    *max = self->obs[l].max;
    return 0;
}

/* ==== int8 model ================================================================ */

typedef struct {
    size_t R, C;
    fl_qat_affine_t in;        /* input (s, z) */
    float *w_scale;            /* (R) */
    int32_t *bias;             /* (R) */
    int8_t *w;                 /* (R, C) */
    /* derived at build / load time */
    int32_t *wsum;             /* (R) sum_k w[r][k] */
    int32_t *m0;               /* (R) requantisation multiplier (hidden layers) */
    int32_t *shift;            /* (R) total right shift 1..62 */
    double *deq;               /* (R) s_in * s_w (last layer) */
} s_layer_t;

struct fl_qat_int8_t {
    uint32_t mode;
    size_t L;
    size_t width[FL_QAT_MAX_LAYERS + 1];
    s_layer_t layer[FL_QAT_MAX_LAYERS];
};

void
fl_qat_int8_destroy (fl_qat_int8_t **self_p)
{
    assert (self_p);
    fl_qat_int8_t *self = *self_p;
    if (!self)
        return;
    for (size_t l = 0; l < FL_QAT_MAX_LAYERS; l++) {
        s_layer_t *y = &self->layer[l];
        free (y->w_scale);
        free (y->bias);
        free (y->w);
        free (y->wsum);
        free (y->m0);
        free (y->shift);
        free (y->deq);
    }
    free (self);
    *self_p = NULL;
}

static fl_qat_int8_t *
s_int8_alloc (uint32_t mode, size_t L, const size_t *width)
{
    fl_qat_int8_t *self = (fl_qat_int8_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->mode = mode;
    self->L = L;
    memcpy (self->width, width, (L + 1) * sizeof width[0]);
    for (size_t l = 0; l < L; l++) {
        s_layer_t *y = &self->layer[l];
        y->R = width[l + 1];
        y->C = width[l];
        y->w_scale = (float *) calloc (y->R, sizeof (float));
        y->bias = (int32_t *) calloc (y->R, sizeof (int32_t));
        y->w = (int8_t *) calloc (y->R * y->C, 1);
        y->wsum = (int32_t *) calloc (y->R, sizeof (int32_t));
        y->m0 = (int32_t *) calloc (y->R, sizeof (int32_t));
        y->shift = (int32_t *) calloc (y->R, sizeof (int32_t));
        y->deq = (double *) calloc (y->R, sizeof (double));
        if (!y->w_scale || !y->bias || !y->w || !y->wsum || !y->m0 || !y->shift || !y->deq) {
            fl_qat_int8_destroy (&self);
            return NULL;
        }
    }
    return self;
}

/*  Derived quantities: row sums of the weights, and for hidden layers the
    fixed-point form of M = s_in s_w / s_out: M = f 2^e with f in [0.5, 1)
    (frexp), M0 = round(f 2^31) in [2^30, 2^31], k = 31 - e, so
    M = M0 2^-k.  Refuses k outside 1..62 (M outside ~[2^-31, 2^30]). */
static int
s_int8_derive (fl_qat_int8_t *self)
{
    for (size_t l = 0; l < self->L; l++) {
        s_layer_t *y = &self->layer[l];
        int last = l + 1 == self->L;
        for (size_t r = 0; r < y->R; r++) {
            int32_t s = 0;
            for (size_t c = 0; c < y->C; c++)
                s += y->w[r * y->C + c];
            y->wsum[r] = s;
            double in_w = (double) y->in.scale * (double) y->w_scale[r];
            y->deq[r] = in_w;
            if (last)
                continue;
            double M = in_w / (double) self->layer[l + 1].in.scale;
            int e;
            double f = frexp (M, &e);
            long long m0 = llround (f * 2147483648.0);
            if (m0 == 2147483648LL) {
                m0 /= 2;
                e++;
            }
            int k = 31 - e;
            if (!(M > 0) || k < 1 || k > 62) {
                zsys_error ("fl_qat: layer %zu row %zu: requantisation scale %g out of range", l,
                            r, M);
                return -1;
            }
            y->m0[r] = (int32_t) m0;
            y->shift[r] = k;
        }
    }
    return 0;
}

fl_qat_int8_t *
fl_qat_int8_from_stack (const fl_qat_stack_t *stack, float *const *w, float *const *b)
{
    assert (stack && w && b);
    for (size_t l = 0; l < stack->L; l++)
        if (!stack->obs[l].have) {
            zsys_error ("fl_qat: cannot export: the input range of layer %zu was never observed "
                        "(run a forward pass on representative data first)", l);
            return NULL;
        }
    fl_qat_int8_t *self = s_int8_alloc (stack->mode, stack->L, stack->width);
    if (!self)
        return NULL;
    float *wq = NULL;
    for (size_t l = 0; l < stack->L; l++) {
        s_layer_t *y = &self->layer[l];
        fl_qat_affine_from_range (&y->in, stack->obs[l].min, stack->obs[l].max);
        fl_qat_weight_scales (y->w_scale, w[l], y->R, y->C, stack->mode);
        free (wq);
        wq = (float *) malloc (y->R * y->C * sizeof (float));
        if (!wq) {
            fl_qat_int8_destroy (&self);
            return NULL;
        }
        fl_qat_fake_quant_weight (wq, y->w, w[l], y->w_scale, y->R, y->C);
        for (size_t r = 0; r < y->R; r++) {
            double q = round ((double) b[l][r] / ((double) y->in.scale * (double) y->w_scale[r]));
            if (q > 2147483647.0)
                q = 2147483647.0;
            if (q < -2147483648.0)
                q = -2147483648.0;
            y->bias[r] = (int32_t) q;
        }
    }
    free (wq);
    if (s_int8_derive (self) != 0)
        fl_qat_int8_destroy (&self);
    return self;
}

size_t
fl_qat_int8_num_inputs (const fl_qat_int8_t *self)
{
    assert (self);
    return self->width[0];
}

size_t
fl_qat_int8_num_outputs (const fl_qat_int8_t *self)
{
    assert (self);
    return self->width[self->L];
}

size_t
fl_qat_int8_num_layers (const fl_qat_int8_t *self)
{
    assert (self);
    return self->L;
}

/* Bytes of the file for L layers of the given widths (no overflow: widths
   <= 65536 and L <= 9 keep every term far below 2^63). */
static size_t
s_file_bytes (size_t L, const size_t *width)
{
    size_t n = 16 + 4 * (L + 1) + FL_QAT_CHECKSUMBYTES;
    for (size_t l = 0; l < L; l++)
        n += 8 + 8 * width[l + 1] + width[l + 1] * width[l];
    return n;
}

size_t
fl_qat_int8_file_bytes (const fl_qat_int8_t *self)
{
    assert (self);
    return s_file_bytes (self->L, self->width);
}

/* --- little-endian byte writer / reader --- */

static void
s_put_u32 (uint8_t **p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        (*p)[i] = (uint8_t) (v >> (8 * i));
    *p += 4;
}

static void
s_put_f32 (uint8_t **p, float f)
{
    uint32_t v;
    memcpy (&v, &f, 4);
    s_put_u32 (p, v);
}

static uint32_t
s_get_u32 (const uint8_t **p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t) (*p)[i] << (8 * i);
    *p += 4;
    return v;
}

static float
s_get_f32 (const uint8_t **p)
{
    uint32_t v = s_get_u32 (p);
    float f;
    memcpy (&f, &v, 4);
    return f;
}

int
fl_qat_int8_save (const fl_qat_int8_t *self, const char *path)
{
    assert (self && path);
    size_t total = fl_qat_int8_file_bytes (self);
    uint8_t *buf = (uint8_t *) malloc (total);
    if (!buf)
        return -1;
    uint8_t *p = buf;
    memcpy (p, "FLQ8", 4);
    p += 4;
    s_put_u32 (&p, FL_QAT_FILE_VERSION);
    s_put_u32 (&p, self->mode);
    s_put_u32 (&p, (uint32_t) self->L);
    for (size_t l = 0; l <= self->L; l++)
        s_put_u32 (&p, (uint32_t) self->width[l]);
    for (size_t l = 0; l < self->L; l++) {
        const s_layer_t *y = &self->layer[l];
        s_put_f32 (&p, y->in.scale);
        s_put_u32 (&p, (uint32_t) y->in.zero_point);
        for (size_t r = 0; r < y->R; r++)
            s_put_f32 (&p, y->w_scale[r]);
        for (size_t r = 0; r < y->R; r++)
            s_put_u32 (&p, (uint32_t) y->bias[r]);
        memcpy (p, y->w, y->R * y->C);
        p += y->R * y->C;
    }
    crypto_generichash (p, FL_QAT_CHECKSUMBYTES, buf, (size_t) (p - buf), NULL, 0);
    p += FL_QAT_CHECKSUMBYTES;
    assert ((size_t) (p - buf) == total);

    int rc = fl_atomic_write (path, buf, total, 0644);
    if (rc != 0)
        zsys_error ("fl_qat: cannot write %s: %s", path, strerror (errno));
    free (buf);
    return rc;
}

fl_qat_int8_t *
fl_qat_int8_load (const char *path)
{
    assert (path);
    FILE *f = fopen (path, "rb");
    if (!f) {
        zsys_error ("fl_qat: cannot open %s: %s", path, strerror (errno));
        return NULL;
    }
    fl_qat_int8_t *self = NULL;
    uint8_t *buf = NULL;
    const char *why = NULL;
    uint8_t head[16 + 4 * (FL_QAT_MAX_LAYERS + 1)];
    if (fread (head, 1, 16, f) != 16) {
        why = "shorter than its header";
        goto fail;
    }
    const uint8_t *p = head + 4;
    if (memcmp (head, "FLQ8", 4) != 0) {
        why = "not an int8 model (bad magic)";
        goto fail;
    }
    uint32_t version = s_get_u32 (&p), mode = s_get_u32 (&p), L = s_get_u32 (&p);
    if (version != FL_QAT_FILE_VERSION) {
        why = "unsupported format version";
        goto fail;
    }
    if (mode != FL_MODEL_QAT_PER_TENSOR && mode != FL_MODEL_QAT_PER_CHANNEL) {
        why = "unknown quantisation mode";
        goto fail;
    }
    if (L == 0 || L > FL_QAT_MAX_LAYERS) {
        why = "layer count out of range";
        goto fail;
    }
    if (fread (head + 16, 4, L + 1, f) != L + 1) {
        why = "truncated header";
        goto fail;
    }
    size_t width[FL_QAT_MAX_LAYERS + 1];
    size_t params = 0;
    for (size_t l = 0; l <= L; l++) {
        width[l] = s_get_u32 (&p);
        if (width[l] == 0 || width[l] > S_MAX_WIDTH) {
            why = "a layer width is out of range";
            goto fail;
        }
        if (l > 0)
            params += width[l] * width[l - 1];
    }
    if (params > FL_MODEL_MAX_PARAMS) {
        why = "too many weights";
        goto fail;
    }
    size_t total = s_file_bytes (L, width);
    if (fseek (f, 0, SEEK_END) != 0 || ftell (f) < 0 || (size_t) ftell (f) != total) {
        why = "file length does not match its header";
        goto fail;
    }
    buf = (uint8_t *) malloc (total);
    if (!buf || fseek (f, 0, SEEK_SET) != 0 || fread (buf, 1, total, f) != total) {
        why = "cannot read";
        goto fail;
    }
    uint8_t sum[FL_QAT_CHECKSUMBYTES];
    crypto_generichash (sum, sizeof sum, buf, total - FL_QAT_CHECKSUMBYTES, NULL, 0);
    if (sodium_memcmp (sum, buf + total - FL_QAT_CHECKSUMBYTES, sizeof sum) != 0) {
        why = "checksum mismatch (damaged or edited)";
        goto fail;
    }
    self = s_int8_alloc (mode, L, width);
    if (!self) {
        why = "out of memory";
        goto fail;
    }
    p = buf + 16 + 4 * (L + 1);
    for (size_t l = 0; l < L; l++) {
        s_layer_t *y = &self->layer[l];
        float s = s_get_f32 (&p);
        int32_t z = (int32_t) s_get_u32 (&p);
        if (!isfinite (s) || !(s > 0) || z < FL_QAT_QMIN || z > FL_QAT_QMAX) {
            why = "invalid input scale or zero point";
            goto fail;
        }
        y->in.scale = s;
        y->in.zero_point = z;
        y->in.lo = (float) (FL_QAT_QMIN - z) * s;
        y->in.hi = (float) (FL_QAT_QMAX - z) * s;
        for (size_t r = 0; r < y->R; r++) {
            y->w_scale[r] = s_get_f32 (&p);
            if (!isfinite (y->w_scale[r]) || !(y->w_scale[r] > 0)) {
                why = "invalid weight scale";
                goto fail;
            }
        }
        for (size_t r = 0; r < y->R; r++)
            y->bias[r] = (int32_t) s_get_u32 (&p);
        memcpy (y->w, p, y->R * y->C);
        p += y->R * y->C;
        for (size_t i = 0; i < y->R * y->C; i++)
            if (y->w[i] < -FL_QAT_WMAX) {
                why = "weight code -128 (outside the symmetric range)";
                goto fail;
            }
    }
    if (s_int8_derive (self) != 0) {
        why = "scales out of the requantisation range";
        goto fail;
    }
    free (buf);
    fclose (f);
    return self;
fail:
    zsys_error ("fl_qat: %s: %s", path, why);
    fl_qat_int8_destroy (&self);
    free (buf);
    fclose (f);
    return NULL;
}

/* round(v / 2^k), half away from zero, for 1 <= k <= 62 */
static int64_t
s_rounding_shift (int64_t v, int k)
{
    int64_t half = (int64_t) 1 << (k - 1);
    return v >= 0 ? (v + half) >> k : -((-v + half) >> k);
}

int
fl_qat_int8_predict (const fl_qat_int8_t *self, const float *x, size_t n, float *logits)
{
    assert (self && (x || n == 0) && (logits || n == 0));
    size_t maxw = 0;
    for (size_t l = 0; l <= self->L; l++)
        if (self->width[l] > maxw)
            maxw = self->width[l];
    int8_t *a = (int8_t *) malloc (maxw), *bq = (int8_t *) malloc (maxw);
    if (!a || !bq) {
        free (a);
        free (bq);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const s_layer_t *y0 = &self->layer[0];
        for (size_t c = 0; c < y0->C; c++)
            a[c] = (int8_t) fl_qat_quantize (x[i * y0->C + c], &y0->in);
        for (size_t l = 0; l < self->L; l++) {
            const s_layer_t *y = &self->layer[l];
            int last = l + 1 == self->L;
            for (size_t r = 0; r < y->R; r++) {
                const int8_t *wr = y->w + r * y->C;
                int32_t dot = 0;                    /* exact: |dot| <= 128 * 127 * 65536 */
                for (size_t c = 0; c < y->C; c++)
                    dot += (int32_t) a[c] * (int32_t) wr[c];
                int64_t acc = (int64_t) dot - (int64_t) y->in.zero_point * y->wsum[r] + y->bias[r];
                if (acc > INT32_MAX)
                    acc = INT32_MAX;
                if (acc < INT32_MIN)
                    acc = INT32_MIN;
                if (last) {
                    logits[i * y->R + r] = (float) ((double) acc * y->deq[r]);
                    continue;
                }
                const fl_qat_affine_t *out = &self->layer[l + 1].in;
                int64_t q = s_rounding_shift (acc * (int64_t) y->m0[r], y->shift[r]) + out->zero_point;
                if (q < out->zero_point)         /* ReLU: real 0 is the code z_out */
                    q = out->zero_point;
                if (q > FL_QAT_QMAX)
                    q = FL_QAT_QMAX;
                bq[r] = (int8_t) q;
            }
            if (!last) {
                int8_t *t = a;
                a = bq;
                bq = t;
            }
        }
    }
    free (a);
    free (bq);
    return 0;
}
