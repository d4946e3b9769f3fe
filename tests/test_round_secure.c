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
      sends an unmasked update to a plaintext coordinator. */
#include <czmq.h>
#include <sodium.h>

#include "fl_client.h"
#include "fl_roster.h"
#include "fl_round.h"
#include "fl_shard.h"
#include "fl_test.h"
#include "fl_wire.h"

#define N 8

typedef enum { TAMPER_NONE, TAMPER_PARAMS, TAMPER_MEMBERS } tamper_t;

typedef struct {
    fl_round_t *round;
    fl_client_t *clients[N];
    uint8_t ids[N][8];
    uint8_t *sks[N];
    fl_roster_t *roster;
    tamper_t tamper;               /* applied to TRAIN messages for client 0 */
    int64_t now;
} sim_t;

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
    fl_wire_get_f32s (m, "params", &params, &np);
    float *p2 = (float *) malloc (np * sizeof (float));
    memcpy (p2, params, np * sizeof (float));
    if (s->tamper == TAMPER_PARAMS)
        p2[0] += 0.5f;                      /* a different model for this client only */
    fl_wire_put_f32s (w, "params", p2, np);
    free (p2);
    const uint8_t *b;
    size_t bl;
    fl_wire_get_bin (m, "fp", &b, &bl);
    fl_wire_put_bin (w, "fp", b, bl);
    static const char *u64s[] = {"epochs", "batch", "seed", "cap", "sa_bucket", "sa_index", "sa_n", "sa_t",
                                 "sa_k", "sa_graph", "enc_summands"};
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
    fl_wire_put_str (w, "opt", fl_wire_get_cstr (m, "opt"));
    size_t nm = fl_wire_bin_list_len (m, "sa_members");
    const uint8_t *items[N];
    size_t lens[N];
    for (size_t i = 0; i < nm && i < N; i++)
        fl_wire_get_bin_list_item (m, "sa_members", i, &items[i], &lens[i]);
    if (s->tamper == TAMPER_MEMBERS && nm > 1) {
        items[1] = (const uint8_t *) "sybil";
        lens[1] = 5;
    }
    fl_wire_put_bin_list (w, "sa_members", items, lens, nm);
    free (*data);
    FL_CHECK (fl_wire_writer_finish (&w, data, len) == 0);
    fl_wire_msg_destroy (&m);
}

static void
s_pump (sim_t *s)
{
    for (int iter = 0; iter < 100000; iter++) {
        int moved = 0;
        for (int i = 0; i < N; i++) {
            uint8_t *data;
            size_t len;
            while (fl_client_next_out (s->clients[i], &data, &len)) {
                fl_round_on_message (s->round, s->now, s->ids[i], 8, "", data, len);
                free (data);
                moved = 1;
            }
        }
        const uint8_t *id;
        size_t id_len, len;
        uint8_t *data;
        while (fl_round_next_out (s->round, &id, &id_len, &data, &len)) {
            for (int i = 0; i < N; i++)
                if (id_len == 8 && memcmp (id, s->ids[i], 8) == 0) {
                    if (i == 0 && s->tamper != TAMPER_NONE)
                        s_tamper (s, &data, &len);
                    fl_client_on_message (s->clients[i], data, len);
                }
            free (data);
            moved = 1;
        }
        if (!moved) {
            /* nothing in flight: let deadlines pass */
            if (fl_round_phase (s->round) == FL_ROUND_DONE || fl_round_phase (s->round) == FL_ROUND_FAILED)
                return;
            s->now += 100000;
            fl_round_on_tick (s->round, s->now);
        }
    }
}

static void
s_setup (sim_t *s, int secure, int clients_secure, uint64_t rounds)
{
    memset (s, 0, sizeof *s);
    s->roster = fl_roster_new ();
    uint8_t cpk[32], csk[64];
    crypto_sign_keypair (cpk, csk);
    zcert_t *cc = zcert_new ();
    fl_roster_set_coordinator (s->roster, cpk, zcert_public_txt (cc), NULL);
    zcert_destroy (&cc);
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf (name, sizeof name, "hospital-%d", i);
        uint8_t pk[32];
        s->sks[i] = (uint8_t *) sodium_malloc (64);
        crypto_sign_keypair (pk, s->sks[i]);
        zcert_t *c = zcert_new ();
        FL_CHECK (fl_roster_add_member (s->roster, name, pk, zcert_public_txt (c)) == 0);
        zcert_destroy (&c);
    }
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = N;
    cfg.rounds = rounds;
    cfg.client_lr = 0.1;
    cfg.batch_size = 16;
    cfg.secure = secure;
    cfg.roster = s->roster;
    cfg.clip_norm = 100;               /* large: no clipping, so secure == plaintext FedAvg */
    memcpy (cfg.run_id, "secure-test-run1", 16);
    s->round = fl_round_new (&cfg);
    FL_CHECK (s->round != NULL);
    fl_round_start (s->round, 0);
    for (int i = 0; i < N; i++) {
        fl_shard_spec_t sp;
        fl_shard_spec_default (&sp);
        const char *dd = FL_TEST_PATH ("datasets");
        if (strlen (dd) < sizeof sp.datadir)
            memcpy (sp.datadir, dd, strlen (dd) + 1);
        sp.partitions = N;
        sp.index = (size_t) i;
        snprintf (sp.partition, sizeof sp.partition, "iid");
        fl_dataset_t *tr = NULL, *te = NULL;
        FL_CHECK (fl_shard_load (&sp, &tr, &te) == 0);
        char name[32];
        snprintf (name, sizeof name, "hospital-%d", i);
        fl_client_config_t cc = {.member = name, .seed = (uint64_t) i,
                                 .roster = clients_secure ? s->roster : NULL,
                                 .identity_secret = clients_secure ? s->sks[i] : NULL,
                                 .allow_plaintext = !clients_secure};
        s->clients[i] = fl_client_new (&cc, &tr, &te);
        memcpy (s->ids[i], "peer-00", 7);
        s->ids[i][7] = (uint8_t) ('0' + i);
        fl_client_hello (s->clients[i]);
    }
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
    /* Client 0 was shown different parameters, so its round binding
       differs: it finds every other client's consistency signature invalid
       and refuses to unmask (detected); this honest coordinator also
       rejects client 0's signature.  The others complete the round. */
    fl_round_summary_t sum;
    FL_CHECK (fl_round_next_summary (s.round, &sum) == 1);
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

static void
test_secure_client_refuses_plaintext_round (void)
{
    sim_t s;
    s_setup (&s, 0, 1, 1);         /* plaintext coordinator, clients with keys and no --plaintext */
    s_pump (&s);
    fl_round_summary_t sum;
    FL_CHECK (fl_round_next_summary (s.round, &sum) == 1);
    FL_CHECK (sum.updates == 0 && sum.skipped == 1);
    for (int i = 0; i < N; i++)
        FL_CHECK (fl_client_rounds_trained (s.clients[i]) == 0);
    s_teardown (&s);
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
    FL_RUN (test_secure_client_refuses_plaintext_round);
    FL_TEST_DONE ();
}
