/*  test_report.c - fl_report: the progress line, the metrics CSV and the run
    report a compliance officer reads (sections, facts, privacy statements,
    rounds, missing values), and an unwritable path. */
#include "fl_report.h"
#include "fl_test.h"

#include <czmq.h>
#include <math.h>
#include <unistd.h>

/* Reads a whole small file into a static buffer. */
static const char *
s_slurp (const char *path)
{
    static char buf[16384];
    buf[0] = '\0';
    FILE *f = fopen (path, "r");
    if (!f)
        return buf;
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose (f);
    return buf;
}

static fl_round_summary_t
s_summary (uint64_t round, double acc)
{
    fl_round_summary_t s;
    memset (&s, 0, sizeof s);
    s.round = round;
    s.ready = 8;
    s.cohort = 8;
    s.updates = 7;
    s.dropped = 1;
    s.eval_clients = 8;
    s.train_loss = 0.25;
    s.update_norm = 1.5;
    s.eval.n = 143;
    s.eval.accuracy = acc;
    s.eval.auroc = 0.99;
    s.eval.auprc = 0.98;
    s.eval.log_loss = 0.1;
    s.eval.precision = NAN;
    s.eval.recall = NAN;
    s.epsilon = NAN;
    s.clip_norm = NAN;
    return s;
}

static void
test_progress_line (void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&text, &len);
    fl_round_summary_t s = s_summary (3, 0.9561);
    fl_report_progress_line (f, &s, 20, 0.25, "secure");
    s.epsilon = 1.234;
    s.clip_norm = 0.0625;              /* adaptive clipping: the norm in use */
    s.skipped = 1;
    s.train_loss = NAN;
    fl_report_progress_line (f, &s, 20, 0.25, "plaintext");
    fclose (f);
    FL_CHECK (strstr (text, "round   3/20") != NULL);
    FL_CHECK (strstr (text, "clients  8/8") != NULL);
    FL_CHECK (strstr (text, "(1 dropped)") != NULL);
    FL_CHECK (strstr (text, "acc 0.9561") != NULL);
    FL_CHECK (strstr (text, "[secure]\n") != NULL);
    /* Without DP no epsilon is printed; with it the spend is. */
    char *second = strchr (text, '\n');
    FL_CHECK (second && strstr (text, "eps") == strstr (second, "eps"));
    FL_CHECK (second && strstr (second, "eps 1.23") != NULL);
    FL_CHECK (strstr (text, "  C ") == strstr (second, "  C "));      /* no clipping norm without adaptive clipping */
    FL_CHECK (second && strstr (second, "C 0.0625") != NULL);
    FL_CHECK (second && strstr (second, "loss      -") != NULL);    /* a missing value prints as - */
    FL_CHECK (second && strstr (second, "SKIPPED") != NULL);
    free (text);
}

static void
test_csv (void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&text, &len);
    fl_report_csv_header (f);
    fl_round_summary_t s = s_summary (1, 0.5);
    fl_report_csv_row (f, &s, 1.0);
    fclose (f);
    /* As many columns in the row as in the header; epsilon, then (appended
       later, so earlier columns keep their positions) the clipping norm last. */
    char *nl = strchr (text, '\n');
    FL_CHECK (nl != NULL);
    if (nl) {
        size_t ch = 0, cr = 0;
        for (char *p = text; p < nl; p++)
            ch += *p == ',';
        for (char *p = nl + 1; *p && *p != '\n'; p++)
            cr += *p == ',';
        FL_CHECK (ch == cr && ch == 27);
        FL_CHECK (strstr (text, ",epsilon,clip_norm,") != NULL);
        /* appended after clip_norm: the imbalance columns and early stopping's flag */
        FL_CHECK (strstr (text, "clip_norm,brier,op_threshold,op_flagged,op_precision,op_recall,op_f1,best\n")
                  == nl - 73);
        FL_CHECK (strstr (nl, ",nan,nan,") != NULL);
    }
    free (text);
}

static void
test_report_file (void)
{
    char dir[200];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-report") != NULL);
    char path[256];
    snprintf (path, sizeof path, "%s/report.md", dir);

    fl_report_t *r = fl_report_new ("hospitals", "secure aggregation (test)");
    FL_CHECK (r != NULL);
    fl_report_set_config (r, "rounds %d, model %s", 2, "logreg");
    fl_report_add_fact (r, "Run id", "%s", "00ff");
    fl_report_add_fact (r, "Members admitted", "%d (%s)", 2, "a, b");
    fl_report_add_privacy (r, "Transport: %s", "CURVE");
    fl_report_add_privacy (r, "Differential privacy: none.");
    fl_report_add_note (r, "Attackers: %d", 0);
    fl_round_summary_t s1 = s_summary (1, 0.90), s2 = s_summary (2, 0.95);
    s2.skipped = 1;
    fl_report_add_round (r, &s1, 0.5);
    fl_report_add_round (r, &s2, 0.25);
    fl_report_set_outcome (r, "completed");
    FL_CHECK (fl_report_write (r, path) == 0);
    const char *t = s_slurp (path);
    FL_CHECK (strncmp (t, "# hospitals\n", 12) == 0);
    FL_CHECK (strstr (t, "- Started: ") != NULL);
    FL_CHECK (strstr (t, "- Finished: ") != NULL);
    FL_CHECK (strstr (t, "- Aggregation: secure aggregation (test)\n") != NULL);
    FL_CHECK (strstr (t, "- Configuration: rounds 2, model logreg\n") != NULL);
    FL_CHECK (strstr (t, "- Run id: 00ff\n- Members admitted: 2 (a, b)\n- Outcome: completed\n") != NULL);
    FL_CHECK (strstr (t, "Attackers: 0\n") != NULL);
    const char *priv = strstr (t, "## Privacy and security\n\n- Transport: CURVE\n- Differential privacy: none.\n");
    const char *rounds = strstr (t, "## Rounds");
    const char *final = strstr (t, "## Final model");
    FL_CHECK (priv && rounds && final && priv < rounds && rounds < final);
    FL_CHECK (strstr (t, "| 1 | 8 | 7 | 1 | 8 | 0.2500 | 0.9000 |") != NULL);
    FL_CHECK (strstr (t, "| 2 (skipped) |") != NULL);
    FL_CHECK (strstr (t, "(143 examples): accuracy 0.9500") != NULL);
    fl_report_destroy (&r);
    FL_CHECK (r == NULL);
    fl_report_destroy (&r);            /* safe twice */

    /* Early stopping and an imbalanced binary task: the Final model is the
       kept round's, led by AUROC / AUPRC, with the operating point and the
       Brier score said to come from the histograms. */
    r = fl_report_new ("fraud", "secure aggregation (test)");
    fl_round_summary_t b1 = s_summary (1, 0.97), b2 = s_summary (2, 0.98);
    b1.min_class_share = 0.02;
    b1.brier = 0.0123;
    b1.op = (fl_metrics_oppoint_t) {0.731, 10, 6, 4, 2, 0.6, 0.75, 2.0 / 3.0};
    b1.best = 1;
    fl_report_add_round (r, &b1, 0.5);
    fl_report_add_round (r, &b2, 0.5);
    fl_report_set_best (r, &b1);
    fl_report_set_oppoint (r, "the top %g%% of rows by score", 1.0);
    snprintf (path, sizeof path, "%s/report.md", dir);
    FL_CHECK (fl_report_write (r, path) == 0);
    t = s_slurp (path);
    FL_CHECK (strstr (t, "| 1 (kept) |") != NULL);
    FL_CHECK (strstr (t, "Early stopping kept round 1's global model") != NULL);
    FL_CHECK (strstr (t, "the smaller class is 2.0% of them, so accuracy says little): AUROC 0.9900, AUPRC 0.9800")
              != NULL);
    FL_CHECK (strstr (t, "At the operating point (the top 1% of rows by score; scores >= 0.731 flagged): 10 rows "
                         "flagged, precision 0.6000, recall 0.7500, F1 0.6667. Brier score 0.0123.") != NULL);
    FL_CHECK (strstr (t, "accuracy 0.9800") == NULL);      /* not the last round's */
    fl_report_destroy (&r);

    /* No privacy statement: no section.  No rounds: no final model. */
    r = fl_report_new (NULL, NULL);
    FL_CHECK (fl_report_write (r, path) == 0);
    t = s_slurp (path);
    FL_CHECK (strstr (t, "# libfl run\n") != NULL);
    FL_CHECK (strstr (t, "- Outcome: did not finish\n") != NULL);
    FL_CHECK (strstr (t, "Privacy and security") == NULL);
    FL_CHECK (strstr (t, "## Final model") == NULL);
    /* An unwritable path is an error, not a crash. */
    snprintf (path, sizeof path, "%s/no/such/dir/report.md", dir);
    FL_CHECK (fl_report_write (r, path) == -1);
    fl_report_destroy (&r);
    snprintf (path, sizeof path, "%s/report.md", dir);
    unlink (path);
    rmdir (dir);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    zsys_init ();
    zsys_set_logstream (fl_test_verbose_ ? stderr : NULL);
    FL_RUN (test_progress_line);
    FL_RUN (test_csv);
    FL_RUN (test_report_file);
    FL_TEST_DONE ();
}
