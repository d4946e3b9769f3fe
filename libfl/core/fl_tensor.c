/*  fl_tensor.c - flat parameter/gradient blocks with named views (see fl_tensor.h).

    Both blocks are allocated once, 64-byte aligned so BLAS kernels see
    aligned rows for the first view; views are plain offsets, so copying a
    model is one memcpy and the federated side never sees structure.
*/
#include "fl_tensor.h"

#include <assert.h>
#include <cblas.h>
#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fl_tensor_t {
    size_t size;                                 /* floats in each block */
    size_t n_views;
    fl_tensor_view_t views[FL_TENSOR_MAX_VIEWS];
    float *data;                                 /* (size) parameters */
    float *grad;                                 /* (size) gradients, same layout */
};

static float *
s_alloc_floats (size_t n)
{
    /* aligned_alloc wants a size that is a multiple of the alignment */
    size_t bytes = ((n * sizeof (float) + 63) / 64) * 64;
    float *p = (float *) aligned_alloc (64, bytes);
    if (p)
        memset (p, 0, bytes);
    return p;
}

fl_tensor_t *
fl_tensor_new (const fl_tensor_shape_t *shapes, size_t n_views)
{
    if (!shapes || n_views == 0 || n_views > FL_TENSOR_MAX_VIEWS) {
        zsys_error ("fl_tensor_new: %zu views (need 1..%u)", n_views, FL_TENSOR_MAX_VIEWS);
        return NULL;
    }
    fl_tensor_t *self = (fl_tensor_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    size_t total = 0;
    for (size_t i = 0; i < n_views; i++) {
        const fl_tensor_shape_t *s = &shapes[i];
        if (!s->name || !*s->name || strlen (s->name) >= FL_TENSOR_NAME_MAX) {
            zsys_error ("fl_tensor_new: view %zu has a missing or too long name", i);
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp (self->views[j].name, s->name) == 0) {
                zsys_error ("fl_tensor_new: view name '%s' repeated", s->name);
                goto fail;
            }
        if (s->rows == 0 || s->cols == 0 || s->rows > FL_TENSOR_MAX_FLOATS / s->cols
            || s->rows * s->cols > FL_TENSOR_MAX_FLOATS - total) {
            zsys_error ("fl_tensor_new: view '%s' shape (%zu, %zu) is empty or too large",
                        s->name, s->rows, s->cols);
            goto fail;
        }
        fl_tensor_view_t *v = &self->views[i];
        snprintf (v->name, sizeof v->name, "%s", s->name);
        v->offset = total;
        v->rows = s->rows;
        v->cols = s->cols;
        total += s->rows * s->cols;
    }
    self->n_views = n_views;
    self->size = total;
    self->data = s_alloc_floats (total);
    self->grad = s_alloc_floats (total);
    if (!self->data || !self->grad) {
        zsys_error ("fl_tensor_new: out of memory for %zu floats", total);
        goto fail;
    }
    return self;
fail:
    fl_tensor_destroy (&self);
    return NULL;
}

void
fl_tensor_destroy (fl_tensor_t **self_p)
{
    assert (self_p);
    fl_tensor_t *self = *self_p;
    if (!self)
        return;
    free (self->data);
    free (self->grad);
    free (self);
    *self_p = NULL;
}

size_t
fl_tensor_size (const fl_tensor_t *self)
{
    assert (self);
    return self->size;
}

float *
fl_tensor_data (fl_tensor_t *self)
{
    assert (self);
    return self->data;
}

float *
fl_tensor_grad (fl_tensor_t *self)
{
    assert (self);
    return self->grad;
}

size_t
fl_tensor_num_views (const fl_tensor_t *self)
{
    assert (self);
    return self->n_views;
}

const fl_tensor_view_t *
fl_tensor_view (const fl_tensor_t *self, size_t i)
{
    assert (self && i < self->n_views);
    return &self->views[i];
}

int
fl_tensor_find (const fl_tensor_t *self, const char *name)
{
    assert (self && name);
    for (size_t i = 0; i < self->n_views; i++)
        if (strcmp (self->views[i].name, name) == 0)
            return (int) i;
    return -1;
}

float *
fl_tensor_view_data (fl_tensor_t *self, size_t i)
{
    assert (self && i < self->n_views);
    return self->data + self->views[i].offset;
}

float *
fl_tensor_view_grad (fl_tensor_t *self, size_t i)
{
    assert (self && i < self->n_views);
    return self->grad + self->views[i].offset;
}

double
fl_tensor_norm2 (const float *x, size_t n)
{
    assert (x || n == 0);
    /* Scale-free two-pass: find max |x| first so squares cannot overflow
       double for float inputs (they cannot: 3.4e38^2 < 1.8e308, but the
       sum of many could), then sum (x/max)^2. */
    double amax = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs ((double) x[i]);
        if (a > amax || isnan (a))
            amax = a;
    }
    if (amax == 0 || !isfinite (amax))
        return amax;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double t = (double) x[i] / amax;
        s += t * t;
    }
    return amax * sqrt (s);
}

double
fl_tensor_dot (const float *x, const float *y, size_t n)
{
    assert ((x && y) || n == 0);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double) x[i] * (double) y[i];
    return s;
}

void
fl_tensor_axpy (float a, const float *x, float *y, size_t n)
{
    assert ((x && y) || n == 0);
    /* BLAS takes int lengths: go in chunks so any size_t length works */
    while (n > 0) {
        int m = n > (size_t) INT32_MAX ? INT32_MAX : (int) n;
        cblas_saxpy (m, a, x, 1, y, 1);
        x += m;
        y += m;
        n -= (size_t) m;
    }
}

void
fl_tensor_scale (float a, float *x, size_t n)
{
    assert (x || n == 0);
    while (n > 0) {
        int m = n > (size_t) INT32_MAX ? INT32_MAX : (int) n;
        cblas_sscal (m, a, x, 1);
        x += m;
        n -= (size_t) m;
    }
}

void
fl_tensor_copy (float *dst, const float *src, size_t n)
{
    assert ((dst && src) || n == 0);
    if (n)
        memmove (dst, src, n * sizeof (float));
}

void
fl_tensor_sub (float *out, const float *a, const float *b, size_t n)
{
    assert ((out && a && b) || n == 0);
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] - b[i];
}

int
fl_tensor_all_finite (const float *x, size_t n)
{
    assert (x || n == 0);
    for (size_t i = 0; i < n; i++)
        if (!isfinite (x[i]))
            return 0;
    return 1;
}
