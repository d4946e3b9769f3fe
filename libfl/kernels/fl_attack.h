/*  fl_attack - Byzantine attacks on federated learning, for robustness
    evaluation only.

    WARNING: this module exists so that the robust aggregators (fl_robust,
    DESIGN.md §4) can be measured against the attacks the literature uses to
    break them.  An adversary (io/fl_adversary) configured with an attack
    sends a deliberately malicious update; never enable one outside an
    evaluation.

    Model-poisoning attacks are pure functions over the flat float32 update
    vector of dimension d (the only currency between the model and the
    federated machinery, CONVENTIONS.md "Tensors").  Label flipping is data
    poisoning and acts on the training labels instead.  The attacks that
    need statistics of the benign updates (ALIE, IPM, min-max, min-sum) take
    them from the colluders' OWN honest updates - never from the
    coordinator - which io/fl_adversary gathers (fl_adversary_collude).
    Everything here is a pure function over vectors and config structs: no
    files, clocks, messages or rounds.  docs/ATTACKS.md describes each attack.

    Conventions
    - Vectors are float32; means, standard deviations and distances are
      accumulated in double.
    - rows is (B, d) row-major: row i is rows[i*d .. i*d+d).  In
      fl_attack_apply, rows are the colluders' honest updates INCLUDING this
      attacker's own (as returned by fl_adversary_collude); rows == NULL with
      n_rows == 0 means "only my own honest update".
    - Standard deviations are population standard deviations (divide by B),
      so that a lone attacker (B = 1) gets sigma = 0 rather than a division
      by zero.
    - Functions return 0 or -1; -1 is logged (zsys_error) and names the
      function and the broken requirement; on -1 out is unspecified.
      NULL required pointers are programmer errors (assert).
*/
#ifndef FL_ATTACK_H_INCLUDED
#define FL_ATTACK_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_dataset.h"
#include "fl_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FL_ATTACK_NONE = 0,       /* honest */
    FL_ATTACK_SIGN_FLIP,      /* -gamma * x */
    FL_ATTACK_SCALE,          /* gamma * x */
    FL_ATTACK_GAUSSIAN,       /* N(0, sigma^2) per coordinate (or x + noise) */
    FL_ATTACK_LABEL_FLIP,     /* data poisoning: y -> (y + 1) mod K */
    FL_ATTACK_ALIE,           /* mu - z * sigma */
    FL_ATTACK_IPM,            /* -epsilon * mu */
    FL_ATTACK_MIN_MAX,        /* mu + gamma * p, max distance bounded */
    FL_ATTACK_MIN_SUM,        /* mu + gamma * p, sum of distances bounded */
    FL_ATTACK_KIND_COUNT
} fl_attack_kind_t;

/*  The perturbation direction p of min-max / min-sum (Shejwalkar &
    Houmansadr, NDSS 2021, the perturbation vectors of their AGR-tailored
    and AGR-agnostic attacks). */
typedef enum {
    FL_ATTACK_PERTURB_STD = 0,   /* p = -std(rows)          (default) */
    FL_ATTACK_PERTURB_UNIT,      /* p = -mu / ||mu||        ("inverse unit vector") */
    FL_ATTACK_PERTURB_SIGN       /* p = -sign(mu)           ("inverse sign") */
} fl_attack_perturb_t;

typedef struct {
    double gamma;             /* sign flip: multiplier of -x (default 1);
                                 scale: the factor gamma (default 10);
                                 min-max / min-sum: initial gamma of the search (default 10) */
    double sigma;             /* Gaussian: standard deviation (default 1) */
    int additive;             /* Gaussian: 0 = pure noise (Blanchard et al.), 1 = x + noise */
    double epsilon;           /* IPM: epsilon (default 0.1) */
    double z;                 /* ALIE: z; NAN (default) = from n and f (fl_attack_alie_z) */
    size_t n;                 /* ALIE: assumed number of clients (or buckets) the aggregator sees */
    size_t f;                 /* ALIE: assumed number of Byzantine ones among them */
    fl_attack_perturb_t perturb;   /* min-max / min-sum direction (default STD) */
    double tol;               /* min-max / min-sum: bisection stops when the gamma
                                 interval is <= tol (default 1e-5) */
} fl_attack_params_t;

/*  Defaults as documented in the struct. */
void fl_attack_params_defaults (fl_attack_params_t *p);

/*  Sets the one "strength" parameter of kind to g: gamma for sign-flip, scale, min-max, min-sum; sigma for
    gaussian; epsilon for ipm; z for alie.  Returns -1 (logged) for a kind
    without a strength (none, label-flip) or a non-finite g. */
int fl_attack_params_set_strength (fl_attack_kind_t kind, fl_attack_params_t *p, double g);

/*  Parses "none", "sign-flip", "scale", "gaussian", "label-flip", "alie",
    "ipm", "min-max", "min-sum" (underscores accepted for dashes).  -1
    (logged) if unknown. */
int fl_attack_kind_parse (const char *name, fl_attack_kind_t *kind);
const char *fl_attack_kind_name (fl_attack_kind_t kind);

/*  1 if the attack needs the colluders' honest updates (ALIE, IPM, min-max,
    min-sum), else 0. */
int fl_attack_needs_rows (fl_attack_kind_t kind);

/*  ---- the attacks --------------------------------------------------------- */

/*  out = -scale * x.  Sign flipping: with scale 1, the "bit flipping"
    attack of Karimireddy, He, Jaggi, "Learning from History for Byzantine
    Robust Optimization", ICML 2021.
    out may alias x. */
void fl_attack_sign_flip (const float *x, size_t d, double scale, float *out);

/*  out = gamma * x.  Scaling ("model replacement" boosting): Bagdasaryan et
    al., "How To Backdoor Federated Learning", AISTATS 2020 (model
    replacement, scaling by gamma = n / eta); Bhagoji et al., "Analyzing
    Federated Learning through an Adversarial Lens", ICML 2019 ("explicit
    boosting").  out may alias x. */
void fl_attack_scale (const float *x, size_t d, double gamma, float *out);

/*  out_j = (additive ? x_j : 0) + sigma * N(0,1), N from fl_rng_normal.
    The "Gaussian Byzantine workers" of Blanchard, El Mhamdi, Guerraoui,
    Stainer, NeurIPS 2017 (experimental evaluation).  Requires sigma >= 0 finite (-1 otherwise).  out may
    alias x. */
int fl_attack_gaussian (const float *x, size_t d, double sigma, int additive, fl_rng_t *rng,
                        float *out);

/*  Label flipping, data poisoning: out[i] = (y[i] + 1) mod K, which for
    K = 2 is y -> 1 - y.  Label flipping as in Tolpegin, Truex, Gursoy,
    Liu, "Data Poisoning Attacks Against Federated Learning Systems",
    ESORICS 2020 (which flips one source class to one target class); the
    cyclic shift flips every class, and for binary labels every variant
    is y -> 1 - y.  Requires K >= 2 and every y[i] in [0, K) (-1
    otherwise, out unchanged).  out may alias y. */
int fl_attack_label_flip (const int32_t *y, size_t n, size_t K, int32_t *out);

/*  A copy of ds with labels flipped as fl_attack_label_flip, declaring
    n_classes classes (>= fl_dataset_classes (ds); pass the model's K so
    that the flip is modulo the classes the federation trains).  Features
    and names are copied.  NULL (logged) on a bad K or allocation failure.
    Caller owns the result. */
fl_dataset_t *fl_attack_label_flip_dataset (const fl_dataset_t *ds, size_t n_classes);

/*  Phi^{-1}(p), the standard normal quantile, for 0 < p < 1 (NAN outside).
    Acklam's rational approximation (P. J. Acklam, "An algorithm for
    computing the inverse normal cumulative distribution function", 2003;
    relative error < 1.15e-9), followed by one Halley step on
    Phi(x) - p with Phi from erfc(), as Acklam recommends, which brings it
    to about 1e-15 (tested against mpmath at 50 digits). */
double fl_attack_norm_ppf (double p);

/*  ALIE's z_max (Baruch, Baruch, Goldberg, "A Little Is Enough:
    Circumventing Defenses For Distributed Learning", NeurIPS 2019, the
    paper's definitions of s and z_max):  s = floor(n/2 + 1) - f,  z = Phi^{-1}((n - s)/n).
    s is the number of benign clients the malicious value must look "closer
    to the mean" than, for the attackers to form a majority around it.
    Requires 1 <= f < n and s >= 1 (i.e. f < floor(n/2 + 1); with a
    majority the bound is infinite: give z explicitly); -1 (logged)
    otherwise.  Example: n = 50, f = 10: s = 16, z = Phi^{-1}(0.68) =
    0.46769879911450823. */
int fl_attack_alie_z (size_t n, size_t f, double *z);

/*  ALIE: out_j = mu_j - z * sigma_j with mu, sigma the per-coordinate mean
    and population standard deviation of rows (B, d).  Baruch et al.
    NeurIPS 2019 (the convergence-prevention attack).  Requires B >= 1, z finite;
    out may alias a row. */
int fl_attack_alie (const float *rows, size_t B, size_t d, double z, float *out);

/*  IPM, inner-product manipulation: out = -epsilon * mu, mu the mean of rows
    (B, d).  With small epsilon the aggregate's inner product with the true
    gradient turns negative for median / Krum (Xie, Koyejo, Gupta, "Fall of
    Empires: Breaking Byzantine-tolerant SGD by Inner Product Manipulation",
    UAI 2019; their attack on median and Krum).  Requires B >= 1, epsilon finite;
    out may alias a row. */
int fl_attack_ipm (const float *rows, size_t B, size_t d, double epsilon, float *out);

/*  Min-max (which = FL_ATTACK_MIN_MAX) and min-sum (FL_ATTACK_MIN_SUM)
    (Shejwalkar, Houmansadr, "Manipulating the Byzantine: Optimizing Model
    Poisoning Attacks and Defenses for Federated Learning", NDSS 2021, the
    AGR-agnostic Min-Max and Min-Sum attacks and their gamma search):  m(gamma) = mu + gamma * p, with
    mu the mean of rows (B, d) and p the perturbation (perturb), and gamma
    the largest value for which
        min-max:  max_i ||m - x_i||^2  <=  max_{i,j} ||x_i - x_j||^2
        min-sum:  sum_i ||m - x_i||^2  <=  max_i sum_j ||x_i - x_j||^2.
    The constraint is a convex function of gamma and holds at gamma = 0 (the
    mean is no farther than any row, and minimises the sum of squares), so
    the feasible gammas are [0, gamma*].  We bracket gamma* by doubling from
    gamma_init (default 10) and then bisect until the bracket is <= tol
    (default 1e-5); out = m(lo) for the feasible end lo,
    which is also written to *gamma_out if non-NULL.  p = 0 (all rows equal,
    or mu = 0 with UNIT) gives gamma = 0, out = mu.  Requires B >= 1,
    gamma_init > 0 and tol > 0 finite.  out must not alias rows (the
    search writes candidates into out).  O((B d) * (iterations + B)) time;
    O(d) extra memory (B + 2d doubles). */
int fl_attack_min_max_sum (fl_attack_kind_t which, const float *rows, size_t B, size_t d,
                           fl_attack_perturb_t perturb, double gamma_init, double tol,
                           float *out, double *gamma_out);

/*  The attack `kind` with params p on this attacker's honest update
    honest (d) and the colluders' rows (n_rows, d) (see Conventions), into
    out (d); out may alias honest.  FL_ATTACK_NONE and FL_ATTACK_LABEL_FLIP
    copy honest (label flipping acts on the data, not the update).  rng is
    needed only for FL_ATTACK_GAUSSIAN (may be NULL otherwise).  -1 (logged)
    on a bad parameter or a non-finite input. */
int fl_attack_apply (fl_attack_kind_t kind, const fl_attack_params_t *p, const float *honest,
                     const float *rows, size_t n_rows, size_t d, fl_rng_t *rng, float *out);

#ifdef __cplusplus
}
#endif
#endif
