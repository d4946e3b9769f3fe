/*  fl_secagg_graph.h - the SecAgg+ neighbour graph over U1 and the check of
    a bucket's configuration, shared only by the files of libfl/secagg/ (the
    client and server machines) and its unit test.  Not part of the public
    API: parameter selection, the consortium's policy and bucket membership,
    implemented in fl_secagg_graph.c, are declared in fl_secagg.h.

    Source: Bell et al., "Secure Single-Server Aggregation with
    (Poly)Logarithmic Overhead", CCS 2020, §3 (the k-regular Harary graph
    H(k-1, |U1|) on a pseudorandomly ordered ring); docs/SECAGG.md §4.
*/
#ifndef FL_SECAGG_GRAPH_H_INCLUDED
#define FL_SECAGG_GRAPH_H_INCLUDED

#include "fl_secagg.h"

/*  The neighbour graph over U1 as both machines hold it.  Every honest party
    builds the same one from (n, U1, kind, k, ctx, U1 digest). */
typedef struct {
    uint32_t n;           /* bucket size: indices 0..n-1 */
    uint32_t count;       /* |U1| */
    uint32_t h;           /* ring half-width (k-1)/2; unused when complete */
    bool     complete;
    uint32_t *members;    /* count: U1 ascending */
    uint32_t *pos;        /* n: ring position of index (UINT32_MAX if not in U1) */
    uint32_t *ring;       /* count: index at ring position */
} fl_secagg_nbgraph_t;

/*  Builds the graph over members (count indices of U1, ascending, each < n):
    the complete graph when kind is COMPLETE or k >= count, else the members
    on a ring in the order of a permutation drawn by ChaCha20 (fl_rng) seeded
    with fl_secagg_graph_seed_ (ctx, u1) and each joined to the (k-1)/2
    nearest on either side.  The arrays of g are owned by g (free with
    fl_secagg_nbgraph_free_).  Returns 0, or -1 (g zeroed) on allocation
    failure.  k must be odd when kind is HARARY (the caller checked the
    configuration). */
int fl_secagg_nbgraph_build_ (fl_secagg_nbgraph_t *g, uint32_t n, const uint32_t *members, uint32_t count,
                              fl_secagg_graph_t kind, uint32_t k, const uint8_t ctx[32], const uint8_t u1[32])
    __attribute__ ((warn_unused_result));

/*  Frees g's arrays and zeroes g; safe on a zeroed or freed g. */
void fl_secagg_nbgraph_free_ (fl_secagg_nbgraph_t *g);

/*  Is u in U1 (a vertex of the graph)? */
bool fl_secagg_nbgraph_in_ (const fl_secagg_nbgraph_t *g, uint32_t u);

/*  Are u and v both in U1 and neighbours (u adjacent to itself)? */
bool fl_secagg_nbgraph_adjacent_ (const fl_secagg_nbgraph_t *g, uint32_t u, uint32_t v);

/*  Neighbourhood size k, u included (|U1| for the complete graph). */
uint32_t fl_secagg_nbgraph_degree_ (const fl_secagg_nbgraph_t *g);

/*  Writes N(u), u included, to out (room for fl_secagg_nbgraph_degree_
    entries; u must be in U1); returns how many.  Complete graph: U1
    ascending; Harary: u, then its ring neighbours at distance 1, 1, 2, 2... */
uint32_t fl_secagg_nbgraph_neighbours_ (const fl_secagg_nbgraph_t *g, uint32_t u, uint32_t *out);

/*  Checks a bucket's configuration before a machine is made (client: also
    my_index and the identity secret key) and initialises libsodium.
    Returns 0, or -1 with a log line naming what is wrong (version, purpose,
    n, graph kind, k, t, m, missing keys) or that sodium_init failed. */
int fl_secagg_config_check_ (const fl_secagg_config_t *cfg, bool client);

#endif
