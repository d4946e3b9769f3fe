/*  fl_stats - per-client sufficient statistics (count, sum, sum of squares)
    for federated standardisation; see fl_stats.h for the protocol and the
    numerical caveats.
*/
#include "fl_stats.h"
#include "fl_dataset_priv.h"

#include <czmq.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fl_stats_t {
    size_t d;
    uint64_t count;
    double *sum;        /* (d) */
    double *sumsq;      /* (d) */
};

fl_stats_t *
fl_stats_new (size_t d)
{
    if (d == 0 || d > FL_STATS_MAX_DIM) {
        zsys_error ("fl_stats_new: dimension %zu not in [1, %u]", d, FL_STATS_MAX_DIM);
        return NULL;
    }
    fl_stats_t *self = (fl_stats_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->d = d;
    self->sum = (double *) calloc (d, sizeof (double));
    self->sumsq = (double *) calloc (d, sizeof (double));
    if (!self->sum || !self->sumsq) {
        zsys_error ("fl_stats_new: out of memory");
        fl_stats_destroy (&self);
    }
    return self;
}

fl_stats_t *
fl_stats_from_arrays (size_t d, uint64_t count, const double *sum, const double *sumsq)
{
    if (!sum || !sumsq) {
        zsys_error ("fl_stats_from_arrays: missing arrays");
        return NULL;
    }
    for (size_t j = 0; j < d && j < FL_STATS_MAX_DIM; j++)
        if (!isfinite (sum[j]) || !isfinite (sumsq[j]) || sumsq[j] < 0
            || (count == 0 && (sum[j] != 0 || sumsq[j] != 0))) {
            zsys_error ("fl_stats_from_arrays: feature %zu: sum %g, sumsq %g invalid for count %llu",
                        j, sum[j], sumsq[j], (unsigned long long) count);
            return NULL;
        }
    fl_stats_t *self = fl_stats_new (d);
    if (!self)
        return NULL;
    self->count = count;
    memcpy (self->sum, sum, d * sizeof (double));
    memcpy (self->sumsq, sumsq, d * sizeof (double));
    return self;
}

void
fl_stats_destroy (fl_stats_t **self_p)
{
    assert (self_p);
    fl_stats_t *self = *self_p;
    if (!self)
        return;
    free (self->sum);
    free (self->sumsq);
    free (self);
    *self_p = NULL;
}

int
fl_stats_accumulate (fl_stats_t *self, const fl_dataset_t *ds)
{
    assert (self && ds);
    if (ds->d != self->d) {
        zsys_error ("fl_stats_accumulate: data set has %zu features, statistics %zu", ds->d,
                    self->d);
        return -1;
    }
    for (size_t i = 0; i < ds->n; i++) {
        const float *row = ds->x + i * ds->d;
        for (size_t j = 0; j < ds->d; j++) {
            double v = row[j];
            self->sum[j] += v;
            self->sumsq[j] += v * v;
        }
    }
    self->count += ds->n;
    return 0;
}

int
fl_stats_merge (fl_stats_t *acc, const fl_stats_t *add)
{
    assert (acc && add);
    if (acc->d != add->d) {
        zsys_error ("fl_stats_merge: dimensions differ (%zu vs %zu)", acc->d, add->d);
        return -1;
    }
    if (acc->count > UINT64_MAX - add->count) {
        zsys_error ("fl_stats_merge: count overflow");
        return -1;
    }
    acc->count += add->count;
    for (size_t j = 0; j < acc->d; j++) {
        acc->sum[j] += add->sum[j];
        acc->sumsq[j] += add->sumsq[j];
    }
    return 0;
}

int
fl_stats_finalize (const fl_stats_t *self, float *mean, float *std)
{
    assert (self && mean && std);
    if (self->count == 0) {
        zsys_error ("fl_stats_finalize: no rows");
        return -1;
    }
    double n = (double) self->count;
    for (size_t j = 0; j < self->d; j++) {
        double m = self->sum[j] / n;
        double var = self->sumsq[j] / n - m * m;
        if (!(var > 0))                 /* cancellation can make it slightly < 0 */
            var = 0;
        if (!isfinite (m) || fabs (m) > FLT_MAX || !isfinite (var) || sqrt (var) > FLT_MAX) {
            zsys_error ("fl_stats_finalize: feature %zu: mean %g, variance %g out of range", j,
                        m, var);
            return -1;
        }
    }
    for (size_t j = 0; j < self->d; j++) {
        double m = self->sum[j] / n;
        double var = self->sumsq[j] / n - m * m;
        double s = var > 0 ? sqrt (var) : 0;
        mean[j] = (float) m;
        std[j] = s < FL_STATS_STD_FLOOR ? 1.0f : (float) s;
        if (std[j] == 0.0f)             /* a std in [1e-12, float's min subnormal) */
            std[j] = 1.0f;
    }
    return 0;
}

size_t fl_stats_dim (const fl_stats_t *self) { assert (self); return self->d; }
uint64_t fl_stats_count (const fl_stats_t *self) { assert (self); return self->count; }
const double *fl_stats_sum (const fl_stats_t *self) { assert (self); return self->sum; }
const double *fl_stats_sumsq (const fl_stats_t *self) { assert (self); return self->sumsq; }

/* ---- fixed-point encoding for secure aggregation (see fl_stats.h) ------------ */

int
fl_stats_fixed_encode (const double *v, size_t n, uint32_t *out)
{
    double limit = ldexp (1.0, FL_STATS_FIXED_MAX_BITS);
    for (size_t i = 0; i < n; i++)
        if (!isfinite (v[i]) || !(fabs (v[i]) < limit)) {
            zsys_error ("fl_stats: value %zu (%g) cannot be encoded: not finite or |v| >= 2^%d, so a bucket's "
                        "sum could overflow", i, v[i], FL_STATS_FIXED_MAX_BITS);
            return -1;
        }
    for (size_t i = 0; i < n; i++) {
        /* |q| < 2^111: split into two 64-bit halves exactly (a - hi 2^64 is
           exact: its bits are a subset of a's), then negate in two's complement */
        double a = nearbyint (ldexp (fabs (v[i]), FL_STATS_FIXED_FRAC_BITS));
        double hd = floor (ldexp (a, -64));
        uint64_t hi = (uint64_t) hd, lo = (uint64_t) (a - ldexp (hd, 64));
        if (v[i] < 0) {
            lo = ~lo + 1;
            hi = ~hi + (lo == 0);
        }
        uint32_t *o = out + i * FL_STATS_FIXED_LIMBS;
        for (unsigned k = 0; k < 4; k++) {
            o[k] = (uint32_t) ((lo >> (16 * k)) & 0xffffu);
            o[4 + k] = (uint32_t) ((hi >> (16 * k)) & 0xffffu);
        }
    }
    return 0;
}

int
fl_stats_fixed_decode (const uint32_t *sum, size_t n, uint32_t summands, double *out)
{
    if (summands == 0 || summands > FL_STATS_FIXED_MAX_SUMMANDS) {
        zsys_error ("fl_stats: %u summands: the encoding sums 1..%u values", summands, FL_STATS_FIXED_MAX_SUMMANDS);
        return -1;
    }
    uint64_t limb_max = (uint64_t) summands * 0xffffu;
    /* the largest honest |sum of q|: summands * 2^(MAX_BITS + FRAC_BITS) */
    double mag_max = (double) summands * ldexp (1.0, FL_STATS_FIXED_MAX_BITS + FL_STATS_FIXED_FRAC_BITS);
    for (size_t i = 0; i < n; i++) {
        const uint32_t *s = sum + i * FL_STATS_FIXED_LIMBS;
        uint64_t carry = 0, lo = 0, hi = 0;
        for (unsigned k = 0; k < FL_STATS_FIXED_LIMBS; k++) {
            if (s[k] > limb_max) {
                zsys_error ("fl_stats: value %zu limb %u: %u exceeds what %u summands can reach (tampered)", i, k,
                            s[k], summands);
                return -1;
            }
            uint64_t t = (uint64_t) s[k] + carry;
            uint64_t digit = t & 0xffffu;
            carry = t >> 16;
            if (k < 4)
                lo |= digit << (16 * k);
            else
                hi |= digit << (16 * (k - 4));
        }
        int neg = (int) (hi >> 63);
        if (neg) {
            lo = ~lo + 1;
            hi = ~hi + (lo == 0);
        }
        double mag = ldexp ((double) hi, 64) + (double) lo;
        if (!(mag <= mag_max)) {
            zsys_error ("fl_stats: value %zu: magnitude 2^%.1f is beyond what %u summands can reach (wrapped or "
                        "tampered)", i, log2 (mag), summands);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {          /* second pass: write only when all are valid */
        const uint32_t *s = sum + i * FL_STATS_FIXED_LIMBS;
        uint64_t carry = 0, lo = 0, hi = 0;
        for (unsigned k = 0; k < FL_STATS_FIXED_LIMBS; k++) {
            uint64_t t = (uint64_t) s[k] + carry;
            carry = t >> 16;
            if (k < 4)
                lo |= (t & 0xffffu) << (16 * k);
            else
                hi |= (t & 0xffffu) << (16 * (k - 4));
        }
        int neg = (int) (hi >> 63);
        if (neg) {
            lo = ~lo + 1;
            hi = ~hi + (lo == 0);
        }
        double mag = ldexp ((double) hi, 64) + (double) lo;
        out[i] = ldexp (neg ? -mag : mag, -FL_STATS_FIXED_FRAC_BITS);
    }
    return 0;
}

size_t
fl_stats_fixed_len (size_t d)
{
    return (1 + 2 * d) * FL_STATS_FIXED_LIMBS;
}

int
fl_stats_to_fixed (const fl_stats_t *self, uint32_t *out)
{
    size_t d = self->d;
    double *v = (double *) malloc ((1 + 2 * d) * sizeof (double));
    if (!v)
        return -1;
    v[0] = (double) self->count;
    memcpy (v + 1, self->sum, d * sizeof (double));
    memcpy (v + 1 + d, self->sumsq, d * sizeof (double));
    int rc = fl_stats_fixed_encode (v, 1 + 2 * d, out);
    free (v);
    return rc;
}

fl_stats_t *
fl_stats_from_fixed (size_t d, const uint32_t *sum, size_t len, uint32_t summands)
{
    if (d == 0 || d > FL_STATS_MAX_DIM || !sum || len != fl_stats_fixed_len (d)) {
        zsys_error ("fl_stats: encoded statistics of %zu words do not match %zu features", len, d);
        return NULL;
    }
    double *v = (double *) malloc ((1 + 2 * d) * sizeof (double));
    if (!v)
        return NULL;
    fl_stats_t *self = NULL;
    if (fl_stats_fixed_decode (sum, 1 + 2 * d, summands, v) != 0)
        goto done;
    double c = v[0];
    if (!(c >= 1 && c < ldexp (1.0, 48)) || c != floor (c)) {
        zsys_error ("fl_stats: decoded count %g is not a positive integer below 2^48", c);
        goto done;
    }
    for (size_t j = 0; j < d; j++) {
        /* each member rounds sumsq to 2^-F: a sum of zeros may come back as
           a few ulps below 0; anything more negative is not an honest sum */
        double tol = (double) summands * ldexp (1.0, -FL_STATS_FIXED_FRAC_BITS);
        if (!isfinite (v[1 + j]) || !isfinite (v[1 + d + j]) || v[1 + d + j] < -tol) {
            zsys_error ("fl_stats: decoded feature %zu: sum %g, sumsq %g invalid", j, v[1 + j], v[1 + d + j]);
            goto done;
        }
        if (v[1 + d + j] < 0)
            v[1 + d + j] = 0;
    }
    self = fl_stats_from_arrays (d, (uint64_t) c, v + 1, v + 1 + d);
done:
    free (v);
    return self;
}
