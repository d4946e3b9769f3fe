/*  fl_secagg_ctx.c - the session context, key derivation and domain
    separation of secure aggregation (Bonawitz et al. CCS 2017, Fig. 4;
    docs/SECAGG.md §2-§4).  No state, no I/O: pure functions of their
    arguments, used by the client and server machines and the graph.

    DEFINITIONS
      ctx      32-byte digest of (version, run id, round, bucket, purpose, n,
               t, graph, k, m, round binding): fl_secagg_ctx_digest.
      label    a NUL-terminated domain string hashed first into every digest
               and KDF below; each use has its own, and they are all in this
               file.
      KDF      BLAKE2b-256 (label || ctx || X25519 point || lo || pk_lo || hi
               || pk_hi), lo < hi the two client indices (as crypto_kx binds
               both public keys).

    INVARIANTS
      K1  Every derived key, seed, signed message and AEAD associated data
          includes ctx, so nothing of one session (run, round, bucket,
          purpose, parameters, model) is accepted in another.
      K2  Every hash starts with a label used for nothing else: a share key
          is never a mask seed, an advertisement digest never a survivor
          digest, a graph seed never a bucket seed.
      K3  A key agreement with a low-order point (all-zero X25519 output)
          fails and leaves nothing behind (output not written, the shared
          point wiped).
      K4  Two-party keys are symmetric: me and peer derive the same bytes
          (indices and public keys ordered by index).

    WHAT IS DERIVED, AND WHO USES IT

      cfg --fl_secagg_ctx_digest--> ctx --+--> advert_message  (client signs, all verify)
                                          +--> u1_digest --+--> graph_seed (ring order)
                                          |                +--> survivors_digest D
                                          |                       --> consistency_message
                                          +--> share_key  (X25519 c keys) + share_ad --> AEAD
                                          +--> pairwise_seed (X25519 s keys) --> fl_prg masks
      run id, round, purpose, cohort --buckets_seed--> bucket shuffle (no ctx: precedes it)
*/
#include "fl_secagg_ctx.h"

#include <string.h>

void
fl_secagg_put32_ (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v; p[1] = (uint8_t) (v >> 8); p[2] = (uint8_t) (v >> 16); p[3] = (uint8_t) (v >> 24);
}

void
fl_secagg_hash_u32_ (crypto_generichash_state *st, uint32_t v)
{
    uint8_t b[4];
    fl_secagg_put32_ (b, v);
    crypto_generichash_update (st, b, 4);
}

void
fl_secagg_hash_u64_ (crypto_generichash_state *st, uint64_t v)
{
    fl_secagg_hash_u32_ (st, (uint32_t) v);
    fl_secagg_hash_u32_ (st, (uint32_t) (v >> 32));
}

void
fl_secagg_hash_init_ (crypto_generichash_state *st, const char *label)
{
    crypto_generichash_init (st, NULL, 0, 32);
    crypto_generichash_update (st, (const uint8_t *) label, strlen (label) + 1);
}

void
fl_secagg_ctx_digest (const fl_secagg_config_t *cfg, uint8_t out[FL_SECAGG_CTXBYTES])
{
    crypto_generichash_state st;
    static const uint8_t zero[FL_SECAGG_BINDINGBYTES];
    fl_secagg_hash_init_ (&st, "libfl secagg ctx v3");
    fl_secagg_hash_u32_ (&st, cfg->version);
    crypto_generichash_update (&st, cfg->run_id, FL_SECAGG_RUNIDBYTES);
    fl_secagg_hash_u64_ (&st, cfg->round);
    fl_secagg_hash_u32_ (&st, cfg->bucket);
    fl_secagg_hash_u32_ (&st, cfg->purpose);
    fl_secagg_hash_u32_ (&st, cfg->n);
    fl_secagg_hash_u32_ (&st, cfg->t);
    fl_secagg_hash_u32_ (&st, (uint32_t) cfg->graph);
    fl_secagg_hash_u32_ (&st, cfg->graph == FL_SECAGG_GRAPH_HARARY ? cfg->k : 0);
    fl_secagg_hash_u64_ (&st, (uint64_t) cfg->m);
    /*  The model from the first message on (docs/SECAGG.md §2): clients
        shown different models have different contexts, so they never
        verify each other's advertisements, decrypt each other's shares or
        derive the same pairwise masks. */
    crypto_generichash_update (&st, cfg->round_binding ? cfg->round_binding : zero, FL_SECAGG_BINDINGBYTES);
    crypto_generichash_final (&st, out, FL_SECAGG_CTXBYTES);
}

/*  32-byte key from an X25519 shared point between clients lo < hi, bound to
    ctx, a purpose label and both public keys (as crypto_kx does).  Returns
    -1 (and wipes) if the peer key is a low-order point (all-zero output). */
static int
s_dh_kdf (uint8_t out[32], const char *label, const uint8_t ctx[32], const uint8_t *my_sk,
          const uint8_t *peer_pk, uint32_t lo, const uint8_t *lo_pk, uint32_t hi, const uint8_t *hi_pk)
{
    uint8_t dh[crypto_scalarmult_BYTES];
    if (crypto_scalarmult (dh, my_sk, peer_pk) != 0) {
        sodium_memzero (dh, sizeof dh);
        return -1;
    }
    crypto_generichash_state st;
    fl_secagg_hash_init_ (&st, label);
    crypto_generichash_update (&st, ctx, 32);
    crypto_generichash_update (&st, dh, sizeof dh);
    fl_secagg_hash_u32_ (&st, lo);
    crypto_generichash_update (&st, lo_pk, 32);
    fl_secagg_hash_u32_ (&st, hi);
    crypto_generichash_update (&st, hi_pk, 32);
    crypto_generichash_final (&st, out, 32);
    sodium_memzero (dh, sizeof dh);
    sodium_memzero (&st, sizeof st);
    return 0;
}

void
fl_secagg_advert_message_ (uint8_t out[32], const uint8_t ctx[32], const fl_secagg_advert_t *a)
{
    crypto_generichash_state st;
    fl_secagg_hash_init_ (&st, "libfl secagg advertise v1");
    crypto_generichash_update (&st, ctx, 32);
    fl_secagg_hash_u32_ (&st, a->index);
    crypto_generichash_update (&st, a->c_pk, 32);
    crypto_generichash_update (&st, a->s_pk, 32);
    crypto_generichash_final (&st, out, 32);
}

int
fl_secagg_advert_verify_ (const uint8_t ctx[32], const fl_secagg_advert_t *a, const uint8_t *id_pk)
{
    uint8_t msg[32];
    fl_secagg_advert_message_ (msg, ctx, a);
    return crypto_sign_verify_detached (a->sig, msg, sizeof msg, id_pk);
}

void
fl_secagg_u1_digest_ (uint8_t out[32], const uint8_t ctx[32], const fl_secagg_advert_t *items,
                      uint32_t count)
{
    crypto_generichash_state st;
    fl_secagg_hash_init_ (&st, "libfl secagg U1 v1");
    crypto_generichash_update (&st, ctx, 32);
    fl_secagg_hash_u32_ (&st, count);
    for (uint32_t i = 0; i < count; i++) {
        fl_secagg_hash_u32_ (&st, items[i].index);
        crypto_generichash_update (&st, items[i].c_pk, 32);
        crypto_generichash_update (&st, items[i].s_pk, 32);
    }
    crypto_generichash_final (&st, out, 32);
}

void
fl_secagg_survivors_digest_ (uint8_t out[32], const uint8_t ctx[32], const uint8_t u1[32],
                             const uint8_t binding[32], const uint32_t *ids, uint32_t count)
{
    crypto_generichash_state st;
    fl_secagg_hash_init_ (&st, "libfl secagg U3 v1");
    crypto_generichash_update (&st, ctx, 32);
    crypto_generichash_update (&st, u1, 32);
    crypto_generichash_update (&st, binding, 32);
    fl_secagg_hash_u32_ (&st, count);
    for (uint32_t i = 0; i < count; i++)
        fl_secagg_hash_u32_ (&st, ids[i]);
    crypto_generichash_final (&st, out, 32);
}

void
fl_secagg_consistency_message_ (uint8_t out[FL_SECAGG_CONSISTENCYBYTES_], const uint8_t d[32], uint32_t signer)
{
    memcpy (out, "FLSA-U3", 8);
    memcpy (out + 8, d, 32);
    fl_secagg_put32_ (out + 40, signer);
}

int
fl_secagg_share_key_ (uint8_t out[32], const uint8_t ctx[32], const uint8_t *my_c_sk, uint32_t me,
                      const uint8_t *my_c_pk, uint32_t peer, const uint8_t *peer_c_pk)
{
    return s_dh_kdf (out, "libfl secagg share key v1", ctx, my_c_sk, peer_c_pk, me < peer ? me : peer,
                     me < peer ? my_c_pk : peer_c_pk, me < peer ? peer : me, me < peer ? peer_c_pk : my_c_pk);
}

int
fl_secagg_pairwise_seed_ (uint8_t out[32], const uint8_t ctx[32], const uint8_t *my_s_sk, uint32_t me,
                          const uint8_t *my_s_pk, uint32_t peer, const uint8_t *peer_s_pk)
{
    return s_dh_kdf (out, "libfl secagg pairwise mask v1", ctx, my_s_sk, peer_s_pk, me < peer ? me : peer,
                     me < peer ? my_s_pk : peer_s_pk, me < peer ? peer : me, me < peer ? peer_s_pk : my_s_pk);
}

void
fl_secagg_share_ad_ (uint8_t ad[FL_SECAGG_ADBYTES_], const uint8_t ctx[32], uint32_t sender, uint32_t receiver)
{
    memcpy (ad, ctx, 32);
    fl_secagg_put32_ (ad + 32, sender);
    fl_secagg_put32_ (ad + 36, receiver);
}

void
fl_secagg_graph_seed_ (uint8_t seed[32], const uint8_t ctx[32], const uint8_t u1[32])
{
    crypto_generichash_state st;
    fl_secagg_hash_init_ (&st, "libfl secagg graph v1");
    crypto_generichash_update (&st, ctx, 32);
    crypto_generichash_update (&st, u1, 32);
    crypto_generichash_final (&st, seed, 32);
}

void
fl_secagg_buckets_seed_ (uint8_t seed[32], const uint8_t run_id[FL_SECAGG_RUNIDBYTES], uint64_t round,
                         uint32_t purpose, uint32_t buckets, const uint32_t *cohort, uint32_t count)
{
    crypto_generichash_state st;
    fl_secagg_hash_init_ (&st, "libfl secagg buckets v1");
    crypto_generichash_update (&st, run_id, FL_SECAGG_RUNIDBYTES);
    fl_secagg_hash_u64_ (&st, round);
    fl_secagg_hash_u32_ (&st, purpose);
    fl_secagg_hash_u32_ (&st, buckets);
    fl_secagg_hash_u32_ (&st, count);
    for (uint32_t i = 0; i < count; i++)
        fl_secagg_hash_u32_ (&st, cohort[i]);
    crypto_generichash_final (&st, seed, 32);
}
