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
#include "fl_plot.h"
#include "fl_report.h"
#include "fl_roster.h"
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
    char train_deadline[24];        /* seconds, or "auto" (the coordinator's --train-deadline auto) */
    double deadline;                /* seconds: --train-deadline, or 30 with auto (evaluation, secure phases) */
    char out[1024], kill_at[32];
    char attack[32];
    size_t byzantine;
    double attack_scale;
    char attacker_rows[16];         /* partition | equal */
    uint64_t attacker_weight;       /* examples each attacker claims (0: its training rows) */
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
    {"train-deadline", FL_ARG_STR, STR (train_deadline), "SEC|auto", "per-round deadline for updates (0.1 to 3600 s; also evaluation's and each secure phase's), or auto: the coordinator's, following the measured training times (evaluation and secure phases then 30 s)", FL_ARG_NO_RANGE},
    {"kill", FL_ARG_SIZE, F (kill), 0, "K", "fault demo: K members vanish in the middle of a round", 0, 255},
    {"kill-round", FL_ARG_U64, F (kill_round), 0, "R", "the round in which they vanish (default: half way)", 0, 100000},
    {"kill-at", FL_ARG_STR, STR (kill_at), "PHASE", "vanish at this secure-aggregation message instead of TRAIN (ADVERTISE_LIST | SHARES_RELAY | SURVIVORS | SIGNATURE_LIST)", FL_ARG_NO_RANGE},
    {"byzantine", FL_ARG_SIZE, F (byzantine), 0, "F", "EVALUATION ONLY: F members are attackers (the first F partitions)", 0, 255},
    {"attack", FL_ARG_STR, STR (attack), "KIND", "their attack: sign-flip | scale | gaussian | label-flip | alie | ipm | min-max | min-sum", FL_ARG_NO_RANGE},
    {"attack-scale", FL_ARG_DOUBLE, F (attack_scale), 0, "G", "attack strength (see fl-client --help; NaN = the attack's default)", FL_ARG_NO_RANGE},
    {"attacker-rows", FL_ARG_STR, STR (attacker_rows), "HOW", "EVALUATION ONLY: partition (each attacker trains on its own partition) | equal (on as many rows, resampled from its partition, as the mean member holds)", FL_ARG_NO_RANGE},
    {"attacker-weight", FL_ARG_U64, F (attacker_weight), 0, "N", "EVALUATION ONLY: examples each attacker claims in its updates, FedAvg's weight (capped by --example-cap of the coordinator; 0 = the rows it trains on)", 0, 1e12},
    {"out", FL_ARG_STR, STR (out), "DIR", "where metrics.csv, model.flm, report.md and logs go", FL_ARG_NO_RANGE},
    {"dump-split", FL_ARG_STR, STR (dump_split), "DIR", "write the baselines' standardised rows (pooled and per-member train/test) as CSV into DIR, for tools/fl-reference.py", FL_ARG_NO_RANGE},
    {"baseline-l2", FL_ARG_DOUBLE, F (baseline_l2), 0, "L", "L2 of the logistic-regression baselines on the mean loss, scikit-learn C = 1/(L n) (NaN = the run's --weight-decay if set, else 1/n for n training rows: sklearn's default C = 1)", 0, 1e6},
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

/*  --class-weight balanced: n / (k n_c) from train's own labels, as every
    member computes it from its own (fl_client); a class absent gets 1
    (unused).  cw has classes entries; returns cw, or NULL for "none". */
static const float *
s_class_weights (const settings_t *s, const fl_dataset_t *train, size_t classes, float *cw)
{
    if (strcmp (s->r.class_weight, "balanced") != 0 || classes > 1000)
        return NULL;
    size_t n = fl_dataset_rows (train), cnt[1000] = {0};
    const int32_t *y = fl_dataset_y (train);
    for (size_t i = 0; i < n; i++)
        if (y[i] >= 0 && (size_t) y[i] < classes)
            cnt[y[i]]++;
    for (size_t c = 0; c < classes; c++)
        cw[c] = cnt[c] ? (float) ((double) n / ((double) classes * (double) cnt[c])) : 1.0f;
    return cw;
}

/*  The L2 of the logistic-regression baselines: --baseline-l2, else the
    federated run's --weight-decay when set (the same penalty, on the
    weights only), else 1/n (scikit-learn's default C = 1). */
static double
s_baseline_l2 (const settings_t *s, size_t n)
{
    if (!isnan (s->baseline_l2))
        return s->baseline_l2;
    return s->r.weight_decay > 0 ? s->r.weight_decay : 1.0 / (double) n;
}

/*  Trains a baseline to convergence on train (standardised): a fresh model
    of the federated run's shape, then logistic regression by full-batch
    L-BFGS with L2 --baseline-l2, by default 1/n for n training rows, which
    is scikit-learn's default C = 1, or the run's --weight-decay when set
    (fl_baseline_fit_logreg), with the run's class weights, any other model by
    the federated run's optimizer, batch size and learning rate with early
    stopping on a 10% validation split (fl_baseline_fit_early_stop, seeded
    by --seed).  rep receives what the fit did. */
static fl_model_t *
s_train_alone (const settings_t *s, fl_dataset_t *train, size_t classes, fl_baseline_report_t *rep)
{
    float cwbuf[1000];
    const float *cw = s_class_weights (s, train, classes, cwbuf);
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
        lc.l2 = s_baseline_l2 (s, fl_dataset_rows (train));
        lc.class_weights = cw;
        rc = fl_baseline_fit_logreg (m, fl_dataset_x (train), fl_dataset_y (train), fl_dataset_rows (train), &lc, rep);
    }
    else {
        fl_train_config_t tc;
        fl_train_config_default (&tc);
        fl_opt_kind_parse (s->r.client_opt, &tc.optimizer);
        tc.batch_size = s->r.batch_size;
        tc.lr = (float) s->r.client_lr;
        tc.weight_decay = (float) s->r.weight_decay;     /* the federated run's regularisation */
        tc.class_weights = cw;
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

/*  What fl-sim adds to fl_baseline_metrics for imbalanced tasks, exact
    from the scores: the Brier score (binary; multi-class Brier's sum over
    the classes) and the operating point of --threshold / --top-fraction
    (multi-class: one-vs-rest, macro-averaged). */
typedef struct {
    double brier;
    fl_metrics_oppoint_t op;
} s_extra_t;

/* The summary's columns, in the order of s_vals; the order printed depends on the balance. */
enum { M_ACC, M_ROC, M_PRC, M_LL, M_BRIER, M_P, M_R, M_F1, M_N };
static const char *s_mname[M_N] = {"accuracy", "AUROC", "AUPRC", "logloss", "Brier", "precision", "recall", "F1"};

static const settings_t *s_opts;     /* the run's settings, for the operating point */

static void
s_extra (fl_model_t *m, const fl_dataset_t *t, s_extra_t *ex)
{
    ex->brier = NAN;
    ex->op = (fl_metrics_oppoint_t) {NAN, 0, 0, 0, 0, NAN, NAN, NAN};
    size_t n = fl_dataset_rows (t), no = fl_model_num_outputs (m), k = fl_model_num_classes (m);
    float *prob = (float *) malloc ((n ? n : 1) * no * sizeof (float));
    if (prob && n && fl_model_predict (m, fl_dataset_x (t), n, prob) == 0) {
        double thr = s_opts->r.threshold, top = s_opts->r.top_fraction;
        if (no == 1) {
            ex->brier = fl_metrics_brier (prob, fl_dataset_y (t), n);
            fl_metrics_oppoint (prob, fl_dataset_y (t), n, thr, top, &ex->op);
        }
        else {
            ex->brier = fl_metrics_brier_multi (prob, fl_dataset_y (t), n, k);
            fl_metrics_oppoint_multi (prob, fl_dataset_y (t), n, k, thr, top, &ex->op);
        }
    }
    free (prob);
}

static int
s_evaluate (fl_model_t *m, const fl_dataset_t *test_raw, const float *mean, const float *std,
            fl_metrics_summary_t *out, s_extra_t *ex)
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
    if (rc == 0)
        s_extra (m, t, ex);
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
s_row (const char *name, const double v[M_N], const int *order)
{
    printf ("  %-30s", name);
    for (int q = 0; q < M_N; q++) {
        char a[16];
        printf (" %9s", s_fmt (a, sizeof a, v[order[q]]));
    }
    printf ("\n");
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
    s_extra_t ex;
} s_result_t;


static void
s_vals (const s_result_t *r, double v[M_N])
{
    double t[M_N] = {r->m.accuracy, r->m.auroc, r->m.auprc, r->m.log_loss, r->ex.brier, r->ex.op.precision,
                     r->ex.op.recall, r->ex.op.f1};
    memcpy (v, t, sizeof t);
}

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
        || s_evaluate (fm, pool_test, fmean, fstd, &res[0].m, &res[0].ex) != 0) {
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
    res[1].ok = cm && s_evaluate (cm, pool_test, mean, std, &res[1].m, &res[1].ex) == 0;
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
        double l2 = s_baseline_l2 (s, fl_dataset_rows (pool_train));
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
        r->ok = lm && s_evaluate (lm, pool_test, mean, std, &r->m, &r->ex) == 0;
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
    double mean_alone[M_N], sum[M_N] = {0};
    size_t cnt[M_N] = {0}, beats = 0, comparable = 0, beats_prc = 0, comparable_prc = 0;
    for (size_t i = 0; i < n; i++) {
        const fl_metrics_summary_t *m = &res[2 + i].m;
        double v[M_N];
        s_vals (&res[2 + i], v);
        for (int q = 0; q < M_N; q++)
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
    for (int q = 0; q < M_N; q++)
        mean_alone[q] = cnt[q] ? sum[q] / (double) cnt[q] : NAN;

    /* Imbalanced (a class below FL_METRICS_IMBALANCED of the held-out rows):
       AUROC and AUPRC lead, accuracy comes last. */
    double share = fl_metrics_min_class_share (fl_dataset_y (pool_test), fl_dataset_rows (pool_test), classes);
    int imbalanced = share < FL_METRICS_IMBALANCED;
    static const int balanced_order[M_N] = {M_ACC, M_ROC, M_PRC, M_LL, M_BRIER, M_P, M_R, M_F1};
    static const int imbalanced_order[M_N] = {M_ROC, M_PRC, M_LL, M_BRIER, M_P, M_R, M_F1, M_ACC};
    const int *order = imbalanced ? imbalanced_order : balanced_order;
    char opdesc[160];
    if (s->r.top_fraction > 0)
        snprintf (opdesc, sizeof opdesc, "the top %g%% of rows by each model's score (--top-fraction %g)",
                  100 * s->r.top_fraction, s->r.top_fraction);
    else
        snprintf (opdesc, sizeof opdesc, "score >= %g (--threshold)", s->r.threshold);

    printf ("\nSummary on the pooled held-out rows of all %zu members (%zu examples):\n", n,
            fl_dataset_rows (pool_test));
    printf ("  (exact metrics from every model's scores%s)\n",
            classes > 2 ? "; AUROC, AUPRC, precision, recall and F1 macro-averaged one-vs-rest over the classes "
                          "where defined; Brier summed over the classes" : "");
    if (imbalanced)
        printf ("  (imbalanced: the smallest class is %.2f%% of the rows, so AUROC and AUPRC lead and accuracy "
                "says little)\n", 100 * share);
    printf ("  (precision, recall, F1 at the operating point: %s; Brier score: calibration, lower is better)\n",
            opdesc);
    if (s->r.top_fraction > 0)
        printf ("  (rows tied with the cut-off score are flagged too: federated flagged %" PRIu64 " rows, centralised %"
                PRIu64 ", of %zu)\n", res[0].ex.op.flagged, res[1].ex.op.flagged, fl_dataset_rows (pool_test));
    if (s->r.plaintext)
        printf ("  (plaintext run: updates were NOT masked)\n");
    if (s->byzantine)
        printf ("  (%zu of the %zu members were attackers (%s); the baselines use honest training only)\n",
                s->byzantine, s->clients, s->attack);
    printf ("  %-30s", "model");
    for (int q = 0; q < M_N; q++)
        printf (" %9s", s_mname[order[q]]);
    printf ("\n");
    for (size_t i = 0; i < n + 2; i++) {
        double v[M_N];
        s_vals (&res[i], v);
        s_row (res[i].name, v, order);
    }
    char mname[64];
    snprintf (mname, sizeof mname, "member alone (mean of %zu)", cnt[M_ROC]);
    s_row (mname, mean_alone, order);
    if (imbalanced)
        printf ("  Federated minus member-alone: AUROC %+.4f, AUPRC %+.4f, accuracy %+.4f\n",
                res[0].m.auroc - mean_alone[M_ROC], res[0].m.auprc - mean_alone[M_PRC],
                res[0].m.accuracy - mean_alone[M_ACC]);
    else
        printf ("  Federated minus member-alone: accuracy %+.4f, AUROC %+.4f, AUPRC %+.4f\n",
                res[0].m.accuracy - mean_alone[M_ACC], res[0].m.auroc - mean_alone[M_ROC],
                res[0].m.auprc - mean_alone[M_PRC]);
    if (strcmp (s->r.class_weight, "balanced") == 0 || s->r.weight_decay > 0)
        printf ("  (the federated run and the baselines: class weights %s%s, weight decay %g)\n", s->r.class_weight,
                strcmp (s->r.class_weight, "balanced") == 0 ? " (n / (k n_c) from each model's own training rows)"
                : "", s->r.weight_decay);
    char fit[160];
    s_fit_text (fit, sizeof fit, &res[1], s->r.model);
    printf ("  Baselines trained to convergence: centralised %s%s\n", fit,
            strcmp (s->r.model, "logreg") == 0 ? "" : " (validation split 10%, patience 20)");
    if (strcmp (s->r.model, "logreg") == 0 && isnan (s->baseline_l2) && s->r.weight_decay > 0)
        printf ("  (L2 %g on the mean loss, the run's --weight-decay, on the weights only: scikit-learn C = 1/(%g n))\n",
                s->r.weight_decay, s->r.weight_decay);
    else if (strcmp (s->r.model, "logreg") == 0 && isnan (s->baseline_l2))
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
    fprintf (f, "model,train_rows,test_rows,accuracy,auroc,auprc,log_loss,fit,iterations,best_epoch,stop,"
                "brier,op_threshold,op_flagged,op_precision,op_recall,op_f1\n");
    for (size_t i = 0; i < n + 2; i++) {
        const s_result_t *r = &res[i];
        fprintf (f, "%s,%zu,%zu", i == 0 ? "federated" : i == 1 ? "centralised" : r->name, r->rows,
                 fl_dataset_rows (pool_test));
        s_csv_num (f, r->m.accuracy);
        s_csv_num (f, r->m.auroc);
        s_csv_num (f, r->m.auprc);
        s_csv_num (f, r->m.log_loss);
        if (i == 0)
            fprintf (f, ",federated,,,");
        else if (!r->ok)
            fprintf (f, ",failed,,,");
        else
            fprintf (f, ",%s,%d,%d,%s", strcmp (s->r.model, "logreg") == 0 ? "lbfgs" : "early_stopping",
                     r->rep.iterations, r->rep.best_epoch, r->rep.stop);
        s_csv_num (f, r->ex.brier);
        s_csv_num (f, r->ex.op.threshold);
        fprintf (f, ",%" PRIu64, r->ex.op.flagged);
        s_csv_num (f, r->ex.op.precision);
        s_csv_num (f, r->ex.op.recall);
        s_csv_num (f, r->ex.op.f1);
        fputc ('\n', f);
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
        if (imbalanced)
            fprintf (f, "The smallest class is %.2f%% of the held-out rows: AUROC and AUPRC lead, accuracy says "
                        "little. ", 100 * share);
        fprintf (f, "Precision, recall and F1 at the operating point: %s (exact, from every model's scores); the "
                    "Brier score measures calibration (lower is better).\n\n| model | training rows |", opdesc);
        for (int q = 0; q < M_N; q++)
            fprintf (f, " %s |", s_mname[order[q]]);
        fprintf (f, "\n|---|---|");
        for (int q = 0; q < M_N; q++)
            fprintf (f, "---|");
        fprintf (f, "\n");
        for (size_t i = 0; i < n + 2; i++) {
            double v[M_N];
            s_vals (&res[i], v);
            fprintf (f, "| %s | %zu |", res[i].name, res[i].rows);
            for (int q = 0; q < M_N; q++) {
                char a[16];
                fprintf (f, " %s |", s_fmt (a, sizeof a, v[order[q]]));
            }
            fprintf (f, "\n");
        }
        fprintf (f, "\nFederated beats %zu of %zu members alone on AUROC and %zu of %zu on AUPRC.\n", beats,
                 comparable, beats_prc, comparable_prc);
        fclose (f);
    }
    /* report.html: the same table, as a section before the page's end
       (names escaped: a member's or data set's name is data). */
    {
        char *sec = NULL;
        size_t sl = 0;
        FILE *h = open_memstream (&sec, &sl);
        if (h) {
            fprintf (h, "<h2>Baselines (fl-sim)</h2>\n<p>All models scored exactly on the pooled held-out rows of the "
                        "%zu members (%zu examples)%s. Centralised and member-alone models are trained to "
                        "convergence: %s. Only a simulation can compute these (it holds every member's rows).</p>\n"
                        "<table>\n<tr><th>model</th><th>training rows</th><th>accuracy</th><th>AUROC</th>"
                        "<th>AUPRC</th><th>log loss</th></tr>\n", n, fl_dataset_rows (pool_test),
                     classes > 2 ? "; AUROC and AUPRC macro-averaged one-vs-rest" : "",
                     strcmp (s->r.model, "logreg") == 0 ? "full-batch L-BFGS, L2 on the weights"
                                                        : "early stopping on a 10% validation split");
            for (size_t i = 0; i < n + 2; i++) {
                char a[16], b[16], c[16], e[16];
                fprintf (h, "<tr><td>");
                fl_plot_html_escape (h, res[i].name);
                fprintf (h, "</td><td>%zu</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", res[i].rows,
                         s_fmt (a, sizeof a, res[i].m.accuracy), s_fmt (b, sizeof b, res[i].m.auroc),
                         s_fmt (c, sizeof c, res[i].m.auprc), s_fmt (e, sizeof e, res[i].m.log_loss));
            }
            fprintf (h, "</table>\n<p>Federated beats %zu of %zu members alone on AUROC and %zu of %zu on AUPRC "
                        "(summary.csv holds the same figures).</p>\n", beats, comparable, beats_prc, comparable_prc);
            if (fclose (h) == 0) {
                snprintf (path, sizeof path, "%s/report.html", s->out);
                if (fl_report_html_insert (path, sec) != 0)
                    fprintf (stderr, "fl-sim: the baselines could not be added to %s (see the log)\n", path);
            }
            free (sec);
        }
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

/*  Prints the last ERROR line of a log (why a program refused to start,
    e.g. a robust rule that would trim nothing), if there is one. */
static void
s_print_last_error (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return;
    char line[2048], last[2048] = "";
    while (fgets (line, sizeof line, f))
        if (strstr (line, " ERROR "))
            snprintf (last, sizeof last, "%s", line);
    fclose (f);
    const char *why = strstr (last, "invalid configuration: ");
    if (why)
        fprintf (stderr, "fl-sim: the coordinator refused the configuration: %s", why + strlen ("invalid configuration: "));
    else if (last[0])
        fprintf (stderr, "fl-sim: %s", last);
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
    snprintf (s.train_deadline, sizeof s.train_deadline, "30");
    s.attack_scale = NAN;
    snprintf (s.attacker_rows, sizeof s.attacker_rows, "partition");
    s.baseline_l2 = NAN;             /* --weight-decay, else 1 / training rows (scikit-learn's default C = 1) */
    s_opts = &s;
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
    if (strcmp (s.train_deadline, "auto") == 0)
        s.deadline = 30;
    else {
        char *end;
        errno = 0;
        s.deadline = strtod (s.train_deadline, &end);
        if (end == s.train_deadline || *end || errno || !(s.deadline >= 0.1 && s.deadline <= 3600)) {
            fprintf (stderr, "fl-sim: --train-deadline: '%s' is neither seconds in [0.1, 3600] nor auto\n",
                     s.train_deadline);
            return 2;
        }
    }
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
    int equal_rows = strcmp (s.attacker_rows, "equal") == 0;
    if (!equal_rows && strcmp (s.attacker_rows, "partition") != 0) {
        fprintf (stderr, "fl-sim: --attacker-rows '%s': expected partition or equal\n", s.attacker_rows);
        return 2;
    }
    if (!s.byzantine && (equal_rows || s.attacker_weight)) {
        fprintf (stderr, "fl-sim: --attacker-rows equal and --attacker-weight go with --byzantine\n");
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

    /* Check the data before starting anything (clear error, no half-started run).
       --attacker-rows equal: every member's shard, for the mean member's
       training rows. */
    size_t train_total = 0, attacker_rows = 0, attackers_own = 0;
    for (size_t i = 0; i < (s.data[0] || s.byzantine ? s.clients : 1); i++) {     /* --data: every member's own file */
        fl_shard_spec_t sp;
        fl_dataset_t *a = NULL, *b = NULL;
        s_shard_spec (&s, i, &sp);
        if (fl_shard_load (&sp, &a, &b) != 0) {
            fprintf (stderr, "fl-sim: cannot prepare data set '%s' for %zu members\n", s.dataset, s.clients);
            return 1;
        }
        train_total += fl_dataset_rows (a);
        if (i < s.byzantine)
            attackers_own += fl_dataset_rows (a);
        fl_dataset_destroy (&a);
        fl_dataset_destroy (&b);
    }
    if (equal_rows)
        attacker_rows = (train_total + s.clients / 2) / s.clients;
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
        printf ("fl-sim: the attackers' partitions hold %zu of the %zu training rows (%.1f%%)\n", attackers_own,
                train_total, train_total ? 100.0 * (double) attackers_own / (double) train_total : 0.0);
        if (equal_rows)
            printf ("fl-sim: each attacker trains on %zu rows resampled from its partition (the mean member's "
                    "training rows)%s\n", attacker_rows, s.attacker_weight ? "" : " and claims as many examples");
        if (s.attacker_weight)
            printf ("fl-sim: each attacker claims %" PRIu64 " examples per update (FedAvg's weight; the coordinator "
                    "caps it at its --example-cap)\n", s.attacker_weight);
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
    if (strcmp (s.train_deadline, "auto") == 0) {
        s_arg (&ca, "--train-deadline=auto");
        s_arg (&ca, "--train-deadline-max=%g", s.r.train_deadline_max);
    }
    else
        s_arg (&ca, "--train-deadline=%g", s.deadline);
    s_arg (&ca, "--eval-deadline=%g", s.deadline);
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
    /* imbalance and model selection (the coordinator checks them) */
    s_arg (&ca, "--class-weight=%s", s.r.class_weight);
    s_arg (&ca, "--weight-decay=%.17g", s.r.weight_decay);
    s_arg (&ca, "--early-stop=%" PRIu64, s.r.early_stop);
    s_arg (&ca, "--threshold=%.17g", s.r.threshold);
    s_arg (&ca, "--top-fraction=%.17g", s.r.top_fraction);
    if (s.r.plaintext)
        s_arg (&ca, "--plaintext");
    else {
        s_arg (&ca, "--roster=%s/roster.zpl", keys);
        s_arg (&ca, "--cert=%s/coordinator.curve", keys);
        s_arg (&ca, "--identity=%s/coordinator.identity_secret", keys);     /* signs the report */
        s_arg (&ca, "--clip-norm=%g", s.r.clip_norm);
        s_arg (&ca, "--sa-corrupt=%g", s.r.sa_corrupt);
        if (s.r.sa_dropout >= 0)              /* else the coordinator's auto choice */
            s_arg (&ca, "--sa-dropout=%g", s.r.sa_dropout);
        s_arg (&ca, "--secagg-deadline=%g", s.deadline);
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
        s_print_last_error (log);
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
            if (attacker_rows)
                s_arg (&a, "--attack-rows=%zu", attacker_rows);
            if (s.attacker_weight)
                s_arg (&a, "--attack-examples=%" PRIu64, s.attacker_weight);
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
    /* The simulator plays every party: it keeps the (public) roster in OUT
       for fl-model verify-report, and the coordinator's key in memory to
       re-sign the report once its baselines section is added. */
    uint8_t *coord_sk = NULL;
    if (keys[0]) {
        char src[1300], dst[1300];
        snprintf (src, sizeof src, "%s/roster.zpl", keys);
        snprintf (dst, sizeof dst, "%s/roster.zpl", s.out);
        FILE *rf = fopen (src, "rb"), *wf = rf ? fopen (dst, "wb") : NULL;
        int bad = !wf;
        char buf[8192];
        size_t got;
        while (wf && (got = fread (buf, 1, sizeof buf, rf)) > 0)
            bad = bad || fwrite (buf, 1, got, wf) != got;
        if (wf && fclose (wf) != 0)
            bad = 1;
        if (rf)
            fclose (rf);
        if (bad)
            fprintf (stderr, "fl-sim: cannot copy the roster to %s\n", dst);
        snprintf (src, sizeof src, "%s/coordinator.identity_secret", keys);
        coord_sk = fl_identity_load_secret (src);
        s_remove_dir (keys);
    }
    if (collude[0])
        s_remove_dir (collude);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        fprintf (stderr, "fl-sim: the coordinator did not finish the run (see %s/coordinator.log)\n", s.out);
        fl_identity_secret_destroy (&coord_sk);
        return 1;
    }
    if (s_record_names (&s, model_path) != 0) {
        fl_identity_secret_destroy (&coord_sk);
        return 1;
    }
    int brc = 0;
    if (!s.no_baselines && s.r.model_plugin[0])      /* model files name built-in models only */
        printf ("\nfl-sim: no baselines with --model-plugin (the model file is not reloadable)\n");
    else if (!s.no_baselines)
        brc = s_baselines (&s, model_path);
    if (coord_sk) {
        /* the baselines changed report.md and report.html: sign them again */
        char md[1300], html[1300], sig[1300];
        snprintf (md, sizeof md, "%s/report.md", s.out);
        snprintf (html, sizeof html, "%s/report.html", s.out);
        snprintf (sig, sizeof sig, "%s/report.sig", s.out);
        const char *files[2] = {md, html};
        if (fl_report_sign (files, 2, coord_sk, sig) != 0) {
            fprintf (stderr, "fl-sim: cannot sign the report (see the log)\n");
            brc = -1;
        }
        fl_identity_secret_destroy (&coord_sk);
    }
    if (brc != 0)
        return 1;
    printf ("\nfl-sim: metrics %s/metrics.csv, model %s, report %s/report.md and report.html%s\n", s.out,
            model_path, s.out, s.r.plaintext ? "" : " (signed: report.sig; check with fl-model verify-report "
            "--roster OUT/roster.zpl --model OUT/model.flm OUT/report.md)");
    return 0;
}
