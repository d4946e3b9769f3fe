/*  test_secagg_graph.c - the SecAgg+ neighbour graph, parameter selection,
    the client's policy, bucket membership and the configuration check
    (libfl/secagg/fl_secagg_graph.c; Bell et al. CCS 2020 §3-§4,
    docs/SECAGG.md §4-§6.1).

    The graph's invariants G1-G3 are checked on every vertex of graphs with
    gaps in U1; the privacy bound P1 is recomputed with an independent
    hypergeometric tail (pmf by its ratio recurrence in long double, not by
    lgamma); and from the attacker's side: a coordinator holding ceil(gamma
    n) colluders re-rolls the graph thousands of times (the grinding of
    docs/SECAGG.md §4) to surround a victim, and never gets the 2t - k
    colluding neighbours that reconstruction of the victim's secrets needs. */
#include <math.h>
#include <sodium.h>

#include "fl_secagg.h"
#include "fl_secagg_graph.h"
#include "fl_test.h"

/*  U1 = 0..n-1 without the multiples of 7 (gaps, as after dropouts). */
static uint32_t
s_members (uint32_t n, uint32_t *out)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < n; i++)
        if (i % 7 != 0)
            out[c++] = i;
    return c;
}

static void
s_seed (uint8_t b[32], uint32_t v)
{
    memset (b, 0, 32);
    memcpy (b, &v, sizeof v);
}

/*  G1, G2 on every vertex, for k from 3 up to past |U1| (complete). */
static void
test_graph_regular_symmetric (void)
{
    const uint32_t n = 60;
    uint32_t members[60], nb[64];
    uint32_t count = s_members (n, members);
    uint8_t ctx[32], u1[32];
    s_seed (ctx, 1);
    s_seed (u1, 2);
    const uint32_t ks[] = {3, 5, 11, 21, 49, 51, 59};
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        uint32_t k = ks[ki];
        fl_secagg_nbgraph_t g;
        FL_CHECK (fl_secagg_nbgraph_build_ (&g, n, members, count, FL_SECAGG_GRAPH_HARARY, k, ctx, u1) == 0);
        uint32_t want = k >= count ? count : k;
        FL_CHECK (fl_secagg_nbgraph_degree_ (&g) == want);
        FL_CHECK (g.complete == (k >= count));
        int bad_list = 0, bad_adj = 0, bad_sym = 0, bad_deg = 0;
        for (uint32_t i = 0; i < count; i++) {
            uint32_t u = members[i];
            uint32_t c = fl_secagg_nbgraph_neighbours_ (&g, u, nb);
            bad_list += c != want;
            bool self = false;
            for (uint32_t j = 0; j < c; j++) {
                self |= nb[j] == u;
                bad_adj += !fl_secagg_nbgraph_adjacent_ (&g, u, nb[j]);
                for (uint32_t l = 0; l < j; l++)
                    bad_list += nb[l] == nb[j];          /* distinct */
            }
            bad_list += !self;
            uint32_t deg = 0;
            for (uint32_t v = 0; v < n; v++) {
                bool a = fl_secagg_nbgraph_adjacent_ (&g, u, v);
                deg += a;
                bad_sym += a != fl_secagg_nbgraph_adjacent_ (&g, v, u);
            }
            bad_deg += deg != want;
        }
        FL_CHECK (bad_list == 0);
        FL_CHECK (bad_adj == 0);
        FL_CHECK (bad_sym == 0);
        FL_CHECK (bad_deg == 0);
        /*  G2: the gaps and out-of-range indices are adjacent to nothing. */
        int stray = 0;
        for (uint32_t v = 0; v < n + 3; v++)
            for (uint32_t u = 0; u < n; u += 7)
                stray += fl_secagg_nbgraph_adjacent_ (&g, u, v) || fl_secagg_nbgraph_adjacent_ (&g, v, u);
        FL_CHECK (stray == 0);
        FL_CHECK (!fl_secagg_nbgraph_in_ (&g, 14) && fl_secagg_nbgraph_in_ (&g, 15));
        FL_CHECK (!fl_secagg_nbgraph_in_ (&g, n) && !fl_secagg_nbgraph_in_ (&g, UINT32_MAX));
        fl_secagg_nbgraph_free_ (&g);
        FL_CHECK (g.members == NULL && g.pos == NULL && g.ring == NULL);
        fl_secagg_nbgraph_free_ (&g);                    /* safe twice */
    }
    /*  COMPLETE: N(u) = U1 ascending, whatever k says. */
    fl_secagg_nbgraph_t g;
    FL_CHECK (fl_secagg_nbgraph_build_ (&g, n, members, count, FL_SECAGG_GRAPH_COMPLETE, 3, ctx, u1) == 0);
    FL_CHECK (fl_secagg_nbgraph_neighbours_ (&g, 5, nb) == count && memcmp (nb, members, count * 4) == 0);
    fl_secagg_nbgraph_free_ (&g);
}

/*  G3: the ring is a function of (ctx, U1 digest) alone: the same
    transcript gives every party the same graph, another digest or context
    another graph. */
static void
test_graph_derived_not_chosen (void)
{
    const uint32_t n = 80;
    uint32_t members[80];
    uint32_t count = s_members (n, members);
    uint8_t ctx[32], u1[32];
    s_seed (ctx, 3);
    s_seed (u1, 4);
    fl_secagg_nbgraph_t a, b, c, d;
    FL_CHECK (fl_secagg_nbgraph_build_ (&a, n, members, count, FL_SECAGG_GRAPH_HARARY, 9, ctx, u1) == 0);
    FL_CHECK (fl_secagg_nbgraph_build_ (&b, n, members, count, FL_SECAGG_GRAPH_HARARY, 9, ctx, u1) == 0);
    FL_CHECK (memcmp (a.ring, b.ring, count * 4) == 0);
    u1[31] ^= 1;
    FL_CHECK (fl_secagg_nbgraph_build_ (&c, n, members, count, FL_SECAGG_GRAPH_HARARY, 9, ctx, u1) == 0);
    FL_CHECK (memcmp (a.ring, c.ring, count * 4) != 0);
    u1[31] ^= 1;
    ctx[0] ^= 1;
    FL_CHECK (fl_secagg_nbgraph_build_ (&d, n, members, count, FL_SECAGG_GRAPH_HARARY, 9, ctx, u1) == 0);
    FL_CHECK (memcmp (a.ring, d.ring, count * 4) != 0);
    /*  The ring is a permutation of U1, not the identity. */
    uint32_t sorted = 1;
    for (uint32_t i = 1; i < count; i++)
        sorted &= a.ring[i] > a.ring[i - 1];
    FL_CHECK (!sorted);
    int missing = 0;
    for (uint32_t i = 0; i < count; i++)
        missing += a.pos[members[i]] >= count || a.ring[a.pos[members[i]]] != members[i];
    FL_CHECK (missing == 0);
    fl_secagg_nbgraph_free_ (&a);
    fl_secagg_nbgraph_free_ (&b);
    fl_secagg_nbgraph_free_ (&c);
    fl_secagg_nbgraph_free_ (&d);
}

/*  P[X >= c], X ~ Hypergeometric(N, K marked, d draws), from the pmf's ratio
    recurrence P(x+1)/P(x) = (K-x)(d-x) / ((x+1)(N-K-d+x+1)), normalised by
    its own sum (independent of the library's lgamma tails). */
static long double
ref_tail (uint32_t N, uint32_t K, uint32_t d, uint32_t c)
{
    uint32_t lo = d > N - K ? d - (N - K) : 0, hi = K < d ? K : d;
    long double p = 1, total = 0, tail = 0;
    for (uint32_t x = lo; x <= hi; x++) {
        total += p;
        if (x >= c)
            tail += p;
        p *= (long double) (K - x) * (d - x) / ((long double) (x + 1) * (N - K - d + x + 1));
    }
    return tail / total;
}

/*  P1 with the reference tail: 2t - k >= c* (no n P[>= 2t-k] above
    2^-sigma), t minimal, and t + d* <= k. */
static void
test_params_bounds_independently (void)
{
    const long double sec = ldexpl (1.0L, -FL_SECAGG_SIGMA_BITS), cor = ldexpl (1.0L, -FL_SECAGG_ETA_BITS);
    const uint32_t ns[] = {10, 30, 100, 300, 1000};
    const double gammas[] = {0.0, 0.05, 0.15}, deltas[] = {0.0, 0.1};
    int checked = 0;
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (size_t gi = 0; gi < 3; gi++)
            for (size_t di = 0; di < 2; di++) {
                uint32_t n = ns[i], k, t;
                double gamma = gammas[gi], delta = deltas[di];
                if (fl_secagg_params_choose (n, gamma, delta, &k, &t) != 0)
                    continue;
                checked++;
                uint32_t nc = (uint32_t) ceil (gamma * n), nd = (uint32_t) ceil (delta * n);
                FL_CHECK (t >= 2 && t <= k && k <= n && (k == n || k % 2 == 1));
                /*  privacy: corrupt among u's k - 1 neighbours, population n - 1 */
                FL_CHECK (n * ref_tail (n - 1, nc, k - 1, 2 * t - k) <= sec * 1.0001L);
                if (t > 2 && 2 * (t - 1) >= k)
                    FL_CHECK (n * ref_tail (n - 1, nc, k - 1, 2 * (t - 1) - k) > sec * 0.9999L);
                /*  correctness: more than k - t of the k holders dropped */
                FL_CHECK (n * ref_tail (n, nd, k, k - t + 1) <= cor * 1.0001L);
                uint32_t tmin = 0;
                FL_CHECK (fl_secagg_threshold_min (n, k, gamma, &tmin) == 0 && tmin == t);
            }
    FL_CHECK (checked >= 20);
    uint32_t t = 99;
    FL_CHECK (fl_secagg_threshold_min (10, 11, 0.1, &t) == -1 && t == 99);     /* k > n */
    FL_CHECK (fl_secagg_threshold_min (10, 5, 1.0, &t) == -1 && t == 99);
    FL_CHECK (fl_secagg_threshold_min (10, 3, 0.9, &t) == -1 && t == 99);     /* c* > k - 1 */
}

/*  The attacker: a coordinator with ceil(gamma n) colluding clients re-rolls
    the graph (a fresh U1 digest per try, docs/SECAGG.md §4) to surround one
    honest victim.  Reconstructing both of the victim's secrets needs t
    shares of each; the victim's honest holders reveal one kind each, so the
    colluders need 2t - k of the victim's neighbours.  In 4,096 re-rolls it
    never gets them, while the same number of colluders placed by hand next
    to the victim on a chosen ring would (the reason the ring is derived). */
static void
test_grinding_attacker_cannot_surround_victim (void)
{
    const uint32_t n = 1000;
    const double gamma = 0.05;
    uint32_t k = 0, t = 0;
    FL_CHECK (fl_secagg_params_choose (n, gamma, 0.1, &k, &t) == 0);
    FL_CHECK (k < n);                                     /* a sparse graph */
    uint32_t nc = (uint32_t) ceil (gamma * n), need = 2 * t - k;
    uint32_t *members = malloc (n * sizeof (uint32_t)), *nb = malloc (n * sizeof (uint32_t));
    for (uint32_t i = 0; i < n; i++)
        members[i] = i;
    /*  Victim 0; colluders 1..nc.  On a ring the coordinator could choose
        (here: the identity order, written over a derived graph) the victim's
        neighbourhood holds enough of them. */
    uint8_t ctx[32], u1c[32];
    s_seed (ctx, 5);
    s_seed (u1c, 999);
    fl_secagg_nbgraph_t chosen;
    FL_CHECK (fl_secagg_nbgraph_build_ (&chosen, n, members, n, FL_SECAGG_GRAPH_HARARY, k, ctx, u1c) == 0);
    for (uint32_t i = 0; i < n; i++)
        chosen.ring[i] = chosen.pos[i] = i;
    uint32_t cc = fl_secagg_nbgraph_neighbours_ (&chosen, 0, nb), surrounded = 0;
    for (uint32_t j = 0; j < cc; j++)
        surrounded += nb[j] >= 1 && nb[j] <= nc;
    FL_CHECK (surrounded >= need);
    fl_secagg_nbgraph_free_ (&chosen);
    uint32_t best = 0;
    for (uint32_t tr = 0; tr < 4096; tr++) {
        uint8_t u1[32];
        s_seed (u1, 1000 + tr);
        fl_secagg_nbgraph_t g;
        if (fl_secagg_nbgraph_build_ (&g, n, members, n, FL_SECAGG_GRAPH_HARARY, k, ctx, u1) != 0)
            break;
        uint32_t c = fl_secagg_nbgraph_neighbours_ (&g, 0, nb), bad = 0;
        for (uint32_t j = 0; j < c; j++)
            bad += nb[j] >= 1 && nb[j] <= nc;
        if (bad > best)
            best = bad;
        fl_secagg_nbgraph_free_ (&g);
    }
    if (fl_test_verbose_)
        printf ("  n=%u k=%u t=%u colluders=%u need=%u best of 4096 re-rolls=%u, on a chosen ring=%u\n", n, k, t,
                nc, need, best, surrounded);
    FL_CHECK (best >= 1);                                  /* the attacker does move the graph */
    FL_CHECK (best < need);                                /* but never far enough */
    free (members);
    free (nb);
}

/*  P2: the policy accepts what params_choose gives under its gamma and
    refuses anything weaker, saying what was offered and what is required. */
static void
test_policy_check (void)
{
    fl_secagg_policy_t pol;
    fl_secagg_policy_default (&pol);
    char why[256];
    FL_CHECK (fl_secagg_policy_valid (&pol, why, sizeof why) == 0);
    const uint32_t ns[] = {5, 12, 40, 200};
    for (size_t i = 0; i < 4; i++) {
        uint32_t n = ns[i], k, t, tmin = 0;
        FL_CHECK (fl_secagg_params_choose (n, pol.gamma, 0.0, &k, &t) == 0);
        fl_secagg_graph_t gk = k >= n ? FL_SECAGG_GRAPH_COMPLETE : FL_SECAGG_GRAPH_HARARY;
        FL_CHECK (fl_secagg_policy_check (&pol, n, t, gk, k, &tmin, why, sizeof why) == 0);
        FL_CHECK (tmin == t);
        why[0] = 0;
        FL_CHECK (fl_secagg_policy_check (&pol, n, t - 1, gk, k, NULL, why, sizeof why) == -1);
        char offered[32];
        snprintf (offered, sizeof offered, "threshold t = %u", t - 1);
        FL_CHECK (strstr (why, offered) != NULL);
    }
    FL_CHECK (fl_secagg_policy_check (&pol, 2, 2, FL_SECAGG_GRAPH_COMPLETE, 2, NULL, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "at least 3") != NULL);
    FL_CHECK (fl_secagg_policy_check (&pol, 200, 20, FL_SECAGG_GRAPH_HARARY, 30, NULL, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "must be odd") != NULL);
    pol.graphs = 1u << FL_SECAGG_GRAPH_COMPLETE;
    FL_CHECK (fl_secagg_policy_check (&pol, 200, 20, FL_SECAGG_GRAPH_HARARY, 31, NULL, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "Harary graph offered") != NULL);
    /*  Malformed policies. */
    fl_secagg_policy_default (&pol);
    pol.gamma = 1.0;
    FL_CHECK (fl_secagg_policy_valid (&pol, why, sizeof why) == -1 && strstr (why, "gamma") != NULL);
    pol.gamma = NAN;
    FL_CHECK (fl_secagg_policy_valid (&pol, why, sizeof why) == -1);
    fl_secagg_policy_default (&pol);
    pol.min_bucket = 1;
    FL_CHECK (fl_secagg_policy_valid (&pol, why, sizeof why) == -1 && strstr (why, "min_bucket") != NULL);
    fl_secagg_policy_default (&pol);
    pol.graphs = 4;
    FL_CHECK (fl_secagg_policy_valid (&pol, why, sizeof why) == -1);
    FL_CHECK (fl_secagg_policy_valid (NULL, NULL, 0) == -1);
}

/*  B1: a permutation, another for another bucket count; malformed bucket
    counts refused without writing (determinism, the round and purpose in
    the seed and cohort refusals are in test_malicious_coordinator). */
static void
test_buckets_derive (void)
{
    uint8_t run[FL_SECAGG_RUNIDBYTES] = "bucket-test-run";
    uint32_t cohort[50], order[50], other[50];
    for (uint32_t i = 0; i < 50; i++)
        cohort[i] = 3 * i + 1;
    FL_CHECK (fl_secagg_buckets_derive (run, 4, FL_SECAGG_PURPOSE_TRAIN, cohort, 50, 4, order) == 0);
    uint8_t seen[50] = {0};
    int bad = 0;
    for (uint32_t i = 0; i < 50; i++) {
        bad += order[i] >= 50 || seen[order[i]];
        if (order[i] < 50)
            seen[order[i]] = 1;
    }
    FL_CHECK (bad == 0);
    FL_CHECK (fl_secagg_buckets_derive (run, 4, FL_SECAGG_PURPOSE_TRAIN, cohort, 50, 5, other) == 0);
    FL_CHECK (memcmp (order, other, sizeof order) != 0);
    memset (other, 0xee, sizeof other);
    FL_CHECK (fl_secagg_buckets_derive (run, 4, FL_SECAGG_PURPOSE_TRAIN, cohort, 50, 51, other) == -1);
    FL_CHECK (fl_secagg_buckets_derive (run, 4, FL_SECAGG_PURPOSE_TRAIN, cohort, 50, 0, other) == -1);
    FL_CHECK (fl_secagg_buckets_derive (run, 4, FL_SECAGG_PURPOSE_TRAIN, cohort, 0, 1, other) == -1);
    FL_CHECK (fl_secagg_buckets_derive (NULL, 4, FL_SECAGG_PURPOSE_TRAIN, cohort, 50, 4, other) == -1);
    FL_CHECK (other[0] == 0xeeeeeeeeu && other[49] == 0xeeeeeeeeu);
}

/*  The configuration check: each field out of range refused, the valid
    configuration accepted. */
static void
test_config_check (void)
{
    uint8_t pks[8 * 32] = {0}, sk[64] = {0};
    const fl_secagg_config_t ok = {.version = FL_SECAGG_VERSION, .n = 8, .t = 3, .graph = FL_SECAGG_GRAPH_HARARY,
                                   .k = 5, .m = 10, .roster_pks = pks, .my_index = 7, .id_secret_key = sk};
    FL_CHECK (fl_secagg_config_check_ (&ok, true) == 0);
    FL_CHECK (fl_secagg_config_check_ (NULL, false) == -1);
    fl_secagg_config_t c;
#define BAD(field, value, client)                                 \
    do {                                                          \
        c = ok;                                                   \
        c.field = value;                                          \
        FL_CHECK (fl_secagg_config_check_ (&c, client) == -1);    \
    } while (0)
    BAD (version, FL_SECAGG_VERSION + 1, false);
    BAD (purpose, FL_SECAGG_PURPOSE_MAX + 1, false);
    BAD (n, 1, false);
    BAD (n, FL_SECAGG_MAX_CLIENTS + 1, false);
    BAD (graph, (fl_secagg_graph_t) 2, false);
    BAD (k, 4, false);
    BAD (k, 1, false);
    BAD (k, 9, false);
    BAD (t, 1, false);
    BAD (t, 6, false);
    BAD (m, 0, false);
    BAD (m, (size_t) FL_SECAGG_MAX_LENGTH + 1, false);
    BAD (roster_pks, NULL, false);
    BAD (my_index, 8, true);
    BAD (id_secret_key, NULL, true);
#undef BAD
    c = ok;
    c.my_index = 8;                                   /* only the client has an index */
    FL_CHECK (fl_secagg_config_check_ (&c, false) == 0);
    c = ok;
    c.graph = FL_SECAGG_GRAPH_COMPLETE;
    c.k = 0;
    c.t = 8;                                          /* COMPLETE: t up to n */
    FL_CHECK (fl_secagg_config_check_ (&c, true) == 0);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (sodium_init () < 0)
        return 1;
    FL_RUN (test_graph_regular_symmetric);
    FL_RUN (test_graph_derived_not_chosen);
    FL_RUN (test_params_bounds_independently);
    FL_RUN (test_grinding_attacker_cannot_surround_victim);
    FL_RUN (test_policy_check);
    FL_RUN (test_buckets_derive);
    FL_RUN (test_config_check);
    FL_TEST_DONE ();
}
