/*  fl_session.c - the protocol's shared vocabulary (see fl_session.h). */
#include "fl_session.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "fl_stats.h"
#include "fl_wire.h"

const char *
fl_session_purpose_name (uint32_t purpose)
{
    return purpose == FL_SESSION_PURPOSE_STATS ? "statistics"
         : purpose == FL_SESSION_PURPOSE_EVAL  ? "evaluation"
                                               : "training";
}

void
fl_session_model_binding (const uint8_t fingerprint[32], const float *params, size_t n, uint8_t out[32])
{
    assert (fingerprint && out && (params || n == 0));
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, 32);
    crypto_generichash_update (&st, (const uint8_t *) "libfl round binding v1", 22);
    crypto_generichash_update (&st, fingerprint, 32);
    if (n)
        crypto_generichash_update (&st, (const uint8_t *) params, n * sizeof (float));
    crypto_generichash_final (&st, out, 32);
}

void
fl_session_stats_binding (const uint8_t fingerprint[32], size_t features, uint8_t out[32])
{
    assert (fingerprint && out);
    uint8_t le[12];
    for (unsigned i = 0; i < 8; i++)
        le[i] = (uint8_t) ((uint64_t) features >> (8 * i));
    uint32_t frac = FL_STATS_FIXED_FRAC_BITS, limbs = FL_STATS_FIXED_LIMBS;
    le[8] = (uint8_t) frac;
    le[9] = (uint8_t) limbs;
    le[10] = le[11] = 0;
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, 32);
    crypto_generichash_update (&st, (const uint8_t *) "libfl stats binding v1", 22);
    crypto_generichash_update (&st, fingerprint, 32);
    crypto_generichash_update (&st, le, sizeof le);
    crypto_generichash_final (&st, out, 32);
}

double
fl_session_encoding_max_abs (double clip_norm)
{
    return clip_norm > 1 ? clip_norm : 1;
}

size_t
fl_session_update_words (size_t n_params, int adaptive)
{
    return n_params + 2 + (adaptive ? 1 : 0);
}

int
fl_session_announce_put (fl_wire_writer_t *w, uint32_t purpose, const fl_session_announce_t *a)
{
    assert (w && a);
    int rc = 0;
    rc |= fl_wire_put_u64 (w, FL_K_SA_BUCKET, a->bucket);
    rc |= fl_wire_put_u64 (w, FL_K_SA_INDEX, a->index);
    rc |= fl_wire_put_u64 (w, FL_K_SA_N, a->n);
    rc |= fl_wire_put_u64 (w, FL_K_SA_T, a->t);
    rc |= fl_wire_put_u64 (w, FL_K_SA_K, a->k);
    rc |= fl_wire_put_u64 (w, FL_K_SA_GRAPH, (uint64_t) a->graph);
    if (a->member_ids && a->member_lens)
        rc |= fl_wire_put_bin_list (w, FL_K_SA_MEMBERS, a->member_ids, a->member_lens, a->n);
    rc |= fl_wire_put_u32s (w, FL_K_SA_COHORT, a->cohort, a->cohort_len);
    rc |= fl_wire_put_u64 (w, FL_K_SA_BUCKETS, a->buckets);
    if (purpose == FL_SESSION_PURPOSE_TRAIN) {
        rc |= fl_wire_put_f64 (w, FL_K_ENC_MAX_ABS, a->max_abs);
        rc |= fl_wire_put_u64 (w, FL_K_ENC_SUMMANDS, a->summands);
    }
    return rc ? -1 : 0;
}

int
fl_session_announce_present (const fl_wire_msg_t *m)
{
    return fl_wire_has (m, FL_K_SA_BUCKET) ? 1 : 0;
}

int
fl_session_announce_get (const fl_wire_msg_t *m, uint32_t purpose, fl_session_announce_t *a, char *why,
                         size_t cap)
{
    assert (m && a && why && cap > 0);
    memset (a, 0, sizeof *a);
    why[0] = 0;
    int train = purpose == FL_SESSION_PURPOSE_TRAIN;
    uint64_t b = 0, idx = 0, n = 0, t = 0, k = 0, graph = 0, summands = 0, cap_ex = 0;
    double clip = 0, max_abs = 0;
    const char *err = NULL;
    /* the training session's encoding keys exist only in TRAIN: a message of
       another type cannot carry a training session */
    if (train && fl_wire_type (m) != FL_WIRE_TRAIN)
        err = "incomplete secure-aggregation session";
    else if (fl_wire_get_u64 (m, FL_K_SA_BUCKET, &b) != 0 || fl_wire_get_u64 (m, FL_K_SA_INDEX, &idx) != 0
        || fl_wire_get_u64 (m, FL_K_SA_N, &n) != 0 || fl_wire_get_u64 (m, FL_K_SA_T, &t) != 0
        || fl_wire_get_u64 (m, FL_K_SA_K, &k) != 0 || fl_wire_get_u64 (m, FL_K_SA_GRAPH, &graph) != 0
        || (train && (fl_wire_get_f64 (m, FL_K_CLIP, &clip) != 0 || fl_wire_get_f64 (m, FL_K_ENC_MAX_ABS, &max_abs) != 0
                      || fl_wire_get_u64 (m, FL_K_ENC_SUMMANDS, &summands) != 0
                      || fl_wire_get_u64 (m, FL_K_CAP, &cap_ex) != 0)))
        err = "incomplete secure-aggregation session";
    else if (n < 2 || n > FL_SECAGG_MAX_CLIENTS || idx >= n || b > UINT32_MAX || t > n || k > n
             || graph > FL_SECAGG_GRAPH_HARARY)
        err = "session parameters out of range";
    else if (train && (!(clip > 0 && clip < 1e6) || max_abs != fl_session_encoding_max_abs (clip)
                       || (summands != n && !(fl_wire_has (m, FL_K_DP_SIGMA_I) && summands > n && summands <= INT32_MAX))))
        err = "encoding parameters inconsistent with the clipping norm and bucket size";
    else if (fl_wire_bin_list_len (m, FL_K_SA_MEMBERS) != n)
        err = "bucket member list has the wrong length";
    if (err) {
        snprintf (why, cap, "%s", err);
        return -1;
    }
    a->bucket = (uint32_t) b;
    a->index = (uint32_t) idx;
    a->n = (uint32_t) n;
    a->t = (uint32_t) t;
    a->k = (uint32_t) k;
    a->graph = (fl_secagg_graph_t) graph;
    a->max_abs = max_abs;
    a->summands = summands;
    a->clip = clip;
    a->cap = cap_ex;
    a->have_cohort = fl_wire_get_u32s (m, FL_K_SA_COHORT, &a->cohort, &a->cohort_len) == 0
                     && fl_wire_get_u64 (m, FL_K_SA_BUCKETS, &a->buckets) == 0;
    if (!a->have_cohort) {
        a->cohort = NULL;
        a->cohort_len = 0;
        a->buckets = 0;
    }
    return 0;
}

int
fl_session_announce_member (const fl_wire_msg_t *m, uint32_t j, char *id, size_t cap)
{
    assert (m && id && cap > 128);
    const uint8_t *d = NULL;
    size_t len = 0;
    id[0] = 0;
    if (j >= fl_wire_bin_list_len (m, FL_K_SA_MEMBERS)        /* the codec asserts an index in range */
        || fl_wire_get_bin_list_item (m, FL_K_SA_MEMBERS, j, &d, &len) != 0)
        return -1;
    snprintf (id, cap, "%.*s", (int) (len < 128 ? len : 128), (const char *) d);
    return 0;
}
