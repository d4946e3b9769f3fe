/*  test_score_parse - fl_score_parse_number, the fast reader's number
    parser (eight digits at a time), against the C library on a large
    random sample of decimal strings: signs, leading zeros, 1 to 40
    digits, a decimal point anywhere, exponents, and the edges ("-0",
    "1e308", subnormals, FLT_MAX and beyond).  Its contract (fl_score.h):
    the same end as strtod; at most 15 significant digits and a power of
    ten within 1e+-22 give (float) strtod (s), anything else strtof (s);
    NULL exactly when strtof overflows, underflows or there is no number,
    or an exponent has no digits ("1e", which strtod reads as 1). */
#include "fl_test.h"

#include <errno.h>
#include <float.h>
#include <stdint.h>

#include "fl_rng.h"
#include "fl_score.h"

/*  Significant digits and decimal exponent of the number at s (as the
    contract counts them: leading zeros not significant). */
static void
s_shape (const char *s, int *sig, int *exp10)
{
    const char *p = s + (*s == '-' || *s == '+');
    int n = 0, frac = 0, seen = 0, e = 0;
    for (; *p && (*p == '.' || (*p >= '0' && *p <= '9')); p++) {
        if (*p == '.') {
            frac = 1;
            continue;
        }
        if (*p != '0' || seen) {
            seen = 1;
            n++;
        }
        if (frac)
            e--;
    }
    if (*p == 'e' || *p == 'E')
        e += atoi (p + 1) < -100000 ? -100000 : atoi (p + 1);
    /* trailing zeros counted as digits too, as the parser does */
    *sig = n;
    *exp10 = e;
}

/*  Checks one string; returns 1 if it agrees with the contract. */
static int
s_check (const char *s)
{
    size_t len = strlen (s);
    float got = 12345.0f;
    const char *end = fl_score_parse_number (s, s + len, &got);
    char *dend;
    errno = 0;
    double d = strtod (s, &dend);
    errno = 0;
    char *fend;
    float f = strtof (s, &fend);
    int frange = errno == ERANGE;
    if (dend == s)
        return end == NULL;             /* no number */
    if (frange || !isfinite (f))
        return end == NULL;             /* strtof overflows / underflows */
    if (*dend == 'e' || *dend == 'E')
        return end == NULL;             /* an exponent without digits ("1e"): not a number */
    int sig, e;
    s_shape (s, &sig, &e);
    float want = sig <= 15 && e >= -22 && e <= 22 ? (float) d : f;
    if (!end || end != (const char *) dend) {
        fprintf (stderr, "'%s': end %ld, strtod's %ld\n", s, end ? (long) (end - s) : -1L, (long) (dend - s));
        return 0;
    }
    if (memcmp (&got, &want, sizeof got) != 0) {
        fprintf (stderr, "'%s': got %.9g, want %.9g\n", s, (double) got, (double) want);
        return 0;
    }
    return 1;
}

static void
test_edges (void)
{
    const char *v[] = { "0", "-0", "+0", "0.0", "-0.0", ".5", "5.", "-.5", "1", "-1", "1e308", "-1e308",
                        "1e39", "3.4028234e38", "3.4028236e38", "1e-40", "1.4e-45", "1e-46", "1.17549435e-38",
                        "0.000000000000000000000000000000000000000000001", "00000000000000000000012.5",
                        "123456789012345678901234567890", "0.1234567890123456789", "9007199254740993",
                        "1e22", "1e23", "1e-22", "1e-23", "123456789012345e7", "1234567890123456e7",
                        "99999999.99999999", "12345678", "123456789", "1234567.8", "0.00000001",
                        "1e", "1e+", "e5", ".", "-", "+.", "1.5e-7x", "2.5,3", "7\r\n", "1E5", "1e+05",
                        "18446744073709551616", "18446744073709551615.5", "0.99999997", "0.999999970198",
                        "16777217", "16777216.5", "-2.5e-05" };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        FL_CHECK (s_check (v[i]));
    float f;
    const char *s = "1.5";
    FL_CHECK (fl_score_parse_number (s, s + 1, &f) == s + 1 && f == 1.0f);   /* stops at end */
    FL_CHECK (fl_score_parse_number (s, s, &f) == NULL);
}

static void
test_random_strings (void)
{
    fl_rng_t *r = fl_rng_new_u64 (14, 2);
    FL_CHECK (r != NULL);
    size_t bad = 0, accepted = 0;
    char s[128];
    for (int i = 0; r && i < 3000000; i++) {
        char *o = s;
        uint32_t u = fl_rng_u32 (r);
        if (u & 1)
            *o++ = (u & 2) ? '-' : '+';
        int lead = (u >> 2) & 3 ? 0 : (int) fl_rng_uniform (r, 4);
        for (int j = 0; j < lead; j++)
            *o++ = '0';
        /* digits: mostly 1..10 (the common case), sometimes up to 40 */
        int nd = (u >> 4) & 7 ? 1 + (int) fl_rng_uniform (r, 10) : (int) fl_rng_uniform (r, 41);
        int dot = (u >> 7) & 3 ? (int) fl_rng_uniform (r, (uint64_t) nd + 1) : -1;
        for (int j = 0; j < nd; j++) {
            if (j == dot)
                *o++ = '.';
            *o++ = (char) ('0' + fl_rng_uniform (r, 10));
        }
        if (dot == nd)
            *o++ = '.';
        if (((u >> 9) & 3) == 0) {
            *o++ = (u >> 11) & 1 ? 'e' : 'E';
            if ((u >> 12) & 1)
                *o++ = (u >> 13) & 1 ? '-' : '+';
            o += sprintf (o, "%d", (int) fl_rng_uniform (r, (u >> 14) & 1 ? 50 : 400));
        }
        if (((u >> 15) & 7) == 0)
            *o++ = ",x \"\r\n"[fl_rng_uniform (r, 6)];   /* what follows a field */
        *o = '\0';
        int ok = s_check (s);
        bad += !ok;
        accepted += ok;
        if (bad > 5)
            break;
    }
    FL_CHECK (bad == 0);
    FL_CHECK (accepted > 2000000);
    fl_rng_destroy (&r);
}

static void
test_printed_floats (void)
{
    /* what the benchmark and real exports hold: %.6g, %.9g, %.17g of floats */
    fl_rng_t *r = fl_rng_new_u64 (14, 3);
    size_t bad = 0;
    char s[64];
    for (int i = 0; r && i < 1000000; i++) {
        uint32_t b = fl_rng_u32 (r);
        float f;
        memcpy (&f, &b, sizeof f);
        if (!isfinite (f))
            continue;
        const char *fmt[] = { "%.6g", "%.9g", "%.17g", "%f" };
        snprintf (s, sizeof s, fmt[i & 3], (double) f);
        bad += !s_check (s);
        if (bad > 5)
            break;
    }
    FL_CHECK (bad == 0);
    fl_rng_destroy (&r);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_edges);
    FL_RUN (test_random_strings);
    FL_RUN (test_printed_floats);
    FL_TEST_DONE ();
}
