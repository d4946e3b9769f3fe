/*  fl_quant.c - quantisation (see fl_quant.h).

    Section "Encoding": clipping, fixed-point encoding with stochastic
    rounding into Z_2^32, and bound-checked decoding of sums.  Signed values
    are converted to and from uint32_t explicitly (no implementation-defined
    narrowing casts), and every bound is checked in 64-bit arithmetic.
*/
#include "fl_quant.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>

/* ==== Encoding of updates into Z_2^32 =================================== */

/*  Q = ceil(max_abs * scale): the largest |encoded coordinate|. */
static int64_t
s_max_q (const fl_quant_encoding_t *enc)
{
    return (int64_t) ceil (enc->max_abs * enc->scale);
}

static int
s_encoding_valid (const fl_quant_encoding_t *enc, const char *who)
{
    if (!enc || !(enc->max_abs > 0) || !isfinite (enc->max_abs) || enc->max_summands == 0
        || !(enc->scale >= 1) || !isfinite (enc->scale)
        || (uint64_t) enc->max_summands * (uint64_t) s_max_q (enc) > FL_QUANT_SUM_LIMIT) {
        zsys_error ("%s: encoding not initialised (use fl_quant_encoding_init)", who);
        return 0;
    }
    return 1;
}

static inline uint32_t
s_to_u32 (int64_t q)            /* two's complement, |q| < 2^31 */
{
    return q >= 0 ? (uint32_t) q : (uint32_t) (0x100000000LL + q);
}

static inline int64_t
s_from_u32 (uint32_t v)
{
    return v < 0x80000000u ? (int64_t) v : (int64_t) v - 0x100000000LL;
}

int
fl_quant_encoding_init (fl_quant_encoding_t *enc, double max_abs, uint32_t max_summands)
{
    assert (enc);
    if (!isfinite (max_abs) || !(max_abs > 0)) {
        zsys_error ("fl_quant_encoding_init: max_abs must be finite and > 0, got %g", max_abs);
        return -1;
    }
    if (max_summands == 0 || max_summands > FL_QUANT_SUM_LIMIT) {
        zsys_error ("fl_quant_encoding_init: max_summands must be in 1..%u, got %u",
                    FL_QUANT_SUM_LIMIT, max_summands);
        return -1;
    }
    /* Per-vector budget B: max_summands * B <= 2^31 - 1. */
    uint32_t budget = FL_QUANT_SUM_LIMIT / max_summands;
    double scale = (double) budget / max_abs;
    /* Rounding in the division can push max_abs * scale just past B. */
    while (ceil (max_abs * scale) > (double) budget)
        scale = nextafter (scale, 0.0);
    if (!(scale >= 1.0)) {
        zsys_error ("fl_quant_encoding_init: max_abs %g with up to %u summands leaves a scale of "
                    "%g < 1 in 31 bits: quantisation step > 1 (precision loss); lower max_abs or "
                    "the bucket size", max_abs, max_summands, scale);
        return -1;
    }
    enc->max_abs = max_abs;
    enc->max_summands = max_summands;
    enc->scale = scale;
    return 0;
}

double
fl_quant_clip_l2 (float *x, size_t n, double clip_norm)
{
    assert (x || n == 0);
    if (!isfinite (clip_norm) || !(clip_norm > 0)) {
        zsys_error ("fl_quant_clip_l2: clipping norm must be finite and > 0, got %g", clip_norm);
        return -1.0;
    }
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double) x[i] * x[i];
    double norm = sqrt (ss);
    if (!isfinite (norm)) {
        zsys_error ("fl_quant_clip_l2: update has a non-finite entry or norm");
        return -1.0;
    }
    if (norm <= clip_norm)
        return norm;
    /* Float rounding of x_i * f can leave the norm a few ulps above the
       clipping norm; shrink f until it is not (one or two steps at most). */
    float f = (float) (clip_norm / norm);
    for (;;) {
        double s2 = 0;
        for (size_t i = 0; i < n; i++) {
            double v = (double) (x[i] * f);
            s2 += v * v;
        }
        if (sqrt (s2) <= clip_norm)
            break;
        f = nextafterf (f, 0.0f);
    }
    for (size_t i = 0; i < n; i++)
        x[i] *= f;
    return norm;
}

int
fl_quant_encode (const float *x, size_t n, const fl_quant_encoding_t *enc, fl_rng_t *rng,
                 uint32_t *out)
{
    assert ((x && out) || n == 0);
    assert (rng);
    if (!s_encoding_valid (enc, "fl_quant_encode"))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isfinite (x[i])) {
            zsys_error ("fl_quant_encode: coordinate %zu is not finite", i);
            return -1;
        }
    const double m = enc->max_abs, scale = enc->scale;
    for (size_t i = 0; i < n; i++) {
        double v = (double) x[i];
        v = v > m ? m : v < -m ? -m : v;
        v *= scale;
        double fl = floor (v);
        /* P(round up) = v - floor(v): E[q] = v exactly. */
        int64_t q = (int64_t) fl + (fl_rng_double (rng) < v - fl);
        out[i] = s_to_u32 (q);
    }
    return 0;
}

int
fl_quant_decode_sum (const uint32_t *sum, size_t n, const fl_quant_encoding_t *enc,
                     uint32_t summands, float *out)
{
    assert ((sum && out) || n == 0);
    if (!s_encoding_valid (enc, "fl_quant_decode_sum"))
        return -1;
    if (summands == 0 || summands > enc->max_summands) {
        zsys_error ("fl_quant_decode_sum: %u summands, the encoding allows 1..%u", summands,
                    enc->max_summands);
        return -1;
    }
    const int64_t limit = (int64_t) summands * s_max_q (enc);
    for (size_t i = 0; i < n; i++) {
        int64_t s = s_from_u32 (sum[i]);
        if (s > limit || s < -limit) {
            zsys_error ("fl_quant_decode_sum: coordinate %zu = %lld is outside +-%lld for %u "
                        "summands: the sum wrapped or was tampered with",
                        i, (long long) s, (long long) limit, summands);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (float) ((double) s_from_u32 (sum[i]) / enc->scale);
    return 0;
}
