/*  fl_dp - differential privacy primitives: L2 clipping (whole-update and
    per-example), noise calibration, and the exact discrete Gaussian sampler
    on the integer grid.  The RDP accountant is in fl_accountant.h (included).

    Released noise is never drawn with floating point: floating-point
    samplers leave holes and biases in the low-order bits that leak the
    un-noised value (Mironov 2012, "On Significance of the Least Significant
    Bits for Differential Privacy").  fl_dp samples the discrete Gaussian
    N_Z(0, sigma^2), P[X = x] proportional to exp(-x^2 / (2 sigma^2)) for
    integer x, EXACTLY, with integer arithmetic only (Canonne, Kamath,
    Steinke 2020, "The Discrete Gaussian for Differential Privacy",
    Algorithms 1-3), from an fl_rng_t: in production fl_rng_new_random()
    (ChaCha20 keyed by libsodium's randombytes_buf, a CSPRNG); tests pass
    fixed seeds.  See docs/PRIVACY.md.

    The sampler is not constant-time: its running time depends on the
    sample (CKS 2020, Section 5.2 discuss this side channel).  Run it where
    its timing is not observable by the parties it protects against.
*/
#ifndef FL_DP_H_INCLUDED
#define FL_DP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_accountant.h"
#include "fl_quant.h"
#include "fl_rng.h"
#include "fl_robust.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  Supported noise scale on the integer grid, for the double-sigma entry
    points: 2^-10 <= sigma <= 2^30.  Above 2^30 the exact acceptance test
    would need more than 128-bit intermediates; below 2^-10 the noise is
    zero with probability > 1 - 10^-200000 anyway. */
#define FL_DP_SIGMA_MIN 0x1p-10
#define FL_DP_SIGMA_MAX 0x1p30
/*  sigma^2 is represented as num / 2^k with num >= 2^40 (or k = 0 and
    num = ceil(sigma^2) when sigma^2 >= 2^40): relative precision 2^-40,
    always rounded UP, so the sampled noise is never narrower than asked. */
#define FL_DP_SIGMA2_BITS 40

/* --- clipping --------------------------------------------------------------- */

/*  Scales x (n floats) in place so that its L2 norm is at most C:
    x <- x * min(1, C / ||x||).  After the call ||x||_2 <= C holds when the
    norm is evaluated in double precision (a final correction pass absorbs
    float rounding).  Returns the norm BEFORE clipping (>= 0).
    Errors: if C is not a finite number > 0, or x holds a NaN or infinity,
    x is zeroed (so a caller that ignores the error cannot release an
    unclipped vector; a zero vector has norm 0 <= C) and -1.0 is returned,
    with a log line.  Source: the clipping step of Abadi et al. 2016 "Deep
    Learning with Differential Privacy" (per example) and McMahan et al. 2018
    "Learning Differentially Private Recurrent Language Models" (per client). */
double fl_dp_clip_l2 (float *x, size_t n, double C);

/*  Per-example clipping for record-level DP (DP-SGD, Abadi et al. 2016,
    Algorithm 1): out (d) = sum over b < batch of clip(g[b], C), where
    g (batch, d) row-major holds one gradient per example and clip is
    fl_dp_clip_l2.  g is not modified.  out is overwritten.  norms (batch),
    if not NULL, receives every row's pre-clip norm.  Returns the number of
    rows whose norm exceeded C (>= 0), or -1 (and logs, out zeroed) if C is
    invalid or a row is not finite: one bad row zeroes the whole sum,
    because its contribution cannot be bounded. */
long fl_dp_clip_rows_sum (const float *g, size_t batch, size_t d, double C, float *out,
                          double *norms);

/*  Standard deviation of the Gaussian noise for a mechanism with this L2
    sensitivity: noise_multiplier * sensitivity.  The noise multiplier is
    the quantity the accountant (fl_accountant.h) and
    fl_dp_find_noise_multiplier speak about; the sensitivity is that of the
    released sum or aggregate to adding or removing one unit of privacy (the
    clipping norm C for a plain sum; aggregator-specific values are derived
    in docs/PRIVACY.md).  On the integer grid of a fixed-point encoding with
    scale s (value v encoded as round(v * s)), the sampler's sigma is
    noise_multiplier * sensitivity * s, and the sensitivity must include the
    encoding's rounding.  NaN (and logs) if either argument is negative or NaN. */
double fl_dp_noise_stddev (double noise_multiplier, double sensitivity);

/* --- noise after a robust aggregator (docs/PRIVACY.md, "Sensitivity of each
       aggregator") -------------------------------------------------------- */

/*  L2 sensitivity of the output of robust rule `kind` (parameters p, as
    fl_robust_aggregate takes them) over B bucket means, when adding or
    removing one unit of privacy changes ONE bucket's sum by at most `delta`
    in L2 norm, every bucket mean has a fixed denominator of at least `s`
    (its planned size), and every bucket mean has L2 norm at most `max_norm`
    (used only by the coarse bounds).  The bounds, derived in
    docs/PRIVACY.md:
      mean                   delta / (s B)
      median                 delta / s                  (each coordinate's median is
                                                         1-Lipschitz in each input)
      trimmed mean (k/side)  delta / (s (B - 2k))       (k = floor(beta B), or p->b)
      cclip (L iterations)   L delta / (s B)            (from a public starting point)
      krum, multi_krum,
      geomed                 2 max_norm                 (coarse: the output lies in
                                                         the ball holding every input)
      bulyan                 2 sqrt(B + 1) max_norm     (coarse: coordinate-wise)
    A norm bound p->M > 0 (a projection, non-expansive) caps max_norm at M.
    Returns the bound (> 0), or NaN (and logs) if B is 0, s, delta or
    max_norm is not a finite number > 0, or the rule's parameters leave
    nothing (2k >= B for the trimmed mean). */
double fl_dp_aggregator_sensitivity (fl_robust_kind_t kind, const fl_robust_params_t *p, size_t B,
                                     double s, double delta, double max_norm);

/*  The grid for noise on a vector of d values whose L2 sensitivity is
    `sensitivity`, at noise multiplier z > 0: *step is the largest power of
    two <= sensitivity / (1024 sqrt(d)) (so rounding onto the grid, which
    moves the vector by at most step sqrt(d) / 2 per input and so adds at
    most step sqrt(d) to the sensitivity, costs < 0.1% of the noise), made
    coarser if needed so that sigma / step <= 2^29 + z sqrt(d); then
        *sigma = z (sensitivity + step sqrt(d))
    in the vector's units.  Returns 0, or -1 (and logs) if z or the
    sensitivity is not a finite number > 0, d is 0, or sigma / step would
    leave [FL_DP_SIGMA_MIN, FL_DP_SIGMA_MAX]. */
int fl_dp_noise_grid (double z, double sensitivity, size_t d, double *step, double *sigma);

/*  As fl_dp_discrete_gaussian_add_f32 for a double vector:
      x_i <- step * (round_half_even(x_i / step) + Z_i),  Z_i ~ N_Z(0, (sigma/step)^2).
    Same errors (x untouched on error). */
int fl_dp_discrete_gaussian_add_f64 (fl_rng_t *rng, double sigma, double step, double *x,
                                     size_t n);

/* --- adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy 2021,
       "Differentially Private Learning with Adaptive Clipping", NeurIPS,
       Algorithm 1 and Section 3; docs/PRIVACY.md "Adaptive clipping") ------- */

/*  The range the adapted clipping norm is kept in (the coordinator clamps
    C_t to it; clients refuse a TRAIN whose adaptive "clip" is outside it). */
#define FL_DP_ADACLIP_MIN 1e-6
#define FL_DP_ADACLIP_MAX 1e5

/*  Noise multiplier of the update when the round also releases the count of
    unclipped updates with noise sigma_b (Andrew et al. 2021, Theorem 1):
    releasing the update with multiplier z_delta and the count of the shifted
    indicators b_i - 1/2 (sensitivity 1/2) with standard deviation sigma_b is
    one Gaussian mechanism with multiplier
        z = (z_delta^-2 + (2 sigma_b)^-2)^-1/2,
    so for the z the accountant charges,
        z_delta = (z^-2 - (2 sigma_b)^-2)^-1/2.
    Returns z_delta (> z), 0 when z is 0 (no noise: the comparison run), or
    NaN (and logs) when z or sigma_b is not a finite number >= 0 or when
    2 sigma_b <= z (the count alone would spend the whole budget: raise the
    count noise or lower z). */
double fl_dp_adaclip_update_z (double z, double sigma_b);

/*  The noisy fraction of unclipped updates of one round (Andrew et al.
    2021, Algorithm 1): shifted_sum is sum_i (b_i - 1/2) over the round's
    contributions (b_i = 1 if ||Delta_i|| <= C_t, else 0), a multiple of 1/2
    (rounded to the nearest one: a secure sum carries a little encoding
    error); discrete Gaussian noise of standard deviation sigma_b is added on
    the grid of halves (N_Z(0, (2 sigma_b)^2) / 2, exact sampler, from rng),
    and *frac = noisy_sum / expected + 1/2, with `expected` the EXPECTED
    number of contributions (a fixed denominator: the actual number is
    private).  *frac is not clamped (it may leave [0, 1] by the noise).
    sigma_b = 0 adds nothing (for comparison runs only).  Returns 0, or -1
    (and logs, *frac untouched) if shifted_sum is not finite, expected is
    not > 0, or sigma_b is neither 0 nor in [FL_DP_SIGMA_MIN / 2,
    FL_DP_SIGMA_MAX / 2]. */
int fl_dp_adaclip_fraction (fl_rng_t *rng, double shifted_sum, double sigma_b, double expected,
                            double *frac);

/*  The geometric update of the clipping norm (Andrew et al. 2021, Section
    3.1): C <- C exp(-lr (min(1, max(0, frac)) - gamma)), clamped to
    [FL_DP_ADACLIP_MIN, FL_DP_ADACLIP_MAX].  It moves C towards the
    gamma-quantile of the update norms: up when fewer than gamma of the
    updates were unclipped, down when more.  Post-processing of the noisy
    fraction: costs no privacy.  Returns the new C, or NaN (and logs) if C
    is not in (0, inf), gamma not in [0, 1], lr not a finite number >= 0, or
    frac is NaN. */
double fl_dp_adaclip_next (double C, double frac, double gamma, double lr);

/* --- exact samplers (Canonne, Kamath, Steinke 2020) ------------------------ */

/*  Bernoulli(exp(-num/den)) for num >= 0, den >= 1, exactly: Algorithm 1
    of CKS 2020 for gamma <= 1 (count K while Bernoulli(gamma/K) succeeds;
    return K odd) and, for gamma > 1, floor(gamma) Bernoulli(exp(-1)) trials
    followed by Bernoulli(exp(-(gamma - floor(gamma)))).  Uses only integer
    comparisons with uniform integers from rng.  Returns 1 or 0; asserts
    den > 0 (programmer error). */
int fl_dp_bernoulli_exp (fl_rng_t *rng, uint64_t num, uint64_t den);

/*  One sample of the discrete Laplace distribution with integer scale t >= 1,
    P[X = x] proportional to exp(-|x| / t) (CKS 2020, Algorithm 2 with
    s = 1).  Returns 0 and writes *out, or -1 (and logs) if t is 0 or above
    2^32 (the bound that keeps the int64 overflow redraw below exp(-2^31)). */
int fl_dp_discrete_laplace (fl_rng_t *rng, uint64_t t, int64_t *out);

/*  sigma (a double) -> sigma^2 = *num / *den with *den a power of two, per
    FL_DP_SIGMA2_BITS (never smaller than sigma^2).  Returns 0, or -1 (and
    logs) if sigma is NaN or outside [FL_DP_SIGMA_MIN, FL_DP_SIGMA_MAX]. */
int fl_dp_sigma_to_rational (double sigma, uint64_t *num, uint64_t *den);

/*  One exact sample of N_Z(0, num/den) (CKS 2020, Algorithm 3: discrete
    Laplace proposals with scale t = floor(sigma) + 1, accepted with
    probability exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)), evaluated as a
    ratio of 128/256-bit integers).  Returns 0 and writes *out, or -1 (and
    logs) if num or den is 0 or the ratio is outside what 128-bit
    arithmetic supports (2 num den t^2 >= 2^127 or den t >= 2^64; every
    value produced by fl_dp_sigma_to_rational is supported).
    Exactness caveat: a proposal whose construction would overflow int64
    (probability below exp(-2^31) per proposal) is redrawn. */
int fl_dp_discrete_gaussian_rational (fl_rng_t *rng, uint64_t num, uint64_t den, int64_t *out);

/*  out (n) <- n independent samples of N_Z(0, sigma^2), sigma converted
    with fl_dp_sigma_to_rational.  Returns 0, or -1 (and logs, out
    untouched) if sigma is outside [FL_DP_SIGMA_MIN, FL_DP_SIGMA_MAX]. */
int fl_dp_discrete_gaussian_vec (fl_rng_t *rng, double sigma, int64_t *out, size_t n);

/*  x (n) <- x + N_Z(0, sigma^2) noise, coordinate-wise modulo 2^32: for
    vectors in Z_2^32 (the fixed-point encoding secure aggregation sums).
    Same errors as fl_dp_discrete_gaussian_vec (x untouched). */
int fl_dp_discrete_gaussian_add_u32 (fl_rng_t *rng, double sigma, uint32_t *x, size_t n);

/*  Float vector on a grid of spacing `step` (a power of two):
      x_i <- step * (round_half_even(x_i / step) + Z_i),  Z_i ~ N_Z(0, (sigma/step)^2)
    i.e. Gaussian noise of scale sigma (in x's units) on the grid step*Z.
    Rounding x onto the grid first is what makes the discrete mechanism
    sound for off-grid inputs (otherwise two neighbouring inputs would have
    disjoint supports); it changes each coordinate by at most step/2, so the
    L2 sensitivity to use is (sensitivity of x) + step * sqrt(n) in the worst
    case: pick step small against sigma.  The sum step*(g + Z) is exact in
    double, and the conversion to float is post-processing.
    Returns 0, or -1 (and logs, x untouched) if step is not a positive power
    of two, sigma/step is outside [FL_DP_SIGMA_MIN, FL_DP_SIGMA_MAX], or some
    x_i is not finite or has |x_i / step| >= 2^52. */
int fl_dp_discrete_gaussian_add_f32 (fl_rng_t *rng, double sigma, double step, float *x,
                                     size_t n);

/* --- distributed discrete Gaussian (Kairouz, Liu, Steinke, "The Distributed
       Discrete Gaussian Mechanism for Federated Learning with Secure
       Aggregation", ICML 2021; docs/PRIVACY.md, "Distributed noise") -------

    Each client of a secure-aggregation bucket adds N_Z(0, sigma_i^2) to
    every coordinate of its encoded update (Z_2^32, fl_quant) before
    masking, so the unmasked bucket sum already carries the noise of every
    client it contains.  Units: sigma_i is in grid units of the encoding
    (1 = one step of 1/scale in the update's units). */

/*  Smallest per-client sigma_i (grid units) when noise is on.  The sum of c
    independent N_Z(0, s^2) is not exactly a discrete Gaussian; KLS 2021,
    Theorem 1 / Proposition 14 (eq. 17) bound its Renyi divergence by
    alpha Delta^2 / (2 c s^2) + tau d, tau = 10 sum_{k=1}^{c-1}
    exp(-2 pi^2 s^2 k / (k + 1)), for s >= 1/2.  With s >= 4 every term is
    at most exp(-16 pi^2) < 2.3e-69, so tau d < 10 c d 2.3e-69 < 1e-54 for
    any bucket (c <= 2^16) and model (d <= 2^25) libfl accepts: the slack is
    not added to the accounting (fl_dp_dist_slack computes it). */
#define FL_DP_DIST_SIGMA_FLOOR 4.0
/*  Headroom of the encoding, in standard deviations of a full bucket's
    noise: a coordinate of the noise sum exceeds it with probability
    <= 2 exp(-TAIL^2 / 2) < 1.2e-31 (the discrete Gaussian is subgaussian,
    Canonne, Kamath, Steinke 2020, Proposition 19), so a sum wraps modulo
    2^32 only with that probability per coordinate. */
#define FL_DP_DIST_TAIL 12.0

/*  Coordinator side: calibrates one bucket.  z >= 0: noise multiplier;
    sensitivity > 0: L2 sensitivity of the bucket's sum to one unit of
    privacy, in the update's units (client-level C, record-level K C_rec);
    d: coordinates the sensitivity is measured over (the model's parameters:
    stochastic rounding adds at most 2 sqrt(d) grid units to it); n: the
    bucket's size; t: the fewest honest noise shares a surviving sum can hold
    (the secure-aggregation threshold, minus the colluding members assumed);
    max_abs: the encoding's clamp (>= sensitivity).  Fills *enc with the
    encoding of fl_quant_encoding_init (max_abs, n + h), h >= 0 extra
    "summands" of headroom so that n Q + FL_DP_DIST_TAIL sqrt(n) sigma_i <=
    (n + h) Q <= 2^31 - 1 (Q = ceil(max_abs scale)), and *sigma_i with
        sigma_i^2 t >= sigma^2,  sigma = z (sensitivity scale + 2 sqrt(d)),
    i.e. sigma_i = max(FL_DP_DIST_SIGMA_FLOOR, sigma / sqrt(t)) (z = 0: no
    noise, h = 0, *sigma_i = 0).  Returns 0, or -1 (and logs) on invalid
    arguments, or when no encoding leaves room for the noise (scale < 1 or
    sigma_i > FL_DP_SIGMA_MAX: lower z or use smaller buckets). */
int fl_dp_dist_calibrate (double z, double sensitivity, size_t d, uint32_t n, uint32_t t, double max_abs,
                          fl_quant_encoding_t *enc, double *sigma_i);

/*  Client side: validates what a coordinator announced (untrusted) before
    any noise is added: the encoding fl_quant_encoding_init (max_abs,
    summands) exists, summands >= n, and for z > 0: sigma_i is finite, in
    [FL_DP_DIST_SIGMA_FLOOR, FL_DP_SIGMA_MAX], sigma_i^2 t >= (z (sensitivity
    scale + 2 sqrt(d)))^2 (the bucket's sum carries at least sigma^2 when t
    members survive) and the headroom (summands - n) Q covers
    FL_DP_DIST_TAIL sqrt(n) sigma_i; for z = 0: sigma_i = 0.  Arguments as
    for fl_dp_dist_calibrate.  On success fills *enc (may be NULL) and
    returns 0; otherwise -1, with the reason in why (cap bytes, may be
    NULL). */
int fl_dp_dist_check (double z, double sensitivity, size_t d, uint32_t n, uint32_t t, double max_abs,
                      uint32_t summands, double sigma_i, fl_quant_encoding_t *enc, char *why, size_t cap);

/*  The Renyi-divergence slack tau d of KLS 2021, Theorem 1, for a sum of c
    independent N_Z(0, sigma_i^2) (grid units) on d coordinates:
    10 d sum_{k=1}^{c-1} exp(-2 pi^2 sigma_i^2 k / (k + 1)).  0 for c <= 1;
    NaN if sigma_i < 1/2 (the theorem needs sigma_i >= 1/2). */
double fl_dp_dist_slack (double sigma_i, uint32_t c, size_t d);

#ifdef __cplusplus
}
#endif
#endif
