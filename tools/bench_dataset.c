/*  bench_dataset - throughput of the data layer on the bundled data sets:
    CSV parse (MB/s and rows/s), stratified split, Dirichlet partition and
    federated standardisation statistics.  Prints figures; asserts nothing
    (correctness lives in tests/).  Usage: bench_dataset [datadir] [reps]
*/
#include "fl_dataset.h"
#include "fl_partition.h"
#include "fl_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

int
main (int argc, char **argv)
{
    const char *datadir = argc > 1 ? argv[1] : "datasets";
    int reps = argc > 2 ? atoi (argv[2]) : 5;
    if (reps < 1)
        reps = 1;
    const char *names[] = {"wdbc", "pima", "ulb", "uci_credit"};
    printf ("%-11s %8s %6s %10s %9s %9s %11s %9s\n", "dataset", "rows", "cols", "parse MB/s",
            "parse ms", "split ms", "dirich. ms", "stats ms");
    for (size_t k = 0; k < 4; k++) {
        char path[4096];
        const char *label;
        if (fl_dataset_named (names[k], datadir, path, sizeof path, &label))
            return 1;
        FILE *fp = fopen (path, "rb");
        if (!fp) {
            fprintf (stderr, "cannot open %s\n", path);
            return 1;
        }
        fseek (fp, 0, SEEK_END);
        long len = ftell (fp);
        fseek (fp, 0, SEEK_SET);
        char *buf = (char *) malloc ((size_t) len);
        if (!buf || fread (buf, 1, (size_t) len, fp) != (size_t) len) {
            fclose (fp);
            return 1;
        }
        fclose (fp);
        fl_csv_options_t o = {0};
        o.label_column = label;
        double best_parse = 1e9, best_split = 1e9, best_part = 1e9, best_stats = 1e9;
        fl_dataset_t *ds = NULL;
        for (int r = 0; r < reps; r++) {
            fl_dataset_destroy (&ds);
            double t0 = s_now ();
            ds = fl_dataset_parse_csv (buf, (size_t) len, &o, path, NULL);
            double t1 = s_now ();
            if (!ds)
                return 1;
            best_parse = t1 - t0 < best_parse ? t1 - t0 : best_parse;
            fl_dataset_t *tr = NULL, *te = NULL;
            t0 = s_now ();
            fl_dataset_split (ds, 0.2, (uint64_t) r, &tr, &te);
            t1 = s_now ();
            best_split = t1 - t0 < best_split ? t1 - t0 : best_split;
            t0 = s_now ();
            fl_partition_t *p = fl_partition_new (ds, FL_PARTITION_DIRICHLET, 10, 0.5, NULL,
                                                  (uint64_t) r);
            t1 = s_now ();
            best_part = t1 - t0 < best_part ? t1 - t0 : best_part;
            fl_stats_t *st = fl_stats_new (fl_dataset_features (ds));
            t0 = s_now ();
            fl_stats_accumulate (st, ds);
            t1 = s_now ();
            best_stats = t1 - t0 < best_stats ? t1 - t0 : best_stats;
            fl_stats_destroy (&st);
            fl_partition_destroy (&p);
            fl_dataset_destroy (&tr);
            fl_dataset_destroy (&te);
        }
        printf ("%-11s %8zu %6zu %10.1f %9.2f %9.3f %11.3f %9.3f\n", names[k],
                fl_dataset_rows (ds), fl_dataset_features (ds) + 1,
                (double) len / 1e6 / best_parse, best_parse * 1e3, best_split * 1e3,
                best_part * 1e3, best_stats * 1e3);
        fl_dataset_destroy (&ds);
        free (buf);
    }
    return 0;
}
