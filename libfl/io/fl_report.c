/*  fl_report.c - progress lines, metrics CSV and the Markdown run report. */
#include "fl_report.h"
#include "fl_atomic.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

int
fl_report_write (const fl_report_t *self, const char *path)
{
    /* Composed in memory, then written with the one write-fsync-rename
       (core/fl_atomic: path.tmp, fsync, rename): a full or read-only disk
       leaves the previous report (or none), never a 0-byte or half-written
       one. */
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream (&text, &text_len);
    if (!f) {
        zsys_error ("report: cannot write %s: %s", path, strerror (errno));
        return -1;
    }
    char finished[64];
    time_t t = time (NULL);
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (finished, sizeof finished, "%Y-%m-%d %H:%M:%S UTC", &tm);
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
        fprintf (f, "| %" PRIu64 "%s%s | %zu | %zu | %zu | %zu | ", s->round, s->skipped ? " (skipped)" : "",
                 self->have_best && self->best.round == s->round ? " (kept)" : "", s->cohort, s->updates, s->dropped,
                 s->eval_clients);
        s_metric (f, s->train_loss);
        fprintf (f, " | ");
        s_metric (f, s->eval.accuracy);
        fprintf (f, " | ");
        s_metric (f, s->eval.auroc);
        fprintf (f, " | ");
        s_metric (f, s->eval.auprc);
        fprintf (f, " | %.2f |\n", self->rows[i].seconds);
    }
    if (self->have_best)
        s_final_model (f, self, &self->best);
    else if (self->n_rows)
        s_final_model (f, self, &self->rows[self->n_rows - 1].s);
    int err = 0;
    if (fflush (f) != 0 || ferror (f))
        err = errno ? errno : ENOMEM;
    if (fclose (f) != 0 && !err)
        err = errno ? errno : ENOMEM;
    if (!err && fl_atomic_write (path, text, text_len, 0666) != 0)
        err = errno;
    free (text);
    if (err) {
        zsys_error ("report: cannot write %s: %s", path, strerror (err));
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
    fprintf (out, "  %6.3fs%s [%s]\n", seconds, s->skipped ? "  SKIPPED" : "", mode_tag);
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
    fprintf (out, "%" PRIu64 ",%zu,%zu,%zu,%zu,%d,%.6g,%.6g,%zu,%" PRIu64 ",%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f,%zu,%zu,%.6g,%.6g",
             s->round, s->ready, s->cohort, s->updates, s->dropped, s->skipped, s->train_loss, s->update_norm,
             s->eval_clients, s->eval.n, s->eval.accuracy, s->eval.log_loss, s->eval.auroc, s->eval.auprc,
             s->eval.precision, s->eval.recall, seconds, s->buckets, s->buckets_aborted, s->epsilon,
             s->clip_norm);
    fprintf (out, ",%.6g,%.6g,%" PRIu64 ",%.6g,%.6g,%.6g,%d\n", s->brier, s->op.threshold, s->op.flagged,
             s->op.precision, s->op.recall, s->op.f1, s->best);
}
