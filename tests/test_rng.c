/*  test_rng.c - fl_rng: reproducibility, stream independence, distributions. */
#include "fl_rng.h"
#include "fl_test.h"

static void
test_replay (void)
{
    fl_rng_t *a = fl_rng_new_u64 (42, 7), *b = fl_rng_new_u64 (42, 7), *c = fl_rng_new_u64 (42, 8);
    uint8_t x[3000], y[3000], z[3000];
    fl_rng_bytes (a, x, 1000);          /* split reads must equal one big read */
    fl_rng_bytes (a, x + 1000, 2000);
    fl_rng_bytes (b, y, 3000);
    fl_rng_bytes (c, z, 3000);
    FL_CHECK (memcmp (x, y, sizeof x) == 0);
    FL_CHECK (memcmp (x, z, sizeof x) != 0);
    fl_rng_destroy (&a);
    fl_rng_destroy (&b);
    fl_rng_destroy (&c);
    FL_CHECK (a == NULL);
    fl_rng_destroy (&a);                /* safe twice */
}

static void
test_known_answer (void)
{
    /* Seed of 32 zero bytes, chunk 0 = ChaCha20(key 0, nonce 0) keystream,
       whose first bytes are the RFC 7539 / djb test vector 76 b8 e0 ad ... */
    uint8_t seed[FL_RNG_SEEDBYTES] = {0}, out[8];
    fl_rng_t *r = fl_rng_new (seed);
    fl_rng_bytes (r, out, 8);
    const uint8_t expect[8] = {0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90};
    FL_CHECK (memcmp (out, expect, 8) == 0);
    fl_rng_destroy (&r);
}

static void
test_distributions (void)
{
    fl_rng_t *r = fl_rng_new_u64 (1, 0);
    const int n = 200000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double u = fl_rng_double (r);
        FL_CHECK (u >= 0.0 && u < 1.0);
        s += u;
    }
    FL_CHECK_CLOSE (s / n, 0.5, 0.005, 0);      /* sd of mean = 0.00065 */
    s = 0;
    for (int i = 0; i < n; i++) {
        double z = fl_rng_normal (r);
        s += z;
        s2 += z * z;
    }
    FL_CHECK_CLOSE (s / n, 0.0, 0.012, 0);      /* sd of mean = 0.0022 */
    FL_CHECK_CLOSE (s2 / n, 1.0, 0.02, 0);      /* sd = 0.0032 */
    for (double shape = 0.3; shape < 5; shape *= 2.5) {
        s = 0;
        for (int i = 0; i < n; i++)
            s += fl_rng_gamma (r, shape);
        FL_CHECK_CLOSE (s / n, shape, 0.03 * shape + 0.01, 0);
    }
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++)
        counts[fl_rng_uniform (r, 7)]++;
    for (int k = 0; k < 7; k++)
        FL_CHECK (counts[k] > 9400 && counts[k] < 10600);   /* 10000 +- 6 sd */
    uint32_t p[50];
    for (uint32_t i = 0; i < 50; i++)
        p[i] = i;
    fl_rng_shuffle_u32 (r, p, 50);
    int seen[50] = {0};
    for (int i = 0; i < 50; i++)
        seen[p[i]]++;
    int ok = 1;
    for (int i = 0; i < 50; i++)
        ok &= seen[i] == 1;
    FL_CHECK (ok);
    fl_rng_destroy (&r);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_replay);
    FL_RUN (test_known_answer);
    FL_RUN (test_distributions);
    FL_TEST_DONE ();
}
