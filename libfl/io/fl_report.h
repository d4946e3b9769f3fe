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

#ifdef __cplusplus
}
#endif
#endif
