/*  fl_accountant - Rényi-DP accountant for the Poisson-subsampled Gaussian
    mechanism, and the noise-multiplier search built on it.

    One step of DP-SGD / DP-FedAvg samples every record (or client)
    independently with probability q (the sample rate), sums their clipped
    contributions and adds Gaussian noise of standard deviation
    noise_multiplier * sensitivity.  Its Rényi DP at order alpha is computed
    as in Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the
    Sampled Gaussian Mechanism" (arXiv:1908.10530), Sections 3.3 (integer
    orders: binomial expansion) and 3.4 (fractional orders: the two series
    with erfc terms), reproducing Opacus's opacus/accountants/analysis/rdp.py
    value for value.  Composition over steps adds RDP at each order
    (Mironov 2017, "Rényi Differential Privacy", Prop. 1), so the accountant
    keeps one RDP value per order and any history of heterogeneous
    (noise multiplier, sample rate, steps) entries is the sum of the entries'
    vectors.  RDP is converted to (epsilon, delta) with Balle, Barthe, Gaboardi,
    Hsu, Sato 2020, "Hypothesis Testing Interpretations and Rényi Differential
    Privacy", Theorem 21 (Opacus get_privacy_spent), minimised over the orders.

    The accountant states what these formulas give for the mechanism as
    described; whether a deployment actually runs that mechanism (true
    Poisson sampling, the sensitivity the noise was calibrated to) is the
    caller's business.  See docs/PRIVACY.md.
*/
#ifndef FL_ACCOUNTANT_H_INCLUDED
#define FL_ACCOUNTANT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Opacus's default orders: 1 + x/10.0 for x = 1..99 (1.1, 1.2, ..., 10.9,
    computed exactly that way in double), then 12, 13, ..., 63. */
#define FL_ACCOUNTANT_DEFAULT_NORDERS 151u
/*  Most orders an accountant accepts (custom lists, imported state). */
#define FL_ACCOUNTANT_MAX_NORDERS 4096u
/*  Version tag stored as the first double of an exported state. */
#define FL_ACCOUNTANT_STATE_VERSION 1
/*  Doubles in an exported state: header (version, norders, entries, steps)
    followed by orders[norders] and rdp[norders]. */
#define FL_ACCOUNTANT_STATE_HEADER 4u
#define FL_ACCOUNTANT_STATE_DOUBLES(norders) (FL_ACCOUNTANT_STATE_HEADER + 2u * (size_t) (norders))
/*  Largest noise multiplier fl_dp_find_noise_multiplier tries (as Opacus's MAX_SIGMA). */
#define FL_ACCOUNTANT_MAX_SIGMA 1e6

typedef struct fl_accountant_t fl_accountant_t;

/*  Writes Opacus's default order list (FL_ACCOUNTANT_DEFAULT_NORDERS values)
    into orders[0..FL_ACCOUNTANT_DEFAULT_NORDERS). */
void fl_rdp_default_orders (double orders[FL_ACCOUNTANT_DEFAULT_NORDERS]);

/*  RDP at order alpha of ONE step of the Poisson-subsampled Gaussian
    mechanism with sample rate q and noise multiplier sigma (noise standard
    deviation / L2 sensitivity), for add/remove-one neighbours.
      q = 0      -> 0
      sigma = 0  -> +inf (no privacy)
      q = 1      -> alpha / (2 sigma^2) (the plain Gaussian mechanism)
      otherwise  -> log(A_alpha) / (alpha - 1), with A_alpha from the
                    binomial expansion (integer alpha) or the two erfc series
                    summed with their signs in log space until the terms fall
                    below e^-30 (fractional alpha), as Opacus does.
    Source: Mironov, Talwar, Zhang 2019, Sections 3.3-3.4.
    Returns NaN (and logs) if q is outside [0, 1], sigma < 0, alpha <= 1 or
    any argument is NaN, or if the fractional series fails (a signed partial
    sum turning negative or not converging within 10^7 terms; not observed in
    the tested range). */
double fl_rdp_poisson_gaussian (double q, double sigma, double alpha);

/*  Converts an RDP curve to epsilon at the given delta (Balle et al. 2020,
    Thm 21, as Opacus get_privacy_spent):
      eps(alpha) = rdp(alpha) - (log delta + log alpha)/(alpha - 1) + log((alpha - 1)/alpha)
    minimised over the n orders; NaN entries are skipped, a negative minimum
    is reported as 0 (any (eps', delta) bound with eps' < 0 implies (0, delta)).
    orders (n) must all be > 1, rdp (n) >= 0 or +inf.
    Writes the minimising order to *best_order if not NULL.
    Returns +inf (best order NaN) if no order gives a number (all NaN) and
    NaN (and logs) if delta is not in (0, 1) or n == 0. */
double fl_rdp_to_epsilon (const double *orders, const double *rdp, size_t n, double delta,
                          double *best_order);

/*  New accountant over Opacus's default orders, with no history.
    NULL on allocation failure.  Caller owns the result. */
fl_accountant_t *fl_accountant_new (void);

/*  New accountant over a custom order list (copied).  NULL (and logs) if
    n is 0 or above FL_ACCOUNTANT_MAX_NORDERS or an order is not a finite
    number > 1; NULL on allocation failure. */
fl_accountant_t *fl_accountant_new_orders (const double *orders, size_t n);

/*  Frees the accountant, nulls *self_p; safe on NULL and twice. */
void fl_accountant_destroy (fl_accountant_t **self_p);

/*  A copy of the accountant (orders, RDP vector, counters); NULL on
    allocation failure. */
fl_accountant_t *fl_accountant_dup (const fl_accountant_t *self);

/*  Records `steps` steps of the subsampled Gaussian mechanism with this noise
    multiplier and sample rate: adds steps * fl_rdp_poisson_gaussian(q, sigma,
    alpha) at every order.  steps = 0 records nothing.  Returns 0, or -1 (and
    logs, accountant unchanged) if q is outside [0, 1], sigma < 0 or NaN, or
    the RDP of some order came out NaN. */
int fl_accountant_add (fl_accountant_t *self, double noise_multiplier, double sample_rate,
                       uint64_t steps);

/*  Epsilon spent so far at this delta (fl_rdp_to_epsilon over the
    accountant's RDP vector); 0 history gives the conversion's value for
    RDP = 0, which is small but positive.  *best_order (if not NULL) gets the
    minimising order.  NaN (and logs) if delta is not in (0, 1). */
double fl_accountant_epsilon (const fl_accountant_t *self, double delta, double *best_order);

/*  Epsilon the accountant WOULD report after fl_accountant_add (noise
    multiplier, sample rate, steps), without changing it: what a coordinator
    checks before running a round so it stops before the budget is exceeded.
    NaN (and logs) on the errors of fl_accountant_add or fl_accountant_epsilon. */
double fl_accountant_epsilon_after (const fl_accountant_t *self, double noise_multiplier,
                                    double sample_rate, uint64_t steps, double delta,
                                    double *best_order);

/*  Number of orders; *orders and *rdp (if not NULL) point at the
    accountant's arrays (norders each), valid until it is destroyed. */
size_t fl_accountant_orders (const fl_accountant_t *self, const double **orders,
                             const double **rdp);

/*  Entries recorded (calls to fl_accountant_add with steps > 0) and total steps. */
uint64_t fl_accountant_entries (const fl_accountant_t *self);
uint64_t fl_accountant_steps (const fl_accountant_t *self);

/*  Serialisable state for checkpoints: writes FL_ACCOUNTANT_STATE_DOUBLES
    (norders) doubles to out[0..cap):
      [0] FL_ACCOUNTANT_STATE_VERSION, [1] norders, [2] entries, [3] steps,
      [4 .. 4+norders) orders, [4+norders .. 4+2 norders) rdp.
    Returns the number of doubles written, or 0 (and logs, nothing written)
    if cap is too small or a counter exceeds 2^53 (not exactly representable). */
size_t fl_accountant_export (const fl_accountant_t *self, double *out, size_t cap);

/*  Rebuilds an accountant from an exported state of n doubles (untrusted:
    e.g. read from a checkpoint file).  NULL (and logs where) if the version
    is unknown, n does not match the stated order count, the order count is 0
    or above FL_ACCOUNTANT_MAX_NORDERS, a counter is not an integer in
    [0, 2^53], an order is not a finite number > 1, or an RDP value is
    negative or NaN; NULL on allocation failure. */
fl_accountant_t *fl_accountant_import (const double *state, size_t n);

/*  Epsilon of `steps` steps at (noise multiplier, sample rate) over Opacus's
    default orders, at delta; NaN on invalid arguments (logged). */
double fl_dp_epsilon (double noise_multiplier, double sample_rate, uint64_t steps, double delta,
                      double *best_order);

/*  Smallest-found noise multiplier sigma such that `steps` steps at sample
    rate q give epsilon <= target_eps at delta over the default orders.
    Method (as Opacus get_noise_multiplier): double sigma from 20 until
    eps(sigma) <= target, then bisect on [sigma_low, sigma_high] keeping
    eps(sigma_high) <= target, until
        target_eps - eps(sigma_high) <= min(0.01, 0.01 * target_eps)
    (Opacus uses an absolute 0.01; the relative term keeps small targets
    meaningful).  *sigma_out = sigma_high, so eps(*sigma_out) <= target_eps
    always holds.  Returns 0, or -1 (and logs, *sigma_out untouched) if the
    arguments are invalid (target_eps <= 0 or NaN, delta outside (0, 1),
    q outside (0, 1], steps == 0) or the target is unreachable with
    sigma <= FL_ACCOUNTANT_MAX_SIGMA (e.g. below the conversion's floor for
    zero RDP). */
int fl_dp_find_noise_multiplier (double target_eps, double delta, double q, uint64_t steps,
                                 double *sigma_out);

#ifdef __cplusplus
}
#endif
#endif
