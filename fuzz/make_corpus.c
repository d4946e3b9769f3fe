/*  make_corpus - writes the seed corpora of the fuzz targets:
        make_corpus OUTDIR      -> OUTDIR/<target>/seed-<name>
    Every seed is a valid input made by libfl's own writers (fl_wire writer,
    fl_roster_save, fl_modelfile_save, fl_checkpoint_encode) or, for
    fuzz_round, a recorded session of three in-process fl_clients against
    the fuzz target's own coordinator configuration, so the fuzzers start
    from inputs that reach deep into each decoder and every round phase.
    The committed fuzz/corpus/ was produced by this program (`make
    fuzz-corpus` in a fuzz build regenerates it); seeds are deterministic
    except the roster's keys, which are fresh key pairs. */
#include <czmq.h>
#include <errno.h>
#include <fl_checkpoint.h>
#include <fl_client.h>
#include <fl_dataset.h>
#include <fl_model.h>
#include <fl_modelfile.h>
#include <fl_roster.h>
#include <fl_round.h>
#include <fl_wire.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "fuzz_round.h"
#include "fuzz_secagg.h"
#include <fl_secagg_wire.h>

static const char *s_out;

static void
s_mkdir (const char *path)
{
    if (mkdir (path, 0755) != 0 && errno != EEXIST) {
        fprintf (stderr, "make_corpus: mkdir %s: %s\n", path, strerror (errno));
        exit (1);
    }
}

static void
s_seed (const char *target, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", s_out, target);
    s_mkdir (path);
    snprintf (path, sizeof path, "%s/%s/seed-%s", s_out, target, name);
    FILE *f = fopen (path, "wb");
    if (!f || fwrite (data, 1, len, f) != len || fclose (f) != 0) {
        fprintf (stderr, "make_corpus: cannot write %s\n", path);
        exit (1);
    }
}

static void
s_seed_file (const char *target, const char *name, const char *src)
{
    FILE *f = fopen (src, "rb");
    if (!f) {
        fprintf (stderr, "make_corpus: cannot read %s\n", src);
        exit (1);
    }
    static uint8_t buf[1 << 20];
    size_t len = fread (buf, 1, sizeof buf, f);
    fclose (f);
    s_seed (target, name, buf, len);
}

static const uint8_t s_run[16] = "fuzz-corpus-run1";

static void
s_wire_seed (fl_wire_writer_t *w, const char *name)
{
    uint8_t *buf;
    size_t len;
    if (!w || fl_wire_writer_finish (&w, &buf, &len) != 0) {
        fprintf (stderr, "make_corpus: wire seed %s failed\n", name);
        exit (1);
    }
    s_seed ("wire", name, buf, len);
    free (buf);
}

static void
s_wire (void)
{
    uint8_t fp[32] = {1, 2, 3};
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_HELLO, s_run, 0);
    fl_wire_put_str (w, FL_K_MEMBER, "hospital-01");
    fl_wire_put_bin (w, FL_K_FP, fp, 32);
    fl_wire_put_u64 (w, FL_K_N_TRAIN, 100);
    fl_wire_put_u64 (w, FL_K_N_TEST, 20);
    fl_wire_put_u64 (w, FL_K_FEATURES, 4);
    fl_wire_put_u64 (w, FL_K_CLASSES, 2);
    fl_wire_put_str (w, FL_K_MODEL, "");
    s_wire_seed (w, "hello");

    float delta[10] = {0.5f, -0.25f, 1e-3f, 0, 1, 2, 3, 4, 5, 6};
    w = fl_wire_writer_new (FL_WIRE_UPDATE, s_run, 3);
    fl_wire_put_f32s (w, FL_K_DELTA, delta, 10);
    fl_wire_put_u64 (w, FL_K_N, 50);
    fl_wire_put_f64 (w, FL_K_LOSS, 0.69);
    s_wire_seed (w, "update");

    uint64_t hist[4] = {1, 2, 3, 4};
    w = fl_wire_writer_new (FL_WIRE_EVAL_RESULT, s_run, 3);
    fl_wire_put_u64 (w, FL_K_N, 10);
    fl_wire_put_u64 (w, FL_K_CORRECT, 8);
    fl_wire_put_f64 (w, FL_K_LOSS_SUM, 3.5);
    fl_wire_put_u64 (w, FL_K_TRUE_POS, 4);
    fl_wire_put_u64 (w, FL_K_FALSE_POS, 1);
    fl_wire_put_u64 (w, FL_K_TRUE_NEG, 4);
    fl_wire_put_u64 (w, FL_K_FALSE_NEG, 1);
    fl_wire_put_u64s (w, FL_K_HIST_POS, hist, 4);
    fl_wire_put_u64s (w, FL_K_HIST_NEG, hist, 4);
    s_wire_seed (w, "eval_result");

    /* a secure run's round 0 request: the bucket's session (docs/WIRE.md) */
    {
        const uint8_t *mem[3] = {(const uint8_t *) "hospital-00", (const uint8_t *) "hospital-01",
                                 (const uint8_t *) "hospital-02"};
        size_t mlen[3] = {11, 11, 11};
        w = fl_wire_writer_new (FL_WIRE_STATS_REQUEST, s_run, 0);
        fl_wire_put_u64 (w, FL_K_SA_BUCKET, 0);
        fl_wire_put_u64 (w, FL_K_SA_INDEX, 1);
        fl_wire_put_u64 (w, FL_K_SA_N, 3);
        fl_wire_put_u64 (w, FL_K_SA_T, 2);
        fl_wire_put_u64 (w, FL_K_SA_K, 3);
        fl_wire_put_u64 (w, FL_K_SA_GRAPH, 0);
        fl_wire_put_bin_list (w, FL_K_SA_MEMBERS, mem, mlen, 3);
        uint32_t cohort[3] = {0, 1, 2};     /* the public bucket rule's input (docs/SECAGG.md §4.1) */
        fl_wire_put_u32s (w, FL_K_SA_COHORT, cohort, 3);
        fl_wire_put_u64 (w, FL_K_SA_BUCKETS, 1);
        s_wire_seed (w, "stats_request_secure");
    }

    w = fl_wire_writer_new (FL_WIRE_BYE, s_run, 9);
    fl_wire_put_str (w, FL_K_REASON, "done");
    s_wire_seed (w, "bye");

    /* one key of every kind */
    double f64s[2] = {1.5, -2};
    uint32_t u32s[3] = {1, 2, 0xffffffffu};
    uint64_t u64s[1] = {UINT64_MAX};
    uint32_t ids[3] = {7, 8, 9};
    const uint8_t share[8] = "share-01";
    const uint8_t *items[2] = {share, share};
    size_t lens[2] = {8, 4};
    w = fl_wire_writer_new (FL_WIRE_SELFTEST, s_run, 1);
    fl_wire_put_u64 (w, "u", 1);
    fl_wire_put_i64 (w, "i", -5);
    fl_wire_put_f64 (w, "f", 0.5);
    fl_wire_put_bool (w, "b", true);
    fl_wire_put_str (w, "s", "text");
    fl_wire_put_bin (w, "bin", share, 8);
    fl_wire_put_f32s (w, "f32s", delta, 3);
    fl_wire_put_f64s (w, "f64s", f64s, 2);
    fl_wire_put_u32s (w, "u32s", u32s, 3);
    fl_wire_put_u64s (w, "u64s", u64s, 1);
    fl_wire_put_u32_list (w, FL_K_IDS, ids, 3);
    fl_wire_put_bin_list (w, "shares", items, lens, 2);
    s_wire_seed (w, "selftest");
}

static void
s_roster (const char *tmpdir)
{
    fl_roster_t *r = fl_roster_new ();
    uint8_t pk[32], sk[64];
    char curve_pk[41], curve_sk[41];
    crypto_sign_keypair (pk, sk);
    zmq_curve_keypair (curve_pk, curve_sk);
    fl_roster_set_coordinator (r, pk, curve_pk, "tcp://127.0.0.1:5555");
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf (id, sizeof id, "hospital-%02d", i);
        crypto_sign_keypair (pk, sk);
        zmq_curve_keypair (curve_pk, curve_sk);
        fl_roster_add_member (r, id, pk, curve_pk);
    }
    char path[512];
    snprintf (path, sizeof path, "%s/roster.zpl", tmpdir);
    if (fl_roster_save (r, path) != 0)
        exit (1);
    fl_roster_destroy (&r);
    s_seed_file ("roster", "three-members", path);
    unlink (path);
}

static void
s_config (void)
{
    const char *full = "coordinator\n    rounds = 10\n    clients = 5\n    lr = 0.05\n"
                       "    model = \"mlp\"\n    quiet = 1\n";
    s_seed ("config", "full", full, strlen (full));
    const char *comment = "# a comment\ncoordinator\n    rounds = 3   # trailing\n"
                          "client\n    other = 1\n";
    s_seed ("config", "sections", comment, strlen (comment));
}

static void
s_csv (void)
{
    const char *a = "x1,x2,label\n1,2,0\n3.5,-4e-2,1\n0.0,\"7\",2\n";
    s_seed ("csv", "basic", a, strlen (a));
    const char *b = "\xef\xbb\xbf\"a\",\"b \"\"q\"\"\",label\r\n 1 ,\t2,1\r\n3,4,0\r\n\r\n";
    s_seed ("csv", "bom-crlf-quotes", b, strlen (b));
}

static void
s_checkpoint (void)
{
    fl_checkpoint_t *c = fl_checkpoint_new (s_run, 7);
    float params[6] = {0.5f, -1, 2, 3, 4, 5};
    double acc[6] = {1, 1, 1, 7, 2.0, 1.5};
    uint64_t rng[2] = {42, 9};
    fl_checkpoint_put_f32s (c, FL_CHECKPOINT_KEY_PARAMS, params, 6);
    fl_checkpoint_put_u64 (c, FL_CHECKPOINT_KEY_OPT_STEP, 7);
    fl_checkpoint_put_f64s (c, FL_CHECKPOINT_KEY_ACCOUNTANT, acc, 6);
    fl_checkpoint_put_u64s (c, FL_CHECKPOINT_KEY_RNG, rng, 2);
    fl_checkpoint_put_f64 (c, "lr", 0.05);
    fl_checkpoint_put_bytes (c, FL_CHECKPOINT_KEY_METRICS, "round,acc\n1,0.5\n", 16);
    uint8_t *buf;
    size_t len;
    if (fl_checkpoint_encode (c, &buf, &len) != 0)
        exit (1);
    s_seed ("checkpoint", "coordinator", buf, len);
    free (buf);
    fl_checkpoint_destroy (&c);
    c = fl_checkpoint_new (s_run, 0);
    fl_checkpoint_encode (c, &buf, &len);
    s_seed ("checkpoint", "empty", buf, len);
    free (buf);
    fl_checkpoint_destroy (&c);
}

static void
s_modelfile (const char *tmpdir)
{
    const char *specs[2][2] = { {"logreg", ""}, {"mlp", "4"} };
    for (int k = 0; k < 2; k++) {
        fl_model_config_t mc;
        memset (&mc, 0, sizeof mc);
        mc.n_inputs = 3;
        mc.n_classes = 2;
        mc.seed = 1;
        if (specs[k][1][0] && fl_model_parse_hidden (specs[k][1], &mc) != 0)
            exit (1);
        fl_model_t *m = fl_model_new (specs[k][0], &mc);
        float mean[3] = {0, 1, 2}, std[3] = {1, 1, 2};
        char path[512];
        snprintf (path, sizeof path, "%s/model.flm", tmpdir);
        if (!m || fl_modelfile_save (path, m, specs[k][1], k ? mean : NULL, k ? std : NULL, s_run, 5) != 0)
            exit (1);
        s_seed_file ("modelfile", specs[k][0], path);
        unlink (path);
        fl_model_destroy (&m);
    }
}

/* ---- fuzz_round: a recorded session ------------------------------------- */

static uint8_t s_rec[1 << 20];
static size_t s_rec_len;

static void
s_record (int peer, const uint8_t *data, size_t len)
{
    if (len > 0xffff || s_rec_len + 3 + len > sizeof s_rec) {
        fprintf (stderr, "make_corpus: round message too large to record\n");
        exit (1);
    }
    s_rec[s_rec_len++] = (uint8_t) peer;    /* clock advance 0 */
    s_rec[s_rec_len++] = (uint8_t) (len & 0xff);
    s_rec[s_rec_len++] = (uint8_t) (len >> 8);
    memcpy (s_rec + s_rec_len, data, len);
    s_rec_len += len;
}

static fl_dataset_t *
s_dataset (size_t n, int client)
{
    float x[64 * FUZZ_ROUND_FEATURES];
    int32_t y[64];
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t) ((i + (size_t) client) % 2);
        for (size_t j = 0; j < FUZZ_ROUND_FEATURES; j++)
            x[i * FUZZ_ROUND_FEATURES + j] = (float) (y[i] ? 1.0 : -1.0) * (float) (j + 1)
                                             + 0.1f * (float) ((i * 7 + j * 3) % 5);
    }
    return fl_dataset_new (n, FUZZ_ROUND_FEATURES, x, y, FUZZ_ROUND_CLASSES, NULL, NULL);
}

/*  Runs `nclients` clients against the fuzz target's coordinator
    configuration at a constant clock, recording every client message. */
static void
s_round_session (int nclients, const char *name)
{
    fl_round_config_t cfg;
    fuzz_round_config (&cfg);
    fl_round_t *r = fl_round_new (&cfg);
    fl_round_start (r, 0);
    fl_client_t *clients[FUZZ_ROUND_PEERS] = {0};
    uint8_t ids[FUZZ_ROUND_PEERS][FUZZ_ROUND_IDBYTES];
    for (int i = 0; i < nclients; i++) {
        fl_dataset_t *tr = s_dataset (24, i), *te = s_dataset (8, i + 1);
        char member[32];
        snprintf (member, sizeof member, "hospital-%d", i);
        fl_client_config_t cc;
        memset (&cc, 0, sizeof cc);
        cc.member = member;
        cc.seed = (uint64_t) i;
        cc.allow_plaintext = 1;     /* the fuzz target's coordinator runs plaintext rounds */
        clients[i] = fl_client_new (&cc, &tr, &te);
        if (!clients[i])
            exit (1);
        fuzz_round_peer_id (i, ids[i]);
        fl_client_hello (clients[i]);
    }
    s_rec_len = 0;
    for (int iter = 0; iter < 10000; iter++) {
        int moved = 0;
        for (int i = 0; i < nclients; i++) {
            uint8_t *data;
            size_t len;
            while (fl_client_next_out (clients[i], &data, &len)) {
                s_record (i, data, len);
                fl_round_on_message (r, 0, ids[i], FUZZ_ROUND_IDBYTES, "", data, len);
                free (data);
                moved = 1;
            }
        }
        const uint8_t *id;
        size_t id_len, len;
        uint8_t *data;
        while (fl_round_next_out (r, &id, &id_len, &data, &len)) {
            for (int i = 0; i < nclients; i++)
                if (id_len == FUZZ_ROUND_IDBYTES && memcmp (id, ids[i], id_len) == 0)
                    fl_client_on_message (clients[i], data, len);
            free (data);
            moved = 1;
        }
        fl_round_on_tick (r, 0);
        if (!moved)
            break;
    }
    fprintf (stderr, "make_corpus: round session '%s' ended in phase %s after round %llu\n", name,
             fl_round_phase_name (fl_round_phase (r)), (unsigned long long) fl_round_current (r));
    s_seed ("round", name, s_rec, s_rec_len);
    for (int i = 0; i < nclients; i++)
        fl_client_destroy (&clients[i]);
    fl_round_destroy (&r);
}

/* A whole honest secure-aggregation session of one bucket (fuzz_secagg.h):
   every message the server and client 0 receive, with the server's phase
   deadlines, so fuzz_secagg starts deep inside the protocol. */
static uint8_t s_sa_rec[1 << 20];
static size_t s_sa_len;

static void
s_sa_record (uint8_t op, const fl_secagg_msg_t *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (msg && fl_secagg_msg_to_wire (msg, fuzz_sa_run, 1, 0, &buf, &len) != 0)
        exit (1);
    if (s_sa_len + 3 + len > sizeof s_sa_rec || len > 65535)
        exit (1);
    s_sa_rec[s_sa_len++] = op;
    s_sa_rec[s_sa_len++] = (uint8_t) len;
    s_sa_rec[s_sa_len++] = (uint8_t) (len >> 8);
    if (len)
        memcpy (s_sa_rec + s_sa_len, buf, len);
    s_sa_len += len;
    free (buf);
}

static void
s_secagg_session (void)
{
    uint8_t pks[FUZZ_SA_N * 32], sks[FUZZ_SA_N][64];
    for (uint32_t i = 0; i < FUZZ_SA_N; i++)
        fuzz_sa_identity (i, pks + 32 * i, sks[i]);
    fl_secagg_config_t cfg;
    fuzz_sa_config (&cfg, pks, 0, NULL);
    fl_secagg_server_t *srv = fl_secagg_server_new (&cfg);
    fl_secagg_client_t *cli[FUZZ_SA_N];
    uint32_t input[FUZZ_SA_M] = {0};
    fl_secagg_msg_t *to_server[FUZZ_SA_N] = {0};
    for (uint32_t i = 0; i < FUZZ_SA_N; i++) {
        fuzz_sa_config (&cfg, pks, i, sks[i]);
        cli[i] = fl_secagg_client_new (&cfg);
        fl_secagg_client_set_input (cli[i], input);
        fl_secagg_client_start (cli[i], &to_server[i]);
    }
    s_sa_len = 0;
    for (int phase = 0; phase < 5; phase++) {
        for (uint32_t i = 0; i < FUZZ_SA_N; i++)
            if (to_server[i]) {
                s_sa_record (0, to_server[i]);
                fl_secagg_server_handle (srv, to_server[i]);
                fl_secagg_msg_destroy (&to_server[i]);
            }
        s_sa_record (2, NULL);
        fl_secagg_server_deadline (srv);
        fl_secagg_msg_t *q;
        while ((q = fl_secagg_server_next_out (srv))) {
            if (q->receiver < FUZZ_SA_N) {
                if (q->receiver == 0)
                    s_sa_record (1, q);
                fl_secagg_client_handle (cli[q->receiver], q, &to_server[q->receiver]);
            }
            fl_secagg_msg_destroy (&q);
        }
    }
    fprintf (stderr, "make_corpus: secagg session ended in server state %s\n",
             fl_secagg_server_state_name ((int) fl_secagg_server_state (srv)));
    s_seed ("secagg", "honest-session", s_sa_rec, s_sa_len);
    for (uint32_t i = 0; i < FUZZ_SA_N; i++)
        fl_secagg_client_destroy (&cli[i]);
    fl_secagg_server_destroy (&srv);
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: make_corpus OUTDIR\n");
        return 2;
    }
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    zsys_set_logstream (NULL);
    s_out = argv[1];
    s_mkdir (s_out);
    char tmpdir[] = "/tmp/fl-make-corpus-XXXXXX";
    if (!mkdtemp (tmpdir))
        return 1;
    s_wire ();
    s_roster (tmpdir);
    s_config ();
    s_csv ();
    s_checkpoint ();
    s_modelfile (tmpdir);
    s_round_session (2, "two-clients");
    s_round_session (3, "three-clients");
    s_secagg_session ();
    rmdir (tmpdir);
    return 0;
}
