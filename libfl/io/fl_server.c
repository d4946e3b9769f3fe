/*  fl_server - see fl_server.h. */
#include "fl_server.h"
#include "fl_checkpoint.h"
#include "fl_modelfile.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct fl_server_t {
    fl_round_t *round;
    fl_transport_t *transport;
    fl_report_t *report;
    FILE *progress, *metrics;
    char *mode_tag, *metrics_name, *checkpoint_dir, *config_text, *crash_at;
    uint64_t *restarts;
    size_t n_restarts;
    uint64_t crash_round, rounds;
    int64_t last_round_end;     /* zclock_mono of the last finished round (or the start) */
    int metrics_failed;
    size_t output_failed;
    int dp_warned;              /* the noise-versus-signal warning was printed */
};

static char *
s_dup (const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup (s);
    if (!d)
        *oom = 1;
    return d;
}

fl_server_t *
fl_server_new (const fl_server_config_t *cfg)
{
    assert (cfg);
    if (!cfg->round || !cfg->transport) {
        zsys_error ("server: a round and a bound transport are required");
        return NULL;
    }
    fl_server_t *self = (fl_server_t *) calloc (1, sizeof *self);
    if (!self) {
        zsys_error ("server: out of memory");
        return NULL;
    }
    int oom = 0;
    self->round = cfg->round;
    self->transport = cfg->transport;
    self->report = cfg->report;
    self->progress = cfg->progress;
    self->metrics = cfg->metrics;
    self->mode_tag = s_dup (cfg->mode_tag ? cfg->mode_tag : "", &oom);
    self->metrics_name = s_dup (cfg->metrics_name ? cfg->metrics_name : "metrics CSV", &oom);
    self->checkpoint_dir = s_dup (cfg->checkpoint_dir, &oom);
    self->config_text = s_dup (cfg->config_text, &oom);
    self->crash_at = cfg->crash_at && cfg->crash_at[0] ? s_dup (cfg->crash_at, &oom) : NULL;
    self->crash_round = cfg->crash_round;
    self->rounds = cfg->rounds;
    if (cfg->n_restarts) {
        self->restarts = (uint64_t *) malloc (2 * cfg->n_restarts * sizeof (uint64_t));
        if (self->restarts) {
            memcpy (self->restarts, cfg->restarts, 2 * cfg->n_restarts * sizeof (uint64_t));
            self->n_restarts = cfg->n_restarts;
        }
        else
            oom = 1;
    }
    if (oom) {
        zsys_error ("server: out of memory");
        fl_server_destroy (&self);
    }
    return self;
}

void
fl_server_destroy (fl_server_t **self_p)
{
    assert (self_p);
    fl_server_t *self = *self_p;
    if (!self)
        return;
    free (self->mode_tag);
    free (self->metrics_name);
    free (self->checkpoint_dir);
    free (self->config_text);
    free (self->crash_at);
    free (self->restarts);
    free (self);
    *self_p = NULL;
}

const char *
fl_server_where (const fl_round_t *round)
{
    static const char *sa[] = {"advertise", "share", "masked", "consistency", "unmask"};
    static const char *st[] = {"stats", "stats-share", "stats-masked", "stats-consistency", "stats-unmask"};
    static const char *ev[] = {"evaluate", "evaluate-share", "evaluate-masked", "evaluate-consistency",
                               "evaluate-unmask"};
    int s = fl_round_secure_state (round);
    switch (fl_round_phase (round)) {
    case FL_ROUND_STATS: return s > 0 && s < 5 ? st[s] : "stats";
    case FL_ROUND_EVAL: return s > 0 && s < 5 ? ev[s] : "evaluate";
    case FL_ROUND_TRAIN: return s >= 0 && s < 5 ? sa[s] : "train";
    default: return "";
    }
}

/* Sends everything the round queued; a model shared by a batch of
   messages goes into ZeroMQ once, by reference (fl_transport_send_shared). */
static void
s_flush (fl_server_t *self)
{
    const uint8_t *id, *tail;
    size_t id_len, len, tail_len;
    uint64_t tag;
    uint8_t *data;
    while (fl_round_next_out_shared (self->round, &id, &id_len, &data, &len, &tail, &tail_len, &tag)) {
        fl_transport_send_shared (self->transport, id, id_len, data, len, tail, tail_len, tag);
        free (data);
    }
}

/* A metrics row; after a failed write no more rows are written. */
static void
s_metrics_row (fl_server_t *self, const fl_round_summary_t *s, double seconds)
{
    if (!self->metrics || self->metrics_failed)
        return;
    fl_report_csv_row (self->metrics, s, seconds);
    if (fflush (self->metrics) != 0 || ferror (self->metrics)) {
        zsys_error ("coordinator: cannot write the metrics CSV %s: %s; no more rows are written",
                    self->metrics_name, strerror (errno));
        self->metrics_failed = 1;
        self->output_failed++;
    }
}

/* Saves a checkpoint the round took, with the run's configuration and
   restarts; a failure is logged and counted, the run goes on. */
static void
s_checkpoint (fl_server_t *self)
{
    fl_checkpoint_t *ck = fl_round_take_checkpoint (self->round);
    if (ck && self->checkpoint_dir) {
        int fr = 0;
        if (self->config_text)
            fr = fl_checkpoint_put_bytes (ck, FL_SERVER_CONFIG_KEY, self->config_text, strlen (self->config_text));
        if (fr == 0 && self->n_restarts)
            fr = fl_checkpoint_put_u64s (ck, FL_SERVER_RESTARTS_KEY, self->restarts, 2 * self->n_restarts);
        if (fr != 0 || fl_checkpoint_save_dir (ck, self->checkpoint_dir) != 0) {
            zsys_error ("coordinator: checkpoint of round %" PRIu64 " not written to %s (see above); a resume "
                        "would start from the last one written", fl_checkpoint_round (ck), self->checkpoint_dir);
            self->output_failed++;
        }
    }
    fl_checkpoint_destroy (&ck);
}

int
fl_server_start (fl_server_t *self)
{
    assert (self);
    /* A resumed run's completed rounds (times unknown). */
    fl_round_summary_t h;
    size_t nh = fl_round_history (self->round, 0, &h);
    for (size_t i = 0; i < nh; i++) {
        fl_round_history (self->round, i, &h);
        s_metrics_row (self, &h, 0);
        if (self->report)
            fl_report_add_round (self->report, &h, 0);
    }
    if (nh && self->report)
        fl_report_add_note (self->report, "Resumed from a checkpoint after round %zu (earlier rounds' times are not known).", nh);
    int64_t t0 = zclock_mono ();
    self->last_round_end = t0;
    fl_round_start (self->round, t0);
    return 0;
}

int
fl_server_step (fl_server_t *self, int max_wait_ms)
{
    assert (self);
    fl_round_phase_t ph = fl_round_phase (self->round);
    if (ph == FL_ROUND_DONE || ph == FL_ROUND_FAILED)
        return 1;
    int64_t now = zclock_mono ();
    int64_t wait = fl_round_next_timeout_ms (self->round, now);
    if (wait < 0 || wait > max_wait_ms)
        wait = max_wait_ms < 0 ? 0 : max_wait_ms;
    fl_transport_msg_t msg;
    int r = fl_transport_recv (self->transport, (int) wait, &msg);
    now = zclock_mono ();
    if (r == 0) {
        fl_round_on_message (self->round, now, msg.id, msg.id_len, msg.member, msg.data, msg.len);
        fl_transport_msg_free (&msg);
    }
    else if (r < 0)
        return -1;
    fl_round_on_tick (self->round, now);
    s_flush (self);
    if (self->crash_at && fl_round_current (self->round) == self->crash_round
        && strcmp (fl_server_where (self->round), self->crash_at) == 0) {
        fprintf (stderr, "fl-coordinator: fault injection: SIGKILL in round %" PRIu64 " phase %s\n",
                 self->crash_round, self->crash_at);
        fflush (stderr);
        raise (SIGKILL);
    }
    s_checkpoint (self);
    fl_round_summary_t sum;
    while (fl_round_next_summary (self->round, &sum)) {
        double secs = (now - self->last_round_end) / 1000.0;
        self->last_round_end = now;
        if (self->progress) {
            fl_report_progress_line (self->progress, &sum, self->rounds, secs, self->mode_tag);
            if (!self->dp_warned && fl_round_dp_warning (self->round)) {   /* once, when it first holds */
                fprintf (self->progress, "warning: differential privacy: %s\n", fl_round_dp_warning (self->round));
                self->dp_warned = 1;
            }
            fflush (self->progress);
        }
        s_metrics_row (self, &sum, secs);
        if (self->report)
            fl_report_add_round (self->report, &sum, secs);
        if (self->report && sum.cohort > 0 && sum.train_deadline > 0 && isnan (sum.train_slowest)) {
            char earlier[96] = "no earlier round had an update to measure";
            if (!isnan (sum.train_slowest_earlier))
                snprintf (earlier, sizeof earlier, "the slowest update of the rounds before took %.1f s",
                          sum.train_slowest_earlier);
            fl_report_add_note (self->report, "Round %" PRIu64 ": the training deadline (%.1f s) passed with 0 of %zu "
                                "updates; %s.", sum.round, sum.train_deadline, sum.cohort, earlier);
        }
    }
    ph = fl_round_phase (self->round);
    return ph == FL_ROUND_DONE || ph == FL_ROUND_FAILED ? 1 : 0;
}

fl_server_outcome_t
fl_server_run (fl_server_t *self)
{
    assert (self);
    fl_server_start (self);
    int r = 0;
    while (!zsys_interrupted && (r = fl_server_step (self, 1000)) == 0)
        ;
    s_flush (self);
    if (zsys_interrupted)
        return FL_SERVER_INTERRUPTED;
    if (r < 0)
        return FL_SERVER_TRANSPORT_ERROR;
    return fl_round_phase (self->round) == FL_ROUND_FAILED ? FL_SERVER_FAILED : FL_SERVER_DONE;
}

size_t
fl_server_output_failed (const fl_server_t *self)
{
    assert (self);
    return self->output_failed;
}

int
fl_server_metrics_failed (const fl_server_t *self)
{
    assert (self);
    return self->metrics_failed;
}

int
fl_server_save_model (const fl_round_t *round, const char *hidden, const char *path)
{
    assert (round && path);
    fl_model_t *model = fl_round_model (round);
    if (!model) {
        zsys_error ("coordinator: no model to save yet");
        return -1;
    }
    return fl_modelfile_save (path, model, hidden ? hidden : "", fl_round_mean (round), fl_round_std (round),
                              fl_round_run_id (round), fl_round_current (round));
}
