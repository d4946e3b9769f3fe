/*  fl-gbdt - trains libfl's centralised gradient-boosted trees (fl_gbdt) on a
    bundled or given CSV and prints the test AUROC; with --dump DIR it also
    writes the binned rows, the hyperparameters and its test probabilities so
    tools/fl-gbdt-reference.py can train XGBoost on exactly the same inputs
    (docs/TREES.md), and the raw rows for XGBoost with its own binning.

        fl-gbdt --data ulb --trees 100 --max-depth 6 --bins 64 --dump DIR

    Output: one CSV line after a header:
        dataset,classes,train_rows,test_rows,trees,max_depth,bins,eta,lambda,min_child_weight,subsample,auroc
    For more than two classes AUROC is the macro one-vs-rest average.
    Reads numeric CSVs (fl_dataset); tables with text columns or missing
    cells (german_credit, breast_cancer: fl_schema) are not wired in yet.
    Exit 0; 1 on a bad argument, a data error or a file that cannot be
    written; 2 on a training failure.
*/
#include "fl.h"

#include <czmq.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: fl-gbdt (--data NAME | --csv PATH [--label COLUMN]) [options]\n"
             "  --data NAME            bundled data set (wdbc, ulb, uci_credit, pima, ...)\n"
             "  --datadir DIR          directory of bundled data sets (default: libfl's)\n"
             "  --csv PATH             a numeric CSV instead; --label COLUMN (default: last)\n"
             "  --trees N              boosting rounds (default 100)\n"
             "  --max-depth N          (default 6)\n"
             "  --bins N               value bins per feature (default 64; missing has its own)\n"
             "  --fine N               cells of the fine grid the bins come from (default 4096)\n"
             "  --learning-rate F      eta (default 0.3)\n"
             "  --lambda F             L2 on leaf weights (default 1)\n"
             "  --min-child-weight F   (default 1)\n"
             "  --subsample F          row fraction per tree (default 1)\n"
             "  --test-fraction F      held-out share, stratified (default 0.25)\n"
             "  --seed S               split and subsample seed (default 1)\n"
             "  --missing F            blank each feature value with probability F (seeded),\n"
             "                         to exercise the missing-value default directions\n"
             "  --dump DIR             write train.csv, test.csv (bin indices, label last),\n"
             "                         raw_train.csv, raw_test.csv (the values before binning),\n"
             "                         params.json, pred_libfl.csv and trees_libfl.txt (XGBoost's\n"
             "                         text-dump style, thresholds as bin indices) for\n"
             "                         fl-gbdt-reference.py\n"
             "  --help, --version\n");
}

/*  Writes the rows as CSV, label last: bin indices (xb) or, with xb NULL,
    the raw values; a missing value is an empty field. */
static int
s_write_binned (const char *path, const fl_dataset_t *ds, const uint16_t *xb)
{
    FILE *f = fopen (path, "w");
    if (!f) {
        fprintf (stderr, "fl-gbdt: cannot write %s\n", path);
        return -1;
    }
    size_t n = fl_dataset_rows (ds), d = fl_dataset_features (ds);
    for (size_t j = 0; j < d; j++)
        fprintf (f, "f%zu,", j);
    fprintf (f, "label\n");
    const int32_t *y = fl_dataset_y (ds);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) {
            if (!xb) {
                float v = fl_dataset_x (ds)[i * d + j];
                if (isnan (v))
                    fputc (',', f);
                else
                    fprintf (f, "%.9g,", v);
                continue;
            }
            uint16_t b = xb[i * d + j];
            if (b == FL_GBDT_MISSING_BIN)
                fputc (',', f);                 /* missing: empty field */
            else
                fprintf (f, "%u,", b);
        }
        fprintf (f, "%d\n", y[i]);
    }
    return fclose (f) == 0 ? 0 : -1;
}

int
main (int argc, char **argv)
{
    const char *data = NULL, *datadir = NULL, *csv = NULL, *label = NULL, *dump = NULL;
    fl_gbdt_param_t p = fl_gbdt_param_default ();
    size_t bins = 64, fine = 4096;
    double test_fraction = 0.25, missing = 0;
    uint64_t seed = 1;
    static const struct option opts[] = {
        { "data", required_argument, 0, 'd' },          { "datadir", required_argument, 0, 'D' },
        { "csv", required_argument, 0, 'c' },           { "label", required_argument, 0, 'L' },
        { "trees", required_argument, 0, 't' },         { "max-depth", required_argument, 0, 'm' },
        { "bins", required_argument, 0, 'b' },          { "fine", required_argument, 0, 'F' },
        { "learning-rate", required_argument, 0, 'e' }, { "lambda", required_argument, 0, 'l' },
        { "min-child-weight", required_argument, 0, 'w' }, { "subsample", required_argument, 0, 's' },
        { "test-fraction", required_argument, 0, 'T' }, { "seed", required_argument, 0, 'S' },
        { "dump", required_argument, 0, 'o' },          { "missing", required_argument, 0, 'M' },          { "help", no_argument, 0, 'h' },
        { "version", no_argument, 0, 'V' },
        { 0, 0, 0, 0 }
    };
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'd': data = optarg; break;
        case 'D': datadir = optarg; break;
        case 'c': csv = optarg; break;
        case 'L': label = optarg; break;
        case 'o': dump = optarg; break;
        case 't': p.trees = strtoul (optarg, &end, 10); break;
        case 'm': p.max_depth = strtoul (optarg, &end, 10); break;
        case 'b': bins = strtoul (optarg, &end, 10); break;
        case 'F': fine = strtoul (optarg, &end, 10); break;
        case 'e': p.eta = strtod (optarg, &end); break;
        case 'l': p.lambda = strtod (optarg, &end); break;
        case 'w': p.min_child_weight = strtod (optarg, &end); break;
        case 's': p.subsample = strtod (optarg, &end); break;
        case 'T': test_fraction = strtod (optarg, &end); break;
        case 'M': missing = strtod (optarg, &end); break;
        case 'S': seed = strtoull (optarg, &end, 10); break;
        case 'h': s_usage (stdout); return 0;
        case 'V': printf ("fl-gbdt %s\n", FL_VERSION); return 0;
        default: s_usage (stderr); return 1;
        }
        if (end && (*end || end == optarg || optarg[0] == '-')) {
            for (const struct option *o = opts; o->name; o++)
                if (o->val == c)
                    fprintf (stderr, "fl-gbdt: --%s: '%s' is not a valid number\n", o->name, optarg);
            return 1;
        }
    }
    if (!(missing >= 0 && missing < 1)) {
        fprintf (stderr, "fl-gbdt: --missing must be in [0, 1)\n");
        return 1;
    }
    if (optind < argc || (!data == !csv)) {
        fprintf (stderr, "fl-gbdt: give exactly one of --data NAME or --csv PATH\n");
        s_usage (stderr);
        return 1;
    }
    p.seed = seed;
    char path[2048];
    if (data) {
        if (fl_dataset_named (data, datadir ? datadir : fl_shard_default_datadir (), path, sizeof path,
                              &label) != 0) {
            fprintf (stderr, "fl-gbdt: unknown data set '%s'\n", data);
            return 1;
        }
        csv = path;
    }
    fl_csv_error_t err;
    fl_dataset_t *all = fl_dataset_load_csv (csv, label, &err);
    if (!all) {
        fprintf (stderr, "fl-gbdt: %s\n", err.message);
        return 1;
    }
    fl_dataset_t *train = NULL, *test = NULL;
    fl_gbdt_bins_t *b = NULL;
    fl_gbdt_t *model = NULL;
    uint16_t *xb_train = NULL, *xb_test = NULL;
    float *prob = NULL;
    int rc = 1;
    if (fl_dataset_split (all, test_fraction, seed, &train, &test) != 0)
        goto done;
    size_t d = fl_dataset_features (all), K = fl_dataset_classes (all);
    size_t ntr = fl_dataset_rows (train), nte = fl_dataset_rows (test);
    if (missing > 0) {
        /* the data set API holds finite values only; NaN is written after loading,
           into the copies fl-gbdt owns, and only fl_gbdt reads them */
        fl_rng_t *rng = fl_rng_new_u64 (seed, 0x6d697373u /* "miss" */);
        if (!rng)
            goto done;
        float *xs[2] = { fl_dataset_x_mut (train), fl_dataset_x_mut (test) };
        size_t ns[2] = { ntr, nte };
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < ns[s] * d; i++)
                if (fl_rng_double (rng) < missing)
                    xs[s][i] = NAN;
        fl_rng_destroy (&rng);
    }
    b = fl_gbdt_bins_new (fl_dataset_x (train), ntr, d, fine, bins);
    if (!b)
        goto done;
    xb_train = (uint16_t *) malloc (ntr * d * sizeof (uint16_t));
    xb_test = (uint16_t *) malloc (nte * d * sizeof (uint16_t));
    size_t groups = K > 2 ? K : 1;
    prob = (float *) malloc (nte * groups * sizeof (float));
    if (!xb_train || !xb_test || !prob)
        goto done;
    if (fl_gbdt_bins_apply (b, fl_dataset_x (train), ntr, d, xb_train)
        || fl_gbdt_bins_apply (b, fl_dataset_x (test), nte, d, xb_test))
        goto done;
    rc = 2;
    model = fl_gbdt_train (b, xb_train, fl_dataset_y (train), ntr, K, &p);
    if (!model || fl_gbdt_predict_proba (model, fl_dataset_x (test), nte, d, prob))
        goto done;
    double auroc = 0;
    if (K == 2)
        auroc = fl_metrics_auroc (prob, fl_dataset_y (test), nte);
    else {
        /* macro one-vs-rest */
        float *s = (float *) malloc (nte * sizeof (float));
        int32_t *yk = (int32_t *) malloc (nte * sizeof (int32_t));
        if (!s || !yk) {
            free (s);
            free (yk);
            goto done;
        }
        for (size_t k = 0; k < K; k++) {
            for (size_t i = 0; i < nte; i++) {
                s[i] = prob[i * K + k];
                yk[i] = fl_dataset_y (test)[i] == (int32_t) k;
            }
            auroc += fl_metrics_auroc (s, yk, nte) / (double) K;
        }
        free (s);
        free (yk);
    }
    rc = 1;                                     /* a file that cannot be written */
    if (dump) {
        char f[4096];
        /* mkdir -p */
        snprintf (f, sizeof f, "%s", dump);
        for (char *q = f + 1; *q; q++)
            if (*q == '/') {
                *q = 0;
                mkdir (f, 0755);
                *q = '/';
            }
        mkdir (f, 0755);
        snprintf (f, sizeof f, "%s/train.csv", dump);
        if (s_write_binned (f, train, xb_train))
            goto done;
        snprintf (f, sizeof f, "%s/test.csv", dump);
        if (s_write_binned (f, test, xb_test))
            goto done;
        snprintf (f, sizeof f, "%s/raw_train.csv", dump);
        if (s_write_binned (f, train, NULL))
            goto done;
        snprintf (f, sizeof f, "%s/raw_test.csv", dump);
        if (s_write_binned (f, test, NULL))
            goto done;
        snprintf (f, sizeof f, "%s/params.json", dump);
        FILE *o = fopen (f, "w");
        if (!o)
            goto done;
        fprintf (o,
                 "{\"dataset\": \"%s\", \"classes\": %zu, \"trees\": %zu, \"max_depth\": %zu, "
                 "\"bins\": %zu, \"eta\": %.17g, \"lambda\": %.17g, \"min_child_weight\": %.17g, "
                 "\"subsample\": %.17g, \"libfl_auroc\": %.17g}\n",
                 data ? data : csv, K, p.trees, p.max_depth, bins, p.eta, p.lambda, p.min_child_weight,
                 p.subsample, auroc);
        fclose (o);
        snprintf (f, sizeof f, "%s/trees_libfl.txt", dump);
        o = fopen (f, "w");
        if (!o)
            goto done;
        for (size_t t = 0; t < fl_gbdt_tree_count (model); t++) {
            size_t nn;
            const fl_gbdt_node_t *nd = fl_gbdt_tree (model, t, &nn);
            fprintf (o, "booster[%zu]:\n", t);
            for (size_t i = 0; i < nn; i++)
                if (nd[i].feature < 0)
                    fprintf (o, "%zu:leaf=%.9g,cover=%.9g\n", i, nd[i].value, nd[i].sum_hess);
                else
                    fprintf (o, "%zu:[f%d<%u] yes=%d,no=%d,missing=%d,gain=%.9g,cover=%.9g\n", i,
                             nd[i].feature, nd[i].bin + 1, nd[i].left, nd[i].right,
                             nd[i].default_left ? nd[i].left : nd[i].right, nd[i].gain, nd[i].sum_hess);
        }
        fclose (o);
        snprintf (f, sizeof f, "%s/pred_libfl.csv", dump);
        o = fopen (f, "w");
        if (!o)
            goto done;
        for (size_t i = 0; i < nte; i++)
            for (size_t k = 0; k < groups; k++)
                fprintf (o, "%.9g%c", prob[i * groups + k], k + 1 < groups ? ',' : '\n');
        fclose (o);
    }
    printf ("dataset,classes,train_rows,test_rows,trees,max_depth,bins,eta,lambda,min_child_weight,"
            "subsample,auroc\n");
    printf ("%s,%zu,%zu,%zu,%zu,%zu,%zu,%g,%g,%g,%g,%.6f\n", data ? data : csv, K, ntr, nte, p.trees,
            p.max_depth, bins, p.eta, p.lambda, p.min_child_weight, p.subsample, auroc);
    rc = 0;
done:
    if (rc)
        fprintf (stderr, "fl-gbdt: failed (see the log above)\n");
    free (xb_train);
    free (xb_test);
    free (prob);
    fl_gbdt_destroy (&model);
    fl_gbdt_bins_destroy (&b);
    fl_dataset_destroy (&train);
    fl_dataset_destroy (&test);
    fl_dataset_destroy (&all);
    return rc;
}
