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
