/*  fl_shamir.c - Shamir secret sharing over GF(2^61 - 1) (see fl_shamir.h).

    Field elements are uint64_t in canonical form [0, p).  Multiplication is
    one 64x64 -> 128-bit product reduced with the Mersenne identity
    2^61 = 1 (mod p): z = hi * 2^61 + lo  =>  z = hi + lo (mod p).  Every
    reduction ends in s_csub, a branch-free conditional subtraction, so the
    time taken never depends on a secret value.

    A polynomial per secret element: f_e(x) = s_e + a_{e,1} x + ... + a_{e,t-1} x^{t-1}.
    All 5 polynomials live in one fl_secmem (sodium_malloc) block, poly[e * t + j] being
    the coefficient of x^j (j = 0 is the secret element), wiped and freed
    before returning.
*/
#define FL_TESTING 1
#include "fl_shamir.h"
#include "fl_secmem.h"

#include <assert.h>
#include <czmq.h>
#include <sodium.h>
#include <string.h>

#define P FL_SHAMIR_PRIME
#define E FL_SHAMIR_ELEMENTS

struct fl_shamir_lagrange_t {
    uint32_t t;
    uint32_t *indices;      /* t x-coordinates, in the caller's order */
    uint64_t *coeff;        /* t Lagrange coefficients at 0, same order */
};

/* ---- field arithmetic (constant time in the values) ---------------------- */

/*  r < 2p (more precisely r < 2^63 + p)  ->  r mod p, without branching. */
static inline uint64_t
s_csub (uint64_t r)
{
    uint64_t d = r - P;
    uint64_t mask = 0 - (d >> 63);      /* all ones iff r < p (d wrapped) */
    return d + (P & mask);
}

uint64_t
fl_shamir_field_add (uint64_t a, uint64_t b)
{
    return s_csub (a + b);
}

uint64_t
fl_shamir_field_sub (uint64_t a, uint64_t b)
{
    return s_csub (a + P - b);
}

uint64_t
fl_shamir_field_mul (uint64_t a, uint64_t b)
{
    unsigned __int128 z = (unsigned __int128) a * b;    /* < 2^122 */
    uint64_t lo = (uint64_t) z & P;
    uint64_t hi = (uint64_t) (z >> 61);                 /* <= p - 1 for a, b < p */
    return s_csub (lo + hi);
}

/*  a^(p-2) = a^-1 by Fermat.  Square-and-multiply over the public exponent:
    the sequence of operations is the same for every a.  Only public values
    (share indices) are ever inverted. */
uint64_t
fl_shamir_field_inv (uint64_t a)
{
    assert (a != 0 && a < P);
    const uint64_t e = P - 2;
    uint64_t r = 1;
    for (int bit = 60; bit >= 0; bit--) {
        r = fl_shamir_field_mul (r, r);
        if ((e >> bit) & 1)
            r = fl_shamir_field_mul (r, a);
    }
    return r;
}

/* ---- encoding --------------------------------------------------------- */

static inline void
s_store_u64 (uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static inline uint64_t
s_load_u64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t) p[i] << (8 * i);
    return v;
}

/*  32 bytes -> 5 elements of 7 bytes (the last one: 4 bytes + zero padding). */
static void
s_secret_to_elements (const uint8_t secret[FL_SHAMIR_SECRETBYTES], uint64_t elem[E])
{
    for (uint32_t e = 0; e < E; e++) {
        elem[e] = 0;
        for (uint32_t b = 0; b < 7; b++) {
            uint32_t k = e * 7 + b;
            if (k < FL_SHAMIR_SECRETBYTES)
                elem[e] |= (uint64_t) secret[k] << (8 * b);
        }
    }
}

/* ---- index validation ------------------------------------------------- */

/*  Checks count indices: each in 1..MAX, pairwise distinct.  what names the
    caller for the log line.  Indices are public, so branching is fine. */
static int
s_check_indices (const uint32_t *indices, uint32_t count, const char *what)
{
    uint8_t *seen = (uint8_t *) calloc ((FL_SHAMIR_MAX_PARTIES + 8) / 8 + 1, 1);
    if (!seen) {
        zsys_error ("%s: out of memory", what);
        return -1;
    }
    int rc = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t x = indices[i];
        if (x == 0 || x > FL_SHAMIR_MAX_PARTIES) {
            zsys_error ("%s: share index %u at position %u is outside 1..%u",
                        what, x, i, FL_SHAMIR_MAX_PARTIES);
            rc = -1;
            break;
        }
        if (seen[x >> 3] & (1u << (x & 7))) {
            zsys_error ("%s: duplicate share index %u at position %u", what, x, i);
            rc = -1;
            break;
        }
        seen[x >> 3] |= (uint8_t) (1u << (x & 7));
    }
    free (seen);
    return rc;
}

/* ---- split ------------------------------------------------------------ */

/*  coeffs: NULL for random coefficients (production), else test coefficients. */
static int
s_split (const uint8_t secret[FL_SHAMIR_SECRETBYTES], uint32_t t, uint32_t n,
         const uint32_t *indices, const uint64_t *coeffs, fl_shamir_share_t *shares_out)
{
    assert (secret);
    assert (shares_out);
    if (t == 0 || t > n || n > FL_SHAMIR_MAX_PARTIES) {
        zsys_error ("fl_shamir_split: need 1 <= t <= n <= %u, got t = %u, n = %u",
                    FL_SHAMIR_MAX_PARTIES, t, n);
        return -1;
    }
    if (indices && s_check_indices (indices, n, "fl_shamir_split") != 0)
        return -1;
    if (coeffs) {
        for (size_t k = 0; k < (size_t) E * (t - 1); k++)
            if (coeffs[k] >= P) {
                zsys_error ("fl_shamir_split: coefficient %zu is not a field element", k);
                return -1;
            }
    }
    if (sodium_init () < 0) {
        zsys_error ("fl_shamir_split: libsodium initialisation failed");
        return -1;
    }
    size_t ncoef = (size_t) E * t;
    uint64_t *poly = (uint64_t *) fl_secmem_alloc (ncoef * sizeof (uint64_t));
    if (!poly) {
        zsys_error ("fl_shamir_split: out of secure memory (%zu coefficients)", ncoef);
        return -1;
    }
    uint64_t elem[E];
    s_secret_to_elements (secret, elem);
    for (uint32_t e = 0; e < E; e++) {
        uint64_t *f = poly + (size_t) e * t;
        f[0] = elem[e];
        if (t == 1)
            continue;
        if (coeffs)
            memcpy (f + 1, coeffs + (size_t) e * (t - 1), (t - 1) * sizeof (uint64_t));
        else {
            /* Uniform in [0, p): take 61 random bits, reject the single value p.
               Whether a (random, not yet used) draw was rejected is independent
               of the secret. */
            randombytes_buf (f + 1, (t - 1) * sizeof (uint64_t));
            for (uint32_t j = 1; j < t; j++) {
                f[j] &= P;
                while (f[j] == P) {
                    randombytes_buf (&f[j], sizeof f[j]);
                    f[j] &= P;
                }
            }
        }
    }
    sodium_memzero (elem, sizeof elem);

    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = indices ? indices[i] : (uint64_t) i + 1;
        shares_out[i].index = (uint32_t) x;
        for (uint32_t e = 0; e < E; e++) {
            const uint64_t *f = poly + (size_t) e * t;
            uint64_t acc = f[t - 1];        /* Horner: fixed operation count */
            for (uint32_t j = t - 1; j-- > 0;)
                acc = fl_shamir_field_add (fl_shamir_field_mul (acc, x), f[j]);
            s_store_u64 (shares_out[i].value + 8 * e, acc);
        }
    }
    fl_secmem_free (poly);     /* fl_secmem_free wipes the block */
    return 0;
}

int
fl_shamir_split (const uint8_t secret[FL_SHAMIR_SECRETBYTES], uint32_t t, uint32_t n,
                 const uint32_t *indices, fl_shamir_share_t *shares_out)
{
    return s_split (secret, t, n, indices, NULL, shares_out);
}

int
fl_shamir_split_with_coeffs (const uint8_t secret[FL_SHAMIR_SECRETBYTES], uint32_t t,
                             uint32_t n, const uint32_t *indices, const uint64_t *coeffs,
                             fl_shamir_share_t *shares_out)
{
    static const uint64_t none[1] = {0};
    if (!coeffs) {
        assert (t <= 1);
        coeffs = none;
    }
    return s_split (secret, t, n, indices, coeffs, shares_out);
}

/* ---- Lagrange interpolation at 0 ----------------------------------------- */

fl_shamir_lagrange_t *
fl_shamir_lagrange_new (const uint32_t *indices, uint32_t t)
{
    assert (indices || t == 0);
    if (t == 0 || t > FL_SHAMIR_MAX_PARTIES) {
        zsys_error ("fl_shamir_lagrange_new: need 1 <= t <= %u, got %u",
                    FL_SHAMIR_MAX_PARTIES, t);
        return NULL;
    }
    if (s_check_indices (indices, t, "fl_shamir_lagrange_new") != 0)
        return NULL;
    fl_shamir_lagrange_t *self = (fl_shamir_lagrange_t *) calloc (1, sizeof *self);
    if (self) {
        self->indices = (uint32_t *) malloc (t * sizeof (uint32_t));
        self->coeff = (uint64_t *) malloc (t * sizeof (uint64_t));
    }
    if (!self || !self->indices || !self->coeff) {
        zsys_error ("fl_shamir_lagrange_new: out of memory (t = %u)", t);
        fl_shamir_lagrange_destroy (&self);
        return NULL;
    }
    self->t = t;
    memcpy (self->indices, indices, t * sizeof (uint32_t));
    /*  lambda_i = prod_{j != i} x_j / (x_j - x_i)
                 = (prod_j x_j) / (x_i * prod_{j != i} (x_j - x_i)).
        All values public; one inversion per coefficient. */
    uint64_t all = 1;
    for (uint32_t j = 0; j < t; j++)
        all = fl_shamir_field_mul (all, indices[j]);
    for (uint32_t i = 0; i < t; i++) {
        uint64_t den = indices[i];
        for (uint32_t j = 0; j < t; j++)
            if (j != i)
                den = fl_shamir_field_mul (den, fl_shamir_field_sub (indices[j], indices[i]));
        self->coeff[i] = fl_shamir_field_mul (all, fl_shamir_field_inv (den));
    }
    return self;
}

void
fl_shamir_lagrange_destroy (fl_shamir_lagrange_t **self_p)
{
    assert (self_p);
    fl_shamir_lagrange_t *self = *self_p;
    if (self) {
        free (self->indices);
        free (self->coeff);
        free (self);
        *self_p = NULL;
    }
}

uint32_t
fl_shamir_lagrange_size (const fl_shamir_lagrange_t *self)
{
    assert (self);
    return self->t;
}

int
fl_shamir_combine (const fl_shamir_lagrange_t *lg, const fl_shamir_share_t *shares,
                   uint8_t secret_out[FL_SHAMIR_SECRETBYTES])
{
    assert (lg);
    assert (shares);
    assert (secret_out);
    for (uint32_t i = 0; i < lg->t; i++)
        if (shares[i].index != lg->indices[i]) {
            zsys_error ("fl_shamir_combine: share %u has index %u, the Lagrange set expects %u",
                        i, shares[i].index, lg->indices[i]);
            return -1;
        }
    uint64_t acc[E] = {0};
    uint64_t bad = 0;
    for (uint32_t i = 0; i < lg->t; i++)
        for (uint32_t e = 0; e < E; e++) {
            uint64_t y = s_load_u64 (shares[i].value + 8 * e);
            bad |= (y >> 61) | ((y + 1) >> 61);     /* non-zero iff y >= p */
            acc[e] = fl_shamir_field_add (acc[e], fl_shamir_field_mul (lg->coeff[i], y & P));
        }
    for (uint32_t e = 0; e < E - 1; e++)
        bad |= acc[e] >> 56;
    bad |= acc[E - 1] >> 32;        /* 4 secret bytes + 3 zero padding bytes */
    if (bad) {
        sodium_memzero (acc, sizeof acc);
        zsys_error ("fl_shamir_combine: shares do not reconstruct a valid secret "
                    "(non-canonical share value or bad padding: tampered or mixed shares)");
        return -1;
    }
    for (uint32_t k = 0; k < FL_SHAMIR_SECRETBYTES; k++)
        secret_out[k] = (uint8_t) (acc[k / 7] >> (8 * (k % 7)));
    sodium_memzero (acc, sizeof acc);
    return 0;
}

int
fl_shamir_reconstruct (const fl_shamir_share_t *shares, uint32_t count, uint32_t t,
                       uint8_t secret_out[FL_SHAMIR_SECRETBYTES])
{
    assert (shares || count == 0);
    if (t == 0 || count < t) {
        zsys_error ("fl_shamir_reconstruct: need 1 <= t <= count, got t = %u, count = %u",
                    t, count);
        return -1;
    }
    uint32_t *idx = (uint32_t *) malloc (t * sizeof (uint32_t));
    if (!idx) {
        zsys_error ("fl_shamir_reconstruct: out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < t; i++)
        idx[i] = shares[i].index;
    fl_shamir_lagrange_t *lg = fl_shamir_lagrange_new (idx, t);
    free (idx);
    if (!lg)
        return -1;
    int rc = fl_shamir_combine (lg, shares, secret_out);
    fl_shamir_lagrange_destroy (&lg);
    return rc;
}
