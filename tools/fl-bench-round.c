/*  fl-bench-round - whole training rounds end to end, against their floor.

    Two ways, both with the real coordinator round (session/fl_round), the
    real member sessions (session/fl_client) and the real wire codec:

    in-process (default): n members and the coordinator in one process on
      one core, exchanging their encoded payloads through an in-process
      transport (every payload is copied once, as a ZeroMQ frame would be).
      Per training round (TRAIN + its EVAL, after round 0's statistics) it
      prints, summed over all parties (one core, so the sum is the wall
      time of the round):
        compute   time inside fl_client / fl_round (training, masking,
                  unmasking, aggregation, encoding), minus codec;
        codec     fl_wire_decode of every payload (measured by decoding each
                  payload once more, outside the other timers);
        xport     the in-process transport (one copy of every payload);
        wait      0 here: nothing waits for a deadline or a poll interval;
        floor     secure: the cryptography the round cannot avoid, at rates
                  measured in this run (ChaCha20 keystream of the masks at
                  the fl_prg rate, X25519 agreements, Ed25519 signatures and
                  checks; docs/BENCHMARKS.md) plus the plaintext round's
                  compute; plaintext: that compute plus the round's bytes at
                  the ZeroMQ loopback rate measured here.
    --procs: real processes over TCP loopback: runs fl-sim (next to this
      program; its bundled WDBC data, not the synthetic rows) with --clients
      n, secure and --plaintext, and reads the coordinator's per-round
      seconds from OUT/metrics.csv; prints the median round's wall seconds
      (rounds >= 3), CPU seconds per round of all processes (getrusage
      of the children, the difference of a 2R- and an R-round run), and
      wait = wall - CPU / 2 (2 cores) where positive.
    --memory: real processes as --procs (fl-sim, --rounds R, default 3),
      printing the coordinator's peak resident memory (ru_maxrss from
      fl-sim's wait4() of the fl-coordinator child) for each n at fixed m,
      secure and plaintext, beside n x m x 4 bytes (one float32 model per
      member), and the ratio of the largest n's peak to the smallest's;
      default --n 8,32,128 --m 100001.

    Members hold synthetic data (--rows training rows, 30 features, 2
    classes); m = 31 is the logistic regression, larger m an MLP with one
    hidden layer of (m - 1) / 32 units (m = 32 h + 1).

    Usage: fl-bench-round [--n LIST] [--m LIST] [--rounds R] [--max-nm X]
                          [--rows N] [--procs] [--memory] [--plaintext-only]
      default: --n 8,100,1000 --m 31,100001,1000001 --rounds 2
               --max-nm 1e7 (combinations with n x m above it are skipped
               and listed: memory and time on a 2-core machine)
*/
#include <czmq.h>
#include <inttypes.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fl_client.h"
#include "fl_dataset.h"
#include "fl_prg.h"
#include "fl_roster.h"
#include "fl_round.h"
#include "fl_secagg.h"
#include "fl_wire.h"

/* CPU seconds of this (single-threaded) process: the in-process figures
   and the crypto rates do not move with the load of a shared machine */
static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double
s_wall (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- rates the floor is made of ------------------------------------------- */

typedef struct {
    double chacha_bps;      /* fl_prg_add, bytes per second */
    double x25519_s;        /* one crypto_scalarmult */
    double sign_s;          /* one crypto_sign_detached */
    double verify_s;        /* one crypto_sign_verify_detached */
    double zmq_bps;         /* ZeroMQ DEALER -> ROUTER over tcp://127.0.0.1, 1 MiB messages */
} rates_t;

static double
s_zmq_rate (void)
{
    zsock_t *rt = zsock_new (ZMQ_ROUTER), *dl = zsock_new (ZMQ_DEALER);
    if (!rt || !dl)
        return 0;
    zsock_set_rcvhwm (rt, 100);
    zsock_set_sndhwm (dl, 100);
    int port = zsock_bind (rt, "tcp://127.0.0.1:*");
    if (port < 0 || zsock_connect (dl, "tcp://127.0.0.1:%d", port) != 0)
        return 0;
    size_t len = (size_t) 1 << 20;
    uint8_t *buf = (uint8_t *) calloc (1, len);
    int msgs = 400;
    /* one message first: the connection is up */
    zsock_send (dl, "b", buf, len);
    zmsg_t *w = zmsg_recv (rt);
    zmsg_destroy (&w);
    double t0 = s_wall ();
    for (int i = 0; i < msgs; i++) {
        zsock_send (dl, "b", buf, len);
        zmsg_t *m = zmsg_recv (rt);
        zmsg_destroy (&m);
    }
    double dt = s_wall () - t0;
    free (buf);
    zsock_destroy (&dl);
    zsock_destroy (&rt);
    return (double) msgs * len / dt;
}

static rates_t
s_rates (void)
{
    rates_t r;
    size_t m = 1u << 20;
    uint32_t *v = (uint32_t *) calloc (m, 4);
    uint8_t seed[32] = {1}, ctx[32] = {2};
    fl_prg_add (v, m, seed, ctx);
    int reps = 20;
    double t0 = s_now ();
    for (int i = 0; i < reps; i++) {
        seed[0] = (uint8_t) i;
        fl_prg_add (v, m, seed, ctx);
    }
    r.chacha_bps = (double) reps * m * 4 / (s_now () - t0);
    free (v);
    uint8_t sk[32], pk[32], out[32];
    crypto_box_keypair (pk, sk);
    t0 = s_now ();
    for (int i = 0; i < 1000; i++)
        if (crypto_scalarmult (out, sk, pk) != 0)
            abort ();
    r.x25519_s = (s_now () - t0) / 1000;
    uint8_t spk[32], ssk[64], sig[64], msg[32] = {0};
    crypto_sign_keypair (spk, ssk);
    t0 = s_now ();
    for (int i = 0; i < 1000; i++)
        crypto_sign_detached (sig, NULL, msg, 32, ssk);
    r.sign_s = (s_now () - t0) / 1000;
    t0 = s_now ();
    for (int i = 0; i < 1000; i++)
        if (crypto_sign_verify_detached (sig, msg, 32, spk) != 0)
            abort ();
    r.verify_s = (s_now () - t0) / 1000;
    sodium_memzero (sk, sizeof sk);
    sodium_memzero (ssk, sizeof ssk);
    r.zmq_bps = s_zmq_rate ();
    return r;
}

/*  The cryptographic floor of one secure aggregation of m values over a
    bucket of n with k neighbours (Bell et al. 2020, SecAgg+; docs/SECAGG.md):
    per member two key pairs (2 X25519 base multiplications), 1 signature
    on its advertisement and 1 on the consistency check, k advertisement
    and k consistency signature checks, 2k X25519 agreements (share
    encryption and pairwise masks), and k + 1 mask streams of m words; the
    coordinator expands the n self masks again to unmask.  Seconds, one
    core. */
static double
s_secagg_floor (const rates_t *r, uint32_t n, uint32_t k, size_t m)
{
    double per = 2 * r->x25519_s + 2 * r->sign_s + 2.0 * k * r->verify_s + 2.0 * k * r->x25519_s
                 + (double) (k + 1) * (double) m * 4 / r->chacha_bps;
    return n * per + (double) n * (double) m * 4 / r->chacha_bps;
}

/* ---- in-process rounds ------------------------------------------------------ */

#define FEATURES 30

typedef struct {
    double compute, codec, xport, wall;
    uint64_t bytes;          /* payload bytes moved, both directions */
} acc_t;

typedef struct {
    fl_round_t *round;
    fl_client_t **clients;
    size_t n;
    acc_t train;             /* TRAIN and EVAL phases of rounds >= 1 */
    acc_t *cur;              /* where the current work is counted (NULL: round 0, not counted) */
} sim_t;

static void
s_id (uint8_t id[8], size_t i)
{
    memcpy (id, "mb", 2);
    uint32_t v = (uint32_t) i;
    memcpy (id + 2, &v, 4);
    id[6] = id[7] = '#';
}

static size_t
s_id_index (const uint8_t *id, size_t len)
{
    uint32_t v;
    if (len != 8)
        return SIZE_MAX;
    memcpy (&v, id + 2, 4);
    return v;
}

/* one more decode of the payload, timed: the codec's share */
static void
s_codec (sim_t *s, const uint8_t *data, size_t len)
{
    if (!s->cur)
        return;
    char why[128];
    fl_wire_limits_t lim = fl_wire_limits_default ();
    double t0 = s_now ();
    fl_wire_msg_t *m = fl_wire_decode (data, len, &lim, why, sizeof why);
    s->cur->codec += s_now () - t0;
    fl_wire_msg_destroy (&m);
}

/* the in-process transport: one copy of the payload, as a frame */
static uint8_t *
s_xport (sim_t *s, const uint8_t *data, size_t len)
{
    double t0 = s_now ();
    uint8_t *copy = (uint8_t *) malloc (len ? len : 1);
    if (!copy)
        abort ();
    memcpy (copy, data, len);
    if (s->cur) {
        s->cur->xport += s_now () - t0;
        s->cur->bytes += len;
    }
    return copy;
}

static void
s_where (sim_t *s)
{
    fl_round_phase_t ph = fl_round_phase (s->round);
    s->cur = (ph == FL_ROUND_TRAIN || ph == FL_ROUND_EVAL) && fl_round_current (s->round) >= 1 ? &s->train : NULL;
}

/* Moves payloads until the run ends.  Returns 0 when DONE. */
static int
s_pump (sim_t *s)
{
    int64_t now = zclock_mono ();
    for (;;) {
        int moved = 0;
        for (size_t i = 0; i < s->n; i++) {
            uint8_t *data;
            size_t len;
            for (;;) {
                s_where (s);
                double t0 = s_now ();
                int got = fl_client_next_out (s->clients[i], &data, &len);
                if (s->cur)
                    s->cur->compute += s_now () - t0;
                if (!got)
                    break;
                uint8_t *frame = s_xport (s, data, len);
                free (data);
                s_codec (s, frame, len);
                uint8_t id[8];
                s_id (id, i);
                t0 = s_now ();
                fl_round_on_message (s->round, now, id, 8, "", frame, len);
                if (s->cur)
                    s->cur->compute += s_now () - t0;
                free (frame);
                moved = 1;
            }
        }
        for (;;) {
            const uint8_t *id;
            size_t id_len, len;
            uint8_t *data;
            s_where (s);
            double t0 = s_now ();
            int got = fl_round_next_out (s->round, &id, &id_len, &data, &len);
            if (s->cur)
                s->cur->compute += s_now () - t0;
            if (!got)
                break;
            size_t i = s_id_index (id, id_len);
            uint8_t *frame = s_xport (s, data, len);
            free (data);
            if (i < s->n) {
                s_codec (s, frame, len);
                t0 = s_now ();
                fl_client_on_message (s->clients[i], frame, len);
                if (s->cur)
                    s->cur->compute += s_now () - t0;
            }
            free (frame);
            moved = 1;
        }
        s_where (s);
        double t0 = s_now ();
        fl_round_on_tick (s->round, now);
        if (s->cur)
            s->cur->compute += s_now () - t0;
        fl_round_phase_t ph = fl_round_phase (s->round);
        if (ph == FL_ROUND_DONE)
            return 0;
        if (ph == FL_ROUND_FAILED) {
            fprintf (stderr, "fl-bench-round: the run failed: %s\n", fl_round_failure (s->round));
            return -1;
        }
        if (!moved) {
            fprintf (stderr, "fl-bench-round: the run stalled in %s\n", fl_round_phase_name (ph));
            return -1;
        }
    }
}

/* synthetic member data: two Gaussian-ish classes, seeded by member */
static fl_dataset_t *
s_data (size_t rows, size_t member, uint32_t salt)
{
    float *x = (float *) malloc (rows * FEATURES * sizeof (float));
    int32_t *y = (int32_t *) malloc (rows * sizeof (int32_t));
    uint32_t st = (uint32_t) member * 2654435761u + salt + 1;
    for (size_t r = 0; r < rows; r++) {
        y[r] = (int32_t) ((r + member) & 1);
        for (size_t j = 0; j < FEATURES; j++) {
            st = st * 1664525u + 1013904223u;
            x[r * FEATURES + j] = (float) y[r] * (j % 3 == 0 ? 1.0f : 0.0f) + (float) (st >> 8) / (1u << 24) - 0.5f;
        }
    }
    fl_dataset_t *d = fl_dataset_new (rows, FEATURES, x, y, 2, NULL, NULL);
    free (x);
    free (y);
    return d;
}

typedef struct {
    double per_round;        /* wall seconds of one training round (TRAIN + EVAL) */
    acc_t a;                 /* per round */
    size_t m;
    uint32_t k;
} inproc_t;

static int
s_inproc (size_t n, size_t m, int secure, uint64_t rounds, size_t rows, inproc_t *res)
{
    memset (res, 0, sizeof *res);
    fl_roster_t *roster = fl_roster_new ();
    uint8_t cpk[32], csk[64];
    crypto_sign_keypair (cpk, csk);
    sodium_memzero (csk, sizeof csk);
    zcert_t *cc = zcert_new ();
    fl_roster_set_coordinator (roster, cpk, zcert_public_txt (cc), NULL);
    zcert_destroy (&cc);
    uint8_t **sks = (uint8_t **) calloc (n, sizeof *sks);
    char name[32];
    for (size_t i = 0; i < n; i++) {
        snprintf (name, sizeof name, "member-%zu", i);
        uint8_t pk[32];
        sks[i] = (uint8_t *) sodium_malloc (64);
        crypto_sign_keypair (pk, sks[i]);
        zcert_t *c = zcert_new ();
        if (fl_roster_add_member (roster, name, pk, zcert_public_txt (c)) != 0)
            abort ();
        zcert_destroy (&c);
    }
    fl_round_config_t cfg;
    fl_round_config_default (&cfg);
    cfg.min_clients = n;
    cfg.rounds = rounds;
    cfg.secure = secure;
    cfg.roster = roster;
    cfg.local_epochs = 1;
    cfg.batch_size = 16;
    if (m > 31) {
        snprintf (cfg.model, sizeof cfg.model, "mlp");
        snprintf (cfg.hidden, sizeof cfg.hidden, "%zu", (m - 1) / 32);
    }
    randombytes_buf (cfg.run_id, sizeof cfg.run_id);
    sim_t s;
    memset (&s, 0, sizeof s);
    s.n = n;
    s.round = fl_round_new (&cfg);
    s.clients = (fl_client_t **) calloc (n, sizeof *s.clients);
    int rc = -1;
    if (!s.round)
        goto done;
    for (size_t i = 0; i < n; i++) {
        fl_dataset_t *tr = s_data (rows, i, 1), *te = s_data (rows / 2 + 1, i, 2);
        snprintf (name, sizeof name, "member-%zu", i);
        fl_client_config_t ccfg = {.member = name, .seed = (uint64_t) i, .roster = secure ? roster : NULL,
                                   .identity_secret = secure ? sks[i] : NULL, .allow_plaintext = !secure};
        s.clients[i] = fl_client_new (&ccfg, &tr, &te);
        if (!s.clients[i])
            goto done;
        fl_client_hello (s.clients[i]);
    }
    fl_round_start (s.round, zclock_mono ());
    /* wall time of the counted phases: rounds >= 1 */
    double t0 = s_now ();
    rc = s_pump (&s);
    (void) t0;
    if (rc == 0) {
        res->m = fl_round_num_params (s.round);
        double d;
        uint32_t k = (uint32_t) n - 1, t;
        if (secure && fl_secagg_params_choose_auto ((uint32_t) n, cfg.sa_corrupt, &d, &k, &t) != 0)
            k = (uint32_t) n - 1;
        res->k = k;
        res->a = s.train;
        res->a.compute -= res->a.codec;       /* the decode inside the sessions is counted as codec */
        res->a.compute /= (double) rounds;
        res->a.codec /= (double) rounds;
        res->a.xport /= (double) rounds;
        res->a.bytes /= rounds;
        res->per_round = res->a.compute + res->a.codec + res->a.xport;
    }
done:
    for (size_t i = 0; i < n; i++) {
        fl_client_destroy (&s.clients[i]);
        sodium_free (sks[i]);
    }
    free (s.clients);
    free (sks);
    fl_round_destroy (&s.round);
    fl_roster_destroy (&roster);
    return rc;
}

/* ---- real processes over loopback (fl-sim) -------------------------------- */

typedef struct {
    double wall_per_round, cpu_per_round;
    int ok;
} procs_t;

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/*  One fl-sim run of `rounds` rounds: the CPU seconds of all its processes
    (getrusage of the children), and the median of the coordinator's
    per-round seconds over rounds >= 3 (round 1 carries round 0's
    statistics and the first connections) into *median.  0, or -1. */
static int
s_sim_run (const char *bindir, size_t n, size_t m, int secure, uint64_t rounds, double *cpu, double *median,
           double *peak_mib)
{
    char dir[] = "/tmp/fl-bench-round-XXXXXX";
    if (!mkdtemp (dir))
        return -1;
    char cmd[2048], hidden[64] = "";
    if (m > 31)
        snprintf (hidden, sizeof hidden, " --model mlp --hidden %zu", (m - 1) / 32);
    snprintf (cmd, sizeof cmd, "%s/fl-sim --clients %zu --rounds %" PRIu64 "%s%s --no-baselines --quiet --out %s/out "
                               ">%s/sim.log 2>&1", bindir, n, rounds, hidden, secure ? "" : " --plaintext", dir, dir);
    struct rusage before, after;
    getrusage (RUSAGE_CHILDREN, &before);
    int st = system (cmd);
    getrusage (RUSAGE_CHILDREN, &after);
    *cpu = (after.ru_utime.tv_sec - before.ru_utime.tv_sec) + (after.ru_stime.tv_sec - before.ru_stime.tv_sec)
           + 1e-6 * ((after.ru_utime.tv_usec - before.ru_utime.tv_usec)
                     + (after.ru_stime.tv_usec - before.ru_stime.tv_usec));
    char path[1200];
    snprintf (path, sizeof path, "%s/out/metrics.csv", dir);
    FILE *f = fopen (path, "r");
    double secs[4096];
    size_t got = 0;
    if (st == 0 && f) {
        char line[2048];
        while (fgets (line, sizeof line, f) && got < 4096) {
            /* round,ready,cohort,updates,...: seconds is the 17th field */
            if (line[0] < '0' || line[0] > '9')
                continue;
            char *p = line;
            int field = 0;
            while (field < 16 && (p = strchr (p, ',')) != NULL) {
                p++;
                field++;
            }
            if (p && strtoull (line, NULL, 10) >= 3)
                secs[got++] = strtod (p, NULL);
        }
    }
    if (f)
        fclose (f);
    /* fl-sim prints the coordinator's ru_maxrss (wait4 of its child):
       "fl-sim: coordinator: ... peak memory X MiB" */
    *peak_mib = 0;
    snprintf (path, sizeof path, "%s/sim.log", dir);
    if (st == 0 && (f = fopen (path, "r")) != NULL) {
        char line[2048];
        while (fgets (line, sizeof line, f)) {
            const char *p = strstr (line, "fl-sim: coordinator:");
            if (p && (p = strstr (p, "peak memory ")) != NULL)
                *peak_mib = strtod (p + strlen ("peak memory "), NULL);
        }
        fclose (f);
    }
    if (!got) {
        fprintf (stderr, "fl-bench-round: fl-sim failed (exit %d); see %s/sim.log\n", st, dir);
        return -1;
    }
    qsort (secs, got, sizeof secs[0], s_cmp_double);
    *median = got % 2 ? secs[got / 2] : (secs[got / 2 - 1] + secs[got / 2]) / 2;
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    if (system (cmd) != 0)
        fprintf (stderr, "fl-bench-round: could not remove %s\n", dir);
    return 0;
}

/*  Wall: the median round of a run of 2R rounds; CPU per round: the CPU of
    that run minus a run of R rounds, over R (start-up, keys and round 0
    cancel out). */
static procs_t
s_procs (const char *bindir, size_t n, size_t m, int secure, uint64_t rounds)
{
    procs_t r = {0, 0, 0};
    double c1, c2, w1, w2, p1, p2;
    if (rounds < 3)
        rounds = 3;
    if (s_sim_run (bindir, n, m, secure, rounds, &c1, &w1, &p1) != 0
        || s_sim_run (bindir, n, m, secure, 2 * rounds, &c2, &w2, &p2) != 0)
        return r;
    r.wall_per_round = w2;
    r.cpu_per_round = (c2 - c1) / (double) rounds;
    r.ok = 1;
    return r;
}

/*  --memory: the coordinator's peak RSS (MiB) for each n of ns at fixed m,
    secure and plaintext, one fl-sim run of `rounds` rounds each. */
static int
s_memory (const char *bindir, const size_t *ns, size_t nn, size_t m, uint64_t rounds)
{
    printf ("coordinator peak resident memory (ru_maxrss, real processes: fl-sim, fl-coordinator + n fl-client over "
            "TCP loopback), m = %zu, %" PRIu64 " rounds\n%6s %9s %-6s %11s %11s\n", m, rounds, "n", "m", "mode",
            "peak MiB", "n*m*4 MiB");
    for (int secure = 1; secure >= 0; secure--) {
        double first = 0, last = 0;
        size_t n_first = 0, n_last = 0;
        for (size_t a = 0; a < nn; a++) {
            double cpu, med, peak;
            if (ns[a] > 256 || s_sim_run (bindir, ns[a], m, secure, rounds, &cpu, &med, &peak) != 0 || peak <= 0) {
                printf ("%6zu %9zu %-6s  failed\n", ns[a], m, secure ? "secure" : "plain");
                continue;
            }
            printf ("%6zu %9zu %-6s %11.1f %11.1f\n", ns[a], m, secure ? "secure" : "plain", peak,
                    (double) ns[a] * (double) m * 4 / 1048576.0);
            fflush (stdout);
            if (!n_first) {
                first = peak;
                n_first = ns[a];
            }
            last = peak;
            n_last = ns[a];
        }
        if (n_first && n_last != n_first)
            printf ("%-6s ratio peak(n = %zu) / peak(n = %zu) = %.2f\n", secure ? "secure" : "plain", n_last,
                    n_first, last / first);
    }
    return 0;
}

/* ---- main -------------------------------------------------------------------- */

static size_t
s_list (const char *arg, size_t *out, size_t cap)
{
    size_t k = 0;
    const char *p = arg;
    while (*p && k < cap) {
        char *end;
        double v = strtod (p, &end);
        if (end == p || v < 1)
            return 0;
        out[k++] = (size_t) v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return 0;
    }
    return k;
}

int
main (int argc, char **argv)
{
    size_t ns[8] = {8, 100, 1000}, ms[8] = {31, 100001, 1000001};
    size_t nn = 3, nm = 3, rows = 32;
    uint64_t rounds = 2;
    double max_nm = 1e7;
    int procs = 0, memory = 0, n_given = 0, m_given = 0, r_given = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp (argv[i], "--n") && i + 1 < argc)
            nn = s_list (argv[++i], ns, 8), n_given = 1;
        else if (!strcmp (argv[i], "--m") && i + 1 < argc)
            nm = s_list (argv[++i], ms, 8), m_given = 1;
        else if (!strcmp (argv[i], "--rounds") && i + 1 < argc)
            rounds = strtoull (argv[++i], NULL, 10), r_given = 1;
        else if (!strcmp (argv[i], "--max-nm") && i + 1 < argc)
            max_nm = strtod (argv[++i], NULL);
        else if (!strcmp (argv[i], "--rows") && i + 1 < argc)
            rows = (size_t) strtoull (argv[++i], NULL, 10);
        else if (!strcmp (argv[i], "--procs"))
            procs = 1;
        else if (!strcmp (argv[i], "--memory"))
            memory = 1;
        else {
            fprintf (stderr, "usage: fl-bench-round [--n 8,100,1000] [--m 31,100001,1000001] [--rounds R] "
                             "[--max-nm X] [--rows N] [--procs] [--memory]\n");
            return 2;
        }
    }
    if (!nn || !nm || rounds < 1 || rows < 2) {
        fprintf (stderr, "fl-bench-round: bad --n, --m, --rounds or --rows\n");
        return 2;
    }
    if (sodium_init () < 0)
        return 1;
    if (memory) {
        char self_path[1024];
        snprintf (self_path, sizeof self_path, "%s", argv[0]);
        const char *dir = strchr (self_path, '/') ? dirname (self_path) : ".";
        if (!n_given) {
            ns[0] = 8, ns[1] = 32, ns[2] = 128;
            nn = 3;
        }
        return s_memory (dir, ns, nn, m_given ? ms[0] : 100001, r_given && rounds > 3 ? rounds : 3);
    }
    zsys_init ();
    zsys_set_logstream (NULL);
    zsys_set_logsystem (false);
    setenv ("ZSYS_LOGSTREAM", "", 1);
    rates_t r = s_rates ();
    printf ("rates (this machine, one core): ChaCha20 keystream %.2f GB/s, X25519 %.1f us, Ed25519 sign %.1f us, "
            "verify %.1f us; ZeroMQ tcp loopback %.2f GB/s\n\n", r.chacha_bps / 1e9, r.x25519_s * 1e6,
            r.sign_s * 1e6, r.verify_s * 1e6, r.zmq_bps / 1e9);
    if (!procs) {
        printf ("in-process, per training round (TRAIN + EVAL), seconds on one core, %" PRIu64 " rounds averaged, "
                "%zu training rows per member\n", rounds, rows);
        printf ("%6s %9s %-6s %9s %9s %9s %6s %9s %9s %7s %11s\n", "n", "m", "mode", "round", "compute", "codec",
                "xport", "wait", "floor", "ratio", "bytes");
    }
    else
        printf ("real processes (fl-sim: fl-coordinator + n fl-client over TCP loopback, CURVE when secure), per "
                "training round:\n  wall = median round of a %" PRIu64 "-round run (rounds >= 3), CPU = all processes' "
                "CPU per round (a %" PRIu64 "-round run minus a %" PRIu64 "-round run),\n  wait = wall - CPU / 2 "
                "(2 cores) when positive\n%6s %9s %-6s %9s %11s %9s\n", 2 * (rounds < 3 ? 3 : rounds),
                2 * (rounds < 3 ? 3 : rounds), rounds < 3 ? 3 : rounds, "n", "m", "mode", "wall", "CPU", "wait");
    char skipped[1024] = "", self[1024];
    snprintf (self, sizeof self, "%s", argv[0]);
    const char *bindir = strchr (self, '/') ? dirname (self) : ".";
    for (size_t a = 0; a < nn; a++)
        for (size_t b = 0; b < nm; b++) {
            size_t n = ns[a], m = ms[b];
            if ((double) n * (double) m > max_nm || (procs && n > 256)) {
                size_t l = strlen (skipped);
                snprintf (skipped + l, sizeof skipped - l, "%s n=%zu m=%zu", l ? "," : "", n, m);
                continue;
            }
            if (procs) {
                for (int secure = 1; secure >= 0; secure--) {
                    procs_t p = s_procs (bindir, n, m, secure, rounds);
                    if (!p.ok)
                        continue;
                    double wait = p.wall_per_round - p.cpu_per_round / 2;
                    printf ("%6zu %9zu %-6s %9.4f %11.4f %9.4f\n", n, m, secure ? "secure" : "plain",
                            p.wall_per_round, p.cpu_per_round, wait > 0 ? wait : 0);
                    fflush (stdout);
                }
                continue;
            }
            inproc_t pl, se;
            if (s_inproc (n, m, 0, rounds, rows, &pl) != 0 || s_inproc (n, m, 1, rounds, rows, &se) != 0) {
                printf ("%6zu %9zu  failed\n", n, m);
                continue;
            }
            double pfloor = pl.a.compute + (double) pl.a.bytes / r.zmq_bps;
            /* two secure aggregations per round: the update (m values) and
               the evaluation counts (a handful) */
            double sfloor = pl.a.compute + s_secagg_floor (&r, (uint32_t) n, se.k, se.m)
                            + s_secagg_floor (&r, (uint32_t) n, se.k, 8) + (double) se.a.bytes / r.zmq_bps;
            printf ("%6zu %9zu %-6s %9.4f %9.4f %9.4f %6.4f %9.4f %9.4f %6.2fx %11" PRIu64 "\n", n, pl.m, "plain",
                    pl.per_round, pl.a.compute, pl.a.codec, pl.a.xport, 0.0, pfloor, pl.per_round / pfloor,
                    pl.a.bytes);
            printf ("%6zu %9zu %-6s %9.4f %9.4f %9.4f %6.4f %9.4f %9.4f %6.2fx %11" PRIu64 "\n", n, se.m, "secure",
                    se.per_round, se.a.compute, se.a.codec, se.a.xport, 0.0, sfloor, se.per_round / sfloor,
                    se.a.bytes);
            fflush (stdout);
        }
    if (skipped[0])
        printf ("skipped (n x m above --max-nm %.3g%s):%s\n", max_nm, procs ? ", or n above fl-sim's 256" : "",
                skipped);
    return 0;
}
