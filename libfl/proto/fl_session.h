/*  fl_session - the protocol's shared vocabulary: what the coordinator's
    round (fl_round) and a member's session (fl_client) must agree on, in
    one place, so that neither end includes the other.

    - the run id: FL_SESSION_RUNIDBYTES random bytes naming one run; every
      message, checkpoint and secure-aggregation context carries it
      (fl_run_id_t);
    - the aggregation purpose: what one secure aggregation sums (a model
      update, round 0 feature statistics, evaluation counts);
    - the round bindings: what members sign in secure aggregation's
      consistency check (Bonawitz et al., CCS 2017, §4 "ConsistencyCheck";
      here the signed message also covers the model, so a coordinator that
      shows two models to two groups of a bucket makes their signatures
      disagree);
    - the differential-privacy unit (record or client);
    - the secure-aggregation session announce: the bucket a member is in,
      its threshold and graph, the cohort from which the member re-derives
      the bucket (docs/SECAGG.md §4.1) and, for training, the encoding's
      bounds.  One writer (fl_session_announce_put, the coordinator) and one
      parser (fl_session_announce_get, the member), which validates the
      announce's shape before anything else reads it;
    - the encoding rule of a training update in a secure round.

    Message keys are those of docs/WIRE.md ("sa_*", "enc_*").  Functions
    never log; errors come back as return values and a reason in why.
*/
#ifndef FL_SESSION_H_INCLUDED
#define FL_SESSION_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_secagg.h"
#include "fl_wire.h"

#ifdef __cplusplus
extern "C" {
#endif


/*  ---- run id ------------------------------------------------------------- */

/*  The run id: 16 random bytes (drawn by the coordinator, or configured),
    the same in every message, checkpoint and secure-aggregation context of
    one run.  fl_checkpoint and fl_round name their sizes by this
    constant.  It is the codec's header field ("run", FL_WIRE_RUNIDBYTES:
    the codec sits below the vocabulary and must not include it), and the
    secure-aggregation floor below (fl_secagg) keys its context by the same
    16 bytes, checked equal here. */
#define FL_SESSION_RUNIDBYTES FL_WIRE_RUNIDBYTES
typedef uint8_t fl_run_id_t[FL_SESSION_RUNIDBYTES];

_Static_assert (FL_SECAGG_RUNIDBYTES == FL_SESSION_RUNIDBYTES,
                "the secure-aggregation context is keyed by the run id");

/*  ---- aggregation purpose --------------------------------------------------- */

/*  What one aggregation sums.  The values are secure aggregation's (they are
    bound into its key derivation, fl_secagg.h), so a message routed to the
    wrong aggregation fails to decrypt. */
typedef enum {
    FL_SESSION_PURPOSE_TRAIN = FL_SECAGG_PURPOSE_TRAIN,   /* model updates */
    FL_SESSION_PURPOSE_STATS = FL_SECAGG_PURPOSE_STATS,   /* round 0 feature statistics */
    FL_SESSION_PURPOSE_EVAL = FL_SECAGG_PURPOSE_EVAL      /* federated-evaluation counts */
} fl_session_purpose_t;
#define FL_SESSION_PURPOSE_MAX FL_SECAGG_PURPOSE_MAX

/*  "training", "statistics" or "evaluation" (anything unknown: "training",
    as the coordinator's log lines have always said). */
const char *fl_session_purpose_name (uint32_t purpose);

/*  ---- differential-privacy unit ------------------------------------------ */

/*  The unit whose influence differential privacy bounds (docs/PRIVACY.md);
    TRAIN carries it as "dp_unit". */
#define FL_SESSION_DP_OFF    0
#define FL_SESSION_DP_RECORD 1   /* one training record of one member (DP-SGD style) */
#define FL_SESSION_DP_CLIENT 2   /* one member's whole data (DP-FedAvg) */
/*  Record-level bounds both ends enforce: the per-example clipping norm is in
    (0, FL_SESSION_DP_CLIP_MAX] and the local Poisson steps K in
    [1, FL_SESSION_DP_STEPS_MAX] (the coordinator refuses a configuration
    outside them, a member refuses a TRAIN that announces one). */
#define FL_SESSION_DP_CLIP_MAX  1e4
#define FL_SESSION_DP_STEPS_MAX 1000

/*  ---- round bindings ------------------------------------------------------ */

/*  The model binding: BLAKE2b-256 ("libfl round binding v1" || fingerprint
    || the n float32 parameters, host order).  Signed in the consistency
    check of training and evaluation aggregations: the model architecture
    (fingerprint, 32 bytes, fl_model_fingerprint) and the exact global
    parameters of the round.  params may be NULL only when n is 0. */
void fl_session_model_binding (const uint8_t fingerprint[32], const float *params, size_t n, uint8_t out[32]);

/*  The statistics binding: BLAKE2b-256 ("libfl stats binding v1" ||
    fingerprint || features as u64 LE || FL_STATS_FIXED_FRAC_BITS ||
    FL_STATS_FIXED_LIMBS || 0 0).  Signed when round 0 statistics go through
    secure aggregation: the agreed architecture and the shape of the
    fixed-point encoding whose (count, sum, sum of squares) are summed. */
void fl_session_stats_binding (const uint8_t fingerprint[32], size_t features, uint8_t out[32]);

/*  ---- encoding rule of a training update ----------------------------------- */

/*  A secure round's training update is encoded (fl_quant_encode) as
        [w * delta (n_params), w, w * loss (, unclipped indicator)]
    with w = min(examples, cap) / cap in [0, 1] (1 when cap is 0), every
    value within [-max_abs, max_abs], max_abs = max(clipping norm, 1); the
    unclipped indicator (+-1/2) follows only with adaptive clipping. */
double fl_session_encoding_max_abs (double clip_norm);
/*  n_params + 2, plus 1 with adaptive clipping: the words one member masks. */
size_t fl_session_update_words (size_t n_params, int adaptive);

/*  ---- the secure-aggregation session announce -------------------------------- */

/*  One member's view of its bucket's session, as the coordinator offers it
    in STATS_REQUEST, TRAIN or EVALUATE.  An offer, not an instruction: the
    member checks it against its own roster and policy afterwards. */
typedef struct {
    uint32_t bucket;                /* "sa_bucket": the bucket's number in this aggregation */
    uint32_t index;                 /* "sa_index": this member's index in the bucket, < n */
    uint32_t n;                     /* "sa_n": bucket size, 2..FL_SECAGG_MAX_CLIENTS */
    uint32_t t;                     /* "sa_t": reconstruction threshold, <= n */
    uint32_t k;                     /* "sa_k": Harary graph degree (n: complete), <= n */
    fl_secagg_graph_t graph;        /* "sa_graph" */
    /* the bucket's members in bucket order ("sa_members"): written from
       (member_ids, member_lens), n entries; the parser leaves them in the
       message (fl_session_announce_member) */
    const uint8_t *const *member_ids;
    const size_t *member_lens;
    /* the cohort in roster order ("sa_cohort") and the bucket count
       ("sa_buckets"), from which the member re-derives its bucket; the
       parser points cohort into the message (borrowed) and sets
       have_cohort to 1 only if both keys are present */
    const uint32_t *cohort;
    size_t cohort_len;
    uint64_t buckets;
    int have_cohort;
    /* training only: the encoding ("enc_max_abs", "enc_summands": the bucket
       size, plus headroom for distributed noise), and, read by the parser
       from the TRAIN request itself, the clipping norm ("clip") and the
       example cap ("cap", 0 = unweighted) */
    double max_abs;
    uint64_t summands;
    double clip;
    uint64_t cap;
} fl_session_announce_t;

/*  Writes the announce a into w: "sa_bucket", "sa_index", "sa_n", "sa_t",
    "sa_k", "sa_graph", "sa_members" (if member_ids and member_lens are set),
    "sa_cohort", "sa_buckets" and, for purpose FL_SESSION_PURPOSE_TRAIN,
    "enc_max_abs" and "enc_summands" ("clip" and "cap" belong to the TRAIN
    request and are written with it).  Returns 0, or -1 if the writer
    refused a field (it then fails at fl_wire_writer_finish). */
int fl_session_announce_put (fl_wire_writer_t *w, uint32_t purpose, const fl_session_announce_t *a);

/*  1 if m carries a secure-aggregation session ("sa_bucket"), else 0. */
int fl_session_announce_present (const fl_wire_msg_t *m);

/*  Parses and validates the announce in m for purpose into *a: every key
    present with its type; n in 2..FL_SECAGG_MAX_CLIENTS, index < n, bucket
    <= UINT32_MAX, t <= n, k <= n, graph a known fl_secagg_graph_t; for
    training, 0 < clip < 1e6, max_abs == fl_session_encoding_max_abs (clip)
    and summands == n, or, only when the request carries distributed noise
    ("dp_sigma_i"), n < summands <= INT32_MAX; "sa_members" of exactly n
    entries.  The cohort and bucket count are read if present (have_cohort)
    and checked by the member against its roster.  Returns 0, or
    -1 with *a zeroed and the reason in why ("incomplete secure-aggregation
    session", "session parameters out of range", "encoding parameters
    inconsistent with the clipping norm and bucket size", "bucket member
    list has the wrong length"). */
int fl_session_announce_get (const fl_wire_msg_t *m, uint32_t purpose, fl_session_announce_t *a, char *why,
                             size_t cap);

/*  Member j (< n of a parsed announce) of m's "sa_members" as a C string
    into id (at most 128 bytes of it, truncated; cap >= 129).  Returns 0, or
    -1 (id "") if m has no such entry. */
int fl_session_announce_member (const fl_wire_msg_t *m, uint32_t j, char *id, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
