/*  fl-bench-secagg - cost of one secure-aggregation bucket, simulated in one
    process on one core, against its cryptographic floor.

    Prints, per scenario: per-client crypto time split by phase (key
    agreement = AdvertiseKeys + ShareKeys: key generation, signature checks,
    X25519, Shamir, AEAD; masking = share decryption + mask expansion), the
    coordinator's time (collection, streaming sum, unmasking), the whole
    simulated round (all clients + coordinator, sequential), bytes on the wire
    per client as encoded on the wire (fl_secagg_wire, msgpack) against the
    plaintext UPDATE message, and the floor: the ChaCha20 keystream the masks
    need at the measured fl_prg rate plus the X25519 agreements at the
    measured rate.

    Usage: fl-bench-secagg [--n1000] [--m M]
      default: n = 100, m = 100,000, complete graph, 0% and 10% dropout
      --n1000: also n = 1,000 on the Harary graph with k, t from
               fl_secagg_params_choose (1000, 0.05, 0.10) (~1-2 min more)
*/
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fl_prg.h"
#include "fl_rng.h"
#include "fl_secagg.h"
#include "fl_secagg_wire.h"
#include "fl_wire.h"

static double
now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    double chacha_bps;      /* fl_prg_add bytes per second */
    double x25519_s;        /* one crypto_scalarmult */
    double verify_s;        /* one crypto_sign_verify_detached */
} rates_t;

static rates_t
measure_rates (void)
{
    rates_t r;
    size_t m = 1u << 20;
    uint32_t *v = calloc (m, 4);
    uint8_t seed[32] = {1}, ctx[32] = {2};
    fl_prg_add (v, m, seed, ctx);                       /* warm up */
    int reps = 40;
    double t0 = now ();
    for (int i = 0; i < reps; i++) {
        seed[0] = (uint8_t) i;
        fl_prg_add (v, m, seed, ctx);
    }
    r.chacha_bps = (double) reps * m * 4 / (now () - t0);
    free (v);
    uint8_t sk[32], pk[32], out[32];
    crypto_box_keypair (pk, sk);
    t0 = now ();
    for (int i = 0; i < 2000; i++)
        if (crypto_scalarmult (out, sk, pk) != 0)
            abort ();
    r.x25519_s = (now () - t0) / 2000;
    uint8_t spk[32], ssk[64], sig[64], msg[32] = {0};
    crypto_sign_keypair (spk, ssk);
    crypto_sign_detached (sig, NULL, msg, 32, ssk);
    t0 = now ();
    for (int i = 0; i < 2000; i++)
        if (crypto_sign_verify_detached (sig, msg, 32, spk) != 0)
            abort ();
    r.verify_s = (now () - t0) / 2000;
    return r;
}

typedef struct {
    double client[5];       /* per phase, summed over clients: start, share, mask, sign, unmask */
    double server_collect;  /* server_handle + deadlines 1..4 */
    double server_unmask;   /* last deadline */
    uint64_t bytes_up, bytes_down;   /* summed over clients */
    uint32_t k, t, u3;
    int exact;
} result_t;

/* Exact bytes on the wire: the SECAGG message as fl_secagg_wire encodes it
   (msgpack, header included).  Outside every timed region. */
static size_t
msg_bytes (const fl_secagg_msg_t *m)
{
    static const uint8_t run[16] = "bench-run-000001";
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fl_secagg_msg_to_wire (m, run, 1, 0, &buf, &len) != 0)
        return 0;
    free (buf);
    return len;
}

/* The plaintext UPDATE the same client would send instead (m float32 values). */
static size_t
plain_update_bytes (size_t m)
{
    static const uint8_t run[16] = "bench-run-000001";
    float *v = (float *) calloc (m, sizeof (float));
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_UPDATE, run, 1);
    fl_wire_put_f32s (w, FL_K_DELTA, v, m);
    fl_wire_put_u64 (w, FL_K_N, 100);
    fl_wire_put_f64 (w, FL_K_LOSS, 0.5);
    uint8_t *buf = NULL;
    size_t len = 0;
    fl_wire_writer_finish (&w, &buf, &len);
    free (buf);
    free (v);
    return len;
}

/*  One bucket; clients that drop do so after sharing keys (before sending the
    masked input): the expensive case for the coordinator, which must then
    reconstruct their mask keys and regenerate their pairwise masks. */
static result_t
run (uint32_t n, size_t m, fl_secagg_graph_t graph, uint32_t k, uint32_t t, double dropout)
{
    result_t r;
    memset (&r, 0, sizeof r);
    r.t = t;
    uint8_t *pks = malloc ((size_t) n * 32), *sks = malloc ((size_t) n * 64);
    for (uint32_t i = 0; i < n; i++)
        crypto_sign_keypair (pks + (size_t) i * 32, sks + (size_t) i * 64);
    fl_secagg_config_t cfg = {.version = FL_SECAGG_VERSION, .round = 1, .bucket = 0, .n = n, .t = t,
                              .graph = graph, .k = k, .m = m, .roster_pks = pks};
    randombytes_buf (cfg.run_id, sizeof cfg.run_id);
    fl_secagg_server_t *s = fl_secagg_server_new (&cfg);
    fl_secagg_client_t **c = calloc (n, sizeof *c);
    bool *drops = calloc (n, 1);
    uint32_t ndrop = (uint32_t) (dropout * n + 0.5);
    for (uint32_t j = 0; j < ndrop; j++)
        drops[(j * 7919u + 13) % n] = true;         /* 7919 prime, coprime to n here */
    uint32_t *x = malloc (m * 4), *expect = calloc (m, 4);
    for (uint32_t i = 0; i < n; i++) {
        cfg.my_index = i;
        cfg.id_secret_key = sks + (size_t) i * 64;
        c[i] = fl_secagg_client_new (&cfg);
    }
    double t0;
    for (uint32_t i = 0; i < n; i++) {
        fl_secagg_msg_t *out = NULL;
        t0 = now ();
        fl_secagg_client_start (c[i], &out);
        r.client[0] += now () - t0;
        r.bytes_up += msg_bytes (out);
        t0 = now ();
        fl_secagg_server_handle (s, out);
        r.server_collect += now () - t0;
        fl_secagg_msg_destroy (&out);
    }
    for (int phase = 1; phase <= 4; phase++) {
        t0 = now ();
        int rc = fl_secagg_server_deadline (s);
        r.server_collect += now () - t0;
        if (rc != 0)
            break;
        for (;;) {
            t0 = now ();
            fl_secagg_msg_t *in = fl_secagg_server_next_out (s), *out = NULL;
            r.server_collect += now () - t0;
            if (!in)
                break;
            uint32_t v = in->receiver;
            r.bytes_down += msg_bytes (in);
            if (phase == 2) {                      /* the input arrives just in time (memory) */
                fl_rng_t *rng = fl_rng_new_u64 (v, 77);
                fl_rng_bytes (rng, x, m * 4);
                fl_rng_destroy (&rng);
                fl_secagg_client_set_input (c[v], x);
                if (!drops[v])
                    for (size_t j = 0; j < m; j++)
                        expect[j] += x[j];
            }
            t0 = now ();
            fl_secagg_client_handle (c[v], in, &out);
            r.client[phase] += now () - t0;
            fl_secagg_msg_destroy (&in);
            if (out && !(phase == 2 && drops[v])) {
                r.bytes_up += msg_bytes (out);
                t0 = now ();
                fl_secagg_server_handle (s, out);
                r.server_collect += now () - t0;
            }
            fl_secagg_msg_destroy (&out);
        }
    }
    t0 = now ();
    fl_secagg_server_deadline (s);
    r.server_unmask = now () - t0;
    const uint32_t *sum;
    size_t mm;
    r.k = fl_secagg_server_k (s);
    r.u3 = fl_secagg_server_set_size (s, 3);
    r.exact = fl_secagg_server_result (s, &sum, &mm, NULL, NULL) == 0 && memcmp (sum, expect, m * 4) == 0;
    if (fl_secagg_server_state (s) != FL_SECAGG_SERVER_DONE)
        fprintf (stderr, "server: %s: %s\n", fl_secagg_server_state_name (fl_secagg_server_state (s)),
                 fl_secagg_server_error (s));
    for (uint32_t i = 0; i < n; i++)
        fl_secagg_client_destroy (&c[i]);
    fl_secagg_server_destroy (&s);
    free (c); free (drops); free (x); free (expect); free (pks); free (sks);
    return r;
}

static void
report (const char *title, uint32_t n, size_t m, double dropout, const result_t *r, const rates_t *rates)
{
    uint32_t k = r->k, alive = r->u3, dropped = n - alive;
    double client_total = 0;
    for (int i = 0; i < 5; i++)
        client_total += r->client[i];
    double per_client = client_total / n;
    /*  Floors.  Client: (k - 1) pairwise masks + 1 self mask of m words, and
        2 (k - 1) X25519 agreements (encryption key and mask seed, self
        excluded).  Coordinator: |U3| self masks + for each dropped client its
        pairwise masks with surviving neighbours (~ (k-1) * alive / n each). */
    double ks_client = (double) k * m * 4;
    double floor_client = ks_client / rates->chacha_bps + 2.0 * (k - 1) * rates->x25519_s;
    double pair_removed = dropped * ((double) (k - 1) * alive / (n - 1));
    double floor_server = (alive + pair_removed) * m * 4 / rates->chacha_bps + pair_removed * rates->x25519_s;
    double round = client_total + r->server_collect + r->server_unmask;
    double floor_round = n * floor_client + floor_server;
    printf ("\n### %s: n = %u, m = %zu, k = %u, t = %u, dropout %.0f%% (|U3| = %u), exact sum: %s\n", title, n, m,
            k, r->t, dropout * 100, alive, r->exact ? "yes" : "NO");
    printf ("per client crypto   %8.2f ms  (advertise %.2f, share keys %.2f, mask %.2f, sign %.2f, unmask %.2f)\n",
            per_client * 1e3, r->client[0] / n * 1e3, r->client[1] / n * 1e3, r->client[2] / n * 1e3,
            r->client[3] / n * 1e3, r->client[4] / n * 1e3);
    printf ("   floor            %8.2f ms  (%.1f MB keystream, %u X25519)  ratio %.2f\n", floor_client * 1e3,
            ks_client / 1e6, 2 * (k - 1), per_client / floor_client);
    double floor_sig = floor_client + 2.0 * (k - 1) * rates->verify_s;
    printf ("   floor + the 2(k-1) Ed25519 verifications the protocol requires: %.2f ms  ratio %.2f\n",
            floor_sig * 1e3, per_client / floor_sig);
    printf ("coordinator collect %8.3f s   (verify, store, streaming sum of %u inputs)\n", r->server_collect, alive);
    printf ("coordinator unmask  %8.3f s   floor %.3f s  ratio %.2f\n", r->server_unmask, floor_server,
            r->server_unmask / floor_server);
    printf ("round (sequential)  %8.3f s   = clients %.3f s + coordinator %.3f s; floor %.3f s; ratio %.2f\n", round,
            client_total, r->server_collect + r->server_unmask, floor_round, round / floor_round);
    printf ("round (parallel clients, estimate) %.3f s = one client %.3f s + coordinator %.3f s\n",
            per_client + r->server_collect + r->server_unmask, per_client, r->server_collect + r->server_unmask);
    double up = (double) r->bytes_up / n, down = (double) r->bytes_down / n, plain = (double) plain_update_bytes (m);
    printf ("wire per client     up %.1f KB, down %.1f KB; plaintext update %.1f KB; expansion up %.4fx, "
            "total %.4fx\n", up / 1e3, down / 1e3, plain / 1e3, up / plain, (up + down) / plain);
}

int
main (int argc, char **argv)
{
    bool big = false;
    size_t m = 100000;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--n1000") == 0)
            big = true;
        else if (strcmp (argv[i], "--m") == 0 && i + 1 < argc)
            m = (size_t) strtoull (argv[++i], NULL, 10);
        else {
            fprintf (stderr, "usage: fl-bench-secagg [--n1000] [--m M]\n");
            return 2;
        }
    }
    if (sodium_init () < 0)
        return 1;
    rates_t rates = measure_rates ();
    printf ("## fl-bench-secagg (single thread)\n");
    printf ("fl_prg keystream rate %.2f GB/s; X25519 %.1f us; Ed25519 verify %.1f us\n", rates.chacha_bps / 1e9,
            rates.x25519_s * 1e6, rates.verify_s * 1e6);
    /*  Complete graph as in the issue; t from the active-server bound
        2t > n + n_C with gamma = 0.05 (n_C = 5): t = 53 (<= n - 10 dropouts). */
    uint32_t n = 100, t = 53;
    result_t r0 = run (n, m, FL_SECAGG_GRAPH_COMPLETE, 0, t, 0.0);
    report ("complete graph, no dropout", n, m, 0.0, &r0, &rates);
    result_t r1 = run (n, m, FL_SECAGG_GRAPH_COMPLETE, 0, t, 0.10);
    report ("complete graph, 10% dropout", n, m, 0.10, &r1, &rates);
    /*  The client-side checks against a malicious coordinator
        (docs/SECAGG.md §6.1): per session each client runs the policy check
        (hypergeometric tails) and re-derives the buckets of the cohort; the
        rest (model hash in ctx, self in U3) is inside the times above. */
    {
        fl_secagg_policy_t pol;
        fl_secagg_policy_default (&pol);
        pol.gamma = 0.05;                                 /* the policy matching t = 53 above */
        uint32_t cohort[100], order[100], tmin = 0;
        uint8_t run_id[16] = {0};
        for (uint32_t i = 0; i < n; i++)
            cohort[i] = i;
        int reps = 200, bad = 0;
        double t0 = now ();
        for (int i = 0; i < reps; i++) {
            char why[256];
            bad |= fl_secagg_policy_check (&pol, n, t, FL_SECAGG_GRAPH_COMPLETE, n, &tmin, why, sizeof why);
            bad |= fl_secagg_buckets_derive (run_id, (uint64_t) i, 0, cohort, n, 1, order);
        }
        double per = (now () - t0) / reps;
        printf ("\n### client-side policy check + bucket derivation (n = %u): %.3f ms per client and session "
                "(%.2f%% of the no-dropout per-client crypto)%s\n", n, per * 1e3,
                100.0 * per / ((r0.client[0] + r0.client[1] + r0.client[2] + r0.client[3] + r0.client[4]) / n),
                bad ? " FAILED" : "");
    }
    if (big) {
        uint32_t k, tk;
        if (fl_secagg_params_choose (1000, 0.05, 0.10, &k, &tk) != 0)
            return 1;
        printf ("\nparams_choose (n = 1000, gamma = 0.05, delta = 0.10) -> k = %u, t = %u\n", k, tk);
        result_t r2 = run (1000, m, k < 1000 ? FL_SECAGG_GRAPH_HARARY : FL_SECAGG_GRAPH_COMPLETE, k, tk, 0.10);
        report ("Harary graph, 10% dropout", 1000, m, 0.10, &r2, &rates);
    }
    return 0;
}
