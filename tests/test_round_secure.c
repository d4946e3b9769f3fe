/*  test_round_secure.c - secure aggregation through the coordinator's round
    state machine and real client sessions, in one process (no sockets):

    - a secure run's global model equals the plaintext FedAvg run's, up to
      the fixed-point encoding's resolution;
    - test_coordinator_sending_two_models_is_detected: a coordinator that
      shows one client different global parameters makes that client's
      consistency check fail: it refuses to unmask (the state-machine test
      test_two_models_detected in test_secagg.c covers a coordinator that
      relays the mismatched signatures to everyone);
    - test_unknown_member_in_bucket_refused: a bucket list naming someone
      outside the roster is refused by the client before it trains;
    - test_secure_client_refuses_plaintext_round: a client with keys never
      sends unmasked statistics, an unmasked update or unmasked evaluation
      counts to a plaintext coordinator;
    - test_secure_stats_and_eval_equal_plaintext: round 0 statistics and
      federated evaluation through secure aggregation give the plaintext
      path's mean/std and counts/metrics, and no plaintext STATS or
      EVAL_RESULT ever leaves a client of a secure run;
    - test_dropouts_in_stats_and_eval_survived: a member that vanishes
      after sharing its keys in round 0, and one in evaluation, are
      recovered from (the same sums as plaintext without them), and the
      round 0 dropout still gets the standardisation and trains;
    - test_secure_coordinator_rejects_plaintext_stats_and_eval: a plaintext
      STATS or EVAL_RESULT sent to a secure coordinator is refused;
    - test_secure_buckets_for_stats_and_eval: with buckets, statistics
      equal the plaintext ones and every member's evaluation is counted;
    - test_secure_multiclass_eval: 3-class evaluation (no histograms)
      through secure aggregation equals plaintext. */
#include <czmq.h>
#include <sodium.h>

#include "fl_client.h"
#include "fl_metrics.h"
#include "fl_metrics_wire.h"
#include "fl_model.h"
#include "fl_secagg.h"
#include "fl_roster.h"
#include "fl_round.h"
#include "fl_shard.h"
#include "fl_test.h"
#include "round_sim.h"
#include "fl_wire.h"

#define N 8

typedef enum { TAMPER_NONE, TAMPER_PARAMS, TAMPER_MEMBERS, TAMPER_PACK } tamper_t;

typedef struct {
    fl_round_t *round;
    fl_client_t *clients[N];
    uint8_t ids[N][8];
    uint8_t *sks[N];
    fl_roster_t *roster;
    tamper_t tamper;               /* applied to TRAIN messages for client 0 */
    int64_t now;
    size_t sent[FL_WIRE_TYPE_LIMIT]; /* messages the clients sent, by wire type */
    /* dropout: client drop_client's messages in coordinator phase drop_phase
       that are SECAGG of kind >= drop_kind, or plaintext STATS / EVAL_RESULT,
       are lost */
    int drop_client;
    fl_round_phase_t drop_phase;
    int drop_kind;
    fl_round_phase_t stop_phase;   /* s_pump returns on entering it (0: never) */
    int multiclass;                /* synthetic 3-class data instead of WDBC shards */
    int lose_abort_to_0;           /* the coordinator's ERROR (run aborted) never reaches client 0 */
} sim_t;

static int s_multiclass;          /* the next s_setup_cfg uses 3-class data */

/* Synthetic 3-class rows for member i: label r % 3, features around it. */
static fl_dataset_t *
s_three_classes (size_t n, int i)
{
    float x[64 * 4];
    int32_t y[64];
    for (size_t r = 0; r < n && r < 64; r++) {
        y[r] = (int32_t) ((r + (size_t) i) % 3);
        for (size_t j = 0; j < 4; j++)
            x[r * 4 + j] = (float) y[r] * (float) (j + 1) + 0.3f * (float) ((r * 7 + j * 5 + (size_t) i) % 7) - 1.0f;
    }
    return fl_dataset_new (n, 4, x, y, 3, NULL, NULL);
}

/* Wire type of a message (and the secure-aggregation kind, 0 if none). */
static int
s_type_of (const uint8_t *data, size_t len, int *kind)
{
    char why[128];
    fl_wire_limits_t lim = fl_wire_limits_default ();
    fl_wire_msg_t *m = fl_wire_decode (data, len, &lim, why, sizeof why);
    if (!m)
        return -1;
    int t = (int) fl_wire_type (m);
    uint64_t k = 0;
    *kind = t == FL_WIRE_SECAGG && fl_wire_get_u64 (m, FL_K_KIND, &k) == 0 ? (int) k : 0;
    fl_wire_msg_destroy (&m);
    return t;
}

static int
s_dropped (const sim_t *s, int i, int type, int kind)
{
    if (s->drop_client != i || fl_round_phase (s->round) != s->drop_phase)
        return 0;
    return (type == FL_WIRE_SECAGG && kind >= s->drop_kind) || type == FL_WIRE_STATS || type == FL_WIRE_EVAL_RESULT;
}

/* Rebuilds a TRAIN message with one field changed (what a malicious
   coordinator could send to one client). */
static void
s_tamper (const sim_t *s, uint8_t **data, size_t *len)
{
    char why[128];
    fl_wire_limits_t lim = fl_wire_limits_default ();
    fl_wire_msg_t *m = fl_wire_decode (*data, *len, &lim, why, sizeof why);
    if (!m || fl_wire_type (m) != FL_WIRE_TRAIN) {
        fl_wire_msg_destroy (&m);
        return;
    }
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_TRAIN, fl_wire_run_id (m), fl_wire_round (m));
    const float *params;
    size_t np;
    fl_wire_get_f32s (m, FL_K_PARAMS, &params, &np);
    float *p2 = (float *) malloc (np * sizeof (float));
    memcpy (p2, params, np * sizeof (float));
    if (s->tamper == TAMPER_PARAMS)
        p2[0] += 0.5f;                      /* a different model for this client only */
    fl_wire_put_f32s (w, FL_K_PARAMS, p2, np);
    free (p2);
    const uint8_t *b;
    size_t bl;
    fl_wire_get_bin (m, FL_K_FP, &b, &bl);
    fl_wire_put_bin (w, FL_K_FP, b, bl);
    static const char *u64s[] = {"epochs", "batch", "seed", "cap", "sa_bucket", "sa_index", "sa_n", "sa_t",
                                 "sa_k", "sa_graph", "sa_buckets", "enc_summands"};
    for (size_t i = 0; i < sizeof u64s / sizeof u64s[0]; i++) {
        uint64_t v;
        if (fl_wire_get_u64 (m, u64s[i], &v) == 0)
            fl_wire_put_u64 (w, u64s[i], v);
    }
    static const char *f64s[] = {"lr", "clip", "enc_max_abs"};
    for (size_t i = 0; i < 3; i++) {
        double v;
        if (fl_wire_get_f64 (m, f64s[i], &v) == 0)
            fl_wire_put_f64 (w, f64s[i], v);
    }
    fl_wire_put_str (w, FL_K_OPT, fl_wire_get_cstr (m, FL_K_OPT));
    size_t nm = fl_wire_bin_list_len (m, FL_K_SA_MEMBERS);
    const uint8_t *items[N];
    size_t lens[N];
    for (size_t i = 0; i < nm && i < N; i++)
        fl_wire_get_bin_list_item (m, FL_K_SA_MEMBERS, i, &items[i], &lens[i]);
    uint64_t my_index = 0;
    fl_wire_get_u64 (m, FL_K_SA_INDEX, &my_index);
    if (s->tamper == TAMPER_PACK && nm > 3) {
        /* the coordinator arranges the bucket itself: two other members
           swap places (a stand-in for packing chosen members together) */
        size_t p = my_index == 0 ? 1 : 0, q = my_index == nm - 1 ? nm - 2 : nm - 1;
        const uint8_t *ti = items[p];
        size_t tl = lens[p];
        items[p] = items[q];
        lens[p] = lens[q];
        items[q] = ti;
        lens[q] = tl;
    }
    if (s->tamper == TAMPER_MEMBERS && nm > 1) {
        items[1] = (const uint8_t *) "sybil";
        lens[1] = 5;
    }
    fl_wire_put_bin_list (w, FL_K_SA_MEMBERS, items, lens, nm);
    const uint32_t *cohort;
    size_t cn;
    if (fl_wire_get_u32s (m, FL_K_SA_COHORT, &cohort, &cn) == 0)
        fl_wire_put_u32s (w, FL_K_SA_COHORT, cohort, cn);
    free (*data);
    FL_CHECK (fl_wire_writer_finish (&w, data, len) == 0);
    fl_wire_msg_destroy (&m);
}

/* Counts what the members send, and loses what the dropout settings say. */
static int
s_from_client (void *ctx, size_t i, const uint8_t *data, size_t len)
{
    sim_t *s = (sim_t *) ctx;
    int kind = 0, type = s_type_of (data, len, &kind);
    if (type >= 0 && type < FL_WIRE_TYPE_LIMIT)
        s->sent[type]++;
    return !s_dropped (s, (int) i, type, kind);
}

static void
s_deliver (void *ctx, size_t i, uint8_t **data, size_t *len)
{
    sim_t *s = (sim_t *) ctx;
    if (i == 0 && s->tamper != TAMPER_NONE)
        s_tamper (s, data, len);
    if (i == 0 && s->lose_abort_to_0) {
        char why[64];
        fl_wire_limits_t lim = fl_wire_limits_default ();
        fl_wire_msg_t *m = fl_wire_decode (*data, *len, &lim, why, sizeof why);
        int abort = m && fl_wire_type (m) == FL_WIRE_ERROR;
        fl_wire_msg_destroy (&m);
        if (abort)
            return;
    }
    fl_client_on_message (s->clients[i], *data, *len);
}

static int
s_stop (void *ctx)
{
    const sim_t *s = (const sim_t *) ctx;
    return s->stop_phase && fl_round_phase (s->round) == s->stop_phase;
}

static void
s_pump (sim_t *s)
{
    round_sim_t r = {.round = s->round, .clients = s->clients, .ids = s->ids, .n = N, .now = &s->now,
                     .max_passes = 100000, .advance_when_idle = 1, .ctx = s, .from_client = s_from_client,
                     .to_client = s_deliver, .stop = s_stop};
    round_sim_pump (&r);
}

static void
s_setup_cfg (sim_t *s, int secure, int clients_secure, uint64_t rounds, size_t min_updates, size_t bucket_size)
{
    memset (s, 0, sizeof *s);
    s->multiclass = s_multiclass;
    s->drop_client = -1;
    s->roster = round_sim_roster (N, s->sks);
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = N;
    cfg.rounds = rounds;
    cfg.client_lr = 0.1;
    cfg.batch_size = 16;
    cfg.secure = secure;
    cfg.roster = s->roster;
    cfg.clip_norm = 100;               /* large: no clipping, so secure == plaintext FedAvg */
    cfg.min_updates = min_updates;
    cfg.bucket_size = bucket_size;
    cfg.liveness_ms = 1000000000;      /* s_pump jumps the clock past deadlines: keep everyone sampled */
    memcpy (cfg.run_id, "secure-test-run1", 16);
    s->round = fl_round_new (&cfg);
    FL_CHECK (s->round != NULL);
    fl_round_start (s->round, 0);
    for (int i = 0; i < N; i++) {
        fl_dataset_t *tr = NULL, *te = NULL;
        if (s->multiclass) {
            tr = s_three_classes (40, i);
            te = s_three_classes (12, i + 1);
        }
        else
            FL_CHECK (round_sim_shard (N, (size_t) i, &tr, &te) == 0);
        char name[32];
        snprintf (name, sizeof name, "hospital-%d", i);
        fl_client_config_t cc = {.member = name, .seed = (uint64_t) i,
                                 .roster = clients_secure ? s->roster : NULL,
                                 .identity_secret = clients_secure ? s->sks[i] : NULL,
                                 .allow_plaintext = !clients_secure};
        s->clients[i] = fl_client_new (&cc, &tr, &te);
        round_sim_id (s->ids[i], (size_t) i);
        fl_client_hello (s->clients[i]);
    }
}

static void
s_setup (sim_t *s, int secure, int clients_secure, uint64_t rounds)
{
    s_setup_cfg (s, secure, clients_secure, rounds, 1, 0);
}

static void
s_teardown (sim_t *s)
{
    for (int i = 0; i < N; i++) {
        fl_client_destroy (&s->clients[i]);
        sodium_free (s->sks[i]);
    }
    fl_round_destroy (&s->round);
    fl_roster_destroy (&s->roster);
}

static void
test_secure_equals_plaintext_fedavg (void)
{
    sim_t a, b;
    s_setup (&a, 1, 1, 3);
    s_pump (&a);
    s_setup (&b, 0, 0, 3);
    s_pump (&b);
    FL_CHECK (fl_round_phase (a.round) == FL_ROUND_DONE);
    FL_CHECK (fl_round_phase (b.round) == FL_ROUND_DONE);
    fl_round_summary_t sa, sb;
    int n = 0;
    while (fl_round_next_summary (a.round, &sa) && fl_round_next_summary (b.round, &sb)) {
        FL_CHECK (sa.updates == N && sa.buckets == 1 && sa.buckets_aborted == 0 && !sa.skipped);
        /* the loss travels as w*loss in fixed point: resolution ~1e-4 relative here */
        FL_CHECK_CLOSE (sa.train_loss, sb.train_loss, 1e-4, 1e-3);
        n++;
    }
    FL_CHECK (n == 3);
    double maxdiff = 0;
    for (size_t i = 0; i < fl_round_num_params (a.round); i++) {
        double d = fabs (fl_round_params (a.round)[i] - fl_round_params (b.round)[i]);
        maxdiff = d > maxdiff ? d : maxdiff;
    }
    if (fl_test_verbose_)
        printf ("max |secure - plaintext| parameter difference after 3 rounds: %.3g\n", maxdiff);
    FL_CHECK (maxdiff < 1e-4);
    s_teardown (&a);
    s_teardown (&b);
}

static void
test_coordinator_sending_two_models_is_detected (void)
{
    sim_t s;
    s_setup (&s, 1, 1, 1);
    s.tamper = TAMPER_PARAMS;
    s_pump (&s);
    /* Client 0 was shown different parameters, so its round binding, and
       with it its session context, differs from the first message on: the
       coordinator cannot verify its key advertisement and client 0 cannot
       verify anyone else's, so it never sends a masked input and the round
       the others complete does not contain its update: 7 updates, not 8
       (before the binding entered the context, client 0 was only caught at
       the consistency check, after its masked input was in the sum). */
    fl_round_summary_t sum;
    FL_CHECK (fl_round_next_summary (s.round, &sum) == 1);
    FL_CHECK (sum.updates == N - 1);
    FL_CHECK (fl_client_rounds_trained (s.clients[0]) == 1);
    FL_CHECK (fl_client_secure_rounds (s.clients[0]) == 0);
    for (int i = 1; i < N; i++)
        FL_CHECK (fl_client_secure_rounds (s.clients[i]) == 1);
    s_teardown (&s);
}

static void
test_unknown_member_in_bucket_refused (void)
{
    sim_t s;
    s_setup (&s, 1, 1, 1);
    s.tamper = TAMPER_MEMBERS;     /* client 0 is told its bucket holds "sybil" */
    s_pump (&s);
    fl_round_summary_t sum;
    FL_CHECK (fl_round_next_summary (s.round, &sum) == 1);
    /* client 0 refused to take part; the others finished without it */
    FL_CHECK (sum.updates == N - 1);
    FL_CHECK (fl_client_rounds_trained (s.clients[0]) == 0);
    s_teardown (&s);
}

/* A bucket the coordinator arranged itself, not the one the public rule
   gives over the announced cohort: the client refuses before training, so
   its update is never in any bucket sum; the others finish without it. */
static void
test_packed_bucket_refused (void)
{
    sim_t s;
    s_setup (&s, 1, 1, 1);
    s.tamper = TAMPER_PACK;
    s_pump (&s);
    fl_round_summary_t sum;
    FL_CHECK (fl_round_next_summary (s.round, &sum) == 1);
    FL_CHECK (sum.updates == N - 1);
    FL_CHECK (fl_client_rounds_trained (s.clients[0]) == 0);
    FL_CHECK (fl_client_secure_rounds (s.clients[0]) == 0);
    s_teardown (&s);
}

/* Hands client i a message the coordinator of s's run could send. */
static int
s_to_client (sim_t *s, int i, fl_wire_writer_t *w)
{
    uint8_t *data = NULL;
    size_t len = 0;
    FL_CHECK (fl_wire_writer_finish (&w, &data, &len) == 0);
    int rc = fl_client_on_message (s->clients[i], data, len);
    free (data);
    return rc;
}

static void
test_secure_client_refuses_plaintext_round (void)
{
    sim_t s;
    s_setup (&s, 0, 1, 1);         /* plaintext coordinator, clients with keys and no --plaintext */
    s.lose_abort_to_0 = 1;         /* client 0 stays joined for the checks below */
    s_pump (&s);
    /* round 0: no client sends its statistics in the clear, so the run fails there */
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_FAILED);
    FL_CHECK (strstr (fl_round_failure (s.round), "statistics") != NULL);
    FL_CHECK (s.sent[FL_WIRE_STATS] == 0);
    /* the others were told (ERROR "run aborted: ...") and stopped */
    FL_CHECK (fl_client_state (s.clients[1]) == FL_CLIENT_REFUSED
              && strstr (fl_client_reason (s.clients[1]), "aborted") != NULL);
    /* Given a standardisation, a plaintext TRAIN or EVALUATE is refused too:
       nothing is sent back. */
    const uint8_t *run = (const uint8_t *) "secure-test-run1";
    size_t d = fl_round_features (s.round), np = fl_round_num_params (s.round);
    float *mean = calloc (d, sizeof (float)), *sd = calloc (d, sizeof (float));
    for (size_t j = 0; j < d; j++)
        sd[j] = 1;
    uint8_t fp[32];
    fl_model_t *mdl = NULL;
    {
        fl_model_config_t mc;
        memset (&mc, 0, sizeof mc);
        mc.n_inputs = d;
        mc.n_classes = fl_round_classes (s.round);
        mc.seed = 1;
        mdl = fl_model_new ("logreg", &mc);
        FL_CHECK (mdl != NULL);
        fl_model_fingerprint (mdl, fp);
        fl_model_destroy (&mdl);
    }
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_STANDARDISE, run, 0);
    fl_wire_put_f32s (w, FL_K_MEAN, mean, d);
    fl_wire_put_f32s (w, FL_K_STD, sd, d);
    FL_CHECK (s_to_client (&s, 0, w) == 1);
    w = fl_wire_writer_new (FL_WIRE_EVALUATE, run, 1);
    fl_wire_put_f32s (w, FL_K_PARAMS, fl_round_params (s.round), np);
    fl_wire_put_bin (w, FL_K_FP, fp, 32);
    FL_CHECK (s_to_client (&s, 0, w) == 0);
    w = fl_wire_writer_new (FL_WIRE_TRAIN, run, 1);
    fl_wire_put_f32s (w, FL_K_PARAMS, fl_round_params (s.round), np);
    fl_wire_put_bin (w, FL_K_FP, fp, 32);
    fl_wire_put_u64 (w, FL_K_EPOCHS, 1);
    fl_wire_put_u64 (w, FL_K_BATCH, 16);
    fl_wire_put_f64 (w, FL_K_LR, 0.1);
    fl_wire_put_str (w, FL_K_OPT, "sgd");
    fl_wire_put_u64 (w, FL_K_SEED, 1);
    fl_wire_put_u64 (w, FL_K_CAP, 0);
    FL_CHECK (s_to_client (&s, 0, w) == 0);
    uint8_t *data;
    size_t len;
    while (fl_client_next_out (s.clients[0], &data, &len)) {
        int kind, t = s_type_of (data, len, &kind);
        FL_CHECK (t != FL_WIRE_UPDATE && t != FL_WIRE_EVAL_RESULT && t != FL_WIRE_STATS);
        free (data);
    }
    FL_CHECK (fl_client_rounds_trained (s.clients[0]) == 0);
    free (mean);
    free (sd);
    s_teardown (&s);
}

/* Equal, or both NAN (multi-class has no AUROC). */
static int
s_same (double a, double b)
{
    return (isnan (a) && isnan (b)) || a == b;
}

/* Round 0 statistics and evaluation: secure equals plaintext.  The
   training rounds are skipped (min_updates above the cohort) so both runs
   evaluate the same model and the counts must agree exactly. */
static void
s_compare_runs (sim_t *a, sim_t *b, size_t eval_clients)
{
    FL_CHECK (fl_round_phase (a->round) == FL_ROUND_DONE);
    FL_CHECK (fl_round_phase (b->round) == FL_ROUND_DONE);
    size_t d = fl_round_features (a->round);
    double worst = 0;
    for (size_t j = 0; j < d; j++) {
        FL_CHECK_CLOSE (fl_round_mean (a->round)[j], fl_round_mean (b->round)[j], 1e-6, 1e-6);
        FL_CHECK_CLOSE (fl_round_std (a->round)[j], fl_round_std (b->round)[j], 1e-6, 1e-6);
        double r = fabs (fl_round_mean (a->round)[j] - fl_round_mean (b->round)[j])
                   / fmax (1e-30, fabs (fl_round_mean (b->round)[j]));
        worst = fmax (worst, r);
    }
    if (fl_test_verbose_)
        printf ("largest relative mean difference secure vs plaintext: %.3g\n", worst);
    fl_round_summary_t sa, sb;
    int n = 0;
    while (fl_round_next_summary (a->round, &sa) && fl_round_next_summary (b->round, &sb)) {
        FL_CHECK (sa.eval_clients == eval_clients && sb.eval_clients == eval_clients);
        FL_CHECK (sa.eval.n == sb.eval.n && sa.eval.n > 0);
        FL_CHECK (sa.eval.accuracy == sb.eval.accuracy);
        FL_CHECK (s_same (sa.eval.auroc, sb.eval.auroc) && s_same (sa.eval.auprc, sb.eval.auprc));
        FL_CHECK (s_same (sa.eval.precision, sb.eval.precision) && s_same (sa.eval.recall, sb.eval.recall));
        FL_CHECK_CLOSE (sa.eval.log_loss, sb.eval.log_loss, 1e-9, 1e-9);
        n++;
    }
    FL_CHECK (n == 2);
}

static void
test_secure_stats_and_eval_equal_plaintext (void)
{
    sim_t a, b;
    s_setup_cfg (&a, 1, 1, 2, N + 1, 0);
    s_pump (&a);
    s_setup_cfg (&b, 0, 0, 2, N + 1, 0);
    s_pump (&b);
    s_compare_runs (&a, &b, N);
    /* nothing in the clear left the secure run's clients */
    FL_CHECK (a.sent[FL_WIRE_STATS] == 0 && a.sent[FL_WIRE_EVAL_RESULT] == 0 && a.sent[FL_WIRE_UPDATE] == 0);
    FL_CHECK (b.sent[FL_WIRE_STATS] == N && b.sent[FL_WIRE_EVAL_RESULT] == 2 * N);
    for (int i = 0; i < N; i++) {
        FL_CHECK (fl_client_secure_count (a.clients[i], FL_SECAGG_PURPOSE_STATS) == 1);
        FL_CHECK (fl_client_secure_count (a.clients[i], FL_SECAGG_PURPOSE_EVAL) == 2);
        FL_CHECK (fl_client_secure_count (a.clients[i], FL_SECAGG_PURPOSE_TRAIN) == 2);
    }
    s_teardown (&a);
    s_teardown (&b);
}

static void
test_dropouts_in_stats_and_eval_survived (void)
{
    /* client 7 vanishes in round 0 after sharing its keys (its masked
       input never arrives: its pairwise masks are removed with the mask
       key shares), client 7 also in evaluation */
    for (int phase = 0; phase < 2; phase++) {
        sim_t a, b;
        s_setup_cfg (&a, 1, 1, 2, N + 1, 0);
        s_setup_cfg (&b, 0, 0, 2, N + 1, 0);
        a.drop_client = b.drop_client = 7;
        a.drop_phase = b.drop_phase = phase == 0 ? FL_ROUND_STATS : FL_ROUND_EVAL;
        a.drop_kind = b.drop_kind = FL_SECAGG_MSG_MASKED_INPUT;
        s_pump (&a);
        s_pump (&b);
        s_compare_runs (&a, &b, phase == 0 ? N : N - 1);
        /* the round 0 dropout got the standardisation and trained */
        FL_CHECK (fl_client_rounds_trained (a.clients[7]) == 2);
        FL_CHECK (fl_client_secure_count (a.clients[7], FL_SECAGG_PURPOSE_STATS) == (phase == 0 ? 0u : 1u));
        FL_CHECK (a.sent[FL_WIRE_STATS] == 0 && a.sent[FL_WIRE_EVAL_RESULT] == 0);
        s_teardown (&a);
        s_teardown (&b);
    }
}

static void
test_secure_coordinator_rejects_plaintext_stats_and_eval (void)
{
    sim_t s;
    s_setup (&s, 1, 1, 1);
    const uint8_t *run = (const uint8_t *) "secure-test-run1";
    s.stop_phase = FL_ROUND_STATS;
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_STATS);
    size_t d = fl_round_features (s.round);
    double *z = calloc (d, sizeof (double));
    for (size_t j = 0; j < d; j++)
        z[j] = 1;
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_STATS, run, 0);
    fl_wire_put_u64 (w, FL_K_COUNT, 10);
    fl_wire_put_f64s (w, FL_K_SUM, z, d);
    fl_wire_put_f64s (w, FL_K_SUMSQ, z, d);
    uint8_t *data;
    size_t len;
    FL_CHECK (fl_wire_writer_finish (&w, &data, &len) == 0);
    FL_CHECK (fl_round_on_message (s.round, s.now, s.ids[3], 8, "", data, len) == 0);
    free (data);
    free (z);
    s.stop_phase = FL_ROUND_EVAL;
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_EVAL);
    fl_metrics_counts_t c;
    fl_metrics_counts_init (&c);
    float p = 0.9f;
    int32_t y = 1;
    FL_CHECK (fl_metrics_counts_add (&c, &p, &y, 1, 1) == 0);
    w = fl_wire_writer_new (FL_WIRE_EVAL_RESULT, run, 1);
    FL_CHECK (fl_metrics_counts_to_wire (&c, w) == 0);
    FL_CHECK (fl_wire_writer_finish (&w, &data, &len) == 0);
    FL_CHECK (fl_round_on_message (s.round, s.now, s.ids[3], 8, "", data, len) == 0);
    free (data);
    s.stop_phase = 0;
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    fl_round_summary_t sum;
    FL_CHECK (fl_round_next_summary (s.round, &sum) == 1);
    FL_CHECK (sum.eval_clients == N && sum.updates == N);
    s_teardown (&s);
}

/* Multi-class evaluation (no histograms: accuracy and log loss) through
   secure aggregation equals the plaintext one. */
static void
test_secure_multiclass_eval (void)
{
    sim_t a, b;
    s_multiclass = 1;
    s_setup_cfg (&a, 1, 1, 2, N + 1, 0);
    s_setup_cfg (&b, 0, 0, 2, N + 1, 0);
    s_multiclass = 0;
    s_pump (&a);
    s_pump (&b);
    FL_CHECK (fl_round_classes (a.round) == 3);
    s_compare_runs (&a, &b, N);
    s_teardown (&a);
    s_teardown (&b);
}

static void
test_secure_buckets_for_stats_and_eval (void)
{
    sim_t a, b;
    s_setup_cfg (&a, 1, 1, 2, N + 1, 4);       /* two buckets of 4 */
    s_setup_cfg (&b, 0, 0, 2, N + 1, 0);
    s_pump (&a);
    s_pump (&b);
    s_compare_runs (&a, &b, N);
    s_teardown (&a);
    s_teardown (&b);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    zsys_init ();
    zsys_set_logstream (stderr);
    FL_RUN (test_secure_equals_plaintext_fedavg);
    FL_RUN (test_coordinator_sending_two_models_is_detected);
    FL_RUN (test_unknown_member_in_bucket_refused);
    FL_RUN (test_packed_bucket_refused);
    FL_RUN (test_secure_client_refuses_plaintext_round);
    FL_RUN (test_secure_stats_and_eval_equal_plaintext);
    FL_RUN (test_dropouts_in_stats_and_eval_survived);
    FL_RUN (test_secure_coordinator_rejects_plaintext_stats_and_eval);
    FL_RUN (test_secure_buckets_for_stats_and_eval);
    FL_RUN (test_secure_multiclass_eval);
    FL_TEST_DONE ();
}
