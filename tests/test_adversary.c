/*  test_adversary.c - the honest member's update hook (fl_client) and the
    Byzantine member built on it (io/fl_adversary), driven by hand-made
    coordinator messages.

    - the hook sees the update after local training and before it leaves:
      what it writes is exactly what UPDATE carries; it is told the run,
      round and member; returning -1 drops the update (nothing is sent);
    - an adversary without an attack is an honest member (same update);
    - a scaling adversary's UPDATE is gamma times the honest one;
    - two IPM adversaries colluding through a directory: the second one's
      UPDATE is -epsilon times the mean of BOTH members' honest updates,
      i.e. it really pooled the first one's honest update (it computes what
      a coalition of two can compute, and nothing from the coordinator);
    - an adversary refuses an unknown attack and leaves the data to the
      caller;
    - an evaluation's "equal share": an adversary resized to N training rows
      (fl_adversary_resample: all its own rows, then draws with
      replacement; or N distinct rows) and one that claims N examples: the
      UPDATE carries exactly the claim (the coordinator cannot check it; its
      example cap bounds FedAvg's weight, tests/test_cohort.c);
    - in a secure round (real coordinator, real secure aggregation, in one
      process): the hook is told the announced clipping norm, and an
      adversary that clears `clip` gets its update into the aggregate
      unclipped (the L2 clipping norm does not bound it) - measured on the
      global model the coordinator computes, against the same run with
      clipping kept.
*/
#include <czmq.h>
#include <dirent.h>
#include <sodium.h>
#include <unistd.h>

#include "client_sim.h"
#include "fl_adversary.h"
#include "fl_client.h"
#include "fl_model.h"
#include "fl_test.h"
#include "fl_round.h"
#include "fl_wire.h"
#include "round_sim.h"

static const uint8_t s_run[16] = "adversary-run-16";

/*  24 rows, 3 features, label = [x0 + x1 > 0]; seed varies the rows. */
static fl_dataset_t *
s_data (uint64_t seed)
{
    float x[72];
    int32_t y[24];
    fl_rng_t *r = fl_rng_new_u64 (seed, 3);
    for (int i = 0; i < 24; i++) {
        for (int j = 0; j < 3; j++)
            x[i * 3 + j] = (float) fl_rng_normal (r);
        y[i] = x[i * 3] + x[i * 3 + 1] > 0;
    }
    fl_rng_destroy (&r);
    return fl_dataset_new (24, 3, x, y, 2, NULL, NULL);
}

/*  WELCOME, STANDARDISE, TRAIN of round `round` to c (client_sim.h). */
static float *
s_train (fl_client_t *c, uint64_t round, int expect, size_t *n_out)
{
    return client_sim_train (c, s_run, round, 3, expect, n_out);
}

static float *
s_honest_delta (const char *member, uint64_t data_seed, size_t *n)
{
    fl_client_config_t cc = {.member = member, .seed = 5, .allow_plaintext = 1};
    fl_dataset_t *tr = s_data (data_seed), *te = s_data (data_seed);
    fl_client_t *c = fl_client_new (&cc, &tr, &te);
    FL_CHECK (c != NULL);
    float *d = c ? s_train (c, 1, 1, n) : NULL;
    fl_client_destroy (&c);
    return d;
}

/* ---- the update hook --------------------------------------------------------- */

typedef struct {
    int calls;
    uint64_t round;
    uint8_t run[16];
    char member[64];
    int secure, clip;
    double clip_norm;
    size_t n;
    float seen0;              /* the honest update's first coordinate */
    int refuse;
} s_spy_t;

static int
s_spy (void *arg, fl_client_update_t *info, float *update, size_t n)
{
    s_spy_t *s = (s_spy_t *) arg;
    s->calls++;
    s->round = info->round;
    memcpy (s->run, info->run_id, 16);
    snprintf (s->member, sizeof s->member, "%s", info->member);
    s->secure = info->secure;
    s->clip = info->clip;
    s->clip_norm = info->clip_norm;
    s->n = n;
    s->seen0 = update[0];
    if (s->refuse)
        return -1;
    for (size_t i = 0; i < n; i++)
        update[i] = (float) i + 0.5f;        /* replaced entirely */
    return 0;
}

static void
test_hook (void)
{
    size_t n_h = 0, n = 0;
    float *honest = s_honest_delta ("spied", 1, &n_h);
    FL_CHECK (honest != NULL && n_h == 4);

    s_spy_t spy;
    memset (&spy, 0, sizeof spy);
    fl_client_config_t cc = {.member = "spied", .seed = 5, .allow_plaintext = 1, .update_hook = s_spy,
                             .update_arg = &spy};
    fl_dataset_t *tr = s_data (1), *te = s_data (1);
    fl_client_t *c = fl_client_new (&cc, &tr, &te);
    FL_CHECK (c != NULL && tr == NULL && te == NULL);
    float *d = c ? s_train (c, 6, 1, &n) : NULL;
    FL_CHECK (spy.calls == 1 && spy.round == 6 && memcmp (spy.run, s_run, 16) == 0);
    FL_CHECK (strcmp (spy.member, "spied") == 0);
    FL_CHECK (spy.secure == 0 && spy.clip == 0 && spy.clip_norm == 0);     /* plaintext: the coordinator clips */
    FL_CHECK (spy.n == n_h);
    FL_CHECK (honest && spy.seen0 == honest[0]);        /* the hook saw the honest update */
    FL_CHECK (d != NULL);
    for (size_t i = 0; d && i < n; i++)
        FL_CHECK (d[i] == (float) i + 0.5f);            /* and what it wrote is what left */
    FL_CHECK (c && fl_client_rounds_trained (c) == 1);
    free (d);
    fl_client_destroy (&c);

    /* a hook that refuses: no UPDATE, the request is not accepted */
    memset (&spy, 0, sizeof spy);
    spy.refuse = 1;
    tr = s_data (1);
    te = s_data (1);
    c = fl_client_new (&cc, &tr, &te);
    d = c ? s_train (c, 2, 0, &n) : NULL;
    FL_CHECK (spy.calls == 1 && d == NULL);
    FL_CHECK (c && fl_client_rounds_trained (c) == 0);
    fl_client_destroy (&c);
    free (honest);
}

/* ---- the adversary ------------------------------------------------------------ */

static float *
s_adversary_delta (const char *member, uint64_t data_seed, const fl_adversary_config_t *ac, size_t *n)
{
    fl_client_config_t cc = {.member = member, .seed = 5, .allow_plaintext = 1};
    fl_dataset_t *tr = s_data (data_seed), *te = s_data (data_seed);
    fl_adversary_t *adv = fl_adversary_new (ac, &cc, &tr, &te);
    FL_CHECK (adv != NULL && tr == NULL && te == NULL);
    float *d = adv ? s_train (fl_adversary_client (adv), 1, 1, n) : NULL;
    fl_adversary_destroy (&adv);
    FL_CHECK (adv == NULL);
    fl_dataset_destroy (&tr);
    fl_dataset_destroy (&te);
    return d;
}

static void
test_adversary_single (void)
{
    size_t n_h = 0, n0 = 0, n1 = 0;
    float *honest = s_honest_delta ("m", 1, &n_h);
    /* no attack: an honest member, bit for bit */
    fl_adversary_config_t none = {.attack = FL_ATTACK_NONE};
    fl_attack_params_defaults (&none.params);
    float *d0 = s_adversary_delta ("m", 1, &none, &n0);
    FL_CHECK (honest && d0 && n0 == n_h);
    for (size_t i = 0; honest && d0 && i < n_h; i++)
        FL_CHECK (d0[i] == honest[i]);
    /* scaling by 10 (Bagdasaryan et al.'s boosting) */
    fl_adversary_config_t scale = {.attack = FL_ATTACK_SCALE};
    fl_attack_params_defaults (&scale.params);
    float *d1 = s_adversary_delta ("m", 1, &scale, &n1);
    FL_CHECK (d1 && n1 == n_h);
    int nonzero = 0;
    for (size_t i = 0; honest && d1 && i < n_h; i++) {
        FL_CHECK (d1[i] == (float) (10.0 * honest[i]));
        nonzero |= honest[i] != 0;
    }
    FL_CHECK (nonzero);
    free (honest);
    free (d0);
    free (d1);

    /* refusals: an unknown attack; the data stay the caller's */
    fl_adversary_config_t bad = {.attack = FL_ATTACK_KIND_COUNT};
    fl_client_config_t cc = {.member = "m", .seed = 5, .allow_plaintext = 1};
    fl_dataset_t *tr = s_data (1), *te = s_data (1);
    FL_CHECK (fl_adversary_new (&bad, &cc, &tr, &te) == NULL);
    FL_CHECK (tr != NULL && te != NULL);
    /* and a member that cannot be built (no test rows) */
    fl_adversary_config_t ok = {.attack = FL_ATTACK_SIGN_FLIP};
    fl_attack_params_defaults (&ok.params);
    fl_dataset_t *none_te = NULL;
    FL_CHECK (fl_adversary_new (&ok, &cc, &tr, &none_te) == NULL);
    FL_CHECK (tr != NULL);
    fl_dataset_destroy (&tr);
    fl_dataset_destroy (&te);
}

/*  Rows of a equal to row i of b (3 features). */
static size_t
s_count_row (const fl_dataset_t *a, const fl_dataset_t *b, size_t i)
{
    size_t c = 0;
    for (size_t r = 0; r < fl_dataset_rows (a); r++)
        c += memcmp (fl_dataset_x (a) + r * 3, fl_dataset_x (b) + i * 3, 3 * sizeof (float)) == 0
             && fl_dataset_y (a)[r] == fl_dataset_y (b)[i];
    return c;
}

static void
test_adversary_rows_and_claim (void)
{
    fl_dataset_t *own = s_data (1);
    fl_rng_t *rng = fl_rng_new_u64 (3, 4);
    /* larger: every own row at least once, 60 in all, nothing invented */
    fl_dataset_t *big = fl_adversary_resample (own, 60, rng);
    FL_CHECK (big && fl_dataset_rows (big) == 60 && fl_dataset_features (big) == 3);
    size_t total = 0, all_once = 1;
    for (size_t i = 0; big && i < 24; i++) {
        size_t c = s_count_row (big, own, i);
        all_once &= c >= 1;
        total += c;
    }
    FL_CHECK (all_once && total == 60);
    /* smaller: 10 distinct own rows */
    fl_dataset_t *small = fl_adversary_resample (own, 10, rng);
    FL_CHECK (small && fl_dataset_rows (small) == 10);
    size_t distinct = 0;
    for (size_t i = 0; small && i < 24; i++) {
        size_t c = s_count_row (small, own, i);
        FL_CHECK (c <= 1);
        distinct += c;
    }
    FL_CHECK (distinct == 10);
    FL_CHECK (fl_adversary_resample (own, 0, rng) == NULL);
    fl_dataset_destroy (&big);
    fl_dataset_destroy (&small);

    size_t n = 0;
    /* a sign-flipper on 60 resampled rows: its UPDATE says 60 */
    fl_adversary_config_t ac = {.attack = FL_ATTACK_SIGN_FLIP, .train_rows = 60};
    fl_attack_params_defaults (&ac.params);
    client_sim_last_n = 0;
    float *d = s_adversary_delta ("m", 1, &ac, &n);
    FL_CHECK (d != NULL && client_sim_last_n == 60);
    free (d);
    /* and claiming 5000: the claim is what the coordinator receives */
    ac.claim_examples = 5000;
    client_sim_last_n = 0;
    d = s_adversary_delta ("m", 1, &ac, &n);
    FL_CHECK (d != NULL && client_sim_last_n == 5000);
    free (d);
    /* label flipping poisons no update, but the claim still goes out */
    fl_adversary_config_t lf = {.attack = FL_ATTACK_LABEL_FLIP, .claim_examples = 777};
    fl_attack_params_defaults (&lf.params);
    d = s_adversary_delta ("m", 1, &lf, &n);
    FL_CHECK (d != NULL && client_sim_last_n == 777);
    free (d);
    /* an honest member reports its 24 rows */
    free (s_honest_delta ("h", 1, &n));
    FL_CHECK (client_sim_last_n == 24);
    fl_rng_destroy (&rng);
    fl_dataset_destroy (&own);
}

static void
test_adversary_collusion (void)
{
    char dir[200];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-test-adversary") != NULL);
    size_t n = 0, na = 0, nb = 0;
    float *ha = s_honest_delta ("alpha", 1, &n);
    float *hb = s_honest_delta ("beta", 2, &n);
    fl_adversary_config_t ipm = {.attack = FL_ATTACK_IPM, .collude_dir = dir, .colluders = 2,
                                 .collude_timeout_ms = 1};
    fl_attack_params_defaults (&ipm.params);
    ipm.params.epsilon = 0.5;
    /* alpha arrives first: nobody else yet, so only its own update */
    float *da = s_adversary_delta ("alpha", 1, &ipm, &na);
    /* beta then finds alpha's honest update (not its crafted one) */
    ipm.collude_timeout_ms = 10000;
    float *db = s_adversary_delta ("beta", 2, &ipm, &nb);
    FL_CHECK (ha && hb && da && db && na == n && nb == n);
    for (size_t i = 0; ha && hb && da && db && i < n; i++) {
        FL_CHECK (da[i] == (float) (-0.5 * (double) ha[i]));
        double mean = ((double) hb[i] + (double) ha[i]) / 2;
        FL_CHECK_CLOSE (db[i], -0.5 * mean, 1e-7, 1e-6);
    }
    /* both honest updates were different: the pooling is visible */
    int differ = 0;
    for (size_t i = 0; ha && hb && i < n; i++)
        differ |= ha[i] != hb[i];
    FL_CHECK (differ);
    free (ha);
    free (hb);
    free (da);
    free (db);
    /* clean up: two .flc files, no temporary left */
    DIR *dh = opendir (dir);
    struct dirent *de;
    size_t files = 0, flc = 0;
    while (dh && (de = readdir (dh)) != NULL) {
        if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
            continue;
        files++;
        size_t len = strlen (de->d_name);
        flc += len > 4 && strcmp (de->d_name + len - 4, ".flc") == 0;
        char path[600];
        snprintf (path, sizeof path, "%s/%s", dir, de->d_name);
        unlink (path);
    }
    if (dh)
        closedir (dh);
    FL_CHECK (files == 2 && flc == 2);
    FL_CHECK (rmdir (dir) == 0);
}

/* ---- a secure round ----------------------------------------------------------- */

#define S_N 8
#define S_V 0.75f              /* every coordinate of the crafted update; L2 norm 0.75 sqrt(d) > C = 1 */

typedef struct {
    int calls, secure_calls;
    double clip_norm;
    int keep_clip;
    float value;              /* every coordinate of the crafted update */
} s_secure_spy_t;

static int
s_craft (void *arg, fl_client_update_t *info, float *update, size_t n)
{
    s_secure_spy_t *s = (s_secure_spy_t *) arg;
    s->calls++;
    s->secure_calls += info->secure && info->clip == 1;
    s->clip_norm = info->clip_norm;
    for (size_t i = 0; i < n; i++)
        update[i] = s->value;
    if (!s->keep_clip)
        info->clip = 0;
    return 0;
}

static int
s_in_train (void *ctx)
{
    return fl_round_phase ((fl_round_t *) ctx) == FL_ROUND_TRAIN;
}

/*  One secure training round of S_N members that all send the crafted
    update; returns the change of the global model (caller frees), n_out its
    length. */
static float *
s_secure_run (int keep_clip, float value, s_secure_spy_t *spy, size_t *n_out)
{
    uint8_t *sks[S_N];
    uint8_t ids[S_N][8];
    fl_client_t *clients[S_N];
    fl_roster_t *roster = round_sim_roster (S_N, sks);
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = S_N;
    cfg.rounds = 1;
    cfg.client_lr = 0.1;
    cfg.batch_size = 16;
    cfg.secure = 1;
    cfg.roster = roster;
    cfg.clip_norm = 1;
    cfg.liveness_ms = 1000000000;
    memcpy (cfg.run_id, "adversary-sec-01", 16);
    fl_round_t *round = fl_round_new (&cfg);
    FL_CHECK (round != NULL);
    fl_round_start (round, 0);
    memset (spy, 0, sizeof *spy);
    spy->keep_clip = keep_clip;
    spy->value = value;
    for (int i = 0; i < S_N; i++) {
        fl_dataset_t *tr = NULL, *te = NULL;
        FL_CHECK (round_sim_shard (S_N, (size_t) i, &tr, &te) == 0);
        char name[32];
        snprintf (name, sizeof name, "hospital-%d", i);
        fl_client_config_t cc = {.member = name, .seed = (uint64_t) i, .roster = roster, .identity_secret = sks[i],
                                 .update_hook = s_craft, .update_arg = spy};
        clients[i] = fl_client_new (&cc, &tr, &te);
        round_sim_id (ids[i], (size_t) i);
        fl_client_hello (clients[i]);
    }
    int64_t now = 0;
    /* up to the training round, to see the global model the members get */
    round_sim_t r = {.round = round, .clients = clients, .ids = ids, .n = S_N, .now = &now,
                     .max_passes = 100000, .advance_when_idle = 1, .ctx = round, .stop = s_in_train};
    round_sim_pump (&r);
    size_t np = fl_round_num_params (round);
    float *before = (float *) calloc (np ? np : 1, sizeof (float));
    memcpy (before, fl_round_params (round), np * sizeof (float));
    r.stop = NULL;
    round_sim_pump (&r);
    FL_CHECK (fl_round_phase (round) == FL_ROUND_DONE);
    for (size_t i = 0; i < np; i++)
        before[i] = fl_round_params (round)[i] - before[i];
    for (int i = 0; i < S_N; i++) {
        FL_CHECK (fl_client_secure_rounds (clients[i]) == 1);
        fl_client_destroy (&clients[i]);
        sodium_free (sks[i]);
    }
    fl_round_destroy (&round);
    fl_roster_destroy (&roster);
    *n_out = np;
    return before;
}

static void
test_secure_unclipped (void)
{
    s_secure_spy_t spy;
    size_t na = 0, nb = 0;
    float *unclipped = s_secure_run (0, S_V, &spy, &na);
    FL_CHECK (spy.calls == S_N && spy.secure_calls == S_N && spy.clip_norm == 1);
    float *clipped = s_secure_run (1, S_V, &spy, &nb);
    FL_CHECK (spy.calls == S_N && spy.secure_calls == S_N);
    FL_CHECK (na == nb && na >= 2);
    double norm = (double) S_V * sqrt ((double) na);
    double ra = 0, rb = 0;
    for (size_t i = 0; i < na; i++) {
        /* the same step for every coordinate, in proportion ||v|| : 1 */
        FL_CHECK_CLOSE (unclipped[i], unclipped[0], 1e-4, 1e-3);
        FL_CHECK_CLOSE (clipped[i], clipped[0], 1e-4, 1e-3);
        ra += unclipped[i];
        rb += clipped[i];
    }
    FL_CHECK (rb != 0);
    if (fl_test_verbose_)
        printf ("    secure round: step %.6g unclipped, %.6g clipped (||v|| = %.6g)\n", unclipped[0], clipped[0],
                norm);
    FL_CHECK_CLOSE (ra / rb, norm, 0, 1e-3);
    FL_CHECK (na && fabs (unclipped[0]) > fabs (clipped[0]));
    /* FedAvg with server step 1: the global model moved by exactly the
       crafted update (up to the fixed-point resolution) */
    FL_CHECK (na && fabs (unclipped[0] - S_V) < 1e-3);
    free (unclipped);
    free (clipped);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    zsys_set_logstream (stderr);
    if (!fl_test_verbose_)
        zsys_set_logsystem (false);
    FL_RUN (test_hook);
    FL_RUN (test_adversary_single);
    FL_RUN (test_adversary_collusion);
    FL_RUN (test_adversary_rows_and_claim);
    FL_RUN (test_secure_unclipped);
    FL_TEST_DONE ();
}
