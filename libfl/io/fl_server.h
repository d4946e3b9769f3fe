/*  fl_server - the coordinator's driver loop: the one place where the
    sans-I/O round state machine (fl_round) meets sockets, the clock, the
    disk and signals.

    fl_round decides everything (admission, cohorts, deadlines, secure
    aggregation, the model); it never reads a clock or a socket.  The server
    owns the loop around it:

        fl_server_run
          |  history rows (a resumed run's completed rounds) -> metrics, report
          |  fl_round_start (now)
          v
        +-> wait for one message, at most until the round's next deadline
        |   (fl_round_next_timeout_ms, capped at 1 s)       [fl_transport]
        |   feed it with now_ms (zclock_mono)     -> fl_round_on_message
        |   fl_round_on_tick (now_ms)             -> deadlines fire
        |   send the round's outbox                         [fl_transport]
        |   fault injection (crash_at): SIGKILL on entering that phase
        |   a checkpoint the round took -> run config + restarts added,
        |                                  saved to checkpoint_dir
        |   each finished round -> progress line, metrics CSV row, report row
        +-- until DONE or FAILED, a transport error, or SIGINT/SIGTERM
            (zsys_interrupted); the outbox is sent once more at the end.

    The program keeps option parsing and wiring: it builds the round, binds
    the transport, opens the metrics CSV and the report, and after the run
    writes the model and the report.  fl-coordinator uses this loop; the
    unit test test_server drives it with in-process clients over loopback.

    Output failures (a checkpoint or a metrics row that could not be written)
    do not stop the run: they are logged and counted, and
    fl_server_output_failed tells the program (fl-coordinator exits 3).

    Not thread safe: one server per thread (its transport is a ZeroMQ
    socket).
*/
#ifndef FL_SERVER_H_INCLUDED
#define FL_SERVER_H_INCLUDED

#include <stdint.h>
#include <stdio.h>

#include "fl_report.h"
#include "fl_round.h"
#include "fl_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  Checkpoint fields the server adds to every checkpoint the round takes:
    the run's configuration ("name=value\n" lines, bytes) and its restarts
    (u64 pairs: after round, unix time).  The program reads them back on
    resume (docs/CHECKPOINT.md). */
#define FL_SERVER_CONFIG_KEY   "run.config"
#define FL_SERVER_RESTARTS_KEY "run.restarts"

typedef struct fl_server_t fl_server_t;

typedef struct {
    fl_round_t *round;          /* the run's round; borrowed, must outlive the server */
    fl_transport_t *transport;  /* a bound server transport (fl_transport_server_new); borrowed */
    fl_report_t *report;        /* NULL, or borrowed: every finished round is added as a row */
    FILE *progress;             /* NULL, or a stream for one progress line per finished round */
    const char *mode_tag;       /* tag of progress lines, e.g. "secure"; NULL = "" */
    uint64_t rounds;            /* the run's training rounds, shown in progress lines ("round 3/10") */
    FILE *metrics;              /* NULL, or the metrics CSV stream with its header written; borrowed
                                   (the program closes it); after a failed write the server writes
                                   no more rows to it (fl_server_metrics_failed) */
    const char *metrics_name;   /* the metrics file's path, for log lines; NULL = "metrics CSV" */
    const char *checkpoint_dir; /* NULL: no checkpoints are saved; else a directory (copied) */
    const char *config_text;    /* NULL, or the run's configuration stored in every checkpoint
                                   under FL_SERVER_CONFIG_KEY; copied */
    const uint64_t *restarts;   /* n_restarts pairs stored under FL_SERVER_RESTARTS_KEY; copied */
    size_t n_restarts;
    const char *crash_at;       /* NULL or "": off; else a phase name (fl_server_where) at which the
                                   process SIGKILLs itself in round crash_round (fault injection) */
    uint64_t crash_round;
} fl_server_config_t;

/*  How a run ended (fl_server_run). */
typedef enum {
    FL_SERVER_DONE = 0,         /* the round reached DONE (all rounds, or the privacy budget) */
    FL_SERVER_FAILED,           /* the round failed (fl_round_failure says why) */
    FL_SERVER_INTERRUPTED,      /* SIGINT / SIGTERM: the round in progress is abandoned */
    FL_SERVER_TRANSPORT_ERROR   /* the transport failed (logged by fl_transport) */
} fl_server_outcome_t;

/*  A server over cfg (pointers borrowed or copied as documented above).
    NULL (logged) if cfg has no round or transport, or memory runs out. */
fl_server_t *fl_server_new (const fl_server_config_t *cfg);

/*  Destroys the server (not the round, transport, report or streams) and
    nulls *self_p.  Safe on NULL. */
void fl_server_destroy (fl_server_t **self_p);

/*  Runs the loop drawn above until the round ends, the transport fails or a
    signal arrives (zsys_interrupted).  Blocks; call once.  Returns how the
    run ended. */
fl_server_outcome_t fl_server_run (fl_server_t *self);

/*  One pass of the loop: waits up to max_wait_ms (capped by the round's next
    deadline; 0 = do not wait) for one message, then ticks the round, sends
    its outbox, saves a checkpoint and reports finished rounds.  For tests
    and programs that interleave the server with other work in one thread;
    call fl_server_start once before the first step.  Returns 0 while the run
    goes on, 1 when the round is DONE or FAILED, -1 on a transport error. */
int fl_server_start (fl_server_t *self);
int fl_server_step (fl_server_t *self, int max_wait_ms);

/*  Count of checkpoints or metrics rows that could not be written (each
    logged).  0 = every output written. */
size_t fl_server_output_failed (const fl_server_t *self);

/*  True after a metrics row could not be written (no more rows are). */
/*  Writes the round's global model as a model file (docs/FORMATS.md): model
    name, hidden sizes (`hidden`, the spec the round was configured with),
    shapes, fingerprint, standardisation, run id, round and parameters,
    through fl_modelfile_save (write, fsync, rename: a crash never leaves a
    half-written model).  The round itself writes no file.  Returns 0, or -1
    with a log line when the round has no model yet or the file cannot be
    written. */
int fl_server_save_model (const fl_round_t *round, const char *hidden, const char *path);

int fl_server_metrics_failed (const fl_server_t *self);

/*  The name of where the run is now, in fault-injection terms: "stats",
    "stats-share" .. "stats-unmask", "train", "advertise" .. "unmask",
    "evaluate", "evaluate-share" .. "evaluate-unmask"; "" between phases.
    Secure round 0 statistics and evaluation run the same bucket protocol as
    training: "stats" / "evaluate" name their start (key advertisement). */
const char *fl_server_where (const fl_round_t *round);

#ifdef __cplusplus
}
#endif
#endif
