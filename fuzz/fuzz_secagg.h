/*  fuzz_secagg.h - the bucket configuration and input format shared by
    fuzz_secagg.c and the corpus generator (make_corpus.c).

    One bucket of FUZZ_SA_N clients (complete graph, threshold FUZZ_SA_T,
    vectors of FUZZ_SA_M values), identity keys derived from fixed seeds so
    a recorded session's signatures verify when replayed.  The target runs
    the server and client 0.

    Input: a sequence of records
        op    1 byte    op % 4: 0 payload to the server, 1 payload to client 0,
                        2 the server's phase deadline, 3 client 0 starts
                        (makes its ADVERTISE)
        len   2 bytes   little-endian payload length (cut to what remains)
        data  len bytes a SECAGG wire message (fl_secagg_wire)
*/
#ifndef FUZZ_SECAGG_H_INCLUDED
#define FUZZ_SECAGG_H_INCLUDED

#include <fl_secagg.h>
#include <sodium.h>
#include <string.h>

#define FUZZ_SA_N 4u
#define FUZZ_SA_T 3u
#define FUZZ_SA_M 8u

static const uint8_t fuzz_sa_run[16] = "fuzz-secagg-run1";

/* Identity key pair of client i from a fixed seed. */
static inline void
fuzz_sa_identity (uint32_t i, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    memset (seed, 0, sizeof seed);
    seed[0] = (uint8_t) (i + 1);
    crypto_sign_seed_keypair (pk, sk, seed);
}

static inline void
fuzz_sa_config (fl_secagg_config_t *cfg, const uint8_t *pks, uint32_t my_index, const uint8_t *sk)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->version = FL_SECAGG_VERSION;
    memcpy (cfg->run_id, fuzz_sa_run, 16);
    cfg->round = 1;
    cfg->bucket = 0;
    cfg->n = FUZZ_SA_N;
    cfg->t = FUZZ_SA_T;
    cfg->graph = FL_SECAGG_GRAPH_COMPLETE;
    cfg->k = FUZZ_SA_N;
    cfg->m = FUZZ_SA_M;
    cfg->roster_pks = pks;
    cfg->my_index = my_index;
    cfg->id_secret_key = sk;
}

#endif
