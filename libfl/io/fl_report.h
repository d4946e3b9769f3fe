/*  fl_report - what a run tells its operators: the per-round progress line,
    the metrics CSV, and the run report (Markdown) for a compliance officer.

    The report states only what the code did: the aggregation mode (a
    plaintext run says that updates were NOT masked), the configuration, every
    round's figures, and the outcome.  Privacy guarantees are printed only by
    the differential-privacy layer, from the accountant's numbers.
*/
#ifndef FL_REPORT_H_INCLUDED
#define FL_REPORT_H_INCLUDED

#include <stdio.h>

#include "fl_round.h"
#include "fl_roster.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_report_t fl_report_t;

/*  A report for a run called name, in aggregation mode mode (a sentence). */
fl_report_t *fl_report_new (const char *name, const char *mode);
void fl_report_destroy (fl_report_t **self_p);

/*  The configuration line (printf format). */
void fl_report_set_config (fl_report_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
/*  Adds a fact to the report's opening list, "- label: value" (printf
    format for the value), e.g. the run id, the model fingerprint, the
    roster.  Facts appear in the order they were added, after Started,
    Aggregation and Configuration.  Silently dropped if memory runs out. */
void fl_report_add_fact (fl_report_t *self, const char *label, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/*  Adds a statement to the "Privacy and security" section (printf format):
    what the coordinator could see, the transport, the differential-privacy
    guarantee or its absence.  The caller states only what the code did; the
    section is omitted when no statement was added. */
void fl_report_add_privacy (fl_report_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
/*  Adds a paragraph (printf format), e.g. who attacked, what was clipped. */
void fl_report_add_note (fl_report_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
void fl_report_set_outcome (fl_report_t *self, const char *outcome);
void fl_report_add_round (fl_report_t *self, const fl_round_summary_t *s, double seconds);

/*  Early stopping (fl_round_best): the Final model section then describes
    best (the round whose model was kept), not the last round, and its row in
    the rounds table is marked "(kept)".  best is copied; NULL clears it. */
void fl_report_set_best (fl_report_t *self, const fl_round_summary_t *best);
/*  How the operating point of the summaries' op was chosen, e.g. "threshold
    0.5" or "the top 1% of rows by score" (printf format), for the Final model
    section. */
void fl_report_set_oppoint (fl_report_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/*  Writes the Markdown report to path: title; a list (Started, Finished =
    the time of writing, Aggregation, Configuration, the facts, Outcome);
    the notes; "Privacy and security"; "Rounds" (one table row per round);
    "Final model" (the last round's federated evaluation).  Written to
    path.tmp, fsynced and renamed over path.  -1 (logged with the path and
    errno; path.tmp removed, path untouched) on I/O error. */
int fl_report_write (const fl_report_t *self, const char *path);

/*  "round   3/20  clients  8/8  updates 8  loss 0.2134  acc 0.9561  AUROC 0.9912 ..."
    mode_tag is printed in brackets on every line ("plaintext", "secure").
    With differential privacy the line also shows "eps E", the spend so far,
    and with adaptive clipping "C N", the clipping norm the round used. */
void fl_report_progress_line (FILE *out, const fl_round_summary_t *s, uint64_t rounds, double seconds,
                              const char *mode_tag);

/*  The metrics CSV: header, then one row per round (same columns as the
    summary; NaN printed as "nan").  Column epsilon is the differential-
    privacy spend after the round ("nan" without DP, "inf" with DP but no
    noise); the last column, clip_norm, the clipping norm C_t the round used
    with adaptive clipping ("nan" otherwise); then brier, op_threshold,
    op_flagged, op_precision, op_recall, op_f1 (binary tasks, from the
    histograms: fl_round_summary_t) and best (1: early stopping's lowest
    federated evaluation log loss so far).  Columns are only ever
    appended: readers find them by name. */
void fl_report_csv_header (FILE *out);
void fl_report_csv_row (FILE *out, const fl_round_summary_t *s, double seconds);


/* ---- the HTML report, the parameter digest, the signature -----------------

   Beside the Markdown report REPORT.md the coordinator writes REPORT.html
   (the same text with pictures: training curves, ROC, precision-recall and
   calibration plots drawn by gnuplot as inline SVG, io/fl_plot; without
   gnuplot the tables only, and a line saying the plots were skipped) and,
   with its identity key, REPORT.sig: a detached Ed25519 signature over a
   manifest naming the BLAKE2b-256 digest of each report file (format in
   docs/COORDINATOR.md, "Signed report").  The report names the model by
   the digest of its parameters (proto/fl_modelfile: fl_modelfile_digest) in
   the fact "Model digest", which fl-model verify-report compares with a
   model file. */

/* The fact label (fl_report_add_fact) that carries the parameter digest:
   "- Model digest: blake2b-256 <64 hex>". */
#define FL_REPORT_DIGEST_LABEL "Model digest"
/* First line of a signature manifest (domain separation of what is signed). */
#define FL_REPORT_SIG_MAGIC "libfl-report-signature-v1"
/* Where fl-sim's section goes in the HTML (fl_report_html_insert). */
#define FL_REPORT_HTML_MARK "<!-- fl-report: further sections -->"

/*  Keeps a copy of the merged federated-evaluation counts of the final model
    (fl_round_eval_counts) for the HTML's ROC, precision-recall and
    calibration plots.  NULL or empty counts: no such plots. */
void fl_report_set_eval_counts (fl_report_t *self, const fl_metrics_counts_t *c);

/*  Writes the HTML report to path (atomically, like fl_report_write): one
    self-contained page (no external resource) with the facts, notes,
    "Privacy and security", training curves per round (training loss and
    evaluation log loss; accuracy, AUROC, AUPRC; epsilon when differential
    privacy ran), the final model's ROC, precision-recall and reliability
    curves from the evaluation counts, and the rounds table.  Every text from
    the run (names, paths, notes) is HTML-escaped.  Plots are drawn by
    fl_plot_svg; when it fails the page says "plots skipped" with the reason
    and still holds every table: only an I/O error on path fails (-1,
    logged). */
int fl_report_write_html (const fl_report_t *self, const char *path);

/*  Inserts section_html (trusted HTML: the caller escapes what it took from
    data, fl_plot_html_escape) into the HTML report at path, before
    FL_REPORT_HTML_MARK, rewriting the file atomically.  -1 (logged) if the
    file cannot be read or written or has no mark. */
int fl_report_html_insert (const char *path, const char *section_html);

/*  The sibling paths of a Markdown report: md_path without a final ".md",
    plus ".html" and ".sig" (report.md -> report.html, report.sig).  -1 if
    they do not fit cap bytes. */
int fl_report_sibling (const char *md_path, const char *ext, char *out, size_t cap);

/*  Signs the files paths[0..n) (each named in the manifest by its base
    name, which must be 1..255 of A-Z a-z 0-9 . _ - and not start with '.')
    with the Ed25519 secret key sk (64 bytes, fl_identity_load_secret),
    writing the manifest and signature to sig_path (atomically):
        libfl-report-signature-v1
        signer <public key, 64 hex>
        file <base name> blake2b-256 <digest, 64 hex>      (one per file)
        signature <Ed25519 signature over every byte above, 128 hex>
    -1 (logged, nothing written) on an unreadable file or bad name. */
int fl_report_sign (const char *const *paths, size_t n, const uint8_t sk[64], const char *sig_path);

/*  Checks the signature file sig_path for the report at report_path against
    roster: the manifest is well formed, its signer is the roster's
    coordinator (a member's key or an unknown key is refused, naming which),
    the signature verifies with the roster's coordinator key, the report's
    base name is among the files, and every file named (looked up in the
    report's directory) has the digest given.  Then reads the report's
    "Model digest" fact into digest (FL_MODELFILE_DIGESTBYTES) and sets
    *has_digest (0 when the report names none).  0 when all holds; -1 with
    the first reason in why otherwise. */
int fl_report_verify (const char *report_path, const char *sig_path, const fl_roster_t *roster,
                      uint8_t digest[32], int *has_digest, char *why, size_t why_size)
    __attribute__ ((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
