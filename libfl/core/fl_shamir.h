/*  fl_shamir - t-of-n Shamir secret sharing of 32-byte secrets over GF(2^61 - 1).

    Secure aggregation (Bonawitz et al., CCS 2017, §4; Bell et al., CCS 2020)
    has every client share its masking secret key s_sk and its self-mask seed
    b_u among its neighbours, so that the coordinator can remove the masks of
    a client that dropped out (from s_sk) or of one that survived (from b_u)
    once at least t neighbours answer.  This module is that sharing scheme
    (Shamir, "How to share a secret", CACM 1979).

    Why GF(2^61 - 1) and not GF(2^8): the x-coordinate of a share is the
    client's index, and a field has only (size - 1) distinct non-zero points,
    so GF(2^8) caps a cohort at 255 parties.  We need >= 65,535, and the
    Mersenne prime p = 2^61 - 1 gives multiplication with one 128-bit product
    and a shift-and-add reduction, with no secret-dependent branches.

    Encoding: a 32-byte secret is cut into 5 little-endian field elements of
    7 bytes (56 bits) each; the last element holds bytes 28..31 and three zero
    padding bytes.  Every element is < 2^56 < p, so encoding is injective, and
    a reconstructed element >= 2^56 or with non-zero padding proves that a
    share was tampered with (or that shares of different secrets were mixed).
    A share is the 5 polynomial values f_e(index), each a little-endian u64.

    Constant time: field arithmetic on secret values (coefficients, share
    values, secrets) has no secret-dependent branches or memory accesses.
    Only public values (indices, hence Lagrange coefficients) are inverted.
    Secrets and random coefficients live in sodium_malloc and are wiped.
*/
#ifndef FL_SHAMIR_H_INCLUDED
#define FL_SHAMIR_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_SHAMIR_SECRETBYTES 32u
#define FL_SHAMIR_SHAREBYTES  40u      /* 5 elements of GF(2^61 - 1), little-endian u64 each */
#define FL_SHAMIR_MAX_PARTIES 65535u
#define FL_SHAMIR_ELEMENTS    5u       /* field elements per secret / share */
#define FL_SHAMIR_PRIME       0x1FFFFFFFFFFFFFFFull   /* 2^61 - 1 */

typedef struct {
    uint32_t index;                              /* x-coordinate, 1..FL_SHAMIR_MAX_PARTIES */
    uint8_t  value[FL_SHAMIR_SHAREBYTES];
} fl_shamir_share_t;

/*  Splits secret into n shares with reconstruction threshold t: any t shares
    give the secret back, any t - 1 reveal nothing about it (information-
    theoretically).  Requires 1 <= t <= n <= FL_SHAMIR_MAX_PARTIES.
    indices: n distinct x-coordinates in 1..FL_SHAMIR_MAX_PARTIES, or NULL for
    1..n.  shares_out: n entries, caller-allocated (sodium_malloc recommended,
    the values are secret).  Polynomial coefficients are drawn uniformly from
    the field with libsodium randombytes_buf (rejection sampling).
    Returns 0, or -1 with a zsys_error line on bad t / n / indices (duplicate,
    zero or out of range) or allocation failure; shares_out is then left
    untouched. */
int fl_shamir_split (const uint8_t secret[FL_SHAMIR_SECRETBYTES], uint32_t t, uint32_t n,
                     const uint32_t *indices, fl_shamir_share_t *shares_out);

/*  Lagrange coefficients at x = 0 for one set of t share indices, computed
    once (O(t^2) multiplications, t inversions) and reused for every secret
    shared with the same index set.  The coefficients depend only on the
    public indices.  NULL + zsys_error on duplicate, zero or out-of-range
    index, t == 0 or t > FL_SHAMIR_MAX_PARTIES.  Caller owns the result. */
typedef struct fl_shamir_lagrange_t fl_shamir_lagrange_t;
fl_shamir_lagrange_t *fl_shamir_lagrange_new (const uint32_t *indices, uint32_t t);

/*  Frees the coefficient set and nulls *self_p; safe on NULL and twice. */
void fl_shamir_lagrange_destroy (fl_shamir_lagrange_t **self_p);

/*  Number of indices (the threshold t) the set was made for. */
uint32_t fl_shamir_lagrange_size (const fl_shamir_lagrange_t *self);

/*  Reconstructs the secret from t shares; shares[i].index must equal the
    i-th index given to fl_shamir_lagrange_new.  Returns -1 (with zsys_error)
    on index mismatch, a share element that is not a canonical field element
    (>= p), or a reconstructed value that is not a valid encoding of a 32-byte
    secret (element >= 2^56 or non-zero padding: a tampered share).  Writes
    nothing to secret_out on failure.  A tampered share that still decodes to
    a valid encoding yields a wrong secret: Shamir sharing alone does not
    authenticate shares (secure aggregation authenticates them with AEAD). */
int fl_shamir_combine (const fl_shamir_lagrange_t *lg, const fl_shamir_share_t *shares,
                       uint8_t secret_out[FL_SHAMIR_SECRETBYTES]) __attribute__ ((warn_unused_result));

/*  Convenience: reconstructs from the first t of count shares (one-off
    Lagrange set).  -1 on count < t, t == 0, bad indices, or as combine. */
int fl_shamir_reconstruct (const fl_shamir_share_t *shares, uint32_t count, uint32_t t,
                           uint8_t secret_out[FL_SHAMIR_SECRETBYTES]) __attribute__ ((warn_unused_result));

#ifdef FL_TESTING
/*  Test-only entry points (always compiled into the library, declared only for
    tests), so known-answer tests can fix the polynomial.

    fl_shamir_split_with_coeffs: as fl_shamir_split but with caller-chosen
    coefficients: coeffs[e * (t - 1) + (j - 1)] is the coefficient of x^j of
    the polynomial for secret element e (e < 5, 1 <= j < t); each must be < p.
    NULL coeffs is allowed only when t == 1. */
int fl_shamir_split_with_coeffs (const uint8_t secret[FL_SHAMIR_SECRETBYTES], uint32_t t,
                                 uint32_t n, const uint32_t *indices, const uint64_t *coeffs,
                                 fl_shamir_share_t *shares_out);
/*  Field operations in GF(2^61 - 1) on canonical elements (< p). */
uint64_t fl_shamir_field_add (uint64_t a, uint64_t b);
uint64_t fl_shamir_field_sub (uint64_t a, uint64_t b);
uint64_t fl_shamir_field_mul (uint64_t a, uint64_t b);
uint64_t fl_shamir_field_inv (uint64_t a);    /* a != 0, public values only */
#endif

#ifdef __cplusplus
}
#endif
#endif
