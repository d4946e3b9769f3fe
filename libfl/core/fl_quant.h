/*  fl_quant - quantisation: fixed-point encoding of model updates into Z_2^32.

    Secure aggregation sums masked vectors in Z_2^32 (Bonawitz et al., CCS
    2017, §3: inputs are integer vectors, masks are uniform mod R), so a
    client's float update must become integers first.  This module's
    "encoding" section does that (DESIGN §3, "Encoding"):

        clip to L2 norm C  ->  clamp each coordinate to [-max_abs, max_abs]
        ->  multiply by scale  ->  round stochastically (unbiased)
        ->  store the signed integer in two's complement mod 2^32

    The scale is the largest one for which a bucket's sum of up to
    max_summands encoded vectors can never wrap: every encoded coordinate
    has |q| <= Q = ceil(max_abs * scale), and max_summands * Q <= 2^31 - 1,
    so the true signed sum is recovered exactly from the mod-2^32 sum.
    After L2 clipping to C every coordinate satisfies |x_i| <= C, so
    max_abs = C loses nothing to clamping.

    Stochastic rounding (q = floor(v) + Bernoulli(v - floor(v))) keeps the
    encoding unbiased, E[q / scale] = x, so the decoded bucket mean is an
    unbiased estimate of the clipped mean (as in Kairouz, Liu, Steinke,
    "The Distributed Discrete Gaussian Mechanism", ICML 2021, §4).

    Quantisation-aware training (int8 fake-quant, export, integer
    inference) lives in fl_qat.h; the encoding section is self-contained.
*/
#ifndef FL_QUANT_H_INCLUDED
#define FL_QUANT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Encoding of updates into Z_2^32 =================================== */

#define FL_QUANT_SUM_LIMIT 2147483647u      /* 2^31 - 1: largest |signed sum| */

typedef struct {
    double max_abs;             /* coordinates are clamped to [-max_abs, max_abs] */
    uint32_t max_summands;      /* most encoded vectors ever summed (bucket size) */
    double scale;               /* fixed-point scale: q ~ x * scale */
} fl_quant_encoding_t;

/*  Chooses the largest scale with max_summands * ceil(max_abs * scale)
    <= 2^31 - 1 (so sums never wrap) and fills enc.  Returns 0, or -1 with a
    zsys_error if max_abs is not finite and > 0, max_summands is 0, or the
    resulting scale is < 1: a quantisation step coarser than one unit of the
    update would silently destroy precision (reduce max_summands or
    max_abs).  Precision: the per-coordinate rounding error is < 1 / scale
    ~= max_abs * max_summands / 2^31. */
int fl_quant_encoding_init (fl_quant_encoding_t *enc, double max_abs, uint32_t max_summands);

/*  Scales x (n floats) in place so that its L2 norm is <= clip_norm
    (x *= clip_norm / ||x|| when ||x|| > clip_norm; direction preserved;
    the result's norm is guaranteed <= clip_norm despite float rounding).
    Returns the norm before clipping (computed in double), or -1.0 with a
    zsys_error if clip_norm is not finite and > 0 or x has a non-finite
    entry; x is then unchanged. */
double fl_quant_clip_l2 (float *x, size_t n, double clip_norm);

/*  Encodes x (n floats) into out (n words, caller-allocated): clamp to
    [-max_abs, max_abs], multiply by scale, round stochastically with
    randomness from rng (use fl_rng_new_random in production: the rounding
    must not be predictable by the coordinator), store as two's complement.
    Every out[i], read as int32, has |out[i]| <= ceil(max_abs * scale).
    Returns 0, or -1 with a zsys_error naming the coordinate if x has a
    non-finite entry (nothing written), or if enc is not initialised. */
int fl_quant_encode (const float *x, size_t n, const fl_quant_encoding_t *enc, fl_rng_t *rng,
                     uint32_t *out);

/*  Decodes the mod-2^32 sum of `summands` encoded vectors into out (n
    floats): out[i] = int32(sum[i]) / scale.  Checks every coordinate's
    signed value against summands * ceil(max_abs * scale), the largest
    honest magnitude; returns -1 with a zsys_error naming the first bad
    coordinate if any lies outside (a wrapped or tampered sum: tampering
    that stays inside the bound is not detectable here), or if summands is 0
    or > max_summands.  Writes nothing on failure.
    What the check can and cannot see: honest sums never wrap, and a sum
    that exceeds the bound without wrapping (more contributions than
    declared, an out-of-range input) is refused.  A sum pushed past 2^31
    wraps around, and lands back inside the bound unless there is headroom:
    with max_summands = h * (actual summands), a uniformly random corruption
    passes with probability ~1/h.  A malicious client can always choose a
    masked input whose effect stays inside the bound; robust aggregation
    over buckets (fl_robust), not this check, is the defence against that. */
int fl_quant_decode_sum (const uint32_t *sum, size_t n, const fl_quant_encoding_t *enc,
                         uint32_t summands, float *out);

#ifdef __cplusplus
}
#endif
#endif
