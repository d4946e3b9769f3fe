/*  fl_secagg_ctx.h - the secure-aggregation session context, key derivation
    and domain separation, shared only by the files of libfl/secagg/ (the
    client machine, the server machine, the neighbour graph).  Not part of
    the public API: callers use fl_secagg.h (fl_secagg_ctx_digest is
    declared there).

    Every hash, signature, key derivation and AEAD of the protocol is built
    here, under its own domain label, over the session context digest ctx
    (fl_secagg_ctx_digest: docs/SECAGG.md §2), so the labels are spelled in
    one file (fl_secagg_ctx.c) and a message of one session, purpose or
    phase can never be taken for one of another.  Byte order on the wire and
    under the hash: little-endian.  Sizes are 32 bytes unless named.
    Source: Bonawitz et al. CCS 2017, Fig. 4 (signed AdvertiseKeys, the
    pairwise and share keys from key agreement, ConsistencyCheck).
*/
#ifndef FL_SECAGG_CTX_H_INCLUDED
#define FL_SECAGG_CTX_H_INCLUDED

#include <sodium.h>

#include "fl_secagg.h"

/*  AEAD associated data of one share ciphertext: ctx || sender || receiver. */
#define FL_SECAGG_ADBYTES_          40u
/*  What ConsistencyCheck signs: "FLSA-U3\0" || D || signer. */
#define FL_SECAGG_CONSISTENCYBYTES_ 44u

/*  p[0..4) = v, little-endian. */
void fl_secagg_put32_ (uint8_t *p, uint32_t v);

/*  BLAKE2b-256 state started with the domain label (its NUL included), and
    little-endian u32 / u64 fields added to it. */
void fl_secagg_hash_init_ (crypto_generichash_state *st, const char *label);
void fl_secagg_hash_u32_ (crypto_generichash_state *st, uint32_t v);
void fl_secagg_hash_u64_ (crypto_generichash_state *st, uint64_t v);

/*  The AEAD key between clients me and peer for their encrypted shares:
    KDF(X25519(my_c_sk, peer_c_pk), ctx, both indices and public keys in
    ascending index order), label "libfl secagg share key v1".  Both ends
    derive the same key.  Returns 0; -1 (out not written, the shared
    point wiped) if peer_c_pk is a low-order point. */
int fl_secagg_share_key_ (uint8_t out[32], const uint8_t ctx[32], const uint8_t *my_c_sk, uint32_t me,
                          const uint8_t *my_c_pk, uint32_t peer, const uint8_t *peer_c_pk)
    __attribute__ ((warn_unused_result));

/*  The pairwise mask seed s_uv between clients me and peer (the same for
    both; docs/SECAGG.md §3, round 2): as share_key_ with the masking keys
    and label "libfl secagg pairwise mask v1".  The server derives it from a
    dropped client's reconstructed s^SK.  Returns 0; -1 (out not written,
    the shared point wiped) if peer_s_pk is a low-order point. */
int fl_secagg_pairwise_seed_ (uint8_t out[32], const uint8_t ctx[32], const uint8_t *my_s_sk, uint32_t me,
                              const uint8_t *my_s_pk, uint32_t peer, const uint8_t *peer_s_pk)
    __attribute__ ((warn_unused_result));

/*  What AdvertiseKeys signs: H(label || ctx || index || c_pk || s_pk). */
void fl_secagg_advert_message_ (uint8_t out[32], const uint8_t ctx[32], const fl_secagg_advert_t *a);

/*  0 if a's signature verifies under the identity key id_pk (32 bytes) in
    this ctx; -1 otherwise. */
int fl_secagg_advert_verify_ (const uint8_t ctx[32], const fl_secagg_advert_t *a, const uint8_t *id_pk)
    __attribute__ ((warn_unused_result));

/*  Transcript digest of U1 (count adverts, ascending indices): what the
    graph seed and the ConsistencyCheck bind to. */
void fl_secagg_u1_digest_ (uint8_t out[32], const uint8_t ctx[32], const fl_secagg_advert_t *items,
                           uint32_t count);

/*  D = H(label || ctx || U1 digest || round binding || |U3| || U3): the
    survivor set digest ConsistencyCheck signatures cover. */
void fl_secagg_survivors_digest_ (uint8_t out[32], const uint8_t ctx[32], const uint8_t u1[32],
                                  const uint8_t binding[32], const uint32_t *ids, uint32_t count);

/*  The ConsistencyCheck message of signer over D. */
void fl_secagg_consistency_message_ (uint8_t out[FL_SECAGG_CONSISTENCYBYTES_], const uint8_t d[32],
                                     uint32_t signer);

/*  AEAD associated data of the share ciphertext sender -> receiver. */
void fl_secagg_share_ad_ (uint8_t ad[FL_SECAGG_ADBYTES_], const uint8_t ctx[32], uint32_t sender,
                          uint32_t receiver);

/*  Seed (FL_RNG_SEEDBYTES = 32) of the ring permutation of the neighbour
    graph: H(label || ctx || U1 digest) (docs/SECAGG.md §4). */
void fl_secagg_graph_seed_ (uint8_t seed[32], const uint8_t ctx[32], const uint8_t u1[32]);

/*  Seed of the bucket shuffle: H(label || run_id || round || purpose ||
    buckets || count || cohort...) (docs/SECAGG.md §4.1). */
void fl_secagg_buckets_seed_ (uint8_t seed[32], const uint8_t run_id[FL_SECAGG_RUNIDBYTES], uint64_t round,
                              uint32_t purpose, uint32_t buckets, const uint32_t *cohort, uint32_t count);

#endif
