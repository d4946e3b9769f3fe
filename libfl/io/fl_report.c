/*  fl_report.c - progress lines, metrics CSV and the Markdown run report. */
#include "fl_report.h"
#include "fl_atomic.h"
#include "fl_modelfile.h"
#include "fl_plot.h"

#include <assert.h>
#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <unistd.h>

typedef struct {
    fl_round_summary_t s;
    double seconds;
} s_row_t;

struct fl_report_t {
    char name[128];
    char mode[256];
    char config[1024];
    char outcome[256];
    char *notes;          /* concatenated paragraphs */
    char *facts;          /* "- label: value\n" lines */
    char *privacy;        /* "- statement\n" lines */
    s_row_t *rows;
    size_t n_rows, cap_rows;
    char started[64];
    fl_metrics_counts_t *counts;   /* final model's evaluation counts, or NULL */
    int have_best;
    fl_round_summary_t best;  /* early stopping: the round kept */
    char oppoint[128];
};

fl_report_t *
fl_report_new (const char *name, const char *mode)
{
    fl_report_t *self = (fl_report_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->name, sizeof self->name, "%s", name ? name : "libfl run");
    snprintf (self->mode, sizeof self->mode, "%s", mode ? mode : "");
    snprintf (self->outcome, sizeof self->outcome, "did not finish");
    time_t t = time (NULL);
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (self->started, sizeof self->started, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return self;
}

void
fl_report_destroy (fl_report_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->rows);
        free ((*self_p)->notes);
        free ((*self_p)->facts);
        free ((*self_p)->privacy);
        free ((*self_p)->counts);
        free (*self_p);
        *self_p = NULL;
    }
}

void
fl_report_set_config (fl_report_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->config, sizeof self->config, fmt, ap);
    va_end (ap);
}

/* Appends prefix, the formatted text and suffix to the string *dst (grown). */
static void
s_append (char **dst, const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
    char buf[2048];
    vsnprintf (buf, sizeof buf, fmt, ap);
    size_t old = *dst ? strlen (*dst) : 0;
    size_t lp = strlen (prefix), lb = strlen (buf), ls = strlen (suffix);
    char *n = (char *) realloc (*dst, old + lp + lb + ls + 1);
    if (!n)
        return;
    memcpy (n + old, prefix, lp);
    memcpy (n + old + lp, buf, lb);
    memcpy (n + old + lp + lb, suffix, ls + 1);
    *dst = n;
}

void
fl_report_add_note (fl_report_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_append (&self->notes, "", "\n\n", fmt, ap);
    va_end (ap);
}

void
fl_report_add_fact (fl_report_t *self, const char *label, const char *fmt, ...)
{
    char prefix[160];
    snprintf (prefix, sizeof prefix, "- %s: ", label);
    va_list ap;
    va_start (ap, fmt);
    s_append (&self->facts, prefix, "\n", fmt, ap);
    va_end (ap);
}

void
fl_report_add_privacy (fl_report_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_append (&self->privacy, "- ", "\n", fmt, ap);
    va_end (ap);
}

void
fl_report_set_outcome (fl_report_t *self, const char *outcome)
{
    snprintf (self->outcome, sizeof self->outcome, "%s", outcome);
}

void
fl_report_add_round (fl_report_t *self, const fl_round_summary_t *s, double seconds)
{
    if (self->n_rows == self->cap_rows) {
        size_t cap = self->cap_rows ? 2 * self->cap_rows : 32;
        s_row_t *r = (s_row_t *) realloc (self->rows, cap * sizeof *r);
        if (!r)
            return;
        self->rows = r;
        self->cap_rows = cap;
    }
    self->rows[self->n_rows].s = *s;
    self->rows[self->n_rows].seconds = seconds;
    self->n_rows++;
}

static void
s_metric (FILE *f, double v)
{
    if (isnan (v))
        fprintf (f, "     -");
    else
        fprintf (f, "%.4f", v);
}

/*  AUROC / AUPRC: NaN means the counts do not define them (multi-class
    counts carry no per-class score histograms; a class absent), printed as
    the word, never as a number. */
static void
s_fmt_metric (char *buf, size_t cap, double v)
{
    if (isnan (v))
        snprintf (buf, cap, "undefined");
    else
        snprintf (buf, cap, "%.4f", v);
}

static void
s_metric_or_undefined (FILE *f, double v)
{
    char b[32];
    s_fmt_metric (b, sizeof b, v);
    fputs (b, f);
}

static const char *
s_undefined_note (const fl_round_summary_t *s)
{
    if (!isnan (s->eval.auroc) && !isnan (s->eval.auprc))
        return "";
    if (s->eval.n == 0)
        return "";
    return " AUROC and AUPRC are undefined here: the federated evaluation counts of a multi-class task hold "
           "no per-class score histograms (macro one-vs-rest averages cannot be computed from them), and a "
           "binary task needs both classes among the evaluated examples.";
}

void
fl_report_set_best (fl_report_t *self, const fl_round_summary_t *best)
{
    self->have_best = best != NULL;
    if (best)
        self->best = *best;
}

void
fl_report_set_oppoint (fl_report_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->oppoint, sizeof self->oppoint, fmt, ap);
    va_end (ap);
}

/*  The Final model section's figures: led by AUROC / AUPRC when the smaller
    class is below FL_METRICS_IMBALANCED of the examples; then the operating
    point and the Brier score (binary tasks; from the histograms). */
static void
s_final_model (FILE *f, const fl_report_t *self, const fl_round_summary_t *s)
{
    char a[32], b[32], c[32], d[32];
    snprintf (a, sizeof a, isnan (s->eval.accuracy) ? "undefined" : "%.4f", s->eval.accuracy);
    snprintf (b, sizeof b, isnan (s->eval.auroc) ? "undefined" : "%.4f", s->eval.auroc);
    snprintf (c, sizeof c, isnan (s->eval.auprc) ? "undefined" : "%.4f", s->eval.auprc);
    snprintf (d, sizeof d, isnan (s->eval.log_loss) ? "undefined" : "%.4f", s->eval.log_loss);
    if (self->have_best)
        fprintf (f, "\n## Final model\n\nEarly stopping kept round %" PRIu64 "'s global model, the lowest federated "
                    "evaluation log loss of the run. ", s->round);
    else
        fprintf (f, "\n## Final model\n\n");
    if (s->min_class_share > 0 && s->min_class_share < FL_METRICS_IMBALANCED)
        fprintf (f, "Federated evaluation on the members' held-out test data (%" PRIu64 " examples; the smaller class "
                    "is %.1f%% of them, so accuracy says little): AUROC %s, AUPRC %s, log loss %s, accuracy %s.\n",
                 s->eval.n, 100 * s->min_class_share, b, c, d, a);
    else
        fprintf (f, "Federated evaluation on the members' held-out test data "
                    "(%" PRIu64 " examples): accuracy %s, AUROC %s, AUPRC %s, log loss %s.\n", s->eval.n, a, b, c, d);
    if (*s_undefined_note (s))
        fprintf (f, "%s\n", s_undefined_note (s) + 1);
    if (s->brier > 0) {           /* binary task: from the histograms (bin midpoints are never 0 or 1) */
        snprintf (a, sizeof a, isnan (s->op.precision) ? "undefined" : "%.4f", s->op.precision);
        snprintf (b, sizeof b, isnan (s->op.recall) ? "undefined" : "%.4f", s->op.recall);
        snprintf (c, sizeof c, isnan (s->op.f1) ? "undefined" : "%.4f", s->op.f1);
        fprintf (f, "\nAt the operating point (%s; scores >= %.3f flagged): %" PRIu64 " rows flagged, precision %s, "
                    "recall %s, F1 %s. Brier score %.4f. These come from the summed 1000-bin score histograms, not "
                    "exact scores: whole bins are flagged, and the Brier score takes each score at its bin's "
                    "midpoint (within 0.001).\n", self->oppoint[0] ? self->oppoint : "threshold 0.5",
                 s->op.threshold, s->op.flagged, a, b, c, s->brier);
    }
}

/*  The time now, UTC, as the reports print it ("2026-12-06 04:59:05 UTC"). */
static void
s_now_utc (char *buf, size_t cap)
{
    time_t t = time (NULL);
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static int
s_fill_md (FILE *f, void *arg)
{
    const fl_report_t *self = (const fl_report_t *) arg;
    char finished[64];
    s_now_utc (finished, sizeof finished);
    fprintf (f, "# %s\n\n", self->name);
    fprintf (f, "- Started: %s\n- Finished: %s\n- Aggregation: %s\n- Configuration: %s\n", self->started,
             finished, self->mode, self->config);
    if (self->facts)
        fprintf (f, "%s", self->facts);
    fprintf (f, "- Outcome: %s\n\n", self->outcome);
    if (self->notes)
        fprintf (f, "%s", self->notes);
    if (self->privacy)
        fprintf (f, "## Privacy and security\n\n%s\n", self->privacy);
    fprintf (f, "## Rounds\n\n| round | cohort | updates | dropped | eval clients | train loss | "
                "accuracy | AUROC | AUPRC | seconds |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < self->n_rows; i++) {
        const fl_round_summary_t *s = &self->rows[i].s;
        fprintf (f, "| %" PRIu64 "%s%s%s | %zu | %zu | %zu | %zu | ", s->round, s->skipped ? " (skipped)" : "",
                 s->rule_degenerate ? " (not robust: rule = plain mean)" : "",
                 self->have_best && self->best.round == s->round ? " (kept)" : "", s->cohort, s->updates, s->dropped,
                 s->eval_clients);
        s_metric (f, s->train_loss);
        fprintf (f, " | ");
        s_metric (f, s->eval.accuracy);
        fprintf (f, " | ");
        s_metric_or_undefined (f, s->eval.auroc);
        fprintf (f, " | ");
        s_metric_or_undefined (f, s->eval.auprc);
        fprintf (f, " | %.2f |\n", self->rows[i].seconds);
    }
    if (self->have_best)
        s_final_model (f, self, &self->best);
    else if (self->n_rows)
        s_final_model (f, self, &self->rows[self->n_rows - 1].s);
    return 0;
}

int
fl_report_write (const fl_report_t *self, const char *path)
{
    /* Composed in memory, then written with the one write-fsync-rename
       (core/fl_atomic: path.tmp, fsync, rename): a full or read-only disk
       leaves the previous report (or none), never a 0-byte or half-written
       one. */

    if (fl_atomic_write_stream (path, 0666, s_fill_md, (void *) self) != 0) {
        zsys_error ("report: cannot write %s: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

void
fl_report_progress_line (FILE *out, const fl_round_summary_t *s, uint64_t rounds, double seconds,
                         const char *mode_tag)
{
    fprintf (out, "round %3" PRIu64 "/%" PRIu64 "  clients %2zu/%-2zu  updates %2zu", s->round, rounds,
             s->cohort, s->ready, s->updates);
    if (s->dropped)
        fprintf (out, " (%zu dropped)", s->dropped);
    fprintf (out, "  loss ");
    s_metric (out, s->train_loss);
    fprintf (out, "  acc ");
    s_metric (out, s->eval.accuracy);
    fprintf (out, "  AUROC ");
    s_metric (out, s->eval.auroc);
    fprintf (out, "  AUPRC ");
    s_metric (out, s->eval.auprc);
    if (!isnan (s->epsilon))             /* differential privacy: the spend after this round */
        fprintf (out, "  eps %.3g", s->epsilon);
    if (!isnan (s->clip_norm))           /* adaptive clipping: the norm this round clipped at */
        fprintf (out, "  C %.3g", s->clip_norm);
    fprintf (out, "  %6.3fs%s%s [%s]\n", seconds, s->skipped ? "  SKIPPED" : "",
             s->rule_degenerate ? "  NOT ROBUST (rule = plain mean, see log)" : "", mode_tag);
}

void
fl_report_csv_header (FILE *out)
{
    fprintf (out, "round,ready,cohort,updates,dropped,skipped,train_loss,update_norm,eval_clients,"
                  "eval_n,accuracy,log_loss,auroc,auprc,precision,recall,seconds,buckets,buckets_aborted,epsilon,"
                  "clip_norm,brier,op_threshold,op_flagged,op_precision,op_recall,op_f1,best\n");
}

void
fl_report_csv_row (FILE *out, const fl_round_summary_t *s, double seconds)
{
    /* AUROC / AUPRC the counts do not define: "undefined", not a number */
    char roc[32], prc[32];
    if (isnan (s->eval.auroc))
        snprintf (roc, sizeof roc, "undefined");
    else
        snprintf (roc, sizeof roc, "%.6g", s->eval.auroc);
    if (isnan (s->eval.auprc))
        snprintf (prc, sizeof prc, "undefined");
    else
        snprintf (prc, sizeof prc, "%.6g", s->eval.auprc);
    fprintf (out, "%" PRIu64 ",%zu,%zu,%zu,%zu,%d,%.6g,%.6g,%zu,%" PRIu64 ",%.6g,%.6g,%s,%s,%.6g,%.6g,%.3f,%zu,%zu,%.6g,%.6g",
             s->round, s->ready, s->cohort, s->updates, s->dropped, s->skipped, s->train_loss, s->update_norm,
             s->eval_clients, s->eval.n, s->eval.accuracy, s->eval.log_loss, roc, prc,
             s->eval.precision, s->eval.recall, seconds, s->buckets, s->buckets_aborted, s->epsilon,
             s->clip_norm);
    fprintf (out, ",%.6g,%.6g,%" PRIu64 ",%.6g,%.6g,%.6g,%d\n", s->brier, s->op.threshold, s->op.flagged,
             s->op.precision, s->op.recall, s->op.f1, s->best);
}

/* ==== the HTML report ========================================================= */

void
fl_report_set_eval_counts (fl_report_t *self, const fl_metrics_counts_t *c)
{
    free (self->counts);
    self->counts = NULL;
    if (!c || c->n_classes == 0 || c->n == 0)
        return;
    self->counts = (fl_metrics_counts_t *) malloc (sizeof *c);
    if (self->counts)
        *self->counts = *c;
}

/*  A number for gnuplot's inline data ("nan" is declared missing). */
static void
s_gp_num (FILE *f, double v)
{
    if (isnan (v) || isinf (v))
        fputs ("nan", f);
    else
        fprintf (f, "%.6g", v);
}

/*  Draws one plot with gnuplot and embeds it in h as a figure with caption,
    or notes why it was skipped (the first failure is kept in skipped). */
static void
s_figure (FILE *h, const char *script, const char *caption, char *skipped, size_t skipped_cap)
{
    char why[256] = "";
    char *svg = skipped[0] ? NULL : fl_plot_svg (script, 560, 360, why, sizeof why);
    if (!svg && !skipped[0])
        snprintf (skipped, skipped_cap, "%s", why[0] ? why : "gnuplot failed");
    fprintf (h, "<figure>");
    if (svg)
        fputs (svg, h);
    else {
        fprintf (h, "<p class=\"skip\">Plot skipped: ");
        fl_plot_html_escape (h, skipped);
        fprintf (h, ".</p>");
    }
    fprintf (h, "<figcaption>");
    fl_plot_html_escape (h, caption);
    fprintf (h, "</figcaption></figure>\n");
    free (svg);
}

/*  An HTML table cell for a metric (AUROC/AUPRC: "undefined" for NaN). */
static void
s_html_metric (FILE *h, double v, bool word)
{
    if (isnan (v))
        fprintf (h, "<td>%s</td>", word ? "undefined" : "&ndash;");
    else
        fprintf (h, "<td>%.4f</td>", v);
}

/*  Writes the "- label: value" lines of md as <tr> rows. */
static void
s_html_facts (FILE *h, const char *md)
{
    while (md && *md) {
        const char *end = strchr (md, '\n');
        size_t len = end ? (size_t) (end - md) : strlen (md);
        char line[4096];
        snprintf (line, sizeof line, "%.*s", (int) (len < sizeof line ? len : sizeof line - 1), md);
        char *text = line[0] == '-' && line[1] == ' ' ? line + 2 : line;
        char *colon = strstr (text, ": ");
        fprintf (h, "<tr><th>");
        if (colon) {
            *colon = '\0';
            fl_plot_html_escape (h, text);
            fprintf (h, "</th><td>");
            fl_plot_html_escape (h, colon + 2);
        }
        else {
            fprintf (h, "</th><td>");
            fl_plot_html_escape (h, text);
        }
        fprintf (h, "</td></tr>\n");
        md = end ? end + 1 : md + len;
    }
}

static void
s_html_training (const fl_report_t *self, FILE *h, char *skipped, size_t cap)
{
    if (self->n_rows == 0)
        return;
    char *sc = NULL;
    size_t sl = 0;
    bool eps = false;
    for (size_t i = 0; i < self->n_rows; i++)
        eps = eps || isfinite (self->rows[i].s.epsilon);
    fprintf (h, "<h2>Training curves</h2>\n<div class=\"figs\">\n");
    /* whole rounds on the axis while they fit */
    const char *xt = self->n_rows <= 20 ? "set xtics 1\n" : "";
    /* loss */
    FILE *f = open_memstream (&sc, &sl);
    if (!f)
        return;
    fprintf (f, "set datafile missing 'nan'\nset key top right\nset grid\nset xlabel 'round'\nset ylabel 'loss'\n"
                "%s$d << EOD\n", xt);
    for (size_t i = 0; i < self->n_rows; i++) {
        const fl_round_summary_t *s = &self->rows[i].s;
        fprintf (f, "%" PRIu64 " ", s->round);
        s_gp_num (f, s->train_loss);
        fputc (' ', f);
        s_gp_num (f, s->eval.log_loss);
        fputc ('\n', f);
    }
    fprintf (f, "EOD\nplot $d using 1:2 with linespoints lw 2 title 'training loss (members, weighted)', "
                "$d using 1:3 with linespoints lw 2 title 'evaluation log loss (federated)'\n");
    fclose (f);
    s_figure (h, sc, "Loss per round: the members' mean training loss and the federated evaluation log loss.",
              skipped, cap);
    free (sc);
    sc = NULL;
    /* accuracy, AUROC, AUPRC */
    if (!(f = open_memstream (&sc, &sl)))
        return;
    fprintf (f, "set datafile missing 'nan'\nset key bottom right\nset grid\nset xlabel 'round'\nset ylabel "
                "'metric'\nset yrange [0:1.02]\n%s$d << EOD\n", xt);
    for (size_t i = 0; i < self->n_rows; i++) {
        const fl_round_summary_t *s = &self->rows[i].s;
        fprintf (f, "%" PRIu64 " ", s->round);
        s_gp_num (f, s->eval.accuracy);
        fputc (' ', f);
        s_gp_num (f, s->eval.auroc);
        fputc (' ', f);
        s_gp_num (f, s->eval.auprc);
        fputc ('\n', f);
    }
    fprintf (f, "EOD\nplot $d using 1:2 with linespoints lw 2 title 'accuracy', $d using 1:3 with linespoints lw 2 "
                "title 'AUROC', $d using 1:4 with linespoints lw 2 title 'AUPRC'\n");
    fclose (f);
    s_figure (h, sc, "Federated evaluation per round on the members' held-out data (AUROC and AUPRC from the "
                     "binned score histograms; missing points are undefined values).", skipped, cap);
    free (sc);
    sc = NULL;
    if (eps) {
        if (!(f = open_memstream (&sc, &sl)))
            return;
        fprintf (f, "set datafile missing 'nan'\nset key top left\nset grid\nset xlabel 'round'\nset ylabel "
                    "'epsilon'\n%s$d << EOD\n", xt);
        for (size_t i = 0; i < self->n_rows; i++) {
            fprintf (f, "%" PRIu64 " ", self->rows[i].s.round);
            s_gp_num (f, self->rows[i].s.epsilon);
            fputc ('\n', f);
        }
        fprintf (f, "EOD\nplot $d using 1:2 with linespoints lw 2 title 'epsilon spent (accountant)'\n");
        fclose (f);
        s_figure (h, sc, "Differential privacy: the epsilon spent after each round, as the accountant computed it.",
                  skipped, cap);
        free (sc);
    }
    fprintf (h, "</div>\n");
}

static void
s_html_curves (const fl_report_t *self, FILE *h, char *skipped, size_t cap)
{
    const fl_metrics_counts_t *c = self->counts;
    if (!c)
        return;
    fprintf (h, "<h2>Final model: ROC, precision-recall, calibration</h2>\n");
    fl_metrics_curve_point_t *pts = (fl_metrics_curve_point_t *) malloc ((FL_METRICS_BINS + 1) * sizeof *pts);
    fl_metrics_calib_t cal[10];
    size_t np = pts ? fl_metrics_counts_curve (c, pts, FL_METRICS_BINS + 1) : 0;
    size_t nc = fl_metrics_counts_calibration (c, 10, cal);
    if (np == 0) {
        fprintf (h, "<p>ROC, precision-recall and calibration curves: <strong>undefined</strong> for this "
                    "evaluation (%s).</p>\n",
                 c->n_classes > 2 ? "a multi-class task: the federated evaluation counts hold no per-class "
                                    "score histograms" : "it needs both classes among the evaluated examples");
        free (pts);
        return;
    }
    fl_metrics_summary_t sum;
    fl_metrics_counts_summary (c, &sum);
    uint64_t P = c->tp + c->fn, N = c->fp + c->tn;
    fprintf (h, "<p>From the merged evaluation counts of the final model: %" PRIu64 " positives and %" PRIu64
                " negatives, scores binned into %u equal bins of [0, 1]; each point is the threshold "
                "&ldquo;score &ge; bin start&rdquo;, exact for the binned scores (docs/TRAINING.md bounds "
                "the binning error).</p>\n<div class=\"figs\">\n",
             P, N, FL_METRICS_BINS);
    char *sc = NULL;
    size_t sl = 0;
    FILE *f = open_memstream (&sc, &sl);
    if (f) {
        fprintf (f, "set key bottom right\nset grid\nset size ratio -1\nset xrange [0:1]\nset yrange [0:1]\n"
                    "set xlabel 'false positive rate'\nset ylabel 'true positive rate (recall)'\n$d << EOD\n");
        for (size_t i = 0; i < np; i++)
            fprintf (f, "%.6g %.6g\n", pts[i].fpr, pts[i].tpr);
        fprintf (f, "EOD\nplot $d using 1:2 with lines lw 2 title 'federated model (AUROC %.4f)', x with lines "
                    "dt 2 lc rgb 'gray' title 'chance'\n", sum.auroc);
        fclose (f);
        s_figure (h, sc, "ROC curve of the final model (federated evaluation).", skipped, cap);
        free (sc);
        sc = NULL;
    }
    if ((f = open_memstream (&sc, &sl))) {
        fprintf (f, "set key top right\nset grid\nset xrange [0:1]\nset yrange [0:1.02]\nset xlabel 'recall'\n"
                    "set ylabel 'precision'\n$d << EOD\n");
        for (size_t i = 0; i < np; i++)
            if (!isnan (pts[i].precision))
                fprintf (f, "%.6g %.6g\n", pts[i].tpr, pts[i].precision);
        fprintf (f, "EOD\nplot $d using 1:2 with steps lw 2 title 'federated model (AUPRC %.4f)', %.6g with lines "
                    "dt 2 lc rgb 'gray' title 'chance (positive rate %.3f)'\n", sum.auprc,
                 (double) P / (double) (P + N), (double) P / (double) (P + N));
        fclose (f);
        s_figure (h, sc, "Precision-recall curve of the final model (federated evaluation).", skipped, cap);
        free (sc);
        sc = NULL;
    }
    if (nc && (f = open_memstream (&sc, &sl))) {
        fprintf (f, "set key top left\nset grid\nset size ratio -1\nset xrange [0:1]\nset yrange [0:1]\n"
                    "set xlabel 'mean predicted probability'\nset ylabel 'observed fraction of positives'\n"
                    "$d << EOD\n");
        for (size_t i = 0; i < nc; i++)
            fprintf (f, "%.6g %.6g %" PRIu64 "\n", cal[i].predicted, cal[i].observed, cal[i].n);
        fprintf (f, "EOD\nplot $d using 1:2 with linespoints lw 2 pt 7 title 'federated model', x with lines dt 2 "
                    "lc rgb 'gray' title 'perfectly calibrated'\n");
        fclose (f);
        s_figure (h, sc, "Reliability diagram: the score range in 10 equal groups; each point is a group's mean "
                         "score against the share of positives in it.", skipped, cap);
        free (sc);
    }
    fprintf (h, "</div>\n<table><tr><th>score group</th><th>examples</th><th>mean predicted</th>"
                "<th>observed positive</th></tr>\n");
    for (size_t i = 0; i < nc; i++)
        fprintf (h, "<tr><td>[%.1f, %.1f)</td><td>%" PRIu64 "</td><td>%.4f</td><td>%.4f</td></tr>\n", cal[i].lo,
                 cal[i].hi, cal[i].n, cal[i].predicted, cal[i].observed);
    fprintf (h, "</table>\n");
    free (pts);
}

static int
s_fill_html (FILE *h, void *arg)
{
    const fl_report_t *self = (const fl_report_t *) arg;
    char finished[64];
    s_now_utc (finished, sizeof finished);
    char skipped[300] = "";
    fprintf (h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    fl_plot_html_escape (h, self->name);
    fprintf (h, "</title>\n<style>\n"
                "body{font-family:sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}\n"
                "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px;"
                "text-align:left;vertical-align:top}th{background:#f3f3f3}\n"
                ".figs{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;width:560px}"
                "figcaption{font-size:90%%;color:#555}\n"
                ".skip{color:#a00;border:1px dashed #a00;padding:1em}.warn{color:#a00}\n"
                "</style>\n</head>\n<body>\n<h1>");
    fl_plot_html_escape (h, self->name);
    fprintf (h, "</h1>\n<table>\n<tr><th>Started</th><td>");
    fl_plot_html_escape (h, self->started);
    fprintf (h, "</td></tr>\n<tr><th>Finished</th><td>%s</td></tr>\n<tr><th>Aggregation</th><td>", finished);
    fl_plot_html_escape (h, self->mode);
    fprintf (h, "</td></tr>\n<tr><th>Configuration</th><td>");
    fl_plot_html_escape (h, self->config);
    fprintf (h, "</td></tr>\n");
    s_html_facts (h, self->facts);
    fprintf (h, "<tr><th>Outcome</th><td>");
    fl_plot_html_escape (h, self->outcome);
    fprintf (h, "</td></tr>\n</table>\n");
    if (self->notes) {
        /* paragraphs separated by blank lines */
        const char *p = self->notes;
        while (*p) {
            const char *end = strstr (p, "\n\n");
            size_t len = end ? (size_t) (end - p) : strlen (p);
            char *para = strndup (p, len);
            if (para && para[0]) {
                fprintf (h, "<p>");
                fl_plot_html_escape (h, para);
                fprintf (h, "</p>\n");
            }
            free (para);
            p = end ? end + 2 : p + len;
        }
    }
    if (self->privacy) {
        fprintf (h, "<h2>Privacy and security</h2>\n<ul>\n");
        const char *p = self->privacy;
        while (*p) {
            const char *end = strchr (p, '\n');
            size_t len = end ? (size_t) (end - p) : strlen (p);
            bool dash = len >= 2 && p[0] == '-' && p[1] == ' ';
            char *item = strndup (dash ? p + 2 : p, dash ? len - 2 : len);
            fprintf (h, "<li>");
            fl_plot_html_escape (h, item);
            fprintf (h, "</li>\n");
            free (item);
            p = end ? end + 1 : p + len;
        }
        fprintf (h, "</ul>\n");
    }
    /* The pictures: drawn into a separate stream, because a skip notice goes first. */
    char *figs = NULL;
    size_t figs_len = 0;
    FILE *g = open_memstream (&figs, &figs_len);
    if (g) {
        s_html_training (self, g, skipped, sizeof skipped);
        s_html_curves (self, g, skipped, sizeof skipped);
        fclose (g);
    }
    if (skipped[0]) {
        fprintf (h, "<p class=\"warn\"><strong>Plots skipped</strong>: ");
        fl_plot_html_escape (h, skipped);
        fprintf (h, ". The tables below hold every figure; install gnuplot (Debian package gnuplot-nox) to draw "
                    "them.</p>\n");
    }
    if (figs)
        fputs (figs, h);
    free (figs);
    fprintf (h, "<h2>Rounds</h2>\n<table>\n<tr><th>round</th><th>cohort</th><th>updates</th><th>dropped</th>"
                "<th>eval clients</th><th>train loss</th><th>accuracy</th><th>AUROC</th><th>AUPRC</th>"
                "<th>epsilon</th><th>seconds</th></tr>\n");
    for (size_t i = 0; i < self->n_rows; i++) {
        const fl_round_summary_t *s = &self->rows[i].s;
        fprintf (h, "<tr><td>%" PRIu64 "%s</td><td>%zu</td><td>%zu</td><td>%zu</td><td>%zu</td>", s->round,
                 s->skipped ? " (skipped)" : "", s->cohort, s->updates, s->dropped, s->eval_clients);
        s_html_metric (h, s->train_loss, false);
        s_html_metric (h, s->eval.accuracy, false);
        s_html_metric (h, s->eval.auroc, true);
        s_html_metric (h, s->eval.auprc, true);
        s_html_metric (h, s->epsilon, false);
        fprintf (h, "<td>%.2f</td></tr>\n", self->rows[i].seconds);
    }
    fprintf (h, "</table>\n");
    if (self->n_rows) {          /* the same text as report.md's Final model (the kept round's under early stopping) */
        const fl_round_summary_t *s = self->have_best ? &self->best : &self->rows[self->n_rows - 1].s;
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream (&buf, &len);
        if (m) {
            s_final_model (m, self, s);
            if (fclose (m) != 0) {
                free (buf);
                buf = NULL;
            }
        }
        fprintf (h, "<h2>Final model</h2>\n<p>");
        if (buf) {
            const char *head = "## Final model\n\n", *body = strstr (buf, head);
            body = body ? body + strlen (head) : buf;
            for (const char *p = body; *p; p++) {
                if (p[0] == '\n' && p[1] == '\n') {
                    fprintf (h, "</p>\n<p>");
                    p++;
                }
                else if (*p != '\n') {
                    char one[2] = {*p, 0};
                    fl_plot_html_escape (h, one);
                }
                else
                    fputc (' ', h);
            }
            free (buf);
        }
        fprintf (h, "</p>\n");
    }
    fprintf (h, "%s\n</body>\n</html>\n", FL_REPORT_HTML_MARK);
    return 0;
}

int
fl_report_write_html (const fl_report_t *self, const char *path)
{
    if (fl_atomic_write_stream (path, 0666, s_fill_html, (void *) self) != 0) {
        zsys_error ("report: cannot write %s: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

#define S_MAX_REPORT ((size_t) 64 << 20)

int
fl_report_html_insert (const char *path, const char *section_html)
{
    size_t len = 0;
    char *text = fl_file_read (path, S_MAX_REPORT, &len);
    if (!text) {
        zsys_error ("report: cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    char *mark = strstr (text, FL_REPORT_HTML_MARK);
    if (!mark) {
        zsys_error ("report: %s is not a libfl HTML report (no insertion mark)", path);
        free (text);
        return -1;
    }
    size_t head = (size_t) (mark - text), add = strlen (section_html);
    char *out = (char *) malloc (len + add + 2);
    int rc = -1;
    if (out) {
        memcpy (out, text, head);
        memcpy (out + head, section_html, add);
        out[head + add] = '\n';
        memcpy (out + head + add + 1, mark, len - head);
        if (fl_atomic_write (path, out, len + add + 1, 0666) == 0)
            rc = 0;
        else
            zsys_error ("report: cannot write %s: %s", path, strerror (errno));
    }
    free (out);
    free (text);
    return rc;
}

int
fl_report_sibling (const char *md_path, const char *ext, char *out, size_t cap)
{
    size_t len = strlen (md_path);
    if (len >= 3 && strcmp (md_path + len - 3, ".md") == 0)
        len -= 3;
    int n = snprintf (out, cap, "%.*s%s", (int) len, md_path, ext);
    return n < 0 || (size_t) n >= cap ? -1 : 0;
}

/* ==== the signed manifest ===================================================== */

/*  A base name the manifest may hold: 1..255 of [A-Za-z0-9._-], not starting
    with '.', so a manifest can only name files beside the report. */
static bool
s_base_ok (const char *b, size_t len)
{
    if (len == 0 || len > 255 || b[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum ((unsigned char) b[i]) || b[i] == '.' || b[i] == '_' || b[i] == '-'))
            return false;
    return true;
}

static int
s_file_digest (const char *path, uint8_t out[crypto_generichash_BYTES])
{
    size_t len = 0;
    char *text = fl_file_read (path, S_MAX_REPORT, &len);
    if (!text)
        return -1;
    crypto_generichash (out, crypto_generichash_BYTES, (const uint8_t *) text, len, NULL, 0);
    free (text);
    return 0;
}

int
fl_report_sign (const char *const *paths, size_t n, const uint8_t sk[64], const char *sig_path)
{
    assert (paths && sk && sig_path);
    char *man = NULL;
    size_t man_len = 0;
    FILE *f = open_memstream (&man, &man_len);
    if (!f)
        return -1;
    char hex[2 * crypto_sign_SECRETKEYBYTES + 1];
    sodium_bin2hex (hex, sizeof hex, sk + 32, 32);     /* the public half of seed || pk */
    fprintf (f, "%s\nsigner %s\n", FL_REPORT_SIG_MAGIC, hex);
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        const char *slash = strrchr (paths[i], '/');
        const char *base = slash ? slash + 1 : paths[i];
        uint8_t d[crypto_generichash_BYTES];
        if (!s_base_ok (base, strlen (base))) {
            zsys_error ("report: cannot sign %s: its name must be 1..255 of A-Z a-z 0-9 . _ -", paths[i]);
            fclose (f);
            goto done;
        }
        if (s_file_digest (paths[i], d) != 0) {
            zsys_error ("report: cannot sign %s: %s", paths[i], strerror (errno));
            fclose (f);
            goto done;
        }
        sodium_bin2hex (hex, sizeof hex, d, sizeof d);
        fprintf (f, "file %s blake2b-256 %s\n", base, hex);
    }
    if (fclose (f) != 0)
        goto done;
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached (sig, NULL, (const uint8_t *) man, man_len, sk);
    char shex[2 * crypto_sign_BYTES + 1];
    sodium_bin2hex (shex, sizeof shex, sig, sizeof sig);
    size_t total = man_len + strlen ("signature ") + strlen (shex) + 1;
    char *out = (char *) malloc (total + 1);
    if (!out)
        goto done;
    snprintf (out, total + 1, "%ssignature %s\n", man, shex);
    if (fl_atomic_write (sig_path, out, total, 0666) == 0)
        rc = 0;
    else
        zsys_error ("report: cannot write %s: %s", sig_path, strerror (errno));
    free (out);
done:
    free (man);
    return rc;
}

static int
s_fail (char *why, size_t cap, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
static int
s_fail (char *why, size_t cap, const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (why, cap, fmt, ap);
        va_end (ap);
    }
    return -1;
}

/*  Reads 2*len hex chars at p exactly (lowercase or uppercase) into out. */
static int
s_hex (const char *p, size_t hexlen, uint8_t *out, size_t len)
{
    size_t got = 0;
    const char *end = NULL;
    if (hexlen != 2 * len || sodium_hex2bin (out, len, p, hexlen, NULL, &got, &end) != 0 || got != len)
        return -1;
    return 0;
}

int
fl_report_verify (const char *report_path, const char *sig_path, const fl_roster_t *roster, uint8_t digest[32],
                  int *has_digest, char *why, size_t cap)
{
    assert (report_path && sig_path && roster && digest && has_digest);
    *has_digest = 0;
    const uint8_t *cpk = fl_roster_coordinator_identity_pk (roster);
    if (!cpk)
        return s_fail (why, cap, "the roster has no coordinator entry, so no coordinator key to check against");
    size_t len = 0;
    char *sig = fl_file_read (sig_path, 1u << 20, &len);
    if (!sig)
        return s_fail (why, cap, "cannot read the signature file %s: %s", sig_path, strerror (errno));
    int rc = -1;
    char *report = NULL;
    /* line by line; the signed part is every byte before "signature " */
    char *sigline = strstr (sig, "\nsignature ");
    size_t signed_len = sigline ? (size_t) (sigline - sig) + 1 : 0;
    if (strncmp (sig, FL_REPORT_SIG_MAGIC "\n", strlen (FL_REPORT_SIG_MAGIC) + 1) != 0 || !sigline
        || strlen (sig) != len) {
        s_fail (why, cap, "%s is not a libfl report signature (%s)", sig_path,
                strlen (sig) != len ? "a NUL byte" : "no '" FL_REPORT_SIG_MAGIC "' header or no signature line");
        goto done;
    }
    uint8_t signer[32], s[crypto_sign_BYTES];
    char *p = sig + strlen (FL_REPORT_SIG_MAGIC) + 1;
    char *nl = strchr (p, '\n');
    if (strncmp (p, "signer ", 7) != 0 || !nl || s_hex (p + 7, (size_t) (nl - p - 7), signer, 32) != 0) {
        s_fail (why, cap, "%s: malformed signer line", sig_path);
        goto done;
    }
    {
        char *sv = sigline + 11, *se = strchr (sv, '\n');
        if (!se || se[1] != '\0' || s_hex (sv, (size_t) (se - sv), s, sizeof s) != 0) {
            s_fail (why, cap, "%s: malformed signature line (128 hex characters, the last line)", sig_path);
            goto done;
        }
    }
    if (sodium_memcmp (signer, cpk, 32) != 0) {
        int m = fl_roster_find_by_identity (roster, signer);
        if (m >= 0)
            s_fail (why, cap, "the report is signed by member '%s''s identity key, not by the coordinator's key "
                    "in the roster", fl_roster_member_id (roster, (size_t) m));
        else
            s_fail (why, cap, "the report is signed by a key that is not the roster's coordinator key (nor any "
                    "member's)");
        goto done;
    }
    if (crypto_sign_verify_detached (s, (const uint8_t *) sig, signed_len, cpk) != 0) {
        s_fail (why, cap, "the signature in %s does not verify with the roster's coordinator key: the manifest "
                "was altered or signed by another key", sig_path);
        goto done;
    }
    /* the file lines: each file beside the report has the digest the coordinator signed */
    const char *slash = strrchr (report_path, '/');
    const char *rbase = slash ? slash + 1 : report_path;
    size_t dirlen = slash ? (size_t) (slash - report_path + 1) : 0;
    bool report_listed = false;
    size_t files = 0;
    for (p = nl + 1; p < sig + signed_len; p = nl + 1) {
        nl = strchr (p, '\n');
        char *sp1 = strchr (p, ' '), *sp2 = sp1 ? strchr (sp1 + 1, ' ') : NULL, *sp3 = sp2 ? strchr (sp2 + 1, ' ') : NULL;
        uint8_t want[32], have[32];
        if (strncmp (p, "file ", 5) != 0 || !sp2 || !sp3 || sp3 > nl || sp1 != p + 4
            || strncmp (sp2, " blake2b-256 ", 13) != 0 || !s_base_ok (sp1 + 1, (size_t) (sp2 - sp1 - 1))
            || s_hex (sp3 + 1, (size_t) (nl - sp3 - 1), want, 32) != 0) {
            s_fail (why, cap, "%s: malformed line '%.*s'", sig_path, (int) (nl - p > 80 ? 80 : nl - p), p);
            goto done;
        }
        char path[4096];
        int bl = (int) (sp2 - sp1 - 1);
        snprintf (path, sizeof path, "%.*s%.*s", (int) dirlen, report_path, bl, sp1 + 1);
        if (s_file_digest (path, have) != 0) {
            s_fail (why, cap, "the signed report names %.*s, which cannot be read: %s", bl, sp1 + 1, strerror (errno));
            goto done;
        }
        if (sodium_memcmp (want, have, 32) != 0) {
            s_fail (why, cap, "%s is not the file the coordinator signed: its BLAKE2b-256 digest differs (the report "
                    "was edited after signing)", path);
            goto done;
        }
        report_listed = report_listed || ((size_t) bl == strlen (rbase) && strncmp (sp1 + 1, rbase, (size_t) bl) == 0);
        files++;
    }
    if (!report_listed) {
        s_fail (why, cap, "%s does not sign %s (it names %zu other file%s)", sig_path, rbase, files,
                files == 1 ? "" : "s");
        goto done;
    }
    /* the model digest the (now authenticated) report names */
    if (!(report = fl_file_read (report_path, S_MAX_REPORT, NULL))) {
        s_fail (why, cap, "cannot read %s: %s", report_path, strerror (errno));
        goto done;
    }
    {
        const char *key = "\n- " FL_REPORT_DIGEST_LABEL ": blake2b-256 ";
        char *at = strstr (report, key);
        if (at) {
            if (strstr (at + 1, key)) {
                s_fail (why, cap, "%s names more than one model digest", report_path);
                goto done;
            }
            at += strlen (key);
            size_t hl = strspn (at, "0123456789abcdefABCDEF");
            if (s_hex (at, hl, digest, 32) != 0) {
                s_fail (why, cap, "%s: malformed model digest", report_path);
                goto done;
            }
            *has_digest = 1;
        }
    }
    rc = 0;
done:
    free (report);
    free (sig);
    return rc;
}
