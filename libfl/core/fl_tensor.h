/*  fl_tensor - flat float32 parameter blocks with named views.

    A model's parameters live in ONE contiguous float32 allocation and its
    gradients in a second allocation of the same length and layout (llm.c,
    train_gpt2.c "ParameterTensors").  Each tensor of the model is a named
    view {name, offset, rows, cols} into both blocks.  The flat vector is the
    only currency between a model and the federated machinery (clip, encode,
    mask, sum), so nothing outside the model ever needs to know its shapes.

    The vector helpers below (norm, dot, axpy, scale, copy, sub) work on any
    flat float vector; they are what fl_dp (clipping), fl_round (server
    optimiser) and fl_train (optimisers) use.
*/
#ifndef FL_TENSOR_H_INCLUDED
#define FL_TENSOR_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest view name, including the terminating NUL. */
#define FL_TENSOR_NAME_MAX 32u
/* Most views one block may hold (a 16-layer MLP needs 32). */
#define FL_TENSOR_MAX_VIEWS 64u
/* Largest block, in floats (2^31 - 1: indexes stay within int for BLAS). */
#define FL_TENSOR_MAX_FLOATS ((size_t) 2147483647u)

/*  One named tensor inside a block: elements [offset, offset + rows * cols)
    of the block, row-major (rows, cols).  A vector is (n, 1). */
typedef struct {
    char name[FL_TENSOR_NAME_MAX];
    size_t offset;
    size_t rows;
    size_t cols;
} fl_tensor_view_t;

/*  A shape request for fl_tensor_new. */
typedef struct {
    const char *name;
    size_t rows;
    size_t cols;
} fl_tensor_shape_t;

typedef struct fl_tensor_t fl_tensor_t;

/*  Allocates one zeroed parameter block and one zeroed gradient block for the
    views in shapes[0..n_views), laid out back to back in that order.
    Returns NULL and logs if n_views is 0 or > FL_TENSOR_MAX_VIEWS, a name is
    NULL, empty, too long or repeated, a shape has a zero dimension, the total
    exceeds FL_TENSOR_MAX_FLOATS, or allocation fails.  Caller owns the result. */
fl_tensor_t *fl_tensor_new (const fl_tensor_shape_t *shapes, size_t n_views);

/*  Frees both blocks; nulls *self_p; safe on NULL and twice. */
void fl_tensor_destroy (fl_tensor_t **self_p);

/*  Total number of floats (= length of data and of grad). */
size_t fl_tensor_size (const fl_tensor_t *self);

/*  The flat parameter block, length fl_tensor_size; owned by self. */
float *fl_tensor_data (fl_tensor_t *self);

/*  The flat gradient block, same length and layout; owned by self. */
float *fl_tensor_grad (fl_tensor_t *self);

size_t fl_tensor_num_views (const fl_tensor_t *self);

/*  View i (i < num_views; asserted).  The pointer lives as long as self. */
const fl_tensor_view_t *fl_tensor_view (const fl_tensor_t *self, size_t i);

/*  Index of the view called name, or -1 if there is none. */
int fl_tensor_find (const fl_tensor_t *self, const char *name);

/*  Start of view i in the parameter / gradient block. */
float *fl_tensor_view_data (fl_tensor_t *self, size_t i);
float *fl_tensor_view_grad (fl_tensor_t *self, size_t i);

/* --- flat vector helpers (length n, any n >= 0) ---------------------------- */

/*  Euclidean norm ||x||_2, accumulated in double so clipping decisions do not
    depend on summation order or BLAS build. */
double fl_tensor_norm2 (const float *x, size_t n);

/*  Dot product <x, y>, accumulated in double. */
double fl_tensor_dot (const float *x, const float *y, size_t n);

/*  y += a * x  (cblas_saxpy). */
void fl_tensor_axpy (float a, const float *x, float *y, size_t n);

/*  x *= a  (cblas_sscal). */
void fl_tensor_scale (float a, float *x, size_t n);

/*  dst = src; the ranges may overlap (memmove). */
void fl_tensor_copy (float *dst, const float *src, size_t n);

/*  out = a - b elementwise; out may alias a or b.  Used for model deltas
    (local model - global model). */
void fl_tensor_sub (float *out, const float *a, const float *b, size_t n);

/*  1 if every element is finite (no NaN or infinity), else 0. */
int fl_tensor_all_finite (const float *x, size_t n);

#ifdef __cplusplus
}
#endif
#endif
