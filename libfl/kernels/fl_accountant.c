/*  fl_dp_accountant.c - RDP accountant for the Poisson-subsampled Gaussian
    mechanism (see fl_accountant.h).

    The numerical recipe follows Opacus (opacus/accountants/analysis/rdp.py)
    term for term, because the reference vectors in tests/data are Opacus's
    values: at fractional orders the two series are summed WITH their signs
    (binomial coefficients of a fractional alpha alternate), in log space,
    stopping when both new terms are below e^-30.  dp_accounting sums the
    absolute values instead, which is an upper bound and differs in the
    fourth significant digit at alpha = 1.5 (see the provenance file).

    Where Opacus computes a quantity in a way that loses precision we use
    the more accurate equivalent (log1p(-q) for log(1 - q); binomial
    coefficients by the exact-for-small-i product recursion); the differences
    are at the 1e-15 level and far inside the vectors' tolerances.
*/
#include "fl_accountant.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/*  Terms of the fractional-order series below e^S_LOG_TINY are negligible
    (Opacus: "if max(log_s0, log_s1) < -30: break"). */
#define S_LOG_TINY (-30.0)
/*  Hard cap on series terms: guarantees termination on hostile arguments.
    Tested parameters need at most a few tens of thousands of terms. */
#define S_MAX_TERMS 10000000L
/*  2^53: largest integer every double below represents exactly. */
#define S_MAX_EXACT 9007199254740992.0

struct fl_accountant_t {
    size_t norders;
    double *orders;          /* (norders) Rényi orders, each > 1 */
    double *rdp;             /* (norders) accumulated RDP at each order */
    uint64_t entries;        /* fl_accountant_add calls with steps > 0 */
    uint64_t steps;          /* total steps over all entries */
};

/* --- log-space arithmetic --------------------------------------------------- */

/*  log(e^x + e^y) without overflow. */
static double
s_log_add (double x, double y)
{
    double a = x < y ? x : y, b = x < y ? y : x;
    if (a == -INFINITY)
        return b;
    return log1p (exp (a - b)) + b;
}

/*  log(e^x - e^y) for x >= y; NaN if x < y (a signed partial sum went
    negative: Opacus raises ValueError there). */
static double
s_log_sub (double x, double y)
{
    if (x < y)
        return NAN;
    if (y == -INFINITY)
        return x;
    if (x == y)
        return -INFINITY;
    double d = expm1 (x - y);
    if (isinf (d))              /* x - y > ~709: e^y is negligible against e^x */
        return x;
    return log (d) + y;
}

/*  log(erfc(x)).  erfc is accurate to a few ulps (relative) until it
    underflows near x = 26.5; beyond that the asymptotic (Laurent) series
    erfc(x) ~ exp(-x^2 - 1/(2x^2) + 5/(8x^4) - 37/(24x^6) + 353/(64x^8)) / (x sqrt(pi))
    is used (as tensorflow_privacy's fallback did; its truncation error at
    x = 26 is below 1e-13). */
static double
s_log_erfc (double x)
{
    if (x < 26.0)
        return log (erfc (x));
    double r = 1.0 / (x * x);
    return -0.5 * log (M_PI) - log (x) - x * x
           + r * (-0.5 + r * (0.625 + r * (-37.0 / 24.0 + r * (353.0 / 64.0))));
}

/* --- RDP of one step ------------------------------------------------------- */

/*  log A_alpha for integer alpha: log sum_i C(alpha, i) q^i (1-q)^(alpha-i)
    exp((i^2 - i) / (2 sigma^2))  (Mironov, Talwar, Zhang 2019, Sec. 3.3). */
static double
s_log_a_int (double q, double sigma, long alpha)
{
    double log_a = -INFINITY;
    double log_q = log (q), log_1mq = log1p (-q);
    /* C(alpha, i) by the product recursion: exact for the small i that carry
       the weight.  Above alpha = 1000 the coefficients overflow a double, so
       the same recursion runs on their logarithms (no lgamma: it writes the
       global signgam). */
    double coef = 1.0, log_coef_big = 0.0;
    for (long i = 0; i <= alpha; i++) {
        double log_coef = alpha <= 1000 ? log (coef) : log_coef_big;
        double di = (double) i;
        double s = log_coef + di * log_q + (double) (alpha - i) * log_1mq
                   + (di * di - di) / (2.0 * sigma * sigma);
        log_a = s_log_add (log_a, s);
        if (i < alpha) {
            coef = coef * (double) (alpha - i) / (double) (i + 1);
            log_coef_big += log ((double) (alpha - i)) - log ((double) (i + 1));
        }
    }
    return log_a;
}

/*  log A_alpha for fractional alpha: the two series of Mironov, Talwar,
    Zhang 2019, Sec. 3.4, exactly as Opacus _compute_log_a_for_frac_alpha:
      z0 = sigma^2 log(1/q - 1) + 1/2
      for i = 0, 1, ...:  j = alpha - i
        s0_i = C(alpha,i) q^i (1-q)^j exp((i^2-i)/(2 sigma^2)) erfc((i - z0)/(sqrt2 sigma))/2
        s1_i = C(alpha,i) q^j (1-q)^i exp((j^2-j)/(2 sigma^2)) erfc((z0 - j)/(sqrt2 sigma))/2
      A = sum_i s0_i + sum_i s1_i, each summed with the sign of C(alpha, i). */
static double
s_log_a_frac (double q, double sigma, double alpha)
{
    double log_a0 = -INFINITY, log_a1 = -INFINITY;
    double log_q = log (q), log_1mq = log1p (-q);
    double z0 = sigma * sigma * log (1.0 / q - 1.0) + 0.5;
    double two_s2 = 2.0 * sigma * sigma, sqrt2_sigma = sqrt (2.0) * sigma;
    double log_coef = 0.0;      /* log |C(alpha, i)| */
    int positive = 1;           /* sign of C(alpha, i) */
    for (long i = 0; i < S_MAX_TERMS; i++) {
        double di = (double) i, j = alpha - di;
        double log_t0 = log_coef + di * log_q + j * log_1mq;
        double log_t1 = log_coef + j * log_q + di * log_1mq;
        double log_e0 = log (0.5) + s_log_erfc ((di - z0) / sqrt2_sigma);
        double log_e1 = log (0.5) + s_log_erfc ((z0 - j) / sqrt2_sigma);
        double log_s0 = log_t0 + (di * di - di) / two_s2 + log_e0;
        double log_s1 = log_t1 + (j * j - j) / two_s2 + log_e1;
        if (positive) {
            log_a0 = s_log_add (log_a0, log_s0);
            log_a1 = s_log_add (log_a1, log_s1);
        }
        else {
            log_a0 = s_log_sub (log_a0, log_s0);
            log_a1 = s_log_sub (log_a1, log_s1);
        }
        if (isnan (log_a0) || isnan (log_a1))
            return NAN;
        if (fmax (log_s0, log_s1) < S_LOG_TINY)
            return s_log_add (log_a0, log_a1);
        /* C(alpha, i+1) = C(alpha, i) (alpha - i) / (i + 1) */
        double f = alpha - di;
        if (f < 0)
            positive = !positive;
        log_coef += log (fabs (f)) - log (di + 1.0);
    }
    return NAN;
}

void
fl_rdp_default_orders (double orders[FL_ACCOUNTANT_DEFAULT_NORDERS])
{
    assert (orders);
    size_t k = 0;
    for (int x = 1; x < 100; x++)
        orders[k++] = 1.0 + x / 10.0;      /* Python: 1 + x / 10.0 */
    for (int a = 12; a < 64; a++)
        orders[k++] = (double) a;
    assert (k == FL_ACCOUNTANT_DEFAULT_NORDERS);
}

double
fl_rdp_poisson_gaussian (double q, double sigma, double alpha)
{
    if (!(q >= 0.0 && q <= 1.0) || !(sigma >= 0.0) || !(alpha > 1.0)) {
        zsys_error ("fl_rdp_poisson_gaussian: invalid q=%g sigma=%g alpha=%g "
                    "(need 0<=q<=1, sigma>=0, alpha>1)", q, sigma, alpha);
        return NAN;
    }
    if (q == 0.0)
        return 0.0;
    if (sigma == 0.0 || isinf (alpha))
        return INFINITY;
    if (isinf (sigma))
        return 0.0;
    if (q == 1.0)
        return alpha / (2.0 * sigma * sigma);
    double log_a;
    if (alpha == floor (alpha) && alpha < 9.0e15)
        log_a = s_log_a_int (q, sigma, (long) alpha);
    else
        log_a = s_log_a_frac (q, sigma, alpha);
    if (isnan (log_a)) {
        zsys_error ("fl_rdp_poisson_gaussian: fractional-order series failed at "
                    "q=%g sigma=%g alpha=%g", q, sigma, alpha);
        return NAN;
    }
    return log_a / (alpha - 1.0);
}

double
fl_rdp_to_epsilon (const double *orders, const double *rdp, size_t n, double delta,
                   double *best_order)
{
    if (best_order)
        *best_order = NAN;
    if (!(delta > 0.0 && delta < 1.0) || n == 0 || !orders || !rdp) {
        zsys_error ("fl_rdp_to_epsilon: invalid delta=%g or empty order list (n=%zu)", delta, n);
        return NAN;
    }
    double best = NAN, best_a = NAN;
    for (size_t k = 0; k < n; k++) {
        double a = orders[k];
        /* Balle et al. 2020, Thm 21 (Opacus get_privacy_spent). */
        double eps = rdp[k] - (log (delta) + log (a)) / (a - 1.0) + log ((a - 1.0) / a);
        if (isnan (eps))
            continue;
        if (isnan (best) || eps < best) {
            best = eps;
            best_a = a;
        }
    }
    if (isnan (best))
        return INFINITY;        /* Opacus: all NaN -> (inf, nan) */
    if (best_order)
        *best_order = best_a;
    return best < 0.0 ? 0.0 : best;
}

/* --- the accountant object ------------------------------------------------- */

static fl_accountant_t *
s_alloc (size_t norders)
{
    fl_accountant_t *self = (fl_accountant_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->orders = (double *) calloc (norders, sizeof (double));
    self->rdp = (double *) calloc (norders, sizeof (double));
    if (!self->orders || !self->rdp) {
        free (self->orders);
        free (self->rdp);
        free (self);
        return NULL;
    }
    self->norders = norders;
    return self;
}

static int
s_orders_valid (const double *orders, size_t n, const char *where)
{
    if (n == 0 || n > FL_ACCOUNTANT_MAX_NORDERS) {
        zsys_error ("%s: order count %zu outside [1, %u]", where, n, FL_ACCOUNTANT_MAX_NORDERS);
        return 0;
    }
    for (size_t k = 0; k < n; k++)
        if (!(orders[k] > 1.0) || isinf (orders[k])) {
            zsys_error ("%s: order[%zu]=%g is not a finite number > 1", where, k, orders[k]);
            return 0;
        }
    return 1;
}

fl_accountant_t *
fl_accountant_new (void)
{
    fl_accountant_t *self = s_alloc (FL_ACCOUNTANT_DEFAULT_NORDERS);
    if (self)
        fl_rdp_default_orders (self->orders);
    return self;
}

fl_accountant_t *
fl_accountant_new_orders (const double *orders, size_t n)
{
    if (!orders || !s_orders_valid (orders, n, "fl_accountant_new_orders"))
        return NULL;
    fl_accountant_t *self = s_alloc (n);
    if (self)
        memcpy (self->orders, orders, n * sizeof (double));
    return self;
}

void
fl_accountant_destroy (fl_accountant_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->orders);
        free ((*self_p)->rdp);
        free (*self_p);
        *self_p = NULL;
    }
}

fl_accountant_t *
fl_accountant_dup (const fl_accountant_t *self)
{
    assert (self);
    fl_accountant_t *copy = s_alloc (self->norders);
    if (!copy)
        return NULL;
    memcpy (copy->orders, self->orders, self->norders * sizeof (double));
    memcpy (copy->rdp, self->rdp, self->norders * sizeof (double));
    copy->entries = self->entries;
    copy->steps = self->steps;
    return copy;
}

/*  rdp_out[k] = rdp[k] + steps * RDP(q, sigma, orders[k]); -1 if any is NaN. */
static int
s_accumulate (const fl_accountant_t *self, double sigma, double q, uint64_t steps,
              double *rdp_out)
{
    if (!(q >= 0.0 && q <= 1.0) || !(sigma >= 0.0)) {
        zsys_error ("fl_accountant: invalid sample rate %g or noise multiplier %g", q, sigma);
        return -1;
    }
    for (size_t k = 0; k < self->norders; k++) {
        double r = steps ? fl_rdp_poisson_gaussian (q, sigma, self->orders[k]) : 0.0;
        if (isnan (r))
            return -1;
        rdp_out[k] = self->rdp[k] + (r == 0.0 ? 0.0 : (double) steps * r);
    }
    return 0;
}

int
fl_accountant_add (fl_accountant_t *self, double noise_multiplier, double sample_rate,
                   uint64_t steps)
{
    assert (self);
    double *next = (double *) malloc (self->norders * sizeof (double));
    if (!next)
        return -1;
    int rc = s_accumulate (self, noise_multiplier, sample_rate, steps, next);
    if (rc == 0 && steps > 0) {
        memcpy (self->rdp, next, self->norders * sizeof (double));
        self->entries++;
        self->steps += steps;
    }
    free (next);
    return rc;
}

double
fl_accountant_epsilon (const fl_accountant_t *self, double delta, double *best_order)
{
    assert (self);
    return fl_rdp_to_epsilon (self->orders, self->rdp, self->norders, delta, best_order);
}

double
fl_accountant_epsilon_after (const fl_accountant_t *self, double noise_multiplier,
                             double sample_rate, uint64_t steps, double delta,
                             double *best_order)
{
    assert (self);
    if (best_order)
        *best_order = NAN;
    double *next = (double *) malloc (self->norders * sizeof (double));
    if (!next)
        return NAN;
    double eps = NAN;
    if (s_accumulate (self, noise_multiplier, sample_rate, steps, next) == 0)
        eps = fl_rdp_to_epsilon (self->orders, next, self->norders, delta, best_order);
    free (next);
    return eps;
}

size_t
fl_accountant_orders (const fl_accountant_t *self, const double **orders, const double **rdp)
{
    assert (self);
    if (orders)
        *orders = self->orders;
    if (rdp)
        *rdp = self->rdp;
    return self->norders;
}

uint64_t
fl_accountant_entries (const fl_accountant_t *self)
{
    assert (self);
    return self->entries;
}

uint64_t
fl_accountant_steps (const fl_accountant_t *self)
{
    assert (self);
    return self->steps;
}

size_t
fl_accountant_export (const fl_accountant_t *self, double *out, size_t cap)
{
    assert (self && out);
    size_t need = FL_ACCOUNTANT_STATE_DOUBLES (self->norders);
    if (cap < need) {
        zsys_error ("fl_accountant_export: buffer of %zu doubles, need %zu", cap, need);
        return 0;
    }
    if ((double) self->entries > S_MAX_EXACT || (double) self->steps > S_MAX_EXACT) {
        zsys_error ("fl_accountant_export: counters above 2^53 cannot be stored exactly");
        return 0;
    }
    out[0] = FL_ACCOUNTANT_STATE_VERSION;
    out[1] = (double) self->norders;
    out[2] = (double) self->entries;
    out[3] = (double) self->steps;
    memcpy (out + FL_ACCOUNTANT_STATE_HEADER, self->orders, self->norders * sizeof (double));
    memcpy (out + FL_ACCOUNTANT_STATE_HEADER + self->norders, self->rdp,
            self->norders * sizeof (double));
    return need;
}

static int
s_is_count (double x)
{
    return x >= 0.0 && x <= S_MAX_EXACT && x == floor (x);
}

fl_accountant_t *
fl_accountant_import (const double *state, size_t n)
{
    if (!state || n < FL_ACCOUNTANT_STATE_HEADER) {
        zsys_error ("fl_accountant_import: state of %zu doubles is shorter than the header", n);
        return NULL;
    }
    if (state[0] != FL_ACCOUNTANT_STATE_VERSION) {
        zsys_error ("fl_accountant_import: unknown state version %g", state[0]);
        return NULL;
    }
    if (!(state[1] >= 1.0 && state[1] <= FL_ACCOUNTANT_MAX_NORDERS && state[1] == floor (state[1]))) {
        zsys_error ("fl_accountant_import: order count %g outside [1, %u]", state[1],
                    FL_ACCOUNTANT_MAX_NORDERS);
        return NULL;
    }
    size_t norders = (size_t) state[1];
    if (n != FL_ACCOUNTANT_STATE_DOUBLES (norders)) {
        zsys_error ("fl_accountant_import: %zu doubles, %zu orders need %zu", n, norders,
                    (size_t) FL_ACCOUNTANT_STATE_DOUBLES (norders));
        return NULL;
    }
    if (!s_is_count (state[2]) || !s_is_count (state[3])) {
        zsys_error ("fl_accountant_import: counters %g, %g are not integers in [0, 2^53]",
                    state[2], state[3]);
        return NULL;
    }
    const double *orders = state + FL_ACCOUNTANT_STATE_HEADER, *rdp = orders + norders;
    if (!s_orders_valid (orders, norders, "fl_accountant_import"))
        return NULL;
    for (size_t k = 0; k < norders; k++)
        if (!(rdp[k] >= 0.0)) {
            zsys_error ("fl_accountant_import: rdp[%zu]=%g is negative or NaN", k, rdp[k]);
            return NULL;
        }
    fl_accountant_t *self = s_alloc (norders);
    if (!self)
        return NULL;
    memcpy (self->orders, orders, norders * sizeof (double));
    memcpy (self->rdp, rdp, norders * sizeof (double));
    self->entries = (uint64_t) state[2];
    self->steps = (uint64_t) state[3];
    return self;
}

/* --- calibration ----------------------------------------------------------- */

double
fl_dp_epsilon (double noise_multiplier, double sample_rate, uint64_t steps, double delta,
               double *best_order)
{
    if (best_order)
        *best_order = NAN;
    fl_accountant_t *acc = fl_accountant_new ();
    if (!acc)
        return NAN;
    double eps = NAN;
    if (fl_accountant_add (acc, noise_multiplier, sample_rate, steps) == 0)
        eps = fl_accountant_epsilon (acc, delta, best_order);
    fl_accountant_destroy (&acc);
    return eps;
}

int
fl_dp_find_noise_multiplier (double target_eps, double delta, double q, uint64_t steps,
                             double *sigma_out)
{
    assert (sigma_out);
    if (!(target_eps > 0.0) || isinf (target_eps) || !(delta > 0.0 && delta < 1.0)
        || !(q > 0.0 && q <= 1.0) || steps == 0) {
        zsys_error ("fl_dp_find_noise_multiplier: invalid target_eps=%g delta=%g q=%g steps=%llu",
                    target_eps, delta, q, (unsigned long long) steps);
        return -1;
    }
    double tol = fmin (0.01, 0.01 * target_eps);
    double sigma_low = 0.0, sigma_high = 10.0, eps_high = INFINITY;
    while (!(eps_high <= target_eps)) {
        sigma_high *= 2.0;
        if (sigma_high > FL_ACCOUNTANT_MAX_SIGMA) {
            zsys_error ("fl_dp_find_noise_multiplier: epsilon %g at delta %g is unreachable "
                        "with noise multiplier <= %g", target_eps, delta, FL_ACCOUNTANT_MAX_SIGMA);
            return -1;
        }
        eps_high = fl_dp_epsilon (sigma_high, q, steps, delta, NULL);
        if (isnan (eps_high))
            return -1;
    }
    /* Invariant: eps(sigma_high) <= target_eps < eps(sigma_low) (eps(0) = inf). */
    while (target_eps - eps_high > tol) {
        double sigma = 0.5 * (sigma_low + sigma_high);
        if (sigma <= sigma_low || sigma >= sigma_high)
            break;              /* interval exhausted in double precision */
        double eps = fl_dp_epsilon (sigma, q, steps, delta, NULL);
        if (isnan (eps))
            return -1;
        if (eps <= target_eps) {
            sigma_high = sigma;
            eps_high = eps;
        }
        else
            sigma_low = sigma;
    }
    *sigma_out = sigma_high;
    return 0;
}
