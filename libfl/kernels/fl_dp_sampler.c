/*  fl_dp_sampler.c - exact discrete Gaussian and discrete Laplace sampling
    on the integers (Canonne, Kamath, Steinke 2020, "The Discrete Gaussian
    for Differential Privacy", NeurIPS; arXiv:2004.00010, Section 5).

    Every probability the algorithms compare against is a ratio of
    integers, and every random draw is a uniform integer (fl_rng_uniform or
    the 128-bit variant below, both rejection-sampled, so unbiased).  No
    floating point touches a sample: that is the whole point (Mironov 2012).

    Sizes.  With sigma^2 = N/D and t = floor(sigma) + 1 the acceptance test
    of Algorithm 3 needs
        gamma = (|Y| - sigma^2/t)^2 / (2 sigma^2) = (|Y| D t - N)^2 / (2 N D t^2).
    The denominator is bounded below 2^127 when the sampler is set up
    (sigma <= 2^30 with fl_dp_sigma_to_rational gives about 2^121); the
    numerator is a square of a number below 2^127 and is kept as a 256-bit
    (hi, lo) pair, reduced by repeated subtraction while the e^-1 trials
    succeed (each fails with probability 1 - 1/e, so the expected number of
    subtractions is below 1.6 however large gamma is).
*/
#include "fl_dp.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 s_u128;

#define S_U128_MAX (~(s_u128) 0)

/* --- uniform integers and Bernoulli trials ---------------------------------- */

/*  Uniform in [0, n), n > 0, unbiased: 64-bit ranges go to fl_rng_uniform;
    wider ones draw as many bits as n needs and reject values >= n
    (acceptance probability > 1/2). */
static s_u128
s_uniform_u128 (fl_rng_t *rng, s_u128 n)
{
    assert (n > 0);
    if (n <= UINT64_MAX)
        return fl_rng_uniform (rng, (uint64_t) n);
    int bits = 128 - __builtin_clzll ((uint64_t) (n >> 64));    /* n >> 64 > 0 */
    s_u128 mask = bits == 128 ? S_U128_MAX : (((s_u128) 1 << bits) - 1);
    s_u128 x;
    do {
        x = ((s_u128) fl_rng_u64 (rng) << 64) | fl_rng_u64 (rng);
        x &= mask;
    } while (x >= n);
    return x;
}

/*  Bernoulli(exp(-num/den)) for 0 <= num <= den (CKS 2020, Algorithm 1,
    gamma <= 1): K <- 1; while Bernoulli(gamma/K): K <- K+1; return K odd.
    Bernoulli(gamma/K) is drawn as Bernoulli(num/den) AND Bernoulli(1/K)
    (independent, so the product of the probabilities), which keeps every
    range within den and K rather than den*K. */
static int
s_bern_exp_le1 (fl_rng_t *rng, s_u128 num, s_u128 den)
{
    uint64_t k = 1;
    for (;;) {
        /* num == den and k == 1 are certain successes: draw nothing. */
        if (num < den && !(s_uniform_u128 (rng, den) < num))
            break;
        if (k > 1 && fl_rng_uniform (rng, k) != 0)
            break;
        k++;
    }
    return (int) (k & 1);
}

/*  Bernoulli(exp(-1)). */
static int
s_bern_exp1 (fl_rng_t *rng)
{
    return s_bern_exp_le1 (rng, 1, 1);
}

/*  Bernoulli(exp(-(hi 2^128 + lo) / den)), den > 0: one e^-1 trial per whole
    unit of gamma (CKS 2020, Algorithm 1, gamma > 1), then the fraction. */
static int
s_bern_exp_big (fl_rng_t *rng, s_u128 hi, s_u128 lo, s_u128 den)
{
    assert (den > 0);
    while (hi > 0 || lo >= den) {
        if (!s_bern_exp1 (rng))
            return 0;
        if (lo < den)
            hi--;               /* borrow */
        lo -= den;              /* modulo 2^128 */
    }
    return s_bern_exp_le1 (rng, lo, den);
}

int
fl_dp_bernoulli_exp (fl_rng_t *rng, uint64_t num, uint64_t den)
{
    assert (rng && den > 0);
    return s_bern_exp_big (rng, 0, num, den);
}

/* --- discrete Laplace ------------------------------------------------------ */

/*  CKS 2020, Algorithm 2 with s = 1: P[X = x] proportional to exp(-|x|/t).
    U uniform in [0, t) accepted with probability exp(-U/t), plus t times a
    geometric count V of e^-1 successes, gives X = U + tV geometric with
    ratio e^-1/t; a random sign with the (-0) case rejected makes it
    two-sided. */
static int64_t
s_discrete_laplace (fl_rng_t *rng, uint64_t t)
{
    for (;;) {
        uint64_t u = fl_rng_uniform (rng, t);
        if (!s_bern_exp_big (rng, 0, u, t))
            continue;
        uint64_t v = 0;
        while (s_bern_exp1 (rng))
            v++;
        /* X = u + t v must fit in int64 (so -X does too).  v > 2^63/t has
           probability below exp(-2^31) for t <= 2^32 (every caller): redraw. */
        if (v > ((uint64_t) INT64_MAX - u) / t)
            continue;
        uint64_t x = u + t * v;
        int neg = (int) fl_rng_uniform (rng, 2);
        if (neg && x == 0)
            continue;
        return neg ? -(int64_t) x : (int64_t) x;
    }
}

int
fl_dp_discrete_laplace (fl_rng_t *rng, uint64_t t, int64_t *out)
{
    assert (rng && out);
    if (t == 0 || t > ((uint64_t) 1 << 32)) {
        zsys_error ("fl_dp_discrete_laplace: scale t=%llu outside [1, 2^32]",
                    (unsigned long long) t);
        return -1;
    }
    *out = s_discrete_laplace (rng, t);
    return 0;
}

/* --- discrete Gaussian ----------------------------------------------------- */

/*  A prepared sampler for sigma^2 = n/d. */
typedef struct {
    uint64_t n, d;
    uint64_t t;                 /* floor(sigma) + 1 */
    s_u128 dt;                  /* d t < 2^64 */
    s_u128 den;                 /* 2 n d t^2 < 2^127 */
} s_gauss_t;

/*  floor(sqrt(x)) for 64-bit x, exactly (Newton from a float guess, then fixed up). */
static uint64_t
s_isqrt (uint64_t x)
{
    uint64_t r = (uint64_t) sqrt ((double) x);
    while (r > 0 && (s_u128) r * r > x)
        r--;
    while ((s_u128) (r + 1) * (r + 1) <= x)
        r++;
    return r;
}

static int
s_gauss_init (s_gauss_t *g, uint64_t n, uint64_t d)
{
    if (n == 0 || d == 0) {
        zsys_error ("fl_dp: sigma^2 = %llu/%llu is not a positive rational",
                    (unsigned long long) n, (unsigned long long) d);
        return -1;
    }
    g->n = n;
    g->d = d;
    g->t = s_isqrt (n / d) + 1;         /* floor(sqrt(n/d)) = isqrt(floor(n/d)) */
    s_u128 dt, t2, ndt2, den;
    int overflow = __builtin_mul_overflow ((s_u128) d, (s_u128) g->t, &dt)
                   || dt > UINT64_MAX
                   || __builtin_mul_overflow ((s_u128) g->t, (s_u128) g->t, &t2)
                   || __builtin_mul_overflow ((s_u128) n * d, t2, &ndt2)
                   || __builtin_mul_overflow (ndt2, (s_u128) 2, &den)
                   || den >> 127 != 0;
    if (overflow) {
        zsys_error ("fl_dp: sigma^2 = %llu/%llu is outside the sampler's 128-bit range",
                    (unsigned long long) n, (unsigned long long) d);
        return -1;
    }
    g->dt = dt;
    g->den = den;
    return 0;
}

/*  (a) * (b) as a 256-bit (hi, lo) pair. */
static void
s_mul_u128 (s_u128 a, s_u128 b, s_u128 *hi, s_u128 *lo)
{
    s_u128 a0 = (uint64_t) a, a1 = a >> 64, b0 = (uint64_t) b, b1 = b >> 64;
    s_u128 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    s_u128 mid = (p00 >> 64) + (uint64_t) p01 + (uint64_t) p10;
    *lo = (mid << 64) | (uint64_t) p00;
    *hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
}

/*  CKS 2020, Algorithm 3: Y ~ Lap_Z(t), accept with probability
    exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)). */
static int64_t
s_gauss_sample (const s_gauss_t *g, fl_rng_t *rng)
{
    for (;;) {
        int64_t y = s_discrete_laplace (rng, g->t);
        uint64_t ay = y < 0 ? (uint64_t) 0 - (uint64_t) y : (uint64_t) y;
        s_u128 a = (s_u128) ay * g->dt;            /* < 2^63 * 2^64 */
        s_u128 diff = a >= g->n ? a - g->n : (s_u128) g->n - a;
        s_u128 hi, lo;
        s_mul_u128 (diff, diff, &hi, &lo);
        if (s_bern_exp_big (rng, hi, lo, g->den))
            return y;
    }
}

int
fl_dp_discrete_gaussian_rational (fl_rng_t *rng, uint64_t num, uint64_t den, int64_t *out)
{
    assert (rng && out);
    s_gauss_t g;
    if (s_gauss_init (&g, num, den) < 0)
        return -1;
    *out = s_gauss_sample (&g, rng);
    return 0;
}

int
fl_dp_sigma_to_rational (double sigma, uint64_t *num, uint64_t *den)
{
    assert (num && den);
    if (!(sigma >= FL_DP_SIGMA_MIN && sigma <= FL_DP_SIGMA_MAX)) {
        zsys_error ("fl_dp: sigma=%g outside the supported [2^-10, 2^30]", sigma);
        return -1;
    }
    double s2 = sigma * sigma;
    double r = fma (sigma, sigma, -s2);         /* sigma^2 = s2 + r exactly */
    int e;
    frexp (s2, &e);                             /* s2 = m 2^e, m in [0.5, 1) */
    int k = FL_DP_SIGMA2_BITS + 1 - e;          /* s2 2^k in [2^40, 2^41) */
    if (k < 0)
        k = 0;
    double x = ldexp (s2, k);                   /* exact: scaling by 2^k */
    double c = ceil (x);
    uint64_t n = (uint64_t) c;
    if (x >= 0x1p53) {
        /* k = 0 and s2 is an integer whose ulp exceeds 1: |r| <= ulp/2 may
           be several units, add it (rounded up) when positive. */
        if (r > 0)
            n += (uint64_t) ceil (r);
    }
    else if (c == x && r > 0)
        n++;                                    /* |r| 2^k < 1 here: one unit suffices */
    while (k > 0 && (n & 1) == 0) {
        n >>= 1;
        k--;
    }
    *num = n;
    *den = (uint64_t) 1 << k;
    return 0;
}

/*  Prepares the sampler for a double sigma. */
static int
s_gauss_from_sigma (s_gauss_t *g, double sigma)
{
    uint64_t n, d;
    if (fl_dp_sigma_to_rational (sigma, &n, &d) < 0)
        return -1;
    return s_gauss_init (g, n, d);
}

int
fl_dp_discrete_gaussian_vec (fl_rng_t *rng, double sigma, int64_t *out, size_t n)
{
    assert (rng && (out || n == 0));
    s_gauss_t g;
    if (s_gauss_from_sigma (&g, sigma) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = s_gauss_sample (&g, rng);
    return 0;
}

int
fl_dp_discrete_gaussian_add_u32 (fl_rng_t *rng, double sigma, uint32_t *x, size_t n)
{
    assert (rng && (x || n == 0));
    s_gauss_t g;
    if (s_gauss_from_sigma (&g, sigma) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        x[i] += (uint32_t) (uint64_t) s_gauss_sample (&g, rng);   /* mod 2^32 */
    return 0;
}

int
fl_dp_discrete_gaussian_add_f32 (fl_rng_t *rng, double sigma, double step, float *x, size_t n)
{
    assert (rng && (x || n == 0));
    int e;
    if (!(step > 0.0) || isinf (step) || frexp (step, &e) != 0.5) {
        zsys_error ("fl_dp_discrete_gaussian_add_f32: grid step %g is not a positive power of two",
                    step);
        return -1;
    }
    s_gauss_t g;
    if (s_gauss_from_sigma (&g, sigma / step) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!(fabs ((double) x[i] / step) < 0x1p52)) {
            zsys_error ("fl_dp_discrete_gaussian_add_f32: x[%zu]=%g is not finite or off the "
                        "grid's range (|x/step| >= 2^52)", i, (double) x[i]);
            return -1;
        }
    for (size_t i = 0; i < n; i++) {
        double gi = nearbyint ((double) x[i] / step);   /* default rounding: half to even */
        /* Exact while |gi + z| < 2^53: |gi| < 2^52, and |z| >= 2^52 has
           probability about exp(-2^43) for sigma/step <= 2^30. */
        double y = (gi + (double) s_gauss_sample (&g, rng)) * step;
        x[i] = (float) y;
    }
    return 0;
}

int
fl_dp_discrete_gaussian_add_f64 (fl_rng_t *rng, double sigma, double step, double *x, size_t n)
{
    assert (rng && (x || n == 0));
    int e;
    if (!(step > 0.0) || isinf (step) || frexp (step, &e) != 0.5) {
        zsys_error ("fl_dp_discrete_gaussian_add_f64: grid step %g is not a positive power of two", step);
        return -1;
    }
    s_gauss_t g;
    if (s_gauss_from_sigma (&g, sigma / step) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!(fabs (x[i] / step) < 0x1p52)) {
            zsys_error ("fl_dp_discrete_gaussian_add_f64: x[%zu]=%g is not finite or off the grid's range "
                        "(|x/step| >= 2^52)", i, x[i]);
            return -1;
        }
    for (size_t i = 0; i < n; i++)     /* exact in double, as in the f32 variant */
        x[i] = (nearbyint (x[i] / step) + (double) s_gauss_sample (&g, rng)) * step;
    return 0;
}
