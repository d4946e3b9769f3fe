/*  test_server.c - the coordinator's driver loop (fl_server) driven with
    in-process clients over TCP loopback: a plaintext run completes with one
    progress line, metrics row and report row per round and a checkpoint
    carrying the run's configuration and restarts; a resumed run's history
    rows come first; outputs that cannot be written (a full metrics device,
    a missing checkpoint directory) are counted while the run goes on; the
    fault-injection phase names. */
#include "fl_client.h"
#include "fl_checkpoint.h"
#include "fl_report.h"
#include "fl_round.h"
#include "fl_server.h"
#include "fl_shard.h"
#include "fl_test.h"
#include "fl_transport.h"
#include "round_sim.h"

#include <sys/stat.h>
#include <unistd.h>

#define N_CLIENTS 3
#define N_ROUNDS 3

typedef struct {
    fl_round_t *round;
    fl_transport_t *srv;
    fl_transport_t *tr[N_CLIENTS];
    fl_client_t *cl[N_CLIENTS];
} run_t;

static void
s_setup (run_t *r)
{
    memset (r, 0, sizeof *r);
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = N_CLIENTS;
    cfg.rounds = N_ROUNDS;
    cfg.client_lr = 0.1;
    cfg.batch_size = 16;
    cfg.secure = 0;
    memcpy (cfg.run_id, "test-server-0001", 16);
    r->round = fl_round_new (&cfg);
    FL_CHECK (r->round != NULL);
    fl_transport_config_t sc = {0};
    sc.endpoint = "tcp://127.0.0.1:*";
    r->srv = fl_transport_server_new (&sc);
    FL_CHECK (r->srv != NULL && fl_transport_port (r->srv) > 0);
    char ep[64];
    snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", fl_transport_port (r->srv));
    for (int i = 0; i < N_CLIENTS; i++) {
        char name[32];
        snprintf (name, sizeof name, "hospital-%d", i);
        fl_transport_config_t cc = {0};
        cc.endpoint = ep;
        cc.routing_id = name;
        r->tr[i] = fl_transport_client_new (&cc);
        FL_CHECK (r->tr[i] != NULL);
        fl_dataset_t *train = NULL, *test = NULL;
        FL_CHECK (round_sim_shard (N_CLIENTS, (size_t) i, &train, &test) == 0);
        fl_client_config_t ccfg = {.member = name, .seed = (uint64_t) i + 1, .allow_plaintext = 1};
        r->cl[i] = fl_client_new (&ccfg, &train, &test);
        FL_CHECK (r->cl[i] != NULL);
        if (r->cl[i])
            fl_client_hello (r->cl[i]);
    }
}

static void
s_teardown (run_t *r)
{
    for (int i = 0; i < N_CLIENTS; i++) {
        fl_client_destroy (&r->cl[i]);
        fl_transport_destroy (&r->tr[i]);
    }
    fl_transport_destroy (&r->srv);
    fl_round_destroy (&r->round);
}

/* Each client: every message waiting for it in, its outbox out. */
static void
s_pump_clients (run_t *r)
{
    for (int i = 0; i < N_CLIENTS; i++) {
        if (!r->cl[i])
            continue;
        fl_transport_msg_t m;
        while (fl_transport_recv (r->tr[i], 1, &m) == 0) {    /* 0 would not poll */
            fl_client_on_message (r->cl[i], m.data, m.len);
            fl_transport_msg_free (&m);
        }
        uint8_t *data;
        size_t len;
        while (fl_client_next_out (r->cl[i], &data, &len)) {
            fl_transport_send (r->tr[i], NULL, 0, data, len);
            free (data);
        }
    }
}

/* Drives server and clients in turn until the run ends (or a pass limit:
   no wall-clock assertion).  Returns fl_server_step's last result. */
static int
s_drive (run_t *r, fl_server_t *server)
{
    int rc = 0;
    for (int pass = 0; pass < 200000 && rc == 0; pass++) {
        s_pump_clients (r);
        rc = fl_server_step (server, 5);
    }
    /* the BYEs reach the clients */
    for (int pass = 0; pass < 400; pass++) {
        s_pump_clients (r);
        int finished = 0;
        for (int i = 0; i < N_CLIENTS; i++)
            finished += r->cl[i] && fl_client_state (r->cl[i]) == FL_CLIENT_FINISHED;
        if (finished == N_CLIENTS)
            break;
        zclock_sleep (5);
    }
    return rc;
}

static size_t
s_lines (FILE *f)
{
    rewind (f);
    size_t n = 0;
    int c;
    while ((c = fgetc (f)) != EOF)
        n += c == '\n';
    return n;
}

static void
s_rm_checkpoints (const char *dir)
{
    const char *files[] = {FL_CHECKPOINT_FILE, FL_CHECKPOINT_PREV_FILE, FL_CHECKPOINT_TMP_FILE,
                           FL_CHECKPOINT_PREV_TMP_FILE};
    char p[512];
    for (int i = 0; i < 4; i++) {
        snprintf (p, sizeof p, "%s/%s", dir, files[i]);
        unlink (p);
    }
    rmdir (dir);
}

static void
test_run_over_loopback (void)
{
    run_t r;
    s_setup (&r);
    char dir[200];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-server") != NULL);
    FILE *metrics = tmpfile (), *progress = tmpfile ();
    FL_CHECK (metrics && progress);
    fl_report_csv_header (metrics);
    fl_report_t *report = fl_report_new ("test_server", "plaintext FedAvg");
    const uint64_t restarts[2] = {7, 1700000000};
    fl_server_config_t cfg = {.round = r.round, .transport = r.srv, .report = report, .progress = progress,
                              .mode_tag = "plaintext", .rounds = N_ROUNDS, .metrics = metrics,
                              .metrics_name = "metrics.csv", .checkpoint_dir = dir,
                              .config_text = "rounds=3\nmodel=logreg\n", .restarts = restarts, .n_restarts = 1};
    fl_server_t *server = fl_server_new (&cfg);
    FL_CHECK (server != NULL);
    FL_CHECK (fl_server_start (server) == 0);
    FL_CHECK (s_drive (&r, server) == 1);
    FL_CHECK (fl_round_phase (r.round) == FL_ROUND_DONE);
    FL_CHECK (fl_server_output_failed (server) == 0 && !fl_server_metrics_failed (server));
    for (int i = 0; i < N_CLIENTS; i++)
        FL_CHECK (r.cl[i] && fl_client_state (r.cl[i]) == FL_CLIENT_FINISHED
                  && fl_client_rounds_trained (r.cl[i]) == N_ROUNDS);
    /* one progress line and one metrics row per round (plus the header) */
    FL_CHECK (s_lines (progress) == N_ROUNDS);
    FL_CHECK (s_lines (metrics) == 1 + N_ROUNDS);
    char line[512];
    rewind (progress);
    FL_CHECK (fgets (line, sizeof line, progress) && strstr (line, "round   1/3") && strstr (line, "[plaintext]"));
    /* the report holds the rounds' rows */
    char rp[600];
    snprintf (rp, sizeof rp, "%s/report.md", dir);
    FL_CHECK (fl_report_write (report, rp) == 0);
    FILE *rf = fopen (rp, "r");
    size_t rows = 0;
    while (rf && fgets (line, sizeof line, rf))
        rows += strncmp (line, "| ", 2) == 0 && line[2] >= '1' && line[2] <= '9';
    FL_CHECK (rows == N_ROUNDS);
    if (rf)
        fclose (rf);
    unlink (rp);
    /* the last checkpoint: the last round, the run's configuration and restarts */
    fl_checkpoint_t *ck = NULL;
    FL_CHECK (fl_checkpoint_load_dir (dir, &ck, NULL) == 0 && ck);
    FL_CHECK (ck && fl_checkpoint_round (ck) == N_ROUNDS);
    const uint8_t *text = NULL;
    size_t len = 0;
    FL_CHECK (ck && fl_checkpoint_get_bytes (ck, FL_SERVER_CONFIG_KEY, &text, &len) == 0
              && len == strlen (cfg.config_text) && memcmp (text, cfg.config_text, len) == 0);
    const uint64_t *rs = NULL;
    size_t nrs = 0;
    FL_CHECK (ck && fl_checkpoint_get_u64s (ck, FL_SERVER_RESTARTS_KEY, &rs, &nrs) == 0 && nrs == 2
              && rs[0] == 7 && rs[1] == 1700000000);

    /* a resumed round: its completed rounds come first in metrics and report */
    fl_round_config_t rc;
    fl_round_config_default (&rc);
    rc.min_clients = N_CLIENTS;
    rc.rounds = N_ROUNDS + 1;
    rc.client_lr = 0.1;
    rc.batch_size = 16;
    memcpy (rc.run_id, "test-server-0001", 16);
    fl_round_t *resumed = fl_round_new (&rc);
    FL_CHECK (resumed && ck && fl_round_restore (resumed, ck) == 0);
    FILE *m2 = tmpfile ();
    fl_report_t *rep2 = fl_report_new ("resumed", "plaintext FedAvg");
    fl_server_config_t c2 = {.round = resumed, .transport = r.srv, .report = rep2, .metrics = m2};
    fl_server_t *s2 = resumed ? fl_server_new (&c2) : NULL;
    FL_CHECK (s2 != NULL);
    if (s2) {
        FL_CHECK (fl_server_start (s2) == 0);
        FL_CHECK (s_lines (m2) == N_ROUNDS);      /* the history rows, no header: the program wrote none */
        FL_CHECK (fl_report_write (rep2, rp) == 0);
        rf = fopen (rp, "r");
        int note = 0;
        while (rf && fgets (line, sizeof line, rf))
            note |= strstr (line, "Resumed from a checkpoint after round 3") != NULL;
        FL_CHECK (note);
        if (rf)
            fclose (rf);
        unlink (rp);
    }
    fl_server_destroy (&s2);
    FL_CHECK (s2 == NULL);
    fl_report_destroy (&rep2);
    fclose (m2);
    fl_round_destroy (&resumed);
    fl_checkpoint_destroy (&ck);

    fl_server_destroy (&server);
    FL_CHECK (server == NULL);
    fl_server_destroy (&server);                 /* safe on NULL */
    fl_report_destroy (&report);
    fclose (metrics);
    fclose (progress);
    s_rm_checkpoints (dir);
    s_teardown (&r);
}

static void
test_outputs_fail_run_goes_on (void)
{
    run_t r;
    s_setup (&r);
    FILE *full = fopen ("/dev/full", "w");
    FL_CHECK (full != NULL);
    fl_server_config_t cfg = {.round = r.round, .transport = r.srv, .metrics = full, .metrics_name = "/dev/full",
                              .checkpoint_dir = "/nonexistent/fl-server-test", .rounds = N_ROUNDS};
    fl_server_t *server = fl_server_new (&cfg);
    FL_CHECK (server != NULL);
    fl_server_start (server);
    FL_CHECK (s_drive (&r, server) == 1);
    /* every round completed although no metrics row and no checkpoint was written */
    FL_CHECK (fl_round_phase (r.round) == FL_ROUND_DONE);
    FL_CHECK (fl_server_metrics_failed (server));
    /* one metrics failure (then no more rows) + one per checkpoint the round took */
    FL_CHECK (fl_server_output_failed (server) >= 1 + N_ROUNDS);
    fl_server_destroy (&server);
    if (full)
        fclose (full);
    s_teardown (&r);
}

static void
test_refusals_and_where (void)
{
    fl_server_config_t cfg = {0};
    FL_CHECK (fl_server_new (&cfg) == NULL);      /* no round, no transport */
    fl_round_config_t rc;
    fl_round_config_default (&rc);
    fl_round_t *round = fl_round_new (&rc);
    FL_CHECK (round != NULL);
    cfg.round = round;
    FL_CHECK (fl_server_new (&cfg) == NULL);      /* no transport */
    /* before training: no fault-injection phase; waiting for members */
    FL_CHECK (strcmp (fl_server_where (round), "") == 0);
    fl_round_start (round, 0);
    FL_CHECK (strcmp (fl_server_where (round), "") == 0);
    fl_round_destroy (&round);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    zsys_init ();
    zsys_set_logstream (fl_test_verbose_ ? stderr : NULL);
    FL_RUN (test_refusals_and_where);
    FL_RUN (test_run_over_loopback);
    FL_RUN (test_outputs_fail_run_goes_on);
    FL_TEST_DONE ();
}
