/*  test_round.c - the coordinator's round state machine driven directly by
    in-process fl_client sessions (no sockets, simulated clock): FedAvg over
    WDBC shards improves the model; deadlines drop silent clients; malformed,
    out-of-round, foreign-run and duplicate messages are rejected without
    touching the global model; unknown and late messages are no strike,
    protocol violations quarantine a member until its next valid HELLO, and
    a routing id stays pinned to the member that authenticated on it. */
#include "fl_client.h"
#include "fl_round.h"
#include "fl_shard.h"
#include "fl_test.h"
#include "round_sim.h"
#include "fl_wire.h"

#define N_CLIENTS 5

typedef struct {
    fl_round_t *round;
    fl_client_t *clients[N_CLIENTS];
    uint8_t ids[N_CLIENTS][8];
    int silent[N_CLIENTS];       /* drops everything addressed to it */
    int64_t now;
} sim_t;

/* A silent member stops hearing the coordinator from round 1 on. */
static void
s_to_client (void *ctx, size_t i, uint8_t **data, size_t *len)
{
    sim_t *s = (sim_t *) ctx;
    if (s->clients[i] && !(s->silent[i] && fl_round_current (s->round) >= 1))
        fl_client_on_message (s->clients[i], *data, *len);
}

static void
s_pump (sim_t *s)
{
    round_sim_t r = {.round = s->round, .clients = s->clients, .ids = s->ids, .n = N_CLIENTS, .now = &s->now,
                     .max_passes = 10000, .tick_every_pass = 1, .advance_when_idle = 0, .ctx = s,
                     .to_client = s_to_client};
    round_sim_pump (&r);
}

static void
s_setup (sim_t *s, uint64_t rounds)
{
    memset (s, 0, sizeof *s);
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = N_CLIENTS;
    cfg.rounds = rounds;
    cfg.client_lr = 0.1;
    cfg.batch_size = 16;
    memcpy (cfg.run_id, "test-run-0000001", 16);
    s->round = fl_round_new (&cfg);
    FL_CHECK (s->round != NULL);
    fl_round_start (s->round, 0);
    for (int i = 0; i < N_CLIENTS; i++) {
        fl_dataset_t *tr = NULL, *te = NULL;
        FL_CHECK (round_sim_shard (N_CLIENTS, (size_t) i, &tr, &te) == 0);
        char name[32];
        snprintf (name, sizeof name, "hospital-%d", i);
        fl_client_config_t cc = {.member = name, .seed = (uint64_t) i, .allow_plaintext = 1};
        s->clients[i] = fl_client_new (&cc, &tr, &te);
        FL_CHECK (s->clients[i] != NULL);
        round_sim_id (s->ids[i], (size_t) i);
        fl_client_hello (s->clients[i]);
    }
}

static void
s_teardown (sim_t *s)
{
    for (int i = 0; i < N_CLIENTS; i++)
        fl_client_destroy (&s->clients[i]);
    fl_round_destroy (&s->round);
}

static void
test_fedavg_improves_model (void)
{
    sim_t s;
    s_setup (&s, 5);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    fl_round_summary_t sum, first = {0};
    int n = 0;
    while (fl_round_next_summary (s.round, &sum)) {
        if (n++ == 0)
            first = sum;
        FL_CHECK (sum.updates == N_CLIENTS);
        FL_CHECK (sum.eval_clients == N_CLIENTS);
    }
    FL_CHECK (n == 5);
    if (fl_test_verbose_)
        printf ("round 1 acc %.4f loss %.4f; round 5 acc %.4f loss %.4f auroc %.4f\n", first.eval.accuracy,
                first.eval.log_loss, sum.eval.accuracy, sum.eval.log_loss, sum.eval.auroc);
    FL_CHECK (sum.eval.log_loss < first.eval.log_loss);
    FL_CHECK (sum.eval.accuracy >= 0.93);
    FL_CHECK (sum.eval.auroc >= 0.97);
    for (int i = 0; i < N_CLIENTS; i++)
        FL_CHECK (fl_client_state (s.clients[i]) == FL_CLIENT_FINISHED);
    s_teardown (&s);
}

static void
test_deadline_drops_silent_client (void)
{
    sim_t s;
    s_setup (&s, 2);
    s.silent[4] = 1;                     /* member 4 goes silent once round 1 starts */
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_TRAIN);
    for (int k = 0; k < 4 && fl_round_phase (s.round) != FL_ROUND_DONE; k++) {
        s_pump (&s);
        s.now += 61000;                  /* past every phase deadline */
        fl_round_on_tick (s.round, s.now);
        s_pump (&s);
    }
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    fl_round_summary_t sum;
    int saw_drop = 0;
    while (fl_round_next_summary (s.round, &sum))
        saw_drop |= sum.dropped >= 1 && sum.updates == N_CLIENTS - 1 && !sum.skipped;
    FL_CHECK (saw_drop);
    s_teardown (&s);
}

/* Encodes a message from a hand-driven peer. */
static int
s_send (fl_round_t *r, int64_t now, const uint8_t *id, fl_wire_writer_t *w)
{
    uint8_t *buf;
    size_t len;
    FL_CHECK (fl_wire_writer_finish (&w, &buf, &len) == 0);
    int rc = fl_round_on_message (r, now, id, 4, "", buf, len);
    free (buf);
    return rc;
}

static void
s_drain (fl_round_t *r, uint8_t run_out[16])
{
    const uint8_t *oid;
    size_t oid_len, len;
    uint8_t *buf;
    while (fl_round_next_out (r, &oid, &oid_len, &buf, &len)) {
        char why[128];
        fl_wire_limits_t lim = fl_wire_limits_default ();
        fl_wire_msg_t *m = fl_wire_decode (buf, len, &lim, why, sizeof why);
        if (m && run_out)
            memcpy (run_out, fl_wire_run_id (m), 16);
        fl_wire_msg_destroy (&m);
        free (buf);
    }
}

static fl_wire_writer_t *
s_hello (const uint8_t run[16], const char *member)
{
    uint8_t fp[32] = {0};
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_HELLO, run, 0);
    fl_wire_put_str (w, FL_K_MEMBER, member);
    fl_wire_put_bin (w, FL_K_FP, fp, 32);
    fl_wire_put_u64 (w, FL_K_N_TRAIN, 10);
    fl_wire_put_u64 (w, FL_K_N_TEST, 5);
    fl_wire_put_u64 (w, FL_K_FEATURES, 3);
    fl_wire_put_u64 (w, FL_K_CLASSES, 2);
    fl_wire_put_str (w, FL_K_MODEL, "");
    return w;
}

static fl_wire_writer_t *
s_stats (const uint8_t run[16], uint64_t round, size_t d)
{
    double sum[3] = {1, 2, 3}, sumsq[3] = {1, 4, 9};
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_STATS, run, round);
    fl_wire_put_u64 (w, FL_K_COUNT, 10);
    fl_wire_put_f64s (w, FL_K_SUM, sum, d);
    fl_wire_put_f64s (w, FL_K_SUMSQ, sumsq, 3);
    return w;
}

static void
test_hostile_messages_rejected (void)
{
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = 2;
    cfg.rounds = 1;
    memcpy (cfg.run_id, "run-under-attack", 16);
    fl_round_t *r = fl_round_new (&cfg);
    fl_round_start (r, 0);
    const uint8_t stranger[4] = {1, 2, 3, 4}, mallory[4] = {5, 6, 7, 8}, honest[4] = {9, 9, 9, 9};
    uint8_t run[16] = {0}, other_run[16] = {9};

    /* Garbage, an empty message, and every truncation of a valid UPDATE
       from a peer that never said HELLO. */
    const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef};
    FL_CHECK (fl_round_on_message (r, 0, stranger, 4, "", junk, sizeof junk) == 0);
    FL_CHECK (fl_round_on_message (r, 0, stranger, 4, "", junk, 0) == 0);
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_UPDATE, run, 1);
    float delta[3] = {1, 2, 3};
    fl_wire_put_f32s (w, FL_K_DELTA, delta, 3);
    fl_wire_put_u64 (w, FL_K_N, 10);
    fl_wire_put_f64 (w, FL_K_LOSS, 0.5);
    uint8_t *buf;
    size_t len;
    FL_CHECK (fl_wire_writer_finish (&w, &buf, &len) == 0);
    int all_rejected = fl_round_on_message (r, 0, stranger, 4, "", buf, len) == 0;
    for (size_t k = 0; k < len; k++)
        all_rejected &= fl_round_on_message (r, 0, stranger, 4, "", buf, k) == 0;
    FL_CHECK (all_rejected);
    free (buf);
    FL_CHECK (fl_round_params (r) == NULL);       /* nothing was built from garbage */
    s_drain (r, NULL);

    /* Two admitted peers; round 0 starts. */
    FL_CHECK (s_send (r, 0, mallory, s_hello (run, "mallory")) == 1);
    FL_CHECK (s_send (r, 0, honest, s_hello (run, "honest")) == 1);
    fl_round_on_tick (r, 1);
    FL_CHECK (fl_round_phase (r) == FL_ROUND_STATS);
    s_drain (r, run);
    FL_CHECK (memcmp (run, "run-under-attack", 16) == 0);

    /* wrong phase, another run, a later round: rejected, slot kept */
    w = fl_wire_writer_new (FL_WIRE_UPDATE, run, 0);
    fl_wire_put_f32s (w, FL_K_DELTA, delta, 3);
    fl_wire_put_u64 (w, FL_K_N, 10);
    fl_wire_put_f64 (w, FL_K_LOSS, 0.5);
    FL_CHECK (s_send (r, 2, mallory, w) == 0);
    FL_CHECK (s_send (r, 2, mallory, s_stats (other_run, 0, 3)) == 0);
    FL_CHECK (s_send (r, 2, mallory, s_stats (run, 7, 3)) == 0);
    /* wrong vector length: rejected, and it was mallory's one reply */
    FL_CHECK (s_send (r, 2, mallory, s_stats (run, 0, 2)) == 0);
    FL_CHECK (s_send (r, 2, mallory, s_stats (run, 0, 3)) == 0);       /* duplicate */
    FL_CHECK (fl_round_phase (r) == FL_ROUND_STATS);
    FL_CHECK (s_send (r, 3, honest, s_stats (run, 0, 3)) == 1);
    FL_CHECK (fl_round_phase (r) == FL_ROUND_TRAIN);                    /* everyone answered */
    s_drain (r, NULL);

    /* Round 1: mallory's update has the wrong length; honest stays silent. */
    size_t np = fl_round_num_params (r);
    float *before = (float *) malloc (np * sizeof (float));
    memcpy (before, fl_round_params (r), np * sizeof (float));
    w = fl_wire_writer_new (FL_WIRE_UPDATE, run, 1);
    fl_wire_put_f32s (w, FL_K_DELTA, delta, np == 3 ? 2 : 3);
    fl_wire_put_u64 (w, FL_K_N, 10);
    fl_wire_put_f64 (w, FL_K_LOSS, 0.5);
    FL_CHECK (s_send (r, 4, mallory, w) == 0);
    fl_round_on_tick (r, 4 + 61000);                                    /* train deadline */
    FL_CHECK (fl_round_phase (r) == FL_ROUND_EVAL);
    FL_CHECK (memcmp (before, fl_round_params (r), np * sizeof (float)) == 0);
    fl_round_on_tick (r, 4 + 61000 + 31000);                            /* eval deadline */
    fl_round_summary_t sum_r;
    FL_CHECK (fl_round_next_summary (r, &sum_r) == 1);
    FL_CHECK (sum_r.skipped == 1 && sum_r.updates == 0 && sum_r.dropped == 2);
    FL_CHECK (fl_round_phase (r) == FL_ROUND_DONE);
    free (before);
    s_drain (r, NULL);
    fl_round_destroy (&r);
}

/* The next queued message: its type and reason into the caller's buffers,
   its routing id into id_out (4 bytes).  0 if none is queued. */
static int
s_next (fl_round_t *r, fl_wire_type_t *type, char *reason, size_t cap, uint8_t id_out[4])
{
    const uint8_t *oid;
    size_t oid_len, len;
    uint8_t *buf;
    if (!fl_round_next_out (r, &oid, &oid_len, &buf, &len))
        return 0;
    if (id_out)
        memcpy (id_out, oid, oid_len < 4 ? oid_len : 4);
    char why[128];
    fl_wire_limits_t lim = fl_wire_limits_default ();
    fl_wire_msg_t *m = fl_wire_decode (buf, len, &lim, why, sizeof why);
    *type = m ? fl_wire_type (m) : (fl_wire_type_t) 0;
    /* only these types carry a reason (asking others is a programming error) */
    bool has_reason = m && (*type == FL_WIRE_REJECT || *type == FL_WIRE_BYE || *type == FL_WIRE_ERROR);
    const char *rs = has_reason ? fl_wire_get_cstr (m, FL_K_REASON) : NULL;
    snprintf (reason, cap, "%s", rs ? rs : "");
    fl_wire_msg_destroy (&m);
    free (buf);
    return 1;
}

/* As s_send, with an authenticated member id (what CURVE gives). */
static int
s_send_as (fl_round_t *r, int64_t now, const uint8_t *id, const char *member, fl_wire_writer_t *w)
{
    uint8_t *buf;
    size_t len;
    FL_CHECK (fl_wire_writer_finish (&w, &buf, &len) == 0);
    int rc = fl_round_on_message (r, now, id, 4, member, buf, len);
    free (buf);
    return rc;
}

/* A coordinator restarted after a long downtime: a member's queued
   heartbeats (a dozen and more, of the previous process's run) reach it
   before the member's HELLO.  None of them is a protocol violation: each
   gets REJECT "not admitted" and the HELLO that follows is admitted.  Late
   replies of an admitted member do not count either. */
static void
test_unknown_and_late_messages_are_no_strike (void)
{
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = 2;
    cfg.rounds = 1;
    memcpy (cfg.run_id, "run-restarted-00", 16);
    fl_round_t *r = fl_round_new (&cfg);
    fl_round_start (r, 0);
    const uint8_t a[4] = {1, 1, 1, 1}, b[4] = {2, 2, 2, 2};
    uint8_t old_run[16] = {7}, run[16] = {0};
    int rejected_politely = 1;
    for (int k = 0; k < 40; k++) {
        FL_CHECK (s_send (r, 1000 * k, a, fl_wire_writer_new (FL_WIRE_HEARTBEAT, old_run, 3)) == 0);
        fl_wire_type_t t;
        char why[256];
        rejected_politely &= s_next (r, &t, why, sizeof why, NULL) == 1 && t == FL_WIRE_REJECT
                             && strncmp (why, "not admitted", 12) == 0;
    }
    FL_CHECK (rejected_politely);
    /* a burst (queued while the coordinator was down) gets one answer */
    for (int k = 0; k < 12; k++)
        FL_CHECK (s_send (r, 41000, a, fl_wire_writer_new (FL_WIRE_HEARTBEAT, old_run, 3)) == 0);
    int answers = 0;
    fl_wire_type_t t0;
    char w0[256];
    while (s_next (r, &t0, w0, sizeof w0, NULL))
        answers++;
    FL_CHECK (answers == 1);
    FL_CHECK (s_send (r, 50000, a, s_hello (run, "hospital-0")) == 1);
    FL_CHECK (s_send (r, 50000, b, s_hello (run, "hospital-1")) == 1);
    FL_CHECK (fl_round_clients (r) == 2);
    fl_round_on_tick (r, 50001);
    FL_CHECK (fl_round_phase (r) == FL_ROUND_STATS);
    s_drain (r, run);
    /* 40 late replies (a round that is over, and another run's) */
    for (int k = 0; k < 20; k++) {
        FL_CHECK (s_send (r, 50060, a, s_stats (run, 5, 3)) == 0);
        FL_CHECK (s_send (r, 50060, a, s_stats (old_run, 0, 3)) == 0);
    }
    FL_CHECK (fl_round_clients (r) == 2);                 /* not quarantined */
    FL_CHECK (s_send (r, 50061, a, s_stats (run, 0, 3)) == 1);   /* its reply is still heard */
    fl_round_destroy (&r);
}

/* Protocol violations are counted; at the 8th the member is quarantined:
   left out, told so (REJECT "quarantined: ..."), and the log names it.  A
   valid HELLO re-admits it with a clean record. */
static void
test_protocol_violations_quarantine_until_hello (void)
{
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = 3;
    memcpy (cfg.run_id, "run-quarantine-0", 16);
    fl_round_t *r = fl_round_new (&cfg);
    fl_round_start (r, 0);
    const uint8_t a[4] = {1, 1, 1, 1};
    uint8_t run[16] = {0};
    FL_CHECK (s_send (r, 0, a, s_hello (run, "mallory")) == 1);
    s_drain (r, run);
    const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef};
    for (int k = 0; k < 7; k++)
        FL_CHECK (fl_round_on_message (r, 1, a, 4, "", junk, sizeof junk) == 0);
    FL_CHECK (fl_round_clients (r) == 1);                 /* 7 strikes: still admitted */
    FL_CHECK (fl_round_on_message (r, 1, a, 4, "", junk, sizeof junk) == 0);
    FL_CHECK (fl_round_clients (r) == 0);                 /* 8th: quarantined */
    fl_wire_type_t t;
    char why[256];
    FL_CHECK (s_next (r, &t, why, sizeof why, NULL) == 1 && t == FL_WIRE_REJECT
              && strncmp (why, "quarantined", 11) == 0);
    /* ignored now: a heartbeat gets no answer */
    FL_CHECK (s_send (r, 2, a, fl_wire_writer_new (FL_WIRE_HEARTBEAT, run, 0)) == 0);
    FL_CHECK (s_next (r, &t, why, sizeof why, NULL) == 0);
    /* a valid HELLO: admitted again, strikes reset (7 more are tolerated) */
    FL_CHECK (s_send (r, 3, a, s_hello (run, "mallory")) == 1);
    FL_CHECK (fl_round_clients (r) == 1);
    for (int k = 0; k < 7; k++)
        FL_CHECK (fl_round_on_message (r, 4, a, 4, "", junk, sizeof junk) == 0);
    FL_CHECK (fl_round_clients (r) == 1);
    fl_round_destroy (&r);
}

/* Transport identity pinning, from the attacker's side.  hospital-0 is
   admitted on routing id A (authenticated as hospital-0).  hospital-1, a
   roster member with its own valid key, gets a connection with the same
   routing id A: none of its messages is credited to hospital-0 (its BYE
   does not remove hospital-0, its HELLO does not replace it).  When
   hospital-0 reconnects on routing id C with its own key, the coordinator's
   messages for hospital-0 go to C. */
static void
test_routing_id_takeover_refused (void)
{
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = 2;
    cfg.rounds = 1;
    memcpy (cfg.run_id, "run-pinned-ids-0", 16);
    fl_round_t *r = fl_round_new (&cfg);
    fl_round_start (r, 0);
    const uint8_t A[4] = {'A', 'A', 'A', 'A'}, B[4] = {'B', 'B', 'B', 'B'}, C[4] = {'C', 'C', 'C', 'C'};
    uint8_t run[16] = {0};
    FL_CHECK (s_send_as (r, 0, A, "hospital-0", s_hello (run, "hospital-0")) == 1);
    s_drain (r, run);
    /* the attacker on A's routing id */
    FL_CHECK (s_send_as (r, 1, A, "hospital-1", fl_wire_writer_new (FL_WIRE_BYE, run, 0)) == 0);
    FL_CHECK (s_send_as (r, 1, A, "hospital-1", s_hello (run, "hospital-1")) == 0);
    FL_CHECK (s_send_as (r, 1, A, "hospital-1", s_hello (run, "hospital-0")) == 0);
    FL_CHECK (fl_round_clients (r) == 1);
    char names[256];
    fl_round_member_names (r, names, sizeof names);
    FL_CHECK (strcmp (names, "hospital-0") == 0);
    fl_wire_type_t t;
    char why[256];
    FL_CHECK (s_next (r, &t, why, sizeof why, NULL) == 0);   /* nothing was sent in answer */
    /* hospital-1 joins on its own routing id; round 0 starts */
    FL_CHECK (s_send_as (r, 2, B, "hospital-1", s_hello (run, "hospital-1")) == 1);
    s_drain (r, NULL);
    /* hospital-0 reconnects: new routing id, same key */
    FL_CHECK (s_send_as (r, 3, C, "hospital-0", fl_wire_writer_new (FL_WIRE_HEARTBEAT, run, 0)) == 1);
    FL_CHECK (fl_round_clients (r) == 2);
    fl_round_on_tick (r, 4);
    FL_CHECK (fl_round_phase (r) == FL_ROUND_STATS);
    int to_a = 0, to_c = 0, to_b = 0;
    uint8_t oid[4];
    while (s_next (r, &t, why, sizeof why, oid)) {
        to_a += memcmp (oid, A, 4) == 0;
        to_b += memcmp (oid, B, 4) == 0;
        to_c += memcmp (oid, C, 4) == 0;
    }
    FL_CHECK (to_a == 0 && to_c == 1 && to_b == 1);   /* STATS_REQUEST to the members' own connections */
    fl_round_destroy (&r);
}

/* A member whose --model/--hidden do not match the coordinator's refuses
   the WELCOME and says BYE: the coordinator must stop counting it (before,
   the BYE carried no run id and was discarded, so every later round waited
   for a member that had left). */
static void
test_refusing_member_is_not_counted (void)
{
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = 2;
    memcpy (cfg.run_id, "run-refused-0000", 16);
    fl_round_t *r = fl_round_new (&cfg);
    fl_round_start (r, 0);
    fl_dataset_t *tr = NULL, *te = NULL;
    FL_CHECK (round_sim_shard (N_CLIENTS, 0, &tr, &te) == 0);
    fl_client_config_t cc = {.member = "hospital-0", .seed = 1, .allow_plaintext = 1, .model = "logreg",
                             .hidden = "16"};
    fl_client_t *c = fl_client_new (&cc, &tr, &te);
    FL_CHECK (c != NULL);
    const uint8_t id[4] = {4, 4, 4, 4};
    fl_client_hello (c);
    for (int pass = 0; pass < 4; pass++) {
        uint8_t *buf;
        size_t len;
        while (fl_client_next_out (c, &buf, &len)) {
            fl_round_on_message (r, 1, id, 4, "", buf, len);
            free (buf);
        }
        const uint8_t *oid;
        size_t oid_len;
        while (fl_round_next_out (r, &oid, &oid_len, &buf, &len)) {
            fl_client_on_message (c, buf, len);
            free (buf);
        }
    }
    FL_CHECK (fl_client_state (c) == FL_CLIENT_REFUSED);
    FL_CHECK (fl_round_clients (r) == 0);
    fl_client_destroy (&c);
    fl_dataset_destroy (&tr);
    fl_dataset_destroy (&te);
    fl_round_destroy (&r);
}

static void
test_hello_cannot_choose_a_huge_model (void)
{
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = 1;
    fl_round_t *r = fl_round_new (&cfg);
    fl_round_start (r, 0);
    uint8_t run[16] = {0}, fp[32] = {0};
    const uint8_t id[4] = {7, 7, 7, 7};
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_HELLO, run, 0);
    fl_wire_put_str (w, FL_K_MEMBER, "greedy");
    fl_wire_put_bin (w, FL_K_FP, fp, 32);
    fl_wire_put_u64 (w, FL_K_N_TRAIN, 10);
    fl_wire_put_u64 (w, FL_K_N_TEST, 5);
    fl_wire_put_u64 (w, FL_K_FEATURES, 100000);   /* logreg, 1000 classes: 100 M parameters */
    fl_wire_put_u64 (w, FL_K_CLASSES, 1000);
    fl_wire_put_str (w, FL_K_MODEL, "");
    uint8_t *buf;
    size_t len;
    FL_CHECK (fl_wire_writer_finish (&w, &buf, &len) == 0);
    FL_CHECK (fl_round_on_message (r, 0, id, 4, "", buf, len) == 0);
    free (buf);
    FL_CHECK (fl_round_params (r) == NULL && fl_round_clients (r) == 0);
    fl_round_destroy (&r);
}

static void
test_config_refused (void)
{
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.rounds = 0;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    fl_round_config_default (&cfg);
    cfg.fraction = 1.5;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    fl_round_config_default (&cfg);
    snprintf (cfg.client_opt, sizeof cfg.client_opt, "rmsprop");
    FL_CHECK (fl_round_new (&cfg) == NULL);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_fedavg_improves_model);
    FL_RUN (test_deadline_drops_silent_client);
    FL_RUN (test_hostile_messages_rejected);
    FL_RUN (test_hello_cannot_choose_a_huge_model);
    FL_RUN (test_unknown_and_late_messages_are_no_strike);
    FL_RUN (test_protocol_violations_quarantine_until_hello);
    FL_RUN (test_routing_id_takeover_refused);
    FL_RUN (test_refusing_member_is_not_counted);
    FL_RUN (test_config_refused);
    FL_TEST_DONE ();
}
