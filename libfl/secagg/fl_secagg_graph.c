/*  fl_secagg_graph.c - who shares with whom, and how many must answer: the
    SecAgg+ neighbour graph, the reconstruction threshold t and neighbourhood
    size k for a colluding fraction gamma and a dropout fraction delta, the
    consortium's policy every client checks, the bucket membership rule, and
    the check of a bucket's configuration.  Bell et al. CCS 2020 §3-§4
    (graph, parameters), Bonawitz et al. CCS 2017 §6 (2t > n + n_C);
    docs/SECAGG.md §4-§6.1.  Pure functions: no state, no I/O, randomness
    only from fl_rng seeded by fl_secagg_ctx.c's digests.

    DEFINITIONS
      n        clients in the bucket, indices 0..n-1.
      U1       the clients whose key advertisement the server accepted; the
               graph's vertices.
      k        neighbourhood size, the client included: odd for HARARY,
               |U1| for COMPLETE (and whenever k >= |U1|).
      ring     U1 in the order of a permutation drawn from
               fl_secagg_graph_seed_ (ctx, U1 digest): the server cannot pick
               the order except by changing U1 itself (docs/SECAGG.md §4).
      N(u)     u and the (k-1)/2 ring members on either side of it.
      gamma    fraction of a bucket assumed to collude with the coordinator;
               n_C = ceil(gamma n), at most n - 1.
      delta    fraction assumed to drop out (liveness only).
      c*       least c with n P[corrupt among u's k-1 neighbours >= c] <=
               2^-sigma (hypergeometric tail).

    INVARIANTS
      G1  Adjacency is symmetric and every member of U1 has exactly k
          neighbours including itself (|U1| on the complete graph): u in
          N(v) iff v in N(u).
      G2  Indices outside U1 are adjacent to nothing.
      G3  Every party given the same (n, U1, kind, k, ctx, U1 digest) builds
          the same graph.
      P1  params_choose and threshold_min return t with 2t - k >= c*
          (privacy, independent of delta); params_choose also t + d* <= k
          (correctness: a bucket survives d* dropouts among the k holders).
      P2  policy_check accepts a session only if it is at least as strong as
          params_choose / threshold_min under the policy's gamma.
      B1  buckets_derive is a permutation fixed by (run id, round, purpose,
          cohort, buckets): the coordinator chooses the cohort, not who is in
          which bucket.

    HOW THE PIECES ARE USED

      coordinator: params_choose(_auto) --> (k, t) --> fl_secagg_config_t
                   buckets_derive --> who is in bucket b
      client:      policy_check (n, t, graph, k) --> join or refuse
                   buckets_derive --> verify its own bucket
      both:        config_check_ --> machine _new
                   U1 closes --> nbgraph_build_ --> adjacent_ / neighbours_
*/
#include "fl_secagg_graph.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_rng.h"
#include "fl_secagg_ctx.h"

/*  ---------------------------------------------------------------------------
    Neighbour graph over U1 (docs/SECAGG.md §4)
    ------------------------------------------------------------------------- */

void
fl_secagg_nbgraph_free_ (fl_secagg_nbgraph_t *g)
{
    free (g->members);
    free (g->pos);
    free (g->ring);
    memset (g, 0, sizeof *g);
}

/*  The members of U1 are placed on a ring in the order of a permutation
    drawn by ChaCha20 (fl_rng) keyed by H(ctx || U1 digest), so every honest
    party computes the same graph and the server cannot pick it except by
    changing U1 itself (docs/SECAGG.md §4). */
int
fl_secagg_nbgraph_build_ (fl_secagg_nbgraph_t *g, uint32_t n, const uint32_t *members, uint32_t count,
                          fl_secagg_graph_t kind, uint32_t k, const uint8_t ctx[32], const uint8_t u1[32])
{
    memset (g, 0, sizeof *g);
    g->n = n;
    g->count = count;
    g->complete = kind == FL_SECAGG_GRAPH_COMPLETE || k >= count;
    g->h = g->complete ? 0 : (k - 1) / 2;
    g->members = malloc (count * sizeof (uint32_t));
    g->pos = malloc (n * sizeof (uint32_t));
    g->ring = malloc (count * sizeof (uint32_t));
    if (!g->members || !g->pos || !g->ring) {
        fl_secagg_nbgraph_free_ (g);
        return -1;
    }
    memcpy (g->members, members, count * sizeof (uint32_t));
    memcpy (g->ring, members, count * sizeof (uint32_t));
    if (!g->complete) {
        uint8_t seed[FL_RNG_SEEDBYTES];
        fl_secagg_graph_seed_ (seed, ctx, u1);
        fl_rng_t *rng = fl_rng_new (seed);
        if (!rng) {
            fl_secagg_nbgraph_free_ (g);
            return -1;
        }
        fl_rng_shuffle_u32 (rng, g->ring, count);
        fl_rng_destroy (&rng);
    }
    for (uint32_t i = 0; i < n; i++)
        g->pos[i] = UINT32_MAX;
    for (uint32_t p = 0; p < count; p++)
        g->pos[g->ring[p]] = p;
    return 0;
}

bool
fl_secagg_nbgraph_in_ (const fl_secagg_nbgraph_t *g, uint32_t u)
{
    return u < g->n && g->pos[u] != UINT32_MAX;
}

bool
fl_secagg_nbgraph_adjacent_ (const fl_secagg_nbgraph_t *g, uint32_t u, uint32_t v)
{
    if (!fl_secagg_nbgraph_in_ (g, u) || !fl_secagg_nbgraph_in_ (g, v))
        return false;
    if (g->complete)
        return true;
    uint32_t d = g->pos[u] > g->pos[v] ? g->pos[u] - g->pos[v] : g->pos[v] - g->pos[u];
    if (g->count - d < d)
        d = g->count - d;
    return d <= g->h;
}

uint32_t
fl_secagg_nbgraph_degree_ (const fl_secagg_nbgraph_t *g)
{
    return g->complete ? g->count : 2 * g->h + 1;
}

uint32_t
fl_secagg_nbgraph_neighbours_ (const fl_secagg_nbgraph_t *g, uint32_t u, uint32_t *out)
{
    if (g->complete) {
        memcpy (out, g->members, g->count * sizeof (uint32_t));
        return g->count;
    }
    uint32_t c = 0, p = g->pos[u];
    out[c++] = u;
    for (uint32_t j = 1; j <= g->h; j++) {
        out[c++] = g->ring[(p + j) % g->count];
        out[c++] = g->ring[(p + g->count - j) % g->count];
    }
    return c;
}

/*  ---------------------------------------------------------------------------
    Configuration of a bucket
    ------------------------------------------------------------------------- */

int
fl_secagg_config_check_ (const fl_secagg_config_t *cfg, bool client)
{
    const char *why = NULL;
    if (!cfg)
        why = "no configuration";
    else if (cfg->version != FL_SECAGG_VERSION)
        why = "unsupported protocol version";
    else if (cfg->purpose > FL_SECAGG_PURPOSE_MAX)
        why = "unknown purpose";
    else if (cfg->n < 2 || cfg->n > FL_SECAGG_MAX_CLIENTS)
        why = "n out of range 2..65535";
    else if (cfg->graph != FL_SECAGG_GRAPH_COMPLETE && cfg->graph != FL_SECAGG_GRAPH_HARARY)
        why = "unknown graph kind";
    else if (cfg->graph == FL_SECAGG_GRAPH_HARARY && (cfg->k < 3 || cfg->k > cfg->n || cfg->k % 2 == 0))
        why = "Harary neighbourhood size k must be odd and in 3..n";
    else if (cfg->t < 2 || cfg->t > (cfg->graph == FL_SECAGG_GRAPH_HARARY ? cfg->k : cfg->n))
        why = "threshold t must be in 2..k (COMPLETE: 2..n)";
    else if (cfg->m < 1 || cfg->m > FL_SECAGG_MAX_LENGTH)
        why = "vector length m out of range";
    else if (!cfg->roster_pks)
        why = "no roster public keys";
    else if (client && cfg->my_index >= cfg->n)
        why = "my_index out of range";
    else if (client && !cfg->id_secret_key)
        why = "no identity secret key";
    if (why) {
        zsys_error ("fl_secagg: invalid configuration: %s", why);
        return -1;
    }
    if (sodium_init () < 0) {
        zsys_error ("fl_secagg: sodium_init failed");
        return -1;
    }
    return 0;
}

/*  ---------------------------------------------------------------------------
    Parameter selection (docs/SECAGG.md §5)
    ------------------------------------------------------------------------- */

static double
s_lchoose (double a, double b)
{
    return lgamma (a + 1) - lgamma (b + 1) - lgamma (a - b + 1);
}

/*  Least c with P[X >= c] <= bound, X ~ Hypergeometric(population N, K
    marked, d draws): the pmf is summed from the top, O(d) lgamma calls. */
static uint32_t
s_hyper_quantile (uint32_t N, uint32_t K, uint32_t d, double bound)
{
    uint32_t hi = K < d ? K : d;
    uint32_t lo = d > N - K ? d - (N - K) : 0;
    double tail = 0, ltot = s_lchoose (N, d);
    uint32_t c = hi + 1;                           /* P[X >= hi + 1] = 0 */
    for (uint32_t x = hi + 1; x-- > lo;) {
        tail += exp (s_lchoose (K, x) + s_lchoose (N - K, d - x) - ltot);
        if (tail > bound)
            break;
        c = x;
    }
    return c;
}

/*  Corrupt clients assumed in a bucket of n: ceil(gamma n), at most n - 1. */
static uint32_t
s_corrupt_count (uint32_t n, double gamma)
{
    uint32_t nc = (uint32_t) ceil (gamma * n);
    return nc > n - 1 ? n - 1 : nc;
}

/*  The privacy condition for neighbourhood k: c* and t = max(2, ceil((k +
    c*) / 2)).  false if no t <= k exists (c* > k - 1). */
static bool
s_threshold (uint32_t n, uint32_t k, uint32_t nc, uint32_t *t_out)
{
    const double sec = ldexp (1.0, -FL_SECAGG_SIGMA_BITS) / n;
    /* c*: least c with P[C >= c] <= 2^-sigma / n, C corrupt among k-1 others */
    uint32_t cs = s_hyper_quantile (n - 1, nc, k - 1, sec);
    uint32_t t = (k + cs + 1) / 2;                 /* least t with 2t - k >= c* */
    if (t < 2)
        t = 2;
    *t_out = t;
    return cs <= k - 1;
}

int
fl_secagg_threshold_min (uint32_t n, uint32_t k, double gamma, uint32_t *t_out)
{
    if (!t_out || n < 2 || n > FL_SECAGG_MAX_CLIENTS || k < 2 || k > n || !(gamma >= 0 && gamma < 1))
        return -1;
    uint32_t t = 0;
    if (!s_threshold (n, k, s_corrupt_count (n, gamma), &t))
        return -1;
    *t_out = t;
    return 0;
}

/*  params_choose without the log line; delta < 0: privacy alone (the least
    feasible k, for the policy check). */
static int
s_params_choose (uint32_t n, double gamma, double delta, uint32_t *k_out, uint32_t *t_out)
{
    const double cor = ldexp (1.0, -FL_SECAGG_ETA_BITS) / n;
    uint32_t nc = s_corrupt_count (n, gamma), nd = delta > 0 ? (uint32_t) ceil (delta * n) : 0;
    /*  Odd k = 3, 5, ... up to a search limit of 4095, then the complete graph
        k = n.  Larger neighbourhoods only help, so the first feasible k is the
        cheapest safe one. */
    uint32_t k = 3;
    for (;;) {
        if (k > n)
            k = n;
        uint32_t t = 0;
        bool private_ok = s_threshold (n, k, nc, &t);
        /* d*: least d with P[D > d] <= 2^-eta / n, D dropped among the k holders */
        uint32_t q = s_hyper_quantile (n, nd, k, cor), ds = q ? q - 1 : 0;
        if (private_ok && t + ds <= k) {
            *k_out = k;
            *t_out = t;
            return 0;
        }
        if (k == n)
            break;
        k = (k + 2 < n && k + 2 <= 4095) ? k + 2 : n;
    }
    return -1;
}

int
fl_secagg_params_choose (uint32_t n, double gamma, double delta, uint32_t *k_out, uint32_t *t_out)
{
    if (!k_out || !t_out || n < 3 || n > FL_SECAGG_MAX_CLIENTS || !(gamma >= 0 && gamma < 1)
        || !(delta >= 0 && delta < 1)) {
        zsys_error ("fl_secagg_params_choose: need 3 <= n <= %u and gamma, delta in [0, 1) "
                    "(n = %u, gamma = %g, delta = %g)", FL_SECAGG_MAX_CLIENTS, n, gamma, delta);
        return -1;
    }
    if (s_params_choose (n, gamma, delta, k_out, t_out) == 0)
        return 0;
    zsys_error ("fl_secagg_params_choose: no safe (k, t) for n = %u, gamma = %g, delta = %g "
                "(sigma = %d, eta = %d)", n, gamma, delta, FL_SECAGG_SIGMA_BITS, FL_SECAGG_ETA_BITS);
    return -1;
}

int
fl_secagg_params_choose_auto (uint32_t n, double gamma, double *delta_out, uint32_t *k_out, uint32_t *t_out)
{
    static const double tries[] = {0.25, 0.2, 0.15, 0.1, 0.05, 0};
    if (!delta_out || !k_out || !t_out || n < 3 || n > FL_SECAGG_MAX_CLIENTS || !(gamma >= 0 && gamma < 1))
        return -1;
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++)
        if (s_params_choose (n, gamma, tries[i], k_out, t_out) == 0) {
            *delta_out = tries[i];
            return 0;
        }
    return -1;
}

/*  ---------------------------------------------------------------------------
    The consortium's policy, checked by every client (docs/SECAGG.md §6.1)
    ------------------------------------------------------------------------- */

void
fl_secagg_policy_default (fl_secagg_policy_t *policy)
{
    assert (policy);
    policy->gamma = FL_SECAGG_POLICY_GAMMA;
    policy->min_bucket = FL_SECAGG_POLICY_MIN_BUCKET;
    policy->graphs = FL_SECAGG_POLICY_GRAPHS;
}

int
fl_secagg_policy_valid (const fl_secagg_policy_t *policy, char *why, size_t cap)
{
    const char *bad = NULL;
    if (!policy)
        bad = "no policy";
    else if (!(policy->gamma >= 0 && policy->gamma < 1))
        bad = "gamma (colluding fraction) must be in [0, 1)";
    else if (policy->min_bucket < 2 || policy->min_bucket > FL_SECAGG_MAX_CLIENTS)
        bad = "min_bucket must be in 2..65535";
    else if (policy->graphs == 0 || (policy->graphs & ~FL_SECAGG_POLICY_GRAPHS))
        bad = "graphs must allow complete, harary or both";
    if (bad && why && cap)
        snprintf (why, cap, "%s", bad);
    return bad ? -1 : 0;
}

int
fl_secagg_policy_check (const fl_secagg_policy_t *policy, uint32_t n, uint32_t t, fl_secagg_graph_t graph,
                        uint32_t k, uint32_t *t_min, char *why, size_t cap)
{
    char buf[256] = "";
    int rc = -1;
    const char *gname = graph == FL_SECAGG_GRAPH_COMPLETE ? "complete" : graph == FL_SECAGG_GRAPH_HARARY ? "Harary" : "?";
    uint32_t need = 0, kmin = 0, tk = 0;
    if (fl_secagg_policy_valid (policy, buf, sizeof buf) != 0)
        ;
    else if (n < policy->min_bucket || n < 2 || n > FL_SECAGG_MAX_CLIENTS)
        snprintf (buf, sizeof buf, "bucket of %u clients offered, the policy requires at least %u%s", n,
                  policy->min_bucket, n == 2 ? " (in a bucket of 2 each member learns the other's input)" : "");
    else if ((unsigned) graph > FL_SECAGG_GRAPH_HARARY || !(policy->graphs & (1u << graph)))
        snprintf (buf, sizeof buf, "%s graph offered, the policy does not allow it", gname);
    else if (graph == FL_SECAGG_GRAPH_HARARY && (k < 3 || k > n || k % 2 == 0))
        snprintf (buf, sizeof buf, "Harary graph with k = %u offered for %u clients: k must be odd and in 3..%u",
                  k, n, n);
    else if (n == 2) {
        /*  A pair (only if the policy allows it): each member learns the
            other's input from the sum, whatever the threshold; t = 2. */
        if (t != 2 || graph != FL_SECAGG_GRAPH_COMPLETE)
            snprintf (buf, sizeof buf, "bucket of 2 offered with threshold %u on a %s graph: needs t = 2, complete",
                      t, gname);
        else {
            need = 2;
            rc = 0;
        }
    }
    else {
        tk = graph == FL_SECAGG_GRAPH_HARARY ? k : n;
        uint32_t tdummy = 0;
        if (s_params_choose (n, policy->gamma, -1, &kmin, &tdummy) != 0)
            snprintf (buf, sizeof buf, "no threshold keeps a bucket of %u private with gamma = %g colluding", n,
                      policy->gamma);
        else if (tk < kmin)
            snprintf (buf, sizeof buf, "neighbourhood k = %u offered for %u clients, the policy (gamma = %g) "
                      "requires k >= %u", tk, n, policy->gamma, kmin);
        else if (fl_secagg_threshold_min (n, tk, policy->gamma, &need) != 0)
            snprintf (buf, sizeof buf, "no threshold keeps k = %u private with gamma = %g colluding", tk,
                      policy->gamma);
        else if (t < need || t > tk)
            snprintf (buf, sizeof buf, "threshold t = %u offered for %u clients (%s graph, k = %u), the policy "
                      "(gamma = %g colluding) requires %u <= t <= %u", t, n, gname, tk, policy->gamma, need, tk);
        else
            rc = 0;
    }
    if (rc == 0 && t_min)
        *t_min = need;
    if (rc != 0 && why && cap)
        snprintf (why, cap, "%s", buf);
    return rc;
}

/*  ---------------------------------------------------------------------------
    Bucket membership (docs/SECAGG.md §4.1)
    ------------------------------------------------------------------------- */

int
fl_secagg_buckets_derive (const uint8_t run_id[FL_SECAGG_RUNIDBYTES], uint64_t round, uint32_t purpose,
                          const uint32_t *cohort, uint32_t count, uint32_t buckets, uint32_t *order)
{
    if (!run_id || !cohort || !order || count == 0 || count > FL_SECAGG_MAX_COHORT || buckets == 0
        || buckets > count)
        return -1;
    for (uint32_t i = 1; i < count; i++)
        if (cohort[i] <= cohort[i - 1])
            return -1;
    uint8_t seed[32];
    fl_secagg_buckets_seed_ (seed, run_id, round, purpose, buckets, cohort, count);
    fl_rng_t *rng = fl_rng_new (seed);
    if (!rng)
        return -1;
    for (uint32_t i = 0; i < count; i++)
        order[i] = i;
    fl_rng_shuffle_u32 (rng, order, count);
    fl_rng_destroy (&rng);
    return 0;
}
