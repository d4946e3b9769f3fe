/*  test_score_format - fl_score_format_g9, the fast "%.9g" of the output
    CSV's scores, against the C library's snprintf: byte for byte on every
    float of the binades probabilities fall in most, the lowest and highest
    binade of its integer path (every third, eleventh float), edge values, and a large random sample of
    all bit patterns (signs, subnormals, inf, nan included). */
#include "fl_test.h"

#include <stdint.h>

#include "fl_rng.h"
#include "fl_score.h"

static float
s_float (uint32_t bits)
{
    float f;
    memcpy (&f, &bits, sizeof f);
    return f;
}

/*  Compares every bit pattern in [lo, hi) with the step given; returns
    the number of mismatches (printing the first few). */
static size_t
s_compare_range (uint32_t lo, uint32_t hi, uint32_t step)
{
    size_t bad = 0;
    for (uint64_t b = lo; b < hi; b += step) {
        float f = s_float ((uint32_t) b);
        char got[32], want[32];
        size_t n = fl_score_format_g9 (got, f);
        snprintf (want, sizeof want, "%.9g", (double) f);
        if (strcmp (got, want) != 0 || n != strlen (want) || n > 15) {
            if (bad++ < 5)
                fprintf (stderr, "bits %08x: got '%s', snprintf '%s'\n", (unsigned) b, got, want);
        }
    }
    return bad;
}

static void
test_every_float_of_some_binades (void)
{
    /* [0.5, 1): exponent field 126; [2^-21, 2^-20): 106, the lowest the
       integer path takes (every third float); [2^22, 2^23): 149, the highest; and the same
       negated. */
    FL_CHECK (s_compare_range (126u << 23, 127u << 23, 1) == 0);
    FL_CHECK (s_compare_range (106u << 23, 107u << 23, 3) == 0);
    FL_CHECK (s_compare_range (149u << 23, 150u << 23, 11) == 0);
    FL_CHECK (s_compare_range (0x80000000u | (126u << 23), 0x80000000u | (127u << 23), 11) == 0);
    /* every 1999th float of every binade, positive */
    FL_CHECK (s_compare_range (0, 0x7f800000u, 1999) == 0);
}

static void
test_random_bit_patterns (void)
{
    fl_rng_t *r = fl_rng_new_u64 (14, 9);
    FL_CHECK (r != NULL);
    size_t bad = 0;
    for (int i = 0; r && i < 1000000; i++) {
        uint32_t b = fl_rng_u32 (r);
        bad += s_compare_range (b, b + 1u > b ? b + 1u : b, 1);
    }
    FL_CHECK (bad == 0);
    fl_rng_destroy (&r);
}

static void
test_edge_values (void)
{
    const float v[] = { 0.0f, -0.0f, 1.0f, 0.5f, 1e-5f, 9.99999975e-05f, 0.0001f, 1e-4f, 0.99999994f,
                        5.96046448e-08f, 4.76837158e-07f, 4.7683716e-07f, 1e9f, 123456789.0f,
                        8388607.5f, 8388608.0f, 0.1f, 0.2f, 0.3f, 1.0f / 3.0f, 2.0f / 3.0f, 1e-38f,
                        1.17549435e-38f, 1.40129846e-45f, 3.40282347e38f, INFINITY, -INFINITY, NAN };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint32_t b;
        memcpy (&b, &v[i], sizeof b);
        FL_CHECK (s_compare_range (b, b + 1u, 1) == 0);
    }
    /* every score line of the output reads back as the same float */
    fl_rng_t *r = fl_rng_new_u64 (3, 1);
    size_t bad = 0;
    for (int i = 0; r && i < 200000; i++) {
        float f = (float) ((double) fl_rng_u32 (r) / 4294967296.0);
        char got[32];
        fl_score_format_g9 (got, f);
        bad += strtof (got, NULL) != f;
    }
    FL_CHECK (bad == 0);
    fl_rng_destroy (&r);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_edge_values);
    FL_RUN (test_every_float_of_some_binades);
    FL_RUN (test_random_bit_patterns);
    FL_TEST_DONE ();
}
