/*  test_secagg_ctx.c - the session context, key derivation and domain
    separation of secure aggregation (libfl/secagg/fl_secagg_ctx.c).

    Every digest and key is recomputed here from the table of
    docs/SECAGG.md §2 with libsodium directly (a reference written from the
    specification, not from the code), so a change in any byte that is
    signed, hashed or authenticated fails this test.  Then the invariants of
    fl_secagg_ctx.c from the attacker's side: a low-order X25519 key yields
    no key (K3), both ends derive the same key (K4), keys of different uses
    never coincide (K2), and a signed advertisement does not verify once any
    field or the context changes (K1). */
#include <sodium.h>

#include "fl_rng.h"
#include "fl_secagg.h"
#include "fl_secagg_ctx.h"
#include "fl_test.h"

/*  Reference hashing from docs/SECAGG.md §2: BLAKE2b-256, label with its NUL,
    little-endian integers. */
static void
ref_init (crypto_generichash_state *st, const char *label)
{
    crypto_generichash_init (st, NULL, 0, 32);
    crypto_generichash_update (st, (const uint8_t *) label, strlen (label) + 1);
}

static void
ref_u32 (crypto_generichash_state *st, uint32_t v)
{
    uint8_t b[4] = {(uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24)};
    crypto_generichash_update (st, b, 4);
}

static void
ref_u64 (crypto_generichash_state *st, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t) (v >> (8 * i));
    crypto_generichash_update (st, b, 8);
}

/*  H(label, ctx, X25519(sk, peer_pk), lo, pk_lo, hi, pk_hi). */
static int
ref_kdf (uint8_t out[32], const char *label, const uint8_t ctx[32], const uint8_t *sk, const uint8_t *peer_pk,
         uint32_t lo, const uint8_t *lo_pk, uint32_t hi, const uint8_t *hi_pk)
{
    uint8_t dh[32];
    if (crypto_scalarmult (dh, sk, peer_pk) != 0)
        return -1;
    crypto_generichash_state st;
    ref_init (&st, label);
    crypto_generichash_update (&st, ctx, 32);
    crypto_generichash_update (&st, dh, 32);
    ref_u32 (&st, lo);
    crypto_generichash_update (&st, lo_pk, 32);
    ref_u32 (&st, hi);
    crypto_generichash_update (&st, hi_pk, 32);
    crypto_generichash_final (&st, out, 32);
    return 0;
}

static fl_secagg_config_t
s_config (uint8_t binding[32])
{
    fl_secagg_config_t cfg = {.version = FL_SECAGG_VERSION, .round = 0x0102030405060708ull, .bucket = 9,
                              .purpose = FL_SECAGG_PURPOSE_EVAL, .n = 40, .t = 17, .graph = FL_SECAGG_GRAPH_HARARY,
                              .k = 21, .m = 123456, .round_binding = binding};
    memcpy (cfg.run_id, "ctx-test-run-id!", 16);
    for (int i = 0; i < 32; i++)
        binding[i] = (uint8_t) (0xa0 + i);
    return cfg;
}

/*  ctx from the table: k is hashed as given (the caller passes 0 for
    COMPLETE), binding as given (the caller passes 32 zero bytes for none). */
static void
ref_ctx (const fl_secagg_config_t *cfg, uint32_t k, const uint8_t binding[32], uint8_t out[32])
{
    crypto_generichash_state st;
    ref_init (&st, "libfl secagg ctx v3");
    ref_u32 (&st, cfg->version);
    crypto_generichash_update (&st, cfg->run_id, 16);
    ref_u64 (&st, cfg->round);
    ref_u32 (&st, cfg->bucket);
    ref_u32 (&st, cfg->purpose);
    ref_u32 (&st, cfg->n);
    ref_u32 (&st, cfg->t);
    ref_u32 (&st, (uint32_t) cfg->graph);
    ref_u32 (&st, k);
    ref_u64 (&st, cfg->m);
    crypto_generichash_update (&st, binding, 32);
    crypto_generichash_final (&st, out, 32);
}

static void
test_ctx_digest_matches_specification (void)
{
    uint8_t binding[32], got[32], want[32];
    fl_secagg_config_t cfg = s_config (binding);
    ref_ctx (&cfg, cfg.k, binding, want);
    fl_secagg_ctx_digest (&cfg, got);
    FL_CHECK (memcmp (got, want, 32) == 0);

    /*  COMPLETE hashes k as 0, whatever k says; no binding = 32 zero bytes. */
    static const uint8_t zero[32];
    cfg.graph = FL_SECAGG_GRAPH_COMPLETE;
    cfg.round_binding = NULL;
    ref_ctx (&cfg, 0, zero, want);
    fl_secagg_ctx_digest (&cfg, got);
    FL_CHECK (memcmp (got, want, 32) == 0);
    cfg.round_binding = zero;
    fl_secagg_ctx_digest (&cfg, got);
    FL_CHECK (memcmp (got, want, 32) == 0);
    cfg.k = 7;                                  /* ignored for COMPLETE */
    fl_secagg_ctx_digest (&cfg, got);
    FL_CHECK (memcmp (got, want, 32) == 0);
    /*  Each field is in the digest: a different round binding moves it. */
    uint8_t other[32];
    memcpy (other, binding, 32);
    other[0] ^= 1;
    cfg.round_binding = other;
    fl_secagg_ctx_digest (&cfg, got);
    FL_CHECK (memcmp (got, want, 32) != 0);
}

/*  Advertisement, U1 digest, graph seed, survivor digest, consistency
    message, AEAD associated data, bucket seed: each against the table. */
static void
test_digests_match_specification (void)
{
    uint8_t binding[32], ctx[32], got[32], want[32];
    fl_secagg_config_t cfg = s_config (binding);
    fl_secagg_ctx_digest (&cfg, ctx);
    fl_secagg_advert_t a[3];
    fl_rng_t *rng = fl_rng_new_u64 (7, 0);
    for (uint32_t i = 0; i < 3; i++) {
        a[i].index = 2 * i + 1;
        fl_rng_bytes (rng, a[i].c_pk, 32);
        fl_rng_bytes (rng, a[i].s_pk, 32);
    }
    fl_rng_destroy (&rng);
    crypto_generichash_state st;

    ref_init (&st, "libfl secagg advertise v1");
    crypto_generichash_update (&st, ctx, 32);
    ref_u32 (&st, a[1].index);
    crypto_generichash_update (&st, a[1].c_pk, 32);
    crypto_generichash_update (&st, a[1].s_pk, 32);
    crypto_generichash_final (&st, want, 32);
    fl_secagg_advert_message_ (got, ctx, &a[1]);
    FL_CHECK (memcmp (got, want, 32) == 0);

    uint8_t u1[32];
    ref_init (&st, "libfl secagg U1 v1");
    crypto_generichash_update (&st, ctx, 32);
    ref_u32 (&st, 3);
    for (int i = 0; i < 3; i++) {
        ref_u32 (&st, a[i].index);
        crypto_generichash_update (&st, a[i].c_pk, 32);
        crypto_generichash_update (&st, a[i].s_pk, 32);
    }
    crypto_generichash_final (&st, want, 32);
    fl_secagg_u1_digest_ (u1, ctx, a, 3);
    FL_CHECK (memcmp (u1, want, 32) == 0);

    ref_init (&st, "libfl secagg graph v1");
    crypto_generichash_update (&st, ctx, 32);
    crypto_generichash_update (&st, u1, 32);
    crypto_generichash_final (&st, want, 32);
    fl_secagg_graph_seed_ (got, ctx, u1);
    FL_CHECK (memcmp (got, want, 32) == 0);

    const uint32_t u3[] = {1, 5};
    uint8_t d[32];
    ref_init (&st, "libfl secagg U3 v1");
    crypto_generichash_update (&st, ctx, 32);
    crypto_generichash_update (&st, u1, 32);
    crypto_generichash_update (&st, binding, 32);
    ref_u32 (&st, 2);
    ref_u32 (&st, 1);
    ref_u32 (&st, 5);
    crypto_generichash_final (&st, want, 32);
    fl_secagg_survivors_digest_ (d, ctx, u1, binding, u3, 2);
    FL_CHECK (memcmp (d, want, 32) == 0);

    uint8_t cm[FL_SECAGG_CONSISTENCYBYTES_], cwant[44];
    memcpy (cwant, "FLSA-U3\0", 8);
    memcpy (cwant + 8, d, 32);
    cwant[40] = 0x04; cwant[41] = 0x03; cwant[42] = 0x02; cwant[43] = 0x01;
    fl_secagg_consistency_message_ (cm, d, 0x01020304u);
    FL_CHECK (FL_SECAGG_CONSISTENCYBYTES_ == 44 && memcmp (cm, cwant, 44) == 0);

    uint8_t ad[FL_SECAGG_ADBYTES_], adwant[40];
    memcpy (adwant, ctx, 32);
    adwant[32] = 7; adwant[33] = 0; adwant[34] = 0; adwant[35] = 0;
    adwant[36] = 0x00; adwant[37] = 0x01; adwant[38] = 0; adwant[39] = 0;
    fl_secagg_share_ad_ (ad, ctx, 7, 256);
    FL_CHECK (FL_SECAGG_ADBYTES_ == 40 && memcmp (ad, adwant, 40) == 0);

    const uint32_t cohort[] = {3, 8, 12, 40};
    ref_init (&st, "libfl secagg buckets v1");
    crypto_generichash_update (&st, cfg.run_id, 16);
    ref_u64 (&st, 77);
    ref_u32 (&st, FL_SECAGG_PURPOSE_STATS);
    ref_u32 (&st, 2);
    ref_u32 (&st, 4);
    for (int i = 0; i < 4; i++)
        ref_u32 (&st, cohort[i]);
    crypto_generichash_final (&st, want, 32);
    fl_secagg_buckets_seed_ (got, cfg.run_id, 77, FL_SECAGG_PURPOSE_STATS, 2, cohort, 4);
    FL_CHECK (memcmp (got, want, 32) == 0);
}

/*  Share key and pairwise seed: the specification's KDF, the same at both
    ends (K4), different from each other for the same key pair (K2). */
static void
test_two_party_keys (void)
{
    uint8_t binding[32], ctx[32];
    fl_secagg_config_t cfg = s_config (binding);
    fl_secagg_ctx_digest (&cfg, ctx);
    uint8_t pk_u[32], sk_u[32], pk_v[32], sk_v[32];
    crypto_box_keypair (pk_u, sk_u);
    crypto_box_keypair (pk_v, sk_v);
    const uint32_t u = 12, v = 3;                  /* v < u: lo is v */
    uint8_t at_u[32], at_v[32], want[32];

    FL_CHECK (fl_secagg_share_key_ (at_u, ctx, sk_u, u, pk_u, v, pk_v) == 0);
    FL_CHECK (fl_secagg_share_key_ (at_v, ctx, sk_v, v, pk_v, u, pk_u) == 0);
    FL_CHECK (ref_kdf (want, "libfl secagg share key v1", ctx, sk_u, pk_v, v, pk_v, u, pk_u) == 0);
    FL_CHECK (memcmp (at_u, at_v, 32) == 0);
    FL_CHECK (memcmp (at_u, want, 32) == 0);

    uint8_t s_u[32], s_v[32];
    FL_CHECK (fl_secagg_pairwise_seed_ (s_u, ctx, sk_u, u, pk_u, v, pk_v) == 0);
    FL_CHECK (fl_secagg_pairwise_seed_ (s_v, ctx, sk_v, v, pk_v, u, pk_u) == 0);
    FL_CHECK (ref_kdf (want, "libfl secagg pairwise mask v1", ctx, sk_v, pk_u, v, pk_v, u, pk_u) == 0);
    FL_CHECK (memcmp (s_u, s_v, 32) == 0);
    FL_CHECK (memcmp (s_u, want, 32) == 0);
    FL_CHECK (memcmp (s_u, at_u, 32) != 0);          /* K2: a share key is never a mask seed */

    /*  K1: another round (another ctx) gives another key from the same pairs. */
    uint8_t ctx2[32], other[32];
    cfg.round++;
    fl_secagg_ctx_digest (&cfg, ctx2);
    FL_CHECK (fl_secagg_pairwise_seed_ (other, ctx2, sk_u, u, pk_u, v, pk_v) == 0);
    FL_CHECK (memcmp (other, s_u, 32) != 0);
    /*  Swapping the claimed indices (a relabelling attacker) changes the key. */
    FL_CHECK (fl_secagg_pairwise_seed_ (other, ctx, sk_u, v, pk_u, u, pk_v) == 0);
    FL_CHECK (memcmp (other, s_u, 32) != 0);
}

/*  K3 from the attacker's side: a peer advertising a low-order point (here
    the identity, all zeros, and the point of order 8 with x = 1) would make
    the shared secret known to everyone; the derivation refuses and writes
    nothing. */
static void
test_low_order_peer_key_refused (void)
{
    uint8_t ctx[32] = {1}, pk[32], sk[32];
    crypto_box_keypair (pk, sk);
    static const uint8_t low[2][32] = {{0}, {1}};
    for (int i = 0; i < 2; i++) {
        uint8_t out[32];
        memset (out, 0x5a, sizeof out);
        FL_CHECK (fl_secagg_share_key_ (out, ctx, sk, 0, pk, 1, low[i]) == -1);
        FL_CHECK (out[0] == 0x5a && out[31] == 0x5a);
        FL_CHECK (fl_secagg_pairwise_seed_ (out, ctx, sk, 0, pk, 1, low[i]) == -1);
        FL_CHECK (out[0] == 0x5a && out[31] == 0x5a);
    }
}

/*  K1 from the attacker's side: a signed advertisement verifies only as
    signed; the attacker swapping either key, the index or replaying it in
    another session gets a refusal. */
static void
test_advert_signature_binds_everything (void)
{
    uint8_t binding[32], ctx[32], id_pk[32], id_sk[64], m[32];
    fl_secagg_config_t cfg = s_config (binding);
    fl_secagg_ctx_digest (&cfg, ctx);
    crypto_sign_keypair (id_pk, id_sk);
    fl_secagg_advert_t a = {.index = 4};
    randombytes_buf (a.c_pk, 32);
    randombytes_buf (a.s_pk, 32);
    fl_secagg_advert_message_ (m, ctx, &a);
    crypto_sign_detached (a.sig, NULL, m, sizeof m, id_sk);
    FL_CHECK (fl_secagg_advert_verify_ (ctx, &a, id_pk) == 0);

    fl_secagg_advert_t b = a;
    b.c_pk[0] ^= 1;
    FL_CHECK (fl_secagg_advert_verify_ (ctx, &b, id_pk) != 0);
    b = a;
    b.s_pk[31] ^= 0x80;
    FL_CHECK (fl_secagg_advert_verify_ (ctx, &b, id_pk) != 0);
    b = a;
    b.index = 5;
    FL_CHECK (fl_secagg_advert_verify_ (ctx, &b, id_pk) != 0);
    uint8_t ctx2[32];
    cfg.purpose = FL_SECAGG_PURPOSE_TRAIN;
    fl_secagg_ctx_digest (&cfg, ctx2);
    FL_CHECK (fl_secagg_advert_verify_ (ctx2, &a, id_pk) != 0);
    uint8_t other_pk[32], other_sk[64];
    crypto_sign_keypair (other_pk, other_sk);
    FL_CHECK (fl_secagg_advert_verify_ (ctx, &a, other_pk) != 0);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (sodium_init () < 0)
        return 1;
    FL_RUN (test_ctx_digest_matches_specification);
    FL_RUN (test_digests_match_specification);
    FL_RUN (test_two_party_keys);
    FL_RUN (test_low_order_peer_key_refused);
    FL_RUN (test_advert_signature_binds_everything);
    FL_TEST_DONE ();
}
