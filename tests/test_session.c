/*  test_session.c - fl_session, the protocol's shared vocabulary: the
    announce round trip (writer -> codec -> parser), every rejection of a
    malformed announce with its reason, the round bindings against an
    independent BLAKE2b computation (determinism, separation of model,
    parameters, features and the two binding kinds), the encoding rule and
    the one run-id size.

    The malformed announces are written key by key here, not by the writer
    under test, so that a coordinator that writes anything at all is what
    the parser faces.
*/
#include <math.h>
#include <sodium.h>
#include <string.h>

#include "fl_checkpoint.h"
#include "fl_session.h"
#include "fl_stats.h"
#include "fl_test.h"
#include "fl_wire.h"

static const uint8_t s_run[FL_SESSION_RUNIDBYTES] = "session-test-run";

static fl_wire_msg_t *
s_finish (fl_wire_writer_t *w)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[FL_WIRE_WHYBYTES];
    if (fl_wire_writer_finish (&w, &buf, &len) != 0)
        return NULL;                /* the codec refused to write it */
    fl_wire_limits_t lim = fl_wire_limits_default ();
    fl_wire_msg_t *m = buf ? fl_wire_decode (buf, len, &lim, why, sizeof why) : NULL;
    free (buf);
    return m;
}

/*  A TRAIN request with the fields every TRAIN has. */
static fl_wire_writer_t *
s_train_writer (void)
{
    static const float params[4] = {0.5f, -1, 2, 0};
    static const uint8_t fp[32] = {1, 2, 3};
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_TRAIN, s_run, 3);
    fl_wire_put_f32s (w, FL_K_PARAMS, params, 4);
    fl_wire_put_bin (w, FL_K_FP, fp, 32);
    fl_wire_put_u64 (w, FL_K_EPOCHS, 1);
    fl_wire_put_u64 (w, FL_K_BATCH, 8);
    fl_wire_put_f64 (w, FL_K_LR, 0.1);
    fl_wire_put_str (w, FL_K_OPT, "sgd");
    fl_wire_put_u64 (w, FL_K_SEED, 1);
    return w;
}

static const char *s_ids[5] = {"alice", "bob", "carol", "dave", "erin"};

/*  A secure TRAIN announce written key by key; skip: a key to leave out;
    the numbers come from the arguments.  dist: carry "dp_sigma_i". */
typedef struct {
    uint64_t bucket, index, n, t, k, graph, summands, cap, buckets, members;
    double clip, max_abs;
    int dist;
} s_fields_t;

static s_fields_t
s_good (void)
{
    s_fields_t f = {.bucket = 1, .index = 2, .n = 5, .t = 4, .k = 5, .graph = FL_SECAGG_GRAPH_COMPLETE,
                    .summands = 5, .cap = 100, .buckets = 2, .members = 5, .clip = 2.5, .max_abs = 2.5};
    return f;
}

static fl_wire_msg_t *
s_train_msg (const s_fields_t *f, const char *skip)
{
    fl_wire_writer_t *w = s_train_writer ();
    const uint8_t *ids[5];
    size_t lens[5];
    for (int i = 0; i < 5; i++) {
        ids[i] = (const uint8_t *) s_ids[i];
        lens[i] = strlen (s_ids[i]);
    }
    static const uint32_t cohort[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
#define S_PUT(kind, key, v) if (!skip || strcmp (skip, key) != 0) fl_wire_put_##kind (w, key, v)
    S_PUT (u64, "cap", f->cap);
    S_PUT (f64, "clip", f->clip);
    S_PUT (u64, "sa_bucket", f->bucket);
    S_PUT (u64, "sa_index", f->index);
    S_PUT (u64, "sa_n", f->n);
    S_PUT (u64, "sa_t", f->t);
    S_PUT (u64, "sa_k", f->k);
    S_PUT (u64, "sa_graph", f->graph);
    S_PUT (u64, "sa_buckets", f->buckets);
    S_PUT (f64, "enc_max_abs", f->max_abs);
    S_PUT (u64, "enc_summands", f->summands);
#undef S_PUT
    if (!skip || strcmp (skip, "sa_members") != 0)
        fl_wire_put_bin_list (w, FL_K_SA_MEMBERS, ids, lens, f->members);
    if (!skip || strcmp (skip, "sa_cohort") != 0)
        fl_wire_put_u32s (w, FL_K_SA_COHORT, cohort, 10);
    if (f->dist)
        fl_wire_put_f64 (w, FL_K_DP_SIGMA_I, 3.0);
    return s_finish (w);
}

/*  Parses f as TRAIN; returns the parser's result, reason in why. */
static int
s_parse (const s_fields_t *f, const char *skip, char *why, size_t cap)
{
    fl_wire_msg_t *m = s_train_msg (f, skip);
    fl_session_announce_t a;
    memset (&a, 0x5a, sizeof a);
    int rc = m ? fl_session_announce_get (m, FL_SESSION_PURPOSE_TRAIN, &a, why, cap) : -2;
    if (rc == -1) {
        /* on a rejection nothing half-parsed is left behind */
        fl_session_announce_t zero;
        memset (&zero, 0, sizeof zero);
        FL_CHECK (memcmp (&a, &zero, sizeof a) == 0);
    }
    fl_wire_msg_destroy (&m);
    return rc;
}

static void
test_round_trip (void)
{
    const uint8_t *ids[5];
    size_t lens[5];
    for (int i = 0; i < 5; i++) {
        ids[i] = (const uint8_t *) s_ids[i];
        lens[i] = strlen (s_ids[i]);
    }
    const uint32_t cohort[7] = {0, 2, 3, 5, 8, 9, 11};
    fl_session_announce_t out = {.bucket = 1, .index = 4, .n = 5, .t = 3, .k = 3,
                                 .graph = FL_SECAGG_GRAPH_HARARY, .member_ids = ids, .member_lens = lens,
                                 .cohort = cohort, .cohort_len = 7, .buckets = 1,
                                 .max_abs = fl_session_encoding_max_abs (4.0), .summands = 5};
    /* training: the TRAIN request writes clip and cap itself */
    fl_wire_writer_t *w = s_train_writer ();
    fl_wire_put_u64 (w, FL_K_CAP, 250);
    fl_wire_put_f64 (w, FL_K_CLIP, 4.0);
    FL_CHECK (fl_session_announce_put (w, FL_SESSION_PURPOSE_TRAIN, &out) == 0);
    fl_wire_msg_t *m = s_finish (w);
    FL_CHECK (m && fl_session_announce_present (m) == 1);
    fl_session_announce_t in;
    char why[160] = "x";
    FL_CHECK (m && fl_session_announce_get (m, FL_SESSION_PURPOSE_TRAIN, &in, why, sizeof why) == 0);
    FL_CHECK (why[0] == 0);
    FL_CHECK (in.bucket == 1 && in.index == 4 && in.n == 5 && in.t == 3 && in.k == 3);
    FL_CHECK (in.graph == FL_SECAGG_GRAPH_HARARY);
    FL_CHECK (in.max_abs == 4.0 && in.summands == 5 && in.clip == 4.0 && in.cap == 250);
    FL_CHECK (in.have_cohort && in.cohort_len == 7 && in.buckets == 1);
    FL_CHECK (in.cohort && memcmp (in.cohort, cohort, sizeof cohort) == 0);
    char id[160];
    for (uint32_t j = 0; m && j < 5; j++) {
        FL_CHECK (fl_session_announce_member (m, j, id, sizeof id) == 0);
        FL_CHECK (strcmp (id, s_ids[j]) == 0);
    }
    FL_CHECK (m && fl_session_announce_member (m, 5, id, sizeof id) == -1 && id[0] == 0);
    fl_wire_msg_destroy (&m);

    /* statistics: no encoding keys written, none required */
    w = fl_wire_writer_new (FL_WIRE_STATS_REQUEST, s_run, 0);
    out.index = 0;
    FL_CHECK (fl_session_announce_put (w, FL_SESSION_PURPOSE_STATS, &out) == 0);
    m = s_finish (w);
    /* STATS_REQUEST's schema has no encoding key (the writer refuses one), so
       a message that finished carries none */
    FL_CHECK (m && fl_wire_type (m) == FL_WIRE_STATS_REQUEST);
    FL_CHECK (m && fl_session_announce_get (m, FL_SESSION_PURPOSE_STATS, &in, why, sizeof why) == 0);
    FL_CHECK (in.index == 0 && in.n == 5 && in.clip == 0 && in.max_abs == 0);
    /* the same message read as training lacks the encoding: refused */
    FL_CHECK (m && fl_session_announce_get (m, FL_SESSION_PURPOSE_TRAIN, &in, why, sizeof why) == -1);
    FL_CHECK (strcmp (why, "incomplete secure-aggregation session") == 0);
    fl_wire_msg_destroy (&m);

    /* a plaintext request carries no session */
    w = fl_wire_writer_new (FL_WIRE_STATS_REQUEST, s_run, 0);
    m = s_finish (w);
    FL_CHECK (m && fl_session_announce_present (m) == 0);
    FL_CHECK (m && fl_session_announce_get (m, FL_SESSION_PURPOSE_STATS, &in, why, sizeof why) == -1);
    fl_wire_msg_destroy (&m);
}

static void
test_rejections (void)
{
    char why[160];
    s_fields_t f = s_good ();
    FL_CHECK (s_parse (&f, NULL, why, sizeof why) == 0);
    fl_wire_msg_t *ok = s_train_msg (&f, NULL);
    FL_CHECK (ok != NULL);
    fl_wire_msg_destroy (&ok);

    /* every key of the session and the encoding is required */
    static const char *keys[] = {"sa_bucket", "sa_index", "sa_n", "sa_t", "sa_k", "sa_graph", "clip",
                                 "enc_max_abs", "enc_summands"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        FL_CHECK (s_parse (&f, keys[i], why, sizeof why) == -1);
        FL_CHECK (strcmp (why, "incomplete secure-aggregation session") == 0);
    }
    /* (cap is required by the TRAIN schema itself: the codec refuses to write it) */
    FL_CHECK (s_parse (&f, "cap", why, sizeof why) == -2);
    /* a missing member list */
    FL_CHECK (s_parse (&f, "sa_members", why, sizeof why) == -1);
    FL_CHECK (strcmp (why, "bucket member list has the wrong length") == 0);

    /* out of range, one at a time */
    const char *range = "session parameters out of range";
    s_fields_t b;
    b = s_good (); b.n = 1; b.t = 1; b.k = 1; b.index = 0; b.summands = 1;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, range) == 0);
    b = s_good (); b.n = (uint64_t) FL_SECAGG_MAX_CLIENTS + 1;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, range) == 0);
    b = s_good (); b.index = 5;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, range) == 0);
    b = s_good (); b.t = 6;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, range) == 0);
    b = s_good (); b.k = 6;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, range) == 0);
    b = s_good (); b.graph = 2;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, range) == 0);
    b = s_good (); b.bucket = (uint64_t) UINT32_MAX + 1;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, range) == 0);
    b = s_good (); b.bucket = UINT32_MAX;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == 0);

    /* the encoding must follow from the clipping norm and the bucket size */
    const char *enc = "encoding parameters inconsistent with the clipping norm and bucket size";
    b = s_good (); b.clip = 0; b.max_abs = 1;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, enc) == 0);
    b = s_good (); b.clip = 1e6; b.max_abs = 1e6;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, enc) == 0);
    b = s_good (); b.clip = NAN; b.max_abs = NAN;     /* not even written: the codec refuses NaN */
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -2);
    b = s_good (); b.max_abs = 2.0;                 /* a tighter bound than max(C, 1) */
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, enc) == 0);
    b = s_good (); b.clip = 0.5; b.max_abs = 0.5;   /* below 1 the bound is 1 */
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, enc) == 0);
    b.max_abs = 1;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == 0);
    /* headroom beyond the bucket size only with distributed noise */
    b = s_good (); b.summands = 9;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, enc) == 0);
    b.dist = 1;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == 0);
    b.summands = 4;                                 /* fewer than the members: never */
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, enc) == 0);
    b.summands = (uint64_t) INT32_MAX + 1;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1 && strcmp (why, enc) == 0);

    /* the member list must have exactly n entries */
    b = s_good (); b.members = 4;
    FL_CHECK (s_parse (&b, NULL, why, sizeof why) == -1);
    FL_CHECK (strcmp (why, "bucket member list has the wrong length") == 0);

    /* a missing cohort is not the parser's refusal: the member reports that
       its bucket cannot be verified (have_cohort 0) */
    fl_wire_msg_t *m = s_train_msg (&f, "sa_cohort");
    fl_session_announce_t a;
    FL_CHECK (m && fl_session_announce_get (m, FL_SESSION_PURPOSE_TRAIN, &a, why, sizeof why) == 0);
    FL_CHECK (!a.have_cohort && a.cohort == NULL && a.cohort_len == 0 && a.buckets == 0);
    fl_wire_msg_destroy (&m);
}

static void
test_bindings (void)
{
    uint8_t fp[32], fp2[32];
    for (int i = 0; i < 32; i++) {
        fp[i] = (uint8_t) (7 * i + 1);
        fp2[i] = fp[i];
    }
    fp2[31] ^= 1;
    float p[6] = {0.25f, -1.5f, 3, 0, 1e-3f, -7};
    uint8_t a[32], b[32], ref[32];

    /* the model binding, computed independently */
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, 32);
    crypto_generichash_update (&st, (const uint8_t *) "libfl round binding v1", 22);
    crypto_generichash_update (&st, fp, 32);
    crypto_generichash_update (&st, (const uint8_t *) p, sizeof p);
    crypto_generichash_final (&st, ref, 32);
    fl_session_model_binding (fp, p, 6, a);
    FL_CHECK (memcmp (a, ref, 32) == 0);
    fl_session_model_binding (fp, p, 6, b);
    FL_CHECK (memcmp (a, b, 32) == 0);                      /* deterministic */
    fl_session_model_binding (fp2, p, 6, b);
    FL_CHECK (memcmp (a, b, 32) != 0);                      /* another architecture */
    fl_session_model_binding (fp, p, 5, b);
    FL_CHECK (memcmp (a, b, 32) != 0);                      /* one parameter fewer */
    float q[6];
    memcpy (q, p, sizeof p);
    uint32_t bits;
    memcpy (&bits, &q[4], 4);
    bits ^= 1;                                              /* one ulp of one parameter */
    memcpy (&q[4], &bits, 4);
    fl_session_model_binding (fp, q, 6, b);
    FL_CHECK (memcmp (a, b, 32) != 0);

    /* the statistics binding, computed independently */
    uint8_t le[12] = {0};
    le[0] = 13;
    le[8] = (uint8_t) FL_STATS_FIXED_FRAC_BITS;
    le[9] = (uint8_t) FL_STATS_FIXED_LIMBS;
    crypto_generichash_init (&st, NULL, 0, 32);
    crypto_generichash_update (&st, (const uint8_t *) "libfl stats binding v1", 22);
    crypto_generichash_update (&st, fp, 32);
    crypto_generichash_update (&st, le, 12);
    crypto_generichash_final (&st, ref, 32);
    fl_session_stats_binding (fp, 13, a);
    FL_CHECK (memcmp (a, ref, 32) == 0);
    fl_session_stats_binding (fp, 13, b);
    FL_CHECK (memcmp (a, b, 32) == 0);
    fl_session_stats_binding (fp, 14, b);
    FL_CHECK (memcmp (a, b, 32) != 0);
    fl_session_stats_binding (fp2, 13, b);
    FL_CHECK (memcmp (a, b, 32) != 0);
    /* the two kinds are domain-separated: no parameters and no features
       still give different bindings */
    fl_session_model_binding (fp, NULL, 0, a);
    fl_session_stats_binding (fp, 0, b);
    FL_CHECK (memcmp (a, b, 32) != 0);
}

static void
test_vocabulary (void)
{
    FL_CHECK (FL_WIRE_RUNIDBYTES == FL_SESSION_RUNIDBYTES);
    FL_CHECK (FL_CHECKPOINT_RUNIDBYTES == FL_SESSION_RUNIDBYTES);
    FL_CHECK (FL_SECAGG_RUNIDBYTES == FL_SESSION_RUNIDBYTES);
    fl_run_id_t id;
    FL_CHECK (sizeof id == 16);
    FL_CHECK (strcmp (fl_session_purpose_name (FL_SESSION_PURPOSE_TRAIN), "training") == 0);
    FL_CHECK (strcmp (fl_session_purpose_name (FL_SESSION_PURPOSE_STATS), "statistics") == 0);
    FL_CHECK (strcmp (fl_session_purpose_name (FL_SESSION_PURPOSE_EVAL), "evaluation") == 0);
    FL_CHECK (FL_SESSION_DP_OFF == 0 && FL_SESSION_DP_RECORD != FL_SESSION_DP_CLIENT);
    FL_CHECK (fl_session_encoding_max_abs (0.3) == 1 && fl_session_encoding_max_abs (1) == 1);
    FL_CHECK (fl_session_encoding_max_abs (7.5) == 7.5);
    FL_CHECK (fl_session_update_words (10, 0) == 12 && fl_session_update_words (10, 1) == 13);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (sodium_init () < 0)
        return 1;
    FL_RUN (test_round_trip);
    FL_RUN (test_rejections);
    FL_RUN (test_bindings);
    FL_RUN (test_vocabulary);
    FL_TEST_DONE ();
}
