/*  fl-bench-robust - time the robust aggregation step (fl_robust) over B rows of
    dimension d, for B in {10, 100, 1000} x d in {1e3, 1e4, 1e5, 1e6}.

    Rules: coordinate-wise median, trimmed mean (beta = 0.1), geometric median
    (smoothed Weiszfeld with the RFA defaults nu = 1e-6, max_iter = 100,
    tol = 1e-20, so the iteration count is data-dependent and printed), Krum
    with f = B/10 (its cost does not depend on f beyond the selection).

    A combination is skipped when its input would need more than --mem-gb
    (default 4) GB, or when its time, extrapolated linearly in d from the
    same rule and B at the previous d, exceeds --max-seconds (default 20).
    Input is uniform in [-0.5, 0.5) from fl_rng (seed 1), generated once.

    Usage: fl-bench-robust [--max-seconds S] [--mem-gb G] [--rules a,b,...]
*/
#include "fl_robust.h"
#include "fl_rng.h"

#include <czmq.h>
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

typedef enum { R_MEDIAN, R_TRIMMED, R_GEOMED, R_KRUM, R_COUNT } rule_t;
static const char *s_rule_name[R_COUNT] = {"median", "trimmed_mean", "geomed", "krum"};
static const char *s_rule_cost[R_COUNT] = {"O(B d)", "O(B d)", "O(T B d)", "O(B^2 d)"};

/*  One timed call; returns seconds or -1 on failure.  *iters for geomed. */
static double
s_run (rule_t r, const double *x, size_t B, size_t d, fl_robust_work_t *w, double *out,
       int *iters)
{
    double t0 = s_now ();
    int rc = -1;
    size_t sel;
    switch (r) {
    case R_MEDIAN: rc = fl_robust_median (x, B, d, w, out); break;
    case R_TRIMMED: rc = fl_robust_trimmed_mean (x, B, d, 0.1, w, out); break;
    case R_GEOMED:
        rc = fl_robust_geomed (x, B, d, 1e-6, 100, 1e-20, NULL, w, out, iters);
        break;
    case R_KRUM: {
        size_t f = B / 10;
        rc = fl_robust_krum (x, B, d, f, w, out, &sel);
        break;
    }
    default: break;
    }
    double t = s_now () - t0;
    return rc == 0 ? t : -1;
}

int
main (int argc, char **argv)
{
    double max_seconds = 20, mem_gb = 4;
    int want[R_COUNT] = {1, 1, 1, 1};
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--max-seconds") == 0 && i + 1 < argc)
            max_seconds = atof (argv[++i]);
        else if (strcmp (argv[i], "--mem-gb") == 0 && i + 1 < argc)
            mem_gb = atof (argv[++i]);
        else if (strcmp (argv[i], "--rules") == 0 && i + 1 < argc) {
            const char *list = argv[++i];
            for (int r = 0; r < R_COUNT; r++)
                want[r] = strstr (list, s_rule_name[r]) != NULL;
        }
        else {
            fprintf (stderr, "usage: %s [--max-seconds S] [--mem-gb G] "
                             "[--rules median,trimmed_mean,geomed,krum]\n", argv[0]);
            return 2;
        }
    }
    const size_t Bs[] = {10, 100, 1000};
    const size_t ds[] = {1000, 10000, 100000, 1000000};
    const size_t nB = sizeof Bs / sizeof Bs[0], nd = sizeof ds / sizeof ds[0];

    /* One input buffer large enough for the biggest admitted B*d. */
    size_t max_elems = 0;
    for (size_t a = 0; a < nB; a++)
        for (size_t b = 0; b < nd; b++) {
            double gb = (double) Bs[a] * (double) ds[b] * 8 / 1e9;
            if (gb <= mem_gb && Bs[a] * ds[b] > max_elems)
                max_elems = Bs[a] * ds[b];
        }
    double *x = malloc (max_elems * sizeof *x);
    double *out = malloc (ds[nd - 1] * sizeof *out);
    fl_robust_work_t *w = fl_robust_work_new ();
    fl_rng_t *rng = fl_rng_new_u64 (1, 0xbe7c);
    if (!x || !out || !w || !rng) {
        fprintf (stderr, "fl-bench-robust: out of memory for %zu doubles\n", max_elems);
        return 1;
    }
    enum { CHUNK = 4096 };
    uint64_t buf[CHUNK];
    for (size_t i = 0; i < max_elems; i += CHUNK) {
        size_t n = max_elems - i < CHUNK ? max_elems - i : CHUNK;
        fl_rng_bytes (rng, buf, n * sizeof (uint64_t));
        for (size_t k = 0; k < n; k++)
            x[i + k] = (double) (buf[k] >> 11) * 0x1.0p-53 - 0.5;
    }

    printf ("fl-bench-robust: robust step time, single thread, double precision\n");
    printf ("skip rules: input > %.1f GB, or extrapolated time > %.0f s\n\n", mem_gb,
            max_seconds);
    printf ("%-13s %-9s %6s %8s %12s %14s  %s\n", "rule", "cost", "B", "d", "seconds",
            "ns/unit", "note");
    double t_start = s_now ();
    for (int r = 0; r < R_COUNT; r++) {
        if (!want[r])
            continue;
        for (size_t a = 0; a < nB; a++) {
            size_t B = Bs[a];
            double prev_t = -1;
            size_t prev_d = 0;
            for (size_t b = 0; b < nd; b++) {
                size_t d = ds[b];
                double gb = (double) B * (double) d * 8 / 1e9;
                char note[96] = "";
                if (gb > mem_gb) {
                    printf ("%-13s %-9s %6zu %8zu %12s %14s  skipped: input %.3g GB > %.3g GB\n",
                            s_rule_name[r], s_rule_cost[r], B, d, "-", "-", gb, mem_gb);
                    continue;
                }
                if (prev_t > 0 && prev_t * (double) d / (double) prev_d > max_seconds) {
                    printf ("%-13s %-9s %6zu %8zu %12s %14s  skipped: est. %.0f s > %.0f s\n",
                            s_rule_name[r], s_rule_cost[r], B, d, "-", "-",
                            prev_t * (double) d / (double) prev_d, max_seconds);
                    continue;
                }
                /* Repeat short cases to at least 0.3 s and report the mean. */
                int iters = 0, reps = 0;
                double total = 0, t;
                do {
                    t = s_run ((rule_t) r, x, B, d, w, out, &iters);
                    if (t < 0)
                        break;
                    total += t;
                    reps++;
                } while (total < 0.3 && reps < 1000);
                if (t < 0) {
                    printf ("%-13s %-9s %6zu %8zu  failed\n", s_rule_name[r], s_rule_cost[r], B, d);
                    continue;
                }
                t = total / reps;
                /* ns per unit of the complexity: per element (B d), per
                   element-iteration for geomed, per pair-coordinate for Krum. */
                double units = (double) B * (double) d;
                if (r == R_GEOMED) {
                    units *= iters;
                    snprintf (note, sizeof note, "T=%d iterations", iters);
                }
                if (r == R_KRUM) {
                    units = (double) B * (double) (B - 1) / 2 * (double) d;
                    snprintf (note, sizeof note, "f=%zu", B / 10);
                }
                printf ("%-13s %-9s %6zu %8zu %12.4f %14.3f  %s%s\n", s_rule_name[r],
                        s_rule_cost[r], B, d, t, 1e9 * t / units, note,
                        reps > 1 ? "" : " (1 run)");
                fflush (stdout);
                prev_t = t;
                prev_d = d;
            }
        }
    }
    printf ("\ntotal wall time %.1f s; scratch held %.1f MB\n", s_now () - t_start,
            (double) fl_robust_work_bytes (w) / 1e6);
    fl_rng_destroy (&rng);
    fl_robust_work_destroy (&w);
    free (out);
    free (x);
    return 0;
}
