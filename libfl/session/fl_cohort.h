/*  fl_cohort - one aggregation of one purpose over buckets (sans I/O).

    A round's cohort contributes to three kinds of aggregation (purposes,
    fl_session.h): round 0 feature statistics, a training round's updates,
    and an evaluation's counts.  Every one of them runs here, in buckets,
    through the same code whether the run is secure or not:

        members idx[0..k) --start--> buckets --invitations--> the round builds
                                        |                    each member's request
          SECAGG / contribution ------> |  (secure: one fl_secagg server per bucket;
          tick (deadlines) ------------> |   plaintext: the coordinator sums what it sees)
                                        v
                               done --> results: bucket sums (training, for
                                        fl_strategy), merged statistics, merged
                                        evaluation counts --> end

      secure     each bucket runs one secure aggregation (Bonawitz et al.
                 2017; docs/SECAGG.md) over its members, derived by the public
                 rule every member re-derives (fl_secagg_buckets_derive,
                 docs/SECAGG.md §4.1); the coordinator learns each bucket's
                 sum only.
      plaintext  each bucket's sum is formed by the coordinator from the
                 members' replies (STATS, UPDATE, EVAL_RESULT): a plaintext
                 run is the degenerate case of the same buckets (training:
                 buckets of bucket_size with a robust rule, else one bucket;
                 statistics and evaluation: one bucket).

    The cohort returns what happened instead of calling back: outgoing
    items (invitations the round turns into requests, and encoded secure-
    aggregation messages) from fl_cohort_next_out, verdicts on incoming
    messages as return values, and the results once fl_cohort_done.

    Invariants (checked in debug builds):
      1. A member is in at most one bucket of the current aggregation, and
         its peer entry names it (sa_bucket, sa_index); after fl_cohort_end
         no peer names a bucket.
      2. A bucket's sum is read only once the bucket has finished; a secure
         bucket's server is destroyed (its secrets wiped) when it finishes.
      3. Secure training sums are decoded and checked against the
         encoding's bound before anyone sees them; statistics and
         evaluation sums are checked against the row counts the bucket's
         survivors announced.
*/
#ifndef FL_COHORT_H_INCLUDED
#define FL_COHORT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_metrics.h"
#include "fl_peers.h"
#include "fl_privacy.h"
#include "fl_session.h"
#include "fl_stats.h"
#include "fl_strategy.h"
#include "fl_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_cohort_t fl_cohort_t;
struct fl_roster_t;

/*  The run's settings (fixed for the run; fl_round_config_t's fields of
    the same names). */
typedef struct {
    int secure;
    size_t bucket_size;              /* members per bucket at least; 0: one bucket */
    int robust;                      /* plaintext training: buckets of bucket_size (else one) */
    const struct fl_roster_t *roster;   /* borrowed; secure only */
    double sa_corrupt;               /* assumed colluding fraction */
    double sa_dropout;               /* assumed dropout fraction; -1: the largest safe (auto) */
    int allow_small_buckets;
    int64_t secagg_deadline_ms;      /* each secure-aggregation phase after the first */
    uint64_t example_cap;            /* plaintext FedAvg weight cap (0: none) */
    int test_weaken_threshold;       /* TEST ONLY: offer half the safe threshold (clients must refuse) */
} fl_cohort_config_t;

/*  One aggregation. */
typedef struct {
    const uint8_t *run_id;           /* FL_SESSION_RUNIDBYTES */
    uint64_t round;
    uint32_t purpose;                /* FL_SECAGG_PURPOSE_STATS | _TRAIN | _EVAL */
    int64_t deadline_ms;             /* the purpose's phase deadline: plaintext, the whole
                                        aggregation; secure, its first phase */
    size_t n_params;                 /* training: parameters of the global model */
    size_t features;                 /* statistics: features */
    size_t classes;                  /* evaluation: classes */
    const uint8_t *binding;          /* secure: the 32-byte round binding members sign */
    double clip_norm;                /* training: the clipping norm contributions are bounded by */
} fl_cohort_spec_t;

/*  An outgoing item, in the order it must be sent.  An invitation (data
    NULL): the round sends member `peer` the purpose's request (TRAIN,
    STATS_REQUEST, EVALUATE) with the bucket's session `announce` (secure;
    NULL in plaintext) and, for training with distributed noise, the
    member's noise `sigma_i` (else NULL); both borrowed until the next
    fl_cohort_start or fl_cohort_end.  A message (data non-NULL): encoded
    bytes for `peer`, owned by the caller (free). */
typedef struct {
    size_t peer;                     /* index in the peer table */
    const fl_session_announce_t *announce;
    const double *sigma_i;
    uint8_t *data;
    size_t len;
} fl_cohort_out_t;

/*  A cohort room for the run.  peers: the round's peer table (borrowed);
    privacy: the run's privacy room or NULL (borrowed).  NULL on out of
    memory. */
fl_cohort_t *fl_cohort_new (const fl_cohort_config_t *cfg, fl_peers_t *peers, fl_privacy_t *privacy);

/*  Frees the room and any aggregation in progress (secrets wiped).  Safe
    on NULL and twice. */
void fl_cohort_destroy (fl_cohort_t **self_p);

/*  Starts an aggregation of spec->purpose over the members idx[0..k) (peer
    indices; their order assigns plaintext training buckets) at now_ms,
    ending any previous one.  Members are invited (fl_cohort_next_out) and
    marked expected.  A secure bucket that cannot run safely (too small,
    no safe threshold, no encoding) is left out with a log line, unless it
    is the run's first secure aggregation: then the configuration is wrong
    and -1 is returned with the reason in why (cap bytes), as on out of
    memory; the round must fail.  Else 0 (fl_cohort_done may already be
    true: every bucket was left out). */
int fl_cohort_start (fl_cohort_t *self, const fl_cohort_spec_t *spec, const uint32_t *idx, size_t k,
                     int64_t now_ms, char *why, size_t cap);

/*  The next outgoing item (see fl_cohort_out_t): 1, or 0 when none. */
int fl_cohort_next_out (fl_cohort_t *self, fl_cohort_out_t *out);

/*  Verdicts on an incoming message. */
#define FL_COHORT_ACCEPTED  1        /* taken into its bucket */
#define FL_COHORT_IGNORED   0        /* early, late or stale: drop it, no strike (why says why) */
#define FL_COHORT_VIOLATION (-1)     /* malformed or not allowed: a strike (why says why) */

/*  A plaintext member's reply (STATS, UPDATE or EVAL_RESULT of the
    aggregation's purpose, already checked by the round to be expected,
    current and the first from this peer).  STATS: count, sum, sumsq
    (features each, finite, sumsq >= 0, 0 < count <= 2^40); UPDATE: n,
    loss, delta (n_params finite; n > 0 for FedAvg), weighted by n capped
    at example_cap (1 with a robust rule), clipped to the clipping norm
    with differential privacy; EVAL_RESULT: valid metric counts.
    Returns a verdict; why (cap bytes) says why when not accepted. */
int fl_cohort_on_contribution (fl_cohort_t *self, size_t peer, const fl_wire_msg_t *m, char *why, size_t cap);

/*  A SECAGG message from peer (secure runs), handed to its bucket's
    server; the transport identity decides the sender.  Returns a verdict
    (a server refusal is logged and ignored: the protocol decides what a
    bad share costs). */
int fl_cohort_on_secagg (fl_cohort_t *self, size_t peer, const fl_wire_msg_t *m, int64_t now_ms, char *why,
                         size_t cap);

/*  Deadlines at now_ms.  Secure: a bucket whose phase deadline passed
    moves on without the members that missed it.  Plaintext: once the
    aggregation's deadline passed, every member that did not reply is left
    out (logged; a second miss in a row makes it not ready).  Returns 1 if
    a deadline passed, else 0. */
int fl_cohort_tick (fl_cohort_t *self, int64_t now_ms);

/*  Milliseconds until the next deadline (0: overdue), or -1 when none. */
int64_t fl_cohort_next_timeout (const fl_cohort_t *self, int64_t now_ms);

/*  1 when the aggregation is over: every bucket finished (secure), or no
    invited member is still awaited (plaintext). */
int fl_cohort_done (const fl_cohort_t *self);

/*  Buckets of the current aggregation (0 when none). */
size_t fl_cohort_buckets (const fl_cohort_t *self);

/*  Training results: writes the usable buckets' sums (secure: its
    aggregation completed; plaintext: at least one update arrived) to out
    (room for fl_cohort_buckets entries; sums borrowed until fl_cohort_end)
    and returns how many; *unusable (may be NULL) gets the buckets left
    out (secure or robust runs; 0 for plaintext FedAvg). */
size_t fl_cohort_train (const fl_cohort_t *self, fl_strategy_bucket_t *out, size_t *unusable);

/*  Statistics results: merges every completed bucket's statistics into
    into (features), leaving out a bucket whose sums are invalid or count
    more rows than its survivors announced (logged).  *ok: buckets merged;
    *members: their contributors.  Returns 0, or -1 on out of memory. */
int fl_cohort_stats (const fl_cohort_t *self, fl_stats_t *into, size_t *ok, size_t *members);

/*  Evaluation results: merges every completed bucket's counts into acc,
    leaving out an inconsistent one (logged).  *clients: contributors
    counted; *ok: buckets merged. */
void fl_cohort_eval (const fl_cohort_t *self, fl_metrics_counts_t *acc, size_t *clients, size_t *ok);

/*  Ends the aggregation: buckets freed (servers' secrets wiped), no peer
    names a bucket (invariant 1). */
void fl_cohort_end (fl_cohort_t *self);

/*  The least secure-aggregation server state over the unfinished buckets
    (fl_secagg_server_state_t), or -1 when none is running. */
int fl_cohort_secure_state (const fl_cohort_t *self);

/*  Auto dropout (sa_dropout -1): the smallest fraction chosen so far, or
    -1 before any secure bucket. */
double fl_cohort_sa_dropout_used (const fl_cohort_t *self);

#ifdef __cplusplus
}
#endif
#endif
