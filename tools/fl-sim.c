/*  fl-sim - the main job: a whole consortium on one machine.

    Launches one fl-coordinator and N fl-client processes over TCP loopback,
    each client holding one partition of a bundled data set, shows the
    coordinator's progress line per round, and ends with a summary comparing
    the federated model with (a) a centralised model trained to convergence
    on the pooled training rows and (b) every member trained alone, to
    convergence, on its own rows (libfl/learn/fl_baseline).  All are scored
    exactly on the same pooled test rows (the union of the members'
    held-out splits); the table goes to the screen, OUT/summary.csv and
    OUT/report.md, and --dump-split writes the rows out for a reference
    check (tools/fl-reference.py).  See docs/SIMULATION.md.
*/
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fl_args.h"
#include "fl_baseline.h"
#include "fl_options.h"
#include "fl_dataset.h"
#include "fl_metrics.h"
#include "fl_model.h"
#include "fl_modelfile.h"
#include "fl_partition.h"
#include "fl_schema.h"
#include "fl_table.h"
#include "fl_secagg.h"
#include "fl_shard.h"
#include "fl_stats.h"
#include "fl_train.h"

typedef struct {
    char dataset[64], datadir[1024], partition[16], column[128];
    char data[1024], label[128], drop[1024], schema[1024], missing[16];   /* a member's own CSV (docs/SIMULATION.md) */
    char shards[960], agreed[1000];  /* --data: the members' CSV files (shards/member-NN.csv) and the agreed schema */
    size_t clients, kill;
    double alpha, test_fraction;
    uint64_t seed, kill_round;
    double train_deadline;
    char out[1024], kill_at[32];
    char attack[32];
    size_t byzantine;
    double attack_scale;
    int quiet, no_baselines;
    char dump_split[1024];          /* --dump-split: the baselines' rows as CSV */
    double baseline_l2;
    fl_options_round_t r;           /* the coordinator options fl-coordinator takes too (io/fl_options) */
} settings_t;

#define F(x) offsetof (settings_t, x)
#define STR(x) F (x), sizeof ((settings_t *) 0)->x
static const fl_arg_t s_args[] = {
    {"dataset", FL_ARG_STR, STR (dataset), "NAME", "bundled data set: wdbc | pima | ulb | uci_credit | german_credit | breast_cancer", FL_ARG_NO_RANGE},
    {"data", FL_ARG_STR, STR (data), "CSV", "your own CSV (header row; text columns and missing values allowed) instead of --dataset", FL_ARG_NO_RANGE},
    {"label", FL_ARG_STR, STR (label), "COLUMN", "with --data: the label column (integers, or text mapped to 0..K-1; default: the last column)", FL_ARG_NO_RANGE},
    {"drop", FL_ARG_STR, STR (drop), "COL,...", "with --data: columns to leave out (identifiers)", FL_ARG_NO_RANGE},
    {"schema", FL_ARG_STR, STR (schema), "FILE", "with --data: a schema fixed in advance (types, vocabularies; docs/DATA.md) instead of the vocabulary round", FL_ARG_NO_RANGE},
    {"missing", FL_ARG_STR, STR (missing), "HOW", "with --data: missing cells (empty, NA, ?): impute (default) | error", FL_ARG_NO_RANGE},
    {"datadir", FL_ARG_STR, STR (datadir), "DIR", "directory of bundled data sets (default: the source tree's datasets/)", FL_ARG_NO_RANGE},
    {"clients", FL_ARG_SIZE, F (clients), 0, "N", "consortium members (client processes)", 1, 256},
    {"partition", FL_ARG_STR, STR (partition), "KIND", "how rows are split across members: iid | dirichlet | column", FL_ARG_NO_RANGE},
    {"alpha", FL_ARG_DOUBLE, F (alpha), 0, "A", "Dirichlet label-skew concentration (smaller = more skewed)", 1e-6, 1e6},
    {"partition-column", FL_ARG_STR, STR (column), "COLUMN", "column naming each row's member (partition column)", FL_ARG_NO_RANGE},
    {"test-fraction", FL_ARG_DOUBLE, F (test_fraction), 0, "F", "share of each member's rows held out for evaluation", 0.01, 0.9},
    {"seed", FL_ARG_U64, F (seed), 0, "S", "seed of everything: partition, split, initialisation, cohorts", FL_ARG_NO_RANGE},
    {"train-deadline", FL_ARG_DOUBLE, F (train_deadline), 0, "SEC", "per-round deadline for updates", 0.1, 3600},
    {"kill", FL_ARG_SIZE, F (kill), 0, "K", "fault demo: K members vanish in the middle of a round", 0, 255},
    {"kill-round", FL_ARG_U64, F (kill_round), 0, "R", "the round in which they vanish (default: half way)", 0, 100000},
    {"kill-at", FL_ARG_STR, STR (kill_at), "PHASE", "vanish at this secure-aggregation message instead of TRAIN (ADVERTISE_LIST | SHARES_RELAY | SURVIVORS | SIGNATURE_LIST)", FL_ARG_NO_RANGE},
    {"byzantine", FL_ARG_SIZE, F (byzantine), 0, "F", "EVALUATION ONLY: F members are attackers (the first F partitions)", 0, 255},
    {"attack", FL_ARG_STR, STR (attack), "KIND", "their attack: sign-flip | scale | gaussian | label-flip | alie | ipm | min-max | min-sum", FL_ARG_NO_RANGE},
    {"attack-scale", FL_ARG_DOUBLE, F (attack_scale), 0, "G", "attack strength (see fl-client --help; NaN = the attack's default)", FL_ARG_NO_RANGE},
    {"out", FL_ARG_STR, STR (out), "DIR", "where metrics.csv, model.flm, report.md and logs go", FL_ARG_NO_RANGE},
    {"dump-split", FL_ARG_STR, STR (dump_split), "DIR", "write the baselines' standardised rows (pooled and per-member train/test) as CSV into DIR, for tools/fl-reference.py", FL_ARG_NO_RANGE},
    {"baseline-l2", FL_ARG_DOUBLE, F (baseline_l2), 0, "L", "L2 of the logistic-regression baselines on the mean loss, scikit-learn C = 1/(L n) (NaN = 1/n for n training rows: sklearn's default C = 1)", 0, 1e6},
    {"no-baselines", FL_ARG_FLAG, F (no_baselines), 0, NULL, "skip the centralised and local-only comparison", FL_ARG_NO_RANGE},
    {"quiet", FL_ARG_FLAG, F (quiet), 0, NULL, "print only the summary", FL_ARG_NO_RANGE},
};
#undef F
#undef STR

static char s_bindir[PATH_MAX];

static void
s_find_bindir (const char *argv0)
{
    char buf[PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0)
        buf[n] = 0;
    else
        snprintf (buf, sizeof buf, "%s", argv0);
    char *slash = strrchr (buf, '/');
    if (slash)
        *slash = 0;
    else
        snprintf (buf, sizeof buf, ".");
    snprintf (s_bindir, sizeof s_bindir, "%s", buf);
}

/* fork + exec bin/<prog> with argv; stdout/stderr to files ("-" = inherit). */
static pid_t
s_spawn (const char *prog, char **args, const char *out_path, const char *err_path)
{
    char path[PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/%s", s_bindir, prog);
    fflush (stdout);
    fflush (stderr);
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (strcmp (out_path, "-") != 0 && !freopen (out_path, "w", stdout))
            _exit (126);
        if (strcmp (err_path, "-") != 0) {
            /* stdout and stderr to one file: share its descriptor (two opens
               would each write from offset 0 over the other's lines). */
            if (strcmp (err_path, out_path) == 0) {
                fflush (stdout);
                if (dup2 (fileno (stdout), fileno (stderr)) < 0)
                    _exit (126);
            }
            else if (!freopen (err_path, "w", stderr))
                _exit (126);
        }
        args[0] = path;
        execv (path, args);
        fprintf (stderr, "fl-sim: cannot run %s: %s\n", path, strerror (errno));
        _exit (127);
    }
    return pid;
}

typedef struct {
    char *v[96];
    char store[96][1200];
    int n;
} s_argv_t;

static void
s_arg (s_argv_t *a, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_arg (s_argv_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (a->store[a->n], sizeof a->store[0], fmt, ap);
    va_end (ap);
    a->v[a->n] = a->store[a->n];
    a->n++;
    a->v[a->n] = NULL;
}

static void
s_shard_spec (const settings_t *s, size_t i, fl_shard_spec_t *sp)
{
    fl_shard_spec_default (sp);
    if (s->data[0]) {               /* member i's own CSV, encoded with the agreed schema */
        int width = s->clients >= 1000 ? 4 : s->clients >= 100 ? 3 : 2;
        snprintf (sp->data, sizeof sp->data, "%s/member-%0*zu.csv", s->shards, width, i + 1);
        snprintf (sp->label, sizeof sp->label, "%s", s->label);
        snprintf (sp->schema, sizeof sp->schema, "%s", s->agreed);
        snprintf (sp->missing, sizeof sp->missing, "%s", s->missing);
        sp->seed = s->seed;
        sp->test_fraction = s->test_fraction;
        return;
    }
    snprintf (sp->dataset, sizeof sp->dataset, "%s", s->dataset);
    snprintf (sp->datadir, sizeof sp->datadir, "%s", s->datadir);
    snprintf (sp->partition, sizeof sp->partition, "%s", s->partition);
    snprintf (sp->column, sizeof sp->column, "%s", s->column);
    sp->partitions = s->clients;
    sp->index = i;
    sp->alpha = s->alpha;
    sp->seed = s->seed;
    sp->test_fraction = s->test_fraction;
}

/*  Trains a baseline to convergence on train (standardised): a fresh model
    of the federated run's shape, then logistic regression by full-batch
    L-BFGS with L2 --baseline-l2, by default 1/n for n training rows, which
    is scikit-learn's default C = 1 (fl_baseline_fit_logreg; the federated
    run itself has no penalty, so there is no "same" one to copy), any other model by
    the federated run's optimizer, batch size and learning rate with early
    stopping on a 10% validation split (fl_baseline_fit_early_stop, seeded
    by --seed).  rep receives what the fit did. */
static fl_model_t *
s_train_alone (const settings_t *s, fl_dataset_t *train, size_t classes, fl_baseline_report_t *rep)
{
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = fl_dataset_features (train);
    mc.n_classes = classes;
    mc.seed = s->seed;
    mc.qat = s->r.qat ? FL_MODEL_QAT_PER_CHANNEL : FL_MODEL_QAT_OFF;
    if (s->r.hidden[0] && fl_model_parse_hidden (s->r.hidden, &mc) != 0)
        return NULL;
    fl_model_t *m = fl_model_new (s->r.model, &mc);
    if (!m)
        return NULL;
    int rc;
    if (strcmp (s->r.model, "logreg") == 0) {
        fl_baseline_lbfgs_t lc;
        fl_baseline_lbfgs_default (&lc);
        lc.l2 = isnan (s->baseline_l2) ? 1.0 / (double) fl_dataset_rows (train) : s->baseline_l2;
        rc = fl_baseline_fit_logreg (m, fl_dataset_x (train), fl_dataset_y (train), fl_dataset_rows (train), &lc, rep);
    }
    else {
        fl_train_config_t tc;
        fl_train_config_default (&tc);
        fl_opt_kind_parse (s->r.client_opt, &tc.optimizer);
        tc.batch_size = s->r.batch_size;
        tc.lr = (float) s->r.client_lr;
        fl_baseline_early_stop_t es;
        fl_baseline_early_stop_default (&es);
        es.seed = s->seed;
        rc = fl_baseline_fit_early_stop (m, fl_dataset_x (train), fl_dataset_y (train), fl_dataset_rows (train), &tc,
                                         &es, rep);
    }
    if (rc != 0)
        fl_model_destroy (&m);
    return m;
}

static int
s_standardise_own (fl_dataset_t *ds, float *mean, float *std)
{
    fl_stats_t *st = fl_stats_new (fl_dataset_features (ds));
    int rc = st && fl_stats_accumulate (st, ds) == 0 && fl_stats_finalize (st, mean, std) == 0
                     && fl_dataset_standardise (ds, mean, std) == 0 ? 0 : -1;
    fl_stats_destroy (&st);
    return rc;
}

static int
s_evaluate (fl_model_t *m, const fl_dataset_t *test_raw, const float *mean, const float *std,
            fl_metrics_summary_t *out)
{
    uint32_t *rows = (uint32_t *) malloc (fl_dataset_rows (test_raw) * sizeof (uint32_t));
    if (!rows)
        return -1;
    for (size_t i = 0; i < fl_dataset_rows (test_raw); i++)
        rows[i] = (uint32_t) i;
    fl_dataset_t *t = fl_dataset_subset (test_raw, rows, fl_dataset_rows (test_raw));
    free (rows);
    if (!t || fl_dataset_standardise (t, mean, std) != 0) {
        fl_dataset_destroy (&t);
        return -1;
    }
    /* exact metrics (the scores are here, not at the members) */
    int rc = fl_baseline_metrics (m, fl_dataset_x (t), fl_dataset_y (t), fl_dataset_rows (t), out, NULL);
    fl_dataset_destroy (&t);
    return rc;
}


/*  Records the feature, label and class names in the model file the
    coordinator wrote (fl_modelfile_attach_names).  The coordinator never
    sees a member's header, so fl-sim, which prepared the members' data,
    takes them from member 1's data set: the CSV header's names (after
    encoding, for a CSV with text columns: "<col>=<value>" features), the
    label column, and the class names (the text labels of the agreed schema,
    else "0".."K-1"). */
static int
s_record_names (const settings_t *s, const char *model_path)
{
    fl_shard_spec_t sp;
    fl_dataset_t *train = NULL, *test = NULL;
    fl_model_t *m = NULL;
    float *mean = NULL, *std = NULL;
    fl_schema_t *schema = NULL;
    fl_modelfile_names_t names;
    memset (&names, 0, sizeof names);
    char why[512];
    int rc = -1;
    s_shard_spec (s, 0, &sp);
    if (fl_shard_load (&sp, &train, &test) != 0
        || fl_modelfile_load_plugin (model_path, s->r.model_plugin[0] ? s->r.model_plugin : NULL, &m, &mean, &std) != 0)
        goto done;
    if (s->data[0] && !(schema = fl_schema_load (s->agreed, why, sizeof why))) {
        fprintf (stderr, "fl-sim: %s\n", why);
        goto done;
    }
    size_t d = fl_dataset_features (train), k = fl_model_num_classes (m);
    if (d != fl_model_num_inputs (m)) {
        fprintf (stderr, "fl-sim: the data set has %zu features, the model %zu\n", d, fl_model_num_inputs (m));
        goto done;
    }
    names.features = (char **) calloc (d, sizeof (char *));
    names.classes = (char **) calloc (k, sizeof (char *));
    if (!names.features || !names.classes)
        goto done;
    names.n_features = d;
    names.n_classes = k;
    for (size_t j = 0; j < d; j++)
        if (!(names.features[j] = strdup (fl_dataset_feature_name (train, j))))
            goto done;
    for (size_t c = 0; c < k; c++) {
        char num[32];
        snprintf (num, sizeof num, "%zu", c);
        const char *text = schema ? fl_schema_label_value (schema, c) : NULL;
        if (!(names.classes[c] = strdup (text ? text : num)))
            goto done;
    }
    if (!(names.label = strdup (schema ? fl_schema_label (schema) : fl_dataset_label_name (train))))
        goto done;
    rc = fl_modelfile_attach_names (model_path, &names);
done:
    if (rc != 0)
        fprintf (stderr, "fl-sim: cannot record the feature names in %s\n", model_path);
    fl_modelfile_names_clear (&names);
    fl_schema_destroy (&schema);
    fl_dataset_destroy (&train);
    fl_dataset_destroy (&test);
    fl_model_destroy (&m);
    free (mean);
    free (std);
    return rc;
}

/* A metric for the screen and report.md: "undefined" when it is NAN. */
static const char *
s_fmt (char *buf, size_t cap, double v)
{
    if (isnan (v))
        snprintf (buf, cap, "undefined");
    else
        snprintf (buf, cap, "%.4f", v);
    return buf;
}

static void
s_row (const char *name, const fl_metrics_summary_t *m)
{
    char a[16], b[16], c[16], d[16];
    printf ("  %-34s %9s %9s %9s %9s\n", name, s_fmt (a, sizeof a, m->accuracy), s_fmt (b, sizeof b, m->auroc),
            s_fmt (c, sizeof c, m->auprc), s_fmt (d, sizeof d, m->log_loss));
}

/* A CSV field: a number, or empty for an undefined one. */
static void
s_csv_num (FILE *f, double v)
{
    if (isnan (v))
        fputs (",", f);
    else
        fprintf (f, ",%.6f", v);
}

/* A CSV cell quoted when it holds a comma, a quote or a line break (RFC 4180). */
static void
s_csv_cell (FILE *f, const char *v)
{
    if (!strpbrk (v, ",\"\r\n")) {
        fputs (v, f);
        return;
    }
    fputc ('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc ('"', f);
        fputc (*p, f);
    }
    fputc ('"', f);
}

/*  Writes ds (already standardised) as DIR/NAME: a header of the feature
    names and the label name, then one row per example, features as %.9g
    (float32 round-trips) and the label as its class index. */
static int
s_dump_csv (const char *dir, const char *name, const fl_dataset_t *ds)
{
    char path[1400];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen (path, "w");
    if (!f) {
        fprintf (stderr, "fl-sim: cannot write %s: %s\n", path, strerror (errno));
        return -1;
    }
    size_t n = fl_dataset_rows (ds), d = fl_dataset_features (ds);
    for (size_t j = 0; j < d; j++) {
        s_csv_cell (f, fl_dataset_feature_name (ds, j));
        fputc (',', f);
    }
    s_csv_cell (f, fl_dataset_label_name (ds));
    fputc ('\n', f);
    const float *x = fl_dataset_x (ds);
    const int32_t *y = fl_dataset_y (ds);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            fprintf (f, "%.9g,", (double) x[i * d + j]);
        fprintf (f, "%d\n", (int) y[i]);
    }
    if (fclose (f) != 0) {
        fprintf (stderr, "fl-sim: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* A standardised copy of raw with mean/std (NULL on failure). */
static fl_dataset_t *
s_standardised_copy (const fl_dataset_t *raw, const float *mean, const float *std)
{
    fl_dataset_t *t = fl_dataset_copy (raw);
    if (t && fl_dataset_standardise (t, mean, std) != 0)
        fl_dataset_destroy (&t);
    return t;
}

typedef struct {
    char name[48];
    size_t rows;
    int ok;                          /* trained and evaluated */
    fl_metrics_summary_t m;
    fl_baseline_report_t rep;
} s_result_t;

static void
s_fit_text (char *buf, size_t cap, const s_result_t *r, const char *model)
{
    if (!r->ok)
        snprintf (buf, cap, "could not be trained (see the log above)");
    else if (strcmp (model, "logreg") == 0)
        snprintf (buf, cap, "L-BFGS, %d iterations, stopped on %s", r->rep.iterations, r->rep.stop);
    else
        snprintf (buf, cap, "early stopping: best epoch %d of %d (%s)", r->rep.best_epoch, r->rep.iterations,
                  r->rep.stop);
}

/*  The comparison: federated, centralised and every member alone, all
    scored exactly on the pooled held-out rows; printed, written to
    OUT/summary.csv and appended to OUT/report.md; with --dump-split the
    rows the baselines saw are written out too. */
static int
s_baselines (const settings_t *s, const char *model_path)
{
    size_t n = s->clients;
    fl_dataset_t **train = (fl_dataset_t **) calloc (n, sizeof *train);
    fl_dataset_t **test = (fl_dataset_t **) calloc (n, sizeof *test);
    s_result_t *res = (s_result_t *) calloc (n + 2, sizeof *res);   /* [0] federated, [1] centralised, members */
    fl_dataset_t *pool_train = NULL, *pool_test = NULL;
    fl_model_t *fm = NULL;
    float *fmean = NULL, *fstd = NULL, *mean = NULL;
    int rc = -1;
    if (!train || !test || !res)
        goto done;
    for (size_t i = 0; i < n; i++) {
        fl_shard_spec_t sp;
        s_shard_spec (s, i, &sp);
        if (fl_shard_load (&sp, &train[i], &test[i]) != 0)
            goto done;
        fl_dataset_t *a = pool_train ? fl_dataset_concat (pool_train, train[i]) : fl_dataset_copy (train[i]);
        fl_dataset_t *b = pool_test ? fl_dataset_concat (pool_test, test[i]) : fl_dataset_copy (test[i]);
        fl_dataset_destroy (&pool_train);
        fl_dataset_destroy (&pool_test);
        pool_train = a;
        pool_test = b;
        if (!pool_train || !pool_test)
            goto done;
    }
    if (fl_modelfile_load (model_path, &fm, &fmean, &fstd) != 0 || !fmean
        || s_evaluate (fm, pool_test, fmean, fstd, &res[0].m) != 0) {
        fprintf (stderr, "fl-sim: cannot evaluate the federated model %s\n", model_path);
        goto done;
    }
    size_t classes = fl_model_num_classes (fm);
    snprintf (res[0].name, sizeof res[0].name, "federated (this run)");
    res[0].ok = 1;
    res[0].rows = fl_dataset_rows (pool_train);
    size_t d = fl_dataset_features (pool_train);
    mean = (float *) calloc (2 * d, sizeof (float));
    if (!mean)
        goto done;
    float *std = mean + d;
    if (s->dump_split[0] && mkdir (s->dump_split, 0755) != 0 && errno != EEXIST) {
        fprintf (stderr, "fl-sim: cannot create %s: %s\n", s->dump_split, strerror (errno));
        goto done;
    }

    /* Centralised: pooled training rows, pooled statistics (the same the
       federation computes in round 0). */
    snprintf (res[1].name, sizeof res[1].name, "centralised (pooled data)");
    res[1].rows = fl_dataset_rows (pool_train);
    if (s_standardise_own (pool_train, mean, std) != 0)
        goto done;
    fl_model_t *cm = s_train_alone (s, pool_train, classes, &res[1].rep);
    res[1].ok = cm && s_evaluate (cm, pool_test, mean, std, &res[1].m) == 0;
    fl_model_destroy (&cm);
    if (!res[1].ok) {
        fprintf (stderr, "fl-sim: cannot train the centralised baseline\n");
        goto done;
    }
    if (s->dump_split[0]) {
        fl_dataset_t *t = s_standardised_copy (pool_test, mean, std);
        int bad = !t || s_dump_csv (s->dump_split, "pooled_train.csv", pool_train) != 0
                  || s_dump_csv (s->dump_split, "pooled_test.csv", t) != 0;
        fl_dataset_destroy (&t);
        if (bad)
            goto done;
        /* what the reference needs to fit the same objective, and libfl's answer */
        char path[1400];
        snprintf (path, sizeof path, "%s/split.json", s->dump_split);
        FILE *j = fopen (path, "w");
        if (!j) {
            fprintf (stderr, "fl-sim: cannot write %s: %s\n", path, strerror (errno));
            goto done;
        }
        double l2 = isnan (s->baseline_l2) ? 1.0 / (double) fl_dataset_rows (pool_train) : s->baseline_l2;
        char dsname[2 * sizeof s->dataset], *o = dsname;    /* a JSON string: quote and backslash escaped, controls dropped */
        for (const char *c = s->dataset; *c; c++)
            if ((unsigned char) *c >= 0x20) {
                if (*c == '"' || *c == '\\')
                    *o++ = '\\';
                *o++ = *c;
            }
        *o = 0;
        fprintf (j, "{\"dataset\": \"%s\", \"seed\": %" PRIu64 ", \"classes\": %zu, \"model\": \"%s\",\n"
                    " \"standardised\": \"pooled_*: with the pooled training rows' mean and std; member-NN_*: with "
                    "that member's training rows' mean and std\",\n"
                    " \"l2\": %.17g, \"sklearn_C\": %.17g, \"train_rows\": %zu, \"test_rows\": %zu,\n"
                    " \"libfl_centralised\": {\"accuracy\": %.9f, \"auroc\": %.9f, \"auprc\": %.9f, \"log_loss\": %.9f}}\n",
                 dsname, s->seed, classes, s->r.model, l2, 1.0 / (l2 * (double) fl_dataset_rows (pool_train)),
                 fl_dataset_rows (pool_train), fl_dataset_rows (pool_test), res[1].m.accuracy, res[1].m.auroc,
                 res[1].m.auprc, res[1].m.log_loss);
        if (fclose (j) != 0)
            goto done;
    }

    /* Each member alone: its own rows and its own statistics. */
    int width = n >= 1000 ? 4 : n >= 100 ? 3 : 2;
    for (size_t i = 0; i < n; i++) {
        s_result_t *r = &res[2 + i];
        snprintf (r->name, sizeof r->name, "member-%0*zu alone", width, i + 1);
        r->rows = fl_dataset_rows (train[i]);
        r->m.accuracy = r->m.auroc = r->m.auprc = r->m.log_loss = NAN;
        if (s_standardise_own (train[i], mean, std) != 0)
            continue;
        fl_model_t *lm = s_train_alone (s, train[i], classes, &r->rep);
        r->ok = lm && s_evaluate (lm, pool_test, mean, std, &r->m) == 0;
        fl_model_destroy (&lm);
        if (s->dump_split[0]) {
            char name[64];
            fl_dataset_t *t = s_standardised_copy (test[i], mean, std);
            snprintf (name, sizeof name, "member-%0*zu_train.csv", width, i + 1);
            int bad = !t || s_dump_csv (s->dump_split, name, train[i]) != 0;
            snprintf (name, sizeof name, "member-%0*zu_test.csv", width, i + 1);
            bad = bad || s_dump_csv (s->dump_split, name, t) != 0;
            fl_dataset_destroy (&t);
            if (bad)
                goto done;
        }
    }

    /* The member-alone mean, over the members whose metric is defined. */
    fl_metrics_summary_t mean_alone;
    double sum[4] = {0, 0, 0, 0};
    size_t cnt[4] = {0, 0, 0, 0}, beats = 0, comparable = 0, beats_prc = 0, comparable_prc = 0;
    for (size_t i = 0; i < n; i++) {
        const fl_metrics_summary_t *m = &res[2 + i].m;
        double v[4] = {m->accuracy, m->auroc, m->auprc, m->log_loss};
        for (int q = 0; q < 4; q++)
            if (!isnan (v[q])) {
                sum[q] += v[q];
                cnt[q]++;
            }
        if (!isnan (m->auroc) && !isnan (res[0].m.auroc)) {
            comparable++;
            beats += res[0].m.auroc > m->auroc;
        }
        if (!isnan (m->auprc) && !isnan (res[0].m.auprc)) {
            comparable_prc++;
            beats_prc += res[0].m.auprc > m->auprc;
        }
    }
    mean_alone.accuracy = cnt[0] ? sum[0] / (double) cnt[0] : NAN;
    mean_alone.auroc = cnt[1] ? sum[1] / (double) cnt[1] : NAN;
    mean_alone.auprc = cnt[2] ? sum[2] / (double) cnt[2] : NAN;
    mean_alone.log_loss = cnt[3] ? sum[3] / (double) cnt[3] : NAN;

    printf ("\nSummary on the pooled held-out rows of all %zu members (%zu examples):\n", n,
            fl_dataset_rows (pool_test));
    printf ("  (exact metrics from every model's scores%s)\n",
            classes > 2 ? "; AUROC and AUPRC macro-averaged one-vs-rest over the classes present" : "");
    if (s->r.plaintext)
        printf ("  (plaintext run: updates were NOT masked)\n");
    if (s->byzantine)
        printf ("  (%zu of the %zu members were attackers (%s); the baselines use honest training only)\n",
                s->byzantine, s->clients, s->attack);
    printf ("  %-34s %9s %9s %9s %9s\n", "model", "accuracy", "AUROC", "AUPRC", "logloss");
    for (size_t i = 0; i < n + 2; i++)
        s_row (res[i].name, &res[i].m);
    char mname[64];
    snprintf (mname, sizeof mname, "member alone (mean of %zu)", cnt[1]);
    s_row (mname, &mean_alone);
    printf ("  Federated minus member-alone: accuracy %+.4f, AUROC %+.4f, AUPRC %+.4f\n",
            res[0].m.accuracy - mean_alone.accuracy, res[0].m.auroc - mean_alone.auroc,
            res[0].m.auprc - mean_alone.auprc);
    char fit[160];
    s_fit_text (fit, sizeof fit, &res[1], s->r.model);
    printf ("  Baselines trained to convergence: centralised %s%s\n", fit,
            strcmp (s->r.model, "logreg") == 0 ? "" : " (validation split 10%, patience 20)");
    if (strcmp (s->r.model, "logreg") == 0 && isnan (s->baseline_l2))
        printf ("  (L2 1/n on the mean loss, weights only, n the model's training rows: scikit-learn's C = 1)\n");
    else if (strcmp (s->r.model, "logreg") == 0)
        printf ("  (L2 %g on the mean loss, weights only: scikit-learn C = 1/(%g n))\n", s->baseline_l2,
                s->baseline_l2);
    printf ("  Federated beats %zu of %zu members alone on AUROC and %zu of %zu on AUPRC", beats, comparable, beats_prc,
            comparable_prc);
    if (!isnan (res[1].m.auroc) && res[1].m.auroc > 0)
        printf ("; federated / centralised AUROC %.3f", res[0].m.auroc / res[1].m.auroc);
    if (!isnan (res[1].m.auprc) && res[1].m.auprc > 0)
        printf (", AUPRC %.3f", res[0].m.auprc / res[1].m.auprc);
    printf ("\n");

    /* OUT/summary.csv: one row per model; an undefined metric is an empty cell. */
    char path[1400];
    snprintf (path, sizeof path, "%s/summary.csv", s->out);
    FILE *f = fopen (path, "w");
    if (!f) {
        fprintf (stderr, "fl-sim: cannot write %s: %s\n", path, strerror (errno));
        goto done;
    }
    fprintf (f, "model,train_rows,test_rows,accuracy,auroc,auprc,log_loss,fit,iterations,best_epoch,stop\n");
    for (size_t i = 0; i < n + 2; i++) {
        const s_result_t *r = &res[i];
        fprintf (f, "%s,%zu,%zu", i == 0 ? "federated" : i == 1 ? "centralised" : r->name, r->rows,
                 fl_dataset_rows (pool_test));
        s_csv_num (f, r->m.accuracy);
        s_csv_num (f, r->m.auroc);
        s_csv_num (f, r->m.auprc);
        s_csv_num (f, r->m.log_loss);
        if (i == 0)
            fprintf (f, ",federated,,,\n");
        else if (!r->ok)
            fprintf (f, ",failed,,,\n");
        else
            fprintf (f, ",%s,%d,%d,%s\n", strcmp (s->r.model, "logreg") == 0 ? "lbfgs" : "early_stopping",
                     r->rep.iterations, r->rep.best_epoch, r->rep.stop);
    }
    if (fclose (f) != 0)
        goto done;

    /* report.md: the same table, appended after the coordinator's report. */
    snprintf (path, sizeof path, "%s/report.md", s->out);
    f = fopen (path, "a");
    if (f) {
        fprintf (f, "\n## Baselines (fl-sim)\n\nAll models scored exactly on the pooled held-out rows of the %zu "
                    "members (%zu examples)%s. Centralised and member-alone models are trained to convergence: %s.\n\n",
                 n, fl_dataset_rows (pool_test), classes > 2 ? "; AUROC and AUPRC macro-averaged one-vs-rest" : "",
                 strcmp (s->r.model, "logreg") == 0 ? "full-batch L-BFGS, L2 on the weights" : "early stopping on a "
                 "10% validation split");
        fprintf (f, "| model | training rows | accuracy | AUROC | AUPRC | log loss |\n|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < n + 2; i++) {
            char a[16], b[16], c[16], e[16];
            fprintf (f, "| %s | %zu | %s | %s | %s | %s |\n", res[i].name, res[i].rows,
                     s_fmt (a, sizeof a, res[i].m.accuracy), s_fmt (b, sizeof b, res[i].m.auroc),
                     s_fmt (c, sizeof c, res[i].m.auprc), s_fmt (e, sizeof e, res[i].m.log_loss));
        }
        fprintf (f, "\nFederated beats %zu of %zu members alone on AUROC and %zu of %zu on AUPRC.\n", beats,
                 comparable, beats_prc, comparable_prc);
        fclose (f);
    }
    rc = 0;
done:
    for (size_t i = 0; train && test && i < n; i++) {
        fl_dataset_destroy (&train[i]);
        fl_dataset_destroy (&test[i]);
    }
    free (train);
    free (test);
    free (res);
    free (mean);
    fl_model_destroy (&fm);
    free (fmean);
    free (fstd);
    fl_dataset_destroy (&pool_train);
    fl_dataset_destroy (&pool_test);
    return rc;
}

/* Removes a directory of plain files (the run's throwaway keys). */
static void
s_remove_dir (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d)
        return;
    struct dirent *e;
    char path[2048];
    while ((e = readdir (d)))
        if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0) {
            snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
            unlink (path);
        }
    closedir (d);
    rmdir (dir);
}

/*  --data: shard the user's CSV across the members like a bundled data set
    (rows, --partition), write each member's rows as a CSV of its own (text
    cells as they were), then run the vocabulary round as the consortium
    would: each member reports its columns' types and distinct text values
    (fl_schema_from_table on its own file), the reports are merged into
    the sorted, capped union (fl_schema_merge), and the agreed schema is
    what every member (and the baselines) encode with.  With --schema the
    vocabulary was fixed in advance and no round is needed. */
static int
s_prepare_own_csv (settings_t *s)
{
    int rc = -1;
    fl_csv_error_t err;
    fl_table_t *table = fl_table_load_csv (s->data, NULL, &err);
    fl_schema_t *whole = NULL, *agreed = NULL;
    fl_dataset_t *ds = NULL;
    fl_partition_t *part = NULL;
    char why[512];
    if (!table) {
        fprintf (stderr, "fl-sim: %s\n", err.message);
        return -1;
    }
    if (!s->label[0])
        snprintf (s->label, sizeof s->label, "%s", fl_table_column_name (table, fl_table_columns (table) - 1));
    fl_partition_kind_t kind = fl_partition_kind_parse (s->partition);
    if (kind == FL_PARTITION_COLUMN) {
        /* The site column names the member; it is not a feature. */
        size_t len = strlen (s->drop);
        snprintf (s->drop + len, sizeof s->drop - len, "%s%s", len ? "," : "", s->column);
    }
    /* The simulator sees the whole file only to split it (labels for the
       Dirichlet skew); members never see this schema. */
    whole = s->schema[0] ? fl_schema_load (s->schema, why, sizeof why) : fl_schema_from_table (table, s->label, NULL, &err);
    if (!whole) {
        fprintf (stderr, "fl-sim: %s\n", s->schema[0] ? why : err.message);
        goto done;
    }
    ds = fl_schema_encode (whole, table, FL_SCHEMA_MISSING_IMPUTE, &err);
    if (!ds) {
        fprintf (stderr, "fl-sim: %s\n", err.message);
        goto done;
    }
    part = fl_partition_new (ds, kind, s->clients, s->alpha, s->column[0] ? s->column : NULL, s->seed);
    if (!part) {
        fprintf (stderr, "fl-sim: cannot split %s across %zu members with --partition %s\n", s->data, s->clients,
                 s->partition);
        goto done;
    }
    snprintf (s->shards, sizeof s->shards, "%.900s/shards", s->out);
    if (mkdir (s->shards, 0755) != 0 && errno != EEXIST) {
        fprintf (stderr, "fl-sim: cannot create %s: %s\n", s->shards, strerror (errno));
        goto done;
    }
    for (size_t i = 0; i < s->clients; i++) {
        fl_shard_spec_t sp;
        s_shard_spec (s, i, &sp);
        if (fl_table_write_csv (table, fl_partition_rows (part, i), fl_partition_size (part, i), sp.data) != 0)
            goto done;
    }
    if (s->schema[0])
        snprintf (s->agreed, sizeof s->agreed, "%.990s", s->schema);
    else {
        /* The vocabulary round: every member's report, merged. */
        for (size_t i = 0; i < s->clients; i++) {
            fl_shard_spec_t sp;
            s_shard_spec (s, i, &sp);
            fl_table_t *mine = fl_table_load_csv (sp.data, NULL, &err);
            fl_schema_t *report = mine ? fl_schema_from_table (mine, s->label, s->drop, &err) : NULL;
            fl_table_destroy (&mine);
            if (!report) {
                fprintf (stderr, "fl-sim: vocabulary round: %s\n", err.message);
                goto done;
            }
            if (!agreed)
                agreed = report;
            else {
                int m = fl_schema_merge (agreed, report, why, sizeof why);
                fl_schema_destroy (&report);
                if (m != 0) {
                    fprintf (stderr, "fl-sim: vocabulary round: member %zu: %s\n", i + 1, why);
                    goto done;
                }
            }
        }
        snprintf (s->agreed, sizeof s->agreed, "%.900s/schema.zpl", s->out);
        if (fl_schema_save (agreed, s->agreed) != 0)
            goto done;
        printf ("fl-sim: vocabulary round: %zu text column%s, %zu categories in the sorted union of the members' "
                "reports; schema in %s\n", fl_schema_text_columns (agreed),
                fl_schema_text_columns (agreed) == 1 ? "" : "s", fl_schema_text_values (agreed), s->agreed);
    }
    {
        fl_schema_t *show = agreed ? agreed : whole;
        char *map = fl_schema_label_mapping (show);
        printf ("fl-sim: %s: %zu rows, %zu features after encoding, label '%s'%s%s\n", s->data,
                fl_table_rows (table), fl_schema_features (show), fl_schema_label (show),
                map && map[0] ? ", label mapping " : "", map ? map : "");
        free (map);
    }
    rc = 0;
done:
    fl_partition_destroy (&part);
    fl_dataset_destroy (&ds);
    fl_schema_destroy (&whole);
    fl_schema_destroy (&agreed);
    fl_table_destroy (&table);
    return rc;
}

static volatile sig_atomic_t s_stop = 0;
static void
s_on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

int
main (int argc, char **argv)
{
    settings_t s;
    memset (&s, 0, sizeof s);
    fl_options_round_defaults (&s.r);
    s.r.batch_size = 16;            /* the demo's: smaller batches, a faster rate */
    s.r.client_lr = 0.1;
    snprintf (s.dataset, sizeof s.dataset, "wdbc");
    snprintf (s.partition, sizeof s.partition, "dirichlet");
    snprintf (s.out, sizeof s.out, "fl-sim-out");
    s.clients = 8;
    s.alpha = 0.5;
    s.test_fraction = 0.25;
    s.seed = 42;
    s.train_deadline = 30;
    s.attack_scale = NAN;
    s.baseline_l2 = NAN;             /* 1 / training rows (scikit-learn's default C = 1) */
    /* its own options, then the coordinator options it passes on (io/fl_options) */
    fl_arg_t all[sizeof s_args / sizeof s_args[0] + 64];
    size_t n_all = fl_args_append (all, sizeof all / sizeof all[0], 0, s_args, sizeof s_args / sizeof s_args[0], 0);
    n_all = fl_args_append (all, sizeof all / sizeof all[0], n_all, fl_options_round, fl_options_round_count,
                            offsetof (settings_t, r));
    int rc = fl_args_parse (all, n_all, &s, argc, argv, "fl-sim", "sim", NULL,
                            "Default: the diagnostics consortium: WDBC (breast cancer diagnosis) split\n"
                            "across 8 hospitals with Dirichlet(0.5) label skew, 20 rounds, secure\n"
                            "aggregation over CURVE with fresh keys per run (--plaintext to compare).\n"
                            "Fraud example: fl-sim --dataset ulb --clients 5 --model mlp --hidden 32\n"
                            "Your own CSV (text columns, missing values; docs/DATA.md):\n"
                            "  fl-sim --data datasets/german_credit.csv --label class [--drop COL,...]",
                            NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    s_find_bindir (argv[0]);
    if (!s.datadir[0])
        snprintf (s.datadir, sizeof s.datadir, "%s", fl_shard_default_datadir ());
    if (mkdir (s.out, 0755) != 0 && errno != EEXIST) {
        fprintf (stderr, "fl-sim: cannot create %s: %s\n", s.out, strerror (errno));
        return 1;
    }
    if (s.byzantine && (!s.attack[0] || s.byzantine >= s.clients)) {
        fprintf (stderr, "fl-sim: --byzantine %zu needs --attack and must leave honest members\n", s.byzantine);
        return 2;
    }
    if ((s.r.dp_adaptive_clip || s.r.dp_count_noise >= 0) && strcmp (s.r.dp_unit, "client") != 0) {
        fprintf (stderr, "fl-sim: --dp-adaptive-clip and --dp-count-noise need --dp-unit client\n");
        return 2;
    }
    if (s.kill >= s.clients) {
        fprintf (stderr, "fl-sim: --kill %zu must leave at least one of %zu members\n", s.kill, s.clients);
        return 2;
    }
    uint64_t kill_round = s.kill_round ? s.kill_round : (s.r.rounds + 1) / 2;
    zsys_init ();
    zsys_set_logstream (stderr);        /* library errors (e.g. a member's CSV) go to stderr, once */
    if (!s.r.plaintext && s.r.sa_dropout < 0) {
        /* Unset: the coordinator picks, per bucket size, the largest dropout
           assumption of 0.25, 0.2, ... 0 with a safe threshold
           (fl_secagg_params_choose_auto); say what it will pick here. */
        uint32_t n = (uint32_t) (s.r.bucket_size ? s.r.bucket_size : s.clients), k, t;
        double d = 0;
        if (n >= 3 && fl_secagg_params_choose_auto (n, s.r.sa_corrupt, &d, &k, &t) == 0 && d < 0.25)
            printf ("fl-sim: buckets of %u: assuming at most %.0f%% of a bucket drops out (the largest safe "
                    "assumption with %.0f%% colluding; --sa-dropout to change)\n", n, 100 * d, 100 * s.r.sa_corrupt);
    }
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    /* Bundled tables with text columns go the way of a member's own CSV. */
    if (!s.data[0] && fl_dataset_named_has_text (s.dataset)) {
        const char *label = NULL;
        if (fl_dataset_named (s.dataset, s.datadir, s.data, sizeof s.data, &label) != 0)
            return 1;
        if (!s.label[0])
            snprintf (s.label, sizeof s.label, "%s", label);
    }
    if (!s.data[0] && (s.label[0] || s.drop[0] || s.schema[0] || s.missing[0])) {
        fprintf (stderr, "fl-sim: --label, --drop, --schema and --missing go with --data\n");
        return 2;
    }
    if (s.data[0]) {
        fl_schema_missing_t how;
        if (s.missing[0] && fl_schema_missing_parse (s.missing, &how) != 0) {
            fprintf (stderr, "fl-sim: --missing '%s': expected impute or error\n", s.missing);
            return 2;
        }
        if (strlen (s.out) > 900 || strlen (s.schema) > 990) {
            fprintf (stderr, "fl-sim: --out or --schema path too long for --data\n");
            return 2;
        }
        if (s_prepare_own_csv (&s) != 0)
            return 1;
        const char *base = strrchr (s.data, '/');
        snprintf (s.dataset, sizeof s.dataset, "%.63s", base ? base + 1 : s.data);
    }

    /* Check the data before starting anything (clear error, no half-started run). */
    for (size_t i = 0; i < (s.data[0] ? s.clients : 1); i++) {     /* --data: every member's own file */
        fl_shard_spec_t sp;
        fl_dataset_t *a = NULL, *b = NULL;
        s_shard_spec (&s, i, &sp);
        if (fl_shard_load (&sp, &a, &b) != 0) {
            fprintf (stderr, "fl-sim: cannot prepare data set '%s' for %zu members\n", s.dataset, s.clients);
            return 1;
        }
        fl_dataset_destroy (&a);
        fl_dataset_destroy (&b);
    }
    /* Secure mode: fresh keys and a roster for this run (fl-keygen), removed at the end. */
    char keys[1200] = "";
    if (!s.r.plaintext) {
        snprintf (keys, sizeof keys, "%s/keys.XXXXXX", s.out);
        if (!mkdtemp (keys)) {
            fprintf (stderr, "fl-sim: cannot create a key directory in %s: %s\n", s.out, strerror (errno));
            return 1;
        }
        s_argv_t ka = {.n = 1};
        s_arg (&ka, "--out=%s", keys);
        s_arg (&ka, "--roster=%s/roster.zpl", keys);
        s_arg (&ka, "--members=%zu", s.clients);
        char klog[1300];
        snprintf (klog, sizeof klog, "%s/keygen.log", s.out);
        pid_t kp = s_spawn ("fl-keygen", ka.v, klog, klog);
        int kst = 0;
        if (kp < 0 || waitpid (kp, &kst, 0) != kp || !WIFEXITED (kst) || WEXITSTATUS (kst) != 0) {
            fprintf (stderr, "fl-sim: fl-keygen failed (see %s)\n", klog);
            return 1;
        }
    }
    char collude[1200] = "";
    if (s.byzantine) {
        snprintf (collude, sizeof collude, "%s/collude.XXXXXX", s.out);
        if (!mkdtemp (collude)) {
            fprintf (stderr, "fl-sim: cannot create a collusion directory in %s\n", s.out);
            return 1;
        }
        printf ("fl-sim: EVALUATION RUN WITH ATTACKERS: %zu of %zu members run the %s attack\n", s.byzantine,
                s.clients, s.attack);
    }
    char port_file[1200], model_path[1200];
    snprintf (port_file, sizeof port_file, "%s/coordinator.port", s.out);
    snprintf (model_path, sizeof model_path, "%s/model.flm", s.out);
    remove (port_file);

    printf ("fl-sim: %zu members on %s (%s%s), %" PRIu64 " rounds, model %s%s%s, %s, output in %s/\n", s.clients,
            s.dataset, s.partition, strcmp (s.partition, "dirichlet") == 0 ? " label skew" : "", s.r.rounds,
            s.r.model, s.r.hidden[0] ? " " : "", s.r.hidden,
            s.r.plaintext ? "PLAINTEXT FedAvg (updates unmasked)" : "secure aggregation over CURVE", s.out);
    s_argv_t ca = {.n = 1};
    s_arg (&ca, "--bind=tcp://127.0.0.1:*");
    s_arg (&ca, "--port-file=%s", port_file);
    s_arg (&ca, "--min-clients=%zu", s.clients);
    s_arg (&ca, "--min-cohort=%zu", s.clients - s.kill > 1 ? (size_t) 2 : (size_t) 1);
    s_arg (&ca, "--rounds=%" PRIu64, s.r.rounds);
    s_arg (&ca, "--fraction=%g", s.r.fraction);
    s_arg (&ca, "--local-epochs=%" PRIu64, s.r.local_epochs);
    s_arg (&ca, "--batch-size=%" PRIu64, s.r.batch_size);
    s_arg (&ca, "--client-lr=%g", s.r.client_lr);
    s_arg (&ca, "--client-opt=%s", s.r.client_opt);
    s_arg (&ca, "--server-opt=%s", s.r.server_opt);
    s_arg (&ca, "--server-lr=%g", s.r.server_lr);
    s_arg (&ca, "--model=%s", s.r.model);
    if (s.r.hidden[0])
        s_arg (&ca, "--hidden=%s", s.r.hidden);
    if (s.r.model_plugin[0])
        s_arg (&ca, "--model-plugin=%s", s.r.model_plugin);
    if (s.r.qat)
        s_arg (&ca, "--qat");
    s_arg (&ca, "--model-seed=%" PRIu64, s.seed);
    s_arg (&ca, "--seed=%" PRIu64, s.seed);
    s_arg (&ca, "--train-deadline=%g", s.train_deadline);
    s_arg (&ca, "--eval-deadline=%g", s.train_deadline);
    s_arg (&ca, "--join-timeout=%zu", 60 + 2 * s.clients);   /* 200 client processes take a while to start on 2 cores */
    s_arg (&ca, "--metrics=%s/metrics.csv", s.out);
    s_arg (&ca, "--model-out=%s", model_path);
    if (s.data[0])
        s_arg (&ca, "--schema=%s", s.agreed);       /* label mapping and encoding in the model file */
    s_arg (&ca, "--report=%s/report.md", s.out);
    if (s.byzantine)
        s_arg (&ca, "--run-name=fl-sim: %s, %zu members, %zu of them Byzantine (%s attack)", s.dataset, s.clients,
               s.byzantine, s.attack);
    else
        s_arg (&ca, "--run-name=fl-sim: %s, %zu members", s.dataset, s.clients);
    s_arg (&ca, "--aggregator=%s", s.r.aggregator);
    s_arg (&ca, "--trim-beta=%g", s.r.trim_beta);
    s_arg (&ca, "--robust-f=%zu", s.r.robust_f);
    s_arg (&ca, "--bucket-size=%zu", s.r.bucket_size);
    if (s.r.allow_small_buckets)
        s_arg (&ca, "--allow-small-buckets");
    if (s.r.dp_unit[0]) {
        s_arg (&ca, "--dp-unit=%s", s.r.dp_unit);
        if (s.r.dp_epsilon > 0)
            s_arg (&ca, "--dp-epsilon=%.17g", s.r.dp_epsilon);
        s_arg (&ca, "--dp-delta=%.17g", s.r.dp_delta);
        if (s.r.dp_noise_multiplier >= 0)
            s_arg (&ca, "--dp-noise-multiplier=%.17g", s.r.dp_noise_multiplier);
        s_arg (&ca, "--dp-clip=%.17g", s.r.dp_clip);
        s_arg (&ca, "--dp-steps=%" PRIu64, s.r.dp_steps);
        if (s.r.dp_record_central)
            s_arg (&ca, "--dp-record-central");
        s_arg (&ca, "--dp-batch-size=%" PRIu64, s.r.dp_batch_size);
        s_arg (&ca, "--dp-lr=%.17g", s.r.dp_lr);
        if (s.r.dp_adaptive_clip) {
            s_arg (&ca, "--dp-adaptive-clip");
            s_arg (&ca, "--dp-target-quantile=%.17g", s.r.dp_target_quantile);
            s_arg (&ca, "--dp-clip-lr=%.17g", s.r.dp_clip_lr);
            if (s.r.dp_count_noise >= 0)
                s_arg (&ca, "--dp-count-noise=%.17g", s.r.dp_count_noise);
            if (s.r.plaintext)
                s_arg (&ca, "--clip-norm=%g", s.r.clip_norm);   /* the starting norm (secure runs pass it below) */
        }
    }
    if (s.r.dp_distributed)             /* the coordinator refuses it without --dp-unit or with --plaintext */
        s_arg (&ca, "--dp-distributed");
    if (s.r.plaintext)
        s_arg (&ca, "--plaintext");
    else {
        s_arg (&ca, "--roster=%s/roster.zpl", keys);
        s_arg (&ca, "--cert=%s/coordinator.curve", keys);
        s_arg (&ca, "--clip-norm=%g", s.r.clip_norm);
        s_arg (&ca, "--sa-corrupt=%g", s.r.sa_corrupt);
        if (s.r.sa_dropout >= 0)              /* else the coordinator's auto choice */
            s_arg (&ca, "--sa-dropout=%g", s.r.sa_dropout);
        s_arg (&ca, "--secagg-deadline=%g", s.train_deadline);
    }
    char log[1200];
    snprintf (log, sizeof log, "%s/coordinator.log", s.out);
    pid_t coord = s_spawn ("fl-coordinator", ca.v, s.quiet ? log : "-", log);   /* logs to file; progress lines to stdout */
    if (coord < 0) {
        fprintf (stderr, "fl-sim: cannot start fl-coordinator\n");
        return 1;
    }
    int port = -1;
    for (int i = 0; i < 200 && port < 0 && !s_stop; i++) {
        FILE *pf = fopen (port_file, "r");
        if (pf) {
            if (fscanf (pf, "%d", &port) != 1)
                port = -1;
            fclose (pf);
        }
        if (port < 0)
            zclock_sleep (50);
    }
    if (port < 0) {
        fprintf (stderr, "fl-sim: fl-coordinator did not start (see %s)\n", log);
        kill (coord, SIGTERM);
        waitpid (coord, NULL, 0);
        return 1;
    }
    pid_t *pids = (pid_t *) calloc (s.clients, sizeof (pid_t));
    for (size_t i = 0; i < s.clients; i++) {
        s_argv_t a = {.n = 1};
        s_arg (&a, "--connect=tcp://127.0.0.1:%d", port);
        /* the member names fl-keygen --roster gives: member-01.., wider for large rosters */
        int width = s.clients >= 1000 ? 4 : s.clients >= 100 ? 3 : 2;
        s_arg (&a, "--member=member-%0*zu", width, i + 1);
        if (s.r.plaintext)
            s_arg (&a, "--plaintext");
        else {
            s_arg (&a, "--roster=%s/roster.zpl", keys);
            s_arg (&a, "--identity=%s/member-%0*zu.identity_secret", keys, width, i + 1);
            s_arg (&a, "--cert=%s/member-%0*zu.curve", keys, width, i + 1);
        }
        if (s.data[0]) {
            fl_shard_spec_t sp;
            s_shard_spec (&s, i, &sp);
            s_arg (&a, "--data=%s", sp.data);
            s_arg (&a, "--label=%s", sp.label);
            s_arg (&a, "--schema=%s", sp.schema);
            if (sp.missing[0])
                s_arg (&a, "--missing=%s", sp.missing);
        }
        else {
            s_arg (&a, "--dataset=%s", s.dataset);
            s_arg (&a, "--datadir=%s", s.datadir);
            s_arg (&a, "--partitions=%zu", s.clients);
            s_arg (&a, "--partition-index=%zu", i);
            s_arg (&a, "--partition=%s", s.partition);
            s_arg (&a, "--alpha=%g", s.alpha);
            if (s.column[0])
                s_arg (&a, "--partition-column=%s", s.column);
        }
        s_arg (&a, "--data-seed=%" PRIu64, s.seed);
        s_arg (&a, "--test-fraction=%g", s.test_fraction);
        s_arg (&a, "--seed=%zu", s.seed * 1000 + i);
        if (i < s.byzantine) {
            s_arg (&a, "--attack=%s", s.attack);
            if (!isnan (s.attack_scale))
                s_arg (&a, "--attack-scale=%g", s.attack_scale);
            s_arg (&a, "--collude=%s", collude);
            s_arg (&a, "--colluders=%zu", s.byzantine);
            s_arg (&a, "--attack-n=%zu", s.clients);    /* ALIE's n: the participants */
        }
        if (s.r.model_plugin[0])
            s_arg (&a, "--model-plugin=%s", s.r.model_plugin);
        if (s.r.model_plugin[0] && s.r.hidden[0])       /* the plugin fully named: fingerprint in HELLO */
            s_arg (&a, "--hidden=%s", s.r.hidden);
        if (s.r.qat)
            s_arg (&a, "--qat");
        if (i >= s.clients - s.kill) {
            s_arg (&a, "--exit-during-round=%" PRIu64, kill_round);
            if (s.kill_at[0])
                s_arg (&a, "--exit-at=%s", s.kill_at);
        }
        snprintf (log, sizeof log, "%s/client-%02zu.log", s.out, i + 1);
        pids[i] = s_spawn ("fl-client", a.v, log, log);
    }
    if (s.kill)
        printf ("fl-sim: fault demo: %zu member(s) will vanish during round %" PRIu64 "\n", s.kill, kill_round);
    int status = 0;
    struct rusage ru;
    memset (&ru, 0, sizeof ru);
    int64_t t_start = zclock_mono ();
    for (;;) {
        pid_t w = wait4 (coord, &status, WNOHANG, &ru);
        if (w == coord || w < 0)
            break;
        if (s_stop) {
            kill (coord, SIGTERM);
            wait4 (coord, &status, 0, &ru);
            break;
        }
        zclock_sleep (50);
    }
    double wall = (zclock_mono () - t_start) / 1000.0;
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf ("fl-sim: coordinator: %.1f s wall, %.2f s CPU (user+system), peak memory %.1f MiB\n", wall, cpu,
            ru.ru_maxrss / 1024.0);
    /* Clients leave on the coordinator's BYE; give them a moment, then stop stragglers. */
    for (int t = 0; t < 60; t++) {
        int alive = 0;
        for (size_t i = 0; i < s.clients; i++)
            if (pids[i] > 0) {
                if (waitpid (pids[i], NULL, WNOHANG) == pids[i])
                    pids[i] = 0;
                else
                    alive++;
            }
        if (!alive)
            break;
        if (t == 40)
            for (size_t i = 0; i < s.clients; i++)
                if (pids[i] > 0)
                    kill (pids[i], SIGTERM);
        zclock_sleep (50);
    }
    for (size_t i = 0; i < s.clients; i++)
        if (pids[i] > 0) {
            kill (pids[i], SIGKILL);
            waitpid (pids[i], NULL, 0);
        }
    free (pids);
    if (keys[0])
        s_remove_dir (keys);
    if (collude[0])
        s_remove_dir (collude);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        fprintf (stderr, "fl-sim: the coordinator did not finish the run (see %s/coordinator.log)\n", s.out);
        return 1;
    }
    if (s_record_names (&s, model_path) != 0)
        return 1;
    if (!s.no_baselines && s.r.model_plugin[0])      /* model files name built-in models only */
        printf ("\nfl-sim: no baselines with --model-plugin (the model file is not reloadable)\n");
    else if (!s.no_baselines && s_baselines (&s, model_path) != 0)
        return 1;
    printf ("\nfl-sim: metrics %s/metrics.csv, model %s, report %s/report.md\n", s.out, model_path, s.out);
    return 0;
}
