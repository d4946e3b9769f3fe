/*  test_shamir.c - fl_shamir: field arithmetic against a naive reference,
    known-answer shares, reconstruction from any t of n, hiding of t - 1
    shares (statistical), error cases, tamper detection. */
#define FL_TESTING 1
#include "fl_shamir.h"
#include "fl_rng.h"
#include "fl_test.h"

#include <czmq.h>
#include <sodium.h>

#define P FL_SHAMIR_PRIME

static uint64_t
s_elem (const fl_shamir_share_t *s, int e)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t) s->value[8 * e + i] << (8 * i);
    return v;
}

static void
s_set_elem (fl_shamir_share_t *s, int e, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        s->value[8 * e + i] = (uint8_t) (v >> (8 * i));
}

static void
test_field (void)
{
    fl_rng_t *r = fl_rng_new_u64 (61, 0);
    const uint64_t edge[] = {0, 1, 2, P - 1, P - 2, (uint64_t) 1 << 60, ((uint64_t) 1 << 60) + 1,
                             0xFFFFFFFFull, 0x100000000ull};
    const size_t ne = sizeof edge / sizeof edge[0];
    int mul_ok = 1, add_ok = 1, sub_ok = 1, inv_ok = 1;
    for (int k = 0; k < 200000; k++) {
        uint64_t a = k < (int) (ne * ne) ? edge[k % ne] : fl_rng_uniform (r, P);
        uint64_t b = k < (int) (ne * ne) ? edge[k / ne] : fl_rng_uniform (r, P);
        uint64_t ref = (uint64_t) (((unsigned __int128) a * b) % P);
        mul_ok &= fl_shamir_field_mul (a, b) == ref;
        add_ok &= fl_shamir_field_add (a, b) == (a + b) % P;
        sub_ok &= fl_shamir_field_sub (a, b) == (a + P - b) % P;
        if (a != 0 && k % 16 == 0)
            inv_ok &= fl_shamir_field_mul (a, fl_shamir_field_inv (a)) == 1;
    }
    FL_CHECK (mul_ok);
    FL_CHECK (add_ok);
    FL_CHECK (sub_ok);
    FL_CHECK (inv_ok);
    FL_CHECK (fl_shamir_field_inv (1) == 1);
    FL_CHECK (fl_shamir_field_inv (2) == ((uint64_t) 1 << 60));   /* 2 * 2^60 = 2^61 = 1 */
    FL_CHECK (fl_shamir_field_inv (P - 1) == P - 1);                /* (-1)^-1 = -1 */
    fl_rng_destroy (&r);
}

/*  Wikipedia "Shamir's secret sharing" example: secret 1234, polynomial
    1234 + 166x + 94x^2, shares f(1..6) = 1494, 1942, 2578, 3402, 4414, 5614.
    Our element 0 carries the secret 1234 (bytes d2 04 little-endian); the
    other elements are zero with zero coefficients, so their shares are 0. */
static void
test_known_answer_wikipedia (void)
{
    uint8_t secret[32] = {0xd2, 0x04};
    uint64_t coeffs[5 * 2] = {166, 94};
    fl_shamir_share_t sh[6];
    FL_CHECK (fl_shamir_split_with_coeffs (secret, 3, 6, NULL, coeffs, sh) == 0);
    const uint64_t expect[6] = {1494, 1942, 2578, 3402, 4414, 5614};
    for (int i = 0; i < 6; i++) {
        FL_CHECK (sh[i].index == (uint32_t) i + 1);
        FL_CHECK (s_elem (&sh[i], 0) == expect[i]);
        for (int e = 1; e < 5; e++)
            FL_CHECK (s_elem (&sh[i], e) == 0);
    }
    /* Wikipedia reconstructs from shares 2, 4, 5. */
    fl_shamir_share_t pick[3] = {sh[1], sh[3], sh[4]};
    uint8_t out[32];
    FL_CHECK (fl_shamir_reconstruct (pick, 3, 3, out) == 0);
    FL_CHECK (memcmp (out, secret, 32) == 0);
}

/*  Coefficients near p and the top index 65535 exercise modular wrap-around.
    Golden values computed independently with Python big integers:
      el = [int.from_bytes(sec[7e:7e+7], 'little')], f_e(x) = el + c1 x + c2 x^2 mod p. */
static void
test_known_answer_wrap (void)
{
    uint8_t secret[32];
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t) (i + 1);
    const uint64_t coeffs[10] = {P - 1, P - 2, (uint64_t) 1 << 60, 3, 123456789, 987654321,
                                 0, P - 1, P - 1, P - 1};
    const uint32_t idx[3] = {1, 2, 65535};
    const uint64_t expect[3][5] = {
        {0x70605040301feull, 0x100e0d0c0b0a090bull, 0x151413544b45d5ull, 0x1c1b1a19181715ull, 0x201f1e1bull},
        {0x70605040301f7ull, 0xe0d0c0b0a0915ull, 0x1514140c424cfdull, 0x1c1b1a19181712ull, 0x201f1e17ull},
        {0x7060304060200ull, 0x100e0d0f0b04890aull, 0x1af30e634146abacull, 0x1c1b19191a1715ull, 0x1fffffff20201e1cull},
    };
    fl_shamir_share_t sh[3];
    FL_CHECK (fl_shamir_split_with_coeffs (secret, 3, 3, idx, coeffs, sh) == 0);
    for (int i = 0; i < 3; i++)
        for (int e = 0; e < 5; e++)
            FL_CHECK (s_elem (&sh[i], e) == expect[i][e]);
    uint8_t out[32];
    FL_CHECK (fl_shamir_reconstruct (sh, 3, 3, out) == 0);
    FL_CHECK (memcmp (out, secret, 32) == 0);
    /* A coefficient that is not a field element is refused. */
    uint64_t badc[10] = {P};
    FL_CHECK (fl_shamir_split_with_coeffs (secret, 3, 3, idx, badc, sh) == -1);
}

/*  Any t of n shares, in any order, give the secret back. */
static void
test_any_t_of_n (void)
{
    fl_rng_t *r = fl_rng_new_u64 (2017, 1);
    fl_shamir_share_t *sh = (fl_shamir_share_t *) sodium_malloc (100 * sizeof *sh);
    fl_shamir_share_t pick[100];
    uint32_t perm[100];
    int ok = 1;
    for (int trial = 0; trial < 400; trial++) {
        uint32_t n = 1 + (uint32_t) fl_rng_uniform (r, 100);
        uint32_t t = 1 + (uint32_t) fl_rng_uniform (r, n);
        uint8_t secret[32], out[32];
        fl_rng_bytes (r, secret, 32);
        if (fl_shamir_split (secret, t, n, NULL, sh) != 0) {
            ok = 0;
            continue;
        }
        for (uint32_t i = 0; i < n; i++)
            perm[i] = i;
        fl_rng_shuffle_u32 (r, perm, n);
        for (uint32_t i = 0; i < t; i++)
            pick[i] = sh[perm[i]];
        ok &= fl_shamir_reconstruct (pick, t, t, out) == 0 && memcmp (out, secret, 32) == 0;
        /* More than t shares: the first t of them are used. */
        if (t < n) {
            for (uint32_t i = 0; i < n; i++)
                pick[i] = sh[perm[i]];
            ok &= fl_shamir_reconstruct (pick, n, t, out) == 0 && memcmp (out, secret, 32) == 0;
        }
    }
    FL_CHECK (ok);
    sodium_free (sh);
    fl_rng_destroy (&r);
}

/*  Indices near the top of the range, Lagrange set reused for many secrets,
    and a cohort of the full 65,535 parties (t small, so it stays fast). */
static void
test_large_indices (void)
{
    uint32_t idx[12];
    for (int i = 0; i < 12; i++)
        idx[i] = FL_SHAMIR_MAX_PARTIES - (uint32_t) (3 * i);     /* 65535, 65532, ... */
    const uint32_t t = 7;
    fl_shamir_share_t sh[12], pick[7];
    uint32_t pidx[7] = {idx[11], idx[0], idx[5], idx[3], idx[9], idx[1], idx[7]};
    fl_shamir_lagrange_t *lg = fl_shamir_lagrange_new (pidx, t);
    FL_CHECK (lg != NULL);
    FL_CHECK (lg && fl_shamir_lagrange_size (lg) == t);
    int ok = 1;
    for (int k = 0; k < 50; k++) {
        uint8_t secret[32], out[32];
        randombytes_buf (secret, 32);
        ok &= fl_shamir_split (secret, t, 12, idx, sh) == 0;
        const int map[7] = {11, 0, 5, 3, 9, 1, 7};
        for (int i = 0; i < 7; i++)
            pick[i] = sh[map[i]];
        ok &= lg && fl_shamir_combine (lg, pick, out) == 0 && memcmp (out, secret, 32) == 0;
    }
    FL_CHECK (ok);
    fl_shamir_lagrange_destroy (&lg);
    FL_CHECK (lg == NULL);
    fl_shamir_lagrange_destroy (&lg);

    /* n = 65,535 (every possible index), t = 3: reconstruct from the last three. */
    fl_shamir_share_t *all = (fl_shamir_share_t *) sodium_malloc (FL_SHAMIR_MAX_PARTIES * sizeof *all);
    uint8_t secret[32], out[32];
    randombytes_buf (secret, 32);
    FL_CHECK (fl_shamir_split (secret, 3, FL_SHAMIR_MAX_PARTIES, NULL, all) == 0);
    FL_CHECK (all[FL_SHAMIR_MAX_PARTIES - 1].index == 65535);
    FL_CHECK (fl_shamir_reconstruct (all + FL_SHAMIR_MAX_PARTIES - 3, 3, 3, out) == 0);
    FL_CHECK (memcmp (out, secret, 32) == 0);
    sodium_free (all);
}

static void
test_edge_thresholds (void)
{
    uint8_t secret[32], out[32];
    randombytes_buf (secret, 32);
    fl_shamir_share_t sh[5];
    /* t = 1: every share alone is the encoded secret. */
    FL_CHECK (fl_shamir_split (secret, 1, 5, NULL, sh) == 0);
    for (int i = 0; i < 5; i++) {
        FL_CHECK (fl_shamir_reconstruct (sh + i, 1, 1, out) == 0);
        FL_CHECK (memcmp (out, secret, 32) == 0);
    }
    /* t = n: all needed, and more shares than t: the first t are used. */
    FL_CHECK (fl_shamir_split (secret, 5, 5, NULL, sh) == 0);
    FL_CHECK (fl_shamir_reconstruct (sh, 5, 5, out) == 0);
    FL_CHECK (memcmp (out, secret, 32) == 0);
    FL_CHECK (fl_shamir_split (secret, 3, 5, NULL, sh) == 0);
    FL_CHECK (fl_shamir_reconstruct (sh, 5, 3, out) == 0);
    FL_CHECK (memcmp (out, secret, 32) == 0);
    /* All-0xff secret: the largest encodable element values. */
    memset (secret, 0xff, 32);
    FL_CHECK (fl_shamir_split (secret, 4, 5, NULL, sh) == 0);
    FL_CHECK (fl_shamir_reconstruct (sh + 1, 4, 4, out) == 0);
    FL_CHECK (memcmp (out, secret, 32) == 0);
}

static void
test_errors (void)
{
    uint8_t secret[32] = {1}, out[32];
    memset (out, 0xAA, 32);
    fl_shamir_share_t sh[5];
    FL_CHECK (fl_shamir_split (secret, 0, 5, NULL, sh) == -1);
    FL_CHECK (fl_shamir_split (secret, 6, 5, NULL, sh) == -1);
    FL_CHECK (fl_shamir_split (secret, 2, FL_SHAMIR_MAX_PARTIES + 1, NULL, sh) == -1);
    const uint32_t dup[5] = {1, 2, 3, 2, 5}, zero[5] = {1, 0, 3, 4, 5},
                   big[5] = {1, 2, 3, 4, FL_SHAMIR_MAX_PARTIES + 1};
    FL_CHECK (fl_shamir_split (secret, 2, 5, dup, sh) == -1);
    FL_CHECK (fl_shamir_split (secret, 2, 5, zero, sh) == -1);
    FL_CHECK (fl_shamir_split (secret, 2, 5, big, sh) == -1);
    FL_CHECK (fl_shamir_lagrange_new (dup, 5) == NULL);
    FL_CHECK (fl_shamir_lagrange_new (zero, 5) == NULL);
    FL_CHECK (fl_shamir_lagrange_new (big, 5) == NULL);
    FL_CHECK (fl_shamir_lagrange_new (dup, 0) == NULL);
    fl_shamir_lagrange_t *ok3 = fl_shamir_lagrange_new (dup, 3);   /* {1,2,3} is fine */
    FL_CHECK (ok3 != NULL);
    fl_shamir_lagrange_destroy (&ok3);

    FL_CHECK (fl_shamir_split (secret, 3, 5, NULL, sh) == 0);
    FL_CHECK (fl_shamir_reconstruct (sh, 2, 3, out) == -1);     /* count < t */
    FL_CHECK (fl_shamir_reconstruct (sh, 5, 0, out) == -1);
    fl_shamir_share_t twice[3] = {sh[0], sh[1], sh[0]};
    FL_CHECK (fl_shamir_reconstruct (twice, 3, 3, out) == -1);  /* duplicate index */
    /* combine with shares in an order other than the Lagrange set's */
    const uint32_t order[3] = {1, 2, 3};
    fl_shamir_lagrange_t *lg = fl_shamir_lagrange_new (order, 3);
    fl_shamir_share_t swapped[3] = {sh[1], sh[0], sh[2]};
    FL_CHECK (fl_shamir_combine (lg, swapped, out) == -1);
    for (int i = 0; i < 32; i++)
        FL_CHECK (out[i] == 0xAA);                              /* nothing written */
    FL_CHECK (fl_shamir_combine (lg, sh, out) == 0);
    FL_CHECK (memcmp (out, secret, 32) == 0);
    fl_shamir_lagrange_destroy (&lg);
}

/*  A modified share either fails the encoding check or gives a wrong secret;
    it never silently gives the right one.  Element >= p is always rejected. */
static void
test_tamper (void)
{
    fl_rng_t *r = fl_rng_new_u64 (7, 7);
    int rejected = 0, wrong = 0, right = 0;
    uint8_t secret[32], out[32];
    fl_shamir_share_t sh[5];
    for (int k = 0; k < 2000; k++) {
        randombytes_buf (secret, 32);
        if (fl_shamir_split (secret, 3, 5, NULL, sh) != 0)
            continue;
        int who = (int) fl_rng_uniform (r, 3), e = (int) fl_rng_uniform (r, 5);
        uint64_t delta = 1 + fl_rng_uniform (r, P - 1);
        s_set_elem (&sh[who], e, (s_elem (&sh[who], e) + delta) % P);
        memset (out, 0xAA, 32);
        if (fl_shamir_reconstruct (sh, 3, 3, out) != 0) {
            rejected++;
            int untouched = 1;
            for (int i = 0; i < 32; i++)
                untouched &= out[i] == 0xAA;
            FL_CHECK (untouched);
        }
        else if (memcmp (out, secret, 32) != 0)
            wrong++;
        else
            right++;
    }
    FL_CHECK (right == 0);
    /* A random offset lands in the valid range [0, 2^56) with probability
       2^-5 per element: nearly all tampering is caught by the padding check. */
    FL_CHECK (rejected > 1800);
    if (fl_test_verbose_)
        printf ("  tamper: %d rejected, %d wrong secret, %d right\n", rejected, wrong, right);

    /* Non-canonical element (>= p) and mixed shares of two secrets. */
    FL_CHECK (fl_shamir_split (secret, 3, 5, NULL, sh) == 0);
    fl_shamir_share_t bad[3] = {sh[0], sh[1], sh[2]};
    s_set_elem (&bad[1], 2, P);
    FL_CHECK (fl_shamir_reconstruct (bad, 3, 3, out) == -1);
    s_set_elem (&bad[1], 2, UINT64_MAX);
    FL_CHECK (fl_shamir_reconstruct (bad, 3, 3, out) == -1);
    fl_shamir_share_t other[5];
    uint8_t secret2[32];
    randombytes_buf (secret2, 32);
    FL_CHECK (fl_shamir_split (secret2, 3, 5, NULL, other) == 0);
    fl_shamir_share_t mix[3] = {sh[0], other[1], sh[2]};
    int rc = fl_shamir_reconstruct (mix, 3, 3, out);
    FL_CHECK (rc == -1 || (memcmp (out, secret, 32) != 0 && memcmp (out, secret2, 32) != 0));
    fl_rng_destroy (&r);
}

/*  Two-sample chi-square statistic over K bins with equal sample sizes:
    sum (a_k - b_k)^2 / (a_k + b_k), approximately chi^2(K - 1) when both
    samples come from the same distribution. */
static double
s_chi2_two_sample (const int *a, const int *b, int k)
{
    double x = 0;
    for (int i = 0; i < k; i++)
        if (a[i] + b[i] > 0)
            x += (double) (a[i] - b[i]) * (a[i] - b[i]) / (a[i] + b[i]);
    return x;
}

/*  t - 1 shares reveal nothing: for two fixed, very different secrets
    (all-zero and all-0xff), the joint distribution of the t - 1 = 2 shares
    seen by a coalition (4 low bits of element 0 of each share -> 256 bins,
    and separately the top 8 bits of element 4, the one with padding) must be
    the same.  N = 25,600 splits per secret (100 expected per bin).
    Threshold: under H0 the statistic is ~ chi^2(255); its upper 1e-7
    quantile is 390.5 (Wilson-Hilferty), so with two statistics per run the
    false-alarm probability is < 1e-6.  Positive control: with t = 1, a single
    share is the secret, and the same statistic must blow past the threshold. */
static void
test_hiding (void)
{
    const int N = 25600;
    const double threshold = 390.5;
    uint8_t s0[32], s1[32];
    memset (s0, 0x00, 32);
    memset (s1, 0xff, 32);
    int *h = (int *) calloc (4 * 256, sizeof (int));   /* [secret][stat][bin] */
    fl_shamir_share_t sh[5];
    for (int which = 0; which < 2; which++)
        for (int k = 0; k < N; k++) {
            FL_CHECK (fl_shamir_split (which ? s1 : s0, 3, 5, NULL, sh) == 0);
            /* the coalition holds shares 2 and 4 */
            int lo = (int) ((s_elem (&sh[1], 0) & 15) << 4 | (s_elem (&sh[3], 0) & 15));
            int hi = (int) (s_elem (&sh[3], 4) >> 53);
            h[(which * 2 + 0) * 256 + lo]++;
            h[(which * 2 + 1) * 256 + hi]++;
        }
    double x_lo = s_chi2_two_sample (h + 0, h + 512, 256);
    double x_hi = s_chi2_two_sample (h + 256, h + 768, 256);
    if (fl_test_verbose_)
        printf ("  hiding: chi2 low bits = %.1f, top bits = %.1f (df 255, threshold %.1f)\n",
                x_lo, x_hi, threshold);
    FL_CHECK (x_lo < threshold);
    FL_CHECK (x_hi < threshold);

    /* Positive control: t = 1 shares are the secret itself. */
    memset (h, 0, 4 * 256 * sizeof (int));
    for (int which = 0; which < 2; which++)
        for (int k = 0; k < 2000; k++) {
            FL_CHECK (fl_shamir_split (which ? s1 : s0, 1, 5, NULL, sh) == 0);
            h[which * 256 + (s_elem (&sh[1], 0) & 255)]++;
        }
    FL_CHECK (s_chi2_two_sample (h, h + 256, 256) > threshold);
    free (h);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (!fl_test_verbose_)
        zsys_set_logstream (NULL);
    FL_CHECK (sodium_init () >= 0);
    FL_RUN (test_field);
    FL_RUN (test_known_answer_wikipedia);
    FL_RUN (test_known_answer_wrap);
    FL_RUN (test_any_t_of_n);
    FL_RUN (test_large_indices);
    FL_RUN (test_edge_thresholds);
    FL_RUN (test_errors);
    FL_RUN (test_tamper);
    FL_RUN (test_hiding);
    FL_TEST_DONE ();
}
