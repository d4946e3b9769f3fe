/*  test_round_early.c - early stopping on the federated evaluation log loss
    (fl_round_config_t.early_stop, fl_round_best), driven by in-process
    fl_client members over WDBC shards (no sockets, simulated clock).

    To make the federated evaluation loss rise on purpose, every member's
    update hook negates and scales its update from round SABOTAGE on (the
    model then moves uphill); the tests never assume which round is best,
    they compute it from the rounds' summaries.  They check: the run stops
    after `patience` rounds without a lower loss and ends with the best
    round's model (bit for bit the model the round had then); the summaries
    flag each improvement; without early stopping nothing changes; a run
    checkpointed mid-way and resumed stops at the same round with the same
    model (and the checkpoint of a run early stopping ended resumes to an
    immediate end); and a checkpoint's early-stopping state is checked as untrusted
    input (wrong version, inconsistent round or loss, wrong size, non-finite
    model, a run without early stopping); and, from the member's side, that a
    coordinator sending an unknown class weighting or a weight decay that is
    negative, not finite or above the member's policy gets no update. */
#include "fl_checkpoint.h"
#include "fl_client.h"
#include "fl_round.h"
#include "fl_shard.h"
#include "fl_test.h"
#include "round_sim.h"
#include "fl_wire.h"

#define N_CLIENTS 5
#define ROUNDS 12
#define PATIENCE 2
#define SABOTAGE 3

typedef struct {
    fl_round_t *round;
    fl_client_t *clients[N_CLIENTS];
    uint8_t ids[N_CLIENTS][8];
    int64_t now;
    /* the global model after each finished round (index = round) */
    float *params[ROUNDS + 1];
    size_t seen;
} sim_t;

/* From round SABOTAGE on: -20 x the honest update (uphill). */
static int
s_sabotage (void *arg, fl_client_update_t *info, float *update, size_t n)
{
    (void) arg;
    if (info->round >= SABOTAGE)
        for (size_t i = 0; i < n; i++)
            update[i] *= -20.0f;
    return 0;
}

/* After each pass: when a round has finished, keep a copy of its model. */
static int
s_stop (void *ctx)
{
    sim_t *s = (sim_t *) ctx;
    fl_round_summary_t h;
    size_t n = fl_round_history (s->round, 0, &h);
    if (n > s->seen && fl_round_phase (s->round) != FL_ROUND_DONE) {
        fl_round_history (s->round, n - 1, &h);
        if (h.round <= ROUNDS && !s->params[h.round]) {
            size_t np = fl_round_num_params (s->round);
            s->params[h.round] = (float *) malloc (np * sizeof (float));
            memcpy (s->params[h.round], fl_round_params (s->round), np * sizeof (float));
        }
        s->seen = n;
    }
    return 0;
}

static void
s_pump (sim_t *s)
{
    round_sim_t r = {.round = s->round, .clients = s->clients, .ids = s->ids, .n = N_CLIENTS, .now = &s->now,
                     .max_passes = 20000, .tick_every_pass = 1, .advance_when_idle = 0, .ctx = s,
                     .stop = s_stop};
    round_sim_pump (&r);
}

static void
s_config (fl_round_config_t *cfg, uint64_t rounds, uint32_t patience)
{
    fl_round_config_default (cfg);
    cfg->min_clients = N_CLIENTS;
    cfg->rounds = rounds;
    cfg->client_lr = 0.1;
    cfg->batch_size = 16;
    cfg->early_stop = patience;
    memcpy (cfg->run_id, "test-run-early01", 16);
}

static void
s_clients (sim_t *s)
{
    for (int i = 0; i < N_CLIENTS; i++) {
        fl_dataset_t *tr = NULL, *te = NULL;
        FL_CHECK (round_sim_shard (N_CLIENTS, (size_t) i, &tr, &te) == 0);
        char name[32];
        snprintf (name, sizeof name, "hospital-%d", i);
        fl_client_config_t cc = {.member = name, .seed = (uint64_t) i, .allow_plaintext = 1,
                                 .update_hook = s_sabotage};
        s->clients[i] = fl_client_new (&cc, &tr, &te);
        FL_CHECK (s->clients[i] != NULL);
        round_sim_id (s->ids[i], (size_t) i);
        fl_client_hello (s->clients[i]);
    }
}

static void
s_setup (sim_t *s, const fl_round_config_t *cfg)
{
    memset (s, 0, sizeof *s);
    s->round = fl_round_new (cfg);
    FL_CHECK (s->round != NULL);
    fl_round_start (s->round, 0);
    s_clients (s);
}

static void
s_teardown (sim_t *s)
{
    for (int i = 0; i < N_CLIENTS; i++)
        fl_client_destroy (&s->clients[i]);
    for (int r = 0; r <= ROUNDS; r++)
        free (s->params[r]);
    fl_round_destroy (&s->round);
}

/*  The best round by the summaries: the first with the lowest finite log
    loss; *improved receives a bit per round that lowered the loss. */
static uint64_t
s_argmin (const fl_round_summary_t *sum, size_t n, uint32_t *improved)
{
    uint64_t best = 0;
    double lo = INFINITY;
    *improved = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite (sum[i].eval.log_loss) && sum[i].eval.log_loss < lo) {
            lo = sum[i].eval.log_loss;
            best = sum[i].round;
            *improved |= 1u << sum[i].round;
        }
    return best;
}

static void
test_stops_and_keeps_best (void)
{
    fl_round_config_t cfg;
    s_config (&cfg, ROUNDS, PATIENCE);
    sim_t s;
    s_setup (&s, &cfg);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    fl_round_summary_t sum[ROUNDS];
    size_t n = 0;
    while (n < ROUNDS && fl_round_next_summary (s.round, &sum[n]))
        n++;
    uint32_t improved = 0, flagged = 0;
    uint64_t best = s_argmin (sum, n, &improved);
    for (size_t i = 0; i < n; i++)
        flagged |= (uint32_t) (sum[i].best != 0) << sum[i].round;
    fl_round_summary_t bs;
    uint64_t got = fl_round_best (s.round, &bs);
    if (fl_test_verbose_)
        for (size_t i = 0; i < n; i++)
            printf ("round %" PRIu64 ": log loss %.6f AUROC %.4f%s\n", sum[i].round, sum[i].eval.log_loss,
                    sum[i].eval.auroc, sum[i].best ? " (best so far)" : "");
    /* the sabotage makes the loss rise: the run stops early, PATIENCE rounds
       after the best one, which the round names and whose summary it keeps */
    FL_CHECK (best >= 1 && best < SABOTAGE);
    FL_CHECK (got == best && bs.round == best && bs.best == 1);
    FL_CHECK (n == best + PATIENCE && fl_round_current (s.round) == best + PATIENCE);
    FL_CHECK (n < ROUNDS);
    FL_CHECK (bs.eval.log_loss == sum[best - 1].eval.log_loss);
    FL_CHECK (flagged == improved);
    FL_CHECK (strstr (fl_round_stop_reason (s.round), "early stopping") != NULL);
    /* the model the run ends with is the best round's, bit for bit, not the last */
    size_t np = fl_round_num_params (s.round);
    FL_CHECK (s.params[best] != NULL);
    if (s.params[best])
        FL_CHECK (memcmp (fl_round_params (s.round), s.params[best], np * sizeof (float)) == 0);
    if (s.params[n])
        FL_CHECK (memcmp (fl_round_params (s.round), s.params[n], np * sizeof (float)) != 0);
    s_teardown (&s);

    /* without early stopping: every round runs, the last model stays */
    s_config (&cfg, 4, 0);
    s_setup (&s, &cfg);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE && fl_round_current (s.round) == 4);
    FL_CHECK (fl_round_best (s.round, NULL) == 0);
    FL_CHECK (fl_round_stop_reason (s.round)[0] == 0);
    n = 0;
    while (n < 4 && fl_round_next_summary (s.round, &sum[n]))
        FL_CHECK (sum[n++].best == 0);
    s_teardown (&s);
}

/* A checkpoint minus the entries whose names start with skip (NULL: none). */
static fl_checkpoint_t *
s_copy_except (const fl_checkpoint_t *ck, const char *skip)
{
    fl_checkpoint_t *c = fl_checkpoint_new (fl_checkpoint_run_id (ck), fl_checkpoint_round (ck));
    for (size_t i = 0; c && i < fl_checkpoint_count (ck); i++) {
        const char *name = fl_checkpoint_name (ck, i);
        if (skip && strncmp (name, skip, strlen (skip)) == 0)
            continue;
        uint64_t u;
        double d;
        const uint8_t *b;
        const float *f;
        const double *fd;
        const uint64_t *us;
        size_t len;
        int rc = -1;
        switch (fl_checkpoint_type (ck, i)) {
        case FL_CHECKPOINT_U64:
            rc = fl_checkpoint_get_u64 (ck, name, &u) || fl_checkpoint_put_u64 (c, name, u);
            break;
        case FL_CHECKPOINT_F64:
            rc = fl_checkpoint_get_f64 (ck, name, &d) || fl_checkpoint_put_f64 (c, name, d);
            break;
        case FL_CHECKPOINT_BYTES:
            rc = fl_checkpoint_get_bytes (ck, name, &b, &len) || fl_checkpoint_put_bytes (c, name, b, len);
            break;
        case FL_CHECKPOINT_F32S:
            rc = fl_checkpoint_get_f32s (ck, name, &f, &len) || fl_checkpoint_put_f32s (c, name, f, len);
            break;
        case FL_CHECKPOINT_F64S:
            rc = fl_checkpoint_get_f64s (ck, name, &fd, &len) || fl_checkpoint_put_f64s (c, name, fd, len);
            break;
        case FL_CHECKPOINT_U64S:
            rc = fl_checkpoint_get_u64s (ck, name, &us, &len) || fl_checkpoint_put_u64s (c, name, us, len);
            break;
        }
        FL_CHECK (rc == 0);
    }
    return c;
}

/* ck with the early-stopping state replaced by es (n_es doubles) and params (np floats). */
static fl_checkpoint_t *
s_tampered (const fl_checkpoint_t *ck, const double *es, size_t n_es, const float *params, size_t np)
{
    fl_checkpoint_t *c = s_copy_except (ck, "early_stop.");
    FL_CHECK (fl_checkpoint_put_f64s (c, "early_stop.state", es, n_es) == 0);
    FL_CHECK (fl_checkpoint_put_f32s (c, "early_stop.params", params, np) == 0);
    return c;
}

/* 0 if a fresh round configured by cfg accepts ck. */
static int
s_restore (const fl_round_config_t *cfg, const fl_checkpoint_t *ck)
{
    fl_round_t *r = fl_round_new (cfg);
    FL_CHECK (r != NULL);
    int rc = fl_round_restore (r, ck);
    fl_round_destroy (&r);
    return rc;
}

static void
test_checkpoint_resume (void)
{
    /* uninterrupted */
    fl_round_config_t cfg;
    s_config (&cfg, ROUNDS, PATIENCE);
    sim_t a;
    s_setup (&a, &cfg);
    s_pump (&a);
    FL_CHECK (fl_round_phase (a.round) == FL_ROUND_DONE);
    uint64_t best_a = fl_round_best (a.round, NULL), end_a = fl_round_current (a.round);
    size_t np = fl_round_num_params (a.round);
    float *final_a = (float *) malloc (np * sizeof (float));
    memcpy (final_a, fl_round_params (a.round), np * sizeof (float));
    fl_checkpoint_t *ck_end = fl_round_take_checkpoint (a.round);      /* after the last round: patience spent */
    s_teardown (&a);

    /* resuming the checkpoint of a run early stopping ended trains nothing
       more: it ends at once, with the best round's model */
    sim_t e;
    memset (&e, 0, sizeof e);
    e.round = fl_round_new (&cfg);
    FL_CHECK (e.round && ck_end && fl_round_restore (e.round, ck_end) == 0);
    fl_round_start (e.round, 0);
    s_clients (&e);
    s_pump (&e);
    FL_CHECK (fl_round_phase (e.round) == FL_ROUND_DONE && fl_round_current (e.round) == end_a);
    FL_CHECK (strstr (fl_round_stop_reason (e.round), "early stopping") != NULL);
    FL_CHECK (memcmp (fl_round_params (e.round), final_a, np * sizeof (float)) == 0);
    fl_round_summary_t none;
    FL_CHECK (!fl_round_next_summary (e.round, &none));               /* no round ran */
    s_teardown (&e);
    fl_checkpoint_destroy (&ck_end);

    /* the first SABOTAGE rounds, checkpointed after the last: one round past the best */
    s_config (&cfg, SABOTAGE, PATIENCE);
    s_setup (&a, &cfg);
    s_pump (&a);
    FL_CHECK (fl_round_phase (a.round) == FL_ROUND_DONE && fl_round_current (a.round) == SABOTAGE);
    fl_checkpoint_t *ck = fl_round_take_checkpoint (a.round);
    FL_CHECK (ck != NULL && fl_checkpoint_has (ck, "early_stop.state") && fl_checkpoint_has (ck, "early_stop.params"));
    const double *es = NULL;
    size_t n_es = 0;
    FL_CHECK (fl_checkpoint_get_f64s (ck, "early_stop.state", &es, &n_es) == 0 && n_es == 4);
    FL_CHECK (es[0] == 1 && es[1] == (double) best_a && es[3] == (double) (SABOTAGE - best_a));
    s_teardown (&a);

    /* resumed with the full schedule: it stops where the uninterrupted run
       stopped, with the same best round and the same model */
    s_config (&cfg, ROUNDS, PATIENCE);
    sim_t b;
    memset (&b, 0, sizeof b);
    b.round = fl_round_new (&cfg);
    FL_CHECK (b.round && fl_round_restore (b.round, ck) == 0);
    FL_CHECK (fl_round_best (b.round, NULL) == best_a);        /* restored, not reset */
    fl_round_start (b.round, 0);
    s_clients (&b);
    s_pump (&b);
    FL_CHECK (fl_round_phase (b.round) == FL_ROUND_DONE);
    FL_CHECK (fl_round_current (b.round) == end_a && fl_round_best (b.round, NULL) == best_a);
    FL_CHECK (memcmp (fl_round_params (b.round), final_a, np * sizeof (float)) == 0);
    if (fl_test_verbose_)
        printf ("uninterrupted: best round %" PRIu64 ", stopped after %" PRIu64 "; resumed after round %d: best %" PRIu64
                ", stopped after %" PRIu64 "\n", best_a, end_a, SABOTAGE, fl_round_best (b.round, NULL),
                fl_round_current (b.round));
    s_teardown (&b);
    free (final_a);

    /* untrusted state: each tampering is refused, the original accepted */
    FL_CHECK (s_restore (&cfg, ck) == 0);
    const float *bp = NULL;
    size_t n_bp = 0;
    FL_CHECK (fl_checkpoint_get_f32s (ck, "early_stop.params", &bp, &n_bp) == 0 && n_bp == np);
    double good[4] = {es[0], es[1], es[2], es[3]};
    struct {
        double v[4];
        size_t n;
        const char *what;
    } bad[] = {
        {{2, good[1], good[2], good[3]}, 4, "a newer version"},
        {{0, good[1], good[2], good[3]}, 4, "version 0"},
        {{1, good[1], good[2], good[3]}, 3, "truncated"},
        {{1, SABOTAGE + 1, good[2], -1}, 4, "best round after the checkpoint"},
        {{1, 0, good[2], SABOTAGE}, 4, "best round 0"},
        {{1, good[1] + 0.5, good[2], good[3] - 0.5}, 4, "fractional round"},
        {{1, good[1], good[2], good[3] + 1}, 4, "rounds since inconsistent"},
        {{1, good[1], good[2] * 0.5, good[3]}, 4, "loss not the history's"},
        {{1, good[1], NAN, good[3]}, 4, "NaN loss"},
        {{1, good[1], -1, good[3]}, 4, "negative loss"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_checkpoint_t *t = s_tampered (ck, bad[i].v, bad[i].n, bp, np);
        int rc = s_restore (&cfg, t);
        if (rc != -1)
            printf ("accepted: %s\n", bad[i].what);
        FL_CHECK (rc == -1);
        fl_checkpoint_destroy (&t);
    }
    float *p = (float *) malloc (np * sizeof (float));
    memcpy (p, bp, np * sizeof (float));
    p[np / 2] = NAN;
    fl_checkpoint_t *t = s_tampered (ck, good, 4, p, np);
    FL_CHECK (s_restore (&cfg, t) == -1);                     /* non-finite model */
    fl_checkpoint_destroy (&t);
    t = s_tampered (ck, good, 4, bp, np - 1);
    FL_CHECK (s_restore (&cfg, t) == -1);                     /* wrong size */
    fl_checkpoint_destroy (&t);
    t = s_tampered (ck, good, 4, bp, np);
    FL_CHECK (s_restore (&cfg, t) == 0);                      /* the copy itself is fine */
    fl_checkpoint_destroy (&t);
    free (p);
    /* a run without early stopping refuses a checkpoint with it; a run with
       it accepts one without (tracking starts afresh) */
    fl_round_config_t off;
    s_config (&off, ROUNDS, 0);
    FL_CHECK (s_restore (&off, ck) == -1);
    t = s_copy_except (ck, "early_stop.");
    FL_CHECK (s_restore (&off, t) == 0);
    fl_round_t *r = fl_round_new (&cfg);
    FL_CHECK (r && fl_round_restore (r, t) == 0 && fl_round_best (r, NULL) == 0);
    fl_round_destroy (&r);
    fl_checkpoint_destroy (&t);
    fl_checkpoint_destroy (&ck);
}

/* The round refuses a weight decay out of range and class weights with
   record-level DP (whose per-example gradients apply neither); the member
   refuses a weight decay above its policy. */
static void
test_regularisation_config (void)
{
    fl_round_config_t cfg;
    s_config (&cfg, 2, 0);
    cfg.weight_decay = -0.1;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    cfg.weight_decay = 2;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    cfg.weight_decay = NAN;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    cfg.weight_decay = 0.01;
    cfg.op_top_fraction = 1.5;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    cfg.op_top_fraction = 0;
    cfg.op_threshold = -0.5;
    FL_CHECK (fl_round_new (&cfg) == NULL);
    cfg.op_threshold = 0.5;
    cfg.class_weight_balanced = 1;
    fl_round_t *r = fl_round_new (&cfg);
    FL_CHECK (r != NULL);
    fl_round_destroy (&r);

    /* a run with balanced weights and weight decay trains (every member
       accepts them); a member whose policy caps weight decay below the
       run's sends no update */
    s_config (&cfg, 2, 0);
    cfg.class_weight_balanced = 1;
    cfg.weight_decay = 0.01;
    sim_t s;
    s_setup (&s, &cfg);
    s_pump (&s);
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    fl_round_summary_t sum;
    while (fl_round_next_summary (s.round, &sum))
        FL_CHECK (sum.updates == N_CLIENTS && sum.eval.auroc > 0.9);
    s_teardown (&s);

    cfg.min_updates = 1;
    s_setup (&s, &cfg);
    fl_client_destroy (&s.clients[0]);
    fl_dataset_t *tr = NULL, *te = NULL;
    FL_CHECK (round_sim_shard (N_CLIENTS, 0, &tr, &te) == 0);
    fl_client_config_t cc = {.member = "hospital-0", .seed = 0, .allow_plaintext = 1, .max_weight_decay = 0.001};
    s.clients[0] = fl_client_new (&cc, &tr, &te);
    fl_client_hello (s.clients[0]);
    s_pump (&s);
    /* the pump stops when idle: move the clock past the deadlines */
    for (int k = 0; k < 20 && fl_round_phase (s.round) != FL_ROUND_DONE; k++) {
        s.now += 100000;
        fl_round_on_tick (s.round, s.now);
        s_pump (&s);
    }
    FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
    /* round 1: the other four members' updates (the simulated clock then
       jumps past everyone's liveness, so later rounds say nothing) */
    FL_CHECK (fl_round_next_summary (s.round, &sum) && sum.round == 1 && sum.updates == N_CLIENTS - 1
              && sum.dropped == 1);
    s_teardown (&s);
}

/* ---- a coordinator sending hostile regularisation ------------------------ */

typedef struct {
    sim_t *sim;
    int variant;            /* which bad field member 0's TRAIN carries */
} s_hostile_t;

/* Member 0's plaintext TRAIN rebuilt with the variant's bad field. */
static void
s_hostile_to_client (void *ctx, size_t i, uint8_t **data, size_t *len)
{
    s_hostile_t *h = (s_hostile_t *) ctx;
    fl_client_t *c = h->sim->clients[i];
    char why[160];
    fl_wire_limits_t lim = fl_wire_limits_default ();
    fl_wire_msg_t *m = i == 0 ? fl_wire_decode (*data, *len, &lim, why, sizeof why) : NULL;
    if (m && fl_wire_type (m) == FL_WIRE_TRAIN) {
        fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_TRAIN, fl_wire_run_id (m), fl_wire_round (m));
        const float *p;
        const uint8_t *fp;
        size_t np, nfp;
        uint64_t u;
        double d;
        FL_CHECK (fl_wire_get_f32s (m, FL_K_PARAMS, &p, &np) == 0 && fl_wire_get_bin (m, FL_K_FP, &fp, &nfp) == 0);
        fl_wire_put_f32s (w, FL_K_PARAMS, p, np);
        fl_wire_put_bin (w, FL_K_FP, fp, nfp);
        const char *u64s[] = {FL_K_EPOCHS, FL_K_BATCH, FL_K_SEED, FL_K_CAP};
        for (int k = 0; k < 4; k++) {
            FL_CHECK (fl_wire_get_u64 (m, u64s[k], &u) == 0);
            fl_wire_put_u64 (w, u64s[k], u);
        }
        FL_CHECK (fl_wire_get_f64 (m, FL_K_LR, &d) == 0);
        fl_wire_put_f64 (w, FL_K_LR, d);
        fl_wire_put_str (w, FL_K_OPT, fl_wire_get_cstr (m, FL_K_OPT));
        switch (h->variant) {
        case 0: fl_wire_put_u64 (w, FL_K_CLASS_WEIGHT, 2); break;          /* unknown weighting */
        case 1: fl_wire_put_f64 (w, FL_K_WEIGHT_DECAY, -0.5); break;       /* negative */
        case 2: fl_wire_put_f64 (w, FL_K_WEIGHT_DECAY, INFINITY); break;   /* not finite */
        case 3: fl_wire_put_f64 (w, FL_K_WEIGHT_DECAY, 50); break;         /* above the default policy (1) */
        default: fl_wire_put_f64 (w, FL_K_WEIGHT_DECAY, 0.5); break;       /* within it: accepted */
        }
        uint8_t *buf = NULL;
        size_t blen = 0;
        /* the writer itself refuses a non-finite f64 (variant 2): the member then
           gets bytes it cannot decode, and drops them */
        int rc = fl_wire_writer_finish (&w, &buf, &blen);
        FL_CHECK (rc == 0 || h->variant == 2);
        if (rc == 0)
            fl_client_on_message (c, buf, blen);
        else
            fl_client_on_message (c, *data, *len / 2);      /* truncated: undecodable */
        free (buf);
    }
    else if (c)
        fl_client_on_message (c, *data, *len);
    fl_wire_msg_destroy (&m);
}

/*  From the member's side: a coordinator that sends an unknown class
    weighting or a weight decay that is negative, not finite or above the
    member's policy gets no update from it (the round counts the others');
    a weight decay within the policy is trained with. */
static void
test_member_refuses_hostile_train (void)
{
    for (int v = 0; v <= 4; v++) {
        fl_round_config_t cfg;
        s_config (&cfg, 1, 0);
        sim_t s;
        s_setup (&s, &cfg);
        s_hostile_t h = {&s, v};
        round_sim_t r = {.round = s.round, .clients = s.clients, .ids = s.ids, .n = N_CLIENTS, .now = &s.now,
                         .max_passes = 20000, .tick_every_pass = 1, .advance_when_idle = 1, .ctx = &h,
                         .to_client = s_hostile_to_client};
        round_sim_pump (&r);
        FL_CHECK (fl_round_phase (s.round) == FL_ROUND_DONE);
        fl_round_summary_t sum;
        FL_CHECK (fl_round_next_summary (s.round, &sum));
        if (sum.updates != (v < 4 ? N_CLIENTS - 1 : N_CLIENTS))
            printf ("variant %d: %zu updates\n", v, sum.updates);
        FL_CHECK (sum.updates == (v < 4 ? N_CLIENTS - 1 : N_CLIENTS));
        s_teardown (&s);
    }
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_stops_and_keeps_best);
    FL_RUN (test_checkpoint_resume);
    FL_RUN (test_regularisation_config);
    FL_RUN (test_member_refuses_hostile_train);
    FL_TEST_DONE ();
}
