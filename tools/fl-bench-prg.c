/*  fl-bench-prg - how close mask expansion (fl_prg_add) runs to the raw
    ChaCha20 keystream rate of libsodium.

    For each m (coordinates), times
      raw:    crypto_stream_chacha20_ietf into a 4m-byte buffer,
      add:    fl_prg_add on an m-coordinate vector (key derivation, chunked
              keystream, add in place),
      expand: fl_prg_expand,
    best of --reps repetitions, and prints GB/s of mask and the ratio
    add / raw (target: <= 1.15).  Figures go in docs/BENCHMARKS.md.
*/
#include "fl_prg.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static void
s_usage (FILE *f)
{
    fprintf (f,
             "usage: fl-bench-prg [--reps N] [--m COORDS]...\n"
             "  Times raw ChaCha20 keystream vs fl_prg_add / fl_prg_expand.\n"
             "  --reps N     repetitions per measurement, best is reported (default 20)\n"
             "  --m COORDS   vector length in coordinates (repeatable; default 100000 and 1000000)\n"
             "  --help       this text\n");
}

int
main (int argc, char **argv)
{
    int reps = 20;
    size_t ms[16];
    int nm = 0;
    static const struct option opts[] = {
        {"reps", required_argument, NULL, 'r'},
        {"m", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long (argc, argv, "r:m:h", opts, NULL)) != -1) {
        if (c == 'r')
            reps = atoi (optarg);
        else if (c == 'm') {
            long long v = atoll (optarg);
            if (v <= 0 || v > 1000000000LL || nm == 16) {
                fprintf (stderr, "fl-bench-prg: --m must be in 1..1e9, at most 16 times\n");
                return 1;
            }
            ms[nm++] = (size_t) v;
        }
        else if (c == 'h') {
            s_usage (stdout);
            return 0;
        }
        else {
            s_usage (stderr);
            return 1;
        }
    }
    if (reps < 1) {
        fprintf (stderr, "fl-bench-prg: --reps must be >= 1\n");
        return 1;
    }
    if (nm == 0) {
        ms[nm++] = 100000;
        ms[nm++] = 1000000;
    }
    if (sodium_init () < 0)
        return 1;
    uint8_t seed[FL_PRG_SEEDBYTES], ctx[FL_PRG_CTXBYTES], key[32], nonce[12] = {0};
    randombytes_buf (seed, sizeof seed);
    randombytes_buf (ctx, sizeof ctx);
    randombytes_buf (key, sizeof key);
    printf ("%10s %12s %12s %12s %10s %10s\n", "m", "raw GB/s", "add GB/s", "expand GB/s",
            "add/raw", "expand/raw");
    for (int k = 0; k < nm; k++) {
        size_t m = ms[k];
        uint32_t *v = (uint32_t *) calloc (m, 4);
        uint8_t *buf = (uint8_t *) calloc (m, 4);
        if (!v || !buf) {
            fprintf (stderr, "fl-bench-prg: out of memory for m = %zu\n", m);
            return 1;
        }
        double raw = 1e30, add = 1e30, exp = 1e30;
        for (int r = 0; r < reps; r++) {       /* interleaved: same load conditions */
            double t0 = s_now ();
            crypto_stream_chacha20_ietf (buf, m * 4, nonce, key);
            double t1 = s_now ();
            fl_prg_add (v, m, seed, ctx);
            double t2 = s_now ();
            fl_prg_expand (v, m, seed, ctx);
            double t3 = s_now ();
            raw = t1 - t0 < raw ? t1 - t0 : raw;
            add = t2 - t1 < add ? t2 - t1 : add;
            exp = t3 - t2 < exp ? t3 - t2 : exp;
        }
        double bytes = (double) m * 4;
        printf ("%10zu %12.3f %12.3f %12.3f %10.3f %10.3f\n", m, bytes / raw * 1e-9,
                bytes / add * 1e-9, bytes / exp * 1e-9, add / raw, exp / raw);
        free (v);
        free (buf);
    }
    return 0;
}
