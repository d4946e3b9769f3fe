/*  test_report.c - fl_report: the progress line, the metrics CSV and the run
    report a compliance officer reads (sections, facts, privacy statements,
    rounds, missing values), and an unwritable path; the HTML report (every
    text from data escaped, plots from gnuplot or a page that says they were
    skipped), "undefined" AUROC/AUPRC, and the signed manifest from the
    adversary's side (one byte edited, a member's key, a foreign key). */
#include "fl_report.h"
#include "fl_test.h"

#include "fl_plot.h"

#include <czmq.h>
#include <math.h>
#include <sodium.h>
#include <unistd.h>

/* Reads a whole small file into a static buffer. */
static const char *
s_slurp (const char *path)
{
    static char buf[1 << 20];
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

static void
test_undefined (void)
{
    /* multi-class counts: AUROC/AUPRC undefined, printed as the word */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&text, &len);
    fl_round_summary_t s = s_summary (1, 0.5);
    s.eval.auroc = NAN;
    s.eval.auprc = NAN;
    fl_report_csv_row (f, &s, 1.0);
    fclose (f);
    FL_CHECK (strstr (text, ",undefined,undefined,") != NULL);
    FL_CHECK (strstr (text, "0.5,") != NULL);
    free (text);
}

/*  A report with hostile text in every field that comes from data. */
static fl_report_t *
s_hostile_report (void)
{
    fl_report_t *r = fl_report_new ("<script>alert('x')</script> & co", "secure <b>");
    fl_report_set_config (r, "data set %s", "\"><img src=x onerror=alert(1)>");
    fl_report_add_fact (r, "Roster", "%s", "/tmp/<evil>/roster.zpl");
    fl_report_add_fact (r, FL_REPORT_DIGEST_LABEL, "blake2b-256 %s (test)",
                        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    fl_report_add_privacy (r, "Transport: %s", "<i>none</i>");
    fl_report_add_note (r, "member 'a<b' attacked");
    for (int i = 1; i <= 4; i++) {
        fl_round_summary_t s = s_summary ((uint64_t) i, 0.8 + 0.03 * i);
        s.train_loss = 0.6 / i;
        s.epsilon = 0.5 * i;
        fl_report_add_round (r, &s, 0.1);
    }
    fl_report_set_outcome (r, "completed");
    /* evaluation counts: 400 examples, positives score higher */
    fl_metrics_counts_t c;
    fl_metrics_counts_init (&c);
    float sc[400];
    int32_t y[400];
    for (int i = 0; i < 400; i++) {
        y[i] = i % 3 == 0;
        sc[i] = (float) ((i % 97) / 100.0 * 0.6 + (y[i] ? 0.35 : 0.0));
    }
    fl_metrics_counts_add (&c, sc, y, 400, 1);
    fl_report_set_eval_counts (r, &c);
    return r;
}

static void
test_html (void)
{
    char dir[200];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-report-html") != NULL);
    char path[256];
    snprintf (path, sizeof path, "%s/report.html", dir);
    fl_report_t *r = s_hostile_report ();

    /* gnuplot missing: the page is still written, says why, holds the tables */
    setenv ("FL_GNUPLOT", "/nonexistent/gnuplot", 1);
    FL_CHECK (fl_report_write_html (r, path) == 0);
    const char *t = s_slurp (path);
    FL_CHECK (strncmp (t, "<!DOCTYPE html>", 15) == 0);
    FL_CHECK (strstr (t, "Plots skipped") != NULL);
    FL_CHECK (strstr (t, "/nonexistent/gnuplot not found") != NULL);
    FL_CHECK (strstr (t, "<svg") == NULL);
    FL_CHECK (strstr (t, "<h2>Rounds</h2>") != NULL);
    FL_CHECK (strstr (t, "<th>Model digest</th><td>blake2b-256 0011") != NULL);
    /* every text from data escaped: no tag of the attacker's survives */
    FL_CHECK (strstr (t, "<script") == NULL);
    FL_CHECK (strstr (t, "<img") == NULL);
    FL_CHECK (strstr (t, "<evil>") == NULL && strstr (t, "<i>none") == NULL && strstr (t, "<b>") == NULL);
    FL_CHECK (strstr (t, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co") != NULL);
    FL_CHECK (strstr (t, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;") != NULL);
    FL_CHECK (strstr (t, "/tmp/&lt;evil&gt;/roster.zpl") != NULL);
    FL_CHECK (strstr (t, "member &#39;a&lt;b&#39; attacked") != NULL);
    FL_CHECK (strstr (t, FL_REPORT_HTML_MARK) != NULL);
    /* the calibration table from the counts */
    FL_CHECK (strstr (t, "<th>observed positive</th>") != NULL);

    /* fl-sim's section goes before the mark */
    FL_CHECK (fl_report_html_insert (path, "<h2>Baselines (test)</h2>") == 0);
    t = s_slurp (path);
    const char *sec = strstr (t, "<h2>Baselines (test)</h2>"), *mark = strstr (t, FL_REPORT_HTML_MARK);
    FL_CHECK (sec && mark && sec < mark);
    char nomark[256];
    snprintf (nomark, sizeof nomark, "%s/plain.html", dir);
    FILE *f = fopen (nomark, "w");
    fputs ("<html></html>", f);
    fclose (f);
    FL_CHECK (fl_report_html_insert (nomark, "x") == -1);

    /* with gnuplot (when installed): inline SVG, no prolog, no skip notice */
    unsetenv ("FL_GNUPLOT");
    char why[256] = "";
    char *probe = fl_plot_svg ("plot x", 100, 100, why, sizeof why);
    if (probe) {
        FL_CHECK (strncmp (probe, "<svg", 4) == 0);
        FL_CHECK (fl_report_write_html (r, path) == 0);
        t = s_slurp (path);
        size_t svgs = 0;
        for (const char *p = t; (p = strstr (p, "<svg")); p++)
            svgs++;
        FL_CHECK (svgs == 6);      /* loss, metrics, epsilon, ROC, PR, calibration */
        FL_CHECK (strstr (t, "Plots skipped") == NULL);
        FL_CHECK (strstr (t, "<?xml") == NULL);
        FL_CHECK (strstr (t, "<script") == NULL || strstr (t, "alert(") == NULL);
        free (probe);
    }
    else if (fl_test_verbose_)
        printf ("  gnuplot not available (%s): SVG checks skipped\n", why);
    /* a gnuplot error is reported, not a crash */
    char *bad = fl_plot_svg ("plot $nosuchblock using 1:2", 100, 100, why, sizeof why);
    FL_CHECK (bad == NULL && why[0] != '\0');
    fl_report_destroy (&r);
    unlink (path);
    unlink (nomark);
    rmdir (dir);
}

/*  Writes a roster with a coordinator (key cpk) and one member "member-01" (mpk). */
static void
s_roster_file (const char *path, const uint8_t cpk[32], const uint8_t mpk[32])
{
    char ch[65], mh[65], c1[41], c2[41], sec[41];
    sodium_bin2hex (ch, sizeof ch, cpk, 32);
    sodium_bin2hex (mh, sizeof mh, mpk, 32);
    zmq_curve_keypair (c1, sec);
    zmq_curve_keypair (c2, sec);
    FILE *f = fopen (path, "w");
    fprintf (f, "roster\n    coordinator\n        identity = \"%s\"\n        curve = \"%s\"\n"
                "    member = \"member-01\"\n        identity = \"%s\"\n        curve = \"%s\"\n",
             ch, c1, mh, c2);
    fclose (f);
}

static void
test_signature (void)
{
    char dir[200];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-report-sig") != NULL);
    char md[256], html[256], sig[256], rpath[256];
    snprintf (md, sizeof md, "%s/report.md", dir);
    FL_CHECK (fl_report_sibling (md, ".html", html, sizeof html) == 0);
    FL_CHECK (fl_report_sibling (md, ".sig", sig, sizeof sig) == 0);
    FL_CHECK (strcmp (html + strlen (dir), "/report.html") == 0 && strcmp (sig + strlen (dir), "/report.sig") == 0);
    snprintf (rpath, sizeof rpath, "%s/roster.zpl", dir);
    uint8_t cpk[32], csk[64], mpk[32], msk[64], opk[32], osk[64];
    crypto_sign_keypair (cpk, csk);
    crypto_sign_keypair (mpk, msk);
    crypto_sign_keypair (opk, osk);
    s_roster_file (rpath, cpk, mpk);
    fl_roster_t *roster = fl_roster_load (rpath);
    FL_CHECK (roster != NULL);
    if (!roster)
        return;
    setenv ("FL_GNUPLOT", "/nonexistent/gnuplot", 1);   /* the signature does not care about pictures */
    fl_report_t *r = s_hostile_report ();
    FL_CHECK (fl_report_write (r, md) == 0 && fl_report_write_html (r, html) == 0);
    fl_report_destroy (&r);
    unsetenv ("FL_GNUPLOT");
    const char *files[2] = {md, html};
    FL_CHECK (fl_report_sign (files, 2, csk, sig) == 0);
    uint8_t d[32];
    int has = 0;
    char why[512] = "";
    FL_CHECK (fl_report_verify (md, sig, roster, d, &has, why, sizeof why) == 0);
    FL_CHECK (has == 1 && d[0] == 0x00 && d[1] == 0x11 && d[31] == 0xff);

    /* one byte of report.md edited: refused */
    char *orig = strdup (s_slurp (md));
    size_t olen = strlen (orig);
    char *edited = strdup (orig);
    char *acc = strstr (edited, "accuracy 0.92");
    FL_CHECK (acc != NULL);
    if (acc)
        acc[10] = '3';
    FILE *f = fopen (md, "w");
    fwrite (edited, 1, olen, f);
    fclose (f);
    FL_CHECK (fl_report_verify (md, sig, roster, d, &has, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "not the file the coordinator signed") != NULL);
    /* the digest line swapped for another model's, same length: refused */
    char *dg = strstr (edited, "blake2b-256 0011");
    if (acc)
        acc[10] = '2';
    if (dg)
        dg[12] = 'f';
    f = fopen (md, "w");
    fwrite (edited, 1, olen, f);
    fclose (f);
    FL_CHECK (fl_report_verify (md, sig, roster, d, &has, why, sizeof why) == -1);
    f = fopen (md, "w");
    fwrite (orig, 1, olen, f);
    fclose (f);
    FL_CHECK (fl_report_verify (md, sig, roster, d, &has, why, sizeof why) == 0);
    /* the HTML edited by one byte: refused too */
    char *h = strdup (s_slurp (html));
    size_t hl = strlen (h);
    h[hl / 2] ^= 0x01;
    f = fopen (html, "w");
    fwrite (h, 1, hl, f);
    fclose (f);
    FL_CHECK (fl_report_verify (md, sig, roster, d, &has, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "report.html is not the file") != NULL);
    h[hl / 2] ^= 0x01;
    f = fopen (html, "w");
    fwrite (h, 1, hl, f);
    fclose (f);
    free (h);

    /* signed with a member's key (an honest manifest): refused, naming the member */
    FL_CHECK (fl_report_sign (files, 2, msk, sig) == 0);
    FL_CHECK (fl_report_verify (md, sig, roster, d, &has, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "member 'member-01'") != NULL);
    /* signed with an unknown key */
    FL_CHECK (fl_report_sign (files, 2, osk, sig) == 0);
    FL_CHECK (fl_report_verify (md, sig, roster, d, &has, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "not the roster's coordinator key") != NULL);
    /* a member's signature with the signer line claiming the coordinator: the
       signature does not verify under the coordinator's key */
    FL_CHECK (fl_report_sign (files, 2, msk, sig) == 0);
    char *st = strdup (s_slurp (sig));
    char mh[65], chx[65];
    sodium_bin2hex (mh, sizeof mh, mpk, 32);
    sodium_bin2hex (chx, sizeof chx, cpk, 32);
    char *at = strstr (st, mh);
    if (at)
        memcpy (at, chx, 64);
    f = fopen (sig, "w");
    fputs (st, f);
    fclose (f);
    FL_CHECK (fl_report_verify (md, sig, roster, d, &has, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "does not verify") != NULL);
    free (st);
    /* a manifest that does not name report.md (only the html): refused */
    const char *only_html[1] = {html};
    FL_CHECK (fl_report_sign (only_html, 1, csk, sig) == 0);
    FL_CHECK (fl_report_verify (md, sig, roster, d, &has, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "does not sign report.md") != NULL);
    /* garbage and a missing signature file */
    f = fopen (sig, "w");
    fputs ("libfl-report-signature-v1\nsigner zz\nsignature 00\n", f);
    fclose (f);
    FL_CHECK (fl_report_verify (md, sig, roster, d, &has, why, sizeof why) == -1);
    unlink (sig);
    FL_CHECK (fl_report_verify (md, sig, roster, d, &has, why, sizeof why) == -1);
    /* a manifest naming a path outside the directory cannot even be made */
    const char *dotted[1] = {"/etc/.hidden"};
    FL_CHECK (fl_report_sign (dotted, 1, csk, sig) == -1);
    free (orig);
    free (edited);
    fl_roster_destroy (&roster);
    unlink (md);
    unlink (html);
    unlink (sig);
    unlink (rpath);
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
    FL_RUN (test_undefined);
    FL_RUN (test_html);
    FL_RUN (test_signature);
    FL_TEST_DONE ();
}
